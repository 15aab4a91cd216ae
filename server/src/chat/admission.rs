//! Admission: at most so many connections in total and per client address, counted from the
//! namespace connect for as long as socketioxide keeps the connection's socket (a [`Ticket`] in
//! its extensions gives the place back when the socket is dropped, whichever way it ends: a
//! disconnect, or a transport that went before the connect completed); and, per address (while
//! per-address limits are on), a rate of new connections, a message rate shared by all its
//! connections, and a penalty after a flood, so that reconnecting or opening many connections
//! does not multiply what one client may do. A connection over a limit gets socket.io's connect
//! error with the reason, and nothing else is affected. It also tells the heap trim how many
//! are open and the most at once since it last asked ([`Occupancy`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chat_shared::ChatError;
use chat_shared::limits::{
    ADDRESS_CLAIMS_BURST_MIN, ADDRESS_CLAIMS_PER_MINUTE, ADDRESS_CONNECTS_PER_MINUTE, ADDRESS_HISTORY_BURST,
    ADDRESS_HISTORY_PER_SECOND, ADDRESS_MESSAGE_BURST, ADDRESS_MESSAGES_PER_SECOND, ADDRESS_NEW_OWNERS_BURST,
    ADDRESS_NEW_OWNERS_PER_HOUR, ADDRESS_TYPING_BURST, ADDRESS_TYPING_PER_SECOND, FLOOD_PENALTY,
    NETWORK_ADDRESSES,
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::session::{nonzero, rate_limited};
use crate::client_addr::{address_key, network_key};
use crate::log_throttle::Throttle;

/// The limits (0: no limit).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub total: usize,
    /// Connections per address at once; 0 also turns off every other per-address rule.
    pub per_address: usize,
}

/// Why a connection was refused (sent to the client as its connect error message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many connections: the server is full")]
    Full,
    #[error("too many connections from your address")]
    TooManyFromAddress,
    #[error("too many connections from your network")]
    TooManyFromNetwork,
    #[error("too many new connections from your address: wait a moment")]
    TooFastFromAddress,
    #[error("too many new connections from your network: wait a moment")]
    TooFastFromNetwork,
    #[error("your address flooded the chat: wait a minute")]
    FloodPenalty,
    #[error("your network flooded the chat: wait a minute")]
    NetworkFloodPenalty,
    #[error("the server is shutting down: try again in a moment")]
    ShuttingDown,
    #[error("a moderator banned your address for now")]
    Banned,
}

impl Refused {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::TooManyFromAddress => "per_address",
            Self::TooManyFromNetwork => "per_network",
            Self::TooFastFromAddress => "address_rate",
            Self::TooFastFromNetwork => "network_rate",
            Self::FloodPenalty => "flood_penalty",
            Self::NetworkFloodPenalty => "network_flood_penalty",
            Self::ShuttingDown => "shutting_down",
            Self::Banned => "banned",
        }
    }
}

/// Admitted connections at most this often prune the per-address state of idle addresses.
const PRUNE_EVERY_ADMITS: u32 = 1024;

pub struct Admission {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
    /// The per-address rules; None when per-address limits are off.
    per_address: Option<AddressRules>,
    admits: AtomicU32,
    /// When the next refusal may be logged at warn level.
    /// The warning about refused connections.
    refusals_logged: Throttle,
}

struct AddressRules {
    /// Each address's rates (an IPv6 address: its /64)...
    by_address: Rates,
    /// ...and each IPv6 /48's, [`NETWORK_ADDRESSES`] times as large: a site's 65,536 /64s
    /// together do what a few addresses may, not 65,536 times as much.
    by_network: Rates,
    /// Addresses (and IPv6 /48s) a flooder was closed from, and until when they are refused.
    penalties: Mutex<HashMap<Tier, Instant>>,
}

/// What a rule counts: an address (an IPv6 /64), or an IPv6 /48 (a /48's key is also its
/// first /64's: two tiers, not one map of both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Tier {
    Address(IpAddr),
    Network(IpAddr),
}

/// Which tier refused, and when it would allow again.
type Refusal = (Tier, governor::NotUntil<governor::clock::QuantaInstant>);

/// The rate limits of one tier (addresses, or IPv6 networks), keyed by its keys.
struct Rates {
    connects: DefaultKeyedRateLimiter<IpAddr>,
    messages: DefaultKeyedRateLimiter<IpAddr>,
    typing: DefaultKeyedRateLimiter<IpAddr>,
    history: DefaultKeyedRateLimiter<IpAddr>,
    new_owners: DefaultKeyedRateLimiter<IpAddr>,
    claims: DefaultKeyedRateLimiter<IpAddr>,
}

impl Rates {
    /// The per-address quotas times `scale` (`connections`: the per-address connection limit,
    /// the burst of new connections and claims).
    fn new(connections: NonZeroU32, scale: u32) -> Self {
        let times = |n: u32| nonzero(n.saturating_mul(scale));
        let connections = times(connections.get());
        Self {
            connects: RateLimiter::keyed(
                Quota::per_minute(times(ADDRESS_CONNECTS_PER_MINUTE)).allow_burst(connections),
            ),
            messages: RateLimiter::keyed(
                Quota::per_second(times(ADDRESS_MESSAGES_PER_SECOND))
                    .allow_burst(times(ADDRESS_MESSAGE_BURST)),
            ),
            typing: RateLimiter::keyed(
                Quota::per_second(times(ADDRESS_TYPING_PER_SECOND)).allow_burst(times(ADDRESS_TYPING_BURST)),
            ),
            history: RateLimiter::keyed(
                Quota::per_second(times(ADDRESS_HISTORY_PER_SECOND))
                    .allow_burst(times(ADDRESS_HISTORY_BURST)),
            ),
            new_owners: RateLimiter::keyed(
                Quota::per_hour(times(ADDRESS_NEW_OWNERS_PER_HOUR))
                    .allow_burst(times(ADDRESS_NEW_OWNERS_BURST)),
            ),
            claims: RateLimiter::keyed(
                Quota::per_minute(times(ADDRESS_CLAIMS_PER_MINUTE))
                    .allow_burst(connections.max(times(ADDRESS_CLAIMS_BURST_MIN))),
            ),
        }
    }

    fn prune(&self) {
        self.connects.retain_recent();
        self.messages.retain_recent();
        self.typing.retain_recent();
        self.history.retain_recent();
        self.new_owners.retain_recent();
        self.claims.retain_recent();
    }
}

/// How many connections are open, and the most that were at once in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occupancy {
    pub open: usize,
    pub peak: usize,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// The most admitted at once since [`Admission::take_occupancy`] last looked.
    peak: usize,
    by_address: HashMap<IpAddr, usize>,
    /// IPv6 connections per /48 (see [`network_key`]).
    by_network: HashMap<IpAddr, usize>,
}

impl Admission {
    pub fn new(limits: ConnectionLimits) -> Self {
        let network_scale = u32::try_from(NETWORK_ADDRESSES).unwrap_or(u32::MAX);
        let per_address =
            u32::try_from(limits.per_address).ok().and_then(NonZeroU32::new).map(|connections| {
                AddressRules {
                    by_address: Rates::new(connections, 1),
                    by_network: Rates::new(connections, network_scale),
                    penalties: Mutex::default(),
                }
            });
        Self {
            limits,
            counts: Mutex::default(),
            per_address,
            admits: AtomicU32::new(0),
            refusals_logged: Throttle::new(),
        }
    }

    /// Counts a new connection from `address` (None: unknown), unless it is over a limit; the
    /// ticket gives its place back when dropped (keep it with what owns the connection).
    pub fn admit(self: &Arc<Self>, address: Option<IpAddr>) -> Result<Ticket, Refused> {
        let address = address.map(address_key);
        self.count(address)?;
        Ok(Ticket { admission: Arc::clone(self), address })
    }

    /// Connections admitted now (their tickets not yet dropped).
    pub fn admitted(&self) -> usize {
        self.lock().total
    }

    /// Whether a connection admitted from this address (its key, see
    /// `client_addr::address_key`) is open now.
    pub fn connected_from(&self, address: IpAddr) -> bool {
        self.lock().by_address.contains_key(&address)
    }

    /// Connections admitted now and the most at once since the last call (which starts the
    /// next period): a crowd that came and went between two calls is still seen.
    pub fn take_occupancy(&self) -> Occupancy {
        let mut counts = self.lock();
        let seen = Occupancy { open: counts.total, peak: counts.peak.max(counts.total) };
        counts.peak = counts.total;
        seen
    }

    fn count(&self, address: Option<IpAddr>) -> Result<(), Refused> {
        let mut counts = self.lock();
        if self.limits.total > 0 && counts.total >= self.limits.total {
            return Err(Refused::Full);
        }
        if let Some(addr) = address {
            let mine = counts.by_address.get(&addr).copied().unwrap_or(0);
            if self.limits.per_address > 0 && mine >= self.limits.per_address {
                return Err(Refused::TooManyFromAddress);
            }
            let network = network_key(addr);
            let in_network = network.and_then(|n| counts.by_network.get(&n).copied()).unwrap_or(0);
            if self.limits.per_address > 0
                && network.is_some()
                && in_network >= self.limits.per_address.saturating_mul(NETWORK_ADDRESSES)
            {
                return Err(Refused::TooManyFromNetwork);
            }
            if let Some(rules) = &self.per_address {
                rules.check_connect(addr)?;
            }
            counts.by_address.insert(addr, mine + 1);
            if let Some(n) = network {
                counts.by_network.insert(n, in_network + 1);
            }
        }
        counts.total += 1;
        counts.peak = counts.peak.max(counts.total);
        drop(counts);
        if self.admits.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY_ADMITS == PRUNE_EVERY_ADMITS - 1
            && let Some(rules) = &self.per_address
        {
            rules.prune();
        }
        Ok(())
    }

    /// A connection admitted from `address` is gone (its ticket was dropped).
    fn leave(&self, address: Option<IpAddr>) {
        let mut counts = self.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(addr) = address
            && let Some(n) = counts.by_address.get_mut(&addr)
        {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&addr);
            }
        }
        if let Some(net) = address.and_then(network_key)
            && let Some(n) = counts.by_network.get_mut(&net)
        {
            *n -= 1;
            if *n == 0 {
                counts.by_network.remove(&net);
            }
        }
    }

    /// Records a refused connection: counted in /metrics, logged at debug level, and at warn
    /// level at most once per [`chat_shared::limits::LOG_THROTTLE`] with how many were refused
    /// since.
    pub fn report(&self, refused: Refused, conn: &dyn std::fmt::Display, address: Option<IpAddr>) {
        crate::metrics::connection_refused(refused.label());
        tracing::debug!(%conn, ?address, "connection refused: {refused}");
        let Some(unreported) = self.refusals_logged.due() else { return };
        tracing::warn!(
            ?address,
            refused = unreported,
            "connection refused: {refused} ({unreported} refused since the last such line; by reason in /metrics)"
        );
    }

    /// Whether `address` may send one more message now (all its connections together).
    pub fn allow_message(&self, address: Option<IpAddr>) -> Result<(), ChatError> {
        let (Some(rules), Some(addr)) = (&self.per_address, address) else { return Ok(()) };
        rules.check(addr, |r| &r.messages).map_err(|(_, wait)| rate_limited(wait))
    }

    /// Whether `address` may send one more typing notice now (all its connections together).
    pub fn allow_typing(&self, address: Option<IpAddr>) -> Result<(), ChatError> {
        let (Some(rules), Some(addr)) = (&self.per_address, address) else { return Ok(()) };
        rules.check(addr, |r| &r.typing).map_err(|(_, wait)| rate_limited(wait))
    }

    /// Whether `address` may ask for one more page of history now (all its connections
    /// together: each page may be up to 64 KiB, held until the client reads it).
    pub fn allow_history(&self, address: Option<IpAddr>) -> Result<(), ChatError> {
        let (Some(rules), Some(addr)) = (&self.per_address, address) else { return Ok(()) };
        rules.check(addr, |r| &r.history).map_err(|(_, wait)| rate_limited(wait))
    }

    /// Whether `address` may claim one more nickname now (all its connections together: each
    /// claim is announced to everyone, and so is the departure that may follow it).
    pub fn allow_claim(&self, address: Option<IpAddr>) -> Result<(), ChatError> {
        let (Some(rules), Some(addr)) = (&self.per_address, address) else { return Ok(()) };
        rules.check(addr, |r| &r.claims).map_err(|(_, wait)| rate_limited(wait))
    }

    /// Whether `address` may create one more owned nickname now (else the claim is ephemeral).
    pub fn allow_new_owner(&self, address: Option<IpAddr>) -> bool {
        let (Some(rules), Some(addr)) = (&self.per_address, address) else { return true };
        rules.check(addr, |r| &r.new_owners).is_ok()
    }

    /// A flooder was closed: its address (and, for IPv6, its /48: another /64 of the same site
    /// is the same client) may not connect again for [`FLOOD_PENALTY`].
    pub fn penalize(&self, address: Option<IpAddr>) {
        let (Some(rules), Some(addr)) = (&self.per_address, address) else { return };
        let key = address_key(addr);
        tracing::warn!(addr = %key, penalty = ?FLOOD_PENALTY, "address flooded: refusing its new connections");
        let until = Instant::now() + FLOOD_PENALTY;
        let mut penalties = lock(&rules.penalties);
        penalties.insert(Tier::Address(key), until);
        if let Some(network) = network_key(addr) {
            penalties.insert(Tier::Network(network), until);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        lock(&self.counts)
    }
}

/// One admitted connection's place in the counts, given back when the ticket is dropped.
/// socketioxide drops a socket (and its extensions, where the ticket lives) on every path out:
/// after its disconnect handler, or at once when its transport went before the namespace
/// connect was confirmed (that path calls no disconnect handler).
#[must_use = "the place is given back as soon as the ticket is dropped"]
pub struct Ticket {
    admission: Arc<Admission>,
    address: Option<IpAddr>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.leave(self.address);
    }
}

impl AddressRules {
    /// `addr`: the address's key (see `client_addr::address_key`).
    fn check_connect(&self, addr: IpAddr) -> Result<(), Refused> {
        {
            let mut penalties = lock(&self.penalties);
            for tier in std::iter::once(Tier::Address(addr)).chain(network_key(addr).map(Tier::Network)) {
                match penalties.get(&tier) {
                    Some(until) if Instant::now() < *until => {
                        return Err(match tier {
                            Tier::Address(_) => Refused::FloodPenalty,
                            Tier::Network(_) => Refused::NetworkFloodPenalty,
                        });
                    }
                    Some(_) => {
                        penalties.remove(&tier);
                    }
                    None => {}
                }
            }
        }
        self.check(addr, |r| &r.connects).map_err(|(tier, _)| match tier {
            Tier::Address(_) => Refused::TooFastFromAddress,
            Tier::Network(_) => Refused::TooFastFromNetwork,
        })
    }

    /// Takes one from the limiter `pick` chooses, for `addr`'s key and, for IPv6, its /48's.
    /// The address first: when the /48 refuses, the address's one is spent already (one /64
    /// that abuses its own budget must not drain its neighbours' shared one).
    fn check(
        &self,
        addr: IpAddr,
        pick: impl Fn(&Rates) -> &DefaultKeyedRateLimiter<IpAddr>,
    ) -> Result<(), Refusal> {
        let address = address_key(addr);
        pick(&self.by_address).check_key(&address).map_err(|wait| (Tier::Address(address), wait))?;
        match network_key(addr) {
            Some(network) => {
                pick(&self.by_network).check_key(&network).map_err(|wait| (Tier::Network(network), wait))
            }
            None => Ok(()),
        }
    }

    /// Forgets addresses whose limits are back to full and penalties that are over.
    fn prune(&self) {
        self.by_address.prune();
        self.by_network.prune();
        let now = Instant::now();
        lock(&self.penalties).retain(|_, until| *until > now);
    }
}

/// Each operation is a few inserts or removes: a poisoned lock is still consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: Result<Ticket, Refused>) -> Option<Refused> {
        result.err()
    }

    #[test]
    fn counts_total_and_per_address() {
        let a = Arc::new(Admission::new(ConnectionLimits { total: 3, per_address: 2 }));
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        let _t1 = a.admit(Some(one)).expect("admitted");
        let _t2 = a.admit(Some(one)).expect("admitted");
        assert_eq!(refusal(a.admit(Some(one))), Some(Refused::TooManyFromAddress));
        let t3 = a.admit(Some(two)).expect("admitted");
        assert_eq!(refusal(a.admit(Some(two))), Some(Refused::Full));
        assert_eq!(a.admitted(), 3);
        drop(t3);
        assert_eq!(a.admitted(), 2, "a dropped ticket gives its place back");
        let _t4 = a.admit(Some(two)).expect("a slot freed in total");
        let unlimited = Arc::new(Admission::new(ConnectionLimits { total: 0, per_address: 0 }));
        let held: Vec<Ticket> = (0..1000).map(|_| unlimited.admit(Some(one)).expect("no limit")).collect();
        assert_eq!(unlimited.admitted(), 1000);
        unlimited.penalize(Some(one));
        assert!(unlimited.admit(Some(one)).is_ok(), "per-address rules off");
        drop(held);
        assert_eq!(unlimited.admitted(), 0);
    }

    #[test]
    fn knows_which_addresses_have_connections_open() {
        let a = Arc::new(Admission::new(ConnectionLimits { total: 0, per_address: 0 }));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let key = crate::client_addr::address_key(v6);
        assert!(!a.connected_from(key));
        let ticket = a.admit(Some(v6)).expect("admitted");
        assert!(a.connected_from(key), "counted by its /64");
        assert!(!a.connected_from("10.0.0.1".parse().unwrap()));
        drop(ticket);
        assert!(!a.connected_from(key), "gone with its last connection");
    }

    #[test]
    fn occupancy_keeps_the_peak_of_a_crowd_gone_before_the_look() {
        let a = Arc::new(Admission::new(ConnectionLimits { total: 0, per_address: 0 }));
        let crowd: Vec<Ticket> = (0..5).map(|_| a.admit(None).expect("admitted")).collect();
        let _stays = a.admit(None).expect("admitted");
        drop(crowd);
        assert_eq!(a.take_occupancy(), Occupancy { open: 1, peak: 6 });
        assert_eq!(a.take_occupancy(), Occupancy { open: 1, peak: 1 }, "a look starts the next period");
    }

    #[test]
    fn one_ipv6_48_holds_a_few_addresses_worth_not_the_whole_server() {
        let a = Arc::new(Admission::new(ConnectionLimits { total: 0, per_address: 2 }));
        let cap = 2 * NETWORK_ADDRESSES;
        let held: Vec<Ticket> = (0..cap)
            .map(|i| a.admit(Some(format!("2001:db8:7:{i:x}::1").parse().unwrap())).expect("within the /48"))
            .collect();
        let next: IpAddr = "2001:db8:7:ff::1".parse().unwrap();
        assert_eq!(refusal(a.admit(Some(next))), Some(Refused::TooManyFromNetwork));
        assert!(a.admit(Some("2001:db8:8::1".parse().unwrap())).is_ok(), "another /48");
        assert!(a.admit(Some("10.0.0.1".parse().unwrap())).is_ok(), "IPv4 has no network tier");
        drop(held);
        // (The /48's new connections come at 4 × an address's rate, its burst spent: one more
        // is due within 250 ms.)
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(a.admit(Some(next)).is_ok(), "places in the /48 come back");
    }

    /// Each /64 of a site is an address, but the site's /64s together get NETWORK_ADDRESSES
    /// times one address's rates, not 65,536 times: messages, claims, and a flood's penalty.
    #[test]
    fn one_ipv6_48_shares_a_few_addresses_worth_of_every_rate() {
        let a = Arc::new(Admission::new(ConnectionLimits { total: 0, per_address: 2 }));
        let slash64 = |i: usize| -> IpAddr { format!("2001:db8:9:{i:x}::1").parse().unwrap() };
        let sent = (0..1_000).filter(|i| a.allow_message(Some(slash64(*i))).is_ok()).count();
        assert_eq!(sent, ADDRESS_MESSAGE_BURST as usize * NETWORK_ADDRESSES, "the /48's budget");
        assert!(a.allow_message(Some("2001:db8:a::1".parse().unwrap())).is_ok(), "another /48");
        let one =
            (0..1_000).filter(|_| a.allow_message(Some("2001:db8:b::1".parse().unwrap())).is_ok()).count();
        assert_eq!(one, ADDRESS_MESSAGE_BURST as usize, "one /64 still has its own budget");
        let v4 = (0..1_000).filter(|_| a.allow_message(Some("10.0.0.7".parse().unwrap())).is_ok()).count();
        assert_eq!(v4, ADDRESS_MESSAGE_BURST as usize, "IPv4 has no network tier");
        a.penalize(Some(slash64(1)));
        assert_eq!(refusal(a.admit(Some(slash64(1)))), Some(Refused::FloodPenalty), "the flooder's /64");
        assert_eq!(refusal(a.admit(Some(slash64(2)))), Some(Refused::NetworkFloodPenalty), "its site");
        assert!(a.admit(Some("2001:db8:c::1".parse().unwrap())).is_ok(), "another site");
    }

    #[test]
    fn ipv6_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:10.0.0.1"), key("10.0.0.1"));
        assert_eq!(key("10.0.0.1").to_string(), "10.0.0.1");
        let a = Arc::new(Admission::new(ConnectionLimits { total: 0, per_address: 2 }));
        let same: Vec<IpAddr> = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let _held = [a.admit(Some(same[0])).expect("first"), a.admit(Some(same[1])).expect("second")];
        assert_eq!(refusal(a.admit(Some(same[2]))), Some(Refused::TooManyFromAddress), "one /64");
        assert!(a.admit(Some("2001:db8:1:3::1".parse().unwrap())).is_ok(), "another /64");
    }

    #[test]
    fn reconnecting_does_not_reset_an_address_budget() {
        let a = Arc::new(Admission::new(ConnectionLimits { total: 0, per_address: 5 }));
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..5 {
            drop(a.admit(Some(one)).expect("admitted"));
        }
        assert_eq!(
            refusal(a.admit(Some(one))),
            Some(Refused::TooFastFromAddress),
            "a burst as large as the limit"
        );
        let t = a.admit(Some(two)).expect("other addresses unaffected");
        let sent = (0..1000).filter(|_| a.allow_message(Some(two)).is_ok()).count();
        assert_eq!(sent, ADDRESS_MESSAGE_BURST as usize, "one message budget for the address");
        a.penalize(Some(two));
        drop(t);
        assert_eq!(refusal(a.admit(Some(two))), Some(Refused::FloodPenalty));
    }
}
