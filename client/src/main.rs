//! The chat page: Leptos compiled to WebAssembly (built by trunk from ../index.html).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod i18n;
mod socket;
mod state;
mod text;
mod timeline;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod components;

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}

/// The page only runs in a browser; on the host this crate is built for its unit tests.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("chat-client is a web page: build it with `trunk build --release`");
}
