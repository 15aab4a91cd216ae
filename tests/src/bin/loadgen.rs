//! loadgen: a small load generator for chat-server (a benchmark tool, not a test).
//!
//! `loadgen soak --port P --pid PID --listeners L --churners C --seconds D --pause-ms M`: the soak
//! scenario (tests/src/soak.rs): C clients keep joining, saying three lines, leaving and pausing
//! M ms, while L listen; prints the
//! joins, lines, lost deliveries and the server's memory at start and end.
//!
//! `loadgen fanout --port P --clients N --senders S --rate R --seconds D [--pid SERVER_PID]
//! [--send-port P2]`:
//! the benchmark's fan-out scenario (tests/src/fanout.rs), for chat-server or the Node
//! reference: latency at every receiver, losses, CPU per delivery, the load generator's own CPU.
//!
//! `loadgen rooms --port P --people N --rooms R --also-next K --rate L --seconds D [--named 1]
//! [--pid SERVER_PID]`: the "many rooms" scenario (tests/src/many_rooms.rs).
//!
//! `loadgen joinstorm --port P --clients N` and `loadgen memory --port P --clients N --pid PID`:
//! the join storm and memory-per-connection scenarios of the benchmark.
//!
//! `loadgen --port P --receivers N --senders S --seconds D --window W [--flooders F]`: N named
//! clients listen, S named clients send as fast as their acks allow (W messages in flight each)
//! for D seconds (pausing `--pace-ms` after each ack), while F clients flood the server
//! (rate-limited; reconnecting when closed).
//! Prints one JSON line: accepted messages/s, deliveries/s, ack latency percentiles (ms), and
//! deliveries missing at the end. Traffic goes to 127.0.0.1 only; bounded in time and count.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chat_tests::WireClient;
use chat_tests::wire::Inbound;
use serde_json::json;

struct Args {
    port: u16,
    receivers: usize,
    senders: usize,
    seconds: u64,
    window: u64,
    /// Clients that flood the server meanwhile (as fast as they can, never reading).
    flooders: usize,
    /// Pause of each sender after each ack (0: none), to chat at a human-like pace.
    pace_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a =
        Args { port: 3000, receivers: 10, senders: 1, seconds: 5, window: 32, flooders: 0, pace_ms: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--port" => a.port = n(&value)? as u16,
            "--receivers" => a.receivers = n(&value)? as usize,
            "--senders" => a.senders = n(&value)? as usize,
            "--seconds" => a.seconds = n(&value)?.clamp(1, 600),
            "--window" => a.window = n(&value)?.clamp(1, 1000),
            "--flooders" => a.flooders = n(&value)?.min(100) as usize,
            "--pace-ms" => a.pace_ms = n(&value)?.min(10_000),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("soak") {
        return soak().await;
    }
    if std::env::args().nth(1).as_deref() == Some("fanout") {
        return fanout().await;
    }
    if std::env::args().nth(1).as_deref() == Some("joinstorm") {
        return joinstorm().await;
    }
    if std::env::args().nth(1).as_deref() == Some("memory") {
        return memory().await;
    }
    if std::env::args().nth(1).as_deref() == Some("rooms") {
        return many_rooms().await;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let mut receivers = Vec::new();
    for i in 0..args.receivers {
        receivers.push(WireClient::join(args.port, &format!("r{i}")).await.0);
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let listen_until = deadline + Duration::from_secs(5);
    let listeners: Vec<_> = receivers
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut got = 0u64;
                while Instant::now() < listen_until {
                    match c.recv_packet(Duration::from_millis(500)).await {
                        Some(Inbound::Event(name, _)) if name == "user message" => got += 1,
                        Some(_) => {}
                        None if Instant::now() < deadline => {}
                        None => break,
                    }
                }
                got
            })
        })
        .collect();
    let flooders: Vec<_> = (0..args.flooders)
        .map(|f| {
            let port = args.port;
            tokio::spawn(async move {
                let mut sent = 0u64;
                let mut round = 0;
                while Instant::now() < deadline {
                    // Reconnect whenever the server closes this rude client.
                    // From 127.0.0.2: the server sees the attacker as another machine.
                    let Ok(mut c) = WireClient::try_connect_from(port, [127, 0, 0, 2]).await else { break };
                    round += 1;
                    c.emit("nickname", &[json!(format!("flood{f}-{round}"))], None).await;
                    let until = (Instant::now() + Duration::from_secs(1)).min(deadline);
                    // Count only the frames written; stop at once when the server closed us
                    // (writing on in a loop to a dead socket would only burn our own core).
                    while Instant::now() < until {
                        let spam = format!("42{sent}[\"user message\",\"spam\"]");
                        if c.try_send_raw(&spam).await.is_err()
                            || c.try_send_raw("42[\"history\",{}]").await.is_err()
                        {
                            break;
                        }
                        sent += 2;
                    }
                    c.drop_abruptly();
                }
                sent
            })
        })
        .collect();
    let started = Instant::now();
    let senders: Vec<_> = (0..args.senders)
        .map(|s| {
            let (port, window, pace) = (args.port, args.window, Duration::from_millis(args.pace_ms));
            tokio::spawn(async move {
                // Each sender from its own loopback address (127.0.1.x), as people are: the
                // server's per-address message budget is not one for all of them.
                let from = [127, 0, 1, (s % 250 + 1) as u8];
                let (mut c, _) = WireClient::join_from(port, &format!("s{s}"), from).await;
                let mut sent_at: HashMap<u64, Instant> = HashMap::new();
                let mut latencies = Vec::new();
                let mut next = 1000u64;
                let mut refused = 0u64;
                loop {
                    while Instant::now() < deadline && sent_at.len() < window as usize {
                        c.emit("user message", &[json!(format!("m{next}"))], Some(next)).await;
                        sent_at.insert(next, Instant::now());
                        next += 1;
                    }
                    if sent_at.is_empty() {
                        break;
                    }
                    match c.recv_packet(Duration::from_secs(10)).await {
                        Some(Inbound::Ack(id, args)) => {
                            if let Some(t) = sent_at.remove(&id) {
                                if args.first() == Some(&serde_json::Value::Null) {
                                    latencies.push(t.elapsed());
                                } else {
                                    refused += 1;
                                }
                                if !pace.is_zero() {
                                    tokio::time::sleep(pace).await;
                                }
                            }
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                (latencies, refused)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut refused = 0;
    for s in senders {
        if let Ok((l, r)) = s.await {
            latencies.extend(l);
            refused += r;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut flooded = 0;
    for f in flooders {
        flooded += f.await.unwrap_or(0);
    }
    let mut delivered = 0;
    for l in listeners {
        delivered += l.await.unwrap_or(0);
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let accepted = latencies.len() as u64;
    let expected = accepted * args.receivers as u64;
    println!(
        "{}",
        json!({
            "receivers": args.receivers, "senders": args.senders, "window": args.window,
            "flooders": args.flooders, "flood_requests": flooded,
            "accepted": accepted, "refused": refused,
            "accepted_per_s": (accepted as f64 / elapsed).round(),
            "deliveries_per_s": (delivered as f64 / elapsed).round(),
            "ack_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
            "missing_deliveries": expected.saturating_sub(delivered),
        })
    );
}

async fn soak() {
    let n = numbers("soak", &["port", "pid", "listeners", "churners", "seconds", "pause-ms"]);
    let get = |k: &str, default: u64| n.get(k).copied().unwrap_or(default);
    let report = chat_tests::soak::run(
        get("port", 3000) as u16,
        n.get("pid").map(|p| *p as u32),
        get("listeners", 10) as usize,
        get("churners", 100) as usize,
        get("seconds", 60).clamp(1, 3600),
        std::time::Duration::from_millis(get("pause-ms", 1000)),
    )
    .await;
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
}

/// `loadgen fanout --port P --clients N --senders S --rate R --seconds D [--pid SERVER_PID]
/// [--send-port P2]` (senders on another instance of a cluster: cross-instance delivery).
async fn fanout() {
    let n = numbers("fanout", &["port", "send-port", "pid", "clients", "senders", "rate", "seconds"]);
    let get = |k: &str, default: u64| n.get(k).copied().unwrap_or(default);
    let report = chat_tests::fanout::run(chat_tests::fanout::Fanout {
        port: get("port", 3000) as u16,
        send_port: n.get("send-port").map(|p| *p as u16),
        clients: get("clients", 100).min(20_000) as usize,
        senders: get("senders", 10).clamp(1, 1000) as usize,
        rate: get("rate", 100).clamp(1, 1_000_000),
        seconds: get("seconds", 10).clamp(1, 600),
        server_pid: n.get("pid").map(|p| *p as u32),
    })
    .await;
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
}

/// The `--name number` pairs after the subcommand; exits (status 2) on a flag not in `allowed`
/// or a value that is not a number.
fn numbers(command: &str, allowed: &[&str]) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let mut it = std::env::args().skip(2);
    while let Some(flag) = it.next() {
        let name = flag.trim_start_matches("--");
        if !allowed.contains(&name) {
            eprintln!("loadgen {command}: unknown flag {flag} (known: {})", allowed.join(", "));
            std::process::exit(2);
        }
        match it.next().map(|v| v.parse::<u64>()) {
            Some(Ok(n)) => {
                out.insert(name.to_owned(), n);
            }
            _ => {
                eprintln!("loadgen {command}: {flag} needs a number");
                std::process::exit(2);
            }
        }
    }
    out
}

/// `loadgen joinstorm --port P --clients N`: N clients connect and take nicknames at once.
async fn joinstorm() {
    let n = numbers("joinstorm", &["port", "clients", "pid"]);
    let port = n.get("port").copied().unwrap_or(3000) as u16;
    let clients = n.get("clients").copied().unwrap_or(1000).min(20_000) as usize;
    let report = chat_tests::fanout::join_storm(port, clients).await;
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
}

/// `loadgen memory --port P --clients N --pid SERVER_PID [--original 1]`: the server's RSS per
/// connection, idle and named (with `--original 1`, named the original's way: no
/// `presence=changes`), and after they all left.
async fn memory() {
    let n = numbers("memory", &["port", "clients", "pid", "original"]);
    let port = n.get("port").copied().unwrap_or(3000) as u16;
    let clients = n.get("clients").copied().unwrap_or(1000).clamp(1, 20_000) as usize;
    let Some(pid) = n.get("pid").map(|p| *p as u32) else {
        eprintln!("loadgen memory: --pid SERVER_PID is required");
        std::process::exit(2);
    };
    match chat_tests::fanout::memory(port, clients, pid, n.get("original") == Some(&1)).await {
        Some(report) => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
        None => {
            eprintln!("loadgen memory: a connection failed or the server's memory is unreadable");
            std::process::exit(1);
        }
    }
}

/// `loadgen rooms …`: P people in R rooms, L lines/s in each (see tests/src/many_rooms.rs).
async fn many_rooms() {
    let n = numbers("rooms", &["port", "people", "rooms", "also-next", "rate", "seconds", "named", "pid"]);
    let get = |name: &str, default: u64| n.get(name).copied().unwrap_or(default);
    let scenario = chat_tests::many_rooms::ManyRooms {
        port: get("port", 3000) as u16,
        people: get("people", 10_000).clamp(2, 20_000) as usize,
        rooms: get("rooms", 100).clamp(1, 1_000) as usize,
        also_next: get("also-next", 10) as usize,
        rate_per_room: get("rate", 3).clamp(1, 1_000) as f64,
        seconds: get("seconds", 10).clamp(1, 600),
        named: get("named", 0) == 1,
        server_pid: n.get("pid").map(|p| *p as u32),
    };
    match chat_tests::many_rooms::run(scenario).await {
        Some(report) => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
        None => {
            eprintln!("loadgen rooms: the rooms could not be created");
            std::process::exit(1);
        }
    }
}
