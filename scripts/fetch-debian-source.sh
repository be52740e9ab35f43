#!/usr/bin/env bash
# usage: fetch-debian-source.sh <nghttp2|ngtcp2|nghttp3|c-ares>
# Prints the path of a pruned source tree of that library (what cmake/<library>.cmake compiles),
# fetching it when needed.
#
# Order of preference:
#   1. $<LIBRARY>_SOURCE_DIR (NGHTTP2_SOURCE_DIR, NGTCP2_SOURCE_DIR, NGHTTP3_SOURCE_DIR), when it holds
#      the library's main header and sources (any tree, used as is);
#   2. the version bookworm main (this machine's own codename) serves, from the cache or fetched with
#      `apt-get source --download-only` through a private apt state (the machine's apt is untouched);
#      the newest version any configured suite serves when the codename's own suite has none;
#   3. with no archive reachable, the newest tree already in the cache.
# The tree is the Debian source package with Debian's patches applied (they carry the security fixes),
# cut down to what the static library needs (lib/*.c, lib/*.h, the public headers with the version
# header generated; for ngtcp2 also its BoringSSL crypto backend), the licence and an ORIGIN.txt.
# The cache lives outside the repository ($CYCLETLS_NATIVE_CACHE, default ~/.cache/cycletls-native),
# one directory per library and Debian version, written atomically.
# No third-party source is ever written into the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=${1:-}
case "$lib" in
  nghttp2) header=lib/includes/nghttp2/nghttp2.h; marker=lib/nghttp2_session.c
           version_in=lib/includes/nghttp2/nghttp2ver.h.in; version_h=lib/includes/nghttp2/nghttp2ver.h ;;
  ngtcp2)  header=lib/includes/ngtcp2/ngtcp2.h; marker=crypto/boringssl/boringssl.c
           version_in=lib/includes/ngtcp2/version.h.in; version_h=lib/includes/ngtcp2/version.h ;;
  nghttp3) header=lib/includes/nghttp3/nghttp3.h; marker=lib/nghttp3_conn.c
           version_in=lib/includes/nghttp3/version.h.in; version_h=lib/includes/nghttp3/version.h ;;
  # c-ares: its version header is not generated (version_in empty); cmake/c-ares.cmake writes the
  # two headers its own build would generate (ares_build.h, ares_config.h).
  c-ares)  header=include/ares.h; marker=src/lib/ares_init.c
           version_in=""; version_h=include/ares_version.h ;;
  *) echo "usage: fetch-debian-source.sh <nghttp2|ngtcp2|nghttp3|c-ares>" >&2; exit 2 ;;
esac
started=$(date +%s.%N)
log() { echo "[fetch-$lib] $*" >&2; }
elapsed() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
done_with() { log "$1 ($(elapsed))"; cd "$2" && pwd -P; exit 0; }
is_tree() { [ -f "$1/$header" ] && [ -f "$1/$marker" ]; }

env_name=$(echo "$lib" | tr a-z A-Z | tr -d -)_SOURCE_DIR
given=${!env_name:-}
if [ -n "$given" ]; then
  is_tree "$given" || { log "$env_name=$given has no $header and $marker"; exit 1; }
  cd "$given" && pwd -P; exit 0
fi

cache=${CYCLETLS_NATIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cycletls-native}/$lib
mkdir -p "$cache"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
newest_cached() {
  local d
  for d in $(ls -1 "$cache" 2>/dev/null | grep -v '^\.' | sort -rV); do
    if is_tree "$cache/$d" && [ -f "$cache/$d/$version_h" ]; then echo "$cache/$d"; return 0; fi
  done
  return 1
}
offline() {
  local c
  c=$(newest_cached) || { log "$1, and nothing cached in $cache"; exit 1; }
  done_with "$1; using cached $c" "$c"
}

apt=$(mktemp -d); work=""; tmpdest=""
cleanup() { rm -rf "$apt" ${work:+"$work"} ${tmpdest:+"$tmpdest"}; }
trap cleanup EXIT
mkdir -p "$apt/lists/partial" "$apt/parts"
"$here/apt-sources.sh" > "$apt/parts/debian-src.sources"
O=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$apt/parts" -o "Dir::State::Lists=$apt/lists"
   -o "APT::Sandbox::User=root" -o "Acquire::Retries=0" -o "Acquire::http::Timeout=20")
# apt-get update exits 0 even when every index failed to download: what counts is a Sources index.
apt-get "${O[@]}" update -qq >/dev/null 2>&1 || true
ls "$apt/lists/"*_Sources* >/dev/null 2>&1 || offline "no Debian archive reachable"

# The version the codename's own suite serves (bookworm main does not rotate), else the newest one.
ver=$(apt-get "${O[@]}" source --print-uris "$lib/$codename" 2>/dev/null \
        | sed -n "s/.* ${lib}_\([^ ]*\)\.dsc .*/\1/p" | head -1 || true)
sel="$lib/$codename"
if [ -z "$ver" ]; then
  ver=$(apt-cache "${O[@]}" showsrc "$lib" 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | head -1 || true)
  sel="$lib=$ver"
fi
[ -n "$ver" ] || offline "the archive serves no $lib source package"
dest="$cache/$ver"
if is_tree "$dest" && [ -f "$dest/$version_h" ]; then done_with "$lib $ver cached" "$dest"; fi

work=$(mktemp -d -p "${TMPDIR:-/tmp}" "$lib-fetch.XXXXXX")
cd "$work"
log "fetching $lib $ver ($sel)"
apt-get "${O[@]}" source --download-only -qq "$sel" >/dev/null 2>&1 || offline "downloading $lib $ver failed"
dsc=$(ls "${lib}"_*.dsc 2>/dev/null | head -1) || true
[ -n "$dsc" ] || offline "downloading $lib $ver gave no .dsc"
# dpkg-source unpacks the upstream tarball and applies debian/patches/series. The archive's signed
# Sources index already vouched for every file's checksum; a missing maintainer key only warns.
dpkg-source -q -x "$dsc" src >/dev/null 2>&1 || { log "dpkg-source -x $dsc failed"; exit 1; }
is_tree src || { log "$lib $ver: unexpected source layout"; exit 1; }

# Version numbers: the upstream version from the tree's own CMakeLists.txt, else from the Debian version.
upstream=$(sed -n "s/^project($lib VERSION \([0-9.]*\)).*/\1/p" src/CMakeLists.txt | head -1)
[ -n "$upstream" ] || { upstream=${ver#*:}; upstream=${upstream%%-*}; upstream=${upstream%%+*}; }
IFS=. read -r vmaj vmin vpat <<<"$upstream"
vnum=$(printf '0x%02x%02x%02x' "$vmaj" "$vmin" "${vpat:-0}")

tmpdest=$(mktemp -d -p "$cache" ".$ver.XXXXXX")
copy() { # paths relative to src/ (the working directory), kept at the same place in the tree
  local f
  for f in "$@"; do mkdir -p "$tmpdest/$(dirname "$f")"; cp "$f" "$tmpdest/$f"; done
}
cd src
if [ "$lib" = c-ares ]; then
  copy src/lib/*.c src/lib/*.h include/*.h include/ares_build.h.cmake LICENSE.md
else
  copy lib/*.c lib/*.h "$(dirname "$header")"/*.h "$version_in" COPYING
fi
# ngtcp2: the crypto helpers shared by every backend, and the BoringSSL backend (the others are left out).
[ "$lib" != ngtcp2 ] || copy crypto/shared.c crypto/shared.h crypto/boringssl/boringssl.c \
  crypto/includes/ngtcp2/ngtcp2_crypto.h crypto/includes/ngtcp2/ngtcp2_crypto_boringssl.h
cd ..
[ -z "$version_in" ] || sed -e "s/@PACKAGE_VERSION@/$upstream/g" -e "s/@PACKAGE_VERSION_NUM@/$vnum/g" \
  "src/$version_in" > "$tmpdest/$version_h"
{
  printf 'Debian source package %s %s (%s), Debian patches applied:\n' "$lib" "$ver" "$dsc"
  sed 's/^/  /' src/debian/patches/series 2>/dev/null || true
  printf 'Upstream version %s (version number %s). Pruned by scripts/fetch-debian-source.sh.\n' "$upstream" "$vnum"
} > "$tmpdest/ORIGIN.txt"
chmod 755 "$tmpdest"
# Atomic publish: a concurrent fetch that got there first wins, ours is dropped.
if mv -T "$tmpdest" "$dest" 2>/dev/null; then tmpdest=""; fi
is_tree "$dest" || { log "could not publish $dest"; exit 1; }
done_with "cached $lib $ver ($(find "$dest" -name '*.c' | wc -l) .c files, $(du -sh "$dest" | cut -f1)) at $dest" "$dest"
