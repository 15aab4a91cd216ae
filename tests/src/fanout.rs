//! The benchmark's fan-out scenario, for chat-server and the Node reference alike (it needs no
//! acks, no `session`): N named clients listen while S more send at an aggregate rate R for D
//! seconds, each line carrying its send time; every client records the latency of each
//! `user message` it gets. Reports deliveries/s, latency percentiles and losses, and the CPU
//! time the load generator and the server spent (from /proc), so that a saturated load
//! generator is seen and the server's cost per delivery is known.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use crate::WireClient;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Fanout {
    pub port: u16,
    /// Where the senders connect (another instance of a cluster); None: `port`.
    pub send_port: Option<u16>,
    pub clients: usize,
    pub senders: usize,
    /// Lines per second, all senders together.
    pub rate: u64,
    pub seconds: u64,
    /// The server's process, for its CPU time and memory.
    pub server_pid: Option<u32>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FanoutReport {
    pub clients: usize,
    pub senders: usize,
    pub rate: u64,
    pub seconds: u64,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    /// Clients (receivers or senders) that did not join: refused, unanswered or a failed
    /// connection. A failed sender lowers the offered rate, so a run with any is no capacity.
    pub failed_joins: usize,
    pub deliveries_per_s: f64,
    pub latency_ms: Percentiles,
    pub server_cpu_s: Option<f64>,
    pub server_cpu_us_per_delivery: Option<f64>,
    pub server_rss_kib: Option<u64>,
    pub loadgen_cpu_share: f64,
    /// The load generator used (nearly) all of its cores: the figures are its limit, not the server's.
    pub loadgen_saturated: bool,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Records the latency of a line sent at `sent_us` (µs since `start`), arriving now.
pub fn record_latency(latencies: &mut Vec<u32>, start: Instant, sent_us: u64) {
    let now = start.elapsed().as_micros() as u64;
    latencies.push(now.saturating_sub(sent_us).min(u32::MAX as u64) as u32);
}

impl Percentiles {
    /// The percentiles (ms) of `latencies` (µs; sorted here).
    pub fn of(latencies: &mut [u32]) -> Self {
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0.0, |us| f64::from(*us) / 1000.0)
        };
        Self { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: pct(1.0) }
    }
}

/// What a run cost: the server's CPU seconds (if its pid is known) and the share of its cores
/// the load generator used.
pub struct RunCost {
    pub server_cpu_s: Option<f64>,
    pub loadgen_share: f64,
}

impl RunCost {
    /// Since `began`, when the CPU times were `before` (this process's, the server's).
    pub fn since(began: Instant, before: (f64, Option<f64>), server_pid: Option<u32>) -> Self {
        let wall = began.elapsed().as_secs_f64();
        let loadgen_cpu = cpu_seconds(None).unwrap_or(0.0) - before.0;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        Self {
            server_cpu_s: before.1.zip(cpu_seconds(server_pid)).map(|(a, b)| b - a),
            loadgen_share: loadgen_cpu / wall / cores,
        }
    }
}

/// Connections opened at once while setting up (a benchmark of sending, not of joining).
const SETUP_CONCURRENCY: usize = 64;
/// How long a join storm (or naming everyone, in the memory scenario) may take in all.
const STORM_LIMIT: Duration = Duration::from_secs(60);
/// How long the memory scenario waits after everyone left before it reads the server's RSS.
const AFTER_LEAVING: Duration = Duration::from_secs(12);
/// How long receivers wait for late lines after the senders stop.
const DRAIN: Duration = Duration::from_secs(3);

/// CPU seconds (user + system) process `pid` (or this process, for None) has used.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(|| "/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ
}

/// Connects and takes `nick` the original way (`nickname` with an ack, `[false]` = accepted).
async fn join(port: u16, nick: &str) -> Option<WireClient> {
    let mut c = WireClient::try_connect_for_changes(port).await.ok()?;
    c.emit("nickname", &[json!(nick)], Some(1)).await;
    loop {
        let text = c.recv_text(Duration::from_secs(30)).await?;
        if text.starts_with("431[false") {
            return Some(c);
        }
        if text.starts_with("431[") {
            return None;
        }
    }
}

/// The send time (µs since `start`) in a `user message` frame, if it is one.
fn sent_at(frame: &str) -> Option<u64> {
    let rest = frame.strip_prefix("42[\"user message\",\"")?;
    let rest = &rest[rest.find('"')? + 1..]; // past the sender's nickname
    let digits = rest.strip_prefix(",\"")?;
    digits[..digits.find('"')?].parse().ok()
}

pub async fn run(f: Fanout) -> FanoutReport {
    let start = Instant::now();
    let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    // Clients that joined or failed to, and those that failed.
    let settled = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let total = f.clients + f.senders;
    let (go_tx, go_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::new();
    for i in 0..total {
        let (gate, settled, failed, mut go) = (gate.clone(), settled.clone(), failed.clone(), go_rx.clone());
        let sender = i >= f.clients;
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.ok()?;
            let nick = if sender { format!("s{}", i - f.clients) } else { format!("c{i}") };
            let port = if sender { f.send_port.unwrap_or(f.port) } else { f.port };
            // A join the server refuses or never answers (or one whose connection fails: its
            // own task may panic) counts as failed, not as a hung benchmark: the run starts
            // once every client joined or failed.
            let joining =
                tokio::spawn(async move { tokio::time::timeout(STORM_LIMIT, join(port, &nick)).await }).await;
            drop(permit);
            let joined = joining.ok().and_then(Result::ok).flatten();
            if joined.is_none() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            settled.fetch_add(1, Ordering::Relaxed);
            let mut c = joined?;
            let mut latencies: Vec<u32> = Vec::new();
            let mut sent = 0u64;
            // Until the go signal, read and drop (announcements, the nicknames map).
            let until = loop {
                tokio::select! {
                    changed = go.changed() => {
                        changed.ok()?;
                        if let Some(until) = *go.borrow() { break until; }
                    }
                    text = c.recv_text(Duration::from_secs(60)) => {
                        // A line from a sender that saw the signal before this task did.
                        if let Some(t) = sent_at(&text?) {
                            record_latency(&mut latencies, start, t);
                        }
                    }
                }
            };
            let mut tick = if sender {
                let every = Duration::from_secs_f64(f.senders as f64 / f.rate.max(1) as f64);
                // Senders take turns (sender k starts k/S of a period late): the aggregate is R
                // lines/s evenly spread, not S lines at once every S/R seconds.
                let turn = every.mul_f64((i - f.clients) as f64 / f.senders.max(1) as f64);
                let mut t = tokio::time::interval_at(tokio::time::Instant::now() + turn, every);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                Some(t)
            } else {
                None
            };
            let stop_reading = until + DRAIN;
            loop {
                let now = Instant::now();
                if now >= stop_reading {
                    break;
                }
                let sending = tick.is_some() && now < until;
                tokio::select! {
                    _ = async { tick.as_mut().map(|t| t.tick()).expect("a sender").await }, if sending => {
                        let t = start.elapsed().as_micros() as u64;
                        if c.try_send_raw(&format!("42[\"user message\",\"{t}\"]")).await.is_err() { break; }
                        sent += 1;
                    }
                    text = c.recv_text(stop_reading - now) => {
                        let Some(text) = text else { break };
                        if let Some(t) = sent_at(&text) {
                            record_latency(&mut latencies, start, t);
                        }
                    }
                }
            }
            Some((sent, latencies))
        }));
    }
    while settled.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu_before = (cpu_seconds(None).unwrap_or(0.0), cpu_seconds(f.server_pid));
    let began = Instant::now();
    let _ = go_tx.send(Some(began + Duration::from_secs(f.seconds)));
    let mut sent = 0;
    let mut all: Vec<u32> = Vec::new();
    for t in tasks {
        if let Ok(Some((s, l))) = t.await {
            sent += s;
            all.extend(l);
        }
    }
    let run = RunCost::since(began, cpu_before, f.server_pid);
    let (share, server_cpu) = (run.loadgen_share, run.server_cpu_s);
    let latency = Percentiles::of(&mut all);
    let delivered = all.len() as u64;
    let expected = sent * (total as u64 - 1);
    FanoutReport {
        clients: f.clients,
        senders: f.senders,
        rate: f.rate,
        seconds: f.seconds,
        sent,
        delivered,
        lost: expected.saturating_sub(delivered),
        failed_joins: failed.load(Ordering::Relaxed),
        deliveries_per_s: (delivered as f64 / f.seconds as f64).round(),
        latency_ms: latency,
        server_cpu_s: server_cpu,
        server_cpu_us_per_delivery: server_cpu.filter(|_| delivered > 0).map(|s| s * 1e6 / delivered as f64),
        server_rss_kib: f.server_pid.and_then(crate::soak::rss_kib),
        loadgen_cpu_share: (share * 100.0).round() / 100.0,
        loadgen_saturated: share > 0.9,
    }
}

#[cfg(test)]
mod tests {
    use super::sent_at;

    #[test]
    fn finds_the_send_time_in_either_servers_frame() {
        assert_eq!(sent_at(r#"42["user message","s3","123456",{"id":1,"ts":2}]"#), Some(123456));
        assert_eq!(sent_at(r#"42["user message","s3","42"]"#), Some(42));
        assert_eq!(sent_at(r#"42["announcement","x connected"]"#), None);
    }
}

/// The join storm: `clients` connect and take nicknames all at once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JoinStormReport {
    pub clients: usize,
    pub joined: usize,
    pub failed: usize,
    pub seconds: f64,
}

pub async fn join_storm(port: u16, clients: usize) -> JoinStormReport {
    let started = Instant::now();
    let (joined, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (joined, failed, mut stopped) = (joined.clone(), failed.clone(), stopped.clone());
            // A join that takes longer than STORM_LIMIT counts as failed. A joined client reads
            // what comes (as a page does) until everyone is done: no leave is part of the storm.
            tokio::spawn(async move {
                // In a task of its own, so that a join that panics (a refused TCP connect)
                // counts as failed too.
                let nick = format!("j{i}");
                let joining =
                    tokio::spawn(async move { tokio::time::timeout(STORM_LIMIT, join(port, &nick)).await });
                let Ok(Ok(Some(mut c))) = joining.await else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return None;
                };
                let at = started.elapsed();
                joined.fetch_add(1, Ordering::Relaxed);
                loop {
                    tokio::select! {
                        _ = stopped.changed() => break,
                        text = c.recv_text(STORM_LIMIT) => if text.is_none() { break },
                    }
                }
                Some((c, at))
            })
        })
        .collect();
    // Done when every client joined or failed (a task that panicked, e.g. on a refused TCP
    // connect, counts as failed: it is finished without having joined).
    loop {
        let finished = tasks.iter().filter(|t| t.is_finished()).count();
        if joined.load(Ordering::Relaxed) + finished.max(failed.load(Ordering::Relaxed)) >= clients {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let mut kept = Vec::new();
    for t in tasks {
        if let Ok(Some(c)) = t.await {
            kept.push(c);
        }
    }
    let seconds = kept.iter().map(|(_, at)| at.as_secs_f64()).fold(0.0, f64::max);
    JoinStormReport { clients, joined: kept.len(), failed: clients - kept.len(), seconds }
}

/// Memory per connection: the server's RSS growth for `clients` idle connections, then once
/// they have all taken nicknames.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemoryReport {
    pub clients: usize,
    /// Connections whose nickname was accepted within the time limit.
    pub named: usize,
    pub rss_before_kib: u64,
    pub idle_kib_per_connection: f64,
    pub named_kib_per_connection: f64,
    /// The server's RSS 12 s after every client has left, against `rss_before_kib`.
    pub rss_after_leave_kib: u64,
}

/// With `original`, the clients speak the original protocol (every join announced to everyone,
/// the whole nicknames map after each); otherwise they ask for `presence=changes`, as the page
/// does (peers that do not know it ignore it).
pub async fn memory(port: u16, clients: usize, server_pid: u32, original: bool) -> Option<MemoryReport> {
    let settle = || tokio::time::sleep(Duration::from_secs(2));
    settle().await;
    let before = crate::soak::rss_kib(server_pid)?;
    let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut conns = Vec::new();
    for _ in 0..clients {
        let permit = gate.clone().acquire_owned().await.ok()?;
        conns.push(tokio::spawn(async move {
            let c = if original {
                WireClient::try_connect(port).await.ok()
            } else {
                WireClient::try_connect_for_changes(port).await.ok()
            };
            drop(permit);
            c
        }));
    }
    let mut open = Vec::new();
    for c in conns {
        open.push(c.await.ok()??);
    }
    settle().await;
    let idle = crate::soak::rss_kib(server_pid)?;
    // Name them a few at a time (as people arrive, not all in the same millisecond: with the
    // original protocol every join sends everyone the whole map, and a storm of those measures
    // queues, not connections), each reading everything until told to stop.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tried = Arc::new(AtomicUsize::new(0));
    let named: Vec<_> = open
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let (gate, mut stop, tried) = (gate.clone(), stop_rx.clone(), tried.clone());
            tokio::spawn(async move {
                // Until its turn it reads too (announcements, the server's pings).
                let mut turn = std::pin::pin!(gate.acquire_owned());
                let permit = loop {
                    tokio::select! {
                        permit = &mut turn => break permit.ok(),
                        // Given up on (the time limit passed before its turn came).
                        _ = stop.wait_for(|s| *s) => {
                            tried.fetch_add(1, Ordering::Relaxed);
                            return (c, false);
                        }
                        text = c.recv_text(STORM_LIMIT) => if text.is_none() {
                            tried.fetch_add(1, Ordering::Relaxed);
                            return (c, false);
                        },
                    }
                };
                let deadline = Instant::now() + STORM_LIMIT;
                c.emit("nickname", &[json!(format!("m{i}"))], Some(1)).await;
                let mut named = false;
                while !named && Instant::now() < deadline {
                    let Some(text) = c.recv_text(deadline - Instant::now()).await else { break };
                    named = text.starts_with("431[false");
                }
                drop(permit);
                tried.fetch_add(1, Ordering::Relaxed);
                loop {
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => break,
                        text = c.recv_text(STORM_LIMIT) => if text.is_none() { break },
                    }
                }
                (c, named)
            })
        })
        .collect();
    // Everyone named (or given up on, after twice the time limit: the original protocol sends
    // everyone the whole map at each join, which some servers cannot keep up with), then 2 s
    // for the last announcements to drain.
    let give_up = Instant::now() + 2 * STORM_LIMIT;
    while tried.load(Ordering::Relaxed) < clients && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    settle().await;
    let after = crate::soak::rss_kib(server_pid)?;
    let _ = stop_tx.send(true);
    let mut kept = Vec::new();
    for t in named {
        kept.push(t.await.ok()?);
    }
    let named = kept.iter().filter(|(_, named)| *named).count();
    let per = |kib: u64| (kib.saturating_sub(before) as f64 / clients as f64 * 10.0).round() / 10.0;
    drop(kept);
    // Long enough for a server that gives memory back now and then (chat-server looks every 10 s).
    tokio::time::sleep(AFTER_LEAVING).await;
    let left = crate::soak::rss_kib(server_pid)?;
    Some(MemoryReport {
        clients,
        named,
        rss_before_kib: before,
        idle_kib_per_connection: per(idle),
        named_kib_per_connection: per(after),
        rss_after_leave_kib: left,
    })
}
