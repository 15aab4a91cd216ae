//! The page's root: the chat state, the connection, and the wiring between them. Every server
//! event and connection change goes through `state::apply`; components send intents through
//! [`Chat`].

use chat_shared::protocol::{Answer, ClientEvent, NicknameAck, ServerEvent, SessionGrant};
use chat_shared::{ChatError, MessageText, Nickname};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use crate::components::{Composer, ConnectingOverlay, Lines, NicknameForm, OnlineList};
use crate::socket::{Socket, SocketError, Status};
use crate::state::{ChatEvent, ChatState, Connection, apply, decode};

/// What components may do: read the state, claim a nickname, send a line.
#[derive(Clone, Copy)]
pub struct Chat {
    pub state: RwSignal<ChatState>,
    socket: StoredValue<Socket, LocalStorage>,
}

impl Chat {
    fn apply(&self, event: ChatEvent) {
        self.state.update(|s| apply(s, event));
    }

    /// Claims `raw` as nickname (checked here first, with the same rules as the server).
    pub fn claim_nickname(&self, raw: &str) {
        let nick = match Nickname::parse(raw) {
            Ok(n) => n,
            Err(e) => return self.apply(ChatEvent::NicknameAnswered(NicknameAck::Rejected(e))),
        };
        self.apply(ChatEvent::NicknameRequested(nick.to_string()));
        self.send_claim(nick.to_string());
    }

    fn send_claim(&self, nick: String) {
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer = socket.emit_with_ack(ClientEvent::Nickname, vec![Value::from(nick)]).await;
            chat.apply(match answer.map(|args| NicknameAck::from_args(&args)) {
                Ok(Some(ack)) => ChatEvent::NicknameAnswered(ack),
                Ok(None) => ChatEvent::NicknameFailed("the server's answer was not understood".into()),
                Err(e) => ChatEvent::NicknameFailed(describe(&e).into()),
            });
        });
    }

    /// After a reconnect: takes the nickname back with the resume token, or, without a token
    /// or if the server no longer knows it, by asking for the name again.
    fn reclaim(&self, nick: String) {
        let chat = *self;
        let socket = self.socket.get_value();
        let token = self.state.with_untracked(|s| s.resume_token.clone());
        spawn_local(async move {
            if let Some(token) = token {
                let answer = socket.emit_with_ack(ClientEvent::Resume, vec![Value::from(token)]).await;
                if let Ok(Some(Answer(Ok(grant)))) =
                    answer.map(|args| Answer::<SessionGrant>::from_args(&args))
                {
                    return chat.apply(ChatEvent::Session(grant));
                }
            }
            chat.state.update(|s| s.requested_nickname = Some(nick.clone()));
            chat.send_claim(nick);
        });
    }

    /// Sends a line; it shows at once, and is marked if the server refuses it.
    pub fn send_message(&self, text: MessageText) {
        let mut id = 0;
        self.state.update(|s| {
            id = s.next_line_id();
            apply(s, ChatEvent::Sent { id, text: text.to_string() });
        });
        let chat = *self;
        let socket = self.socket.get_value();
        spawn_local(async move {
            let answer =
                socket.emit_with_ack(ClientEvent::UserMessage, vec![Value::from(text.as_str())]).await;
            let failure = match answer {
                Ok(args) => match args.first() {
                    Some(Value::Null) | None => None,
                    Some(err) => Some(
                        serde_json::from_value::<ChatError>(err.clone())
                            .map(|e| e.message)
                            .unwrap_or_else(|_| "refused".into()),
                    ),
                },
                Err(e) => Some(format!("not sent: {}", describe(&e))),
            };
            if let Some(reason) = failure {
                chat.apply(ChatEvent::SendFailed { id, reason });
            }
        });
    }
}

fn describe(e: &SocketError) -> &'static str {
    match e {
        SocketError::NotConnected => "not connected to the server",
        SocketError::Disconnected => "the connection was lost",
        SocketError::Timeout => "the server did not answer in time",
    }
}

/// The page connects to the server that served it; `?transport=polling` forces long-polling.
fn server_base() -> (String, bool) {
    let location = window().location();
    let base = location.origin().unwrap_or_default();
    let force_polling = location.search().unwrap_or_default().contains("transport=polling");
    (base, force_polling)
}

fn connect(state: RwSignal<ChatState>) -> Chat {
    let (base, force_polling) = server_base();
    let socket = Socket::connect(base, force_polling);
    let chat = Chat { state, socket: StoredValue::new_local(socket.clone()) };
    for event in ServerEvent::ALL {
        socket.on(event, move |args| {
            if let Some(e) = decode(event, args) {
                chat.apply(e);
            }
        });
    }
    socket.on_status(move |status| match status {
        Status::Connecting => {}
        Status::Connected { reconnected, .. } => {
            chat.apply(ChatEvent::Connected { reconnected });
            let reclaim = state.with_untracked(|s| s.reclaiming.then(|| s.nickname.clone()).flatten());
            if let Some(nick) = reclaim {
                chat.reclaim(nick);
            }
        }
        Status::Reconnecting { .. } => {
            if state.with_untracked(|s| s.connection != Connection::Connecting) {
                chat.apply(ChatEvent::Reconnecting);
            }
        }
        Status::Error(e) => chat.apply(ChatEvent::ConnectionError(e)),
    });
    chat
}

#[component]
pub fn App() -> impl IntoView {
    let state = RwSignal::new(ChatState::default());
    let chat = connect(state);
    let connected = move || state.with(|s| s.connection != Connection::Connecting);
    let named = move || state.with(|s| s.nickname.is_some());
    view! {
        <main
            id="chat"
            class:connected=connected
            class:nickname-set=named
            class:reconnecting=move || state.with(|s| s.connection == Connection::Reconnecting)
        >
            <NicknameForm chat />
            <ConnectingOverlay />
            <div id="messages">
                <OnlineList chat />
                <Lines chat />
            </div>
            <Composer chat />
        </main>
    }
}
