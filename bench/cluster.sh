#!/usr/bin/env bash
# Several Tandem servers sharing rooms through Redis, against one server alone: the same
# workload, same machine, one run (BENCHMARKS.md, "Several servers").
#
#   single  one server, rooms in memory (the default)
#   split   two servers and redis-server; each pair's clients on different servers, so
#           every relay crosses Redis
#   local   two servers and redis-server; each pair on one server (what a balancer that
#           hashes the room does)
#   big     two servers and redis-server, BIG_PAIRS pairs kept local, 10 round trips each,
#           from two load generators (one per server: a process may hold 20,000 files here)
#
# The servers and redis-server share cpu 0, the load generator has cpu 1 (taskset); each
# run gets fresh processes. CPU per relay is summed over every server process and
# redis-server, and listed per process.
#
#   bench/cluster.sh                           # 1,000 pairs × 100 round trips; 18,000 big
#   PAIRS=1000 ROUNDS=100 BIG_PAIRS=18000 bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-1000}
ROUNDS=${ROUNDS:-100}
SIZE=${SIZE:-256}
BIG_PAIRS=${BIG_PAIRS:-18000}
# Each relay figure is the median of REPS runs, the modes taking turns, so that this VM's
# drift touches all three alike.
REPS=${REPS:-5}
say() { printf 'cluster: %s\n' "$*" >&2; }
command -v redis-server >/dev/null || { say "redis-server is missing: scripts/setup.sh test"; exit 1; }
. bench/common.sh

empty_site=$(mktemp -d)
pids=()
# Newest first: the servers stop (handing their seats over) while Redis is still there.
stop_all() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  pids=()
}
trap 'stop_all; rm -rf "$empty_site"' EXIT


# tandem PORT [REDIS_URL]: a server on cpu 0; its pid joins $pids.
tandem() {
  local extra=()
  [ -n "${2:-}" ] && extra=(--redis-url "$2" --resume-secret bench-cluster-secret-0123456789)
  # No rate limit or per-address cap: the load comes from one address, far faster than any
  # browser. An empty site: no compressing of the client's files on the CPU measured. A
  # long heartbeat: two load generators sharing one core while 36,000 clients join answer
  # pings late, and would be dropped as silent after the default 10 s.
  LEPTOS_SITE_ROOT="$empty_site" taskset -c 0 "$tandem" \
    --listen "127.0.0.1:$1" --log-level warn --rate-limit 1000000 --rate-burst 1000000 \
    --max-connections-per-ip 1000000 --max-connections 1000000 \
    --heartbeat-interval 30s --heartbeat-timeout 120s \
    "${extra[@]}" >/dev/null &
  pids+=($!)
  wait_port "$1"
}

# redis PORT: redis-server on cpu 0, keeping nothing on disk; its pid joins $pids.
redis() {
  taskset -c 0 redis-server --bind 127.0.0.1 --port "$1" --save '' --appendonly no \
    --loglevel warning >/dev/null &
  pids+=($!)
  wait_port "$1"
}

# run LABEL MODE LOADGEN-ARGS...: fresh processes for MODE (single|split|local), one
# load generator run, its SUMMARY line on stdout.
run() {
  local label=$1 mode=$2; shift 2
  local urls=()
  if [ "$mode" = single ]; then
    local p; p=$(port)
    tandem "$p"
    urls=(--url "ws://127.0.0.1:$p/ws")
  else
    local r a b; r=$(port); a=$(port); b=$(port)
    redis "$r"
    tandem "$a" "redis://127.0.0.1:$r/0"
    tandem "$b" "redis://127.0.0.1:$r/0"
    urls=(--url "ws://127.0.0.1:$a/ws" --url "ws://127.0.0.1:$b/ws")
    [ "$mode" = split ] && urls+=(--split)
  fi
  local pid_args=()
  for pid in "${pids[@]}"; do pid_args+=(--pid "$pid"); done
  local out; out=$(mktemp)
  taskset -c 1 "$loadgen" "${urls[@]}" "${pid_args[@]}" --label "$label" "$@" >"$out" \
    || say "$label: the load generator failed"
  cat "$out" >&2
  grep '^SUMMARY' "$out" || true
  rm -f "$out"
  stop_all
}

results=$(mktemp)
for rep in $(seq "$REPS"); do
  for mode in single split local; do
    say "$mode, run $rep of $REPS"
    run "$mode" "$mode" --pairs "$PAIRS" --rounds "$ROUNDS" --size "$SIZE" >>"$results"
  done
done

# The big run: one load generator per server, each with half the pairs in rooms of its own.
r=$(port); a=$(port); b=$(port)
redis "$r"
tandem "$a" "redis://127.0.0.1:$r/0"
tandem "$b" "redis://127.0.0.1:$r/0"
half=$((BIG_PAIRS / 2))
big_out=(); loadgens=()
for side in a b; do
  out=$(mktemp); big_out+=("$out")
  server_port=$a; server_pid=${pids[1]}
  [ "$side" = b ] && { server_port=$b; server_pid=${pids[2]}; }
  taskset -c 1 "$loadgen" --url "ws://127.0.0.1:$server_port/ws" --pid "$server_pid" \
    --room-prefix "big-$side" --label "big-$side" --pairs "$half" --rounds 10 --size "$SIZE" \
    >"$out" 2>&1 &
  loadgens+=($!)
done
for pid in "${loadgens[@]}"; do wait "$pid" || say "big: a load generator failed"; done
cat "${big_out[@]}" >&2
grep -h '^SUMMARY' "${big_out[@]}" >>"$results" || true
rm -f "${big_out[@]}"
stop_all

python3 - "$results" "$PAIRS" "$BIG_PAIRS" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    parts = line.split()
    runs.setdefault(parts[1], []).append(dict(kv.split('=', 1) for kv in parts[2:] if '=' in kv))
pairs, big = sys.argv[2:4]
def get(label, key):
    values = [float(r[key]) for r in runs.get(label, []) if key in r]
    return statistics.median(values) if values else float('nan')
rows = {label: {k: f"{get(label, k):.1f}" for k in rs[0]} for label, rs in runs.items()}
single = get('single', 'cpu_us_per_relay')
print(f"\nMedians of {len(runs.get('single', []))} runs each.")
print(f"\n| {pairs} pairs | CPU per relay, all processes (µs) | × single | redis, server A, server B (µs) | p50 (µs) | p99 (µs) | p99 × single | relays/s |")
print("|---|---|---|---|---|---|---|---|")
for label in ['single', 'split', 'local']:
    r = rows.get(label, {})
    shares = ', '.join(r[k] for k in sorted(r) if k.startswith('cpu_us_per_relay_'))
    cpu, p99 = get(label, 'cpu_us_per_relay'), get(label, 'p99_us')
    print(f"| {label} | {cpu:.1f} | {cpu / single:.2f} | {shares} | {get(label, 'p50_us'):.0f} | "
          f"{p99:.0f} | {p99 / get('single', 'p99_us'):.2f} | {get(label, 'relays_per_s'):.0f} |")
failures = get('big-a', 'failures') + get('big-b', 'failures')
print(f"\n{big} pairs ({2 * int(big)} connections) over two servers, half on each: "
      f"{failures:.0f} failed pairs; joined in {get('big-a', 'join_s'):.1f} s and "
      f"{get('big-b', 'join_s'):.1f} s; server CPU per relay {get('big-a', 'cpu_us_per_relay'):.1f} "
      f"and {get('big-b', 'cpu_us_per_relay'):.1f} µs; p99 {get('big-a', 'p99_us'):.0f} and "
      f"{get('big-b', 'p99_us'):.0f} µs")
EOF
rm -f "$results"
