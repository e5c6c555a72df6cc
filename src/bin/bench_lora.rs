//! The cost of per-request (unfused) adapters at the 14B's width, and of loading one.
//!
//! 1. One transformer block of the real ChronoEdit-14B width (d 5120, 40 heads × 128, ffn 13 824,
//!    I2V image projections, a 512-token prompt padded with zeros, 257 image tokens), random weights,
//!    f32, batch 1, `--frames` latent frames of `--latent` (default 60×104: 480×832, 1560 tokens each). A fused LoRA costs exactly
//!    the plain block (the update is in the weights), so the plain block is the fused figure. The
//!    unfused block adds `s·(x Aᵀ) Bᵀ` to each of its 12 linear layers, for each rank of `--ranks`.
//!    The variants run interleaved, `--iters` rounds after one untimed warm-up round; the median
//!    of each is reported with the ratio to the plain block.
//! 2. Adapter load time: a rank-`--load-rank` LoRA on every linear layer of the 40 blocks is written in
//!    bf16 (ComfyUI's Wan layout), then read and converted to a per-request adapter (f32, CPU), as
//!    `serve --lora-dir` does on a request's first use of it; median of `--iters`.
//!
//! `cargo run --release --bin bench_lora -- --ranks 32,128 --frames 1 --iters 3`
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::Parser;

use physedit::checkpoint::keys::{chronoedit_14b_config, diffusers_to_wan};
use physedit::lora::read_lora_file;
use physedit::models::adapter::{with_adapters, Adapter, AdapterSet, LinearUpdate};
use physedit::models::transformer::{ChronoEditTransformer3DModel, Config, ForwardOptions};

#[derive(Parser, Debug)]
struct Args {
    /// Ranks of the unfused adapters timed against the plain (fused) block.
    #[arg(long, value_delimiter = ',', default_values_t = [32usize, 128])]
    ranks: Vec<usize>,
    /// Latent frames.
    #[arg(long, default_value_t = 1)]
    frames: usize,
    /// Latent height and width of a frame (60x104: 480x832 pictures, 1560 tokens a frame).
    #[arg(long, default_value = "60x104")]
    latent: String,
    /// Timed rounds (after one warm-up round).
    #[arg(long, default_value_t = 3)]
    iters: usize,
    /// Rank of the LoRA whose load time is measured (0: skip).
    #[arg(long, default_value_t = 32)]
    load_rank: usize,
    /// A narrow block instead of the real width (a quick check of this tool).
    #[arg(long)]
    dry_run: bool,
}

fn config(dry: bool) -> Result<Config> {
    let mut cfg = chronoedit_14b_config();
    cfg.num_layers = 1;
    if dry {
        cfg.num_attention_heads = 2;
        cfg.attention_head_dim = 12;
        cfg.ffn_dim = 64;
        cfg.text_dim = 32;
        cfg.image_dim = Some(16);
        cfg.added_kv_proj_dim = Some(24);
    }
    cfg.validate().map_err(anyhow::Error::msg)?;
    Ok(cfg)
}

/// The linear layers of block `i`: (diffusers module name, out, in).
fn block_linears(cfg: &Config, i: usize) -> Vec<(String, usize, usize)> {
    let d = cfg.inner_dim();
    let a = cfg.added_kv_proj_dim.unwrap_or(d);
    let mut v = Vec::new();
    for attn in ["attn1", "attn2"] {
        for p in ["to_q", "to_k", "to_v", "to_out.0"] {
            v.push((format!("blocks.{i}.{attn}.{p}"), d, d));
        }
    }
    v.push((format!("blocks.{i}.attn2.add_k_proj"), d, a));
    v.push((format!("blocks.{i}.attn2.add_v_proj"), d, a));
    v.push((format!("blocks.{i}.ffn.net.0.proj"), cfg.ffn_dim, d));
    v.push((format!("blocks.{i}.ffn.net.2"), d, cfg.ffn_dim));
    v
}

/// A random rank-`r` adapter on every linear layer of block 0, as the model's device holds it.
fn random_adapter(cfg: &Config, r: usize) -> Result<Adapter> {
    let dev = Device::Cpu;
    let mut a = Adapter::default();
    for (name, out, inp) in block_linears(cfg, 0) {
        let down = Tensor::randn(0f32, 0.01, (r, inp), &dev)?;
        let up = Tensor::randn(0f32, 0.01, (out, r), &dev)?;
        a.layers
            .insert(name, vec![(LinearUpdate::LowRank { down, up }, 1.0)]);
    }
    Ok(a)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Seconds of one forward of the one-block model with `set` active.
fn forward(
    model: &ChronoEditTransformer3DModel,
    x: &Tensor,
    ctx: &(Tensor, Tensor),
    set: AdapterSet,
) -> Result<f64> {
    let t = Tensor::new(&[500f32], x.device())?;
    let start = Instant::now();
    let out = with_adapters(set, || {
        model.forward_with(x, &t, &ctx.0, Some(&ctx.1), &ForwardOptions::default())
    })?;
    out.sample.sum_all()?.to_scalar::<f32>()?;
    Ok(start.elapsed().as_secs_f64())
}

fn time_block(args: &Args, cfg: &Config) -> Result<()> {
    let dev = Device::Cpu;
    let vb = physedit::checkpoint::random_var_builder(DType::F32, &dev);
    let model = ChronoEditTransformer3DModel::new(cfg, vb)?;
    let (lh, lw) = if args.dry_run {
        (12, 20)
    } else {
        let (h, w) = args
            .latent
            .split_once('x')
            .context("--latent: expected HxW, e.g. 60x104")?;
        (h.parse()?, w.parse()?)
    };
    let x = Tensor::randn(0f32, 1.0, (1, cfg.in_channels, args.frames, lh, lw), &dev)?;
    let text = Tensor::cat(
        &[
            Tensor::randn(0f32, 1.0, (1, 20, cfg.text_dim), &dev)?,
            Tensor::zeros((1, 492, cfg.text_dim), DType::F32, &dev)?,
        ],
        1,
    )?;
    let image = Tensor::randn(
        0f32,
        1.0,
        (1, 257, cfg.image_dim.context("image_dim")?),
        &dev,
    )?;
    let ctx = (text, image);
    let mut variants: Vec<(String, AdapterSet)> =
        vec![("fused (plain block)".into(), AdapterSet::default())];
    for &r in &args.ranks {
        let set = AdapterSet {
            adapters: vec![(Arc::new(random_adapter(cfg, r)?), 1.0)],
        };
        variants.push((format!("unfused, rank {r}"), set));
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..=args.iters {
        for (i, (_, set)) in variants.iter().enumerate() {
            let s = forward(&model, &x, &ctx, set.clone())?;
            if round > 0 {
                times[i].push(s);
            }
        }
    }
    let tokens = args.frames * (lh / 2) * (lw / 2);
    println!(
        "one block, d {}, {tokens} tokens, f32, batch 1, median of {} rounds",
        cfg.inner_dim(),
        args.iters
    );
    let base = median(times[0].clone());
    for ((name, _), t) in variants.iter().zip(times) {
        let m = median(t.clone());
        println!(
            "  {name:<22} {m:>8.3} s  {:>6.3}x  (runs: {})",
            m / base,
            t.iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(())
}

/// Writes a rank-`r` bf16 LoRA in the Wan layout on every linear layer of `blocks` blocks.
fn write_lora(
    path: &std::path::Path,
    cfg: &Config,
    blocks: usize,
    r: usize,
) -> Result<HashMap<String, Vec<usize>>> {
    let dev = Device::Cpu;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut shapes = HashMap::new();
    for i in 0..blocks {
        for (name, out, inp) in block_linears(cfg, i) {
            let wan = diffusers_to_wan(&name).context("name table")?;
            let k = format!("diffusion_model.{wan}");
            tensors.insert(
                format!("{k}.lora_down.weight"),
                Tensor::randn(0f32, 0.01, (r, inp), &dev)?.to_dtype(DType::BF16)?,
            );
            tensors.insert(
                format!("{k}.lora_up.weight"),
                Tensor::randn(0f32, 0.01, (out, r), &dev)?.to_dtype(DType::BF16)?,
            );
            tensors.insert(format!("{k}.alpha"), Tensor::new(r as f32, &dev)?);
            shapes.insert(format!("{name}.weight"), vec![out, inp]);
            shapes.insert(format!("{name}.bias"), vec![out]);
        }
    }
    candle_core::safetensors::save(&tensors, path)?;
    Ok(shapes)
}

fn time_load(args: &Args, cfg: &Config) -> Result<()> {
    let blocks = if args.dry_run { 2 } else { 40 };
    let tmp = std::env::temp_dir().join(format!("bench_lora_{}.safetensors", std::process::id()));
    let shapes = write_lora(&tmp, cfg, blocks, args.load_rank)?;
    let bytes = std::fs::metadata(&tmp)?.len();
    let mut times = Vec::new();
    for _ in 0..args.iters.max(1) {
        let start = Instant::now();
        let file = read_lora_file(&tmp)?;
        let a = Adapter::from_lora(
            &file,
            |n| shapes.get(n).cloned(),
            "bench",
            DType::F32,
            &Device::Cpu,
        )?;
        times.push(start.elapsed().as_secs_f64());
        drop(a);
    }
    let _ = std::fs::remove_file(&tmp);
    println!(
        "adapter load: rank {} on {} linear layers ({blocks} blocks), {:.0} MB bf16 file: read + convert \
         {:.3} s (median of {}; runs: {})",
        args.load_rank,
        blocks * 12,
        bytes as f64 / 1e6,
        median(times.clone()),
        times.len(),
        times.iter().map(|s| format!("{s:.3}")).collect::<Vec<_>>().join(" ")
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut cfg = config(args.dry_run)?;
    time_block(&args, &cfg)?;
    if args.load_rank > 0 {
        cfg.num_layers = 40;
        time_load(&args, &cfg)?;
    }
    Ok(())
}
