//! The page's core flows in Debian's Firefox ESR over WebDriver BiDi (puppeteer-core from npm;
//! no geckodriver): connecting, nicknames (a taken one refused), chatting both ways with another
//! Firefox page and with the socket.io JS client, a server restart, long-polling
//! (tests/browser/firefox.js). The harness is browser.rs's: this test builds the server and picks
//! a port; the script starts, kills and restarts the server itself.

use std::process::Command;

use chat_tests::server::{binary, free_port, temp_dir, workspace_root};

#[test]
fn the_core_flows_in_headless_firefox() {
    let script = workspace_root().join("tests/browser/firefox.js");
    let (data, home) = (temp_dir("firefox"), temp_dir("firefox-home"));
    let out = Command::new("node")
        .arg(&script)
        .arg(binary())
        .arg(free_port().to_string())
        .current_dir(workspace_root())
        .env("CHAT_DATA_DIR", &data)
        // Firefox needs a writable HOME (it writes ~/.cache, ~/.config, ~/Downloads; with an
        // unwritable one it hangs before listening): a fresh one, so that no run sees another's.
        .env("HOME", &home)
        .output()
        .expect("run node (the README's test command installs it, firefox-esr and puppeteer-core)");
    let _ = (std::fs::remove_dir_all(&data), std::fs::remove_dir_all(&home));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "firefox tests failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(", 0 failed"), "{stdout}");
}
