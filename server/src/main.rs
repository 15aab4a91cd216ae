//! `chat-server`: reads its configuration, sets up logging, and runs the chat until a signal.

mod allocator;
mod app;
mod chat;
mod client_addr;
mod clock;
mod cluster;
mod config;
mod detach;
mod handshake;
mod history;
mod log_throttle;
mod metrics;
mod moderators;
mod origin;
mod page;
mod tcp_guard;

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::load();
    let filter = match EnvFilter::try_new(&config.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("error: invalid value for CHAT_LOG/--log {:?}: {e}", config.log);
            return ExitCode::from(2);
        }
    };
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    if let Some(config::Command::Moderators { action }) = config.command.clone() {
        return match moderators::run(&config, action).await {
            Ok(said) => {
                println!("{said}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match app::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
