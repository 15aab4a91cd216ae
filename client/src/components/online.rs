//! `#nicknames`: who is online ("Online:" and a pill per nickname, in the nickname's colour).
//! Another's pill is a button that opens a direct conversation with them. In a room it lists
//! who is in the room instead.

use leptos::prelude::*;

use crate::service::Chat;
use crate::state::{ChannelId, Part};
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
            <For each=names key=|n| n.clone() let:name>
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
                                disabled=mine
                                on:click=move |_| chat.open(ChannelId::Direct(to.clone()))
                            >
                                {name.clone()}
                            </button>
                        }
                    }
                </b>
            </For>
        </div>
    }
}
