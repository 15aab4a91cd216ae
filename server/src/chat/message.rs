//! `user message` (msg, ack?): deliver a line to everyone else, signed with the sender's
//! nickname as the server knows it.

use chat_shared::protocol::{ClientEvent, SendAck, ServerEvent, UserMessage};
use chat_shared::{ChatError, ErrorCode, MessageText};

use super::fanout;
use super::incoming::Incoming;

pub fn handle(mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let accepted = session.allow_message().and_then(|()| {
        let from = session.nickname().ok_or_else(|| ChatError::new(ErrorCode::NotNamed))?;
        let raw = req.arg::<String>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        Ok((from, MessageText::parse(&raw)?))
    });
    let reply = req.reply();
    match accepted {
        Ok((from, text)) => {
            fanout::to_each(
                socket.broadcast().sockets(),
                ServerEvent::UserMessage,
                &UserMessage(from, &text),
            );
            reply.send(ClientEvent::UserMessage, &SendAck(Ok(())), None);
        }
        Err(error) => {
            tracing::debug!(sid = %socket.id, code = ?error.code, "message refused");
            reply.send(ClientEvent::UserMessage, &SendAck(Err(error.clone())), Some(&error));
        }
    }
}
