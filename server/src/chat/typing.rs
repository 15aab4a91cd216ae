//! `typing` (bool, ack?): relays "started/stopped typing" to everyone else, signed with the
//! sender's nickname. A hint, never stored; notices past the connection's typing rate are
//! dropped without an answer (but count towards flooding). A typist who drops is relayed as
//! stopped by `leave`.

use chat_shared::protocol::{Answer, ClientEvent, ServerEvent, Typing};
use chat_shared::{ChatError, ErrorCode, Nickname};
use socketioxide::extract::SocketRef;

use super::Chat;
use super::incoming::Incoming;
use crate::cluster::ChatAdapter;

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    if session.allow_typing(|| chat.admission.allow_typing(session.address)).is_err() {
        return;
    }
    let notice = chat.speaker(&session, socket.id).and_then(|speaker| {
        let typing = req.arg::<bool>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        Ok(Typing { nickname: speaker.nickname.to_string(), typing })
    });
    let reply = req.reply();
    match notice {
        Ok(notice) => {
            session.set_typing(notice.typing);
            chat.to_all(socket.broadcast().sockets(), ServerEvent::Typing, notice);
            reply.send(ClientEvent::Typing, &Answer(Ok(())), None);
        }
        Err(error) => reply.send(ClientEvent::Typing, &Answer::<()>(Err(error.clone())), Some(&error)),
    }
}

/// Tells everyone but `from` that its typist stopped (it left or dropped while typing).
pub fn stopped(chat: &Chat, from: &SocketRef<ChatAdapter>, nickname: &Nickname) {
    let notice = Typing { nickname: nickname.to_string(), typing: false };
    chat.to_all(from.broadcast().sockets(), ServerEvent::Typing, notice);
}
