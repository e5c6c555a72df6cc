//! Per-request adapters for the service. `--lora-dir DIR` holds the adapter files requests may name:
//! the `lora` field is `NAME[:SCALE]`, several separated by commas, where NAME is the stem of
//! `DIR/NAME.safetensors` (a plain name: nothing outside DIR can be named, and a link that leads out of
//! DIR is refused). Adapters are read on first use into a cache bounded by `--lora-cache-bytes` (the
//! least recently used go first) and applied unfused ([`crate::models::adapter`]), so jobs with
//! different adapters run one after another on one loaded base model whose weights never change.
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device};

use crate::checkpoint::lora::{checkpoint_shapes, read_lora_file};
use crate::models::adapter::{Adapter, AdapterSet};

/// Most adapters one request may name.
pub const MAX_PER_REQUEST: usize = 8;

/// One adapter a request names, with its strength (1 when not given).
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterRequest {
    pub name: String,
    pub scale: f64,
}

/// A plain adapter name: 1-128 of `A-Z a-z 0-9 . _ -`, not starting with a dot.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Parses the request field `NAME[:SCALE][,NAME[:SCALE]...]`; the message names the bad part.
pub fn parse_request(field: &str) -> std::result::Result<Vec<AdapterRequest>, String> {
    let mut out: Vec<AdapterRequest> = Vec::new();
    for part in field.split(',').map(str::trim) {
        let (name, scale) = match part.split_once(':') {
            None => (part, 1.0),
            Some((n, s)) => {
                let scale: f64 = s
                    .trim()
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite())
                    .ok_or_else(|| format!("`{part}`: the scale `{s}` is not a finite number"))?;
                (n.trim(), scale)
            }
        };
        if !valid_name(name) {
            return Err(format!(
                "`{part}`: expected NAME[:SCALE] with NAME the file stem of an adapter in the \
                 server's --lora-dir (letters, digits, `.`, `_`, `-`)"
            ));
        }
        if out.iter().any(|a| a.name == name) {
            return Err(format!("`{name}` is named twice"));
        }
        out.push(AdapterRequest {
            name: name.to_string(),
            scale,
        });
    }
    if out.len() > MAX_PER_REQUEST {
        return Err(format!(
            "{} adapters named; at most {MAX_PER_REQUEST} per request",
            out.len()
        ));
    }
    Ok(out)
}

/// The file of adapter `name` in `dir` (canonical), which must exist inside `dir`.
pub fn adapter_file(dir: &Path, name: &str) -> Result<PathBuf> {
    if !valid_name(name) {
        bail!("lora `{name}` is not a plain adapter name");
    }
    let path = dir.join(format!("{name}.safetensors"));
    if !path.is_file() {
        bail!("unknown lora `{name}`: there is no {name}.safetensors in the server's --lora-dir");
    }
    let real = path
        .canonicalize()
        .with_context(|| format!("lora `{name}`: cannot resolve {}", path.display()))?;
    if !real.starts_with(dir) {
        bail!("lora `{name}`: {name}.safetensors links outside the server's --lora-dir");
    }
    Ok(real)
}

/// Adapters read from one folder for one model, least recently used first out.
pub struct AdapterCache {
    dir: PathBuf,
    max_bytes: usize,
    shapes: HashMap<String, Vec<usize>>,
    model: String,
    dtype: DType,
    device: Device,
    entries: Mutex<VecDeque<(String, Arc<Adapter>)>>,
}

impl AdapterCache {
    /// `dir` holds the adapters; `transformer_dir` is the loaded model's transformer folder, whose
    /// tensor shapes every adapter is checked against.
    pub fn new(
        dir: &Path,
        max_bytes: usize,
        transformer_dir: &Path,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        if !dir.is_dir() {
            bail!("--lora-dir {} is not a folder", dir.display());
        }
        let dir = dir
            .canonicalize()
            .with_context(|| format!("--lora-dir {}", dir.display()))?;
        Ok(Self {
            dir,
            max_bytes,
            shapes: checkpoint_shapes(transformer_dir)?,
            model: transformer_dir.display().to_string(),
            dtype,
            device: device.clone(),
            entries: Mutex::new(VecDeque::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Names of the cached adapters, least recently used first.
    pub fn cached(&self) -> Vec<String> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.iter().map(|(n, _)| n.clone()).collect()
    }

    fn lookup(&self, name: &str) -> Option<Arc<Adapter>> {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let i = e.iter().position(|(n, _)| n == name)?;
        let entry = e.remove(i)?;
        let a = entry.1.clone();
        e.push_back(entry);
        Some(a)
    }

    /// Adapter `name`, from the cache or read now (then cached, evicting the least recently used
    /// until it fits).
    pub fn get(&self, name: &str) -> Result<Arc<Adapter>> {
        if let Some(a) = self.lookup(name) {
            return Ok(a);
        }
        let path = adapter_file(&self.dir, name)?;
        let file = read_lora_file(&path)?;
        let shape_of = |t: &str| self.shapes.get(t).cloned();
        let adapter = Arc::new(Adapter::from_lora(
            &file,
            shape_of,
            &self.model,
            self.dtype,
            &self.device,
        )?);
        let bytes = adapter.bytes();
        if bytes > self.max_bytes {
            bail!(
                "lora `{name}` takes {bytes} bytes on the device, more than --lora-cache-bytes {}",
                self.max_bytes
            );
        }
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, a)) = e.iter().find(|(n, _)| n == name) {
            return Ok(a.clone());
        }
        let mut held: usize = e.iter().map(|(_, a)| a.bytes()).sum();
        while held + bytes > self.max_bytes {
            let (_, old) = e
                .pop_front()
                .ok_or_else(|| anyhow!("adapter cache accounting"))?;
            held -= old.bytes();
        }
        e.push_back((name.to_string(), adapter.clone()));
        Ok(adapter)
    }

    /// The adapters of a request's `lora` field, ready to apply.
    pub fn set_for(&self, field: &str) -> Result<AdapterSet> {
        let reqs = parse_request(field).map_err(|e| anyhow!("lora: {e}"))?;
        let mut set = AdapterSet::default();
        for r in reqs {
            set.adapters.push((self.get(&r.name)?, r.scale));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_scales() {
        let r = parse_request("style, distill:0.5 ,x-1.v2:-1").unwrap();
        assert_eq!(
            r,
            vec![
                AdapterRequest {
                    name: "style".into(),
                    scale: 1.0
                },
                AdapterRequest {
                    name: "distill".into(),
                    scale: 0.5
                },
                AdapterRequest {
                    name: "x-1.v2".into(),
                    scale: -1.0
                },
            ]
        );
        for bad in [
            "../etc/passwd",
            "a/b",
            ".hidden",
            "",
            "a:nan",
            "a:x",
            "a,a",
            "a,,b",
        ] {
            let e = parse_request(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        let many = (0..9)
            .map(|i| format!("l{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_request(&many).unwrap_err().contains("at most"));
    }
}
