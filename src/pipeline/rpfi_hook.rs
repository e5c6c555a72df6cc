//! RPFI — region-preserving feature injection — as a [`DenoiseHook`] (the formula and our reading of
//! the paper are in [`crate::adaptive::accel`]).
//!
//! After each scheduler step of the reasoning phase, the output (last) latent frame is blended
//! cell by cell: `x ← m·x + (1 − m)·((1 − σ)·z_in + σ·ε)` with `m = α·M + (1 − α)`, `M` the edit
//! region (1 inside; the spatial reasoning mask upsampled from its token grid to the latent grid),
//! `z_in` the input frame's clean latent (the condition's latent channels, not its mask channels),
//! `ε` the output frame's initial noise and `σ` the noise level the step produced. Without a mask
//! (SRM off, fallen back to the full frame, or not yet probed) `M = 1` and nothing changes; outside
//! the reasoning phase it does nothing either.
use anyhow::Result;
use candle_core::{DType, Tensor};

use crate::adaptive::accel::rpfi_alpha;
use crate::adaptive::srm::TokenMask;
use crate::pipeline::hooks::{DenoiseHook, StepState};

/// RPFI's state for one edit.
pub struct RpfiHook {
    relaxation: f32,
    reasoning_steps: usize,
    /// Transformer patch (h, w): latent cells per mask token.
    patch: (usize, usize),
    /// `(1, z, 1, h, w)` f32: the input frame's clean latent.
    z_input: Tensor,
    /// `(1, z, 1, h, w)` f32: the output frame's initial noise.
    noise: Tensor,
    /// Steps the blend changed the latents.
    pub applied_steps: usize,
}

impl RpfiHook {
    pub fn new(
        relaxation: f32,
        reasoning_steps: usize,
        patch: (usize, usize),
        z_input: Tensor,
        noise: Tensor,
    ) -> Self {
        RpfiHook {
            relaxation,
            reasoning_steps,
            patch,
            z_input,
            noise,
            applied_steps: 0,
        }
    }

    /// `(1, 1, 1, lh, lw)` f32: 1 inside the region.
    fn latent_region(&self, m: &TokenMask, lh: usize, lw: usize, like: &Tensor) -> Result<Tensor> {
        let v: Vec<f32> = m
            .latent_cells(lh, lw, self.patch)
            .into_iter()
            .map(|k| k as u8 as f32)
            .collect();
        Ok(Tensor::from_vec(v, (1, 1, 1, lh, lw), like.device())?)
    }
}

impl DenoiseHook for RpfiHook {
    fn name(&self) -> &'static str {
        "rpfi"
    }

    fn after_step(&mut self, step: &StepState, latents: &mut Tensor) -> Result<()> {
        let Some(region) = step.region else {
            return Ok(());
        };
        if !step.reasoning || region.is_full() {
            return Ok(());
        }
        let alpha = rpfi_alpha(self.relaxation, step.index, self.reasoning_steps);
        if alpha <= 0.0 {
            return Ok(());
        }
        let (_, _, f, lh, lw) = latents.dims5()?;
        let sigma = step.next_sigma;
        let m = ((self.latent_region(region, lh, lw, latents)? * alpha)? + (1.0 - alpha))?;
        let target = ((&self.z_input * (1.0 - sigma))? + (&self.noise * sigma)?)?;
        let last = latents.narrow(2, f - 1, 1)?.to_dtype(DType::F32)?;
        let blended = (last.broadcast_mul(&m)? + target.broadcast_mul(&m.affine(-1.0, 1.0)?)?)?;
        *latents = Tensor::cat(&[&latents.narrow(2, 0, f - 1)?, &blended], 2)?;
        self.applied_steps += 1;
        Ok(())
    }
}
