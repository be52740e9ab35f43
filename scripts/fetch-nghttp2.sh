#!/usr/bin/env bash
# Prints the path of a pruned nghttp2 source tree (lib/ only: what cmake/nghttp2.cmake compiles),
# fetching it when needed.
#
# Order of preference:
#   1. $NGHTTP2_SOURCE_DIR, when it holds lib/includes/nghttp2/nghttp2.h (any tree, used as is);
#   2. the version bookworm main (this machine's own codename) serves, from the cache or fetched with
#      `apt-get source --download-only` through a private apt state (the machine's apt is untouched);
#      the newest version any configured suite serves when the codename's own suite has none;
#   3. with no archive reachable, the newest tree already in the cache.
# The tree is the Debian source package with Debian's patches applied (they carry the security fixes),
# cut down to lib/*.c, lib/*.h, lib/includes/nghttp2/ (with nghttp2ver.h generated), COPYING and an
# ORIGIN.txt. The cache lives outside the repository ($CYCLETLS_NATIVE_CACHE, default
# ~/.cache/cycletls-native), one directory per Debian version, written atomically.
# No third-party source is ever written into the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
started=$(date +%s.%N)
log() { echo "[fetch-nghttp2] $*" >&2; }
elapsed() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
done_with() { log "$1 ($(elapsed))"; cd "$2" && pwd -P; exit 0; }
is_tree() { [ -f "$1/lib/includes/nghttp2/nghttp2.h" ] && [ -f "$1/lib/nghttp2_session.c" ]; }

if [ -n "${NGHTTP2_SOURCE_DIR:-}" ]; then
  is_tree "$NGHTTP2_SOURCE_DIR" || { log "NGHTTP2_SOURCE_DIR=$NGHTTP2_SOURCE_DIR has no lib/includes/nghttp2/nghttp2.h"; exit 1; }
  cd "$NGHTTP2_SOURCE_DIR" && pwd -P; exit 0
fi

cache=${CYCLETLS_NATIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cycletls-native}/nghttp2
mkdir -p "$cache"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
newest_cached() {
  local d
  for d in $(ls -1 "$cache" 2>/dev/null | grep -v '^\.' | sort -rV); do
    if is_tree "$cache/$d" && [ -f "$cache/$d/lib/includes/nghttp2/nghttp2ver.h" ]; then echo "$cache/$d"; return 0; fi
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
ver=$(apt-get "${O[@]}" source --print-uris "nghttp2/$codename" 2>/dev/null \
        | sed -n "s/.* nghttp2_\([^ ]*\)\.dsc .*/\1/p" | head -1 || true)
sel="nghttp2/$codename"
if [ -z "$ver" ]; then
  ver=$(apt-cache "${O[@]}" showsrc nghttp2 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | head -1 || true)
  sel="nghttp2=$ver"
fi
[ -n "$ver" ] || offline "the archive serves no nghttp2 source package"
dest="$cache/$ver"
if is_tree "$dest" && [ -f "$dest/lib/includes/nghttp2/nghttp2ver.h" ]; then done_with "nghttp2 $ver cached" "$dest"; fi

work=$(mktemp -d -p "${TMPDIR:-/tmp}" nghttp2-fetch.XXXXXX)
cd "$work"
log "fetching nghttp2 $ver ($sel)"
apt-get "${O[@]}" source --download-only -qq "$sel" >/dev/null 2>&1 || offline "downloading nghttp2 $ver failed"
dsc=$(ls nghttp2_*.dsc 2>/dev/null | head -1) || true
[ -n "$dsc" ] || offline "downloading nghttp2 $ver gave no .dsc"
# dpkg-source unpacks the upstream tarball and applies debian/patches/series. The archive's signed
# Sources index already vouched for every file's checksum; a missing maintainer key only warns.
dpkg-source -q -x "$dsc" src >/dev/null 2>&1 || { log "dpkg-source -x $dsc failed"; exit 1; }
is_tree src || { log "nghttp2 $ver: unexpected source layout"; exit 1; }

# Version numbers: the upstream version from the tree's own CMakeLists.txt, else from the Debian version.
upstream=$(sed -n 's/^project(nghttp2 VERSION \([0-9.]*\)).*/\1/p' src/CMakeLists.txt | head -1)
[ -n "$upstream" ] || { upstream=${ver#*:}; upstream=${upstream%%-*}; upstream=${upstream%%+*}; }
IFS=. read -r vmaj vmin vpat <<<"$upstream"
vnum=$(printf '0x%02x%02x%02x' "$vmaj" "$vmin" "${vpat:-0}")

tmpdest=$(mktemp -d -p "$cache" ".$ver.XXXXXX")
mkdir -p "$tmpdest/lib/includes/nghttp2"
cp src/lib/*.c src/lib/*.h "$tmpdest/lib/"
cp src/lib/includes/nghttp2/nghttp2.h src/lib/includes/nghttp2/nghttp2ver.h.in "$tmpdest/lib/includes/nghttp2/"
sed -e "s/@PACKAGE_VERSION@/$upstream/g" -e "s/@PACKAGE_VERSION_NUM@/$vnum/g" \
  src/lib/includes/nghttp2/nghttp2ver.h.in > "$tmpdest/lib/includes/nghttp2/nghttp2ver.h"
cp src/COPYING "$tmpdest/"
{
  printf 'Debian source package nghttp2 %s (%s), Debian patches applied:\n' "$ver" "$dsc"
  sed 's/^/  /' src/debian/patches/series 2>/dev/null || true
  printf 'Upstream version %s (NGHTTP2_VERSION_NUM %s). Pruned to lib/ by scripts/fetch-nghttp2.sh.\n' "$upstream" "$vnum"
} > "$tmpdest/ORIGIN.txt"
chmod 755 "$tmpdest"
# Atomic publish: a concurrent fetch that got there first wins, ours is dropped.
if mv -T "$tmpdest" "$dest" 2>/dev/null; then tmpdest=""; fi
is_tree "$dest" || { log "could not publish $dest"; exit 1; }
done_with "cached nghttp2 $ver ($(ls "$dest/lib"/*.c | wc -l) .c files, $(du -sh "$dest" | cut -f1)) at $dest" "$dest"
