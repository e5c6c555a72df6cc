//! `physedit serve`: the edit service (see [`crate::serve`]).
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::cli::args::{positive, DeviceArgs, PlannerArgs};
use crate::lora::LoraSpec;
use crate::pipeline::chronoedit::SizeLimits;
use crate::serve::admission::AdmissionLimits;
use crate::serve::http::Limits;
use crate::serve::job::PixelLimits;
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

Endpoints: POST /v1/images/edits (OpenAI's, multipart: image, prompt, mask, n, size, response_format,
model, user; PhysEdit's: recipe, steps, guidance, seed, negative_prompt, lora), POST /v1/edits,
GET/DELETE /v1/edits/{id}, GET /v1/edits/{id}/image[?index=i], GET /v1/edits/{id}/events,
GET /v1/models, /healthz, /readyz, /metrics. Without keys the service listens on loopback only
(--insecure-no-auth lifts that); /metrics wants --metrics-key or a loopback client. Log level:
RUST_LOG (default info; the access log is target physedit::access at info).";

/// The model every worker of this process loads.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Diffusers ChronoEdit pipeline folder [default: the bundled world model, models/physedit-world].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub planner: PlannerArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// LoRA fused into the transformer at load, FILE[:SCALE]; requests name it by its file stem
    /// (`lora` field). Repeatable.
    #[arg(long, value_name = "FILE[:SCALE]")]
    pub lora: Vec<LoraSpec>,
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
        let dir = match &self.model {
            Some(m) => m.clone(),
            None => {
                let dir = crate::cli::edit::bundled_model_dir();
                if !dir.join("model_index.json").is_file() {
                    anyhow::bail!(
                        "no --model given and the bundled model is not present at {}",
                        dir.display()
                    );
                }
                dir
            }
        };
        // Checked now, so that a bad --table/--card stops the command before it listens.
        self.planner.planner()?;
        if !(self.max_aspect_ratio.is_finite() && self.max_aspect_ratio >= 1.0) {
            anyhow::bail!(
                "--max-aspect-ratio must be a number of at least 1, got {}",
                self.max_aspect_ratio
            );
        }
        Ok(ModelOptions {
            dir,
            dtype: self.device.dtype(),
            device: self.device.device()?,
            loras: self.lora.clone(),
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
    /// Edit requests a minute one key (or client address) may make, a token bucket; 0: no limit.
    #[arg(long, value_name = "PER_MINUTE", default_value_t = 600)]
    pub rate_limit: u32,
    /// Edit requests one key may make at once before the rate limit applies (the bucket's size).
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

fn seconds(flag: &str, v: f64) -> Result<Duration> {
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
        header_timeout: seconds("--header-timeout", args.header_timeout)?,
        body_timeout: seconds("--body-timeout", args.body_timeout)?,
    };
    let admission = AdmissionLimits {
        capacity: queue.capacity,
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
        idempotency_ttl: queue.result_ttl,
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
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(crate::serve::serve(opts))
}
