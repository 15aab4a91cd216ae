//! Direct messages between owned nicknames: delivered live to the addressee only, stored, and
//! read back (`history` with `with`, `conversations`) by the two owners only — not by a third
//! client, an ephemeral nickname, a forged history key, or whoever owns one of the names later;
//! waiting for the next visit, through a `kill -9` and restart, and across the instances of a
//! cluster with one of them killed.

use std::time::Duration;

use chat_tests::redis::RedisServer;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

use WireClient as W;

async fn own(port: u16, nick: &str, options: Value) -> (WireClient, String) {
    W::own(port, nick, options).await
}

async fn ask(c: &mut WireClient, event: &str, args: &[Value], id: u64) -> Vec<Value> {
    c.emit(event, args, Some(id)).await;
    c.ack(id).await
}

async fn dm(c: &mut WireClient, to: &str, text: &str, key: &str, id: u64) -> Vec<Value> {
    ask(c, "direct message", &[json!({"to": to, "text": text, "key": key})], id).await
}

fn code(ack: &[Value]) -> &str {
    ack[0]["code"].as_str().unwrap_or("?")
}

fn texts(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn silent(c: &mut WireClient, who: &str) {
    let heard = c.events_within("direct message", Duration::from_millis(400)).await;
    assert!(heard.is_empty(), "{who} heard {heard:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_messages_are_the_two_owners_only() {
    let mut server = ChatServer::start();
    let port = server.port;
    let (mut ana, ana_secret) = own(port, "Ana", json!({"own": true})).await;
    let (mut bo, bo_secret) = own(port, "Bo", json!({"own": true})).await;
    let (mut cy, _) = own(port, "Cy", json!({"own": true})).await;
    let (mut dee, _) = WireClient::join(port, "Dee").await;

    let said = dm(&mut ana, "bo", "hi bo", "k1", 2).await;
    assert_eq!(said[0], Value::Null, "{said:?}");
    let heard = bo.event("direct message").await;
    assert_eq!(heard[0]["from"], json!("Ana"));
    assert_eq!((heard[0]["to"].clone(), heard[0]["text"].clone()), (json!("Bo"), json!("hi bo")));
    assert_eq!(heard[0]["id"], said[1]["id"]);
    // A resend with its key is the same line, delivered once.
    assert_eq!(dm(&mut ana, "Bo", "hi bo", "k1", 3).await[1]["id"], said[1]["id"]);
    silent(&mut bo, "Bo, a resend").await;
    silent(&mut cy, "Cy").await;
    silent(&mut dee, "Dee").await;

    // Only owned nicknames, and never oneself.
    assert_eq!(code(&dm(&mut dee, "Bo", "psst", "d1", 2).await), "owner_only");
    assert_eq!(code(&dm(&mut ana, "Dee", "psst", "a1", 4).await), "no_such_owner");
    assert_eq!(code(&dm(&mut ana, "Ana", "me", "a2", 5).await), "no_such_owner");
    assert_eq!(code(&dm(&mut ana, "Nobody", "?", "a3", 6).await), "no_such_owner");
    assert_eq!(code(&dm(&mut ana, "Bo", "", "a4", 7).await), "message_empty");
    assert_eq!(code(&ask(&mut ana, "direct message", &[json!({"text": "no one"})], 8).await), "bad_payload");

    // Reading: the two owners, nobody else, by no other way.
    assert_eq!(texts(&bo.history(json!({"with": "Ana"}), 9).await), ["hi bo"]);
    assert_eq!(texts(&ana.history(json!({"with": "BO"}), 9).await), ["hi bo"]);
    assert_eq!(texts(&cy.history(json!({"with": "Ana"}), 9).await), Vec::<String>::new(), "Cy's own, empty");
    assert_eq!(texts(&cy.history(json!({"with": "Bo"}), 10).await), Vec::<String>::new());
    assert_eq!(code(&ask(&mut dee, "history", &[json!({"with": "Bo"})], 9).await), "owner_only");
    for forged in [json!({"room": "@dm:0123"}), json!({"room": "owner:abc"})] {
        assert_eq!(
            code(&ask(&mut cy, "history", std::slice::from_ref(&forged), 11).await),
            "room_name_invalid",
            "{forged}"
        );
    }
    let both = json!({"with": "Ana", "room": "general"});
    assert_eq!(code(&ask(&mut cy, "history", &[both], 12).await), "bad_payload");
    assert!(!texts(&cy.history(json!({}), 13).await).contains(&"hi bo".to_owned()), "not in general");
    let listed = ask(&mut ana, "conversations", &[], 10).await;
    assert_eq!(listed[1], json!([{"with": "Bo", "last_id": said[1]["id"], "last_ts": said[1]["ts"]}]));
    assert_eq!(ask(&mut cy, "conversations", &[], 14).await[1], json!([]));
    assert_eq!(code(&ask(&mut dee, "conversations", &[], 10).await), "owner_only");

    // Bo's second tab takes over: the first no longer hears Bo's messages.
    let (mut bo_tab, _) = own(port, "Bo", json!({"owner": bo_secret})).await;
    bo.event("signed out").await;
    assert_eq!(dm(&mut ana, "Bo", "which tab?", "k2", 11).await[0], Value::Null);
    assert_eq!(bo_tab.event("direct message").await[0]["text"], json!("which tab?"));
    silent(&mut bo, "Bo's signed-out tab").await;

    // Bo is away; a line waits for the next visit, through a crash and a restart.
    bo_tab.close().await;
    let waiting = dm(&mut ana, "Bo", "while you were away", "k3", 12).await;
    assert_eq!(waiting[0], Value::Null, "{waiting:?}");
    ana.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill_hard();
    server.restart();
    let (mut bo, _) = own(server.port, "Bo", json!({"owner": bo_secret})).await;
    let listed = ask(&mut bo, "conversations", &[], 2).await;
    assert_eq!(listed[1], json!([{"with": "Ana", "last_id": waiting[1]["id"], "last_ts": waiting[1]["ts"]}]));
    assert_eq!(
        texts(&bo.history(json!({"with": "Ana"}), 3).await),
        ["hi bo", "which tab?", "while you were away"]
    );

    // Bo forgets the name; whoever owns "Bo" next has no part of those messages.
    assert_eq!(ask(&mut bo, "forget me", &[], 4).await[0], Value::Null);
    bo.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut new_bo, _) = own(server.port, "Bo", json!({"own": true})).await;
    assert_eq!(ask(&mut new_bo, "conversations", &[], 2).await[1], json!([]));
    assert_eq!(texts(&new_bo.history(json!({"with": "Ana"}), 3).await), Vec::<String>::new());
    let (mut ana, _) = own(server.port, "Ana", json!({"owner": ana_secret})).await;
    assert_eq!(ask(&mut ana, "conversations", &[], 2).await[1], json!([]), "that Bo is gone");
    assert_eq!(texts(&ana.history(json!({"with": "Bo"}), 3).await), Vec::<String>::new());
    // A resend of a line to the old Bo (its ack was lost) is that line: the new Bo gets nothing.
    let resent = dm(&mut ana, "Bo", "while you were away", "k3", 4).await;
    assert_eq!(resent[1]["id"], waiting[1]["id"], "{resent:?}");
    silent(&mut new_bo, "the new owner of Bo").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_messages_work_across_instances_and_survive_the_loss_of_one() {
    let redis = RedisServer::start();
    let mut servers: Vec<ChatServer> =
        (0..3).map(|_| ChatServer::start_with(&[], &[("CHAT_REDIS_URL", redis.url().as_str())])).collect();
    let (mut ana, ana_secret) = own(servers[0].port, "Ana", json!({"own": true})).await;
    let (mut bo, _) = own(servers[1].port, "Bo", json!({"own": true})).await;
    let (mut cy, _) = own(servers[2].port, "Cy", json!({"own": true})).await;
    let (mut dee, _) = WireClient::join(servers[1].port, "Dee").await;

    let said = dm(&mut ana, "Bo", "across", "k1", 2).await;
    assert_eq!(said[0], Value::Null, "{said:?}");
    assert_eq!(bo.event("direct message").await[0]["text"], json!("across"));
    silent(&mut cy, "Cy").await;
    silent(&mut dee, "Dee").await;
    assert_eq!(code(&dm(&mut dee, "Ana", "psst", "d1", 2).await), "owner_only");
    assert_eq!(code(&dm(&mut cy, "Dee", "psst", "c1", 2).await), "no_such_owner");

    // Ana's instance dies; Bo's reply waits for her on another one.
    servers[0].kill_hard();
    drop(ana);
    let reply = dm(&mut bo, "Ana", "got it", "b1", 3).await;
    assert_eq!(reply[0], Value::Null, "{reply:?}");
    let mut ana =
        WireClient::claim_when_free(servers[2].port, "Ana", Some(json!({"owner": ana_secret})), |_| true)
            .await
            .0;
    let listed = ask(&mut ana, "conversations", &[], 2).await;
    assert_eq!(listed[1], json!([{"with": "Bo", "last_id": reply[1]["id"], "last_ts": reply[1]["ts"]}]));
    assert_eq!(texts(&ana.history(json!({"with": "Bo"}), 3).await), ["across", "got it"]);
    assert_eq!(texts(&cy.history(json!({"with": "Bo"}), 3).await), Vec::<String>::new());
    // And live again, to her new instance.
    assert_eq!(dm(&mut bo, "Ana", "welcome back", "b2", 4).await[0], Value::Null);
    assert_eq!(ana.event("direct message").await[0]["text"], json!("welcome back"));
    // Bo forgets the name and someone else owns it: Ana's resend of her first line (its ack
    // lost, say) is that line, and reaches nobody new; the new Bo reads nothing of Bo's.
    assert_eq!(ask(&mut bo, "forget me", &[], 5).await[0], Value::Null);
    let mut new_bo =
        WireClient::claim_when_free(servers[2].port, "Bo", Some(json!({"own": true})), |_| true).await.0;
    let resent = dm(&mut ana, "Bo", "across", "k1", 5).await;
    assert_eq!(resent[1]["id"], said[1]["id"], "{resent:?}");
    silent(&mut new_bo, "the new owner of Bo").await;
    assert_eq!(texts(&new_bo.history(json!({"with": "Ana"}), 3).await), Vec::<String>::new());
    assert_eq!(ask(&mut ana, "conversations", &[], 6).await[1], json!([]), "that Bo is gone");
}

/// While Redis stalls, a connection's direct messages wait in its lane for their checks, in
/// order: at most `LANE_JOBS_MAX` of them; the next are refused `unavailable` at once with that
/// `limit` (they cost nothing), and once Redis answers the waiting ones are stored, in order.
#[tokio::test(flavor = "multi_thread")]
async fn direct_messages_waiting_for_a_stalled_redis_stop_at_the_lane_limit() {
    use chat_shared::limits::LANE_JOBS_MAX;
    let redis = RedisServer::start();
    let url = redis.url();
    let server = ChatServer::start_with(
        &[],
        &[
            ("CHAT_REDIS_URL", url.as_str()),
            ("CHAT_MESSAGES_PER_SECOND", "1000"),
            ("CHAT_MESSAGE_BURST", "1000"),
        ],
    );
    let (mut ana, _) = own(server.port, "Ana", json!({"own": true})).await;
    let (mut bo, _) = own(server.port, "Bo", json!({"own": true})).await;
    let sent = LANE_JOBS_MAX as u64 + 5;
    let paused = std::time::Instant::now();
    redis.pause();
    for id in 1..=sent {
        ana.emit(
            "direct message",
            &[json!({"to": "Bo", "text": format!("line {id}"), "key": format!("k{id}")})],
            Some(id),
        )
        .await;
    }
    for id in LANE_JOBS_MAX as u64 + 1..=sent {
        let refused = ana.ack(id).await;
        assert_eq!(code(&refused), "unavailable", "line {id}: {refused:?}");
        assert_eq!(refused[0]["limit"], json!(LANE_JOBS_MAX), "line {id}");
    }
    redis.resume();
    // The first line's Redis check gives up after 2 s (REDIS_TIMEOUT): past that it would be
    // refused `unavailable`, which is not what this test is about.
    assert!(
        paused.elapsed() < Duration::from_millis(1_500),
        "the machine was too slow: {:?}",
        paused.elapsed()
    );
    let mut last = 0;
    for id in 1..=LANE_JOBS_MAX as u64 {
        let stored = ana.ack(id).await;
        assert_eq!(stored[0], Value::Null, "line {id} stored once Redis answered: {stored:?}");
        let stored_id = stored[1]["id"].as_u64().expect("an id");
        assert!(stored_id > last, "in order");
        last = stored_id;
    }
    let heard = bo.events_within("direct message", Duration::from_millis(500)).await;
    let heard: Vec<&str> = heard.iter().filter_map(|e| e[0]["text"].as_str()).collect();
    let want: Vec<String> = (1..=LANE_JOBS_MAX).map(|i| format!("line {i}")).collect();
    assert_eq!(heard, want, "Bo heard the waiting ones, in order, and not the refused");
}
