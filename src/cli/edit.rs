//! `physedit edit`: one instruction-based edit.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;

use crate::adaptive::accel::{Acceleration, CachePolicy, CacheSettings};
use crate::adaptive::cost::{edit_cost, CostOptions, ModelDims};
use crate::adaptive::plan::{Overrides, Recipe};
use crate::adaptive::srm::Probe;
use crate::checkpoint::lora::LoraSpec;
use crate::cli::args::{
    fraction, model_or_bundled, non_negative, positive, positive_f64, ComponentArgs, DeviceArgs,
    PlannerArgs,
};
use crate::pipeline::chronoedit::{
    ChronoEditPipeline, EditSize, LoadOptions, SizeLimit, SizeLimits,
};
use crate::pipeline::planned::{self, EditSpec};
use crate::schedulers::Solver;
use crate::util::{atomic_write, image_dimensions, open_image, save_png_atomic, write_atomic};

const EXAMPLES: &str = "\
Examples:
  # The bundled world model (no --model), at its native 64x64, picture returned at the input's size:
  physedit edit --image data/world/test/images/test_000023.png \
      --prompt \"Swap the scenery behind the objects for plain peach.\" -o edited.png

  # A model as ComfyUI users hold it, four single files and umT5's tokenizer, no --model (configs read
  # from the files' shapes; ChronoEdit's scheduler and CLIP preprocessing):
  physedit edit --transformer chrono_edit_14B_fp8_scaled.safetensors --vae wan_2.1_vae.safetensors \\
      --text-encoder umt5_xxl_fp8_e4m3fn_scaled.safetensors --image-encoder clip_vision_h.safetensors \\
      --tokenizer umt5-tokenizer/ --image cat.png --prompt \"Make the cat jump\" --offload -o out.png

  # A model named by its Hugging Face id: read from the hub cache (the one huggingface_hub uses),
  # its pipeline files fetched there first when missing; @REVISION picks a branch, tag or commit:
  physedit edit --model nvidia/ChronoEdit-14B-Diffusers --image cat.png --prompt \"Make the cat jump\" -o out.png
  HF_HUB_OFFLINE=1 physedit edit --model nvidia/ChronoEdit-14B-Diffusers@main --image cat.png --prompt \"...\" -o out.png

  # The PhysEdit recipe: CARD picks the reasoning depth, SRM prunes the reasoning frames:
  physedit edit --model ChronoEdit-14B-Diffusers --image cat.png --prompt \"Make the cat jump\" -o out.png \\
      --report report.json --mask-out mask.png

  # The reference reasoning recipe: 29 frames, reasoning through all 50 steps, trajectory as a GIF:
  physedit edit --model DIR --image in.png --prompt \"Push the red ball to the right\" \\
      --recipe chronoedit-reasoning --trajectory-out reasoning.gif -o out.png

  # The same with explicit flags (exactly the reference ChronoEdit behaviour for that video):
  physedit edit --model DIR --image in.png --prompt \"...\" --num-frames 29 --reasoning-steps 50 -o out.png

  # The fast recipe (the plan on 6 steps at flow shift 4), or accelerations one by one:
  physedit edit --image in.png --prompt \"...\" --recipe physedit-fast -o out.png
  physedit edit --image in.png --prompt \"...\" --steps 8 --solver unipc3 --flow-shift 4 -o out.png
  physedit edit --image in.png --prompt \"...\" --cache 0.2 --cache-policy tea --reasoning-cache 2 -o out.png
  physedit edit --image in.png --prompt \"...\" --cache 0.1 --cfg-tail 0.2 --rpfi --report r.json -o out.png
  physedit edit --image in.png --prompt \"...\" --mask region.png --region 0.3 -o out.png

  # Reproduce a run of another implementation from its initial noise:
  physedit edit --model DIR --image in.png --prompt \"...\" --latents noise.safetensors --frames-out frames.safetensors -o out.png

Precedence: the recipe (with --table and --card for the adaptive recipes) gives a plan: steps, N_r,
reasoning frames r, SRM, guidance. Each explicit flag then replaces its plan value: --steps (N_r
keeps its share: round(N_r * steps / plan steps), at least 1 when the plan reasons), --guidance,
--reasoning-steps (N_r; r stays the plan's, or 6 when the plan has none), --num-frames
(r = (frames - 1) / 4 - 1; 5 frames means no reasoning). When --reasoning-steps or
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
    /// Diffusers ChronoEdit pipeline: a folder (model_index.json at its root) or a Hugging Face id
    /// ORG/NAME[@REVISION], read from the hub cache ($HF_HUB_CACHE, else $HF_HOME/hub) and fetched
    /// there when missing (HF_ENDPOINT, HF_TOKEN; HF_HUB_OFFLINE=1: cache only) [default: the
    /// bundled world model, models/physedit-world].
    #[arg(long, value_name = "DIR|ORG/NAME[@REV]")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub components: ComponentArgs,
    /// Input image (PNG, JPEG, WebP, GIF, BMP).
    #[arg(long, value_name = "IN.png")]
    pub image: PathBuf,
    /// The edit instruction.
    #[arg(long)]
    pub prompt: String,
    /// Output image (the last video frame).
    #[arg(short = 'o', long = "output", value_name = "OUT.png")]
    pub output: PathBuf,
    /// Negative prompt of the unconditional CFG branch.
    #[arg(long, default_value = "")]
    pub negative_prompt: String,
    /// Recipe: how much temporal reasoning the edit gets.
    #[arg(long, value_enum, default_value_t = Recipe::Physedit)]
    pub recipe: Recipe,
    #[command(flatten)]
    pub planner: PlannerArgs,
    /// Denoising steps (default: the plan's); N_r keeps its share of the steps.
    #[arg(long, value_parser = positive)]
    pub steps: Option<usize>,
    /// Classifier-free guidance scale, CFG skipped when <= 1 (default: the model folder's
    /// physedit.json `guidance_scale` when it has one, such as the bundled model, except for the
    /// distilled recipes, which keep 1; else the plan's, 5).
    #[arg(long, value_parser = non_negative)]
    pub guidance: Option<f64>,
    /// Seed of the initial noise (ignored with --latents).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Working height (default: the model's native resolution when its physedit.json states one,
    /// the picture then returned at the input's size; else the input's aspect, rounded to what the
    /// model needs).
    #[arg(long)]
    pub height: Option<usize>,
    /// Working width (default: as for --height).
    #[arg(long)]
    pub width: Option<usize>,
    /// Most pixels of the working size (height x width), the size chosen from the picture
    /// included; checked from the picture's header before it is decoded.
    #[arg(long, value_name = "PIXELS", default_value_t = SizeLimits::DEFAULT.max_pixels)]
    pub max_size_pixels: u64,
    /// Most long side / short side of the input picture and of the working size.
    #[arg(long, value_name = "RATIO", default_value_t = SizeLimits::DEFAULT.max_aspect)]
    pub max_aspect_ratio: f64,
    /// Video frames, 4k + 1: 5 = no reasoning, 29 = the reference reasoning video (reference behaviour, see below).
    #[arg(long, value_parser = positive)]
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
    /// RPFI: during the reasoning steps pull the output frame outside the SRM mask toward the
    /// re-noised input; optional relaxation (α = min(1, RELAX·(i+1)/N_r), default 1.5).
    #[arg(long, value_name = "RELAX", num_args = 0..=1, default_missing_value = "1.5", value_parser = non_negative)]
    pub rpfi: Option<f64>,
    /// Step caching: reuse the transformer's residual while the predicted change stays below
    /// THRESH (0.1 is a moderate setting; 0 computes every step).
    #[arg(long, value_name = "THRESH", value_parser = non_negative)]
    pub cache: Option<f64>,
    /// The step cache's indicator: easy (runtime-adaptive), mag or tea (MagCache's and TeaCache's
    /// rules, calibrated by `physedit calibrate`).
    #[arg(long, value_enum, default_value = "easy", requires = "cache")]
    pub cache_policy: CachePolicyArg,
    /// First-block caching: run the first block, and skip the rest of the stack (reusing its
    /// residual) while the first block's residual changes by less than THRESH (relative L1) since
    /// the last computed step; no calibration (0.05-0.1 are moderate; 0 computes every step).
    #[arg(long, value_name = "THRESH", value_parser = non_negative, conflicts_with = "cache")]
    pub fbcache: Option<f64>,
    /// Guidance tail: run only the conditional branch over the last FRACTION of the steps,
    /// reusing the last guidance difference (no effect at guidance <= 1).
    #[arg(long, value_name = "FRACTION", value_parser = fraction)]
    pub cfg_tail: Option<f64>,
    /// Region-aware denoising: from this fraction of the steps on, the output frame's tokens outside
    /// the edit region (--mask, else the SRM mask when SRM runs) are held, not computed.
    #[arg(long, value_name = "FRACTION", value_parser = fraction)]
    pub region: Option<f64>,
    /// Caching across the reasoning frames: compute the reasoning frames at every K-th reasoning
    /// step only, holding their last clean estimate in between (1: every step).
    #[arg(long, value_name = "K", value_parser = positive)]
    pub reasoning_cache: Option<usize>,
    /// The sampler instead of the model folder's: unipc1-3 (UniPC of that order), dpm1-3
    /// (DPM-Solver++ of that order) or euler; the folder's flow shift is kept. A third-order
    /// solver keeps short runs (--steps 6-10) closer to the full recipe.
    #[arg(long, value_name = "NAME")]
    pub solver: Option<Solver>,
    /// The flow shift instead of the model folder's (or the recipe's): higher values put more of
    /// the steps at high noise.
    #[arg(long, value_name = "SHIFT", value_parser = positive_f64)]
    pub flow_shift: Option<f64>,
    /// The region the edit may change, a picture over the input (any size: it is resized):
    /// transparent pixels where it has transparency, else white pixels. It is the SRM's region
    /// when the plan runs the SRM, and --region's.
    #[arg(long, value_name = "FILE.png")]
    pub mask: Option<PathBuf>,
    /// Write the SRM mask over the input image (PNG; outside the mask darkened).
    #[arg(long, value_name = "FILE.png")]
    pub mask_out: Option<PathBuf>,
    /// Write a JSON report: plan, mask coverage, tokens per step, FLOPs, wall time per phase.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Keep only the module in use on the device (text encoder, image encoder, transformer, VAE in
    /// turn; the others wait in host memory), as diffusers' `enable_model_cpu_offload`: less GPU
    /// memory, some time per edit for the copies. On the CPU it saves nothing.
    #[arg(long)]
    pub offload: bool,
    /// LoRA fused into the transformer at load, FILE[:SCALE] (scale 1 by default); repeatable.
    /// diffusers/PEFT and Wan/Kohya layouts. The distilled recipes need ChronoEdit's distillation
    /// LoRA (not shipped).
    #[arg(long, value_name = "FILE[:SCALE]")]
    pub lora: Vec<LoraSpec>,
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

impl EditArgs {
    /// `--max-size-pixels` and `--max-aspect-ratio`, checked.
    pub fn size_limits(&self) -> Result<SizeLimits> {
        if !(self.max_aspect_ratio.is_finite() && self.max_aspect_ratio >= 1.0) {
            bail!(
                "--max-aspect-ratio must be a number of at least 1, got {}",
                self.max_aspect_ratio
            );
        }
        if self.max_size_pixels == 0 {
            bail!("--max-size-pixels must be at least 1");
        }
        Ok(SizeLimits {
            max_pixels: self.max_size_pixels,
            max_aspect: self.max_aspect_ratio,
        })
    }

    /// The plan overrides these flags give (`guidance` falls back to the model's default).
    pub fn overrides(&self, default_guidance: Option<f64>) -> Overrides {
        Overrides {
            steps: self.steps,
            guidance: self.guidance.or(default_guidance).map(|g| g as f32),
            reasoning_steps: self.reasoning_steps,
            num_frames: self.num_frames,
            srm: self.srm.map(|s| s == Switch::On),
            accel: self.accel(),
        }
    }

    /// The accelerations these flags switch on (on top of the recipe's).
    pub fn accel(&self) -> Acceleration {
        Acceleration {
            rpfi: self.rpfi.map(|r| r as f32),
            cache: self.cache.map(|t| {
                CacheSettings::new(
                    match self.cache_policy {
                        CachePolicyArg::Easy => CachePolicy::Easy,
                        CachePolicyArg::Mag => CachePolicy::Mag,
                        CachePolicyArg::Tea => CachePolicy::Tea,
                    },
                    t,
                )
            }),
            fbcache: self.fbcache,
            cfg_tail: self.cfg_tail,
            region: self.region,
            solver: self.solver,
            flow_shift: self.flow_shift,
            reasoning_every: self.reasoning_cache,
        }
    }
}

/// `--cache-policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CachePolicyArg {
    Easy,
    Mag,
    Tea,
}

/// The cost model's dimensions for a model given as single files: its transformer's, and
/// ChronoEdit-14B's encoders and VAE.
fn single_file_dims(t: &crate::models::transformer::Config) -> ModelDims {
    let mut dims = ModelDims::chronoedit_14b();
    dims.transformer = crate::adaptive::cost::TransformerDims {
        patch_size: t.patch_size.clone(),
        num_attention_heads: t.num_attention_heads,
        attention_head_dim: t.attention_head_dim,
        in_channels: t.in_channels,
        out_channels: t.out_channels(),
        text_dim: t.text_dim,
        freq_dim: t.freq_dim,
        ffn_dim: t.ffn_dim,
        num_layers: t.num_layers,
        image_dim: t.image_dim,
        added_kv_proj_dim: t.added_kv_proj_dim,
        rope_temporal_skip_len: t.rope_temporal_skip_len,
    };
    dims.source = "single files".to_string();
    dims
}

/// On a GPU, before loading: prints the memory plan, and stops with its advice when the edit will
/// not fit the device's free memory.
fn check_memory(
    args: &EditArgs,
    model_dir: &Path,
    image: &image::DynamicImage,
    planner: &crate::adaptive::plan::Planner,
    device: &Device,
) -> Result<()> {
    let dtype = args.device.dtype();
    let Some(mem) = crate::device::device_memory(device).context("device memory")? else {
        return Ok(());
    };
    let flash = crate::models::attention::describe_attention(device, dtype) == "flash";
    let input = crate::cli::memory::edit_plan_input(
        model_dir,
        image,
        args.height,
        args.width,
        args.recipe,
        &planner.table,
        args.num_frames,
        args.guidance,
        dtype,
        args.offload,
        flash,
    )?;
    let free = mem.device_total.saturating_sub(mem.device_used_now);
    let (_, text) = crate::cli::memory::preflight(model_dir, &input, free)?;
    eprint!("{text}");
    Ok(())
}

pub fn run(args: EditArgs) -> Result<()> {
    let dtype = args.device.dtype();
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
    let limits = args.size_limits()?;
    // The picture's header first: an absurd aspect is refused before any pixel is decoded.
    let dims = image_dimensions(&args.image)?;
    limits
        .check_aspect(
            &format!("--image {}", args.image.display()),
            dims.0 as u64,
            dims.1 as u64,
        )
        .map_err(|m| anyhow::anyhow!("{m} (--max-aspect-ratio)"))?;
    let image = open_image(&args.image)?;

    // Flags that name files are checked before the (long) model load or download.
    let planner = args.planner.planner()?;
    let files = args.components.files()?;
    // Without --model, the single files are the model when the tokenizer (or all four components)
    // is given; otherwise the bundled model.
    let standalone = args.model.is_none()
        && (files.tokenizer.is_some()
            || crate::checkpoint::standalone::missing_flags(&files) == ["--tokenizer"]);
    let model_dir = if standalone {
        None
    } else {
        Some(model_or_bundled(args.model.as_deref())?)
    };
    let t_load = Instant::now();
    let device = args.device.device()?;
    crate::device::reset_peak_memory(&device).context("device memory")?;
    match (&model_dir, device.is_cuda()) {
        (Some(dir), true) => check_memory(&args, dir, &image, &planner, &device)?,
        (None, true) => eprintln!(
            "note: no memory plan for a model given as single files; `physedit memory` prices them"
        ),
        _ => {}
    }
    let opts = LoadOptions {
        dtype,
        device: device.clone(),
        loras: args.lora.clone(),
        offload: args.offload,
        files,
    };
    let pipe = match &model_dir {
        Some(dir) => ChronoEditPipeline::load(dir, &opts)?,
        None => ChronoEditPipeline::load_files(&opts)?,
    };
    let load_s = t_load.elapsed().as_secs_f64();

    // The size flags are checked here so that their error names them.
    let size = EditSize::choose_for(
        pipe.size_multiple(),
        dims,
        args.height,
        args.width,
        pipe.defaults.native_size(),
    )
    .context("--height/--width")?;
    if let Err((which, m)) = limits.check_work(&size) {
        let flag = match which {
            SizeLimit::Pixels => "--max-size-pixels",
            SizeLimit::Aspect => "--max-aspect-ratio",
        };
        let from = if args.height.is_some() || args.width.is_some() {
            "--height/--width".to_string()
        } else {
            format!("the picture --image {}", args.image.display())
        };
        bail!("{m} (chosen from {from}; raise {flag} to allow it)");
    }
    let spec = spec_from_args(&args, &device)?;

    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "denoise {bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let done = planned::run(&pipe, &planner, &image, &spec, &mut |_, n| {
        bar.set_length(n as u64);
        bar.inc(1)
    });
    bar.finish_and_clear();
    let done = done?;
    for note in &done.notes {
        eprintln!("{note}");
    }
    let (height, width) = (done.size.height, done.size.width);
    let out = &done.output;
    let (plan, effective, schedule) = (&done.plan, &done.effective, &done.schedule);
    let memory = crate::device::device_memory(&device).context("device memory")?;

    atomic_write(&args.output, |tmp| {
        done.picture
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
        write_trajectory(&done.trajectory()?, p)?;
    }
    if let Some(p) = &args.mask_out {
        let (overlay, ran) = done.srm_overlay(&pipe, &image);
        if !ran {
            eprintln!("note: the SRM did not run (no reasoning frames or SRM off); --mask-out shows the full frame");
        }
        save_png_atomic(p, &overlay)?;
    }
    let total_s = load_s + out.times.encode_s + out.times.denoise_s + out.times.decode_s;
    if let Some(p) = &args.report {
        let dims = match &model_dir {
            Some(dir) => ModelDims::from_model_dir(dir)?,
            None => single_file_dims(pipe.transformer.config()),
        };
        let coverage = out.srm.as_ref().map_or(1.0, |s| s.coverage);
        let estimate = edit_cost(
            &dims,
            effective,
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
            "recipe": args.recipe.name(),
            "recipe_plan": plan,
            "plan": effective,
            "request": schedule,
            "height": height,
            "width": width,
            "srm": out.srm,
            "mask_coverage": coverage,
            "tokens_per_step": out.tokens_per_step,
            "forwards_per_step": out.forwards_per_step,
            "forwards": out.forwards,
            "accel": {
                "settings": schedule.accel,
                "cache_reused_steps": out.reused_steps,
                "rpfi_ran": out.rpfi_steps.is_some_and(|n| n > 0),
                "rpfi_steps": out.rpfi_steps,
                "region_held_steps": out.region_held_steps,
                "reasoning_held_steps": out.reasoning_held_steps,
            },
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
            "device": {
                "name": crate::device::describe_device(&device),
                "offload": args.offload,
                "attention": crate::models::attention::describe_attention(&device, dtype),
                "memory": memory,
            },
        });
        let text = serde_json::to_string_pretty(&report)?;
        write_atomic(p, text.as_bytes())?;
    }
    eprintln!(
        "device: {}{}; attention: {}",
        crate::device::describe_device(&device),
        if args.offload { " (offload)" } else { "" },
        crate::models::attention::describe_attention(&device, dtype)
    );
    if let Some(m) = &memory {
        eprintln!("{}", crate::device::describe_memory(m));
    }
    eprintln!(
        "edited at {}x{} in {:.2} s (load {:.2} s, encode {:.2} s, denoise {:.2} s, decode {:.2} s) -> {}",
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

/// The edit the flags describe (plan overrides, accelerations, region, initial noise).
fn spec_from_args(args: &EditArgs, device: &Device) -> Result<EditSpec> {
    let mut spec = EditSpec::new(args.prompt.clone());
    spec.negative_prompt = args.negative_prompt.clone();
    spec.recipe = args.recipe;
    spec.steps = args.steps;
    spec.guidance = args.guidance;
    spec.reasoning_steps = args.reasoning_steps;
    spec.num_frames = args.num_frames;
    spec.srm = args.srm.map(|s| s == Switch::On);
    spec.srm_probe = match args.srm_probe {
        ProbeArg::FirstStep => Probe::FirstStep,
        ProbeArg::Pass => Probe::Pass {
            sigma: args.srm_probe_sigma,
        },
    };
    spec.srm_dilate = args.srm_dilate;
    spec.height = args.height;
    spec.width = args.width;
    spec.seed = args.seed;
    spec.accel = args.accel();
    if let Some(p) = &args.mask {
        let picture = open_image(p).context("--mask")?;
        spec.region = Some(crate::util::mask_region(&picture));
    }
    if let Some(p) = &args.latents {
        spec.latents = Some(load_latents(p, device)?);
    }
    Ok(spec)
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

fn write_trajectory(images: &[image::RgbImage], path: &Path) -> Result<()> {
    let gif = path
        .extension()
        .map(|e| e.eq_ignore_ascii_case("gif"))
        .unwrap_or(false);
    let bytes = if gif {
        crate::util::gif_bytes(images, 250)?
    } else {
        crate::util::png_bytes(&crate::util::frame_strip(images))?
    };
    write_atomic(path, &bytes)
}
