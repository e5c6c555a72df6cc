//! `physedit quantize`: a diffusers transformer folder written as the single files ComfyUI users
//! load, with the original Wan key names.
//!
//! - GGUF (`q8_0`, `q4_k`, `q4_0`): city96's layout (ComfyUI-GGUF `tools/convert.py`, a patched
//!   `llama-quantize`, `tools/fix_5d_tensors.py`): names without prefix, `general.architecture =
//!   wan`. Block Linear weights (`blocks.N.{self_attn,cross_attn}.{q,k,v,o,k_img,v_img}`,
//!   `blocks.N.ffn.{0,2}`) take the requested type when their rows fill whole blocks (32 values, 256
//!   for K-quants); everything else keeps the type convert.py gives an f32/bf16 source: F32 for 1-D tensors,
//!   tensors of at most 1024 elements and `*.modulation`, F16 for other 2-D tensors, and the 5-D patch
//!   embedding as a real 5-D F32 tensor after `patch_embedding.bias`. `q4_k` quantizes every block
//!   Linear weight to Q4_K (llama.cpp's Q4_K_M would keep `*.v` and `ffn.2` in Q6_K).
//! - fp8 (`fp8`): ComfyUI's scaled form under `model.diffusion_model.`: block Linear weights
//!   float8_e4m3fn with a 0-d f32 `<layer>.scale_weight` = absmax / 448 beside each, the empty
//!   `scaled_fp8` marker; the rest in the folder's dtype.
//!
//! The output is written to a temporary file beside `out` and renamed at the end, so an interrupted
//! run leaves nothing half-written under the requested name. GGUF tensors are quantized and written
//! one at a time (the header's offsets follow from the types); the fp8 file is assembled in memory.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

use super::gguf::{self, MetaValue};
use super::keys;

/// The storage `physedit quantize` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QuantType {
    /// GGUF, block Linear weights Q8_0 (8.5 bits per weight).
    #[value(name = "q8_0")]
    Q8_0,
    /// GGUF, block Linear weights Q4_K (4.5 bits per weight).
    #[value(name = "q4_k")]
    Q4K,
    /// GGUF, block Linear weights Q4_0 (4.5 bits per weight, 32-value blocks: fills rows Q4_K's
    /// 256-value blocks do not, such as the bundled model's).
    #[value(name = "q4_0")]
    Q4_0,
    /// safetensors, block Linear weights float8_e4m3fn with per-tensor scales (ComfyUI's scaled fp8).
    Fp8,
}

/// Block Linear layers, original names (what llama-quantize quantizes and fp8 files store as fp8).
const BLOCK_LINEARS: [&str; 12] = [
    "self_attn.q",
    "self_attn.k",
    "self_attn.v",
    "self_attn.o",
    "cross_attn.q",
    "cross_attn.k",
    "cross_attn.v",
    "cross_attn.o",
    "cross_attn.k_img",
    "cross_attn.v_img",
    "ffn.0",
    "ffn.2",
];

/// Whether an original Wan name is a block Linear weight (`blocks.N.<layer>.weight`).
pub fn is_block_linear(wan_name: &str) -> bool {
    let Some(rest) = wan_name.strip_prefix("blocks.") else {
        return false;
    };
    let Some((_, layer)) = rest.split_once('.') else {
        return false;
    };
    layer
        .strip_suffix(".weight")
        .is_some_and(|l| BLOCK_LINEARS.contains(&l))
}

/// The GGML type city96's tools give the tensor `wan_name` of shape `dims` for a `target` file type.
pub fn gguf_type(wan_name: &str, dims: &[usize], target: GgmlDType) -> GgmlDType {
    let elements: usize = dims.iter().product();
    let row = dims.last().copied().unwrap_or(1);
    if is_block_linear(wan_name) && dims.len() == 2 && row % target.block_size() == 0 {
        return target;
    }
    if dims.len() == 1 || dims.len() > 4 || elements <= 1024 || wan_name.ends_with("modulation") {
        GgmlDType::F32
    } else {
        GgmlDType::F16
    }
}

/// A transformer folder's tensors, in original Wan names and file order (the patch embedding after its
/// bias, as fix_5d_tensors.py leaves it).
struct Source {
    st: candle_core::safetensors::MmapedSafetensors,
    /// (original name, diffusers name), in order.
    names: Vec<(String, String)>,
}

fn open_source(dir: &Path) -> Result<Source> {
    let files = super::weight_files(dir)?;
    // SAFETY: read-only mapping (see checkpoint::var_builder).
    let st = unsafe { candle_core::safetensors::MmapedSafetensors::multi(&files) }
        .with_context(|| format!("cannot map the safetensors weights in {}", dir.display()))?;
    let mut diffusers: Vec<String> = st.tensors().into_iter().map(|(k, _)| k).collect();
    diffusers.sort();
    let mut names = Vec::with_capacity(diffusers.len());
    for d in diffusers {
        let wan = keys::diffusers_to_wan(&d).ok_or_else(|| {
            anyhow!(
                "{}: the weight `{d}` has no original Wan name (not a Wan / ChronoEdit transformer?)",
                dir.display()
            )
        })?;
        names.push((wan, d));
    }
    // city96 places the 5-D patch embedding right after its bias.
    if let Some(i) = names
        .iter()
        .position(|(w, _)| w == "patch_embedding.weight")
    {
        let pe = names.remove(i);
        let at = names
            .iter()
            .position(|(w, _)| w == "patch_embedding.bias")
            .map_or(names.len(), |j| j + 1);
        names.insert(at, pe);
    }
    Ok(Source { st, names })
}

/// Progress callback: (tensors done, tensors in all, the tensor's name).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, &str);

/// Writes the transformer of the folder `dir` (a diffusers transformer folder) to `out` as `ty`.
pub fn quantize(dir: &Path, ty: QuantType, out: &Path, progress: Progress) -> Result<()> {
    let src = open_source(dir)?;
    let tmp = temp_path(out);
    let result = match ty {
        QuantType::Q8_0 => write_gguf(&src, GgmlDType::Q8_0, 7, &tmp, progress),
        QuantType::Q4K => write_gguf(&src, GgmlDType::Q4K, 14, &tmp, progress),
        // llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_0 = 2.
        QuantType::Q4_0 => write_gguf(&src, GgmlDType::Q4_0, 2, &tmp, progress),
        QuantType::Fp8 => write_fp8(&src, &tmp, progress),
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), out.display()))
}

fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!(".{name}.partial"))
}

fn write_gguf(
    src: &Source,
    target: GgmlDType,
    file_type: i64,
    path: &Path,
    progress: Progress,
) -> Result<()> {
    let mut plan = Vec::with_capacity(src.names.len());
    for (wan, d) in &src.names {
        let dims = src.st.get(d)?.shape().to_vec();
        plan.push((wan.clone(), dims.clone(), gguf_type(wan, &dims, target)));
    }
    let f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = gguf::Writer::new(
        std::io::BufWriter::new(f),
        &[
            ("general.architecture", MetaValue::Str("wan".into())),
            ("general.quantization_version", MetaValue::Int(2)),
            ("general.file_type", MetaValue::Int(file_type)),
        ],
        &plan,
    )?;
    let n = plan.len();
    for (i, ((wan, dims, ty), (_, d))) in plan.iter().zip(&src.names).enumerate() {
        progress(i, n, wan);
        let t = src.st.load(d, &Device::Cpu)?.to_dtype(DType::F32)?;
        // candle quantizes tensors of at most 4 dimensions; a 5-D one is flattened (F32 keeps its
        // values either way) and written with its real shape.
        let t = if dims.len() > 4 { t.flatten_all()? } else { t };
        let q = QTensor::quantize(&t, *ty)
            .with_context(|| format!("cannot quantize `{d}` to {ty:?}"))?;
        w.tensor(&q)?;
    }
    progress(n, n, "");
    w.finish()
}

fn write_fp8(src: &Source, path: &Path, progress: Progress) -> Result<()> {
    const PREFIX: &str = "model.diffusion_model.";
    let mut out: HashMap<String, Tensor> = HashMap::new();
    let n = src.names.len();
    for (i, (wan, d)) in src.names.iter().enumerate() {
        progress(i, n, wan);
        let t = src.st.load(d, &Device::Cpu)?;
        if !(is_block_linear(wan) && t.rank() == 2) {
            out.insert(format!("{PREFIX}{wan}"), t);
            continue;
        }
        let (w, scale) = fp8_scaled(&t)?;
        out.insert(format!("{PREFIX}{wan}"), w);
        let layer = &wan[..wan.len() - ".weight".len()];
        out.insert(
            format!("{PREFIX}{layer}.scale_weight"),
            Tensor::new(scale, &Device::Cpu)?,
        );
    }
    out.insert(
        format!("{PREFIX}scaled_fp8"),
        Tensor::zeros(0, DType::F8E4M3, &Device::Cpu)?,
    );
    progress(n, n, "");
    candle_core::safetensors::save(&out, path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// ComfyUI's scaled fp8 of one weight: `(w / scale)` as float8_e4m3fn and `scale = absmax / 448`
/// (1 for an all-zero weight).
pub fn fp8_scaled(w: &Tensor) -> Result<(Tensor, f32)> {
    let w = w.to_dtype(DType::F32)?;
    let amax = w.abs()?.max_all()?.to_scalar::<f32>()?;
    if !amax.is_finite() {
        bail!("the weight holds a non-finite value");
    }
    let scale = if amax > 0.0 { amax / 448.0 } else { 1.0 };
    // A true f32 division, as torch's `w / scale` (candle's `tensor / f64` multiplies by the
    // reciprocal, which rounds differently).
    let s = Tensor::new(scale, w.device())?;
    let q = w.broadcast_div(&s)?.to_dtype(DType::F8E4M3)?;
    Ok((q, scale))
}
