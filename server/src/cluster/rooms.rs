//! The chat's rooms in a cluster, in Redis: one hash (`chat:rooms`, name → the room as JSON),
//! so that a room created on one instance exists on all of them. Creating is one Lua script
//! (the name's uniqueness and the cap hold across instances). The rooms an owned nickname is
//! in are a set per ownership (`chat:member-of:<tenure>`), which lives as long as the
//! ownership's reservation.

use fred::clients::Client;

use crate::history::StoredRoom;

const ROOMS: &str = "chat:rooms";

/// KEYS: the rooms hash. ARGV: name, the room as JSON, the most rooms besides `general`.
/// "ok", "exists" or "full".
const CREATE: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
"#;

/// KEYS: the rooms hash. Every room, as a JSON array of their JSON.
const ALL: &str = r#"
local all = redis.call('HVALS', KEYS[1])
if #all == 0 then return '[]' end
return '[' .. table.concat(all, ',') .. ']'
"#;

/// The prefix of an ownership's set of rooms.
const MEMBER_OF: &str = "chat:member-of:";

/// KEYS: an ownership's rooms, the nickname's ownership. ARGV: "1" (joined) or "0" (left), the
/// room, the reservation in ms (the set lives as long as the ownership), the ownership's
/// tenure. Nothing when that ownership ended (its secret claimed another name since).
const REMEMBER: &str = r#"
local owner = redis.call('GET', KEYS[2])
if not owner or cjson.decode(owner).tenure ~= ARGV[4] then return 'ended' end
if ARGV[1] == '1' then redis.call('SADD', KEYS[1], ARGV[2]) else redis.call('SREM', KEYS[1], ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 'ok'
"#;

/// KEYS: an ownership's rooms, its conversation list and peers. ARGV: the reservation in ms.
/// Its rooms (JSON); they and its conversations are kept for another reservation time (read at
/// each claim and resume of the name).
const MEMBER_OF_ALL: &str = r#"
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[1]) end
local rooms = redis.call('SMEMBERS', KEYS[1])
if #rooms == 0 then return '[]' end
return cjson.encode(rooms)
"#;

/// The prefix of a room's hash of who is in it (nickname key → `[nickname, tenure, the
/// connection that wrote it]`).
const IN_ROOM: &str = "chat:in-room:";

/// KEYS: a room's "in it" hash. ARGV: the nickname prefix (`chat:nick:`). The nicknames of
/// the entries whose nickname is still held (by anyone's connection or for its grace period)
/// under the entry's tenure; the others are dropped (their holder left, or its instance died
/// and the lease ran out).
const PRESENT: &str = r#"
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local entry = cjson.decode(all[i + 1])
  local held = redis.call('GET', ARGV[1] .. all[i])
  if held and cjson.decode(held).tenure == entry[2] then
    table.insert(out, entry[1])
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"#;

/// What a creation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    Done,
    Exists,
    Full,
}

/// The rooms hash of the cluster.
#[derive(Clone)]
pub struct RedisRooms {
    client: Client,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    name: String,
    topic: String,
    created_by: String,
    created_at: i64,
}

impl RedisRooms {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Creates `room` unless its name is taken or the cluster has `max` rooms (`general`
    /// included).
    pub async fn create(&self, room: &StoredRoom, max: usize) -> Result<Creation, String> {
        let json = serde_json::to_string(&Stored {
            name: room.name.clone(),
            topic: room.topic.clone(),
            created_by: room.created_by.clone(),
            created_at: room.created_at,
        })
        .map_err(|e| e.to_string())?;
        let most = max.saturating_sub(1).to_string();
        let answer =
            super::eval(&self.client, CREATE, vec![ROOMS.to_owned()], vec![room.name.clone(), json, most])
                .await?;
        Ok(match answer.as_str() {
            "ok" => Creation::Done,
            "exists" => Creation::Exists,
            _ => Creation::Full,
        })
    }

    /// Records that the ownership `tenure` of the nickname with key `key` joined (or left)
    /// `room`, unless that ownership ended.
    pub async fn remember(
        &self,
        key: &str,
        tenure: &str,
        room: &str,
        joined: bool,
        reservation_ms: u64,
    ) -> Result<(), String> {
        let joined = if joined { "1" } else { "0" };
        let keys = vec![format!("{MEMBER_OF}{tenure}"), super::presence::owner_key(key)];
        let args = vec![joined.to_owned(), room.to_owned(), reservation_ms.to_string(), tenure.to_owned()];
        super::eval(&self.client, REMEMBER, keys, args).await.map(|_| ())
    }

    /// The rooms the ownership `tenure` is in (they and its conversation list then live another
    /// reservation time).
    pub async fn member_of(&self, tenure: &str, reservation_ms: u64) -> Result<Vec<String>, String> {
        use crate::history::{DIRECT_PEERS_PREFIX, DIRECTS_PREFIX};
        let keys = vec![
            format!("{MEMBER_OF}{tenure}"),
            format!("{DIRECTS_PREFIX}{tenure}"),
            format!("{DIRECT_PEERS_PREFIX}{tenure}"),
        ];
        let answer = super::eval(&self.client, MEMBER_OF_ALL, keys, vec![reservation_ms.to_string()]).await?;
        serde_json::from_str(&answer).map_err(|e| format!("answered {answer:?}: {e}"))
    }

    /// The ownership `tenure` ended ("forget me", or its secret claimed another name): it is in
    /// no room, and its list of direct conversations is gone.
    pub async fn ownership_ended(&self, tenure: &str) -> Result<(), String> {
        use crate::history::{DIRECT_PEERS_PREFIX, DIRECTS_PREFIX};
        let keys = vec![
            format!("{MEMBER_OF}{tenure}"),
            format!("{DIRECTS_PREFIX}{tenure}"),
            format!("{DIRECT_PEERS_PREFIX}{tenure}"),
        ];
        let script = "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) return 'ok'";
        super::eval(&self.client, script, keys, Vec::new()).await.map(|_| ())
    }

    /// The nickname with key `key` is in `room` through connection `conn` (its [`LogId`]:
    /// never the session id, a bearer secret) (`entry`: its nickname and tenure), or that
    /// connection left the room or went (None): then the entry goes only if `conn` wrote it (or
    /// an older version, which did not say), so that a late removal cannot undo a resume's
    /// newer entry.
    ///
    /// [`LogId`]: crate::chat::LogId
    pub async fn mark(
        &self,
        room: &str,
        key: &str,
        conn: &str,
        entry: Option<(&str, &str)>,
    ) -> Result<(), String> {
        let keys = vec![format!("{IN_ROOM}{room}")];
        match entry {
            Some((nickname, tenure)) => {
                let value = serde_json::to_string(&(nickname, tenure, conn)).map_err(|e| e.to_string())?;
                let script = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 'ok'";
                super::eval(&self.client, script, keys, vec![key.to_owned(), value]).await.map(|_| ())
            }
            None => {
                let script = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  local by = cjson.decode(v)[3]
  if by == nil or by == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
end
return 'ok'"#;
                let args = vec![key.to_owned(), conn.to_owned()];
                super::eval(&self.client, script, keys, args).await.map(|_| ())
            }
        }
    }

    /// Who is in `room`, on every instance (see [`PRESENT`]).
    pub async fn present(&self, room: &str, nick_prefix: &str) -> Result<Vec<String>, String> {
        let keys = vec![format!("{IN_ROOM}{room}")];
        let answer = super::eval(&self.client, PRESENT, keys, vec![nick_prefix.to_owned()]).await?;
        serde_json::from_str(&answer).map_err(|e| format!("answered {answer:?}: {e}"))
    }

    /// Every room of the cluster (besides `general`).
    pub async fn all(&self) -> Result<Vec<StoredRoom>, String> {
        let answer = super::eval(&self.client, ALL, vec![ROOMS.to_owned()], Vec::new()).await?;
        let stored: Vec<Stored> =
            serde_json::from_str(&answer).map_err(|e| format!("answered {answer:?}: {e}"))?;
        Ok(stored
            .into_iter()
            .map(|s| StoredRoom {
                name: s.name,
                topic: s.topic,
                created_by: s.created_by,
                created_at: s.created_at,
            })
            .collect())
    }
}
