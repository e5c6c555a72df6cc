//! Region-aware denoising as a [`DenoiseHook`]: once the edit region is known and the picture has
//! settled, the output frame's tokens outside the region stop being computed.
//!
//! From step `round(settle · steps)` on (at least 1), the forwards compute the input frame, the
//! reasoning frames SRM keeps, and only the output frame's tokens inside the region; a dropped
//! output token receives the velocity that holds its clean estimate of the last step that
//! computed it, `v = (x_t − x̂₀) / σ_t` (for a flow-matching sampler a straight path to that
//! estimate, ending on it at σ = 0: "estimated in one step and held").
//!
//! The region is the mask the caller gives (`--mask`), else the spatial reasoning mask once SRM has
//! probed it (so plans without reasoning, which run no SRM, are left exact unless a mask is given);
//! a full region changes nothing. Limits against RegionE: the region's tokens do not attend to cached
//! keys/values of the held tokens (those leave the sequence, as SRM's pruned tokens do), and the
//! input frame's keys/values are recomputed at every step.
use anyhow::{Context, Result};
use candle_core::{DType, Tensor};

use crate::adaptive::srm::TokenMask;
use crate::models::transformer::ForwardOptions;
use crate::pipeline::hooks::{computed_tokens, DenoiseHook, StepState};

/// Region-aware denoising's state for one edit.
pub struct RegionHook {
    settle_step: usize,
    given: Option<TokenMask>,
    /// Transformer patch (t, h, w).
    patch: [usize; 3],
    /// Clean estimate of the output frame at the last step that computed all of it, `(1, z, 1, h, w)`.
    x0_output: Option<Tensor>,
    /// This step holds the output frame outside the region.
    holding: Option<TokenMask>,
    /// Steps that held tokens.
    pub held_steps: usize,
}

impl RegionHook {
    pub fn new(settle: f64, steps: usize, given: Option<TokenMask>, patch: [usize; 3]) -> Self {
        RegionHook {
            settle_step: ((settle * steps as f64).round() as usize).max(1),
            given,
            patch,
            x0_output: None,
            holding: None,
            held_steps: 0,
        }
    }

    fn region<'s>(&'s self, step: &'s StepState) -> Option<&'s TokenMask> {
        self.given.as_ref().or(step.region)
    }

    /// `(1, 1, 1, lh, lw)` u8: 1 where the output frame's latent cell is computed.
    fn latent_keep(&self, m: &TokenMask, lh: usize, lw: usize, like: &Tensor) -> Result<Tensor> {
        let v: Vec<u8> = m
            .latent_cells(lh, lw, (self.patch[1], self.patch[2]))
            .into_iter()
            .map(u8::from)
            .collect();
        Ok(Tensor::from_vec(v, (1, 1, 1, lh, lw), like.device())?)
    }
}

impl DenoiseHook for RegionHook {
    fn name(&self) -> &'static str {
        "region"
    }

    fn before_forward(&mut self, step: &StepState, opts: &mut ForwardOptions) -> Result<()> {
        self.holding = None;
        let Some(region) = self.region(step).cloned() else {
            return Ok(());
        };
        if step.index < self.settle_step
            || region.is_full()
            || self.x0_output.is_none()
            || opts.capture.is_some()
            || self.patch[0] != 1
        {
            return Ok(());
        }
        let hw = region.h * region.w;
        let total = step.frames * hw;
        let first_output = (step.frames - 1) * hw;
        let keep: Vec<u32> = computed_tokens(opts, total)
            .into_iter()
            .filter(|&t| {
                let t = t as usize;
                t < first_output || region.keep[t - first_output]
            })
            .collect();
        if keep.is_empty() {
            return Ok(());
        }
        opts.token_keep = Some(keep);
        self.holding = Some(region);
        Ok(())
    }

    fn after_forward(
        &mut self,
        step: &StepState,
        _cross_attention: Option<&Tensor>,
        noise_pred: &mut Tensor,
    ) -> Result<()> {
        let (_, z, f, lh, lw) = step.latents.dims5()?;
        let x_out = step.latents.narrow(2, f - 1, 1)?;
        let v_out = noise_pred.narrow(2, f - 1, 1)?;
        match &self.holding {
            None => {
                // A step that computed the whole output frame: its clean estimate is the one held.
                self.x0_output = Some((&x_out - (&v_out * step.sigma)?)?.to_dtype(DType::F32)?);
            }
            Some(region) => {
                let x0 = self
                    .x0_output
                    .as_ref()
                    .context("region: no held estimate")?;
                let v_hold = ((&x_out - x0)? / step.sigma)?;
                let keep = self
                    .latent_keep(region, lh, lw, noise_pred)?
                    .broadcast_as((1, z, 1, lh, lw))?;
                let v = keep.where_cond(&v_out, &v_hold)?;
                *noise_pred = if f > 1 {
                    Tensor::cat(&[&noise_pred.narrow(2, 0, f - 1)?, &v], 2)?
                } else {
                    v
                };
                self.held_steps += 1;
            }
        }
        Ok(())
    }
}
