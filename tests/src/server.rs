//! Starting and stopping the real `chat-server` binary on a free loopback port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running `chat-server` with its own data directory; killed (and the directory removed)
/// when dropped.
pub struct ChatServer {
    child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// A fresh, empty directory under the system's temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "chat-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The workspace's root directory.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent")
}

/// Builds `chat-server` once per test process (cargo makes this quick when it is up to date),
/// so that a test never runs a stale binary. `CHAT_SERVER_BIN` overrides the path.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build("CHAT_SERVER_BIN", "debug", &[]))
}

/// Builds the release `chat-server` (what operators deploy) once per test process.
/// `CHAT_SERVER_RELEASE_BIN` overrides the path.
pub fn release_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build("CHAT_SERVER_RELEASE_BIN", "release", &["--release", "--locked"]))
}

/// `cargo build -p chat-server` with `flags`, unless `override_var` names a binary already.
fn build(override_var: &str, profile: &str, flags: &[&str]) -> PathBuf {
    if let Some(bin) = std::env::var_os(override_var) {
        return PathBuf::from(bin);
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "chat-server"])
        .args(flags)
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p chat-server {flags:?} failed");
    workspace_root().join("target").join(profile).join("chat-server")
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind port 0").port()
}

impl ChatServer {
    pub fn start() -> Self {
        Self::start_with(&[], &[])
    }

    /// Starts the server with extra flags and environment, and waits until it answers /healthz.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let data_dir = temp_dir("data");
        let port = free_port();
        let child = Self::spawn(port, &data_dir, &args, &env);
        let server = Self { child, port, data_dir, args, env };
        server.wait_healthy();
        server
    }

    fn spawn(port: u16, data_dir: &Path, args: &[String], env: &[(String, String)]) -> Child {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .env("PORT", port.to_string())
            .env("CHAT_BIND", "127.0.0.1")
            .env("CHAT_DATA_DIR", data_dir)
            .env("CHAT_LOG", std::env::var("CHAT_TEST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("start chat-server")
    }

    /// `kill -9`: no goodbye, no flush.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (a graceful shutdown) without waiting.
    pub fn terminate(&self) {
        let status =
            Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.pid());
    }

    /// Waits up to `within` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same port and data directory. Stop it first (`kill_hard`,
    /// or `terminate` and `wait_exit`); one still running is killed here (`kill -9`): otherwise
    /// the new one could not listen, the old one would answer in its place, and it would
    /// outlive the test (holding the test command's output open).
    pub fn restart(&mut self) {
        if self.try_exit().is_none() {
            self.kill_hard();
        }
        self.child = Self::spawn(self.port, &self.data_dir, &self.args, &self.env);
        self.wait_healthy();
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's exit status, if it has exited.
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                if out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chat-server did not become healthy on port {}", self.port);
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
