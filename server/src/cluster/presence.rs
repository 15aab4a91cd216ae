//! Who is online across the cluster, in Redis: one key per nickname (`chat:nick:<key>`: the
//! nickname, its holder's tenure and the instance that holds it), one per resume token's hash,
//! and one hash of everyone online (`chat:online`, so that listing them never scans the
//! keyspace). Keys live on a lease that the holding instance renews; an instance that dies
//! stops renewing, and its users' nicknames are freed when the lease runs out (the grace
//! period plus a margin): by liveness, not by a goodbye. A resume moves a nickname to the
//! resuming instance and tells the instance it was taken from at once (pub/sub), so that the
//! old connection stops speaking as it. Each operation is one atomic Lua script.

use std::time::Duration;

use chat_shared::Nickname;
use fred::clients::Client;
use serde::{Deserialize, Serialize};
use socketioxide::socket::Sid;

use crate::chat::{Held as HeldHere, Tenure, TokenHash};

/// How often an instance renews the leases of the nicknames it holds.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);

const NICK: &str = "chat:nick:";
const TOKEN: &str = "chat:token:";
const ONLINE: &str = "chat:online";
/// The pub/sub channel of an instance (suffix: its id) on which it hears which of its
/// nicknames were resumed elsewhere (the message: a [`Takeover`]).
pub const TAKEOVER_CHANNEL: &str = "chat:takeover:";

/// A nickname of this instance's was resumed on another: its key, and the hash of the token
/// that was presented (the one this instance knows it by; if it holds the nickname under
/// another token by now, the notice is not about that hold).
#[derive(Debug, Deserialize)]
pub struct Takeover {
    pub key: String,
    pub token: String,
}

/// KEYS: nick key, token key, online hash. ARGV: value, lease ms, nick key, nickname.
/// 1 if taken, 0 if someone has it.
const CLAIM: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
  return 1
end
return 0
"#;

/// KEYS: presented token key, next token key. ARGV: nick prefix, instance, lease ms, takeover
/// channel prefix, connection (its log id), presented token hash. The holder's value (now this
/// instance's), or "" if the token is unknown. The presented token stops working (it is kept as
/// a "moved" mark, "", for the lease, so that the instance it was taken from cannot renew it
/// back); the instance it was taken from hears of it at once (`{"key", "token"}`).
const RESUME: &str = r#"
local key = redis.call('GET', KEYS[1])
if not key or key == '' then return '' end
local value = redis.call('GET', ARGV[1] .. key)
if not value then return '' end
local held = cjson.decode(value)
local before = held.instance
held.instance = ARGV[2]
held.conn = ARGV[5]
local now = cjson.encode(held)
redis.call('SET', ARGV[1] .. key, now, 'PX', ARGV[3])
redis.call('SET', KEYS[1], '', 'PX', ARGV[3])
redis.call('SET', KEYS[2], key, 'PX', ARGV[3])
if before ~= ARGV[2] then
  redis.call('PUBLISH', ARGV[4] .. before, cjson.encode({key = key, token = ARGV[6]}))
end
return now
"#;

/// KEYS: nick key, token key, online hash. ARGV: instance, nick key, lease ms. Frees the
/// nickname if this instance holds it under that token (not if another connection resumed it
/// meanwhile); the token is kept as a "moved" mark for the lease, so that a renewal that read
/// the roster before the release cannot bring the nickname back.
const RELEASE: &str = r#"
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value).instance == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '', 'PX', ARGV[3])
  redis.call('HDEL', KEYS[3], ARGV[2])
  return 1
end
return 0
"#;

/// ARGV: nick prefix, token prefix, instance, lease ms, online hash, then (nick key, value,
/// token hash, nickname) per nickname this instance holds. Renews each lease (re-creating keys
/// Redis lost, e.g. after a restart without persistence); answers the nick keys that were
/// taken from this instance meanwhile (resumed elsewhere: held by another instance, or their
/// token marked moved), as JSON.
const RENEW: &str = r#"
local lost = {}
for i = 6, #ARGV, 4 do
  local key, value, token, nickname = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local current = redis.call('GET', ARGV[1] .. key)
  if redis.call('GET', ARGV[2] .. token) == '' or (current and cjson.decode(current).instance ~= ARGV[3]) then
    table.insert(lost, key)
  else
    redis.call('SET', ARGV[1] .. key, value, 'PX', ARGV[4])
    redis.call('SET', ARGV[2] .. token, key, 'PX', ARGV[4])
    redis.call('HSET', ARGV[5], key, nickname)
  end
end
if #lost == 0 then return '[]' end
return cjson.encode(lost)
"#;

/// KEYS: online hash. ARGV: nick prefix. Every nickname in use, as JSON; forgets those whose
/// lease ran out (their instance died).
const NAMES: &str = r#"
local names = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[1] .. all[i]) == 1 then
    table.insert(names, all[i + 1])
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
if #names == 0 then return '[]' end
return cjson.encode(names)
"#;

/// What Redis keeps about a nickname.
#[derive(Debug, Serialize, Deserialize)]
struct Held {
    nickname: String,
    instance: String,
    tenure: String,
    /// The connection that holds it (set by a resume; for the logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conn: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("Redis: {0}")]
pub struct PresenceError(String);

/// This instance's view of the cluster's presence.
#[derive(Clone)]
pub struct Presence {
    client: Client,
    instance: String,
    /// How long a nickname outlives its instance: the grace period plus a margin.
    lease: Duration,
}

impl Presence {
    pub fn new(client: Client, instance: String, grace: Duration) -> Self {
        Self { client, instance, lease: grace + RENEW_EVERY * 3 }
    }

    /// Runs one script; its answer is JSON.
    async fn run<T: serde::de::DeserializeOwned>(
        &self,
        script: &str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<T, PresenceError> {
        let answer = super::eval(&self.client, script, keys, args).await.map_err(PresenceError)?;
        serde_json::from_str(&answer).map_err(|e| PresenceError(format!("answered {answer:?}: {e}")))
    }

    fn value(&self, held: &HeldHere) -> String {
        let value = Held {
            nickname: held.nickname.to_string(),
            instance: self.instance.clone(),
            tenure: held.tenure.as_str().to_owned(),
            conn: None,
        };
        serde_json::to_string(&value).unwrap_or_default()
    }

    fn lease_ms(&self) -> String {
        self.lease.as_millis().to_string()
    }

    /// Takes a nickname for this instance if nobody in the cluster has it; false if taken.
    pub async fn claim(&self, held: &HeldHere) -> Result<bool, PresenceError> {
        let key = held.nickname.key().as_str().to_owned();
        let keys = vec![format!("{NICK}{key}"), format!("{TOKEN}{}", held.token.as_str()), ONLINE.to_owned()];
        let args = vec![self.value(held), self.lease_ms(), key, held.nickname.to_string()];
        let taken: u8 = self.run(CLAIM, keys, args).await?;
        Ok(taken == 1)
    }

    /// Moves the nickname of the token hashed `presented` to this instance's connection
    /// `conn`, under the token hashed `next`; None if the token is unknown (the lease ran out,
    /// the owner left, or it was resumed already).
    pub async fn resume(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        conn: Sid,
    ) -> Result<Option<HeldHere>, PresenceError> {
        if presented.is_empty() {
            return Ok(None);
        }
        let keys = vec![format!("{TOKEN}{}", presented.as_str()), format!("{TOKEN}{}", next.as_str())];
        let args = vec![
            NICK.to_owned(),
            self.instance.clone(),
            self.lease_ms(),
            TAKEOVER_CHANNEL.to_owned(),
            crate::chat::LogId::of(conn).to_string(),
            presented.as_str().to_owned(),
        ];
        let value = super::eval(&self.client, RESUME, keys, args).await.map_err(PresenceError)?;
        if value.is_empty() {
            return Ok(None);
        }
        let held: Held = serde_json::from_str(&value).map_err(|e| PresenceError(e.to_string()))?;
        let nickname = Nickname::parse(&held.nickname).map_err(|e| PresenceError(e.to_string()))?;
        Ok(Some(HeldHere { nickname, token: next.clone(), tenure: Tenure::stored(&held.tenure) }))
    }

    /// Frees `nick` if this instance holds it; false if it does not (any more).
    pub async fn release(&self, nick: &Nickname, token: &TokenHash) -> Result<bool, PresenceError> {
        let key = nick.key().as_str().to_owned();
        let keys = vec![format!("{NICK}{key}"), format!("{TOKEN}{}", token.as_str()), ONLINE.to_owned()];
        let released: u8 = self.run(RELEASE, keys, vec![self.instance.clone(), key, self.lease_ms()]).await?;
        Ok(released == 1)
    }

    /// Renews the leases of `held`; returns the keys of the nicknames taken from this
    /// instance meanwhile (their owners resumed elsewhere).
    pub async fn renew(&self, held: &[HeldHere]) -> Result<Vec<String>, PresenceError> {
        let mut args = vec![
            NICK.to_owned(),
            TOKEN.to_owned(),
            self.instance.clone(),
            self.lease_ms(),
            ONLINE.to_owned(),
        ];
        for h in held {
            args.extend([
                h.nickname.key().as_str().to_owned(),
                self.value(h),
                h.token.as_str().to_owned(),
                h.nickname.to_string(),
            ]);
        }
        self.run(RENEW, Vec::new(), args).await
    }

    /// Every nickname in use in the cluster.
    pub async fn names(&self) -> Result<Vec<String>, PresenceError> {
        self.run(NAMES, vec![ONLINE.to_owned()], vec![NICK.to_owned()]).await
    }
}
