//! Several instances as one chat, over Redis. socket.io fan-out between instances goes through
//! socketioxide's Redis adapter (socketioxide-redis, fred driver). Alone (no `--redis-url`) the
//! same adapter runs on a driver that talks to nobody, so that the server has one socket.io type
//! either way and nothing needs Redis.

mod presence;
mod rooms;

pub use presence::{Claim, NICK, Presence, PresenceError, RENEW_EVERY, TAKEOVER_CHANNEL, Takeover};
pub use rooms::{Creation, RedisRooms};

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chat_shared::protocol::ServerEvent;
use serde::Serialize;
use socketioxide::SocketIo;

use fred::prelude::{ClientLike, Config, ReconnectPolicy};
use fred::types::RespVersion;
use socketioxide::adapter::Emitter;
use socketioxide_redis::drivers::fred::{FredDriver, FredError};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

/// The socket.io adapter of the chat, alone or clustered.
pub type ChatAdapter = CustomRedisAdapter<Emitter, ChatDriver>;

/// Completes when the adapter of the chat's namespace is ready (subscribed, when clustered).
pub type Attached = socketioxide_redis::InitRes<ChatDriver>;

/// How long a request to the other instances (through Redis) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Redis reconnects: every this many ms, forever (an outage must not need a restart).
const RECONNECT_EVERY_MS: u32 = 500;
/// Packets from other instances that may wait to be delivered here (in fred's queue, then in
/// the adapter's) before more are dropped, with a warning in the log: about 2 s of the
/// heaviest cross-instance load measured (docs/benchmarks.md).
const PUBSUB_QUEUE: usize = 16_384;
/// The prefix of the adapter's Redis channels.
const CHANNEL_PREFIX: &str = "chat-socket.io";

/// The pub/sub under the adapter: nobody (alone), or Redis.
#[derive(Clone)]
pub enum ChatDriver {
    Alone,
    Redis(FredDriver),
}

impl Driver for ChatDriver {
    type Error = FredError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        match self {
            Self::Alone => Ok(()),
            Self::Redis(d) => d.publish(chan, val).await,
        }
    }

    async fn subscribe(&self, chan: String, size: usize) -> Result<MessageStream<ChanItem>, Self::Error> {
        match self {
            Self::Alone => Ok(MessageStream::new_empty()),
            Self::Redis(d) => d.subscribe(chan, size).await,
        }
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        match self {
            Self::Alone => Ok(()),
            Self::Redis(d) => d.unsubscribe(chan).await,
        }
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        match self {
            Self::Alone => Ok(1), // this instance
            Self::Redis(d) => d.num_serv(chan).await,
        }
    }
}

/// The Redis side of a clustered instance.
#[derive(Clone)]
pub struct Redis {
    /// Commands (presence, history).
    pub client: fred::clients::Client,
    /// This instance's id (random, new at each start).
    pub instance: String,
    /// Subscribed to this instance's takeover channel (see [`Redis::takeovers`]).
    takeovers: fred::clients::SubscriberClient,
}

impl Redis {
    /// This instance's nicknames that were just resumed on another instance, as Redis
    /// announces them (subscribed again after each reconnect; a notice missed meanwhile is
    /// caught by the next lease renewal).
    pub fn takeovers(&self) -> tokio::sync::mpsc::UnboundedReceiver<Takeover> {
        use fred::interfaces::{EventInterface, PubsubInterface};
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let subscriber = self.takeovers.clone();
        let channel = format!("{TAKEOVER_CHANNEL}{}", self.instance);
        let mut messages = subscriber.message_rx();
        let mut reconnects = subscriber.reconnect_rx();
        tokio::spawn(async move {
            if let Err(e) = subscriber.subscribe(channel.clone()).await {
                tracing::warn!(%channel, "cannot subscribe to takeovers: {e}");
            }
            loop {
                tokio::select! {
                    message = messages.recv() => match message {
                        Ok(m) => match m.value.convert::<String>().map(|v| serde_json::from_str::<Takeover>(&v)) {
                            Ok(Ok(takeover)) => if tx.send(takeover).is_err() { return },
                            Ok(Err(e)) => tracing::warn!("unreadable takeover notice: {e}"),
                            Err(e) => tracing::warn!("unreadable takeover notice: {e}"),
                        },
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "takeover notices missed: the next renewal catches them");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    },
                    reconnected = reconnects.recv() => {
                        if matches!(reconnected, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                            return;
                        }
                        if let Err(e) = subscriber.subscribe(channel.clone()).await {
                            tracing::warn!(%channel, "cannot subscribe to takeovers again: {e}");
                        }
                    }
                }
            }
        });
        rx
    }
}

/// Connects to Redis for the adapter's pub/sub (resubscribing by itself after a reconnect)
/// and for commands. Fails if Redis cannot be reached at start.
pub async fn connect(url: &str) -> Result<(RedisAdapterCtr<ChatDriver>, Redis), String> {
    let mut config = Config::from_url(url).map_err(|e| format!("--redis-url {url:?}: {e}"))?;
    config.version = RespVersion::RESP3;
    let mut builder = fred::types::Builder::from_config(config);
    builder.set_policy(ReconnectPolicy::new_constant(0, RECONNECT_EVERY_MS));
    // Messages from the other instances queue here before the adapter reads them; fred's
    // default (32) drops bursts (a lagging reader skips messages).
    builder.with_performance_config(|p| p.broadcast_channel_capacity = PUBSUB_QUEUE);
    let subscriber = builder.build_subscriber_client().map_err(|e| e.to_string())?;
    let takeovers = builder.build_subscriber_client().map_err(|e| e.to_string())?;
    let client = builder.build().map_err(|e| e.to_string())?;
    client.init().await.map_err(|e| format!("cannot reach Redis at {url}: {e}"))?;
    takeovers.init().await.map_err(|e| format!("cannot reach Redis at {url}: {e}"))?;
    let driver =
        FredDriver::new(subscriber.clone()).await.map_err(|e| format!("Redis pub/sub at {url}: {e}"))?;
    resubscribe_after_reconnects(subscriber);
    let config = RedisAdapterConfig::new()
        .with_request_timeout(REQUEST_TIMEOUT)
        .with_prefix(CHANNEL_PREFIX)
        .with_stream_buffer(PUBSUB_QUEUE);
    Ok((
        RedisAdapterCtr::new_with_driver(ChatDriver::Redis(driver), config),
        Redis { client, instance: random_id(), takeovers },
    ))
}

/// After Redis comes back, subscribes again to the adapter's (sharded) channels. fred's own
/// `manage_subscriptions` sends an empty SUBSCRIBE first (the adapter uses none), which Redis
/// refuses, and then gives up before the sharded ones.
fn resubscribe_after_reconnects(subscriber: fred::clients::SubscriberClient) {
    use fred::interfaces::{EventInterface, PubsubInterface};
    use tokio::sync::broadcast::error::RecvError;
    let mut reconnects = subscriber.reconnect_rx();
    tokio::spawn(async move {
        loop {
            match reconnects.recv().await {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
            let channels = subscriber.tracked_shard_channels();
            for channel in &channels {
                if let Err(e) = subscriber.ssubscribe(channel.to_string()).await {
                    tracing::warn!(%channel, "cannot subscribe again after a Redis reconnect: {e}");
                }
            }
            tracing::info!(channels = channels.len(), "Redis is back: subscribed again");
        }
    });
}

/// The adapter of an instance that runs alone.
pub fn alone() -> RedisAdapterCtr<ChatDriver> {
    RedisAdapterCtr::new_with_driver(ChatDriver::Alone, RedisAdapterConfig::new().with_prefix(CHANNEL_PREFIX))
}

/// The users on the other instances: events sent here reach each of them once, through the
/// adapter, while this instance delivers to its own users itself (one queue check per socket).
/// Every socket of an instance is in that instance's room; "everyone except my room" is
/// everyone elsewhere.
#[derive(Clone)]
pub struct Elsewhere {
    io: Arc<OnceLock<SocketIo<ChatAdapter>>>,
    /// This instance's room (None: alone, there is nobody elsewhere).
    room: Option<String>,
}

impl Elsewhere {
    /// `instance`: this instance's id when clustered; `io`: the chat's socket.io, set once it
    /// is built.
    pub fn new(instance: Option<&str>, io: Arc<OnceLock<SocketIo<ChatAdapter>>>) -> Self {
        let room = instance.map(|id| format!("instance:{id}"));
        Self { io, room }
    }

    /// The room every local socket joins (None: alone).
    pub fn local_room(&self) -> Option<&str> {
        self.room.as_deref()
    }

    /// Sends `event` to everyone on the other instances (nothing when alone).
    /// `data` is owned (the sending finishes in a task); a tuple is several arguments.
    pub fn send<T: Serialize + Send + Sync + 'static>(&self, event: ServerEvent, data: T) {
        self.send_within(None, event, data, false);
    }

    /// Sends `event` to the sockets of the other instances that are in `room`.
    pub fn send_to<T: Serialize + Send + Sync + 'static>(
        &self,
        room: impl Into<String>,
        event: ServerEvent,
        data: T,
    ) {
        self.send_within(Some(room.into()), event, data, false);
    }

    /// Like [`Self::send_to`], for a state that supersedes the one before it (the whole
    /// `nicknames` map): each socket keeps only the newest one it has not written yet (see
    /// `chat::fanout::latest_to_each`).
    pub fn send_latest_to<T: Serialize + Send + Sync + 'static>(
        &self,
        room: impl Into<String>,
        event: ServerEvent,
        data: T,
    ) {
        self.send_within(Some(room.into()), event, data, true);
    }

    fn send_within<T: Serialize + Send + Sync + 'static>(
        &self,
        to: Option<String>,
        event: ServerEvent,
        data: T,
        latest: bool,
    ) {
        let (Some(room), Some(io)) = (&self.room, self.io.get()) else { return };
        let (io, room) = (io.clone(), room.clone());
        tokio::spawn(async move {
            let others = match to {
                Some(to) => io.to(to).except(room),
                None => io.except(room),
            };
            let others = if latest { others.volatile() } else { others };
            if let Err(e) = others.emit(event.name(), &data).await {
                tracing::warn!(event = event.name(), "not delivered on every other instance: {e}");
            }
        });
    }
}

/// How long one Redis command or script may take before it counts as failed.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one Lua script within [`REDIS_TIMEOUT`]; its answer as text (the scripts answer
/// JSON or a number). The history and the presence both talk to Redis this way.
pub async fn eval(
    client: &fred::clients::Client,
    script: &str,
    keys: Vec<String>,
    args: Vec<String>,
) -> Result<String, String> {
    use fred::interfaces::LuaInterface;
    let call = client.eval::<String, _, _, _>(script.to_owned(), keys, args);
    match tokio::time::timeout(REDIS_TIMEOUT, call).await {
        Ok(answer) => answer.map_err(|e| e.to_string()),
        Err(_) => Err(format!("Redis did not answer within {REDIS_TIMEOUT:?}")),
    }
}

/// 64 random bits, hex (an instance's id).
fn random_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes); // without randomness: the time-based fallback below
    if bytes == [0; 8] {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes = (nanos.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
