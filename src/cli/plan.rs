//! `physedit plan`: CARD plans without running a model.
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::cli::args::PlannerArgs;
use serde::Deserialize;

use crate::adaptive::card::{CardInput, ImageCues, Tier};
use crate::adaptive::plan::{Plan, Recipe};
use crate::category::Category;
use crate::eval::confusion::Confusion;
use crate::suite::load_suite;

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// One instruction: print its plan as one JSON object.
    #[arg(long, conflicts_with_all = ["input", "suite"])]
    pub prompt: Option<String>,
    /// Reference image for --prompt (image cues).
    #[arg(long, requires = "prompt")]
    pub image: Option<PathBuf>,
    /// JSON lines, one {"prompt": ..., "image"?: ..., "category"?: ...} per line; one JSON line out per
    /// input. When lines carry "category", accuracy and a confusion matrix go to stderr.
    #[arg(long, conflicts_with = "suite")]
    pub input: Option<PathBuf>,
    /// An ImgEdit suite file (key -> {id, prompt, edit_type}); adds key and edit_type to each line and
    /// prints a confusion matrix and accuracy to stderr.
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// Recipe to plan.
    #[arg(long, value_enum, default_value_t = Recipe::Physedit)]
    pub recipe: Recipe,
    #[command(flatten)]
    pub planner: PlannerArgs,
    /// SRM mask coverage to pass as an image cue (fraction of reasoning-frame tokens kept).
    #[arg(long)]
    pub mask_coverage: Option<f32>,
}

#[derive(Deserialize)]
struct InputLine {
    prompt: String,
    #[serde(default)]
    image: Option<PathBuf>,
    #[serde(default, alias = "edit_type")]
    category: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

#[derive(serde::Serialize)]
struct OutLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    edit_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truth: Option<&'a str>,
    prompt: &'a str,
    #[serde(flatten)]
    plan: &'a Plan,
    num_frames: usize,
}

fn plan_json(
    plan: &Plan,
    prompt: &str,
    key: Option<&str>,
    edit_type: Option<&str>,
    truth: Option<&str>,
) -> anyhow::Result<String> {
    let line = OutLine {
        key,
        edit_type,
        truth,
        prompt,
        plan,
        num_frames: plan.num_frames(),
    };
    Ok(serde_json::to_string(&line)?)
}

fn summary(tiers: &[usize; 3], n: usize, secs: f64, conf: Option<&Confusion>) {
    let mut err = std::io::stderr().lock();
    if let Some(c) = conf {
        let _ = write!(err, "{}", c.render());
    }
    let _ = writeln!(
        err,
        "tiers: low {} ({:.1}%), mid {} ({:.1}%), high {} ({:.1}%)",
        tiers[0],
        100.0 * tiers[0] as f64 / n.max(1) as f64,
        tiers[1],
        100.0 * tiers[1] as f64 / n.max(1) as f64,
        tiers[2],
        100.0 * tiers[2] as f64 / n.max(1) as f64
    );
    let _ = writeln!(
        err,
        "planned {n} prompts in {:.3} s ({:.0} prompts/s)",
        secs,
        n as f64 / secs.max(1e-9)
    );
}

fn tier_slot(t: Tier) -> usize {
    match t {
        Tier::Low => 0,
        Tier::Mid => 1,
        Tier::High => 2,
    }
}

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let (recipe, planner) = (args.recipe, args.planner.planner()?);
    let cue = |path: &Option<PathBuf>| -> anyhow::Result<Option<ImageCues>> {
        let c = match path {
            Some(p) => Some(ImageCues::from_file(p)?),
            None => None,
        };
        Ok(match (c, args.mask_coverage) {
            (Some(c), Some(m)) => Some(c.with_mask_coverage(m)),
            (c, _) => c,
        })
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if let Some(prompt) = &args.prompt {
        let img = cue(&args.image)?;
        let input = CardInput {
            prompt,
            image: img.as_ref(),
            ..Default::default()
        };
        let plan = planner.plan(recipe, &input)?;
        writeln!(out, "{}", plan_json(&plan, prompt, None, None, None)?)?;
        return Ok(());
    }
    let start = Instant::now();
    let mut tiers = [0usize; 3];
    let mut conf = Confusion::default();
    let mut labelled = 0usize;
    let mut n = 0usize;
    if let Some(path) = &args.suite {
        let cases = load_suite(path)?;
        for c in &cases {
            let plan = planner.plan(recipe, &CardInput::new(&c.prompt))?;
            conf.add(c.edit_type, plan.category);
            tiers[tier_slot(plan.tier)] += 1;
            n += 1;
            let line = plan_json(
                &plan,
                &c.prompt,
                Some(&c.key),
                Some(c.edit_type.name()),
                None,
            )?;
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        summary(&tiers, n, start.elapsed().as_secs_f64(), Some(&conf));
        return Ok(());
    }
    if let Some(path) = &args.input {
        let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line =
                line.with_context(|| format!("reading {} line {}", path.display(), i + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let l: InputLine = serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", path.display(), i + 1))?;
            let img =
                cue(&l.image).with_context(|| format!("{} line {}", path.display(), i + 1))?;
            let input = CardInput {
                prompt: &l.prompt,
                image: img.as_ref(),
                ..Default::default()
            };
            let plan = planner
                .plan(recipe, &input)
                .with_context(|| format!("{} line {}", path.display(), i + 1))?;
            tiers[tier_slot(plan.tier)] += 1;
            n += 1;
            let mut truth_name = None;
            if let Some(c) = &l.category {
                let truth: Category = c
                    .parse()
                    .with_context(|| format!("{} line {}", path.display(), i + 1))?;
                conf.add(truth, plan.category);
                labelled += 1;
                truth_name = Some(truth.name());
            }
            let line = plan_json(&plan, &l.prompt, l.key.as_deref(), None, truth_name)?;
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        summary(
            &tiers,
            n,
            start.elapsed().as_secs_f64(),
            (labelled > 0).then_some(&conf),
        );
        return Ok(());
    }
    anyhow::bail!("give --prompt, --input or --suite")
}
