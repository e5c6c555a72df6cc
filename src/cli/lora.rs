//! `physedit lora inspect FILE [--model M]`: what a LoRA file holds and whether it fits a model.
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use crate::checkpoint::lora::{checkpoint_shapes, inspect, read_lora_file};
use crate::checkpoint::PipelineFolder;

#[derive(Args, Debug)]
pub struct LoraArgs {
    #[command(subcommand)]
    pub command: LoraCommand,
}

#[derive(Subcommand, Debug)]
pub enum LoraCommand {
    /// Explain a LoRA file: the detected layout, ranks, alphas, the layers it touches (by block and
    /// kind), what is applied and what is skipped and why; with --model, whether it fits that model.
    /// Exits non-zero when the file cannot be read or does not fit the model.
    #[command(after_help = "Examples:\n  \
        physedit lora inspect loras/lightx2v_distill.safetensors\n  \
        physedit lora inspect style.safetensors --model ChronoEdit-14B-Diffusers")]
    Inspect {
        /// A LoRA file (safetensors) in any layout `edit --lora` reads.
        file: PathBuf,
        /// A pipeline folder (with model_index.json) or a transformer folder to check the LoRA against.
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
    },
}

/// The transformer folder of `model`: its `transformer` component, or the folder itself.
fn transformer_dir(model: &Path) -> Result<PathBuf> {
    if model.join("model_index.json").is_file() {
        return PipelineFolder::open(model)?.component("transformer");
    }
    if !model.is_dir() {
        bail!(
            "--model {}: expected a pipeline folder or a transformer folder",
            model.display()
        );
    }
    Ok(model.to_path_buf())
}

pub fn run(args: LoraArgs) -> Result<()> {
    match args.command {
        LoraCommand::Inspect { file, model } => {
            let lora = read_lora_file(&file)?;
            let (text, fits) = match &model {
                None => inspect::report(&lora, None),
                Some(m) => {
                    let dir = transformer_dir(m)?;
                    let shapes = checkpoint_shapes(&dir)?;
                    let shape_of = |name: &str| shapes.get(name).cloned();
                    inspect::report(&lora, Some((&m.display().to_string(), &shape_of)))
                }
            };
            print!("{text}");
            if !fits {
                bail!(
                    "{} does not fit the model in {}",
                    file.display(),
                    model.unwrap().display()
                );
            }
            Ok(())
        }
    }
}
