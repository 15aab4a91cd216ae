//! Gives memory back to the system after a crowd leaves: glibc's malloc keeps what was freed in
//! its arenas for reuse, so after 1,000 clients left the server stayed at ~100 MB of RSS (from
//! 12 MB at start); `malloc_trim` returns the free pages (36 MB), docs/benchmarks.md.

use std::time::Duration;

/// How often the server looks whether connections went away.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Runs for the server's life: every [`TRIM_EVERY`], if fewer connections are open than at the
/// last look, returns the heap's free pages to the system (off the async workers).
pub async fn trim_after_departures(connections: impl Fn() -> usize) {
    let mut every = tokio::time::interval(TRIM_EVERY);
    let mut last = connections();
    loop {
        every.tick().await;
        let now = connections();
        if now < last
            && let Err(e) = tokio::task::spawn_blocking(trim).await
        {
            tracing::warn!("cannot trim the heap: {e}");
        }
        last = now;
    }
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
