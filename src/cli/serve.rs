//! `physedit serve`: the edit service (see [`crate::serve`]).
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::checkpoint::lora::LoraSpec;
use crate::cli::args::{positive, ComponentArgs, DeviceArgs, PlannerArgs};
use crate::pipeline::chronoedit::SizeLimits;
use crate::serve::admission::AdmissionLimits;
use crate::serve::http::Limits;
use crate::serve::job::PixelLimits;
use crate::serve::queue::Rules;
use crate::serve::{AuthOptions, ModelOptions, QueueOptions, ServeOptions};

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

  # On a network: keys (Authorization: Bearer KEY), picture URLs as clients reach the service:
  physedit serve --listen 0.0.0.0:8080 --api-keys-file /etc/physedit/keys \\
      --public-url https://edits.example.com --log-format json
  curl -s https://edits.example.com/v1/edits -H \"Authorization: Bearer $KEY\" \\
      -H \"Idempotency-Key: order-77\" -F image=@in.png -F prompt=\"Make the ball red\"
  kill -HUP $(pidof physedit)                                 # re-read the keys file

  # Several machines: jobs on Redis, this process only answers HTTP; one worker per GPU:
  physedit serve --queue redis://queue-host:6379 --workers 0 --listen 0.0.0.0:8080 --api-key $KEY
  physedit worker --queue redis://queue-host:6379 --model ChronoEdit-14B-Diffusers   # on each GPU machine

  # The embedded queue's jobs and results in a chosen directory (they survive a crash or restart);
  # on SIGTERM the job in hand gets 60 s to finish, else it is requeued:
  physedit serve --state /var/lib/physedit --drain-timeout 60 --max-attempts 3

Endpoints: POST /v1/images/edits (OpenAI's, multipart: image, prompt, mask, n, size, response_format,
model, user; PhysEdit's: recipe, steps, guidance, seed, negative_prompt, lora), POST /v1/edits,
GET/DELETE /v1/edits/{id}, GET /v1/edits/{id}/image[?index=i], GET /v1/edits/{id}/events,
GET /v1/models, /healthz, /readyz, /metrics. Without keys the service listens on loopback only
(--insecure-no-auth lifts that); /metrics wants --metrics-key or a loopback client. Log level:
RUST_LOG (default info; the access log is target physedit::access at info).";

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
    /// Most pixels of the working size, whether the request names it (`size`) or `auto` picks it
    /// from the picture; checked from the picture's header before it is decoded.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_size_pixels: u64,
    /// Most long side / short side of an uploaded picture and of the working size.
    #[arg(long, value_name = "RATIO", default_value_t = SizeLimits::DEFAULT.max_aspect)]
    pub max_aspect_ratio: f64,
}

impl ModelArgs {
    pub fn options(&self) -> Result<ModelOptions> {
        // Checked first, so that a bad --table/--card stops the command before a download.
        self.planner.planner()?;
        if !(self.max_aspect_ratio.is_finite() && self.max_aspect_ratio >= 1.0) {
            anyhow::bail!(
                "--max-aspect-ratio must be a number of at least 1, got {}",
                self.max_aspect_ratio
            );
        }
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
                max_aspect: self.max_aspect_ratio,
            },
        })
    }
}

/// Where jobs wait.
#[derive(Args, Debug, Clone)]
pub struct QueueArgs {
    /// Job queue: `redis://[USER:PASSWORD@]HOST:PORT[/DB]` (`rediss://` for TLS) for a Redis
    /// Stream shared with `physedit worker`s [default: embedded in this process, kept in --state].
    #[arg(long, value_name = "URL")]
    pub queue: Option<String>,
    /// CA certificate (PEM) that signed the Redis server's certificate, for `rediss://` with a
    /// private CA [default: the system's roots].
    #[arg(long, value_name = "FILE")]
    pub redis_ca: Option<PathBuf>,
    /// Directory of the embedded queue's state file (jobs, uploads, results; survives restarts;
    /// one `serve` per directory) [default: $XDG_DATA_HOME/physedit/state, else
    /// ~/.local/share/physedit/state].
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Most unfinished jobs (queued and running); past it requests get 429 with Retry-After.
    #[arg(long, default_value_t = 64, value_parser = positive)]
    pub queue_capacity: usize,
    /// Seconds a finished job's pictures and report are kept.
    #[arg(long, default_value_t = 3600)]
    pub result_ttl: u64,
    /// Most bytes of result pictures kept; past it the oldest results are forgotten first (the
    /// newest is always kept).
    #[arg(long, default_value_t = 1 << 30)]
    pub result_max_bytes: u64,
    /// Most times a job is started; a job whose worker died or stalled that often fails and goes
    /// to the dead letter (Redis: the stream PREFIX:dead).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Seconds one job may run before it is stopped and fails [default: no limit].
    #[arg(long, value_name = "SECONDS")]
    pub job_timeout: Option<f64>,
    /// Seconds the job in hand has to finish after SIGTERM before it is stopped and put back in
    /// the queue.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub drain_timeout: f64,
    /// Seconds a running job's worker may go without progress before another worker claims and
    /// reruns it (Redis; workers heartbeat every quarter of it while their step counter moves).
    #[arg(long, default_value_t = 60.0)]
    pub visibility_timeout: f64,
    /// Seconds a queued or running job's record lives in Redis (a finished one: --result-ttl).
    #[arg(long, default_value_t = 86400)]
    pub job_ttl: u64,
    /// Prefix of the Redis keys (several services can share one Redis).
    #[arg(long, default_value = "physedit")]
    pub redis_prefix: String,
}

/// `$XDG_DATA_HOME/physedit/state`, else `~/.local/share/physedit/state`.
pub fn default_state_dir() -> Result<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("XDG_DATA_HOME") {
        return Ok(d.join("physedit").join("state"));
    }
    match env("HOME") {
        Some(h) => Ok(h.join(".local/share/physedit/state")),
        None => anyhow::bail!("no --state given and neither XDG_DATA_HOME nor HOME is set"),
    }
}

fn seconds(flag: &str, v: f64, min: f64) -> Result<Duration> {
    if !(v.is_finite() && v >= min) {
        anyhow::bail!("{flag} must be at least {min} s, got {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

impl QueueArgs {
    pub fn options(&self) -> Result<QueueOptions> {
        let visibility = seconds("--visibility-timeout", self.visibility_timeout, 0.1)?;
        if let Some(u) = &self.queue {
            let ok = ["redis://", "rediss://", "unix://", "redis+unix://"];
            if !ok.iter().any(|p| u.starts_with(p)) {
                anyhow::bail!(
                    "--queue {}: expected redis://HOST:PORT or rediss://HOST:PORT",
                    crate::serve::redis_queue::redact(u)
                );
            }
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.contains(char::is_whitespace) {
            anyhow::bail!("--redis-prefix must be a non-empty word");
        }
        let state = match (&self.state, &self.queue) {
            (Some(d), _) => d.clone(),
            (None, Some(_)) => PathBuf::new(),
            (None, None) => default_state_dir()?,
        };
        Ok(QueueOptions {
            url: self.queue.clone(),
            redis_ca: self.redis_ca.clone(),
            state,
            rules: Rules {
                capacity: self.queue_capacity,
                result_ttl: Duration::from_secs(self.result_ttl.max(1)),
                result_budget: self.result_max_bytes,
                max_attempts: self.max_attempts,
            },
            job_ttl: Duration::from_secs(self.job_ttl.max(1)),
            visibility,
            prefix: self.redis_prefix.clone(),
            job_timeout: self
                .job_timeout
                .map(|t| seconds("--job-timeout", t, 0.001))
                .transpose()?,
            drain_timeout: seconds("--drain-timeout", self.drain_timeout, 0.0)?,
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
    /// Base of picture URLs in `url` answers, as clients reach this service (such as
    /// https://edits.example.com) [default: http:// + the address listened on; never the
    /// request's Host header].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// An API key clients must send as `Authorization: Bearer KEY` (repeatable; at least 8
    /// printable characters). Jobs belong to the key that made them.
    #[arg(long, value_name = "KEY")]
    pub api_key: Vec<String>,
    /// A file of API keys, one a line: `KEY [NAME]` (`#` comments); re-read on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// The key `/metrics` takes (Bearer) [default: /metrics answers loopback clients only].
    #[arg(long, value_name = "KEY")]
    pub metrics_key: Option<String>,
    /// Listen beyond loopback without API keys (anyone who reaches the port can run edits).
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Most edits one key (or, without keys, one client address) may have queued or running.
    #[arg(long, default_value_t = 16, value_parser = positive)]
    pub max_queued_per_key: usize,
    /// Edit and plan requests a minute one key (or client address) may make, a token bucket; 0: no limit.
    #[arg(long, value_name = "PER_MINUTE", default_value_t = 600)]
    pub rate_limit: u32,
    /// Edit and plan requests one key may make at once before the rate limit applies (the bucket's size).
    #[arg(long, default_value_t = 60)]
    pub rate_burst: u32,
    /// Most event streams (GET /v1/edits/{id}/events) open at once, in all.
    #[arg(long, default_value_t = 256, value_parser = positive)]
    pub max_event_streams: usize,
    /// Most event streams one key (or client address) may hold open.
    #[arg(long, default_value_t = 16, value_parser = positive)]
    pub max_event_streams_per_key: usize,
    /// Seconds a client has to send a request's head (hyper's header read timeout; its reach
    /// over idle kept-alive connections is hyper's, not tested here).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub header_timeout: f64,
    /// Seconds a client has to send a request's body once its head has arrived (then 408).
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub body_timeout: f64,
    /// Access log format on stderr: text, or json (one object a line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A timeout flag: positive and at most a day.
fn timeout_seconds(flag: &str, v: f64) -> Result<Duration> {
    if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
        anyhow::bail!("{flag} must be between 0 and 86400 seconds, got {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => fmt.try_init(),
        LogFormat::Json => fmt.json().flatten_event(true).try_init(),
    };
}

pub fn run(args: ServeArgs) -> Result<()> {
    init_logging(args.log_format);
    let model = args.model.options()?;
    let queue = args.queue.options()?;
    let limits = Limits {
        max_body: args.max_body_bytes,
        pixels: model.limits,
        max_prompt_bytes: args.max_prompt_bytes,
        max_steps: args.max_steps,
        header_timeout: timeout_seconds("--header-timeout", args.header_timeout)?,
        body_timeout: timeout_seconds("--body-timeout", args.body_timeout)?,
    };
    let admission = AdmissionLimits {
        capacity: queue.rules.capacity,
        max_queued_per_key: args.max_queued_per_key,
        rate_per_minute: args.rate_limit,
        rate_burst: args.rate_burst,
        max_streams: args.max_event_streams,
        max_streams_per_key: args.max_event_streams_per_key,
        // One picture decoded at a time per local worker (at least one; a few without them).
        decode_slots: if args.workers > 0 {
            args.workers
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
        },
        idempotency_ttl: queue.rules.result_ttl,
    };
    if let Some(u) = &args.public_url {
        if !(u.starts_with("http://") || u.starts_with("https://"))
            || u.contains(char::is_whitespace)
        {
            anyhow::bail!("--public-url {u}: expected http://HOST[:PORT][/PATH] or https://...");
        }
    }
    let planner_args = args.model.planner.clone();
    let opts = ServeOptions {
        listen: args.listen,
        model,
        planner: Box::new(move || planner_args.planner()),
        queue,
        workers: args.workers,
        limits,
        admission,
        auth: AuthOptions {
            api_keys: args.api_key,
            api_keys_file: args.api_keys_file,
            metrics_key: args.metrics_key,
            insecure_no_auth: args.insecure_no_auth,
        },
        public_url: args.public_url,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(crate::serve::serve(opts));
    // A job halted by the drain may still be inside its last step: do not wait for it.
    rt.shutdown_timeout(Duration::from_secs(1));
    r
}
