//! `physedit world`: generate, evaluate and sample the procedural physics world.
use crate::world::evaluate::{eval_suite, summarise, table};
use crate::world::io::{
    generate_many, load_suite, save_png, write_atomic, write_shard, write_suite,
};
use crate::world::render::render;
use crate::world::rng::Rng;
use crate::world::scene::Scene;
use crate::world::{GenConfig, Split};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  physedit world generate --split test --n 300 --seed 0 --size 64 --out data/world/test
  physedit world generate --split train --n 100000 --format shards --out shards/
  physedit world eval --suite data/world/test --edited out/edited --masks out/masks
  physedit world sample --seed 3 --out scene.png
  physedit world train --out runs/smoke --steps 60")]
pub struct WorldArgs {
    #[command(subcommand)]
    pub command: WorldCommand,
}

#[derive(Subcommand, Debug)]
pub enum WorldCommand {
    /// Generate edit cases: an ImgEdit-format suite or safetensors training shards.
    #[command(after_help = "Examples:
  physedit world generate --split test --n 300 --seed 0 --size 64 --out data/world/test
  physedit world generate --split train --n 100000 --size 32 --frames 9 --format shards --out shards/")]
    Generate(GenerateArgs),
    /// Score edited pictures against the ground truth of a suite.
    ///
    /// Columns: success = the edit's own checks pass and every object the edit leaves alone is
    /// still drawn where it was; edit = the edit's checks alone; kept = the untouched objects alone.
    #[command(after_help = "Examples:
  physedit world eval --suite data/world/test --edited out/edited
  physedit world eval --suite data/world/test --edited data/world/test/targets   # perfect score
  physedit world eval --suite data/world/test --edited out/edited --masks out/srm_masks --out eval.jsonl")]
    Eval(EvalArgs),
    /// Render one random scene to try an edit on.
    #[command(after_help = "Example:
  physedit world sample --seed 3 --out scene.png            (the bundled model's 64x64)
  physedit world sample --seed 3 --size 256 --out big.png")]
    Sample(SampleArgs),
    /// Train a ChronoEdit transformer on world edits with flow matching (candle autograd), on top of
    /// the frozen VAE and encoders of a base model; writes a pipeline folder `physedit edit --model`
    /// runs. Re-running with the same --out resumes.
    #[command(after_help = "Examples:
  # one-minute smoke run on top of the bundled model's VAE and encoders:
  physedit world train --out runs/smoke --steps 60
  # a larger run, stopped after 30 minutes (resume by running the same command again):
  physedit world train --out runs/big --layers 6 --heads 4 --head-dim 32 --ffn-dim 384 \\
      --cases 2048 --batch 16 --steps 20000 --minutes 30
  physedit edit --model runs/big --image data/world/test/images/test_000023.png \\
      --prompt \"Swap the scenery behind the objects for plain peach.\" -o edited.png

Output: OUT/transformer/ (config.json + safetensors, diffusers names), the base's other components,
OUT/train/loss.csv (step,seconds,loss,eval_loss), OUT/train/loss.png, OUT/train/state.safetensors.")]
    Train(TrainArgs),
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Output pipeline folder (resumed when it holds a run).
    #[arg(long)]
    pub out: PathBuf,
    /// Base pipeline folder (or Hugging Face id ORG/NAME[@REVISION]) for the frozen VAE, umT5, CLIP,
    /// tokenizer, scheduler (default: the bundled model).
    #[arg(long, value_name = "DIR|ORG/NAME[@REV]")]
    pub base: Option<PathBuf>,
    /// Total optimiser steps.
    #[arg(long, default_value_t = 60)]
    pub steps: usize,
    /// Stop after this many minutes (checkpointed; run again to continue).
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Training cases per optimiser step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// AdamW learning rate (peak; the schedule warms up and decays).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Training cases (world train split, encoded once).
    #[arg(long, default_value_t = 64)]
    pub cases: usize,
    /// Held-out cases for the evaluation loss.
    #[arg(long, default_value_t = 16)]
    pub eval_cases: usize,
    /// Picture side in pixels.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Seed of the cases, the initial weights and the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Transformer blocks.
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Attention heads per block.
    #[arg(long, default_value_t = 2)]
    pub heads: usize,
    /// Width of one attention head (the model width is heads x head_dim).
    #[arg(long, default_value_t = 16)]
    pub head_dim: usize,
    /// Hidden width of the feed-forward layers.
    #[arg(long, default_value_t = 64)]
    pub ffn_dim: usize,
    /// Fraction of prompts dropped to "" (classifier-free guidance).
    #[arg(long, default_value_t = 0.1)]
    pub cfg_drop: f64,
    /// Flow shift of the training noise levels.
    #[arg(long, default_value_t = 3.0)]
    pub flow_shift: f64,
    /// Checkpoint and evaluate every this many steps.
    #[arg(long, default_value_t = 20)]
    pub ckpt_every: usize,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SplitArg {
    Train,
    Test,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// suite.json + images/ + targets/ + masks/ + frames/ + cases.jsonl
    Suite,
    /// shard-NNNNN.safetensors + shard-NNNNN.jsonl
    Shards,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Which split's templates and referring forms to draw from (`test` adds held-out ones).
    #[arg(long, value_enum)]
    pub split: SplitArg,
    /// Number of cases.
    #[arg(long)]
    pub n: u64,
    /// Seed of the cases (case i depends only on the seed, the split and i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Image side in pixels.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Trajectory frames per case, source and target included (ChronoEdit: 4k+1, e.g. 5 or 9).
    #[arg(long, default_value_t = 5)]
    pub frames: usize,
    /// Output layout.
    #[arg(long, value_enum, default_value_t = Format::Suite)]
    pub format: Format,
    /// Cases per shard (`--format shards`).
    #[arg(long, default_value_t = 1024)]
    pub shard_size: u64,
    /// Index of the first case (to extend a split).
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Suite folder written by `world generate`.
    #[arg(long)]
    pub suite: PathBuf,
    /// Folder of edited pictures named `<key>.png`.
    #[arg(long)]
    pub edited: PathBuf,
    /// Optional folder of predicted edit masks `<key>.png` (white = edited), scored by IoU.
    #[arg(long)]
    pub masks: Option<PathBuf>,
    /// JSON lines output (default: `<edited>/world_eval.jsonl`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Seed of the scene.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Picture side in pixels [default: the bundled model's native resolution, so that
    /// `physedit edit` runs on it as trained].
    #[arg(long)]
    pub size: Option<usize>,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the scene description as JSON here.
    #[arg(long)]
    pub scene_json: Option<PathBuf>,
}

fn bar(n: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(n);
    if let Ok(st) =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
    {
        pb.set_style(st.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

pub fn run(args: WorldArgs) -> Result<()> {
    match args.command {
        WorldCommand::Generate(a) => generate(a),
        WorldCommand::Eval(a) => eval(a),
        WorldCommand::Sample(a) => sample(a),
        WorldCommand::Train(a) => train(a),
    }
}

fn generate(a: GenerateArgs) -> Result<()> {
    if a.frames < 2 {
        bail!(
            "--frames must be at least 2 (source and target), got {}",
            a.frames
        );
    }
    if a.size < 16 {
        bail!("--size must be at least 16, got {}", a.size);
    }
    let cfg = GenConfig {
        split: match a.split {
            SplitArg::Train => Split::Train,
            SplitArg::Test => Split::Test,
        },
        seed: a.seed,
        size: a.size,
        n_frames: a.frames,
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let t = std::time::Instant::now();
    match a.format {
        Format::Suite => {
            let pb = bar(a.n, "generating");
            let cases = generate_many(&cfg, a.start, a.n, Some(&pb))?;
            pb.finish_and_clear();
            write_suite(&a.out, &cases)?;
            eprintln!(
                "wrote {} cases to {} in {:.1}s",
                cases.len(),
                a.out.display(),
                t.elapsed().as_secs_f64()
            );
        }
        Format::Shards => {
            if a.shard_size == 0 {
                bail!("--shard-size must be positive");
            }
            let pb = bar(a.n, "generating");
            let mut i = 0u64;
            let mut shard = 0usize;
            while i < a.n {
                let m = a.shard_size.min(a.n - i);
                let cases = generate_many(&cfg, a.start + i, m, Some(&pb))?;
                let st = a.out.join(format!("shard-{shard:05}.safetensors"));
                let jl = a.out.join(format!("shard-{shard:05}.jsonl"));
                write_shard(&st, &jl, &cases)?;
                i += m;
                shard += 1;
            }
            pb.finish_and_clear();
            eprintln!(
                "wrote {} cases in {shard} shards to {} in {:.1}s",
                a.n,
                a.out.display(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

fn eval(a: EvalArgs) -> Result<()> {
    let cases = load_suite(&a.suite)?;
    if !a.edited.is_dir() {
        bail!("edited folder {} does not exist", a.edited.display());
    }
    let pb = bar(cases.len() as u64, "evaluating");
    let rows = eval_suite(&a.suite, &cases, &a.edited, a.masks.as_deref(), Some(&pb))?;
    pb.finish_and_clear();
    let missing = rows.iter().filter(|r| !r.found).count();
    if missing > 0 {
        eprintln!(
            "warning: {missing} of {} edited pictures missing in {} (counted as failures)",
            rows.len(),
            a.edited.display()
        );
    }
    let summary = summarise(&rows);
    print!("{}", table(&summary));
    let out = a.out.unwrap_or_else(|| a.edited.join("world_eval.jsonl"));
    let mut text = String::new();
    for r in &rows {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    write_atomic(&out, text.as_bytes())?;
    eprintln!("per-case results: {}", out.display());
    Ok(())
}

/// Picture side of `world sample` without `--size`: the bundled model's native resolution.
fn bundled_size() -> Result<usize> {
    let defaults = crate::checkpoint::sampling_defaults(&super::args::bundled_model_dir())?;
    Ok(defaults
        .native_size()
        .map_or(SAMPLE_FALLBACK_SIZE, |(h, _)| h))
}

/// Side used when the bundled model states no native resolution.
const SAMPLE_FALLBACK_SIZE: usize = 64;

fn sample(a: SampleArgs) -> Result<()> {
    let size = match a.size {
        Some(s) => s,
        None => bundled_size()?,
    };
    if size < 16 {
        bail!("--size must be at least 16, got {size}");
    }
    let mut rng = Rng::from_parts(&[a.seed, 0x5A3F]);
    let scene = Scene::random(&mut rng);
    save_png(&a.out, &render(&scene, size))?;
    if let Some(p) = &a.scene_json {
        write_atomic(p, serde_json::to_string_pretty(&scene)?.as_bytes())?;
    }
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

fn train(a: TrainArgs) -> Result<()> {
    let opts = crate::train::TrainOptions {
        base: match &a.base {
            Some(b) => super::args::model_folder("--base", b)?,
            None => super::args::bundled_model_dir(),
        },
        out: a.out,
        steps: a.steps,
        minutes: a.minutes,
        batch: a.batch,
        lr: a.lr,
        cases: a.cases,
        eval_cases: a.eval_cases,
        size: a.size,
        seed: a.seed,
        layers: a.layers,
        heads: a.heads,
        head_dim: a.head_dim,
        ffn_dim: a.ffn_dim,
        cfg_drop: a.cfg_drop,
        flow_shift: a.flow_shift,
        ckpt_every: a.ckpt_every,
    };
    let s = crate::train::train(&opts, true)?;
    let k = s.losses.len().clamp(1, 10);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    eprintln!(
        "steps {} -> {} in {:.1} s; training loss (mean of {k}) {:.4} -> {:.4}; held-out loss {:.4} -> {:.4}",
        s.start_step,
        s.end_step,
        s.seconds,
        mean(&s.losses[..k.min(s.losses.len())]),
        mean(&s.losses[s.losses.len().saturating_sub(k)..]),
        s.eval_start,
        s.eval_end
    );
    eprintln!(
        "model: {} (physedit edit --model {}); log and plot: {}",
        opts.out.display(),
        opts.out.display(),
        opts.out.join("train").display()
    );
    Ok(())
}
