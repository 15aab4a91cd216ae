//! Who may open a socket.io connection from a browser: socket.io requests (both paths,
//! `/socket.io` and `/socket.io/...`, as [`is_socket_io_path`] says) that carry an `Origin`
//! header (every browser request does) must come from an allowed origin, against cross-site
//! WebSocket hijacking. By default only the page's own origin is allowed (the origin whose host is the
//! request's `Host`). Requests without `Origin` (non-browser clients) are not browser attacks
//! and pass.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chat_shared::protocol::{is_socket_io_endpoint, is_socket_io_path};

/// The origins allowed besides the page's own.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins {
    /// Exact origins such as `https://chat.example.com` (scheme, host and port).
    pub extra: Vec<String>,
    /// `*`: any origin (not recommended).
    pub any: bool,
    /// The page's public origin, when the operator configured it.
    pub public: Option<PublicOrigin>,
}

/// The page's public origin (`--public-origin`), e.g. `https://chat.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    origin: String,
    /// Its `host[:port]` as a `Host` header names it (the default port left out).
    host: String,
}

impl PublicOrigin {
    pub fn parse(text: &str) -> Result<Self, String> {
        let origin = parse_origin(text.trim())?;
        let (scheme, host) = origin.split_once("://").unwrap_or(("", &origin));
        let host = without_default_port(scheme, host).to_owned();
        Ok(Self { origin, host })
    }

    #[cfg(test)]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether a request's `Host` names this origin's host (with or without its default port).
    fn is_host(&self, host: &str) -> bool {
        let scheme = self.origin.split_once("://").map_or("", |(s, _)| s);
        without_default_port(scheme, host) == self.host
    }
}

/// `host` without the scheme's default port (`chat.example.com:443` → `chat.example.com`).
fn without_default_port<'a>(scheme: &str, host: &'a str) -> &'a str {
    let default = if scheme == "https" { ":443" } else { ":80" };
    host.strip_suffix(default).unwrap_or(host)
}

/// An origin such as `https://chat.example.com` (scheme, host, optional port; no path),
/// lowercased.
fn parse_origin(item: &str) -> Result<String, String> {
    if (item.starts_with("http://") || item.starts_with("https://"))
        && !item.trim_start_matches("http://").trim_start_matches("https://").contains('/')
        && item.len() > "https://".len()
    {
        Ok(item.to_ascii_lowercase())
    } else {
        Err(format!("{item:?} is not an origin like https://chat.example.com"))
    }
}

impl AllowedOrigins {
    /// Parses `CHAT_ALLOWED_ORIGINS`: a comma-separated list of origins, or `*`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Self::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                allowed.any = true;
            } else {
                allowed.extra.push(parse_origin(item)?);
            }
        }
        Ok(allowed)
    }

    fn allows(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
        if let Some(public) = &self.public
            && !host.as_deref().is_some_and(|h| public.is_host(h))
        {
            return Err("host not allowed\n");
        }
        let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
        let Ok(origin) = origin.to_str() else { return Err(ORIGIN_NOT_ALLOWED) };
        let origin = origin.to_ascii_lowercase();
        if self.any || self.extra.contains(&origin) {
            return Ok(());
        }
        let same = match &self.public {
            // The configured origin is the page's own.
            Some(public) => origin == public.origin,
            // Same origin: the origin's host[:port] is the Host the browser sent the request to.
            None => {
                let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
                matches!((origin_host, host), (Some(o), Some(h)) if o == h)
            }
        };
        if same { Ok(()) } else { Err(ORIGIN_NOT_ALLOWED) }
    }
}

/// Middleware: refuses socket.io requests from disallowed origins with 403, and paths under
/// socket.io's other than its endpoint (`/socket.io/../`, `/socket.io/x`) with 404.
pub async fn check(
    State(allowed): State<std::sync::Arc<AllowedOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !is_socket_io_path(path) {
        return next.run(request).await;
    }
    if !is_socket_io_endpoint(path) {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let Err(why) = allowed.allows(request.headers()) else { return next.run(request).await };
    let origin = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or("?");
    let host = request.headers().get(header::HOST).and_then(|o| o.to_str().ok()).unwrap_or("?");
    // Debug, not warn: any page on the web can make a visitor's browser send these (a log
    // flood); the refusals are counted in /metrics.
    tracing::debug!(%origin, %host, "refused a socket.io request: {}", why.trim_end());
    crate::metrics::connection_refused("origin");
    (StatusCode::FORBIDDEN, why).into_response()
}

const ORIGIN_NOT_ALLOWED: &str = "origin not allowed\n";

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn same_origin_listed_origins_and_no_origin_pass() {
        let default = AllowedOrigins::default();
        let allows = |a: &AllowedOrigins, origin, host| a.allows(&headers(origin, host)).is_ok();
        assert!(allows(&default, Some("http://chat.local:3000"), "chat.local:3000"));
        assert!(allows(&default, Some("https://CHAT.local"), "chat.local"));
        assert!(allows(&default, None, "chat.local:3000"));
        assert!(!allows(&default, Some("https://evil.example"), "chat.local:3000"));
        assert!(!allows(&default, Some("http://chat.local:3001"), "chat.local:3000"));
        assert!(!allows(&default, Some("null"), "chat.local:3000"));
        let listed = AllowedOrigins::parse("https://chat.example.com, http://localhost:8080").unwrap();
        assert!(allows(&listed, Some("http://localhost:8080"), "127.0.0.1:3000"));
        assert!(allows(&AllowedOrigins::parse("*").unwrap(), Some("https://x"), "y"));
        // DNS rebinding: same origin as Host, but not the configured public origin.
        let public = AllowedOrigins {
            public: Some(PublicOrigin::parse("https://Chat.example.com").unwrap()),
            ..AllowedOrigins::default()
        };
        assert!(
            allows(&default, Some("http://evil.example"), "evil.example"),
            "what rebinding gets without it"
        );
        assert!(!allows(&public, Some("http://evil.example"), "evil.example"));
        assert!(!allows(&public, None, "evil.example"), "another Host, even without Origin");
        assert!(!allows(&public, Some("http://evil.example"), "chat.example.com"));
        assert!(allows(&public, Some("https://chat.example.com"), "chat.example.com"));
        assert!(allows(&public, Some("https://chat.example.com"), "chat.example.com:443"));
        assert!(allows(&public, None, "chat.example.com"));
        assert!(!allows(&public, Some("http://chat.example.com"), "chat.example.com"), "another scheme");
        assert!(PublicOrigin::parse("chat.example.com").is_err());
        assert!(AllowedOrigins::parse("chat.example.com").is_err());
        assert!(AllowedOrigins::parse("https://chat.example.com/path").is_err());
    }
}
