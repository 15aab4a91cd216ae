//! The page's state and the one function that changes it: `apply(state, event)`. Components
//! only read the state and send intents; everything the server or the connection says arrives
//! here as a `ChatEvent`.

use chat_shared::ChatError;
use chat_shared::protocol::{AnnouncementDetail, ChatErrorEvent, NicknameAck, ServerEvent, SessionGrant};
use serde_json::Value;

/// The connection, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    #[default]
    Connecting,
    Connected,
    Reconnecting,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// Someone else's line.
    User { from: String, text: String },
    /// One's own line, shown at once; `error` if the server refused it.
    Mine { text: String, error: Option<String> },
    /// "Ana connected" and the like.
    Announcement(String),
    /// The page's own status lines ("System").
    System(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: u64,
    pub kind: LineKind,
}

/// Everything that can change the page's state.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Connected {
        reconnected: bool,
    },
    Reconnecting,
    ConnectionError(String),
    /// The user submitted a nickname (shown as pending until the ack).
    NicknameRequested(String),
    NicknameAnswered(NicknameAck),
    /// The nickname request got no answer (connection lost, timeout).
    NicknameFailed(String),
    Nicknames(Vec<String>),
    UserMessage {
        from: String,
        text: String,
    },
    Announcement(String),
    /// The user sent a line; `id` lets its outcome be attached to it later.
    Sent {
        id: u64,
        text: String,
    },
    SendFailed {
        id: u64,
        reason: String,
    },
    ServerRefused(ChatErrorEvent),
    /// The server granted (or confirmed, on resume) this nickname and its resume token.
    Session(SessionGrant),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatState {
    pub connection: Connection,
    /// The accepted nickname.
    pub nickname: Option<String>,
    /// The nickname asked for and not yet answered.
    pub requested_nickname: Option<String>,
    /// After a reconnect: the nickname is being claimed again (it stays shown meanwhile).
    pub reclaiming: bool,
    /// The token that takes the nickname back after a drop (from the server's `session`).
    pub resume_token: Option<String>,
    pub nickname_error: Option<ChatError>,
    pub online: Vec<String>,
    pub lines: Vec<Line>,
    next_id: u64,
}

/// The status lines, in the original's words.
pub const RECONNECTING_TEXT: &str = "Attempting to re-connect to the server";
pub const RECONNECTED_TEXT: &str = "Reconnected to the server";

impl ChatState {
    /// A fresh id for a line (also used by the page for its own lines before they are sent).
    pub fn next_line_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn push(&mut self, kind: LineKind) {
        let id = self.next_line_id();
        self.lines.push(Line { id, kind });
    }
}

/// Applies one event to the state.
pub fn apply(state: &mut ChatState, event: ChatEvent) {
    match event {
        ChatEvent::Connected { reconnected } => {
            if reconnected {
                state.push(LineKind::System(RECONNECTED_TEXT.to_owned()));
                // The page claims its nickname again; it stays shown while that happens.
                state.reclaiming = state.nickname.is_some();
            }
            state.connection = Connection::Connected;
        }
        ChatEvent::Reconnecting => {
            if state.connection != Connection::Reconnecting {
                state.push(LineKind::System(RECONNECTING_TEXT.to_owned()));
            }
            state.connection = Connection::Reconnecting;
        }
        ChatEvent::ConnectionError(e) => state.push(LineKind::System(format!("Error: {e}"))),
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
                state.reclaiming = false;
            }
            state.requested_nickname = None;
            state.nickname_error = Some(e);
        }
        ChatEvent::NicknameFailed(reason) => {
            state.requested_nickname = None;
            state.push(LineKind::System(format!("Error: {reason}")));
        }
        ChatEvent::Nicknames(names) => state.online = names,
        ChatEvent::UserMessage { from, text } => state.push(LineKind::User { from, text }),
        ChatEvent::Announcement(text) => state.push(LineKind::Announcement(text)),
        ChatEvent::Sent { id, text } => {
            state.lines.push(Line { id, kind: LineKind::Mine { text, error: None } })
        }
        ChatEvent::SendFailed { id, reason } => {
            if let Some(Line { kind: LineKind::Mine { error, .. }, .. }) =
                state.lines.iter_mut().find(|l| l.id == id)
            {
                *error = Some(reason);
            }
        }
        ChatEvent::ServerRefused(e) => state.push(LineKind::System(format!("Error: {}", e.error.message))),
        ChatEvent::Session(grant) => {
            state.nickname = Some(grant.nickname);
            state.resume_token = Some(grant.resume_token);
            state.requested_nickname = None;
            state.reclaiming = false;
        }
    }
}

/// Reads a server event's arguments into a `ChatEvent` (None if they make no sense).
pub fn decode(event: ServerEvent, args: &[Value]) -> Option<ChatEvent> {
    let text = |i: usize| args.get(i).and_then(Value::as_str).map(str::to_owned);
    match event {
        ServerEvent::UserMessage => Some(ChatEvent::UserMessage { from: text(0)?, text: text(1)? }),
        ServerEvent::Announcement => {
            // Prefer the structured detail (so the page could word it itself); else the text.
            let detail =
                args.get(1).cloned().and_then(|v| serde_json::from_value::<AnnouncementDetail>(v).ok());
            Some(ChatEvent::Announcement(match detail {
                Some(AnnouncementDetail::Connected { nickname }) => format!("{nickname} connected"),
                Some(AnnouncementDetail::Disconnected { nickname }) => format!("{nickname} disconnected"),
                None => text(0)?,
            }))
        }
        ServerEvent::Nicknames => {
            let map = args.first()?.as_object()?;
            let mut names: Vec<String> = map.keys().cloned().collect();
            names.sort_by_key(|n| n.to_lowercase());
            Some(ChatEvent::Nicknames(names))
        }
        ServerEvent::ChatError => {
            serde_json::from_value(args.first()?.clone()).ok().map(ChatEvent::ServerRefused)
        }
        ServerEvent::Session => serde_json::from_value(args.first()?.clone()).ok().map(ChatEvent::Session),
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
            ChatEvent::NicknameRequested("Ana".into()),
            ChatEvent::NicknameAnswered(NicknameAck::Accepted),
            ChatEvent::UserMessage { from: "Bob".into(), text: "hi".into() },
            ChatEvent::Reconnecting,
            ChatEvent::Reconnecting,
            ChatEvent::Connected { reconnected: true },
        ]);
        let kinds: Vec<_> = s.lines.iter().map(|l| l.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                LineKind::User { from: "Bob".into(), text: "hi".into() },
                LineKind::System(RECONNECTING_TEXT.into()),
                LineKind::System(RECONNECTED_TEXT.into()),
            ]
        );
        assert!(s.reclaiming, "to be claimed again");
        assert_eq!(s.nickname.as_deref(), Some("Ana"), "still shown meanwhile");
        assert_eq!(s.connection, Connection::Connected);
        let mut taken_meanwhile = s.clone();
        let taken = ChatError::new(ErrorCode::NicknameTaken);
        apply(&mut taken_meanwhile, ChatEvent::NicknameAnswered(NicknameAck::Rejected(taken)));
        assert_eq!(taken_meanwhile.nickname, None, "asks for a new one");
        let mut resumed = s.clone();
        let grant = SessionGrant { nickname: "Ana".into(), resume_token: "t".into() };
        apply(&mut resumed, ChatEvent::Session(grant));
        assert_eq!((resumed.nickname.as_deref(), resumed.reclaiming), (Some("Ana"), false));
        assert_eq!(resumed.resume_token.as_deref(), Some("t"));
        let mut s = s;
        apply(&mut s, ChatEvent::NicknameAnswered(NicknameAck::Accepted));
        assert_eq!((s.nickname.as_deref(), s.reclaiming), (Some("Ana"), false));
    }

    #[test]
    fn own_lines_show_at_once_and_failures_attach_to_them() {
        let mut s = ChatState::default();
        let id = s.next_line_id();
        apply(&mut s, ChatEvent::Sent { id, text: "hello".into() });
        apply(&mut s, ChatEvent::SendFailed { id, reason: "Too many requests".into() });
        assert_eq!(
            s.lines[0].kind,
            LineKind::Mine { text: "hello".into(), error: Some("Too many requests".into()) }
        );
    }

    #[test]
    fn decodes_server_events() {
        assert_eq!(
            decode(ServerEvent::UserMessage, &[json!("Ana"), json!("<b>hi</b>")]),
            Some(ChatEvent::UserMessage { from: "Ana".into(), text: "<b>hi</b>".into() })
        );
        assert_eq!(decode(ServerEvent::UserMessage, &[json!(1)]), None);
        assert_eq!(
            decode(ServerEvent::Announcement, &[json!("Ana connected")]),
            Some(ChatEvent::Announcement("Ana connected".into()))
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
}
