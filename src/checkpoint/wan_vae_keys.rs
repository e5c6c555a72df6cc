//! Wan VAE weight names: the original layout (Wan-AI's `Wan2.1_VAE.pth`, ComfyUI's
//! `wan_2.1_vae.safetensors`) to diffusers' `AutoencoderKLWan` names, and the VAE's architecture from
//! the tensors' shapes.
//!
//! The mapping is diffusers' `convert_wan_vae_to_diffusers` (loaders/single_file_utils.py) written as
//! rules on the name's parts instead of its lookup tables: residual blocks rename their layers
//! (`residual.0.gamma` norm1, `residual.2` conv1, `residual.3.gamma` norm2, `residual.6` conv2,
//! `shortcut` conv_shortcut), the encoder's flat `downsamples.N` are diffusers' flat `down_blocks.N`,
//! and the decoder's flat `upsamples.N` group into `up_blocks.L.resnets.J` / `up_blocks.L.upsamplers.0`
//! with `num_res_blocks + 1` residual blocks and one upsampler per level. diffusers' converter writes
//! that grouping out for the Wan 2.1 VAE's two residual blocks per level (indices 0-2, 4-6, 8-10, 12-14
//! and upsamplers 3, 7, 11); the rule gives the same names there (tested against the converter's
//! output for every tensor of diffusers' default `AutoencoderKLWan`, tests/fixtures/keys/
//! wan_vae_to_diffusers.json) and also reads VAEs with another count (the tiny reference VAE's one,
//! tested by its frames).
use std::collections::BTreeMap;

use anyhow::{bail, Result};

/// Prefixes a whole-checkpoint file may put before the VAE's original names.
pub const WAN_VAE_PREFIXES: [&str; 2] = ["vae.", "first_stage_model."];

/// Whether `keys` use the original Wan VAE layout (its encoder's first convolution is `conv1`).
pub fn is_wan_vae_layout<'a>(keys: impl IntoIterator<Item = &'a str>) -> bool {
    keys.into_iter()
        .any(|k| k.ends_with("encoder.conv1.weight") && !k.contains("down"))
}

/// A residual block's layer: original tail → diffusers tail.
fn residual_tail(tail: &str) -> Option<String> {
    let (layer, leaf) = tail.rsplit_once('.')?;
    let new = match layer {
        "residual.0" => "norm1",
        "residual.2" => "conv1",
        "residual.3" => "norm2",
        "residual.6" => "conv2",
        "shortcut" => "conv_shortcut",
        _ => return None,
    };
    Some(format!("{new}.{leaf}"))
}

/// The decoder's residual blocks per level (`num_res_blocks + 1`) and levels, from the original
/// keys: the encoder holds `L·r + L − 1` modules in `downsamples`, the decoder `L·(r + 1) + L − 1` in
/// `upsamples`, so their difference is `L`.
pub fn wan_vae_blocks<'a>(
    keys: impl IntoIterator<Item = &'a str> + Clone,
) -> Result<(usize, usize)> {
    let count = |side: &str| {
        keys.clone()
            .into_iter()
            .filter_map(|k| {
                k.strip_prefix(side)?
                    .split('.')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .map(|m| m + 1)
            .unwrap_or(0)
    };
    let (enc, dec) = (count("encoder.downsamples."), count("decoder.upsamples."));
    if dec <= enc || enc == 0 {
        bail!("the VAE's encoder has {enc} and its decoder {dec} down/upsampling modules, not the Wan VAE's layout");
    }
    let levels = dec - enc;
    if (enc + 1) % levels != 0 || (enc + 1) / levels < 1 {
        bail!("the VAE's {enc} encoder modules do not split into {levels} levels");
    }
    Ok(((enc + 1) / levels - 1, levels))
}

/// diffusers' name of an original Wan VAE tensor name, for a VAE with `num_res_blocks` residual
/// blocks per encoder level; None for a name outside the layout.
pub fn wan_vae_to_diffusers(key: &str, num_res_blocks: usize) -> Option<String> {
    match key.split_once('.')? {
        ("conv1", leaf) => return Some(format!("quant_conv.{leaf}")),
        ("conv2", leaf) => return Some(format!("post_quant_conv.{leaf}")),
        _ => {}
    }
    let (side, rest) = key.split_once('.')?;
    if side != "encoder" && side != "decoder" {
        return None;
    }
    let new = if let Some(leaf) = rest.strip_prefix("conv1.") {
        format!("conv_in.{leaf}")
    } else if rest == "head.0.gamma" {
        "norm_out.gamma".to_string()
    } else if let Some(leaf) = rest.strip_prefix("head.2.") {
        format!("conv_out.{leaf}")
    } else if let Some(tail) = rest.strip_prefix("middle.1.") {
        format!("mid_block.attentions.0.{tail}")
    } else if let Some(tail) = rest.strip_prefix("middle.") {
        let (i, tail) = tail.split_once('.')?;
        let i = match i {
            "0" => 0,
            "2" => 1,
            _ => return None,
        };
        format!("mid_block.resnets.{i}.{}", residual_tail(tail)?)
    } else if let Some(tail) = rest
        .strip_prefix("downsamples.")
        .filter(|_| side == "encoder")
    {
        let (n, tail) = tail.split_once('.')?;
        let n: usize = n.parse().ok()?;
        let tail = residual_tail(tail).unwrap_or_else(|| tail.to_string());
        format!("down_blocks.{n}.{tail}")
    } else if let Some(tail) = rest
        .strip_prefix("upsamples.")
        .filter(|_| side == "decoder")
    {
        let (n, tail) = tail.split_once('.')?;
        let n: usize = n.parse().ok()?;
        let stride = num_res_blocks + 2;
        let (level, j) = (n / stride, n % stride);
        if j <= num_res_blocks {
            format!("up_blocks.{level}.resnets.{j}.{}", residual_tail(tail)?)
        } else {
            format!("up_blocks.{level}.upsamplers.0.{tail}")
        }
    } else {
        return None;
    };
    Some(format!("{side}.{new}"))
}

/// diffusers names → the file's keys for a VAE file in the original layout (keys already without
/// prefix); errors name the key that maps to nothing.
pub fn wan_vae_names(file: &str, keys: &[String]) -> Result<BTreeMap<String, String>> {
    let (r, _) = wan_vae_blocks(keys.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let mut names = BTreeMap::new();
    for k in keys {
        let Some(name) = wan_vae_to_diffusers(k, r) else {
            bail!(
                "{file}: the key `{k}` maps to no weight of the Wan VAE (original Wan VAE names)"
            );
        };
        names.insert(name, k.clone());
    }
    Ok(names)
}
