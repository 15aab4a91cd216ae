//! `user message` (msg, {key}?, ack?): validate a line from the connection that holds its
//! nickname now (the roster says so), then hand it to the journal, which stores it, delivers it
//! to everyone else signed with that nickname, and acks the sender with its id and timestamp.

use chat_shared::limits::MESSAGE_KEY_MAX_CHARS;
use chat_shared::protocol::{ClientEvent, MessageMeta, SendRequest};
use chat_shared::{ChatError, ErrorCode, MessageText};
use socketioxide::extract::SocketRef;

use super::incoming::Incoming;
use super::journal::Pending;
use super::reply::Reply;
use super::session::{Session, Speaker};
use super::{Chat, LogId};
use crate::cluster::ChatAdapter;
use crate::history::{Channel, NewMessage};

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let accepted = session.allow_message(|| chat.admission.allow_message(session.address)).and_then(|()| {
        let from = chat.speaker(&session, socket.id)?;
        let request = req.arg::<SendRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        allowed_line(chat, &from, Channel::General, &request.text, request.key)
    });
    hand_over(chat, &session, socket, req.reply(), ClientEvent::UserMessage, accepted);
}

/// A line from `from` in `channel`, checked: its text, and its idempotency key scoped to the
/// holder's tenure (a later holder of the nickname does not share them) and to the channel (a
/// key names one line in one room or conversation; `general` keeps the plain scope).
pub fn line(
    from: &Speaker,
    channel: Channel,
    text: &str,
    key: Option<String>,
) -> Result<NewMessage, ChatError> {
    if key.as_ref().is_some_and(|k| k.is_empty() || k.chars().count() > MESSAGE_KEY_MAX_CHARS) {
        return Err(ChatError::with_limit(ErrorCode::BadPayload, MESSAGE_KEY_MAX_CHARS));
    }
    let text = MessageText::parse(text)?;
    let key = key.map(|k| match &channel {
        Channel::General => from.tenure.scope(&k),
        Channel::Room(room) => from.tenure.scope(&format!("{room}\n{k}")),
        Channel::Direct(direct) => from.tenure.scope(&format!("{}\n{k}", direct.key_scope())),
    });
    Ok(NewMessage { channel, from: from.nickname.to_string(), text: text.as_str().to_owned(), key })
}

/// A line `from` may say in `channel` now: checked as [`line`] does, then against moderation
/// (a mute, a locked room, slow mode).
pub fn allowed_line(
    chat: &Chat,
    from: &Speaker,
    channel: Channel,
    text: &str,
    key: Option<String>,
) -> Result<NewMessage, ChatError> {
    let line = line(from, channel, text, key)?;
    chat.moderation.may_post(from, &line.channel)?;
    Ok(line)
}

/// Hands an accepted line to the journal (which stores it, delivers it and acks it), or
/// refuses it (as `event`).
pub fn hand_over(
    chat: &Chat,
    session: &Session,
    socket: SocketRef<ChatAdapter>,
    reply: Reply,
    event: ClientEvent,
    accepted: Result<NewMessage, ChatError>,
) {
    match accepted {
        Ok(message) => {
            // Its readers stop showing the typist when the line arrives.
            match &message.channel {
                Channel::General => {
                    session.set_typing(false);
                }
                Channel::Room(room) => session.set_typing_in(room, false),
                Channel::Direct(_) => {}
            }
            chat.journal.submit(Pending { socket, reply, message });
        }
        Err(error) => {
            tracing::debug!(conn = %LogId::of(socket.id), code = ?error.code, "message refused");
            crate::metrics::message_rejected(error.code);
            reply.answer::<MessageMeta>(event, Err(error));
        }
    }
}
