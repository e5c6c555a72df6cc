//! LoRA loading, fused into the transformer's linear weights at load time:
//! `W' = W + scale * scaling * (B @ A)` in f32, cast to the requested dtype once, so an edit costs
//! exactly what it costs without the LoRA.
//!
//! Two file layouts are read, the ones diffusers' `WanLoraLoaderMixin.load_lora_weights` reads:
//!
//! - diffusers / PEFT: `transformer.blocks.0.attn1.to_q.lora_A.weight` / `.lora_B.weight` (the
//!   `transformer.` prefix may be left out). `scaling` is PEFT's: `lora_alpha / r` (or
//!   `lora_alpha / sqrt(r)` with `use_rslora`), taken from the LoRA config diffusers stores as JSON
//!   under `lora_adapter_metadata` in the safetensors `__metadata__` (`r`, `lora_alpha`,
//!   `rank_pattern`, `alpha_pattern`, matched like PEFT's `get_pattern_key`). Without that metadata
//!   diffusers sets `lora_alpha = r` for every module, so `scaling = 1`.
//! - the original Wan layout (ComfyUI, Kohya): `diffusion_model.blocks.0.self_attn.q.lora_down.weight`
//!   / `.lora_up.weight` / `.alpha`, converted as diffusers' `_convert_non_diffusers_wan_lora_to_diffusers`
//!   does (self_attn -> attn1, cross_attn -> attn2 with k_img/v_img -> add_k_proj/add_v_proj,
//!   ffn.0/ffn.2 -> ffn.net.0.proj/ffn.net.2, plus the embedding and head layers); an `.alpha` tensor
//!   multiplies the update by `alpha / rank`.
//!
//! Every key must be used: a key naming no transformer weight, a module with only one of its two
//! factors, a rank that differs between the factors (or from the metadata's `r`), or a shape that
//! does not fit the weight is an error naming the key and the file. Pickle files are refused.
//!
//! Parity limits (tested against diffusers' `load_lora_weights` + `fuse_lora(lora_scale)` on the tiny
//! random pipeline in `tests/it/lora.rs`, f32): diffusers fuses into the weight in the weight's own dtype
//! and pre-multiplies Wan-layout factors by `alpha / rank` before the product, PhysEdit computes every
//! update in f32 and rounds once, so the fused weights agree to f32 rounding (and, in bf16/f16, PhysEdit
//! rounds once where diffusers rounds per LoRA). Not supported, each refused with an error naming the
//! key: bias updates (`lora_B.bias`, `diff_b`), full weight differences (`diff`), DoRA
//! (`lora_magnitude_vector`, `dora_scale`, `use_dora`), and Musubi's `lora_unet_` layout. Where diffusers
//! is laxer (it drops keys outside the `transformer.` prefix and un-prefixed PEFT files without a word,
//! and refuses `.alpha` on the non-block layers), PhysEdit reads them or names them.
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

use crate::checkpoint::{check_safetensors_file, weight_files, PICKLE_ENDINGS};

/// Key of the safetensors `__metadata__` entry where diffusers stores the LoRA config as JSON.
pub const ADAPTER_METADATA_KEY: &str = "lora_adapter_metadata";

/// One LoRA to fuse: a safetensors file and the strength it is applied with (diffusers'
/// `fuse_lora(lora_scale=...)`). Parsed from `FILE[:SCALE]`, scale 1.0 when omitted.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraSpec {
    pub path: PathBuf,
    pub scale: f64,
}

impl LoraSpec {
    pub fn new(path: impl Into<PathBuf>, scale: f64) -> Result<Self> {
        let path = path.into();
        if !scale.is_finite() {
            bail!(
                "LoRA {}: scale {scale} is not a finite number",
                path.display()
            );
        }
        Ok(Self { path, scale })
    }
}

impl FromStr for LoraSpec {
    type Err = anyhow::Error;

    /// `FILE` or `FILE:SCALE`. The scale is what follows the last `:`; a file name that contains
    /// `:` therefore needs an explicit scale, and a non-number after the last `:` is an error rather
    /// than silently part of the file name.
    fn from_str(s: &str) -> Result<Self> {
        let usage = "expected FILE or FILE:SCALE, e.g. distill.safetensors:0.8";
        if s.trim().is_empty() {
            bail!("--lora value is empty: {usage}");
        }
        let (file, scale) = match s.rsplit_once(':') {
            None => (s, 1.0),
            Some((file, tail)) => {
                let scale: f64 = tail.trim().parse().map_err(|_| {
                    anyhow!(
                        "--lora value `{s}`: `{tail}` after the last ':' is not a number; {usage} \
                         (a file name containing ':' needs an explicit scale, `{s}:1`)"
                    )
                })?;
                if !scale.is_finite() {
                    bail!("--lora value `{s}`: scale `{tail}` is not a finite number");
                }
                (file, scale)
            }
        };
        if file.is_empty() {
            bail!("--lora value `{s}` names no file: {usage}");
        }
        Ok(Self {
            path: PathBuf::from(file),
            scale,
        })
    }
}

impl fmt::Display for LoraSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.scale)
    }
}

/// The layout a LoRA file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraFormat {
    /// `transformer.<module>.lora_A.weight` / `lora_B.weight` (diffusers, PEFT).
    Diffusers,
    /// `diffusion_model.<module>.lora_down.weight` / `lora_up.weight` / `alpha` (Wan, ComfyUI, Kohya).
    Wan,
}

/// One low-rank update of one weight, named as the transformer's checkpoint names it.
#[derive(Debug, Clone)]
pub struct LoraLayer {
    /// The weight it updates, e.g. `blocks.0.attn1.to_q.weight`.
    pub target: String,
    /// The file's key of the down factor, for messages.
    pub key: String,
    /// `A`: (rank, in_features), f32.
    pub down: Tensor,
    /// `B`: (out_features, rank), f32.
    pub up: Tensor,
    /// Multiplier of `B @ A` before the user's scale: `alpha / rank` (Wan `.alpha`) times PEFT's
    /// `lora_alpha / r` (1 without metadata).
    pub scaling: f64,
}

impl LoraLayer {
    pub fn rank(&self) -> usize {
        self.down.dims()[0]
    }
}

/// A LoRA file read and converted to the transformer's weight names.
#[derive(Debug, Clone)]
pub struct LoraFile {
    pub path: PathBuf,
    pub format: LoraFormat,
    pub layers: Vec<LoraLayer>,
}

/// LoRA config fields diffusers stores in the file (PEFT's `LoraConfig`).
#[derive(Debug, Clone)]
struct AdapterConfig {
    r: f64,
    lora_alpha: f64,
    rank_pattern: Vec<(String, regex::Regex, f64)>,
    alpha_pattern: Vec<(String, regex::Regex, f64)>,
    use_rslora: bool,
}

impl AdapterConfig {
    fn from_json(path: &Path, value: &serde_json::Value) -> Result<Self> {
        let bad = |why: String| {
            anyhow!(
                "{}: `{ADAPTER_METADATA_KEY}` in the safetensors metadata {why}",
                path.display()
            )
        };
        let obj = value
            .as_object()
            .ok_or_else(|| bad("is not a JSON object".into()))?;
        // diffusers' pipeline-level files prefix every field with the component name.
        let field = |name: &str| {
            obj.get(&format!("transformer.{name}"))
                .or_else(|| obj.get(name))
        };
        let number = |name: &str| -> Result<Option<f64>> {
            match field(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|x| x.is_finite())
                    .map(Some)
                    .ok_or_else(|| bad(format!("has a non-numeric `{name}` ({v})"))),
            }
        };
        let flag = |name: &str| -> Result<bool> {
            match field(name) {
                None | Some(serde_json::Value::Null) => Ok(false),
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| bad(format!("has a non-boolean `{name}` ({v})"))),
            }
        };
        let pattern = |name: &str| -> Result<Vec<(String, regex::Regex, f64)>> {
            let Some(v) = field(name) else {
                return Ok(Vec::new());
            };
            if v.is_null() {
                return Ok(Vec::new());
            }
            let map = v
                .as_object()
                .ok_or_else(|| bad(format!("has a `{name}` that is not an object")))?;
            let mut out = Vec::new();
            for (k, val) in map {
                let x = val
                    .as_f64()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| {
                        bad(format!("has `{name}`.`{k}` = {val}, not a positive number"))
                    })?;
                // PEFT's get_pattern_key: re.match(rf"(.*\.)?({key})$", module_name).
                let re = regex::Regex::new(&format!(r"^(?:.*\.)?(?:{k})$")).map_err(|e| {
                    bad(format!(
                        "has the `{name}` key `{k}`, not a valid pattern ({e})"
                    ))
                })?;
                out.push((k.clone(), re, x));
            }
            Ok(out)
        };
        if flag("use_dora")? {
            bail!(
                "{}: the LoRA config has use_dora = true; DoRA adapters are not supported",
                path.display()
            );
        }
        if flag("lora_bias")? {
            bail!(
                "{}: the LoRA config has lora_bias = true; bias updates are not supported",
                path.display()
            );
        }
        // PEFT's LoraConfig defaults: r = 8, lora_alpha = 8.
        let r = number("r")?.unwrap_or(8.0);
        if r <= 0.0 {
            return Err(bad(format!("has r = {r}")));
        }
        let lora_alpha = number("lora_alpha")?.unwrap_or(8.0);
        Ok(Self {
            r,
            lora_alpha,
            rank_pattern: pattern("rank_pattern")?,
            alpha_pattern: pattern("alpha_pattern")?,
            use_rslora: flag("use_rslora")?,
        })
    }

    /// PEFT's `(r, lora_alpha)` for a module (diffusers' name without `.weight`).
    fn lookup(
        path: &Path,
        patterns: &[(String, regex::Regex, f64)],
        module: &str,
        what: &str,
    ) -> Result<Option<f64>> {
        let hits: Vec<&(String, regex::Regex, f64)> = patterns
            .iter()
            .filter(|(_, re, _)| re.is_match(module))
            .collect();
        if let Some(first) = hits.first() {
            // PEFT takes the first matching key in the config's order, which JSON parsing does not
            // keep here: only an unambiguous match is accepted.
            if hits.iter().any(|h| h.2 != first.2) {
                bail!(
                    "{}: the LoRA config's {what} gives `{module}` different values ({}); cannot tell which applies",
                    path.display(),
                    hits.iter()
                        .map(|h| format!("`{}` = {}", h.0, h.2))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            return Ok(Some(first.2));
        }
        Ok(None)
    }

    fn scaling(&self, path: &Path, module: &str, rank: usize, key: &str) -> Result<f64> {
        let r = Self::lookup(path, &self.rank_pattern, module, "rank_pattern")?.unwrap_or(self.r);
        let alpha = Self::lookup(path, &self.alpha_pattern, module, "alpha_pattern")?
            .unwrap_or(self.lora_alpha);
        if r != rank as f64 {
            bail!(
                "{}: LoRA key `{key}` has rank {rank} but the file's LoRA config gives `{module}` r = {r}",
                path.display()
            );
        }
        Ok(if self.use_rslora {
            alpha / r.sqrt()
        } else {
            alpha / r
        })
    }
}

/// Which factor (or scalar) a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Down,
    Up,
    Alpha,
}

/// Splits `bare` (the file's `key` less its layout prefix) into `<module>.<part>` and refuses what is
/// not fused here, naming the key as the file spells it.
fn split_key<'a>(
    path: &Path,
    key: &str,
    bare: &'a str,
    format: LoraFormat,
) -> Result<(&'a str, Part)> {
    let unsupported = |what: &str| {
        anyhow!(
            "{}: LoRA key `{key}` holds {what}, which is not supported",
            path.display()
        )
    };
    let wan = format == LoraFormat::Wan;
    let parts: &[(&str, Part)] = if wan {
        &[
            (".lora_down.weight", Part::Down),
            (".lora_A.weight", Part::Down),
            (".lora_up.weight", Part::Up),
            (".lora_B.weight", Part::Up),
            (".alpha", Part::Alpha),
        ]
    } else {
        &[(".lora_A.weight", Part::Down), (".lora_B.weight", Part::Up)]
    };
    for (suffix, part) in parts {
        if let Some(module) = bare.strip_suffix(suffix) {
            if !module.is_empty() {
                return Ok((module, *part));
            }
        }
    }
    if key.ends_with(".lora_B.bias") || key.ends_with(".diff_b") || key.ends_with(".lora_up.bias") {
        return Err(unsupported("a bias update"));
    }
    if key.ends_with(".diff") {
        return Err(unsupported("a full weight difference"));
    }
    if key.contains("lora_magnitude_vector") || key.contains("dora_scale") {
        return Err(unsupported("a DoRA magnitude"));
    }
    if bare.starts_with("lora_unet_") {
        bail!(
            "{}: LoRA key `{key}` is in Musubi's `lora_unet_` layout, which is not supported; \
             expected diffusers (`transformer.blocks.N.attn1.to_q.lora_A.weight`) or Wan \
             (`diffusion_model.blocks.N.self_attn.q.lora_down.weight`) keys",
            path.display()
        );
    }
    let expected = if wan {
        "`.lora_down.weight`, `.lora_up.weight` or `.alpha`"
    } else {
        "`.lora_A.weight` or `.lora_B.weight`"
    };
    bail!(
        "{}: LoRA key `{key}` is not a LoRA factor (expected a name ending in {expected})",
        path.display()
    )
}

/// Diffusers' name of a Wan-layout module (`blocks.0.self_attn.q` -> `blocks.0.attn1.to_q`), as
/// `_convert_non_diffusers_wan_lora_to_diffusers` maps them.
fn wan_module_to_diffusers(module: &str) -> Option<String> {
    if let Some(rest) = module.strip_prefix("blocks.") {
        let (n, layer) = rest.split_once('.')?;
        n.parse::<usize>().ok()?;
        let mapped = match layer {
            "self_attn.q" => "attn1.to_q",
            "self_attn.k" => "attn1.to_k",
            "self_attn.v" => "attn1.to_v",
            "self_attn.o" => "attn1.to_out.0",
            "cross_attn.q" => "attn2.to_q",
            "cross_attn.k" => "attn2.to_k",
            "cross_attn.v" => "attn2.to_v",
            "cross_attn.o" => "attn2.to_out.0",
            "cross_attn.k_img" => "attn2.add_k_proj",
            "cross_attn.v_img" => "attn2.add_v_proj",
            "ffn.0" => "ffn.net.0.proj",
            "ffn.2" => "ffn.net.2",
            _ => return None,
        };
        return Some(format!("blocks.{n}.{mapped}"));
    }
    let mapped = match module {
        "time_projection.1" => "condition_embedder.time_proj",
        "head.head" => "proj_out",
        "text_embedding.0" => "condition_embedder.text_embedder.linear_1",
        "text_embedding.2" => "condition_embedder.text_embedder.linear_2",
        "time_embedding.0" => "condition_embedder.time_embedder.linear_1",
        "time_embedding.2" => "condition_embedder.time_embedder.linear_2",
        "img_emb.proj.1" => "condition_embedder.image_embedder.ff.net.0.proj",
        "img_emb.proj.3" => "condition_embedder.image_embedder.ff.net.2",
        _ => return None,
    };
    Some(mapped.to_string())
}

/// The file's tensors and its `__metadata__`; pickle files and missing files are refused by name.
fn read_safetensors(path: &Path) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    let name = path.to_string_lossy();
    if PICKLE_ENDINGS.iter().any(|e| name.ends_with(e)) {
        bail!(
            "refusing to load the LoRA {}: pickle files (.bin/.pt/.ckpt) can run arbitrary code and are never read; \
             convert it to safetensors",
            path.display()
        );
    }
    if !path.exists() {
        bail!("LoRA file {} does not exist", path.display());
    }
    if !path.is_file() {
        bail!("LoRA path {} is not a file", path.display());
    }
    check_safetensors_file(path)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| anyhow!("{} is not a valid safetensors file: {e}", path.display()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .with_context(|| format!("cannot read the tensors of {}", path.display()))?;
    Ok((tensors, metadata))
}

/// Reads a LoRA file and converts it to the transformer's weight names. Shapes against the model are
/// checked by [`fused_var_builder`].
pub fn read_lora_file(path: &Path) -> Result<LoraFile> {
    let (tensors, metadata) = read_safetensors(path)?;
    if tensors.is_empty() {
        bail!("LoRA file {} holds no tensors", path.display());
    }
    let wan_keys = tensors
        .keys()
        .filter(|k| k.starts_with("diffusion_model."))
        .count();
    let format = if wan_keys > 0 {
        if let Some(k) = tensors.keys().find(|k| !k.starts_with("diffusion_model.")) {
            bail!(
                "{}: LoRA key `{k}` lacks the `diffusion_model.` prefix the file's other keys have",
                path.display()
            );
        }
        LoraFormat::Wan
    } else {
        LoraFormat::Diffusers
    };
    let config = match metadata.get(ADAPTER_METADATA_KEY) {
        Some(raw) => {
            let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
                anyhow!(
                    "{}: `{ADAPTER_METADATA_KEY}` in the safetensors metadata is not JSON ({e})",
                    path.display()
                )
            })?;
            Some(AdapterConfig::from_json(path, &value)?)
        }
        None => None,
    };

    // module (diffusers name) -> (down key, down), (up key, up), (alpha key, alpha)
    #[derive(Default)]
    struct Parts {
        down: Option<(String, Tensor)>,
        up: Option<(String, Tensor)>,
        alpha: Option<(String, f64)>,
    }
    let mut modules: BTreeMap<String, Parts> = BTreeMap::new();
    let mut keys: Vec<&String> = tensors.keys().collect();
    keys.sort();
    for key in keys {
        let tensor = &tensors[key];
        let bare = match format {
            LoraFormat::Wan => &key["diffusion_model.".len()..],
            LoraFormat::Diffusers => key.strip_prefix("transformer.").unwrap_or(key),
        };
        let (module, part) = split_key(path, key, bare, format)?;
        let module = match format {
            LoraFormat::Wan => wan_module_to_diffusers(module).ok_or_else(|| {
                anyhow!(
                    "{}: LoRA key `{key}` names `{module}`, which is no Wan transformer linear layer",
                    path.display()
                )
            })?,
            LoraFormat::Diffusers => module.to_string(),
        };
        let entry = modules.entry(module).or_default();
        let slot_taken = |other: &str| {
            anyhow!(
                "{}: LoRA keys `{other}` and `{key}` update the same weight",
                path.display()
            )
        };
        match part {
            Part::Down | Part::Up => {
                if tensor.rank() != 2 {
                    bail!(
                        "{}: LoRA key `{key}` has shape {:?}; a LoRA factor is a matrix",
                        path.display(),
                        tensor.dims()
                    );
                }
                let t = tensor
                    .to_dtype(DType::F32)
                    .with_context(|| format!("{}: cannot read `{key}`", path.display()))?;
                let slot = if part == Part::Down {
                    &mut entry.down
                } else {
                    &mut entry.up
                };
                if let Some((other, _)) = slot {
                    return Err(slot_taken(other));
                }
                *slot = Some((key.clone(), t));
            }
            Part::Alpha => {
                if tensor.elem_count() != 1 {
                    bail!(
                        "{}: LoRA key `{key}` has shape {:?}; alpha is a scalar",
                        path.display(),
                        tensor.dims()
                    );
                }
                let a = tensor
                    .to_dtype(DType::F64)?
                    .flatten_all()?
                    .to_vec1::<f64>()?[0];
                if !a.is_finite() {
                    bail!(
                        "{}: LoRA key `{key}` is {a}, not a finite alpha",
                        path.display()
                    );
                }
                if let Some((other, _)) = &entry.alpha {
                    return Err(slot_taken(other));
                }
                entry.alpha = Some((key.clone(), a));
            }
        }
    }

    let mut layers = Vec::with_capacity(modules.len());
    for (module, parts) in modules {
        let (down_key, down) = match parts.down {
            Some(d) => d,
            None => {
                let other = parts
                    .up
                    .as_ref()
                    .map(|u| u.0.clone())
                    .or(parts.alpha.as_ref().map(|a| a.0.clone()))
                    .unwrap_or_default();
                bail!(
                    "{}: LoRA key `{other}` has no down factor (lora_A / lora_down) beside it",
                    path.display()
                );
            }
        };
        let Some((up_key, up)) = parts.up else {
            bail!(
                "{}: LoRA key `{down_key}` has no up factor (lora_B / lora_up) beside it",
                path.display()
            );
        };
        let rank = down.dims()[0];
        if up.dims()[1] != rank {
            bail!(
                "{}: rank mismatch: LoRA key `{down_key}` has rank {rank} (shape {:?}) but `{up_key}` has rank {} (shape {:?})",
                path.display(),
                down.dims(),
                up.dims()[1],
                up.dims()
            );
        }
        if rank == 0 {
            bail!("{}: LoRA key `{down_key}` has rank 0", path.display());
        }
        let mut scaling = match parts.alpha {
            Some((_, alpha)) => alpha / rank as f64,
            None => 1.0,
        };
        if let Some(cfg) = &config {
            scaling *= cfg.scaling(path, &module, rank, &down_key)?;
        }
        layers.push(LoraLayer {
            target: format!("{module}.weight"),
            key: down_key,
            down,
            up,
            scaling,
        });
    }
    Ok(LoraFile {
        path: path.to_path_buf(),
        format,
        layers,
    })
}

/// An update waiting to be added to one weight.
#[derive(Debug, Clone)]
struct Delta {
    down: Tensor,
    up: Tensor,
    /// The user's scale times the layer's scaling.
    factor: f64,
}

/// The mmaped checkpoint with LoRA updates added to the weights they touch. Fusion happens when the
/// model asks for a weight, in f32 and then cast to the dtype asked for, so untouched weights are
/// never copied and a touched one is materialised once, as it would be without a LoRA.
struct FusedBackend {
    base: MmapedSafetensors,
    deltas: HashMap<String, Vec<Delta>>,
}

impl FusedBackend {
    fn fused(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let base = self.base.load(name, dev)?;
        let Some(deltas) = self.deltas.get(name) else {
            return base.to_dtype(dtype);
        };
        let mut w = base.to_dtype(DType::F32)?;
        for d in deltas {
            let update = d.up.to_device(dev)?.matmul(&d.down.to_device(dev)?)?;
            w = (w + (update * d.factor)?)?;
        }
        w.to_dtype(dtype)
    }
}

impl SimpleBackend for FusedBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = self.fused(name, dtype, dev)?;
        if tensor.shape() != &s {
            Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: tensor.shape().clone(),
            }
            .bt())?
        }
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.fused(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.base.get(name).is_ok()
    }
}

/// A VarBuilder over the transformer folder `dir` that yields its weights with `loras` fused in
/// (in order). Without LoRAs it is exactly [`crate::checkpoint::var_builder`]. Every LoRA is read and
/// checked against the checkpoint here, so a bad file fails at load time, naming the key and file.
pub fn fused_var_builder(
    dir: &Path,
    loras: &[LoraSpec],
    dtype: DType,
    device: &Device,
) -> Result<VarBuilder<'static>> {
    if loras.is_empty() {
        return crate::checkpoint::var_builder(dir, dtype, device);
    }
    let files = weight_files(dir)?;
    // SAFETY: read-only mapping; the files must not change while the model loads, the contract of
    // every safetensors loader (see checkpoint::var_builder).
    let base = unsafe { MmapedSafetensors::multi(&files) }
        .with_context(|| format!("cannot map the safetensors weights in {}", dir.display()))?;
    let mut deltas: HashMap<String, Vec<Delta>> = HashMap::new();
    for spec in loras {
        if !spec.scale.is_finite() {
            bail!(
                "LoRA {}: scale {} is not a finite number",
                spec.path.display(),
                spec.scale
            );
        }
        let file = read_lora_file(&spec.path)?;
        for layer in file.layers {
            let view = base.get(&layer.target).map_err(|_| {
                anyhow!(
                    "{}: LoRA key `{}` updates `{}`, which the transformer in {} does not have",
                    spec.path.display(),
                    layer.key,
                    layer.target,
                    dir.display()
                )
            })?;
            let shape = view.shape();
            let (out_f, in_f) = (layer.up.dims()[0], layer.down.dims()[1]);
            if shape != [out_f, in_f] {
                bail!(
                    "{}: shape mismatch: LoRA key `{}` gives an update of shape [{out_f}, {in_f}] \
                     (rank {}) but `{}` in {} has shape {shape:?}",
                    spec.path.display(),
                    layer.key,
                    layer.rank(),
                    layer.target,
                    dir.display()
                );
            }
            deltas.entry(layer.target).or_default().push(Delta {
                down: layer.down,
                up: layer.up,
                factor: spec.scale * layer.scaling,
            });
        }
    }
    let backend = FusedBackend { base, deltas };
    Ok(VarBuilder::from_backend(
        Box::new(backend),
        dtype,
        device.clone(),
    ))
}
