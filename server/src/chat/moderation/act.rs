//! The moderation events: `moderate` (a moderator's action: delete, purge, mute, kick, ban,
//! room rules, room moderators, closing a report), `report` (anyone, about a line), `roles`
//! (anyone: who moderates) and `moderation log` (moderators: open reports and the audit log);
//! and how a ban reaches the banned person's connection on whichever instance holds it. Every
//! action is checked against the speaker's role where it applies, stored, audited, counted
//! and logged.

use chat_shared::limits::{
    HISTORY_PAGE_MAX, MODERATION_FLUSH_TIMEOUT, MODERATION_LOG_PAGE, MODERATION_REASON_MAX_CHARS,
    PURGE_SCAN_LINES, ROOM_MODERATORS_MAX, SANCTION_MAX_MINUTES, SLOW_MODE_MAX_SECS,
};
use chat_shared::moderation::{
    Action, AuditEntry, Done, Filed, LineDeleted, Moderated, ModerationLog, Report, ReportRequest, Roles,
    RoomRules, Sanction,
};
use chat_shared::protocol::{ClientEvent, HistoryRequest, ServerEvent};
use chat_shared::room::GENERAL;
use chat_shared::{ChatError, ErrorCode, Nickname, RoomName};
use serde::Serialize;
use socketioxide::extract::SocketRef;
use std::collections::HashSet;

use super::store::{EVERYWHERE, Kind, Log, Record};
use super::{Penalty, Role};
use crate::chat::incoming::Incoming;
use crate::chat::session::Speaker;
use crate::chat::{Chat, LogId};
use crate::clock::now_ms;
use crate::cluster::ChatAdapter;
use crate::history::Channel;

/// The socket.io room of the connection that holds a nickname (by its key), on any instance.
pub fn nick_room(key: &str) -> String {
    format!("nick:{key}")
}

/// Who the audit log names for the command line.
pub const OPERATOR: &str = "(operator)";

/// How many of the newest audit entries a room's moderator's `moderation log` looks through
/// for its rooms' (the chat's moderators read one page).
const AUDIT_SCANNED: usize = 2_000;

/// The most of a deleted or reported line's text the audit log keeps, in chars.
const DETAIL_MAX_CHARS: usize = 200;

/// `text`, cut to [`DETAIL_MAX_CHARS`].
fn detail_of(from: &str, text: &str) -> String {
    let cut: String = text.chars().take(DETAIL_MAX_CHARS).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    format!("{from}: {cut}{more}")
}

fn bad() -> ChatError {
    ChatError::new(ErrorCode::BadPayload)
}

fn unavailable(e: impl std::fmt::Display) -> ChatError {
    tracing::warn!("moderation: {e}");
    ChatError::new(ErrorCode::Unavailable)
}

fn require(allowed: bool) -> Result<(), ChatError> {
    if allowed { Ok(()) } else { Err(ChatError::new(ErrorCode::NotModerator)) }
}

/// A reason as given: at most [`MODERATION_REASON_MAX_CHARS`] chars, no control or bidi
/// characters ([`chat_shared::refused_in_line`]).
fn reason(raw: &str) -> Result<String, ChatError> {
    let reason = raw.trim();
    if reason.chars().count() > MODERATION_REASON_MAX_CHARS {
        return Err(ChatError::with_limit(ErrorCode::BadPayload, MODERATION_REASON_MAX_CHARS));
    }
    if reason.chars().any(chat_shared::refused_in_line) {
        return Err(bad());
    }
    Ok(reason.to_owned())
}

/// How long a mute or ban lasts, checked: 1 to [`SANCTION_MAX_MINUTES`] minutes; until when.
fn until(minutes: u32) -> Result<i64, ChatError> {
    if minutes == 0 || minutes > SANCTION_MAX_MINUTES {
        return Err(ChatError::with_limit(ErrorCode::BadPayload, SANCTION_MAX_MINUTES as usize));
    }
    Ok(now_ms() + i64::from(minutes) * 60_000)
}

/// The channel a moderation request names: `general` (absent or `"general"`), or a room that
/// exists.
fn channel(chat: &Chat, room: Option<&str>) -> Result<Channel, ChatError> {
    let Some(room) = room else { return Ok(Channel::General) };
    let room = RoomName::parse(room)?;
    if room.is_general() {
        return Ok(Channel::General);
    }
    if !chat.rooms.knows(&room) {
        return Err(ChatError::new(ErrorCode::RoomNotFound));
    }
    Ok(Channel::Room(room))
}

/// The room a moderation request's channel is (`general` too: [`channel`] never gives a
/// direct conversation).
fn room_of(channel: &Channel) -> String {
    channel.room_name().unwrap_or(GENERAL).to_owned()
}

/// `moderate` ({action, ...}, ack).
pub fn moderate(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let prepared = session.allow_moderation().and_then(|()| {
        let speaker = chat.speaker(&session, socket.id)?;
        let action = req.arg::<Action>().map_err(|_| bad())?;
        chat.moderation.may_speak(&speaker, action.room())?;
        Ok((speaker, action))
    });
    let reply = req.reply();
    let (speaker, action) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => return reply.answer::<Done>(ClientEvent::Moderate, Err(e)),
    };
    let chat = chat.clone();
    tokio::spawn(async move {
        let name = action.name();
        let done = act(&chat, &speaker, action).await;
        if done.is_ok() {
            crate::metrics::moderated(name);
            tracing::info!(conn = %LogId::of(socket.id), moderator = %speaker.nickname, action = name, "moderation");
        }
        reply.answer(ClientEvent::Moderate, done);
    });
}

async fn act(chat: &Chat, speaker: &Speaker, action: Action) -> Result<Done, ChatError> {
    let moderation = chat.moderation.clone();
    let by = speaker.nickname.to_string();
    let action_name = action.name();
    let audit = |target: String, room: Option<String>, reason: String, detail: String| AuditEntry {
        id: 0,
        at: now_ms(),
        by: by.clone(),
        action: action_name.to_owned(),
        target,
        room,
        reason,
        detail,
    };
    let (done, entry) = match action {
        Action::Delete { room, id, reason: raw } => {
            let channel = channel(chat, room.as_deref())?;
            require(moderation.moderates(speaker, &room_of(&channel)))?;
            let reason = reason(&raw)?;
            delivered_so_far(chat).await?;
            let line = delete_line(chat, &channel, id)
                .await?
                .ok_or_else(|| ChatError::new(ErrorCode::NoSuchLine))?;
            moderation.refresh().await.map_err(unavailable)?;
            let detail = detail_of(&line.0, &line.1);
            (1, audit(id.to_string(), Some(room_of(&channel)), reason, detail))
        }
        Action::Purge { room, nickname, reason: raw } => {
            let channel = channel(chat, room.as_deref())?;
            require(moderation.moderates(speaker, &room_of(&channel)))?;
            let reason = reason(&raw)?;
            let nick = Nickname::parse(&nickname)?;
            let ids = lines_of(chat, &channel, &nick).await?;
            let mut deleted = 0;
            for id in ids {
                if delete_line(chat, &channel, id).await?.is_some() {
                    deleted += 1;
                }
            }
            moderation.refresh().await.map_err(unavailable)?;
            (deleted, audit(nick.to_string(), Some(room_of(&channel)), reason, format!("{deleted} lines")))
        }
        Action::Mute { nickname, minutes, room, reason: raw } => {
            let nick = Nickname::parse(&nickname)?;
            let scope = sanction_scope(chat, speaker, room.as_deref(), &nick).await?;
            let (reason, until) = (reason(&raw)?, until(minutes)?);
            let one_grant_at_a_time = moderation.capped_grants.lock().await;
            if let Some(cap) = moderation.mute_cap_reached(&scope)
                && !moderation.mute_stands(&scope, nick.key().as_str())
            {
                return Err(ChatError::with_limit(ErrorCode::RateLimited, cap));
            }
            let penalty = Penalty {
                nickname: nick.to_string(),
                until,
                reason: reason.clone(),
                by: by.clone(),
                address: false,
            };
            put(chat, Kind::Mute, &scope, nick.key().as_str(), &penalty, Some(until)).await?;
            drop(one_grant_at_a_time);
            let room = (scope != EVERYWHERE).then_some(scope);
            tell(
                chat,
                &nick,
                Moderated {
                    sanction: Sanction::Muted,
                    room: room.clone(),
                    until: Some(until),
                    reason: reason.clone(),
                    by: by.clone(),
                },
            )
            .await;
            (1, audit(nick.to_string(), room, reason, format!("{minutes} min")))
        }
        Action::Unmute { nickname, room } => {
            let nick = Nickname::parse(&nickname)?;
            let scope = sanction_scope(chat, speaker, room.as_deref(), &nick).await?;
            moderation.store().remove(Kind::Mute, &scope, nick.key().as_str()).await.map_err(unavailable)?;
            moderation.refresh().await.map_err(unavailable)?;
            let room = (scope != EVERYWHERE).then_some(scope);
            tell(
                chat,
                &nick,
                Moderated {
                    sanction: Sanction::Unmuted,
                    room: room.clone(),
                    until: None,
                    reason: String::new(),
                    by: by.clone(),
                },
            )
            .await;
            (1, audit(nick.to_string(), room, String::new(), String::new()))
        }
        Action::Kick { nickname, reason: raw } => {
            let nick = Nickname::parse(&nickname)?;
            sanction_scope(chat, speaker, None, &nick).await?;
            let reason = reason(&raw)?;
            tell(
                chat,
                &nick,
                Moderated {
                    sanction: Sanction::Kicked,
                    room: None,
                    until: None,
                    reason: reason.clone(),
                    by: by.clone(),
                },
            )
            .await;
            disconnect(chat, &nick).await;
            (1, audit(nick.to_string(), None, reason, String::new()))
        }
        Action::Ban { nickname, minutes, address, reason: raw } => {
            let nick = Nickname::parse(&nickname)?;
            sanction_scope(chat, speaker, None, &nick).await?;
            let (reason, until) = (reason(&raw)?, until(minutes)?);
            let penalty = Penalty {
                nickname: nick.to_string(),
                until,
                reason: reason.clone(),
                by: by.clone(),
                address,
            };
            put(chat, Kind::Ban, EVERYWHERE, nick.key().as_str(), &penalty, Some(until)).await?;
            if address {
                // The instance that holds the nickname records its address first, then tells
                // and disconnects it (here: now; elsewhere: at its next refresh): a client that
                // leaves on the notice cannot keep its address out of the ban.
                enforce_bans(chat).await;
            } else {
                let banned = Moderated {
                    sanction: Sanction::Banned,
                    room: None,
                    until: Some(until),
                    reason: reason.clone(),
                    by: by.clone(),
                };
                tell(chat, &nick, banned).await;
                disconnect(chat, &nick).await;
            }
            let detail = format!("{minutes} min{}", if address { ", with the address" } else { "" });
            (1, audit(nick.to_string(), None, reason, detail))
        }
        Action::Unban { nickname } => {
            let nick = Nickname::parse(&nickname)?;
            require(moderation.is_moderator(speaker))?;
            let key = nick.key();
            moderation.store().remove(Kind::Ban, EVERYWHERE, key.as_str()).await.map_err(unavailable)?;
            for address in moderation.addresses_banned_with(key.as_str()) {
                moderation
                    .store()
                    .remove(Kind::AddressBan, key.as_str(), &address)
                    .await
                    .map_err(unavailable)?;
            }
            moderation.refresh().await.map_err(unavailable)?;
            (1, audit(nick.to_string(), None, String::new(), String::new()))
        }
        Action::Rules { room, slow_secs, locked, topic } => {
            let channel = channel(chat, Some(&room))?;
            let room = room_of(&channel);
            require(moderation.moderates(speaker, &room))?;
            let _one_change_at_a_time = moderation.rules_changes.lock().await;
            let mut rules = moderation.rules(&room);
            if let Some(secs) = slow_secs {
                if secs > SLOW_MODE_MAX_SECS {
                    return Err(ChatError::with_limit(ErrorCode::BadPayload, SLOW_MODE_MAX_SECS as usize));
                }
                rules.slow_secs = secs;
            }
            if let Some(locked) = locked {
                rules.locked = locked;
            }
            if let Some(topic) = topic {
                rules.topic = Some(crate::chat::rooms::topic_of(&topic)?);
            }
            put(chat, Kind::Rules, &room, "", &rules, None).await?;
            let topic = match &rules.topic {
                Some(topic) => topic.clone(),
                None => chat.rooms.created_topic(&room),
            };
            let announced =
                RoomRules { room: room.clone(), slow_secs: rules.slow_secs, locked: rules.locked, topic };
            broadcast(chat, &channel, ServerEvent::RoomRules, &announced).await;
            let detail =
                format!("slow {} s, locked {}, topic {:?}", rules.slow_secs, rules.locked, announced.topic);
            (1, audit(room.clone(), Some(room), String::new(), detail))
        }
        Action::RoomModerator { room, nickname, grant } => {
            let Channel::Room(name) = channel(chat, Some(&room))? else { return Err(bad()) };
            let room = name.to_string();
            require(moderation.owns_room(speaker, &room) || moderation.is_moderator(speaker))?;
            let nick = Nickname::parse(&nickname)?;
            if grant {
                let found = chat.ownerships(&[&nick]).await?.into_iter().next().flatten();
                let Some((tenure, nickname)) = found else {
                    return Err(ChatError::new(ErrorCode::NoSuchOwner));
                };
                let _one_grant_at_a_time = moderation.capped_grants.lock().await;
                let (named, already) = moderation.room_moderators(&room, nick.key().as_str());
                if named >= ROOM_MODERATORS_MAX && !already {
                    return Err(ChatError::with_limit(ErrorCode::RateLimited, ROOM_MODERATORS_MAX));
                }
                let role = Role { nickname, tenure: tenure.as_str().to_owned() };
                put(chat, Kind::RoomModerator, &room, nick.key().as_str(), &role, None).await?;
            } else {
                moderation
                    .store()
                    .remove(Kind::RoomModerator, &room, nick.key().as_str())
                    .await
                    .map_err(unavailable)?;
                moderation.refresh().await.map_err(unavailable)?;
            }
            let detail = if grant { "granted" } else { "revoked" }.to_owned();
            (1, audit(nick.to_string(), Some(room), String::new(), detail))
        }
        Action::CloseReport { id } => {
            require(moderation.has_a_role(speaker))?;
            let kept = reports(chat).await?;
            let report = kept.iter().find(|r| r.id == id).cloned().ok_or_else(bad)?;
            require(moderation.moderates(speaker, &report.room))?;
            let closed = Record {
                kind: Kind::ReportClosed,
                scope: EVERYWHERE.to_owned(),
                target: id.to_string(),
                value: "{}".to_owned(),
                expires_at: None,
            };
            moderation.store().put(closed).await.map_err(unavailable)?;
            // Marks of reports no longer kept go (a report stays closed as long as it is kept).
            let oldest = kept.iter().map(|r| r.id).min().unwrap_or(0);
            for stale in moderation.closed_reports().into_iter().filter(|closed| *closed < oldest) {
                let target = stale.to_string();
                moderation
                    .store()
                    .remove(Kind::ReportClosed, EVERYWHERE, &target)
                    .await
                    .map_err(unavailable)?;
            }
            moderation.refresh().await.map_err(unavailable)?;
            (
                1,
                audit(
                    id.to_string(),
                    Some(report.room),
                    String::new(),
                    detail_of(&report.from, &report.text),
                ),
            )
        }
    };
    write_audit(chat.moderation.store(), entry).await;
    Ok(Done { affected: done })
}

/// Who may sanction `nick`, and where: in `room` (its moderators; not its owner, unless the
/// chat's moderators), or everywhere (the chat's moderators). Nobody sanctions one of the
/// chat's moderators (only the operator revokes them). A role protects only while the
/// ownership it was granted to lasts: whoever holds the name later is anyone. The scope to
/// record.
async fn sanction_scope(
    chat: &Chat,
    speaker: &Speaker,
    room: Option<&str>,
    nick: &Nickname,
) -> Result<String, ChatError> {
    let moderation = &chat.moderation;
    let key = nick.key();
    let scope = match room {
        None => {
            require(moderation.is_moderator(speaker))?;
            EVERYWHERE.to_owned()
        }
        Some(room) => {
            let room = room_of(&channel(chat, Some(room))?);
            require(moderation.moderates(speaker, &room))?;
            if let Some((owner, role)) = moderation.room_owner(&room)
                && owner == key.as_str()
                && !moderation.is_moderator(speaker)
            {
                require(!current(chat, &role).await?)?;
            }
            room
        }
    };
    if let Some(role) = moderation.moderator_role(key.as_str()) {
        require(!current(chat, &role).await?)?;
    }
    Ok(scope)
}

/// Whether the ownership `role` was granted to still owns its nickname.
async fn current(chat: &Chat, role: &Role) -> Result<bool, ChatError> {
    let Ok(nick) = Nickname::parse(&role.nickname) else { return Ok(false) };
    let owner = chat.ownerships(&[&nick]).await?.into_iter().next().flatten();
    Ok(owner.is_some_and(|(tenure, _)| tenure.as_str() == role.tenure))
}

/// A room was created by `speaker`: if it speaks as the owner of its nickname, it owns the
/// room (an ephemeral name owns nothing: the chat's moderators look after its rooms).
pub async fn record_owner(chat: &Chat, speaker: &Speaker, room: &str) {
    if !speaker.owned {
        return;
    }
    let role = Role { nickname: speaker.nickname.to_string(), tenure: speaker.tenure.as_str().to_owned() };
    if let Err(e) = put(chat, Kind::RoomOwner, room, speaker.nickname.key().as_str(), &role, None).await {
        tracing::warn!(room, "cannot record who owns a new room: {}", e.message);
    }
}

/// Stores a record and reads the state again.
async fn put(
    chat: &Chat,
    kind: Kind,
    scope: &str,
    target: &str,
    value: &impl Serialize,
    expires_at: Option<i64>,
) -> Result<(), ChatError> {
    let value = serde_json::to_string(value).map_err(unavailable)?;
    let record = Record { kind, scope: scope.to_owned(), target: target.to_owned(), value, expires_at };
    chat.moderation.store().put(record).await.map_err(unavailable)?;
    chat.moderation.refresh().await.map_err(unavailable)
}

/// Adds an entry to the audit log of `store` (a failure is logged: the action itself was done).
pub async fn write_audit(store: &super::store::Store, entry: AuditEntry) {
    let line = match serde_json::to_string(&entry) {
        Ok(line) => line,
        Err(e) => return tracing::error!("cannot write an audit entry: {e}"),
    };
    if let Err(e) = store.append(Log::Audit, line).await {
        tracing::error!(action = %entry.action, by = %entry.by, target = %entry.target, "cannot store an audit entry: {e}");
    }
}

/// Sends `event` to a channel's members on every instance (`general`: everyone).
async fn broadcast(chat: &Chat, channel: &Channel, event: ServerEvent, data: &impl Serialize) {
    let Some(io) = chat.io.get() else { return };
    let sent = match channel {
        Channel::Room(room) => io.to(crate::chat::rooms::members_room(room)).emit(event.name(), data).await,
        _ => io.emit(event.name(), data).await,
    };
    if let Err(e) = sent {
        tracing::warn!(event = event.name(), "not delivered everywhere: {e}");
    }
}

/// Tells the connection that holds `nick` (on any instance) what a moderator did.
async fn tell(chat: &Chat, nick: &Nickname, what: Moderated) {
    let Some(io) = chat.io.get() else { return };
    if let Err(e) = io.to(nick_room(nick.key().as_str())).emit(ServerEvent::Moderated.name(), &what).await {
        tracing::warn!("a moderation notice was not delivered everywhere: {e}");
    }
}

/// Disconnects the connection that holds `nick`, on any instance.
async fn disconnect(chat: &Chat, nick: &Nickname) {
    let Some(io) = chat.io.get() else { return };
    if let Err(e) = io.to(nick_room(nick.key().as_str())).disconnect().await {
        tracing::warn!("a kick did not reach every instance: {e}");
    }
}

/// Waits until every line submitted so far is stored and delivered: a deletion must not reach
/// the pages before its line does. Once per delete or purge, before the store is read; at
/// most [`MODERATION_FLUSH_TIMEOUT`] (a stalled store answers the moderator `unavailable`).
async fn delivered_so_far(chat: &Chat) -> Result<(), ChatError> {
    match tokio::time::timeout(MODERATION_FLUSH_TIMEOUT, chat.journal.flush()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(unavailable("the history writer has stopped")),
        Err(_) => Err(unavailable("the store did not catch up in time")),
    }
}

/// Deletes line `id` of `channel` from the history, remembers it as deleted and tells the
/// channel's pages: (who said it, what), or None if it is not there.
async fn delete_line(chat: &Chat, channel: &Channel, id: u64) -> Result<Option<(String, String)>, ChatError> {
    let history = chat.history.clone();
    let key = channel.key().to_owned();
    let found = {
        let key = key.clone();
        tokio::task::spawn_blocking(move || history.delete(&key, id)).await.map_err(unavailable)?
    };
    let Some(line) = found.map_err(unavailable)? else { return Ok(None) };
    let store = chat.moderation.store();
    store.append(Log::Deleted, format!("{key}\n{id}")).await.map_err(unavailable)?;
    broadcast(chat, channel, ServerEvent::LineDeleted, &LineDeleted { room: room_of(channel), id }).await;
    Ok(Some((line.from, line.text)))
}

/// The ids of `nick`'s lines among the newest [`PURGE_SCAN_LINES`] of `channel`.
async fn lines_of(chat: &Chat, channel: &Channel, nick: &Nickname) -> Result<Vec<u64>, ChatError> {
    delivered_so_far(chat).await?;
    let key = nick.key();
    let room = match channel {
        Channel::General => None,
        other => Some(other.key().to_owned()),
    };
    let (mut found, mut scanned, mut before) = (Vec::new(), 0u32, None);
    while scanned < PURGE_SCAN_LINES {
        let request = HistoryRequest {
            before,
            limit: Some((PURGE_SCAN_LINES - scanned).min(HISTORY_PAGE_MAX)),
            room: room.clone(),
            ..Default::default()
        };
        let history = chat.history.clone();
        let page = tokio::task::spawn_blocking(move || history.page(&request))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        let Some(oldest) = page.messages.first().map(|m| m.id) else { break };
        scanned += page.messages.len() as u32;
        let theirs = page.messages.iter().filter(|m| Nickname::parse(&m.from).is_ok_and(|n| n.key() == key));
        found.extend(theirs.map(|m| m.id));
        if !page.more {
            break;
        }
        before = Some(oldest);
    }
    Ok(found)
}

/// Every report kept, the newest first.
async fn reports(chat: &Chat) -> Result<Vec<Report>, ChatError> {
    let kept = chat.moderation.store().read(Log::Reports, Log::Reports.kept()).await.map_err(unavailable)?;
    Ok(kept
        .into_iter()
        .filter_map(|(id, entry)| serde_json::from_str::<Report>(&entry).ok().map(|r| Report { id, ..r }))
        .collect())
}

/// `report` ({room?, id, reason}, ack): anyone named, about a line of a room it can read.
pub fn report(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let prepared = session.allow_report().and_then(|()| {
        let speaker = chat.speaker(&session, socket.id)?;
        let request = req.arg::<ReportRequest>().map_err(|_| bad())?;
        let why = reason(&request.reason)?;
        let history_key = crate::chat::rooms::readable(chat, &session, request.room.as_deref())?;
        Ok((speaker, request.id, why, history_key))
    });
    let reply = req.reply();
    let (speaker, id, why, history_key) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => return reply.answer::<Filed>(ClientEvent::Report, Err(e)),
    };
    let chat = chat.clone();
    tokio::spawn(async move {
        let filed = file(&chat, &speaker, id, why, history_key).await;
        if let Ok(filed) = &filed {
            crate::metrics::reported();
            tracing::info!(conn = %LogId::of(socket.id), report = filed.id, line = id, "a line was reported");
        }
        reply.answer(ClientEvent::Report, filed);
    });
}

async fn file(
    chat: &Chat,
    speaker: &Speaker,
    id: u64,
    reason: String,
    history_key: Option<String>,
) -> Result<Filed, ChatError> {
    let history = chat.history.clone();
    let room = history_key.clone().unwrap_or_else(|| GENERAL.to_owned());
    let request = HistoryRequest {
        after: Some(id.saturating_sub(1)),
        limit: Some(1),
        room: history_key,
        ..Default::default()
    };
    let page = tokio::task::spawn_blocking(move || history.page(&request))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    let line = page
        .messages
        .into_iter()
        .find(|m| m.id == id && id > 0)
        .ok_or_else(|| ChatError::new(ErrorCode::NoSuchLine))?;
    let report = Report {
        id: 0,
        at: now_ms(),
        by: speaker.nickname.to_string(),
        room,
        line_id: id,
        from: line.from,
        text: line.text,
        reason,
    };
    let entry = serde_json::to_string(&report).map_err(unavailable)?;
    let id = chat.moderation.store().append(Log::Reports, entry).await.map_err(unavailable)?;
    Ok(Filed { id })
}

/// `roles` (ack): anyone connected.
/// The roles whose ownership has ended (a forgotten or lapsed name) are left out: whoever
/// holds the name now has none.
pub fn roles(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let allowed = session.allow_history(|| chat.admission.allow_history(session.address));
    let reply = req.reply();
    if let Err(e) = allowed {
        return reply.answer::<Roles>(ClientEvent::Roles, Err(e));
    }
    let chat = chat.clone();
    tokio::spawn(async move {
        let granted = chat.moderation.all_roles();
        let nicks: Vec<Nickname> = granted.iter().filter_map(|r| Nickname::parse(&r.nickname).ok()).collect();
        let owners = chat.ownerships(&nicks.iter().collect::<Vec<_>>()).await;
        let listed = owners.map(|owners| {
            let now: HashSet<(String, String)> = nicks
                .iter()
                .zip(owners)
                .filter_map(|(nick, owner)| {
                    Some((nick.key().as_str().to_owned(), owner?.0.as_str().to_owned()))
                })
                .collect();
            chat.moderation.roles(|role| {
                Nickname::parse(&role.nickname)
                    .is_ok_and(|n| now.contains(&(n.key().as_str().to_owned(), role.tenure.clone())))
            })
        });
        reply.answer(ClientEvent::Roles, listed);
    });
}

/// `moderation log` (ack): for anyone with a role; a room's moderators see their rooms' only.
pub fn log(chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    let socket = req.socket();
    let speaker = session
        .allow_history(|| chat.admission.allow_history(session.address))
        .and_then(|()| chat.speaker(&session, socket.id))
        .and_then(|speaker| require(chat.moderation.has_a_role(&speaker)).map(|()| speaker));
    let reply = req.reply();
    let speaker = match speaker {
        Ok(speaker) => speaker,
        Err(e) => return reply.answer::<ModerationLog>(ClientEvent::ModerationLog, Err(e)),
    };
    let chat = chat.clone();
    tokio::spawn(async move {
        let read = read_log(&chat, &speaker).await;
        reply.answer(ClientEvent::ModerationLog, read);
    });
}

async fn read_log(chat: &Chat, speaker: &Speaker) -> Result<ModerationLog, ChatError> {
    let moderation = &chat.moderation;
    let sees = |room: Option<&str>| {
        moderation.is_moderator(speaker) || room.is_some_and(|r| moderation.moderates(speaker, r))
    };
    let reports = reports(chat)
        .await?
        .into_iter()
        .filter(|r| !moderation.report_closed(r.id) && sees(Some(&r.room)))
        .take(MODERATION_LOG_PAGE)
        .collect();
    // The chat's moderators see every entry: the newest page is enough. A room's moderators
    // see their rooms' among the newest AUDIT_SCANNED.
    let scanned = if moderation.is_moderator(speaker) { MODERATION_LOG_PAGE } else { AUDIT_SCANNED };
    let kept = moderation.store().read(Log::Audit, scanned).await.map_err(unavailable)?;
    let audit = kept
        .into_iter()
        .filter_map(|(id, entry)| {
            serde_json::from_str::<AuditEntry>(&entry).ok().map(|e| AuditEntry { id, ..e })
        })
        .filter(|e| sees(e.room.as_deref()))
        .take(MODERATION_LOG_PAGE)
        .collect();
    Ok(ModerationLog { reports, audit })
}

/// Brings the bans to this instance's connections: records the address of each banned
/// nickname held here that bans its address too, and disconnects every connection here that
/// holds a banned nickname or comes from a banned address (telling it why first).
pub async fn enforce_bans(chat: &Chat) {
    let moderation = &chat.moderation;
    if let Err(e) = moderation.refresh().await {
        tracing::warn!("cannot read the moderation state: {e}");
        return;
    }
    if !moderation.any_ban() {
        return;
    }
    let mut recorded = false;
    for (key, penalty) in moderation.address_bans_pending() {
        let Ok(nick) = Nickname::parse(&penalty.nickname) else { continue };
        let Some(socket) = chat.roster.connection(&nick).and_then(|sid| chat.socket(sid)) else { continue };
        let Some(address) = crate::chat::session::Session::of(&socket).and_then(|s| s.address) else {
            continue;
        };
        recorded |= record_address(chat, &key, &nick, address, penalty.until).await;
    }
    if recorded && let Err(e) = moderation.refresh().await {
        tracing::warn!("cannot read the moderation state: {e}");
    }
    // Looked up by ban, not by connection: bans are few, and most stand for long.
    let mut closed = std::collections::HashSet::new();
    for penalty in moderation.bans() {
        let Ok(nick) = Nickname::parse(&penalty.nickname) else { continue };
        let Some((sid, socket)) =
            chat.roster.connection(&nick).and_then(|sid| Some((sid, chat.socket(sid)?)))
        else {
            continue;
        };
        tracing::info!(conn = %LogId::of(sid), nickname = %nick, "closed: its nickname is banned");
        banished(&socket, &penalty);
        closed.insert(sid);
    }
    // A banned address loses every connection here, named or not: one it opened before the
    // ban (unnamed, or under another name) must not carry on. The connections are walked only
    // while a banned address has one here (what admission counts).
    let present: std::collections::HashSet<std::net::IpAddr> = moderation
        .banned_addresses()
        .into_iter()
        .filter(|&address| chat.admission.connected_from(address))
        .collect();
    if present.is_empty() {
        return;
    }
    for socket in chat.sockets() {
        if closed.contains(&socket.id) {
            continue;
        }
        let Some(session) = crate::chat::session::Session::of(&socket) else { continue };
        let Some(address) = session.address.map(crate::client_addr::address_key) else { continue };
        if !present.contains(&address) {
            continue;
        }
        // The chat's moderators cannot be sanctioned: one behind the same NAT (or the one
        // who banned) keeps its connection.
        if session.speaker().is_some_and(|s| moderation.is_moderator(&s)) {
            continue;
        }
        let Some(penalty) = moderation.address_ban(&address.to_string()) else { continue };
        tracing::info!(conn = %LogId::of(socket.id), "closed: its address is banned");
        banished(&socket, &penalty);
    }
}

/// Records that the ban of the nickname `nick` (key `key`) bans `address` too; whether it did.
async fn record_address(
    chat: &Chat,
    key: &str,
    nick: &Nickname,
    address: std::net::IpAddr,
    until: i64,
) -> bool {
    let record = Record {
        kind: Kind::AddressBan,
        scope: key.to_owned(),
        target: crate::client_addr::address_key(address).to_string(),
        value: "{}".to_owned(),
        expires_at: Some(until),
    };
    match chat.moderation.store().put(record).await {
        Ok(()) => {
            tracing::info!(nickname = %nick, "banned its address too");
            true
        }
        Err(e) => {
            tracing::warn!("cannot record a banned address: {e}");
            false
        }
    }
}

/// A connection resumed a banned nickname: if the ban bans the address too, the connection's
/// address is recorded first; then it is told and closed.
pub fn banned_on_resume(chat: &Chat, socket: &SocketRef<ChatAdapter>, nick: &Nickname, penalty: Penalty) {
    let (chat, socket, nick) = (chat.clone(), socket.clone(), nick.clone());
    tokio::spawn(async move {
        let address = crate::chat::session::Session::of(&socket).and_then(|s| s.address);
        if let Some(address) = address.filter(|_| penalty.address)
            && record_address(&chat, nick.key().as_str(), &nick, address, penalty.until).await
            && let Err(e) = chat.moderation.refresh().await
        {
            tracing::warn!("cannot read the moderation state: {e}");
        }
        banished(&socket, &penalty);
    });
}

/// Tells a connection it is banned, and closes it.
pub fn banished(socket: &SocketRef<ChatAdapter>, penalty: &Penalty) {
    let notice = Moderated {
        sanction: Sanction::Banned,
        room: None,
        until: Some(penalty.until),
        reason: penalty.reason.clone(),
        by: penalty.by.clone(),
    };
    crate::chat::fanout::to_one(socket, ServerEvent::Moderated, &notice);
    let socket = socket.clone();
    tokio::spawn(async move {
        // The notice leaves before the close (both go through the same queue).
        let _ = socket.disconnect();
    });
}
