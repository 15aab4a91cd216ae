//! Browser end-to-end tests: the real page, served by the real binary, in headless Chromium
//! (Debian's, driven by playwright-core from npm): tests/browser/e2e.js and window.js.

use std::process::Command;

use chat_shared::limits::PAGE_LINES_MAX;
use chat_tests::server::{binary, free_port, temp_dir, workspace_root};

/// Runs `node tests/browser/<script> <chat-server> <port> <extra…>` and checks it ends with
/// `done` in its output (each script starts and stops the server itself).
fn run_script(script: &str, extra: &[&str], done: &str) {
    let out = Command::new("node")
        .arg(workspace_root().join("tests/browser").join(script))
        .arg(binary())
        .arg(free_port().to_string())
        .args(extra)
        .current_dir(workspace_root())
        .env("CHAT_DATA_DIR", temp_dir(script))
        .output()
        .expect("run node (the README's test command installs it, chromium and playwright-core)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(done), "{stdout}");
}

#[test]
fn the_page_in_headless_chromium() {
    run_script("e2e.js", &[], ", 0 failed");
}

/// The page's bounded window of lines: at most `PAGE_LINES_MAX` in the DOM while following a
/// busy chat, older lines back on scrolling up, the newest on jumping.
#[test]
fn the_page_holds_a_bounded_window_of_lines() {
    run_script("window.js", &[&PAGE_LINES_MAX.to_string()], "window: all passed");
}
