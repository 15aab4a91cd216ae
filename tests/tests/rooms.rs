//! Rooms besides `general`: create, list, join, leave; a room's lines reach its members only,
//! are stored in its own history (nothing of it in `general`'s, nothing doubled by a resend)
//! and outlive a crash; the original API sees nothing of them; limits refused with clear
//! codes; all of it across the instances of a cluster, one of them killed. An owned nickname's
//! rooms belong to its ownership: they come back on its next tab, after a crash, on another
//! instance, and end with "forget me".

use std::time::Duration;

use chat_tests::redis::RedisServer;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

/// Sends `event` with `args` and returns its ack.
async fn ask(c: &mut WireClient, event: &str, args: &[Value], id: u64) -> Vec<Value> {
    c.emit(event, args, Some(id)).await;
    c.ack(id).await
}

fn code(ack: &[Value]) -> &str {
    ack[0]["code"].as_str().unwrap_or("?")
}

fn texts(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rooms_lines_reach_its_members_only_and_its_own_history() {
    let mut server = ChatServer::start();
    let port = server.port;
    let (mut ana, _) = WireClient::join(port, "Ana").await;
    let (mut bo, _) = WireClient::join(port, "Bo").await;
    let (mut cy, _) = WireClient::join(port, "Cy").await;
    // An original client: it never hears of rooms.
    let (mut original, _) = WireClient::join(port, "Old").await;

    let created = ask(&mut ana, "create room", &[json!({"name": " Rust-Talk ", "topic": "crabs"})], 2).await;
    assert_eq!(created, vec![json!(null), json!({"name": "rust-talk", "topic": "crabs", "joined": true})]);
    let listed = ask(&mut cy, "rooms", &[], 2).await;
    assert_eq!(
        listed[1],
        json!([{"name": "general", "topic": "", "joined": true}, {"name": "rust-talk", "topic": "crabs"}]),
        "every connection is in general, and not in a room it did not join"
    );
    assert_eq!(
        ask(&mut bo, "join room", &[json!({"room": "RUST-talk"})], 2).await[1]["name"],
        json!("rust-talk")
    );

    let said =
        ask(&mut ana, "room message", &[json!({"room": "rust-talk", "text": "hi room", "key": "k1"})], 3)
            .await;
    assert_eq!(said[0], Value::Null, "{said:?}");
    let heard = bo.event("room message").await;
    assert_eq!(heard[0]["room"], json!("rust-talk"));
    assert_eq!((heard[0]["from"].clone(), heard[0]["text"].clone()), (json!("Ana"), json!("hi room")));
    assert_eq!(heard[0]["id"], said[1]["id"]);
    // A resend with its key is the same line, delivered once.
    let again =
        ask(&mut ana, "room message", &[json!({"room": "rust-talk", "text": "hi room", "key": "k1"})], 4)
            .await;
    assert_eq!(again[1]["id"], said[1]["id"]);
    // The same key in general is another line (a key names one line in one room).
    let in_general = ask(&mut ana, "user message", &[json!("same key"), json!({"key": "k1"})], 40).await;
    assert_ne!(in_general[1]["id"], said[1]["id"], "{in_general:?}");
    // Not a member: cannot speak there or read it; hears nothing of it.
    let refused = ask(&mut cy, "room message", &[json!({"room": "rust-talk", "text": "me too"})], 3).await;
    assert_eq!(code(&refused), "not_in_room");
    let unread = ask(&mut cy, "history", &[json!({"room": "rust-talk"})], 4).await;
    assert_eq!(code(&unread), "not_in_room");
    for quiet in [&mut cy, &mut original] {
        let seen = quiet.events_within("user message", Duration::from_millis(300)).await;
        assert!(!seen.iter().any(|l| l[1] == json!("hi room")), "nothing of the room in general: {seen:?}");
        assert!(quiet.events_within("room message", Duration::from_millis(100)).await.is_empty());
    }
    // Typing in a room reaches its members only; one cannot type in a room one is not in.
    assert_eq!(
        ask(&mut ana, "typing", &[json!(true), json!({"room": "rust-talk"})], 30).await[0],
        Value::Null
    );
    let typing = bo.event("typing").await;
    assert_eq!(typing[0], json!({"nickname": "Ana", "typing": true, "room": "rust-talk"}));
    assert!(cy.events_within("typing", Duration::from_millis(300)).await.is_empty(), "not a member");
    let refused = ask(&mut cy, "typing", &[json!(true), json!({"room": "rust-talk"})], 31).await;
    assert_eq!(code(&refused), "not_in_room");
    // A typist who drops while typing in a room: its members are told it stopped, there.
    let (mut typist, _) = WireClient::join(port, "Typist").await;
    assert_eq!(ask(&mut typist, "join room", &[json!({"room": "rust-talk"})], 2).await[0], Value::Null);
    ask(&mut typist, "typing", &[json!(true), json!({"room": "rust-talk"})], 3).await;
    assert_eq!(
        bo.event("typing").await[0],
        json!({"nickname": "Typist", "typing": true, "room": "rust-talk"})
    );
    typist.drop_abruptly();
    let stopped = bo.event("typing").await;
    assert_eq!(stopped[0], json!({"nickname": "Typist", "typing": false, "room": "rust-talk"}));
    // Each history has its own lines.
    ana.emit("user message", &[json!("hi general")], Some(5)).await;
    ana.ack(5).await;
    assert_eq!(texts(&bo.history(json!({"room": "rust-talk"}), 5).await), ["hi room"]);
    assert_eq!(texts(&bo.history(json!({}), 6).await), ["same key", "hi general"]);
    // Left: hears no more.
    assert_eq!(ask(&mut bo, "leave room", &[json!({"room": "rust-talk"})], 7).await[0], Value::Null);
    ask(&mut ana, "room message", &[json!({"room": "rust-talk", "text": "after bo left"})], 6).await;
    assert!(bo.events_within("room message", Duration::from_millis(300)).await.is_empty());

    // The room and its history outlive a crash (`kill -9`).
    server.kill_hard();
    server.restart();
    let (mut dee, _) = WireClient::join(server.port, "Dee").await;
    assert_eq!(
        ask(&mut dee, "join room", &[json!({"room": "rust-talk"})], 2).await[1]["topic"],
        json!("crabs")
    );
    assert_eq!(texts(&dee.history(json!({"room": "rust-talk"}), 3).await), ["hi room", "after bo left"]);
    // Resuming a room after a drop: exactly what came after the last line seen, once.
    let first = said[1]["id"].as_u64().expect("an id");
    let resumed = dee.history(json!({"room": "rust-talk", "after": first}), 4).await;
    assert_eq!(texts(&resumed), ["after bo left"]);
    assert_eq!((resumed["gap"].clone(), resumed["more"].clone()), (json!(false), json!(false)));
    let last = resumed["messages"][0]["id"].as_u64().expect("an id");
    assert_eq!(
        texts(&dee.history(json!({"room": "rust-talk", "after": last}), 5).await),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn room_limits_are_refused_with_clear_codes() {
    let server = ChatServer::start();
    let mut anon = WireClient::connect(server.port).await;
    assert_eq!(code(&ask(&mut anon, "create room", &[json!({"name": "x"})], 1).await), "not_named");
    let (mut ana, _) = WireClient::join(server.port, "Ana").await;
    for bad in [json!({"name": "two words"}), json!({"name": ""}), json!({"name": "x".repeat(33)})] {
        assert_eq!(
            code(&ask(&mut ana, "create room", std::slice::from_ref(&bad), 2).await),
            "room_name_invalid",
            "{bad}"
        );
    }
    let long_topic = json!({"name": "topical", "topic": "t".repeat(201)});
    assert_eq!(code(&ask(&mut ana, "create room", &[long_topic], 3).await), "topic_invalid");
    for tricky in ["fix \u{202E}gpj.exe", "line\u{2028}break", "tab\there"] {
        let topic = json!({"name": "topical", "topic": tricky});
        assert_eq!(code(&ask(&mut ana, "create room", &[topic], 3).await), "topic_invalid", "{tricky:?}");
    }
    assert_eq!(code(&ask(&mut ana, "create room", &[json!({"name": "general"})], 4).await), "room_exists");
    assert_eq!(code(&ask(&mut ana, "create room", &[json!(42)], 5).await), "bad_payload");
    assert_eq!(code(&ask(&mut ana, "join room", &[json!({"room": "nowhere"})], 6).await), "room_not_found");
    let burst = chat_shared::limits::ROOM_CREATE_BURST;
    for i in 0..burst {
        assert_eq!(
            ask(&mut ana, "create room", &[json!({"name": format!("r{i}")})], 10 + u64::from(i)).await[0],
            Value::Null
        );
    }
    assert_eq!(code(&ask(&mut ana, "create room", &[json!({"name": "r-more"})], 20).await), "rate_limited");
    assert_eq!(
        code(&ask(&mut ana, "create room", &[json!({"name": "r0"})], 21).await),
        "room_exists",
        "an existing name costs nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rooms_work_across_instances_and_survive_the_loss_of_one() {
    let redis = RedisServer::start();
    let mut servers: Vec<ChatServer> =
        (0..3).map(|_| ChatServer::start_with(&[], &[("CHAT_REDIS_URL", redis.url().as_str())])).collect();
    let (mut ana, _) = WireClient::join(servers[0].port, "Ana").await;
    let (mut bo, _) = WireClient::join(servers[1].port, "Bo").await;
    let (mut cy, _) = WireClient::join(servers[2].port, "Cy").await;
    let (mut dee, _) = WireClient::join(servers[1].port, "Dee").await;
    let created = ask(&mut ana, "create room", &[json!({"name": "ops", "topic": "on call"})], 2).await;
    assert_eq!(created[0], Value::Null, "{created:?}");
    // Created on one instance: listed, joined and unique on the others.
    let listed = ask(&mut bo, "rooms", &[], 2).await;
    assert_eq!(listed[1][1], json!({"name": "ops", "topic": "on call"}), "{listed:?}");
    assert_eq!(code(&ask(&mut cy, "create room", &[json!({"name": "OPS"})], 2).await), "room_exists");
    assert_eq!(ask(&mut bo, "join room", &[json!({"room": "ops"})], 3).await[0], Value::Null);
    assert_eq!(ask(&mut cy, "join room", &[json!({"room": "ops"})], 3).await[0], Value::Null);
    // `general` is everyone named, on every instance (as the instance last read it: the others'
    // names within a lease renewal).
    let everyone = people_once(&mut bo, "general", json!(["Ana", "Bo", "Cy", "Dee"]), 100..150).await;
    assert_eq!(everyone[1], json!(["Ana", "Bo", "Cy", "Dee"]), "{everyone:?}");

    let said =
        ask(&mut ana, "room message", &[json!({"room": "ops", "text": "paged", "key": "p1"})], 3).await;
    assert_eq!(said[0], Value::Null, "{said:?}");
    for member in [&mut bo, &mut cy] {
        let heard = member.event("room message").await;
        assert_eq!((heard[0]["from"].clone(), heard[0]["text"].clone()), (json!("Ana"), json!("paged")));
    }
    assert!(dee.events_within("room message", Duration::from_millis(300)).await.is_empty(), "not a member");
    ask(&mut ana, "typing", &[json!(true), json!({"room": "ops"})], 20).await;
    assert_eq!(cy.event("typing").await[0]["room"], json!("ops"), "typing reaches the other instances");
    // Ana's instance dies; the room, its history and its other members carry on.
    servers[0].kill_hard();
    let again = ask(&mut bo, "room message", &[json!({"room": "ops", "text": "ack", "key": "b1"})], 4).await;
    assert_eq!(again[0], Value::Null, "{again:?}");
    assert_eq!(cy.event("room message").await[0]["text"], json!("ack"));
    let resent = ask(&mut bo, "room message", &[json!({"room": "ops", "text": "ack", "key": "b1"})], 5).await;
    assert_eq!(resent[1]["id"], again[1]["id"], "a resend is the same line");
    assert_eq!(texts(&cy.history(json!({"room": "ops"}), 6).await), ["paged", "ack"]);
    assert!(!texts(&cy.history(json!({}), 7).await).contains(&"paged".to_owned()), "not in general");
}

/// `room people` for `room`, asked (with the ack ids `ids`, 100 ms apart) until it lists
/// `expected` or the ids run out (other instances learn of a change within a moment): the last
/// answer.
async fn people_once(
    c: &mut WireClient,
    room: &str,
    expected: Value,
    ids: std::ops::Range<u64>,
) -> Vec<Value> {
    let mut people = Vec::new();
    for id in ids {
        people = ask(c, "room people", &[json!({"room": room})], id).await;
        if people.get(1) == Some(&expected) {
            break;
        }
        // Asks cost a history request (2/s after a burst of 10): a refusal is asked again.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    people
}

/// The rooms of an owned nickname come back wherever its owner claims it next. `ports`: where
/// the owner's first tab, a member's, and the owner's next tab connect.
async fn rooms_follow_their_owner(ports: [u16; 3], mut between: impl AsyncFnMut()) {
    let [first_port, member_port, next_port] = ports;
    let (mut ana, secret) = WireClient::own(first_port, "Ana", json!({"own": true})).await;
    let (mut bo, _) = WireClient::join(member_port, "Bo").await;
    assert_eq!(ask(&mut bo, "create room", &[json!({"name": "crafts"})], 2).await[0], Value::Null);
    assert_eq!(ask(&mut bo, "create room", &[json!({"name": "games"})], 3).await[0], Value::Null);
    assert_eq!(ask(&mut ana, "join room", &[json!({"room": "crafts"})], 2).await[0], Value::Null);
    // In and out of "games" a few times in quick succession: the last word stays (in a cluster
    // each went to Redis from a task of its own, and a join could land after the leave).
    for id in (3..13).step_by(2) {
        ana.emit("join room", &[json!({"room": "games"})], Some(id)).await;
        ana.emit("leave room", &[json!({"room": "games"})], Some(id + 1)).await;
    }
    assert!(ana.acks(3..13).await.values().all(|a| a[0].is_null()), "every join and leave answered");
    ana.close().await;
    between().await;
    // Her next tab is in "crafts" without asking, and not in "games", which she left.
    let mut ana = WireClient::claim_when_free(next_port, "Ana", Some(json!({"owner": secret})), |code| {
        code == "nickname_taken"
    })
    .await
    .0;
    let listed = ask(&mut ana, "rooms", &[], 2).await;
    let joined: Vec<&str> = listed[1]
        .as_array()
        .expect("rooms")
        .iter()
        .filter(|r| r["joined"] == json!(true))
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(joined, ["general", "crafts"], "{listed:?}");
    // Who is in each room now (on every instance: Redis learns it just after the join).
    let people = people_once(&mut bo, "crafts", json!(["Ana", "Bo"]), 100..120).await;
    assert_eq!(people[1], json!(["Ana", "Bo"]), "{people:?}");
    // `general`'s people are everyone named, the asker too (as `nicknames` lists them).
    let everyone = people_once(&mut bo, "general", json!(["Ana", "Bo"]), 200..240).await;
    assert_eq!(everyone[1], json!(["Ana", "Bo"]), "{everyone:?}");
    let people = ask(&mut bo, "room people", &[json!({"room": "games"})], 31).await;
    assert_eq!(people[1], json!(["Bo"]), "Ana left games: {people:?}");
    assert_eq!(code(&ask(&mut bo, "room people", &[json!({"room": "nowhere"})], 32).await), "room_not_found");
    let said = ask(&mut bo, "room message", &[json!({"room": "crafts", "text": "glue?"})], 4).await;
    assert_eq!(said[0], Value::Null, "{said:?}");
    assert_eq!(ana.event("room message").await[0]["text"], json!("glue?"));
    assert_eq!(texts(&ana.history(json!({"room": "crafts"}), 5).await), ["glue?"]);
    // "forget me": the rooms were the ownership's.
    assert_eq!(ask(&mut ana, "forget me", &[], 6).await[0], Value::Null);
    ana.close().await;
    let mut again = WireClient::claim_when_free(next_port, "Ana", Some(json!({"own": true})), |code| {
        code == "nickname_taken"
    })
    .await
    .0;
    let listed = ask(&mut again, "rooms", &[], 2).await;
    assert!(
        listed[1]
            .as_array()
            .expect("rooms")
            .iter()
            .all(|r| r["joined"] != json!(true) || r["name"] == "general")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owned_nicknames_rooms_come_back_on_its_next_tab_and_after_a_crash() {
    let mut server = ChatServer::start();
    let port = server.port;
    rooms_follow_their_owner([port, port, port], async || {}).await;
    // And after a `kill -9` (the journal writes a membership just after the join's answer:
    // a moment later it is on disk).
    let (mut cy, secret) = WireClient::own(port, "Cy", json!({"own": true})).await;
    assert_eq!(ask(&mut cy, "create room", &[json!({"name": "lasting"})], 2).await[0], Value::Null);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill_hard();
    server.restart();
    let (mut cy, _) = WireClient::own(port, "Cy", json!({"owner": secret})).await;
    let listed = ask(&mut cy, "rooms", &[], 2).await;
    assert_eq!(listed[1][3], json!({"name": "lasting", "topic": "", "joined": true}), "{listed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owned_nicknames_rooms_come_back_on_another_instance() {
    let redis = RedisServer::start();
    let servers: Vec<ChatServer> =
        (0..3).map(|_| ChatServer::start_with(&[], &[("CHAT_REDIS_URL", redis.url().as_str())])).collect();
    rooms_follow_their_owner([servers[0].port, servers[1].port, servers[2].port], async || {
        // The membership is written to Redis beside the join's answer.
        tokio::time::sleep(Duration::from_millis(300)).await;
    })
    .await;
}

/// A room's people stay true on the page without asking again: its other members hear `room
/// presence` when someone joins, leaves or goes; neither the one who came nor anyone outside the
/// room hears it. `ports`: where Ana (who creates the room), Bo and Cy (outside) connect.
async fn presence_in_a_room(ports: [u16; 3]) {
    let (mut ana, _) = WireClient::join(ports[0], "Ana").await;
    let (mut bo, _) = WireClient::join(ports[1], "Bo").await;
    let (mut cy, _) = WireClient::join(ports[2], "Cy").await;
    assert_eq!(ask(&mut ana, "create room", &[json!({"name": "den"})], 1).await[0], Value::Null);
    let bo_is = |present| json!({"room": "den", "nickname": "Bo", "present": present});
    assert_eq!(ask(&mut bo, "join room", &[json!({"room": "den"})], 1).await[0], Value::Null);
    assert_eq!(ana.event("room presence").await[0], bo_is(true));
    assert_eq!(ask(&mut bo, "leave room", &[json!({"room": "den"})], 2).await[0], Value::Null);
    assert_eq!(ana.event("room presence").await[0], bo_is(false));
    assert_eq!(ask(&mut bo, "join room", &[json!({"room": "den"})], 3).await[0], Value::Null);
    assert_eq!(ana.event("room presence").await[0], bo_is(true));
    assert!(
        bo.events_within("room presence", Duration::from_millis(300)).await.is_empty(),
        "not told of itself"
    );
    bo.close().await;
    assert_eq!(ana.event("room presence").await[0], bo_is(false), "its connection went");
    assert!(cy.events_within("room presence", Duration::from_millis(300)).await.is_empty(), "not a member");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rooms_members_hear_who_comes_and_goes() {
    let server = ChatServer::start();
    presence_in_a_room([server.port; 3]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rooms_members_hear_who_comes_and_goes_on_every_instance() {
    let redis = RedisServer::start();
    let servers: Vec<ChatServer> =
        (0..3).map(|_| ChatServer::start_with(&[], &[("CHAT_REDIS_URL", redis.url().as_str())])).collect();
    presence_in_a_room([servers[0].port, servers[1].port, servers[2].port]).await;
}

/// In a cluster, someone whose connection dropped is no longer listed in a room's people (as
/// alone, and as the `room presence` notice said), and is listed again once back: the entry
/// its connection wrote in Redis goes with the connection instead of staying until someone
/// reads the room (which let a room's hash grow with every name that ever joined it).
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_connection_leaves_a_rooms_people_on_every_instance() {
    let redis = RedisServer::start();
    let servers: Vec<ChatServer> =
        (0..2).map(|_| ChatServer::start_with(&[], &[("CHAT_REDIS_URL", redis.url().as_str())])).collect();
    let (mut ana, _) = WireClient::join(servers[0].port, "Ana").await;
    assert_eq!(ask(&mut ana, "create room", &[json!({"name": "den"})], 2).await[0], Value::Null);
    let (mut bo, secret) = WireClient::own(servers[1].port, "Bo", json!({"own": true})).await;
    assert_eq!(ask(&mut bo, "join room", &[json!({"room": "den"})], 2).await[0], Value::Null);
    let both = json!(["Ana", "Bo"]);
    assert_eq!(people_once(&mut ana, "den", both.clone(), 10..60).await.get(1), Some(&both));
    // The entry names Bo's connection, not by its session id (a bearer secret).
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "HGETALL", "chat:in-room:den"])
        .output()
        .expect("run redis-cli");
    let entries = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(entries.contains("Bo") && !entries.contains(bo.sid()), "{entries}");
    bo.drop_abruptly();
    let alone = json!(["Ana"]);
    let dropped = people_once(&mut ana, "den", alone.clone(), 60..110).await;
    assert_eq!(dropped.get(1), Some(&alone), "dropped: not listed");
    let (_bo, _) = WireClient::own(servers[0].port, "Bo", json!({"owner": secret})).await;
    assert_eq!(people_once(&mut ana, "den", both.clone(), 110..160).await.get(1), Some(&both), "back");
}

/// After a restart, `general`'s people are the names kept for their owners before it (they may
/// resume), at once: not only once someone's arrival or departure has been sent.
#[tokio::test(flavor = "multi_thread")]
async fn generals_people_after_a_restart_are_the_names_kept_for_their_owners() {
    let mut server = ChatServer::start();
    let (_ana, _) = WireClient::join(server.port, "Ana").await;
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(20)).is_some(), "stopped");
    server.restart();
    let mut asker = WireClient::connect(server.port).await;
    let people = ask(&mut asker, "room people", &[json!({"room": "general"})], 1).await;
    assert_eq!(people.get(1), Some(&json!(["Ana"])), "{people:?}");
}
