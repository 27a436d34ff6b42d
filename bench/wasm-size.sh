#!/usr/bin/env bash
# The client's size by file and by crate (BENCHMARKS.md, "Client size"). Builds the split
# release client as `make run` does, into a site folder of its own, and lists its files;
# then sums code by crate, with bench/wasm-crates.py, for the whole client and for the
# main module (what the home page loads). The shipped files carry no names, so these two
# are optimized again here from cargo's output, keeping names (`wasm-opt -g`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
site=target/site-sizes
LEPTOS_SITE_ROOT=$site cargo leptos build --release --split --frontend-only >&2
# Brotli 11, as the server sends them, where Python has the brotli module.
brotli_size() {
  python3 -c 'import brotli,sys; print(len(brotli.compress(open(sys.argv[1],"rb").read(), quality=11)))' "$1" 2>/dev/null || echo -
}
echo "| file | bytes | brotli |"
echo "|---|---:|---:|"
for f in "$site"/pkg/*.wasm "$site"/pkg/*.js; do
  printf '| %s | %s | %s |\n' "$(basename "$f" | sed -E 's/\.[A-Za-z0-9_-]{22}\././')" "$(stat -c %s "$f")" "$(brotli_size "$f")"
done
out=target/front/wasm32-unknown-unknown/wasm-release
for module in tandem:"whole client, unsplit" tandem_split:"main module of the split client"; do
  what=${module#*:} module=${module%%:*}
  wasm-opt -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$out/$module.wasm" -o "$out/$module.named.wasm"
  echo; echo "### $what"; echo
  python3 bench/wasm-crates.py "$out/$module.named.wasm" --top 15
done
