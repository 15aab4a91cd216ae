//! Applies the history's retention at start and then once a minute, on a thread of its own:
//! a long prune (a cluster with many conversations is one Redis call per hundred of them)
//! never holds up the writer's lines, and a silent chat's old lines still age out.

use std::sync::Weak;
use std::time::Duration;

use super::{History, Retention};
use crate::metrics;

/// How often retention is applied.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Starts pruning `history` (the thread ends once the history is dropped); nothing to do when
/// `retention` keeps everything.
pub fn start(history: Weak<dyn History>, retention: Retention) {
    if retention == Retention::EVERYTHING {
        return;
    }
    let spawned = std::thread::Builder::new().name("history-pruner".into()).spawn(move || {
        while let Some(history) = history.upgrade() {
            prune(history.as_ref(), retention);
            drop(history);
            std::thread::sleep(PRUNE_EVERY);
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the history pruner: the history keeps every line: {e}");
    }
}

fn prune(history: &dyn History, retention: Retention) {
    match history.prune(retention) {
        Ok(0) => {}
        Ok(n) => tracing::info!(dropped = n, "history retention applied"),
        Err(e) => {
            tracing::warn!("cannot apply history retention: {e}");
            metrics::history_failed();
        }
    }
}
