#!/usr/bin/env bash
# Packs the build and test dependencies that a bare GPU machine lacks into .gpu-deps/ (run on
# a Debian development machine where `make deps` has installed them).
#
#   bash bench/gpu-deps.sh            -> .gpu-deps/hs-deps.tar.xz (+ MANIFEST)
#
# Why: the lent GPU machines have CUDA, CMake, gcc and PyTorch but no OpenBLAS/LAPACKE, cJSON,
# Criterion or pkg-config, and nothing can be fetched there. bench/gpu-check.sh unpacks this
# archive into a private prefix (never into /) when the system lacks the libraries, and points
# pkg-config (PKG_CONFIG_SYSROOT_DIR/LIBDIR) and the loader (LD_LIBRARY_PATH) at it.
# The folder is ignored by git; carry it: device run with carry [".gpu-deps"].
# The files come from Debian 12 (glibc 2.36): they run on any newer glibc (the GPU image is
# Ubuntu 24.04-like, glibc 2.39).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
DEST="$SRC/.gpu-deps"

# -dev packages (headers, .pc files, .so links) and the runtime libraries they need, down to
# what a minimal Ubuntu image is not sure to have (glibc, libgcc, libstdc++ and libgomp come
# with the compiler there).
PKGS=(
  libopenblas0 libopenblas0-pthread libopenblas-dev libopenblas-pthread-dev
  liblapacke liblapacke-dev libtmglib3 libgfortran5 libquadmath0
  libcjson1 libcjson-dev
  libcriterion3 libcriterion-dev libnanomsg5 libgit2-1.5 libhttp-parser2.9 libssh2-1
  libmbedtls14 libmbedcrypto7 libmbedx509-1 libgssapi-krb5-2 libkrb5-3 libk5crypto3
  libkrb5support0 libkeyutils1 libcom-err2 libpcre2-8-0 libffi8
  zlib1g zlib1g-dev
  pkgconf-bin libpkgconf3
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "gpu-deps: not installed here: ${missing[*]} (run: make deps, or apt-get install them)" >&2
  exit 1
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/hs-gpu-deps.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/root"
mkdir -p "$ROOT"

# Every file and link of the packages, docs and manuals left out.
for p in "${PKGS[@]}"; do
  dpkg -L "$p" | while read -r f; do
    case "$f" in /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /usr/share/bug/*) continue ;; esac
    if [ -L "$f" ] || [ -f "$f" ]; then
      mkdir -p "$ROOT$(dirname "$f")"
      cp -a "$f" "$ROOT$f"
    fi
  done
done

# Debian's alternatives (libblas.so.3, liblapack.so.3, libopenblas.so.0, blas.pc, lapack.pc,
# openblas.pc, cblas.h) are absolute links through /etc/alternatives: resolve them here to
# the files they select on this machine, as links relative to the prefix.
while IFS= read -r -d '' l; do
  t=$(readlink "$l")
  case "$t" in
  /*)
    real=$(readlink -f "/${l#"$ROOT"/}")
    if [ -e "$ROOT$real" ]; then
      ln -sfn "$(realpath --relative-to="$(dirname "$l")" "$ROOT$real")" "$l"
    elif [ -e "$real" ]; then # a file outside the packages: copy it in
      mkdir -p "$ROOT$(dirname "$real")"
      cp -a "$real" "$ROOT$real"
      ln -sfn "$(realpath --relative-to="$(dirname "$l")" "$ROOT$real")" "$l"
    else
      rm -f "$l"
    fi
    ;;
  esac
done < <(find "$ROOT" -type l -print0)

# The alternatives' own links (blas.pc, lapack.pc, openblas.pc, libblas.so.3, cblas.h, ...)
# belong to no package: add those that select a file we packed.
while IFS= read -r -d '' l; do
  case "$l" in *.a) continue ;; esac
  real=$(readlink -f "$l")
  [ -e "$ROOT$real" ] || continue
  mkdir -p "$ROOT$(dirname "$l")"
  ln -sfn "$(realpath --relative-to="$(dirname "$ROOT$l")" "$ROOT$real")" "$ROOT$l"
done < <(find /usr/lib/x86_64-linux-gnu /usr/include -maxdepth 2 -type l -lname '/etc/alternatives/*' -print0)

# The hand-written list above misses whatever a library pulls in indirectly (libssh2 needs
# libcrypto from OpenSSL, for one): close it under the loader. Every shared object packed so
# far is run through ldd, and each library it resolves outside the prefix is copied in, except
# the C and C++ runtimes the GPU image has with its compiler. Repeated until nothing is added.
BASE_RE='/(libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|ld-linux-x86-64|libgcc_s|libstdc\+\+|libgomp)\.so'
LIBDIR_IN=$ROOT/usr/lib/x86_64-linux-gnu
for round in 1 2 3 4 5; do
  added=0
  while IFS= read -r -d '' so; do
    while read -r dep; do
      [ -n "$dep" ] || continue
      case "$dep" in "$ROOT"/*) continue ;; esac
      echo "$dep" | grep -Eq "$BASE_RE" && continue
      # the file itself under its canonical folder (/lib is /usr/lib on merged-/usr systems),
      # and the name the loader asked for beside it
      real=$(readlink -f "$dep")
      dir=$(dirname "$real") name=$(basename "$dep")
      [ -e "$ROOT$dir/$name" ] && continue
      mkdir -p "$ROOT$dir"
      [ -e "$ROOT$real" ] || cp "$real" "$ROOT$real"
      [ "$name" = "$(basename "$real")" ] || ln -sfn "$(basename "$real")" "$ROOT$dir/$name"
      added=$((added + 1))
    done < <(LD_LIBRARY_PATH=$LIBDIR_IN:$LIBDIR_IN/openblas-pthread ldd "$so" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
  done < <(find "$ROOT" -type f -name '*.so*' -print0)
  echo "gpu-deps: loader closure, round $round: $added libraries added"
  [ "$added" -eq 0 ] && break
done

# criterion.pc lists its private dependencies (boxfort, libffi, libgit2, nanomsg) for static
# linking; we link dynamically, and without their .pc files pkg-config would refuse criterion.
sed -i '/^Requires.private:/d' "$ROOT/usr/lib/x86_64-linux-gnu/pkgconfig/criterion.pc"

# /usr/bin/pkg-config (package pkgconf) is just a link to pkgconf
ln -sfn pkgconf "$ROOT/usr/bin/pkg-config"

mkdir -p "$DEST"
(cd "$ROOT" && find . \( -type f -o -type l \) | sort) >"$DEST/MANIFEST"
tar -C "$ROOT" -cJf "$DEST/hs-deps.tar.xz" .
echo "gpu-deps: $(wc -l <"$DEST/MANIFEST") files, $(du -h "$DEST/hs-deps.tar.xz" | cut -f1) -> $DEST/hs-deps.tar.xz"
