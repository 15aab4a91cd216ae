//! Who is online, kept in the online list's order (case-insensitive) as a sorted set: a name
//! comes or goes in O(log n), where a list needed a search per name and a re-sort of everyone.

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Online(BTreeSet<(String, String)>);

impl Online {
    fn entry(name: String) -> (String, String) {
        (chat_shared::lowercase(&name), name)
    }

    pub fn insert(&mut self, name: String) -> bool {
        self.0.insert(Self::entry(name))
    }

    pub fn remove(&mut self, name: &str) -> bool {
        self.0.remove(&Self::entry(name.to_owned()))
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Everyone online, in the list's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, name)| name.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FromIterator<String> for Online {
    fn from_iter<I: IntoIterator<Item = String>>(names: I) -> Self {
        Self(names.into_iter().map(Self::entry).collect())
    }
}
