//! `physedit quantize`: a model folder's transformer as one GGUF or scaled-fp8 file.
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::checkpoint::quantize::{quantize, QuantType};
use crate::checkpoint::PipelineFolder;

const EXAMPLES: &str = "Examples:
  # Q8_0 GGUF in city96's layout (ComfyUI-GGUF reads it; so does --transformer):
  physedit quantize --model ChronoEdit-14B-Diffusers --type q8_0 -o chronoedit-14b-Q8_0.gguf
  # The bundled world model at 4.5 bits per block weight (its rows fill Q4_0's 32-value blocks,
  # not Q4_K's 256), then an edit from it:
  physedit quantize --model models/physedit-world --type q4_0 -o world-Q4_0.gguf
  physedit edit --transformer world-Q4_0.gguf --image in.png --prompt \"...\" -o out.png
  # ComfyUI's scaled fp8 safetensors:
  physedit quantize --model DIR --type fp8 -o transformer_fp8_scaled.safetensors";

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct QuantizeArgs {
    /// Diffusers ChronoEdit pipeline folder (its `transformer` is written) [default: the bundled
    /// world model, models/physedit-world].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Storage of the block Linear weights (the rest as city96's convert.py keeps it).
    #[arg(long = "type", value_enum)]
    pub ty: QuantType,
    /// Output file (.gguf for q8_0/q4_k/q4_0, .safetensors for fp8); written under a temporary name and
    /// renamed when complete.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

pub fn run(args: QuantizeArgs) -> Result<()> {
    let model = crate::cli::args::model_or_bundled(args.model.as_deref())?;
    let folder = PipelineFolder::open(&model)?;
    let dir = folder.component("transformer")?;
    let want = match args.ty {
        QuantType::Fp8 => "safetensors",
        _ => "gguf",
    };
    let ext = args
        .output
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if ext != want {
        bail!(
            "-o {}: a {:?} file is a .{want} file",
            args.output.display(),
            args.ty
        );
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tensors {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    quantize(&dir, args.ty, &args.output, &mut |done, all, name| {
        bar.set_length(all as u64);
        bar.set_position(done as u64);
        bar.set_message(name.to_string());
    })?;
    bar.finish_and_clear();
    let bytes = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "wrote {} ({:.1} MB)",
        args.output.display(),
        bytes as f64 / 1e6
    );
    Ok(())
}
