//! The two engine.io transports: a WebSocket (gloo-net), and HTTP long-polling (gloo-net
//! fetch) when the WebSocket cannot connect. Each opens with the engine.io handshake and splits
//! into a reading half and a writing half, so that reading never blocks writing.

use std::collections::VecDeque;

use chat_shared::protocol::PRESENCE_CHANGES_QUERY;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use gloo_net::http::Request;
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::RequestCache;

use super::codec::{EngineIo, Handshake};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    WebSocket,
    Polling,
}

pub enum Reader {
    Ws {
        stream: SplitStream<WebSocket>,
        /// What index.html's early WebSocket received before the page took it over, to read first.
        early: VecDeque<String>,
        /// index.html's early WebSocket sent the socket.io CONNECT already.
        connect_sent: bool,
    },
    Polling {
        url: String,
    },
}

pub enum Writer {
    Ws(SplitSink<WebSocket, Message>),
    Polling { url: String },
}

/// The page learns who is online by changes (`online` once, then `presence`).
fn changes_query() -> String {
    let (name, value) = PRESENCE_CHANGES_QUERY;
    format!("{name}={value}")
}

/// Opens a WebSocket to `base` (e.g. `http://host:3000`) and reads the handshake; the first
/// connection takes over the WebSocket index.html opened while the page's code loaded, when it
/// is still good and goes to the same address.
pub async fn open_websocket(base: &str) -> Result<(Handshake, Reader, Writer), String> {
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket&{}",
        base.replacen("http", "ws", 1),
        changes_query()
    );
    let early = early_websocket(&url);
    let (ws, mut received, connect_sent) = match early {
        Some(early) => (early.ws, early.received, early.connect_sent),
        None => (WebSocket::open(&url).map_err(|e| e.to_string())?, VecDeque::new(), false),
    };
    let (sink, mut stream) = ws.split();
    let first = match received.pop_front() {
        Some(handshake) => handshake,
        None => match stream.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Bytes(_))) => return Err("binary handshake".into()),
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed before the handshake".into()),
        },
    };
    match EngineIo::decode(&first).map_err(|e| e.to_string())? {
        EngineIo::Open(h) => Ok((h, Reader::Ws { stream, early: received, connect_sent }, Writer::Ws(sink))),
        _ => Err("expected the handshake, got another packet".to_owned()),
    }
}

/// Where index.html leaves the WebSocket it opens before the page's code has loaded, so that
/// the handshake and the socket.io CONNECT are done by the time the wasm starts: `{ws,
/// received, failed, connectSent}` (the messages received so far; whether it failed or closed;
/// whether it sent the CONNECT, which it does on the engine.io handshake).
const EARLY_SOCKET: &str = "__chatEarlySocket";

/// index.html's early WebSocket, taken over.
struct Early {
    ws: WebSocket,
    received: VecDeque<String>,
    connect_sent: bool,
}

/// Takes index.html's early WebSocket (once: later connections open their own) with what it
/// received; None, closing it, if it failed, goes elsewhere than `url`, or received binary.
fn early_websocket(url: &str) -> Option<Early> {
    let window = web_sys::window()?;
    let key = JsValue::from_str(EARLY_SOCKET);
    let early = Reflect::get(&window, &key).ok().filter(JsValue::is_object)?;
    let _ = Reflect::delete_property(&window, &key);
    let field = |name: &str| Reflect::get(&early, &JsValue::from_str(name)).ok();
    let ws: web_sys::WebSocket = field("ws")?.dyn_into().ok()?;
    let flag = |name: &str| field(name).and_then(|f| f.as_bool());
    let received: Option<VecDeque<String>> = field("received")
        .and_then(|r| r.dyn_into::<Array>().ok())
        .and_then(|r| r.iter().map(|m| m.as_string()).collect());
    let usable =
        flag("failed") == Some(false) && ws.url() == url && ws.ready_state() <= web_sys::WebSocket::OPEN;
    match received {
        Some(received) if usable => {
            ws.set_onmessage(None);
            ws.set_onerror(None);
            ws.set_onclose(None);
            let connect_sent = flag("connectSent") == Some(true);
            match WebSocket::try_from(ws.clone()) {
                Ok(ws) => Some(Early { ws, received, connect_sent }),
                Err(_) => {
                    let _ = ws.close();
                    None
                }
            }
        }
        _ => {
            let _ = ws.close();
            None
        }
    }
}

/// Opens a long-polling session and reads the handshake.
pub async fn open_polling(base: &str) -> Result<(Handshake, Reader, Writer), String> {
    let open_url = format!("{base}/socket.io/?EIO=4&transport=polling&{}", changes_query());
    let payload = get_text(&open_url).await?;
    let mut packets = EngineIo::decode_payload(&payload).map_err(|e| e.to_string())?.into_iter();
    match packets.next() {
        Some(EngineIo::Open(h)) => {
            let url = format!("{open_url}&sid={}", h.sid);
            Ok((h, Reader::Polling { url: url.clone() }, Writer::Polling { url }))
        }
        _ => Err("expected the handshake, got another packet".to_owned()),
    }
}

async fn get_text(url: &str) -> Result<String, String> {
    let response = Request::get(url).cache(RequestCache::NoStore).send().await.map_err(|e| e.to_string())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.text().await.map_err(|e| e.to_string())
}

impl Reader {
    /// Whether the socket.io CONNECT went out already (index.html's early WebSocket sends it).
    pub fn connect_sent(&self) -> bool {
        matches!(self, Self::Ws { connect_sent: true, .. })
    }

    /// The next packets from the server; an error when the transport is gone.
    pub async fn recv(&mut self) -> Result<Vec<EngineIo>, String> {
        match self {
            Self::Ws { stream, early, .. } => loop {
                if let Some(t) = early.pop_front() {
                    return EngineIo::decode(&t).map(|p| vec![p]).map_err(|e| e.to_string());
                }
                match stream.next().await {
                    Some(Ok(Message::Text(t))) => {
                        return EngineIo::decode(&t).map(|p| vec![p]).map_err(|e| e.to_string());
                    }
                    Some(Ok(Message::Bytes(_))) => continue,
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("closed".into()),
                }
            },
            Self::Polling { url } => {
                let payload = get_text(url).await?;
                EngineIo::decode_payload(&payload).map_err(|e| e.to_string())
            }
        }
    }
}

impl Writer {
    /// Sends encoded engine.io packets, in order.
    pub async fn send(&mut self, packets: Vec<String>) -> Result<(), String> {
        match self {
            Self::Ws(sink) => {
                for p in packets {
                    sink.send(Message::Text(p)).await.map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Self::Polling { url } => {
                let body = EngineIo::encode_payload(&packets);
                let response = Request::post(url)
                    .header("Content-Type", "text/plain;charset=UTF-8")
                    .body(body)
                    .map_err(|e| e.to_string())?
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.ok() { Ok(()) } else { Err(format!("HTTP {}", response.status())) }
            }
        }
    }

    pub async fn close(&mut self) {
        match self {
            Self::Ws(sink) => {
                let _ = sink.close().await;
            }
            Self::Polling { .. } => {
                let _ = self.send(vec![EngineIo::Close.encode()]).await;
            }
        }
    }
}
