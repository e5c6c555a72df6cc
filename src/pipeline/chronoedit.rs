//! The ChronoEdit edit pipeline, step for step as diffusers' `ChronoEditPipeline`: prompt and
//! negative-prompt encoding, CLIP image embeddings, the VAE-encoded condition video with the
//! first-frame mask channels, the denoising loop with temporal reasoning, and decoding.
//! Glue only: the math lives in `models` and `schedulers`.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, IndexOp, Tensor};

use crate::adaptive::plan::Plan;
use crate::adaptive::srm::{self, Probe, SrmConfig, TokenMask};
use crate::checkpoint::{read_config, var_builder, PipelineFolder};
use crate::models::clip_vision::{self, ClipVisionModel};
use crate::models::transformer::{
    self, CaptureSpec, ChronoEditTransformer3DModel, ForwardOptions, ForwardOutput,
};
use crate::models::umt5::{self, UMT5EncoderModel};
use crate::models::vae::{self, AutoencoderKLWan};
use crate::pipeline::image_processor::{frames_to_unit, image_to_video_tensor, ClipImageProcessor};
use crate::pipeline::prompt::PromptTokenizer;
use crate::schedulers::{self, Scheduler};

/// Text sequence length the transformer was trained with (prompts are padded to it).
pub const MAX_SEQUENCE_LENGTH: usize = 512;
/// Video frames when temporal reasoning is off: 2 latent frames (input, output).
pub const FRAMES_WITHOUT_REASONING: usize = 5;
/// Video frames of the reference reasoning recipe: 8 latent frames.
pub const FRAMES_WITH_REASONING: usize = 29;

/// How the model is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Compute dtype of the transformer; the encoders and the VAE run in f32.
    pub dtype: DType,
    pub device: Device,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            dtype: DType::F32,
            device: Device::Cpu,
        }
    }
}

/// The loaded ChronoEdit pipeline.
pub struct ChronoEditPipeline {
    pub transformer: ChronoEditTransformer3DModel,
    pub vae: AutoencoderKLWan,
    pub text_encoder: UMT5EncoderModel,
    pub tokenizer: PromptTokenizer,
    pub image_encoder: ClipVisionModel,
    pub image_processor: ClipImageProcessor,
    scheduler_config: PathBuf,
    image_hidden_size: usize,
    dtype: DType,
    device: Device,
}

/// One edit: everything `ChronoEditPipeline.__call__` takes that PhysEdit uses.
#[derive(Debug, Clone)]
pub struct EditRequest {
    pub prompt: String,
    pub negative_prompt: String,
    pub steps: usize,
    pub guidance: f64,
    pub height: usize,
    pub width: usize,
    /// Video frames (4k + 1); 5 means no reasoning frames.
    pub num_frames: usize,
    /// `enable_temporal_reasoning`: without it the video has 5 frames, as in the reference.
    pub temporal_reasoning: bool,
    /// N_r: denoising steps over all latent frames before only input and output are kept
    /// (`num_temporal_reasoning_steps`; 0 with reasoning on keeps the long video's condition but
    /// drops the reasoning frames before the first step, exactly as the reference does).
    pub reasoning_steps: usize,
    /// Explicit temporal RoPE position of every latent frame during reasoning (None: the
    /// reference's positions).
    pub temporal_positions: Option<Vec<usize>>,
    /// Initial noise (1, z, F, h, w); drawn from `seed` when absent.
    pub latents: Option<Tensor>,
    pub seed: u64,
}

impl EditRequest {
    pub fn reasoning_enabled(&self) -> bool {
        self.temporal_reasoning
    }

    /// Takes steps, guidance, video length, N_r and temporal positions from a plan.
    ///
    /// The reasoning frames take [`Plan::temporal_positions`] (the output frame keeps position
    /// `skip_len - 1`); when those equal the model's default positions `0..r + 2` (r = skip_len − 2,
    /// the reference recipe) `temporal_positions` stays None, so the run is exactly the reference's.
    pub fn apply_plan(&mut self, plan: &Plan, skip_len: usize) {
        self.steps = plan.steps;
        self.guidance = plan.guidance as f64;
        self.num_frames = plan.num_frames();
        self.temporal_reasoning = plan.reasoning_steps > 0;
        self.reasoning_steps = plan.reasoning_steps;
        self.temporal_positions = if plan.reasoning_steps == 0 {
            None
        } else {
            let p = plan.temporal_positions(skip_len);
            let default: Vec<usize> = (0..p.len()).collect();
            (p != default).then_some(p)
        };
    }
}

/// Adaptive-inference options of [`ChronoEditPipeline::edit_with`]; the default runs exactly
/// [`ChronoEditPipeline::edit`] (the reference).
#[derive(Debug, Clone, Default)]
pub struct AdaptiveOptions {
    /// The spatial reasoning mask (None: off). It acts only while reasoning frames are present
    /// (r ≥ 1 and N_r ≥ 1).
    pub srm: Option<SrmConfig>,
}

/// What the SRM did in one edit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SrmOutcome {
    /// "first-step", "pass" or "given".
    pub probe: String,
    /// Blocks whose cross-attention was captured.
    pub layers: Vec<usize>,
    /// Words of the content tokens the map averages over.
    pub content_words: Vec<String>,
    /// The mask over one latent frame's token grid.
    pub mask: TokenMask,
    /// Fraction of a reasoning frame's tokens computed.
    pub coverage: f64,
    /// Relevance map over the output frame's token grid (empty when no probe ran).
    pub relevance: Vec<f32>,
    /// Tokens of the dedicated probe forward (0 when the probe rode along the first step).
    pub probe_tokens: usize,
    /// Wall time of the probe: the dedicated pass and the mask computation; for the first-step
    /// probe only the mask computation (the capture's extra work runs inside the first step's
    /// forward, whose time is in `denoise_s`; its FLOPs are in [`EditOutput::transformer_flops`]).
    pub probe_s: f64,
    /// Denoising steps that ran with the mask.
    pub masked_steps: usize,
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
    /// Transformer forwards per step (2 with CFG).
    pub forwards_per_step: usize,
    pub times: PhaseTimes,
    /// Present when the SRM was requested and reasoning frames were present.
    pub srm: Option<SrmOutcome>,
}

impl EditOutput {
    /// Transformer FLOPs this edit executed (cost model on the tokens actually computed): every
    /// forward of every step, the dedicated SRM probe forward, and the capture's extra
    /// query-key products (output-frame queries against the whole context in each captured block).
    pub fn transformer_flops(&self, m: &crate::adaptive::cost::ModelDims) -> TransformerFlops {
        use crate::adaptive::cost::transformer_forward;
        let steps: f64 = self
            .tokens_per_step
            .iter()
            .map(|&t| self.forwards_per_step as f64 * transformer_forward(m, t).total)
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

impl ChronoEditPipeline {
    /// Loads every component of a diffusers `ChronoEditPipeline` folder.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let folder = PipelineFolder::open(dir)?;
        let device = opts.device.clone();

        let t_dir = folder.component("transformer")?;
        let t_cfg: transformer::Config = read_config(&t_dir.join("config.json"))?;
        let transformer =
            ChronoEditTransformer3DModel::new(&t_cfg, var_builder(&t_dir, opts.dtype, &device)?)
                .with_context(|| {
                    format!("cannot build the transformer from {}", t_dir.display())
                })?;

        let v_dir = folder.component("vae")?;
        let v_cfg: vae::Config = read_config(&v_dir.join("config.json"))?;
        let vae = AutoencoderKLWan::new(&v_cfg, var_builder(&v_dir, DType::F32, &device)?)
            .with_context(|| format!("cannot build the VAE from {}", v_dir.display()))?;

        let te_dir = folder.component("text_encoder")?;
        let te_cfg: umt5::Config = read_config(&te_dir.join("config.json"))?;
        let text_encoder =
            UMT5EncoderModel::new(&te_cfg, var_builder(&te_dir, DType::F32, &device)?)
                .with_context(|| {
                    format!("cannot build the text encoder from {}", te_dir.display())
                })?;

        let tok_dir = folder.component("tokenizer")?;
        let tokenizer =
            PromptTokenizer::from_file(&tok_dir.join("tokenizer.json"), MAX_SEQUENCE_LENGTH)?;

        let ie_dir = folder.component("image_encoder")?;
        let ie_cfg: clip_vision::Config = read_config(&ie_dir.join("config.json"))?;
        let image_encoder =
            ClipVisionModel::new(&ie_cfg, var_builder(&ie_dir, DType::F32, &device)?)
                .with_context(|| {
                    format!("cannot build the image encoder from {}", ie_dir.display())
                })?;

        let ip_dir = folder.component("image_processor")?;
        let image_processor =
            ClipImageProcessor::from_file(&ip_dir.join("preprocessor_config.json"))?;

        let s_dir = folder.component("scheduler")?;
        let scheduler_config = s_dir.join("scheduler_config.json");
        // Parse once now so a bad scheduler config fails at load time, not mid-edit.
        schedulers::from_config_file(&scheduler_config)?;

        let pipe = Self {
            transformer,
            vae,
            text_encoder,
            tokenizer,
            image_encoder,
            image_processor,
            scheduler_config,
            image_hidden_size: ie_cfg.hidden_size,
            dtype: opts.dtype,
            device,
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
        let d_model = self.text_encoder.config().d_model;
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

    /// A fresh scheduler from the folder's `scheduler_config.json` (schedulers keep per-run history).
    pub fn new_scheduler(&self) -> Result<Box<dyn Scheduler>> {
        schedulers::from_config_file(&self.scheduler_config)
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
        let hidden = self.text_encoder.forward(&ids, &mask)?;
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

    /// CLIP penultimate hidden state of the input image.
    pub fn encode_image(&self, image: &image::DynamicImage) -> Result<Tensor> {
        let pixels = self
            .image_processor
            .preprocess(image)?
            .to_device(&self.device)?;
        Ok(self.image_encoder.penultimate_hidden_state(&pixels)?)
    }

    /// The condition: 4 first-frame mask channels and the normalised VAE latents of a video whose
    /// first frame is the input image and the rest zeros. (1, 4 + z, F, h, w).
    pub fn prepare_condition(&self, image: &Tensor, num_frames: usize) -> Result<Tensor> {
        let (_, c, h, w) = image.dims4()?;
        let first = image.unsqueeze(2)?;
        let rest = Tensor::zeros((1, c, num_frames - 1, h, w), DType::F32, &self.device)?;
        let video = Tensor::cat(&[first, rest], 2)?;
        let (mean, _logvar) = self.vae.encode(&video)?;
        let latent = self.vae.normalize_latents(&mean)?;
        let (_, _, f, lh, lw) = latent.dims5()?;
        let channels = self.vae.temporal_scale();
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
        let video = if reasoning && f > 2 {
            let edit = self.vae.decode(&Self::first_and_last(latents)?)?;
            let reason = self.vae.decode(&latents.narrow(2, 0, f - 1)?)?;
            let t = edit.dim(2)?;
            Tensor::cat(&[reason, edit.narrow(2, 1, t - 1)?], 2)?
        } else {
            self.vae.decode(latents)?
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

    /// Runs one edit with adaptive-inference options (see [`AdaptiveOptions`]).
    ///
    /// With the SRM, reasoning steps compute every token of the first (input) and last (output)
    /// latent frame and only the masked tokens of the frames between them; both CFG forwards use the
    /// same tokens. A dropped token has no model output, so it receives the velocity that keeps its
    /// clean-sample estimate frozen: `v = (x_t − x̂₀) / σ_t`, with `x̂₀` the clean estimate of the
    /// last full forward that saw it (the first step's for the first-step probe, the probe pass's
    /// for the dedicated probe, the input frame's latent for a given mask). For a flow-matching
    /// scheduler a constant `x̂₀` is a straight path from noise to that estimate, so dropped tokens
    /// move as the model last predicted them instead of drifting with a zero velocity (which would
    /// read as "the clean sample is the noisy sample" and leave them noisy). They leave the
    /// sequence, so they are not context for the kept tokens either way: the edited image does not
    /// depend on this choice (the input and output frames are always computed whole and never read
    /// a dropped token), only the decoded reasoning video does when reasoning lasts to the last step.
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
            bail!("--steps must be at least 1");
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
                self.encode_prompt(&req.negative_prompt)?
                    .to_dtype(self.dtype)?,
            )
        } else {
            None
        };
        let image_embeds = self.encode_image(image)?.to_dtype(self.dtype)?;
        let mut scheduler = self.new_scheduler()?;
        scheduler.set_timesteps(req.steps)?;
        let timesteps: Vec<f64> = scheduler.timesteps().to_vec();
        let sigmas: Vec<f32> = scheduler.sigmas().to_vec();

        let video_image =
            image_to_video_tensor(image, req.height, req.width)?.to_device(&self.device)?;
        let mut condition = self.prepare_condition(&video_image, num_frames)?;
        let shape = (1, cfg.z_dim, latent_frames, lh, lw);
        let mut latents = match &req.latents {
            Some(l) => {
                if l.dims() != [1, cfg.z_dim, latent_frames, lh, lw] {
                    bail!(
                        "the given latents have shape {:?}, but this edit needs {:?} (z_dim, latent frames, height/{}, width/{})",
                        l.dims(),
                        [1, cfg.z_dim, latent_frames, lh, lw],
                        self.vae.spatial_scale(),
                        self.vae.spatial_scale()
                    );
                }
                l.to_dtype(DType::F32)?.to_device(&self.device)?
            }
            None => seeded_normal(shape, req.seed, &self.device)?,
        };
        let encode_s = t_encode.elapsed();

        let t_denoise = Instant::now();
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
        let mut srm_state = match srm_cfg {
            Some(c) => Some(self.srm_setup(
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

        let mut tokens_per_step = Vec::with_capacity(timesteps.len());
        // Both CFG branches as one batch of two; built once so the transformer's context cache
        // (keyed by tensor identity) is reused at every step.
        let batched_context = match &negative_embeds {
            Some(neg) => Some((
                Tensor::cat(&[&prompt_embeds, neg], 0)?,
                Tensor::cat(&[&image_embeds, &image_embeds], 0)?,
            )),
            None => None,
        };
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
            let reasoning_now = req.reasoning_enabled() && i < req.reasoning_steps && f > 2;
            let mut opts = ForwardOptions {
                temporal_positions: reasoning_positions(f),
                ..Default::default()
            };
            let mut masked = false;
            let mut capturing = false;
            if let (Some(st), true) = (srm_state.as_mut(), reasoning_now) {
                if let Some(m) = &st.mask {
                    opts.token_keep = Some(srm::reasoning_token_keep(m, f));
                    masked = true;
                } else if i == 0 && st.cfg.probe == Probe::FirstStep && st.capture.is_some() {
                    opts.capture = st.capture.clone();
                    capturing = true;
                }
            }
            tokens_per_step.push(match &opts.token_keep {
                Some(k) => k.len(),
                None => (f / patch[0]) * pph * ppw,
            });
            // With CFG the conditional and unconditional forwards run as one batch of two (the
            // same numbers, fewer and larger matrix products), except on the SRM probe step,
            // whose capture must see the conditional branch alone.
            let (cond_out, uncond) = match (&batched_context, capturing) {
                (Some((text2, image2)), false) => {
                    let both = self.transformer.forward_with(
                        &Tensor::cat(&[&model_input, &model_input], 0)?,
                        &Tensor::cat(&[&timestep, &timestep], 0)?,
                        text2,
                        Some(image2),
                        &opts,
                    )?;
                    let cond = both.sample.narrow(0, 0, 1)?;
                    let uncond = both.sample.narrow(0, 1, 1)?;
                    (
                        ForwardOutput {
                            sample: cond,
                            cross_attention: None,
                        },
                        Some(uncond),
                    )
                }
                _ => {
                    let cond_out = self.transformer.forward_with(
                        &model_input,
                        &timestep,
                        &prompt_embeds,
                        Some(&image_embeds),
                        &opts,
                    )?;
                    (cond_out, None)
                }
            };
            let cond = cond_out.sample;
            if capturing {
                let t_mask = Instant::now();
                let st = srm_state.as_mut().expect("srm state");
                let probs = cond_out.cross_attention.as_ref().context(
                    "the transformer returned no cross-attention probabilities for the SRM probe",
                )?;
                st.finish_probe(probs)?;
                st.outcome.probe_s += secs(t_mask.elapsed());
            }
            // The unconditional forward computes the same tokens and captures nothing.
            opts.capture = None;
            let noise_pred = match (&negative_embeds, uncond) {
                (Some(_), Some(uncond)) => (&uncond + ((cond - &uncond)? * req.guidance)?)?,
                (Some(neg), None) => {
                    let uncond = self
                        .transformer
                        .forward_with(&model_input, &timestep, neg, Some(&image_embeds), &opts)?
                        .sample;
                    (&uncond + ((cond - &uncond)? * req.guidance)?)?
                }
                (None, _) => cond,
            };
            let mut noise_pred = noise_pred.to_dtype(DType::F32)?;
            let sigma = sigmas.get(i).copied().unwrap_or(1.0).max(1e-6) as f64;
            if let (Some(st), true) = (srm_state.as_mut(), reasoning_now) {
                if masked {
                    let x0 = st
                        .x0_frozen
                        .as_ref()
                        .context("SRM: no clean estimate for the dropped tokens")?;
                    let v_drop = ((&latents - x0)? / sigma)?;
                    let keep = st.latent_keep(f, cfg.z_dim, lh, lw, patch, &self.device)?;
                    noise_pred = keep.where_cond(&noise_pred, &v_drop)?;
                    st.outcome.masked_steps += 1;
                } else if capturing {
                    // Clean estimate of this full forward, for the tokens later steps drop.
                    st.x0_frozen = Some((&latents - (&noise_pred * sigma)?)?);
                }
            }
            latents = scheduler.step(&noise_pred, i, &latents)?;
            on_step(i + 1, timesteps.len());
        }
        let denoise_s = t_denoise.elapsed();

        let t_decode = Instant::now();
        let final_latents = self.vae.denormalize_latents(&latents)?;
        let frames = self.decode(&final_latents, req.reasoning_enabled())?;
        let decode_s = t_decode.elapsed();

        Ok(EditOutput {
            frames,
            final_latents,
            tokens_per_step,
            forwards_per_step: if do_cfg { 2 } else { 1 },
            times: PhaseTimes {
                encode_s: secs(encode_s),
                denoise_s: secs(denoise_s),
                decode_s: secs(decode_s),
            },
            srm: srm_state.map(|s| s.into_outcome()),
        })
    }

    /// Prepares the SRM: content tokens, the capture request, and for the dedicated probe the probe
    /// forward itself.
    #[allow(clippy::too_many_arguments)]
    fn srm_setup(
        &self,
        c: &SrmConfig,
        req: &EditRequest,
        condition: &Tensor,
        latents: &Tensor,
        image_embeds: &Tensor,
        prompt_embeds: &Tensor,
        (frames, pph, ppw): (usize, usize, usize),
        temporal_positions: Option<Vec<usize>>,
    ) -> Result<SrmState> {
        let num_layers = self.transformer.config().num_layers;
        let layers = match &c.layers {
            Some(l) => l.clone(),
            None => srm::default_layers(num_layers),
        };
        if let Some(&l) = layers.iter().find(|&&l| l >= num_layers) {
            bail!("SRM layer {l} out of range: the transformer has {num_layers} blocks");
        }
        let enc = self.tokenizer.encode(&req.prompt)?;
        let mut content = srm::content_tokens(&enc);
        if content.is_empty() {
            // Only stop words: use every real non-special token.
            content = enc
                .offsets
                .iter()
                .enumerate()
                .take(enc.len)
                .filter(|(_, (s, e))| s < e)
                .map(|(index, _)| srm::ContentToken {
                    index,
                    word: String::new(),
                })
                .collect();
        }
        let img_len = image_embeds.dim(1)?;
        let hw = pph * ppw;
        let capture = if content.is_empty() || layers.is_empty() {
            None
        } else {
            Some(CaptureSpec {
                layers: layers.clone(),
                query_tokens: (frames - 1) * hw..frames * hw,
                context_tokens: img_len..img_len + enc.len,
            })
        };
        let mut st = SrmState {
            cfg: c.clone(),
            grid: (pph, ppw),
            columns: content.iter().map(|t| t.index).collect(),
            capture,
            mask: None,
            x0_frozen: None,
            keep_cache: None,
            outcome: SrmOutcome {
                probe: match &c.probe {
                    Probe::FirstStep => "first-step",
                    Probe::Pass { .. } => "pass",
                    Probe::Given(_) => "given",
                }
                .to_string(),
                layers,
                content_words: content.iter().map(|t| t.word.clone()).collect(),
                mask: TokenMask::full(pph, ppw),
                coverage: 1.0,
                relevance: Vec::new(),
                probe_tokens: 0,
                probe_s: 0.0,
                masked_steps: 0,
            },
        };
        let z = self.vae.config().z_dim;
        let mask_channels = self.vae.temporal_scale();
        // The input frame's latent, repeated over every frame.
        let x_in = condition
            .narrow(1, mask_channels, z)?
            .narrow(2, 0, 1)?
            .broadcast_as(latents.shape())?
            .contiguous()?;
        match &c.probe {
            Probe::Given(m) => {
                if (m.h, m.w) != (pph, ppw) {
                    bail!(
                        "the given SRM mask is {}x{} tokens, but this edit has {pph}x{ppw} tokens per frame",
                        m.h,
                        m.w
                    );
                }
                st.set_mask(m.clone());
                st.x0_frozen = Some(x_in);
            }
            Probe::FirstStep => {
                if st.capture.is_none() {
                    st.set_fallback("no content tokens to probe");
                }
            }
            Probe::Pass { sigma } => {
                let t0 = Instant::now();
                let sigma = sigma.clamp(1e-3, 1.0) as f64;
                match st.capture.clone() {
                    None => st.set_fallback("no content tokens to probe"),
                    Some(cap) => {
                        let x_probe = ((&x_in * (1.0 - sigma))? + (latents * sigma)?)?;
                        let input = Tensor::cat(&[&x_probe, condition], 1)?.to_dtype(self.dtype)?;
                        let timestep = Tensor::new(&[(1000.0 * sigma) as f32], &self.device)?;
                        let out = self.transformer.forward_with(
                            &input,
                            &timestep,
                            prompt_embeds,
                            Some(image_embeds),
                            &ForwardOptions {
                                temporal_positions,
                                capture: Some(cap),
                                ..Default::default()
                            },
                        )?;
                        let v = out.sample.to_dtype(DType::F32)?;
                        st.x0_frozen = Some((&x_probe - (&v * sigma)?)?);
                        st.outcome.probe_tokens = frames * pph * ppw;
                        let probs = out
                            .cross_attention
                            .context("the SRM probe pass returned no cross-attention")?;
                        st.finish_probe(&probs)?;
                    }
                }
                st.outcome.probe_s = secs(t0.elapsed());
            }
        }
        Ok(st)
    }
}

/// SRM bookkeeping during one edit.
struct SrmState {
    cfg: SrmConfig,
    grid: (usize, usize),
    /// Content-token columns of the captured text probabilities.
    columns: Vec<usize>,
    capture: Option<CaptureSpec>,
    /// The mask once known; None before the first-step probe has run.
    mask: Option<TokenMask>,
    /// Clean estimate given to dropped tokens.
    x0_frozen: Option<Tensor>,
    /// (frames, latent keep mask (1, z, F, h, w) u8).
    keep_cache: Option<(usize, Tensor)>,
    outcome: SrmOutcome,
}

impl SrmState {
    /// The full frame, unpruned (no probe possible).
    fn set_fallback(&mut self, why: &str) {
        let (h, w) = self.grid;
        self.outcome.mask = TokenMask {
            fallback: Some(why.to_string()),
            ..TokenMask::full(h, w)
        };
        self.outcome.coverage = 1.0;
        self.mask = None;
        self.capture = None;
    }

    fn set_mask(&mut self, m: TokenMask) {
        self.outcome.coverage = m.coverage();
        self.outcome.mask = m.clone();
        self.mask = Some(m);
    }

    /// Turns captured probabilities `(h·w, text tokens)` into the mask. A full-frame result (a
    /// fallback) leaves later steps unpruned.
    fn finish_probe(&mut self, probs: &Tensor) -> Result<()> {
        let (nq, nc) = probs.dims2()?;
        let flat: Vec<f32> = probs.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let (h, w) = self.grid;
        if nq != h * w {
            bail!("SRM: captured {nq} queries for a {h}x{w} token grid");
        }
        let map = srm::relevance(&flat, nq, nc, &self.columns);
        let m = srm::mask_from_map(&map, h, w, &self.cfg);
        self.outcome.relevance = map;
        if m.is_full() {
            // Nothing to prune: record the mask, keep computing whole frames.
            self.outcome.coverage = 1.0;
            self.outcome.mask = m;
            self.mask = None;
            self.capture = None;
        } else {
            self.set_mask(m);
        }
        Ok(())
    }

    /// `(1, z, F, h, w)` u8: 1 where the latent cell's token is computed.
    fn latent_keep(
        &mut self,
        frames: usize,
        z: usize,
        lh: usize,
        lw: usize,
        patch: [usize; 3],
        device: &Device,
    ) -> Result<Tensor> {
        if let Some((f, t)) = &self.keep_cache {
            if *f == frames {
                return Ok(t.clone());
            }
        }
        let m = self.mask.as_ref().context("SRM: no mask")?;
        let mut v = vec![0u8; frames * lh * lw];
        for f in 0..frames {
            let whole = f == 0 || f + 1 == frames;
            for y in 0..lh {
                for x in 0..lw {
                    let k = m.keep[(y / patch[1]).min(m.h - 1) * m.w + (x / patch[2]).min(m.w - 1)];
                    v[(f * lh + y) * lw + x] = (whole || k) as u8;
                }
            }
        }
        let t = Tensor::from_vec(v, (1, 1, frames, lh, lw), device)?
            .broadcast_as((1, z, frames, lh, lw))?
            .contiguous()?;
        self.keep_cache = Some((frames, t.clone()));
        Ok(t)
    }

    fn into_outcome(self) -> SrmOutcome {
        self.outcome
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The requested size, or the input's aspect ratio at (at most) its own area, each side rounded
/// down to `multiple` (at least `multiple`) — as ChronoEdit's example sizes images.
pub fn output_size(
    multiple: usize,
    image: &image::DynamicImage,
    height: Option<usize>,
    width: Option<usize>,
) -> Result<(usize, usize)> {
    const MAX_AREA: f64 = 720.0 * 1280.0;
    let m = multiple.max(1);
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

/// The compute device ([`crate::device::select_device`]); a CUDA build without a usable GPU runs
/// on the CPU after printing the one-line notice to stderr.
pub fn select_device(force_cpu: bool) -> Result<Device> {
    let (device, notice) = crate::device::select_device(force_cpu);
    if let Some(notice) = notice {
        eprintln!("{notice}");
    }
    Ok(device)
}

/// The video length the reference uses: 5 frames without reasoning, otherwise `requested` rounded
/// down to 4k + 1 (at least 1) exactly as `ChronoEditPipeline.__call__` rounds it.
pub fn effective_num_frames(requested: usize, reasoning: bool, temporal_scale: usize) -> usize {
    let n = if reasoning {
        requested
    } else {
        FRAMES_WITHOUT_REASONING
    };
    let n = if n % temporal_scale != 1 {
        n / temporal_scale * temporal_scale + 1
    } else {
        n
    };
    n.max(1)
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
