//! Handling a client's event inline, in the order its packets arrive. socketioxide spawns one
//! task per event for its async handlers, so two messages from one client could overtake each
//! other (and be delivered out of order); our handlers never wait, so they run in place.

use std::marker::PhantomData;
use std::sync::Arc;

use chat_shared::protocol::ClientEvent;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use socketioxide::ParserError;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value};
use socketioxide::socket::Socket;

use super::Chat;
use super::receipts::Slot;
use super::reply::Reply;
use super::session::Session;
use crate::cluster::ChatAdapter;

/// One event from a client: who sent it, its raw arguments, and whether it wants an ack.
pub struct Incoming {
    socket: Arc<Socket<ChatAdapter>>,
    session: Option<Arc<Session>>,
    args: Value,
    ack_id: Option<i64>,
    /// A bulky request's place among the answers on their way (see `receipts`).
    slot: Option<Slot>,
}

impl Incoming {
    pub fn socket(&self) -> SocketRef<ChatAdapter> {
        SocketRef::from(self.socket.clone())
    }

    /// The connection's session (every connection gets one before it is confirmed).
    pub fn session(&self) -> Option<Arc<Session>> {
        self.session.clone()
    }

    /// The first argument, parsed as `T`.
    pub fn arg<T: DeserializeOwned>(&mut self) -> Result<T, ParserError> {
        match TryData::<T>::from_message_parts(&self.socket, &mut self.args, &self.ack_id) {
            Ok(TryData(parsed)) => parsed,
            Err(never) => match never {},
        }
    }

    /// The way back to the sender: its ack if it asked for one.
    pub fn reply(&mut self) -> Reply {
        let ack = match self.ack_id {
            Some(_) => match AckSender::from_message_parts(&self.socket, &mut self.args, &self.ack_id) {
                Ok(sender) => Some(sender),
                Err(never) => match never {},
            },
            None => None,
        };
        Reply::new(self.socket(), ack, self.slot.take())
    }
}

/// The one socketioxide handler of a connection: finds the chat handler of each event by its
/// name and runs it inline. Events no client may send are ignored (as socketioxide ignores an
/// event nobody registered).
pub struct InOrder {
    chat: Chat,
}

impl InOrder {
    pub fn new(chat: Chat) -> Self {
        Self { chat }
    }
}

/// Marker type for the `MessageHandler` impl (socketioxide keys its impls on a type parameter).
pub struct Inline(PhantomData<()>);

impl MessageHandler<ChatAdapter, Inline> for InOrder {
    fn call(&self, socket: Arc<Socket<ChatAdapter>>, args: Value, ack_id: Option<i64>) {
        // One lookup of the session per event, shared by the handler and the flood check.
        let session = socket.extensions.get::<Arc<Session>>();
        // A connection the server is closing (a flooder, a slow reader) costs nothing more:
        // what it still sends is dropped unanswered (a page resends its unacked lines after
        // reconnecting, with their keys).
        if session.as_ref().is_some_and(|s| s.closing()) {
            return;
        }
        let Some(event) = event_of(&args) else { return };
        let handler = super::handler_of(event);
        let flooding = session.clone();
        let mut req = Incoming { socket: socket.clone(), session, args, ack_id, slot: None };
        // A bulky answer needs a place among those on their way, before any work is done.
        match req.session.as_ref().filter(|_| event.is_bulky() && ack_id.is_some()).map(Slot::reserve) {
            Some(Err(refusal)) => {
                if let Some(session) = &req.session {
                    session.count_refusal();
                }
                req.reply().answer::<()>(event, Err(refusal));
            }
            Some(Ok(slot)) => {
                req.slot = Some(slot);
                handler(&self.chat, req);
            }
            None => handler(&self.chat, req),
        }
        // A client that keeps going far past its rate limit is closed, and its address may
        // not come back for a while.
        if let Some(flooder) = flooding.filter(|s| s.flooding())
            && super::fanout::close_soon(
                &SocketRef::from(socket),
                "flooding past its rate limit: closing the connection",
            )
        {
            crate::metrics::flood_closed();
            self.chat.admission.penalize(flooder.address);
        }
    }
}

/// The event a packet's arguments (`["name", ...]`) name, if a client may send it. Reads only
/// the name (socketioxide's `Event` extractor would scan the whole payload again and copy the
/// name): an escaped name cannot be borrowed and is no event of ours, as socketioxide refuses it.
fn event_of(args: &Value) -> Option<ClientEvent> {
    let rest = args.as_str()?.trim_start().strip_prefix('[')?;
    let name = <&str>::deserialize(&mut serde_json::Deserializer::from_str(rest)).ok()?;
    ClientEvent::from_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: &str) -> Value {
        Value::Str(json.to_owned().into(), None)
    }

    #[test]
    fn the_event_is_read_from_the_name_alone() {
        assert_eq!(event_of(&args(r#"["nickname","ada"]"#)), Some(ClientEvent::Nickname));
        assert_eq!(event_of(&args(r#"["user message"]"#)), Some(ClientEvent::UserMessage));
        assert_eq!(
            event_of(&args(r#" [ "moderation log" , {"x": [1, 2]} ]"#)),
            Some(ClientEvent::ModerationLog)
        );
        // The rest is not read: what follows the name is the handler's to judge.
        assert_eq!(event_of(&args(r#"["typing", not json"#)), Some(ClientEvent::Typing));
    }

    #[test]
    fn what_names_no_event_of_ours_is_none() {
        assert_eq!(event_of(&args(r#"["announcement","x"]"#)), None, "a server's event");
        assert_eq!(event_of(&args(r#"["nick\u0061me","ada"]"#)), None, "escaped");
        assert_eq!(event_of(&args(r#"[1,"nickname"]"#)), None);
        assert_eq!(event_of(&args(r#"{"nickname":1}"#)), None);
        assert_eq!(event_of(&args("[]")), None);
        assert_eq!(event_of(&args("")), None);
    }
}
