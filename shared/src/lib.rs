//! chat-shared: the wire protocol of the chat (event names, payload types), the validated
//! values that travel on it (`Nickname`, `MessageText`) and every limit, in one place, so
//! that the server and the page compile the same rules.

pub mod error;
pub mod limits;
pub mod message;
pub mod nickname;
mod normalize;
pub mod protocol;
mod text;

pub use error::{ChatError, ErrorCode};
pub use message::MessageText;
pub use nickname::{Nickname, NicknameKey};
