//! Nicknames that stay yours: a claim with `{"own": true}` gives an owner secret, and the
//! nickname stays reserved for that secret after its holder leaves — across tabs, reloads,
//! restarts and instances; nobody else (with or without a secret, page or original client)
//! takes it; "forget me" frees it.

use std::time::Duration;

use chat_tests::TestClient as ChatClient;
use chat_tests::redis::RedisServer;
use chat_tests::{ChatServer, WireClient};
use serde_json::{Value, json};

/// Connects to `port` and claims `nick` with `options` (`None`: as the original page did).
/// The ack, and the `session` grant if it was accepted.
async fn claim(port: u16, nick: &str, options: Option<Value>) -> (WireClient, Vec<Value>, Option<Value>) {
    let mut c = WireClient::connect(port).await;
    let mut args = vec![json!(nick)];
    args.extend(options);
    c.emit("nickname", &args, Some(1)).await;
    let ack = c.ack(1).await;
    let grant = if ack == vec![json!(false)] { Some(c.event("session").await[0].clone()) } else { None };
    (c, ack, grant)
}

fn secret_of(grant: &Option<Value>) -> String {
    let grant = grant.as_ref().expect("a grant");
    grant["owner_secret"].as_str().expect("an owner secret").to_owned()
}

fn refusal(ack: &[Value]) -> &str {
    assert_eq!(ack[0], json!(true), "refused: {ack:?}");
    ack[1]["code"].as_str().unwrap_or("?")
}

/// The whole life of an owned nickname. `ports`: where its owner's first tab, strangers, and
/// its owner's later tabs connect (one instance, or three of a cluster).
async fn owned_sequence(ports: [u16; 3]) {
    let [first_port, stranger_port, later_port] = ports;
    let (mut first, _, grant) = claim(first_port, "Ana", Some(json!({"own": true}))).await;
    let secret = secret_of(&grant);
    assert_eq!(secret.len(), chat_shared::limits::OWNER_SECRET_HEX);
    first.emit("user message", &[json!("hello"), json!({"key": "k1"})], Some(2)).await;
    let first_id = first.ack(2).await[1]["id"].clone();
    // The tab is closed: Ana is gone from the chat, but the name stays hers.
    first.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for options in
        [None, Some(json!({"own": true})), Some(json!({"owner": "0123456789abcdef0123456789abcdef"}))]
    {
        let (_, ack, _) = claim(stranger_port, "ana", options.clone()).await;
        assert_eq!(refusal(&ack), "nickname_owned", "a stranger with {options:?}");
    }
    // Her next visit, on any instance: the secret claims it, with the same tenure (a line
    // resent with its key is not stored twice).
    let (mut back, ack, grant) = claim(later_port, "Ana", Some(json!({"owner": secret}))).await;
    assert_eq!(ack, vec![json!(false)], "its owner claims it");
    assert_eq!(secret_of(&grant), secret, "the same secret");
    back.emit("user message", &[json!("hello"), json!({"key": "k1"})], Some(2)).await;
    assert_eq!(back.ack(2).await[1]["id"], first_id, "the resend is the same line");
    // A second tab: one person, one holder at a time; the first tab is told.
    let (mut watcher, _) = WireClient::join(stranger_port, "Watcher").await;
    let (_, ack, _) = claim(first_port, "Ana", Some(json!({"owner": secret}))).await;
    assert_eq!(ack, vec![json!(false)]);
    let told = tokio::time::timeout(Duration::from_millis(1500), back.event("signed out")).await;
    assert_eq!(told.expect("the other tab is told")[0]["code"], json!("signed_in_elsewhere"));
    let announced = watcher.events_within("announcement", Duration::from_millis(500)).await;
    assert!(announced.is_empty(), "nobody arrived: {announced:?}");
    // The signed-out tab cannot forget the name for its owner.
    back.emit("forget me", &[], Some(3)).await;
    assert_eq!(back.ack(3).await[0]["code"], json!("signed_in_elsewhere"));
}

/// "forget me": the holder gives the name up, with its ownership; anyone may claim it.
async fn forget_sequence(ports: [u16; 2]) {
    let [owner_port, stranger_port] = ports;
    let (mut owner, _, grant) = claim(owner_port, "Bo", Some(json!({"own": true}))).await;
    let secret = secret_of(&grant);
    let (mut stranger, _) = WireClient::join(stranger_port, "Cy").await;
    stranger.emit("forget me", &[], Some(5)).await;
    assert_eq!(
        stranger.ack(5).await,
        vec![json!(null), json!({"nickname": "Cy"})],
        "an unowned name: a leave"
    );
    owner.emit("forget me", &[], Some(2)).await;
    assert_eq!(owner.ack(2).await, vec![json!(null), json!({"nickname": "Bo"})]);
    owner.emit("user message", &[json!("still Bo?")], Some(3)).await;
    assert_eq!(owner.ack(3).await[0]["code"], json!("not_named"), "unnamed now");
    let (_, grant) = WireClient::claim_when_free(stranger_port, "Bo", None, |_| true).await;
    assert!(grant.get("owner_secret").is_none(), "ephemeral");
    // The old secret owns nothing: a claim with it gets a new one, for a free name.
    let (_, ack, grant) = claim(owner_port, "Bob", Some(json!({"owner": secret}))).await;
    assert_eq!(ack, vec![json!(false)]);
    assert_ne!(secret_of(&grant), secret, "nobody keeps a forgotten secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owned_nickname_stays_its_owners() {
    let server = ChatServer::start();
    let p = server.port;
    owned_sequence([p, p, p]).await;
    forget_sequence([p, p]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owned_nickname_survives_a_restart_and_an_original_client_cannot_take_it() {
    let mut server = ChatServer::start();
    let (ana, _, grant) = claim(server.port, "Ana", Some(json!({"own": true}))).await;
    let secret = secret_of(&grant);
    ana.close().await;
    // A graceful stop writes everything; the secret itself is stored nowhere (its hash is).
    server.terminate();
    server.wait_exit(Duration::from_secs(15)).expect("stopped");
    for entry in std::fs::read_dir(&server.data_dir).expect("data dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is in {path:?}");
    }
    server.restart();
    // The socket.io client library, as the original page used it: refused.
    let original = ChatClient::connect(&server.url()).await;
    let ack = original.nickname("Ana").await;
    assert_eq!(ack[0], json!(true), "the original's `taken`: {ack:?}");
    assert_eq!(ack[1]["code"], json!("nickname_owned"));
    let (_, ack, _) = claim(server.port, "Ana", Some(json!({"owner": secret}))).await;
    assert_eq!(ack, vec![json!(false)], "its owner, after the restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn owning_another_nickname_frees_the_first() {
    let server = ChatServer::start();
    let (ana, _, grant) = claim(server.port, "Ana", Some(json!({"own": true}))).await;
    let secret = secret_of(&grant);
    ana.close().await;
    let (_, ack, grant) = claim(server.port, "Anna", Some(json!({"owner": secret}))).await;
    assert_eq!(ack, vec![json!(false)]);
    assert_eq!(secret_of(&grant), secret);
    let (_, grant) = WireClient::claim_when_free(server.port, "Ana", None, |_| true).await;
    assert!(grant.is_object(), "one owned nickname per owner");
}

/// `n` instances clustered on `redis`.
fn instances(redis: &RedisServer, n: usize) -> Vec<ChatServer> {
    (0..n).map(|_| ChatServer::start_with(&[], &[("CHAT_REDIS_URL", redis.url().as_str())])).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owned_nickname_stays_its_owners_across_instances() {
    let redis = RedisServer::start();
    let mut servers = instances(&redis, 3);
    let ports = [servers[0].port, servers[1].port, servers[2].port];
    owned_sequence(ports).await;
    forget_sequence([ports[2], ports[0]]).await;
    // Its owner's instance dies: the name stays hers on the others.
    let (_, _, grant) = claim(ports[0], "Dee", Some(json!({"own": true}))).await;
    let secret = secret_of(&grant);
    servers[0].kill_hard();
    let (_, ack, _) = claim(ports[1], "Dee", None).await;
    assert!(ack[0] == json!(true), "held or owned: {ack:?}");
    let (_, ack, _) = claim(ports[2], "Dee", Some(json!({"owner": secret}))).await;
    assert_eq!(ack, vec![json!(false)], "its owner, on another instance");
}

/// In a cluster `forget me` is answered once Redis has freed the name: a claim sent right
/// after the answer, on another instance, gets it (owned or not); while Redis is frozen there
/// is no answer. The answer used to come first, and such a claim was `nickname_taken` for a
/// moment.
#[tokio::test(flavor = "multi_thread")]
async fn a_forgotten_nickname_is_free_on_every_instance_once_forget_me_is_answered() {
    let redis = RedisServer::start();
    let servers = instances(&redis, 2);
    for round in 0..6 {
        let nick = format!("Fay{round}");
        let mut holder = if round % 2 == 0 {
            WireClient::own(servers[0].port, &nick, json!({"own": true})).await.0
        } else {
            WireClient::join(servers[0].port, &nick).await.0
        };
        let mut stranger = WireClient::connect(servers[1].port).await;
        holder.emit("forget me", &[], Some(2)).await;
        assert_eq!(holder.ack(2).await, vec![json!(null), json!({"nickname": nick})]);
        stranger.emit("nickname", &[json!(nick)], Some(1)).await;
        assert_eq!(stranger.ack(1).await, vec![json!(false)], "round {round}: {nick} free at once");
    }
    // While Redis does not answer, neither does `forget me`.
    let (mut holder, _) = WireClient::own(servers[0].port, "Gus", json!({"own": true})).await;
    redis.pause();
    holder.emit("forget me", &[], Some(2)).await;
    let early = tokio::time::timeout(Duration::from_millis(300), holder.ack_unconfirmed(2)).await;
    redis.resume();
    assert!(early.is_err(), "answered before Redis heard: {early:?}");
    assert_eq!(holder.ack(2).await, vec![json!(null), json!({"nickname": "Gus"})]);
    let (_, ack, _) = claim(servers[1].port, "Gus", None).await;
    assert_eq!(ack, vec![json!(false)], "Gus is free once forget me is answered");
}

/// One address cannot squat names by the thousand: past its burst of new owned nicknames a
/// claim is granted, but ephemeral (no owner secret); another address still owns its own.
#[tokio::test(flavor = "multi_thread")]
async fn an_address_owns_a_bounded_number_of_new_nicknames() {
    let server = ChatServer::start();
    let burst = chat_shared::limits::ADDRESS_NEW_OWNERS_BURST;
    let mut held = Vec::new();
    for i in 0..burst {
        let (c, ack, grant) = claim(server.port, &format!("Squat{i}"), Some(json!({"own": true}))).await;
        assert_eq!(ack, vec![json!(false)]);
        assert!(!secret_of(&grant).is_empty(), "owned within the burst");
        held.push(c);
    }
    let (_, ack, grant) = claim(server.port, "SquatMore", Some(json!({"own": true}))).await;
    assert_eq!(ack, vec![json!(false)], "still a nickname");
    assert!(grant.expect("a grant").get("owner_secret").is_none(), "but not owned");
    let mut other = WireClient::try_connect_from(server.port, [127, 0, 0, 2]).await.expect("connects");
    other.emit("nickname", &[json!("Elsewhere"), json!({"own": true})], Some(1)).await;
    assert_eq!(other.ack(1).await, vec![json!(false)]);
    assert!(other.event("session").await[0]["owner_secret"].is_string(), "another address owns its own");
}

/// Stored rows of `table` (alone: the chat's SQLite file, read beside the running server).
fn rows(server: &ChatServer, table: &str) -> i64 {
    let db = rusqlite::Connection::open(server.data_dir.join("chat.sqlite3")).expect("open the chat's file");
    db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).expect("count rows")
}

/// Waits until `counted` is `want`.
async fn until(want: i64, what: &str, counted: impl Fn() -> i64) {
    for _ in 0..100 {
        if counted() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counted(), want, "{what}");
}

/// Ana (owned) is in a room of her own and wrote to Bo; her rooms and conversations are kept
/// with her ownership. The client connections, and Ana's secret.
async fn ana_with_a_room_and_a_conversation(port: u16) -> (WireClient, WireClient, String) {
    let (mut ana, _, grant) = claim(port, "Ana", Some(json!({"own": true}))).await;
    let (bo, _, _) = claim(port, "Bo", Some(json!({"own": true}))).await;
    ana.emit("create room", &[json!({"name": "den"})], Some(2)).await;
    assert_eq!(ana.ack(2).await[0], Value::Null);
    ana.emit("direct message", &[json!({"to": "Bo", "text": "hi"})], Some(3)).await;
    assert_eq!(ana.ack(3).await[0], Value::Null);
    (ana, bo, secret_of(&grant))
}

/// Moving the secret to another name ends the first ownership, as "forget me" does: its rooms
/// and its list of conversations go from storage instead of staying there for good (a loop of
/// moves and joins grew them without end).
#[tokio::test(flavor = "multi_thread")]
async fn owning_another_nickname_drops_the_first_ones_rooms_and_conversations() {
    let server = ChatServer::start();
    let (ana, _bo, secret) = ana_with_a_room_and_a_conversation(server.port).await;
    until(1, "Ana's room kept", || rows(&server, "memberships")).await;
    until(2, "both sides' conversation lists", || rows(&server, "directs")).await;
    ana.close().await;
    let (_, ack, _) = claim(server.port, "Anna", Some(json!({"owner": secret}))).await;
    assert_eq!(ack, vec![json!(false)]);
    until(0, "the released ownership's room", || rows(&server, "memberships")).await;
    until(1, "Bo's list stays", || rows(&server, "directs")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn owning_another_nickname_drops_the_first_ones_rooms_and_conversations_in_a_cluster() {
    let redis = RedisServer::start();
    let servers = instances(&redis, 2);
    let cli = |args: &[&str]| -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let named = |pattern: &str| -> Vec<String> {
        cli(&["--scan", "--pattern", pattern]).lines().map(str::to_owned).collect()
    };
    let keys = |pattern: &str| named(pattern).len() as i64;
    let (ana, _bo, secret) = ana_with_a_room_and_a_conversation(servers[0].port).await;
    until(1, "Ana's room kept", || keys("chat:member-of:*")).await;
    until(2, "both sides' conversation lists", || keys("chat:directs:*")).await;
    // The lists live as long as an ownership (a reservation time), so that one that ran out
    // leaves none behind.
    for key in [named("chat:directs:*"), named("chat:direct-peers:*"), named("chat:dm-keys:*")].concat() {
        let ttl: i64 = cli(&["PTTL", &key]).trim().parse().expect("a PTTL");
        assert!(ttl > 0, "{key} expires: {ttl}");
    }
    ana.close().await;
    let (_, ack, _) = claim(servers[1].port, "Anna", Some(json!({"owner": secret}))).await;
    assert_eq!(ack, vec![json!(false)]);
    until(0, "the released ownership's room", || keys("chat:member-of:*")).await;
    until(1, "Bo's list stays", || keys("chat:directs:*")).await;
}

/// A tab still holding the name whose ownership its secret gave up (another tab claimed
/// another name with it) keeps the name, but its rooms are no longer kept: the ended
/// ownership's rooms do not come back through it.
#[tokio::test(flavor = "multi_thread")]
async fn a_tab_still_holding_a_released_name_is_not_kept_in_rooms() {
    let server = ChatServer::start();
    let (mut ana, _, grant) = claim(server.port, "Ana", Some(json!({"own": true}))).await;
    ana.emit("create room", &[json!({"name": "den"})], Some(2)).await;
    assert_eq!(ana.ack(2).await[0], Value::Null);
    until(1, "Ana's room kept", || rows(&server, "memberships")).await;
    let (_anna, ack, _) = claim(server.port, "Anna", Some(json!({"owner": secret_of(&grant)}))).await;
    assert_eq!(ack, vec![json!(false)]);
    until(0, "the released ownership's room", || rows(&server, "memberships")).await;
    ana.emit("create room", &[json!({"name": "nook"})], Some(3)).await;
    assert_eq!(ana.ack(3).await[0], Value::Null, "it still speaks as Ana");
    ana.emit("join room", &[json!({"room": "den"})], Some(4)).await;
    assert_eq!(ana.ack(4).await[0], Value::Null);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rows(&server, "memberships"), 0, "not kept for an ownership that ended");
}

/// `forget me` while Redis is down is answered (after the Redis timeouts), and once Redis is
/// back the name is free on every instance: the instance's Redis client sends the disown and
/// the release queued during the outage when it reconnects (an ownership left behind would keep
/// the name `nickname_owned`, by nobody's secret, until its reservation ran out).
#[tokio::test(flavor = "multi_thread")]
async fn a_nickname_forgotten_during_a_redis_outage_is_free_once_redis_is_back() {
    let mut redis = RedisServer::start();
    let servers = instances(&redis, 2);
    let (mut holder, _) = WireClient::own(servers[0].port, "Hal", json!({"own": true})).await;
    redis.stop();
    holder.emit("forget me", &[], Some(2)).await;
    assert_eq!(holder.ack(2).await, vec![json!(null), json!({"nickname": "Hal"})]);
    redis.start_again();
    let busy = |code: &str| code == "nickname_taken" || code == "nickname_owned";
    let (_, grant) = WireClient::claim_when_free(servers[1].port, "Hal", None, busy).await;
    assert_eq!(grant["nickname"], json!("Hal"));
}
