//! The `nicknames` broadcast, coalesced: the original sent the whole map to everyone on every
//! change (O(N²) when N people arrive together). Here a change asks for a broadcast; one task
//! sends the current map at once, then at most once per interval while changes keep coming,
//! so every client always ends with the right map.

use crate::cluster::ChatAdapter;
use std::sync::Arc;
use std::time::Duration;

use chat_shared::limits::{NICKNAMES_INTERVAL_PER_USER, NICKNAMES_MIN_INTERVAL};
use chat_shared::protocol::ServerEvent;
use socketioxide::SocketIo;
use tokio::sync::Notify;

use super::fanout;
use super::roster::Roster;

/// Handle to ask for a `nicknames` broadcast.
#[derive(Clone)]
pub struct NicknamesChanged(Arc<Notify>);

impl NicknamesChanged {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// The task that sends the map (started by the app once socket.io is built).
pub struct NicknamesTask {
    changed: Arc<Notify>,
    roster: Arc<Roster>,
}

pub fn coalescer(roster: Arc<Roster>) -> (NicknamesChanged, NicknamesTask) {
    let changed = Arc::new(Notify::new());
    (NicknamesChanged(changed.clone()), NicknamesTask { changed, roster })
}

impl NicknamesTask {
    pub fn spawn(self, io: SocketIo<ChatAdapter>) {
        tokio::spawn(async move {
            loop {
                // A notify while we send or sleep is kept, so the last change is never missed.
                self.changed.notified().await;
                let map = self.roster.snapshot();
                let sent = fanout::to_each(super::everyone(&io), ServerEvent::Nicknames, &map);
                tracing::debug!(names = map.len(), sockets = sent, "sent nicknames");
                tokio::time::sleep(interval(map.len())).await;
            }
        });
    }
}

/// The pause after a broadcast: grows with the map so that bytes per second stay bounded.
fn interval(names: usize) -> Duration {
    NICKNAMES_MIN_INTERVAL + NICKNAMES_INTERVAL_PER_USER * u32::try_from(names).unwrap_or(u32::MAX)
}
