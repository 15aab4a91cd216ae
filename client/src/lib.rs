//! The chat page: Leptos compiled to WebAssembly (built by trunk from ../index.html). Where
//! things live: `state/` the page's state and its reducer, `service` the chat service (socket,
//! outbox, typing, notifications) that views receive, `components/` the views, `app` the root;
//! `socket/` the socket.io client, `storage` the tab's sessionStorage, `browser` the browser's
//! clock, preferences and notifications, `i18n` the words, `text` and `timeline` the layout
//! rules. The browser-free parts are also built on the host, for their unit tests.

pub mod i18n;
pub mod socket;
pub mod state;
pub mod text;
pub mod timeline;

#[cfg(all(target_arch = "wasm32", feature = "leak-probe"))]
mod alloc_probe;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod components;
#[cfg(target_arch = "wasm32")]
mod service;
#[cfg(target_arch = "wasm32")]
mod storage;

/// Mounts the page.
#[cfg(target_arch = "wasm32")]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
