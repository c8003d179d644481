#!/usr/bin/env bash
# The CLI as a client of the public header (issue 13): src/cli includes include/hesspec.h, its
# own cli/ headers and system or third-party headers (<cjson/cJSON.h>, <mpi.h>), nothing from
# the library's src/. With a build folder it also checks the link: every hs_ symbol the CLI's
# objects use and do not define themselves is exported by libhesspec.so (the version script
# made from include/hesspec.h), so no declaration copied by hand reaches past the header.
# The Python package loads libhesspec.so through ctypes and so reaches only those symbols.
# Usage: bash scripts/check-boundaries.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
internal=$(grep -H -o '^#include "[^"]*"' src/cli/*.c src/cli/*.h |
  sed 's/:#include "\(.*\)"$/ \1/' | { grep -v -e ' cli/' -e ' hesspec\.h$' || true; })
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
