//! The page's own socket.io client (engine.io v4 + socket.io v5): a pure codec (host-tested),
//! the reconnection and retry policies (host-tested), and the browser parts: transports and
//! the client.

pub mod codec;
#[cfg(test)]
mod fuzz;

#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod transport;

#[cfg(target_arch = "wasm32")]
pub use client::Socket;
#[cfg(target_arch = "wasm32")]
pub use transport::TransportKind;

use std::time::Duration;

use chat_shared::ErrorCode;
use chat_shared::protocol::{Answer, ClientEvent};
use serde_json::Value;

/// How often a bulky request refused `too_many_unreceived` is asked in all, and the wait
/// between.
pub const BULKY_TRIES: u32 = 5;
pub const BULKY_RETRY: Duration = Duration::from_millis(200);

/// How often a read refused `rate_limited` is asked in all (see [`rate_wait`]): e.g. a whole
/// NAT's pages asking for what they missed after a restart, past their address's budget
/// (each page asks for several lists at once). Six waits of ~1, 2, 4, 8, 16 and 30 s: about a
/// minute, over which the address's budget refills ~240 requests.
pub const RATE_TRIES: u32 = 7;
/// The longest wait between two tries of a read refused `rate_limited`; a refusal naming a
/// longer wait is not asked again.
pub const RATE_RETRY_MAX: Duration = Duration::from_secs(30);

/// Whether `event` is asked again when refused `rate_limited`: the reads that share the
/// history budget (`about` and the bulky answers). Their refusals always name seconds to wait
/// as `limit`; other refusals `rate_limited` may name a cap there (`moderate`'s mutes and
/// room moderators) and are never asked again.
pub fn asked_again_when_rate_limited(event: ClientEvent) -> bool {
    event.is_bulky() || event == ClientEvent::About
}

/// The wait before try `retry` + 1 of a read refused `rate_limited` with `named`: at least
/// what the refusal names, and an exponential backoff (1 s, 2 s, 4 s… capped at
/// [`RATE_RETRY_MAX`]) scaled by a random factor in [0.5, 1.5) (`random` is uniform in [0, 1)),
/// so that a crowd refused together does not come back together.
pub fn rate_wait(named: Duration, retry: u32, random: f64) -> Duration {
    let backoff = Duration::from_secs(1).saturating_mul(1u32 << retry.saturating_sub(1).min(5));
    named.max(backoff.min(RATE_RETRY_MAX).mul_f64(0.5 + random.clamp(0.0, 1.0))).min(RATE_RETRY_MAX)
}

/// When to ask a request again after this ack, if at all: refused `too_many_unreceived` (a
/// moment later), or `rate_limited` naming a wait of at most [`RATE_RETRY_MAX`].
pub fn retry_after(answer: &[Value]) -> Option<Retry> {
    match Answer::<serde::de::IgnoredAny>::from_args(answer) {
        Some(Answer(Err(e))) if e.code == ErrorCode::TooManyUnreceived => Some(Retry::Unreceived),
        Some(Answer(Err(e))) if e.code == ErrorCode::RateLimited => {
            e.limit.map(Duration::from_secs).filter(|wait| *wait <= RATE_RETRY_MAX).map(Retry::RateLimited)
        }
        _ => None,
    }
}

/// Why a request is asked again.
#[derive(Debug, PartialEq)]
pub enum Retry {
    /// Too many answers on their way (bulky requests): again after [`BULKY_RETRY`],
    /// [`BULKY_TRIES`] in all.
    Unreceived,
    /// Past a rate, naming this wait: see [`asked_again_when_rate_limited`], [`rate_wait`].
    RateLimited(Duration),
}

/// Why an emit did not reach the server (or its ack did not come back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketError {
    NotConnected,
    Disconnected,
    Timeout,
}

/// The connection's status, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Connecting,
    #[cfg(target_arch = "wasm32")]
    Connected {
        transport: TransportKind,
        reconnected: bool,
    },
    #[cfg(not(target_arch = "wasm32"))]
    Connected {
        reconnected: bool,
    },
    Reconnecting {
        attempt: u32,
        delay: Duration,
    },
    Error(String),
}

/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s… capped at 10 s, each scaled by a random
/// factor in [0.5, 1.5) so that many pages do not all come back at the same instant.
#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    const BASE: Duration = Duration::from_millis(500);
    const CAP: Duration = Duration::from_secs(10);

    /// The delay before the next attempt; `random` is uniform in [0, 1).
    pub fn next_delay(&mut self, random: f64) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        let exp = Self::BASE.saturating_mul(1u32 << self.attempt.saturating_sub(1).min(10));
        exp.min(Self::CAP).mul_f64(0.5 + random.clamp(0.0, 1.0))
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_jitters_and_resets() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(0.5), Duration::from_millis(500));
        assert_eq!(b.next_delay(0.5), Duration::from_millis(1000));
        assert_eq!(b.next_delay(0.5), Duration::from_millis(2000));
        for _ in 0..20 {
            b.next_delay(0.5);
        }
        assert_eq!(b.next_delay(0.5), Duration::from_secs(10));
        assert_eq!(b.next_delay(0.0), Duration::from_secs(5));
        assert!(b.next_delay(0.999) < Duration::from_secs(15));
        b.reset();
        assert_eq!(b.next_delay(0.5), Duration::from_millis(500));
        assert_eq!(b.attempt(), 1);
    }

    #[test]
    fn bulky_requests_are_asked_again_when_unreceived_or_after_the_rate_limits_wait() {
        use serde_json::json;
        // As the server sends them: a code, a message, and a limit if the refusal names one.
        let refused = |mut e: serde_json::Value| {
            e["message"] = json!("refused");
            vec![e]
        };
        assert_eq!(retry_after(&refused(json!({"code": "too_many_unreceived"}))), Some(Retry::Unreceived));
        assert_eq!(
            retry_after(&refused(json!({"code": "rate_limited", "limit": 2}))),
            Some(Retry::RateLimited(Duration::from_secs(2))),
            "after the seconds it names"
        );
        assert_eq!(retry_after(&refused(json!({"code": "rate_limited"}))), None, "no wait named");
        assert_eq!(retry_after(&refused(json!({"code": "rate_limited", "limit": 3600}))), None, "too long");
        assert_eq!(retry_after(&refused(json!({"code": "unavailable"}))), None);
        assert_eq!(retry_after(&[Value::Null, json!({"messages": []})]), None, "answered");
        assert!(asked_again_when_rate_limited(ClientEvent::History));
        assert!(asked_again_when_rate_limited(ClientEvent::About), "the first screen's count");
        assert!(!asked_again_when_rate_limited(ClientEvent::Moderate), "its limit may be a cap");
    }

    #[test]
    fn reads_refused_rate_limited_back_off_with_jitter_and_never_before_the_named_wait() {
        let second = Duration::from_secs(1);
        let waits: Vec<Duration> = (1..RATE_TRIES).map(|retry| rate_wait(second, retry, 0.5)).collect();
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30], "doubling, capped");
        assert!(waits.iter().sum::<Duration>() >= Duration::from_secs(60), "about a minute in all");
        assert_eq!(rate_wait(second, 1, 0.0), second, "never less than named");
        assert_eq!(rate_wait(Duration::from_secs(5), 1, 0.0), Duration::from_secs(5));
        assert_eq!(rate_wait(second, 3, 0.0), Duration::from_secs(2), "jitter down to half");
        let up = rate_wait(second, 3, 0.999);
        assert!(up > Duration::from_millis(5_990) && up < Duration::from_secs(6), "and up: {up:?}");
        assert_eq!(rate_wait(second, 30, 0.999), RATE_RETRY_MAX, "never past the longest wait");
    }
}
