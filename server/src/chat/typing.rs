//! `typing` (bool, {room}?, ack?): relays "started/stopped typing" to everyone else (or to
//! the other members of a room the sender is in), signed with the sender's nickname. A hint,
//! never stored; notices past the connection's typing rate are dropped without an answer (but
//! count towards flooding). A typist who drops (or is signed out, or forgets its name) is
//! relayed as stopped, in `general` and in each room where it was typing.

use chat_shared::protocol::{ClientEvent, ServerEvent, Typing, TypingRequest};
use chat_shared::{ChatError, ErrorCode, Nickname, RoomName};
use socketioxide::extract::SocketRef;

use super::Chat;
use super::incoming::Incoming;
use super::session::Session;
use crate::cluster::ChatAdapter;

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    if session.allow_typing(|| chat.admission.allow_typing(session.address)).is_err() {
        return;
    }
    let notice = chat.speaker(&session, socket.id).and_then(|speaker| {
        let request = req.arg::<TypingRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload))?;
        let room = match request.room.as_deref().map(RoomName::parse).transpose()? {
            Some(room) if !room.is_general() => {
                if !session.in_room(&room) {
                    return Err(ChatError::new(ErrorCode::NotInRoom));
                }
                Some(room)
            }
            _ => None,
        };
        if !chat.moderation.may_type(&speaker, room.as_ref().map(RoomName::as_str)) {
            return Err(ChatError::new(ErrorCode::Muted));
        }
        let notice = Typing {
            nickname: speaker.nickname.to_string(),
            typing: request.typing,
            room: room.as_ref().map(RoomName::to_string),
        };
        Ok((notice, room))
    });
    let reply = req.reply();
    match notice {
        Ok((notice, Some(room))) => {
            // A room's typists: its members here and on the other instances.
            session.set_typing_in(&room, notice.typing);
            chat.to_room(&socket, super::rooms::members_room(&room), ServerEvent::Typing, notice);
            reply.answer(ClientEvent::Typing, Ok(()));
        }
        Ok((notice, None)) => {
            session.set_typing(notice.typing);
            chat.to_all(socket.broadcast().sockets(), ServerEvent::Typing, notice);
            reply.answer(ClientEvent::Typing, Ok(()));
        }
        Err(error) => reply.answer::<()>(ClientEvent::Typing, Err(error)),
    }
}

/// `from`'s typist stopped (it left, dropped, was signed out or forgot its name): tells the
/// others, in `general` and in each room, wherever its last notice said it was typing.
pub fn stopped(chat: &Chat, from: &SocketRef<ChatAdapter>, session: &Session, nickname: &Nickname) {
    if session.set_typing(false) {
        let notice = Typing { nickname: nickname.to_string(), typing: false, room: None };
        chat.to_all(from.broadcast().sockets(), ServerEvent::Typing, notice);
    }
    for room in session.take_typing_rooms() {
        let notice = Typing { nickname: nickname.to_string(), typing: false, room: Some(room.to_string()) };
        chat.to_room(from, super::rooms::members_room(&room), ServerEvent::Typing, notice);
    }
}
