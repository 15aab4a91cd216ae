//! `about`: what the first screen says before anyone is named.

use chat_tests::{ChatServer, WireClient};
use serde_json::json;

/// The first screen's `about`: the operator's name and line, and how many are online.
#[tokio::test(flavor = "multi_thread")]
async fn about_says_what_the_chat_is_and_how_many_are_here() {
    let server = ChatServer::start_with(&["--chat-name", "Het Plein", "--chat-about", "Praat mee."], &[]);
    let (_ana, _) = WireClient::join(server.port, "Ana").await;
    let mut newcomer = WireClient::connect(server.port).await;
    newcomer.emit("about", &[], Some(1)).await;
    assert_eq!(
        newcomer.ack(1).await,
        vec![json!(null), json!({"name": "Het Plein", "about": "Praat mee.", "online": 1})]
    );
    let plain = ChatServer::start();
    let mut c = WireClient::connect(plain.port).await;
    c.emit("about", &[], Some(1)).await;
    assert_eq!(c.ack(1).await, vec![json!(null), json!({"online": 0})], "nothing set: the page's own words");
}
