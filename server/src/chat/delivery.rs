//! Delivering a stored line: to its audience on this instance and the others (`general`: every
//! connection here; a room: its members; a direct line: its addressee's connections), then its
//! ack to the sender; or its refusal when it could not be stored. Called by the history writer
//! (journal.rs) for each line of a committed batch.

use chat_shared::ChatError;
use chat_shared::protocol::{ClientEvent, DirectLine, MessageMeta, RoomLine, ServerEvent, StampedMessage};
use serde_json::value::{RawValue, to_raw_value};

use super::fanout;
use super::journal::Pending;
use super::locals::Locals;
use crate::cluster::Elsewhere;
use crate::history::{Appended, Channel};
use crate::metrics;

/// A stored message goes to its audience (unless it was a resend), then its ack to the sender.
pub(super) fn deliver(pending: Pending, appended: Appended, elsewhere: &Elsewhere, locals: &Locals) {
    let m = &appended.message;
    let meta = MessageMeta { id: m.id, ts: m.ts };
    let event = client_event(&pending.message.channel);
    if appended.new {
        let delivered = match &pending.message.channel {
            Channel::General => {
                let sender = pending.socket.id;
                let everyone = locals.all();
                let others = everyone.iter().filter(|s| s.id != sender);
                let stamped = StampedMessage(&m.from, &m.text, meta);
                // Each argument is encoded once for every recipient (socketioxide would escape
                // the text again for each one).
                let delivered = match encoded(&stamped) {
                    Ok(args) => fanout::to_each(others, ServerEvent::UserMessage, &args),
                    Err(_) => fanout::to_each(others, ServerEvent::UserMessage, &stamped),
                };
                elsewhere.send(ServerEvent::UserMessage, (m.from.clone(), m.text.clone(), meta));
                delivered
            }
            Channel::Room(room) => {
                let line = RoomLine {
                    room: room.to_string(),
                    from: m.from.clone(),
                    text: m.text.clone(),
                    id: m.id,
                    ts: m.ts,
                };
                let members = super::rooms::members_room(room);
                to_room(&pending, members, ServerEvent::RoomMessage, line, elsewhere)
            }
            Channel::Direct(direct) => {
                let line = DirectLine {
                    from: direct.from.nickname.clone(),
                    to: direct.to.nickname.clone(),
                    text: m.text.clone(),
                    id: m.id,
                    ts: m.ts,
                };
                let addressee = super::direct::owner_room(&direct.to.tenure);
                to_room(&pending, addressee, ServerEvent::DirectMessage, line, elsewhere)
            }
        };
        metrics::message_accepted();
        metrics::delivered(delivered);
    }
    pending.reply.answer(event, Ok(meta));
}

/// Sends a line to the socket.io room `room` here (its sender aside; encoded once for all) and
/// on the other instances; how many got it here.
fn to_room<T: serde::Serialize + Send + Sync + 'static>(
    pending: &Pending,
    room: String,
    event: ServerEvent,
    line: T,
    elsewhere: &Elsewhere,
) -> usize {
    let delivered = fanout::to_each_encoded(pending.socket.to(room.clone()).sockets(), event, &line);
    elsewhere.send_to(room, event, line);
    delivered
}

/// The event a line of `channel` was sent with (its ack or refusal answers it).
fn client_event(channel: &Channel) -> ClientEvent {
    match channel {
        Channel::General => ClientEvent::UserMessage,
        Channel::Room(_) => ClientEvent::RoomMessage,
        Channel::Direct(_) => ClientEvent::DirectMessage,
    }
}

/// The three arguments of a `user message`, as JSON.
fn encoded(m: &StampedMessage<'_>) -> serde_json::Result<(Box<RawValue>, Box<RawValue>, Box<RawValue>)> {
    Ok((to_raw_value(m.0)?, to_raw_value(m.1)?, to_raw_value(&m.2)?))
}

pub(super) fn refuse(pending: Pending, error: ChatError) {
    metrics::message_rejected(error.code);
    let event = client_event(&pending.message.channel);
    pending.reply.answer::<MessageMeta>(event, Err(error));
}
