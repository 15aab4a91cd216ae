//! The chat's rooms in a cluster, in Redis: one hash (`chat:rooms`, name → the room as JSON),
//! so that a room created on one instance exists on all of them. Creating is one Lua script
//! (the name's uniqueness and the cap hold across instances).

use chat_shared::limits::ROOMS_MAX;
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

    /// Creates `room` unless its name is taken or the cluster has [`ROOMS_MAX`] rooms.
    pub async fn create(&self, room: &StoredRoom) -> Result<Creation, String> {
        let json = serde_json::to_string(&Stored {
            name: room.name.clone(),
            topic: room.topic.clone(),
            created_by: room.created_by.clone(),
            created_at: room.created_at,
        })
        .map_err(|e| e.to_string())?;
        let most = (ROOMS_MAX - 1).to_string();
        let answer =
            super::eval(&self.client, CREATE, vec![ROOMS.to_owned()], vec![room.name.clone(), json, most])
                .await?;
        Ok(match answer.as_str() {
            "ok" => Creation::Done,
            "exists" => Creation::Exists,
            _ => Creation::Full,
        })
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
