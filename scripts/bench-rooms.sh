#!/usr/bin/env bash
# The "many rooms" benchmark (issue 17; not a test): 10,000 people in 100 rooms of 100, the first
# 10 of each room also in the next one, each room 3 lines a second (10 s), against chat-server
# and the Node reference extended with socket.io's own rooms (scripts/node-rooms-server.js),
# in one run, each server pinned to core 0 and the load generator to core 1, traffic on
# 127.0.0.1 only. Prints one JSON line per server and a markdown table with the ratio.
# PEOPLE, ROOMS, ALSO_NEXT, RATE (lines/s per room) and SECONDS_PER_RUN change the scenario;
# SHORT=1 is a smoke run (1,000 people in 10 rooms, 2 s).
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
install_node_reference
cp "$ROOT/scripts/node-rooms-server.js" "$node_dir/"
people="${PEOPLE:-10000}"; rooms="${ROOMS:-100}"; also="${ALSO_NEXT:-10}"; rate="${RATE:-3}"; secs="${SECONDS_PER_RUN:-10}"
if [ -n "${SHORT:-}" ]; then people=1000; rooms=10; secs=2; fi
scenario=(rooms --people "$people" --rooms "$rooms" --also-next "$also" --rate "$rate" --seconds "$secs")

results="$(mktemp)"
# chat-server: its rate limits lifted, room cap raised for the scenario, durability on.
start_server CHAT_MESSAGES_PER_SECOND=1000000 CHAT_MESSAGE_BURST=1000000 CHAT_MAX_CONNECTIONS=30000 CHAT_ROOMS_MAX=$((rooms + 1))
out="$(pin 1 target/release/loadgen "${scenario[@]}" --named 1 --port "$port" --pid "$pid" 2>/dev/null)" || out='{}'
stop_server
echo "{\"server\":\"ours\",\"result\":${out:-{\}}}" | tee -a "$results"
port=$((10000 + RANDOM % 10000))
PORT=$port bash -c "cd '$node_dir' && $(declare -f pin); pin 0 node node-rooms-server.js" 2>/dev/null &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
out="$(pin 1 target/release/loadgen "${scenario[@]}" --port "$port" --pid "$pid" 2>/dev/null)" || out='{}'
kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
echo "{\"server\":\"node\",\"result\":${out:-{\}}}" | tee -a "$results"
node - "$results" <<'JS'
const rows = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const [ours, node] = ['ours', 'node'].map((s) => (rows.find((r) => r.server === s) || {}).result || {});
const get = (r, path) => path.split('.').reduce((v, k) => (v == null ? v : v[k]), r);
const fmt = (v) => (v == null ? '—' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 1 }) : String(v));
const lines = ['| many rooms | chat-server | Node reference + socket.io rooms | chat-server better by |', '| --- | --- | --- | --- |'];
for (const [label, path, lower] of [
  ['people joined (of ' + fmt(ours.people) + ')', 'joined'], ['room memberships', 'memberships'],
  ['setup: seconds to join everyone (lower is better)', 'setup_seconds', true],
  ['deliveries/s', 'deliveries_per_s'], ['lines sent', 'sent'], ['lost', 'lost', true],
  ['p50 ms (lower is better)', 'latency_ms.p50', true], ['p99 ms (lower is better)', 'latency_ms.p99', true],
  ['max ms (lower is better)', 'latency_ms.max', true],
  ['server CPU µs per delivery (lower is better)', 'server_cpu_us_per_delivery', true],
  ['server memory: KiB per person (lower is better)', 'kib_per_person', true],
  ['load generator saturated', 'loadgen_saturated'],
]) {
  const a = get(ours, path); const b = get(node, path);
  let ratio = '';
  if (typeof a === 'number' && typeof b === 'number' && a > 0 && b > 0 && !['joined', 'memberships', 'sent', 'lost'].includes(path)) {
    ratio = (lower ? b / a : a / b).toFixed(2) + '×';
  }
  lines.push(`| ${label} | ${fmt(a)} | ${fmt(b)} | ${ratio} |`);
}
console.log(lines.join('\n'));
JS
rm -f "$results"
