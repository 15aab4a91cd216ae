//! chat-tests: helpers for end-to-end tests that start the real `chat-server` binary on a
//! free port and talk to it as real clients do (tests live in tests/tests/).

pub mod client;
pub mod fanout;
pub mod many_rooms;
pub mod nginx;
pub mod redis;
pub mod server;
pub mod soak;
pub mod wire;

pub use client::TestClient;
pub use server::ChatServer;
pub use wire::WireClient;

use std::time::Duration;

/// How long a test waits for something the server should do at once.
pub const PATIENCE: Duration = Duration::from_secs(10);
