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

The worker takes one job at a time (XREADGROUP), stores its pictures and report in Redis, then
acknowledges it (XACK). If it dies mid-job, another worker claims the job after
--visibility-timeout (XAUTOCLAIM) and reruns it; a job is answered once. Ctrl-C / SIGTERM finish the
job in hand, then stop. Every worker and the `serve` process must use the same --queue,
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
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(crate::serve::work(queue, model, planner, args.name))
}
