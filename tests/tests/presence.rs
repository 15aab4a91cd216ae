//! Who is online, by changes: a client that connects with `presence=changes` gets everyone's
//! names once (`online`, in parts) when it is named, then `presence` changes, and neither an
//! `announcement` per person nor the whole `nicknames` map again; a client without it still gets
//! what the original sent, in the same chat.

use std::time::Duration;

use chat_shared::protocol::ONLINE_PART_NAMES;
use chat_tests::wire::Inbound;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

/// Long enough for the nicknames task to send (it waits at most a few hundred ms here).
const SETTLE: Duration = Duration::from_millis(1_500);

/// Every event `c` receives within `within`, by name.
async fn events(c: &mut WireClient, within: Duration) -> Vec<(String, Vec<Value>)> {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.recv_packet(left).await {
            Some(Inbound::Event(name, args)) => got.push((name, args)),
            Some(_) => {}
            None => return got,
        }
    }
}

fn named<'a>(events: &'a [(String, Vec<Value>)], name: &str) -> Vec<&'a Vec<Value>> {
    events.iter().filter(|(n, _)| n == name).map(|(_, args)| args).collect()
}

/// Connects asking for changes and takes `nick`.
async fn join_for_changes(port: u16, nick: &str) -> WireClient {
    let mut c = WireClient::try_connect_for_changes(port).await.expect("namespace connect");
    c.emit("nickname", &[json!(nick)], Some(1)).await;
    assert_eq!(c.ack(1).await, vec![json!(false)], "{nick} accepted");
    c
}

/// The names in every `online` part among `events`, in order.
fn online_names(events: &[(String, Vec<Value>)]) -> Vec<String> {
    named(events, "online")
        .iter()
        .flat_map(|args| args[0].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_that_ask_for_changes_get_the_list_once_then_changes_and_the_others_what_the_original_sent() {
    let server = ChatServer::start();
    let mut ana = join_for_changes(server.port, "Ana").await;
    let got = events(&mut ana, SETTLE).await;
    assert_eq!(online_names(&got), ["Ana"], "the list once, with oneself: {got:?}");
    assert!(named(&got, "nicknames").is_empty(), "no map: {got:?}");

    let (mut cy, _) = WireClient::join(server.port, "Cy").await; // the original's way
    let mut bo = join_for_changes(server.port, "Bo").await;
    let got = events(&mut ana, SETTLE).await;
    let changes: Vec<Value> = named(&got, "presence").iter().map(|args| args[0].clone()).collect();
    let mut arrived: Vec<String> = changes
        .iter()
        .flat_map(|c| c["connected"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    arrived.sort();
    assert_eq!(arrived, ["Bo", "Cy"], "both arrivals, once each: {changes:?}");
    assert!(named(&got, "announcement").is_empty() && named(&got, "nicknames").is_empty(), "{got:?}");
    let got = events(&mut bo, SETTLE).await;
    assert_eq!(online_names(&got), ["Ana", "Bo", "Cy"]);

    // Cy (no query) gets an announcement and the whole map, as the original sent them.
    bo.close().await;
    let got = events(&mut cy, SETTLE).await;
    let texts: Vec<&Value> = named(&got, "announcement").iter().map(|args| &args[0]).collect();
    assert!(texts.contains(&&json!("Bo connected")) && texts.contains(&&json!("Bo disconnected")), "{got:?}");
    assert_eq!(
        named(&got, "nicknames").last().map(|args| args[0].clone()),
        Some(json!({"Ana": "Ana", "Cy": "Cy"}))
    );
    assert!(named(&got, "presence").is_empty() && named(&got, "online").is_empty(), "{got:?}");
    let got = events(&mut ana, SETTLE).await;
    let left: Vec<Value> = named(&got, "presence")
        .iter()
        .flat_map(|a| a[0]["disconnected"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(left, [json!("Bo")], "{got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_list_comes_in_parts_and_an_unnamed_client_gets_nothing_yet() {
    let server = ChatServer::start_with(&[], &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "0")]);
    let mut crowd = Vec::new();
    for i in 0..ONLINE_PART_NAMES + 10 {
        crowd.push(join_for_changes(server.port, &format!("p{i:03}")).await);
    }
    let mut watcher = WireClient::try_connect_for_changes(server.port).await.expect("connect");
    assert!(events(&mut watcher, SETTLE).await.is_empty(), "nothing before it is named");
    watcher.emit("nickname", &[json!("zed")], Some(1)).await;
    assert_eq!(watcher.ack(1).await, vec![json!(false)]);
    let got = events(&mut watcher, SETTLE).await;
    let parts = named(&got, "online");
    assert_eq!(parts.len(), 2, "{} names in parts of {ONLINE_PART_NAMES}", ONLINE_PART_NAMES + 11);
    let names = online_names(&got);
    assert_eq!(names.len(), ONLINE_PART_NAMES + 11);
    assert!(names.contains(&"zed".to_owned()) && names.contains(&"p000".to_owned()));
}
