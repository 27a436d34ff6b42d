# What bench/compare.sh and bench/cluster.sh share: sourced by both, after `cd` to the
# repository. Builds the release server exactly as `make run` does (cargo-leptos sets its
# own rustc flags) and the load generator in a target folder of its own, so the two builds
# never undo each other; sets $loadgen.

export PATH="$PWD/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# Every socket is a file: raise the limit as far as it goes (20,000 here).
ulimit -n "$(ulimit -Hn)"

say "building Tandem (release) and the load generator"
cargo leptos build --release --server-only >&2
cargo bench --features ssr --bench loadgen --no-run --target-dir target/loadgen >&2
loadgen=$(ls -t target/loadgen/release/deps/loadgen-* | grep -v '\.d$' | head -n 1)
# The benches serve no pages: the server runs from a folder of its own, without the
# hash.txt beside target/release/tandem, so that it does not look for a site (it refuses
# one that another build has replaced, and the benches give it none).
server_dir=$(mktemp -d)
cp target/release/tandem "$server_dir/tandem"
tandem="$server_dir/tandem"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  say "nothing listens on port $1"; return 1
}
