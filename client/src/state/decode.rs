//! Reads a server event's arguments into a [`ChatEvent`] (None when they make no sense).

use chat_shared::protocol::{AnnouncementDetail, ServerEvent};
use serde_json::Value;

use super::{Announced, ChatEvent};

pub fn decode(event: ServerEvent, args: &[Value]) -> Option<ChatEvent> {
    let text = |i: usize| args.get(i).and_then(Value::as_str).map(str::to_owned);
    match event {
        ServerEvent::UserMessage => {
            Some(ChatEvent::UserMessage { from: text(0)?, text: text(1)?, meta: arg(args, 2) })
        }
        ServerEvent::Announcement => {
            // Prefer the structured detail (the page words it itself); else the text.
            Some(ChatEvent::Announcement(match arg(args, 1) {
                Some(AnnouncementDetail::Connected { nickname }) => Announced::Connected(nickname),
                Some(AnnouncementDetail::Disconnected { nickname }) => Announced::Disconnected(nickname),
                None => Announced::Text(text(0)?),
            }))
        }
        ServerEvent::Nicknames => {
            Some(ChatEvent::Nicknames(args.first()?.as_object()?.keys().cloned().collect()))
        }
        ServerEvent::Online => arg(args, 0).map(ChatEvent::Online),
        ServerEvent::Presence => arg(args, 0).map(ChatEvent::Presence),
        ServerEvent::ChatError => arg(args, 0).map(ChatEvent::ServerRefused),
        ServerEvent::Session => arg(args, 0).map(ChatEvent::Session),
        ServerEvent::GoingAway => arg(args, 0).map(ChatEvent::GoingAway),
        ServerEvent::Typing => arg(args, 0).map(ChatEvent::Typing),
        ServerEvent::SignedOut => arg(args, 0).map(ChatEvent::SignedOut),
        ServerEvent::RoomMessage => arg(args, 0).map(ChatEvent::RoomLine),
        ServerEvent::DirectMessage => arg(args, 0).map(ChatEvent::DirectLine),
        ServerEvent::LineDeleted => arg(args, 0).map(ChatEvent::LineDeleted),
        ServerEvent::Moderated => arg(args, 0).map(ChatEvent::Moderated),
        ServerEvent::RoomRules => arg(args, 0).map(ChatEvent::RoomRules),
        ServerEvent::RoomPresence => arg(args, 0).map(ChatEvent::RoomPresence),
    }
}

/// The `i`th argument as a `T`, if it is one.
fn arg<T: serde::de::DeserializeOwned>(args: &[Value], i: usize) -> Option<T> {
    args.get(i).cloned().and_then(|v| serde_json::from_value(v).ok())
}
