//! Command-line flags and environment variables of `chat-server` (clap).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::chat::{ChatSettings, ConnectionLimits, MessageRate};
use crate::history::Retention;
use crate::origin::AllowedOrigins;

/// The chat server: serves the chat page and the socket.io chat at /socket.io/.
#[derive(Debug, Clone, Parser)]
#[command(name = "chat-server", version, about)]
pub struct Config {
    /// TCP port to listen on (the original honoured PORT too).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Address to bind (0.0.0.0: every interface, as the original; 127.0.0.1: this machine only).
    #[arg(long, env = "CHAT_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Directory for the server's own data (the embedded history store lives here).
    #[arg(long, env = "CHAT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Serve the page from this directory (e.g. dist/) instead of the copy embedded in the binary.
    #[arg(long, env = "CHAT_PAGE_DIR")]
    pub page_dir: Option<PathBuf>,

    /// Log filter, in tracing's EnvFilter syntax (e.g. "info", "chat_server=debug").
    #[arg(long, env = "CHAT_LOG", default_value = "info")]
    pub log: String,

    /// Seconds a dropped connection's nickname stays reserved for its owner to resume it.
    #[arg(long = "resume-grace", env = "CHAT_RESUME_GRACE", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub resume_grace_secs: u64,

    /// Messages the history keeps (older ones are dropped); 0 keeps every message.
    #[arg(long, env = "CHAT_HISTORY_MAX_MESSAGES", default_value_t = 10_000)]
    pub history_max_messages: u64,

    /// Days the history keeps a message; 0 keeps them forever.
    #[arg(long, env = "CHAT_HISTORY_MAX_AGE_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=36_500))]
    pub history_max_age_days: u64,

    /// How the history syncs each commit to disk: `full` (an acknowledged line survives a power
    /// cut), `normal` (survives a crash of the server, not of the machine), `off` (benchmarks).
    #[arg(long, env = "CHAT_HISTORY_SYNC", default_value = "full", value_parser = ["full", "normal", "off"])]
    pub history_sync: String,

    /// Messages one connection may send per second (after its burst).
    #[arg(long, env = "CHAT_MESSAGES_PER_SECOND", default_value_t = chat_shared::limits::MESSAGES_PER_SECOND, value_parser = clap::value_parser!(u32).range(1..))]
    pub messages_per_second: u32,

    /// Messages one connection may send at once before the per-second rate applies.
    #[arg(long, env = "CHAT_MESSAGE_BURST", default_value_t = chat_shared::limits::MESSAGE_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub message_burst: u32,

    /// Origins (besides the page's own) whose pages may connect, comma-separated, e.g.
    /// `https://chat.example.com,http://localhost:8080`; `*` allows any (not recommended).
    #[arg(long, env = "CHAT_ALLOWED_ORIGINS", default_value = "", value_parser = AllowedOrigins::parse)]
    pub allowed_origins: AllowedOrigins,

    /// Connections the server accepts at once (0: no limit).
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Connections one client address may hold at once (0: no limit). Behind a reverse proxy
    /// every client has the proxy's address: set 0 here and limit in the proxy.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 100)]
    pub max_connections_per_address: usize,

    /// Seconds to wait for connections to close on SIGINT/SIGTERM before exiting anyway.
    #[arg(long = "shutdown-timeout", env = "CHAT_SHUTDOWN_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout_secs: u64,
}

impl Config {
    pub fn chat_settings(&self) -> ChatSettings {
        ChatSettings {
            grace: Duration::from_secs(self.resume_grace_secs),
            message_rate: MessageRate { per_second: self.messages_per_second, burst: self.message_burst },
            connections: ConnectionLimits {
                total: self.max_connections,
                per_address: self.max_connections_per_address,
            },
            retention: Retention {
                max_messages: self.history_max_messages,
                max_age_secs: self.history_max_age_days * 24 * 3600,
            },
        }
    }

    /// The history file inside the data directory.
    pub fn history_path(&self) -> PathBuf {
        self.data_dir.join("chat.sqlite3")
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}
