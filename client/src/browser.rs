//! What the page asks of the browser besides the DOM: local-time formatting (`Intl`, in the
//! page's language and the reader's time zone), the tab's visibility, notifications, and the
//! preferences kept in localStorage.

use js_sys::{Array, Date, Object, Reflect};
use wasm_bindgen::JsValue;

use crate::i18n::Lang;

const DAY_MS: i64 = 86_400_000;

fn options(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o
}

fn date(ms: i64) -> Date {
    Date::new(&JsValue::from_f64(ms as f64))
}

/// The local day (days since the epoch, in the reader's time zone) of a time.
pub fn day_of(ms: i64) -> i64 {
    let offset = date(ms).get_timezone_offset() as i64 * 60_000;
    (ms - offset).div_euclid(DAY_MS)
}

/// "14:05" (or "오후 2:05"), local time.
pub fn time_of_day(ms: i64, lang: Lang) -> String {
    let o = options(&[("hour", "numeric"), ("minute", "2-digit")]);
    date(ms).to_locale_time_string_with_options(lang.tag(), &o).into()
}

/// The full date and time, for hovering over a line's time.
pub fn full(ms: i64, lang: Lang) -> String {
    let o = options(&[("dateStyle", "full"), ("timeStyle", "medium")]);
    date(ms).to_locale_string(lang.tag(), &o).into()
}

/// The machine-readable time (`<time datetime>`).
pub fn iso(ms: i64) -> String {
    date(ms).to_iso_string().into()
}

/// A line's time as shown: "now", "5 minutes ago" within the hour, else the time of day
/// (the day separator above says which day).
pub fn short(ms: i64, now: i64, lang: Lang) -> String {
    let minutes = (now - ms).max(0) / 60_000;
    if minutes >= 60 {
        return time_of_day(ms, lang);
    }
    let locales = Array::of1(&JsValue::from_str(lang.tag()));
    let format = js_sys::Intl::RelativeTimeFormat::new(&locales, &options(&[("numeric", "auto")]));
    match minutes {
        0 => format.format(0.0, "second").into(), // "now"
        m => format.format(-(m as f64), "minute").into(),
    }
}

/// A day separator: "Today", "Yesterday", or the full date.
pub fn day_label(ms: i64, now: i64, lang: Lang) -> String {
    let t = lang.texts();
    match day_of(now) - day_of(ms) {
        0 => t.today.to_owned(),
        1 => t.yesterday.to_owned(),
        _ => {
            let o =
                options(&[("weekday", "long"), ("year", "numeric"), ("month", "long"), ("day", "numeric")]);
            date(ms).to_locale_date_string(lang.tag(), &o).into()
        }
    }
}

/// The browser's preferred languages, most preferred first.
pub fn preferred_languages() -> Vec<String> {
    let navigator = leptos::prelude::window().navigator();
    let list: Vec<String> = navigator.languages().iter().filter_map(|v| v.as_string()).collect();
    if list.is_empty() { navigator.language().into_iter().collect() } else { list }
}

/// Whether the tab is hidden (read through `document.hidden`, as the browser reports it).
pub fn tab_hidden() -> bool {
    let document = leptos::prelude::document();
    Reflect::get(&document, &JsValue::from_str("hidden")).ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

/// Preferences kept across visits (localStorage).
pub mod prefs {
    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    pub fn get(name: &str) -> Option<String> {
        storage()?.get_item(name).ok()?
    }

    pub fn set(name: &str, value: &str) {
        if let Some(s) = storage() {
            let _ = s.set_item(name, value);
        }
    }
}

/// Browser notifications (opt-in, for lines that mention the reader).
pub mod notify {
    use web_sys::{Notification, NotificationOptions, NotificationPermission};

    pub fn granted() -> bool {
        Notification::permission() == NotificationPermission::Granted
    }

    pub fn denied() -> bool {
        Notification::permission() == NotificationPermission::Denied
    }

    /// Asks for permission (must follow a click); true if granted.
    pub async fn request() -> bool {
        let Ok(promise) = Notification::request_permission() else { return false };
        let answer = wasm_bindgen_futures::JsFuture::from(promise).await;
        answer.ok().and_then(|v| v.as_string()).as_deref() == Some("granted")
    }

    pub fn show(title: &str, body: &str) {
        let options = NotificationOptions::new();
        options.set_body(body);
        options.set_tag("chat-mention");
        let _ = Notification::new_with_options(title, &options);
    }
}
