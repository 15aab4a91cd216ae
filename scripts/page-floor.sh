#!/usr/bin/env bash
# Measures the framework floor (a benchmark, not a test): builds scripts/page-floor, the
# smallest Leptos page with a keyed list fed by a WebSocket and a field that sends, like the chat
# page (wasm-release profile, wasm-bindgen, wasm-opt -Oz), and prints its wasm and JS sizes raw
# and brotli at the server's settings (quality 11, window 22) beside the chat page's in dist/.
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
ensure_wasm_target
ensure_node_modules
ensure_wasm_bindgen
floor="$ROOT/scripts/page-floor"
out="$ROOT/target/page-floor"
mkdir -p "$out"
say "building the framework floor (a few minutes the first time)"
CARGO_TARGET_DIR="$out/cargo" cargo build -q --release --locked --target wasm32-unknown-unknown \
  --manifest-path "$floor/Cargo.toml"
wasm-bindgen --target web --no-typescript --out-dir "$out" "$out/cargo/wasm32-unknown-unknown/release/page-floor.wasm"
node_modules/.bin/wasm-opt '--remove-exports=*intounderlying*' -Oz "$out/page-floor_bg.wasm" -o "$out/page-floor_opt.wasm"
say "sizes (raw / brotli)"
node -e '
const zlib = require("zlib"), fs = require("fs");
const br = (b) => zlib.brotliCompressSync(b, { params: {
  [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_LGWIN]: 22 } }).length;
for (const f of process.argv.slice(1)) {
  const b = fs.readFileSync(f);
  console.log(`${f}: ${b.length} / ${br(b)}`);
}' "$out/page-floor_opt.wasm" "$out/page-floor.js" $(ls dist/*.wasm dist/*.js 2>/dev/null || true)
[ -e dist/index.html ] || say "no dist/ to compare with: trunk build --release (or scripts/run.sh) makes it"
