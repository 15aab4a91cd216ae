//! Stored messages: the `History` trait (what the chat needs of a message store) and its
//! implementations: embedded (SQLite) and for a cluster (Redis).

mod redis;
mod sqlite;

use chat_shared::limits::{HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX};
use chat_shared::protocol::{HistoryMessage, HistoryPage, HistoryRequest};

pub use redis::RedisHistory;
pub use sqlite::{SqliteHistory, now_ms};

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub from: String,
    pub text: String,
    /// The client's idempotency key: a second message from the same nickname with the same
    /// key is not stored again.
    pub key: Option<String>,
}

/// What storing one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub message: HistoryMessage,
    /// False when the key was already stored: `message` is the earlier one.
    pub new: bool,
}

/// How much history to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many messages (0: no count limit).
    pub max_messages: u64,
    /// Drop messages older than this many seconds (0: no age limit).
    pub max_age_secs: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("history store: {0}")]
pub struct HistoryError(pub String);

pub trait History: Send + Sync + 'static {
    /// Stores `batch` durably, in order, in one transaction, giving each new message the next
    /// id and a timestamp. Nothing is stored if it fails.
    fn append(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, HistoryError>;

    /// A page of messages, in id order.
    fn page(&self, request: &HistoryRequest) -> Result<HistoryPage, HistoryError>;

    /// Applies the retention limits; returns how many messages were dropped.
    fn prune(&self, retention: Retention) -> Result<u64, HistoryError>;

    /// Records nickname reservations (with their resume tokens) so that they outlive a
    /// restart; all `changes` in one transaction.
    fn reserve(&self, changes: &[ReservationChange]) -> Result<(), HistoryError>;

    /// The reservations that have not expired.
    fn reservations(&self) -> Result<Vec<Reservation>, HistoryError>;

    /// Whether the store answers a trivial read (for readiness).
    fn check(&self) -> Result<(), HistoryError>;
}

/// The page size a request asks for, within the limits.
fn page_limit(request: &HistoryRequest) -> i64 {
    i64::from(request.limit.unwrap_or(HISTORY_PAGE_DEFAULT).clamp(1, HISTORY_PAGE_MAX))
}

/// The answer from up to `limit + 1` messages fetched in the page's direction (ascending from
/// `after`, else descending): `more` if there was one extra (none after a gap's tail: it ends at
/// the newest line), in id order.
fn assemble(mut messages: Vec<HistoryMessage>, limit: i64, gap: bool, ascending: bool) -> HistoryPage {
    let more = messages.len() as i64 > limit && !gap;
    messages.truncate(limit as usize);
    if !ascending {
        messages.reverse();
    }
    HistoryPage { messages, gap, more }
}

/// A change to the stored reservations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReservationChange {
    Save(Reservation),
    /// Drop the reservation of this nickname key.
    Drop(String),
}

/// A nickname held for its owner, who proves ownership with the token whose hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub nickname: String,
    pub nickname_key: String,
    /// The SHA-256 of the resume token (hex); the plain token in rows of older versions,
    /// which have no `tenure`.
    pub token_hash: String,
    /// The holder's tenure (None: a row from before tokens were hashed).
    pub tenure: Option<String>,
    /// Until when (ms since the epoch) the nickname stays reserved; `i64::MAX` while its owner
    /// is connected (after a crash, a restart gives it a fresh grace period).
    pub expires_at: i64,
}
