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
    let plain = get(&url, &[]).await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none(), "not compressed unless asked");
    let plain = plain.bytes().await.unwrap();
    for (accept, encoding) in [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0, gzip", "gzip")] {
        let r = get(&url, &[(header::ACCEPT_ENCODING, accept)]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::CONTENT_ENCODING], encoding);
        assert_eq!(r.headers()[header::VARY], "accept-encoding");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/wasm");
        // Precompressed at build time: the length is known up front (per-request compression
        // would stream it chunked).
        let length: usize = r.headers()[header::CONTENT_LENGTH].to_str().unwrap().parse().unwrap();
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len(), length);
        assert!(length < plain.len() / 2, "{encoding}: {length} bytes of {}", plain.len());
        assert_eq!(decompress(encoding, &body), plain, "{encoding} decodes to the file");
    }
    assert_eq!(get(&format!("{}/nope.js", server.url()), &[]).await.status(), 404);
    let health = get(&format!("{}/healthz", server.url()), &[]).await;
    assert_eq!(health.status(), 200);
}

fn decompress(encoding: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match encoding {
        "br" => brotli::Decompressor::new(body, 4096).read_to_end(&mut out),
        _ => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
    }
    .expect("decompress");
    out
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
        ("CHAT_ALLOWED_ORIGINS", "evil.example", "--allowed-origins"),
        ("CHAT_HISTORY_SYNC", "sometimes", "--history-sync"),
    ] {
        let out = Command::new(binary()).env(env, value).stdin(Stdio::null()).output().unwrap();
        assert!(!out.status.success(), "{env}={value} must be refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name), "{env}={value}: error names {name}: {stderr}");
    }
    let file = chat_tests::server::temp_dir("bad-config").join("chat.toml");
    std::fs::write(&file, "history-sync = \"sometimes\"\n").unwrap();
    let out = Command::new(binary()).env("CHAT_CONFIG", &file).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("config file") && stderr.contains("--history-sync"), "{stderr}");
    let help = Command::new(binary()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for documented in
        ["PORT", "CHAT_CONFIG", "CHAT_BIND", "CHAT_DATA_DIR", "CHAT_PAGE_DIR", "CHAT_LOG", "[default: 3000]"]
    {
        assert!(help.contains(documented), "--help documents {documented}");
    }
}

/// Starts `chat-server` with `env` (and nothing else set), and says whether it came to listen
/// on `port` within 10 s.
fn listens_on(port: u16, env: &[(&str, &std::ffi::OsStr)]) -> bool {
    let mut command = Command::new(binary());
    command.env_remove("PORT").stdin(Stdio::null()).stderr(Stdio::null()).stdout(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut up = false;
    while Instant::now() < deadline && !up {
        up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    up
}

#[test]
fn port_comes_from_the_environment_as_in_the_original() {
    let port = free_port();
    let data = chat_tests::server::temp_dir("port");
    let up = listens_on(
        port,
        &[
            ("PORT", port.to_string().as_ref()),
            ("CHAT_DATA_DIR", data.as_ref()),
            ("CHAT_BIND", "127.0.0.1".as_ref()),
        ],
    );
    let _ = std::fs::remove_dir_all(data);
    assert!(up, "listening on PORT={port}");
}

#[test]
fn a_config_file_gives_what_flags_and_environment_do_not() {
    let (from_file, from_env) = (free_port(), free_port());
    let dir = chat_tests::server::temp_dir("config");
    let file = dir.join("chat.toml");
    let data = dir.join("data");
    std::fs::write(
        &file,
        format!(
            "port = {from_file}\nbind = \"127.0.0.1\"\ndata-dir = \"{}\"\nresume-grace = 60\n",
            data.display()
        ),
    )
    .unwrap();
    assert!(listens_on(from_file, &[("CHAT_CONFIG", file.as_ref())]), "the file's port");
    assert!(data.join("chat.sqlite3").exists(), "the file's data dir");
    let env_port = from_env.to_string();
    assert!(
        listens_on(from_env, &[("CHAT_CONFIG", file.as_ref()), ("PORT", env_port.as_ref())]),
        "the environment wins over the file"
    );
    let _ = std::fs::remove_dir_all(dir);
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

#[tokio::test(flavor = "multi_thread")]
async fn the_page_carries_a_strict_content_security_policy() {
    let server = ChatServer::start();
    let index = get(&server.url(), &[]).await;
    let csp = index.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"), "{csp}");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(index.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(index.headers()[header::X_FRAME_OPTIONS], "DENY");
}

async fn websocket_status(port: u16, origin: Option<&str>) -> Result<u16, u16> {
    websocket_status_at(port, "/socket.io/", origin).await
}

/// Opens a WebSocket at `path` (`/socket.io/` or `/socket.io`) with `origin`: the upgrade's
/// status (Ok: 101) or the refusal's.
async fn websocket_status_at(port: u16, path: &str, origin: Option<&str>) -> Result<u16, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://127.0.0.1:{port}{path}?EIO=4&transport=websocket");
    let mut request = url.into_client_request().unwrap();
    if let Some(o) = origin {
        request.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => Ok(response.status().as_u16()),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_origins_cannot_open_the_socket() {
    let server = ChatServer::start_with(&[], &[("CHAT_ALLOWED_ORIGINS", "http://friend.example:8080")]);
    let own = format!("http://127.0.0.1:{}", server.port);
    // Cross-site WebSocket hijacking: a page elsewhere opens a socket to us.
    assert_eq!(websocket_status(server.port, Some("https://evil.example")).await, Err(403));
    assert_eq!(websocket_status(server.port, Some("http://127.0.0.1:1")).await, Err(403), "another port");
    assert_eq!(websocket_status(server.port, Some(&own)).await, Ok(101), "the page's own origin");
    assert_eq!(websocket_status(server.port, Some("http://friend.example:8080")).await, Ok(101), "listed");
    assert_eq!(websocket_status(server.port, None).await, Ok(101), "no Origin: not a browser");
    let polling = format!("{}/socket.io/?EIO=4&transport=polling", server.url());
    assert_eq!(get(&polling, &[(header::ORIGIN, "https://evil.example")]).await.status(), 403);
    assert_eq!(get(&polling, &[(header::ORIGIN, own.as_str())]).await.status(), 200);
    // Everyone else keeps chatting.
    let mut c = WireClient::connect(server.port).await;
    c.emit("nickname", &[json!("Unbothered")], Some(1)).await;
    assert_eq!(c.ack(1).await, vec![json!(false)]);
}

/// Issue 15, walk-around 1: engine.io answers `/socket.io` without the trailing slash too, and
/// the origin check once guarded only `/socket.io/`. A foreign page is refused at both paths,
/// on both transports; the page's own origin works at both.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_origins_are_refused_at_both_socket_io_paths_on_both_transports() {
    let server = ChatServer::start();
    let own = format!("http://127.0.0.1:{}", server.port);
    for path in ["/socket.io", "/socket.io/"] {
        let foreign = websocket_status_at(server.port, path, Some("http://evil.example")).await;
        assert_eq!(foreign, Err(403), "websocket at {path}");
        let mine = websocket_status_at(server.port, path, Some(&own)).await;
        assert_eq!(mine, Ok(101), "own origin, websocket at {path}");
        let polling = format!("{}{path}?EIO=4&transport=polling", server.url());
        let foreign = get(&polling, &[(header::ORIGIN, "http://evil.example")]).await;
        assert_eq!(foreign.status(), 403, "polling at {path}");
        let body = foreign.text().await.unwrap();
        assert!(!body.contains("\"sid\""), "no engine.io session for a foreign page: {body}");
        let mine = get(&polling, &[(header::ORIGIN, own.as_str())]).await;
        assert_eq!(mine.status(), 200, "own origin, polling at {path}");
        assert!(mine.text().await.unwrap().contains("\"sid\""), "a session at {path}");
    }
    // Nothing but socket.io is guarded: the page itself loads from anywhere.
    let page = get(&format!("{}/healthz", server.url()), &[(header::ORIGIN, "http://evil.example")]).await;
    assert_eq!(page.status(), 200);
    let metrics = get(&format!("{}/metrics", server.url()), &[]).await.text().await.unwrap();
    assert!(metrics.contains("chat_connections_refused_total{reason=\"origin\"} 4"), "{metrics}");
}

/// A polling handshake at `/socket.io` with these headers (a Host of our choosing: what a
/// DNS-rebinding page's requests carry).
async fn handshake_with(server: &ChatServer, host: &str, origin: Option<&str>) -> u16 {
    let url = format!("{}/socket.io/?EIO=4&transport=polling", server.url());
    let mut headers = vec![(header::HOST, host)];
    if let Some(o) = origin {
        headers.push((header::ORIGIN, o));
    }
    get(&url, &headers).await.status().as_u16()
}

/// DNS rebinding: a page at evil.example whose name now points at the server sends
/// `Origin: http://evil.example` and `Host: evil.example`, which "same origin as Host" lets
/// in. With the operator's public origin set it is refused, and the public origin works.
#[tokio::test(flavor = "multi_thread")]
async fn a_dns_rebinding_page_is_refused_once_the_public_origin_is_set() {
    let open = ChatServer::start();
    let rebinding = handshake_with(&open, "evil.example", Some("http://evil.example")).await;
    assert_eq!(rebinding, 200, "without --public-origin, the rebinding page gets in (the documented limit)");

    let server = ChatServer::start_with(&["--public-origin", "https://chat.example.com"], &[]);
    assert_eq!(handshake_with(&server, "evil.example", Some("http://evil.example")).await, 403);
    assert_eq!(handshake_with(&server, "evil.example", None).await, 403, "the Host alone");
    assert_eq!(handshake_with(&server, "chat.example.com", Some("http://evil.example")).await, 403);
    assert_eq!(handshake_with(&server, "chat.example.com", Some("https://chat.example.com")).await, 200);
    assert_eq!(handshake_with(&server, "chat.example.com", None).await, 200, "a non-browser client");
    // The WebSocket upgrade at the bare path too.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    for (host, origin, want) in [
        ("evil.example", "http://evil.example", Err(403)),
        ("chat.example.com", "https://chat.example.com", Ok(101)),
    ] {
        let url = format!("ws://127.0.0.1:{}/socket.io?EIO=4&transport=websocket", server.port);
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("host", host.parse().unwrap());
        request.headers_mut().insert("origin", origin.parse().unwrap());
        let got = match tokio_tungstenite::connect_async(request).await {
            Ok((_, response)) => Ok(response.status().as_u16()),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("unexpected websocket error: {e}"),
        };
        assert_eq!(got, want, "websocket with Host {host}");
    }
    // The page itself is public: served whatever the Host.
    let health = get(&format!("{}/healthz", server.url()), &[(header::HOST, "evil.example")]).await;
    assert_eq!(health.status(), 200);
}

/// `/metrics` answers only the addresses allowed to read it (loopback by default), and a
/// flood of `/readyz` costs at most one readiness check (a history flush) per second.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_for_allowed_addresses_and_readyz_checks_at_most_once_a_second() {
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().expect("a client")
    };
    let server = ChatServer::start_with(&[], &[("CHAT_METRICS_ALLOW", "127.0.0.2/32")]);
    let metrics = format!("{}/metrics", server.url());
    let refused = from([127, 0, 0, 1]).get(&metrics).send().await.unwrap();
    assert_eq!(refused.status(), 403, "not in the list");
    assert!(!refused.text().await.unwrap().contains("chat_"), "nothing of the metrics");
    let read = |c: reqwest::Client| {
        let url = metrics.clone();
        async move { c.get(&url).send().await.unwrap().text().await.unwrap() }
    };
    let checks = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("chat_readiness_checks_total ")?.parse().ok())
            .expect("the readiness counter")
    };
    let before = checks(&read(from([127, 0, 0, 2])).await);
    let started = Instant::now();
    let hits: Vec<_> = (0..300)
        .map(|_| {
            let url = format!("{}/readyz", server.url());
            tokio::spawn(async move { reqwest::get(url).await.unwrap().status().as_u16() })
        })
        .collect();
    for hit in hits {
        assert_eq!(hit.await.unwrap(), 200);
    }
    let seconds = started.elapsed().as_secs() + 1;
    let ran = checks(&read(from([127, 0, 0, 2])).await) - before;
    assert!(ran >= 1 && ran <= seconds + 1, "{ran} checks for 300 hits in {seconds} s");
    // The default: loopback only.
    let default = ChatServer::start();
    assert_eq!(reqwest::get(format!("{}/metrics", default.url())).await.unwrap().status(), 200);
}

/// Nothing at info level, nor with the README's debug filter (`chat_server=debug,info`),
/// logs a resume token or a message text. (`debug` for every crate would: socketioxide logs
/// each packet, which is why the README does not suggest it.)
#[tokio::test(flavor = "multi_thread")]
async fn no_token_or_message_text_is_logged_at_the_documented_levels() {
    for (filter, secrets_logged) in [("info", false), ("chat_server=debug,info", false), ("debug", true)] {
        let dir = chat_tests::server::temp_dir("logs");
        let log = dir.join("out.log");
        let port = free_port();
        let mut child = Command::new(binary())
            .env("PORT", port.to_string())
            .env("CHAT_BIND", "127.0.0.1")
            .env("CHAT_DATA_DIR", dir.join("data"))
            .env("CHAT_LOG", filter)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (mut c, token) = WireClient::join(port, "Logged").await;
        c.emit("user message", &[json!("a very private line")], Some(2)).await;
        c.ack(2).await;
        c.drop_abruptly();
        let (_again, ack) = WireClient::resume(port, &token).await;
        assert_eq!(ack[1]["nickname"], json!("Logged"), "{ack:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = child.kill();
        let _ = child.wait();
        let out = std::fs::read_to_string(&log).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.contains("nickname set"), "{filter}: the log works: {out}");
        let leaked = out.contains(&token) || out.contains("a very private line");
        assert_eq!(leaked, secrets_logged, "{filter}: token or text in the log: {leaked}");
    }
}
