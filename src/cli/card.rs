//! `physedit card`: fit or inspect the learned CARD predictor.
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::adaptive::learned::{read_examples, FitOptions, LearnedPredictor};

#[derive(Args, Debug)]
pub struct CardArgs {
    #[command(subcommand)]
    pub command: CardCommand,
}

#[derive(Subcommand, Debug)]
pub enum CardCommand {
    /// Fit a logistic-regression CARD model on JSON lines
    /// ({"prompt", "category", optional "text_embedding", optional "image_embedding"}).
    Fit {
        /// Training examples, JSON lines.
        #[arg(long, value_name = "FILE.jsonl")]
        data: PathBuf,
        /// The fitted model (safetensors), for `--card` of `plan`, `cost`, `edit` and `bench`.
        #[arg(short = 'o', long, value_name = "FILE.safetensors")]
        output: PathBuf,
        /// Full passes of gradient descent over the examples.
        #[arg(long, default_value_t = 300)]
        epochs: usize,
        /// Gradient-descent step size.
        #[arg(long, default_value_t = 0.5)]
        learning_rate: f32,
        /// L2 penalty on the weights.
        #[arg(long, default_value_t = 1e-3)]
        l2: f32,
    },
    /// Print a model's feature spec and training summary.
    Info {
        /// A model written by `physedit card fit`.
        file: PathBuf,
    },
}

pub fn run(args: CardArgs) -> anyhow::Result<()> {
    match args.command {
        CardCommand::Fit {
            data,
            output,
            epochs,
            learning_rate,
            l2,
        } => {
            let examples = read_examples(&data)?;
            let model = LearnedPredictor::fit(
                &examples,
                FitOptions {
                    epochs,
                    learning_rate,
                    l2,
                },
            )?;
            model.save(&output, examples.len())?;
            eprintln!(
                "fitted on {} examples ({} features: {} rule, {} text, {} image); training accuracy {:.1}%; wrote {}",
                examples.len(),
                model.spec.len(),
                model.spec.rule_features.len(),
                model.spec.text_embedding,
                model.spec.image_embedding,
                100.0 * model.train_accuracy,
                output.display()
            );
            Ok(())
        }
        CardCommand::Info { file } => {
            let m = LearnedPredictor::load(&file)?;
            println!(
                "{}",
                serde_json::json!({
                    "file": file.display().to_string(),
                    "feature_spec": m.spec,
                    "features": m.spec.len(),
                    "train_accuracy": m.train_accuracy,
                })
            );
            Ok(())
        }
    }
}
