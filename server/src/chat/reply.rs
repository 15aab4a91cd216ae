//! Answering a client's request: by its ack when it asked for one, otherwise (for refusals
//! only) by a `chat error` event, so that a client without acks still learns why.

use chat_shared::ChatError;
use chat_shared::protocol::{ChatErrorEvent, ClientEvent, ServerEvent};
use serde::Serialize;
use socketioxide::extract::{AckSender, SocketRef};

use super::fanout;
use super::receipts::Slot;
use crate::cluster::ChatAdapter;

/// The way back to the client that sent the event being handled.
pub struct Reply {
    socket: SocketRef<ChatAdapter>,
    ack: Option<AckSender<ChatAdapter>>,
    /// A bulky answer's reserved place (its receipt is made when it goes out).
    slot: Option<Slot>,
}

impl Reply {
    pub fn new(
        socket: SocketRef<ChatAdapter>,
        ack: Option<AckSender<ChatAdapter>>,
        slot: Option<Slot>,
    ) -> Self {
        Self { socket, ack, slot }
    }

    /// Answers `event` with `Answer(result)`: by its ack (with a receipt if it is a bulky
    /// answer), or (a refusal, without an ack) by a `chat error` event.
    pub fn answer<T: Serialize>(mut self, event: ClientEvent, result: Result<T, ChatError>) {
        let result = match (result, self.slot.take()) {
            (Ok(value), Some(slot)) => match slot.send(&value) {
                Ok(sent) => {
                    let receipted = chat_shared::protocol::Receipted(&value, sent.receipt);
                    if !self.deliver(event, &receipted, None) {
                        sent.failed();
                    }
                    return;
                }
                Err(refusal) => Err(refusal),
            },
            (result, _) => result,
        };
        let refusal = result.as_ref().err().cloned();
        self.deliver(event, &chat_shared::protocol::Answer(result), refusal.as_ref());
    }

    /// Acks with `ack` if the client asked for an ack; otherwise, if `refusal` is set, emits
    /// it as a `chat error` event. Not for bulky answers (they go through `answer`).
    pub fn send<T: Serialize>(self, event: ClientEvent, ack: &T, refusal: Option<&ChatError>) {
        debug_assert!(self.slot.is_none(), "a bulky answer goes through `answer`, with its receipt");
        self.deliver(event, ack, refusal);
    }

    /// `send`; false if it could not be queued.
    fn deliver<T: Serialize>(self, event: ClientEvent, ack: &T, refusal: Option<&ChatError>) -> bool {
        let result = match (self.ack, refusal) {
            (Some(sender), _) => sender.send(ack),
            (None, Some(error)) => {
                let payload = ChatErrorEvent { event: event.name().to_owned(), error: error.clone() };
                self.socket.emit(ServerEvent::ChatError.name(), &payload)
            }
            (None, None) => Ok(()),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                fanout::failed(&self.socket, e);
                false
            }
        }
    }
}
