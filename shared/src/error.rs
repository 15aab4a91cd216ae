//! The typed errors a client can get back, with the stable codes they carry on the wire.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason. Serialised in snake_case (`"nickname_taken"`); read back
/// by hand (below), not by serde's derive, which costs the page ~10 KB of wasm for two types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NicknameEmpty,
    NicknameTooLong,
    NicknameInvalidChar,
    NicknameReserved,
    NicknameTaken,
    AlreadyNamed,
    MessageEmpty,
    MessageTooLong,
    MessageInvalidChar,
    NotNamed,
    BadPayload,
    RateLimited,
    ResumeInvalid,
    Unavailable,
    /// The nickname was taken over by another connection with its resume token (another tab
    /// or device): this connection no longer speaks as it.
    SignedInElsewhere,
    /// The nickname belongs to someone else (an owned nickname, kept for its owner while
    /// unused for up to the reservation time): only its owner's secret claims it.
    NicknameOwned,
    /// A room name that breaks the rules (see `RoomName`).
    RoomNameInvalid,
    /// A room's topic that breaks the rules: longer than `ROOM_TOPIC_MAX_CHARS` (`limit`), or
    /// with control chars, bidi controls or line separators (see `refused_in_line`).
    TopicInvalid,
    RoomNotFound,
    RoomExists,
    /// The chat holds as many rooms as it may (`ROOMS_MAX`).
    TooManyRooms,
    /// The connection is not in that room (join it first).
    NotInRoom,
    /// Direct messages are sent and read by owned nicknames only: this connection's is not.
    OwnerOnly,
    /// Direct messages go to owned nicknames only: nobody owns that one (or it is one's own).
    NoSuchOwner,
    /// Only a moderator (of the chat, or of that room) may do that.
    NotModerator,
    /// A moderator muted this nickname (here, or everywhere): `limit` is the seconds left.
    Muted,
    /// A moderator banned this nickname (or address): `limit` is the seconds left.
    Banned,
    /// The room is in slow mode: `limit` is the seconds to wait.
    SlowMode,
    /// The room is locked: only its moderators post.
    RoomLocked,
    /// No line with that id in that room (deleted already, or never there).
    NoSuchLine,
    /// The connection has [`crate::limits::UNRECEIVED_ANSWERS_MAX`] (`limit`) bulky answers
    /// (history pages, lists), or [`crate::limits::UNRECEIVED_BYTES_MAX`] of them, whose
    /// receipts it has not sent back with `received`: the server
    /// sends no more until it does (a client that never reads cannot make it hold more).
    TooManyUnreceived,
}

/// What went wrong, for the client: a code to act on and an English sentence to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ChatError {
    pub code: ErrorCode,
    pub message: String,
    /// The limit that was exceeded, when there is one (chars, or seconds to wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl ChatError {
    pub fn new(code: ErrorCode) -> Self {
        Self { code, message: code.describe().to_owned(), limit: None }
    }

    pub fn with_limit(code: ErrorCode, limit: usize) -> Self {
        Self { limit: Some(limit as u64), ..Self::new(code) }
    }
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 31] = [
        Self::NicknameEmpty,
        Self::NicknameTooLong,
        Self::NicknameInvalidChar,
        Self::NicknameReserved,
        Self::NicknameTaken,
        Self::AlreadyNamed,
        Self::MessageEmpty,
        Self::MessageTooLong,
        Self::MessageInvalidChar,
        Self::NotNamed,
        Self::BadPayload,
        Self::RateLimited,
        Self::ResumeInvalid,
        Self::Unavailable,
        Self::SignedInElsewhere,
        Self::NicknameOwned,
        Self::RoomNameInvalid,
        Self::TopicInvalid,
        Self::RoomNotFound,
        Self::RoomExists,
        Self::TooManyRooms,
        Self::NotInRoom,
        Self::OwnerOnly,
        Self::NoSuchOwner,
        Self::NotModerator,
        Self::Muted,
        Self::Banned,
        Self::SlowMode,
        Self::RoomLocked,
        Self::NoSuchLine,
        Self::TooManyUnreceived,
    ];

    /// The code named `name` on the wire, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.name() == name)
    }

    /// The code as it appears on the wire (`"nickname_taken"`), e.g. for metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::NicknameEmpty => "nickname_empty",
            Self::NicknameTooLong => "nickname_too_long",
            Self::NicknameInvalidChar => "nickname_invalid_char",
            Self::NicknameReserved => "nickname_reserved",
            Self::NicknameTaken => "nickname_taken",
            Self::AlreadyNamed => "already_named",
            Self::MessageEmpty => "message_empty",
            Self::MessageTooLong => "message_too_long",
            Self::MessageInvalidChar => "message_invalid_char",
            Self::NotNamed => "not_named",
            Self::BadPayload => "bad_payload",
            Self::RateLimited => "rate_limited",
            Self::ResumeInvalid => "resume_invalid",
            Self::Unavailable => "unavailable",
            Self::SignedInElsewhere => "signed_in_elsewhere",
            Self::NicknameOwned => "nickname_owned",
            Self::RoomNameInvalid => "room_name_invalid",
            Self::TopicInvalid => "topic_invalid",
            Self::RoomNotFound => "room_not_found",
            Self::RoomExists => "room_exists",
            Self::TooManyRooms => "too_many_rooms",
            Self::NotInRoom => "not_in_room",
            Self::OwnerOnly => "owner_only",
            Self::NoSuchOwner => "no_such_owner",
            Self::NotModerator => "not_moderator",
            Self::Muted => "muted",
            Self::Banned => "banned",
            Self::SlowMode => "slow_mode",
            Self::RoomLocked => "room_locked",
            Self::NoSuchLine => "no_such_line",
            Self::TooManyUnreceived => "too_many_unreceived",
        }
    }

    /// The English sentence for this code (the page may translate by code).
    pub fn describe(self) -> &'static str {
        match self {
            Self::NicknameEmpty => "Please type a nickname",
            Self::NicknameTooLong => "That nickname is too long",
            Self::NicknameInvalidChar => "That nickname has characters that are not allowed",
            Self::NicknameReserved => "That nickname is reserved",
            Self::NicknameTaken => "Nickname already in use",
            Self::AlreadyNamed => "You already have a nickname",
            Self::MessageEmpty => "The message is empty",
            Self::MessageTooLong => "That message is too long",
            Self::MessageInvalidChar => "That message has characters that are not allowed",
            Self::NotNamed => "Choose a nickname before sending messages",
            Self::BadPayload => "The server could not read that request",
            Self::RateLimited => "Too many requests: slow down",
            Self::ResumeInvalid => "That session cannot be resumed: choose a nickname",
            Self::Unavailable => "The server could not store that: try again",
            Self::SignedInElsewhere => "You are signed in from another tab",
            Self::NicknameOwned => "That nickname belongs to someone else",
            Self::RoomNameInvalid => "Room names are one word of letters, digits, - or _",
            Self::TopicInvalid => "A topic is one line of at most 200 characters",
            Self::RoomNotFound => "There is no such room",
            Self::RoomExists => "That room exists already",
            Self::TooManyRooms => "The chat has as many rooms as it may",
            Self::NotInRoom => "Join that room first",
            Self::OwnerOnly => "Only a nickname you own can send or read direct messages",
            Self::NoSuchOwner => "Direct messages go to someone else's owned nickname only",
            Self::NotModerator => "Only a moderator may do that",
            Self::Muted => "A moderator muted you: you cannot post for now",
            Self::Banned => "A moderator banned you from this chat for now",
            Self::SlowMode => "This room is in slow mode: wait a moment",
            Self::RoomLocked => "This room is locked: only its moderators post",
            Self::NoSuchLine => "There is no such line",
            Self::TooManyUnreceived => "Too many answers on their way: try again in a moment",
        }
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).ok_or_else(|| de::Error::unknown_variant(&name, &[]))
    }
}

/// As serde's derive would read it: a map with `code` and `message`, an optional `limit`
/// (absent or null: none), other keys ignored.
impl<'de> Deserialize<'de> for ChatError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChatErrorVisitor;
        impl<'de> Visitor<'de> for ChatErrorVisitor {
            type Value = ChatError;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("struct ChatError")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChatError, A::Error> {
                let (mut code, mut message, mut limit) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "code" => code = Some(map.next_value()?),
                        "message" => message = Some(map.next_value()?),
                        "limit" => limit = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(ChatError {
                    code: code.ok_or_else(|| de::Error::missing_field("code"))?,
                    message: message.ok_or_else(|| de::Error::missing_field("message"))?,
                    limit,
                })
            }
        }
        deserializer.deserialize_map(ChatErrorVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::{ChatError, ErrorCode};

    #[test]
    fn codes_and_errors_read_back_what_is_written() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(serde_json::from_value::<ErrorCode>(json).ok(), Some(code));
            for error in [ChatError::new(code), ChatError::with_limit(code, 7)] {
                let text = serde_json::to_string(&error).unwrap();
                assert_eq!(serde_json::from_str::<ChatError>(&text).ok(), Some(error));
            }
        }
        let read = |s: &str| serde_json::from_str::<ChatError>(s).ok();
        let plain = Some(ChatError { code: ErrorCode::NotNamed, message: "m".into(), limit: None });
        assert_eq!(read(r#"{"code":"not_named","message":"m","limit":null,"extra":[1]}"#), plain);
        assert_eq!(read(r#"{"message":"m","code":"not_named"}"#), plain);
        assert_eq!(read(r#"{"code":"not_named"}"#), None);
        assert_eq!(read(r#"{"code":"no_such_code","message":"m"}"#), None);
        assert_eq!(read(r#"{"code":"not_named","message":"m","limit":"x"}"#), None);
    }

    #[test]
    fn name_is_the_wire_code() {
        for code in [
            ErrorCode::NicknameEmpty,
            ErrorCode::NicknameTooLong,
            ErrorCode::NicknameInvalidChar,
            ErrorCode::NicknameReserved,
            ErrorCode::NicknameTaken,
            ErrorCode::AlreadyNamed,
            ErrorCode::MessageEmpty,
            ErrorCode::MessageTooLong,
            ErrorCode::MessageInvalidChar,
            ErrorCode::NotNamed,
            ErrorCode::BadPayload,
            ErrorCode::RateLimited,
            ErrorCode::ResumeInvalid,
            ErrorCode::Unavailable,
            ErrorCode::SignedInElsewhere,
        ] {
            assert_eq!(serde_json::to_value(code).ok(), Some(serde_json::Value::from(code.name())));
        }
    }
}
