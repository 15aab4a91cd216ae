//! The chat page (Leptos, compiled to WebAssembly by trunk). For now a placeholder that shows
//! the page's frame; the page itself is built in the next step.

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(|| {
        view! {
            <div id="chat">
                <div id="connecting"><div class="wrap">"Connecting to socket.io server"</div></div>
            </div>
        }
    });
}
