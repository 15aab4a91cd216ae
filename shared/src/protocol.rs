//! The socket.io events of the chat and their payloads. The original page's events keep their
//! exact shapes; what is new travels as extra trailing arguments (ignored by old clients) or
//! as new events. docs/protocol.md describes every one.

use std::collections::BTreeMap;

use serde::ser::SerializeTuple;
use serde::{Deserialize, Serialize};

use crate::error::ChatError;
use crate::message::MessageText;
use crate::nickname::Nickname;

/// Events a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent {
    /// `nickname` (nick, ack): claim a nickname. Ack: see [`NicknameAck`].
    Nickname,
    /// `user message` (msg, ack?): say something to everyone. Ack, if asked: [`SendAck`].
    UserMessage,
}

/// Events the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent {
    /// `user message` (from, msg): someone else said something. See [`UserMessage`].
    UserMessage,
    /// `announcement` (text, detail): someone came or went. See [`Announcement`].
    Announcement,
    /// `nicknames` ({nick: nick}): everyone online. See [`Nicknames`].
    Nicknames,
    /// `chat error` ({event, code, message, limit?}): a request without an ack was refused.
    ChatError,
}

impl ClientEvent {
    pub const ALL: [ClientEvent; 2] = [Self::Nickname, Self::UserMessage];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Nickname => "nickname",
            Self::UserMessage => "user message",
        }
    }
}

impl ServerEvent {
    pub const fn name(self) -> &'static str {
        match self {
            Self::UserMessage => "user message",
            Self::Announcement => "announcement",
            Self::Nicknames => "nicknames",
            Self::ChatError => "chat error",
        }
    }
}

/// The ack of `nickname`, as the original sent it (`taken`: `false` = accepted), plus the
/// reason as a second argument on rejection: `[false]` or `[true, {code, message, limit?}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicknameAck {
    Accepted,
    Rejected(ChatError),
}

impl Serialize for NicknameAck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Accepted => {
                let mut t = s.serialize_tuple(1)?;
                t.serialize_element(&false)?;
                t.end()
            }
            Self::Rejected(reason) => {
                let mut t = s.serialize_tuple(2)?;
                t.serialize_element(&true)?;
                t.serialize_element(reason)?;
                t.end()
            }
        }
    }
}

impl NicknameAck {
    /// Reads the ack's arguments as a client receives them.
    pub fn from_args(args: &[serde_json::Value]) -> Option<Self> {
        match args.first()?.as_bool()? {
            false => Some(Self::Accepted),
            true => {
                let reason = args.get(1).cloned().and_then(|v| serde_json::from_value(v).ok());
                Some(Self::Rejected(
                    reason.unwrap_or_else(|| ChatError::new(crate::error::ErrorCode::NicknameTaken)),
                ))
            }
        }
    }
}

/// The ack of `user message`, when the client asks for one, node-callback style:
/// `[null]` when delivered, `[{code, message, limit?}]` when refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAck(pub Result<(), ChatError>);

impl Serialize for SendAck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(1)?;
        match &self.0 {
            Ok(()) => t.serialize_element(&None::<ChatError>)?,
            Err(e) => t.serialize_element(e)?,
        }
        t.end()
    }
}

/// `user message` as the server sends it: two arguments, `(from, msg)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserMessage<'a>(pub &'a Nickname, pub &'a MessageText);

/// What an announcement is about, for pages that render it in their own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnnouncementDetail {
    Connected { nickname: String },
    Disconnected { nickname: String },
}

/// `announcement` as the server sends it: the original's English text, then the detail
/// (`["Ana connected", {"kind": "connected", "nickname": "Ana"}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announcement(pub String, pub AnnouncementDetail);

impl Announcement {
    pub fn connected(nick: &Nickname) -> Self {
        Self(format!("{nick} connected"), AnnouncementDetail::Connected { nickname: nick.to_string() })
    }

    pub fn disconnected(nick: &Nickname) -> Self {
        Self(format!("{nick} disconnected"), AnnouncementDetail::Disconnected { nickname: nick.to_string() })
    }
}

/// `nicknames`: everyone online, as the original sent it (an object mapping each nickname
/// to itself).
pub type Nicknames = BTreeMap<String, String>;

/// `chat error`: sent when a request that carried no ack was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatErrorEvent {
    /// The client event that was refused (`"user message"`, `"nickname"`).
    pub event: String,
    #[serde(flatten)]
    pub error: ChatError,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    #[test]
    fn nickname_ack_keeps_the_original_first_argument() {
        assert_eq!(serde_json::to_value(NicknameAck::Accepted).unwrap(), json!([false]));
        let taken = NicknameAck::Rejected(ChatError::new(ErrorCode::NicknameTaken));
        let v = serde_json::to_value(&taken).unwrap();
        assert_eq!(v[0], json!(true));
        assert_eq!(v[1]["code"], json!("nickname_taken"));
        let args = v.as_array().unwrap();
        assert_eq!(NicknameAck::from_args(args), Some(taken));
        assert_eq!(NicknameAck::from_args(&[json!(false)]), Some(NicknameAck::Accepted));
    }

    #[test]
    fn server_payload_shapes() {
        let ana = Nickname::parse("Ana").unwrap();
        let hi = MessageText::parse("hi").unwrap();
        assert_eq!(serde_json::to_value(UserMessage(&ana, &hi)).unwrap(), json!(["Ana", "hi"]));
        assert_eq!(
            serde_json::to_value(Announcement::connected(&ana)).unwrap(),
            json!(["Ana connected", {"kind": "connected", "nickname": "Ana"}])
        );
        assert_eq!(serde_json::to_value(SendAck(Ok(()))).unwrap(), json!([null]));
        let e = ChatErrorEvent { event: "user message".into(), error: ChatError::new(ErrorCode::NotNamed) };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], json!("user message"));
        assert_eq!(v["code"], json!("not_named"));
    }
}
