#!/usr/bin/env bash
# Prints the path of a pruned nghttp2 source tree (lib/ only: what cmake/nghttp2.cmake compiles),
# fetching it when needed: scripts/fetch-debian-source.sh says how (NGHTTP2_SOURCE_DIR, the cache,
# Debian's source package with Debian's patches).
exec bash "$(dirname "$0")/fetch-debian-source.sh" nghttp2
