//! The job queue: bounded, first in first out, one job at a time per worker. Two backends behind
//! one type: [`Embedded`] (in the `serve` process: nothing else to start, durable in a state file)
//! and [`RedisQueue`] (a Redis Stream read by a consumer group: workers on any machine, jobs
//! survive a worker's death).
//!
//! A job counts against the capacity from the moment it is accepted until it finishes (queued or
//! running); past it, `submit` answers [`SubmitError::Full`]. Finished jobs (their pictures and
//! reports) are kept for the result TTL and within the result byte budget, then forgotten. A job
//! claimed `--max-attempts` times without an outcome fails (the dead letter). Cancelling a running
//! job finishes it at once; its worker stops at its next step. Draining (SIGTERM) makes the queue
//! refuse new jobs and workers take none.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

pub use super::embedded::Embedded;
use super::job::{JobFailure, JobInput, JobResult, JobStatus};
use super::metrics::{self, Gauges};
pub use super::queue_types::{CancelOutcome, Claimed, Rules, SubmitError};
use super::redis_queue::RedisLink;
pub use super::redis_queue::RedisQueue;

/// A worker's connection to the queue (Redis: its own connection for blocking reads).
pub enum WorkerLink {
    Embedded,
    Redis(RedisLink),
}

/// Wakes a waiter when a job may have changed: the embedded queue's own signal, or Redis pub/sub
/// messages the workers publish.
pub struct Watcher {
    rx: watch::Receiver<u64>,
    /// Longest sleep without a signal (Redis: messages published while the subscription is being
    /// re-established are lost; every waiter is woken when it is back, and looks again at least
    /// this often in any case).
    safety: Duration,
}

impl Watcher {
    /// Returns after a change, at most `timeout`.
    pub async fn changed(&mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout.min(self.safety), self.rx.changed()).await;
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
            Queue::Embedded(q) => q.rules.capacity,
            Queue::Redis(q) => q.rules.capacity,
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
            Queue::Embedded(q) => q.image(id, index),
            Queue::Redis(q) => q.image(id, index).await,
        }
    }

    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        match self {
            Queue::Embedded(q) => q.cancel(id),
            Queue::Redis(q) => q.cancel(id).await,
        }
    }

    pub fn watcher(&self) -> Watcher {
        match self {
            Queue::Embedded(q) => Watcher {
                rx: q.changed.subscribe(),
                safety: Duration::from_secs(3600),
            },
            Queue::Redis(q) => {
                q.listen();
                Watcher {
                    rx: q.changed.subscribe(),
                    safety: Duration::from_secs(10),
                }
            }
        }
    }

    /// Jobs ahead of a queued job: the embedded queue knows; on Redis None (the stream's order is
    /// not read per request).
    pub fn position(&self, id: &str) -> Option<usize> {
        match self {
            Queue::Embedded(q) => q.position(id),
            Queue::Redis(_) => None,
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
            Queue::Embedded(q) => Ok(q.stats()),
            Queue::Redis(q) => q.stats().await,
        }
    }

    /// Whether the queue takes jobs: not draining, and (Redis) the server answers and the
    /// consumer group exists (it is recreated when Redis lost it).
    pub async fn ping(&self) -> Result<()> {
        if self.is_draining() {
            anyhow::bail!("this server is shutting down and takes no new jobs");
        }
        match self {
            Queue::Embedded(_) => Ok(()),
            Queue::Redis(q) => q.ensure_group().await,
        }
    }

    /// SIGTERM: refuse new jobs; workers take none.
    pub fn drain(&self) {
        match self {
            Queue::Embedded(q) => q.drain(),
            Queue::Redis(q) => q.drain(),
        }
    }

    pub fn is_draining(&self) -> bool {
        match self {
            Queue::Embedded(q) => q.is_draining(),
            Queue::Redis(q) => q.is_draining(),
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
            (Queue::Embedded(q), _) => q.next(worker, wait).await,
            (Queue::Redis(q), WorkerLink::Redis(l)) => q.next(l, worker, wait).await,
            _ => anyhow::bail!("worker link of another queue"),
        }
    }

    /// Records progress; false when the job is no longer this run's (cancelled, or taken over by
    /// another worker): the worker stops it.
    pub async fn progress(
        &self,
        job: &Claimed,
        worker: &str,
        step: usize,
        steps: usize,
    ) -> Result<bool> {
        match self {
            Queue::Embedded(q) => Ok(q.progress(&job.id, step, steps)),
            Queue::Redis(q) => q.progress(&job.id, worker, step, steps).await,
        }
    }

    /// Puts a running job back in the queue, its attempt not counted (the worker is draining).
    pub async fn requeue(&self, job: &Claimed, worker: &str) -> Result<()> {
        match self {
            Queue::Embedded(q) => q.requeue(&job.id),
            Queue::Redis(q) => q.requeue(job, worker).await,
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
            Queue::Embedded(q) => q.finish(&job.id, outcome, deltas),
            Queue::Redis(q) => q.finish(job, outcome, deltas).await,
        }
    }
}
