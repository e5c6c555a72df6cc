//! Argument groups shared by several subcommands (flattened into their `Args`), so a flag means the
//! same, reads the same in `--help`, and is parsed in one place.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{DType, Device};
use clap::{Args, ValueEnum};

use crate::adaptive::card::{Predictor, RulePredictor};
use crate::adaptive::learned::LearnedPredictor;
use crate::adaptive::plan::{PlanTable, Planner};
use crate::checkpoint::hub::Want;

/// The folder a model flag names: a local folder as it is, or a Hugging Face id found in (or
/// fetched into) the hub cache by [`crate::checkpoint::hub::resolve_model`]. Every command's model
/// flags pass through here; errors name the flag.
pub fn model_folder(flag: &str, value: &Path) -> Result<PathBuf> {
    model_folder_with(flag, value, Want::Weights)
}

/// [`model_folder`] for commands that read only configs (no weights are fetched).
pub fn model_folder_with(flag: &str, value: &Path, want: Want) -> Result<PathBuf> {
    crate::checkpoint::hub::resolve_model_with(value, want)
        .with_context(|| format!("{flag} {}", value.display()))
}

/// The bundled world model, used when no `--model` is given.
pub fn bundled_model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join("physedit-world")
}

/// `--model` resolved by [`model_folder`], or the bundled world model when none is given.
pub fn model_or_bundled(value: Option<&Path>) -> Result<PathBuf> {
    if let Some(v) = value {
        return model_folder("--model", v);
    }
    let dir = bundled_model_dir();
    if !dir.join("model_index.json").is_file() {
        anyhow::bail!(
            "no --model given and the bundled model is not present at {}",
            dir.display()
        );
    }
    Ok(dir)
}

/// Where the adaptive recipes take their plans from: `--table` and `--card`.
#[derive(Args, Debug, Clone, Default)]
pub struct PlannerArgs {
    /// Tier -> plan table (TOML) for the adaptive recipes [default: the built-in table, the same as
    /// config/plan_table.toml].
    #[arg(long, value_name = "FILE.toml")]
    pub table: Option<PathBuf>,
    /// Learned CARD predictor (safetensors from `physedit card fit`) [default: the rule predictor].
    #[arg(long, value_name = "FILE.safetensors")]
    pub card: Option<PathBuf>,
}

impl PlannerArgs {
    /// The plan table and predictor these flags name; errors name the flag.
    pub fn planner(&self) -> Result<Planner> {
        use anyhow::Context;
        let table = match &self.table {
            Some(p) => PlanTable::from_file(p).context("--table")?,
            None => PlanTable::default(),
        };
        let predictor: Box<dyn Predictor> = match &self.card {
            Some(p) => Box::new(LearnedPredictor::load(p).context("--card")?),
            None => Box::new(RulePredictor),
        };
        Ok(Planner { table, predictor })
    }
}

/// Compute dtype of the transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DTypeArg {
    /// 32-bit float (the reference's precision on CPU).
    F32,
    /// 16-bit float.
    F16,
    /// bfloat16 (the 14B's dtype on GPUs).
    Bf16,
}

impl From<DTypeArg> for DType {
    fn from(d: DTypeArg) -> DType {
        match d {
            DTypeArg::F32 => DType::F32,
            DTypeArg::F16 => DType::F16,
            DTypeArg::Bf16 => DType::BF16,
        }
    }
}

/// Where and in which precision the model runs: `--dtype` and `--cpu`.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Compute dtype of the transformer (the encoders and the VAE compute in f32; the encoders keep
    /// their linear weights as stored).
    #[arg(long, value_enum, default_value_t = DTypeArg::F32)]
    pub dtype: DTypeArg,
    /// Run on the CPU even when the binary was built with `--features cuda` and a GPU is present.
    #[arg(long)]
    pub cpu: bool,
}

impl DeviceArgs {
    pub fn dtype(&self) -> DType {
        self.dtype.into()
    }

    /// The device to run on (see [`crate::device::select_device`]); prints the one-line notice
    /// when a CUDA build finds no usable GPU and falls back to the CPU.
    pub fn device(&self) -> Result<Device> {
        let (device, notice) = crate::device::select_device(self.cpu);
        if let Some(notice) = notice {
            eprintln!("{notice}");
        }
        Ok(device)
    }
}

/// Parses a count that must be at least 1 (`--steps`, `--n`, ...).
pub fn positive(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a finite number >= 0 (`--guidance`).
pub fn non_negative(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(v) => Err(format!("must be a finite number >= 0, got {v}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a finite number > 0 (`--flow-shift`).
pub fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("must be a finite number > 0, got {v}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a fraction in [0, 1] (`--cfg-tail`, `--region`).
pub fn fraction(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!("must be a fraction in [0, 1], got {v}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Single files that replace components of `--model`: `--transformer`, `--vae`, `--text-encoder`,
/// `--image-encoder`; all four with `--tokenizer` and no `--model` are the whole model (ComfyUI's
/// files; configurations read from the shapes).
#[derive(Args, Debug, Clone, Default)]
pub struct ComponentArgs {
    /// The transformer from one file instead of the model folder's: safetensors with diffusers' or
    /// the original Wan / ComfyUI key names (with or without `model.diffusion_model.`), plain or
    /// ComfyUI-scaled fp8 (kept fp8 in memory), or a GGUF (city96 / QuantStack, or `physedit
    /// quantize`; quantized Linear weights stay quantized). Its architecture, read from its shapes,
    /// must be the folder's.
    #[arg(long, value_name = "FILE")]
    pub transformer: Option<PathBuf>,
    /// The VAE from one safetensors file (diffusers key names, or the original Wan names of
    /// ComfyUI's `wan_2.1_vae.safetensors`).
    #[arg(long, value_name = "FILE")]
    pub vae: Option<PathBuf>,
    /// The umT5 text encoder from one safetensors file (transformers key names; bf16/f16 or
    /// ComfyUI's scaled fp8 linear weights kept as stored).
    #[arg(long, value_name = "FILE")]
    pub text_encoder: Option<PathBuf>,
    /// The CLIP image encoder from one safetensors file (transformers key names, with or without
    /// `vision_model.`, as ComfyUI's `clip_vision_h.safetensors`).
    #[arg(long, value_name = "FILE")]
    pub image_encoder: Option<PathBuf>,
    /// umT5's tokenizer (`tokenizer.json` or a folder holding it), for a model given as the four
    /// files above without `--model`.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
}

impl ComponentArgs {
    /// The files, each checked to exist (errors name the flag).
    pub fn files(&self) -> Result<crate::checkpoint::single_file::ComponentFiles> {
        for (flag, f) in [
            ("--transformer", &self.transformer),
            ("--vae", &self.vae),
            ("--text-encoder", &self.text_encoder),
            ("--image-encoder", &self.image_encoder),
            ("--tokenizer", &self.tokenizer),
        ] {
            if let Some(f) = f {
                if !(f.is_file() || flag == "--tokenizer" && f.is_dir()) {
                    anyhow::bail!("{flag} {}: no such file", f.display());
                }
            }
        }
        Ok(crate::checkpoint::single_file::ComponentFiles {
            transformer: self.transformer.clone(),
            vae: self.vae.clone(),
            text_encoder: self.text_encoder.clone(),
            image_encoder: self.image_encoder.clone(),
            tokenizer: self.tokenizer.clone(),
        })
    }
}
