//! The chat service that components receive: it owns the socket and the page's state. Views
//! read the part of the state they show (`chat.read(Part::…, |state| …)`) and send intents
//! (claim a nickname, send a line, scroll…). Every change goes through [`Chat::dispatch`]: the
//! reducer (`state::apply`) changes the state and returns what changed and which side effects
//! to run; `dispatch` wakes the views of the changed parts and runs the effects (claims, the
//! outbox pump — each line by its channel's event —, history, rooms and conversations, the
//! address bar, the tab's and the browser's storage, notifications). Also here: the typing
//! notices this page sends (to the channel typed in), the address bar's and the keyboard's
//! channel switches, the polling of who is in the open room, and the page's language, clock and
//! notification opt-in.

use std::collections::HashMap;
use std::time::Duration;

use chat_shared::limits::{TYPING_IDLE, TYPING_REFRESH};
use chat_shared::moderation::{Action, Done, Filed, ModerationLog, Roles};
use chat_shared::protocol::{
    About, Answer, ChatErrorEvent, ClientEvent, Conversation, Forgotten, HistoryPage, HistoryRequest,
    MessageMeta, NicknameAck, RoomInfo, ServerEvent, SessionGrant,
};
use chat_shared::{ChatError, ErrorCode, MessageText, Nickname};
use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::browser::{self, notify, prefs};
use crate::i18n::{Lang, Texts};
use crate::socket::{Socket, SocketError, Status};
use crate::state::{
    ChannelId, ChatEvent, ChatState, Claim, Connection, HistoryKind, Owner, Part, Problem, SideEffect, apply,
    decode, now_ms,
};
use crate::storage;

/// Where the chosen language and the notification opt-in are kept (localStorage).
const LANG_PREF: &str = "chat.lang";
const NOTIFY_PREF: &str = "chat.notify";
/// How often the page asks who is in the open room again (`room presence` keeps it up to date
/// between: this mends what a notice lost in a race between two instances got wrong).
const ROOM_PEOPLE_EVERY_MS: u32 = 60_000;
/// How often the page asks who moderates (roles change from the operator's command line too).
const ROLES_EVERY_MS: u32 = 15_000;
/// How often the clock for "5 minutes ago" moves (a label changes once a minute at most).
const CLOCK_EVERY_MS: u32 = 20_000;

/// What this page told the others about its typing.
#[derive(Default)]
struct TypingNotices {
    /// When `typing: true` was last sent (None: the others think we are not typing)...
    sent_at: Option<i64>,
    /// ...and the arguments that say where (the stop goes there, whatever is open by then).
    sent_in: Option<Vec<Value>>,
    /// Keystrokes so far: the idle timer checks that none came after it started.
    keystrokes: u64,
}

/// The status triggers of the own lines' rows, by line key (a row rendered anew, e.g. when its
/// grouping changes, takes the place of the old one; `rows` tells them apart).
#[derive(Default)]
struct StatusTriggers {
    triggers: HashMap<u64, (u64, Trigger)>,
    rows: u64,
}

/// The handle components get (cheap to copy).
#[derive(Clone, Copy)]
pub struct Chat {
    state: StoredValue<ChatState>,
    /// One trigger per part of the state: a view that read a part re-renders when it changes.
    parts: [Trigger; Part::COUNT],
    statuses: StoredValue<StatusTriggers>,
    pub lang: RwSignal<Lang>,
    /// The time (ms), moved every [`CLOCK_EVERY_MS`], for "5 minutes ago" and "Today".
    pub clock: RwSignal<i64>,
    /// Notify of lines that mention the reader (opted in, and the browser allows it).
    pub notify: RwSignal<bool>,
    socket: StoredValue<Socket, LocalStorage>,
    /// The outbox is being sent (one line at a time, in order).
    pumping: StoredValue<bool>,
    typing: StoredValue<TypingNotices>,
}

impl Chat {
    /// Reads `part` of the state (the caller re-runs when that part changes).
    pub fn read<R>(&self, part: Part, f: impl FnOnce(&ChatState) -> R) -> R {
        self.track(part);
        self.state.with_value(f)
    }

    /// The caller re-runs when `part` changes (what it reads of it, it reads by another part).
    pub fn track(&self, part: Part) {
        self.parts[part as usize].track();
    }

    /// Reads the state without subscribing to it.
    pub fn peek<R>(&self, f: impl FnOnce(&ChatState) -> R) -> R {
        self.state.with_value(f)
    }

    /// A trigger that fires when the own line `line_key`'s status changes (for its row; it is
    /// forgotten when the row goes, unless a newer row of the same line took its place).
    pub fn status_of(&self, line_key: u64) -> Trigger {
        let trigger = Trigger::new();
        let row = self.statuses.try_update_value(|m| {
            m.rows += 1;
            m.triggers.insert(line_key, (m.rows, trigger));
            m.rows
        });
        let statuses = self.statuses;
        on_cleanup(move || {
            statuses.update_value(|m| {
                if m.triggers.get(&line_key).map(|(r, _)| Some(*r)) == Some(row) {
                    m.triggers.remove(&line_key);
                }
            })
        });
        trigger
    }

    /// The page's words in its current language (reactive).
    pub fn t(&self) -> &'static Texts {
        self.lang.get().texts()
    }

    /// The one way the state changes: applies `event`, wakes the views of what changed, and
    /// runs the side effects it asked for.
    fn dispatch(&self, event: ChatEvent) {
        let Some(out) = self.state.try_update_value(|s| apply(s, event, now_ms())) else { return };
        for part in out.changed.parts() {
            self.parts[part as usize].notify();
        }
        for key in &out.changed.statuses {
            if let Some((_, trigger)) = self.statuses.with_value(|m| m.triggers.get(key).copied()) {
                trigger.notify();
            }
        }
        for effect in out.effects {
            self.run(effect);
        }
    }

    fn run(&self, effect: SideEffect) {
        match effect {
            SideEffect::Claim(claim) => self.claim(claim),
            SideEffect::ForgetMe => self.forget_me(),
            SideEffect::FetchAbout => self.fetch_about(),
            SideEffect::SaveOwner => {
                let owner = self.peek(|s| s.me.owner.clone());
                storage::set_owner(
                    owner.map(|o| storage::Owner { nickname: o.nickname, owner_secret: o.secret }).as_ref(),
                );
            }
            SideEffect::Resume(token) => self.resume(token),
            SideEffect::SendOutbox => self.pump(),
            SideEffect::SaveSession => {
                let session = self.peek(|s| s.me.nickname.clone().zip(s.me.resume_token.clone()));
                storage::set_session(
                    session.map(|(nickname, resume_token)| storage::Session { nickname, resume_token }),
                );
            }
            SideEffect::SaveOutbox => {
                let outbox = self.peek(|s| s.outbox());
                let queued: Vec<_> = outbox
                    .into_iter()
                    .map(|o| storage::Queued {
                        key: o.key,
                        text: o.text,
                        channel: (o.channel != ChannelId::General).then(|| o.channel.fragment()),
                    })
                    .collect();
                storage::set_outbox(&queued);
            }
            SideEffect::FetchHistory(channel, kind) => self.fetch_history(channel, kind),
            SideEffect::FetchRooms => self.fetch_rooms(),
            SideEffect::FetchConversations => self.fetch_conversations(),
            SideEffect::JoinRoom(name) => self.enter_room(name, false),
            SideEffect::FetchRoomPeople(room) => self.fetch_room_people(room),
            SideEffect::FetchRoles => self.fetch_roles(),

            SideEffect::CountUnread(channel, after) => self.count_unread(channel, after),
            SideEffect::ShowChannel(channel) => {
                // The typist stops where it typed (the channel may have changed without a click).
                self.stopped_typing(true);
                // A link or the reader's click changed the address already; a switch the page
                // makes (the keyboard, a join, a leave) replaces it, so that Back does not undo
                // a leave.
                let fragment = channel.fragment();
                let location = window().location();
                if location.hash().unwrap_or_default() != fragment {
                    let _ = location.replace(&fragment);
                }
            }
            SideEffect::SaveRead => {
                // Another tab may have read further: the highest mark of each wins.
                let mut marks = storage::read_marks();
                self.peek(|s| {
                    for (channel, id) in s.read.iter() {
                        let fragment = channel.fragment();
                        match marks.iter_mut().find(|(f, _)| *f == fragment) {
                            Some((_, mark)) => *mark = (*mark).max(*id),
                            None => marks.push((fragment, *id)),
                        }
                    }
                });
                storage::set_read_marks(&marks);
            }
            SideEffect::DirectArrived { from, text } => {
                if self.notify.get_untracked() && notify::granted() {
                    let t = self.lang.get_untracked().texts();
                    notify::show(&t.direct_from.replace("{nick}", &from), &text);
                }
            }
            SideEffect::Mentioned { from, text } => {
                if self.notify.get_untracked() && notify::granted() {
                    let t = self.lang.get_untracked().texts();
                    notify::show(&t.mentioned_you.replace("{nick}", &from), &text);
                }
            }
            SideEffect::ClaimLater(claim, ms) => {
                let chat = *self;
                Timeout::new(u32::try_from(ms).unwrap_or(u32::MAX), move || {
                    if chat.peek(|s| s.me.reclaiming) {
                        chat.claim(claim);
                    }
                })
                .forget();
            }
            SideEffect::ReconnectWithin(ms) => {
                self.socket.with_value(|s| s.reconnect_within(Duration::from_millis(ms)))
            }
        }
    }

    /// A keystroke in the message field: tell the others we are typing (at most once per
    /// [`TYPING_REFRESH`]), and that we stopped after [`TYPING_IDLE`] without one.
    pub fn typed(&self) {
        if !self.peek(ChatState::can_send) {
            return;
        }
        let now = now_ms();
        let stale = self
            .typing
            .with_value(|t| t.sent_at.is_none_or(|at| now - at >= TYPING_REFRESH.as_millis() as i64));
        let Some(args) = self.typing_args(true) else { return };
        if stale && self.socket.with_value(|s| s.emit(ClientEvent::Typing, args.clone())).is_ok() {
            self.typing.update_value(|t| {
                t.sent_at = Some(now);
                t.sent_in = Some(args);
            });
        }
        let keystroke = self.typing.try_update_value(|t| {
            t.keystrokes += 1;
            t.keystrokes
        });
        let chat = *self;
        Timeout::new(TYPING_IDLE.as_millis() as u32, move || {
            if chat.typing.with_value(|t| Some(t.keystrokes) == keystroke) {
                chat.stopped_typing(true);
            }
        })
        .forget();
    }

    /// We no longer type; `tell`: say so (not needed when a line was sent: it says so itself).
    fn stopped_typing(&self, tell: bool) {
        let sent = self.typing.try_update_value(|t| t.sent_at.take().and(t.sent_in.take())).flatten();
        if let Some(mut args) = sent.filter(|_| tell) {
            if let Some(first) = args.first_mut() {
                *first = Value::Bool(false);
            }
            let _ = self.socket.with_value(|s| s.emit(ClientEvent::Typing, args));
        }
    }

    /// The arguments of a typing notice in the open channel (None in a direct conversation:
    /// typing is not relayed there).
    fn typing_args(&self, typing: bool) -> Option<Vec<Value>> {
        match self.peek(|s| s.current.clone()) {
            ChannelId::General => Some(vec![Value::Bool(typing)]),
            ChannelId::Room(room) => Some(vec![Value::Bool(typing), json!({ "room": room })]),
            ChannelId::Direct(_) => None,
        }
    }

    /// Opens a channel (the side list, a name's button, a link).
    pub fn open(&self, channel: ChannelId) {
        self.stopped_typing(true);
        self.dispatch(ChatEvent::Open(channel));
    }

    /// Opens the next (`1`) or previous (`-1`) channel of the side list.
    pub fn step(&self, step: i8) {
        self.stopped_typing(true);
        self.dispatch(ChatEvent::Step(step));
    }

    /// Joins the room `raw` names, or creates it (checked here first, as the server checks).
    pub fn join_room(&self, raw: &str) {
        match chat_shared::RoomName::parse(raw) {
            Ok(name) if name.is_general() => self.open(ChannelId::General),
            Ok(name) => self.enter_room(name.to_string(), true),
            Err(e) => self.dispatch(ChatEvent::RoomRefused(e)),
        }
    }

    /// Leaves the open room.
    pub fn leave_room(&self) {
        if let ChannelId::Room(name) = self.peek(|s| s.current.clone()) {
            self.exit_room(name);
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
        self.dispatch(match Nickname::parse(raw) {
            Ok(nick) => ChatEvent::NicknameRequested(nick.to_string()),
            Err(e) => ChatEvent::NicknameAnswered(NicknameAck::Rejected(e)),
        });
    }

    /// Queues a line: it shows at once (pending) and is sent as soon as possible.
    pub fn send_message(&self, text: MessageText) {
        self.stopped_typing(false);
        let channel = self.peek(|s| s.current.clone());
        self.dispatch(ChatEvent::Outgoing { key: new_key(), text: text.to_string(), channel });
    }

    pub fn retry(&self, key: String) {
        self.dispatch(ChatEvent::Retry { key });
    }

    /// The reader reached the top of the lines (or asked for older ones).
    pub fn load_older(&self) {
        self.dispatch(ChatEvent::ScrolledToTop);
    }

    /// The reader is at the bottom of the lines (following the newest) or scrolled away.
    pub fn following(&self, at_bottom: bool) {
        if self.peek(|s| s.window.following != at_bottom) {
            self.dispatch(ChatEvent::Following(at_bottom));
        }
    }

    pub fn jump_to_newest(&self) {
        self.dispatch(ChatEvent::JumpToNewest);
    }

    /// Asks what the chat is (for the first screen); no answer leaves what the page had.
    fn fetch_about(&self) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::About, Vec::new()).await;
            if let Ok(Some(Answer(Ok(about)))) = answer.map(|args| Answer::<About>::from_args(&args)) {
                chat.dispatch(ChatEvent::About(about));
            }
        });
    }

    /// The chat's name: the operator's, else the page's word for "Chat".
    pub fn name(&self) -> String {
        self.read(Part::Connection, |s| s.about.as_ref().and_then(|a| a.name.clone()))
            .unwrap_or_else(|| self.t().title.to_owned())
    }

    /// Claims the nickname a key from another device names (checked here first).
    pub fn use_key(&self, key: &str) -> bool {
        match Owner::from_key(key) {
            Some(owner) => {
                self.dispatch(ChatEvent::KeyEntered(owner));
                true
            }
            None => false,
        }
    }

    /// Gives up the nickname and its ownership (the reader confirmed it).
    pub fn forget(&self) {
        self.dispatch(ChatEvent::ForgetRequested);
    }

    fn forget_me(&self) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::ForgetMe, Vec::new()).await;
            chat.dispatch(match answer.map(|args| Answer::<Forgotten>::from_args(&args)) {
                Ok(Some(Answer(Ok(_)))) => ChatEvent::Forgotten,
                Ok(Some(Answer(Err(e)))) => ChatEvent::ServerRefused(ChatErrorEvent {
                    event: ClientEvent::ForgetMe.name().to_owned(),
                    error: e,
                }),
                Ok(None) => ChatEvent::NicknameFailed(Problem::NotUnderstood),
                Err(e) => ChatEvent::NicknameFailed(problem(&e)),
            });
        });
    }

    /// Claims a nickname: as its owner with the browser's secret, or asking to own it.
    fn claim(&self, claim: Claim) {
        let chat = *self;
        let socket = self.socket.get_value();
        let options = match claim.owner_secret {
            Some(secret) => json!({ "owner": secret }),
            None => json!({ "own": true }),
        };
        spawn_local(async move {
            let answer =
                socket.emit_with_ack(ClientEvent::Nickname, vec![Value::from(claim.nickname), options]).await;
            chat.dispatch(match answer.map(|args| NicknameAck::from_args(&args)) {
                Ok(Some(ack)) => ChatEvent::NicknameAnswered(ack),
                Ok(None) => ChatEvent::NicknameFailed(Problem::NotUnderstood),
                Err(e) => ChatEvent::NicknameFailed(problem(&e)),
            });
        });
    }

    /// Takes the nickname back with the resume token; a lost connection tries again on the
    /// next one.
    fn resume(&self, token: String) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::Resume, vec![Value::from(token)]).await;
            match answer.map(|args| Answer::<SessionGrant>::from_args(&args)) {
                Ok(Some(Answer(Ok(grant)))) => chat.dispatch(ChatEvent::Session(grant)),
                Ok(_) | Err(SocketError::Timeout) => chat.dispatch(ChatEvent::ResumeRefused),
                Err(_) => {}
            }
        });
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
                let next = chat.peek(|s| if s.can_send() { s.outbox().into_iter().next() } else { None });
                let Some(line) = next else { break };
                let (event, args) = match line.channel {
                    ChannelId::General => {
                        (ClientEvent::UserMessage, vec![Value::from(line.text), json!({ "key": line.key })])
                    }
                    ChannelId::Room(room) => (
                        ClientEvent::RoomMessage,
                        vec![json!({ "room": room, "text": line.text, "key": line.key })],
                    ),
                    ChannelId::Direct(to) => (
                        ClientEvent::DirectMessage,
                        vec![json!({ "to": to, "text": line.text, "key": line.key })],
                    ),
                };
                let key = line.key;
                let answer = socket.emit_with_ack(event, args).await;
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
                chat.dispatch(event); // (a SendOutbox it asks for finds this pump running)
            }
            chat.pumping.set_value(false);
        });
    }

    /// Asks for a page of `channel`'s history; the answer (or its absence) goes to the reducer.
    fn fetch_history(&self, channel: ChannelId, kind: HistoryKind) {
        let chat = *self;
        let socket = self.socket.get_value();
        let mut request = match kind {
            HistoryKind::Newest => HistoryRequest::default(),
            HistoryKind::After(id) => HistoryRequest { after: Some(id), ..Default::default() },
            HistoryKind::Older(id) => HistoryRequest { before: Some(id), ..Default::default() },
        };
        match &channel {
            ChannelId::General => {}
            ChannelId::Room(room) => request.room = Some(room.clone()),
            ChannelId::Direct(with) => request.with = Some(with.clone()),
        }
        spawn_local(async move {
            let Ok(request) = serde_json::to_value(&request) else { return };
            let answer = socket.emit_with_ack(ClientEvent::History, vec![request]).await;
            chat.dispatch(match answer.map(|args| Answer::<HistoryPage>::from_args(&args)) {
                Ok(Some(Answer(Ok(page)))) => ChatEvent::History { page, kind, channel },
                _ => ChatEvent::HistoryFailed(channel, kind),
            });
        });
    }

    /// Asks for the chat's rooms (with those this connection is in).
    fn fetch_rooms(&self) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::Rooms, Vec::new()).await;
            if let Ok(Some(Answer(Ok(rooms)))) = answer.map(|args| Answer::<Vec<RoomInfo>>::from_args(&args))
            {
                chat.dispatch(ChatEvent::Rooms(rooms));
            }
        });
    }

    /// Asks who moderates what.
    fn fetch_roles(&self) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::Roles, Vec::new()).await;
            if let Ok(Some(Answer(Ok(roles)))) = answer.map(|args| Answer::<Roles>::from_args(&args)) {
                chat.dispatch(ChatEvent::Roles(roles));
            }
        });
    }

    /// Asks for a moderation action (the reader confirmed it, and gave its reason); a refusal
    /// is shown as a line.
    pub fn moderate(&self, action: Action) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let Ok(action) = serde_json::to_value(&action) else { return };
            let answer = socket.emit_with_ack(ClientEvent::Moderate, vec![action]).await;
            let result = answered::<Done>(answer);
            chat.dispatch(ChatEvent::ModerationAnswered { report: false, result: result.map(|_| ()) });
            // What changed shows: the open reports (if they are open), the roles.
            if chat.peek(|s| s.moderation_log.is_some()) {
                chat.open_reports();
            }
            chat.fetch_roles();
        });
    }

    /// Reports the line `id` of the open channel to its moderators, with the reader's reason.
    pub fn report(&self, id: u64, reason: String) {
        let Some(room) = self.peek(|s| s.current.room_name().map(str::to_owned)) else { return };
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let request = json!({ "room": room, "id": id, "reason": reason });
            let answer = socket.emit_with_ack(ClientEvent::Report, vec![request]).await;
            let result = answered::<Filed>(answer);
            chat.dispatch(ChatEvent::ModerationAnswered { report: true, result: result.map(|_| ()) });
        });
    }

    /// Opens (or refreshes) the reports view: the open reports and the recent actions.
    pub fn open_reports(&self) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::ModerationLog, Vec::new()).await;
            match answered::<ModerationLog>(answer) {
                Ok(log) => chat.dispatch(ChatEvent::ModerationLog(log)),
                Err(e) => chat.dispatch(ChatEvent::ModerationAnswered { report: false, result: Err(e) }),
            }
        });
    }

    /// Closes the reports view.
    pub fn close_reports(&self) {
        self.dispatch(ChatEvent::CloseLog);
    }

    /// Asks for this owned nickname's direct conversations (an ephemeral one has none).
    fn fetch_conversations(&self) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::Conversations, Vec::new()).await;
            if let Ok(Some(Answer(Ok(list)))) =
                answer.map(|args| Answer::<Vec<Conversation>>::from_args(&args))
            {
                chat.dispatch(ChatEvent::Conversations(list));
            }
        });
    }

    /// Joins the room `name`; `create`: creates it if there is none (the reader asked to, in
    /// the side list: a link never creates a room in its visitor's name).
    fn enter_room(&self, name: String, create: bool) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let ask = |event, args| {
                let socket = socket.clone();
                async move { answered::<RoomInfo>(socket.emit_with_ack(event, args).await) }
            };
            let mut joined = ask(ClientEvent::JoinRoom, vec![json!({ "room": name })]).await;
            if create && matches!(&joined, Err(e) if e.code == ErrorCode::RoomNotFound) {
                joined = ask(ClientEvent::CreateRoom, vec![json!({ "name": name })]).await;
            }
            chat.dispatch(match joined {
                Ok(info) => ChatEvent::RoomJoined(info),
                Err(e) => ChatEvent::RoomRefused(e),
            });
        });
    }

    /// Asks who is in `room` now.
    fn fetch_room_people(&self, room: String) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::RoomPeople, vec![json!({ "room": room })]).await;
            if let Ok(Some(Answer(Ok(names)))) = answer.map(|args| Answer::<Vec<String>>::from_args(&args)) {
                chat.dispatch(ChatEvent::RoomPeople { room, names });
            }
        });
    }

    fn exit_room(&self, name: String) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            if socket.emit_with_ack(ClientEvent::LeaveRoom, vec![json!({ "room": name })]).await.is_ok() {
                chat.dispatch(ChatEvent::RoomLeft(name));
            }
        });
    }

    /// Counts the lines of a direct conversation after `after` (for its badge on arrival).
    fn count_unread(&self, channel: ChannelId, after: u64) {
        let ChannelId::Direct(with) = &channel else { return };
        let request = HistoryRequest { after: Some(after), with: Some(with.clone()), ..Default::default() };
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let Ok(request) = serde_json::to_value(&request) else { return };
            let answer = socket.emit_with_ack(ClientEvent::History, vec![request]).await;
            if let Ok(Some(Answer(Ok(page)))) = answer.map(|args| Answer::<HistoryPage>::from_args(&args)) {
                let me = chat.peek(|s| s.me.nickname.clone()).unwrap_or_default();
                let count = page.messages.iter().filter(|m| m.from != me).count() as u32;
                chat.dispatch(ChatEvent::Unread { channel, count });
            }
        });
    }
}

/// An ack's `Answer<T>`, or why there is none.
fn answered<T: serde::de::DeserializeOwned>(answer: Result<Vec<Value>, SocketError>) -> Result<T, ChatError> {
    match answer {
        Ok(args) => Answer::<T>::from_args(&args)
            .map(|Answer(a)| a)
            .unwrap_or_else(|| Err(ChatError::new(ErrorCode::BadPayload))),
        Err(_) => Err(ChatError::new(ErrorCode::Unavailable)),
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

/// Starts the service: restores what the tab kept, connects, and keeps the tab in step.
pub fn start() -> Chat {
    let (base, force_polling) = server_base();
    let socket = Socket::connect(base, force_polling);
    let lang = prefs::get(LANG_PREF).and_then(|t| Lang::from_tag(&t));
    let lang = lang.unwrap_or_else(|| Lang::pick(browser::preferred_languages().iter().map(String::as_str)));
    let chat = Chat {
        state: StoredValue::new(ChatState::default()),
        parts: std::array::from_fn(|_| Trigger::new()),
        statuses: StoredValue::new(StatusTriggers::default()),
        lang: RwSignal::new(lang),
        clock: RwSignal::new(now_ms()),
        notify: RwSignal::new(prefs::get(NOTIFY_PREF).as_deref() == Some("on") && notify::granted()),
        socket: StoredValue::new_local(socket.clone()),
        pumping: StoredValue::new(false),
        typing: StoredValue::new(TypingNotices::default()),
    };
    // What the tab kept from before a reload: the nickname to take back, and the outbox.
    if let Some(saved) = storage::session() {
        chat.dispatch(ChatEvent::Session(SessionGrant {
            nickname: saved.nickname,
            resume_token: saved.resume_token,
            owner_secret: None,
        }));
    }
    // ...and what the browser kept from its last visit: the nickname it owns.
    if let Some(owner) = storage::owner() {
        chat.dispatch(ChatEvent::Owned(Owner { nickname: owner.nickname, secret: owner.owner_secret }));
    }
    let marks = storage::read_marks()
        .into_iter()
        .filter_map(|(fragment, id)| Some((ChannelId::from_fragment(&fragment)?, id)))
        .collect();
    chat.dispatch(ChatEvent::ReadMarks(marks));
    for q in storage::outbox() {
        let channel = q.channel.as_deref().and_then(ChannelId::from_fragment).unwrap_or_default();
        chat.dispatch(ChatEvent::Outgoing { key: q.key, text: q.text, channel });
    }
    // A link to a room or a conversation opens it.
    if let Some(channel) = window().location().hash().ok().as_deref().and_then(ChannelId::from_fragment) {
        chat.dispatch(ChatEvent::Open(channel));
    }
    for event in ServerEvent::ALL {
        socket.on(event, move |args| {
            if let Some(e) = decode(event, args) {
                chat.dispatch(e);
            }
        });
    }
    socket.on_status(move |status| match status {
        Status::Connecting => {}
        Status::Connected { reconnected, .. } => chat.dispatch(ChatEvent::Connected { reconnected }),
        Status::Reconnecting { .. } => {
            chat.typing.update_value(|t| t.sent_at = None); // the new connection starts not typing
            if chat.peek(|s| s.connection != Connection::Connecting) {
                chat.dispatch(ChatEvent::Reconnecting);
            }
        }
        Status::Error(e) => chat.dispatch(ChatEvent::ConnectionError(e)),
    });
    watch_the_tab(chat);
    chat
}

/// Keeps the tab in step with the page: the title (with the unread count), `<html lang>`, the
/// visibility, and the clocks (typists that went quiet; "5 minutes ago").
fn watch_the_tab(chat: Chat) {
    Effect::new(move || {
        let unread = chat.read(Part::Unread, |s| s.unread);
        document().set_title(&chat.t().title_with_unread(&chat.name(), unread));
    });
    Effect::new(move || {
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("lang", chat.lang.get().tag());
        }
    });
    let on_visibility =
        Closure::<dyn Fn()>::new(move || chat.dispatch(ChatEvent::Hidden(browser::tab_hidden())));
    let _ = document()
        .add_event_listener_with_callback("visibilitychange", on_visibility.as_ref().unchecked_ref());
    on_visibility.forget(); // lives as long as the page
    let on_hash = Closure::<dyn Fn()>::new(move || {
        if let Some(channel) = window().location().hash().ok().as_deref().and_then(ChannelId::from_fragment) {
            chat.open(channel);
        }
    });
    let _ = window().add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    on_hash.forget();
    // Alt+↑ / Alt+↓ switch channels from anywhere on the page.
    let on_key = Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(move |ev: web_sys::KeyboardEvent| {
        // (Not in a list box, where Alt+↓ opens it.)
        let in_select = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok()).is_some();
        if ev.alt_key() && !ev.ctrl_key() && !ev.meta_key() && !in_select {
            let step = match ev.key().as_str() {
                "ArrowDown" => 1,
                "ArrowUp" => -1,
                _ => return,
            };
            ev.prevent_default();
            chat.step(step);
        }
    });
    let _ = document().add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref());
    on_key.forget();
    chat.dispatch(ChatEvent::Hidden(browser::tab_hidden()));
    Interval::new(1_000, move || {
        if chat.peek(|s| !s.typists.is_empty()) {
            chat.dispatch(ChatEvent::Tick);
        }
    })
    .forget();
    Interval::new(CLOCK_EVERY_MS, move || chat.clock.set(now_ms())).forget();
    Interval::new(ROOM_PEOPLE_EVERY_MS, move || {
        if let ChannelId::Room(room) = chat.peek(|s| s.current.clone()) {
            chat.fetch_room_people(room);
        }
    })
    .forget();
    Interval::new(ROLES_EVERY_MS, move || {
        if chat.peek(|s| s.me.nickname.is_some()) {
            chat.fetch_roles();
        }
    })
    .forget();
}
