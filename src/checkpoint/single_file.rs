//! One component's weights from one file, as ComfyUI and GGUF users hold them: `--transformer FILE`
//! (safetensors with diffusers' or the original Wan key names, plain or ComfyUI-scaled fp8, or a
//! city96 GGUF), and `--vae` / `--text-encoder` / `--image-encoder FILE` (safetensors with the
//! component's own diffusers / transformers key names, or the original Wan VAE names
//! ([`super::wan_vae_keys`]); the encoders' linear weights kept as stored, the rest widened at load).
//!
//! A transformer file is read through a var-builder backend that renames keys at load ([`keys`]'s
//! table), so the model code sees diffusers' names whatever the file uses. Its architecture is read
//! from the tensors' shapes ([`keys::infer_config`]) and checked against the configuration the model
//! needs ([`keys::check_config`]) before any weight is loaded. Linear weights that the file stores
//! compressed (GGML blocks, float8) stay compressed ([`crate::models::linear::LinearWeight`]);
//! everything else is widened to the compute dtype at load.
//!
//! fp8: a float8_e4m3fn weight is `f32(w) * scale`, with `scale` its `<layer>.scale_weight` (0-d or
//! one element) in ComfyUI's scaled form and 1 otherwise; the `scaled_fp8` marker and any
//! `scale_input` are not weights (PhysEdit computes in the compute dtype, never in fp8).
//!
//! Parity (tests/it/weights.rs, fixtures by tools/reference/make_single_file_fixtures.py): an
//! original-key file under `model.diffusion_model.` (checked against diffusers' own
//! `convert_wan_transformer_to_diffusers`) gives the folder's frames; a scaled fp8 file and a Q8_0
//! GGUF give frames closer to diffusers' run with the same dequantized weights than those are to the
//! full-precision frames.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

use super::gguf::{is_quantized, GgufFile};
use super::keys::{self, KeyLayout};
use super::wan_vae_keys;
use crate::models::linear::{LinearStore, LinearWeight};
use crate::models::transformer::{ChronoEditTransformer3DModel, Config};

/// Single files that replace components of a model folder (`--transformer`, `--vae`,
/// `--text-encoder`, `--image-encoder`), or, all four with `--tokenizer`, stand for the whole
/// model ([`super::standalone`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComponentFiles {
    pub transformer: Option<PathBuf>,
    pub vae: Option<PathBuf>,
    pub text_encoder: Option<PathBuf>,
    pub image_encoder: Option<PathBuf>,
    /// umT5's `tokenizer.json` (or a folder holding it); used only without a model folder.
    pub tokenizer: Option<PathBuf>,
}

/// Keys of a file that are not weights: ComfyUI's fp8 scales and marker.
fn is_fp8_aux(key: &str) -> bool {
    key.ends_with(".scale_weight")
        || key.ends_with(".scale_input")
        || key == "scaled_fp8"
        || key.ends_with(".scaled_fp8")
}

/// Whether a safetensors dtype (the safetensors crate's, as candle's mapping sees it) is float8 e4m3.
fn is_fp8<D>(dtype: D) -> bool
where
    DType: TryFrom<D>,
{
    DType::try_from(dtype).ok() == Some(DType::F8E4M3)
}

/// Whether the file at `path` is a GGUF (by its magic, whatever its name).
pub fn is_gguf(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = [0u8; 4];
    Ok(f.read_exact(&mut magic).is_ok() && &magic == b"GGUF")
}

enum Source {
    Safetensors {
        st: MmapedSafetensors,
        /// Per-tensor fp8 scales by the weight's file key.
        scales: HashMap<String, f32>,
    },
    Gguf(GgufFile),
}

struct Inner {
    path: PathBuf,
    source: Source,
    /// diffusers name -> the file's key.
    names: BTreeMap<String, String>,
    /// What the file holds, for messages ("transformer", "VAE", ...).
    what: String,
}

/// A transformer's weights in one file, under diffusers' names.
#[derive(Clone)]
pub struct TransformerFile {
    inner: Arc<Inner>,
    layout: KeyLayout,
    config: Config,
    kind: String,
}

impl std::fmt::Debug for TransformerFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TransformerFile({})", self.inner.path.display())
    }
}

impl TransformerFile {
    /// Opens `path` (safetensors or GGUF) and reads its architecture; `head_dim` is the attention head
    /// size (not in any shape; 128 for every Wan model when `None`).
    pub fn open(path: &Path, head_dim: Option<usize>) -> Result<Self> {
        let file = path.display().to_string();
        let (source, keys, shapes_of, kind) = if is_gguf(path)? {
            let g = GgufFile::open(path)?;
            if let Some(arch) = g.meta_str("general.architecture") {
                if arch != "wan" {
                    bail!(
                        "{file} is a GGUF of a `{arch}` model, not a Wan / ChronoEdit transformer"
                    );
                }
            }
            let keys = g.order.clone();
            let shapes: HashMap<String, Vec<usize>> = g
                .tensors
                .iter()
                .map(|(k, t)| (k.clone(), t.dims.clone()))
                .collect();
            let kind = gguf_kind(&g);
            (Source::Gguf(g), keys, shapes, kind)
        } else {
            super::check_safetensors_file(path)?;
            // SAFETY: read-only mapping; the file must not change while the model is loaded, the
            // contract of every safetensors loader (see checkpoint::var_builder).
            let st = unsafe { MmapedSafetensors::new(path) }
                .with_context(|| format!("cannot map {file}"))?;
            let mut keys = Vec::new();
            let mut shapes = HashMap::new();
            let mut fp8 = 0usize;
            for (k, view) in st.tensors() {
                if k.ends_with(".comfy_quant") {
                    bail!("{file} uses ComfyUI's newer `.comfy_quant` quantization (key `{k}`), which PhysEdit does not read; use the scaled fp8 form or a GGUF");
                }
                if is_fp8(view.dtype()) && !is_fp8_aux(&k) {
                    fp8 += 1;
                }
                shapes.insert(k.clone(), view.shape().to_vec());
                keys.push(k);
            }
            keys.sort();
            let scales = fp8_scales(&st, &file, &keys)?;
            let kind = match (fp8, scales.is_empty()) {
                (0, _) => "safetensors".to_string(),
                (n, true) => format!("safetensors, {n} fp8 weights"),
                (n, false) => format!("safetensors, {n} scaled fp8 weights"),
            };
            (Source::Safetensors { st, scales }, keys, shapes, kind)
        };
        let layout = keys::detect_layout(&file, keys.iter().map(String::as_str), is_fp8_aux)?;
        let mut names = BTreeMap::new();
        let mut shapes = BTreeMap::new();
        for key in keys.iter().filter(|k| !is_fp8_aux(k)) {
            let name = layout.to_diffusers(key).ok_or_else(|| {
                anyhow!(
                    "{file}: the key `{key}` maps to no weight of the Wan / ChronoEdit transformer ({})",
                    layout.describe()
                )
            })?;
            shapes.insert(name.clone(), shapes_of[key].clone());
            names.insert(name, key.clone());
        }
        let config = keys::infer_config(&file, &shapes, head_dim)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                source,
                names,
                what: "transformer".into(),
            }),
            layout,
            config,
            kind,
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The architecture the shapes describe.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// One line for logs: "GGUF Q8_0, original Wan key names".
    pub fn describe(&self) -> String {
        format!("{}, {}", self.kind, self.layout.describe())
    }

    /// Checks the file's architecture against `expected` (the model's configuration).
    pub fn check(&self, expected: &Config) -> Result<()> {
        keys::check_config(
            &self.inner.path.display().to_string(),
            expected,
            &self.config,
        )
    }

    /// The dense weights, widened to `dtype` on `device` as the model asks for them.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        let backend: Box<dyn SimpleBackend> = Box::new(FileBackend(self.inner.clone()));
        VarBuilder::from_backend(backend, dtype, device.clone())
    }

    /// The Linear weights the file stores compressed (GGML blocks or fp8), on `device`.
    pub fn linears(&self, device: &Device) -> Result<LinearStore> {
        let inner = &self.inner;
        let mut store = LinearStore::new();
        for (name, key) in &inner.names {
            let w = match &inner.source {
                Source::Gguf(g) => {
                    let t = &g.tensors[key];
                    if !(is_quantized(t.dtype) && t.dims.len() == 2) {
                        continue;
                    }
                    LinearWeight::Quantized(Arc::new(g.qtensor(key, device)?))
                }
                Source::Safetensors { st, scales } => {
                    let view = st.get(key)?;
                    if !is_fp8(view.dtype()) || view.shape().len() != 2 {
                        continue;
                    }
                    LinearWeight::Fp8 {
                        w: st.load(key, device)?,
                        scale: scales.get(key).copied().unwrap_or(1.0),
                    }
                }
            };
            store.insert(name.clone(), w);
        }
        Ok(store)
    }

    /// The transformer with configuration `cfg` (checked against the file) from this file.
    pub fn build(
        &self,
        cfg: &Config,
        dtype: DType,
        device: &Device,
    ) -> Result<ChronoEditTransformer3DModel> {
        self.check(cfg)?;
        let store = self.linears(device)?;
        ChronoEditTransformer3DModel::new_with_linears(cfg, self.var_builder(dtype, device), &store)
            .with_context(|| {
                format!(
                    "cannot build the transformer from {}",
                    self.inner.path.display()
                )
            })
    }
}

/// "GGUF Q8_0 (2 Q8_0, 80 F32, ...)": the file's tensor types, most common first.
fn gguf_kind(g: &GgufFile) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in g.tensors.values() {
        *counts.entry(format!("{:?}", t.dtype)).or_default() += 1;
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1));
    let parts: Vec<String> = v.iter().map(|(t, n)| format!("{n} {t}")).collect();
    format!("GGUF ({})", parts.join(", "))
}

/// ComfyUI's per-tensor fp8 scales: `<layer>.scale_weight` beside `<layer>.weight`.
fn fp8_scales(st: &MmapedSafetensors, file: &str, keys: &[String]) -> Result<HashMap<String, f32>> {
    let mut scales = HashMap::new();
    for k in keys.iter().filter(|k| k.ends_with(".scale_weight")) {
        let weight = format!("{}.weight", &k[..k.len() - ".scale_weight".len()]);
        if !keys.contains(&weight) {
            bail!("{file}: `{k}` scales `{weight}`, which the file does not hold");
        }
        let t = st.load(k, &Device::Cpu)?;
        if t.elem_count() != 1 {
            bail!(
                "{file}: `{k}` has shape {:?}; a per-tensor scale has one element",
                t.dims()
            );
        }
        let s = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?[0];
        if !(s.is_finite() && s > 0.0) {
            bail!("{file}: `{k}` is {s}, not a positive number");
        }
        scales.insert(weight, s);
    }
    Ok(scales)
}

struct FileBackend(Arc<Inner>);

impl FileBackend {
    fn load(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let inner = &self.0;
        let key = inner.names.get(name).ok_or_else(|| {
            let wan = match keys::diffusers_to_wan(name) {
                Some(w) if inner.what == "transformer" => format!(" (`{w}` in original Wan names)"),
                _ => String::new(),
            };
            candle_core::Error::Msg(format!(
                "{} has no {} weight `{name}`{wan}",
                inner.path.display(),
                inner.what
            ))
        })?;
        let t = match &inner.source {
            Source::Gguf(g) => g
                .tensor(key, dev)
                .map_err(|e| candle_core::Error::Msg(format!("{e:#}")))?,
            Source::Safetensors { st, scales } => {
                let t = st.load(key, dev)?;
                if t.dtype() == DType::F8E4M3 {
                    let s = scales.get(key).copied().unwrap_or(1.0) as f64;
                    (t.to_dtype(DType::F32)? * s)?
                } else {
                    t
                }
            }
        };
        t.to_dtype(dtype)
    }
}

impl SimpleBackend for FileBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.load(name, dtype, dev)?;
        if t.shape() != &s {
            candle_core::bail!(
                "{}: the {} weight `{name}` has shape {:?}, the model expects {:?}",
                self.0.path.display(),
                self.0.what,
                t.dims(),
                s.dims()
            );
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.load(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.names.contains_key(name)
    }
}

/// The weights of a VAE, text encoder or image encoder: a component folder of the diffusers layout,
/// or one safetensors file under the names its model loads (diffusers / transformers names),
/// optionally all under one of a few prefixes (a whole pipeline saved as one file).
///
/// Served two ways: a VarBuilder that widens every tensor to the dtype asked for (fp8 as
/// `f32(w) * scale`), and [`Self::stored`], the tensors a model keeps at their stored precision.
#[derive(Clone)]
pub struct ComponentWeights(Arc<Inner>);

impl ComponentWeights {
    /// One safetensors file; `prefixes` are stripped when every weight of the file carries one.
    pub fn open_file(path: &Path, what: &str, prefixes: &[&str]) -> Result<Self> {
        let file = path.display().to_string();
        super::check_safetensors_file(path)?;
        // SAFETY: read-only mapping (see checkpoint::var_builder).
        let st = unsafe { MmapedSafetensors::new(path) }
            .with_context(|| format!("cannot map {file}"))?;
        let keys: Vec<String> = st.tensors().into_iter().map(|(k, _)| k).collect();
        let weights: Vec<&String> = keys.iter().filter(|k| !is_fp8_aux(k)).collect();
        if weights.is_empty() {
            bail!("{file} holds no {what} weights");
        }
        let prefix = prefixes
            .iter()
            .find(|p| weights.iter().all(|k| k.starts_with(**p)))
            .copied()
            .unwrap_or("");
        let stripped: Vec<String> = weights
            .iter()
            .map(|k| k[prefix.len()..].to_string())
            .collect();
        let names: BTreeMap<String, String> = if what == "VAE"
            && wan_vae_keys::is_wan_vae_layout(stripped.iter().map(String::as_str))
        {
            wan_vae_keys::wan_vae_names(&file, &stripped)?
                .into_iter()
                .map(|(name, k)| (name, format!("{prefix}{k}")))
                .collect()
        } else {
            stripped
                .iter()
                .map(|k| (k.clone(), format!("{prefix}{k}")))
                .collect()
        };
        Self::new(path, st, &keys, names, what)
    }

    /// A component folder's safetensors files (one, or shards listed by an index).
    pub fn open_folder(dir: &Path, what: &str) -> Result<Self> {
        let files = super::weight_files(dir)?;
        // SAFETY: read-only mapping (see checkpoint::var_builder).
        let st = unsafe { MmapedSafetensors::multi(&files) }
            .with_context(|| format!("cannot map the safetensors weights in {}", dir.display()))?;
        let keys: Vec<String> = st.tensors().into_iter().map(|(k, _)| k).collect();
        let names = keys
            .iter()
            .filter(|k| !is_fp8_aux(k))
            .map(|k| (k.clone(), k.clone()))
            .collect();
        Self::new(dir, st, &keys, names, what)
    }

    fn new(
        path: &Path,
        st: MmapedSafetensors,
        keys: &[String],
        names: BTreeMap<String, String>,
        what: &str,
    ) -> Result<Self> {
        let mut keys = keys.to_vec();
        keys.sort();
        let scales = fp8_scales(&st, &path.display().to_string(), &keys)?;
        Ok(Self(Arc::new(Inner {
            path: path.to_path_buf(),
            source: Source::Safetensors { st, scales },
            names,
            what: what.to_string(),
        })))
    }

    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The shape of every weight, by the model's names.
    pub fn shapes(&self) -> Result<BTreeMap<String, Vec<usize>>> {
        let Source::Safetensors { st, .. } = &self.0.source else {
            return Ok(BTreeMap::new());
        };
        self.0
            .names
            .iter()
            .map(|(name, key)| Ok((name.clone(), st.get(key)?.shape().to_vec())))
            .collect()
    }

    /// Every weight widened to `dtype` on `device` as the model asks for it.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        let backend: Box<dyn SimpleBackend> = Box::new(FileBackend(self.0.clone()));
        VarBuilder::from_backend(backend, dtype, device.clone())
    }

    /// The tensors a model keeps at their stored precision, by the model's names: 2-D weights that
    /// `linear` selects (f32/f16/bf16 dense, float8 with its scale) and tables that `table` selects
    /// when they are stored f32/f16/bf16 (an fp8 table is left to the VarBuilder, which widens it).
    pub fn stored(
        &self,
        device: &Device,
        linear: impl Fn(&str) -> bool,
        table: impl Fn(&str) -> bool,
    ) -> Result<LinearStore> {
        let Source::Safetensors { st, scales } = &self.0.source else {
            return Ok(LinearStore::new());
        };
        let mut store = LinearStore::new();
        for (name, key) in &self.0.names {
            let (is_linear, is_table) = (linear(name), table(name));
            if !(is_linear || is_table) {
                continue;
            }
            let view = st.get(key)?;
            if view.shape().len() != 2 {
                continue;
            }
            let w = match DType::try_from(view.dtype()) {
                Ok(DType::F32 | DType::F16 | DType::BF16) => {
                    LinearWeight::Dense(st.load(key, device)?)
                }
                Ok(DType::F8E4M3) if is_linear => LinearWeight::Fp8 {
                    w: st.load(key, device)?,
                    scale: scales.get(key).copied().unwrap_or(1.0),
                },
                _ => continue,
            };
            store.insert(name.clone(), w);
        }
        Ok(store)
    }
}
