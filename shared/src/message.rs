//! `MessageText`: a validated chat message body.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, ErrorCode};
use crate::limits::MESSAGE_MAX_CHARS;
use crate::text::refused_in_message;

/// A message as it is delivered: surrounding whitespace trimmed, 1..=[`MESSAGE_MAX_CHARS`]
/// chars, newlines and tabs allowed, other control chars and bidi controls refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, ChatError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(ChatError::new(ErrorCode::MessageEmpty));
        }
        if text.chars().count() > MESSAGE_MAX_CHARS {
            return Err(ChatError::with_limit(ErrorCode::MessageTooLong, MESSAGE_MAX_CHARS));
        }
        if text.chars().any(refused_in_message) {
            return Err(ChatError::new(ErrorCode::MessageInvalidChar));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MessageText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_inner_text() {
        let m = MessageText::parse("  hello\nworld\t! ").unwrap();
        assert_eq!(m.as_str(), "hello\nworld\t!");
        assert_eq!(MessageText::parse("안녕하세요 👋").unwrap().as_str(), "안녕하세요 👋");
        // emoji ZWJ sequences survive
        assert!(MessageText::parse("👩\u{200D}💻").is_ok());
    }

    #[test]
    fn refuses_empty_long_and_controls() {
        let code = |s: &str| MessageText::parse(s).unwrap_err().code;
        assert_eq!(code(" \n "), ErrorCode::MessageEmpty);
        assert_eq!(code(&"x".repeat(MESSAGE_MAX_CHARS + 1)), ErrorCode::MessageTooLong);
        assert!(MessageText::parse(&"가".repeat(MESSAGE_MAX_CHARS)).is_ok());
        assert_eq!(code("a\u{7}b"), ErrorCode::MessageInvalidChar);
        assert_eq!(code("a\u{202E}b"), ErrorCode::MessageInvalidChar);
    }
}
