//! `#lines`: the conversation. A live region; it follows the newest line only while the reader
//! is at the bottom (or has just sent a line), so scrolling up to read is never interrupted:
//! lines that arrive meanwhile get a "new messages" marker and a jump-to-newest button.
//! Scrolling to the top (or the button there) loads older lines. Each line shows its time;
//! days are separated; consecutive lines from one sender share one name.

use leptos::prelude::*;

use crate::app::Chat;
use crate::browser;
use crate::state::{Announced, Line, LineKind, Note, Problem, SendStatus};
use crate::text::{Segment, name_colour, segments};
use crate::timeline::{Row, rows};

/// How close to the bottom (in px) still counts as "at the bottom".
const BOTTOM_SLACK: i32 = 40;

#[component]
pub fn Lines(chat: Chat) -> impl IntoView {
    let list = NodeRef::<leptos::html::Div>::new();
    // The last line shown when the reader scrolled up (None: at the bottom)...
    let anchor = RwSignal::new(None::<u64>);
    // ...and the first line that came after it (the "new messages" marker, kept until the
    // reader scrolls up again).
    let marker = RwSignal::new(None::<u64>);
    let lines = Memo::new(move |_| chat.state.with(|s| s.lines.clone()));
    let after_anchor = Memo::new(move |_| {
        let anchor = anchor.get()?;
        lines.with(|l| {
            let at = l.iter().position(|line| line.key == anchor)?;
            let newer = &l[at + 1..];
            newer.first().map(|first| (first.key, newer.len()))
        })
    });
    Effect::new(move || {
        if let Some((first, _)) = after_anchor.get()
            && marker.get_untracked().is_none()
        {
            marker.set(Some(first));
        }
    });
    let rows = Memo::new(move |_| lines.with(|l| rows(l, browser::day_of, marker.get())));
    let more_before = move || chat.state.with(|s| s.more_before);
    let scroll_to_bottom = move || {
        request_animation_frame(move || {
            if let Some(el) = list.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        })
    };
    Effect::new(move || {
        let last_is_mine = lines.with(|l| matches!(l.last(), Some(Line { kind: LineKind::Mine { .. }, .. })));
        if anchor.get_untracked().is_none() || last_is_mine {
            scroll_to_bottom();
        }
    });
    view! {
        <div
            id="lines"
            node_ref=list
            role="log"
            aria-live="polite"
            aria-label=move || chat.t().messages
            tabindex="0"
            on:scroll=move |_| {
                let Some(el) = list.get_untracked() else { return };
                let at_bottom = el.scroll_height() - el.scroll_top() - el.client_height() <= BOTTOM_SLACK;
                match (at_bottom, anchor.get_untracked()) {
                    (true, Some(_)) => anchor.set(None),
                    (false, None) => {
                        anchor.set(lines.with_untracked(|l| l.last().map(|l| l.key)));
                        marker.set(None);
                    }
                    _ => {}
                }
                if el.scroll_top() == 0 {
                    chat.load_older();
                }
            }
        >
            <Show when=more_before>
                <button type="button" class="load-older" on:click=move |_| chat.load_older()>
                    {move || chat.t().load_older}
                </button>
            </Show>
            <For each=move || rows.get() key=Row::key let:row>
                {render_row(chat, row)}
            </For>
        </div>
        <Show when=move || after_anchor.get().is_some()>
            <button type="button" id="jump" class="jump" on:click=move |_| scroll_to_bottom()>
                {move || {
                    let count = after_anchor.get().map_or(0, |(_, n)| n);
                    format!("↓ {count} · {}", chat.t().jump_to_newest)
                }}
            </button>
        </Show>
    }
}

fn render_row(chat: Chat, row: Row) -> AnyView {
    match row {
        Row::Day { at, .. } => view! {
            <div class="day">
                <span>{move || browser::day_label(at, chat.clock.get(), chat.lang.get())}</span>
            </div>
        }
        .into_any(),
        Row::NewMarker => {
            view! { <div class="new-marker"><span>{move || chat.t().new_messages}</span></div> }.into_any()
        }
        Row::Line { line, grouped } => render_line(chat, line, grouped),
    }
}

/// The line's time: short ("5 minutes ago", "14:05"), the full date on hover.
fn time(chat: Chat, at: i64) -> impl IntoView {
    view! {
        <time
            datetime=browser::iso(at)
            title=move || browser::full(at, chat.lang.get())
        >
            {move || browser::short(at, chat.clock.get(), chat.lang.get())}
        </time>
    }
}

/// A message's text: plain text nodes and http(s) links, never HTML.
fn message_text(text: &str) -> impl IntoView + use<> {
    let parts: Vec<AnyView> = segments(text)
        .into_iter()
        .map(|s| match s {
            Segment::Text(t) => t.to_owned().into_any(),
            Segment::Link(url) => view! {
                <a href=url.to_owned() target="_blank" rel="noopener noreferrer">{url.to_owned()}</a>
            }
            .into_any(),
        })
        .collect();
    view! { <span class="text">{parts}</span> }
}

/// One line; all text goes in as text nodes, never as HTML.
fn render_line(chat: Chat, line: Line, grouped: bool) -> AnyView {
    let at = line.at;
    // A grouped line's name is there for screen readers only; so is the space after it.
    let gap = (!grouped).then_some(" ");
    match line.kind {
        LineKind::User { from, text, .. } => {
            let class = format!("from nc{}", name_colour(&from));
            view! {
                <p class="line user" class:grouped=grouped>
                    <b class=class>{from}</b>{gap}{message_text(&text)}{time(chat, at)}
                </p>
            }
            .into_any()
        }
        LineKind::Mine { text, key, status } => {
            let class = match &status {
                SendStatus::Pending => "line mine pending",
                SendStatus::Sent(..) => "line mine sent",
                SendStatus::Failed(_) => "line mine failed",
            };
            let failed = matches!(status, SendStatus::Failed(_));
            let sent = matches!(status, SendStatus::Sent(..));
            let note = move || {
                let t = chat.t();
                match &status {
                    SendStatus::Pending => Some(t.sending.to_owned()),
                    SendStatus::Sent(..) => None,
                    SendStatus::Failed(p) => Some(t.not_sent_because(&problem_text(chat, *p))),
                }
            };
            view! {
                <p class=class class:grouped=grouped>
                    <b class="from">{move || chat.t().me}</b>{gap}{message_text(&text)}
                    {sent.then(|| time(chat, at))}
                    {move || note().map(|n| view! { <span class="note">" — " {n}</span> })}
                    {failed.then(|| view! {
                        <button type="button" class="retry" on:click=move |_| chat.retry(key.clone())>
                            {move || chat.t().retry}
                        </button>
                    })}
                </p>
            }
            .into_any()
        }
        LineKind::Announcement(announced) => {
            let text = move || {
                let t = chat.t();
                match &announced {
                    Announced::Connected(nick) => t.announce_connected(nick),
                    Announced::Disconnected(nick) => t.announce_disconnected(nick),
                    Announced::Several { connected, names, others } => {
                        let who = t.and_others(names, *others);
                        if *connected { t.announce_connected(&who) } else { t.announce_disconnected(&who) }
                    }
                    Announced::Text(text) => text.clone(),
                }
            };
            view! { <p class="line announcement"><em>{text}</em>{time(chat, at)}</p> }.into_any()
        }
        LineKind::System(note) => {
            let text = move || {
                let t = chat.t();
                match &note {
                    Note::Reconnecting => t.reconnecting.to_owned(),
                    Note::Reconnected => t.reconnected.to_owned(),
                    Note::GoingAway => t.going_away.to_owned(),
                    Note::Gap => t.gap.to_owned(),
                    Note::Failed(p) => t.error_line(&problem_text(chat, *p)),
                    Note::ConnectionError(e) => t.error_line(e),
                }
            };
            view! {
                <p class="line system">
                    <b class="from">{move || chat.t().system}</b>" "<em>{text}</em>{time(chat, at)}
                </p>
            }
            .into_any()
        }
    }
}

fn problem_text(chat: Chat, problem: Problem) -> String {
    let t = chat.t();
    match problem {
        Problem::Refused(code) => t.error_text(code),
        Problem::NotConnected => t.not_connected,
        Problem::ConnectionLost => t.connection_lost,
        Problem::NoAnswer => t.no_answer,
        Problem::NotUnderstood => t.not_understood,
    }
    .to_owned()
}
