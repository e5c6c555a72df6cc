//! The memory plan: the peak device memory of an edit, phase by phase, predicted before anything is
//! loaded ([`plan`]), and which common cards run it ([`card_table`]).
//!
//! What is counted, phase by phase, follows what the engine holds (src/pipeline/chronoedit.rs):
//! * **Resident weights** at their in-memory precision: the transformer's block linear weights at
//!   their storage form (f32/f16/bf16 = the compute dtype, fp8 = 1 byte per weight plus an f32
//!   scale per tensor, GGUF blocks at their block size: Q8_0 34 bytes per 32 weights, Q4_K 144/256,
//!   Q6_K 210/256, ...); everything else of the transformer in the compute dtype, except the f32
//!   `scale_shift_table`s and the affine `norm2` (loaded in f32). The text and image encoders keep
//!   their linear weights (and umT5 its token embedding) at the precision the files store them,
//!   read from the safetensors headers ([`encoder_bytes`]: f32 4, f16/bf16 2, fp8 1 byte per
//!   weight plus an f32 scale per tensor); their norms, biases and other embeddings are widened to
//!   f32 at load, and one linear weight at a time is widened to f32 as it is used (counted in the
//!   encoders phase's work). The VAE is loaded in f32. As in city96's GGUFs (see
//!   shared model-formats notes): only 2-D `blocks.*` linear weights are quantized, and only when
//!   the block size divides their row length (others stay F16 in the file and are dequantized at
//!   load); in `q4_k_m` files `to_v` and `ffn.net.2` are Q6_K.
//! * **Which modules are on the device when**: at load the text and image encoders are put on the
//!   device; the transformer and the VAE too unless `--offload` (then each is copied to the
//!   device for its phase and dropped after). On a GPU the encoders are dropped once the prompt and
//!   image are encoded; on the CPU they stay.
//! * **Transformer activations** of one block at the phase's token count `N` and batch `B` (2 with
//!   CFG: the engine batches the two branches): the tensors alive at the block's peak, counted from
//!   the block's code (shadowed tensors stay alive until the block returns): with `u = B·N·d`
//!   elements, `f = B·N·ffn`, `s` bytes per compute element and `e` = 4 when the compute dtype is
//!   not f32 (the f32 copies the norms and residual adds make), else 0, the feed-forward peak is
//!   `(10s + 2e)·u + 2s·f` and the self-attention peak `(12s + e)·u` (on the CPU in bf16, whose
//!   matmul widens its operands to f32, `(8s + 2e)·u + 2s·f + 4f + 4·d·ffn + (4 + s)·u`), plus the
//!   attention kernel's
//!   workspace during the kernel: the fused CPU kernel's f32 output (and f32 copies of q/k/v when
//!   the compute dtype is not f32), flash attention's output, or the chunked kernel's f32 K/V copies
//!   and two score blocks of its budget (1 GiB). Plus the cross-attention K/V of every layer
//!   (cached for the edit) and the RoPE tables.
//! * **VAE**: decoding runs one latent frame at a time (4 video frames after the first); the peak is
//!   the largest residual block's convolution at the full-resolution level (its input, the two
//!   SiLU and convolution outputs it keeps, the padded input and its copy, the product and bias
//!   outputs) plus the causal feature cache (two frames of every cached convolution's input, each
//!   entry in a storage of its own).
//!   Encoding mirrors this on the encoder's levels.
//! * Not counted: the CUDA context, kernels and library handles ([`CARD_RESERVE_BYTES`] is kept
//!   free for them on a card), the scheduler's latents (KBs to MBs), allocator fragmentation.
//!
//! Parity limits: the weight arithmetic equals the parameter counts that diffusers and
//! transformers build for ChronoEdit-14B (tests/fixtures/memory/param_counts.json). The activation
//! and VAE terms are checked on the CPU against measured peak resident memory (`bench_memory`;
//! BENCHMARKS.md has the ratios): a 14B-width block's activations within 10 % (f32 and bf16); umT5-XXL-
//! width layers' weights at their stored bytes within 0.3 % (bf16, fp8) and their work over-predicted by
//! 11 % (bf16) and 25 % (fp8); the VAE's work (decoding 2 latent frames, encoding 5 frames, at
//! 120x208 and 240x416) within 6 % of the peak bytes its allocations hold (0.94-0.98 of the
//! prediction) and within 12 % of the resident peak, which adds the freed heap glibc keeps (84 MB of
//! the 120x208 decode's 715 MB; none with a 64 KiB mmap threshold), a CPU allocator's cost left out
//! here. The GPU-only terms (flash/chunked workspace, GGUF/fp8
//! dequantization scratch, the gather convolution's blocks) have not been measured on a GPU.
use std::path::Path;

use anyhow::{Context, Result};
use candle_core::DType;
use serde::Serialize;

use crate::adaptive::cost::{ModelDims, TransformerDims};

/// Bytes kept free on a card for what is not counted (CUDA context, kernels, cuBLAS handles).
pub const CARD_RESERVE_BYTES: u64 = 1 << 30;
/// The chunked attention kernel's default score budget (see `models::attention`).
const SCORE_BUDGET_BYTES: f64 = (1u64 << 30) as f64;
/// Elements per block of the gather convolution (GPU path of the VAE convolutions).
const GATHER_BLOCK_ELEMS: f64 = (1u64 << 24) as f64;

/// How the transformer's block linear weights are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// In the compute dtype (`--dtype`), as the engine loads a diffusers folder.
    Dense,
    F32,
    F16,
    Bf16,
    /// float8 e4m3 with one f32 scale per tensor (ComfyUI's scaled fp8).
    Fp8,
    Q8_0,
    Q5_1,
    Q5_0,
    Q4_1,
    Q4_0,
    Q6K,
    Q5K,
    Q4K,
    /// city96's Q4_K_M: Q4_K, with `to_v` and `ffn.net.2` in Q6_K.
    Q4KM,
    Q3K,
    Q2K,
}

impl Storage {
    pub const NAMED: [Storage; 15] = [
        Storage::F32,
        Storage::F16,
        Storage::Bf16,
        Storage::Fp8,
        Storage::Q8_0,
        Storage::Q5_1,
        Storage::Q5_0,
        Storage::Q4_1,
        Storage::Q4_0,
        Storage::Q6K,
        Storage::Q5K,
        Storage::Q4K,
        Storage::Q4KM,
        Storage::Q3K,
        Storage::Q2K,
    ];

    pub fn parse(s: &str) -> Result<Self> {
        let want = s.trim().to_ascii_lowercase();
        Self::NAMED
            .into_iter()
            .find(|k| k.name() == want)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::NAMED.iter().map(|k| k.name()).collect();
                anyhow::anyhow!(
                    "--storage: unknown storage `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Storage::Dense => "dense",
            Storage::F32 => "f32",
            Storage::F16 => "f16",
            Storage::Bf16 => "bf16",
            Storage::Fp8 => "fp8",
            Storage::Q8_0 => "q8_0",
            Storage::Q5_1 => "q5_1",
            Storage::Q5_0 => "q5_0",
            Storage::Q4_1 => "q4_1",
            Storage::Q4_0 => "q4_0",
            Storage::Q6K => "q6_k",
            Storage::Q5K => "q5_k",
            Storage::Q4K => "q4_k",
            Storage::Q4KM => "q4_k_m",
            Storage::Q3K => "q3_k",
            Storage::Q2K => "q2_k",
        }
    }

    /// (weights per block, bytes per block) of a GGUF block type (ggml's block structs).
    fn gguf_block(self) -> Option<(u64, u64)> {
        Some(match self {
            Storage::Q8_0 => (32, 34),
            Storage::Q5_1 => (32, 24),
            Storage::Q5_0 => (32, 22),
            Storage::Q4_1 => (32, 20),
            Storage::Q4_0 => (32, 18),
            Storage::Q6K => (256, 210),
            Storage::Q5K => (256, 176),
            Storage::Q4K | Storage::Q4KM => (256, 144),
            Storage::Q3K => (256, 110),
            Storage::Q2K => (256, 84),
            _ => return None,
        })
    }

    /// Whether linear weights stay in a packed form and are expanded per layer as they are used.
    pub fn is_packed(self) -> bool {
        self == Storage::Fp8 || self.gguf_block().is_some()
    }

    /// Bytes of one 2-D block linear weight `(out, in)` in this storage, given the compute dtype
    /// for the dense forms and `name` (for Q4_K_M's Q6_K tensors).
    fn linear_bytes(self, name: &str, out: u64, inp: u64, compute: u64) -> u64 {
        let n = out * inp;
        let kind = if self == Storage::Q4KM
            && [
                ".to_v.weight",
                ".v.weight",
                "ffn.net.2.weight",
                "ffn.2.weight",
            ]
            .iter()
            .any(|e| name.ends_with(e))
        {
            Storage::Q6K
        } else {
            self
        };
        match kind {
            Storage::Dense => n * compute,
            Storage::F32 => n * 4,
            Storage::F16 | Storage::Bf16 => n * 2,
            Storage::Fp8 => n + 4,
            k => match k.gguf_block() {
                // The block size must divide the row; otherwise the tensor stays F16 in the file
                // and is dequantized to the compute dtype at load.
                Some((per, bytes)) if inp % per == 0 => n / per * bytes,
                _ => n * compute,
            },
        }
    }
}

/// The name of a compute dtype as `--dtype` reads it.
pub fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        _ => "other",
    }
}

/// Bytes per element of a compute dtype.
pub fn dtype_bytes(dtype: DType) -> u64 {
    dtype.size_in_bytes() as u64
}

/// One parameter tensor: diffusers name and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamTensor {
    pub name: String,
    pub shape: Vec<usize>,
}

impl ParamTensor {
    fn new(name: impl Into<String>, shape: &[usize]) -> Self {
        Self {
            name: name.into(),
            shape: shape.to_vec(),
        }
    }
    pub fn numel(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }
}

fn linear(out: &mut Vec<ParamTensor>, name: &str, o: usize, i: usize) {
    out.push(ParamTensor::new(format!("{name}.weight"), &[o, i]));
    out.push(ParamTensor::new(format!("{name}.bias"), &[o]));
}

/// The transformer's parameter tensors for `t` (diffusers names; `ChronoEditTransformer3DModel`
/// with `cross_attn_norm` and across-heads q/k norms, as ChronoEdit and Wan2.1-I2V have).
pub fn transformer_tensors(t: &TransformerDims) -> Vec<ParamTensor> {
    let d = t.inner_dim();
    let patch: usize = t.patch_size.iter().product();
    let mut v = Vec::new();
    v.push(ParamTensor::new(
        "patch_embedding.weight",
        &[
            d,
            t.in_channels,
            t.patch_size[0],
            t.patch_size[1],
            t.patch_size[2],
        ],
    ));
    v.push(ParamTensor::new("patch_embedding.bias", &[d]));
    let ce = "condition_embedder";
    linear(
        &mut v,
        &format!("{ce}.time_embedder.linear_1"),
        d,
        t.freq_dim,
    );
    linear(&mut v, &format!("{ce}.time_embedder.linear_2"), d, d);
    linear(&mut v, &format!("{ce}.time_proj"), 6 * d, d);
    linear(
        &mut v,
        &format!("{ce}.text_embedder.linear_1"),
        d,
        t.text_dim,
    );
    linear(&mut v, &format!("{ce}.text_embedder.linear_2"), d, d);
    if let Some(di) = t.image_dim {
        let ie = format!("{ce}.image_embedder");
        v.push(ParamTensor::new(format!("{ie}.norm1.weight"), &[di]));
        v.push(ParamTensor::new(format!("{ie}.norm1.bias"), &[di]));
        linear(&mut v, &format!("{ie}.ff.net.0.proj"), di, di);
        linear(&mut v, &format!("{ie}.ff.net.2"), d, di);
        v.push(ParamTensor::new(format!("{ie}.norm2.weight"), &[d]));
        v.push(ParamTensor::new(format!("{ie}.norm2.bias"), &[d]));
    }
    for b in 0..t.num_layers {
        v.extend(block_tensors(t, b));
    }
    linear(&mut v, "proj_out", t.out_channels * patch, d);
    v.push(ParamTensor::new("scale_shift_table", &[1, 2, d]));
    v
}

/// One transformer block's parameter tensors.
fn block_tensors(t: &TransformerDims, b: usize) -> Vec<ParamTensor> {
    let d = t.inner_dim();
    let p = format!("blocks.{b}");
    let mut v = Vec::new();
    for attn in ["attn1", "attn2"] {
        for l in ["to_q", "to_k", "to_v", "to_out.0"] {
            linear(&mut v, &format!("{p}.{attn}.{l}"), d, d);
        }
        v.push(ParamTensor::new(format!("{p}.{attn}.norm_q.weight"), &[d]));
        v.push(ParamTensor::new(format!("{p}.{attn}.norm_k.weight"), &[d]));
    }
    if let Some(a) = t.added_kv_proj_dim {
        linear(&mut v, &format!("{p}.attn2.add_k_proj"), d, a);
        linear(&mut v, &format!("{p}.attn2.add_v_proj"), d, a);
        v.push(ParamTensor::new(
            format!("{p}.attn2.norm_added_k.weight"),
            &[d],
        ));
    }
    v.push(ParamTensor::new(format!("{p}.norm2.weight"), &[d]));
    v.push(ParamTensor::new(format!("{p}.norm2.bias"), &[d]));
    linear(&mut v, &format!("{p}.ffn.net.0.proj"), t.ffn_dim, d);
    linear(&mut v, &format!("{p}.ffn.net.2"), d, t.ffn_dim);
    v.push(ParamTensor::new(
        format!("{p}.scale_shift_table"),
        &[1, 6, d],
    ));
    v
}

/// Whether a transformer tensor is a block linear weight (the tensors GGUF/fp8 files quantize).
pub fn is_block_linear(t: &ParamTensor) -> bool {
    t.shape.len() == 2 && t.name.starts_with("blocks.") && t.name.ends_with(".weight")
}

/// Tensors the engine loads in f32 whatever the compute dtype (diffusers or original Wan names:
/// `scale_shift_table` = `modulation`, the affine `norm2` = `norm3`).
fn loaded_in_f32(name: &str) -> bool {
    name.ends_with("scale_shift_table")
        || name.ends_with("modulation")
        || (name.starts_with("blocks.") && (name.contains(".norm2.") || name.contains(".norm3.")))
}

/// Resident bytes of the transformer's tensors with block linear weights in `storage`.
pub fn transformer_weight_bytes(tensors: &[ParamTensor], storage: Storage, compute: DType) -> u64 {
    let c = dtype_bytes(compute);
    tensors
        .iter()
        .map(|t| {
            if is_block_linear(t) {
                storage.linear_bytes(&t.name, t.shape[0] as u64, t.shape[1] as u64, c)
            } else if loaded_in_f32(&t.name) {
                t.numel() * 4
            } else {
                t.numel() * c
            }
        })
        .sum()
}

/// Scratch for expanding one packed weight as it is used: the largest block linear weight in the
/// compute dtype (fp8) or f32 (GGUF, candle's dequantize-then-matmul path); 0 for dense storage.
fn dequant_scratch(tensors: &[ParamTensor], storage: Storage, compute: DType) -> u64 {
    if !storage.is_packed() {
        return 0;
    }
    let per = if storage == Storage::Fp8 {
        dtype_bytes(compute)
    } else {
        4
    };
    tensors
        .iter()
        .filter(|t| is_block_linear(t))
        .map(|t| t.numel() * per)
        .max()
        .unwrap_or(0)
}

/// umT5 encoder parameters (gated-GELU FFN, per-layer relative attention bias, untied embedding).
pub fn text_encoder_params(m: &ModelDims, vocab: usize, buckets: usize) -> u64 {
    let t = &m.text_encoder;
    let (d, inner, ff) = (
        t.d_model as u64,
        (t.num_heads * t.d_kv) as u64,
        t.d_ff as u64,
    );
    let layer = 4 * d * inner + 3 * d * ff + 2 * d + (buckets * t.num_heads) as u64;
    vocab as u64 * d + t.num_layers as u64 * layer + d
}

/// CLIP vision tower parameters (all layers, pre- and post-layernorm, no projection).
pub fn image_encoder_params(m: &ModelDims) -> u64 {
    let c = &m.image_encoder;
    let d = c.hidden_size as u64;
    let g = (c.image_size / c.patch_size.max(1)) as u64;
    let embed = 3 * (c.patch_size * c.patch_size) as u64 * d + d + (g * g + 1) * d;
    let layer = 4 * (d * d + d)
        + 2 * d * c.intermediate_size as u64
        + c.intermediate_size as u64
        + d
        + 4 * d;
    embed + 2 * d + c.num_hidden_layers as u64 * layer + 2 * d
}

/// How the encoders are stored, for the built-in ChronoEdit-14B sizes (a model folder or an encoder
/// file is priced from its headers instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderStorage {
    F32,
    F16,
    Bf16,
    /// ComfyUI's scaled fp8: linear weights float8 e4m3 with an f32 scale each, the rest 16-bit.
    Fp8,
}

impl EncoderStorage {
    pub const NAMED: [EncoderStorage; 4] = [Self::F32, Self::F16, Self::Bf16, Self::Fp8];

    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
            Self::Fp8 => "fp8",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        let want = s.trim().to_ascii_lowercase();
        Self::NAMED
            .into_iter()
            .find(|k| k.name() == want)
            .ok_or_else(|| {
                anyhow::anyhow!("unknown encoder storage `{s}` (expected f32, f16, bf16 or fp8)")
            })
    }

    /// The safetensors dtype of a linear weight / of every other tensor in this form.
    fn dtypes(self) -> (&'static str, &'static str) {
        match self {
            Self::F32 => ("F32", "F32"),
            Self::F16 => ("F16", "F16"),
            Self::Bf16 => ("BF16", "BF16"),
            Self::Fp8 => ("F8_E4M3", "BF16"),
        }
    }
}

/// A tensor as a file stores it: name, shape and safetensors dtype (`F32`, `BF16`, `F8_E4M3`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTensor {
    pub tensor: ParamTensor,
    pub dtype: String,
}

/// Which of an encoder's tensors stay at their stored precision (the models' own rules).
#[derive(Debug, Clone, Copy)]
pub struct KeptStored {
    pub linear: fn(&str) -> bool,
    pub table: fn(&str) -> bool,
}

fn never(_: &str) -> bool {
    false
}

/// umT5: its linear weights and its token embedding.
pub const UMT5_KEPT: KeptStored = KeptStored {
    linear: crate::models::umt5::is_linear_weight,
    table: crate::models::umt5::is_embedding,
};
/// CLIP vision: its encoder layers' linear weights.
pub const CLIP_KEPT: KeptStored = KeptStored {
    linear: crate::models::clip_vision::is_linear_weight,
    table: never,
};

fn stored_elem_bytes(dtype: &str) -> Option<u64> {
    match dtype {
        "F32" => Some(4),
        "F16" | "BF16" => Some(2),
        "F8_E4M3" => Some(1),
        _ => None,
    }
}

/// Bytes an encoder occupies in memory as the engine loads it: linear weights at their stored
/// bytes (fp8: one byte per weight and its f32 scale), a table stored f32/f16/bf16 at its stored
/// bytes, everything else (and an fp8 table) widened to f32; fp8 scales and markers are no weights.
pub fn encoder_bytes(tensors: &[StoredTensor], kept: KeptStored) -> u64 {
    tensors
        .iter()
        .map(|st| {
            let (t, name) = (&st.tensor, st.tensor.name.as_str());
            if name.ends_with("scale_weight")
                || name.ends_with("scale_input")
                || name.ends_with("scaled_fp8")
            {
                return 0;
            }
            let n = t.numel();
            let two_d = t.shape.len() == 2;
            match stored_elem_bytes(&st.dtype) {
                Some(1) if two_d && (kept.linear)(name) => n + 4,
                Some(b) if b > 1 && two_d && ((kept.linear)(name) || (kept.table)(name)) => n * b,
                _ => n * 4,
            }
        })
        .sum()
}

/// Bytes one use of an encoder's largest narrow linear weight allocates while it is widened: its
/// f32 copy, and for fp8 also the f32 product with its scale (0 when every weight is f32).
pub fn widening_bytes(tensors: &[StoredTensor], kept: KeptStored) -> u64 {
    tensors
        .iter()
        .filter(|st| {
            st.dtype != "F32" && st.tensor.shape.len() == 2 && (kept.linear)(&st.tensor.name)
        })
        .map(|st| {
            let copies = if st.dtype.starts_with("F8") { 2 } else { 1 };
            copies * 4 * st.tensor.numel()
        })
        .max()
        .unwrap_or(0)
}

/// `tensors` as an encoder file of `storage` would store them.
pub fn stored_as(
    tensors: Vec<ParamTensor>,
    kept: KeptStored,
    storage: EncoderStorage,
) -> Vec<StoredTensor> {
    let (lin, other) = storage.dtypes();
    tensors
        .into_iter()
        .map(|t| StoredTensor {
            dtype: if (kept.linear)(&t.name) { lin } else { other }.to_string(),
            tensor: t,
        })
        .collect()
}

/// umT5's tensors (transformers' names) for the dimensions `m` (sums to [`text_encoder_params`]).
pub fn text_encoder_tensors(m: &ModelDims, vocab: usize, buckets: usize) -> Vec<ParamTensor> {
    let t = &m.text_encoder;
    let (d, inner, ff) = (t.d_model, t.num_heads * t.d_kv, t.d_ff);
    let mut v = vec![ParamTensor::new("shared.weight", &[vocab, d])];
    for i in 0..t.num_layers {
        let a = format!("encoder.block.{i}.layer.0.SelfAttention");
        for (n, shape) in [
            ("q", [inner, d]),
            ("k", [inner, d]),
            ("v", [inner, d]),
            ("o", [d, inner]),
        ] {
            v.push(ParamTensor::new(format!("{a}.{n}.weight"), &shape));
        }
        v.push(ParamTensor::new(
            format!("{a}.relative_attention_bias.weight"),
            &[buckets, t.num_heads],
        ));
        let f = format!("encoder.block.{i}.layer.1.DenseReluDense");
        for (n, shape) in [("wi_0", [ff, d]), ("wi_1", [ff, d]), ("wo", [d, ff])] {
            v.push(ParamTensor::new(format!("{f}.{n}.weight"), &shape));
        }
        for l in 0..2 {
            v.push(ParamTensor::new(
                format!("encoder.block.{i}.layer.{l}.layer_norm.weight"),
                &[d],
            ));
        }
    }
    v.push(ParamTensor::new("encoder.final_layer_norm.weight", &[d]));
    v
}

/// The CLIP vision tower's tensors (transformers' names) for `m` (sums to [`image_encoder_params`]).
pub fn image_encoder_tensors(m: &ModelDims) -> Vec<ParamTensor> {
    let c = &m.image_encoder;
    let (d, i, p) = (c.hidden_size, c.intermediate_size, c.patch_size);
    let g = c.image_size / p.max(1);
    let mut v = vec![
        ParamTensor::new("embeddings.class_embedding", &[d]),
        ParamTensor::new("embeddings.patch_embedding.weight", &[d, 3, p, p]),
        ParamTensor::new("embeddings.position_embedding.weight", &[g * g + 1, d]),
    ];
    for n in ["pre_layrnorm", "post_layernorm"] {
        v.push(ParamTensor::new(format!("{n}.weight"), &[d]));
        v.push(ParamTensor::new(format!("{n}.bias"), &[d]));
    }
    for l in 0..c.num_hidden_layers {
        let pre = format!("encoder.layers.{l}");
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            linear(&mut v, &format!("{pre}.self_attn.{n}"), d, d);
        }
        linear(&mut v, &format!("{pre}.mlp.fc1"), i, d);
        linear(&mut v, &format!("{pre}.mlp.fc2"), d, i);
        for n in ["layer_norm1", "layer_norm2"] {
            v.push(ParamTensor::new(format!("{pre}.{n}.weight"), &[d]));
            v.push(ParamTensor::new(format!("{pre}.{n}.bias"), &[d]));
        }
    }
    v
}

/// Parameters of diffusers' default `AutoencoderKLWan()` (Wan 2.1 VAE), as diffusers counts them
/// (tests/fixtures/memory/param_counts.json).
pub const WAN_VAE_PARAMS: u64 = 126_892_531;
/// umT5-XXL's vocabulary and relative-attention buckets.
const UMT5_VOCAB: usize = 256_384;
const UMT5_BUCKETS: usize = 32;

/// Elements of every tensor in a component folder's safetensors files (headers only).
pub fn folder_params(dir: &Path) -> Result<u64> {
    let mut n = 0u64;
    for f in super::weight_files(dir)? {
        for t in safetensors_shapes(&f)? {
            n += t.numel();
        }
    }
    Ok(n)
}

/// Names and shapes of a safetensors file's tensors, from its header.
pub fn safetensors_shapes(path: &Path) -> Result<Vec<ParamTensor>> {
    Ok(safetensors_tensors(path)?
        .into_iter()
        .map(|t| t.tensor)
        .collect())
}

/// Names, shapes and dtypes of a safetensors file's tensors, from its header.
pub fn safetensors_tensors(path: &Path) -> Result<Vec<StoredTensor>> {
    let (obj, _) = super::safetensors_header(path)?;
    let mut out = Vec::new();
    for (name, info) in obj.iter().filter(|(k, _)| *k != "__metadata__") {
        let shape = info
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|s| s.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
            .with_context(|| format!("{}: tensor `{name}` has no valid shape", path.display()))?;
        let dtype = info
            .get("dtype")
            .and_then(|d| d.as_str())
            .with_context(|| format!("{}: tensor `{name}` has no dtype", path.display()))?;
        out.push(StoredTensor {
            tensor: ParamTensor {
                name: name.clone(),
                shape,
            },
            dtype: dtype.to_string(),
        });
    }
    Ok(out)
}

/// Every tensor of a component folder's safetensors files (headers only).
pub fn folder_tensors(dir: &Path) -> Result<Vec<StoredTensor>> {
    let mut v = Vec::new();
    for f in super::weight_files(dir)? {
        v.extend(safetensors_tensors(&f)?);
    }
    Ok(v)
}

/// Where the numbers of a plan come from: the model's dimensions and its components' sizes.
#[derive(Debug, Clone)]
pub struct ModelSizes {
    pub dims: ModelDims,
    pub transformer: Vec<ParamTensor>,
    /// The encoders' tensors as stored (priced by [`encoder_bytes`]).
    pub text_encoder: Vec<StoredTensor>,
    pub image_encoder: Vec<StoredTensor>,
    pub vae_params: u64,
}

impl ModelSizes {
    /// ChronoEdit-14B, from its configs, with the text encoder in bf16 (as diffusers' ChronoEdit
    /// repository stores it) and the image encoder in f32.
    pub fn chronoedit_14b() -> Self {
        Self::chronoedit_14b_with(EncoderStorage::Bf16, EncoderStorage::F32)
    }

    /// ChronoEdit-14B with its encoders stored as given.
    pub fn chronoedit_14b_with(text: EncoderStorage, image: EncoderStorage) -> Self {
        let dims = ModelDims::chronoedit_14b();
        Self {
            transformer: transformer_tensors(&dims.transformer),
            text_encoder: stored_as(
                text_encoder_tensors(&dims, UMT5_VOCAB, UMT5_BUCKETS),
                UMT5_KEPT,
                text,
            ),
            image_encoder: stored_as(image_encoder_tensors(&dims), CLIP_KEPT, image),
            vae_params: WAN_VAE_PARAMS,
            dims,
        }
    }

    /// The text encoder priced from a file's header instead.
    pub fn set_text_encoder_file(&mut self, path: &Path) -> Result<()> {
        self.text_encoder = safetensors_tensors(path)?;
        Ok(())
    }

    /// The image encoder priced from a file's header instead.
    pub fn set_image_encoder_file(&mut self, path: &Path) -> Result<()> {
        self.image_encoder = safetensors_tensors(path)?;
        Ok(())
    }

    /// The text encoder's bytes in memory.
    pub fn text_encoder_bytes(&self) -> u64 {
        encoder_bytes(&self.text_encoder, UMT5_KEPT)
    }

    /// The image encoder's bytes in memory.
    pub fn image_encoder_bytes(&self) -> u64 {
        encoder_bytes(&self.image_encoder, CLIP_KEPT)
    }

    /// What widening the encoders' largest narrow linear weight allocates ([`widening_bytes`]).
    fn widening_scratch(&self) -> u64 {
        widening_bytes(&self.text_encoder, UMT5_KEPT)
            .max(widening_bytes(&self.image_encoder, CLIP_KEPT))
    }

    /// A diffusers folder: configs for the dimensions, safetensors headers for the sizes.
    pub fn from_model_dir(dir: &Path) -> Result<Self> {
        let folder = super::PipelineFolder::open(dir)?;
        let dims = ModelDims::from_model_dir(dir)?;
        let mut transformer = Vec::new();
        for f in super::weight_files(&folder.component("transformer")?)? {
            transformer.extend(safetensors_shapes(&f)?);
        }
        Ok(Self {
            transformer,
            text_encoder: folder_tensors(&folder.component("text_encoder")?)?,
            image_encoder: folder_tensors(&folder.component("image_encoder")?)?,
            vae_params: folder_params(&folder.component("vae")?)?,
            dims,
        })
    }
}

/// Where the edit runs (the kernels differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The CPU: fused attention kernel, window convolutions; the encoders stay loaded.
    Cpu,
    /// A CUDA GPU with flash attention (bf16/f16 builds with `flash-attn`).
    CudaFlash,
    /// A CUDA GPU with the query-chunked attention kernel.
    CudaChunked,
}

impl Target {
    fn is_cpu(self) -> bool {
        self == Target::Cpu
    }
}

/// What an edit is planned for.
#[derive(Debug, Clone, Serialize)]
pub struct PlanInput {
    pub height: usize,
    pub width: usize,
    /// Latent frames while reasoning (input + reasoning frames + output); 2 without reasoning.
    pub reasoning_latent_frames: usize,
    pub cfg: bool,
    pub compute: String,
    pub storage: Storage,
    pub offload: bool,
    pub target: Target,
    /// Text tokens of the cross-attention context (512 at most; fewer after the padding
    /// collapse: the prompt's tokens + 1).
    pub text_tokens: usize,
}

/// One phase's predicted peak.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: String,
    /// Weights on the device during the phase.
    pub weights: u64,
    /// Activations, caches and workspace at the phase's peak.
    pub work: u64,
    pub peak: u64,
    pub detail: String,
}

/// The prediction for one edit.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPlan {
    pub input: PlanInput,
    pub transformer_weights: u64,
    pub text_encoder_weights: u64,
    pub image_encoder_weights: u64,
    pub vae_weights: u64,
    pub phases: Vec<Phase>,
    pub peak: u64,
}

fn compute_dtype(name: &str) -> Result<DType> {
    super::parse_dtype(name)
}

/// Peak bytes of one transformer block's forward above its input (see the module docs), and the
/// attention kernel's name.
pub fn block_activation_bytes(
    t: &TransformerDims,
    batch: usize,
    tokens: usize,
    compute: DType,
    target: Target,
) -> (u64, &'static str) {
    let s = dtype_bytes(compute) as f64;
    let e = if compute == DType::F32 { 0.0 } else { 4.0 };
    let d = t.inner_dim() as f64;
    let (b, n) = (batch as f64, tokens as f64);
    let u = b * n * d;
    let f = b * n * t.ffn_dim as f64;
    let heads = (batch * t.num_attention_heads) as f64;
    // candle's CPU matmul has no bf16 kernel: it widens both operands to f32, multiplies and
    // narrows the f32 product back; the peak is then inside ffn.net.2's product (its input and
    // weight widened) instead of at its bias add.
    let widen = target.is_cpu() && compute == DType::BF16;
    let ffn = if widen {
        let weight = d * t.ffn_dim as f64;
        (8.0 * s + 2.0 * e) * u + 2.0 * s * f + 4.0 * f + 4.0 * weight + 4.0 * u + s * u
    } else {
        (10.0 * s + 2.0 * e) * u + 2.0 * s * f
    };
    let attn_out = if widen {
        (10.0 * s + e) * u + 8.0 * u + 4.0 * d * d + s * u
    } else {
        (12.0 * s + e) * u
    };
    // During the kernel: block input, norm output, q/k/v and their rotated / split copies.
    let before = (8.0 * s + e) * u;
    let (kernel, ws) = match (target, compute) {
        (Target::Cpu, DType::F32) => ("fused", 4.0 * u),
        (Target::Cpu, _) => ("fused", 16.0 * u + s * u),
        (Target::CudaFlash, DType::BF16 | DType::F16) => ("flash", s * u),
        _ => {
            let scores = (heads * n * n * 4.0).min(SCORE_BUDGET_BYTES.max(heads * n * 4.0));
            ("chunked", e * u + 8.0 * u + 2.0 * scores + 2.0 * s * u)
        }
    };
    let peak = ffn.max(attn_out).max(before + ws);
    (peak.ceil() as u64, kernel)
}

/// Cross-attention keys and values of every layer, kept for the edit: text (`text_tokens`) and
/// image tokens, batch `batch`, in the compute dtype.
pub fn context_cache_bytes(
    t: &TransformerDims,
    batch: usize,
    text: usize,
    image: usize,
    compute: DType,
) -> u64 {
    let img = if t.added_kv_proj_dim.is_some() {
        image
    } else {
        0
    };
    (t.num_layers * batch * (text + img) * 2 * t.inner_dim()) as u64 * dtype_bytes(compute)
}

/// One level of a VAE pass: frames per chunk, spatial size, channels in and out of its residual
/// blocks.
#[derive(Debug, Clone, Copy)]
struct Level {
    frames: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
}

/// Peak bytes of a residual block's second convolution (the larger of its two) at `l`, f32 maps.
fn resblock_peak(l: &Level, target: Target) -> f64 {
    let (t, h, w) = (l.frames as f64, l.h as f64, l.w as f64);
    let map = |c: usize| t * h * w * c as f64 * 4.0;
    let (i, o) = (map(l.cin), map(l.cout));
    let padded = (t + 2.0) * (h + 2.0) * (w + 2.0) * l.cout as f64 * 4.0;
    let shortcut = if l.cin != l.cout { o } else { 0.0 };
    let cache_in = o * (2.0f64.min(t) / t);
    // Block input, shortcut, first SiLU, first conv's output, second SiLU; the padded input and
    // its copy; the products: window sums (CPU: accumulator, product, sum) or gather blocks (GPU).
    let held = 2.0 * i + shortcut + 2.0 * o + cache_in + 2.0 * padded;
    let out = if target.is_cpu() {
        3.0 * o
    } else {
        2.0 * o + GATHER_BLOCK_ELEMS * 4.0
    };
    held + out
}

/// Bytes of the causal feature cache: two frames of each cached convolution's input.
fn cache_bytes(levels: &[Level], convs_per_level: usize) -> f64 {
    levels
        .iter()
        .map(|l| {
            let first = 2.0 * (l.h * l.w * l.cin) as f64 * 4.0;
            let rest = 2.0 * (l.h * l.w * l.cout) as f64 * 4.0;
            first + (2 * convs_per_level - 1) as f64 * rest
        })
        .sum()
}

/// The decoder's levels for chunks after the first (4 video frames per latent frame).
fn decoder_levels(m: &ModelDims, height: usize, width: usize) -> Vec<Level> {
    let v = &m.vae;
    let n = v.dim_mult.len();
    let scale = 1usize << (n - 1);
    let dims: Vec<usize> = std::iter::once(v.dim_mult[n - 1])
        .chain(v.dim_mult.iter().rev().copied())
        .map(|u| v.base_dim * u)
        .collect();
    let tup: Vec<bool> = v.temperal_downsample.iter().rev().copied().collect();
    let (mut h, mut w, mut t) = (height / scale, width / scale, 1usize);
    let mut out = vec![Level {
        frames: t,
        h,
        w,
        cin: dims[0],
        cout: dims[0],
    }];
    for i in 0..n {
        let cin = if i > 0 { dims[i] / 2 } else { dims[i] };
        out.push(Level {
            frames: t,
            h,
            w,
            cin,
            cout: dims[i + 1],
        });
        if i + 1 < n {
            if tup.get(i).copied().unwrap_or(false) {
                t *= 2;
            }
            h *= 2;
            w *= 2;
        }
    }
    out
}

/// The encoder's levels for a 4-frame chunk.
fn encoder_levels(m: &ModelDims, height: usize, width: usize) -> Vec<Level> {
    let v = &m.vae;
    let mut dims = vec![v.base_dim];
    dims.extend(v.dim_mult.iter().map(|u| v.base_dim * u));
    let (mut h, mut w, mut t) = (height, width, 4usize);
    let mut out = Vec::new();
    for i in 0..v.dim_mult.len() {
        out.push(Level {
            frames: t,
            h,
            w,
            cin: dims[i],
            cout: dims[i + 1],
        });
        if i + 1 < v.dim_mult.len() {
            h /= 2;
            w /= 2;
            if v.temperal_downsample.get(i).copied().unwrap_or(false) {
                t = (t - 1) / 2 + 1;
            }
        }
    }
    out
}

/// Peak bytes of a VAE decode above its weights: the largest residual block's peak plus the
/// feature cache, plus the decoded frames (kept, then concatenated).
pub fn vae_decode_bytes(
    m: &ModelDims,
    frames: usize,
    height: usize,
    width: usize,
    target: Target,
) -> u64 {
    let levels = decoder_levels(m, height, width);
    let r = m.vae.num_res_blocks + 1;
    let peak = levels
        .iter()
        .map(|l| resblock_peak(l, target))
        .fold(0.0, f64::max);
    let video = 2.0 * (frames * 3 * height * width) as f64 * 4.0;
    // The output convolution's slot: two full-size frames of the last level's channels.
    let conv_out = 2.0 * (height * width * m.vae.base_dim) as f64 * 4.0;
    (peak + cache_bytes(&levels, r) + conv_out + video) as u64
}

/// Peak bytes of a VAE encode of a `frames`-frame video above its weights.
pub fn vae_encode_bytes(
    m: &ModelDims,
    frames: usize,
    height: usize,
    width: usize,
    target: Target,
) -> u64 {
    let levels = encoder_levels(m, height, width);
    let peak = levels
        .iter()
        .map(|l| resblock_peak(l, target))
        .fold(0.0, f64::max);
    let video = 2.0 * (frames * 3 * height * width) as f64 * 4.0;
    (peak + cache_bytes(&levels, m.vae.num_res_blocks) + video) as u64
}

/// Encoder activations (text at its padded length, image tokens), f32, a few layer-sized tensors.
fn encoder_work(m: &ModelDims) -> u64 {
    text_encoder_work(m) + image_encoder_work(m)
}

/// The text encoder's activations at its padded length: eight f32 rows of the wider of d_model and
/// d_ff, and two f32 score tensors.
pub fn text_encoder_work(m: &ModelDims) -> u64 {
    let t = &m.text_encoder;
    let text = t.max_sequence_length as u64 * (t.d_model.max(t.d_ff) as u64) * 4 * 8;
    let text_attn = (t.num_heads * t.max_sequence_length * t.max_sequence_length) as u64 * 4 * 2;
    text + text_attn
}

/// The image encoder's activations: eight f32 rows of the wider of hidden and intermediate per token.
fn image_encoder_work(m: &ModelDims) -> u64 {
    let c = &m.image_encoder;
    let g = (c.image_size / c.patch_size.max(1)) as u64;
    (g * g + 1) * c.intermediate_size.max(c.hidden_size) as u64 * 4 * 8
}

/// Predicts an edit's peak device memory, phase by phase.
pub fn plan(sizes: &ModelSizes, input: &PlanInput) -> Result<MemoryPlan> {
    let compute = compute_dtype(&input.compute)?;
    let m = &sizes.dims;
    let t = &m.transformer;
    let storage = input.storage;
    let tw = transformer_weight_bytes(&sizes.transformer, storage, compute);
    let (te, ie, vw) = (
        sizes.text_encoder_bytes(),
        sizes.image_encoder_bytes(),
        sizes.vae_params * 4,
    );
    let batch = if input.cfg { 2 } else { 1 };
    let tpf = tokens_per_frame(m, input.height, input.width);
    let (image_tokens, _) = m.context_tokens();
    let image_tokens = if t.image_dim.is_some() || t.added_kv_proj_dim.is_some() {
        image_tokens
    } else {
        0
    };
    let resident_tv = if input.offload { 0 } else { tw + vw };
    let mut phases = Vec::new();

    // Load and encoders: both encoders are put on the device at load.
    let enc_weights = te + ie + resident_tv;
    // A linear weight stored narrower than f32 is widened as it is used.
    let widen = sizes.widening_scratch();
    phases.push(Phase {
        name: "encoders".into(),
        weights: enc_weights,
        work: encoder_work(m) + widen,
        peak: enc_weights + encoder_work(m) + widen,
        detail: format!(
            "text encoder {} + image encoder {} (as stored){}",
            gb(te),
            gb(ie),
            if input.offload {
                String::new()
            } else {
                format!(" + transformer {} + VAE {} loaded", gb(tw), gb(vw))
            }
        ),
    });
    let kept_encoders = if input.target.is_cpu() { te + ie } else { 0 };
    let num_frames = 4 * (input.reasoning_latent_frames - 1) + 1;
    let vae_enc = vae_encode_bytes(m, num_frames, input.height, input.width, input.target);
    phases.push(Phase {
        name: "VAE encode".into(),
        weights: kept_encoders + resident_tv.max(vw),
        work: vae_enc,
        peak: kept_encoders + resident_tv.max(vw) + vae_enc,
        detail: format!("{num_frames} frames at {}x{}", input.height, input.width),
    });

    let mut frames = vec![input.reasoning_latent_frames];
    if input.reasoning_latent_frames > 2 {
        frames.push(2);
    }
    let scratch = dequant_scratch(&sizes.transformer, storage, compute);
    for f in frames {
        let n = f * tpf;
        let (act, kernel) = block_activation_bytes(t, batch, n, compute, input.target);
        let ctx = context_cache_bytes(t, batch, input.text_tokens, image_tokens, compute);
        let rope = (2 * n * t.attention_head_dim * 4) as u64;
        let w = kept_encoders + tw + if input.offload { 0 } else { vw };
        let work = act + ctx + rope + scratch;
        phases.push(Phase {
            name: if f > 2 {
                format!("transformer, {} reasoning frames", f - 2)
            } else {
                "transformer, no reasoning".into()
            },
            weights: w,
            work,
            peak: w + work,
            detail: format!(
                "{n} tokens x batch {batch}: block {} ({kernel} attention) + context K/V {}{}",
                gb(act),
                gb(ctx),
                if scratch > 0 {
                    format!(" + dequantization scratch {}", gb(scratch))
                } else {
                    String::new()
                }
            ),
        });
    }

    let decode = vae_decode_bytes(m, num_frames, input.height, input.width, input.target);
    let w = kept_encoders + vw + if input.offload { 0 } else { tw };
    phases.push(Phase {
        name: "VAE decode".into(),
        weights: w,
        work: decode,
        peak: w + decode,
        detail: format!(
            "one latent frame at a time, {}x{}",
            input.height, input.width
        ),
    });
    let peak = phases.iter().map(|p| p.peak).max().unwrap_or(0);
    Ok(MemoryPlan {
        input: input.clone(),
        transformer_weights: tw,
        text_encoder_weights: te,
        image_encoder_weights: ie,
        vae_weights: vw,
        phases,
        peak,
    })
}

/// Bytes in decimal GB with one decimal for tables (MB below 1 GB).
pub fn gb(bytes: u64) -> String {
    if bytes < 1_000_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} GB", bytes as f64 / 1e9)
    }
}

/// Latent tokens per latent frame: the VAE's spatial scale (2 per level after the first), then the
/// patch size.
pub fn tokens_per_frame(m: &ModelDims, height: usize, width: usize) -> usize {
    let scale = 1usize << m.vae.dim_mult.len().saturating_sub(1);
    let p = &m.transformer.patch_size;
    (height / scale / p[1].max(1)) * (width / scale / p[2].max(1))
}

/// Common cards: (label, memory in bytes). A card sold as "N GB" reports N GiB to the driver
/// (an RTX 4090 24 564 MiB, an H100 81 559 MiB); the H200's "141 GB" is 143 771 MiB, taken as 140 GiB.
pub const CARDS: [(&str, u64); 6] = [
    ("16 GB", 16 << 30),
    ("24 GB", 24 << 30),
    ("32 GB", 32 << 30),
    ("48 GB", 48 << 30),
    ("80 GB", 80 << 30),
    ("141 GB", 140 << 30),
];

/// Whether a plan fits `capacity` bytes (less [`CARD_RESERVE_BYTES`]).
pub fn fits(plan: &MemoryPlan, capacity: u64) -> bool {
    plan.peak + CARD_RESERVE_BYTES <= capacity
}

/// The first of the usual changes that makes `base` fit `capacity`, in the order a user would try
/// them: as is, `--offload`, a smaller storage form, both; None when none does.
pub fn advice(
    sizes: &ModelSizes,
    base: &PlanInput,
    capacity: u64,
) -> Result<Option<(String, MemoryPlan)>> {
    let mut tries: Vec<(String, PlanInput)> = vec![("as is".into(), base.clone())];
    if !base.offload {
        tries.push((
            "--offload".into(),
            PlanInput {
                offload: true,
                ..base.clone()
            },
        ));
    }
    for s in [Storage::Fp8, Storage::Q8_0, Storage::Q4KM] {
        for off in [base.offload, true] {
            let label = format!(
                "{}{}",
                storage_flag(s),
                if off && !base.offload {
                    " + --offload"
                } else {
                    ""
                }
            );
            if !tries.iter().any(|(l, _)| *l == label) {
                tries.push((
                    label,
                    PlanInput {
                        storage: s,
                        offload: off,
                        ..base.clone()
                    },
                ));
            }
        }
    }
    for (label, input) in tries {
        let p = plan(sizes, &input)?;
        if fits(&p, capacity) {
            return Ok(Some((label, p)));
        }
    }
    Ok(None)
}

/// How a user gets a storage form: the file that holds it.
pub fn storage_flag(s: Storage) -> &'static str {
    match s {
        Storage::Fp8 => "an fp8 (scaled) --transformer file",
        Storage::Q8_0 => "a GGUF Q8_0 --transformer file",
        Storage::Q4KM => "a GGUF Q4_K_M --transformer file",
        Storage::Q4K => "a GGUF Q4_K --transformer file",
        _ => "a --transformer file of that storage",
    }
}

/// A line of the card table: one storage form and reasoning setting on each card.
#[derive(Debug, Clone, Serialize)]
pub struct CardRow {
    pub storage: Storage,
    pub reasoning: bool,
    pub peak: u64,
    pub peak_offload: u64,
    /// The transformer phase's peak with `--offload` (what the transformer itself needs).
    pub transformer_offload: u64,
    /// Per card: "yes", "--offload" or "no".
    pub cells: Vec<String>,
}

/// The card table: for each storage form, with and without reasoning frames, whether each card of
/// [`CARDS`] runs it as is, only with `--offload`, or not at all.
pub fn card_table(
    sizes: &ModelSizes,
    base: &PlanInput,
    storages: &[Storage],
) -> Result<Vec<CardRow>> {
    let mut rows = Vec::new();
    let mut settings = vec![base.reasoning_latent_frames];
    if base.reasoning_latent_frames > 2 {
        settings.push(2);
    }
    for &s in storages {
        for &f in &settings {
            let input = PlanInput {
                storage: s,
                reasoning_latent_frames: f,
                offload: false,
                ..base.clone()
            };
            let p = plan(sizes, &input)?;
            let po = plan(
                sizes,
                &PlanInput {
                    offload: true,
                    ..input.clone()
                },
            )?;
            let cells = CARDS
                .iter()
                .map(|&(_, cap)| {
                    if fits(&p, cap) {
                        "yes".to_string()
                    } else if fits(&po, cap) {
                        "--offload".to_string()
                    } else {
                        "no".to_string()
                    }
                })
                .collect();
            let transformer_offload = po
                .phases
                .iter()
                .filter(|ph| ph.name.starts_with("transformer"))
                .map(|ph| ph.peak)
                .max()
                .unwrap_or(0);
            rows.push(CardRow {
                storage: s,
                reasoning: f > 2,
                peak: p.peak,
                peak_offload: po.peak,
                transformer_offload,
                cells,
            });
        }
    }
    Ok(rows)
}

/// The text `physedit memory` and `physedit edit` print for a plan.
pub fn describe(plan: &MemoryPlan) -> String {
    let mut s = String::new();
    let i = &plan.input;
    s.push_str(&format!(
        "memory plan: {}x{}, {} latent frames, {} compute, transformer {} ({}), {}{}\n",
        i.height,
        i.width,
        i.reasoning_latent_frames,
        i.compute,
        if i.storage == Storage::Dense {
            i.compute.clone()
        } else {
            i.storage.name().to_string()
        },
        gb(plan.transformer_weights),
        if i.cfg { "CFG batch 2" } else { "no CFG" },
        if i.offload { ", --offload" } else { "" }
    ));
    s.push_str(&format!(
        "{:<34} {:>10} {:>10} {:>10}  {}\n",
        "phase", "weights", "work", "peak", "what"
    ));
    for p in &plan.phases {
        s.push_str(&format!(
            "{:<34} {:>10} {:>10} {:>10}  {}\n",
            p.name,
            gb(p.weights),
            gb(p.work),
            gb(p.peak),
            p.detail
        ));
    }
    s.push_str(&format!("predicted peak: {}\n", gb(plan.peak)));
    s
}
