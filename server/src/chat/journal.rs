//! The one writer of the history: accepted messages arrive here in the order the server took
//! them, are committed in batches (one durable sync for many messages: group commit), and only
//! then delivered to the others and acknowledged to their senders (delivery.rs, run on this
//! writer's thread: one wake per recipient from here measured faster than a hand-over to the
//! runtime, docs/benchmarks.md). At most
//! [`HISTORY_QUEUE_BYTES`] of lines wait for it: past that (a stalled store), a line is
//! refused at once (`unavailable`), so that a stall costs bounded memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use chat_shared::limits::{HISTORY_QUEUE_BYTES, HISTORY_QUEUE_LINE_OVERHEAD, STORE_BATCH_MAX};
use chat_shared::{ChatError, ErrorCode};
use socketioxide::extract::SocketRef;
use tokio::sync::watch;

use super::delivery;
use super::locals::Locals;
use super::reply::Reply;
use crate::cluster::{ChatAdapter, Elsewhere};
use crate::history::{Channel, History, NewMessage, ReservationChange, Retention};
use crate::metrics;

/// A message accepted from `socket`, waiting to be stored.
pub struct Pending {
    pub socket: SocketRef<ChatAdapter>,
    pub reply: Reply,
    pub message: NewMessage,
}

impl Pending {
    /// What it costs while it waits, for [`HISTORY_QUEUE_BYTES`].
    fn cost(&self) -> usize {
        line_cost(&self.message)
    }
}

fn line_cost(m: &NewMessage) -> usize {
    let direct = match &m.channel {
        Channel::Direct(d) => {
            d.thread.len() + d.to.nickname.len() + d.to.tenure.len() + d.from.tenure.len() + d.to_key.len()
        }
        Channel::General | Channel::Room(_) => 0,
    };
    HISTORY_QUEUE_LINE_OVERHEAD + m.from.len() + m.text.len() + m.key.as_ref().map_or(0, String::len) + direct
}

/// Takes `cost` of the room in `queued` (at most [`HISTORY_QUEUE_BYTES`] in all), if there is
/// that much left.
fn admit(queued: &AtomicUsize, cost: usize) -> bool {
    let before = queued.fetch_add(cost, Ordering::AcqRel);
    if before.saturating_add(cost) <= HISTORY_QUEUE_BYTES {
        return true;
    }
    queued.fetch_sub(cost, Ordering::AcqRel);
    false
}

enum Job {
    Store(Pending),
    Reserve(ReservationChange),
}

/// Handle to the writer thread.
pub struct Journal {
    jobs: mpsc::Sender<Job>,
    /// What the lines submitted and not yet taken by the writer cost ([`Pending::cost`]): at
    /// most [`HISTORY_QUEUE_BYTES`].
    queued: Arc<AtomicUsize>,
    /// Jobs sent to the writer so far...
    sent: AtomicU64,
    /// ...and how many of them it has finished (stored and delivered, or refused), in the
    /// order sent. A flush waits on this rather than queueing (a flush costs no queue room,
    /// and cannot be refused for lack of it).
    finished: watch::Receiver<u64>,
}

impl Journal {
    pub fn start(
        history: Arc<dyn History>,
        retention: Retention,
        elsewhere: Elsewhere,
        locals: Arc<Locals>,
    ) -> Self {
        crate::history::pruner::start(Arc::downgrade(&history), retention);
        let (jobs, rx) = mpsc::channel();
        let (done, finished) = watch::channel(0);
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = queued.clone();
        // Delivering from this thread may close a slow reader, which spawns a task: the thread
        // works inside the server's runtime.
        let runtime = tokio::runtime::Handle::try_current().ok();
        let spawned = std::thread::Builder::new().name("history-writer".into()).spawn(move || {
            let _inside = runtime.as_ref().map(tokio::runtime::Handle::enter);
            Writer { history, elsewhere, locals }.run(rx, &taken, &done)
        });
        if let Err(e) = spawned {
            // Without a writer every submit fails and is answered `unavailable`.
            tracing::error!("cannot start the history writer: {e}");
        }
        Self { jobs, queued, sent: AtomicU64::new(0), finished }
    }

    /// Queues an accepted message. It is answered `unavailable` if the writer is gone, and at
    /// once (with `limit` [`HISTORY_QUEUE_BYTES`]) if the lines waiting leave no room for it.
    pub fn submit(&self, pending: Pending) {
        let cost = pending.cost();
        if !admit(&self.queued, cost) {
            return delivery::refuse(
                pending,
                ChatError::with_limit(ErrorCode::Unavailable, HISTORY_QUEUE_BYTES),
            );
        }
        self.sent.fetch_add(1, Ordering::SeqCst);
        if let Err(mpsc::SendError(Job::Store(p))) = self.jobs.send(Job::Store(pending)) {
            self.queued.fetch_sub(cost, Ordering::AcqRel);
            delivery::refuse(p, ChatError::new(ErrorCode::Unavailable));
        }
    }

    /// Records a reservation change (after the messages submitted before it). Never refused
    /// for room: reservations come at the rate of nickname changes, which has its own limits.
    pub fn reserve(&self, change: ReservationChange) {
        self.sent.fetch_add(1, Ordering::SeqCst);
        if self.jobs.send(Job::Reserve(change)).is_err() {
            tracing::warn!("history writer gone: a nickname reservation was not recorded");
        }
    }

    /// Waits until everything submitted so far is stored and delivered; false if the writer
    /// is gone.
    pub async fn flush(&self) -> bool {
        let mut finished = self.finished.clone();
        if finished.has_changed().is_err() {
            return false;
        }
        // Every job whose send completed before this load is counted in it, and the writer
        // receives them before any job sent later: once it has finished this many, it has
        // finished them all.
        let target = self.sent.load(Ordering::SeqCst);
        finished.wait_for(|&done| done >= target).await.is_ok()
    }
}

struct Writer {
    history: Arc<dyn History>,
    elsewhere: Elsewhere,
    /// The connections here (everyone a `general` line goes to).
    locals: Arc<Locals>,
}

impl Writer {
    fn run(self, rx: mpsc::Receiver<Job>, queued: &AtomicUsize, finished: &watch::Sender<u64>) {
        let mut done = 0;
        while let Ok(first) = rx.recv() {
            let mut batch = Vec::new();
            let mut reservations = Vec::new();
            let mut next = Some(first);
            while let Some(job) = next {
                done += 1;
                match job {
                    Job::Store(p) => {
                        queued.fetch_sub(p.cost(), Ordering::AcqRel);
                        batch.push(p)
                    }
                    Job::Reserve(change) => reservations.push(change),
                }
                next = if batch.len() < STORE_BATCH_MAX { rx.try_recv().ok() } else { None };
            }
            if !batch.is_empty() {
                self.store(batch);
            }
            if !reservations.is_empty()
                && let Err(e) = self.history.reserve(&reservations)
            {
                tracing::warn!("cannot record {} nickname reservation(s): {e}", reservations.len());
                metrics::history_failed();
            }
            finished.send_replace(done);
        }
    }

    fn store(&self, batch: Vec<Pending>) {
        let messages: Vec<NewMessage> = batch.iter().map(|p| p.message.clone()).collect();
        let started = Instant::now();
        let stored = self.history.append(&messages);
        metrics::history_committed(started.elapsed());
        match stored {
            Ok(stored) => {
                for (pending, appended) in batch.into_iter().zip(stored) {
                    delivery::deliver(pending, appended, &self.elsewhere, &self.locals);
                }
            }
            Err(e) => {
                tracing::error!("cannot store {} message(s): {e}", batch.len());
                metrics::history_failed();
                for p in batch {
                    delivery::refuse(p, ChatError::new(ErrorCode::Unavailable));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex, OnceLock, mpsc};
    use std::time::Duration;

    use chat_shared::protocol::{HistoryPage, HistoryRequest};

    use super::*;
    use crate::history::{Appended, HistoryError, Reservation};

    /// A store whose writes wait until the test lets them through (a stalled disk or Redis),
    /// and that panics on a reservation for "boom" (a writer that dies).
    struct Stalled {
        go: Mutex<mpsc::Receiver<()>>,
        reserved: Mutex<Vec<ReservationChange>>,
    }

    impl History for Stalled {
        fn append(&self, _: &[NewMessage]) -> Result<Vec<Appended>, HistoryError> {
            Err(HistoryError("not in this test".into()))
        }
        fn page(&self, _: &HistoryRequest) -> Result<HistoryPage, HistoryError> {
            Ok(HistoryPage::default())
        }
        fn delete(
            &self,
            _: &str,
            _: u64,
        ) -> Result<Option<chat_shared::protocol::HistoryMessage>, HistoryError> {
            Ok(None)
        }
        fn prune(&self, _: Retention) -> Result<u64, HistoryError> {
            Ok(0)
        }
        fn reserve(&self, changes: &[ReservationChange]) -> Result<(), HistoryError> {
            assert!(!changes.contains(&ReservationChange::Drop("boom".into())), "the writer dies");
            let _ = self.go.lock().unwrap().recv();
            self.reserved.lock().unwrap().extend_from_slice(changes);
            Ok(())
        }
        fn reservations(&self) -> Result<Vec<Reservation>, HistoryError> {
            Ok(Vec::new())
        }
        fn owners(&self) -> Result<Vec<crate::history::Ownership>, HistoryError> {
            Ok(Vec::new())
        }
        fn rooms(&self) -> Result<Vec<crate::history::StoredRoom>, HistoryError> {
            Ok(Vec::new())
        }
        fn memberships(&self) -> Result<Vec<(String, String)>, HistoryError> {
            Ok(Vec::new())
        }
        fn directs(&self, _: &str, _: usize) -> Result<Vec<crate::history::DirectThread>, HistoryError> {
            Ok(Vec::new())
        }
        fn check(&self) -> Result<(), HistoryError> {
            Ok(())
        }
    }

    fn journal() -> (Journal, Arc<Stalled>, mpsc::Sender<()>) {
        let (go, wait) = mpsc::channel();
        let store = Arc::new(Stalled { go: Mutex::new(wait), reserved: Mutex::new(Vec::new()) });
        let none = Retention::EVERYTHING;
        let elsewhere = Elsewhere::new(None, Arc::new(OnceLock::new()));
        (Journal::start(store.clone(), none, elsewhere, Arc::default()), store, go)
    }

    #[test]
    fn the_queue_refuses_what_does_not_fit_and_gets_room_back() {
        let queued = AtomicUsize::new(0);
        let largest = NewMessage {
            channel: Channel::General,
            from: "a".repeat(128),
            text: "😀".repeat(2_000),
            key: Some("k".repeat(64)),
        };
        let cost = line_cost(&largest);
        assert_eq!(cost, HISTORY_QUEUE_LINE_OVERHEAD + 128 + 8_000 + 64);
        let fit = HISTORY_QUEUE_BYTES / cost;
        for _ in 0..fit {
            assert!(admit(&queued, cost));
        }
        assert!(!admit(&queued, cost), "full");
        assert_eq!(queued.load(Ordering::SeqCst), fit * cost, "a refusal takes nothing");
        queued.fetch_sub(cost, Ordering::SeqCst); // the writer takes one
        assert!(admit(&queued, cost));
        assert!(!admit(&queued, usize::MAX), "no overflow");
        assert_eq!(queued.load(Ordering::SeqCst), fit * cost);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_flush_waits_for_a_stalled_store_and_a_reservation_gets_through() {
        let (journal, store, go) = journal();
        assert!(journal.flush().await, "nothing pending");
        journal.reserve(ReservationChange::Drop("ana".into()));
        journal.reserve(ReservationChange::Drop("bo".into()));
        let waiting = tokio::time::timeout(Duration::from_millis(300), journal.flush()).await;
        assert!(waiting.is_err(), "the flush waits while the store is stalled");
        assert!(store.reserved.lock().unwrap().is_empty());
        let _ = go.send(());
        let _ = go.send(());
        assert_eq!(tokio::time::timeout(Duration::from_secs(10), journal.flush()).await, Ok(true));
        let reserved = store.reserved.lock().unwrap().clone();
        assert_eq!(
            reserved,
            vec![ReservationChange::Drop("ana".into()), ReservationChange::Drop("bo".into())],
            "both recorded, in order"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_flush_fails_clearly_once_the_writer_is_gone() {
        let (journal, _store, _go) = journal();
        journal.reserve(ReservationChange::Drop("boom".into()));
        assert_eq!(tokio::time::timeout(Duration::from_secs(10), journal.flush()).await, Ok(false));
        assert_eq!(tokio::time::timeout(Duration::from_secs(10), journal.flush()).await, Ok(false));
    }
}
