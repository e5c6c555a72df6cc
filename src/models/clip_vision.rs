//! CLIP vision tower (transformers' `CLIPVisionModel`), the image encoder of the ChronoEdit pipeline,
//! which conditions on the penultimate hidden state (`hidden_states[-2]`).
//!
//! Weight names: `embeddings.{class_embedding, patch_embedding.weight, position_embedding.weight}`,
//! `pre_layrnorm.*`, `encoder.layers.N.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1,
//! mlp.fc2}.*`, `post_layernorm.*`, all under `vision_model.` in checkpoints written by transformers 4.x
//! and in full `CLIPModel` checkpoints, and without that prefix in `CLIPVisionModel` checkpoints written
//! by transformers 5. [`ClipVisionModel::new`] accepts both; [`ClipVisionTransformer`] is the tower
//! itself, built at whatever prefix the caller chooses (for a full CLIP model with projections).
//! ComfyUI's `clip_vision_h.safetensors` uses the same names under `vision_model.` (ComfyUI's
//! `clip_vision.py` detects ViT-H by `vision_model.encoder.layers.30.layer_norm1.weight`) and adds a
//! `visual_projection.weight`, which the tower does not read.
//!
//! Precision: the tower computes in f32; its linear weights may be kept as stored
//! ([`ClipVisionModel::new_with_stored`]: f16/bf16, or float8 with a per-tensor scale) and are widened
//! per use, the same numbers as a tower holding the widened weights (tests/it/encoders.rs).

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};
use serde::Deserialize;

use crate::models::layers::{activation, LayerNorm32};
use crate::models::linear::{Linear, LinearStore};

/// Whether the checkpoint tensor `name` is one of the encoder layers' linear weights (kept at its
/// stored precision by [`ClipVisionModel::new_with_stored`]).
pub fn is_linear_weight(name: &str) -> bool {
    name.ends_with("_proj.weight") && name.contains(".self_attn.")
        || name.ends_with(".mlp.fc1.weight")
        || name.ends_with(".mlp.fc2.weight")
}

fn d_hidden() -> usize {
    768
}
fn d_inter() -> usize {
    3072
}
fn d_proj() -> usize {
    512
}
fn d_layers() -> usize {
    12
}
fn d_heads() -> usize {
    12
}
fn d_channels() -> usize {
    3
}
fn d_image() -> usize {
    224
}
fn d_patch() -> usize {
    32
}
fn d_act() -> String {
    "quick_gelu".to_string()
}
fn d_eps() -> f64 {
    1e-5
}

/// `image_encoder/config.json` (transformers' `CLIPVisionConfig`; defaults as in its definition).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default = "d_hidden")]
    pub hidden_size: usize,
    #[serde(default = "d_inter")]
    pub intermediate_size: usize,
    #[serde(default = "d_proj")]
    pub projection_dim: usize,
    #[serde(default = "d_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "d_channels")]
    pub num_channels: usize,
    #[serde(default = "d_image")]
    pub image_size: usize,
    #[serde(default = "d_patch")]
    pub patch_size: usize,
    #[serde(default = "d_act")]
    pub hidden_act: String,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
}

/// Sizes of one CLIP encoder layer (the vision and the text towers share the layer).
#[derive(Debug, Clone)]
pub(crate) struct LayerDims<'a> {
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub eps: f64,
    pub act: &'a str,
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
    head_dim: usize,
    scale: f64,
}

impl Attention {
    fn new(dims: &LayerDims, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        let d = dims.hidden;
        if dims.heads == 0 || !d.is_multiple_of(dims.heads) {
            candle_core::bail!(
                "clip config: hidden_size {d} not divisible by num_attention_heads {}",
                dims.heads
            );
        }
        let head_dim = d / dims.heads;
        Ok(Self {
            q_proj: Linear::new(vb.pp("q_proj"), d, d, store)?,
            k_proj: Linear::new(vb.pp("k_proj"), d, d, store)?,
            v_proj: Linear::new(vb.pp("v_proj"), d, d, store)?,
            out_proj: Linear::new(vb.pp("out_proj"), d, d, store)?,
            heads: dims.heads,
            head_dim,
            scale: (head_dim as f64).powf(-0.5),
        })
    }

    /// `mask`: an additive `(S, S)` mask (the text tower's causal mask), or none.
    fn forward(&self, xs: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, n, d) = xs.dims3()?;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, n, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.q_proj.forward(xs)?)?;
        let k = split(self.k_proj.forward(xs)?)?;
        let v = split(self.v_proj.forward(xs)?)?;
        let mut scores = (q.matmul(&k.t()?)? * self.scale)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(&mask.to_dtype(scores.dtype())?)?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, n, d))?;
        self.out_proj.forward(&out)
    }
}

/// transformers' `CLIPEncoderLayer`: pre-norm self-attention and MLP with residuals.
#[derive(Debug, Clone)]
pub(crate) struct EncoderLayer {
    layer_norm1: LayerNorm32,
    self_attn: Attention,
    layer_norm2: LayerNorm32,
    fc1: Linear,
    fc2: Linear,
    act: String,
}

impl EncoderLayer {
    pub(crate) fn new(dims: &LayerDims, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        let (d, i, eps) = (dims.hidden, dims.intermediate, dims.eps);
        Ok(Self {
            layer_norm1: LayerNorm32::new(d, eps, vb.pp("layer_norm1"))?,
            self_attn: Attention::new(dims, vb.pp("self_attn"), store)?,
            layer_norm2: LayerNorm32::new(d, eps, vb.pp("layer_norm2"))?,
            fc1: Linear::new(vb.pp("mlp").pp("fc1"), d, i, store)?,
            fc2: Linear::new(vb.pp("mlp").pp("fc2"), i, d, store)?,
            act: dims.act.to_string(),
        })
    }

    pub(crate) fn forward(&self, xs: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let attn = self
            .self_attn
            .forward(&self.layer_norm1.forward(xs)?, mask)?;
        let h = (xs + attn)?;
        let m = self.fc1.forward(&self.layer_norm2.forward(&h)?)?;
        let m = activation(&self.act, &m)?;
        &h + self.fc2.forward(&m)?
    }
}

/// The vision tower: patch + class + position embeddings, `pre_layrnorm`, encoder layers,
/// `post_layernorm` (applied to the class token only, as in transformers).
#[derive(Debug, Clone)]
pub struct ClipVisionTransformer {
    class_embedding: Tensor,
    patch_embedding: Conv2d,
    position_embedding: Tensor,
    pre_layrnorm: LayerNorm32,
    layers: Vec<EncoderLayer>,
    post_layernorm: LayerNorm32,
    cfg: Config,
}

impl ClipVisionTransformer {
    /// `vb` points at the tower's root (where `embeddings.class_embedding` lives); linear weights
    /// found in `store` (by full name) are used as stored there.
    pub fn new(cfg: &Config, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        if cfg.patch_size == 0 || !cfg.image_size.is_multiple_of(cfg.patch_size) {
            candle_core::bail!(
                "clip vision config: image_size {} is not a multiple of patch_size {}",
                cfg.image_size,
                cfg.patch_size
            );
        }
        // the activation name is checked here, not at the first forward
        activation(&cfg.hidden_act, &Tensor::zeros(1, DType::F32, vb.device())?)
            .map_err(|e| candle_core::Error::Msg(format!("clip vision config: hidden_act: {e}")))?;
        let emb = vb.pp("embeddings");
        let num_positions = (cfg.image_size / cfg.patch_size).pow(2) + 1;
        let conv_cfg = Conv2dConfig {
            stride: cfg.patch_size,
            ..Default::default()
        };
        let patch_embedding = candle_nn::conv2d_no_bias(
            cfg.num_channels,
            cfg.hidden_size,
            cfg.patch_size,
            conv_cfg,
            emb.pp("patch_embedding"),
        )?;
        let dims = LayerDims {
            hidden: cfg.hidden_size,
            intermediate: cfg.intermediate_size,
            heads: cfg.num_attention_heads,
            eps: cfg.layer_norm_eps,
            act: &cfg.hidden_act,
        };
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| EncoderLayer::new(&dims, vb.pp("encoder").pp("layers").pp(i), store))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            class_embedding: emb.get(cfg.hidden_size, "class_embedding")?,
            patch_embedding,
            position_embedding: emb
                .pp("position_embedding")
                .get((num_positions, cfg.hidden_size), "weight")?,
            pre_layrnorm: LayerNorm32::new(
                cfg.hidden_size,
                cfg.layer_norm_eps,
                vb.pp("pre_layrnorm"),
            )?,
            layers,
            post_layernorm: LayerNorm32::new(
                cfg.hidden_size,
                cfg.layer_norm_eps,
                vb.pp("post_layernorm"),
            )?,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Embeddings after `pre_layrnorm`: `(B, 1 + patches, hidden)`.
    fn embed(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = pixel_values.dims4()?;
        let s = self.cfg.image_size;
        if c != self.cfg.num_channels || h != s || w != s {
            candle_core::bail!(
                "clip vision: pixel_values shape ({b}, {c}, {h}, {w}) does not match the model's ({b}, {}, {s}, {s})",
                self.cfg.num_channels
            );
        }
        let dtype = self.class_embedding.dtype();
        let patches = self
            .patch_embedding
            .forward(&pixel_values.to_dtype(dtype)?)?; // (B, D, g, g)
        let patches = patches.flatten_from(2)?.transpose(1, 2)?; // (B, g*g, D)
        let d = self.cfg.hidden_size;
        let cls = self
            .class_embedding
            .reshape((1, 1, d))?
            .broadcast_as((b, 1, d))?;
        let emb = Tensor::cat(&[&cls, &patches], 1)?;
        let emb = emb.broadcast_add(&self.position_embedding.unsqueeze(0)?)?;
        self.pre_layrnorm.forward(&emb)
    }

    /// All hidden states, indexed as transformers' `output_hidden_states=True`: element 0 is the
    /// embedding output (after `pre_layrnorm`), element `i` the output of encoder layer `i - 1`;
    /// `num_hidden_layers + 1` tensors of shape `(B, 1 + patches, hidden)`.
    pub fn hidden_states(&self, pixel_values: &Tensor) -> Result<Vec<Tensor>> {
        self.hidden_states_upto(pixel_values, self.layers.len())
    }

    /// Hidden states 0..=`n_layers` (runs only the first `n_layers` encoder layers).
    fn hidden_states_upto(&self, pixel_values: &Tensor, n_layers: usize) -> Result<Vec<Tensor>> {
        let mut xs = self.embed(pixel_values)?;
        let mut out = Vec::with_capacity(n_layers + 1);
        out.push(xs.clone());
        for layer in self.layers.iter().take(n_layers) {
            xs = layer.forward(&xs, None)?;
            out.push(xs.clone());
        }
        Ok(out)
    }

    /// `hidden_states[-2]`: the output of the second-to-last encoder layer (the last layer is not run).
    pub fn penultimate_hidden_state(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let n = self.layers.len();
        if n == 0 {
            candle_core::bail!("clip vision: no encoder layers, hidden_states[-2] does not exist");
        }
        let mut hs = self.hidden_states_upto(pixel_values, n - 1)?;
        hs.pop()
            .ok_or_else(|| candle_core::Error::Msg("clip vision: empty hidden states".into()))
    }

    /// `(last_hidden_state, pooler_output)`: the last layer's output (no final norm) and
    /// `post_layernorm` of its class token.
    pub fn forward(&self, pixel_values: &Tensor) -> Result<(Tensor, Tensor)> {
        let last = self
            .hidden_states(pixel_values)?
            .pop()
            .ok_or_else(|| candle_core::Error::Msg("clip vision: empty hidden states".into()))?;
        let pooled = self
            .post_layernorm
            .forward(&last.narrow(1, 0, 1)?.squeeze(1)?)?;
        Ok((last, pooled))
    }
}

/// transformers' `CLIPVisionModel` as loaded from `image_encoder/`.
#[derive(Debug, Clone)]
pub struct ClipVisionModel {
    vision_model: ClipVisionTransformer,
}

impl ClipVisionModel {
    /// Accepts weights with or without the `vision_model.` prefix.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Self::new_with_stored(cfg, vb, &LinearStore::new())
    }

    /// [`Self::new`] with the linear weights found in `store` (by full name, see
    /// [`is_linear_weight`]) as stored there.
    pub fn new_with_stored(cfg: &Config, vb: VarBuilder, store: &LinearStore) -> Result<Self> {
        let vb = if vb.contains_tensor("vision_model.embeddings.class_embedding") {
            vb.pp("vision_model")
        } else {
            vb
        };
        Ok(Self {
            vision_model: ClipVisionTransformer::new(cfg, vb, store)?,
        })
    }

    pub fn vision_model(&self) -> &ClipVisionTransformer {
        &self.vision_model
    }

    /// See [`ClipVisionTransformer::hidden_states`].
    pub fn hidden_states(&self, pixel_values: &Tensor) -> Result<Vec<Tensor>> {
        self.vision_model.hidden_states(pixel_values)
    }

    /// `hidden_states[-2]` `(B, 1 + patches, hidden)`, what ChronoEdit's `encode_image` returns.
    pub fn penultimate_hidden_state(&self, pixel_values: &Tensor) -> Result<Tensor> {
        self.vision_model.penultimate_hidden_state(pixel_values)
    }

    /// `(last_hidden_state, pooler_output)`.
    pub fn forward(&self, pixel_values: &Tensor) -> Result<(Tensor, Tensor)> {
        self.vision_model.forward(pixel_values)
    }
}
