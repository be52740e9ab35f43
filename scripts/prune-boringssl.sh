#!/usr/bin/env bash
# Copies from a full BoringSSL tree only what our static ssl+crypto build reads: include/, LICENSE,
# gen/sources.cmake and every file its BCM/CRYPTO/SSL lists name.
# usage: prune-boringssl.sh <full-boringssl-src> <dest>
set -euo pipefail
src=$(cd "$1" && pwd); dest=$2
rm -rf "$dest"; mkdir -p "$dest/gen"; dest=$(cd "$dest" && pwd)
cp -r "$src/include" "$dest/"; cp "$src/gen/sources.cmake" "$dest/gen/"; cp "$src/LICENSE" "$dest/"
lister=$(mktemp --suffix=.cmake)
cat > "$lister" <<CMK
include("$src/gen/sources.cmake")
foreach(v BCM_SOURCES BCM_INTERNAL_HEADERS BCM_SOURCES_ASM CRYPTO_SOURCES CRYPTO_HEADERS CRYPTO_INTERNAL_HEADERS CRYPTO_SOURCES_ASM SSL_SOURCES SSL_HEADERS SSL_INTERNAL_HEADERS)
  foreach(f \${\${v}})
    message(STATUS "\${f}")
  endforeach()
endforeach()
CMK
cmake -P "$lister" | sed -n 's/^-- //p' | sort -u > "$dest/FILES.txt"
rm -f "$lister"
(cd "$src" && xargs -a "$dest/FILES.txt" cp --parents -t "$dest")
echo "$(wc -l < "$dest/FILES.txt") files; $(du -sh "$dest" | cut -f1) in $dest"
