//! `Nickname`: a validated display name, and `NicknameKey`: the form two names are compared in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, ErrorCode};
use crate::limits::{NICKNAME_MAX_CHARS, RESERVED_NICKNAMES};
use crate::normalize;
use crate::text::refused_in_nickname;

/// A nickname as it is shown: trimmed, runs of spaces collapsed to one, NFC-normalised,
/// 1..=[`NICKNAME_MAX_CHARS`] chars, with no control, bidi, invisible or private-use chars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Nickname(String);

/// The identity of a nickname for uniqueness: NFKC, then lower-cased, then NFKC again, so
/// that `Ana`, `ANA` and fullwidth `Ａｎａ` are one name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NicknameKey(String);

impl Nickname {
    /// Parses what a user typed. The error says which rule it broke.
    pub fn parse(raw: &str) -> Result<Self, ChatError> {
        let mut display = String::with_capacity(raw.len());
        for word in raw.split(' ').filter(|w| !w.is_empty()) {
            if !display.is_empty() {
                display.push(' ');
            }
            display.push_str(word);
        }
        let display = normalize::nfc(&display);
        if display.is_empty() {
            return Err(ChatError::new(ErrorCode::NicknameEmpty));
        }
        if display.chars().count() > NICKNAME_MAX_CHARS {
            return Err(ChatError::with_limit(ErrorCode::NicknameTooLong, NICKNAME_MAX_CHARS));
        }
        if display.chars().any(refused_in_nickname) {
            return Err(ChatError::new(ErrorCode::NicknameInvalidChar));
        }
        let name = Self(display);
        if RESERVED_NICKNAMES.iter().any(|r| NicknameKey::of(r) == name.key()) {
            return Err(ChatError::new(ErrorCode::NicknameReserved));
        }
        Ok(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> NicknameKey {
        NicknameKey::of(&self.0)
    }
}

impl NicknameKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn of(s: &str) -> Self {
        let folded: String = normalize::nfkc(s).chars().flat_map(char::to_lowercase).collect();
        Self(normalize::nfkc(&folded))
    }
}

impl fmt::Display for Nickname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Nickname {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> ErrorCode {
        Nickname::parse(raw).expect_err(raw).code
    }

    #[test]
    fn trims_collapses_and_normalises() {
        assert_eq!(Nickname::parse("  Ana   Bel ").unwrap().as_str(), "Ana Bel");
        // e + combining acute (NFD) becomes the single precomposed char (NFC).
        assert_eq!(Nickname::parse("Jose\u{301}").unwrap().as_str(), "Jos\u{e9}");
    }

    #[test]
    fn keys_ignore_case_width_and_composition() {
        let k = |s| Nickname::parse(s).unwrap().key();
        assert_eq!(k("Ana"), k("ANA"));
        assert_eq!(k("Ana"), k("\u{FF21}\u{FF4E}\u{FF41}"));
        assert_eq!(k("Jos\u{e9}"), k("JOSE\u{301}"));
        assert_ne!(k("Ana"), k("Anna"));
    }

    #[test]
    fn length_counts_chars_not_bytes() {
        assert!(Nickname::parse(&"가".repeat(NICKNAME_MAX_CHARS)).is_ok());
        assert_eq!(code(&"a".repeat(NICKNAME_MAX_CHARS + 1)), ErrorCode::NicknameTooLong);
    }

    #[test]
    fn refuses_empty_controls_bidi_invisible_reserved() {
        assert_eq!(code(""), ErrorCode::NicknameEmpty);
        assert_eq!(code("   "), ErrorCode::NicknameEmpty);
        assert_eq!(code("a\u{0}b"), ErrorCode::NicknameInvalidChar);
        assert_eq!(code("a\nb"), ErrorCode::NicknameInvalidChar);
        assert_eq!(code("a\tb"), ErrorCode::NicknameInvalidChar);
        assert_eq!(code("evil\u{202E}txt"), ErrorCode::NicknameInvalidChar);
        assert_eq!(code("a\u{200B}b"), ErrorCode::NicknameInvalidChar);
        assert_eq!(code("\u{3164}"), ErrorCode::NicknameInvalidChar);
        assert_eq!(code("System"), ErrorCode::NicknameReserved);
        assert_eq!(code("ＳＹＳＴＥＭ"), ErrorCode::NicknameReserved);
        assert_eq!(code("me"), ErrorCode::NicknameReserved);
    }

    #[test]
    fn accepts_any_script_and_emoji() {
        for ok in ["안녕", "één", "Zoë 🎉", "<img src=x>", "❤\u{FE0F}"] {
            assert!(Nickname::parse(ok).is_ok(), "{ok}");
        }
    }
}
