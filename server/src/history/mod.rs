//! Stored messages: the `History` trait (what the chat needs of a message store) and its
//! implementations: embedded (SQLite) and for a cluster (Redis).

pub mod pruner;
mod redis;
mod sqlite;

use chat_shared::limits::{HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX, HISTORY_PAGE_MAX_BYTES};
use chat_shared::protocol::{HistoryMessage, HistoryPage, HistoryRequest};

pub use redis::{DIRECT_PEERS_PREFIX, DIRECTS_PREFIX, RedisHistory};
pub use sqlite::SqliteHistory;

/// How long a connection to the SQLite file waits for another's lock (the server's writer, the
/// pruner, the `moderators` command) before it fails with "database is locked".
pub const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Where it is said.
    pub channel: Channel,
    pub from: String,
    pub text: String,
    /// The client's idempotency key: a second message from the same nickname with the same
    /// key is not stored again.
    pub key: Option<String>,
}

/// Where a line is said, and so which history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// The original's room.
    General,
    Room(chat_shared::RoomName),
    /// Between two owned nicknames.
    Direct(Direct),
}

impl Channel {
    /// The room it is (`general` too), whose roles and rules apply to it; None for a direct
    /// conversation, which has neither.
    pub fn room_name(&self) -> Option<&str> {
        match self {
            Self::General => Some(chat_shared::room::GENERAL),
            Self::Room(room) => Some(room.as_str()),
            Self::Direct(_) => None,
        }
    }

    /// The history it is kept in: `general`, a room's name, or a direct conversation's
    /// [`Direct::thread`] (which no room name can be: see `RoomName`).
    pub fn key(&self) -> &str {
        match self {
            Self::General => chat_shared::room::GENERAL,
            Self::Room(room) => room.as_str(),
            Self::Direct(direct) => &direct.thread,
        }
    }
}

/// A direct message's two sides and their conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direct {
    /// Its history's key: [`DIRECT_PREFIX`] and a hash of the two owners' tenures (the same
    /// whichever of them speaks; another owner of either nickname has another).
    pub thread: String,
    pub from: Party,
    pub to: Party,
    /// The addressee's nickname key, as the sender named it: a line's idempotency key is the
    /// sender's for that name (a resend after the name changed owner is still the same line,
    /// and goes to nobody new).
    pub to_key: String,
}

impl Direct {
    /// What scopes its sender's idempotency keys (besides the sender's tenure).
    pub fn key_scope(&self) -> String {
        format!("@dm-to:{}", self.to_key)
    }
}

/// What begins the key of every direct conversation's history.
pub const DIRECT_PREFIX: &str = "@dm:";

/// One side of a direct conversation: an owned nickname and the tenure of its ownership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub nickname: String,
    pub tenure: String,
}

/// A direct conversation as one side's list keeps it: with whom (nickname and the tenure that
/// owned it then) and its newest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectThread {
    pub peer: Party,
    pub last_id: u64,
    pub last_ts: i64,
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
    /// Each history (`general`, a room, a conversation) keeps at most this many messages (0: no
    /// count limit).
    pub max_messages: u64,
    /// All of them together keep at most this many (0: no total), the longest cut first: see
    /// [`level`]. Applied by both stores (a cluster's from each history's length in Redis).
    pub max_total: u64,
    /// The total cuts no history below this many lines: always `HISTORY_TOTAL_FLOOR` when the
    /// server runs (a field so that unit tests can use small histories; 0: it may empty them).
    pub total_floor: u64,
    /// Drop messages older than this many seconds (0: no age limit).
    pub max_age_secs: u64,
}

impl Retention {
    /// No limit at all.
    pub const EVERYTHING: Self = Self { max_messages: 0, max_age_secs: 0, max_total: 0, total_floor: 0 };

    /// The most lines each history may keep for the total, if histories of these `sizes` do
    /// not fit in it: [`level`], never below the floor.
    pub fn total_cap(&self, sizes: &[u64]) -> Option<u64> {
        match self.max_total {
            0 => None,
            total => level(&mut sizes.to_vec(), total).map(|cap| cap.max(self.total_floor)),
        }
    }
}

/// The most lines each history may keep so that histories of these `sizes` keep at most `total`
/// together, the longest cut first (all of them to this one level, the shorter ones whole);
/// None when they fit already.
pub fn level(sizes: &mut [u64], total: u64) -> Option<u64> {
    sizes.sort_unstable();
    let mut left = total;
    for (i, &size) in sizes.iter().enumerate() {
        let sharing = (sizes.len() - i) as u64;
        if size.saturating_mul(sharing) > left {
            return Some(left / sharing);
        }
        left -= size;
    }
    None
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

    /// Deletes the line `id` from the history with key `history_key` (a moderator's action);
    /// the line it was, or None if it is not there.
    fn delete(&self, history_key: &str, id: u64) -> Result<Option<HistoryMessage>, HistoryError>;

    /// Applies the retention limits; returns how many messages were dropped.
    fn prune(&self, retention: Retention) -> Result<u64, HistoryError>;

    /// Records nickname reservations (with their resume tokens) so that they outlive a
    /// restart; all `changes` in one transaction.
    fn reserve(&self, changes: &[ReservationChange]) -> Result<(), HistoryError>;

    /// The reservations that have not expired.
    fn reservations(&self) -> Result<Vec<Reservation>, HistoryError>;

    /// The owned nicknames whose reservation has not expired (recorded through `reserve`).
    fn owners(&self) -> Result<Vec<Ownership>, HistoryError>;

    /// The rooms created so far (recorded through `reserve`), besides `general`.
    fn rooms(&self) -> Result<Vec<StoredRoom>, HistoryError>;

    /// Which rooms each ownership is in (recorded through `reserve`): (tenure, room) pairs.
    fn memberships(&self) -> Result<Vec<(String, String)>, HistoryError>;

    /// Drops the rooms and conversation lists of ownerships that ended without a "forget me"
    /// (their reservation ran out); called at start, before [`History::memberships`]. How many
    /// rows went. (Redis: those keys expire by themselves.)
    fn drop_ended_ownerships(&self) -> Result<u64, HistoryError> {
        Ok(0)
    }

    /// The direct conversations of the owner whose tenure is `tenure` (`append` keeps this
    /// list for both sides of every direct message), the newest first, at most `limit`.
    fn directs(&self, tenure: &str, limit: usize) -> Result<Vec<DirectThread>, HistoryError>;

    /// Whether the store answers a trivial read (for readiness).
    fn check(&self) -> Result<(), HistoryError>;
}

/// The page size a request asks for, within the limits.
fn page_limit(request: &HistoryRequest) -> i64 {
    i64::from(request.limit.unwrap_or(HISTORY_PAGE_DEFAULT).clamp(1, HISTORY_PAGE_MAX))
}

/// The largest id a message can have: both stores count ids in a signed 64-bit integer.
const MAX_ID: u64 = i64::MAX as u64;

/// Which messages a request asks for, with the client's numbers (any `u64`) brought into the
/// range of ids, so that no store builds an invalid range or overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// The newest messages (no `after`, no `before`; or `before` above every possible id).
    Newest,
    /// The messages after this id (below [`MAX_ID`]).
    After(u64),
    /// The messages before this id (1..=[`MAX_ID`]).
    Before(u64),
    /// Nothing can match (`before: 0`, or `after` at or above [`MAX_ID`]): an empty page.
    Nothing,
}

impl Span {
    /// `after` wins when both are given.
    fn of(request: &HistoryRequest) -> Self {
        match (request.after, request.before) {
            (Some(after), _) if after >= MAX_ID => Self::Nothing,
            (Some(after), _) => Self::After(after),
            (None, Some(0)) => Self::Nothing,
            (None, Some(before)) if before > MAX_ID => Self::Newest,
            (None, Some(before)) => Self::Before(before),
            (None, None) => Self::Newest,
        }
    }
}

/// Whether lines after `after` were dropped by retention, the oldest kept one being `oldest`
/// (None: the store is empty). Never overflows.
fn gap_after(after: u64, oldest: Option<u64>) -> bool {
    oldest.is_some_and(|oldest| oldest.saturating_sub(1) > after)
}

/// A line's share of [`HISTORY_PAGE_MAX_BYTES`]: its text and nickname, plus its JSON's fields
/// (`{"id":…,"ts":…,"from":"","text":""}`: 64 bytes at most).
fn page_cost(from: &str, text: &str) -> usize {
    64 + from.len() + text.len()
}

/// Takes lines, in the page's direction, while they fit: at most `limit + 1` (the extra one
/// says there are more) and [`HISTORY_PAGE_MAX_BYTES`] (one line at least). Stops reading
/// there. Returns them and whether the bytes cut the page short.
fn take_page<E>(
    rows: impl IntoIterator<Item = Result<HistoryMessage, E>>,
    limit: i64,
) -> Result<(Vec<HistoryMessage>, bool), E> {
    let mut taken = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let m = row?;
        bytes += page_cost(&m.from, &m.text);
        if !taken.is_empty() && bytes > HISTORY_PAGE_MAX_BYTES {
            return Ok((taken, true));
        }
        taken.push(m);
        if taken.len() as i64 > limit {
            break;
        }
    }
    Ok((taken, false))
}

/// The answer from up to `limit + 1` messages fetched in the page's direction (ascending from
/// `after`, else descending): `more` if there was one extra or the bytes cut it short (none
/// after a gap's tail: it ends at the newest line), in id order.
fn assemble(
    (mut messages, cut): (Vec<HistoryMessage>, bool),
    limit: i64,
    gap: bool,
    ascending: bool,
) -> HistoryPage {
    let more = (messages.len() as i64 > limit || cut) && !gap;
    messages.truncate(limit as usize);
    if !ascending {
        messages.reverse();
    }
    HistoryPage { messages, gap, more, deleted: Vec::new() }
}

/// A change to the stored reservations and ownerships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReservationChange {
    Save(Reservation),
    /// Drop the reservation of this nickname key.
    Drop(String),
    /// Record who owns a nickname (replacing what was recorded for its key).
    Own(Ownership),
    /// The nickname with this key is owned by nobody now.
    Disown(String),
    /// A room was created (or its topic changed).
    Room(StoredRoom),
    /// The ownership with this tenure joined (`joined`) or left a room.
    Member {
        tenure: String,
        room: String,
        joined: bool,
    },
    /// The ownership with this tenure ended: it is in no room, and its list of direct
    /// conversations is gone (their lines stay until retention drops them, readable by nobody).
    OwnershipEnded(String),
}

/// A room as stored: its name, topic, who created it and when (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoom {
    pub name: String,
    pub topic: String,
    pub created_by: String,
    pub created_at: i64,
}

/// An owned nickname, as stored: its owner's secret's hash, the tenure its holds share, and
/// until when (ms since the epoch) it stays reserved if unused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub nickname: String,
    pub nickname_key: String,
    pub owner_hash: String,
    pub tenure: String,
    pub expires_at: i64,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: u64, text: &str) -> Result<HistoryMessage, ()> {
        Ok(HistoryMessage { id, ts: 0, from: "Ana".into(), text: text.into() })
    }

    #[test]
    fn the_level_cuts_the_longest_histories_first_and_keeps_the_short_ones_whole() {
        assert_eq!(level(&mut [5, 100, 100], 1_000), None, "they fit");
        assert_eq!(level(&mut [100, 5, 100], 65), Some(30), "5 whole, then 30 each");
        assert_eq!(level(&mut [10, 10], 20), None, "exactly");
        assert_eq!(level(&mut [10, 10], 19), Some(9));
        assert_eq!(level(&mut [], 0), None);
        assert_eq!(level(&mut [1, u64::MAX], 10), Some(9), "no overflow");
        let mut sizes = [3, 7, 40, 1_000, 90_000];
        let cap = level(&mut sizes, 2_000).unwrap();
        let kept: u64 = sizes.iter().map(|&n| n.min(cap)).sum();
        assert!(kept <= 2_000 && kept + 2 > 2_000, "{cap}: {kept}");
    }

    #[test]
    fn the_total_cuts_no_history_below_its_floor() {
        let retention = Retention { max_total: 50, total_floor: 100, ..Retention::EVERYTHING };
        assert_eq!(retention.total_cap(&[150, 120, 3]), Some(100), "not 23");
        assert_eq!(retention.total_cap(&[30, 10]), None, "they fit");
        assert_eq!(Retention { total_floor: 0, ..retention }.total_cap(&[150, 120, 3]), Some(23));
        assert_eq!(Retention { max_total: 0, ..retention }.total_cap(&[150, 120, 3]), None, "no total");
    }

    #[test]
    fn a_page_stops_at_its_bytes_with_one_line_at_least() {
        let big = "x".repeat(HISTORY_PAGE_MAX_BYTES / 4);
        let rows = (1..=10).map(|id| line(id, &big));
        let (taken, cut) = take_page(rows, 500).unwrap();
        assert_eq!((taken.len(), cut), (3, true), "three fit, the fourth does not");
        let page = assemble((taken, cut), 500, false, true);
        assert!(page.more, "ask again");
        let huge = "x".repeat(HISTORY_PAGE_MAX_BYTES * 2);
        let (taken, cut) = take_page([line(1, &huge), line(2, "a")], 500).unwrap();
        assert_eq!((taken.len(), cut), (1, true), "one line at least");
        let (taken, cut) = take_page((1..=10).map(|id| line(id, "a")), 4).unwrap();
        assert_eq!((taken.len(), cut), (5, false), "limit + 1 read, no further");
        let stopped = take_page((1..=10).map(|id| if id == 3 { Err(()) } else { line(id, "a") }), 1);
        assert_eq!(stopped.map(|(t, _)| t.len()), Ok(2), "the third row is never read");
    }

    #[test]
    fn spans_bring_any_number_into_the_id_range() {
        let span = |after: Option<u64>, before: Option<u64>| {
            Span::of(&HistoryRequest { after, before, ..Default::default() })
        };
        assert_eq!(span(None, None), Span::Newest);
        assert_eq!(span(None, Some(0)), Span::Nothing);
        assert_eq!(span(None, Some(u64::MAX)), Span::Newest);
        assert_eq!(span(None, Some(MAX_ID)), Span::Before(MAX_ID));
        assert_eq!(span(Some(0), Some(0)), Span::After(0), "after wins");
        assert_eq!(span(Some(MAX_ID - 1), None), Span::After(MAX_ID - 1));
        assert_eq!(span(Some(MAX_ID), None), Span::Nothing);
        assert_eq!(span(Some(u64::MAX), None), Span::Nothing);
        assert!(!gap_after(u64::MAX, Some(1)) && !gap_after(0, Some(1)) && gap_after(0, Some(2)));
        assert!(!gap_after(5, None), "an empty store has no gap to report");
    }
}
