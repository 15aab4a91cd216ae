//! `nickname` (nick, ack): claim a unique nickname, announce it, update everyone's list, and
//! give the connection its resume token (`session`). Alone, the roster decides at once; in a
//! cluster, Redis decides first (in a task: the claim waits for it).

use chat_shared::protocol::{Announcement, ClientEvent, NicknameAck, ServerEvent, SessionGrant};
use chat_shared::{ChatError, ErrorCode, Nickname};
use socketioxide::extract::SocketRef;

use super::incoming::Incoming;
use super::reply::Reply;
use super::session::Session;
use super::{Chat, fanout, new_token};
use crate::cluster::ChatAdapter;

/// What the connection asked for.
enum Wanted {
    /// A nickname it does not have yet.
    New(Nickname),
    /// The nickname it already has: nothing changes.
    Again,
}

enum Claimed {
    /// The socket now has this nickname, with this resume token.
    New(Nickname, String),
    Again,
}

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let wanted = session
        .allow_nickname_attempt()
        .and_then(|()| req.arg::<String>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|raw| wanted(&session, &raw));
    let reply = req.reply();
    match (wanted, &chat.presence) {
        (Ok(Wanted::New(nick)), None) => {
            let token = new_token();
            let claimed = chat
                .roster
                .claim(&nick, socket.id, token.clone())
                .and_then(|()| take(chat, &session, &socket, nick, token));
            answer(chat, &socket, reply, claimed);
        }
        (Ok(Wanted::New(nick)), Some(presence)) => {
            let (chat, presence) = (chat.clone(), presence.clone());
            tokio::spawn(async move {
                let token = new_token();
                let claimed = match presence.claim(&nick, &token).await {
                    Ok(true) => {
                        chat.roster.adopt(&nick, socket.id, token.clone());
                        let taken = take(&chat, &session, &socket, nick.clone(), token.clone());
                        if taken.is_err() {
                            let _ = presence.release(&nick, &token).await;
                        }
                        taken
                    }
                    Ok(false) => Err(ChatError::new(ErrorCode::NicknameTaken)),
                    Err(e) => {
                        tracing::warn!(conn = %socket.id, "cannot claim a nickname in the cluster: {e}");
                        Err(ChatError::new(ErrorCode::Unavailable))
                    }
                };
                answer(&chat, &socket, reply, claimed);
            });
        }
        (Ok(Wanted::Again), _) => answer(chat, &socket, reply, Ok(Claimed::Again)),
        (Err(error), _) => answer(chat, &socket, reply, Err(error)),
    }
}

fn wanted(session: &Session, raw: &str) -> Result<Wanted, ChatError> {
    let nick = Nickname::parse(raw)?;
    match session.nickname() {
        None => Ok(Wanted::New(nick)),
        Some(current) if current.key() == nick.key() => Ok(Wanted::Again),
        Some(_) => Err(ChatError::new(ErrorCode::AlreadyNamed)),
    }
}

/// The roster granted `nick` to the socket: the session takes it.
fn take(
    chat: &Chat,
    session: &Session,
    socket: &SocketRef<ChatAdapter>,
    nick: Nickname,
    token: String,
) -> Result<Claimed, ChatError> {
    if !session.set_nickname(nick.clone()) {
        // A second claim raced this one (only possible in a cluster, where claims wait for
        // Redis); the roster never keeps a name nobody has.
        chat.roster.release(&nick, socket.id);
        return Err(ChatError::new(ErrorCode::AlreadyNamed));
    }
    Ok(Claimed::New(nick, token))
}

fn answer(chat: &Chat, socket: &SocketRef<ChatAdapter>, reply: Reply, claimed: Result<Claimed, ChatError>) {
    match claimed {
        Ok(claimed) => {
            reply.send(ClientEvent::Nickname, &NicknameAck::Accepted, None);
            if let Claimed::New(nick, token) = claimed {
                tracing::info!(conn = %socket.id, nickname = %nick, "nickname set");
                chat.record_reservation(&nick, &token, i64::MAX);
                let grant = SessionGrant { nickname: nick.to_string(), resume_token: token };
                fanout::to_one(socket, ServerEvent::Session, &grant);
                chat.announce(socket.to(super::ANNOUNCED_ROOM).sockets(), Announcement::connected(&nick));
                chat.nicknames_changed.notify();
            }
        }
        Err(error) => {
            tracing::debug!(conn = %socket.id, code = ?error.code, "nickname refused");
            reply.send(ClientEvent::Nickname, &NicknameAck::Rejected(error.clone()), Some(&error));
        }
    }
}
