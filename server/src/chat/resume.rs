//! `resume` (token, ack): a connection takes back its nickname with the token it was given,
//! after a dropped connection or a server restart; nobody is told it was away.

use chat_shared::protocol::{Answer, ClientEvent, SessionGrant};
use chat_shared::{ChatError, ErrorCode};

use super::Chat;
use super::incoming::Incoming;

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let resumed = session
        .allow_nickname_attempt()
        .and_then(|()| req.arg::<String>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|token| {
            if session.nickname().is_some() {
                return Err(ChatError::new(ErrorCode::AlreadyNamed));
            }
            let nick = chat.roster.resume(&token, socket.id)?;
            if !session.set_nickname(nick.clone()) {
                return Err(ChatError::new(ErrorCode::AlreadyNamed));
            }
            chat.record_reservation(&nick, &token, i64::MAX);
            Ok(SessionGrant { nickname: nick.to_string(), resume_token: token })
        });
    let refusal = resumed.as_ref().err().cloned();
    match &resumed {
        Ok(grant) => tracing::info!(conn = %socket.id, nickname = %grant.nickname, "resumed"),
        Err(e) => tracing::debug!(conn = %socket.id, code = ?e.code, "resume refused"),
    }
    req.reply().send(ClientEvent::Resume, &Answer(resumed), refusal.as_ref());
    if refusal.is_none() {
        // The resumed connection needs the list too.
        chat.nicknames_changed.notify();
    }
}
