#!/usr/bin/env bash
# Installs whatever is missing to build (and, with `test`, to test) Tandem.
# Idempotent: every step checks first and skips what is already there, because
# compiling cargo-leptos alone takes ~23 minutes on two cores.
#
#   scripts/setup.sh        build tools: wasm32 target, cargo-leptos, wasm-bindgen, wasm-opt
#   scripts/setup.sh test   the above, plus Chromium, Firefox (ESR), coturn, redis-server,
#                           nginx, Playwright and puppeteer-core for tests
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=${1:-}

say() { printf 'setup: %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

export PATH="$PWD/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# The browser client is compiled to WebAssembly.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo-leptos 0.3.11's lock file needs rustc 1.96; 0.3.10's builds on 1.95.
if ! cargo leptos --version >/dev/null 2>&1; then
  say "installing cargo-leptos (compiles for ~20 minutes)"
  cargo install cargo-leptos --version 0.3.10 --locked
fi

# cargo-leptos runs the wasm-bindgen CLI from PATH, and it must match the wasm-bindgen
# crate in Cargo.lock exactly.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version"
  cargo install wasm-bindgen-cli --version "$bindgen_version" --force
fi

# Release builds run wasm-opt. Debian's binaryen 108 produces wasm that fails to hydrate;
# npm's binaryen 132 works.
if [ ! -x .tools/node_modules/.bin/wasm-opt ]; then
  say "installing wasm-opt (binaryen 132) into .tools/"
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund binaryen@132
fi

if [ "$want_test" = test ]; then
  # Chromium and Firefox for the calls; coturn (turnserver) for the relay-only call through TURN;
  # redis-server for several Tandem servers sharing rooms (each test starts its own), and
  # nginx as the README's load balancer in front of them.
  missing=()
  have chromium || missing+=(chromium)
  have firefox-esr || missing+=(firefox-esr)
  # tc throttles one browser's link for real in link.spec (htb on loopback).
  have tc || [ -x /usr/sbin/tc ] || missing+=(iproute2)
  have turnserver || missing+=(coturn)
  have redis-server || missing+=(redis-server)
  [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  # ffprobe checks a saved recording (meeting.spec); an emoji font draws the reactions in
  # the screenshots (headless Chromium has none of its own).
  have ffprobe || missing+=(ffmpeg)
  [ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (Debian packages)"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -q
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
  # Playwright drives the system Chromium, puppeteer-core the system Firefox; neither may
  # download a browser of its own.
  if [ ! -d end2end/node_modules/@playwright/test ] || [ ! -d end2end/node_modules/puppeteer-core ]; then
    say "installing Playwright and puppeteer-core (end2end/)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
say "ready"
