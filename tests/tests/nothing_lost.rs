//! Nothing lost: every accepted message is stored before it is acknowledged, survives a
//! `kill -9`, is resent by its client's outbox without being stored twice, and is resumed by a
//! client that dropped; a dropped user's nickname is held for the grace period.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chat_tests::wire::Inbound;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

fn texts(page: &Value) -> Vec<(u64, String, String)> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["id"].as_u64().unwrap(),
                m["from"].as_str().unwrap().to_owned(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_chat_loses_and_doubles_nothing() {
    let mut server = ChatServer::start();
    let port = server.port;
    const PER_CLIENT: u64 = 40;
    let names = ["Ann", "Ben", "Cat"];
    let mut clients = Vec::new();
    for name in names {
        clients.push(WireClient::join(port, name).await);
    }
    // Everyone sends at once, each line with its idempotency key; the server dies meanwhile.
    for (i, (c, _)) in clients.iter_mut().enumerate() {
        for n in 0..PER_CLIENT {
            let text = format!("{}-{n}", names[i]);
            c.emit("user message", &[json!(text), json!({"key": text})], Some(100 + n)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    server.kill_hard();

    // What each client saw acknowledged before the crash.
    let mut acked: Vec<BTreeMap<String, u64>> = Vec::new();
    for (i, (c, _)) in clients.iter_mut().enumerate() {
        let mut mine = BTreeMap::new();
        while let Some(p) = c.recv_packet(Duration::from_millis(300)).await {
            if let Inbound::Ack(id, args) = p
                && args.first() == Some(&Value::Null)
            {
                mine.insert(format!("{}-{}", names[i], id - 100), args[1]["id"].as_u64().unwrap());
            }
        }
        acked.push(mine);
    }

    server.restart();
    // Each client comes back, resumes its nickname, and its outbox resends what was not acked.
    let mut resumed = Vec::new();
    for (i, (_, token)) in clients.iter().enumerate() {
        let (mut c, ack) = WireClient::resume(port, token).await;
        assert_eq!(ack[0], Value::Null, "{} resumed: {ack:?}", names[i]);
        assert_eq!(ack[1]["nickname"], json!(names[i]));
        for n in 0..PER_CLIENT {
            let text = format!("{}-{n}", names[i]);
            if !acked[i].contains_key(&text) {
                c.emit("user message", &[json!(text), json!({"key": text})], Some(1000 + n)).await;
                let ack = c.ack(1000 + n).await;
                assert_eq!(ack[0], Value::Null, "resend of {text}: {ack:?}");
            }
        }
        resumed.push(c);
    }

    let mut histories = Vec::new();
    for c in resumed.iter_mut() {
        histories.push(texts(&c.history(json!({"after": 0, "limit": 500}), 5).await));
    }
    let history = &histories[0];
    assert!(histories.iter().all(|h| h == history), "every client has the same lines");
    let ids: Vec<u64> = history.iter().map(|(id, ..)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order");
    let all: BTreeSet<&str> = history.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(all.len(), history.len(), "no line twice");
    assert_eq!(history.len() as u64, PER_CLIENT * names.len() as u64, "every line once");
    for (i, name) in names.iter().enumerate() {
        let theirs: Vec<&(u64, String, String)> =
            history.iter().filter(|(_, from, _)| from == name).collect();
        let order: Vec<String> = theirs.iter().map(|(_, _, t)| t.clone()).collect();
        let expected: Vec<String> = (0..PER_CLIENT).map(|n| format!("{name}-{n}")).collect();
        assert_eq!(order, expected, "{name}'s lines in the order sent");
        for (text, id) in &acked[i] {
            let stored = theirs.iter().find(|(_, _, t)| t == text).map(|(id, ..)| *id);
            assert_eq!(stored, Some(*id), "acknowledged {text} kept its id");
        }
    }
    eprintln!(
        "kill -9: {} of {} lines were acknowledged before the crash; all {} stored once",
        acked.iter().map(BTreeMap::len).sum::<usize>(),
        history.len(),
        history.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_client_resumes_exactly_what_it_missed() {
    let server = ChatServer::start();
    let (mut ann, _) = WireClient::join(server.port, "Ann").await;
    let (mut ben, ben_token) = WireClient::join(server.port, "Ben").await;
    ann.emit("user message", &[json!("before")], Some(10)).await;
    let last_seen = ben.event("user message").await[2]["id"].as_u64().unwrap();
    ann.ack(10).await;

    ben.drop_abruptly();
    for n in 0..5 {
        ann.emit("user message", &[json!(format!("missed {n}"))], Some(20 + n)).await;
        ann.ack(20 + n).await;
    }
    let (mut ben, ack) = WireClient::resume(server.port, &ben_token).await;
    assert_eq!(ack[1]["nickname"], json!("Ben"));
    let page = ben.history(json!({"after": last_seen}), 2).await;
    let missed: Vec<String> = texts(&page).into_iter().map(|(_, _, t)| t).collect();
    assert_eq!(missed, (0..5).map(|n| format!("missed {n}")).collect::<Vec<_>>());
    assert_eq!(page["gap"], json!(false));
    // Ben was only away: nobody was told he left.
    let mut told = false;
    while let Some(p) = ann.recv_packet(Duration::from_millis(300)).await {
        told |= matches!(p, Inbound::Event(ref name, ref args) if name == "announcement" && args[0] == json!("Ben disconnected"));
    }
    assert!(!told, "a blip is not announced");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_nickname_is_held_for_the_grace_period() {
    let server = ChatServer::start_with(&[], &[("CHAT_RESUME_GRACE", "2")]);
    let (mut ann, _) = WireClient::join(server.port, "Ann").await;
    let (ben, _) = WireClient::join(server.port, "Ben").await;
    assert_eq!(ann.event("announcement").await[0], json!("Ben connected"));
    let dropped = std::time::Instant::now();
    ben.drop_abruptly();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut thief = WireClient::connect(server.port).await;
    thief.emit("nickname", &[json!("ben")], Some(1)).await;
    assert_eq!(thief.ack(1).await[1]["code"], json!("nickname_taken"), "held during the grace period");
    thief.emit("resume", &[json!("not-a-token")], Some(2)).await;
    assert_eq!(thief.ack(2).await[0]["code"], json!("resume_invalid"));

    let ann_heard = ann.event("announcement").await;
    assert_eq!(ann_heard[0], json!("Ben disconnected"), "announced when the grace period ends");
    assert!(dropped.elapsed() >= Duration::from_millis(1800), "not before: {:?}", dropped.elapsed());
    thief.emit("nickname", &[json!("ben")], Some(3)).await;
    assert_eq!(thief.ack(3).await, vec![json!(false)], "free after it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resent_message_is_stored_and_delivered_once() {
    let server = ChatServer::start();
    let (mut ann, _) = WireClient::join(server.port, "Ann").await;
    let (mut ben, _) = WireClient::join(server.port, "Ben").await;
    for attempt in 0..3 {
        ann.emit("user message", &[json!("only once"), json!({"key": "k-1"})], Some(10 + attempt)).await;
    }
    let ids: BTreeSet<u64> = ann.acks(10..13).await.values().map(|a| a[1]["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 1, "one id for every resend");
    ann.emit("user message", &[json!("next")], None).await;
    assert_eq!(ben.event("user message").await[1], json!("only once"));
    assert_eq!(ben.event("user message").await[1], json!("next"), "and not twice");
    let page = ben.history(json!({}), 3).await;
    assert_eq!(texts(&page).len(), 2);
}
