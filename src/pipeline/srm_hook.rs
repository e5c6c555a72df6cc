//! The spatial reasoning mask (SRM) as a [`DenoiseHook`]: the probe that reads the instruction's
//! cross-attention, and token pruning of the reasoning frames during the reasoning steps.
//!
//! With the mask, reasoning steps compute every token of the first (input) and last (output) latent
//! frame and only the masked tokens of the frames between them; both CFG forwards use the same
//! tokens. A dropped token has no model output, so it receives the velocity that keeps its
//! clean-sample estimate frozen: `v = (x_t − x̂₀) / σ_t`, with `x̂₀` the clean estimate of the last
//! full forward that saw it (the first step's for the first-step probe, the probe pass's for the
//! dedicated probe, the input frame's latent for a given mask). For a flow-matching scheduler a
//! constant `x̂₀` is a straight path from noise to that estimate, so dropped tokens move as the model
//! last predicted them instead of drifting with a zero velocity (which would read as "the clean
//! sample is the noisy sample" and leave them noisy). They leave the sequence, so they are not
//! context for the kept tokens either way: the edited image does not depend on this choice (the
//! input and output frames are always computed whole and never read a dropped token), only the
//! decoded reasoning video does when reasoning lasts to the last step.
//!
//! The math (relevance map, threshold, dilation, token lists) is [`crate::adaptive::srm`]'s; this
//! file is the glue that runs it inside the loop.
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};

use crate::adaptive::srm::{self, Probe, SrmConfig, TokenMask};
use crate::models::transformer::{CaptureSpec, ChronoEditTransformer3DModel, ForwardOptions};
use crate::pipeline::hooks::{DenoiseHook, StepState};
use crate::pipeline::request::{secs, EditRequest, SrmOutcome};
use crate::processors::prompt::PromptTokenizer;

/// The spatial reasoning mask as a denoising hook: its bookkeeping during one edit.
pub struct SrmHook {
    cfg: SrmConfig,
    grid: (usize, usize),
    /// The transformer's patch size (t, h, w).
    patch: [usize; 3],
    /// Content-token columns of the captured text probabilities.
    columns: Vec<usize>,
    capture: Option<CaptureSpec>,
    /// The mask once known; None before the first-step probe has run.
    mask: Option<TokenMask>,
    /// Clean estimate given to dropped tokens.
    x0_frozen: Option<Tensor>,
    /// (frames, latent keep mask (1, z, F, h, w) u8).
    keep_cache: Option<(usize, Tensor)>,
    /// This step captures the probe (first-step probe).
    capturing: bool,
    /// This step computes only the masked tokens.
    masked: bool,
    outcome: SrmOutcome,
}

/// What the SRM needs of the pipeline around it.
pub(crate) struct SrmContext<'a> {
    pub tokenizer: &'a PromptTokenizer,
    /// The VAE's latent channels (z).
    pub latent_channels: usize,
    /// The first-frame mask channels ahead of the condition latent (the VAE's temporal scale).
    pub mask_channels: usize,
    pub dtype: DType,
    pub device: &'a Device,
}

impl SrmHook {
    /// Prepares the SRM: content tokens, the capture request, and for the dedicated probe the probe
    /// forward itself.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn setup(
        pipe: &SrmContext,
        // The transformer on the compute device (under offload a device copy, not the pipeline's own).
        transformer: &ChronoEditTransformer3DModel,
        c: &SrmConfig,
        req: &EditRequest,
        condition: &Tensor,
        latents: &Tensor,
        image_embeds: &Tensor,
        prompt_embeds: &Tensor,
        (frames, pph, ppw): (usize, usize, usize),
        temporal_positions: Option<Vec<usize>>,
    ) -> Result<Self> {
        let num_layers = transformer.config().num_layers;
        let layers = match &c.layers {
            Some(l) => l.clone(),
            None => srm::default_layers(num_layers),
        };
        if let Some(&l) = layers.iter().find(|&&l| l >= num_layers) {
            bail!("SRM layer {l} out of range: the transformer has {num_layers} blocks");
        }
        let enc = pipe.tokenizer.encode(&req.prompt)?;
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
        let mut st = SrmHook {
            cfg: c.clone(),
            grid: (pph, ppw),
            patch: transformer.config().patch(),
            columns: content.iter().map(|t| t.index).collect(),
            capture,
            mask: None,
            x0_frozen: None,
            keep_cache: None,
            capturing: false,
            masked: false,
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
        let z = pipe.latent_channels;
        let mask_channels = pipe.mask_channels;
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
                        let input = Tensor::cat(&[&x_probe, condition], 1)?.to_dtype(pipe.dtype)?;
                        let timestep = Tensor::new(&[(1000.0 * sigma) as f32], pipe.device)?;
                        let out = transformer.forward_with(
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
        let cells = m.latent_cells(lh, lw, (patch[1], patch[2]));
        let mut v = Vec::with_capacity(frames * lh * lw);
        for f in 0..frames {
            let whole = f == 0 || f + 1 == frames;
            v.extend(cells.iter().map(|&k| (whole || k) as u8));
        }
        let t = Tensor::from_vec(v, (1, 1, frames, lh, lw), device)?
            .broadcast_as((1, z, frames, lh, lw))?
            .contiguous()?;
        self.keep_cache = Some((frames, t.clone()));
        Ok(t)
    }

    /// The edit region once the mask is known and prunes (None before the probe, or when it fell
    /// back to the full frame).
    pub fn region(&self) -> Option<&TokenMask> {
        self.mask.as_ref()
    }

    /// What the SRM did in this edit.
    pub fn into_outcome(self) -> SrmOutcome {
        self.outcome
    }
}

impl DenoiseHook for SrmHook {
    fn name(&self) -> &'static str {
        "srm"
    }

    fn before_forward(&mut self, step: &StepState, opts: &mut ForwardOptions) -> Result<()> {
        self.capturing = false;
        self.masked = false;
        if !step.reasoning {
            return Ok(());
        }
        if let Some(m) = &self.mask {
            opts.token_keep = Some(srm::reasoning_token_keep(m, step.frames));
            self.masked = true;
        } else if step.index == 0 && self.cfg.probe == Probe::FirstStep && self.capture.is_some() {
            opts.capture = self.capture.clone();
            self.capturing = true;
        }
        Ok(())
    }

    fn after_forward(
        &mut self,
        step: &StepState,
        cross_attention: Option<&Tensor>,
        noise_pred: &mut Tensor,
    ) -> Result<()> {
        if self.capturing {
            let t_mask = Instant::now();
            let probs = cross_attention.context(
                "the transformer returned no cross-attention probabilities for the SRM probe",
            )?;
            self.finish_probe(probs)?;
            self.outcome.probe_s += secs(t_mask.elapsed());
        }
        if !step.reasoning {
            return Ok(());
        }
        let sigma = step.sigma;
        if self.masked {
            let x0 = self
                .x0_frozen
                .as_ref()
                .context("SRM: no clean estimate for the dropped tokens")?;
            let v_drop = ((step.latents - x0)? / sigma)?;
            let (_, z, f, lh, lw) = step.latents.dims5()?;
            let keep = self.latent_keep(f, z, lh, lw, self.patch, step.latents.device())?;
            *noise_pred = keep.where_cond(noise_pred, &v_drop)?;
            self.outcome.masked_steps += 1;
        } else if self.capturing {
            // Clean estimate of this full forward, for the tokens later steps drop.
            self.x0_frozen = Some((step.latents - (&*noise_pred * sigma)?)?);
        }
        Ok(())
    }
}
