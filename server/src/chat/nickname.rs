//! `nickname` (nick, ack): claim a unique nickname, announce it, update everyone's list.

use std::sync::Arc;

use chat_shared::protocol::{Announcement, ClientEvent, NicknameAck, ServerEvent};
use chat_shared::{ChatError, ErrorCode, Nickname};
use socketioxide::ParserError;
use socketioxide::extract::{Extension, SocketRef, State, TryData};

use super::reply::Reply;
use super::session::Session;
use super::{Chat, fanout};

enum Claimed {
    /// The socket now has this nickname.
    New(Nickname),
    /// The socket asked again for the nickname it already has: nothing changes.
    Again,
}

pub async fn handle(
    socket: SocketRef,
    TryData(raw): TryData<String>,
    Extension(session): Extension<Arc<Session>>,
    State(chat): State<Chat>,
    reply: Reply,
) {
    match claim(&session, &chat, raw) {
        Ok(claimed) => {
            reply.send(ClientEvent::Nickname, &NicknameAck::Accepted, None);
            if let Claimed::New(nick) = claimed {
                tracing::info!(sid = %socket.id, nickname = %nick, "nickname set");
                let others = socket.broadcast().sockets();
                fanout::to_each(
                    others,
                    ServerEvent::Announcement,
                    &Announcement::connected(&nick),
                );
                chat.nicknames_changed.notify();
            }
        }
        Err(error) => {
            tracing::debug!(sid = %socket.id, code = ?error.code, "nickname refused");
            reply.send(
                ClientEvent::Nickname,
                &NicknameAck::Rejected(error.clone()),
                Some(&error),
            );
        }
    }
}

fn claim(
    session: &Session,
    chat: &Chat,
    raw: Result<String, ParserError>,
) -> Result<Claimed, ChatError> {
    session.allow_nickname_attempt()?;
    let raw = raw.map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
    let nick = Nickname::parse(&raw)?;
    if let Some(current) = session.nickname() {
        return if current.key() == nick.key() {
            Ok(Claimed::Again)
        } else {
            Err(ChatError::new(ErrorCode::AlreadyNamed))
        };
    }
    chat.roster.claim(&nick)?;
    if !session.set_nickname(nick.clone()) {
        // Another `nickname` from this socket won the race: keep its name, free this one.
        chat.roster.release(&nick);
        return Err(ChatError::new(ErrorCode::AlreadyNamed));
    }
    Ok(Claimed::New(nick))
}
