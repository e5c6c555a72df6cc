//! Classifier-free guidance around the transformer: one guided prediction per step.
//!
//! With CFG (scale > 1) the conditional and unconditional forwards run as one batch of two — the
//! same numbers as two forwards, in fewer and larger matrix products — except when a
//! cross-attention capture is asked for, which must see the conditional branch alone (the
//! unconditional forward then runs separately, computing the same tokens and capturing nothing).
//! The batched contexts are built once, so the transformer's context K/V cache (keyed by tensor
//! identity) is reused at every step. The combination is diffusers':
//! `uncond + scale · (cond − uncond)`, in the compute dtype, then converted to f32.
use anyhow::Result;
use candle_core::{DType, Tensor};

use crate::models::transformer::{ChronoEditTransformer3DModel, ForwardOptions};

/// The guided transformer of one edit: its contexts and CFG scale.
pub struct Guidance<'a> {
    transformer: &'a ChronoEditTransformer3DModel,
    prompt_embeds: Tensor,
    negative_embeds: Option<Tensor>,
    image_embeds: Tensor,
    /// (text, image) contexts of both branches as one batch of two.
    batched: Option<(Tensor, Tensor)>,
    scale: f64,
}

/// One guided prediction.
pub struct Prediction {
    /// `(1, z, F, h, w)` f32.
    pub noise_pred: Tensor,
    /// The conditional branch's captured cross-attention, when asked for.
    pub cross_attention: Option<Tensor>,
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
        })
    }

    /// Transformer forwards per step (2 with CFG).
    pub fn forwards_per_step(&self) -> usize {
        if self.negative_embeds.is_some() {
            2
        } else {
            1
        }
    }

    /// The guided velocity for `model_input` at `timestep` (one-element tensor).
    pub fn predict(
        &self,
        model_input: &Tensor,
        timestep: &Tensor,
        opts: &ForwardOptions,
    ) -> Result<Prediction> {
        let capturing = opts.capture.is_some();
        let (cond, cross_attention, uncond) = match (&self.batched, capturing) {
            (Some((text2, image2)), false) => {
                let both = self.transformer.forward_with(
                    &Tensor::cat(&[model_input, model_input], 0)?,
                    &Tensor::cat(&[timestep, timestep], 0)?,
                    text2,
                    Some(image2),
                    opts,
                )?;
                let cond = both.sample.narrow(0, 0, 1)?;
                let uncond = both.sample.narrow(0, 1, 1)?;
                (cond, None, Some(uncond))
            }
            _ => {
                let out = self.transformer.forward_with(
                    model_input,
                    timestep,
                    &self.prompt_embeds,
                    Some(&self.image_embeds),
                    opts,
                )?;
                (out.sample, out.cross_attention, None)
            }
        };
        let guided = match (&self.negative_embeds, uncond) {
            (Some(_), Some(uncond)) => (&uncond + ((cond - &uncond)? * self.scale)?)?,
            (Some(neg), None) => {
                let plain = ForwardOptions {
                    capture: None,
                    ..opts.clone()
                };
                let uncond = self
                    .transformer
                    .forward_with(model_input, timestep, neg, Some(&self.image_embeds), &plain)?
                    .sample;
                (&uncond + ((cond - &uncond)? * self.scale)?)?
            }
            (None, _) => cond,
        };
        Ok(Prediction {
            noise_pred: guided.to_dtype(DType::F32)?,
            cross_attention,
        })
    }
}
