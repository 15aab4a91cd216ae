//! `Nickname`: a validated display name, and `NicknameKey`: the form two names are compared in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, ErrorCode};
use crate::limits::{NICKNAME_MAX_CHARS, RESERVED_NICKNAMES};
use crate::normalize;
use crate::text::refused_in_nickname;

/// A nickname as it is shown: trimmed, runs of spaces collapsed to one, NFC-normalised,
/// 1..=[`NICKNAME_MAX_CHARS`] chars, with no control, bidi, invisible or private-use chars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nickname {
    display: String,
    /// Computed once at parse: on the server a key is a confusable skeleton (microseconds),
    /// and every roster check of every line asks for it.
    key: NicknameKey,
}

/// The identity of a nickname, for uniqueness and the reserved names. On the server, a
/// case-insensitive confusable skeleton (Unicode UTS #39): `Ana`, `ANA`, fullwidth `Ａｎａ` and
/// `Аna` with a Cyrillic `А` are one name, and so are `Alex` and `AIex` (capital i); see
/// `normalize::key` for the exact steps. The key is for comparing, not for showing.
///
/// On the page (wasm) it only folds case and width (NFKC, lower case, NFKC), so that the page
/// does not carry the confusables table: the page uses it for colours, the server decides.
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
        let key = NicknameKey::of(&display);
        if reserved_keys().contains(&key) {
            return Err(ChatError::new(ErrorCode::NicknameReserved));
        }
        Ok(Self { display, key })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    pub fn key(&self) -> NicknameKey {
        self.key.clone()
    }
}

/// The keys of [`RESERVED_NICKNAMES`], computed once.
fn reserved_keys() -> &'static [NicknameKey] {
    static KEYS: std::sync::LazyLock<Vec<NicknameKey>> =
        std::sync::LazyLock::new(|| RESERVED_NICKNAMES.iter().map(|r| NicknameKey::of(r)).collect());
    &KEYS
}

impl Serialize for Nickname {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.display)
    }
}

impl NicknameKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn of(s: &str) -> Self {
        Self(normalize::key(s))
    }
}

impl fmt::Display for Nickname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
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
        // The blank Braille pattern looks like a space: `System` + it would pass for `System`.
        assert_eq!(code("System\u{2800}"), ErrorCode::NicknameInvalidChar);
        assert_eq!(code("Ana\u{2800}\u{2800}Bel"), ErrorCode::NicknameInvalidChar);
        assert_eq!(code("System"), ErrorCode::NicknameReserved);
        assert_eq!(code("ＳＹＳＴＥＭ"), ErrorCode::NicknameReserved);
        assert_eq!(code("me"), ErrorCode::NicknameReserved);
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn look_alikes_share_the_key_of_the_name_they_imitate() {
        let k = |s| Nickname::parse(s).unwrap().key();
        // Cyrillic А (U+0410), а (U+0430), Н (U+041D); Greek Α (U+0391).
        for fake in ["\u{410}na", "An\u{430}", "\u{410}N\u{410}", "\u{391}na", "\u{FF21}na"] {
            assert_eq!(k(fake), k("Ana"), "{fake}");
        }
        // All capitals in Cyrillic: М, А, К (their small forms look like nothing Latin).
        assert_eq!(k("\u{41C}\u{410}R\u{41A}"), k("Mark"));
        // Plain ASCII: capital i and digit one for small L, "rn" for "m", zero for O.
        for fake in ["AIex", "A1ex", "ALEX"] {
            assert_eq!(k(fake), k("Alex"), "{fake}");
        }
        assert_eq!(k("Srnith"), k("Smith"));
        assert_eq!(k("0scar"), k("Oscar"));
        // Case and look-alikes together: Greek ΑΝΝΑ looks like ANNA, so its small Αννα is
        // Anna too (though it looks like "Avva").
        assert_eq!(k("\u{391}\u{3BD}\u{3BD}\u{3B1}"), k("Anna"));
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn look_alikes_of_reserved_names_are_reserved() {
        for fake in [
            "\u{405}ystem",                         // Cyrillic Ѕ
            "\u{405}Y\u{405}\u{422}\u{415}\u{41C}", // Cyrillic ЅYЅТЕМ
            "m\u{435}",                             // Cyrillic е
            "\u{41C}\u{415}",                       // Cyrillic МЕ
            "rne",                                  // r, n for m
            "\u{455}erver",                         // Cyrillic ѕ
            "\u{410}dmin",                          // Cyrillic А
            "adm\u{456}n",                          // Cyrillic і
            "m\u{43E}derator",                      // Cyrillic о
        ] {
            assert_eq!(code(fake), ErrorCode::NicknameReserved, "{fake}");
        }
    }

    /// What the skeleton turns into spaces is trimmed and collapsed in the key, as the shown
    /// name's spaces are (a char that does so and is not refused would otherwise make a new
    /// name of `Ana` with a blank after it).
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn a_key_has_no_space_at_its_ends_nor_two_in_a_row() {
        assert_eq!(normalize::key("Ana\u{2800}"), normalize::key("Ana"));
        assert_eq!(normalize::key("\u{2800}Ana"), normalize::key("Ana"));
        assert_eq!(normalize::key("Ana\u{2800} Bel"), normalize::key("Ana Bel"));
        assert_ne!(normalize::key("Ana Bel"), normalize::key("AnaBel"), "one space stays one");
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn keys_stay_case_insensitive_in_every_script() {
        let k = |s| Nickname::parse(s).unwrap().key();
        for (a, b) in [
            ("\u{386}\u{39D}\u{39D}\u{391}", "\u{386}\u{3BD}\u{3BD}\u{3B1}"), // ΆΝΝΑ, Άννα
            ("\u{39D}\u{399}\u{39A}\u{39F}\u{3A3}", "\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C2}"), // ΝΙΚΟΣ, νικος
            ("\u{418}\u{412}\u{410}\u{41D}", "\u{418}\u{432}\u{430}\u{43D}"), // ИВАН, Иван
            ("Stra\u{df}e", "STRASSE"),
        ] {
            assert_eq!(k(a), k(b), "{a} {b}");
        }
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn different_names_in_any_script_keep_different_keys() {
        let names = [
            "Ana",
            "Anna",
            "Ann",
            "Bob",
            "Rob",
            "Zoe",
            "Zo\u{eb}",
            "Jos\u{e9}",
            "Jose",
            "Ivan",
            "\u{418}\u{432}\u{430}\u{43D}",        // Иван
            "\u{418}\u{433}\u{43E}\u{440}\u{44C}", // Игорь
            "\u{386}\u{3BD}\u{3BD}\u{3B1}",        // Άννα
            "\u{39D}\u{3AF}\u{3BA}\u{3BF}\u{3C2}", // Νίκος
            "\u{BBFC}\u{C218}",                    // 민수
            "\u{BBFC}\u{C9C0}",                    // 민지
            "\u{C9C0}\u{C218}",                    // 지수
            "\u{674E}\u{660E}",                    // 李明
            "\u{7530}\u{4E2D}",                    // 田中
            "\u{5C71}\u{7530}",                    // 山田
            "\u{627}\u{62D}\u{645}\u{62F}",        // احمد
        ];
        let keys: std::collections::HashSet<_> =
            names.iter().map(|n| Nickname::parse(n).unwrap().key()).collect();
        assert_eq!(keys.len(), names.len());
    }

    /// What the key does not catch (docs/protocol.md says so): a look-alike of a small letter
    /// whose capital looks like another letter (Greek ν is v, but Ν is N), and one name written
    /// in another script's letters that are not all look-alikes.
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn known_limits_of_the_key() {
        let k = |s| Nickname::parse(s).unwrap().key();
        assert_ne!(k("\u{3BD}ik"), k("vik")); // Greek ν
        assert_ne!(k("\u{418}\u{432}\u{430}\u{43D}"), k("Ivan")); // Иван: a transliteration
    }

    #[test]
    fn accepts_any_script_and_emoji() {
        for ok in ["안녕", "één", "Zoë 🎉", "<img src=x>", "❤\u{FE0F}"] {
            assert!(Nickname::parse(ok).is_ok(), "{ok}");
        }
    }
}
