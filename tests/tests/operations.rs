//! Operating the server: readiness, Prometheus metrics that count what clients did, and (in
//! the other tests of this file) structured logs and the shutdown goodbye.

use std::time::Duration;

use chat_tests::{ChatServer, WireClient};
use serde_json::json;

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("GET");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// The value of the sample whose name and labels start `series` (e.g. `chat_deliveries_total`
/// or `chat_connections{transport="websocket"}`), 0 if it is not there.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_clients_did() {
    let server = ChatServer::start();
    let (ready, body) = get(&format!("{}/readyz", server.url())).await;
    assert_eq!((ready, body.as_str()), (200, "ready\n"));

    let (mut ana, _) = WireClient::join(server.port, "Ana").await;
    let (mut bob, _) = WireClient::join(server.port, "Bob").await;
    const N: u64 = 7;
    for i in 0..N {
        ana.emit("user message", &[json!(format!("line {i}"))], Some(100 + i)).await;
    }
    let acks = ana.acks(100..100 + N).await;
    assert!(acks.values().all(|a| a[0].is_null()), "all accepted: {acks:?}");
    ana.emit("user message", &[json!("x".repeat(5000))], Some(200)).await;
    assert_eq!(ana.ack(200).await[0]["code"], "message_too_long");
    ana.emit("user message", &[json!("   ")], Some(201)).await;
    assert_eq!(ana.ack(201).await[0]["code"], "message_empty");
    for _ in 0..N {
        bob.event("user message").await;
    }

    let (status, metrics) = get(&format!("{}/metrics", server.url())).await;
    assert_eq!(status, 200);
    assert_eq!(sample(&metrics, "chat_messages_accepted_total"), N as f64, "{metrics}");
    assert_eq!(sample(&metrics, "chat_deliveries_total"), N as f64, "one recipient each");
    assert_eq!(sample(&metrics, "chat_messages_rejected_total{reason=\"message_too_long\"}"), 1.0);
    assert_eq!(sample(&metrics, "chat_messages_rejected_total{reason=\"message_empty\"}"), 1.0);
    assert_eq!(sample(&metrics, "chat_connections{transport=\"websocket\"}"), 2.0);
    assert_eq!(sample(&metrics, "chat_nicknames{state=\"connected\"}"), 2.0);
    assert_eq!(sample(&metrics, "chat_queue_full_total"), 0.0);
    assert!(sample(&metrics, "chat_history_commit_seconds_count") >= 1.0, "commits are timed");
    assert!(metrics.contains("chat_build_info{version=\""), "build info");
    assert!(metrics.contains("# HELP chat_deliveries_total"), "described");

    bob.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, metrics) = get(&format!("{}/metrics", server.url())).await;
    assert_eq!(sample(&metrics, "chat_connections{transport=\"websocket\"}"), 1.0, "{metrics}");
    assert_eq!(sample(&metrics, "chat_nicknames{state=\"connected\"}"), 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_name_the_connection_on_each_line_about_one() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let port = chat_tests::server::free_port();
    let data = chat_tests::server::temp_dir("json-logs");
    let mut child = Command::new(chat_tests::server::binary())
        .env("PORT", port.to_string())
        .env("CHAT_BIND", "127.0.0.1")
        .env("CHAT_DATA_DIR", &data)
        .env("CHAT_LOG", "info")
        .env("CHAT_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start chat-server");
    let stdout = child.stdout.take().expect("stdout");
    let lines =
        std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    let mut up = false;
    for _ in 0..200 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "server up");
    let (ana, _) = WireClient::join(port, "Ana").await;
    ana.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let lines = lines.join().expect("reader");
    let _ = std::fs::remove_dir_all(data);

    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for line in &parsed {
        assert!(line["timestamp"].is_string() && line["level"].is_string(), "{line}");
    }
    let about = |message: &str| {
        parsed
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("a line {message:?} in {lines:#?}"))
            .clone()
    };
    let set = about("nickname set");
    let left = about("left");
    assert_eq!(set["fields"]["nickname"], "Ana");
    let conn = set["fields"]["conn"].as_str().expect("conn id").to_owned();
    assert!(!conn.is_empty());
    assert_eq!(left["fields"]["conn"], conn.as_str(), "the same connection id on each of its lines");
    about("chat-server listening");
}

/// Reads everything `client` gets until the server closes it: the acks by id, and the
/// `going away` event's `retry_after_ms` if it came.
async fn until_closed(
    client: &mut WireClient,
) -> (std::collections::BTreeMap<u64, Vec<serde_json::Value>>, Option<u64>) {
    use chat_tests::wire::Inbound;
    let mut acks = std::collections::BTreeMap::new();
    let mut going_away = None;
    while let Some(packet) = client.recv_packet(Duration::from_secs(10)).await {
        match packet {
            Inbound::Ack(id, args) => {
                acks.insert(id, args);
            }
            Inbound::Event(name, args) if name == "going away" => {
                going_away = args[0]["retry_after_ms"].as_u64();
            }
            _ => {}
        }
    }
    (acks, going_away)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_says_goodbye_and_users_carry_on_after_a_restart_with_nothing_lost() {
    let mut server = ChatServer::start_with(&["--message-burst", "1000"], &[]);
    let port = server.port;
    let (mut ana, ana_token) = WireClient::join(port, "Ana").await;
    let (mut bob, bob_token) = WireClient::join(port, "Bob").await;
    const LINES: u64 = 50;
    let line = |i: u64| [json!(format!("line {i}")), json!({ "key": format!("k{i}") })];
    for i in 0..LINES {
        ana.emit("user message", &line(i), Some(100 + i)).await;
    }
    server.terminate();
    let (acked, ana_told) = until_closed(&mut ana).await;
    let (_, bob_told) = until_closed(&mut bob).await;
    assert_eq!(ana_told, Some(1000), "Ana was told the server is going away");
    assert_eq!(bob_told, Some(1000), "Bob was told the server is going away");
    let status = server.wait_exit(Duration::from_secs(15)).expect("exited within the shutdown timeout");
    assert!(status.success(), "clean exit: {status}");
    assert!(acked.values().all(|a| a[0].is_null()), "nothing refused: {acked:?}");

    server.restart();
    let (mut ana, ack) = WireClient::resume(port, &ana_token).await;
    assert_eq!(ack[1]["nickname"], "Ana", "Ana's nickname was kept for her: {ack:?}");
    let (_, ack) = WireClient::resume(port, &bob_token).await;
    assert_eq!(ack[1]["nickname"], "Bob", "and Bob's");
    // Ana's page resends what was not acked, with the same keys (its outbox).
    let unacked: Vec<u64> = (0..LINES).filter(|i| !acked.contains_key(&(100 + i))).collect();
    for &i in &unacked {
        ana.emit("user message", &line(i), Some(300 + i)).await;
        assert!(ana.ack(300 + i).await[0].is_null());
    }
    let page = ana.history(json!({ "after": 0, "limit": 500 }), 2).await;
    let texts: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..LINES).map(|i| format!("line {i}")).collect();
    assert_eq!(texts, expected, "every line once, in order ({} acked before the shutdown)", acked.len());
}
