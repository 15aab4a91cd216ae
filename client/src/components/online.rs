//! `#nicknames`: who is online ("Online:" and a pill per nickname, in the nickname's colour).

use leptos::prelude::*;

use crate::app::Chat;
use crate::text::name_colour;

#[component]
pub fn OnlineList(chat: Chat) -> impl IntoView {
    let names = Memo::new(move |_| chat.state.with(|s| s.online.clone()));
    let me = move || chat.state.with(|s| s.nickname.clone());
    view! {
        <div id="nicknames" role="group" aria-labelledby="online-label">
            <span class="label" id="online-label">{move || chat.t().online}</span>
            <For each=move || names.get() key=|n| n.clone() let:name>
                <b
                    class=format!("nc{}", name_colour(&name))
                    class:me={
                        let name = name.clone();
                        move || me().as_deref() == Some(name.as_str())
                    }
                >
                    {name.clone()}
                </b>
            </For>
        </div>
    }
}
