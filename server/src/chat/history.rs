//! `history` ({room?, after?, before?, limit?}, ack): a page of stored messages of `general`
//! (or of a room this connection is in), read off the handler's thread (reads never wait for
//! the writer: WAL).

use chat_shared::protocol::{Answer, ClientEvent, HistoryPage, HistoryRequest};
use chat_shared::{ChatError, ErrorCode};

use super::incoming::Incoming;
use super::{Chat, LogId};
use crate::log_throttle::Throttle;

/// The error line for failed reads (one per request during an outage would be a flood).
static UNREADABLE: Throttle = Throttle::new();

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let request = session
        .allow_history(|| chat.admission.allow_history(session.address))
        .and_then(|()| req.arg::<HistoryRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|mut request| {
            request.room = super::rooms::readable(chat, &session, request.room.as_deref())?;
            Ok(request)
        });
    let reply = req.reply();
    let request = match request {
        Ok(r) => r,
        Err(e) => return reply.send(ClientEvent::History, &Answer::<HistoryPage>(Err(e.clone())), Some(&e)),
    };
    let history = chat.history.clone();
    let conn = LogId::of(req.socket().id);
    tokio::task::spawn_blocking(move || {
        let page = history.page(&request).map_err(|e| {
            if let Some(times) = UNREADABLE.due() {
                tracing::error!(%conn, times, "cannot read history: {e} ({times} failed reads since the last such line)");
            }
            ChatError::new(ErrorCode::Unavailable)
        });
        let refusal = page.as_ref().err().cloned();
        reply.send(ClientEvent::History, &Answer(page), refusal.as_ref());
    });
}
