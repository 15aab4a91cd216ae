//! The reducer: `apply(state, event, now)` is the only code that changes the page's state. It
//! returns what changed and the side effects to run, as data; it runs none itself.

use chat_shared::limits::{PRESENCE_LINES_MAX, TYPING_EXPIRY};
use chat_shared::protocol::{NicknameAck, Typing};

use super::window::Placed;
use super::{
    Announced, Body, ChatEvent, ChatState, Connection, HistoryKind, Note, Output, Part, Problem, SendStatus,
    SideEffect, Typist,
};
use crate::text::mentions;

/// Applies one event at `now` (ms since the epoch).
pub fn apply(state: &mut ChatState, event: ChatEvent, now: i64) -> Output {
    let mut out = Reducer { state, now, out: Output::default() };
    out.apply(event);
    out.out
}

/// One event being applied: the state, the time, and what it did so far.
struct Reducer<'a> {
    state: &'a mut ChatState,
    now: i64,
    out: Output,
}

impl Reducer<'_> {
    fn changed(&mut self, part: Part) {
        self.out.changed.mark(part);
    }

    /// A claim of `nickname`, as its owner if the browser owns a nickname (the server moves
    /// the ownership to a new one), else asking to own it.
    fn claim_of(&self, nickname: String) -> super::Claim {
        let owner_secret = self.state.me.owner.as_ref().map(|o| o.secret.clone());
        super::Claim { nickname, owner_secret }
    }

    fn effect(&mut self, effect: SideEffect) {
        self.out.effects.push(effect);
    }

    fn note(&mut self, note: Note) {
        self.state.window.push(self.now, Body::System(note), None);
        self.lines_changed();
    }

    /// Lines were added or removed: keep the window within its maximum.
    fn lines_changed(&mut self) {
        self.state.window.trim();
        self.changed(Part::Lines);
    }

    fn stop_typing(&mut self, nick: &str) {
        let before = self.state.typists.len();
        self.state.typists.retain(|t| t.nickname != nick);
        if self.state.typists.len() != before {
            self.changed(Part::Typists);
        }
    }

    fn clear_typists(&mut self) {
        if !self.state.typists.is_empty() {
            self.state.typists.clear();
            self.changed(Part::Typists);
        }
    }

    fn status(&mut self, key: &str, status: SendStatus) {
        if let Some(line) = self.state.window.mine_mut(key) {
            line.status = Some(status);
            let line_key = line.key;
            self.out.changed.statuses.push(line_key);
            self.effect(SideEffect::SaveOutbox);
        }
    }

    /// Asks for the lines after the last one held (resume, scrolling down), unless asked already.
    fn fetch_newer(&mut self) {
        let window = &mut self.state.window;
        match window.last_id() {
            Some(last) if !window.loading_newer => {
                window.loading_newer = true;
                self.effect(SideEffect::FetchHistory(HistoryKind::After(last)));
            }
            Some(_) => {}
            None => self.effect(SideEffect::FetchHistory(HistoryKind::Newest)),
        }
    }

    /// Back to the live end of the conversation: the newest page replaces what is held.
    fn back_to_live(&mut self) {
        if self.state.window.more_after {
            self.state.window.reset_to_live();
            self.changed(Part::Lines);
            self.effect(SideEffect::FetchHistory(HistoryKind::Newest));
        }
    }

    fn apply(&mut self, event: ChatEvent) {
        let now = self.now;
        match event {
            ChatEvent::Connected { reconnected } => {
                if reconnected {
                    self.note(Note::Reconnected);
                }
                let s = &mut *self.state;
                s.connection = Connection::Connected;
                // A fresh connection learns who is online afresh (`online` parts once named).
                s.online.clear();
                s.window.loading_newer = false;
                s.window.loading_older = false;
                self.changed(Part::Connection);
                self.changed(Part::Online);
                self.effect(SideEffect::FetchAbout);
                self.fetch_newer();
                // The page claims its nickname again; it stays shown while that happens.
                let me = &mut self.state.me;
                if let Some(nickname) = me.nickname.clone() {
                    me.reclaiming = true;
                    let effect = match me.resume_token.clone() {
                        Some(token) => SideEffect::Resume(token),
                        None => SideEffect::Claim(self.claim_of(nickname)),
                    };
                    self.changed(Part::Me);
                    self.effect(effect);
                }
            }
            ChatEvent::Reconnecting => {
                if self.state.connection != Connection::Reconnecting {
                    self.note(Note::Reconnecting);
                }
                self.state.connection = Connection::Reconnecting;
                self.changed(Part::Connection);
                self.clear_typists();
            }
            ChatEvent::ConnectionError(e) => self.note(Note::ConnectionError(e)),
            ChatEvent::NicknameRequested(nick) => {
                self.state.me.requested = Some(nick.clone());
                self.state.me.error = None;
                self.changed(Part::Me);
                let claim = self.claim_of(nick);
                self.effect(SideEffect::Claim(claim));
            }
            ChatEvent::ResumeRefused => {
                let me = &mut self.state.me;
                me.resume_token = None;
                if let Some(nickname) = me.nickname.clone() {
                    me.requested = Some(nickname.clone());
                    self.changed(Part::Me);
                    let claim = self.claim_of(nickname);
                    self.effect(SideEffect::Claim(claim));
                }
            }
            ChatEvent::NicknameAnswered(NicknameAck::Accepted) => {
                let me = &mut self.state.me;
                if let Some(nick) = me.requested.take() {
                    me.nickname = Some(nick);
                }
                me.reclaiming = false;
                me.error = None;
                self.changed(Part::Me);
                self.effect(SideEffect::SendOutbox);
            }
            ChatEvent::NicknameAnswered(NicknameAck::Rejected(e)) => {
                let me = &mut self.state.me;
                if me.reclaiming {
                    // Someone took it while we were away: the reader picks a new one.
                    me.nickname = None;
                    me.resume_token = None;
                    me.reclaiming = false;
                    self.effect(SideEffect::SaveSession);
                }
                let me = &mut self.state.me;
                me.requested = None;
                me.error = Some(e);
                self.changed(Part::Me);
            }
            ChatEvent::NicknameFailed(reason) => {
                self.state.me.requested = None;
                self.changed(Part::Me);
                self.note(Note::Failed(reason));
            }
            ChatEvent::Session(grant) => {
                let me = &mut self.state.me;
                if let Some(secret) = grant.owner_secret {
                    me.owner = Some(super::Owner { nickname: grant.nickname.clone(), secret });
                    self.effect(SideEffect::SaveOwner);
                }
                let me = &mut self.state.me;
                me.nickname = Some(grant.nickname);
                me.resume_token = Some(grant.resume_token);
                me.requested = None;
                me.error = None;
                me.reclaiming = false;
                self.changed(Part::Me);
                self.effect(SideEffect::SaveSession);
                self.effect(SideEffect::SendOutbox);
            }
            ChatEvent::Owned(owner) => {
                let me = &mut self.state.me;
                if me.nickname.is_none() {
                    me.nickname = Some(owner.nickname.clone());
                }
                me.owner = Some(owner);
                self.changed(Part::Me);
            }
            ChatEvent::ForgetRequested => self.effect(SideEffect::ForgetMe),
            ChatEvent::About(about) => {
                self.state.about = Some(about);
                self.changed(Part::Connection);
            }
            ChatEvent::Forgotten => {
                self.state.me = super::Me::default();
                self.changed(Part::Me);
                self.effect(SideEffect::SaveSession);
                self.effect(SideEffect::SaveOwner);
                self.clear_typists();
            }
            ChatEvent::SignedOut(signed_out) => {
                // The nickname form says why it is back (the browser still owns the name: the
                // reader may take it back here).
                let owner = self.state.me.owner.take();
                self.state.me = super::Me { error: Some(signed_out.error), owner, ..Default::default() };
                self.changed(Part::Me);
                self.effect(SideEffect::SaveSession);
                self.clear_typists();
            }
            ChatEvent::Nicknames(names) => {
                self.state.online = names.into_iter().collect();
                self.changed(Part::Online);
            }
            ChatEvent::Online(names) => {
                for name in names {
                    self.state.online.insert(name);
                }
                self.changed(Part::Online);
            }
            ChatEvent::Presence(change) => {
                for nick in &change.disconnected {
                    self.state.online.remove(nick);
                    self.stop_typing(nick);
                }
                for nick in &change.connected {
                    self.state.online.insert(nick.clone());
                }
                self.changed(Part::Online);
                for (connected, names) in [(true, change.connected), (false, change.disconnected)] {
                    for announced in announcements(connected, names) {
                        self.announce(announced);
                    }
                }
            }
            ChatEvent::UserMessage { from, text, meta } => {
                self.stop_typing(&from);
                let new = match meta {
                    Some(meta) => {
                        let body = Body::User { from: from.clone(), text: text.clone() };
                        let placed = self.state.window.insert_stored(meta.id, meta.ts, body, true);
                        if placed == Placed::Shown {
                            self.lines_changed();
                        } else if placed == Placed::Outside {
                            self.changed(Part::Lines); // the count of newer lines
                        }
                        placed != Placed::Seen
                    }
                    None => {
                        let body = Body::User { from: from.clone(), text: text.clone() };
                        self.state.window.push(now, body, None);
                        self.lines_changed();
                        true
                    }
                };
                if new && self.state.hidden {
                    self.state.unread += 1;
                    self.changed(Part::Unread);
                    if self.state.me.nickname.as_deref().is_some_and(|me| mentions(&text, me)) {
                        self.effect(SideEffect::Mentioned { from, text });
                    }
                }
            }
            ChatEvent::Announcement(announced) => {
                if let Announced::Disconnected(nick) = &announced {
                    self.stop_typing(nick);
                }
                self.announce(announced);
            }
            // The page shows `general` only: a room's typists are not its business yet.
            ChatEvent::Typing(Typing { room: Some(_), .. }) => {}
            ChatEvent::Typing(Typing { nickname, typing, room: None }) => {
                if typing && self.state.me.nickname.as_deref() != Some(nickname.as_str()) {
                    let until = now + TYPING_EXPIRY.as_millis() as i64;
                    match self.state.typists.iter_mut().find(|t| t.nickname == nickname) {
                        Some(t) => t.until = until,
                        None => {
                            self.state.typists.push(Typist { nickname, until });
                            self.changed(Part::Typists);
                        }
                    }
                } else {
                    self.stop_typing(&nickname);
                }
            }
            ChatEvent::Tick => {
                let before = self.state.typists.len();
                self.state.typists.retain(|t| t.until > now);
                if self.state.typists.len() != before {
                    self.changed(Part::Typists);
                }
            }
            ChatEvent::Hidden(hidden) => {
                self.state.hidden = hidden;
                if !hidden && self.state.unread != 0 {
                    self.state.unread = 0;
                    self.changed(Part::Unread);
                }
            }
            ChatEvent::GoingAway(going) => {
                self.note(Note::GoingAway);
                // The reconnecting that follows is announced by this line already.
                self.state.connection = Connection::Reconnecting;
                self.changed(Part::Connection);
                self.effect(SideEffect::ReconnectWithin(going.retry_after_ms));
            }
            ChatEvent::Outgoing { key, text } => {
                // One's own line shows at the live end, so the window goes back there first.
                self.back_to_live();
                self.state.window.following = true;
                self.state.window.push(now, Body::Mine { text, key }, Some(SendStatus::Pending));
                self.lines_changed();
                self.effect(SideEffect::SaveOutbox);
                self.effect(SideEffect::SendOutbox);
            }
            ChatEvent::Stored { key, meta } => {
                if self.state.window.mark_stored(&key, meta.id) {
                    if let Some(line) = self.state.window.mine_mut(&key) {
                        line.at = meta.ts;
                    }
                    self.status(&key, SendStatus::Stored(meta));
                } else {
                    // Already shown (history got there first): the copy went.
                    self.lines_changed();
                    self.effect(SideEffect::SaveOutbox);
                }
            }
            ChatEvent::SendFailed { key, reason } => self.status(&key, SendStatus::Failed(reason)),
            ChatEvent::Retry { key } => {
                self.status(&key, SendStatus::Pending);
                self.effect(SideEffect::SendOutbox);
            }
            ChatEvent::History { page, kind } => self.history(page, kind),
            ChatEvent::HistoryFailed(kind) => self.history_done(kind),
            ChatEvent::ScrolledToTop => {
                let window = &mut self.state.window;
                window.following = false;
                if let Some(first) = window.first_id()
                    && window.more_before
                    && !window.loading_older
                {
                    window.loading_older = true;
                    self.effect(SideEffect::FetchHistory(HistoryKind::Older(first)));
                }
            }
            ChatEvent::Following(following) => {
                self.state.window.following = following;
                if following && self.state.window.more_after {
                    self.fetch_newer();
                }
            }
            ChatEvent::JumpToNewest => {
                self.state.window.following = true;
                self.back_to_live();
            }
            ChatEvent::ServerRefused(e) => self.note(Note::Failed(Problem::Refused(e.error.code))),
        }
    }

    /// Someone came or went: a line, unless the window is away from the live end.
    fn announce(&mut self, announced: Announced) {
        if !self.state.window.more_after {
            self.state.window.push(self.now, Body::Announcement(announced), None);
            self.lines_changed();
        }
    }

    fn history_done(&mut self, kind: HistoryKind) {
        match kind {
            HistoryKind::Older(_) => self.state.window.loading_older = false,
            HistoryKind::After(_) => self.state.window.loading_newer = false,
            HistoryKind::Newest => {}
        }
    }

    fn history(&mut self, page: chat_shared::protocol::HistoryPage, kind: HistoryKind) {
        self.history_done(kind);
        let window = &mut self.state.window;
        match kind {
            HistoryKind::Newest | HistoryKind::Older(_) => window.more_before = page.more,
            HistoryKind::After(_) if !page.more => {
                window.more_after = false;
                window.newer = 0;
            }
            HistoryKind::After(_) => {}
        }
        if page.gap {
            self.note(Note::Gap);
        }
        for m in page.messages {
            let body = Body::User { from: m.from, text: m.text };
            self.state.window.insert_stored(m.id, m.ts, body, false);
        }
        self.lines_changed();
        // A resume (or scrolling down) goes on while there is more, unless the window filled
        // up with the reader scrolled up: scrolling down asks for the rest.
        if matches!(kind, HistoryKind::After(_)) && page.more {
            self.state.window.more_after = true;
            if self.state.window.following {
                self.fetch_newer();
            }
        }
    }
}

/// The lines for people who came (`connected`) or went: one each for a few, else one for all.
fn announcements(connected: bool, mut names: Vec<String>) -> Vec<Announced> {
    if names.len() > PRESENCE_LINES_MAX {
        let others = names.len() - PRESENCE_LINES_MAX;
        names.truncate(PRESENCE_LINES_MAX);
        return vec![Announced::Several { connected, names, others }];
    }
    names
        .into_iter()
        .map(|n| if connected { Announced::Connected(n) } else { Announced::Disconnected(n) })
        .collect()
}
