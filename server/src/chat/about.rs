//! `about` (ack): what the first screen says before anyone is named — the chat's name and a
//! line about it (the operator's, if set) and how many people are online now (in a cluster, as
//! the nicknames task last read it: at most a lease renewal old). Anyone connected may ask; it
//! counts as a history request for the rate limits.

use chat_shared::protocol::{About, ClientEvent};

use super::Chat;
use super::incoming::Incoming;

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let reply = req.reply();
    if let Err(e) = session.allow_history(|| chat.admission.allow_history(session.address)) {
        return reply.answer::<About>(ClientEvent::About, Err(e));
    }
    // Read, not counted: `about` comes with every page's connect.
    let online = match &chat.presence {
        None => chat.roster.len() as u64,
        Some(_) => chat.online.count(),
    };
    let about = About { name: chat.about.name.clone(), about: chat.about.about.clone(), online };
    reply.answer(ClientEvent::About, Ok(about));
}
