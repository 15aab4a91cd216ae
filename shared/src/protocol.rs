//! The socket.io events of the chat and their payloads. The original page's events keep their
//! exact shapes; what is new travels as extra trailing arguments (ignored by old clients) or
//! as new events. docs/protocol.md describes every one.

use std::collections::BTreeMap;

use serde::ser::SerializeTuple;
use serde::{Deserialize, Serialize};

use crate::error::ChatError;
use crate::nickname::Nickname;

/// Events a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent {
    /// `nickname` (nick, {own?, owner?}?, ack): claim a nickname, ephemeral (as the original)
    /// or owned. See [`ClaimRequest`]; ack: see [`NicknameAck`].
    Nickname,
    /// `user message` (msg, {key}?, ack?): say something to everyone. See [`SendRequest`].
    UserMessage,
    /// `history` ({after?, before?, limit?}, ack): stored messages. See [`HistoryRequest`].
    History,
    /// `resume` (token, ack): take back one's nickname after a drop. See [`SessionGrant`].
    Resume,
    /// `typing` (bool, {room}?, ack?): one started (`true`) or stopped (`false`) typing, in
    /// `general` or a room one is in. Never stored. See [`TypingRequest`].
    Typing,
    /// `forget me` (ack?): give up one's nickname now, and its ownership: anyone may claim it
    /// next. Ack: `Answer<Forgotten>`.
    ForgetMe,
    /// `about` (ack): what this chat is (its name and a line about it, set by the operator)
    /// and how many people are in it now. Ack: `Answer<About>`.
    About,
    /// `rooms` (ack): the chat's rooms. Ack: `Answer<Vec<RoomInfo>>`.
    Rooms,
    /// `create room` ({name, topic?}, ack): a new public room, joined at once. See [`CreateRoom`].
    CreateRoom,
    /// `join room` ({room}, ack): hear a room's lines. Ack: `Answer<RoomInfo>`.
    JoinRoom,
    /// `leave room` ({room}, ack): stop hearing them. Ack: `Answer<RoomInfo>`.
    LeaveRoom,
    /// `room message` ({room, text, key?}, ack): say something in a room one is in. See
    /// [`RoomSend`]; ack: `Answer<MessageMeta>`.
    RoomMessage,
    /// `room people` ({room}, ack): the nicknames in a room now. Ack: `Answer<Vec<String>>`.
    RoomPeople,
    /// `direct message` ({to, text, key?}, ack): say something to one person, from an owned
    /// nickname to another. See [`DirectSend`]; ack: `Answer<MessageMeta>`.
    DirectMessage,
    /// `conversations` (ack): the people this owned nickname has direct messages with, the
    /// newest first. Ack: `Answer<Vec<Conversation>>`.
    Conversations,
    /// `moderate` ({action, ...}, ack): a moderator's action. See
    /// [`crate::moderation::Action`]; ack: `Answer<Done>`.
    Moderate,
    /// `report` ({room?, id, reason}, ack): ask the moderators to look at a line. See
    /// [`crate::moderation::ReportRequest`]; ack: `Answer<Filed>`.
    Report,
    /// `roles` (ack): who moderates, who owns which room, the rooms' rules. Ack:
    /// `Answer<Roles>`.
    Roles,
    /// `moderation log` (ack): open reports and recent actions, for moderators. Ack:
    /// `Answer<ModerationLog>`.
    ModerationLog,
    /// `received` (receipt, ack?): the client has a bulky answer (see
    /// [`ClientEvent::is_bulky`]): its receipt, the ack's third argument, comes back so that
    /// the server may send more ([`crate::limits::UNRECEIVED_ANSWERS_MAX`]). An unknown receipt
    /// is refused `bad_payload`; ack: `Answer<()>`.
    Received,
}

/// Events the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent {
    /// `user message` (from, msg, {id, ts}): someone else said something. See [`StampedMessage`].
    UserMessage,
    /// `announcement` (text, detail): someone came or went. See [`Announcement`].
    Announcement,
    /// `nicknames` ({nick: nick}): everyone online. See [`Nicknames`].
    Nicknames,
    /// `chat error` ({event, code, message, limit?}): a request without an ack was refused.
    ChatError,
    /// `session` ({nickname, resume_token}): this connection's nickname and how to resume it.
    Session,
    /// `going away` ({retry_after_ms}): the server is shutting down; reconnect. See [`GoingAway`].
    GoingAway,
    /// `typing` ({nickname, typing}): someone else started or stopped typing. See [`Typing`].
    Typing,
    /// `presence` ({connected, disconnected}): who came and went since the last one, for
    /// clients that asked for changes ([`PRESENCE_CHANGES_QUERY`]). See [`PresenceChange`].
    Presence,
    /// `online` ([nick, ...]): everyone online, sent to a client that asked for changes once,
    /// when it is named, in parts of at most [`ONLINE_PART_NAMES`] names (the client adds
    /// them up). See [`Online`].
    Online,
    /// `signed out` ({nickname, code, message}): another connection took this connection's
    /// nickname with its resume token (another tab or device); this one no longer speaks as
    /// it. See [`SignedOut`].
    SignedOut,
    /// `room message` ({room, from, text, id, ts}): someone else said something in a room this
    /// connection is in. See [`RoomLine`].
    RoomMessage,
    /// `direct message` ({from, to, text, id, ts}): someone said something to this
    /// connection's owned nickname. See [`DirectLine`].
    DirectMessage,
    /// `line deleted` ({room, id}): a moderator deleted a line. See
    /// [`crate::moderation::LineDeleted`].
    LineDeleted,
    /// `moderated` ({sanction, room?, until?, reason, by}): a moderator muted, unmuted, kicked
    /// or banned this connection's nickname. See [`crate::moderation::Moderated`].
    Moderated,
    /// `room rules` ({room, slow_secs, locked, topic}): a room's rules changed. See
    /// [`crate::moderation::RoomRules`].
    RoomRules,
    /// `room presence` ({room, nickname, present}): someone came into a room this connection
    /// is in, or went. See [`RoomPresence`].
    RoomPresence,
}

impl ClientEvent {
    pub const ALL: [ClientEvent; 20] = [
        Self::Nickname,
        Self::UserMessage,
        Self::History,
        Self::Resume,
        Self::Typing,
        Self::ForgetMe,
        Self::About,
        Self::Rooms,
        Self::CreateRoom,
        Self::JoinRoom,
        Self::LeaveRoom,
        Self::RoomMessage,
        Self::RoomPeople,
        Self::DirectMessage,
        Self::Conversations,
        Self::Moderate,
        Self::Report,
        Self::Roles,
        Self::ModerationLog,
        Self::Received,
    ];

    /// The event called `name`, if a client may send it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Nickname => "nickname",
            Self::UserMessage => "user message",
            Self::History => "history",
            Self::Resume => "resume",
            Self::Typing => "typing",
            Self::ForgetMe => "forget me",
            Self::About => "about",
            Self::Rooms => "rooms",
            Self::CreateRoom => "create room",
            Self::JoinRoom => "join room",
            Self::LeaveRoom => "leave room",
            Self::RoomMessage => "room message",
            Self::RoomPeople => "room people",
            Self::DirectMessage => "direct message",
            Self::Conversations => "conversations",
            Self::Moderate => "moderate",
            Self::Report => "report",
            Self::Roles => "roles",
            Self::ModerationLog => "moderation log",
            Self::Received => "received",
        }
    }

    /// Its answer may be large (a history page up to ~[`crate::limits::HISTORY_PAGE_MAX_BYTES`],
    /// a `moderation log` ~1 MB): acked with a receipt that the client sends back with
    /// `received`, and refused past [`crate::limits::UNRECEIVED_ANSWERS_MAX`] unreceived (or
    /// [`crate::limits::UNRECEIVED_BYTES_MAX`] of them).
    pub const fn is_bulky(self) -> bool {
        matches!(
            self,
            Self::History
                | Self::Rooms
                | Self::RoomPeople
                | Self::Conversations
                | Self::Roles
                | Self::ModerationLog
        )
    }
}

impl ServerEvent {
    pub const ALL: [ServerEvent; 16] = [
        Self::UserMessage,
        Self::Announcement,
        Self::Nicknames,
        Self::ChatError,
        Self::Session,
        Self::GoingAway,
        Self::Typing,
        Self::Presence,
        Self::Online,
        Self::SignedOut,
        Self::RoomMessage,
        Self::DirectMessage,
        Self::LineDeleted,
        Self::Moderated,
        Self::RoomRules,
        Self::RoomPresence,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::UserMessage => "user message",
            Self::Announcement => "announcement",
            Self::Nicknames => "nicknames",
            Self::ChatError => "chat error",
            Self::Session => "session",
            Self::GoingAway => "going away",
            Self::Typing => "typing",
            Self::Presence => "presence",
            Self::Online => "online",
            Self::SignedOut => "signed out",
            Self::RoomMessage => "room message",
            Self::DirectMessage => "direct message",
            Self::LineDeleted => "line deleted",
            Self::Moderated => "moderated",
            Self::RoomRules => "room rules",
            Self::RoomPresence => "room presence",
        }
    }
}

/// The request path of socket.io (engine.io's default, which the server sets explicitly).
/// index.html's early WebSocket writes it out too: change both (the page takes that socket
/// over only when its address is the one it would open; e2e.js checks it does).
pub const SOCKET_IO_PATH: &str = "/socket.io";

/// Whether a request for `path` is a socket.io request: the server's engine.io answers
/// `/socket.io` itself and everything under `/socket.io/` (engineioxide's own rule), so every
/// check that must cover socket.io (the origin check, the proxy's `location`) uses this one.
pub fn is_socket_io_path(path: &str) -> bool {
    path.strip_prefix(SOCKET_IO_PATH).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `path` is socket.io's endpoint itself (`/socket.io` or `/socket.io/`), the only
/// socket.io paths clients use. The server answers 404 for the others under it: a proxy
/// matches `location`s on the normalised path (`/socket.io/../` is `/`) but forwards it as it
/// came, so such a path would reach engine.io through the proxy's other rules.
pub fn is_socket_io_endpoint(path: &str) -> bool {
    path.strip_prefix(SOCKET_IO_PATH).is_some_and(|rest| rest.is_empty() || rest == "/")
}

/// The connection query parameter (`?presence=changes` next to `EIO=4`) by which a client
/// asks to learn who is online by changes: once named, it gets `online` (everyone) once, then
/// a `presence` event per change (coalesced), and neither `nicknames` nor an `announcement`
/// for arrivals and departures. Without it a client gets what the original sent: an `announcement` per person
/// and the whole map again after every change (which costs O(N²) when N people arrive).
/// index.html's early WebSocket writes it out too (see [`SOCKET_IO_PATH`]).
pub const PRESENCE_CHANGES_QUERY: (&str, &str) = ("presence", "changes");

/// `online`: a part of everyone online: `["Ana", "Bo"]`. A client that asked for changes gets
/// all the parts, one after the other, right after it is named and before any `presence`;
/// its list is their union. Parts keep every frame small (a server keeps each connection's
/// write buffer at the size of the largest frame it ever sent it).
pub type Online = Vec<String>;

/// The most names in one `online` part (about 8 KB).
pub const ONLINE_PART_NAMES: usize = 256;

/// `presence`: who arrived and who left since the previous `presence` or `online` this
/// client got (`{"connected": ["Ana"], "disconnected": []}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    pub connected: Vec<String>,
    pub disconnected: Vec<String>,
}

impl PresenceChange {
    /// What changed from `old` to `new`.
    pub fn between(old: &Nicknames, new: &Nicknames) -> Self {
        Self {
            connected: new.keys().filter(|n| !old.contains_key(*n)).cloned().collect(),
            disconnected: old.keys().filter(|n| !new.contains_key(*n)).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.connected.is_empty() && self.disconnected.is_empty()
    }
}

/// The ack of `nickname`, as the original sent it (`taken`: `false` = accepted), plus the
/// reason as a second argument on rejection: `[false]` or `[true, {code, message, limit?}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicknameAck {
    Accepted,
    Rejected(ChatError),
}

impl Serialize for NicknameAck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Accepted => {
                let mut t = s.serialize_tuple(1)?;
                t.serialize_element(&false)?;
                t.end()
            }
            Self::Rejected(reason) => {
                let mut t = s.serialize_tuple(2)?;
                t.serialize_element(&true)?;
                t.serialize_element(reason)?;
                t.end()
            }
        }
    }
}

impl NicknameAck {
    /// Reads the ack's arguments as a client receives them.
    pub fn from_args(args: &[serde_json::Value]) -> Option<Self> {
        match args.first()?.as_bool()? {
            false => Some(Self::Accepted),
            true => {
                let reason = args.get(1).cloned().and_then(|v| serde_json::from_value(v).ok());
                Some(Self::Rejected(
                    reason.unwrap_or_else(|| ChatError::new(crate::error::ErrorCode::NicknameTaken)),
                ))
            }
        }
    }
}

/// A node-style ack: `[null, value]` on success, `[{code, message, limit?}]` on refusal.
/// `user message` acks `Answer<MessageMeta>`, `history` acks `Answer<HistoryPage>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T>(pub Result<T, ChatError>);

impl<T: Serialize> Serialize for Answer<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Ok(v) => {
                let mut t = s.serialize_tuple(2)?;
                t.serialize_element(&None::<ChatError>)?;
                t.serialize_element(v)?;
                t.end()
            }
            Err(e) => {
                let mut t = s.serialize_tuple(1)?;
                t.serialize_element(e)?;
                t.end()
            }
        }
    }
}

impl<T: serde::de::DeserializeOwned> Answer<T> {
    /// Reads an ack's arguments as a client receives them.
    pub fn from_args(args: &[serde_json::Value]) -> Option<Self> {
        match args.first()? {
            serde_json::Value::Null => {
                let v = args.get(1).cloned().unwrap_or(serde_json::Value::Null);
                serde_json::from_value(v).ok().map(|v| Self(Ok(v)))
            }
            e => serde_json::from_value(e.clone()).ok().map(|e| Self(Err(e))),
        }
    }
}

/// A bulky answer's ack (see [`ClientEvent::is_bulky`]): `[null, value, receipt]`. The
/// receipt goes back with `received` once the client has it (clients that ignore it still
/// read the first two as an [`Answer`]).
pub struct Receipted<'a, T>(pub &'a T, pub Receipt);

impl<T: Serialize> Serialize for Receipted<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&None::<ChatError>)?;
        t.serialize_element(self.0)?;
        t.serialize_element(&self.1)?;
        t.end()
    }
}

/// A bulky answer's receipt: a random number below 2^53 (exact in a JavaScript number), so
/// that a client cannot send it back without having read the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Receipt(pub u64);

impl Receipt {
    /// Receipts are below this (JavaScript's `Number.MAX_SAFE_INTEGER` + 1).
    pub const BOUND: u64 = 1 << 53;

    /// The receipt an ack's arguments carry, if any (a bulky answer's third argument).
    pub fn of_ack(args: &[serde_json::Value]) -> Option<Self> {
        args.get(2)?.as_u64().filter(|&n| n < Self::BOUND).map(Self)
    }
}

/// What an announcement is about, for pages that render it in their own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnnouncementDetail {
    Connected { nickname: String },
    Disconnected { nickname: String },
}

/// `announcement` as the server sends it: the original's English text, then the detail
/// (`["Ana connected", {"kind": "connected", "nickname": "Ana"}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announcement(pub String, pub AnnouncementDetail);

impl Announcement {
    pub fn connected(nick: &Nickname) -> Self {
        Self(format!("{nick} connected"), AnnouncementDetail::Connected { nickname: nick.to_string() })
    }

    pub fn disconnected(nick: &Nickname) -> Self {
        Self(format!("{nick} disconnected"), AnnouncementDetail::Disconnected { nickname: nick.to_string() })
    }
}

/// `nicknames`: everyone online, as the original sent it (an object mapping each nickname
/// to itself).
pub type Nicknames = BTreeMap<String, String>;

/// `chat error`: sent when a request that carried no ack was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatErrorEvent {
    /// The client event that was refused (`"user message"`, `"nickname"`).
    pub event: String,
    #[serde(flatten)]
    pub error: ChatError,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    #[test]
    fn a_client_event_is_found_by_its_name_and_only_by_it() {
        for event in ClientEvent::ALL {
            assert_eq!(ClientEvent::from_name(event.name()), Some(event));
        }
        assert_eq!(ClientEvent::from_name("announcement"), None, "a server's event");
        assert_eq!(ClientEvent::from_name("Nickname"), None);
        assert_eq!(ClientEvent::from_name(""), None);
    }

    #[test]
    fn socket_io_paths_are_engine_ios_own() {
        for yes in ["/socket.io", "/socket.io/", "/socket.io/x"] {
            assert!(is_socket_io_path(yes), "{yes}");
        }
        for no in ["/", "/socket.iox", "/socket", "/x/socket.io", "/Socket.io", "/socket%2Eio"] {
            assert!(!is_socket_io_path(no), "{no}");
        }
        assert!(is_socket_io_endpoint("/socket.io") && is_socket_io_endpoint("/socket.io/"));
        for no in ["/socket.io/x", "/socket.io/../", "/socket.io/%2e%2e/", "/socket.io//", "/"] {
            assert!(!is_socket_io_endpoint(no), "{no}");
        }
    }

    #[test]
    fn a_presence_change_is_who_came_and_who_went() {
        let map = |names: &[&str]| names.iter().map(|n| (n.to_string(), n.to_string())).collect();
        let change = PresenceChange::between(&map(&["Ana", "Bo"]), &map(&["Bo", "Cy", "Dé"]));
        assert_eq!(change.connected, ["Cy", "Dé"]);
        assert_eq!(change.disconnected, ["Ana"]);
        assert!(PresenceChange::between(&map(&["Ana"]), &map(&["Ana"])).is_empty());
        assert_eq!(
            serde_json::to_value(&change).unwrap(),
            serde_json::json!({"connected": ["Cy", "Dé"], "disconnected": ["Ana"]})
        );
    }

    #[test]
    fn send_request_reads_old_and_new_clients() {
        let old: SendRequest = serde_json::from_value(json!(["hi"])).unwrap();
        assert_eq!(old, SendRequest { text: "hi".into(), key: None });
        let spoof: SendRequest = serde_json::from_value(json!(["hi", "Mallory", 3])).unwrap();
        assert_eq!(spoof.key, None);
        let new: SendRequest = serde_json::from_value(json!(["hi", {"key": "k1"}])).unwrap();
        assert_eq!(new.key.as_deref(), Some("k1"));
        assert!(serde_json::from_value::<SendRequest>(json!([42])).is_err());
        assert!(serde_json::from_value::<SendRequest>(json!([])).is_err());
    }

    #[test]
    fn claim_request_reads_old_and_new_clients() {
        let read = |v| serde_json::from_value::<ClaimRequest>(v).map(|c| c.owner);
        assert_eq!(read(json!(["Ana"])).unwrap(), OwnerClaim::Nobody);
        assert_eq!(read(json!(["Ana", 3, "x"])).unwrap(), OwnerClaim::Nobody, "old extras ignored");
        assert_eq!(read(json!(["Ana", {"own": true}])).unwrap(), OwnerClaim::New);
        assert_eq!(read(json!(["Ana", {"own": false}])).unwrap(), OwnerClaim::Nobody);
        assert_eq!(read(json!(["Ana", {"owner": "s"}])).unwrap(), OwnerClaim::Secret("s".into()));
        assert_eq!(read(json!(["Ana", {"owner": 5}])).unwrap(), OwnerClaim::Nobody, "not a secret");
        assert!(read(json!([42])).is_err() && read(json!([])).is_err());
        let grant = SessionGrant { nickname: "Ana".into(), resume_token: "t".into(), owner_secret: None };
        assert_eq!(serde_json::to_value(&grant).unwrap(), json!({"nickname": "Ana", "resume_token": "t"}));
        let secret =
            SessionGrant { resume_token: "tok123".into(), owner_secret: Some("sec456".into()), ..grant };
        let shown = format!("{secret:?} {:?}", OwnerClaim::Secret("sec456".into()));
        assert!(!shown.contains("tok123") && !shown.contains("sec456"), "{shown}");
    }

    #[test]
    fn typing_request_reads_old_and_new_clients() {
        let read = |v| serde_json::from_value::<TypingRequest>(v);
        assert_eq!(read(json!([true])).unwrap(), TypingRequest { typing: true, room: None });
        assert_eq!(read(json!([false, {"room": "ops"}])).unwrap().room.as_deref(), Some("ops"));
        assert_eq!(read(json!([true, "x"])).unwrap().room, None, "anything else is ignored");
        assert!(read(json!(["yes"])).is_err() && read(json!([])).is_err());
    }

    #[test]
    fn nickname_ack_keeps_the_original_first_argument() {
        assert_eq!(serde_json::to_value(NicknameAck::Accepted).unwrap(), json!([false]));
        let taken = NicknameAck::Rejected(ChatError::new(ErrorCode::NicknameTaken));
        let v = serde_json::to_value(&taken).unwrap();
        assert_eq!(v[0], json!(true));
        assert_eq!(v[1]["code"], json!("nickname_taken"));
        let args = v.as_array().unwrap();
        assert_eq!(NicknameAck::from_args(args), Some(taken));
        assert_eq!(NicknameAck::from_args(&[json!(false)]), Some(NicknameAck::Accepted));
    }

    #[test]
    fn server_payload_shapes() {
        let ana = Nickname::parse("Ana").unwrap();
        let stamped = StampedMessage("Ana", "hi", MessageMeta { id: 1, ts: 2 });
        assert_eq!(serde_json::to_value(stamped).unwrap(), json!(["Ana", "hi", {"id": 1, "ts": 2}]));
        assert_eq!(
            serde_json::to_value(Announcement::connected(&ana)).unwrap(),
            json!(["Ana connected", {"kind": "connected", "nickname": "Ana"}])
        );
        let meta = MessageMeta { id: 7, ts: 1 };
        assert_eq!(serde_json::to_value(Answer(Ok(meta))).unwrap(), json!([null, {"id": 7, "ts": 1}]));
        let refused = Answer::<MessageMeta>(Err(ChatError::new(ErrorCode::NotNamed)));
        let args = serde_json::to_value(&refused).unwrap();
        assert_eq!(args[0]["code"], json!("not_named"));
        assert_eq!(Answer::<MessageMeta>::from_args(args.as_array().unwrap()), Some(refused));
        assert_eq!(
            Answer::<MessageMeta>::from_args(&[json!(null), json!({"id": 7, "ts": 1})]),
            Some(Answer(Ok(meta)))
        );
        let e = ChatErrorEvent { event: "user message".into(), error: ChatError::new(ErrorCode::NotNamed) };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], json!("user message"));
        assert_eq!(v["code"], json!("not_named"));
    }
}

/// Identity of an accepted message: its id (totally ordered, increasing) and the server's
/// timestamp (milliseconds since the Unix epoch, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    pub id: u64,
    pub ts: i64,
}

/// `user message` as a client sends it: `(msg)` as the original, or `(msg, {key})` where `key`
/// is the client's idempotency key (a resent message with the same key is stored once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub text: String,
    pub key: Option<String>,
}

#[derive(Deserialize)]
struct SendOptions {
    #[serde(default)]
    key: Option<String>,
}

impl<'de> Deserialize<'de> for SendRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (text, options) = first_then_options::<D, String, SendOptions>(d, "a message text")?;
        Ok(SendRequest { text, key: options.and_then(|o| o.key) })
    }
}

/// Reads the arguments `(first, options?)` of an event: the first as `F`, the second as the
/// options object `O` if it is one. Anything else in second place, and every later argument, is
/// ignored (old clients may send extras; they never chose what the options say).
fn first_then_options<'de, D, F, O>(d: D, first: &'static str) -> Result<(F, Option<O>), D::Error>
where
    D: serde::Deserializer<'de>,
    F: Deserialize<'de>,
    O: serde::de::DeserializeOwned,
{
    struct Args<F, O>(&'static str, std::marker::PhantomData<(F, O)>);
    impl<'de, F: Deserialize<'de>, O: serde::de::DeserializeOwned> serde::de::Visitor<'de> for Args<F, O> {
        type Value = (F, Option<O>);
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}, then optionally an options object", self.0)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first: F = seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
            let options = match seq.next_element::<serde_json::Value>()? {
                Some(v) => serde_json::from_value::<O>(v).ok(),
                None => None,
            };
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok((first, options))
        }
    }
    d.deserialize_tuple(usize::MAX, Args::<F, O>(first, std::marker::PhantomData))
}

/// `user message` as the server sends it to new clients: `(from, msg, {id, ts})`; old
/// clients read the first two arguments only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StampedMessage<'a>(pub &'a str, pub &'a str, pub MessageMeta);

/// One stored message, as `history` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMessage {
    pub id: u64,
    pub ts: i64,
    pub from: String,
    pub text: String,
}

/// `history` (request, ack): a page of stored messages. With `after`, the messages after that
/// id (resume); with `before`, the ones before it (scrolling up); with neither, the newest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The room (absent: `general`, the original's); other rooms only for their members. Last,
    /// so that the array form `[after, before, limit]` that serde also reads keeps its meaning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The direct messages with this owned nickname (for an owned nickname only; not with
    /// `room`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
}

/// The answer to `history`: messages in id order; `gap` when some messages after `after` are
/// no longer kept (retention), `more` when there are more to fetch in the same direction;
/// `deleted`: the ids of lines a moderator deleted lately in that room (absent: none), so that a
/// page that was away when it happened drops them too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub messages: Vec<HistoryMessage>,
    pub gap: bool,
    pub more: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
}

/// `going away` ({retry_after_ms}): sent to every connection when the server begins to shut
/// down (SIGTERM), just before it stores what is in flight and closes the connections. Clients
/// should reconnect (to this server after its restart, or to another instance) after a random
/// delay below `retry_after_ms`, so that they do not all come back at the same instant; their
/// nickname stays reserved for them meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoingAway {
    pub retry_after_ms: u64,
}

impl GoingAway {
    /// What the server sends: spread reconnects over one second.
    pub const SHUTDOWN: GoingAway = GoingAway { retry_after_ms: 1000 };
}

/// `session` ({nickname, resume_token}): sent to a connection when it gets its nickname. The
/// token re-claims that nickname with `resume` after a drop (or a server restart). Each
/// `resume` answers a new token (the old one no longer works): keep the latest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionGrant {
    pub nickname: String,
    pub resume_token: String,
    /// For an owned nickname's claim: the owner secret that claims it from now on (keep it,
    /// e.g. in `localStorage`; it replaces any secret sent with the claim). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_secret: Option<String>,
}

/// `nickname` as a client sends it: `(nick)` as the original (an ephemeral nickname, free
/// again when its holder leaves), `(nick, {"own": true})` to own it, or
/// `(nick, {"owner": "<secret>"})` to claim it with the owner secret a `session` grant gave
/// (another tab, a reload, the next visit). An owned nickname stays reserved for its owner
/// while unused for up to the server's reservation time (30 days by default): nobody else
/// claims it (`nickname_owned`). A secret that owns another nickname moves its ownership to
/// this one (one owned nickname per secret); an unknown secret counts as `own`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub nickname: String,
    pub owner: OwnerClaim,
}

/// Secrets stay out of `Debug` (and so out of any log line or panic message).
impl std::fmt::Debug for SessionGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionGrant")
            .field("nickname", &self.nickname)
            .field("resume_token", &"..")
            .field("owner_secret", &self.owner_secret.as_ref().map(|_| ".."))
            .finish()
    }
}

impl std::fmt::Debug for OwnerClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nobody => f.write_str("Nobody"),
            Self::New => f.write_str("New"),
            Self::Secret(_) => f.write_str("Secret(..)"),
        }
    }
}

/// How a claim asks to own its nickname.
#[derive(Clone, PartialEq, Eq)]
pub enum OwnerClaim {
    /// Ephemeral, as the original: no ownership.
    Nobody,
    /// Own it: the grant brings a new owner secret.
    New,
    /// As the owner whose secret this is.
    Secret(String),
}

#[derive(Deserialize)]
struct ClaimOptions {
    #[serde(default)]
    own: bool,
    #[serde(default)]
    owner: Option<String>,
}

impl<'de> Deserialize<'de> for ClaimRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (nickname, options) = first_then_options::<D, String, ClaimOptions>(d, "a nickname")?;
        let owner = match options {
            Some(ClaimOptions { owner: Some(secret), .. }) => OwnerClaim::Secret(secret),
            Some(ClaimOptions { own: true, .. }) => OwnerClaim::New,
            _ => OwnerClaim::Nobody,
        };
        Ok(ClaimRequest { nickname, owner })
    }
}

/// The answer to `about`: the chat's name and a line about it (absent: the operator set none;
/// the page then uses its own words), and how many people are online now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    pub online: u64,
}

/// A room as `rooms`, `create room`, `join room` and `leave room` answer it; `joined`: the
/// connection is in it (sent only when true).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub name: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub joined: bool,
}

/// `create room`: its name (see [`crate::RoomName`]) and topic (at most
/// [`crate::limits::ROOM_TOPIC_MAX_CHARS`] chars).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    pub name: String,
    #[serde(default)]
    pub topic: String,
}

/// `join room`, `leave room`: which room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRequest {
    pub room: String,
}

/// `room message` as a client sends it; `key` as in `user message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSend {
    pub room: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `room message` as the server delivers it (ids are the history's: one sequence for every
/// room).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomLine {
    pub room: String,
    pub from: String,
    pub text: String,
    pub id: u64,
    pub ts: i64,
}

/// `direct message` as a client sends it: to whom (an owned nickname), what, and `key` as in
/// `user message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectSend {
    pub to: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `direct message` as the server delivers it to its addressee (ids are the history's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectLine {
    pub from: String,
    pub to: String,
    pub text: String,
    pub id: u64,
    pub ts: i64,
}

/// One entry of `conversations`: with whom, and the id and time of its newest line (a page
/// counts what it has not read from the id it read last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub with: String,
    pub last_id: u64,
    pub last_ts: i64,
}

/// The answer to `forget me`: the nickname that was given up (free for anyone now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    pub nickname: String,
}

/// `signed out`: another connection resumed this connection's nickname with its token (the
/// same person in another tab or on another device, or whoever holds the token). From now on
/// this connection is not named: what it sends as that nickname is refused
/// `signed_in_elsewhere`, and its old token no longer resumes. It may claim another nickname.
/// `{"nickname": "Ana", "code": "signed_in_elsewhere", "message": "You are signed in from another tab"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOut {
    pub nickname: String,
    #[serde(flatten)]
    pub error: ChatError,
}

impl SignedOut {
    pub fn elsewhere(nickname: &Nickname) -> Self {
        Self { nickname: nickname.to_string(), error: ChatError::new(crate::ErrorCode::SignedInElsewhere) }
    }
}

/// `typing` as the server relays it to everyone but the typist: `{nickname, typing}`. A page
/// shows a typist until it gets `typing: false`, a line from them, their leaving, or nothing
/// for [`crate::limits::TYPING_EXPIRY`] (the typist repeats `true` every
/// [`crate::limits::TYPING_REFRESH`] while still typing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub nickname: String,
    pub typing: bool,
    /// The room it is about (absent: `general`, as the original's clients expect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

/// `room presence`: `nickname` came into `room` (`present`: it joined, or its connection came
/// back into it) or went (it left the room, or its connection went), sent to the room's other
/// members. A page keeps the list `room people` gave it up to date with these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPresence {
    pub room: String,
    pub nickname: String,
    pub present: bool,
}

/// `typing` as a client sends it: `(bool)` for `general`, or `(bool, {"room": "…"})` for a room
/// it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypingRequest {
    pub typing: bool,
    pub room: Option<String>,
}

#[derive(Deserialize)]
struct TypingOptions {
    #[serde(default)]
    room: Option<String>,
}

impl<'de> Deserialize<'de> for TypingRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (typing, options) = first_then_options::<D, bool, TypingOptions>(d, "true or false")?;
        Ok(TypingRequest { typing, room: options.and_then(|o| o.room) })
    }
}
