//! The original chat's event API, word for word, against the real binary with a real
//! socket.io client (rust_socketio): nickname, user message, announcement, nicknames.

use std::time::Duration;

use chat_tests::{ChatServer, TestClient};
use serde_json::{Value, json};

fn code(ack: &[Value]) -> &str {
    ack.get(1).and_then(|r| r["code"].as_str()).unwrap_or("<no reason>")
}

#[tokio::test(flavor = "multi_thread")]
async fn nickname_is_acked_announced_and_listed() {
    let server = ChatServer::start();
    let mut watcher = TestClient::connect(&server.url()).await; // no nickname yet
    let mut ana = TestClient::connect(&server.url()).await;

    assert_eq!(ana.nickname("Ana").await, vec![json!(false)]);
    ana.nicknames_become(&["Ana"]).await;
    // Every *other* socket, named or not, hears the announcement (text + structured detail).
    let ann = watcher.next("announcement").await;
    assert_eq!(ann[0], json!("Ana connected"));
    assert_eq!(ann[1], json!({"kind": "connected", "nickname": "Ana"}));
    watcher.nicknames_become(&["Ana"]).await;
    // ...but not the one who joined.
    assert!(ana.next_within("announcement", Duration::from_millis(300)).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn taken_and_invalid_nicknames_are_rejected_with_a_reason() {
    let server = ChatServer::start();
    let _ana = TestClient::join(&server.url(), "Ana").await;
    let bob = TestClient::connect(&server.url()).await;

    let cases = [
        ("Ana", "nickname_taken"),
        ("aNA", "nickname_taken"),
        ("\u{FF21}\u{FF4E}\u{FF41}", "nickname_taken"), // fullwidth "Ana"
        ("", "nickname_empty"),
        ("   ", "nickname_empty"),
        ("x".repeat(33).as_str(), "nickname_too_long"),
        ("bad\u{202E}name", "nickname_invalid_char"),
        ("zero\u{200B}width", "nickname_invalid_char"),
        ("tab\tname", "nickname_invalid_char"),
        ("System", "nickname_reserved"),
    ]
    .map(|(n, c)| (n.to_owned(), c));
    for (nick, want) in &cases {
        let ack = bob.nickname(nick).await;
        assert_eq!(ack[0], json!(true), "{nick:?} must be rejected");
        assert_eq!(code(&ack), *want, "{nick:?}");
        assert!(ack[1]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let ack = bob.nickname(&"x".repeat(40)).await;
    assert_eq!(ack[1]["limit"], json!(32));
    // Still free to pick a good one afterwards.
    assert_eq!(bob.nickname("Bob").await, vec![json!(false)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_keeps_its_first_nickname() {
    let server = ChatServer::start();
    let mut ana = TestClient::join(&server.url(), "Ana").await;
    let mut watcher = TestClient::connect(&server.url()).await;
    assert_eq!(ana.nickname(" ana ").await, vec![json!(false)], "asking again for one's own name is fine");
    let other = ana.nickname("Anabel").await;
    assert_eq!(code(&other), "already_named");
    assert!(watcher.next_within("announcement", Duration::from_millis(300)).await.is_none());
    ana.nicknames_become(&["Ana"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_reach_everyone_else_signed_by_the_server() {
    let server = ChatServer::start();
    let mut ana = TestClient::join(&server.url(), "Ana").await;
    let mut bob = TestClient::join(&server.url(), "Bob").await;
    let mut lurker = TestClient::connect(&server.url()).await;

    ana.say("hello <b>world</b>").await;
    assert_eq!(bob.next("user message").await[..2], vec![json!("Ana"), json!("hello <b>world</b>")]);
    assert_eq!(lurker.next("user message").await[..2], vec![json!("Ana"), json!("hello <b>world</b>")]);
    assert!(ana.next_within("user message", Duration::from_millis(300)).await.is_none(), "no echo");

    // A client cannot choose its `from`: extra arguments are ignored.
    ana.emit("user message", vec![json!("hi"), json!("Mallory")]).await;
    assert_eq!(bob.next("user message").await[..2], vec![json!("Ana"), json!("hi")]);

    // Unicode arrives intact; surrounding whitespace is trimmed.
    bob.say("  안녕하세요 👋 Hallo, wereld — één  ").await;
    assert_eq!(
        ana.next("user message").await[..2],
        vec![json!("Bob"), json!("안녕하세요 👋 Hallo, wereld — één")]
    );

    // New clients may ask for an ack: node-style [null, {id, ts}] once stored and delivered,
    // and the others get the same id and timestamp as a third argument.
    let ack = ana.emit_ack("user message", vec![json!("acked")]).await;
    assert_eq!(ack[0], Value::Null);
    let got = bob.next("user message").await;
    assert_eq!(got[..2], vec![json!("Ana"), json!("acked")]);
    assert_eq!(got[2], ack[1], "same id and timestamp");
    assert!(ack[1]["id"].as_u64().is_some() && ack[1]["ts"].as_i64().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_without_a_nickname_cannot_post() {
    let server = ChatServer::start();
    let mut ana = TestClient::join(&server.url(), "Ana").await;
    let mut anon = TestClient::connect(&server.url()).await;

    let ack = anon.emit_ack("user message", vec![json!("psst")]).await;
    assert_eq!(ack[0]["code"], json!("not_named"));
    // Without an ack, the refusal comes as a `chat error` event.
    anon.say("psst again").await;
    let err = anon.next("chat error").await;
    assert_eq!(err[0]["event"], json!("user message"));
    assert_eq!(err[0]["code"], json!("not_named"));
    assert!(ana.next_within("user message", Duration::from_millis(300)).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn leaving_is_announced_and_frees_the_nickname() {
    let server = ChatServer::start();
    let mut ana = TestClient::join(&server.url(), "Ana").await;
    let bob = TestClient::join(&server.url(), "Bob").await;
    ana.nicknames_become(&["Ana", "Bob"]).await;

    bob.disconnect().await;
    let ann = ana.next("announcement").await;
    assert_eq!(ann[0], json!("Bob disconnected"));
    assert_eq!(ann[1], json!({"kind": "disconnected", "nickname": "Bob"}));
    ana.nicknames_become(&["Ana"]).await;

    let again = TestClient::connect(&server.url()).await;
    assert_eq!(again.nickname("bob").await, vec![json!(false)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polling_clients_chat_with_websocket_clients() {
    let server = ChatServer::start();
    let mut ws = TestClient::join(&server.url(), "Web").await;
    let mut poll = TestClient::connect_with(&server.url(), rust_socketio::TransportType::Polling).await;
    assert_eq!(poll.nickname("Poll").await, vec![json!(false)]);
    ws.say("to polling").await;
    assert_eq!(poll.next("user message").await[..2], vec![json!("Web"), json!("to polling")]);
    poll.say("to websocket").await;
    assert_eq!(ws.next("user message").await[..2], vec![json!("Poll"), json!("to websocket")]);
}
