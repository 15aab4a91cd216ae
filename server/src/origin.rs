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
use chat_shared::protocol::is_socket_io_path;

/// The origins allowed besides the page's own.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins {
    /// Exact origins such as `https://chat.example.com` (scheme, host and port).
    pub extra: Vec<String>,
    /// `*`: any origin (not recommended).
    pub any: bool,
}

impl AllowedOrigins {
    /// Parses `CHAT_ALLOWED_ORIGINS`: a comma-separated list of origins, or `*`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Self::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                allowed.any = true;
            } else if (item.starts_with("http://") || item.starts_with("https://"))
                && !item.trim_start_matches("http://").trim_start_matches("https://").contains('/')
            {
                allowed.extra.push(item.to_ascii_lowercase());
            } else {
                return Err(format!("{item:?} is not an origin like https://chat.example.com"));
            }
        }
        Ok(allowed)
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else { return true };
        let Ok(origin) = origin.to_str() else { return false };
        let origin = origin.to_ascii_lowercase();
        if self.any || self.extra.contains(&origin) {
            return true;
        }
        // Same origin: the origin's host[:port] is the Host the browser sent the request to.
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
        let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        matches!((origin_host, host), (Some(o), Some(h)) if o == h)
    }
}

/// Middleware: refuses socket.io requests from disallowed origins with 403.
pub async fn check(
    State(allowed): State<std::sync::Arc<AllowedOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    if !is_socket_io_path(request.uri().path()) || allowed.allows(request.headers()) {
        return next.run(request).await;
    }
    let origin = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or("?");
    // Debug, not warn: any page on the web can make a visitor's browser send these (a log
    // flood); the refusals are counted in /metrics.
    tracing::debug!(%origin, "refused a socket.io request from a foreign origin");
    crate::metrics::connection_refused("origin");
    (StatusCode::FORBIDDEN, "origin not allowed\n").into_response()
}

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
        assert!(default.allows(&headers(Some("http://chat.local:3000"), "chat.local:3000")));
        assert!(default.allows(&headers(Some("https://CHAT.local"), "chat.local")));
        assert!(default.allows(&headers(None, "chat.local:3000")));
        assert!(!default.allows(&headers(Some("https://evil.example"), "chat.local:3000")));
        assert!(!default.allows(&headers(Some("http://chat.local:3001"), "chat.local:3000")));
        assert!(!default.allows(&headers(Some("null"), "chat.local:3000")));
        let listed = AllowedOrigins::parse("https://chat.example.com, http://localhost:8080").unwrap();
        assert!(listed.allows(&headers(Some("http://localhost:8080"), "127.0.0.1:3000")));
        assert!(AllowedOrigins::parse("*").unwrap().allows(&headers(Some("https://x"), "y")));
        assert!(AllowedOrigins::parse("chat.example.com").is_err());
        assert!(AllowedOrigins::parse("https://chat.example.com/path").is_err());
    }
}
