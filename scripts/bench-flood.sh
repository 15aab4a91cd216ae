#!/usr/bin/env bash
# Benchmark (not a test): do the others' latencies suffer while one client floods? Runs
# chat-server (release, default limits, core 0) and the load generator (core 1) on 127.0.0.1:
# 100 listeners, 5 senders chatting at a human pace (one line, wait for its ack, 200 ms pause),
# 20 s, with 0 and then 1 and 3 flooders. Prints one JSON line per run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release -p chat-server -p chat-tests --bin chat-server --bin loadgen >&2
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi; }
for flooders in 0 1 3; do
  data="$(mktemp -d)"
  port=$((20000 + RANDOM % 20000))
  PORT=$port CHAT_BIND=127.0.0.1 CHAT_DATA_DIR="$data" CHAT_LOG=error CHAT_MAX_CONNECTIONS_PER_ADDRESS=0 \
    bash -c "$(declare -f pin); pin 0 target/release/chat-server" &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
  (pin 1 target/release/loadgen --port "$port" --receivers 100 --senders 5 --window 1 --pace-ms 200 \
    --seconds "${SECONDS_PER_RUN:-20}" --flooders "$flooders")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
done
