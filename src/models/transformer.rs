//! ChronoEditTransformer3DModel: the Wan-style video diffusion transformer used by ChronoEdit
//! (diffusers `models/transformers/transformer_chronoedit.py`).
//!
//! Numerics follow the reference: the compute dtype is the `VarBuilder`'s dtype; the modules diffusers
//! keeps in f32 (`time_embedder`, every `scale_shift_table`, and the `norm1`/`norm2`/`norm3` modules)
//! are loaded in f32; layer norms run in f32, and the adaptive modulation (`norm(x) * (1 + scale) +
//! shift` and the gated residual additions) is done in f32 before rounding to the compute dtype.
//! Linear layers are [`super::linear::Linear`]: dense by default; built with
//! [`ChronoEditTransformer3DModel::new_with_linears`] they may hold GGML-quantized or fp8 weights.
//!
//! Beyond the reference `forward`, [`ChronoEditTransformer3DModel::forward_with`] offers hooks for
//! adaptive inference: explicit temporal RoPE positions, dropping tokens from the sequence, and
//! capturing cross-attention probabilities of chosen layers. With default options it runs the exact
//! same computation as `forward`.

use std::ops::Range;
use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

use super::linear::{Linear as Lin, LinearStore};
use super::rope::{apply_rotary_emb, ChronoEditRotaryPosEmbed};

/// Number of text tokens the reference's cross-attention assumes when it splits the context into image
/// and text parts (hard-coded to the text encoder's context length there).
pub const TEXT_CONTEXT_LEN: usize = 512;

fn default_patch_size() -> Vec<usize> {
    vec![1, 2, 2]
}
fn default_num_attention_heads() -> usize {
    40
}
fn default_attention_head_dim() -> usize {
    128
}
fn default_in_channels() -> usize {
    16
}
fn default_out_channels() -> Option<usize> {
    Some(16)
}
fn default_text_dim() -> usize {
    4096
}
fn default_freq_dim() -> usize {
    256
}
fn default_ffn_dim() -> usize {
    13824
}
fn default_num_layers() -> usize {
    40
}
fn default_true() -> bool {
    true
}
fn default_qk_norm() -> Option<String> {
    Some("rms_norm_across_heads".to_string())
}
fn default_eps() -> f64 {
    1e-6
}
fn default_rope_max_seq_len() -> usize {
    1024
}
fn default_rope_temporal_skip_len() -> usize {
    8
}

/// `transformer/config.json`, with the defaults of the reference class's `__init__`. Unknown keys are
/// ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default = "default_patch_size")]
    pub patch_size: Vec<usize>,
    #[serde(default = "default_num_attention_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "default_attention_head_dim")]
    pub attention_head_dim: usize,
    #[serde(default = "default_in_channels")]
    pub in_channels: usize,
    /// `None` (null) means "same as `in_channels`", as in the reference.
    #[serde(default = "default_out_channels")]
    pub out_channels: Option<usize>,
    #[serde(default = "default_text_dim")]
    pub text_dim: usize,
    #[serde(default = "default_freq_dim")]
    pub freq_dim: usize,
    #[serde(default = "default_ffn_dim")]
    pub ffn_dim: usize,
    #[serde(default = "default_num_layers")]
    pub num_layers: usize,
    #[serde(default = "default_true")]
    pub cross_attn_norm: bool,
    /// The reference blocks always apply an RMS norm across heads to queries and keys (the block
    /// ignores this field); `rms_norm_across_heads` and `null` are accepted, anything else is rejected.
    #[serde(default = "default_qk_norm")]
    pub qk_norm: Option<String>,
    #[serde(default = "default_eps")]
    pub eps: f64,
    #[serde(default)]
    pub image_dim: Option<usize>,
    #[serde(default)]
    pub added_kv_proj_dim: Option<usize>,
    #[serde(default = "default_rope_max_seq_len")]
    pub rope_max_seq_len: usize,
    #[serde(default)]
    pub pos_embed_seq_len: Option<usize>,
    #[serde(default = "default_rope_temporal_skip_len")]
    pub rope_temporal_skip_len: usize,
}

impl Config {
    /// Parses and validates a `config.json` text.
    pub fn from_json_str(s: &str) -> Result<Self> {
        let cfg: Config = serde_json::from_str(s)
            .map_err(|e| candle_core::Error::Msg(format!("transformer config.json: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, parses and validates `path` (a transformer `config.json`).
    pub fn from_path(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let s = std::fs::read_to_string(path)
            .with_context(|| format!("reading transformer config {}", path.display()))?;
        Self::from_json_str(&s)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("in {}", path.display()))
    }

    pub fn inner_dim(&self) -> usize {
        self.num_attention_heads * self.attention_head_dim
    }

    pub fn out_channels(&self) -> usize {
        self.out_channels.unwrap_or(self.in_channels)
    }

    pub fn patch(&self) -> [usize; 3] {
        [self.patch_size[0], self.patch_size[1], self.patch_size[2]]
    }

    /// Rejects values this implementation (or the reference) does not support.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| {
            Err(candle_core::Error::Msg(format!(
                "transformer config: {msg}"
            )))
        };
        if self.patch_size.len() != 3 || self.patch_size.iter().any(|&p| p == 0) {
            return bad(format!(
                "patch_size must be three positive integers (t, h, w), got {:?}",
                self.patch_size
            ));
        }
        match self.qk_norm.as_deref() {
            None | Some("rms_norm_across_heads") => {}
            Some(other) => {
                return bad(format!(
                    "qk_norm {other:?} is not supported (only \"rms_norm_across_heads\" or null)"
                ))
            }
        }
        if self.num_attention_heads == 0 || self.attention_head_dim == 0 {
            return bad("num_attention_heads and attention_head_dim must be positive".into());
        }
        if self.attention_head_dim % 2 != 0 {
            return bad(format!(
                "attention_head_dim {} must be even for the rotary embedding",
                self.attention_head_dim
            ));
        }
        for (name, v) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels()),
            ("text_dim", self.text_dim),
            ("freq_dim", self.freq_dim),
            ("ffn_dim", self.ffn_dim),
            ("rope_max_seq_len", self.rope_max_seq_len),
            ("rope_temporal_skip_len", self.rope_temporal_skip_len),
        ] {
            if v == 0 {
                return bad(format!("{name} must be positive"));
            }
        }
        if self.eps.is_nan() || self.eps <= 0.0 || self.eps.is_infinite() {
            return bad(format!("eps must be a positive number, got {}", self.eps));
        }
        if self.pos_embed_seq_len.is_some() && self.image_dim.is_none() {
            return bad("pos_embed_seq_len is set but image_dim is null".into());
        }
        Ok(())
    }
}

/// Hooks for [`ChronoEditTransformer3DModel::forward_with`]. The default runs exactly `forward`.
#[derive(Debug, Clone, Default)]
pub struct ForwardOptions {
    /// One RoPE temporal position per latent frame (after temporal patching), replacing the default
    /// `0..F'` (or `[0, rope_temporal_skip_len - 1]` for 2-frame inputs).
    pub temporal_positions: Option<Vec<usize>>,
    /// Strictly increasing indices into the patchified, frame-major token sequence (`F' * H' * W'`
    /// tokens) of the tokens to compute. Other tokens are removed from the sequence (kept tokens keep
    /// their own RoPE positions) and their patches are zero in the output sample.
    pub token_keep: Option<Vec<u32>>,
    /// Cross-attention probabilities to capture.
    pub capture: Option<CaptureSpec>,
    /// Attend to every zero row of the padded prompt as the reference does, instead of collapsing
    /// them into one row (the same attention up to rounding; see `TextPadding`).
    pub keep_text_padding: bool,
    /// Step caching: skip the blocks and add this residual (the block stack's output minus its
    /// input, `(B, tokens, inner_dim)` in the compute dtype, recorded at an earlier step) to the
    /// block input; the patch embedding, the condition embeddings and the output head still run.
    pub reuse_residual: Option<Tensor>,
    /// Return the block stack's residual in [`ForwardOutput::residual`] (the sample is unchanged).
    pub record_residual: bool,
    /// First-block caching: run the first block, then either the rest of the stack or the rest's
    /// residual of the last computed step (see [`FirstBlockCache`]). Ignored with `reuse_residual`.
    pub first_block: Option<FirstBlockCache>,
}

/// What first-block caching (FBCache, as diffusers' `FirstBlockCacheConfig` and ParaAttention's
/// first-block cache) knows of the last step whose whole stack ran, per batch row (CFG branch).
///
/// After the first block, the relative L1 change of its residual (output minus input) against
/// `head` is measured per row, `mean|h − h_prev| / mean|h_prev|`. When every row's change is
/// below `threshold` the rest of the stack is skipped and `tail` (the rest's residual at that step)
/// is added to the first block's output; otherwise the whole stack runs for the whole batch (the
/// batched branches cannot run half a stack) and [`ForwardOutput::first_block`] carries the new
/// `head` and `tail`. With `head`/`tail` None the stack runs and records them.
#[derive(Debug, Clone)]
pub struct FirstBlockCache {
    /// The first block's residual at the last computed step, `(B, tokens, inner_dim)`.
    pub head: Option<Tensor>,
    /// The residual of blocks 1.. at that step, same shape.
    pub tail: Option<Tensor>,
    /// Largest relative L1 change of the first block's residual that reuses `tail` (0: never).
    pub threshold: f64,
}

/// What first-block caching did in one forward.
#[derive(Debug, Clone)]
pub struct FirstBlockOutcome {
    /// Relative L1 change of the first block's residual per batch row (infinite without a `head`).
    pub change: Vec<f64>,
    /// Whether the rest of the stack was skipped.
    pub reused: bool,
    /// `head` and `tail` of this step when the whole stack ran (None when it was skipped: the
    /// cache keeps the last computed step's, as diffusers' hook does).
    pub computed: Option<(Tensor, Tensor)>,
}

/// Which cross-attention probabilities to capture.
///
/// `query_tokens` are positions in the computed token sequence (the kept tokens when `token_keep` is
/// set, otherwise the full frame-major sequence); `context_tokens` index the concatenated
/// `[image tokens, text tokens]` context. When the model has separate image key/value projections
/// (`added_kv_proj_dim`), the image and text parts are two separate softmaxes, as the model computes
/// them: columns in the image part are probabilities of the image softmax and columns in the text part
/// those of the text softmax (so a row restricted to either part sums to at most 1).
#[derive(Debug, Clone)]
pub struct CaptureSpec {
    /// Block indices; duplicates are counted once.
    pub layers: Vec<usize>,
    pub query_tokens: Range<usize>,
    pub context_tokens: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct ForwardOutput {
    /// `(B, out_channels, F, H, W)` in the compute dtype.
    pub sample: Tensor,
    /// `(num_queries, num_context_tokens)` f32: probabilities averaged over the batch, the heads and the
    /// captured layers.
    pub cross_attention: Option<Tensor>,
    /// The block stack's residual `(B, tokens, inner_dim)`, when `record_residual` asked for it.
    pub residual: Option<Tensor>,
    /// What first-block caching did, when [`ForwardOptions::first_block`] asked for it.
    pub first_block: Option<FirstBlockOutcome>,
}

/// Per batch row of `(B, …)` tensors: `mean|a − b| / mean|b|` in f32 (infinite where `b` is zero
/// or the shapes differ).
fn relative_l1_per_row(a: &Tensor, b: &Tensor) -> Result<Vec<f64>> {
    let rows = a.dim(0)?;
    if a.dims() != b.dims() {
        return Ok(vec![f64::INFINITY; rows]);
    }
    let a = a.to_dtype(DType::F32)?.flatten_from(1)?;
    let b = b.to_dtype(DType::F32)?.flatten_from(1)?;
    let num = (&a - &b)?.abs()?.mean(1)?.to_vec1::<f32>()?;
    let den = b.abs()?.mean(1)?.to_vec1::<f32>()?;
    Ok(num
        .iter()
        .zip(&den)
        .map(|(&n, &d)| {
            if d > 0.0 {
                n as f64 / d as f64
            } else {
                f64::INFINITY
            }
        })
        .collect())
}

/// The attention kernel: `softmax(q k^T * scale) v` for contiguous `(B, H, S, D)` inputs, returning
/// `(B, H, Sq, D)` (callers cast the result to the compute dtype). This is the single place where the
/// attention implementation is chosen: fused on the CPU, flash attention on CUDA in bf16/f16 in
/// `flash-attn` builds (self-attention and unbiased cross-attention), query-chunked elsewhere, unless forced by
/// `PHYSEDIT_ATTENTION` or `attention::with_attention_config` (see `attention::attention`).
fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    key_bias: Option<&Tensor>,
) -> Result<Tensor> {
    let cfg = super::attention::AttentionConfig::current()?;
    super::attention::attention(q, k, v, scale, key_bias, &cfg)
}

/// Layer norm computed in f32 (diffusers' `FP32LayerNorm`); returns f32.
#[derive(Debug, Clone)]
struct LayerNormF32 {
    w: Tensor,
    b: Tensor,
    eps: f32,
}

impl LayerNormF32 {
    /// Without affine parameters.
    fn plain(dim: usize, eps: f64, device: &Device) -> Result<Self> {
        Ok(Self {
            w: Tensor::ones(dim, DType::F32, device)?,
            b: Tensor::zeros(dim, DType::F32, device)?,
            eps: eps as f32,
        })
    }

    /// With `weight` and `bias`, loaded in f32.
    fn affine(vb: VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        let vb = vb.to_dtype(DType::F32);
        Ok(Self {
            w: vb.get(dim, "weight")?,
            b: vb.get(dim, "bias")?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.to_dtype(DType::F32)?.contiguous()?;
        if super::tracks_grad(&[&x, &self.w, &self.b]) {
            return candle_nn::ops::layer_norm_slow(&x, &self.w, &self.b, self.eps);
        }
        candle_nn::ops::layer_norm(&x, &self.w, &self.b, self.eps)
    }
}

fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    if super::tracks_grad(&[x, w]) {
        return candle_nn::ops::rms_norm_slow(&x.contiguous()?, w, eps as f32);
    }
    candle_nn::ops::rms_norm(&x.contiguous()?, w, eps as f32)
}

/// Per-block cross-attention keys and values, `(B, H, L, D)`.
#[derive(Debug, Clone)]
struct CrossKv {
    k: Tensor,
    v: Tensor,
    /// Additive bias on the keys of `k` (`(L,)`): `ln(count)` on the row standing for the collapsed
    /// text padding (see [`TextPadding`]), zero elsewhere.
    key_bias: Option<Tensor>,
    padding: Option<TextPadding>,
    img_kv: Option<(Tensor, Tensor)>,
}

/// The zero rows that end every prompt of the batch (the pipeline pads umT5 states with zeros to
/// [`TEXT_CONTEXT_LEN`]), collapsed into one. Identical context rows give identical keys and values,
/// so attending to `count` copies equals attending to one copy whose score is raised by `ln(count)`:
/// the same attention (up to rounding) for a fraction of the work. Rows `0..keep` are kept as they
/// are (prompts shorter than the batch's longest keep zero rows there, which count as padding too);
/// row `keep` stands for the `count` rows `keep..TEXT_CONTEXT_LEN`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TextPadding {
    keep: usize,
    count: usize,
}

impl TextPadding {
    /// The collapse for `ehs` `(B, TEXT_CONTEXT_LEN, D)`, if at least two rows end every prompt.
    fn detect(ehs: &Tensor) -> Result<Option<Self>> {
        let (_, len, _) = ehs.dims3()?;
        if len != TEXT_CONTEXT_LEN {
            return Ok(None);
        }
        let row_max = ehs.to_dtype(DType::F32)?.abs()?.max(2)?.to_vec2::<f32>()?;
        let trailing = row_max
            .iter()
            .map(|rows| rows.iter().rev().take_while(|&&m| m == 0.0).count())
            .min()
            .unwrap_or(0);
        Ok((trailing >= 2).then_some(Self {
            keep: len - trailing,
            count: trailing,
        }))
    }

    /// `(lead + keep + 1,)` f32: zero, then `ln(count)` on the collapsed row; `lead` zeros stand for
    /// context rows in front of the text that share its softmax (image rows of models without separate
    /// image projections).
    fn key_bias(&self, lead: usize, device: &Device) -> Result<Tensor> {
        let len = lead + self.keep + 1;
        let mut bias = vec![0f32; len];
        bias[len - 1] = (self.count as f32).ln();
        Tensor::from_vec(bias, len, device)
    }

    /// Attention probabilities over the collapsed rows `(.., keep + 1)` spread back over the full
    /// `(.., keep + count)` rows (each padding row gets an equal share of the collapsed row's).
    fn expand_probs(&self, p: &Tensor) -> Result<Tensor> {
        let last = p.rank() - 1;
        let pad = (p.narrow(last, self.keep, 1)? / self.count as f64)?;
        let mut dims = p.dims().to_vec();
        dims[last] = self.count;
        Tensor::cat(
            &[&p.narrow(last, 0, self.keep)?, &pad.broadcast_as(dims)?],
            last,
        )
    }
}

/// The embedded context and every block's cross-attention K/V for one pair of context tensors,
/// remembered by the tensors' identities (candle never reuses a tensor id).
#[derive(Debug)]
struct ContextCache {
    key: (candle_core::TensorId, Option<candle_core::TensorId>, bool),
    /// Context tokens as the caller gave them (image + text, before any padding collapse).
    ctx_len: usize,
    blocks: Vec<CrossKv>,
}

#[derive(Debug, Clone)]
struct Attention {
    to_q: Lin,
    to_k: Lin,
    to_v: Lin,
    to_out: Lin,
    norm_q: Tensor,
    norm_k: Tensor,
    /// `(add_k_proj, add_v_proj, norm_added_k)` for the image context.
    added: Option<(Lin, Lin, Tensor)>,
    heads: usize,
    head_dim: usize,
    eps: f64,
}

impl Attention {
    fn new(
        vb: VarBuilder,
        dim: usize,
        heads: usize,
        eps: f64,
        added_kv_proj_dim: Option<usize>,
        store: &LinearStore,
    ) -> Result<Self> {
        let head_dim = dim / heads;
        let inner = head_dim * heads;
        let added = match added_kv_proj_dim {
            Some(a) => Some((
                Lin::new(vb.pp("add_k_proj"), a, inner, store)?,
                Lin::new(vb.pp("add_v_proj"), a, inner, store)?,
                vb.pp("norm_added_k").get(inner, "weight")?,
            )),
            None => None,
        };
        Ok(Self {
            to_q: Lin::new(vb.pp("to_q"), dim, inner, store)?,
            to_k: Lin::new(vb.pp("to_k"), dim, inner, store)?,
            to_v: Lin::new(vb.pp("to_v"), dim, inner, store)?,
            to_out: Lin::new(vb.pp("to_out").pp("0"), inner, dim, store)?,
            norm_q: vb.pp("norm_q").get(inner, "weight")?,
            norm_k: vb.pp("norm_k").get(inner, "weight")?,
            added,
            heads,
            head_dim,
            eps,
        })
    }

    fn scale(&self) -> f64 {
        1.0 / (self.head_dim as f64).sqrt()
    }

    /// `(B, S, H*D)` -> contiguous `(B, H, S, D)`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, s, _) = x.dims3()?;
        x.reshape((b, s, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// `(B, H, S, D)` -> `(B, S, H*D)` in `dtype`.
    fn merge_heads(&self, x: &Tensor, dtype: DType) -> Result<Tensor> {
        let (b, h, s, d) = x.dims4()?;
        x.to_dtype(dtype)?.transpose(1, 2)?.reshape((b, s, h * d))
    }

    fn self_attention(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let q = rms_norm(&self.to_q.forward(x)?, &self.norm_q, self.eps)?;
        let k = rms_norm(&self.to_k.forward(x)?, &self.norm_k, self.eps)?;
        let v = self.to_v.forward(x)?;
        let q = apply_rotary_emb(&self.split_heads(&q)?, cos, sin)?;
        let k = apply_rotary_emb(&self.split_heads(&k)?, cos, sin)?;
        let v = self.split_heads(&v)?;
        let o = attend(&q, &k, &v, self.scale(), None)?;
        self.to_out.forward(&self.merge_heads(&o, dtype)?)
    }

    /// Cross-attention; with `capture = Some((queries, context))` also returns the probabilities of
    /// those queries against those context tokens, averaged over batch and heads, `(nq, nc)` f32.
    /// Keys and values of the cross-attention context (text, and image when the model has
    /// separate image projections). They depend only on the context, so they are computed once
    /// per context and reused at every denoising step.
    ///
    /// `ctx` is `[image tokens, text tokens]`; the last `text_len` rows are text (the reference
    /// assumes [`TEXT_CONTEXT_LEN`], or `keep + 1` after a padding collapse). `key_bias` is that of
    /// the text keys (of all context keys for a model without separate image projections).
    fn cross_kv(
        &self,
        ctx: &Tensor,
        text_len: usize,
        key_bias: Option<&Tensor>,
        padding: Option<TextPadding>,
    ) -> Result<CrossKv> {
        let ctx_len = ctx.dim(1)?;
        let (img, txt) = match self.added {
            Some(_) => {
                if ctx_len < text_len {
                    candle_core::bail!(
                        "cross-attention: the context has {ctx_len} tokens, fewer than the \
                         {text_len} text tokens the image/text split assumes"
                    );
                }
                let img_len = ctx_len - text_len;
                let img = if img_len > 0 {
                    Some(ctx.narrow(1, 0, img_len)?)
                } else {
                    None
                };
                (img, ctx.narrow(1, img_len, text_len)?)
            }
            None => (None, ctx.clone()),
        };
        let k = rms_norm(&self.to_k.forward(&txt)?, &self.norm_k, self.eps)?;
        let v = self.to_v.forward(&txt)?;
        let img_kv = match (&self.added, &img) {
            (Some((add_k, add_v, norm_added_k)), Some(img)) => {
                let ki = rms_norm(&add_k.forward(img)?, norm_added_k, self.eps)?;
                let vi = add_v.forward(img)?;
                Some((self.split_heads(&ki)?, self.split_heads(&vi)?))
            }
            _ => None,
        };
        Ok(CrossKv {
            k: self.split_heads(&k)?,
            v: self.split_heads(&v)?,
            key_bias: key_bias.cloned(),
            padding,
            img_kv,
        })
    }

    fn cross_attention(
        &self,
        x: &Tensor,
        kv: &CrossKv,
        capture: Option<(&Range<usize>, &Range<usize>)>,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let dtype = x.dtype();
        let q = rms_norm(&self.to_q.forward(x)?, &self.norm_q, self.eps)?;
        let q = self.split_heads(&q)?;
        let (k, v, img_kv, bias) = (&kv.k, &kv.v, &kv.img_kv, kv.key_bias.as_ref());
        let scale = self.scale();
        let probs = match capture {
            None => None,
            Some((qr, cr)) => {
                let qs = q.narrow(2, qr.start, qr.len())?;
                let mut parts = Vec::with_capacity(2);
                if let Some((ki, _)) = &img_kv {
                    parts.push(super::attention::attention_probs(&qs, ki, scale, None)?);
                }
                let text = super::attention::attention_probs(&qs, k, scale, bias)?;
                // Context token indices refer to the uncollapsed text.
                parts.push(match kv.padding {
                    Some(p) => p.expand_probs(&text)?,
                    None => text,
                });
                let p = Tensor::cat(&parts, 3)?.narrow(3, cr.start, cr.len())?;
                Some(p.mean(1)?.mean(0)?)
            }
        };
        let mut o = self.merge_heads(&attend(&q, k, v, scale, bias)?, dtype)?;
        if let Some((ki, vi)) = img_kv {
            let oi = self.merge_heads(&attend(&q, ki, vi, scale, None)?, dtype)?;
            o = (o + oi)?;
        }
        Ok((self.to_out.forward(&o)?, probs))
    }
}

#[derive(Debug, Clone)]
struct Block {
    norm1: LayerNormF32,
    attn1: Attention,
    norm2: Option<LayerNormF32>,
    attn2: Attention,
    ff_in: Lin,
    ff_out: Lin,
    norm3: LayerNormF32,
    /// `(1, 6, dim)` f32.
    scale_shift_table: Tensor,
}

impl Block {
    fn new(vb: VarBuilder, cfg: &Config, store: &LinearStore) -> Result<Self> {
        let dim = cfg.inner_dim();
        let heads = cfg.num_attention_heads;
        let dev = vb.device().clone();
        Ok(Self {
            norm1: LayerNormF32::plain(dim, cfg.eps, &dev)?,
            attn1: Attention::new(vb.pp("attn1"), dim, heads, cfg.eps, None, store)?,
            norm2: if cfg.cross_attn_norm {
                Some(LayerNormF32::affine(vb.pp("norm2"), dim, cfg.eps)?)
            } else {
                None
            },
            attn2: Attention::new(
                vb.pp("attn2"),
                dim,
                heads,
                cfg.eps,
                cfg.added_kv_proj_dim,
                store,
            )?,
            ff_in: Lin::new(vb.pp("ffn.net.0.proj"), dim, cfg.ffn_dim, store)?,
            ff_out: Lin::new(vb.pp("ffn.net.2"), cfg.ffn_dim, dim, store)?,
            norm3: LayerNormF32::plain(dim, cfg.eps, &dev)?,
            scale_shift_table: vb
                .to_dtype(DType::F32)
                .get((1, 6, dim), "scale_shift_table")?,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        x: &Tensor,
        kv: &CrossKv,
        timestep_proj: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        capture: Option<(&Range<usize>, &Range<usize>)>,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let dtype = x.dtype();
        // (B, 6, dim) f32
        let m = self
            .scale_shift_table
            .broadcast_add(&timestep_proj.to_dtype(DType::F32)?)?;
        let chunk = |i: usize| m.narrow(1, i, 1);
        let (shift_msa, scale_msa, gate_msa) = (chunk(0)?, chunk(1)?, chunk(2)?);
        let (c_shift, c_scale, c_gate) = (chunk(3)?, chunk(4)?, chunk(5)?);

        // 1. Self-attention.
        let xf = x.to_dtype(DType::F32)?;
        let n = self
            .norm1
            .forward(&xf)?
            .broadcast_mul(&(scale_msa + 1.0)?)?
            .broadcast_add(&shift_msa)?
            .to_dtype(dtype)?;
        let a = self.attn1.self_attention(&n, cos, sin)?;
        let x = (xf + a.to_dtype(DType::F32)?.broadcast_mul(&gate_msa)?)?.to_dtype(dtype)?;

        // 2. Cross-attention.
        let n = match &self.norm2 {
            Some(norm) => norm.forward(&x)?.to_dtype(dtype)?,
            None => x.clone(),
        };
        let (a, probs) = self.attn2.cross_attention(&n, kv, capture)?;
        let x = (x + a)?;

        // 3. Feed-forward.
        let xf = x.to_dtype(DType::F32)?;
        let n = self
            .norm3
            .forward(&xf)?
            .broadcast_mul(&(c_scale + 1.0)?)?
            .broadcast_add(&c_shift)?
            .to_dtype(dtype)?;
        let f = self.ff_out.forward(&self.ff_in.forward(&n)?.gelu()?)?;
        let x = (xf + f.to_dtype(DType::F32)?.broadcast_mul(&c_gate)?)?.to_dtype(dtype)?;
        Ok((x, probs))
    }
}

#[derive(Debug, Clone)]
struct ImageEmbedder {
    pos_embed: Option<Tensor>,
    norm1: LayerNormF32,
    ff_in: Lin,
    ff_out: Lin,
    norm2: LayerNormF32,
}

impl ImageEmbedder {
    /// `FP32LayerNorm(in_features)` uses torch's default eps.
    const NORM_EPS: f64 = 1e-5;

    fn new(
        vb: VarBuilder,
        in_dim: usize,
        out_dim: usize,
        pos_len: Option<usize>,
        store: &LinearStore,
    ) -> Result<Self> {
        Ok(Self {
            pos_embed: match pos_len {
                Some(l) => Some(vb.get((1, l, in_dim), "pos_embed")?),
                None => None,
            },
            norm1: LayerNormF32::affine(vb.pp("norm1"), in_dim, Self::NORM_EPS)?,
            ff_in: Lin::new(vb.pp("ff.net.0.proj"), in_dim, in_dim, store)?,
            ff_out: Lin::new(vb.pp("ff.net.2"), in_dim, out_dim, store)?,
            norm2: LayerNormF32::affine(vb.pp("norm2"), out_dim, Self::NORM_EPS)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let x = match &self.pos_embed {
            Some(pe) => {
                // The reference folds pairs of images into one sequence of twice the length.
                let (b, s, d) = x.dims3()?;
                if b % 2 != 0 || 2 * s != pe.dim(1)? {
                    candle_core::bail!(
                        "image embedder: pos_embed has {} positions but encoder_hidden_states_image \
                         is {:?} (expected an even batch of {}-token images)",
                        pe.dim(1)?,
                        x.dims(),
                        pe.dim(1)? / 2
                    );
                }
                x.reshape((b / 2, 2 * s, d))?.broadcast_add(pe)?
            }
            None => x.clone(),
        };
        let h = self.norm1.forward(&x)?.to_dtype(dtype)?;
        let h = self.ff_out.forward(&self.ff_in.forward(&h)?.gelu_erf()?)?;
        self.norm2.forward(&h)?.to_dtype(dtype)
    }
}

/// diffusers' `ChronoEditTransformer3DModel`.
#[derive(Debug, Clone)]
pub struct ChronoEditTransformer3DModel {
    cfg: Config,
    dtype: DType,
    device: Device,
    rope: ChronoEditRotaryPosEmbed,
    /// Conv3d weight flattened to `(inner, Cin * pt * ph * pw)`.
    patch_w: Tensor,
    patch_b: Tensor,
    time_linear_1: Lin,
    time_linear_2: Lin,
    time_proj: Lin,
    text_linear_1: Lin,
    text_linear_2: Lin,
    image_embedder: Option<ImageEmbedder>,
    blocks: Vec<Block>,
    norm_out: LayerNormF32,
    proj_out: Lin,
    /// `(1, 2, inner)` f32.
    scale_shift_table: Tensor,
    /// Cross-attention K/V of the most recent contexts (a denoising loop reuses the same prompt and
    /// image embeddings at every step; with CFG there are two or three distinct contexts).
    context_cache: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Arc<ContextCache>>>>,
}

/// How many distinct contexts the model remembers (conditional, unconditional, and both batched).
const CONTEXT_CACHE_SLOTS: usize = 4;

impl ChronoEditTransformer3DModel {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Self::new_with_linears(cfg, vb, &LinearStore::new())
    }

    /// [`Self::new`] with the linear weights `store` holds (quantized or fp8, by their full diffusers
    /// names) taken from it instead of `vb`.
    pub fn new_with_linears(cfg: &Config, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        cfg.validate()?;
        let dtype = vb.dtype();
        let device = vb.device().clone();
        let inner = cfg.inner_dim();
        let [pt, ph, pw] = cfg.patch();
        let rope = ChronoEditRotaryPosEmbed::new(
            cfg.attention_head_dim,
            cfg.patch(),
            cfg.rope_max_seq_len,
            cfg.rope_temporal_skip_len,
        )?;
        let pvb = vb.pp("patch_embedding");
        let patch_w = pvb
            .get((inner, cfg.in_channels, pt, ph, pw), "weight")?
            .reshape((inner, cfg.in_channels * pt * ph * pw))?;
        let patch_b = pvb.get(inner, "bias")?;
        let cvb = vb.pp("condition_embedder");
        let tvb = cvb.pp("time_embedder").to_dtype(DType::F32);
        let image_embedder = match cfg.image_dim {
            Some(image_dim) => Some(ImageEmbedder::new(
                cvb.pp("image_embedder"),
                image_dim,
                inner,
                cfg.pos_embed_seq_len,
                store,
            )?),
            None => None,
        };
        let blocks = (0..cfg.num_layers)
            .map(|i| Block::new(vb.pp("blocks").pp(i), cfg, store))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            dtype,
            rope,
            patch_w,
            patch_b,
            time_linear_1: Lin::new(tvb.pp("linear_1"), cfg.freq_dim, inner, store)?,
            time_linear_2: Lin::new(tvb.pp("linear_2"), inner, inner, store)?,
            time_proj: Lin::new(cvb.pp("time_proj"), inner, 6 * inner, store)?,
            text_linear_1: Lin::new(cvb.pp("text_embedder.linear_1"), cfg.text_dim, inner, store)?,
            text_linear_2: Lin::new(cvb.pp("text_embedder.linear_2"), inner, inner, store)?,
            image_embedder,
            blocks,
            norm_out: LayerNormF32::plain(inner, cfg.eps, &device)?,
            proj_out: Lin::new(
                vb.pp("proj_out"),
                inner,
                cfg.out_channels() * pt * ph * pw,
                store,
            )?,
            scale_shift_table: vb
                .to_dtype(DType::F32)
                .get((1, 2, inner), "scale_shift_table")?,
            device,
            context_cache: Default::default(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The compute dtype (the `VarBuilder`'s dtype).
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn rope(&self) -> &ChronoEditRotaryPosEmbed {
        &self.rope
    }

    /// Token grid `[F', H', W']` after patching an input of `frames x height x width` latents; the
    /// token sequence is frame-major with `F' * H' * W'` tokens.
    pub fn patch_grid(&self, frames: usize, height: usize, width: usize) -> [usize; 3] {
        let [pt, ph, pw] = self.cfg.patch();
        [frames / pt, height / ph, width / pw]
    }

    /// The reference forward pass. `hidden_states` `(B, Cin, F, H, W)`, `timestep` `(B,)` (or `(1,)`),
    /// `encoder_hidden_states` `(B, L, text_dim)`, `encoder_hidden_states_image` `(B, Nimg, image_dim)`.
    /// Returns `(B, out_channels, F, H, W)` in the compute dtype.
    pub fn forward(
        &self,
        hidden_states: &Tensor,
        timestep: &Tensor,
        encoder_hidden_states: &Tensor,
        encoder_hidden_states_image: Option<&Tensor>,
    ) -> Result<Tensor> {
        Ok(self
            .forward_with(
                hidden_states,
                timestep,
                encoder_hidden_states,
                encoder_hidden_states_image,
                &ForwardOptions::default(),
            )?
            .sample)
    }

    /// The time embedding `temb` `(B, inner)` and the modulation every block reads,
    /// `timestep_proj` `(B, 6, inner)` (Wan's `e0`), in the compute dtype.
    fn time_condition(&self, timestep: &Tensor) -> Result<(Tensor, Tensor)> {
        let t_freq = self.timestep_embedding(timestep)?;
        let temb = self
            .time_linear_2
            .forward(&self.time_linear_1.forward(&t_freq)?.silu()?)?
            .to_dtype(self.dtype)?;
        let timestep_proj = self.time_proj.forward(&temb.silu()?)?.reshape((
            temb.dim(0)?,
            6,
            self.cfg.inner_dim(),
        ))?;
        Ok((temb, timestep_proj))
    }

    /// The timestep modulation of every block (`timestep_proj`, Wan's `e0`) for `timestep`, as
    /// the forward computes it: TeaCache's indicator input.
    pub fn timestep_modulation(&self, timestep: &Tensor) -> Result<Tensor> {
        Ok(self.time_condition(timestep)?.1)
    }

    /// Sinusoidal timestep embedding (`flip_sin_to_cos=True`, `downscale_freq_shift=0`) in f32,
    /// `(B, freq_dim)`, computed with the reference's f32 operation order.
    fn timestep_embedding(&self, timestep: &Tensor) -> Result<Tensor> {
        let t = timestep.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let dim = self.cfg.freq_dim;
        let half = dim / 2;
        let neg_log = -(10000f64.ln()) as f32;
        let freqs: Vec<f32> = (0..half)
            .map(|i| (neg_log * i as f32 / half as f32).exp())
            .collect();
        let mut out = vec![0f32; t.len() * dim];
        for (r, &tv) in t.iter().enumerate() {
            for (i, &f) in freqs.iter().enumerate() {
                let a = tv * f;
                out[r * dim + i] = a.cos();
                out[r * dim + half + i] = a.sin();
            }
        }
        Tensor::from_vec(out, (t.len(), dim), &self.device)
    }

    fn validate_inputs(
        &self,
        hidden_states: &Tensor,
        timestep: &Tensor,
        encoder_hidden_states: &Tensor,
    ) -> Result<(usize, [usize; 3], usize)> {
        let (b, c, f, h, w) = hidden_states.dims5().map_err(|_| {
            candle_core::Error::Msg(format!(
                "transformer: hidden_states must be (B, C, F, H, W), got {:?}",
                hidden_states.dims()
            ))
        })?;
        if c != self.cfg.in_channels {
            candle_core::bail!(
                "transformer: hidden_states has {c} channels, the model expects in_channels = {}",
                self.cfg.in_channels
            );
        }
        let [pt, ph, pw] = self.cfg.patch();
        let grid = [f / pt, h / ph, w / pw];
        if grid.iter().any(|&g| g == 0) {
            candle_core::bail!(
                "transformer: hidden_states {:?} is smaller than one patch {:?}",
                hidden_states.dims(),
                self.cfg.patch_size
            );
        }
        let tb = timestep.dims1().map_err(|_| {
            candle_core::Error::Msg(format!(
                "transformer: timestep must be 1-D (B,), got {:?}",
                timestep.dims()
            ))
        })?;
        if tb != b && tb != 1 {
            candle_core::bail!("transformer: timestep has {tb} entries for a batch of {b}");
        }
        let (eb, _, ed) = encoder_hidden_states.dims3().map_err(|_| {
            candle_core::Error::Msg(format!(
                "transformer: encoder_hidden_states must be (B, L, text_dim), got {:?}",
                encoder_hidden_states.dims()
            ))
        })?;
        if ed != self.cfg.text_dim || eb != b {
            candle_core::bail!(
                "transformer: encoder_hidden_states {:?} does not match batch {b} / text_dim {}",
                encoder_hidden_states.dims(),
                self.cfg.text_dim
            );
        }
        Ok((b, grid, f))
    }

    /// The embedded context and each block's cross-attention K/V, from the cache when the same
    /// context tensors were seen before (they are the same at every denoising step).
    fn cross_kv_for(
        &self,
        ehs: &Tensor,
        encoder_hidden_states: &Tensor,
        encoder_hidden_states_image: Option<&Tensor>,
        collapse_padding: bool,
    ) -> Result<std::sync::Arc<ContextCache>> {
        let key = (
            encoder_hidden_states.id(),
            encoder_hidden_states_image.map(|t| t.id()),
            collapse_padding,
        );
        // Trainable weights change between calls, so nothing computed from them may be reused.
        let trainable = super::tracks_grad(&[&self.patch_b]);
        if !trainable {
            let cache = self.context_cache.lock().map_err(|_| {
                candle_core::Error::Msg("transformer: context cache poisoned".into())
            })?;
            if let Some(hit) = cache.iter().find(|c| c.key == key) {
                return Ok(hit.clone());
            }
        }
        let text_len = ehs.dim(1)?;
        let padding = if collapse_padding {
            TextPadding::detect(ehs)?
        } else {
            None
        };
        // The reference splits image from text assuming TEXT_CONTEXT_LEN text rows.
        let (ehs, split_len) = match padding {
            Some(p) => (ehs.narrow(1, 0, p.keep + 1)?, p.keep + 1),
            None => (ehs.clone(), TEXT_CONTEXT_LEN),
        };
        let text_rows = ehs.dim(1)?;
        let text = self
            .text_linear_2
            .forward(&self.text_linear_1.forward(&ehs)?.gelu()?)?;
        let ctx = match encoder_hidden_states_image {
            Some(img) => {
                let emb = self.image_embedder.as_ref().ok_or_else(|| {
                    candle_core::Error::Msg(
                        "transformer: encoder_hidden_states_image given but the config has no \
                         image_dim (no image_embedder)"
                            .into(),
                    )
                })?;
                let img = emb.forward(&img.to_dtype(self.dtype)?)?;
                Tensor::cat(&[&img, &text], 1)?
            }
            None => text,
        };
        // One softmax over image and text without separate image projections: the bias then covers
        // the image rows with zeros. Built once for all blocks.
        let lead = match self.cfg.added_kv_proj_dim {
            Some(_) => 0,
            None => ctx.dim(1)? - text_rows,
        };
        let key_bias = padding
            .map(|p| p.key_bias(lead, &self.device))
            .transpose()?;
        let blocks = self
            .blocks
            .iter()
            .map(|b| {
                b.attn2
                    .cross_kv(&ctx, split_len, key_bias.as_ref(), padding)
            })
            .collect::<Result<Vec<_>>>()?;
        let entry = std::sync::Arc::new(ContextCache {
            key,
            ctx_len: ctx.dim(1)? - text_rows + text_len,
            blocks,
        });
        if trainable {
            return Ok(entry);
        }
        let mut cache = self
            .context_cache
            .lock()
            .map_err(|_| candle_core::Error::Msg("transformer: context cache poisoned".into()))?;
        if cache.len() >= CONTEXT_CACHE_SLOTS {
            cache.remove(0);
        }
        cache.push(entry.clone());
        Ok(entry)
    }

    /// `forward` with adaptive-inference hooks (see [`ForwardOptions`]).
    pub fn forward_with(
        &self,
        hidden_states: &Tensor,
        timestep: &Tensor,
        encoder_hidden_states: &Tensor,
        encoder_hidden_states_image: Option<&Tensor>,
        opts: &ForwardOptions,
    ) -> Result<ForwardOutput> {
        let (b, [ppf, pph, ppw], num_frames) =
            self.validate_inputs(hidden_states, timestep, encoder_hidden_states)?;
        let [pt, ph, pw] = self.cfg.patch();
        let cin = self.cfg.in_channels;
        let n_total = ppf * pph * ppw;

        // Rotary positions.
        let tpos = match &opts.temporal_positions {
            Some(p) => {
                if p.len() != ppf {
                    candle_core::bail!(
                        "transformer: {} temporal positions given for {ppf} latent frames",
                        p.len()
                    );
                }
                p.clone()
            }
            None => self.rope.default_temporal_positions(num_frames)?,
        };
        let keep = opts.token_keep.as_deref();
        if let Some(keep) = keep {
            if keep.is_empty() {
                candle_core::bail!("transformer: token_keep is empty");
            }
            if keep.windows(2).any(|w| w[0] >= w[1]) {
                candle_core::bail!("transformer: token_keep must be strictly increasing");
            }
            if keep[keep.len() - 1] as usize >= n_total {
                candle_core::bail!(
                    "transformer: token_keep index {} out of range for {n_total} tokens",
                    keep[keep.len() - 1]
                );
            }
        }
        let n = keep.map_or(n_total, |k| k.len());
        let (cos, sin) = self.rope.cos_sin(&tpos, pph, ppw, keep, &self.device)?;
        let keep_idx = match keep {
            Some(k) => Some(Tensor::from_slice(k, k.len(), &self.device)?),
            None => None,
        };

        // Patch embedding: Conv3d with kernel == stride as a matmul over flattened patches.
        let x = hidden_states
            .to_dtype(self.dtype)?
            .narrow(2, 0, ppf * pt)?
            .narrow(3, 0, pph * ph)?
            .narrow(4, 0, ppw * pw)?
            .reshape(vec![b, cin, ppf, pt, pph, ph, ppw, pw])?
            .permute(vec![0, 2, 4, 6, 1, 3, 5, 7])?
            .reshape((b, n_total, cin * pt * ph * pw))?;
        let x = match &keep_idx {
            Some(k) => x.index_select(k, 1)?,
            None => x,
        };
        let mut x = x
            .reshape((b * n, cin * pt * ph * pw))?
            .matmul(&self.patch_w.t()?)?
            .broadcast_add(&self.patch_b)?
            .reshape((b, n, self.cfg.inner_dim()))?;

        // Condition embeddings.
        let ehs = encoder_hidden_states.to_dtype(self.dtype)?;
        let (temb, timestep_proj) = self.time_condition(timestep)?;
        let kv = self.cross_kv_for(
            &ehs,
            encoder_hidden_states,
            encoder_hidden_states_image,
            !opts.keep_text_padding,
        )?;
        let ctx_len = kv.ctx_len;

        // Capture validation.
        let capture = match &opts.capture {
            Some(spec) => {
                let mut layers = spec.layers.clone();
                layers.sort_unstable();
                layers.dedup();
                if layers.is_empty() {
                    candle_core::bail!("transformer: capture.layers is empty");
                }
                if let Some(&l) = layers.iter().find(|&&l| l >= self.blocks.len()) {
                    candle_core::bail!(
                        "transformer: capture layer {l} out of range ({} blocks)",
                        self.blocks.len()
                    );
                }
                let (q, c) = (&spec.query_tokens, &spec.context_tokens);
                if q.is_empty() || q.end > n {
                    candle_core::bail!(
                        "transformer: capture.query_tokens {q:?} invalid for {n} computed tokens"
                    );
                }
                if c.is_empty() || c.end > ctx_len {
                    candle_core::bail!(
                        "transformer: capture.context_tokens {c:?} invalid for {ctx_len} context tokens"
                    );
                }
                Some((layers, q, c))
            }
            None => None,
        };

        // Transformer blocks, or the residual of an earlier step in their place.
        let mut captured: Option<Tensor> = None;
        let mut residual = None;
        if let Some(r) = &opts.reuse_residual {
            if capture.is_some() {
                candle_core::bail!(
                    "transformer: a capture needs the blocks to run, not a reused residual"
                );
            }
            if r.dims() != x.dims() {
                candle_core::bail!(
                    "transformer: reused residual has shape {:?}, the block input {:?}",
                    r.dims(),
                    x.dims()
                );
            }
            x = (&x + r.to_dtype(x.dtype())?)?;
        }
        let x_in = (opts.record_residual && opts.reuse_residual.is_none()).then(|| x.clone());
        let mut first_block = None;
        if opts.reuse_residual.is_none() {
            let run_block = |i: usize,
                             x: &Tensor,
                             captured: &mut Option<Tensor>|
             -> Result<Tensor> {
                let cap = match &capture {
                    Some((layers, q, c)) if layers.binary_search(&i).is_ok() => Some((*q, *c)),
                    _ => None,
                };
                let (y, probs) =
                    self.blocks[i].forward(x, &kv.blocks[i], &timestep_proj, &cos, &sin, cap)?;
                if let Some(p) = probs {
                    *captured = Some(match captured.take() {
                        Some(acc) => (acc + p)?,
                        None => p,
                    });
                }
                Ok(y)
            };
            let mut rest_from = 0;
            if let (Some(fb), false) = (&opts.first_block, self.blocks.is_empty()) {
                let head_in = x.clone();
                x = run_block(0, &x, &mut captured)?;
                rest_from = 1;
                let head = (&x - &head_in)?;
                let change = match &fb.head {
                    Some(prev) => relative_l1_per_row(&head, prev)?,
                    None => vec![f64::INFINITY; b],
                };
                let tail = fb.tail.as_ref().filter(|t| t.dims() == x.dims());
                let reuse = capture.is_none()
                    && fb.threshold > 0.0
                    && tail.is_some()
                    && change.iter().all(|&c| c < fb.threshold);
                first_block = Some((head, change, reuse, x.clone()));
                if reuse {
                    x = (&x + tail.expect("checked").to_dtype(x.dtype())?)?;
                    rest_from = self.blocks.len();
                }
            }
            for i in rest_from..self.blocks.len() {
                x = run_block(i, &x, &mut captured)?;
            }
        }
        let first_block = match first_block {
            Some((head, change, reused, head_out)) => Some(FirstBlockOutcome {
                change,
                reused,
                computed: if reused {
                    None
                } else {
                    Some((head, (&x - &head_out)?))
                },
            }),
            None => None,
        };
        if let Some(x_in) = x_in {
            residual = Some((&x - &x_in)?);
        }
        let cross_attention = match (captured, &capture) {
            (Some(acc), Some((layers, _, _))) => Some((acc / layers.len() as f64)?),
            _ => None,
        };

        // Output norm, projection and unpatchify.
        let m = self
            .scale_shift_table
            .broadcast_add(&temb.to_dtype(DType::F32)?.unsqueeze(1)?)?;
        let (shift, scale) = (m.narrow(1, 0, 1)?, m.narrow(1, 1, 1)?);
        let y = self
            .norm_out
            .forward(&x)?
            .broadcast_mul(&(scale + 1.0)?)?
            .broadcast_add(&shift)?
            .to_dtype(self.dtype)?;
        let y = self.proj_out.forward(&y)?;
        let y = match keep {
            Some(keep) => {
                // Dropped tokens read an appended zero row.
                let p = y.dim(2)?;
                let zeros = Tensor::zeros((b, 1, p), y.dtype(), &self.device)?;
                let mut inv = vec![n as u32; n_total];
                for (j, &t) in keep.iter().enumerate() {
                    inv[t as usize] = j as u32;
                }
                let inv = Tensor::from_vec(inv, n_total, &self.device)?;
                Tensor::cat(&[&y, &zeros], 1)?.index_select(&inv, 1)?
            }
            None => y,
        };
        let cout = self.cfg.out_channels();
        let sample = y
            .reshape(vec![b, ppf, pph, ppw, pt, ph, pw, cout])?
            .permute(vec![0, 7, 1, 4, 2, 5, 3, 6])?
            .reshape((b, cout, ppf * pt, pph * ph, ppw * pw))?;
        Ok(ForwardOutput {
            sample,
            cross_attention,
            residual,
            first_block,
        })
    }
}

#[cfg(test)]
mod first_block_tests {
    use super::*;

    #[test]
    fn relative_l1_is_measured_per_batch_row() {
        let dev = Device::Cpu;
        let prev = Tensor::new(
            &[[[1f32, -1.0], [2.0, -2.0]], [[1.0, 1.0], [1.0, 1.0]]],
            &dev,
        )
        .unwrap();
        let now = Tensor::new(
            &[[[1.5f32, -1.0], [2.0, -2.0]], [[1.0, 1.0], [1.0, 1.0]]],
            &dev,
        )
        .unwrap();
        // Row 0: mean|Δ| = 0.5 / 4, mean|prev| = 6 / 4 -> 1/12; row 1 unchanged.
        let c = relative_l1_per_row(&now, &prev).unwrap();
        assert!((c[0] - 1.0 / 12.0).abs() < 1e-7, "{c:?}");
        assert_eq!(c[1], 0.0);
        let zeros = Tensor::zeros((2, 2, 2), DType::F32, &dev).unwrap();
        assert!(relative_l1_per_row(&now, &zeros).unwrap()[0].is_infinite());
        let other = Tensor::zeros((2, 3, 2), DType::F32, &dev).unwrap();
        assert!(relative_l1_per_row(&other, &prev).unwrap()[1].is_infinite());
    }
}
