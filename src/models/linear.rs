//! The linear layer of the transformer and the encoders (`x W^T + b` on the last dimension, the bias
//! optional), with its weight stored as it was loaded: dense, GGML-quantized blocks (GGUF files), or
//! float8 e4m3 with a per-tensor scale (ComfyUI's fp8 files).
//!
//! - Dense: one f32/f16/bf16 matmul, exactly as the reference's `nn.Linear` (the parity tests against
//!   diffusers run this path). A dense weight stored narrower than the input (the encoders' bf16/f16
//!   weights under f32 compute) is widened per use, exactly (bf16/f16 → f32 is lossless).
//! - Quantized: the blocks stay in memory as stored. Two ways to multiply ([`QuantMatmul`], chosen with
//!   `PHYSEDIT_QMATMUL=dequantize|kernel`, default `dequantize`):
//!   - `dequantize`: the layer's weight is dequantized to the compute dtype as it is used (one layer's
//!     dense weight at a time) and multiplied densely — what ComfyUI-GGUF does, and the same numbers as
//!     diffusers run with the dequantized weights (the parity test's reference).
//!   - `kernel`: candle's quantized matmul (`QMatMul`) on the blocks. On the CPU it also quantizes the
//!     activations to the weight type's dot-product format (Q8_0 / Q8_K) on the fly, an error of the
//!     same order as the weights' own (on the tiny reference pipeline it moves the frames 4x further
//!     from the dequantized reference than the weight quantization itself; BENCHMARKS.md).
//!   Both are tested in `tests/it/weights.rs` against the dense product with the dequantized weight.
//! - Fp8: the weight stays float8 in memory (one byte per element) and is widened per use:
//!   `f32(w) * scale`, rounded to the compute dtype, then a dense matmul — the same numbers as a dense
//!   layer holding the dequantized weight.
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::VarBuilder;

/// A linear layer's weight `(out, in)` in its stored form.
#[derive(Debug, Clone)]
pub enum LinearWeight {
    /// In the compute dtype.
    Dense(Tensor),
    /// GGML blocks (Q8_0, Q4_K, ...), multiplied by candle's quantized matmul.
    Quantized(Arc<QTensor>),
    /// float8 e4m3 values; the weight is `f32(w) * scale`.
    Fp8 { w: Tensor, scale: f32 },
}

impl LinearWeight {
    /// `(out, in)`.
    pub fn dims2(&self) -> Result<(usize, usize)> {
        match self {
            LinearWeight::Dense(w) | LinearWeight::Fp8 { w, .. } => w.dims2(),
            LinearWeight::Quantized(q) => q.shape().dims2(),
        }
    }

    /// Bytes the weight occupies where it is stored.
    pub fn storage_bytes(&self) -> usize {
        match self {
            LinearWeight::Dense(w) | LinearWeight::Fp8 { w, .. } => {
                w.elem_count() * w.dtype().size_in_bytes()
            }
            LinearWeight::Quantized(q) => q.storage_size_in_bytes(),
        }
    }

    /// The weight as a dense tensor in `dtype` (dequantized or widened).
    pub fn dequantize(&self, dtype: DType) -> Result<Tensor> {
        match self {
            LinearWeight::Dense(w) => w.to_dtype(dtype),
            LinearWeight::Quantized(q) => q.dequantize(&q.device())?.to_dtype(dtype),
            LinearWeight::Fp8 { w, scale } => {
                (w.to_dtype(DType::F32)? * (*scale as f64))?.to_dtype(dtype)
            }
        }
    }

    /// The same weight on `device` (a copy of the stored bytes; no requantization).
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        Ok(match self {
            LinearWeight::Dense(w) => LinearWeight::Dense(w.to_device(device)?),
            LinearWeight::Fp8 { w, scale } => LinearWeight::Fp8 {
                w: w.to_device(device)?,
                scale: *scale,
            },
            LinearWeight::Quantized(q) if q.device().same_device(device) => {
                LinearWeight::Quantized(q.clone())
            }
            LinearWeight::Quantized(q) => {
                let data = q.data()?;
                let q2 = candle_core::quantized::ggml_file::qtensor_from_ggml(
                    q.dtype(),
                    &data,
                    q.shape().dims().to_vec(),
                    device,
                )?;
                LinearWeight::Quantized(Arc::new(q2))
            }
        })
    }
}

/// How a quantized weight is multiplied (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantMatmul {
    /// Dequantize the layer's weight to the compute dtype per use, then a dense matmul.
    Dequantize,
    /// candle's quantized matmul kernel.
    Kernel,
}

impl QuantMatmul {
    /// `PHYSEDIT_QMATMUL` (`dequantize`, the default, or `kernel`), read once.
    pub fn current() -> Self {
        static MODE: std::sync::OnceLock<QuantMatmul> = std::sync::OnceLock::new();
        *MODE.get_or_init(|| match std::env::var("PHYSEDIT_QMATMUL").as_deref() {
            Ok("kernel") => QuantMatmul::Kernel,
            _ => QuantMatmul::Dequantize,
        })
    }
}

/// Linear weights a checkpoint keeps in a compressed form, by the full diffusers name of the weight
/// tensor (`blocks.0.attn1.to_q.weight`). Layers not listed load dense from the `VarBuilder`.
pub type LinearStore = std::collections::HashMap<String, LinearWeight>;

/// Linear layer applied on the last dimension (`x W^T + b`), plus the per-request adapters active
/// for its name (`super::adapter`).
#[derive(Debug, Clone)]
pub struct Linear {
    w: LinearWeight,
    b: Option<Tensor>,
    /// diffusers' module name (`blocks.0.attn1.to_q`), which adapters are keyed by.
    name: String,
}

impl Linear {
    /// The layer under `vb`'s prefix: its weight from `store` when it holds one (checked to be
    /// `(out_dim, in_dim)`), else dense from `vb`; the bias always from `vb`.
    pub fn new(vb: VarBuilder, in_dim: usize, out_dim: usize, store: &LinearStore) -> Result<Self> {
        Self::build(vb, in_dim, out_dim, store, true)
    }

    /// [`Self::new`] for a layer without bias (umT5's).
    pub fn new_no_bias(
        vb: VarBuilder,
        in_dim: usize,
        out_dim: usize,
        store: &LinearStore,
    ) -> Result<Self> {
        Self::build(vb, in_dim, out_dim, store, false)
    }

    fn build(
        vb: VarBuilder,
        in_dim: usize,
        out_dim: usize,
        store: &LinearStore,
        bias: bool,
    ) -> Result<Self> {
        let name = format!("{}.weight", vb.prefix());
        let w = match store.get(&name) {
            Some(w) => {
                let got = w.dims2()?;
                if got != (out_dim, in_dim) {
                    candle_core::bail!(
                        "`{name}` has shape [{}, {}], expected [{out_dim}, {in_dim}]",
                        got.0,
                        got.1
                    );
                }
                w.clone()
            }
            None => LinearWeight::Dense(vb.get((out_dim, in_dim), "weight")?),
        };
        Ok(Self {
            w,
            b: if bias {
                Some(vb.get(out_dim, "bias")?)
            } else {
                None
            },
            name: vb.prefix(),
        })
    }

    pub fn weight(&self) -> &LinearWeight {
        &self.w
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, QuantMatmul::current())
    }

    /// [`Self::forward`] with quantized weights multiplied the way `mode` says.
    pub fn forward_with(&self, x: &Tensor, mode: QuantMatmul) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let in_dim = dims[dims.len() - 1];
        let rows = x.elem_count() / in_dim.max(1);
        let x2 = x.reshape((rows, in_dim))?;
        let y = match (&self.w, mode) {
            (LinearWeight::Dense(w), _) if w.dtype() == x.dtype() => x2.matmul(&w.t()?)?,
            (LinearWeight::Quantized(q), QuantMatmul::Kernel) => {
                QMatMul::QTensor(q.clone()).forward(&x2.contiguous()?)?
            }
            _ => x2.matmul(&self.w.dequantize(x.dtype())?.t()?)?,
        };
        let out_dim = y.dim(1)?;
        let y = match &self.b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let y = super::adapter::apply(&self.name, &x2, y)?;
        let mut out_dims = dims;
        let last = out_dims.len() - 1;
        out_dims[last] = out_dim;
        y.reshape(out_dims)
    }
}
