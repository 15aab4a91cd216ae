//! Gives memory back to the system after a crowd leaves: glibc's malloc keeps what was freed in
//! its arenas for reuse, so after 1,000 clients left the server stayed at ~100 MB of RSS (from
//! 12 MB at start); `malloc_trim` returns the free pages (36 MB), docs/benchmarks.md.

use std::time::Duration;

use crate::chat::Occupancy;

/// How often the server looks whether connections went away.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// How many connections must have gone since the peak before a trim pays: at least this
/// many, and at least a tenth of the peak. `malloc_trim` holds the arenas' locks while it walks
/// them, so a server with ordinary churn must not trim at every look.
const TRIM_AFTER_LEAVING: usize = 100;

/// Runs for the server's life: every [`TRIM_EVERY`], asks [`TrimPolicy`] whether to return
/// the heap's free pages to the system (off the async workers). `occupancy` tells the
/// connections open and the most open since it was last asked; `held_after_leaving` is how
/// long a connection's state outlives it (the resume grace).
pub async fn trim_after_departures(occupancy: impl Fn() -> Occupancy, held_after_leaving: Duration) {
    let mut every = tokio::time::interval(TRIM_EVERY);
    let mut policy = TrimPolicy::new(held_after_leaving);
    loop {
        every.tick().await;
        if policy.look(occupancy())
            && let Err(e) = tokio::task::spawn_blocking(trim).await
        {
            tracing::warn!("cannot trim the heap: {e}");
        }
    }
}

/// When to trim. A crowd leaving (see [`crowd_left`]) starts a trim at each look until what
/// the crowd held has surely been freed: a connection's memory goes some time after it is
/// counted out (its transport closes, its session is kept for the resume grace), and a trim
/// returns only pages already free. The peak is the most open at once between two looks, not
/// the count at a look: a crowd that came and went within 10 s was never seen, and 5,000
/// clients left 283–343 MB of RSS behind with 5 MB of heap in use (docs/benchmarks.md).
#[derive(Debug)]
struct TrimPolicy {
    /// The most connections seen since the last crowd left.
    peak: usize,
    /// Looks left that trim.
    trims_left: u32,
    /// How many looks trim after a crowd left: those within the resume grace, and two more
    /// (the look after the count fell may come before the transports have closed).
    trims_per_departure: u32,
}

impl TrimPolicy {
    fn new(held_after_leaving: Duration) -> Self {
        let looks = held_after_leaving.as_millis().div_ceil(TRIM_EVERY.as_millis());
        Self {
            peak: 0,
            trims_left: 0,
            trims_per_departure: u32::try_from(looks).unwrap_or(u32::MAX).saturating_add(2),
        }
    }

    /// One look: whether to trim.
    fn look(&mut self, seen: Occupancy) -> bool {
        self.peak = self.peak.max(seen.peak);
        if crowd_left(self.peak, seen.open) {
            self.peak = seen.open;
            self.trims_left = self.trims_per_departure;
        }
        let trim = self.trims_left > 0;
        self.trims_left = self.trims_left.saturating_sub(1);
        trim
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
    use std::time::Duration;

    use super::{Occupancy, TrimPolicy, crowd_left};

    #[test]
    fn a_trim_waits_for_a_crowd_to_leave_not_for_churn() {
        assert!(!crowd_left(5, 0), "a handful leaving is churn");
        assert!(!crowd_left(1_000, 901));
        assert!(crowd_left(1_000, 900));
        assert!(!crowd_left(5_000, 4_600), "a tenth of a large peak");
        assert!(crowd_left(5_000, 4_500));
        assert!(!crowd_left(100, 200), "more connections than the peak");
    }

    /// The looks that trim, for a run of connection counts (each the peak of its period too).
    fn trims(grace_secs: u64, counts: &[usize]) -> Vec<bool> {
        let mut policy = TrimPolicy::new(Duration::from_secs(grace_secs));
        counts.iter().map(|&open| policy.look(Occupancy { open, peak: open })).collect()
    }

    #[test]
    fn a_crowd_that_came_and_went_between_two_looks_is_seen() {
        let mut policy = TrimPolicy::new(Duration::ZERO);
        assert!(!policy.look(Occupancy { open: 0, peak: 0 }));
        assert!(policy.look(Occupancy { open: 0, peak: 5_000 }), "5,000 came and left within a look");
        assert!(policy.look(Occupancy { open: 0, peak: 0 }), "and the look after");
        assert!(!policy.look(Occupancy { open: 0, peak: 0 }));
    }

    #[test]
    fn a_crowd_leaving_trims_until_past_the_resume_grace() {
        // 30 s of grace, a look every 10 s: the look that sees them gone and four more (the
        // last one 40 s later, when their sessions have surely gone).
        let seen = trims(30, &[5_000, 5_000, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(seen, [false, false, true, true, true, true, true, false, false]);
        // No grace: the look that sees them gone and the next two (their transports closing).
        assert_eq!(trims(0, &[1_000, 0, 0, 0, 0]), [false, true, true, false, false]);
    }

    #[test]
    fn a_crowd_still_leaving_starts_the_trims_again() {
        let seen = trims(0, &[5_000, 2_000, 2_000, 2_000, 0, 0, 0, 0]);
        assert_eq!(seen, [false, true, true, false, true, true, false, false]);
    }

    #[test]
    fn churn_never_trims() {
        let counts: Vec<usize> = (0..100).map(|i| 1_000 + (i % 7) * 10).collect();
        assert!(trims(30, &counts).iter().all(|t| !t));
    }
}
