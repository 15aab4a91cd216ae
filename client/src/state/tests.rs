//! The reducer's unit tests: what each event changes, and the side effects it asks for.

use chat_shared::protocol::{
    HistoryMessage, HistoryPage, MessageMeta, NicknameAck, PresenceChange, RoomPresence, ServerEvent,
    SessionGrant, Typing,
};
use chat_shared::{ChatError, ErrorCode};
use serde_json::json;

use super::*;
use chat_shared::limits::{PRESENCE_LINES_MAX, TYPING_EXPIRY};

fn run(events: impl IntoIterator<Item = ChatEvent>) -> ChatState {
    let mut s = ChatState::default();
    for e in events {
        apply(&mut s, e, 0);
    }
    s
}

fn grant(nick: &str, token: &str) -> ChatEvent {
    ChatEvent::Session(SessionGrant { nickname: nick.into(), resume_token: token.into(), owner_secret: None })
}

fn live(id: u64, text: &str) -> ChatEvent {
    ChatEvent::UserMessage {
        from: "Bob".into(),
        text: text.into(),
        meta: Some(MessageMeta { id, ts: id as i64 }),
    }
}

fn stored(id: u64, text: &str) -> HistoryMessage {
    HistoryMessage { id, ts: id as i64, from: "Bob".into(), text: text.into() }
}

fn page(ids: std::ops::RangeInclusive<u64>, more: bool) -> HistoryPage {
    HistoryPage {
        messages: ids.map(|i| stored(i, &format!("h{i}"))).collect(),
        gap: false,
        more,
        deleted: vec![],
    }
}

fn texts(s: &ChatState) -> Vec<String> {
    s.window
        .lines()
        .map(|l| match &*l.body {
            Body::User { text, .. } | Body::Mine { text, .. } => text.clone(),
            Body::Announcement(a) => format!("{a:?}"),
            Body::System(n) => format!("{n:?}"),
        })
        .collect()
}

fn ids(s: &ChatState) -> Vec<u64> {
    s.window.lines().filter_map(Line::server_id).collect()
}

#[test]
fn signed_out_from_another_tab_unnames_the_page_and_says_why() {
    let mut s = run([ChatEvent::Connected { reconnected: false }, grant("Ana", "t")]);
    assert_eq!(s.me.nickname.as_deref(), Some("Ana"));
    let args = [
        json!({"nickname": "Ana", "code": "signed_in_elsewhere", "message": "You are signed in from another tab"}),
    ];
    let event = decode(ServerEvent::SignedOut, &args).expect("signed out decodes");
    let out = apply(&mut s, event, 0);
    assert_eq!(s.me.nickname, None, "back to the nickname form");
    assert_eq!(s.me.resume_token, None, "the old token is useless now");
    assert_eq!(s.me.error.as_ref().map(|e| e.code), Some(ErrorCode::SignedInElsewhere));
    assert_eq!(out.effects, [SideEffect::SaveSession], "the tab forgets the token");
    let out = apply(&mut s, ChatEvent::Connected { reconnected: true }, 0);
    assert!(!s.me.reclaiming, "a reconnect does not take the nickname back from the other tab");
    assert!(!out.effects.iter().any(|e| matches!(e, SideEffect::Claim(_) | SideEffect::Resume(_))));
}

#[test]
fn online_parts_add_up_and_presence_changes_announce_few_by_name_and_many_at_once() {
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let change = |c: &[&str], d: &[&str]| {
        ChatEvent::Presence(PresenceChange { connected: names(c), disconnected: names(d) })
    };
    let many: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    let s = run([
        ChatEvent::Connected { reconnected: false },
        decode(ServerEvent::Online, &[json!(["bo", "Ana"])]).expect("online decodes"),
        ChatEvent::Online(names(&["Cy"])),
        change(&["Dé"], &["bo"]),
        change(&["Dé"], &[]), // told twice: listed once
        ChatEvent::Presence(PresenceChange { connected: many.clone(), disconnected: vec![] }),
    ]);
    let mut expected = names(&["Ana", "Cy", "Dé"]);
    expected.extend(many.iter().cloned());
    assert_eq!(s.online.names().collect::<Vec<_>>(), expected);
    let announced: Vec<_> = s
        .window
        .lines()
        .filter_map(|l| match &*l.body {
            Body::Announcement(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        announced,
        [
            Announced::Connected("Dé".into()),
            Announced::Disconnected("bo".into()),
            Announced::Connected("Dé".into()),
            Announced::Several { connected: true, names: many[..PRESENCE_LINES_MAX].to_vec(), others: 7 },
        ]
    );
    // A new connection starts its list afresh.
    assert_eq!(
        run([ChatEvent::Online(names(&["Ana"])), ChatEvent::Connected { reconnected: true }]).online.len(),
        0
    );
}

#[test]
fn a_nickname_is_claimed_pending_until_answered_and_an_error_says_why() {
    let mut s = run([ChatEvent::Connected { reconnected: false }]);
    let out = apply(&mut s, ChatEvent::NicknameRequested("Ana".into()), 0);
    assert_eq!(out.effects, [SideEffect::Claim(Claim { nickname: "Ana".into(), owner_secret: None })]);
    assert!(out.changed.has(Part::Me) && !out.changed.has(Part::Lines));
    assert_eq!((s.me.nickname.as_deref(), s.me.requested.as_deref()), (None, Some("Ana")));
    let out = apply(&mut s, ChatEvent::NicknameAnswered(NicknameAck::Accepted), 0);
    assert_eq!(s.me.nickname.as_deref(), Some("Ana"));
    assert_eq!(out.effects, [SideEffect::SendOutbox], "named: the outbox can go");
    let taken = ChatError::new(ErrorCode::NicknameTaken);
    let s3 = run([
        ChatEvent::NicknameRequested("Ana".into()),
        ChatEvent::NicknameAnswered(NicknameAck::Rejected(taken.clone())),
    ]);
    assert_eq!((s3.me.nickname, s3.me.error), (None, Some(taken)));
    assert_eq!(s.connection, Connection::Connected);
}

#[test]
fn a_reconnect_keeps_lines_says_so_once_resumes_history_and_takes_the_nickname_back() {
    let mut s = run([
        ChatEvent::Connected { reconnected: false },
        grant("Ana", "t"),
        live(4, "hi"),
        ChatEvent::Reconnecting,
        ChatEvent::Reconnecting,
    ]);
    let out = apply(&mut s, ChatEvent::Connected { reconnected: true }, 0);
    assert_eq!(texts(&s), vec!["hi", "Reconnecting", "Reconnected"]);
    assert_eq!(
        out.effects,
        [
            SideEffect::FetchAbout,
            SideEffect::FetchHistory(ChannelId::General, HistoryKind::After(4)),
            SideEffect::Resume("t".into())
        ]
    );
    assert!(s.me.reclaiming, "to be claimed again");
    assert_eq!(s.me.nickname.as_deref(), Some("Ana"), "still shown meanwhile");
    assert!(!s.can_send(), "the outbox waits for the nickname");

    // The token is not known any more: the page asks for the name.
    let mut refused = s.clone();
    let out = apply(&mut refused, ChatEvent::ResumeRefused, 0);
    assert_eq!(out.effects, [SideEffect::Claim(Claim { nickname: "Ana".into(), owner_secret: None })]);
    let taken = ChatError::new(ErrorCode::NicknameTaken);
    apply(&mut refused, ChatEvent::NicknameAnswered(NicknameAck::Rejected(taken)), 0);
    assert_eq!(refused.me.nickname, None, "taken meanwhile: asks for a new one");
    // Refused for the address's claim rate only: kept, and asked for again when the server says.
    let mut limited = s.clone();
    apply(&mut limited, ChatEvent::ResumeRefused, 0);
    let busy = ChatError::with_limit(ErrorCode::RateLimited, 3);
    let out = apply(&mut limited, ChatEvent::NicknameAnswered(NicknameAck::Rejected(busy)), 0);
    let again = Claim { nickname: "Ana".into(), owner_secret: None };
    assert_eq!(out.effects, [SideEffect::ClaimLater(again, 3_000)]);
    assert_eq!((limited.me.nickname.as_deref(), limited.me.reclaiming), (Some("Ana"), true));

    let out = apply(&mut s, grant("Ana", "t2"), 0);
    assert_eq!((s.me.nickname.as_deref(), s.me.reclaiming), (Some("Ana"), false));
    assert_eq!(
        out.effects,
        [
            SideEffect::SaveSession,
            SideEffect::SendOutbox,
            SideEffect::FetchRooms,
            SideEffect::FetchConversations,
            SideEffect::FetchRoles
        ],
        "the rotated token is kept; the rooms, conversations and roles are asked for"
    );

    // A server that says goodbye: one line for it, none more for the reconnecting.
    let mut g = run([ChatEvent::Connected { reconnected: false }]);
    let bye = decode(ServerEvent::GoingAway, &[json!({"retry_after_ms": 1000})]).expect("decodes");
    assert_eq!(apply(&mut g, bye, 0).effects, [SideEffect::ReconnectWithin(1000)]);
    apply(&mut g, ChatEvent::Reconnecting, 0);
    let out = apply(&mut g, ChatEvent::Connected { reconnected: true }, 0);
    assert_eq!(texts(&g), vec!["GoingAway", "Reconnected"]);
    assert_eq!(
        out.effects,
        [SideEffect::FetchAbout, SideEffect::FetchHistory(ChannelId::General, HistoryKind::Newest)],
        "nothing held: the newest page"
    );
}

#[test]
fn own_lines_are_pending_then_stored_or_failed_and_retried_each_a_status_change_only() {
    let mut s = ChatState::default();
    let out = apply(
        &mut s,
        ChatEvent::Outgoing { key: "k1".into(), text: "hello".into(), channel: ChannelId::General },
        0,
    );
    assert_eq!(out.effects, [SideEffect::SaveOutbox, SideEffect::SendOutbox]);
    apply(
        &mut s,
        ChatEvent::Outgoing { key: "k2".into(), text: "again".into(), channel: ChannelId::General },
        0,
    );
    assert_eq!(
        s.outbox().into_iter().map(|o| (o.key, o.text)).collect::<Vec<(String, String)>>(),
        vec![("k1".into(), "hello".into()), ("k2".into(), "again".into())]
    );
    let line_keys: Vec<u64> = s.window.lines().map(|l| l.key).collect();
    let out = apply(&mut s, ChatEvent::Stored { key: "k1".into(), meta: MessageMeta { id: 5, ts: 9 } }, 0);
    assert_eq!(out.changed.statuses, [line_keys[0]], "only that line's status changed");
    assert!(!out.changed.has(Part::Lines), "the list itself did not change");
    let limited = Problem::Refused(ErrorCode::RateLimited);
    apply(&mut s, ChatEvent::SendFailed { key: "k2".into(), reason: limited }, 0);
    assert_eq!(s.outbox().into_iter().map(|o| (o.key, o.text)).collect::<Vec<(String, String)>>(), vec![]);
    let lines: Vec<&Line> = s.window.lines().collect();
    assert_eq!(lines[0].status, Some(SendStatus::Stored(MessageMeta { id: 5, ts: 9 })));
    assert_eq!((lines[0].at, lines[0].server_id()), (9, Some(5)), "the server's time and id");
    assert_eq!(lines[1].status, Some(SendStatus::Failed(limited)));
    let out = apply(&mut s, ChatEvent::Retry { key: "k2".into() }, 0);
    assert_eq!(out.effects, [SideEffect::SaveOutbox, SideEffect::SendOutbox]);
    assert_eq!(
        s.outbox().into_iter().map(|o| (o.key, o.text)).collect::<Vec<(String, String)>>(),
        vec![("k2".into(), "again".into())]
    );
    // The same message seen again (history, resume) is not doubled.
    apply(&mut s, live(5, "hello"), 0);
    assert_eq!(s.window.len(), 2);
}

#[test]
fn history_and_resume_merge_in_id_order_without_doubles() {
    let mut s = ChatState::default();
    apply(&mut s, live(12, "live 12"), 0);
    let newest = HistoryPage {
        messages: vec![stored(10, "h10"), stored(11, "h11"), stored(12, "x")],
        gap: false,
        more: true,
        deleted: vec![],
    };
    apply(
        &mut s,
        ChatEvent::History { page: newest, kind: HistoryKind::Newest, channel: ChannelId::General },
        0,
    );
    assert_eq!(texts(&s), vec!["h10", "h11", "live 12"]);
    assert!(s.window.more_before);
    let out = apply(&mut s, ChatEvent::ScrolledToTop, 0);
    assert_eq!(out.effects, [SideEffect::FetchHistory(ChannelId::General, HistoryKind::Older(10))]);
    assert!(apply(&mut s, ChatEvent::ScrolledToTop, 0).effects.is_empty(), "asked once at a time");
    let older = HistoryPage {
        messages: vec![stored(8, "h8"), stored(9, "h9")],
        gap: false,
        more: false,
        deleted: vec![],
    };
    apply(
        &mut s,
        ChatEvent::History { page: older, kind: HistoryKind::Older(10), channel: ChannelId::General },
        0,
    );
    assert_eq!(texts(&s), vec!["h8", "h9", "h10", "h11", "live 12"]);
    assert!(!s.window.more_before);
    assert!(apply(&mut s, ChatEvent::ScrolledToTop, 0).effects.is_empty(), "nothing older");
    assert_eq!((s.window.first_id(), s.window.last_id()), (Some(8), Some(12)));
    let resume = HistoryPage { messages: vec![stored(13, "h13")], gap: true, more: false, deleted: vec![] };
    apply(
        &mut s,
        ChatEvent::History { page: resume, kind: HistoryKind::After(12), channel: ChannelId::General },
        0,
    );
    assert_eq!(texts(&s)[5..], ["Gap".to_owned(), "h13".to_owned()]);
    // A resent line whose id history already showed is dropped, not doubled.
    apply(
        &mut s,
        ChatEvent::Outgoing { key: "k".into(), text: "h13".into(), channel: ChannelId::General },
        0,
    );
    apply(&mut s, ChatEvent::Stored { key: "k".into(), meta: MessageMeta { id: 13, ts: 0 } }, 0);
    assert_eq!(texts(&s).iter().filter(|t| *t == "h13").count(), 1);
    assert!(s.outbox().into_iter().map(|o| (o.key, o.text)).collect::<Vec<(String, String)>>().is_empty());
}

#[test]
fn a_resume_pages_on_while_there_is_more() {
    let mut s = run([live(1, "one")]);
    let out = apply(
        &mut s,
        ChatEvent::History {
            page: page(2..=3, true),
            kind: HistoryKind::After(1),
            channel: ChannelId::General,
        },
        0,
    );
    assert_eq!(out.effects, [SideEffect::FetchHistory(ChannelId::General, HistoryKind::After(3))]);
    let out = apply(
        &mut s,
        ChatEvent::History {
            page: page(4..=4, false),
            kind: HistoryKind::After(3),
            channel: ChannelId::General,
        },
        0,
    );
    assert!(out.effects.is_empty());
    assert_eq!(ids(&s), [1, 2, 3, 4]);
    assert!(!s.window.more_after);
}

#[test]
fn a_full_window_following_the_newest_drops_the_oldest_and_scrolling_up_brings_them_back() {
    let mut s = ChatState { window: Window::with_max(5), ..Default::default() };
    apply(
        &mut s,
        ChatEvent::Outgoing { key: "k".into(), text: "unsent".into(), channel: ChannelId::General },
        0,
    );
    for id in 1..=8 {
        apply(&mut s, live(id, "x"), 0);
    }
    assert_eq!(s.window.len(), 5);
    assert_eq!(ids(&s), [5, 6, 7, 8], "the oldest went; the unsent line stays");
    assert_eq!(s.outbox().into_iter().map(|o| (o.key, o.text)).collect::<Vec<(String, String)>>().len(), 1);
    assert!(s.window.more_before);
    // Scrolling up: the page before the first one held comes back, the newest go.
    let out = apply(&mut s, ChatEvent::ScrolledToTop, 0);
    assert_eq!(out.effects, [SideEffect::FetchHistory(ChannelId::General, HistoryKind::Older(5))]);
    apply(
        &mut s,
        ChatEvent::History {
            page: page(2..=4, true),
            kind: HistoryKind::Older(5),
            channel: ChannelId::General,
        },
        0,
    );
    assert_eq!(ids(&s), [2, 3, 4, 5], "the newest went to make room");
    assert!(s.window.more_after, "the window left the live end");
    // Live lines now go past the end: counted, not held.
    apply(&mut s, live(9, "x"), 0);
    assert_eq!((ids(&s), s.window.newer), (vec![2, 3, 4, 5], 1));
    // Back at the bottom: the lines after the last one held come page by page.
    let out = apply(&mut s, ChatEvent::Following(true), 0);
    assert_eq!(out.effects, [SideEffect::FetchHistory(ChannelId::General, HistoryKind::After(5))]);
    apply(
        &mut s,
        ChatEvent::History {
            page: page(6..=9, false),
            kind: HistoryKind::After(5),
            channel: ChannelId::General,
        },
        0,
    );
    assert_eq!(ids(&s), [6, 7, 8, 9]);
    assert_eq!((s.window.more_after, s.window.newer), (false, 0), "at the live end again");
    apply(&mut s, live(10, "x"), 0);
    assert_eq!(ids(&s), [7, 8, 9, 10]);
}

#[test]
fn jumping_to_the_newest_or_sending_from_far_up_goes_back_to_the_live_end() {
    let mut s = ChatState { window: Window::with_max(3), ..Default::default() };
    for id in 1..=3 {
        apply(&mut s, live(id, "x"), 0);
    }
    apply(&mut s, ChatEvent::Following(false), 0);
    apply(&mut s, live(4, "x"), 0);
    assert!(s.window.more_after, "scrolled up and full: the newest is not held");
    assert!(apply(&mut s, ChatEvent::Announcement(Announced::Connected("Cy".into())), 0).effects.is_empty());
    assert_eq!(ids(&s), [1, 2, 3]);
    assert_eq!(s.window.len(), 3, "no announcement past the end");
    let mut jumped = s.clone();
    let out = apply(&mut jumped, ChatEvent::JumpToNewest, 0);
    assert_eq!(out.effects, [SideEffect::FetchHistory(ChannelId::General, HistoryKind::Newest)]);
    assert_eq!(jumped.window.len(), 0);
    let out = apply(
        &mut s,
        ChatEvent::Outgoing { key: "k".into(), text: "mine".into(), channel: ChannelId::General },
        0,
    );
    assert_eq!(out.effects[0], SideEffect::FetchHistory(ChannelId::General, HistoryKind::Newest));
    assert_eq!(texts(&s), ["mine"]);
    apply(
        &mut s,
        ChatEvent::History {
            page: page(2..=4, true),
            kind: HistoryKind::Newest,
            channel: ChannelId::General,
        },
        0,
    );
    assert_eq!(texts(&s), ["h3", "h4", "mine"], "the oldest went; the unsent line stays last");
}

#[test]
fn decodes_server_events() {
    assert_eq!(
        decode(ServerEvent::UserMessage, &[json!("Ana"), json!("<b>hi</b>"), json!({"id": 3, "ts": 4})]),
        Some(ChatEvent::UserMessage {
            from: "Ana".into(),
            text: "<b>hi</b>".into(),
            meta: Some(MessageMeta { id: 3, ts: 4 })
        })
    );
    assert_eq!(decode(ServerEvent::UserMessage, &[json!(1)]), None);
    assert_eq!(
        decode(ServerEvent::Announcement, &[json!("Ana connected")]),
        Some(ChatEvent::Announcement(Announced::Text("Ana connected".into())))
    );
    assert_eq!(
        decode(ServerEvent::Announcement, &[json!("x"), json!({"kind": "disconnected", "nickname": "Ana"})]),
        Some(ChatEvent::Announcement(Announced::Disconnected("Ana".into())))
    );
    let s = run([decode(ServerEvent::Nicknames, &[json!({"bob": "bob", "Ana": "Ana"})]).expect("decodes")]);
    assert_eq!(s.online.names().collect::<Vec<_>>(), ["Ana", "bob"]);
    let err = decode(
        ServerEvent::ChatError,
        &[json!({"event": "user message", "code": "not_named", "message": "m"})],
    );
    assert!(matches!(err, Some(ChatEvent::ServerRefused(_))));
}

fn typing(nick: &str, typing: bool) -> ChatEvent {
    ChatEvent::Typing(Typing { nickname: nick.into(), typing, room: None })
}

#[test]
fn typists_show_until_they_stop_send_leave_or_go_quiet() {
    let mut s = run([grant("Me", "t")]);
    let expiry = TYPING_EXPIRY.as_millis() as i64;
    apply(&mut s, typing("Ana", true), 0);
    apply(&mut s, typing("Bob", true), 0);
    apply(&mut s, typing("Cy", true), 0);
    apply(&mut s, typing("Me", true), 0); // never oneself
    assert_eq!(s.typing_names(), ["Ana", "Bob", "Cy"]);
    assert!(!apply(&mut s, typing("Cy", true), 0).changed.has(Part::Typists), "a refresh re-renders nothing");
    apply(&mut s, typing("Ana", false), 1);
    let line = ChatEvent::UserMessage { from: "Bob".into(), text: "hi".into(), meta: None };
    apply(&mut s, line, 2);
    assert_eq!(s.typing_names(), ["Cy"]);
    apply(&mut s, ChatEvent::Announcement(Announced::Disconnected("Cy".into())), 3);
    assert!(s.typing_names().is_empty());
    // A typist that goes quiet is forgotten; one that repeats itself is not.
    apply(&mut s, typing("Ana", true), 10);
    apply(&mut s, typing("Bob", true), 10);
    apply(&mut s, typing("Bob", true), 10 + expiry / 2);
    assert!(!apply(&mut s, ChatEvent::Tick, 11).changed.has(Part::Typists), "a quiet tick changes nothing");
    apply(&mut s, ChatEvent::Tick, 10 + expiry);
    assert_eq!(s.typing_names(), ["Bob"]);
    apply(&mut s, ChatEvent::Reconnecting, 10 + expiry);
    assert!(s.typing_names().is_empty(), "unknown after a drop");
}

#[test]
fn lines_from_others_count_as_unread_while_hidden_and_a_mention_asks_for_a_notification() {
    let mut s = run([grant("Ana", "t")]);
    apply(&mut s, live(1, "hi"), 0);
    apply(&mut s, ChatEvent::Hidden(true), 0);
    assert!(apply(&mut s, live(2, "hi"), 0).effects.is_empty(), "no mention");
    let out = apply(&mut s, live(3, "hi ana!"), 0);
    assert_eq!(out.effects, [SideEffect::Mentioned { from: "Bob".into(), text: "hi ana!".into() }]);
    assert!(out.changed.has(Part::Unread));
    assert!(apply(&mut s, live(3, "hi ana!"), 0).effects.is_empty(), "the same line again: once");
    apply(
        &mut s,
        ChatEvent::Outgoing { key: "k".into(), text: "mine".into(), channel: ChannelId::General },
        0,
    );
    assert_eq!(s.unread, 2);
    apply(&mut s, ChatEvent::Hidden(false), 0);
    assert_eq!(s.unread, 0);
    assert_eq!(s.window.lines().nth(1).map(|l| l.at), Some(2), "a stored line has the server's time");
}

#[test]
fn an_owned_nickname_is_kept_claimed_with_its_secret_and_forgotten() {
    let mut s = ChatState::default();
    // The first claim asks to own it; the grant brings the secret, which the browser keeps.
    let out = apply(&mut s, ChatEvent::NicknameRequested("Ana".into()), 0);
    assert_eq!(out.effects, [SideEffect::Claim(Claim { nickname: "Ana".into(), owner_secret: None })]);
    let owned =
        SessionGrant { nickname: "Ana".into(), resume_token: "t".into(), owner_secret: Some("s".into()) };
    let out = apply(&mut s, ChatEvent::Session(owned), 0);
    assert!(out.effects.contains(&SideEffect::SaveOwner), "{:?}", out.effects);
    assert_eq!(s.me.owner, Some(Owner { nickname: "Ana".into(), secret: "s".into() }));
    // Another tab takes it over: the page keeps the ownership (the reader may take it back),
    // and claims with the secret when asked.
    let signed_out = decode(
        ServerEvent::SignedOut,
        &[json!({"nickname": "Ana", "code": "signed_in_elsewhere", "message": "elsewhere"})],
    )
    .expect("decodes");
    apply(&mut s, signed_out, 0);
    assert_eq!((s.me.nickname.as_deref(), s.me.owner.is_some()), (None, true));
    let out = apply(&mut s, ChatEvent::NicknameRequested("Ana".into()), 0);
    assert_eq!(
        out.effects,
        [SideEffect::Claim(Claim { nickname: "Ana".into(), owner_secret: Some("s".into()) })]
    );
    // Forget me: asked, then confirmed by the server; the browser forgets too.
    let out = apply(&mut s, ChatEvent::ForgetRequested, 0);
    assert_eq!(out.effects, [SideEffect::ForgetMe]);
    let out = apply(&mut s, ChatEvent::Forgotten, 0);
    assert_eq!(s.me, Me::default());
    assert!(out.effects.contains(&SideEffect::SaveOwner) && out.effects.contains(&SideEffect::SaveSession));
}

#[test]
fn the_next_visit_claims_the_owned_nickname_once_connected() {
    let mut s = ChatState::default();
    apply(&mut s, ChatEvent::Owned(Owner { nickname: "Ana".into(), secret: "s".into() }), 0);
    assert_eq!(s.me.nickname.as_deref(), Some("Ana"), "shown while it is claimed");
    let out = apply(&mut s, ChatEvent::Connected { reconnected: false }, 0);
    let claim = SideEffect::Claim(Claim { nickname: "Ana".into(), owner_secret: Some("s".into()) });
    assert!(out.effects.contains(&claim), "{:?}", out.effects);
    assert!(s.me.reclaiming);
}

fn room(name: &str, joined: bool) -> chat_shared::protocol::RoomInfo {
    chat_shared::protocol::RoomInfo { name: name.into(), topic: format!("{name} talk"), joined }
}

#[test]
fn rooms_and_direct_conversations_each_have_a_window_a_badge_and_an_address() {
    let crafts = ChannelId::Room("crafts".into());
    let mut s = run([ChatEvent::Connected { reconnected: false }, grant("Ana", "t")]);
    apply(
        &mut s,
        ChatEvent::Rooms(vec![room("general", true), room("crafts", true), room("games", false)]),
        0,
    );
    assert_eq!(s.channels(), [ChannelId::General, crafts.clone()], "general and the joined rooms");

    // A room's line while general is open: its badge counts it, the open window does not.
    let line = |room: &str, id: u64, text: &str| {
        ChatEvent::RoomLine(chat_shared::protocol::RoomLine {
            room: room.into(),
            from: "Bo".into(),
            text: text.into(),
            id,
            ts: 0,
        })
    };
    let out = apply(&mut s, line("crafts", 7, "hi @Ana"), 0);
    assert!(out.changed.has(Part::Channels) && !out.changed.has(Part::Lines));
    assert_eq!(s.badges.get(&crafts), Some(&Badge { unread: 1, mentioned: true }));
    assert!(texts(&s).is_empty());

    // Opening it: the address names it, its history is read, its badge goes.
    let out = apply(&mut s, ChatEvent::Open(crafts.clone()), 0);
    assert_eq!(
        out.effects,
        [
            SideEffect::ShowChannel(crafts.clone()),
            SideEffect::FetchHistory(crafts.clone(), HistoryKind::Newest),
            SideEffect::FetchRoomPeople("crafts".into()),
        ]
    );
    // The online list shows who is in the room (an answer for another room is not).
    apply(&mut s, ChatEvent::RoomPeople { room: "games".into(), names: vec!["X".into()] }, 0);
    assert!(s.room_people.is_empty());
    apply(&mut s, ChatEvent::RoomPeople { room: "crafts".into(), names: vec!["Ana".into(), "Bo".into()] }, 0);
    assert_eq!(s.room_people, ["Ana", "Bo"]);
    // ...and keeps it up to date as people come and go (in order, each once; another room's
    // comings and goings are not this list's).
    let presence = |room: &str, nickname: &str, present| {
        ChatEvent::RoomPresence(RoomPresence { room: room.into(), nickname: nickname.into(), present })
    };
    for event in [
        presence("crafts", "amy", true),
        presence("crafts", "Cy", true),
        presence("crafts", "Cy", true),
        presence("games", "Dee", true),
        presence("crafts", "Zed", false),
    ] {
        apply(&mut s, event, 0);
    }
    assert_eq!(s.room_people, ["amy", "Ana", "Bo", "Cy"]);
    apply(&mut s, presence("crafts", "Ana", false), 0);
    assert_eq!(s.room_people, ["amy", "Bo", "Cy"]);
    assert_eq!((s.current.clone(), s.badges.get(&crafts)), (crafts.clone(), None));
    assert_eq!(s.topic(), "crafts talk");
    apply(
        &mut s,
        ChatEvent::History { page: page(6..=7, false), kind: HistoryKind::Newest, channel: crafts.clone() },
        0,
    );
    assert_eq!(texts(&s), ["h6", "h7"]);
    // A page that comes for a channel no longer open is not shown in this one.
    apply(
        &mut s,
        ChatEvent::History {
            page: page(1..=2, false),
            kind: HistoryKind::Newest,
            channel: ChannelId::General,
        },
        0,
    );
    assert_eq!(texts(&s), ["h6", "h7"]);
    // Typing: only the open channel's typists show.
    let typing = |room: Option<&str>| {
        ChatEvent::Typing(Typing { nickname: "Bo".into(), typing: true, room: room.map(str::to_owned) })
    };
    apply(&mut s, typing(None), 0);
    assert!(s.typists.is_empty(), "general's typist, while crafts is open");
    apply(&mut s, typing(Some("crafts")), 0);
    assert_eq!(s.typing_names(), ["Bo"]);

    // A line written in the room waits there while another channel is open, and is sent.
    apply(&mut s, ChatEvent::Outgoing { key: "k1".into(), text: "mine".into(), channel: crafts.clone() }, 0);
    let out = apply(&mut s, ChatEvent::Open(ChannelId::General), 0);
    assert!(s.typists.is_empty(), "typists go with their channel");
    assert_eq!(out.effects[0], SideEffect::ShowChannel(ChannelId::General));
    let outbox = s.outbox();
    assert_eq!((outbox.len(), &outbox[0].channel, outbox[0].key.as_str()), (1, &crafts, "k1"));
    apply(&mut s, ChatEvent::Stored { key: "k1".into(), meta: MessageMeta { id: 9, ts: 9 } }, 0);
    assert!(s.outbox().is_empty(), "stored, though not shown");

    // A direct message while the tab is hidden: listed first, badged, notified.
    apply(&mut s, ChatEvent::Hidden(true), 0);
    let dm = ChatEvent::DirectLine(chat_shared::protocol::DirectLine {
        from: "Bo".into(),
        to: "Ana".into(),
        text: "psst".into(),
        id: 10,
        ts: 0,
    });
    let out = apply(&mut s, dm, 0);
    assert!(out.effects.contains(&SideEffect::DirectArrived { from: "Bo".into(), text: "psst".into() }));
    let bo = ChannelId::Direct("Bo".into());
    assert_eq!(s.channels().last(), Some(&bo));
    assert_eq!(s.badges.get(&bo), Some(&Badge { unread: 1, mentioned: true }));
    assert_eq!(s.unread, 1, "the tab's title counts it too");
    apply(&mut s, ChatEvent::Hidden(false), 0);
    // Reading it keeps how far (for the next visit's count).
    apply(&mut s, ChatEvent::Open(bo.clone()), 0);
    let out = apply(
        &mut s,
        ChatEvent::History { page: page(10..=10, false), kind: HistoryKind::Newest, channel: bo.clone() },
        0,
    );
    assert_eq!(s.read.get(&bo), Some(&10));
    assert!(out.effects.contains(&SideEffect::SaveRead));
    // The next visit: a conversation with lines after the last one read asks for a count.
    let cy = ChannelId::Direct("Cy".into());
    s.read.insert(cy.clone(), 5);
    let later = chat_shared::protocol::Conversation { with: "Cy".into(), last_id: 12, last_ts: 0 };
    let seen = chat_shared::protocol::Conversation { with: "Bo".into(), last_id: 10, last_ts: 0 };
    let never = chat_shared::protocol::Conversation { with: "Dee".into(), last_id: 3, last_ts: 0 };
    let out = apply(&mut s, ChatEvent::Conversations(vec![later, seen, never]), 0);
    assert!(out.effects.contains(&SideEffect::CountUnread(cy.clone(), 5)));
    let dee = ChannelId::Direct("Dee".into());
    assert_eq!(s.badges.get(&dee), Some(&Badge { unread: 1, mentioned: true }), "never read here: new");
    assert!(!out.effects.iter().any(|e| matches!(e, SideEffect::CountUnread(c, _) if *c == dee)));
    assert!(
        !out.effects.iter().any(|e| matches!(e, SideEffect::CountUnread(c, _) if *c == bo)),
        "read already"
    );
    apply(&mut s, ChatEvent::Unread { channel: cy.clone(), count: 3 }, 0);
    assert_eq!(s.badges.get(&cy).map(|b| b.unread), Some(3));

    // A link spelling the name differently opens the same conversation.
    apply(&mut s, ChatEvent::Open(ChannelId::Direct("BO".into())), 0);
    assert_eq!(s.current, bo);
    assert_eq!(s.directs.iter().filter(|d| d.eq_ignore_ascii_case("bo")).count(), 1);

    // The keyboard steps through the list, round.
    apply(&mut s, ChatEvent::Open(ChannelId::General), 0);
    apply(&mut s, ChatEvent::Step(-1), 0);
    assert_eq!(s.current, s.channels().last().cloned().unwrap_or_default(), "from the first to the last");
    apply(&mut s, ChatEvent::Step(1), 0);
    assert_eq!(s.current, ChannelId::General);

    // A link to a room not joined joins it; one that cannot be joined goes back to general.
    let games = ChannelId::Room("games".into());
    let out = apply(&mut s, ChatEvent::Open(games.clone()), 0);
    assert!(out.effects.contains(&SideEffect::JoinRoom("games".into())));
    apply(&mut s, ChatEvent::RoomRefused(ChatError::new(ErrorCode::RoomNameInvalid)), 0);
    assert_eq!(s.current, ChannelId::General);
    assert!(s.room_error.is_some());
    apply(&mut s, ChatEvent::RoomJoined(room("games", false)), 0);
    assert_eq!(s.current, games, "joined: opened");
    assert!(s.channels().contains(&games));
    apply(&mut s, ChatEvent::RoomLeft("games".into()), 0);
    assert_eq!((s.current.clone(), s.channels().contains(&games)), (ChannelId::General, false));
}

#[test]
fn a_key_carries_an_owned_nickname_to_another_device() {
    let owner = Owner { nickname: "Ana Bo".into(), secret: "0123456789abcdef0123456789abcdef".into() };
    assert_eq!(Owner::from_key(&format!("  {}  ", owner.key())), Some(owner.clone()));
    for bad in [
        "",
        "Ana",
        "0123.Ana",
        "0123456789ABCDEF0123456789ABCDEF.Ana",
        "0123456789abcdef0123456789abcdef.",
        "0123456789abcdef0123456789abcdeg.Ana",
    ] {
        assert_eq!(Owner::from_key(bad), None, "{bad:?}");
    }
    let mut s = run([ChatEvent::Connected { reconnected: false }]);
    let out = apply(&mut s, ChatEvent::KeyEntered(owner.clone()), 0);
    assert_eq!(
        out.effects,
        [SideEffect::Claim(Claim { nickname: "Ana Bo".into(), owner_secret: Some(owner.secret.clone()) })]
    );
    assert_eq!(s.me.owner, None, "kept once granted");
    let granted = SessionGrant {
        nickname: "Ana Bo".into(),
        resume_token: "t".into(),
        owner_secret: Some(owner.secret.clone()),
    };
    apply(&mut s, ChatEvent::Session(granted), 0);
    assert_eq!(s.me.owner, Some(owner));
}

#[test]
fn a_link_to_a_conversation_takes_the_servers_spelling_once_the_list_comes() {
    let mut s = run([ChatEvent::Connected { reconnected: false }, grant("Ana", "t")]);
    apply(&mut s, ChatEvent::Open(ChannelId::Direct("bo".into())), 0);
    let listed = chat_shared::protocol::Conversation { with: "Bo".into(), last_id: 4, last_ts: 0 };
    let out = apply(&mut s, ChatEvent::Conversations(vec![listed]), 0);
    assert_eq!(s.current, ChannelId::Direct("Bo".into()));
    assert_eq!(s.directs, ["Bo"], "one conversation, not two");
    assert!(out.effects.contains(&SideEffect::ShowChannel(ChannelId::Direct("Bo".into()))));
    // A page of an earlier window (before what this one holds) is not applied.
    let bo = s.current.clone();
    apply(
        &mut s,
        ChatEvent::History { page: page(3..=4, false), kind: HistoryKind::Newest, channel: bo.clone() },
        0,
    );
    let stale = page(1..=1, false);
    apply(&mut s, ChatEvent::History { page: stale, kind: HistoryKind::Older(9), channel: bo }, 0);
    assert_eq!(ids(&s), [3, 4]);
}

#[test]
fn a_deleted_line_goes_live_or_from_a_page_of_history_and_never_comes_back() {
    use chat_shared::moderation::{LineDeleted, Moderated, RoomRules, Sanction};
    let mut s = run([grant("Ana", "t"), live(1, "one"), live(2, "spam"), live(3, "three")]);
    let out = apply(&mut s, ChatEvent::LineDeleted(LineDeleted { room: "general".into(), id: 2 }), 0);
    assert_eq!(ids(&s), [1, 3]);
    assert!(out.changed.has(Part::Lines));
    // A deletion elsewhere leaves this channel alone.
    let out = apply(&mut s, ChatEvent::LineDeleted(LineDeleted { room: "den".into(), id: 3 }), 0);
    assert_eq!((ids(&s), out.changed.has(Part::Lines)), (vec![1, 3], false));
    // A page read while away: its deleted ids go, and a resend of one does not bring it back.
    let mut resumed = page(3..=4, false);
    resumed.deleted = vec![1];
    let kind = HistoryKind::After(3);
    apply(&mut s, ChatEvent::History { page: resumed, kind, channel: ChannelId::General }, 0);
    assert_eq!(ids(&s), [3, 4]);
    apply(
        &mut s,
        ChatEvent::History {
            page: page(1..=1, false),
            kind: HistoryKind::After(0),
            channel: ChannelId::General,
        },
        0,
    );
    assert!(!ids(&s).contains(&1));

    // The reader is told what a moderator did to it, and a room's new rules in that room.
    let muted = Moderated {
        sanction: Sanction::Muted,
        room: None,
        until: Some(60_000),
        reason: "calm".into(),
        by: "Mo".into(),
    };
    apply(&mut s, ChatEvent::Moderated(muted.clone()), 0);
    assert_eq!(texts(&s).last(), Some(&format!("{:?}", Note::Moderated(muted))));
    let rules = RoomRules { room: "general".into(), slow_secs: 5, locked: false, topic: String::new() };
    apply(&mut s, ChatEvent::RoomRules(rules.clone()), 0);
    assert_eq!(s.roles.rules, [rules]);
}

#[test]
fn roles_say_who_moderates_where_and_only_an_owned_name_acts_as_one() {
    use chat_shared::moderation::{Roles, RoomRoles};
    let roles = Roles {
        moderators: vec!["Mo".into()],
        rooms: vec![RoomRoles {
            room: "den".into(),
            owner: Some("Ana".into()),
            moderators: vec!["Kim".into()],
        }],
        rules: vec![],
    };
    let mut s = run([grant("Ana", "t"), ChatEvent::Roles(roles.clone())]);
    assert_eq!(s.role_of("mo"), Some(Role::Moderator));
    assert_eq!(s.role_of("Ana"), None, "owner of den, not of general");
    assert!(!s.moderates_here() && !s.has_a_role(), "an ephemeral name acts as nobody");
    s.me.owner = Some(Owner { nickname: "Ana".into(), secret: "s".into() });
    assert!(s.has_a_role());
    apply(&mut s, ChatEvent::Open(ChannelId::Room("den".into())), 0);
    assert_eq!((s.role_of("Ana"), s.role_of("kim")), (Some(Role::Owner), Some(Role::RoomModerator)));
    assert!(s.moderates_here() && !s.is_moderator());
    let out = apply(&mut s, ChatEvent::Roles(roles), 0);
    assert!(!out.changed.has(Part::Online), "the same roles change nothing");
}

#[test]
fn a_kicked_or_banned_page_says_why_and_does_not_take_its_name_back_by_itself() {
    use chat_shared::moderation::{Moderated, RoomRules, Sanction};
    let mut s = run([grant("Ana", "t")]);
    let banned = Moderated {
        sanction: Sanction::Banned,
        room: None,
        until: Some(1),
        reason: "r".into(),
        by: "Mo".into(),
    };
    let out = apply(&mut s, ChatEvent::Moderated(banned.clone()), 0);
    assert_eq!((s.me.nickname.clone(), s.me.removed.clone()), (None, Some(banned)));
    assert!(out.effects.contains(&SideEffect::SaveSession), "the tab forgets its token");
    let out = apply(&mut s, ChatEvent::Connected { reconnected: true }, 0);
    assert!(
        !out.effects.iter().any(|e| matches!(e, SideEffect::Resume(_) | SideEffect::Claim(_))),
        "{out:?}"
    );
    apply(&mut s, ChatEvent::NicknameRequested("Ana".into()), 0);
    assert_eq!(s.me.removed, None, "a new claim clears it");

    // A room's rules are said as what changed.
    let rules = |slow_secs, locked, topic: &str| {
        ChatEvent::RoomRules(RoomRules { room: "general".into(), slow_secs, locked, topic: topic.into() })
    };
    let said = |s: &ChatState| texts(s).last().cloned().unwrap_or_default();
    apply(&mut s, rules(30, false, ""), 0);
    assert_eq!(
        said(&s),
        format!("{:?}", Note::Rules { room: "general".into(), change: RulesChange::Slow(30) })
    );
    apply(&mut s, rules(30, false, "Be kind"), 0);
    assert!(said(&s).contains("Topic(\"Be kind\")"), "{}", said(&s));
    apply(&mut s, rules(0, false, "Be kind"), 0);
    assert!(said(&s).contains("Open"), "{}", said(&s));
}
