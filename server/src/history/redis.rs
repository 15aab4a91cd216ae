//! The history of a cluster, in Redis: one stream of messages whose entry ids are the message
//! ids (`<id>-0`), so every instance hands out ids from the same sequence and a user resumes
//! from the same id on any instance. Each operation is one Lua script (atomic: ids, timestamps
//! and idempotency keys stay consistent under concurrent instances) that answers JSON.
//! Each room has a stream of its own (`chat:room:<name>:messages`; `general` keeps
//! `chat:messages`), with ids from the one sequence, and so has each direct conversation
//! (`chat:room:@dm:<hash>:messages`), listed for each side in `chat:directs:<tenure>`. Standalone Redis only (the scripts build
//! key names). Nickname reservations and rooms are not kept here: in a cluster, presence and
//! the rooms' hash are the instances' business.

use chat_shared::limits::HISTORY_PAGE_MAX_BYTES;
use chat_shared::protocol::{HistoryMessage, HistoryPage, HistoryRequest};
use fred::clients::Client;
use serde::Deserialize;

use super::{
    Appended, Channel, DirectThread, History, HistoryError, NewMessage, Ownership, Party, Reservation,
    ReservationChange, Retention,
};

/// Keys: the id counter, the stream, the newest timestamp, the idempotency keys (a sorted set:
/// member `<from>\n<key>`, score the line's id), and the prefix of the idempotency keys that
/// versions before the sorted set wrote (one Redis key each, for 24 h: still read, never
/// written).
///
/// An idempotency key lives exactly as long as its line: the prune that drops lines drops
/// their keys (as in SQLite, where the key is a column of the line). So the keys never
/// outnumber the lines kept plus those written since the last prune (at most a minute's), and
/// a flooder cannot make Redis hold keys that outlive the history's own limits.
const KEYS: [&str; 5] = ["chat:next-id", "chat:messages", "chat:last-ts", "chat:keys", "chat:key:"];

/// A room's stream and idempotency keys (`general`: the chat's first ones, [`KEYS`]).
fn room_keys(room: Option<&str>) -> (String, String) {
    match room.filter(|r| *r != chat_shared::room::GENERAL) {
        None => (KEYS[1].to_owned(), KEYS[3].to_owned()),
        Some(room) => (format!("{ROOM_PREFIX}{room}:messages"), format!("{ROOM_PREFIX}{room}:keys")),
    }
}

/// The idempotency keys of a direct message's sender for its addressee's name.
fn direct_keys(d: &super::Direct) -> String {
    format!("{DIRECT_KEYS_PREFIX}{}:{}", d.from.tenure, d.to_key)
}

/// The prefix of a room's keys (besides `general`'s).
const ROOM_PREFIX: &str = "chat:room:";

/// The rooms' hash (see `cluster::rooms`): the prune visits each room's stream.
const ROOMS: &str = "chat:rooms";

/// The set of every direct conversation's key (the prune visits each one's stream).
const DIRECT_THREADS: &str = "chat:direct-threads";

/// The prefixes of an owner's list of conversations (a sorted set: member the other side's
/// tenure, score the newest id) and of its peers (a hash: the other side's tenure to
/// `[nickname, newest ts]`), by the owner's tenure.
pub const DIRECTS_PREFIX: &str = "chat:directs:";
pub const DIRECT_PEERS_PREFIX: &str = "chat:direct-peers:";

/// The idempotency keys of one sender's direct messages to one name (`<sender tenure>:<name
/// key>`): across the name's owners, so that a resend reaches nobody new. At most
/// [`DIRECT_KEYS_KEPT`] (the newest), instead of being pruned with a stream.
const DIRECT_KEYS_PREFIX: &str = "chat:dm-keys:";
const DIRECT_KEYS_KEPT: usize = 1_000;

/// KEYS: the set of every conversation. ARGV: (thread, from's tenure, from, to's tenure, to,
/// id, ts, the sender's keys) per direct message stored; then the lists' prefixes, how many
/// keys to keep, and how long the lists live (ms: an ownership's reservation time). Puts the
/// conversation at the top of both sides' lists unless a newer line got there first (another
/// instance may list out of order), bounds the sender's keys, and keeps both sides' lists and
/// the keys for another reservation time (a claim of the name renews its lists too:
/// `cluster::rooms`), so that an ownership that ran out leaves nothing behind.
const LIST_DIRECT: &str = r#"
local n = #ARGV - 4
local directs, peers, kept, live = ARGV[n + 1], ARGV[n + 2], tonumber(ARGV[n + 3]), ARGV[n + 4]
for i = 1, n, 8 do
  local thread, ft, from, tt, to, id, ts, keys = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), ARGV[i + 7]
  redis.call('SADD', KEYS[1], thread)
  for _, side in ipairs({{ft, tt, to}, {tt, ft, from}}) do
    local current = redis.call('ZSCORE', directs .. side[1], side[2])
    if not current or tonumber(current) < id then
      redis.call('ZADD', directs .. side[1], id, side[2])
      redis.call('HSET', peers .. side[1], side[2], cjson.encode({side[3], ts}))
    end
    redis.call('PEXPIRE', directs .. side[1], live)
    redis.call('PEXPIRE', peers .. side[1], live)
  end
  redis.call('ZREMRANGEBYRANK', keys, 0, -(kept + 1))
  redis.call('PEXPIRE', keys, live)
end
return '0'
"#;

/// KEYS: one side's list and peers (see [`LIST_DIRECT`]). ARGV: how many. Answers
/// `[[peer tenure, peer nickname, newest id, newest ts], ...]`, the newest first.
const DIRECTS: &str = r#"
local peers = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #peers, 2 do
  local info = redis.call('HGET', KEYS[2], peers[i])
  if info then
    local d = cjson.decode(info)
    table.insert(out, {peers[i], d[1], tonumber(peers[i + 1]), d[2]})
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"#;

/// ARGV: (stream, idempotency keys, from, text, key or "") per message (each line into its
/// room's stream; one id sequence for all). Answers `[[new(0/1), id, ts, from, text], ...]`.
/// Timestamps come from Redis's clock and never go backwards.
const APPEND: &str = r#"
local now = redis.call('TIME')
local ts = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
if ts < last then ts = last end
redis.call('SET', KEYS[3], ts)
local out = {}
for i = 1, #ARGV, 5 do
  local stream, keys, from, text, key = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local member = from .. '\n' .. key
  local earlier = nil
  if key ~= '' then
    earlier = redis.call('ZSCORE', keys, member)
    if not earlier and stream == KEYS[2] then earlier = redis.call('GET', KEYS[5] .. member) end
  end
  if earlier then
    local e = redis.call('XRANGE', stream, earlier .. '-0', earlier .. '-0')
    local ets, efrom, etext = 0, from, text
    if e[1] then
      local f = e[1][2]
      for j = 1, #f, 2 do
        if f[j] == 'ts' then ets = tonumber(f[j + 1]) elseif f[j] == 'from' then efrom = f[j + 1] elseif f[j] == 'text' then etext = f[j + 1] end
      end
    end
    table.insert(out, {0, tonumber(earlier), ets, efrom, etext})
  else
    local id = redis.call('INCR', KEYS[1])
    redis.call('XADD', stream, id .. '-0', 'ts', ts, 'from', from, 'text', text)
    if key ~= '' then redis.call('ZADD', keys, id, member) end
    table.insert(out, {1, id, ts, from, text})
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"#;

/// KEYS: a stream. ARGV: an id. Deletes that line; answers `[id, ts, from, text]`, or null if
/// it is not there.
const DELETE: &str = r#"
local e = redis.call('XRANGE', KEYS[1], ARGV[1] .. '-0', ARGV[1] .. '-0')
if #e == 0 then return 'null' end
redis.call('XDEL', KEYS[1], ARGV[1] .. '-0')
local f = e[1][2]
local line = {}
for i = 1, #f, 2 do line[f[i]] = f[i + 1] end
return cjson.encode({tonumber(ARGV[1]), tonumber(line['ts']), line['from'], line['text']})
"#;

/// ARGV: command (XRANGE or XREVRANGE), start, end, count, bytes. Answers `[[id, ts, from,
/// text], ...]` (stopping at the second line or later that exceeds the bytes, as `take_page`
/// counts them: it sees that line and cuts the page there) and the oldest id (0: none) as
/// `{"m": [...], "oldest": n}`.
const RANGE: &str = r#"
local entries = redis.call(ARGV[1], KEYS[1], ARGV[2], ARGV[3], 'COUNT', tonumber(ARGV[4]))
local budget = tonumber(ARGV[5])
local bytes = 0
local out = {}
for _, e in ipairs(entries) do
  local id = tonumber(string.match(e[1], '^(%d+)'))
  local ts, from, text = 0, '', ''
  local f = e[2]
  for j = 1, #f, 2 do
    if f[j] == 'ts' then ts = tonumber(f[j + 1]) elseif f[j] == 'from' then from = f[j + 1] elseif f[j] == 'text' then text = f[j + 1] end
  end
  table.insert(out, {id, ts, from, text})
  bytes = bytes + 64 + #from + #text
  if #out > 1 and bytes > budget then break end
end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local oldest = 0
if first[1] then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
if #out == 0 then return '{"m":[],"oldest":' .. oldest .. '}' end
return cjson.encode({m = out, oldest = oldest})
"#;

/// Histories one [`PRUNE`] call visits: a cluster with 100,000 conversations prunes in 1,000
/// round trips, not 200,000.
const PRUNE_BATCH: usize = 100;

/// Lines one [`PRUNE`] call drops one by one for their age, at most (the rest wait for the
/// next minute): a call stays short enough not to hold Redis up, even the first after the age
/// limit was lowered.
const PRUNE_AGED_MAX: usize = 10_000;

/// KEYS: the id counter, the set of every conversation. ARGV: keep at most this many (-1: no
/// limit), drop older than this ts (0: no limit), drop at most this many for their age; then
/// (stream, idempotency keys, the conversation or "") per history. Drops the keys of the lines
/// gone, and a conversation whose every line is gone (it is no longer visited). Answers how
/// many lines went, each history's length after, and 1 if the age budget ran out (lines too
/// old may be left; also when exactly the budget's worth were dropped, which only delays the
/// total a minute): `[dropped, [len…], 0|1]`. (Key names in ARGV: standalone Redis only, as
/// the other scripts.)
const PRUNE: &str = r#"
local dropped, lens = 0, {}
local keep, cutoff, aged = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 4, #ARGV, 3 do
  local stream, keys, thread = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if keep >= 0 then dropped = dropped + redis.call('XTRIM', stream, 'MAXLEN', keep) end
  if cutoff > 0 then
    while aged > 0 do
      local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 100)
      local gone = 0
      for _, e in ipairs(first) do
        local f, ts = e[2], nil
        for j = 1, #f, 2 do if f[j] == 'ts' then ts = tonumber(f[j + 1]) end end
        if ts and ts < cutoff then redis.call('XDEL', stream, e[1]); gone = gone + 1 else break end
      end
      dropped = dropped + gone
      aged = aged - gone
      if gone < 100 then break end
    end
  end
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  local kept
  if first[1] then kept = tonumber(string.match(first[1][1], '^(%d+)')) else kept = tonumber(redis.call('GET', KEYS[1]) or '0') + 1 end
  redis.call('ZREMRANGEBYSCORE', keys, '-inf', '(' .. kept)
  if thread ~= '' and not first[1] then
    redis.call('DEL', stream)
    redis.call('SREM', KEYS[2], thread)
  end
  lens[#lens + 1] = redis.call('XLEN', stream)
end
local spent = 0
if cutoff > 0 and aged <= 0 then spent = 1 end
return cjson.encode({dropped, lens, spent})
"#;

pub struct RedisHistory {
    client: Client,
    runtime: tokio::runtime::Handle,
    /// How long a conversation list lives after its last line or its owner's last claim (ms):
    /// the ownerships' reservation time.
    lists_live_ms: u64,
}

/// What a [`PRUNE`] pass did: lines dropped, each history's length after (in the order
/// visited), and whether lines too old may be left (the age budget ran out).
struct Pruned {
    dropped: u64,
    sizes: Vec<u64>,
    aged_left: bool,
}

#[derive(Deserialize)]
struct AppendedRow(u8, u64, i64, String, String);

#[derive(Deserialize)]
struct Range {
    m: Vec<(u64, i64, String, String)>,
    oldest: u64,
}

impl RedisHistory {
    /// Uses `client` (connected) from the blocking threads of `runtime`; conversation lists
    /// live `reservation` after their last line or their owner's last claim.
    pub fn new(client: Client, runtime: tokio::runtime::Handle, reservation: std::time::Duration) -> Self {
        let lists_live_ms = reservation.as_millis().try_into().unwrap_or(u64::MAX);
        Self { client, runtime, lists_live_ms }
    }

    /// Runs [`PRUNE`] over `histories` ((history key, the conversation or "")), a batch per
    /// call: each keeps at most `keep` lines and none older than `cutoff` (0: no age limit).
    fn prune_each(
        &self,
        histories: &[(Option<&str>, &str)],
        keep: Option<u64>,
        cutoff: i64,
    ) -> Result<Pruned, HistoryError> {
        let keep = keep.map_or_else(|| "-1".to_owned(), |n| n.to_string());
        let mut pruned = Pruned { dropped: 0, sizes: Vec::with_capacity(histories.len()), aged_left: false };
        for batch in histories.chunks(PRUNE_BATCH) {
            let mut args = vec![keep.clone(), cutoff.to_string(), PRUNE_AGED_MAX.to_string()];
            for (history, thread) in batch {
                let (stream, keys) = room_keys(*history);
                args.extend([stream, keys, (*thread).to_owned()]);
            }
            let (gone, lens, spent): (u64, Vec<u64>, u8) =
                self.run(PRUNE, vec![KEYS[0], DIRECT_THREADS], args)?;
            pruned.dropped += gone;
            pruned.sizes.extend(lens);
            pruned.aged_left |= spent == 1;
        }
        Ok(pruned)
    }

    /// Runs one script (its answer is JSON), from a blocking thread.
    fn run<T: serde::de::DeserializeOwned>(
        &self,
        script: &str,
        keys: Vec<&str>,
        args: Vec<String>,
    ) -> Result<T, HistoryError> {
        let keys = keys.into_iter().map(str::to_owned).collect();
        let answer = self
            .runtime
            .block_on(crate::cluster::eval(&self.client, script, keys, args))
            .map_err(|e| HistoryError(format!("Redis: {e}")))?;
        serde_json::from_str(&answer).map_err(|e| HistoryError(format!("Redis answered {answer:?}: {e}")))
    }

    fn range(
        &self,
        stream: &str,
        command: &str,
        start: String,
        end: String,
        count: i64,
    ) -> Result<Range, HistoryError> {
        let budget = HISTORY_PAGE_MAX_BYTES.to_string();
        self.run(RANGE, vec![stream], vec![command.to_owned(), start, end, count.to_string(), budget])
    }
}

fn message((id, ts, from, text): (u64, i64, String, String)) -> HistoryMessage {
    HistoryMessage { id, ts, from, text }
}

impl History for RedisHistory {
    fn append(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, HistoryError> {
        let mut args = Vec::with_capacity(batch.len() * 5);
        for m in batch {
            let (stream, keys) = match &m.channel {
                Channel::Direct(d) => (room_keys(Some(&d.thread)).0, direct_keys(d)),
                _ => room_keys(Some(m.channel.key())),
            };
            args.extend([stream, keys, m.from.clone(), m.text.clone(), m.key.clone().unwrap_or_default()]);
        }
        let rows: Vec<AppendedRow> = self.run(APPEND, KEYS.to_vec(), args)?;
        let appended: Vec<Appended> = rows
            .into_iter()
            .map(|AppendedRow(new, id, ts, from, text)| Appended {
                message: HistoryMessage { id, ts, from, text },
                new: new == 1,
            })
            .collect();
        // Both sides' lists of conversations, after the lines (a failure here costs a list
        // entry until the next line, never a line).
        let mut listed = Vec::new();
        for (m, a) in batch.iter().zip(&appended) {
            if let (Channel::Direct(d), true) = (&m.channel, a.new) {
                listed.extend([
                    d.thread.clone(),
                    d.from.tenure.clone(),
                    d.from.nickname.clone(),
                    d.to.tenure.clone(),
                    d.to.nickname.clone(),
                    a.message.id.to_string(),
                    a.message.ts.to_string(),
                    direct_keys(d),
                ]);
            }
        }
        if !listed.is_empty() {
            listed.extend([
                DIRECTS_PREFIX.to_owned(),
                DIRECT_PEERS_PREFIX.to_owned(),
                DIRECT_KEYS_KEPT.to_string(),
                self.lists_live_ms.to_string(),
            ]);
        }
        if listed.len() > 4
            && let Err(e) = self.run::<u8>(LIST_DIRECT, vec![DIRECT_THREADS], listed)
        {
            tracing::warn!("cannot list direct conversations: {e}");
        }
        Ok(appended)
    }

    fn page(&self, request: &HistoryRequest) -> Result<HistoryPage, HistoryError> {
        use super::Span;
        let (stream, _) = room_keys(request.room.as_deref());
        let limit = super::page_limit(request);
        // Every bound is an id in 1..=MAX_ID (`Span`): an exclusive range Redis accepts.
        let (ascending, range) = match Span::of(request) {
            Span::Nothing => return Ok(HistoryPage::default()),
            Span::After(after) => {
                (true, self.range(&stream, "XRANGE", format!("({after}-0"), "+".into(), limit + 1)?)
            }
            Span::Before(before) => {
                (false, self.range(&stream, "XREVRANGE", format!("({before}-0"), "-".into(), limit + 1)?)
            }
            Span::Newest => (false, self.range(&stream, "XREVRANGE", "+".into(), "-".into(), limit + 1)?),
        };
        // Resuming across lines that retention dropped: the recent tail, marked as a gap.
        let oldest = Some(range.oldest).filter(|&id| id > 0);
        let gap = request.after.is_some_and(|after| super::gap_after(after, oldest));
        let (range, ascending) = if gap {
            (self.range(&stream, "XREVRANGE", "+".into(), "-".into(), limit + 1)?, false)
        } else {
            (range, ascending)
        };
        // The script stopped just past the same byte count: this cuts the page there.
        let taken = super::take_page(range.m.into_iter().map(|m| Ok::<_, HistoryError>(message(m))), limit)?;
        Ok(super::assemble(taken, limit, gap, ascending))
    }

    fn delete(&self, history_key: &str, id: u64) -> Result<Option<HistoryMessage>, HistoryError> {
        if id == 0 || id > super::MAX_ID {
            return Ok(None);
        }
        let (stream, _) = room_keys(Some(history_key));
        let found: Option<(u64, i64, String, String)> =
            self.run(DELETE, vec![&stream], vec![id.to_string()])?;
        Ok(found.map(message))
    }

    fn prune(&self, retention: Retention) -> Result<u64, HistoryError> {
        let cutoff = match retention.max_age_secs {
            0 => 0,
            secs => crate::clock::now_ms() - (secs as i64) * 1000,
        };
        // `general`, then every room: the limits apply to each room's history.
        let rooms: Vec<String> = self.run(
            "local r = redis.call('HKEYS', KEYS[1]) if #r == 0 then return '[]' end return cjson.encode(r)",
            vec![ROOMS],
            Vec::new(),
        )?;
        // And every direct conversation.
        let threads = self.run::<Vec<String>>(
            "local r = redis.call('SMEMBERS', KEYS[1]) if #r == 0 then return '[]' end return cjson.encode(r)",
            vec![DIRECT_THREADS],
            Vec::new(),
        )?;
        // (history key, the conversation or "")
        let histories: Vec<(Option<&str>, &str)> = std::iter::once((None, ""))
            .chain(rooms.iter().map(|r| (Some(r.as_str()), "")))
            .chain(threads.iter().map(|t| (Some(t.as_str()), t.as_str())))
            .collect();
        let keep = match retention.max_messages {
            0 => None,
            each => Some(each),
        };
        let pass = self.prune_each(&histories, keep, cutoff)?;
        let mut dropped = pass.dropped;
        // Then the total, as alone: the longest histories cut first, all to one level. Not
        // while lines too old are left (a call drops at most PRUNE_AGED_MAX of them): they would
        // count, and lower the level for good. The next minute's prune goes on.
        let level = if pass.aged_left { None } else { retention.total_cap(&pass.sizes) };
        if let Some(level) = level {
            let longer: Vec<(Option<&str>, &str)> =
                histories.iter().zip(&pass.sizes).filter(|(_, n)| **n > level).map(|(h, _)| *h).collect();
            dropped += self.prune_each(&longer, Some(level), 0)?.dropped;
        }
        Ok(dropped)
    }

    fn reserve(&self, _changes: &[ReservationChange]) -> Result<(), HistoryError> {
        Ok(())
    }

    fn reservations(&self) -> Result<Vec<Reservation>, HistoryError> {
        Ok(Vec::new())
    }

    fn owners(&self) -> Result<Vec<Ownership>, HistoryError> {
        Ok(Vec::new())
    }

    fn rooms(&self) -> Result<Vec<super::StoredRoom>, HistoryError> {
        Ok(Vec::new())
    }

    fn memberships(&self) -> Result<Vec<(String, String)>, HistoryError> {
        Ok(Vec::new())
    }

    fn directs(&self, tenure: &str, limit: usize) -> Result<Vec<DirectThread>, HistoryError> {
        let (list, peers) = (format!("{DIRECTS_PREFIX}{tenure}"), format!("{DIRECT_PEERS_PREFIX}{tenure}"));
        let rows: Vec<(String, String, u64, i64)> =
            self.run(DIRECTS, vec![&list, &peers], vec![limit.to_string()])?;
        Ok(rows
            .into_iter()
            .map(|(tenure, nickname, last_id, last_ts)| DirectThread {
                peer: Party { nickname, tenure },
                last_id,
                last_ts,
            })
            .collect())
    }

    fn check(&self) -> Result<(), HistoryError> {
        self.range(KEYS[1], "XREVRANGE", "+".into(), "-".into(), 1).map(|_| ())
    }
}
