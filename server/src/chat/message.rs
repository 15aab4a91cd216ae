//! `user message` (msg, {key}?, ack?): validate a line from the connection that holds its
//! nickname now (the roster says so), then hand it to the journal, which stores it, delivers it
//! to everyone else signed with that nickname, and acks the sender with its id and timestamp.

use chat_shared::limits::MESSAGE_KEY_MAX_CHARS;
use chat_shared::protocol::{Answer, ClientEvent, MessageMeta, SendRequest};
use chat_shared::{ChatError, ErrorCode, MessageText};

use super::incoming::Incoming;
use super::journal::Pending;
use super::{Chat, LogId};
use crate::history::NewMessage;

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let accepted = session.allow_message(|| chat.admission.allow_message(session.address)).and_then(|()| {
        let from = chat.speaker(&session, socket.id)?;
        let request = req.arg::<SendRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        if request.key.as_ref().is_some_and(|k| k.is_empty() || k.chars().count() > MESSAGE_KEY_MAX_CHARS) {
            return Err(ChatError::with_limit(ErrorCode::BadPayload, MESSAGE_KEY_MAX_CHARS));
        }
        let text = MessageText::parse(&request.text)?;
        // Keys are the holder's: a later holder of the nickname does not share them.
        let key = request.key.map(|k| from.tenure.scope(&k));
        Ok(NewMessage { room: None, from: from.nickname.to_string(), text: text.as_str().to_owned(), key })
    });
    let reply = req.reply();
    match accepted {
        Ok(message) => {
            // Its readers stop showing the typist when the line arrives.
            session.set_typing(false);
            chat.journal.submit(Pending { socket, reply, message });
        }
        Err(error) => {
            tracing::debug!(conn = %LogId::of(socket.id), code = ?error.code, "message refused");
            crate::metrics::message_rejected(error.code);
            reply.send(ClientEvent::UserMessage, &Answer::<MessageMeta>(Err(error.clone())), Some(&error));
        }
    }
}
