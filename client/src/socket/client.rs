//! The socket.io client of the page: connects (WebSocket, else long-polling), keeps the
//! connection alive (ping/pong, heartbeat timeout), reconnects with exponential backoff and
//! jitter, and offers `emit`, `emit_with_ack` (a future with a timeout) and subscriptions.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use chat_shared::protocol::{ClientEvent, Receipt, ServerEvent};
use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt, select};
use gloo_timers::future::sleep;
use serde_json::Value;
use wasm_bindgen_futures::spawn_local;

use super::codec::{EngineIo, SocketIo};
use super::transport::{self, Reader, TransportKind, Writer};
use super::{
    BULKY_RETRY, BULKY_TRIES, Backoff, RATE_TRIES, Retry, SocketError, Status, asked_again_when_rate_limited,
    rate_wait, retry_after,
};

/// How long `emit_with_ack` waits for the server's ack.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a WebSocket may take to open before we fall back to long-polling.
const WEBSOCKET_OPEN_TIMEOUT: Duration = Duration::from_secs(5);

type Listener = Rc<dyn Fn(&[Value])>;
type StatusListener = Rc<dyn Fn(Status)>;

/// A handle to the connection (cheap to clone; every clone is the same connection).
#[derive(Clone)]
pub struct Socket {
    inner: Rc<Inner>,
}

struct Inner {
    base: String,
    force_polling: bool,
    listeners: RefCell<HashMap<&'static str, Vec<Listener>>>,
    status_listeners: RefCell<Vec<StatusListener>>,
    acks: RefCell<HashMap<u64, oneshot::Sender<Vec<Value>>>>,
    next_ack: Cell<u64>,
    /// Encoded socket.io packets to send; `None` while not connected.
    outbox: RefCell<Option<mpsc::UnboundedSender<String>>>,
    /// Connections lost so far (a retry must not land on the next connection).
    losses: Cell<u64>,
    /// Set when the server said it is going away: reconnect within this (randomly spread),
    /// instead of after the usual backoff.
    planned_reconnect: Cell<Option<Duration>>,
}

impl Socket {
    /// Starts connecting to `base` (`http://host:port`) and keeps connected until dropped
    /// with the page.
    pub fn connect(base: String, force_polling: bool) -> Self {
        let inner = Rc::new(Inner {
            base,
            force_polling,
            listeners: RefCell::default(),
            status_listeners: RefCell::default(),
            acks: RefCell::default(),
            next_ack: Cell::new(1),
            outbox: RefCell::new(None),
            losses: Cell::new(0),
            planned_reconnect: Cell::new(None),
        });
        spawn_local(run(inner.clone()));
        Self { inner }
    }

    /// Calls `f` with the arguments of every `event` the server sends.
    pub fn on(&self, event: ServerEvent, f: impl Fn(&[Value]) + 'static) {
        self.inner.listeners.borrow_mut().entry(event.name()).or_default().push(Rc::new(f));
    }

    /// The server said it is going away: when the connection ends, reconnect after a random
    /// delay below `within` (so that pages do not all come back at once).
    pub fn reconnect_within(&self, within: Duration) {
        self.inner.planned_reconnect.set(Some(within));
    }

    /// Calls `f` on every change of the connection's status.
    pub fn on_status(&self, f: impl Fn(Status) + 'static) {
        self.inner.status_listeners.borrow_mut().push(Rc::new(f));
    }

    /// Emits without waiting for an ack (for hints such as `typing`).
    pub fn emit(&self, event: ClientEvent, args: Vec<Value>) -> Result<(), SocketError> {
        self.inner.send(SocketIo::Event { name: event.name().to_owned(), args, ack: None })
    }

    /// Emits and waits for the server's ack (at most [`ACK_TIMEOUT`] per try). A bulky request
    /// refused because too many answers are on their way (their receipts go back as they
    /// arrive) is asked again a moment later, a few times; a read refused `rate_limited`
    /// (`about` and the bulky ones), with a backoff over about a minute ([`rate_wait`]); on
    /// the same connection only.
    pub async fn emit_with_ack(
        &self,
        event: ClientEvent,
        args: Vec<Value>,
    ) -> Result<Vec<Value>, SocketError> {
        let connection = self.inner.losses.get();
        let (mut unreceived, mut limited) = (1, 1);
        loop {
            let answer = self.emit_with_ack_once(event, args.clone()).await?;
            let wait = match retry_after(&answer) {
                Some(Retry::Unreceived) if event.is_bulky() && unreceived < BULKY_TRIES => {
                    unreceived += 1;
                    BULKY_RETRY
                }
                Some(Retry::RateLimited(named))
                    if asked_again_when_rate_limited(event) && limited < RATE_TRIES =>
                {
                    let wait = rate_wait(named, limited, js_sys::Math::random());
                    limited += 1;
                    wait
                }
                _ => return Ok(answer),
            };
            sleep(wait).await;
            if self.inner.losses.get() != connection {
                return Err(SocketError::Disconnected);
            }
        }
    }

    async fn emit_with_ack_once(
        &self,
        event: ClientEvent,
        args: Vec<Value>,
    ) -> Result<Vec<Value>, SocketError> {
        let id = self.inner.next_ack.get();
        self.inner.next_ack.set(id + 1);
        let (tx, rx) = oneshot::channel();
        self.inner.acks.borrow_mut().insert(id, tx);
        if let Err(e) =
            self.inner.send(SocketIo::Event { name: event.name().to_owned(), args, ack: Some(id) })
        {
            self.inner.acks.borrow_mut().remove(&id);
            return Err(e);
        }
        select! {
            got = rx.fuse() => got.map_err(|_| SocketError::Disconnected),
            () = sleep(ACK_TIMEOUT).fuse() => {
                self.inner.acks.borrow_mut().remove(&id);
                Err(SocketError::Timeout)
            }
        }
    }
}

impl Inner {
    fn send(&self, packet: SocketIo) -> Result<(), SocketError> {
        let outbox = self.outbox.borrow();
        let tx = outbox.as_ref().ok_or(SocketError::NotConnected)?;
        tx.unbounded_send(EngineIo::Message(packet.encode()).encode()).map_err(|_| SocketError::NotConnected)
    }

    fn set_status(&self, status: Status) {
        let listeners: Vec<_> = self.status_listeners.borrow().clone();
        for l in listeners {
            l(status.clone());
        }
    }

    fn dispatch(&self, packet: SocketIo) {
        match packet {
            SocketIo::Event { name, args, .. } => {
                let listeners: Vec<Listener> =
                    self.listeners.borrow().get(name.as_str()).cloned().unwrap_or_default();
                for l in listeners {
                    l(&args);
                }
            }
            SocketIo::Ack { id, args } => {
                // A bulky answer's receipt goes back at once: the server sends no more such
                // answers while too many are unreceived.
                if let Some(receipt) = Receipt::of_ack(&args) {
                    let name = ClientEvent::Received.name().to_owned();
                    let _ =
                        self.send(SocketIo::Event { name, args: vec![Value::from(receipt.0)], ack: None });
                }
                if let Some(tx) = self.acks.borrow_mut().remove(&id) {
                    let _ = tx.send(args);
                }
            }
            SocketIo::Connect(_) | SocketIo::Disconnect | SocketIo::ConnectError(_) => {}
        }
    }
}

/// Connects, and reconnects after every loss, for as long as the page lives.
async fn run(inner: Rc<Inner>) {
    let mut backoff = Backoff::default();
    let mut was_connected = false;
    inner.set_status(Status::Connecting);
    loop {
        match session(&inner, was_connected).await {
            Ok(()) => {
                was_connected = true;
                backoff.reset();
            }
            Err(e) if !was_connected && backoff.attempt() == 0 => inner.set_status(Status::Error(e)),
            Err(_) => {}
        }
        *inner.outbox.borrow_mut() = None;
        inner.losses.set(inner.losses.get() + 1);
        inner.acks.borrow_mut().clear(); // pending acks fail with Disconnected
        let random = js_sys::Math::random();
        let delay = match inner.planned_reconnect.take() {
            Some(within) => within.mul_f64(random),
            None => backoff.next_delay(random),
        };
        inner.set_status(Status::Reconnecting { attempt: backoff.attempt(), delay });
        sleep(delay).await;
    }
}

/// One connection, from opening to loss. Ok if it got as far as joining the namespace.
async fn session(inner: &Rc<Inner>, reconnect: bool) -> Result<(), String> {
    let (handshake, mut reader, mut writer, kind) = open(inner).await?;
    let heartbeat = Duration::from_millis(handshake.ping_interval + handshake.ping_timeout);
    let connect_sent = reader.connect_sent();

    // Reading and writing run as their own tasks, joined to this one by channels.
    let (in_tx, mut inbound) = mpsc::unbounded::<Result<Vec<EngineIo>, String>>();
    spawn_local(async move {
        loop {
            let got = reader.recv().await;
            let failed = got.is_err();
            if in_tx.unbounded_send(got).is_err() || failed {
                return;
            }
        }
    });
    let (out_tx, mut out_rx) = mpsc::unbounded::<String>();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    spawn_local(async move {
        let mut done = done_rx.fuse();
        loop {
            let first = select! {
                p = out_rx.next() => p,
                _ = done => None,
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while let Ok(more) = out_rx.try_recv() {
                batch.push(more);
            }
            if writer.send(batch).await.is_err() {
                break;
            }
        }
        writer.close().await;
    });
    let _closer = done_tx; // dropping it (when this function returns) stops the writer

    if !connect_sent {
        let _ = out_tx.unbounded_send(EngineIo::Message(SocketIo::Connect(None).encode()).encode());
    }
    let mut joined = false;
    let result = loop {
        let next = select! {
            got = inbound.next() => got,
            () = sleep(heartbeat).fuse() => Some(Err("no heartbeat from the server".to_owned())),
        };
        let packets = match next {
            Some(Ok(p)) => p,
            Some(Err(e)) => break Err(e),
            None => break Err("transport closed".to_owned()),
        };
        let mut ended = None;
        for packet in packets {
            match packet {
                EngineIo::Ping => {
                    let _ = out_tx.unbounded_send(EngineIo::Pong.encode());
                }
                EngineIo::Close => ended = Some(Err("closed by the server".to_owned())),
                EngineIo::Message(m) => match SocketIo::decode(&m) {
                    Ok(SocketIo::Connect(_)) if !joined => {
                        joined = true;
                        *inner.outbox.borrow_mut() = Some(out_tx.clone());
                        inner.set_status(Status::Connected { transport: kind, reconnected: reconnect });
                    }
                    Ok(SocketIo::Disconnect) => ended = Some(Err("the server said goodbye".to_owned())),
                    Ok(SocketIo::ConnectError(v)) => ended = Some(Err(format!("refused: {v}"))),
                    Ok(p) => inner.dispatch(p),
                    Err(e) => web_sys::console::warn_1(&format!("ignoring a malformed packet: {e}").into()),
                },
                EngineIo::Open(_) | EngineIo::Pong | EngineIo::Upgrade | EngineIo::Noop => {}
            }
        }
        if let Some(end) = ended {
            break end;
        }
    };
    match (joined, result) {
        (true, _) => Ok(()),
        (false, Err(e)) => Err(e),
        (false, Ok(())) => Err("closed before joining".to_owned()),
    }
}

async fn open(inner: &Inner) -> Result<(super::codec::Handshake, Reader, Writer, TransportKind), String> {
    if !inner.force_polling {
        let ws = select! {
            r = transport::open_websocket(&inner.base).fuse() => r,
            () = sleep(WEBSOCKET_OPEN_TIMEOUT).fuse() => Err("timed out".to_owned()),
        };
        match ws {
            Ok((h, r, w)) => return Ok((h, r, w, TransportKind::WebSocket)),
            Err(e) => {
                web_sys::console::warn_1(&format!("WebSocket failed ({e}); trying long-polling").into())
            }
        }
    }
    let (h, r, w) = transport::open_polling(&inner.base).await?;
    Ok((h, r, w, TransportKind::Polling))
}
