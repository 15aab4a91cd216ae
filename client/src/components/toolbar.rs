//! `#toolbar`: the page's language, the opt-in for mention notifications, and while named
//! "use on another device" (the key that takes the owned nickname elsewhere) and "forget me"
//! (give up the nickname this browser keeps).

use leptos::prelude::*;

use crate::browser::notify;
use crate::i18n::Lang;
use crate::service::Chat;
use crate::state::Part;

#[component]
pub fn Toolbar(chat: Chat) -> impl IntoView {
    let blocked = RwSignal::new(false);
    // The panel with the key for another device.
    let device = RwSignal::new(false);
    let owner = move || chat.read(Part::Me, |s| s.me.owner.clone().filter(|_| s.me.nickname.is_some()));
    // The key shows only while its owner asked for it: closed whenever who one is changes
    // (forget me, signed out, another name).
    let who = Memo::new(move |_| chat.read(Part::Me, |s| (s.me.nickname.clone(), s.me.owner.clone())));
    Effect::new(move || {
        who.track();
        device.set(false);
    });
    view! {
        <header id="toolbar">
            <label class="lang">
                <span>{move || chat.t().language}</span>
                <select
                    id="lang"
                    on:change=move |ev| {
                        if let Some(lang) = Lang::from_tag(&event_target_value(&ev)) {
                            chat.set_lang(lang);
                        }
                    }
                >
                    {Lang::ALL
                        .map(|lang| {
                            view! {
                                <option value=lang.tag() lang=lang.tag() selected=move || chat.lang.get() == lang>
                                    {lang.own_name()}
                                </option>
                            }
                        })}
                </select>
            </label>
            <label class="notify" title=move || blocked.get().then(|| chat.t().notifications_blocked)>
                <input
                    type="checkbox"
                    id="notify"
                    prop:checked=move || chat.notify.get()
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        blocked.set(on && notify::denied());
                        chat.set_notify(on);
                    }
                />
                <span>{move || chat.t().notify_mentions}</span>
            </label>
                        <Show when=move || chat.read(Part::Me, |s| s.me.nickname.is_some() && s.me.owner.is_some())>
                <button
                    type="button"
                    id="other-device"
                    aria-expanded=move || device.get().to_string()
                    aria-controls="device-key"
                    on:click=move |_| device.update(|d| *d = !*d)
                >
                    {move || chat.t().other_device}
                </button>
            </Show>
            <Show when=move || chat.read(Part::Me, |s| s.me.nickname.is_some())>
                <button
                    type="button"
                    id="forget-me"
                    on:click=move |_| {
                        let nick = chat.peek(|s| s.me.nickname.clone()).unwrap_or_default();
                        let question = chat.t().forget_me_confirm.replace("{nick}", &nick);
                        if window().confirm_with_message(&question).unwrap_or(false) {
                            chat.forget();
                        }
                    }
                >
                    {move || chat.t().forget_me}
                </button>
                        </Show>
            {move || {
                owner()
                    .filter(|_| device.get())
                    .map(|owner| {
                        let intro = chat.t().device_key_intro.replace("{nick}", &owner.nickname);
                        view! {
                            <section id="device-key" aria-label=move || chat.t().other_device>
                                <p>{intro}</p>
                                <code id="owner-key" translate="no">{owner.key()}</code>
                                <button type="button" id="device-key-close" on:click=move |_| device.set(false)>
                                    {move || chat.t().close}
                                </button>
                            </section>
                        }
                    })
            }}
        </header>
    }
}
