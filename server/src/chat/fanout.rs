//! Sending to sockets without silent losses: every send that does not fit in a socket's
//! bounded queue is treated as that reader being too slow, and that socket is closed (it
//! reconnects and gets a fresh state) instead of quietly missing a packet. A state that
//! supersedes the one before (the `nicknames` map) goes outside the queue instead: only the
//! newest is kept ([`latest_to_each`]).

use std::borrow::Borrow;
use std::sync::Arc;
use std::time::Duration;

use chat_shared::limits::MAX_BUFFERED_PACKETS;
use chat_shared::protocol::ServerEvent;
use serde::Serialize;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};

use super::LogId;
use super::session::Session;
use crate::cluster::ChatAdapter;

/// How long an overflowed socket may take to make room for its close packet before we stop
/// trying (by then its transport has normally failed its heartbeat and closed anyway).
const CLOSE_RETRY_FOR: Duration = Duration::from_secs(60);
const CLOSE_RETRY_EVERY: Duration = Duration::from_millis(50);

/// Sends one event to each socket (owned or borrowed); returns how many got it.
pub fn to_each<T: Serialize + ?Sized, S: Borrow<SocketRef<ChatAdapter>>>(
    sockets: impl IntoIterator<Item = S>,
    event: ServerEvent,
    data: &T,
) -> usize {
    sockets.into_iter().filter(|s| to_one(s.borrow(), event, data)).count()
}

/// Encodes `data` once and sends the same JSON to each socket (for a large payload, or
/// many sockets: socketioxide would encode it again for each); returns how many got it.
pub fn to_each_encoded<T: Serialize + ?Sized>(
    sockets: Vec<SocketRef<ChatAdapter>>,
    event: ServerEvent,
    data: &T,
) -> usize {
    match encoded(&sockets, event, data) {
        Some(json) => to_each(sockets, event, &*json),
        None => 0,
    }
}

/// Sends a state that supersedes the one before it (the whole `nicknames` map) to each socket,
/// encoded once for all, outside the queue: each socket keeps only the newest one it has not
/// written yet (engine.io's volatile slot), so a reader that does not read holds one map, not
/// one per change (up to 2,048 of them: ~45 MB at 1,000 names). It may overtake packets
/// queued before it. Returns to how many sockets it went.
pub fn latest_to_each<T: Serialize + ?Sized>(
    sockets: Vec<SocketRef<ChatAdapter>>,
    event: ServerEvent,
    data: &T,
) -> usize {
    let Some(json) = encoded(&sockets, event, data) else { return 0 };
    sockets.iter().filter(|s| s.volatile().emit(event.name(), &*json).is_ok()).count()
}

/// `data` as JSON, for sending to `sockets` (None when there is nobody to send it to, or it
/// cannot be encoded: logged).
fn encoded<T: Serialize + ?Sized>(
    sockets: &[SocketRef<ChatAdapter>],
    event: ServerEvent,
    data: &T,
) -> Option<Box<serde_json::value::RawValue>> {
    if sockets.is_empty() {
        return None;
    }
    serde_json::value::to_raw_value(data)
        .map_err(|e| tracing::error!(event = event.name(), "cannot encode: {e}"))
        .ok()
}

/// Sends one event to one socket; false if it could not be queued.
pub fn to_one<T: Serialize + ?Sized>(socket: &SocketRef<ChatAdapter>, event: ServerEvent, data: &T) -> bool {
    match socket.emit(event.name(), data) {
        Ok(()) => true,
        Err(e) => {
            failed(socket, e);
            false
        }
    }
}

/// Handles a failed send to `socket` (an emit or an ack).
pub fn failed(socket: &SocketRef<ChatAdapter>, error: SendError) {
    match error {
        SendError::Socket(SocketError::Closed) => {}
        SendError::Socket(SocketError::InternalChannelFull) => overflowed(socket),
        SendError::Serialize(e) => {
            tracing::error!(conn = %LogId::of(socket.id), "cannot encode a packet: {e}")
        }
    }
}

fn overflowed(socket: &SocketRef<ChatAdapter>) {
    let why = format!("outgoing queue full ({MAX_BUFFERED_PACKETS} packets): closing this slow connection");
    if close_soon(socket, &why) {
        crate::metrics::queue_full();
    }
}

/// Closes `socket` once (later calls do nothing and return false), as soon as its close
/// packet fits its queue.
pub fn close_soon(socket: &SocketRef<ChatAdapter>, why: &str) -> bool {
    let first = socket.extensions.get::<Arc<Session>>().is_none_or(|s| s.mark_closing());
    if !first {
        return false;
    }
    tracing::warn!(conn = %LogId::of(socket.id), "{why}");
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // Not on a runtime thread (a bug, not a client's doing): try once, never panic.
        tracing::error!(conn = %LogId::of(socket.id), "close_soon outside the runtime: one close attempt");
        let _ = socket.clone().disconnect();
        return true;
    };
    let socket = socket.clone();
    runtime.spawn(async move {
        let deadline = tokio::time::Instant::now() + CLOSE_RETRY_FOR;
        loop {
            match socket.clone().disconnect() {
                Ok(()) | Err(SocketError::Closed) => return,
                Err(SocketError::InternalChannelFull) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(CLOSE_RETRY_EVERY).await;
                }
                Err(SocketError::InternalChannelFull) => {
                    tracing::warn!(conn = %LogId::of(socket.id), "slow connection never drained; leaving it to its heartbeat");
                    return;
                }
            }
        }
    });
    true
}
