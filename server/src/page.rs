//! Serves the trunk-built page: embedded in the binary with brotli and gzip copies made at
//! build time (default), or from a directory (`--page-dir`, compressed per request), with cache
//! headers that fit trunk's hashed file names.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rust_embed::Embed;
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// The page as trunk left it in ../dist when the server was compiled, plus the `.br` and `.gz`
/// copies the build script made of it (see build.rs).
#[derive(Embed)]
#[folder = "$OUT_DIR/page"]
#[allow_missing = true]
struct EmbeddedPage;

const NO_CACHE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn routes(page_dir: Option<&Path>) -> Router {
    let csp: Arc<dyn Fn() -> String + Send + Sync> = match page_dir {
        // A directory may be rebuilt while we run: read its index.html for each response.
        Some(dir) => {
            let index = dir.join("index.html");
            Arc::new(move || content_security_policy(&std::fs::read_to_string(&index).unwrap_or_default()))
        }
        None => {
            let index =
                EmbeddedPage::get("index.html").map(|f| String::from_utf8_lossy(&f.data).into_owned());
            let policy = content_security_policy(&index.unwrap_or_default());
            Arc::new(move || policy.clone())
        }
    };
    let router =
        match page_dir {
            Some(dir) => Router::new()
                .fallback_service(ServeDir::new(dir))
                .layer(
                    // A directory may change under us: let browsers revalidate everything.
                    SetResponseHeaderLayer::if_not_present(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static(NO_CACHE),
                    ),
                )
                .layer(CompressionLayer::new()),
            None => Router::new()
                .route("/", get(|headers: HeaderMap| async move { embedded("index.html", &headers) }))
                .route(
                    "/{*path}",
                    get(|UrlPath(path): UrlPath<String>, headers: HeaderMap| async move {
                        embedded(&path, &headers)
                    }),
                ),
        };
    router.layer(axum::middleware::from_fn(move |request, next: Next| {
        let csp = csp.clone();
        async move { with_security_headers(next.run(request).await, &csp()) }
    }))
}

/// The page's Content-Security-Policy: exactly what the wasm page needs. index.html's inline
/// scripts (the one that opens the WebSocket early, and the module trunk writes to start the
/// wasm) are allowed by their hashes, in the two forms they are written in.
pub fn content_security_policy(index_html: &str) -> String {
    let mut scripts = String::new();
    for opening in ["<script type=\"module\">", "<script>"] {
        let mut rest = index_html;
        while let Some(start) = rest.find(opening) {
            let body = &rest[start + opening.len()..];
            let Some(end) = body.find("</script>") else { break };
            let digest = Sha256::digest(&body.as_bytes()[..end]);
            scripts.push_str(&format!(" 'sha256-{}'", BASE64.encode(digest)));
            rest = &body[end..];
        }
    }
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{scripts}; style-src 'self'; \
         connect-src 'self'; img-src 'self' data:; font-src 'self'; manifest-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

fn with_security_headers(mut response: Response, csp: &str) -> Response {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

pub fn source_description(page_dir: Option<&Path>) -> String {
    match page_dir {
        Some(dir) => format!("directory {}", dir.display()),
        None if EmbeddedPage::get("index.html").is_some() => "embedded".to_owned(),
        None => "missing (build it with `trunk build --release`, then rebuild the server)".to_owned(),
    }
}

/// A content coding the build script prepared a copy in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    fn suffix(self) -> &'static str {
        match self {
            Self::Brotli => ".br",
            Self::Gzip => ".gz",
        }
    }

    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Brotli => "br",
            Self::Gzip => "gzip",
        })
    }
}

/// The codings the request accepts, best first (brotli before gzip; `;q=0` refuses one).
fn accepted_encodings(headers: &HeaderMap) -> Vec<Encoding> {
    let mut accepted = Vec::with_capacity(2);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            let encoding = match name {
                n if n.eq_ignore_ascii_case("br") => Encoding::Brotli,
                n if n.eq_ignore_ascii_case("gzip") => Encoding::Gzip,
                _ => continue,
            };
            if !refused && !accepted.contains(&encoding) {
                accepted.push(encoding);
            }
        }
    }
    accepted.sort_by_key(|e| *e != Encoding::Brotli);
    accepted
}

fn embedded(path: &str, headers: &HeaderMap) -> Response {
    let Some(plain) = EmbeddedPage::get(path) else {
        if path == "index.html" {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The chat page was not built into this server: run `trunk build --release`, then rebuild chat-server.\n",
            )
                .into_response();
        }
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    // The best precompressed copy the browser accepts, else the file itself.
    let (file, encoding) = accepted_encodings(headers)
        .into_iter()
        .find_map(|e| EmbeddedPage::get(&format!("{path}{}", e.suffix())).map(|f| (f, Some(e))))
        .unwrap_or((plain, None));
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let cache = if is_hashed_asset(path) { IMMUTABLE } else { NO_CACHE };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        // Embedded files are 'static in a release build: serve them without copying.
        let body = match file.data {
            Cow::Borrowed(bytes) => Body::from(Bytes::from_static(bytes)),
            Cow::Owned(bytes) => Body::from(bytes),
        };
        let mut r = Response::new(body);
        if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        if let Some(encoding) = encoding {
            r.headers_mut().insert(header::CONTENT_ENCODING, encoding.header());
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// trunk names built files `name-<hash>.ext` or `name-<hash>_bg.wasm`, the hash a 64-bit number
/// in hex without leading zeros (8 to 16 digits accepted): such a file never
/// changes, so browsers may keep it forever.
fn is_hashed_asset(path: &str) -> bool {
    let stem = path.rsplit('/').next().unwrap_or(path);
    let stem = stem.split('.').next().unwrap_or(stem).trim_end_matches("_bg");
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::{Encoding, accepted_encodings, is_hashed_asset};
    use axum::http::{HeaderMap, HeaderValue, header};

    fn accept(value: &str) -> Vec<Encoding> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).expect("header"));
        accepted_encodings(&headers)
    }

    #[test]
    fn prefers_brotli_and_honours_refusals() {
        assert_eq!(accept("gzip, deflate, br, zstd"), [Encoding::Brotli, Encoding::Gzip]);
        assert_eq!(accept("gzip"), [Encoding::Gzip]);
        assert_eq!(accept("br;q=0, gzip;q=0.5"), [Encoding::Gzip]);
        assert_eq!(accept("identity"), []);
        assert!(accepted_encodings(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn csp_allows_the_inline_start_script_by_hash() {
        let csp = super::content_security_policy("<script type=\"module\">init()</script>");
        // sha256("init()") in base64
        assert!(csp.contains("'sha256-"), "{csp}");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(super::content_security_policy("").contains("script-src 'self' 'wasm-unsafe-eval';"));
        let both =
            super::content_security_policy("<script>early()</script><script type=\"module\">init()</script>");
        assert_eq!(both.matches("'sha256-").count(), 2, "{both}");
    }

    #[test]
    fn recognises_trunk_hashed_names() {
        assert!(is_hashed_asset("chat-client-4f9a8b7c6d5e4f3a_bg.wasm"));
        assert!(is_hashed_asset("chat-client-4f9a8b7c6d5e4f3a.js"));
        // trunk prints the 64-bit hash without leading zeros (one build in 16 has 15 digits).
        assert!(is_hashed_asset("chat-client-8689b9468421b31_bg.wasm"));
        assert!(is_hashed_asset("style-0123456789abcdef.css"));
        assert!(!is_hashed_asset("index.html"));
        assert!(!is_hashed_asset("favicon.ico"));
        assert!(!is_hashed_asset("chat-client.js"));
    }
}
