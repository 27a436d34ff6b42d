#!/usr/bin/env bash
# The client's size by file and by crate (BENCHMARKS.md, "Client size"): builds the split
# release client as `make run` does, but keeping the wasm's names (`--wasm-debug`), into a
# site folder of its own, then sums each file's code by crate with bench/wasm-crates.py.
#   bench/wasm-size.sh [FILE-PATTERN...]   (default: the main module and the call route)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
site=target/site-sizes
LEPTOS_SITE_ROOT=$site cargo leptos build --release --split --wasm-debug --frontend-only >&2
echo "| file | bytes |"
echo "|---|---:|"
for f in "$site"/pkg/*.wasm "$site"/pkg/*.js; do
  printf '| %s | %s |\n' "$(basename "$f" | sed -E 's/\.[A-Za-z0-9_-]{22}\././')" "$(stat -c %s "$f")"
done
for pattern in "${@:-tandem.*.wasm split___call_route_*.wasm}"; do
  for f in $site/pkg/$pattern; do
    echo; echo "### $(basename "$f")"; echo
    python3 bench/wasm-crates.py "$f" --top 15
  done
done
