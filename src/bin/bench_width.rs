//! Real-width timing: each recipe's transformer time per edit at the 14B's width on this CPU,
//! from the forwards and tokens it actually executed in a `physedit bench` run of the world model.
//!
//! 1. One transformer block of the real ChronoEdit-14B width (d 5120, 40 heads × 128, ffn 13 824,
//!    I2V image projections, a 512-token prompt whose zero padding collapses into one key as in every
//!    PhysEdit forward, 257 image tokens), random weights, f32, is timed for one forward (batch 1) at
//!    the token counts of three latent frame counts at 480×832 (`--frames`, default 2, 4 and 8; 1560
//!    tokens per frame) after one untimed warm-up forward at the smallest; the time per
//!    block is interpolated as `a + b·n + c·n²` through those three points (linear layers grow with
//!    n, self-attention with n²).
//! 2. For every line of a bench `results.jsonl`, each step's tokens are rescaled from the world
//!    model's frame (its tokens per latent frame, `--world-tokens-per-frame`, 64 at 64×64) to
//!    480×832, and the edit's transformer time is `40 blocks × Σ_steps forwards × t(tokens)`. CFG's two
//!    branches count as two batch-1 forwards (the engine batches them, which this does not credit).
//!    Steps the step cache served run no blocks (their patch embedding and head are not counted).
//! 3. Per recipe: mean predicted seconds per edit, the ratio to the baseline, beside the
//!    ratio of the world run's measured wall times.
//!
//! `cargo run --release --bin bench_width -- --results OUT/results.jsonl --baseline chronoedit-reasoning`
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::Parser;

use physedit::eval::bench::{latest_per_pair, read_results};
use physedit::models::transformer::{ChronoEditTransformer3DModel, Config, ForwardOptions};

#[derive(Parser, Debug)]
struct Args {
    /// A `physedit bench` results file of the world model.
    #[arg(long)]
    results: PathBuf,
    /// Recipe the ratios are taken against.
    #[arg(long, default_value = "chronoedit-reasoning")]
    baseline: String,
    /// Tokens per latent frame of the model the bench ran (64 for the bundled model at 64x64: an
    /// 8x8 latent, patch 1).
    #[arg(long, default_value_t = 64)]
    world_tokens_per_frame: usize,
    /// Latent frame counts timed at 480x832 (three for the quadratic, or two with the quadratic
    /// through the origin; beyond the largest it extrapolates).
    #[arg(long, value_delimiter = ',', default_values_t = [2usize, 4, 8])]
    frames: Vec<usize>,
    /// Blocks of the real model.
    #[arg(long, default_value_t = 40)]
    blocks: usize,
    /// Use a narrow block instead of the real width (a quick check of this tool).
    #[arg(long)]
    dry_run: bool,
    /// A,B,C: price with the block time `A + B·n + C·n²` s of an earlier timing instead of timing
    /// the block again (the fit it printed).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    block_fit: Option<Vec<f64>>,
}

fn config(dry: bool) -> Result<Config> {
    let (heads, head_dim, ffn, text, image) = if dry {
        (2, 16, 64, 32, 16)
    } else {
        (40, 128, 13824, 4096, 1280)
    };
    let v = serde_json::json!({
        "_class_name": "ChronoEditTransformer3DModel",
        "added_kv_proj_dim": heads * head_dim,
        "attention_head_dim": head_dim,
        "cross_attn_norm": true,
        "eps": 1e-6,
        "ffn_dim": ffn,
        "freq_dim": 256,
        "image_dim": image,
        "in_channels": 36,
        "num_attention_heads": heads,
        "num_layers": 1,
        "out_channels": 16,
        "patch_size": [1, 2, 2],
        "pos_embed_seq_len": null,
        "qk_norm": "rms_norm_across_heads",
        "rope_max_seq_len": 1024,
        "rope_temporal_skip_len": 8,
        "text_dim": text,
    });
    Ok(Config::from_json_str(&v.to_string())?)
}

/// The contexts of every timed forward: a 20-token prompt padded with zeros to 512, as the
/// pipeline hands it over, and 257 image tokens (one pair, so the context K/V cache serves them all).
fn contexts(cfg: &Config) -> Result<(Tensor, Tensor)> {
    let dev = Device::Cpu;
    let real = Tensor::randn(0f32, 1.0, (1, 20, cfg.text_dim), &dev)?;
    let pad = Tensor::zeros((1, 492, cfg.text_dim), DType::F32, &dev)?;
    let text = Tensor::cat(&[real, pad], 1)?;
    let image_dim = cfg.image_dim.context("image_dim")?;
    let image = Tensor::randn(0f32, 1.0, (1, 257, image_dim), &dev)?;
    Ok((text, image))
}

/// Seconds of one forward of the one-block model for `frames` latent frames at 480x832.
fn time_forward(
    model: &ChronoEditTransformer3DModel,
    cfg: &Config,
    (text, image): &(Tensor, Tensor),
    frames: usize,
    dry: bool,
) -> Result<f64> {
    let dev = Device::Cpu;
    let (lh, lw) = if dry { (12, 20) } else { (60, 104) };
    let x = Tensor::randn(0f32, 1.0, (1, cfg.in_channels, frames, lh, lw), &dev)?;
    let t = Tensor::new(&[500f32], &dev)?;
    let start = Instant::now();
    let out = model.forward_with(&x, &t, text, Some(image), &ForwardOptions::default())?;
    out.sample.sum_all()?.to_scalar::<f32>()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Coefficients (a, b, c) of `a + b·n + c·n²` through three points, or through two points and the
/// origin (a = 0: a block with no tokens costs nothing but its cached context).
fn quadratic(points: &[(f64, f64)]) -> Result<(f64, f64, f64)> {
    match points {
        [(x0, y0), (x1, y1), (x2, y2)] => {
            let c = ((y2 - y0) / (x2 - x0) - (y1 - y0) / (x1 - x0)) / (x2 - x1);
            let b = (y1 - y0) / (x1 - x0) - c * (x0 + x1);
            Ok((y0 - b * x0 - c * x0 * x0, b, c))
        }
        [(x0, y0), (x1, y1)] => {
            let c = (y1 / x1 - y0 / x0) / (x1 - x0);
            Ok((0.0, y0 / x0 - c * x0, c))
        }
        _ => bail!("need two or three frame counts, got {}", points.len()),
    }
}

/// Times one real-width block at `--frames` and fits `a + b·n + c·n²` (see the module docs).
fn time_block(args: &Args, per_frame: usize) -> Result<(f64, f64, f64)> {
    let cfg = config(args.dry_run)?;
    let vb = physedit::checkpoint::random_var_builder(DType::F32, &Device::Cpu);
    let model = ChronoEditTransformer3DModel::new(&cfg, vb)?;
    let ctx = contexts(&cfg)?;
    // Warm-up (fills the context K/V cache and the allocator) at the smallest size, untimed.
    let smallest = args.frames.iter().copied().min().unwrap_or(1);
    time_forward(&model, &cfg, &ctx, smallest, args.dry_run)?;
    let mut points = Vec::new();
    for &f in &args.frames {
        let s = time_forward(&model, &cfg, &ctx, f, args.dry_run)?;
        eprintln!(
            "one block, {f} latent frames ({} tokens): {s:.3} s",
            f * per_frame
        );
        points.push(((f * per_frame) as f64, s));
    }
    quadratic(&points)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let records = latest_per_pair(&read_results(&args.results)?);
    if records.iter().all(|r| r.step_tokens.is_empty()) {
        bail!(
            "{} has no per-step tokens (step_tokens): rerun the bench with this version",
            args.results.display()
        );
    }
    let per_frame = if args.dry_run { 60 } else { 1560 };
    let (a, b, c) = match args.block_fit.as_deref() {
        Some(&[a, b, c]) => (a, b, c),
        Some(f) => bail!(
            "--block-fit takes three numbers A,B,C (the fit `A + B·n + C·n²`), got {}",
            f.len()
        ),
        None => time_block(&args, per_frame)?,
    };
    let block = |n: f64| (a + b * n + c * n * n).max(0.0);

    #[derive(Default)]
    struct Acc {
        n: usize,
        predicted: f64,
        wall: f64,
        token_forwards: f64,
    }
    let mut by: BTreeMap<String, Acc> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.error.is_none() && !r.step_tokens.is_empty())
    {
        let mut secs = 0.0;
        let mut tf = 0.0;
        // A forward where first-block caching skipped the rest of the stack ran one block.
        let heads = r.step_head_forwards.iter().chain(std::iter::repeat(&0));
        for ((&t, &f), &h) in r.step_tokens.iter().zip(&r.step_forwards).zip(heads) {
            let n = t as f64 / args.world_tokens_per_frame as f64 * per_frame as f64;
            secs += (args.blocks as f64 * f as f64 + h as f64) * block(n);
            tf += (f as f64 + h as f64 / args.blocks as f64) * n;
        }
        if !order.contains(&r.recipe) {
            order.push(r.recipe.clone());
        }
        let e = by.entry(r.recipe.clone()).or_default();
        e.n += 1;
        e.predicted += secs;
        e.wall += r.seconds.unwrap_or(0.0);
        e.token_forwards += tf;
    }
    let base = by
        .get(&args.baseline)
        .with_context(|| format!("baseline {} has no results", args.baseline))?;
    let (bp, bw, bt) = (
        base.predicted / base.n as f64,
        base.wall / base.n as f64,
        base.token_forwards / base.n as f64,
    );
    println!(
        "per-block time t(n) = {a:.4} + {b:.3e}·n + {c:.3e}·n² s ({} blocks{}, f32, batch 1, this CPU)",
        args.blocks,
        if args.dry_run { ", DRY RUN: narrow block" } else { ", d 5120" }
    );
    println!(
        "{:<44} {:>4} {:>14} {:>10} {:>14} {:>12}",
        "recipe", "n", "14B s / edit", "speedup", "token speedup", "world speedup"
    );
    for name in &order {
        let e = &by[name];
        let (p, w, t) = (
            e.predicted / e.n as f64,
            e.wall / e.n as f64,
            e.token_forwards / e.n as f64,
        );
        println!(
            "{:<44} {:>4} {:>14.0} {:>9.2}x {:>13.2}x {:>11.2}x",
            name,
            e.n,
            p,
            bp / p,
            bt / t,
            bw / w
        );
    }
    Ok(())
}
