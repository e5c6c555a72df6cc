//! A worker: takes one job at a time from the queue, runs it on its loaded model on a blocking
//! thread, reports progress, stores the outcome. One worker per device.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::job::{execute, Engine, JobFailure};
use super::queue::{Queue, WorkerLink};

/// How long one wait for a job lasts before the worker looks again (and at the shutdown flag).
const POLL: Duration = Duration::from_millis(1000);

/// Runs jobs until `stop` turns true (the job in hand is finished first).
pub async fn run(
    queue: Queue,
    engine: Arc<Engine>,
    name: String,
    heartbeat: Duration,
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
        tracing::info!(
            worker = name,
            job = job.id,
            attempt = job.attempt,
            "running"
        );
        let (tx, mut rx) = watch::channel((0usize, 0usize));
        let eng = engine.clone();
        let input = job.input.clone();
        let mut handle = tokio::task::spawn_blocking(move || {
            execute(&eng, &input, &mut |s, n| {
                let _ = tx.send((s, n));
            })
        });
        let mut beat = tokio::time::interval(heartbeat);
        beat.tick().await;
        let outcome = loop {
            tokio::select! {
                r = &mut handle => break r.unwrap_or_else(|e| Err(JobFailure {
                    message: format!("the edit panicked: {e}"),
                    client: false,
                })),
                c = rx.changed() => {
                    if c.is_ok() {
                        let (s, n) = *rx.borrow_and_update();
                        if let Err(e) = queue.progress(&job, s, n).await {
                            tracing::warn!(job = job.id, "progress not stored: {e:#}");
                        }
                    }
                }
                _ = beat.tick() => {
                    if let Err(e) = queue.heartbeat(l, &name, &job).await {
                        tracing::warn!(job = job.id, "heartbeat failed: {e:#}");
                    }
                }
            }
        };
        // The last step reported, if the loop ended before forwarding it.
        if rx.has_changed().unwrap_or(false) {
            let (s, n) = *rx.borrow_and_update();
            let _ = queue.progress(&job, s, n).await;
        }
        match &outcome {
            Ok(r) => tracing::info!(
                worker = name,
                job = job.id,
                seconds = r.seconds,
                "succeeded"
            ),
            Err(f) => tracing::warn!(worker = name, job = job.id, "failed: {}", f.message),
        }
        // The outcome is stored before the job is acknowledged; retried while the queue is away.
        let mut tries = 0;
        loop {
            match queue.finish(&job, &outcome).await {
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
}
