//! Property tests of the validators: whatever a client sends, parsing never panics, and what it
//! accepts always satisfies the documented rules.

use chat_shared::limits::{MESSAGE_MAX_CHARS, NICKNAME_MAX_CHARS};
use chat_shared::protocol::SendRequest;
use chat_shared::{MessageText, Nickname};
use proptest::prelude::*;

/// Any text, biased towards the interesting parts of Unicode (controls, bidi, invisibles,
/// combining marks, fullwidth, CJK, emoji).
fn text() -> impl Strategy<Value = String> {
    let interesting = prop::sample::select(vec![
        '\u{0}',
        '\n',
        '\t',
        ' ',
        '\u{7}',
        '\u{202E}',
        '\u{2066}',
        '\u{200B}',
        '\u{200D}',
        '\u{FE0F}',
        '\u{301}',
        '\u{FF21}',
        '가',
        '👋',
        'A',
        'a',
        'é',
        '\u{3164}',
        '\u{E0041}',
        '\u{FEFF}',
        '\u{2028}',
    ]);
    prop::collection::vec(prop_oneof![any::<char>(), interesting], 0..80)
        .prop_map(|v| v.into_iter().collect())
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_bidi_or_zero_width(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn nicknames_accepted_obey_the_rules(raw in text()) {
        if let Ok(nick) = Nickname::parse(&raw) {
            let s = nick.as_str();
            prop_assert!(!s.is_empty() && s.chars().count() <= NICKNAME_MAX_CHARS);
            prop_assert_eq!(s.trim(), s);
            prop_assert!(!s.contains("  "));
            prop_assert!(s.chars().all(|c| !c.is_control() && (c == ' ' || !c.is_whitespace())));
            prop_assert!(!s.chars().any(is_bidi_or_zero_width));
            // Parsing is idempotent, and the key ignores case.
            let again = Nickname::parse(s).expect("an accepted name parses again");
            prop_assert_eq!(&again, &nick);
            if let Ok(upper) = Nickname::parse(&s.to_uppercase()) {
                prop_assert_eq!(upper.key(), Nickname::parse(&s.to_lowercase()).map(|n| n.key()).unwrap_or(upper.key()));
            }
        }
    }

    #[test]
    fn messages_accepted_obey_the_rules(raw in text()) {
        if let Ok(m) = MessageText::parse(&raw) {
            let s = m.as_str();
            prop_assert!(!s.is_empty() && s.chars().count() <= MESSAGE_MAX_CHARS);
            prop_assert_eq!(s.trim(), s);
            prop_assert!(s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
            prop_assert!(!s.chars().any(is_bidi));
        }
    }

    #[test]
    fn any_json_arguments_parse_or_refuse(json in "[\\[\\]{}\",:0-9a-z \\\\]{0,60}") {
        let _ = serde_json::from_str::<SendRequest>(&json);
        let _ = serde_json::from_str::<Nickname>(&json);
    }
}

/// Latin letters and a look-alike of each from another script (Cyrillic, Greek), or ASCII
/// (capital I and digit one for small L, zero for O).
const LOOK_ALIKES: &[(char, char)] = &[
    ('a', '\u{430}'), // Cyrillic а
    ('A', '\u{410}'), // Cyrillic А
    ('A', '\u{391}'), // Greek Α
    ('B', '\u{412}'), // Cyrillic В
    ('c', '\u{441}'), // Cyrillic с
    ('C', '\u{421}'), // Cyrillic С
    ('e', '\u{435}'), // Cyrillic е
    ('E', '\u{415}'), // Cyrillic Е
    ('H', '\u{41D}'), // Cyrillic Н
    ('i', '\u{456}'), // Cyrillic і
    ('j', '\u{458}'), // Cyrillic ј
    ('K', '\u{41A}'), // Cyrillic К
    ('l', 'I'),
    ('l', '1'),
    ('M', '\u{41C}'), // Cyrillic М
    ('o', '\u{43E}'), // Cyrillic о
    ('o', '\u{3BF}'), // Greek ο
    ('O', '0'),
    ('p', '\u{440}'), // Cyrillic р
    ('P', '\u{420}'), // Cyrillic Р
    ('s', '\u{455}'), // Cyrillic ѕ
    ('S', '\u{405}'), // Cyrillic Ѕ
    ('T', '\u{422}'), // Cyrillic Т
    ('x', '\u{445}'), // Cyrillic х
    ('X', '\u{3A7}'), // Greek Χ
    ('y', '\u{443}'), // Cyrillic у
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A name spelt with look-alikes in place of any of its letters is the same name (the
    /// server's key; the page does not carry the confusables table).
    #[test]
    fn look_alike_spellings_share_one_key(
        picks in prop::collection::vec((0..LOOK_ALIKES.len(), any::<bool>(), "[a-z ]{0,2}"), 1..8),
    ) {
        let mut real = String::new();
        let mut fake = String::new();
        for (i, swap, filler) in picks {
            let (latin, other) = LOOK_ALIKES[i];
            real.push(latin);
            fake.push(if swap { other } else { latin });
            real.push_str(&filler);
            fake.push_str(&filler);
        }
        if let Ok(real) = Nickname::parse(&real) {
            let fake = Nickname::parse(&fake).expect("a look-alike of a valid name parses too");
            prop_assert_eq!(real.key(), fake.key(), "{} / {}", real, fake);
        }
    }
}
