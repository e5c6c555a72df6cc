//! One edit from an instruction, as `physedit edit` and `physedit serve` run it: the recipe's plan
//! (CARD on the instruction and the image's cues), the explicit overrides
//! ([`crate::adaptive::plan::resolve`], the one route from a plan to an edit), the working size
//! ([`EditSize`]), [`EditRequest::planned`], the pipeline, and the picture at its output size.
//!
//! Both front ends call [`run`], so the service's picture for a seed is the command line's picture
//! for that seed, bit for bit. What is written where (files, reports, HTTP answers) stays with the
//! caller.
use anyhow::{Context, Result};
use candle_core::Tensor;

use crate::adaptive::accel::Acceleration;
use crate::adaptive::card::{CardInput, ImageCues};
use crate::adaptive::plan::{Overrides, Plan, Planner, Recipe, Resolved, Schedule};
use crate::adaptive::srm::{Probe, SrmConfig, TokenMask};
use crate::pipeline::chronoedit::{
    AdaptiveOptions, ChronoEditPipeline, EditOutput, EditRequest, EditSize, StepCallback,
    FRAMES_WITHOUT_REASONING,
};

/// Everything one edit takes besides the model and the input picture.
#[derive(Debug, Clone)]
pub struct EditSpec {
    pub prompt: String,
    /// Negative prompt of the unconditional CFG branch.
    pub negative_prompt: String,
    pub recipe: Recipe,
    /// Denoising steps (None: the plan's; N_r keeps its share).
    pub steps: Option<usize>,
    /// CFG scale (None: the model folder's recommended scale as the recipe takes it, else the plan's).
    pub guidance: Option<f64>,
    /// N_r, explicit: the reference's behaviour for that video.
    pub reasoning_steps: Option<usize>,
    /// Video frames, explicit: the reference's behaviour for that video.
    pub num_frames: Option<usize>,
    /// SRM on/off instead of the plan's choice.
    pub srm: Option<bool>,
    /// How the SRM finds its region (ignored when a `region` is given).
    pub srm_probe: Probe,
    /// SRM dilation radius in tokens.
    pub srm_dilate: usize,
    /// Working height/width (None: [`EditSize::choose`]'s default).
    pub height: Option<usize>,
    pub width: Option<usize>,
    /// Seed of the initial noise (ignored with `latents`).
    pub seed: u64,
    /// Initial noise instead of the seed's.
    pub latents: Option<Tensor>,
    /// The region the edit may change, over the input picture (any size, non-zero = may change):
    /// the SRM's region instead of the probed one when the plan runs the SRM, and the region of
    /// region-aware denoising.
    pub region: Option<image::GrayImage>,
    /// Accelerations on top of the recipe's (`adaptive::accel`).
    pub accel: Acceleration,
}

impl EditSpec {
    /// The defaults of `physedit edit` for one instruction.
    pub fn new(prompt: impl Into<String>) -> Self {
        EditSpec {
            prompt: prompt.into(),
            negative_prompt: String::new(),
            recipe: Recipe::Physedit,
            steps: None,
            guidance: None,
            reasoning_steps: None,
            num_frames: None,
            srm: None,
            srm_probe: Probe::FirstStep,
            srm_dilate: 1,
            height: None,
            width: None,
            seed: 0,
            latents: None,
            region: None,
            accel: Acceleration::default(),
        }
    }
}

/// One finished edit.
pub struct PlannedEdit {
    /// The recipe's plan before the overrides.
    pub plan: Plan,
    /// The plan that ran (overrides applied).
    pub effective: Plan,
    pub schedule: Schedule,
    pub size: EditSize,
    pub output: EditOutput,
    /// The edited picture at its output size.
    pub picture: image::RgbImage,
    /// One-line notes for the user (a forced size off the model's native one, ignored flags).
    pub notes: Vec<String>,
    /// Whether a given region was used (as the SRM's region, or by region-aware denoising).
    pub region_used: bool,
}

impl PlannedEdit {
    /// Every decoded frame of the edit's video, first (the input) to last (the edited picture):
    /// the reasoning trajectory.
    pub fn trajectory(&self) -> Result<Vec<image::RgbImage>> {
        let frames = &self.output.frames;
        (0..frames.dim(0)?)
            .map(|i| crate::util::tensor_to_rgb(&frames.get(i)?))
            .collect()
    }

    /// The region the SRM confined the reasoning frames to, drawn over the input picture at the
    /// working size (outside the region darkened), and whether the SRM ran (when it did not, the
    /// whole frame is the region).
    pub fn srm_overlay(
        &self,
        pipe: &ChronoEditPipeline,
        image: &image::DynamicImage,
    ) -> (image::RgbImage, bool) {
        let (height, width) = (self.size.height, self.size.width);
        let (mask, ran) = match &self.output.srm {
            Some(s) => (s.mask.clone(), true),
            None => {
                let patch = pipe.transformer.config().patch();
                let s = pipe.vae.spatial_scale();
                (
                    TokenMask::full(height / s / patch[1], width / s / patch[2]),
                    false,
                )
            }
        };
        let resized = image
            .resize_exact(
                width as u32,
                height as u32,
                image::imageops::FilterType::Triangle,
            )
            .to_rgb8();
        (crate::adaptive::srm::mask_overlay(&resized, &mask), ran)
    }
}

/// Runs one edit (see the module documentation). `on_step` is called after each denoising step
/// with (step index, total steps).
pub fn run(
    pipe: &ChronoEditPipeline,
    planner: &Planner,
    image: &image::DynamicImage,
    spec: &EditSpec,
    on_step: StepCallback,
) -> Result<PlannedEdit> {
    if spec.prompt.trim().is_empty() {
        anyhow::bail!("the prompt is empty: say what the edit should do");
    }
    let defaults = &pipe.defaults;
    let size = EditSize::choose(
        pipe.size_multiple(),
        image,
        spec.height,
        spec.width,
        defaults.native_size(),
    )
    .context("the requested height/width")?;
    let mut notes: Vec<String> = size.warning.iter().cloned().collect();
    let (height, width) = (size.height, size.width);
    let cues = {
        let rgb = image.to_rgb8();
        ImageCues::from_rgb(rgb.width(), rgb.height(), rgb.as_raw())
    };
    let input = CardInput {
        prompt: &spec.prompt,
        image: Some(&cues),
        ..Default::default()
    };
    let overrides = Overrides {
        steps: spec.steps,
        guidance: spec
            .guidance
            .or(spec.recipe.model_guidance(defaults.guidance_scale))
            .map(|g| g as f32),
        reasoning_steps: spec.reasoning_steps,
        num_frames: spec.num_frames,
        srm: spec.srm,
        accel: spec.accel,
    };
    let (
        plan,
        Resolved {
            plan: effective,
            schedule,
        },
    ) = planner.resolve(spec.recipe, &input, &overrides, pipe.geometry())?;
    if spec.num_frames.is_some()
        && schedule.reasoning_steps == 0
        && schedule.num_frames != FRAMES_WITHOUT_REASONING
    {
        notes.push(format!(
            "note: --num-frames {} is ignored without reasoning steps (5 frames, as in diffusers)",
            schedule.num_frames
        ));
    }
    let mut request =
        EditRequest::planned(spec.prompt.clone(), &schedule, (height, width), spec.seed);
    request.negative_prompt = spec.negative_prompt.clone();
    request.latents = spec.latents.clone();
    let region = spec
        .region
        .as_ref()
        .map(|r| region_tokens(pipe, r, height, width));
    let region_used = region.is_some() && (schedule.srm || schedule.accel.region.is_some());
    let probe = match (&region, schedule.srm) {
        (Some(region), true) => Probe::Given(region.clone()),
        _ => spec.srm_probe.clone(),
    };
    let adaptive = AdaptiveOptions {
        srm: schedule.srm.then(|| SrmConfig {
            probe,
            dilate: spec.srm_dilate,
            ..Default::default()
        }),
        accel: schedule.accel,
        region_mask: region,
    };
    let output = pipe.edit_with(image, &request, &adaptive, on_step)?;
    let picture = size.finish(crate::util::tensor_to_rgb(&output.edited()?)?);
    Ok(PlannedEdit {
        plan,
        effective,
        schedule,
        size,
        output,
        picture,
        notes,
        region_used,
    })
}

/// A pixel region (non-zero = may change) as the token mask of one latent frame at the working
/// size: a token is kept when any pixel of its cell, after resizing the region to the working size
/// (nearest neighbour), may change.
pub fn region_tokens(
    pipe: &ChronoEditPipeline,
    region: &image::GrayImage,
    height: usize,
    width: usize,
) -> TokenMask {
    let patch = pipe.transformer.config().patch();
    let s = pipe.vae.spatial_scale();
    let (ch, cw) = (s * patch[1], s * patch[2]);
    let (th, tw) = (height / ch, width / cw);
    let resized = image::imageops::resize(
        region,
        width as u32,
        height as u32,
        image::imageops::FilterType::Nearest,
    );
    let mut mask = TokenMask::empty(th, tw);
    for (x, y, p) in resized.enumerate_pixels() {
        let (ty, tx) = (y as usize / ch, x as usize / cw);
        if p.0[0] != 0 && ty < th && tx < tw {
            mask.keep[ty * tw + tx] = true;
        }
    }
    mask
}
