//! Who a connection counts as for the per-address rules: behind the recommended nginx
//! (deploy/nginx.conf) the client nginx saw, whatever `X-Forwarded-For` the client sent
//! itself; an IPv6 /64 as one address; and what a flood from an address shared by many
//! (a NAT) costs the others behind it.

use std::time::Duration;

use chat_tests::nginx::Nginx;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

/// Connects through `port` from `from` with a spoofed `X-Forwarded-For: spoof`.
async fn connect_claiming(port: u16, from: [u8; 4], spoof: &str) -> Result<WireClient, String> {
    WireClient::try_connect_with_headers(port, from, &[("x-forwarded-for", spoof)]).await
}

/// Through the real nginx with deploy/nginx.conf and the server trusting it: a client that
/// sends its own `X-Forwarded-For` (a new fake address each time) is still counted as the
/// address nginx saw, so the per-address limit holds behind the proxy, and another client
/// is not affected.
#[tokio::test(flavor = "multi_thread")]
async fn behind_nginx_a_spoofed_forwarded_for_is_keyed_by_what_nginx_appends() {
    let server = ChatServer::start_with(
        &[],
        &[("CHAT_TRUSTED_PROXIES", "127.0.0.1/32,::1/128"), ("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "3")],
    );
    let nginx = Nginx::start(&[server.port]);
    let spoofer = [127, 0, 0, 2];
    let mut held = Vec::new();
    for i in 0..3 {
        let c = connect_claiming(nginx.port, spoofer, &format!("10.0.0.{i}")).await;
        held.push(c.expect("within the address's limit"));
    }
    let refused = connect_claiming(nginx.port, spoofer, "10.0.0.99").await.err().expect("over the limit");
    assert!(refused.contains("too many connections from your address"), "{refused}");
    // Claiming to be the proxy itself does not help either.
    let refused = connect_claiming(nginx.port, spoofer, "127.0.0.1").await.err().expect("still refused");
    assert!(refused.contains("too many connections from your address"), "{refused}");
    // Someone else behind the same nginx is another address.
    let (mut other, _) = WireClient::join_from(nginx.port, "Other", [127, 0, 0, 3]).await;
    let (mut spoofers_friend, _) = WireClient::join_from(server.port, "Direct", [127, 0, 0, 4]).await;
    other.emit("user message", &[json!("through the proxy")], Some(2)).await;
    assert_eq!(other.ack(2).await[0], Value::Null);
    assert_eq!(
        spoofers_friend.event("user message").await[..2],
        [json!("Other"), json!("through the proxy")]
    );
}

/// The test is the trusted proxy: two addresses of one IPv6 /64 share one per-address
/// limit, another /64 does not; an IPv4-mapped address is its IPv4 address; and a peer that
/// is not trusted cannot choose its address with the header.
#[tokio::test(flavor = "multi_thread")]
async fn through_a_trusted_proxy_one_ipv6_64_is_one_address() {
    let server = ChatServer::start_with(
        &["--trusted-proxies", "127.0.0.1/32"],
        &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "2")],
    );
    let proxy = [127, 0, 0, 1];
    let _a = connect_claiming(server.port, proxy, "2001:db8:1:2::1").await.expect("first of the /64");
    let _b = connect_claiming(server.port, proxy, "2001:db8:1:2:ffff::2").await.expect("second of the /64");
    let refused = connect_claiming(server.port, proxy, "2001:db8:1:2:abcd::3").await.err().expect("refused");
    assert!(refused.contains("too many connections from your address"), "one /64 is one address: {refused}");
    let _c = connect_claiming(server.port, proxy, "2001:db8:1:3::1").await.expect("another /64");
    let _d = connect_claiming(server.port, proxy, "::ffff:192.0.2.7").await.expect("mapped");
    let _e = connect_claiming(server.port, proxy, "192.0.2.7").await.expect("the same address, second");
    let refused = connect_claiming(server.port, proxy, "192.0.2.7").await.err().expect("third refused");
    assert!(refused.contains("too many connections from your address"), "{refused}");
    // Not from the trusted proxy: the header is ignored, the peer is the address.
    let untrusted = [127, 0, 0, 9];
    let _f = connect_claiming(server.port, untrusted, "198.51.100.1").await.expect("first");
    let _g = connect_claiming(server.port, untrusted, "198.51.100.2").await.expect("second");
    let refused = connect_claiming(server.port, untrusted, "198.51.100.3").await.err().expect("refused");
    assert!(refused.contains("too many connections from your address"), "{refused}");
}

/// The test is the trusted proxy: the /64s of one IPv6 /48 (a free tunnel gives 65,536 of
/// them) together hold at most NETWORK_ADDRESSES times the per-address limit.
#[tokio::test(flavor = "multi_thread")]
async fn through_a_trusted_proxy_one_ipv6_48_cannot_fill_the_server() {
    use chat_shared::limits::NETWORK_ADDRESSES;
    let server = ChatServer::start_with(
        &["--trusted-proxies", "127.0.0.1/32"],
        &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "2")],
    );
    let proxy = [127, 0, 0, 1];
    let mut held = Vec::new();
    for i in 0..(2 * NETWORK_ADDRESSES) {
        // One connection from each of several /64s of 2001:db8:5::/48.
        let c = connect_claiming(server.port, proxy, &format!("2001:db8:5:{i:x}::1")).await;
        held.push(c.expect("within the /48's share"));
    }
    let refused = connect_claiming(server.port, proxy, "2001:db8:5:ff::1").await.err().expect("refused");
    assert!(refused.contains("too many connections from your network"), "{refused}");
    let _other = connect_claiming(server.port, proxy, "2001:db8:6::1").await.expect("another /48");
}

/// Behind one NAT: a flooder is closed and its address refused new connections for
/// FLOOD_PENALTY; an honest user already connected from the same address keeps chatting
/// (after the address's shared message budget refills), and a new honest connection from it
/// is refused with the penalty's reason until the penalty ends.
#[tokio::test(flavor = "multi_thread")]
async fn behind_a_nat_a_flooder_costs_its_neighbours_new_connections_not_existing_ones() {
    use chat_shared::limits::FLOOD_CLOSE_AFTER;
    let server = ChatServer::start();
    let nat = [127, 0, 0, 5];
    let (mut neighbour, _) = WireClient::join_from(server.port, "Neighbour", nat).await;
    let (mut ear, _) = WireClient::join_from(server.port, "Ear", [127, 0, 0, 6]).await;
    let (mut flooder, _) = WireClient::join_from(server.port, "Flood", nat).await;
    for i in 0..(FLOOD_CLOSE_AFTER as u64 * 10) {
        flooder.emit("user message", &[json!(format!("spam {i}"))], None).await;
    }
    assert!(flooder.closed_within(Duration::from_secs(10)).await, "the flooder is closed");
    // The neighbour stays connected; its first line may meet the address's spent budget.
    let started = std::time::Instant::now();
    let mut id = 10;
    loop {
        id += 1;
        neighbour.emit("user message", &[json!("am I still here?")], Some(id)).await;
        let ack = neighbour.ack(id).await;
        if ack[0].is_null() {
            break;
        }
        assert_eq!(ack[0]["code"], json!("rate_limited"), "{ack:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "the neighbour never got a line through");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("the neighbour's first line got through {:?} after the flood", started.elapsed());
    loop {
        let args = ear.event("user message").await;
        if args[0] == json!("Neighbour") {
            assert_eq!(args[1], json!("am I still here?"));
            break;
        }
    }
    // A new honest connection from the NAT is refused, with the reason.
    let refused =
        WireClient::try_connect_from(server.port, nat).await.err().expect("refused for the penalty");
    assert!(refused.contains("your address flooded the chat"), "{refused}");
    // Other addresses are unaffected.
    assert!(WireClient::try_connect_from(server.port, [127, 0, 0, 7]).await.is_ok());
}

/// deploy/nginx.conf's socket.io `location` covers both paths engine.io answers: through
/// nginx, a WebSocket upgrade and a polling handshake work at `/socket.io` as at
/// `/socket.io/` (before, the bare path fell to the page's `location`, without the upgrade
/// or the per-address limit), and a foreign origin is refused at both.
#[tokio::test(flavor = "multi_thread")]
async fn behind_nginx_both_socket_io_paths_are_proxied_and_guarded() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = ChatServer::start_with(&[], &[("CHAT_TRUSTED_PROXIES", "127.0.0.1/32")]);
    let nginx = Nginx::start(&[server.port]);
    for path in ["/socket.io", "/socket.io/"] {
        for (origin, want) in [(None, Ok(101)), (Some("http://evil.example"), Err(403))] {
            let url = format!("ws://127.0.0.1:{}{path}?EIO=4&transport=websocket", nginx.port);
            let mut request = url.into_client_request().unwrap();
            if let Some(o) = origin {
                request.headers_mut().insert("origin", o.parse().unwrap());
            }
            let got = match tokio_tungstenite::connect_async(request).await {
                Ok((_, response)) => Ok(response.status().as_u16()),
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
                Err(e) => panic!("unexpected websocket error at {path}: {e}"),
            };
            assert_eq!(got, want, "websocket at {path} with origin {origin:?}");
        }
        let polling = format!("http://127.0.0.1:{}{path}?EIO=4&transport=polling", nginx.port);
        let body = reqwest::get(&polling).await.unwrap().text().await.unwrap();
        assert!(body.contains("\"sid\""), "a polling session at {path} through nginx: {body}");
    }
}

/// One raw HTTP/1.1 GET of `target` (sent as written: no client library normalises `..`), with
/// `extra` header lines; the status code and the body.
async fn raw_get(port: u16, target: &str, extra: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(chat_tests::PATIENCE, tcp.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

/// nginx matches `/socket.io/../` as `/` (no socket.io limits, and the client's own
/// X-Forwarded-For passed on) but forwards it as it came: the server answers 404 to any path
/// under socket.io's but its endpoint, so no session opens that way, directly or through nginx.
#[tokio::test(flavor = "multi_thread")]
async fn a_dot_dot_path_does_not_reach_socket_io_around_the_proxys_rules() {
    let server = ChatServer::start_with(&[], &[("CHAT_TRUSTED_PROXIES", "127.0.0.1/32")]);
    let nginx = Nginx::start(&[server.port]);
    for port in [server.port, nginx.port] {
        for target in [
            "/socket.io/../?EIO=4&transport=polling",
            "/socket.io/%2e%2e/?EIO=4&transport=polling",
            "/socket.io/x?EIO=4&transport=polling",
        ] {
            let (status, answer) = raw_get(port, target, "X-Forwarded-For: 10.9.8.7\r\n").await;
            assert!(!answer.contains("\"sid\""), "no session at {target} via port {port}: {answer}");
            assert_ne!(status, 200, "{target} via port {port}: {answer}");
        }
        let (status, answer) = raw_get(port, "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(status, 200, "the endpoint itself works: {answer}");
        assert!(answer.contains("\"sid\""));
    }
}
