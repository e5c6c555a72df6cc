//! The access log and request ids. Every request gets an id (the client's `x-request-id` when it
//! sends a sane one, else a new one), returned as `x-request-id`, stored with the job it makes and
//! written on one access-log line (tracing target `physedit::access`, level info): method, route,
//! path, status, error code, milliseconds, the caller's key name and the peer. With
//! `--log-format json` each line is a JSON object.
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ErrorCode;
use super::metrics::HttpStats;

/// A request's id, in the request's (and the response's) extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Who made a request: the key's name, or None without keys.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<String>);

/// A client's id is kept when it is 1-128 letters, digits, `-`, `_`, `.` or `:`.
fn client_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
    .then(|| s.to_string())
}

/// The access log's middleware; counts requests and refusals into `stats`.
pub async fn access_log(
    State(stats): State<Arc<Mutex<HttpStats>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let t0 = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(client_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let peer = super::listen::peer(&req);
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    let code = resp.extensions().get::<ErrorCode>().map(|c| c.0);
    let caller = resp
        .extensions()
        .get::<Caller>()
        .and_then(|c| c.0.clone())
        .unwrap_or_default();
    let route = route.unwrap_or_else(|| "other".into());
    {
        let mut s = stats.lock().unwrap();
        *s.requests.entry((route.clone(), status)).or_insert(0) += 1;
        if let (Some(c), true) = (code, matches!(status, 401 | 403 | 408 | 413 | 429)) {
            *s.rejections.entry(c.to_string()).or_insert(0) += 1;
        }
    }
    tracing::info!(
        target: "physedit::access",
        request_id = %id,
        method = %method,
        route = %route,
        path = %path,
        status,
        code = code.unwrap_or(""),
        ms = (t0.elapsed().as_secs_f64() * 1e3).round() as u64,
        key = %caller,
        peer = %peer,
        "request"
    );
    resp
}
