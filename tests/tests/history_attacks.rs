//! Attacks on the history, performed against the real binary: `history` requests at the edges
//! of the id range and with numbers that are not ids, a flood of lines while the store is
//! stalled, and idempotency keys that would outlive their lines in Redis.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_shared::limits::{
    HISTORY_PAGE_MAX_BYTES, HISTORY_QUEUE_BYTES, HISTORY_QUEUE_LINE_OVERHEAD, STORE_BATCH_MAX,
};
use chat_tests::redis::RedisServer;
use chat_tests::server::{binary, free_port, temp_dir};
use chat_tests::wire::Inbound;
use chat_tests::{PATIENCE, WireClient};
use serde_json::{Value, json};

/// A `chat-server` whose log lines (stdout and stderr: a panic's message goes there) are kept,
/// so that a test can assert what was logged. Killed when dropped.
struct LoggedServer {
    child: Child,
    port: u16,
    data_dir: std::path::PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl LoggedServer {
    async fn start(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let data_dir = temp_dir("history-attacks");
        let mut cmd = Command::new(binary());
        cmd.env("PORT", port.to_string())
            .env("CHAT_BIND", "127.0.0.1")
            .env("CHAT_DATA_DIR", &data_dir)
            .env("CHAT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start chat-server");
        let log = Arc::new(Mutex::new(Vec::new()));
        let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().expect("stdout"));
        let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().expect("stderr"));
        for stream in [out, err] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().expect("log").push(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_err() {
            assert!(Instant::now() < deadline, "chat-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, port, data_dir, log }
    }

    /// The lines logged at ERROR or WARN, or about a panic.
    fn complaints(&self) -> Vec<String> {
        let log = self.log.lock().expect("log");
        log.iter()
            .filter(|l| l.contains("ERROR") || l.contains("WARN") || l.contains("panicked"))
            .cloned()
            .collect()
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn texts(page: &Value) -> Vec<String> {
    let lines = page["messages"].as_array().unwrap_or_else(|| panic!("a page: {page}"));
    lines.iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect()
}

/// Ana says three lines; then `history` at both ends of the id range answers an empty page or
/// the newest lines, never an error, and the connection keeps working. Returns the first id.
async fn edge_ids_answer_pages(port: u16) -> u64 {
    let (mut ana, _) = WireClient::join(port, "Ana").await;
    let mut first = None;
    for (i, text) in ["one", "two", "three"].into_iter().enumerate() {
        ana.emit("user message", &[json!(text)], Some(10 + i as u64)).await;
        let ack = ana.ack(10 + i as u64).await;
        first = first.or(ack[1]["id"].as_u64());
    }
    let first = first.expect("stored");
    let mut reader = WireClient::connect(port).await;
    let empty = json!({"messages": [], "gap": false, "more": false});
    assert_eq!(reader.history(json!({"before": 0}), 1).await, empty, "nothing is before the first id");
    assert_eq!(reader.history(json!({"after": u64::MAX}), 2).await, empty, "nothing after the largest");
    assert_eq!(reader.history(json!({"after": i64::MAX}), 3).await, empty);
    assert_eq!(reader.history(json!({"after": i64::MAX as u64 + 1}), 4).await, empty);
    assert_eq!(reader.history(json!({"after": u64::MAX, "before": 0}), 5).await, empty);
    let all = ["one", "two", "three"];
    assert_eq!(texts(&reader.history(json!({"before": u64::MAX}), 6).await), all, "all are before it");
    assert_eq!(texts(&reader.history(json!({"after": 0}), 7).await), all);
    assert_eq!(texts(&reader.history(json!({"after": first}), 8).await), ["two", "three"]);
    assert_eq!(texts(&reader.history(json!({"before": first}), 9).await), Vec::<String>::new());
    first
}

#[tokio::test(flavor = "multi_thread")]
async fn history_at_the_edges_of_the_id_range_answers_a_page_without_error_alone() {
    let server = LoggedServer::start(&[]).await;
    edge_ids_answer_pages(server.port).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.complaints(), Vec::<String>::new(), "nothing logged as an error, no panic");
}

#[tokio::test(flavor = "multi_thread")]
async fn history_at_the_edges_of_the_id_range_answers_a_page_without_error_in_a_cluster() {
    let redis = RedisServer::start();
    let server = LoggedServer::start(&[("CHAT_REDIS_URL", &redis.url())]).await;
    edge_ids_answer_pages(server.port).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.complaints(), Vec::<String>::new(), "nothing logged as an error, no panic");
}

/// The first argument of `history` as it goes on the wire, and how many of the three stored
/// lines it gets (None: refused `bad_payload`).
const REQUESTS: &[(&str, Option<usize>)] = &[
    (r#"{"after":-1}"#, None),
    (r#"{"before":-5}"#, None),
    (r#"{"after":1.5}"#, None),
    (r#"{"after":1.0}"#, None),
    (r#"{"after":"1"}"#, None),
    (r#"{"after":18446744073709551616}"#, None),
    (r#"{"before":1e30}"#, None),
    (r#"{"limit":-1}"#, None),
    (r#"{"limit":4294967296}"#, None),
    (r#"{"limit":2.0}"#, None),
    (r#"{"limit":"all"}"#, None),
    (r#""everything""#, None),
    (r#"null"#, None),
    (r#"[1,2,3,4]"#, None),
    (r#"{"after":null,"limit":null}"#, Some(3)),
    (r#"{"limit":0}"#, Some(1)),
    (r#"{"limit":4294967295}"#, Some(3)),
    (r#"{"after":0,"unknown":{"deep":[1,2,3]}}"#, Some(3)),
    // serde reads an array as the fields in order: `after` 1 (`before` ignored), `limit` 1.
    (r#"[1,2,1]"#, Some(1)),
];

#[tokio::test(flavor = "multi_thread")]
async fn history_requests_with_numbers_that_are_not_ids_are_refused_typed() {
    let server = LoggedServer::start(&[]).await;
    let (mut ana, _) = WireClient::join(server.port, "Ana").await;
    for i in 0..3 {
        ana.emit("user message", &[json!(format!("line {i}"))], Some(10 + i)).await;
        ana.ack(10 + i).await;
    }
    // A fresh connection every few requests: each has its own `history` rate (burst 10).
    for (n, chunk) in REQUESTS.chunks(5).enumerate() {
        let mut c = WireClient::connect(server.port).await;
        for (i, (request, lines)) in chunk.iter().enumerate() {
            let id = (n * 10 + i) as u64 + 1;
            c.send_raw(&format!(r#"42{id}["history",{request}]"#)).await;
            let ack = c.ack(id).await;
            match lines {
                None => {
                    assert_eq!(ack.len(), 1, "{request}: refused: {ack:?}");
                    assert_eq!(ack[0]["code"], json!("bad_payload"), "{request}: {ack:?}");
                }
                Some(lines) => {
                    assert_eq!(ack[0], Value::Null, "{request}: answered: {ack:?}");
                    assert_eq!(texts(&ack[1]).len(), *lines, "{request}: {ack:?}");
                }
            }
        }
    }
    // A `history` without an argument, and one without an ack.
    let mut c = WireClient::connect(server.port).await;
    c.send_raw(r#"421["history"]"#).await;
    assert_eq!(c.ack(1).await[0]["code"], json!("bad_payload"));
    c.send_raw(r#"42["history",{"after":-1}]"#).await;
    assert_eq!(c.event("chat error").await[0]["code"], json!("bad_payload"));
    // The server still answers, and logged nothing alarming.
    assert_eq!(texts(&c.history(json!({}), 2).await).len(), 3);
    assert_eq!(server.complaints(), Vec::<String>::new());
}

/// Holds SQLite's write lock on `path` from another process (as a backup tool or a slow disk
/// would stall the writer) until the returned child's stdin gets `COMMIT;`.
fn lock_database(path: &std::path::Path) -> Child {
    let mut child = Command::new("sqlite3")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sqlite3 (the sqlite3 command-line tool)");
    let stdin = child.stdin.as_mut().expect("stdin");
    stdin.write_all(b".timeout 5000\nBEGIN IMMEDIATE;\n.print locked\n").expect("write");
    stdin.flush().expect("flush");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "locked", "sqlite3 took the lock");
    child
}

/// One connection may send as fast as it likes: the writer's bound must hold by itself.
const UNLIMITED_SENDER: &[(&str, &str)] = &[
    ("CHAT_MESSAGE_BURST", "1000000"),
    ("CHAT_MESSAGES_PER_SECOND", "1000000"),
    ("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "0"),
];

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_while_the_store_is_stalled_is_refused_past_the_queue_and_costs_nothing_else() {
    let server = LoggedServer::start(UNLIMITED_SENDER).await;
    let port = server.port;
    let (mut flooder, _) = WireClient::join(port, "Flood").await;
    let mut lock = lock_database(&server.data_dir.join("chat.sqlite3"));
    let locked_at = Instant::now();

    // The largest lines (2,000 chars of 4 bytes). The queue holds `fit` of them; the writer
    // holds up to one batch (256) more, stalled; the rest are refused.
    let text = "😀".repeat(2_000);
    let cost = HISTORY_QUEUE_LINE_OVERHEAD + "Flood".len() + 8_000 + "k000000".len();
    let fit = (HISTORY_QUEUE_BYTES / cost) as u64;
    let sent = fit + 400;
    for id in 1..=sent {
        flooder.emit("user message", &[json!(text), json!({"key": format!("k{id:06}")})], Some(id)).await;
    }
    // The lines past the queue are refused at once, while the store is still stalled.
    let mut acks = std::collections::BTreeMap::new();
    let mut full = 0;
    while full < 100 {
        match flooder.recv_packet(PATIENCE).await {
            Some(Inbound::Ack(id, args)) => {
                if args[0]["code"] == json!("unavailable") && args[0]["limit"] == json!(HISTORY_QUEUE_BYTES) {
                    full += 1;
                }
                acks.insert(id, args);
            }
            Some(_) => {}
            None => panic!(
                "the flooder heard nothing more with {full} refused as full, {} answered: {:?}",
                acks.len(),
                acks.values().next()
            ),
        }
    }
    let refused_within = locked_at.elapsed();
    assert!(lock.try_wait().ok().flatten().is_none(), "the store was still stalled");
    // Meanwhile the server still answers what does not need the writer.
    let mut reader = WireClient::connect(port).await;
    assert_eq!(reader.history(json!({"limit": 1}), 1).await["messages"], json!([]));

    lock.stdin.as_mut().expect("stdin").write_all(b"COMMIT;\n.quit\n").expect("unlock");
    let _ = lock.wait();
    // Every line is answered once: stored (or, if the stall outlasted SQLite's busy timeout,
    // refused `unavailable`); the queue's refusals are exactly the lines past it.
    while (acks.len() as u64) < sent {
        match flooder.recv_packet(PATIENCE).await {
            Some(Inbound::Ack(id, args)) => assert!(acks.insert(id, args).is_none(), "one ack per line"),
            Some(_) => {}
            None => panic!("{} of {sent} lines answered", acks.len()),
        }
    }
    let stored = acks.values().filter(|a| a[0].is_null()).count();
    let refused_full = acks.values().filter(|a| a[0]["limit"] == json!(HISTORY_QUEUE_BYTES)).count();
    // Those past 32 MiB (each line's bytes include its key, scoped by the holder's tenure).
    assert!((100..=600).contains(&refused_full), "{refused_full} refused as full");
    println!("stall: {refused_full} refused as full within {refused_within:?}, {stored} stored of {sent}");

    // Afterwards everyone can post again, and the server is ready. (Someone who was connected
    // and read none of the ~33 MB of lines was closed as a slow reader, as ever.)
    let (mut honest, _) = WireClient::join(port, "Ana").await;
    honest.emit("user message", &[json!("after the stall")], Some(1)).await;
    assert_eq!(honest.ack(1).await[0], Value::Null);
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    assert!(server.complaints().iter().all(|l| !l.contains("panicked")));
}

/// `redis-cli` against `redis`.
fn redis_cli(redis: &RedisServer, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli (installed with redis-server)");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_idempotency_keys_go_with_the_lines_retention_drops() {
    let redis = RedisServer::start();
    let env = [
        ("CHAT_REDIS_URL", redis.url()),
        ("CHAT_HISTORY_MAX_MESSAGES", "5".to_owned()),
        ("CHAT_MESSAGE_BURST", "40".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = LoggedServer::start(&env).await;
    let (mut ana, _) = WireClient::join(first.port, "Ana").await;
    let mut ids = Vec::new();
    for i in 0..20u64 {
        ana.emit(
            "user message",
            &[json!(format!("line {i}")), json!({"key": format!("key-{i}")})],
            Some(i + 1),
        )
        .await;
        ids.push(ana.ack(i + 1).await[1]["id"].as_u64().expect("stored"));
    }
    assert_eq!(redis_cli(&redis, &["ZCARD", "chat:keys"]), "20", "one key per keyed line");
    assert_eq!(redis_cli(&redis, &["KEYS", "chat:key:*"]), "", "no key of its own per line");
    // Retention is applied at an instance's start, then once a minute: another instance's
    // start applies it now.
    let second = LoggedServer::start(&env).await;
    let (_bo, _) = WireClient::join(second.port, "Bo").await;
    let deadline = Instant::now() + PATIENCE;
    while redis_cli(&redis, &["XLEN", "chat:messages"]) != "5" {
        assert!(Instant::now() < deadline, "retention applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(redis_cli(&redis, &["ZCARD", "chat:keys"]), "5", "only the keys of the lines kept");
    let oldest_kept = redis_cli(&redis, &["ZRANGE", "chat:keys", "0", "0"]);
    // The nickname, then the key scoped by its holder's tenure ("<tenure>:key-15").
    assert!(oldest_kept.starts_with("Ana\n") && oldest_kept.ends_with(":key-15"), "{oldest_kept:?}");
    // A resend of a kept line is still recognised; the key of a dropped line is forgotten
    // with it (as in SQLite).
    ana.emit("user message", &[json!("line 19"), json!({"key": "key-19"})], Some(30)).await;
    let resent = ana.ack(30).await;
    assert_eq!(resent.get(1).and_then(|m| m["id"].as_u64()), Some(ids[19]), "{resent:?}");
    ana.emit("user message", &[json!("line 0"), json!({"key": "key-0"})], Some(31)).await;
    let again = ana.ack(31).await[1]["id"].as_u64().expect("stored");
    assert!(again > ids[19], "stored anew");
    assert!(first.complaints().is_empty() && second.complaints().is_empty());
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

#[tokio::test(flavor = "multi_thread")]
async fn history_pages_asked_for_and_never_read_cost_bounded_memory_alone() {
    pages_never_read_cost_bounded_memory(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn history_pages_asked_for_and_never_read_cost_bounded_memory_in_a_cluster() {
    let redis = RedisServer::start();
    pages_never_read_cost_bounded_memory(&[("CHAT_REDIS_URL", &redis.url())]).await;
}

/// 500 of the largest lines, then 10 connections that each ask for 10 pages of them and read
/// nothing: the server holds a few MB (each page is cut at HISTORY_PAGE_MAX_BYTES, and each
/// connection gets at most UNRECEIVED_ANSWERS_MAX without sending receipts back), where it
/// held 136 MiB with pages of ~4 MB.
async fn pages_never_read_cost_bounded_memory(env: &[(&str, &str)]) {
    let mut env = env.to_vec();
    env.extend([("CHAT_MESSAGE_BURST", "1000"), ("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "0")]);
    let server = LoggedServer::start(&env).await;
    let port = server.port;
    // 500 of the largest lines (2,000 chars of 4 bytes).
    let (mut ana, _) = WireClient::join(port, "Ana").await;
    let text = "😀".repeat(2_000);
    for id in 1..=500u64 {
        ana.emit("user message", &[json!(text)], Some(id)).await;
    }
    let acks = ana.acks(1..501).await;
    assert!(acks.values().all(|a| a[0].is_null()), "all stored");
    ana.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(server.child.id());

    // Connections that ask for the largest pages, as fast as allowed, and read nothing.
    let mut readers = Vec::new();
    for _ in 0..10 {
        let mut c = WireClient::connect(port).await;
        for id in 1..=10u64 {
            c.emit("history", &[json!({"limit": 500})], Some(id)).await;
        }
        readers.push(c);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let grown = rss_kib(server.child.id()).saturating_sub(before);
    println!(
        "100 pages asked for (80 sent) of the largest lines, never read: the server grew {} MiB",
        grown / 1024
    );
    assert!(grown < 64 * 1024, "the server grew {grown} KiB");

    // A reader still gets the lines, page by page (each within the limit), none twice or
    // skipped: `more` says ask again.
    let mut reader = WireClient::connect(port).await;
    let mut seen: Vec<u64> = Vec::new();
    for ack in 1..=5u64 {
        let after = seen.last().copied().unwrap_or(0);
        let page = reader.history(json!({"after": after, "limit": 500}), ack).await;
        assert!(page.to_string().len() <= HISTORY_PAGE_MAX_BYTES, "{} bytes", page.to_string().len());
        assert_eq!(page["more"], json!(true));
        seen.extend(page["messages"].as_array().expect("lines").iter().filter_map(|m| m["id"].as_u64()));
    }
    assert_eq!(seen, (1..=seen.len() as u64).collect::<Vec<u64>>());
    let newest = reader.history(json!({"limit": 500}), 6).await;
    let ids: Vec<u64> =
        newest["messages"].as_array().expect("lines").iter().filter_map(|m| m["id"].as_u64()).collect();
    assert_eq!(ids.last(), Some(&500), "the newest page ends at the newest line");
    assert!(ids.len() > 1 && newest["more"] == json!(true));
    drop(readers);
}

/// Redis stalls (frozen: connections open, no answers) while one connection floods: the
/// writer waits on its batch in flight (up to the Redis timeout), the queue holds what fits and
/// refuses the rest at once (`unavailable` with the queue's limit), and once Redis answers
/// again the held lines are stored; every line gets exactly one answer. (Redis *down* fails
/// fast instead: tests/tests/cluster.rs.) A kill used to stand for the outage here, but then
/// appends failed as fast as the flood arrived and whether the queue ever filled was a race.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_during_a_redis_stall_is_refused_past_the_queue_and_the_held_lines_are_stored_after() {
    let redis = RedisServer::start();
    let url = redis.url();
    let server = LoggedServer::start(&[UNLIMITED_SENDER, &[("CHAT_REDIS_URL", url.as_str())]].concat()).await;
    let port = server.port;
    let (mut flooder, _) = WireClient::join(port, "Flood").await;
    redis.pause();
    let paused_at = Instant::now();
    let text = "😀".repeat(2_000);
    let cost = HISTORY_QUEUE_LINE_OVERHEAD + "Flood".len() + 8_000 + "k000000".len();
    // What the queue holds, a batch in flight, and a margin for batches that time out while
    // the flood is still being read.
    let sent = (HISTORY_QUEUE_BYTES / cost + STORE_BATCH_MAX) as u64 + 1_000;
    for id in 1..=sent {
        flooder.emit("user message", &[json!(text), json!({"key": format!("k{id:06}")})], Some(id)).await;
    }
    let mut acks = std::collections::BTreeMap::new();
    let mut resumed_at = None;
    while (acks.len() as u64) < sent {
        match flooder.recv_packet(Duration::from_secs(30)).await {
            Some(Inbound::Ack(id, args)) => {
                let full = args[0]["limit"] == json!(HISTORY_QUEUE_BYTES);
                assert!(
                    resumed_at.is_some() || !args[0].is_null(),
                    "line {id} stored while Redis was frozen"
                );
                if full && resumed_at.is_none() {
                    resumed_at = Some(paused_at.elapsed());
                    redis.resume();
                }
                assert!(acks.insert(id, args).is_none(), "one ack per line");
            }
            Some(_) => {}
            None => panic!("{} of {sent} lines answered", acks.len()),
        }
    }
    let full = acks.values().filter(|a| a[0]["limit"] == json!(HISTORY_QUEUE_BYTES)).count();
    let stored = acks.values().filter(|a| a[0].is_null()).count();
    let timed_out = sent as usize - full - stored;
    println!(
        "Redis stalled: {sent} lines, {full} refused as full (the first after {resumed_at:?}, Redis resumed \
         then), {stored} stored after, {timed_out} timed out, all answered within {:?}",
        paused_at.elapsed()
    );
    assert!(full > 0, "the queue filled while Redis was silent");
    assert!(stored > 0, "the held lines are stored once Redis answers");
    assert!(
        acks.values().all(|a| a[0].is_null() || a[0]["code"] == json!("unavailable")),
        "each line stored or refused `unavailable`"
    );

    let (mut ana, _) = WireClient::join(port, "Ana").await;
    ana.emit("user message", &[json!("after the stall")], Some(1)).await;
    assert!(ana.ack(1).await[0].is_null(), "lines are stored as usual");
}

/// During a Redis outage every `history` request fails: they are answered `unavailable`, and
/// the log gets one error line per interval for all of them, not one per request.
#[tokio::test(flavor = "multi_thread")]
async fn failed_history_reads_during_an_outage_do_not_flood_the_log() {
    let mut redis = RedisServer::start();
    let server = LoggedServer::start(&[("CHAT_REDIS_URL", &redis.url())]).await;
    let (mut reader, _) = WireClient::join(server.port, "Reader").await;
    redis.stop();
    const ASKED: u64 = 6;
    for n in 0..ASKED {
        reader.emit("history", &[json!({"limit": 5})], Some(100 + n)).await;
    }
    // Each read waits for Redis's timeout: collect the answers, however slowly they come.
    let mut failed = 0;
    let deadline = Instant::now() + Duration::from_secs(90);
    while failed < ASKED && Instant::now() < deadline {
        if let Some(Inbound::Ack(_, args)) = reader.recv_packet(Duration::from_secs(5)).await {
            assert_eq!(args[0]["code"], json!("unavailable"), "{args:?}");
            failed += 1;
        }
    }
    assert_eq!(failed, ASKED, "every read answered");
    let errors = server.log.lock().expect("log").iter().filter(|l| l.contains("cannot read history")).count();
    assert_eq!(errors, 1, "one line for {ASKED} failed reads");
}

/// Pages are up to 64 KiB and the server holds what a client asked for until it reads it: all
/// the connections of one address share one history budget (ADDRESS_HISTORY_BURST, then 4/s),
/// so opening more connections does not multiply it; another address has its own.
#[tokio::test(flavor = "multi_thread")]
async fn history_requests_share_one_budget_per_address() {
    use chat_shared::limits::{ADDRESS_HISTORY_BURST, HISTORY_BURST, UNRECEIVED_ANSWERS_MAX};
    let server = chat_tests::ChatServer::start();
    let address = [127, 0, 0, 7];
    // Within its own burst and its unreceived answers (`acks` sends receipts back only after
    // every request is out).
    let per_connection = u64::from(HISTORY_BURST).min(UNRECEIVED_ANSWERS_MAX as u64);
    // Six connections' worth past the address's burst: ~10 s of its refill, far more than the
    // test takes.
    let connections = u64::from(ADDRESS_HISTORY_BURST) / per_connection + 6;
    let mut clients = Vec::new();
    for i in 0..connections {
        clients.push(WireClient::join_from(server.port, &format!("Pager{i}"), address).await.0);
    }
    // Each connection within its own limits; together past the address's.
    let mut answered = 0;
    for c in clients.iter_mut() {
        for n in 0..per_connection {
            c.emit("history", &[json!({"limit": 1})], Some(200 + n)).await;
        }
        // Refusals are answered at once, pages after their read: in any order.
        answered += c.acks(200..200 + per_connection).await.values().filter(|a| a[0].is_null()).count();
    }
    let (burst, asked) = (ADDRESS_HISTORY_BURST as usize, (connections * per_connection) as usize);
    assert!(
        answered >= burst && answered < asked - 20,
        "the address's burst (plus refill), not {asked}: {answered}"
    );
    let (mut other, _) = WireClient::join_from(server.port, "Elsewhere", [127, 0, 0, 8]).await;
    assert!(other.history(json!({"limit": 1}), 300).await["messages"].is_array(), "another address");
}

/// A flood in a room of one's own (nobody else reads it) cannot push `general`'s lines out of
/// the history: each history keeps its own `CHAT_HISTORY_MAX_MESSAGES` (before, the limit
/// counted every room's lines together, and 10,000 lines in a private room emptied the rest).
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_in_a_room_of_ones_own_leaves_the_other_histories_alone() {
    let env = [("CHAT_HISTORY_MAX_MESSAGES", "5"), ("CHAT_MESSAGE_BURST", "40")];
    let mut server = chat_tests::ChatServer::start_with(&[], &env);
    let (mut ana, _) = WireClient::join(server.port, "Ana").await;
    for i in 0..3u64 {
        ana.emit("user message", &[json!(format!("general {i}"))], Some(i + 1)).await;
        assert_eq!(ana.ack(i + 1).await[0], Value::Null);
    }
    let (mut mallory, _) = WireClient::join(server.port, "Mallory").await;
    mallory.emit("create room", &[json!({"name": "mine"})], Some(1)).await;
    assert_eq!(mallory.ack(1).await[0], Value::Null);
    for i in 0..12u64 {
        mallory
            .emit("room message", &[json!({"room": "mine", "text": format!("flood {i}")})], Some(i + 2))
            .await;
        assert_eq!(mallory.ack(i + 2).await[0], Value::Null);
    }
    // Retention is applied at start, then once a minute: a restart applies it now.
    server.restart();
    // (New names: the old ones stay reserved for their resume.)
    let (mut mallory, _) = WireClient::join(server.port, "Mallory2").await;
    let (mut ana, _) = WireClient::join(server.port, "Ana2").await;
    let deadline = Instant::now() + PATIENCE;
    let texts = |page: &[Value]| -> Vec<String> {
        let lines = page.get(1).and_then(|p| p["messages"].as_array().cloned()).unwrap_or_default();
        lines.iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect()
    };
    mallory.emit("join room", &[json!({"room": "mine"})], Some(1)).await;
    assert_eq!(mallory.ack(1).await[0], Value::Null);
    for id in 2.. {
        mallory.emit("history", &[json!({"room": "mine"})], Some(id)).await;
        if texts(&mallory.ack(id).await).len() == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "the room's history cut to 5");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ana.emit("history", &[json!({})], Some(1)).await;
    assert_eq!(texts(&ana.ack(1).await), ["general 0", "general 1", "general 2"], "general untouched");
}

/// In a cluster, retention visits every conversation in batches (one Redis call per hundred:
/// it used to be two per conversation, on the writer's thread) and forgets the conversations
/// whose every line aged out. 250 conversations (three batches) with an old line each, one with
/// a new line: after a start only the new one is left.
#[tokio::test(flavor = "multi_thread")]
async fn redis_retention_visits_every_conversation_and_forgets_the_emptied_ones() {
    let redis = RedisServer::start();
    let day_ms: u64 = 24 * 3600 * 1000;
    let mut conversations = vec![(1, 3 * day_ms); 250];
    conversations.push((1, 0));
    seed_conversations(&redis, &conversations);
    assert_eq!(redis_cli(&redis, &["SCARD", "chat:direct-threads"]), "251");
    let env = [("CHAT_REDIS_URL", redis.url()), ("CHAT_HISTORY_MAX_AGE_DAYS", "2".to_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _server = LoggedServer::start(&env).await;
    let deadline = Instant::now() + PATIENCE;
    while redis_cli(&redis, &["SCARD", "chat:direct-threads"]) != "1" {
        assert!(Instant::now() < deadline, "the emptied conversations forgotten");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(redis_cli(&redis, &["SMEMBERS", "chat:direct-threads"]), "@dm:t250");
    assert_eq!(redis_cli(&redis, &["EXISTS", "chat:room:@dm:t0:messages"]), "0", "its stream too");
    assert_eq!(redis_cli(&redis, &["XLEN", "chat:room:@dm:t250:messages"]), "1", "the new line stays");
}

/// Seeds Redis with direct conversations `@dm:t<i>` of `lines` lines each (one id sequence),
/// `age_ms` old, before a server starts.
fn seed_conversations(redis: &RedisServer, conversations: &[(u64, u64)]) {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let mut script = String::new();
    let mut id = 0;
    for (thread, &(lines, age_ms)) in conversations.iter().enumerate() {
        for _ in 0..lines {
            id += 1;
            let ts = now_ms - age_ms;
            script.push_str(&format!(
                "XADD chat:room:@dm:t{thread}:messages {id}-0 ts {ts} from Ana text hi\n"
            ));
        }
        script.push_str(&format!("SADD chat:direct-threads @dm:t{thread}\n"));
    }
    script.push_str(&format!("SET chat:next-id {id}\n"));
    let mut cli = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run redis-cli");
    cli.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write the commands");
    assert!(cli.wait().expect("redis-cli").success());
}

/// The length of conversation `@dm:t<thread>`'s stream.
fn conversation_len(redis: &RedisServer, thread: u32) -> u64 {
    redis_cli(redis, &["XLEN", &format!("chat:room:@dm:t{thread}:messages")])
        .trim()
        .parse()
        .expect("a length")
}

/// A server of the cluster on `redis`, with these settings besides.
async fn clustered(redis: &RedisServer, settings: &[(&str, &str)]) -> LoggedServer {
    let url = redis.url();
    let env: Vec<(&str, &str)> =
        std::iter::once(("CHAT_REDIS_URL", url.as_str())).chain(settings.iter().copied()).collect();
    LoggedServer::start(&env).await
}

/// Waits (up to `PATIENCE`) until conversation `@dm:t<thread>` holds `want` lines.
async fn until_len(redis: &RedisServer, thread: u32, want: u64, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    while conversation_len(redis, thread) != want {
        assert!(Instant::now() < deadline, "{what}: {}", conversation_len(redis, thread));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// In a cluster, `CHAT_HISTORY_MAX_TOTAL_MESSAGES` bounds every history together as it does
/// alone (it used to be left to Redis's `maxmemory`): the longest are cut first, all to one
/// level, the newest lines kept, and a short one keeps every line. Conversations of 300, 150
/// and 20 lines under a total of 300: the first two are cut to 140, the third stays whole.
#[tokio::test(flavor = "multi_thread")]
async fn redis_retention_cuts_the_longest_histories_to_the_total() {
    let redis = RedisServer::start();
    seed_conversations(&redis, &[(300, 0), (150, 0), (20, 0)]);
    let _server = clustered(&redis, &[("CHAT_HISTORY_MAX_TOTAL_MESSAGES", "300")]).await;
    until_len(&redis, 0, 140, "the longest history cut to the level").await;
    assert_eq!(conversation_len(&redis, 1), 140, "the next longest to the same level");
    assert_eq!(conversation_len(&redis, 2), 20, "the short one whole");
    let oldest = redis_cli(&redis, &["XRANGE", "chat:room:@dm:t0:messages", "-", "+", "COUNT", "1"]);
    assert!(oldest.starts_with("161-0"), "the newest 140 kept: {oldest}");
}

/// The total waits while lines past the age limit are left (one prune call drops at most
/// 10,000 of them): counted, they would lower the level and cut newer lines for good. 10,100
/// lines three days old beside 300 new ones, total 300, two days kept: the first prune drops
/// 10,000 old lines and leaves the 300 new ones alone (counting the 100 old ones left, the
/// level was 200).
#[tokio::test(flavor = "multi_thread")]
async fn redis_retention_applies_no_total_while_old_lines_are_left() {
    let redis = RedisServer::start();
    let day_ms = 24 * 3600 * 1000;
    seed_conversations(&redis, &[(10_100, 3 * day_ms), (300, 0)]);
    let settings = [
        ("CHAT_HISTORY_MAX_TOTAL_MESSAGES", "300"),
        ("CHAT_HISTORY_MAX_AGE_DAYS", "2"),
        // No per-history limit (it would cut the 10,100 to 10,000 first).
        ("CHAT_HISTORY_MAX_MESSAGES", "0"),
    ];
    let _server = clustered(&redis, &settings).await;
    until_len(&redis, 0, 100, "10,000 old lines dropped").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(conversation_len(&redis, 1), 300, "the new lines stay");
}

/// Many small histories cannot bring the total's level below `HISTORY_TOTAL_FLOOR`: a
/// total of 50 over conversations of 150 and 120 lines cuts each to the floor (100), not to 25.
#[tokio::test(flavor = "multi_thread")]
async fn redis_retention_cuts_no_history_below_the_floor() {
    assert_eq!(chat_shared::limits::HISTORY_TOTAL_FLOOR, 100, "the figures below");
    let redis = RedisServer::start();
    seed_conversations(&redis, &[(150, 0), (120, 0)]);
    let _server = clustered(&redis, &[("CHAT_HISTORY_MAX_TOTAL_MESSAGES", "50")]).await;
    until_len(&redis, 0, 100, "cut to the floor").await;
    assert_eq!(conversation_len(&redis, 1), 100);
}

/// A connection that asks for bulky answers (history pages, lists) and never sends their
/// receipts back gets at most UNRECEIVED_ANSWERS_MAX of them: the server's queue counts
/// packets, not bytes, and held up to 2,048 pages of 64 KiB (128 MiB) for a connection that
/// never read. The rest are refused at once, typed, until a receipt comes back; a made-up
/// receipt, or another connection's, frees nothing.
#[tokio::test(flavor = "multi_thread")]
async fn bulky_answers_stop_at_the_unreceived_limit_until_their_receipts_come_back() {
    use chat_shared::limits::{HISTORY_BURST, UNRECEIVED_ANSWERS_MAX};
    use chat_shared::protocol::Receipt;
    let server = LoggedServer::start(&[]).await;
    let (mut ana, _) = WireClient::join(server.port, "Ana").await;
    ana.emit("user message", &[json!("hello")], Some(2)).await;
    assert_eq!(ana.ack(2).await[0], Value::Null);

    let mut c = WireClient::connect(server.port).await;
    let asked = UNRECEIVED_ANSWERS_MAX as u64 + 2;
    assert!(asked <= u64::from(HISTORY_BURST), "within the history rate");
    // Pages, room lists and roles (answered from a task of its own) by turns: one budget for
    // every bulky answer.
    for id in 1..=asked {
        match id % 3 {
            0 => c.emit("rooms", &[], Some(id)).await,
            1 => c.emit("history", &[json!({})], Some(id)).await,
            _ => c.emit("roles", &[], Some(id)).await,
        }
    }
    let mut receipts = Vec::new();
    let mut refused = Vec::new();
    while receipts.len() + refused.len() < asked as usize {
        match c.recv_packet(PATIENCE).await {
            Some(Inbound::Ack(id, args)) => match Receipt::of_ack(&args) {
                Some(receipt) => {
                    assert_eq!(args[0], Value::Null, "answered: {args:?}");
                    receipts.push(receipt);
                }
                None => {
                    assert_eq!(args[0]["code"], json!("too_many_unreceived"), "{args:?}");
                    assert_eq!(args[0]["limit"], json!(UNRECEIVED_ANSWERS_MAX));
                    refused.push(id);
                }
            },
            Some(_) => {}
            None => panic!("{} of {asked} answered", receipts.len() + refused.len()),
        }
    }
    refused.sort_unstable();
    assert_eq!(refused, [asked - 1, asked], "the requests past the limit");
    assert_eq!(receipts.len(), UNRECEIVED_ANSWERS_MAX);

    // Another connection's receipt, a made-up one and a malformed one free nothing.
    let mut other = WireClient::connect(server.port).await;
    other.emit("history", &[json!({})], Some(1)).await;
    let theirs = Receipt::of_ack(&other.ack_unconfirmed(1).await).expect("a receipt");
    for (id, receipt) in [(20, json!(theirs.0)), (21, json!(12_345)), (22, json!("x")), (23, json!(-1))] {
        c.emit("received", &[receipt], Some(id)).await;
        assert_eq!(c.ack_unconfirmed(id).await[0]["code"], json!("bad_payload"));
    }
    c.emit("received", &[json!(receipts[0].0 + 1)], None).await;
    let refusal = c.event("chat error").await;
    assert_eq!((&refusal[0]["event"], &refusal[0]["code"]), (&json!("received"), &json!("bad_payload")));
    c.emit("history", &[json!({})], Some(30)).await;
    assert_eq!(c.ack_unconfirmed(30).await[0]["code"], json!("too_many_unreceived"));

    // One receipt back (twice: the second frees nothing): one more answer.
    c.emit("received", &[json!(receipts[0].0)], Some(31)).await;
    assert_eq!(c.ack_unconfirmed(31).await, [Value::Null, Value::Null]);
    c.emit("received", &[json!(receipts[0].0)], Some(32)).await;
    assert_eq!(c.ack_unconfirmed(32).await[0]["code"], json!("bad_payload"), "a receipt counts once");
    c.emit("history", &[json!({})], Some(33)).await;
    let page = c.ack_unconfirmed(33).await;
    assert_eq!(page[1]["messages"][0]["text"], json!("hello"));
    assert!(Receipt::of_ack(&page).is_some());
    c.emit("history", &[json!({})], Some(34)).await;
    assert_eq!(c.ack_unconfirmed(34).await[0]["code"], json!("too_many_unreceived"), "full again");
    // What is not bulky is not held back.
    c.emit("about", &[], Some(35)).await;
    assert_eq!(c.ack_unconfirmed(35).await[0], Value::Null);
    assert!(server.complaints().is_empty(), "{:?}", server.complaints());
}

/// A client that sends each receipt back keeps getting answers, over long-polling too (the
/// test client sends them back as the page does).
#[tokio::test(flavor = "multi_thread")]
async fn receipts_sent_back_over_long_polling_keep_the_answers_coming() {
    use chat_shared::limits::UNRECEIVED_ANSWERS_MAX;
    let server = chat_tests::ChatServer::start();
    let c =
        chat_tests::client::TestClient::connect_with(&server.url(), rust_socketio::TransportType::Polling)
            .await;
    for n in 0..=UNRECEIVED_ANSWERS_MAX {
        let ack = c.emit_ack("history", vec![json!({})]).await;
        assert_eq!(ack[0], Value::Null, "answer {n}: {ack:?}");
        assert!(chat_shared::protocol::Receipt::of_ack(&ack).is_some(), "answer {n} has a receipt: {ack:?}");
    }
}

/// A bulky request its handler refuses (here: a room that does not exist) frees its place at
/// once: nine refusals in a row leave room for a page.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_bulky_request_frees_its_place_among_the_unreceived() {
    use chat_shared::limits::{HISTORY_BURST, UNRECEIVED_ANSWERS_MAX};
    let server = chat_tests::ChatServer::start();
    let mut c = WireClient::connect(server.port).await;
    let refused = UNRECEIVED_ANSWERS_MAX as u64 + 1;
    assert!(refused < u64::from(HISTORY_BURST), "within the history rate");
    for id in 1..=refused {
        c.emit("history", &[json!({"room": "nowhere"})], Some(id)).await;
        assert_eq!(c.ack_unconfirmed(id).await[0]["code"], json!("room_not_found"));
    }
    c.emit("history", &[json!({})], Some(50)).await;
    let page = c.ack_unconfirmed(50).await;
    assert_eq!(page[0], Value::Null, "{page:?}");
    assert!(chat_shared::protocol::Receipt::of_ack(&page).is_some(), "{page:?}");
}
