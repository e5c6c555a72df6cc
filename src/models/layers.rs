//! Small building blocks shared by the text and image encoders (CLIP towers, umT5).

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{LayerNorm, VarBuilder};

/// Activation functions by transformers' `ACT2FN` name.
pub(crate) fn activation(name: &str, xs: &Tensor) -> Result<Tensor> {
    match name {
        // tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => xs.gelu(),
        // exact (erf) GELU, torch's nn.functional.gelu default
        "gelu" => xs.gelu_erf(),
        "quick_gelu" => xs.broadcast_mul(&candle_nn::ops::sigmoid(&(xs * 1.702)?)?),
        "relu" => xs.relu(),
        "silu" | "swish" => xs.silu(),
        other => candle_core::bail!("unsupported activation {other:?}"),
    }
}

/// nn.LayerNorm evaluated in f32 whatever the input dtype, result cast back.
#[derive(Debug, Clone)]
pub(crate) struct LayerNorm32(LayerNorm);

impl LayerNorm32 {
    pub(crate) fn new(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let w = vb.get(size, "weight")?.to_dtype(DType::F32)?;
        let b = vb.get(size, "bias")?.to_dtype(DType::F32)?;
        Ok(Self(LayerNorm::new(w, b, eps)))
    }
}

impl Module for LayerNorm32 {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let dt = xs.dtype();
        self.0.forward(&xs.to_dtype(DType::F32)?)?.to_dtype(dt)
    }
}
