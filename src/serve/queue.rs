//! The job queue: bounded, first in first out, one job at a time per worker. Two backends behind
//! one type: [`Embedded`] (in the `serve` process: nothing else to start, jobs lost when the
//! process stops) and [`super::redis_queue::RedisQueue`] (a Redis Stream read by a consumer group:
//! workers on any machine, jobs survive a worker's death).
//!
//! A job counts against the capacity from the moment it is accepted until it finishes (queued or
//! running); past it, `submit` answers [`SubmitError::Full`]. Finished jobs (their pictures and
//! reports) are kept for the result TTL, then forgotten.
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::{watch, Notify};

use super::job::{now, JobFailure, JobInput, JobResult, JobStatus, State};
use super::metrics::{self, Deltas, Gauges};
use super::redis_queue::{RedisLink, RedisQueue};

/// Why a job was not accepted.
#[derive(Debug)]
pub enum SubmitError {
    /// The queue holds `capacity` unfinished jobs.
    Full { capacity: usize },
    /// The backend failed (Redis unreachable).
    Backend(anyhow::Error),
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    NotFound,
    /// The job is past the queue (running or finished): it cannot be cancelled.
    TooLate(State),
}

/// A job a worker took.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub input: JobInput,
    /// The Redis Stream entry (None for the embedded queue).
    pub entry: Option<String>,
    /// 1 the first time the job runs, 2 when a worker reruns it after another died in it.
    pub attempt: u32,
}

/// A worker's connection to the queue (Redis: its own connection for blocking reads).
pub enum WorkerLink {
    Embedded,
    Redis(RedisLink),
}

/// Wakes a waiter when a job may have changed.
pub enum Watcher {
    Embedded(watch::Receiver<u64>),
    /// Redis: polled.
    Poll(Duration),
}

impl Watcher {
    /// Returns after a change (embedded) or one poll interval (Redis), at most `timeout`.
    pub async fn changed(&mut self, timeout: Duration) {
        match self {
            Watcher::Embedded(rx) => {
                let _ = tokio::time::timeout(timeout, rx.changed()).await;
            }
            Watcher::Poll(d) => tokio::time::sleep((*d).min(timeout)).await,
        }
    }
}

/// The queue, whichever backend.
#[derive(Clone)]
pub enum Queue {
    Embedded(Arc<Embedded>),
    Redis(Arc<RedisQueue>),
}

impl Queue {
    pub fn capacity(&self) -> usize {
        match self {
            Queue::Embedded(q) => q.capacity,
            Queue::Redis(q) => q.capacity,
        }
    }

    /// Accepts a job or refuses it when the queue is full.
    pub async fn submit(&self, input: JobInput) -> Result<JobStatus, SubmitError> {
        match self {
            Queue::Embedded(q) => q.submit(input),
            Queue::Redis(q) => q.submit(input).await,
        }
    }

    pub async fn status(&self, id: &str) -> Result<Option<JobStatus>> {
        match self {
            Queue::Embedded(q) => Ok(q.status(id)),
            Queue::Redis(q) => q.status(id).await,
        }
    }

    /// Picture `index` of a finished job (PNG).
    pub async fn image(&self, id: &str, index: usize) -> Result<Option<Vec<u8>>> {
        match self {
            Queue::Embedded(q) => Ok(q.image(id, index)),
            Queue::Redis(q) => q.image(id, index).await,
        }
    }

    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        match self {
            Queue::Embedded(q) => Ok(q.cancel(id)),
            Queue::Redis(q) => q.cancel(id).await,
        }
    }

    pub fn watcher(&self) -> Watcher {
        match self {
            Queue::Embedded(q) => Watcher::Embedded(q.changed.subscribe()),
            Queue::Redis(_) => Watcher::Poll(Duration::from_millis(20)),
        }
    }

    /// (queued, running) now.
    pub async fn depth(&self) -> Result<(u64, u64)> {
        match self {
            Queue::Embedded(q) => Ok(q.depth()),
            Queue::Redis(q) => q.depth().await,
        }
    }

    pub async fn stats(&self) -> Result<BTreeMap<String, f64>> {
        match self {
            Queue::Embedded(q) => Ok(q.inner.lock().unwrap().stats.clone()),
            Queue::Redis(q) => q.stats().await,
        }
    }

    /// Whether the backend answers.
    pub async fn ping(&self) -> Result<()> {
        match self {
            Queue::Embedded(_) => Ok(()),
            Queue::Redis(q) => q.ping().await,
        }
    }

    pub async fn gauges(&self, ready: bool, local_workers: u64) -> Result<Gauges> {
        let (queued, running) = self.depth().await?;
        Ok(Gauges {
            queued,
            running,
            capacity: self.capacity() as u64,
            ready,
            local_workers,
        })
    }

    // ---- the worker's side ----

    pub async fn worker_link(&self, name: &str) -> Result<WorkerLink> {
        match self {
            Queue::Embedded(_) => Ok(WorkerLink::Embedded),
            Queue::Redis(q) => Ok(WorkerLink::Redis(q.link(name).await?)),
        }
    }

    /// The next job (the oldest; with Redis first a job whose worker stopped answering for the
    /// visibility timeout), waiting at most `wait`.
    pub async fn next(
        &self,
        link: &mut WorkerLink,
        worker: &str,
        wait: Duration,
    ) -> Result<Option<Claimed>> {
        match (self, link) {
            (Queue::Embedded(q), _) => Ok(q.next(worker, wait).await),
            (Queue::Redis(q), WorkerLink::Redis(l)) => q.next(l, worker, wait).await,
            _ => anyhow::bail!("worker link of another queue"),
        }
    }

    pub async fn progress(&self, job: &Claimed, step: usize, steps: usize) -> Result<()> {
        match self {
            Queue::Embedded(q) => {
                q.progress(&job.id, step, steps);
                Ok(())
            }
            Queue::Redis(q) => q.progress(&job.id, step, steps).await,
        }
    }

    /// Tells the queue the worker is still on the job (Redis: resets the entry's idle time so that
    /// no other worker claims it).
    pub async fn heartbeat(
        &self,
        link: &mut WorkerLink,
        worker: &str,
        job: &Claimed,
    ) -> Result<()> {
        match (self, link) {
            (Queue::Redis(q), WorkerLink::Redis(l)) => q.heartbeat(l, worker, job).await,
            _ => Ok(()),
        }
    }

    /// Stores the outcome, then (Redis) acknowledges the entry, in one step. Returns false when the
    /// job already had an outcome (a rerun after a presumed death): the first answer stands.
    pub async fn finish(
        &self,
        job: &Claimed,
        outcome: &std::result::Result<JobResult, JobFailure>,
    ) -> Result<bool> {
        let deltas = match outcome {
            Ok(r) => metrics::succeeded(&job.input.params.recipe, &r.tier, r.seconds, r.flops),
            Err(_) => metrics::failed(),
        };
        match self {
            Queue::Embedded(q) => Ok(q.finish(&job.id, outcome, deltas)),
            Queue::Redis(q) => q.finish(job, outcome, deltas).await,
        }
    }
}

struct Record {
    status: JobStatus,
    input: Option<JobInput>,
    images: Vec<Vec<u8>>,
}

#[derive(Default)]
struct Inner {
    order: VecDeque<String>,
    jobs: HashMap<String, Record>,
    /// Finished jobs by finishing time, for the TTL.
    finished: VecDeque<(Instant, String)>,
    stats: BTreeMap<String, f64>,
    active: usize,
}

impl Inner {
    fn add(&mut self, deltas: Deltas) {
        for (k, v) in deltas {
            *self.stats.entry(k).or_insert(0.0) += v;
        }
    }

    fn expire(&mut self, ttl: Duration) {
        while let Some((t, _)) = self.finished.front() {
            if t.elapsed() < ttl {
                break;
            }
            let (_, id) = self.finished.pop_front().unwrap();
            self.jobs.remove(&id);
        }
    }

    fn finished(&mut self, id: &str) {
        self.active = self.active.saturating_sub(1);
        self.finished.push_back((Instant::now(), id.to_string()));
    }
}

/// The in-process queue.
pub struct Embedded {
    inner: Mutex<Inner>,
    work: Notify,
    changed: watch::Sender<u64>,
    pub capacity: usize,
    ttl: Duration,
}

impl Embedded {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Embedded {
            inner: Mutex::new(Inner::default()),
            work: Notify::new(),
            changed: watch::channel(0).0,
            capacity,
            ttl,
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    fn submit(&self, input: JobInput) -> Result<JobStatus, SubmitError> {
        let mut g = self.inner.lock().unwrap();
        g.expire(self.ttl);
        if g.active >= self.capacity {
            g.add(metrics::rejected());
            return Err(SubmitError::Full {
                capacity: self.capacity,
            });
        }
        let id = super::job::new_id();
        let status = JobStatus::new(id.clone(), &input, now());
        g.jobs.insert(
            id.clone(),
            Record {
                status: status.clone(),
                input: Some(input),
                images: Vec::new(),
            },
        );
        g.order.push_back(id);
        g.active += 1;
        g.add(metrics::submitted());
        drop(g);
        self.work.notify_one();
        self.bump();
        Ok(status)
    }

    fn status(&self, id: &str) -> Option<JobStatus> {
        let mut g = self.inner.lock().unwrap();
        g.expire(self.ttl);
        g.jobs.get(id).map(|r| r.status.clone())
    }

    fn image(&self, id: &str, index: usize) -> Option<Vec<u8>> {
        let g = self.inner.lock().unwrap();
        g.jobs.get(id).and_then(|r| r.images.get(index).cloned())
    }

    fn cancel(&self, id: &str) -> CancelOutcome {
        let mut g = self.inner.lock().unwrap();
        let state = match g.jobs.get(id) {
            None => return CancelOutcome::NotFound,
            Some(r) => r.status.status,
        };
        if state != State::Queued {
            return CancelOutcome::TooLate(state);
        }
        g.order.retain(|j| j != id);
        if let Some(r) = g.jobs.get_mut(id) {
            r.status.status = State::Cancelled;
            r.status.finished = Some(now());
            r.input = None;
        }
        g.finished(id);
        g.add(metrics::cancelled());
        drop(g);
        self.bump();
        CancelOutcome::Cancelled
    }

    fn depth(&self) -> (u64, u64) {
        let g = self.inner.lock().unwrap();
        let queued = g.order.len() as u64;
        (queued, (g.active as u64).saturating_sub(queued))
    }

    async fn next(&self, worker: &str, wait: Duration) -> Option<Claimed> {
        let deadline = Instant::now() + wait;
        loop {
            {
                let mut g = self.inner.lock().unwrap();
                while let Some(id) = g.order.pop_front() {
                    if let Some(r) = g.jobs.get_mut(&id) {
                        if r.status.status != State::Queued {
                            continue;
                        }
                        r.status.status = State::Running;
                        r.status.started = Some(now());
                        r.status.attempts += 1;
                        r.status.worker = Some(worker.to_string());
                        let claimed = Claimed {
                            id: id.clone(),
                            input: r.input.clone()?,
                            entry: None,
                            attempt: r.status.attempts,
                        };
                        drop(g);
                        self.bump();
                        return Some(claimed);
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = tokio::time::timeout(left, self.work.notified()).await;
        }
    }

    fn progress(&self, id: &str, step: usize, steps: usize) {
        let mut g = self.inner.lock().unwrap();
        if let Some(r) = g.jobs.get_mut(id) {
            if r.status.status == State::Running {
                r.status.step = step;
                r.status.steps = steps;
            }
        }
        drop(g);
        self.bump();
    }

    fn finish(
        &self,
        id: &str,
        outcome: &std::result::Result<JobResult, JobFailure>,
        deltas: Deltas,
    ) -> bool {
        let mut g = self.inner.lock().unwrap();
        let Some(r) = g.jobs.get_mut(id) else {
            return false;
        };
        if r.status.status.is_terminal() {
            return false;
        }
        r.status.finished = Some(now());
        r.input = None;
        match outcome {
            Ok(res) => {
                r.status.status = State::Succeeded;
                r.status.step = r.status.steps.max(r.status.step);
                r.status.result = Some(res.report.clone());
                r.images = res.images.clone();
            }
            Err(f) => {
                r.status.status = State::Failed;
                r.status.error = Some(f.message.clone());
                r.status.error_is_client = f.client;
            }
        }
        g.finished(id);
        g.add(deltas);
        drop(g);
        self.bump();
        true
    }
}
