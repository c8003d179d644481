#!/usr/bin/env bash
# The CLI as a client of the public header (issue 13): src/cli may include include/hesspec.h,
# its own cli/ headers and system headers. The internal headers it still includes are listed,
# file by file, in src/cli/internal-includes.txt, a ratchet: an include not on the list fails
# (the CLI must not reach further into the library), and so does a listed one that is gone
# (the list only shrinks). The Python package loads libhesspec.so through ctypes and so can
# only reach the public symbols (the version script exports hesspec.h and nothing else).
# Usage: bash scripts/check-boundaries.sh
set -euo pipefail
cd "$(dirname "$0")/.."
list=src/cli/internal-includes.txt
actual=$(grep -H -o '^#include "[^"]*"' src/cli/*.c src/cli/*.h |
  sed 's/:#include "\(.*\)"$/ \1/' | grep -v ' cli/' | grep -v ' hesspec\.h$' | sort -u)
allowed=$(grep -v '^#' "$list" | grep -v '^$' | sort -u)
new=$(comm -23 <(echo "$actual") <(echo "$allowed"))
gone=$(comm -13 <(echo "$actual") <(echo "$allowed"))
status=0
if [ -n "$new" ]; then
  echo "check-boundaries: the CLI includes internal headers not on $list (use include/hesspec.h):" >&2
  echo "$new" | sed 's/^/  /' >&2
  status=1
fi
if [ -n "$gone" ]; then
  echo "check-boundaries: $list lists includes the CLI no longer has; remove these lines:" >&2
  echo "$gone" | sed 's/^/  /' >&2
  status=1
fi
[ $status -eq 0 ] && echo "check-boundaries: the CLI includes $(echo "$actual" | grep -c . || true) internal headers, all on the list"
exit $status
