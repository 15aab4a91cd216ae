//! A benchmark peer, not the product: the original chat's logic (../shared/docs/ORIGINAL.md,
//! the same as the Node reference's server.js) ported naively onto socketioxide's own
//! broadcast, with no storage, no limits and no session: what "just socketioxide" costs, to
//! stand beside chat-server in docs/benchmarks.md. A socket whose queue (4,096 packets) is
//! full silently misses what is broadcast to it, as socketioxide's broadcast does.
//!
//! Usage: PORT=3000 naive-chat (listens on 127.0.0.1; socket.io at /socket.io/).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, State};

/// The nicknames map, as the original keeps it (nickname → nickname).
type Nicknames = Arc<Mutex<BTreeMap<String, String>>>;

/// The nickname a socket took (its extension).
#[derive(Clone)]
struct Nick(String);

async fn on_connect(socket: SocketRef) {
    socket.on("user message", async |socket: SocketRef, Data(msg): Data<Value>| {
        let nick = socket.extensions.get::<Nick>().map(|n| n.0);
        let _ = socket.broadcast().emit("user message", &(nick, msg)).await;
    });
    socket.on(
        "nickname",
        async |socket: SocketRef,
               Data(nick): Data<String>,
               ack: AckSender,
               State(nicknames): State<Nicknames>| {
            let map = {
                let mut map = nicknames.lock().unwrap_or_else(|e| e.into_inner());
                if map.contains_key(&nick) {
                    drop(map);
                    let _ = ack.send(&true);
                    return;
                }
                map.insert(nick.clone(), nick.clone());
                map.clone()
            };
            let _ = ack.send(&false);
            socket.extensions.insert(Nick(nick.clone()));
            let _ = socket.broadcast().emit("announcement", &format!("{nick} connected")).await;
            let _ = socket.broadcast().emit("nicknames", &map).await;
            let _ = socket.emit("nicknames", &map);
        },
    );
    socket.on_disconnect(async |socket: SocketRef, State(nicknames): State<Nicknames>| {
        let Some(Nick(nick)) = socket.extensions.get::<Nick>() else { return };
        let map = {
            let mut map = nicknames.lock().unwrap_or_else(|e| e.into_inner());
            map.remove(&nick);
            map.clone()
        };
        let _ = socket.broadcast().emit("announcement", &format!("{nick} disconnected")).await;
        let _ = socket.broadcast().emit("nicknames", &map).await;
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let nicknames: Nicknames = Arc::default();
    let (layer, io) = SocketIo::builder().max_buffer_size(4096).with_state(nicknames).build_layer();
    io.ns("/", on_connect);
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("naive-chat listening on http://127.0.0.1:{port}");
    axum::serve(listener, app).await
}
