//! A connection went away: free its nickname and tell the others.

use std::sync::Arc;

use chat_shared::protocol::{Announcement, ServerEvent};
use socketioxide::extract::{Extension, SocketRef, State};
use socketioxide::socket::DisconnectReason;

use super::session::Session;
use super::{Chat, fanout};

pub async fn handle(
    socket: SocketRef,
    reason: DisconnectReason,
    Extension(session): Extension<Arc<Session>>,
    State(chat): State<Chat>,
) {
    tracing::debug!(sid = %socket.id, %reason, "disconnected");
    let Some(nick) = session.nickname() else {
        return;
    };
    chat.roster.release(nick);
    tracing::info!(sid = %socket.id, nickname = %nick, %reason, "left");
    fanout::to_each(
        socket.broadcast().sockets(),
        ServerEvent::Announcement,
        &Announcement::disconnected(nick),
    );
    chat.nicknames_changed.notify();
}
