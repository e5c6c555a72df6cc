//! The `physedit` command line: a thin layer over the library.
use clap::{Parser, Subcommand};
use physedit::cli;

#[derive(Parser, Debug)]
#[command(
    name = "physedit",
    version,
    about = "Complexity-adaptive instruction-based image editing (ChronoEdit backbone)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Edit an image with an instruction.
    Edit(cli::edit::EditArgs),
    /// Generate, sample and evaluate the procedural physics world.
    World(cli::world::WorldArgs),
    /// Plan reasoning per instruction (CARD) without running a model.
    Plan(cli::plan::PlanArgs),
    /// FLOP cost model of recipes and plans.
    Cost(cli::cost::CostArgs),
    /// Predicted peak device memory of an edit per phase, and which cards run it.
    Memory(cli::memory::MemoryArgs),
    /// Fit or inspect the learned CARD predictor.
    Card(cli::card::CardArgs),
    /// CLIP-T / CLIP-I scores of edited images over an ImgEdit-format suite.
    Score(cli::score::ScoreArgs),
    /// Benchmark recipes over an ImgEdit-format suite (resumable, shardable), with reports.
    Bench(cli::bench::BenchArgs),
    /// Calibrate the step cache for a model (writes its physedit.json).
    Calibrate(cli::calibrate::CalibrateArgs),
    /// Serve edits over HTTP (OpenAI's images API and asynchronous jobs) from a job queue.
    Serve(cli::serve::ServeArgs),
    /// Run edits from a Redis queue (scale `serve` out: one worker per GPU or machine).
    Worker(cli::worker::WorkerArgs),
    /// Write a model's transformer as a GGUF (Q8_0, Q4_K) or scaled-fp8 single file.
    Quantize(cli::quantize::QuantizeArgs),
    /// Inspect LoRA files: layout, ranks, layers touched, what is applied or skipped, fit to a model.
    Lora(cli::lora::LoraArgs),
}

fn main() {
    let parsed = Cli::parse();
    let result = match parsed.command {
        Command::Edit(a) => cli::edit::run(a),
        Command::World(a) => cli::world::run(a),
        Command::Plan(a) => cli::plan::run(a),
        Command::Cost(a) => cli::cost::run(a),
        Command::Memory(a) => cli::memory::run(a),
        Command::Card(a) => cli::card::run(a),
        Command::Score(a) => cli::score::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Calibrate(a) => cli::calibrate::run(a),
        Command::Serve(a) => cli::serve::run(a),
        Command::Worker(a) => cli::worker::run(a),
        Command::Quantize(a) => cli::quantize::run(a),
        Command::Lora(a) => cli::lora::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
