//! `physedit memory`: the predicted peak device memory of an edit, per phase, and which cards run
//! which recipe at which storage (the arithmetic is `checkpoint::memory`).
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::adaptive::card::{CardInput, Predictor, RulePredictor, Tier};
use crate::adaptive::plan::{plan_for_prediction, PlanTable, Recipe};
use crate::checkpoint::memory::{
    advice, card_table, describe, gb, plan, safetensors_shapes, EncoderStorage, MemoryPlan,
    ModelSizes, PlanInput, Storage, Target, CARDS, CARD_RESERVE_BYTES,
};
use crate::cli::args::DTypeArg;

const EXAMPLES: &str = "\
Examples:
  # ChronoEdit-14B (built-in dimensions) at 480x832, reference reasoning recipe, bf16:
  physedit memory --dtype bf16

  # The card table for the stored forms users hold, without reasoning frames:
  physedit memory --dtype bf16 --recipe no-reasoning --storage bf16,fp8,q8_0,q4_k_m

  # A model folder, with a single-file transformer and --offload:
  physedit memory --model ChronoEdit-14B-Diffusers --transformer chrono_edit_14B_fp8_scaled.safetensors \\
      --dtype bf16 --offload

  # ChronoEdit-14B as ComfyUI users hold it: Q4_K_M transformer, fp8 umT5, f16 CLIP-H, --offload:
  physedit memory --dtype bf16 --storage q4_k_m --text-encoder-storage fp8 --image-encoder-storage f16 --offload

  # The same, priced from the encoder files' headers:
  physedit memory --dtype bf16 --storage q4_k_m --offload \\
      --text-encoder umt5_xxl_fp8_e4m3fn_scaled.safetensors --image-encoder clip_vision_h.safetensors

  # What the CPU holds for the bundled model at its 64x64 (the encoders stay loaded on the CPU):
  physedit memory --model models/physedit-world --target cpu --dtype f32 --height 64 --width 64";

/// Which attention and convolution kernels the prediction assumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// A CUDA GPU: flash attention for bf16/f16 (builds with `flash-attn`), chunked for f32.
    Cuda,
    /// A CUDA GPU without flash attention (the query-chunked kernel).
    CudaChunked,
    /// The CPU (fused attention kernel; the encoders stay loaded).
    Cpu,
}

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct MemoryArgs {
    /// Diffusers model folder (configs for the dimensions, safetensors headers for the sizes);
    /// default: ChronoEdit-14B's built-in dimensions.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A single-file transformer (.safetensors: its tensors' shapes, and fp8 when its block weights
    /// are float8; .gguf: give its type with --storage).
    #[arg(long, value_name = "FILE")]
    pub transformer: Option<PathBuf>,
    /// A single-file text encoder (umT5), priced from its header at its stored precision.
    #[arg(long, value_name = "FILE")]
    pub text_encoder: Option<PathBuf>,
    /// A single-file image encoder (CLIP vision), priced from its header.
    #[arg(long, value_name = "FILE")]
    pub image_encoder: Option<PathBuf>,
    /// How the built-in ChronoEdit-14B's text encoder is stored (f32, f16, bf16, or fp8 = ComfyUI's
    /// scaled fp8 with a 16-bit embedding) [default: bf16, as diffusers' ChronoEdit repository].
    #[arg(long, value_name = "STORAGE", conflicts_with_all = ["model", "text_encoder"])]
    pub text_encoder_storage: Option<String>,
    /// How the built-in ChronoEdit-14B's image encoder is stored (f32, f16, bf16, fp8) [default: f32].
    #[arg(long, value_name = "STORAGE", conflicts_with_all = ["model", "image_encoder"])]
    pub image_encoder_storage: Option<String>,
    /// Compute dtype of the transformer (as `physedit edit --dtype`).
    #[arg(long, value_enum, default_value_t = DTypeArg::Bf16)]
    pub dtype: DTypeArg,
    /// Plan with --offload (only the module in use on the device).
    #[arg(long)]
    pub offload: bool,
    /// Recipe whose video length and guidance are planned (adaptive recipes: their longest plan).
    #[arg(long, value_enum, default_value_t = Recipe::ChronoeditReasoning, conflicts_with = "num_frames")]
    pub recipe: Recipe,
    /// Video frames instead of a recipe (4k + 1: 29 = 6 reasoning frames, 5 = none); CFG on.
    #[arg(long)]
    pub num_frames: Option<usize>,
    /// Picture height in pixels.
    #[arg(long)]
    pub height: Option<usize>,
    /// Picture width in pixels.
    #[arg(long)]
    pub width: Option<usize>,
    /// Storage forms of the transformer's block weights for the card table (comma-separated); the
    /// first is the one planned phase by phase [default: the compute dtype (or the --transformer
    /// file's form), then bf16, fp8, q8_0, q4_k_m].
    #[arg(long, value_delimiter = ',')]
    pub storage: Vec<String>,
    /// Kernels assumed.
    #[arg(long, value_enum, default_value_t = TargetArg::Cuda)]
    pub target: TargetArg,
    /// Text tokens of the cross-attention context (512 is the most; a prompt's real tokens + 1
    /// after the padding collapse).
    #[arg(long, default_value_t = 512)]
    pub text_tokens: usize,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn dtype_name(d: DTypeArg) -> &'static str {
    match d {
        DTypeArg::F32 => "f32",
        DTypeArg::F16 => "f16",
        DTypeArg::Bf16 => "bf16",
    }
}

/// Latent frames of the reasoning phase and whether CFG is on, for a recipe: the longest over the
/// tiers of `table` for adaptive recipes.
pub fn recipe_frames(recipe: Recipe, table: &PlanTable) -> (usize, bool) {
    let rules = RulePredictor;
    [Tier::Low, Tier::Mid, Tier::High]
        .into_iter()
        .filter_map(|tier| {
            let mut p = rules.predict(&CardInput::new("")).ok()?;
            p.tier = tier;
            let plan = plan_for_prediction(recipe, &p, table, rules.name());
            Some((plan.latent_frames(), plan.guidance > 1.0))
        })
        .fold((2, false), |(f, c), (pf, pc)| (f.max(pf), c || pc))
}

/// Latent frames of a `--num-frames` value (4k + 1 frames → k + 1 latent frames).
pub fn latent_frames_of(num_frames: usize) -> Result<usize> {
    if num_frames < 5 || (num_frames - 1) % 4 != 0 {
        bail!("--num-frames {num_frames}: expected 4k + 1 frames, at least 5 (5, 9, ..., 29)");
    }
    Ok((num_frames - 1) / 4 + 1)
}

/// The model sizes for `--model` / the built-in dimensions and the encoder flags.
fn base_sizes(args: &MemoryArgs) -> Result<ModelSizes> {
    let storage = |flag: &str, v: &Option<String>, default| -> Result<EncoderStorage> {
        v.as_deref()
            .map(|s| EncoderStorage::parse(s).with_context(|| format!("--{flag}")))
            .unwrap_or(Ok(default))
    };
    let mut sizes = match &args.model {
        Some(dir) => ModelSizes::from_model_dir(dir)?,
        None => ModelSizes::chronoedit_14b_with(
            storage(
                "text-encoder-storage",
                &args.text_encoder_storage,
                EncoderStorage::Bf16,
            )?,
            storage(
                "image-encoder-storage",
                &args.image_encoder_storage,
                EncoderStorage::F32,
            )?,
        ),
    };
    if let Some(f) = &args.text_encoder {
        sizes.set_text_encoder_file(f).context("--text-encoder")?;
    }
    if let Some(f) = &args.image_encoder {
        sizes.set_image_encoder_file(f).context("--image-encoder")?;
    }
    Ok(sizes)
}

/// The model sizes with `--transformer`, and the storage the transformer file holds.
fn model_sizes(
    mut sizes: ModelSizes,
    transformer: Option<&Path>,
) -> Result<(ModelSizes, Option<Storage>)> {
    let mut stored = None;
    if let Some(f) = transformer {
        let ext = f
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "safetensors" => {
                let (tensors, fp8) = transformer_file(f)?;
                sizes.transformer = tensors;
                stored = fp8.then_some(Storage::Fp8);
            }
            "gguf" => {}
            _ => bail!(
                "--transformer {}: expected a .safetensors or .gguf file",
                f.display()
            ),
        }
    }
    Ok((sizes, stored))
}

/// A single-file transformer's tensors (ComfyUI's prefix removed; fp8 scales and markers left
/// out) and whether its block weights are float8.
fn transformer_file(path: &Path) -> Result<(Vec<crate::checkpoint::memory::ParamTensor>, bool)> {
    let dtypes = safetensors_dtypes(path)?;
    let fp8 = dtypes.iter().any(|d| d.starts_with("F8"));
    let tensors = safetensors_shapes(path)?
        .into_iter()
        .filter(|t| !t.name.ends_with("scale_weight") && !t.name.ends_with("scaled_fp8"))
        .filter(|t| !t.name.ends_with("scale_input"))
        .map(|mut t| {
            if let Some(rest) = t.name.strip_prefix("model.diffusion_model.") {
                t.name = rest.to_string();
            }
            t
        })
        .collect();
    Ok((tensors, fp8))
}

/// The dtypes named in a safetensors header.
fn safetensors_dtypes(path: &Path) -> Result<Vec<String>> {
    let (obj, _) = crate::checkpoint::safetensors_header(path)?;
    Ok(obj
        .values()
        .filter_map(|v| v.get("dtype")?.as_str().map(str::to_string))
        .collect())
}

fn target_of(t: TargetArg, dtype: DTypeArg) -> Target {
    match (t, dtype) {
        (TargetArg::Cpu, _) => Target::Cpu,
        (TargetArg::Cuda, DTypeArg::Bf16 | DTypeArg::F16) => Target::CudaFlash,
        _ => Target::CudaChunked,
    }
}

pub fn run(mut args: MemoryArgs) -> Result<()> {
    // A hub id is resolved to its snapshot; only configs are needed (nothing is downloaded but them).
    if let Some(m) = &args.model {
        args.model = Some(crate::cli::args::model_folder_with(
            "--model",
            m,
            crate::checkpoint::hub::Want::ConfigsOnly,
        )?);
    }
    let (sizes, stored) = model_sizes(base_sizes(&args)?, args.transformer.as_deref())?;
    let native = match &args.model {
        Some(dir) => crate::checkpoint::sampling_defaults(dir)?.native_size(),
        None => None,
    };
    let (height, width) = match (args.height, args.width, native) {
        (Some(h), Some(w), _) => (h, w),
        (None, None, Some(hw)) => hw,
        (None, None, None) => (480, 832),
        _ => bail!("give both --height and --width, or neither"),
    };
    let multiple = size_multiple(&sizes);
    if height == 0 || width == 0 || height % multiple != 0 || width % multiple != 0 {
        bail!("--height/--width {height}x{width}: must be positive multiples of {multiple} for this model");
    }
    let (frames, cfg) = match args.num_frames {
        Some(n) => (latent_frames_of(n)?, true),
        None => recipe_frames(args.recipe, &PlanTable::default()),
    };
    let mut storages = args
        .storage
        .iter()
        .map(|s| Storage::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let is_gguf = args.transformer.as_ref().is_some_and(|f| {
        f.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    });
    if is_gguf && storages.is_empty() {
        bail!("--transformer is a GGUF file: give its type with --storage (q8_0, q4_k_m, ...)");
    }
    if storages.is_empty() {
        storages.push(stored.unwrap_or(match args.dtype {
            DTypeArg::F32 => Storage::F32,
            DTypeArg::F16 => Storage::F16,
            DTypeArg::Bf16 => Storage::Bf16,
        }));
        for s in [Storage::Bf16, Storage::Fp8, Storage::Q8_0, Storage::Q4KM] {
            if !storages.contains(&s) {
                storages.push(s);
            }
        }
    }
    let input = PlanInput {
        height,
        width,
        reasoning_latent_frames: frames,
        cfg,
        compute: dtype_name(args.dtype).to_string(),
        storage: storages[0],
        offload: args.offload,
        target: target_of(args.target, args.dtype),
        text_tokens: args.text_tokens.clamp(1, 512),
    };
    let p = plan(&sizes, &input)?;
    let table = card_table(&sizes, &input, &storages)?;
    let mut advised = Vec::new();
    for (label, cap) in CARDS {
        advised.push((
            label,
            advice(&sizes, &input, cap)?.map(|(a, q)| (a, q.peak)),
        ));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "source": sizes.dims.source,
            "plan": p,
            "card_table": table,
            "cards": CARDS.iter().map(|(l, c)| serde_json::json!({"card": l, "bytes": c})).collect::<Vec<_>>(),
            "reserve_bytes": CARD_RESERVE_BYTES,
            "advice": advised.iter().map(|(l, a)| serde_json::json!({
                "card": l, "change": a.as_ref().map(|x| x.0.clone()), "peak": a.as_ref().map(|x| x.1)
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(out, "model: {}", sizes.dims.source)?;
    write!(out, "{}", describe(&p))?;
    writeln!(
        out,
        "\ncards (an \"N GB\" card holds N GiB = N x 1.074 GB; {} kept free for the CUDA context; \
         yes = fits as is, --offload = fits with it; transformer: its phase's peak with --offload):",
        gb(CARD_RESERVE_BYTES)
    )?;
    write!(
        out,
        "{:<10} {:<10} {:>9} {:>9} {:>12}",
        "storage", "reasoning", "peak", "offload", "transformer"
    )?;
    for (label, _) in CARDS {
        write!(out, " {label:>9}")?;
    }
    writeln!(out)?;
    for r in &table {
        let name = if r.storage == Storage::Dense {
            dtype_name(args.dtype)
        } else {
            r.storage.name()
        };
        write!(
            out,
            "{:<10} {:<10} {:>9} {:>9} {:>12}",
            name,
            if r.reasoning { "yes" } else { "no" },
            gb(r.peak),
            gb(r.peak_offload),
            gb(r.transformer_offload)
        )?;
        for c in &r.cells {
            write!(out, " {c:>9}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "\nto fit this plan ({}):", describe_input(&input))?;
    for (label, a) in &advised {
        match a {
            Some((change, peak)) => writeln!(out, "  {label:>6}: {change} (peak {})", gb(*peak))?,
            None => writeln!(
                out,
                "  {label:>6}: does not fit: {}",
                blocker(&sizes, &input)?
            )?,
        }
    }
    Ok(())
}

/// The size multiple of a model: the VAE's spatial scale times the patch size.
fn size_multiple(sizes: &ModelSizes) -> usize {
    let v = &sizes.dims.vae;
    let p = &sizes.dims.transformer.patch_size;
    (1usize << v.dim_mult.len().saturating_sub(1)) * p[1].max(p[2]).max(1)
}

fn describe_input(i: &PlanInput) -> String {
    format!(
        "{}x{}, {} latent frames",
        i.height, i.width, i.reasoning_latent_frames
    )
}

/// What keeps a plan from fitting even with `--offload` and a Q4_K_M transformer: its largest
/// phase then.
fn blocker(sizes: &ModelSizes, input: &PlanInput) -> Result<String> {
    let p = plan(
        sizes,
        &PlanInput {
            offload: true,
            storage: Storage::Q4KM,
            ..input.clone()
        },
    )?;
    let top = p
        .phases
        .iter()
        .max_by_key(|ph| ph.peak)
        .context("the plan has no phases")?;
    Ok(if top.name == "encoders" {
        format!(
            "even with --offload and a Q4_K_M transformer the encoders need {} (no size or recipe \
             makes them smaller; fp8 or 16-bit encoder files do)",
            gb(top.peak)
        )
    } else {
        format!(
            "even with --offload and a Q4_K_M transformer the {} phase needs {}; {}",
            top.name,
            gb(top.peak),
            smaller_hint(input)
        )
    })
}

fn smaller_hint(i: &PlanInput) -> String {
    if i.reasoning_latent_frames > 2 {
        "try --recipe no-reasoning (2 latent frames) or a smaller --height/--width".to_string()
    } else {
        "try a smaller --height/--width".to_string()
    }
}

/// What `physedit edit` does before loading on a GPU: the plan, and an error with the advice when
/// its peak does not fit `free` bytes.
pub fn preflight(model_dir: &Path, input: &PlanInput, free: u64) -> Result<(MemoryPlan, String)> {
    let sizes = ModelSizes::from_model_dir(model_dir)?;
    let p = plan(&sizes, input)?;
    let text = describe(&p);
    if p.peak + CARD_RESERVE_BYTES > free {
        let fix = match advice(&sizes, input, free)? {
            Some((change, q)) => format!("{change} would fit (peak {})", gb(q.peak)),
            None => blocker(&sizes, input)?,
        };
        bail!(
            "{text}this edit needs about {} (+ {} for the CUDA context) but the device has {} free; \
             {fix}",
            gb(p.peak),
            gb(CARD_RESERVE_BYTES),
            gb(free)
        );
    }
    Ok((p, text))
}

/// The plan `physedit edit` checks on a GPU before loading `model_dir`: the edit's size (as the
/// pipeline will choose it), the longest video its recipe can plan (or `--num-frames`), CFG unless
/// `--guidance` is at most 1.
#[allow(clippy::too_many_arguments)]
pub fn edit_plan_input(
    model_dir: &Path,
    image: &image::DynamicImage,
    height: Option<usize>,
    width: Option<usize>,
    recipe: Recipe,
    table: &PlanTable,
    num_frames: Option<usize>,
    guidance: Option<f64>,
    dtype: candle_core::DType,
    offload: bool,
    flash: bool,
) -> Result<PlanInput> {
    let sizes = ModelSizes::from_model_dir(model_dir)?;
    let native = crate::checkpoint::sampling_defaults(model_dir)?.native_size();
    let size = crate::pipeline::chronoedit::EditSize::choose(
        size_multiple(&sizes),
        image,
        height,
        width,
        native,
    )
    .context("--height/--width")?;
    let (mut frames, mut cfg) = recipe_frames(recipe, table);
    if let Some(n) = num_frames {
        frames = latent_frames_of(n)?;
    }
    if let Some(g) = guidance {
        cfg = g > 1.0;
    }
    Ok(PlanInput {
        height: size.height,
        width: size.width,
        reasoning_latent_frames: frames,
        cfg,
        compute: crate::checkpoint::memory::dtype_name(dtype).to_string(),
        storage: Storage::Dense,
        offload,
        target: if flash {
            Target::CudaFlash
        } else {
            Target::CudaChunked
        },
        text_tokens: 512,
    })
}
