//! Who is online: the nicknames in use, unique by `NicknameKey`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chat_shared::protocol::Nicknames;
use chat_shared::{ChatError, ErrorCode, Nickname, NicknameKey};

#[derive(Default)]
pub struct Roster {
    names: Mutex<HashMap<NicknameKey, Nickname>>,
}

impl Roster {
    /// Takes the nickname if nobody (in any case or width) has it.
    pub fn claim(&self, nick: &Nickname) -> Result<(), ChatError> {
        let mut names = self.lock();
        let key = nick.key();
        if names.contains_key(&key) {
            return Err(ChatError::new(ErrorCode::NicknameTaken));
        }
        names.insert(key, nick.clone());
        Ok(())
    }

    pub fn release(&self, nick: &Nickname) {
        self.lock().remove(&nick.key());
    }

    /// The `nicknames` payload: every name mapped to itself.
    pub fn snapshot(&self) -> Nicknames {
        self.lock().values().map(|n| (n.to_string(), n.to_string())).collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<NicknameKey, Nickname>> {
        // A panic while holding the lock cannot leave the map half-written (each operation is
        // one insert or remove), so a poisoned lock is still safe to use.
        self.names.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
