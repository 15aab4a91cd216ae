//! The secrets and ids behind a nickname: the resume token a client holds (never stored: the
//! server keeps its SHA-256 only, and each resume replaces it), the tenure, the id of one
//! person's hold on a nickname from its claim to its release (resumes keep it; the next person
//! to claim the name gets another), which scopes idempotency keys; and the name logs give a
//! connection (not its session id, which is a secret too).

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// A resume token as the client gets it: 128 random bits, hex. Shown to nobody else: it has no
/// `Debug` or `Display`, so that it cannot end up in a log line by accident.
pub struct Token(String);

impl Token {
    /// A fresh token and its hash; None without randomness (the nickname then works, but
    /// cannot be resumed).
    pub fn issue() -> Option<(Self, TokenHash)> {
        let token = Self(random_hex::<16>()?);
        let hash = TokenHash::of(&token.0);
        Some((token, hash))
    }

    /// The hash of a token in plain text: what a client sends back, or what an older version
    /// stored (before hashing).
    pub fn presented(raw: &str) -> TokenHash {
        TokenHash::of(raw)
    }

    /// The token for the client's `session` grant.
    pub fn reveal(self) -> String {
        self.0
    }
}

/// The SHA-256 of a resume token, hex: what the roster, the store and Redis keep and compare.
/// (A token has 128 random bits: a plain hash is enough, no salt or slow hash is needed.)
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct TokenHash(String);

impl TokenHash {
    fn of(raw: &str) -> Self {
        Self(hex(&Sha256::digest(raw.as_bytes())))
    }

    /// A hash read back from the store or Redis.
    pub fn stored(hash: String) -> Self {
        Self(hash)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// No token (no randomness when it was issued): matches nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// The SHA-256 of an owner secret (the lasting proof that an owned nickname is one's own,
/// which the browser keeps): what the roster, the store and Redis keep and compare. The secret
/// itself is issued once, shown to its owner only, and never stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OwnerHash(TokenHash);

impl OwnerHash {
    /// A fresh owner secret (to give to its owner) and its hash; None without randomness.
    pub fn issue() -> Option<(String, Self)> {
        let (secret, hash) = Token::issue()?;
        Some((secret.reveal(), Self(hash)))
    }

    /// The hash of a secret a client presents.
    pub fn presented(raw: &str) -> Self {
        Self(TokenHash::of(raw))
    }

    /// A hash read back from the store or Redis.
    pub fn stored(hash: String) -> Self {
        Self(TokenHash(hash))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for OwnerHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnerHash(..)")
    }
}

/// One person's hold on a nickname, from claim to release: 64 random bits, hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tenure(Arc<str>);

impl Tenure {
    pub fn new() -> Self {
        // Without randomness, the time: unique enough to scope idempotency keys.
        Self(random_hex::<8>().unwrap_or_else(|| format!("{:x}", crate::clock::now_ms())).into())
    }

    /// A tenure read back from the store or Redis.
    pub fn stored(id: &str) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The client's idempotency key, scoped to this tenure: a later holder of the nickname
    /// whose key happens to be the same is not taken for a resend.
    pub fn scope(&self, key: &str) -> String {
        format!("{}:{key}", self.0)
    }
}

/// How logs (and Redis) name a connection: the first 48 bits of the SHA-256 of its session
/// id. The session id itself is a bearer secret — with it anyone can poll or post on that
/// engine.io session — so it is never logged.
#[derive(Clone, Copy)]
pub struct LogId([u8; 6]);

impl LogId {
    pub fn of(sid: socketioxide::socket::Sid) -> Self {
        let digest = Sha256::digest(sid.as_str().as_bytes());
        let mut id = [0u8; 6];
        id.copy_from_slice(&digest[..6]);
        Self(id)
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

fn random_hex<const N: usize>() -> Option<String> {
    let mut bytes = [0u8; N];
    if let Err(e) = getrandom::fill(&mut bytes) {
        tracing::error!("no randomness: {e}");
        return None;
    }
    Some(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_only_as_its_hash() {
        let (token, hash) = Token::issue().expect("randomness");
        let raw = token.reveal();
        assert_eq!(raw.len(), 32);
        assert_eq!(Token::presented(&raw), hash);
        assert_ne!(hash.as_str(), raw);
        assert_eq!(hash.as_str().len(), 64);
        assert_ne!(Token::presented("something else"), hash);
        assert!(!format!("{hash:?}").contains(hash.as_str()), "no hash in logs either");
    }

    #[test]
    fn logs_name_a_connection_without_its_session_id() {
        let sid = socketioxide::socket::Sid::new();
        let logged = LogId::of(sid).to_string();
        assert_eq!(logged.len(), 12);
        assert!(!sid.as_str().contains(&logged) && !logged.contains(sid.as_str()));
        assert_eq!(LogId::of(sid).to_string(), logged, "the same connection, the same name");
    }

    #[test]
    fn tenures_differ_and_scope_keys() {
        let (a, b) = (Tenure::new(), Tenure::new());
        assert_ne!(a, b);
        assert_ne!(a.scope("k1"), b.scope("k1"));
        assert_eq!(a.scope("k1"), a.scope("k1"));
    }
}
