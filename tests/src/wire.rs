//! A bare engine.io v4 / socket.io v5 client over a WebSocket, for tests that must send what
//! no well-behaved client library would (malformed frames, odd payloads) or many connections.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::PATIENCE;

pub struct WireClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The engine.io session id of its handshake (a bearer secret, which the server must not
    /// store or log).
    sid: String,
}

/// A socket.io packet the server sent, after the engine.io `4` prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// `42[...]`: an event and its arguments.
    Event(String, Vec<Value>),
    /// `43<id>[...]`: an ack.
    Ack(u64, Vec<Value>),
    /// Anything else (`41` namespace disconnect, `44` connect error, ...), raw.
    Other(String),
}

impl WireClient {
    /// Opens the WebSocket and joins the default namespace.
    pub async fn connect(port: u16) -> Self {
        match Self::try_connect(port).await {
            Ok(c) => c,
            Err(refusal) => panic!("expected namespace connect, got {refusal}"),
        }
    }

    /// Like `connect`, but a refusal (socket.io connect error) comes back as its raw packet.
    pub async fn try_connect(port: u16) -> Result<Self, String> {
        Self::try_connect_from(port, [127, 0, 0, 1]).await
    }

    /// Opens the WebSocket only (engine.io handshake done, no namespace yet).
    pub async fn open(port: u16) -> Self {
        Self::open_from(port, [127, 0, 0, 1], "").await
    }

    /// Like `try_connect`, from another loopback address (e.g. 127.0.0.2): a client the server
    /// sees as a different machine.
    pub async fn try_connect_from(port: u16, from: [u8; 4]) -> Result<Self, String> {
        Self::connect_with(Self::open_from(port, from, "").await).await
    }

    /// Like `try_connect`, asking for `presence` changes (as the page does) instead of an
    /// announcement per person and the whole map on every change.
    pub async fn try_connect_for_changes(port: u16) -> Result<Self, String> {
        let (name, value) = chat_shared::protocol::PRESENCE_CHANGES_QUERY;
        Self::connect_with(Self::open_from(port, [127, 0, 0, 1], &format!("&{name}={value}")).await).await
    }

    async fn connect_with(mut c: Self) -> Result<Self, String> {
        c.send_raw("40").await;
        // A broadcast (e.g. someone's announcement) can reach a socket the server has just
        // added to the namespace before the connect packet is written: skip events until it.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match c.recv_packet(left).await {
                Some(Inbound::Other(p)) if p.starts_with("0{") => return Ok(c),
                Some(Inbound::Event(..)) => continue,
                other => return Err(format!("{other:?}")),
            }
        }
    }

    async fn open_from(port: u16, from: [u8; 4], query: &str) -> Self {
        Self::open_with_headers(port, from, query, &[]).await
    }

    /// Like `try_connect_from`, with extra request headers (e.g. a spoofed `X-Forwarded-For`).
    pub async fn try_connect_with_headers(
        port: u16,
        from: [u8; 4],
        headers: &[(&str, &str)],
    ) -> Result<Self, String> {
        Self::connect_with(Self::open_with_headers(port, from, "", headers).await).await
    }

    async fn open_with_headers(port: u16, from: [u8; 4], query: &str, headers: &[(&str, &str)]) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
        let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket{query}");
        let mut request = url.into_client_request().expect("a websocket request");
        for (name, value) in headers {
            request.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                HeaderValue::from_str(value).expect("a header value"),
            );
        }
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        // Bind only for another source address: an explicit bind picks its port from half the
        // ephemeral range and never one in TIME_WAIT, so after a run of 10,000 connections the
        // next run's binds failed by the thousand (counted as failed joins); connect's own
        // choice uses the whole range and reuses TIME_WAIT ports on loopback.
        if from != [127, 0, 0, 1] {
            socket.set_reuseaddr(true).expect("SO_REUSEADDR");
            socket.bind((std::net::Ipv4Addr::from(from), 0).into()).expect("bind a loopback address");
        }
        let stream = socket.connect(([127, 0, 0, 1], port).into()).await.expect("tcp connect");
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("websocket connect");
        let mut c = Self { ws, sid: String::new() };
        match c.next_text(PATIENCE).await {
            Some(t) if t.starts_with("0{") => {
                let open: Value = serde_json::from_str(&t[1..]).expect("an engine.io open packet");
                c.sid = open["sid"].as_str().expect("a session id").to_owned();
                c
            }
            other => panic!("expected engine.io open packet, got {other:?}"),
        }
    }

    /// The engine.io session id of its handshake.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    pub async fn send_raw(&mut self, text: &str) {
        let _ = self.try_send_raw(text).await;
    }

    /// Sends one frame; an error once the connection is closed.
    pub async fn try_send_raw(&mut self, text: &str) -> Result<(), String> {
        self.ws.send(Message::text(text)).await.map_err(|e| e.to_string())
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        let _ = self.ws.send(Message::binary(bytes)).await;
    }

    /// Emits `event` with `args`, asking for an ack with `ack_id` if given.
    pub async fn emit(&mut self, event: &str, args: &[Value], ack_id: Option<u64>) {
        let mut list = vec![Value::from(event)];
        list.extend_from_slice(args);
        let id = ack_id.map(|i| i.to_string()).unwrap_or_default();
        self.send_raw(&format!("42{id}{}", Value::Array(list))).await;
    }

    /// The next socket.io packet, answering engine.io pings on the way. None when the
    /// connection closed or nothing came within `within`.
    pub async fn recv_packet(&mut self, within: Duration) -> Option<Inbound> {
        let text = self.next_text(within).await?;
        let body = text.strip_prefix('4')?;
        Some(parse_packet(body))
    }

    /// Waits for the ack with `id` (a bulky answer's receipt goes back, as the page does).
    pub async fn ack(&mut self, id: u64) -> Vec<Value> {
        let args = self.ack_unconfirmed(id).await;
        self.confirm(&args).await;
        args
    }

    /// Waits for the ack with `id`, as it came (its receipt, if any, not sent back).
    pub async fn ack_unconfirmed(&mut self, id: u64) -> Vec<Value> {
        loop {
            match self.recv_packet(PATIENCE).await {
                Some(Inbound::Ack(got, args)) if got == id => return args,
                Some(_) => continue,
                None => panic!("connection closed or silent before ack {id}"),
            }
        }
    }

    /// Sends back the receipt of a bulky answer's ack (`received`), if it has one.
    pub async fn confirm(&mut self, args: &[Value]) {
        if let Some(receipt) = chat_shared::protocol::Receipt::of_ack(args) {
            self.emit("received", &[Value::from(receipt.0)], None).await;
        }
    }

    /// Waits for the acks with ids `ids` (in any order: a refusal is acked at once, a stored
    /// message once it is stored).
    pub async fn acks(&mut self, ids: std::ops::Range<u64>) -> std::collections::BTreeMap<u64, Vec<Value>> {
        let mut got = std::collections::BTreeMap::new();
        while got.len() < ids.end.saturating_sub(ids.start) as usize {
            match self.recv_packet(PATIENCE).await {
                Some(Inbound::Ack(id, args)) if ids.contains(&id) => {
                    self.confirm(&args).await;
                    got.insert(id, args);
                }
                Some(_) => continue,
                None => panic!("connection closed or silent with {} of {:?} acked", got.len(), ids),
            }
        }
        got
    }

    /// Waits for the next event named `event`.
    pub async fn event(&mut self, event: &str) -> Vec<Value> {
        loop {
            match self.recv_packet(PATIENCE).await {
                Some(Inbound::Event(name, args)) if name == event => return args,
                Some(_) => continue,
                None => panic!("connection closed or silent before {event:?}"),
            }
        }
    }

    /// The arguments of every `event` that arrives within `within` (other packets are dropped).
    pub async fn events_within(&mut self, event: &str, within: Duration) -> Vec<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_packet(left).await {
                Some(Inbound::Event(name, args)) if name == event => got.push(args),
                Some(_) => {}
                None => return got,
            }
        }
    }

    /// True if the server closes the connection, or disconnects it from the namespace (`41`:
    /// socketioxide then closes the transport at the client's next frame, and a socket.io
    /// client closes it itself), within `within` (events read meanwhile are dropped).
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "41" => return true,
                Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" => {
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// The next engine.io text frame as it came (pings answered on the way): for load
    /// generators that must not parse every packet. None when closed or silent for `within`.
    pub async fn recv_text(&mut self, within: Duration) -> Option<String> {
        self.next_text(within).await
    }

    async fn next_text(&mut self, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await.ok()?? {
                Ok(Message::Text(t)) if t.as_str() == "2" => {
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Ok(Message::Text(t)) => return Some(t.to_string()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Closes as a tab does: the WebSocket close handshake, waiting (up to `PATIENCE`) for the
    /// server's close frame. Dropping the TCP connection right after sending the close frame,
    /// with unread frames in the kernel's buffer, sends a reset, which the server may read
    /// before the close frame: a dropped connection, whose nickname stays reserved.
    pub async fn close(mut self) {
        if self.ws.close(None).await.is_err() {
            return;
        }
        let _ =
            tokio::time::timeout(PATIENCE, async { while let Some(Ok(_)) = self.ws.next().await {} }).await;
    }
}

fn parse_packet(body: &str) -> Inbound {
    let kind = body.chars().next();
    let rest = &body[kind.map_or(0, char::len_utf8)..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (id, json) = rest.split_at(digits);
    let list = serde_json::from_str::<Vec<Value>>(json).ok();
    match (kind, list) {
        (Some('2'), Some(mut list)) if !list.is_empty() => {
            let name = list.remove(0).as_str().unwrap_or_default().to_owned();
            Inbound::Event(name, list)
        }
        (Some('3'), Some(list)) => Inbound::Ack(id.parse().unwrap_or(0), list),
        _ => Inbound::Other(body.to_owned()),
    }
}

impl WireClient {
    /// Goes away without a WebSocket close: the server sees a dropped connection.
    pub fn drop_abruptly(self) {
        drop(self.ws);
    }

    /// Connects and takes `nick`; returns the client and its resume token.
    pub async fn join(port: u16, nick: &str) -> (Self, String) {
        Self::join_from(port, nick, [127, 0, 0, 1]).await
    }

    /// Like `join`, from another loopback address (the server sees another machine).
    pub async fn join_from(port: u16, nick: &str, from: [u8; 4]) -> (Self, String) {
        let mut c = match Self::try_connect_from(port, from).await {
            Ok(c) => c,
            Err(refusal) => panic!("expected namespace connect, got {refusal}"),
        };
        c.emit("nickname", &[Value::from(nick)], Some(1)).await;
        assert_eq!(c.ack(1).await, vec![Value::Bool(false)], "nickname {nick} accepted");
        let grant = c.event("session").await;
        let token = grant[0]["resume_token"].as_str().expect("a resume token").to_owned();
        (c, token)
    }

    /// Connects and claims `nick` as its owner (`options`: `{"own": true}` or `{"owner":
    /// secret}`); returns the client and the owner secret of its grant.
    pub async fn own(port: u16, nick: &str, options: Value) -> (Self, String) {
        let mut c = Self::connect(port).await;
        c.emit("nickname", &[Value::from(nick), options], Some(1)).await;
        assert_eq!(c.ack(1).await, vec![Value::Bool(false)], "{nick} claimed as its owner");
        let grant = c.event("session").await;
        let secret = grant[0]["owner_secret"].as_str().expect("an owner secret").to_owned();
        (c, secret)
    }

    /// Claims `nick` with `options` (none: as the original page did) as soon as it is free:
    /// in a cluster a closed tab's name, or a dead instance's hold, is freed a moment later.
    /// A refusal whose code `retry` accepts is tried again (a fresh connection each time) for
    /// up to `PATIENCE`; any other refusal fails the test. Returns the client and its grant.
    pub async fn claim_when_free(
        port: u16,
        nick: &str,
        options: Option<Value>,
        retry: impl Fn(&str) -> bool,
    ) -> (Self, Value) {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let mut c = Self::connect(port).await;
            let mut args = vec![Value::from(nick)];
            args.extend(options.clone());
            c.emit("nickname", &args, Some(1)).await;
            let ack = c.ack(1).await;
            if ack == [Value::Bool(false)] {
                let grant = c.event("session").await[0].clone();
                return (c, grant);
            }
            let code = ack.get(1).and_then(|e| e["code"].as_str()).unwrap_or("?");
            assert!(retry(code), "{nick} claimed: {ack:?}");
            assert!(std::time::Instant::now() < deadline, "{nick} never became free: {ack:?}");
            c.close().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Connects and resumes with `token`; returns the ack's arguments.
    pub async fn resume(port: u16, token: &str) -> (Self, Vec<Value>) {
        let mut c = Self::connect(port).await;
        c.emit("resume", &[Value::from(token)], Some(1)).await;
        let ack = c.ack(1).await;
        (c, ack)
    }

    /// The whole `history` page for `request` (e.g. `{"after": 0, "limit": 500}`).
    pub async fn history(&mut self, request: Value, ack_id: u64) -> Value {
        self.emit("history", &[request], Some(ack_id)).await;
        let ack = self.ack(ack_id).await;
        assert_eq!(ack[0], Value::Null, "history answered: {ack:?}");
        ack[1].clone()
    }
}
