//! The HTTP API (axum): OpenAI's `POST /v1/images/edits`, the asynchronous `/v1/edits` jobs,
//! health, readiness and metrics. Handlers validate everything they can before a job is queued
//! (a bad request never reaches a worker) and answer errors in OpenAI's shape.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::json;

use super::error::ApiError;
use super::job::{
    decode_image, mask_region, now, valid_id, BadImage, JobInput, JobParams, JobStatus,
    ResponseFormat, State as JobState,
};
use super::queue::{CancelOutcome, Queue, SubmitError};
use super::ModelFacts;
use crate::adaptive::card::{CardInput, ImageCues};
use crate::adaptive::plan::{Planner, Recipe};

/// Request limits (configurable on the command line).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of a request body.
    pub max_body: usize,
    /// Pixels of an uploaded picture.
    pub max_input_pixels: u64,
    /// Pixels of the working size (`size`).
    pub max_work_pixels: u64,
    /// Bytes of a prompt (or negative prompt).
    pub max_prompt_bytes: usize,
    /// Denoising steps a request may ask for.
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 32 << 20,
            max_input_pixels: 4096 * 4096,
            max_work_pixels: 1024 * 1024,
            max_prompt_bytes: 4000,
            max_steps: 200,
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
    /// Base of the picture URLs (`url` responses); None: `http://` + the request's Host.
    pub public_url: Option<String>,
    /// How long `POST /v1/images/edits` waits for its job.
    pub request_timeout: Duration,
    pub responses: Mutex<BTreeMap<u16, u64>>,
}

type Shared = Arc<AppState>;

/// The router with its layers (body limit, errors in OpenAI's shape, panics as 500, tracing).
pub fn router(state: Shared) -> Router {
    let max_body = state.limits.max_body;
    Router::new()
        .route("/v1/images/edits", post(images_edits))
        .route("/v1/edits", post(create_edit))
        .route("/v1/edits/{id}", get(get_edit).delete(cancel_edit))
        .route("/v1/edits/{id}/image", get(edit_image))
        .route("/v1/edits/{id}/events", get(edit_events))
        .route("/v1/models", get(models))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refuse_oversize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            shape_errors,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("the server hit an internal error").into_response()
            },
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Answers 413 to a body whose Content-Length is over the limit, after reading (and dropping) up
/// to four times the limit for at most 10 s, so that a client still sending its body reads the
/// answer instead of a reset connection. Bodies without a length are cut at the limit by the
/// layers below.
async fn refuse_oversize(State(state): State<Shared>, req: Request, next: Next) -> Response {
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
async fn shape_errors(State(state): State<Shared>, req: Request, next: Next) -> Response {
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
    *state
        .responses
        .lock()
        .unwrap()
        .entry(resp.status().as_u16())
        .or_insert(0) += 1;
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

/// Reads and validates an edit request's multipart body into a job.
async fn parse_edit(
    state: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
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
                image = Some(field.bytes().await.map_err(multipart_error)?.to_vec());
            }
            "mask" => {
                if mask.is_some() {
                    return Err(ApiError::bad_request(Some("mask"), "send at most one mask"));
                }
                mask = Some(field.bytes().await.map_err(multipart_error)?.to_vec());
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
    // Decode once here (a bad picture is the client's error, answered now); the worker decodes
    // the same bytes again.
    let max_px = state.limits.max_input_pixels;
    let recipe: Recipe = params.recipe.parse().expect("checked by parse_params");
    let prompt = params.prompt.clone();
    let ((image, mask), cues) = tokio::task::spawn_blocking(move || {
        let img = decode_image(&image, "image", max_px).map_err(|e| bad_image("image", e))?;
        if let Some(m) = &mask {
            mask_region(m, (img.width(), img.height()), max_px)
                .map_err(|e| bad_image("mask", e))?;
        }
        let rgb = img.to_rgb8();
        let cues = ImageCues::from_rgb(rgb.width(), rgb.height(), rgb.as_raw());
        Ok::<_, ApiError>(((image, mask), cues))
    })
    .await
    .map_err(|e| ApiError::internal(format!("decoding the picture: {e}")))??;
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
            if w.saturating_mul(h) > lim.max_work_pixels {
                return Err(ApiError::too_large(
                    Some("size"),
                    "size_too_large",
                    format!(
                        "`size` {w}x{h} is over this server's limit of {} pixels",
                        lim.max_work_pixels
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
    })
}

async fn submit(state: &AppState, input: JobInput) -> Result<JobStatus, ApiError> {
    if !state.model_ready.load(Ordering::Acquire) {
        return Err(ApiError::unavailable("the model is still loading"));
    }
    match state.queue.submit(input).await {
        Ok(s) => Ok(s),
        Err(SubmitError::Full { capacity }) => {
            let stats = state.queue.stats().await.unwrap_or_default();
            let (queued, _) = state.queue.depth().await.unwrap_or((capacity as u64, 0));
            let workers = state.local_workers.max(1) as f64;
            let wait = super::metrics::mean_edit_seconds(&stats)
                .map(|m| m * (queued as f64 + 1.0) / workers)
                .unwrap_or(1.0);
            Err(ApiError::queue_full(
                capacity,
                wait.ceil().clamp(1.0, 60.0) as u64,
            ))
        }
        Err(SubmitError::Backend(e)) => Err(ApiError::unavailable(format!(
            "the queue is unreachable: {e:#}"
        ))),
    }
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn image_url(base: &str, id: &str, i: usize) -> String {
    format!("{base}/v1/edits/{id}/image?index={i}")
}

/// A job as the API shows it.
fn status_json(s: &JobStatus, base: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    let o = v.as_object_mut().unwrap();
    o.remove("error_is_client");
    o.insert("progress".into(), json!({"step": s.step, "steps": s.steps}));
    if let Some(e) = &s.error {
        o.insert(
            "error".into(),
            json!({
                "message": e,
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

/// `POST /v1/images/edits`: OpenAI's synchronous edit, through the queue.
async fn images_edits(
    State(state): State<Shared>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let input = parse_edit(&state, multipart).await?;
    let format = input.params.response_format;
    let job = submit(&state, input).await?;
    let deadline = Instant::now() + state.request_timeout;
    let mut watcher = state.queue.watcher();
    let done = loop {
        let s = state
            .queue
            .status(&job.id)
            .await
            .map_err(|e| ApiError::unavailable(format!("the queue is unreachable: {e:#}")))?
            .ok_or_else(|| ApiError::internal(format!("job {} vanished from the queue", job.id)))?;
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
            let msg = done.error.unwrap_or_else(|| "the edit failed".into());
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
    let base = base_url(&state, &headers);
    let mut data = Vec::with_capacity(done.n);
    let mut size = String::new();
    for i in 0..done.n {
        let entry = match format {
            ResponseFormat::Url => {
                json!({"url": image_url(&base, &done.id, i), "revised_prompt": done.prompt})
            }
            ResponseFormat::B64Json => {
                let png = state
                    .queue
                    .image(&done.id, i)
                    .await
                    .map_err(|e| ApiError::unavailable(format!("the queue is unreachable: {e:#}")))?
                    .ok_or_else(|| {
                        ApiError::internal(format!("picture {i} of job {} is missing", done.id))
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
        },
    });
    if !size.is_empty() {
        body["size"] = json!(size);
    }
    Ok(Json(body).into_response())
}

/// `POST /v1/edits`: the same request, answered at once with the job.
async fn create_edit(
    State(state): State<Shared>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let input = parse_edit(&state, multipart).await?;
    let job = submit(&state, input).await?;
    let base = base_url(&state, &headers);
    let mut resp = (StatusCode::ACCEPTED, Json(status_json(&job, &base))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/edits/{}", job.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn find(state: &AppState, id: &str) -> Result<JobStatus, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::not_found(format!("no edit {id:?}")));
    }
    state
        .queue
        .status(id)
        .await
        .map_err(|e| ApiError::unavailable(format!("the queue is unreachable: {e:#}")))?
        .ok_or_else(|| {
            ApiError::not_found(format!("no edit {id} (unknown, or its result expired)"))
        })
}

async fn get_edit(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s = find(&state, &id).await?;
    Ok(Json(status_json(&s, &base_url(&state, &headers))))
}

async fn cancel_edit(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    find(&state, &id).await?;
    match state
        .queue
        .cancel(&id)
        .await
        .map_err(|e| ApiError::unavailable(format!("the queue is unreachable: {e:#}")))?
    {
        CancelOutcome::Cancelled => {
            let s = find(&state, &id).await?;
            Ok(Json(status_json(&s, &base_url(&state, &headers))))
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
struct ImageQuery {
    index: Option<usize>,
}

async fn edit_image(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<ImageQuery>,
) -> Result<Response, ApiError> {
    let s = find(&state, &id).await?;
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
        .map_err(|e| ApiError::unavailable(format!("the queue is unreachable: {e:#}")))?
        .ok_or_else(|| ApiError::not_found(format!("picture {index} of edit {id} has expired")))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], Body::from(png)).into_response())
}

/// `GET /v1/edits/{id}/events`: server-sent events, one `status` event per change (state or
/// step), the last one when the job has finished.
async fn edit_events(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let first = find(&state, &id).await?;
    let base = base_url(&state, &headers);
    struct S {
        state: Shared,
        id: String,
        base: String,
        last: Option<JobStatus>,
        pending: Option<JobStatus>,
        watcher: super::queue::Watcher,
        done: bool,
    }
    let watcher = state.queue.watcher();
    let init = S {
        state: state.clone(),
        id,
        base,
        last: None,
        pending: Some(first),
        watcher,
        done: false,
    };
    let stream = futures_util::stream::unfold(init, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            let cur = match s.pending.take() {
                Some(p) => Some(p),
                None => match s.state.queue.status(&s.id).await {
                    Ok(v) => v,
                    Err(_) => None,
                },
            };
            let Some(cur) = cur else {
                s.done = true;
                let ev = Event::default().event("error").data(
                    json!({"error": {"message": "the edit is gone (expired) or the queue is unreachable", "type": "server_error"}})
                        .to_string(),
                );
                return Some((Ok::<_, std::convert::Infallible>(ev), s));
            };
            let changed = s.last.as_ref().is_none_or(|l| {
                l.status != cur.status || l.step != cur.step || l.steps != cur.steps
            });
            if changed {
                let ev = Event::default()
                    .event("status")
                    .data(status_json(&cur, &s.base).to_string());
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

async fn models(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": state.facts.name, "object": "model", "created": 0, "owned_by": "physedit"}],
    }))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<Shared>) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.model_ready.load(Ordering::Acquire) {
        return Err(ApiError::unavailable("the model is still loading"));
    }
    state
        .queue
        .ping()
        .await
        .map_err(|e| ApiError::unavailable(format!("the queue is unreachable: {e:#}")))?;
    Ok(Json(json!({
        "status": "ready",
        "model": state.facts.name,
        "queue": match state.queue { Queue::Embedded(_) => "embedded", Queue::Redis(_) => "redis" },
        "local_workers": state.local_workers,
    })))
}

async fn metrics(State(state): State<Shared>) -> Result<Response, ApiError> {
    let ready = state.model_ready.load(Ordering::Acquire) && state.queue.ping().await.is_ok();
    let gauges = state
        .queue
        .gauges(ready, state.local_workers)
        .await
        .map_err(|e| ApiError::unavailable(format!("the queue is unreachable: {e:#}")))?;
    let stats = state
        .queue
        .stats()
        .await
        .map_err(|e| ApiError::unavailable(format!("the queue is unreachable: {e:#}")))?;
    let http = state.responses.lock().unwrap().clone();
    let text = super::metrics::render(&stats, &gauges, &http);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
