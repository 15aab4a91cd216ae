//! Browser end-to-end tests: the real page, served by the real binary, in headless Chromium
//! (Debian's, driven by playwright-core from npm): tests/browser/e2e.js and window.js.

use std::process::Command;

use chat_shared::limits::PAGE_LINES_MAX;
use chat_tests::server::{binary, free_port, temp_dir, workspace_root};

#[test]
fn the_page_in_headless_chromium() {
    let script = workspace_root().join("tests/browser/e2e.js");
    let out = Command::new("node")
        .arg(&script)
        .arg(binary())
        .arg(free_port().to_string())
        .current_dir(workspace_root())
        .env("CHAT_DATA_DIR", temp_dir("browser"))
        .output()
        .expect("run node (the README's test command installs it, chromium and playwright-core)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "browser tests failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(", 0 failed"), "{stdout}");
}

/// The page's bounded window of lines (tests/browser/window.js): at most `PAGE_LINES_MAX` in the
/// DOM while following a busy chat, older lines back on scrolling up, the newest on jumping.
#[test]
fn the_page_holds_a_bounded_window_of_lines() {
    let script = workspace_root().join("tests/browser/window.js");
    let out = Command::new("node")
        .arg(&script)
        .arg(binary())
        .arg(free_port().to_string())
        .arg(PAGE_LINES_MAX.to_string())
        .current_dir(workspace_root())
        .env("CHAT_DATA_DIR", temp_dir("window"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "window tests failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("window: all passed"), "{stdout}");
}
