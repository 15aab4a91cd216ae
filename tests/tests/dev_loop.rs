//! The README's development loop, as it is written there: `chat-server --bind 127.0.0.1
//! --allowed-origins http://127.0.0.1:8080` on :3000, `trunk serve` on :8080 (its proxy forwards
//! socket.io's WebSockets to :3000), and two pages on :8080 in headless Chromium chatting
//! (tests/browser/dev_loop.js). trunk writes to a temporary dist so that the page embedded in
//! the server stays the release build's.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_tests::server::{binary, temp_dir, workspace_root};

/// A child process killed when the test ends (passing or not).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `http://127.0.0.1:{port}{path}` answers 200 with `expect` in its body.
fn wait_for(port: u16, path: &str, expect: &str, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes());
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.") && out.contains(" 200 ") && out.contains(expect) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} did not answer on :{port} within {within:?}");
}

#[test]
fn the_readme_development_loop_chats_through_trunk_serve() {
    for port in [3000, 8080] {
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "the README's development loop uses :{port}, which is taken: free it to run this test"
        );
    }
    let _server = Running(
        Command::new(binary())
            .args(["--bind", "127.0.0.1", "--allowed-origins", "http://127.0.0.1:8080"])
            .env_remove("PORT")
            .env("CHAT_DATA_DIR", temp_dir("dev-loop"))
            .env("CHAT_LOG", std::env::var("CHAT_TEST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .spawn()
            .expect("start chat-server"),
    );
    wait_for(3000, "/healthz", "ok", Duration::from_secs(20), "chat-server");
    // trunk finds wasm-opt in node_modules/.bin (scripts/tools.sh puts it first in PATH).
    let path = format!(
        "{}:{}",
        workspace_root().join("node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dist = temp_dir("dev-loop-dist");
    let _trunk = Running(
        Command::new("trunk")
            .arg("serve")
            .arg("--dist")
            .arg(&dist)
            .current_dir(workspace_root())
            .env("PATH", path)
            .env("TRUNK_SKIP_VERSION_CHECK", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start trunk (the README's commands install it)"),
    );
    // The first serve builds the page (incrementally: the test command built it before).
    wait_for(8080, "/", "chat-client", Duration::from_secs(600), "trunk serve");
    let script = workspace_root().join("tests/browser/dev_loop.js");
    let out = Command::new("node")
        .arg(&script)
        .arg("http://127.0.0.1:8080/")
        .current_dir(workspace_root())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stdout.contains("dev loop ok"), "{stdout}\n{stderr}");
}
