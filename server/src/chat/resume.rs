//! `resume` (token, ack): a connection takes back its nickname with the token it was given,
//! after a dropped connection or a server restart; nobody is told it was away. The answer
//! carries a new token (the presented one stops working). If another connection still holds
//! the nickname (another tab with the same token), it is signed out in the same step: one
//! holder at a time. In a cluster the token works on any instance (its owner's instance may
//! have died): Redis moves the nickname and tells the instance it was taken from.

use chat_shared::protocol::{ClientEvent, SessionGrant};
use chat_shared::{ChatError, ErrorCode};
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;

use super::credentials::Token;
use super::incoming::Incoming;
use super::reply::Reply;
use super::roster::Held;
use super::session::Session;
use super::{Chat, LogId};
use crate::cluster::ChatAdapter;
use crate::log_throttle::Throttle;

/// The warning for resumes Redis did not answer (one per attempt during an outage would be a
/// flood).
static CLUSTER_FAILED: Throttle = Throttle::new();

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let presented = session
        .allow_nickname_attempt()
        .and_then(|()| req.arg::<String>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|token| match session.is_named() {
            true => Err(ChatError::new(ErrorCode::AlreadyNamed)),
            false => Ok(Token::presented(&token)),
        })
        .and_then(|presented| chat.moderation.refuse_banned_address(session.address).map(|()| presented));
    let reply = req.reply();
    let (presented, (next, next_hash)) = match presented
        .and_then(|p| Ok((p, Token::issue().ok_or_else(|| ChatError::new(ErrorCode::Unavailable))?)))
    {
        Ok(both) => both,
        Err(error) => return answer(chat, &socket.id, reply, Err(error)),
    };
    match &chat.presence {
        None => {
            let resumed = chat.roster.resume(&presented, next_hash, socket.id).and_then(|resumed| {
                if let Some(previous) = resumed.taken_from {
                    chat.sign_out(previous);
                }
                let held = &resumed.held;
                let ownership = chat.roster.ownership(&held.nickname, crate::clock::now_ms());
                let speaker = held.speaker(ownership.is_some_and(|(tenure, _)| tenure == held.tenure));
                let rooms = chat.remembered_here(&speaker);
                take(chat, &session, &socket, held, speaker, rooms, next)
            });
            answer(chat, &socket.id, reply, resumed);
        }
        Some(presence) => {
            let (chat, presence) = (chat.clone(), presence.clone());
            tokio::spawn(async move {
                let resumed = match presence.resume(&presented, &next_hash, socket.id).await {
                    Ok(Some(held)) => {
                        if let Some(previous) = chat.roster.adopt(held.clone(), socket.id) {
                            chat.sign_out(previous);
                        }
                        // Resumed as its owner? (A failure to tell: as ephemeral, its rooms
                        // not kept.)
                        let ownership =
                            chat.ownerships(&[&held.nickname]).await.ok().into_iter().flatten().next();
                        let owned = ownership.flatten().is_some_and(|(tenure, _)| tenure == held.tenure);
                        let speaker = held.speaker(owned);
                        let rooms = chat.remembered_rooms(&speaker).await;
                        take(&chat, &session, &socket, &held, speaker, rooms, next)
                    }
                    Ok(None) => Err(ChatError::new(ErrorCode::ResumeInvalid)),
                    Err(e) => {
                        if let Some(times) = CLUSTER_FAILED.due() {
                            tracing::warn!(conn = %LogId::of(socket.id), times, "cannot resume in the cluster: {e}");
                        }
                        Err(ChatError::new(ErrorCode::Unavailable))
                    }
                };
                let named = resumed.is_ok();
                answer(&chat, &socket.id, reply, resumed);
                if named {
                    chat.free_if_gone(&socket, &session).await;
                }
            });
        }
    }
}

/// The session takes the resumed nickname (held under the new `token`'s hash) as `speaker`,
/// with the `rooms` kept with its ownership; the client gets `token`.
fn take(
    chat: &Chat,
    session: &Session,
    socket: &SocketRef<ChatAdapter>,
    held: &Held,
    speaker: super::session::Speaker,
    rooms: Vec<chat_shared::RoomName>,
    token: Token,
) -> Result<SessionGrant, ChatError> {
    if !session.set_speaker(speaker.clone()) {
        return Err(ChatError::new(ErrorCode::AlreadyNamed));
    }
    chat.seat(socket, session, &speaker, rooms);
    chat.record_reservation(held, i64::MAX);
    chat.touch_owned(&held.nickname);
    // Banned while away: it is told so and closed (its nickname stays reserved, as for a drop).
    if let Some(penalty) = chat.moderation.ban_of(held.nickname.key().as_str()) {
        super::moderation::act::banned_on_resume(chat, socket, &held.nickname, penalty);
    }
    Ok(SessionGrant { nickname: held.nickname.to_string(), resume_token: token.reveal(), owner_secret: None })
}

fn answer(chat: &Chat, conn: &Sid, reply: Reply, resumed: Result<SessionGrant, ChatError>) {
    let conn = LogId::of(*conn);
    match &resumed {
        Ok(grant) => tracing::info!(%conn, nickname = %grant.nickname, "resumed"),
        Err(e) => tracing::debug!(%conn, code = ?e.code, "resume refused"),
    }
    let granted = resumed.is_ok();
    reply.answer(ClientEvent::Resume, resumed);
    if granted {
        // The resumed connection needs the list too.
        chat.nicknames_changed.notify();
    }
}
