//! Interop: the official socket.io JavaScript client (socket.io-client 4 from npm, run with
//! Node) drives the server with the original page's client logic, over WebSocket and over
//! HTTP long-polling (tests/js/interop.js).

use std::process::Command;

use chat_tests::ChatServer;
use chat_tests::server::workspace_root;

fn run_interop(transport: &str) {
    let server = ChatServer::start();
    let script = workspace_root().join("tests/js/interop.js");
    let out = Command::new("node")
        .arg(&script)
        .args([server.url().as_str(), transport])
        .output()
        .expect("run node (the README's test command installs it and socket.io-client)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "interop over {transport} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("interop ({transport}) ok")), "{stdout}");
}

#[test]
fn official_js_client_over_websocket() {
    run_interop("websocket");
}

#[test]
fn official_js_client_over_long_polling() {
    run_interop("polling");
}
