//! `nickname` (nick, ack): claim a unique nickname, announce it, update everyone's list.

use chat_shared::protocol::{Announcement, ClientEvent, NicknameAck, ServerEvent};
use chat_shared::{ChatError, ErrorCode, Nickname};

use super::incoming::Incoming;
use super::session::Session;
use super::{Chat, fanout};

enum Claimed {
    /// The socket now has this nickname.
    New(Nickname),
    /// The socket asked again for the nickname it already has: nothing changes.
    Again,
}

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let claimed = session
        .allow_nickname_attempt()
        .and_then(|()| req.arg::<String>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|raw| claim(&session, chat, &raw));
    let reply = req.reply();
    match claimed {
        Ok(claimed) => {
            reply.send(ClientEvent::Nickname, &NicknameAck::Accepted, None);
            if let Claimed::New(nick) = claimed {
                tracing::info!(sid = %socket.id, nickname = %nick, "nickname set");
                let others = socket.broadcast().sockets();
                fanout::to_each(others, ServerEvent::Announcement, &Announcement::connected(&nick));
                chat.nicknames_changed.notify();
            }
        }
        Err(error) => {
            tracing::debug!(sid = %socket.id, code = ?error.code, "nickname refused");
            reply.send(ClientEvent::Nickname, &NicknameAck::Rejected(error.clone()), Some(&error));
        }
    }
}

fn claim(session: &Session, chat: &Chat, raw: &str) -> Result<Claimed, ChatError> {
    let nick = Nickname::parse(raw)?;
    if let Some(current) = session.nickname() {
        return if current.key() == nick.key() {
            Ok(Claimed::Again)
        } else {
            Err(ChatError::new(ErrorCode::AlreadyNamed))
        };
    }
    chat.roster.claim(&nick)?;
    if !session.set_nickname(nick.clone()) {
        // Cannot happen while handlers run in order; kept so the roster never leaks a name.
        chat.roster.release(&nick);
        return Err(ChatError::new(ErrorCode::AlreadyNamed));
    }
    Ok(Claimed::New(nick))
}
