//! The conversation as the page lays it out: day separators between lines of different (local)
//! days, consecutive lines from one sender grouped under one name, and the "new messages" marker.

use crate::state::{Body, Line};

/// Lines from one sender this close together (ms) are grouped under one name.
pub const GROUP_WITHIN_MS: i64 = 5 * 60 * 1000;

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// The start of a day (days since the epoch, local time); `at` is a time in it.
    Day { day: i64, at: i64 },
    /// "New messages": the lines below arrived while the reader was scrolled up.
    NewMarker,
    /// A line; `grouped` when it continues the previous line's sender.
    Line { line: Line, grouped: bool },
}

/// A stable key per row (for keyed rendering): a line's row is rendered again only when its
/// grouping changes (its status and time update in place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKey {
    Day(i64),
    NewMarker,
    Line(u64, bool),
}

impl Row {
    pub fn key(&self) -> RowKey {
        match self {
            Self::Day { day, .. } => RowKey::Day(*day),
            Self::NewMarker => RowKey::NewMarker,
            Self::Line { line, grouped } => RowKey::Line(line.key, *grouped),
        }
    }
}

/// Who said a line, for grouping.
#[derive(PartialEq, Eq)]
enum Sender<'a> {
    Me,
    Someone(&'a str),
}

/// Who said a line (`None` for announcements and notes: never grouped).
fn sender(line: &Line) -> Option<Sender<'_>> {
    match &*line.body {
        Body::User { from, .. } => Some(Sender::Someone(from)),
        Body::Mine { .. } => Some(Sender::Me),
        _ => None,
    }
}

/// Lays out `lines`; `day_of` gives the local day of a time, `marker` the key of the first line
/// that arrived while the reader was scrolled up.
pub fn rows<'a>(
    lines: impl IntoIterator<Item = &'a Line>,
    day_of: impl Fn(i64) -> i64,
    marker: Option<u64>,
) -> Vec<Row> {
    let mut out = Vec::new();
    let mut prev: Option<&Line> = None;
    for line in lines {
        let day = day_of(line.at);
        let new_day = prev.is_none_or(|p| day_of(p.at) != day);
        if new_day {
            out.push(Row::Day { day, at: line.at });
        }
        let marked = marker == Some(line.key);
        if marked {
            out.push(Row::NewMarker);
        }
        let grouped = !new_day
            && !marked
            && prev.is_some_and(|p| {
                sender(p).is_some_and(|s| Some(s) == sender(line))
                    && (line.at - p.at).abs() <= GROUP_WITHIN_MS
            });
        out.push(Row::Line { line: line.clone(), grouped });
        prev = Some(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::state::{Announced, SendStatus};

    const DAY: i64 = 86_400_000;

    fn user(key: u64, at: i64, from: &str) -> Line {
        let body = Arc::new(Body::User { from: from.into(), text: "t".into() });
        Line { key, id: Some(key), at, body, status: None }
    }

    fn shape(rows: &[Row]) -> String {
        rows.iter()
            .map(|r| match r {
                Row::Day { day, .. } => format!("D{day}"),
                Row::NewMarker => "N".to_owned(),
                Row::Line { line, grouped: true } => format!("+{}", line.key),
                Row::Line { line, grouped: false } => format!("{}", line.key),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn days_groups_and_the_marker() {
        let mine = Line {
            key: 6,
            id: None,
            at: DAY + 4,
            body: Arc::new(Body::Mine { text: "m".into(), key: "k".into() }),
            status: Some(SendStatus::Pending),
        };
        let lines = vec![
            user(1, 10, "Ana"),
            user(2, 20, "Ana"),
            user(3, 20 + GROUP_WITHIN_MS + 1, "Ana"), // too long after: a new group
            user(4, DAY + 1, "Ana"),                  // a new day: a new group
            Line {
                key: 5,
                id: None,
                at: DAY + 2,
                body: Arc::new(Body::Announcement(Announced::Connected("Bob".into()))),
                status: None,
            },
            mine.clone(),
            Line { key: 7, ..mine.clone() },
            user(8, DAY + 5, "Bob"),
            user(9, DAY + 6, "Bob"),
        ];
        let got = rows(&lines, |t| t.div_euclid(DAY), Some(9));
        assert_eq!(shape(&got), "D0 1 +2 3 D1 4 5 6 +7 8 N 9");
    }
}
