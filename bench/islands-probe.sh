#!/usr/bin/env bash
# What a home page would download in Leptos 0.8's islands mode (issue 25, item 3): a
# stand-alone crate (bench/islands-probe) with the home page's three interactive parts as
# islands (the form with its checks and New room, the language picker, the connection
# check) and nothing else hydrated. Built as the client is (opt-level z, LTO, wasm-bindgen,
# wasm-opt -Oz), then measured in brotli 11 (Node's zlib), as BENCHMARKS.md's sizes are.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
probe=bench/islands-probe
measure() {
  node -e '
const z = require("zlib"), fs = require("fs");
let total = 0;
console.log("| file | bytes | brotli |\n|---|---:|---:|");
for (const f of process.argv.slice(1)) {
  const b = fs.readFileSync(f);
  const n = z.brotliCompressSync(b, { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  total += n;
  console.log(`| ${f.split("/").pop()} | ${b.length} | ${n} |`);
}
console.log(`| **together** | | **${total}** |`);
' "$@"
}
for variant in "islands:" "whole-app:--no-default-features --features whole-app"; do
  name=${variant%%:*} features=${variant#*:}
  out=target/islands-probe/$name
  # shellcheck disable=SC2086 # the features are words
  cargo build --release --target wasm32-unknown-unknown $features \
    --manifest-path "$probe/Cargo.toml" --target-dir target/islands-probe-build >&2
  wasm-bindgen --target web --out-dir "$out" \
    target/islands-probe-build/wasm32-unknown-unknown/release/islands_probe.wasm
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$out/islands_probe_bg.wasm" -o "$out/islands_probe_bg.wasm"
  echo; echo "### $name"; echo
  measure "$out/islands_probe_bg.wasm" "$out/islands_probe.js"
done
