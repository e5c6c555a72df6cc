//! What a client (the web page, or a script) needs besides the edit itself:
//!
//! * `POST /v1/plan`: CARD's plan for an instruction, priced in FLOPs against the reference recipes
//!   at the working size of the picture, without running the model (the numbers `physedit cost
//!   --prompt` prints: one function, [`crate::adaptive::cost::price_plan`]);
//! * `GET /v1/recipes`: the recipes, one line each on what they trade;
//! * a finished job's artifacts: `GET /v1/edits/{id}/frames` (the list), `.../frames/{k}` (frame `k`
//!   of the reasoning trajectory, PNG), `.../trajectory.gif` (all of them, looping), and
//!   `.../srm-mask` (the region the SRM confined the reasoning frames to, over the input, PNG).
//!
//! Limits, stated: `/v1/plan` plans from the instruction alone (as `physedit cost --prompt` does);
//! the plan of the edit itself also reads the picture's cues (clutter), which can move a non-low
//! tier, and it is in the job's `plan` and report. Artifacts exist for the job's first picture
//! (seed `seed`), at most [`super::job::FRAME_MAX_SIDE`] pixels on a side, and expire with the job.
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use super::access::Caller;
use super::error::ApiError;
use super::http::{bucket, find, queue_down, refusal, AppState, Shared};
use super::job::{JobStatus, State as JobState};
use crate::adaptive::card::CardInput;
use crate::adaptive::cost::{price_plan, CostOptions, PlanPrice};
use crate::adaptive::plan::Recipe;
use crate::pipeline::chronoedit::EditSize;

/// The fields `POST /v1/plan` reads.
const PLAN_FIELDS: [&str; 4] = ["prompt", "recipe", "image_width", "image_height"];

/// The picture size assumed when a plan request names none (the reference's 832x480).
const DEFAULT_PICTURE: (u32, u32) = (832, 480);

/// `POST /v1/plan`: `{"prompt", "recipe"?, "image_width"?, "image_height"?}` to the plan, its cost
/// at the working size, and its speedups against `chronoedit-reasoning` and `chronoedit-short`.
pub(super) async fn plan(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Json<PlanAnswer>, ApiError> {
    if let Err(e) = state.admission.check_rate(&bucket(&caller, peer)) {
        return Err(refusal(&state, e).await);
    }
    let req = PlanRequest::parse(&state, &body)?;
    let size = EditSize::choose_for(
        state.facts.size_multiple,
        req.picture,
        None,
        None,
        state.facts.native,
    )
    .map_err(|e| ApiError::bad_request(Some("image_width"), format!("{e:#}")))?;
    let opts = CostOptions {
        height: size.height,
        width: size.width,
        ..Default::default()
    };
    let priced = price_plan(
        &state.facts.dims,
        &state.planner,
        req.recipe,
        &CardInput::new(&req.prompt),
        &opts,
    )
    .map_err(|e| ApiError::bad_request(Some("prompt"), format!("{e:#}")))?;
    Ok(Json(PlanAnswer {
        object: "plan",
        prompt: req.prompt,
        recipe: req.recipe.name(),
        model: state.facts.name.clone(),
        working_size: Size {
            width: size.width,
            height: size.height,
        },
        output_size: Size {
            width: size.output.0 as usize,
            height: size.output.1 as usize,
        },
        num_frames: priced.plan.num_frames(),
        priced,
    }))
}

#[derive(Serialize)]
struct Size {
    width: usize,
    height: usize,
}

/// `POST /v1/plan`'s answer. Serialised as `physedit cost --prompt` serialises its line (the
/// plan's `f32` numbers written as `f32`), so that the two read the same.
#[derive(Serialize)]
pub(super) struct PlanAnswer {
    object: &'static str,
    prompt: String,
    recipe: &'static str,
    model: String,
    working_size: Size,
    output_size: Size,
    num_frames: usize,
    #[serde(flatten)]
    priced: PlanPrice,
}

/// A checked `POST /v1/plan` body.
struct PlanRequest {
    prompt: String,
    recipe: Recipe,
    /// (width, height) of the picture to edit.
    picture: (u32, u32),
}

impl PlanRequest {
    fn parse(state: &AppState, body: &[u8]) -> Result<Self, ApiError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(
                None,
                format!("send the plan request as a JSON object such as {{\"prompt\": \"make the sky red\"}} ({e})"),
            )
            .with_code("invalid_json")
        })?;
        let Some(o) = v.as_object() else {
            return Err(ApiError::bad_request(
                None,
                "send the plan request as a JSON object such as {\"prompt\": \"make the sky red\"}",
            )
            .with_code("invalid_json"));
        };
        if let Some(k) = o.keys().find(|k| !PLAN_FIELDS.contains(&k.as_str())) {
            return Err(ApiError::bad_request(
                Some(k),
                format!(
                    "unknown field `{k}`; this endpoint reads {}",
                    PLAN_FIELDS.join(", ")
                ),
            ));
        }
        let prompt = match o.get("prompt") {
            Some(Value::String(p)) if !p.trim().is_empty() => p.clone(),
            Some(Value::String(_)) | None => {
                return Err(ApiError::bad_request(
                    Some("prompt"),
                    "`prompt` is missing or empty: say what the edit should do",
                ))
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    Some("prompt"),
                    "`prompt` must be a string",
                ))
            }
        };
        let max = state.limits.max_prompt_bytes;
        if prompt.len() > max {
            return Err(ApiError::bad_request(
                Some("prompt"),
                format!(
                    "`prompt` is {} bytes, over the limit of {max} bytes",
                    prompt.len()
                ),
            ));
        }
        let recipe = match o.get("recipe") {
            None | Some(Value::Null) => Recipe::Physedit,
            Some(Value::String(r)) => r
                .parse::<Recipe>()
                .map_err(|e| ApiError::bad_request(Some("recipe"), format!("{e:#}")))?,
            Some(_) => {
                return Err(ApiError::bad_request(
                    Some("recipe"),
                    "`recipe` must be a string",
                ))
            }
        };
        let side = |k: &str| -> Result<Option<u32>, ApiError> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .filter(|&n| (1..=65_535).contains(&n))
                    .map(|n| Some(n as u32))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            Some(k),
                            format!(
                                "`{k}` must be a whole number of pixels from 1 to 65535, got {v}"
                            ),
                        )
                    }),
            }
        };
        let picture = match (side("image_width")?, side("image_height")?) {
            (Some(w), Some(h)) => (w, h),
            (None, None) => DEFAULT_PICTURE,
            (Some(_), None) => {
                return Err(ApiError::bad_request(
                    Some("image_height"),
                    "give `image_height` with `image_width`",
                ))
            }
            (None, Some(_)) => {
                return Err(ApiError::bad_request(
                    Some("image_width"),
                    "give `image_width` with `image_height`",
                ))
            }
        };
        let lim = state.limits.pixels;
        lim.size()
            .check_aspect("image", picture.0 as u64, picture.1 as u64)
            .map_err(|m| ApiError::too_large(Some("image_width"), "image_too_large", m))?;
        Ok(PlanRequest {
            prompt,
            recipe,
            picture,
        })
    }
}

/// `GET /v1/recipes`: every recipe with one line on what it trades, in the command line's order.
pub(super) async fn recipes() -> Json<Value> {
    use clap::ValueEnum;
    let data: Vec<Value> = Recipe::ALL
        .iter()
        .map(|r| {
            let help = r
                .to_possible_value()
                .and_then(|v| v.get_help().map(|h| h.to_string()))
                .unwrap_or_default();
            json!({
                "id": r.name(),
                "object": "recipe",
                "description": first_sentence(&help),
                "adaptive": r.is_adaptive(),
                "needs_distillation_lora": r.is_distilled(),
                "default": *r == Recipe::Physedit,
            })
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// Text up to and including its first full stop followed by a space (or all of it).
fn first_sentence(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.find(". ") {
        Some(i) => s[..=i].to_string(),
        None => s,
    }
}

/// A succeeded job of the caller's (another key's job is as unknown as a missing one).
async fn finished(state: &AppState, caller: &Caller, id: &str) -> Result<JobStatus, ApiError> {
    let s = find(state, caller, id).await?;
    if s.status != JobState::Succeeded {
        return Err(ApiError::conflict(
            "not_ready",
            format!(
                "edit {id} is {}: its frames and mask exist once it has succeeded",
                s.status.name()
            ),
        ));
    }
    Ok(s)
}

/// The blob indices of a job's trajectory frames (empty for a job made before they were kept).
fn frame_blobs(s: &JobStatus) -> Vec<usize> {
    s.result
        .as_ref()
        .and_then(|r| r["artifacts"]["frames"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64().map(|n| n as usize))
                .collect()
        })
        .unwrap_or_default()
}

async fn blob(state: &AppState, id: &str, index: usize, what: &str) -> Result<Vec<u8>, ApiError> {
    state
        .queue
        .image(id, index)
        .await
        .map_err(queue_down)?
        .ok_or_else(|| ApiError::not_found(format!("the {what} of edit {id} has expired")))
}

fn png(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        Body::from(bytes),
    )
        .into_response()
}

/// `GET /v1/edits/{id}/frames`: the reasoning trajectory's frames (first: the input, last: the
/// edited picture), as URLs.
pub(super) async fn frames(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = finished(&state, &caller, &id).await?;
    let base = &state.base_url;
    let data: Vec<Value> = (0..frame_blobs(&s).len())
        .map(|k| json!({"index": k, "url": format!("{base}/v1/edits/{id}/frames/{k}")}))
        .collect();
    Ok(Json(json!({
        "object": "list",
        "count": data.len(),
        "data": data,
        "gif_url": format!("{base}/v1/edits/{id}/trajectory.gif"),
    })))
}

/// `GET /v1/edits/{id}/frames/{index}`: one frame of the trajectory (PNG).
pub(super) async fn frame(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((id, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let s = finished(&state, &caller, &id).await?;
    let blobs = frame_blobs(&s);
    let k = index
        .parse::<usize>()
        .ok()
        .filter(|&k| k < blobs.len())
        .ok_or_else(|| {
            ApiError::bad_request(
                Some("index"),
                format!(
                    "edit {id} has {} frame(s); frame {index:?} is out of range",
                    blobs.len()
                ),
            )
        })?;
    Ok(png(blob(&state, &id, blobs[k], "frame").await?))
}

/// `GET /v1/edits/{id}/trajectory.gif`: every frame, looping, 250 ms each.
pub(super) async fn trajectory_gif(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let s = finished(&state, &caller, &id).await?;
    let mut pngs = Vec::new();
    for b in frame_blobs(&s) {
        pngs.push(blob(&state, &id, b, "frame").await?);
    }
    if pngs.is_empty() {
        return Err(ApiError::not_found(format!("edit {id} kept no frames")));
    }
    let gif = tokio::task::spawn_blocking(move || {
        let frames = pngs
            .iter()
            .map(|p| image::load_from_memory_with_format(p, image::ImageFormat::Png))
            .map(|r| r.map(|i| i.to_rgb8()))
            .collect::<Result<Vec<_>, _>>()?;
        crate::util::gif_bytes(&frames, 250)
    })
    .await
    .map_err(|_| ApiError::internal("encoding the trajectory failed"))?
    .map_err(|e| {
        tracing::error!("encoding the trajectory: {e:#}");
        ApiError::internal("encoding the trajectory failed")
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        Body::from(gif),
    )
        .into_response())
}

/// `GET /v1/edits/{id}/srm-mask`: the SRM's region over the input at the working size (PNG;
/// outside the region darkened); 404 when the plan ran no SRM.
pub(super) async fn srm_mask(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let s = finished(&state, &caller, &id).await?;
    let index = s
        .result
        .as_ref()
        .and_then(|r| r["artifacts"]["srm_mask"].as_u64())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "edit {id} ran no spatial reasoning mask: its plan has the SRM off or no reasoning frames"
            ))
            .with_code("no_srm_mask")
        })?;
    Ok(png(blob(&state, &id, index as usize, "SRM mask").await?))
}
