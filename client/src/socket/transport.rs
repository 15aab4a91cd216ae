//! The two engine.io transports: a WebSocket (gloo-net), and HTTP long-polling (gloo-net
//! fetch) when the WebSocket cannot connect. Each opens with the engine.io handshake and splits
//! into a reading half and a writing half, so that reading never blocks writing.

use chat_shared::protocol::PRESENCE_CHANGES_QUERY;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use gloo_net::http::Request;
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use web_sys::RequestCache;

use super::codec::{EngineIo, Handshake};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    WebSocket,
    Polling,
}

pub enum Reader {
    Ws(SplitStream<WebSocket>),
    Polling { url: String },
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

/// Opens a WebSocket to `base` (e.g. `http://host:3000`) and reads the handshake.
pub async fn open_websocket(base: &str) -> Result<(Handshake, Reader, Writer), String> {
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket&{}",
        base.replacen("http", "ws", 1),
        changes_query()
    );
    let ws = WebSocket::open(&url).map_err(|e| e.to_string())?;
    let (sink, mut stream) = ws.split();
    let first = match stream.next().await {
        Some(Ok(Message::Text(t))) => t,
        Some(Ok(Message::Bytes(_))) => return Err("binary handshake".into()),
        Some(Err(e)) => return Err(e.to_string()),
        None => return Err("closed before the handshake".into()),
    };
    match EngineIo::decode(&first).map_err(|e| e.to_string())? {
        EngineIo::Open(h) => Ok((h, Reader::Ws(stream), Writer::Ws(sink))),
        _ => Err("expected the handshake, got another packet".to_owned()),
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
    /// The next packets from the server; an error when the transport is gone.
    pub async fn recv(&mut self) -> Result<Vec<EngineIo>, String> {
        match self {
            Self::Ws(stream) => loop {
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
