//! `#nicknames`: who is online ("Online:" and a pill per nickname, in the nickname's colour,
//! with the badge of its role). Another's pill is a button that opens a direct conversation
//! with them, and for a moderator a menu to mute, disconnect or ban them. In a room it lists
//! who is in the room instead.

use leptos::prelude::*;

use chat_shared::moderation::Action;

use super::keyed::keyed_list;
use super::lines::{badge, close_menu};
use crate::i18n::{Lang, Texts};
use crate::service::Chat;
use crate::state::{ChannelId, Part, Role};
use crate::text::name_colour;

/// One pill with everything it shows, which is also its key: a pill changes only by being
/// rendered anew (when who the reader is, a role, the menu or the language changes), so that it
/// reads nothing reactive. A pill that read the page's state would stay, after its person left,
/// in the subscriber lists of what it read (reactive_graph 0.2.16 keeps a dropped subscriber
/// until it removes itself), for as long as the page is open (docs/benchmarks.md).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Pill {
    name: String,
    /// The reader's own pill.
    mine: bool,
    role: Option<Role>,
    menu: Option<PersonMenu>,
    lang: Lang,
}

/// The moderator's menu on a pill: in the open room (mute, purge), or the chat's moderator's
/// (mute everywhere, purge, and disconnect and ban).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum PersonMenu {
    Room,
    Everywhere,
}

#[component]
pub fn OnlineList(chat: Chat) -> impl IntoView {
    // In a room: who is in it; elsewhere: everyone online.
    let in_room = move || chat.read(Part::Channels, |s| matches!(s.current, ChannelId::Room(_)));
    let pills = move || {
        let lang = chat.lang.get();
        chat.track(Part::Me);
        chat.track(Part::Channels);
        chat.read(Part::Online, |s| {
            let names: Vec<&str> = match s.current {
                ChannelId::Room(_) => s.room_people.iter().map(String::as_str).collect(),
                _ => s.online.names().collect(),
            };
            let me = s.me.nickname.as_deref();
            let (moderates, everywhere) = (s.moderates_here(), s.is_moderator());
            names
                .into_iter()
                .map(|name| {
                    let mine = me == Some(name);
                    let role = s.role_of(name);
                    // Not offered on whom it cannot touch: the chat's moderators, and a room's
                    // owner for the room's moderators.
                    let untouchable = match role {
                        Some(Role::Moderator) => true,
                        Some(Role::Owner) => !everywhere,
                        Some(Role::RoomModerator) | None => false,
                    };
                    let menu = (moderates && !mine && !untouchable).then_some(match everywhere {
                        true => PersonMenu::Everywhere,
                        false => PersonMenu::Room,
                    });
                    Pill { name: name.to_owned(), mine, role, menu, lang }
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <div id="nicknames" role="group" aria-labelledby="online-label">
            <span class="label" id="online-label">
                {move || if in_room() { chat.t().in_room } else { chat.t().online }}
            </span>
            {keyed_list(pills, Pill::clone, move |pill: Pill| pill_view(chat, pill))}
        </div>
    }
}

/// A person's pill: a button that opens a direct conversation with them, their role's badge,
/// and for a moderator the menu.
fn pill_view(chat: Chat, pill: Pill) -> impl IntoView {
    let t = pill.lang.texts();
    let label = t.message_person.replace("{nick}", &pill.name);
    let to = pill.name.clone();
    view! {
        <b class=format!("nc{}", name_colour(&pill.name)) class:me=pill.mine>
            <button
                type="button"
                class="dm"
                title=label
                disabled=pill.mine
                on:click=move |_| chat.open(ChannelId::Direct(to.clone()))
            >
                {pill.name.clone()}
            </button>
            {pill.role.map(|role| badge(role, t))}
            {pill.menu.map(|menu| person_menu(chat, pill.name.clone(), menu, t))}
        </b>
    }
}

/// A moderator's menu for another person: mute them (in the open room for its moderators,
/// everywhere for the chat's) and remove their recent lines here, and for the chat's
/// moderators disconnect or ban them (after a confirmation); each asks for the reason they are
/// shown.
fn person_menu(chat: Chat, nick: String, menu: PersonMenu, t: &'static Texts) -> impl IntoView {
    let everywhere = menu == PersonMenu::Everywhere;
    let reason = move |nick: &str| {
        let prompt = t.reason_prompt.replace("{nick}", nick);
        window().prompt_with_message(&prompt).ok().flatten()
    };
    let (muted, kicked, banned, purged) = (nick.clone(), nick.clone(), nick.clone(), nick.clone());
    let purge = move |ev: web_sys::MouseEvent| {
        close_menu(&ev);
        let question = t.purge_confirm.replace("{nick}", &purged);
        if !window().confirm_with_message(&question).unwrap_or(false) {
            return;
        }
        let Ok(Some(reason)) = window().prompt_with_message(t.audit_reason) else { return };
        let room = chat.peek(|s| s.current.room_name().map(str::to_owned));
        chat.moderate(Action::Purge { room, nickname: purged.clone(), reason });
    };
    let mute = move |ev: web_sys::MouseEvent| {
        close_menu(&ev);
        let Some(reason) = reason(&muted) else { return };
        let room = match everywhere {
            true => None,
            false => chat.peek(|s| s.current.room_name().map(str::to_owned)),
        };
        chat.moderate(Action::Mute { nickname: muted.clone(), minutes: 10, room, reason });
    };
    let kick = move |ev: web_sys::MouseEvent| {
        close_menu(&ev);
        let Some(reason) = reason(&kicked) else { return };
        chat.moderate(Action::Kick { nickname: kicked.clone(), reason });
    };
    let ban = move |ev: web_sys::MouseEvent| {
        close_menu(&ev);
        let question = t.ban_confirm.replace("{nick}", &banned);
        if !window().confirm_with_message(&question).unwrap_or(false) {
            return;
        }
        let Some(reason) = reason(&banned) else { return };
        chat.moderate(Action::Ban { nickname: banned.clone(), minutes: 24 * 60, address: false, reason });
    };
    let label = t.person_actions.replace("{nick}", &nick);
    view! {
        <details class="person-menu">
            <summary title=label.clone() aria-label=label>"⋯"</summary>
            <button type="button" class="mute" on:click=mute>{t.mute}</button>
            <button type="button" class="purge" on:click=purge>{t.purge}</button>
            {everywhere.then(|| view! {
                <button type="button" class="kick" on:click=kick>{t.kick}</button>
                <button type="button" class="ban" on:click=ban>{t.ban}</button>
            })}
        </details>
    }
}
