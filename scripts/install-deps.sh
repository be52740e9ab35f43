#!/usr/bin/env bash
# Installs the Debian packages a source build needs, when they are missing. Only a source build runs
# it (scripts/build.js): a prebuilt install never does. As root it runs apt-get itself; otherwise it
# fails with the one command to run.
set -euo pipefail
pkgs=(g++ cmake make libasio-dev libbrotli-dev zlib1g-dev libzstd-dev dpkg-dev xz-utils ca-certificates openssl)
# In a clone (the npm package has no test/): GoogleTest for the native tests, clang-format for the
# layout check (npm run format:check, in npm test), clang and its libFuzzer runtime for the fuzz
# targets (npm run fuzz, and briefly in npm test). A user's build needs none.
[ -d "$(dirname "$0")/../test/native" ] && pkgs+=(libgtest-dev clang-format)
# In a clone: the HTTP/3 servers the QUIC tests talk to (test/native/quic_*): caddy (quic-go) and
# ngtcp2's own example server (gtlsserver).
[ -d "$(dirname "$0")/../test/native" ] && pkgs+=(caddy ngtcp2-server)
# In a clone: the local name server the DNS tests ask (test/integration/dns.test.js): dnsmasq-base is
# the program alone (the dnsmasq package would also start a system service on port 53).
[ -d "$(dirname "$0")/../test/native" ] && pkgs+=(dnsmasq-base)
# In a clone: the terminal the CLI's progress-bar test runs the command in (test/cli/terminal.test.js).
[ -d "$(dirname "$0")/../test/cli" ] && pkgs+=(tmux)
[ -d "$(dirname "$0")/../test/fuzz" ] && pkgs+=(clang libclang-rt-14-dev)
# In a clone: the prebuilt binaries' Debian 11 build root (scripts/prebuild.js) and the arm64 smoke
# test's emulator (test/install).
[ -d "$(dirname "$0")/../test/install" ] && pkgs+=(mmdebstrap qemu-user-static)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "cycletls-native: missing system packages; run as root: apt-get update && $cmd" >&2
  exit 1
fi
echo "[install-deps] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A third-party repository that is unreachable must not stop the install: apt-get update's exit
# code is ignored, and the install below fails loudly if Debian's own archive was not reached.
apt-get update -qq >&2 || true
$cmd >&2
