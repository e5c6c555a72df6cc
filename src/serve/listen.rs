//! The HTTP/1.1 connection loop (hyper), with the timeouts a slow client must not outlast: the
//! request head must arrive within the header timeout (hyper's `header_read_timeout`; tested for
//! a head that stops mid-way, not for idle kept-alive connections), and a request's body
//! within the body timeout from the end of its head ([`body_deadline`], answered 408). Each request
//! carries its peer's address (axum's `ConnectInfo`).
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use super::error::ApiError;

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the connections in flight
/// (the caller bounds that wait).
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The peer of a request (loopback when unknown, as in tests that call the router directly).
pub fn peer(req: &Request) -> SocketAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// Cuts a request body off at `timeout` after the head: the handler sees a read error, the
/// client a 408 and a closed connection.
pub async fn body_deadline(timeout: Duration, req: Request, next: Next) -> Response {
    use futures_util::StreamExt;
    let expired = Arc::new(AtomicBool::new(false));
    let deadline = tokio::time::Instant::now() + timeout;
    let (parts, body) = req.into_parts();
    let flag = expired.clone();
    let stream = futures_util::stream::unfold(
        (body.into_data_stream(), flag, false),
        move |(mut s, flag, done)| async move {
            if done {
                return None;
            }
            match tokio::time::timeout_at(deadline, s.next()).await {
                Ok(Some(chunk)) => Some((chunk.map_err(axum::Error::new), (s, flag, false))),
                Ok(None) => None,
                Err(_) => {
                    flag.store(true, Ordering::Release);
                    let e = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body was not received in time",
                    );
                    Some((Err(axum::Error::new(e)), (s, flag, true)))
                }
            }
        },
    );
    let req = Request::from_parts(parts, Body::from_stream(stream));
    let resp = next.run(req).await;
    if expired.load(Ordering::Acquire) {
        let mut r = ApiError::request_timeout(format!(
            "the request body did not arrive within {} s",
            timeout.as_secs_f64()
        ))
        .into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    resp
}
