//! The wire types of moderation: what a moderator asks (`moderate`), what anyone may report
//! (`report`), what the chat says about roles and rules (`roles`), what a moderator reads
//! (`moderation log`), and what the server tells the pages (`line deleted`, `moderated`,
//! `room rules`). docs/protocol.md ("Moderation") describes each.

use serde::{Deserialize, Serialize};

/// `moderate` ({action, ...}, ack): one moderation action. `room` absent or `"general"`:
/// `general`. `reason` (at most [`crate::limits::MODERATION_REASON_MAX_CHARS`] chars) is shown to
/// the person affected by a mute, kick or ban, and kept in the audit log for every action.
/// Ack: `Answer<Done>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Delete one line (by its id) from a room's history and from every page.
    Delete {
        #[serde(default)]
        room: Option<String>,
        id: u64,
        #[serde(default)]
        reason: String,
    },
    /// Delete a person's lines among a room's newest [`crate::limits::PURGE_SCAN_LINES`].
    Purge {
        #[serde(default)]
        room: Option<String>,
        nickname: String,
        #[serde(default)]
        reason: String,
    },
    /// The person reads but cannot post or type, for `minutes`: in `room`, or everywhere
    /// (no `room`; direct messages too).
    Mute {
        nickname: String,
        minutes: u32,
        #[serde(default)]
        room: Option<String>,
        #[serde(default)]
        reason: String,
    },
    /// Ends a mute (in `room`, or the chat-wide one).
    Unmute {
        nickname: String,
        #[serde(default)]
        room: Option<String>,
    },
    /// Disconnect the person now (they may come back).
    Kick {
        nickname: String,
        #[serde(default)]
        reason: String,
    },
    /// Disconnect the person, and refuse their nickname (and with `address`, their address)
    /// for `minutes`.
    Ban {
        nickname: String,
        minutes: u32,
        #[serde(default)]
        address: bool,
        #[serde(default)]
        reason: String,
    },
    /// Ends a ban of the nickname (and of the address it was banned with).
    Unban { nickname: String },
    /// A room's rules: one line per `slow_secs` per person (0: off), only moderators post
    /// (`locked`), its topic. Absent fields stay as they are.
    Rules {
        room: String,
        #[serde(default)]
        slow_secs: Option<u32>,
        #[serde(default)]
        locked: Option<bool>,
        #[serde(default)]
        topic: Option<String>,
    },
    /// The room's owner names (`grant: true`) or un-names a moderator of the room (an owned
    /// nickname).
    RoomModerator { room: String, nickname: String, grant: bool },
    /// A report was dealt with: it leaves the open reports.
    CloseReport { id: u64 },
}

impl Action {
    /// The room the action is about (`None`: `general`, or the whole chat).
    pub fn room(&self) -> Option<&str> {
        match self {
            Self::Delete { room, .. }
            | Self::Purge { room, .. }
            | Self::Mute { room, .. }
            | Self::Unmute { room, .. } => room.as_deref(),
            Self::Rules { room, .. } | Self::RoomModerator { room, .. } => Some(room),
            Self::Kick { .. } | Self::Ban { .. } | Self::Unban { .. } | Self::CloseReport { .. } => None,
        }
    }

    /// The action's name, as on the wire (for the audit log and metrics).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delete { .. } => "delete",
            Self::Purge { .. } => "purge",
            Self::Mute { .. } => "mute",
            Self::Unmute { .. } => "unmute",
            Self::Kick { .. } => "kick",
            Self::Ban { .. } => "ban",
            Self::Unban { .. } => "unban",
            Self::Rules { .. } => "rules",
            Self::RoomModerator { .. } => "room_moderator",
            Self::CloseReport { .. } => "close_report",
        }
    }

    /// Every action's name (metrics are labelled with them).
    pub const NAMES: [&'static str; 10] = [
        "delete",
        "purge",
        "mute",
        "unmute",
        "kick",
        "ban",
        "unban",
        "rules",
        "room_moderator",
        "close_report",
    ];
}

/// The answer to `moderate`: how many lines, people or reports it touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub affected: u64,
}

/// `report` ({room?, id, reason}, ack): a line someone thinks a moderator should see.
/// Ack: `Answer<Filed>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    #[serde(default)]
    pub room: Option<String>,
    pub id: u64,
    #[serde(default)]
    pub reason: String,
}

/// The answer to `report`: the report's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filed {
    pub id: u64,
}

/// `line deleted` ({room, id}): a moderator deleted this line; pages drop it. Also in a
/// history page's `deleted` (lines deleted lately in that room, for pages that were away).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDeleted {
    pub room: String,
    pub id: u64,
}

/// What happened to the person who gets `moderated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sanction {
    Muted,
    Unmuted,
    Kicked,
    Banned,
}

/// `moderated` ({sanction, room?, until?, reason, by}): a moderator acted on this connection's
/// nickname. Sent before a kick or ban disconnects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moderated {
    pub sanction: Sanction,
    /// The room a mute is about (absent: everywhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Until when (ms since the epoch) a mute or ban lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    #[serde(default)]
    pub reason: String,
    /// The moderator's nickname.
    pub by: String,
}

/// A room's rules as `roles` and `room rules` carry them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRules {
    pub room: String,
    /// One line per this many seconds per person (0: no slow mode).
    #[serde(default)]
    pub slow_secs: u32,
    /// Only the room's moderators post.
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub topic: String,
}

/// A room's people with a role: its owner (who created it) and the moderators it named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRoles {
    pub room: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default)]
    pub moderators: Vec<String>,
}

/// The answer to `roles` (ack): the chat's moderators, each room's owner and moderators, and
/// the rules of the rooms that have any. Anyone connected may ask (pages show badges).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub moderators: Vec<String>,
    #[serde(default)]
    pub rooms: Vec<RoomRoles>,
    #[serde(default)]
    pub rules: Vec<RoomRules>,
}

/// One moderation action as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: u64,
    /// When (ms since the epoch).
    pub at: i64,
    /// Who: a moderator's nickname, or `"(operator)"` for the command line.
    pub by: String,
    /// What: the action's name ([`Action::name`], or `grant`/`revoke` from the command line).
    pub action: String,
    /// Whom or what: a nickname, a line's id, a report's id.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default)]
    pub reason: String,
    /// The rest (a mute's minutes, a deleted line's text...), for the reader.
    #[serde(default)]
    pub detail: String,
}

/// A report as moderators read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: u64,
    pub at: i64,
    /// Who reported.
    pub by: String,
    pub room: String,
    /// The line: its id, who said it, what it said (as it was when reported).
    pub line_id: u64,
    pub from: String,
    pub text: String,
    #[serde(default)]
    pub reason: String,
}

/// The answer to `moderation log` (ack): the open reports and the newest actions, at most
/// [`crate::limits::MODERATION_LOG_PAGE`] each, the newest first. A room's moderators see
/// their rooms' only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationLog {
    pub reports: Vec<Report>,
    pub audit: Vec<AuditEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_as_tagged_objects() {
        let read = |s: &str| serde_json::from_str::<Action>(s).ok();
        assert_eq!(
            read(r#"{"action":"delete","id":7}"#),
            Some(Action::Delete { room: None, id: 7, reason: String::new() })
        );
        assert_eq!(
            read(r#"{"action":"mute","nickname":"Bo","minutes":5,"room":"rust","reason":"x"}"#),
            Some(Action::Mute {
                nickname: "Bo".into(),
                minutes: 5,
                room: Some("rust".into()),
                reason: "x".into()
            })
        );
        assert_eq!(read(r#"{"action":"explode"}"#), None);
        assert_eq!(read(r#"{"action":"delete","id":-1}"#), None);
        // Every action's name is listed (metrics show each from the start), and is its tag.
        let nick = || "B".to_owned();
        let every = [
            Action::Delete { room: None, id: 1, reason: String::new() },
            Action::Purge { room: None, nickname: nick(), reason: String::new() },
            Action::Mute { nickname: nick(), minutes: 1, room: None, reason: String::new() },
            Action::Unmute { nickname: nick(), room: None },
            Action::Kick { nickname: nick(), reason: String::new() },
            Action::Ban { nickname: nick(), minutes: 1, address: false, reason: String::new() },
            Action::Unban { nickname: nick() },
            Action::Rules { room: "r".into(), slow_secs: None, locked: None, topic: None },
            Action::RoomModerator { room: "r".into(), nickname: nick(), grant: true },
            Action::CloseReport { id: 1 },
        ];
        assert_eq!(every.iter().map(Action::name).collect::<Vec<_>>(), Action::NAMES);
        for action in &every {
            assert_eq!(serde_json::to_value(action).unwrap()["action"], action.name());
        }
        let ban = Action::Ban { nickname: "B".into(), minutes: 1, address: true, reason: String::new() };
        assert_eq!(read(&serde_json::to_string(&ban).unwrap()), Some(ban.clone()));
        assert!(Action::NAMES.contains(&ban.name()));
    }
}
