//! Engine benchmark: one ChronoEdit transformer forward, and optionally one whole edit, timed in
//! PhysEdit and in diffusers (PyTorch) on the same machine, in one run, with the ratio printed.
//!
//! The PyTorch side is `tools/reference/bench_transformer.py` / `bench_pipeline.py`, run with the
//! Python given by `--python` (a venv with torch + diffusers, see tools/reference/README.md). The
//! transformer is built once by diffusers with random weights and saved; PhysEdit loads that very
//! folder, so both sides run the same weights on the same inputs (the outputs are compared too).
//!
//! Example (Wan 1.3B-wide blocks at 480x832, 2 latent frames):
//!   cargo run --release --bin bench_engine -- --python /path/venv/bin/python \
//!       --heads 12 --head-dim 128 --layers 2 --ffn 8960 --text-dim 4096 --image-dim 1280 \
//!       --frames 2 --height 60 --width 104
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::Parser;
use physedit::checkpoint::{parse_dtype, read_config, var_builder};
use physedit::models::transformer::{ChronoEditTransformer3DModel, Config};
use physedit::pipeline::chronoedit::{ChronoEditPipeline, EditRequest, LoadOptions};

#[derive(Parser, Debug)]
#[command(about = "Time PhysEdit against diffusers (PyTorch) on this machine; prints ratios")]
struct Args {
    /// Python interpreter with torch + diffusers.
    #[arg(long, default_value = "python3")]
    python: String,
    #[arg(long, default_value_t = 12)]
    heads: usize,
    #[arg(long, default_value_t = 128)]
    head_dim: usize,
    #[arg(long, default_value_t = 2)]
    layers: usize,
    #[arg(long, default_value_t = 8960)]
    ffn: usize,
    #[arg(long, default_value_t = 4096)]
    text_dim: usize,
    #[arg(long, default_value_t = 1280)]
    image_dim: usize,
    /// Latent frames.
    #[arg(long, default_value_t = 2)]
    frames: usize,
    /// Latent height (pixels / 8).
    #[arg(long, default_value_t = 60)]
    height: usize,
    /// Latent width (pixels / 8).
    #[arg(long, default_value_t = 104)]
    width: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    #[arg(long, default_value_t = 3)]
    iters: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Also time one whole edit of this pipeline folder (needs --image).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    #[arg(long)]
    image: Option<PathBuf>,
    #[arg(long, default_value_t = 4)]
    steps: usize,
    /// Skip the transformer forward comparison.
    #[arg(long)]
    no_forward: bool,
}

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools")
        .join("reference")
}

fn run_python(python: &str, script: &str, args: &[String]) -> Result<serde_json::Value> {
    let script = tools_dir().join(script);
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {python} {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line).with_context(|| format!("{} printed no JSON line", script.display()))
}

/// CPU time of this process (user + system, all threads) from /proc, in seconds; None elsewhere.
/// On a shared machine it is steadier than wall time, so both are reported.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports these in clock ticks of 1/100 s (USER_HZ).
    Some((utime + stime) / 100.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn bench_forward(args: &Args) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("physedit-bench-{}", std::process::id()));
    let py_args: Vec<String> = vec![
        "--heads".into(),
        args.heads.to_string(),
        "--head-dim".into(),
        args.head_dim.to_string(),
        "--layers".into(),
        args.layers.to_string(),
        "--ffn".into(),
        args.ffn.to_string(),
        "--text-dim".into(),
        args.text_dim.to_string(),
        "--image-dim".into(),
        args.image_dim.to_string(),
        "--frames".into(),
        args.frames.to_string(),
        "--height".into(),
        args.height.to_string(),
        "--width".into(),
        args.width.to_string(),
        "--warmup".into(),
        args.warmup.to_string(),
        "--iters".into(),
        args.iters.to_string(),
        "--threads".into(),
        args.threads.to_string(),
        "--dtype".into(),
        args.dtype.clone(),
        "--save".into(),
        dir.display().to_string(),
    ];
    eprintln!("timing the transformer forward in diffusers ...");
    let torch = run_python(&args.python, "bench_transformer.py", &py_args)?;
    let torch_s = torch["seconds_per_forward"]
        .as_f64()
        .context("no seconds_per_forward")?;

    eprintln!("timing the transformer forward in PhysEdit ...");
    let dtype = parse_dtype(&args.dtype)?;
    let device = Device::Cpu;
    let cfg: Config = read_config(&dir.join("config.json"))?;
    let model = ChronoEditTransformer3DModel::new(&cfg, var_builder(&dir, dtype, &device)?)?;
    let inputs = candle_core::safetensors::load(dir.join("inputs.safetensors"), &device)?;
    let get = |k: &str| -> Result<Tensor> { Ok(inputs[k].to_dtype(dtype)?) };
    let (hs, ehs, ehi) = (
        get("hidden_states")?,
        get("encoder_hidden_states")?,
        get("encoder_hidden_states_image")?,
    );
    let ts = inputs["timestep"].to_dtype(DType::F32)?;
    let fwd = || model.forward(&hs, &ts, &ehs, Some(&ehi));
    let mut out = None;
    for _ in 0..args.warmup {
        out = Some(fwd()?);
    }
    let mut times = Vec::new();
    let cpu0 = process_cpu_seconds();
    for _ in 0..args.iters {
        let t0 = Instant::now();
        out = Some(fwd()?);
        times.push(t0.elapsed().as_secs_f64());
    }
    let ours_cpu = match (cpu0, process_cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a) / args.iters as f64),
        _ => None,
    };
    let ours_s = median(times);
    let reference =
        candle_core::safetensors::load(dir.join("output.safetensors"), &device)?["output"].clone();
    let ours = out
        .context("--iters must be at least 1")?
        .to_dtype(DType::F32)?;
    let diff = (ours - &reference)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    let scale = reference.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "transformer forward: {} tokens, d={}, {} layers, {} ({} threads)",
        torch["tokens"],
        args.heads * args.head_dim,
        args.layers,
        args.dtype,
        args.threads
    );
    let torch_cpu = torch["cpu_seconds_per_forward"].as_f64();
    let cpu = |v: Option<f64>| {
        v.map(|s| format!("{s:.3} s CPU"))
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "  diffusers (torch {}): {:.3} s wall, {}",
        torch["torch"].as_str().unwrap_or("?"),
        torch_s,
        cpu(torch_cpu)
    );
    println!(
        "  physedit            : {:.3} s wall, {}",
        ours_s,
        cpu(ours_cpu)
    );
    println!("  ratio physedit/torch: {:.2}x wall", ours_s / torch_s);
    if let (Some(a), Some(b)) = (ours_cpu, torch_cpu) {
        println!("  ratio physedit/torch: {:.2}x CPU time", a / b);
    }
    println!("  output max |diff| {:.2e} (max |ref| {:.2e})", diff, scale);
    Ok(())
}

fn bench_edit(args: &Args, pipeline: &Path, image_path: &Path) -> Result<()> {
    let py_args: Vec<String> = vec![
        pipeline.display().to_string(),
        "--image".into(),
        image_path.display().to_string(),
        "--steps".into(),
        args.steps.to_string(),
        "--threads".into(),
        args.threads.to_string(),
        "--warmup".into(),
        "1".into(),
    ];
    eprintln!("timing one edit in diffusers ...");
    let torch = run_python(&args.python, "bench_pipeline.py", &py_args)?;
    let torch_s = torch["seconds"].as_f64().context("no seconds")?;

    eprintln!("timing one edit in PhysEdit ...");
    let pipe = ChronoEditPipeline::load(pipeline, &LoadOptions::default())?;
    let image = physedit::util::open_image(image_path)?;
    let req = EditRequest {
        prompt: "Turn the red apple into a yellow banana.".into(),
        negative_prompt: String::new(),
        steps: args.steps,
        guidance: 5.0,
        height: image.height() as usize,
        width: image.width() as usize,
        num_frames: 5,
        temporal_reasoning: false,
        reasoning_steps: 0,
        temporal_positions: None,
        latents: None,
        seed: 0,
        flow_shift: None,
    };
    pipe.edit(&image, &req, &mut |_, _| {})?; // warm-up, as on the PyTorch side
    let t0 = Instant::now();
    let out = pipe.edit(&image, &req, &mut |_, _| {})?;
    let ours_s = t0.elapsed().as_secs_f64();
    println!(
        "whole edit: {} ({} steps, CFG 5.0)",
        pipeline.display(),
        args.steps
    );
    println!(
        "  diffusers: {:.3} s  {}",
        torch_s, torch["component_seconds"]
    );
    println!(
        "  physedit : {:.3} s  (encode {:.3}, denoise {:.3}, decode {:.3})",
        ours_s, out.times.encode_s, out.times.denoise_s, out.times.decode_s
    );
    println!("  ratio physedit/torch: {:.2}x", ours_s / torch_s);
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.no_forward {
        bench_forward(&args)?;
    }
    if let Some(p) = &args.pipeline {
        let image = args.image.as_ref().context("--pipeline needs --image")?;
        bench_edit(&args, p, image)?;
    }
    Ok(())
}
