//! Several `chat-server` instances on one real Redis (`CHAT_REDIS_URL`): users on different
//! instances chat with each other and share one history.

use std::time::Duration;

use chat_tests::redis::RedisServer;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

fn instance(redis: &RedisServer) -> ChatServer {
    ChatServer::start_with(&[], &[("CHAT_REDIS_URL", &redis.url())])
}

#[tokio::test(flavor = "multi_thread")]
async fn users_on_three_instances_chat_with_each_other_once() {
    let redis = RedisServer::start();
    let servers = [instance(&redis), instance(&redis), instance(&redis)];
    let (mut ana, _) = WireClient::join(servers[0].port, "Ana").await;
    let (mut bob, _) = WireClient::join(servers[1].port, "Bob").await;
    let (mut cy, _) = WireClient::join(servers[2].port, "Cy").await;
    // Each hears the others arrive, wherever they are.
    assert_eq!(
        ana.event("announcement").await,
        vec![json!("Bob connected"), json!({"kind": "connected", "nickname": "Bob"})]
    );
    assert_eq!(bob.event("announcement").await[0], json!("Cy connected"));

    ana.emit("user message", &[json!("hello from one")], Some(5)).await;
    let meta = ana.ack(5).await[1].clone();
    for reader in [&mut bob, &mut cy] {
        let got = reader.event("user message").await;
        assert_eq!(got, vec![json!("Ana"), json!("hello from one"), meta.clone()]);
    }
    cy.emit("user message", &[json!("and from three")], Some(6)).await;
    assert_eq!(ana.event("user message").await[..2], [json!("Cy"), json!("and from three")]);
    assert_eq!(bob.event("user message").await[..2], [json!("Cy"), json!("and from three")]);
    // Once each: nothing more arrives.
    for c in [&mut ana, &mut bob, &mut cy] {
        let more = user_messages(c, Duration::from_millis(500)).await;
        assert_eq!(more, Vec::<Value>::new());
    }
    // One history, one sequence of ids, whichever instance is asked.
    let pages =
        [ana.history(json!({}), 20).await, bob.history(json!({}), 20).await, cy.history(json!({}), 20).await];
    let lines: Vec<(Value, Value, Value)> = pages[1]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| (m["id"].clone(), m["from"].clone(), m["text"].clone()))
        .collect();
    assert_eq!(
        lines,
        [
            (meta["id"].clone(), json!("Ana"), json!("hello from one")),
            (json!(meta["id"].as_u64().map(|i| i + 1)), json!("Cy"), json!("and from three")),
        ]
    );
    assert_eq!(pages[0], pages[1]);
    assert_eq!(pages[2], pages[1]);
    let first = meta["id"].as_u64().expect("an id");
    let resumed = cy.history(json!({"after": first}), 21).await;
    assert_eq!(resumed["messages"][0]["text"], json!("and from three"));
}

async fn user_messages(c: &mut WireClient, within: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.recv_packet(left).await {
            Some(chat_tests::wire::Inbound::Event(name, args)) if name == "user message" => {
                got.push(json!(args))
            }
            Some(_) => {}
            None => return got,
        }
    }
}
