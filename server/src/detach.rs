//! Copies a request's URI and headers out of hyper's read buffer. hyper parses without copying:
//! every header value and the URI are slices of the connection's read buffer (8–16 KiB), and
//! socketioxide keeps the request's parts (with axum's copy of the URI in its extensions) for
//! the whole life of each socket.io connection, so those slices would pin the whole buffer
//! per connection (heaptrack: 16 KiB of the 37 KiB an idle connection held). Copied, they take
//! a few hundred bytes. A socket.io request keeps only the headers engine.io and the chat read
//! (the client address and the origin were checked before), within
//! [`SOCKET_IO_HEADERS_MAX_BYTES`], and its URI within [`SOCKET_IO_URI_MAX_BYTES`]: a client
//! cannot make its connection hold more.

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use chat_shared::limits::{SOCKET_IO_HEADERS_MAX_BYTES, SOCKET_IO_URI_MAX_BYTES};
use chat_shared::protocol::is_socket_io_path;

/// The headers a socket.io request keeps: what engine.io reads for the WebSocket handshake
/// and long-polling, and what the chat's checks name.
const SOCKET_IO_HEADERS: &[HeaderName] = &[
    header::HOST,
    header::ORIGIN,
    header::UPGRADE,
    header::CONNECTION,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_EXTENSIONS,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
];

/// The same request, with its URI and headers in their own small allocations; a socket.io
/// request whose kept headers exceed [`SOCKET_IO_HEADERS_MAX_BYTES`] is refused (431), one
/// whose URI exceeds [`SOCKET_IO_URI_MAX_BYTES`] too (414).
pub async fn request(mut req: Request) -> Result<Request, StatusCode> {
    let socket_io = is_socket_io_path(req.uri().path());
    if socket_io && req.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) > SOCKET_IO_URI_MAX_BYTES {
        return Err(StatusCode::URI_TOO_LONG);
    }
    let mut headers = HeaderMap::with_capacity(req.headers().len());
    let mut kept_bytes = 0;
    for (name, value) in req.headers() {
        if socket_io {
            if !SOCKET_IO_HEADERS.contains(name) {
                continue;
            }
            kept_bytes += name.as_str().len() + value.len();
            if kept_bytes > SOCKET_IO_HEADERS_MAX_BYTES {
                return Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
            }
        }
        // Both conversions copy the bytes; what came in parsed converts back.
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_ref()), HeaderValue::from_bytes(value.as_bytes()))
        {
            headers.append(name, value);
        }
    }
    *req.headers_mut() = headers;
    if let Ok(uri) = Uri::try_from(req.uri().to_string()) {
        // axum's router keeps a clone of the URI as it came.
        if req.extensions().get::<OriginalUri>().is_some() {
            req.extensions_mut().insert(OriginalUri(uri.clone()));
        }
        *req.uri_mut() = uri;
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_every_header_and_the_uri() {
        let mut req = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket&presence=changes")
            .header("x-custom", "a")
            .header("x-custom", "b")
            .header("origin", "http://localhost:3000")
            .body(axum::body::Body::empty())
            .expect("a request");
        let original = OriginalUri(req.uri().clone());
        req.extensions_mut().insert(original);
        let copied = request(req).await.expect("small headers");
        assert_eq!(copied.uri().query(), Some("EIO=4&transport=websocket&presence=changes"));
        assert_eq!(copied.extensions().get::<OriginalUri>().map(|u| u.0.clone()), Some(copied.uri().clone()));
        // A socket.io request keeps only what engine.io and the chat read.
        assert!(copied.headers().get("x-custom").is_none());
        assert_eq!(copied.headers()["origin"], "http://localhost:3000");
        let page = Request::builder()
            .uri("/index.html")
            .header("x-custom", "a")
            .header("x-custom", "b")
            .body(axum::body::Body::empty())
            .expect("a request");
        let page = request(page).await.expect("small headers");
        let custom: Vec<_> = page.headers().get_all("x-custom").iter().collect();
        assert_eq!(custom, ["a", "b"], "other requests keep every header");
        let huge = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("sec-websocket-protocol", "x".repeat(SOCKET_IO_HEADERS_MAX_BYTES))
            .body(axum::body::Body::empty())
            .expect("a request");
        assert_eq!(request(huge).await.err(), Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
    }
}
