//! What every queue backend and the [`super::queue::Queue`] front speak: the answers of submit and
//! cancel, a claimed job, the rules shared by both stores. Below both backends, so that imports run
//! downhill (`queue` -> `embedded`, `redis_queue` -> `queue_types`).
use std::time::Duration;

use super::job::JobInput;

/// Why a job was not accepted.
#[derive(Debug)]
pub enum SubmitError {
    /// The queue holds `capacity` unfinished jobs.
    Full { capacity: usize },
    /// The backend failed (Redis unreachable, the state file unwritable) or the server is draining.
    Backend(anyhow::Error),
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The job is cancelled: a queued one at once, a running one stops at its next step.
    Cancelled,
    NotFound,
    /// The job has finished: it cannot be cancelled.
    TooLate(super::job::State),
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

/// Rules both stores keep.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Most unfinished jobs (queued and running).
    pub capacity: usize,
    /// How long a finished job's pictures and report are kept.
    pub result_ttl: Duration,
    /// Most bytes of stored result pictures; past it the oldest results are forgotten (the newest
    /// one is always kept).
    pub result_budget: u64,
    /// Most times a job is claimed; a job claimed that often without an outcome (its worker died
    /// or stalled each time) fails and goes to the dead letter.
    pub max_attempts: u32,
}

/// The error of a job that used up its attempts.
pub fn dead_letter_message(attempts: u32) -> String {
    format!(
        "the job was started {attempts} times and each time its worker died or stopped making progress; \
         it was moved to the dead letter and will not be retried"
    )
}

/// The error of a job cancelled while it ran.
pub const CANCELLED_MESSAGE: &str = "cancelled";

/// The error of a job stopped by `--job-timeout`.
pub const TIMED_OUT_MESSAGE: &str =
    "the edit ran past this server's job timeout (--job-timeout) and was stopped";

/// Whether a job's error is one of the queue's own verdicts (fixed texts, no internal detail), which
/// the client is told as they are.
pub fn is_queue_verdict(message: &str) -> bool {
    message == CANCELLED_MESSAGE
        || message == TIMED_OUT_MESSAGE
        || (message.starts_with("the job was started ")
            && message.ends_with("it was moved to the dead letter and will not be retried"))
}
