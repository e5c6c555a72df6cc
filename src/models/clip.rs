//! transformers' `CLIPModel` (text tower, vision tower, projections), used for CLIP scoring of edits.
//!
//! A pure model: [`ClipModel::new`] builds it from `config.json` (`CLIPConfig`: `text_config`,
//! `vision_config`, `projection_dim`) and its weights. The folder loading that pairs it with its
//! tokenizer and image processor is `eval::clip_score::ClipEmbedder`.
//!
//! Weight names: `text_model.embeddings.{token_embedding, position_embedding}.weight`,
//! `text_model.encoder.layers.N.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2}.*`,
//! `text_model.final_layer_norm.*`, `vision_model.*` (see [`crate::models::clip_vision`]),
//! `text_projection.weight`, `visual_projection.weight` (no biases).
//!
//! [`ClipModel::text_features`] / [`ClipModel::image_features`] return what `get_text_features` /
//! `get_image_features` return: the projected, not normalised, pooled embeddings. Text pooling follows
//! transformers exactly: with `eos_token_id == 2` (configs written before transformers PR #24773) the
//! position of the largest input id (first one on ties), otherwise the first position holding
//! `eos_token_id`.

use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Embedding, Linear, VarBuilder};
use serde::Deserialize;

use crate::models::clip_vision::{self, ClipVisionTransformer, EncoderLayer, LayerDims};
use crate::models::layers::{activation, LayerNorm32};
use crate::models::linear::LinearStore;

fn d_vocab() -> usize {
    49408
}
fn d_hidden() -> usize {
    512
}
fn d_inter() -> usize {
    2048
}
fn d_layers() -> usize {
    12
}
fn d_heads() -> usize {
    8
}
fn d_max_pos() -> usize {
    77
}
fn d_act() -> String {
    "quick_gelu".to_string()
}
fn d_eps() -> f64 {
    1e-5
}
fn d_eos() -> Option<serde_json::Value> {
    Some(serde_json::Value::from(49407))
}
fn d_projection() -> usize {
    512
}
fn d_logit_scale() -> f64 {
    2.6592
}

/// `text_config` of `config.json` (transformers' `CLIPTextConfig`; defaults as in its definition).
#[derive(Debug, Clone, Deserialize)]
pub struct ClipTextConfig {
    #[serde(default = "d_vocab")]
    pub vocab_size: usize,
    #[serde(default = "d_hidden")]
    pub hidden_size: usize,
    #[serde(default = "d_inter")]
    pub intermediate_size: usize,
    #[serde(default = "d_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "d_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default = "d_act")]
    pub hidden_act: String,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    /// An integer in every working config; kept raw to report anything else clearly.
    #[serde(default = "d_eos")]
    pub eos_token_id: Option<serde_json::Value>,
}

impl ClipTextConfig {
    /// The end token id used by the pooling rule.
    pub fn eos_id(&self) -> std::result::Result<u32, String> {
        match &self.eos_token_id {
            Some(serde_json::Value::Number(n)) => n
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| format!("text_config.eos_token_id {n} is not a token id")),
            other => Err(format!(
                "text_config.eos_token_id must be one integer, got {}",
                other
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "null".into())
            )),
        }
    }
}

/// `config.json` of a `CLIPModel` (transformers' `CLIPConfig`).
#[derive(Debug, Clone, Deserialize)]
pub struct ClipConfig {
    #[serde(default)]
    text_config: Option<serde_json::Value>,
    #[serde(default)]
    vision_config: Option<serde_json::Value>,
    /// Older configs: when present, replaces `text_config` (see [`ClipConfig::text`]).
    #[serde(default)]
    text_config_dict: Option<serde_json::Value>,
    #[serde(default)]
    vision_config_dict: Option<serde_json::Value>,
    #[serde(default = "d_projection")]
    pub projection_dim: usize,
    #[serde(default = "d_logit_scale")]
    pub logit_scale_init_value: f64,
}

impl ClipConfig {
    /// The text tower's config (`CLIPTextConfig` defaults where `text_config` is absent or partial;
    /// a `text_config_dict` entry replaces it, as in transformers).
    pub fn text(&self) -> std::result::Result<ClipTextConfig, serde_json::Error> {
        serde_json::from_value(merged(&self.text_config, &self.text_config_dict)?)
    }

    /// The vision tower's config (`CLIPVisionConfig` defaults where `vision_config` is absent or
    /// partial; a `vision_config_dict` entry replaces it).
    pub fn vision(&self) -> std::result::Result<clip_vision::Config, serde_json::Error> {
        serde_json::from_value(merged(&self.vision_config, &self.vision_config_dict)?)
    }
}

/// transformers' rule: a `*_config_dict` entry, when present, is expanded with the class defaults and
/// replaces every value of `*_config`; otherwise `*_config` (with the defaults) is used.
fn merged(
    base: &Option<serde_json::Value>,
    over: &Option<serde_json::Value>,
) -> std::result::Result<serde_json::Value, serde_json::Error> {
    use serde::de::Error as _;
    let chosen = match over {
        None | Some(serde_json::Value::Null) => base,
        Some(_) => over,
    };
    match chosen {
        None | Some(serde_json::Value::Null) => Ok(serde_json::json!({})),
        Some(v @ serde_json::Value::Object(_)) => Ok(v.clone()),
        Some(other) => Err(serde_json::Error::custom(format!(
            "expected an object, got {other}"
        ))),
    }
}

/// transformers' `CLIPTextTransformer`: token + position embeddings, causal encoder layers,
/// `final_layer_norm`, EOS pooling.
#[derive(Debug, Clone)]
pub struct ClipTextTransformer {
    token_embedding: Embedding,
    position_embedding: Tensor,
    layers: Vec<EncoderLayer>,
    final_layer_norm: LayerNorm32,
    eos_token_id: u32,
    cfg: ClipTextConfig,
}

impl ClipTextTransformer {
    /// `vb` points at the tower's root (where `embeddings.token_embedding.weight` lives).
    pub fn new(cfg: &ClipTextConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            candle_core::bail!(
                "clip text config: hidden_size {} not divisible by num_attention_heads {}",
                cfg.hidden_size,
                cfg.num_attention_heads
            );
        }
        if cfg.max_position_embeddings == 0 {
            candle_core::bail!("clip text config: max_position_embeddings is 0");
        }
        let eos_token_id = cfg.eos_id().map_err(candle_core::Error::Msg)?;
        // the activation name is checked here, not at the first forward
        activation(&cfg.hidden_act, &Tensor::zeros(1, DType::F32, vb.device())?)
            .map_err(|e| candle_core::Error::Msg(format!("clip text config: hidden_act: {e}")))?;
        let emb = vb.pp("embeddings");
        let token_embedding =
            candle_nn::embedding(cfg.vocab_size, cfg.hidden_size, emb.pp("token_embedding"))?;
        let position_embedding = emb
            .pp("position_embedding")
            .get((cfg.max_position_embeddings, cfg.hidden_size), "weight")?;
        let dims = LayerDims {
            hidden: cfg.hidden_size,
            intermediate: cfg.intermediate_size,
            heads: cfg.num_attention_heads,
            eps: cfg.layer_norm_eps,
            act: &cfg.hidden_act,
        };
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                EncoderLayer::new(
                    &dims,
                    vb.pp("encoder").pp("layers").pp(i),
                    &LinearStore::new(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            token_embedding,
            position_embedding,
            layers,
            final_layer_norm: LayerNorm32::new(
                cfg.hidden_size,
                cfg.layer_norm_eps,
                vb.pp("final_layer_norm"),
            )?,
            eos_token_id,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &ClipTextConfig {
        &self.cfg
    }

    /// `(last_hidden_state (B, S, D) after final_layer_norm, pooler_output (B, D))` for `input_ids`
    /// `(B, S)` (u32 or i64), no padding mask (as `get_text_features(input_ids)` without a mask).
    pub fn forward(&self, input_ids: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, s) = input_ids.dims2()?;
        if s == 0 {
            candle_core::bail!("clip text: empty input_ids");
        }
        if s > self.cfg.max_position_embeddings {
            candle_core::bail!(
                "clip text: sequence length {s} exceeds max_position_embeddings {}",
                self.cfg.max_position_embeddings
            );
        }
        let ids = input_ids.to_dtype(DType::U32)?;
        let ids_host: Vec<Vec<u32>> = ids.to_vec2()?;
        if let Some(bad) = ids_host
            .iter()
            .flatten()
            .find(|&&t| t as usize >= self.cfg.vocab_size)
        {
            candle_core::bail!(
                "clip text: token id {bad} outside the vocabulary ({} entries)",
                self.cfg.vocab_size
            );
        }
        let tokens = self.token_embedding.forward(&ids)?;
        let pos = self.position_embedding.narrow(0, 0, s)?.unsqueeze(0)?;
        let mut xs = tokens.broadcast_add(&pos.to_dtype(tokens.dtype())?)?;
        let mask = causal_mask(s, xs.device())?;
        for layer in &self.layers {
            xs = layer.forward(&xs, Some(&mask))?;
        }
        let last = self.final_layer_norm.forward(&xs)?;
        let pooled = (0..b)
            .map(|i| {
                let p = pool_position(&ids_host[i], self.eos_token_id);
                last.i((i, p))
            })
            .collect::<Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&pooled, 0)?;
        Ok((last, pooled))
    }
}

/// transformers' pooling position for one sequence: legacy configs (`eos_token_id == 2`) take the
/// argmax of the ids (first maximum), others the first position equal to `eos_token_id` (position 0
/// when there is none, which is what `argmax` over an all-zero comparison gives).
pub fn pool_position(ids: &[u32], eos_token_id: u32) -> usize {
    if eos_token_id == 2 {
        let mut best = 0;
        for (i, &t) in ids.iter().enumerate() {
            if t > ids[best] {
                best = i;
            }
        }
        best
    } else {
        ids.iter().position(|&t| t == eos_token_id).unwrap_or(0)
    }
}

fn causal_mask(s: usize, device: &Device) -> Result<Tensor> {
    let data: Vec<f32> = (0..s)
        .flat_map(|i| (0..s).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(data, (s, s), device)
}

/// A full CLIP model: both towers and their projections.
#[derive(Debug, Clone)]
pub struct ClipModel {
    text_model: ClipTextTransformer,
    vision_model: ClipVisionTransformer,
    text_projection: Linear,
    visual_projection: Linear,
    config: ClipConfig,
}

impl ClipModel {
    /// `vb` points at the checkpoint's root (where `text_model.*` and `text_projection.weight` live).
    pub fn new(cfg: &ClipConfig, vb: VarBuilder) -> Result<Self> {
        let text_cfg = cfg
            .text()
            .map_err(|e| candle_core::Error::Msg(format!("invalid text_config: {e}")))?;
        let vision_cfg = cfg
            .vision()
            .map_err(|e| candle_core::Error::Msg(format!("invalid vision_config: {e}")))?;
        let text_model = ClipTextTransformer::new(&text_cfg, vb.pp("text_model"))?;
        let vision_model =
            ClipVisionTransformer::new(&vision_cfg, vb.pp("vision_model"), &LinearStore::new())?;
        let text_projection = candle_nn::linear_no_bias(
            text_cfg.hidden_size,
            cfg.projection_dim,
            vb.pp("text_projection"),
        )?;
        let visual_projection = candle_nn::linear_no_bias(
            vision_cfg.hidden_size,
            cfg.projection_dim,
            vb.pp("visual_projection"),
        )?;
        Ok(Self {
            text_model,
            vision_model,
            text_projection,
            visual_projection,
            config: cfg.clone(),
        })
    }

    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    pub fn text_model(&self) -> &ClipTextTransformer {
        &self.text_model
    }

    pub fn vision_model(&self) -> &ClipVisionTransformer {
        &self.vision_model
    }

    /// `get_text_features(input_ids)`: `(B, projection_dim)`.
    pub fn text_features(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (_, pooled) = self.text_model.forward(input_ids)?;
        self.text_projection.forward(&pooled)
    }

    /// `get_image_features(pixel_values)`: `(B, projection_dim)`.
    pub fn image_features(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let (_, pooled) = self.vision_model.forward(pixel_values)?;
        self.visual_projection.forward(&pooled)
    }
}
