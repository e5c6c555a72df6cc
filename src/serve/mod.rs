//! `physedit serve` and `physedit worker`: an edit service that speaks OpenAI's images API, with a
//! bounded job queue in front of the model.
//!
//! * [`http`]: the endpoints (`POST /v1/images/edits` as OpenAI's, `POST/GET/DELETE /v1/edits...`
//!   for asynchronous jobs with server-sent progress, `/healthz`, `/readyz`, `/metrics`), request
//!   validation and limits, errors in OpenAI's shape ([`error`]);
//! * [`queue`]: the queue, embedded (in the `serve` process, durable in a state file: [`embedded`])
//!   or on Redis Streams ([`redis_queue`]) for workers on several machines; [`queue_types`] is
//!   the vocabulary both speak;
//! * [`worker`]: one job at a time on a loaded model; [`job`]: jobs, their validation and
//!   [`job::execute`], which runs each picture through [`crate::pipeline::planned::run`] (the route
//!   `physedit edit` takes, so a seed gives the same picture bit for bit);
//! * [`metrics`]: the Prometheus text format.
//! * [`routes`]: the router; [`plan_api`]: `POST /v1/plan` (CARD's plan and its FLOPs, no model
//!   call), `GET /v1/recipes`, a job's reasoning frames and SRM mask; [`page`]: the web page at `/`
//!   (`web/`, embedded in the binary).
//!
//! * [`auth`]: API keys (`Authorization: Bearer`); [`admission`]: the limits checked before a
//!   request's body is read (capacity, per-key caps, rate, idempotency, event streams, decoder
//!   slots); [`listen`]: the connection loop and its header and body timeouts; [`access`]: request
//!   ids and the access log.
//!
//! Limits, stated: a job is executed at least once and answered exactly once, with either queue (a
//! `serve` killed mid-job reruns it at its next start; a Redis worker that dies mid-job has its job
//! rerun by another after the visibility timeout; the first stored answer stands), at most
//! `--max-attempts` times (then it fails: the dead letter). Results (pictures as PNG) live in the
//! queue's store (the state file or Redis) for the result TTL and within the result byte budget.
//! Cancelling a running job stops it at its next step. SIGTERM drains: readiness fails at once, no
//! new job is taken, the job in hand finishes within `--drain-timeout` or goes back in the queue.
//! One request edits one picture (`n` variants of it by seed). Every worker must serve the same
//! model as the `serve` process reads its facts from (size multiple, native size).
//! API keys are checked here; there is no TLS in `serve`: put it behind a proxy that provides TLS
//! when it leaves the machine. Without keys it listens on loopback only unless `--insecure-no-auth`.
pub mod access;
pub mod adapters;
pub mod admission;
pub mod auth;
pub mod embedded;
pub mod error;
pub mod http;
pub mod job;
pub mod listen;
pub mod metrics;
pub mod page;
pub mod plan_api;
pub mod queue;
pub mod queue_types;
pub mod redis_queue;
pub mod routes;
pub mod worker;

use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use tokio::sync::watch;

use crate::adaptive::cost::ModelDims;
use crate::adaptive::plan::Planner;
use crate::checkpoint::lora::LoraSpec;
use crate::pipeline::chronoedit::{ChronoEditPipeline, LoadOptions};
use job::{Engine, PixelLimits};
use queue::{Embedded, Queue, Rules};
use redis_queue::{RedisQueue, RedisTarget};
use worker::Pace;

/// What the server needs to know of the model without loading it.
#[derive(Debug, Clone)]
pub struct ModelFacts {
    /// The model folder's name (reported by `/v1/models`).
    pub name: String,
    /// Picture sides must be multiples of it.
    pub size_multiple: usize,
    /// Native resolution (height, width) when the folder states one.
    pub native: Option<(usize, usize)>,
    /// Names of the LoRAs fused at load (file stems).
    pub loras: Vec<String>,
    /// Where per-request adapters are read from (`--lora-dir`), when the server has one.
    pub lora_dir: Option<PathBuf>,
    /// The model's dimensions, for the FLOPs of plans (`POST /v1/plan`).
    pub dims: ModelDims,
}

impl ModelFacts {
    /// Reads `vae/config.json`, `transformer/config.json` and `physedit.json`.
    pub fn read(dir: &Path, loras: &[LoraSpec]) -> Result<Self> {
        use crate::checkpoint::{read_config, sampling_defaults};
        let vae: crate::models::vae::Config = read_config(&dir.join("vae").join("config.json"))?;
        let tr: crate::models::transformer::Config =
            read_config(&dir.join("transformer").join("config.json"))?;
        let scale = vae
            .scale_factor_spatial
            .unwrap_or_else(|| vae.architecture_spatial_scale());
        let patch = tr
            .patch_size
            .get(1)
            .copied()
            .unwrap_or(1)
            .max(tr.patch_size.get(2).copied().unwrap_or(1));
        let defaults = sampling_defaults(dir)?;
        Ok(ModelFacts {
            name: dir
                .canonicalize()
                .unwrap_or_else(|_| dir.to_path_buf())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "physedit".into()),
            size_multiple: scale * patch,
            native: defaults.native_size(),
            loras: lora_names(loras),
            lora_dir: None,
            dims: ModelDims::from_model_dir(dir)?,
        })
    }

    /// Checks a request's `lora` field: with `--lora-dir`, a list of `NAME[:SCALE]` whose files are in
    /// the folder; without, the name of a LoRA fused at load.
    pub fn check_lora(&self, field: &str) -> std::result::Result<(), String> {
        if let Some(dir) = &self.lora_dir {
            let reqs = adapters::parse_request(field)?;
            for r in reqs {
                adapters::adapter_file(dir, &r.name).map_err(|e| format!("{e:#}"))?;
            }
            return Ok(());
        }
        if self.loras.iter().any(|l| l == field) {
            return Ok(());
        }
        Err(format!(
            "unknown lora {field:?}; this server has {}",
            if self.loras.is_empty() {
                "none (start it with --lora FILE or --lora-dir DIR)".to_string()
            } else {
                self.loras.join(", ")
            }
        ))
    }
}

/// The names requests use for LoRAs: the files' stems.
pub fn lora_names(loras: &[LoraSpec]) -> Vec<String> {
    loras
        .iter()
        .filter_map(|l| l.path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect()
}

/// How the model is loaded where jobs run.
#[derive(Clone)]
pub struct ModelOptions {
    pub dir: PathBuf,
    pub dtype: DType,
    pub device: Device,
    pub loras: Vec<LoraSpec>,
    /// Single files replacing components of `dir` (`--transformer FILE`, ...).
    pub files: crate::checkpoint::single_file::ComponentFiles,
    /// Per-request adapters: the folder requests name them from, and the cache bound in bytes.
    pub lora_dir: Option<PathBuf>,
    pub lora_cache_bytes: usize,
    pub limits: PixelLimits,
}

/// Loads the model once (blocking).
pub fn load_engine(m: &ModelOptions, planner: Planner) -> Result<Engine> {
    let pipe = ChronoEditPipeline::load(
        &m.dir,
        &LoadOptions {
            dtype: m.dtype,
            device: m.device.clone(),
            loras: m.loras.clone(),
            files: m.files.clone(),
            ..Default::default()
        },
    )?;
    let adapters = match &m.lora_dir {
        Some(d) => Some(Arc::new(adapters::AdapterCache::new(
            d,
            m.lora_cache_bytes,
            &m.dir.join("transformer"),
            m.dtype,
            &m.device,
        )?)),
        None => None,
    };
    Ok(Engine {
        pipe,
        planner,
        dims: ModelDims::from_model_dir(&m.dir)?,
        loras: lora_names(&m.loras),
        adapters,
        limits: m.limits,
    })
}

/// Where jobs wait.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// `redis://HOST:PORT[/DB]` (or `rediss://`, with `user:password@`); None: the embedded queue.
    pub url: Option<String>,
    /// CA certificate (PEM) for `rediss://` with a private CA.
    pub redis_ca: Option<PathBuf>,
    /// The embedded queue's state directory.
    pub state: PathBuf,
    pub rules: Rules,
    /// Life of a queued or running job's record (Redis).
    pub job_ttl: Duration,
    pub visibility: Duration,
    pub prefix: String,
    pub job_timeout: Option<Duration>,
    pub drain_timeout: Duration,
}

impl QueueOptions {
    pub async fn open(&self) -> Result<Queue> {
        if self.rules.capacity == 0 {
            bail!("--queue-capacity must be at least 1");
        }
        Ok(match &self.url {
            None => Queue::Embedded(Arc::new(Embedded::open(&self.state, self.rules.clone())?)),
            Some(url) => Queue::Redis(Arc::new(
                RedisQueue::connect(
                    &RedisTarget {
                        url: url.clone(),
                        ca: self.redis_ca.clone(),
                    },
                    &self.prefix,
                    self.rules.clone(),
                    self.job_ttl,
                    self.visibility,
                )
                .await?,
            )),
        })
    }

    /// How workers pace themselves: heartbeats every quarter of the visibility timeout.
    pub fn pace(&self) -> Pace {
        Pace {
            heartbeat: self.visibility / 4,
            job_timeout: self.job_timeout,
            drain_timeout: self.drain_timeout,
        }
    }
}

/// Who may call the service.
#[derive(Debug, Clone, Default)]
pub struct AuthOptions {
    pub api_keys: Vec<String>,
    pub api_keys_file: Option<PathBuf>,
    pub metrics_key: Option<String>,
    /// Listen beyond loopback without keys.
    pub insecure_no_auth: bool,
}

/// Everything `physedit serve` takes.
pub struct ServeOptions {
    pub listen: String,
    pub model: ModelOptions,
    pub planner: Box<dyn Fn() -> Result<Planner> + Send + Sync>,
    pub queue: QueueOptions,
    pub workers: usize,
    pub limits: http::Limits,
    pub admission: admission::AdmissionLimits,
    pub auth: AuthOptions,
    pub public_url: Option<String>,
    pub request_timeout: Duration,
}

/// Re-reads the keys file on each SIGHUP.
fn reload_keys_on_hangup(keys: Arc<auth::KeyRing>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match keys.reload() {
                Ok(n) => tracing::info!("SIGHUP: {n} API keys in force"),
                Err(e) => tracing::error!("SIGHUP: keys not reloaded, the old ones stay: {e:#}"),
            }
        }
    });
}

/// Refuses to listen beyond loopback without keys (unless told to).
fn check_exposure(
    addr: std::net::SocketAddr,
    keys: &auth::KeyRing,
    auth: &AuthOptions,
) -> Result<()> {
    if !keys.enabled() && !auth.insecure_no_auth && !addr.ip().is_loopback() {
        bail!(
            "--listen {addr}: without --api-key or --api-keys-file anyone who reaches this address could run edits; give keys, listen on 127.0.0.1, or pass --insecure-no-auth"
        );
    }
    Ok(())
}

/// A name for this worker: host and process id (and a number for several in one process).
pub fn worker_name(i: usize) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}-{i}", std::process::id())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Starts local workers once the model has loaded (exits the process if it cannot load).
fn start_workers(
    n: usize,
    queue: Queue,
    model: ModelOptions,
    planner: Planner,
    pace: Pace,
    ready: Arc<AtomicBool>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let loaded = tokio::task::spawn_blocking(move || load_engine(&model, planner)).await;
        let engine = match loaded {
            Ok(Ok(e)) => Arc::new(e),
            Ok(Err(e)) => {
                eprintln!("error: cannot load the model: {e:#}");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("error: loading the model panicked: {e}");
                std::process::exit(1);
            }
        };
        tracing::info!("model loaded");
        ready.store(true, Ordering::Release);
        let mut handles = Vec::new();
        for i in 0..n {
            handles.push(tokio::spawn(worker::run(
                queue.clone(),
                engine.clone(),
                worker_name(i),
                pace,
                stop.clone(),
            )));
        }
        for h in handles {
            let _ = h.await;
        }
    })
}

/// `physedit serve`.
pub async fn serve(opts: ServeOptions) -> Result<()> {
    if opts.workers == 0 && opts.queue.url.is_none() {
        bail!("--workers 0 needs --queue redis://...: with the embedded queue nothing would run the jobs");
    }
    let mut facts = ModelFacts::read(&opts.model.dir, &opts.model.loras)
        .with_context(|| format!("reading the model folder {}", opts.model.dir.display()))?;
    facts.lora_dir = match &opts.model.lora_dir {
        Some(d) => Some(
            d.canonicalize()
                .with_context(|| format!("--lora-dir {}", d.display()))?,
        ),
        None => None,
    };
    let keys = Arc::new(auth::KeyRing::load(
        &opts.auth.api_keys,
        opts.auth.api_keys_file.as_deref(),
        opts.auth.metrics_key.as_deref(),
    )?);
    // Bound before anything starts, so that a refusal costs nothing.
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("--listen {}: cannot bind", opts.listen))?;
    let addr = listener.local_addr()?;
    check_exposure(addr, &keys, &opts.auth)?;
    let queue = opts.queue.open().await?;
    let ready = Arc::new(AtomicBool::new(opts.workers == 0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let workers = if opts.workers > 0 {
        Some(start_workers(
            opts.workers,
            queue.clone(),
            opts.model.clone(),
            (opts.planner)()?,
            opts.queue.pace(),
            ready.clone(),
            stop_rx,
        ))
    } else {
        None
    };
    let header_timeout = opts.limits.header_timeout;
    reload_keys_on_hangup(keys.clone());
    let state = Arc::new(http::AppState {
        queue: queue.clone(),
        facts,
        planner: (opts.planner)()?,
        limits: opts.limits,
        model_ready: ready,
        local_workers: opts.workers as u64,
        base_url: opts
            .public_url
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{addr}")),
        request_timeout: opts.request_timeout,
        keys: keys.clone(),
        admission: admission::Admission::new(opts.admission),
        early_queue_full: Default::default(),
        http: Default::default(),
    });
    if keys.enabled() {
        eprintln!("API keys required");
    } else {
        eprintln!("no API keys: open to whoever reaches this address");
    }
    eprintln!("listening on http://{addr}");
    let (http_stop_tx, mut http_stop_rx) = watch::channel(false);
    let server = listen::serve_http(
        listener,
        routes::router(state),
        header_timeout,
        async move {
            let _ = http_stop_rx.wait_for(|v| *v).await;
        },
    );
    let mut server = tokio::spawn(server.into_future());
    tokio::select! {
        _ = &mut server => bail!("the HTTP server stopped"),
        _ = shutdown_signal() => {}
    }
    drain(&queue, workers, stop_tx, opts.queue.drain_timeout).await;
    // Requests in flight get their answers; event streams and waits on requeued jobs are cut.
    let _ = http_stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .is_err()
    {
        eprintln!("stopping with connections still open after 5 s");
    }
    Ok(())
}

/// SIGTERM: the queue refuses new jobs and reports not ready at once; workers take no new job and
/// their jobs in hand finish within `drain_timeout` or go back in the queue.
async fn drain(
    queue: &Queue,
    workers: Option<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    drain_timeout: Duration,
) {
    queue.drain();
    eprintln!(
        "draining: no new jobs; the jobs in hand have {} s to finish",
        drain_timeout.as_secs_f64()
    );
    let _ = stop.send(true);
    if let Some(w) = workers {
        // A halted job stops at its next step; the margin covers one step and the requeue.
        let _ = tokio::time::timeout(drain_timeout + Duration::from_secs(30), w).await;
    }
}

/// `physedit worker`: runs jobs from a Redis queue until stopped (SIGTERM drains).
pub async fn work(
    queue: QueueOptions,
    model: ModelOptions,
    planner: Planner,
    name: Option<String>,
) -> Result<()> {
    if queue.url.is_none() {
        bail!("physedit worker needs --queue redis://HOST:PORT");
    }
    let q = queue.open().await?;
    let m = model.clone();
    let engine = tokio::task::spawn_blocking(move || load_engine(&m, planner))
        .await
        .context("loading the model")??;
    let name = name.unwrap_or_else(|| worker_name(0));
    eprintln!("worker {name} ready");
    let (stop_tx, stop_rx) = watch::channel(false);
    let handle = tokio::spawn(worker::run(
        q.clone(),
        Arc::new(engine),
        name,
        queue.pace(),
        stop_rx,
    ));
    shutdown_signal().await;
    drain(&q, Some(handle), stop_tx, queue.drain_timeout).await;
    eprintln!("stopped");
    Ok(())
}
