#!/usr/bin/env bash
# Installs, idempotently and at pinned versions, the tools the build and the tests need.
# Sourced by scripts/run.sh and scripts/test.sh; each ensure_* says what it does and does
# nothing when the tool is already there at the right version.
set -euo pipefail

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen crate pin in Cargo.toml (and scripts/page-floor/Cargo.toml)
BINARYEN_NPM_VERSION=132       # wasm-opt; never Debian's binaryen (it silently breaks the wasm)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_updated=0
apt_install() {
  # apt_install PKG... : installs the Debian packages that are missing.
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ $apt_updated -eq 0 ]; then say "apt-get update"; $sudo apt-get update -qq; apt_updated=1; fi
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_trunk() {
  if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
    say "installing trunk $TRUNK_VERSION from crates.io (takes ~6 min on 2 cores)"
    cargo install trunk --version "$TRUNK_VERSION" --locked
  fi
}

ensure_wasm_bindgen() {
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io (takes ~3 min)"
    # no --locked: its lockfile names a webpki-roots version the registry no longer has
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

ensure_node_modules() {
  # wasm-opt (npm binaryen) and the test clients (socket.io-client), pinned by package-lock.json
  if ! (cd "$ROOT" && npm ls --depth=0 >/dev/null 2>&1); then
    say "installing npm packages from package-lock.json (binaryen, socket.io-client, playwright-core, puppeteer-core, axe-core)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_page_tools() { ensure_wasm_target; ensure_node_modules; ensure_wasm_bindgen; ensure_trunk; }

ensure_test_tools() {
  ensure_page_tools
  apt_install chromium chromium-driver firefox-esr redis-server nginx fonts-noto-cjk sqlite3
}

build_page() {
  say "building the page with trunk (release)"
  (cd "$ROOT" && trunk build --release)
}
