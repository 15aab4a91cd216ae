//! The `nicknames` broadcast, coalesced: the original sent the whole map to everyone on every
//! change (O(N²) when N people arrive together). Here a change asks for a broadcast; one task
//! sends the current map at once, then at most once per interval while changes keep coming,
//! so every client always ends with the right map. In a cluster the map is the cluster's (from
//! Redis); the same task renews this instance's nickname leases, and sends the map again when
//! other instances changed it.

use std::sync::Arc;
use std::time::Duration;

use chat_shared::limits::{NICKNAMES_INTERVAL_PER_USER, NICKNAMES_MIN_INTERVAL};
use chat_shared::protocol::{Nicknames, ServerEvent};
use socketioxide::SocketIo;
use tokio::sync::Notify;

use super::fanout;
use super::roster::Roster;
use crate::cluster::{ChatAdapter, Elsewhere, Presence, RENEW_EVERY};

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
    /// In a cluster: the cluster's presence, and the users on the other instances.
    cluster: Option<(Presence, Elsewhere)>,
}

pub fn coalescer(
    roster: Arc<Roster>,
    cluster: Option<(Presence, Elsewhere)>,
) -> (NicknamesChanged, NicknamesTask) {
    let changed = Arc::new(Notify::new());
    (NicknamesChanged(changed.clone()), NicknamesTask { changed, roster, cluster })
}

impl NicknamesTask {
    pub fn spawn(self, io: SocketIo<ChatAdapter>) {
        match self.cluster {
            None => {
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
            Some((presence, elsewhere)) => {
                tokio::spawn(async move {
                    let mut last_sent = Nicknames::new();
                    let mut renew = tokio::time::interval(RENEW_EVERY);
                    loop {
                        let changed_here = tokio::select! {
                            () = self.changed.notified() => true,
                            _ = renew.tick() => false,
                        };
                        renew_leases(&presence, &self.roster).await;
                        let names = match presence.names().await {
                            Ok(names) => names,
                            Err(e) => {
                                tracing::warn!("cannot read who is online in the cluster: {e}");
                                continue;
                            }
                        };
                        let map: Nicknames = names.into_iter().map(|n| (n.clone(), n)).collect();
                        if changed_here || map != last_sent {
                            let sent = fanout::to_each(super::everyone(&io), ServerEvent::Nicknames, &map);
                            tracing::debug!(
                                names = map.len(),
                                sockets = sent,
                                "sent the cluster's nicknames"
                            );
                            if changed_here {
                                elsewhere.send(ServerEvent::Nicknames, map.clone());
                            }
                            tokio::time::sleep(interval(map.len())).await;
                            last_sent = map;
                        }
                    }
                });
            }
        }
    }
}

/// Renews the leases of the nicknames held here; forgets those whose owners resumed on
/// another instance.
async fn renew_leases(presence: &Presence, roster: &Roster) {
    match presence.renew(&roster.held()).await {
        Ok(lost) => {
            for key in lost {
                roster.forget(&key);
                tracing::info!(nickname_key = %key, "its owner resumed on another instance");
            }
        }
        Err(e) => tracing::warn!("cannot renew nickname leases in the cluster: {e}"),
    }
}

/// The pause after a broadcast: grows with the map so that bytes per second stay bounded.
fn interval(names: usize) -> Duration {
    NICKNAMES_MIN_INTERVAL + NICKNAMES_INTERVAL_PER_USER * u32::try_from(names).unwrap_or(u32::MAX)
}
