//! The README's development loop, as it is written there: `chat-server --bind 127.0.0.1
//! --allowed-origins http://127.0.0.1:8080` on :3000, `trunk serve` on :8080 (its proxy forwards
//! socket.io's WebSockets to :3000), and two pages on :8080 in headless Chromium chatting
//! (tests/browser/dev_loop.js); then a component's text is edited and the open pages reload by
//! themselves (trunk's live reload) and show the edit.
//!
//! trunk serves a copy of the sources in a temporary directory, never the workspace itself: the
//! edit must not touch tracked files (other test binaries build from them at the same time, and
//! a failed run would leave the tree dirty), and trunk's outputs must not land where the rest
//! reads them.
//!
//! Its cargo target directory is `target/dev-loop-copy/`, this test's alone (removed when it
//! ends), seeded at each run with a copy of the workspace's wasm build: the wasm32 `wasm-release`
//! artifacts and the host build scripts and proc macros of `target/wasm-release` (~500 MB, ~2 s
//! here; the test command built them with the page just before). No dependency is rebuilt, and
//! the copy's chat-client is reused until the edit (the sources are copied with their mtimes):
//! the first serve took ~9 s, the rebuild after the edit ~20 s on 2 cores, against ~5 min for a
//! cold build of the page in an empty target dir (that is why not a fresh one). Why not the
//! workspace's own target/: cargo names a path package's artifacts by its path relative to the
//! workspace root, so the copy's chat-client has the same artifact and fingerprint names as the
//! real one, and trunk's `chat-client.wasm` and wasm-bindgen/wasm-opt staging are named by
//! package too: the edited page would overwrite what the page build wrote (and the two
//! fingerprints would flip-flop). Nothing else writes the wasm build while tests run (only
//! `trunk build` before them), so the seed copy does not race a writer.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_tests::server::{binary, temp_dir, workspace_root};

/// A child process killed when the test ends (passing or not).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `http://127.0.0.1:{port}{path}` answers 200 with `expect` in its body.
fn wait_for(port: u16, path: &str, expect: &str, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes());
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.") && out.contains(" 200 ") && out.contains(expect) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} did not answer on :{port} within {within:?}");
}

/// A directory removed when the test ends (passing or not; declared before the processes that
/// use it, so that it outlives them).
struct TempTree(std::path::PathBuf);

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cp -a` (GNU coreutils): a copy that keeps mtimes, which cargo's freshness checks read.
fn copy_all(from: &Path, to: &Path) {
    let status =
        Command::new("cp").args(["-a", "--reflink=auto"]).arg(from).arg(to).status().expect("run cp");
    assert!(status.success(), "cp -a {} {} failed", from.display(), to.display());
}

/// The workspace's members, as the root Cargo.toml lists them (`members = ["shared", ...]`).
fn workspace_members(manifest: &str) -> Vec<String> {
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("Cargo.toml lists the workspace's members on one line");
    let list = &line[line.find('[').expect("members = [...]") + 1..line.rfind(']').expect("members = [...]")];
    list.split(',').map(|m| m.trim().trim_matches('"').to_owned()).filter(|m| !m.is_empty()).collect()
}

/// Copies what `trunk serve` needs into a fresh directory: the workspace manifest and lock,
/// every member it lists (cargo loads the whole workspace to build one package), index.html
/// and Trunk.toml; no target/ or dist/.
fn copy_sources() -> TempTree {
    let root = workspace_root();
    let copy = TempTree(temp_dir("dev-loop-src"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    for file in ["Cargo.toml", "Cargo.lock", "Trunk.toml", "index.html"] {
        std::fs::copy(root.join(file), copy.0.join(file)).expect("copy a file trunk needs");
    }
    for member in workspace_members(&manifest) {
        copy_all(&root.join(&member), &copy.0.join(&member));
        let _ = std::fs::remove_dir_all(copy.0.join(&member).join("target"));
    }
    copy
}

/// The target directory for trunk's builds of the copy, seeded from the workspace's wasm build
/// (see the module's comment for why); removed when the test ends.
fn seeded_target_dir() -> TempTree {
    let target = workspace_root().join("target");
    let dir = target.join("dev-loop-copy");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("wasm32-unknown-unknown")).expect("create the target dir");
    for (from, to) in
        [("wasm32-unknown-unknown/wasm-release", "wasm32-unknown-unknown"), ("wasm-release", "")]
    {
        if target.join(from).is_dir() {
            copy_all(&target.join(from), &dir.join(to));
        }
    }
    TempTree(dir)
}

#[test]
fn the_readme_development_loop_chats_through_trunk_serve_and_reloads_on_an_edit() {
    for port in [3000, 8080] {
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "the README's development loop uses :{port}, which is taken: free it to run this test"
        );
    }
    let data = TempTree(temp_dir("dev-loop"));
    let _server = Running(
        Command::new(binary())
            .args(["--bind", "127.0.0.1", "--allowed-origins", "http://127.0.0.1:8080"])
            .env_remove("PORT")
            .env("CHAT_DATA_DIR", &data.0)
            .env("CHAT_LOG", std::env::var("CHAT_TEST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .spawn()
            .expect("start chat-server"),
    );
    wait_for(3000, "/healthz", "ok", Duration::from_secs(20), "chat-server");
    // trunk finds wasm-opt in node_modules/.bin (scripts/tools.sh puts it first in PATH).
    let path = format!(
        "{}:{}",
        workspace_root().join("node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let copy = copy_sources();
    let started = Instant::now();
    let target_dir = seeded_target_dir();
    println!("seeded {} in {:?}", target_dir.0.display(), started.elapsed());
    let _trunk = Running(
        Command::new("trunk")
            .arg("serve")
            .current_dir(&copy.0)
            .env("PATH", path)
            .env("TRUNK_SKIP_VERSION_CHECK", "true")
            .env("CARGO_TARGET_DIR", &target_dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start trunk (the README's commands install it)"),
    );
    // The first serve reuses the seeded build (or rebuilds chat-shared and chat-client if the
    // tree changed since the page was built).
    wait_for(8080, "/", "chat-client", Duration::from_secs(600), "trunk serve");
    println!("trunk serve's first build took {:?}", started.elapsed());
    let script = workspace_root().join("tests/browser/dev_loop.js");
    let out = Command::new("node")
        .arg(&script)
        .arg("http://127.0.0.1:8080/")
        .arg(&copy.0)
        .current_dir(workspace_root())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success() && stdout.contains("dev loop ok"), "{stdout}\n{stderr}");
}
