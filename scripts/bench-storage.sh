#!/usr/bin/env bash
# Benchmark (not a test): what durable storage costs in message throughput. Runs chat-server
# (release, pinned to core 0) with each history sync mode and the load generator (core 1)
# against it, on 127.0.0.1, and prints one JSON line per run. Usage: scripts/bench-storage.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"
for sync in full normal off; do
  for senders in 1 10; do
    start_server CHAT_HISTORY_SYNC=$sync CHAT_MESSAGES_PER_SECOND=1000000 CHAT_MESSAGE_BURST=1000000
    result=$(loadgen --receivers 100 --senders "$senders" --window 32 --seconds "${SECONDS_PER_RUN:-5}")
    echo "{\"sync\": \"$sync\", \"result\": $result}"
    stop_server
  done
done
