//! `form#send-message`: `textarea#message` and Send. Enter sends, Shift+Enter starts a new line.
//! Checks the message with the server's own rules before sending and says what is wrong;
//! keeps focus for the next line; tells the others while the user types; keeps a draft per
//! channel.

use chat_shared::MessageText;
use chat_shared::limits::MESSAGE_MAX_CHARS;
use leptos::prelude::*;

use super::is_composing_enter;
use crate::service::Chat;
use crate::state::{ChannelId, ChannelMap, Part};

/// Show the character count once a message is this close to the limit.
const COUNT_FROM: usize = MESSAGE_MAX_CHARS * 9 / 10;

#[component]
pub fn Composer(chat: Chat) -> impl IntoView {
    let value = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<chat_shared::ErrorCode>);
    // Each channel keeps its own draft: switching never sends a line to the wrong one.
    let drafts = StoredValue::new(ChannelMap::<String>::default());
    let channel = Memo::new(move |_| chat.read(Part::Channels, |s| s.current.clone()));
    Effect::new(move |previous: Option<ChannelId>| {
        let now = channel.get();
        if let Some(previous) = previous.filter(|p| *p != now) {
            let draft = value.get_untracked();
            drafts.update_value(|d| {
                d.insert(previous, draft);
            });
            value.set(drafts.try_update_value(|d| d.remove(&now)).flatten().unwrap_or_default());
            problem.set(None);
        }
        now
    });
    let input = NodeRef::<leptos::html::Textarea>::new();
    let length = move || value.with(|v| v.trim().chars().count());
    let named = move || chat.read(Part::Me, |s| s.me.nickname.is_some());
    let send = move || {
        match MessageText::parse(&value.get_untracked()) {
            Ok(text) => {
                chat.send_message(text);
                value.set(String::new());
                problem.set(None);
            }
            Err(e) => problem.set(Some(e.code)),
        }
        if let Some(el) = input.get_untracked() {
            let _ = el.focus();
        }
    };
    view! {
        <form
            id="send-message"
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }
        >
            <label for="message" class="visually-hidden">{move || chat.t().message}</label>
            <textarea
                id="message"
                node_ref=input
                rows="1"
                autocomplete="off"
                                placeholder=move || match channel.get() {
                    ChannelId::General => chat.t().message.to_owned(),
                    other => chat.t().message_in.replace("{channel}", &other.label()),
                }
                aria-describedby="message-hint multiline-hint"
                disabled=move || !named()
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    problem.set(None);
                    chat.typed();
                }
                on:keydown=move |ev| {
                    if ev.key() != "Enter" || ev.shift_key() {
                        return;
                    }
                    ev.prevent_default();
                    if !is_composing_enter(&ev) {
                        send();
                    }
                }
            ></textarea>
            <button type="submit" disabled=move || { !named() || length() > MESSAGE_MAX_CHARS }>
                {move || chat.t().send}
            </button>
            <p id="message-hint" class="hint" role="status" class:over=move || { length() > MESSAGE_MAX_CHARS }>
                {move || match problem.get() {
                    Some(code) => chat.t().error_text(code).to_owned(),
                    None if length() >= COUNT_FROM => format!("{}/{MESSAGE_MAX_CHARS}", length()),
                    None => String::new(),
                }}
            </p>
            <span id="multiline-hint" class="visually-hidden">{move || chat.t().multiline_hint}</span>
        </form>
    }
}
