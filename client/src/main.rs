//! The page's entry point (trunk builds this binary; see lib.rs for what is where).

#[cfg(target_arch = "wasm32")]
fn main() {
    chat_client::start();
}

/// The page only runs in a browser; on the host the crate is built for its unit tests.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("chat-client is a web page: build it with `trunk build --release`");
}
