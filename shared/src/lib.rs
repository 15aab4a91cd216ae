//! chat-shared: the wire protocol of the chat (event names, payload types), the validated
//! values that travel on it (`Nickname`, `MessageText`) and every limit, in one place, so
//! that the server and the page compile the same rules.

pub mod error;
pub mod limits;
pub mod message;
pub mod moderation;
pub mod nickname;
mod normalize;
/// Lower case as Unicode defines it (in the browser, the browser's `toLowerCase`: the page does
/// not carry Rust's case tables).
pub use normalize::lowercase;
pub mod protocol;
pub mod room;
mod text;

pub use error::{ChatError, ErrorCode};
pub use message::MessageText;
pub use nickname::{Nickname, NicknameKey};
pub use room::RoomName;
pub use text::refused_in_line;
