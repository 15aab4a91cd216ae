//! The `nicknames` broadcast, coalesced: the original sent the whole map to everyone on every
//! change (O(N²) when N people arrive together). Here a change asks for a broadcast; one task
//! sends the current map at once, then at most once per interval while changes keep coming,
//! so every client always ends with the right map. In a cluster the map is the cluster's (from
//! Redis); the same task renews this instance's nickname leases, and sends the map again when
//! other instances changed it.

use std::sync::Arc;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use chat_shared::limits::{NICKNAMES_INTERVAL_PER_USER, NICKNAMES_MIN_INTERVAL, PRESENCE_INTERVAL};
use chat_shared::protocol::{Nicknames, ONLINE_PART_NAMES, PresenceChange, ServerEvent};
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use tokio::sync::Notify;

use super::fanout;
use super::roster::Roster;
use super::session::Session;
use crate::cluster::{ChatAdapter, Elsewhere, Presence, RENEW_EVERY};

/// Handle to ask for a `nicknames` broadcast.
#[derive(Clone)]
pub struct NicknamesChanged(Arc<Notify>);

impl NicknamesChanged {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Who is online, as the nicknames task last sent it (in a cluster, as it read it from Redis:
/// at most a lease renewal old, at once for a change on this instance): for `about` and `room
/// people`, which anyone may ask for and must neither make Redis read every name nor sort
/// everyone each time.
#[derive(Default)]
pub struct Online(RwLock<Arc<Snapshot>>);

#[derive(Default)]
struct Snapshot {
    /// Every nickname in use (the map `nicknames` sends).
    names: Arc<Nicknames>,
    /// `general`'s people as `room people` answers them (sorted, at most `ROOM_PEOPLE_MAX`).
    people: Arc<Vec<String>>,
}

impl Online {
    fn get(&self) -> Arc<Snapshot> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many nicknames are in use.
    pub fn count(&self) -> u64 {
        self.get().names.len() as u64
    }

    /// `general`'s people, in `room people`'s order and bound.
    pub fn people(&self) -> Arc<Vec<String>> {
        self.get().people.clone()
    }

    fn set(&self, names: Arc<Nicknames>) {
        let people = Arc::new(super::rooms::sorted(names.keys().cloned().collect()));
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Snapshot { names, people });
    }
}

/// The task that sends the map (started by the app once socket.io is built).
pub struct NicknamesTask {
    changed: Arc<Notify>,
    roster: Arc<Roster>,
    /// Who is online, as last sent (in a cluster: as last read).
    online: Arc<Online>,
    /// In a cluster: the cluster's presence, and the users on the other instances.
    cluster: Option<(Presence, Elsewhere)>,
}

pub fn coalescer(
    roster: Arc<Roster>,
    cluster: Option<(Presence, Elsewhere)>,
    online: Arc<Online>,
) -> (NicknamesChanged, NicknamesTask) {
    let changed = Arc::new(Notify::new());
    (NicknamesChanged(changed.clone()), NicknamesTask { changed, roster, online, cluster })
}

impl NicknamesTask {
    /// Starts the task; `chat` signs out the connections whose nicknames were resumed on
    /// another instance (found at a lease renewal).
    pub fn spawn(self, io: SocketIo<ChatAdapter>, chat: super::Chat) {
        match self.cluster {
            None => {
                // The names reserved before a restart are in the roster before anyone changes it.
                self.online.set(Arc::new(self.roster.snapshot()));
                tokio::spawn(async move {
                    let mut last_sent = Arc::new(Nicknames::new());
                    loop {
                        // A notify while we send or sleep is kept, so the last change is never missed.
                        self.changed.notified().await;
                        let map = Arc::new(self.roster.snapshot());
                        self.online.set(map.clone());
                        let pace = publish(&io, &last_sent, &map, true);
                        tokio::time::sleep(pace).await;
                        last_sent = map;
                    }
                });
            }
            Some((presence, elsewhere)) => {
                tokio::spawn(async move {
                    let mut last_sent = Arc::new(Nicknames::new());
                    let mut renew = tokio::time::interval(RENEW_EVERY);
                    loop {
                        let changed_here = tokio::select! {
                            () = self.changed.notified() => true,
                            _ = renew.tick() => false,
                        };
                        renew_leases(&presence, &self.roster, &chat).await;
                        let names = match presence.names().await {
                            Ok(names) => names,
                            Err(e) => {
                                tracing::warn!("cannot read who is online in the cluster: {e}");
                                continue;
                            }
                        };
                        let map: Arc<Nicknames> =
                            Arc::new(names.into_iter().map(|n| (n.clone(), n)).collect());
                        self.online.set(map.clone());
                        let changed = changed_here || map != last_sent;
                        // Every time: a connection named since (or whose notice was missed
                        // while Redis did not answer) gets its first list.
                        let pace = publish(&io, &last_sent, &map, changed);
                        if changed_here {
                            // The other instances' tasks see the change at their next
                            // renewal; their connections that take whole maps get it now.
                            elsewhere.send_latest_to(
                                super::ANNOUNCED_ROOM,
                                ServerEvent::Nicknames,
                                map.clone(),
                            );
                        }
                        if changed {
                            tokio::time::sleep(pace).await;
                        }
                        last_sent = map;
                    }
                });
            }
        }
    }
}

/// Renews the leases of the nicknames held here; forgets those whose owners resumed on
/// another instance (if their takeover notice did not arrive).
async fn renew_leases(presence: &Presence, roster: &Roster, chat: &super::Chat) {
    let held = roster.held();
    match presence.renew(&held).await {
        Ok(lost) => {
            for key in lost {
                // Only the hold this renewal was about (a resume here meanwhile is a new one).
                if let Some(h) = held.iter().find(|h| h.nickname.key().as_str() == key) {
                    chat.taken_elsewhere(&key, &h.token);
                }
            }
        }
        Err(e) => tracing::warn!("cannot renew nickname leases in the cluster: {e}"),
    }
}

/// Sends `map` whole to every connection that did not ask for changes (the original's way;
/// only if `maps_due`), everyone's names (`online`) to each newly named one that did, and the
/// change since `last_sent` (if any) to the other named ones that did. Each payload is encoded
/// once for all. Returns the pause before the next one: it grows with the map while anyone
/// takes whole maps (bytes per second stay bounded), else it is [`PRESENCE_INTERVAL`].
fn publish(io: &SocketIo<ChatAdapter>, last_sent: &Nicknames, map: &Nicknames, maps_due: bool) -> Duration {
    let change = PresenceChange::between(last_sent, map);
    let (mut maps, mut lists, mut changes) = (Vec::new(), Vec::new(), Vec::new());
    for socket in super::everyone(io) {
        match Session::of(&socket) {
            Some(session) if session.wants_changes => {
                if !session.is_named() {
                    // Not in the chat yet: it learns who is there once named.
                } else if session.first_list() {
                    lists.push(socket);
                } else if !change.is_empty() {
                    changes.push(socket);
                }
            }
            _ => maps.push(socket),
        }
    }
    let anyone_takes_maps = !maps.is_empty();
    if !maps_due {
        maps.clear();
    }
    // A map supersedes the one before: a socket holds only the newest it has not read.
    let sent_maps = fanout::latest_to_each(maps, ServerEvent::Nicknames, map);
    let sent_lists = send_online(lists, map);
    let sent_changes = fanout::to_each_encoded(changes, ServerEvent::Presence, &change);
    tracing::debug!(names = map.len(), sent_maps, sent_lists, sent_changes, "sent who is online");
    if anyone_takes_maps {
        NICKNAMES_MIN_INTERVAL + NICKNAMES_INTERVAL_PER_USER * u32::try_from(map.len()).unwrap_or(u32::MAX)
    } else {
        PRESENCE_INTERVAL
    }
}

/// Sends everyone's names to `sockets`, in `online` parts (each encoded once for all);
/// returns to how many sockets every part went.
fn send_online(mut sockets: Vec<SocketRef<ChatAdapter>>, map: &Nicknames) -> usize {
    let names: Vec<&String> = map.keys().collect();
    for part in names.chunks(ONLINE_PART_NAMES) {
        // A socket closed for a full queue gets no further parts.
        sockets.retain(|s| !Session::of(s).is_some_and(|s| s.closing()));
        fanout::to_each_encoded(sockets.clone(), ServerEvent::Online, &part);
    }
    sockets.len()
}
