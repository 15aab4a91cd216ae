//! The rooms an owned nickname is in belong to its ownership (its tenure), not to one
//! connection: joined from one tab, they come back on the next tab, after a reload or a
//! restart, on any instance. Alone they live here and in SQLite (through the journal); in a
//! cluster in Redis (`chat:member-of:<tenure>`, as long as the ownership's reservation). An
//! ephemeral nickname's rooms are its connection's only, as before.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use chat_shared::RoomName;
use socketioxide::extract::SocketRef;

use super::Chat;
use super::credentials::Tenure;
use super::session::{Session, Speaker};
use crate::cluster::ChatAdapter;
use crate::history::ReservationChange;

/// The rooms of each ownership (by tenure), alone.
#[derive(Default)]
pub struct Memberships {
    inner: Mutex<HashMap<String, BTreeSet<RoomName>>>,
}

impl Memberships {
    /// Puts back a membership found in the store at start.
    pub fn restore(&self, tenure: String, room: &str) {
        match RoomName::parse(room) {
            Ok(room) => {
                self.lock().entry(tenure).or_default().insert(room);
            }
            Err(e) => tracing::warn!(%room, "dropping a stored membership: {e}"),
        }
    }

    fn of(&self, tenure: &Tenure) -> Vec<RoomName> {
        self.lock().get(tenure.as_str()).map(|rooms| rooms.iter().cloned().collect()).unwrap_or_default()
    }

    /// Whether that changed anything.
    fn set(&self, tenure: &Tenure, room: &RoomName, joined: bool) -> bool {
        let mut inner = self.lock();
        if joined {
            return inner.entry(tenure.as_str().to_owned()).or_default().insert(room.clone());
        }
        let Some(rooms) = inner.get_mut(tenure.as_str()) else { return false };
        let changed = rooms.remove(room);
        if rooms.is_empty() {
            inner.remove(tenure.as_str());
        }
        changed
    }

    fn forget(&self, tenure: &Tenure) -> bool {
        self.lock().remove(tenure.as_str()).is_some()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, BTreeSet<RoomName>>> {
        // One insert or remove at a time: a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Chat {
    /// The rooms `speaker` is in as an owner (none for an ephemeral nickname), alone: at once.
    pub(super) fn remembered_here(&self, speaker: &Speaker) -> Vec<RoomName> {
        match speaker.owned {
            true => self.memberships.of(&speaker.tenure),
            false => Vec::new(),
        }
    }

    /// The rooms `speaker` is in as an owner: alone at once, in a cluster from Redis (the
    /// rooms this instance has not heard of yet are learnt from Redis too). None on a failure:
    /// the connection then joins its rooms again itself.
    pub(super) async fn remembered_rooms(&self, speaker: &Speaker) -> Vec<RoomName> {
        let Some(redis) = self.redis_rooms.clone().filter(|_| speaker.owned) else {
            return self.remembered_here(speaker);
        };
        let found = match redis.member_of(speaker.tenure.as_str(), self.reservation_ms()).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(nickname = %speaker.nickname, "cannot read an owned nickname's rooms: {e}");
                return Vec::new();
            }
        };
        let rooms: Vec<RoomName> = found.iter().filter_map(|r| RoomName::parse(r).ok()).collect();
        if rooms.iter().any(|r| !self.rooms.knows(r)) {
            let _ = super::rooms::refresh(self, &redis).await;
        }
        rooms
    }

    /// `socket`, speaking as `speaker`, is in `rooms` again (those that still exist).
    pub(super) fn rejoin(&self, socket: &SocketRef<ChatAdapter>, session: &Session, rooms: Vec<RoomName>) {
        for room in rooms.into_iter().filter(|r| self.rooms.knows(r) && !r.is_general()) {
            super::rooms::join_now(self, socket, session, room);
        }
    }

    /// `speaker` joined (or left) `room`: kept with its ownership, if it is an owner — and the
    /// ownership still lasts (its secret may have claimed another name since, from another
    /// tab: the rooms of an ownership that ended are not kept again). In a cluster the write
    /// goes in `session`'s lane, after its earlier joins and leaves: a join and a leave in
    /// quick succession used to race each other to Redis, and a room left could come back.
    /// (Not refused when the lane is full: joins and leaves are rate-limited as nickname
    /// attempts, and a lost write would be a wrong membership.)
    pub(super) fn remember(&self, session: &Session, speaker: &Speaker, room: &RoomName, joined: bool) {
        if !speaker.owned || room.is_general() {
            return;
        }
        let Some(redis) = self.redis_rooms.clone() else {
            let now = crate::clock::now_ms();
            let lasts =
                self.roster.ownership(&speaker.nickname, now).is_some_and(|(t, _)| t == speaker.tenure);
            if lasts && self.memberships.set(&speaker.tenure, room, joined) {
                self.journal.reserve(ReservationChange::Member {
                    tenure: speaker.tenure.as_str().to_owned(),
                    room: room.to_string(),
                    joined,
                });
            }
            return;
        };
        let (tenure, room, reservation) = (speaker.tenure.clone(), room.to_string(), self.reservation_ms());
        let key = speaker.nickname.key();
        session.lane.run(async move {
            if let Err(e) = redis.remember(key.as_str(), tenure.as_str(), &room, joined, reservation).await {
                tracing::warn!(%room, "cannot keep an owned nickname's room: {e}");
            }
        });
    }

    /// The ownership `tenure` ended ("forget me", or its secret moved to another name): it is in
    /// no room any more, and its list of direct conversations is gone.
    pub(super) fn ownership_ended(&self, tenure: &Tenure) {
        let Some(redis) = self.redis_rooms.clone() else {
            self.memberships.forget(tenure);
            self.journal.reserve(ReservationChange::OwnershipEnded(tenure.as_str().to_owned()));
            return;
        };
        let tenure = tenure.clone();
        tokio::spawn(async move {
            if let Err(e) = redis.ownership_ended(tenure.as_str()).await {
                // The rooms' set runs out with the reservation time.
                tracing::warn!("cannot forget an owned nickname's rooms and conversations: {e}");
            }
        });
    }

    fn reservation_ms(&self) -> u64 {
        self.reservation.as_millis().try_into().unwrap_or(u64::MAX)
    }
}
