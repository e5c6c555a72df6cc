//! `physedit edit`: one instruction-based edit.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;

use crate::adaptive::card::{CardInput, ImageCues};
use crate::adaptive::cost::{edit_cost, CostOptions, ModelDims};
use crate::adaptive::plan::{plan_for, Plan, TRAINED_REASONING_FRAMES};
use crate::adaptive::srm::{mask_overlay, Probe, SrmConfig, TokenMask};
use crate::checkpoint::parse_dtype;
use crate::pipeline::chronoedit::{
    output_size, select_device, AdaptiveOptions, ChronoEditPipeline, EditRequest, LoadOptions,
    FRAMES_WITHOUT_REASONING,
};
use crate::util::{atomic_write, open_image, tensor_to_rgb};

const EXAMPLES: &str = "\
Examples:
  # The PhysEdit recipe: CARD picks the reasoning depth, SRM prunes the reasoning frames:
  physedit edit --model ChronoEdit-14B-Diffusers --image cat.png --prompt \"Make the cat jump\" -o out.png \\
      --report report.json --mask-out mask.png

  # The reference reasoning recipe: 29 frames, reasoning through all 50 steps, trajectory as a GIF:
  physedit edit --model DIR --image in.png --prompt \"Push the red ball to the right\" \\
      --recipe chronoedit-reasoning --trajectory-out reasoning.gif -o out.png

  # The same with explicit flags (exactly the reference ChronoEdit behaviour for that video):
  physedit edit --model DIR --image in.png --prompt \"...\" --num-frames 29 --reasoning-steps 50 -o out.png

  # Reproduce a run of another implementation from its initial noise:
  physedit edit --model DIR --image in.png --prompt \"...\" --latents noise.safetensors --frames-out frames.safetensors -o out.png

Precedence: the recipe (with --table and --card for the adaptive recipes) gives a plan: steps, N_r,
reasoning frames r, SRM, guidance. Each explicit flag then replaces its plan value: --steps (N_r is
capped at it), --guidance, --reasoning-steps (N_r; r stays the plan's, or 6 when the plan has none),
--num-frames (r = (frames - 1) / 4 - 1; 5 frames means no reasoning). When --reasoning-steps or
--num-frames is given, the video runs exactly as the reference ChronoEdit runs it (RoPE positions
0..F, SRM off unless --srm on). Otherwise a plan with r < 6 spreads the reasoning frames' RoPE
positions between the input (0) and the output frame (7).";

/// On/off switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// When the SRM captures cross-attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeArg {
    /// During the first denoising step (which then runs unpruned).
    FirstStep,
    /// A dedicated forward before the first step, at --srm-probe-sigma.
    Pass,
}

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct EditArgs {
    /// Diffusers ChronoEdit pipeline folder (model_index.json at its root).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Input image.
    #[arg(long, value_name = "IN.png")]
    pub image: PathBuf,
    /// The edit instruction.
    #[arg(long)]
    pub prompt: String,
    /// Output image (the last video frame).
    #[arg(short = 'o', long = "output", value_name = "OUT.png")]
    pub output: PathBuf,
    #[arg(long, default_value = "")]
    pub negative_prompt: String,
    /// Recipe: physedit, chronoedit-reasoning, chronoedit-short, no-reasoning, card-only, srm-only.
    #[arg(long, default_value = "physedit")]
    pub recipe: String,
    /// Tier -> plan table (TOML) for the adaptive recipes; default: the built-in table.
    #[arg(long, value_name = "FILE.toml")]
    pub table: Option<PathBuf>,
    /// Learned CARD model (from `physedit card fit`); default: the rule predictor.
    #[arg(long, value_name = "FILE")]
    pub card: Option<PathBuf>,
    /// Denoising steps (default: the plan's; overrides it when given).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Classifier-free guidance scale, CFG skipped when <= 1 (default: the model folder's
    /// physedit.json `guidance_scale` when it has one, such as the bundled model; else the plan's, 5).
    #[arg(long)]
    pub guidance: Option<f64>,
    /// Seed of the initial noise (ignored with --latents).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output height (default: the input's aspect, rounded to what the model needs).
    #[arg(long)]
    pub height: Option<usize>,
    /// Output width (default: the input's aspect, rounded to what the model needs).
    #[arg(long)]
    pub width: Option<usize>,
    /// Video frames, 4k + 1: 5 = no reasoning, 29 = the reference reasoning video (reference behaviour, see below).
    #[arg(long)]
    pub num_frames: Option<usize>,
    /// N_r: steps of temporal reasoning over all latent frames, 0 = off (reference behaviour, see below).
    #[arg(long)]
    pub reasoning_steps: Option<usize>,
    /// Spatial reasoning mask: on/off replaces the plan's choice (off: the mask-off ablation).
    #[arg(long, value_enum)]
    pub srm: Option<Switch>,
    /// When the SRM probes the cross-attention.
    #[arg(long, value_enum, default_value = "first-step")]
    pub srm_probe: ProbeArg,
    /// Noise level of the dedicated probe pass (--srm-probe pass).
    #[arg(long, default_value_t = 0.8)]
    pub srm_probe_sigma: f32,
    /// SRM dilation radius in tokens.
    #[arg(long, default_value_t = 1)]
    pub srm_dilate: usize,
    /// Write the SRM mask over the input image (PNG; outside the mask darkened).
    #[arg(long, value_name = "FILE.png")]
    pub mask_out: Option<PathBuf>,
    /// Write a JSON report: plan, mask coverage, tokens per step, FLOPs, wall time per phase.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// Compute dtype of the transformer: f32, f16 or bf16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Run on the CPU even when the binary was built with `--features cuda` and a GPU is present.
    #[arg(long)]
    pub cpu: bool,
    /// Safetensors file whose tensor `latents` is the initial noise.
    #[arg(long, value_name = "FILE")]
    pub latents: Option<PathBuf>,
    /// Write every decoded frame as the safetensors tensor `frames` (F, 3, H, W), f32 in [0, 1].
    #[arg(long, value_name = "FILE")]
    pub frames_out: Option<PathBuf>,
    /// Write the decoded frames as an animated GIF (.gif) or a PNG strip (.png).
    #[arg(long, value_name = "FILE")]
    pub trajectory_out: Option<PathBuf>,
}

/// Explicit flags that replace plan values.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOverrides {
    pub steps: Option<usize>,
    pub guidance: Option<f64>,
    pub reasoning_steps: Option<usize>,
    pub num_frames: Option<usize>,
    pub srm: Option<bool>,
}

/// The request fields a plan and the explicit flags give (see the precedence in `--help`), and
/// whether the SRM runs. Returns the effective plan too (the plan with the overrides applied).
pub fn resolve_plan(
    plan: &Plan,
    o: &PlanOverrides,
    skip_len: usize,
    temporal_scale: usize,
) -> Result<(Plan, EditRequestShape)> {
    let mut p = plan.clone();
    if let Some(s) = o.steps {
        p.steps = s;
    }
    if let Some(g) = o.guidance {
        p.guidance = g as f32;
    }
    let explicit = o.reasoning_steps.is_some() || o.num_frames.is_some();
    if explicit {
        let r_plan = if p.reasoning_steps > 0 {
            p.reasoning_frames
        } else {
            TRAINED_REASONING_FRAMES
        };
        let nr = o.reasoning_steps.unwrap_or(if o.num_frames.is_some() {
            // Frames without --reasoning-steps: the plan's N_r, if it has one.
            p.reasoning_steps
        } else {
            0
        });
        let r = match o.num_frames {
            Some(n) => {
                if n == 0 {
                    bail!("--num-frames must be at least 1");
                }
                let n = if n % temporal_scale != 1 {
                    n / temporal_scale * temporal_scale + 1
                } else {
                    n
                };
                ((n.max(1) - 1) / temporal_scale).saturating_sub(1)
            }
            None => r_plan,
        };
        if nr == 0 || r == 0 {
            p.reasoning_steps = 0;
            p.reasoning_frames = 0;
        } else {
            p.reasoning_steps = nr;
            p.reasoning_frames = r;
        }
        p.srm = false;
    }
    p.reasoning_steps = p.reasoning_steps.min(p.steps);
    if p.reasoning_steps == 0 {
        p.reasoning_frames = 0;
    }
    if let Some(s) = o.srm {
        p.srm = s;
    }
    p.srm = p.srm && p.reasoning_steps > 0 && p.reasoning_frames > 0;
    let temporal_positions = if explicit || p.reasoning_steps == 0 {
        None
    } else {
        let pos = p.temporal_positions(skip_len);
        let default: Vec<usize> = (0..pos.len()).collect();
        (pos != default).then_some(pos)
    };
    let num_frames = match (explicit, o.num_frames) {
        (true, Some(n)) => n,
        _ => p.num_frames(),
    };
    Ok((
        p.clone(),
        EditRequestShape {
            steps: p.steps,
            guidance: p.guidance as f64,
            num_frames,
            reasoning_steps: p.reasoning_steps,
            temporal_positions,
            srm: p.srm,
        },
    ))
}

/// The plan-dependent part of an [`EditRequest`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EditRequestShape {
    pub steps: usize,
    pub guidance: f64,
    pub num_frames: usize,
    pub reasoning_steps: usize,
    pub temporal_positions: Option<Vec<usize>>,
    pub srm: bool,
}

/// The bundled world model, used when no `--model` is given.
pub fn bundled_model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join("physedit-world")
}

pub fn run(args: EditArgs) -> Result<()> {
    let dtype = parse_dtype(&args.dtype).context("--dtype")?;
    if args.prompt.trim().is_empty() {
        bail!("--prompt is empty: say what the edit should do");
    }
    for (flag, path) in [
        ("-o", Some(&args.output)),
        ("--frames-out", args.frames_out.as_ref()),
        ("--trajectory-out", args.trajectory_out.as_ref()),
        ("--mask-out", args.mask_out.as_ref()),
        ("--report", args.report.as_ref()),
    ] {
        if let Some(p) = path {
            check_output_path(flag, p)?;
        }
    }
    if let Some(t) = &args.trajectory_out {
        let ext = t
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if ext != "gif" && ext != "png" {
            bail!(
                "--trajectory-out {}: use a .gif or .png file name",
                t.display()
            );
        }
    }
    let image = open_image(&args.image)?;
    let model_dir = match &args.model {
        Some(m) => m.clone(),
        None => {
            let dir = bundled_model_dir();
            if !dir.join("model_index.json").is_file() {
                bail!(
                    "no --model given and the bundled model is not present at {}",
                    dir.display()
                );
            }
            dir
        }
    };

    let t_load = Instant::now();
    let device = select_device(args.cpu)?;
    let pipe = ChronoEditPipeline::load(
        &model_dir,
        &LoadOptions {
            dtype,
            device: device.clone(),
            ..Default::default()
        },
    )?;
    let load_s = t_load.elapsed().as_secs_f64();

    let (height, width) = output_size(pipe.size_multiple(), &image, args.height, args.width)?;
    let (table, recipe, predictor) =
        crate::cli::plan::load_setup(&args.table, &args.recipe, &args.card)?;
    let cues = {
        let rgb = image.to_rgb8();
        ImageCues::from_rgb(rgb.width(), rgb.height(), rgb.as_raw())
    };
    let plan = plan_for(
        recipe,
        &CardInput {
            prompt: &args.prompt,
            image: Some(&cues),
            ..Default::default()
        },
        &table,
        predictor.as_ref(),
    )?;
    let defaults = crate::checkpoint::sampling_defaults(&model_dir)?;
    let overrides = PlanOverrides {
        steps: args.steps,
        guidance: args.guidance.or(defaults.guidance_scale),
        reasoning_steps: args.reasoning_steps,
        num_frames: args.num_frames,
        srm: args.srm.map(|s| s == Switch::On),
    };
    let t_cfg = pipe.transformer.config();
    let (effective, shape) = resolve_plan(
        &plan,
        &overrides,
        t_cfg.rope_temporal_skip_len,
        pipe.vae.temporal_scale(),
    )?;
    if args.num_frames.is_some()
        && shape.reasoning_steps == 0
        && shape.num_frames != FRAMES_WITHOUT_REASONING
    {
        eprintln!(
            "note: --num-frames {} is ignored without reasoning steps (5 frames, as in diffusers)",
            shape.num_frames
        );
    }
    let latents = match &args.latents {
        Some(p) => Some(load_latents(p, &device)?),
        None => None,
    };
    let request = EditRequest {
        prompt: args.prompt.clone(),
        negative_prompt: args.negative_prompt.clone(),
        steps: shape.steps,
        guidance: shape.guidance,
        height,
        width,
        num_frames: shape.num_frames,
        temporal_reasoning: shape.reasoning_steps > 0,
        reasoning_steps: shape.reasoning_steps,
        temporal_positions: shape.temporal_positions.clone(),
        latents,
        seed: args.seed,
    };
    let adaptive = AdaptiveOptions {
        srm: shape.srm.then(|| SrmConfig {
            probe: match args.srm_probe {
                ProbeArg::FirstStep => Probe::FirstStep,
                ProbeArg::Pass => Probe::Pass {
                    sigma: args.srm_probe_sigma,
                },
            },
            dilate: args.srm_dilate,
            ..Default::default()
        }),
    };

    let bar = indicatif::ProgressBar::new(shape.steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "denoise {bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let out = pipe.edit_with(&image, &request, &adaptive, &mut |_, _| bar.inc(1));
    bar.finish_and_clear();
    let out = out?;

    let edited = tensor_to_rgb(&out.edited()?)?;
    atomic_write(&args.output, |tmp| {
        edited
            .save(tmp)
            .with_context(|| format!("cannot write {}", args.output.display()))
    })?;
    if let Some(p) = &args.frames_out {
        let frames = out.frames.clone();
        atomic_write(p, |tmp| {
            let map: HashMap<String, Tensor> =
                [("frames".to_string(), frames)].into_iter().collect();
            candle_core::safetensors::save(&map, tmp)
                .with_context(|| format!("cannot write {}", p.display()))
        })?;
    }
    if let Some(p) = &args.trajectory_out {
        write_trajectory(&out.frames, p)?;
    }
    if let Some(p) = &args.mask_out {
        let mask = match &out.srm {
            Some(s) => s.mask.clone(),
            None => {
                eprintln!("note: the SRM did not run (no reasoning frames or SRM off); --mask-out shows the full frame");
                let patch = t_cfg.patch();
                let s = pipe.vae.spatial_scale();
                TokenMask::full(height / s / patch[1], width / s / patch[2])
            }
        };
        let resized = image
            .resize_exact(
                width as u32,
                height as u32,
                image::imageops::FilterType::Triangle,
            )
            .to_rgb8();
        let overlay = mask_overlay(&resized, &mask);
        atomic_write(p, |tmp| {
            overlay
                .save_with_format(tmp, image::ImageFormat::Png)
                .with_context(|| format!("cannot write {}", p.display()))
        })?;
    }
    let total_s = load_s + out.times.encode_s + out.times.denoise_s + out.times.decode_s;
    if let Some(p) = &args.report {
        let dims = ModelDims::from_model_dir(&model_dir)?;
        let coverage = out.srm.as_ref().map_or(1.0, |s| s.coverage);
        let estimate = edit_cost(
            &dims,
            &effective,
            &CostOptions {
                height,
                width,
                srm_coverage: coverage,
                ..Default::default()
            },
        );
        let executed = out.transformer_flops(&dims);
        let report = serde_json::json!({
            "prompt": args.prompt,
            "recipe": recipe.name(),
            "recipe_plan": plan,
            "plan": effective,
            "request": shape,
            "height": height,
            "width": width,
            "srm": out.srm,
            "mask_coverage": coverage,
            "tokens_per_step": out.tokens_per_step,
            "forwards_per_step": out.forwards_per_step,
            "flops": {
                "model": dims.source,
                "estimate": estimate,
                "executed_transformer": executed,
            },
            "times": {
                "load_s": load_s,
                "encode_s": out.times.encode_s,
                "denoise_s": out.times.denoise_s,
                "probe_s": out.srm.as_ref().map_or(0.0, |s| s.probe_s),
                "decode_s": out.times.decode_s,
                "total_s": total_s,
            },
        });
        let text = serde_json::to_string_pretty(&report)?;
        atomic_write(p, |tmp| {
            std::fs::write(tmp, text.as_bytes())
                .with_context(|| format!("cannot write {}", p.display()))
        })?;
    }
    eprintln!(
        "edited {}x{} in {:.2} s (load {:.2} s, encode {:.2} s, denoise {:.2} s, decode {:.2} s) -> {}",
        width,
        height,
        total_s,
        load_s,
        out.times.encode_s,
        out.times.denoise_s,
        out.times.decode_s,
        args.output.display()
    );
    Ok(())
}

fn check_output_path(flag: &str, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "{flag} {}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        bail!(
            "{flag} {}: is a folder, expected a file name",
            path.display()
        );
    }
    Ok(())
}

fn load_latents(path: &Path, device: &Device) -> Result<Tensor> {
    crate::checkpoint::check_safetensors_file(path).context("--latents")?;
    let map = candle_core::safetensors::load(path, device)
        .with_context(|| format!("--latents: cannot read {}", path.display()))?;
    map.get("latents").cloned().with_context(|| {
        format!(
            "--latents: {} has no tensor named `latents`",
            path.display()
        )
    })
}

fn write_trajectory(frames: &Tensor, path: &Path) -> Result<()> {
    let n = frames.dim(0)?;
    let images: Vec<image::RgbImage> = (0..n)
        .map(|i| tensor_to_rgb(&frames.get(i)?))
        .collect::<Result<_>>()?;
    let gif = path
        .extension()
        .map(|e| e.eq_ignore_ascii_case("gif"))
        .unwrap_or(false);
    atomic_write(path, |tmp| {
        if gif {
            let file = std::fs::File::create(tmp)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut enc = image::codecs::gif::GifEncoder::new(file);
            enc.set_repeat(image::codecs::gif::Repeat::Infinite)?;
            for img in &images {
                let rgba = image::DynamicImage::ImageRgb8(img.clone()).to_rgba8();
                let delay = image::Delay::from_numer_denom_ms(250, 1);
                enc.encode_frame(image::Frame::from_parts(rgba, 0, 0, delay))?;
            }
            Ok(())
        } else {
            let (w, h) = images[0].dimensions();
            let mut strip = image::RgbImage::new(w * n as u32, h);
            for (i, img) in images.iter().enumerate() {
                image::imageops::replace(&mut strip, img, (i as u32 * w) as i64, 0);
            }
            strip
                .save(tmp)
                .with_context(|| format!("cannot write {}", path.display()))
        }
    })
}
