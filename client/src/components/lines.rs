//! `#lines`: the conversation. A live region; it follows the newest line only while the reader
//! is at the bottom (or has just sent a line), so scrolling up to read is never interrupted;
//! scrolling to the top (or the button there) loads older lines.

use leptos::prelude::*;

use crate::app::Chat;
use crate::state::{Line, LineKind, SendStatus};

/// How close to the bottom (in px) still counts as "at the bottom".
const BOTTOM_SLACK: i32 = 40;

#[component]
pub fn Lines(chat: Chat) -> impl IntoView {
    let list = NodeRef::<leptos::html::Div>::new();
    let at_bottom = StoredValue::new(true);
    let lines = Memo::new(move |_| chat.state.with(|s| s.lines.clone()));
    let more_before = move || chat.state.with(|s| s.more_before);
    Effect::new(move || {
        let last_is_mine = lines.with(|l| matches!(l.last(), Some(Line { kind: LineKind::Mine { .. }, .. })));
        if at_bottom.get_value() || last_is_mine {
            request_animation_frame(move || {
                if let Some(el) = list.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            });
        }
    });
    view! {
        <div
            id="lines"
            node_ref=list
            role="log"
            aria-live="polite"
            aria-label="Messages"
            tabindex="0"
            on:scroll=move |_| {
                if let Some(el) = list.get_untracked() {
                    at_bottom.set_value(el.scroll_height() - el.scroll_top() - el.client_height() <= BOTTOM_SLACK);
                    if el.scroll_top() == 0 {
                        chat.load_older();
                    }
                }
            }
        >
            <Show when=more_before>
                <button type="button" class="load-older" on:click=move |_| chat.load_older()>
                    "Load earlier messages"
                </button>
            </Show>
            <For each=move || lines.get() key=|l| (l.key, l.kind.clone()) let:line>
                {render(chat, line)}
            </For>
        </div>
    }
}

/// One line; all text goes in as text nodes, never as HTML.
fn render(chat: Chat, line: Line) -> impl IntoView {
    match line.kind {
        LineKind::User { from, text, .. } => view! {
            <p class="line user"><b class="from">{from}</b>" "<span class="text">{text}</span></p>
        }
        .into_any(),
        LineKind::Mine { text, key, status } => {
            let (class, note) = match &status {
                SendStatus::Pending => ("line mine pending", Some("sending…".to_owned())),
                SendStatus::Sent(..) => ("line mine sent", None),
                SendStatus::Failed(reason) => ("line mine failed", Some(format!("not sent: {reason}"))),
            };
            let failed = matches!(status, SendStatus::Failed(_));
            view! {
                <p class=class>
                    <b class="from">"me"</b>" "<span class="text">{text}</span>
                    {note.map(|n| view! { <span class="note">" — " {n}</span> })}
                    {failed.then(|| view! {
                        <button type="button" class="retry" on:click=move |_| chat.retry(key.clone())>"Retry"</button>
                    })}
                </p>
            }
            .into_any()
        }
        LineKind::Announcement(text) => view! { <p class="line announcement"><em>{text}</em></p> }.into_any(),
        LineKind::System(text) => view! {
            <p class="line system"><b class="from">"System"</b>" "<em>{text}</em></p>
        }
        .into_any(),
    }
}
