#!/usr/bin/env bash
# Finds what the page's wasm memory keeps as a chat goes by (not a test; docs/benchmarks.md, "A
# tab left open"): builds the page with a counting allocator (cargo feature `leak-probe`,
# client/src/alloc_probe.rs) into target/leak-probe, starts the release chat-server on it and
# runs tests/browser/leak_probe.js: a headless Chromium page follows a bot's lines and prints,
# every PER lines (default 2,000) for ROUNDS rounds (default 5), the wasm memory and its live
# blocks by size. TRACE=MIN-MAX (bytes) also prints the JS stacks of the live blocks of those
# sizes: a class that grows with the lines, traced, names the code that keeps it. CHURN=1: each
# round PER people come and go instead of lines; SWITCH=1: the page switches PER times (default
# 200, ~1 minute a round) between two channels instead.
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
ensure_page_tools
apt_install chromium
build_page   # dist/: its CSS and index.html are reused
out=target/leak-probe
say "building the page with the counting allocator into $out"
cargo build -q --target wasm32-unknown-unknown --profile wasm-release -p chat-client --features leak-probe
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --keep-debug --target web --no-typescript --out-dir "$out" \
  target/wasm32-unknown-unknown/wasm-release/chat-client.wasm
cp dist/*.css "$out/"
sed -E 's/chat-client-[0-9a-f]+/chat-client/g; s/ integrity="[^"]*"//g' dist/index.html > "$out/index.html"
say "building the release chat-server"
cargo build -q --release --locked -p chat-server
port=$((20000 + RANDOM % 10000))
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
CHAT_DATA_DIR="$data" node tests/browser/leak_probe.js target/release/chat-server "$port" "$out" \
  "${PER:-$([ -n "${SWITCH:-}" ] && echo 200 || echo 2000)}" "${ROUNDS:-5}" "${TRACE:-}"
