//! The job queue on Redis Streams, for workers on several machines.
//!
//! Keys (under a prefix, `physedit` by default):
//! * `{prefix}:queue` — a stream with one entry per accepted job (`id` field), read by the consumer
//!   group `workers` (`XREADGROUP`); its length is the number of unfinished jobs (an entry is
//!   deleted when its job finishes or is cancelled), which bounds the queue;
//! * `{prefix}:job:{id}` — a hash per job: its state, progress, parameters, the uploaded picture
//!   until the job finishes, then the pictures (`img:0`, ...) and the report, expiring after the
//!   result TTL;
//! * `{prefix}:stats` — counters shared by every process (jobs by outcome, edit seconds, FLOPs).
//!
//! A worker claims an entry, marks the job running, runs it, then stores the outcome and
//! acknowledges the entry (`XACK`) in one script, so an entry is never acknowledged before its
//! result is stored. While it runs, the worker resets the entry's idle time every quarter of the
//! visibility timeout; a worker that dies leaves its entry pending and idle, and the next worker
//! looking for work claims it with `XAUTOCLAIM` once the visibility timeout has passed and reruns
//! it. The store script refuses a second outcome for a job, so a rerun (of a job whose first
//! worker was only slow) cannot give a second answer. Jobs are at-least-once executed and
//! exactly-once answered. Progress and state are read by polling the job's hash (every 20 ms).
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamAutoClaimReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Script, Value};

use super::job::{now, JobFailure, JobInput, JobParams, JobResult, JobStatus, State};
use super::metrics::Deltas;
use super::queue::{CancelOutcome, Claimed, SubmitError};

const GROUP: &str = "workers";

const SUBMIT: &str = r#"
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  redis.call('HINCRBYFLOAT', KEYS[3], 'rejected|queue_full', 1)
  return false
end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
local entry = redis.call('XADD', KEYS[1], '*', 'id', ARGV[2])
redis.call('HSET', KEYS[2], 'entry', entry)
redis.call('HINCRBYFLOAT', KEYS[3], 'jobs|submitted', 1)
return entry
"#;

const START: &str = r#"
local s = redis.call('HGET', KEYS[1], 'state')
if (not s) or s == 'succeeded' or s == 'failed' or s == 'cancelled' then
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
  return false
end
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[3], 'started', ARGV[4], 'step', 0)
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
"#;

const PROGRESS: &str = r#"
if redis.call('HGET', KEYS[1], 'state') == 'running' then
  redis.call('HSET', KEYS[1], 'step', ARGV[1], 'steps', ARGV[2])
end
return 1
"#;

const FINISH: &str = r#"
local s = redis.call('HGET', KEYS[1], 'state')
local stored = 0
if s == 'queued' or s == 'running' then
  local nf = tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], unpack(ARGV, 5, 4 + nf))
  redis.call('HDEL', KEYS[1], 'image', 'mask')
  redis.call('HINCRBY', KEYS[1], 'stores', 1)
  for i = 5 + nf, #ARGV, 2 do
    redis.call('HINCRBYFLOAT', KEYS[3], ARGV[i], ARGV[i + 1])
  end
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  stored = 1
end
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
return stored
"#;

const CANCEL: &str = r#"
local s = redis.call('HGET', KEYS[1], 'state')
if not s then return 'missing' end
if s ~= 'queued' then return s end
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry then
  redis.call('XACK', KEYS[2], ARGV[1], entry)
  redis.call('XDEL', KEYS[2], entry)
end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished', ARGV[3])
redis.call('HDEL', KEYS[1], 'image', 'mask')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('HINCRBYFLOAT', KEYS[3], 'jobs|cancelled', 1)
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
    pub capacity: usize,
    ttl: Duration,
    visibility: Duration,
    submit: Script,
    start: Script,
    progress: Script,
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

impl RedisQueue {
    /// Connects to `url` (`redis://HOST:PORT[/DB]`) and creates the stream and its consumer group
    /// when they do not exist.
    pub async fn connect(
        url: &str,
        prefix: &str,
        capacity: usize,
        ttl: Duration,
        visibility: Duration,
    ) -> Result<Self> {
        let client = redis::Client::open(url).with_context(|| format!("--queue {url}"))?;
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
        .with_context(|| format!("cannot connect to Redis at {url}"))?;
        let q = RedisQueue {
            client,
            conn,
            prefix: prefix.to_string(),
            capacity,
            ttl,
            visibility,
            submit: Script::new(SUBMIT),
            start: Script::new(START),
            progress: Script::new(PROGRESS),
            finish: Script::new(FINISH),
            cancel: Script::new(CANCEL),
        };
        q.ensure_group().await?;
        Ok(q)
    }

    async fn ensure_group(&self) -> Result<()> {
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

    pub async fn ping(&self) -> Result<()> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    pub async fn submit(&self, input: JobInput) -> Result<JobStatus, SubmitError> {
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
            .arg(self.capacity)
            .arg(&id)
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
                capacity: self.capacity,
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
            .arg(self.ttl.as_secs().max(1))
            .arg(now())
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
        // First a job whose worker has been silent for the visibility timeout.
        let claimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(self.stream())
            .arg(GROUP)
            .arg(worker)
            .arg(self.visibility.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut link.conn)
            .await
            .context("XAUTOCLAIM")?;
        let mut entry = claimed.claimed.into_iter().next();
        if entry.is_none() {
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
                .await
                .context("XREADGROUP")?;
            entry = read.and_then(|r| r.keys.into_iter().next()?.ids.into_iter().next());
        }
        let Some(entry) = entry else {
            return Ok(None);
        };
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
            .arg(GROUP)
            .arg(&entry.id)
            .arg(worker)
            .arg(now())
            .invoke_async(&mut link.conn)
            .await
            .context("starting a job")?;
        let Some(attempt) = attempt else {
            // Finished, cancelled or expired: acknowledged by the script.
            return Ok(None);
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

    pub async fn progress(&self, id: &str, step: usize, steps: usize) -> Result<()> {
        let mut c = self.conn.clone();
        let _: i64 = self
            .progress
            .key(self.job_key(id))
            .arg(step)
            .arg(steps)
            .invoke_async(&mut c)
            .await?;
        Ok(())
    }

    pub async fn heartbeat(&self, link: &mut RedisLink, worker: &str, job: &Claimed) -> Result<()> {
        let Some(entry) = &job.entry else {
            return Ok(());
        };
        let _: Value = redis::cmd("XCLAIM")
            .arg(self.stream())
            .arg(GROUP)
            .arg(worker)
            .arg(0)
            .arg(entry)
            .arg("JUSTID")
            .query_async(&mut link.conn)
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
        match outcome {
            Ok(r) => {
                fields.push(("state".into(), b"succeeded".to_vec()));
                fields.push(("result".into(), serde_json::to_vec(&r.report)?));
                for (i, img) in r.images.iter().enumerate() {
                    fields.push((format!("img:{i}"), img.clone()));
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
            .arg(GROUP)
            .arg(&entry)
            .arg(self.ttl.as_secs().max(1))
            .arg(fields.len() * 2);
        for (k, v) in &fields {
            inv.arg(k).arg(&v[..]);
        }
        for (k, v) in &deltas {
            inv.arg(k).arg(v);
        }
        let mut c = self.conn.clone();
        let stored: i64 = inv.invoke_async(&mut c).await.context("storing a result")?;
        Ok(stored == 1)
    }
}
