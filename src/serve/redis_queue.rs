//! The job queue on Redis Streams, for workers on several machines.
//!
//! Keys (under a prefix, `physedit` by default):
//! * `{prefix}:queue` — a stream with one entry per accepted job (`id` field), read by the consumer
//!   group `workers` (`XREADGROUP`); its length is the number of unfinished jobs (an entry is
//!   deleted when its job finishes or is cancelled), which bounds the queue;
//! * `{prefix}:job:{id}` — a hash per job: its state, progress, parameters, the uploaded picture
//!   until the job finishes, then the pictures (`img:0`, ...) and the report; it expires after the
//!   job TTL while the job waits or runs, after the result TTL once it has finished;
//! * `{prefix}:results`, `{prefix}:result_sizes`, `{prefix}:result_bytes` — finished results by
//!   finishing time and their sizes, so that the oldest are forgotten past the byte budget;
//! * `{prefix}:dead` — the dead letter: a stream entry per job that used up its attempts;
//! * `{prefix}:stats` — counters shared by every process (jobs by outcome, edit seconds, FLOPs);
//! * `{prefix}:events` — a pub/sub channel: the job id on every change, which wakes the requests
//!   and event streams waiting on it.
//!
//! A worker claims an entry, marks the job running (counting the attempt; a job past
//! `--max-attempts` fails and goes to the dead letter instead), runs it, then stores the outcome
//! and acknowledges the entry (`XACK`) in one script, so an entry is never acknowledged before its
//! result is stored. While its step counter moves, the worker resets the entry's idle time every
//! quarter of the visibility timeout; a worker that dies or stalls leaves its entry idle, and the
//! next worker looking for work claims it with `XAUTOCLAIM` once the visibility timeout has passed
//! and reruns it. The store script refuses a second outcome for a job, so a rerun (of a job whose
//! first worker was only slow) cannot give a second answer; progress from a worker the job no
//! longer belongs to (cancelled, claimed by another) is refused, which stops that worker. Jobs are
//! at-least-once executed and exactly-once answered. When Redis answers NOGROUP (it restarted
//! without its data) the group is recreated. Scripts touch keys they build from the prefix (the
//! budget's evictions), so the queue needs one Redis, not a cluster.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::Duration;

use anyhow::{Context, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamAutoClaimReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Script, Value};
use tokio::sync::watch;

use super::job::{now, JobFailure, JobInput, JobParams, JobResult, JobStatus, State};
use super::metrics::Deltas;
use super::queue_types::{dead_letter_message, CancelOutcome, Claimed, Rules, SubmitError};

const GROUP: &str = "workers";

/// KEYS: stream, job, stats. ARGV: capacity, id, job TTL (s), fields...
const SUBMIT: &str = r#"
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  redis.call('HINCRBYFLOAT', KEYS[3], 'rejected|queue_full', 1)
  return false
end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
local entry = redis.call('XADD', KEYS[1], '*', 'id', ARGV[2])
redis.call('HSET', KEYS[2], 'entry', entry)
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[3], 'jobs|submitted', 1)
return entry
"#;

/// KEYS: job, stream, stats, dead letter stream. ARGV: group, entry, worker, now, max attempts,
/// result TTL (s), channel, dead-letter message, id, job TTL (s). Returns nil (nothing to run), 0 (moved to the
/// dead letter) or the attempt number.
const START: &str = r#"
local s = redis.call('HGET', KEYS[1], 'state')
if (not s) or s == 'succeeded' or s == 'failed' or s == 'cancelled' then
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
  return false
end
local a = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if a >= tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'finished', ARGV[4], 'error', ARGV[8], 'error_client', '0')
  redis.call('HDEL', KEYS[1], 'image', 'mask')
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, '*', 'id', ARGV[9], 'attempts', a, 'last_worker', ARGV[3], 'time', ARGV[4])
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
  redis.call('HINCRBYFLOAT', KEYS[3], 'jobs|failed', 1)
  redis.call('HINCRBYFLOAT', KEYS[3], 'dead_letter', 1)
  redis.call('PUBLISH', ARGV[7], ARGV[9])
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[3], 'started', ARGV[4], 'step', 0)
redis.call('EXPIRE', KEYS[1], ARGV[10])
redis.call('PUBLISH', ARGV[7], ARGV[9])
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
"#;

/// KEYS: job. ARGV: step, steps, worker, channel, id. Returns 0 when the job is no longer this
/// worker's to run (cancelled, or claimed by another worker).
const PROGRESS: &str = r#"
if redis.call('HGET', KEYS[1], 'state') == 'running' and redis.call('HGET', KEYS[1], 'worker') == ARGV[3] then
  redis.call('HSET', KEYS[1], 'step', ARGV[1], 'steps', ARGV[2])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return 1
end
return 0
"#;

/// KEYS: job, stream. ARGV: group, entry, worker. Resets the entry's idle time while the job is
/// still this worker's.
const HEARTBEAT: &str = r#"
if redis.call('HGET', KEYS[1], 'state') == 'running' and redis.call('HGET', KEYS[1], 'worker') == ARGV[3] then
  redis.call('XCLAIM', KEYS[2], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
  return 1
end
return 0
"#;

/// KEYS: job, stream. ARGV: group, entry, worker, idle ms, channel, id. A draining worker hands its
/// job back: queued again, its attempt not counted, its entry idle long enough for the next worker
/// to claim it at once (it keeps its place).
const REQUEUE: &str = r#"
if redis.call('HGET', KEYS[1], 'state') == 'running' and redis.call('HGET', KEYS[1], 'worker') == ARGV[3] then
  redis.call('HSET', KEYS[1], 'state', 'queued', 'step', 0)
  redis.call('HINCRBY', KEYS[1], 'attempts', -1)
  redis.call('XCLAIM', KEYS[2], ARGV[1], ARGV[3], 0, ARGV[2], 'IDLE', ARGV[4], 'JUSTID')
  redis.call('PUBLISH', ARGV[5], ARGV[6])
  return 1
end
return 0
"#;

/// KEYS: job, stream, stats, results (zset id -> finish ms), result sizes (hash), result bytes.
/// ARGV: group, entry, result TTL (s), n field args, fields..., then
/// [now ms, budget, job key prefix, channel, id, bytes], then counter deltas.
const FINISH: &str = r#"
local nf = tonumber(ARGV[4])
local t = 5 + nf
local now_ms, budget, kp, channel, id, bytes = tonumber(ARGV[t]), tonumber(ARGV[t + 1]), ARGV[t + 2], ARGV[t + 3], ARGV[t + 4], tonumber(ARGV[t + 5])
local s = redis.call('HGET', KEYS[1], 'state')
local stored = 0
local function forget(rid)
  local size = tonumber(redis.call('HGET', KEYS[5], rid) or '0')
  redis.call('HDEL', KEYS[5], rid)
  redis.call('ZREM', KEYS[4], rid)
  redis.call('DECRBY', KEYS[6], size)
end
if s == 'queued' or s == 'running' then
  redis.call('HSET', KEYS[1], unpack(ARGV, 5, 4 + nf))
  redis.call('HDEL', KEYS[1], 'image', 'mask')
  redis.call('HINCRBY', KEYS[1], 'stores', 1)
  for i = t + 6, #ARGV, 2 do
    redis.call('HINCRBYFLOAT', KEYS[3], ARGV[i], ARGV[i + 1])
  end
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  if bytes > 0 then
    redis.call('ZADD', KEYS[4], now_ms, id)
    redis.call('HSET', KEYS[5], id, bytes)
    redis.call('INCRBY', KEYS[6], bytes)
  end
  stored = 1
end
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now_ms - 1000 * tonumber(ARGV[3]))) do
  forget(rid)
end
while tonumber(redis.call('GET', KEYS[6]) or '0') > budget and redis.call('ZCARD', KEYS[4]) > 1 do
  local rid = redis.call('ZRANGE', KEYS[4], 0, 0)[1]
  forget(rid)
  redis.call('DEL', kp .. rid)
end
redis.call('PUBLISH', channel, id)
return stored
"#;

/// KEYS: job, stream, stats. ARGV: group, result TTL (s), now, channel, id. A queued job is
/// cancelled; so is a running one (its worker stops at its next step).
const CANCEL: &str = r#"
local s = redis.call('HGET', KEYS[1], 'state')
if not s then return 'missing' end
if s ~= 'queued' and s ~= 'running' then return s end
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry then
  redis.call('XACK', KEYS[2], ARGV[1], entry)
  redis.call('XDEL', KEYS[2], entry)
end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished', ARGV[3])
if s == 'running' then
  redis.call('HSET', KEYS[1], 'error', 'cancelled', 'error_client', '1')
end
redis.call('HDEL', KEYS[1], 'image', 'mask')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('HINCRBYFLOAT', KEYS[3], 'jobs|cancelled', 1)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 'cancelled'
"#;

/// Status fields read for [`JobStatus`].
const STATUS_FIELDS: [&str; 14] = [
    "state",
    "created",
    "started",
    "finished",
    "step",
    "steps",
    "attempts",
    "worker",
    "error",
    "error_client",
    "params",
    "plan",
    "result",
    "stores",
];

/// A worker's own connection (blocking reads must not hold up the shared one).
pub struct RedisLink {
    conn: MultiplexedConnection,
}

/// The queue on one Redis.
pub struct RedisQueue {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    pub rules: Rules,
    /// How long a queued or running job's record lives.
    job_ttl: Duration,
    visibility: Duration,
    draining: AtomicBool,
    /// Bumped on every job change the workers publish (once the listener runs).
    pub(super) changed: watch::Sender<u64>,
    listening: Once,
    submit: Script,
    start: Script,
    progress: Script,
    heartbeat: Script,
    requeue: Script,
    finish: Script,
    cancel: Script,
}

fn to_string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::BulkString(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        Some(Value::SimpleString(s)) => Some(s.clone()),
        Some(Value::Int(i)) => Some(i.to_string()),
        _ => None,
    }
}

/// `url` with its password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((auth, host)) => {
                let user = auth.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where the Redis is and how to reach it.
#[derive(Debug, Clone)]
pub struct RedisTarget {
    /// `redis://`, `rediss://` (TLS), with `user:password@` when Redis asks for them.
    pub url: String,
    /// PEM file of the certificate authority that signed the server's certificate (`rediss://`
    /// with a private CA); None: the system's roots.
    pub ca: Option<std::path::PathBuf>,
}

impl RedisTarget {
    fn client(&self) -> Result<redis::Client> {
        // Both rustls providers are linked (ring for this client, aws-lc-rs for the hub's HTTP
        // client, which names its own), so the process default must be chosen before TLS is used.
        // (ring's provider without the post-quantum key exchange: the one the redis crate's TLS was
        // built and tested with here.)
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let shown = redact(&self.url);
        match &self.ca {
            None => {
                redis::Client::open(self.url.as_str()).with_context(|| format!("--queue {shown}"))
            }
            Some(ca) => {
                let pem = std::fs::read(ca)
                    .with_context(|| format!("--redis-ca {}: cannot read it", ca.display()))?;
                redis::Client::build_with_tls(
                    self.url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )
                .with_context(|| format!("--queue {shown} with --redis-ca {}", ca.display()))
            }
        }
    }
}

impl RedisQueue {
    /// Connects (`redis://HOST:PORT[/DB]`, `rediss://` for TLS, `user:password@` for AUTH) and
    /// creates the stream and its consumer group when they do not exist.
    pub async fn connect(
        target: &RedisTarget,
        prefix: &str,
        rules: Rules,
        job_ttl: Duration,
        visibility: Duration,
    ) -> Result<Self> {
        let client = target.client()?;
        let cfg = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let conn = tokio::time::timeout(
            Duration::from_secs(15),
            client.get_connection_manager_with_config(cfg),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .with_context(|| format!("cannot connect to Redis at {}", redact(&target.url)))?;
        let q = RedisQueue {
            client,
            conn,
            prefix: prefix.to_string(),
            rules,
            job_ttl,
            visibility,
            draining: AtomicBool::new(false),
            changed: watch::channel(0).0,
            listening: Once::new(),
            submit: Script::new(SUBMIT),
            start: Script::new(START),
            progress: Script::new(PROGRESS),
            heartbeat: Script::new(HEARTBEAT),
            requeue: Script::new(REQUEUE),
            finish: Script::new(FINISH),
            cancel: Script::new(CANCEL),
        };
        q.ensure_group().await?;
        Ok(q)
    }

    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Starts (once) the task that turns the workers' pub/sub messages into [`Self::changed`]
    /// bumps, reconnecting when Redis goes away.
    pub fn listen(&self) {
        self.listening.call_once(|| {
            let (client, channel, tx) = (self.client.clone(), self.channel(), self.changed.clone());
            tokio::spawn(async move {
                use futures_util::StreamExt;
                loop {
                    if let Ok(mut ps) = client.get_async_pubsub().await {
                        if ps.subscribe(&channel).await.is_ok() {
                            // Changes made while unsubscribed: every waiter looks again.
                            tx.send_modify(|v| *v += 1);
                            let mut msgs = ps.on_message();
                            while msgs.next().await.is_some() {
                                tx.send_modify(|v| *v += 1);
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        });
    }

    fn channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    fn dead_key(&self) -> String {
        format!("{}:dead", self.prefix)
    }

    /// Creates the consumer group (and the stream) unless it exists: at start, and whenever
    /// Redis answers NOGROUP (it restarted without its data) or readiness is checked.
    pub async fn ensure_group(&self) -> Result<()> {
        let mut c = self.conn.clone();
        let r: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.stream())
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e).context("creating the Redis consumer group"),
        }
    }

    fn stream(&self) -> String {
        format!("{}:queue", self.prefix)
    }

    fn job_key(&self, id: &str) -> String {
        format!("{}:job:{id}", self.prefix)
    }

    fn stats_key(&self) -> String {
        format!("{}:stats", self.prefix)
    }

    pub async fn submit(&self, input: JobInput) -> Result<JobStatus, SubmitError> {
        if self.is_draining() {
            return Err(SubmitError::Backend(anyhow::anyhow!(
                "this server is shutting down and takes no new jobs"
            )));
        }
        let id = super::job::new_id();
        let created = now();
        let status = JobStatus::new(id.clone(), &input, created);
        let params =
            serde_json::to_string(&input.params).map_err(|e| SubmitError::Backend(e.into()))?;
        let plan =
            serde_json::to_string(&input.plan).map_err(|e| SubmitError::Backend(e.into()))?;
        let mut inv = self.submit.prepare_invoke();
        inv.key(self.stream())
            .key(self.job_key(&id))
            .key(self.stats_key())
            .arg(self.rules.capacity)
            .arg(&id)
            .arg(self.job_ttl.as_secs().max(1))
            .arg("state")
            .arg("queued")
            .arg("created")
            .arg(created)
            .arg("attempts")
            .arg(0)
            .arg("params")
            .arg(params)
            .arg("plan")
            .arg(plan)
            .arg("image")
            .arg(&input.image[..]);
        if let Some(m) = &input.mask {
            inv.arg("mask").arg(&m[..]);
        }
        let mut c = self.conn.clone();
        let entry: Option<String> = inv
            .invoke_async(&mut c)
            .await
            .map_err(|e| SubmitError::Backend(anyhow::Error::from(e).context("Redis")))?;
        match entry {
            Some(_) => Ok(status),
            None => Err(SubmitError::Full {
                capacity: self.rules.capacity,
            }),
        }
    }

    pub async fn status(&self, id: &str) -> Result<Option<JobStatus>> {
        let mut c = self.conn.clone();
        let vals: Vec<Value> = redis::cmd("HMGET")
            .arg(self.job_key(id))
            .arg(&STATUS_FIELDS[..])
            .query_async(&mut c)
            .await?;
        let f: HashMap<&str, Option<String>> = STATUS_FIELDS
            .iter()
            .zip(vals.iter())
            .map(|(k, v)| (*k, to_string(Some(v))))
            .collect();
        let get = |k: &str| f.get(k).cloned().flatten();
        let Some(state) = get("state").and_then(|s| State::parse(&s)) else {
            return Ok(None);
        };
        let num = |k: &str| get(k).and_then(|s| s.parse::<u64>().ok());
        let params: JobParams = serde_json::from_str(&get("params").unwrap_or_default())
            .context("job parameters in Redis")?;
        let json = |k: &str| {
            get(k)
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .filter(|v| !v.is_null())
        };
        Ok(Some(JobStatus {
            id: id.to_string(),
            object: "edit".into(),
            status: state,
            created: num("created").unwrap_or(0),
            started: num("started"),
            finished: num("finished"),
            step: num("step").unwrap_or(0) as usize,
            steps: num("steps").unwrap_or(0) as usize,
            attempts: num("attempts").unwrap_or(0) as u32,
            worker: get("worker"),
            error: get("error"),
            error_is_client: get("error_client").as_deref() == Some("1"),
            prompt: params.prompt.clone(),
            recipe: params.recipe.clone(),
            n: params.n,
            plan: json("plan"),
            result: json("result"),
            owner: params.owner.clone(),
            request_id: params.request_id.clone(),
            response_format: Some(params.response_format),
        }))
    }

    pub async fn image(&self, id: &str, index: usize) -> Result<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        let v: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(self.job_key(id))
            .arg(format!("img:{index}"))
            .query_async(&mut c)
            .await?;
        Ok(v)
    }

    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        let mut c = self.conn.clone();
        let r: String = self
            .cancel
            .key(self.job_key(id))
            .key(self.stream())
            .key(self.stats_key())
            .arg(GROUP)
            .arg(self.rules.result_ttl.as_secs().max(1))
            .arg(now())
            .arg(self.channel())
            .arg(id)
            .invoke_async(&mut c)
            .await?;
        Ok(match r.as_str() {
            "cancelled" => CancelOutcome::Cancelled,
            "missing" => CancelOutcome::NotFound,
            s => CancelOutcome::TooLate(State::parse(s).unwrap_or(State::Running)),
        })
    }

    /// (queued, running): stream entries not yet delivered, and delivered but not acknowledged.
    pub async fn depth(&self) -> Result<(u64, u64)> {
        let mut c = self.conn.clone();
        let len: u64 = redis::cmd("XLEN")
            .arg(self.stream())
            .query_async(&mut c)
            .await?;
        let pending: Value = redis::cmd("XPENDING")
            .arg(self.stream())
            .arg(GROUP)
            .query_async(&mut c)
            .await?;
        let running = match pending {
            Value::Array(v) => match v.first() {
                Some(Value::Int(n)) => *n as u64,
                _ => 0,
            },
            _ => 0,
        };
        Ok((len.saturating_sub(running), running))
    }

    pub async fn stats(&self) -> Result<BTreeMap<String, f64>> {
        let mut c = self.conn.clone();
        let m: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.stats_key())
            .query_async(&mut c)
            .await?;
        Ok(m.into_iter()
            .filter_map(|(k, v)| v.parse::<f64>().ok().map(|v| (k, v)))
            .collect())
    }

    /// A worker's own connection, without a response timeout shorter than its blocking reads.
    pub async fn link(&self, _name: &str) -> Result<RedisLink> {
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(30)));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .context("worker connection to Redis")?;
        Ok(RedisLink { conn })
    }

    pub async fn next(
        &self,
        link: &mut RedisLink,
        worker: &str,
        wait: Duration,
    ) -> Result<Option<Claimed>> {
        if self.is_draining() {
            return Ok(None);
        }
        match self.read_entry(link, worker, wait).await {
            Ok(Some(entry)) => self.start_entry(link, worker, entry).await,
            Ok(None) => Ok(None),
            Err(e) if e.code() == Some("NOGROUP") => {
                tracing::warn!(
                    "the consumer group is gone (Redis restarted empty?): recreating it"
                );
                self.ensure_group().await?;
                Ok(None)
            }
            Err(e) => Err(anyhow::Error::from(e).context("reading the queue")),
        }
    }

    /// First an entry whose worker has been silent for the visibility timeout, else a new one.
    async fn read_entry(
        &self,
        link: &mut RedisLink,
        worker: &str,
        wait: Duration,
    ) -> redis::RedisResult<Option<redis::streams::StreamId>> {
        let claimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(self.stream())
            .arg(GROUP)
            .arg(worker)
            .arg(self.visibility.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut link.conn)
            .await?;
        if let Some(e) = claimed.claimed.into_iter().next() {
            return Ok(Some(e));
        }
        let read: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(worker)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(wait.as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(self.stream())
            .arg(">")
            .query_async(&mut link.conn)
            .await?;
        Ok(read.and_then(|r| r.keys.into_iter().next()?.ids.into_iter().next()))
    }

    /// Marks the entry's job running (or moves it to the dead letter) and reads its input.
    async fn start_entry(
        &self,
        link: &mut RedisLink,
        worker: &str,
        entry: redis::streams::StreamId,
    ) -> Result<Option<Claimed>> {
        let id = to_string(entry.map.get("id")).unwrap_or_default();
        if !super::job::valid_id(&id) {
            // Not one of ours: drop it so that it does not come back.
            let _: () = redis::pipe()
                .cmd("XACK")
                .arg(self.stream())
                .arg(GROUP)
                .arg(&entry.id)
                .ignore()
                .cmd("XDEL")
                .arg(self.stream())
                .arg(&entry.id)
                .ignore()
                .query_async(&mut link.conn)
                .await?;
            tracing::warn!(entry = entry.id, "dropped a queue entry without a job id");
            return Ok(None);
        }
        let attempt: Option<u32> = self
            .start
            .key(self.job_key(&id))
            .key(self.stream())
            .key(self.stats_key())
            .key(self.dead_key())
            .arg(GROUP)
            .arg(&entry.id)
            .arg(worker)
            .arg(now())
            .arg(self.rules.max_attempts)
            .arg(self.rules.result_ttl.as_secs().max(1))
            .arg(self.channel())
            .arg(dead_letter_message(self.rules.max_attempts))
            .arg(&id)
            .arg(self.job_ttl.as_secs().max(1))
            .invoke_async(&mut link.conn)
            .await
            .context("starting a job")?;
        let attempt = match attempt {
            // Finished, cancelled or expired: acknowledged by the script.
            None => return Ok(None),
            Some(0) => {
                tracing::warn!(
                    job = id,
                    "moved to the dead letter after {} attempts",
                    self.rules.max_attempts
                );
                return Ok(None);
            }
            Some(a) => a,
        };
        let (params, image, mask, plan): (
            Option<String>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<String>,
        ) = redis::cmd("HMGET")
            .arg(self.job_key(&id))
            .arg("params")
            .arg("image")
            .arg("mask")
            .arg("plan")
            .query_async(&mut link.conn)
            .await?;
        let params: JobParams = serde_json::from_str(&params.unwrap_or_default())
            .with_context(|| format!("job {id}: parameters in Redis"))?;
        let input = JobInput {
            params,
            image: image.unwrap_or_default(),
            mask,
            plan: plan.and_then(|p| serde_json::from_str(&p).ok()),
        };
        Ok(Some(Claimed {
            id,
            input,
            entry: Some(entry.id),
            attempt,
        }))
    }

    /// Records progress; false when the job is no longer this worker's (cancelled, claimed by
    /// another after this one stalled).
    pub async fn progress(
        &self,
        id: &str,
        worker: &str,
        step: usize,
        steps: usize,
    ) -> Result<bool> {
        let mut c = self.conn.clone();
        let going: i64 = self
            .progress
            .key(self.job_key(id))
            .arg(step)
            .arg(steps)
            .arg(worker)
            .arg(self.channel())
            .arg(id)
            .invoke_async(&mut c)
            .await?;
        Ok(going == 1)
    }

    /// Resets the entry's idle time (only while the job is still this worker's).
    pub async fn heartbeat(&self, link: &mut RedisLink, worker: &str, job: &Claimed) -> Result<()> {
        let Some(entry) = &job.entry else {
            return Ok(());
        };
        let _: i64 = self
            .heartbeat
            .key(self.job_key(&job.id))
            .key(self.stream())
            .arg(GROUP)
            .arg(entry)
            .arg(worker)
            .invoke_async(&mut link.conn)
            .await?;
        Ok(())
    }

    /// Hands a running job back (draining): the next worker claims it at once.
    pub async fn requeue(&self, job: &Claimed, worker: &str) -> Result<()> {
        let Some(entry) = &job.entry else {
            return Ok(());
        };
        let mut c = self.conn.clone();
        let _: i64 = self
            .requeue
            .key(self.job_key(&job.id))
            .key(self.stream())
            .arg(GROUP)
            .arg(entry)
            .arg(worker)
            .arg(self.visibility.as_millis() as u64 * 10 + 1000)
            .arg(self.channel())
            .arg(&job.id)
            .invoke_async(&mut c)
            .await?;
        Ok(())
    }

    pub async fn finish(
        &self,
        job: &Claimed,
        outcome: &std::result::Result<JobResult, JobFailure>,
        deltas: Deltas,
    ) -> Result<bool> {
        let entry = job.entry.clone().unwrap_or_default();
        let mut fields: Vec<(String, Vec<u8>)> =
            vec![("finished".into(), now().to_string().into_bytes())];
        let mut bytes = 0u64;
        match outcome {
            Ok(r) => {
                fields.push(("state".into(), b"succeeded".to_vec()));
                fields.push(("result".into(), serde_json::to_vec(&r.report)?));
                for (i, img) in r.images.iter().enumerate() {
                    fields.push((format!("img:{i}"), img.clone()));
                    bytes += img.len() as u64;
                }
            }
            Err(f) => {
                fields.push(("state".into(), b"failed".to_vec()));
                fields.push(("error".into(), f.message.clone().into_bytes()));
                fields.push((
                    "error_client".into(),
                    if f.client {
                        b"1".to_vec()
                    } else {
                        b"0".to_vec()
                    },
                ));
            }
        }
        let mut inv = self.finish.prepare_invoke();
        inv.key(self.job_key(&job.id))
            .key(self.stream())
            .key(self.stats_key())
            .key(format!("{}:results", self.prefix))
            .key(format!("{}:result_sizes", self.prefix))
            .key(format!("{}:result_bytes", self.prefix))
            .arg(GROUP)
            .arg(&entry)
            .arg(self.rules.result_ttl.as_secs().max(1))
            .arg(fields.len() * 2);
        for (k, v) in &fields {
            inv.arg(k).arg(&v[..]);
        }
        inv.arg(millis())
            .arg(self.rules.result_budget)
            .arg(format!("{}:job:", self.prefix))
            .arg(self.channel())
            .arg(&job.id)
            .arg(bytes);
        for (k, v) in &deltas {
            inv.arg(k).arg(v);
        }
        let mut c = self.conn.clone();
        let stored: i64 = inv.invoke_async(&mut c).await.context("storing a result")?;
        Ok(stored == 1)
    }
}
