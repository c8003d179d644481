#!/usr/bin/env bash
# The CLI as a client of the public header (issue 13). src/cli includes include/hesspec.h, its
# own cli/ headers and system or third-party headers (<cjson/cJSON.h>, <mpi.h>): nothing from
# the library's src/, in any spelling of #include, so its types and macros come only through
# the header. Given a build folder, the link is checked as well: every hs_ symbol the CLI's
# objects use and do not define themselves must be exported by libhesspec.so (the version
# script made from include/hesspec.h), so no declaration copied by hand reaches past the header.
# The Python package loads libhesspec.so through ctypes and so reaches only those symbols.
# Usage: bash scripts/check-boundaries.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# every include, quoted or angled, however spaced: a quoted one must be the CLI's own or the
# public header; an angled one must not name a file of the library's src/ (the CLI's include
# path has src/ on it, so <core/alloc.h> would compile)
internal=$(find src/cli -name '*.[ch]' -print0 | xargs -0 grep -H -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' |
  sed -E 's/^([^:]*):[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^>"]*)[>"].*$/\1 \2\3/' |
  while read -r file name; do
    header=${name:1}
    case "$name" in
      \"cli/*|\"hesspec.h) ;;
      \"*) echo "$file $header" ;;
      *) [[ $header != cli/* && -f src/$header ]] && echo "$file $header" ;;
    esac
  done || true)
if [ -n "$internal" ]; then
  echo "check-boundaries: the CLI includes internal headers (use include/hesspec.h, or widen it):" >&2
  echo "$internal" | sed 's/^/  /' >&2
  status=1
fi
build=${1:-}
if [ -n "$build" ]; then
  map=$build/hesspec.map
  objs=("$build/libhesspec_cli_core.a" "$build/CMakeFiles/hesspec_cli.dir/src/cli/main.c.o")
  for f in "$map" "${objs[@]}"; do
    [ -f "$f" ] || { echo "check-boundaries: $f is missing (build $build first)" >&2; exit 1; }
  done
  exported=$(sed -n 's/^ *\(hs_[a-z0-9_]*\);$/\1/p' "$map" | sort -u)
  defined=$(nm --defined-only -g "${objs[@]}" 2>/dev/null | awk '$3 ~ /^hs_/ {print $3}' | sort -u)
  used=$(nm -u "${objs[@]}" 2>/dev/null | awk '$2 ~ /^hs_/ {print $2}' | sort -u)
  private=$(comm -23 <(comm -23 <(echo "$used") <(echo "$defined")) <(echo "$exported"))
  if [ -n "$private" ]; then
    echo "check-boundaries: the CLI links library symbols that libhesspec.so does not export:" >&2
    echo "$private" | sed 's/^/  /' >&2
    status=1
  fi
fi
if [ $status -eq 0 ]; then
  echo "check-boundaries: the CLI includes no internal header${build:+ and links only the public symbols ($(comm -23 <(echo "$used") <(echo "$defined") | grep -c .) of them)}"
fi
exit $status
