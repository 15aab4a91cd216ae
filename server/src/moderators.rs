//! `chat-server moderators add|remove|list`: the operator grants and revokes the chat's
//! moderators from the command line, in the store the server uses (the SQLite file in the data
//! directory, or Redis), while it runs; each grant and revoke goes to the audit log.

use chat_shared::Nickname;
use chat_shared::moderation::AuditEntry;

use crate::chat::moderation::Role;
use crate::chat::moderation::act::{OPERATOR, write_audit};
use crate::chat::moderation::store::{EVERYWHERE, Kind, Record, Store};
use crate::clock::now_ms;
use crate::config::{Config, ModeratorsAction};

/// Where the ownerships are read from.
enum Owners {
    Sqlite(std::path::PathBuf),
    Redis(crate::cluster::Presence),
}

impl Owners {
    /// The current owner of `nick`: its ownership's tenure and the name as it spells it.
    async fn of(&self, nick: &Nickname) -> Result<Option<(String, String)>, String> {
        match self {
            Self::Sqlite(path) => {
                let conn =
                    rusqlite::Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
                // The running server may hold the file's lock (a commit, the pruner): wait as
                // its own connections do instead of failing at once with "database is locked".
                conn.busy_timeout(crate::history::SQLITE_BUSY_TIMEOUT).map_err(|e| e.to_string())?;
                let found = conn.query_row(
                    "SELECT tenure, nickname FROM owners WHERE nickname_key = ?1 AND expires_at > ?2",
                    (nick.key().as_str(), now_ms()),
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                );
                match found {
                    Ok(found) => Ok(Some(found)),
                    Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
                    // A data directory where no server ran yet has no such table: nobody owns anything.
                    Err(e) if e.to_string().contains("no such table") => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            }
            Self::Redis(presence) => {
                let found = presence.ownerships(&[nick]).await.map_err(|e| e.to_string())?;
                Ok(found
                    .into_iter()
                    .next()
                    .flatten()
                    .map(|(tenure, name)| (tenure.as_str().to_owned(), name)))
            }
        }
    }
}

async fn open(config: &Config) -> Result<(Store, Owners), String> {
    match &config.redis_url {
        Some(url) => {
            let (_, redis) = crate::cluster::connect(url).await?;
            let settings = config.chat_settings();
            let presence = crate::cluster::Presence::new(
                redis.client.clone(),
                "moderators-command".to_owned(),
                settings.grace,
                settings.reservation,
            );
            Ok((Store::Redis(redis.client), Owners::Redis(presence)))
        }
        None => {
            let path = config.history_path();
            let store = Store::open_sqlite(&path).map_err(|e| e.to_string())?;
            Ok((store, Owners::Sqlite(path)))
        }
    }
}

fn audit(action: &str, nickname: &str) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: now_ms(),
        by: OPERATOR.to_owned(),
        action: action.to_owned(),
        target: nickname.to_owned(),
        room: None,
        reason: String::new(),
        detail: String::new(),
    }
}

/// Does what was asked; what to print.
pub async fn run(config: &Config, action: ModeratorsAction) -> Result<String, String> {
    let (store, owners) = open(config).await?;
    match action {
        ModeratorsAction::Add { nickname } => {
            let nick = Nickname::parse(&nickname).map_err(|e| format!("{nickname:?}: {}", e.message))?;
            let Some((tenure, name)) = owners.of(&nick).await? else {
                return Err(format!(
                    "nobody owns the nickname {nickname:?}: its owner must claim it with \"keep this name\" first"
                ));
            };
            let role = Role { nickname: name.clone(), tenure };
            let value = serde_json::to_string(&role).map_err(|e| e.to_string())?;
            let record = Record {
                kind: Kind::Moderator,
                scope: EVERYWHERE.to_owned(),
                target: nick.key().as_str().to_owned(),
                value,
                expires_at: None,
            };
            store.put(record).await.map_err(|e| e.to_string())?;
            write_audit(&store, audit("grant", &name)).await;
            Ok(format!("{name} is a moderator now"))
        }
        ModeratorsAction::Remove { nickname } => {
            let nick = Nickname::parse(&nickname).map_err(|e| format!("{nickname:?}: {}", e.message))?;
            let was = moderators(&store).await?.into_iter().any(|(key, _)| key == nick.key().as_str());
            if !was {
                return Err(format!("{nickname:?} is not a moderator"));
            }
            store
                .remove(Kind::Moderator, EVERYWHERE, nick.key().as_str())
                .await
                .map_err(|e| e.to_string())?;
            write_audit(&store, audit("revoke", &nick.to_string())).await;
            Ok(format!("{nick} is no longer a moderator"))
        }
        ModeratorsAction::List => {
            let mut names: Vec<String> =
                moderators(&store).await?.into_iter().map(|(_, r)| r.nickname).collect();
            names.sort();
            Ok(names.join("\n"))
        }
    }
}

/// The chat's moderators: (nickname key, role).
async fn moderators(store: &Store) -> Result<Vec<(String, Role)>, String> {
    let records = store.records(now_ms()).await.map_err(|e| e.to_string())?;
    Ok(records
        .into_iter()
        .filter(|r| r.kind == Kind::Moderator)
        .filter_map(|r| Some((r.target, serde_json::from_str::<Role>(&r.value).ok()?)))
        .collect())
}
