//! The reducer: `apply(state, event, now)` is the only code that changes the page's state. It
//! returns what changed and the side effects to run, as data; it runs none itself.

use chat_shared::ErrorCode;
use chat_shared::limits::{PRESENCE_LINES_MAX, TYPING_EXPIRY};
use chat_shared::moderation::RoomRules;
use chat_shared::protocol::{MessageMeta, NicknameAck, RoomInfo, RoomPresence, Typing};

use super::window::{Placed, Window};
use super::{
    Announced, Body, ChannelId, ChatEvent, ChatState, Connection, HistoryKind, Note, Output, Part, Problem,
    RulesChange, SendStatus, SideEffect, Typist,
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
        } else {
            let parked = self.state.parked.values_mut().find_map(|w| w.mine_mut(key));
            let found = parked.map(|line| line.status = Some(status)).is_some();
            if found {
                self.effect(SideEffect::SaveOutbox);
            }
        }
    }

    /// The window holding the own line `key`: the open channel's (true) or a parked one's.
    fn window_with_mine(&mut self, key: &str) -> Option<(&mut Window, bool)> {
        if self.state.window.mine_mut(key).is_some() {
            return Some((&mut self.state.window, true));
        }
        self.state
            .parked
            .values_mut()
            .find(|w| w.lines().any(|l| matches!(&*l.body, Body::Mine { key: k, .. } if k == key)))
            .map(|w| (w, false))
    }

    /// Asks for the lines after the last one held (resume, scrolling down), unless asked already.
    fn fetch_newer(&mut self) {
        let channel = self.state.current.clone();
        let window = &mut self.state.window;
        match window.last_id() {
            Some(last) if !window.loading_newer => {
                window.loading_newer = true;
                self.effect(SideEffect::FetchHistory(channel, HistoryKind::After(last)));
            }
            Some(_) => {}
            None => self.effect(SideEffect::FetchHistory(channel, HistoryKind::Newest)),
        }
    }

    /// Back to the live end of the conversation: the newest page replaces what is held.
    fn back_to_live(&mut self) {
        if self.state.window.more_after {
            self.state.window.reset_to_live();
            self.changed(Part::Lines);
            self.effect(SideEffect::FetchHistory(self.state.current.clone(), HistoryKind::Newest));
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
                self.state.me.removed = None;
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
            ChatEvent::NicknameAnswered(NicknameAck::Rejected(e))
                if self.state.me.reclaiming && e.code == ErrorCode::RateLimited =>
            {
                // Not taken, only too many claims from this address just now: the name stays
                // shown and is asked for again when the server says.
                if let Some(nickname) = self.state.me.nickname.clone() {
                    let wait_ms = e.limit.unwrap_or(1).max(1).saturating_mul(1000);
                    let claim = self.claim_of(nickname);
                    self.effect(SideEffect::ClaimLater(claim, wait_ms));
                }
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
                // Its rooms (an owner's come back by themselves) and direct conversations.
                self.effect(SideEffect::FetchRooms);
                self.effect(SideEffect::FetchConversations);
                self.effect(SideEffect::FetchRoles);
            }
            ChatEvent::ReadMarks(marks) => self.state.read = marks,
            ChatEvent::Owned(owner) => {
                let me = &mut self.state.me;
                if me.nickname.is_none() {
                    me.nickname = Some(owner.nickname.clone());
                }
                me.owner = Some(owner);
                self.changed(Part::Me);
            }
            ChatEvent::KeyEntered(owner) => {
                // Kept once the server grants it (its grant carries the secret back).
                self.state.me.requested = Some(owner.nickname.clone());
                self.state.me.error = None;
                self.changed(Part::Me);
                let claim = super::Claim { nickname: owner.nickname, owner_secret: Some(owner.secret) };
                self.effect(SideEffect::Claim(claim));
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
                // Its direct conversations were the ownership's.
                self.state.directs.clear();
                self.state.badges.retain(|c, _| !matches!(c, ChannelId::Direct(_)));
                self.changed(Part::Channels);
                if matches!(self.state.current, ChannelId::Direct(_)) {
                    self.open(ChannelId::General);
                }
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
            ChatEvent::UserMessage { from, text, meta } => self.arrived(ChannelId::General, from, text, meta),
            ChatEvent::RoomLine(line) => {
                let meta = MessageMeta { id: line.id, ts: line.ts };
                self.arrived(ChannelId::Room(line.room), line.from, line.text, Some(meta));
            }
            ChatEvent::DirectLine(line) => {
                let channel = self.direct_channel(&line.from);
                if let ChannelId::Direct(name) = &channel {
                    let name = name.clone();
                    self.listed_direct(&name);
                }
                let meta = MessageMeta { id: line.id, ts: line.ts };
                self.arrived(channel, line.from, line.text, Some(meta));
            }
            ChatEvent::Announcement(announced) => {
                if let Announced::Disconnected(nick) = &announced {
                    self.stop_typing(nick);
                }
                self.announce(announced);
            }
            ChatEvent::Typing(Typing { nickname, typing, room }) => {
                // Only the open channel's typists show.
                let channel = room.map_or(ChannelId::General, |r| match r.as_str() {
                    chat_shared::room::GENERAL => ChannelId::General,
                    _ => ChannelId::Room(r),
                });
                if channel != self.state.current {
                    return;
                }
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
                // Shown again: what the open conversation holds is read now.
                if let Some(last) = self.state.window.last_id().filter(|_| !hidden) {
                    self.read_up_to(last);
                }
            }
            ChatEvent::GoingAway(going) => {
                self.note(Note::GoingAway);
                // The reconnecting that follows is announced by this line already.
                self.state.connection = Connection::Reconnecting;
                self.changed(Part::Connection);
                self.effect(SideEffect::ReconnectWithin(going.retry_after_ms));
            }
            ChatEvent::Outgoing { key, text, channel } if channel != self.state.current => {
                // Brought back from the tab's outbox for a channel not open: it waits there.
                let window = self.state.parked.or_default(channel);
                window.push(now, Body::Mine { text, key }, Some(SendStatus::Pending));
                self.effect(SideEffect::SaveOutbox);
                self.effect(SideEffect::SendOutbox);
            }
            ChatEvent::Outgoing { key, text, channel: _ } => {
                // One's own line shows at the live end, so the window goes back there first.
                self.back_to_live();
                self.state.window.following = true;
                self.state.window.push(now, Body::Mine { text, key }, Some(SendStatus::Pending));
                self.lines_changed();
                self.effect(SideEffect::SaveOutbox);
                self.effect(SideEffect::SendOutbox);
            }
            ChatEvent::Stored { key, meta } => {
                let Some((window, open)) = self.window_with_mine(&key) else { return };
                if window.mark_stored(&key, meta.id) {
                    if let Some(line) = window.mine_mut(&key) {
                        line.at = meta.ts;
                    }
                    self.status(&key, SendStatus::Stored(meta));
                    if open {
                        self.read_up_to(meta.id);
                    }
                } else {
                    // Already shown (history got there first): the copy went.
                    if open {
                        self.lines_changed();
                    }
                    self.effect(SideEffect::SaveOutbox);
                }
            }
            ChatEvent::SendFailed { key, reason } => self.status(&key, SendStatus::Failed(reason)),
            ChatEvent::Retry { key } => {
                self.status(&key, SendStatus::Pending);
                self.effect(SideEffect::SendOutbox);
            }
            ChatEvent::History { page, kind, channel } if channel == self.state.current => {
                // A page after or before a line is for the window that still has that line at
                // that end: one for an earlier window of this channel (opened, left and opened
                // again meanwhile) would leave a hole in this one.
                let window = &self.state.window;
                let asked = match kind {
                    HistoryKind::Newest => true,
                    HistoryKind::After(id) => window.holds(id),
                    HistoryKind::Older(id) => window.first_id() == Some(id),
                };
                if asked {
                    self.history(page, kind);
                } else {
                    self.history_done(kind);
                }
            }
            ChatEvent::HistoryFailed(channel, kind) if channel == self.state.current => {
                self.history_done(kind)
            }
            // For a channel no longer open: its window asks again when it is opened.
            ChatEvent::History { channel, kind, .. } | ChatEvent::HistoryFailed(channel, kind) => {
                if let Some(window) = self.state.parked.get_mut(&channel) {
                    done_loading(window, kind);
                }
            }
            ChatEvent::Open(ChannelId::Direct(nick)) => {
                let channel = self.direct_channel(&nick);
                self.open(channel);
            }
            ChatEvent::Open(channel) => self.open(channel),
            ChatEvent::Step(step) => {
                let channels = self.state.channels();
                let at = channels.iter().position(|c| *c == self.state.current).unwrap_or(0) as isize;
                let next = (at + step as isize).rem_euclid(channels.len().max(1) as isize) as usize;
                if let Some(channel) = channels.get(next).cloned() {
                    self.open(channel);
                }
            }
            ChatEvent::Rooms(rooms) => {
                self.state.rooms = rooms;
                let listed = self.state.channels();
                self.state.badges.retain(|c, _| listed.contains(c));
                self.changed(Part::Channels);
                self.enter_current_room();
            }
            ChatEvent::RoomJoined(info) => {
                let name = info.name.clone();
                match self.state.rooms.iter_mut().find(|r| r.name == name) {
                    Some(room) => *room = RoomInfo { joined: true, ..info },
                    None => self.state.rooms.push(RoomInfo { joined: true, ..info }),
                }
                self.state.rooms.sort_by(|a, b| {
                    (a.name != chat_shared::room::GENERAL, &a.name)
                        .cmp(&(b.name != chat_shared::room::GENERAL, &b.name))
                });
                self.state.room_error = None;
                self.changed(Part::Channels);
                let channel = ChannelId::Room(name.clone());
                if self.state.current == channel {
                    self.fetch_newer();
                    self.effect(SideEffect::FetchRoomPeople(name));
                } else {
                    self.open(channel);
                }
            }
            ChatEvent::LineDeleted(gone) => {
                let channel = ChannelId::of_room(&gone.room);
                if channel == self.state.current {
                    if self.state.window.remove(gone.id) {
                        self.changed(Part::Lines);
                    }
                } else if let Some(window) = self.state.parked.get_mut(&channel) {
                    window.remove(gone.id);
                }
            }
            ChatEvent::Moderated(what) => {
                use chat_shared::moderation::Sanction;
                if matches!(what.sanction, Sanction::Kicked | Sanction::Banned) {
                    // Out, and not back by itself (a reconnect would resume at once): the form
                    // says why; the reader may join again (a banned name is refused).
                    let owner = self.state.me.owner.take();
                    self.state.me = super::Me { removed: Some(what.clone()), owner, ..Default::default() };
                    self.changed(Part::Me);
                    self.effect(SideEffect::SaveSession);
                    self.clear_typists();
                }
                self.note(Note::Moderated(what));
            }
            ChatEvent::RoomRules(rules) => {
                if let Some(room) = self.state.rooms.iter_mut().find(|r| r.name == rules.room) {
                    room.topic = rules.topic.clone();
                    self.changed(Part::Channels);
                }
                let known = &mut self.state.roles.rules;
                let before = known.iter().position(|r| r.room == rules.room).map(|i| known.remove(i));
                known.push(rules.clone());
                // The room settings' menu shows the rules as they are now.
                self.changed(Part::Online);
                let before =
                    before.unwrap_or_else(|| RoomRules { room: rules.room.clone(), ..Default::default() });
                let change = if rules.locked && !before.locked {
                    Some(RulesChange::Locked)
                } else if rules.slow_secs != before.slow_secs && rules.slow_secs > 0 && !rules.locked {
                    Some(RulesChange::Slow(rules.slow_secs))
                } else if (before.locked || before.slow_secs > 0) && !rules.locked && rules.slow_secs == 0 {
                    Some(RulesChange::Open)
                } else if rules.topic != before.topic {
                    Some(RulesChange::Topic(rules.topic.clone()))
                } else {
                    None
                };
                if let Some(change) = change.filter(|_| ChannelId::of_room(&rules.room) == self.state.current)
                {
                    self.note(Note::Rules { room: rules.room, change });
                }
            }
            ChatEvent::Roles(roles) => {
                if self.state.roles != roles {
                    self.state.roles = roles;
                    self.changed(Part::Online);
                    self.changed(Part::Lines);
                }
            }
            ChatEvent::ModerationLog(log) => {
                self.state.moderation_log = Some(log);
                self.changed(Part::Me);
            }
            ChatEvent::CloseLog => {
                self.state.moderation_log = None;
                self.changed(Part::Me);
            }
            ChatEvent::ModerationAnswered { report, result } => match result {
                Ok(()) if report => self.note(Note::Reported),
                Ok(()) => {}
                Err(e) => self.note(Note::Failed(super::Problem::Refused(e.code))),
            },
            ChatEvent::RoomLeft(name) => {
                if let Some(room) = self.state.rooms.iter_mut().find(|r| r.name == name) {
                    room.joined = false;
                }
                let channel = ChannelId::Room(name);
                self.state.badges.remove(&channel);
                self.state.parked.remove(&channel);
                self.changed(Part::Channels);
                if self.state.current == channel {
                    self.open(ChannelId::General);
                }
            }
            ChatEvent::RoomRefused(error) => {
                self.state.room_error = Some(error);
                self.changed(Part::Channels);
                // A room that cannot be entered is not shown.
                if let ChannelId::Room(name) = &self.state.current
                    && !self.state.rooms.iter().any(|r| &r.name == name && r.joined)
                {
                    self.open(ChannelId::General);
                }
            }
            ChatEvent::Conversations(conversations) => {
                let mut directs: Vec<String> = conversations.iter().map(|c| c.with.clone()).collect();
                // A conversation opened by a link before the list came takes the server's
                // spelling of the name (one conversation, one badge, one read mark).
                if let ChannelId::Direct(open) = self.state.current.clone() {
                    let listed = same_name(&directs, &open).filter(|d| **d != open);
                    if let Some(listed) = listed.cloned() {
                        let (old, new) = (ChannelId::Direct(open), ChannelId::Direct(listed));
                        if let Some(mark) = self.state.read.remove(&old) {
                            self.state.read.insert(new.clone(), mark);
                        }
                        self.state.current = new.clone();
                        self.effect(SideEffect::ShowChannel(new));
                    }
                }
                // One opened here and not written to yet stays listed.
                if let ChannelId::Direct(open) = &self.state.current
                    && !directs.contains(open)
                {
                    directs.insert(0, open.clone());
                }
                self.state.directs = directs;
                let listed = self.state.channels();
                self.state.badges.retain(|c, _| listed.contains(c));
                let mut counted = 0;
                for c in conversations {
                    let channel = ChannelId::Direct(c.with);
                    if channel == self.state.current {
                        continue;
                    }
                    match self.state.read.get(&channel).copied() {
                        Some(read) if c.last_id <= read => {}
                        // A few counts at a time (they share the history rate with the open
                        // channel's own page)...
                        Some(read) if counted < UNREAD_COUNTS_AT_ONCE => {
                            counted += 1;
                            self.effect(SideEffect::CountUnread(channel, read));
                        }
                        // ...the rest, and those never read in this browser, show that
                        // something is new.
                        _ => {
                            let new = super::Badge { unread: 1, mentioned: true };
                            self.state.badges.or_insert(channel, new);
                        }
                    }
                }
                self.changed(Part::Channels);
                if matches!(self.state.current, ChannelId::Direct(_)) {
                    self.fetch_newer();
                }
            }
            ChatEvent::RoomPeople { room, names } => {
                if self.state.current == ChannelId::Room(room) {
                    self.state.room_people = names;
                    self.changed(Part::Online);
                }
            }
            ChatEvent::RoomPresence(RoomPresence { room, nickname, present }) => {
                if self.state.current != ChannelId::Room(room) {
                    return;
                }
                let people = &mut self.state.room_people;
                // Each name once (looked for by name: the server's lower case may differ from
                // the browser's), at its place in the server's order (case aside).
                match (present, people.iter().position(|n| *n == nickname)) {
                    (true, None) => {
                        let lower = chat_shared::lowercase(&nickname);
                        let at = people.partition_point(|n| {
                            (chat_shared::lowercase(n).as_str(), n.as_str())
                                < (lower.as_str(), nickname.as_str())
                        });
                        people.insert(at, nickname);
                        people.truncate(chat_shared::limits::ROOM_PEOPLE_MAX);
                    }
                    (false, Some(at)) => {
                        people.remove(at);
                    }
                    _ => return,
                }
                self.changed(Part::Online);
            }
            ChatEvent::Unread { channel, count } => {
                if channel != self.state.current && count > 0 {
                    let badge = self.state.badges.or_default(channel.clone());
                    badge.unread = badge.unread.max(count);
                    badge.mentioned |= matches!(channel, ChannelId::Direct(_));
                    self.changed(Part::Channels);
                }
            }
            ChatEvent::ScrolledToTop => {
                let window = &mut self.state.window;
                window.following = false;
                if let Some(first) = window.first_id()
                    && window.more_before
                    && !window.loading_older
                {
                    window.loading_older = true;
                    let channel = self.state.current.clone();
                    self.effect(SideEffect::FetchHistory(channel, HistoryKind::Older(first)));
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
        if self.state.current == ChannelId::General && !self.state.window.more_after {
            self.state.window.push(self.now, Body::Announcement(announced), None);
            self.lines_changed();
        }
    }

    fn history_done(&mut self, kind: HistoryKind) {
        done_loading(&mut self.state.window, kind);
    }

    /// A line arrived in `channel`: shown if it is open, else counted on its badge (and on the
    /// tab's title while the tab is hidden, with a notification if it mentions the reader).
    fn arrived(&mut self, channel: ChannelId, from: String, text: String, meta: Option<MessageMeta>) {
        let open = channel == self.state.current;
        let new = if open {
            self.stop_typing(&from);
            self.show_live(&from, &text, meta)
        } else {
            true
        };
        if !new {
            return;
        }
        let mentioned = self.state.me.nickname.as_deref().is_some_and(|me| mentions(&text, me));
        let direct = matches!(channel, ChannelId::Direct(_));
        if !open {
            let badge = self.state.badges.or_default(channel);
            badge.unread += 1;
            badge.mentioned |= mentioned || direct;
            self.changed(Part::Channels);
        } else if let Some(meta) = meta.filter(|_| !self.state.hidden) {
            self.read_up_to(meta.id);
        }
        if self.state.hidden {
            self.state.unread += 1;
            self.changed(Part::Unread);
            // One notification per line: a direct line is for the reader anyway.
            if direct {
                self.effect(SideEffect::DirectArrived { from, text });
            } else if mentioned {
                self.effect(SideEffect::Mentioned { from, text });
            }
        }
    }

    /// Shows a live line in the open channel; false if it was shown already.
    fn show_live(&mut self, from: &str, text: &str, meta: Option<MessageMeta>) -> bool {
        let body = Body::User { from: from.to_owned(), text: text.to_owned() };
        match meta {
            Some(meta) => {
                let placed = self.state.window.insert_stored(meta.id, meta.ts, body, true);
                if placed == Placed::Shown {
                    self.lines_changed();
                } else if placed == Placed::Outside {
                    self.changed(Part::Lines); // the count of newer lines
                }
                placed != Placed::Seen
            }
            None => {
                self.state.window.push(self.now, body, None);
                self.lines_changed();
                true
            }
        }
    }

    /// The reader has seen the open direct conversation up to `id` (kept by the browser, so
    /// that the next visit counts only what came after).
    fn read_up_to(&mut self, id: u64) {
        let channel = self.state.current.clone();
        if !matches!(channel, ChannelId::Direct(_)) {
            return;
        }
        let mark = self.state.read.or_default(channel);
        if id > *mark {
            *mark = id;
            self.effect(SideEffect::SaveRead);
        }
    }

    /// The channel of the direct conversation with `nick`: the one listed under another case or
    /// width of the same name, if any (a link may spell it differently from the server).
    fn direct_channel(&self, nick: &str) -> ChannelId {
        let listed = same_name(&self.state.directs, nick);
        ChannelId::Direct(listed.cloned().unwrap_or_else(|| nick.to_owned()))
    }

    /// `nick` is in the list of direct conversations, first.
    fn listed_direct(&mut self, nick: &str) {
        if self.state.directs.first().map(String::as_str) != Some(nick) {
            self.state.directs.retain(|d| d != nick);
            self.state.directs.insert(0, nick.to_owned());
            self.changed(Part::Channels);
        }
    }

    /// Opens `channel`: the open one's window is parked if it holds own lines not stored yet
    /// (else dropped: it is read again from the history when opened again), and the new one
    /// is resumed from where its window was, or read from its newest lines.
    fn open(&mut self, channel: ChannelId) {
        self.effect(SideEffect::ShowChannel(channel.clone()));
        if channel == self.state.current {
            return;
        }
        // A parked window holds own lines not stored yet; what others said meanwhile is read
        // afresh from the newest page (resuming after its last id could skip lines said
        // before one's own line was stored).
        let mut window = self.state.parked.remove(&channel).unwrap_or_default();
        window.reset_to_live();
        let old = std::mem::replace(&mut self.state.window, window);
        let previous = std::mem::replace(&mut self.state.current, channel.clone());
        if old.lines().any(super::Line::unsent) {
            self.state.parked.insert(previous, old);
        }
        self.state.window.loading_newer = false;
        self.state.window.loading_older = false;
        self.state.badges.remove(&channel);
        self.state.room_people.clear();
        self.clear_typists();
        self.changed(Part::Lines);
        self.changed(Part::Channels);
        self.changed(Part::Online);
        if let ChannelId::Direct(nick) = &channel
            && !self.state.directs.contains(nick)
        {
            self.state.directs.insert(0, nick.clone());
        }
        match &channel {
            ChannelId::Room(_) => self.enter_current_room(),
            ChannelId::General | ChannelId::Direct(_) => self.fetch_newer(),
        }
    }

    /// The open channel is a room: read it if this connection is in it, else join it (once
    /// named and the rooms are known: `Rooms` brings the page back here).
    fn enter_current_room(&mut self) {
        let ChannelId::Room(name) = self.state.current.clone() else { return };
        if self.state.rooms.iter().any(|r| r.name == name && r.joined) {
            self.fetch_newer();
            self.effect(SideEffect::FetchRoomPeople(name));
        } else if self.state.me.nickname.is_some() && !self.state.rooms.is_empty() {
            self.effect(SideEffect::JoinRoom(name));
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
        for id in &page.deleted {
            self.state.window.remove(*id);
        }
        let newest = page.messages.last().map(|m| m.id);
        for m in page.messages {
            let body = Body::User { from: m.from, text: m.text };
            self.state.window.insert_stored(m.id, m.ts, body, false);
        }
        self.lines_changed();
        if let Some(newest) = newest.filter(|_| !self.state.window.more_after && !self.state.hidden) {
            self.read_up_to(newest);
        }
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

/// How many unread counts of direct conversations one `conversations` answer asks for (each is
/// a history request, and the open channel's page must fit in the same rate).
const UNREAD_COUNTS_AT_ONCE: usize = 3;

/// The name in `names` that is `nick` in another case or width (the same nickname key).
fn same_name<'a>(names: &'a [String], nick: &str) -> Option<&'a String> {
    let key = |n: &str| chat_shared::Nickname::parse(n).ok().map(|n| n.key());
    let wanted = key(nick)?;
    names.iter().find(|n| key(n).as_ref() == Some(&wanted))
}

/// A history request of `window` of `kind` got its answer (or none).
fn done_loading(window: &mut Window, kind: HistoryKind) {
    match kind {
        HistoryKind::Older(_) => window.loading_older = false,
        HistoryKind::After(_) => window.loading_newer = false,
        HistoryKind::Newest => {}
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
