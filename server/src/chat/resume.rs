//! `resume` (token, ack): a connection takes back its nickname with the token it was given,
//! after a dropped connection or a server restart; nobody is told it was away. In a cluster the
//! token works on any instance (its owner's instance may have died): Redis moves the nickname.

use chat_shared::protocol::{Answer, ClientEvent, SessionGrant};
use chat_shared::{ChatError, ErrorCode, Nickname};

use super::Chat;
use super::incoming::Incoming;
use super::reply::Reply;
use super::session::Session;

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let token = session
        .allow_nickname_attempt()
        .and_then(|()| req.arg::<String>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|token| match session.nickname() {
            Some(_) => Err(ChatError::new(ErrorCode::AlreadyNamed)),
            None => Ok(token),
        });
    let reply = req.reply();
    match (token, &chat.presence) {
        (Ok(token), None) => {
            let resumed =
                chat.roster.resume(&token, socket.id).and_then(|nick| take(chat, &session, nick, token));
            answer(chat, &socket.id, reply, resumed);
        }
        (Ok(token), Some(presence)) => {
            let (chat, presence) = (chat.clone(), presence.clone());
            tokio::spawn(async move {
                let resumed = match presence.resume(&token).await {
                    Ok(Some(name)) => match Nickname::parse(&name) {
                        Ok(nick) => {
                            chat.roster.adopt(&nick, socket.id, token.clone());
                            take(&chat, &session, nick, token)
                        }
                        Err(_) => Err(ChatError::new(ErrorCode::ResumeInvalid)),
                    },
                    Ok(None) => Err(ChatError::new(ErrorCode::ResumeInvalid)),
                    Err(e) => {
                        tracing::warn!(conn = %socket.id, "cannot resume in the cluster: {e}");
                        Err(ChatError::new(ErrorCode::Unavailable))
                    }
                };
                answer(&chat, &socket.id, reply, resumed);
            });
        }
        (Err(error), _) => answer(chat, &socket.id, reply, Err(error)),
    }
}

fn take(chat: &Chat, session: &Session, nick: Nickname, token: String) -> Result<SessionGrant, ChatError> {
    if !session.set_nickname(nick.clone()) {
        return Err(ChatError::new(ErrorCode::AlreadyNamed));
    }
    chat.record_reservation(&nick, &token, i64::MAX);
    Ok(SessionGrant { nickname: nick.to_string(), resume_token: token })
}

fn answer(
    chat: &Chat,
    conn: &socketioxide::socket::Sid,
    reply: Reply,
    resumed: Result<SessionGrant, ChatError>,
) {
    let refusal = resumed.as_ref().err().cloned();
    match &resumed {
        Ok(grant) => tracing::info!(%conn, nickname = %grant.nickname, "resumed"),
        Err(e) => tracing::debug!(%conn, code = ?e.code, "resume refused"),
    }
    reply.send(ClientEvent::Resume, &Answer(resumed), refusal.as_ref());
    if refusal.is_none() {
        // The resumed connection needs the list too.
        chat.nicknames_changed.notify();
    }
}
