//! Loading the diffusers pipeline folder layout (`model_index.json` at the root, one sub-folder per
//! component), component configs, and safetensors weights — single files or shards listed in a
//! `*.safetensors.index.json`. Pickle checkpoints are never read. Models named by Hugging Face id
//! are found (and fetched) in the hub cache by [`hub`].
pub mod hub;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::de::DeserializeOwned;

pub mod gguf;
pub mod keys;
pub mod lora;
pub mod memory;
pub mod quantize;
pub mod single_file;
pub mod standalone;
pub mod wan_vae_keys;

/// File endings of pickle-based checkpoints, which can execute code when loaded.
pub(crate) const PICKLE_ENDINGS: [&str; 6] = [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"];

/// The compute dtype named on the command line (`f32`, `f16`, `bf16`).
pub fn parse_dtype(name: &str) -> Result<DType> {
    match name.to_ascii_lowercase().as_str() {
        "f32" | "float32" | "fp32" => Ok(DType::F32),
        "f16" | "float16" | "fp16" => Ok(DType::F16),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        other => bail!("unknown dtype `{other}`: expected f32, f16 or bf16"),
    }
}

/// A diffusers pipeline folder, checked to have a readable `model_index.json`.
#[derive(Debug, Clone)]
pub struct PipelineFolder {
    root: PathBuf,
    model_index: serde_json::Value,
}

impl PipelineFolder {
    pub fn open(root: &Path) -> Result<Self> {
        if !root.exists() {
            bail!("model folder {} does not exist", root.display());
        }
        if !root.is_dir() {
            bail!("model path {} is not a folder", root.display());
        }
        let index_path = root.join("model_index.json");
        if !index_path.is_file() {
            bail!(
                "{} has no model_index.json: expected a diffusers pipeline folder (such as ChronoEdit-14B-Diffusers)",
                root.display()
            );
        }
        let model_index = read_json_value(&index_path)?;
        if !model_index.is_object() {
            bail!("{}: expected a JSON object", index_path.display());
        }
        Ok(Self {
            root: root.to_path_buf(),
            model_index,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The class name `model_index.json` gives for a component, e.g. `["transformers", "UMT5EncoderModel"]`.
    pub fn component_class(&self, name: &str) -> Option<String> {
        let entry = self.model_index.get(name)?.as_array()?;
        entry.get(1)?.as_str().map(str::to_string)
    }

    /// The folder of a component, which must exist.
    pub fn component(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        if !dir.is_dir() {
            bail!(
                "model folder {} is missing its `{name}` component (expected the folder {})",
                self.root.display(),
                dir.display()
            );
        }
        Ok(dir)
    }
}

/// File in a model folder (beside `model_index.json`) with the sampling settings the model's authors
/// recommend; `physedit edit` uses them where no flag is given. Folders without it (such as
/// ChronoEdit-14B-Diffusers) run the reference recipe.
pub const SAMPLING_DEFAULTS_FILE: &str = "physedit.json";

/// Contents of [`SAMPLING_DEFAULTS_FILE`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingDefaults {
    /// Classifier-free guidance scale.
    #[serde(default)]
    pub guidance_scale: Option<f64>,
    /// The resolution the model was trained at (`height`, `width` in pixels): without an explicit
    /// size, `physedit edit` works at it and returns the picture at the input's size.
    #[serde(default)]
    pub height: Option<usize>,
    #[serde(default)]
    pub width: Option<usize>,
    /// Why (how the setting was measured).
    #[serde(default)]
    pub note: Option<String>,
    /// The step cache's calibration (`physedit calibrate`): mean ratio of consecutive block-stack
    /// residual magnitudes, `‖R_i‖ / ‖R_{i−1}‖`, over evenly spaced positions of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_mag_ratios: Option<Vec<f64>>,
    /// The `tea` step-cache policy's polynomial (`physedit calibrate`), highest power first: the
    /// block-stack residual's relative L1 change as a function of the timestep modulation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_tea_coefficients: Option<Vec<f64>>,
}

/// The model folder's recommended sampling settings (empty when it has no such file).
pub fn sampling_defaults(root: &Path) -> Result<SamplingDefaults> {
    let path = root.join(SAMPLING_DEFAULTS_FILE);
    if !path.exists() {
        return Ok(SamplingDefaults::default());
    }
    let d: SamplingDefaults = read_config(&path)?;
    if let Some(g) = d.guidance_scale {
        if !(g.is_finite() && g >= 0.0) {
            bail!(
                "{}: guidance_scale must be a non-negative number, got {g}",
                path.display()
            );
        }
    }
    if d.height.is_some() != d.width.is_some() {
        bail!(
            "{}: give both `height` and `width` (the model's native resolution) or neither",
            path.display()
        );
    }
    for (field, v) in [("height", d.height), ("width", d.width)] {
        if v == Some(0) {
            bail!("{}: `{field}` must be positive", path.display());
        }
    }
    for (field, v) in [
        ("cache_mag_ratios", &d.cache_mag_ratios),
        ("cache_tea_coefficients", &d.cache_tea_coefficients),
    ] {
        if v.as_ref().is_some_and(|v| v.iter().any(|x| !x.is_finite())) {
            bail!("{}: `{field}` must hold finite numbers", path.display());
        }
    }
    Ok(d)
}

impl SamplingDefaults {
    /// The model's native resolution (height, width), when its folder states one.
    pub fn native_size(&self) -> Option<(usize, usize)> {
        self.height.zip(self.width)
    }
}

fn read_json_value(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Deserialises a JSON config file, naming the file in any error.
pub fn read_config<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("invalid config {}", path.display()))
}

/// The safetensors files holding a component's weights. A sharded checkpoint is read through its
/// `*.safetensors.index.json`; otherwise every `*.safetensors` file of the folder is used.
/// Pickle files are refused when they are the only weights, and never opened.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.path().is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let pickles: Vec<&String> = names
        .iter()
        .filter(|n| PICKLE_ENDINGS.iter().any(|e| n.ends_with(e)))
        .collect();
    let indexes: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with(".safetensors.index.json"))
        .collect();
    let singles: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with(".safetensors"))
        .collect();

    let files = if let Some(index) = indexes.first() {
        if indexes.len() > 1 {
            bail!(
                "{} holds several safetensors index files; expected one",
                dir.display()
            );
        }
        shards_from_index(&dir.join(index))?
    } else if !singles.is_empty() {
        singles.iter().map(|n| dir.join(n)).collect()
    } else if let Some(p) = pickles.first() {
        bail!(
            "refusing to load {}: pickle checkpoints (.bin/.pt/.ckpt) can run arbitrary code and are never read; \
             convert the weights to safetensors",
            dir.join(p).display()
        );
    } else {
        bail!("{} holds no safetensors weights", dir.display());
    };
    if !pickles.is_empty() {
        eprintln!(
            "note: ignoring pickle file(s) in {} ({}); only safetensors are read",
            dir.display(),
            pickles
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for f in &files {
        check_safetensors_file(f)?;
    }
    Ok(files)
}

fn shards_from_index(index_path: &Path) -> Result<Vec<PathBuf>> {
    let value = read_json_value(index_path)?;
    let map = value
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| anyhow!("{} has no `weight_map` object", index_path.display()))?;
    let dir = index_path.parent().unwrap_or(Path::new("."));
    let shards: BTreeSet<String> = map
        .values()
        .map(|v| {
            v.as_str().map(str::to_string).ok_or_else(|| {
                anyhow!(
                    "{}: weight_map values must be file names",
                    index_path.display()
                )
            })
        })
        .collect::<Result<_>>()?;
    if shards.is_empty() {
        bail!("{}: weight_map is empty", index_path.display());
    }
    let mut files = Vec::new();
    for shard in shards {
        check_plain_file_name(index_path, &shard)?;
        if PICKLE_ENDINGS.iter().any(|e| shard.ends_with(e)) {
            bail!(
                "{} lists the pickle shard {shard}: only safetensors are read",
                index_path.display()
            );
        }
        let path = dir.join(&shard);
        if !path.is_file() {
            bail!(
                "{} lists the shard {shard}, which is missing",
                index_path.display()
            );
        }
        files.push(path);
    }
    Ok(files)
}

/// Refuses a file name from an untrusted listing (an index's shard, a hub listing) that is not a plain
/// name in its folder: separators, `..`, absolute or empty names could read outside the model folder.
/// (The folder's files may be symlinks, as in a hub cache, so the check is on the name, not the
/// resolved path.)
pub fn check_plain_file_name(listing: &Path, name: &str) -> Result<()> {
    let plain =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if !plain {
        bail!(
            "{} names the file `{name}`, which is not a plain file name in its folder; refusing to read it",
            listing.display()
        );
    }
    Ok(())
}

/// The JSON header of a safetensors file and the length of its data section, read with the length
/// the file claims bounded by the file's size and 100 MB (so a lying header allocates nothing large);
/// every error names the file.
pub fn safetensors_header(
    path: &Path,
) -> Result<(serde_json::Map<String, serde_json::Value>, u64)> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let file_len = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len();
    let corrupt =
        |why: String| anyhow!("{} is not a valid safetensors file: {why}", path.display());
    if file_len < 8 {
        return Err(corrupt(format!("only {file_len} bytes long")));
    }
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > file_len - 8 || header_len > 100_000_000 {
        return Err(corrupt(format!(
            "header length {header_len} exceeds the file size {file_len} (truncated?)"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| corrupt(format!("header is not JSON ({e})")))?;
    match header {
        serde_json::Value::Object(obj) => Ok((obj, file_len - 8 - header_len)),
        _ => Err(corrupt("header is not a JSON object".into())),
    }
}

/// Validates a safetensors file's header and that every tensor lies inside the file, so a
/// truncated or corrupt download is reported by name before any weights are mapped.
pub fn check_safetensors_file(path: &Path) -> Result<()> {
    let corrupt =
        |why: String| anyhow!("{} is not a valid safetensors file: {why}", path.display());
    let (obj, data_len) = safetensors_header(path)?;
    for (name, info) in obj {
        if name == "__metadata__" {
            continue;
        }
        let offsets = info
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .and_then(|o| Some((o.first()?.as_u64()?, o.get(1)?.as_u64()?)))
            .ok_or_else(|| corrupt(format!("tensor `{name}` has no valid data_offsets")))?;
        if offsets.0 > offsets.1 || offsets.1 > data_len {
            return Err(corrupt(format!(
                "tensor `{name}` ends at byte {} but the data section has {data_len} bytes (truncated?)",
                offsets.1
            )));
        }
    }
    Ok(())
}

/// A VarBuilder over a component folder's safetensors weights, converting to `dtype` on load.
pub fn var_builder(dir: &Path, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
    let files = weight_files(dir)?;
    // SAFETY: the files are memory-mapped read-only; they must not change while the model is loaded,
    // which is the same contract every safetensors loader relies on.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, device) }
        .with_context(|| format!("cannot map the safetensors weights in {}", dir.display()))?;
    Ok(vb)
}

/// A VarBuilder that makes up random weights of whatever shape a model asks for, for timing and
/// memory measurements where values do not matter ([`random_weight_std`]: N(0, 1/fan_in) for
/// matrices, ones for norm scales (1-D weights whose name holds `norm`), N(0, 1/50) for other
/// vectors).
///
/// The weights are plain tensors, not `Var`s: a model built from a `VarMap` tracks a gradient graph
/// through every forward, which keeps every intermediate tensor alive until the output is dropped and
/// makes attention take its differentiable (materialised-scores) path — neither is what inference
/// does.
pub fn random_var_builder(dtype: DType, device: &Device) -> VarBuilder<'static> {
    VarBuilder::from_backend(Box::new(RandomWeights), dtype, device.clone())
}

/// The spread of the random weight `name` of shape `dims` ([`random_var_builder`]'s rule): `None`
/// for a norm scale (all ones), else the standard deviation of its normal distribution.
pub fn random_weight_std(name: &str, dims: &[usize]) -> Option<f64> {
    if dims.len() == 1 && name.contains("norm") {
        return None;
    }
    let fan_in: usize = if dims.len() >= 2 {
        dims[1..].iter().product()
    } else {
        50
    };
    Some((1.0 / fan_in.max(1) as f64).sqrt())
}

struct RandomWeights;

impl candle_nn::var_builder::SimpleBackend for RandomWeights {
    fn get(
        &self,
        shape: candle_core::Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<candle_core::Tensor> {
        match random_weight_std(name, shape.dims()) {
            None => candle_core::Tensor::ones(shape, dtype, dev),
            Some(std) => candle_core::Tensor::randn(0f32, std as f32, shape, dev)?.to_dtype(dtype),
        }
    }

    fn get_unchecked(
        &self,
        name: &str,
        _: DType,
        _: &Device,
    ) -> candle_core::Result<candle_core::Tensor> {
        candle_core::bail!("random weights: no shape known for {name}")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        true
    }
}
