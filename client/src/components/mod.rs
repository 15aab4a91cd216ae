//! The page's views, one component each; they read the parts of the state they show through
//! [`Chat::read`] and send intents through [`Chat`]'s methods.

mod channels;
mod composer;
mod keyed;
mod lines;
mod nickname_form;
mod online;
mod reports;
mod toolbar;

pub use channels::{ChannelHead, Channels};
pub use composer::Composer;
pub use lines::Lines;
pub use nickname_form::NicknameForm;
pub use online::OnlineList;
pub use reports::Reports;
pub use toolbar::Toolbar;

use leptos::prelude::*;

use crate::service::Chat;
use crate::state::{ChatState, Part};

/// Until the first connection: "Connecting to socket.io server" (hidden by `#chat.connected`).
#[component]
pub fn ConnectingOverlay(chat: Chat) -> impl IntoView {
    view! {
        <div id="connecting" role="status">
            <div class="wrap">{move || chat.t().connecting}</div>
        </div>
    }
}

/// "Ana is typing…" under the conversation (empty when nobody is).
#[component]
pub fn TypingLine(chat: Chat) -> impl IntoView {
    let text =
        move || chat.t().typing(&chat.read(Part::Typists, ChatState::typing_names)).unwrap_or_default();
    view! { <p id="typing" class="typing">{text}</p> }
}

/// True when Enter is part of an IME composition (Korean, Japanese, Chinese input): such an
/// Enter confirms the composed text and must not submit the form.
pub fn is_composing_enter(ev: &leptos::ev::KeyboardEvent) -> bool {
    ev.key() == "Enter" && (ev.is_composing() || ev.key_code() == 229)
}
