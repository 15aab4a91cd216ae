//! A connection went away. A deliberate leave (the client's namespace disconnect, or a clean
//! close of its transport: a tab closed or reloaded) frees the nickname and is announced at
//! once, as the original did. A dropped connection (network error, heartbeat timeout, a slow
//! reader closed by the server) keeps the nickname reserved for its owner's resume token for
//! the grace period; "X disconnected" is announced only if the owner does not come back.

use std::sync::Arc;

use socketioxide::extract::{Extension, SocketRef, State};
use socketioxide::socket::DisconnectReason;

use super::session::Session;
use super::{Chat, LogId};
use crate::clock::now_ms;
use crate::cluster::ChatAdapter;

pub async fn handle(
    socket: SocketRef<ChatAdapter>,
    reason: DisconnectReason,
    Extension(session): Extension<Arc<Session>>,
    State(chat): State<Chat>,
) {
    tracing::debug!(conn = %LogId::of(socket.id), %reason, "disconnected");
    // Gone first, then out of the locals: `has_left` relies on this order.
    session.mark_gone();
    chat.locals.remove(socket.id);
    // A connection whose nickname was taken over has none (and the roster agrees).
    let Some(nick) = session.nickname() else { return };
    let nick = &nick;
    if chat.roster.holds(nick, socket.id) {
        super::typing::stopped(&chat, &socket, &session, nick);
        super::rooms::went(&chat, &socket, &session, nick);
    }
    let deliberate =
        matches!(reason, DisconnectReason::ClientNSDisconnect | DisconnectReason::TransportClose);
    if deliberate {
        chat.give_up(&socket, nick, &reason).await;
    } else if let Some((generation, held)) = chat.roster.set_away(nick, socket.id) {
        tracing::info!(conn = %LogId::of(socket.id), nickname = %nick, %reason, grace = ?chat.grace, "dropped: nickname reserved");
        chat.record_reservation(&held, now_ms() + chat.grace.as_millis() as i64);
        chat.touch_owned(nick);
        chat.start_grace(nick.clone(), generation);
    }
}
