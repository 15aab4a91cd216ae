//! Log lines that clients can cause, at most one per [`LOG_THROTTLE`] each: a flood of requests
//! during an outage (or of refused connections) must not become a flood of log lines. What
//! happens in between is counted, and the next line says how many times it happened.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chat_shared::limits::LOG_THROTTLE;

/// One kind of log line, throttled (e.g. a `static` beside the line it guards).
pub struct Throttle {
    next: Mutex<Option<Instant>>,
    /// Occurrences since the last line was written.
    unreported: AtomicU64,
}

impl Throttle {
    pub const fn new() -> Self {
        Self { next: Mutex::new(None), unreported: AtomicU64::new(0) }
    }

    /// One more occurrence: `Some(n)` if the line is due now (`n`: occurrences it stands for,
    /// this one included), `None` if it is to be skipped.
    pub fn due(&self) -> Option<u64> {
        let unreported = self.unreported.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if next.is_some_and(|at| now < at) {
            return None;
        }
        *next = Some(now + LOG_THROTTLE);
        drop(next);
        self.unreported.fetch_sub(unreported, Ordering::Relaxed);
        Some(unreported)
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_and_it_counts_the_rest() {
        let t = Throttle::new();
        assert_eq!(t.due(), Some(1), "the first is written");
        for _ in 0..999 {
            assert_eq!(t.due(), None, "the rest wait");
        }
        *t.next.lock().unwrap() = Some(Instant::now());
        assert_eq!(t.due(), Some(1000), "the next line stands for all of them");
    }
}
