//! UMT5 encoder (transformers' `UMT5EncoderModel`), the text encoder of the ChronoEdit pipeline.
//!
//! Differences from T5 that matter here: every self-attention layer owns its own relative position
//! bias table (T5 shares the first layer's), scores are not scaled by `1/sqrt(d_kv)`, and the
//! feed-forward block is gated (`wi_0` through the activation times `wi_1`). Layer norms are T5-style
//! RMS norms computed in f32.
//!
//! Weight names follow the checkpoint: `shared.weight` (or `encoder.embed_tokens.weight` when the
//! checkpoint stores the tied copy instead), `encoder.block.N.layer.0.SelfAttention.{q,k,v,o}.weight`,
//! `encoder.block.N.layer.0.SelfAttention.relative_attention_bias.weight`,
//! `encoder.block.N.layer.0.layer_norm.weight`, `encoder.block.N.layer.1.DenseReluDense.{wi_0,wi_1,wo}.weight`
//! (or `wi` for a non-gated FFN), `encoder.block.N.layer.1.layer_norm.weight`, `encoder.final_layer_norm.weight`.
//!
//! Precision: the model computes in f32. The linear weights and the token embedding may be kept as the
//! checkpoint stores them ([`UMT5EncoderModel::new_with_stored`]: bf16/f16 dense, or float8 with a
//! per-tensor scale) and are widened per use; the embedding's rows are widened after the lookup. Both
//! are the same numbers as a model holding the widened weights (tests/it/encoders.rs checks a bf16 and
//! a scaled-fp8 tiny umT5 against transformers run with the dequantized weights).

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Embedding, VarBuilder};
use serde::Deserialize;

use crate::models::layers::activation;
use crate::models::linear::{Linear, LinearStore, LinearWeight};

/// Whether the checkpoint tensor `name` is one of umT5's linear weights (kept at its stored precision
/// by [`UMT5EncoderModel::new_with_stored`]).
pub fn is_linear_weight(name: &str) -> bool {
    name.ends_with(".weight")
        && (name.contains(".SelfAttention.") || name.contains(".DenseReluDense."))
        && !name.contains("relative_attention_bias")
}

/// Whether the checkpoint tensor `name` is the token embedding (kept at its stored float precision).
pub fn is_embedding(name: &str) -> bool {
    name.ends_with("shared.weight") || name.ends_with("encoder.embed_tokens.weight")
}

fn default_vocab_size() -> usize {
    250112
}
fn default_d_model() -> usize {
    512
}
fn default_d_kv() -> usize {
    64
}
fn default_d_ff() -> usize {
    1024
}
fn default_num_layers() -> usize {
    8
}
fn default_num_heads() -> usize {
    6
}
fn default_num_buckets() -> usize {
    32
}
fn default_max_distance() -> usize {
    128
}
fn default_eps() -> f64 {
    1e-6
}
fn default_ff_proj() -> String {
    "gated-gelu".to_string()
}

/// `text_encoder/config.json` (transformers' `UMT5Config`; defaults as in its definition).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default = "default_vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "default_d_model")]
    pub d_model: usize,
    #[serde(default = "default_d_kv")]
    pub d_kv: usize,
    #[serde(default = "default_d_ff")]
    pub d_ff: usize,
    #[serde(default = "default_num_layers")]
    pub num_layers: usize,
    #[serde(default = "default_num_heads")]
    pub num_heads: usize,
    #[serde(default = "default_num_buckets")]
    pub relative_attention_num_buckets: usize,
    #[serde(default = "default_max_distance")]
    pub relative_attention_max_distance: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "default_ff_proj")]
    pub feed_forward_proj: String,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_id: Option<serde_json::Value>,
}

impl Config {
    /// `(is_gated, activation name)` as `UMT5Config.__post_init__` derives them from `feed_forward_proj`
    /// (`"gated-gelu"` means the tanh-approximated `gelu_new`).
    pub fn ff_activation(&self) -> Result<(bool, String)> {
        let parts: Vec<&str> = self.feed_forward_proj.split('-').collect();
        let bad = || {
            candle_core::Error::Msg(format!(
                "umt5 config: invalid feed_forward_proj {:?} (expected \"gated-ACT\" or \"ACT\")",
                self.feed_forward_proj
            ))
        };
        match parts.as_slice() {
            [act] => Ok((false, act.to_string())),
            ["gated", act] => {
                let act = if *act == "gelu" { "gelu_new" } else { act };
                Ok((true, act.to_string()))
            }
            _ => Err(bad()),
        }
    }
}

/// T5 layer norm: `weight * x / sqrt(mean(x^2) + eps)`, statistics in f32, no mean subtraction, no bias.
#[derive(Debug, Clone)]
pub struct T5LayerNorm {
    weight: Tensor,
    eps: f64,
}

impl T5LayerNorm {
    pub fn new(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?,
            eps,
        })
    }
}

impl Module for T5LayerNorm {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let dtype = xs.dtype();
        let x32 = xs.to_dtype(DType::F32)?;
        let var = x32.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = x32.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        let normed = match self.weight.dtype() {
            DType::F16 | DType::BF16 => normed.to_dtype(self.weight.dtype())?,
            _ => normed,
        };
        let out = normed.broadcast_mul(&self.weight)?;
        if out.dtype() != dtype && dtype != DType::F32 {
            out.to_dtype(dtype)
        } else {
            Ok(out)
        }
    }
}

/// Bidirectional relative-position bucket (Mesh TensorFlow rule, as in transformers) for
/// `relative_position = key_pos - query_pos`. The logarithmic part is evaluated in f32 like the
/// reference so that bucket boundaries agree.
pub fn relative_position_bucket(
    relative_position: i64,
    num_buckets: usize,
    max_distance: usize,
) -> u32 {
    let num_buckets = (num_buckets / 2) as i64;
    let mut bucket = if relative_position > 0 {
        num_buckets
    } else {
        0
    };
    let rp = relative_position.abs();
    let max_exact = num_buckets / 2;
    if rp < max_exact {
        bucket += rp;
    } else {
        let ratio = (rp as f32 / max_exact as f32).ln()
            / ((max_distance as f64 / max_exact as f64).ln() as f32);
        let large = max_exact + (ratio * (num_buckets - max_exact) as f32) as i64;
        bucket += large.min(num_buckets - 1);
    }
    bucket as u32
}

#[derive(Debug, Clone)]
struct SelfAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    relative_attention_bias: Embedding,
    n_heads: usize,
    d_kv: usize,
}

impl SelfAttention {
    fn new(cfg: &Config, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        let inner = cfg.num_heads * cfg.d_kv;
        let lin = |i, o, n: &str| Linear::new_no_bias(vb.pp(n), i, o, store);
        Ok(Self {
            q: lin(cfg.d_model, inner, "q")?,
            k: lin(cfg.d_model, inner, "k")?,
            v: lin(cfg.d_model, inner, "v")?,
            o: lin(inner, cfg.d_model, "o")?,
            relative_attention_bias: candle_nn::embedding(
                cfg.relative_attention_num_buckets,
                cfg.num_heads,
                vb.pp("relative_attention_bias"),
            )?,
            n_heads: cfg.num_heads,
            d_kv: cfg.d_kv,
        })
    }

    /// Position bias `(1, H, L, L)` from this layer's bucket table.
    fn position_bias(&self, buckets: &Tensor, len: usize) -> Result<Tensor> {
        let values = self.relative_attention_bias.forward(buckets)?; // (L, L, H)
        values
            .permute((2, 0, 1))?
            .reshape((1, self.n_heads, len, len))
    }

    fn forward(&self, xs: &Tensor, buckets: &Tensor, mask_add: &Tensor) -> Result<Tensor> {
        let (b, l, _) = xs.dims3()?;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, l, self.n_heads, self.d_kv))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.q.forward(xs)?)?;
        let k = split(self.k.forward(xs)?)?;
        let v = split(self.v.forward(xs)?)?;
        // no 1/sqrt(d) scaling in UMT5
        let scores = q.matmul(&k.t()?)?;
        let bias = self.position_bias(buckets, l)?.to_dtype(scores.dtype())?;
        let scores = scores
            .broadcast_add(&bias)?
            .broadcast_add(&mask_add.to_dtype(scores.dtype())?)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v)?; // (B, H, L, d_kv)
        let out = out
            .transpose(1, 2)?
            .reshape((b, l, self.n_heads * self.d_kv))?;
        self.o.forward(&out)
    }
}

#[derive(Debug, Clone)]
struct FeedForward {
    wi_0: Option<Linear>,
    wi: Linear,
    wo: Linear,
    act: String,
}

impl FeedForward {
    fn new(cfg: &Config, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        let (gated, act) = cfg.ff_activation()?;
        let lin = |i, o, n: &str| Linear::new_no_bias(vb.pp(n), i, o, store);
        let (wi_0, wi) = if gated {
            (
                Some(lin(cfg.d_model, cfg.d_ff, "wi_0")?),
                lin(cfg.d_model, cfg.d_ff, "wi_1")?,
            )
        } else {
            (None, lin(cfg.d_model, cfg.d_ff, "wi")?)
        };
        Ok(Self {
            wi_0,
            wi,
            wo: lin(cfg.d_ff, cfg.d_model, "wo")?,
            act,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let h = match &self.wi_0 {
            Some(wi_0) => {
                let g = activation(&self.act, &wi_0.forward(xs)?)?;
                (g * self.wi.forward(xs)?)?
            }
            None => activation(&self.act, &self.wi.forward(xs)?)?,
        };
        self.wo.forward(&h)
    }
}

#[derive(Debug, Clone)]
struct Block {
    attn: SelfAttention,
    attn_norm: T5LayerNorm,
    ff: FeedForward,
    ff_norm: T5LayerNorm,
}

impl Block {
    fn new(cfg: &Config, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        let l0 = vb.pp("layer").pp("0");
        let l1 = vb.pp("layer").pp("1");
        Ok(Self {
            attn: SelfAttention::new(cfg, l0.pp("SelfAttention"), store)?,
            attn_norm: T5LayerNorm::new(cfg.d_model, cfg.layer_norm_epsilon, l0.pp("layer_norm"))?,
            ff: FeedForward::new(cfg, l1.pp("DenseReluDense"), store)?,
            ff_norm: T5LayerNorm::new(cfg.d_model, cfg.layer_norm_epsilon, l1.pp("layer_norm"))?,
        })
    }

    fn forward(&self, xs: &Tensor, buckets: &Tensor, mask_add: &Tensor) -> Result<Tensor> {
        let xs = (xs
            + self
                .attn
                .forward(&self.attn_norm.forward(xs)?, buckets, mask_add)?)?;
        &xs + self.ff.forward(&self.ff_norm.forward(&xs)?)?
    }
}

/// transformers' `UMT5EncoderModel`: token embedding, `num_layers` blocks, final RMS norm.
#[derive(Debug, Clone)]
pub struct UMT5EncoderModel {
    /// The table at its stored precision; looked-up rows are widened to the table's compute dtype.
    embed_tokens: Embedding,
    blocks: Vec<Block>,
    final_layer_norm: T5LayerNorm,
    cfg: Config,
}

impl UMT5EncoderModel {
    /// Every weight from `vb`, in its dtype.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Self::new_with_stored(cfg, vb, &LinearStore::new())
    }

    /// The linear weights (and a dense token embedding) found in `store` (by full name, see
    /// [`is_linear_weight`], [`is_embedding`]) as stored there; everything else from `vb`.
    pub fn new_with_stored(cfg: &Config, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        // The encoder's embedding is tied to `shared`; checkpoints store one of the two names.
        let emb_name = if vb.contains_tensor("shared.weight") {
            "shared"
        } else {
            "encoder.embed_tokens"
        };
        let table = match store.get(&format!("{emb_name}.weight")) {
            Some(LinearWeight::Dense(w)) => {
                if w.dims2()? != (cfg.vocab_size, cfg.d_model) {
                    candle_core::bail!(
                        "`{emb_name}.weight` has shape {:?}, expected [{}, {}]",
                        w.dims(),
                        cfg.vocab_size,
                        cfg.d_model
                    );
                }
                w.clone()
            }
            _ => vb
                .pp(emb_name)
                .get((cfg.vocab_size, cfg.d_model), "weight")?,
        };
        let embed_tokens = Embedding::new(table, cfg.d_model);
        let enc = vb.pp("encoder");
        let blocks = (0..cfg.num_layers)
            .map(|i| Block::new(cfg, enc.pp("block").pp(i), store))
            .collect::<Result<Vec<_>>>()?;
        let final_layer_norm = T5LayerNorm::new(
            cfg.d_model,
            cfg.layer_norm_epsilon,
            enc.pp("final_layer_norm"),
        )?;
        Ok(Self {
            embed_tokens,
            blocks,
            final_layer_norm,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The dtype of the computation: that of the final norm's weight (f32 as the pipeline loads it).
    fn compute_dtype(&self) -> DType {
        self.final_layer_norm.weight.dtype()
    }

    /// Bucket indices `(L, L)` u32 for a sequence of length `len`.
    fn buckets(&self, len: usize, device: &candle_core::Device) -> Result<Tensor> {
        let mut data = Vec::with_capacity(len * len);
        for q in 0..len as i64 {
            for k in 0..len as i64 {
                data.push(relative_position_bucket(
                    k - q,
                    self.cfg.relative_attention_num_buckets,
                    self.cfg.relative_attention_max_distance,
                ));
            }
        }
        Tensor::from_vec(data, (len, len), device)
    }

    /// `input_ids` `(B, L)` (u32 or i64), `attention_mask` `(B, L)` (any dtype, 1 = keep, 0 = padding).
    /// Returns `last_hidden_state` `(B, L, d_model)`.
    pub fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (b, l) = input_ids.dims2()?;
        let (mb, ml) = attention_mask.dims2()?;
        if (mb, ml) != (b, l) {
            candle_core::bail!(
                "umt5: attention_mask shape ({mb}, {ml}) does not match input_ids shape ({b}, {l})"
            );
        }
        if l == 0 {
            candle_core::bail!("umt5: empty input_ids (sequence length 0)");
        }
        let ids = input_ids.to_dtype(DType::U32)?;
        let max_id = ids.flatten_all()?.max(0)?.to_scalar::<u32>()?;
        if max_id as usize >= self.cfg.vocab_size {
            candle_core::bail!(
                "umt5: token id {max_id} out of range for vocab_size {}",
                self.cfg.vocab_size
            );
        }
        let mut xs = self.embed_tokens.forward(&ids)?;
        if xs.dtype() != self.compute_dtype() {
            xs = xs.to_dtype(self.compute_dtype())?;
        }
        let dev = xs.device().clone();
        // additive mask (B, 1, 1, L): 0 where kept, dtype-min where padded (as transformers does)
        let keep = attention_mask
            .to_dtype(DType::F32)?
            .ne(0f64)?
            .to_dtype(DType::F32)?;
        let mask_add = ((1.0 - keep)? * f32::MIN as f64)?.reshape((b, 1, 1, l))?;
        let buckets = self.buckets(l, &dev)?;
        for block in &self.blocks {
            xs = block.forward(&xs, &buckets, &mask_add)?;
        }
        self.final_layer_norm.forward(&xs)
    }
}
