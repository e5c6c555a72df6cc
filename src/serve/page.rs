//! The web page of `physedit serve` at `/`: plain HTML, CSS and JavaScript modules from `web/`,
//! embedded in the binary (no build step, nothing fetched from elsewhere), served with their
//! content types, an `ETag` (revalidated on each load, `Cache-Control: no-cache`) and a strict
//! Content-Security-Policy (`default-src 'self'`, no inline script or style, no framing).
//!
//! The page speaks to the same API as any client (same origin, same keys: it asks for a key when the
//! server has keys and keeps it in the browser's session storage). The page itself is public: it
//! holds nothing but the code.
use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../web/", $name)),
        }
    };
}

/// Every file of the page (`/` is `index.html`; the rest under `/assets/`).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("mask.js", "text/javascript; charset=utf-8"),
    asset!("history.js", "text/javascript; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
];

/// The page's Content-Security-Policy: its own scripts, styles and API only; pictures from the API
/// and from the browser's own blobs (the picture being edited, results fetched with the key).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

fn etag(a: &Asset) -> String {
    let d = Sha256::digest(a.bytes);
    let hex: String = d[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The asset, or 304 when the browser's copy (`If-None-Match`) is current.
fn serve(a: &Asset, headers: &HeaderMap) -> Response {
    let tag = etag(a);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, a.content_type)],
            Body::from(a.bytes),
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// `GET /`: the page.
pub(super) async fn index(headers: HeaderMap) -> Response {
    serve(find("index.html").expect("embedded"), &headers)
}

/// `GET /assets/{name}`: the page's scripts, styles and icon.
pub(super) async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match find(&name).filter(|a| a.name != "index.html") {
        Some(a) => serve(a, &headers),
        None => ApiError::not_found(format!("no asset {name:?}")).into_response(),
    }
}
