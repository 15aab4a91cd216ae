//! Where the page talks: the original's room (`general`), another room, or a direct
//! conversation with one owned nickname; how the address bar names each (`#/r/<room>`,
//! `#/dm/<nickname>`), and what the side list says of one not shown now.

use chat_shared::{Nickname, RoomName};

/// A channel of the side list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ChannelId {
    #[default]
    General,
    Room(String),
    /// With this nickname.
    Direct(String),
}

impl ChannelId {
    /// The channel an address's fragment names (`#/r/crafts`, `#/dm/Ana`; percent-encoded);
    /// None for anything else (the page then stays where it is).
    pub fn from_fragment(fragment: &str) -> Option<Self> {
        let path = fragment.strip_prefix('#').unwrap_or(fragment);
        let decoded = percent_decode(path)?;
        if let Some(room) = decoded.strip_prefix("/r/") {
            let name = RoomName::parse(room).ok()?;
            return Some(if name.is_general() { Self::General } else { Self::Room(name.to_string()) });
        }
        if let Some(nick) = decoded.strip_prefix("/dm/") {
            return Nickname::parse(nick).ok().map(|n| Self::Direct(n.to_string()));
        }
        None
    }

    /// The channel of a room's name as the server sends it (`general` is the general channel).
    pub fn of_room(room: &str) -> Self {
        match room {
            chat_shared::room::GENERAL => Self::General,
            name => Self::Room(name.to_owned()),
        }
    }

    /// The room's name as the server takes it (None: a direct conversation, which no
    /// moderator reads).
    pub fn room_name(&self) -> Option<&str> {
        match self {
            Self::General => Some(chat_shared::room::GENERAL),
            Self::Room(name) => Some(name),
            Self::Direct(_) => None,
        }
    }

    /// The fragment that names this channel.
    pub fn fragment(&self) -> String {
        match self {
            Self::General => "#/r/general".to_owned(),
            Self::Room(name) => format!("#/r/{}", percent_encode(name)),
            Self::Direct(nick) => format!("#/dm/{}", percent_encode(nick)),
        }
    }

    /// How the side list and the header name it: `# crafts`, `@ Ana`.
    pub fn label(&self) -> String {
        match self {
            Self::General => format!("# {}", chat_shared::room::GENERAL),
            Self::Room(name) => format!("# {name}"),
            Self::Direct(nick) => format!("@ {nick}"),
        }
    }
}

/// What the side list shows beside a channel not shown now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Badge {
    pub unread: u32,
    /// One of them mentions the reader (or, in a direct conversation, any line does).
    pub mentioned: bool,
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A few values by channel (a page has a handful of channels): a list searched in order, which
/// costs the page's wasm much less code than a `BTreeMap` per value type.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMap<T>(Vec<(ChannelId, T)>);

impl<T> Default for ChannelMap<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> ChannelMap<T> {
    pub fn get(&self, channel: &ChannelId) -> Option<&T> {
        self.0.iter().find(|(c, _)| c == channel).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, channel: &ChannelId) -> Option<&mut T> {
        self.0.iter_mut().find(|(c, _)| c == channel).map(|(_, v)| v)
    }

    pub fn remove(&mut self, channel: &ChannelId) -> Option<T> {
        let at = self.0.iter().position(|(c, _)| c == channel)?;
        Some(self.0.swap_remove(at).1)
    }

    /// Sets `channel`'s value (replacing what it had).
    pub fn insert(&mut self, channel: ChannelId, value: T) {
        self.remove(&channel);
        self.0.push((channel, value));
    }

    /// `channel`'s value, `value` put there first if it had none.
    pub fn or_insert(&mut self, channel: ChannelId, value: T) -> &mut T {
        let at = match self.0.iter().position(|(c, _)| *c == channel) {
            Some(at) => at,
            None => {
                self.0.push((channel, value));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }

    pub fn or_default(&mut self, channel: ChannelId) -> &mut T
    where
        T: Default,
    {
        self.or_insert(channel, T::default())
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&ChannelId, &T) -> bool) {
        self.0.retain(|(c, v)| keep(c, v));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ChannelId, &T)> {
        self.0.iter().map(|(c, v)| (c, v))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

impl<T> FromIterator<(ChannelId, T)> for ChannelMap<T> {
    fn from_iter<I: IntoIterator<Item = (ChannelId, T)>>(items: I) -> Self {
        let mut map = Self::default();
        for (channel, value) in items {
            map.insert(channel, value);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::ChannelId;

    #[test]
    fn fragments_name_channels_and_come_back() {
        for channel in [
            ChannelId::General,
            ChannelId::Room("crafts".into()),
            ChannelId::Room("한국어".into()),
            ChannelId::Direct("Ana Bo".into()),
        ] {
            assert_eq!(ChannelId::from_fragment(&channel.fragment()), Some(channel.clone()), "{channel:?}");
        }
        assert_eq!(ChannelId::from_fragment("#/r/Crafts"), Some(ChannelId::Room("crafts".into())));
        assert_eq!(ChannelId::from_fragment("#/r/GENERAL"), Some(ChannelId::General));
        for nothing in ["", "#", "#/x/y", "#/r/", "#/r/a b", "#/r/%ZZ", "#/dm/", "#/dm/%E0%A4"] {
            assert_eq!(ChannelId::from_fragment(nothing), None, "{nothing:?}");
        }
    }
}
