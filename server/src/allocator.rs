//! Gives memory back to the system after a crowd leaves: glibc's malloc keeps what was freed in
//! its arenas for reuse, so after 1,000 clients left the server stayed at ~100 MB of RSS (from
//! 12 MB at start); `malloc_trim` returns the free pages (36 MB), docs/benchmarks.md.

use std::time::Duration;

/// How often the server looks whether connections went away.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// How many connections must have gone since the peak before a trim pays: at least this
/// many, and at least a tenth of the peak. `malloc_trim` holds the arenas' locks while it walks
/// them, so a server with ordinary churn must not trim at every look.
const TRIM_AFTER_LEAVING: usize = 100;

/// Runs for the server's life: every [`TRIM_EVERY`], once enough connections went away since
/// the most seen after the last trim, returns the heap's free pages to the system (off the
/// async workers).
pub async fn trim_after_departures(connections: impl Fn() -> usize) {
    let mut every = tokio::time::interval(TRIM_EVERY);
    let mut peak = connections();
    loop {
        every.tick().await;
        let now = connections();
        peak = peak.max(now);
        if crowd_left(peak, now) {
            if let Err(e) = tokio::task::spawn_blocking(trim).await {
                tracing::warn!("cannot trim the heap: {e}");
            }
            peak = now;
        }
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
    use super::crowd_left;

    #[test]
    fn a_trim_waits_for_a_crowd_to_leave_not_for_churn() {
        assert!(!crowd_left(5, 0), "a handful leaving is churn");
        assert!(!crowd_left(1_000, 901));
        assert!(crowd_left(1_000, 900));
        assert!(!crowd_left(5_000, 4_600), "a tenth of a large peak");
        assert!(crowd_left(5_000, 4_500));
        assert!(!crowd_left(100, 200), "more connections than the peak");
    }
}
