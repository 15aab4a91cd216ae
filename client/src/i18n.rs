//! The page's own words in English, Dutch and Korean: one typed table per language, picked from
//! the browser's languages (English as fallback) and switchable. Components never hold text;
//! they ask the table. English error sentences are the shared ones (`ErrorCode::describe`), so
//! the page and the server say the same.

use chat_shared::ErrorCode;

/// A language of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Nl,
    Ko,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Nl, Lang::Ko];

    /// The BCP 47 tag (`<html lang>`, `Intl` formats, the saved choice).
    pub const fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Nl => "nl",
            Self::Ko => "ko",
        }
    }

    /// The language's name in itself (for the switcher).
    pub const fn own_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Nl => "Nederlands",
            Self::Ko => "한국어",
        }
    }

    /// The language of a tag like `ko-KR` or `nl`, if the page has it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Self::ALL.into_iter().find(|l| l.tag() == primary)
    }

    /// The first of the browser's preferred languages the page has; English otherwise.
    pub fn pick<'a>(preferred: impl IntoIterator<Item = &'a str>) -> Lang {
        preferred.into_iter().find_map(Self::from_tag).unwrap_or_default()
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Self::En => &EN,
            Self::Nl => &NL,
            Self::Ko => &KO,
        }
    }
}

/// Every word the page shows. `{nick}`, `{n}`, `{a}`, `{b}` and `{reason}` are filled in by the
/// methods below.
pub struct Texts {
    pub title: &'static str,
    pub connecting: &'static str,
    pub nickname_prompt: &'static str,
    pub message: &'static str,
    pub send: &'static str,
    pub online: &'static str,
    pub messages: &'static str,
    pub me: &'static str,
    pub system: &'static str,
    pub sending: &'static str,
    pub not_sent: &'static str,
    pub retry: &'static str,
    pub load_older: &'static str,
    pub reconnecting: &'static str,
    pub reconnected: &'static str,
    pub going_away: &'static str,
    pub gap: &'static str,
    pub error: &'static str,
    pub connected: &'static str,
    pub disconnected: &'static str,
    /// "{names} and {count} others" (many people at once).
    pub and_others: &'static str,
    pub typing_one: &'static str,
    pub typing_two: &'static str,
    pub typing_many: &'static str,
    pub new_messages: &'static str,
    pub jump_to_newest: &'static str,
    pub notify_mentions: &'static str,
    /// A notification's title for a direct message: "{nick} wrote to you".
    pub direct_from: &'static str,
    /// The side list (its landmark name, and the button that opens it on a phone).
    pub channels: &'static str,
    pub rooms: &'static str,
    pub directs: &'static str,
    pub room_name: &'static str,
    pub join_room: &'static str,
    pub leave_room: &'static str,
    /// A name's button in the online list: "Message {nick}".
    pub message_person: &'static str,
    /// A badge: "{n} unread".
    pub unread: &'static str,
    pub switch_hint: &'static str,
    pub no_directs: &'static str,
    pub in_room: &'static str,
    /// The message field's placeholder in a room or a direct conversation.
    pub message_in: &'static str,
    /// Taking one's owned nickname to another device with a key.
    pub other_device: &'static str,
    pub device_key_intro: &'static str,
    pub have_key: &'static str,
    pub key_label: &'static str,
    pub use_key: &'static str,
    pub key_invalid: &'static str,
    pub close: &'static str,
    /// A badge with a line for the reader (a mention, or a direct message).
    pub for_you: &'static str,
    pub notifications_blocked: &'static str,
    pub mentioned_you: &'static str,
    pub language: &'static str,
    pub forget_me: &'static str,
    pub join: &'static str,
    pub about_default: &'static str,
    pub online_now: &'static str,
    pub forget_me_confirm: &'static str,
    pub nickname_kept: &'static str,
    pub today: &'static str,
    pub yesterday: &'static str,
    pub multiline_hint: &'static str,
    pub not_connected: &'static str,
    pub connection_lost: &'static str,
    pub no_answer: &'static str,
    pub not_understood: &'static str,
    /// Moderation: roles, the menus of a line and of a name, the reports, what the reader is told.
    pub role_moderator: &'static str,
    pub role_owner: &'static str,
    pub role_room_moderator: &'static str,
    pub line_actions: &'static str,
    pub report: &'static str,
    pub report_reason: &'static str,
    pub reported: &'static str,
    pub delete_line: &'static str,
    pub delete_confirm: &'static str,
    pub reason_prompt: &'static str,
    pub person_actions: &'static str,
    pub mute: &'static str,
    pub kick: &'static str,
    pub ban: &'static str,
    pub ban_confirm: &'static str,
    pub reports: &'static str,
    pub no_reports: &'static str,
    pub close_report: &'static str,
    pub reported_by: &'static str,
    pub muted_you: &'static str,
    pub muted_you_in: &'static str,
    pub unmuted_you: &'static str,
    pub kicked_you: &'static str,
    pub banned_you: &'static str,
    pub reason_is: &'static str,
    pub rules_slow: &'static str,
    pub rules_locked: &'static str,
    pub rules_open: &'static str,
    pub audit_reason: &'static str,
    pub purge: &'static str,
    pub purge_confirm: &'static str,
    pub rules_topic: &'static str,
    pub room_settings: &'static str,
    pub slow_on: &'static str,
    pub slow_off: &'static str,
    pub lock: &'static str,
    pub unlock: &'static str,
    pub set_topic: &'static str,
    pub topic_prompt: &'static str,
    pub audit_log: &'static str,
    /// The error sentences by code; `None`: the shared English one.
    errors: Option<fn(ErrorCode) -> &'static str>,
}

impl Texts {
    pub fn announce_connected(&self, nick: &str) -> String {
        self.connected.replace("{nick}", nick)
    }

    pub fn announce_disconnected(&self, nick: &str) -> String {
        self.disconnected.replace("{nick}", nick)
    }

    /// "Ana, Bo, Cy and 97 others".
    pub fn and_others(&self, names: &[String], others: usize) -> String {
        self.and_others.replace("{names}", &names.join(", ")).replace("{count}", &others.to_string())
    }

    pub fn not_sent_because(&self, reason: &str) -> String {
        self.not_sent.replace("{reason}", reason)
    }

    pub fn error_line(&self, reason: &str) -> String {
        self.error.replace("{reason}", reason)
    }

    /// "Ana is typing…", "Ana and Bob are typing…", "Ana and 2 others are typing…"; None when
    /// nobody is.
    pub fn typing(&self, names: &[String]) -> Option<String> {
        Some(match names {
            [] => return None,
            [a] => self.typing_one.replace("{a}", a),
            [a, b] => self.typing_two.replace("{a}", a).replace("{b}", b),
            [a, rest @ ..] => self.typing_many.replace("{a}", a).replace("{n}", &rest.len().to_string()),
        })
    }

    /// The tab's title: "(3) Chat" with unread lines.
    /// The tab's title: the chat's `name`, after the unread count if there is one.
    pub fn title_with_unread(&self, name: &str, unread: u32) -> String {
        match unread {
            0 => name.to_owned(),
            n => format!("({n}) {name}"),
        }
    }

    /// "12 online now".
    pub fn online_count(&self, n: u64) -> String {
        self.online_now.replace("{n}", &n.to_string())
    }

    /// A badge's words: "3 unread", and "for you" when one of them is.
    pub fn unread_badge(&self, n: u32, for_you: bool) -> String {
        let unread = self.unread.replace("{n}", &n.to_string());
        if for_you { format!("{unread}, {}", self.for_you) } else { unread }
    }

    /// The sentence for an error code, in this language.
    pub fn error_text(&self, code: ErrorCode) -> &'static str {
        self.errors.map_or_else(|| code.describe(), |f| f(code))
    }
}

const EN: Texts = Texts {
    title: "Chat",
    connecting: "Connecting to socket.io server",
    nickname_prompt: "Please type in your nickname and press enter.",
    message: "Message",
    send: "Send",
    online: "Online:",
    messages: "Messages",
    me: "me",
    system: "System",
    sending: "sending…",
    not_sent: "not sent: {reason}",
    retry: "Retry",
    load_older: "Load earlier messages",
    reconnecting: "Attempting to re-connect to the server",
    reconnected: "Reconnected to the server",
    going_away: "The server is restarting: reconnecting in a moment",
    gap: "Some older lines are not shown",
    error: "Error: {reason}",
    connected: "{nick} connected",
    disconnected: "{nick} disconnected",
    and_others: "{names} and {count} others",
    typing_one: "{a} is typing…",
    typing_two: "{a} and {b} are typing…",
    typing_many: "{a} and {n} others are typing…",
    new_messages: "New messages",
    jump_to_newest: "Jump to newest",
    notify_mentions: "Notify me when I am mentioned",
    direct_from: "{nick} wrote to you",
    channels: "Rooms and people",
    rooms: "Rooms",
    directs: "Direct messages",
    room_name: "Join or create a room",
    join_room: "Join",
    leave_room: "Leave room",
    message_person: "Message {nick}",
    unread: "{n} unread",
    switch_hint: "Alt+↑ and Alt+↓ switch rooms",
    no_directs: "Pick a name in the online list to write to them alone.",
    in_room: "In this room:",
    message_in: "Message {channel}",
    other_device: "Use on another device",
    device_key_intro: "To be {nick} on another device (a phone, another browser), open this chat there, choose “I have a key” and enter this key. Keep it to yourself: whoever has it can be {nick}. One device at a time is {nick}.",
    have_key: "I have a key from another device",
    key_label: "Key",
    use_key: "Use the key",
    key_invalid: "That is not a key of this chat",
    close: "Close",
    for_you: "for you",
    notifications_blocked: "Notifications are blocked in this browser",
    mentioned_you: "{nick} mentioned you",
    language: "Language",
    forget_me: "Forget me",
    join: "Join",
    about_default: "Pick a nickname and talk with everyone who is here.",
    online_now: "{n} online now",
    forget_me_confirm: "Give up the nickname {nick} on this browser? Anyone may take it after this.",
    nickname_kept: "Your nickname stays yours on this browser, also after you leave.",
    today: "Today",
    yesterday: "Yesterday",
    multiline_hint: "Enter sends, Shift+Enter starts a new line",
    not_connected: "not connected to the server",
    connection_lost: "the connection was lost",
    no_answer: "the server did not answer in time",
    not_understood: "the server's answer was not understood",
    role_moderator: "moderator",
    role_owner: "room owner",
    role_room_moderator: "room moderator",
    line_actions: "Actions for this line",
    report: "Report",
    report_reason: "Why should a moderator look at this line?",
    reported: "Thank you: the moderators will look at it.",
    delete_line: "Delete for everyone",
    delete_confirm: "Delete this line for everyone? This cannot be undone.",
    reason_prompt: "Reason, shown to {nick} (may be empty):",
    person_actions: "Moderate {nick}",
    mute: "Mute for 10 minutes",
    kick: "Disconnect",
    ban: "Ban for a day",
    ban_confirm: "Ban {nick} for a day? They are disconnected and cannot come back as {nick}.",
    reports: "Reports",
    no_reports: "No open reports.",
    close_report: "Done",
    reported_by: "reported by {nick}",
    muted_you: "{nick} muted you until {time}.",
    muted_you_in: "{nick} muted you in {room} until {time}.",
    unmuted_you: "{nick} unmuted you.",
    kicked_you: "{nick} disconnected you.",
    banned_you: "{nick} banned you until {time}.",
    reason_is: "Reason: {reason}",
    rules_slow: "{room}: one line per {n} seconds per person.",
    rules_locked: "{room} is locked: only its moderators post.",
    rules_open: "{room} is open to everyone.",
    audit_reason: "Reason, for the moderators' log (may be empty):",
    purge: "Remove their recent lines here",
    purge_confirm: "Delete {nick}'s recent lines here for everyone? This cannot be undone.",
    rules_topic: "Topic of {room}: {topic}",
    room_settings: "Room settings",
    slow_on: "Slow mode: one line per {n} s each",
    slow_off: "End slow mode",
    lock: "Lock: only moderators post",
    unlock: "Unlock",
    set_topic: "Set the topic…",
    topic_prompt: "The room's topic:",
    audit_log: "Recent moderation actions",
    errors: None,
};

const NL: Texts = Texts {
    title: "Chat",
    connecting: "Verbinden met de socket.io-server",
    nickname_prompt: "Typ je bijnaam en druk op Enter.",
    message: "Bericht",
    send: "Versturen",
    online: "Online:",
    messages: "Berichten",
    me: "ik",
    system: "Systeem",
    sending: "versturen…",
    not_sent: "niet verstuurd: {reason}",
    retry: "Opnieuw",
    load_older: "Eerdere berichten laden",
    reconnecting: "Opnieuw verbinden met de server",
    reconnected: "Weer verbonden met de server",
    going_away: "De server start opnieuw: zo meteen weer verbonden",
    gap: "Sommige oudere regels worden niet getoond",
    error: "Fout: {reason}",
    connected: "{nick} is binnengekomen",
    disconnected: "{nick} is vertrokken",
    and_others: "{names} en {count} anderen",
    typing_one: "{a} typt…",
    typing_two: "{a} en {b} typen…",
    typing_many: "{a} en {n} anderen typen…",
    new_messages: "Nieuwe berichten",
    jump_to_newest: "Naar het nieuwste",
    notify_mentions: "Meld het als iemand mij noemt",
    direct_from: "{nick} schreef je",
    channels: "Kamers en mensen",
    rooms: "Kamers",
    directs: "Privéberichten",
    room_name: "Kamer openen of maken",
    join_room: "Open",
    leave_room: "Kamer verlaten",
    message_person: "Bericht aan {nick}",
    unread: "{n} ongelezen",
    switch_hint: "Alt+↑ en Alt+↓ wisselen van kamer",
    no_directs: "Kies een naam in de lijst van wie er is om alleen die persoon te schrijven.",
    in_room: "In deze kamer:",
    message_in: "Bericht in {channel}",
    other_device: "Op een ander apparaat gebruiken",
    device_key_intro: "Om {nick} te zijn op een ander apparaat (een telefoon, een andere browser): open deze chat daar, kies „Ik heb een sleutel” en vul deze sleutel in. Houd hem voor jezelf: wie hem heeft kan {nick} zijn. Eén apparaat tegelijk is {nick}.",
    have_key: "Ik heb een sleutel van een ander apparaat",
    key_label: "Sleutel",
    use_key: "Sleutel gebruiken",
    key_invalid: "Dat is geen sleutel van deze chat",
    close: "Sluiten",
    for_you: "voor jou",
    notifications_blocked: "Meldingen zijn geblokkeerd in deze browser",
    mentioned_you: "{nick} noemde je",
    language: "Taal",
    forget_me: "Vergeet mij",
    join: "Meedoen",
    about_default: "Kies een bijnaam en praat met iedereen die er is.",
    online_now: "{n} nu online",
    forget_me_confirm: "De bijnaam {nick} opgeven in deze browser? Daarna kan iedereen hem nemen.",
    nickname_kept: "Je bijnaam blijft van jou in deze browser, ook als je weggaat.",
    today: "Vandaag",
    yesterday: "Gisteren",
    multiline_hint: "Enter verstuurt, Shift+Enter begint een nieuwe regel",
    not_connected: "niet verbonden met de server",
    connection_lost: "de verbinding is verbroken",
    no_answer: "de server antwoordde niet op tijd",
    not_understood: "het antwoord van de server was onleesbaar",
    role_moderator: "moderator",
    role_owner: "eigenaar van de kamer",
    role_room_moderator: "moderator van de kamer",
    line_actions: "Acties voor deze regel",
    report: "Melden",
    report_reason: "Waarom moet een moderator naar deze regel kijken?",
    reported: "Dank je: de moderators kijken ernaar.",
    delete_line: "Voor iedereen verwijderen",
    delete_confirm: "Deze regel voor iedereen verwijderen? Dit kan niet ongedaan worden.",
    reason_prompt: "Reden, te zien voor {nick} (mag leeg):",
    person_actions: "{nick} modereren",
    mute: "10 minuten dempen",
    kick: "Verbinding verbreken",
    ban: "Een dag verbannen",
    ban_confirm: "{nick} een dag verbannen? De verbinding wordt verbroken en de naam {nick} is zolang niet te gebruiken.",
    reports: "Meldingen",
    no_reports: "Geen open meldingen.",
    close_report: "Afgehandeld",
    reported_by: "gemeld door {nick}",
    muted_you: "{nick} heeft je gedempt tot {time}.",
    muted_you_in: "{nick} heeft je gedempt in {room} tot {time}.",
    unmuted_you: "{nick} heeft je demping opgeheven.",
    kicked_you: "{nick} heeft je verbinding verbroken.",
    banned_you: "{nick} heeft je verbannen tot {time}.",
    reason_is: "Reden: {reason}",
    rules_slow: "{room}: één regel per {n} seconden per persoon.",
    rules_locked: "{room} is op slot: alleen de moderators schrijven.",
    rules_open: "{room} is open voor iedereen.",
    audit_reason: "Reden, voor het logboek van de moderators (mag leeg):",
    purge: "Hun recente regels hier verwijderen",
    purge_confirm: "De recente regels van {nick} hier voor iedereen verwijderen? Dit kan niet ongedaan worden.",
    rules_topic: "Onderwerp van {room}: {topic}",
    room_settings: "Kamerinstellingen",
    slow_on: "Langzame modus: één regel per {n} s per persoon",
    slow_off: "Langzame modus uit",
    lock: "Op slot: alleen moderators schrijven",
    unlock: "Van het slot",
    set_topic: "Onderwerp instellen…",
    topic_prompt: "Het onderwerp van de kamer:",
    audit_log: "Recente moderatie",
    errors: Some(|code| match code {
        ErrorCode::NicknameEmpty => "Typ een bijnaam",
        ErrorCode::NicknameTooLong => "Die bijnaam is te lang",
        ErrorCode::NicknameInvalidChar => "Die bijnaam bevat tekens die niet zijn toegestaan",
        ErrorCode::NicknameReserved => "Die bijnaam is gereserveerd",
        ErrorCode::NicknameTaken => "Die bijnaam is al in gebruik",
        ErrorCode::AlreadyNamed => "Je hebt al een bijnaam",
        ErrorCode::MessageEmpty => "Het bericht is leeg",
        ErrorCode::MessageTooLong => "Dat bericht is te lang",
        ErrorCode::MessageInvalidChar => "Dat bericht bevat tekens die niet zijn toegestaan",
        ErrorCode::NotNamed => "Kies een bijnaam voordat je berichten stuurt",
        ErrorCode::BadPayload => "De server kon dat verzoek niet lezen",
        ErrorCode::RateLimited => "Te veel verzoeken: doe het wat rustiger aan",
        ErrorCode::ResumeInvalid => "Die sessie kan niet worden hervat: kies een bijnaam",
        ErrorCode::Unavailable => "De server kon dat niet opslaan: probeer het opnieuw",
        ErrorCode::SignedInElsewhere => "Je bent aangemeld in een ander tabblad",
        ErrorCode::NicknameOwned => "Die bijnaam is van iemand anders",
        ErrorCode::RoomNameInvalid => "Een kamernaam is één woord van letters, cijfers, - of _",
        ErrorCode::TopicInvalid => "Een onderwerp is één regel van hoogstens 200 tekens",
        ErrorCode::RoomNotFound => "Die kamer bestaat niet",
        ErrorCode::RoomExists => "Die kamer bestaat al",
        ErrorCode::TooManyRooms => "De chat heeft al zoveel kamers als mag",
        ErrorCode::NotInRoom => "Ga eerst die kamer binnen",
        ErrorCode::OwnerOnly => "Alleen een bijnaam die van jou is kan privéberichten sturen of lezen",
        ErrorCode::NoSuchOwner => "Privéberichten gaan alleen naar andermans vaste bijnaam",
        ErrorCode::NotModerator => "Alleen een moderator mag dat",
        ErrorCode::Muted => "Een moderator heeft je gedempt: je kunt nu niet schrijven",
        ErrorCode::Banned => "Een moderator heeft je voorlopig verbannen",
        ErrorCode::SlowMode => "Deze kamer staat in langzame modus: wacht even",
        ErrorCode::RoomLocked => "Deze kamer is op slot: alleen de moderators schrijven",
        ErrorCode::NoSuchLine => "Die regel bestaat niet",
        ErrorCode::TooManyUnreceived => "Er zijn te veel antwoorden onderweg: probeer het zo opnieuw",
    }),
};

const KO: Texts = Texts {
    title: "채팅",
    connecting: "socket.io 서버에 연결하는 중",
    nickname_prompt: "닉네임을 입력하고 Enter 키를 누르세요.",
    message: "메시지",
    send: "보내기",
    online: "접속 중:",
    messages: "메시지",
    me: "나",
    system: "시스템",
    sending: "보내는 중…",
    not_sent: "보내지 못함: {reason}",
    retry: "다시 시도",
    load_older: "이전 메시지 불러오기",
    reconnecting: "서버에 다시 연결하는 중",
    reconnected: "서버에 다시 연결되었습니다",
    going_away: "서버가 다시 시작하는 중입니다: 곧 다시 연결합니다",
    gap: "일부 이전 메시지는 표시되지 않습니다",
    error: "오류: {reason}",
    connected: "{nick}님이 들어왔습니다",
    disconnected: "{nick}님이 나갔습니다",
    and_others: "{names} 외 {count}명",
    typing_one: "{a}님이 입력하는 중…",
    typing_two: "{a}님과 {b}님이 입력하는 중…",
    typing_many: "{a}님 외 {n}명이 입력하는 중…",
    new_messages: "새 메시지",
    jump_to_newest: "최신 메시지로 이동",
    notify_mentions: "누군가 나를 언급하면 알림 받기",
    direct_from: "{nick} 님이 메시지를 보냈어요",
    channels: "방과 사람",
    rooms: "방",
    directs: "개인 메시지",
    room_name: "방 들어가기 또는 만들기",
    join_room: "들어가기",
    leave_room: "방 나가기",
    message_person: "{nick} 님에게 메시지",
    unread: "읽지 않음 {n}개",
    switch_hint: "Alt+↑ 와 Alt+↓ 로 방을 바꿔요",
    no_directs: "접속 중 목록에서 이름을 고르면 그 사람에게만 쓸 수 있어요.",
    in_room: "이 방에 있는 사람:",
    message_in: "{channel}에 메시지",
    other_device: "다른 기기에서 사용",
    device_key_intro: "다른 기기(휴대폰, 다른 브라우저)에서 {nick}(으)로 쓰려면 거기서 이 채팅을 열고 “키가 있어요”를 고른 뒤 이 키를 입력하세요. 키는 혼자만 가지고 계세요: 키가 있으면 누구나 {nick}이(가) 될 수 있어요. 한 번에 한 기기만 {nick}입니다.",
    have_key: "다른 기기에서 받은 키가 있어요",
    key_label: "키",
    use_key: "키 사용",
    key_invalid: "이 채팅의 키가 아니에요",
    close: "닫기",
    for_you: "나에게 온 것 포함",
    notifications_blocked: "이 브라우저에서 알림이 차단되어 있습니다",
    mentioned_you: "{nick}님이 회원님을 언급했습니다",
    language: "언어",
    forget_me: "나를 잊기",
    join: "입장",
    about_default: "닉네임을 정하고 여기 있는 모두와 이야기하세요.",
    online_now: "지금 {n}명 접속 중",
    forget_me_confirm: "이 브라우저에서 닉네임 {nick}을(를) 포기할까요? 이후 누구나 사용할 수 있습니다.",
    nickname_kept: "나간 후에도 이 브라우저에서는 닉네임이 계속 내 것으로 유지됩니다.",
    today: "오늘",
    yesterday: "어제",
    multiline_hint: "Enter 키로 보내고 Shift+Enter 키로 줄을 바꿉니다",
    not_connected: "서버에 연결되어 있지 않습니다",
    connection_lost: "연결이 끊어졌습니다",
    no_answer: "서버가 제때 응답하지 않았습니다",
    not_understood: "서버의 응답을 이해할 수 없습니다",
    role_moderator: "관리자",
    role_owner: "방장",
    role_room_moderator: "방 관리자",
    line_actions: "이 줄에 대한 작업",
    report: "신고",
    report_reason: "관리자가 이 줄을 봐야 하는 이유는 무엇인가요?",
    reported: "감사합니다: 관리자가 확인할 거예요.",
    delete_line: "모두에게서 삭제",
    delete_confirm: "이 줄을 모두에게서 삭제할까요? 되돌릴 수 없어요.",
    reason_prompt: "{nick}에게 보여 줄 이유 (비워도 돼요):",
    person_actions: "{nick} 관리",
    mute: "10분 동안 말 막기",
    kick: "연결 끊기",
    ban: "하루 동안 차단",
    ban_confirm: "{nick}을(를) 하루 동안 차단할까요? 연결이 끊기고 {nick}(으)로 돌아올 수 없어요.",
    reports: "신고",
    no_reports: "열린 신고가 없어요.",
    close_report: "처리 완료",
    reported_by: "{nick} 님의 신고",
    muted_you: "{nick} 님이 {time}까지 말을 막았어요.",
    muted_you_in: "{nick} 님이 {room}에서 {time}까지 말을 막았어요.",
    unmuted_you: "{nick} 님이 말 막기를 풀었어요.",
    kicked_you: "{nick} 님이 연결을 끊었어요.",
    banned_you: "{nick} 님이 {time}까지 차단했어요.",
    reason_is: "이유: {reason}",
    rules_slow: "{room}: 한 사람당 {n}초에 한 줄.",
    rules_locked: "{room}은(는) 잠겼어요: 관리자만 쓸 수 있어요.",
    rules_open: "{room}은(는) 모두에게 열려 있어요.",
    audit_reason: "관리 기록에 남길 이유 (비워도 돼요):",
    purge: "여기서 최근 줄 지우기",
    purge_confirm: "{nick}의 최근 줄을 여기서 모두에게서 지울까요? 되돌릴 수 없어요.",
    rules_topic: "{room} 주제: {topic}",
    room_settings: "방 설정",
    slow_on: "느린 모드: 한 사람당 {n}초에 한 줄",
    slow_off: "느린 모드 끄기",
    lock: "잠그기: 관리자만 쓰기",
    unlock: "잠금 풀기",
    set_topic: "주제 정하기…",
    topic_prompt: "방의 주제:",
    audit_log: "최근 관리 기록",
    errors: Some(|code| match code {
        ErrorCode::NicknameEmpty => "닉네임을 입력하세요",
        ErrorCode::NicknameTooLong => "닉네임이 너무 깁니다",
        ErrorCode::NicknameInvalidChar => "닉네임에 사용할 수 없는 문자가 있습니다",
        ErrorCode::NicknameReserved => "예약된 닉네임입니다",
        ErrorCode::NicknameTaken => "이미 사용 중인 닉네임입니다",
        ErrorCode::AlreadyNamed => "이미 닉네임이 있습니다",
        ErrorCode::MessageEmpty => "메시지가 비어 있습니다",
        ErrorCode::MessageTooLong => "메시지가 너무 깁니다",
        ErrorCode::MessageInvalidChar => "메시지에 사용할 수 없는 문자가 있습니다",
        ErrorCode::NotNamed => "메시지를 보내기 전에 닉네임을 정하세요",
        ErrorCode::BadPayload => "서버가 요청을 읽을 수 없습니다",
        ErrorCode::RateLimited => "요청이 너무 많습니다: 잠시 천천히 보내세요",
        ErrorCode::ResumeInvalid => "세션을 이어갈 수 없습니다: 닉네임을 정하세요",
        ErrorCode::Unavailable => "서버가 저장하지 못했습니다: 다시 시도하세요",
        ErrorCode::SignedInElsewhere => "다른 탭에서 로그인되어 있습니다",
        ErrorCode::NicknameOwned => "다른 사람이 소유한 닉네임입니다",
        ErrorCode::RoomNameInvalid => "방 이름은 글자, 숫자, - 또는 _로 된 한 단어여야 합니다",
        ErrorCode::TopicInvalid => "주제는 200자 이내의 한 줄이어야 합니다",
        ErrorCode::RoomNotFound => "그런 방이 없습니다",
        ErrorCode::RoomExists => "이미 있는 방입니다",
        ErrorCode::TooManyRooms => "더 이상 방을 만들 수 없습니다",
        ErrorCode::NotInRoom => "먼저 그 방에 들어가세요",
        ErrorCode::OwnerOnly => "내 것으로 지킨 닉네임만 개인 메시지를 보내거나 읽을 수 있어요",
        ErrorCode::NoSuchOwner => "개인 메시지는 다른 사람이 지킨 닉네임에게만 보낼 수 있어요",
        ErrorCode::NotModerator => "관리자만 할 수 있어요",
        ErrorCode::Muted => "관리자가 말을 막았어요: 지금은 쓸 수 없어요",
        ErrorCode::Banned => "관리자가 당분간 차단했어요",
        ErrorCode::SlowMode => "이 방은 느린 모드예요: 잠시 기다려 주세요",
        ErrorCode::RoomLocked => "이 방은 잠겼어요: 관리자만 쓸 수 있어요",
        ErrorCode::NoSuchLine => "그런 줄이 없어요",
        ErrorCode::TooManyUnreceived => "오고 있는 응답이 너무 많아요: 잠시 후 다시 해 보세요",
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_preferred_language_it_has_else_english() {
        assert_eq!(Lang::pick(["ko-KR", "en-US"]), Lang::Ko);
        assert_eq!(Lang::pick(["fr-FR", "nl-BE"]), Lang::Nl);
        assert_eq!(Lang::pick(["fr", "de"]), Lang::En);
        assert_eq!(Lang::pick([]), Lang::En);
        assert_eq!(Lang::from_tag("NL"), Some(Lang::Nl));
    }

    #[test]
    fn fills_in_names_and_counts() {
        let en = Lang::En.texts();
        assert_eq!(en.typing(&[]), None);
        assert_eq!(en.typing(&["Ana".into()]).as_deref(), Some("Ana is typing…"));
        let three = ["Ana".into(), "Bob".into(), "Cy".into()];
        assert_eq!(en.typing(&three).as_deref(), Some("Ana and 2 others are typing…"));
        assert_eq!(Lang::Ko.texts().typing(&three).as_deref(), Some("Ana님 외 2명이 입력하는 중…"));
        assert_eq!(en.title_with_unread(en.title, 3), "(3) Chat");
        assert_eq!(en.online_count(12), "12 online now");
        assert_eq!(en.announce_connected("Ana"), "Ana connected");
        assert_eq!(Lang::Nl.texts().announce_disconnected("Ana"), "Ana is vertrokken");
        let names = ["Ana".to_string(), "Bo".to_string()];
        assert_eq!(en.announce_connected(&en.and_others(&names, 97)), "Ana, Bo and 97 others connected");
    }

    #[test]
    fn every_language_words_every_error_and_english_is_the_shared_sentence() {
        let code = ErrorCode::NicknameTaken;
        assert_eq!(Lang::En.texts().error_text(code), code.describe());
        for lang in [Lang::Nl, Lang::Ko] {
            assert_ne!(lang.texts().error_text(code), code.describe(), "{lang:?}");
        }
    }

    /// The topic's limit is written out in the texts (they are `&'static str`): a change of
    /// `ROOM_TOPIC_MAX_CHARS` must change them too.
    #[test]
    fn the_topics_limit_written_in_every_language_is_the_shared_one() {
        let limit = chat_shared::limits::ROOM_TOPIC_MAX_CHARS.to_string();
        for lang in [Lang::En, Lang::Nl, Lang::Ko] {
            let text = lang.texts().error_text(ErrorCode::TopicInvalid);
            assert!(text.contains(&limit), "{lang:?}: {text}");
        }
    }
}
