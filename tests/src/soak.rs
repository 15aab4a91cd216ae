//! The soak scenario: permanent listeners, and churners that keep joining, chatting and leaving.
//! Used by `loadgen soak` (long runs) and by a short test. Every line a churner got acked must
//! reach every listener: `delivered == accepted × listeners` means no delivery was lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::WireClient;
use crate::wire::Inbound;

#[derive(Debug, Clone, serde::Serialize)]
pub struct SoakReport {
    pub seconds: u64,
    pub listeners: usize,
    pub churners: usize,
    pub joins: u64,
    pub accepted: u64,
    pub delivered: u64,
    pub lost: u64,
    pub rss_start_kib: Option<u64>,
    pub rss_end_kib: Option<u64>,
}

/// Resident memory of process `pid`, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Waits for the ack `id`; None if the connection closed or stayed silent for 10 s.
async fn ack(c: &mut WireClient, id: u64) -> Option<Vec<Value>> {
    loop {
        match c.recv_packet(Duration::from_secs(10)).await? {
            Inbound::Ack(got, args) if got == id => return Some(args),
            _ => {}
        }
    }
}

/// Runs the soak against 127.0.0.1:`port` for `seconds`; `pid` is the server's, for its memory.
/// Each churner pauses `pause` between rounds (people do not chat flat out).
pub async fn run(
    port: u16,
    pid: Option<u32>,
    listeners: usize,
    churners: usize,
    seconds: u64,
    pause: Duration,
) -> SoakReport {
    let mut ears = Vec::new();
    for i in 0..listeners {
        ears.push(WireClient::join(port, &format!("listener{}-{i}", std::process::id())).await.0);
    }
    let rss_start_kib = pid.and_then(rss_kib);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let joins = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..churners)
        .map(|w| {
            let (joins, accepted) = (joins.clone(), accepted.clone());
            tokio::spawn(async move {
                // Arrivals spread over the first pause, as people's are (not a join storm).
                tokio::time::sleep(pause.mul_f64(w as f64 / churners as f64)).await;
                let mut round = 0u64;
                while Instant::now() < deadline {
                    let Ok(mut c) = WireClient::try_connect(port).await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    round += 1;
                    c.emit("nickname", &[json!(format!("c{w}-{round}"))], Some(1)).await;
                    if ack(&mut c, 1).await != Some(vec![Value::Bool(false)]) {
                        continue;
                    }
                    joins.fetch_add(1, Ordering::Relaxed);
                    for n in 0..3u64 {
                        c.emit("user message", &[json!(format!("c{w}-{round}-{n}"))], Some(10 + n)).await;
                        if ack(&mut c, 10 + n).await.and_then(|a| a.first().cloned()) == Some(Value::Null) {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    c.close().await;
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect();
    let listening: Vec<_> = ears
        .into_iter()
        .map(|mut ear| {
            tokio::spawn(async move {
                let mut got = 0u64;
                loop {
                    match ear.recv_packet(Duration::from_secs(3)).await {
                        Some(Inbound::Event(name, _)) if name == "user message" => got += 1,
                        Some(_) => {}
                        None if Instant::now() < deadline => {}
                        None => return got,
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let mut delivered = 0;
    for l in listening {
        delivered += l.await.unwrap_or(0);
    }
    let accepted = accepted.load(Ordering::Relaxed);
    let expected = accepted * listeners as u64;
    SoakReport {
        seconds,
        listeners,
        churners,
        joins: joins.load(Ordering::Relaxed),
        accepted,
        delivered,
        lost: expected.saturating_sub(delivered),
        rss_start_kib,
        rss_end_kib: pid.and_then(rss_kib),
    }
}
