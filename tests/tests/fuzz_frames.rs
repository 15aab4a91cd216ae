//! Thousands of random and malformed frames at the real server (WebSocket and long-polling),
//! then a check that it still serves well-behaved clients, and that a bystander saw nothing.

use std::time::Duration;

use chat_tests::wire::Inbound;
use chat_tests::{ChatServer, WireClient};
use serde_json::json;

/// A small deterministic generator (xorshift64*), so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const VALID: &[&str] = &[
    r#"42["nickname","fuzz"]"#,
    r#"421["user message","hello"]"#,
    r#"422["history",{"after":0}]"#,
    r#"423["resume","abc"]"#,
    r#"42["user message","x",{"key":"k"}]"#,
    "40",
    "41",
    "2",
    "3",
];
const PIECES: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    "\"",
    ",",
    ":",
    "\\",
    "null",
    "true",
    "-1",
    "1e999",
    "\u{0}",
    "\u{202E}",
    "👋",
    "/admin,",
    "4",
    "2",
    "9",
    "\"nickname\"",
    "\"user message\"",
    "[[[[[[[[",
    "}}}}",
    "\u{FFFF}",
];

fn frame(rng: &mut Rng) -> String {
    let base = rng.pick(VALID);
    match rng.below(4) {
        // Truncated somewhere (on a char boundary).
        0 => base.chars().take(rng.below(base.chars().count() + 1)).collect(),
        // A piece inserted somewhere.
        1 => {
            let mut chars: Vec<char> = base.chars().collect();
            let at = rng.below(chars.len() + 1);
            let piece: Vec<char> = rng.pick(PIECES).chars().collect();
            chars.splice(at..at, piece);
            chars.into_iter().collect()
        }
        // Pure noise.
        2 => (0..rng.below(40)).map(|_| rng.pick(PIECES)).collect(),
        // Random code points.
        _ => (0..rng.below(30)).filter_map(|_| char::from_u32(rng.next() as u32 % 0x11_0000)).collect(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_bad_frames_then_business_as_usual() {
    // Every bad frame that closes a connection is followed by a reconnect from 127.0.0.1:
    // hundreds a minute, which the per-address connect rate would rightly refuse. This test is
    // about frames, so per-address rules are off here (bad_input.rs tests those).
    let server = ChatServer::start_with(&[], &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "0")]);
    let (mut bystander, _) = WireClient::join(server.port, "Bystander").await;
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let frames = 3_000;
    let mut closed = 0;
    let mut c = WireClient::connect(server.port).await;
    c.emit("nickname", &[json!("Fuzzer")], Some(1)).await;
    for i in 0..frames {
        c.send_raw(&frame(&mut rng)).await;
        if i % 25 == 24 {
            // Drain what came back; a closed connection is replaced by a fresh one.
            if c.closed_within(Duration::from_millis(20)).await {
                closed += 1;
                c = WireClient::connect(server.port).await;
            }
        }
    }
    // Long-polling gets garbage too.
    let client = reqwest::Client::new();
    let base = format!("{}/socket.io/?EIO=4&transport=polling", server.url());
    for _ in 0..200 {
        let body = frame(&mut rng);
        let _ = client.post(format!("{base}&sid=nonexistent")).body(body.clone()).send().await;
        let _ = client.post(&base).body(body).send().await;
    }
    eprintln!("fuzz: {frames} frames, {closed} connections closed by the server");

    // Business as usual.
    let (mut a, _) = WireClient::join(server.port, "After").await;
    let (mut b, _) = WireClient::join(server.port, "Fuzz-survivor").await;
    a.emit("user message", &[json!("all good?")], Some(5)).await;
    assert_eq!(a.ack(5).await[0], serde_json::Value::Null);
    assert_eq!(b.event("user message").await[..2], [json!("After"), json!("all good?")]);
    // The bystander only ever saw well-formed chat events.
    while let Some(p) = bystander.recv_packet(Duration::from_millis(200)).await {
        match p {
            Inbound::Event(name, _) => {
                assert!(["announcement", "nicknames", "user message"].contains(&name.as_str()), "{name}")
            }
            other => panic!("the bystander got {other:?}"),
        }
    }
}
