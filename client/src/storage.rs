//! What the tab keeps across a reload (sessionStorage): the nickname with its resume token, and
//! the outbox (own lines not stored yet); and what the browser keeps across visits and shares
//! between its tabs (localStorage): the owned nickname and its owner secret, and how far its
//! direct conversations were read. Written when the reducer says they changed.

use serde::{Deserialize, Serialize};

const SESSION: &str = "chat.session";
const OUTBOX: &str = "chat.outbox";
const OWNER: &str = "chat.owner";
const READ: &str = "chat.read";

#[derive(Serialize, Deserialize)]
pub struct Session {
    pub nickname: String,
    pub resume_token: String,
}

/// The nickname this browser owns, and the secret that claims it (from the server's grant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub nickname: String,
    pub owner_secret: String,
}

/// An own line waiting to be stored, and the fragment of its channel (absent: `general`, as
/// an older page kept it).
#[derive(Serialize, Deserialize)]
pub struct Queued {
    pub key: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// The tab's storage, or the browser's.
#[derive(Clone, Copy)]
enum Kept {
    Tab,
    Browser,
}

fn storage(kept: Kept) -> Option<web_sys::Storage> {
    let window = web_sys::window()?;
    match kept {
        Kept::Tab => window.session_storage().ok()?,
        Kept::Browser => window.local_storage().ok()?,
    }
}

fn read<T: for<'de> Deserialize<'de>>(kept: Kept, name: &str) -> Option<T> {
    serde_json::from_str(&storage(kept)?.get_item(name).ok()??).ok()
}

fn write<T: Serialize>(kept: Kept, name: &str, value: Option<&T>) {
    let Some(s) = storage(kept) else { return };
    match value.map(serde_json::to_string) {
        Some(Ok(json)) => {
            let _ = s.set_item(name, &json);
        }
        Some(Err(_)) => {}
        None => {
            let _ = s.remove_item(name);
        }
    }
}

pub fn session() -> Option<Session> {
    read(Kept::Tab, SESSION)
}

pub fn set_session(session: Option<Session>) {
    write(Kept::Tab, SESSION, session.as_ref());
}

pub fn outbox() -> Vec<Queued> {
    read(Kept::Tab, OUTBOX).unwrap_or_default()
}

pub fn set_outbox(outbox: &[Queued]) {
    write(Kept::Tab, OUTBOX, Some(&outbox));
}

/// How far each direct conversation was read (by its fragment), shared by the browser's tabs.
pub fn read_marks() -> Vec<(String, u64)> {
    read(Kept::Browser, READ).unwrap_or_default()
}

pub fn set_read_marks(marks: &[(String, u64)]) {
    write(Kept::Browser, READ, Some(&marks));
}

pub fn owner() -> Option<Owner> {
    read(Kept::Browser, OWNER)
}

pub fn set_owner(owner: Option<&Owner>) {
    write(Kept::Browser, OWNER, owner);
}
