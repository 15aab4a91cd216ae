//! Look-alike nicknames against the real binary (issue 15): a name spelt with letters of another
//! script that look the same (Cyrillic `Аna` for `Ana`), or with ASCII look-alikes (`AIex` with
//! a capital i for `Alex`), is the name it imitates: taken while that one is online, reserved if
//! that one is reserved. Names that merely use another script are as welcome as before.

use chat_tests::{ChatServer, TestClient};
use serde_json::{Value, json};

fn code(ack: &[Value]) -> &str {
    ack.get(1).and_then(|r| r["code"].as_str()).unwrap_or("<no reason>")
}

/// `nick` is refused with `want`, and the connection stays free to pick another name.
async fn refused(client: &TestClient, nick: &str, want: &str) {
    let ack = client.nickname(nick).await;
    assert_eq!(
        ack.first(),
        Some(&json!(true)),
        "{nick:?} ({}) must be refused: {ack:?}",
        nick.escape_unicode()
    );
    assert_eq!(code(&ack), want, "{nick:?} ({})", nick.escape_unicode());
}

#[tokio::test(flavor = "multi_thread")]
async fn look_alike_of_an_online_nickname_is_taken() {
    let server = ChatServer::start();
    let mut ana = TestClient::join(&server.url(), "Ana").await;
    let _alex = TestClient::join(&server.url(), "Alex").await;
    let mallory = TestClient::connect(&server.url()).await;

    for fake in [
        "\u{410}na",                // Cyrillic А
        "An\u{430}",                // Cyrillic а
        "\u{410}N\u{410}",          // Cyrillic А, Latin N, Cyrillic А
        "\u{391}na",                // Greek Α
        "\u{FF21}\u{FF4E}\u{FF41}", // fullwidth, as before
        "AIex",                     // capital i for small L
        "A1ex",                     // digit one
        "\u{410}l\u{435}x",         // Cyrillic А, е
    ] {
        refused(&mallory, fake, "nickname_taken").await;
    }
    // Nobody else appeared.
    assert_eq!(mallory.nickname("Mallory").await, vec![json!(false)]);
    ana.nicknames_become(&["Ana", "Alex", "Mallory"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_look_alike_that_came_first_holds_the_name() {
    let server = ChatServer::start();
    // First come, first served, whichever spelling came first.
    let _fake = TestClient::join(&server.url(), "\u{405}am").await; // Cyrillic Ѕ
    let sam = TestClient::connect(&server.url()).await;
    refused(&sam, "Sam", "nickname_taken").await;
    refused(&sam, "SAM", "nickname_taken").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn look_alikes_of_reserved_nicknames_are_reserved() {
    let server = ChatServer::start();
    let mallory = TestClient::connect(&server.url()).await;
    for fake in [
        "\u{405}ystem",                         // Cyrillic Ѕ
        "\u{405}Y\u{405}\u{422}\u{415}\u{41C}", // Cyrillic Ѕ, Ѕ, Т, Е, М
        "m\u{435}",                             // Cyrillic е
        "\u{41C}\u{415}",                       // Cyrillic М, Е
        "\u{455}erver",                         // Cyrillic ѕ
        "\u{410}dmin",                          // Cyrillic А
        "m\u{3BF}derator",                      // Greek ο
    ] {
        refused(&mallory, fake, "nickname_reserved").await;
    }
    // A blank that is not whitespace (the blank Braille pattern) after or between words.
    for padded in ["System\u{2800}", "me\u{2800}", "Ana\u{2800}\u{2800}Bel"] {
        refused(&mallory, padded, "nickname_invalid_char").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn names_in_other_scripts_are_still_accepted() {
    let server = ChatServer::start();
    let url = server.url();
    let mut watcher = TestClient::join(&url, "Ana").await;
    let names = [
        "Anna",                                // close to Ana, but not a look-alike
        "\u{BBFC}\u{C218}",                    // 민수
        "\u{BBFC}\u{C9C0}",                    // 민지
        "\u{386}\u{3BD}\u{3BD}\u{3B1}",        // Άννα
        "\u{418}\u{432}\u{430}\u{43D}",        // Иван
        "Ivan",                                // a transliteration is another name
        "\u{39D}\u{3AF}\u{3BA}\u{3BF}\u{3C2}", // Νίκος
        "\u{674E}\u{660E}",                    // 李明
        "\u{627}\u{62D}\u{645}\u{62F}",        // احمد
        "Zo\u{EB} \u{1F389}",                  // Zoë 🎉
    ];
    let mut clients = Vec::new();
    for name in names {
        clients.push(TestClient::join(&url, name).await);
    }
    let mut all = vec!["Ana"];
    all.extend(names);
    watcher.nicknames_become(&all).await;
    // And each is now taken in its own case.
    let late = TestClient::connect(&url).await;
    refused(&late, "\u{418}\u{412}\u{410}\u{41D}", "nickname_taken").await; // ИВАН
    refused(&late, "\u{386}\u{39D}\u{39D}\u{391}", "nickname_taken").await; // ΆΝΝΑ
}
