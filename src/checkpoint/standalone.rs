//! A model named by its single files alone, as ComfyUI users hold ChronoEdit-14B / Wan2.1-I2V-14B:
//! `--transformer` (the diffusion model), `--vae` (`wan_2.1_vae.safetensors`), `--text-encoder`
//! (`umt5_xxl_*.safetensors`), `--image-encoder` (`clip_vision_h.safetensors`) and `--tokenizer`
//! (umT5's `tokenizer.json`), with no diffusers folder.
//!
//! Each component's configuration is read from its tensors' shapes, as ComfyUI detects models; what no
//! shape says comes from the file's header when it states it (`__metadata__["config"]`, the
//! component's config.json as a JSON string; a shape-derived value that disagrees with it is an error)
//! and otherwise from the real model: the transformer's 128-wide heads (every Wan model's), CLIP
//! ViT-H/14's 16 heads, GELU and 1e-5 norms (ComfyUI's `clip_vision_config_h.json`), umT5's
//! transformers defaults (relative-attention max distance 128, norm eps 1e-6), the Wan 2.1 VAE's
//! latents mean/std (diffusers' `AutoencoderKLWan` defaults). Shapes of the 14B's size are checked
//! against the configurations PhysEdit knows for it.
//!
//! The scheduler is the ChronoEdit recipe's (diffusers' `UniPCMultistepScheduler` with flow prediction,
//! flow sigmas and flow shift 5.0; [`SCHEDULER_CONFIG`] is diffusers' own serialization of it, the file
//! tests/fixtures/tiny_a/pipeline/scheduler/scheduler_config.json) and the image processor CLIP's
//! (`CLIPImageProcessor` with OpenAI's mean/std, bicubic resize of the shortest edge and a center crop
//! to the tower's image size, 224 for ViT-H/14, as ComfyUI's `clip_preprocess`).
//!
//! Tested (tests/it/weights.rs): the tiny reference pipeline written as four files (original Wan key
//! names for the transformer and the VAE) and its tokenizer gives the folder's frames; the configs read
//! from the tiny files without metadata equal the folder's on every shape-derived field.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};

use crate::models::{clip_vision, umt5, vae};

/// diffusers' `UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
/// flow_shift=5.0)` with the Wan I2V settings, as `save_config` writes it (diffusers 0.42.1).
pub const SCHEDULER_CONFIG: &str =
    include_str!("../../tests/fixtures/tiny_a/pipeline/scheduler/scheduler_config.json");

/// `CLIPImageProcessor` for a tower of `image_size` pixels (OpenAI CLIP's normalisation).
pub fn image_processor_config(image_size: usize) -> String {
    json!({
        "crop_size": {"height": image_size, "width": image_size},
        "do_center_crop": true,
        "do_convert_rgb": true,
        "do_normalize": true,
        "do_rescale": true,
        "do_resize": true,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"shortest_edge": image_size}
    })
    .to_string()
}

/// The component config a safetensors file states in its header (`__metadata__["config"]`), if any.
pub fn header_config(path: &Path) -> Result<Option<Map<String, Value>>> {
    let (obj, _) = super::safetensors_header(path)?;
    let Some(text) = obj
        .get("__metadata__")
        .and_then(|m| m.get("config"))
        .and_then(|c| c.as_str())
    else {
        return Ok(None);
    };
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => bail!(
            "{}: `__metadata__.config` is not a JSON object",
            path.display()
        ),
    }
}

/// `derived` (from shapes) over `stated` (the header's config, else `fallback`): a stated value that
/// disagrees with a derived one is an error naming the field.
fn merge(
    file: &Path,
    derived: Value,
    stated: Option<Map<String, Value>>,
    fallback: Value,
) -> Result<Value> {
    let mut out = match (stated, fallback) {
        (Some(m), _) => m,
        (None, Value::Object(m)) => m,
        (None, _) => Map::new(),
    };
    let stated_keys: Vec<String> = out.keys().cloned().collect();
    let Value::Object(derived) = derived else {
        unreachable!("derived configs are objects")
    };
    for (k, v) in derived {
        if stated_keys.contains(&k) && out[&k] != v && !numbers_equal(&out[&k], &v) {
            bail!(
                "{}: its shapes give {k} = {v}, its header's config says {}",
                file.display(),
                out[&k]
            );
        }
        out.insert(k, v);
    }
    Ok(Value::Object(out))
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

type Shapes = BTreeMap<String, Vec<usize>>;

fn dim(file: &Path, shapes: &Shapes, name: &str, n: usize, i: usize) -> Result<usize> {
    let s = shapes
        .get(name)
        .ok_or_else(|| anyhow!("{} has no `{name}`", file.display()))?;
    if s.len() != n {
        bail!(
            "{}: `{name}` has shape {s:?}, expected {n} dimensions",
            file.display()
        );
    }
    Ok(s[i])
}

/// How many consecutive `{prefix}N.` indices from 0 the names hold.
fn count(shapes: &Shapes, prefix: &str) -> usize {
    (0..)
        .take_while(|i| {
            let p = format!("{prefix}{i}.");
            shapes.keys().any(|k| k.starts_with(&p))
        })
        .count()
}

/// umT5's configuration from its shapes (transformers' names).
pub fn umt5_config(file: &Path, shapes: &Shapes) -> Result<umt5::Config> {
    let emb = if shapes.contains_key("shared.weight") {
        "shared.weight"
    } else {
        "encoder.embed_tokens.weight"
    };
    let a = "encoder.block.0.layer.0.SelfAttention";
    let f = "encoder.block.0.layer.1.DenseReluDense";
    let heads = dim(
        file,
        shapes,
        &format!("{a}.relative_attention_bias.weight"),
        2,
        1,
    )?;
    let inner = dim(file, shapes, &format!("{a}.q.weight"), 2, 0)?;
    if heads == 0 || inner % heads != 0 {
        bail!(
            "{}: {inner} attention features do not split into {heads} heads",
            file.display()
        );
    }
    let gated = shapes.contains_key(&format!("{f}.wi_0.weight"));
    let wi = if gated { "wi_0" } else { "wi" };
    let derived = json!({
        "vocab_size": dim(file, shapes, emb, 2, 0)?,
        "d_model": dim(file, shapes, emb, 2, 1)?,
        "num_layers": count(shapes, "encoder.block."),
        "num_heads": heads,
        "d_kv": inner / heads,
        "d_ff": dim(file, shapes, &format!("{f}.{wi}.weight"), 2, 0)?,
        "relative_attention_num_buckets": dim(file, shapes, &format!("{a}.relative_attention_bias.weight"), 2, 0)?,
        "feed_forward_proj": if gated { "gated-gelu" } else { "relu" },
    });
    let v = merge(
        file,
        derived,
        header_config(file)?,
        json!({"pad_token_id": 0, "eos_token_id": 1}),
    )?;
    let cfg: umt5::Config =
        serde_json::from_value(v).with_context(|| format!("{}: umT5 config", file.display()))?;
    if cfg.d_model == 4096 {
        known(
            file,
            "umT5-XXL",
            &[
                ("num_layers", cfg.num_layers, 24),
                ("num_heads", cfg.num_heads, 64),
                ("d_kv", cfg.d_kv, 64),
                ("d_ff", cfg.d_ff, 10240),
                ("vocab_size", cfg.vocab_size, 256_384),
            ],
        )?;
    }
    Ok(cfg)
}

/// Checks shape-derived values against the known model's, naming each that differs.
fn known(file: &Path, model: &str, fields: &[(&str, usize, usize)]) -> Result<()> {
    let diffs: Vec<String> = fields
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(n, got, want)| format!("{n} {got} (expected {want})"))
        .collect();
    if !diffs.is_empty() {
        bail!(
            "{} has the width of {model} but not its shape: {}",
            file.display(),
            diffs.join(", ")
        );
    }
    Ok(())
}

/// The CLIP vision tower's configuration from its shapes (transformers' names, with or without
/// `vision_model.`).
pub fn clip_vision_config(file: &Path, shapes: &Shapes) -> Result<clip_vision::Config> {
    let shapes: Shapes = shapes
        .iter()
        .map(|(k, v)| {
            (
                k.strip_prefix("vision_model.").unwrap_or(k).to_string(),
                v.clone(),
            )
        })
        .collect();
    let shapes = &shapes;
    let hidden = dim(file, shapes, "embeddings.class_embedding", 1, 0)?;
    let patch = dim(file, shapes, "embeddings.patch_embedding.weight", 4, 2)?;
    let positions = dim(file, shapes, "embeddings.position_embedding.weight", 2, 0)?;
    let grid = (1..=positions)
        .find(|g| g * g + 1 >= positions)
        .unwrap_or(0);
    if grid * grid + 1 != positions {
        bail!(
            "{}: {positions} position embeddings are not a square grid plus the class token",
            file.display()
        );
    }
    let derived = json!({
        "hidden_size": hidden,
        "intermediate_size": dim(file, shapes, "encoder.layers.0.mlp.fc1.weight", 2, 0)?,
        "num_hidden_layers": count(shapes, "encoder.layers."),
        "num_channels": dim(file, shapes, "embeddings.patch_embedding.weight", 4, 1)?,
        "patch_size": patch,
        "image_size": grid * patch,
    });
    let stated = header_config(file)?;
    if stated.is_none() && hidden != 1280 {
        bail!(
            "{}: a {hidden}-wide CLIP vision tower is not ViT-H/14, and its attention heads are in no \
             shape; give the file's config in its header (`__metadata__.config`) or use a model folder",
            file.display()
        );
    }
    // ComfyUI's clip_vision_config_h.json.
    let vit_h = json!({"num_attention_heads": 16, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "projection_dim": 1024});
    let v = merge(file, derived, stated, vit_h)?;
    let cfg: clip_vision::Config = serde_json::from_value(v)
        .with_context(|| format!("{}: CLIP vision config", file.display()))?;
    if cfg.hidden_size == 1280 {
        known(
            file,
            "CLIP ViT-H/14",
            &[
                ("num_hidden_layers", cfg.num_hidden_layers, 32),
                ("intermediate_size", cfg.intermediate_size, 5120),
                ("patch_size", cfg.patch_size, 14),
                ("image_size", cfg.image_size, 224),
                ("num_attention_heads", cfg.num_attention_heads, 16),
            ],
        )?;
    }
    Ok(cfg)
}

/// The Wan VAE's configuration from its shapes (diffusers' names, after [`super::wan_vae_keys`]).
pub fn vae_config(file: &Path, shapes: &Shapes) -> Result<vae::Config> {
    let base = dim(file, shapes, "encoder.conv_in.weight", 5, 0)?;
    let levels = count(shapes, "decoder.up_blocks.");
    let res = count(shapes, "decoder.up_blocks.0.resnets.");
    if levels == 0 || res == 0 || base == 0 {
        bail!("{} is not a Wan VAE (no decoder up blocks)", file.display());
    }
    let r = res - 1;
    let mut dim_mult = Vec::new();
    let mut temporal = Vec::new();
    for i in 0..levels {
        let first = i * (r + 1);
        let out = dim(
            file,
            shapes,
            &format!("encoder.down_blocks.{first}.conv2.weight"),
            5,
            0,
        )?;
        dim_mult.push(out / base);
        if i + 1 < levels {
            let down = format!("encoder.down_blocks.{}.time_conv.weight", first + r);
            temporal.push(shapes.contains_key(&down));
        }
    }
    let z2 = dim(file, shapes, "quant_conv.weight", 5, 0)?;
    let derived = json!({
        "base_dim": base,
        "z_dim": z2 / 2,
        "dim_mult": dim_mult,
        "num_res_blocks": r,
        "temperal_downsample": temporal,
        "in_channels": dim(file, shapes, "encoder.conv_in.weight", 5, 1)?,
        "out_channels": dim(file, shapes, "decoder.conv_out.weight", 5, 0)?,
    });
    let stated = header_config(file)?;
    if stated.is_none() && z2 != 32 {
        bail!("{}: a VAE with z_dim {} is not the Wan 2.1 VAE, whose latents mean/std PhysEdit knows; use a model folder", file.display(), z2 / 2);
    }
    let v = merge(file, derived, stated, json!({}))?;
    let cfg: vae::Config =
        serde_json::from_value(v).with_context(|| format!("{}: VAE config", file.display()))?;
    if cfg.base_dim == 96 {
        let ok = cfg.dim_mult == [1, 2, 4, 4]
            && cfg.num_res_blocks == 2
            && cfg.temperal_downsample == [false, true, true];
        if !ok {
            bail!("{} has the width of the Wan 2.1 VAE but not its blocks (dim_mult {:?}, num_res_blocks {}, temporal downsampling {:?})", file.display(), cfg.dim_mult, cfg.num_res_blocks, cfg.temperal_downsample);
        }
    }
    Ok(cfg)
}

/// `--tokenizer`: a `tokenizer.json`, or a folder holding one.
pub fn tokenizer_file(path: &Path) -> Result<PathBuf> {
    let file = if path.is_dir() {
        path.join("tokenizer.json")
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        bail!("--tokenizer {}: no tokenizer.json there", path.display());
    }
    Ok(file)
}

/// The flag each missing component of a model without folder needs.
pub fn missing_flags(files: &super::single_file::ComponentFiles) -> Vec<&'static str> {
    [
        ("--transformer", files.transformer.is_none()),
        ("--vae", files.vae.is_none()),
        ("--text-encoder", files.text_encoder.is_none()),
        ("--image-encoder", files.image_encoder.is_none()),
        ("--tokenizer", files.tokenizer.is_none()),
    ]
    .into_iter()
    .filter_map(|(f, missing)| missing.then_some(f))
    .collect()
}
