//! The lines the page holds: a window of at most `PAGE_LINES_MAX` lines onto the history. While
//! the reader follows the newest lines, the oldest are dropped (scrolling up loads them again);
//! while the reader is scrolled up, lines past the end are dropped instead, and the window
//! leaves the live end (`more_after`) until the reader scrolls down or jumps to the newest.
//! Own lines not stored yet are never dropped by the window (leaving a room drops the room's
//! window with the rest of the room).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use chat_shared::limits::PAGE_LINES_MAX;

use super::{Body, Line, SendStatus};

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    lines: VecDeque<Line>,
    /// The server ids of the lines held (history, resume and resends never double a line).
    seen: BTreeSet<u64>,
    /// Older lines exist before the first one held.
    pub more_before: bool,
    /// Newer lines exist after the last one held: the window is not at the live end.
    pub more_after: bool,
    /// The reader is at the bottom, following the newest lines.
    pub following: bool,
    /// A request for older (before the first) or newer (after the last) lines is out.
    pub loading_older: bool,
    pub loading_newer: bool,
    /// Lines that arrived past the window's end while it was away from the live end.
    pub newer: u32,
    max: usize,
}

/// The page's keys for lines, unique across every window (a view switching channels must
/// not take a row of one for a line of another).
static NEXT_KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Default for Window {
    fn default() -> Self {
        Self::with_max(PAGE_LINES_MAX)
    }
}

/// Where a live line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    Shown,
    /// Shown already (history, resume or a resend got there first).
    Seen,
    /// Past the window's end (counted in `newer`) or before its start.
    Outside,
}

impl Window {
    pub fn with_max(max: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            seen: BTreeSet::new(),
            more_before: false,
            more_after: false,
            following: true,
            loading_older: false,
            loading_newer: false,
            newer: 0,
            max,
        }
    }

    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &Line> + ExactSizeIterator {
        self.lines.iter()
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the line with server id `id` is held.
    pub fn holds(&self, id: u64) -> bool {
        self.seen.contains(&id)
    }

    /// The oldest server id held (scrolling up asks for what came before it).
    pub fn first_id(&self) -> Option<u64> {
        self.seen.first().copied()
    }

    /// The newest server id held (resume asks for what came after it).
    pub fn last_id(&self) -> Option<u64> {
        self.seen.last().copied()
    }

    fn line(&mut self, at: i64, id: Option<u64>, body: Body, status: Option<SendStatus>) -> Line {
        let key = NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Line { key, id, at, body: Arc::new(body), status }
    }

    /// Appends a line without a server id (own lines, announcements, the page's notes).
    pub fn push(&mut self, at: i64, body: Body, status: Option<SendStatus>) {
        let line = self.line(at, None, body, status);
        self.lines.push_back(line);
    }

    /// Places a stored message by its id: after the last line that is not newer, and before own
    /// lines still sending. `live`: it came as it was said, so a window away from the live end
    /// does not take it.
    pub fn insert_stored(&mut self, id: u64, at: i64, body: Body, live: bool) -> Placed {
        if self.seen.contains(&id) {
            return Placed::Seen;
        }
        if live && self.more_after && self.last_id().is_some_and(|last| id > last) {
            self.newer += 1;
            return Placed::Outside;
        }
        if live && self.more_before && self.first_id().is_some_and(|first| id < first) {
            return Placed::Outside;
        }
        self.seen.insert(id);
        let line = self.line(at, Some(id), body, None);
        // Own lines still sending stay at the end: they will be the newest.
        let newer_tail = self
            .lines
            .iter()
            .rev()
            .take_while(|l| l.status == Some(SendStatus::Pending) || l.server_id().is_some_and(|i| i > id))
            .count();
        self.lines.insert(self.lines.len() - newer_tail, line);
        Placed::Shown
    }

    /// A moderator deleted the line stored as `id`: it goes (and never comes back from a page
    /// of history read meanwhile). Whether it was here.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| l.server_id() != Some(id));
        self.seen.insert(id);
        self.lines.len() != before
    }

    /// The own line with idempotency key `key`.
    pub fn mine_mut(&mut self, key: &str) -> Option<&mut Line> {
        self.lines.iter_mut().rev().find(|l| matches!(&*l.body, Body::Mine { key: k, .. } if k == key))
    }

    /// An own line was stored as `id`: false if that id is held already (the copy is dropped).
    pub fn mark_stored(&mut self, key: &str, id: u64) -> bool {
        if self.seen.insert(id) {
            return true;
        }
        self.lines.retain(|l| !matches!(&*l.body, Body::Mine { key: k, .. } if k == key));
        false
    }

    /// Drops lines over the maximum, at the end the reader is not looking at; true if any went.
    pub fn trim(&mut self) -> bool {
        let mut trimmed = false;
        while self.lines.len() > self.max {
            let at = if self.following {
                self.lines.iter().position(|l| !l.unsent())
            } else {
                self.lines.iter().rposition(|l| !l.unsent())
            };
            let Some(line) = at.and_then(|i| self.lines.remove(i)) else { break };
            if let Some(id) = line.server_id() {
                self.seen.remove(&id);
            }
            if self.following {
                self.more_before = true;
            } else {
                self.more_after = true;
            }
            trimmed = true;
        }
        trimmed
    }

    /// Back to the live end: keeps only own lines not stored yet (the newest page comes next).
    pub fn reset_to_live(&mut self) {
        self.lines.retain(Line::unsent);
        self.seen.clear();
        self.more_after = false;
        self.loading_newer = false;
        self.loading_older = false;
        self.newer = 0;
        self.following = true;
    }
}
