//! FLOP model of an edit, by phase.
//!
//! FLOPs count a multiply-add as 2. What is counted and how it was checked:
//! * transformer: per latent token and layer the linear layers cost 2·(4d² + 2d² + 2·d·ffn)
//!   (self-attention q/k/v/o, cross-attention q/o, FFN); self-attention over N tokens adds 4·N·d (QKᵀ
//!   and AV); cross-attention over the 257 image + 512 text context tokens adds 4·769·d. Once per
//!   forward and layer the context is projected to keys and values: 4d² per context token (text through
//!   to_k/to_v, image through add_k_proj/add_v_proj). Once per forward: patch embedding, output
//!   projection, text/image/time embedders. This equals, to the FLOP, what torch's FlopCounterMode
//!   counts (matmuls, convolutions, attention) for diffusers' ChronoEditTransformer3DModel (checked on
//!   a small config in tests/it/adaptive.rs). Norms, modulation, RoPE and softmax are element-wise work
//!   and not counted (neither does FlopCounterMode).
//! * text encoder (umT5 encoder, gated-GELU FFN) and image encoder (CLIP vision tower, all layers run):
//!   the same per-token linear + attention count, equal to FlopCounterMode's count for transformers'
//!   UMT5EncoderModel and CLIPVisionModel (small configs in tests/it/adaptive.rs). The prompt is encoded
//!   once, plus once for the empty negative prompt when CFG is on.
//! * VAE: 3-D convolutions (kernel volume × C_in × C_out per output voxel) with frames at each level
//!   taken as the causal video's frame count at that temporal scale, plus the mid-block attention.
//!   Within 0.35 % of FlopCounterMode on diffusers' AutoencoderKLWan at 64×64 (5 and 29 frames).
//! * scheduler and latent bookkeeping: not counted.
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::card::CardInput;
use super::plan::{fixed_plan, Plan, Planner, Recipe};

/// Transformer dimensions (diffusers' ChronoEditTransformer3DModel config; defaults as its __init__).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformerDims {
    #[serde(default = "d_patch")]
    pub patch_size: Vec<usize>,
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "d_head_dim")]
    pub attention_head_dim: usize,
    #[serde(default = "d_in")]
    pub in_channels: usize,
    #[serde(default = "d_in")]
    pub out_channels: usize,
    #[serde(default = "d_text_dim")]
    pub text_dim: usize,
    #[serde(default = "d_freq")]
    pub freq_dim: usize,
    #[serde(default = "d_ffn")]
    pub ffn_dim: usize,
    #[serde(default = "d_layers")]
    pub num_layers: usize,
    #[serde(default)]
    pub image_dim: Option<usize>,
    #[serde(default)]
    pub added_kv_proj_dim: Option<usize>,
    #[serde(default = "d_skip")]
    pub rope_temporal_skip_len: usize,
}

fn d_patch() -> Vec<usize> {
    vec![1, 2, 2]
}
fn d_heads() -> usize {
    40
}
fn d_head_dim() -> usize {
    128
}
fn d_in() -> usize {
    16
}
fn d_text_dim() -> usize {
    4096
}
fn d_freq() -> usize {
    256
}
fn d_ffn() -> usize {
    13824
}
fn d_layers() -> usize {
    40
}
fn d_skip() -> usize {
    8
}

impl TransformerDims {
    /// ChronoEdit-14B (Wan2.1-I2V-14B): the values of its transformer/config.json.
    pub fn chronoedit_14b() -> Self {
        TransformerDims {
            patch_size: vec![1, 2, 2],
            num_attention_heads: 40,
            attention_head_dim: 128,
            in_channels: 36,
            out_channels: 16,
            text_dim: 4096,
            freq_dim: 256,
            ffn_dim: 13824,
            num_layers: 40,
            image_dim: Some(1280),
            added_kv_proj_dim: Some(5120),
            rope_temporal_skip_len: 8,
        }
    }

    pub fn from_config_json(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let d: TransformerDims = serde_json::from_str(&text)
            .with_context(|| format!("parsing transformer config {}", path.display()))?;
        if d.patch_size.len() != 3 || d.patch_size.contains(&0) {
            anyhow::bail!(
                "{}: patch_size must be 3 positive integers, got {:?}",
                path.display(),
                d.patch_size
            );
        }
        Ok(d)
    }

    pub fn inner_dim(&self) -> usize {
        self.num_attention_heads * self.attention_head_dim
    }
}

/// umT5 encoder dimensions (transformers' UMT5Config keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextEncoderDims {
    #[serde(default = "t_d")]
    pub d_model: usize,
    #[serde(default = "t_ff")]
    pub d_ff: usize,
    #[serde(default = "t_layers")]
    pub num_layers: usize,
    #[serde(default = "t_heads")]
    pub num_heads: usize,
    #[serde(default = "t_kv")]
    pub d_kv: usize,
    /// Prompts are padded to this many tokens.
    #[serde(default = "t_len")]
    pub max_sequence_length: usize,
}
fn t_d() -> usize {
    4096
}
fn t_ff() -> usize {
    10240
}
fn t_layers() -> usize {
    24
}
fn t_heads() -> usize {
    64
}
fn t_kv() -> usize {
    64
}
fn t_len() -> usize {
    512
}

/// CLIP vision tower dimensions (transformers' CLIPVisionConfig keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageEncoderDims {
    #[serde(default = "c_hidden")]
    pub hidden_size: usize,
    #[serde(default = "c_inter")]
    pub intermediate_size: usize,
    #[serde(default = "c_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "c_img")]
    pub image_size: usize,
    #[serde(default = "c_patch")]
    pub patch_size: usize,
}
fn c_hidden() -> usize {
    1280
}
fn c_inter() -> usize {
    5120
}
fn c_layers() -> usize {
    32
}
fn c_img() -> usize {
    224
}
fn c_patch() -> usize {
    14
}

/// Wan VAE dimensions (diffusers' AutoencoderKLWan keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeDims {
    #[serde(default = "v_base")]
    pub base_dim: usize,
    #[serde(default = "v_z")]
    pub z_dim: usize,
    #[serde(default = "v_mult")]
    pub dim_mult: Vec<usize>,
    #[serde(default = "v_res")]
    pub num_res_blocks: usize,
    #[serde(default = "v_tdown")]
    pub temperal_downsample: Vec<bool>,
}
fn v_base() -> usize {
    96
}
fn v_z() -> usize {
    16
}
fn v_mult() -> Vec<usize> {
    vec![1, 2, 4, 4]
}
fn v_res() -> usize {
    2
}
fn v_tdown() -> Vec<bool> {
    vec![false, true, true]
}

/// All model dimensions the cost model needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelDims {
    pub transformer: TransformerDims,
    pub text_encoder: TextEncoderDims,
    pub image_encoder: ImageEncoderDims,
    pub vae: VaeDims,
    /// Where the numbers came from.
    pub source: String,
}

fn parse_or_default<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Option<T>> {
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
    ))
}

impl ModelDims {
    /// The real ChronoEdit-14B.
    pub fn chronoedit_14b() -> Self {
        ModelDims {
            transformer: TransformerDims::chronoedit_14b(),
            text_encoder: serde_json::from_str("{}").expect("defaults"),
            image_encoder: serde_json::from_str("{}").expect("defaults"),
            vae: serde_json::from_str("{}").expect("defaults"),
            source: "built-in ChronoEdit-14B".to_string(),
        }
    }

    /// A diffusers folder: transformer/config.json is required; text_encoder/, image_encoder/ and vae/
    /// config.json are read when present, ChronoEdit-14B's values otherwise.
    pub fn from_model_dir(dir: &Path) -> anyhow::Result<Self> {
        let tpath = dir.join("transformer").join("config.json");
        if !tpath.exists() {
            anyhow::bail!(
                "{} not found (expected a diffusers folder with transformer/config.json)",
                tpath.display()
            );
        }
        let base = Self::chronoedit_14b();
        Ok(ModelDims {
            transformer: TransformerDims::from_config_json(&tpath)?,
            text_encoder: parse_or_default(&dir.join("text_encoder").join("config.json"))?
                .unwrap_or(base.text_encoder),
            image_encoder: parse_or_default(&dir.join("image_encoder").join("config.json"))?
                .unwrap_or(base.image_encoder),
            vae: parse_or_default(&dir.join("vae").join("config.json"))?.unwrap_or(base.vae),
            source: dir.display().to_string(),
        })
    }

    /// Context tokens seen by cross-attention: (image tokens, text tokens).
    pub fn context_tokens(&self) -> (usize, usize) {
        let img = if self.transformer.image_dim.is_some()
            || self.transformer.added_kv_proj_dim.is_some()
        {
            let g = self.image_encoder.image_size / self.image_encoder.patch_size.max(1);
            g * g + 1
        } else {
            0
        };
        (img, self.text_encoder.max_sequence_length)
    }
}

/// FLOPs of one transformer forward, by part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForwardFlops {
    pub tokens: usize,
    pub linear: f64,
    pub self_attention: f64,
    pub cross_attention: f64,
    pub context_kv: f64,
    pub embeddings: f64,
    pub total: f64,
}

/// One transformer forward over `tokens` latent tokens.
pub fn transformer_forward(m: &ModelDims, tokens: usize) -> ForwardFlops {
    let t = &m.transformer;
    let d = t.inner_dim() as f64;
    let l = t.num_layers as f64;
    let n = tokens as f64;
    let (ci, ct) = m.context_tokens();
    let ctx = (ci + ct) as f64;
    let linear = n * l * 2.0 * (6.0 * d * d + 2.0 * d * t.ffn_dim as f64);
    let self_attention = n * l * 4.0 * n * d;
    let cross_attention = n * l * 4.0 * ctx * d;
    let context_kv = l * ctx * 4.0 * d * d;
    let patch = t.patch_size.iter().product::<usize>() as f64;
    let patch_embed = n * 2.0 * t.in_channels as f64 * patch * d;
    let proj_out = n * 2.0 * d * t.out_channels as f64 * patch;
    let text_embed = ct as f64 * 2.0 * (t.text_dim as f64 * d + d * d);
    let image_embed = match t.image_dim {
        Some(di) => ci as f64 * 2.0 * (di as f64 * di as f64 + di as f64 * d),
        None => 0.0,
    };
    let time = 2.0 * (t.freq_dim as f64 * d + d * d + d * 6.0 * d);
    let embeddings = patch_embed + proj_out + text_embed + image_embed + time;
    ForwardFlops {
        tokens,
        linear,
        self_attention,
        cross_attention,
        context_kv,
        embeddings,
        total: linear + self_attention + cross_attention + context_kv + embeddings,
    }
}

/// One forward where first-block caching skipped the rest of the stack: the first block's share
/// of the per-layer work (linear layers, attention, its context keys and values) and the
/// once-per-forward embeddings and output head.
pub fn transformer_head_forward(m: &ModelDims, tokens: usize) -> f64 {
    let f = transformer_forward(m, tokens);
    let layers = m.transformer.num_layers.max(1) as f64;
    (f.linear + f.self_attention + f.cross_attention + f.context_kv) / layers + f.embeddings
}

/// Latent tokens per latent frame at `height × width` pixels (8× VAE, then the patch size).
pub fn tokens_per_frame(m: &ModelDims, height: usize, width: usize) -> usize {
    let p = &m.transformer.patch_size;
    (height / 8 / p[1].max(1)) * (width / 8 / p[2].max(1))
}

/// Text encoder FLOPs for one prompt.
pub fn text_encode(m: &ModelDims) -> f64 {
    let t = &m.text_encoder;
    let d = t.d_model as f64;
    let inner = (t.num_heads * t.d_kv) as f64;
    let n = t.max_sequence_length as f64;
    // q, k, v, o; gated-GELU FFN (wi_0, wi_1, wo); attention QKᵀ and AV
    n * t.num_layers as f64 * (2.0 * (4.0 * d * inner + 3.0 * d * t.d_ff as f64) + 4.0 * n * inner)
}

/// Image encoder FLOPs for one image.
pub fn image_encode(m: &ModelDims) -> f64 {
    let c = &m.image_encoder;
    let d = c.hidden_size as f64;
    let g = c.image_size / c.patch_size.max(1);
    let n = (g * g + 1) as f64;
    let patch = (g * g) as f64 * 2.0 * (3 * c.patch_size * c.patch_size) as f64 * d;
    patch
        + n * c.num_hidden_layers as f64
            * (2.0 * (4.0 * d * d + 2.0 * d * c.intermediate_size as f64) + 4.0 * n * d)
}

fn conv(vox: f64, k: f64, cin: usize, cout: usize) -> f64 {
    2.0 * vox * k * cin as f64 * cout as f64
}

fn resblock(vox: f64, cin: usize, cout: usize) -> f64 {
    conv(vox, 27.0, cin, cout)
        + conv(vox, 27.0, cout, cout)
        + if cin != cout {
            conv(vox, 1.0, cin, cout)
        } else {
            0.0
        }
}

fn mid_block(frames: f64, hw: f64, c: usize) -> f64 {
    let vox = frames * hw;
    // two residual blocks and one per-frame spatial attention (qkv, proj, QKᵀ, AV)
    2.0 * resblock(vox, c, c) + conv(vox, 1.0, c, 4 * c) + frames * 4.0 * hw * hw * c as f64
}

/// VAE encoder FLOPs for a `frames`-frame video at `height × width`.
pub fn vae_encode(m: &ModelDims, frames: usize, height: usize, width: usize) -> f64 {
    let v = &m.vae;
    let hw0 = (height * width) as f64;
    let mut dims = vec![v.base_dim];
    dims.extend(v.dim_mult.iter().map(|u| v.base_dim * u));
    let mut t = frames as f64;
    let mut hw = hw0;
    let mut f = conv(t * hw, 27.0, 3, dims[0]);
    let levels = v.dim_mult.len();
    for i in 0..levels {
        let (cin, cout) = (dims[i], dims[i + 1]);
        let mut c = cin;
        for _ in 0..v.num_res_blocks {
            f += resblock(t * hw, c, cout);
            c = cout;
        }
        if i + 1 < levels {
            hw /= 4.0;
            f += conv(t * hw, 9.0, cout, cout);
            if v.temperal_downsample.get(i).copied().unwrap_or(false) {
                t = ((t - 1.0) / 2.0).floor() + 1.0;
                f += conv(t * hw, 3.0, cout, cout);
            }
        }
    }
    let top = *dims.last().unwrap_or(&v.base_dim);
    f += mid_block(t, hw, top);
    f += conv(t * hw, 27.0, top, 2 * v.z_dim) + conv(t * hw, 1.0, 2 * v.z_dim, 2 * v.z_dim);
    f
}

/// VAE decoder FLOPs for `latent_frames` latent frames at output size `height × width`.
pub fn vae_decode(m: &ModelDims, latent_frames: usize, height: usize, width: usize) -> f64 {
    let v = &m.vae;
    let levels = v.dim_mult.len();
    let mut dims = vec![v.base_dim * v.dim_mult.last().copied().unwrap_or(1)];
    dims.extend(v.dim_mult.iter().rev().map(|u| v.base_dim * u));
    let mut hw = (height * width) as f64 / 4f64.powi(levels as i32 - 1);
    let mut t = latent_frames as f64;
    let mut f = conv(t * hw, 27.0, v.z_dim, dims[0]) + conv(t * hw, 1.0, v.z_dim, v.z_dim);
    f += mid_block(t, hw, dims[0]);
    // temporal upsampling mirrors the encoder's downsampling, last level first
    let tup: Vec<bool> = v.temperal_downsample.iter().rev().copied().collect();
    for i in 0..levels {
        let cin = if i > 0 { dims[i] / 2 } else { dims[i] };
        let cout = dims[i + 1];
        let mut c = cin;
        for _ in 0..=v.num_res_blocks {
            f += resblock(t * hw, c, cout);
            c = cout;
        }
        if i + 1 < levels {
            if tup.get(i).copied().unwrap_or(false) {
                f += conv(t * hw, 3.0, cout, 2 * cout);
                t = 2.0 * t - 1.0;
            }
            hw *= 4.0;
            f += conv(t * hw, 9.0, cout, cout / 2);
        }
    }
    f += conv(t * hw, 27.0, v.base_dim, 3);
    f
}

/// Cost options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostOptions {
    pub height: usize,
    pub width: usize,
    /// Fraction of a reasoning frame's tokens the SRM keeps (used when the plan has `srm`).
    pub srm_coverage: f64,
    /// When reasoning lasts to the last step, the reference also decodes the reasoning video.
    pub decode_reasoning_video: bool,
}

impl Default for CostOptions {
    fn default() -> Self {
        CostOptions {
            height: 480,
            width: 832,
            srm_coverage: 1.0,
            decode_reasoning_video: true,
        }
    }
}

/// FLOPs of one edit by phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditCost {
    pub text_encode: f64,
    pub image_encode: f64,
    pub vae_encode: f64,
    pub denoise_reasoning: f64,
    pub denoise_final: f64,
    pub decode: f64,
    pub total: f64,
    /// Transformer forwards per step (2 with CFG).
    pub forwards_per_step: usize,
    pub reasoning_tokens: usize,
    pub final_tokens: usize,
    pub reasoning_forward: f64,
    pub final_forward: f64,
}

impl EditCost {
    /// Denoising (transformer) FLOPs.
    pub fn transformer(&self) -> f64 {
        self.denoise_reasoning + self.denoise_final
    }
}

/// Cost of executing `plan`.
pub fn edit_cost(m: &ModelDims, plan: &Plan, o: &CostOptions) -> EditCost {
    let tpf = tokens_per_frame(m, o.height, o.width);
    let cfg = if plan.guidance > 1.0 { 2 } else { 1 };
    let nr = plan.reasoning_steps.min(plan.steps);
    let r = if nr == 0 { 0 } else { plan.reasoning_frames };
    let kept = if plan.srm {
        ((o.srm_coverage.clamp(0.0, 1.0) * tpf as f64).round() as usize).max(1)
    } else {
        tpf
    };
    let reasoning_tokens = 2 * tpf + r * kept;
    let final_tokens = 2 * tpf;
    let reasoning_forward = if nr > 0 {
        transformer_forward(m, reasoning_tokens).total
    } else {
        0.0
    };
    let final_forward = transformer_forward(m, final_tokens).total;
    let denoise_reasoning = (nr * cfg) as f64 * reasoning_forward;
    let denoise_final = ((plan.steps - nr) * cfg) as f64 * final_forward;
    let text_encode = cfg as f64 * text_encode(m);
    let image_encode = image_encode(m);
    let num_frames = 4 * (r + 1) + 1;
    let vae_encode = vae_encode(m, num_frames, o.height, o.width);
    let mut decode = vae_decode(m, 2, o.height, o.width);
    if o.decode_reasoning_video && nr == plan.steps && r > 0 {
        decode += vae_decode(m, r + 1, o.height, o.width);
    }
    let total =
        text_encode + image_encode + vae_encode + denoise_reasoning + denoise_final + decode;
    EditCost {
        text_encode,
        image_encode,
        vae_encode,
        denoise_reasoning,
        denoise_final,
        decode,
        total,
        forwards_per_step: cfg,
        reasoning_tokens,
        final_tokens,
        reasoning_forward,
        final_forward,
    }
}

/// An instruction's plan, its cost, and how it compares with the reference recipes (both priced at
/// the same size and SRM coverage): what `physedit cost --prompt` prints and `POST /v1/plan` answers.
#[derive(Debug, Clone, Serialize)]
pub struct PlanPrice {
    pub plan: Plan,
    pub cost: EditCost,
    /// `chronoedit-reasoning`'s total FLOPs over this plan's.
    pub speedup_vs_reasoning: f64,
    /// `chronoedit-short`'s total FLOPs over this plan's.
    pub speedup_vs_short: f64,
}

/// Plans `input` with `recipe` and prices the plan against the reference recipes.
pub fn price_plan(
    m: &ModelDims,
    planner: &Planner,
    recipe: Recipe,
    input: &CardInput,
    o: &CostOptions,
) -> anyhow::Result<PlanPrice> {
    let base = edit_cost(
        m,
        &fixed_plan(Recipe::ChronoeditReasoning, &planner.table, None)?,
        o,
    );
    let short = edit_cost(
        m,
        &fixed_plan(Recipe::ChronoeditShort, &planner.table, None)?,
        o,
    );
    let plan = planner.plan(recipe, input)?;
    let cost = edit_cost(m, &plan, o);
    Ok(PlanPrice {
        speedup_vs_reasoning: base.total / cost.total,
        speedup_vs_short: short.total / cost.total,
        plan,
        cost,
    })
}

#[cfg(test)]
mod head_tests {
    use super::*;

    #[test]
    fn a_first_block_forward_is_one_layer_and_the_embeddings() {
        let m = ModelDims::chronoedit_14b();
        let full = transformer_forward(&m, 3120);
        let head = transformer_head_forward(&m, 3120);
        let per_layer = (full.total - full.embeddings) / 40.0;
        assert!((head - (per_layer + full.embeddings)).abs() < 1e-6 * full.total);
        assert!(head < full.total / 30.0);
    }
}
