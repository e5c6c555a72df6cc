//! Scaled-dot-product attention.
//!
//! Three implementations of `softmax(q·kᵀ·scale + key_bias)·v`, all computing scores and softmax in
//! f32 whatever the input dtype and returning the result in `q`'s dtype:
//!
//! - [`scaled_dot_product_attention`] is a fused, tiled, multi-threaded CPU kernel in the style of
//!   flash attention: for every (batch, head, query block) it walks the keys block by block, keeps a
//!   running row maximum and row sum (online softmax) and accumulates `P·V` into the output block, so
//!   the full `Sq x Sk` score matrix is never materialised. Query blocks run in parallel on the rayon
//!   pool; the two per-block products (`Q·Kᵀ` and `P·V`) go through the `gemm` crate (the same SIMD
//!   matrix kernels candle's CPU backend uses, selected at run time for the host CPU).
//! - [`chunked_attention`] is built from plain candle ops and so runs on every device: the
//!   `(B·H, Sq)` query grid is cut into blocks ([`ChunkPlan`]) so that at most a bounded block of
//!   scores (chosen from a byte budget) is materialised at a time. It is what non-CPU devices use: it
//!   has no fused softmax-times-V, so it is slower than a flash kernel would be, but its scratch
//!   memory does not grow with the token count (for the 14B model at 480x832, 12 480 tokens, 40
//!   heads and a CFG batch of two, the full f32 score matrix would be ~50 GB).
//! - [`naive_attention`] is the plain candle formulation (materialised scores) and serves as the
//!   correctness reference, and as the differentiable path on the CPU.
//!
//! - [`flash_attention`] (builds with the `flash-attn` feature only) runs candle-flash-attn's
//!   FlashAttention-2 kernels: CUDA, bf16/f16, no key bias, no gradient, head dimension a multiple
//!   of 8 up to 512 ([`flash_supports`]). The transformer's self-attention meets these conditions
//!   in bf16/f16 on a GPU; its cross-attention with a collapsed text padding (a key bias) does not.
//!
//! [`attention`] picks one per call ([`resolve_kernel`]): by default fused on the CPU, flash
//! attention on CUDA where [`flash_supports`] the call, chunked elsewhere, naive on the CPU when a
//! gradient graph is tracked (the fused kernel has no backward).
//! The choice can be forced for the whole process with the environment variable
//! `PHYSEDIT_ATTENTION=auto|fused|flash|chunked|naive` ([`ATTENTION_ENV`], read once, on first use), or
//! for the calls made on one thread with [`with_attention_config`] (which also sets the chunked
//! path's score budget; tests use it, so they never touch the process environment).
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

use half::slice::HalfFloatSliceExt;

use candle_core::{CpuStorage, DType, Device, Layout, Result, Storage, Tensor};
use rayon::prelude::*;

/// Query rows per parallel work item (at most; see [`query_block`]). Larger blocks amortise the
/// packing of each key/value block inside the matrix products; 256 x 512 f32 scores (512 KiB) still
/// sit in a typical L2 cache. Chosen by timing 32..256 x 256..2048 with `bench_attention --tune`.
const BLOCK_Q: usize = 256;
/// Smallest query block used when splitting for parallelism.
const MIN_BLOCK_Q: usize = 16;
/// Key rows per online-softmax step.
const BLOCK_K: usize = 512;

/// Query block size: [`BLOCK_Q`], reduced when that would leave fewer than four work items per
/// rayon thread.
fn query_block(heads: usize, sq: usize) -> usize {
    let min_items = 4 * rayon::current_num_threads();
    let per_head = min_items.div_ceil(heads.max(1));
    sq.div_ceil(per_head).clamp(MIN_BLOCK_Q, BLOCK_Q)
}

/// The environment variable that forces the attention implementation for the whole process:
/// `auto` (the default), `fused`, `flash`, `chunked` or `naive`, case-insensitive. It is read once, on the
/// first attention call that consults it; an unknown value makes every such call fail with an error
/// naming the variable.
pub const ATTENTION_ENV: &str = "PHYSEDIT_ATTENTION";

/// Default score budget of [`chunked_attention`]: 1 GiB of f32 scores per block. For the 14B model
/// at 480x832 (12 480 keys, 40 heads, batch 2) that is blocks of 268 queries over all heads, 47
/// blocks per self-attention call; the transient memory (at most two such blocks alive at once,
/// plus f32 copies of K and V) is small next to the model's weights.
pub const DEFAULT_SCORE_BUDGET_BYTES: usize = 1 << 30;

/// Which attention implementation to run (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttentionKernel {
    /// Fused on the CPU, flash where [`flash_supports`] the call, chunked on other devices, naive
    /// on the CPU when gradients are tracked.
    #[default]
    Auto,
    /// The fused CPU kernel; where it cannot run (other devices, gradient tracking) as `Auto`.
    Fused,
    /// Flash attention (CUDA, bf16/f16, `flash-attn` builds); where it cannot run (a build without
    /// the feature, the CPU, f32, a key bias, gradient tracking) as `Auto`.
    Flash,
    /// Query-chunked attention with a bounded score block, on every device.
    Chunked,
    /// Materialised scores (the reference formulation), on every device.
    Naive,
}

impl AttentionKernel {
    /// Parses `auto`, `fused`, `flash`, `chunked` or `naive` (case-insensitive, surrounding blanks
    /// ignored).
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "fused" => Ok(Self::Fused),
            "flash" => Ok(Self::Flash),
            "chunked" => Ok(Self::Chunked),
            "naive" => Ok(Self::Naive),
            other => Err(format!(
                "unknown attention kernel {other:?} (expected auto, fused, flash, chunked or naive)"
            )),
        }
    }

    /// The kernel's name as [`AttentionKernel::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Fused => "fused",
            Self::Flash => "flash",
            Self::Chunked => "chunked",
            Self::Naive => "naive",
        }
    }

    /// The kernel an [`ATTENTION_ENV`] value asks for: unset or empty means `Auto`. The error
    /// names the variable.
    pub fn from_env_value(value: Option<&str>) -> std::result::Result<Self, String> {
        match value {
            None => Ok(Self::Auto),
            Some(v) if v.trim().is_empty() => Ok(Self::Auto),
            Some(v) => Self::parse(v).map_err(|e| format!("{ATTENTION_ENV}={v}: {e}")),
        }
    }

    /// The kernel [`ATTENTION_ENV`] asks for, read from the environment once per process.
    pub fn from_env() -> Result<Self> {
        static FROM_ENV: OnceLock<std::result::Result<AttentionKernel, String>> = OnceLock::new();
        FROM_ENV
            .get_or_init(|| {
                let value = std::env::var_os(ATTENTION_ENV);
                match value.as_ref().map(|v| v.to_str()) {
                    None => Ok(AttentionKernel::Auto),
                    Some(None) => Err(format!("{ATTENTION_ENV}: value is not valid UTF-8")),
                    Some(Some(v)) => AttentionKernel::from_env_value(Some(v)),
                }
            })
            .clone()
            .map_err(candle_core::Error::Msg)
    }
}

/// The kernel choice and the chunked path's score budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionConfig {
    pub kernel: AttentionKernel,
    /// Bytes of f32 scores the chunked path materialises per block (see [`ChunkPlan`]).
    pub score_budget_bytes: usize,
}

impl Default for AttentionConfig {
    fn default() -> Self {
        Self {
            kernel: AttentionKernel::Auto,
            score_budget_bytes: DEFAULT_SCORE_BUDGET_BYTES,
        }
    }
}

thread_local! {
    /// Per-thread override set by [`with_attention_config`].
    static OVERRIDE: Cell<Option<AttentionConfig>> = const { Cell::new(None) };
}

impl AttentionConfig {
    /// The configuration in force on this thread: the innermost [`with_attention_config`] if any,
    /// otherwise the kernel of [`ATTENTION_ENV`] with the default budget.
    pub fn current() -> Result<Self> {
        if let Some(cfg) = OVERRIDE.with(Cell::get) {
            return Ok(cfg);
        }
        Ok(Self {
            kernel: AttentionKernel::from_env()?,
            ..Self::default()
        })
    }
}

/// Runs `f` with `cfg` as [`AttentionConfig::current`] for the attention calls made on this thread
/// (calls the model makes on other threads are not affected); the previous setting is restored
/// afterwards, also when `f` panics. Takes precedence over [`ATTENTION_ENV`].
pub fn with_attention_config<R>(cfg: AttentionConfig, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<AttentionConfig>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(OVERRIDE.with(|o| o.replace(Some(cfg))));
    f()
}

/// The implementation [`attention`] runs for `kernel` (never `Auto`): see [`AttentionKernel`].
/// `flash_ok` is [`flash_supports`] for the call (always false in builds without `flash-attn`).
pub fn resolve_kernel(
    kernel: AttentionKernel,
    on_cpu: bool,
    tracks_grad: bool,
    flash_ok: bool,
) -> AttentionKernel {
    match kernel {
        AttentionKernel::Naive => AttentionKernel::Naive,
        AttentionKernel::Chunked => AttentionKernel::Chunked,
        AttentionKernel::Auto | AttentionKernel::Fused | AttentionKernel::Flash => {
            match (on_cpu, tracks_grad) {
                (true, false) => AttentionKernel::Fused,
                (true, true) => AttentionKernel::Naive,
                (false, _) if flash_ok => AttentionKernel::Flash,
                (false, _) => AttentionKernel::Chunked,
            }
        }
    }
}

/// The attention kernel the transformer's self-attention runs with on `device` in `dtype` under
/// the configuration in force ([`AttentionConfig::current`]), in words: `fused`, `flash`,
/// `chunked` or `naive` (an unreadable [`ATTENTION_ENV`] is named).
pub fn describe_attention(device: &Device, dtype: DType) -> String {
    let cfg = match AttentionConfig::current() {
        Ok(cfg) => cfg,
        Err(e) => return format!("error ({e})"),
    };
    let flash_ok =
        FLASH_ATTENTION_BUILT && device.is_cuda() && matches!(dtype, DType::BF16 | DType::F16);
    resolve_kernel(cfg.kernel, device.is_cpu(), false, flash_ok)
        .name()
        .to_string()
}

/// Whether this build has flash attention (the `flash-attn` feature).
pub const FLASH_ATTENTION_BUILT: bool = cfg!(feature = "flash-attn");

/// Whether [`flash_attention`] can run `softmax(q·kᵀ·scale + key_bias)·v` for these inputs: a
/// `flash-attn` build, q/k/v on a CUDA device in one dtype, bf16 or f16, `(B, H, S, D)` with the
/// same `B`, `H` and `D` (a multiple of 8, at most 512), no key bias, no gradient tracked.
pub fn flash_supports(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    key_bias: Option<&Tensor>,
    tracks_grad: bool,
) -> bool {
    if !FLASH_ATTENTION_BUILT || key_bias.is_some() || tracks_grad || !q.device().is_cuda() {
        return false;
    }
    let dtype = q.dtype();
    if !matches!(dtype, DType::BF16 | DType::F16) || k.dtype() != dtype || v.dtype() != dtype {
        return false;
    }
    match (q.dims4(), k.dims4(), v.dims4()) {
        (Ok((b, h, _, d)), Ok((bk, hk, sk, dk)), Ok((bv, hv, sv, dv))) => {
            (bk, hk, dk) == (b, h, d)
                && (bv, hv, sv, dv) == (b, h, sk, d)
                && d % 8 == 0
                && (8..=512).contains(&d)
                && sk > 0
        }
        _ => false,
    }
}

/// Flash attention (candle-flash-attn's FlashAttention-2 kernels) for `(B, H, S, D)` inputs,
/// returning `(B, H, Sq, D)` in `q`'s dtype; scores and softmax in f32 inside the kernel. Only
/// where [`flash_supports`] the inputs; otherwise an error that says why.
pub fn flash_attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Result<Tensor> {
    if !flash_supports(q, k, v, None, super::tracks_grad(&[q, k, v])) {
        candle_core::bail!(
            "flash attention cannot run here: it needs a build with the flash-attn feature{}, q/k/v \
             on a CUDA device in bf16 or f16 (got {:?} on {:?}), a head dimension that is a \
             multiple of 8 up to 512 (got {:?}) and no gradient tracking",
            if FLASH_ATTENTION_BUILT { "" } else { " (this build has none)" },
            q.dtype(),
            q.device().location(),
            q.dims().last()
        );
    }
    flash_attention_impl(q, k, v, scale)
}

#[cfg(feature = "flash-attn")]
fn flash_attention_impl(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Result<Tensor> {
    // candle-flash-attn reads (B, S, H, D) through its strides (only the last dimension must be
    // contiguous), so the transposed views need no copy; its output is contiguous (B, Sq, H, D).
    let view = |t: &Tensor| -> Result<Tensor> {
        let t = t.transpose(1, 2)?;
        if t.stride().last() == Some(&1) {
            Ok(t)
        } else {
            t.contiguous()
        }
    };
    candle_flash_attn::flash_attn(&view(q)?, &view(k)?, &view(v)?, scale as f32, false)?
        .transpose(1, 2)
}

#[cfg(not(feature = "flash-attn"))]
fn flash_attention_impl(_q: &Tensor, _k: &Tensor, _v: &Tensor, _scale: f64) -> Result<Tensor> {
    candle_core::bail!("flash attention: this build has none (build with --features flash-attn)")
}

/// `softmax(q·kᵀ·scale + key_bias)·v` with the implementation `cfg` selects
/// ([`resolve_kernel`]). Shapes as in [`scaled_dot_product_attention_with_key_bias`].
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
    cfg: &AttentionConfig,
) -> Result<Tensor> {
    let mut tensors = vec![q, k, v];
    tensors.extend(key_bias);
    let on_cpu = matches!(q.device(), Device::Cpu);
    let grad = super::tracks_grad(&tensors);
    let flash_ok = flash_supports(q, k, v, key_bias, grad);
    match resolve_kernel(cfg.kernel, on_cpu, grad, flash_ok) {
        AttentionKernel::Naive => naive_attention_with_key_bias(q, k, v, scale, key_bias),
        AttentionKernel::Flash => flash_attention_impl(q, k, v, scale),
        AttentionKernel::Chunked => {
            chunked_attention(q, k, v, scale, key_bias, cfg.score_budget_bytes)
        }
        _ => {
            let (b, h, sq, _) = q
                .dims4()
                .map_err(|e| e.context("attention: q must be (B, H, Sq, D)"))?;
            attention_blocks(q, k, v, scale, key_bias, query_block(b * h, sq), BLOCK_K)
        }
    }
}

/// How [`chunked_attention`] cuts the `(B·H, Sq)` grid of query rows into blocks: `head_group`
/// (batch, head) pairs by `query_chunk` queries, each block materialising
/// `head_group · query_chunk · Sk` f32 scores.
///
/// Whole query rows over all heads are preferred (fewer, larger products): `query_chunk` is as
/// large as the budget allows with all `B·H` heads in a block. Only when one query over all heads
/// exceeds the budget are the heads split too (then `query_chunk` is 1). The block never exceeds
/// the budget unless a single row of `Sk` scores does (then it is that one row), and it does not
/// depend on `Sq` once `Sq` exceeds `query_chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// `B·H`.
    pub heads: usize,
    pub queries: usize,
    pub keys: usize,
    /// (batch, head) pairs per block (the last group may be smaller).
    pub head_group: usize,
    /// Queries per block (the last chunk may be smaller).
    pub query_chunk: usize,
}

impl ChunkPlan {
    /// The plan for `heads = B·H`, `queries`, `keys` under `budget_bytes` of f32 scores per block.
    /// Errors on a zero budget.
    pub fn new(heads: usize, queries: usize, keys: usize, budget_bytes: usize) -> Result<Self> {
        if budget_bytes == 0 {
            candle_core::bail!("attention: the chunked path's score budget must be positive");
        }
        let budget = (budget_bytes / std::mem::size_of::<f32>()).max(1);
        let (heads1, queries1, keys1) = (heads.max(1), queries.max(1), keys.max(1));
        let row = heads1 * keys1;
        let (head_group, query_chunk) = if row <= budget {
            (heads1, (budget / row).clamp(1, queries1))
        } else {
            ((budget / keys1).clamp(1, heads1), 1)
        };
        Ok(Self {
            heads,
            queries,
            keys,
            head_group,
            query_chunk,
        })
    }

    /// f32 scores materialised per block at most: `head_group · query_chunk · keys`.
    pub fn peak_score_elems(&self) -> usize {
        self.head_group * self.query_chunk * self.keys
    }

    /// The blocks, as (head range, query range), head groups outermost; together they cover the
    /// `heads x queries` grid exactly once.
    pub fn blocks(
        &self,
    ) -> impl Iterator<Item = (std::ops::Range<usize>, std::ops::Range<usize>)> + '_ {
        (0..self.heads)
            .step_by(self.head_group)
            .flat_map(move |h0| {
                (0..self.queries).step_by(self.query_chunk).map(move |q0| {
                    (
                        h0..(h0 + self.head_group).min(self.heads),
                        q0..(q0 + self.query_chunk).min(self.queries),
                    )
                })
            })
    }
}

/// Query-chunked attention on any device: `softmax(q·kᵀ·scale + key_bias)·v` computed block by
/// block as [`ChunkPlan::new`] plans it for `score_budget_bytes`, scores and softmax in f32, each
/// block's output rounded to `q`'s dtype. Shapes as in
/// [`scaled_dot_product_attention_with_key_bias`].
///
/// Memory: besides the output (held twice while the blocks are concatenated), f32 copies of K
/// (transposed) and V, and per block the planned
/// scores; the scale is folded into the query block, so at most two score-sized buffers (scores,
/// and the biased scores or the probabilities) are alive at a time. Differentiable when the
/// inputs track gradients (the generic softmax is used then), though backward keeps every
/// block's probabilities.
pub fn chunked_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
    score_budget_bytes: usize,
) -> Result<Tensor> {
    let (b, h, sq, _, sk, _) = check_shapes(q, k, v)?;
    let plan = ChunkPlan::new(b * h, sq, sk, score_budget_bytes)?;
    chunked_attention_plan(q, k, v, scale, key_bias, &plan)
}

/// [`chunked_attention`] with explicit block sizes (for tests: chunk size 1, ragged chunks).
#[doc(hidden)]
pub fn chunked_attention_blocks(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
    head_group: usize,
    query_chunk: usize,
) -> Result<Tensor> {
    if head_group == 0 || query_chunk == 0 {
        candle_core::bail!("attention: block sizes must be positive");
    }
    let (b, h, sq, _, sk, _) = check_shapes(q, k, v)?;
    let plan = ChunkPlan {
        heads: b * h,
        queries: sq,
        keys: sk,
        head_group,
        query_chunk,
    };
    chunked_attention_plan(q, k, v, scale, key_bias, &plan)
}

fn chunked_attention_plan(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
    plan: &ChunkPlan,
) -> Result<Tensor> {
    let (b, h, sq, d, sk, dv) = check_shapes(q, k, v)?;
    check_key_bias(key_bias, sk)?;
    let out_dtype = q.dtype();
    if b * h * sq * dv == 0 {
        return Tensor::zeros((b, h, sq, dv), out_dtype, q.device());
    }
    let grad = {
        let mut tensors = vec![q, k, v];
        tensors.extend(key_bias);
        super::tracks_grad(&tensors)
    };
    let bh = b * h;
    // (B·H, S, D) views; the reshape copies only non-contiguous inputs (in their own dtype).
    let q3 = q.reshape((bh, sq, d))?;
    let kt = k
        .to_dtype(DType::F32)?
        .reshape((bh, sk, d))?
        .t()?
        .contiguous()?;
    let vf = v
        .to_dtype(DType::F32)?
        .reshape((bh, sk, dv))?
        .contiguous()?;
    let bias = key_bias.map(|t| t.to_dtype(DType::F32)).transpose()?;
    let mut groups = Vec::with_capacity(bh.div_ceil(plan.head_group));
    let mut chunks = Vec::with_capacity(sq.div_ceil(plan.query_chunk));
    let mut group_start = 0;
    for (heads, queries) in plan.blocks() {
        if heads.start != group_start && !chunks.is_empty() {
            groups.push(Tensor::cat(&chunks, 1)?);
            chunks.clear();
        }
        group_start = heads.start;
        let (h0, hn) = (heads.start, heads.len());
        let qc = q3
            .narrow(0, h0, hn)?
            .narrow(1, queries.start, queries.len())?
            .to_dtype(DType::F32)?
            .affine(scale, 0.0)?;
        let mut scores = qc.matmul(&kt.narrow(0, h0, hn)?)?;
        if let Some(bias) = &bias {
            scores = scores.broadcast_add(bias)?;
        }
        let probs = if grad {
            candle_nn::ops::softmax(&scores, candle_core::D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        drop(scores);
        chunks.push(probs.matmul(&vf.narrow(0, h0, hn)?)?.to_dtype(out_dtype)?);
    }
    groups.push(Tensor::cat(&chunks, 1)?);
    drop(chunks);
    Tensor::cat(&groups, 0)?.reshape((b, h, sq, dv))
}

/// Reference attention with plain candle ops: `softmax(q·kᵀ·scale)·v`, computed in f32 and returned in
/// `q`'s dtype. `q` is `(B, H, Sq, D)`, `k` is `(B, H, Sk, D)`, `v` is `(B, H, Sk, Dv)`.
pub fn naive_attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Result<Tensor> {
    naive_attention_with_key_bias(q, k, v, scale, None)
}

/// [`naive_attention`] with an additive per-key bias: `softmax(q·kᵀ·scale + key_bias)·v`, where
/// `key_bias` is `(Sk,)` and is added to every query's scores.
pub fn naive_attention_with_key_bias(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
) -> Result<Tensor> {
    check_shapes(q, k, v)?;
    let probs = attention_probs(q, k, scale, key_bias)?;
    probs
        .matmul(&v.to_dtype(DType::F32)?.contiguous()?)?
        .to_dtype(q.dtype())
}

/// The attention probabilities `softmax(q·kᵀ·scale + key_bias)`, materialised, in f32:
/// `(B, H, Sq, Sk)` for `q` `(B, H, Sq, D)` and `k` `(B, H, Sk, D)`.
pub fn attention_probs(
    q: &Tensor,
    k: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
) -> Result<Tensor> {
    check_key_bias(key_bias, k.dim(2)?)?;
    let q = q.to_dtype(DType::F32)?.contiguous()?;
    let k = k.to_dtype(DType::F32)?.contiguous()?;
    let mut scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?;
    if let Some(bias) = key_bias {
        scores = scores.broadcast_add(&bias.to_dtype(DType::F32)?)?;
    }
    if super::tracks_grad(&[&scores]) {
        candle_nn::ops::softmax(&scores, candle_core::D::Minus1)
    } else {
        candle_nn::ops::softmax_last_dim(&scores)
    }
}

/// Fused attention `softmax(q·kᵀ·scale)·v`.
///
/// `q` is `(B, H, Sq, D)`, `k` is `(B, H, Sk, D)`, `v` is `(B, H, Sk, Dv)` (in practice `Dv == D`);
/// the result is `(B, H, Sq, Dv)` in `q`'s dtype. Inputs may be non-contiguous and of any float dtype
/// (f32, f16, bf16, f64): contiguous f32 inputs are read in place, others are gathered and converted
/// once (in parallel) to contiguous f32 buffers. On devices other than the CPU this falls back to
/// [`flash_attention`] where [`flash_supports`] the call, else to [`chunked_attention`] (default
/// budget), and to [`naive_attention`] when gradients are tracked
/// (the fused kernel has no backward). It ignores [`ATTENTION_ENV`]; [`attention`] honours it.
/// Errors on mismatched shapes or dtypes, a zero head dimension, or zero keys.
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
) -> Result<Tensor> {
    scaled_dot_product_attention_with_key_bias(q, k, v, scale, None)
}

/// [`scaled_dot_product_attention`] with an additive per-key bias `key_bias` (`(Sk,)`, any float
/// dtype), added to the scores of every query: `softmax(q·kᵀ·scale + key_bias)·v`. A bias of
/// `ln(n)` on a key makes it count as `n` identical keys.
pub fn scaled_dot_product_attention_with_key_bias(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
) -> Result<Tensor> {
    attention(q, k, v, scale, key_bias, &AttentionConfig::default())
}

fn check_key_bias(key_bias: Option<&Tensor>, sk: usize) -> Result<()> {
    match key_bias {
        Some(bias) if bias.dims() != [sk] => candle_core::bail!(
            "attention: key bias must be ({sk},) for {sk} keys, got {:?}",
            bias.dims()
        ),
        _ => Ok(()),
    }
}

/// [`scaled_dot_product_attention`] with explicit query/key block sizes (for tuning).
#[doc(hidden)]
pub fn scaled_dot_product_attention_blocks(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    block_q: usize,
    block_k: usize,
) -> Result<Tensor> {
    attention_blocks(q, k, v, scale, None, block_q, block_k)
}

fn attention_blocks(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
    block_q: usize,
    block_k: usize,
) -> Result<Tensor> {
    if block_q == 0 || block_k == 0 {
        candle_core::bail!("attention: block sizes must be positive");
    }
    let (b, h, sq, d, sk, dv) = check_shapes(q, k, v)?;
    check_key_bias(key_bias, sk)?;
    if !matches!(q.device(), Device::Cpu) {
        return chunked_attention(q, k, v, scale, key_bias, DEFAULT_SCORE_BUDGET_BYTES);
    }
    let bias: Option<Vec<f32>> = key_bias
        .map(|t| t.to_dtype(DType::F32)?.to_vec1::<f32>())
        .transpose()?;
    let out_dtype = q.dtype();
    if b * h * sq * dv == 0 {
        return Tensor::zeros((b, h, sq, dv), out_dtype, q.device());
    }
    // f32 row-major buffers: an f32 contiguous input is used in place, anything else is gathered
    // and converted in parallel (strided views such as a transposed head split are read directly
    // as long as the last dimension is unit-stride).
    let unit_last = |t: &Tensor| -> Result<Tensor> {
        if t.stride()[3] == 1 {
            Ok(t.clone())
        } else {
            t.contiguous()
        }
    };
    let (qc, kc, vc) = (unit_last(q)?, unit_last(k)?, unit_last(v)?);
    let (q_storage, q_layout) = qc.storage_and_layout();
    let (k_storage, k_layout) = kc.storage_and_layout();
    let (v_storage, v_layout) = vc.storage_and_layout();
    let qf = f32_rows(&q_storage, q_layout)?;
    let kf = f32_rows(&k_storage, k_layout)?;
    let vf = f32_rows(&v_storage, v_layout)?;
    let mut out = vec![0f32; b * h * sq * dv];
    let scale = scale as f32;

    out.par_chunks_mut(sq * dv)
        .enumerate()
        .for_each(|(bh, out_head)| {
            let q_head = &qf[bh * sq * d..(bh + 1) * sq * d];
            let k_head = &kf[bh * sk * d..(bh + 1) * sk * d];
            let v_head = &vf[bh * sk * dv..(bh + 1) * sk * dv];
            out_head
                .par_chunks_mut(block_q * dv)
                .enumerate()
                .for_each(|(qb, out_blk)| {
                    let rows = out_blk.len() / dv;
                    let q_blk = &q_head[qb * block_q * d..(qb * block_q + rows) * d];
                    attend_block(
                        q_blk,
                        k_head,
                        v_head,
                        bias.as_deref(),
                        out_blk,
                        rows,
                        d,
                        sk,
                        dv,
                        scale,
                        block_k,
                    );
                });
        });

    let shape = (b, h, sq, dv);
    let dev = q.device();
    match out_dtype {
        DType::F16 => Tensor::from_vec(from_f32_par::<half::f16>(&out), shape, dev),
        DType::BF16 => Tensor::from_vec(from_f32_par::<half::bf16>(&out), shape, dev),
        _ => Tensor::from_vec(out, shape, dev)?.to_dtype(out_dtype),
    }
}

/// Elements per parallel conversion chunk.
const CONVERT_CHUNK: usize = 1 << 16;

/// Parallel f32 -> half-precision conversion.
fn from_f32_par<T: Default + Clone + Send>(src: &[f32]) -> Vec<T>
where
    [T]: half::slice::HalfFloatSliceExt,
{
    let mut dst = vec![T::default(); src.len()];
    dst.par_chunks_mut(CONVERT_CHUNK)
        .zip(src.par_chunks(CONVERT_CHUNK))
        .for_each(|(d, s)| d.convert_from_f32_slice(s));
    dst
}

/// Validates ranks and matching dimensions; returns `(B, H, Sq, D, Sk, Dv)`.
fn check_shapes(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
) -> Result<(usize, usize, usize, usize, usize, usize)> {
    let (b, h, sq, d) = q
        .dims4()
        .map_err(|e| e.context("attention: q must be (B, H, Sq, D)"))?;
    let (kb, kh, sk, kd) = k
        .dims4()
        .map_err(|e| e.context("attention: k must be (B, H, Sk, D)"))?;
    let (vb, vh, vs, dv) = v
        .dims4()
        .map_err(|e| e.context("attention: v must be (B, H, Sk, Dv)"))?;
    if (kb, kh, kd) != (b, h, d) || (vb, vh, vs) != (b, h, sk) {
        candle_core::bail!(
            "attention: incompatible shapes q {:?}, k {:?}, v {:?} (expected q (B,H,Sq,D), k (B,H,Sk,D), v (B,H,Sk,Dv))",
            q.dims(),
            k.dims(),
            v.dims()
        );
    }
    if d == 0 {
        candle_core::bail!("attention: zero head dimension (q {:?})", q.dims());
    }
    if sk == 0 && sq > 0 {
        candle_core::bail!("attention: softmax over zero keys (k {:?})", k.dims());
    }
    if !q.dtype().is_float() || q.dtype() != k.dtype() || q.dtype() != v.dtype() {
        candle_core::bail!(
            "attention: q, k, v must share one float dtype, got {:?}, {:?}, {:?}",
            q.dtype(),
            k.dtype(),
            v.dtype()
        );
    }
    Ok((b, h, sq, d, sk, dv))
}

/// The elements of a rank-4 CPU tensor (unit stride in the last dimension) as a row-major f32
/// buffer: borrowed when the tensor already is contiguous f32, otherwise gathered and converted in
/// parallel.
fn f32_rows<'a>(storage: &'a Storage, layout: &Layout) -> Result<Cow<'a, [f32]>> {
    let Storage::Cpu(cpu) = storage else {
        candle_core::bail!("attention: expected a CPU tensor");
    };
    if let (CpuStorage::F32(data), Some((start, end))) = (cpu, layout.contiguous_offsets()) {
        return Ok(Cow::Borrowed(&data[start..end]));
    }
    match cpu {
        CpuStorage::F32(data) => Ok(Cow::Owned(gather_rows(data, layout, |s, d| {
            d.copy_from_slice(s)
        }))),
        CpuStorage::F16(data) => Ok(Cow::Owned(gather_rows(data, layout, |s, d| {
            s.convert_to_f32_slice(d)
        }))),
        CpuStorage::BF16(data) => Ok(Cow::Owned(gather_rows(data, layout, |s, d| {
            s.convert_to_f32_slice(d)
        }))),
        CpuStorage::F64(data) => Ok(Cow::Owned(gather_rows(data, layout, |s, d| {
            for (o, i) in d.iter_mut().zip(s) {
                *o = *i as f32;
            }
        }))),
        other => candle_core::bail!(
            "attention: unsupported dtype {:?}",
            candle_core::backend::BackendStorage::dtype(other)
        ),
    }
}

/// Gathers the rows (last dimension, unit stride) of a strided rank-4 view into a row-major f32
/// buffer, converting each row with `convert(src_row, dst_row)`; parallel over chunks of rows.
fn gather_rows<T: Sync>(
    data: &[T],
    layout: &Layout,
    convert: impl Fn(&[T], &mut [f32]) + Sync,
) -> Vec<f32> {
    let dims = layout.dims();
    let stride = layout.stride();
    let start = layout.start_offset();
    let (n1, n2, row) = (dims[1], dims[2], dims[3]);
    let mut out = vec![0f32; dims.iter().product()];
    if row == 0 {
        return out;
    }
    let rows_per_chunk = (CONVERT_CHUNK / row).max(1);
    out.par_chunks_mut(rows_per_chunk * row)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (i, dst) in chunk.chunks_mut(row).enumerate() {
                let r = c * rows_per_chunk + i;
                let (i0, i1, i2) = (r / (n1 * n2), (r / n2) % n1, r % n2);
                let off = start + i0 * stride[0] + i1 * stride[1] + i2 * stride[2];
                convert(&data[off..off + row], dst);
            }
        });
    out
}

/// One query block against all keys of its head, written normalised into `out` (`rows x dv`,
/// zero on entry).
#[allow(clippy::too_many_arguments)]
fn attend_block(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    key_bias: Option<&[f32]>,
    out: &mut [f32],
    rows: usize,
    d: usize,
    sk: usize,
    dv: usize,
    scale: f32,
    block_k: usize,
) {
    thread_local! {
        /// Per-thread scratch (scores block, row maxima, row sums), reused across blocks and calls.
        static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let bk = block_k.min(sk);
        let need = rows * bk + 2 * rows;
        if scratch.len() < need {
            scratch.resize(need, 0.0);
        }
        let (s, rest) = scratch.split_at_mut(rows * bk);
        let (row_max, rest) = rest.split_at_mut(rows);
        let row_sum = &mut rest[..rows];
        row_max.fill(f32::NEG_INFINITY);
        row_sum.fill(0.0);
        attend_block_in(
            q, k, v, key_bias, out, rows, d, sk, dv, scale, bk, s, row_max, row_sum,
        );
    });
}

/// Body of [`attend_block`] on caller-provided scratch: `s` holds at least `rows x bk` values,
/// `row_max` starts at -inf and `row_sum` at 0.
#[allow(clippy::too_many_arguments)]
fn attend_block_in(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    key_bias: Option<&[f32]>,
    out: &mut [f32],
    rows: usize,
    d: usize,
    sk: usize,
    dv: usize,
    scale: f32,
    bk: usize,
    s: &mut [f32],
    row_max: &mut [f32],
    row_sum: &mut [f32],
) {
    let simd = Simd::detect();

    let mut k0 = 0;
    while k0 < sk {
        let cols = bk.min(sk - k0);
        let s = &mut s[..rows * cols];
        // S = scale · Q_blk · K_blkᵀ  (rows x cols, row-major).
        // SAFETY: all pointers address live slices of exactly the extents described by the
        // dimensions and strides: q is rows x d (row stride d), the K block is cols x d read as its
        // transpose (column stride d, row stride 1), s is rows x cols (row stride cols).
        unsafe {
            gemm::gemm(
                rows,
                cols,
                d,
                s.as_mut_ptr(),
                1,
                cols as isize,
                false,
                q.as_ptr(),
                1,
                d as isize,
                k[k0 * d..(k0 + cols) * d].as_ptr(),
                d as isize,
                1,
                0.0f32,
                scale,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        if let Some(bias) = key_bias {
            let bias = &bias[k0..k0 + cols];
            for srow in s.chunks_mut(cols) {
                for (x, b) in srow.iter_mut().zip(bias) {
                    *x += b;
                }
            }
        }
        // Online softmax update per row: rescale what has been accumulated so far by
        // exp(m_old - m_new) and turn the scores into unnormalised probabilities.
        for r in 0..rows {
            let srow = &mut s[r * cols..(r + 1) * cols];
            let m_old = row_max[r];
            let m_new = m_old.max(simd.max(srow));
            // An all -inf row (only possible with -inf inputs) would give NaN; keep it finite.
            let m_ref = if m_new == f32::NEG_INFINITY {
                0.0
            } else {
                m_new
            };
            let corr = if m_old == f32::NEG_INFINITY {
                0.0
            } else {
                (m_old - m_ref).exp()
            };
            let sum = simd.exp_sub_sum(srow, m_ref);
            row_sum[r] = row_sum[r] * corr + sum;
            row_max[r] = m_new;
            if k0 > 0 && corr != 1.0 {
                for o in out[r * dv..(r + 1) * dv].iter_mut() {
                    *o *= corr;
                }
            }
        }
        // O += P · V_blk  (rows x dv).
        // SAFETY: s is rows x cols (row stride cols), the V block is cols x dv (row stride dv),
        // out is rows x dv (row stride dv); all are live, non-overlapping slices.
        unsafe {
            gemm::gemm(
                rows,
                dv,
                cols,
                out.as_mut_ptr(),
                1,
                dv as isize,
                k0 > 0,
                s.as_ptr(),
                1,
                cols as isize,
                v[k0 * dv..(k0 + cols) * dv].as_ptr(),
                1,
                dv as isize,
                1.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        k0 += cols;
    }
    for r in 0..rows {
        let inv = 1.0 / row_sum[r];
        for o in out[r * dv..(r + 1) * dv].iter_mut() {
            *o *= inv;
        }
    }
}

/// Row kernels (maximum, exp-and-sum) with a run-time choice of the widest available SIMD target.
#[derive(Clone, Copy)]
enum Simd {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Simd {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Simd::Avx2;
            }
        }
        Simd::Generic
    }

    fn max(self, x: &[f32]) -> f32 {
        match self {
            Simd::Generic => row_max_impl(x),
            // SAFETY: the variant is only constructed after detecting the target features.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { row_max_avx2(x) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { row_max_avx512(x) },
        }
    }

    /// `x[i] = exp(x[i] - m)` in place; returns the sum of the new values.
    fn exp_sub_sum(self, x: &mut [f32], m: f32) -> f32 {
        match self {
            Simd::Generic => exp_sub_sum_impl(x, m),
            // SAFETY: the variant is only constructed after detecting the target features.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { exp_sub_sum_avx2(x, m) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { exp_sub_sum_avx512(x, m) },
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_max_avx2(x: &[f32]) -> f32 {
    row_max_impl(x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_max_avx512(x: &[f32]) -> f32 {
    row_max_impl(x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_sub_sum_avx2(x: &mut [f32], m: f32) -> f32 {
    exp_sub_sum_impl(x, m)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp_sub_sum_avx512(x: &mut [f32], m: f32) -> f32 {
    exp_sub_sum_impl(x, m)
}

const LANES: usize = 16;

// The row kernels below use plain `while` loops and integer arithmetic rather than iterators and
// `to_bits`/`wrapping_*` helpers: optimised builds vectorise them just the same, and unoptimised
// (debug) builds of the crate do not pay a function call per element.

#[inline(always)]
fn row_max_impl(x: &[f32]) -> f32 {
    let n = x.len();
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut i = 0;
    while i + LANES <= n {
        let c = &x[i..i + LANES];
        let mut j = 0;
        while j < LANES {
            if c[j] > acc[j] {
                acc[j] = c[j];
            }
            j += 1;
        }
        i += LANES;
    }
    let mut m = f32::NEG_INFINITY;
    let mut j = 0;
    while j < LANES {
        if acc[j] > m {
            m = acc[j];
        }
        j += 1;
    }
    while i < n {
        if x[i] > m {
            m = x[i];
        }
        i += 1;
    }
    m
}

#[inline(always)]
fn exp_sub_sum_impl(x: &mut [f32], m: f32) -> f32 {
    let n = x.len();
    let mut acc = [0f32; LANES];
    let mut i = 0;
    while i + LANES <= n {
        let c = &mut x[i..i + LANES];
        let mut j = 0;
        while j < LANES {
            let e = exp_nonpos(c[j] - m);
            c[j] = e;
            acc[j] += e;
            j += 1;
        }
        i += LANES;
    }
    let mut sum = 0f32;
    let mut j = 0;
    while j < LANES {
        sum += acc[j];
        j += 1;
    }
    while i < n {
        let e = exp_nonpos(x[i] - m);
        x[i] = e;
        sum += e;
        i += 1;
    }
    sum
}

/// `exp(x)` for `x <= 0` (the softmax case), branch-free so that loops over it vectorise.
/// Range reduction `x = n·ln2 + r`, `|r| <= ln2/2`, then a degree-6 Taylor polynomial for `e^r`
/// (truncation error below 1.3e-7 relative) and `2^n` assembled in the exponent bits. Inputs below
/// -87.3 (where `e^x` leaves the normal f32 range) are clamped there, giving ~1e-38 instead of 0,
/// which is irrelevant next to a row maximum contributing exactly 1.
#[inline(always)]
fn exp_nonpos(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = if x < -87.3 { -87.3 } else { x };
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // t's bits are 0x4B40_0000 + n with n in [-126, 0]; 2^n has bits (n + 127) << 23.
    // (A union rather than `to_bits`/`from_bits`, which are calls in unoptimised builds.)
    union Bits {
        f: f32,
        i: i32,
    }
    // SAFETY: f32 and i32 have the same size and every bit pattern is valid for both.
    let t_bits = unsafe { Bits { f: t }.i };
    let pow2 = unsafe {
        Bits {
            i: (t_bits - 0x4B40_0000 + 127) << 23,
        }
        .f
    };
    p * pow2
}

#[cfg(test)]
mod tests {
    use super::exp_nonpos;

    #[test]
    fn exp_nonpos_matches_std() {
        // Relative error bound 4e-7 (a few f32 ulps: polynomial truncation 1.3e-7 plus rounding in
        // the reduction and Horner steps) over the range that matters for softmax.
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let rel = ((exp_nonpos(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
            x += 0.001_3;
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
        assert_eq!(exp_nonpos(0.0), 1.0);
    }
}
