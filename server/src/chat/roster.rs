//! Who is online: the nicknames in use, unique by `NicknameKey`, each held by one connection
//! or, for a grace period after a dropped connection, reserved for its owner's resume token.
//! The roster is the truth of who speaks as a nickname: a connection acts as one only while
//! the roster says it holds it ([`Roster::holds`]), and a resume moves the nickname and its
//! token in one step, telling the caller whom it took it from. It also knows which nicknames
//! are owned (kept for their owner's secret while unused, for the reservation time): only the
//! owner claims those, and a claim by the owner takes the nickname from whatever connection
//! held it (another tab of the same person), in the same step.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chat_shared::protocol::Nicknames;
use chat_shared::{ChatError, ErrorCode, Nickname, NicknameKey};
use socketioxide::socket::Sid;

use super::credentials::{OwnerHash, Tenure, TokenHash};
use super::session::Speaker;

/// Who holds a nickname now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Connected(Sid),
    /// Dropped; `generation` tells this absence from a later one when its grace timer fires.
    Away {
        generation: u64,
    },
}

/// A nickname as this instance holds it, with what resumes and scopes it.
#[derive(Debug, Clone)]
pub struct Held {
    pub nickname: Nickname,
    pub token: TokenHash,
    pub tenure: Tenure,
}

impl Held {
    /// Who a connection speaks as while it holds this (`owned`: as its owner).
    pub fn speaker(&self, owned: bool) -> Speaker {
        Speaker { nickname: self.nickname.clone(), tenure: self.tenure.clone(), owned }
    }
}

struct Entry {
    held: Held,
    holder: Holder,
}

/// An owned nickname: who owns it (the hash of their secret), the tenure every hold of its
/// owner shares (so that a line resent from another tab or after a reload is still recognised),
/// and until when it stays reserved if unused (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub nickname: Nickname,
    pub owner: OwnerHash,
    pub tenure: Tenure,
    pub expires_at: i64,
}

/// A claim as an owner that succeeded.
#[derive(Debug)]
pub struct OwnedClaim {
    /// What the connection holds now.
    pub held: Held,
    /// The ownership to record.
    pub owned: Owned,
    /// The connection it was taken from (the same owner's other tab), if any.
    pub taken_from: Option<Sid>,
    /// The nickname this owner owned before, which is free now (one owned nickname per owner).
    pub released: Option<Owned>,
    /// Someone held it already (its owner, in another tab or away for the grace period):
    /// nobody arrived.
    pub was_online: bool,
}

/// A resume that succeeded: what is held now (under the new token), and the connection it
/// was taken from (if another one of this instance still held it).
#[derive(Debug)]
pub struct Resumed {
    pub held: Held,
    pub taken_from: Option<Sid>,
}

#[derive(Default)]
pub struct Roster {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    names: HashMap<NicknameKey, Entry>,
    /// Which nickname each token resumes.
    tokens: HashMap<TokenHash, NicknameKey>,
    /// The owned nicknames, and which one each owner owns.
    owners: HashMap<NicknameKey, Owned>,
    owned_by: HashMap<OwnerHash, NicknameKey>,
    generations: u64,
}

impl Inner {
    /// Puts `held` in, held by `holder`; returns the connection that held it before, if
    /// another one did.
    fn insert(&mut self, held: Held, holder: Holder) -> Option<Sid> {
        let key = held.nickname.key();
        let before = self.remove(&key);
        if !held.token.is_empty() {
            self.tokens.insert(held.token.clone(), key.clone());
        }
        self.names.insert(key, Entry { held, holder });
        match before {
            Some(Holder::Connected(sid)) if holder != Holder::Connected(sid) => Some(sid),
            _ => None,
        }
    }

    fn remove(&mut self, key: &NicknameKey) -> Option<Holder> {
        let entry = self.names.remove(key)?;
        self.tokens.remove(&entry.held.token);
        Some(entry.holder)
    }

    /// The ownership of `key`, if it is still reserved at `now` (or held: a connection can
    /// outlast the reservation time). An expired one is forgotten.
    fn owned(&mut self, key: &NicknameKey, now: i64) -> Option<&Owned> {
        let expired =
            self.owners.get(key).is_some_and(|o| o.expires_at <= now && !self.names.contains_key(key));
        if expired {
            self.disown(key);
        }
        self.owners.get(key)
    }

    fn own(&mut self, owned: Owned) {
        let key = owned.nickname.key();
        self.disown(&key);
        self.owned_by.insert(owned.owner.clone(), key.clone());
        self.owners.insert(key, owned);
    }

    fn disown(&mut self, key: &NicknameKey) -> Option<Owned> {
        let owned = self.owners.remove(key)?;
        if self.owned_by.get(&owned.owner) == Some(key) {
            self.owned_by.remove(&owned.owner);
        }
        Some(owned)
    }
}

impl Roster {
    /// Takes the nickname for `sid` if nobody (in any case or width) has, reserves or owns it.
    pub fn claim(&self, held: Held, sid: Sid, now: i64) -> Result<(), ChatError> {
        let mut inner = self.lock();
        let key = held.nickname.key();
        // Owned first (also while its owner holds it): the same answer as in a cluster.
        if inner.owned(&key, now).is_some() {
            return Err(ChatError::new(ErrorCode::NicknameOwned));
        }
        if inner.names.contains_key(&key) {
            return Err(ChatError::new(ErrorCode::NicknameTaken));
        }
        inner.insert(held, Holder::Connected(sid));
        Ok(())
    }

    /// `sid` claims `held.nickname` as the owner whose secret hashes to `owner`. Its own
    /// nickname: taken from whatever connection held it, with the ownership's tenure. A free
    /// one: owned from now on (and the owner's previous one, if any, is free). Someone else's,
    /// or held by someone without ownership: refused. The reservation runs until `expires_at`.
    pub fn claim_owned(
        &self,
        held: Held,
        owner: OwnerHash,
        sid: Sid,
        now: i64,
        expires_at: i64,
    ) -> Result<OwnedClaim, ChatError> {
        let mut inner = self.lock();
        let key = held.nickname.key();
        let ownership = inner.owned(&key, now).map(|o| (o.owner == owner, o.tenure.clone()));
        let (held, released) = match ownership {
            Some((false, _)) => return Err(ChatError::new(ErrorCode::NicknameOwned)),
            Some((true, tenure)) => (Held { tenure, ..held }, None),
            None if inner.names.contains_key(&key) => return Err(ChatError::new(ErrorCode::NicknameTaken)),
            None => {
                let before = inner.owned_by.get(&owner).cloned();
                (held, before.and_then(|k| inner.disown(&k)))
            }
        };
        let owned = Owned { nickname: held.nickname.clone(), owner, tenure: held.tenure.clone(), expires_at };
        inner.own(owned.clone());
        let was_online = inner.names.contains_key(&key);
        let taken_from = inner.insert(held.clone(), Holder::Connected(sid));
        Ok(OwnedClaim { held, owned, taken_from, released, was_online })
    }

    /// `nick`'s ownership, if it is owned (and its reservation runs at `now`): its tenure, and
    /// the name as its owner spells it.
    pub fn ownership(&self, nick: &Nickname, now: i64) -> Option<(Tenure, String)> {
        self.lock().owned(&nick.key(), now).map(|o| (o.tenure.clone(), o.nickname.to_string()))
    }

    /// Whether the owner whose secret hashes to `owner` owns a nickname.
    pub fn owns_any(&self, owner: &OwnerHash) -> bool {
        self.lock().owned_by.contains_key(owner)
    }

    /// Puts back an ownership found in the store at start.
    pub fn restore_owned(&self, owned: Owned) {
        self.lock().own(owned);
    }

    /// The nickname is in use now: if it is owned, its reservation runs until `expires_at`
    /// (what to record, if so).
    pub fn touch_owned(&self, nick: &Nickname, expires_at: i64) -> Option<Owned> {
        let mut inner = self.lock();
        let owned = inner.owners.get_mut(&nick.key())?;
        owned.expires_at = expires_at;
        Some(owned.clone())
    }

    /// `sid` gives up `nick` and its ownership ("forget me"). What it held, if it held it.
    pub fn forget_owned(&self, nick: &Nickname, sid: Sid) -> Option<(Held, Option<Owned>)> {
        let mut inner = self.lock();
        let key = nick.key();
        if !inner.names.get(&key).is_some_and(|e| e.holder == Holder::Connected(sid)) {
            return None;
        }
        let entry = inner.names.remove(&key)?;
        inner.tokens.remove(&entry.held.token);
        Some((entry.held, inner.disown(&key)))
    }

    /// Puts back a reservation found in the store at start: away until its owner resumes.
    pub fn restore(&self, held: Held) -> u64 {
        let mut inner = self.lock();
        inner.generations += 1;
        let generation = inner.generations;
        inner.insert(held, Holder::Away { generation });
        generation
    }

    /// `sid` resumes with the token hashed `presented`: it now holds that nickname, under the
    /// new token `next` (the presented one stops working), taking it from the connection that
    /// held it, if any (another tab; or one the server has not yet seen die).
    pub fn resume(&self, presented: &TokenHash, next: TokenHash, sid: Sid) -> Result<Resumed, ChatError> {
        let mut inner = self.lock();
        let invalid = || ChatError::new(ErrorCode::ResumeInvalid);
        if presented.is_empty() {
            return Err(invalid());
        }
        let key = inner.tokens.get(presented).cloned().ok_or_else(invalid)?;
        let entry = inner.names.get(&key).ok_or_else(invalid)?;
        let held = Held { token: next, ..entry.held.clone() };
        let taken_from = inner.insert(held.clone(), Holder::Connected(sid));
        Ok(Resumed { held, taken_from })
    }

    /// `sid` now holds `held` (the cluster granted it: a claim, or a resume from another
    /// instance), whatever this instance remembered of it; returns the connection of this
    /// instance that held it before, if another one did.
    pub fn adopt(&self, held: Held, sid: Sid) -> Option<Sid> {
        self.lock().insert(held, Holder::Connected(sid))
    }

    /// Whether `sid` holds `nick` now: the check before acting as a nickname.
    pub fn holds(&self, nick: &Nickname, sid: Sid) -> bool {
        self.lock().names.get(&nick.key()).is_some_and(|e| e.holder == Holder::Connected(sid))
    }

    /// The connection of this instance that holds `nick` now, if one does.
    pub fn connection(&self, nick: &Nickname) -> Option<Sid> {
        match self.lock().names.get(&nick.key())?.holder {
            Holder::Connected(sid) => Some(sid),
            Holder::Away { .. } => None,
        }
    }

    /// Every nickname this instance holds (connected or away).
    pub fn held(&self) -> Vec<Held> {
        self.lock().names.values().map(|e| e.held.clone()).collect()
    }

    /// Forgets the nickname with key `key` if it is held under the token hashed `token` (its
    /// owner resumed on another instance with it); its holder is returned.
    pub fn forget(&self, key: &str, token: &TokenHash) -> Option<Holder> {
        let mut inner = self.lock();
        let found = inner.names.iter().find(|(k, e)| k.as_str() == key && e.held.token == *token)?.0.clone();
        inner.remove(&found)
    }

    /// `sid` dropped: its nickname stays reserved. Returns the generation to expire it with
    /// and what to record, if `sid` held it.
    pub fn set_away(&self, nick: &Nickname, sid: Sid) -> Option<(u64, Held)> {
        let mut inner = self.lock();
        inner.generations += 1;
        let generation = inner.generations;
        let entry = inner.names.get_mut(&nick.key())?;
        (entry.holder == Holder::Connected(sid)).then(|| {
            entry.holder = Holder::Away { generation };
            (generation, entry.held.clone())
        })
    }

    /// Frees the nickname if `sid` still holds it (a deliberate leave). What it held, if so.
    pub fn release(&self, nick: &Nickname, sid: Sid) -> Option<Held> {
        self.release_if(nick, |h| h == Holder::Connected(sid))
    }

    /// Frees the nickname if it is still away since `generation` (its grace ended).
    pub fn expire(&self, nick: &Nickname, generation: u64) -> Option<Held> {
        self.release_if(nick, |h| h == Holder::Away { generation })
    }

    fn release_if(&self, nick: &Nickname, holds: impl Fn(Holder) -> bool) -> Option<Held> {
        let mut inner = self.lock();
        let key = nick.key();
        if !inner.names.get(&key).is_some_and(|e| holds(e.holder)) {
            return None;
        }
        let entry = inner.names.remove(&key)?;
        inner.tokens.remove(&entry.held.token);
        Some(entry.held)
    }

    /// The `nicknames` payload: every name mapped to itself (reserved ones included: their
    /// owners are expected back).
    pub fn snapshot(&self) -> Nicknames {
        self.lock()
            .names
            .values()
            .map(|e| (e.held.nickname.to_string(), e.held.nickname.to_string()))
            .collect()
    }

    /// How many nicknames are in use (held, or reserved for an owner who dropped).
    pub fn len(&self) -> usize {
        self.lock().names.len()
    }

    /// How many nicknames are held by a connection, and how many are reserved for an owner
    /// who dropped.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        let away = inner.names.values().filter(|e| matches!(e.holder, Holder::Away { .. })).count();
        (inner.names.len() - away, away)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each operation is a few inserts, updates or removes: a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::credentials::Token;

    fn held(name: &str) -> (String, Held) {
        let (token, hash) = Token::issue().expect("randomness");
        let nickname = Nickname::parse(name).expect("a nickname");
        (token.reveal(), Held { nickname, token: hash, tenure: Tenure::new() })
    }

    #[test]
    fn a_resume_moves_the_nickname_and_replaces_its_token() {
        let roster = Roster::default();
        let (a, b) = (Sid::new(), Sid::new());
        let (token, ana) = held("Ana");
        roster.claim(ana.clone(), a, 0).expect("free");
        assert!(roster.holds(&ana.nickname, a));
        let (next, next_hash) = Token::issue().expect("randomness");
        let resumed = roster.resume(&Token::presented(&token), next_hash, b).expect("a valid token");
        assert_eq!(resumed.taken_from, Some(a), "the old connection is named to be told");
        assert_eq!(resumed.held.tenure, ana.tenure, "a resume keeps the tenure");
        assert!(roster.holds(&ana.nickname, b));
        assert!(!roster.holds(&ana.nickname, a), "one holder at a time");
        let c = Sid::new();
        let again = roster.resume(&Token::presented(&token), TokenHash::default(), c);
        assert_eq!(
            again.map(|r| r.held.nickname),
            Err(ChatError::new(ErrorCode::ResumeInvalid)),
            "old token"
        );
        assert!(roster.release(&ana.nickname, a).is_none(), "the old holder cannot free it");
        assert!(roster.release(&ana.nickname, b).is_some());
        let (_, ana2) = held("ana");
        roster.claim(ana2.clone(), c, 0).expect("free again");
        assert_ne!(ana2.tenure, ana.tenure, "a new holder, a new tenure");
        let stale = roster.resume(&Token::presented(&next.reveal()), TokenHash::default(), a);
        assert!(stale.is_err(), "the released token is gone");
    }

    #[test]
    fn resuming_ones_own_connection_takes_from_nobody() {
        let roster = Roster::default();
        let a = Sid::new();
        let (token, ana) = held("Ana");
        roster.claim(ana.clone(), a, 0).expect("free");
        let generation = roster.set_away(&ana.nickname, a).expect("held").0;
        let (_, next) = Token::issue().expect("randomness");
        let resumed = roster.resume(&Token::presented(&token), next, a).expect("valid");
        assert_eq!(resumed.taken_from, None);
        assert!(roster.expire(&ana.nickname, generation).is_none(), "back before the grace ended");
    }

    #[test]
    fn an_owned_nickname_is_its_owners_only() {
        let roster = Roster::default();
        let (a, b, c) = (Sid::new(), Sid::new(), Sid::new());
        let (_, owner) = OwnerHash::issue().expect("randomness");
        let (_, stranger) = OwnerHash::issue().expect("randomness");
        let (_, ana) = held("Ana");
        let first = roster.claim_owned(ana.clone(), owner.clone(), a, 0, 100).expect("free");
        assert_eq!((first.taken_from, first.released, first.was_online), (None, None, false));
        let (_, copy) = held("ana");
        let while_held = roster.claim(copy, b, 0).map_err(|e| e.code);
        assert_eq!(while_held, Err(ErrorCode::NicknameOwned), "owned, also while held (as in a cluster)");
        // Its holder leaves: the name stays owned.
        assert!(roster.release(&ana.nickname, a).is_some());
        let (_, again) = held("ANA");
        let refused = |r: Result<(), ChatError>| r.map_err(|e| e.code);
        assert_eq!(refused(roster.claim(again.clone(), b, 50)), Err(ErrorCode::NicknameOwned));
        let other = roster.claim_owned(again.clone(), stranger.clone(), b, 50, 150).map(|c| c.held);
        assert_eq!(other.map_err(|e| e.code).err(), Some(ErrorCode::NicknameOwned));
        // The owner comes back (another tab holds it: it is taken from it), with its tenure.
        let back = roster.claim_owned(again.clone(), owner.clone(), b, 50, 150).expect("its owner");
        assert_eq!(back.held.tenure, ana.tenure, "one tenure for every hold of its owner");
        let tab = roster.claim_owned(again.clone(), owner.clone(), c, 60, 160).expect("another tab");
        assert_eq!((tab.taken_from, tab.was_online), (Some(b), true));
        assert!(roster.holds(&again.nickname, c) && !roster.holds(&again.nickname, b));
        // Forgotten: free for anyone.
        let (gone, owned) = roster.forget_owned(&again.nickname, c).expect("held by c");
        assert_eq!((gone.nickname.as_str(), owned.map(|o| o.owner == owner)), ("ANA", Some(true)));
        roster.claim(again.clone(), a, 70).expect("free after forget me");
    }

    #[test]
    fn an_ownership_lapses_and_moves_with_its_owner() {
        let roster = Roster::default();
        let a = Sid::new();
        let (_, owner) = OwnerHash::issue().expect("randomness");
        let (_, ana) = held("Ana");
        roster.claim_owned(ana.clone(), owner.clone(), a, 0, 100).expect("free");
        roster.release(&ana.nickname, a);
        assert!(roster.claim(ana.clone(), a, 99).is_err(), "reserved until 100");
        roster.claim(ana.clone(), a, 100).expect("lapsed");
        roster.release(&ana.nickname, a);
        // One owned nickname per owner: owning Bo frees Ana.
        roster.claim_owned(ana.clone(), owner.clone(), a, 0, 100).expect("free");
        roster.release(&ana.nickname, a);
        let (_, bo) = held("Bo");
        let moved = roster.claim_owned(bo, owner, a, 10, 110).expect("free");
        assert_eq!(moved.released.map(|o| o.nickname.to_string()), Some("Ana".into()));
        roster.claim(ana, Sid::new(), 10).expect("Ana is free again");
    }
}
