//! `forget me` (ack?): a connection gives up its nickname now, with its ownership: the name is
//! free for anyone, its leaving is announced, and the connection is unnamed (it may claim
//! another). Only the connection that holds the nickname can do it. In a cluster the answer
//! waits until Redis has freed the name.

use chat_shared::ChatError;
use chat_shared::protocol::{ClientEvent, Forgotten};

use super::incoming::Incoming;
use super::{ANNOUNCED_ROOM, Chat, LogId};

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let reply = req.reply();
    let speaker = session.allow_nickname_attempt().and_then(|()| chat.speaker(&session, socket.id));
    let forgotten = speaker.and_then(|speaker| {
        let nick = speaker.nickname.clone();
        let (held, owned) = chat
            .roster
            .forget_owned(&nick, socket.id)
            .ok_or_else(|| ChatError::new(chat_shared::ErrorCode::NotNamed))?;
        session.forget();
        socket.leave(super::direct::owner_room(speaker.tenure.as_str()));
        socket.leave(super::moderation::act::nick_room(nick.key().as_str()));
        // Its rooms and conversations were the ownership's: they end with it (the connection
        // stays in the rooms until it leaves them or goes).
        if owned.is_some() || speaker.owned {
            chat.ownership_ended(&speaker.tenure);
        }
        super::typing::stopped(chat, &socket, &session, &nick);
        super::rooms::went(chat, &socket, &session, &nick);
        if owned.is_some() {
            chat.record_disown(&nick);
        }
        tracing::info!(conn = %LogId::of(socket.id), nickname = %nick, "forgot its nickname");
        Ok((held, nick))
    });
    match (forgotten, chat.presence.clone()) {
        (Ok((_, nick)), None) => {
            reply.answer(ClientEvent::ForgetMe, Ok(Forgotten { nickname: nick.to_string() }));
            chat.left(&nick, socket.to(ANNOUNCED_ROOM).sockets());
        }
        (Ok((held, nick)), Some(presence)) => {
            let chat = chat.clone();
            tokio::spawn(async move {
                // The ownership goes first, then the name: never a free name still owned
                // (the owner's other tab could claim it under the ownership being dropped).
                if let Err(e) = presence.disown(&nick, &held.tenure).await {
                    // The ownership stays in Redis until its reservation runs out.
                    tracing::warn!(nickname = %nick, "cannot forget an owned nickname in the cluster: {e}");
                }
                let released = chat.released(&held).await;
                // Answered once Redis has heard: a claim of the name right after the answer,
                // on any instance, finds it free.
                reply.answer(ClientEvent::ForgetMe, Ok(Forgotten { nickname: nick.to_string() }));
                if released {
                    chat.left(&nick, socket.to(ANNOUNCED_ROOM).sockets());
                }
            });
        }
        (Err(error), _) => reply.answer::<Forgotten>(ClientEvent::ForgetMe, Err(error)),
    }
}
