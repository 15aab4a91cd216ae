//! `#lines`: the conversation. A live region; it follows the newest line only while the reader
//! is at the bottom (or has just sent a line), so scrolling up to read is never interrupted.

use leptos::prelude::*;

use crate::app::Chat;
use crate::state::{Line, LineKind};

/// How close to the bottom (in px) still counts as "at the bottom".
const BOTTOM_SLACK: i32 = 40;

#[component]
pub fn Lines(chat: Chat) -> impl IntoView {
    let list = NodeRef::<leptos::html::Div>::new();
    let at_bottom = StoredValue::new(true);
    let lines = Memo::new(move |_| chat.state.with(|s| s.lines.clone()));
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
                }
            }
        >
            <For each=move || lines.get() key=|l| (l.id, l.kind.clone()) let:line>
                {render(line)}
            </For>
        </div>
    }
}

/// One line; all text goes in as text nodes, never as HTML.
fn render(line: Line) -> impl IntoView {
    match line.kind {
        LineKind::User { from, text } => view! {
            <p class="line user"><b class="from">{from}</b>" "<span class="text">{text}</span></p>
        }
        .into_any(),
        LineKind::Mine { text, error } => {
            let failed = error.is_some();
            view! {
                <p class="line mine" class:failed=failed>
                    <b class="from">"me"</b>" "<span class="text">{text}</span>
                    {error.map(|e| view! { <span class="error">" — " {e}</span> })}
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
