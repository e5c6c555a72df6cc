//! The HTTP API (axum): OpenAI's `POST /v1/images/edits`, the asynchronous `/v1/edits` jobs,
//! health, readiness and metrics. Handlers validate everything they can before a job is queued
//! (a bad request never reaches a worker) and answer errors in OpenAI's shape.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, Extension, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::json;

use super::access::{Caller, RequestId};
use super::admission::{Admission, Refusal, Ticket};
use super::auth::{bearer, KeyRing};
use super::error::ApiError;
use super::job::{
    decode_image, mask_region, now, read_header, valid_id, BadImage, JobInput, JobParams,
    JobStatus, PixelLimits, ResponseFormat, State as JobState,
};
use super::metrics::HttpStats;
use super::queue::{CancelOutcome, Queue, SubmitError};
use super::ModelFacts;
use crate::adaptive::card::{CardInput, ImageCues};
use crate::adaptive::plan::{Planner, Recipe};
use crate::pipeline::chronoedit::{EditSize, SizeLimit, SizeLimits};

/// Request limits (configurable on the command line).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of a request body.
    pub max_body: usize,
    /// Pixels and aspect of uploaded pictures and of working sizes.
    pub pixels: PixelLimits,
    /// Bytes of a prompt (or negative prompt).
    pub max_prompt_bytes: usize,
    /// Denoising steps a request may ask for.
    pub max_steps: usize,
    /// Time for a request's head, and for its body after the head.
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 32 << 20,
            pixels: PixelLimits {
                max_input_pixels: 4096 * 4096,
                max_work_pixels: 1024 * 1024,
                max_aspect: SizeLimits::DEFAULT.max_aspect,
            },
            max_prompt_bytes: 4000,
            max_steps: 200,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(120),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    pub queue: Queue,
    pub facts: ModelFacts,
    pub planner: Planner,
    pub limits: Limits,
    /// The model is loaded where this process runs jobs (true at once without local workers).
    pub model_ready: Arc<AtomicBool>,
    pub local_workers: u64,
    /// Base of the picture URLs (`url` answers): `--public-url`, else the address listened on
    /// (never the request's Host header).
    pub base_url: String,
    /// How long `POST /v1/images/edits` waits for its job.
    pub request_timeout: Duration,
    pub keys: Arc<KeyRing>,
    pub admission: Arc<Admission>,
    /// Edits refused as the queue was full before their body was read (added to the queue's own
    /// count of such refusals in `/metrics`).
    pub early_queue_full: AtomicU64,
    pub http: Arc<Mutex<HttpStats>>,
}

pub type Shared = Arc<AppState>;

/// Resolves the caller of `/v1/...` from `Authorization: Bearer` (401 without a valid key when
/// the service has keys). `/metrics` checks its own key in its handler.
pub(super) async fn authenticate(
    State(state): State<Shared>,
    mut req: Request,
    next: Next,
) -> Response {
    let caller = if req.uri().path().starts_with("/v1/") && state.keys.enabled() {
        match bearer(req.headers()) {
            None => return ApiError::unauthorized(false).into_response(),
            Some(t) => match state.keys.identify(t) {
                Some(name) => Caller(Some(name)),
                None => return ApiError::unauthorized(true).into_response(),
            },
        }
    } else {
        Caller(None)
    };
    req.extensions_mut().insert(caller.clone());
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(caller);
    resp
}

/// Answers 413 to a body whose Content-Length is over the limit, after reading (and dropping) up
/// to four times the limit for at most 10 s, so that a client still sending its body reads the
/// answer instead of a reset connection. Bodies without a length are cut at the limit by the
/// layers below.
pub(super) async fn refuse_oversize(
    State(state): State<Shared>,
    req: Request,
    next: Next,
) -> Response {
    let max = state.limits.max_body;
    let len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match len {
        Some(n) if n > max as u64 => {
            use futures_util::StreamExt;
            let cap = 4 * max as u64;
            let mut body = req.into_body().into_data_stream();
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                let mut read = 0u64;
                while let Some(Ok(chunk)) = body.next().await {
                    read += chunk.len() as u64;
                    if read > cap {
                        break;
                    }
                }
            })
            .await;
            ApiError::too_large(
                None,
                "body_too_large",
                format!("the request body is {n} bytes, over this server's limit of {max} bytes"),
            )
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Gives error responses that carry no JSON body (the framework's own: 404, 405, 413, 415...)
/// OpenAI's error shape, and counts responses by status for the metrics.
pub(super) async fn shape_errors(
    State(state): State<Shared>,
    req: Request,
    next: Next,
) -> Response {
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let resp = next.run(req).await;
    let status = resp.status();
    let resp = if (status.is_client_error() || status.is_server_error())
        && !resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    {
        let (parts, body) = resp.into_parts();
        let text = axum::body::to_bytes(body, 4096)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        let message = match (status, text.is_empty()) {
            (StatusCode::PAYLOAD_TOO_LARGE, _) => format!(
                "the request body is over this server's limit of {} bytes",
                state.limits.max_body
            ),
            (StatusCode::METHOD_NOT_ALLOWED, _) => "method not allowed on this endpoint".into(),
            (_, false) => text,
            (_, true) => status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_string(),
        };
        let mut e = ApiError::with_status(status, message);
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            e = e.with_code("body_too_large");
        }
        let mut out = e.into_response();
        if let Some(c) = parts.extensions.get::<Caller>() {
            out.extensions_mut().insert(c.clone());
        }
        for (k, v) in parts.headers.iter() {
            if k == header::RETRY_AFTER || k == header::ALLOW {
                out.headers_mut().insert(k.clone(), v.clone());
            }
        }
        out
    } else {
        resp
    };
    // A refused request's body may be unread: close the connection rather than let the client
    // reuse one the server is about to drop.
    let mut resp = resp;
    if has_body && !resp.status().is_success() {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn bad_image(param: &str, e: BadImage) -> ApiError {
    match e {
        BadImage::Invalid(m) => ApiError::bad_request(Some(param), m).with_code("invalid_image"),
        BadImage::TooLarge(m) => ApiError::too_large(Some(param), "image_too_large", m),
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let text = e.body_text();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(None, "body_too_large", text)
    } else {
        ApiError::with_status(
            if status.is_server_error() {
                StatusCode::BAD_REQUEST
            } else {
                status
            },
            format!("malformed multipart body: {text}"),
        )
    }
}

fn multipart_rejection(r: MultipartRejection) -> ApiError {
    let status = r.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::too_large(None, "body_too_large", r.body_text());
    }
    ApiError::with_status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "send the edit as multipart/form-data with an `image` file and a `prompt` field ({})",
            r.body_text()
        ),
    )
    .with_code("unsupported_media_type")
}

/// A file part's bytes, in one buffer sized from the request's length (no regrowth, so a 32 MiB
/// upload takes 32 MiB).
async fn read_field(
    mut field: axum::extract::multipart::Field<'_>,
    size_hint: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::with_capacity(size_hint);
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Reads and validates an edit request's multipart body into a job; `size_hint` is the body's
/// announced length (bounded by the body limit).
async fn parse_edit(
    state: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
    size_hint: usize,
) -> Result<JobInput, ApiError> {
    let mut mp = multipart.map_err(multipart_rejection)?;
    let mut image: Option<Vec<u8>> = None;
    let mut mask: Option<Vec<u8>> = None;
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field
            .name()
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad_request(None, "a multipart part has no field name"))?;
        match name.as_str() {
            "image" | "image[]" => {
                if image.is_some() {
                    return Err(ApiError::bad_request(
                        Some("image"),
                        "send one image: this model edits one picture at a time",
                    ));
                }
                image = Some(read_field(field, size_hint).await?);
            }
            "mask" => {
                if mask.is_some() {
                    return Err(ApiError::bad_request(Some("mask"), "send at most one mask"));
                }
                mask = Some(Vec::from(field.bytes().await.map_err(multipart_error)?));
            }
            _ => {
                let bytes = field.bytes().await.map_err(multipart_error)?;
                if bytes.len() > state.limits.max_prompt_bytes.max(1024) {
                    return Err(ApiError::bad_request(
                        Some(&name),
                        format!(
                            "field `{name}` is {} bytes, over the limit of {} bytes",
                            bytes.len(),
                            state.limits.max_prompt_bytes.max(1024)
                        ),
                    )
                    .with_code("field_too_long"));
                }
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    ApiError::bad_request(Some(&name), format!("field `{name}` is not valid UTF-8"))
                })?;
                if fields.insert(name.clone(), text).is_some() {
                    return Err(ApiError::bad_request(
                        Some(&name),
                        format!("field `{name}` is given twice"),
                    ));
                }
            }
        }
    }
    let params = parse_params(state, &fields)?;
    let image = image.ok_or_else(|| {
        ApiError::bad_request(
            Some("image"),
            "missing the `image` file (PNG, JPEG or WebP)",
        )
    })?;
    // The picture's size and the working size it asks for are checked from its header, before
    // any pixel is decoded.
    let lim = state.limits.pixels;
    let (_, w, h) = read_header(&image, "image", &lim).map_err(|e| bad_image("image", e))?;
    check_working_size(state, &params, (w, h))?;
    // Decode once here (a bad picture is the client's error, answered now), a few at a time; the
    // worker decodes the same bytes again.
    let recipe: Recipe = params.recipe.parse().expect("checked by parse_params");
    let prompt = params.prompt.clone();
    let _slot = state
        .admission
        .decode
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("the server is stopping"))?;
    let t0 = Instant::now();
    let decoded = tokio::task::spawn_blocking(move || {
        let img = decode_image(&image, "image", lim.max_input_pixels)
            .map_err(|e| bad_image("image", e))?;
        if let Some(m) = &mask {
            mask_region(m, (img.width(), img.height()), lim.max_input_pixels)
                .map_err(|e| bad_image("mask", e))?;
        }
        let rgb = img.to_rgb8();
        drop(img);
        let cues = ImageCues::from_rgb(rgb.width(), rgb.height(), rgb.as_raw());
        Ok::<_, ApiError>(((image, mask), cues))
    })
    .await;
    state
        .http
        .lock()
        .unwrap()
        .decoded(t0.elapsed().as_secs_f64());
    let ((image, mask), cues) = decoded.map_err(|e| {
        tracing::error!("decoding a picture panicked: {e}");
        ApiError::internal("the server failed to decode the picture")
    })??;
    let plan = state
        .planner
        .plan(
            recipe,
            &CardInput {
                prompt: &prompt,
                image: Some(&cues),
                ..Default::default()
            },
        )
        .map_err(|e| ApiError::bad_request(Some("prompt"), format!("{e:#}")))?;
    Ok(JobInput {
        params,
        image,
        mask,
        plan: serde_json::to_value(&plan).ok(),
    })
}

/// Refuses a request whose working size (`size`, or the one `auto` picks for this picture) is over
/// the pixel or aspect limit: 413, naming `size` (or `image` for `auto`).
fn check_working_size(
    state: &AppState,
    params: &JobParams,
    (w, h): (u32, u32),
) -> Result<(), ApiError> {
    let param = if params.size.is_some() {
        "size"
    } else {
        "image"
    };
    let size = EditSize::choose_for(
        state.facts.size_multiple,
        (w, h),
        params.size.map(|s| s.0),
        params.size.map(|s| s.1),
        state.facts.native,
    )
    .map_err(|e| ApiError::bad_request(Some("size"), format!("`size`: {e:#}")))?;
    state
        .limits
        .pixels
        .size()
        .check_work(&size)
        .map_err(|(which, m)| {
            let how = match (params.size.is_some(), which) {
                (true, _) => format!("`size`: {m}"),
                (false, SizeLimit::Pixels) => format!(
                    "{m}: `size` auto works at this {w}x{h} picture's size; send a smaller picture or an explicit `size`"
                ),
                (false, SizeLimit::Aspect) => format!(
                    "{m}: `size` auto keeps this {w}x{h} picture's aspect; send a picture nearer to square or an explicit `size`"
                ),
            };
            ApiError::too_large(Some(param), "size_too_large", how)
        })
}

/// The fields besides the pictures. OpenAI's `quality`, `input_fidelity` and `moderation` are
/// accepted and have no effect; `output_format` must be png, `background` auto or opaque, `stream`
/// false.
fn parse_params(state: &AppState, f: &BTreeMap<String, String>) -> Result<JobParams, ApiError> {
    const KNOWN: [&str; 18] = [
        "prompt",
        "negative_prompt",
        "n",
        "size",
        "response_format",
        "model",
        "user",
        "recipe",
        "steps",
        "guidance",
        "seed",
        "lora",
        "quality",
        "input_fidelity",
        "output_format",
        "stream",
        "background",
        "moderation",
    ];
    if let Some(k) = f.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            Some(k),
            format!(
                "unknown field `{k}`; this server reads {}",
                KNOWN.join(", ")
            ),
        ));
    }
    let lim = &state.limits;
    let prompt = f.get("prompt").cloned().unwrap_or_default();
    if prompt.trim().is_empty() {
        return Err(ApiError::bad_request(
            Some("prompt"),
            "`prompt` is missing or empty: say what the edit should do",
        ));
    }
    for k in ["prompt", "negative_prompt"] {
        if let Some(v) = f.get(k) {
            if v.len() > lim.max_prompt_bytes {
                return Err(ApiError::bad_request(
                    Some(k),
                    format!(
                        "`{k}` is {} bytes, over the limit of {} bytes",
                        v.len(),
                        lim.max_prompt_bytes
                    ),
                ));
            }
            if v.contains('\0') {
                return Err(ApiError::bad_request(
                    Some(k),
                    format!("`{k}` contains a NUL byte"),
                ));
            }
        }
    }
    fn int<T: std::str::FromStr>(
        f: &BTreeMap<String, String>,
        k: &str,
    ) -> Result<Option<T>, ApiError> {
        f.get(k)
            .map(|v| {
                v.trim().parse::<T>().map_err(|_| {
                    ApiError::bad_request(
                        Some(k),
                        format!("`{k}` must be a whole number, got {v:?}"),
                    )
                })
            })
            .transpose()
    }
    let n = int::<usize>(f, "n")?.unwrap_or(1);
    if !(1..=4).contains(&n) {
        return Err(ApiError::bad_request(
            Some("n"),
            format!("`n` must be 1 to 4, got {n}"),
        ));
    }
    let steps = int::<usize>(f, "steps")?;
    if let Some(s) = steps {
        if s == 0 || s > lim.max_steps {
            return Err(ApiError::bad_request(
                Some("steps"),
                format!("`steps` must be 1 to {}, got {s}", lim.max_steps),
            ));
        }
    }
    let seed = int::<u64>(f, "seed")?.unwrap_or(0);
    let guidance = match f.get("guidance") {
        None => None,
        Some(v) => match v.trim().parse::<f64>() {
            Ok(g) if g.is_finite() && (0.0..=100.0).contains(&g) => Some(g),
            _ => {
                return Err(ApiError::bad_request(
                    Some("guidance"),
                    format!("`guidance` must be a number from 0 to 100, got {v:?}"),
                ))
            }
        },
    };
    let recipe = match f.get("recipe") {
        None => Recipe::Physedit,
        Some(r) => r
            .parse::<Recipe>()
            .map_err(|e| ApiError::bad_request(Some("recipe"), format!("{e:#}")))?,
    };
    let size = match f.get("size").map(|s| s.trim()) {
        None | Some("auto") | Some("") => None,
        Some(s) => {
            let parsed = s.split_once(['x', 'X']).and_then(|(w, h)| {
                Some((w.trim().parse::<u64>().ok()?, h.trim().parse::<u64>().ok()?))
            });
            let Some((w, h)) = parsed else {
                return Err(ApiError::bad_request(
                    Some("size"),
                    format!("`size` must be WIDTHxHEIGHT (such as 64x64) or auto, got {s:?}"),
                ));
            };
            if w == 0 || h == 0 {
                return Err(ApiError::bad_request(
                    Some("size"),
                    format!("`size` {s} has no pixels"),
                ));
            }
            if w.saturating_mul(h) > lim.pixels.max_work_pixels {
                return Err(ApiError::too_large(
                    Some("size"),
                    "size_too_large",
                    format!(
                        "`size` {w}x{h} is over this server's limit of {} pixels",
                        lim.pixels.max_work_pixels
                    ),
                ));
            }
            let m = state.facts.size_multiple as u64;
            if w % m != 0 || h % m != 0 {
                return Err(ApiError::bad_request(
                    Some("size"),
                    format!(
                        "`size` {w}x{h}: width and height must be multiples of {m} for this model"
                    ),
                ));
            }
            Some((h as usize, w as usize))
        }
    };
    let response_format = match f.get("response_format").map(|s| s.trim()) {
        None | Some("b64_json") => ResponseFormat::B64Json,
        Some("url") => ResponseFormat::Url,
        Some(o) => {
            return Err(ApiError::bad_request(
                Some("response_format"),
                format!("`response_format` must be b64_json or url, got {o:?}"),
            ))
        }
    };
    if let Some(o) = f.get("output_format") {
        if o.trim() != "png" {
            return Err(ApiError::bad_request(
                Some("output_format"),
                format!("this server returns PNG only, got `output_format` {o:?}"),
            ));
        }
    }
    if let Some(b) = f.get("background") {
        if !matches!(b.trim(), "auto" | "opaque") {
            return Err(ApiError::bad_request(
                Some("background"),
                format!("this server returns opaque pictures only, got `background` {b:?}"),
            ));
        }
    }
    if let Some(s) = f.get("stream") {
        if s.trim() != "false" {
            return Err(ApiError::bad_request(
                Some("stream"),
                "streamed partial images are not supported; follow progress with POST /v1/edits and GET /v1/edits/{id}/events",
            ));
        }
    }
    let lora = f
        .get("lora")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(l) = &lora {
        state
            .facts
            .check_lora(l)
            .map_err(|e| ApiError::bad_request(Some("lora"), e))?;
    }
    Ok(JobParams {
        prompt,
        negative_prompt: f.get("negative_prompt").cloned().unwrap_or_default(),
        recipe: recipe.name().to_string(),
        steps,
        guidance,
        seed,
        n,
        size,
        response_format,
        model: f.get("model").cloned(),
        user: f.get("user").cloned(),
        lora,
        owner: None,
        request_id: None,
    })
}

/// The queue failed: the chain goes to the log, the client hears only that it may retry.
pub(super) fn queue_down(e: anyhow::Error) -> ApiError {
    tracing::warn!("queue error: {e:#}");
    ApiError::unavailable("the job queue is unreachable; retry shortly")
}

/// Seconds until a place in the queue is likely free (for `Retry-After`).
async fn queue_wait(state: &AppState) -> u64 {
    let stats = state.queue.stats().await.unwrap_or_default();
    let capacity = state.queue.capacity() as u64;
    let (queued, _) = state.queue.depth().await.unwrap_or((capacity, 0));
    let workers = state.local_workers.max(1) as f64;
    let wait = super::metrics::mean_edit_seconds(&stats)
        .map(|m| m * (queued as f64 + 1.0) / workers)
        .unwrap_or(1.0);
    wait.ceil().clamp(1.0, 60.0) as u64
}

/// The bucket a caller's limits count in: its key's name, or its address without keys.
pub(super) fn bucket(caller: &Caller, peer: std::net::SocketAddr) -> String {
    match &caller.0 {
        Some(name) => name.clone(),
        None => format!("ip:{}", peer.ip()),
    }
}

pub(super) async fn refusal(state: &AppState, r: Refusal) -> ApiError {
    match r {
        Refusal::QueueFull => {
            state.early_queue_full.fetch_add(1, Ordering::Relaxed);
            ApiError::queue_full(state.queue.capacity(), queue_wait(state).await)
        }
        Refusal::TooManyJobs { max } => ApiError::too_many(
            "too_many_jobs",
            queue_wait(state).await,
            format!("this key has {max} edits queued or running, its limit; wait for one to finish"),
        ),
        Refusal::RateLimited { retry_after } => ApiError::too_many(
            "rate_limited",
            retry_after,
            format!("too many requests with this key; retry after {retry_after} s"),
        ),
        Refusal::TooManyStreams { per_key, max } => ApiError::too_many(
            "too_many_streams",
            5,
            if per_key {
                format!("this key has {max} event streams open, its limit; close one")
            } else {
                format!("this server has {max} event streams open, its limit; retry later")
            },
        ),
        Refusal::IdempotencyInFlight => ApiError::conflict(
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is still being handled; retry when it has been answered",
        ),
    }
}

/// The `Idempotency-Key` header, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()));
    match s {
        Some(s) => Ok(Some(s.to_string())),
        None => Err(ApiError::bad_request(
            Some("Idempotency-Key"),
            "the Idempotency-Key header must be 1-255 printable characters",
        )),
    }
}

/// A request to start an edit, as the handlers receive it.
struct EditRequest {
    caller: Caller,
    request_id: RequestId,
    peer: std::net::SocketAddr,
    headers: HeaderMap,
}

/// How an edit request ended up: a new job, or the job an earlier request with the same
/// `Idempotency-Key` made.
enum Started {
    New(JobStatus),
    Replayed(JobStatus),
}

/// Everything up to a queued job, refusals first (before the body is read): readiness, the rate,
/// an idempotent replay, the queue's and the caller's capacity; then the body, its checks and
/// the queue.
async fn start_edit(
    state: &AppState,
    r: &EditRequest,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Started, ApiError> {
    if !state.model_ready.load(Ordering::Acquire) {
        return Err(ApiError::unavailable("the model is still loading"));
    }
    let who = bucket(&r.caller, r.peer);
    let adm = &state.admission;
    if let Err(e) = adm.check_rate(&who) {
        return Err(refusal(state, e).await);
    }
    let idem = idempotency_key(&r.headers)?;
    if let Some(k) = &idem {
        match adm.idempotency(&who, k) {
            Ok(Some(id)) => return Ok(Started::Replayed(find(state, &r.caller, &id).await?)),
            Ok(None) => {}
            Err(e) => return Err(refusal(state, e).await),
        }
    }
    let ticket = admit(state, &who, &r.caller).await;
    let ticket = match ticket {
        Ok(t) => t.with_idempotency(idem),
        Err(e) => {
            if let Some(k) = &idem {
                adm.forget_idempotency(&who, k);
            }
            return Err(e);
        }
    };
    let size_hint = r
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(state.limits.max_body);
    let mut input = parse_edit(state, multipart, size_hint).await?;
    input.params.owner = r.caller.0.clone();
    input.params.request_id = Some(r.request_id.0.clone());
    let job = submit(state, input).await?;
    ticket.queued(&job.id);
    tracing::info!(request_id = %r.request_id.0, job = %job.id, "queued");
    Ok(Started::New(job))
}

async fn admit(state: &AppState, who: &str, caller: &Caller) -> Result<Ticket, ApiError> {
    let (queued, running) = state.queue.depth().await.map_err(queue_down)?;
    let unfinished = |id: String| async move {
        match state.queue.status(&id).await {
            Ok(Some(s)) => s.owner == caller.0 && !s.status.is_terminal(),
            Ok(None) => false,
            // Unknown: count it.
            Err(_) => true,
        }
    };
    match state
        .admission
        .admit(who, queued + running, unfinished)
        .await
    {
        Ok(t) => Ok(t),
        Err(e) => Err(refusal(state, e).await),
    }
}

async fn submit(state: &AppState, input: JobInput) -> Result<JobStatus, ApiError> {
    match state.queue.submit(input).await {
        Ok(s) => Ok(s),
        Err(SubmitError::Full { capacity }) => {
            Err(ApiError::queue_full(capacity, queue_wait(state).await))
        }
        Err(SubmitError::Backend(e)) => Err(queue_down(e)),
    }
}

fn image_url(base: &str, id: &str, i: usize) -> String {
    format!("{base}/v1/edits/{id}/image?index={i}")
}

/// What a client is told of a failed job: its own mistake in full, the server's in general terms
/// (the details are in the log under the request id).
fn failure_message(s: &JobStatus) -> String {
    match (&s.error, s.error_is_client) {
        (Some(e), true) => e.clone(),
        (Some(e), false) if crate::serve::queue_types::is_queue_verdict(e) => e.clone(),
        _ => format!(
            "the edit failed on the server; the operator can find why under request id {}",
            s.request_id.as_deref().unwrap_or("-")
        ),
    }
}

/// A job as the API shows it, with `queue_position` (jobs ahead of it) while it waits in a queue
/// that knows it.
fn status_of(state: &AppState, s: &JobStatus) -> serde_json::Value {
    let mut v = status_json(s, &state.base_url);
    if s.status == JobState::Queued {
        if let Some(p) = state.queue.position(&s.id) {
            v["queue_position"] = json!(p);
        }
    }
    v
}

/// A job as the API shows it.
fn status_json(s: &JobStatus, base: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    let o = v.as_object_mut().unwrap();
    o.remove("error_is_client");
    o.remove("owner");
    o.remove("response_format");
    o.insert("progress".into(), json!({"step": s.step, "steps": s.steps}));
    if s.error.is_some() {
        o.insert(
            "error".into(),
            json!({
                "message": failure_message(s),
                "type": if s.error_is_client { "invalid_request_error" } else { "server_error" },
            }),
        );
    }
    if s.status == JobState::Succeeded {
        o.insert(
            "data".into(),
            (0..s.n)
                .map(|i| json!({"url": image_url(base, &s.id, i)}))
                .collect(),
        );
    }
    v
}

/// A replayed answer: the body of the retried request may be unread, so the connection closes.
fn replayed(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn edit_request(
    caller: Caller,
    request_id: RequestId,
    peer: std::net::SocketAddr,
    headers: HeaderMap,
) -> EditRequest {
    EditRequest {
        caller,
        request_id,
        peer,
        headers,
    }
}

/// `POST /v1/images/edits`: OpenAI's synchronous edit, through the queue.
pub(super) async fn images_edits(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let r = edit_request(caller, request_id, peer, headers);
    let (job, replay) = match start_edit(&state, &r, multipart).await? {
        Started::New(j) => (j, false),
        Started::Replayed(j) => (j, true),
    };
    let resp = answer_sync(&state, &r, job).await?;
    Ok(if replay { replayed(resp) } else { resp })
}

/// Waits for `job` and answers as OpenAI's images API does.
async fn answer_sync(
    state: &AppState,
    r: &EditRequest,
    job: JobStatus,
) -> Result<Response, ApiError> {
    let format = job.response_format.unwrap_or(ResponseFormat::B64Json);
    let deadline = Instant::now() + state.request_timeout;
    let mut watcher = state.queue.watcher();
    let done = loop {
        let s = state.queue.status(&job.id).await.map_err(queue_down)?;
        let Some(s) = s else {
            tracing::error!(request_id = %r.request_id.0, job = %job.id, "the job vanished from the queue");
            return Err(ApiError::internal(format!(
                "the edit was lost by the server (request id {})",
                r.request_id.0
            )));
        };
        if s.status.is_terminal() {
            break s;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ApiError::timeout(format!(
                "the edit did not finish within {} s; it keeps running as job {} (GET /v1/edits/{})",
                state.request_timeout.as_secs(),
                job.id,
                job.id
            )));
        }
        watcher.changed(left).await;
    };
    match done.status {
        JobState::Succeeded => {}
        JobState::Failed => {
            let msg = failure_message(&done);
            if !done.error_is_client {
                tracing::warn!(request_id = %r.request_id.0, job = %done.id, "edit failed: {}", done.error.as_deref().unwrap_or(""));
            }
            return Err(if done.error_is_client {
                ApiError::bad_request(None, msg)
            } else {
                ApiError::internal(msg)
            });
        }
        _ => {
            return Err(ApiError::conflict(
                "cancelled",
                format!("job {} was cancelled", job.id),
            ))
        }
    }
    let base = &state.base_url;
    let mut data = Vec::with_capacity(done.n);
    let mut size = String::new();
    for i in 0..done.n {
        let entry = match format {
            ResponseFormat::Url => {
                json!({"url": image_url(base, &done.id, i), "revised_prompt": done.prompt})
            }
            ResponseFormat::B64Json => {
                let png = state
                    .queue
                    .image(&done.id, i)
                    .await
                    .map_err(queue_down)?
                    .ok_or_else(|| {
                        ApiError::not_found(format!("picture {i} of edit {} has expired", done.id))
                    })?;
                if size.is_empty() {
                    if let Ok((w, h)) = image::ImageReader::with_format(
                        std::io::Cursor::new(&png),
                        image::ImageFormat::Png,
                    )
                    .into_dimensions()
                    {
                        size = format!("{w}x{h}");
                    }
                }
                json!({
                    "b64_json": base64::engine::general_purpose::STANDARD.encode(&png),
                    "revised_prompt": done.prompt,
                })
            }
        };
        data.push(entry);
    }
    let mut body = json!({
        "created": done.finished.unwrap_or_else(now),
        "data": data,
        "output_format": "png",
        "physedit": {
            "id": done.id,
            "attempts": done.attempts,
            "worker": done.worker,
            "plan": done.plan,
            "report": done.result,
            "request_id": done.request_id,
        },
    });
    if !size.is_empty() {
        body["size"] = json!(size);
    }
    Ok(Json(body).into_response())
}

/// `POST /v1/edits`: the same request, answered at once with the job.
pub(super) async fn create_edit(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let r = edit_request(caller, request_id, peer, headers);
    let (job, replay) = match start_edit(&state, &r, multipart).await? {
        Started::New(j) => (j, false),
        Started::Replayed(j) => (j, true),
    };
    let mut resp = (StatusCode::ACCEPTED, Json(status_of(&state, &job))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/edits/{}", job.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(if replay { replayed(resp) } else { resp })
}

/// The job `id` if `caller` owns it: another key's job is as unknown as a missing one.
pub(super) async fn find(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<JobStatus, ApiError> {
    let missing = || ApiError::not_found(format!("no edit {id} (unknown, or its result expired)"));
    if !valid_id(id) {
        return Err(ApiError::not_found(format!("no edit {id:?}")));
    }
    match state.queue.status(id).await.map_err(queue_down)? {
        Some(s) if s.owner == caller.0 => Ok(s),
        _ => Err(missing()),
    }
}

pub(super) async fn get_edit(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s = find(&state, &caller, &id).await?;
    Ok(Json(status_of(&state, &s)))
}

pub(super) async fn cancel_edit(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    find(&state, &caller, &id).await?;
    match state.queue.cancel(&id).await.map_err(queue_down)? {
        CancelOutcome::Cancelled => {
            let s = find(&state, &caller, &id).await?;
            Ok(Json(status_of(&state, &s)))
        }
        CancelOutcome::NotFound => Err(ApiError::not_found(format!("no edit {id}"))),
        CancelOutcome::TooLate(st) => Err(ApiError::conflict(
            "not_cancellable",
            format!(
                "edit {id} is {}: only a queued or running edit can be cancelled",
                st.name()
            ),
        )),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct ImageQuery {
    index: Option<usize>,
}

pub(super) async fn edit_image(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<ImageQuery>,
) -> Result<Response, ApiError> {
    let s = find(&state, &caller, &id).await?;
    let index = q.index.unwrap_or(0);
    if s.status != JobState::Succeeded {
        return Err(ApiError::conflict(
            "not_ready",
            format!(
                "edit {id} is {}: its picture exists once it has succeeded",
                s.status.name()
            ),
        ));
    }
    if index >= s.n {
        return Err(ApiError::bad_request(
            Some("index"),
            format!(
                "edit {id} has {} picture(s); index {index} is out of range",
                s.n
            ),
        ));
    }
    let png = state
        .queue
        .image(&id, index)
        .await
        .map_err(queue_down)?
        .ok_or_else(|| ApiError::not_found(format!("picture {index} of edit {id} has expired")))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], Body::from(png)).into_response())
}

/// `GET /v1/edits/{id}/events`: server-sent events, one `status` event per change (state, step
/// or place in the queue), the last one when the job has finished. Open streams are capped per key and in all.
pub(super) async fn edit_events(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let first = find(&state, &caller, &id).await?;
    let ticket = match state.admission.open_stream(&bucket(&caller, peer)) {
        Ok(t) => t,
        Err(e) => return Err(refusal(&state, e).await),
    };
    struct S {
        state: Shared,
        id: String,
        last: Option<JobStatus>,
        /// The place in the queue last told.
        place: Option<usize>,
        pending: Option<JobStatus>,
        watcher: super::queue::Watcher,
        done: bool,
        _ticket: super::admission::StreamTicket,
    }
    let watcher = state.queue.watcher();
    let init = S {
        state: state.clone(),
        id,
        last: None,
        place: None,
        pending: Some(first),
        watcher,
        done: false,
        _ticket: ticket,
    };
    let stream = futures_util::stream::unfold(init, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            let cur = match s.pending.take() {
                Some(p) => Some(p),
                None => s.state.queue.status(&s.id).await.unwrap_or_default(),
            };
            let Some(cur) = cur else {
                s.done = true;
                let ev = Event::default().event("error").data(
                    json!({"error": {"message": "the edit is gone (expired) or the queue is unreachable", "type": "server_error"}})
                        .to_string(),
                );
                return Some((Ok::<_, std::convert::Infallible>(ev), s));
            };
            let place = s.state.queue.position(&s.id);
            let changed = s.last.as_ref().is_none_or(|l| {
                l.status != cur.status || l.step != cur.step || l.steps != cur.steps
            }) || place != s.place;
            s.place = place;
            if changed {
                let ev = Event::default()
                    .event("status")
                    .data(status_of(&s.state, &cur).to_string());
                s.done = cur.status.is_terminal();
                s.last = Some(cur);
                return Some((Ok(ev), s));
            }
            s.watcher.changed(Duration::from_secs(5)).await;
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

pub(super) async fn models(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": state.facts.name, "object": "model", "created": 0, "owned_by": "physedit"}],
    }))
}

pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

pub(super) async fn readyz(
    State(state): State<Shared>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.model_ready.load(Ordering::Acquire) {
        return Err(ApiError::unavailable("the model is still loading"));
    }
    state.queue.ping().await.map_err(queue_down)?;
    Ok(Json(json!({
        "status": "ready",
        "model": state.facts.name,
        "queue": match state.queue { Queue::Embedded(_) => "embedded", Queue::Redis(_) => "redis" },
        "local_workers": state.local_workers,
    })))
}

/// `/metrics`: with `--metrics-key`, for that key only; without, for loopback clients only.
pub(super) async fn metrics(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if state.keys.has_metrics_key() {
        match bearer(&headers) {
            None => return Err(ApiError::unauthorized(false)),
            Some(t) if !state.keys.is_metrics_key(t) => {
                return Err(if state.keys.identify(t).is_some() {
                    ApiError::forbidden("/metrics takes the metrics key, not an API key")
                } else {
                    ApiError::unauthorized(true)
                })
            }
            Some(_) => {}
        }
    } else if !peer.ip().is_loopback() {
        return Err(ApiError::forbidden(
            "/metrics answers loopback clients only; start the server with --metrics-key to read it from elsewhere",
        ));
    }
    let ready = state.model_ready.load(Ordering::Acquire) && state.queue.ping().await.is_ok();
    let gauges = state
        .queue
        .gauges(ready, state.local_workers)
        .await
        .map_err(queue_down)?;
    let mut stats = state.queue.stats().await.map_err(queue_down)?;
    *stats.entry("rejected|queue_full".into()).or_insert(0.0) +=
        state.early_queue_full.load(Ordering::Relaxed) as f64;
    let http = state.http.lock().unwrap().clone();
    let mut text = super::metrics::render(&stats, &gauges, &http.by_status());
    text.push_str(&super::metrics::render_http(&http));
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
