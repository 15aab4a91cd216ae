//! What the server knows about one connection: its nickname (set once), its rate limits, and
//! whether its outgoing queue overflowed.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use chat_shared::limits::{HISTORY_BURST, HISTORY_PER_SECOND, NICKNAME_ATTEMPTS_PER_MINUTE, NICKNAME_BURST};
use chat_shared::{ChatError, ErrorCode, Nickname};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::MessageRate;

pub struct Session {
    /// The client's address (for the per-address connection limit).
    pub address: Option<IpAddr>,
    nickname: OnceLock<Nickname>,
    messages: DefaultDirectRateLimiter,
    nickname_attempts: DefaultDirectRateLimiter,
    history_requests: DefaultDirectRateLimiter,
    overflowed: AtomicBool,
}

impl Session {
    pub fn new(rate: MessageRate, address: Option<IpAddr>) -> Self {
        Self {
            address,
            nickname: OnceLock::new(),
            messages: RateLimiter::direct(
                Quota::per_second(nonzero(rate.per_second)).allow_burst(nonzero(rate.burst)),
            ),
            nickname_attempts: RateLimiter::direct(
                Quota::per_minute(nonzero(NICKNAME_ATTEMPTS_PER_MINUTE)).allow_burst(nonzero(NICKNAME_BURST)),
            ),
            history_requests: RateLimiter::direct(
                Quota::per_second(nonzero(HISTORY_PER_SECOND)).allow_burst(nonzero(HISTORY_BURST)),
            ),
            overflowed: AtomicBool::new(false),
        }
    }

    pub fn nickname(&self) -> Option<&Nickname> {
        self.nickname.get()
    }

    /// Records the nickname; false if the session already had one.
    pub fn set_nickname(&self, nick: Nickname) -> bool {
        self.nickname.set(nick).is_ok()
    }

    pub fn allow_message(&self) -> Result<(), ChatError> {
        check(&self.messages)
    }

    pub fn allow_nickname_attempt(&self) -> Result<(), ChatError> {
        check(&self.nickname_attempts)
    }

    pub fn allow_history(&self) -> Result<(), ChatError> {
        check(&self.history_requests)
    }

    /// Marks the outgoing queue as overflowed; true only the first time.
    pub fn mark_overflowed(&self) -> bool {
        !self.overflowed.swap(true, Ordering::AcqRel)
    }
}

fn check(limiter: &DefaultDirectRateLimiter) -> Result<(), ChatError> {
    limiter.check().map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut e = ChatError::new(ErrorCode::RateLimited);
        e.limit = Some(wait.as_millis().div_ceil(1000).max(1) as u64);
        e
    })
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}
