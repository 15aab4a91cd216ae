//! The first screen: what this chat is (`#chat-name`, `#chat-about`, `#online-count`), and the
//! nickname overlay's `form#set-nickname` with `input#nick`, a visible `#join` button and
//! `#nickname-err`; and `details#use-key`: taking an owned nickname from another device with
//! its key.

use chat_shared::limits::NICKNAME_MAX_CHARS;
use leptos::prelude::*;

use super::is_composing_enter;
use crate::service::Chat;
use crate::state::{Connection, Part};

#[component]
pub fn NicknameForm(chat: Chat) -> impl IntoView {
    // A page signed out by another tab offers the name the browser owns.
    let value =
        RwSignal::new(chat.peek(|s| s.me.owner.as_ref().map(|o| o.nickname.clone())).unwrap_or_default());
    let input = NodeRef::<leptos::html::Input>::new();
    // Why the form is back: a moderator's action (with its reason), or a refused claim.
    let error = move || {
        if let Some(removed) = chat.read(Part::Me, |s| s.me.removed.clone()) {
            return Some(super::lines::moderated_text(chat.lang.get(), &removed));
        }
        chat.read(Part::Me, |s| s.me.error.as_ref().map(|e| e.code))
            .map(|code| chat.t().error_text(code).to_owned())
    };
    let pending = move || chat.read(Part::Me, |s| s.me.requested.is_some());
    let length = move || value.with(|v| v.trim().chars().count());
    Effect::new(move || {
        // Focus the field once the page is connected and asks for a nickname: in the next
        // frame, whose layout is due anyway. Focusing here forced a layout of the page as it
        // was while it started (20-30 ms at startup on a 2-core VM), before the connected
        // page was styled and laid out again for that frame.
        let connected = chat.read(Part::Connection, |s| s.connection != Connection::Connecting);
        if connected && chat.read(Part::Me, |s| s.me.nickname.is_none()) && input.get().is_some() {
            request_animation_frame(move || {
                // Not taken from another field the reader is in (the key form's): this effect
                // runs again on every change of the connection or of who the reader is.
                let elsewhere =
                    document().active_element().is_some_and(|e| e.tag_name() != "BODY" && e.id() != "nick");
                if chat.peek(|s| s.me.nickname.is_none())
                    && !elsewhere
                    && let Some(el) = input.get_untracked()
                {
                    let _ = el.focus();
                }
            });
        }
    });
    view! {
        <div id="nickname">
            <form
                id="set-nickname"
                class="wrap"
                aria-labelledby="chat-name"
                on:submit=move |ev| {
                    ev.prevent_default();
                    if !pending() {
                        chat.claim_nickname(&value.get_untracked());
                    }
                }
            >
                <h1 id="chat-name">{move || chat.name()}</h1>
                <p id="chat-about">
                    {move || {
                        chat.read(Part::Connection, |s| s.about.as_ref().and_then(|a| a.about.clone()))
                            .unwrap_or_else(|| chat.t().about_default.to_owned())
                    }}
                </p>
                <p id="online-count" class="hint">
                    {move || {
                        chat.read(Part::Connection, |s| s.about.as_ref().map(|a| a.online))
                            .map(|n| chat.t().online_count(n))
                            .unwrap_or_default()
                    }}
                </p>
                <label for="nick">{move || chat.t().nickname_prompt}</label>
                <div class="row">
                <input
                    id="nick"
                    node_ref=input
                    autocomplete="nickname"
                    autocapitalize="off"
                    spellcheck="false"
                    aria-describedby="nickname-err nick-hint"
                    aria-invalid=move || error().is_some().to_string()
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if is_composing_enter(&ev) {
                            ev.prevent_default();
                        }
                    }
                />
                <button type="submit" id="join" disabled=pending>
                    {move || chat.t().join}
                </button>
                </div>
                <p id="nick-hint" class="hint" class:over=move || { length() > NICKNAME_MAX_CHARS }>
                    {move || format!("{}/{NICKNAME_MAX_CHARS}", length())}
                </p>
                <p id="nickname-err" role="alert" class:visible=move || error().is_some()>
                    {move || error().unwrap_or_default()}
                </p>
                                <p id="nick-kept" class="hint">{move || chat.t().nickname_kept}</p>
            </form>
            <KeyForm chat />
        </div>
    }
}

/// "I have a key from another device": the key (from the other device's "Use on another
/// device") claims the nickname it names, as its owner.
#[component]
fn KeyForm(chat: Chat) -> impl IntoView {
    let key = RwSignal::new(String::new());
    let invalid = RwSignal::new(false);
    let pending = move || chat.read(Part::Me, |s| s.me.requested.is_some());
    view! {
        <details id="use-key" class="wrap">
            <summary>{move || chat.t().have_key}</summary>
            <form
                id="key-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                                        if pending() {
                        return;
                    }
                    let used = chat.use_key(&key.get_untracked());
                    invalid.set(!used);
                    if used {
                        // The key is a secret: it does not stay in the form.
                        key.set(String::new());
                    }
                }
            >
                <label for="owner-key-input">{move || chat.t().key_label}</label>
                <div class="row">
                    <input
                        id="owner-key-input"
                        autocomplete="off"
                        autocapitalize="off"
                        spellcheck="false"
                        aria-describedby="key-err"
                        aria-invalid=move || invalid.get().to_string()
                        prop:value=move || key.get()
                        on:input=move |ev| {
                            key.set(event_target_value(&ev));
                            invalid.set(false);
                        }
                    />
                    <button type="submit" id="use-key-button" disabled=pending>{move || chat.t().use_key}</button>
                </div>
                <p id="key-err" role="alert">{move || invalid.get().then(|| chat.t().key_invalid)}</p>
            </form>
        </details>
    }
}
