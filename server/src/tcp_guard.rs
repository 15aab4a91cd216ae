//! Guards the TCP listener before HTTP sees a byte: while per-address limits are on, a client
//! address (an IPv6 /64; a /48 gets [`NETWORK_ADDRESSES`] times as many) holds at most so many
//! open TCP connections (more are closed at once), and any connection that neither sends nor
//! receives a byte for [`TCP_IDLE_TIMEOUT`] is closed. axum's server has no header timeout:
//! without these, one address trickling unfinished requests ("slowloris") held its sockets for
//! good and could take every file handle the server has.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use chat_shared::limits::{
    NETWORK_ADDRESSES, TCP_CONNECTIONS_PER_ADDRESS_FACTOR, TCP_CONNECTIONS_PER_ADDRESS_MIN, TCP_IDLE_TIMEOUT,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

use crate::client_addr::{Networks, address_key, canonical, network_key};

/// What open connections are counted by: a client address (an IPv6 /64), or an IPv6 /48 (a
/// /48's key is also its first /64's: two tiers, or that /64 would count twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Counted {
    Address(IpAddr),
    Network(IpAddr),
}

type Open = Arc<Mutex<HashMap<Counted, usize>>>;

/// The listener, counting its open connections by client address.
pub struct GuardedListener {
    tcp: TcpListener,
    open: Open,
    /// Open connections one address may hold (None: no per-address limit).
    per_address: Option<usize>,
    /// Peers that speak for many clients (a reverse proxy): never capped.
    trusted: Networks,
    /// How long a connection may stay silent both ways ([`TCP_IDLE_TIMEOUT`]).
    idle: Duration,
}

impl GuardedListener {
    /// `per_address`: the per-address socket.io connection limit (0: per-address limits off);
    /// an address may hold [`TCP_CONNECTIONS_PER_ADDRESS_FACTOR`] times as many TCP connections
    /// (its page's requests besides its sockets), at least [`TCP_CONNECTIONS_PER_ADDRESS_MIN`].
    pub fn new(tcp: TcpListener, per_address: usize, trusted: Networks) -> Self {
        let per_address = (per_address > 0).then(|| {
            per_address
                .saturating_mul(TCP_CONNECTIONS_PER_ADDRESS_FACTOR)
                .max(TCP_CONNECTIONS_PER_ADDRESS_MIN)
        });
        Self { tcp, open: Arc::default(), per_address, trusted, idle: TCP_IDLE_TIMEOUT }
    }

    /// A place for a connection from `peer`, unless its address (or its /48) holds its limit.
    fn admit(&self, peer: IpAddr) -> Option<Place> {
        let peer = canonical(peer);
        // (key, limit): the address, and an IPv6 address's /48.
        let counted: Vec<(Counted, usize)> = match self.per_address {
            Some(each) if !self.trusted.contains(peer) => {
                std::iter::once((Counted::Address(address_key(peer)), each))
                    .chain(
                        network_key(peer)
                            .map(|net| (Counted::Network(net), each.saturating_mul(NETWORK_ADDRESSES))),
                    )
                    .collect()
            }
            _ => Vec::new(),
        };
        let mut open = lock(&self.open);
        if counted.iter().any(|(key, limit)| open.get(key).copied().unwrap_or(0) >= *limit) {
            return None;
        }
        for (key, _) in &counted {
            *open.entry(*key).or_default() += 1;
        }
        Some(Place { open: self.open.clone(), keys: counted.into_iter().map(|(key, _)| key).collect() })
    }
}

impl Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, peer) = Listener::accept(&mut self.tcp).await;
            let Some(place) = self.admit(peer.ip()) else {
                crate::metrics::connection_refused("tcp_per_address");
                continue;
            };
            return (GuardedStream::new(tcp, place, self.idle), peer);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn lock(open: &Mutex<HashMap<Counted, usize>>) -> MutexGuard<'_, HashMap<Counted, usize>> {
    // One count at a time: a poisoned lock is still consistent.
    open.lock().unwrap_or_else(|p| p.into_inner())
}

/// One connection's place in the counts, given back when the connection is dropped.
struct Place {
    open: Open,
    keys: Vec<Counted>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        for key in &self.keys {
            if let Some(n) = open.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

/// A TCP connection that fails with `TimedOut` once no byte went either way for
/// [`TCP_IDLE_TIMEOUT`] (a socket.io connection is never that quiet: the server pings every
/// 25 s and the client answers).
pub struct GuardedStream {
    tcp: TcpStream,
    timeout: Duration,
    /// When a byte last went in or out...
    last_progress: Instant,
    /// ...and a timer for the earliest moment the connection could count as idle (moved on,
    /// not reset, at each byte: a read or write costs one clock read).
    idle: Pin<Box<Sleep>>,
    _place: Place,
}

impl GuardedStream {
    /// The TCP stream under it (for its socket options).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    fn new(tcp: TcpStream, place: Place, timeout: Duration) -> Self {
        let now = Instant::now();
        let idle = Box::pin(tokio::time::sleep_until(now + timeout));
        Self { tcp, timeout, last_progress: now, idle, _place: place }
    }

    /// Whether the connection has been idle for the timeout (polled when an operation waits).
    fn idle_for_too_long(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.idle.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last_progress + self.timeout;
            if due <= Instant::now() {
                return true;
            }
            self.idle.as_mut().reset(due);
        }
    }

    fn progressed<T>(&mut self, result: &Poll<io::Result<T>>, moved: impl Fn(&T) -> bool) {
        if let Poll::Ready(Ok(value)) = result
            && moved(value)
        {
            self.last_progress = Instant::now();
        }
    }

    fn idle_error() -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, "no byte either way for the idle timeout")
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.tcp).poll_read(cx, buf);
        let after = buf.filled().len();
        self.progressed(&result, |()| after > before);
        if result.is_pending() && self.idle_for_too_long(cx) {
            return Poll::Ready(Err(Self::idle_error()));
        }
        result
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write(cx, data);
        self.progressed(&result, |n| *n > 0);
        if result.is_pending() && self.idle_for_too_long(cx) {
            return Poll::Ready(Err(Self::idle_error()));
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.progressed(&result, |n| *n > 0);
        if result.is_pending() && self.idle_for_too_long(cx) {
            return Poll::Ready(Err(Self::idle_error()));
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(per_address: usize, trusted: &str) -> GuardedListener {
        let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std.set_nonblocking(true).unwrap();
        let tcp = TcpListener::from_std(std).unwrap();
        let trusted =
            Networks(trusted.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect());
        GuardedListener::new(tcp, per_address, trusted)
    }

    #[tokio::test]
    async fn an_address_holds_a_bounded_number_of_connections_and_gets_them_back() {
        let guard = listener(10, "10.9.0.0/16");
        let cap = 10 * TCP_CONNECTIONS_PER_ADDRESS_FACTOR;
        assert_eq!(
            listener(1, "").per_address,
            Some(TCP_CONNECTIONS_PER_ADDRESS_MIN),
            "a browser's worth at least"
        );
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<Place> = (0..cap).map(|_| guard.admit(one).expect("within the limit")).collect();
        assert!(guard.admit(one).is_none(), "over it");
        assert!(guard.admit("10.0.0.2".parse().unwrap()).is_some(), "another address");
        assert!((0..10).all(|_| guard.admit("10.9.0.1".parse().unwrap()).is_some()), "a trusted proxy");
        drop(held);
        assert!(guard.admit(one).is_some(), "places come back");
        let site = |i: usize| -> IpAddr { format!("2001:db8:5:{i:x}::1").parse().unwrap() };
        let held: Vec<Place> =
            (0..cap * NETWORK_ADDRESSES).map(|i| guard.admit(site(i)).expect("its /64s")).collect();
        assert!(guard.admit(site(999)).is_none(), "the /48 holds its limit");
        drop(held);
        let off = listener(0, "");
        assert!((0..1_000).all(|_| off.admit(one).is_some()), "per-address limits off");
    }

    #[tokio::test]
    async fn a_connection_silent_both_ways_times_out_and_one_that_talks_does_not() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let timeout = Duration::from_millis(300);
        let mut guard = GuardedListener { idle: timeout, ..listener(10, "") };
        let addr = guard.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = Listener::accept(&mut guard).await;
        let mut byte = [0u8; 1];
        for _ in 0..4 {
            tokio::time::sleep(timeout / 2).await;
            client.write_all(b"x").await.unwrap();
            assert_eq!(server.read(&mut byte).await.unwrap(), 1, "talking keeps it open");
        }
        let silent = tokio::time::timeout(timeout * 4, server.read(&mut byte)).await;
        let error = silent.expect("it times out first").expect_err("an error");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }
}
