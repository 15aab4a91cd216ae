#!/usr/bin/env bash
# The benchmark, side by side (not a test): builds chat-server, the naive socketioxide port
# (tests/src/bin/naive-chat.rs) and the load generator (release), installs the Node reference
# server (../shared/reference/node-chat, copied to target/node-chat) and the Bun peer
# (scripts/bun-chat, to target/bun-chat) with npm ci, then runs each scenario against each
# server on a fresh process, the server pinned to core 0 and the load generator to core 1,
# traffic on 127.0.0.1 only. Prints one JSON line per run and, at the end, a markdown table of
# all four with chat-server's ratio to the best peer (paste it into docs/benchmarks.md with the
# date). chat-server runs with durability on (the default) and its rate limits lifted.
# SHORT=1 runs each scenario briefly (a smoke run); SERVERS="ours naive" picks servers
# (default: ours naive bun node); SCENARIOS="memory" picks scenarios (default: latency capacity
# joinstorm memory).
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
install_node_reference
install_bun_peer
servers="${SERVERS:-ours naive bun node}"
scenarios=" ${SCENARIOS:-latency capacity joinstorm memory} "
wanted() { [[ "$scenarios" == *" $1 "* ]]; }
secs="${SECONDS_PER_RUN:-10}"
if [ -n "${SHORT:-}" ]; then secs=2; fi

# start_ours / start_naive / start_bun / start_node: set $port and $pid (the server's own process).
start_ours() {
  start_server CHAT_MESSAGES_PER_SECOND=1000000 CHAT_MESSAGE_BURST=1000000 CHAT_MAX_CONNECTIONS=30000
}
start_node() {
  port=$((10000 + RANDOM % 10000))  # below the ephemeral range the clients use
  PORT=$port bash -c "cd '$node_dir' && $(declare -f pin); pin 0 node server.js" 2>/dev/null &
  pid=$!
  wait_http "$port" "the Node reference server"
}
start_naive() {
  port=$((10000 + RANDOM % 10000))
  PORT=$port bash -c "$(declare -f pin); pin 0 target/release/naive-chat" 2>/dev/null &
  pid=$!
  wait_http "$port" "the naive socketioxide port"
}
start_bun() {
  port=$((10000 + RANDOM % 10000))
  PORT=$port bash -c "cd '$bun_dir' && $(declare -f pin); pin 0 node_modules/.bin/bun server.js" 2>/dev/null &
  pid=$!
  wait_http "$port" "the Bun peer"
}
stop_any() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "${data:-}"; data=""; }

results="$(mktemp)"
# run SERVER SCENARIO LOADGEN-SUBCOMMAND ARGS...: one fresh server, one load generator run.
run() {
  local server="$1" scenario="$2"; shift 2
  "start_$server"
  local out
  out="$(pin 1 target/release/loadgen "$@" --port "$port" --pid "$pid" 2>/dev/null)" || out='{}'
  [ -n "$out" ] || out='{}'
  stop_any
  echo "{\"server\":\"$server\",\"scenario\":\"$scenario\",\"result\":$out}" | tee -a "$results"
}

# capacity SERVER CLIENTS RATES...: raises the rate until p99 > 250 ms, a loss, a failed join, or the load
# generator saturates; the last good run is the capacity (a lower bound: the next step is
# 25–100 % higher).
capacity() {
  local server="$1" clients="$2"; shift 2
  for rate in "$@"; do
    run "$server" "capacity $clients clients, $rate lines/s" fanout --clients "$clients" --senders 10 --rate "$rate" --seconds "$secs"
    tail -n1 "$results" | node -e '
      const r = JSON.parse(require("fs").readFileSync(0, "utf8")).result;
      const ok = r.latency_ms && r.latency_ms.p99 <= 250 && r.lost === 0 && r.failed_joins === 0 && r.sent > 0 && !r.loadgen_saturated;
      process.exit(ok ? 0 : 1);' || break
  done
}

if [ -n "${SHORT:-}" ]; then
  for server in $servers; do
    run "$server" "latency" fanout --clients 50 --senders 5 --rate 50 --seconds "$secs"
    run "$server" "join storm" joinstorm --clients 200
    run "$server" "memory original" memory --clients 200 --original 1
  done
else
  for server in $servers; do
    if wanted latency; then
      run "$server" "latency" fanout --clients 1000 --senders 10 --rate 100 --seconds "$secs"
    fi
    if wanted capacity; then
      capacity "$server" 100 2000 4000 6000 8000 10000 12000 16000 20000 24000 32000
      capacity "$server" 1000 100 200 400 600 800 1000 1200 1600 2000 2400
    fi
    if wanted joinstorm; then
      run "$server" "join storm 1000" joinstorm --clients 1000
      run "$server" "join storm 10000" joinstorm --clients 10000
    fi
    if wanted memory; then
      run "$server" "memory" memory --clients 5000
      run "$server" "memory original" memory --clients 1000 --original 1
    fi
  done
fi
node "$ROOT/scripts/bench-table.js" "$results"
rm -f "$results"
