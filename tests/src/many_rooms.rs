//! The benchmark's "many rooms" scenario (issue 17), for chat-server and the Node reference
//! extended with socket.io's rooms (scripts/node-rooms-server.js) alike: P people in R rooms of
//! P/R each, the first few of each room also in the next room; one member of each room says
//! a few lines a second (each carrying its send time), everyone records the latency of each
//! `room message` it gets. Reports deliveries/s, latency percentiles, losses, the server's CPU
//! per delivery and its memory per person (RSS growth from before the people came).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::WireClient;
use crate::fanout::{Percentiles, RunCost, cpu_seconds, record_latency};

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct ManyRooms {
    pub port: u16,
    pub people: usize,
    pub rooms: usize,
    /// How many of each room's people are also in the next room.
    pub also_next: usize,
    /// Lines per second in each room.
    pub rate_per_room: f64,
    pub seconds: u64,
    /// People take nicknames first (chat-server needs them to join rooms; the Node reference's
    /// original logic sends everyone the whole map per nickname, which 10,000 never finish).
    pub named: bool,
    pub server_pid: Option<u32>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ManyRoomsReport {
    pub people: usize,
    pub rooms: usize,
    /// People who joined their room(s), and room memberships in all.
    pub joined: usize,
    pub memberships: usize,
    pub setup_seconds: f64,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub deliveries_per_s: f64,
    pub latency_ms: Percentiles,
    pub server_cpu_us_per_delivery: Option<f64>,
    pub server_rss_kib: Option<u64>,
    pub kib_per_person: Option<f64>,
    pub loadgen_cpu_share: f64,
    pub loadgen_saturated: bool,
}

/// Connections set up at once.
const SETUP_CONCURRENCY: usize = 64;
/// How long receivers wait for late lines after the senders stop.
const DRAIN: Duration = Duration::from_secs(3);
/// How long one request of the setup may take.
const ANSWER: Duration = Duration::from_secs(60);

fn room_name(r: usize) -> String {
    format!("r{r}")
}

/// Sends `event` with `args` and waits for its ack (`43<id>[…]`), reading past anything else.
async fn ask(c: &mut WireClient, event: &str, args: &[Value], id: u64) -> Option<String> {
    c.emit(event, args, Some(id)).await;
    let prefix = format!("43{id}[");
    loop {
        let text = c.recv_text(ANSWER).await?;
        if text.starts_with(&prefix) {
            return Some(text);
        }
    }
}

/// The send time (µs since the start) in a `room message` frame, if it is one.
fn sent_at(frame: &str) -> Option<u64> {
    let rest = frame.strip_prefix("42[\"room message\",")?;
    let rest = &rest[rest.find("\"text\":\"")? + 8..];
    rest[..rest.find('"')?].parse().ok()
}

/// Creates the rooms (chat-server lets one connection create 3 at once: several makers).
async fn create_rooms(f: &ManyRooms) -> bool {
    let mut made = 0;
    let mut maker = 0;
    while made < f.rooms {
        let Ok(mut c) = WireClient::try_connect_for_changes(f.port).await else { return false };
        if f.named && ask(&mut c, "nickname", &[json!(format!("maker{maker}"))], 1).await.is_none() {
            return false;
        }
        for id in 0..3 {
            if made == f.rooms {
                break;
            }
            let answer = ask(&mut c, "create room", &[json!({ "name": room_name(made) })], 10 + id).await;
            if !answer.is_some_and(|a| a.starts_with(&format!("43{}[null", 10 + id))) {
                eprintln!("many rooms: cannot create {}", room_name(made));
                return false;
            }
            made += 1;
        }
        c.close().await;
        maker += 1;
    }
    true
}

pub async fn run(f: ManyRooms) -> Option<ManyRoomsReport> {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = f.server_pid.and_then(crate::soak::rss_kib);
    if !create_rooms(&f).await {
        return None;
    }
    let per_room = f.people.div_ceil(f.rooms.max(1));
    // Who is in which rooms: person i in room i / per_room, and the first few of each room in
    // the next one too.
    let rooms_of = move |i: usize| {
        let home = (i / per_room).min(f.rooms - 1);
        let mut rooms = vec![home];
        if i % per_room < f.also_next && f.rooms > 1 {
            rooms.push((home + 1) % f.rooms);
        }
        rooms
    };
    let mut members = vec![0usize; f.rooms];
    for i in 0..f.people {
        for r in rooms_of(i) {
            members[r] += 1;
        }
    }
    let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let (go_tx, go_rx) = tokio::sync::watch::channel(None::<Instant>);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let mut tasks = Vec::new();
    for i in 0..f.people {
        let (gate, mut go, ready) = (gate.clone(), go_rx.clone(), ready_tx.clone());
        let rooms = rooms_of(i);
        // The first of each room speaks in it.
        let speaks = (i % per_room == 0).then_some(rooms[0]);
        tasks.push(tokio::spawn(async move {
            let setup = async {
                let _permit = gate.acquire_owned().await.ok()?;
                let mut c = WireClient::try_connect_for_changes(f.port).await.ok()?;
                if f.named {
                    let ack = ask(&mut c, "nickname", &[json!(format!("p{i}"))], 1).await?;
                    ack.starts_with("431[false").then_some(())?;
                }
                for (k, r) in rooms.iter().enumerate() {
                    let id = 2 + k as u64;
                    let ack = ask(&mut c, "join room", &[json!({ "room": room_name(*r) })], id).await?;
                    ack.starts_with(&format!("43{id}[null")).then_some(())?;
                }
                Some(c)
            };
            let c = setup.await;
            let _ = ready.send(c.is_some());
            let mut c = c?;
            let mut latencies: Vec<u32> = Vec::new();
            let until = loop {
                tokio::select! {
                    changed = go.changed() => {
                        changed.ok()?;
                        if let Some(until) = *go.borrow() { break until; }
                    }
                    text = c.recv_text(Duration::from_secs(120)) => {
                        // A line from a speaker that saw the signal before this task did.
                        if let Some(t) = sent_at(&text?) {
                            record_latency(&mut latencies, start, t);
                        }
                    }
                }
            };
            let mut tick = speaks.map(|r| {
                let every = Duration::from_secs_f64(1.0 / f.rate_per_room.max(0.001));
                // Rooms take turns: the lines of all rooms arrive evenly spread.
                let turn = every.mul_f64(r as f64 / f.rooms as f64);
                let mut t = tokio::time::interval_at(tokio::time::Instant::now() + turn, every);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                t
            });
            let mut sent = 0u64;
            let stop_reading = until + DRAIN;
            loop {
                let now = Instant::now();
                if now >= stop_reading {
                    break;
                }
                let sending = tick.is_some() && now < until;
                tokio::select! {
                    _ = async { tick.as_mut().map(|t| t.tick()).expect("a speaker").await }, if sending => {
                        let t = start.elapsed().as_micros() as u64;
                        let room = room_name(speaks.unwrap_or_default());
                        let frame = format!("42[\"room message\",{{\"room\":\"{room}\",\"text\":\"{t}\"}}]");
                        if c.try_send_raw(&frame).await.is_err() { break; }
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
            Some((speaks.map(|r| (r, sent)), latencies))
        }));
    }
    drop(ready_tx);
    let mut joined = 0;
    let mut answered = 0;
    while answered < f.people {
        match ready_rx.recv().await {
            Some(ok) => {
                answered += 1;
                joined += usize::from(ok);
            }
            None => break,
        }
    }
    let setup_seconds = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = f.server_pid.and_then(crate::soak::rss_kib);
    let cpu_before = (cpu_seconds(None).unwrap_or(0.0), cpu_seconds(f.server_pid));
    let began = Instant::now();
    let _ = go_tx.send(Some(began + Duration::from_secs(f.seconds)));
    let (mut sent, mut expected) = (0u64, 0u64);
    let mut all: Vec<u32> = Vec::new();
    for t in tasks {
        if let Ok(Some((spoke, l))) = t.await {
            if let Some((room, n)) = spoke {
                sent += n;
                expected += n * (members[room] as u64 - 1);
            }
            all.extend(l);
        }
    }
    let run = RunCost::since(began, cpu_before, f.server_pid);
    let (share, server_cpu) = (run.loadgen_share, run.server_cpu_s);
    let latency = Percentiles::of(&mut all);
    let delivered = all.len() as u64;
    let per_person = rss_before
        .zip(rss_after)
        .map(|(b, a)| (a.saturating_sub(b) as f64 / f.people.max(1) as f64 * 10.0).round() / 10.0);
    Some(ManyRoomsReport {
        people: f.people,
        rooms: f.rooms,
        joined,
        memberships: members.iter().sum(),
        setup_seconds: (setup_seconds * 10.0).round() / 10.0,
        sent,
        delivered,
        lost: expected.saturating_sub(delivered),
        deliveries_per_s: (delivered as f64 / f.seconds as f64).round(),
        latency_ms: latency,
        server_cpu_us_per_delivery: server_cpu.filter(|_| delivered > 0).map(|s| s * 1e6 / delivered as f64),
        server_rss_kib: rss_after,
        kib_per_person: per_person,
        loadgen_cpu_share: (share * 100.0).round() / 100.0,
        loadgen_saturated: share > 0.9,
    })
}

#[cfg(test)]
mod tests {
    use super::sent_at;

    #[test]
    fn finds_the_send_time_in_either_servers_frame() {
        let ours = r#"42["room message",{"room":"r3","from":"p1","text":"123456","id":9,"ts":2}]"#;
        assert_eq!(sent_at(ours), Some(123456));
        assert_eq!(sent_at(r#"42["room message",{"room":"r3","from":"abc","text":"42"}]"#), Some(42));
        assert_eq!(sent_at(r#"42["user message","x","1"]"#), None);
    }
}
