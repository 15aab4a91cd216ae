//! The wire codec of engine.io v4 and socket.io v5, pure (no I/O), so that it is tested on the
//! host. Only the default namespace `/` and text packets are used by the chat.

use serde_json::Value;

/// The record separator between engine.io packets in one long-polling payload.
pub const RECORD_SEPARATOR: char = '\u{1e}';

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    Empty,
    UnknownType(char),
    BadJson(String),
    Unsupported(&'static str),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty packet"),
            // `{c}` in quotes, not `{c:?}`: char's Debug brings escaping tables into the wasm.
            Self::UnknownType(c) => write!(f, "unknown packet type '{c}'"),
            Self::BadJson(e) => write!(f, "malformed JSON: {e}"),
            Self::Unsupported(what) => write!(f, "unsupported: {what}"),
        }
    }
}

/// The engine.io handshake (`0{...}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub sid: String,
    pub upgrades: Vec<String>,
    pub ping_interval: u64,
    pub ping_timeout: u64,
    pub max_payload: Option<u64>,
}

impl Handshake {
    /// Reads the handshake's JSON as serde's derive would (camelCase keys; `upgrades` and
    /// `maxPayload` may be absent, `maxPayload` null), through `serde_json::Value`, which the
    /// codec reads anyway: a derive would add a second JSON reader for one struct to the wasm.
    pub fn from_json(json: &str) -> Result<Self, CodecError> {
        let bad = |what: &str| CodecError::BadJson(format!("handshake: {what}"));
        let value = serde_json::from_str::<Value>(json).map_err(|e| CodecError::BadJson(e.to_string()))?;
        let Value::Object(map) = value else { return Err(bad("not an object")) };
        let number = |key: &str| map.get(key).and_then(Value::as_u64);
        let upgrades = match map.get("upgrades") {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|u| u.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("upgrades"))?,
            Some(_) => return Err(bad("upgrades")),
        };
        Ok(Self {
            sid: map.get("sid").and_then(Value::as_str).ok_or_else(|| bad("sid"))?.to_owned(),
            upgrades,
            ping_interval: number("pingInterval").ok_or_else(|| bad("pingInterval"))?,
            ping_timeout: number("pingTimeout").ok_or_else(|| bad("pingTimeout"))?,
            max_payload: match map.get("maxPayload") {
                None | Some(Value::Null) => None,
                Some(_) => Some(number("maxPayload").ok_or_else(|| bad("maxPayload"))?),
            },
        })
    }
}

/// An engine.io v4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineIo {
    Open(Handshake),
    Close,
    Ping,
    Pong,
    /// A socket.io packet (`4...`), still encoded.
    Message(String),
    Upgrade,
    Noop,
}

impl EngineIo {
    pub fn decode(text: &str) -> Result<Self, CodecError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(CodecError::Empty)?;
        let rest = chars.as_str();
        Ok(match kind {
            '0' => Self::Open(Handshake::from_json(rest)?),
            '1' => Self::Close,
            '2' => Self::Ping,
            '3' => Self::Pong,
            '4' => Self::Message(rest.to_owned()),
            '5' => Self::Upgrade,
            '6' => Self::Noop,
            'b' => return Err(CodecError::Unsupported("binary engine.io packet")),
            other => return Err(CodecError::UnknownType(other)),
        })
    }

    pub fn encode(&self) -> String {
        match self {
            Self::Open(_) => "0".to_owned(), // only servers send it
            Self::Close => "1".to_owned(),
            Self::Ping => "2".to_owned(),
            Self::Pong => "3".to_owned(),
            Self::Message(m) => format!("4{m}"),
            Self::Upgrade => "5".to_owned(),
            Self::Noop => "6".to_owned(),
        }
    }

    /// Splits a long-polling payload into its packets.
    pub fn decode_payload(payload: &str) -> Result<Vec<Self>, CodecError> {
        payload.split(RECORD_SEPARATOR).map(Self::decode).collect()
    }

    pub fn encode_payload(packets: &[String]) -> String {
        packets.join(&RECORD_SEPARATOR.to_string())
    }
}

/// A socket.io v5 packet on the default namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketIo {
    /// `0` (client → server) or `0{"sid":...}` (server → client).
    Connect(Option<String>),
    Disconnect,
    Event {
        name: String,
        args: Vec<Value>,
        ack: Option<u64>,
    },
    Ack {
        id: u64,
        args: Vec<Value>,
    },
    ConnectError(Value),
}

impl SocketIo {
    pub fn decode(text: &str) -> Result<Self, CodecError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(CodecError::Empty)?;
        let mut rest = chars.as_str();
        if rest.starts_with('/') {
            // "/ns,..." : another namespace; the default one has no prefix.
            let (ns, after) = rest.split_once(',').unwrap_or((rest, ""));
            if ns != "/" {
                return Err(CodecError::Unsupported("namespace other than /"));
            }
            rest = after;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (id, json) = rest.split_at(digits);
        let id = if id.is_empty() {
            None
        } else {
            Some(id.parse::<u64>().map_err(|_| CodecError::BadJson(format!("ack id {id}")))?)
        };
        let parse =
            |s: &str| serde_json::from_str::<Value>(s).map_err(|e| CodecError::BadJson(e.to_string()));
        match kind {
            '0' => {
                let sid = if json.is_empty() {
                    None
                } else {
                    parse(json)?.get("sid").and_then(Value::as_str).map(str::to_owned)
                };
                Ok(Self::Connect(sid))
            }
            '1' => Ok(Self::Disconnect),
            '2' => match parse(json)? {
                Value::Array(mut list) if !list.is_empty() => match list.remove(0) {
                    Value::String(name) => Ok(Self::Event { name, args: list, ack: id }),
                    _ => Err(CodecError::BadJson("event name is not a string".into())),
                },
                _ => Err(CodecError::BadJson("event is not a non-empty array".into())),
            },
            '3' => match (id, parse(json)?) {
                (Some(id), Value::Array(args)) => Ok(Self::Ack { id, args }),
                _ => Err(CodecError::BadJson("ack needs an id and an array".into())),
            },
            '4' => Ok(Self::ConnectError(if json.is_empty() { Value::Null } else { parse(json)? })),
            '5' | '6' => Err(CodecError::Unsupported("binary socket.io packet")),
            other => Err(CodecError::UnknownType(other)),
        }
    }

    pub fn encode(&self) -> String {
        match self {
            Self::Connect(_) => "0".to_owned(),
            Self::Disconnect => "1".to_owned(),
            Self::Event { name, args, ack } => {
                let mut list = Vec::with_capacity(args.len() + 1);
                list.push(Value::String(name.clone()));
                list.extend(args.iter().cloned());
                let id = ack.map(|i| i.to_string()).unwrap_or_default();
                format!("2{id}{}", Value::Array(list))
            }
            Self::Ack { id, args } => format!("3{id}{}", Value::Array(args.clone())),
            Self::ConnectError(v) => format!("4{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn engine_io_round_trips() {
        for p in [
            EngineIo::Close,
            EngineIo::Ping,
            EngineIo::Pong,
            EngineIo::Upgrade,
            EngineIo::Noop,
            EngineIo::Message("2[\"a\"]".into()),
        ] {
            assert_eq!(EngineIo::decode(&p.encode()).unwrap(), p);
        }
    }

    #[test]
    fn decodes_the_handshake() {
        let open = r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":65536}"#;
        match EngineIo::decode(open).unwrap() {
            EngineIo::Open(h) => {
                assert_eq!(h.sid, "abc");
                assert_eq!(h.ping_interval, 25000);
                assert_eq!(h.max_payload, Some(65536));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_the_handshake_as_the_derive_did() {
        let h = Handshake::from_json(r#"{"sid":"s","pingInterval":1,"pingTimeout":2,"maxPayload":null}"#)
            .unwrap();
        assert_eq!(
            h,
            Handshake {
                sid: "s".into(),
                upgrades: vec![],
                ping_interval: 1,
                ping_timeout: 2,
                max_payload: None
            }
        );
        for bad in [
            "[]",
            r#"{"pingInterval":1,"pingTimeout":2}"#,
            r#"{"sid":"s","pingInterval":-1,"pingTimeout":2}"#,
            r#"{"sid":"s","pingInterval":1,"pingTimeout":"2"}"#,
            r#"{"sid":"s","pingInterval":1,"pingTimeout":2,"upgrades":[1]}"#,
            r#"{"sid":"s","pingInterval":1,"pingTimeout":2,"upgrades":"websocket"}"#,
            r#"{"sid":"s","pingInterval":1,"pingTimeout":2,"maxPayload":"big"}"#,
        ] {
            assert!(Handshake::from_json(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn splits_polling_payloads() {
        let payload = "0{\"sid\":\"s\",\"pingInterval\":1,\"pingTimeout\":2}\u{1e}40{\"sid\":\"x\"}\u{1e}2";
        let packets = EngineIo::decode_payload(payload).unwrap();
        assert_eq!(packets.len(), 3);
        assert_eq!(packets[1], EngineIo::Message("0{\"sid\":\"x\"}".into()));
        assert_eq!(packets[2], EngineIo::Ping);
        assert_eq!(EngineIo::encode_payload(&["40".into(), "3".into()]), "40\u{1e}3");
    }

    #[test]
    fn socket_io_events_and_acks() {
        let ev = SocketIo::decode(r#"2["user message","Ana","hi"]"#).unwrap();
        assert_eq!(
            ev,
            SocketIo::Event { name: "user message".into(), args: vec![json!("Ana"), json!("hi")], ack: None }
        );
        let ev = SocketIo::decode(r#"212["nickname","Ana"]"#).unwrap();
        assert!(matches!(ev, SocketIo::Event { ack: Some(12), .. }));
        assert_eq!(SocketIo::decode("37[false]").unwrap(), SocketIo::Ack { id: 7, args: vec![json!(false)] });
        assert_eq!(SocketIo::decode(r#"0{"sid":"q"}"#).unwrap(), SocketIo::Connect(Some("q".into())));
        assert_eq!(SocketIo::decode("1").unwrap(), SocketIo::Disconnect);
        assert_eq!(SocketIo::decode("1/,").unwrap(), SocketIo::Disconnect);
        let emit = SocketIo::Event { name: "nickname".into(), args: vec![json!("Zoë")], ack: Some(3) };
        assert_eq!(emit.encode(), r#"23["nickname","Zoë"]"#);
        assert_eq!(SocketIo::decode(&emit.encode()).unwrap(), emit);
    }

    #[test]
    fn refuses_malformed_and_partial_frames() {
        assert_eq!(EngineIo::decode(""), Err(CodecError::Empty));
        assert_eq!(EngineIo::decode("9"), Err(CodecError::UnknownType('9')));
        assert!(matches!(EngineIo::decode("0{\"sid\":"), Err(CodecError::BadJson(_))));
        assert!(matches!(EngineIo::decode_payload("2\u{1e}"), Err(CodecError::Empty)));
        for bad in [
            "",
            "2",
            "2[",
            "2[]",
            "2[1]",
            "2{}",
            "3[true]",
            "3x",
            "7",
            "2[\"a\"",
            "399999999999999999999999[1]",
        ] {
            assert!(SocketIo::decode(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(matches!(SocketIo::decode("2/admin,[\"a\"]"), Err(CodecError::Unsupported(_))));
        assert!(matches!(
            SocketIo::decode("51-[\"a\",{\"_placeholder\":true,\"num\":0}]"),
            Err(CodecError::Unsupported(_))
        ));
    }
}
