//! The page's state and the one function that changes it: `apply(state, event)`. Components
//! only read the state and send intents; everything the server or the connection says arrives
//! here as a `ChatEvent`.

use std::collections::BTreeSet;

use chat_shared::limits::{PRESENCE_LINES_MAX, TYPING_EXPIRY};
use chat_shared::protocol::{
    AnnouncementDetail, ChatErrorEvent, GoingAway, HistoryMessage, HistoryPage, MessageMeta, NicknameAck,
    PresenceChange, ServerEvent, SessionGrant, SignedOut, Typing,
};
use chat_shared::{ChatError, ErrorCode};
use serde_json::Value;

/// The connection, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    #[default]
    Connecting,
    Connected,
    Reconnecting,
}

/// Where one's own line is: waiting to be stored (queued in the outbox), stored, or refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SendStatus {
    Pending,
    Sent(u64, i64),
    Failed(Problem),
}

/// Why something did not work, for the page to say in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The server refused it (the code says why).
    Refused(ErrorCode),
    NotConnected,
    ConnectionLost,
    NoAnswer,
    NotUnderstood,
}

/// Someone came or went (from the server's structured detail; `Text` for a server that only
/// sent the English sentence).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Announced {
    Connected(String),
    Disconnected(String),
    /// Many came (`connected`) or went at once: the first few names and how many more.
    Several {
        connected: bool,
        names: Vec<String>,
        others: usize,
    },
    Text(String),
}

/// The page's own status lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Note {
    Reconnecting,
    Reconnected,
    GoingAway,
    /// Some older lines are no longer kept.
    Gap,
    Failed(Problem),
    /// The transport's own error text.
    ConnectionError(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// A stored line from someone (from history, or live from someone else).
    User { from: String, text: String, id: Option<u64> },
    /// One's own line, shown at once; `key` makes resending it idempotent.
    Mine { text: String, key: String, status: SendStatus },
    /// "Ana connected" and the like.
    Announcement(Announced),
    /// The page's own status lines ("System").
    System(Note),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The page's own key for the line (for rendering), not the server's id.
    pub key: u64,
    /// When it was said (ms since the epoch): the server's timestamp once there is one, else
    /// when the page got or wrote it.
    pub at: i64,
    pub kind: LineKind,
}

impl Line {
    /// The server's id of the message on this line, once it has one.
    pub fn server_id(&self) -> Option<u64> {
        match &self.kind {
            LineKind::User { id, .. } => *id,
            LineKind::Mine { status: SendStatus::Sent(id, _), .. } => Some(*id),
            _ => None,
        }
    }
}

/// Which page of history: the newest (on first connect), what came after the last line shown
/// (resume), or what came before the first one (scrolling up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    Newest,
    After,
    Older,
}

/// Everything that can change the page's state.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Connected {
        reconnected: bool,
    },
    Reconnecting,
    ConnectionError(String),
    /// The user submitted a nickname (pending until the ack).
    NicknameRequested(String),
    NicknameAnswered(NicknameAck),
    /// The nickname request got no answer (connection lost, timeout).
    NicknameFailed(Problem),
    /// The server granted (or confirmed, on resume) this nickname and its resume token.
    Session(SessionGrant),
    /// Another tab (or device) took the nickname over with the resume token: this page is no
    /// longer named and must not claim it back by itself.
    SignedOut(SignedOut),
    Nicknames(Vec<String>),
    /// A part of everyone online (added to what the page has; see `Online`).
    Online(Vec<String>),
    /// Who came and went (the server's `presence`).
    Presence(PresenceChange),
    UserMessage {
        from: String,
        text: String,
        meta: Option<MessageMeta>,
    },
    Announcement(Announced),
    /// Someone else started or stopped typing.
    Typing(Typing),
    /// Time passed (typists not heard from for a while are forgotten).
    Tick,
    /// The tab was hidden (`true`) or shown again (which clears the unread count).
    Hidden(bool),
    /// The server is shutting down; the page reconnects within the given time.
    GoingAway(GoingAway),
    /// The user wrote a line (or the outbox brought one back after a reload).
    Outgoing {
        key: String,
        text: String,
    },
    Stored {
        key: String,
        meta: MessageMeta,
    },
    SendFailed {
        key: String,
        reason: Problem,
    },
    Retry {
        key: String,
    },
    /// A page of stored messages.
    History {
        page: HistoryPage,
        kind: HistoryKind,
    },
    ServerRefused(ChatErrorEvent),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatState {
    pub connection: Connection,
    /// The accepted nickname.
    pub nickname: Option<String>,
    /// The nickname asked for and not yet answered.
    pub requested_nickname: Option<String>,
    /// The nickname is being claimed again (after a reconnect or a reload); it stays shown.
    pub reclaiming: bool,
    /// The token that takes the nickname back after a drop (from the server's `session`).
    pub resume_token: Option<String>,
    pub nickname_error: Option<ChatError>,
    pub online: Vec<String>,
    pub lines: Vec<Line>,
    /// Server ids already shown (so that history, resume and resends never double a line).
    pub seen: BTreeSet<u64>,
    /// Older messages exist before the first one shown.
    pub more_before: bool,
    /// Who else is typing, with when to stop showing them (ms), in the order they started.
    pub typists: Vec<(String, i64)>,
    /// The tab is hidden...
    pub hidden: bool,
    /// ...and this many lines from others arrived meanwhile.
    pub unread: u32,
    next_key: u64,
    /// The time of the event being applied (ms).
    now: i64,
}

impl ChatState {
    fn push(&mut self, kind: LineKind) {
        self.next_key += 1;
        self.lines.push(Line { key: self.next_key, at: self.now, kind });
    }

    fn note(&mut self, note: Note) {
        self.push(LineKind::System(note));
    }

    /// The names of those typing now, in the order they started.
    pub fn typing_names(&self) -> Vec<String> {
        self.typists.iter().map(|(n, _)| n.clone()).collect()
    }

    fn stop_typing(&mut self, nick: &str) {
        self.typists.retain(|(n, _)| n != nick);
    }

    /// The newest server id shown (resume asks for what came after it).
    pub fn last_id(&self) -> Option<u64> {
        self.seen.last().copied()
    }

    pub fn first_id(&self) -> Option<u64> {
        self.seen.first().copied()
    }

    /// One's own lines not yet stored, in order: the outbox.
    pub fn outbox(&self) -> Vec<(String, String)> {
        self.lines
            .iter()
            .filter_map(|l| match &l.kind {
                LineKind::Mine { text, key, status: SendStatus::Pending } => {
                    Some((key.clone(), text.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Inserts a stored message where its id belongs (before the first line with a larger id);
    /// false if it was shown already.
    fn insert_stored(&mut self, m: HistoryMessage) -> bool {
        if !self.seen.insert(m.id) {
            return false;
        }
        self.next_key += 1;
        let kind = LineKind::User { from: m.from, text: m.text, id: Some(m.id) };
        let line = Line { key: self.next_key, at: m.ts, kind };
        let at = self.lines.iter().position(|l| l.server_id().is_some_and(|id| id > m.id));
        match at {
            Some(i) => self.lines.insert(i, line),
            None => self.lines.push(line),
        }
        true
    }

    fn mine_mut(&mut self, key: &str) -> Option<&mut Line> {
        self.lines.iter_mut().find(|l| matches!(&l.kind, LineKind::Mine { key: k, .. } if k == key))
    }

    fn set_status(&mut self, key: &str, new: SendStatus) {
        if let Some(Line { kind: LineKind::Mine { status, .. }, .. }) = self.mine_mut(key) {
            *status = new;
        }
    }
}

/// The time now (ms since the epoch).
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Date::now() as i64;
    #[cfg(not(target_arch = "wasm32"))]
    return 0;
}

/// Applies one event to the state, now.
pub fn apply(state: &mut ChatState, event: ChatEvent) {
    apply_at(state, event, now_ms());
}

/// Applies one event to the state, at `now` (ms since the epoch).
pub fn apply_at(state: &mut ChatState, event: ChatEvent, now: i64) {
    state.now = now;
    match event {
        ChatEvent::Connected { reconnected } => {
            if reconnected {
                state.note(Note::Reconnected);
            }
            // The page claims its nickname again; it stays shown while that happens.
            state.reclaiming = state.nickname.is_some();
            // A fresh connection learns who is online afresh (`online` parts once named).
            state.online.clear();
            state.connection = Connection::Connected;
        }
        ChatEvent::Reconnecting => {
            if state.connection != Connection::Reconnecting {
                state.note(Note::Reconnecting);
            }
            state.connection = Connection::Reconnecting;
            state.typists.clear();
        }
        ChatEvent::ConnectionError(e) => state.note(Note::ConnectionError(e)),
        ChatEvent::NicknameRequested(nick) => {
            state.requested_nickname = Some(nick);
            state.nickname_error = None;
        }
        ChatEvent::NicknameAnswered(NicknameAck::Accepted) => {
            if let Some(nick) = state.requested_nickname.take() {
                state.nickname = Some(nick);
            }
            state.reclaiming = false;
            state.nickname_error = None;
        }
        ChatEvent::NicknameAnswered(NicknameAck::Rejected(e)) => {
            if state.reclaiming {
                // Someone took it while we were away: the user picks a new one.
                state.nickname = None;
                state.resume_token = None;
                state.reclaiming = false;
            }
            state.requested_nickname = None;
            state.nickname_error = Some(e);
        }
        ChatEvent::NicknameFailed(reason) => {
            state.requested_nickname = None;
            state.note(Note::Failed(reason));
        }
        ChatEvent::Session(grant) => {
            state.nickname = Some(grant.nickname);
            state.resume_token = Some(grant.resume_token);
            state.requested_nickname = None;
            state.nickname_error = None;
            state.reclaiming = false;
        }
        ChatEvent::SignedOut(signed_out) => {
            state.nickname = None;
            state.resume_token = None;
            state.requested_nickname = None;
            state.reclaiming = false;
            state.typists.clear();
            // The nickname form says why it is back.
            state.nickname_error = Some(signed_out.error);
        }
        ChatEvent::Nicknames(names) => state.online = names,
        ChatEvent::Online(names) => {
            state.online.extend(names);
            sort_names(&mut state.online);
        }
        ChatEvent::Presence(change) => {
            for nick in &change.disconnected {
                state.stop_typing(nick);
            }
            state.online.retain(|n| !change.disconnected.contains(n));
            state.online.extend(
                change.connected.iter().filter(|n| !state.online.contains(n)).cloned().collect::<Vec<_>>(),
            );
            sort_names(&mut state.online);
            for (connected, names) in [(true, change.connected), (false, change.disconnected)] {
                for announced in announcements(connected, names) {
                    state.push(LineKind::Announcement(announced));
                }
            }
        }
        ChatEvent::UserMessage { from, text, meta } => {
            state.stop_typing(&from);
            let new = match meta {
                Some(meta) => state.insert_stored(HistoryMessage { id: meta.id, ts: meta.ts, from, text }),
                None => {
                    state.push(LineKind::User { from, text, id: None });
                    true
                }
            };
            if new && state.hidden {
                state.unread += 1;
            }
        }
        ChatEvent::Announcement(announced) => {
            if let Announced::Disconnected(nick) = &announced {
                state.stop_typing(nick);
            }
            state.push(LineKind::Announcement(announced));
        }
        ChatEvent::Typing(Typing { nickname, typing }) => {
            if typing && state.nickname.as_deref() != Some(nickname.as_str()) {
                let until = now + TYPING_EXPIRY.as_millis() as i64;
                match state.typists.iter_mut().find(|(n, _)| *n == nickname) {
                    Some((_, expiry)) => *expiry = until,
                    None => state.typists.push((nickname, until)),
                }
            } else {
                state.stop_typing(&nickname);
            }
        }
        ChatEvent::Tick => state.typists.retain(|(_, until)| *until > now),
        ChatEvent::Hidden(hidden) => {
            state.hidden = hidden;
            if !hidden {
                state.unread = 0;
            }
        }
        ChatEvent::GoingAway(_) => {
            state.note(Note::GoingAway);
            // The reconnecting that follows is announced by this line already.
            state.connection = Connection::Reconnecting;
        }
        ChatEvent::Outgoing { key, text } => {
            state.push(LineKind::Mine { text, key, status: SendStatus::Pending })
        }
        ChatEvent::Stored { key, meta } => {
            if state.seen.insert(meta.id) {
                if let Some(line) = state.mine_mut(&key) {
                    line.at = meta.ts;
                    if let LineKind::Mine { status, .. } = &mut line.kind {
                        *status = SendStatus::Sent(meta.id, meta.ts);
                    }
                }
            } else {
                // Already shown (history got there first): drop the copy.
                state.lines.retain(|l| !matches!(&l.kind, LineKind::Mine { key: k, .. } if *k == key));
            }
        }
        ChatEvent::SendFailed { key, reason } => state.set_status(&key, SendStatus::Failed(reason)),
        ChatEvent::Retry { key } => state.set_status(&key, SendStatus::Pending),
        ChatEvent::History { page, kind } => {
            if kind != HistoryKind::After {
                state.more_before = page.more;
            }
            if page.gap {
                state.note(Note::Gap);
            }
            for m in page.messages {
                state.insert_stored(m);
            }
        }
        ChatEvent::ServerRefused(e) => state.note(Note::Failed(Problem::Refused(e.error.code))),
    }
}

/// The `i`th argument as a `T`, if it is one.
fn arg<T: serde::de::DeserializeOwned>(args: &[Value], i: usize) -> Option<T> {
    args.get(i).cloned().and_then(|v| serde_json::from_value(v).ok())
}

/// The online list's order: case-insensitive.
fn sort_names(names: &mut [String]) {
    names.sort_by_key(|n| n.to_lowercase());
}

/// The lines for people who came (`connected`) or went: one each for a few, else one for all.
fn announcements(connected: bool, mut names: Vec<String>) -> Vec<Announced> {
    if names.len() > PRESENCE_LINES_MAX {
        let others = names.len() - PRESENCE_LINES_MAX;
        names.truncate(PRESENCE_LINES_MAX);
        return vec![Announced::Several { connected, names, others }];
    }
    names
        .into_iter()
        .map(|n| if connected { Announced::Connected(n) } else { Announced::Disconnected(n) })
        .collect()
}

/// Reads a server event's arguments into a `ChatEvent` (None if they make no sense).
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
            let map = args.first()?.as_object()?;
            let mut names: Vec<String> = map.keys().cloned().collect();
            sort_names(&mut names);
            Some(ChatEvent::Nicknames(names))
        }
        ServerEvent::Online => arg(args, 0).map(ChatEvent::Online),
        ServerEvent::Presence => arg(args, 0).map(ChatEvent::Presence),
        ServerEvent::ChatError => arg(args, 0).map(ChatEvent::ServerRefused),
        ServerEvent::Session => arg(args, 0).map(ChatEvent::Session),
        ServerEvent::GoingAway => arg(args, 0).map(ChatEvent::GoingAway),
        ServerEvent::Typing => arg(args, 0).map(ChatEvent::Typing),
        ServerEvent::SignedOut => arg(args, 0).map(ChatEvent::SignedOut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_shared::ErrorCode;
    use serde_json::json;

    fn run(events: impl IntoIterator<Item = ChatEvent>) -> ChatState {
        let mut s = ChatState::default();
        for e in events {
            apply(&mut s, e);
        }
        s
    }

    #[test]
    fn signed_out_from_another_tab_unnames_the_page_and_says_why() {
        let grant = SessionGrant { nickname: "Ana".into(), resume_token: "t".into() };
        let mut s = run([ChatEvent::Connected { reconnected: false }, ChatEvent::Session(grant)]);
        assert_eq!(s.nickname.as_deref(), Some("Ana"));
        let args = [
            json!({"nickname": "Ana", "code": "signed_in_elsewhere", "message": "You are signed in from another tab"}),
        ];
        let event = decode(ServerEvent::SignedOut, &args).expect("signed out decodes");
        apply(&mut s, event);
        assert_eq!(s.nickname, None, "back to the nickname form");
        assert_eq!(s.resume_token, None, "the old token is useless now");
        assert_eq!(s.nickname_error.as_ref().map(|e| e.code), Some(ErrorCode::SignedInElsewhere));
        apply(&mut s, ChatEvent::Connected { reconnected: true });
        assert!(!s.reclaiming, "a reconnect does not take the nickname back from the other tab");
    }

    #[test]
    fn online_parts_add_up_and_presence_changes_announce_few_by_name_and_many_at_once() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let change = |c: &[&str], d: &[&str]| {
            ChatEvent::Presence(PresenceChange { connected: names(c), disconnected: names(d) })
        };
        let many: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
        let s = run([
            ChatEvent::Connected { reconnected: false },
            decode(ServerEvent::Online, &[json!(["bo", "Ana"])]).expect("online decodes"),
            ChatEvent::Online(names(&["Cy"])),
            change(&["Dé"], &["bo"]),
            ChatEvent::Presence(PresenceChange { connected: many.clone(), disconnected: vec![] }),
        ]);
        let mut expected = names(&["Ana", "Cy", "Dé"]);
        expected.extend(many.iter().cloned());
        assert_eq!(s.online, expected);
        let announced: Vec<_> = s
            .lines
            .iter()
            .filter_map(|l| match &l.kind {
                LineKind::Announcement(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            announced,
            [
                Announced::Connected("Dé".into()),
                Announced::Disconnected("bo".into()),
                Announced::Several { connected: true, names: many[..PRESENCE_LINES_MAX].to_vec(), others: 7 },
            ]
        );
        // A new connection starts its list afresh.
        assert!(
            run([ChatEvent::Online(names(&["Ana"])), ChatEvent::Connected { reconnected: true }])
                .online
                .is_empty()
        );
    }

    fn stored(id: u64, text: &str) -> HistoryMessage {
        HistoryMessage { id, ts: id as i64, from: "Bob".into(), text: text.into() }
    }

    fn texts(s: &ChatState) -> Vec<String> {
        s.lines
            .iter()
            .map(|l| match &l.kind {
                LineKind::User { text, .. } | LineKind::Mine { text, .. } => text.clone(),
                LineKind::Announcement(a) => format!("{a:?}"),
                LineKind::System(n) => format!("{n:?}"),
            })
            .collect()
    }

    #[test]
    fn nickname_is_pending_until_accepted_and_error_says_why() {
        let s =
            run([ChatEvent::Connected { reconnected: false }, ChatEvent::NicknameRequested("Ana".into())]);
        assert_eq!(s.nickname, None);
        let s2 = run([
            ChatEvent::NicknameRequested("Ana".into()),
            ChatEvent::NicknameAnswered(NicknameAck::Accepted),
        ]);
        assert_eq!(s2.nickname.as_deref(), Some("Ana"));
        let taken = ChatError::new(ErrorCode::NicknameTaken);
        let s3 = run([
            ChatEvent::NicknameRequested("Ana".into()),
            ChatEvent::NicknameAnswered(NicknameAck::Rejected(taken.clone())),
        ]);
        assert_eq!((s3.nickname, s3.nickname_error), (None, Some(taken)));
        assert_eq!(s.connection, Connection::Connected);
    }

    #[test]
    fn reconnect_keeps_lines_says_so_once_and_reclaims_the_nickname() {
        let s = run([
            ChatEvent::Connected { reconnected: false },
            ChatEvent::Session(SessionGrant { nickname: "Ana".into(), resume_token: "t".into() }),
            ChatEvent::UserMessage { from: "Bob".into(), text: "hi".into(), meta: None },
            ChatEvent::Reconnecting,
            ChatEvent::Reconnecting,
            ChatEvent::Connected { reconnected: true },
        ]);
        assert_eq!(texts(&s), vec!["hi", "Reconnecting", "Reconnected"]);

        // A server that says goodbye: one line for it, none more for the reconnecting.
        let g = run([
            ChatEvent::Connected { reconnected: false },
            decode(ServerEvent::GoingAway, &[json!({"retry_after_ms": 1000})]).expect("decodes"),
            ChatEvent::Reconnecting,
            ChatEvent::Connected { reconnected: true },
        ]);
        assert_eq!(texts(&g), vec!["GoingAway", "Reconnected"]);
        assert!(s.reclaiming, "to be claimed again");
        assert_eq!(s.nickname.as_deref(), Some("Ana"), "still shown meanwhile");
        let mut taken_meanwhile = s.clone();
        let taken = ChatError::new(ErrorCode::NicknameTaken);
        apply(&mut taken_meanwhile, ChatEvent::NicknameAnswered(NicknameAck::Rejected(taken)));
        assert_eq!(taken_meanwhile.nickname, None, "asks for a new one");
        let mut resumed = s.clone();
        apply(
            &mut resumed,
            ChatEvent::Session(SessionGrant { nickname: "Ana".into(), resume_token: "t".into() }),
        );
        assert_eq!((resumed.nickname.as_deref(), resumed.reclaiming), (Some("Ana"), false));
    }

    #[test]
    fn own_lines_are_pending_then_stored_or_failed_and_retried() {
        let mut s = ChatState::default();
        apply(&mut s, ChatEvent::Outgoing { key: "k1".into(), text: "hello".into() });
        apply(&mut s, ChatEvent::Outgoing { key: "k2".into(), text: "again".into() });
        assert_eq!(s.outbox(), vec![("k1".into(), "hello".into()), ("k2".into(), "again".into())]);
        apply(&mut s, ChatEvent::Stored { key: "k1".into(), meta: MessageMeta { id: 5, ts: 9 } });
        let limited = Problem::Refused(ErrorCode::RateLimited);
        apply(&mut s, ChatEvent::SendFailed { key: "k2".into(), reason: limited });
        assert_eq!(s.outbox(), vec![]);
        assert!(matches!(&s.lines[0].kind, LineKind::Mine { status: SendStatus::Sent(5, 9), .. }));
        assert!(matches!(&s.lines[1].kind, LineKind::Mine { status: SendStatus::Failed(_), .. }));
        apply(&mut s, ChatEvent::Retry { key: "k2".into() });
        assert_eq!(s.outbox(), vec![("k2".into(), "again".into())]);
        // The same message seen again (history, resume) is not doubled.
        apply(
            &mut s,
            ChatEvent::UserMessage {
                from: "me".into(),
                text: "hello".into(),
                meta: Some(MessageMeta { id: 5, ts: 9 }),
            },
        );
        assert_eq!(s.lines.len(), 2);
    }

    #[test]
    fn history_and_resume_merge_in_id_order_without_doubles() {
        let mut s = ChatState::default();
        apply(
            &mut s,
            ChatEvent::UserMessage {
                from: "Bob".into(),
                text: "live 12".into(),
                meta: Some(MessageMeta { id: 12, ts: 0 }),
            },
        );
        let page = HistoryPage {
            messages: vec![stored(10, "h10"), stored(11, "h11"), stored(12, "live 12")],
            gap: false,
            more: true,
        };
        apply(&mut s, ChatEvent::History { page, kind: HistoryKind::Newest });
        assert_eq!(texts(&s), vec!["h10", "h11", "live 12"]);
        assert!(s.more_before);
        let older = HistoryPage { messages: vec![stored(8, "h8"), stored(9, "h9")], gap: false, more: false };
        apply(&mut s, ChatEvent::History { page: older, kind: HistoryKind::Older });
        assert_eq!(texts(&s), vec!["h8", "h9", "h10", "h11", "live 12"]);
        assert!(!s.more_before);
        assert_eq!((s.first_id(), s.last_id()), (Some(8), Some(12)));
        let resume = HistoryPage { messages: vec![stored(13, "h13")], gap: true, more: false };
        apply(&mut s, ChatEvent::History { page: resume, kind: HistoryKind::After });
        assert_eq!(texts(&s)[5..], ["Gap".to_owned(), "h13".to_owned()]);
        // A resent line whose id history already showed is dropped, not doubled.
        apply(&mut s, ChatEvent::Outgoing { key: "k".into(), text: "h13".into() });
        apply(&mut s, ChatEvent::Stored { key: "k".into(), meta: MessageMeta { id: 13, ts: 0 } });
        assert_eq!(texts(&s).iter().filter(|t| *t == "h13").count(), 1);
    }

    #[test]
    fn decodes_server_events() {
        assert_eq!(
            decode(ServerEvent::UserMessage, &[json!("Ana"), json!("<b>hi</b>"), json!({"id": 3, "ts": 4})]),
            Some(ChatEvent::UserMessage {
                from: "Ana".into(),
                text: "<b>hi</b>".into(),
                meta: Some(MessageMeta { id: 3, ts: 4 })
            })
        );
        assert_eq!(decode(ServerEvent::UserMessage, &[json!(1)]), None);
        assert_eq!(
            decode(ServerEvent::Announcement, &[json!("Ana connected")]),
            Some(ChatEvent::Announcement(Announced::Text("Ana connected".into())))
        );
        assert_eq!(
            decode(
                ServerEvent::Announcement,
                &[json!("x"), json!({"kind": "disconnected", "nickname": "Ana"})]
            ),
            Some(ChatEvent::Announcement(Announced::Disconnected("Ana".into())))
        );
        assert_eq!(
            decode(ServerEvent::Nicknames, &[json!({"bob": "bob", "Ana": "Ana"})]),
            Some(ChatEvent::Nicknames(vec!["Ana".into(), "bob".into()]))
        );
        let err = decode(
            ServerEvent::ChatError,
            &[json!({"event": "user message", "code": "not_named", "message": "m"})],
        );
        assert!(matches!(err, Some(ChatEvent::ServerRefused(_))));
    }

    fn typing(nick: &str, typing: bool) -> ChatEvent {
        ChatEvent::Typing(Typing { nickname: nick.into(), typing })
    }

    #[test]
    fn typists_show_until_they_stop_send_leave_or_go_quiet() {
        let mut s =
            run([ChatEvent::Session(SessionGrant { nickname: "Me".into(), resume_token: "t".into() })]);
        let expiry = TYPING_EXPIRY.as_millis() as i64;
        apply_at(&mut s, typing("Ana", true), 0);
        apply_at(&mut s, typing("Bob", true), 0);
        apply_at(&mut s, typing("Cy", true), 0);
        apply_at(&mut s, typing("Me", true), 0); // never oneself
        assert_eq!(s.typing_names(), ["Ana", "Bob", "Cy"]);
        apply_at(&mut s, typing("Ana", false), 1);
        let line = ChatEvent::UserMessage { from: "Bob".into(), text: "hi".into(), meta: None };
        apply_at(&mut s, line, 2);
        assert_eq!(s.typing_names(), ["Cy"]);
        apply_at(&mut s, ChatEvent::Announcement(Announced::Disconnected("Cy".into())), 3);
        assert!(s.typing_names().is_empty());
        // A typist that goes quiet is forgotten; one that repeats itself is not.
        apply_at(&mut s, typing("Ana", true), 10);
        apply_at(&mut s, typing("Bob", true), 10);
        apply_at(&mut s, typing("Bob", true), 10 + expiry / 2);
        apply_at(&mut s, ChatEvent::Tick, 10 + expiry);
        assert_eq!(s.typing_names(), ["Bob"]);
        apply_at(&mut s, ChatEvent::Reconnecting, 10 + expiry);
        assert!(s.typing_names().is_empty(), "unknown after a drop");
    }

    #[test]
    fn lines_from_others_count_as_unread_while_hidden() {
        let mut s = ChatState::default();
        let live = |id: u64| ChatEvent::UserMessage {
            from: "Bob".into(),
            text: "hi".into(),
            meta: Some(MessageMeta { id, ts: 5 }),
        };
        apply(&mut s, live(1));
        apply(&mut s, ChatEvent::Hidden(true));
        apply(&mut s, live(2));
        apply(&mut s, live(3));
        apply(&mut s, live(3)); // the same line again (resume): counted once
        apply(&mut s, ChatEvent::Outgoing { key: "k".into(), text: "mine".into() });
        assert_eq!(s.unread, 2);
        apply(&mut s, ChatEvent::Hidden(false));
        assert_eq!(s.unread, 0);
        assert_eq!(s.lines[1].at, 5, "a stored line has the server's time");
    }
}
