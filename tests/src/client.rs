//! A real socket.io client for tests (rust_socketio, async) that records every event it gets.

use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::PATIENCE;

/// One event as received: its name and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub event: String,
    pub args: Vec<Value>,
}

pub struct TestClient {
    client: Client,
    inbox: mpsc::UnboundedReceiver<Received>,
    /// Everything received so far, in order (filled as the inbox is read).
    pub seen: Vec<Received>,
}

fn args_of(payload: Payload) -> Vec<Value> {
    match payload {
        Payload::Text(args) => args,
        #[allow(deprecated)]
        Payload::String(s) => vec![serde_json::from_str(&s).unwrap_or(Value::String(s))],
        Payload::Binary(_) => vec![],
    }
}

impl TestClient {
    pub async fn connect(url: &str) -> Self {
        Self::connect_with(url, TransportType::Websocket).await
    }

    pub async fn connect_with(url: &str, transport: TransportType) -> Self {
        let (tx, inbox) = mpsc::unbounded_channel();
        let (connected_tx, connected) = oneshot::channel();
        let connected_tx = std::sync::Mutex::new(Some(connected_tx));
        let client = ClientBuilder::new(url)
            .transport_type(transport)
            .reconnect(false)
            // rust_socketio returns from connect() before the namespace is joined: wait for it,
            // as the JS client does, or the server rightly drops events sent too early.
            .on(Event::Connect, move |_, _| {
                if let Some(tx) = connected_tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(());
                }
                async {}.boxed()
            })
            .on_any(move |event, payload, _| {
                let _ = tx.send(Received { event: event.to_string(), args: args_of(payload) });
                async {}.boxed()
            })
            .connect()
            .await
            .expect("connect to chat-server");
        tokio::time::timeout(PATIENCE, connected).await.expect("namespace joined in time").expect("joined");
        Self { client, inbox, seen: Vec::new() }
    }

    /// Emits with an ack and returns the ack's arguments.
    pub async fn emit_ack(&self, event: &str, args: Vec<Value>) -> Vec<Value> {
        let (tx, rx) = oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        self.client
            .emit_with_ack(event, Payload::Text(args), PATIENCE, move |payload, _| {
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(args_of(payload));
                }
                async {}.boxed()
            })
            .await
            .expect("emit with ack");
        let mut args = tokio::time::timeout(PATIENCE, rx).await.expect("ack in time").expect("ack");
        // rust_socketio hands the ack's argument list back wrapped in one more array.
        if let [Value::Array(inner)] = args.as_slice() {
            args = inner.clone();
        }
        // A bulky answer's receipt goes back, as the page does.
        if let Some(receipt) = chat_shared::protocol::Receipt::of_ack(&args) {
            self.emit("received", vec![Value::from(receipt.0)]).await;
        }
        args
    }

    pub async fn emit(&self, event: &str, args: Vec<Value>) {
        self.client.emit(event, Payload::Text(args)).await.expect("emit");
    }

    /// `nickname` with an ack; returns the ack's arguments (`[false]` = accepted).
    pub async fn nickname(&self, nick: &str) -> Vec<Value> {
        self.emit_ack("nickname", vec![Value::from(nick)]).await
    }

    /// Sets a nickname and panics unless it is accepted.
    pub async fn join(url: &str, nick: &str) -> Self {
        let c = Self::connect(url).await;
        assert_eq!(c.nickname(nick).await, vec![Value::Bool(false)], "nickname {nick} accepted");
        c
    }

    pub async fn say(&self, text: &str) {
        self.emit("user message", vec![Value::from(text)]).await;
    }

    /// Waits for the next `event`; other events are kept in `seen`.
    pub async fn next(&mut self, event: &str) -> Vec<Value> {
        self.next_within(event, PATIENCE)
            .await
            .unwrap_or_else(|| panic!("no {event:?} within {PATIENCE:?}; seen {:?}", self.seen))
    }

    pub async fn next_within(&mut self, event: &str, within: Duration) -> Option<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = tokio::time::timeout_at(deadline, self.inbox.recv()).await.ok().flatten()?;
            self.seen.push(got.clone());
            if got.event == event {
                return Some(got.args);
            }
        }
    }

    /// Waits until a `nicknames` event equals `names` (intermediate maps are skipped).
    pub async fn nicknames_become(&mut self, names: &[&str]) {
        let want: serde_json::Map<String, Value> =
            names.iter().map(|n| (n.to_string(), Value::from(*n))).collect();
        loop {
            let args = self.next("nicknames").await;
            if args.first() == Some(&Value::Object(want.clone())) {
                return;
            }
        }
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
    }
}
