//! Caching across the reasoning frames as a [`DenoiseHook`]: during the reasoning steps the
//! reasoning frames (the latent frames between the input and the output frame) are computed only
//! at every `every`-th step (steps 0, `every`, 2·`every`, … of the reasoning phase).
//!
//! On the steps between, the forwards compute the input and the output frame alone (SRM's kept
//! tokens of the reasoning frames leave the sequence too), and every reasoning token receives the
//! velocity that holds its clean estimate of the last step that computed the reasoning frames,
//! `v = (x_t − x̂₀) / σ_t`: the same straight path to a held estimate as SRM's dropped tokens and
//! region-aware denoising's held ones. The output frame is always computed whole.
//!
//! What it gives up: on a held step the output frame does not attend to the reasoning frames (the
//! temporal context reasoning exists to provide), and the reasoning frames do not move toward a
//! fresh estimate. Reasoning frames are dropped at step N_r in any case, so only the edit's
//! trajectory during the reasoning phase is affected, which `bench --fidelity-to` measures.
use anyhow::{Context, Result};
use candle_core::{DType, Tensor};

use crate::models::transformer::ForwardOptions;
use crate::pipeline::hooks::{computed_tokens, DenoiseHook, StepState};

/// Reasoning-frame caching's state for one edit.
pub struct ReasoningCacheHook {
    every: usize,
    /// Transformer patch (t, h, w).
    patch: [usize; 3],
    /// Clean estimate of the latents at the last step that computed the reasoning frames.
    x0: Option<Tensor>,
    /// This step holds the reasoning frames.
    holding: bool,
    /// Steps that held the reasoning frames.
    pub held_steps: usize,
}

impl ReasoningCacheHook {
    /// Computes the reasoning frames at every `every`-th reasoning step (1: at every step).
    pub fn new(every: usize, patch: [usize; 3]) -> Self {
        ReasoningCacheHook {
            every: every.max(1),
            patch,
            x0: None,
            holding: false,
            held_steps: 0,
        }
    }
}

impl DenoiseHook for ReasoningCacheHook {
    fn name(&self) -> &'static str {
        "reasoning-cache"
    }

    fn before_forward(&mut self, step: &StepState, opts: &mut ForwardOptions) -> Result<()> {
        self.holding = false;
        let computes = step.index.is_multiple_of(self.every);
        let held_estimate = self
            .x0
            .as_ref()
            .is_some_and(|x0| x0.dims() == step.latents.dims());
        if !step.reasoning
            || computes
            || !held_estimate
            || opts.capture.is_some()
            || self.patch[0] != 1
        {
            return Ok(());
        }
        let (_, _, frames, lh, lw) = step.latents.dims5()?;
        let hw = (lh / self.patch[1]) * (lw / self.patch[2]);
        let first_output = (frames - 1) * hw;
        opts.token_keep = Some(
            computed_tokens(opts, frames * hw)
                .into_iter()
                .filter(|&t| (t as usize) < hw || t as usize >= first_output)
                .collect(),
        );
        self.holding = true;
        Ok(())
    }

    fn after_forward(
        &mut self,
        step: &StepState,
        _cross_attention: Option<&Tensor>,
        noise_pred: &mut Tensor,
    ) -> Result<()> {
        if !step.reasoning {
            return Ok(());
        }
        if !self.holding {
            // The reasoning frames were computed: their clean estimate is the one held.
            self.x0 = Some((step.latents - (&*noise_pred * step.sigma)?)?.to_dtype(DType::F32)?);
            return Ok(());
        }
        let x0 = self
            .x0
            .as_ref()
            .context("reasoning cache: no held estimate")?;
        let f = step.frames;
        let middle = f - 2;
        let v_hold =
            ((step.latents.narrow(2, 1, middle)? - x0.narrow(2, 1, middle)?)? / step.sigma)?;
        *noise_pred = Tensor::cat(
            &[
                &noise_pred.narrow(2, 0, 1)?,
                &v_hold.to_dtype(noise_pred.dtype())?,
                &noise_pred.narrow(2, f - 1, 1)?,
            ],
            2,
        )?;
        self.held_steps += 1;
        Ok(())
    }
}
