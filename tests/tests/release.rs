//! The release binary as operators deploy it: copied alone into an empty directory and started
//! the way deploy/chat-server.service starts it, it serves the embedded page (precompressed),
//! chats, and stops cleanly on SIGTERM with its data in the unit's state directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chat_tests::WireClient;
use chat_tests::server::{free_port, release_binary, temp_dir, workspace_root};
use serde_json::json;

/// What the unit file says about how to run the binary.
struct Unit {
    exec: Vec<String>,
    environment: Vec<(String, String)>,
    working_directory: String,
    stop_timeout: Duration,
}

fn read_unit(path: &Path) -> Unit {
    let text = std::fs::read_to_string(path).expect("read the unit");
    let mut unit = Unit {
        exec: Vec::new(),
        environment: Vec::new(),
        working_directory: String::new(),
        stop_timeout: Duration::from_secs(90),
    };
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.split_once('=') else { continue };
        match key {
            "ExecStart" => unit.exec = value.split_whitespace().map(str::to_owned).collect(),
            "Environment" => {
                let (k, v) = value.split_once('=').expect("Environment=KEY=VALUE");
                unit.environment.push((k.to_owned(), v.to_owned()));
            }
            "WorkingDirectory" => unit.working_directory = value.to_owned(),
            "TimeoutStopSec" => unit.stop_timeout = Duration::from_secs(value.parse().expect("seconds")),
            "KillSignal" => assert_eq!(value, "SIGTERM", "the server shuts down gracefully on SIGTERM"),
            _ => {}
        }
    }
    assert!(!unit.exec.is_empty() && !unit.working_directory.is_empty(), "ExecStart and WorkingDirectory");
    unit
}

#[tokio::test(flavor = "multi_thread")]
async fn the_release_binary_alone_runs_as_the_systemd_unit_says() {
    let unit = read_unit(&workspace_root().join("deploy/chat-server.service"));
    // An empty machine: the binary alone, and the unit's state directory (empty) under a root.
    let root = temp_dir("release");
    let bin = root.join("usr/local/bin/chat-server");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(release_binary(), &bin).expect("install the binary");
    let rooted = |p: &str| -> PathBuf { root.join(p.trim_start_matches('/')) };
    let state = rooted(&unit.working_directory);
    std::fs::create_dir_all(&state).unwrap(); // systemd's StateDirectory=
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0);

    verify_with_systemd(&bin);

    let port = free_port();
    let mut command = Command::new(rooted(&unit.exec[0]));
    command.args(&unit.exec[1..]).current_dir(&state).env_clear().stdin(Stdio::null()).stdout(Stdio::null());
    for (k, v) in &unit.environment {
        let v = if v.starts_with('/') { rooted(v).display().to_string() } else { v.clone() };
        command.env(k, v);
    }
    command.env("PORT", port.to_string()); // the unit's 3000 may be taken here
    let started = Instant::now();
    let mut child = command.spawn().expect("start the release binary");
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    while !ready && started.elapsed() < Duration::from_secs(10) {
        ready = matches!(reqwest::get(format!("{base}/readyz")).await, Ok(r) if r.status() == 200);
        if !ready {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert!(ready, "ready within 10 s");
    println!("release binary: ready {} ms after start", started.elapsed().as_millis());

    let client = reqwest::Client::builder().build().unwrap();
    let page = client.get(&base).header("accept-encoding", "br").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-encoding"], "br", "the embedded page, precompressed");

    let (mut ana, _) = WireClient::join(port, "Ana").await;
    let (mut bob, _) = WireClient::join(port, "Bob").await;
    ana.emit("user message", &[json!("hello from the release build")], Some(5)).await;
    assert!(ana.ack(5).await[0].is_null());
    assert_eq!(bob.event("user message").await[1], "hello from the release build");

    let stop = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stop.elapsed() < unit.stop_timeout, "stopped within TimeoutStopSec");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "clean exit: {status}");
    assert!(state.join("chat.sqlite3").exists(), "the history lives in the state directory");
    let _ = std::fs::remove_dir_all(root);
}

/// `systemd-analyze verify` on the unit (pointing at the installed binary), where systemd is
/// installed: no unknown keys, no values it would ignore.
fn verify_with_systemd(bin: &Path) {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        println!("systemd-analyze not installed: unit syntax not verified");
        return;
    };
    assert!(probe.status.success());
    let text = std::fs::read_to_string(workspace_root().join("deploy/chat-server.service")).unwrap();
    let copy = bin.with_file_name("chat-server.service");
    std::fs::write(&copy, text.replace("/usr/local/bin/chat-server", &bin.display().to_string())).unwrap();
    let out =
        Command::new("systemd-analyze").arg("verify").arg(&copy).output().expect("systemd-analyze verify");
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && complaints.trim().is_empty(), "the unit verifies cleanly: {complaints}");
}
