//! New engine.io sessions per client address. A session that never joins the chat is not a
//! connection (the admission counts namespace connects), so nothing else limits how fast an
//! address opens them; each lives until the connect timeout. While per-address rules are on,
//! an address may open sessions at [`ADDRESS_HANDSHAKES_PER_MINUTE`] after a burst of twice
//! its connection limit, and an IPv6 /48 (all its /64s together) at [`NETWORK_ADDRESSES`]
//! times that; over it, the handshake gets HTTP 429 (with `Retry-After`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chat_shared::limits::{ADDRESS_HANDSHAKES_PER_MINUTE, NETWORK_ADDRESSES};
use chat_shared::protocol::is_socket_io_path;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client_addr::{ClientAddress, address_key, network_key};

/// Handshakes this many at most between two prunings of idle addresses.
const PRUNE_EVERY: u64 = 4096;

/// The per-address handshake rate, and the per-/48 one (None: per-address rules are off).
pub struct Handshakes {
    limiter: Option<(DefaultKeyedRateLimiter<IpAddr>, DefaultKeyedRateLimiter<IpAddr>)>,
    seen: std::sync::atomic::AtomicU64,
}

impl Handshakes {
    /// `per_address`: the per-address connection limit (0: off).
    pub fn new(per_address: usize) -> Self {
        let burst = u32::try_from(per_address.saturating_mul(2)).ok().and_then(NonZeroU32::new);
        let rate = NonZeroU32::new(ADDRESS_HANDSHAKES_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        let scale = u32::try_from(NETWORK_ADDRESSES).unwrap_or(u32::MAX);
        let times = |n: NonZeroU32| n.saturating_mul(NonZeroU32::new(scale).unwrap_or(NonZeroU32::MIN));
        let limiter = burst.map(|burst| {
            let address = RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst));
            let network = RateLimiter::keyed(Quota::per_minute(times(rate)).allow_burst(times(burst)));
            (address, network)
        });
        Self { limiter, seen: Default::default() }
    }

    /// Whether `address` may open one more session now.
    fn allow(&self, address: IpAddr) -> bool {
        let Some((by_address, by_network)) = &self.limiter else { return true };
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % PRUNE_EVERY == PRUNE_EVERY - 1 {
            by_address.retain_recent();
            by_network.retain_recent();
        }
        by_address.check_key(&address_key(address)).is_ok()
            && network_key(address).is_none_or(|network| by_network.check_key(&network).is_ok())
    }
}

/// Whether a socket.io request opens a new engine.io session (its query has no `sid`).
fn opens_a_session(query: Option<&str>) -> bool {
    !query.unwrap_or_default().split('&').any(|pair| pair.starts_with("sid="))
}

/// Middleware: refuses a new engine.io session over its address's rate with 429.
pub async fn limit(State(handshakes): State<Arc<Handshakes>>, request: Request, next: Next) -> Response {
    let new_session = is_socket_io_path(request.uri().path()) && opens_a_session(request.uri().query());
    let address = request.extensions().get::<ClientAddress>().map(|c| c.0);
    if let (true, Some(address)) = (new_session, address)
        && !handshakes.allow(address)
    {
        crate::metrics::connection_refused("handshake_rate");
        tracing::debug!(%address, "refused a new engine.io session: too many from this address");
        let wait = 60 / ADDRESS_HANDSHAKES_PER_MINUTE.max(1) + 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.to_string())],
            "too many new connections from your address: wait a moment\n",
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_opens_sessions_at_its_rate_and_a_64_is_one_address() {
        assert!(opens_a_session(Some("EIO=4&transport=polling")));
        assert!(!opens_a_session(Some("EIO=4&transport=websocket&sid=abc")));
        let h = Handshakes::new(3);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let allowed = (0..10).filter(|i| h.allow(if i % 2 == 0 { one } else { same_64 })).count();
        assert_eq!(allowed, 6, "a burst of twice the connection limit, for the whole /64");
        assert!(h.allow(other));
        let off = Handshakes::new(0);
        assert!((0..1000).all(|_| off.allow(one)), "per-address rules off");
    }
}
