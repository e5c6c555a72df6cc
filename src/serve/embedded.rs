//! The embedded queue: in the `serve` process, nothing else to start, durable in one `redb` file
//! (`DIR/queue.redb`, `--state DIR`).
//!
//! Every accepted job, its uploaded pictures, every change of state and every outcome is committed
//! (fsync) before it is acknowledged, so a crash or SIGKILL loses no job the client was told about:
//! at the next start, queued jobs run and jobs that were running rerun (their attempt counted), and
//! finished jobs keep their pictures until their TTL. Progress (the step counter) lives in memory
//! only. Statuses are mirrored in memory; pictures are read from the file when asked for.
//!
//! Limits, stated: one process owns a state directory at a time (the file is locked; a second
//! `serve` on it stops with an error). A job that keeps killing the process is failed after
//! `--max-attempts` claims (the dead letter), so a poison job cannot crash every restart.
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use super::job::{now, JobFailure, JobInput, JobParams, JobResult, JobStatus, State};
use super::metrics::{self, Deltas};
use super::queue_types::{
    dead_letter_message, CancelOutcome, Claimed, Rules, SubmitError, CANCELLED_MESSAGE,
};

/// Job id -> [`Meta`] as JSON.
const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
/// `ID/in`, `ID/mask`, `ID/out/I` -> picture bytes.
const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
/// Counter name -> value (the metrics' sums).
const STATS: TableDefinition<&str, f64> = TableDefinition::new("stats");

type Table<'t> = redb::Table<'t, &'static str, &'static [u8]>;

/// What the file keeps of a job besides its pictures.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    /// Acceptance order.
    seq: u64,
    status: JobStatus,
    params: JobParams,
    has_mask: bool,
    /// Bytes of the result pictures.
    result_bytes: u64,
}

#[derive(Default)]
struct Inner {
    /// Queued jobs, oldest first.
    order: VecDeque<String>,
    jobs: HashMap<String, Meta>,
    /// Finished jobs, in finishing order (for the TTL and the byte budget).
    finished: VecDeque<String>,
    result_bytes: u64,
    stats: BTreeMap<String, f64>,
    /// Queued and running jobs.
    active: usize,
    next_seq: u64,
}

impl Inner {
    fn add(&mut self, deltas: &Deltas) {
        for (k, v) in deltas {
            *self.stats.entry(k.clone()).or_insert(0.0) += v;
        }
    }

    fn finished(&mut self, id: &str) {
        self.active = self.active.saturating_sub(1);
        self.finished.push_back(id.to_string());
    }

    /// Finished jobs past their TTL, then the oldest results while over the byte budget.
    fn expired(&mut self, rules: &Rules) -> Vec<Meta> {
        let now = now();
        let mut gone = Vec::new();
        while let Some(id) = self.finished.front() {
            let Some(m) = self.jobs.get(id) else {
                self.finished.pop_front();
                continue;
            };
            let done = m.status.finished.unwrap_or(0);
            let stale = done + rules.result_ttl.as_secs() <= now;
            let over = self.result_bytes > rules.result_budget && self.finished.len() > 1;
            if !(stale || over) {
                break;
            }
            let id = self.finished.pop_front().unwrap();
            if let Some(m) = self.jobs.remove(&id) {
                self.result_bytes -= m.result_bytes.min(self.result_bytes);
                gone.push(m);
            }
        }
        gone
    }
}

fn blob(id: &str, what: &str) -> String {
    format!("{id}/{what}")
}

fn out_blob(id: &str, i: usize) -> String {
    blob(id, &format!("out/{i}"))
}

/// The in-process queue.
pub struct Embedded {
    inner: Mutex<Inner>,
    db: Database,
    work: Notify,
    pub(super) changed: watch::Sender<u64>,
    pub rules: Rules,
    draining: AtomicBool,
}

impl Embedded {
    /// Opens (or creates) `dir/queue.redb` and takes up its jobs: queued and interrupted ones go
    /// back in the queue in their order, finished ones are kept until their TTL.
    pub fn open(dir: &Path, rules: Rules) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--state {}: cannot create the directory", dir.display()))?;
        let path = dir.join("queue.redb");
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => anyhow::anyhow!(
                "--state {}: the queue file {} is in use by another process (one `physedit serve` per state directory)",
                dir.display(),
                path.display()
            ),
            e => anyhow::Error::from(e)
                .context(format!("--state {}: cannot open {}", dir.display(), path.display())),
        })?;
        let q = Embedded {
            inner: Mutex::new(Inner::default()),
            db,
            work: Notify::new(),
            changed: watch::channel(0).0,
            rules,
            draining: AtomicBool::new(false),
        };
        q.load()
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(q)
    }

    fn load(&self) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut jobs = tx.open_table(JOBS)?;
            tx.open_table(BLOBS)?;
            let stats = tx.open_table(STATS)?;
            let mut g = self.inner.lock().unwrap();
            for row in stats.iter()? {
                let (k, v) = row?;
                g.stats.insert(k.value().to_string(), v.value());
            }
            let mut metas = Vec::new();
            for row in jobs.iter()? {
                let (_, v) = row?;
                match serde_json::from_slice::<Meta>(v.value()) {
                    Ok(m) => metas.push(m),
                    Err(e) => tracing::warn!("skipping an unreadable job record: {e}"),
                }
            }
            metas.sort_by_key(|m| m.seq);
            let mut finished = Vec::new();
            for mut m in metas {
                g.next_seq = g.next_seq.max(m.seq + 1);
                let id = m.status.id.clone();
                match m.status.status {
                    State::Queued | State::Running => {
                        if m.status.status == State::Running {
                            tracing::info!(job = id, "rerunning a job interrupted by a stop");
                            m.status.status = State::Queued;
                            m.status.step = 0;
                            jobs.insert(id.as_str(), serde_json::to_vec(&m)?.as_slice())?;
                        }
                        g.order.push_back(id.clone());
                        g.active += 1;
                    }
                    _ => {
                        g.result_bytes += m.result_bytes;
                        finished.push((m.status.finished.unwrap_or(0), m.seq, id.clone()));
                    }
                }
                g.jobs.insert(id, m);
            }
            finished.sort();
            g.finished = finished.into_iter().map(|(_, _, id)| id).collect();
        }
        tx.commit()?;
        Ok(())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// One write transaction: `f` on the tables, counters added, then committed (fsync unless
    /// `durable` is false: then it reaches the disk with the next durable commit).
    fn write(
        &self,
        durable: bool,
        deltas: &Deltas,
        f: impl FnOnce(&mut Table<'_>, &mut Table<'_>) -> Result<()>,
        stats: &BTreeMap<String, f64>,
    ) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        if !durable {
            tx.set_durability(Durability::None)?;
        }
        {
            let mut jobs = tx.open_table(JOBS)?;
            let mut blobs = tx.open_table(BLOBS)?;
            f(&mut jobs, &mut blobs)?;
            let mut st = tx.open_table(STATS)?;
            for (k, _) in deltas {
                st.insert(k.as_str(), stats.get(k).copied().unwrap_or(0.0))?;
            }
        }
        tx.commit().context("committing to the queue file")?;
        Ok(())
    }

    /// Forgets expired and over-budget results, in the file too.
    fn expire(&self, g: &mut Inner) -> Result<()> {
        let gone = g.expired(&self.rules);
        if gone.is_empty() {
            return Ok(());
        }
        self.write(
            true,
            &Vec::new(),
            |jobs, blobs| {
                for m in &gone {
                    let id = m.status.id.as_str();
                    jobs.remove(id)?;
                    blobs.remove(blob(id, "in").as_str())?;
                    blobs.remove(blob(id, "mask").as_str())?;
                    for i in 0..m.params.n {
                        blobs.remove(out_blob(id, i).as_str())?;
                    }
                }
                Ok(())
            },
            &g.stats,
        )
    }

    fn put_meta(jobs: &mut Table<'_>, m: &Meta) -> Result<()> {
        jobs.insert(m.status.id.as_str(), serde_json::to_vec(m)?.as_slice())?;
        Ok(())
    }

    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn submit(&self, input: JobInput) -> Result<JobStatus, SubmitError> {
        if self.is_draining() {
            return Err(SubmitError::Backend(anyhow::anyhow!(
                "this server is shutting down and takes no new jobs"
            )));
        }
        let mut g = self.inner.lock().unwrap();
        if let Err(e) = self.expire(&mut g) {
            tracing::warn!("expiring results: {e:#}");
        }
        if g.active >= self.rules.capacity {
            let d = metrics::rejected();
            g.add(&d);
            if let Err(e) = self.write(false, &d, |_, _| Ok(()), &g.stats) {
                tracing::warn!("counting a rejection: {e:#}");
            }
            return Err(SubmitError::Full {
                capacity: self.rules.capacity,
            });
        }
        let id = super::job::new_id();
        let meta = Meta {
            seq: g.next_seq,
            status: JobStatus::new(id.clone(), &input, now()),
            params: input.params.clone(),
            has_mask: input.mask.is_some(),
            result_bytes: 0,
        };
        let d = metrics::submitted();
        let mut stats = g.stats.clone();
        for (k, v) in &d {
            *stats.entry(k.clone()).or_insert(0.0) += v;
        }
        self.write(
            true,
            &d,
            |jobs, blobs| {
                Self::put_meta(jobs, &meta)?;
                blobs.insert(blob(&id, "in").as_str(), input.image.as_slice())?;
                if let Some(m) = &input.mask {
                    blobs.insert(blob(&id, "mask").as_str(), m.as_slice())?;
                }
                Ok(())
            },
            &stats,
        )
        .map_err(|e| SubmitError::Backend(e.context("storing the job")))?;
        g.stats = stats;
        g.next_seq += 1;
        let status = meta.status.clone();
        g.jobs.insert(id.clone(), meta);
        g.order.push_back(id);
        g.active += 1;
        drop(g);
        self.work.notify_one();
        self.bump();
        Ok(status)
    }

    pub fn status(&self, id: &str) -> Option<JobStatus> {
        let mut g = self.inner.lock().unwrap();
        if let Err(e) = self.expire(&mut g) {
            tracing::warn!("expiring results: {e:#}");
        }
        g.jobs.get(id).map(|m| m.status.clone())
    }

    pub fn image(&self, id: &str, index: usize) -> Result<Option<Vec<u8>>> {
        if !self.inner.lock().unwrap().jobs.contains_key(id) {
            return Ok(None);
        }
        let tx = self.db.begin_read()?;
        let blobs = tx.open_table(BLOBS)?;
        let png = blobs
            .get(out_blob(id, index).as_str())?
            .map(|v| v.value().to_vec());
        Ok(png)
    }

    pub fn stats(&self) -> BTreeMap<String, f64> {
        self.inner.lock().unwrap().stats.clone()
    }

    /// Marks a job finished as `change` says (in memory and in the file, with its result pictures
    /// `images`), with `deltas` counted.
    fn conclude(
        &self,
        g: &mut Inner,
        id: &str,
        change: impl FnOnce(&mut Meta),
        deltas: Deltas,
        images: &[Vec<u8>],
    ) -> Result<()> {
        let mut m = g.jobs.get(id).cloned().context("no such job")?;
        m.status.finished = Some(now());
        change(&mut m);
        let mut stats = g.stats.clone();
        for (k, v) in &deltas {
            *stats.entry(k.clone()).or_insert(0.0) += v;
        }
        self.write(
            true,
            &deltas,
            |jobs, blobs| {
                Self::put_meta(jobs, &m)?;
                blobs.remove(blob(id, "in").as_str())?;
                blobs.remove(blob(id, "mask").as_str())?;
                for (i, png) in images.iter().enumerate() {
                    blobs.insert(out_blob(id, i).as_str(), png.as_slice())?;
                }
                Ok(())
            },
            &stats,
        )?;
        g.stats = stats;
        g.result_bytes += m.result_bytes;
        g.jobs.insert(id.to_string(), m);
        g.finished(id);
        Ok(())
    }

    pub fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        let mut g = self.inner.lock().unwrap();
        let state = match g.jobs.get(id) {
            None => return Ok(CancelOutcome::NotFound),
            Some(m) => m.status.status,
        };
        if state.is_terminal() {
            return Ok(CancelOutcome::TooLate(state));
        }
        // A running job: its worker sees the state at its next step and stops.
        self.conclude(
            &mut g,
            id,
            |m| {
                m.status.status = State::Cancelled;
                if state == State::Running {
                    m.status.error = Some(CANCELLED_MESSAGE.into());
                    m.status.error_is_client = true;
                }
            },
            metrics::cancelled(),
            &[],
        )?;
        g.order.retain(|j| j != id);
        drop(g);
        self.bump();
        Ok(CancelOutcome::Cancelled)
    }

    /// Jobs ahead of a queued job (None when it is not queued).
    pub fn position(&self, id: &str) -> Option<usize> {
        self.inner
            .lock()
            .unwrap()
            .order
            .iter()
            .position(|j| j == id)
    }

    pub fn depth(&self) -> (u64, u64) {
        let g = self.inner.lock().unwrap();
        let queued = g.order.len() as u64;
        (queued, (g.active as u64).saturating_sub(queued))
    }

    /// The oldest queued job, marked running (committed), or None after `wait`.
    pub async fn next(&self, worker: &str, wait: Duration) -> Result<Option<Claimed>> {
        let deadline = Instant::now() + wait;
        loop {
            if self.is_draining() {
                return Ok(None);
            }
            if let Some(c) = self.claim(worker)? {
                self.bump();
                return Ok(Some(c));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let _ = tokio::time::timeout(left, self.work.notified()).await;
        }
    }

    fn claim(&self, worker: &str) -> Result<Option<Claimed>> {
        let mut g = self.inner.lock().unwrap();
        while let Some(id) = g.order.pop_front() {
            let Some(m) = g.jobs.get(&id).cloned() else {
                continue;
            };
            if m.status.status != State::Queued {
                continue;
            }
            if m.status.attempts >= self.rules.max_attempts {
                tracing::warn!(
                    job = id,
                    attempts = m.status.attempts,
                    "moved to the dead letter"
                );
                let d = metrics::dead_lettered();
                self.conclude(
                    &mut g,
                    &id,
                    |m| {
                        m.status.status = State::Failed;
                        m.status.error = Some(dead_letter_message(m.status.attempts));
                    },
                    d,
                    &[],
                )?;
                continue;
            }
            let mut m = m;
            m.status.status = State::Running;
            m.status.started = Some(now());
            m.status.attempts += 1;
            m.status.step = 0;
            m.status.worker = Some(worker.to_string());
            let input = self.read_input(&m)?;
            if let Err(e) = self.write(
                true,
                &Vec::new(),
                |jobs, _| Self::put_meta(jobs, &m),
                &g.stats,
            ) {
                g.order.push_front(id);
                return Err(e);
            }
            let attempt = m.status.attempts;
            g.jobs.insert(id.clone(), m);
            return Ok(Some(Claimed {
                id,
                input,
                entry: None,
                attempt,
            }));
        }
        Ok(None)
    }

    fn read_input(&self, m: &Meta) -> Result<JobInput> {
        let id = &m.status.id;
        let tx = self.db.begin_read()?;
        let blobs = tx.open_table(BLOBS)?;
        let get = |k: String| -> Result<Option<Vec<u8>>> {
            Ok(blobs.get(k.as_str())?.map(|v| v.value().to_vec()))
        };
        let image = get(blob(id, "in"))?
            .with_context(|| format!("job {id}: its picture is missing from the queue file"))?;
        let mask = if m.has_mask {
            get(blob(id, "mask"))?
        } else {
            None
        };
        Ok(JobInput {
            params: m.params.clone(),
            image,
            mask,
            plan: m.status.plan.clone(),
        })
    }

    /// Records progress; false when the job is no longer this run's to continue (cancelled).
    pub fn progress(&self, id: &str, step: usize, steps: usize) -> bool {
        let mut g = self.inner.lock().unwrap();
        let going = match g.jobs.get_mut(id) {
            Some(m) if m.status.status == State::Running => {
                m.status.step = step;
                m.status.steps = steps;
                true
            }
            _ => false,
        };
        drop(g);
        self.bump();
        going
    }

    /// Puts a running job back at the head of the queue, its attempt not counted (a drain).
    pub fn requeue(&self, id: &str) -> Result<()> {
        let mut g = self.inner.lock().unwrap();
        let Some(mut m) = g.jobs.get(id).cloned() else {
            return Ok(());
        };
        if m.status.status != State::Running {
            return Ok(());
        }
        m.status.status = State::Queued;
        m.status.step = 0;
        m.status.attempts = m.status.attempts.saturating_sub(1);
        self.write(
            true,
            &Vec::new(),
            |jobs, _| Self::put_meta(jobs, &m),
            &g.stats,
        )?;
        g.jobs.insert(id.to_string(), m);
        g.order.push_front(id.to_string());
        drop(g);
        self.bump();
        Ok(())
    }

    /// Stores the outcome; false when the job already had one (it was cancelled).
    pub fn finish(
        &self,
        id: &str,
        outcome: &std::result::Result<JobResult, JobFailure>,
        deltas: Deltas,
    ) -> Result<bool> {
        let mut g = self.inner.lock().unwrap();
        match g.jobs.get(id) {
            Some(m) if !m.status.status.is_terminal() => {}
            _ => return Ok(false),
        }
        let images: &[Vec<u8>] = outcome.as_ref().map(|r| &r.images[..]).unwrap_or(&[]);
        self.conclude(
            &mut g,
            id,
            |m| match outcome {
                Ok(r) => {
                    m.status.status = State::Succeeded;
                    m.status.step = m.status.steps.max(m.status.step);
                    m.status.result = Some(r.report.clone());
                    m.result_bytes = r.images.iter().map(|i| i.len() as u64).sum();
                }
                Err(f) => {
                    m.status.status = State::Failed;
                    m.status.error = Some(f.message.clone());
                    m.status.error_is_client = f.client;
                }
            },
            deltas,
            images,
        )?;
        if let Err(e) = self.expire(&mut g) {
            tracing::warn!("expiring results: {e:#}");
        }
        drop(g);
        self.bump();
        Ok(true)
    }
}
