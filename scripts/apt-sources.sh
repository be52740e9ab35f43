#!/usr/bin/env bash
# Prints a deb822 sources file with deb-src entries for this machine's own Debian archive(s),
# derived at run time from /etc/apt (never a hard-coded host). Only stanzas that serve the
# distribution's own suites are kept, so third-party repositories cannot break `apt-get source`.
set -euo pipefail
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
emit() { # uri suites components signed-by
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n' "$1" "$2" "$3"
  [ -n "$4" ] && printf 'Signed-By: %s\n' "$4"
  printf '\n'
}
shopt -s nullglob
for f in /etc/apt/sources.list.d/*.sources; do
  awk -v RS= '{print; print "\0"}' "$f" | while IFS= read -r -d '' stanza; do
    uris=$(sed -n 's/^URIs: *//p' <<<"$stanza"); suites=$(sed -n 's/^Suites: *//p' <<<"$stanza")
    comps=$(sed -n 's/^Components: *//p' <<<"$stanza"); signed=$(sed -n 's/^Signed-By: *//p' <<<"$stanza")
    types=$(sed -n 's/^Types: *//p' <<<"$stanza")
    [[ " $types " == *" deb "* || " $types " == *" deb-src "* ]] || continue
    [[ " $suites " == *" $codename"* ]] || continue
    emit "$uris" "$suites" "$comps" "$signed"
  done
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  grep -E '^[[:space:]]*deb(-src)?[[:space:]]' "$f" | while read -r _ rest; do
    opts=""; if [[ $rest == \[* ]]; then opts=${rest%%]*}; opts=${opts#[}; rest=${rest#*] }; fi
    read -r uri suite comps <<<"$rest"
    [[ $suite == "$codename"* ]] || continue
    signed=$(sed -n 's/.*signed-by=\([^ ]*\).*/\1/p' <<<"$opts")
    emit "$uri" "$suite" "$comps" "$signed"
  done
done
