//! The device check's measurements (`tools/gpu/check.sh` runs it): on the device `physedit edit`
//! would use (a CUDA GPU in CUDA builds, else the CPU), one JSON object on stdout.
//!
//! - `parity`: the committed tiny fixture pipelines (tests/fixtures/tiny_a, tiny_b: diffusers'
//!   frames for given initial latents) run in f32 on the device and on the CPU; the largest frame
//!   difference device vs CPU and device vs diffusers (the project's bar: 2e-3).
//! - `forward`: one transformer forward with random weights generated on the device (no file), the
//!   given config and dtype, a CFG batch of two, at the given latent size and frame counts: seconds
//!   (median of `--iters` after `--warmup`), the device's peak memory, the attention kernel.
//! - `recipes`: whole edits per recipe with the tiny held-out pipeline's VAE and encoders and its
//!   transformer replaced by a random one of the given size (weights generated on the device), at
//!   the given picture size, `--steps` standing for the recipes' 50 (N_r keeps its share, as
//!   `physedit edit --steps` does); seconds per phase, tokens, peak memory.
//!
//! `bench_gpu parity|forward|recipes [flags]`; see `--help`.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use physedit::adaptive::card::CardInput;
use physedit::adaptive::plan::{Overrides, Planner, Recipe, Resolved};
use physedit::adaptive::srm::SrmConfig;
use physedit::checkpoint::parse_dtype;
use physedit::device::{describe_device, device_memory, reset_peak_memory, select_device};
use physedit::models::attention::describe_attention;
use physedit::models::transformer::{ChronoEditTransformer3DModel, Config};
use physedit::pipeline::chronoedit::{
    AdaptiveOptions, ChronoEditPipeline, EditRequest, LoadOptions,
};

#[derive(Parser, Debug)]
#[command(about = "Device measurements for tools/gpu/check.sh (one JSON object on stdout)")]
struct Args {
    /// Run on the CPU even in a CUDA build.
    #[arg(long, global = true)]
    cpu: bool,
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Args, Debug, Clone)]
struct Model {
    #[arg(long, default_value_t = 40)]
    heads: usize,
    #[arg(long, default_value_t = 128)]
    head_dim: usize,
    #[arg(long, default_value_t = 40)]
    layers: usize,
    #[arg(long, default_value_t = 13824)]
    ffn: usize,
    #[arg(long, default_value = "bf16")]
    dtype: String,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Device vs CPU vs diffusers on the committed fixtures (f32).
    Parity {
        #[arg(long, value_delimiter = ',', default_value = "tiny_a,tiny_b")]
        cases: Vec<String>,
    },
    /// Every attention kernel that can run here against the naive one (f32 scores) on random
    /// inputs: largest difference and seconds per call.
    Attention {
        /// B,H,S,D shapes (self-attention), separated by `;`.
        #[arg(
            long,
            value_delimiter = ';',
            default_value = "2,40,3120,128;2,40,12480,128"
        )]
        shapes: Vec<String>,
        #[arg(long, default_value = "bf16")]
        dtype: String,
    },
    /// One transformer forward, CFG batch of two, random weights on the device.
    Forward {
        #[command(flatten)]
        model: Model,
        /// Latent frame counts, one forward each.
        #[arg(long, value_delimiter = ',', default_value = "2,8")]
        frames: Vec<usize>,
        /// Latent height and width (pixels / 8).
        #[arg(long, default_value_t = 60)]
        latent_height: usize,
        #[arg(long, default_value_t = 104)]
        latent_width: usize,
        #[arg(long, default_value_t = 4096)]
        text_dim: usize,
        #[arg(long, default_value_t = 1280)]
        image_dim: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        #[arg(long, default_value_t = 2)]
        iters: usize,
    },
    /// Whole edits per recipe, transformer of the given size.
    Recipes {
        #[command(flatten)]
        model: Model,
        #[arg(long, default_value_t = 480)]
        height: usize,
        #[arg(long, default_value_t = 832)]
        width: usize,
        /// Steps standing for the recipes' 50 (the distilled recipe's 8 scaled alike).
        #[arg(long, default_value_t = 5)]
        steps: usize,
    },
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn random_transformer(
    cfg: &Config,
    dtype: DType,
    device: &Device,
) -> Result<ChronoEditTransformer3DModel> {
    let vb = physedit::checkpoint::random_var_builder(dtype, device);
    Ok(ChronoEditTransformer3DModel::new(cfg, vb)?)
}

/// A transformer config: `base`'s interface (channels, text/image dims) with `m`'s size.
fn sized_config(base: &Value, m: &Model) -> Result<Config> {
    let mut cfg = base.clone();
    let dim = m.heads * m.head_dim;
    cfg["num_attention_heads"] = m.heads.into();
    cfg["attention_head_dim"] = m.head_dim.into();
    cfg["num_layers"] = m.layers.into();
    cfg["ffn_dim"] = m.ffn.into();
    cfg["freq_dim"] = 256.into();
    cfg["added_kv_proj_dim"] = dim.into();
    cfg["rope_max_seq_len"] = 1024.into();
    Ok(Config::from_json_str(&serde_json::to_string(&cfg)?)?)
}

fn sync(device: &Device) -> Result<()> {
    device.synchronize()?;
    Ok(())
}

fn memory_json(device: &Device) -> Result<Value> {
    Ok(serde_json::to_value(device_memory(device)?)?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn fixture_request(run: &str, meta: &Value, latents: Tensor) -> EditRequest {
    let r = &meta["runs"][run];
    let u = |k: &str| r[k].as_u64().unwrap_or(0) as usize;
    EditRequest {
        prompt: r["prompt"].as_str().unwrap_or("").to_string(),
        negative_prompt: r["negative_prompt"].as_str().unwrap_or("").to_string(),
        steps: u("steps"),
        guidance: r["guidance"].as_f64().unwrap_or(1.0),
        height: u("height"),
        width: u("width"),
        num_frames: u("num_frames"),
        temporal_reasoning: r["enable_temporal_reasoning"].as_bool().unwrap_or(false),
        reasoning_steps: u("num_temporal_reasoning_steps"),
        temporal_positions: None,
        latents: Some(latents),
        seed: 0,
        flow_shift: None,
    }
}

fn parity(device: &Device, cases: &[String]) -> Result<Value> {
    let mut rows = Vec::new();
    let mut worst = 0f32;
    for case in cases {
        let dir = fixtures().join(case);
        let meta: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("meta.json"))
                .with_context(|| format!("fixture {case}"))?,
        )?;
        let reference =
            candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu)?;
        let image = physedit::util::open_image(&dir.join("input.png"))?;
        let load = |d: &Device| {
            ChronoEditPipeline::load(
                &dir.join("pipeline"),
                &LoadOptions {
                    device: d.clone(),
                    ..Default::default()
                },
            )
        };
        let (on_device, on_cpu) = (load(device)?, load(&Device::Cpu)?);
        let runs = meta["runs"].as_object().context("meta.json: runs")?;
        for run in runs.keys() {
            let latents = reference[&format!("run.{run}.latents")].clone();
            let want = &reference[&format!("run.{run}.frames")];
            let req = fixture_request(run, &meta, latents);
            let a = on_device
                .edit(&image, &req, &mut |_, _| {})?
                .frames
                .to_device(&Device::Cpu)?;
            let b = on_cpu.edit(&image, &req, &mut |_, _| {})?.frames;
            let diff = |x: &Tensor, y: &Tensor| -> Result<f32> {
                Ok((x - y)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
            };
            let (dc, dr) = (diff(&a, &b)?, diff(&a, want)?);
            worst = worst.max(dc).max(dr);
            rows.push(
                json!({"case": case, "run": run, "device_vs_cpu": dc, "device_vs_diffusers": dr}),
            );
        }
    }
    Ok(json!({"runs": rows, "max_diff": worst, "tolerance": 2e-3, "pass": worst <= 2e-3}))
}

fn attention_check(device: &Device, shapes: &[String], dtype: &str) -> Result<Value> {
    use physedit::models::attention::{
        attention, naive_attention, AttentionConfig, AttentionKernel,
    };
    let dtype = parse_dtype(dtype)?;
    let mut rows = Vec::new();
    let mut worst = 0f32;
    for shape in shapes {
        let dims: Vec<usize> = shape
            .split(',')
            .map(|x| x.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .with_context(|| format!("--shapes: `{shape}` is not B,H,S,D"))?;
        let [b, h, sq, d] = dims[..] else {
            anyhow::bail!("--shapes: `{shape}` is not B,H,S,D");
        };
        let make = || -> Result<Tensor> {
            Ok(Tensor::randn(0f32, 1.0, (b, h, sq, d), device)?.to_dtype(dtype)?)
        };
        let (q, k, v) = (make()?, make()?, make()?);
        let scale = 1.0 / (d as f64).sqrt();
        // The naive reference materialises B·H·S² f32 scores: skip it where that exceeds 8 GiB.
        let reference = if b * h * sq * sq * 4 <= 8 << 30 {
            Some(naive_attention(&q, &k, &v, scale)?.to_dtype(DType::F32)?)
        } else {
            None
        };
        for kernel in [
            AttentionKernel::Auto,
            AttentionKernel::Flash,
            AttentionKernel::Chunked,
        ] {
            let cfg = AttentionConfig {
                kernel,
                ..Default::default()
            };
            let resolved = physedit::models::attention::resolve_kernel(
                kernel,
                device.is_cpu(),
                false,
                physedit::models::attention::flash_supports(&q, &k, &v, None, false),
            );
            let out = attention(&q, &k, &v, scale, None, &cfg)?;
            sync(device)?;
            let t = Instant::now();
            let out2 = attention(&q, &k, &v, scale, None, &cfg)?;
            sync(device)?;
            let secs = t.elapsed().as_secs_f64();
            drop(out2);
            let diff = match &reference {
                Some(r) => {
                    let dd = (out.to_dtype(DType::F32)? - r)?
                        .abs()?
                        .flatten_all()?
                        .max(0)?
                        .to_scalar::<f32>()?;
                    worst = worst.max(dd);
                    Some(dd)
                }
                None => None,
            };
            rows.push(
                json!({"shape": dims, "requested": kernel.name(), "ran": resolved.name(),
                             "seconds": secs, "max_diff_vs_naive": diff}),
            );
        }
    }
    // Outputs in bf16 carry ~2^-8 relative rounding: the bar is 2e-2 on these unit-variance inputs
    // (f32: 1e-4).
    let tol: f64 = if dtype == DType::F32 { 1e-4 } else { 2e-2 };
    let pass = f64::from(worst) <= tol;
    Ok(
        json!({"dtype": format!("{dtype:?}"), "runs": rows, "max_diff": worst, "tolerance": tol, "pass": pass}),
    )
}

#[allow(clippy::too_many_arguments)]
fn forward(
    device: &Device,
    m: &Model,
    frames: &[usize],
    lh: usize,
    lw: usize,
    text_dim: usize,
    image_dim: usize,
    warmup: usize,
    iters: usize,
) -> Result<Value> {
    let dtype = parse_dtype(&m.dtype)?;
    let base = json!({
        "patch_size": [1, 2, 2], "in_channels": 36, "out_channels": 16, "text_dim": text_dim,
        "image_dim": image_dim, "cross_attn_norm": true, "qk_norm": "rms_norm_across_heads",
        "eps": 1e-6, "rope_temporal_skip_len": 8, "pos_embed_seq_len": null,
    });
    let cfg = sized_config(&base, m)?;
    reset_peak_memory(device)?;
    let t0 = Instant::now();
    let model = random_transformer(&cfg, dtype, device)?;
    sync(device)?;
    let build_s = t0.elapsed().as_secs_f64();
    let weights_memory = memory_json(device)?;
    let mut rows = Vec::new();
    for &f in frames {
        let x = Tensor::randn(0f32, 1.0, (2, 36, f, lh, lw), device)?.to_dtype(dtype)?;
        let ts = Tensor::new(&[500f32, 500.0], device)?;
        let text = Tensor::randn(0f32, 1.0, (2, 512, text_dim), device)?.to_dtype(dtype)?;
        let img = Tensor::randn(0f32, 1.0, (2, 257, image_dim), device)?.to_dtype(dtype)?;
        reset_peak_memory(device)?;
        let run = || -> Result<f64> {
            let t = Instant::now();
            let out = model.forward(&x, &ts, &text, Some(&img))?;
            sync(device)?;
            drop(out);
            Ok(t.elapsed().as_secs_f64())
        };
        for _ in 0..warmup {
            run()?;
        }
        let times: Vec<f64> = (0..iters.max(1)).map(|_| run()).collect::<Result<_>>()?;
        let tokens = f * (lh / 2) * (lw / 2);
        rows.push(json!({
            "latent_frames": f, "tokens_per_sample": tokens, "batch": 2,
            "seconds": median(times.clone()), "all_seconds": times,
            "memory": memory_json(device)?,
        }));
    }
    Ok(json!({
        "config": {"heads": m.heads, "head_dim": m.head_dim, "layers": m.layers, "ffn": m.ffn,
                   "text_dim": text_dim, "image_dim": image_dim, "latent": [lh, lw]},
        "dtype": m.dtype, "attention": describe_attention(device, dtype),
        "weights_build_s": build_s, "after_weights": weights_memory, "runs": rows,
    }))
}

/// One instruction per CARD tier of the default plan table (low, mid, high).
const INSTRUCTIONS: &[&str] = &[
    "Make the cup blue.",
    "Add a hat on the cat.",
    "Push the red ball to the right.",
];

fn recipes(device: &Device, m: &Model, (h, w): (usize, usize), steps: usize) -> Result<Value> {
    let dtype = parse_dtype(&m.dtype)?;
    let dir = fixtures().join("heldout/pipeline");
    let image = physedit::util::open_image(&fixtures().join("heldout/input.png"))?;
    reset_peak_memory(device)?;
    let mut pipe = ChronoEditPipeline::load(
        &dir,
        &LoadOptions {
            dtype,
            device: device.clone(),
            ..Default::default()
        },
    )?;
    let base: Value = serde_json::from_str(&std::fs::read_to_string(
        dir.join("transformer/config.json"),
    )?)?;
    let cfg = sized_config(&base, m)?;
    // The big transformer replaces the fixture's (same interface: channels, text and image dims).
    pipe.transformer = random_transformer(&cfg, dtype, device)?;
    let planner = Planner::default();
    let mut rows = Vec::new();
    let mut variants: Vec<(String, Recipe, &str)> = vec![
        (
            "chronoedit-reasoning".into(),
            Recipe::ChronoeditReasoning,
            INSTRUCTIONS[2],
        ),
        (
            "chronoedit-short".into(),
            Recipe::ChronoeditShort,
            INSTRUCTIONS[2],
        ),
        ("no-reasoning".into(), Recipe::NoReasoning, INSTRUCTIONS[2]),
        (
            "chronoedit-distill".into(),
            Recipe::ChronoeditDistill,
            INSTRUCTIONS[2],
        ),
    ];
    for prompt in INSTRUCTIONS {
        variants.push(("physedit".into(), Recipe::Physedit, prompt));
    }
    // Warm-up: kernels, allocator.
    let warm = EditRequest::planned(
        INSTRUCTIONS[0],
        &planner
            .resolve(
                Recipe::NoReasoning,
                &CardInput::new(INSTRUCTIONS[0]),
                &Overrides {
                    steps: Some(1),
                    ..Default::default()
                },
                pipe.geometry(),
            )?
            .1
            .schedule,
        (h, w),
        0,
    );
    pipe.edit(&image, &warm, &mut |_, _| {})?;
    for (name, recipe, prompt) in variants {
        // The distilled recipe's 8 steps scale like the others' 50.
        let scaled = if matches!(recipe, Recipe::ChronoeditDistill) {
            (steps * 8).div_ceil(50).max(1)
        } else {
            steps
        };
        let (_, Resolved { plan, schedule }) = planner.resolve(
            recipe,
            &CardInput::new(prompt),
            &Overrides {
                steps: Some(scaled),
                ..Default::default()
            },
            pipe.geometry(),
        )?;
        let name = if matches!(recipe, Recipe::Physedit) {
            format!("physedit ({} tier)", plan.tier)
        } else {
            name
        };
        let req = EditRequest::planned(prompt, &schedule, (h, w), 0);
        let adaptive = AdaptiveOptions {
            srm: schedule.srm.then(SrmConfig::default),
            accel: schedule.accel,
            region_mask: None,
        };
        reset_peak_memory(device)?;
        let t = Instant::now();
        let out = pipe.edit_with(&image, &req, &adaptive, &mut |_, _| {})?;
        sync(device)?;
        let total = t.elapsed().as_secs_f64();
        eprintln!("{name}: {total:.2} s");
        rows.push(json!({
            "recipe": name, "tier": plan.tier.to_string(), "prompt": prompt,
            "plan_steps": plan.steps, "steps": schedule.steps, "reasoning_steps": schedule.reasoning_steps,
            "num_frames": schedule.num_frames, "guidance": schedule.guidance,
            "tokens": out.tokens_per_step.iter().sum::<usize>() * out.forwards_per_step,
            "seconds": total, "encode_s": out.times.encode_s, "denoise_s": out.times.denoise_s,
            "decode_s": out.times.decode_s,
            "srm_coverage": out.srm.as_ref().map(|s| s.coverage),
            "memory": memory_json(device)?,
        }));
    }
    Ok(json!({
        "config": {"heads": m.heads, "head_dim": m.head_dim, "layers": m.layers, "ffn": m.ffn},
        "dtype": m.dtype, "size": [h, w], "steps_for_50": steps,
        "attention": describe_attention(device, dtype),
        "note": "random transformer of this size inside the tiny held-out pipeline (its VAE and encoders); steps cut from 50 (distill: from 8) proportionally",
        "runs": rows,
    }))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (device, notice) = select_device(args.cpu);
    if let Some(n) = &notice {
        eprintln!("{n}");
    }
    let t0 = Instant::now();
    let result = match &args.what {
        What::Parity { cases } => parity(&device, cases)?,
        What::Attention { shapes, dtype } => attention_check(&device, shapes, dtype)?,
        What::Forward {
            model,
            frames,
            latent_height,
            latent_width,
            text_dim,
            image_dim,
            warmup,
            iters,
        } => forward(
            &device,
            model,
            frames,
            *latent_height,
            *latent_width,
            *text_dim,
            *image_dim,
            *warmup,
            *iters,
        )?,
        What::Recipes {
            model,
            height,
            width,
            steps,
        } => recipes(&device, model, (*height, *width), *steps)?,
    };
    let out = json!({
        "device": describe_device(&device),
        "cuda": device.is_cuda(),
        "fallback_notice": notice,
        "wall_s": t0.elapsed().as_secs_f64(),
        "result": result,
    });
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
