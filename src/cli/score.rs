//! `physedit score`: CLIP-T / CLIP-I of edited images over an ImgEdit-format suite.
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::eval::clip_score::{score_suite, summarize, write_jsonl, ClipEmbedder, ProgressEvent};
use crate::suite::Suite;

#[derive(Args, Debug)]
#[command(
    after_help = "For every suite key with EDITED/<key>.png, writes one JSON line
{key, edit_type, clip_t, clip_i} (raw cosines of CLIP embeddings: edited image vs prompt, edited image
vs source image ROOT/<id>). Malformed entries and unreadable images give a line with an `error` field;
the other cases are still scored. Prints mean scores per edit_type and overall.

Examples:
  physedit score --suite data/world/test/suite.json --images data/world/test --edited out/edited \\
      --clip models/clip-vit-base-patch32
  physedit score --suite imgedit/singleturn.json --images imgedit/images --edited out/imgedit \\
      --clip models/clip-vit-large-patch14 -o out/imgedit_clip.jsonl"
)]
pub struct ScoreArgs {
    /// Suite file in ImgEdit format: {key: {"id": source path under --images, "prompt", "edit_type"}}.
    #[arg(long)]
    pub suite: PathBuf,
    /// Root folder of the source images (the suite's ids are relative to it).
    #[arg(long)]
    pub images: PathBuf,
    /// Folder of edited images named <key>.png.
    #[arg(long)]
    pub edited: PathBuf,
    /// CLIPModel folder (config.json, model.safetensors, tokenizer.json, preprocessor_config.json),
    /// or its Hugging Face id ORG/NAME[@REVISION] (hub cache, fetched when missing).
    #[arg(long, value_name = "DIR|ORG/NAME[@REV]")]
    pub clip: PathBuf,
    /// Output JSON-lines file [default: EDITED/clip_scores.jsonl].
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let suite = Suite::from_file(&args.suite)?;
    if !args.images.is_dir() {
        bail!("--images {} is not a folder", args.images.display());
    }
    if !args.edited.is_dir() {
        bail!("--edited {} is not a folder", args.edited.display());
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.edited.join("clip_scores.jsonl"));
    let clip_dir = crate::cli::args::model_folder("--clip", &args.clip)?;
    let model = ClipEmbedder::load(&clip_dir)
        .with_context(|| format!("loading the CLIP model (--clip {})", args.clip.display()))?;

    let pb = ProgressBar::new(0);
    if let Ok(st) =
        ProgressStyle::with_template("scoring [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
    {
        pb.set_style(st.progress_chars("=> "));
    }
    let scores = score_suite(&model, &suite, &args.images, &args.edited, |ev| match ev {
        ProgressEvent::Start(n) => pb.set_length(n as u64),
        ProgressEvent::Done => pb.inc(1),
    });
    pb.finish_and_clear();

    write_jsonl(&out, &scores.records)?;
    let summary = summarize(&scores.records);
    print!("{summary}");
    let failed: Vec<_> = scores
        .records
        .iter()
        .filter(|r| r.error.is_some())
        .collect();
    for r in failed.iter().take(10) {
        eprintln!(
            "case {:?}: {}",
            r.key,
            r.error.as_deref().unwrap_or_default()
        );
    }
    if failed.len() > 10 {
        eprintln!("... and {} more errors", failed.len() - 10);
    }
    eprintln!(
        "{} scored, {} errors, {} without an edited image; wrote {}",
        summary.overall.n,
        failed.len(),
        scores.skipped.len(),
        out.display()
    );
    if summary.overall.n == 0 {
        bail!(
            "no case could be scored (suite {}, edited images in {})",
            args.suite.display(),
            args.edited.display()
        );
    }
    Ok(())
}
