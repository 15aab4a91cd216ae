//! Every limit of the chat, named once. docs/protocol.md lists them; change them here only.

use std::time::Duration;

/// Longest nickname, in Unicode scalar values (chars) after trimming and NFC normalisation.
pub const NICKNAME_MAX_CHARS: usize = 32;

/// Longest message, in chars after trimming surrounding whitespace.
pub const MESSAGE_MAX_CHARS: usize = 2_000;

/// Largest engine.io payload the server accepts from a client, in bytes (a WebSocket
/// message, or a long-polling POST body). Bigger ones close that client's connection.
/// A maximal message (2,000 chars, each escaped by JSON to at most 12 bytes) fits.
pub const MAX_PAYLOAD_BYTES: u64 = 64 * 1024;

/// Packets the server queues for one connection before it counts that reader as too slow.
/// A full queue is never a silent loss: the connection gets nothing more and is closed as
/// soon as its close can be queued, so that it reconnects (and, with history, resumes).
/// Sized so that a join storm of 1,000 users (one announcement each) fits even for a client
/// that reads nothing meanwhile, while a slow reader costs at most ~2,048 small packets
/// (a few hundred KiB): past that, resuming from history is cheaper than queueing.
pub const MAX_BUFFERED_PACKETS: usize = 2_048;

/// How long an engine.io session may stay open without joining the chat (the socket.io
/// namespace connect, `40`): a page joins within a round trip of opening; a session that
/// never does, or whose every join was refused, is closed after this (socketioxide's default
/// is 45 s). This is what bounds sessions that are open but not counted as connections.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an owned nickname stays reserved for its owner after its last use (the default
/// of `--nickname-reservation`, in days): nobody else may claim it meanwhile.
pub const NICKNAME_RESERVATION_DAYS: u32 = 30;

/// Length of an owner secret, in hex digits (128 random bits, issued by the server).
pub const OWNER_SECRET_HEX: usize = 32;

/// Per client address (while per-address limits are on): claims that create an owned nickname
/// (a fresh owner secret) — a burst of this many...
pub const ADDRESS_NEW_OWNERS_BURST: u32 = 50;
/// ...then this many per hour. Past it a claim is granted as an ephemeral nickname (no owner
/// secret): the person chats, but one address cannot squat names by the thousand.
pub const ADDRESS_NEW_OWNERS_PER_HOUR: u32 = 20;

/// Longest room name, in chars.
pub const ROOM_NAME_MAX_CHARS: usize = 32;
/// Longest room topic, in chars.
pub const ROOM_TOPIC_MAX_CHARS: usize = 200;
/// Rooms a chat holds at most (`general` included): past it `create room` is refused.
pub const ROOMS_MAX: usize = 100;
/// Rooms one connection may create: a burst of this many...
pub const ROOM_CREATE_BURST: u32 = 3;
/// ...then this many per hour.
pub const ROOM_CREATES_PER_HOUR: u32 = 10;

/// Conversations (direct messages with one person each) `conversations` answers at most: the
/// ones with the newest lines. Direct messages count against the message rate.
pub const CONVERSATIONS_MAX: usize = 200;

/// Longest chat name an operator sets (`--chat-name`), in chars.
pub const CHAT_NAME_MAX_CHARS: usize = 64;
/// Longest line about the chat an operator sets (`--chat-about`), in chars.
pub const CHAT_ABOUT_MAX_CHARS: usize = 280;

/// Messages one connection may send: a burst of this many...
pub const MESSAGE_BURST: u32 = 20;
/// ...refilled at this many per second.
pub const MESSAGES_PER_SECOND: u32 = 5;

/// Nickname attempts one connection may make: a burst of this many...
pub const NICKNAME_BURST: u32 = 20;
/// ...refilled at this many per minute.
pub const NICKNAME_ATTEMPTS_PER_MINUTE: u32 = 30;

/// A connection refused this many times for its rate within [`FLOOD_WINDOW`] is flooding: it
/// is closed (its queued answers alone would otherwise keep the server busy). Counted in a
/// window, not "in a row", so that a token refilled now and then does not excuse a flood.
pub const FLOOD_CLOSE_AFTER: u32 = 200;
/// The window for [`FLOOD_CLOSE_AFTER`].
pub const FLOOD_WINDOW: Duration = Duration::from_secs(10);

/// Per client address (only while per-address limits are on, i.e.
/// `CHAT_MAX_CONNECTIONS_PER_ADDRESS` is not 0; behind a proxy they are off): the address a
/// flooder was closed from may not connect again for this long (new connections only: the
/// address's open connections, e.g. others behind the same NAT, keep chatting;
/// docs/operations.md, "Security", says why it is kept)...
pub const FLOOD_PENALTY: Duration = Duration::from_secs(60);
/// ...an IPv6 /48 (one site: a tunnel broker hands one out for free, 65,536 /64s) may hold
/// this many times the per-address connection limit, all its /64s together, and has this many
/// times every per-address rate (and a flood's penalty covers it)...
pub const NETWORK_ADDRESSES: usize = 4;
/// ...an address may open new connections at this rate per minute, after a burst as large as
/// its connection limit (reconnecting must not reset the per-connection limits)...
pub const ADDRESS_CONNECTS_PER_MINUTE: u32 = 60;
/// ...new engine.io sessions (handshakes: a polling open or a WebSocket without a session id)
/// at this rate per minute, after a burst of twice its connection limit: a session that never
/// joins is not a connection, and would otherwise be free to open at line rate (each lives
/// for [`CONNECT_TIMEOUT`]); an honest client opens one per connection...
pub const ADDRESS_HANDSHAKES_PER_MINUTE: u32 = 120;
/// ...and all of an address's connections together may send messages in a burst of this
/// many...
pub const ADDRESS_MESSAGE_BURST: u32 = 60;
/// ...refilled at this many per second (many connections must not multiply the rate).
pub const ADDRESS_MESSAGES_PER_SECOND: u32 = 20;

/// The fastest the server re-sends the `nicknames` map to everyone while names keep
/// changing (join storms are coalesced into one map per interval)...
pub const NICKNAMES_MIN_INTERVAL: Duration = Duration::from_millis(50);
/// ...plus this much per online user, so that the bytes sent per second stay bounded as
/// the map grows (1,000 users: one map every 550 ms at most).
pub const NICKNAMES_INTERVAL_PER_USER: Duration = Duration::from_micros(500);
/// Connections waiting to be accepted (the listen backlog; the kernel caps it at
/// net.core.somaxconn, 4,096 on Debian 12). tokio's default of 1,024 dropped part of a crowd
/// arriving at once, and a dropped SYN is retried 1, 3, 7, 15 and 31 s later: a join storm of
/// 10,000 had a tail of 44 s.
pub const LISTEN_BACKLOG: u32 = 16_384;

/// While only clients that asked for changes (`presence=changes`) are connected, the map is
/// never re-sent to everyone, and `presence` changes go out at most this often.
pub const PRESENCE_INTERVAL: Duration = Duration::from_millis(100);
/// A page shows a `presence` change with up to this many names as one line per person, a
/// bigger one as one line ("Ana, Bo, Cy and 97 others connected").
pub const PRESENCE_LINES_MAX: usize = 3;

/// Names nobody may take, because the page uses them for itself (compared as nickname keys).
pub const RESERVED_NICKNAMES: &[&str] = &["system", "me", "server", "admin", "moderator"];

/// While per-address limits are on, one client address may hold this many times its socket.io
/// connection limit in open TCP connections, and at least [`TCP_CONNECTIONS_PER_ADDRESS_MIN`]
/// (its pages' HTTP requests besides their sockets: a browser opens up to 6 at once; an IPv6
/// /48, `NETWORK_ADDRESSES` times that): more are closed as they are accepted, before HTTP
/// reads a byte. A reverse proxy listed in `CHAT_TRUSTED_PROXIES` is not capped.
pub const TCP_CONNECTIONS_PER_ADDRESS_FACTOR: usize = 4;
pub const TCP_CONNECTIONS_PER_ADDRESS_MIN: usize = 32;

/// How often the server pings each engine.io connection, and how long the client has to answer
/// (socket.io's defaults): a connection that does not answer is closed.
pub const PING_INTERVAL: Duration = Duration::from_secs(25);
pub const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// A TCP connection that neither sends nor receives a byte for this long is closed (HTTP has
/// no header timeout of its own here). A socket.io connection is never this quiet: the server
/// pings every [`PING_INTERVAL`] and the client answers; a long-poll GET returns by then.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const _: () = assert!(TCP_IDLE_TIMEOUT.as_secs() > PING_INTERVAL.as_secs() + PING_TIMEOUT.as_secs());

/// Direct messages one connection may have waiting for their checks in the cluster (Redis is
/// asked whether both sides still own their names, in order): past it the next one is refused
/// `unavailable` with this `limit`, so that a stalled Redis cannot make a connection pile up
/// work at its message rate.
pub const LANE_JOBS_MAX: usize = 32;

/// Lines each history keeps by default (`general`, each room, each direct conversation: a flood
/// in one cannot push another's lines out); `CHAT_HISTORY_MAX_MESSAGES`.
pub const HISTORY_MAX_MESSAGES: u64 = 10_000;

/// Lines all the histories keep together by default (`CHAT_HISTORY_MAX_TOTAL_MESSAGES`):
/// past it the longest histories are cut first, all to one level, so that the short ones keep
/// every line.
pub const HISTORY_MAX_TOTAL_MESSAGES: u64 = 200_000;

/// The total ([`HISTORY_MAX_TOTAL_MESSAGES`]) never cuts a history below its newest this many
/// lines: many small histories (conversations are not capped) cannot bring the level down to
/// nothing and erase `general` and every room. With more than total ÷ this many histories the
/// store holds more than the total, each history at most this many (and its age limit).
pub const HISTORY_TOTAL_FLOOR: u64 = 100;

/// Messages `history` returns when the request names no limit...
pub const HISTORY_PAGE_DEFAULT: u32 = 100;
/// ...and at most, whatever it names.
pub const HISTORY_PAGE_MAX: u32 = 500;

/// Longest idempotency key a client may attach to a message, in chars.
pub const MESSAGE_KEY_MAX_CHARS: usize = 64;

/// Messages the embedded store commits in one transaction at most (group commit).
pub const STORE_BATCH_MAX: usize = 256;

/// `history` requests one connection may make: a burst of this many...
pub const HISTORY_BURST: u32 = 10;
/// ...refilled at this many per second.
pub const HISTORY_PER_SECOND: u32 = 2;

/// All of an address's connections together may ask for history pages (and the other reads
/// that share the history budget: `about`, the lists) in a burst of this many (while
/// per-address rules are on; a page is up to [`HISTORY_PAGE_MAX_BYTES`], and a client that
/// never reads keeps the server holding what it asked for). A page asks for up to five of
/// them as it connects, so the burst serves ~20 pages of a NAT coming back at once; the
/// others' refused reads are asked again over about a minute (the page's backoff), while the
/// budget refills ~240...
pub const ADDRESS_HISTORY_BURST: u32 = 100;
/// ...refilled at this many per second.
pub const ADDRESS_HISTORY_PER_SECOND: u32 = 4;

/// Typing notices one connection may send: a burst of this many...
pub const TYPING_BURST: u32 = 6;
/// ...refilled at this many per second. Notices past it are dropped (they are hints).
pub const TYPING_PER_SECOND: u32 = 2;
/// All of an address's connections together may send typing notices in a burst of this
/// many (while per-address rules are on; each notice goes to everyone)...
pub const ADDRESS_TYPING_BURST: u32 = 20;
/// ...refilled at this many per second (many connections must not multiply the rate).
pub const ADDRESS_TYPING_PER_SECOND: u32 = 10;
/// All of an address's connections together may claim a new nickname (`nickname`) at this many
/// a minute, after a burst as large as `CHAT_MAX_CONNECTIONS_PER_ADDRESS` (a whole NAT claiming
/// again after a restart fits): each claim, and the departure that may follow it, is announced
/// to everyone, so many connections must not multiply the per-connection attempt rate
/// (`resume` announces nothing and is not counted here).
pub const ADDRESS_CLAIMS_PER_MINUTE: u32 = 60;
/// ...and a burst of at least this many (one connection's own burst of nickname attempts),
/// however low the connection limit per address is set.
pub const ADDRESS_CLAIMS_BURST_MIN: u32 = 20;
/// A page says it stopped typing after this long without a keystroke...
pub const TYPING_IDLE: Duration = Duration::from_millis(1_500);
/// ...repeats that it is typing this often while it still is...
pub const TYPING_REFRESH: Duration = Duration::from_secs(3);
/// ...and a reader forgets a typist it heard nothing from for this long.
pub const TYPING_EXPIRY: Duration = Duration::from_secs(6);

/// Bytes of accepted lines that may wait for the history writer (a stalled store: a slow disk,
/// a locked database, a Redis outage)... A line costs its text, nickname and key in bytes plus
/// [`HISTORY_QUEUE_LINE_OVERHEAD`]: 32 MiB hold ~3,900 of the largest lines (2,000 chars of 4
/// bytes) or ~100,000 typical ones. One address (burst 60, then 20/s) needs over 3 minutes of
/// the largest lines to fill it alone; honest traffic at the server's measured ceiling (8,000
/// lines/s, docs/benchmarks.md) queues a few MB. A line that does not fit is refused at once
/// (`unavailable`, with this as `limit`) and costs nothing else.
pub const HISTORY_QUEUE_BYTES: usize = 32 * 1024 * 1024;
/// ...counting this much for each line besides its strings (its connection, its ack).
pub const HISTORY_QUEUE_LINE_OVERHEAD: usize = 256;

/// Bytes of lines one `history` page carries at most, each counted as its text and nickname
/// plus 64 (its JSON's fields); a page always has one line at least. Past it the page ends
/// early with `more` (ask again). Without it one page of 500 of the largest lines was ~4 MB,
/// and a client that asks and never reads makes the server hold every answer (its outgoing
/// queue counts packets, not bytes): 64 KiB, the largest payload a client may send, keeps a
/// page as big as a typical 500-line one while a page of the largest lines holds ~8.
pub const HISTORY_PAGE_MAX_BYTES: usize = 64 * 1024;

/// Bulky answers (a `history` page, `rooms`, `room people`, `conversations`, `roles`, the
/// `moderation log`) a connection may have on their way at once. Each carries a receipt (its
/// ack's third argument) that the client sends back with `received` once it has the answer;
/// past this many unreceived, such requests are refused `too_many_unreceived` before any work.
/// The server's outgoing queue counts packets, not bytes, and delivers in order: a receipt
/// proves the client read everything before it, so a connection that never reads holds at most
/// this many (and [`UNRECEIVED_BYTES_MAX`]) instead of up to 2,048. The page asks for about 5 at
/// once (at connect: its channel's history and people, rooms, conversations, roles), sends each
/// receipt back as the answer arrives, and asks again a moment later when refused.
pub const UNRECEIVED_ANSWERS_MAX: usize = 8;
/// ...and the bytes of unreceived bulky answers past which no other is sent (refused
/// `too_many_unreceived`, also when the answer was read already): 8 history pages. One answer
/// always goes when none is unreceived, however large (a `moderation log` quoting 100 long
/// lines is ~1 MB), so a connection that never reads holds at most this plus one answer.
pub const UNRECEIVED_BYTES_MAX: usize = 8 * HISTORY_PAGE_MAX_BYTES;

/// The most names one `room people` answer lists (the first in order): 500 of the longest
/// names (32 chars of 4 bytes) are about [`HISTORY_PAGE_MAX_BYTES`], so that a client that
/// asks and never reads holds the server no more than with history pages. The page asks for
/// rooms' people only (`general`'s come with `nicknames`/`online`).
pub const ROOM_PEOPLE_MAX: usize = 500;

/// The request headers a socket.io connection keeps for its whole life (socketioxide holds
/// the request's parts as long as the connection lives), in bytes: only those engine.io and
/// the chat read are kept (host, origin, the WebSocket handshake's, content type and length);
/// a socket.io request whose kept headers are larger is refused (HTTP 431). Without it each
/// connection could pin up to hyper's ~400 KB of headers.
pub const SOCKET_IO_HEADERS_MAX_BYTES: usize = 8 * 1024;

/// A socket.io request's URI (path and query) is at most this long, or it is refused (HTTP
/// 414): socketioxide keeps it for the life of the connection, and the engine.io query a
/// client sends is ~100 bytes (`EIO`, `transport`, `sid`, `t`, `presence`).
pub const SOCKET_IO_URI_MAX_BYTES: usize = 2 * 1024;

/// A log line that clients can cause (a refused connection, a failed read during an outage) is
/// written at most once per this interval, saying how often it happened meanwhile.
pub const LOG_THROTTLE: Duration = Duration::from_secs(10);

/// The most lines a page keeps (in memory and in its DOM). Past it, the page drops lines at the
/// end the reader is not looking at; scrolling there loads them again from the history.
pub const PAGE_LINES_MAX: usize = 500;

/// The longest reason a moderator gives for an action, or a reporter for a report, in chars.
pub const MODERATION_REASON_MAX_CHARS: usize = 200;

/// The longest mute or ban, in minutes (30 days).
pub const SANCTION_MAX_MINUTES: u32 = 30 * 24 * 60;

/// Mutes standing at once chat-wide: past it a new mute is refused `rate_limited` (with
/// `limit` = this).
pub const SANCTIONS_MAX: usize = 1_000;

/// Mutes standing at once in one room (its owner and moderators mute there): past it a new one
/// is refused `rate_limited` (with `limit` = this). Every instance reads every mute every 2 s
/// and again after each moderation action: a room's owner cannot fill the store with mutes of
/// made-up names.
pub const ROOM_MUTES_MAX: usize = 100;

/// Mutes standing at once in all rooms together (the chat-wide ones not counted): past it a new
/// room mute is refused `rate_limited` (with `limit` = this), however many rooms there are
/// (`CHAT_ROOMS_MAX` may be 10,000). The chat's moderators still mute chat-wide.
pub const ROOM_MUTES_TOTAL_MAX: usize = 5_000;

/// Moderators one room may have (named by its owner or the chat's moderators; the owner is not
/// counted): every role is read by every instance every 2 s and listed in `roles`, which every
/// page asks for. A grant past it is refused `rate_limited` with `limit` = this.
pub const ROOM_MODERATORS_MAX: usize = 20;

/// The slowest slow mode a room can have: one line per this many seconds per person.
pub const SLOW_MODE_MAX_SECS: u32 = 3_600;

/// How many of a channel's newest lines a purge ("remove a person's recent lines") looks
/// through for that person's lines.
pub const PURGE_SCAN_LINES: u32 = 500;

/// Deleted lines' ids the chat remembers (every channel together), so that a page that was
/// offline when a line was deleted drops it on its next `history`.
pub const TOMBSTONES_KEPT: usize = 1_000;

/// Moderation actions the audit log keeps (the oldest are dropped past it).
pub const AUDIT_KEPT: usize = 10_000;

/// Reports kept (open and closed; the oldest are dropped past it).
pub const REPORTS_KEPT: usize = 1_000;

/// The most audit entries or reports one `moderation log` answers with (the newest).
pub const MODERATION_LOG_PAGE: usize = 100;

/// Moderation actions one connection may ask for: a burst (a moderator cleaning up), then this
/// many per second.
pub const MODERATE_BURST: u32 = 30;
pub const MODERATE_PER_SECOND: u32 = 5;

/// Reports one connection may file: a burst, then this many per hour.
pub const REPORTS_PER_HOUR: u32 = 20;
pub const REPORT_BURST: u32 = 5;

/// How long a delete or purge waits for the lines said before it to be stored and delivered
/// (a deletion must not reach the pages before its line): past it, with the store stalled, the
/// moderator is answered `unavailable` (try again) instead of waiting.
pub const MODERATION_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an instance re-reads the moderation state (roles, mutes, bans, room rules) from
/// its store: a grant from the command line, or an action on another instance, takes effect
/// within this.
pub const MODERATION_REFRESH: Duration = Duration::from_secs(2);
