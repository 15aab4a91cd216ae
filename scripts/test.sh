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
# Many connections at once (the join storm): lift the open-files limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log="$ROOT/target/test-output.log"
mkdir -p "$ROOT/target"
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
