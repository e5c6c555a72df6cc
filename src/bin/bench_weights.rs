//! Storage forms of the transformer's weights on the CPU.
//!
//! `block`: one transformer block of the real ChronoEdit-14B width (d 5120, 40 heads × 128, ffn 13 824,
//! I2V image projections, a 512-token prompt with 20 real rows, 257 image tokens) with seeded random
//! weights (the timing tools' N(0, 1/fan_in) rule), its block Linear weights stored as f32, bf16, fp8
//! (ComfyUI's scaled form), Q8_0 and Q4_K (multiplied by dequantizing per use, PhysEdit's default; the
//! forms `q8_0-kernel` and `q4_k-kernel` use candle's quantized matmul kernel instead); the rest f32 (bf16 for the bf16 form, which also computes
//! in bf16; the others compute in f32). Each form runs in its own child process on the same weights
//! and input (so peak resident memories do not mix): one untimed warm-up forward (it also computes
//! the cached context keys and values), then `--reps` timed forwards of `--frames` latent frames of
//! `--latent`; reported: the best and mean forward time, the child's peak resident memory (VmHWM),
//! the bytes of the block's Linear weights as stored, and the output's relative error to the f32
//! form's (‖y − y_f32‖ / ‖y_f32‖, and the same for the block's update y − x).
//!
//! `compare A B`: PSNR / SSIM (`physedit::eval::fidelity`) of every picture of folder B to the
//! same-named picture of folder A (the world slice edited from a quantized file against the f32 one).
//!
//! `cargo run --release --bin bench_weights -- block --frames 1 --latent 30x52`
//! `cargo run --release --bin bench_weights -- compare OUT_F32/edited OUT_Q8/edited`
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use clap::{Parser, Subcommand};

use physedit::checkpoint::keys::diffusers_to_wan;
use physedit::checkpoint::quantize::{fp8_scaled, is_block_linear};
use physedit::models::linear::{LinearStore, LinearWeight};
use physedit::models::transformer::{ChronoEditTransformer3DModel, Config, ForwardOptions};
use physedit::pipeline::chronoedit::seeded_normal;

#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Time one real-width block in each storage form (each in a child process).
    Block(BlockArgs),
    /// PSNR / SSIM of folder B's pictures to folder A's.
    Compare { a: PathBuf, b: PathBuf },
}

#[derive(clap::Args, Debug, Clone)]
struct BlockArgs {
    /// Storage forms, in order (the first must be f32: the others' error is measured against it).
    #[arg(long, value_delimiter = ',', default_values_t = ["f32".to_string(), "bf16".into(), "fp8".into(), "q8_0".into(), "q4_k".into(), "q8_0-kernel".into(), "q4_k-kernel".into()])]
    forms: Vec<String>,
    /// Latent frames of the input.
    #[arg(long, default_value_t = 1)]
    frames: usize,
    /// Latent height x width (60x104 is 480x832; patch 2x2 makes HxW/4 tokens per frame).
    #[arg(long, default_value = "30x52")]
    latent: String,
    /// Timed forwards after the warm-up.
    #[arg(long, default_value_t = 2)]
    reps: usize,
    /// A narrow block instead of the real width (a quick check of this tool).
    #[arg(long)]
    dry_run: bool,
    /// Internal: run one form and write its output to this file.
    #[arg(long, hide = true)]
    child_out: Option<PathBuf>,
}

fn config(dry: bool) -> Result<Config> {
    let (heads, head_dim, ffn, text, image) = if dry {
        (2, 128, 512, 64, 32)
    } else {
        (40, 128, 13824, 4096, 1280)
    };
    let v = serde_json::json!({
        "added_kv_proj_dim": heads * head_dim, "attention_head_dim": head_dim, "cross_attn_norm": true,
        "eps": 1e-6, "ffn_dim": ffn, "freq_dim": 256, "image_dim": image, "in_channels": 36,
        "num_attention_heads": heads, "num_layers": 1, "out_channels": 16, "patch_size": [1, 2, 2],
        "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 1024, "rope_temporal_skip_len": 8,
        "text_dim": text,
    });
    Ok(Config::from_json_str(&v.to_string())?)
}

/// Records the names and shapes a model asks for, serving broadcast zeros (no memory).
#[derive(Default, Clone)]
struct Shapes(Arc<Mutex<Vec<(String, Vec<usize>)>>>);

impl SimpleBackend for Shapes {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.0
            .lock()
            .expect("shape list")
            .push((name.to_string(), s.dims().to_vec()));
        Tensor::zeros((), dtype, dev)?.broadcast_as(s)
    }
    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("no shape known for {name}")
    }
    fn contains_tensor(&self, _: &str) -> bool {
        true
    }
}

fn seeded(dims: &[usize], seed: u64) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    Ok(seeded_normal((1, 1, 1, 1, n), seed, &Device::Cpu)?.reshape(dims)?)
}

/// The block in storage form `form`: (model, bytes of the block Linear weights as stored).
fn build(cfg: &Config, form: &str) -> Result<(ChronoEditTransformer3DModel, usize)> {
    let shapes = Shapes::default();
    let probe = VarBuilder::from_backend(Box::new(shapes.clone()), DType::F32, Device::Cpu);
    ChronoEditTransformer3DModel::new(cfg, probe)?;
    let list = shapes.0.lock().expect("shape list").clone();
    let dtype = if form == "bf16" {
        DType::BF16
    } else {
        DType::F32
    };
    let mut dense = HashMap::new();
    let mut store = LinearStore::new();
    let mut linear_bytes = 0usize;
    // `-kernel`: the same storage multiplied by candle's quantized matmul kernel (the parent sets
    // PHYSEDIT_QMATMUL=kernel for the child).
    let form = form.strip_suffix("-kernel").unwrap_or(form);
    for (i, (name, dims)) in list.iter().enumerate() {
        if dense.contains_key(name) || store.contains_key(name) {
            continue;
        }
        let t = match physedit::checkpoint::random_weight_std(name, dims) {
            None => Tensor::ones(dims.as_slice(), DType::F32, &Device::Cpu)?,
            Some(std) => (seeded(dims, 1000 + i as u64)? * std)?,
        };
        let linear = dims.len() == 2 && diffusers_to_wan(name).is_some_and(|w| is_block_linear(&w));
        if !linear {
            dense.insert(name.clone(), t.to_dtype(dtype)?);
            continue;
        }
        let w = match form {
            "f32" => LinearWeight::Dense(t),
            "bf16" => LinearWeight::Dense(t.to_dtype(DType::BF16)?),
            "fp8" => {
                let (w, scale) = fp8_scaled(&t)?;
                LinearWeight::Fp8 { w, scale }
            }
            "q8_0" => LinearWeight::Quantized(Arc::new(QTensor::quantize(&t, GgmlDType::Q8_0)?)),
            "q4_k" => LinearWeight::Quantized(Arc::new(QTensor::quantize(&t, GgmlDType::Q4K)?)),
            other => bail!("unknown storage form {other} (f32, bf16, fp8, q8_0, q4_k)"),
        };
        linear_bytes += w.storage_bytes();
        store.insert(name.clone(), w);
    }
    let vb = VarBuilder::from_tensors(dense, dtype, &Device::Cpu);
    Ok((
        ChronoEditTransformer3DModel::new_with_linears(cfg, vb, &store)?,
        linear_bytes,
    ))
}

fn peak_rss_bytes() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?;
    let kb: u64 = line.split_whitespace().nth(1).context("VmHWM")?.parse()?;
    Ok(kb * 1024)
}

fn parse_latent(s: &str) -> Result<(usize, usize)> {
    let (h, w) = s.split_once('x').context("--latent HxW")?;
    Ok((h.parse()?, w.parse()?))
}

/// One form, in this (child) process: prints one JSON line, writes the output.
fn child(a: &BlockArgs, form: &str, out: &PathBuf) -> Result<()> {
    let cfg = config(a.dry_run)?;
    let t0 = Instant::now();
    let (model, linear_bytes) = build(&cfg, form)?;
    let build_s = t0.elapsed().as_secs_f64();
    let (lh, lw) = parse_latent(&a.latent)?;
    let dev = Device::Cpu;
    let x = seeded(&[1, cfg.in_channels, a.frames, lh, lw], 7)?;
    let real = seeded(&[1, 20, cfg.text_dim], 8)?;
    let text = Tensor::cat(
        &[
            real,
            Tensor::zeros((1, 492, cfg.text_dim), DType::F32, &dev)?,
        ],
        1,
    )?;
    let image = seeded(&[1, 257, cfg.image_dim.unwrap_or(1280)], 9)?;
    let t = Tensor::new(&[500f32], &dev)?;
    let opts = ForwardOptions {
        record_residual: true,
        ..Default::default()
    };
    let run = || -> Result<(Tensor, Tensor, f64)> {
        let s = Instant::now();
        let o = model.forward_with(&x, &t, &text, Some(&image), &opts)?;
        let r = o.residual.context("residual")?;
        r.sum_all()?.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        Ok((o.sample, r, s.elapsed().as_secs_f64()))
    };
    run()?;
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..a.reps.max(1) {
        let (y, r, s) = run()?;
        times.push(s);
        last = Some((y, r));
    }
    let (y, r) = last.context("no forward")?;
    let tensors = HashMap::from([
        ("sample".to_string(), y.to_dtype(DType::F32)?),
        ("residual".to_string(), r.to_dtype(DType::F32)?),
    ]);
    candle_core::safetensors::save(&tensors, out)?;
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "{}",
        serde_json::json!({
            "form": form, "best_s": best, "mean_s": mean, "build_s": build_s,
            "peak_rss": peak_rss_bytes()?, "linear_bytes": linear_bytes,
            "tokens": a.frames * lh / 2 * lw / 2,
        })
    );
    Ok(())
}

fn rel(a: &Tensor, b: &Tensor) -> Result<f64> {
    let d = (a - b)?.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
    let n = b.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
    Ok((d / n).sqrt())
}

fn block(a: BlockArgs) -> Result<()> {
    if let Some(out) = &a.child_out {
        return child(&a, &a.forms[0], out);
    }
    if a.forms.first().map(String::as_str) != Some("f32") {
        bail!("--forms must start with f32 (the reference of the error)");
    }
    let dir = tempfile_dir()?;
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    let mut reference: Option<HashMap<String, Tensor>> = None;
    for form in &a.forms {
        let out = dir.join(format!("{form}.safetensors"));
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["block", "--forms", form, "--frames", &a.frames.to_string()])
            .args(["--latent", &a.latent, "--reps", &a.reps.to_string()])
            .arg("--child-out")
            .arg(&out);
        if a.dry_run {
            cmd.arg("--dry-run");
        }
        if form.ends_with("-kernel") {
            cmd.env("PHYSEDIT_QMATMUL", "kernel");
        }
        let o = cmd.output()?;
        if !o.status.success() {
            bail!("{form}: {}", String::from_utf8_lossy(&o.stderr));
        }
        let line: serde_json::Value = serde_json::from_slice(&o.stdout)?;
        let y = candle_core::safetensors::load(&out, &Device::Cpu)?;
        let (e_out, e_upd) = match &reference {
            None => (0.0, 0.0),
            Some(r) => (
                rel(&y["sample"], &r["sample"])?,
                rel(&y["residual"], &r["residual"])?,
            ),
        };
        eprintln!("{line} rel_err_out {e_out:.3e} rel_err_update {e_upd:.3e}");
        if reference.is_none() {
            reference = Some(y);
        }
        rows.push((line, e_out, e_upd));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let tokens = rows[0].0["tokens"].as_u64().unwrap_or(0);
    println!(
        "| storage | block Linear weights (MB) | forward s (best / mean of {}) | vs bf16 | peak RSS (MB) | rel. error of output / of the block's update to f32 |",
        a.reps
    );
    println!("|---|---|---|---|---|---|");
    let bf16 = rows
        .iter()
        .find(|r| r.0["form"] == "bf16")
        .map(|r| r.0["best_s"].as_f64().unwrap_or(f64::NAN));
    for (line, e_out, e_upd) in &rows {
        let best = line["best_s"].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {} | {:.0} | {:.2} / {:.2} | {} | {:.0} | {:.2e} / {:.2e} |",
            line["form"].as_str().unwrap_or("?"),
            line["linear_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            best,
            line["mean_s"].as_f64().unwrap_or(f64::NAN),
            bf16.map_or("-".into(), |b| format!("{:.2}x", b / best)),
            line["peak_rss"].as_f64().unwrap_or(0.0) / 1e6,
            e_out,
            e_upd
        );
    }
    println!(
        "({tokens} tokens, {} latent frame(s) of {}, batch 1; 'vs bf16' = bf16 time / this time)",
        a.frames, a.latent
    );
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("bench_weights.{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn compare(a: PathBuf, b: PathBuf) -> Result<()> {
    use physedit::eval::fidelity::{psnr, ssim, PSNR_CAP};
    let mut names: Vec<_> = std::fs::read_dir(&a)
        .with_context(|| format!("cannot list {}", a.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".png"))
        .collect();
    names.sort();
    let (mut ps, mut ss) = (Vec::new(), Vec::new());
    for n in &names {
        let pa = image::open(a.join(n))?.to_rgb8();
        let pb = image::open(b.join(n))
            .with_context(|| format!("{} has no {}", b.display(), n.to_string_lossy()))?
            .to_rgb8();
        ps.push(psnr(&pa, &pb)?.min(PSNR_CAP));
        ss.push(ssim(&pa, &pb)?);
    }
    if names.is_empty() {
        bail!("{} holds no .png pictures", a.display());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let min = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "{} pictures: PSNR mean {:.2} dB (worst {:.2}, capped at {PSNR_CAP}), SSIM mean {:.4} (worst {:.4})",
        names.len(),
        mean(&ps),
        min(&ps),
        mean(&ss),
        min(&ss)
    );
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Block(a) => block(a),
        Cmd::Compare { a, b } => compare(a, b),
    }
}
