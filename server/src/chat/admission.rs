//! Admission: at most so many connections in total and per client address, counted from the
//! namespace connect to the disconnect. A connection over a limit gets socket.io's connect
//! error with the reason, and nothing else is affected.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

/// The limits (0: no limit).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub total: usize,
    pub per_address: usize,
}

/// Why a connection was refused (sent to the client as its connect error message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many connections: the server is full")]
    Full,
    #[error("too many connections from your address")]
    TooManyFromAddress,
    #[error("the server is shutting down: try again in a moment")]
    ShuttingDown,
}

impl Refused {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::TooManyFromAddress => "per_address",
            Self::ShuttingDown => "shutting_down",
        }
    }
}

pub struct Admission {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Admission {
    pub fn new(limits: ConnectionLimits) -> Self {
        Self { limits, counts: Mutex::default() }
    }

    /// Counts a new connection from `address` (None: unknown), unless it is over a limit.
    pub fn admit(&self, address: Option<IpAddr>) -> Result<(), Refused> {
        let mut counts = self.lock();
        if self.limits.total > 0 && counts.total >= self.limits.total {
            return Err(Refused::Full);
        }
        if let Some(addr) = address {
            let mine = counts.by_address.get(&addr).copied().unwrap_or(0);
            if self.limits.per_address > 0 && mine >= self.limits.per_address {
                return Err(Refused::TooManyFromAddress);
            }
            counts.by_address.insert(addr, mine + 1);
        }
        counts.total += 1;
        Ok(())
    }

    /// A connection admitted from `address` is gone.
    pub fn leave(&self, address: Option<IpAddr>) {
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
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_total_and_per_address() {
        let a = Admission::new(ConnectionLimits { total: 3, per_address: 2 });
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(a.admit(Some(one)), Ok(()));
        assert_eq!(a.admit(Some(one)), Ok(()));
        assert_eq!(a.admit(Some(one)), Err(Refused::TooManyFromAddress));
        assert_eq!(a.admit(Some(two)), Ok(()));
        assert_eq!(a.admit(Some(two)), Err(Refused::Full));
        a.leave(Some(one));
        assert_eq!(a.admit(Some(one)), Ok(()));
        let unlimited = Admission::new(ConnectionLimits { total: 0, per_address: 0 });
        for _ in 0..1000 {
            assert_eq!(unlimited.admit(Some(one)), Ok(()));
        }
    }
}
