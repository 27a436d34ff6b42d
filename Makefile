# The two commands of the README: `make run` and `make test`. Each installs what is
# missing first (scripts/setup.sh), so both work on a fresh machine.

SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: run test setup setup-test build lint unit e2e budget bench-client dev fuzz dist dist-test

## Build the release app and serve it on http://127.0.0.1:3000
run: setup
	cargo leptos serve --release --split

## Everything CI checks: format, lints, unit and integration tests, end-to-end calls.
## The site is built first: a binary started by the integration tests refuses a site that
## another build (a release one, say) has replaced.
test: setup-test lint build dist-test unit e2e budget

## The dev loop: rebuild and reload on every change.
dev: setup
	cargo leptos watch --split

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh test

# One debug build serves the integration and end-to-end tests alike. Every build is split
# (`--split`): the call screen and the panels are wasm chunks of their own, loaded where
# they are used (issue 13; BENCHMARKS.md).
build:
	cargo leptos build --split

## One file to copy anywhere and start: the release server with the whole site inside it,
## target/dist/release/tandem (README "One file").
dist: setup
	cargo leptos build --release --split --precompress
	scripts/pack.sh release

# The same from the debug build, for the end-to-end test of the one file.
dist-test: build
	scripts/pack.sh debug

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --features ssr -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --target-dir target/front \
		--no-default-features --features hydrate -- -D warnings

unit:
	cargo test --features ssr

# Built again, here: `cargo test` relinks the server without the settings cargo-leptos
# compiles in (its split routes among them), and that server's pages would not hydrate.
e2e: build
	cargo leptos build --split
	cd end2end && TANDEM_BIN=$(CURDIR)/target/debug/tandem npx playwright test --project=calls

## What a new visitor downloads (the home page until interactive, a call link until the
## first picture), held to the budgets in end2end/tests/budget.spec.ts, on the release
## build. Last in `make test`: the release site replaces the debug one in target/site.
budget: setup-test
	cargo leptos build --release --split
	cd end2end && TANDEM_BIN=$(CURDIR)/target/release/tandem npx playwright test --project=budget

## Time to media in Chromium on the release build, the app against a plain-JavaScript page
## (BENCHMARKS.md); the figures land in end2end/test-results/time-to-media.json.
bench-client: setup-test
	cargo leptos build --release --split
	cd end2end && TANDEM_BIN=$(CURDIR)/target/release/tandem npx playwright test --project=bench

## Fuzz the message decoders (browsers and other servers), the room registry and the call state
## machine, FUZZ_SECONDS each
## (default 10 minutes).
FUZZ_SECONDS ?= 600
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for target in client_message rooms rooms_both session peer_message envelope names; do \
		RUSTC_BOOTSTRAP=1 cargo fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done
