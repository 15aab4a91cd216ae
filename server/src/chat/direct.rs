//! Direct messages between owned nicknames: `direct message` ({to, text, key?}, ack) says
//! something to one person, `conversations` (ack) lists whom one has direct messages with, and
//! `history` with `with` reads one conversation. A conversation belongs to the two owners, not
//! to the names: it is keyed by the tenures of both ownerships, so that whoever owns either
//! name later (after "forget me", or a lapsed reservation) has another, empty one. Lines reach
//! the addressee through the socket.io room of its ownership's tenure (which the connection
//! holding the name is in, on whichever instance), and wait in the history for the next visit.

use chat_shared::limits::CONVERSATIONS_MAX;
use chat_shared::protocol::{ClientEvent, Conversation, DirectSend};
use chat_shared::{ChatError, ErrorCode, Nickname};
use sha2::{Digest, Sha256};

use super::credentials::Tenure;
use super::incoming::Incoming;
use super::session::Speaker;
use super::{Chat, LogId};
use crate::history::{Channel, DIRECT_PREFIX, Direct, DirectThread, Party};

/// How many of an owner's newest conversations `conversations` reads to find the
/// [`CONVERSATIONS_MAX`] newest whose other side still owns its name.
const CONVERSATIONS_READ: usize = 4 * CONVERSATIONS_MAX;

/// The socket.io room of the connection that holds the nickname owned under `tenure` (every
/// named connection is in the room of its tenure, until it is signed out or forgets it).
pub fn owner_room(tenure: &str) -> String {
    format!("owner:{tenure}")
}

/// The history key of the conversation between the ownerships `a` and `b` (either order):
/// [`DIRECT_PREFIX`] and 128 bits of the SHA-256 of both tenures.
fn thread(a: &Tenure, b: &Tenure) -> String {
    let (low, high) = if a.as_str() <= b.as_str() { (a, b) } else { (b, a) };
    let digest = Sha256::digest(format!("{}\n{}", low.as_str(), high.as_str()).as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{DIRECT_PREFIX}{hex}")
}

impl Chat {
    /// Each nickname's ownership (None: nobody owns it): its tenure and the name as its owner
    /// spells it; from the roster alone, from Redis in a cluster.
    pub(super) async fn ownerships(
        &self,
        nicks: &[&Nickname],
    ) -> Result<Vec<Option<(Tenure, String)>>, ChatError> {
        match &self.presence {
            None => {
                let now = crate::clock::now_ms();
                Ok(nicks.iter().map(|n| self.roster.ownership(n, now)).collect())
            }
            Some(presence) => presence.ownerships(nicks).await.map_err(|e| {
                tracing::warn!("cannot read owned nicknames from Redis: {e}");
                ChatError::new(ErrorCode::Unavailable)
            }),
        }
    }

    /// `speaker`'s side of a conversation, if it speaks as the owner of its nickname (its
    /// holds share the ownership's tenure), and the other side: `with`'s current owner.
    pub(super) async fn sides(&self, speaker: &Speaker, with: &Nickname) -> Result<Direct, ChatError> {
        let found = self.ownerships(&[&speaker.nickname, with]).await?;
        let (mine, theirs) = match found.as_slice() {
            [mine, theirs] => (mine.clone(), theirs.clone()),
            _ => return Err(ChatError::new(ErrorCode::Unavailable)),
        };
        if mine.map(|(tenure, _)| tenure).as_ref() != Some(&speaker.tenure) {
            return Err(ChatError::new(ErrorCode::OwnerOnly));
        }
        let (theirs, their_name) = match theirs {
            Some(theirs) if with.key() != speaker.nickname.key() => theirs,
            _ => return Err(ChatError::new(ErrorCode::NoSuchOwner)),
        };
        Ok(Direct {
            thread: thread(&speaker.tenure, &theirs),
            from: Party {
                nickname: speaker.nickname.to_string(),
                tenure: speaker.tenure.as_str().to_owned(),
            },
            to: Party { nickname: their_name, tenure: theirs.as_str().to_owned() },
            to_key: with.key().as_str().to_owned(),
        })
    }
}

/// `direct message` ({to, text, key?}, ack): checked here (rate, nickname, text), then, in the
/// connection's lane (in order), both ownerships are checked and the line goes to the journal,
/// which stores it, delivers it to the addressee and acks it.
pub fn send(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let reply = req.reply();
    let accepted = session.allow_message(|| chat.admission.allow_message(session.address)).and_then(|()| {
        let from = chat.speaker(&session, socket.id)?;
        let request = req.arg::<DirectSend>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        let to = Nickname::parse(&request.to)?;
        // The text and key are checked before anything waits.
        super::message::line(&from, Channel::General, &request.text, request.key.clone())?;
        if session.lane.full() {
            return Err(ChatError::with_limit(ErrorCode::Unavailable, chat_shared::limits::LANE_JOBS_MAX));
        }
        Ok((from, to, request))
    });
    let (_, to, request) = match accepted {
        Ok(accepted) => accepted,
        Err(e) => {
            return super::message::hand_over(
                chat,
                &session,
                socket,
                reply,
                ClientEvent::DirectMessage,
                Err(e),
            );
        }
    };
    let chat = chat.clone();
    let lane_session = session.clone();
    lane_session.lane.run(async move {
        // Still the nickname's holder when its turn comes (it may have been signed out).
        let line = match chat.speaker(&session, socket.id) {
            Ok(from) => match chat.sides(&from, &to).await {
                Ok(direct) => super::message::allowed_line(
                    &chat,
                    &from,
                    Channel::Direct(direct),
                    &request.text,
                    request.key,
                ),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        super::message::hand_over(&chat, &session, socket, reply, ClientEvent::DirectMessage, line);
    });
}

/// `conversations` (ack): the people this owned nickname has direct messages with, the newest
/// first (a history request for the rates). Conversations whose other side no longer owns its
/// name are left out: nobody can read them any more.
pub fn list(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let reply = req.reply();
    let speaker = session
        .allow_history(|| chat.admission.allow_history(session.address))
        .and_then(|()| chat.speaker(&session, socket.id));
    let speaker = match speaker {
        Ok(speaker) => speaker,
        Err(e) => return answer(reply, Err(e)),
    };
    let chat = chat.clone();
    tokio::spawn(async move {
        let listed = conversations(&chat, &speaker).await;
        if let Err(e) = &listed {
            tracing::debug!(conn = %LogId::of(socket.id), code = ?e.code, "conversations refused");
        }
        answer(reply, listed);
    });
}

fn answer(reply: super::reply::Reply, listed: Result<Vec<Conversation>, ChatError>) {
    reply.answer(ClientEvent::Conversations, listed);
}

async fn conversations(chat: &Chat, speaker: &Speaker) -> Result<Vec<Conversation>, ChatError> {
    let history = chat.history.clone();
    let tenure = speaker.tenure.as_str().to_owned();
    // Read past the limit: some of the newest may be with names that changed owner.
    let threads = tokio::task::spawn_blocking(move || history.directs(&tenure, CONVERSATIONS_READ))
        .await
        .map_err(|_| ChatError::new(ErrorCode::Unavailable))?
        .map_err(|e| {
            tracing::warn!("cannot read direct conversations: {e}");
            ChatError::new(ErrorCode::Unavailable)
        })?;
    // Each peer's name as stored: a name that no longer parses cannot be owned any more.
    let peers: Vec<(DirectThread, Nickname)> =
        threads.into_iter().filter_map(|t| Nickname::parse(&t.peer.nickname).ok().map(|n| (t, n))).collect();
    // One lookup for the speaker's ownership and every peer's (a list read by a tenure that
    // is not an ownership's is empty anyway: nothing was read that it may not see).
    let names: Vec<&Nickname> =
        std::iter::once(&speaker.nickname).chain(peers.iter().map(|(_, n)| n)).collect();
    let mut owners = chat.ownerships(&names).await?.into_iter();
    let mine = owners.next().flatten().map(|(tenure, _)| tenure);
    if mine.as_ref() != Some(&speaker.tenure) {
        return Err(ChatError::new(ErrorCode::OwnerOnly));
    }
    Ok(peers
        .iter()
        .zip(owners)
        .filter_map(|((t, _), owner)| {
            let (tenure, name) = owner?;
            let current = Conversation { with: name, last_id: t.last_id, last_ts: t.last_ts };
            (tenure.as_str() == t.peer.tenure).then_some(current)
        })
        .take(CONVERSATIONS_MAX)
        .collect())
}

/// The history key of the conversation a `history` request asks for with `with`, if this
/// connection speaks as an owner and `with` is owned by someone else.
pub async fn readable(
    chat: &Chat,
    speaker: Result<Speaker, ChatError>,
    with: &str,
) -> Result<String, ChatError> {
    let speaker = speaker?;
    let with = Nickname::parse(with)?;
    Ok(chat.sides(&speaker, &with).await?.thread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_is_the_same_from_both_sides_and_no_room_name() {
        let (a, b, c) = (Tenure::stored("aa"), Tenure::stored("bb"), Tenure::stored("cc"));
        assert_eq!(thread(&a, &b), thread(&b, &a));
        assert_ne!(thread(&a, &b), thread(&a, &c), "another owner, another conversation");
        assert!(chat_shared::RoomName::parse(&thread(&a, &b)).is_err(), "no room can read it");
        assert_eq!(thread(&a, &b).len(), DIRECT_PREFIX.len() + 32);
    }
}
