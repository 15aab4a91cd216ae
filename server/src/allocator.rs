//! Gives memory back to the system after a crowd leaves: glibc's malloc keeps what was freed in
//! its arenas for reuse, so after 5,000 clients left the server stayed at ~300 MB of RSS (from
//! 12 MB at start); `malloc_trim` returns the free pages (19 MB once their sessions' resume
//! grace ended), docs/benchmarks.md.

use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;

use crate::chat::Occupancy;

/// How often the server looks whether connections went away. At most one trim runs per look,
/// whatever clients do.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// How many connections must have gone since the peak before a trim pays: at least this
/// many, and at least a tenth of the peak. `malloc_trim` holds the arenas' locks while it walks
/// them, so a server with ordinary churn must not trim at every look.
const TRIM_AFTER_LEAVING: usize = 100;

/// Runs for the server's life: every [`TRIM_EVERY`], asks [`TrimPolicy`] whether to return
/// the heap's free pages to the system (off the async workers). `occupancy` tells the
/// connections open and the most open since it was last asked (it must be its only caller);
/// `held_after_leaving` is how long a connection's state may outlive it (the resume grace).
pub async fn trim_after_departures(occupancy: impl Fn() -> Occupancy, held_after_leaving: Duration) {
    let mut every = tokio::time::interval(TRIM_EVERY);
    // After a stall, look once, not once per missed tick.
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut policy = TrimPolicy::new(held_after_leaving);
    loop {
        every.tick().await;
        if !policy.look(Instant::now(), occupancy()) {
            continue;
        }
        match tokio::task::spawn_blocking(trim).await {
            Ok(()) => tracing::debug!("heap trimmed after a crowd left"),
            Err(e) => tracing::warn!("cannot trim the heap: {e}"),
        }
    }
}

/// When to trim. A crowd leaving (see [`crowd_left`]) starts a short schedule of trims, at most
/// [`TRIMS_PER_DEPARTURE`] whatever the resume grace (three with no grace): a connection's
/// memory goes some time after it is counted out (its transport closes; a session dropped
/// without a goodbye is kept for the resume grace), and a trim returns only pages already free.
/// The peak is the most open at once between two looks, not the count at a look: a crowd that
/// came and went within 10 s was never seen, and 5,000 clients left 278–327 MB of RSS behind
/// with 5 MB of heap in use (docs/benchmarks.md).
#[derive(Debug)]
struct TrimPolicy {
    /// The most connections seen since the last crowd left.
    peak: usize,
    /// How long a dropped session's state is kept after its connection went.
    grace: Duration,
    /// The trims still due for the last crowd that left.
    departure: Option<Departure>,
}

/// How many trims a crowd leaving starts (see [`TrimPolicy::schedule`]).
const TRIMS_PER_DEPARTURE: usize = 4;

/// A crowd that left: when it was seen gone, and which of its trims are done.
#[derive(Debug)]
struct Departure {
    seen_at: Instant,
    trims_done: usize,
}

impl TrimPolicy {
    fn new(grace: Duration) -> Self {
        Self { peak: 0, grace, departure: None }
    }

    /// When each trim after a departure is due, from the look that saw the crowd gone: at that
    /// look and the next one (transports still closing), and at the two looks after the resume
    /// grace ended (the sessions kept for it are dropped then).
    fn schedule(&self) -> [Duration; TRIMS_PER_DEPARTURE] {
        [Duration::ZERO, TRIM_EVERY, self.grace + TRIM_EVERY, self.grace + 2 * TRIM_EVERY]
    }

    /// One look at `now`: whether to trim.
    fn look(&mut self, now: Instant, seen: Occupancy) -> bool {
        self.peak = self.peak.max(seen.peak);
        if crowd_left(self.peak, seen.open) {
            self.peak = seen.open;
            self.departure = Some(Departure { seen_at: now, trims_done: 0 });
        }
        let Some(departure) = &self.departure else { return false };
        let (seen_at, done) = (departure.seen_at, departure.trims_done);
        // Looks wake a little late, each by its own amount: half a look of slack makes "the
        // next look" the next look, not sometimes the one after.
        let since = now.saturating_duration_since(seen_at) + TRIM_EVERY / 2;
        let schedule = self.schedule();
        if since < schedule[done] {
            return false;
        }
        // One trim covers every trim that fell due by now (the looks may have stalled).
        let next = (done..TRIMS_PER_DEPARTURE).find(|&n| schedule[n] > since);
        self.departure = next.map(|trims_done| Departure { seen_at, trims_done });
        true
    }
}

/// Whether enough of a peak of `peak` connections left that `now` are open.
fn crowd_left(peak: usize, now: usize) -> bool {
    peak.saturating_sub(now) >= TRIM_AFTER_LEAVING.max(peak / 10)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: `malloc_trim` takes a number and works on glibc's own heap bookkeeping, under its
    // own locks; any thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators return memory their own way.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Occupancy, TRIM_EVERY, TrimPolicy, crowd_left};

    #[test]
    fn a_trim_waits_for_a_crowd_to_leave_not_for_churn() {
        assert!(!crowd_left(5, 0), "a handful leaving is churn");
        assert!(!crowd_left(1_000, 901));
        assert!(crowd_left(1_000, 900));
        assert!(!crowd_left(5_000, 4_600), "a tenth of a large peak");
        assert!(crowd_left(5_000, 4_500));
        assert!(!crowd_left(100, 200), "more connections than the peak");
    }

    /// The looks, one every 10 s, that trim for a run of connection counts (each the peak of
    /// its period too).
    fn trims(grace_secs: u64, counts: &[usize]) -> Vec<bool> {
        let mut policy = TrimPolicy::new(Duration::from_secs(grace_secs));
        let start = Instant::now();
        (0u32..)
            .zip(counts)
            .map(|(i, &open)| policy.look(start + TRIM_EVERY * i, Occupancy { open, peak: open }))
            .collect()
    }

    #[test]
    fn a_crowd_that_came_and_went_between_two_looks_is_seen() {
        let mut policy = TrimPolicy::new(Duration::ZERO);
        let start = Instant::now();
        let none = Occupancy { open: 0, peak: 0 };
        assert!(!policy.look(start, none));
        assert!(
            policy.look(start + TRIM_EVERY, Occupancy { open: 0, peak: 5_000 }),
            "5,000 came and left within a look"
        );
        assert!(policy.look(start + TRIM_EVERY * 2, none), "and the look after");
        assert!(policy.look(start + TRIM_EVERY * 3, none), "and once more after the (zero) grace");
        assert!(!policy.look(start + TRIM_EVERY * 4, none));
    }

    #[test]
    fn a_crowd_leaving_trims_twice_then_twice_after_the_resume_grace() {
        // 30 s of grace, a look every 10 s: the look that sees them gone, the next one, and the
        // two looks after their sessions' grace ended (+40 s, +50 s).
        let seen = trims(30, &[5_000, 5_000, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(seen, [false, false, true, true, false, false, true, true, false, false]);
        assert_eq!(trims(0, &[1_000, 0, 0, 0, 0]), [false, true, true, true, false]);
    }

    #[test]
    fn a_long_grace_costs_no_more_trims() {
        // A day of grace: still four trims, not one per look for a day.
        let counts: Vec<usize> = std::iter::once(5_000).chain(std::iter::repeat_n(0, 8_650)).collect();
        let seen = trims(86_400, &counts);
        assert_eq!(seen.iter().filter(|t| **t).count(), 4);
        assert!(seen[1] && seen[2] && seen[8_642] && seen[8_643]);
    }

    #[test]
    fn looks_that_wake_late_keep_the_schedule() {
        let mut policy = TrimPolicy::new(Duration::from_secs(30));
        let start = Instant::now();
        let late = |i: u32, ms: u64| start + TRIM_EVERY * i + Duration::from_millis(ms);
        let none = Occupancy { open: 0, peak: 0 };
        assert!(!policy.look(late(0, 0), Occupancy { open: 5_000, peak: 5_000 }));
        assert!(policy.look(late(1, 7), none), "the look that sees them gone (7 ms late)");
        assert!(policy.look(late(2, 1), none), "the next look, though it woke less late");
        assert!(!policy.look(late(3, 9), none));
        assert!(!policy.look(late(4, 2), none));
        assert!(policy.look(late(5, 3), none), "the look after the grace");
        assert!(policy.look(late(6, 0), none), "and the one after it, not folded into it");
        assert!(!policy.look(late(7, 8), none));
    }

    #[test]
    fn a_crowd_leaving_while_trims_are_due_starts_them_again() {
        // 3,000 leave, then 2,000 more a look later: the grace counts from the second departure.
        let seen = trims(30, &[5_000, 2_000, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(seen, [false, true, true, true, false, false, true, true, false]);
    }

    #[test]
    fn a_stalled_look_trims_once_for_what_fell_due() {
        let mut policy = TrimPolicy::new(Duration::from_secs(30));
        let start = Instant::now();
        assert!(!policy.look(start, Occupancy { open: 1_000, peak: 1_000 }));
        assert!(policy.look(start + TRIM_EVERY, Occupancy { open: 0, peak: 1_000 }));
        // The next look comes two minutes late: one trim, and the schedule is over.
        let none = Occupancy { open: 0, peak: 0 };
        assert!(policy.look(start + Duration::from_secs(130), none));
        assert!(!policy.look(start + Duration::from_secs(140), none));
    }

    #[test]
    fn a_crowd_still_leaving_starts_the_trims_again() {
        let seen = trims(0, &[5_000, 2_000, 2_000, 2_000, 0, 0, 0, 0]);
        assert_eq!(seen, [false, true, true, true, true, true, true, false]);
    }

    #[test]
    fn churn_never_trims() {
        let counts: Vec<usize> = (0..100).map(|i| 1_000 + (i % 7) * 10).collect();
        assert!(trims(30, &counts).iter().all(|t| !t));
        // Nor does a handful coming and going between looks.
        let mut policy = TrimPolicy::new(Duration::from_secs(30));
        let start = Instant::now();
        let mut at = start;
        for _ in 0..100 {
            at += TRIM_EVERY;
            assert!(!policy.look(at, Occupancy { open: 1_000, peak: 1_090 }));
        }
    }
}
