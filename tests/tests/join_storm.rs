//! A join storm: 1,000 clients connect and set nicknames at once. Every one is accepted, and
//! every one ends with the complete `nicknames` map (the broadcasts are coalesced, so clients
//! need not see every intermediate map, but none may miss the final one or any ack).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chat_tests::wire::Inbound;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

const CLIENTS: usize = 1_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_clients_join_at_once() {
    // All clients come from 127.0.0.1: lift the per-address limit.
    let server = ChatServer::start_with(&[], &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "0")]);
    let port = server.port;
    let started = Instant::now();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut c = WireClient::connect(port).await;
                barrier.wait().await; // everybody connected: now all ask at once
                c.emit("nickname", &[json!(format!("user{i:04}"))], Some(1)).await;
                let mut acked = None;
                let mut announcements = 0usize;
                let deadline = Instant::now() + Duration::from_secs(90);
                while Instant::now() < deadline {
                    match c.recv_packet(Duration::from_secs(30)).await {
                        Some(Inbound::Ack(1, args)) => acked = Some(args),
                        Some(Inbound::Event(name, args)) if name == "nicknames" => {
                            let map: BTreeMap<String, Value> =
                                serde_json::from_value(args[0].clone()).unwrap_or_default();
                            if map.len() == CLIENTS && acked.is_some() {
                                return (acked, announcements, true, c);
                            }
                        }
                        Some(Inbound::Event(name, _)) if name == "announcement" => announcements += 1,
                        Some(_) => {}
                        None => break,
                    }
                }
                (acked, announcements, false, c)
            })
        })
        .collect();

    let mut accepted = 0;
    let mut complete = 0;
    let mut announcements = 0;
    let mut clients = Vec::new();
    for t in tasks {
        let (ack, heard, saw_all, c) = t.await.expect("client task");
        accepted += usize::from(ack == Some(vec![json!(false)]));
        complete += usize::from(saw_all);
        announcements += heard;
        clients.push(c);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "join storm: {CLIENTS} clients, {accepted} accepted, {complete} saw the full map, \
         {announcements} announcements received, in {elapsed:.2?}"
    );
    assert_eq!(accepted, CLIENTS, "every nickname accepted");
    assert_eq!(complete, CLIENTS, "every client ends with the full map");
}
