//! `RoomName`: a validated room (channel) name. `general` is the original's one room: every
//! connection is in it, and the original event API speaks only there.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, ErrorCode};
use crate::limits::ROOM_NAME_MAX_CHARS;
use crate::text::refused_in_nickname;

/// The room of the original chat (`user message`, `history` without a room).
pub const GENERAL: &str = "general";

/// A room name as it is shown and compared: trimmed, lower-cased, 1..=[`ROOM_NAME_MAX_CHARS`]
/// chars, each a letter or digit (any script), `-` or `_` (so a name is also a safe part of a
/// link: `/#/r/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, ChatError> {
        // Compatibility forms folded (fullwidth `ｇｅｎｅｒａｌ` is `general`), then lower case.
        let name = crate::lowercase(&crate::normalize::nfkc(raw.trim()));
        if name.is_empty() {
            return Err(ChatError::new(ErrorCode::RoomNameInvalid));
        }
        if name.chars().count() > ROOM_NAME_MAX_CHARS {
            return Err(ChatError::with_limit(ErrorCode::RoomNameInvalid, ROOM_NAME_MAX_CHARS));
        }
        // Invisible letters (Hangul fillers) are "alphanumeric" too: refused as in nicknames.
        let allowed = |c: char| (c.is_alphanumeric() || c == '-' || c == '_') && !refused_in_nickname(c);
        if !name.chars().all(allowed) {
            return Err(ChatError::new(ErrorCode::RoomNameInvalid));
        }
        Ok(Self(name))
    }

    pub fn general() -> Self {
        Self(GENERAL.to_owned())
    }

    pub fn is_general(&self) -> bool {
        self.0 == GENERAL
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_lower_case_words() {
        assert_eq!(RoomName::parse("  Rust-Talk ").map(|r| r.to_string()), Ok("rust-talk".into()));
        assert_eq!(RoomName::parse("한국어_방").map(|r| r.to_string()), Ok("한국어_방".into()));
        for bad in ["", "two words", "a/b", "#x", "e\u{301}x\u{200b}", &"x".repeat(ROOM_NAME_MAX_CHARS + 1)] {
            assert!(RoomName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RoomName::parse("General").map(|r| r.is_general()).unwrap_or(false));
        assert!(RoomName::parse("ｇｅｎｅｒａｌ").map(|r| r.is_general()).unwrap_or(false), "fullwidth");
        assert!(RoomName::parse("general\u{3164}").is_err(), "a Hangul filler");
    }
}
