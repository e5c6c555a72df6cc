//! Transformer weight names: the original Wan / ComfyUI names and diffusers' names, one table read in
//! both directions, and the architecture read from the tensors' shapes.
//!
//! The table is diffusers' `convert_wan_transformer_to_diffusers` (loaders/single_file_utils.py) written
//! as pairs of names instead of a chain of substring replacements: every module or tensor of the Wan
//! I2V/T2V transformer appears once, with its name in the original layout (Wan-AI's files, ComfyUI's
//! split files under `model.diffusion_model.`, city96's GGUFs, most LoRA trainers) and in diffusers'
//! layout (PhysEdit's own names, as `ChronoEditTransformer3DModel` loads them). Names map module by
//! module, so a tensor key (`blocks.0.self_attn.q.weight`) and a LoRA module (`blocks.0.self_attn.q`)
//! use the same row. The one trap of the converter is kept: the original blocks name their norms
//! `norm1, norm3, norm2` in call order, so original `norm3` (the affine norm before cross-attention) is
//! diffusers `norm2` and the reverse. A name therefore only means something once the file's layout is
//! known ([`detect_layout`]), never key by key.
//!
//! Tested by round trip (every name of the tiny reference transformers maps to an original name and
//! back), against diffusers' converter's output on the same names (`tests/it/checkpoint.rs`), and by
//! loading an original-key file written from a diffusers folder.
use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use crate::models::transformer::Config;

/// Prefixes that wrap the original names: ComfyUI's saved diffusion models, and LoRA files.
pub const WAN_PREFIXES: [&str; 2] = ["model.diffusion_model.", "diffusion_model."];

/// Modules outside the blocks: (original Wan name, diffusers name).
const TOP_LEVEL: &[(&str, &str)] = &[
    ("patch_embedding", "patch_embedding"),
    (
        "text_embedding.0",
        "condition_embedder.text_embedder.linear_1",
    ),
    (
        "text_embedding.2",
        "condition_embedder.text_embedder.linear_2",
    ),
    (
        "time_embedding.0",
        "condition_embedder.time_embedder.linear_1",
    ),
    (
        "time_embedding.2",
        "condition_embedder.time_embedder.linear_2",
    ),
    ("time_projection.1", "condition_embedder.time_proj"),
    ("img_emb.proj.0", "condition_embedder.image_embedder.norm1"),
    (
        "img_emb.proj.1",
        "condition_embedder.image_embedder.ff.net.0.proj",
    ),
    (
        "img_emb.proj.3",
        "condition_embedder.image_embedder.ff.net.2",
    ),
    ("img_emb.proj.4", "condition_embedder.image_embedder.norm2"),
    (
        "img_emb.emb_pos",
        "condition_embedder.image_embedder.pos_embed",
    ),
    ("head.head", "proj_out"),
    ("head.modulation", "scale_shift_table"),
];

/// Modules of block N, relative to `blocks.N.`: (original Wan name, diffusers name).
const PER_BLOCK: &[(&str, &str)] = &[
    ("self_attn.q", "attn1.to_q"),
    ("self_attn.k", "attn1.to_k"),
    ("self_attn.v", "attn1.to_v"),
    ("self_attn.o", "attn1.to_out.0"),
    ("self_attn.norm_q", "attn1.norm_q"),
    ("self_attn.norm_k", "attn1.norm_k"),
    ("cross_attn.q", "attn2.to_q"),
    ("cross_attn.k", "attn2.to_k"),
    ("cross_attn.v", "attn2.to_v"),
    ("cross_attn.o", "attn2.to_out.0"),
    ("cross_attn.k_img", "attn2.add_k_proj"),
    ("cross_attn.v_img", "attn2.add_v_proj"),
    ("cross_attn.norm_q", "attn2.norm_q"),
    ("cross_attn.norm_k", "attn2.norm_k"),
    ("cross_attn.norm_k_img", "attn2.norm_added_k"),
    ("norm1", "norm1"),
    ("norm3", "norm2"),
    ("norm2", "norm3"),
    ("ffn.0", "ffn.net.0.proj"),
    ("ffn.2", "ffn.net.2"),
    ("modulation", "scale_shift_table"),
];

/// How a transformer file names its weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLayout {
    /// diffusers' names (`blocks.0.attn1.to_q.weight`), optionally under `prefix` (`transformer.`).
    Diffusers { prefix: String },
    /// The original Wan names (`blocks.0.self_attn.q.weight`), optionally under `prefix`
    /// (`model.diffusion_model.`).
    Wan { prefix: String },
}

impl KeyLayout {
    pub fn describe(&self) -> String {
        let (what, prefix) = match self {
            KeyLayout::Diffusers { prefix } => ("diffusers key names", prefix),
            KeyLayout::Wan { prefix } => ("original Wan key names", prefix),
        };
        if prefix.is_empty() {
            what.to_string()
        } else {
            format!("{what} under `{prefix}`")
        }
    }

    /// diffusers' name of the file's key `key`, `None` when the key lies outside the layout's prefix or
    /// names nothing of the transformer.
    pub fn to_diffusers(&self, key: &str) -> Option<String> {
        match self {
            KeyLayout::Diffusers { prefix } => {
                let bare = key.strip_prefix(prefix.as_str())?;
                wan_to_diffusers_via(bare, Column::Diffusers, Column::Diffusers)
            }
            KeyLayout::Wan { prefix } => wan_to_diffusers_via(
                key.strip_prefix(prefix.as_str())?,
                Column::Wan,
                Column::Diffusers,
            ),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Wan,
    Diffusers,
}

fn pick(row: &(&'static str, &'static str), c: Column) -> &'static str {
    match c {
        Column::Wan => row.0,
        Column::Diffusers => row.1,
    }
}

/// `rest` is `module` or `module.<tail>`: the tail (`weight`, `bias`, `lora_A.weight`, ...).
fn split_module<'a>(rest: &'a str, module: &str) -> Option<&'a str> {
    let tail = rest.strip_prefix(module)?;
    if tail.is_empty() {
        Some("")
    } else {
        tail.strip_prefix('.').map(|_| tail)
    }
}

/// Translates one name (module or tensor, no prefix) from column `from` to column `to`.
fn wan_to_diffusers_via(name: &str, from: Column, to: Column) -> Option<String> {
    if let Some(rest) = name.strip_prefix("blocks.") {
        let (n, inner) = rest.split_once('.')?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // The longest matching module wins (`cross_attn.k_img` over a hypothetical `cross_attn.k`
        // prefix match: `split_module` already needs a `.` or the end after the module).
        let row = PER_BLOCK
            .iter()
            .find(|row| split_module(inner, pick(row, from)).is_some())?;
        let tail = split_module(inner, pick(row, from))?;
        return Some(format!("blocks.{n}.{}{tail}", pick(row, to)));
    }
    let row = TOP_LEVEL
        .iter()
        .find(|row| split_module(name, pick(row, from)).is_some())?;
    let tail = split_module(name, pick(row, from))?;
    Some(format!("{}{tail}", pick(row, to)))
}

/// diffusers' name of an original Wan name (no prefix): `blocks.0.self_attn.q.weight` ->
/// `blocks.0.attn1.to_q.weight`, `blocks.3.norm3` -> `blocks.3.norm2`. `None` for a name outside the
/// table.
pub fn wan_to_diffusers(name: &str) -> Option<String> {
    wan_to_diffusers_via(name, Column::Wan, Column::Diffusers)
}

/// The original Wan name of a diffusers name (the inverse of [`wan_to_diffusers`]).
pub fn diffusers_to_wan(name: &str) -> Option<String> {
    wan_to_diffusers_via(name, Column::Diffusers, Column::Wan)
}

/// The original Wan name of a module spelled with `_` for every `.`, as kohya's and musubi-tuner's
/// `lora_unet_` LoRA keys spell them: `blocks_0_cross_attn_k_img` -> `blocks.0.cross_attn.k_img`.
/// `None` for a name outside the table.
pub fn wan_from_underscored(name: &str) -> Option<String> {
    let flat = |wan: &str| wan.replace('.', "_");
    if let Some(rest) = name.strip_prefix("blocks_") {
        let (n, inner) = rest.split_once('_')?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let row = PER_BLOCK.iter().find(|row| flat(row.0) == inner)?;
        return Some(format!("blocks.{n}.{}", row.0));
    }
    let row = TOP_LEVEL.iter().find(|row| flat(row.0) == name)?;
    Some(row.0.to_string())
}

/// Name fragments only one of the two layouts uses.
const WAN_MARKERS: [&str; 8] = [
    ".self_attn.",
    ".cross_attn.",
    ".ffn.0.",
    ".modulation",
    "head.head.",
    "time_embedding.",
    "text_embedding.",
    "img_emb.",
];
const DIFFUSERS_MARKERS: [&str; 7] = [
    ".attn1.",
    ".attn2.",
    ".ffn.net.",
    "scale_shift_table",
    "proj_out.",
    "condition_embedder.",
    ".to_out.",
];

/// Prefixes a diffusers-named transformer file may carry (a whole pipeline saved as one file).
const DIFFUSERS_PREFIXES: [&str; 1] = ["transformer."];

/// The layout of a transformer file from its keys. Every key that names transformer weights must be
/// in the one layout: a file that mixes layouts, or whose keys carry different prefixes, is refused
/// naming two keys. `ignore` says which keys are not weights (fp8 scales, markers) and are skipped.
pub fn detect_layout<'a>(
    file: &str,
    keys: impl IntoIterator<Item = &'a str>,
    ignore: impl Fn(&str) -> bool,
) -> Result<KeyLayout> {
    let mut wan_key: Option<&str> = None;
    let mut diffusers_key: Option<&str> = None;
    let mut prefix: Option<(&str, &str)> = None;
    let mut any = false;
    for key in keys {
        if ignore(key) {
            continue;
        }
        any = true;
        let p = WAN_PREFIXES
            .iter()
            .chain(DIFFUSERS_PREFIXES.iter())
            .find(|p| key.starts_with(**p))
            .copied()
            .unwrap_or("");
        match prefix {
            None => prefix = Some((p, key)),
            Some((q, other)) if q != p => bail!(
                "{file}: the keys `{other}` and `{key}` carry different prefixes (`{q}` and `{p}`); \
                 expected one transformer's weights"
            ),
            _ => {}
        }
        let dotted = format!(".{}", &key[p.len()..]);
        if WAN_MARKERS.iter().any(|m| dotted.contains(m)) {
            wan_key.get_or_insert(key);
        }
        if DIFFUSERS_MARKERS.iter().any(|m| dotted.contains(m)) {
            diffusers_key.get_or_insert(key);
        }
    }
    if !any {
        bail!("{file} holds no transformer weights");
    }
    let prefix = prefix.map(|(p, _)| p.to_string()).unwrap_or_default();
    match (wan_key, diffusers_key) {
        (Some(w), Some(d)) => bail!(
            "{file} mixes original Wan key names (`{w}`) with diffusers key names (`{d}`); \
             expected one layout"
        ),
        (Some(_), None) if !DIFFUSERS_PREFIXES.contains(&prefix.as_str()) => {
            Ok(KeyLayout::Wan { prefix })
        }
        (None, Some(_)) if !WAN_PREFIXES.contains(&prefix.as_str()) => {
            Ok(KeyLayout::Diffusers { prefix })
        }
        (Some(k), None) | (None, Some(k)) => bail!(
            "{file}: the key `{k}` has the prefix `{prefix}`, which does not go with its key names"
        ),
        (None, None) => bail!(
            "{file} names no Wan transformer weights (expected keys such as \
             `blocks.0.self_attn.q.weight` or `blocks.0.attn1.to_q.weight`)"
        ),
    }
}

/// The transformer architecture a set of weights describes, read from the shapes (as ComfyUI's model
/// detection does): `shapes` maps diffusers names to shapes. The head count is not in any shape; it is
/// `inner_dim / head_dim`, with `head_dim` 128 (every Wan model's) unless given.
pub fn infer_config(
    file: &str,
    shapes: &BTreeMap<String, Vec<usize>>,
    head_dim: Option<usize>,
) -> Result<Config> {
    let shape = |name: &str| -> Result<&Vec<usize>> {
        shapes.get(name).ok_or_else(|| {
            anyhow!(
                "{file} has no `{name}` (`{}` in original Wan names): not a Wan transformer, or an incomplete file",
                diffusers_to_wan(name).unwrap_or_default()
            )
        })
    };
    let dims = |name: &str, n: usize| -> Result<Vec<usize>> {
        let s = shape(name)?;
        if s.len() != n {
            bail!("{file}: `{name}` has shape {s:?}, expected {n} dimensions");
        }
        Ok(s.clone())
    };
    let patch = dims("patch_embedding.weight", 5)?;
    let inner = patch[0];
    let in_channels = patch[1];
    let patch_size = patch[2..5].to_vec();
    let head_dim = head_dim.unwrap_or(128);
    if head_dim == 0 || inner % head_dim != 0 {
        bail!(
            "{file}: the transformer is {inner} wide, not a multiple of the head size {head_dim}"
        );
    }
    let num_layers = (0..)
        .take_while(|i| shapes.contains_key(&format!("blocks.{i}.attn1.to_q.weight")))
        .count();
    if num_layers == 0 {
        bail!("{file} has no transformer blocks (`blocks.0.attn1.to_q.weight` is missing)");
    }
    if let Some(extra) = shapes.keys().find(|k| {
        k.strip_prefix("blocks.")
            .and_then(|r| r.split_once('.'))
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .is_some_and(|n| n >= num_layers)
    }) {
        bail!("{file}: `{extra}` lies beyond the {num_layers} consecutive blocks from block 0 (a block is missing)");
    }
    let ffn_dim = dims("blocks.0.ffn.net.0.proj.weight", 2)?[0];
    let text_dim = dims("condition_embedder.text_embedder.linear_1.weight", 2)?[1];
    let freq_dim = dims("condition_embedder.time_embedder.linear_1.weight", 2)?[1];
    let out_rows = dims("proj_out.weight", 2)?[0];
    let patch_volume: usize = patch_size.iter().product();
    if patch_volume == 0 || out_rows % patch_volume != 0 {
        bail!("{file}: `proj_out.weight` has {out_rows} rows, not a multiple of the patch volume {patch_volume}");
    }
    let image_dim = match shapes.get("condition_embedder.image_embedder.norm1.weight") {
        Some(s) if s.len() == 1 => Some(s[0]),
        Some(s) => bail!("{file}: `condition_embedder.image_embedder.norm1.weight` has shape {s:?}, expected 1 dimension"),
        None => None,
    };
    let added_kv_proj_dim = match shapes.get("blocks.0.attn2.add_k_proj.weight") {
        Some(s) if s.len() == 2 => Some(s[1]),
        Some(s) => bail!(
            "{file}: `blocks.0.attn2.add_k_proj.weight` has shape {s:?}, expected 2 dimensions"
        ),
        None => None,
    };
    let pos_embed_seq_len = match shapes.get("condition_embedder.image_embedder.pos_embed") {
        Some(s) if s.len() == 3 => Some(s[1]),
        Some(s) => bail!("{file}: `condition_embedder.image_embedder.pos_embed` has shape {s:?}, expected 3 dimensions"),
        None => None,
    };
    let mut cfg = Config::from_json_str("{}").map_err(anyhow::Error::msg)?;
    cfg.patch_size = patch_size;
    cfg.num_attention_heads = inner / head_dim;
    cfg.attention_head_dim = head_dim;
    cfg.in_channels = in_channels;
    cfg.out_channels = Some(out_rows / patch_volume);
    cfg.text_dim = text_dim;
    cfg.freq_dim = freq_dim;
    cfg.ffn_dim = ffn_dim;
    cfg.num_layers = num_layers;
    cfg.cross_attn_norm = shapes.contains_key("blocks.0.norm2.weight");
    cfg.qk_norm = shapes
        .contains_key("blocks.0.attn1.norm_q.weight")
        .then(|| "rms_norm_across_heads".to_string());
    cfg.image_dim = image_dim;
    cfg.added_kv_proj_dim = added_kv_proj_dim;
    cfg.pos_embed_seq_len = pos_embed_seq_len;
    cfg.validate().map_err(anyhow::Error::msg)?;
    Ok(cfg)
}

/// A short name for an architecture, for messages: "Wan 14B I2V (5120 wide, 40 blocks)".
pub fn describe_config(cfg: &Config) -> String {
    let size = match (cfg.inner_dim(), cfg.num_layers) {
        (5120, 40) => "Wan 14B ",
        (1536, 30) => "Wan 1.3B ",
        _ => "",
    };
    let kind = if cfg.image_dim.is_some() {
        "I2V"
    } else {
        "T2V"
    };
    format!(
        "{size}{kind} ({} wide, {} blocks, {} input channels)",
        cfg.inner_dim(),
        cfg.num_layers,
        cfg.in_channels
    )
}

/// Checks that the weights' architecture (`found`, from [`infer_config`]) is the configured one,
/// naming the first field that differs. The head split is not compared when the weights cannot
/// tell it (only the width is in the shapes).
pub fn check_config(file: &str, expected: &Config, found: &Config) -> Result<()> {
    let what = describe_config(found);
    let want = describe_config(expected);
    let mut diffs: Vec<String> = Vec::new();
    let mut cmp = |field: &str, a: String, b: String| {
        if a != b {
            diffs.push(format!("{field} {b} (expected {a})"));
        }
    };
    cmp(
        "width",
        expected.inner_dim().to_string(),
        found.inner_dim().to_string(),
    );
    cmp(
        "blocks",
        expected.num_layers.to_string(),
        found.num_layers.to_string(),
    );
    cmp(
        "in_channels",
        expected.in_channels.to_string(),
        found.in_channels.to_string(),
    );
    cmp(
        "out_channels",
        expected.out_channels().to_string(),
        found.out_channels().to_string(),
    );
    cmp(
        "patch_size",
        format!("{:?}", expected.patch_size),
        format!("{:?}", found.patch_size),
    );
    cmp(
        "ffn_dim",
        expected.ffn_dim.to_string(),
        found.ffn_dim.to_string(),
    );
    cmp(
        "text_dim",
        expected.text_dim.to_string(),
        found.text_dim.to_string(),
    );
    cmp(
        "freq_dim",
        expected.freq_dim.to_string(),
        found.freq_dim.to_string(),
    );
    cmp(
        "image_dim",
        format!("{:?}", expected.image_dim),
        format!("{:?}", found.image_dim),
    );
    cmp(
        "added_kv_proj_dim",
        format!("{:?}", expected.added_kv_proj_dim),
        format!("{:?}", found.added_kv_proj_dim),
    );
    cmp(
        "cross_attn_norm",
        expected.cross_attn_norm.to_string(),
        found.cross_attn_norm.to_string(),
    );
    cmp(
        "pos_embed_seq_len",
        format!("{:?}", expected.pos_embed_seq_len),
        format!("{:?}", found.pos_embed_seq_len),
    );
    if diffs.is_empty() {
        return Ok(());
    }
    bail!(
        "{file} holds a {what}, but the model needs a {want}: {}",
        diffs.join(", ")
    )
}

/// ChronoEdit-14B's transformer (`nvidia/ChronoEdit-14B-Diffusers`, transformer/config.json): the
/// Wan2.1-I2V-14B architecture with ChronoEdit's temporal RoPE skip.
pub fn chronoedit_14b_config() -> Config {
    let mut cfg = Config::from_json_str("{}").expect("the default transformer config is valid");
    cfg.patch_size = vec![1, 2, 2];
    cfg.num_attention_heads = 40;
    cfg.attention_head_dim = 128;
    cfg.in_channels = 36;
    cfg.out_channels = Some(16);
    cfg.text_dim = 4096;
    cfg.freq_dim = 256;
    cfg.ffn_dim = 13824;
    cfg.num_layers = 40;
    cfg.cross_attn_norm = true;
    cfg.qk_norm = Some("rms_norm_across_heads".into());
    cfg.eps = 1e-6;
    cfg.image_dim = Some(1280);
    cfg.added_kv_proj_dim = Some(5120);
    cfg.rope_max_seq_len = 1024;
    cfg.pos_embed_seq_len = None;
    cfg.rope_temporal_skip_len = 8;
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_unique_in_each_column() {
        for table in [TOP_LEVEL, PER_BLOCK] {
            for c in [Column::Wan, Column::Diffusers] {
                let mut names: Vec<&str> = table.iter().map(|r| pick(r, c)).collect();
                names.sort();
                let n = names.len();
                names.dedup();
                assert_eq!(n, names.len(), "a name appears twice in one column");
            }
        }
    }

    #[test]
    fn maps_block_and_top_level_names_both_ways() {
        let pairs = [
            ("blocks.0.self_attn.q.weight", "blocks.0.attn1.to_q.weight"),
            (
                "blocks.12.cross_attn.k_img.bias",
                "blocks.12.attn2.add_k_proj.bias",
            ),
            (
                "blocks.1.cross_attn.norm_k_img.weight",
                "blocks.1.attn2.norm_added_k.weight",
            ),
            ("blocks.2.norm3.weight", "blocks.2.norm2.weight"),
            ("blocks.2.norm2.weight", "blocks.2.norm3.weight"),
            ("blocks.3.modulation", "blocks.3.scale_shift_table"),
            ("blocks.3.ffn.2.weight", "blocks.3.ffn.net.2.weight"),
            ("head.modulation", "scale_shift_table"),
            ("head.head.bias", "proj_out.bias"),
            (
                "img_emb.proj.4.weight",
                "condition_embedder.image_embedder.norm2.weight",
            ),
            ("time_projection.1", "condition_embedder.time_proj"),
            (
                "blocks.0.ffn.0.lora_down.weight",
                "blocks.0.ffn.net.0.proj.lora_down.weight",
            ),
        ];
        for (wan, diffusers) in pairs {
            assert_eq!(wan_to_diffusers(wan).as_deref(), Some(diffusers), "{wan}");
            assert_eq!(
                diffusers_to_wan(diffusers).as_deref(),
                Some(wan),
                "{diffusers}"
            );
        }
        for unknown in [
            "blocks.x.self_attn.q.weight",
            "blocks.0.self_attn.qq.weight",
            "head",
            "foo.weight",
        ] {
            assert_eq!(wan_to_diffusers(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn reads_underscored_names() {
        let pairs = [
            ("blocks_0_self_attn_q", "blocks.0.self_attn.q"),
            ("blocks_12_cross_attn_k_img", "blocks.12.cross_attn.k_img"),
            ("blocks_3_ffn_0", "blocks.3.ffn.0"),
            ("head_head", "head.head"),
            ("time_projection_1", "time_projection.1"),
            ("img_emb_proj_3", "img_emb.proj.3"),
        ];
        for (flat, wan) in pairs {
            assert_eq!(wan_from_underscored(flat).as_deref(), Some(wan), "{flat}");
        }
        for unknown in [
            "blocks_x_self_attn_q",
            "blocks_0_self_attn",
            "head",
            "blocks_0",
        ] {
            assert_eq!(wan_from_underscored(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn detects_layouts_and_refuses_mixtures() {
        let none = |_: &str| false;
        let wan = [
            "model.diffusion_model.blocks.0.self_attn.q.weight",
            "model.diffusion_model.head.head.weight",
        ];
        assert_eq!(
            detect_layout("f", wan, none).unwrap(),
            KeyLayout::Wan {
                prefix: "model.diffusion_model.".into()
            }
        );
        let d = ["blocks.0.attn1.to_q.weight", "proj_out.weight"];
        assert_eq!(
            detect_layout("f", d, none).unwrap(),
            KeyLayout::Diffusers { prefix: "".into() }
        );
        let mixed = ["blocks.0.attn1.to_q.weight", "blocks.0.self_attn.q.weight"];
        let e = detect_layout("f", mixed, none).unwrap_err().to_string();
        assert!(e.contains("mixes"), "{e}");
        let prefixes = [
            "model.diffusion_model.blocks.0.self_attn.q.weight",
            "blocks.0.self_attn.k.weight",
        ];
        let e = detect_layout("f", prefixes, none).unwrap_err().to_string();
        assert!(e.contains("different prefixes"), "{e}");
    }
}
