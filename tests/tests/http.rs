//! The HTTP side of the real binary: the page (embedded, compressed, cache headers, ETag),
//! /healthz, configuration by environment and flags, and graceful shutdown on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chat_tests::server::{binary, free_port};
use chat_tests::{ChatServer, WireClient};
use reqwest::header;
use serde_json::json;

async fn get(url: &str, headers: &[(header::HeaderName, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    req.send().await.expect("GET")
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_the_embedded_page_compressed_with_cache_headers() {
    let server = ChatServer::start();
    let index = get(&server.url(), &[]).await;
    assert_eq!(index.status(), 200, "the page is embedded (the test command builds it first)");
    assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
    assert!(index.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let etag = index.headers()[header::ETAG].to_str().unwrap().to_owned();
    let html = index.text().await.unwrap();
    let wasm = html
        .split(['"', '\''])
        .find(|s| s.ends_with("_bg.wasm"))
        .expect("index.html references the wasm")
        .trim_start_matches('/')
        .to_owned();

    let again = get(&server.url(), &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(again.status(), 304);

    let url = format!("{}/{wasm}", server.url());
    for encoding in ["br", "gzip"] {
        let r = get(&url, &[(header::ACCEPT_ENCODING, encoding)]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::CONTENT_ENCODING], encoding);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/wasm");
    }
    assert_eq!(get(&format!("{}/nope.js", server.url()), &[]).await.status(), 404);
    let health = get(&format!("{}/healthz", server.url()), &[]).await;
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn page_dir_overrides_the_embedded_page() {
    let dir = std::env::temp_dir().join(format!("chat-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<p>from a directory</p>").unwrap();
    let server = ChatServer::start_with(&["--page-dir", dir.to_str().unwrap()], &[]);
    let r = get(&server.url(), &[]).await;
    assert_eq!(r.text().await.unwrap(), "<p>from a directory</p>");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_setting_fails_fast_and_names_itself() {
    for (env, value, name) in [
        ("PORT", "not-a-port", "--port"),
        ("CHAT_BIND", "nowhere", "--bind"),
        ("CHAT_SHUTDOWN_TIMEOUT", "-3", "--shutdown-timeout"),
        ("CHAT_LOG", "[[", "CHAT_LOG"),
    ] {
        let out = Command::new(binary()).env(env, value).stdin(Stdio::null()).output().unwrap();
        assert!(!out.status.success(), "{env}={value} must be refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name), "{env}={value}: error names {name}: {stderr}");
    }
    let help = Command::new(binary()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for documented in ["PORT", "CHAT_BIND", "CHAT_DATA_DIR", "CHAT_PAGE_DIR", "CHAT_LOG", "[default: 3000]"] {
        assert!(help.contains(documented), "--help documents {documented}");
    }
}

#[test]
fn port_comes_from_the_environment_as_in_the_original() {
    let port = free_port();
    let mut child = Command::new(binary())
        .env("PORT", port.to_string())
        .env("CHAT_BIND", "127.0.0.1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut up = false;
    while Instant::now() < deadline && !up {
        up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "listening on PORT={port}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_closes_connections_and_exits_cleanly() {
    let mut server = ChatServer::start();
    let mut c = WireClient::connect(server.port).await;
    c.emit("nickname", &[json!("Leaving")], Some(1)).await;
    c.ack(1).await;
    let started = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().unwrap();
    assert!(kill.success());
    assert!(c.closed_within(Duration::from_secs(5)).await, "the client is told / disconnected");
    let mut status = None;
    while status.is_none() && started.elapsed() < Duration::from_secs(10) {
        status = server.try_exit();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("exited within the shutdown timeout");
    assert!(status.success(), "clean exit: {status}");
}
