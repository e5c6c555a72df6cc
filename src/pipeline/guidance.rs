//! Classifier-free guidance around the transformer: one guided prediction per step, and the two
//! accelerations that act on it (`adaptive::accel`): step caching and the guidance tail.
//!
//! With CFG (scale > 1) the conditional and unconditional forwards run as one batch of two — the
//! same numbers as two forwards, in fewer and larger matrix products — except when a
//! cross-attention capture is asked for, which must see the conditional branch alone (the
//! unconditional forward then runs separately, computing the same tokens and capturing nothing).
//! The batched contexts are built once, so the transformer's context K/V cache (keyed by tensor
//! identity) is reused at every step. The combination is diffusers':
//! `uncond + scale · (cond − uncond)`, in the compute dtype, then converted to f32.
//!
//! Step caching records the block stack's residual of each computed step (both branches: the
//! residual's batch is the branches') and, when [`CacheDecider`] allows, runs the step with that
//! residual in place of the blocks. The guidance tail runs only the conditional branch over the
//! last steps and reuses the last computed difference `cond − uncond`. With neither switched on
//! the forwards are exactly the plain ones (no residual is even recorded).
//!
//! First-block caching ([`Guidance::with_first_block_cache`]) keeps the first block's residual and
//! the rest of the stack's residual of the last step whose whole stack ran, per batch row (CFG
//! branch), and hands them to the transformer, which decides after the first block
//! (`models::transformer::FirstBlockCache`). They are dropped whenever the latent video, the
//! computed tokens or the branches change ([`CacheKey`]); a capture always runs the whole stack.
use anyhow::Result;
use candle_core::{DType, Tensor};

use crate::adaptive::accel::{cfg_tail_start, CacheDecider, CacheKey, StepChange};
use crate::models::transformer::{ChronoEditTransformer3DModel, FirstBlockCache, ForwardOptions};
use crate::pipeline::hooks::StepState;

/// The guided transformer of one edit: its contexts, CFG scale and acceleration state.
pub struct Guidance<'a> {
    transformer: &'a ChronoEditTransformer3DModel,
    prompt_embeds: Tensor,
    negative_embeds: Option<Tensor>,
    image_embeds: Tensor,
    /// (text, image) contexts of both branches as one batch of two.
    batched: Option<(Tensor, Tensor)>,
    scale: f64,
    /// First step of the guidance tail (None: off).
    tail_start: Option<usize>,
    /// `cond − uncond` of the last step that ran both branches (kept only with the tail on).
    last_difference: Option<Tensor>,
    cache: Option<CacheState>,
    first_block: Option<FirstBlockState>,
}

/// First-block caching's residuals of the last step whose whole stack ran.
struct FirstBlockState {
    threshold: f64,
    key: Option<CacheKey>,
    head: Option<Tensor>,
    tail: Option<Tensor>,
}

/// The step cache's tensors beside its decisions.
struct CacheState {
    decider: CacheDecider,
    /// Residual of the last computed step.
    residual: Option<Tensor>,
    /// Latents of the previous step (for the input's relative change).
    previous_latents: Option<Tensor>,
    /// Latents and prediction of the last computed step (for the output's change rate).
    last_computed: Option<(Tensor, Tensor)>,
    /// Mean absolute residual of every computed step when the cache only records (what `physedit
    /// calibrate` averages).
    magnitudes: Vec<(usize, f64)>,
    /// Timestep modulation of the previous step (the `tea` policy's input).
    previous_modulation: Option<Tensor>,
    /// Modulation change of the current step since the previous one.
    modulation_change: f64,
    /// Index of the last computed step.
    last_index: Option<usize>,
    /// (step, modulation change, residual change) of every computed step whose predecessor was
    /// computed too (what `physedit calibrate` fits TeaCache's polynomial to).
    change_pairs: Vec<(usize, f64, f64)>,
}

/// One guided prediction.
pub struct Prediction {
    /// `(1, z, F, h, w)` f32.
    pub noise_pred: Tensor,
    /// The conditional branch's captured cross-attention, when asked for.
    pub cross_attention: Option<Tensor>,
    /// Transformer forwards whose blocks ran (0 when the cached residual replaced them).
    pub forwards: usize,
    /// Whether the cached residual replaced the blocks (all of them, or all but the first).
    pub reused: bool,
    /// Transformer forwards in which only the first block ran (first-block caching).
    pub head_forwards: usize,
}

/// mean|a − b| / mean|b| over every element (f32; TeaCache's relative L1), infinite when the
/// shapes differ or `b` is zero.
fn relative_l1(a: &Tensor, b: &Tensor) -> Result<f64> {
    if a.dims() != b.dims() {
        return Ok(f64::INFINITY);
    }
    let a = a.to_dtype(DType::F32)?;
    let b = b.to_dtype(DType::F32)?;
    let num = (&a - &b)?.abs()?.sum_all()?.to_scalar::<f32>()? as f64;
    let den = b.abs()?.sum_all()?.to_scalar::<f32>()? as f64;
    Ok(if den > 0.0 { num / den } else { f64::INFINITY })
}

/// ‖a − b‖ / ‖b‖ over every element (f32), infinite when the shapes differ or `b` is zero.
fn relative_change(a: &Tensor, b: &Tensor) -> Result<f64> {
    if a.dims() != b.dims() {
        return Ok(f64::INFINITY);
    }
    let a = a.to_dtype(DType::F32)?;
    let b = b.to_dtype(DType::F32)?;
    let num = (&a - &b)?.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
    let den = b.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
    Ok(if den > 0.0 {
        (num / den).sqrt()
    } else {
        f64::INFINITY
    })
}

impl<'a> Guidance<'a> {
    /// `negative_embeds` is needed exactly when `scale > 1` (CFG on).
    pub fn new(
        transformer: &'a ChronoEditTransformer3DModel,
        prompt_embeds: Tensor,
        negative_embeds: Option<Tensor>,
        image_embeds: Tensor,
        scale: f64,
    ) -> Result<Self> {
        let batched = match &negative_embeds {
            Some(neg) => Some((
                Tensor::cat(&[&prompt_embeds, neg], 0)?,
                Tensor::cat(&[&image_embeds, &image_embeds], 0)?,
            )),
            None => None,
        };
        Ok(Guidance {
            transformer,
            prompt_embeds,
            negative_embeds,
            image_embeds,
            batched,
            scale,
            tail_start: None,
            last_difference: None,
            cache: None,
            first_block: None,
        })
    }

    /// Runs only the conditional branch over the last `fraction` of `steps` (no effect without CFG).
    pub fn with_cfg_tail(mut self, fraction: Option<f64>, steps: usize) -> Self {
        self.tail_start = match (fraction, &self.negative_embeds) {
            (Some(f), Some(_)) => Some(cfg_tail_start(f, steps)),
            _ => None,
        };
        self
    }

    /// Reuses the block stack's residual where `decider` allows.
    pub fn with_step_cache(mut self, decider: Option<CacheDecider>) -> Self {
        self.cache = decider.map(|decider| CacheState {
            decider,
            residual: None,
            previous_latents: None,
            last_computed: None,
            magnitudes: Vec::new(),
            previous_modulation: None,
            modulation_change: f64::INFINITY,
            last_index: None,
            change_pairs: Vec::new(),
        });
        self
    }

    /// First-block caching at `threshold` (None: off).
    pub fn with_first_block_cache(mut self, threshold: Option<f64>) -> Self {
        self.first_block = threshold.map(|threshold| FirstBlockState {
            threshold,
            key: None,
            head: None,
            tail: None,
        });
        self
    }

    /// (step, mean |residual|) of every computed step when the step cache only records.
    pub fn residual_magnitudes(&self) -> Vec<(usize, f64)> {
        self.cache
            .as_ref()
            .map(|c| c.magnitudes.clone())
            .unwrap_or_default()
    }

    /// (step, modulation change, residual change) of consecutive computed steps when the step
    /// cache only records.
    pub fn change_pairs(&self) -> Vec<(usize, f64, f64)> {
        self.cache
            .as_ref()
            .map(|c| c.change_pairs.clone())
            .unwrap_or_default()
    }

    /// Transformer forwards of a step that runs every branch (2 with CFG).
    pub fn forwards_per_step(&self) -> usize {
        if self.negative_embeds.is_some() {
            2
        } else {
            1
        }
    }

    /// The guided velocity for `model_input` at `timestep` (one-element tensor) at `step`.
    pub fn predict(
        &mut self,
        model_input: &Tensor,
        timestep: &Tensor,
        opts: &ForwardOptions,
        step: &StepState,
    ) -> Result<Prediction> {
        let capturing = opts.capture.is_some();
        // The tail needs a difference of the same video (not one from before the reasoning drop).
        let tail = match (self.tail_start, &self.last_difference) {
            (Some(start), Some(d)) => step.index >= start && d.dims()[2] == step.frames,
            _ => false,
        };
        let both = self.negative_embeds.is_some() && !tail;
        let branches = if both { 2 } else { 1 };

        // Step cache: decide, then ask the forwards for the residual or give them the cached one.
        let key = CacheKey {
            frames: step.frames,
            token_keep: opts.token_keep.clone(),
            branches,
        };
        let mut fopts = opts.clone();
        let mut reused = false;
        if let Some(c) = self.cache.as_mut() {
            let input = match &c.previous_latents {
                Some(prev) => relative_change(step.latents, prev)?,
                None => f64::INFINITY,
            };
            // Both CFG branches share the timestep: one modulation serves them. Computed only for
            // the policy that reads it or for a calibration.
            if c.decider.reads_modulation() || c.decider.records_only() {
                let modulation = self.transformer.timestep_modulation(timestep)?;
                c.modulation_change = match &c.previous_modulation {
                    Some(prev) => relative_l1(&modulation, prev)?,
                    None => f64::INFINITY,
                };
                c.previous_modulation = Some(modulation);
            }
            let change = StepChange {
                input,
                modulation: c.modulation_change,
            };
            let must_compute = capturing || c.residual.is_none();
            reused = c
                .decider
                .should_reuse(step.index, &key, change, must_compute);
            if reused {
                fopts.reuse_residual = c.residual.clone();
            } else {
                fopts.record_residual = true;
            }
            c.previous_latents = Some(step.latents.clone());
        }
        if let Some(fb) = self.first_block.as_mut() {
            if capturing || fb.key.as_ref() != Some(&key) {
                fb.head = None;
                fb.tail = None;
            }
            // A capture runs the branches apart and every block: nothing to decide or record.
            if !capturing {
                fopts.first_block = Some(FirstBlockCache {
                    head: fb.head.clone(),
                    tail: fb.tail.clone(),
                    threshold: fb.threshold,
                });
            }
        }

        let first_block;
        let (cond, cross_attention, uncond, residual) = match (&self.batched, both, capturing) {
            (Some((text2, image2)), true, false) => {
                let out = self.transformer.forward_with(
                    &Tensor::cat(&[model_input, model_input], 0)?,
                    &Tensor::cat(&[timestep, timestep], 0)?,
                    text2,
                    Some(image2),
                    &fopts,
                )?;
                let cond = out.sample.narrow(0, 0, 1)?;
                let uncond = out.sample.narrow(0, 1, 1)?;
                first_block = out.first_block;
                (cond, None, Some(uncond), out.residual)
            }
            _ => {
                let out = self.transformer.forward_with(
                    model_input,
                    timestep,
                    &self.prompt_embeds,
                    Some(&self.image_embeds),
                    &fopts,
                )?;
                let mut residual = out.residual;
                let uncond = match (&self.negative_embeds, both) {
                    (Some(neg), true) => {
                        let plain = ForwardOptions {
                            capture: None,
                            ..fopts.clone()
                        };
                        let u = self.transformer.forward_with(
                            model_input,
                            timestep,
                            neg,
                            Some(&self.image_embeds),
                            &plain,
                        )?;
                        residual = match (residual, u.residual) {
                            (Some(a), Some(b)) => Some(Tensor::cat(&[a, b], 0)?),
                            _ => None,
                        };
                        Some(u.sample)
                    }
                    _ => None,
                };
                first_block = out.first_block;
                (out.sample, out.cross_attention, uncond, residual)
            }
        };
        let guided = match uncond {
            Some(uncond) => {
                let difference = (&cond - &uncond)?;
                let guided = (&uncond + (&difference * self.scale)?)?;
                if self.tail_start.is_some() {
                    self.last_difference = Some(difference);
                }
                guided
            }
            None if tail => {
                let d = self
                    .last_difference
                    .as_ref()
                    .expect("tail implies a difference");
                (&cond + (d * (self.scale - 1.0))?)?
            }
            None => cond,
        };
        let noise_pred = guided.to_dtype(DType::F32)?;
        let mut head_forwards = 0;
        if let (Some(fb), Some(outcome)) = (self.first_block.as_mut(), first_block) {
            if outcome.reused {
                reused = true;
                head_forwards = branches;
            }
            if let Some((head, tail)) = outcome.computed {
                fb.head = Some(head);
                fb.tail = Some(tail);
                fb.key = Some(key.clone());
            }
        }

        if let (Some(c), false) = (self.cache.as_mut(), reused) {
            let rate = match &c.last_computed {
                Some((x_prev, v_prev)) if x_prev.dims() == step.latents.dims() => {
                    let dx = relative_change(step.latents, x_prev)?;
                    let dv = relative_change(&noise_pred, v_prev)?;
                    (dx > 0.0 && dx.is_finite() && dv.is_finite()).then(|| dv / dx)
                }
                _ => None,
            };
            c.decider.computed(key, rate);
            // The calibration's measurements: only when the cache exists to record them.
            if let (Some(r), true) = (&residual, c.decider.records_only()) {
                let m = r
                    .abs()?
                    .to_dtype(DType::F32)?
                    .mean_all()?
                    .to_scalar::<f32>()?;
                c.magnitudes.push((step.index, m as f64));
                if let (Some(prev), true) =
                    (&c.residual, c.last_index.map(|j| j + 1) == Some(step.index))
                {
                    let dr = relative_l1(r, prev)?;
                    if dr.is_finite() && c.modulation_change.is_finite() {
                        c.change_pairs.push((step.index, c.modulation_change, dr));
                    }
                }
            }
            c.last_index = Some(step.index);
            c.residual = residual;
            c.last_computed = Some((step.latents.clone(), noise_pred.clone()));
        }
        Ok(Prediction {
            noise_pred,
            cross_attention,
            forwards: if reused { 0 } else { branches },
            reused,
            head_forwards,
        })
    }
}
