//! The HTTP application: the page, `/healthz`, `/readyz`, `/metrics` and the socket.io
//! endpoint on one axum router, and the server's life from bind to graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::{Listener, ListenerExt};
use axum::{Extension, Router};
use chat_shared::limits::{
    CONNECT_TIMEOUT, LISTEN_BACKLOG, MAX_BUFFERED_PACKETS, MAX_PAYLOAD_BYTES, PING_INTERVAL, PING_TIMEOUT,
};
use chat_shared::protocol::SOCKET_IO_PATH;
use socketioxide::{ParserConfig, SocketIo};
use tokio::net::{TcpListener, TcpSocket};
use tower::Layer;
use tower_http::trace::TraceLayer;

use crate::chat::Chat;
use crate::chat::moderation::store::Store as ModerationStore;
use crate::client_addr::{self, ClientAddress};
use crate::cluster::{self, Attached, ChatAdapter, ChatDriver, Redis};
use crate::config::Config;
use crate::handshake::{self, Handshakes};
use crate::history::{History, RedisHistory, SqliteHistory};
use crate::metrics::Metrics;
use crate::origin::AllowedOrigins;
use crate::{detach, origin, page};
use socketioxide_redis::RedisAdapterCtr;

/// A listening socket on `addr` with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // As TcpListener::bind does: a restarted server may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Binds, serves until SIGINT/SIGTERM, then shuts down within the configured timeout.
pub async fn run(config: Config) -> io::Result<()> {
    let addr = SocketAddr::new(config.bind, config.port);
    let listener =
        listen(addr).map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    let per_address = config.max_connections_per_address;
    let listener =
        crate::tcp_guard::GuardedListener::new(listener, per_address, config.trusted_proxies.clone());
    // Small frames (acks, lines) must leave at once: without TCP_NODELAY, Nagle's algorithm
    // and the peer's delayed ACK hold some of them back for 40 ms.
    let listener = listener.tap_io(|stream| {
        if let Err(e) = stream.tcp().set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {e}");
        }
    });
    let metrics = Metrics::install().map_err(|e| io::Error::other(format!("metrics: {e}")))?;
    let (adapter, history, redis): (_, Arc<dyn History>, _) = match &config.redis_url {
        Some(url) => {
            let (adapter, redis) = cluster::connect(url).await.map_err(io::Error::other)?;
            tracing::info!(redis = %without_password(url), instance = %redis.instance, "clustered over Redis");
            let runtime = tokio::runtime::Handle::current();
            let history = RedisHistory::new(redis.client.clone(), runtime, config.reservation());
            (adapter, Arc::new(history), Some(redis))
        }
        None => (cluster::alone(), open_history(&config)?, None),
    };
    let moderation = match &redis {
        Some(redis) => ModerationStore::Redis(redis.client.clone()),
        None => ModerationStore::open_sqlite(&config.history_path())
            .map_err(|e| io::Error::other(format!("CHAT_DATA_DIR/--data-dir: {e}")))?,
    };
    let (router, io, chat, attached) = router(&config, history, metrics.clone(), adapter, redis, moderation);
    attached.await.map_err(|e| io::Error::other(format!("socket.io over Redis: {e}")))?;
    let open = chat.clone();
    tokio::spawn(crate::allocator::trim_after_departures(
        move || open.take_occupancy(),
        Duration::from_secs(config.resume_grace_secs),
    ));
    tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP_EVERY);
        loop {
            every.tick().await;
            metrics.upkeep();
        }
    });
    tracing::info!(
        address = %listener.local_addr()?,
        data_dir = %config.data_dir.display(),
        page = %page::source_description(config.page_dir.as_deref()),
        "chat-server listening"
    );

    let timeout = config.shutdown_timeout();
    let signalled = Arc::new(tokio::sync::Notify::new());
    let on_signal = signalled.clone();
    let serve = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            on_signal.notify_one();
            if tokio::time::timeout(timeout, shut_down(&io, &chat)).await.is_err() {
                tracing::warn!("shutdown did not finish within {timeout:?}: exiting anyway");
            }
        });
    // The HTTP server then waits for its open requests; it gets one more second.
    let deadline = async {
        signalled.notified().await;
        tokio::time::sleep(timeout + HTTP_DRAIN).await;
    };
    tokio::select! {
        served = serve => served?,
        () = deadline => tracing::warn!("HTTP connections still open after the shutdown timeout: exiting anyway"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// What the HTTP server gets, after the chat has shut down, to finish its open requests.
const HTTP_DRAIN: Duration = Duration::from_secs(1);

/// Graceful shutdown of the chat: say goodbye, store and answer what is in flight, close every
/// connection (its nickname stays reserved for its owner to re-claim after the restart), and
/// store those reservations.
async fn shut_down(io: &SocketIo<ChatAdapter>, chat: &Chat) {
    let told = chat.begin_shutdown();
    tracing::info!(connections = told, "shutting down: told every connection we are going away");
    chat.flush().await;
    // Upgraded WebSockets are not tracked by the HTTP server's graceful shutdown: close every
    // socket.io connection ourselves.
    io.close().await;
    chat.flush().await;
}

/// A Redis URL fit for the log: `redis://user:secret@host` as `redis://***@host`.
fn without_password(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.rsplit_once('@')?.1))) {
        Some((scheme, host)) => format!("{scheme}://***@{host}"),
        None => url.to_owned(),
    }
}

/// Opens the embedded history in the data directory (creating both if needed).
fn open_history(config: &Config) -> io::Result<Arc<dyn History>> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        io::Error::new(e.kind(), format!("CHAT_DATA_DIR/--data-dir {}: {e}", config.data_dir.display()))
    })?;
    let store = SqliteHistory::open(&config.history_path(), &config.history_sync.to_uppercase())
        .map_err(|e| io::Error::other(format!("CHAT_DATA_DIR/--data-dir: {e}")))?;
    Ok(Arc::new(store))
}

/// Each WebSocket's read buffer (socketioxide's default is 4 KiB). Chat frames are small, a
/// bigger one is read in several steps; 5,000 idle connections measured 30.6 KiB each with
/// 4 KiB and 27.6 KiB with this.
const WS_READ_BUFFER_BYTES: usize = 1024;

/// How often histogram samples are folded into their buckets.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The router with every route and layer, the socket.io handle and the chat.
/// `attached` completes once socket.io's adapter is ready (subscribed, when clustered).
pub fn router(
    config: &Config,
    history: Arc<dyn History>,
    metrics: Metrics,
    adapter: RedisAdapterCtr<ChatDriver>,
    redis: Option<Redis>,
    moderation: ModerationStore,
) -> (Router, SocketIo<ChatAdapter>, Chat, Attached) {
    let (chat, nicknames_task) = Chat::new(history, config.chat_settings(), redis, moderation);
    let (socket_layer, io) = SocketIo::builder()
        .with_adapter::<ChatAdapter>(adapter)
        .req_path(SOCKET_IO_PATH)
        .max_buffer_size(MAX_BUFFERED_PACKETS)
        .max_payload(MAX_PAYLOAD_BYTES)
        .ws_read_buffer_size(WS_READ_BUFFER_BYTES)
        .ws_max_message_size(MAX_PAYLOAD_BYTES as usize)
        .connect_timeout(CONNECT_TIMEOUT)
        // Set, not left to engineioxide's defaults: the TCP guard's idle timeout counts on them.
        .ping_interval(PING_INTERVAL)
        .ping_timeout(PING_TIMEOUT)
        // The chat has no binary events: a packet with a binary attachment closes its
        // connection at once, instead of socketioxide holding up to 10,000 attachments
        // (10 MB) per connection while it waits for them.
        .with_parser(ParserConfig::common().max_incoming_binaries(0).max_incoming_binary_buf_size(0))
        .with_state(chat.clone())
        .build_layer();
    let attached = chat.attach(&io);
    nicknames_task.spawn(io.clone(), chat.clone());

    let ready = Arc::new(Readiness { chat: chat.clone(), last: tokio::sync::Mutex::default() });
    let scraped = chat.clone();
    let metrics_allow = Arc::new(config.metrics_allow.clone());
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(move || readyz(ready.clone())))
        .route(
            "/metrics",
            get(move |client: Option<Extension<ClientAddress>>| {
                let allowed = client.is_some_and(|Extension(ClientAddress(ip))| metrics_allow.contains(ip));
                let text = allowed.then(|| metrics.render(scraped.metrics_snapshot()));
                async move {
                    match text {
                        Some(text) => {
                            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
                                .into_response()
                        }
                        None => (StatusCode::FORBIDDEN, "not allowed: see --metrics-allow\n").into_response(),
                    }
                }
            }),
        )
        .merge(page::routes(config.page_dir.as_deref()));
    // socket.io wraps the whole router as one service: `Router::layer` would wrap each route
    // apart, and each copy would then keep its own engine.io sessions.
    let allowed =
        Arc::new(AllowedOrigins { public: config.public_origin.clone(), ..config.allowed_origins.clone() });
    let trusted = Arc::new(config.trusted_proxies.clone());
    let handshakes = Arc::new(Handshakes::new(config.max_connections_per_address));
    let router = Router::new()
        .fallback_service(socket_layer.layer(routes))
        .layer(axum::middleware::map_request(detach::request))
        .layer(axum::middleware::from_fn_with_state(handshakes, handshake::limit))
        .layer(axum::middleware::from_fn_with_state(trusted, client_addr::resolve))
        .layer(axum::middleware::from_fn_with_state(allowed, origin::check))
        .layer(TraceLayer::new_for_http());
    (router, io, chat, attached)
}

/// `/readyz`'s last answer is reused for this long: each check flushes the history writer
/// and reads the store, and anyone who can reach the port may ask as often as they like.
const READY_CACHE: Duration = Duration::from_secs(1);

/// What `/readyz` answers from: the chat, and its last answer with when it was found.
struct Readiness {
    chat: Chat,
    /// Held while a check runs, so that requests meanwhile wait for its answer.
    last: tokio::sync::Mutex<Option<(tokio::time::Instant, StatusCode, String)>>,
}

/// 200 when this instance can take messages, 503 with the reason when not (at most one
/// check per [`READY_CACHE`]).
async fn readyz(ready: Arc<Readiness>) -> (StatusCode, String) {
    let mut last = ready.last.lock().await;
    if let Some((at, status, text)) = &*last
        && at.elapsed() < READY_CACHE
    {
        return (*status, text.clone());
    }
    crate::metrics::readiness_checked();
    let (status, text) = match ready.chat.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")),
    };
    *last = Some((tokio::time::Instant::now(), status, text.clone()));
    (status, text)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_redis_password_stays_out_of_the_log() {
        assert_eq!(super::without_password("redis://:s3cret@10.0.0.5:6379/0"), "redis://***@10.0.0.5:6379/0");
        assert_eq!(super::without_password("redis://10.0.0.5:6379"), "redis://10.0.0.5:6379");
    }
}
