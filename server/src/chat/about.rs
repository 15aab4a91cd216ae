//! `about` (ack): what the first screen says before anyone is named — the chat's name and a
//! line about it (the operator's, if set) and how many people are online now (the cluster's, in
//! a cluster). Anyone connected may ask; it counts as a history request for the rate limits.

use chat_shared::protocol::{About, Answer, ClientEvent};

use super::incoming::Incoming;
use super::reply::Reply;
use super::{Chat, LogId};

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let reply = req.reply();
    if let Err(e) = session.allow_history(|| chat.admission.allow_history(session.address)) {
        return reply.send(ClientEvent::About, &Answer::<About>(Err(e.clone())), Some(&e));
    }
    match &chat.presence {
        None => {
            let (connected, away) = chat.roster.counts();
            answer(chat, reply, (connected + away) as u64);
        }
        Some(presence) => {
            let (chat, presence) = (chat.clone(), presence.clone());
            tokio::spawn(async move {
                let online = match presence.names().await {
                    Ok(names) => names.len() as u64,
                    Err(e) => {
                        tracing::debug!(conn = %LogId::of(socket.id), "cannot count who is online: {e}");
                        chat.roster.counts().0 as u64
                    }
                };
                answer(&chat, reply, online);
            });
        }
    }
}

fn answer(chat: &Chat, reply: Reply, online: u64) {
    let about = About { name: chat.about.name.clone(), about: chat.about.about.clone(), online };
    reply.send(ClientEvent::About, &Answer(Ok(about)), None);
}
