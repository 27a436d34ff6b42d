#!/usr/bin/env bash
# Packs the site just built into the server: the one file of `make dist`.
#
#   scripts/pack.sh release   after `cargo leptos build --release --split --precompress`
#   scripts/pack.sh debug     after `cargo leptos build --split` (what the tests use)
#
# The site and its hash.txt are copied aside first, and the server is compiled with the
# copy packed in (feature embed-site, src/server/site.rs): the second cargo-leptos build
# below writes the site again, and what is packed must be exactly what its hash.txt names.
# The one file lands in target/dist/<profile>/tandem.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:?release or debug}
case "$profile" in
  release) flags=(--release) ;;
  debug) flags=() ;;
  *) echo "pack.sh: release or debug, not $profile" >&2; exit 2 ;;
esac
out=target/dist/$profile
packed=$out/packed
[ -f "target/$profile/hash.txt" ] || { echo "pack.sh: build the site first (target/$profile/hash.txt)" >&2; exit 1; }
rm -rf "$packed" "$out/tandem"
mkdir -p "$packed"
cp -a target/site "$packed/site"
cp "target/$profile/hash.txt" "$packed/"
TANDEM_EMBED_SITE="$PWD/$packed" cargo leptos build "${flags[@]}" --split --bin-features embed-site
cp "target/$profile/tandem" "$out/tandem"
echo "one file: $out/tandem ($(du -h "$out/tandem" | cut -f1))"
