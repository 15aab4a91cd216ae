//! The typed errors a client can get back, with the stable codes they carry on the wire.

use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason. Serialised in snake_case (`"nickname_taken"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

/// What went wrong, for the client: a code to act on and an English sentence to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

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
