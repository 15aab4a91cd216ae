//! Answering a client's request: by its ack when it asked for one, otherwise (for refusals
//! only) by a `chat error` event, so that a client without acks still learns why.

use chat_shared::ChatError;
use chat_shared::protocol::{ChatErrorEvent, ClientEvent, ServerEvent};
use serde::Serialize;
use socketioxide::extract::{AckSender, SocketRef};

use super::fanout;
use crate::cluster::ChatAdapter;

/// The way back to the client that sent the event being handled.
pub struct Reply {
    socket: SocketRef<ChatAdapter>,
    ack: Option<AckSender<ChatAdapter>>,
}

impl Reply {
    pub fn new(socket: SocketRef<ChatAdapter>, ack: Option<AckSender<ChatAdapter>>) -> Self {
        Self { socket, ack }
    }

    /// Answers `event` with `Answer(result)`: by its ack, or (a refusal, without an ack) by a
    /// `chat error` event.
    pub fn answer<T: Serialize>(self, event: ClientEvent, result: Result<T, ChatError>) {
        let refusal = result.as_ref().err().cloned();
        self.send(event, &chat_shared::protocol::Answer(result), refusal.as_ref());
    }

    /// Acks with `ack` if the client asked for an ack; otherwise, if `refusal` is set, emits
    /// it as a `chat error` event.
    pub fn send<T: Serialize>(self, event: ClientEvent, ack: &T, refusal: Option<&ChatError>) {
        let result = match (self.ack, refusal) {
            (Some(sender), _) => sender.send(ack),
            (None, Some(error)) => {
                let payload = ChatErrorEvent { event: event.name().to_owned(), error: error.clone() };
                self.socket.emit(ServerEvent::ChatError.name(), &payload)
            }
            (None, None) => Ok(()),
        };
        if let Err(e) = result {
            fanout::failed(&self.socket, e);
        }
    }
}
