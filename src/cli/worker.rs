//! `physedit worker`: runs edits from a Redis queue (see [`crate::serve`]).
use anyhow::Result;
use clap::Args;

use crate::cli::serve::{init_logging, LogFormat, ModelArgs, QueueArgs};

const EXAMPLES: &str = "\
Examples:
  # On each GPU machine (one worker per GPU), against the Redis the `serve` process uses:
  physedit worker --queue redis://queue-host:6379 --model ChronoEdit-14B-Diffusers
  # The bundled model, a faster takeover of a dead worker's job:
  physedit worker --queue redis://127.0.0.1:6379 --visibility-timeout 10

  # Redis with TLS (a private CA) and a password; poison jobs fail after 3 starts:
  physedit worker --queue rediss://default:PASSWORD@queue-host:6380 --redis-ca ca.pem --max-attempts 3

The worker takes one job at a time (XREADGROUP), stores its pictures and report in Redis, then
acknowledges it (XACK). If it dies or stops making progress mid-job, another worker claims the job
after --visibility-timeout (XAUTOCLAIM) and reruns it, at most --max-attempts times in all (then the
job fails and goes to the dead-letter stream PREFIX:dead); a job is answered once. Ctrl-C / SIGTERM
drain: no new job is taken, the job in hand finishes within --drain-timeout or goes back in the
queue, then the worker exits 0. Every worker and the `serve` process must use the same --queue,
--redis-prefix and model; --queue-capacity and --result-ttl should match the server's.";

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Consumer name in the Redis group [default: HOST-PID-0].
    #[arg(long)]
    pub name: Option<String>,
}

pub fn run(args: WorkerArgs) -> Result<()> {
    init_logging(LogFormat::Text);
    let model = args.model.options()?;
    let queue = args.queue.options()?;
    let planner = args.model.planner.planner()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(crate::serve::work(queue, model, planner, args.name));
    // A job halted by the drain may still be inside its last step: do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    r
}
