//! `physedit serve`: the edit service (see [`crate::serve`]).
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::cli::args::{positive, ComponentArgs, DeviceArgs, PlannerArgs};
use crate::lora::LoraSpec;
use crate::serve::http::Limits;
use crate::serve::job::PixelLimits;
use crate::serve::{ModelOptions, QueueOptions, ServeOptions};

const EXAMPLES: &str = "\
Examples:
  # One machine: the bundled model, the queue and one worker in this process:
  physedit serve --listen 127.0.0.1:8080
  curl -s http://127.0.0.1:8080/v1/images/edits \\
      -F image=@data/world/test/images/test_000023.png \\
      -F prompt=\"Swap the scenery behind the objects for plain peach.\" -F seed=0 \\
    | python3 -c 'import sys,json,base64; open(\"out.png\",\"wb\").write(base64.b64decode(json.load(sys.stdin)[\"data\"][0][\"b64_json\"]))'

  # Asynchronous: a job id at once, then its state, progress events and picture:
  curl -s http://127.0.0.1:8080/v1/edits -F image=@in.png -F prompt=\"Make the ball red\"
  curl -s http://127.0.0.1:8080/v1/edits/edit_...           # queued / running (step i of N) / succeeded
  curl -sN http://127.0.0.1:8080/v1/edits/edit_.../events   # server-sent events
  curl -s http://127.0.0.1:8080/v1/edits/edit_.../image -o out.png

  # Several machines: jobs on Redis, this process only answers HTTP; one worker per GPU:
  physedit serve --queue redis://queue-host:6379 --workers 0 --listen 0.0.0.0:8080
  physedit worker --queue redis://queue-host:6379 --model ChronoEdit-14B-Diffusers   # on each GPU machine

Endpoints: POST /v1/images/edits (OpenAI's, multipart: image, prompt, mask, n, size, response_format,
model, user; PhysEdit's: recipe, steps, guidance, seed, negative_prompt, lora), POST /v1/edits,
GET/DELETE /v1/edits/{id}, GET /v1/edits/{id}/image[?index=i], GET /v1/edits/{id}/events,
GET /v1/models, /healthz, /readyz, /metrics. Log level: RUST_LOG (default info).";

/// The model every worker of this process loads.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Diffusers ChronoEdit pipeline: a folder or a Hugging Face id ORG/NAME[@REVISION] (hub cache,
    /// fetched when missing; HF_HUB_OFFLINE=1: cache only) [default: the bundled world model,
    /// models/physedit-world].
    #[arg(long, value_name = "DIR|ORG/NAME[@REV]")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub components: ComponentArgs,
    #[command(flatten)]
    pub planner: PlannerArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// LoRA fused into the transformer at load, FILE[:SCALE]; requests name it by its file stem
    /// (`lora` field). Repeatable.
    #[arg(long, value_name = "FILE[:SCALE]")]
    pub lora: Vec<LoraSpec>,
    /// Folder of per-request adapters: a request's `lora` field names them as `NAME[:SCALE]` (several
    /// separated by commas; NAME is the stem of DIR/NAME.safetensors), applied unfused on the one
    /// loaded base model. Nothing outside DIR can be named.
    #[arg(long, value_name = "DIR")]
    pub lora_dir: Option<PathBuf>,
    /// Most bytes the per-request adapters loaded from --lora-dir may hold on the device (least
    /// recently used out).
    #[arg(long, value_name = "BYTES", default_value_t = 2 << 30)]
    pub lora_cache_bytes: usize,
    /// Most pixels of an uploaded picture (checked from its header before decoding).
    #[arg(long, default_value_t = 4096 * 4096)]
    pub max_image_pixels: u64,
    /// Most pixels of the working size a request may ask for (`size`).
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_size_pixels: u64,
}

impl ModelArgs {
    pub fn options(&self) -> Result<ModelOptions> {
        // Checked first, so that a bad --table/--card stops the command before a download.
        self.planner.planner()?;
        let dir = crate::cli::args::model_or_bundled(self.model.as_deref())?;
        Ok(ModelOptions {
            dir,
            dtype: self.device.dtype(),
            device: self.device.device()?,
            loras: self.lora.clone(),
            files: self.components.files()?,
            lora_dir: self.lora_dir.clone(),
            lora_cache_bytes: self.lora_cache_bytes,
            limits: PixelLimits {
                max_input_pixels: self.max_image_pixels,
                max_work_pixels: self.max_size_pixels,
            },
        })
    }
}

/// Where jobs wait.
#[derive(Args, Debug, Clone)]
pub struct QueueArgs {
    /// Job queue: `redis://HOST:PORT[/DB]` for a Redis Stream shared with `physedit worker`s
    /// [default: embedded in this process].
    #[arg(long, value_name = "URL")]
    pub queue: Option<String>,
    /// Most unfinished jobs (queued and running); past it requests get 429 with Retry-After.
    #[arg(long, default_value_t = 64, value_parser = positive)]
    pub queue_capacity: usize,
    /// Seconds a finished job's pictures and report are kept.
    #[arg(long, default_value_t = 3600)]
    pub result_ttl: u64,
    /// Seconds a running job's worker may stay silent before another worker claims and reruns it
    /// (Redis; workers heartbeat every quarter of it).
    #[arg(long, default_value_t = 60.0)]
    pub visibility_timeout: f64,
    /// Prefix of the Redis keys (several services can share one Redis).
    #[arg(long, default_value = "physedit")]
    pub redis_prefix: String,
}

impl QueueArgs {
    pub fn options(&self) -> Result<QueueOptions> {
        if !(self.visibility_timeout.is_finite() && self.visibility_timeout >= 0.1) {
            anyhow::bail!("--visibility-timeout must be at least 0.1 s");
        }
        if let Some(u) = &self.queue {
            if !(u.starts_with("redis://")
                || u.starts_with("unix://")
                || u.starts_with("redis+unix://"))
            {
                anyhow::bail!("--queue {u}: expected redis://HOST:PORT");
            }
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.contains(char::is_whitespace) {
            anyhow::bail!("--redis-prefix must be a non-empty word");
        }
        Ok(QueueOptions {
            url: self.queue.clone(),
            capacity: self.queue_capacity,
            result_ttl: Duration::from_secs(self.result_ttl.max(1)),
            visibility: Duration::from_secs_f64(self.visibility_timeout),
            prefix: self.redis_prefix.clone(),
        })
    }
}

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Workers in this process (one per device); 0 with --queue redis://: jobs run on `physedit worker`s.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Most bytes of a request body.
    #[arg(long, default_value_t = 32 << 20)]
    pub max_body_bytes: usize,
    /// Most bytes of a prompt.
    #[arg(long, default_value_t = 4000)]
    pub max_prompt_bytes: usize,
    /// Most denoising steps a request may ask for.
    #[arg(long, default_value_t = 200)]
    pub max_steps: usize,
    /// Seconds POST /v1/images/edits waits for its edit (then 504; the job keeps running).
    #[arg(long, default_value_t = 600)]
    pub request_timeout: u64,
    /// Base of picture URLs in `url` answers [default: http:// + the request's Host header].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(args: ServeArgs) -> Result<()> {
    init_logging();
    let model = args.model.options()?;
    let queue = args.queue.options()?;
    let planner_args = args.model.planner.clone();
    let opts = ServeOptions {
        listen: args.listen,
        model,
        planner: Box::new(move || planner_args.planner()),
        queue,
        workers: args.workers,
        limits: Limits {
            max_body: args.max_body_bytes,
            max_input_pixels: args.model.max_image_pixels,
            max_work_pixels: args.model.max_size_pixels,
            max_prompt_bytes: args.max_prompt_bytes,
            max_steps: args.max_steps,
        },
        public_url: args.public_url,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(crate::serve::serve(opts))
}
