//! `#nicknames`: who is online ("Online:" and a pill per nickname).

use leptos::prelude::*;

use crate::app::Chat;

#[component]
pub fn OnlineList(chat: Chat) -> impl IntoView {
    let names = Memo::new(move |_| chat.state.with(|s| s.online.clone()));
    let me = move || chat.state.with(|s| s.nickname.clone());
    view! {
        <div id="nicknames" aria-label="Online">
            <span class="label">"Online: "</span>
            <For each=move || names.get() key=|n| n.clone() let:name>
                <b class:me={
                    let name = name.clone();
                    move || me().as_deref() == Some(name.as_str())
                }>{name.clone()}</b>
            </For>
        </div>
    }
}
