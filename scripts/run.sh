#!/usr/bin/env bash
# Command 1: installs what the build needs (if missing), builds the page and the server in
# release mode, and runs the chat on its embedded defaults at http://localhost:${PORT:-3000}.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
ensure_page_tools
build_page
say "building chat-server (release; the page is embedded in the binary)"
cargo build --release -p chat-server
say "starting the chat at http://localhost:${PORT:-3000} (Ctrl-C stops it)"
exec "$ROOT/target/release/chat-server" "$@"
