#!/usr/bin/env bash
# Tandem vs the PeerJS server, same workload, same machine, one run.
#
# Each server is pinned to cpu 0 and the load generator to cpu 1 (taskset), and each
# server is started fresh for each figure. Prints the load generator's SUMMARY lines and
# a table with the ratios.
#
#   bench/compare.sh                        # 1,000 pairs × 100 round trips; 5,000 pairs held
#   PAIRS=1000 ROUNDS=100 HOLD_PAIRS=5000 BIG_PAIRS=9000 bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-1000}
ROUNDS=${ROUNDS:-100}
SIZE=${SIZE:-256}
HOLD_PAIRS=${HOLD_PAIRS:-5000}
BIG_PAIRS=${BIG_PAIRS:-9000}
PEERJS_VERSION=${PEERJS_VERSION:-1.0.2}

say() { printf 'compare: %s\n' "$*" >&2; }

if [ ! -x .tools/node_modules/.bin/peerjs ]; then
  say "installing the PeerJS server ($PEERJS_VERSION) into .tools/"
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund "peer@$PEERJS_VERSION" >&2
fi

. bench/common.sh

empty_site=$(mktemp -d)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap 'stop_server; rm -rf "$empty_site"' EXIT


# start_server tandem|peerjs PORT: the server on cpu 0, its pid in $server_pid.
start_server() {
  case $1 in
    tandem)
      # No per-connection rate limit or per-IP cap: the load comes from one address and
      # is far faster than any browser. An empty site: the server would otherwise spend
      # its first seconds compressing the client's files, on the CPU being measured.
      LEPTOS_SITE_ROOT="$empty_site" taskset -c 0 "$tandem" \
        --listen "127.0.0.1:$2" --log-level warn --rate-limit 1000000 --rate-burst 1000000 \
        --max-connections-per-ip 1000000 --max-connections 1000000 >/dev/null &
      ;;
    peerjs)
      taskset -c 0 node .tools/node_modules/peer/dist/bin/peerjs.js --port "$2" \
        --host 127.0.0.1 --key peerjs --concurrent_limit 1000000 >/dev/null &
      ;;
  esac
  server_pid=$!
  wait_port "$2"
}

url() { case $1 in tandem) echo "ws://127.0.0.1:$2/ws" ;; peerjs) echo "ws://127.0.0.1:$2/peerjs" ;; esac; }

# run SERVER LABEL LOADGEN-ARGS...: one fresh server, one load generator run.
run() {
  local server=$1 label=$2; shift 2
  local p; p=$(port)
  start_server "$server" "$p"
  local out; out=$(mktemp)
  taskset -c 1 "$loadgen" --protocol "$server" --url "$(url "$server" "$p")" --pid "$server_pid" \
    --label "$label" "$@" >"$out" || say "$label: the load generator failed"
  cat "$out" >&2
  grep '^SUMMARY' "$out" || true
  rm -f "$out"
  stop_server
}

results=$(mktemp)
for server in tandem peerjs; do
  run "$server" "$server-relay" --pairs "$PAIRS" --rounds "$ROUNDS" --size "$SIZE" >>"$results"
  run "$server" "$server-hold" --pairs "$HOLD_PAIRS" --hold 2 >>"$results"
  run "$server" "$server-big" --pairs "$BIG_PAIRS" --rounds 10 --size "$SIZE" >>"$results"
done

python3 - "$results" "$PAIRS" "$HOLD_PAIRS" "$BIG_PAIRS" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    label = parts[1]
    rows[label] = dict(kv.split('=', 1) for kv in parts[2:] if '=' in kv)
pairs, hold, big = sys.argv[2:5]
def get(label, key):
    return float(rows.get(label, {}).get(key, 'nan'))
print(f"\n| figure | Tandem | PeerJS | Tandem / PeerJS |")
print("|---|---|---|---|")
for name, key, label, fmt in [
    (f"server CPU per relayed message, {pairs} pairs (µs)", 'cpu_us_per_relay', 'relay', '{:.1f}'),
    (f"round trip p50, {pairs} pairs (µs)", 'p50_us', 'relay', '{:.0f}'),
    (f"round trip p99, {pairs} pairs (µs)", 'p99_us', 'relay', '{:.0f}'),
    (f"relays per second, {pairs} pairs", 'relays_per_s', 'relay', '{:.0f}'),
    (f"server RSS per idle connection, {hold} pairs (KiB)", 'kib_per_conn', 'hold', '{:.2f}'),
    (f"failed pairs at {big} pairs", 'failures', 'big', '{:.0f}'),
    (f"server CPU per relayed message, {big} pairs (µs)", 'cpu_us_per_relay', 'big', '{:.1f}'),
]:
    t, p = get(f"tandem-{label}", key), get(f"peerjs-{label}", key)
    ratio = t / p if p else float('nan')
    print(f"| {name} | {fmt.format(t)} | {fmt.format(p)} | {ratio:.2f} |")
EOF
rm -f "$results"
