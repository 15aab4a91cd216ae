//! `typing`: relayed to everyone else (never back to the typist), signed by the server, never
//! stored, refused without a nickname, rate-limited, and turned off for the others when the
//! typist drops.

use std::time::Duration;

use chat_shared::limits::TYPING_BURST;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

/// The `typing` notices `c` receives within `within`.
async fn typing_events(c: &mut WireClient, within: Duration) -> Vec<Value> {
    c.events_within("typing", within)
        .await
        .into_iter()
        .map(|args| args.first().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_reaches_the_others_only_and_stops_when_the_typist_drops() {
    let server = ChatServer::start();
    let (mut ana, _) = WireClient::join(server.port, "Ana").await;
    let (mut bob, _) = WireClient::join(server.port, "Bob").await;

    ana.emit("typing", &[json!(true)], Some(2)).await;
    assert_eq!(ana.ack(2).await[0], Value::Null, "acked");
    assert_eq!(bob.event("typing").await, vec![json!({"nickname": "Ana", "typing": true})]);
    ana.emit("typing", &[json!(false)], None).await;
    assert_eq!(bob.event("typing").await, vec![json!({"nickname": "Ana", "typing": false})]);
    assert_eq!(typing_events(&mut ana, Duration::from_millis(300)).await, Vec::<Value>::new(), "not echoed");

    // Not stored: history has no trace of it.
    let page = bob.history(json!({}), 3).await;
    assert_eq!(page["messages"], json!([]));

    // A typist who drops (the nickname is kept for its grace period) stops typing at once.
    ana.emit("typing", &[json!(true)], None).await;
    assert_eq!(bob.event("typing").await[0]["typing"], json!(true));
    ana.drop_abruptly();
    assert_eq!(bob.event("typing").await, vec![json!({"nickname": "Ana", "typing": false})]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_typing_notices_are_refused_and_floods_are_capped() {
    let server = ChatServer::start();
    let mut nobody = WireClient::connect(server.port).await;
    let (mut bob, _) = WireClient::join(server.port, "Bob").await;
    nobody.emit("typing", &[json!(true)], Some(1)).await;
    assert_eq!(nobody.ack(1).await[0]["code"], json!("not_named"));
    let (mut ana, _) = WireClient::join(server.port, "Ana").await;
    ana.emit("typing", &[json!("yes")], Some(2)).await;
    assert_eq!(ana.ack(2).await[0]["code"], json!("bad_payload"));

    // 50 notices at once: Bob hears about the burst's worth, the rest are dropped.
    for _ in 0..50 {
        ana.emit("typing", &[json!(true)], None).await;
    }
    let heard = typing_events(&mut bob, Duration::from_millis(800)).await;
    assert!(!heard.is_empty() && heard.len() <= TYPING_BURST as usize + 2, "{} relayed", heard.len());
    // Ana is still connected and can chat.
    ana.emit("user message", &[json!("still here")], Some(3)).await;
    assert_eq!(ana.ack(3).await[0], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_notices_share_one_budget_per_address() {
    let server = ChatServer::start();
    let (mut reader, _) = WireClient::join_from(server.port, "Reader", [127, 0, 0, 2]).await;
    let mut typists = Vec::new();
    for i in 0..8 {
        typists.push(WireClient::join_from(server.port, &format!("T{i}"), [127, 0, 0, 3]).await.0);
    }
    // 8 connections x 6 notices: each within its own burst, 48 in all from one address (28 past
    // its burst of 20: almost 3 s of its refill, far more than sending them takes).
    for typist in typists.iter_mut() {
        for n in 0..6 {
            typist.emit("typing", &[json!(n % 2 == 0)], None).await;
        }
    }
    let heard = typing_events(&mut reader, Duration::from_millis(800)).await.len();
    assert!((15..=35).contains(&heard), "the address's burst of 20 (plus refill), not 48: heard {heard}");
}
