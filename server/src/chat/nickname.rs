//! `nickname` (nick, {own?, owner?}?, ack): claim a unique nickname, ephemeral or owned,
//! announce it, update everyone's list, and give the connection its resume token (and, for an
//! owned one, its owner secret: `session`). Alone, the roster decides at once; in a cluster,
//! Redis decides first (in a task: the claim waits for it).

use chat_shared::protocol::{
    Announcement, ClaimRequest, ClientEvent, NicknameAck, OwnerClaim, ServerEvent, SessionGrant,
};
use chat_shared::{ChatError, ErrorCode, Nickname};
use socketioxide::extract::SocketRef;

use super::credentials::{OwnerHash, Tenure, Token};
use super::incoming::Incoming;
use super::reply::Reply;
use super::roster::Held;
use super::session::Session;
use super::{Chat, LogId, fanout};
use crate::cluster::{ChatAdapter, Claim, Presence, PresenceError};
use crate::log_throttle::Throttle;

/// What the connection asked for.
enum Wanted {
    /// A nickname it does not have yet, and whether to own it.
    New(Nickname, OwnerClaim),
    /// The nickname it already has: nothing changes.
    Again,
}

/// Whether a claim brings someone new into the chat (announced), or its owner was there
/// already (another tab, or away for the grace period: nobody is told).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arrival {
    New,
    Back,
}

enum Claimed {
    /// The socket now holds this nickname; the client gets this resume token (and, if it owns
    /// the nickname, this owner secret).
    New(Held, Token, Option<String>, Arrival),
    Again,
}

/// Who claims a nickname as its owner: the hash to own it by, and the secret to give the
/// client. A secret that owns nothing (`known` is false: forgotten, lapsed, or made up) gets a
/// new one: nobody chooses their own secret.
/// A fresh ownership counts against the address's rate (`may_own`); past it the claim is
/// ephemeral.
fn owner(
    claim: OwnerClaim,
    known: bool,
    may_own: impl FnOnce() -> bool,
) -> Result<Option<(String, OwnerHash)>, ChatError> {
    match claim {
        OwnerClaim::Nobody => Ok(None),
        OwnerClaim::Secret(secret) if known => {
            let hash = OwnerHash::presented(&secret);
            Ok(Some((secret, hash)))
        }
        OwnerClaim::New | OwnerClaim::Secret(_) => match may_own() {
            true => OwnerHash::issue().ok_or_else(|| ChatError::new(ErrorCode::Unavailable)).map(Some),
            false => Ok(None),
        },
    }
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
        .and_then(|()| req.arg::<ClaimRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|claim| wanted(&session, claim))
        .and_then(|wanted| match &wanted {
            // A new claim is announced to everyone: it is also charged to the address.
            Wanted::New(nick, _) => session
                .allow_address_claim(|| chat.admission.allow_claim(session.address))
                .and_then(|()| chat.moderation.refuse_banned(nick))
                .and_then(|()| chat.moderation.refuse_banned_address(session.address))
                .map(|()| wanted),
            Wanted::Again => Ok(wanted),
        });
    let reply = req.reply();
    match (wanted, &chat.presence) {
        (Ok(Wanted::New(nick, claim)), None) => {
            let now = crate::clock::now_ms();
            let known = match &claim {
                OwnerClaim::Secret(secret) => chat.roster.owns_any(&OwnerHash::presented(secret)),
                OwnerClaim::Nobody | OwnerClaim::New => false,
            };
            let claimed = credentials(nick).and_then(|(held, token)| {
                match owner(claim, known, || chat.admission.allow_new_owner(session.address))? {
                    None => {
                        chat.roster.claim(held.clone(), socket.id, now)?;
                        take(chat, &session, &socket, held, token, None, Arrival::New, Vec::new())
                    }
                    Some((secret, hash)) => {
                        let until = now.saturating_add(chat.reservation.as_millis() as i64);
                        let owned = chat.roster.claim_owned(held, hash, socket.id, now, until)?;
                        if let Some(previous) = owned.taken_from {
                            chat.sign_out(previous);
                        }
                        if let Some(released) = &owned.released {
                            // The secret moved on: the name it owned before is free, and that
                            // ownership's rooms and conversations end with it (as on "forget me").
                            chat.record_disown(&released.nickname);
                            chat.ownership_ended(&released.tenure);
                        }
                        chat.record_ownership(&owned.owned);
                        let arrival = if owned.was_online { Arrival::Back } else { Arrival::New };
                        let rooms = chat.remembered_here(&owned.held.speaker(true));
                        take(chat, &session, &socket, owned.held, token, Some(secret), arrival, rooms)
                    }
                }
            });
            answer(chat, &socket, reply, claimed);
        }
        (Ok(Wanted::New(nick, claim)), Some(presence)) => {
            let (chat, presence) = (chat.clone(), presence.clone());
            tokio::spawn(async move {
                let claimed = match claim_in_cluster(&chat, &presence, &session, &socket, nick, claim).await {
                    Ok(claimed) => claimed,
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

/// A claim in a cluster: Redis decides (an error if it does not answer).
async fn claim_in_cluster(
    chat: &Chat,
    presence: &Presence,
    session: &Session,
    socket: &SocketRef<ChatAdapter>,
    nick: Nickname,
    claim: OwnerClaim,
) -> Result<Result<Claimed, ChatError>, PresenceError> {
    let (held, token) = match credentials(nick) {
        Ok(fresh) => fresh,
        Err(e) => return Ok(Err(e)),
    };
    let known = match &claim {
        OwnerClaim::Secret(secret) => presence.owns_any(&OwnerHash::presented(secret)).await?,
        OwnerClaim::Nobody | OwnerClaim::New => false,
    };
    let (secret, owner) = match owner(claim, known, || chat.admission.allow_new_owner(session.address)) {
        Ok(None) => {
            return Ok(match presence.claim(&held).await? {
                Claim::Granted => {
                    chat.roster.adopt(held.clone(), socket.id);
                    let taken =
                        take(chat, session, socket, held.clone(), token, None, Arrival::New, Vec::new());
                    if taken.is_err() {
                        let _ = presence.release(&held.nickname, &held.token).await;
                    }
                    taken
                }
                Claim::Taken => Err(ChatError::new(ErrorCode::NicknameTaken)),
                Claim::Owned => Err(ChatError::new(ErrorCode::NicknameOwned)),
            });
        }
        Ok(Some(both)) => both,
        Err(e) => return Ok(Err(e)),
    };
    let fresh = !known;
    Ok(match presence.claim_owned(&held, &owner).await? {
        Ok(owned) => {
            if let Some(released) = &owned.released {
                chat.ownership_ended(released);
            }
            let held = Held { tenure: owned.tenure, ..held };
            if let Some(previous) = chat.roster.adopt(held.clone(), socket.id) {
                chat.sign_out(previous);
            }
            let arrival = if owned.was_online { Arrival::Back } else { Arrival::New };
            let rooms = chat.remembered_rooms(&held.speaker(true)).await;
            let taken = take(chat, session, socket, held.clone(), token, Some(secret), arrival, rooms);
            if taken.is_err() {
                if fresh {
                    // Its secret never reaches the client: nobody could ever use the ownership.
                    let _ = presence.disown(&held.nickname, &held.tenure).await;
                }
                let _ = presence.release(&held.nickname, &held.token).await;
            }
            taken
        }
        Err(Claim::Owned) => Err(ChatError::new(ErrorCode::NicknameOwned)),
        Err(_) => Err(ChatError::new(ErrorCode::NicknameTaken)),
    })
}

fn wanted(session: &Session, claim: ClaimRequest) -> Result<Wanted, ChatError> {
    let nick = Nickname::parse(&claim.nickname)?;
    match session.nickname() {
        None => Ok(Wanted::New(nick, claim.owner)),
        Some(current) if current.key() == nick.key() => Ok(Wanted::Again),
        Some(_) => Err(ChatError::new(ErrorCode::AlreadyNamed)),
    }
}

/// The roster granted the nickname to the socket: the session takes it, and (as its owner)
/// the `rooms` kept with its ownership.
#[allow(clippy::too_many_arguments)]
fn take(
    chat: &Chat,
    session: &Session,
    socket: &SocketRef<ChatAdapter>,
    held: Held,
    token: Token,
    owner_secret: Option<String>,
    arrival: Arrival,
    rooms: Vec<chat_shared::RoomName>,
) -> Result<Claimed, ChatError> {
    let speaker = held.speaker(owner_secret.is_some());
    if !session.set_speaker(speaker.clone()) {
        // A second claim raced this one (only possible in a cluster, where claims wait for
        // Redis); the roster never keeps a name nobody has.
        chat.roster.release(&held.nickname, socket.id);
        return Err(ChatError::new(ErrorCode::AlreadyNamed));
    }
    chat.seat(socket, session, &speaker, rooms);
    Ok(Claimed::New(held, token, owner_secret, arrival))
}

fn answer(chat: &Chat, socket: &SocketRef<ChatAdapter>, reply: Reply, claimed: Result<Claimed, ChatError>) {
    match claimed {
        Ok(claimed) => {
            reply.send(ClientEvent::Nickname, &NicknameAck::Accepted, None);
            if let Claimed::New(held, token, owner_secret, arrival) = claimed {
                let nick = &held.nickname;
                let owned = owner_secret.is_some();
                tracing::info!(conn = %LogId::of(socket.id), nickname = %nick, owned, "nickname set");
                chat.record_reservation(&held, i64::MAX);
                let grant =
                    SessionGrant { nickname: nick.to_string(), resume_token: token.reveal(), owner_secret };
                fanout::to_one(socket, ServerEvent::Session, &grant);
                if arrival == Arrival::New {
                    chat.announce(socket.to(super::ANNOUNCED_ROOM).sockets(), Announcement::connected(nick));
                }
                chat.nicknames_changed.notify();
            }
        }
        Err(error) => {
            tracing::debug!(conn = %LogId::of(socket.id), code = ?error.code, "nickname refused");
            reply.send(ClientEvent::Nickname, &NicknameAck::Rejected(error.clone()), Some(&error));
        }
    }
}
