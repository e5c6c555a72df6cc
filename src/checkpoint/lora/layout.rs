//! The layout of a LoRA file's keys, detected once from all of them, and each key split into the
//! transformer module it updates (diffusers' name, through [`crate::checkpoint::keys`]) and the part
//! it holds (a factor, an alpha, a difference).
use std::fmt;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::checkpoint::keys::{self, KeyLayout};

/// How a LoRA file names its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraFormat {
    /// diffusers / PEFT: `transformer.blocks.0.attn1.to_q.lora_A.weight` (the prefix optional).
    Diffusers,
    /// Original Wan names under `diffusion_model.` (ComfyUI, diffusion-pipe, ai-toolkit, lightx2v):
    /// `diffusion_model.blocks.0.self_attn.q.lora_down.weight`.
    Wan,
    /// Original Wan names without a prefix (DiffSynth-Studio): `blocks.0.self_attn.q.lora_A.weight`.
    WanBare,
    /// kohya's / musubi-tuner's flattened names: `lora_unet_blocks_0_self_attn_q.lora_down.weight`.
    Musubi,
}

impl LoraFormat {
    pub fn describe(self) -> &'static str {
        match self {
            LoraFormat::Diffusers => "diffusers / PEFT names (`transformer.blocks.N.attn1.to_q`)",
            LoraFormat::Wan => {
                "original Wan names under `diffusion_model.` (ComfyUI and most trainers)"
            }
            LoraFormat::WanBare => "original Wan names without a prefix (DiffSynth-Studio)",
            LoraFormat::Musubi => "kohya / musubi-tuner names (`lora_unet_blocks_N_self_attn_q`)",
        }
    }
}

impl fmt::Display for LoraFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            LoraFormat::Diffusers => "diffusers",
            LoraFormat::Wan => "wan",
            LoraFormat::WanBare => "wan-bare",
            LoraFormat::Musubi => "musubi",
        };
        f.write_str(s)
    }
}

/// The part of a module's update a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Down,
    Up,
    Alpha,
    Diff,
    DiffB,
    HadaW1a,
    HadaW1b,
    HadaW2a,
    HadaW2b,
    LokrW1,
    LokrW1a,
    LokrW1b,
    LokrW2,
    LokrW2a,
    LokrW2b,
}

/// Key endings and the part they hold.
const PARTS: &[(&str, Part)] = &[
    ("lora_down.weight", Part::Down),
    ("lora_A.weight", Part::Down),
    ("lora_up.weight", Part::Up),
    ("lora_B.weight", Part::Up),
    ("alpha", Part::Alpha),
    ("diff", Part::Diff),
    ("diff_b", Part::DiffB),
    ("hada_w1_a", Part::HadaW1a),
    ("hada_w1_b", Part::HadaW1b),
    ("hada_w2_a", Part::HadaW2a),
    ("hada_w2_b", Part::HadaW2b),
    ("lokr_w1", Part::LokrW1),
    ("lokr_w1_a", Part::LokrW1a),
    ("lokr_w1_b", Part::LokrW1b),
    ("lokr_w2", Part::LokrW2),
    ("lokr_w2_a", Part::LokrW2a),
    ("lokr_w2_b", Part::LokrW2b),
];

/// Key endings that are refused, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        "hada_t1",
        "a Tucker-decomposed LoHa core, which only convolutions use",
    ),
    (
        "hada_t2",
        "a Tucker-decomposed LoHa core, which only convolutions use",
    ),
    (
        "lokr_t2",
        "a Tucker-decomposed LoKr core, which only convolutions use",
    ),
    ("dora_scale", "a DoRA magnitude (DoRA is not supported)"),
    (
        "lora_magnitude_vector",
        "a DoRA magnitude (DoRA is not supported)",
    ),
    (
        "lora_B.bias",
        "a PEFT bias update (`lora_bias`), which is not supported",
    ),
    (
        "lora_up.bias",
        "a bias on the up factor, which is not supported",
    ),
];

/// The file's layout and the prefix its keys carry.
#[derive(Debug, Clone)]
pub struct Layout {
    pub format: LoraFormat,
    prefix: String,
}

/// Detects the layout from every key. A file whose keys are in more than one layout (or carry
/// different prefixes) is refused naming two keys.
pub fn detect(path: &Path, keys: &[&str]) -> Result<Layout> {
    const MUSUBI: &str = "lora_unet_";
    if let Some(m) = keys.iter().find(|k| k.starts_with(MUSUBI)) {
        if let Some(other) = keys.iter().find(|k| !k.starts_with(MUSUBI)) {
            bail!(
                "{}: the file mixes layouts: `{m}` is in kohya's `lora_unet_` layout but `{other}` is not",
                path.display()
            );
        }
        return Ok(Layout {
            format: LoraFormat::Musubi,
            prefix: MUSUBI.into(),
        });
    }
    // Under a Wan prefix, keys whose names no other layout shares decide alone (a file holding only
    // `diffusion_model.blocks.0.norm3.diff` has none of the names `detect_layout` tells apart).
    for prefix in keys::WAN_PREFIXES {
        let wan = |k: &&str| {
            k.strip_prefix(prefix)
                .and_then(split_part)
                .is_some_and(|(m, _, _)| keys::wan_to_diffusers(m).is_some())
        };
        if keys.iter().all(wan) {
            return Ok(Layout {
                format: LoraFormat::Wan,
                prefix: prefix.to_string(),
            });
        }
    }
    let file = path.display().to_string();
    let layout = keys::detect_layout(&file, keys.iter().copied(), |_| false)
        .map_err(|e| anyhow!("{e} (while reading it as a LoRA)"))?;
    Ok(match layout {
        KeyLayout::Wan { prefix } if prefix.is_empty() => Layout {
            format: LoraFormat::WanBare,
            prefix,
        },
        KeyLayout::Wan { prefix } => Layout {
            format: LoraFormat::Wan,
            prefix,
        },
        KeyLayout::Diffusers { prefix } => Layout {
            format: LoraFormat::Diffusers,
            prefix,
        },
    })
}

/// A key split into its module (diffusers' name), its part, and the PEFT adapter name it carries
/// (`lora_A.default.weight`), if any.
#[derive(Debug, Clone)]
pub struct SplitKey {
    pub module: String,
    pub part: Part,
    pub adapter: Option<String>,
}

impl Layout {
    /// Splits `key` (as the file spells it), refusing what is not read, naming the key and file.
    pub fn split(&self, path: &Path, key: &str) -> Result<SplitKey> {
        let bare = key.strip_prefix(self.prefix.as_str()).ok_or_else(|| {
            anyhow!(
                "{}: LoRA key `{key}` lacks the prefix `{}` the file's other keys have",
                path.display(),
                self.prefix
            )
        })?;
        let (module, part, adapter) = split_part(bare).ok_or_else(|| self.not_a_part(path, key))?;
        if self.format == LoraFormat::Diffusers && !matches!(part, Part::Down | Part::Up) {
            return Err(self.not_a_part(path, key));
        }
        let name = match self.format {
            LoraFormat::Diffusers => keys::diffusers_to_wan(module).map(|_| module.to_string()),
            LoraFormat::Wan | LoraFormat::WanBare => keys::wan_to_diffusers(module),
            LoraFormat::Musubi => {
                keys::wan_from_underscored(module).and_then(|w| keys::wan_to_diffusers(&w))
            }
        };
        let module = name.ok_or_else(|| {
            anyhow!(
                "{}: LoRA key `{key}` names `{module}`, which is no layer of the Wan transformer",
                path.display()
            )
        })?;
        Ok(SplitKey {
            module,
            part,
            adapter: adapter.map(str::to_string),
        })
    }

    fn not_a_part(&self, path: &Path, key: &str) -> anyhow::Error {
        if let Some((_, why)) = REFUSED
            .iter()
            .find(|(end, _)| key.ends_with(&format!(".{end}")) || key.contains(&format!(".{end}.")))
        {
            return anyhow!("{}: LoRA key `{key}` holds {why}", path.display());
        }
        let expected = if self.format == LoraFormat::Diffusers {
            "`.lora_A.weight` or `.lora_B.weight`"
        } else {
            "`.lora_down.weight`/`.lora_up.weight` (or `lora_A`/`lora_B`), `.alpha`, `.diff`, `.diff_b`, \
             LoHa's `.hada_w1_a`.. or LoKr's `.lokr_w1`.."
        };
        anyhow!(
            "{}: LoRA key `{key}` is not a LoRA factor of the {} layout (expected a name ending in {expected})",
            path.display(),
            self.format
        )
    }
}

/// `module.<part>` or PEFT's `module.lora_A.<adapter>.weight`.
fn split_part(bare: &str) -> Option<(&str, Part, Option<&str>)> {
    for (end, part) in PARTS {
        if let Some(module) = bare
            .strip_suffix(end)
            .and_then(|m| m.strip_suffix('.'))
            .filter(|m| !m.is_empty())
        {
            return Some((module, *part, None));
        }
    }
    let rest = bare.strip_suffix(".weight")?;
    let (head, adapter) = rest.rsplit_once('.')?;
    let valid = !adapter.is_empty()
        && adapter
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return None;
    }
    for (end, part) in [(".lora_A", Part::Down), (".lora_B", Part::Up)] {
        if let Some(module) = head.strip_suffix(end).filter(|m| !m.is_empty()) {
            return Some((module, part, Some(adapter)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_parts_and_adapter_names() {
        let (m, p, a) = split_part("blocks.0.self_attn.q.lora_A.default.weight").unwrap();
        assert_eq!(
            (m, p, a),
            ("blocks.0.self_attn.q", Part::Down, Some("default"))
        );
        let (m, p, a) = split_part("blocks.0.ffn.0.lokr_w1_a").unwrap();
        assert_eq!((m, p, a), ("blocks.0.ffn.0", Part::LokrW1a, None));
        let (m, p, _) = split_part("head.head.diff_b").unwrap();
        assert_eq!((m, p), ("head.head", Part::DiffB));
        assert!(split_part("blocks.0.self_attn.q.weight").is_none());
        assert!(split_part("lora_A.weight").is_none());
    }
}
