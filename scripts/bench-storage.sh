#!/usr/bin/env bash
# Benchmark (not a test): what durable storage costs in message throughput. Runs chat-server
# (release, pinned to core 0) with each history sync mode and the load generator (core 1)
# against it, on 127.0.0.1, and prints one JSON line per run. Usage: scripts/bench-storage.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release -p chat-server -p chat-tests --bin chat-server --bin loadgen >&2
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
# pin CORE CMD...: runs CMD on one core (exec, so that a background job's $! is CMD itself).
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi; }
for sync in full normal off; do
  for senders in 1 10; do
    data="$(mktemp -d)"
    port=$((20000 + RANDOM % 20000))
    PORT=$port CHAT_BIND=127.0.0.1 CHAT_DATA_DIR="$data" CHAT_LOG=warn CHAT_HISTORY_SYNC=$sync \
      CHAT_MESSAGES_PER_SECOND=1000000 CHAT_MESSAGE_BURST=1000000 CHAT_MAX_CONNECTIONS_PER_ADDRESS=0 \
      bash -c "$(declare -f pin); pin 0 target/release/chat-server" &
    pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
    result=$( (pin 1 target/release/loadgen --port "$port" --receivers 100 --senders "$senders" --window 32 --seconds "$SECONDS_PER_RUN") )
    echo "{\"sync\": \"$sync\", \"result\": $result}"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$data"
  done
done
