//! Character rules shared by nicknames and messages: which chars are never accepted.

/// Bidirectional embedding/override/isolate controls (the "Trojan Source" characters).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{200E}' | '\u{200F}')
}

/// Chars that render as nothing (or as blank) and so let two names look alike (U+2800, the
/// blank Braille pattern, is not whitespace to Unicode but looks like a space).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200D}' | '\u{2028}' | '\u{2029}'
        | '\u{2060}'..='\u{2065}' | '\u{206A}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0D}'
        | '\u{2800}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

fn is_private_or_unassigned_plane(c: char) -> bool {
    matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{10FFFF}')
}

/// Refused in a nickname: any control, bidi control, invisible or private-use char, and
/// any whitespace other than a plain space.
pub(crate) fn refused_in_nickname(c: char) -> bool {
    c.is_control()
        || is_bidi_control(c)
        || is_invisible(c)
        || is_private_or_unassigned_plane(c)
        || (c.is_whitespace() && c != ' ')
}

/// Refused in a message: controls other than newline and tab, and bidi controls.
/// Zero-width joiners and variation selectors stay allowed: emoji sequences need them.
pub(crate) fn refused_in_message(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Refused in a one-line text a client sends for others to read (a room's topic, a moderation
/// or report reason): every control char, and what a message refuses (bidi controls, line and
/// paragraph separators), so that it cannot reorder what is shown around it.
pub fn refused_in_line(c: char) -> bool {
    c.is_control() || refused_in_message(c)
}
