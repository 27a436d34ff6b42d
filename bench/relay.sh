#!/usr/bin/env bash
# What relaying costs: Tandem's built-in TURN relay against coturn, one machine, one run
# (BENCHMARKS.md, "The built-in TURN relay"). A TURN client pair (benches/relay.rs)
# streams 1,200-byte packets through each relay at MBPS for SECONDS, then ping-pongs
# through it and directly over UDP. Prints one JSON line per run: CPU per relayed megabit
# (the relay process's /proc times), the share delivered, round trips relayed and direct.
#
# The relay has cpu 0, the clients cpu 1 (taskset); each run gets a fresh relay; the two
# relays take turns REPS times.
#
#   bench/relay.sh                      # 20 Mbit/s for 10 s, 3 runs each
#   MBPS=50 SECONDS_EACH=10 REPS=3 bench/relay.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MBPS=${MBPS:-20}
SECONDS_EACH=${SECONDS_EACH:-10}
REPS=${REPS:-3}
SECRET=bench-relay-secret-0123456789
say() { printf 'relay: %s\n' "$*" >&2; }
command -v turnserver >/dev/null || { say "coturn is missing: scripts/setup.sh test"; exit 1; }
. bench/common.sh
cargo bench --features ssr --bench relay --no-run --target-dir target/loadgen >&2
bench=$(ls -t target/loadgen/release/deps/relay-* | grep -v '\.d$' | head -n 1)

empty_site=$(mktemp -d)
trap 'rm -rf "$empty_site" "$server_dir"' EXIT
user="$(( $(date +%s) + 3600 )):1"
password=$(printf %s "$user" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64)

run() {
  local name=$1 port=$2 pid=$3
  wait_port "$port"
  sleep 0.3
  printf '{"relay_name":"%s",' "$name"
  taskset -c 1 "$bench" --relay "127.0.0.1:$port" --pid "$pid" --username "$user" \
    --password "$password" --realm tandem --mbps "$MBPS" --seconds "$SECONDS_EACH" | cut -c2-
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for _ in $(seq "$REPS"); do
  tport=$(port)
  LEPTOS_SITE_ROOT="$empty_site" taskset -c 0 "$tandem" --listen "127.0.0.1:$(port)" --log-level warn \
    --turn-listen "127.0.0.1:$tport" --turn-secret "$SECRET" --turn-allow-private-peers \
    --turn-relay-ports 50000-50999 --turn-max-bitrate 1000000000 >/dev/null &
  run tandem "$tport" $!

  cport=$(port)
  taskset -c 0 turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 \
    --listening-port="$cport" --min-port=51000 --max-port=51999 \
    --use-auth-secret --static-auth-secret="$SECRET" --realm=tandem --allow-loopback-peers \
    --no-tls --no-dtls --no-cli --fingerprint --no-stdout-log --log-file=/dev/null \
    --pidfile="/tmp/coturn-bench-$cport.pid" >/dev/null 2>&1 &
  run coturn "$cport" $!
done
