//! A worker: takes one job at a time from the queue, runs it on its loaded model on a blocking
//! thread, reports progress, stores the outcome. One worker per device.
//!
//! The job in hand stops at its next step when the queue says it is no longer this worker's
//! (cancelled, or claimed by another worker after this one stalled), when it runs past the job
//! timeout (it fails), or when the worker drains and the drain timeout has passed (it goes back in
//! the queue). Between its first and last steps the worker heartbeats (Redis) only while the step
//! counter moves, so a job stuck inside a step is claimed by another worker after the visibility
//! timeout (a hang while encoding or decoding is ended by the job timeout).
//!
//! Test hooks, in debug builds only (release builds never read them): a job whose prompt equals
//! the environment variable `PHYSEDIT_TEST_CRASH_ON_PROMPT` ends the worker process at once (exit
//! 70), one whose prompt equals `PHYSEDIT_TEST_STALL_ON_PROMPT` hangs after its first step; how the
//! tests make a job that kills or stalls its worker.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::job::{execute, Engine, JobFailure, JobResult};
use super::queue::{Claimed, Queue, WorkerLink};

/// How long one wait for a job lasts before the worker looks again (and at the shutdown flag).
const POLL: Duration = Duration::from_millis(1000);

/// How a worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Heartbeat period (a quarter of the visibility timeout).
    pub heartbeat: Duration,
    /// Longest run of one job (None: no limit).
    pub job_timeout: Option<Duration>,
    /// After `stop`, how long the job in hand may take before it is stopped and requeued.
    pub drain_timeout: Duration,
}

/// Why the job in hand was stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    /// The queue took it away (cancelled, claimed by another worker): nothing to store.
    Gone,
    TimedOut,
    Drained,
}

/// Runs jobs until `stop` turns true; the job in hand then has the drain timeout to finish.
pub async fn run(
    queue: Queue,
    engine: Arc<Engine>,
    name: String,
    pace: Pace,
    mut stop: watch::Receiver<bool>,
) {
    let mut link: Option<WorkerLink> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if link.is_none() {
            match queue.worker_link(&name).await {
                Ok(l) => link = Some(l),
                Err(e) => {
                    tracing::warn!(worker = name, "queue unreachable: {e:#}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            }
        }
        let l = link.as_mut().unwrap();
        let job = tokio::select! {
            j = queue.next(l, &name, POLL) => j,
            _ = stop.changed() => continue,
        };
        let job = match job {
            Ok(Some(j)) => j,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(worker = name, "cannot take a job: {e:#}");
                link = None;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        // Every line logged for this job carries the request id that made it, so a job's worker
        // lines can be found from the access log (and the `x-request-id` the client holds).
        let span = tracing::info_span!(
            "job",
            request_id = job.input.params.request_id.as_deref().unwrap_or("-")
        );
        async {
            let (outcome, halt) = run_job(&queue, l, &engine, &name, &job, pace, &mut stop).await;
            conclude(&queue, &name, &job, outcome, halt).await;
        }
        .instrument(span)
        .await;
    }
}

#[cfg(debug_assertions)]
fn test_crash_hook(job: &Claimed) {
    if let Ok(p) = std::env::var("PHYSEDIT_TEST_CRASH_ON_PROMPT") {
        if !p.is_empty() && job.input.params.prompt == p {
            eprintln!("test hook: job {} kills this worker", job.id);
            std::process::exit(70);
        }
    }
}

#[cfg(not(debug_assertions))]
fn test_crash_hook(_: &Claimed) {}

/// Test hook (debug builds): whether this job should hang after its first step.
#[cfg(debug_assertions)]
fn test_stall_hook(job: &Claimed) -> bool {
    std::env::var("PHYSEDIT_TEST_STALL_ON_PROMPT").is_ok_and(|p| p == job.input.params.prompt)
}

#[cfg(not(debug_assertions))]
fn test_stall_hook(_: &Claimed) -> bool {
    false
}

/// Runs one job on a blocking thread, forwarding progress and heartbeats, until it ends or is
/// halted.
async fn run_job(
    queue: &Queue,
    link: &mut WorkerLink,
    engine: &Arc<Engine>,
    name: &str,
    job: &Claimed,
    pace: Pace,
    stop: &mut watch::Receiver<bool>,
) -> (Result<JobResult, JobFailure>, Option<Halt>) {
    tracing::info!(
        worker = name,
        job = job.id,
        attempt = job.attempt,
        "running"
    );
    test_crash_hook(job);
    let (tx, mut rx) = watch::channel((0usize, 0usize));
    let halted = Arc::new(AtomicBool::new(false));
    let (eng, input, h) = (engine.clone(), job.input.clone(), halted.clone());
    let stall = test_stall_hook(job);
    let mut handle = tokio::task::spawn_blocking(move || {
        execute(&eng, &input, &mut |s, n| {
            let _ = tx.send((s, n));
            if stall && s >= 1 {
                std::thread::sleep(Duration::from_secs(3600));
            }
            !h.load(Ordering::Acquire)
        })
    });
    let far = Duration::from_secs(86400 * 365);
    let mut deadline = Instant::now() + pace.job_timeout.unwrap_or(far);
    let mut drain_at: Option<Instant> = None;
    let mut halt = None;
    let mut beat = tokio::time::interval(pace.heartbeat);
    beat.tick().await;
    // The step counter moved since the last heartbeat; the last (step, steps) seen.
    let (mut moved, mut at) = (false, (0usize, 0usize));
    let outcome = loop {
        let until = drain_at.map_or(deadline, |d| d.min(deadline));
        tokio::select! {
            r = &mut handle => break r.unwrap_or_else(|e| Err(JobFailure {
                message: format!("the edit panicked: {e}"),
                client: false,
            })),
            c = rx.changed(), if halt.is_none() => {
                if c.is_ok() {
                    let (s, n) = *rx.borrow_and_update();
                    (moved, at) = (true, (s, n));
                    match queue.progress(job, name, s, n).await {
                        Ok(true) => {}
                        Ok(false) => halt = Some(Halt::Gone),
                        Err(e) => tracing::warn!(job = job.id, "progress not stored: {e:#}"),
                    }
                }
            }
            _ = beat.tick() => {
                // Before the first step (encoding) and after the last (decoding) on time; in
                // between only when a step was done since the last beat.
                let outside = at.0 == 0 || at.0 >= at.1;
                if std::mem::take(&mut moved) || outside {
                    if let Err(e) = queue.heartbeat(link, name, job).await {
                        tracing::warn!(job = job.id, "heartbeat failed: {e:#}");
                    }
                }
            }
            _ = stop.changed(), if drain_at.is_none() => {
                drain_at = Some(Instant::now() + pace.drain_timeout);
            }
            _ = tokio::time::sleep_until(until), if halt.is_none() => {
                halt = Some(if Instant::now() >= deadline { Halt::TimedOut } else { Halt::Drained });
                deadline = Instant::now() + far;
            }
        }
        if halt.is_some() {
            halted.store(true, Ordering::Release);
        }
    };
    // The last step reported, if the loop ended before forwarding it.
    if halt.is_none() && rx.has_changed().unwrap_or(false) {
        let (s, n) = *rx.borrow_and_update();
        let _ = queue.progress(job, name, s, n).await;
    }
    (outcome, halt)
}

/// Stores the outcome (retried while the queue is away), or requeues a drained job.
async fn conclude(
    queue: &Queue,
    name: &str,
    job: &Claimed,
    outcome: Result<JobResult, JobFailure>,
    halt: Option<Halt>,
) {
    let outcome = match (halt, outcome) {
        (_, Ok(r)) => Ok(r),
        (Some(Halt::Gone), Err(_)) => {
            tracing::info!(
                worker = name,
                job = job.id,
                "stopped: the job was cancelled or taken over"
            );
            return;
        }
        (Some(Halt::Drained), Err(_)) => {
            tracing::info!(
                worker = name,
                job = job.id,
                "draining: the job goes back in the queue"
            );
            if let Err(e) = queue.requeue(job, name).await {
                tracing::warn!(
                    job = job.id,
                    "cannot requeue (it will be rerun after the visibility timeout): {e:#}"
                );
            }
            return;
        }
        (Some(Halt::TimedOut), Err(_)) => Err(JobFailure {
            message: crate::serve::queue_types::TIMED_OUT_MESSAGE.into(),
            client: false,
        }),
        (None, Err(f)) => Err(f),
    };
    match &outcome {
        Ok(r) => tracing::info!(
            worker = name,
            job = job.id,
            seconds = r.seconds,
            "succeeded"
        ),
        Err(f) => tracing::warn!(worker = name, job = job.id, "failed: {}", f.message),
    }
    let mut tries = 0;
    loop {
        match queue.finish(job, &outcome).await {
            Ok(true) => break,
            Ok(false) => {
                tracing::info!(
                    job = job.id,
                    "already answered: this run's outcome is dropped"
                );
                break;
            }
            Err(e) => {
                tries += 1;
                tracing::warn!(
                    job = job.id,
                    "cannot store the outcome (try {tries}): {e:#}"
                );
                if tries >= 30 {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
