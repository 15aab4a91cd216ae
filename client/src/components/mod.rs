//! The page's parts, one component each; they read `Chat::state` and send intents via `Chat`.

mod composer;
mod lines;
mod nickname_form;
mod online;

pub use composer::Composer;
pub use lines::Lines;
pub use nickname_form::NicknameForm;
pub use online::OnlineList;

use leptos::prelude::*;

/// Until the first connection: "Connecting to socket.io server" (hidden by `#chat.connected`).
#[component]
pub fn ConnectingOverlay() -> impl IntoView {
    view! {
        <div id="connecting" role="status">
            <div class="wrap">"Connecting to socket.io server"</div>
        </div>
    }
}

/// True when Enter is part of an IME composition (Korean, Japanese, Chinese input): such an
/// Enter confirms the composed text and must not submit the form.
pub fn is_composing_enter(ev: &leptos::ev::KeyboardEvent) -> bool {
    ev.key() == "Enter" && (ev.is_composing() || ev.key_code() == 229)
}
