//! One connection's requests that wait (for Redis) yet must keep their order: each runs after
//! the one before it finished, in the order they came (socketioxide would run spawned tasks in
//! any order, and two direct messages could overtake each other).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use chat_shared::limits::LANE_JOBS_MAX;
use tokio::sync::mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A queue of jobs and the task that runs them (started with the first job; it ends when the
/// connection's session is dropped). At most [`LANE_JOBS_MAX`] wait: a direct message asks
/// [`Lane::full`] first and is refused then (a stalled Redis must not let a connection pile
/// up jobs at its message rate); a room join's or leave's Redis record is never refused (they
/// are rate-limited as nickname attempts, and a lost record would be a wrong membership).
#[derive(Default)]
pub struct Lane {
    jobs: OnceLock<mpsc::UnboundedSender<Job>>,
    /// Jobs queued or running.
    waiting: Arc<AtomicUsize>,
}

impl Lane {
    /// Whether [`LANE_JOBS_MAX`] jobs wait already.
    pub fn full(&self) -> bool {
        self.waiting.load(Ordering::Acquire) >= LANE_JOBS_MAX
    }

    /// Runs `job` after every job queued before it.
    pub fn run(&self, job: impl Future<Output = ()> + Send + 'static) {
        let jobs = self.jobs.get_or_init(|| {
            let (jobs, mut queued) = mpsc::unbounded_channel::<Job>();
            let waiting = self.waiting.clone();
            tokio::spawn(async move {
                while let Some(job) = queued.recv().await {
                    job.await;
                    waiting.fetch_sub(1, Ordering::AcqRel);
                }
            });
            jobs
        });
        self.waiting.fetch_add(1, Ordering::AcqRel);
        // The task only ends once this sender is gone: sending cannot fail while we hold it.
        let _ = jobs.send(Box::pin(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lane_counts_what_waits_and_runs_it_in_order() {
        let lane = Lane::default();
        let (release, stalled) = tokio::sync::oneshot::channel::<()>();
        let (done, mut finished) = mpsc::unbounded_channel();
        lane.run(async move {
            let _ = stalled.await;
        });
        for i in 0..LANE_JOBS_MAX - 1 {
            let done = done.clone();
            lane.run(async move {
                let _ = done.send(i);
            });
        }
        assert!(lane.full(), "a stalled first job and the rest behind it");
        let _ = release.send(());
        for i in 0..LANE_JOBS_MAX - 1 {
            assert_eq!(finished.recv().await, Some(i), "in order");
        }
        tokio::task::yield_now().await;
        assert!(!lane.full(), "done: room again");
    }
}
