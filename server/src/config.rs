//! Command-line flags and environment variables of `chat-server` (clap).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

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

    /// Seconds to wait for connections to close on SIGINT/SIGTERM before exiting anyway.
    #[arg(long, env = "CHAT_SHUTDOWN_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout_secs: u64,
}

impl Config {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}
