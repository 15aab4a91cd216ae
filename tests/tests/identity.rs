//! One owner per nickname: a resume with a connection's token takes the nickname over, and the
//! connection it was taken from is told (`signed out`) and can no longer speak as it — not
//! while the new holder has it, and not after a third person claimed it once it was free. The
//! attack sequence of issue 15, alone (WebSocket and long-polling) and across instances.

use std::time::Duration;

use chat_tests::TestClient as ChatClient;
use chat_tests::redis::RedisServer;
use chat_tests::{ChatServer, WireClient};
use rust_socketio::TransportType;
use serde_json::{Value, json};

/// Lines that reach `reader` within `within`, as (from, text).
async fn lines(reader: &mut WireClient, within: Duration) -> Vec<(String, String)> {
    reader
        .events_within("user message", within)
        .await
        .into_iter()
        .map(|args| (args[0].as_str().unwrap_or("?").to_owned(), args[1].as_str().unwrap_or("?").to_owned()))
        .collect()
}

/// Everything in the history, as (from, text).
async fn history(reader: &mut WireClient, ack_id: u64) -> Vec<(String, String)> {
    let page = reader.history(json!({"limit": 500}), ack_id).await;
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| (m["from"].as_str().unwrap_or("?").to_owned(), m["text"].as_str().unwrap_or("?").to_owned()))
        .collect()
}

fn said(from: &str, text: &str) -> (String, String) {
    (from.to_owned(), text.to_owned())
}

/// The sequence: A holds "Ana"; B resumes with A's token; A tries to speak; B leaves;
/// C claims "Ana"; A tries again. `ports`: where A, B, C and the reader connect (the same
/// instance, or different ones of a cluster).
async fn takeover_sequence(ports: [u16; 4]) {
    let [a_port, b_port, c_port, reader_port] = ports;
    let (mut reader, _) = WireClient::join(reader_port, "Reader").await;
    let (mut a, token) = WireClient::join(a_port, "Ana").await;
    a.emit("user message", &[json!("A before")], Some(10)).await;
    assert_eq!(a.ack(10).await[0], Value::Null);
    assert_eq!(lines(&mut reader, Duration::from_millis(500)).await, [said("Ana", "A before")]);

    let (mut b, ack) = WireClient::resume(b_port, &token).await;
    assert_eq!(ack[0], Value::Null, "B resumed: {ack:?}");
    assert_eq!(ack[1]["nickname"], json!("Ana"));
    let rotated = ack[1]["resume_token"].as_str().expect("a new token").to_owned();
    assert_ne!(rotated, token, "a resume answers a new token");

    // A is told, at once (not at the next lease renewal)...
    let told = tokio::time::timeout(Duration::from_millis(1500), a.event("signed out")).await;
    let told = told.expect("the old connection is told within 1.5 s");
    assert_eq!(told[0]["nickname"], json!("Ana"));
    assert_eq!(told[0]["code"], json!("signed_in_elsewhere"));
    // ...and can no longer speak as Ana: refused, delivered to nobody, stored nowhere.
    a.emit("user message", &[json!("A after takeover")], Some(11)).await;
    assert_eq!(a.ack(11).await[0]["code"], json!("signed_in_elsewhere"));
    a.emit("typing", &[json!(true)], Some(12)).await;
    assert_eq!(a.ack(12).await[0]["code"], json!("signed_in_elsewhere"));
    b.emit("user message", &[json!("B speaking")], Some(20)).await;
    assert_eq!(b.ack(20).await[0], Value::Null);
    assert_eq!(lines(&mut reader, Duration::from_millis(500)).await, [said("Ana", "B speaking")]);
    // The old token no longer resumes (A cannot take it back by itself).
    let (_, stale) = WireClient::resume(a_port, &token).await;
    assert_eq!(stale[0]["code"], json!("resume_invalid"));

    // B leaves; C claims the freed name; A's lines still go nowhere.
    b.close().await;
    let (mut c, _) = wait_for_claim(c_port, "Ana").await;
    a.emit("user message", &[json!("A as the new Ana")], Some(13)).await;
    assert_eq!(a.ack(13).await[0]["code"], json!("signed_in_elsewhere"));
    c.emit("user message", &[json!("C is Ana now")], Some(30)).await;
    assert_eq!(c.ack(30).await[0], Value::Null);
    assert_eq!(lines(&mut reader, Duration::from_millis(700)).await, [said("Ana", "C is Ana now")]);
    assert_eq!(
        history(&mut reader, 90).await,
        [said("Ana", "A before"), said("Ana", "B speaking"), said("Ana", "C is Ana now")],
        "nothing of A's after the takeover is stored"
    );
    // A may take another nickname.
    a.emit("nickname", &[json!("Anna")], Some(14)).await;
    assert_eq!(a.ack(14).await, vec![json!(false)]);
}

/// `n` instances clustered on `redis`.
fn instances(redis: &RedisServer, n: usize) -> Vec<ChatServer> {
    (0..n).map(|_| ChatServer::start_with(&[], &[("CHAT_REDIS_URL", redis.url().as_str())])).collect()
}

/// Claims `nick` as soon as it is free (a departure in a cluster takes a Redis round trip).
async fn wait_for_claim(port: u16, nick: &str) -> (WireClient, String) {
    for _ in 0..50 {
        let mut c = WireClient::connect(port).await;
        c.emit("nickname", &[json!(nick)], Some(1)).await;
        if c.ack(1).await == vec![json!(false)] {
            let token = c.event("session").await[0]["resume_token"].as_str().unwrap_or_default().to_owned();
            return (c, token);
        }
        c.close().await;
        // 10 s in all: a loaded machine (the whole suite at once) can take seconds to sweep.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{nick} never became free");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_over_connection_cannot_speak_as_the_nickname() {
    let server = ChatServer::start();
    let p = server.port;
    takeover_sequence([p, p, p, p]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_over_connection_cannot_speak_as_the_nickname_across_instances() {
    let redis = RedisServer::start();
    let servers = instances(&redis, 3);
    takeover_sequence([servers[0].port, servers[1].port, servers[2].port, servers[1].port]).await;
    // Two connections of one instance, one taking over from the other.
    let (mut first, token) = WireClient::join(servers[2].port, "Bo").await;
    let (_, ack) = WireClient::resume(servers[2].port, &token).await;
    assert_eq!(ack[0], Value::Null);
    assert_eq!(first.event("signed out").await[0]["code"], json!("signed_in_elsewhere"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_polling_connection_is_signed_out_too() {
    let server = ChatServer::start();
    let url = server.url();
    let mut reader = ChatClient::join(&url, "Reader").await;
    let mut a = ChatClient::connect_with(&url, TransportType::Polling).await;
    assert_eq!(a.nickname("Ana").await, vec![json!(false)]);
    let token = a.next("session").await[0]["resume_token"].as_str().expect("token").to_owned();
    let (_, ack) = WireClient::resume(server.port, &token).await;
    assert_eq!(ack[0], Value::Null);
    assert_eq!(a.next("signed out").await[0]["code"], json!("signed_in_elsewhere"));
    let refused = a.emit_ack("user message", vec![json!("from the old tab")]).await;
    assert_eq!(refused[0]["code"], json!("signed_in_elsewhere"), "{refused:?}");
    assert_eq!(reader.next_within("user message", Duration::from_millis(500)).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_later_holder_of_a_nickname_has_idempotency_keys_of_its_own() {
    let server = ChatServer::start();
    let (mut reader, _) = WireClient::join(server.port, "Reader").await;
    let (mut first, _) = WireClient::join(server.port, "Ana").await;
    first.emit("user message", &[json!("first Ana"), json!({"key": "k1"})], Some(1)).await;
    let first_id = first.ack(1).await[1]["id"].clone();
    first.close().await;
    let (mut later, _) = wait_for_claim(server.port, "Ana").await;
    later.emit("user message", &[json!("later Ana"), json!({"key": "k1"})], Some(2)).await;
    let later_id = later.ack(2).await[1]["id"].clone();
    assert_ne!(later_id, first_id, "the same key from a later holder is a new line");
    // A resend by the same holder is still one line.
    later.emit("user message", &[json!("later Ana"), json!({"key": "k1"})], Some(3)).await;
    assert_eq!(later.ack(3).await[1]["id"], later_id);
    let got: Vec<_> = lines(&mut reader, Duration::from_millis(500)).await;
    assert_eq!(got, [said("Ana", "first Ana"), said("Ana", "later Ana")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_tokens_are_stored_only_as_hashes() {
    let mut server = ChatServer::start();
    let (_ana, token) = WireClient::join(server.port, "Ana").await;
    // A graceful stop writes the reservations; the token must not be in the data dir.
    server.terminate();
    server.wait_exit(Duration::from_secs(15)).expect("stopped");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&server.data_dir).expect("data dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        if bytes.windows(token.len()).any(|w| w == token.as_bytes()) {
            found.push(path);
        }
    }
    assert_eq!(found, Vec::<std::path::PathBuf>::new(), "the plain token is stored nowhere");
    // ...and it still resumes after the restart (the hash is enough).
    server.restart();
    let (_, ack) = WireClient::resume(server.port, &token).await;
    assert_eq!(ack[1]["nickname"], json!("Ana"), "{ack:?}");
}

/// In a cluster a claim waits for Redis: a client that sends `nickname` and closes at once
/// must not leave the nickname held by nobody (its leave ran before it had one; the lease would
/// be renewed for as long as the instance runs). Every such nickname is free again at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_claim_that_outlives_its_connection_leaves_no_ghost_nickname_in_a_cluster() {
    let redis = RedisServer::start();
    // A close that raced the server's answer could end as a transport error (a drop, not a
    // leave: `WireClient::close` now waits for the close handshake, so it should not), and that
    // name is reserved for the grace period, which is not a ghost. A short grace keeps any such
    // out of the way; a ghost is held for as long as its instance runs.
    let env = [("CHAT_REDIS_URL", redis.url()), ("CHAT_RESUME_GRACE", "1".to_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let servers: Vec<ChatServer> = (0..2).map(|_| ChatServer::start_with(&[], &env)).collect();
    let names: Vec<String> = (0..20).map(|i| format!("Ghost{i}")).collect();
    for name in &names {
        let mut c = WireClient::connect(servers[0].port).await;
        c.emit("nickname", &[json!(name)], Some(1)).await;
        c.close().await;
    }
    // Each is free again: someone on the other instance gets it within a few seconds.
    for name in &names {
        let (taker, _) = wait_for_claim(servers[1].port, name).await;
        taker.close().await;
    }
}

/// `sqlite3 PATH SQL`: the answer, trimmed.
fn sqlite(path: &std::path::Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3").arg(path).arg(sql).output().expect("run sqlite3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A data dir from before tokens were hashed and look-alikes folded: its reservation (a plain
/// token, under the old key) still resumes, and is stored again the new way, once.
#[tokio::test(flavor = "multi_thread")]
async fn a_reservation_from_an_older_version_resumes_and_is_stored_again_hashed() {
    let dir = chat_tests::server::temp_dir("legacy");
    let db = dir.join("chat.sqlite3");
    sqlite(
        &db,
        "CREATE TABLE reservations (nickname_key TEXT PRIMARY KEY, nickname TEXT NOT NULL,
         token TEXT NOT NULL, expires_at INTEGER NOT NULL);
         INSERT INTO reservations VALUES ('kim', 'Kim', 'plain-legacy-token', 9223372036854775807);",
    );
    let data_dir = dir.to_string_lossy().into_owned();
    let mut server = ChatServer::start_with(&["--data-dir", &data_dir], &[("CHAT_RESUME_GRACE", "60")]);
    let (_kim, ack) = WireClient::resume(server.port, "plain-legacy-token").await;
    assert_eq!(ack[1]["nickname"], json!("Kim"), "{ack:?}");
    server.terminate();
    server.wait_exit(Duration::from_secs(15)).expect("stopped");
    let rows = sqlite(&db, "SELECT nickname_key, token, tenure IS NOT NULL FROM reservations");
    assert_eq!(rows.lines().count(), 1, "one row for Kim: {rows}");
    assert!(!rows.contains("plain-legacy-token") && !rows.starts_with("kim|"), "stored again: {rows}");
    assert!(rows.ends_with("|1"), "with its tenure: {rows}");
}
