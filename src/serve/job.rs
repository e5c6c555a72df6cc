//! Jobs: what a client asked for (validated, serialisable so it can cross Redis), what a worker
//! reports while it runs, and the result; [`execute`] runs one on a loaded model through
//! [`crate::pipeline::planned::run`], the route `physedit edit` takes.
use std::io::Cursor;
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::adaptive::cost::ModelDims;
use crate::adaptive::plan::{Planner, Recipe};
use crate::models::adapter::{with_adapters, AdapterSet};
use crate::pipeline::chronoedit::{ChronoEditPipeline, EditSize, SizeLimits};
use crate::pipeline::planned::{self, EditSpec};

/// How pictures come back (OpenAI's `response_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    B64Json,
    Url,
}

/// A validated edit request, without its pictures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobParams {
    pub prompt: String,
    pub negative_prompt: String,
    /// Recipe name (`Recipe::name`).
    pub recipe: String,
    pub steps: Option<usize>,
    pub guidance: Option<f64>,
    /// Seed of the first picture; picture `i` uses `seed + i`.
    pub seed: u64,
    /// Pictures to make (1-4).
    pub n: usize,
    /// Working size (height, width); None: the model's default (`size=auto`).
    pub size: Option<(usize, usize)>,
    pub response_format: ResponseFormat,
    /// The client's `model` field, echoed (the server serves one model).
    pub model: Option<String>,
    pub user: Option<String>,
    /// The client's `lora` field: per-request adapters `NAME[:SCALE],...` from the server's
    /// `--lora-dir`, or the name of a LoRA fused at load.
    pub lora: Option<String>,
    /// The API key's name that made the job (None when the service runs without keys): only
    /// that key sees the job.
    #[serde(default)]
    pub owner: Option<String>,
    /// The `x-request-id` of the request that made the job, for the logs.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// A job as queued: the parameters and the uploaded bytes as received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobInput {
    pub params: JobParams,
    /// The input picture's file bytes (PNG, JPEG or WebP; checked when the job was accepted).
    pub image: Vec<u8>,
    /// The mask's PNG bytes (transparent = may change), when one was sent.
    pub mask: Option<Vec<u8>>,
    /// The plan the server predicted when it accepted the job (CARD on the prompt and picture).
    pub plan: Option<serde_json::Value>,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "queued" => State::Queued,
            "running" => State::Running,
            "succeeded" => State::Succeeded,
            "failed" => State::Failed,
            "cancelled" => State::Cancelled,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, State::Succeeded | State::Failed | State::Cancelled)
    }
}

/// What a client sees of a job (`GET /v1/edits/{id}`, the events stream).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobStatus {
    pub id: String,
    pub object: String,
    pub status: State,
    /// Unix seconds.
    pub created: u64,
    pub started: Option<u64>,
    pub finished: Option<u64>,
    /// Denoising steps done and to do, over all `n` pictures (while running and after).
    pub step: usize,
    pub steps: usize,
    /// Times a worker took the job (2 after a worker died in it and another reran it).
    pub attempts: u32,
    pub worker: Option<String>,
    /// Why the job failed.
    pub error: Option<String>,
    /// Whether the failure was the request's fault (a 400 for the synchronous endpoint).
    #[serde(default)]
    pub error_is_client: bool,
    pub prompt: String,
    pub recipe: String,
    pub n: usize,
    /// The plan predicted when the job was accepted.
    pub plan: Option<serde_json::Value>,
    /// The finished edit's report (plan that ran, request, timings, FLOPs).
    pub result: Option<serde_json::Value>,
    /// The key's name that made the job (see [`JobParams::owner`]); never shown to clients.
    #[serde(default)]
    pub owner: Option<String>,
    /// The request id of the request that made the job.
    #[serde(default)]
    pub request_id: Option<String>,
    /// How the pictures are answered (for a replay of the request that made the job).
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
}

impl JobStatus {
    pub fn new(id: String, input: &JobInput, created: u64) -> Self {
        JobStatus {
            id,
            object: "edit".into(),
            status: State::Queued,
            created,
            started: None,
            finished: None,
            step: 0,
            steps: 0,
            attempts: 0,
            worker: None,
            error: None,
            error_is_client: false,
            prompt: input.params.prompt.clone(),
            recipe: input.params.recipe.clone(),
            n: input.params.n,
            plan: input.plan.clone(),
            result: None,
            owner: input.params.owner.clone(),
            request_id: input.params.request_id.clone(),
            response_format: Some(input.params.response_format),
        }
    }
}

/// A finished edit: its pictures (PNG) and its report.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub images: Vec<Vec<u8>>,
    pub report: serde_json::Value,
    /// Seconds the edit took and its labels, for the metrics.
    pub seconds: f64,
    pub tier: String,
    pub flops: f64,
}

/// Why a job failed: the request's fault (a parameter the model cannot run) or the server's.
#[derive(Debug, Clone)]
pub struct JobFailure {
    pub message: String,
    pub client: bool,
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new job id (`edit_` + 32 hex digits, random).
pub fn new_id() -> String {
    format!("edit_{}", uuid::Uuid::new_v4().simple())
}

/// Whether `s` looks like a job id (so that ids never reach a Redis key unchecked).
pub fn valid_id(s: &str) -> bool {
    s.len() == 37 && s.starts_with("edit_") && s[5..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Limits on decoded pictures.
#[derive(Debug, Clone, Copy)]
pub struct PixelLimits {
    /// Most pixels of an uploaded picture (checked from its header before decoding).
    pub max_input_pixels: u64,
    /// Most pixels of the working size (`size`, `auto` included).
    pub max_work_pixels: u64,
    /// Most long side / short side of a picture and of the working size.
    pub max_aspect: f64,
}

impl PixelLimits {
    /// The bounds on working sizes.
    pub fn size(&self) -> SizeLimits {
        SizeLimits {
            max_pixels: self.max_work_pixels,
            max_aspect: self.max_aspect,
        }
    }
}

/// Why an uploaded picture was refused.
#[derive(Debug, Clone)]
pub enum BadImage {
    /// Not a PNG/JPEG/WebP, truncated, corrupt, no pixels.
    Invalid(String),
    /// Over the pixel limit.
    TooLarge(String),
}

impl std::fmt::Display for BadImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadImage::Invalid(m) | BadImage::TooLarge(m) => f.write_str(m),
        }
    }
}

/// An uploaded picture's format and (width, height), read from its header (PNG, JPEG or WebP,
/// sniffed from its bytes) and checked against the pixel and aspect limits; no pixel is decoded.
pub fn read_header(
    bytes: &[u8],
    what: &str,
    limits: &PixelLimits,
) -> std::result::Result<(image::ImageFormat, u32, u32), BadImage> {
    let (format, w, h) = sniff(bytes, what)?;
    let pixels = w as u64 * h as u64;
    if pixels > limits.max_input_pixels {
        return Err(BadImage::TooLarge(format!(
            "{what} is {w}x{h} = {pixels} pixels, over this server's limit of {}",
            limits.max_input_pixels
        )));
    }
    limits
        .size()
        .check_aspect(what, w as u64, h as u64)
        .map_err(BadImage::TooLarge)?;
    Ok((format, w, h))
}

fn sniff(
    bytes: &[u8],
    what: &str,
) -> std::result::Result<(image::ImageFormat, u32, u32), BadImage> {
    use image::ImageFormat;
    if bytes.is_empty() {
        return Err(BadImage::Invalid(format!("{what} is empty (0 bytes)")));
    }
    let format = image::guess_format(bytes).map_err(|_| {
        BadImage::Invalid(format!(
            "{what} is not a PNG, JPEG or WebP picture (unrecognised file signature)"
        ))
    })?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP
    ) {
        return Err(BadImage::Invalid(format!(
            "{what} is a {format:?} picture; send PNG, JPEG or WebP"
        )));
    }
    let (w, h) = image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| BadImage::Invalid(format!("{what} has an unreadable header: {e}")))?;
    if w == 0 || h == 0 {
        return Err(BadImage::Invalid(format!("{what} has no pixels ({w}x{h})")));
    }
    Ok((format, w, h))
}

/// Decodes an uploaded picture (PNG, JPEG or WebP, sniffed from its bytes): the size is read from
/// the header and checked against the limit before any pixel is decoded (a decompression bomb is
/// refused without being inflated), and the decoder's own allocation limit stays on.
pub fn decode_image(
    bytes: &[u8],
    what: &str,
    max_pixels: u64,
) -> std::result::Result<image::DynamicImage, BadImage> {
    let (format, w, h) = sniff(bytes, what)?;
    let reader = || image::ImageReader::with_format(Cursor::new(bytes), format);
    let pixels = w as u64 * h as u64;
    if pixels > max_pixels {
        return Err(BadImage::TooLarge(format!(
            "{what} is {w}x{h} = {pixels} pixels, over this server's limit of {max_pixels}"
        )));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // Room for the decoded picture at 16 bits x 4 channels, and the decoder's working memory.
    limits.max_alloc = Some((pixels * 8).max(1 << 20) * 2);
    let mut r = reader();
    r.limits(limits);
    let img = r
        .decode()
        .map_err(|e| BadImage::Invalid(format!("{what} cannot be decoded: {e}")))?;
    Ok(img)
}

/// The region a mask allows to change: its transparent pixels (alpha 0), as OpenAI's edit masks
/// mark them. The mask must be a PNG with an alpha channel, the size of the picture.
pub fn mask_region(
    bytes: &[u8],
    image_size: (u32, u32),
    max_pixels: u64,
) -> std::result::Result<image::GrayImage, BadImage> {
    if image::guess_format(bytes).ok() != Some(image::ImageFormat::Png) && !bytes.is_empty() {
        return Err(BadImage::Invalid("mask must be a PNG picture".into()));
    }
    // The size from the header first: a mask of another size is refused undecoded.
    let (_, mw, mh) = sniff(bytes, "mask")?;
    if (mw, mh) != image_size {
        return Err(BadImage::Invalid(format!(
            "mask is {mw}x{mh}, the image {}x{}: they must be the same size",
            image_size.0, image_size.1
        )));
    }
    let m = decode_image(bytes, "mask", max_pixels)?;
    if !m.color().has_alpha() {
        return Err(BadImage::Invalid(
            "mask has no alpha channel: its transparent pixels mark where the edit may change the picture"
                .into(),
        ));
    }
    let rgba = m.to_rgba8();
    Ok(image::GrayImage::from_fn(m.width(), m.height(), |x, y| {
        image::Luma([if rgba.get_pixel(x, y).0[3] == 0 {
            255
        } else {
            0
        }])
    }))
}

/// A loaded model and what runs it: the same pipeline, planner and model facts `physedit edit` uses.
pub struct Engine {
    pub pipe: ChronoEditPipeline,
    pub planner: Planner,
    pub dims: ModelDims,
    /// Names of the LoRAs fused at load (file stems), which requests may name.
    pub loras: Vec<String>,
    /// Per-request adapters (`--lora-dir`), applied unfused.
    pub adapters: Option<Arc<crate::serve::adapters::AdapterCache>>,
    pub limits: PixelLimits,
}

/// Carried out of the pipeline's step callback (by unwinding, which prints nothing) when the
/// job's worker halts it; the pipeline's callback has no way to say "stop".
struct Halted;

/// Runs one job: `n` pictures with seeds `seed..seed+n`, each exactly as `physedit edit --seed`
/// makes it, encoded as PNG. `progress` gets (steps done, steps in all) over all pictures; when it
/// answers false the job stops after that step and fails with "halted".
pub fn execute(
    engine: &Engine,
    input: &JobInput,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> std::result::Result<JobResult, JobFailure> {
    let mut on_step = |s: usize, n: usize| {
        if !progress(s, n) {
            std::panic::resume_unwind(Box::new(Halted));
        }
    };
    let run = std::panic::AssertUnwindSafe(|| execute_steps(engine, input, &mut on_step));
    match std::panic::catch_unwind(run) {
        Ok(r) => r,
        Err(payload) if payload.is::<Halted>() => Err(JobFailure {
            message: "halted".into(),
            client: false,
        }),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

fn execute_steps(
    engine: &Engine,
    input: &JobInput,
    progress: &mut dyn FnMut(usize, usize),
) -> std::result::Result<JobResult, JobFailure> {
    let client = |message: String| JobFailure {
        message,
        client: true,
    };
    let server = |e: anyhow::Error| JobFailure {
        message: format!("{e:#}"),
        client: false,
    };
    let p = &input.params;
    let recipe: Recipe = p.recipe.parse().map_err(|e| client(format!("{e:#}")))?;
    let adapters = match (&p.lora, &engine.adapters) {
        (Some(l), Some(cache)) => cache.set_for(l).map_err(|e| client(format!("{e:#}")))?,
        _ => AdapterSet::default(),
    };
    if let (Some(l), None) = (&p.lora, &engine.adapters) {
        if !engine.loras.iter().any(|k| k == l) {
            return Err(client(format!(
                "lora {l:?} is not loaded on this worker (loaded: {})",
                if engine.loras.is_empty() {
                    "none".to_string()
                } else {
                    engine.loras.join(", ")
                }
            )));
        }
    }
    // The working size is chosen and bounded from the header, before the picture is decoded.
    let (_, w, h) =
        read_header(&input.image, "image", &engine.limits).map_err(|e| client(e.to_string()))?;
    let size = EditSize::choose_for(
        engine.pipe.size_multiple(),
        (w, h),
        p.size.map(|s| s.0),
        p.size.map(|s| s.1),
        engine.pipe.defaults.native_size(),
    )
    .map_err(|e| client(format!("size: {e:#}")))?;
    engine
        .limits
        .size()
        .check_work(&size)
        .map_err(|(_, m)| client(format!("size: {m}")))?;
    let image = decode_image(&input.image, "image", engine.limits.max_input_pixels)
        .map_err(|e| client(e.to_string()))?;
    let region = match &input.mask {
        Some(m) => Some(
            mask_region(
                m,
                (image.width(), image.height()),
                engine.limits.max_input_pixels,
            )
            .map_err(|e| client(e.to_string()))?,
        ),
        None => None,
    };
    let mut spec = EditSpec::new(p.prompt.clone());
    spec.negative_prompt = p.negative_prompt.clone();
    spec.recipe = recipe;
    spec.steps = p.steps;
    spec.guidance = p.guidance;
    spec.height = p.size.map(|s| s.0);
    spec.width = p.size.map(|s| s.1);
    spec.region = region;

    let t0 = std::time::Instant::now();
    let mut images = Vec::with_capacity(p.n);
    let mut reports = Vec::with_capacity(p.n);
    let mut tier = String::new();
    let mut flops = 0.0;
    let mut done_before = 0usize;
    let mut artifacts = Artifacts::default();
    for i in 0..p.n {
        spec.seed = p.seed.wrapping_add(i as u64);
        let mut on_step = |s: usize, n: usize| progress(done_before + s, n * p.n);
        let done = with_adapters(adapters.clone(), || {
            planned::run(&engine.pipe, &engine.planner, &image, &spec, &mut on_step)
        })
        .map_err(server)?;
        done_before += done.schedule.steps;
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(done.picture.clone())
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .context("encoding the picture as PNG")
            .map_err(server)?;
        images.push(png);
        if i == 0 {
            artifacts = Artifacts::of(engine, &image, &done).map_err(server)?;
        }
        let executed = done.output.transformer_flops(&engine.dims);
        flops += executed.total;
        tier = format!("{:?}", done.effective.tier).to_lowercase();
        let t = &done.output.times;
        reports.push(serde_json::json!({
            "seed": spec.seed,
            "plan": done.effective,
            "recipe_plan": done.plan,
            "request": done.schedule,
            "height": done.size.height,
            "width": done.size.width,
            "output_size": [done.size.output.0, done.size.output.1],
            "mask": match (&input.mask, done.region_used) {
                (None, _) => serde_json::Value::Null,
                (Some(_), true) => "used as the spatial reasoning mask".into(),
                (Some(_), false) => "not used: this plan runs no spatial reasoning mask".into(),
            },
            "srm": done.output.srm.as_ref().map(|s| serde_json::json!({
                "probe": s.probe, "coverage": s.coverage, "masked_steps": s.masked_steps,
            })),
            "tokens_per_step": done.output.tokens_per_step,
            "flops": { "model": engine.dims.source, "executed_transformer": executed },
            "times": {
                "encode_s": t.encode_s,
                "denoise_s": t.denoise_s,
                "decode_s": t.decode_s,
                "edit_s": t.encode_s + t.denoise_s + t.decode_s,
            },
            "notes": done.notes,
        }));
    }
    let seconds = t0.elapsed().as_secs_f64();
    let stored = artifacts.append_to(&mut images);
    Ok(JobResult {
        images,
        report: serde_json::json!({
            "recipe": recipe.name(),
            "pictures": reports,
            "seconds": seconds,
            "transformer_flops": flops,
            "artifacts": stored,
        }),
        seconds,
        tier,
        flops,
    })
}

/// Longest side of the stored trajectory frames: bigger frames are scaled down to it, so that a
/// job's frames stay a small share of the result byte budget.
pub const FRAME_MAX_SIDE: u32 = 512;

/// What a job keeps of its first picture's edit besides the picture: the reasoning trajectory
/// (every decoded frame, PNG) and the SRM mask over the input (PNG, when the SRM ran). They are
/// stored with the job's pictures, after them (blob `n + k`), so they count against the same
/// result byte budget and expire with the job; the report's `artifacts` says where each is.
#[derive(Default)]
struct Artifacts {
    frames: Vec<Vec<u8>>,
    srm_mask: Option<Vec<u8>>,
}

impl Artifacts {
    fn of(
        engine: &Engine,
        image: &image::DynamicImage,
        done: &planned::PlannedEdit,
    ) -> anyhow::Result<Self> {
        let frames = done
            .trajectory()?
            .iter()
            .map(|f| crate::util::png_bytes(&fit_side(f, FRAME_MAX_SIDE)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (overlay, ran) = done.srm_overlay(&engine.pipe, image);
        let srm_mask = if ran {
            Some(crate::util::png_bytes(&overlay)?)
        } else {
            None
        };
        Ok(Artifacts { frames, srm_mask })
    }

    /// Appends the artifacts to the job's pictures; returns the report's `artifacts`: the blob
    /// indices of the frames and of the SRM mask (null when the SRM did not run).
    fn append_to(self, images: &mut Vec<Vec<u8>>) -> serde_json::Value {
        let first = images.len();
        let count = self.frames.len();
        images.extend(self.frames);
        let srm_mask = self.srm_mask.map(|m| {
            images.push(m);
            images.len() - 1
        });
        serde_json::json!({
            "frames": (first..first + count).collect::<Vec<_>>(),
            "srm_mask": srm_mask,
        })
    }
}

/// `picture`, scaled down (aspect kept) when its longer side is over `max`.
fn fit_side(picture: &image::RgbImage, max: u32) -> std::borrow::Cow<'_, image::RgbImage> {
    let (w, h) = picture.dimensions();
    if w.max(h) <= max {
        return std::borrow::Cow::Borrowed(picture);
    }
    let scale = max as f64 / w.max(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    );
    std::borrow::Cow::Owned(image::imageops::resize(
        picture,
        nw,
        nh,
        image::imageops::FilterType::Triangle,
    ))
}

/// A shared engine.
pub type SharedEngine = Arc<Engine>;
