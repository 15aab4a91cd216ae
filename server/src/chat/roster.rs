//! Who is online: the nicknames in use, unique by `NicknameKey`, each held by a connection or,
//! for a grace period after a dropped connection, reserved for its owner's resume token.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chat_shared::protocol::Nicknames;
use chat_shared::{ChatError, ErrorCode, Nickname, NicknameKey};
use socketioxide::socket::Sid;

/// Who holds a nickname now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Connected(Sid),
    /// Dropped; `generation` tells this absence from a later one when its grace timer fires.
    Away {
        generation: u64,
    },
}

struct Entry {
    nickname: Nickname,
    token: String,
    holder: Holder,
}

#[derive(Default)]
pub struct Roster {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    names: HashMap<NicknameKey, Entry>,
    generations: u64,
}

impl Roster {
    /// Takes the nickname for `sid` if nobody (in any case or width) has or reserves it.
    pub fn claim(&self, nick: &Nickname, sid: Sid, token: String) -> Result<(), ChatError> {
        let mut inner = self.lock();
        let key = nick.key();
        if inner.names.contains_key(&key) {
            return Err(ChatError::new(ErrorCode::NicknameTaken));
        }
        inner.names.insert(key, Entry { nickname: nick.clone(), token, holder: Holder::Connected(sid) });
        Ok(())
    }

    /// Puts back a reservation found in the store at start: away until its owner resumes.
    pub fn restore(&self, nick: Nickname, token: String) -> u64 {
        let mut inner = self.lock();
        inner.generations += 1;
        let generation = inner.generations;
        inner.names.insert(nick.key(), Entry { nickname: nick, token, holder: Holder::Away { generation } });
        generation
    }

    /// `sid` resumes with `token`: it now holds that nickname (taking it over from a connection
    /// the server has not yet seen die, if need be).
    pub fn resume(&self, token: &str, sid: Sid) -> Result<Nickname, ChatError> {
        let mut inner = self.lock();
        let entry = inner
            .names
            .values_mut()
            .find(|e| !token.is_empty() && e.token == token)
            .ok_or_else(|| ChatError::new(ErrorCode::ResumeInvalid))?;
        entry.holder = Holder::Connected(sid);
        Ok(entry.nickname.clone())
    }

    /// `sid` now holds `nick` (the cluster granted it: a claim, or a resume from another
    /// instance), whatever this instance remembered of it.
    pub fn adopt(&self, nick: &Nickname, sid: Sid, token: String) {
        let entry = Entry { nickname: nick.clone(), token, holder: Holder::Connected(sid) };
        self.lock().names.insert(nick.key(), entry);
    }

    /// Every nickname this instance holds (connected or away), with its resume token.
    pub fn held(&self) -> Vec<(Nickname, String)> {
        self.lock().names.values().map(|e| (e.nickname.clone(), e.token.clone())).collect()
    }

    /// Forgets the nickname with key `key` (its owner resumed on another instance); its
    /// holder, if any, is returned.
    pub fn forget(&self, key: &str) -> Option<Holder> {
        let mut inner = self.lock();
        let found = inner.names.keys().find(|k| k.as_str() == key).cloned()?;
        inner.names.remove(&found).map(|e| e.holder)
    }

    /// The resume token of `nick`, if this instance holds it.
    pub fn token(&self, nick: &Nickname) -> Option<String> {
        self.lock().names.get(&nick.key()).map(|e| e.token.clone())
    }

    /// `sid` dropped: its nickname stays reserved. Returns the generation to expire it with
    /// and the resume token, if `sid` held it.
    pub fn set_away(&self, nick: &Nickname, sid: Sid) -> Option<(u64, String)> {
        let mut inner = self.lock();
        inner.generations += 1;
        let generation = inner.generations;
        let entry = inner.names.get_mut(&nick.key())?;
        (entry.holder == Holder::Connected(sid)).then(|| {
            entry.holder = Holder::Away { generation };
            (generation, entry.token.clone())
        })
    }

    /// Frees the nickname if `sid` still holds it (a deliberate leave). True if it did.
    pub fn release(&self, nick: &Nickname, sid: Sid) -> bool {
        self.release_if(nick, |h| h == Holder::Connected(sid))
    }

    /// Frees the nickname if it is still away since `generation` (its grace ended).
    pub fn expire(&self, nick: &Nickname, generation: u64) -> bool {
        self.release_if(nick, |h| h == Holder::Away { generation })
    }

    fn release_if(&self, nick: &Nickname, holds: impl Fn(Holder) -> bool) -> bool {
        let mut inner = self.lock();
        let key = nick.key();
        if inner.names.get(&key).is_some_and(|e| holds(e.holder)) {
            inner.names.remove(&key);
            true
        } else {
            false
        }
    }

    /// The `nicknames` payload: every name mapped to itself (reserved ones included: their
    /// owners are expected back).
    pub fn snapshot(&self) -> Nicknames {
        self.lock().names.values().map(|e| (e.nickname.to_string(), e.nickname.to_string())).collect()
    }

    /// How many nicknames are held by a connection, and how many are reserved for an owner
    /// who dropped.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        let away = inner.names.values().filter(|e| matches!(e.holder, Holder::Away { .. })).count();
        (inner.names.len() - away, away)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each operation is one insert, update or remove: a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
