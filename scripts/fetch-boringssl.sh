#!/usr/bin/env bash
# Prints the path of a pruned BoringSSL tree (the one Chromium ships), fetching it when needed.
#
# Order of preference:
#   1. $BORINGSSL_SOURCE_DIR, when it holds gen/sources.cmake (any existing tree, used as is);
#   2. the cache entry for the pinned Debian chromium version (scripts/boringssl.pin);
#   3. the chromium source package from this machine's own Debian archive: the pinned version when the
#      archive still serves it, else the newest one it serves (Debian rotates chromium out of its pool);
#   4. with no archive reachable, the newest tree already in the cache.
# The cache lives outside the repository ($CYCLETLS_NATIVE_CACHE, default ~/.cache/cycletls-native),
# keyed by BoringSSL revision; a symlink per chromium version points at its revision.
# No third-party source is ever written into the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "[fetch-boringssl] $*" >&2; }

if [ -n "${BORINGSSL_SOURCE_DIR:-}" ]; then
  [ -f "$BORINGSSL_SOURCE_DIR/gen/sources.cmake" ] || { log "BORINGSSL_SOURCE_DIR=$BORINGSSL_SOURCE_DIR has no gen/sources.cmake"; exit 1; }
  cd "$BORINGSSL_SOURCE_DIR" && pwd; exit 0
fi

cache=${CYCLETLS_NATIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cycletls-native}/boringssl
mkdir -p "$cache"
pin=$(sed -n 's/^chromium=//p' "$here/boringssl.pin")
if [ -f "$cache/chromium-$pin/gen/sources.cmake" ]; then cd "$cache/chromium-$pin" && pwd -P; exit 0; fi

apt=$(mktemp -d); work=""
cleanup() { rm -rf "$apt" ${work:+"$work"}; }
trap cleanup EXIT
mkdir -p "$apt/lists/partial" "$apt/parts"
"$here/apt-sources.sh" > "$apt/parts/debian-src.sources"
O=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$apt/parts" -o "Dir::State::Lists=$apt/lists"
   -o "APT::Sandbox::User=root")
versions=""
if apt-get "${O[@]}" update -qq >&2; then
  versions=$(apt-cache "${O[@]}" showsrc chromium 2>/dev/null | sed -n 's/^Version: //p' | sort -ruV)
fi
candidates=$( { [ -n "$pin" ] && echo "$pin"; echo "$versions"; } | awk 'NF && !seen[$0]++')
for v in $candidates; do
  if [ -f "$cache/chromium-$v/gen/sources.cmake" ]; then cd "$cache/chromium-$v" && pwd -P; exit 0; fi
done
if [ -z "$versions" ]; then
  newest=$(ls -td "$cache"/rev-*/ 2>/dev/null | head -1 || true)
  [ -n "$newest" ] || { log "no Debian archive reachable and nothing cached in $cache"; exit 1; }
  log "archive unreachable; using cached $newest"; cd "$newest" && pwd -P; exit 0
fi

work=$(mktemp -d -p "${TMPDIR:-/tmp}" bssl-fetch.XXXXXX)
cd "$work"
ver=""
for v in $candidates; do
  log "trying chromium $v"
  # The .dsc may already be gone while the orig tarball is still served: what counts is the tarball.
  apt-get "${O[@]}" source --download-only "chromium=$v" >/dev/null 2>&1 || true
  if ls chromium_*.orig.tar.xz >/dev/null 2>&1; then ver=$v; break; fi
  rm -f chromium_*
done
[ -n "$ver" ] || { log "no chromium source tarball could be downloaded"; exit 1; }
tarball=$(ls chromium_*.orig.tar.xz)
log "extracting third_party/boringssl from $tarball ($(du -h "$tarball" | cut -f1))"
tar -xJf "$tarball" --wildcards '*/third_party/boringssl/src/*' '*/third_party/boringssl/README.chromium'
rm -f chromium_*.orig.tar.xz
src=$(ls -d chromium-*/third_party/boringssl/src)
rev=$(sed -n 's/^Revision: //p' chromium-*/third_party/boringssl/README.chromium | head -1)
[ -n "$rev" ] || rev=unknown-$ver
dest="$cache/rev-$rev"
"$here/prune-boringssl.sh" "$work/$src" "$dest.tmp" >&2
printf 'Debian source package chromium %s (%s)\nBoringSSL revision %s\n' "$ver" "$tarball" "$rev" > "$dest.tmp/ORIGIN.txt"
rm -rf "$dest"; mv "$dest.tmp" "$dest"
ln -sfn "rev-$rev" "$cache/chromium-$ver"
log "cached BoringSSL $rev at $dest"
cd "$dest" && pwd -P
