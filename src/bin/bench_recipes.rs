//! Wall-clock comparison of the recipes on this CPU with a small random-weight model of the real
//! architecture.
//!
//! The pipeline is the committed tiny held-out fixture (tests/fixtures/heldout/pipeline: VAE, umT5,
//! CLIP, tokenizer, scheduler) with its transformer replaced by a wider random
//! `ChronoEditTransformer3DModel` (same class and config keys, I2V image projections, RoPE temporal
//! skip 8; width, depth and heads from the flags), written to a temporary diffusers folder and loaded
//! through `ChronoEditPipeline::load`. Every recipe runs on the same inputs; recipes are interleaved
//! case by case (the order rotates per case), and every ratio comes from this one run. Step counts are
//! scaled: a plan's 50 steps become `--steps`, N_r keeping its share as `physedit edit --steps` does
//! ([`physedit::adaptive::plan::resolve`]). Tokens and
//! executed FLOPs (cost model on the tokens actually computed, SRM probe included) are printed next
//! to the seconds.
//!
//! `cargo run --bin bench_recipes -- [--size 128] [--steps 10] [--dim 128] [--layers 6] [--heads 4]`
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::Parser;

use physedit::adaptive::card::CardInput;
use physedit::adaptive::cost::ModelDims;
use physedit::adaptive::plan::{Overrides, Planner, Recipe, Resolved};
use physedit::adaptive::srm::{Probe, SrmConfig, TokenMask};
use physedit::models::transformer::{ChronoEditTransformer3DModel, Config};
use physedit::pipeline::chronoedit::{
    AdaptiveOptions, ChronoEditPipeline, EditOutput, EditRequest, LoadOptions,
};

#[derive(Parser, Debug)]
struct Args {
    /// Image side in pixels (multiple of 16).
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Denoising steps that stand for the plans' 50.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Transformer width (heads x head dim).
    #[arg(long, default_value_t = 128)]
    dim: usize,
    #[arg(long, default_value_t = 4)]
    heads: usize,
    #[arg(long, default_value_t = 6)]
    layers: usize,
    /// Instructions to run (up to the built-in list's length).
    #[arg(long, default_value_t = 4)]
    cases: usize,
    /// Dilation radius (tokens) of the probed SRM masks.
    #[arg(long, default_value_t = 1)]
    dilate: usize,
    /// Write the per-run records as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

const INSTRUCTIONS: &[&str] = &[
    "Make the cup blue.",
    "Push the red ball to the right.",
    "The glass tips over and the water spills across the table.",
    "Add a hat on the cat.",
    "Stack three blocks on top of each other.",
    "Remove the lamp from the desk.",
];

fn fixture_pipeline() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/heldout/pipeline")
}

fn copy_dir(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let e = e?;
        let to = dst.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

/// Writes a random transformer with the fixture's interface (text/image dims, channels) and the given
/// width/depth into `dir/transformer`.
fn write_transformer(dir: &Path, args: &Args) -> Result<Config> {
    let src = fixture_pipeline().join("transformer/config.json");
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&src)?)?;
    let head_dim = args.dim / args.heads;
    cfg["num_attention_heads"] = args.heads.into();
    cfg["attention_head_dim"] = head_dim.into();
    cfg["num_layers"] = args.layers.into();
    cfg["ffn_dim"] = (4 * args.dim).into();
    cfg["freq_dim"] = 256.into();
    cfg["added_kv_proj_dim"] = args.dim.into();
    cfg["rope_max_seq_len"] = 1024.into();
    let tdir = dir.join("transformer");
    std::fs::create_dir_all(&tdir)?;
    let text = serde_json::to_string_pretty(&cfg)?;
    std::fs::write(tdir.join("config.json"), &text)?;
    let config = Config::from_json_str(&text)?;

    // Names and shapes exactly as the model asks for them.
    let varmap = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    ChronoEditTransformer3DModel::new(&config, vb)?;
    let mut seed = 0x5EEDu64;
    let mut tensors = HashMap::new();
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let shape = var.shape().clone();
        let dims = shape.dims().to_vec();
        seed += 1;
        // The timing tools' rule, with seeded draws so that every run times the same weights.
        let t = match physedit::checkpoint::random_weight_std(name, &dims) {
            None => Tensor::ones(shape, DType::F32, &Device::Cpu)?,
            Some(std) => {
                let n: usize = dims.iter().product();
                let v = physedit::pipeline::chronoedit::seeded_normal(
                    (1, 1, 1, 1, n),
                    seed,
                    &Device::Cpu,
                )?;
                (v.reshape(dims)? * std)?
            }
        };
        tensors.insert(name.clone(), t);
    }
    candle_core::safetensors::save(&tensors, tdir.join("diffusion_pytorch_model.safetensors"))?;
    Ok(config)
}

struct Variant {
    name: String,
    recipe: Recipe,
    srm: Option<SrmConfig>,
}

#[derive(serde::Serialize, Clone)]
struct Record {
    case: usize,
    prompt: String,
    variant: String,
    tier: String,
    steps: usize,
    reasoning_steps: usize,
    reasoning_frames: usize,
    coverage: f64,
    probe_s: f64,
    encode_s: f64,
    denoise_s: f64,
    decode_s: f64,
    total_s: f64,
    tokens: usize,
    flops: f64,
    mask: Option<TokenMask>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let tmp = std::env::temp_dir().join(format!("bench_recipes_{}", std::process::id()));
    let dir = tmp.join("pipeline");
    copy_dir(&fixture_pipeline(), &dir)?;
    std::fs::remove_dir_all(dir.join("transformer"))?;
    write_transformer(&dir, &args)?;
    let pipe = ChronoEditPipeline::load(&dir, &LoadOptions::default())?;
    let dims = ModelDims::from_model_dir(&dir)?;
    let image = physedit::util::open_image(&fixture_pipeline().join("../input.png"))?;
    let tpf = (args.size / 16) * (args.size / 16);
    eprintln!(
        "model: random ChronoEditTransformer3DModel dim {} ({} heads), {} blocks, ffn {}; {}x{} px = {} tokens per latent frame; {} steps stand for 50; SRM dilation {}",
        args.dim, args.heads, args.layers, 4 * args.dim, args.size, args.size, tpf, args.steps, args.dilate
    );

    let probed = SrmConfig {
        dilate: args.dilate,
        ..Default::default()
    };
    let variants = vec![
        Variant {
            name: "chronoedit-reasoning".into(),
            recipe: Recipe::ChronoeditReasoning,
            srm: None,
        },
        Variant {
            name: "chronoedit-short".into(),
            recipe: Recipe::ChronoeditShort,
            srm: None,
        },
        Variant {
            name: "no-reasoning".into(),
            recipe: Recipe::NoReasoning,
            srm: None,
        },
        Variant {
            name: "card-only".into(),
            recipe: Recipe::CardOnly,
            srm: None,
        },
        Variant {
            name: "physedit".into(),
            recipe: Recipe::Physedit,
            srm: Some(probed.clone()),
        },
        Variant {
            name: "srm-only (first-step probe)".into(),
            recipe: Recipe::SrmOnly,
            srm: Some(probed.clone()),
        },
        Variant {
            name: "srm-only (probe pass, sigma 0.8)".into(),
            recipe: Recipe::SrmOnly,
            srm: Some(SrmConfig {
                probe: Probe::Pass { sigma: 0.8 },
                ..probed.clone()
            }),
        },
        Variant {
            name: "srm-only (given 25% mask)".into(),
            recipe: Recipe::SrmOnly,
            srm: Some(SrmConfig {
                probe: Probe::Given({
                    let g = args.size / 16;
                    let mut m = TokenMask::empty(g, g);
                    for y in 0..g / 2 {
                        for x in 0..g / 2 {
                            m.keep[y * g + x] = true;
                        }
                    }
                    m
                }),
                ..Default::default()
            }),
        },
    ];

    let planner = Planner::default();
    let overrides = Overrides {
        steps: Some(args.steps),
        ..Default::default()
    };
    let run = |prompt: &str, v: &Variant, case: usize| -> Result<(Record, EditOutput)> {
        let (_, Resolved { plan, schedule }) = planner.resolve(
            v.recipe,
            &CardInput::new(prompt),
            &overrides,
            pipe.geometry(),
        )?;
        let req = EditRequest::planned(prompt, &schedule, (args.size, args.size), case as u64);
        let adaptive = AdaptiveOptions {
            srm: if schedule.srm { v.srm.clone() } else { None },
            accel: schedule.accel,
            region_mask: None,
        };
        let t = Instant::now();
        let out = pipe.edit_with(&image, &req, &adaptive, &mut |_, _| {})?;
        let total_s = t.elapsed().as_secs_f64();
        let flops = out.transformer_flops(&dims).total;
        let rec = Record {
            case,
            prompt: prompt.to_string(),
            variant: v.name.clone(),
            tier: plan.tier.to_string(),
            steps: plan.steps,
            reasoning_steps: plan.reasoning_steps,
            reasoning_frames: plan.reasoning_frames,
            coverage: out.srm.as_ref().map_or(1.0, |s| s.coverage),
            probe_s: out.srm.as_ref().map_or(0.0, |s| s.probe_s),
            encode_s: out.times.encode_s,
            denoise_s: out.times.denoise_s,
            decode_s: out.times.decode_s,
            total_s,
            tokens: out.tokens_per_step.iter().sum::<usize>() * out.forwards_per_step,
            flops,
            mask: out.srm.as_ref().map(|s| s.mask.clone()),
        };
        Ok((rec, out))
    };

    // Warm-up (allocator, thread pool, page cache).
    run(INSTRUCTIONS[0], &variants[2], 0)?;

    let cases = args.cases.min(INSTRUCTIONS.len()).max(1);
    let mut records: Vec<Record> = Vec::new();
    for (c, prompt) in INSTRUCTIONS.iter().take(cases).enumerate() {
        let n = variants.len();
        for k in 0..n {
            let v = &variants[(k + c) % n];
            let (rec, _) = run(prompt, v, c)?;
            eprintln!(
                "case {c} {:<34} tier {:<4} S {:>2} N_r {:>2} r {} cov {:.2} total {:>7.2} s (probe {:.2}, denoise {:.2}) tokens {:>6} TFLOP {:.4}",
                rec.variant, rec.tier, rec.steps, rec.reasoning_steps, rec.reasoning_frames, rec.coverage,
                rec.total_s, rec.probe_s, rec.denoise_s, rec.tokens, rec.flops / 1e12
            );
            records.push(rec);
        }
        // Probe agreement on this case.
        let mask_of = |name: &str| {
            records
                .iter()
                .find(|r| r.case == c && r.variant.starts_with(name))
                .and_then(|r| r.mask.clone())
        };
        if let (Some(a), Some(b)) = (
            mask_of("srm-only (first-step"),
            mask_of("srm-only (probe pass"),
        ) {
            eprintln!(
                "case {c}: first-step vs pass mask IoU {:.3} (coverage {:.2} / {:.2}; fallbacks {:?} / {:?})",
                a.iou(&b), a.coverage(), b.coverage(), a.fallback, b.fallback
            );
        }
    }

    // Summary: means over cases, ratios to the reference recipe.
    let base: f64 = mean(
        records
            .iter()
            .filter(|r| r.variant == "chronoedit-reasoning")
            .map(|r| r.total_s),
    );
    let base_flops: f64 = mean(
        records
            .iter()
            .filter(|r| r.variant == "chronoedit-reasoning")
            .map(|r| r.flops),
    );
    println!(
        "| recipe | mean total s | ratio vs chronoedit-reasoning | denoise s | probe s | tokens/edit | transformer TFLOP | FLOP ratio | mean SRM coverage |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for v in &variants {
        let rs: Vec<&Record> = records.iter().filter(|r| r.variant == v.name).collect();
        let t = mean(rs.iter().map(|r| r.total_s));
        let f = mean(rs.iter().map(|r| r.flops));
        println!(
            "| {} | {:.2} | {:.3} | {:.2} | {:.3} | {:.0} | {:.4} | {:.3} | {:.2} |",
            v.name,
            t,
            t / base,
            mean(rs.iter().map(|r| r.denoise_s)),
            mean(rs.iter().map(|r| r.probe_s)),
            mean(rs.iter().map(|r| r.tokens as f64)),
            f / 1e12,
            f / base_flops,
            mean(rs.iter().map(|r| r.coverage)),
        );
    }
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_string_pretty(&records)?)?;
    }
    drop(pipe);
    std::fs::remove_dir_all(&tmp).ok();
    Ok(())
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = it.collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}
