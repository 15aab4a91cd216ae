//! Rooms (channels) besides `general`: `rooms` lists them, `create room` makes one (named
//! people only; at most `--rooms-max`, rate-limited), `join room`/`leave room` change what a
//! connection hears, and `room message` says something in a room one is in (stored in that
//! room's history, delivered to its members as `room message`). `general` is the original's
//! room: every connection is in it, and the original event API speaks only there. In a cluster
//! the rooms live in Redis (created there atomically; this instance keeps them as a cache,
//! filled when a room is listed, created or joined), lines reach the members on every instance
//! through the adapter, and each room's history is a stream of its own.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chat_shared::limits::{ROOM_PEOPLE_MAX, ROOM_TOPIC_MAX_CHARS};
use chat_shared::protocol::{
    ClientEvent, CreateRoom, RoomInfo, RoomPresence, RoomRequest, RoomSend, ServerEvent,
};
use chat_shared::room::GENERAL;
use chat_shared::{ChatError, ErrorCode, RoomName};

use super::incoming::Incoming;
use super::{Chat, LogId};
use crate::history::{Channel, ReservationChange, StoredRoom};

/// The socketioxide room of a chat room's members.
pub fn members_room(room: &RoomName) -> String {
    format!("room:{room}")
}

/// The rooms of this chat (besides `general`), by name.
pub struct Rooms {
    inner: Mutex<BTreeMap<RoomName, StoredRoom>>,
    /// Rooms the chat holds at most, `general` included.
    max: usize,
}

impl Rooms {
    pub fn new(max: usize) -> Self {
        Self { inner: Mutex::default(), max }
    }

    /// Rooms the chat holds at most, `general` included.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Puts back a room found in the store at start.
    pub fn restore(&self, room: StoredRoom) {
        match RoomName::parse(&room.name) {
            Ok(name) if !name.is_general() => {
                self.lock().insert(name, room);
            }
            _ => tracing::warn!(room = %room.name, "dropping a stored room with an invalid name"),
        }
    }

    /// Every room, `general` first.
    pub fn list(&self) -> Vec<RoomInfo> {
        let general = RoomInfo { name: GENERAL.to_owned(), topic: String::new(), joined: true };
        std::iter::once(general)
            .chain(self.lock().values().map(|r| RoomInfo {
                name: r.name.clone(),
                topic: r.topic.clone(),
                joined: false,
            }))
            .collect()
    }

    /// Whether this instance knows `name` (`general`: always).
    pub fn knows(&self, name: &RoomName) -> bool {
        name.is_general() || self.lock().contains_key(name)
    }

    fn info(&self, name: &RoomName) -> Option<RoomInfo> {
        if name.is_general() {
            return Some(RoomInfo { name: GENERAL.to_owned(), topic: String::new(), joined: true });
        }
        self.lock().get(name).map(|r| RoomInfo {
            name: r.name.clone(),
            topic: r.topic.clone(),
            joined: false,
        })
    }

    /// The topic `room` was created with (empty if it has none, or is unknown).
    pub fn created_topic(&self, room: &str) -> String {
        RoomName::parse(room).ok().and_then(|name| self.info(&name)).map(|r| r.topic).unwrap_or_default()
    }

    /// Adds rooms found in Redis (created on any instance) to what this instance knows.
    fn merge(&self, found: Vec<StoredRoom>) {
        let mut rooms = self.lock();
        for room in found {
            if let Ok(name) = RoomName::parse(&room.name)
                && !name.is_general()
            {
                rooms.insert(name, room);
            }
        }
    }

    /// Adds `room` unless it exists or the chat has as many rooms as it may.
    fn create(&self, name: RoomName, room: StoredRoom) -> Result<(), ChatError> {
        let mut rooms = self.lock();
        if name.is_general() || rooms.contains_key(&name) {
            return Err(ChatError::new(ErrorCode::RoomExists));
        }
        if rooms.len() + 1 >= self.max {
            return Err(ChatError::with_limit(ErrorCode::TooManyRooms, self.max));
        }
        rooms.insert(name, room);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<RoomName, StoredRoom>> {
        // One insert at a time: a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `rooms` (ack): every room (anyone connected may ask; a history request for the rates).
pub fn list(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let reply = req.reply();
    if let Err(e) = session.allow_history(|| chat.admission.allow_history(session.address)) {
        return reply.answer::<Vec<RoomInfo>>(ClientEvent::Rooms, Err(e));
    }
    let marked = move |chat: &Chat| {
        let mut rooms = chat.rooms.list();
        for room in &mut rooms {
            room.joined = RoomName::parse(&room.name).is_ok_and(|name| session.in_room(&name));
            if let Some(topic) = chat.moderation.topic(&room.name) {
                room.topic = topic;
            }
        }
        rooms
    };
    match chat.redis_rooms.clone() {
        None => reply.answer(ClientEvent::Rooms, Ok(marked(chat))),
        Some(redis) => {
            let chat = chat.clone();
            tokio::spawn(async move {
                let listed = refresh(&chat, &redis).await.map(|()| marked(&chat));
                reply.answer(ClientEvent::Rooms, listed);
            });
        }
    }
}

/// Learns the cluster's rooms from Redis.
pub(super) async fn refresh(chat: &Chat, redis: &crate::cluster::RedisRooms) -> Result<(), ChatError> {
    let found = redis.all().await.map_err(|e| {
        tracing::warn!("cannot read the rooms from Redis: {e}");
        ChatError::new(ErrorCode::Unavailable)
    })?;
    chat.rooms.merge(found);
    Ok(())
}

/// `create room` ({name, topic?}, ack): a new room, joined by its creator.
pub fn create(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let reply = req.reply();
    let wanted = chat.speaker(&session, socket.id).and_then(|speaker| {
        let request = req.arg::<CreateRoom>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        let name = RoomName::parse(&request.name)?;
        let topic = topic_of(&request.topic)?;
        // A room's name and topic are shown to everyone: not from one who may not speak.
        chat.moderation.may_speak(&speaker, None)?;
        // Only a creation that would succeed costs one of the connection's creations.
        if chat.rooms.info(&name).is_some() {
            return Err(ChatError::new(ErrorCode::RoomExists));
        }
        session.allow_room_create()?;
        let stored = StoredRoom {
            name: name.to_string(),
            topic,
            created_by: speaker.nickname.to_string(),
            created_at: crate::clock::now_ms(),
        };
        Ok((speaker, name, stored))
    });
    let (speaker, name, stored) = match wanted {
        Ok(all) => all,
        Err(e) => return reply.answer::<RoomInfo>(ClientEvent::CreateRoom, Err(e)),
    };
    match chat.redis_rooms.clone() {
        None => {
            let created = chat.rooms.create(name.clone(), stored.clone()).map(|()| {
                chat.journal.reserve(ReservationChange::Room(stored.clone()));
                enter(chat, &socket, &session, &speaker, name, &stored)
            });
            let chat = chat.clone();
            tokio::spawn(async move {
                if created.is_ok() {
                    super::moderation::act::record_owner(&chat, &speaker, &stored.name).await;
                }
                reply.answer(ClientEvent::CreateRoom, created);
            });
        }
        Some(redis) => {
            let chat = chat.clone();
            tokio::spawn(async move {
                let created = match redis.create(&stored, chat.rooms.max()).await {
                    Ok(crate::cluster::Creation::Done) => {
                        chat.rooms.merge(vec![stored.clone()]);
                        Ok(enter(&chat, &socket, &session, &speaker, name, &stored))
                    }
                    Ok(crate::cluster::Creation::Exists) => Err(ChatError::new(ErrorCode::RoomExists)),
                    Ok(crate::cluster::Creation::Full) => {
                        Err(ChatError::with_limit(ErrorCode::TooManyRooms, chat.rooms.max()))
                    }
                    Err(e) => {
                        tracing::warn!("cannot create a room in Redis: {e}");
                        Err(ChatError::new(ErrorCode::Unavailable))
                    }
                };
                if created.is_ok() {
                    super::moderation::act::record_owner(&chat, &speaker, &stored.name).await;
                }
                reply.answer(ClientEvent::CreateRoom, created);
            });
        }
    }
}

/// The creator is in its new room at once.
fn enter(
    chat: &Chat,
    socket: &socketioxide::extract::SocketRef<crate::cluster::ChatAdapter>,
    session: &super::session::Session,
    speaker: &super::session::Speaker,
    name: RoomName,
    stored: &StoredRoom,
) -> RoomInfo {
    tracing::info!(conn = %LogId::of(socket.id), room = %name, "room created");
    chat.remember(session, speaker, &name, true);
    join_now(chat, socket, session, name);
    RoomInfo { name: stored.name.clone(), topic: stored.topic.clone(), joined: true }
}

/// Puts `socket` in `name`'s members — unless it went meanwhile (a join that waited for Redis):
/// socketioxide does not check, and a gone socket's id would stay in the room for good. In a
/// cluster, Redis learns who is in it (for `room people`).
pub(super) fn join_now(
    chat: &Chat,
    socket: &socketioxide::extract::SocketRef<crate::cluster::ChatAdapter>,
    session: &super::session::Session,
    name: RoomName,
) {
    // In the session's rooms before the check that it is still here: a leave that runs from
    // here on tells the room it went (`went`).
    let newly = session.join_room(name.clone());
    if !super::join_if_connected(socket, session, members_room(&name)) {
        session.leave_room(&name);
        return;
    }
    let Some(speaker) = session.speaker() else { return };
    mark(chat, session, &name, socket.id, &speaker.nickname, Some(&speaker.tenure));
    if newly {
        announce(chat, socket, &name, &speaker.nickname, true);
        // A leave that ran between the check and this notice told the room before it: told
        // again after it, so that the room does not keep someone who went.
        if super::has_left(socket, session) {
            announce(chat, socket, &name, &speaker.nickname, false);
            mark(chat, session, &name, socket.id, &speaker.nickname, None);
        }
    }
}

/// `nickname` is no longer spoken through `socket` (it went, or forgot its name): the other
/// members of each of its rooms are told it went, and in a cluster its entries in the rooms'
/// Redis lists of who is in them go.
pub(super) fn went(
    chat: &Chat,
    socket: &socketioxide::extract::SocketRef<crate::cluster::ChatAdapter>,
    session: &super::session::Session,
    nickname: &chat_shared::Nickname,
) {
    for room in session.rooms() {
        announce(chat, socket, &room, nickname, false);
        mark(chat, session, &room, socket.id, nickname, None);
    }
}

/// Tells `room`'s other members, here and on the other instances, that `nickname` (speaking
/// through `socket`) came into it or went (`room presence`).
pub(super) fn announce(
    chat: &Chat,
    socket: &socketioxide::extract::SocketRef<crate::cluster::ChatAdapter>,
    room: &RoomName,
    nickname: &chat_shared::Nickname,
    present: bool,
) {
    let notice = RoomPresence { room: room.to_string(), nickname: nickname.to_string(), present };
    chat.to_room(socket, members_room(room), ServerEvent::RoomPresence, notice);
}

/// In a cluster: records in Redis that `nickname` is in `room` through connection `conn`
/// (`tenure`: the one it is held under), or that `conn` left it or went (None).
fn mark(
    chat: &Chat,
    session: &super::session::Session,
    room: &RoomName,
    conn: socketioxide::socket::Sid,
    nickname: &chat_shared::Nickname,
    tenure: Option<&super::Tenure>,
) {
    let Some(redis) = chat.redis_rooms.clone() else { return };
    // Named as logs name it: the session id itself is a bearer secret (see `LogId`).
    let (room, key, conn) =
        (room.to_string(), nickname.key().as_str().to_owned(), LogId::of(conn).to_string());
    let entry = tenure.map(|t| (nickname.to_string(), t.as_str().to_owned()));
    // In the connection's lane, after its earlier marks: a join and a leave in quick
    // succession raced to Redis from tasks of their own, and a room could keep someone who left.
    session.lane.run(async move {
        let entry = entry.as_ref().map(|(n, t)| (n.as_str(), t.as_str()));
        if let Err(e) = redis.mark(&room, &key, &conn, entry).await {
            tracing::warn!(%room, "cannot record who is in a room: {e}");
        }
    });
}

/// A topic: trimmed, at most [`ROOM_TOPIC_MAX_CHARS`] chars, no control or bidi chars
/// ([`chat_shared::refused_in_line`]).
pub(super) fn topic_of(raw: &str) -> Result<String, ChatError> {
    let topic = raw.trim();
    if topic.chars().count() > ROOM_TOPIC_MAX_CHARS {
        return Err(ChatError::with_limit(ErrorCode::TopicInvalid, ROOM_TOPIC_MAX_CHARS));
    }
    if topic.chars().any(chat_shared::refused_in_line) {
        return Err(ChatError::new(ErrorCode::TopicInvalid));
    }
    Ok(topic.to_owned())
}

/// `join room` ({room}, ack).
pub fn join(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let reply = req.reply();
    let wanted = chat.speaker(&session, socket.id).and_then(|speaker| {
        session.allow_nickname_attempt()?;
        let request = req.arg::<RoomRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        Ok((speaker, RoomName::parse(&request.room)?))
    });
    let (speaker, name) = match wanted {
        Ok(both) => both,
        Err(e) => return reply.answer::<RoomInfo>(ClientEvent::JoinRoom, Err(e)),
    };
    let known = chat.rooms.knows(&name);
    let join_known = move |chat: &Chat| {
        let info = chat.rooms.info(&name).ok_or_else(|| ChatError::new(ErrorCode::RoomNotFound))?;
        if !name.is_general() {
            chat.remember(&session, &speaker, &name, true);
            join_now(chat, &socket, &session, name);
        }
        Ok(RoomInfo { joined: true, ..info })
    };
    match chat.redis_rooms.clone() {
        // A room this instance does not know may have been created on another.
        Some(redis) if !known => {
            let chat = chat.clone();
            tokio::spawn(async move {
                let joined = refresh(&chat, &redis).await.and_then(|()| join_known(&chat));
                reply.answer(ClientEvent::JoinRoom, joined);
            });
        }
        _ => reply.answer(ClientEvent::JoinRoom, join_known(chat)),
    }
}

/// `leave room` ({room}, ack). Leaving `general` changes nothing: everyone is in it.
pub fn leave(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let left = (|| {
        session.allow_nickname_attempt()?;
        let request = req.arg::<RoomRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        let name = RoomName::parse(&request.room)?;
        let info = chat.rooms.info(&name).ok_or_else(|| ChatError::new(ErrorCode::RoomNotFound))?;
        if !name.is_general() {
            let speaker = session.speaker();
            if let Some(speaker) = &speaker {
                chat.remember(&session, speaker, &name, false);
                mark(chat, &session, &name, socket.id, &speaker.nickname, None);
            }
            if session.leave_room(&name) {
                socket.leave(members_room(&name));
                if let Some(speaker) = &speaker {
                    announce(chat, &socket, &name, &speaker.nickname, false);
                }
            }
        }
        Ok(RoomInfo { joined: name.is_general(), ..info })
    })();
    req.reply().answer(ClientEvent::LeaveRoom, left);
}

/// `room people` ({room}, ack): the nicknames in a room now, sorted (anyone connected may ask;
/// a history request for the rates). Alone: the named connections in it. In a cluster: who
/// Redis says is in it, each checked against who holds that nickname now; for `general`,
/// every nickname in use in the cluster as the nicknames task last read it.
pub fn people(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let reply = req.reply();
    let asked = session.allow_history(|| chat.admission.allow_history(session.address)).and_then(|()| {
        let request = req.arg::<RoomRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        let name = RoomName::parse(&request.room)?;
        chat.rooms.info(&name).ok_or_else(|| ChatError::new(ErrorCode::RoomNotFound))?;
        Ok(name)
    });
    let name = match asked {
        Ok(name) => name,
        Err(e) => return reply.answer::<Vec<String>>(ClientEvent::RoomPeople, Err(e)),
    };
    match (name.is_general(), chat.redis_rooms.clone()) {
        // `general`: everyone named, as the nicknames task last sent them (in a cluster, as it
        // last read them), sorted once per change, not per request.
        (true, _) => reply.answer(ClientEvent::RoomPeople, Ok(chat.online.people().as_slice())),
        (false, Some(redis)) => {
            tokio::spawn(async move {
                let present = redis.present(name.as_str(), crate::cluster::NICK).await.map_err(|e| {
                    tracing::warn!(room = %name, "cannot read who is in a room: {e}");
                    ChatError::new(ErrorCode::Unavailable)
                });
                reply.answer(ClientEvent::RoomPeople, present.map(sorted));
            });
        }
        (false, None) => {
            let here: Vec<String> = socket
                .within(members_room(&name))
                .sockets()
                .iter()
                .filter_map(|s| super::session::Session::of(s)?.nickname().map(|n| n.to_string()))
                .collect();
            reply.answer(ClientEvent::RoomPeople, Ok(sorted(here)))
        }
    }
}

/// Names in order (case aside), without repeats, at most [`ROOM_PEOPLE_MAX`] of them: the
/// answer stays within a history page's bytes whatever the crowd.
pub(super) fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort_by_cached_key(|n| (chat_shared::lowercase(n), n.clone()));
    names.dedup();
    names.truncate(ROOM_PEOPLE_MAX);
    names
}

/// `room message` ({room, text, key?}, ack): as `user message`, in a room one is in.
pub fn message(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let accepted = session.allow_message(|| chat.admission.allow_message(session.address)).and_then(|()| {
        let from = chat.speaker(&session, socket.id)?;
        let request = req.arg::<RoomSend>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        let room = RoomName::parse(&request.room)?;
        if chat.rooms.info(&room).is_none() {
            return Err(ChatError::new(ErrorCode::RoomNotFound));
        }
        if !session.in_room(&room) {
            return Err(ChatError::new(ErrorCode::NotInRoom));
        }
        let channel = if room.is_general() { Channel::General } else { Channel::Room(room) };
        super::message::allowed_line(chat, &from, channel, &request.text, request.key)
    });
    super::message::hand_over(chat, &session, socket, req.reply(), ClientEvent::RoomMessage, accepted);
}

/// The room a `history` request asks for, if this connection may read it (None: `general`).
pub fn readable(
    chat: &Chat,
    session: &super::session::Session,
    raw: Option<&str>,
) -> Result<Option<String>, ChatError> {
    let Some(raw) = raw else { return Ok(None) };
    let room = RoomName::parse(raw)?;
    if room.is_general() {
        return Ok(None);
    }
    if chat.rooms.info(&room).is_none() {
        return Err(ChatError::new(ErrorCode::RoomNotFound));
    }
    if !session.in_room(&room) {
        return Err(ChatError::new(ErrorCode::NotInRoom));
    }
    Ok(Some(room.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_listed_in_order_once_and_at_most_room_people_max() {
        let names = ["bo", "Ana", "Bo", "ana", "Ana", "Cy"].map(String::from).to_vec();
        assert_eq!(sorted(names), ["Ana", "ana", "Bo", "bo", "Cy"]);
        let crowd: Vec<String> = (0..ROOM_PEOPLE_MAX + 10).rev().map(|i| format!("n{i:04}")).collect();
        let listed = sorted(crowd);
        assert_eq!(listed.len(), ROOM_PEOPLE_MAX);
        assert_eq!((listed[0].as_str(), listed[ROOM_PEOPLE_MAX - 1].as_str()), ("n0000", "n0499"));
    }
}
