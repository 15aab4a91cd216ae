//! The one writer of the history: accepted messages arrive here in the order the server took
//! them, are committed in batches (one durable sync for many messages: group commit), and only
//! then delivered to the others and acknowledged to their senders.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chat_shared::limits::STORE_BATCH_MAX;
use chat_shared::protocol::{Answer, ClientEvent, MessageMeta, ServerEvent, StampedMessage};
use chat_shared::{ChatError, ErrorCode};
use serde_json::value::{RawValue, to_raw_value};
use socketioxide::extract::SocketRef;
use tokio::sync::oneshot;

use super::fanout;
use super::reply::Reply;
use crate::cluster::{ChatAdapter, Elsewhere};
use crate::history::{Appended, History, NewMessage, ReservationChange, Retention};
use crate::metrics;

/// How often retention is applied.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// A message accepted from `socket`, waiting to be stored.
pub struct Pending {
    pub socket: SocketRef<ChatAdapter>,
    pub reply: Reply,
    pub message: NewMessage,
}

enum Job {
    Store(Pending),
    Reserve(ReservationChange),
    /// Answered once everything submitted before it is stored and delivered.
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer thread.
pub struct Journal {
    jobs: mpsc::Sender<Job>,
}

impl Journal {
    pub fn start(history: Arc<dyn History>, retention: Retention, elsewhere: Elsewhere) -> Self {
        let (jobs, rx) = mpsc::channel();
        // Delivering from this thread may close a slow reader, which spawns a task: the thread
        // works inside the server's runtime.
        let runtime = tokio::runtime::Handle::try_current().ok();
        let spawned = std::thread::Builder::new().name("history-writer".into()).spawn(move || {
            let _inside = runtime.as_ref().map(tokio::runtime::Handle::enter);
            Writer { history, retention, elsewhere, last_prune: None }.run(rx)
        });
        if let Err(e) = spawned {
            // Without a writer every submit fails and is answered `unavailable`.
            tracing::error!("cannot start the history writer: {e}");
        }
        Self { jobs }
    }

    /// Queues an accepted message; it is answered `unavailable` if the writer is gone.
    pub fn submit(&self, pending: Pending) {
        if let Err(mpsc::SendError(Job::Store(p))) = self.jobs.send(Job::Store(pending)) {
            refuse(p, ChatError::new(ErrorCode::Unavailable));
        }
    }

    /// Records a reservation change (after the messages submitted before it).
    pub fn reserve(&self, change: ReservationChange) {
        if self.jobs.send(Job::Reserve(change)).is_err() {
            tracing::warn!("history writer gone: a nickname reservation was not recorded");
        }
    }

    /// Waits until everything submitted so far is stored and delivered; false if the writer
    /// is gone.
    pub async fn flush(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Flush(tx)).is_ok() && rx.await.is_ok()
    }
}

struct Writer {
    history: Arc<dyn History>,
    retention: Retention,
    elsewhere: Elsewhere,
    last_prune: Option<Instant>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut batch = Vec::new();
            let mut reservations = Vec::new();
            let mut flushes = Vec::new();
            let mut next = Some(first);
            while let Some(job) = next {
                match job {
                    Job::Store(p) => batch.push(p),
                    Job::Reserve(change) => reservations.push(change),
                    Job::Flush(done) => flushes.push(done),
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
            for done in flushes {
                let _ = done.send(());
            }
            self.prune_now_and_then();
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
                    deliver(pending, appended, &self.elsewhere);
                }
            }
            Err(e) => {
                tracing::error!("cannot store {} message(s): {e}", batch.len());
                metrics::history_failed();
                for p in batch {
                    refuse(p, ChatError::new(ErrorCode::Unavailable));
                }
            }
        }
    }

    fn prune_now_and_then(&mut self) {
        if self.last_prune.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
            return;
        }
        self.last_prune = Some(Instant::now());
        match self.history.prune(self.retention) {
            Ok(0) => {}
            Ok(n) => tracing::info!(dropped = n, "history retention applied"),
            Err(e) => {
                tracing::warn!("cannot apply history retention: {e}");
                metrics::history_failed();
            }
        }
    }
}

/// A stored message goes to everyone else (unless it was a resend), then its ack to the sender.
fn deliver(pending: Pending, appended: Appended, elsewhere: &Elsewhere) {
    let m = &appended.message;
    let meta = MessageMeta { id: m.id, ts: m.ts };
    if appended.new {
        let others = pending.socket.broadcast().sockets();
        let stamped = StampedMessage(&m.from, &m.text, meta);
        // Each argument is encoded once for every recipient (socketioxide would escape the
        // text again for each one).
        let delivered = match encoded(&stamped) {
            Ok(args) => fanout::to_each(others, ServerEvent::UserMessage, &args),
            Err(_) => fanout::to_each(others, ServerEvent::UserMessage, &stamped),
        };
        elsewhere.send(ServerEvent::UserMessage, (m.from.clone(), m.text.clone(), meta));
        metrics::message_accepted();
        metrics::delivered(delivered);
    }
    pending.reply.send(ClientEvent::UserMessage, &Answer(Ok(meta)), None);
}

/// The three arguments of a `user message`, as JSON.
fn encoded(m: &StampedMessage<'_>) -> serde_json::Result<(Box<RawValue>, Box<RawValue>, Box<RawValue>)> {
    Ok((to_raw_value(m.0)?, to_raw_value(m.1)?, to_raw_value(&m.2)?))
}

fn refuse(pending: Pending, error: ChatError) {
    metrics::message_rejected(error.code);
    pending.reply.send(ClientEvent::UserMessage, &Answer::<MessageMeta>(Err(error.clone())), Some(&error));
}
