//! LoRA-family adapters for the Wan transformer: read from every layout Wan LoRAs are published in,
//! converted to the transformer's (diffusers') weight names through the one name table
//! ([`crate::checkpoint::keys`]), and fused into the weights at load time:
//! `W' = W + strength * scaling * ΔW` in f32, cast to the requested dtype once, so an edit costs exactly
//! what it costs without the adapter.
//!
//! Layouts ([`LoraFormat`], detected once from all keys; a file mixing layouts is refused):
//!
//! | layout | keys | scaling |
//! |---|---|---|
//! | diffusers / PEFT | `transformer.blocks.0.attn1.to_q.lora_A.weight` / `lora_B` (prefix optional) | PEFT's `lora_alpha / r` from the `lora_adapter_metadata` config, 1 without it |
//! | Wan (ComfyUI, diffusion-pipe, ai-toolkit, lightx2v) | `diffusion_model.blocks.0.self_attn.q.lora_down.weight` / `lora_up` (or `lora_A` / `lora_B`), `.alpha` | `alpha / rank`, 1 without alpha |
//! | Wan without prefix (DiffSynth-Studio) | `blocks.0.self_attn.q.lora_A.weight`, also with PEFT's adapter name (`lora_A.default.weight`) | as Wan |
//! | kohya / musubi-tuner | `lora_unet_blocks_0_self_attn_q.lora_down.weight`, `.alpha` | as Wan |
//!
//! In every non-diffusers layout a module may instead carry a full difference (`.diff`, added to
//! the weight; `.diff_b`, added to the bias: lightx2v, CausVid, AccVideo), a LyCORIS LoHa
//! (`hada_w1_a`, `hada_w1_b`, `hada_w2_a`, `hada_w2_b`: `ΔW = (w1a w1b) ⊙ (w2a w2b)`, scaling
//! `alpha / rank`) or LoKr (`lokr_w1` or `lokr_w1_a`/`lokr_w1_b`, `lokr_w2` or `lokr_w2_a`/`lokr_w2_b`:
//! `ΔW = w1 ⊗ w2`, scaling `alpha / rank` of the factored side, 1 when both sides are whole), merged as
//! ComfyUI's `comfy/weight_adapter/loha.py` and `lokr.py` merge them. Differences of norm layers that
//! are all zeros (as step-distillation LoRAs ship them) are skipped, as diffusers skips norm
//! differences; an alpha with no factors beside it is skipped. Both are reported ([`LoraFile::skipped`]).
//!
//! Every other key is an error naming the key and the file: a name outside the transformer, a factor
//! without its partner, ranks that disagree, two kinds of update for one weight, a shape that does not
//! fit the weight (checked against the checkpoint when fusing), DoRA, Tucker cores, PEFT's `lora_bias`.
//! Pickle files are refused.
//!
//! Parity limits (tests/it/lora.rs, f32, the tiny_a pipeline, tools/reference/make_lora_fixtures.py):
//! the diffusers/PEFT and Wan layouts match diffusers' `load_lora_weights` + `fuse_lora(lora_scale)` in
//! the fused weights (1e-5) and frames (2e-3); the un-prefixed, PEFT-adapter-name and musubi layouts and
//! `diff_b`, factors on the non-block layers and `head.head.diff` match diffusers' frames (2e-3), the
//! un-prefixed ones loaded by diffusers after adding the `diffusion_model.` prefix diffusers needs.
//! Where diffusers drops keys PhysEdit applies them as ComfyUI does, and the frames are checked against
//! diffusers plus an explicit merge of those keys in the reference script: `.diff` on block weights
//! (diffusers 0.42 logs and drops them), LoHa and LoKr (diffusers cannot load them), `time_projection`
//! bias differences without time_projection factors (diffusers drops them; AccVideo), `.alpha` on the
//! non-block layers (diffusers refuses the file). Non-zero norm differences are applied (ComfyUI), not
//! skipped (diffusers).
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

mod config;
pub mod inspect;
mod layout;
pub mod unfused;
mod update;

use config::AdapterConfig;
pub use config::ADAPTER_METADATA_KEY;
pub use layout::LoraFormat;
use layout::Part;
pub use update::{kron, Kind, KronFactor, Update};

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

/// One update of one tensor, named as the transformer's checkpoint names it.
#[derive(Debug, Clone)]
pub struct LoraLayer {
    /// The tensor it updates, e.g. `blocks.0.attn1.to_q.weight` or `proj_out.bias`.
    pub target: String,
    /// The file's first key for this update, for messages.
    pub key: String,
    pub update: Update,
    /// Multiplier of the dense update before the user's strength: `alpha / rank` (1 without alpha)
    /// times PEFT's `lora_alpha / r` (1 without metadata).
    pub scaling: f64,
    /// The file's alpha for this module, if any.
    pub alpha: Option<f64>,
}

impl LoraLayer {
    pub fn rank(&self) -> Option<usize> {
        self.update.rank()
    }
}

/// A key that is read but not applied, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub key: String,
    pub reason: String,
}

/// A LoRA file read and converted to the transformer's weight names.
#[derive(Debug, Clone)]
pub struct LoraFile {
    pub path: PathBuf,
    pub format: LoraFormat,
    /// PEFT's adapter name inside the keys (`lora_A.default.weight`), if any.
    pub adapter_name: Option<String>,
    pub layers: Vec<LoraLayer>,
    pub skipped: Vec<Skipped>,
}

impl LoraFile {
    /// Bytes the factors hold in f32.
    pub fn bytes(&self) -> usize {
        self.layers.iter().map(|l| l.update.bytes()).sum()
    }
}

/// The keys of one module, by part.
type Parts = BTreeMap<Part, (String, Tensor)>;

/// Reads a LoRA file and converts it to the transformer's weight names. Shapes against the model are
/// checked by [`check_fits`].
pub fn read_lora_file(path: &Path) -> Result<LoraFile> {
    let (tensors, metadata) = read_safetensors(path)?;
    if tensors.is_empty() {
        bail!("LoRA file {} holds no tensors", path.display());
    }
    let mut keys: Vec<&str> = tensors.keys().map(String::as_str).collect();
    keys.sort();
    let layout = layout::detect(path, &keys)?;
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

    let mut modules: BTreeMap<String, Parts> = BTreeMap::new();
    let mut adapter: Option<(String, String)> = None;
    let mut plain_factor: Option<&str> = None;
    for key in keys {
        let split = layout.split(path, key)?;
        if split.adapter.is_none() && matches!(split.part, Part::Down | Part::Up) {
            plain_factor.get_or_insert(key);
        }
        if let Some(name) = split.adapter {
            match &adapter {
                Some((other_key, other)) if *other != name => bail!(
                    "{}: LoRA keys `{other_key}` and `{key}` carry different PEFT adapter names \
                     (`{other}` and `{name}`); expected one adapter per file",
                    path.display()
                ),
                Some(_) => {}
                None => adapter = Some((key.to_string(), name)),
            }
        }
        let tensor = tensors[key]
            .to_dtype(DType::F32)
            .with_context(|| format!("{}: cannot read `{key}`", path.display()))?;
        let entry = modules.entry(split.module).or_default();
        if let Some((other, _)) = entry.get(&split.part) {
            bail!(
                "{}: LoRA keys `{other}` and `{key}` hold the same part of one layer's update",
                path.display()
            );
        }
        entry.insert(split.part, (key.to_string(), tensor));
    }
    if let (Some((key, _)), Some(plain)) = (&adapter, &plain_factor) {
        bail!(
            "{}: the file mixes layouts: `{key}` carries a PEFT adapter name but `{plain}` does not",
            path.display()
        );
    }

    let mut layers = Vec::new();
    let mut skipped = Vec::new();
    for (module, parts) in modules {
        build_module(
            path,
            &module,
            parts,
            config.as_ref(),
            &mut layers,
            &mut skipped,
        )?;
    }
    Ok(LoraFile {
        path: path.to_path_buf(),
        format: layout.format,
        adapter_name: adapter.map(|a| a.1),
        layers,
        skipped,
    })
}

/// diffusers' parameters that are tensors themselves, not modules with a `.weight`.
fn is_parameter(module: &str) -> bool {
    module.ends_with("scale_shift_table") || module.ends_with("pos_embed")
}

/// A matrix factor, or an error naming the key.
fn matrix(path: &Path, (key, t): &(String, Tensor)) -> Result<Tensor> {
    if t.rank() != 2 {
        bail!(
            "{}: LoRA key `{key}` has shape {:?}; a factor of a linear layer's update is a matrix",
            path.display(),
            t.dims()
        );
    }
    Ok(t.clone())
}

/// `a`'s columns must equal `b`'s rows (the inner dimension of `a @ b`).
fn check_inner(path: &Path, a: &(String, Tensor), b: &(String, Tensor)) -> Result<()> {
    let (ka, ta) = a;
    let (kb, tb) = b;
    if ta.dims()[1] != tb.dims()[0] || ta.dims()[1] == 0 {
        bail!(
            "{}: rank mismatch: LoRA key `{ka}` (shape {:?}) and `{kb}` (shape {:?}) do not multiply",
            path.display(),
            ta.dims(),
            tb.dims()
        );
    }
    Ok(())
}

fn is_zero(t: &Tensor) -> Result<bool> {
    Ok(t.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()? == 0.0)
}

/// The partner a part needs, for "without its partner" messages.
fn partner_missing(path: &Path, parts: &Parts, pairs: &[(Part, Part)]) -> Result<()> {
    for (a, b) in pairs {
        match (parts.get(a), parts.get(b)) {
            (Some((k, _)), None) | (None, Some((k, _))) => bail!(
                "{}: LoRA key `{k}` has no {} beside it",
                path.display(),
                part_name(if parts.contains_key(a) { *b } else { *a })
            ),
            _ => {}
        }
    }
    Ok(())
}

fn part_name(p: Part) -> &'static str {
    match p {
        Part::Down => "down factor (lora_A / lora_down)",
        Part::Up => "up factor (lora_B / lora_up)",
        Part::HadaW1a => "`hada_w1_a`",
        Part::HadaW1b => "`hada_w1_b`",
        Part::HadaW2a => "`hada_w2_a`",
        Part::HadaW2b => "`hada_w2_b`",
        Part::LokrW1a => "`lokr_w1_a`",
        Part::LokrW1b => "`lokr_w1_b`",
        Part::LokrW2a => "`lokr_w2_a`",
        Part::LokrW2b => "`lokr_w2_b`",
        Part::LokrW1 => "`lokr_w1`",
        Part::LokrW2 => "`lokr_w2`",
        Part::Alpha => "alpha",
        Part::Diff => "`diff`",
        Part::DiffB => "`diff_b`",
    }
}

/// The weight update family a part belongs to.
fn family(p: Part) -> Option<Kind> {
    match p {
        Part::Down | Part::Up => Some(Kind::LoRA),
        Part::HadaW1a | Part::HadaW1b | Part::HadaW2a | Part::HadaW2b => Some(Kind::LoHa),
        Part::LokrW1
        | Part::LokrW1a
        | Part::LokrW1b
        | Part::LokrW2
        | Part::LokrW2a
        | Part::LokrW2b => Some(Kind::LoKr),
        Part::Diff => Some(Kind::Diff),
        Part::Alpha | Part::DiffB => None,
    }
}

/// The weight update of one module (one family of parts), unscaled, with its first key.
fn weight_update(path: &Path, kind: Kind, parts: &Parts) -> Result<(String, Update)> {
    let get = |p: Part| parts.get(&p);
    let first = |ps: &[Part]| {
        ps.iter()
            .find_map(|p| get(*p).map(|(k, _)| k.clone()))
            .unwrap_or_default()
    };
    match kind {
        Kind::LoRA => {
            partner_missing(path, parts, &[(Part::Down, Part::Up)])?;
            let (down, up) = (get(Part::Down).unwrap(), get(Part::Up).unwrap());
            let (d, u) = (matrix(path, down)?, matrix(path, up)?);
            check_inner(path, up, down)?;
            Ok((down.0.clone(), Update::LowRank { down: d, up: u }))
        }
        Kind::LoHa => {
            let all = [Part::HadaW1a, Part::HadaW1b, Part::HadaW2a, Part::HadaW2b];
            if let Some(missing) = all.iter().find(|p| get(**p).is_none()) {
                bail!(
                    "{}: LoHa key `{}` has no {} beside it",
                    path.display(),
                    first(&all),
                    part_name(*missing)
                );
            }
            let m = |p: Part| matrix(path, get(p).unwrap());
            let (w1a, w1b, w2a, w2b) = (
                m(Part::HadaW1a)?,
                m(Part::HadaW1b)?,
                m(Part::HadaW2a)?,
                m(Part::HadaW2b)?,
            );
            check_inner(
                path,
                get(Part::HadaW1a).unwrap(),
                get(Part::HadaW1b).unwrap(),
            )?;
            check_inner(
                path,
                get(Part::HadaW2a).unwrap(),
                get(Part::HadaW2b).unwrap(),
            )?;
            let (s1, s2) = (
                (w1a.dims()[0], w1b.dims()[1]),
                (w2a.dims()[0], w2b.dims()[1]),
            );
            if s1 != s2 {
                bail!(
                    "{}: LoHa keys `{}` and `{}` give products of shapes {s1:?} and {s2:?}, which differ",
                    path.display(),
                    get(Part::HadaW1a).unwrap().0,
                    get(Part::HadaW2a).unwrap().0
                );
            }
            Ok((
                get(Part::HadaW1a).unwrap().0.clone(),
                Update::Hadamard { w1a, w1b, w2a, w2b },
            ))
        }
        Kind::LoKr => {
            let w1 = kron_side(path, parts, Part::LokrW1, Part::LokrW1a, Part::LokrW1b)?;
            let w2 = kron_side(path, parts, Part::LokrW2, Part::LokrW2a, Part::LokrW2b)?;
            let key = first(&[Part::LokrW1, Part::LokrW1a, Part::LokrW2, Part::LokrW2a]);
            Ok((key, Update::Kronecker { w1, w2 }))
        }
        Kind::Diff => {
            let (k, t) = get(Part::Diff).unwrap();
            Ok((k.clone(), Update::Full(t.clone())))
        }
    }
}

/// One side of a LoKr: whole (`lokr_w1`) or factored (`lokr_w1_a @ lokr_w1_b`), never both or neither.
fn kron_side(path: &Path, parts: &Parts, whole: Part, a: Part, b: Part) -> Result<KronFactor> {
    partner_missing(path, parts, &[(a, b)])?;
    match (parts.get(&whole), parts.get(&a), parts.get(&b)) {
        (Some(w), None, None) => Ok(KronFactor::Full(matrix(path, w)?)),
        (None, Some(fa), Some(fb)) => {
            let (ta, tb) = (matrix(path, fa)?, matrix(path, fb)?);
            check_inner(path, fa, fb)?;
            Ok(KronFactor::Factored { a: ta, b: tb })
        }
        (Some(w), Some(f), _) => bail!(
            "{}: LoKr keys `{}` and `{}` both give one side of the product",
            path.display(),
            w.0,
            f.0
        ),
        _ => {
            let k = parts
                .values()
                .next()
                .map(|(k, _)| k.clone())
                .unwrap_or_default();
            bail!(
                "{}: LoKr key `{k}` has no {} (or {} and {}) beside it",
                path.display(),
                part_name(whole),
                part_name(a),
                part_name(b)
            )
        }
    }
}

/// Turns one module's keys into layers (the weight update, then the bias difference), or skips them.
fn build_module(
    path: &Path,
    module: &str,
    parts: Parts,
    config: Option<&AdapterConfig>,
    layers: &mut Vec<LoraLayer>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    let weight_target = if is_parameter(module) {
        module.to_string()
    } else {
        format!("{module}.weight")
    };
    let is_norm = module
        .rsplit('.')
        .next()
        .is_some_and(|m| m.contains("norm"));
    let mut kinds: Vec<(Kind, &String)> = Vec::new();
    for (p, (k, _)) in &parts {
        if let Some(kind) = family(*p) {
            if !kinds.iter().any(|(q, _)| *q == kind) {
                kinds.push((kind, k));
            }
        }
    }
    if let [(_, a), (_, b), ..] = kinds.as_slice() {
        bail!(
            "{}: LoRA keys `{a}` and `{b}` are two different kinds of update of `{weight_target}`",
            path.display()
        );
    }
    let alpha = match parts.get(&Part::Alpha) {
        None => None,
        Some((key, t)) => Some((key.clone(), read_alpha(path, key, t)?)),
    };
    match kinds.first().map(|(k, _)| *k) {
        Some(Kind::Diff) if is_norm && is_zero(&parts[&Part::Diff].1)? => skipped.push(Skipped {
            key: parts[&Part::Diff].0.clone(),
            reason: "an all-zero difference of a norm layer (diffusers skips norm differences)"
                .into(),
        }),
        Some(kind) => {
            let (key, update) = weight_update(path, kind, &parts)?;
            let rank = update.rank();
            let mut scaling = match (&alpha, rank) {
                (Some((_, a)), Some(r)) if kind != Kind::Diff => a / r as f64,
                _ => 1.0,
            };
            if let (Some(cfg), Kind::LoRA) = (config, kind) {
                scaling *= cfg.scaling(path, module, rank.unwrap_or(0), &key)?;
            }
            let used_alpha = alpha.is_some() && rank.is_some() && kind != Kind::Diff;
            if let (Some((k, _)), false) = (&alpha, used_alpha) {
                skipped.push(Skipped {
                    key: k.clone(),
                    reason: format!("an alpha that no factor of `{weight_target}` uses"),
                });
            }
            layers.push(LoraLayer {
                target: weight_target.clone(),
                key,
                update,
                scaling,
                alpha: alpha.as_ref().filter(|_| used_alpha).map(|a| a.1),
            });
        }
        None => {
            if let Some((k, _)) = &alpha {
                skipped.push(Skipped {
                    key: k.clone(),
                    reason: format!("an alpha with no factors of `{weight_target}` beside it"),
                });
            }
        }
    }
    if let Some((key, t)) = parts.get(&Part::DiffB) {
        if is_norm && is_zero(t)? {
            skipped.push(Skipped {
                key: key.clone(),
                reason:
                    "an all-zero bias difference of a norm layer (diffusers skips norm differences)"
                        .into(),
            });
        } else {
            layers.push(LoraLayer {
                target: format!("{module}.bias"),
                key: key.clone(),
                update: Update::Full(t.clone()),
                scaling: 1.0,
                alpha: None,
            });
        }
    }
    Ok(())
}

fn read_alpha(path: &Path, key: &str, t: &Tensor) -> Result<f64> {
    if t.elem_count() != 1 {
        bail!(
            "{}: LoRA key `{key}` has shape {:?}; alpha is a scalar",
            path.display(),
            t.dims()
        );
    }
    let a = t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?[0];
    if !a.is_finite() {
        bail!(
            "{}: LoRA key `{key}` is {a}, not a finite alpha",
            path.display()
        );
    }
    Ok(a)
}

/// Checks every update of `file` against the transformer's tensor shapes (`shape_of` gives a
/// checkpoint tensor's shape, `None` when it has none); returns one message per update that does
/// not fit, naming the key, the file and `model` (the checkpoint's description).
pub fn misfits(
    file: &LoraFile,
    shape_of: impl Fn(&str) -> Option<Vec<usize>>,
    model: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for layer in &file.layers {
        let Some(shape) = shape_of(&layer.target) else {
            out.push(format!(
                "{}: LoRA key `{}` updates `{}`, which the transformer in {model} does not have",
                file.path.display(),
                layer.key,
                layer.target
            ));
            continue;
        };
        let got = layer.update.shape();
        if got != shape {
            let rank = layer
                .rank()
                .map(|r| format!(" (rank {r})"))
                .unwrap_or_default();
            out.push(format!(
                "{}: shape mismatch: LoRA key `{}` gives an update of shape {got:?}{rank} but `{}` in \
                 {model} has shape {shape:?}",
                file.path.display(),
                layer.key,
                layer.target
            ));
        }
    }
    out
}

/// [`misfits`] as an error: the first misfit, and how many more there are.
pub fn check_fits(
    file: &LoraFile,
    shape_of: impl Fn(&str) -> Option<Vec<usize>>,
    model: &str,
) -> Result<()> {
    let m = misfits(file, shape_of, model);
    match m.len() {
        0 => Ok(()),
        1 => bail!("{}", m[0]),
        n => bail!("{} (and {} more updates that do not fit)", m[0], n - 1),
    }
}

/// An update waiting to be added to one tensor.
#[derive(Debug, Clone)]
struct Delta {
    update: Update,
    /// The user's strength times the layer's scaling.
    factor: f64,
}

/// The mmaped checkpoint with updates added to the tensors they touch. Fusion happens when the
/// model asks for a tensor, in f32 and then cast to the dtype asked for, so untouched tensors are
/// never copied and a touched one is materialised once, as it would be without an adapter.
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
            let update = d
                .update
                .dense(dev)
                .map_err(|e| candle_core::Error::Msg(format!("{name}: {e:#}")))?;
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

/// The mmaped weights of the transformer folder `dir`.
fn map_weights(dir: &Path) -> Result<MmapedSafetensors> {
    let files = weight_files(dir)?;
    // SAFETY: read-only mapping; the files must not change while the model loads, the contract of
    // every safetensors loader (see checkpoint::var_builder).
    unsafe { MmapedSafetensors::multi(&files) }
        .with_context(|| format!("cannot map the safetensors weights in {}", dir.display()))
}

/// Reads `spec`'s file and checks it against the mapped weights of `dir`.
pub fn read_checked(spec: &LoraSpec, base: &MmapedSafetensors, dir: &Path) -> Result<LoraFile> {
    if !spec.scale.is_finite() {
        bail!(
            "LoRA {}: scale {} is not a finite number",
            spec.path.display(),
            spec.scale
        );
    }
    let file = read_lora_file(&spec.path)?;
    let shape_of = |name: &str| base.get(name).ok().map(|v| v.shape().to_vec());
    check_fits(&file, shape_of, &dir.display().to_string())?;
    Ok(file)
}

/// The tensor shapes of the transformer folder `dir` (headers only), for [`misfits`].
pub fn checkpoint_shapes(dir: &Path) -> Result<HashMap<String, Vec<usize>>> {
    let base = map_weights(dir)?;
    Ok(base
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect())
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
    let base = map_weights(dir)?;
    let mut deltas: HashMap<String, Vec<Delta>> = HashMap::new();
    for spec in loras {
        let file = read_checked(spec, &base, dir)?;
        for layer in file.layers {
            deltas.entry(layer.target).or_default().push(Delta {
                update: layer.update,
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

/// The module a target names and whether it is the module's bias: `blocks.0.attn1.to_q.bias` ->
/// (`blocks.0.attn1.to_q`, true); parameters that are tensors themselves keep their name.
pub fn target_module(target: &str) -> (&str, bool) {
    match (target.strip_suffix(".weight"), target.strip_suffix(".bias")) {
        (Some(m), _) => (m, false),
        (None, Some(m)) => (m, true),
        _ => (target, false),
    }
}

/// Whether `module` (diffusers' name) is a linear layer of the transformer whose shapes `shape_of`
/// gives: a module with a 2-D `.weight`, not a parameter tensor.
pub fn is_linear(module: &str, shape_of: impl Fn(&str) -> Option<Vec<usize>>) -> bool {
    !is_parameter(module) && shape_of(&format!("{module}.weight")).is_some_and(|s| s.len() == 2)
}
