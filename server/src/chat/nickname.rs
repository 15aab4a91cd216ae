//! `nickname` (nick, ack): claim a unique nickname, announce it, update everyone's list, and
//! give the connection its resume token (`session`).

use crate::cluster::ChatAdapter;
use chat_shared::protocol::{Announcement, ClientEvent, NicknameAck, ServerEvent, SessionGrant};
use chat_shared::{ChatError, ErrorCode, Nickname};
use socketioxide::extract::SocketRef;

use super::incoming::Incoming;
use super::session::Session;
use super::{Chat, fanout, new_token};

enum Claimed {
    /// The socket now has this nickname, with this resume token.
    New(Nickname, String),
    /// The socket asked again for the nickname it already has: nothing changes.
    Again,
}

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let claimed = session
        .allow_nickname_attempt()
        .and_then(|()| req.arg::<String>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|raw| claim(&session, chat, &socket, &raw));
    let reply = req.reply();
    match claimed {
        Ok(claimed) => {
            reply.send(ClientEvent::Nickname, &NicknameAck::Accepted, None);
            if let Claimed::New(nick, token) = claimed {
                tracing::info!(conn = %socket.id, nickname = %nick, "nickname set");
                chat.record_reservation(&nick, &token, i64::MAX);
                let grant = SessionGrant { nickname: nick.to_string(), resume_token: token };
                fanout::to_one(&socket, ServerEvent::Session, &grant);
                let others = socket.broadcast().sockets();
                let came = Announcement::connected(&nick);
                fanout::to_each(others, ServerEvent::Announcement, &came);
                chat.elsewhere.send(ServerEvent::Announcement, came);
                chat.nicknames_changed.notify();
            }
        }
        Err(error) => {
            tracing::debug!(conn = %socket.id, code = ?error.code, "nickname refused");
            reply.send(ClientEvent::Nickname, &NicknameAck::Rejected(error.clone()), Some(&error));
        }
    }
}

fn claim(
    session: &Session,
    chat: &Chat,
    socket: &SocketRef<ChatAdapter>,
    raw: &str,
) -> Result<Claimed, ChatError> {
    let nick = Nickname::parse(raw)?;
    if let Some(current) = session.nickname() {
        return if current.key() == nick.key() {
            Ok(Claimed::Again)
        } else {
            Err(ChatError::new(ErrorCode::AlreadyNamed))
        };
    }
    let token = new_token();
    chat.roster.claim(&nick, socket.id, token.clone())?;
    if !session.set_nickname(nick.clone()) {
        // Cannot happen while handlers run in order; kept so the roster never leaks a name.
        chat.roster.release(&nick, socket.id);
        return Err(ChatError::new(ErrorCode::AlreadyNamed));
    }
    Ok(Claimed::New(nick, token))
}
