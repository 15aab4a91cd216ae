//! One connection's requests that wait (for Redis) yet must keep their order: each runs after
//! the one before it finished, in the order they came (socketioxide would run spawned tasks in
//! any order, and two direct messages could overtake each other).

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use tokio::sync::mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A queue of jobs and the task that runs them (started with the first job; it ends when the
/// connection's session is dropped). Callers bound what is queued by their rate limits.
#[derive(Default)]
pub struct Lane {
    jobs: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl Lane {
    /// Runs `job` after every job queued before it.
    pub fn run(&self, job: impl Future<Output = ()> + Send + 'static) {
        let jobs = self.jobs.get_or_init(|| {
            let (jobs, mut queued) = mpsc::unbounded_channel::<Job>();
            tokio::spawn(async move {
                while let Some(job) = queued.recv().await {
                    job.await;
                }
            });
            jobs
        });
        // The task only ends once this sender is gone: sending cannot fail while we hold it.
        let _ = jobs.send(Box::pin(job));
    }
}
