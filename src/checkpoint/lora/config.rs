//! The LoRA config diffusers stores as JSON under `lora_adapter_metadata` in a safetensors file's
//! `__metadata__` (PEFT's `LoraConfig`: `r`, `lora_alpha`, `rank_pattern`, `alpha_pattern`,
//! `use_rslora`), and the scaling PEFT derives from it.
use std::path::Path;

use anyhow::{anyhow, bail, Result};

/// Key of the safetensors `__metadata__` entry where diffusers stores the LoRA config as JSON.
pub const ADAPTER_METADATA_KEY: &str = "lora_adapter_metadata";

/// LoRA config fields diffusers stores in the file (PEFT's `LoraConfig`).
#[derive(Debug, Clone)]
pub(super) struct AdapterConfig {
    r: f64,
    lora_alpha: f64,
    rank_pattern: Vec<(String, regex::Regex, f64)>,
    alpha_pattern: Vec<(String, regex::Regex, f64)>,
    use_rslora: bool,
}

impl AdapterConfig {
    pub(super) fn from_json(path: &Path, value: &serde_json::Value) -> Result<Self> {
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

    pub(super) fn scaling(&self, path: &Path, module: &str, rank: usize, key: &str) -> Result<f64> {
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
