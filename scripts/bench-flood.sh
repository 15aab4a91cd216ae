#!/usr/bin/env bash
# Benchmark (not a test): do the others' latencies suffer while clients flood? Runs chat-server
# (release, default limits, core 0) on 127.0.0.1, and on core 1 two load generator processes:
# one measuring (100 listeners, 5 senders chatting at a human pace: one line, wait for its ack,
# 200 ms pause) and one with 0, 1 or 3 flooders (as a real attacker is not inside the measuring
# process, where its busy loop would delay the measurement itself), connecting from
# 127.0.0.2: another machine as far as the server's per-address rules go (on here: 200
# connections per address, for the 105 measuring clients on 127.0.0.1). One JSON line per
# process and run.
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"
seconds="${SECONDS_PER_RUN:-20}"
for flooders in 0 1 3; do
  start_server CHAT_MAX_CONNECTIONS_PER_ADDRESS=200
  if [ "$flooders" -gt 0 ]; then
    loadgen --receivers 0 --senders 0 --seconds "$seconds" --flooders "$flooders" &
    flooding=$!
  fi
  loadgen --receivers 100 --senders 5 --window 1 --pace-ms 200 --seconds "$seconds"
  if [ "$flooders" -gt 0 ]; then wait "$flooding"; fi
  stop_server
done
