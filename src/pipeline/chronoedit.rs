//! The ChronoEdit edit pipeline, step for step as diffusers' `ChronoEditPipeline`: prompt and
//! negative-prompt encoding, CLIP image embeddings, the VAE-encoded condition video with the
//! first-frame mask channels, the denoising loop with temporal reasoning, and decoding.
//! Glue only: the math lives in `models` and `schedulers`.
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, IndexOp, Tensor};

use crate::adaptive::accel::{CacheCalibration, CacheDecider};
use crate::adaptive::plan::{round_num_frames, VideoGeometry};
use crate::checkpoint::single_file::{is_gguf, ComponentFiles, ComponentWeights, TransformerFile};
use crate::checkpoint::{keys, standalone};
use crate::checkpoint::{read_config, sampling_defaults, PipelineFolder, SamplingDefaults};
use crate::models::clip_vision::{self, ClipVisionModel};
use crate::models::transformer::{self, ChronoEditTransformer3DModel, ForwardOptions};
use crate::models::umt5::{self, UMT5EncoderModel};
use crate::models::vae::{self, AutoencoderKLWan};
use crate::pipeline::guidance::Guidance;
use crate::pipeline::hooks::{DenoiseHook, StepState};
use crate::pipeline::offload::{rebuild_var_builder, Held, Loader, RecordingBackend, Slot};
use crate::pipeline::reasoning_hook::ReasoningCacheHook;
use crate::pipeline::region_hook::RegionHook;
pub use crate::pipeline::request::{secs, AdaptiveOptions, EditRequest, SrmOutcome};
use crate::pipeline::rpfi_hook::RpfiHook;
use crate::pipeline::srm_hook::{SrmContext, SrmHook};
use crate::processors::image::ClipImageProcessor;
use crate::processors::prompt::PromptTokenizer;
use crate::processors::video::{frames_to_unit, image_to_video_tensor};
use crate::schedulers::{self, Scheduler, Solver};

/// Text sequence length the transformer was trained with (prompts are padded to it).
pub const MAX_SEQUENCE_LENGTH: usize = 512;
/// Video frames when temporal reasoning is off: 2 latent frames (input, output).
pub const FRAMES_WITHOUT_REASONING: usize = 5;
/// Video frames of the reference reasoning recipe: 8 latent frames.
pub const FRAMES_WITH_REASONING: usize = 29;

/// How the model is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Compute dtype of the transformer; the encoders and the VAE run in f32 (the encoders' linear
    /// weights and umT5's token embedding stay at their stored precision and are widened per use).
    pub dtype: DType,
    pub device: Device,
    /// LoRAs fused into the transformer's weights at load, in order (`crate::checkpoint::lora`).
    pub loras: Vec<crate::checkpoint::lora::LoraSpec>,
    /// Keep only the module in use on the device (`crate::pipeline::offload`): the transformer and
    /// the VAE are held on the CPU and copied to the device for their phase, the encoders built
    /// there for theirs. On the CPU it changes nothing but when modules are rebuilt.
    pub offload: bool,
    /// Single files replacing components of the folder (`--transformer FILE`, ...;
    /// `crate::checkpoint::single_file`).
    pub files: ComponentFiles,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            dtype: DType::F32,
            device: Device::Cpu,
            loras: Vec::new(),
            offload: false,
            files: ComponentFiles::default(),
        }
    }
}

/// The loaded ChronoEdit pipeline.
///
/// The text and image encoders live in [`Slot`]s: on a GPU they are released once an edit's prompt
/// and image are encoded (and rebuilt from the checkpoint for the next edit). With
/// [`LoadOptions::offload`], `transformer` and `vae` are CPU copies (configs, and the source of
/// the device copies each phase builds), and every module is on the device only for its phase.
pub struct ChronoEditPipeline {
    pub transformer: ChronoEditTransformer3DModel,
    pub vae: AutoencoderKLWan,
    text_encoder: Slot<UMT5EncoderModel>,
    pub tokenizer: PromptTokenizer,
    image_encoder: Slot<ClipVisionModel>,
    pub image_processor: ClipImageProcessor,
    /// The folder's recommended sampling settings (`physedit.json`; empty for folders without it).
    pub defaults: SamplingDefaults,
    /// The scheduler config's JSON and where it came from.
    scheduler_config: (String, String),
    image_hidden_size: usize,
    text_hidden_size: usize,
    dtype: DType,
    device: Device,
    /// The device copies of the transformer and the VAE under `--offload`.
    offloaded: Option<(Slot<ChronoEditTransformer3DModel>, Slot<AutoencoderKLWan>)>,
    /// Release the encoders after encoding: on a GPU, and always when offloading.
    release_encoders: bool,
    /// The last negative prompt and its embeddings: every CFG edit encodes one, nearly always the
    /// same (empty) text, and the encoders never change after loading.
    negative_cache: Mutex<Option<(String, Tensor)>>,
}

/// Transformer FLOPs one edit executed.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct TransformerFlops {
    /// All denoising forwards (CFG included).
    pub steps: f64,
    /// The SRM probe (dedicated pass and capture overhead).
    pub probe: f64,
    pub total: f64,
}

/// Wall time per phase of one edit.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PhaseTimes {
    pub encode_s: f64,
    /// Includes the SRM probe.
    pub denoise_s: f64,
    pub decode_s: f64,
}

/// The result of one edit.
pub struct EditOutput {
    /// Every decoded video frame, (F, 3, H, W) in [0, 1]; the edited image is the last.
    pub frames: Tensor,
    /// Denormalised latents given to the decoder.
    pub final_latents: Tensor,
    /// Tokens processed by the transformer at each step (one forward; CFG doubles the work).
    pub tokens_per_step: Vec<usize>,
    /// Transformer forwards per step when every branch runs (2 with CFG).
    pub forwards_per_step: usize,
    /// Transformer forwards whose blocks ran at each step (0 where the step cache reused a
    /// residual, 1 in the guidance tail).
    pub forwards: Vec<usize>,
    /// Transformer forwards in which only the first block ran at each step (first-block caching
    /// skipped the rest of the stack).
    pub head_forwards: Vec<usize>,
    /// Steps where the step cache (or first-block caching) reused a residual.
    pub reused_steps: Vec<usize>,
    /// Steps RPFI blended the output frame (None: RPFI was not requested or had no reasoning phase).
    pub rpfi_steps: Option<usize>,
    /// Steps reasoning-frame caching held the reasoning frames (None: not requested or no
    /// reasoning frames).
    pub reasoning_held_steps: Option<usize>,
    /// Steps region-aware denoising held the output frame outside the region (None: not requested).
    pub region_held_steps: Option<usize>,
    /// (step, mean |block-stack residual|) of every computed step, with the step cache at threshold
    /// 0 (recording only, as `physedit calibrate` runs it).
    pub residual_magnitudes: Vec<(usize, f64)>,
    /// (step, relative L1 change of the timestep modulation, of the block-stack residual) of every
    /// computed step whose predecessor was computed, with the step cache at threshold 0.
    pub change_pairs: Vec<(usize, f64, f64)>,
    pub times: PhaseTimes,
    /// Present when the SRM was requested and reasoning frames were present.
    pub srm: Option<SrmOutcome>,
}

impl EditOutput {
    /// Transformer FLOPs this edit executed (cost model on the tokens actually computed): every
    /// forward of every step (a forward where first-block caching skipped the rest of the stack as
    /// its first block and the embeddings), the dedicated SRM probe forward, and the capture's extra
    /// query-key products (output-frame queries against the whole context in each captured block).
    pub fn transformer_flops(&self, m: &crate::adaptive::cost::ModelDims) -> TransformerFlops {
        use crate::adaptive::cost::{transformer_forward, transformer_head_forward};
        let heads = self.head_forwards.iter().chain(std::iter::repeat(&0));
        let steps: f64 = self
            .tokens_per_step
            .iter()
            .zip(&self.forwards)
            .zip(heads)
            .map(|((&t, &f), &h)| {
                f as f64 * transformer_forward(m, t).total
                    + h as f64 * transformer_head_forward(m, t)
            })
            .sum();
        let probe = match &self.srm {
            Some(s) => {
                let pass = if s.probe_tokens > 0 {
                    transformer_forward(m, s.probe_tokens).total
                } else {
                    0.0
                };
                let (img, txt) = m.context_tokens();
                let queries = (s.mask.h * s.mask.w) as f64;
                let capture = if s.relevance.is_empty() {
                    0.0
                } else {
                    s.layers.len() as f64
                        * 2.0
                        * queries
                        * (img + txt) as f64
                        * m.transformer.inner_dim() as f64
                };
                pass + capture
            }
            None => 0.0,
        };
        TransformerFlops {
            steps,
            probe,
            total: steps + probe,
        }
    }

    /// The edited image, (3, H, W) in [0, 1].
    pub fn edited(&self) -> Result<Tensor> {
        let n = self.frames.dim(0)?;
        Ok(self.frames.i(n - 1)?)
    }
}

/// Called after every denoising step with (step index, total steps).
pub type StepCallback<'a> = &'a mut dyn FnMut(usize, usize);

/// The transformer on `home`, from the folder `t_dir` (LoRAs fused) or from `--transformer FILE`;
/// under offload also the loader of its device copies.
fn load_transformer(
    t_dir: Option<&Path>,
    t_cfg: &transformer::Config,
    opts: &LoadOptions,
    home: &Device,
) -> Result<(
    ChronoEditTransformer3DModel,
    Option<Loader<ChronoEditTransformer3DModel>>,
)> {
    let (t_cfg, dtype) = (t_cfg.clone(), opts.dtype);
    if let Some(path) = &opts.files.transformer {
        if !opts.loras.is_empty() {
            bail!(
                "--lora cannot be combined with --transformer {} yet: LoRAs are fused into the weights \
                 of a diffusers transformer folder",
                path.display()
            );
        }
        let file = TransformerFile::open(path, Some(t_cfg.attention_head_dim))?;
        let transformer = file.build(&t_cfg, dtype, home)?;
        let loader: Option<Loader<ChronoEditTransformer3DModel>> = opts
            .offload
            .then(|| Box::new(move |d: &Device| file.build(&t_cfg, dtype, d)) as Loader<_>);
        return Ok((transformer, loader));
    }
    let t_dir = t_dir.context("no transformer: give --transformer FILE")?;
    let t_vb = crate::checkpoint::lora::fused_var_builder(t_dir, &opts.loras, dtype, home)?;
    // Under offload, the weights served (LoRAs fused) are recorded for the device copies.
    let (t_vb, t_weights) = if opts.offload {
        let (vb, seen) = RecordingBackend::var_builder(t_vb, dtype, home);
        (vb, Some(seen))
    } else {
        (t_vb, None)
    };
    let transformer = ChronoEditTransformer3DModel::new(&t_cfg, t_vb)
        .with_context(|| format!("cannot build the transformer from {}", t_dir.display()))?;
    let loader = t_weights.map(|weights| {
        Box::new(move |d: &Device| -> Result<ChronoEditTransformer3DModel> {
            Ok(ChronoEditTransformer3DModel::new(
                &t_cfg,
                rebuild_var_builder(&weights, dtype, d)?,
            )?)
        }) as Loader<_>
    });
    Ok((transformer, loader))
}

/// An encoder's or the VAE's weights: its single file (`--vae` / `--text-encoder` /
/// `--image-encoder`, keys optionally under `vae.` / `text_encoder.` / `image_encoder.`) or the
/// folder's component. The encoders' linear weights are kept at their stored precision and widened
/// per use (`models::umt5`, `models::clip_vision`).
fn component_weights(dir: &Path, file: Option<&Path>, what: &str) -> Result<ComponentWeights> {
    match file {
        Some(f) => {
            let prefix = match what {
                "VAE" => "vae.".to_string(),
                _ => format!("{}.", what.replace(' ', "_")),
            };
            ComponentWeights::open_file(f, what, &[prefix.as_str(), "first_stage_model."])
        }
        None => ComponentWeights::open_folder(dir, what),
    }
}

/// Every component's configuration and where its weights are: a diffusers folder (with single
/// files replacing some components), or single files alone.
struct Parts {
    /// The folder's transformer component (None without a folder: the `--transformer` file).
    t_dir: Option<PathBuf>,
    t_cfg: transformer::Config,
    v_cfg: vae::Config,
    vae: ComponentWeights,
    te_cfg: umt5::Config,
    te: ComponentWeights,
    ie_cfg: clip_vision::Config,
    ie: ComponentWeights,
    tokenizer: PathBuf,
    image_processor: ClipImageProcessor,
    /// The scheduler config's JSON and where it came from.
    scheduler: (String, String),
    defaults: SamplingDefaults,
}

impl Parts {
    fn from_folder(dir: &Path, files: &ComponentFiles) -> Result<Self> {
        let folder = PipelineFolder::open(dir)?;
        let t_dir = folder.component("transformer")?;
        let v_dir = folder.component("vae")?;
        let te_dir = folder.component("text_encoder")?;
        let ie_dir = folder.component("image_encoder")?;
        let s_path = folder.component("scheduler")?.join("scheduler_config.json");
        let scheduler = std::fs::read_to_string(&s_path)
            .with_context(|| format!("reading scheduler config {}", s_path.display()))?;
        Ok(Self {
            t_cfg: read_config(&t_dir.join("config.json"))?,
            t_dir: Some(t_dir),
            v_cfg: read_config(&v_dir.join("config.json"))?,
            vae: component_weights(&v_dir, files.vae.as_deref(), "VAE")?,
            te_cfg: read_config(&te_dir.join("config.json"))?,
            te: component_weights(&te_dir, files.text_encoder.as_deref(), "text encoder")?,
            ie_cfg: read_config(&ie_dir.join("config.json"))?,
            ie: component_weights(&ie_dir, files.image_encoder.as_deref(), "image encoder")?,
            tokenizer: folder.component("tokenizer")?.join("tokenizer.json"),
            image_processor: ClipImageProcessor::from_file(
                &folder
                    .component("image_processor")?
                    .join("preprocessor_config.json"),
            )?,
            scheduler: (scheduler, s_path.display().to_string()),
            defaults: sampling_defaults(dir)?,
        })
    }

    /// The four single files and the tokenizer, configurations from their shapes
    /// (`checkpoint::standalone`).
    fn from_files(files: &ComponentFiles) -> Result<Self> {
        let missing = standalone::missing_flags(files);
        if !missing.is_empty() {
            bail!(
                "without --model, the model is its single files: give {} too",
                missing.join(", ")
            );
        }
        let need = |f: &Option<PathBuf>| f.clone().expect("checked above");
        let t_path = need(&files.transformer);
        let stated = if is_gguf(&t_path)? {
            None
        } else {
            standalone::header_config(&t_path)?
        };
        let head_dim = stated
            .as_ref()
            .and_then(|c| c.get("attention_head_dim")?.as_u64())
            .map(|h| h as usize);
        let found = TransformerFile::open(&t_path, head_dim)?.config().clone();
        let t_cfg = match stated {
            Some(c) => {
                transformer::Config::from_json_str(&serde_json::Value::Object(c).to_string())
                    .with_context(|| format!("{}: the header's config", t_path.display()))?
            }
            None if found.inner_dim() == 5120 && found.num_layers == 40 => {
                keys::chronoedit_14b_config()
            }
            None => found,
        };
        let vae = component_weights(Path::new(""), files.vae.as_deref(), "VAE")?;
        let te = component_weights(Path::new(""), files.text_encoder.as_deref(), "text encoder")?;
        let ie = component_weights(
            Path::new(""),
            files.image_encoder.as_deref(),
            "image encoder",
        )?;
        let ie_cfg = standalone::clip_vision_config(ie.path(), &ie.shapes()?)?;
        Ok(Self {
            t_dir: None,
            t_cfg,
            v_cfg: standalone::vae_config(vae.path(), &vae.shapes()?)?,
            vae,
            te_cfg: standalone::umt5_config(te.path(), &te.shapes()?)?,
            te,
            image_processor: ClipImageProcessor::from_json(&standalone::image_processor_config(
                ie_cfg.image_size,
            ))?,
            ie_cfg,
            ie,
            tokenizer: standalone::tokenizer_file(&need(&files.tokenizer))?,
            scheduler: (
                standalone::SCHEDULER_CONFIG.to_string(),
                "the ChronoEdit scheduler".to_string(),
            ),
            defaults: SamplingDefaults::default(),
        })
    }
}

impl ChronoEditPipeline {
    /// Loads every component of a diffusers `ChronoEditPipeline` folder (single files in
    /// `opts.files` replacing some).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        Self::build(Parts::from_folder(dir, &opts.files)?, opts)
    }

    /// Loads a model given only as single files (`opts.files`: all four components and the
    /// tokenizer), as ComfyUI users hold it (`checkpoint::standalone`).
    pub fn load_files(opts: &LoadOptions) -> Result<Self> {
        Self::build(Parts::from_files(&opts.files)?, opts)
    }

    fn build(parts: Parts, opts: &LoadOptions) -> Result<Self> {
        let device = opts.device.clone();
        // Under offload the transformer and the VAE stay on the CPU between their phases.
        let home = if opts.offload {
            Device::Cpu
        } else {
            device.clone()
        };
        let (transformer, load_transformer) =
            load_transformer(parts.t_dir.as_deref(), &parts.t_cfg, opts, &home)?;

        let load_vae = {
            let (w, v_cfg) = (parts.vae.clone(), parts.v_cfg.clone());
            move |d: &Device| -> Result<AutoencoderKLWan> {
                AutoencoderKLWan::new(&v_cfg, w.var_builder(DType::F32, d))
                    .with_context(|| format!("cannot build the VAE from {}", w.path().display()))
            }
        };
        let vae = load_vae(&home)?;
        let offloaded = load_transformer.map(|load_transformer| {
            (
                Slot::empty("transformer", load_transformer),
                Slot::empty("VAE", Box::new(load_vae) as Loader<AutoencoderKLWan>),
            )
        });

        let (te_weights, te_cfg) = (parts.te, parts.te_cfg);
        let text_hidden_size = te_cfg.d_model;
        let load_text_encoder = move |d: &Device| -> Result<UMT5EncoderModel> {
            let store = te_weights.stored(d, umt5::is_linear_weight, umt5::is_embedding)?;
            UMT5EncoderModel::new_with_stored(
                &te_cfg,
                te_weights.var_builder(DType::F32, d),
                &store,
            )
            .with_context(|| {
                format!(
                    "cannot build the text encoder from {}",
                    te_weights.path().display()
                )
            })
        };
        let text_encoder = Slot::resident(
            "text encoder",
            load_text_encoder(&device)?,
            Box::new(load_text_encoder),
        );
        let tokenizer = PromptTokenizer::from_file(&parts.tokenizer, MAX_SEQUENCE_LENGTH)?;

        let (ie_weights, ie_cfg) = (parts.ie, parts.ie_cfg);
        let image_hidden_size = ie_cfg.hidden_size;
        let load_image_encoder = move |d: &Device| -> Result<ClipVisionModel> {
            let store = ie_weights.stored(d, clip_vision::is_linear_weight, |_| false)?;
            ClipVisionModel::new_with_stored(&ie_cfg, ie_weights.var_builder(DType::F32, d), &store)
                .with_context(|| {
                    format!(
                        "cannot build the image encoder from {}",
                        ie_weights.path().display()
                    )
                })
        };
        let image_encoder = Slot::resident(
            "image encoder",
            load_image_encoder(&device)?,
            Box::new(load_image_encoder),
        );

        // Parse once now so a bad scheduler config fails at load time, not mid-edit.
        schedulers::from_config_str(&parts.scheduler.0, &parts.scheduler.1)?;

        let pipe = Self {
            transformer,
            vae,
            text_encoder,
            tokenizer,
            image_encoder,
            image_processor: parts.image_processor,
            defaults: parts.defaults,
            scheduler_config: parts.scheduler,
            image_hidden_size,
            text_hidden_size,
            dtype: opts.dtype,
            release_encoders: opts.offload || !device.is_cpu(),
            device,
            offloaded,
            negative_cache: Mutex::new(None),
        };
        pipe.check_component_shapes()?;
        Ok(pipe)
    }

    /// Cross-component consistency: the configs must agree on the shapes they exchange.
    fn check_component_shapes(&self) -> Result<()> {
        let t = self.transformer.config();
        let z = self.vae.config().z_dim;
        let expected_in = 2 * z + self.vae.temporal_scale();
        if t.in_channels != expected_in {
            bail!(
                "transformer in_channels {} does not match the VAE (2 x z_dim {z} + {} mask channels = {expected_in})",
                t.in_channels,
                self.vae.temporal_scale()
            );
        }
        if t.out_channels() != z {
            bail!(
                "transformer out_channels {} does not match the VAE z_dim {z}",
                t.out_channels()
            );
        }
        let d_model = self.text_hidden_size;
        if t.text_dim != d_model {
            bail!(
                "transformer text_dim {} does not match the text encoder d_model {d_model}",
                t.text_dim
            );
        }
        if let Some(image_dim) = t.image_dim {
            let hidden = self.image_hidden_size;
            if image_dim != hidden {
                bail!(
                    "transformer image_dim {image_dim} does not match the image encoder hidden_size {hidden}"
                );
            }
        }
        Ok(())
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Whether the pipeline was loaded with [`LoadOptions::offload`].
    pub fn offloads(&self) -> bool {
        self.offloaded.is_some()
    }

    /// The modules that have a copy on the device now, by name (under offload the `transformer`
    /// and `vae` fields are CPU copies and are not counted).
    pub fn resident_modules(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.text_encoder.is_resident() {
            names.push("text encoder");
        }
        if self.image_encoder.is_resident() {
            names.push("image encoder");
        }
        match &self.offloaded {
            Some((t, v)) => {
                if t.is_resident() {
                    names.push("transformer");
                }
                if v.is_resident() {
                    names.push("VAE");
                }
            }
            None => names.extend(["transformer", "VAE"]),
        }
        names
    }

    /// How many times modules were rebuilt on the device after a release, over the pipeline's life.
    pub fn module_reloads(&self) -> usize {
        self.text_encoder.loads()
            + self.image_encoder.loads()
            + self
                .offloaded
                .as_ref()
                .map_or(0, |(t, v)| t.loads() + v.loads())
    }

    /// Drops the device copies of the text and image encoders; they are rebuilt from the checkpoint
    /// when next needed.
    pub fn release_encoders(&self) {
        self.text_encoder.release();
        self.image_encoder.release();
    }

    /// The transformer to run on the device: the field, or under offload a device copy.
    fn transformer_on_device(&self) -> Result<Held<'_, ChronoEditTransformer3DModel>> {
        Ok(match &self.offloaded {
            Some((t, _)) => Held::Loaded(t.get(&self.device)?),
            None => Held::Field(&self.transformer),
        })
    }

    /// The VAE to run on the device: the field, or under offload a device copy.
    fn vae_on_device(&self) -> Result<Held<'_, AutoencoderKLWan>> {
        Ok(match &self.offloaded {
            Some((_, v)) => Held::Loaded(v.get(&self.device)?),
            None => Held::Field(&self.vae),
        })
    }

    /// Under offload, drops the device copies of the transformer and the VAE.
    fn release_offloaded(&self) {
        if let Some((t, v)) = &self.offloaded {
            t.release();
            v.release();
        }
    }

    /// A fresh scheduler from the folder's `scheduler_config.json` (schedulers keep per-run history).
    pub fn new_scheduler(&self) -> Result<Box<dyn Scheduler>> {
        let (json, source) = &self.scheduler_config;
        schedulers::from_config_str(json, source)
    }

    /// A fresh scheduler, switched to `solver` and with the flow shift replaced when given.
    pub fn new_scheduler_with(
        &self,
        flow_shift: Option<f64>,
        solver: Option<Solver>,
    ) -> Result<Box<dyn Scheduler>> {
        let (json, source) = &self.scheduler_config;
        schedulers::from_config_str_with(json, source, flow_shift, solver)
    }

    /// What a plan needs to know of this model to become a request.
    pub fn geometry(&self) -> VideoGeometry {
        VideoGeometry {
            rope_temporal_skip_len: self.transformer.config().rope_temporal_skip_len,
            temporal_scale: self.vae.temporal_scale(),
        }
    }

    /// Pixels per latent cell times the transformer's spatial patch: image sides must be multiples of it.
    pub fn size_multiple(&self) -> usize {
        self.vae.spatial_scale()
            * self.transformer.config().patch_size[1].max(self.transformer.config().patch_size[2])
    }

    /// umT5 embeddings of a prompt, trimmed to its real tokens and zero-padded to 512 as the reference does.
    pub fn encode_prompt(&self, prompt: &str) -> Result<Tensor> {
        let enc = self.tokenizer.encode(prompt)?;
        let len = enc.ids.len();
        let ids = Tensor::from_vec(enc.ids.clone(), (1, len), &self.device)?;
        let mask = Tensor::from_vec(enc.mask.clone(), (1, len), &self.device)?;
        let hidden = self.text_encoder.get(&self.device)?.forward(&ids, &mask)?;
        let real = enc.len.min(len);
        let kept = hidden.narrow(1, 0, real)?;
        let d = hidden.dim(2)?;
        let padded = if real < len {
            Tensor::cat(
                &[
                    kept,
                    Tensor::zeros((1, len - real, d), hidden.dtype(), &self.device)?,
                ],
                1,
            )?
        } else {
            kept
        };
        Ok(padded)
    }

    /// [`Self::encode_prompt`] of a negative prompt, from the cache when it is the last one seen
    /// (the same tensor values: the text encoder is deterministic and never changes).
    pub fn encode_negative_prompt(&self, prompt: &str) -> Result<Tensor> {
        let mut cache = self
            .negative_cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((text, embeds)) = cache.as_ref() {
            if text == prompt {
                return Ok(embeds.clone());
            }
        }
        let embeds = self.encode_prompt(prompt)?;
        *cache = Some((prompt.to_string(), embeds.clone()));
        Ok(embeds)
    }

    /// CLIP penultimate hidden state of the input image.
    pub fn encode_image(&self, image: &image::DynamicImage) -> Result<Tensor> {
        let pixels = self
            .image_processor
            .preprocess(image)?
            .to_device(&self.device)?;
        Ok(self
            .image_encoder
            .get(&self.device)?
            .penultimate_hidden_state(&pixels)?)
    }

    /// The condition: 4 first-frame mask channels and the normalised VAE latents of a video whose
    /// first frame is the input image and the rest zeros. (1, 4 + z, F, h, w).
    pub fn prepare_condition(&self, image: &Tensor, num_frames: usize) -> Result<Tensor> {
        let (_, c, h, w) = image.dims4()?;
        let first = image.unsqueeze(2)?;
        let rest = Tensor::zeros((1, c, num_frames - 1, h, w), DType::F32, &self.device)?;
        let video = Tensor::cat(&[first, rest], 2)?;
        let vae = self.vae_on_device()?;
        let (mean, _logvar) = vae.encode(&video)?;
        let latent = vae.normalize_latents(&mean)?;
        let (_, _, f, lh, lw) = latent.dims5()?;
        let channels = vae.temporal_scale();
        let first_mask = Tensor::ones((1, channels, 1, lh, lw), DType::F32, &self.device)?;
        let mask = if f > 1 {
            Tensor::cat(
                &[
                    first_mask,
                    Tensor::zeros((1, channels, f - 1, lh, lw), DType::F32, &self.device)?,
                ],
                2,
            )?
        } else {
            first_mask
        };
        Ok(Tensor::cat(&[mask, latent], 1)?)
    }

    /// Keeps the first and last latent frames of a (B, C, F, h, w) tensor.
    pub fn first_and_last(x: &Tensor) -> Result<Tensor> {
        let f = x.dim(2)?;
        Ok(Tensor::cat(
            &[x.narrow(2, 0, 1)?, x.narrow(2, f - 1, 1)?],
            2,
        )?)
    }

    /// Decodes denormalised latents to frames (F, 3, H, W) in [0, 1]. When reasoning frames remain,
    /// the reasoning video and the edit are decoded separately and joined, as the reference does.
    pub fn decode(&self, latents: &Tensor, reasoning: bool) -> Result<Tensor> {
        let f = latents.dim(2)?;
        let vae = self.vae_on_device()?;
        let video = if reasoning && f > 2 {
            let edit = vae.decode(&Self::first_and_last(latents)?)?;
            let reason = vae.decode(&latents.narrow(2, 0, f - 1)?)?;
            let t = edit.dim(2)?;
            Tensor::cat(&[reason, edit.narrow(2, 1, t - 1)?], 2)?
        } else {
            vae.decode(latents)?
        };
        Ok(frames_to_unit(&video)?)
    }

    /// Runs one edit exactly as the reference does. `on_step` is called after each denoising step.
    pub fn edit(
        &self,
        image: &image::DynamicImage,
        req: &EditRequest,
        on_step: StepCallback,
    ) -> Result<EditOutput> {
        self.edit_with(image, req, &AdaptiveOptions::default(), on_step)
    }

    /// The initial noise `(1, z, F, h, w)` f32: the request's, checked against the edit's shape, or
    /// drawn from its seed.
    fn initial_latents(
        &self,
        req: &EditRequest,
        (z, frames, lh, lw): (usize, usize, usize, usize),
    ) -> Result<Tensor> {
        let Some(l) = &req.latents else {
            return seeded_normal((1, z, frames, lh, lw), req.seed, &self.device);
        };
        if l.dims() != [1, z, frames, lh, lw] {
            bail!(
                "the given latents have shape {:?}, but this edit needs {:?} (z_dim, latent frames, height/{}, width/{})",
                l.dims(),
                [1, z, frames, lh, lw],
                self.vae.spatial_scale(),
                self.vae.spatial_scale()
            );
        }
        Ok(l.to_dtype(DType::F32)?.to_device(&self.device)?)
    }

    /// The hooks of the accelerations `adaptive` switches on (all but the SRM): reasoning-frame
    /// caching and RPFI only with reasoning frames, region-aware denoising with a region mask of the
    /// edit's token grid (or SRM's, once known).
    fn acceleration_hooks(
        &self,
        req: &EditRequest,
        adaptive: &AdaptiveOptions,
        g: AccelGeometry,
        condition: &Tensor,
        latents: &Tensor,
    ) -> Result<Hooks> {
        let accel = &adaptive.accel;
        let reasons = req.reasoning_enabled() && g.latent_frames > 2;
        let reasoning = match accel.reasoning_every {
            Some(every) if every > 1 && reasons => Some(ReasoningCacheHook::new(every, g.patch)),
            _ => None,
        };
        let rpfi = match accel.rpfi {
            Some(relaxation) if reasons && req.reasoning_steps > 0 => {
                let channels = self.vae.temporal_scale();
                Some(RpfiHook::new(
                    relaxation,
                    req.reasoning_steps,
                    (g.patch[1], g.patch[2]),
                    condition
                        .narrow(1, channels, self.vae.config().z_dim)?
                        .narrow(2, 0, 1)?
                        .contiguous()?,
                    latents.narrow(2, g.latent_frames - 1, 1)?.contiguous()?,
                ))
            }
            _ => None,
        };
        if let Some(m) = &adaptive.region_mask {
            if (m.h, m.w) != g.tokens {
                bail!(
                    "the edit region mask is {}x{} tokens, but this edit has {}x{} tokens per frame",
                    m.h,
                    m.w,
                    g.tokens.0,
                    g.tokens.1
                );
            }
        }
        let region = accel
            .region
            .map(|settle| RegionHook::new(settle, g.steps, adaptive.region_mask.clone(), g.patch));
        Ok(Hooks {
            srm: None,
            reasoning,
            region,
            rpfi,
        })
    }

    /// Runs one edit with adaptive-inference options (see [`AdaptiveOptions`]).
    ///
    /// Each technique that acts on the loop is a [`DenoiseHook`] (see [`crate::pipeline::hooks`] for
    /// the order within a step): the SRM, reasoning-frame caching, region-aware denoising and RPFI;
    /// step caching and the guidance tail act inside [`Guidance`]. Without options the loop is
    /// exactly the reference's.
    pub fn edit_with(
        &self,
        image: &image::DynamicImage,
        req: &EditRequest,
        adaptive: &AdaptiveOptions,
        on_step: StepCallback,
    ) -> Result<EditOutput> {
        if req.prompt.trim().is_empty() {
            bail!("the prompt is empty: say what the edit should do");
        }
        if req.steps == 0 {
            bail!("steps must be at least 1");
        }
        let multiple = self.size_multiple();
        if req.height == 0
            || req.width == 0
            || !req.height.is_multiple_of(multiple)
            || !req.width.is_multiple_of(multiple)
        {
            bail!(
                "height {} and width {} must be positive multiples of {multiple} for this model",
                req.height,
                req.width
            );
        }
        let num_frames = effective_num_frames(
            req.num_frames,
            req.reasoning_enabled(),
            self.vae.temporal_scale(),
        );
        let latent_frames = (num_frames - 1) / self.vae.temporal_scale() + 1;
        let cfg = self.vae.config();
        let (lh, lw) = (
            req.height / self.vae.spatial_scale(),
            req.width / self.vae.spatial_scale(),
        );
        let do_cfg = req.guidance > 1.0;

        let t_encode = Instant::now();
        let prompt_embeds = self.encode_prompt(&req.prompt)?.to_dtype(self.dtype)?;
        let negative_embeds = if do_cfg {
            Some(
                self.encode_negative_prompt(&req.negative_prompt)?
                    .to_dtype(self.dtype)?,
            )
        } else {
            None
        };
        if self.offloads() {
            self.text_encoder.release();
        }
        let image_embeds = self.encode_image(image)?.to_dtype(self.dtype)?;
        if self.release_encoders {
            self.release_encoders();
        }
        let mut scheduler = self.new_scheduler_with(req.flow_shift, adaptive.accel.solver)?;
        scheduler.set_timesteps(req.steps)?;
        let timesteps: Vec<f64> = scheduler.timesteps().to_vec();
        let sigmas: Vec<f32> = scheduler.sigmas().to_vec();

        let video_image =
            image_to_video_tensor(image, req.height, req.width)?.to_device(&self.device)?;
        let mut condition = self.prepare_condition(&video_image, num_frames)?;
        self.release_offloaded();
        let mut latents = self.initial_latents(req, (cfg.z_dim, latent_frames, lh, lw))?;
        let encode_s = t_encode.elapsed();

        let t_denoise = Instant::now();
        let transformer = self.transformer_on_device()?;
        let patch = self.transformer.config().patch();
        let (pph, ppw) = (lh / patch[1], lw / patch[2]);
        let reasoning_positions = |f: usize| {
            if f > 2 {
                req.temporal_positions.clone()
            } else {
                None
            }
        };

        // SRM set-up: only with reasoning frames (r >= 1) during a reasoning phase.
        let srm_cfg = match &adaptive.srm {
            Some(c) if req.reasoning_enabled() && req.reasoning_steps > 0 && latent_frames > 2 => {
                if patch[0] != 1 {
                    bail!(
                        "the spatial reasoning mask needs a temporal patch size of 1 (this model has {})",
                        patch[0]
                    );
                }
                Some(c)
            }
            _ => None,
        };
        let srm_hook = match srm_cfg {
            Some(c) => Some(SrmHook::setup(
                &SrmContext {
                    tokenizer: &self.tokenizer,
                    latent_channels: self.vae.config().z_dim,
                    mask_channels: self.vae.temporal_scale(),
                    dtype: self.dtype(),
                    device: self.device(),
                },
                &transformer,
                c,
                req,
                &condition,
                &latents,
                &image_embeds,
                &prompt_embeds,
                (latent_frames, pph, ppw),
                reasoning_positions(latent_frames),
            )?),
            None => None,
        };
        let accel = &adaptive.accel;
        accel.validate()?;
        let mut hooks = Hooks {
            srm: srm_hook,
            ..self.acceleration_hooks(
                req,
                adaptive,
                AccelGeometry {
                    latent_frames,
                    tokens: (pph, ppw),
                    patch,
                    steps: timesteps.len(),
                },
                &condition,
                &latents,
            )?
        };
        let decider = match accel.cache {
            Some(settings) => Some(CacheDecider::new(
                settings,
                timesteps.len(),
                CacheCalibration {
                    mag_ratios: self.defaults.cache_mag_ratios.clone(),
                    tea_coefficients: self.defaults.cache_tea_coefficients.clone(),
                },
            )?),
            None => None,
        };
        let mut guidance = Guidance::new(
            &transformer,
            prompt_embeds,
            negative_embeds,
            image_embeds,
            req.guidance,
        )?
        .with_cfg_tail(accel.cfg_tail, timesteps.len())
        .with_step_cache(decider)
        .with_first_block_cache(accel.fbcache);
        let mut tokens_per_step = Vec::with_capacity(timesteps.len());
        let mut forwards = Vec::with_capacity(timesteps.len());
        let mut reused_steps = Vec::new();
        let mut head_forwards = Vec::with_capacity(timesteps.len());
        for (i, &t) in timesteps.iter().enumerate() {
            if req.reasoning_enabled() && i == req.reasoning_steps {
                latents = Self::first_and_last(&latents)?;
                condition = Self::first_and_last(&condition)?;
                // The scheduler's stored history keeps the same two frames.
                scheduler.keep_latent_frames(&[0, latent_frames - 1])?;
            }
            let model_input = Tensor::cat(&[&latents, &condition], 1)?.to_dtype(self.dtype)?;
            let timestep = Tensor::new(&[t as f32], &self.device)?;
            let f = latents.dim(2)?;
            let region = hooks.srm.as_ref().and_then(SrmHook::region).cloned();
            let step = StepState {
                index: i,
                steps: timesteps.len(),
                timestep: t,
                sigma: sigmas.get(i).copied().unwrap_or(1.0).max(1e-6) as f64,
                next_sigma: sigmas.get(i + 1).copied().unwrap_or(0.0) as f64,
                latents: &latents,
                frames: f,
                reasoning: req.reasoning_enabled() && i < req.reasoning_steps && f > 2,
                region: region.as_ref(),
            };
            let mut opts = ForwardOptions {
                temporal_positions: reasoning_positions(f),
                ..Default::default()
            };
            for h in hooks.active() {
                h.before_forward(&step, &mut opts)?;
            }
            tokens_per_step.push(match &opts.token_keep {
                Some(k) => k.len(),
                None => (f / patch[0]) * pph * ppw,
            });
            let pred = guidance.predict(&model_input, &timestep, &opts, &step)?;
            forwards.push(pred.forwards);
            head_forwards.push(pred.head_forwards);
            if pred.reused {
                reused_steps.push(i);
            }
            let mut noise_pred = pred.noise_pred;
            for h in hooks.active() {
                h.after_forward(&step, pred.cross_attention.as_ref(), &mut noise_pred)?;
            }
            let mut next = scheduler.step(&noise_pred, i, &latents)?;
            // The first-step probe may have produced the region during this step.
            let region = hooks.srm.as_ref().and_then(SrmHook::region).cloned();
            let step = StepState {
                region: region.as_ref(),
                ..step
            };
            for h in hooks.active() {
                h.after_step(&step, &mut next)?;
            }
            latents = next;
            on_step(i + 1, timesteps.len());
        }
        let forwards_per_step = guidance.forwards_per_step();
        let residual_magnitudes = guidance.residual_magnitudes();
        let change_pairs = guidance.change_pairs();
        drop(guidance);
        drop(transformer);
        self.release_offloaded();
        let denoise_s = t_denoise.elapsed();

        let t_decode = Instant::now();
        let final_latents = self.vae.denormalize_latents(&latents)?;
        let frames = self.decode(&final_latents, req.reasoning_enabled())?;
        self.release_offloaded();
        let decode_s = t_decode.elapsed();

        Ok(EditOutput {
            frames,
            final_latents,
            tokens_per_step,
            forwards_per_step,
            forwards,
            head_forwards,
            reused_steps,
            rpfi_steps: hooks.rpfi.map(|h| h.applied_steps),
            reasoning_held_steps: hooks.reasoning.map(|h| h.held_steps),
            region_held_steps: hooks.region.map(|h| h.held_steps),
            residual_magnitudes,
            change_pairs,
            times: PhaseTimes {
                encode_s: secs(encode_s),
                denoise_s: secs(denoise_s),
                decode_s: secs(decode_s),
            },
            srm: hooks.srm.map(SrmHook::into_outcome),
        })
    }
}

/// The denoising hooks of one edit (see [`crate::pipeline::hooks`]).
#[derive(Default)]
struct Hooks {
    srm: Option<SrmHook>,
    reasoning: Option<ReasoningCacheHook>,
    region: Option<RegionHook>,
    rpfi: Option<RpfiHook>,
}

impl Hooks {
    /// The hooks switched on, in the order they run: the reasoning-frame cache after the SRM (it
    /// overrides the reasoning frames' prediction on the steps that hold them).
    fn active(&mut self) -> Vec<&mut dyn DenoiseHook> {
        let mut hooks: Vec<&mut dyn DenoiseHook> = Vec::new();
        if let Some(h) = self.srm.as_mut() {
            hooks.push(h);
        }
        if let Some(h) = self.reasoning.as_mut() {
            hooks.push(h);
        }
        if let Some(h) = self.region.as_mut() {
            hooks.push(h);
        }
        if let Some(h) = self.rpfi.as_mut() {
            hooks.push(h);
        }
        hooks
    }
}

/// The shape of one edit's denoising that the acceleration hooks need.
struct AccelGeometry {
    latent_frames: usize,
    /// Tokens per latent frame (rows, columns).
    tokens: (usize, usize),
    /// The transformer's patch (t, h, w).
    patch: [usize; 3],
    steps: usize,
}

/// The requested size, or the input's aspect ratio at (at most) its own area, each side rounded
/// down to `multiple` (at least `multiple`) — as ChronoEdit's example sizes images.
pub fn output_size(
    multiple: usize,
    image: &image::DynamicImage,
    height: Option<usize>,
    width: Option<usize>,
) -> Result<(usize, usize)> {
    output_size_of(multiple, (image.width(), image.height()), height, width)
}

/// [`output_size`] from the input's (width, height) alone, so that a size can be chosen (and
/// refused) from a picture's header before its pixels are decoded.
pub fn output_size_of(
    multiple: usize,
    (iw, ih): (u32, u32),
    height: Option<usize>,
    width: Option<usize>,
) -> Result<(usize, usize)> {
    const MAX_AREA: f64 = 720.0 * 1280.0;
    let m = multiple.max(1);
    if iw == 0 || ih == 0 {
        bail!("the picture has no pixels ({iw}x{ih})");
    }
    let (iw, ih) = (iw as f64, ih as f64);
    let area = (iw * ih).min(MAX_AREA);
    let aspect = ih / iw;
    let round = |x: f64| ((x.round() as usize) / m * m).max(m);
    let h = height.unwrap_or_else(|| round((area * aspect).sqrt()));
    let w = width.unwrap_or_else(|| round((area / aspect).sqrt()));
    for (field, v) in [("height", h), ("width", w)] {
        if v == 0 || v % m != 0 {
            bail!("{field} {v} must be a positive multiple of {m} for this model");
        }
    }
    Ok((h, w))
}

/// Bounds on the pictures an edit reads and the size it works at: pixels, and the ratio of the
/// long side to the short one. Without them a picture of 16,777,216 x 1 pixels passes a pixel
/// check yet, kept at its aspect, asks for a working size of 16 x 3,932,160 (~63 megapixels).
/// `physedit edit` and `physedit serve` check a picture's header and the working size chosen from
/// it against these before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizeLimits {
    /// Most pixels of the working size (height x width).
    pub max_pixels: u64,
    /// Most long side / short side, of the picture and of the working size.
    pub max_aspect: f64,
}

/// Which limit a size broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeLimit {
    Pixels,
    Aspect,
}

impl SizeLimits {
    /// The defaults of `physedit edit` (`serve` takes a smaller pixel budget by default).
    pub const DEFAULT: SizeLimits = SizeLimits {
        max_pixels: 2048 * 2048,
        max_aspect: 8.0,
    };

    /// Refuses a picture of `w` x `h` whose long side is over `max_aspect` times its short side.
    pub fn check_aspect(&self, what: &str, w: u64, h: u64) -> std::result::Result<(), String> {
        let (long, short) = (w.max(h), w.min(h).max(1));
        if long as f64 > self.max_aspect * short as f64 {
            return Err(format!(
                "{what} is {w}x{h}, an aspect ratio of {:.1}:1, over the limit of {}:1",
                long as f64 / short as f64,
                self.max_aspect
            ));
        }
        Ok(())
    }

    /// Refuses a working size over the pixel or aspect limit, saying which.
    pub fn check_work(&self, size: &EditSize) -> std::result::Result<(), (SizeLimit, String)> {
        let (w, h) = (size.width as u64, size.height as u64);
        self.check_aspect("the working size", w, h)
            .map_err(|m| (SizeLimit::Aspect, m))?;
        let pixels = w.saturating_mul(h);
        if pixels > self.max_pixels {
            return Err((
                SizeLimit::Pixels,
                format!(
                    "the working size {w}x{h} is {pixels} pixels, over the limit of {}",
                    self.max_pixels
                ),
            ));
        }
        Ok(())
    }
}

/// The size an edit runs at, and the size its picture is returned at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditSize {
    /// Pixels the pipeline works at (multiples of the model's size multiple).
    pub height: usize,
    pub width: usize,
    /// Size of the returned picture (width, height): the input's when the edit ran at the model's
    /// native resolution, else the working size.
    pub output: (u32, u32),
    /// A one-line note for the user when a forced size differs from the model's native resolution.
    pub warning: Option<String>,
}

impl EditSize {
    /// Picks the working size. With an explicit `height`/`width` (either), [`output_size`] as
    /// always; otherwise a model that states its native resolution (`physedit.json`) runs at it and
    /// the picture comes back at the input's size; otherwise the input's aspect at its own area.
    pub fn choose(
        multiple: usize,
        image: &image::DynamicImage,
        height: Option<usize>,
        width: Option<usize>,
        native: Option<(usize, usize)>,
    ) -> Result<Self> {
        Self::choose_for(
            multiple,
            (image.width(), image.height()),
            height,
            width,
            native,
        )
    }

    /// [`EditSize::choose`] from the input's (width, height) alone (a picture's header).
    pub fn choose_for(
        multiple: usize,
        input: (u32, u32),
        height: Option<usize>,
        width: Option<usize>,
        native: Option<(usize, usize)>,
    ) -> Result<Self> {
        if height.is_none() && width.is_none() {
            if let Some((h, w)) = native {
                let m = multiple.max(1);
                if h % m != 0 || w % m != 0 {
                    bail!("the model's native resolution {h}x{w} is not a multiple of {m}");
                }
                return Ok(EditSize {
                    height: h,
                    width: w,
                    output: input,
                    warning: None,
                });
            }
        }
        let (h, w) = output_size_of(multiple, input, height, width)?;
        let warning = native.filter(|&n| n != (h, w)).map(|(nh, nw)| {
            format!(
                "note: this model was trained at {nw}x{nh} (width x height); at {w}x{h} expect a poorer edit"
            )
        });
        Ok(EditSize {
            height: h,
            width: w,
            output: (w as u32, h as u32),
            warning,
        })
    }

    /// The edited picture at the output size (bicubic when it has to be resized).
    pub fn finish(&self, picture: image::RgbImage) -> image::RgbImage {
        if picture.dimensions() == self.output {
            picture
        } else {
            image::imageops::resize(
                &picture,
                self.output.0,
                self.output.1,
                image::imageops::FilterType::CatmullRom,
            )
        }
    }
}

/// The video length the reference uses: 5 frames without reasoning, otherwise `requested` rounded
/// down to 4k + 1 (at least 1) exactly as `ChronoEditPipeline.__call__` rounds it.
pub fn effective_num_frames(requested: usize, reasoning: bool, temporal_scale: usize) -> usize {
    let n = if reasoning {
        requested
    } else {
        FRAMES_WITHOUT_REASONING
    };
    round_num_frames(n, temporal_scale)
}

/// Standard normal noise from a seed (splitmix64 + Box–Muller), identical on every platform.
/// It does not reproduce torch's generator; pass `latents` for cross-implementation runs.
pub fn seeded_normal(
    shape: (usize, usize, usize, usize, usize),
    seed: u64,
    device: &Device,
) -> Result<Tensor> {
    let n = shape.0 * shape.1 * shape.2 * shape.3 * shape.4;
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut values = Vec::with_capacity(n + 1);
    while values.len() < n {
        // Uniforms in (0, 1]: 53 random bits, never zero so the logarithm is finite.
        let u1 = ((next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (next() >> 11) as f64 / (1u64 << 53) as f64;
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        values.push((r * theta.cos()) as f32);
        values.push((r * theta.sin()) as f32);
    }
    values.truncate(n);
    Ok(Tensor::from_vec(values, shape, device)?)
}
