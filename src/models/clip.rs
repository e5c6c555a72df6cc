//! transformers' `CLIPModel` (text tower, vision tower, projections) as loaded from an HF-layout folder,
//! used for CLIP scoring of edits.
//!
//! Folder: `config.json` (`CLIPConfig`: `text_config`, `vision_config`, `projection_dim`),
//! `model.safetensors` (or shards), `tokenizer.json`, `preprocessor_config.json` (or, as transformers 5
//! writes it, the `image_processor` entry of `processor_config.json`).
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

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Embedding, Linear, VarBuilder};
use image::DynamicImage;
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::models::clip_vision::{self, ClipVisionTransformer, EncoderLayer, LayerDims};
use crate::models::layers::{activation, LayerNorm32};
use crate::processors::image::ClipImageProcessor;

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
            .map(|i| EncoderLayer::new(&dims, vb.pp("encoder").pp("layers").pp(i)))
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

/// A full CLIP model with its tokenizer and image processor.
pub struct ClipModel {
    text_model: ClipTextTransformer,
    vision_model: ClipVisionTransformer,
    text_projection: Linear,
    visual_projection: Linear,
    tokenizer: Tokenizer,
    image_processor: ClipImageProcessor,
    config: ClipConfig,
    device: Device,
    dir: PathBuf,
}

impl std::fmt::Debug for ClipModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipModel")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClipModel {
    /// Loads a `CLIPModel` folder on the CPU in f32.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        Self::load_on(dir, &Device::Cpu, DType::F32)
    }

    /// Loads a `CLIPModel` folder on `device`, weights in `dtype` (layer norms always in f32).
    pub fn load_on(dir: &Path, device: &Device, dtype: DType) -> anyhow::Result<Self> {
        if !dir.is_dir() {
            bail!("CLIP model folder {} does not exist", dir.display());
        }
        let cfg_path = dir.join("config.json");
        let config: ClipConfig = crate::checkpoint::read_config(&cfg_path)?;
        let text_cfg = config
            .text()
            .with_context(|| format!("invalid text_config in {}", cfg_path.display()))?;
        let vision_cfg = config
            .vision()
            .with_context(|| format!("invalid vision_config in {}", cfg_path.display()))?;
        text_cfg
            .eos_id()
            .map_err(|e| anyhow!("{}: {e}", cfg_path.display()))?;

        let vb = crate::checkpoint::var_builder(dir, dtype, device)?;
        let weights = || format!("loading the CLIP weights in {}", dir.display());
        let text_model =
            ClipTextTransformer::new(&text_cfg, vb.pp("text_model")).with_context(weights)?;
        let vision_model =
            ClipVisionTransformer::new(&vision_cfg, vb.pp("vision_model")).with_context(weights)?;
        let text_projection = candle_nn::linear_no_bias(
            text_cfg.hidden_size,
            config.projection_dim,
            vb.pp("text_projection"),
        )
        .with_context(weights)?;
        let visual_projection = candle_nn::linear_no_bias(
            vision_cfg.hidden_size,
            config.projection_dim,
            vb.pp("visual_projection"),
        )
        .with_context(weights)?;

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| anyhow!("cannot load tokenizer {}: {e}", tok_path.display()))?;
        // as transformers' tokenizer(text, truncation=True, max_length=max_position_embeddings):
        // no padding, right truncation keeping room for the special tokens
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: text_cfg.max_position_embeddings,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| anyhow!("tokenizer {}: setting truncation: {e}", tok_path.display()))?;
        tokenizer.with_padding(None);

        let image_processor = load_image_processor(dir)?;
        if image_processor.do_center_crop
            && (image_processor.crop_size.0 != vision_cfg.image_size
                || image_processor.crop_size.1 != vision_cfg.image_size)
        {
            bail!(
                "{}: crop_size {:?} does not match vision_config.image_size {} in {}",
                dir.display(),
                image_processor.crop_size,
                vision_cfg.image_size,
                cfg_path.display()
            );
        }
        Ok(Self {
            text_model,
            vision_model,
            text_projection,
            visual_projection,
            tokenizer,
            image_processor,
            config,
            device: device.clone(),
            dir: dir.to_path_buf(),
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

    pub fn image_processor(&self) -> &ClipImageProcessor {
        &self.image_processor
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Token ids as `tokenizer(text, truncation=True, max_length=max_position_embeddings)` gives them
    /// (with `<|startoftext|>`/`<|endoftext|>` from the tokenizer's post-processor).
    pub fn tokenize(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| anyhow!("tokenizing {text:?}: {e}"))?;
        Ok(enc.get_ids().to_vec())
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

    /// Projected text embedding `(1, projection_dim)` (f32) of a prompt.
    pub fn text_embeds(&self, text: &str) -> anyhow::Result<Tensor> {
        let ids = self.tokenize(text)?;
        let n = ids.len();
        let ids = Tensor::from_vec(ids, (1, n), &self.device)?;
        let e = self
            .text_features(&ids)
            .with_context(|| format!("CLIP text tower on {text:?}"))?;
        Ok(e.to_dtype(DType::F32)?)
    }

    /// `pixel_values` `(1, 3, S, S)` of an image, per the folder's image processor.
    pub fn preprocess(&self, img: &DynamicImage) -> anyhow::Result<Tensor> {
        Ok(self
            .image_processor
            .preprocess(img)?
            .to_device(&self.device)?)
    }

    /// Projected image embedding `(1, projection_dim)` (f32).
    pub fn image_embeds(&self, img: &DynamicImage) -> anyhow::Result<Tensor> {
        let pv = self.preprocess(img)?;
        let e = self.image_features(&pv).context("CLIP vision tower")?;
        Ok(e.to_dtype(DType::F32)?)
    }

    /// CLIP-T: raw cosine between an image's and a prompt's embeddings.
    pub fn clip_t(&self, img: &DynamicImage, prompt: &str) -> anyhow::Result<f64> {
        cosine(&self.image_embeds(img)?, &self.text_embeds(prompt)?)
    }

    /// CLIP-I: raw cosine between two images' embeddings.
    pub fn clip_i(&self, a: &DynamicImage, b: &DynamicImage) -> anyhow::Result<f64> {
        cosine(&self.image_embeds(a)?, &self.image_embeds(b)?)
    }
}

/// `preprocessor_config.json`, else the `image_processor` entry of `processor_config.json`.
fn load_image_processor(dir: &Path) -> anyhow::Result<ClipImageProcessor> {
    let pre = dir.join("preprocessor_config.json");
    if pre.is_file() {
        return ClipImageProcessor::from_file(&pre);
    }
    let proc_path = dir.join("processor_config.json");
    if proc_path.is_file() {
        let text = std::fs::read_to_string(&proc_path)
            .with_context(|| format!("cannot read {}", proc_path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", proc_path.display()))?;
        let ip = v.get("image_processor").ok_or_else(|| {
            anyhow!(
                "{} has no image_processor entry (and {} is missing)",
                proc_path.display(),
                pre.display()
            )
        })?;
        return ClipImageProcessor::from_json(&ip.to_string())
            .with_context(|| format!("parsing image_processor in {}", proc_path.display()));
    }
    bail!(
        "CLIP model folder {} has no image processor config: {} is missing",
        dir.display(),
        pre.display()
    )
}

/// Cosine similarity of two `(1, P)` (or `(P,)`) embeddings, accumulated in f64. Errors when a norm is
/// zero or the values are not finite.
pub fn cosine(a: &Tensor, b: &Tensor) -> anyhow::Result<f64> {
    let a: Vec<f32> = a.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    let b: Vec<f32> = b.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    cosine_slices(&a, &b)
}

/// [`cosine`] on plain slices.
pub fn cosine_slices(a: &[f32], b: &[f32]) -> anyhow::Result<f64> {
    if a.len() != b.len() {
        bail!(
            "cosine of embeddings of different sizes ({} and {})",
            a.len(),
            b.len()
        );
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let den = (na * nb).sqrt();
    if !den.is_finite() || !dot.is_finite() {
        bail!("cosine of non-finite embeddings");
    }
    if den == 0.0 {
        bail!("cosine of a zero embedding");
    }
    Ok(dot / den)
}
