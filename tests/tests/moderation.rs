//! Moderation through the real binary: the operator grants and revokes moderators from the
//! command line while the server runs; a moderator deletes lines (live, in history, for a page
//! that was away), purges a person's lines, mutes, kicks and bans (the nickname, and the
//! address) with expiry; a room's owner sets slow mode, locks it and names its moderators;
//! anyone reports a line and moderators read and close reports and the audit log; a person
//! without the role can do none of it; clients of the original are subject to it; all of it
//! across two instances of a cluster.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chat_shared::limits::{ROOM_MODERATORS_MAX, ROOM_MUTES_MAX};
use chat_tests::redis::RedisServer;
use chat_tests::server::binary;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

/// `chat-server moderators <args>` against a data directory or a Redis; (success, output).
fn moderators(args: &[&str], data_dir: &Path, redis: Option<&str>) -> (bool, String) {
    let mut command = Command::new(binary());
    command.arg("moderators").args(args).env("CHAT_DATA_DIR", data_dir).env("CHAT_LOG", "warn");
    if let Some(url) = redis {
        command.env("CHAT_REDIS_URL", url);
    }
    let out = command.output().expect("run chat-server moderators");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), said)
}

/// `moderators add NICK` once the claim it names is on disk: the server saves a claim's
/// reservation just after acknowledging it, so a grant right after the ack may ask again.
async fn add_moderator(nick: &str, data_dir: &Path) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        let (ok, said) = moderators(&["add", nick], data_dir, None);
        if ok {
            return said;
        }
        last = said;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("moderators add {nick}: {last}");
}

async fn ask(c: &mut WireClient, event: &str, args: &[Value], id: u64) -> Vec<Value> {
    c.emit(event, args, Some(id)).await;
    c.ack(id).await
}

fn code(ack: &[Value]) -> &str {
    ack[0]["code"].as_str().unwrap_or("(none)")
}

/// Asks `moderate` with `action` (acked with `id`); the ack.
async fn moderate(c: &mut WireClient, action: Value, id: u64) -> Vec<Value> {
    ask(c, "moderate", &[action], id).await
}

/// Says `text` in `general`; its id.
async fn say(c: &mut WireClient, text: &str, id: u64) -> u64 {
    let ack = ask(c, "user message", &[json!(text), json!({"key": format!("k{id}")})], id).await;
    assert_eq!(ack[0], Value::Null, "{text}: {ack:?}");
    ack[1]["id"].as_u64().expect("an id")
}

/// Waits until `roles` lists `nick` among the chat's moderators (or not, `is`: false).
async fn until_moderator(c: &mut WireClient, nick: &str, is: bool, first_id: u64) {
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut id = first_id;
    loop {
        let roles = ask(c, "roles", &[], id).await;
        let listed = roles[1]["moderators"].as_array().is_some_and(|m| m.contains(&json!(nick)));
        if listed == is {
            return;
        }
        assert!(Instant::now() < deadline, "{nick} moderator: {is}? roles: {roles:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        id += 1;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn moderators_delete_purge_mute_kick_and_ban_and_nobody_else_can() {
    // No grace period: a banned nickname is free again as soon as it is unbanned.
    let server = ChatServer::start_with(&[], &[("CHAT_RESUME_GRACE", "0")]);
    let port = server.port;
    let (mut mo, _) = WireClient::own(port, "Mo", json!({"own": true})).await;
    let (mut cy, _) = WireClient::own(port, "Cy", json!({"own": true})).await;
    let (mut bo, _) = WireClient::join(port, "Bo").await;

    // Nobody is a moderator yet: every action is refused, whatever its arguments.
    let forged = [
        json!({"action": "delete", "id": 1}),
        json!({"action": "purge", "nickname": "Cy"}),
        json!({"action": "mute", "nickname": "Cy", "minutes": 5}),
        json!({"action": "mute", "nickname": "Cy", "minutes": 5, "room": "general"}),
        json!({"action": "unmute", "nickname": "Cy"}),
        json!({"action": "kick", "nickname": "Cy"}),
        json!({"action": "ban", "nickname": "Cy", "minutes": 5, "address": true}),
        json!({"action": "unban", "nickname": "Cy"}),
        json!({"action": "rules", "room": "general", "locked": true}),
        json!({"action": "close_report", "id": 1}),
    ];
    let first = say(&mut cy, "hello", 2).await;
    for (i, action) in forged.iter().enumerate() {
        let ack = moderate(&mut bo, action.clone(), 10 + i as u64).await;
        assert_eq!(code(&ack), "not_moderator", "{action}: {ack:?}");
        let ack = moderate(&mut mo, action.clone(), 10 + i as u64).await;
        assert_eq!(code(&ack), "not_moderator", "{action}: {ack:?}");
    }
    assert_eq!(code(&moderate(&mut mo, json!({"action": "explode"}), 30).await), "bad_payload");
    assert_eq!(code(&ask(&mut mo, "moderation log", &[], 31).await), "not_moderator");

    // The operator grants, while the server runs; only an owned nickname.
    let (ok, said) = moderators(&["add", "Bo"], &server.data_dir, None);
    assert!(!ok && said.contains("nobody owns"), "{said}");
    let (ok, said) = moderators(&["add", "mo"], &server.data_dir, None);
    assert!(ok, "{said}");
    assert_eq!(moderators(&["list"], &server.data_dir, None).1.trim(), "Mo");
    until_moderator(&mut bo, "Mo", true, 40).await;

    // Delete: gone from every page at once and from history; a page that was away learns it.
    let spam = say(&mut bo, "buy now", 60).await;
    let ack = moderate(&mut mo, json!({"action": "delete", "id": spam, "reason": "spam"}), 61).await;
    assert_eq!(ack, vec![Value::Null, json!({"affected": 1})]);
    for c in [&mut cy, &mut bo] {
        let gone = c.event("line deleted").await;
        assert_eq!(gone[0], json!({"room": "general", "id": spam}));
    }
    let page = cy.history(json!({"after": 0}), 62).await;
    let ids: Vec<u64> =
        page["messages"].as_array().unwrap().iter().filter_map(|m| m["id"].as_u64()).collect();
    assert!(ids.contains(&first) && !ids.contains(&spam), "{page}");
    assert_eq!(page["deleted"], json!([spam]), "a page that was away drops it");
    assert_eq!(code(&moderate(&mut mo, json!({"action": "delete", "id": spam}), 63).await), "no_such_line");

    // Reports: anyone, about a line it can read; moderators read and close them.
    let rude = say(&mut bo, "you are all dumb", 64).await;
    let filed = ask(&mut cy, "report", &[json!({"id": rude, "reason": "rude"})], 65).await;
    let report = filed[1]["id"].as_u64().unwrap_or_else(|| panic!("{filed:?}"));
    assert_eq!(code(&ask(&mut cy, "report", &[json!({"id": 999_999})], 66).await), "no_such_line");
    assert_eq!(
        code(&ask(&mut cy, "report", &[json!({"id": rude, "room": "nowhere"})], 67).await),
        "room_not_found"
    );
    assert_eq!(code(&ask(&mut cy, "moderation log", &[], 68).await), "not_moderator");
    let log = ask(&mut mo, "moderation log", &[], 69).await;
    assert_eq!(log[1]["reports"][0]["id"], json!(report), "{log:?}");
    assert_eq!(
        (log[1]["reports"][0]["from"].clone(), log[1]["reports"][0]["text"].clone()),
        (json!("Bo"), json!("you are all dumb"))
    );
    assert_eq!(moderate(&mut mo, json!({"action": "close_report", "id": report}), 70).await[0], Value::Null);
    let log = ask(&mut mo, "moderation log", &[], 71).await;
    assert_eq!(log[1]["reports"], json!([]), "closed");
    let actions: Vec<&str> =
        log[1]["audit"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["close_report", "delete", "grant"], "newest first");
    assert_eq!(log[1]["audit"][1]["reason"], json!("spam"));
    assert_eq!(log[1]["audit"][1]["by"], json!("Mo"));
    assert_eq!(log[1]["audit"][2]["by"], json!("(operator)"));

    // Purge: a person's recent lines at once.
    for i in 0..3 {
        say(&mut bo, &format!("flood {i}"), 80 + i).await;
    }
    let ack = moderate(&mut mo, json!({"action": "purge", "nickname": "bo"}), 84).await;
    assert_eq!(ack[1], json!({"affected": 4}), "three floods and the rude line");

    // Mute: reads, cannot post or type; the original's way gets a `chat error`; then unmute.
    assert_eq!(
        code(&moderate(&mut bo, json!({"action": "mute", "nickname": "Mo", "minutes": 5}), 85).await),
        "not_moderator"
    );
    assert_eq!(
        code(&moderate(&mut mo, json!({"action": "mute", "nickname": "Mo", "minutes": 5}), 86).await),
        "not_moderator",
        "a moderator is not muted"
    );
    assert_eq!(
        code(&moderate(&mut mo, json!({"action": "mute", "nickname": "Bo", "minutes": 0}), 87).await),
        "bad_payload"
    );
    let ack = moderate(
        &mut mo,
        json!({"action": "mute", "nickname": "Bo", "minutes": 5, "reason": "calm down"}),
        88,
    )
    .await;
    assert_eq!(ack[0], Value::Null, "{ack:?}");
    let told = bo.event("moderated").await;
    assert_eq!(
        (told[0]["sanction"].clone(), told[0]["reason"].clone()),
        (json!("muted"), json!("calm down"))
    );
    let refused = ask(&mut bo, "user message", &[json!("still here")], 89).await;
    assert_eq!(code(&refused), "muted");
    assert!(refused[0]["limit"].as_u64().is_some_and(|s| s > 200 && s <= 300), "{refused:?}");
    bo.emit("user message", &[json!("the original's way")], None).await;
    let error = bo.event("chat error").await;
    assert_eq!(
        (error[0]["event"].clone(), error[0]["code"].clone()),
        (json!("user message"), json!("muted"))
    );
    assert_eq!(code(&ask(&mut bo, "typing", &[json!(true)], 90).await), "muted");
    let heard = cy.events_within("user message", Duration::from_millis(300)).await;
    let muted_lines =
        heard.iter().filter(|m| m[1] == json!("still here") || m[1] == json!("the original's way"));
    assert_eq!(muted_lines.count(), 0, "a muted line reached Cy: {heard:?}");
    assert_eq!(moderate(&mut mo, json!({"action": "unmute", "nickname": "Bo"}), 91).await[0], Value::Null);
    assert_eq!(bo.event("moderated").await[0]["sanction"], json!("unmuted"));
    say(&mut bo, "sorry", 92).await;

    // Muted, a room's owner cannot speak through moderation either (a reason, a topic).
    assert_eq!(ask(&mut cy, "create room", &[json!({"name": "nook"})], 80).await[0], Value::Null);
    let mute_cy = json!({"action": "mute", "nickname": "Cy", "minutes": 5, "reason": "shouting"});
    assert_eq!(moderate(&mut mo, mute_cy, 98).await[0], Value::Null);
    assert_eq!(cy.event("moderated").await[0]["sanction"], json!("muted"));
    let harass = json!({"action": "mute", "nickname": "Bo", "minutes": 1, "room": "nook", "reason": "words"});
    assert_eq!(code(&moderate(&mut cy, harass.clone(), 81).await), "muted");
    let topic = json!({"action": "rules", "room": "nook", "topic": "more words"});
    assert_eq!(code(&moderate(&mut cy, topic, 82).await), "muted");
    // Nor through a new room's name and topic (shown to everyone).
    let loud = json!({"name": "loud", "topic": "more words"});
    assert_eq!(code(&ask(&mut cy, "create room", &[loud], 85).await), "muted");
    assert_eq!(code(&ask(&mut bo, "join room", &[json!({"room": "loud"})], 86).await), "room_not_found");
    // A reason cannot reorder what is shown around it (bidi controls, as in messages).
    let reversed = json!({"action": "mute", "nickname": "Bo", "minutes": 1, "reason": "see \u{202E}txt.exe"});
    assert_eq!(code(&moderate(&mut mo, reversed, 97).await), "bad_payload");
    assert_eq!(moderate(&mut mo, json!({"action": "unmute", "nickname": "Cy"}), 99).await[0], Value::Null);
    assert_eq!(cy.event("moderated").await[0]["sanction"], json!("unmuted"));
    assert_eq!(moderate(&mut cy, harass, 83).await[0], Value::Null, "unmuted, it moderates its room again");
    assert_eq!(bo.event("moderated").await[0]["room"], json!("nook"));
    // A topic set through the rules obeys the rule of a topic given at creation.
    let reversed_topic = json!({"action": "rules", "room": "nook", "topic": "fix \u{202E}gpj.exe"});
    assert_eq!(code(&moderate(&mut cy, reversed_topic, 110).await), "topic_invalid");
    let long_topic = json!({"action": "rules", "room": "nook", "topic": "t".repeat(201)});
    let refused = moderate(&mut cy, long_topic, 111).await;
    assert_eq!((code(&refused), &refused[0]["limit"]), ("topic_invalid", &json!(200)));
    // Muted in its room only: refused there however the room is spelt.
    let mute_in_nook = json!({"action": "mute", "nickname": "Cy", "minutes": 5, "room": "nook"});
    assert_eq!(moderate(&mut mo, mute_in_nook, 100).await[0], Value::Null);
    assert_eq!(cy.event("moderated").await[0]["room"], json!("nook"));
    let spelt_otherwise = json!({"action": "rules", "room": " NOOK", "topic": "more words"});
    assert_eq!(code(&moderate(&mut cy, spelt_otherwise, 84).await), "muted", "the room's name as parsed");
    let unmute_in_nook = json!({"action": "unmute", "nickname": "Cy", "room": "nook"});
    assert_eq!(moderate(&mut mo, unmute_in_nook, 101).await[0], Value::Null);
    assert_eq!(cy.event("moderated").await[0]["sanction"], json!("unmuted"));

    // Kick: disconnected now, told why first.
    let ack = moderate(&mut mo, json!({"action": "kick", "nickname": "Bo", "reason": "cool off"}), 93).await;
    assert_eq!(ack[0], Value::Null);
    assert_eq!(bo.event("moderated").await[0]["sanction"], json!("kicked"));
    assert!(bo.closed_within(Duration::from_secs(3)).await, "kicked");

    // Ban, nickname only: the name cannot be claimed (the original's way: `true` and why).
    let (mut dee, _) = WireClient::join_from(port, "Dee", [127, 0, 0, 7]).await;
    let ack =
        moderate(&mut mo, json!({"action": "ban", "nickname": "Dee", "minutes": 1, "reason": "troll"}), 94)
            .await;
    assert_eq!(ack[0], Value::Null);
    assert_eq!(dee.event("moderated").await[0]["sanction"], json!("banned"));
    assert!(dee.closed_within(Duration::from_secs(3)).await, "banned");
    let mut again =
        WireClient::try_connect_from(port, [127, 0, 0, 7]).await.expect("the address is not banned");
    let ack = ask(&mut again, "nickname", &[json!("dee")], 1).await;
    assert_eq!((ack[0].clone(), code(&ack[1..])), (json!(true), "banned"), "{ack:?}");
    assert_eq!(moderate(&mut mo, json!({"action": "unban", "nickname": "Dee"}), 95).await[0], Value::Null);
    assert_eq!(ask(&mut again, "nickname", &[json!("Dee")], 2).await, vec![json!(false)]);

    // Ban with the address: that address cannot connect; another can. A connection it opened
    // before the ban (unnamed here) goes too, so that it cannot take another name.
    let mut lurker = WireClient::try_connect_from(port, [127, 0, 0, 7]).await.expect("not banned yet");
    let ack =
        moderate(&mut mo, json!({"action": "ban", "nickname": "Dee", "minutes": 1, "address": true}), 96)
            .await;
    assert_eq!(ack[0], Value::Null);
    assert!(again.closed_within(Duration::from_secs(3)).await, "banned");
    assert!(lurker.closed_within(Duration::from_secs(3)).await, "its address is banned");
    assert!(WireClient::try_connect_from(port, [127, 0, 0, 7]).await.is_err(), "the address is banned");
    assert!(WireClient::try_connect_from(port, [127, 0, 0, 8]).await.is_ok(), "another address is not");
    assert_eq!(moderate(&mut mo, json!({"action": "unban", "nickname": "Dee"}), 97).await[0], Value::Null);
    assert!(WireClient::try_connect_from(port, [127, 0, 0, 7]).await.is_ok(), "unbanned");

    let metrics = reqwest::get(format!("{}/metrics", server.url())).await.unwrap().text().await.unwrap();
    for line in [
        r#"chat_moderation_actions_total{action="delete"} 1"#,
        r#"chat_moderation_actions_total{action="ban"} 2"#,
        "chat_reports_total 1",
    ] {
        assert!(metrics.contains(line), "{line} in /metrics");
    }

    // The operator revokes, while the server runs.
    let (ok, said) = moderators(&["remove", "Mo"], &server.data_dir, None);
    assert!(ok, "{said}");
    until_moderator(&mut cy, "Mo", false, 100).await;
    assert_eq!(
        code(&moderate(&mut mo, json!({"action": "kick", "nickname": "Cy"}), 98).await),
        "not_moderator"
    );
    assert!(!moderators(&["remove", "Mo"], &server.data_dir, None).0, "not a moderator any more");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_ban_closes_its_other_connections_but_not_a_moderators() {
    // Mo moderates from the same address (a NAT) as a troll and a bystander.
    let server = ChatServer::start();
    let port = server.port;
    let nat = [127, 0, 0, 9];
    let mut mo = WireClient::try_connect_from(port, nat).await.expect("admitted");
    assert_eq!(ask(&mut mo, "nickname", &[json!("Mo"), json!({"own": true})], 1).await, vec![json!(false)]);
    add_moderator("Mo", &server.data_dir).await;
    until_moderator(&mut mo, "Mo", true, 10).await;
    let (mut troll, _) = WireClient::join_from(port, "Troll", nat).await;
    let mut bystander = WireClient::try_connect_from(port, nat).await.expect("admitted");
    let ban =
        json!({"action": "ban", "nickname": "Troll", "minutes": 5, "address": true, "reason": "enough"});
    assert_eq!(moderate(&mut mo, ban, 30).await[0], Value::Null);
    assert!(troll.closed_within(Duration::from_secs(3)).await, "banned");
    assert!(bystander.closed_within(Duration::from_secs(3)).await, "the same address");
    // The moderator (who cannot be sanctioned) keeps its connection and lifts the ban.
    assert_eq!(moderate(&mut mo, json!({"action": "unban", "nickname": "Troll"}), 31).await[0], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rooms_owner_sets_slow_mode_locks_it_and_names_its_moderators() {
    let server = ChatServer::start();
    let port = server.port;
    let (mut ana, _) = WireClient::own(port, "Ana", json!({"own": true})).await;
    let (mut kim, _) = WireClient::own(port, "Kim", json!({"own": true})).await;
    let (mut bo, _) = WireClient::join(port, "Bo").await;
    let created = ask(&mut ana, "create room", &[json!({"name": "den"})], 2).await;
    assert_eq!(created[0], Value::Null, "{created:?}");
    for (c, id) in [(&mut kim, 2), (&mut bo, 2)] {
        assert_eq!(ask(c, "join room", &[json!({"room": "den"})], id).await[0], Value::Null);
    }
    let roles = ask(&mut bo, "roles", &[], 3).await;
    assert_eq!(roles[1]["rooms"], json!([{"room": "den", "owner": "Ana", "moderators": []}]));
    let line = |text: &str| json!({"room": "den", "text": text});

    // Only the owner (or the chat's moderators) sets the rules.
    let rules = json!({"action": "rules", "room": "den", "slow_secs": 60, "topic": "Slowly"});
    assert_eq!(code(&moderate(&mut bo, rules.clone(), 4).await), "not_moderator");
    assert_eq!(code(&moderate(&mut kim, rules.clone(), 4).await), "not_moderator");
    assert_eq!(moderate(&mut ana, rules, 3).await[0], Value::Null);
    let announced = bo.event("room rules").await;
    assert_eq!(announced[0], json!({"room": "den", "slow_secs": 60, "locked": false, "topic": "Slowly"}));
    let rooms = ask(&mut bo, "rooms", &[], 5).await;
    assert!(
        rooms[1].as_array().unwrap().iter().any(|r| r["name"] == "den" && r["topic"] == "Slowly"),
        "{rooms:?}"
    );

    // Slow mode: one line per minute per person; the owner is not slowed.
    assert_eq!(ask(&mut bo, "room message", &[line("one")], 6).await[0], Value::Null);
    let slowed = ask(&mut bo, "room message", &[line("two")], 7).await;
    assert_eq!(code(&slowed), "slow_mode");
    assert!(slowed[0]["limit"].as_u64().is_some_and(|s| s > 50 && s <= 60), "{slowed:?}");
    for i in 0..2 {
        assert_eq!(ask(&mut ana, "room message", &[line("owner")], 10 + i).await[0], Value::Null);
    }

    // A moderator of the room: an owned nickname, named by the owner only.
    let name = |who: &str, grant: bool| json!({"action": "room_moderator", "room": "den", "nickname": who, "grant": grant});
    assert_eq!(code(&moderate(&mut ana, name("Bo", true), 12).await), "no_such_owner");
    assert_eq!(code(&moderate(&mut kim, name("Kim", true), 12).await), "not_moderator");
    assert_eq!(moderate(&mut ana, name("Kim", true), 13).await[0], Value::Null);
    let roles = ask(&mut bo, "roles", &[], 14).await;
    assert_eq!(roles[1]["rooms"][0]["moderators"], json!(["Kim"]));
    // At most ROOM_MODERATORS_MAX named per room: one more is refused, naming one again is not.
    let mut helpers = Vec::new();
    for i in 1..ROOM_MODERATORS_MAX as u64 {
        let helper = format!("Helper{i}");
        helpers.push(WireClient::own(port, &helper, json!({"own": true})).await.0);
        assert_eq!(moderate(&mut ana, name(&helper, true), 100 + i).await[0], Value::Null);
    }
    let (_extra, _) = WireClient::own(port, "OneTooMany", json!({"own": true})).await;
    let refused = moderate(&mut ana, name("OneTooMany", true), 200).await;
    assert_eq!((code(&refused), refused[0]["limit"].clone()), ("rate_limited", json!(ROOM_MODERATORS_MAX)));
    assert_eq!(moderate(&mut ana, name("Kim", true), 201).await[0], Value::Null, "named again");

    // Locked: only its moderators post. A room's moderator moderates that room only, and
    // cannot sanction its owner.
    let lock = json!({"action": "rules", "room": "den", "locked": true});
    assert_eq!(moderate(&mut kim, lock, 15).await[0], Value::Null);
    assert_eq!(code(&ask(&mut bo, "room message", &[line("let me")], 16).await), "room_locked");
    assert_eq!(ask(&mut kim, "room message", &[line("mod here")], 17).await[0], Value::Null);
    let mute_in_den = |who: &str| json!({"action": "mute", "nickname": who, "minutes": 2, "room": "den"});
    assert_eq!(code(&moderate(&mut kim, mute_in_den("Ana"), 18).await), "not_moderator");
    assert_eq!(moderate(&mut kim, mute_in_den("Bo"), 19).await[0], Value::Null);
    assert_eq!(bo.event("moderated").await[0]["room"], json!("den"));
    assert_eq!(
        code(&moderate(&mut kim, json!({"action": "mute", "nickname": "Bo", "minutes": 2}), 20).await),
        "not_moderator"
    );
    assert_eq!(
        code(&moderate(&mut kim, json!({"action": "rules", "room": "general", "locked": true}), 21).await),
        "not_moderator"
    );
    // Muted in the room only: general still hears Bo.
    assert_eq!(ask(&mut bo, "user message", &[json!("in general")], 22).await[0], Value::Null);

    // A room's moderator reads its room's part of the log.
    let log = ask(&mut kim, "moderation log", &[], 23).await;
    let rooms: Vec<&str> =
        log[1]["audit"].as_array().unwrap().iter().map(|e| e["room"].as_str().unwrap_or("(none)")).collect();
    assert!(!rooms.is_empty() && rooms.iter().all(|r| *r == "den"), "{log:?}");
    assert_eq!(moderate(&mut ana, name("Kim", false), 24).await[0], Value::Null);
    assert_eq!(code(&ask(&mut kim, "room message", &[line("still?")], 25).await), "room_locked");

    // At most ROOM_MUTES_MAX mutes stand in a room (Bo's is one): its moderators cannot fill
    // the store every instance reads with mutes of made-up names; a standing one may be renewed.
    let ghost =
        |i: usize| json!({"action": "mute", "nickname": format!("Ghost{i}"), "minutes": 5, "room": "den"});
    let crew = helpers.len();
    for i in 1..ROOM_MUTES_MAX {
        let helper = &mut helpers[i % crew];
        assert_eq!(moderate(helper, ghost(i), 300 + i as u64).await[0], Value::Null, "mute {i}");
    }
    let refused = moderate(&mut helpers[0], ghost(ROOM_MUTES_MAX), 500).await;
    assert_eq!((code(&refused), refused[0]["limit"].clone()), ("rate_limited", json!(ROOM_MUTES_MAX)));
    assert_eq!(moderate(&mut helpers[0], ghost(1), 501).await[0], Value::Null, "renewed");
}

#[tokio::test(flavor = "multi_thread")]
async fn moderation_reaches_every_instance_of_a_cluster() {
    let redis = RedisServer::start();
    let url = redis.url();
    let instance = || ChatServer::start_with(&[], &[("CHAT_REDIS_URL", &url)]);
    let (a, b) = (instance(), instance());
    let (mut mo, _) = WireClient::own(a.port, "Mo", json!({"own": true})).await;
    let (mut cy, _) = WireClient::own(b.port, "Cy", json!({"own": true})).await;
    let (mut bo, _) = WireClient::join_from(b.port, "Bo", [127, 0, 0, 9]).await;
    let (ok, said) = moderators(&["add", "Mo"], &a.data_dir, Some(&url));
    assert!(ok, "{said}");
    until_moderator(&mut mo, "Mo", true, 10).await;
    until_moderator(&mut bo, "Mo", true, 10).await;

    // A line said on B, deleted from A: gone on both, and from the cluster's history.
    let spam = say(&mut bo, "spam", 40).await;
    assert_eq!(moderate(&mut mo, json!({"action": "delete", "id": spam}), 41).await[0], Value::Null);
    // (Mo's own copy arrives before its ack, which `ask` reads past.)
    for (who, c) in [("Cy", &mut cy), ("Bo", &mut bo)] {
        let heard = c.events_within("line deleted", Duration::from_secs(2)).await;
        assert_eq!(heard.len(), 1, "{who}: {heard:?}");
        assert_eq!(heard[0][0]["id"], json!(spam));
    }
    // B learns the deletion for its history pages within a refresh.
    let deadline = Instant::now() + Duration::from_secs(5);
    for id in 100.. {
        let page = cy.history(json!({"after": 0}), id).await;
        assert_eq!(page["messages"], json!([]), "deleted from the cluster's history");
        if page["deleted"] == json!([spam]) {
            break;
        }
        assert!(Instant::now() < deadline, "B never listed the deleted line: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A mute from A holds on B (within a refresh).
    assert_eq!(
        moderate(&mut mo, json!({"action": "mute", "nickname": "Bo", "minutes": 1}), 43).await[0],
        Value::Null
    );
    assert_eq!(bo.event("moderated").await[0]["sanction"], json!("muted"));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut id = 50;
    loop {
        let ack = ask(&mut bo, "user message", &[json!("hello?")], id).await;
        if code(&ack) == "muted" {
            break;
        }
        assert!(Instant::now() < deadline, "never muted on B: {ack:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        id += 1;
    }
    assert_eq!(moderate(&mut mo, json!({"action": "unmute", "nickname": "Bo"}), 44).await[0], Value::Null);

    // A ban with the address from A: B records the address and closes Bo; neither instance
    // lets that address in, nor the nickname.
    let ban = json!({"action": "ban", "nickname": "Bo", "minutes": 1, "address": true, "reason": "enough"});
    assert_eq!(moderate(&mut mo, ban, 45).await[0], Value::Null);
    assert!(bo.closed_within(Duration::from_secs(6)).await, "banned on B");
    let deadline = Instant::now() + Duration::from_secs(5);
    while WireClient::try_connect_from(a.port, [127, 0, 0, 9]).await.is_ok() {
        assert!(Instant::now() < deadline, "A never learnt the banned address");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(WireClient::try_connect_from(b.port, [127, 0, 0, 9]).await.is_err());
    let mut other = WireClient::connect(a.port).await;
    let ack = ask(&mut other, "nickname", &[json!("Bo")], 1).await;
    assert_eq!(code(&ack[1..]), "banned", "{ack:?}");

    // Kick from A, of someone on B.
    assert_eq!(moderate(&mut mo, json!({"action": "kick", "nickname": "Cy"}), 46).await[0], Value::Null);
    assert!(cy.closed_within(Duration::from_secs(3)).await, "kicked on B");
    let log = ask(&mut mo, "moderation log", &[], 47).await;
    let actions: Vec<&str> =
        log[1]["audit"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["kick", "ban", "unmute", "mute", "delete", "grant"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_ends_with_the_ownership_it_was_granted_to() {
    let server = ChatServer::start_with(&[], &[("CHAT_RESUME_GRACE", "0")]);
    let port = server.port;
    let (mut mo, _) = WireClient::own(port, "Mo", json!({"own": true})).await;
    let (mut cy, _) = WireClient::own(port, "Cy", json!({"own": true})).await;
    add_moderator("Mo", &server.data_dir).await;
    until_moderator(&mut cy, "Mo", true, 10).await;
    let created = ask(&mut mo, "create room", &[json!({"name": "den"})], 2).await;
    assert_eq!(created[0], Value::Null);

    // Mo gives the name up; whoever takes "Mo" next is neither moderator nor the room's owner,
    // and can be muted like anyone.
    assert_eq!(ask(&mut mo, "forget me", &[], 3).await[0], Value::Null);
    mo.close().await;
    let (mut next, _) = WireClient::join(port, "Mo").await;
    let roles = ask(&mut cy, "roles", &[], 30).await;
    assert_eq!(
        (roles[1]["moderators"].clone(), roles[1]["rooms"].clone()),
        (json!([]), json!([])),
        "{roles:?}"
    );
    assert_eq!(
        code(&moderate(&mut next, json!({"action": "kick", "nickname": "Cy"}), 2).await),
        "not_moderator"
    );
    let rules = json!({"action": "rules", "room": "den", "locked": true});
    assert_eq!(code(&moderate(&mut next, rules, 3).await), "not_moderator");
    // The operator's grant still names the old ownership: Cy, granted now, mutes the new "Mo".
    add_moderator("Cy", &server.data_dir).await;
    until_moderator(&mut cy, "Cy", true, 31).await;
    let mute = json!({"action": "mute", "nickname": "Mo", "minutes": 1});
    assert_eq!(moderate(&mut cy, mute, 60).await[0], Value::Null);
    assert_eq!(code(&ask(&mut next, "user message", &[json!("hi")], 4).await), "muted");
}
