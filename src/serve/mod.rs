//! `physedit serve` and `physedit worker`: an edit service that speaks OpenAI's images API, with a
//! bounded job queue in front of the model.
//!
//! * [`http`]: the endpoints (`POST /v1/images/edits` as OpenAI's, `POST/GET/DELETE /v1/edits...`
//!   for asynchronous jobs with server-sent progress, `/healthz`, `/readyz`, `/metrics`), request
//!   validation and limits, errors in OpenAI's shape ([`error`]);
//! * [`queue`]: the queue, embedded (in the `serve` process) or on Redis Streams
//!   ([`redis_queue`]) for workers on several machines;
//! * [`worker`]: one job at a time on a loaded model; [`job`]: jobs, their validation and
//!   [`job::execute`], which runs each picture through [`crate::pipeline::planned::run`] (the route
//!   `physedit edit` takes, so a seed gives the same picture bit for bit);
//! * [`metrics`]: the Prometheus text format.
//!
//! Limits, stated: the embedded queue lives in memory (jobs and results are lost when the process
//! stops); with Redis a job is executed at least once and answered exactly once (a worker that dies
//! mid-job has its job rerun by another after the visibility timeout; the first stored answer
//! stands). Results (pictures as PNG) live in the queue's store (memory or Redis) for the result
//! TTL; pictures are not written to disk. A job runs to its end once started: only queued jobs can
//! be cancelled. One request edits one picture (`n` variants of it by seed). Every worker must
//! serve the same model as the `serve` process reads its facts from (size multiple, native size).
//! There is no authentication or TLS: put the service behind a proxy that provides them.
pub mod adapters;
pub mod error;
pub mod http;
pub mod job;
pub mod metrics;
pub mod queue;
pub mod redis_queue;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use tokio::sync::watch;

use crate::adaptive::cost::ModelDims;
use crate::adaptive::plan::Planner;
use crate::lora::LoraSpec;
use crate::pipeline::chronoedit::{ChronoEditPipeline, LoadOptions};
use job::{Engine, PixelLimits};
use queue::{Embedded, Queue};
use redis_queue::RedisQueue;

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
    /// `redis://HOST:PORT[/DB]`; None: the embedded queue.
    pub url: Option<String>,
    pub capacity: usize,
    pub result_ttl: Duration,
    pub visibility: Duration,
    pub prefix: String,
}

impl QueueOptions {
    pub async fn open(&self) -> Result<Queue> {
        if self.capacity == 0 {
            bail!("--queue-capacity must be at least 1");
        }
        Ok(match &self.url {
            None => Queue::Embedded(Arc::new(Embedded::new(self.capacity, self.result_ttl))),
            Some(url) => Queue::Redis(Arc::new(
                RedisQueue::connect(
                    url,
                    &self.prefix,
                    self.capacity,
                    self.result_ttl,
                    self.visibility,
                )
                .await?,
            )),
        })
    }
}

/// Everything `physedit serve` takes.
pub struct ServeOptions {
    pub listen: String,
    pub model: ModelOptions,
    pub planner: Box<dyn Fn() -> Result<Planner> + Send + Sync>,
    pub queue: QueueOptions,
    pub workers: usize,
    pub limits: http::Limits,
    pub public_url: Option<String>,
    pub request_timeout: Duration,
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
    heartbeat: Duration,
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
                heartbeat,
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
    let queue = opts.queue.open().await?;
    let ready = Arc::new(AtomicBool::new(opts.workers == 0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let workers = if opts.workers > 0 {
        Some(start_workers(
            opts.workers,
            queue.clone(),
            opts.model.clone(),
            (opts.planner)()?,
            opts.queue.visibility / 4,
            ready.clone(),
            stop_rx,
        ))
    } else {
        None
    };
    let state = Arc::new(http::AppState {
        queue,
        facts,
        planner: (opts.planner)()?,
        limits: opts.limits,
        model_ready: ready,
        local_workers: opts.workers as u64,
        public_url: opts.public_url,
        request_timeout: opts.request_timeout,
        responses: Mutex::new(Default::default()),
    });
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("--listen {}: cannot bind", opts.listen))?;
    let addr = listener.local_addr()?;
    eprintln!("listening on http://{addr}");
    // On Ctrl-C / SIGTERM: stop accepting, let requests in flight finish, but give up after 30 s
    // (event streams and long edits would otherwise hold the process).
    let (sig_tx, sig_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = sig_tx.send(true);
    });
    let mut graceful_rx = sig_rx.clone();
    let server = axum::serve(listener, http::router(state)).with_graceful_shutdown(async move {
        let _ = graceful_rx.wait_for(|v| *v).await;
    });
    let mut grace_rx = sig_rx;
    tokio::select! {
        r = server => r.context("serving HTTP")?,
        _ = async move {
            let _ = grace_rx.wait_for(|v| *v).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        } => eprintln!("stopping with connections still open after 30 s"),
    }
    let _ = stop_tx.send(true);
    if let Some(w) = workers {
        // The job in hand finishes (embedded: its client is gone, but the queue stays consistent).
        let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
    }
    Ok(())
}

/// `physedit worker`: runs jobs from a Redis queue until stopped.
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
        q,
        Arc::new(engine),
        name,
        queue.visibility / 4,
        stop_rx,
    ));
    shutdown_signal().await;
    eprintln!("stopping: finishing the job in hand");
    let _ = stop_tx.send(true);
    let _ = handle.await;
    Ok(())
}
