//! The page's state as plain data, and the one path that changes it: `reduce::apply(state,
//! event, now)` returns which parts changed (the views showing them re-render) and the side
//! effects to run (the service runs them). Nothing here touches the browser: it is all
//! unit-tested on the host.

mod channel;
mod decode;
mod online;
mod reduce;
#[cfg(test)]
mod tests;
mod window;

use std::sync::Arc;

use chat_shared::ChatError;
use chat_shared::ErrorCode;
use chat_shared::moderation::{LineDeleted, Moderated, ModerationLog, Roles, RoomRules};
use chat_shared::protocol::{
    About, Conversation, DirectLine, GoingAway, HistoryPage, MessageMeta, NicknameAck, PresenceChange,
    RoomInfo, RoomLine, RoomPresence, SessionGrant, SignedOut, Typing,
};

pub use channel::{Badge, ChannelId, ChannelMap};
pub use decode::decode;
pub use online::Online;
pub use reduce::apply;
pub use window::Window;

/// The connection, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    #[default]
    Connecting,
    Connected,
    Reconnecting,
}

/// Where one's own line is: waiting to be stored (in the outbox), stored, or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendStatus {
    Pending,
    Stored(MessageMeta),
    Failed(Problem),
}

/// What changed in a room's rules, as the page says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesChange {
    Locked,
    /// Slow mode: one line per this many seconds.
    Slow(u32),
    /// No longer locked nor slow.
    Open,
    Topic(String),
}

/// A role shown beside a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A moderator of the whole chat.
    Moderator,
    /// The open room's owner (its creator).
    Owner,
    /// A moderator of the open room.
    RoomModerator,
}

/// The names with a role where the reader is, by nickname key: [`ChatState::roles_here`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolesHere(Vec<(String, Role)>);

impl RolesHere {
    /// `nick`'s role (no case folding at all while nobody has one, the usual case).
    pub fn role_of(&self, nick: &str) -> Option<Role> {
        if self.0.is_empty() {
            return None;
        }
        let key = chat_shared::lowercase(nick);
        self.0.iter().find(|(name, _)| *name == key).map(|(_, role)| *role)
    }
}

/// Why something did not work, for the page to say in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The server refused it (the code says why).
    Refused(ErrorCode),
    NotConnected,
    ConnectionLost,
    NoAnswer,
    NotUnderstood,
}

/// Someone came or went (from the server's structured detail; `Text` for a server that only
/// sent the English sentence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    Connected(String),
    Disconnected(String),
    /// Many came (`connected`) or went at once: the first few names and how many more.
    Several {
        connected: bool,
        names: Vec<String>,
        others: usize,
    },
    Text(String),
}

/// The page's own status lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Reconnecting,
    Reconnected,
    GoingAway,
    /// Some older lines are no longer kept.
    Gap,
    Failed(Problem),
    /// The transport's own error text.
    ConnectionError(String),
    /// A moderator muted, unmuted, kicked or banned the reader.
    Moderated(Moderated),
    /// A room's rules changed.
    Rules {
        room: String,
        change: RulesChange,
    },
    /// The reader's report reached the moderators.
    Reported,
}

/// What a line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A line from someone (from history, or live from someone else).
    User { from: String, text: String },
    /// One's own line; `key` (the idempotency key) makes resending it harmless. Its status is
    /// kept beside it ([`Line::status`]) so that a status change re-renders the status only.
    Mine { text: String, key: String },
    /// "Ana connected" and the like.
    Announcement(Announced),
    /// The page's own status lines ("System").
    System(Note),
}

/// One line of the conversation. Cheap to clone (the body is shared): the layout hands clones
/// to the views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The page's own key for the line (rows are keyed by it), not the server's id.
    pub key: u64,
    /// The server's id, for a stored line from someone (own lines: see `status`).
    pub id: Option<u64>,
    /// When it was said (ms since the epoch): the server's timestamp once there is one, else
    /// when the page got or wrote it.
    pub at: i64,
    pub body: Arc<Body>,
    /// Own lines only: where the line is.
    pub status: Option<SendStatus>,
}

impl Line {
    /// The server's id of the message on this line, once it has one.
    pub fn server_id(&self) -> Option<u64> {
        match &self.status {
            Some(SendStatus::Stored(meta)) => Some(meta.id),
            _ => self.id,
        }
    }

    /// An own line not stored yet (pending or refused): the page never drops one.
    pub fn unsent(&self) -> bool {
        matches!(self.status, Some(SendStatus::Pending | SendStatus::Failed(_)))
    }
}

/// Who the reader is: the accepted nickname, the one asked for, and the token to take it back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Me {
    pub nickname: Option<String>,
    /// Asked for and not yet answered.
    pub requested: Option<String>,
    /// Being claimed again (after a reconnect or a reload); it stays shown meanwhile.
    pub reclaiming: bool,
    /// Takes the nickname back after a drop (from the server's `session`).
    pub resume_token: Option<String>,
    /// Why the last claim failed (or why the page was signed out).
    pub error: Option<ChatError>,
    /// The nickname this browser owns (kept across visits, shared by its tabs).
    pub owner: Option<Owner>,
    /// A moderator disconnected or banned the reader: why (the form says it; the page does not
    /// take the nickname back by itself).
    pub removed: Option<Moderated>,
}

/// An owned nickname and the secret that claims it (from the server's grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub nickname: String,
    pub secret: String,
}

impl Owner {
    /// The key that takes this nickname on another device: the secret, a dot, the nickname.
    pub fn key(&self) -> String {
        format!("{}.{}", self.secret, self.nickname)
    }

    /// The owned nickname a key names (None if it is not one: a secret of
    /// [`chat_shared::limits::OWNER_SECRET_HEX`] lower-case hex digits, a dot, a nickname).
    pub fn from_key(key: &str) -> Option<Self> {
        let (secret, nickname) = key.trim().split_once('.')?;
        let hex = secret.len() == chat_shared::limits::OWNER_SECRET_HEX
            && secret.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let nickname = chat_shared::Nickname::parse(nickname).ok()?;
        hex.then(|| Self { nickname: nickname.to_string(), secret: secret.to_owned() })
    }
}

/// A claim of a nickname: as its owner if the browser has a secret, else asking to own it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub nickname: String,
    pub owner_secret: Option<String>,
}

/// Someone else typing, until when to show them (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typist {
    pub nickname: String,
    pub until: i64,
}

/// Which page of history: the newest (first connect, or back to the live end), what came after
/// the last line shown (resume, scrolling down), or what came before the first (scrolling up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    Newest,
    After(u64),
    Older(u64),
}

/// Everything that can change the page's state: what the server and the connection say, and
/// what the reader does.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Connected {
        reconnected: bool,
    },
    Reconnecting,
    ConnectionError(String),
    /// The reader asked for a nickname (pending until the answer).
    NicknameRequested(String),
    NicknameAnswered(NicknameAck),
    /// The nickname request got no answer (connection lost, timeout).
    NicknameFailed(Problem),
    /// The resume token was not taken (unknown, expired): the page asks for the name instead.
    ResumeRefused,
    /// The server granted (or confirmed, on resume) this nickname and its resume token.
    Session(SessionGrant),
    /// What the browser kept of its owned nickname (at start): claimed once connected.
    Owned(Owner),
    /// The reader entered the key of a nickname it owns on another device: claimed with it.
    KeyEntered(Owner),
    /// How far the direct conversations were read (kept by the browser, at start).
    ReadMarks(ChannelMap<u64>),
    /// The server said what the chat is (`about`).
    About(About),
    /// The reader asked to give up the nickname and its ownership ("forget me").
    ForgetRequested,
    /// The server forgot it: the page is unnamed, and the browser owns nothing.
    Forgotten,
    /// Another tab (or device) took the nickname over with the resume token: this page is no
    /// longer named and must not claim it back by itself.
    SignedOut(SignedOut),
    Nicknames(Vec<String>),
    /// A part of everyone online (added to what the page has).
    Online(Vec<String>),
    /// Who came and went (the server's `presence`).
    Presence(PresenceChange),
    UserMessage {
        from: String,
        text: String,
        meta: Option<MessageMeta>,
    },
    Announcement(Announced),
    /// Someone else started or stopped typing.
    Typing(Typing),
    /// A second passed (typists not heard from for a while are forgotten).
    Tick,
    /// The tab was hidden (`true`) or shown again (which clears the unread count).
    Hidden(bool),
    /// The server is shutting down; the page reconnects within the given time.
    GoingAway(GoingAway),
    /// The reader wrote a line in `channel` (or the tab's outbox brought one back after a
    /// reload).
    Outgoing {
        key: String,
        text: String,
        channel: ChannelId,
    },
    Stored {
        key: String,
        meta: MessageMeta,
    },
    SendFailed {
        key: String,
        reason: Problem,
    },
    Retry {
        key: String,
    },
    /// A page of stored messages of `channel` arrived...
    History {
        page: HistoryPage,
        kind: HistoryKind,
        channel: ChannelId,
    },
    /// ...or did not (refused, lost): it may be asked for again.
    HistoryFailed(ChannelId, HistoryKind),
    /// The reader opens a channel (a link, the side list, the keyboard, a name's button).
    Open(ChannelId),
    /// The reader opens the channel after (`1`) or before (`-1`) the current one in the list.
    Step(i8),
    /// The chat's rooms (the server's `rooms`), with those this connection is in.
    Rooms(Vec<RoomInfo>),
    /// This connection is in that room now (it joined or created it).
    RoomJoined(RoomInfo),
    /// ...or no longer.
    RoomLeft(String),
    /// A room could not be joined or created.
    RoomRefused(ChatError),
    /// The people this owned nickname has direct messages with (the server's `conversations`).
    Conversations(Vec<Conversation>),
    /// How many lines of a channel the reader has not read (counted from history on arrival).
    Unread {
        channel: ChannelId,
        count: u32,
    },
    RoomLine(RoomLine),
    DirectLine(DirectLine),
    /// A moderator deleted a line.
    LineDeleted(LineDeleted),
    /// A moderator acted on the reader's nickname.
    Moderated(Moderated),
    /// A room's rules changed (slow mode, locked, topic).
    RoomRules(RoomRules),
    /// Who moderates (the server's `roles`).
    Roles(Roles),
    /// The open reports and recent actions, for a moderator (the server's `moderation log`).
    ModerationLog(ModerationLog),
    /// The reader closed the reports view.
    CloseLog,
    /// A `report` or `moderate` the reader asked for was answered (an error is shown).
    ModerationAnswered {
        report: bool,
        result: Result<(), ChatError>,
    },
    /// Who is in a room now (the server's `room people`).
    RoomPeople {
        room: String,
        names: Vec<String>,
    },
    /// Someone came into a room the reader is in, or went (the server's `room presence`).
    RoomPresence(RoomPresence),
    /// The reader scrolled to the top of the lines (or pressed "load older").
    ScrolledToTop,
    /// The reader is at the bottom of the lines (`true`: following the newest) or not.
    Following(bool),
    /// The reader asked for the newest lines ("jump to newest").
    JumpToNewest,
    ServerRefused(chat_shared::protocol::ChatErrorEvent),
}

/// A part of the state that a view may show; an event reports the parts it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Connection,
    Me,
    Online,
    Lines,
    Typists,
    Unread,
    /// The side list: the rooms, the direct conversations, their badges, which one is open.
    Channels,
}

impl Part {
    pub const COUNT: usize = 7;
}

/// What an event changed: parts, and own lines whose status changed (by line key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changed {
    parts: u8,
    pub statuses: Vec<u64>,
}

impl Changed {
    pub fn mark(&mut self, part: Part) {
        self.parts |= 1 << part as u8;
    }

    pub fn has(&self, part: Part) -> bool {
        self.parts & (1 << part as u8) != 0
    }

    pub fn parts(&self) -> impl Iterator<Item = Part> + '_ {
        [Part::Connection, Part::Me, Part::Online, Part::Lines, Part::Typists, Part::Unread, Part::Channels]
            .into_iter()
            .filter(|p| self.has(*p))
    }
}

/// A side effect an event asks for; the service runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideEffect {
    /// Ask the server for this nickname.
    Claim(Claim),
    /// Ask for it again after this many ms, if the page is still taking it back then (the
    /// address's claims were used up for a moment).
    ClaimLater(Claim, u64),
    /// Ask the server to forget the nickname and its ownership.
    ForgetMe,
    /// Ask the server what the chat is and how many are online.
    FetchAbout,
    /// Keep the owned nickname in the browser, or forget it there (it changed).
    SaveOwner,
    /// Take the nickname back with this resume token (if refused, the reducer asks for it).
    Resume(String),
    /// Send the outbox (own lines not stored yet), oldest first.
    SendOutbox,
    /// Keep the nickname and token in the tab (they changed).
    SaveSession,
    /// Keep the outbox in the tab (it changed).
    SaveOutbox,
    FetchHistory(ChannelId, HistoryKind),
    /// Ask for the chat's rooms (with those this connection is in)...
    FetchRooms,
    /// ...and for this owned nickname's direct conversations.
    FetchConversations,
    /// Join this room (opened by a link or the address: never created then).
    JoinRoom(String),
    /// Ask who is in this room now.
    FetchRoomPeople(String),
    /// Ask who moderates what.
    FetchRoles,

    /// Count the lines of a channel after this id (the one read last on an earlier visit).
    CountUnread(ChannelId, u64),
    /// The address bar names the open channel.
    ShowChannel(ChannelId),
    /// Keep how far the direct conversations were read (it changed).
    SaveRead,
    /// A line for the reader arrived in a direct conversation while the tab is hidden.
    DirectArrived {
        from: String,
        text: String,
    },
    /// A line that mentions the reader arrived while the tab is hidden.
    Mentioned {
        from: String,
        text: String,
    },
    /// The server is going away: reconnect within this many ms.
    ReconnectWithin(u64),
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub changed: Changed,
    pub effects: Vec<SideEffect>,
}

/// The page's state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatState {
    pub connection: Connection,
    /// What the server says about the chat (its name, a line about it, how many are online),
    /// asked for at every connect; it is shown on the first screen.
    pub about: Option<About>,
    pub me: Me,
    pub online: Online,
    /// The lines the page holds of the open channel (at most `PAGE_LINES_MAX`), and where
    /// they sit in its history.
    pub window: Window,
    /// The open channel (`general` at first).
    pub current: ChannelId,
    /// The windows of channels not shown now that hold own lines not stored yet (the others
    /// are dropped when left, and read again from the history when opened).
    pub parked: ChannelMap<Window>,
    /// The chat's rooms, as the server listed them (`joined`: this connection is in it).
    pub rooms: Vec<RoomInfo>,
    /// The people this owned nickname has direct messages with, the newest first.
    pub directs: Vec<String>,
    /// What the side list says of each channel not shown now: unread lines, a mention.
    pub badges: ChannelMap<Badge>,
    /// Why the last room could not be joined or created.
    pub room_error: Option<ChatError>,
    /// Who is in the open room (the online list shows them there instead of everyone).
    pub room_people: Vec<String>,
    /// How far the reader read each direct conversation (the newest id seen; kept by the
    /// browser, so that the next visit counts what came after).
    pub read: ChannelMap<u64>,
    /// Who else is typing, in the order they started.
    pub typists: Vec<Typist>,
    /// The tab is hidden...
    pub hidden: bool,
    /// ...and this many lines from others arrived meanwhile.
    pub unread: u32,
    /// Who moderates what (asked for when named, and now and then).
    pub roles: Roles,
    /// The reports view, while a moderator has it open.
    pub moderation_log: Option<ModerationLog>,
}

impl ChatState {
    /// The role `nick` has where the reader is: the chat's moderator, or the open room's
    /// owner or moderator.
    pub fn role_of(&self, nick: &str) -> Option<Role> {
        self.roles_here().role_of(nick)
    }

    /// Who has a role where the reader is (the first role listed for a name counts).
    pub fn roles_here(&self) -> RolesHere {
        let key = |name: &String| chat_shared::lowercase(name);
        let mut named: Vec<(String, Role)> =
            self.roles.moderators.iter().map(|n| (key(n), Role::Moderator)).collect();
        let room = self.current.room_name();
        if let Some(roles) = self.roles.rooms.iter().find(|r| Some(r.room.as_str()) == room) {
            named.extend(roles.owner.iter().map(|n| (key(n), Role::Owner)));
            named.extend(roles.moderators.iter().map(|n| (key(n), Role::RoomModerator)));
        }
        RolesHere(named)
    }

    /// Whether the reader moderates the open channel (the server checks again); nobody
    /// moderates a direct conversation.
    pub fn moderates_here(&self) -> bool {
        let Some(me) = self.me.nickname.as_deref() else { return false };
        self.current.room_name().is_some() && self.me.owner.is_some() && self.role_of(me).is_some()
    }

    /// Whether the reader is one of the chat's moderators (the server checks again).
    pub fn is_moderator(&self) -> bool {
        let Some(me) = self.me.nickname.as_deref() else { return false };
        self.me.owner.is_some() && self.role_of(me) == Some(Role::Moderator)
    }

    /// Whether the reader has any role (it may read the reports).
    pub fn has_a_role(&self) -> bool {
        let Some(me) = self.me.nickname.as_deref() else { return false };
        let same = |name: &String| chat_shared::lowercase(name) == chat_shared::lowercase(me);
        self.me.owner.is_some()
            && (self.roles.moderators.iter().any(same)
                || self
                    .roles
                    .rooms
                    .iter()
                    .any(|r| r.owner.as_ref().is_some_and(same) || r.moderators.iter().any(same)))
    }

    /// The names of those typing now, in the order they started.
    pub fn typing_names(&self) -> Vec<String> {
        self.typists.iter().map(|t| t.nickname.clone()).collect()
    }

    /// One's own lines not stored yet, in order, with their channel: the outbox (the open
    /// channel's first, then the others').
    pub fn outbox(&self) -> Vec<Outbound> {
        let windows = std::iter::once((&self.current, &self.window)).chain(self.parked.iter());
        windows
            .flat_map(|(channel, window)| {
                window.lines().filter(|l| l.status == Some(SendStatus::Pending)).filter_map(|l| {
                    match &*l.body {
                        Body::Mine { text, key } => {
                            Some(Outbound { channel: channel.clone(), key: key.clone(), text: text.clone() })
                        }
                        _ => None,
                    }
                })
            })
            .collect()
    }

    /// The channels of the side list, in its order: `general`, the joined rooms, the direct
    /// conversations.
    pub fn channels(&self) -> Vec<ChannelId> {
        let rooms = self.rooms.iter().filter(|r| r.joined && r.name != chat_shared::room::GENERAL);
        std::iter::once(ChannelId::General)
            .chain(rooms.map(|r| ChannelId::Room(r.name.clone())))
            .chain(self.directs.iter().map(|d| ChannelId::Direct(d.clone())))
            .collect()
    }

    /// The open room's topic (empty for `general` and direct conversations).
    pub fn topic(&self) -> String {
        match &self.current {
            ChannelId::Room(name) => {
                self.rooms.iter().find(|r| &r.name == name).map(|r| r.topic.clone()).unwrap_or_default()
            }
            // A topic a moderator set for `general` (the server lists `general` as a room).
            ChannelId::General => self
                .rooms
                .iter()
                .find(|r| r.name == chat_shared::room::GENERAL)
                .map(|r| r.topic.clone())
                .unwrap_or_default(),
            ChannelId::Direct(_) => String::new(),
        }
    }

    /// Ready to send lines: connected and named (not while the name is being taken back).
    pub fn can_send(&self) -> bool {
        self.connection == Connection::Connected && self.me.nickname.is_some() && !self.me.reclaiming
    }
}

/// An own line waiting to be stored, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub channel: ChannelId,
    pub key: String,
    pub text: String,
}

/// The time now (ms since the epoch).
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Date::now() as i64;
    #[cfg(not(target_arch = "wasm32"))]
    return 0;
}
