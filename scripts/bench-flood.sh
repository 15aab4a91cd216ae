#!/usr/bin/env bash
# Benchmark (not a test): do the others' latencies suffer while one client floods? Runs
# chat-server (release, default limits, core 0) and the load generator (core 1) on 127.0.0.1:
# 100 listeners, 5 senders chatting at a human pace (one line, wait for its ack, 200 ms pause),
# with 0, then 1 and 3 flooders. Prints one JSON line per run.
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"
for flooders in 0 1 3; do
  start_server
  loadgen --receivers 100 --senders 5 --window 1 --pace-ms 200 --seconds "${SECONDS_PER_RUN:-20}" --flooders "$flooders"
  stop_server
done
