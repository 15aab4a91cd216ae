//! The chat: one socket.io namespace where people pick a unique nickname, see who is online,
//! talk to everyone and see who comes and goes (the original's event API, kept word for word,
//! in the room `general`), with every message stored, resumable history, nicknames that
//! survive a dropped connection for a grace period (and, owned, for weeks: `roster`,
//! `nickname`, `forget`), and rooms besides `general` (`rooms`).

mod about;
mod admission;
mod credentials;
mod delivery;
mod direct;
mod fanout;
mod forget;
mod history;
mod incoming;
mod journal;
mod lane;
mod leave;
mod locals;
mod memberships;
mod message;
pub mod moderation;
mod nickname;
mod nicknames;
mod receipts;
mod reply;
mod resume;
mod rooms;
mod roster;
mod session;
mod typing;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::ConnectInfo;
use chat_shared::protocol::{
    Announcement, ClientEvent, GoingAway, PRESENCE_CHANGES_QUERY, ServerEvent, SignedOut,
};
use chat_shared::{ChatError, ErrorCode, Nickname};
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::extract::{Extension, SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Sid;

use admission::{Admission, Refused};
pub use admission::{ConnectionLimits, Occupancy};

use crate::client_addr::ClientAddress;
use crate::cluster::{ChatAdapter, Elsewhere, Presence, Redis};
use crate::history::{History, Ownership, Reservation, ReservationChange, Retention};
use credentials::Token;
pub use credentials::{LogId, OwnerHash, Tenure, TokenHash};
use incoming::{InOrder, Incoming};
use journal::Journal;
use nicknames::NicknamesChanged;
pub use nicknames::NicknamesTask;
pub use roster::Held;
use roster::{Holder, Owned, Roster};
use session::{Session, Speaker};

/// Settings of the chat (from the configuration).
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// What the first screen says about the chat.
    pub about: AboutChat,
    /// How long a dropped connection's nickname stays reserved for its owner.
    pub grace: Duration,
    /// How long an owned nickname stays reserved for its owner after its last use.
    pub reservation: Duration,
    /// Rooms the chat holds at most, `general` included.
    pub rooms_max: usize,
    pub retention: Retention,
    pub message_rate: MessageRate,
    pub connections: ConnectionLimits,
}

/// The chat's name and a line about it, as the operator set them (None: the page's own words).
#[derive(Debug, Clone, Default)]
pub struct AboutChat {
    pub name: Option<String>,
    pub about: Option<String>,
}

/// How fast one connection may send messages.
#[derive(Debug, Clone, Copy)]
pub struct MessageRate {
    pub per_second: u32,
    pub burst: u32,
}

/// The chat's shared state, handed to every handler. One pointer: every connection's handler
/// holds a clone (a copy of every field was ~270 bytes, docs/benchmarks.md).
#[derive(Clone)]
pub struct Chat(Arc<ChatState>);

impl std::ops::Deref for Chat {
    type Target = ChatState;

    fn deref(&self) -> &ChatState {
        &self.0
    }
}

/// What [`Chat`] shares.
pub struct ChatState {
    roster: Arc<Roster>,
    nicknames_changed: NicknamesChanged,
    journal: Arc<Journal>,
    /// The connections on this instance (a `general` line's audience).
    locals: Arc<locals::Locals>,
    history: Arc<dyn History>,
    grace: Duration,
    /// How long an owned nickname stays reserved after its last use.
    reservation: Duration,
    about: Arc<AboutChat>,
    rooms: Arc<rooms::Rooms>,
    /// The rooms of each ownership, alone (in a cluster: Redis).
    memberships: Arc<memberships::Memberships>,
    /// In a cluster: who is online in it, as the nicknames task last read it.
    online: Arc<nicknames::Online>,
    /// The rooms in Redis (None: alone, `rooms` is everything).
    redis_rooms: Option<crate::cluster::RedisRooms>,
    message_rate: MessageRate,
    admission: Arc<Admission>,
    /// Set once socket.io is built (grace timers announce through it).
    io: Arc<OnceLock<SocketIo<ChatAdapter>>>,
    /// The users on the other instances (nobody when alone).
    elsewhere: Elsewhere,
    /// Who is online in the cluster (None: alone, the roster is everything).
    presence: Option<Presence>,
    /// Set on SIGTERM/SIGINT: no longer ready, new connections and messages are refused.
    shutting_down: Arc<AtomicBool>,
    /// Who moderates, and what stands against whom.
    moderation: Arc<moderation::Moderation>,
}

/// How long `/readyz` waits for the history writer.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

impl Chat {
    /// The state, and the task that sends the `nicknames` map (start it once the server runs).
    pub fn new(
        history: Arc<dyn History>,
        settings: ChatSettings,
        redis: Option<Redis>,
        moderation: moderation::store::Store,
    ) -> (Self, NicknamesTask) {
        let roster = Arc::new(Roster::default());
        let io = Arc::default();
        let elsewhere = Elsewhere::new(redis.as_ref().map(|r| r.instance.as_str()), Arc::clone(&io));
        let takeovers = redis.as_ref().map(Redis::takeovers);
        let redis_rooms = redis.as_ref().map(|r| crate::cluster::RedisRooms::new(r.client.clone()));
        let presence =
            redis.map(|r| Presence::new(r.client, r.instance, settings.grace, settings.reservation));
        let online = Arc::new(nicknames::Online::default());
        let (nicknames_changed, task) = nicknames::coalescer(
            roster.clone(),
            presence.clone().map(|p| (p, elsewhere.clone())),
            online.clone(),
        );
        let locals = Arc::new(locals::Locals::default());
        let journal =
            Arc::new(Journal::start(history.clone(), settings.retention, elsewhere.clone(), locals.clone()));
        let chat = Self(Arc::new(ChatState {
            roster,
            nicknames_changed,
            journal,
            locals,
            history,
            grace: settings.grace,
            reservation: settings.reservation,
            about: Arc::new(settings.about.clone()),
            rooms: Arc::new(rooms::Rooms::new(settings.rooms_max)),
            memberships: Arc::default(),
            online,
            redis_rooms,
            message_rate: settings.message_rate,
            admission: Arc::new(Admission::new(settings.connections)),
            io,
            elsewhere,
            presence,
            shutting_down: Arc::default(),
            moderation: Arc::new(moderation::Moderation::new(moderation)),
        }));
        if let Some(takeovers) = takeovers {
            chat.sign_out_on(takeovers);
        }
        (chat, task)
    }

    /// In a cluster: the nicknames this instance held that were resumed elsewhere (keys, as
    /// Redis announces them) are forgotten here, and their connections signed out.
    fn sign_out_on(&self, mut takeovers: tokio::sync::mpsc::UnboundedReceiver<crate::cluster::Takeover>) {
        let chat = self.clone();
        tokio::spawn(async move {
            while let Some(t) = takeovers.recv().await {
                chat.taken_elsewhere(&t.key, &TokenHash::stored(t.token));
            }
        });
    }

    /// The nickname with key `key`, held here under the token hashed `token`, is held on
    /// another instance now (if this instance holds it under another token by now, that is a
    /// later hold, which stays).
    fn taken_elsewhere(&self, key: &str, token: &TokenHash) {
        if let Some(holder) = self.roster.forget(key, token) {
            tracing::info!(nickname_key = %key, "its owner resumed on another instance");
            if let Holder::Connected(sid) = holder {
                self.sign_out(sid);
            }
        }
    }

    /// Connects the chat to socket.io, and gives the nicknames reserved before a restart
    /// their grace period.
    pub fn attach(&self, io: &SocketIo<ChatAdapter>) -> crate::cluster::Attached {
        let _ = self.io.set(io.clone());
        let attached = io.ns("/", confirmed.with(prepare));
        self.keep_moderation();
        match self.history.rooms() {
            Ok(rooms) => rooms.into_iter().for_each(|r| self.rooms.restore(r)),
            Err(e) => tracing::error!("cannot read the rooms: {e}"),
        }
        match self.history.drop_ended_ownerships() {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "dropped the rooms and conversations of ended ownerships"),
            Err(e) => tracing::warn!("cannot drop the rooms of ended ownerships: {e}"),
        }
        match self.history.memberships() {
            Ok(found) => found.into_iter().for_each(|(tenure, room)| self.memberships.restore(tenure, &room)),
            Err(e) => tracing::error!("cannot read the rooms of owned nicknames: {e}"),
        }
        match self.history.owners() {
            Ok(owners) => {
                for o in owners {
                    match Nickname::parse(&o.nickname) {
                        Ok(nickname) => self.roster.restore_owned(Owned {
                            nickname,
                            owner: OwnerHash::stored(o.owner_hash),
                            tenure: Tenure::stored(&o.tenure),
                            expires_at: o.expires_at,
                        }),
                        Err(e) => tracing::warn!(nickname = %o.nickname, "dropping a stored ownership: {e}"),
                    }
                }
            }
            Err(e) => tracing::error!("cannot read owned nicknames: {e}"),
        }
        match self.history.reservations() {
            Ok(reserved) => {
                for r in reserved {
                    match Nickname::parse(&r.nickname) {
                        Ok(nickname) => {
                            let legacy = r.tenure.is_none();
                            let (token, tenure) = match r.tenure {
                                Some(tenure) => (TokenHash::stored(r.token_hash), Tenure::stored(&tenure)),
                                // Kept by a version before hashing: the plain token.
                                None => (Token::presented(&r.token_hash), Tenure::new()),
                            };
                            let held = Held { nickname: nickname.clone(), token, tenure };
                            if legacy || r.nickname_key != nickname.key().as_str() {
                                // Stored by an older version (a plain token, or the key before
                                // look-alikes were folded): stored again as this one keeps it,
                                // or the old row would come back at every start.
                                self.journal.reserve(ReservationChange::Drop(r.nickname_key.clone()));
                                self.record_reservation(&held, r.expires_at);
                            }
                            let generation = self.roster.restore(held);
                            self.start_grace(nickname, generation);
                        }
                        Err(e) => {
                            tracing::warn!(nickname = %r.nickname, "dropping a stored reservation: {e}")
                        }
                    }
                }
            }
            Err(e) => tracing::error!("cannot read nickname reservations: {e}"),
        }
        attached
    }

    /// Reads the moderation state now and every [`moderation::Moderation::REFRESH`], and brings
    /// its bans to this instance's connections.
    fn keep_moderation(&self) {
        let chat = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(moderation::Moderation::REFRESH);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                moderation::act::enforce_bans(&chat).await;
            }
        });
    }

    /// This instance's connection `sid`, if it is still here.
    fn socket(&self, sid: Sid) -> Option<SocketRef<ChatAdapter>> {
        self.io.get().and_then(|io| io.of("/")).and_then(|ns| ns.get_socket(sid))
    }

    /// Every connection on this instance.
    fn sockets(&self) -> Vec<SocketRef<ChatAdapter>> {
        self.io.get().and_then(|io| io.of("/")).map(|ns| ns.sockets()).unwrap_or_default()
    }

    /// Waits until every accepted message is stored and delivered.
    pub async fn flush(&self) {
        if !self.journal.flush().await {
            tracing::error!("the history writer is gone: accepted messages may not be stored");
        }
    }

    /// Shutdown begins: no longer ready, new connections are refused, and every connection is
    /// told we are going away (so that it reconnects promptly). Returns how many were told.
    pub fn begin_shutdown(&self) -> usize {
        self.shutting_down.store(true, Ordering::Relaxed);
        let everyone = self.io.get().map(everyone).unwrap_or_default();
        fanout::to_each(everyone, ServerEvent::GoingAway, &GoingAway::SHUTDOWN)
    }

    /// Whether this instance can take messages now (`/readyz`): not shutting down, the history
    /// writer answers within [`READY_TIMEOUT`], and the store answers a read.
    pub async fn ready(&self) -> Result<(), String> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err("shutting down".to_owned());
        }
        match tokio::time::timeout(READY_TIMEOUT, self.journal.flush()).await {
            Ok(true) => {}
            Ok(false) => return Err("the history writer has stopped".to_owned()),
            Err(_) => return Err(format!("the history writer did not answer within {READY_TIMEOUT:?}")),
        }
        let history = self.history.clone();
        match tokio::task::spawn_blocking(move || history.check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("store check failed: {e}")),
        }
    }

    /// Connections open, and the most open at once since the last call (for the heap trim, which
    /// must be its only caller: a call starts the next period).
    pub fn take_occupancy(&self) -> Occupancy {
        self.admission.take_occupancy()
    }

    /// The gauges `/metrics` reads when scraped: connections by transport, nicknames in use.
    pub fn metrics_snapshot(&self) -> crate::metrics::Snapshot {
        use socketioxide::TransportType;
        let mut now = crate::metrics::Snapshot::default();
        // Counted from the list a `general` line goes to (so that the gauge shows at once if
        // that list ever kept a connection that went, or missed one that came).
        for socket in self.locals.all().iter() {
            match socket.transport_type() {
                TransportType::Websocket => now.websocket += 1,
                TransportType::Polling => now.polling += 1,
            }
        }
        (now.nicknames_connected, now.nicknames_away) = self.roster.counts();
        now.admitted = self.admission.admitted();
        now
    }

    /// Records who holds a nickname (its token's hash and its tenure) so that it outlives a
    /// restart.
    fn record_reservation(&self, held: &Held, expires_at: i64) {
        self.journal.reserve(ReservationChange::Save(Reservation {
            nickname: held.nickname.to_string(),
            nickname_key: held.nickname.key().as_str().to_owned(),
            token_hash: held.token.as_str().to_owned(),
            tenure: Some(held.tenure.as_str().to_owned()),
            expires_at,
        }));
    }

    /// Records who owns a nickname, so that it outlives a restart.
    fn record_ownership(&self, owned: &Owned) {
        self.journal.reserve(ReservationChange::Own(Ownership {
            nickname: owned.nickname.to_string(),
            nickname_key: owned.nickname.key().as_str().to_owned(),
            owner_hash: owned.owner.as_str().to_owned(),
            tenure: owned.tenure.as_str().to_owned(),
            expires_at: owned.expires_at,
        }));
    }

    /// Records that `nick` is owned by nobody now.
    fn record_disown(&self, nick: &Nickname) {
        self.journal.reserve(ReservationChange::Disown(nick.key().as_str().to_owned()));
    }

    /// `nick` was used now (its hold began or ended): if it is owned, its reservation runs
    /// for the reservation time from now.
    fn touch_owned(&self, nick: &Nickname) {
        if let Some(presence) = &self.presence {
            let (presence, nick) = (presence.clone(), nick.clone());
            tokio::spawn(async move {
                if let Err(e) = presence.touch_owned(&nick).await {
                    tracing::warn!(nickname = %nick, "cannot renew an owned nickname's reservation: {e}");
                }
            });
            return;
        }
        let until = crate::clock::now_ms().saturating_add(self.reservation.as_millis() as i64);
        if let Some(owned) = self.roster.touch_owned(nick, until) {
            self.record_ownership(&owned);
        }
    }

    /// The nickname `sid` may act as now: its session's, if the roster says `sid` still holds
    /// it. Every handler that acts as a nickname asks this first.
    fn speaker(&self, session: &Session, sid: Sid) -> Result<Speaker, ChatError> {
        match session.speaker() {
            Some(speaker) if self.roster.holds(&speaker.nickname, sid) => Ok(speaker),
            Some(_) => {
                // Taken over, and not told yet (the takeover's notice is on its way).
                self.sign_out(sid);
                Err(ChatError::new(ErrorCode::SignedInElsewhere))
            }
            None if session.signed_out() => Err(ChatError::new(ErrorCode::SignedInElsewhere)),
            None => Err(ChatError::new(ErrorCode::NotNamed)),
        }
    }

    /// The connection `sid` of this instance lost its nickname to another connection (a
    /// resume with its token): it no longer speaks as it, and is told so (`signed out`).
    fn sign_out(&self, sid: Sid) {
        let Some(socket) = self.io.get().and_then(|io| io.of("/")).and_then(|ns| ns.get_socket(sid)) else {
            return;
        };
        let Some(session) = Session::of(&socket) else { return };
        let Some(speaker) = session.sign_out() else { return };
        // Its owner's direct messages (and moderators' notices) go to the connection that took over.
        socket.leave(direct::owner_room(speaker.tenure.as_str()));
        socket.leave(moderation::act::nick_room(speaker.nickname.key().as_str()));
        let nick = speaker.nickname;
        tracing::info!(conn = %LogId::of(sid), nickname = %nick, "signed out: its nickname was resumed elsewhere");
        typing::stopped(self, &socket, &session, &nick);
        fanout::to_one(&socket, ServerEvent::SignedOut, &SignedOut::elsewhere(&nick));
    }

    /// `socket` speaks as `speaker` now: it hears the direct messages to that tenure's owner,
    /// and is in `rooms` (an owner's rooms, kept with its ownership).
    fn seat(
        &self,
        socket: &SocketRef<ChatAdapter>,
        session: &Session,
        speaker: &Speaker,
        rooms: Vec<chat_shared::RoomName>,
    ) {
        join_if_connected(socket, session, direct::owner_room(speaker.tenure.as_str()));
        join_if_connected(socket, session, moderation::act::nick_room(speaker.nickname.key().as_str()));
        self.rejoin(socket, session, rooms);
        // A takeover that came while it was granted (in a cluster, between the roster's
        // adopting the nickname and now) found no nickname to sign out: it is signed out now.
        if !self.roster.holds(&speaker.nickname, socket.id) {
            self.sign_out(socket.id);
        }
    }

    /// A claim or resume that waited for Redis got its nickname after its connection went (the
    /// connection's leave found no nickname to free): frees it now, as a leave would, so that
    /// no nickname stays held by nobody (its lease would be renewed for as long as this
    /// instance runs).
    async fn free_if_gone(&self, socket: &SocketRef<ChatAdapter>, session: &Session) {
        if !has_left(socket, session) {
            return;
        }
        if let Some(nick) = session.nickname() {
            self.give_up(socket, &nick, &"gone before its nickname was granted").await;
        }
    }

    /// `socket` gives `nick` up now (a deliberate leave): frees it, in the cluster too, and
    /// says it left — unless `socket` no longer holds it.
    async fn give_up(
        &self,
        socket: &SocketRef<ChatAdapter>,
        nick: &Nickname,
        why: &(dyn std::fmt::Display + Sync),
    ) {
        if let Some(held) = self.roster.release(nick, socket.id) {
            self.touch_owned(nick);
            if !self.released(&held).await {
                return;
            }
            tracing::info!(conn = %LogId::of(socket.id), nickname = %nick, reason = %why, "left");
            self.left(nick, socket.to(ANNOUNCED_ROOM).sockets());
        }
    }

    /// After the grace period, frees `nick` unless its owner came back, and says so.
    fn start_grace(&self, nick: Nickname, generation: u64) {
        let chat = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(chat.grace).await;
            if let Some(held) = chat.roster.expire(&nick, generation)
                && {
                    chat.touch_owned(&nick);
                    chat.released(&held).await
                }
            {
                tracing::info!(nickname = %nick, "grace period over");
                let audience = chat.io.get().map(announced).unwrap_or_default();
                chat.left(&nick, audience);
            }
        });
    }

    /// Frees a nickname in the cluster, after the roster did; false if another instance holds
    /// it now (its owner resumed there: nobody left). Alone: true.
    async fn released(&self, held: &Held) -> bool {
        let Some(presence) = &self.presence else { return true };
        let nick = &held.nickname;
        match presence.release(nick, &held.token).await {
            Ok(released) => released,
            Err(e) => {
                // Its lease runs out by itself; say it left now.
                tracing::warn!(nickname = %nick, "cannot free a nickname in the cluster: {e}");
                true
            }
        }
    }

    /// `nick` is gone for good: forget its reservation and tell `audience`.
    fn left(&self, nick: &Nickname, audience: Vec<SocketRef<ChatAdapter>>) {
        self.journal.reserve(ReservationChange::Drop(nick.key().as_str().to_owned()));
        self.announce(audience, Announcement::disconnected(nick));
        self.nicknames_changed.notify();
    }

    /// Sends an `announcement` to `local` (see [`announced`]) and to the connections of the
    /// other instances that take announcements (the others learn it from the nicknames task).
    fn announce(&self, local: Vec<SocketRef<ChatAdapter>>, announcement: Announcement) {
        fanout::to_each(local, ServerEvent::Announcement, &announcement);
        self.elsewhere.send_to(ANNOUNCED_ROOM, ServerEvent::Announcement, announcement);
    }

    /// Sends `data` to `local` (sockets of this instance, each checked for a full queue) and
    /// once to everyone on the other instances (nobody when alone).
    fn to_all<T: Serialize + Send + Sync + 'static>(
        &self,
        local: Vec<SocketRef<ChatAdapter>>,
        event: ServerEvent,
        data: T,
    ) {
        fanout::to_each(local, event, &data);
        self.elsewhere.send(event, data);
    }

    /// Sends `event` to the members of the socket.io room `room` (a chat room's members, an
    /// owner's connections) here but `from`, and on the other instances.
    fn to_room<T: Serialize + Send + Sync + 'static>(
        &self,
        from: &SocketRef<ChatAdapter>,
        room: String,
        event: ServerEvent,
        data: T,
    ) {
        fanout::to_each(from.to(room.clone()).sockets(), event, &data);
        self.elsewhere.send_to(room, event, data);
    }
}

/// A new connection on the chat namespace: give it a session and its event handlers. This is
/// a connect *middleware*, which socketioxide awaits before it confirms the connection; its
/// connect handler runs in a spawned task instead, and a client that emits as soon as it is
/// connected (the JS client flushes its buffer at once) would race it and lose events.
async fn prepare(socket: SocketRef<ChatAdapter>, State(chat): State<Chat>) -> Result<(), Refused> {
    // Who it is (through a trusted proxy: the client the proxy speaks for).
    let parts = socket.req_parts();
    let address = parts.extensions.get::<ClientAddress>().map(|c| c.0).or_else(|| {
        parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| crate::client_addr::canonical(c.0.ip()))
    });
    let banned = address
        .is_some_and(|a| chat.moderation.address_banned(&crate::client_addr::address_key(a).to_string()));
    let admitted = if chat.shutting_down.load(Ordering::Relaxed) {
        Err(Refused::ShuttingDown)
    } else if banned {
        Err(Refused::Banned)
    } else {
        chat.admission.admit(address)
    };
    let ticket = match admitted {
        Ok(ticket) => ticket,
        Err(refused) => {
            chat.admission.report(refused, &LogId::of(socket.id), address);
            return Err(refused);
        }
    };
    // The socket owns its place: socketioxide drops it (and this) however the connection ends,
    // also when its transport goes before this connect is confirmed (no disconnect handler).
    socket.extensions.insert(Arc::new(ticket));
    tracing::debug!(conn = %LogId::of(socket.id), transport = ?socket.transport_type(), "connected");
    let wants_changes = asks_for_changes(socket.req_parts().uri.query());
    socket.extensions.insert(Arc::new(Session::new(chat.message_rate, address, wants_changes)));
    if let Some(room) = chat.elsewhere.local_room() {
        socket.join(room.to_owned());
    }
    if !wants_changes {
        socket.join(ANNOUNCED_ROOM);
    }
    // One handler for every event (it dispatches on the name): one registration per event was
    // a boxed handler each and a map of them in every connection (docs/benchmarks.md).
    socket.on_fallback(InOrder::new(chat.clone()));
    socket.on_disconnect(leave::handle);
    Ok(())
}

/// The handler of each event a client may send.
fn handler_of(event: ClientEvent) -> fn(&Chat, Incoming) {
    match event {
        ClientEvent::Nickname => nickname::handle,
        ClientEvent::UserMessage => message::handle,
        ClientEvent::History => history::handle,
        ClientEvent::Resume => resume::handle,
        ClientEvent::Typing => typing::handle,
        ClientEvent::ForgetMe => forget::handle,
        ClientEvent::About => about::handle,
        ClientEvent::Rooms => rooms::list,
        ClientEvent::CreateRoom => rooms::create,
        ClientEvent::JoinRoom => rooms::join,
        ClientEvent::LeaveRoom => rooms::leave,
        ClientEvent::RoomMessage => rooms::message,
        ClientEvent::RoomPeople => rooms::people,
        ClientEvent::DirectMessage => direct::send,
        ClientEvent::Conversations => direct::list,
        ClientEvent::Moderate => moderation::act::moderate,
        ClientEvent::Report => moderation::act::report,
        ClientEvent::Roles => moderation::act::roles,
        ClientEvent::ModerationLog => moderation::act::log,
        ClientEvent::Received => receipts::handle,
    }
}

/// The connection is confirmed (socketioxide runs this after `prepare` and after sending the
/// connect packet; a connection refused or lost before never gets here, and one lost after is
/// removed by its disconnect handler — which may also have run already: see `has_left`).
async fn confirmed(
    socket: SocketRef<ChatAdapter>,
    Extension(session): Extension<Arc<Session>>,
    State(chat): State<Chat>,
) {
    chat.locals.add(&socket, &session);
}

/// Whether `socket` went (its leave began). `socket.connected()` alone does not tell:
/// socketioxide 0.18.9 sets it after sending the connect packet, so a transport closed in
/// between has it cleared by the close and set again after (seen once in CI: a gone socket
/// kept in `Locals` with its admission ticket). The leave marks the session gone before it
/// takes the socket out of anything (and socketioxide takes it out of its rooms after the
/// leave), so whoever adds a socket somewhere and then asks this either sees it gone or was
/// first and gets it taken out.
pub(super) fn has_left(socket: &SocketRef<ChatAdapter>, session: &Session) -> bool {
    !socket.connected() || session.is_gone()
}

/// Puts `socket` in `room` — unless it went meanwhile (after a wait for Redis): socketioxide
/// does not check, and a gone socket's id would stay in the room for good. Whether it did.
fn join_if_connected(socket: &SocketRef<ChatAdapter>, session: &Session, room: String) -> bool {
    socket.join(room.clone());
    if has_left(socket, session) {
        socket.leave(room);
        return false;
    }
    true
}

/// The room of the connections that get an `announcement` per arrival and departure (those
/// that did not ask for `presence` changes), so that other instances can reach just them.
pub(super) const ANNOUNCED_ROOM: &str = "announced";

/// Whether a connection's query (`EIO=4&transport=websocket&presence=changes`) asks for
/// `presence` changes.
fn asks_for_changes(query: Option<&str>) -> bool {
    let (name, value) = PRESENCE_CHANGES_QUERY;
    query.unwrap_or_default().split('&').any(|pair| pair.split_once('=') == Some((name, value)))
}

/// The connections that take an `announcement` per arrival and departure (none once the
/// server has closed; a room, so that finding them costs nothing when nobody does).
fn announced(io: &SocketIo<ChatAdapter>) -> Vec<SocketRef<ChatAdapter>> {
    io.of("/").map(|ns| ns.to(ANNOUNCED_ROOM).sockets()).unwrap_or_default()
}

/// Every connection on the chat namespace; none once the server has closed it (socketioxide's
/// `io.sockets()` panics then, and grace timers or the nicknames task may still run).
fn everyone(io: &SocketIo<ChatAdapter>) -> Vec<SocketRef<ChatAdapter>> {
    io.of("/").map(|ns| ns.sockets()).unwrap_or_default()
}
