//! Copies a request's URI and headers out of hyper's read buffer. hyper parses without copying:
//! every header value and the URI are slices of the connection's read buffer (8–16 KiB), and
//! socketioxide keeps the request's parts (with axum's copy of the URI in its extensions) for
//! the whole life of each socket.io connection, so those slices would pin the whole buffer
//! per connection (heaptrack: 16 KiB of the 37 KiB an idle connection held). Copied, they take
//! a few hundred bytes.

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};

/// The same request, with its URI and headers in their own small allocations.
pub async fn request(mut req: Request) -> Request {
    let mut headers = HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
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
    req
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
        let copied = request(req).await;
        assert_eq!(copied.uri().query(), Some("EIO=4&transport=websocket&presence=changes"));
        assert_eq!(copied.extensions().get::<OriginalUri>().map(|u| u.0.clone()), Some(copied.uri().clone()));
        let custom: Vec<_> = copied.headers().get_all("x-custom").iter().collect();
        assert_eq!(custom, ["a", "b"]);
        assert_eq!(copied.headers()["origin"], "http://localhost:3000");
    }
}
