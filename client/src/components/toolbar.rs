//! `#toolbar`: the page's language and the opt-in for mention notifications.

use leptos::prelude::*;

use crate::browser::notify;
use crate::i18n::Lang;
use crate::service::Chat;

#[component]
pub fn Toolbar(chat: Chat) -> impl IntoView {
    let blocked = RwSignal::new(false);
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
        </header>
    }
}
