//! GGUF files (city96's ComfyUI-GGUF layout for Wan / ChronoEdit transformers): a header reader that
//! trusts nothing it reads, tensors read one at a time, and the writer `physedit quantize` uses.
//!
//! The reader is PhysEdit's own rather than `candle_core::quantized::gguf_file::Content`, because
//! published Wan GGUFs hold the patch embedding as a 5-D tensor (city96's `fix_5d_tensors.py`), which
//! candle's reader refuses (it allows 4 dimensions). Every size the header states is bounded before
//! anything is allocated from it: the tensor and metadata counts, string and array lengths, the number
//! and size of dimensions, the alignment, and each tensor's extent against the file's data section; an
//! unknown tensor type is named with its number. The tensor bytes go through candle's
//! `qtensor_from_ggml`, so block layouts are candle's (equal to ggml's).
//!
//! The 5-D patch embedding is read either way ComfyUI-GGUF reads it: a real 5-D tensor, or a
//! reshaped one with `comfy.gguf.orig_shape.<name>` giving the shape.
//!
//! Parity: tests/it/weights.rs reads a GGUF that gguf-py wrote (tools/reference/make_single_file_fixtures.py)
//! and compares the frames with diffusers run on gguf-py's dequantized weights; files written here are
//! read back by the same reader (and are the layout gguf-py's `GGUFReader` reads: version 3, 32-byte
//! alignment).
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

/// Most tensors a GGUF may list (the 14B has about 1 100).
const MAX_TENSORS: u64 = 1 << 20;
/// Most metadata entries.
const MAX_METADATA: u64 = 1 << 16;
/// Longest key, tensor name or string value.
const MAX_STRING: u64 = 1 << 16;
/// Most elements of one metadata array (tokenizer vocabularies of LLM GGUFs stay below this).
const MAX_ARRAY: u64 = 1 << 22;
/// Most dimensions of a tensor (the Wan patch embedding has 5).
const MAX_DIMS: u32 = 5;
/// Most elements of one tensor (2^40, far above any real model's largest tensor).
const MAX_ELEMENTS: u64 = 1 << 40;

/// A metadata value (nested arrays are refused: no Wan GGUF has them).
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(Vec<MetaValue>),
}

/// Where one tensor lies and what it holds.
#[derive(Debug, Clone)]
pub struct GgufTensor {
    pub dtype: GgmlDType,
    /// PyTorch order (outermost first): the reverse of the file's ggml order.
    pub dims: Vec<usize>,
    /// Absolute byte offset in the file.
    pub start: u64,
    pub bytes: u64,
}

/// A GGUF file's header.
#[derive(Debug, Clone)]
pub struct GgufFile {
    pub path: PathBuf,
    pub metadata: BTreeMap<String, MetaValue>,
    pub tensors: BTreeMap<String, GgufTensor>,
    /// The order the file lists its tensors in.
    pub order: Vec<String>,
}

/// The GGML type with the file's number, or an error naming the type candle cannot read.
pub fn ggml_dtype(code: u32) -> std::result::Result<GgmlDType, String> {
    Ok(match code {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        9 => GgmlDType::Q8_1,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        15 => GgmlDType::Q8K,
        30 => GgmlDType::BF16,
        16..=23 | 29 => {
            return Err(format!(
                "{} (an i-quant, which candle cannot read)",
                ggml_name(code)
            ))
        }
        other => return Err(format!("unknown GGML type {other}")),
    })
}

/// ggml's name of a type number, for messages.
fn ggml_name(code: u32) -> String {
    let name = match code {
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        29 => "IQ1_M",
        _ => return format!("type {code}"),
    };
    name.to_string()
}

/// The file's number of a GGML type.
pub fn ggml_code(dtype: GgmlDType) -> u32 {
    match dtype {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q4_1 => 3,
        GgmlDType::Q5_0 => 6,
        GgmlDType::Q5_1 => 7,
        GgmlDType::Q8_0 => 8,
        GgmlDType::Q8_1 => 9,
        GgmlDType::Q2K => 10,
        GgmlDType::Q3K => 11,
        GgmlDType::Q4K => 12,
        GgmlDType::Q5K => 13,
        GgmlDType::Q6K => 14,
        GgmlDType::Q8K => 15,
        GgmlDType::BF16 => 30,
    }
}

/// Whether a GGML type is a block quantization (not F32/F16/BF16).
pub fn is_quantized(dtype: GgmlDType) -> bool {
    !matches!(dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16)
}

/// A bounded reader over the header.
struct Header<'a, R> {
    r: R,
    file: &'a Path,
    len: u64,
}

impl<R: Read + Seek> Header<'_, R> {
    fn bad(&self, why: String) -> anyhow::Error {
        anyhow!("{} is not a valid GGUF file: {why}", self.file.display())
    }

    fn remaining(&mut self) -> Result<u64> {
        let pos = self.r.stream_position()?;
        Ok(self.len.saturating_sub(pos))
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .map_err(|_| self.bad(format!("the header ends inside {what} (truncated?)")))?;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.bytes::<8>(what)?))
    }

    /// A count, checked against `max` and against the bytes left (each item needs at least
    /// `min_bytes`).
    fn count(&mut self, what: &str, max: u64, min_bytes: u64) -> Result<u64> {
        let n = self.u64(what)?;
        let left = self.remaining()?;
        if n > max || n.saturating_mul(min_bytes) > left {
            return Err(self.bad(format!(
                "{what} is {n}, more than the limit {max} or than the {left} bytes left can hold (truncated or corrupt?)"
            )));
        }
        Ok(n)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.count(what, MAX_STRING, 1)?;
        let mut b = vec![0u8; n as usize];
        self.r
            .read_exact(&mut b)
            .map_err(|_| self.bad(format!("the header ends inside {what} (truncated?)")))?;
        String::from_utf8(b).map_err(|_| self.bad(format!("{what} is not UTF-8")))
    }

    fn value(&mut self, ty: u32, key: &str, nested: bool) -> Result<MetaValue> {
        let what = format!("the value of `{key}`");
        Ok(match ty {
            0 => MetaValue::Int(self.bytes::<1>(&what)?[0] as i64),
            1 => MetaValue::Int(self.bytes::<1>(&what)?[0] as i8 as i64),
            2 => MetaValue::Int(u16::from_le_bytes(self.bytes::<2>(&what)?) as i64),
            3 => MetaValue::Int(i16::from_le_bytes(self.bytes::<2>(&what)?) as i64),
            4 => MetaValue::Int(self.u32(&what)? as i64),
            5 => MetaValue::Int(self.u32(&what)? as i32 as i64),
            6 => MetaValue::Float(f32::from_le_bytes(self.bytes::<4>(&what)?) as f64),
            7 => MetaValue::Bool(self.bytes::<1>(&what)?[0] != 0),
            8 => MetaValue::Str(self.string(&what)?),
            9 if !nested => {
                let elem = self.u32(&what)?;
                let n = self.count(&format!("the length of `{key}`"), MAX_ARRAY, 1)?;
                let mut v = Vec::with_capacity(n.min(1024) as usize);
                for _ in 0..n {
                    v.push(self.value(elem, key, true)?);
                }
                MetaValue::Array(v)
            }
            10 | 11 => MetaValue::Int(self.u64(&what)? as i64),
            12 => MetaValue::Float(f64::from_le_bytes(self.bytes::<8>(&what)?)),
            other => {
                return Err(self.bad(format!(
                    "`{key}` has the unknown value type {other}{}",
                    if other == 9 { " (nested array)" } else { "" }
                )))
            }
        })
    }
}

impl GgufFile {
    /// Reads and checks the header of `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = f
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?
            .len();
        let mut h = Header {
            r: std::io::BufReader::new(f),
            file: path,
            len,
        };
        if &h.bytes::<4>("the magic")? != b"GGUF" {
            return Err(h.bad("it does not start with `GGUF`".into()));
        }
        let version = h.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(h.bad(format!(
                "version {version} (PhysEdit reads versions 2 and 3)"
            )));
        }
        let n_tensors = h.count("the tensor count", MAX_TENSORS, 8 + 4 + 4 + 8)?;
        let n_meta = h.count("the metadata count", MAX_METADATA, 8 + 4 + 1)?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_meta {
            let key = h.string("a metadata key")?;
            let ty = h.u32(&format!("the type of `{key}`"))?;
            let v = h.value(ty, &key, false)?;
            metadata.insert(key, v);
        }
        let mut infos = Vec::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            infos.push(read_tensor_info(&mut h)?);
        }
        let alignment = match metadata.get("general.alignment") {
            None => 32,
            Some(MetaValue::Int(a)) if *a > 0 && (*a as u64).is_power_of_two() && *a <= 1 << 20 => {
                *a as u64
            }
            Some(v) => return Err(h.bad(format!("general.alignment {v:?} is not a power of two"))),
        };
        let end_of_header = h.r.stream_position()?;
        let data_start = end_of_header.div_ceil(alignment) * alignment;
        let mut tensors = BTreeMap::new();
        let mut order = Vec::with_capacity(infos.len());
        for (name, dtype, dims, offset) in infos {
            let t = place_tensor(&h, &name, dtype, dims, offset, data_start, alignment)?;
            if tensors.insert(name.clone(), t).is_some() {
                return Err(h.bad(format!("the tensor `{name}` is listed twice")));
            }
            order.push(name);
        }
        let mut file = Self {
            path: path.to_path_buf(),
            metadata,
            tensors,
            order,
        };
        file.apply_orig_shapes()?;
        Ok(file)
    }

    /// ComfyUI-GGUF's `comfy.gguf.orig_shape.<name>`: the shape a reshaped tensor really has.
    fn apply_orig_shapes(&mut self) -> Result<()> {
        const KEY: &str = "comfy.gguf.orig_shape.";
        for (key, value) in &self.metadata {
            let Some(name) = key.strip_prefix(KEY) else {
                continue;
            };
            let t = self.tensors.get_mut(name).ok_or_else(|| {
                anyhow!(
                    "{}: `{key}` names no tensor of the file",
                    self.path.display()
                )
            })?;
            let dims: Option<Vec<usize>> = match value {
                MetaValue::Array(v) if !v.is_empty() && v.len() <= MAX_DIMS as usize => v
                    .iter()
                    .map(|d| match d {
                        MetaValue::Int(d) if *d > 0 => Some(*d as usize),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            };
            let dims = dims.ok_or_else(|| {
                anyhow!(
                    "{}: `{key}` is not a list of positive dimensions",
                    self.path.display()
                )
            })?;
            let n: usize = dims.iter().product();
            if n != t.dims.iter().product::<usize>() {
                bail!(
                    "{}: `{key}` gives the shape {dims:?} to `{name}`, which holds {:?}",
                    self.path.display(),
                    t.dims
                );
            }
            t.dims = dims;
        }
        Ok(())
    }

    /// A metadata string, when present.
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        match self.metadata.get(key) {
            Some(MetaValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// Reads the tensor `name` (blocks as stored), on `device`.
    pub fn qtensor(&self, name: &str, device: &Device) -> Result<QTensor> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| anyhow!("{} has no tensor `{name}`", self.path.display()))?;
        let mut f = std::fs::File::open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        f.seek(SeekFrom::Start(t.start))?;
        // A u64 buffer keeps the blocks aligned for the typed view candle takes of them.
        let mut buf = vec![0u64; (t.bytes as usize).div_ceil(8)];
        // SAFETY: the u8 view covers `t.bytes` bytes of the buffer's `8 * len >= t.bytes` bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut u8, t.bytes as usize)
        };
        f.read_exact(bytes).with_context(|| {
            format!(
                "{}: cannot read the tensor `{name}` (truncated?)",
                self.path.display()
            )
        })?;
        // candle's quantized tensors are at most 4-D; a 5-D one is read flat and reshaped by
        // `tensor`.
        let dims = if t.dims.len() > 4 {
            vec![t.dims.iter().product()]
        } else {
            t.dims.clone()
        };
        candle_core::quantized::ggml_file::qtensor_from_ggml(t.dtype, bytes, dims, device)
            .with_context(|| format!("{}: cannot read the tensor `{name}`", self.path.display()))
    }

    /// Reads the tensor `name` dequantized to f32, in its real shape.
    pub fn tensor(&self, name: &str, device: &Device) -> Result<Tensor> {
        let dims = self.tensors[name].dims.clone();
        let q = self.qtensor(name, device)?;
        Ok(q.dequantize(device)?.reshape(dims)?)
    }
}

type TensorInfo = (String, GgmlDType, Vec<usize>, u64);

fn read_tensor_info<R: Read + Seek>(h: &mut Header<'_, R>) -> Result<TensorInfo> {
    let name = h.string("a tensor name")?;
    let n_dims = h.u32(&format!("the dimension count of `{name}`"))?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(h.bad(format!(
            "the tensor `{name}` has {n_dims} dimensions (1 to {MAX_DIMS} are read)"
        )));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    let mut elements: u64 = 1;
    for _ in 0..n_dims {
        let d = h.u64(&format!("the shape of `{name}`"))?;
        elements = elements.saturating_mul(d);
        dims.push(d as usize);
    }
    if elements == 0 || elements > MAX_ELEMENTS {
        return Err(h.bad(format!("the tensor `{name}` has {elements} elements")));
    }
    dims.reverse();
    let code = h.u32(&format!("the type of `{name}`"))?;
    let dtype =
        ggml_dtype(code).map_err(|why| h.bad(format!("the tensor `{name}` has the type {why}")))?;
    let offset = h.u64(&format!("the offset of `{name}`"))?;
    Ok((name, dtype, dims, offset))
}

fn place_tensor<R>(
    h: &Header<'_, R>,
    name: &str,
    dtype: GgmlDType,
    dims: Vec<usize>,
    offset: u64,
    data_start: u64,
    alignment: u64,
) -> Result<GgufTensor>
where
    R: Read + Seek,
{
    let bad = |why: String| anyhow!("{} is not a valid GGUF file: {why}", h.file.display());
    let row = dims[dims.len() - 1];
    let block = dtype.block_size();
    if row % block != 0 {
        return Err(bad(format!(
            "the tensor `{name}` has rows of {row} values, not a multiple of its {dtype:?} block of {block}"
        )));
    }
    let elements: u64 = dims.iter().map(|&d| d as u64).product();
    let bytes = elements / block as u64 * dtype.type_size() as u64;
    if offset % alignment != 0 {
        return Err(bad(format!(
            "the tensor `{name}` starts at the unaligned offset {offset}"
        )));
    }
    let start = data_start.saturating_add(offset);
    if start.saturating_add(bytes) > h.len {
        return Err(bad(format!(
            "the tensor `{name}` ({bytes} bytes at {start}) ends beyond the file's {} bytes (truncated?)",
            h.len
        )));
    }
    Ok(GgufTensor {
        dtype,
        dims,
        start,
        bytes,
    })
}

/// A GGUF being written (version 3, 32-byte alignment): the header from the planned tensors
/// (name, real shape in PyTorch order, type), then each tensor's blocks in the planned order. A
/// tensor's shape is written as planned, so 5-D tensors are real 5-D tensors.
pub struct Writer<W: Write + Seek> {
    out: W,
    plan: Vec<(String, Vec<usize>, GgmlDType)>,
    next: usize,
}

/// Bytes of a tensor of `dims` stored as `dtype`.
fn stored_bytes(dims: &[usize], dtype: GgmlDType) -> u64 {
    let n: u64 = dims.iter().map(|&d| d as u64).product();
    n / dtype.block_size() as u64 * dtype.type_size() as u64
}

impl<W: Write + Seek> Writer<W> {
    /// Writes the header: `metadata` (strings and u32 values), then the plan.
    pub fn new(
        mut out: W,
        metadata: &[(&str, MetaValue)],
        plan: &[(String, Vec<usize>, GgmlDType)],
    ) -> Result<Self> {
        out.write_all(b"GGUF")?;
        out.write_all(&3u32.to_le_bytes())?;
        out.write_all(&(plan.len() as u64).to_le_bytes())?;
        out.write_all(&(metadata.len() as u64).to_le_bytes())?;
        for (key, value) in metadata {
            write_string(&mut out, key)?;
            match value {
                MetaValue::Str(s) => {
                    out.write_all(&8u32.to_le_bytes())?;
                    write_string(&mut out, s)?;
                }
                MetaValue::Int(i) => {
                    out.write_all(&4u32.to_le_bytes())?;
                    out.write_all(&(*i as u32).to_le_bytes())?;
                }
                other => bail!("GGUF writer: metadata value {other:?} is not supported"),
            }
        }
        let mut offset = 0u64;
        for (name, dims, dtype) in plan {
            write_string(&mut out, name)?;
            out.write_all(&(dims.len() as u32).to_le_bytes())?;
            for d in dims.iter().rev() {
                out.write_all(&(*d as u64).to_le_bytes())?;
            }
            out.write_all(&ggml_code(*dtype).to_le_bytes())?;
            out.write_all(&offset.to_le_bytes())?;
            offset += stored_bytes(dims, *dtype).div_ceil(32) * 32;
        }
        pad(&mut out)?;
        Ok(Self {
            out,
            plan: plan.to_vec(),
            next: 0,
        })
    }

    /// Writes the next planned tensor's blocks.
    pub fn tensor(&mut self, q: &QTensor) -> Result<()> {
        let (name, dims, dtype) = self
            .plan
            .get(self.next)
            .ok_or_else(|| anyhow!("GGUF writer: more tensors than planned"))?;
        let data = q.data()?;
        if q.dtype() != *dtype || data.len() as u64 != stored_bytes(dims, *dtype) {
            bail!(
                "GGUF writer: `{name}` is {:?} of {} bytes, planned {dtype:?} {dims:?}",
                q.dtype(),
                data.len()
            );
        }
        self.out.write_all(&data)?;
        pad(&mut self.out)?;
        self.next += 1;
        Ok(())
    }

    /// Checks that every planned tensor was written and flushes.
    pub fn finish(mut self) -> Result<()> {
        if self.next != self.plan.len() {
            bail!(
                "GGUF writer: {} of {} tensors written",
                self.next,
                self.plan.len()
            );
        }
        self.out.flush()?;
        Ok(())
    }
}

fn write_string<W: Write>(w: &mut W, s: &str) -> Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())?;
    Ok(())
}

fn pad<W: Write + Seek>(w: &mut W) -> Result<()> {
    let pos = w.stream_position()?;
    let n = pos.div_ceil(32) * 32 - pos;
    w.write_all(&vec![0u8; n as usize])?;
    Ok(())
}
