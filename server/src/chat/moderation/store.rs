//! Where the moderation state lives, shared by every instance and by the `moderators` command:
//! records (roles, mutes, bans, room rules, closed reports), each keyed by kind, scope and
//! target and expiring or not, and append-only logs (the audit log, reports, deleted lines'
//! ids), each keeping its newest entries. Alone: two tables in the chat's SQLite file (its own
//! connection; WAL lets the command line write while the server runs). In a cluster: a Redis
//! hash (`chat:moderation`) and one list per log (`chat:mod-log:<log>`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A moderator of the whole chat (granted from the command line). Scope `*`.
    Moderator,
    /// Who created a room (scope: the room). Target: the nickname key.
    RoomOwner,
    /// A moderator of one room (scope: the room), named by its owner.
    RoomModerator,
    /// A mute (scope: a room, or `*`: everywhere). Target: the nickname key.
    Mute,
    /// A banned nickname (scope `*`). Target: the nickname key.
    Ban,
    /// A banned address (scope: the banned nickname's key). Target: the address key.
    AddressBan,
    /// A room's rules (scope: the room, target empty).
    Rules,
    /// A report that was dealt with (scope `*`, target: its id).
    ReportClosed,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Self::Moderator,
        Self::RoomOwner,
        Self::RoomModerator,
        Self::Mute,
        Self::Ban,
        Self::AddressBan,
        Self::Rules,
        Self::ReportClosed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Moderator => "moderator",
            Self::RoomOwner => "room-owner",
            Self::RoomModerator => "room-moderator",
            Self::Mute => "mute",
            Self::Ban => "ban",
            Self::AddressBan => "address-ban",
            Self::Rules => "rules",
            Self::ReportClosed => "report-closed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The scope of what applies everywhere.
pub const EVERYWHERE: &str = "*";

/// One record: its value is JSON the moderation state reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: Kind,
    pub scope: String,
    pub target: String,
    pub value: String,
    /// When it stops counting (ms since the epoch; None: until removed).
    pub expires_at: Option<i64>,
}

/// An append-only log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    Audit,
    Reports,
    /// Deleted lines: `<history key>\n<id>`.
    Deleted,
}

impl Log {
    fn as_str(self) -> &'static str {
        match self {
            Self::Audit => "audit",
            Self::Reports => "reports",
            Self::Deleted => "deleted",
        }
    }

    /// How many entries it keeps.
    pub fn kept(self) -> usize {
        use chat_shared::limits::{AUDIT_KEPT, REPORTS_KEPT, TOMBSTONES_KEPT};
        match self {
            Self::Audit => AUDIT_KEPT,
            Self::Reports => REPORTS_KEPT,
            Self::Deleted => TOMBSTONES_KEPT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("moderation store: {0}")]
pub struct StoreError(pub String);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// The moderation store (cheap to clone).
#[derive(Clone)]
pub enum Store {
    Sqlite(Arc<Mutex<Connection>>),
    Redis(fred::clients::Client),
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS moderation (
        kind       TEXT NOT NULL,
        scope      TEXT NOT NULL,
        target     TEXT NOT NULL,
        value      TEXT NOT NULL,
        expires_at INTEGER,
        PRIMARY KEY (kind, scope, target)
    );
    CREATE TABLE IF NOT EXISTS moderation_log (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        log   TEXT NOT NULL,
        entry TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS moderation_log_by_log ON moderation_log (log, id);
";

const RECORDS: &str = "chat:moderation";
const LOG_PREFIX: &str = "chat:mod-log:";
const LOG_ID_PREFIX: &str = "chat:mod-log-id:";

/// KEYS: the records hash. ARGV: field, value (JSON with `expires_at`). Sets it.
const PUT: &str = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1";
/// KEYS: the records hash. ARGV: field. Removes it.
const REMOVE: &str = "redis.call('HDEL', KEYS[1], ARGV[1]) return 1";
/// KEYS: the records hash. Every field and value, flat, as JSON.
const ALL: &str = r#"
local all = redis.call('HGETALL', KEYS[1])
if #all == 0 then return '[]' end
return cjson.encode(all)
"#;
/// KEYS: the log's list, its id counter. ARGV: entry, kept. The entry's id.
const APPEND: &str = r#"
local id = redis.call('INCR', KEYS[2])
redis.call('LPUSH', KEYS[1], id .. '\n' .. ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return tostring(id)
"#;
/// KEYS: the log's list. ARGV: how many. The newest entries, as JSON.
const READ: &str = r#"
local all = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #all == 0 then return '[]' end
return cjson.encode(all)
"#;

/// A record's value as Redis keeps it (with its expiry).
#[derive(Serialize, Deserialize)]
struct Stored {
    value: String,
    #[serde(default)]
    expires_at: Option<i64>,
}

fn field(kind: Kind, scope: &str, target: &str) -> String {
    format!("{}\n{scope}\n{target}", kind.as_str())
}

impl Store {
    /// The store in the chat's SQLite file at `path` (made if missing).
    pub fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(crate::history::SQLITE_BUSY_TIMEOUT).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Self::Sqlite(Arc::new(Mutex::new(conn))))
    }

    async fn sqlite<T: Send + 'static>(
        conn: &Arc<Mutex<Connection>>,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            work(&conn).map_err(err)
        })
        .await
        .map_err(err)?
    }

    async fn redis(
        client: &fred::clients::Client,
        script: &str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<String, StoreError> {
        crate::cluster::eval(client, script, keys, args).await.map_err(StoreError)
    }

    /// Sets a record (replacing the one with the same kind, scope and target).
    pub async fn put(&self, record: Record) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(conn) => Self::sqlite(conn, move |c| {
                c.execute(
                    "INSERT INTO moderation (kind, scope, target, value, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (kind, scope, target) DO UPDATE SET value = ?4, expires_at = ?5",
                    (record.kind.as_str(), &record.scope, &record.target, &record.value, record.expires_at),
                )
                .map(|_| ())
            })
            .await,
            Self::Redis(client) => {
                let stored = Stored { value: record.value, expires_at: record.expires_at };
                let value = serde_json::to_string(&stored).map_err(err)?;
                let field = field(record.kind, &record.scope, &record.target);
                Self::redis(client, PUT, vec![RECORDS.to_owned()], vec![field, value]).await.map(|_| ())
            }
        }
    }

    /// Removes a record (if there is one).
    pub async fn remove(&self, kind: Kind, scope: &str, target: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(conn) => {
                let (scope, target) = (scope.to_owned(), target.to_owned());
                Self::sqlite(conn, move |c| {
                    c.execute(
                        "DELETE FROM moderation WHERE kind = ?1 AND scope = ?2 AND target = ?3",
                        (kind.as_str(), scope, target),
                    )
                    .map(|_| ())
                })
                .await
            }
            Self::Redis(client) => {
                let field = field(kind, scope, target);
                Self::redis(client, REMOVE, vec![RECORDS.to_owned()], vec![field]).await.map(|_| ())
            }
        }
    }

    /// Every record that has not expired at `now` (expired ones are dropped as they are met).
    pub async fn records(&self, now: i64) -> Result<Vec<Record>, StoreError> {
        match self {
            Self::Sqlite(conn) => {
                Self::sqlite(conn, move |c| {
                    c.execute(
                        "DELETE FROM moderation WHERE expires_at IS NOT NULL AND expires_at <= ?1",
                        [now],
                    )?;
                    let mut statement =
                        c.prepare("SELECT kind, scope, target, value, expires_at FROM moderation")?;
                    let rows = statement.query_map([], |r| {
                        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?;
                    let mut found = Vec::new();
                    for row in rows {
                        let (kind, scope, target, value, expires_at) = row?;
                        if let Some(kind) = Kind::parse(&kind) {
                            found.push(Record { kind, scope, target, value, expires_at });
                        }
                    }
                    Ok(found)
                })
                .await
            }
            Self::Redis(client) => {
                let answer = Self::redis(client, ALL, vec![RECORDS.to_owned()], Vec::new()).await?;
                let flat: Vec<String> = serde_json::from_str(&answer).map_err(err)?;
                let mut found = Vec::new();
                let mut expired = Vec::new();
                for pair in flat.chunks_exact(2) {
                    let mut parts = pair[0].splitn(3, '\n');
                    let (Some(kind), Some(scope), Some(target)) = (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let (Some(kind), Ok(stored)) =
                        (Kind::parse(kind), serde_json::from_str::<Stored>(&pair[1]))
                    else {
                        continue;
                    };
                    if stored.expires_at.is_some_and(|at| at <= now) {
                        expired.push((kind, scope.to_owned(), target.to_owned()));
                        continue;
                    }
                    found.push(Record {
                        kind,
                        scope: scope.to_owned(),
                        target: target.to_owned(),
                        value: stored.value,
                        expires_at: stored.expires_at,
                    });
                }
                for (kind, scope, target) in expired {
                    self.remove(kind, &scope, &target).await?;
                }
                Ok(found)
            }
        }
    }

    /// Adds `entry` to `log` (dropping its oldest past [`Log::kept`]); its id.
    pub async fn append(&self, log: Log, entry: String) -> Result<u64, StoreError> {
        let kept = log.kept();
        match self {
            Self::Sqlite(conn) => {
                Self::sqlite(conn, move |c| {
                    c.execute(
                        "INSERT INTO moderation_log (log, entry) VALUES (?1, ?2)",
                        (log.as_str(), &entry),
                    )?;
                    let id = c.last_insert_rowid();
                    // The logs share one id sequence: each keeps its own newest `kept`.
                    c.execute(
                        "DELETE FROM moderation_log WHERE log = ?1 AND id <= (
                             SELECT id FROM moderation_log WHERE log = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                        (log.as_str(), kept as i64),
                    )?;
                    Ok(id as u64)
                })
                .await
            }
            Self::Redis(client) => {
                let keys =
                    vec![format!("{LOG_PREFIX}{}", log.as_str()), format!("{LOG_ID_PREFIX}{}", log.as_str())];
                let answer = Self::redis(client, APPEND, keys, vec![entry, kept.to_string()]).await?;
                answer.trim().parse().map_err(err)
            }
        }
    }

    /// The newest `limit` entries of `log`, the newest first: (id, entry).
    pub async fn read(&self, log: Log, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        match self {
            Self::Sqlite(conn) => {
                Self::sqlite(conn, move |c| {
                    let mut statement = c.prepare(
                        "SELECT id, entry FROM moderation_log WHERE log = ?1 ORDER BY id DESC LIMIT ?2",
                    )?;
                    let rows = statement.query_map((log.as_str(), limit as i64), |r| {
                        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
                    })?;
                    rows.collect()
                })
                .await
            }
            Self::Redis(client) => {
                let keys = vec![format!("{LOG_PREFIX}{}", log.as_str())];
                let answer = Self::redis(client, READ, keys, vec![limit.to_string()]).await?;
                let entries: Vec<String> = serde_json::from_str(&answer).map_err(err)?;
                Ok(entries
                    .into_iter()
                    .filter_map(|e| {
                        let (id, entry) = e.split_once('\n')?;
                        Some((id.parse().ok()?, entry.to_owned()))
                    })
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_expire_and_logs_keep_their_newest() {
        let dir = std::env::temp_dir().join(format!("mod-store-{}", std::process::id()));
        let store = Store::open_sqlite(&dir.join("chat.sqlite3")).unwrap();
        let record = |target: &str, expires_at| Record {
            kind: Kind::Mute,
            scope: EVERYWHERE.into(),
            target: target.into(),
            value: "{}".into(),
            expires_at,
        };
        store.put(record("a", Some(100))).await.unwrap();
        store.put(record("b", None)).await.unwrap();
        store.put(record("b", Some(500))).await.unwrap();
        let found = store.records(200).await.unwrap();
        assert_eq!(found, vec![record("b", Some(500))], "a expired, b replaced");
        assert!(store.records(600).await.unwrap().is_empty(), "b expired at 500");
        store.put(record("c", None)).await.unwrap();
        store.remove(Kind::Mute, EVERYWHERE, "c").await.unwrap();
        assert!(store.records(0).await.unwrap().is_empty());
        let report = store.append(Log::Reports, "r".into()).await.unwrap();
        for i in 0..(Log::Deleted.kept() + 5) {
            store.append(Log::Deleted, format!("general\n{i}")).await.unwrap();
            store.append(Log::Audit, "a".into()).await.unwrap();
        }
        let reports = store.read(Log::Reports, 10).await.unwrap();
        assert_eq!(reports, vec![(report, "r".to_owned())], "another log's entries do not push it out");
        let newest = store.read(Log::Deleted, 2).await.unwrap();
        assert_eq!(
            newest.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
            ["general\n1004", "general\n1003"]
        );
        assert_eq!(store.read(Log::Deleted, usize::MAX >> 1).await.unwrap().len(), Log::Deleted.kept());
        let _ = std::fs::remove_dir_all(dir);
    }
}
