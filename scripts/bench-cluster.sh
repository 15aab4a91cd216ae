#!/usr/bin/env bash
# Cross-instance delivery over Redis against one instance alone, in one run (docs/benchmarks.md).
# Two chat-server instances share a redis-server on core 0; the load generator runs on core 1.
# "alone": senders and readers on one instance without Redis; "cluster, same instance": both on
# instance A of the cluster; "cluster, across": senders on A, readers on B (every line crosses
# Redis). SECONDS_PER_RUN (default 10) per run.
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
secs="${SECONDS_PER_RUN:-10}"
limits=(CHAT_MESSAGES_PER_SECOND=1000000 CHAT_MESSAGE_BURST=1000000 CHAT_MAX_CONNECTIONS=30000)

redis_port=$((20000 + RANDOM % 5000))
redis_dir="$(mktemp -d)"
(pin 0 redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --dir "$redis_dir" --appendonly yes >/dev/null) &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; rm -rf "$redis_dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

run() { # label, extra loadgen args...
  local label="$1"; shift
  local out
  out="$(pin 1 target/release/loadgen fanout "$@" --seconds "$secs")" || out='{}'
  echo "{\"scenario\":\"$label\",\"result\":$out}"
}

# cluster MODE CLIENTS RATE: a fresh pair of instances (nicknames of a previous run are still
# reserved for their grace period), senders on A, readers on A ("same") or on B ("across").
cluster() {
  local mode="$1" clients="$2" rate="$3"
  redis-cli -p "$redis_port" flushall >/dev/null
  start_server "${limits[@]}" CHAT_REDIS_URL="redis://127.0.0.1:$redis_port"
  local a_port=$port a_pid=$pid a_data=$data
  start_server "${limits[@]}" CHAT_REDIS_URL="redis://127.0.0.1:$redis_port"
  if [ "$mode" = same ]; then
    run "cluster, same instance, $clients clients, $rate lines/s" --port "$a_port" --pid "$a_pid" --clients "$clients" --senders 10 --rate "$rate"
  else
    run "cluster, across instances, $clients clients, $rate lines/s" --port "$port" --send-port "$a_port" --pid "$pid" --clients "$clients" --senders 10 --rate "$rate"
  fi
  stop_server
  pid=$a_pid data=$a_data stop_server
}

for load in "100 100" "100 2000" "100 8000" "1000 100"; do
  set -- $load
  start_server "${limits[@]}"
  run "alone, $1 clients, $2 lines/s" --port "$port" --pid "$pid" --clients "$1" --senders 10 --rate "$2"
  stop_server
  cluster same "$1" "$2"
  cluster across "$1" "$2"
done
