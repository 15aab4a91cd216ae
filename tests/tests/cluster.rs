//! Several `chat-server` instances on one real Redis (`CHAT_REDIS_URL`): users on different
//! instances chat with each other and share one history.

use std::time::Duration;

use chat_tests::nginx::Nginx;
use chat_tests::redis::RedisServer;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

fn instance(redis: &RedisServer) -> ChatServer {
    ChatServer::start_with(&[], &[("CHAT_REDIS_URL", &redis.url())])
}

/// An instance whose dropped users keep their nickname for `grace` seconds.
fn instance_with_grace(redis: &RedisServer, grace: &str) -> ChatServer {
    ChatServer::start_with(&[], &[("CHAT_REDIS_URL", &redis.url()), ("CHAT_RESUME_GRACE", grace)])
}

async fn ready(server: &ChatServer) -> u16 {
    match reqwest::get(format!("{}/readyz", server.url())).await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
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

    // One online list, and a nickname is unique across instances (in any case).
    for c in [&mut ana, &mut bob, &mut cy] {
        nicknames_become(c, &["Ana", "Bob", "Cy"]).await;
    }
    let mut copycat = WireClient::connect(servers[2].port).await;
    copycat.emit("nickname", &[json!("ANA")], Some(1)).await;
    assert_eq!(copycat.ack(1).await[1]["code"], json!("nickname_taken"));

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
    c.events_within("user message", within).await.into_iter().map(|args| json!(args)).collect()
}

/// Waits until `c` gets a `nicknames` map with exactly `names`.
async fn nicknames_become(c: &mut WireClient, names: &[&str]) {
    let want: serde_json::Map<String, Value> = names.iter().map(|n| (n.to_string(), json!(n))).collect();
    loop {
        if c.event("nicknames").await.first() == Some(&Value::Object(want.clone())) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_one_instance_its_users_resume_on_another_with_nothing_lost_or_doubled() {
    let redis = RedisServer::start();
    let mut doomed = instance_with_grace(&redis, "2");
    let other = instance_with_grace(&redis, "2");
    let (mut ana, token) = WireClient::join(doomed.port, "Ana").await;
    let (_dave, _) = WireClient::join(doomed.port, "Dave").await; // never comes back
    let (mut bob, _) = WireClient::join(other.port, "Bob").await;
    ana.emit("user message", &[json!("before"), json!({"key": "k1"})], Some(2)).await;
    let before = ana.ack(2).await[1]["id"].as_u64().expect("stored");
    // A line in flight as the instance dies: maybe stored, maybe not; the page resends it.
    ana.emit("user message", &[json!("last words"), json!({"key": "k2"})], Some(3)).await;
    doomed.kill_hard();
    bob.emit("user message", &[json!("while Ana was away")], Some(4)).await;
    assert_eq!(bob.ack(4).await[0], Value::Null);

    // Ana's page reconnects to the other instance: same nickname, missed lines, outbox.
    let (mut ana, ack) = WireClient::resume(other.port, &token).await;
    assert_eq!(ack[1]["nickname"], json!("Ana"), "{ack:?}");
    let missed = ana.history(json!({"after": before}), 5).await;
    let texts: Vec<&str> =
        missed["messages"].as_array().expect("lines").iter().filter_map(|m| m["text"].as_str()).collect();
    assert!(texts.contains(&"while Ana was away"), "{texts:?}");
    ana.emit("user message", &[json!("last words"), json!({"key": "k2"})], Some(6)).await;
    assert_eq!(ana.ack(6).await[0], Value::Null);
    let all = bob.history(json!({}), 7).await;
    let count = |t: &str| {
        all["messages"].as_array().map_or(0, |m| m.iter().filter(|m| m["text"] == json!(t)).count())
    };
    assert_eq!((count("before"), count("last words"), count("while Ana was away")), (1, 1, 1), "{all}");

    // The dead instance's nicknames are freed once its leases run out (grace + margin); the
    // resumed one is not.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut probe = WireClient::connect(other.port).await;
        probe.emit("nickname", &[json!("Dave")], Some(1)).await;
        if probe.ack(1).await[0] == json!(false) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "Dave was never freed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut probe = WireClient::connect(other.port).await;
    probe.emit("nickname", &[json!("Ana")], Some(1)).await;
    assert_eq!(probe.ack(1).await[1]["code"], json!("nickname_taken"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_restart_is_survived_without_restarting_the_instances() {
    let mut redis = RedisServer::start();
    let one = instance(&redis);
    let two = instance(&redis);
    let (mut ana, _) = WireClient::join(one.port, "Ana").await;
    let (mut bob, _) = WireClient::join(two.port, "Bob").await;
    ana.emit("user message", &[json!("before the outage")], Some(2)).await;
    assert_eq!(bob.event("user message").await[1], json!("before the outage"));

    redis.stop();
    // Not ready while Redis is away; a line is refused, not lost; nobody is disconnected.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while ready(&one).await != 503 {
        assert!(tokio::time::Instant::now() < deadline, "/readyz stayed 200 without Redis");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ana.emit("user message", &[json!("during the outage")], Some(3)).await;
    assert_eq!(ana.ack(3).await[0]["code"], json!("unavailable"));

    redis.start_again();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ready(&one).await != 200 || ready(&two).await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the instances did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Chatting across instances again (pub/sub resubscribed), the same connections.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 10;
    loop {
        n += 1;
        let text = format!("after the outage {n}");
        ana.emit("user message", &[json!(text)], Some(n)).await;
        assert_eq!(ana.ack(n).await[0], Value::Null, "stored again");
        let heard = user_messages(&mut bob, Duration::from_millis(500)).await;
        if heard.iter().any(|m| m[1] == json!(text)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "cross-instance delivery never came back");
    }
    let page = bob.history(json!({}), 99).await;
    assert!(
        page["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["text"] == json!("before the outage")))
    );
}

/// How many socket.io connections an instance has (from its /metrics).
async fn connections(server: &ChatServer) -> f64 {
    let text =
        reqwest::get(format!("{}/metrics", server.url())).await.expect("metrics").text().await.expect("body");
    text.lines()
        .filter(|l| l.starts_with("chat_connections{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_the_deployed_nginx_config_a_user_of_a_dead_instance_lands_on_the_other() {
    let redis = RedisServer::start();
    let mut servers = [instance_with_grace(&redis, "30"), instance_with_grace(&redis, "30")];
    let nginx = Nginx::start(&[servers[0].port, servers[1].port]);
    let (mut ana, token) = WireClient::join(nginx.port, "Ana").await;
    ana.emit("user message", &[json!("through nginx")], Some(2)).await;
    assert_eq!(ana.ack(2).await[0], Value::Null);
    let home = if connections(&servers[0]).await > 0.0 { 0 } else { 1 };
    assert_eq!(connections(&servers[1 - home]).await, 0.0, "pinned to one instance");
    servers[home].kill_hard();
    assert!(ana.closed_within(Duration::from_secs(10)).await, "the dead instance's connection ends");

    // The page reconnects to the same address; nginx sends it to the live instance.
    let (mut ana, ack) = WireClient::resume(nginx.port, &token).await;
    assert_eq!(ack[1]["nickname"], json!("Ana"), "{ack:?}");
    let page = ana.history(json!({}), 3).await;
    assert_eq!(page["messages"][0]["text"], json!("through nginx"));
    assert!(connections(&servers[1 - home]).await >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_asks_for_changes_learns_who_comes_and_goes_on_another_instance() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis), instance(&redis));
    let (_bo, _) = WireClient::join(b.port, "Bo").await;
    let mut ana = WireClient::try_connect_for_changes(a.port).await.expect("connect");
    ana.emit("nickname", &[json!("Ana")], Some(1)).await;
    assert_eq!(ana.ack(1).await, vec![json!(false)]);
    let list = ana.event("online").await;
    assert_eq!(list[0], json!(["Ana", "Bo"]), "the cluster's list, once");

    // Cy arrives on B, then leaves: Ana (on A) hears both within A's refresh (2 s).
    let (cy, _) = WireClient::join(b.port, "Cy").await;
    hears(&mut ana, "connected", "Cy").await;
    cy.close().await;
    hears(&mut ana, "disconnected", "Cy").await;
}

/// Waits (at most 6 s) for a `presence` change whose `list` (`connected` or `disconnected`)
/// is just `nick`.
async fn hears(c: &mut WireClient, list: &str, nick: &str) {
    let mut heard: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    while tokio::time::Instant::now() < deadline {
        heard.extend(
            c.events_within("presence", Duration::from_millis(500)).await.into_iter().map(|a| a[0].clone()),
        );
        if heard.iter().any(|change| change[list] == json!([nick])) {
            return;
        }
    }
    panic!("no presence change with {list} [{nick}]: {heard:?}");
}
