//! The chat: one socket.io namespace where people pick a unique nickname, see who is online,
//! talk to everyone and see who comes and goes (the original's event API, kept word for word).

mod fanout;
mod incoming;
mod leave;
mod message;
mod nickname;
mod nicknames;
mod reply;
mod roster;
mod session;

use std::convert::Infallible;
use std::sync::Arc;

use chat_shared::protocol::ClientEvent;
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, State};
use socketioxide::handler::ConnectHandler;

use incoming::InOrder;
use nicknames::NicknamesChanged;
pub use nicknames::NicknamesTask;
use roster::Roster;
use session::Session;

/// The chat's shared state, handed to every handler (socketioxide state).
#[derive(Clone)]
pub struct Chat {
    roster: Arc<Roster>,
    nicknames_changed: NicknamesChanged,
}

impl Chat {
    /// The state, and the task that sends the `nicknames` map (start it once the server runs).
    pub fn new() -> (Self, NicknamesTask) {
        let roster = Arc::new(Roster::default());
        let (nicknames_changed, task) = nicknames::coalescer(roster.clone());
        (Self { roster, nicknames_changed }, task)
    }
}

/// Registers the chat namespace. Handlers are attached in a connect *middleware*, which
/// socketioxide awaits before it confirms the connection to the client; its connect handler
/// runs in a spawned task instead, and a client that emits as soon as it is connected (the
/// socket.io JS client flushes its buffer at once) would race it and lose its first events.
pub fn register(io: &SocketIo) {
    io.ns("/", (async || {}).with(prepare));
}

/// A new connection on the chat namespace: give it a session and its event handlers.
async fn prepare(socket: SocketRef, State(chat): State<Chat>) -> Result<(), Infallible> {
    tracing::debug!(sid = %socket.id, transport = ?socket.transport_type(), "connected");
    socket.extensions.insert(Arc::new(Session::new()));
    for event in ClientEvent::ALL {
        match event {
            ClientEvent::Nickname => {
                let chat = chat.clone();
                socket.on(event.name(), InOrder::new(move |req| nickname::handle(&chat, req)));
            }
            ClientEvent::UserMessage => socket.on(event.name(), InOrder::new(message::handle)),
        }
    }
    socket.on_disconnect(leave::handle);
    Ok(())
}
