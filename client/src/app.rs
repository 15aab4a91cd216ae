//! The page's root component: starts the chat service and lays out the views.

use leptos::prelude::*;

use crate::components::{
    ChannelHead, Channels, Composer, ConnectingOverlay, Lines, NicknameForm, OnlineList, Reports, Toolbar,
    TypingLine,
};
use crate::service;
use crate::state::{Connection, Part};

#[component]
pub fn App() -> impl IntoView {
    let chat = service::start();
    let connection = move || chat.read(Part::Connection, |s| s.connection);
    // The side list, open as a drawer (on a phone; always shown on a wide screen).
    let drawer = RwSignal::new(false);
    // The open channel: the lines view starts afresh in each (scroll place, "new messages").
    let channel = Memo::new(move |_| chat.read(Part::Channels, |s| s.current.clone()));
    view! {
        <main
            id="chat"
            class:connected=move || connection() != Connection::Connecting
            class:nickname-set=move || chat.read(Part::Me, |s| s.me.nickname.is_some())
            class:reconnecting=move || connection() == Connection::Reconnecting
        >
            <Toolbar chat />
            <Reports chat />
            <NicknameForm chat />
            <ConnectingOverlay chat />
            <div id="body">
                <Channels chat open=drawer />
                <div id="conversation" inert=move || drawer.get()>
                    <ChannelHead chat open=drawer />
                    <div id="messages">
                        <OnlineList chat />
                        {move || {
                            channel.track();
                            view! { <Lines chat /> }
                        }}
                    </div>
                    <TypingLine chat />
                    <Composer chat />
                </div>
            </div>
        </main>
    }
}
