#!/usr/bin/env bash
# Command 2: installs what the tests need (if missing), builds the page, checks formatting and
# lints, and runs every test (unit, end-to-end against the real binary, JS interop).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ROOT"
ensure_test_tools
build_page
say "checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
say "running the tests"
cargo test --workspace --locked
