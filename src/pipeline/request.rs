//! What one edit asks for and what its adaptive parts report: the plain types the pipeline and its
//! hooks share (below both, so the hooks need not import the pipeline).
use std::time::Duration;

use candle_core::Tensor;

use crate::adaptive::accel::Acceleration;
use crate::adaptive::plan::Schedule;
use crate::adaptive::srm::{SrmConfig, TokenMask};

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
    /// Flow shift instead of the folder's scheduler config (the distilled recipes' 2.0).
    pub flow_shift: Option<f64>,
}

impl EditRequest {
    pub fn reasoning_enabled(&self) -> bool {
        self.temporal_reasoning
    }

    /// The request for a resolved plan ([`crate::adaptive::plan::resolve`], the one route from a
    /// plan to an edit): steps, guidance, video length, N_r and temporal positions from the
    /// schedule; no negative prompt, noise drawn from `seed`.
    pub fn planned(
        prompt: impl Into<String>,
        schedule: &Schedule,
        (height, width): (usize, usize),
        seed: u64,
    ) -> Self {
        EditRequest {
            prompt: prompt.into(),
            negative_prompt: String::new(),
            steps: schedule.steps,
            guidance: schedule.guidance,
            height,
            width,
            num_frames: schedule.num_frames,
            temporal_reasoning: schedule.reasoning_steps > 0,
            reasoning_steps: schedule.reasoning_steps,
            temporal_positions: schedule.temporal_positions.clone(),
            latents: None,
            seed,
            flow_shift: schedule.flow_shift,
        }
    }
}

/// Adaptive-inference options of [`crate::pipeline::chronoedit::ChronoEditPipeline::edit_with`]; the default runs exactly
/// [`crate::pipeline::chronoedit::ChronoEditPipeline::edit`] (the reference).
#[derive(Debug, Clone, Default)]
pub struct AdaptiveOptions {
    /// The spatial reasoning mask (None: off). It acts only while reasoning frames are present
    /// (r ≥ 1 and N_r ≥ 1).
    pub srm: Option<SrmConfig>,
    /// RPFI, step caching, the guidance tail and region-aware denoising (`adaptive::accel`; all
    /// off by default).
    pub accel: Acceleration,
    /// The edit region given by the caller over one latent frame's token grid (`--mask`), for
    /// region-aware denoising; None: SRM's mask when it runs.
    pub region_mask: Option<TokenMask>,
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
    /// forward, whose time is in `denoise_s`; its FLOPs are in [`crate::pipeline::chronoedit::EditOutput::transformer_flops`]).
    pub probe_s: f64,
    /// Denoising steps that ran with the mask.
    pub masked_steps: usize,
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
