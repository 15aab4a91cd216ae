//! Who is online across the cluster, in Redis: one key per nickname (`chat:nick:<key>`, the
//! nickname, its resume token and the instance that holds it) and one per resume token. Keys
//! live on a lease that the holding instance renews; an instance that dies stops renewing, and
//! its users' nicknames are freed when the lease runs out (the grace period plus a margin):
//! by liveness, not by a goodbye. Each operation is one atomic Lua script.

use std::time::Duration;

use chat_shared::Nickname;
use fred::clients::Client;
use serde::{Deserialize, Serialize};

/// How often an instance renews the leases of the nicknames it holds.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);

const NICK: &str = "chat:nick:";
const TOKEN: &str = "chat:token:";

/// KEYS: nick key, token key. ARGV: value, lease ms. 1 if taken, 0 if someone has it.
const CLAIM: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// KEYS: token key. ARGV: nick prefix, instance, lease ms. The holder's value (now this
/// instance's), or "" if the token is unknown.
const RESUME: &str = r#"
local key = redis.call('GET', KEYS[1])
if not key then return '' end
local value = redis.call('GET', ARGV[1] .. key)
if not value then return '' end
local held = cjson.decode(value)
held.instance = ARGV[2]
local now = cjson.encode(held)
redis.call('SET', ARGV[1] .. key, now, 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return now
"#;

/// KEYS: nick key, token key. ARGV: instance. Frees the nickname if this instance holds it.
const RELEASE: &str = r#"
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value).instance == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"#;

/// ARGV: nick prefix, token prefix, instance, lease ms, then (nick key, value, token) per
/// nickname this instance holds. Renews each lease (re-creating keys Redis lost, e.g. after a
/// restart without persistence); answers the nick keys another instance took over, as JSON.
const RENEW: &str = r#"
local lost = {}
for i = 5, #ARGV, 3 do
  local key, value, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current = redis.call('GET', ARGV[1] .. key)
  if current and cjson.decode(current).instance ~= ARGV[3] then
    table.insert(lost, key)
  else
    redis.call('SET', ARGV[1] .. key, value, 'PX', ARGV[4])
    redis.call('SET', ARGV[2] .. token, key, 'PX', ARGV[4])
  end
end
if #lost == 0 then return '[]' end
return cjson.encode(lost)
"#;

/// ARGV: nick prefix. Every nickname in use, as JSON.
const NAMES: &str = r#"
local names = {}
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1] .. '*', 'COUNT', 1000)
  cursor = page[1]
  for _, k in ipairs(page[2]) do
    local value = redis.call('GET', k)
    if value then table.insert(names, cjson.decode(value).nickname) end
  end
until cursor == '0'
if #names == 0 then return '[]' end
return cjson.encode(names)
"#;

/// What Redis keeps about a nickname.
#[derive(Debug, Serialize, Deserialize)]
struct Held {
    nickname: String,
    instance: String,
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

    fn value(&self, nick: &Nickname) -> String {
        let held = Held { nickname: nick.to_string(), instance: self.instance.clone() };
        serde_json::to_string(&held).unwrap_or_default()
    }

    fn lease_ms(&self) -> String {
        self.lease.as_millis().to_string()
    }

    /// Takes `nick` for this instance if nobody in the cluster has it; false if taken.
    pub async fn claim(&self, nick: &Nickname, token: &str) -> Result<bool, PresenceError> {
        let key = nick.key().as_str().to_owned();
        let keys = vec![format!("{NICK}{key}"), format!("{TOKEN}{token}")];
        let taken: u8 = self.run(CLAIM, keys, vec![self.value(nick), self.lease_ms(), key]).await?;
        Ok(taken == 1)
    }

    /// Moves the nickname of `token` to this instance (its owner reconnected here); None if
    /// the token is unknown (the lease ran out, or the owner left).
    pub async fn resume(&self, token: &str) -> Result<Option<String>, PresenceError> {
        if token.is_empty() {
            return Ok(None);
        }
        let args = vec![NICK.to_owned(), self.instance.clone(), self.lease_ms()];
        let value = super::eval(&self.client, RESUME, vec![format!("{TOKEN}{token}")], args)
            .await
            .map_err(PresenceError)?;
        if value.is_empty() {
            return Ok(None);
        }
        let held: Held = serde_json::from_str(&value).map_err(|e| PresenceError(e.to_string()))?;
        Ok(Some(held.nickname))
    }

    /// Frees `nick` if this instance holds it; false if it does not (any more).
    pub async fn release(&self, nick: &Nickname, token: &str) -> Result<bool, PresenceError> {
        let keys = vec![format!("{NICK}{}", nick.key().as_str()), format!("{TOKEN}{token}")];
        let released: u8 = self.run(RELEASE, keys, vec![self.instance.clone()]).await?;
        Ok(released == 1)
    }

    /// Renews the leases of `held` (nickname, token); returns the nicknames another instance
    /// took over meanwhile (their owners resumed there).
    pub async fn renew(&self, held: &[(Nickname, String)]) -> Result<Vec<String>, PresenceError> {
        let mut args = vec![NICK.to_owned(), TOKEN.to_owned(), self.instance.clone(), self.lease_ms()];
        for (nick, token) in held {
            args.extend([nick.key().as_str().to_owned(), self.value(nick), token.clone()]);
        }
        self.run(RENEW, Vec::new(), args).await
    }

    /// Every nickname in use in the cluster.
    pub async fn names(&self) -> Result<Vec<String>, PresenceError> {
        self.run(NAMES, Vec::new(), vec![NICK.to_owned()]).await
    }
}
