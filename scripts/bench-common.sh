#!/usr/bin/env bash
# Shared by the benchmark scripts: builds the release binaries, starts chat-server pinned to
# core 0 on a free-ish loopback port with a fresh data dir, runs the load generator on core 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release -p chat-server -p chat-tests --bin chat-server --bin loadgen --bin naive-chat >&2

# pin CORE CMD...: runs CMD on one core (exec, so that a background job's $! is CMD itself).
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi; }

# start_server [VAR=value...]: sets $port, $pid and $data; extra settings go in the environment.
start_server() {
  data="$(mktemp -d)"
  port=$((10000 + RANDOM % 10000))  # below the ephemeral range the clients use
  env PORT=$port CHAT_BIND=127.0.0.1 CHAT_DATA_DIR="$data" CHAT_LOG=error CHAT_MAX_CONNECTIONS_PER_ADDRESS=0 "$@" \
    bash -c "$(declare -f pin); pin 0 target/release/chat-server" &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.05; done
  echo "chat-server did not start" >&2
  return 1
}

stop_server() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

# loadgen ARGS...: the load generator on core 1 against the running server.
loadgen() { (pin 1 target/release/loadgen --port "$port" "$@"); }

# install_node_reference: the Node reference server (../shared/reference/node-chat, or
# $NODE_CHAT_SOURCE) copied to target/node-chat with its packages (npm ci), once; sets $node_dir.
install_node_reference() {
  local reference="${NODE_CHAT_SOURCE:-$ROOT/../shared/reference/node-chat}"
  node_dir="$ROOT/target/node-chat"
  if [ ! -d "$node_dir/node_modules" ]; then
    echo "== installing the Node reference server into target/node-chat (npm ci)" >&2
    mkdir -p "$node_dir"
    cp "$reference/package.json" "$reference/package-lock.json" "$reference/server.js" "$node_dir/"
    (cd "$node_dir" && npm ci --no-audit --no-fund >&2)
  fi
}

# install_bun_peer: the Bun peer (scripts/bun-chat: the Node reference's logic on socket.io 4.8
# with @socket.io/bun-engine; the npm package `bun` brings Bun's binary from the registry)
# copied to target/bun-chat with its pinned packages (npm ci), once; sets $bun_dir.
install_bun_peer() {
  bun_dir="$ROOT/target/bun-chat"
  if [ ! -x "$bun_dir/node_modules/.bin/bun" ]; then
    echo "== installing the Bun peer into target/bun-chat (npm ci: socket.io, @socket.io/bun-engine, bun)" >&2
    mkdir -p "$bun_dir"
    cp "$ROOT/scripts/bun-chat/package.json" "$ROOT/scripts/bun-chat/package-lock.json" "$bun_dir/"
    (cd "$bun_dir" && npm ci --no-audit --no-fund >&2)
  fi
  cp "$ROOT/scripts/bun-chat/server.js" "$bun_dir/"
}

# wait_http PORT WHAT: waits for any HTTP answer on 127.0.0.1:PORT (the peers answer 404 to
# everything but socket.io).
wait_http() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return
    sleep 0.05
  done
  echo "$2 did not start" >&2
  return 1
}
