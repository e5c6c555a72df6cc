//! Pure neural-network modules, each built from its checkpoint's `config.json` and weights.
pub mod adapter;
pub mod attention;
pub mod clip;
pub mod clip_vision;
pub mod layers;
pub mod linear;
pub mod rope;
pub mod transformer;
pub mod umt5;
pub mod vae;

use candle_core::Tensor;

/// Whether any of `xs` carries a gradient graph (a trainable variable or something computed from
/// one). The fused CPU kernels (attention, candle's layer/RMS norm and RoPE kernels) have no
/// backward pass, so such tensors take the composed, differentiable path instead; inference
/// tensors never do, so inference keeps the fused kernels.
pub(crate) fn tracks_grad(xs: &[&Tensor]) -> bool {
    xs.iter().any(|x| x.track_op())
}
