//! Moderation: who moderates (the chat's moderators, granted from the command line; each
//! room's owner and the moderators it names), what stands against whom (mutes, bans, room
//! rules) and the checks every post, typing notice, claim and connection passes. The state is
//! read from the store ([`store`]) every [`MODERATION_REFRESH`] (and at once after an action
//! here), so that a grant from the command line or an action on another instance takes effect
//! within that; every check reads this instance's copy and never waits. `act` holds the events.

pub mod act;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use chat_shared::limits::{MODERATION_REFRESH, ROOM_MUTES_MAX, ROOM_MUTES_TOTAL_MAX, SANCTIONS_MAX};
use chat_shared::moderation::{Roles, RoomRoles, RoomRules};
use chat_shared::room::GENERAL;
use chat_shared::{ChatError, ErrorCode};
use serde::{Deserialize, Serialize};

use super::session::Speaker;
use crate::clock::now_ms;
use crate::history::Channel;
use store::{EVERYWHERE, Kind, Log, Record, Store};

/// A role's holder: the nickname, and the tenure of the ownership it was granted to (a later
/// owner of the same name does not inherit it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub nickname: String,
    pub tenure: String,
}

/// A mute or a ban: until when, why, by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    pub nickname: String,
    pub until: i64,
    #[serde(default)]
    pub reason: String,
    pub by: String,
    /// A ban that also bans the holder's address.
    #[serde(default)]
    pub address: bool,
}

/// A room's rules as stored (`topic` None: the one it was created with).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    #[serde(default)]
    pub slow_secs: u32,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub topic: Option<String>,
}

/// The moderation state, as last read from the store.
#[derive(Debug, Default)]
struct State {
    /// The chat's moderators, by nickname key.
    moderators: HashMap<String, Role>,
    /// Each room's owner (by room name): its nickname key and role.
    owners: HashMap<String, (String, Role)>,
    /// Each room's moderators, by room name, then nickname key.
    room_moderators: HashMap<String, HashMap<String, Role>>,
    /// Mutes by (scope: a room or [`EVERYWHERE`], nickname key).
    mutes: HashMap<(String, String), Penalty>,
    /// Banned nicknames, by key.
    bans: HashMap<String, Penalty>,
    /// Banned addresses (address key → (the banned nickname's key, until)).
    address_bans: HashMap<String, (String, i64)>,
    rules: HashMap<String, Rules>,
    closed_reports: HashSet<u64>,
    /// Lately deleted lines' ids, by history key.
    deleted: HashMap<String, Vec<u64>>,
}

impl State {
    fn read(records: Vec<Record>, deleted: Vec<(u64, String)>) -> Self {
        let mut state = Self::default();
        for r in records {
            let role = || serde_json::from_str::<Role>(&r.value).ok();
            let penalty = || serde_json::from_str::<Penalty>(&r.value).ok();
            match r.kind {
                Kind::Moderator => {
                    if let Some(role) = role() {
                        state.moderators.insert(r.target, role);
                    }
                }
                Kind::RoomOwner => {
                    if let Some(role) = role() {
                        state.owners.insert(r.scope, (r.target, role));
                    }
                }
                Kind::RoomModerator => {
                    if let Some(role) = role() {
                        state.room_moderators.entry(r.scope).or_default().insert(r.target, role);
                    }
                }
                Kind::Mute => {
                    if let Some(p) = penalty() {
                        state.mutes.insert((r.scope, r.target), p);
                    }
                }
                Kind::Ban => {
                    if let Some(p) = penalty() {
                        state.bans.insert(r.target, p);
                    }
                }
                Kind::AddressBan => {
                    state.address_bans.insert(r.target, (r.scope, r.expires_at.unwrap_or(i64::MAX)));
                }
                Kind::Rules => {
                    if let Ok(rules) = serde_json::from_str::<Rules>(&r.value) {
                        state.rules.insert(r.scope, rules);
                    }
                }
                Kind::ReportClosed => {
                    if let Ok(id) = r.target.parse() {
                        state.closed_reports.insert(id);
                    }
                }
            }
        }
        for (_, entry) in deleted {
            if let Some((channel, id)) = entry.split_once('\n')
                && let Ok(id) = id.parse()
            {
                state.deleted.entry(channel.to_owned()).or_default().push(id);
            }
        }
        state
    }
}

fn holds(role: &Role, speaker: &Speaker) -> bool {
    speaker.owned && role.tenure == speaker.tenure.as_str()
}

/// Seconds from now until `until` (ms), at least 1.
fn seconds_left(until: i64, now: i64) -> usize {
    ((until - now).max(0) as usize).div_ceil(1000).max(1)
}

pub struct Moderation {
    store: Store,
    state: RwLock<State>,
    /// Refreshes asked for so far (each request is numbered in turn).
    asked: AtomicU64,
    /// One reload at a time; it holds the number of the last request the last reload answered
    /// (a reload begun after a request was made answers it: every moderation action asks for
    /// one, and a burst of them from many connections costs one or two reloads, not one each).
    reloading: tokio::sync::Mutex<u64>,
    /// Reloads done (for tests: requests share them).
    reloads: AtomicU64,
    /// When each (room, nickname key) last posted, for slow mode (ms).
    last_post: Mutex<HashMap<(String, String), i64>>,
    /// A room's rules are read, changed and written back one change at a time (on this
    /// instance).
    pub(super) rules_changes: tokio::sync::Mutex<()>,
    /// Capped grants (a room's moderators, mutes) are counted and written one at a time (on
    /// this instance), so that a burst of them cannot pass the cap together.
    pub(super) capped_grants: tokio::sync::Mutex<()>,
}

impl Moderation {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            state: RwLock::default(),
            asked: AtomicU64::new(0),
            reloading: tokio::sync::Mutex::new(0),
            reloads: AtomicU64::new(0),
            last_post: Mutex::default(),
            rules_changes: tokio::sync::Mutex::new(()),
            capped_grants: tokio::sync::Mutex::new(()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the state from the store again: what is stored when this is called is in the
    /// state when it returns. Calls made while a reload runs share the next one.
    pub async fn refresh(&self) -> Result<(), store::StoreError> {
        let mine = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
        let mut answered = self.reloading.lock().await;
        if *answered >= mine {
            return Ok(());
        }
        // Every request made so far was made before this reload begins.
        let upto = self.asked.load(Ordering::SeqCst);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let records = self.store.records(now).await?;
        let deleted = self.store.read(Log::Deleted, Log::Deleted.kept()).await?;
        // Parsing thousands of records is work for the blocking pool, not a chat worker.
        let fresh = tokio::task::spawn_blocking(move || State::read(records, deleted))
            .await
            .map_err(|e| store::StoreError(e.to_string()))?;
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        *answered = upto;
        drop(answered);
        let mut last_post = self.last_post.lock().unwrap_or_else(|p| p.into_inner());
        let slowest = i64::from(chat_shared::limits::SLOW_MODE_MAX_SECS) * 1000;
        last_post.retain(|_, at| now - *at < slowest);
        Ok(())
    }

    /// How often to call [`Self::refresh`].
    pub const REFRESH: std::time::Duration = MODERATION_REFRESH;

    /// Whether `speaker` moderates the whole chat.
    pub fn is_moderator(&self, speaker: &Speaker) -> bool {
        self.state().moderators.get(speaker.nickname.key().as_str()).is_some_and(|r| holds(r, speaker))
    }

    /// Whether `speaker` owns `room` (created it, as the owner it still is).
    pub fn owns_room(&self, speaker: &Speaker, room: &str) -> bool {
        self.state().owners.get(room).is_some_and(|(_, r)| holds(r, speaker))
    }

    /// Whether `speaker` moderates `room`: the chat's moderators, its owner, its moderators.
    pub fn moderates(&self, speaker: &Speaker, room: &str) -> bool {
        if self.is_moderator(speaker) || self.owns_room(speaker, room) {
            return true;
        }
        let state = self.state();
        let key = speaker.nickname.key();
        state.room_moderators.get(room).and_then(|m| m.get(key.as_str())).is_some_and(|r| holds(r, speaker))
    }

    /// Whether `speaker` has any role (reads the moderation log).
    pub fn has_a_role(&self, speaker: &Speaker) -> bool {
        let rooms: Vec<String> = {
            let state = self.state();
            state.owners.keys().chain(state.room_moderators.keys()).cloned().collect()
        };
        self.is_moderator(speaker) || rooms.iter().any(|room| self.moderates(speaker, room))
    }

    /// The role of the chat's moderator granted to the nickname with this key, if any (it
    /// counts only while that ownership lasts: see `act::protected`).
    pub fn moderator_role(&self, key: &str) -> Option<Role> {
        self.state().moderators.get(key).cloned()
    }

    /// A room's owner: its nickname key and role.
    fn room_owner(&self, room: &str) -> Option<(String, Role)> {
        self.state().owners.get(room).cloned()
    }

    /// How many moderators `room` has named, and whether the nickname with `key` is one.
    fn room_moderators(&self, room: &str, key: &str) -> (usize, bool) {
        let state = self.state();
        state.room_moderators.get(room).map_or((0, false), |m| (m.len(), m.contains_key(key)))
    }

    /// Whether a mute of the nickname with this key stands in exactly `scope` (renewing it
    /// adds nothing: no cap refuses it).
    fn mute_stands(&self, scope: &str, key: &str) -> bool {
        let now = now_ms();
        self.state().mutes.get(&(scope.to_owned(), key.to_owned())).is_some_and(|p| p.until > now)
    }

    /// Whether a new mute in `scope` (a room, or [`EVERYWHERE`]) would pass a cap
    /// ([`SANCTIONS_MAX`] chat-wide, [`ROOM_MUTES_MAX`] in a room, [`ROOM_MUTES_TOTAL_MAX`] in
    /// all rooms): the cap it would pass, if any.
    fn mute_cap_reached(&self, scope: &str) -> Option<usize> {
        let state = self.state();
        let in_scope = state.mutes.keys().filter(|(s, _)| s == scope).count();
        if scope == EVERYWHERE {
            return (in_scope >= SANCTIONS_MAX).then_some(SANCTIONS_MAX);
        }
        if in_scope >= ROOM_MUTES_MAX {
            return Some(ROOM_MUTES_MAX);
        }
        let in_rooms = state.mutes.keys().filter(|(s, _)| s != EVERYWHERE).count();
        (in_rooms >= ROOM_MUTES_TOTAL_MAX).then_some(ROOM_MUTES_TOTAL_MAX)
    }

    /// Every role granted (each counts only while its ownership lasts).
    pub fn all_roles(&self) -> Vec<Role> {
        let state = self.state();
        let owners = state.owners.values().map(|(_, r)| r);
        let named = state.room_moderators.values().flat_map(HashMap::values);
        state.moderators.values().chain(owners).chain(named).cloned().collect()
    }

    /// Until when `speaker` is muted in `room` (None: `general`'s and rooms' chat-wide mute
    /// only; for a direct conversation pass None).
    fn muted_until(&self, key: &str, room: Option<&str>, now: i64) -> Option<i64> {
        let state = self.state();
        let everywhere = state.mutes.get(&(EVERYWHERE.to_owned(), key.to_owned()));
        let here = room.and_then(|room| state.mutes.get(&(room.to_owned(), key.to_owned())));
        everywhere.into_iter().chain(here).map(|p| p.until).filter(|until| *until > now).max()
    }

    /// Whether `speaker` may have its words shown to others outside a line now: not banned,
    /// and not muted chat-wide or in `room` (a moderation request carries a reason or a topic,
    /// a new room its name and topic).
    pub fn may_speak(&self, speaker: &Speaker, room: Option<&str>) -> Result<(), ChatError> {
        let now = now_ms();
        let key = speaker.nickname.key();
        if let Some(until) = self.banned(key.as_str()) {
            return Err(ChatError::with_limit(ErrorCode::Banned, seconds_left(until, now)));
        }
        // Mutes are kept under the room's name as parsed ("Nook" and " nook" are "nook"); a
        // name that does not parse is refused by the action itself.
        let room = room.and_then(|r| chat_shared::RoomName::parse(r).ok());
        match self.muted_until(key.as_str(), room.as_ref().map(chat_shared::RoomName::as_str), now) {
            Some(until) => Err(ChatError::with_limit(ErrorCode::Muted, seconds_left(until, now))),
            None => Ok(()),
        }
    }

    /// Whether `speaker` may say something in `channel` now (not muted, the room not locked
    /// to it, its slow mode's wait over); a line that may be said counts for slow mode.
    pub fn may_post(&self, speaker: &Speaker, channel: &Channel) -> Result<(), ChatError> {
        let now = now_ms();
        let key = speaker.nickname.key();
        let room = channel.room_name();
        if let Some(until) = self.banned(key.as_str()) {
            // Its connection is being closed (here, or by the instance that holds it).
            return Err(ChatError::with_limit(ErrorCode::Banned, seconds_left(until, now)));
        }
        if let Some(until) = self.muted_until(key.as_str(), room, now) {
            return Err(ChatError::with_limit(ErrorCode::Muted, seconds_left(until, now)));
        }
        let Some(room) = room else { return Ok(()) };
        let Some(rules) = self.state().rules.get(room).cloned() else { return Ok(()) };
        if (!rules.locked && rules.slow_secs == 0) || self.moderates(speaker, room) {
            return Ok(());
        }
        if rules.locked {
            return Err(ChatError::new(ErrorCode::RoomLocked));
        }
        let wait = i64::from(rules.slow_secs) * 1000;
        let mut last_post = self.last_post.lock().unwrap_or_else(|p| p.into_inner());
        let last = last_post.entry((room.to_owned(), key.as_str().to_owned())).or_insert(i64::MIN);
        if last.saturating_add(wait) > now {
            return Err(ChatError::with_limit(ErrorCode::SlowMode, seconds_left(*last + wait, now)));
        }
        *last = now;
        Ok(())
    }

    /// Whether `speaker` may type in `room` (None: `general`): not muted there.
    pub fn may_type(&self, speaker: &Speaker, room: Option<&str>) -> bool {
        let room = room.unwrap_or(GENERAL);
        self.muted_until(speaker.nickname.key().as_str(), Some(room), now_ms()).is_none()
    }

    /// Until when the nickname with this key is banned, if it is.
    pub fn banned(&self, key: &str) -> Option<i64> {
        self.ban_of(key).map(|p| p.until)
    }

    /// Whether any nickname is banned now (the 2 s enforcement has nothing to do otherwise).
    fn any_ban(&self) -> bool {
        !self.state().bans.is_empty()
    }

    /// Refuses a banned nickname (`banned`, with the seconds left).
    pub fn refuse_banned(&self, nick: &chat_shared::Nickname) -> Result<(), ChatError> {
        match self.banned(nick.key().as_str()) {
            Some(until) => Err(ChatError::with_limit(ErrorCode::Banned, seconds_left(until, now_ms()))),
            None => Ok(()),
        }
    }

    /// Whether this address (its key, see `client_addr::address_key`) is banned.
    pub fn address_banned(&self, address: &str) -> bool {
        self.address_ban(address).is_some()
    }

    /// The ban of this address (its key), if it is banned now: the penalty of the nickname it
    /// was banned with.
    pub fn address_ban(&self, address: &str) -> Option<Penalty> {
        let now = now_ms();
        let state = self.state();
        let (key, until) = state.address_bans.get(address).filter(|(_, until)| *until > now)?;
        let penalty = state.bans.get(key).cloned();
        Some(penalty.unwrap_or_else(|| Penalty {
            nickname: key.clone(),
            until: *until,
            reason: String::new(),
            by: String::new(),
            address: true,
        }))
    }

    /// The addresses banned now (their keys, see `client_addr::address_key`).
    pub fn banned_addresses(&self) -> Vec<std::net::IpAddr> {
        let now = now_ms();
        let state = self.state();
        let banned = state.address_bans.iter().filter(|(_, (_, until))| *until > now);
        banned.filter_map(|(address, _)| address.parse().ok()).collect()
    }

    /// Refuses a claim (`nickname`, `resume`) from a banned address: a connection opened before
    /// its address was banned is closed at the next enforcement, and must not name itself
    /// meanwhile.
    pub fn refuse_banned_address(&self, address: Option<std::net::IpAddr>) -> Result<(), ChatError> {
        let Some(address) = address else { return Ok(()) };
        match self.address_ban(&crate::client_addr::address_key(address).to_string()) {
            Some(penalty) => {
                Err(ChatError::with_limit(ErrorCode::Banned, seconds_left(penalty.until, now_ms())))
            }
            None => Ok(()),
        }
    }

    /// The bans that ban an address too, which no address was recorded for yet (the instance
    /// that holds the nickname records it): (nickname key, penalty).
    fn address_bans_pending(&self) -> Vec<(String, Penalty)> {
        let state = self.state();
        let recorded: HashSet<&str> = state.address_bans.values().map(|(key, _)| key.as_str()).collect();
        state
            .bans
            .iter()
            .filter(|(key, p)| p.address && !recorded.contains(key.as_str()))
            .map(|(key, p)| (key.clone(), p.clone()))
            .collect()
    }

    /// The addresses banned along with the nickname with this key.
    fn addresses_banned_with(&self, key: &str) -> Vec<String> {
        let state = self.state();
        state.address_bans.iter().filter(|(_, (by, _))| by == key).map(|(a, _)| a.clone()).collect()
    }

    /// The nicknames banned now, with their bans.
    pub fn bans(&self) -> Vec<Penalty> {
        let now = now_ms();
        self.state().bans.values().filter(|p| p.until > now).cloned().collect()
    }

    /// The ban of the nickname with this key, if it is banned now.
    pub fn ban_of(&self, key: &str) -> Option<Penalty> {
        let now = now_ms();
        self.state().bans.get(key).filter(|p| p.until > now).cloned()
    }

    /// The ids of lines deleted lately in the history with this key.
    pub fn deleted(&self, history_key: &str) -> Vec<u64> {
        self.state().deleted.get(history_key).cloned().unwrap_or_default()
    }

    /// A room's topic as a moderator set it (None: the one it was created with).
    pub fn topic(&self, room: &str) -> Option<String> {
        self.state().rules.get(room).and_then(|r| r.topic.clone())
    }

    fn rules(&self, room: &str) -> Rules {
        self.state().rules.get(room).cloned().unwrap_or_default()
    }

    /// The ids of the reports marked closed.
    fn closed_reports(&self) -> Vec<u64> {
        self.state().closed_reports.iter().copied().collect()
    }

    fn report_closed(&self, id: u64) -> bool {
        self.state().closed_reports.contains(&id)
    }

    /// Who has which role, and the rooms' rules (for `roles`); `current`: whether a role's
    /// ownership still lasts (a later owner of the name has none).
    pub fn roles(&self, current: impl Fn(&Role) -> bool) -> Roles {
        let state = self.state();
        let mut moderators: Vec<String> =
            state.moderators.values().filter(|r| current(r)).map(|r| r.nickname.clone()).collect();
        moderators.sort();
        let mut rooms: BTreeMap<&str, RoomRoles> = BTreeMap::new();
        for (room, (_, owner)) in state.owners.iter().filter(|(_, (_, r))| current(r)) {
            let entry =
                rooms.entry(room).or_insert_with(|| RoomRoles { room: room.clone(), ..Default::default() });
            entry.owner = Some(owner.nickname.clone());
        }
        for (room, named) in &state.room_moderators {
            let mut names: Vec<String> =
                named.values().filter(|r| current(r)).map(|r| r.nickname.clone()).collect();
            if names.is_empty() {
                continue;
            }
            names.sort();
            let entry =
                rooms.entry(room).or_insert_with(|| RoomRoles { room: room.clone(), ..Default::default() });
            entry.moderators = names;
        }
        let mut rules: Vec<RoomRules> = state
            .rules
            .iter()
            .map(|(room, r)| RoomRules {
                room: room.clone(),
                slow_secs: r.slow_secs,
                locked: r.locked,
                topic: r.topic.clone().unwrap_or_default(),
            })
            .collect();
        rules.sort_by(|a, b| a.room.cmp(&b.room));
        Roles { moderators, rooms: rooms.into_values().collect(), rules }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Tenure;
    use chat_shared::Nickname;

    fn speaker(name: &str, tenure: &str, owned: bool) -> Speaker {
        Speaker { nickname: Nickname::parse(name).unwrap(), tenure: Tenure::stored(tenure), owned }
    }

    /// A record about the nickname `target` (by its key; empty: none).
    fn record(kind: Kind, scope: &str, target: &str, value: impl Serialize) -> Record {
        let key = match target {
            "" => String::new(),
            name => Nickname::parse(name).unwrap().key().as_str().to_owned(),
        };
        Record {
            kind,
            scope: scope.into(),
            target: key,
            value: serde_json::to_string(&value).unwrap(),
            expires_at: None,
        }
    }

    #[test]
    fn mutes_are_capped_chat_wide_per_room_and_in_all_rooms() {
        let mute = |scope: &str, who: String| {
            let penalty = Penalty {
                nickname: who.clone(),
                until: i64::MAX,
                reason: String::new(),
                by: "Mo".into(),
                address: false,
            };
            record(Kind::Mute, scope, &who, penalty)
        };
        let mut full_room: Vec<Record> = (0..ROOM_MUTES_MAX).map(|i| mute("den", format!("g{i}"))).collect();
        full_room.push(mute(EVERYWHERE, "Loud".into()));
        let m = moderation(full_room);
        assert_eq!(m.mute_cap_reached("den"), Some(ROOM_MUTES_MAX));
        let key = |name: &str| Nickname::parse(name).unwrap().key().as_str().to_owned();
        assert!(m.mute_stands("den", &key("g7")), "renewing a mute in the room passes the cap");
        assert!(!m.mute_stands("den", &key("Loud")), "a chat-wide mute is not one in the room");
        assert_eq!(m.mute_cap_reached("nook"), None);
        assert_eq!(m.mute_cap_reached(EVERYWHERE), None);
        let rooms = ROOM_MUTES_TOTAL_MAX / (ROOM_MUTES_MAX - 1) + 1;
        let spread: Vec<Record> =
            (0..ROOM_MUTES_TOTAL_MAX).map(|i| mute(&format!("r{}", i % rooms), format!("g{i}"))).collect();
        let m = moderation(spread);
        assert_eq!(m.mute_cap_reached("nook"), Some(ROOM_MUTES_TOTAL_MAX), "every room's mutes count");
        assert_eq!(m.mute_cap_reached(EVERYWHERE), None, "chat-wide mutes have their own cap");
        let chat_wide: Vec<Record> = (0..SANCTIONS_MAX).map(|i| mute(EVERYWHERE, format!("g{i}"))).collect();
        let m = moderation(chat_wide);
        assert_eq!(m.mute_cap_reached(EVERYWHERE), Some(SANCTIONS_MAX));
        assert_eq!(m.mute_cap_reached("den"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_refreshes_shares_reloads_and_each_sees_what_was_stored_before() {
        let store = Store::open_sqlite(std::path::Path::new(":memory:")).unwrap();
        let m = std::sync::Arc::new(Moderation::new(store));
        let burst: Vec<_> = (0..50)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move { m.refresh().await })
            })
            .collect();
        for request in burst {
            request.await.unwrap().unwrap();
        }
        let reloads = m.reloads.load(Ordering::Relaxed);
        assert!(reloads < 10, "50 requests at once cost {reloads} reloads");
        let penalty = Penalty {
            nickname: "Bo".into(),
            until: i64::MAX,
            reason: String::new(),
            by: "Mo".into(),
            address: false,
        };
        m.store.put(record(Kind::Mute, EVERYWHERE, "Bo", &penalty)).await.unwrap();
        m.refresh().await.unwrap();
        assert!(m.muted_until(Nickname::parse("Bo").unwrap().key().as_str(), None, now_ms()).is_some());
    }

    fn moderation(records: Vec<Record>) -> Moderation {
        let m = Moderation::new(Store::Sqlite(std::sync::Arc::new(Mutex::new(
            rusqlite::Connection::open_in_memory().unwrap(),
        ))));
        *m.state.write().unwrap() =
            State::read(records, vec![(1, "rust\n7".into()), (2, "general\n9".into())]);
        m
    }

    #[test]
    fn roles_belong_to_the_ownership_they_were_granted_to() {
        let role = Role { nickname: "Mo".into(), tenure: "t1".into() };
        let m = moderation(vec![record(Kind::Moderator, EVERYWHERE, "Mo", &role)]);
        assert!(m.is_moderator(&speaker("Mo", "t1", true)));
        assert!(!m.is_moderator(&speaker("Mo", "t2", true)), "a later owner of the name");
        assert!(!m.is_moderator(&speaker("Mo", "t1", false)), "an ephemeral holder");
        assert!(m.moderates(&speaker("Mo", "t1", true), "anything"));
        assert!(m.moderator_role(Nickname::parse("Mo").unwrap().key().as_str()).is_some());
        assert_eq!(m.deleted("rust"), vec![7]);
        assert_eq!(m.roles(|_| true).moderators, vec!["Mo".to_owned()]);
        assert!(m.roles(|r| r.tenure != "t1").moderators.is_empty(), "a role whose ownership ended");
    }

    #[test]
    fn a_mute_or_ban_past_its_time_holds_nothing() {
        let past = now_ms() - 1;
        let penalty = Penalty {
            nickname: "Bo".into(),
            until: past,
            reason: String::new(),
            by: "Mo".into(),
            address: false,
        };
        let m = moderation(vec![
            record(Kind::Mute, EVERYWHERE, "Bo", &penalty),
            record(Kind::Ban, EVERYWHERE, "Bo", &penalty),
        ]);
        let bo = speaker("Bo", "tb", false);
        assert!(m.may_post(&bo, &Channel::General).is_ok() && m.may_type(&bo, None));
        assert!(m.refuse_banned(&bo.nickname).is_ok());
    }

    /// Until an instance's next sweep closes a banned address's connections (in a cluster, up to
    /// 2 s), `nickname` and `resume` from that address are refused by this check.
    #[test]
    fn a_banned_address_is_refused_a_name_until_its_ban_ends_and_its_neighbours_are_not() {
        let ban = |until: i64| Record {
            kind: Kind::AddressBan,
            scope: "troll".into(),
            target: "10.0.0.9".into(),
            value: String::new(),
            expires_at: Some(until),
        };
        let troll = "10.0.0.9".parse().ok();
        let m = moderation(vec![ban(now_ms() + 60_000)]);
        let refused = m.refuse_banned_address(troll).err().map(|e| (e.code, e.limit.is_some()));
        assert_eq!(refused, Some((ErrorCode::Banned, true)), "with the seconds left");
        assert!(m.refuse_banned_address("10.0.0.10".parse().ok()).is_ok(), "the next address");
        assert!(m.refuse_banned_address(None).is_ok(), "no address known (a test socket)");
        let v6 = moderation(vec![Record { target: "2001:db8:1:2::".into(), ..ban(now_ms() + 60_000) }]);
        assert!(v6.refuse_banned_address("2001:db8:1:2:ffff::1".parse().ok()).is_err(), "the same /64");
        assert!(v6.refuse_banned_address("2001:db8:1:3::1".parse().ok()).is_ok(), "another /64");
        assert!(moderation(vec![ban(now_ms() - 1)]).refuse_banned_address(troll).is_ok(), "ended");
    }

    #[test]
    fn mutes_locks_and_slow_mode_refuse_posts_but_not_the_rooms_moderators() {
        let far = now_ms() + 60_000;
        let penalty = Penalty {
            nickname: "Bo".into(),
            until: far,
            reason: "r".into(),
            by: "Mo".into(),
            address: false,
        };
        let owner = Role { nickname: "Ana".into(), tenure: "ta".into() };
        let m = moderation(vec![
            record(Kind::Mute, "rust", "Bo", &penalty),
            record(Kind::RoomOwner, "rust", "Ana", &owner),
            record(Kind::Rules, "slow", "", Rules { slow_secs: 30, locked: false, topic: None }),
            record(Kind::Rules, "quiet", "", Rules { slow_secs: 0, locked: true, topic: None }),
        ]);
        let room = |name: &str| Channel::Room(chat_shared::RoomName::parse(name).unwrap());
        let bo = speaker("Bo", "tb", false);
        let code = |r: Result<(), ChatError>| r.err().map(|e| e.code);
        assert_eq!(code(m.may_post(&bo, &room("rust"))), Some(ErrorCode::Muted));
        assert_eq!(code(m.may_post(&bo, &Channel::General)), None, "muted in one room only");
        assert!(!m.may_type(&bo, Some("rust")) && m.may_type(&bo, None));
        assert_eq!(code(m.may_post(&bo, &room("quiet"))), Some(ErrorCode::RoomLocked));
        assert_eq!(code(m.may_post(&bo, &room("slow"))), None);
        assert_eq!(code(m.may_post(&bo, &room("slow"))), Some(ErrorCode::SlowMode));
        let ana = speaker("Ana", "ta", true);
        assert!(m.owns_room(&ana, "rust") && !m.owns_room(&ana, "slow"));
        assert_eq!(code(m.may_post(&ana, &room("rust"))), None);
    }
}
