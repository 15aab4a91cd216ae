//! A real `redis-server` for cluster tests: started on a free loopback port, persisting to an
//! append-only file in a temporary directory (as a production Redis would, so that a restart
//! keeps the history), stopped (killed) when dropped. A test can also kill it (an outage) or
//! freeze it (a stall) in between. The README's test command installs it.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};

use crate::server::{free_port, temp_dir};

pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = free_port();
        let dir = temp_dir("redis");
        let child = Self::spawn(port, &dir);
        let server = Self { child, port, dir };
        server.wait_up();
        server
    }

    fn spawn(port: u16, dir: &Path) -> Child {
        let dir = dir.to_string_lossy();
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--dir", &dir])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("start redis-server (the README's test command installs it)")
    }

    fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:<port>`, for `CHAT_REDIS_URL`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills Redis (an outage; what it wrote to its append-only file stays).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Freezes Redis (SIGSTOP): connections stay open and every command waits for an answer,
    /// as with a Redis stalled on its disk or swapped out. [`RedisServer::resume`] thaws it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a [`RedisServer::pause`]d Redis (SIGCONT): the waiting commands are answered.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([signal, &self.child.id().to_string()]).status();
        assert!(sent.as_ref().is_ok_and(|s| s.success()), "kill {signal} redis-server: {sent:?}");
    }

    /// Starts it again on the same port, with what it persisted.
    pub fn start_again(&mut self) {
        self.child = Self::spawn(self.port, &self.dir);
        self.wait_up();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
