//! What the tab keeps across a reload (sessionStorage): the nickname with its resume token, and
//! the outbox (own lines not stored yet). Written when the reducer says they changed.

use serde::{Deserialize, Serialize};

const SESSION: &str = "chat.session";
const OUTBOX: &str = "chat.outbox";

#[derive(Serialize, Deserialize)]
pub struct Session {
    pub nickname: String,
    pub resume_token: String,
}

/// An own line waiting to be stored.
#[derive(Serialize, Deserialize)]
pub struct Queued {
    pub key: String,
    pub text: String,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn read<T: for<'de> Deserialize<'de>>(name: &str) -> Option<T> {
    serde_json::from_str(&storage()?.get_item(name).ok()??).ok()
}

fn write<T: Serialize>(name: &str, value: &T) {
    if let (Some(s), Ok(json)) = (storage(), serde_json::to_string(value)) {
        let _ = s.set_item(name, &json);
    }
}

pub fn session() -> Option<Session> {
    read(SESSION)
}

pub fn set_session(session: Option<Session>) {
    match session {
        Some(s) => write(SESSION, &s),
        None => {
            if let Some(s) = storage() {
                let _ = s.remove_item(SESSION);
            }
        }
    }
}

pub fn outbox() -> Vec<Queued> {
    read(OUTBOX).unwrap_or_default()
}

pub fn set_outbox(outbox: &[Queued]) {
    write(OUTBOX, &outbox);
}
