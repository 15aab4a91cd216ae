//! Who is online: the nicknames in use, unique by `NicknameKey`, each held by one connection
//! or, for a grace period after a dropped connection, reserved for its owner's resume token.
//! The roster is the truth of who speaks as a nickname: a connection acts as one only while
//! the roster says it holds it ([`Roster::holds`]), and a resume moves the nickname and its
//! token in one step, telling the caller whom it took it from.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chat_shared::protocol::Nicknames;
use chat_shared::{ChatError, ErrorCode, Nickname, NicknameKey};
use socketioxide::socket::Sid;

use super::credentials::{Tenure, TokenHash};
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
    /// Who a connection speaks as while it holds this.
    pub fn speaker(&self) -> Speaker {
        Speaker { nickname: self.nickname.clone(), tenure: self.tenure.clone() }
    }
}

struct Entry {
    held: Held,
    holder: Holder,
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
}

impl Roster {
    /// Takes the nickname for `sid` if nobody (in any case or width) has or reserves it.
    pub fn claim(&self, held: Held, sid: Sid) -> Result<(), ChatError> {
        let mut inner = self.lock();
        if inner.names.contains_key(&held.nickname.key()) {
            return Err(ChatError::new(ErrorCode::NicknameTaken));
        }
        inner.insert(held, Holder::Connected(sid));
        Ok(())
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
        roster.claim(ana.clone(), a).expect("free");
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
        roster.claim(ana2.clone(), c).expect("free again");
        assert_ne!(ana2.tenure, ana.tenure, "a new holder, a new tenure");
        let stale = roster.resume(&Token::presented(&next.reveal()), TokenHash::default(), a);
        assert!(stale.is_err(), "the released token is gone");
    }

    #[test]
    fn resuming_ones_own_connection_takes_from_nobody() {
        let roster = Roster::default();
        let a = Sid::new();
        let (token, ana) = held("Ana");
        roster.claim(ana.clone(), a).expect("free");
        let generation = roster.set_away(&ana.nickname, a).expect("held").0;
        let (_, next) = Token::issue().expect("randomness");
        let resumed = roster.resume(&Token::presented(&token), next, a).expect("valid");
        assert_eq!(resumed.taken_from, None);
        assert!(roster.expire(&ana.nickname, generation).is_none(), "back before the grace ended");
    }
}
