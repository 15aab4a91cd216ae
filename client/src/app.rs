//! The page's root: the chat state, the connection, and the wiring between them. Every server
//! event and connection change goes through `state::apply`; components send intents through
//! [`Chat`]. The outbox (own lines not yet stored) and the session (nickname and resume token)
//! are kept in the tab's sessionStorage, so that a reload loses neither. Also here: the page's
//! language, the typing notices it sends, the tab title's unread count and mention
//! notifications.

use std::time::Duration;

use chat_shared::limits::{TYPING_IDLE, TYPING_REFRESH};
use chat_shared::protocol::{
    Answer, ClientEvent, HistoryPage, HistoryRequest, MessageMeta, NicknameAck, ServerEvent, SessionGrant,
};
use chat_shared::{MessageText, Nickname};
use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::browser::{self, notify, prefs};
use crate::components::{Composer, ConnectingOverlay, Lines, NicknameForm, OnlineList, Toolbar, TypingLine};
use crate::i18n::{Lang, Texts};
use crate::socket::{Socket, SocketError, Status};
use crate::state::{ChatEvent, ChatState, Connection, HistoryKind, Problem, apply, decode, now_ms};
use crate::text::mentions;

/// Where the chosen language and the notification opt-in are kept (localStorage).
const LANG_PREF: &str = "chat.lang";
const NOTIFY_PREF: &str = "chat.notify";

/// What components may do: read the state, claim a nickname, send a line, load older lines,
/// say one is typing; and the page's language and clock.
#[derive(Clone, Copy)]
pub struct Chat {
    pub state: RwSignal<ChatState>,
    pub lang: RwSignal<Lang>,
    /// The time (ms), refreshed now and then, for "5 minutes ago".
    pub clock: RwSignal<i64>,
    /// Notify of lines that mention the reader (opted in, and the browser allows it).
    pub notify: RwSignal<bool>,
    socket: StoredValue<Socket, LocalStorage>,
    /// The outbox is being sent (one line at a time, in order).
    pumping: StoredValue<bool>,
    loading_older: StoredValue<bool>,
    /// When `typing: true` was last sent (None: the others think we are not typing), and the
    /// keystroke count that the idle timer checks.
    typing_sent: StoredValue<Option<i64>>,
    keystrokes: StoredValue<u64>,
}

impl Chat {
    /// The page's words in its current language (reactive).
    pub fn t(&self) -> &'static Texts {
        self.lang.get().texts()
    }

    fn apply(&self, event: ChatEvent) {
        let named = matches!(event, ChatEvent::Session(_));
        let mention = match &event {
            ChatEvent::UserMessage { from, text, .. } if self.notify.get_untracked() => {
                Some((from.clone(), text.clone()))
            }
            _ => None,
        };
        let unread_before = self.state.with_untracked(|s| s.unread);
        self.state.update(|s| apply(s, event));
        if named {
            self.pump();
        }
        if let Some((from, text)) = mention {
            self.maybe_notify(unread_before, &from, &text);
        }
    }

    /// A new line while the tab is hidden that mentions the reader: a notification (asked for).
    fn maybe_notify(&self, unread_before: u32, from: &str, text: &str) {
        let (unread, me) = self.state.with_untracked(|s| (s.unread, s.nickname.clone()));
        let Some(me) = me else { return };
        if unread > unread_before && notify::granted() && mentions(text, &me) {
            let t = self.lang.get_untracked().texts();
            notify::show(&t.mentioned_you.replace("{nick}", from), text);
        }
    }

    /// A keystroke in the message field: tell the others we are typing (at most once per
    /// [`TYPING_REFRESH`]), and that we stopped after [`TYPING_IDLE`] without one.
    pub fn typed(&self) {
        if self.state.with_untracked(|s| s.nickname.is_none() || s.connection != Connection::Connected) {
            return;
        }
        let now = now_ms();
        let stale =
            self.typing_sent.get_value().is_none_or(|at| now - at >= TYPING_REFRESH.as_millis() as i64);
        if stale && self.socket.get_value().emit(ClientEvent::Typing, vec![Value::Bool(true)]).is_ok() {
            self.typing_sent.set_value(Some(now));
        }
        let keystroke = self.keystrokes.get_value() + 1;
        self.keystrokes.set_value(keystroke);
        let chat = *self;
        Timeout::new(TYPING_IDLE.as_millis() as u32, move || {
            if chat.keystrokes.get_value() == keystroke {
                chat.stopped_typing(true);
            }
        })
        .forget();
    }

    /// We no longer type; `tell`: say so (not needed when a line was sent: it says so itself).
    fn stopped_typing(&self, tell: bool) {
        if self.typing_sent.get_value().is_some() {
            self.typing_sent.set_value(None);
            if tell {
                let _ = self.socket.get_value().emit(ClientEvent::Typing, vec![Value::Bool(false)]);
            }
        }
    }

    /// Switches the page's language (and remembers the choice).
    pub fn set_lang(&self, lang: Lang) {
        prefs::set(LANG_PREF, lang.tag());
        self.lang.set(lang);
    }

    /// Turns mention notifications on (asking the browser first) or off.
    pub fn set_notify(&self, on: bool) {
        let chat = *self;
        spawn_local(async move {
            let on = on && (notify::granted() || notify::request().await);
            prefs::set(NOTIFY_PREF, if on { "on" } else { "off" });
            chat.notify.set(on);
        });
    }

    /// Claims `raw` as nickname (checked here first, with the same rules as the server).
    pub fn claim_nickname(&self, raw: &str) {
        let nick = match Nickname::parse(raw) {
            Ok(n) => n,
            Err(e) => return self.apply(ChatEvent::NicknameAnswered(NicknameAck::Rejected(e))),
        };
        self.apply(ChatEvent::NicknameRequested(nick.to_string()));
        self.send_claim(nick.to_string());
    }

    fn send_claim(&self, nick: String) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::Nickname, vec![Value::from(nick)]).await;
            chat.apply(match answer.map(|args| NicknameAck::from_args(&args)) {
                Ok(Some(ack)) => ChatEvent::NicknameAnswered(ack),
                Ok(None) => ChatEvent::NicknameFailed(Problem::NotUnderstood),
                Err(e) => ChatEvent::NicknameFailed(problem(&e)),
            });
        });
    }

    /// After a reconnect or a reload: takes the nickname back with the resume token, or,
    /// without a token or if the server no longer knows it, by asking for the name again.
    fn reclaim(&self, nick: String) {
        let chat = *self;
        let socket = self.socket.get_value();
        let token = self.state.with_untracked(|s| s.resume_token.clone());
        spawn_local(async move {
            if let Some(token) = token {
                let answer = socket.emit_with_ack(ClientEvent::Resume, vec![Value::from(token)]).await;
                if let Ok(Some(Answer(Ok(grant)))) =
                    answer.map(|args| Answer::<SessionGrant>::from_args(&args))
                {
                    return chat.apply(ChatEvent::Session(grant));
                }
            }
            chat.state.update(|s| s.requested_nickname = Some(nick.clone()));
            chat.send_claim(nick);
        });
    }

    /// Queues a line: it shows at once (pending) and is sent as soon as possible.
    pub fn send_message(&self, text: MessageText) {
        self.stopped_typing(false);
        self.apply(ChatEvent::Outgoing { key: new_key(), text: text.to_string() });
        self.pump();
    }

    pub fn retry(&self, key: String) {
        self.apply(ChatEvent::Retry { key });
        self.pump();
    }

    /// Sends the outbox, oldest first, one at a time (so the order holds), while connected and
    /// named. A line the server refuses is marked failed; a lost connection leaves the rest
    /// pending for the next connection. The idempotency key makes a resend harmless.
    fn pump(&self) {
        if self.pumping.get_value() {
            return;
        }
        self.pumping.set_value(true);
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            loop {
                let next = chat.state.with_untracked(|s| {
                    let ready =
                        s.connection == Connection::Connected && s.nickname.is_some() && !s.reclaiming;
                    if ready { s.outbox().into_iter().next() } else { None }
                });
                let Some((key, text)) = next else { break };
                let answer = socket
                    .emit_with_ack(ClientEvent::UserMessage, vec![Value::from(text), json!({ "key": key })])
                    .await;
                let event = match answer {
                    Ok(args) => match Answer::<MessageMeta>::from_args(&args) {
                        Some(Answer(Ok(meta))) => ChatEvent::Stored { key, meta },
                        Some(Answer(Err(e))) => {
                            ChatEvent::SendFailed { key, reason: Problem::Refused(e.code) }
                        }
                        None => ChatEvent::SendFailed { key, reason: Problem::NotUnderstood },
                    },
                    Err(SocketError::Timeout) => ChatEvent::SendFailed { key, reason: Problem::NoAnswer },
                    Err(_) => break, // stays pending: sent again after reconnecting
                };
                chat.state.update(|s| apply(s, event));
            }
            chat.pumping.set_value(false);
        });
    }

    /// Fetches a page of history and merges it (repeating while a resume has more).
    fn fetch_history(&self, kind: HistoryKind) {
        let chat = *self;
        let socket = self.socket.get_value();
        let request = self.state.with_untracked(|s| match kind {
            HistoryKind::Newest => HistoryRequest::default(),
            HistoryKind::After => HistoryRequest { after: s.last_id(), ..Default::default() },
            HistoryKind::Older => HistoryRequest { before: s.first_id(), ..Default::default() },
        });
        spawn_local(async move {
            let Ok(request) = serde_json::to_value(&request) else { return };
            let answer = socket.emit_with_ack(ClientEvent::History, vec![request]).await;
            if let Ok(Some(Answer(Ok(page)))) = answer.map(|args| Answer::<HistoryPage>::from_args(&args)) {
                let more_after = kind == HistoryKind::After && page.more;
                chat.state.update(|s| apply(s, ChatEvent::History { page, kind }));
                if more_after {
                    chat.fetch_history(HistoryKind::After);
                }
            }
            if kind == HistoryKind::Older {
                chat.loading_older.set_value(false);
            }
        });
    }

    /// Loads the page of lines before the first one shown (scrolling up).
    pub fn load_older(&self) {
        if self.loading_older.get_value() || !self.state.with_untracked(|s| s.more_before) {
            return;
        }
        self.loading_older.set_value(true);
        self.fetch_history(HistoryKind::Older);
    }
}

fn problem(e: &SocketError) -> Problem {
    match e {
        SocketError::NotConnected => Problem::NotConnected,
        SocketError::Disconnected => Problem::ConnectionLost,
        SocketError::Timeout => Problem::NoAnswer,
    }
}

/// A fresh idempotency key for a line: 96 bits from the browser's cryptographic random
/// source (`Math.random` is predictable); the time and a counter if it is missing.
fn new_key() -> String {
    let mut bytes = [0u8; 12];
    let random = window().crypto().and_then(|c| c.get_random_values_with_u8_array(&mut bytes)).is_ok();
    if !random {
        thread_local!(static COUNTER: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
        let n = COUNTER.with(|c| {
            c.set(c.get().wrapping_add(1));
            c.get()
        });
        return format!("{:016x}{n:08x}", js_sys::Date::now() as u64);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The page connects to the server that served it; `?transport=polling` forces long-polling.
fn server_base() -> (String, bool) {
    let location = window().location();
    let base = location.origin().unwrap_or_default();
    let force_polling = location.search().unwrap_or_default().contains("transport=polling");
    (base, force_polling)
}

/// What the tab keeps across a reload.
mod saved {
    use serde::{Deserialize, Serialize};

    const SESSION: &str = "chat.session";
    const OUTBOX: &str = "chat.outbox";

    #[derive(Serialize, Deserialize)]
    pub struct Session {
        pub nickname: String,
        pub resume_token: String,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Queued {
        pub key: String,
        pub text: String,
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.session_storage().ok()?
    }

    fn read<T: for<'de> Deserialize<'de>>(name: &str) -> Option<T> {
        serde_json::from_str(&storage()?.get_item(name).ok()??).ok()
    }

    fn write<T: Serialize>(name: &str, value: &T) {
        if let (Some(s), Ok(json)) = (storage(), serde_json::to_string(value)) {
            let _ = s.set_item(name, &json);
        }
    }

    pub fn session() -> Option<Session> {
        read(SESSION)
    }

    pub fn set_session(session: Option<Session>) {
        match session {
            Some(s) => write(SESSION, &s),
            None => {
                if let Some(s) = storage() {
                    let _ = s.remove_item(SESSION);
                }
            }
        }
    }

    pub fn outbox() -> Vec<Queued> {
        read(OUTBOX).unwrap_or_default()
    }

    pub fn set_outbox(outbox: &[Queued]) {
        write(OUTBOX, &outbox);
    }
}

fn connect(state: RwSignal<ChatState>) -> Chat {
    // What the tab kept from before a reload: the nickname to take back, and the outbox.
    state.update(|s| {
        if let Some(saved) = saved::session() {
            s.nickname = Some(saved.nickname);
            s.resume_token = Some(saved.resume_token);
        }
        for q in saved::outbox() {
            apply(s, ChatEvent::Outgoing { key: q.key, text: q.text });
        }
    });
    Effect::new(move || {
        let (session, outbox) = state.with(|s| {
            let session = s.nickname.clone().zip(s.resume_token.clone());
            (session, s.outbox())
        });
        saved::set_session(session.map(|(nickname, resume_token)| saved::Session { nickname, resume_token }));
        let outbox: Vec<saved::Queued> =
            outbox.into_iter().map(|(key, text)| saved::Queued { key, text }).collect();
        saved::set_outbox(&outbox);
    });

    let (base, force_polling) = server_base();
    let socket = Socket::connect(base, force_polling);
    let lang = prefs::get(LANG_PREF).and_then(|t| Lang::from_tag(&t));
    let lang = lang.unwrap_or_else(|| Lang::pick(browser::preferred_languages().iter().map(String::as_str)));
    let chat = Chat {
        state,
        lang: RwSignal::new(lang),
        clock: RwSignal::new(now_ms()),
        notify: RwSignal::new(prefs::get(NOTIFY_PREF).as_deref() == Some("on") && notify::granted()),
        socket: StoredValue::new_local(socket.clone()),
        pumping: StoredValue::new(false),
        loading_older: StoredValue::new(false),
        typing_sent: StoredValue::new(None),
        keystrokes: StoredValue::new(0),
    };
    for event in ServerEvent::ALL {
        let going = socket.clone();
        socket.on(event, move |args| {
            if let Some(e) = decode(event, args) {
                if let ChatEvent::GoingAway(g) = &e {
                    going.reconnect_within(Duration::from_millis(g.retry_after_ms));
                }
                chat.apply(e);
            }
        });
    }
    socket.on_status(move |status| match status {
        Status::Connecting => {}
        Status::Connected { reconnected, .. } => {
            chat.apply(ChatEvent::Connected { reconnected });
            let resume = state.with_untracked(|s| s.last_id().is_some());
            chat.fetch_history(if resume { HistoryKind::After } else { HistoryKind::Newest });
            let reclaim = state.with_untracked(|s| s.reclaiming.then(|| s.nickname.clone()).flatten());
            if let Some(nick) = reclaim {
                chat.reclaim(nick);
            }
        }
        Status::Reconnecting { .. } => {
            chat.typing_sent.set_value(None); // the new connection starts not typing
            if state.with_untracked(|s| s.connection != Connection::Connecting) {
                chat.apply(ChatEvent::Reconnecting);
            }
        }
        Status::Error(e) => chat.apply(ChatEvent::ConnectionError(e)),
    });
    watch_the_tab(chat);
    chat
}

/// Keeps the tab in step with the page: the title (with the unread count), `<html lang>`, the
/// visibility, and a clock for typists that went quiet and for "5 minutes ago".
fn watch_the_tab(chat: Chat) {
    Effect::new(move || {
        let title = chat.state.with(|s| chat.t().title_with_unread(s.unread));
        document().set_title(&title);
    });
    Effect::new(move || {
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("lang", chat.lang.get().tag());
        }
    });
    let on_visibility =
        Closure::<dyn Fn()>::new(move || chat.apply(ChatEvent::Hidden(browser::tab_hidden())));
    let _ = document()
        .add_event_listener_with_callback("visibilitychange", on_visibility.as_ref().unchecked_ref());
    on_visibility.forget(); // lives as long as the page
    chat.apply(ChatEvent::Hidden(browser::tab_hidden()));
    let mut ticks = 0u32;
    Interval::new(1_000, move || {
        ticks += 1;
        if chat.state.with_untracked(|s| !s.typists.is_empty()) {
            chat.apply(ChatEvent::Tick);
        }
        if ticks.is_multiple_of(20) {
            chat.clock.set(now_ms());
        }
    })
    .forget();
}

#[component]
pub fn App() -> impl IntoView {
    let state = RwSignal::new(ChatState::default());
    let chat = connect(state);
    let connected = move || state.with(|s| s.connection != Connection::Connecting);
    let named = move || state.with(|s| s.nickname.is_some());
    view! {
        <main
            id="chat"
            class:connected=connected
            class:nickname-set=named
            class:reconnecting=move || state.with(|s| s.connection == Connection::Reconnecting)
        >
            <Toolbar chat />
            <NicknameForm chat />
            <ConnectingOverlay chat />
            <div id="messages">
                <OnlineList chat />
                <Lines chat />
            </div>
            <TypingLine chat />
            <Composer chat />
        </main>
    }
}
