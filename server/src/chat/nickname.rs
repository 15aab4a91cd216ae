//! `nickname` (nick, ack): claim a unique nickname, announce it, update everyone's list, and
//! give the connection its resume token (`session`). Alone, the roster decides at once; in a
//! cluster, Redis decides first (in a task: the claim waits for it).

use chat_shared::protocol::{Announcement, ClientEvent, NicknameAck, ServerEvent, SessionGrant};
use chat_shared::{ChatError, ErrorCode, Nickname};
use socketioxide::extract::SocketRef;

use super::credentials::{Tenure, Token};
use super::incoming::Incoming;
use super::reply::Reply;
use super::roster::Held;
use super::session::Session;
use super::{Chat, LogId, fanout};
use crate::cluster::ChatAdapter;
use crate::log_throttle::Throttle;

/// What the connection asked for.
enum Wanted {
    /// A nickname it does not have yet.
    New(Nickname),
    /// The nickname it already has: nothing changes.
    Again,
}

enum Claimed {
    /// The socket now holds this nickname; the client gets this resume token.
    New(Held, Token),
    Again,
}

/// A nickname with fresh credentials; None without randomness (no token can be issued).
fn credentials(nickname: Nickname) -> Result<(Held, Token), ChatError> {
    let (token, hash) = Token::issue().ok_or_else(|| ChatError::new(ErrorCode::Unavailable))?;
    Ok((Held { nickname, token: hash, tenure: Tenure::new() }, token))
}

/// The warning for claims Redis did not answer (one per attempt during an outage would be a
/// flood).
static CLUSTER_FAILED: Throttle = Throttle::new();

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
            let claimed = credentials(nick).and_then(|(held, token)| {
                chat.roster.claim(held.clone(), socket.id)?;
                take(chat, &session, &socket, held, token)
            });
            answer(chat, &socket, reply, claimed);
        }
        (Ok(Wanted::New(nick)), Some(presence)) => {
            let (chat, presence) = (chat.clone(), presence.clone());
            tokio::spawn(async move {
                let (held, token) = match credentials(nick) {
                    Ok(fresh) => fresh,
                    Err(e) => return answer(&chat, &socket, reply, Err(e)),
                };
                let claimed = match presence.claim(&held).await {
                    Ok(true) => {
                        chat.roster.adopt(held.clone(), socket.id);
                        let taken = take(&chat, &session, &socket, held.clone(), token);
                        if taken.is_err() {
                            let _ = presence.release(&held.nickname, &held.token).await;
                        }
                        taken
                    }
                    Ok(false) => Err(ChatError::new(ErrorCode::NicknameTaken)),
                    Err(e) => {
                        if let Some(times) = CLUSTER_FAILED.due() {
                            tracing::warn!(conn = %LogId::of(socket.id), times, "cannot claim a nickname in the cluster: {e}");
                        }
                        Err(ChatError::new(ErrorCode::Unavailable))
                    }
                };
                let named = claimed.is_ok();
                answer(&chat, &socket, reply, claimed);
                if named {
                    chat.free_if_gone(&socket, &session).await;
                }
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

/// The roster granted the nickname to the socket: the session takes it.
fn take(
    chat: &Chat,
    session: &Session,
    socket: &SocketRef<ChatAdapter>,
    held: Held,
    token: Token,
) -> Result<Claimed, ChatError> {
    if !session.set_speaker(held.speaker()) {
        // A second claim raced this one (only possible in a cluster, where claims wait for
        // Redis); the roster never keeps a name nobody has.
        chat.roster.release(&held.nickname, socket.id);
        return Err(ChatError::new(ErrorCode::AlreadyNamed));
    }
    Ok(Claimed::New(held, token))
}

fn answer(chat: &Chat, socket: &SocketRef<ChatAdapter>, reply: Reply, claimed: Result<Claimed, ChatError>) {
    match claimed {
        Ok(claimed) => {
            reply.send(ClientEvent::Nickname, &NicknameAck::Accepted, None);
            if let Claimed::New(held, token) = claimed {
                let nick = &held.nickname;
                tracing::info!(conn = %LogId::of(socket.id), nickname = %nick, "nickname set");
                chat.record_reservation(&held, i64::MAX);
                let grant = SessionGrant { nickname: nick.to_string(), resume_token: token.reveal() };
                fanout::to_one(socket, ServerEvent::Session, &grant);
                chat.announce(socket.to(super::ANNOUNCED_ROOM).sockets(), Announcement::connected(nick));
                chat.nicknames_changed.notify();
            }
        }
        Err(error) => {
            tracing::debug!(conn = %LogId::of(socket.id), code = ?error.code, "nickname refused");
            reply.send(ClientEvent::Nickname, &NicknameAck::Rejected(error.clone()), Some(&error));
        }
    }
}
