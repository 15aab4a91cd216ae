//! Who a request comes from: the TCP peer, or, when the peer is one of the operator's trusted
//! proxies (`--trusted-proxies`), the rightmost `X-Forwarded-For` entry that is not itself a
//! trusted proxy (everything left of that was written by the client and proves nothing).
//! A middleware puts the answer in each request's extensions as a [`ClientAddress`]; the
//! per-address limits, the flood penalty and the `/metrics` allow-list all read it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// A list of networks (CIDRs; a bare address is one host), e.g. the trusted proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(pub Vec<IpNet>);

impl Networks {
    /// Parses a comma-separated list such as `127.0.0.1/32,::1/128` or `10.0.0.5` (empty: none).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("{item:?} is not an address or a network like 10.0.0.0/8"))?,
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// The address a request is attributed to (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket reports for an
/// IPv4 client) as the IPv4 address it is; others unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What the per-address rules count a client address as: an IPv4 address as itself, an
/// IPv6 address as its /64 (a subscriber, a host or a cloud instance usually has a whole /64:
/// keyed by the full address, one client would be 2^64 clients), and an IPv4-mapped IPv6
/// address as the IPv4 address it is.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let net = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(net.into())
        }
        v4 => v4,
    }
}

/// The network an IPv6 client address belongs to, for the per-network connection limit: its
/// /48 (a site: what a tunnel broker hands out, or a provider to a business), so that one
/// person's 65,536 /64s do not count as 65,536 clients. None for IPv4 (a NAT'ed address is
/// already one address).
pub fn network_key(ip: IpAddr) -> Option<IpAddr> {
    match canonical(ip) {
        IpAddr::V6(v6) => Some(IpAddr::V6((u128::from(v6) & !((1u128 << 80) - 1)).into())),
        IpAddr::V4(_) => None,
    }
}

/// The client's address for a request from `peer` with `headers`.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &Networks) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    // Every X-Forwarded-For header, in order, as one list; right to left. Read as bytes: a
    // proxy appends its entry to whatever the client sent, and a client's non-ASCII byte must
    // not make the whole header unreadable (the proxy's own address would then count).
    let values: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let entries: Vec<&str> = values.iter().flat_map(|v| v.split(',')).collect();
    for entry in entries.into_iter().rev() {
        let Some(ip) = parse_entry(entry) else { continue };
        if !trusted.contains(ip) {
            return ip;
        }
    }
    peer
}

/// One `X-Forwarded-For` entry: an address, optionally `[v6]:port` or `v4:port` (None if
/// malformed).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// Middleware: attributes each request to its [`ClientAddress`] (no address without the
/// connection's peer, which axum's `into_make_service_with_connect_info` provides).
pub async fn resolve(State(trusted): State<Arc<Networks>>, mut request: Request, next: Next) -> Response {
    if let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) {
        let client = client_address(peer, request.headers(), &trusted);
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).expect("a header value"));
        }
        h
    }

    #[test]
    fn only_a_trusted_peer_is_believed_and_only_for_the_entries_it_wrote() {
        let trusted = Networks::parse("127.0.0.1/32, ::1/128, 10.1.0.0/16").expect("valid");
        let spoofed = forwarded(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &spoofed, &trusted),
            ip("198.51.100.1"),
            "untrusted peer"
        );
        assert_eq!(client_address(ip("127.0.0.1"), &spoofed, &trusted), ip("203.0.113.9"), "rightmost");
        // The client wrote "6.6.6.6"; nginx appended the real peer; a second trusted hop too.
        let chain = forwarded(&["6.6.6.6", "203.0.113.9, 10.1.2.3"]);
        assert_eq!(client_address(ip("::1"), &chain, &trusted), ip("203.0.113.9"), "skips trusted hops");
        let odd = forwarded(&["203.0.113.9, not-an-address, , 10.1.0.1"]);
        assert_eq!(client_address(ip("127.0.0.1"), &odd, &trusted), ip("203.0.113.9"), "malformed ignored");
        let ported = forwarded(&["[2001:db8::1]:4711"]);
        assert_eq!(client_address(ip("127.0.0.1"), &ported, &trusted), ip("2001:db8::1"));
        let all_trusted = forwarded(&["10.1.0.9"]);
        assert_eq!(client_address(ip("127.0.0.1"), &all_trusted, &trusted), ip("127.0.0.1"), "the peer");
        assert_eq!(client_address(ip("127.0.0.1"), &HeaderMap::new(), &trusted), ip("127.0.0.1"));
        let mapped = forwarded(&["::ffff:203.0.113.9"]);
        assert_eq!(client_address(ip("::ffff:127.0.0.1"), &mapped, &trusted), ip("203.0.113.9"), "v4-mapped");
        assert_eq!(client_address(ip("127.0.0.1"), &spoofed, &Networks::default()), ip("127.0.0.1"), "none");
        // A client's non-ASCII byte before the entry the proxy appended does not hide it.
        let mut high = HeaderMap::new();
        high.append("x-forwarded-for", HeaderValue::from_bytes(b"6.6.6.6\xff, 203.0.113.9").expect("bytes"));
        assert_eq!(client_address(ip("127.0.0.1"), &high, &trusted), ip("203.0.113.9"), "non-ASCII");
    }

    #[test]
    fn networks_parse_cidrs_and_bare_addresses() {
        let n = Networks::parse("127.0.0.1/32,::1/128, 10.0.0.5").expect("valid");
        assert!(n.contains(ip("10.0.0.5")) && n.contains(ip("::1")) && !n.contains(ip("10.0.0.6")));
        assert_eq!(Networks::parse("").expect("empty"), Networks::default());
        assert!(Networks::parse("10.0.0.0/33").is_err());
        assert!(Networks::parse("proxy.example").is_err());
    }
}
