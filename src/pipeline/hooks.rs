//! Seams of the denoising loop: each adaptive technique is one [`DenoiseHook`] that the plan
//! switches on, instead of code interleaved with CFG, the reasoning drop and the scheduler.
//!
//! One step of [`crate::pipeline::chronoedit::ChronoEditPipeline::edit_with`] runs, in order:
//!
//! 1. the reasoning drop (at step N_r the latents, condition and scheduler history keep the input
//!    and output frames; part of the loop, not a hook, since it defines the reference recipe);
//! 2. [`DenoiseHook::before_forward`] of every hook: choose the tokens to compute
//!    (`ForwardOptions::token_keep`) or ask for a cross-attention capture;
//! 3. the guided prediction ([`crate::pipeline::guidance::Guidance`]: the conditional and the
//!    unconditional branch, batched, combined with the CFG scale; step caching and the guidance
//!    tail act here, on the transformer's forwards, not as hooks);
//! 4. [`DenoiseHook::after_forward`]: read the capture, fill the prediction of tokens that were not
//!    computed;
//! 5. the scheduler step;
//! 6. [`DenoiseHook::after_step`]: blend the new latents (RPFI pulls the region outside the edit
//!    toward the input).
//!
//! Hooks run in the order they are listed; with no hooks the loop is exactly the reference's. A hook
//! keeps its own state across steps and reports what it did through its own type after the loop.
use anyhow::Result;
use candle_core::Tensor;

use crate::adaptive::srm::TokenMask;
use crate::models::transformer::ForwardOptions;

/// What a hook sees of one denoising step.
#[derive(Debug)]
pub struct StepState<'a> {
    /// Loop position `i` (0-based).
    pub index: usize,
    /// Steps in the schedule.
    pub steps: usize,
    /// The transformer's timestep at this step.
    pub timestep: f64,
    /// σ of this step (the noise level of `latents`).
    pub sigma: f64,
    /// σ after this step (the noise level the scheduler step produces).
    pub next_sigma: f64,
    /// The latents entering this step, `(1, z, F, h, w)` f32.
    pub latents: &'a Tensor,
    /// Latent frames at this step (after a reasoning drop).
    pub frames: usize,
    /// Whether reasoning frames are present at this step (r ≥ 1 and `index` < N_r).
    pub reasoning: bool,
    /// The edit region over one latent frame's token grid, once known (the spatial reasoning
    /// mask, refreshed before each phase of the step); None: unknown or the whole frame.
    pub region: Option<&'a TokenMask>,
}

/// The token positions a forward with `opts` computes: its `token_keep`, else all `total`.
pub fn computed_tokens(opts: &ForwardOptions, total: usize) -> Vec<u32> {
    match &opts.token_keep {
        Some(k) => k.clone(),
        None => (0..total as u32).collect(),
    }
}

/// One technique acting on the denoising loop (see the module documentation for the order).
pub trait DenoiseHook {
    /// Short name for reports.
    fn name(&self) -> &'static str;

    /// Before the transformer runs: may set `token_keep` or `capture` in `opts`.
    fn before_forward(&mut self, _step: &StepState, _opts: &mut ForwardOptions) -> Result<()> {
        Ok(())
    }

    /// After the guided prediction (`noise_pred`, f32, the latents' shape): `cross_attention` is
    /// the conditional branch's capture when one was asked for.
    fn after_forward(
        &mut self,
        _step: &StepState,
        _cross_attention: Option<&Tensor>,
        _noise_pred: &mut Tensor,
    ) -> Result<()> {
        Ok(())
    }

    /// After the scheduler step, with the latents it produced.
    fn after_step(&mut self, _step: &StepState, _latents: &mut Tensor) -> Result<()> {
        Ok(())
    }
}
