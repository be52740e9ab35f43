#!/usr/bin/env bash
# Prints the BoringSSL tree the build should compile: the pristine (cached) tree with our patch
# series (native/tls/patches/boringssl/series) applied, in a copy keyed by the tree's revision and
# the content of the series and its patches. A copy is made once per key and then reused.
#
# usage: prepare-boringssl.sh <pristine-tree>
#   The patched tree's absolute path is the last line on stdout; progress goes to stderr.
#   CYCLETLS_NATIVE_CACHE overrides the cache root (default ~/.cache/cycletls-native).
#   Exits non-zero, naming the patch, if any patch does not apply cleanly (no fuzz allowed).
set -euo pipefail

die() {
  {
    echo
    echo "################################################################################"
    echo "prepare-boringssl: ERROR: $*"
    echo "################################################################################"
  } >&2
  exit 1
}

[ $# -eq 1 ] || die "usage: prepare-boringssl.sh <pristine-boringssl-tree>"
[ -d "$1" ] || die "no such directory: $1"
pristine=$(cd "$1" && pwd -P)
[ -f "$pristine/gen/sources.cmake" ] ||
  die "$pristine is not a BoringSSL tree (it has no gen/sources.cmake)"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
patch_dir="$root/native/tls/patches/boringssl"
series="$patch_dir/series"
[ -f "$series" ] || die "missing patch series file $series"

# The tree's revision: ORIGIN.txt's "BoringSSL revision <sha>" line, else the directory name.
rev=""
if [ -f "$pristine/ORIGIN.txt" ]; then
  rev=$(sed -n 's/^BoringSSL revision \([0-9a-fA-F]\{7,40\}\).*$/\1/p' "$pristine/ORIGIN.txt" | head -n 1)
fi
if [ -z "$rev" ]; then
  rev=$(basename "$pristine")
  rev=${rev#rev-}
fi

# The patches, in series order (blank lines and #-comments ignored).
patches=()
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%%#*}
  line=$(printf '%s' "$line" | tr -d '[:space:]')
  [ -n "$line" ] || continue
  [ -f "$patch_dir/$line" ] || die "the series lists $line, which is not in $patch_dir"
  patches+=("$line")
done <"$series"

# Key: the revision plus the sha256 of the series file and of each patch (name and content).
digest=$(
  {
    sha256sum <"$series"
    for p in ${patches[@]+"${patches[@]}"}; do
      printf '%s ' "$p"
      sha256sum <"$patch_dir/$p"
    done
  } | sha256sum | cut -c1-16
)
key="$(printf '%s' "$rev" | cut -c1-12)-$digest"

cache_root=${CYCLETLS_NATIVE_CACHE:-$HOME/.cache/cycletls-native}
parent="$cache_root/boringssl-patched"
dest="$parent/$key"
marker=".cycletls-patched"

if [ -f "$dest/$marker" ]; then
  echo "prepare-boringssl: reusing $dest" >&2
  echo "$dest"
  exit 0
fi
[ ! -e "$dest" ] || die "$dest exists but is incomplete (no $marker); remove it and retry"

mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.tmp-$key.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "prepare-boringssl: copying $pristine" >&2
cp -a "$pristine/." "$tmp/"
chmod -R u+w "$tmp"

for p in ${patches[@]+"${patches[@]}"}; do
  echo "prepare-boringssl: applying $p" >&2
  if command -v patch >/dev/null 2>&1; then
    if ! out=$(patch -d "$tmp" -p1 --forward --batch --fuzz=0 --no-backup-if-mismatch \
      -i "$patch_dir/$p" 2>&1); then
      printf '%s\n' "$out" >&2
      die "patch $p does not apply cleanly to BoringSSL $rev ($pristine)"
    fi
  else
    # git apply outside any repository behaves like patch(1); the ceiling keeps it from
    # discovering a repository that might enclose the cache.
    if ! out=$(cd "$tmp" && GIT_CEILING_DIRECTORIES="$parent" git apply -p1 "$patch_dir/$p" 2>&1); then
      printf '%s\n' "$out" >&2
      die "patch $p does not apply cleanly to BoringSSL $rev ($pristine)"
    fi
  fi
done

{
  echo "pristine: $pristine"
  echo "revision: $rev"
  echo "patches:"
  for p in ${patches[@]+"${patches[@]}"}; do echo "  $p"; done
} >"$tmp/$marker"

# Publish atomically. If another build published the same key first, use its copy.
if ! mv -T "$tmp" "$dest" 2>/dev/null; then
  [ -f "$dest/$marker" ] || die "could not move the patched tree to $dest"
  echo "prepare-boringssl: another build created $dest first; using it" >&2
else
  trap - EXIT
fi
echo "prepare-boringssl: patched tree ready (${#patches[@]} patches)" >&2
echo "$dest"
