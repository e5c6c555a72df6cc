//! Flow-matching training of the ChronoEdit transformer on the physics world, with the engine's own
//! modules and candle's autograd (`physedit world train`).
//!
//! The same `ChronoEditTransformer3DModel::new(cfg, vb)` serves inference and training: here `vb`
//! reads a [`VarMap`], so every weight is a trainable variable and the modules take their
//! differentiable paths (see `models::tracks_grad`). The VAE, umT5 and CLIP tower of a base pipeline
//! folder stay frozen. The objective is Wan's / ChronoEdit's, as in `tools/train/train_dit.py`:
//! `x_t = (1 - s) x0 + s noise`, target `noise - x0`, timestep `1000 s`,
//! `s = shift u / (1 + (shift - 1) u)` with `u ~ U(0, 1)`; the model input is the pipeline's
//! `[x_t, first-frame mask, condition latents]`, conditioned exactly as `prepare_condition` builds it.
//!
//! Output: a complete pipeline folder (the base's components with the trained transformer), so
//! `physedit edit --model OUT` runs it. `OUT/train/` holds the optimiser state (a run resumes from
//! it), `loss.csv` (`step,seconds,loss,eval_loss`) and `loss.png`.
//!
//! The bundled model was trained with the PyTorch scripts (about 8x faster per step on this CPU,
//! see docs/TRAINING.md); this trainer is what CI runs as a smoke test, and it trains real models.
mod adamw;

use crate::models::transformer::{ChronoEditTransformer3DModel, Config as TransformerConfig};
use crate::pipeline::chronoedit::{seeded_normal, ChronoEditPipeline, LoadOptions};
use crate::processors::video::image_to_video_tensor;
use crate::util::{atomic_write, write_atomic};
use crate::world::rng::Rng;
use crate::world::{generate_case, GenConfig, Split};
use adamw::AdamW;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything a training run needs. The transformer size fields override the base model's config.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Pipeline folder providing the frozen VAE, text and image encoders, tokenizer and scheduler.
    pub base: PathBuf,
    /// Output pipeline folder (created; resumed when it holds a run).
    pub out: PathBuf,
    /// Total optimiser steps (a resumed run continues up to this count).
    pub steps: usize,
    /// Stop earlier after this many minutes of training (a checkpoint is written).
    pub minutes: Option<f64>,
    pub batch: usize,
    pub lr: f64,
    /// Training cases, generated from the world's train split and encoded once.
    pub cases: usize,
    /// Held-out cases (train split, after the training cases) for the evaluation loss.
    pub eval_cases: usize,
    /// Picture side in pixels (a multiple of the pipeline's size multiple).
    pub size: usize,
    pub seed: u64,
    pub layers: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub ffn_dim: usize,
    /// Fraction of prompts replaced by the empty prompt (for classifier-free guidance).
    pub cfg_drop: f64,
    pub flow_shift: f64,
    /// Checkpoint (weights, optimiser, evaluation loss) every this many steps, and at the end.
    pub ckpt_every: usize,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Step count before this run (0 for a fresh run).
    pub start_step: usize,
    pub end_step: usize,
    /// Training losses of this run's steps, in order.
    pub losses: Vec<f64>,
    /// Evaluation loss at the start of this run and at its end.
    pub eval_start: f64,
    pub eval_end: f64,
    pub seconds: f64,
}

/// One encoded training case (batch dimension 1).
struct Sample {
    x0: Tensor,
    cond: Tensor,
    text: Tensor,
    image: Tensor,
}

fn world_to_image(img: &crate::world::render::Image) -> Result<image::DynamicImage> {
    let rgb = image::RgbImage::from_raw(img.size as u32, img.size as u32, img.data.clone())
        .context("world picture has the wrong buffer size")?;
    Ok(image::DynamicImage::ImageRgb8(rgb))
}

/// Encodes world cases `start..start + n` as the pipeline would see them: target latents of the
/// video `[source, target x T]` (2 latent frames), the condition of `[source, zeros x T]`, the
/// prompt's umT5 embeddings and the source's CLIP hidden state.
fn encode_cases(
    pipe: &ChronoEditPipeline,
    gen: &GenConfig,
    start: u64,
    n: usize,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<Sample>> {
    let frames = pipe.vae.temporal_scale() + 1;
    let mut out = Vec::with_capacity(n);
    for index in start..start + n as u64 {
        let case =
            generate_case(gen, index).map_err(|e| anyhow::anyhow!("world case {index}: {e}"))?;
        let size = case.source_img.size;
        let source = world_to_image(&case.source_img)?;
        let src = image_to_video_tensor(&source, size, size)?;
        let tgt = image_to_video_tensor(&world_to_image(&case.target_img)?, size, size)?;
        let mut parts = vec![src.unsqueeze(2)?];
        parts.extend(std::iter::repeat_n(tgt.unsqueeze(2)?, frames - 1));
        let (mean, _) = pipe.vae.encode(&Tensor::cat(&parts, 2)?)?;
        let x0 = pipe.vae.normalize_latents(&mean)?;
        let cond = pipe.prepare_condition(&src, frames)?;
        let text = pipe.encode_prompt(&case.meta.prompt)?;
        let image = pipe.encode_image(&source)?;
        out.push(Sample {
            x0,
            cond,
            text,
            image,
        });
        bar.inc(1);
    }
    Ok(out)
}

/// The trainable transformer config: the base's, with the size fields replaced.
fn transformer_config(base: &Path, opts: &TrainOptions) -> Result<serde_json::Value> {
    let path = base.join("transformer").join("config.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let obj = v
        .as_object_mut()
        .with_context(|| format!("{}: not a JSON object", path.display()))?;
    let inner = opts.heads * opts.head_dim;
    obj.insert("num_layers".into(), opts.layers.into());
    obj.insert("num_attention_heads".into(), opts.heads.into());
    obj.insert("attention_head_dim".into(), opts.head_dim.into());
    obj.insert("ffn_dim".into(), opts.ffn_dim.into());
    if obj.get("added_kv_proj_dim").is_some_and(|a| !a.is_null()) {
        obj.insert("added_kv_proj_dim".into(), inner.into());
    }
    Ok(v)
}

/// Fresh weights in the reference's spirit: linear and patch weights uniform in +-1/sqrt(fan_in)
/// (torch's default), biases zero, norm weights one, the output modulation table N(0, 1/dim).
fn init_weights(varmap: &VarMap, seed: u64) -> Result<()> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("var map poisoned"))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for (i, name) in names.into_iter().enumerate() {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let mut rng = Rng::from_parts(&[seed, 0x1417, i as u64]);
        let values: Vec<f32> = if name.ends_with("scale_shift_table") {
            let std = 1.0 / (*dims.last().unwrap_or(&1) as f32).sqrt();
            let t = seeded_normal((1, 1, 1, 1, n), rng.next_u64(), &Device::Cpu)?;
            t.flatten_all()?
                .to_vec1::<f32>()?
                .into_iter()
                .map(|x| x * std)
                .collect()
        } else if name.ends_with("bias") {
            vec![0.0; n]
        } else if dims.len() == 1 {
            vec![1.0; n]
        } else {
            let fan_in: usize = dims[1..].iter().product();
            let bound = 1.0 / (fan_in as f32).sqrt();
            (0..n).map(|_| rng.range(-bound, bound)).collect()
        };
        var.set(&Tensor::from_vec(values, dims, var.device())?.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

/// Copies the base pipeline folder's components except the transformer into `out`.
fn copy_base(base: &Path, out: &Path) -> Result<()> {
    fn copy_dir(from: &Path, to: &Path) -> Result<()> {
        std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
        for e in
            std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
        {
            let e = e?;
            let p = e.path();
            if p.is_dir() {
                copy_dir(&p, &to.join(e.file_name()))?;
            } else {
                std::fs::copy(&p, to.join(e.file_name()))
                    .with_context(|| format!("cannot copy {}", p.display()))?;
            }
        }
        Ok(())
    }
    for e in std::fs::read_dir(base).with_context(|| format!("cannot read {}", base.display()))? {
        let e = e?;
        let name = e.file_name();
        if name == "transformer" {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &out.join(&name))?;
        } else {
            std::fs::copy(&p, out.join(&name))
                .with_context(|| format!("cannot copy {}", p.display()))?;
        }
    }
    Ok(())
}

/// Batched training inputs for cases `idx`, with the prompts of `drop` replaced by the empty one.
fn batch(samples: &[Sample], idx: &[usize], drop: &[bool], empty: &Tensor) -> Result<[Tensor; 4]> {
    let cat = |f: &dyn Fn(&Sample) -> Tensor| -> Result<Tensor> {
        let parts: Vec<Tensor> = idx.iter().map(|&i| f(&samples[i])).collect();
        Ok(Tensor::cat(&parts, 0)?)
    };
    let texts: Vec<Tensor> = idx
        .iter()
        .zip(drop)
        .map(|(&i, &d)| {
            if d {
                empty.clone()
            } else {
                samples[i].text.clone()
            }
        })
        .collect();
    Ok([
        cat(&|s| s.x0.clone())?,
        cat(&|s| s.cond.clone())?,
        Tensor::cat(&texts, 0)?,
        cat(&|s| s.image.clone())?,
    ])
}

/// Flow-matching loss of `model` on one batch; `seed` fixes the noise levels and the noise.
fn flow_loss(
    model: &ChronoEditTransformer3DModel,
    inputs: &[Tensor; 4],
    shift: f64,
    seed: u64,
) -> Result<Tensor> {
    let [x0, cond, text, image] = inputs;
    let (b, c, f, h, w) = x0.dims5()?;
    let mut rng = Rng::from_parts(&[seed, 0x5165]);
    let sigmas: Vec<f32> = (0..b)
        .map(|_| {
            let u = rng.f32() as f64;
            (shift * u / (1.0 + (shift - 1.0) * u)) as f32
        })
        .collect();
    let dev = x0.device();
    let noise = seeded_normal((b, c, f, h, w), rng.next_u64(), dev)?;
    let s = Tensor::from_vec(sigmas.clone(), (b, 1, 1, 1, 1), dev)?;
    let xt = (x0.broadcast_mul(&(1.0 - &s)?)? + noise.broadcast_mul(&s)?)?;
    let input = Tensor::cat(&[&xt, cond], 1)?;
    let timestep = Tensor::from_vec(
        sigmas.iter().map(|s| s * 1000.0).collect::<Vec<f32>>(),
        b,
        dev,
    )?;
    let pred = model.forward(&input, &timestep, text, Some(image))?;
    Ok((pred - (noise - x0)?)?.sqr()?.mean_all()?)
}

/// Mean loss over the evaluation cases with fixed noise (comparable across steps and runs).
fn eval_loss(
    model: &ChronoEditTransformer3DModel,
    samples: &[Sample],
    empty: &Tensor,
    opts: &TrainOptions,
) -> Result<f64> {
    let mut total = 0.0;
    let mut n = 0;
    for (k, chunk) in (0..samples.len())
        .collect::<Vec<_>>()
        .chunks(opts.batch)
        .enumerate()
    {
        let inputs = batch(samples, chunk, &vec![false; chunk.len()], empty)?;
        let loss = flow_loss(
            model,
            &inputs,
            opts.flow_shift,
            opts.seed ^ (0xE7A1 + k as u64),
        )?;
        total += loss.detach().to_scalar::<f32>()? as f64 * chunk.len() as f64;
        n += chunk.len();
    }
    Ok(total / n.max(1) as f64)
}

/// Learning-rate factor: linear warm-up, then linear decay to 10% over the last 30% of the steps.
fn lr_factor(step: usize, total: usize) -> f64 {
    let warm = (total / 10).clamp(1, 50);
    let left = 1.0 - step as f64 / total.max(1) as f64;
    ((step + 1) as f64 / warm as f64)
        .min(1.0)
        .min((left / 0.3).max(0.1))
}

const STATE_FILE: &str = "state.safetensors";
const WEIGHTS_FILE: &str = "diffusion_pytorch_model.safetensors";

fn validate(opts: &TrainOptions) -> Result<()> {
    if opts.batch == 0 || opts.cases == 0 || opts.eval_cases == 0 {
        bail!("--batch, --cases and --eval-cases must be positive");
    }
    if opts.batch > opts.cases {
        bail!(
            "--batch {} is larger than --cases {}",
            opts.batch,
            opts.cases
        );
    }
    if opts.layers == 0 || opts.heads == 0 || opts.head_dim == 0 || opts.ffn_dim == 0 {
        bail!("--layers, --heads, --head-dim and --ffn-dim must be positive");
    }
    if !(0.0..1.0).contains(&opts.cfg_drop) {
        bail!("--cfg-drop must be in [0, 1)");
    }
    if opts.ckpt_every == 0 {
        bail!("--ckpt-every must be positive");
    }
    Ok(())
}

/// Runs (or resumes) a training run; `show_progress` draws progress bars on stderr.
pub fn train(opts: &TrainOptions, show_progress: bool) -> Result<TrainSummary> {
    validate(opts)?;
    let started = Instant::now();
    let pipe = ChronoEditPipeline::load(&opts.base, &LoadOptions::default())
        .with_context(|| format!("cannot load the base pipeline {}", opts.base.display()))?;
    let multiple = pipe.size_multiple();
    if !opts.size.is_multiple_of(multiple) {
        bail!(
            "--size {} is not a multiple of {multiple} (VAE scale x transformer patch of {})",
            opts.size,
            opts.base.display()
        );
    }
    let cfg_json = transformer_config(&opts.base, opts)?;
    let cfg: TransformerConfig = serde_json::from_value(cfg_json.clone())
        .context("the trainable transformer config is invalid")?;
    cfg.validate()?;

    // Output folder: the base's components, the transformer config, and the training state.
    let t_dir = opts.out.join("transformer");
    let train_dir = opts.out.join("train");
    let state_path = train_dir.join(STATE_FILE);
    let resuming = state_path.exists();
    if !resuming {
        if opts.out.exists()
            && std::fs::read_dir(&opts.out)
                .with_context(|| format!("cannot read {}", opts.out.display()))?
                .next()
                .is_some()
        {
            bail!(
                "{} exists, is not empty and holds no training run (no train/{STATE_FILE}); \
                 choose a new --out",
                opts.out.display()
            );
        }
        std::fs::create_dir_all(&t_dir)
            .with_context(|| format!("cannot create {}", t_dir.display()))?;
        std::fs::create_dir_all(&train_dir)?;
        copy_base(&opts.base, &opts.out)?;
        let text = serde_json::to_string_pretty(&cfg_json)?;
        write_atomic(&t_dir.join("config.json"), text.as_bytes())?;
    } else {
        let saved_path = t_dir.join("config.json");
        let saved: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&saved_path)
                .with_context(|| format!("cannot read {}", saved_path.display()))?,
        )
        .with_context(|| format!("{}: not valid JSON", saved_path.display()))?;
        if saved != cfg_json {
            bail!(
                "{} holds a run with another transformer config; resume with the same \
                 --layers/--heads/--head-dim/--ffn-dim and --base, or choose a new --out",
                opts.out.display()
            );
        }
    }

    let device = Device::Cpu;
    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = ChronoEditTransformer3DModel::new(&cfg, vb)?;
    let mut opt = AdamW::new(&varmap, 0.9, 0.99, 1e-8, 0.01)?;
    let mut step = 0usize;
    if resuming {
        varmap
            .load(t_dir.join(WEIGHTS_FILE))
            .with_context(|| format!("cannot load the weights in {}", t_dir.display()))?;
        step = opt
            .load(&state_path)
            .with_context(|| format!("cannot resume from {}", state_path.display()))?;
    } else {
        init_weights(&varmap, opts.seed)?;
    }
    let start_step = step;

    // Data: training cases and held-out cases, encoded once by the frozen components.
    let gen = GenConfig {
        split: Split::Train,
        seed: opts.seed,
        size: opts.size,
        n_frames: 2,
    };
    let bar = progress_bar(
        show_progress,
        (opts.cases + opts.eval_cases) as u64,
        "encoding cases",
    );
    let samples = encode_cases(&pipe, &gen, 0, opts.cases, &bar)?;
    let held_out = encode_cases(&pipe, &gen, opts.cases as u64, opts.eval_cases, &bar)?;
    bar.finish_and_clear();
    let empty = pipe.encode_prompt("")?;
    drop(pipe);

    let log_path = train_dir.join("loss.csv");
    let eval_start = eval_loss(&model, &held_out, &empty, opts)?;
    // Seconds are counted across resumed runs: this run starts where the log ends.
    let mut seconds0 = 0.0;
    if resuming {
        let text = std::fs::read_to_string(&log_path)
            .with_context(|| format!("cannot read {}", log_path.display()))?;
        if let Some(s) = text.lines().last().and_then(|l| l.split(',').nth(1)) {
            seconds0 = s.parse().unwrap_or(0.0);
        }
    } else {
        std::fs::write(
            &log_path,
            format!("step,seconds,loss,eval_loss\n0,0.00,,{eval_start:.6}\n"),
        )
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    }
    let mut eval_end = eval_start;
    let bar = progress_bar(show_progress, opts.steps as u64, "training");
    bar.set_position(step as u64);
    let mut losses = Vec::new();
    let mut log = String::new();
    let deadline = opts.minutes.map(|m| m * 60.0);
    let t_train = Instant::now();
    while step < opts.steps {
        let mut rng = Rng::from_parts(&[opts.seed, 0xBA7C, step as u64]);
        let mut order: Vec<usize> = (0..samples.len()).collect();
        rng.shuffle(&mut order);
        let idx = &order[..opts.batch];
        let drop: Vec<bool> = idx
            .iter()
            .map(|_| rng.chance(opts.cfg_drop as f32))
            .collect();
        let inputs = batch(&samples, idx, &drop, &empty)?;
        let loss = flow_loss(&model, &inputs, opts.flow_shift, rng.next_u64())?;
        let grads = loss.backward()?;
        opt.step(&grads, opts.lr * lr_factor(step, opts.steps))?;
        step += 1;
        let l = loss.to_scalar::<f32>()? as f64;
        if !l.is_finite() {
            bail!("training diverged at step {step} (loss {l}); lower --lr");
        }
        losses.push(l);
        bar.set_position(step as u64);
        bar.set_message(format!("loss {l:.4}"));
        let out_of_time = deadline.is_some_and(|d| t_train.elapsed().as_secs_f64() >= d);
        let last = step == opts.steps || out_of_time;
        let save_now = step.is_multiple_of(opts.ckpt_every) || last;
        let eval = if save_now {
            eval_end = eval_loss(&model, &held_out, &empty, opts)?;
            format!("{eval_end:.6}")
        } else {
            String::new()
        };
        log.push_str(&format!(
            "{step},{:.2},{l:.6},{eval}\n",
            seconds0 + started.elapsed().as_secs_f64()
        ));
        if save_now {
            checkpoint(
                &varmap,
                &opt,
                step,
                &t_dir,
                &state_path,
                &log_path,
                &mut log,
            )?;
        }
        if out_of_time {
            break;
        }
    }
    bar.finish_and_clear();
    plot_loss(&log_path, &train_dir.join("loss.png"))?;
    Ok(TrainSummary {
        start_step,
        end_step: step,
        losses,
        eval_start,
        eval_end,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes the weights and the optimiser state (each atomically) and appends the pending log lines.
fn checkpoint(
    varmap: &VarMap,
    opt: &AdamW,
    step: usize,
    t_dir: &Path,
    state_path: &Path,
    log_path: &Path,
    log: &mut String,
) -> Result<()> {
    let weights = t_dir.join(WEIGHTS_FILE);
    atomic_write(&weights, |tmp| Ok(varmap.save(tmp)?))?;
    atomic_write(state_path, |tmp| opt.save(tmp, step))?;
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log_path)
        .with_context(|| format!("cannot append to {}", log_path.display()))?;
    f.write_all(log.as_bytes())?;
    log.clear();
    Ok(())
}

fn progress_bar(show: bool, len: u64, what: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {{msg}} (eta {{eta}})"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Reads `loss.csv` and draws the training loss (and the evaluation loss where logged).
pub fn plot_loss(csv: &Path, png: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let mut train = Vec::new();
    let mut eval = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 3 {
            bail!(
                "{}: line {} is not step,seconds,loss,eval_loss",
                csv.display(),
                i + 1
            );
        }
        let at = || format!("{}: line {}", csv.display(), i + 1);
        let step: f64 = f[0].parse().with_context(at)?;
        if !f[2].is_empty() {
            train.push((step, f[2].parse().with_context(at)?));
        }
        if let Some(e) = f.get(3).filter(|e| !e.is_empty()) {
            eval.push((step, e.parse().with_context(at)?));
        }
    }
    crate::eval::report::plot_lines(
        png,
        "flow-matching loss",
        "step",
        "loss (log scale)",
        &[("train", train), ("held-out", eval)],
    )
}
