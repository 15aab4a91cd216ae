//! `#channels`: the side list of rooms and direct conversations, with unread badges (a side
//! column on a wide screen, a drawer on a phone), a field to join or create a room; and
//! `#channel-head`: the open channel's name, its topic and "leave room". Each entry is a link
//! to the channel's address (`#/r/<room>`, `#/dm/<nickname>`), so that links, the keyboard and
//! the browser's history all open channels the same way.

use leptos::prelude::*;

use chat_shared::moderation::{Action, RoomRules};

use crate::service::Chat;
use crate::state::{ChannelId, ChatState, Part};

#[component]
pub fn Channels(chat: Chat, open: RwSignal<bool>) -> impl IntoView {
    let rooms = move || {
        chat.read(Part::Channels, |s| {
            s.channels().into_iter().filter(|c| !matches!(c, ChannelId::Direct(_))).collect::<Vec<_>>()
        })
    };
    let directs = move || {
        chat.read(Part::Channels, |s| {
            s.channels().into_iter().filter(|c| matches!(c, ChannelId::Direct(_))).collect::<Vec<_>>()
        })
    };
    let named = move || chat.read(Part::Me, |s| s.me.nickname.is_some());
    let room_field = NodeRef::<leptos::html::Input>::new();
    let error = move || {
        chat.read(Part::Channels, |s| s.room_error.clone())
            .map(|e| chat.t().error_text(e.code))
            .unwrap_or_default()
    };
    view! {
        <nav
            id="channels"
            class:open=move || open.get()
            aria-label=move || chat.t().channels
                        on:keydown=move |ev| {
                if ev.key() == "Escape" && open.get_untracked() {
                    open.set(false);
                    focus("#channels-toggle");
                }
            }
        >
            <h2 id="rooms-label">{move || chat.t().rooms}</h2>
            <ul aria-labelledby="rooms-label">
                <For each=rooms key=|c| c.clone() let:channel>
                    <Entry chat channel open />
                </For>
            </ul>
            <Show when=named>
                <form
                    id="join-room"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        if let Some(input) = room_field.get() {
                            chat.join_room(&input.value());
                            input.set_value("");
                            open.set(false);
                        }
                    }
                >
                    <label for="room-name" class="visually-hidden">{move || chat.t().room_name}</label>
                    <input
                        id="room-name"
                        node_ref=room_field
                        autocomplete="off"
                        maxlength="32"
                        placeholder=move || chat.t().room_name
                    />
                    <button type="submit" id="join-room-button">{move || chat.t().join_room}</button>
                </form>
                <p id="room-err" class="error" role="alert">{error}</p>
            </Show>
            <h2 id="directs-label">{move || chat.t().directs}</h2>
            <ul aria-labelledby="directs-label">
                <For each=directs key=|c| c.clone() let:channel>
                    <Entry chat channel open />
                </For>
            </ul>
            <Show when=move || directs().is_empty()>
                <p class="hint">{move || chat.t().no_directs}</p>
            </Show>
            <p class="hint keys">{move || chat.t().switch_hint}</p>
        </nav>
    }
}

/// One channel of the side list: a link to it, with its badge.
#[component]
fn Entry(chat: Chat, channel: ChannelId, open: RwSignal<bool>) -> impl IntoView {
    let current = {
        let channel = channel.clone();
        move || chat.read(Part::Channels, |s| s.current == channel)
    };
    let badge = {
        let channel = channel.clone();
        move || chat.read(Part::Channels, |s| s.badges.get(&channel).copied()).filter(|b| b.unread > 0)
    };
    let href = channel.fragment();
    let label = channel.label();
    view! {
        <li>
            <a
                href=href
                class="channel"
                class:current=current.clone()
                aria-current=move || current().then_some("page")
                                on:click=move |_| {
                    if open.get_untracked() {
                        open.set(false);
                        focus("#message");
                    }
                }
            >
                <span class="name">{label}</span>
                {move || {
                    badge()
                        .map(|b| {
                            let count = if b.unread > 99 { "99+".to_owned() } else { b.unread.to_string() };
                                                        let said = chat.t().unread_badge(b.unread, b.mentioned);
                            view! {
                                <span class="badge" class:mention=b.mentioned>
                                    <span aria-hidden="true">{count}</span>
                                    <span class="visually-hidden">{said}</span>
                                </span>
                            }
                        })
                }}
            </a>
        </li>
    }
}

/// The open channel's name and topic, and "leave room" in a room.
#[component]
pub fn ChannelHead(chat: Chat, open: RwSignal<bool>) -> impl IntoView {
    let current = move || chat.read(Part::Channels, |s| s.current.clone());
    // Whether the open channel is a room (the channels part changes with every badge).
    let in_room = Memo::new(move |_| matches!(current(), ChannelId::Room(_)));
    let topic = move || chat.read(Part::Channels, ChatState::topic);
    let unread_elsewhere = move || {
        chat.read(Part::Channels, |s| {
            s.channels().iter().filter_map(|c| s.badges.get(c)).map(|b| b.unread).sum::<u32>()
        })
    };
    view! {
        <div id="channel-head">
            <button
                type="button"
                id="channels-toggle"
                aria-controls="channels"
                aria-expanded=move || open.get().to_string()
                                on:click=move |_| {
                    open.update(|o| *o = !*o);
                    if open.get_untracked() {
                        // Into the drawer, at the open channel.
                        request_animation_frame(|| focus("#channels a.current"));
                    }
                }
            >
                <span aria-hidden="true">"☰ "</span>
                {move || chat.t().channels}
                                {move || {
                    (unread_elsewhere() > 0)
                        .then(|| {
                            let n = unread_elsewhere();
                            view! {
                                <span class="badge">
                                    <span aria-hidden="true">{n}</span>
                                    <span class="visually-hidden">{chat.t().unread_badge(n, false)}</span>
                                </span>
                            }
                        })
                }}
            </button>
            <h2 id="channel-title">{move || current().label()}</h2>
            <p id="channel-topic">{topic}</p>
            // Made anew on each visit of a room: its label is a value (a reactive text inside it
            // would stay subscribed to the language for good once the button went).
            {move || {
                in_room
                    .get()
                    .then(|| {
                        let label = chat.t().leave_room;
                        view! {
                            <button type="button" id="leave-room" on:click=move |_| chat.leave_room()>
                                {label}
                            </button>
                        }
                    })
            }}
            {rules_menu(chat)}
        </div>
    }
}

/// How slow the page's slow mode makes a room: one line per this many seconds per person.
const SLOW_MODE_SECS: u32 = 30;

/// For whoever moderates the open room (or `general`): slow mode, lock and topic.
fn rules_menu(chat: Chat) -> impl IntoView {
    let rules = move || {
        chat.read(Part::Online, |s| {
            let room = s.current.room_name()?.to_owned();
            let rules = s.roles.rules.iter().find(|r| r.room == room).cloned();
            Some(rules.unwrap_or(RoomRules { room, ..Default::default() })).filter(|_| s.moderates_here())
        })
    };
    let change = move |ev: web_sys::MouseEvent,
                       slow_secs: Option<u32>,
                       locked: Option<bool>,
                       topic: Option<String>| {
        super::lines::close_menu(&ev);
        let Some(room) = chat.peek(|s| s.current.room_name().map(str::to_owned)) else { return };
        chat.moderate(Action::Rules { room, slow_secs, locked, topic });
    };
    move || {
        rules().map(|now| {
            let t = chat.t();
            let slow = if now.slow_secs > 0 { 0 } else { SLOW_MODE_SECS };
            let slow_label = if now.slow_secs > 0 { t.slow_off.to_owned() } else { t.slow_on.replace("{n}", &SLOW_MODE_SECS.to_string()) };
            let lock = !now.locked;
            let topic = move |ev: web_sys::MouseEvent| {
                let current = chat.peek(ChatState::topic);
                if let Ok(Some(topic)) = window().prompt_with_message_and_default(chat.t().topic_prompt, &current) {
                    change(ev, None, None, Some(topic));
                }
            };
            view! {
                <details class="rules-menu" id="room-rules">
                    <summary>{t.room_settings}</summary>
                    <button type="button" id="slow-mode" on:click=move |ev| change(ev, Some(slow), None, None)>{slow_label}</button>
                    <button type="button" id="lock-room" on:click=move |ev| change(ev, None, Some(lock), None)>
                        {if lock { t.lock } else { t.unlock }}
                    </button>
                    <button type="button" id="set-topic" on:click=topic>{t.set_topic}</button>
                </details>
            }
        })
    }
}

/// Moves the focus to the element `selector` names (if it is there).
fn focus(selector: &str) {
    use wasm_bindgen::JsCast;
    if let Some(el) = document()
        .query_selector(selector)
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}
