//! What a line's text holds beyond plain text: http(s) links (made clickable; nothing else is),
//! mentions of a nickname, and the stable colour of a nickname.

use chat_shared::Nickname;

/// How many nickname colours the stylesheet has (`.nc0` … `.nc9`).
pub const NAME_COLOURS: usize = 10;

/// A piece of a line: plain text, or an http(s) link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Link(&'a str),
}

/// Splits `text` into plain text and links. Only `http://` and `https://` start a link (so
/// `javascript:` and other schemes stay text); a link ends at whitespace, and trailing
/// punctuation (and a closing bracket it did not open) is left out of it.
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    // Plain text runs from `plain` to the next link; links are searched for from `from`.
    let (mut plain, mut from) = (0, 0);
    while let Some(start) = find_link_start(&text[from..]).map(|i| from + i) {
        let candidate = &text[start..];
        let end = candidate.find(char::is_whitespace).unwrap_or(candidate.len());
        let link = trim_link(&candidate[..end]);
        if link.len() <= scheme_len(link) {
            from = start + end; // just "https://": text
            continue;
        }
        if start > plain {
            out.push(Segment::Text(&text[plain..start]));
        }
        out.push(Segment::Link(link));
        (plain, from) = (start + link.len(), start + link.len());
    }
    if plain < text.len() {
        out.push(Segment::Text(&text[plain..]));
    }
    out
}

fn find_link_start(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let at = |p: &str| lower.match_indices(p).map(|(i, _)| i).find(|&i| starts_word(s, i));
    match (at("http://"), at("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A link starts a word: `xhttps://` is not a link.
fn starts_word(s: &str, i: usize) -> bool {
    s[..i].chars().next_back().is_none_or(|c| !is_alphanumeric(c))
}

fn scheme_len(link: &str) -> usize {
    if link.to_ascii_lowercase().starts_with("https://") { 8 } else { 7 }
}

fn trim_link(link: &str) -> &str {
    let mut link = link;
    loop {
        let Some(last) = link.chars().next_back() else { return link };
        let unopened = |open: char| link.matches(open).count() < link.matches(last).count();
        let drop = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' | '>' | '<' => true,
            ')' => unopened('('),
            ']' => unopened('['),
            '}' => unopened('{'),
            _ => false,
        };
        if !drop {
            return link;
        }
        link = &link[..link.len() - last.len_utf8()];
    }
}

/// True when `text` mentions `nick` as a word (case-insensitively): "hi ana!" mentions "Ana",
/// "banana" does not.
pub fn mentions(text: &str, nick: &str) -> bool {
    let (text, nick) = (chat_shared::lowercase(text), chat_shared::lowercase(nick));
    if nick.is_empty() {
        return false;
    }
    text.match_indices(&nick).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + nick.len()..].chars().next();
        before.is_none_or(|c| !is_alphanumeric(c)) && after.is_none_or(|c| !is_alphanumeric(c))
    })
}

/// `char::is_alphanumeric` (Unicode's Alphabetic or Numeric). In the browser, a character past
/// ASCII is asked of the browser's regular expressions: Rust's own tables cost the wasm 1.5 KB
/// brotli, and this is asked only at a link's or a mention's edges.
fn is_alphanumeric(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::RegExp::new(r"^[\p{Alphabetic}\p{N}]$", "u").test(c.encode_utf8(&mut [0; 4]))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        c.is_alphanumeric()
    }
}

/// The colour of a nickname (`0..NAME_COLOURS`): the same for everyone, on every page load, and
/// for every spelling the server counts as the same name.
pub fn name_colour(nick: &str) -> usize {
    let key = Nickname::parse(nick).map(|n| n.key().as_str().to_owned()).unwrap_or_else(|_| nick.to_owned());
    // FNV-1a.
    let hash = key.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash as usize % NAME_COLOURS
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Link, Text};

    #[test]
    fn links_are_http_or_https_only() {
        assert_eq!(
            segments("see https://example.com/a?b=1."),
            vec![Text("see "), Link("https://example.com/a?b=1"), Text(".")]
        );
        assert_eq!(segments("javascript:alert(1)"), vec![Text("javascript:alert(1)")]);
        assert_eq!(
            segments("(http://x.org/wiki/A_(b)) ok"),
            vec![Text("("), Link("http://x.org/wiki/A_(b)"), Text(") ok")]
        );
        assert_eq!(segments("xhttps://no https:// nor"), vec![Text("xhttps://no https:// nor")]);
        assert_eq!(
            segments("HTTPS://A.B and http://c.d"),
            vec![Link("HTTPS://A.B"), Text(" and "), Link("http://c.d")]
        );
        assert_eq!(segments(""), vec![]);
        assert_eq!(
            segments("안녕 https://例え.jp/パス 👋"),
            vec![Text("안녕 "), Link("https://例え.jp/パス"), Text(" 👋")]
        );
    }

    #[test]
    fn mentions_are_whole_words() {
        assert!(mentions("hi Ana!", "ana"));
        assert!(mentions("@ana: look", "Ana"));
        assert!(!mentions("banana", "Ana"));
        assert!(!mentions("anything", ""));
    }

    #[test]
    fn colours_are_stable_and_spelling_blind() {
        assert_eq!(name_colour("Ana"), name_colour("ANA"));
        assert!(name_colour("Bob") < NAME_COLOURS);
        let distinct: std::collections::BTreeSet<_> =
            ["Ana", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus"].map(name_colour).into_iter().collect();
        assert!(distinct.len() >= 4, "spread over the palette: {distinct:?}");
    }
}
