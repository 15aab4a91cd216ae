//! The framework floor: the smallest Leptos CSR page that does what a chat page must at least do
//! (a keyed list of lines from a WebSocket, a field that sends), built like the chat's page.
use leptos::prelude::*;
use serde::Deserialize;
use wasm_bindgen::{JsCast, closure::Closure};

#[derive(Clone, Deserialize)]
struct Line {
    id: u64,
    nick: String,
    text: String,
}

fn main() {
    console_error_panic_hook::set_once();
    let (lines, set_lines) = signal(Vec::<Line>::new());
    let ws = web_sys::WebSocket::new("ws://127.0.0.1:3000/ws").ok();
    if let Some(ws) = &ws {
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(text) = ev.data().as_string()
                    && let Ok(line) = serde_json::from_str::<Line>(&text)
                {
                    set_lines.update(|all| all.push(line));
                }
            });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
    }
    let (draft, set_draft) = signal(String::new());
    mount_to_body(move || {
        view! {
            <ul>
                <For each=move || lines.get() key=|line| line.id let:line>
                    <li><b>{line.nick}</b>" "{line.text}</li>
                </For>
            </ul>
            <form on:submit=move |ev| {
                ev.prevent_default();
                if let Some(ws) = &ws {
                    let _ = ws.send_with_str(&draft.get_untracked());
                }
                set_draft.set(String::new());
            }>
                <input prop:value=draft on:input=move |ev| set_draft.set(event_target_value(&ev)) />
            </form>
        }
    });
}
