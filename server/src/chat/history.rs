//! `history` ({room?, with?, after?, before?, limit?}, ack): a page of stored messages of
//! `general`, of a room this connection is in, or of its owner's direct messages with another
//! owner, read off the handler's thread (reads never wait for the writer: WAL).

use chat_shared::protocol::{ClientEvent, HistoryPage, HistoryRequest};
use chat_shared::{ChatError, ErrorCode};

use super::incoming::Incoming;
use super::reply::Reply;
use super::{Chat, LogId};
use crate::log_throttle::Throttle;

/// The error line for failed reads (one per request during an outage would be a flood).
static UNREADABLE: Throttle = Throttle::new();

pub fn handle(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let request = session
        .allow_history(|| chat.admission.allow_history(session.address))
        .and_then(|()| req.arg::<HistoryRequest>().map_err(|_| ChatError::new(ErrorCode::BadPayload)))
        .and_then(|mut request| {
            if request.with.is_some() {
                // A conversation's key is found below (it may wait for Redis).
                return match request.room {
                    Some(_) => Err(ChatError::new(ErrorCode::BadPayload)),
                    None => Ok(request),
                };
            }
            request.room = super::rooms::readable(chat, &session, request.room.as_deref())?;
            Ok(request)
        });
    let reply = req.reply();
    let mut request = match request {
        Ok(r) => r,
        Err(e) => return refuse(reply, e),
    };
    let conn = LogId::of(socket.id);
    let Some(with) = request.with.take() else {
        let deleted = chat.moderation.deleted(request.room.as_deref().unwrap_or(chat_shared::room::GENERAL));
        return read(chat, request, deleted, reply, conn);
    };
    let chat = chat.clone();
    tokio::spawn(async move {
        // Asked when its turn comes, as for a direct message.
        let speaker = chat.speaker(&session, socket.id);
        match super::direct::readable(&chat, speaker, &with).await {
            Ok(thread) => {
                read(&chat, HistoryRequest { room: Some(thread), ..request }, Vec::new(), reply, conn)
            }
            Err(e) => refuse(reply, e),
        }
    });
}

fn refuse(reply: Reply, e: ChatError) {
    reply.answer::<HistoryPage>(ClientEvent::History, Err(e));
}

/// Reads the page `request` asks for (its `room` is a history key by now) and answers it, with
/// the ids of the lines deleted lately there.
fn read(chat: &Chat, request: HistoryRequest, deleted: Vec<u64>, reply: Reply, conn: LogId) {
    let history = chat.history.clone();
    tokio::task::spawn_blocking(move || {
        let page = history.page(&request).map_err(|e| {
            if let Some(times) = UNREADABLE.due() {
                tracing::error!(%conn, times, "cannot read history: {e} ({times} failed reads since the last such line)");
            }
            ChatError::new(ErrorCode::Unavailable)
        });
        let page = page.map(|page| HistoryPage { deleted, ..page });
        reply.answer(ClientEvent::History, page);
    });
}
