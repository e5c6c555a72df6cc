//! `physedit edit`: one instruction-based edit.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;

use crate::checkpoint::parse_dtype;
use crate::pipeline::chronoedit::{
    ChronoEditPipeline, EditRequest, LoadOptions, FRAMES_WITHOUT_REASONING, FRAMES_WITH_REASONING,
};
use crate::util::{atomic_write, open_image, tensor_to_rgb};

const EXAMPLES: &str = "\
Examples:
  # Edit with a ChronoEdit pipeline folder, no temporal reasoning (5 frames):
  physedit edit --model ChronoEdit-14B-Diffusers --image cat.png --prompt \"Make the cat jump\" -o out.png

  # The reference reasoning recipe: 29 frames, reasoning through all 50 steps, trajectory as a GIF:
  physedit edit --model DIR --image in.png --prompt \"Push the red ball to the right\" \\
      --num-frames 29 --reasoning-steps 50 --trajectory-out reasoning.gif -o out.png

  # Reproduce a run of another implementation from its initial noise:
  physedit edit --model DIR --image in.png --prompt \"...\" --latents noise.safetensors --frames-out frames.safetensors -o out.png";

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
    /// Denoising steps.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Classifier-free guidance scale (CFG is skipped when <= 1).
    #[arg(long, default_value_t = 5.0)]
    pub guidance: f64,
    /// Seed of the initial noise (ignored with --latents).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output height (default: the input's aspect, rounded to what the model needs).
    #[arg(long)]
    pub height: Option<usize>,
    /// Output width (default: the input's aspect, rounded to what the model needs).
    #[arg(long)]
    pub width: Option<usize>,
    /// Video frames, 4k + 1: 5 without reasoning (always, as in diffusers), 29 in the reference reasoning recipe.
    #[arg(long)]
    pub num_frames: Option<usize>,
    /// N_r: steps of temporal reasoning over all latent frames (0 = off).
    #[arg(long, default_value_t = 0)]
    pub reasoning_steps: usize,
    /// Compute dtype of the transformer: f32, f16 or bf16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
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
    let device = Device::Cpu;
    let pipe = ChronoEditPipeline::load(
        &model_dir,
        &LoadOptions {
            dtype,
            device: device.clone(),
        },
    )?;
    let load_s = t_load.elapsed().as_secs_f64();

    let (height, width) = output_size(&pipe, &image, args.height, args.width)?;
    let num_frames = args.num_frames.unwrap_or(if args.reasoning_steps > 0 {
        FRAMES_WITH_REASONING
    } else {
        FRAMES_WITHOUT_REASONING
    });
    if args.num_frames.is_some()
        && args.reasoning_steps == 0
        && num_frames != FRAMES_WITHOUT_REASONING
    {
        eprintln!("note: --num-frames {num_frames} is ignored without --reasoning-steps (5 frames, as in diffusers)");
    }
    let latents = match &args.latents {
        Some(p) => Some(load_latents(p, &device)?),
        None => None,
    };
    let request = EditRequest {
        prompt: args.prompt.clone(),
        negative_prompt: args.negative_prompt.clone(),
        steps: args.steps,
        guidance: args.guidance,
        height,
        width,
        num_frames,
        temporal_reasoning: args.reasoning_steps > 0,
        reasoning_steps: args.reasoning_steps,
        temporal_positions: None,
        latents,
        seed: args.seed,
    };

    let bar = indicatif::ProgressBar::new(args.steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "denoise {bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let out = pipe.edit(&image, &request, &mut |_, _| bar.inc(1));
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
    eprintln!(
        "edited {}x{} in {:.2} s (load {:.2} s, encode {:.2} s, denoise {:.2} s, decode {:.2} s) -> {}",
        width,
        height,
        load_s + out.times.encode_s + out.times.denoise_s + out.times.decode_s,
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

/// The requested size, or the input's aspect ratio at (at most) its own area, each side rounded
/// down to the model's multiple — as ChronoEdit's example sizes images.
pub fn output_size(
    pipe: &ChronoEditPipeline,
    image: &image::DynamicImage,
    height: Option<usize>,
    width: Option<usize>,
) -> Result<(usize, usize)> {
    let m = pipe.size_multiple();
    const MAX_AREA: f64 = 720.0 * 1280.0;
    let (iw, ih) = (image.width() as f64, image.height() as f64);
    let area = (iw * ih).min(MAX_AREA);
    let aspect = ih / iw;
    let round = |x: f64| ((x.round() as usize) / m * m).max(m);
    let h = height.unwrap_or_else(|| round((area * aspect).sqrt()));
    let w = width.unwrap_or_else(|| round((area / aspect).sqrt()));
    for (flag, v) in [("--height", h), ("--width", w)] {
        if v == 0 || v % m != 0 {
            bail!("{flag} {v} must be a positive multiple of {m} for this model");
        }
    }
    Ok((h, w))
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
