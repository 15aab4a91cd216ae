//! Bad input never hurts anyone else: wrong types, missing acks, odd and huge payloads,
//! deeply nested JSON, malformed frames and floods each get their defined outcome
//! (docs/protocol.md, "Bad input"), and the server keeps serving well-behaved clients.

use std::time::Duration;

use chat_shared::limits::{FLOOD_CLOSE_AFTER, MAX_PAYLOAD_BYTES, MESSAGE_BURST, MESSAGE_MAX_CHARS};
use chat_tests::wire::Inbound;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

/// Two fresh clients can still join and talk: the server is fine.
async fn still_serves(server: &ChatServer, tag: &str) {
    let mut a = WireClient::connect(server.port).await;
    let mut b = WireClient::connect(server.port).await;
    a.emit("nickname", &[json!(format!("{tag}-a"))], Some(1)).await;
    assert_eq!(a.ack(1).await, vec![json!(false)]);
    b.emit("nickname", &[json!(format!("{tag}-b"))], Some(1)).await;
    assert_eq!(b.ack(1).await, vec![json!(false)]);
    a.emit("user message", &[json!("still here?")], None).await;
    // Lines said just before b joined may reach it first (a flooder's, delivered once stored).
    let heard = loop {
        let line = b.event("user message").await;
        if line[0] == json!(format!("{tag}-a")) {
            break line;
        }
    };
    assert_eq!(heard[..2], vec![json!(format!("{tag}-a")), json!("still here?")]);
    a.close().await;
    b.close().await;
}

fn code(ack: &[Value], index: usize) -> String {
    ack.get(index).and_then(|e| e["code"].as_str()).unwrap_or("<none>").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_types_are_refused_as_bad_payload() {
    let server = ChatServer::start();
    let mut c = WireClient::connect(server.port).await;
    let odd = [json!(42), json!(null), json!({"nick": "Ana"}), json!(["Ana"]), json!(true)];
    for (i, value) in odd.iter().enumerate() {
        let id = i as u64 + 1;
        c.emit("nickname", std::slice::from_ref(value), Some(id)).await;
        let ack = c.ack(id).await;
        assert_eq!(ack[0], json!(true), "nickname {value}");
        assert_eq!(code(&ack, 1), "bad_payload", "nickname {value}");
    }
    c.emit("nickname", &[], Some(10)).await; // no argument at all
    assert_eq!(code(&c.ack(10).await, 1), "bad_payload");

    c.emit("nickname", &[json!("Ana")], Some(11)).await;
    assert_eq!(c.ack(11).await, vec![json!(false)]);
    for (i, value) in odd.iter().enumerate() {
        let id = 20 + i as u64;
        c.emit("user message", std::slice::from_ref(value), Some(id)).await;
        assert_eq!(code(&c.ack(id).await, 0), "bad_payload", "message {value}");
    }
    still_serves(&server, "types").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_an_ack_work_and_refusals_come_as_chat_error() {
    let server = ChatServer::start();
    let mut watcher = WireClient::connect(server.port).await;
    let mut c = WireClient::connect(server.port).await;
    // The original crashed on a `nickname` without a callback; here it simply works.
    c.emit("nickname", &[json!("NoAck")], None).await;
    assert_eq!(watcher.event("announcement").await[0], json!("NoAck connected"));
    c.emit("nickname", &[json!("")], None).await;
    let err = c.event("chat error").await;
    assert_eq!(err[0]["event"], json!("nickname"));
    assert_eq!(err[0]["code"], json!("nickname_empty"));
    c.emit("user message", &[json!(" ")], None).await;
    assert_eq!(c.event("chat error").await[0]["code"], json!("message_empty"));
    // Unknown events are ignored; the connection stays.
    c.emit("no such event", &[json!(1)], Some(5)).await;
    c.emit("user message", &[json!("after unknown")], None).await;
    assert_eq!(watcher.event("user message").await[..2], vec![json!("NoAck"), json!("after unknown")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_and_odd_text_is_refused_with_its_limit() {
    let server = ChatServer::start();
    let mut c = WireClient::connect(server.port).await;
    c.emit("nickname", &[json!("n".repeat(10_000))], Some(1)).await;
    let ack = c.ack(1).await;
    assert_eq!(code(&ack, 1), "nickname_too_long");
    c.emit("nickname", &[json!("Odd")], Some(2)).await;
    assert_eq!(c.ack(2).await, vec![json!(false)]);

    c.emit("user message", &[json!("m".repeat(MESSAGE_MAX_CHARS + 1))], Some(3)).await;
    let ack = c.ack(3).await;
    assert_eq!(code(&ack, 0), "message_too_long");
    assert_eq!(ack[0]["limit"], json!(MESSAGE_MAX_CHARS));
    c.emit("user message", &[json!("bell\u{7}")], Some(4)).await;
    assert_eq!(code(&c.ack(4).await, 0), "message_invalid_char");
    // The longest allowed message, in a 3-byte script, is delivered.
    c.emit("user message", &[json!("가".repeat(MESSAGE_MAX_CHARS))], Some(5)).await;
    let ack = c.ack(5).await;
    assert_eq!(ack[0], Value::Null);
    assert!(ack[1]["id"].as_u64().is_some());
    still_serves(&server, "odd").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_frame_closes_only_that_connection() {
    let server = ChatServer::start();
    let mut bystander = WireClient::connect(server.port).await;
    bystander.emit("nickname", &[json!("Bystander")], Some(1)).await;
    bystander.ack(1).await;

    let mut big = WireClient::connect(server.port).await;
    let huge = "x".repeat(MAX_PAYLOAD_BYTES as usize + 1);
    big.emit("user message", &[json!(huge)], Some(1)).await;
    assert!(big.closed_within(Duration::from_secs(5)).await, "oversized frame closes the connection");

    let mut other = WireClient::connect(server.port).await;
    other.emit("nickname", &[json!("Other")], Some(1)).await;
    other.ack(1).await;
    other.emit("user message", &[json!("fine")], None).await;
    assert_eq!(bystander.event("user message").await[..2], vec![json!("Other"), json!("fine")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_json_is_refused_without_harm() {
    let server = ChatServer::start();
    let depth = 10_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for event in ["nickname", "user message"] {
        let mut c = WireClient::connect(server.port).await;
        c.emit("nickname", &[json!(format!("deep {}", event.len()))], Some(1)).await;
        c.ack(1).await;
        c.send_raw(&format!("422[\"{event}\",{nested}]")).await;
        // A typed refusal (serde_json's recursion limit stops the parse early); never a crash.
        loop {
            match c.recv_packet(Duration::from_secs(5)).await {
                Some(Inbound::Ack(2, args)) => {
                    let refused = if event == "nickname" { code(&args, 1) } else { code(&args, 0) };
                    assert_eq!(refused, "bad_payload", "{event}");
                    break;
                }
                Some(Inbound::Event(..)) => continue,
                other => panic!("unexpected answer to nested {event}: {other:?}"),
            }
        }
    }
    still_serves(&server, "deep").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_frames_close_only_the_sender() {
    let server = ChatServer::start();
    let mut bystander = WireClient::connect(server.port).await;
    bystander.emit("nickname", &[json!("Calm")], Some(1)).await;
    bystander.ack(1).await;

    let frames = [
        "",
        "4",
        "42",
        "42[",
        "42garbage",
        "42[]",
        "42[1,2]",
        "42{\"a\":1}",
        "43",
        "43abc[",
        "49",
        "9",
        "x",
        "4\u{0}",
        "42[\"user message\"",
        "40/nope,",
        "41/nope,",
        "2probe",
        "6",
        "42999999999999999999999[\"nickname\",\"x\"]",
        "4-1[\"nickname\",\"x\"]",
    ];
    for frame in frames {
        let mut c = WireClient::connect(server.port).await;
        c.send_raw(frame).await;
        // Whatever happens to this connection, the server must survive it.
        let _ = c.recv_packet(Duration::from_millis(100)).await;
    }
    let mut c = WireClient::connect(server.port).await;
    c.send_binary(vec![0xff, 0x00, 0x42, 0x13]).await;
    let _ = c.recv_packet(Duration::from_millis(100)).await;

    still_serves(&server, "frames").await;
    // The bystander never noticed.
    let mut talker = WireClient::connect(server.port).await;
    talker.emit("nickname", &[json!("Talker")], Some(1)).await;
    talker.ack(1).await;
    talker.emit("user message", &[json!("hello calm")], None).await;
    loop {
        let args = bystander.event("user message").await;
        if args[0] == json!("Talker") {
            assert_eq!(args[1], json!("hello calm"));
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooder_is_rate_limited_and_others_keep_talking() {
    let server = ChatServer::start();
    let mut flooder = WireClient::connect(server.port).await;
    flooder.emit("nickname", &[json!("Flood")], Some(1)).await;
    flooder.ack(1).await;
    let mut reader = WireClient::connect(server.port).await;
    reader.emit("nickname", &[json!("Reader")], Some(1)).await;
    reader.ack(1).await;
    let mut friend = WireClient::connect(server.port).await;
    friend.emit("nickname", &[json!("Friend")], Some(1)).await;
    friend.ack(1).await;

    let sent = 200u64;
    for i in 0..sent {
        flooder.emit("user message", &[json!(format!("spam {i}"))], Some(100 + i)).await;
    }
    let mut delivered = 0;
    let mut limited = 0;
    for (_, ack) in flooder.acks(100..100 + sent).await {
        match ack.first() {
            Some(Value::Null) => delivered += 1,
            Some(e) if e["code"] == json!("rate_limited") => {
                assert!(e["limit"].as_u64().is_some_and(|s| s >= 1), "says how long to wait");
                limited += 1;
            }
            other => panic!("unexpected ack {other:?}"),
        }
    }
    assert_eq!(delivered + limited, sent);
    assert!(
        delivered >= MESSAGE_BURST as u64 && delivered < (MESSAGE_BURST as u64) + 10,
        "delivered {delivered}"
    );

    friend.emit("user message", &[json!("can you hear me?")], None).await;
    let mut spam_seen = 0;
    loop {
        let args = reader.event("user message").await;
        if args[0] == json!("Friend") {
            assert_eq!(args[1], json!("can you hear me?"));
            break;
        }
        spam_seen += 1;
    }
    assert_eq!(spam_seen, delivered, "the reader got exactly the accepted spam, then the friend");

    // Going on far past the limit gets the flooder closed; the others are unaffected. (Far
    // past: a token that refills meanwhile, on a busy machine, restarts the count.)
    for i in 0..(FLOOD_CLOSE_AFTER as u64 * 10) {
        flooder.emit("user message", &[json!(format!("more spam {i}"))], None).await;
    }
    assert!(flooder.closed_within(Duration::from_secs(10)).await, "a persistent flooder is disconnected");
    friend.emit("user message", &[json!("still here")], None).await;
    loop {
        let args = reader.event("user message").await;
        if args[0] == json!("Friend") {
            assert_eq!(args[1], json!("still here"));
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_are_limited_per_address_and_in_total() {
    let server = ChatServer::start_with(&[], &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "3")]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(WireClient::connect(server.port).await);
    }
    let refused = WireClient::try_connect(server.port).await.err().expect("a fourth is refused");
    assert!(refused.contains("too many connections from your address"), "{refused}");
    // The three are unharmed and one leaving makes room.
    held[0].emit("nickname", &[json!("Holder")], Some(1)).await;
    assert_eq!(held[0].ack(1).await, vec![json!(false)]);
    held.pop().expect("one").close().await;
    // One slot free again, and the address's connect rate (a burst of 3, then one a second)
    // allows one more after a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(WireClient::try_connect(server.port).await.is_ok(), "room again after one left");

    let full = ChatServer::start_with(&[], &[("CHAT_MAX_CONNECTIONS", "2")]);
    let _a = WireClient::connect(full.port).await;
    let _b = WireClient::connect(full.port).await;
    let refused = WireClient::try_connect(full.port).await.err().expect("a third is refused");
    assert!(refused.contains("the server is full"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nickname_claims_share_one_budget_per_address() {
    // Each new claim is announced to everyone (and so is the "forget me" that may follow): 30
    // connections from one address claim one name three times each (one gets it; the others'
    // claims are new claims, refused as taken), within their own bursts of 20 but 88 new claims
    // in all, where the address has a burst of 30 (its connection limit), then one a second.
    let server = ChatServer::start_with(&[], &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "30")]);
    let mut clients = Vec::new();
    for _ in 0..30 {
        clients.push(WireClient::try_connect_from(server.port, [127, 0, 0, 5]).await.expect("admitted"));
    }
    for c in clients.iter_mut() {
        for k in 0..3 {
            c.emit("nickname", &[json!("Same")], Some(k + 1)).await;
        }
    }
    let mut limited = 0;
    for c in clients.iter_mut() {
        for k in 0..3 {
            let ack = c.ack(k + 1).await;
            if ack.get(1).and_then(|e| e["code"].as_str()) == Some("rate_limited") {
                limited += 1;
            }
        }
    }
    assert!(limited >= 40, "the address's burst of 30 (plus refill), not 88: {limited} refused");
    // Another address has its own.
    let (_other, _) = WireClient::join_from(server.port, "Elsewhere", [127, 0, 0, 6]).await;
}

/// Round-trip times (ms) of `n` lines from `a` to `b`, one at a time.
async fn round_trips(a: &mut WireClient, b: &mut WireClient, n: u64, tag: &str) -> Vec<f64> {
    let mut times = Vec::new();
    for i in 0..n {
        let text = format!("{tag} {i}");
        let sent = std::time::Instant::now();
        a.emit("user message", &[json!(text)], None).await;
        loop {
            let args = b.event("user message").await;
            if args[1] == json!(text) {
                break;
            }
        }
        times.push(sent.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(250)).await; // within the rate limit
    }
    times.sort_by(f64::total_cmp);
    times
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_does_not_slow_down_the_others() {
    let server = ChatServer::start();
    let (mut a, _) = WireClient::join(server.port, "Quiet-a").await;
    let (mut b, _) = WireClient::join(server.port, "Quiet-b").await;
    let quiet = round_trips(&mut a, &mut b, 12, "quiet").await;

    let port = server.port;
    let flood = tokio::spawn(async move {
        let (mut f, _) = WireClient::join(port, "Flooder").await;
        let until = std::time::Instant::now() + Duration::from_secs(4);
        let mut n = 0u64;
        while std::time::Instant::now() < until {
            f.emit("user message", &[json!("spam")], Some(n)).await;
            f.emit("nickname", &[json!("x")], Some(n + 1)).await;
            f.send_raw("42[\"history\",{}]").await;
            n += 2;
        }
        n
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = round_trips(&mut a, &mut b, 12, "busy").await;
    let flooded = flood.await.expect("flooder");
    let p = |v: &[f64]| v[v.len() * 99 / 100];
    eprintln!(
        "flood: {flooded} requests; quiet p99 {:.1} ms, during the flood p99 {:.1} ms",
        p(&quiet),
        p(&busy)
    );
    // Loose on purpose (CI machines are noisy): the benchmark holds the strict figure.
    assert!(p(&busy) < 500.0, "others' latency during a flood: {busy:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_reader_is_closed_and_everyone_else_carries_on() {
    use chat_shared::limits::MAX_BUFFERED_PACKETS;
    let server = ChatServer::start_with(
        &["--message-burst", "100000", "--messages-per-second", "100000"],
        &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "0")],
    );
    let port = server.port;
    // Sloth never reads again: the kernel's buffers fill, then its queue on the server.
    let (sloth, _) = WireClient::join(port, "Sloth").await;
    let (mut talker, _) = WireClient::join(port, "Talker").await;
    let (mut ear, _) = WireClient::join(port, "Ear").await;
    // 8 KB lines: twice what the socket buffers and the queue together hold.
    let line = "😀".repeat(MESSAGE_MAX_CHARS);
    let lines = (MAX_BUFFERED_PACKETS * 2) as u64;
    let heard = tokio::spawn(async move {
        let mut heard = 0u64;
        while heard < lines {
            match ear.recv_packet(Duration::from_secs(20)).await {
                Some(Inbound::Event(name, _)) if name == "user message" => heard += 1,
                Some(_) => {}
                None => break,
            }
        }
        heard
    });
    const WINDOW: u64 = 128;
    let mut next = 100u64;
    while next < 100 + lines {
        let batch = next..(next + WINDOW).min(100 + lines);
        for id in batch.clone() {
            talker.emit("user message", &[json!(line)], Some(id)).await;
        }
        let acks = talker.acks(batch.clone()).await;
        assert!(acks.values().all(|a| a[0].is_null()), "every line stored and delivered: {acks:?}");
        next = batch.end;
    }
    assert_eq!(heard.await.unwrap(), lines, "a reader that keeps up gets every line");
    let metrics =
        || async { reqwest::get(format!("{}/metrics", server.url())).await.unwrap().text().await.unwrap() };
    let now = metrics().await;
    assert!(now.contains("chat_queue_full_total 1"), "the full queue was seen, once: {now}");
    // Its close packet waits behind its full queue; a reader that stays silent misses its
    // heartbeat (ping every 25 s, 20 s to answer) and is gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !metrics().await.contains("chat_connections{transport=\"websocket\"} 2") {
        assert!(std::time::Instant::now() < deadline, "the slow reader was closed within its heartbeat");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    still_serves(&server, "after-sloth").await;
    drop(sloth);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooders_address_is_refused_for_a_while_and_others_carry_on() {
    use chat_shared::limits::FLOOD_PENALTY;
    let server = ChatServer::start();
    // The attacker comes from 127.0.0.2; everyone else from 127.0.0.1.
    let attacker = [127, 0, 0, 2];
    let mut flooder = WireClient::try_connect_from(server.port, attacker).await.expect("admitted");
    flooder.emit("nickname", &[json!("Flood")], Some(1)).await;
    flooder.ack(1).await;
    for i in 0..(FLOOD_CLOSE_AFTER as u64 * 10) {
        flooder.emit("user message", &[json!(format!("spam {i}"))], None).await;
    }
    assert!(flooder.closed_within(Duration::from_secs(10)).await, "the flooder is disconnected");
    let refused = WireClient::try_connect_from(server.port, attacker).await.err().expect("refused");
    assert!(refused.contains("your address flooded the chat"), "{refused}");
    still_serves(&server, "others").await;
    let metrics = reqwest::get(format!("{}/metrics", server.url())).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chat_flood_closes_total 1"), "{metrics}");
    assert!(metrics.contains("chat_connections_refused_total{reason=\"flood_penalty\"} 1"), "{metrics}");
    assert!(FLOOD_PENALTY >= Duration::from_secs(10), "long enough to make flooding pointless");
}

#[tokio::test(flavor = "multi_thread")]
async fn many_connections_from_one_address_share_one_message_budget() {
    use chat_shared::limits::ADDRESS_MESSAGE_BURST;
    let server = ChatServer::start();
    let from = [127, 0, 0, 3];
    const CONNECTIONS: u64 = 10;
    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let mut c = WireClient::try_connect_from(server.port, from).await.expect("admitted");
        c.emit("nickname", &[json!(format!("many{i}"))], Some(1)).await;
        assert_eq!(c.ack(1).await, vec![json!(false)]);
        clients.push(c);
    }
    // Each connection stays within its own burst (20): alone, each line would be accepted.
    let per_connection = MESSAGE_BURST as u64 / 2;
    for c in &mut clients {
        for n in 0..per_connection {
            c.emit("user message", &[json!(format!("line {n}"))], Some(100 + n)).await;
        }
    }
    let mut accepted = 0;
    for c in &mut clients {
        accepted += c.acks(100..100 + per_connection).await.values().filter(|a| a[0].is_null()).count();
    }
    let budget = ADDRESS_MESSAGE_BURST as usize;
    assert!(
        accepted >= budget && accepted < budget + 20,
        "{accepted} accepted of {}",
        CONNECTIONS * per_connection
    );
    still_serves(&server, "elsewhere").await;
}

/// A client that does not read holds one `nicknames` map, the newest, not one per change: a
/// map supersedes the one before (whole maps of 1,000 names are ~22 KB, and 2,048 of them
/// queued per connection made ~45 MB). Long-polling makes "not reading" exact: nothing is
/// written until the next GET.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_does_not_read_holds_only_the_newest_nicknames_map() {
    let server = ChatServer::start();
    let http = reqwest::Client::new();
    let base = format!("{}/socket.io/?EIO=4&transport=polling", server.url());
    let open = http.get(&base).send().await.expect("handshake").text().await.expect("a body");
    let open: Value = serde_json::from_str(open.trim_start_matches('0')).expect("an open packet");
    let polling = format!("{base}&sid={}", open["sid"].as_str().expect("a sid"));
    http.post(&polling).body("40").send().await.expect("connect");
    let connected = http.get(&polling).send().await.expect("poll").text().await.expect("a body");
    // (A ping may come first: packets are separated by U+001E.)
    assert!(connected.split('\u{1e}').any(|p| p.starts_with("40")), "{connected}");
    // Names come and go while it does not poll: a map goes out after each change.
    let (_ana, _) = WireClient::join(server.port, "Ana").await;
    for i in 0..6 {
        let (c, _) = WireClient::join(server.port, &format!("Guest{i}")).await;
        c.close().await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (_bo, _) = WireClient::join(server.port, "Bo").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = http.get(&polling).send().await.expect("poll").text().await.expect("a body");
    let maps: Vec<&str> = waiting.split('\u{1e}').filter(|p| p.starts_with("42[\"nicknames\"")).collect();
    assert_eq!(maps.len(), 1, "only the newest map: {waiting}");
    assert!(
        maps[0].contains("\"Ana\"") && maps[0].contains("\"Bo\"") && !maps[0].contains("Guest"),
        "{}",
        maps[0]
    );
    let announced = waiting.split('\u{1e}').filter(|p| p.starts_with("42[\"announcement\"")).count();
    assert!(announced > 0, "the announcements are still queued: {waiting}");
}
