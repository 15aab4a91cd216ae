//! What the server knows about one connection: the nickname it speaks as (until another
//! connection takes it over: the roster has the last word), its rate limits, how it learns who
//! is online, and whether the server is closing it (a full outgoing queue, or a flood).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use std::collections::BTreeSet;

use chat_shared::limits::{
    FLOOD_CLOSE_AFTER, FLOOD_WINDOW, HISTORY_BURST, HISTORY_PER_SECOND, MODERATE_BURST, MODERATE_PER_SECOND,
    NICKNAME_ATTEMPTS_PER_MINUTE, NICKNAME_BURST, REPORT_BURST, REPORTS_PER_HOUR, ROOM_CREATE_BURST,
    ROOM_CREATES_PER_HOUR, TYPING_BURST, TYPING_PER_SECOND,
};
use chat_shared::{ChatError, ErrorCode, Nickname, RoomName};
use governor::NotUntil;
use governor::clock::{Clock, DefaultClock, QuantaInstant};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use socketioxide::extract::SocketRef;

use super::MessageRate;
use super::credentials::Tenure;
use crate::cluster::ChatAdapter;

/// The nickname a connection speaks as, and its holder's tenure (which scopes its lines'
/// idempotency keys).
#[derive(Debug, Clone)]
pub struct Speaker {
    pub nickname: Nickname,
    pub tenure: Tenure,
    /// It holds the nickname as its owner (the tenure is the ownership's): its rooms are kept
    /// with the ownership. An ownership ends under its holder by its `forget me`, which
    /// unnames the connection, or when its secret claims another name elsewhere (another tab):
    /// the holder keeps the name, and its rooms are no longer kept (`Chat::remember` checks).
    pub owned: bool,
}

/// Whether a connection has a nickname.
enum Name {
    None,
    Held(Speaker),
    /// It had one, and another connection took it over with its resume token.
    SignedOut,
}

pub struct Session {
    /// The client's address (for the per-address connection limit).
    pub address: Option<IpAddr>,
    /// The client asked for `presence` changes (`presence=changes`) instead of an
    /// `announcement` per person and the whole map on every change.
    pub wants_changes: bool,
    /// It got everyone's names (`online`) once already (later it gets changes only).
    has_list: AtomicBool,
    name: Mutex<Name>,
    messages: DefaultDirectRateLimiter,
    nickname_attempts: DefaultDirectRateLimiter,
    history_requests: DefaultDirectRateLimiter,
    typing_notices: DefaultDirectRateLimiter,
    room_creates: DefaultDirectRateLimiter,
    reports: DefaultDirectRateLimiter,
    moderations: DefaultDirectRateLimiter,
    /// The rooms it joined (besides `general`, which every connection is in).
    rooms: Mutex<BTreeSet<RoomName>>,
    /// Its requests that wait for Redis and must keep their order (direct messages, and in a
    /// cluster its room joins and leaves as Redis records them).
    pub lane: super::lane::Lane,
    /// Its bulky answers on their way (history pages, lists), which it must confirm.
    pub unreceived: super::receipts::Unreceived,
    /// The last typing notice said "typing" (a drop then tells the others it stopped)...
    typing: AtomicBool,
    /// ...and the rooms where it did.
    typing_rooms: Mutex<BTreeSet<RoomName>>,
    /// The server is closing this connection (slow reader or flooder).
    closing: AtomicBool,
    /// Its leave has begun (the connection is gone).
    gone: AtomicBool,
    /// Requests refused for their rate in the current flood window...
    rate_refusals: AtomicU32,
    /// ...which began this many ms after `created`.
    window_start_ms: AtomicU64,
    created: Instant,
}

impl Session {
    pub fn new(rate: MessageRate, address: Option<IpAddr>, wants_changes: bool) -> Self {
        Self {
            address,
            wants_changes,
            has_list: AtomicBool::new(false),
            name: Mutex::new(Name::None),
            messages: limiter(Quota::per_second(nonzero(rate.per_second)).allow_burst(nonzero(rate.burst))),
            nickname_attempts: limiter(
                Quota::per_minute(nonzero(NICKNAME_ATTEMPTS_PER_MINUTE)).allow_burst(nonzero(NICKNAME_BURST)),
            ),
            history_requests: limiter(
                Quota::per_second(nonzero(HISTORY_PER_SECOND)).allow_burst(nonzero(HISTORY_BURST)),
            ),
            typing_notices: limiter(
                Quota::per_second(nonzero(TYPING_PER_SECOND)).allow_burst(nonzero(TYPING_BURST)),
            ),
            room_creates: limiter(
                Quota::per_hour(nonzero(ROOM_CREATES_PER_HOUR)).allow_burst(nonzero(ROOM_CREATE_BURST)),
            ),
            reports: limiter(Quota::per_hour(nonzero(REPORTS_PER_HOUR)).allow_burst(nonzero(REPORT_BURST))),
            moderations: limiter(
                Quota::per_second(nonzero(MODERATE_PER_SECOND)).allow_burst(nonzero(MODERATE_BURST)),
            ),
            rooms: Mutex::default(),
            lane: super::lane::Lane::default(),
            unreceived: super::receipts::Unreceived::default(),
            typing: AtomicBool::new(false),
            typing_rooms: Mutex::default(),
            closing: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            rate_refusals: AtomicU32::new(0),
            window_start_ms: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    /// The session of a connection of the chat (None before it got one).
    pub fn of(socket: &SocketRef<ChatAdapter>) -> Option<Arc<Session>> {
        socket.extensions.get::<Arc<Session>>()
    }

    /// True the first time it is asked (the connection is about to get everyone's names).
    pub fn first_list(&self) -> bool {
        !self.has_list.swap(true, Ordering::Relaxed)
    }

    /// The nickname this connection speaks as, and its tenure (check the roster before acting
    /// as it: [`super::Chat::speaker`]).
    pub fn speaker(&self) -> Option<Speaker> {
        match &*self.name() {
            Name::Held(speaker) => Some(speaker.clone()),
            Name::None | Name::SignedOut => None,
        }
    }

    pub fn nickname(&self) -> Option<Nickname> {
        self.speaker().map(|s| s.nickname)
    }

    pub fn is_named(&self) -> bool {
        matches!(*self.name(), Name::Held(_))
    }

    /// Whether another connection took this one's nickname over.
    pub fn signed_out(&self) -> bool {
        matches!(*self.name(), Name::SignedOut)
    }

    /// Records the nickname; false if the session has one already.
    pub fn set_speaker(&self, speaker: Speaker) -> bool {
        let mut name = self.name();
        if matches!(*name, Name::Held(_)) {
            return false;
        }
        *name = Name::Held(speaker);
        true
    }

    /// Another connection took the nickname over: this one no longer speaks as it. Returns
    /// who it spoke as (None if it had no nickname, or was signed out already).
    pub fn sign_out(&self) -> Option<Speaker> {
        let mut name = self.name();
        match std::mem::replace(&mut *name, Name::SignedOut) {
            Name::Held(speaker) => Some(speaker),
            before @ Name::None => {
                *name = before;
                None
            }
            Name::SignedOut => None,
        }
    }

    /// The connection gave its nickname up ("forget me"): it has none now, and may claim one.
    pub fn forget(&self) {
        *self.name() = Name::None;
    }

    fn name(&self) -> std::sync::MutexGuard<'_, Name> {
        // One assignment at a time: a poisoned lock is still consistent.
        self.name.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One more message from this connection, if its own rate and `shared` (its address's
    /// rate) allow it.
    pub fn allow_message(&self, shared: impl FnOnce() -> Result<(), ChatError>) -> Result<(), ChatError> {
        self.record(check(&self.messages).and_then(|()| shared()))
    }

    pub fn allow_nickname_attempt(&self) -> Result<(), ChatError> {
        self.check(&self.nickname_attempts)
    }

    /// One more new nickname claim, if `shared` (its address's claim rate) allows it; a
    /// refusal counts towards the flood rule as the others do.
    pub fn allow_address_claim(
        &self,
        shared: impl FnOnce() -> Result<(), ChatError>,
    ) -> Result<(), ChatError> {
        self.record(shared())
    }

    /// One more history request from this connection, if its own rate and `shared` (its
    /// address's) allow it.
    pub fn allow_history(&self, shared: impl FnOnce() -> Result<(), ChatError>) -> Result<(), ChatError> {
        self.record(check(&self.history_requests).and_then(|()| shared()))
    }

    /// One more typing notice from this connection, if its own rate and `shared` (its
    /// address's) allow it.
    pub fn allow_typing(&self, shared: impl FnOnce() -> Result<(), ChatError>) -> Result<(), ChatError> {
        self.record(check(&self.typing_notices).and_then(|()| shared()))
    }

    pub fn allow_room_create(&self) -> Result<(), ChatError> {
        self.check(&self.room_creates)
    }

    pub fn allow_moderation(&self) -> Result<(), ChatError> {
        self.check(&self.moderations)
    }

    pub fn allow_report(&self) -> Result<(), ChatError> {
        self.check(&self.reports)
    }

    /// It joined `room` (false if it was in it already).
    pub fn join_room(&self, room: RoomName) -> bool {
        self.room_set().insert(room)
    }

    /// The rooms it is in (besides `general`).
    pub fn rooms(&self) -> Vec<RoomName> {
        self.room_set().iter().cloned().collect()
    }

    /// It left `room` (false if it was not in it).
    pub fn leave_room(&self, room: &RoomName) -> bool {
        self.room_set().remove(room)
    }

    /// Whether it hears `room` (`general`: always).
    pub fn in_room(&self, room: &RoomName) -> bool {
        room.is_general() || self.room_set().contains(room)
    }

    fn room_set(&self) -> std::sync::MutexGuard<'_, BTreeSet<RoomName>> {
        // One insert or remove at a time: a poisoned lock is still consistent.
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records what the last typing notice in `room` said.
    pub fn set_typing_in(&self, room: &RoomName, typing: bool) {
        let mut rooms = self.typing_rooms.lock().unwrap_or_else(|p| p.into_inner());
        if typing {
            rooms.insert(room.clone());
        } else {
            rooms.remove(room);
        }
    }

    /// The rooms where the last notice said "typing" (forgotten here: the caller says it stopped).
    pub fn take_typing_rooms(&self) -> Vec<RoomName> {
        let mut rooms = self.typing_rooms.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *rooms).into_iter().collect()
    }

    /// Records what the last typing notice said; returns what the one before it said.
    pub fn set_typing(&self, typing: bool) -> bool {
        self.typing.swap(typing, Ordering::Relaxed)
    }

    /// True once the connection got [`FLOOD_CLOSE_AFTER`] rate refusals within [`FLOOD_WINDOW`].
    pub fn flooding(&self) -> bool {
        self.rate_refusals.load(Ordering::Relaxed) >= FLOOD_CLOSE_AFTER
    }

    fn check(&self, limiter: &DefaultDirectRateLimiter) -> Result<(), ChatError> {
        self.record(check(limiter))
    }

    /// Counts a refusal that no rate made (bad input) towards the flood rule.
    pub fn count_refusal(&self) {
        let _ = self.record(Err(ChatError::new(ErrorCode::BadPayload)));
    }

    /// Counts rate refusals per flood window (see [`Session::flooding`]).
    fn record(&self, result: Result<(), ChatError>) -> Result<(), ChatError> {
        if result.is_err() {
            let now = self.created.elapsed().as_millis() as u64;
            let start = self.window_start_ms.load(Ordering::Relaxed);
            if now.saturating_sub(start) > FLOOD_WINDOW.as_millis() as u64 {
                self.window_start_ms.store(now, Ordering::Relaxed);
                self.rate_refusals.store(1, Ordering::Relaxed);
            } else {
                self.rate_refusals.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// The connection is gone: its leave begins (before it looks at the nickname).
    pub fn mark_gone(&self) {
        self.gone.store(true, Ordering::SeqCst);
    }

    /// Whether the connection's leave has begun. A claim that waited for Redis asks after it
    /// took its nickname: the leave then either saw the nickname, or this says it is gone
    /// (both may free it: the second finds nothing to free).
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    /// True once the server decided to close this connection.
    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Marks the connection as being closed by the server; true only the first time.
    pub fn mark_closing(&self) -> bool {
        !self.closing.swap(true, Ordering::AcqRel)
    }
}

fn check(limiter: &DefaultDirectRateLimiter) -> Result<(), ChatError> {
    limiter.check().map_err(rate_limited)
}

/// The `rate_limited` error for a governor refusal, with the seconds to wait as its limit.
pub(super) fn rate_limited(not_until: NotUntil<QuantaInstant>) -> ChatError {
    let wait = not_until.wait_time_from(CLOCK.now());
    let mut e = ChatError::new(ErrorCode::RateLimited);
    e.limit = Some(wait.as_millis().div_ceil(1000).max(1) as u64);
    e
}

/// A quota number; 0 (never configured: clap refuses it) counts as 1.
/// One clock for every connection's limiters: creating a clock calibrates it (it showed as 3 %
/// of the server's time in a join storm of 10,000).
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

fn limiter(quota: Quota) -> DefaultDirectRateLimiter {
    RateLimiter::direct_with_clock(quota, CLOCK.clone())
}

pub(super) fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}
