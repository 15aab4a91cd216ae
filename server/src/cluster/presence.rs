//! Who is online across the cluster, in Redis: one key per nickname (`chat:nick:<key>`: the
//! nickname, its holder's tenure and the instance that holds it), one per resume token's hash,
//! and one hash of everyone online (`chat:online`, so that listing them never scans the
//! keyspace). Keys live on a lease that the holding instance renews; an instance that dies
//! stops renewing, and its users' nicknames are freed when the lease runs out (the grace
//! period plus a margin): by liveness, not by a goodbye. A resume moves a nickname to the
//! resuming instance and tells the instance it was taken from at once (pub/sub), so that the
//! old connection stops speaking as it. Owned nicknames have two more keys, on a lease of the
//! reservation time that every use renews: `chat:owner:<key>` (the nickname, its owner's
//! secret's hash and the tenure its holds share) and `chat:ownedby:<owner hash>` (the key it
//! owns). Each operation is one atomic Lua script.

use std::time::Duration;

use chat_shared::Nickname;
use fred::clients::Client;
use serde::{Deserialize, Serialize};
use socketioxide::socket::Sid;

use crate::chat::{Held as HeldHere, OwnerHash, Tenure, TokenHash};

/// How often an instance renews the leases of the nicknames it holds.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);

/// The prefix of a nickname's key (its holder, on a lease).
pub const NICK: &str = "chat:nick:";
const TOKEN: &str = "chat:token:";
const ONLINE: &str = "chat:online";
const OWNER: &str = "chat:owner:";

/// The key of the ownership of the nickname with key `key` (JSON: nickname, owner, tenure).
pub(super) fn owner_key(key: &str) -> String {
    format!("{OWNER}{key}")
}
const OWNED_BY: &str = "chat:ownedby:";
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

/// KEYS: nick key, token key, online hash, owner key. ARGV: value, lease ms, nick key, nickname.
/// 1 if taken, 0 if someone has it, 2 if someone owns it.
const CLAIM: &str = r#"
if redis.call('EXISTS', KEYS[4]) == 1 then return 2 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
  return 1
end
return 0
"#;

/// KEYS: presented token key, next token key. ARGV: nick prefix, instance, lease ms, takeover
/// channel prefix, connection (its log id), presented token hash, next token hash. The holder's value (now this
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
held.token = ARGV[7]
local now = cjson.encode(held)
redis.call('SET', ARGV[1] .. key, now, 'PX', ARGV[3])
redis.call('SET', KEYS[1], '', 'PX', ARGV[3])
redis.call('SET', KEYS[2], key, 'PX', ARGV[3])
if before ~= ARGV[2] then
  redis.call('PUBLISH', ARGV[4] .. before, cjson.encode({key = key, token = ARGV[6]}))
end
return now
"#;

/// KEYS: nick key, new token key, online hash, owner key, this owner's "owned by" key. ARGV:
/// value, lease ms, nick key, nickname, owner hash, reservation ms, fresh tenure, token prefix,
/// takeover channel prefix, instance, owner prefix. A claim as an owner: its own nickname is
/// taken from whoever holds it (their token marked moved, their instance told), with the
/// ownership's tenure; a free one becomes its (and the one it owned before is free); someone
/// else's, or one held without ownership, is refused. JSON: {result, tenure, was_online,
/// released} (released: the tenure of the ownership the secret gave up, or "").
const OWN_CLAIM: &str = r#"
local owned = redis.call('GET', KEYS[4])
local tenure = ARGV[7]
local released = ''
if owned then
  local o = cjson.decode(owned)
  if o.owner ~= ARGV[5] then return cjson.encode({result = 'owned'}) end
  tenure = o.tenure
else
  if redis.call('EXISTS', KEYS[1]) == 1 then return cjson.encode({result = 'taken'}) end
  local before = redis.call('GET', KEYS[5])
  if before and before ~= ARGV[3] then
    local b = redis.call('GET', ARGV[11] .. before)
    if b then
      local was = cjson.decode(b)
      if was.owner == ARGV[5] then
        redis.call('DEL', ARGV[11] .. before)
        released = was.tenure or ''
      end
    end
  end
end
local was_online = 0
local current = redis.call('GET', KEYS[1])
if current then
  was_online = 1
  local h = cjson.decode(current)
  if h.token then redis.call('SET', ARGV[8] .. h.token, '', 'PX', ARGV[2]) end
  if h.instance ~= ARGV[10] then
    redis.call('PUBLISH', ARGV[9] .. h.instance, cjson.encode({key = ARGV[3], token = h.token or ''}))
  end
end
local value = cjson.decode(ARGV[1])
value.tenure = tenure
redis.call('SET', KEYS[1], cjson.encode(value), 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('SET', KEYS[4], cjson.encode({nickname = ARGV[4], owner = ARGV[5], tenure = tenure}), 'PX', ARGV[6])
redis.call('SET', KEYS[5], ARGV[3], 'PX', ARGV[6])
return cjson.encode({result = 'ok', tenure = tenure, was_online = was_online, released = released})
"#;

/// KEYS: owner key. ARGV: reservation ms, "owned by" prefix. Renews an ownership's
/// reservation (the nickname was used); 0 if it is not owned.
const TOUCH: &str = r#"
local owned = redis.call('GET', KEYS[1])
if not owned then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', ARGV[2] .. cjson.decode(owned).owner, ARGV[1])
return 1
"#;

/// KEYS: owner keys. Answers `[tenure, nickname]` of each ownership (`["", ""]` for none).
const OWNERSHIPS: &str = r#"
local out = {}
for i, key in ipairs(KEYS) do
  local o = redis.call('GET', key)
  if o then
    local d = cjson.decode(o)
    out[i] = {d.tenure or '', d.nickname or ''}
  else
    out[i] = {'', ''}
  end
end
return cjson.encode(out)
"#;

/// KEYS: owner key. ARGV: "owned by" prefix, tenure, nick key. The nickname is owned by
/// nobody now — if its ownership is the one of that tenure (a stale holder cannot forget a
/// later owner's name).
const DISOWN: &str = r#"
local owned = redis.call('GET', KEYS[1])
if not owned then return 0 end
local o = cjson.decode(owned)
if o.tenure ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', ARGV[1] .. o.owner) == ARGV[3] then redis.call('DEL', ARGV[1] .. o.owner) end
return 1
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

/// ARGV: nick prefix, token prefix, instance, lease ms, online hash, owner prefix, "owned by"
/// prefix, reservation ms, then (nick key, value, token hash, nickname) per nickname this
/// instance holds. Renews each lease (re-creating keys Redis lost, e.g. after a restart without
/// persistence), and the reservation of each one its holder owns (a name in use does not lapse);
/// answers the nick keys that were taken from this instance meanwhile (resumed elsewhere: held
/// by another instance, their token marked moved, or owned by someone else now), as JSON.
const RENEW: &str = r#"
local lost = {}
for i = 9, #ARGV, 4 do
  local key, value, token, nickname = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local current = redis.call('GET', ARGV[1] .. key)
  local owned = redis.call('GET', ARGV[6] .. key)
  local tenure = cjson.decode(value).tenure
  if redis.call('GET', ARGV[2] .. token) == '' or (current and cjson.decode(current).instance ~= ARGV[3])
     or (owned and cjson.decode(owned).tenure ~= tenure) then
    table.insert(lost, key)
  else
    redis.call('SET', ARGV[1] .. key, value, 'PX', ARGV[4])
    redis.call('SET', ARGV[2] .. token, key, 'PX', ARGV[4])
    redis.call('HSET', ARGV[5], key, nickname)
    if owned then
      redis.call('PEXPIRE', ARGV[6] .. key, ARGV[8])
      redis.call('PEXPIRE', ARGV[7] .. cjson.decode(owned).owner, ARGV[8])
    end
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
    /// The hash of its holder's resume token (so that an owner's claim can retire it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// What a claim as an owner found.
#[derive(Debug, Deserialize)]
struct OwnClaimAnswer {
    result: String,
    #[serde(default)]
    tenure: String,
    #[serde(default)]
    was_online: u8,
    #[serde(default)]
    released: String,
}

/// A claim's outcome in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Granted,
    /// Someone holds it.
    Taken,
    /// Someone owns it.
    Owned,
}

/// A claim as an owner that succeeded: the tenure its holds share, and whether someone (its
/// owner, in another tab or away) held it already.
#[derive(Debug)]
pub struct OwnedClaim {
    pub tenure: Tenure,
    pub was_online: bool,
    /// The ownership the secret gave up for this name (it owned another before), if any.
    pub released: Option<Tenure>,
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
    /// How long an owned nickname stays reserved after its last use.
    reservation: Duration,
}

impl Presence {
    pub fn new(client: Client, instance: String, grace: Duration, reservation: Duration) -> Self {
        Self { client, instance, lease: grace + RENEW_EVERY * 3, reservation }
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
            token: Some(held.token.as_str().to_owned()).filter(|t| !t.is_empty()),
        };
        serde_json::to_string(&value).unwrap_or_default()
    }

    fn lease_ms(&self) -> String {
        self.lease.as_millis().to_string()
    }

    /// Takes a nickname for this instance if nobody in the cluster has or owns it.
    pub async fn claim(&self, held: &HeldHere) -> Result<Claim, PresenceError> {
        let key = held.nickname.key().as_str().to_owned();
        let keys = vec![
            format!("{NICK}{key}"),
            format!("{TOKEN}{}", held.token.as_str()),
            ONLINE.to_owned(),
            format!("{OWNER}{key}"),
        ];
        let args = vec![self.value(held), self.lease_ms(), key, held.nickname.to_string()];
        let answer: u8 = self.run(CLAIM, keys, args).await?;
        Ok(match answer {
            1 => Claim::Granted,
            2 => Claim::Owned,
            _ => Claim::Taken,
        })
    }

    /// Claims a nickname for this instance as the owner whose secret hashes to `owner` (see
    /// [`OWN_CLAIM`]); `held.tenure` is used if the nickname was not owned yet.
    pub async fn claim_owned(
        &self,
        held: &HeldHere,
        owner: &OwnerHash,
    ) -> Result<Result<OwnedClaim, Claim>, PresenceError> {
        let key = held.nickname.key().as_str().to_owned();
        let keys = vec![
            format!("{NICK}{key}"),
            format!("{TOKEN}{}", held.token.as_str()),
            ONLINE.to_owned(),
            format!("{OWNER}{key}"),
            format!("{OWNED_BY}{}", owner.as_str()),
        ];
        let args = vec![
            self.value(held),
            self.lease_ms(),
            key,
            held.nickname.to_string(),
            owner.as_str().to_owned(),
            self.reservation.as_millis().to_string(),
            held.tenure.as_str().to_owned(),
            TOKEN.to_owned(),
            TAKEOVER_CHANNEL.to_owned(),
            self.instance.clone(),
            OWNER.to_owned(),
        ];
        let answer: OwnClaimAnswer = self.run(OWN_CLAIM, keys, args).await?;
        Ok(match answer.result.as_str() {
            "ok" => {
                let released = Some(answer.released).filter(|t| !t.is_empty()).map(|t| Tenure::stored(&t));
                Ok(OwnedClaim {
                    tenure: Tenure::stored(&answer.tenure),
                    was_online: answer.was_online == 1,
                    released,
                })
            }
            "owned" => Err(Claim::Owned),
            _ => Err(Claim::Taken),
        })
    }

    /// Whether the owner whose secret hashes to `owner` owns a nickname.
    pub async fn owns_any(&self, owner: &OwnerHash) -> Result<bool, PresenceError> {
        let exists: u8 = self
            .run(
                "return redis.call('EXISTS', KEYS[1])",
                vec![format!("{OWNED_BY}{}", owner.as_str())],
                Vec::new(),
            )
            .await?;
        Ok(exists == 1)
    }

    /// Each nickname's ownership, if it is owned: the tenure, and the name as its owner spells
    /// it. One round trip.
    pub async fn ownerships(
        &self,
        nicks: &[&Nickname],
    ) -> Result<Vec<Option<(Tenure, String)>>, PresenceError> {
        if nicks.is_empty() {
            return Ok(Vec::new());
        }
        let keys = nicks.iter().map(|n| format!("{OWNER}{}", n.key().as_str())).collect();
        let found: Vec<(String, String)> = self.run(OWNERSHIPS, keys, Vec::new()).await?;
        Ok(found
            .into_iter()
            .map(|(tenure, nickname)| {
                Some((Tenure::stored(&tenure), nickname)).filter(|_| !tenure.is_empty())
            })
            .collect())
    }

    /// `nick` was used now: if it is owned, its reservation runs for the reservation time from now.
    pub async fn touch_owned(&self, nick: &Nickname) -> Result<(), PresenceError> {
        let keys = vec![format!("{OWNER}{}", nick.key().as_str())];
        let reservation = self.reservation.as_millis().to_string();
        let _: u8 = self.run(TOUCH, keys, vec![reservation, OWNED_BY.to_owned()]).await?;
        Ok(())
    }

    /// `nick` is owned by nobody now ("forget me", or an ownership whose secret never reached
    /// its client) — if it is owned under `tenure`.
    pub async fn disown(&self, nick: &Nickname, tenure: &Tenure) -> Result<(), PresenceError> {
        let key = nick.key().as_str().to_owned();
        let keys = vec![format!("{OWNER}{key}")];
        let _: u8 =
            self.run(DISOWN, keys, vec![OWNED_BY.to_owned(), tenure.as_str().to_owned(), key]).await?;
        Ok(())
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
            next.as_str().to_owned(),
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
            OWNER.to_owned(),
            OWNED_BY.to_owned(),
            self.reservation.as_millis().to_string(),
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
