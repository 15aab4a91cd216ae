//! The embedded history: one SQLite file in the data directory, WAL mode, each batch
//! committed with a full sync before anything is acknowledged.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chat_shared::protocol::{HistoryMessage, HistoryPage, HistoryRequest};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::clock::now_ms;

use super::{
    Appended, Channel, DirectThread, History, HistoryError, NewMessage, Ownership, Party, Reservation,
    ReservationChange, Retention, StoredRoom,
};
use chat_shared::room::GENERAL;

pub struct SqliteHistory {
    /// Writes go through one connection (one writer at a time is SQLite's rule anyway)...
    writer: Mutex<Connection>,
    /// ...reads through another, which WAL lets run beside the writer.
    reader: Mutex<Connection>,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS messages (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        ts   INTEGER NOT NULL,
        nick TEXT NOT NULL,
        text TEXT NOT NULL,
        key  TEXT,
        UNIQUE (nick, key)
    );
    -- The newest timestamp (every commit) and the age limit (every prune) are found through
    -- this index rather than a scan of the whole table. Added to existing files on open.
    CREATE INDEX IF NOT EXISTS messages_ts ON messages (ts);
    CREATE TABLE IF NOT EXISTS reservations (
        nickname_key TEXT PRIMARY KEY,
        nickname     TEXT NOT NULL,
        token        TEXT NOT NULL,
        expires_at   INTEGER NOT NULL,
        tenure       TEXT
    );
    CREATE TABLE IF NOT EXISTS rooms (
        name       TEXT PRIMARY KEY,
        topic      TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    -- The rooms each ownership (tenure) is in.
    CREATE TABLE IF NOT EXISTS memberships (
        tenure TEXT NOT NULL,
        room   TEXT NOT NULL,
        PRIMARY KEY (tenure, room)
    );
    -- Each side's list of its direct conversations (kept by `append`, in the lines' transaction).
    CREATE TABLE IF NOT EXISTS directs (
        tenure        TEXT NOT NULL,
        peer_tenure   TEXT NOT NULL,
        peer_nickname TEXT NOT NULL,
        last_id       INTEGER NOT NULL,
        last_ts       INTEGER NOT NULL,
        PRIMARY KEY (tenure, peer_tenure)
    );
    CREATE TABLE IF NOT EXISTS owners (
        nickname_key TEXT PRIMARY KEY,
        nickname     TEXT NOT NULL,
        owner_hash   TEXT NOT NULL,
        tenure       TEXT NOT NULL,
        expires_at   INTEGER NOT NULL
    );
";

/// Databases made before tokens were hashed have no `tenure` column: their `token` is the
/// plain token (read back as such, and hashed from then on). Databases made before rooms have
/// no `room` column: their lines are `general`'s.
fn migrate(conn: &Connection) -> Result<(), HistoryError> {
    let has_room: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'room'", [], |r| r.get(0))
        .map_err(err)?;
    if has_room == 0 {
        conn.execute_batch("ALTER TABLE messages ADD COLUMN room TEXT NOT NULL DEFAULT 'general'")
            .map_err(err)?;
    }
    // A room's pages are found through this index rather than a scan of every room's lines.
    conn.execute_batch("CREATE INDEX IF NOT EXISTS messages_room ON messages (room, id)").map_err(err)?;
    let has_tenure: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_table_info('reservations') WHERE name = 'tenure'", [], |r| {
            r.get(0)
        })
        .map_err(err)?;
    if has_tenure == 0 {
        conn.execute_batch("ALTER TABLE reservations ADD COLUMN tenure TEXT").map_err(err)?;
    }
    Ok(())
}

/// The newest timestamp (None: no messages).
const NEWEST_TS: &str = "SELECT MAX(ts) FROM messages";
/// Drops the messages older than ?1 (ms).
/// Puts a conversation at the top of one side's list: (tenure, peer tenure, peer nickname, id,
/// ts).
const LIST_DIRECT: &str = "INSERT INTO directs (tenure, peer_tenure, peer_nickname, last_id, last_ts)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (tenure, peer_tenure) DO UPDATE SET peer_nickname = ?3, last_id = ?4, last_ts = ?5";

const PRUNE_AGE: &str = "DELETE FROM messages WHERE ts < ?1";

fn err(e: impl std::fmt::Display) -> HistoryError {
    HistoryError(e.to_string())
}

impl SqliteHistory {
    /// Opens (or creates) `path`; `sync` is SQLite's `synchronous` setting (`FULL`: durable).
    pub fn open(path: &Path, sync: &str) -> Result<Self, HistoryError> {
        let open = || -> Result<Connection, HistoryError> {
            let c = Connection::open(path).map_err(|e| HistoryError(format!("{}: {e}", path.display())))?;
            c.busy_timeout(super::SQLITE_BUSY_TIMEOUT).map_err(err)?;
            c.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
            c.pragma_update(None, "synchronous", sync).map_err(err)?;
            Ok(c)
        };
        let writer = open()?;
        writer.execute_batch(SCHEMA).map_err(err)?;
        migrate(&writer)?;
        let reader = open()?;
        Ok(Self { writer: Mutex::new(writer), reader: Mutex::new(reader) })
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn row_to_message(row: &rusqlite::Row<'_>) -> rusqlite::Result<HistoryMessage> {
    Ok(HistoryMessage {
        id: row.get::<_, i64>(0)? as u64,
        ts: row.get(1)?,
        from: row.get(2)?,
        text: row.get(3)?,
    })
}

/// Applies `retention` inside `tx`: the age limit, then each history's cap (the per-history
/// limit, or the level the total cuts the longest histories to, whichever is lower). How many
/// lines went.
fn prune_in(tx: &rusqlite::Transaction<'_>, retention: Retention) -> rusqlite::Result<u64> {
    let mut dropped = 0;
    if retention.max_age_secs > 0 {
        let cutoff = now_ms() - (retention.max_age_secs as i64) * 1000;
        dropped += tx.execute(PRUNE_AGE, params![cutoff])? as u64;
    }
    if retention.max_messages == 0 && retention.max_total == 0 {
        return Ok(dropped);
    }
    // Each history's size (through the `(room, id)` index), then the one cap for all.
    let sizes: Vec<(String, u64)> = {
        let mut stmt = tx.prepare_cached("SELECT room, COUNT(*) FROM messages GROUP BY room")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        rows.collect::<Result<_, _>>()?
    };
    let each = (retention.max_messages > 0).then_some(retention.max_messages);
    let shared = retention.total_cap(&sizes.iter().map(|(_, n)| *n).collect::<Vec<_>>());
    let Some(cap) = each.into_iter().chain(shared).min() else { return Ok(dropped) };
    for (room, _) in sizes.iter().filter(|(_, n)| *n > cap) {
        dropped += tx.execute(
            "DELETE FROM messages WHERE room = ?1 AND id <= (
                 SELECT id FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            params![room, cap as i64],
        )? as u64;
    }
    Ok(dropped)
}

impl History for SqliteHistory {
    fn append(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, HistoryError> {
        let mut conn = self.writer();
        // Immediate: the write lock is taken first, waiting out another holder (a backup, an
        // operator's query) for the busy timeout. A deferred transaction reads first, and its
        // upgrade to a writer fails at once while another process holds the lock.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut out = Vec::with_capacity(batch.len());
        {
            // One step down the ts index (a bare MAX is what SQLite answers from it).
            let last_ts: Option<i64> = tx.query_row(NEWEST_TS, [], |r| r.get(0)).map_err(err)?;
            // Timestamps never go backwards, even if the clock does.
            let ts = now_ms().max(last_ts.unwrap_or(0));
            let mut find = tx
                .prepare_cached("SELECT id, ts, nick, text FROM messages WHERE nick = ?1 AND key = ?2")
                .map_err(err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO messages (ts, nick, text, key, room) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(err)?;
            for m in batch {
                if let Some(key) = &m.key
                    && let Some(earlier) =
                        find.query_row(params![m.from, key], row_to_message).optional().map_err(err)?
                {
                    out.push(Appended { message: earlier, new: false });
                    continue;
                }
                insert.execute(params![ts, m.from, m.text, m.key, m.channel.key()]).map_err(err)?;
                let id = tx.last_insert_rowid() as u64;
                if let Channel::Direct(direct) = &m.channel {
                    let mut listed = tx.prepare_cached(LIST_DIRECT).map_err(err)?;
                    for (me, peer) in [(&direct.from, &direct.to), (&direct.to, &direct.from)] {
                        listed
                            .execute(params![me.tenure, peer.tenure, peer.nickname, id as i64, ts])
                            .map_err(err)?;
                    }
                }
                out.push(Appended {
                    message: HistoryMessage { id, ts, from: m.from.clone(), text: m.text.clone() },
                    new: true,
                });
            }
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    fn page(&self, request: &HistoryRequest) -> Result<HistoryPage, HistoryError> {
        use super::Span;
        let limit = super::page_limit(request);
        let span = Span::of(request);
        if span == Span::Nothing {
            return Ok(HistoryPage::default());
        }
        let conn = self.reader();
        let room = request.room.as_deref().unwrap_or(GENERAL);
        // Resuming across lines that retention dropped: the recent tail, marked as a gap.
        let gap = match span {
            Span::After(after) => {
                let oldest: Option<i64> = conn
                    .query_row("SELECT MIN(id) FROM messages WHERE room = ?1", params![room], |r| r.get(0))
                    .map_err(err)?;
                super::gap_after(after, oldest.map(|id| id as u64))
            }
            _ => false,
        };
        // Every bound is at most `MAX_ID` (`Span`): it fits an i64.
        let (sql, bound) = match span {
            Span::After(after) if !gap => (
                "SELECT id, ts, nick, text FROM messages WHERE room = ?3 AND id > ?1 ORDER BY id ASC LIMIT ?2",
                after as i64,
            ),
            Span::Before(before) => (
                "SELECT id, ts, nick, text FROM messages WHERE room = ?3 AND id < ?1 ORDER BY id DESC LIMIT ?2",
                before as i64,
            ),
            _ => (
                "SELECT id, ts, nick, text FROM messages WHERE room = ?3 AND id < ?1 ORDER BY id DESC LIMIT ?2",
                i64::MAX,
            ),
        };
        let ascending = matches!(span, Span::After(_)) && !gap;
        let mut stmt = conn.prepare_cached(sql).map_err(err)?;
        let rows = stmt.query_map(params![bound, limit + 1, room], row_to_message).map_err(err)?;
        let taken = super::take_page(rows, limit).map_err(err)?;
        Ok(super::assemble(taken, limit, gap, ascending))
    }

    fn delete(&self, history_key: &str, id: u64) -> Result<Option<HistoryMessage>, HistoryError> {
        if id > super::MAX_ID {
            return Ok(None);
        }
        let conn = self.writer();
        conn.query_row(
            "DELETE FROM messages WHERE room = ?1 AND id = ?2 RETURNING id, ts, nick, text",
            params![history_key, id as i64],
            row_to_message,
        )
        .optional()
        .map_err(err)
    }

    fn prune(&self, retention: Retention) -> Result<u64, HistoryError> {
        let mut conn = self.writer();
        // One commit (one sync) for the whole prune: the writer waits for this lock.
        let tx = conn.transaction().map_err(err)?;
        let dropped = prune_in(&tx, retention).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(dropped)
    }

    fn reserve(&self, changes: &[ReservationChange]) -> Result<(), HistoryError> {
        let mut conn = self.writer();
        let tx = conn.transaction().map_err(err)?;
        for change in changes {
            match change {
                ReservationChange::Save(r) => tx.execute(
                    "INSERT INTO reservations (nickname_key, nickname, token, expires_at, tenure)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (nickname_key) DO UPDATE SET nickname = ?2, token = ?3, expires_at = ?4, tenure = ?5",
                    params![r.nickname_key, r.nickname, r.token_hash, r.expires_at, r.tenure],
                ),
                ReservationChange::Drop(key) => {
                    tx.execute("DELETE FROM reservations WHERE nickname_key = ?1", params![key])
                }
                ReservationChange::Own(o) => tx.execute(
                    "INSERT INTO owners (nickname_key, nickname, owner_hash, tenure, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (nickname_key) DO UPDATE SET nickname = ?2, owner_hash = ?3, tenure = ?4, expires_at = ?5",
                    params![o.nickname_key, o.nickname, o.owner_hash, o.tenure, o.expires_at],
                ),
                ReservationChange::Disown(key) => {
                    tx.execute("DELETE FROM owners WHERE nickname_key = ?1", params![key])
                }
                ReservationChange::Member { tenure, room, joined: true } => tx.execute(
                    "INSERT OR IGNORE INTO memberships (tenure, room) VALUES (?1, ?2)",
                    params![tenure, room],
                ),
                ReservationChange::Member { tenure, room, joined: false } => tx.execute(
                    "DELETE FROM memberships WHERE tenure = ?1 AND room = ?2",
                    params![tenure, room],
                ),
                ReservationChange::OwnershipEnded(tenure) => {
                    tx.execute("DELETE FROM memberships WHERE tenure = ?1", params![tenure]).map_err(err)?;
                    tx.execute("DELETE FROM directs WHERE tenure = ?1", params![tenure])
                }
                ReservationChange::Room(r) => tx.execute(
                    "INSERT INTO rooms (name, topic, created_by, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE SET topic = ?2",
                    params![r.name, r.topic, r.created_by, r.created_at],
                ),
            }
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn reservations(&self) -> Result<Vec<Reservation>, HistoryError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare(
                "SELECT nickname, nickname_key, token, expires_at, tenure FROM reservations WHERE expires_at > ?1",
            )
            .map_err(err)?;
        stmt.query_map(params![now_ms()], |r| {
            Ok(Reservation {
                nickname: r.get(0)?,
                nickname_key: r.get(1)?,
                token_hash: r.get(2)?,
                expires_at: r.get(3)?,
                tenure: r.get(4)?,
            })
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)
    }

    fn rooms(&self) -> Result<Vec<StoredRoom>, HistoryError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare("SELECT name, topic, created_by, created_at FROM rooms ORDER BY name")
            .map_err(err)?;
        stmt.query_map([], |r| {
            Ok(StoredRoom { name: r.get(0)?, topic: r.get(1)?, created_by: r.get(2)?, created_at: r.get(3)? })
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)
    }

    fn drop_ended_ownerships(&self) -> Result<u64, HistoryError> {
        let mut conn = self.writer();
        let tx = conn.transaction().map_err(err)?;
        let mut dropped = 0;
        for table in ["memberships", "directs"] {
            let sql = format!(
                "DELETE FROM {table} WHERE tenure NOT IN (SELECT tenure FROM owners WHERE expires_at > ?1)"
            );
            dropped += tx.execute(&sql, params![now_ms()]).map_err(err)? as u64;
        }
        tx.commit().map_err(err)?;
        Ok(dropped)
    }

    fn memberships(&self) -> Result<Vec<(String, String)>, HistoryError> {
        let conn = self.reader();
        let mut stmt = conn.prepare("SELECT tenure, room FROM memberships").map_err(err)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)
    }

    fn directs(&self, tenure: &str, limit: usize) -> Result<Vec<DirectThread>, HistoryError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT peer_nickname, peer_tenure, last_id, last_ts FROM directs WHERE tenure = ?1
                 ORDER BY last_id DESC LIMIT ?2",
            )
            .map_err(err)?;
        stmt.query_map(params![tenure, limit as i64], |r| {
            Ok(DirectThread {
                peer: Party { nickname: r.get(0)?, tenure: r.get(1)? },
                last_id: r.get::<_, i64>(2)? as u64,
                last_ts: r.get(3)?,
            })
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)
    }

    fn owners(&self) -> Result<Vec<Ownership>, HistoryError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare(
                "SELECT nickname, nickname_key, owner_hash, tenure, expires_at FROM owners WHERE expires_at > ?1",
            )
            .map_err(err)?;
        stmt.query_map(params![now_ms()], |r| {
            Ok(Ownership {
                nickname: r.get(0)?,
                nickname_key: r.get(1)?,
                owner_hash: r.get(2)?,
                tenure: r.get(3)?,
                expires_at: r.get(4)?,
            })
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)
    }

    fn check(&self) -> Result<(), HistoryError> {
        self.reader()
            .query_row("SELECT COUNT(*) FROM reservations", [], |r| r.get::<_, i64>(0))
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (SqliteHistory, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "chat-history-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        (SqliteHistory::open(&dir.join("chat.sqlite3"), "FULL").unwrap(), dir)
    }

    fn msg(text: &str, key: Option<&str>) -> NewMessage {
        NewMessage {
            channel: Channel::General,
            from: "Ana".into(),
            text: text.into(),
            key: key.map(str::to_owned),
        }
    }

    #[test]
    fn ids_are_ordered_keys_are_idempotent_pages_and_gaps() {
        let (h, dir) = store();
        let first = h.append(&[msg("a", Some("k1")), msg("b", None), msg("c", Some("k3"))]).unwrap();
        let ids: Vec<u64> = first.iter().map(|a| a.message.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        let again = h.append(&[msg("a again", Some("k1")), msg("d", Some("k4"))]).unwrap();
        assert_eq!((again[0].new, again[0].message.id, again[0].message.text.as_str()), (false, 1, "a"));
        assert_eq!((again[1].new, again[1].message.id), (true, 4));

        let newest = h.page(&HistoryRequest { limit: Some(2), ..Default::default() }).unwrap();
        assert_eq!(newest.messages.iter().map(|m| m.id).collect::<Vec<_>>(), vec![3, 4]);
        assert!(newest.more);
        let older = h.page(&HistoryRequest { before: Some(3), ..Default::default() }).unwrap();
        assert_eq!(older.messages.iter().map(|m| m.id).collect::<Vec<_>>(), vec![1, 2]);
        assert!(!older.more);
        let resume = h.page(&HistoryRequest { after: Some(2), ..Default::default() }).unwrap();
        assert_eq!(resume.messages.iter().map(|m| m.id).collect::<Vec<_>>(), vec![3, 4]);
        assert!(!resume.gap);

        assert_eq!(h.prune(Retention { max_messages: 2, ..Retention::EVERYTHING }).unwrap(), 2);
        let after_prune =
            h.page(&HistoryRequest { after: Some(1), limit: Some(1), ..Default::default() }).unwrap();
        assert!(after_prune.gap, "message 2 is gone");
        assert_eq!(after_prune.messages.iter().map(|m| m.id).collect::<Vec<_>>(), vec![4], "the recent tail");
        assert!(!after_prune.more);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A flood in one room (a room of one's own, a conversation between one's own names) cannot
    /// push `general`'s lines out: each history keeps its own, and a total cuts the longest first.
    #[test]
    fn each_history_keeps_its_own_lines_and_a_total_cuts_the_longest_first() {
        let (h, dir) = store();
        let lines = |channel: Channel, n: u64| -> Vec<NewMessage> {
            (0..n)
                .map(|i| NewMessage { channel: channel.clone(), text: i.to_string(), ..msg("", None) })
                .collect()
        };
        let room = |name: &str| Channel::Room(chat_shared::RoomName::parse(name).unwrap());
        h.append(&lines(Channel::General, 5)).unwrap();
        h.append(&lines(room("flood"), 100)).unwrap();
        h.append(&lines(room("busy"), 100)).unwrap();
        let sizes = || -> Vec<(String, i64)> {
            let conn = h.reader();
            let mut stmt =
                conn.prepare("SELECT room, COUNT(*) FROM messages GROUP BY room ORDER BY room").unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
        };
        let each = Retention { max_messages: 50, ..Retention::EVERYTHING };
        assert_eq!(h.prune(each).unwrap(), 100);
        assert_eq!(sizes(), [("busy".into(), 50), ("flood".into(), 50), ("general".into(), 5)]);
        let total = Retention { max_total: 65, ..Retention::EVERYTHING };
        assert_eq!(h.prune(total).unwrap(), 40);
        assert_eq!(sizes(), [("busy".into(), 30), ("flood".into(), 30), ("general".into(), 5)]);
        let flood = h.page(&HistoryRequest { room: Some("flood".into()), ..Default::default() }).unwrap();
        let texts: Vec<&str> = flood.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!((texts.first(), texts.last()), (Some(&"70"), Some(&"99")), "the newest stay");
        let general = h.page(&HistoryRequest::default()).unwrap();
        assert_eq!(general.messages.len(), 5, "general untouched");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn ownerships_round_trip_and_expire() {
        let (h, dir) = store();
        let o = Ownership {
            nickname: "Ana".into(),
            nickname_key: "ana".into(),
            owner_hash: "h".into(),
            tenure: "t".into(),
            expires_at: i64::MAX,
        };
        let old = Ownership { nickname_key: "old".into(), expires_at: 1, ..o.clone() };
        h.reserve(&[ReservationChange::Own(o.clone()), ReservationChange::Own(old)]).unwrap();
        assert_eq!(h.owners().unwrap(), vec![o.clone()]);
        let later = Ownership { expires_at: i64::MAX - 1, ..o };
        h.reserve(&[ReservationChange::Own(later.clone())]).unwrap();
        assert_eq!(h.owners().unwrap(), vec![later]);
        h.reserve(&[ReservationChange::Disown("ana".into())]).unwrap();
        assert!(h.owners().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// At start, the rooms and conversation lists of ownerships that ran out (no "forget me"
    /// dropped them) go; a live ownership's stay.
    #[test]
    fn the_rooms_and_conversations_of_ended_ownerships_go_at_start() {
        let (h, dir) = store();
        let owner = |key: &str, tenure: &str, expires_at| {
            ReservationChange::Own(Ownership {
                nickname: key.into(),
                nickname_key: key.into(),
                owner_hash: key.into(),
                tenure: tenure.into(),
                expires_at,
            })
        };
        let member = |tenure: &str| ReservationChange::Member {
            tenure: tenure.into(),
            room: "den".into(),
            joined: true,
        };
        h.reserve(&[
            owner("ana", "live", i64::MAX),
            owner("old", "ran-out", 1),
            member("live"),
            member("ran-out"),
            member("forgotten"),
        ])
        .unwrap();
        {
            let conn = h.writer();
            for (tenure, peer) in [("live", "ran-out"), ("ran-out", "live"), ("forgotten", "live")] {
                conn.execute(
                    "INSERT INTO directs (tenure, peer_tenure, peer_nickname, last_id, last_ts) VALUES (?1, ?2, 'x', 1, 1)",
                    params![tenure, peer],
                )
                .unwrap();
            }
        }
        assert_eq!(h.drop_ended_ownerships().unwrap(), 4);
        assert_eq!(h.memberships().unwrap(), vec![("live".to_owned(), "den".to_owned())]);
        assert_eq!(h.directs("live", 10).unwrap().len(), 1, "its list, with the ended peer in it");
        assert_eq!(h.drop_ended_ownerships().unwrap(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn reservations_round_trip_and_expire() {
        let (h, dir) = store();
        let r = Reservation {
            nickname: "Ana".into(),
            nickname_key: "ana".into(),
            token_hash: "h".into(),
            expires_at: now_ms() + 60_000,
            tenure: Some("t1".into()),
        };
        let old = Reservation { nickname_key: "old".into(), expires_at: 1, ..r.clone() };
        h.reserve(&[ReservationChange::Save(r.clone()), ReservationChange::Save(old)]).unwrap();
        assert_eq!(h.reservations().unwrap(), vec![r]);
        h.reserve(&[ReservationChange::Drop("ana".into())]).unwrap();
        assert!(h.reservations().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_database_from_before_hashed_tokens_migrates() {
        let dir = std::env::temp_dir().join(format!("chat-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chat.sqlite3");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE reservations (nickname_key TEXT PRIMARY KEY, nickname TEXT NOT NULL,
                 token TEXT NOT NULL, expires_at INTEGER NOT NULL);
                 INSERT INTO reservations VALUES ('ana', 'Ana', 'plain-token', 9223372036854775807);",
            )
            .unwrap();
        }
        let h = SqliteHistory::open(&path, "FULL").unwrap();
        let found = h.reservations().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].token_hash.as_str(), found[0].tenure.as_deref()), ("plain-token", None));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_database_from_before_rooms_keeps_its_lines_in_general() {
        let dir = std::env::temp_dir().join(format!("chat-migrate-rooms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chat.sqlite3");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,
                 nick TEXT NOT NULL, text TEXT NOT NULL, key TEXT, UNIQUE (nick, key));
                 INSERT INTO messages (ts, nick, text) VALUES (1, 'Ana', 'from before rooms');",
            )
            .unwrap();
        }
        let h = SqliteHistory::open(&path, "FULL").unwrap();
        let room = chat_shared::RoomName::parse("rust").unwrap();
        let in_room = NewMessage { channel: Channel::Room(room), ..msg("in a room", None) };
        h.append(&[in_room]).unwrap();
        let general = h.page(&HistoryRequest::default()).unwrap();
        assert_eq!(
            general.messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            ["from before rooms"]
        );
        let rust = h.page(&HistoryRequest { room: Some("rust".into()), ..Default::default() }).unwrap();
        assert_eq!(rust.messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["in a room"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn ids(page: &HistoryPage) -> Vec<u64> {
        page.messages.iter().map(|m| m.id).collect()
    }

    #[test]
    fn edge_ids_give_an_empty_page_or_the_newest_never_an_error() {
        let (h, dir) = store();
        h.append(&[msg("a", None), msg("b", None), msg("c", None)]).unwrap();
        let page = |after: Option<u64>, before: Option<u64>| {
            h.page(&HistoryRequest { after, before, ..Default::default() }).expect("a page, not an error")
        };
        let empty = HistoryPage::default();
        assert_eq!(page(None, Some(0)), empty, "nothing is before the first id");
        assert_eq!(page(Some(u64::MAX), None), empty, "no overflow, nothing after");
        assert_eq!(page(Some(i64::MAX as u64), None), empty);
        assert_eq!(page(Some(i64::MAX as u64 + 1), None), empty, "not read as a negative id");
        assert_eq!(page(Some(u64::MAX), Some(0)), empty);
        assert_eq!(ids(&page(Some(i64::MAX as u64 - 1), None)), Vec::<u64>::new());
        assert_eq!(ids(&page(None, Some(u64::MAX))), vec![1, 2, 3], "everything is before it");
        assert_eq!(ids(&page(None, Some(i64::MAX as u64 + 1))), vec![1, 2, 3]);
        assert_eq!(ids(&page(None, Some(1))), Vec::<u64>::new());
        assert_eq!(ids(&page(Some(0), None)), vec![1, 2, 3]);
        let one = h.page(&HistoryRequest { limit: Some(0), ..Default::default() }).unwrap();
        assert_eq!((ids(&one), one.more), (vec![3], true), "limit 0 is clamped to 1");
        let all = h.page(&HistoryRequest { limit: Some(u32::MAX), ..Default::default() }).unwrap();
        assert_eq!((ids(&all), all.more), (vec![1, 2, 3], false));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Inserts `n` messages with timestamps from `ts` on, as a clock would have (and faster
    /// than `append`).
    fn fill(h: &SqliteHistory, n: u64, ts: impl Fn(u64) -> i64) {
        let mut conn = h.writer();
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare("INSERT INTO messages (ts, nick, text, key) VALUES (?1, 'Ana', 'a line', NULL)")
                .unwrap();
            for i in 0..n {
                insert.execute(params![ts(i)]).unwrap();
            }
        }
        tx.commit().unwrap();
    }

    fn count(h: &SqliteHistory) -> i64 {
        h.reader().query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn timestamps_never_go_backwards_and_the_age_prune_drops_exactly_the_old_lines() {
        let (h, dir) = store();
        let day = 24 * 3600 * 1000;
        let now = now_ms();
        fill(&h, 50, |i| now - 3 * day + i as i64); // older than two days
        fill(&h, 30, |i| now - day / 2 + i as i64); // recent
        let future = now + 3_600_000; // a clock that was an hour ahead, then corrected
        fill(&h, 1, |_| future);
        let stored = h.append(&[msg("x", None), msg("y", None)]).unwrap();
        assert!(stored.iter().all(|a| a.message.ts >= future), "not before the newest: {stored:?}");
        let later = h.append(&[msg("z", None)]).unwrap();
        assert!(later[0].message.ts >= stored[1].message.ts);

        assert_eq!(h.prune(Retention { max_age_secs: 2 * 24 * 3600, ..Retention::EVERYTHING }).unwrap(), 50);
        assert_eq!(count(&h), 34);
        let oldest: i64 = h.reader().query_row("SELECT MIN(ts) FROM messages", [], |r| r.get(0)).unwrap();
        assert_eq!(oldest, now - day / 2, "the recent lines stay");
        assert_eq!(h.prune(Retention { max_age_secs: 2 * 24 * 3600, ..Retention::EVERYTHING }).unwrap(), 0);
        assert_eq!(h.prune(Retention { max_messages: 4, ..Retention::EVERYTHING }).unwrap(), 30);
        let newest = h.page(&HistoryRequest::default()).unwrap();
        assert_eq!(
            newest.messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            ["a line", "x", "y", "z"]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// What SQLite plans for `sql`, one detail line per step.
    fn plan(h: &SqliteHistory, sql: &str) -> String {
        let conn = h.writer();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn the_newest_ts_and_the_age_prune_use_the_index_not_a_scan() {
        let (h, dir) = store();
        let prune = PRUNE_AGE.replace("?1", "0");
        for sql in [NEWEST_TS, prune.as_str()] {
            let plan = plan(&h, sql);
            assert!(plan.contains("messages_ts") && !plan.contains("SCAN"), "{sql}: {plan}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_file_from_before_the_index_gets_it_on_open_and_keeps_its_lines() {
        let (h, dir) = store();
        let path = dir.join("chat.sqlite3");
        h.append(&[msg("old", Some("k"))]).unwrap();
        h.writer().execute_batch("DROP INDEX messages_ts").unwrap();
        drop(h);
        let h = SqliteHistory::open(&path, "FULL").unwrap();
        assert!(plan(&h, NEWEST_TS).contains("messages_ts"));
        let again = h.append(&[msg("old again", Some("k")), msg("new", None)]).unwrap();
        assert_eq!((again[0].new, again[0].message.id, again[1].message.id), (false, 1, 2));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A timing run, not a check: `cargo test -p chat-server --release million -- --ignored
    /// --nocapture`. Commit and prune times with 1,000,000 stored lines, without the index (as
    /// before it existed) and with it.
    #[test]
    #[ignore]
    fn timing_a_million_lines() {
        let (h, dir) = store();
        let now = now_ms();
        fill(&h, 1_000_000, |i| now - 1_000_000 + i as i64);
        let median = |f: &dyn Fn()| {
            let mut times: Vec<std::time::Duration> = (0..21)
                .map(|_| {
                    let t = std::time::Instant::now();
                    f();
                    t.elapsed()
                })
                .collect();
            times.sort();
            times[10]
        };
        let commit = || {
            h.append(&[msg("a", None)]).unwrap();
        };
        let prune_nothing = || {
            h.prune(Retention { max_age_secs: 3600, ..Retention::EVERYTHING }).unwrap();
        };
        h.writer().execute_batch("DROP INDEX messages_ts").unwrap();
        let (c0, p0) = (median(&commit), median(&prune_nothing));
        let t = std::time::Instant::now();
        h.writer().execute_batch(SCHEMA).unwrap();
        let migrate = t.elapsed();
        let (c1, p1) = (median(&commit), median(&prune_nothing));
        println!("1,000,000 lines, synchronous=FULL, median of 21:");
        println!("  without the ts index: commit of one line {c0:?}, age prune (nothing to drop) {p0:?}");
        println!("  with it:              commit of one line {c1:?}, age prune (nothing to drop) {p1:?}");
        println!("  CREATE INDEX on open (once): {migrate:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
