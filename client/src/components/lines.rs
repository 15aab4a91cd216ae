//! `#lines`: the conversation. A live region; it follows the newest line only while the reader
//! is at the bottom (or has just sent a line), so scrolling up to read is never interrupted:
//! lines that arrive meanwhile get a "new messages" marker and a jump-to-newest button.
//! Scrolling to the top (or the button there) loads older lines. Each line shows its time;
//! days are separated; consecutive lines from one sender share one name. Rows are keyed by
//! line: a new line renders one row, a status change updates that line's status only, and the
//! clock changes only the times whose words change.

use leptos::prelude::*;
use leptos::reactive::graph::{Subscriber, ToAnySubscriber};
use wasm_bindgen::JsCast;

use super::keyed::keyed_list;
use crate::browser;
use crate::i18n::{Lang, Texts};
use crate::service::Chat;
use crate::state::{Announced, Body, ChatState, Line, Note, Part, Problem, Role, RulesChange, SendStatus};
use crate::text::{Segment, name_colour, segments};
use crate::timeline::{Row, rows};
use chat_shared::moderation::{Action, Moderated, Sanction};

/// How close to the bottom (in px) still counts as "at the bottom".
const BOTTOM_SLACK: i32 = 40;
/// A scroll this soon (ms) after the reader touched the list is the reader's.
const READER_SCROLL_MS: f64 = 1_000.0;
/// A line this old shows the time of day, which the clock no longer changes.
const HOUR_MS: i64 = 3_600_000;

/// What a row shows besides its line, read once for the whole list and part of the row's key
/// (a change renders the rows it touches anew). A row must not read these itself: they rarely
/// change, and a reactive source forgets a row that went only when it changes, so in a busy
/// chat every line ever shown stayed in their subscriber lists (measured: the page's memory
/// grew by hundreds of bytes a line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RowContext {
    lang: Lang,
    menu: LineMenu,
    /// The sender's role where the reader is (its badge).
    role: Option<Role>,
}

/// What a stored line's menu offers the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LineMenu {
    /// No menu (not named yet, or in a direct conversation).
    None,
    Report,
    /// Report, and delete it for everyone (the reader moderates here).
    ReportOrDelete,
}

#[component]
pub fn Lines(chat: Chat) -> impl IntoView {
    // This view is made anew for each channel: what in it reads the language reads it through
    // this memo, which goes with it (see `scoped_memo`); read from the page's signal directly,
    // each visit of a channel left a few subscribers in the signal's list for good (~50 bytes
    // a switch: leak_probe.js with SWITCH=1).
    let lang = Memo::from(scoped_memo(move || chat.lang.get()));
    let t = move || lang.get().texts();
    let list = NodeRef::<leptos::html::Div>::new();
    // The last line shown when the reader scrolled up (None: at the bottom)...
    let anchor = RwSignal::new(None::<u64>);
    // ...and the first line that came after it (the "new messages" marker, kept until the
    // reader scrolls up again).
    let marker = RwSignal::new(None::<u64>);
    // The first line (its `data-line`) and where it was when older lines were asked for, to
    // keep the reader's place when they come in above it (its row may be rendered anew: it
    // may now continue the group of the lines above it).
    let first_before_older = StoredValue::new(None::<(String, i32)>);
    let row_top = move |line: &str| {
        let row = list.get_untracked()?.query_selector(&format!("p[data-line='{line}']")).ok()??;
        Some(row.dyn_into::<web_sys::HtmlElement>().ok()?.offset_top())
    };
    // The first line after the anchor, and how many newer lines there are (held or not).
    let after_anchor = Memo::new(move |_| {
        let anchor = anchor.get()?;
        chat.read(Part::Lines, |s| {
            // The lines after the anchor, counted from the end (no copy of the keys per line).
            let after = s.window.lines().rev().position(|l| l.key == anchor).unwrap_or(0);
            let first = s.window.lines().nth(s.window.len() - after).map(|l| l.key);
            let count = after + s.window.newer as usize;
            (count > 0 || s.window.more_after).then_some((first, count))
        })
    });
    Effect::new(move || {
        if let Some((Some(first), _)) = after_anchor.get()
            && marker.get_untracked().is_none()
        {
            marker.set(Some(first));
        }
    });
    let more_before = move || chat.read(Part::Lines, |s| s.window.more_before);
    let menu = Memo::new(move |_| {
        chat.track(Part::Channels);
        let named_in_room =
            chat.read(Part::Me, |s| s.me.nickname.is_some() && s.current.room_name().is_some());
        match (named_in_room, chat.read(Part::Online, ChatState::moderates_here)) {
            (false, _) => LineMenu::None,
            (true, false) => LineMenu::Report,
            (true, true) => LineMenu::ReportOrDelete,
        }
    });
    let roles = Memo::new(move |_| {
        chat.track(Part::Channels);
        chat.read(Part::Online, ChatState::roles_here)
    });
    let scroll_to_bottom = move || {
        request_animation_frame(move || {
            if let Some(el) = list.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        })
    };
    Effect::new(move || {
        let last_is_mine = chat.read(Part::Lines, |s| {
            s.window.lines().next_back().is_some_and(|l| matches!(*l.body, Body::Mine { .. }))
        });
        if let Some((first, was)) = first_before_older.try_update_value(Option::take).flatten() {
            // Older lines came in above: keep the line the reader was at in its place.
            request_animation_frame(move || {
                if let (Some(el), Some(now)) = (list.get_untracked(), row_top(&first)) {
                    el.set_scroll_top(el.scroll_top() + now - was);
                }
            });
        } else if anchor.get_untracked().is_none() || last_is_mine {
            scroll_to_bottom();
        }
    });
    // When the reader last scrolled (wheel, touch, keys, the scrollbar).
    let reader_scrolled_at = StoredValue::new(f64::NEG_INFINITY);
    let reader_scrolled = move || reader_scrolled_at.set_value(js_sys::Date::now());
    let jump = move || {
        // The reader asked for the live end: the wheel that took it away a moment ago no
        // longer counts (lines arriving meanwhile move the list, not the reader).
        reader_scrolled_at.set_value(f64::NEG_INFINITY);
        chat.jump_to_newest();
        anchor.set(None);
        scroll_to_bottom();
    };
    let load_older = move || {
        if chat.peek(|s| s.window.more_before && !s.window.loading_older)
            && let Some(first) =
                list.get_untracked().and_then(|el| el.query_selector("p[data-line]").ok().flatten())
            && let Some(line) = first.get_attribute("data-line")
            && let Some(top) = row_top(&line)
        {
            first_before_older.set_value(Some((line, top)));
        }
        chat.load_older();
    };
    view! {
        <div
            id="lines"
            node_ref=list
            role="log"
            aria-live="polite"
            aria-label=move || t().messages
            tabindex="0"
            on:wheel=move |_| reader_scrolled()
            on:touchmove=move |_| reader_scrolled()
            on:pointerdown=move |_| reader_scrolled()
            on:keydown=move |_| reader_scrolled()
            on:scroll=move |_| {
                let Some(el) = list.get_untracked() else { return };
                let at_bottom = el.scroll_height() - el.scroll_top() - el.client_height() <= BOTTOM_SLACK;
                // New lines below and old ones dropped above move the list too: only the reader
                // takes it away from the bottom.
                if !at_bottom && js_sys::Date::now() > reader_scrolled_at.get_value() + READER_SCROLL_MS {
                    return;
                }
                match (at_bottom, anchor.get_untracked()) {
                    (true, Some(_)) => anchor.set(None),
                    (false, None) => {
                        anchor.set(chat.peek(|s| s.window.lines().next_back().map(|l| l.key)));
                        marker.set(None);
                    }
                    _ => {}
                }
                chat.following(at_bottom);
                if el.scroll_top() == 0 {
                    load_older();
                }
            }
        >
            <Show when=more_before>
                <button type="button" class="load-older" on:click=move |_| load_older()>
                    {move || t().load_older}
                </button>
            </Show>
            {keyed_list(
                move || {
                    let (lang, menu) = (lang.get(), menu.get());
                    roles.with(|roles| {
                        chat.read(Part::Lines, |s| rows(s.window.lines(), browser::day_of, marker.get()))
                            .into_iter()
                            .map(|row| {
                                let role = match &row {
                                    Row::Line { line, .. } => match &*line.body {
                                        Body::User { from, .. } => roles.role_of(from),
                                        _ => None,
                                    },
                                    _ => None,
                                };
                                (row, RowContext { lang, menu, role })
                            })
                            .collect::<Vec<_>>()
                    })
                },
                |(row, context)| (row.key(), *context),
                move |(row, context)| render_row(chat, row, context),
            )}
        </div>
        // Also shown at the bottom while the window is away from the live end (a request for the
        // lines after it failed): the button brings the newest back.
        <Show when=move || after_anchor.get().is_some() || chat.read(Part::Lines, |s| s.window.more_after)>
            <button type="button" id="jump" class="jump" on:click=move |_| jump()>
                {move || {
                    let newer = chat.read(Part::Lines, |s| s.window.newer as usize);
                    let count = after_anchor.get().map_or(newer, |(_, n)| n);
                    format!("↓ {count} · {}", t().jump_to_newest)
                }}
            </button>
        </Show>
    }
}

fn render_row(chat: Chat, row: Row, context: RowContext) -> AnyView {
    let lang = context.lang;
    match row {
        Row::Day { at, .. } => {
            let label = scoped_memo(move || browser::day_label(at, chat.clock.get(), lang));
            view! {
                <div class="day">
                    <span>{move || label.get()}</span>
                </div>
            }
            .into_any()
        }
        Row::NewMarker => {
            view! { <div class="new-marker"><span>{lang.texts().new_messages}</span></div> }.into_any()
        }
        Row::Line { line, grouped } => render_line(chat, line, grouped, context),
    }
}

/// The line's time: short ("5 minutes ago", "14:05"), the full date on hover. Only a line
/// younger than an hour follows the clock, and its text changes only when its words do.
fn time(chat: Chat, at: i64, lang: Lang) -> impl IntoView {
    let label = scoped_memo(move || {
        if chat.clock.get_untracked() - at >= HOUR_MS {
            browser::time_of_day(at, lang)
        } else {
            browser::short(at, chat.clock.get(), lang)
        }
    });
    view! {
        <time datetime=browser::iso(at) title=browser::full(at, lang)>
            {move || label.get()}
        </time>
    }
}

/// A memo for a view that goes (a row, a channel's lines) and reads long-lived state (the
/// clock, the language): when the view goes, the memo leaves the subscribers of what it read,
/// and what in the view read the memo goes with it. A signal or memo keeps a subscriber that
/// was dropped (and its allocation) until that subscriber removes itself, which reactive_graph
/// 0.2.16 leaves to the subscriber: without this, every line that passed through the window
/// stayed in the clock's list, ~220 bytes of wasm memory per line, forever
/// (tests/browser/window.js checks it).
fn scoped_memo<T: PartialEq + Send + Sync + 'static>(
    f: impl Fn() -> T + Send + Sync + 'static,
) -> ArcMemo<T> {
    let memo = ArcMemo::new(move |_| f());
    let leaving = memo.clone();
    on_cleanup(move || leaving.clear_sources(&leaving.to_any_subscriber()));
    memo
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
fn render_line(chat: Chat, line: Line, grouped: bool, context: RowContext) -> AnyView {
    let lang = context.lang;
    let at = line.at;
    let key = line.key.to_string();
    // A grouped line's name is there for screen readers only; so is the space after it.
    let gap = (!grouped).then_some(" ");
    match &*line.body {
        Body::User { from, text } => {
            let class = format!("from nc{}", name_colour(from));
            let badge = context.role.map(|role| badge(role, lang.texts()));
            let menu = line.id.map(|id| line_menu(chat, id, context));
            view! {
                <p class="line user" class:grouped=grouped data-line=key data-id=line.id.map(|i| i.to_string())>
                    <b class=class>{from.clone()}</b>{badge}{gap}{message_text(text)}{time(chat, at, lang)}{menu}
                </p>
            }
            .into_any()
        }
        Body::Mine { text, key } => render_mine(chat, &line, text, key.clone(), gap, grouped, lang),
        Body::Announcement(announced) => {
            let announced = announced.clone();
            let text = move || {
                let t = lang.texts();
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
            view! { <p class="line announcement" data-line=key><em>{text}</em>{time(chat, at, lang)}</p> }
                .into_any()
        }
        Body::System(note) => {
            let note = note.clone();
            let text = move || {
                let t = lang.texts();
                match &note {
                    Note::Reconnecting => t.reconnecting.to_owned(),
                    Note::Reconnected => t.reconnected.to_owned(),
                    Note::GoingAway => t.going_away.to_owned(),
                    Note::Gap => t.gap.to_owned(),
                    Note::Failed(p) => t.error_line(&problem_text(lang, *p)),
                    Note::ConnectionError(e) => t.error_line(e),
                    Note::Moderated(m) => moderated_text(lang, m),
                    Note::Rules { room, change } => {
                        let (words, n, topic) = match change {
                            RulesChange::Locked => (t.rules_locked, 0, ""),
                            RulesChange::Slow(n) => (t.rules_slow, *n, ""),
                            RulesChange::Open => (t.rules_open, 0, ""),
                            RulesChange::Topic(topic) => (t.rules_topic, 0, topic.as_str()),
                        };
                        words
                            .replace("{room}", &format!("# {room}"))
                            .replace("{n}", &n.to_string())
                            .replace("{topic}", topic)
                    }
                    Note::Reported => t.reported.to_owned(),
                }
            };
            view! {
                <p class="line system" data-line=key>
                    <b class="from">{lang.texts().system}</b>" "<em>{text}</em>{time(chat, at, lang)}
                </p>
            }
            .into_any()
        }
    }
}

/// One's own line: its status (sending, stored with the server's time, or refused with a retry
/// button) is its own signal.
fn render_mine(
    chat: Chat,
    line: &Line,
    text: &str,
    key: String,
    gap: Option<&'static str>,
    grouped: bool,
    lang: Lang,
) -> AnyView {
    let line_key = line.key;
    let changed = chat.status_of(line_key);
    let status = Memo::new(move |_| {
        changed.track();
        chat.peek(|s: &ChatState| {
            s.window.lines().rev().find(|l| l.key == line_key).and_then(|l| l.status.clone())
        })
    });
    let note = move || {
        let t = lang.texts();
        match status.get()? {
            SendStatus::Pending => Some(t.sending.to_owned()),
            SendStatus::Stored(_) => None,
            SendStatus::Failed(p) => Some(t.not_sent_because(&problem_text(lang, p))),
        }
    };
    let stored_at = move || match status.get() {
        Some(SendStatus::Stored(meta)) => Some(meta.ts),
        _ => None,
    };
    let failed = move || matches!(status.get(), Some(SendStatus::Failed(_)));
    view! {
        <p
            class="line mine"
            class:pending=move || matches!(status.get(), Some(SendStatus::Pending) | None)
            class:sent=move || stored_at().is_some()
            class:failed=failed
            class:grouped=grouped
            data-line=line_key.to_string()
        >
            <b class="from">{lang.texts().me}</b>{gap}{message_text(text)}
            {move || stored_at().map(|at| time(chat, at, lang))}
            {move || note().map(|n| view! { <span class="note">" — " {n}</span> })}
            {move || failed().then(|| {
                let key = key.clone();
                view! {
                    <button type="button" class="retry" on:click=move |_| chat.retry(key.clone())>
                        {lang.texts().retry}
                    </button>
                }
            })}
        </p>
    }
    .into_any()
}

/// What the reader is told when a moderator acted on its nickname, with the reason.
pub fn moderated_text(lang: Lang, m: &Moderated) -> String {
    let t = lang.texts();
    let words = match (m.sanction, &m.room) {
        (Sanction::Muted, Some(_)) => t.muted_you_in,
        (Sanction::Muted, None) => t.muted_you,
        (Sanction::Unmuted, _) => t.unmuted_you,
        (Sanction::Kicked, _) => t.kicked_you,
        (Sanction::Banned, _) => t.banned_you,
    };
    let until = m.until.map(|u| browser::full(u, lang)).unwrap_or_default();
    let room = m.room.as_deref().map(|r| format!("# {r}")).unwrap_or_default();
    let said = words.replace("{nick}", &m.by).replace("{time}", &until).replace("{room}", &room);
    match m.reason.is_empty() {
        true => said,
        false => format!("{said} {}", t.reason_is.replace("{reason}", &m.reason)),
    }
}

/// The badge of a role.
pub fn badge(role: Role, t: &'static Texts) -> impl IntoView + use<> {
    let (class, label) = match role {
        Role::Moderator => ("role moderator", t.role_moderator),
        Role::Owner => ("role owner", t.role_owner),
        Role::RoomModerator => ("role room-moderator", t.role_room_moderator),
    };
    view! { <span class=class>{label}</span> }
}

/// Closes the menu (`details`) whose button was clicked.
pub fn close_menu(ev: &web_sys::MouseEvent) {
    let menu = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest("details").ok().flatten());
    if let Some(menu) = menu {
        let _ = menu.remove_attribute("open");
    }
}

/// A stored line's menu, in a room (`general` too; not in a direct conversation): report it
/// (anyone named), delete it for everyone (its moderators, after a confirmation, with a reason
/// for the audit log).
fn line_menu(chat: Chat, id: u64, context: RowContext) -> impl IntoView {
    let lang = context.lang;
    let report = move |ev: web_sys::MouseEvent| {
        close_menu(&ev);
        if let Ok(Some(reason)) = window().prompt_with_message(lang.texts().report_reason) {
            chat.report(id, reason);
        }
    };
    let delete = move |ev: web_sys::MouseEvent| {
        close_menu(&ev);
        let t = lang.texts();
        if !window().confirm_with_message(t.delete_confirm).unwrap_or(false) {
            return;
        }
        let Ok(Some(reason)) = window().prompt_with_message(t.audit_reason) else { return };
        let room = chat.peek(|s| s.current.room_name().map(str::to_owned));
        chat.moderate(Action::Delete { room, id, reason });
    };
    let t = lang.texts();
    (context.menu != LineMenu::None).then(|| {
        view! {
            <details class="line-menu">
                <summary title=t.line_actions aria-label=t.line_actions>"⋯"</summary>
                <button type="button" class="report" on:click=report>{t.report}</button>
                {(context.menu == LineMenu::ReportOrDelete).then(|| view! {
                    <button type="button" class="delete" on:click=delete>{t.delete_line}</button>
                })}
            </details>
        }
    })
}

fn problem_text(lang: Lang, problem: Problem) -> String {
    let t = lang.texts();
    match problem {
        Problem::Refused(code) => t.error_text(code),
        Problem::NotConnected => t.not_connected,
        Problem::ConnectionLost => t.connection_lost,
        Problem::NoAnswer => t.no_answer,
        Problem::NotUnderstood => t.not_understood,
    }
    .to_owned()
}
