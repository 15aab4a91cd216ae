//! `#nicknames`: who is online ("Online:" and a pill per nickname, in the nickname's colour,
//! with the badge of its role). Another's pill is a button that opens a direct conversation
//! with them, and for a moderator a menu to mute, disconnect or ban them. In a room it lists
//! who is in the room instead.

use leptos::prelude::*;

use chat_shared::moderation::Action;

use super::keyed::keyed_list;
use super::lines::{close_menu, role_badge};
use crate::service::Chat;
use crate::state::{ChannelId, Part, Role};
use crate::text::name_colour;

#[component]
pub fn OnlineList(chat: Chat) -> impl IntoView {
    // In a room: who is in it; elsewhere: everyone online.
    let in_room = move || chat.read(Part::Channels, |s| matches!(s.current, ChannelId::Room(_)));
    let names = move || {
        chat.read(Part::Online, |s| match s.current {
            ChannelId::Room(_) => s.room_people.clone(),
            _ => s.online.names().map(str::to_owned).collect::<Vec<_>>(),
        })
    };
    let me = move || chat.read(Part::Me, |s| s.me.nickname.clone());
    view! {
        <div id="nicknames" role="group" aria-labelledby="online-label">
            <span class="label" id="online-label">
                {move || if in_room() { chat.t().in_room } else { chat.t().online }}
            </span>
            {keyed_list(names, String::clone, move |name: String| view! {
                <b
                    class=format!("nc{}", name_colour(&name))
                    class:me={
                        let name = name.clone();
                        move || me().as_deref() == Some(name.as_str())
                    }
                >
                    {
                        let (shown, to) = (name.clone(), name.clone());
                        let label = move || chat.t().message_person.replace("{nick}", &shown);
                        let mine = {
                            let name = name.clone();
                            move || me().as_deref() == Some(name.as_str())
                        };
                        view! {
                            <button
                                type="button"
                                class="dm"
                                title=label
                                disabled=mine.clone()
                                on:click=move |_| chat.open(ChannelId::Direct(to.clone()))
                            >
                                {name.clone()}
                            </button>
                            {role_badge(chat, name.clone())}
                            {person_menu(chat, name.clone(), mine)}
                        }
                    }
                </b>
            })}
        </div>
    }
}

/// A moderator's menu for another person: mute them (in the open room for its moderators,
/// everywhere for the chat's) and remove their recent lines here, and for the chat's
/// moderators disconnect or ban them (after a confirmation); each asks for the reason they are
/// shown. Not offered on whom it cannot touch: the chat's moderators, and a room's owner for
/// the room's moderators.
fn person_menu(chat: Chat, nick: String, mine: impl Fn() -> bool + Send + Sync + 'static) -> impl IntoView {
    let moderates = move || chat.read(Part::Online, |s| s.moderates_here());
    let everywhere = move || chat.read(Part::Online, |s| s.is_moderator());
    let untouchable = {
        let nick = nick.clone();
        move || {
            chat.read(Part::Online, |s| match s.role_of(&nick) {
                Some(Role::Moderator) => true,
                Some(Role::Owner) => !s.is_moderator(),
                Some(Role::RoomModerator) | None => false,
            })
        }
    };
    let reason = move |nick: &str| {
        let prompt = chat.t().reason_prompt.replace("{nick}", nick);
        window().prompt_with_message(&prompt).ok().flatten()
    };
    move || {
        (moderates() && !mine() && !untouchable()).then(|| {
            let t = chat.t();
            let (muted, kicked, banned, purged) = (nick.clone(), nick.clone(), nick.clone(), nick.clone());
            let purge = move |ev: web_sys::MouseEvent| {
                close_menu(&ev);
                let question = chat.t().purge_confirm.replace("{nick}", &purged);
                if !window().confirm_with_message(&question).unwrap_or(false) {
                    return;
                }
                let Ok(Some(reason)) = window().prompt_with_message(chat.t().audit_reason) else { return };
                let room = chat.peek(|s| s.current.room_name().map(str::to_owned));
                chat.moderate(Action::Purge { room, nickname: purged.clone(), reason });
            };
            let mute = move |ev: web_sys::MouseEvent| {
                close_menu(&ev);
                let Some(reason) = reason(&muted) else { return };
                let room = match everywhere() {
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
                let question = chat.t().ban_confirm.replace("{nick}", &banned);
                if !window().confirm_with_message(&question).unwrap_or(false) {
                    return;
                }
                let Some(reason) = reason(&banned) else { return };
                chat.moderate(Action::Ban {
                    nickname: banned.clone(),
                    minutes: 24 * 60,
                    address: false,
                    reason,
                });
            };
            let label = t.person_actions.replace("{nick}", &nick);
            view! {
                <details class="person-menu">
                    <summary title=label.clone() aria-label=label>"⋯"</summary>
                    <button type="button" class="mute" on:click=mute>{t.mute}</button>
                    <button type="button" class="purge" on:click=purge>{t.purge}</button>
                    {everywhere().then(|| view! {
                        <button type="button" class="kick" on:click=kick.clone()>{t.kick}</button>
                        <button type="button" class="ban" on:click=ban.clone()>{t.ban}</button>
                    })}
                </details>
            }
        })
    }
}
