//! `physedit bench`: recipes over an ImgEdit-format suite, resumable and shardable, with reports.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::adaptive::plan::Variant;
use crate::checkpoint::lora::LoraSpec;
use crate::cli::args::{non_negative, positive, ComponentArgs, DeviceArgs, PlannerArgs};
use crate::eval::bench::{
    latest_per_pair, merge_outputs, read_results, run_bench, BenchEvent, BenchMeta, BenchOptions,
    BenchRecord, BenchRun, Selection, Shard, RESULTS_FILE,
};
use crate::eval::clip_score::ClipEmbedder;
use crate::eval::report::{build_report, write_report, Report};
use crate::pipeline::chronoedit::{ChronoEditPipeline, LoadOptions};
use crate::suite::Suite;

const HELP: &str = "\
Writes OUT/<recipe>/<key>.png for every case and recipe and appends one JSON line per finished pair
to OUT/results.jsonl: {key, recipe, edit_type, seconds, reasoning_steps, reasoning_frames, steps,
mask_coverage, forwards, token_forwards, cached_steps, clip_t, clip_i} (CLIP fields with --clip;
fidelity_psnr (\"inf\" when identical) and fidelity_ssim with --fidelity-to; `error` when the case could not run: a
malformed suite entry, a missing or unreadable image, a failed edit; srm_planned/srm_applied say
whether the plan asked for the spatial reasoning mask and whether it ran). Then writes
OUT/report.md, report.json, report.csv, speedup.png and clip_t_vs_seconds.png (with text when a
TrueType font is found, PHYSEDIT_PLOT_FONT=FILE to choose one; without text otherwise).

Rerunning the same command resumes: pairs with a line are skipped (--retry-errors reruns failed ones).
A kill loses at most the pair in flight. One run at a time per OUT (OUT/.bench.lock). Timing excludes model loading; every recipe is warmed up
first and recipes are interleaved case by case. seconds = one edit from input image to edited image
in host memory.

--steps/--height/--width/--guidance override the recipes' plans (e.g. for tiny test models): with
--steps S a plan's reasoning steps N_r become round(N_r * S / plan steps) (at least 1), keeping
their share, exactly as `physedit edit --steps` does. Without --guidance the model folder's
physedit.json guidance and native resolution apply, as in `edit`.

--shard i/n runs entries i, i+n, i+2n, ... of the suite (after --categories and --limit), so one
suite can be spread over machines; `physedit bench merge` joins the outputs.

Examples:
  physedit bench --suite data/world/test/suite.json --images data/world/test --model MODEL \\
      --out out/bench --recipes chronoedit-reasoning,physedit,card-only --clip models/clip
  physedit bench ... --shard 0/4 --out out/shard0     (and 1/4, 2/4, 3/4 elsewhere)
  physedit bench merge out/shard0 out/shard1 out/shard2 out/shard3 -o out/bench
  physedit bench report out/bench --baseline chronoedit-reasoning
  # accelerations side by side, each picture's fidelity (PSNR / SSIM) to the exact plan's:
  physedit bench ... --recipes chronoedit-reasoning,physedit,physedit+cache=0.1,physedit-fast \
      --fidelity-to physedit";

#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = HELP
)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub action: Option<BenchAction>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum BenchAction {
    /// Join the output folders of shards (images, result lines) and write the report.
    Merge(MergeArgs),
    /// Regenerate the report of an output folder from its results.jsonl.
    Report(ReportArgs),
    /// The speed-fidelity frontier of a run: table (OUT/frontier.md, .json) and plot.
    #[command(after_help = FRONTIER_HELP)]
    Frontier(FrontierArgs),
}

const FRONTIER_HELP: &str = "\
Reads OUT/results.jsonl of a run made with --fidelity-to EXACT and, for every recipe: its speed
against EXACT and against the baselines present (chronoedit-reasoning, comfy-template,
chronoedit-distill), paired by case with 95 % bootstrap intervals; its fidelity to EXACT's
pictures (mean PSNR with its interval, and the worst case); with --world-suite, `physedit world
eval`'s success, untouched-kept and PSNR outside the edit on OUT/<recipe>/. A recipe is on the
frontier when no other is both at least as fast and at least as faithful (strictly better in one).
Writes OUT/frontier.md, OUT/frontier.json and the plot (OUT/frontier.png or --plot FILE), and
names the fastest recipe at >= 30 dB mean fidelity (worst >= 25 dB) whose world success and kept
are not below --reference's.

Example:
  physedit bench --suite S/suite.json --images S --model MODEL --out OUT --fidelity-to physedit \\
      --recipes chronoedit-reasoning,comfy-template,physedit,physedit-fast,physedit+fbcache=0.1
  physedit bench frontier OUT --world-suite S --plot docs/frontier.png";

#[derive(Args, Debug)]
pub struct FrontierArgs {
    /// Output folder of a bench run (with results.jsonl).
    pub out: PathBuf,
    /// The exact recipe the fidelity was measured against [default: the run's --fidelity-to].
    #[arg(long)]
    pub exact: Option<String>,
    /// World suite folder (cases.jsonl, targets/, masks/) to score every recipe's pictures on.
    #[arg(long)]
    pub world_suite: Option<PathBuf>,
    /// Recipe whose world success and kept counts the goal must not fall below.
    #[arg(long, default_value = "chronoedit-reasoning")]
    pub reference: String,
    /// Where to write the plot [default: OUT/frontier.png].
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Suite file in ImgEdit format: {key: {"id": source path under --images, "prompt", "edit_type"}}.
    #[arg(long, required = true)]
    pub suite: Option<PathBuf>,
    /// Root folder of the source images.
    #[arg(long, required = true)]
    pub images: Option<PathBuf>,
    /// Diffusers ChronoEdit pipeline: a folder or a Hugging Face id ORG/NAME[@REVISION] (hub cache,
    /// fetched when missing; HF_HUB_OFFLINE=1: cache only).
    #[arg(long, required = true, value_name = "DIR|ORG/NAME[@REV]")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub components: ComponentArgs,
    /// Output folder (created; reused to resume).
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// Comma-separated recipes to run side by side; a recipe may add accelerations with `+`:
    /// `physedit+cache=0.1`, `physedit+cfgtail=0.2`, `physedit+rpfi[=RELAX]`, `physedit+magcache=0.05`,
    /// `physedit+teacache=0.2`, `physedit+fbcache=0.1`, `physedit+reasoncache=2`, `physedit+region=0.3`;
    /// the schedule with `+steps=N`, `+solver=unipc3|dpm3|...` and `+shift=S`.
    #[arg(long, value_delimiter = ',', default_value = "chronoedit-reasoning,physedit", value_parser = parse_variant)]
    pub recipes: Vec<Variant>,
    /// Recipe the speedups are measured against [default: the first of --recipes].
    #[arg(long, value_parser = parse_variant)]
    pub baseline: Option<Variant>,
    /// Also measure every picture's PSNR / SSIM against this recipe's picture of the same case and
    /// seed (one of --recipes; e.g. the exact `physedit` plan for its approximations).
    #[arg(long, value_parser = parse_variant, value_name = "RECIPE")]
    pub fidelity_to: Option<Variant>,
    #[command(flatten)]
    pub planner: PlannerArgs,
    /// CLIPModel folder or Hugging Face id (e.g. openai/clip-vit-base-patch32): score every edit
    /// (CLIP-T, CLIP-I) as `physedit score` does.
    #[arg(long, value_name = "DIR|ORG/NAME[@REV]")]
    pub clip: Option<PathBuf>,
    /// Run only the first N suite entries (after --categories).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Comma-separated edit types to run (e.g. add,remove).
    #[arg(long)]
    pub categories: Option<String>,
    /// i/n: run this process's share of the suite.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Denoising steps instead of the plans' (N_r keeps its share of the steps, as in `edit`).
    #[arg(long, value_parser = positive)]
    pub steps: Option<usize>,
    /// Working height instead of the model's native resolution or the input's aspect (as in `edit`).
    #[arg(long)]
    pub height: Option<usize>,
    /// Working width (as for --height).
    #[arg(long)]
    pub width: Option<usize>,
    /// CFG scale instead of the plans' (and of the model folder's physedit.json).
    #[arg(long, value_parser = non_negative)]
    pub guidance: Option<f64>,
    /// Negative prompt of the unconditional CFG branch.
    #[arg(long, default_value = "")]
    pub negative_prompt: String,
    /// Base seed of the initial noise (each case's is derived from it and its key).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Keep only the module in use on the device, as `physedit edit --offload`.
    #[arg(long)]
    pub offload: bool,
    /// LoRA fused into the transformer at load, FILE[:SCALE] (scale 1 by default); repeatable.
    /// The distilled recipes need ChronoEdit's distillation LoRA.
    #[arg(long, value_name = "FILE[:SCALE]")]
    pub lora: Vec<LoraSpec>,
    /// Steps of the untimed warm-up edit per recipe (0: none).
    #[arg(long, default_value_t = 2)]
    pub warmup_steps: usize,
    /// Rerun pairs whose line records an error.
    #[arg(long)]
    pub retry_errors: bool,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Output folders of the shards.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Merged output folder.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
    /// Baseline recipe of the report [default: as the runs had it].
    #[arg(long)]
    pub baseline: Option<String>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Output folder of a bench run (with results.jsonl).
    pub out: PathBuf,
    /// Baseline recipe [default: as the run had it].
    #[arg(long)]
    pub baseline: Option<String>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.action {
        Some(BenchAction::Merge(m)) => merge(m),
        Some(BenchAction::Report(r)) => report(&r.out, r.baseline.as_deref()).map(|_| ()),
        Some(BenchAction::Frontier(f)) => frontier(f),
        None => run_suite(args.run),
    }
}

fn run_suite(a: RunArgs) -> Result<()> {
    let need = |v: Option<PathBuf>, flag: &str| v.with_context(|| format!("{flag} is required"));
    let suite_path = need(a.suite, "--suite")?;
    let images = need(a.images, "--images")?;
    let model = super::args::model_folder("--model", &need(a.model, "--model")?)?;
    let out = need(a.out, "--out")?;
    let recipes = a.recipes.clone();
    for (i, r) in recipes.iter().enumerate() {
        if recipes[..i].contains(r) {
            bail!("--recipes: {r} is listed twice");
        }
    }
    let Some(&first) = recipes.first() else {
        bail!("--recipes is empty");
    };
    let baseline = a.baseline.unwrap_or(first);
    if !recipes.contains(&baseline) {
        bail!("--baseline {baseline} is not one of --recipes");
    }
    if let Some(f) = &a.fidelity_to {
        if !recipes.contains(f) {
            bail!("--fidelity-to {f} is not one of --recipes");
        }
    }
    let planner = a.planner.planner()?;
    let dtype = a.device.dtype();
    let suite = Suite::from_file(&suite_path)?;
    if !images.is_dir() {
        bail!("--images {} is not a folder", images.display());
    }
    let options = BenchOptions {
        steps: a.steps,
        height: a.height,
        width: a.width,
        guidance: a.guidance,
        negative_prompt: a.negative_prompt.clone(),
        seed: a.seed,
    };
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the output folder {}", out.display()))?;
    let names: Vec<String> = recipes.iter().map(|r| r.name()).collect();
    let mut meta = BenchMeta {
        suite: suite_path.display().to_string(),
        images: images.display().to_string(),
        model: model.display().to_string(),
        recipes: names.clone(),
        baseline: baseline.name(),
        options: options.clone(),
        clip: a.clip.as_ref().map(|p| p.display().to_string()),
        fidelity_to: a.fidelity_to.map(|f| f.name()),
    };
    if let Some(prev) = BenchMeta::read(&out)? {
        if prev.options != meta.options {
            bail!(
                "{} holds a run with other options ({:?}); use another --out to compare settings",
                out.display(),
                prev.options
            );
        }
        // Keep earlier recipes in the report, in their order.
        let mut all = prev.recipes.clone();
        for n in &names {
            if !all.contains(n) {
                all.push(n.clone());
            }
        }
        meta.recipes = all;
    }
    meta.write(&out)?;

    let device = a.device.device()?;
    let pipe = ChronoEditPipeline::load(
        &model,
        &LoadOptions {
            dtype,
            device,
            loras: a.lora.clone(),
            offload: a.offload,
            files: a.components.files()?,
        },
    )
    .with_context(|| format!("loading the pipeline (--model {})", model.display()))?;
    let clip = match &a.clip {
        Some(p) => Some(
            ClipEmbedder::load(&super::args::model_folder("--clip", p)?)
                .with_context(|| format!("loading the CLIP model (--clip {})", p.display()))?,
        ),
        None => None,
    };
    let selection = Selection {
        categories: a.categories.as_ref().map(|c| {
            c.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }),
        limit: a.limit,
        shard: a.shard,
    };
    // Checked before the run so that the error names the flag.
    crate::eval::bench::select(&suite, &selection).context("--categories")?;
    let run = BenchRun {
        suite: &suite,
        images_root: &images,
        out: &out,
        recipes: &recipes,
        fidelity_to: a.fidelity_to,
        selection,
        options,
        planner: &planner,
        warmup_steps: a.warmup_steps,
        retry_errors: a.retry_errors,
    };
    let pb = ProgressBar::new(0);
    if let Ok(st) = ProgressStyle::with_template(
        "bench [{bar:40}] {pos}/{len} pairs [{elapsed_precise} < eta {eta_precise}] {msg}",
    ) {
        pb.set_style(st.progress_chars("=> "));
    }
    let summary = run_bench(&pipe, clip.as_ref(), &run, |ev| match ev {
        BenchEvent::Start { pending, done } => {
            pb.set_length(pending as u64);
            if done > 0 {
                pb.println(format!("resuming: {done} pairs already done"));
            }
        }
        BenchEvent::WarmUp(r) => pb.set_message(format!("warm-up {r}")),
        BenchEvent::Finished(rec) => {
            pb.set_message(format!("{} / {}", rec.key, rec.recipe));
            pb.inc(1);
        }
    });
    pb.finish_and_clear();
    let summary = summary?;
    eprintln!(
        "{} pairs run ({} with errors), {} already done; results in {}",
        summary.ran,
        summary.errors,
        summary.skipped,
        out.join(RESULTS_FILE).display()
    );
    report(&out, None).map(|_| ())
}

/// Writes the report of `out` and prints its overall table.
fn report(out: &Path, baseline: Option<&str>) -> Result<Report> {
    let path = out.join(RESULTS_FILE);
    if !path.is_file() {
        bail!("{} has no {RESULTS_FILE}", out.display());
    }
    let records: Vec<BenchRecord> = latest_per_pair(&read_results(&path)?);
    if records.is_empty() {
        bail!("{} has no finished pairs", path.display());
    }
    let meta = BenchMeta::read(out)?;
    let recipes: Vec<String> = meta.as_ref().map(|m| m.recipes.clone()).unwrap_or_default();
    let baseline = match baseline {
        Some(b) => b.parse::<Variant>().context("--baseline")?.name(),
        None => match &meta {
            Some(m) => m.baseline.clone(),
            None => records[0].recipe.clone(),
        },
    };
    let rep = build_report(&records, &recipes, &baseline)?;
    let files = write_report(out, &rep, &records)?;
    let overall = rep.overall();
    println!("overall (baseline {}):", rep.baseline);
    println!(
        "{:<22} {:>5} {:>6} {:>10} {:>24} {:>10} {:>10}",
        "recipe", "n", "errors", "mean s", "speedup [95% CI]", "CLIP-T", "CLIP-I"
    );
    for r in &overall.recipes {
        let sp = r
            .speedup
            .map(|s| format!("{:.2} [{:.2}, {:.2}]", s.value, s.lo, s.hi))
            .unwrap_or_else(|| "-".into());
        let f =
            |v: Option<f64>, p: usize| v.map(|x| format!("{x:.p$}")).unwrap_or_else(|| "-".into());
        println!(
            "{:<22} {:>5} {:>6} {:>10} {:>24} {:>10} {:>10}",
            r.recipe,
            r.n,
            r.errors,
            f(r.mean_seconds, 3),
            sp,
            f(r.clip_t.map(|c| c.value), 4),
            f(r.clip_i.map(|c| c.value), 4)
        );
    }
    eprintln!(
        "wrote {}",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(rep)
}

fn parse_variant(s: &str) -> std::result::Result<Variant, String> {
    s.parse::<Variant>().map_err(|e| format!("{e:#}"))
}

fn frontier(f: FrontierArgs) -> Result<()> {
    use crate::eval::frontier::{build_frontier, goal, plot, to_markdown};
    let path = f.out.join(RESULTS_FILE);
    if !path.is_file() {
        bail!("{} has no {RESULTS_FILE}", f.out.display());
    }
    let records: Vec<BenchRecord> = latest_per_pair(&read_results(&path)?);
    let meta = BenchMeta::read(&f.out)?;
    let mut recipes: Vec<String> = meta.as_ref().map(|m| m.recipes.clone()).unwrap_or_default();
    for r in &records {
        if !recipes.contains(&r.recipe) {
            recipes.push(r.recipe.clone());
        }
    }
    let exact = match (&f.exact, meta.as_ref().and_then(|m| m.fidelity_to.clone())) {
        (Some(e), _) => e.parse::<Variant>().context("--exact")?.name(),
        (None, Some(e)) => e,
        (None, None) => bail!(
            "{} was run without --fidelity-to: give --exact RECIPE (and rerun with --fidelity-to)",
            f.out.display()
        ),
    };
    let mut world = std::collections::HashMap::new();
    if let Some(suite) = &f.world_suite {
        let cases = crate::world::io::load_suite(suite)
            .with_context(|| format!("--world-suite {}", suite.display()))?;
        let pb = ProgressBar::new((cases.len() * recipes.len()) as u64);
        pb.set_style(
            ProgressStyle::with_template("world eval {bar:30} {pos}/{len} {msg}")
                .expect("static template"),
        );
        for r in &recipes {
            let dir = f.out.join(r);
            if !dir.is_dir() {
                pb.inc(cases.len() as u64);
                continue;
            }
            pb.set_message(r.clone());
            let rows = crate::world::evaluate::eval_suite(suite, &cases, &dir, None, Some(&pb))?;
            world.insert(r.clone(), rows);
        }
        pb.finish_and_clear();
    }
    let rows = build_frontier(&records, &recipes, &exact, &world)?;
    let g = goal(&rows, &f.reference);
    let md = to_markdown(&rows, &exact, &g);
    crate::util::write_atomic(&f.out.join("frontier.md"), md.as_bytes())?;
    let json = serde_json::to_string_pretty(
        &serde_json::json!({ "exact": exact, "rows": rows, "goal": g }),
    )?;
    crate::util::write_atomic(&f.out.join("frontier.json"), json.as_bytes())?;
    let plot_path = f.plot.clone().unwrap_or_else(|| f.out.join("frontier.png"));
    plot(&plot_path, &rows, &exact)?;
    print!("{md}");
    eprintln!(
        "wrote {}, {} and {}",
        f.out.join("frontier.md").display(),
        f.out.join("frontier.json").display(),
        plot_path.display()
    );
    Ok(())
}

fn merge(m: MergeArgs) -> Result<()> {
    let (records, duplicates) = merge_outputs(&m.inputs, &m.out)?;
    for d in duplicates.iter().take(10) {
        eprintln!(
            "note: pair finished in more than one input (the later input's line is kept): {d}"
        );
    }
    if duplicates.len() > 10 {
        eprintln!(
            "... and {} more pairs in several inputs",
            duplicates.len() - 10
        );
    }
    eprintln!(
        "merged {} folders: {} pairs into {}",
        m.inputs.len(),
        records.len(),
        m.out.display()
    );
    report(&m.out, m.baseline.as_deref()).map(|_| ())
}
