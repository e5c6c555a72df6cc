//! `physedit bench`: runs recipes over an ImgEdit-format suite, case by case, and records one JSON
//! line per finished (case, recipe) pair.
//!
//! Layout of an output folder `OUT`:
//! * `OUT/<recipe>/<key>.png`: the edited images (the naming ImgEdit's scorer reads);
//! * `OUT/results.jsonl`: one [`BenchRecord`] per finished pair, appended as whole, flushed lines;
//! * `OUT/bench.json`: the run's configuration ([`BenchMeta`]: recipe order, baseline, options);
//! * `OUT/report.{md,json,csv}` and plots, written by [`super::report`].
//!
//! Robustness: an image is written to a temporary file and renamed into place before its line is
//! appended, so a kill at any moment loses at most the pair in flight; a torn last line (no final
//! newline) is ignored on reading and cut off before the next append. Rerunning skips every pair
//! that already has a line.
//!
//! Timing: the model is loaded once and not timed; a warm-up edit per recipe runs first; recipes are
//! interleaved case by case (in an order rotated per case) so drift of the machine hits all recipes
//! alike. `seconds` is the wall time of one edit, from the input image to the edited image in host
//! memory (encode, denoise, decode, copy back); writing the PNG and CLIP scoring are not included.
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use image::{DynamicImage, RgbImage};
use serde::{Deserialize, Serialize};

use super::clip_score::ClipScorer;
use crate::adaptive::card::{CardInput, ImageCues};
use crate::adaptive::plan::{Overrides, Plan, Planner, Resolved, Variant, VideoGeometry};
use crate::adaptive::srm::SrmConfig;
use crate::category::Category;
use crate::eval::clip_score::ClipEmbedder;
use crate::pipeline::chronoedit::{AdaptiveOptions, ChronoEditPipeline, EditRequest, EditSize};
use crate::suite::{Suite, SuiteCase, SuiteEntry};
use crate::util::{atomic_write, open_image, save_png_atomic, tensor_to_rgb, write_atomic};

/// File names inside an output folder.
pub const RESULTS_FILE: &str = "results.jsonl";
pub const META_FILE: &str = "bench.json";

/// Overrides of the planned edit (all optional; the plan's values otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchOptions {
    /// Denoising steps instead of the plan's; N_r keeps its share of the steps
    /// ([`crate::adaptive::plan::scale_reasoning_steps`]).
    pub steps: Option<usize>,
    /// Output size instead of the input's aspect at its own area.
    pub height: Option<usize>,
    pub width: Option<usize>,
    /// CFG scale instead of the plan's.
    pub guidance: Option<f64>,
    #[serde(default)]
    pub negative_prompt: String,
    /// Base seed; each case's noise is drawn from `seed` and its key (the same for every recipe).
    #[serde(default)]
    pub seed: u64,
}

/// What one recipe produced for one case.
pub struct RecipeOutcome {
    pub edited: RgbImage,
    /// Wall time of the edit (see the module documentation).
    pub seconds: f64,
    /// The plan as executed (after overrides).
    pub plan: Plan,
    /// Fraction of reasoning-frame tokens the spatial reasoning mask keeps (None without SRM).
    pub mask_coverage: Option<f64>,
    /// Whether the spatial reasoning mask was applied (a plan may ask for it before the pipeline
    /// executes it).
    pub srm_applied: bool,
    /// Transformer forwards whose blocks ran, and the tokens they computed (Σ tokens × forwards).
    pub forwards: usize,
    pub token_forwards: u64,
    /// Steps where the step cache reused a residual.
    pub cached_steps: usize,
    /// Per step: tokens of one forward, forwards whose blocks ran.
    pub step_tokens: Vec<usize>,
    pub step_forwards: Vec<usize>,
    /// Per step: forwards in which only the first block ran (first-block caching).
    pub step_head_forwards: Vec<usize>,
}

impl BenchOptions {
    /// The plan overrides these options give (`--steps`, `--guidance`, the latter falling back to
    /// the model's recommended `default_guidance` as `physedit edit` does).
    pub fn overrides(&self, default_guidance: Option<f64>) -> Overrides {
        Overrides {
            steps: self.steps,
            guidance: self.guidance.or(default_guidance).map(|g| g as f32),
            ..Default::default()
        }
    }
}

/// The plan of `recipe` for `prompt` with the overrides of `opts` applied (see
/// [`crate::adaptive::plan::resolve`]); `default_guidance` is the model's recommended CFG scale.
pub fn bench_plan(
    planner: &Planner,
    image: &DynamicImage,
    prompt: &str,
    variant: &Variant,
    opts: &BenchOptions,
    (geometry, default_guidance): (VideoGeometry, Option<f64>),
) -> Result<Resolved> {
    let rgb = image.to_rgb8();
    let cues = ImageCues::from_rgb(rgb.width(), rgb.height(), rgb.as_raw());
    let input = CardInput {
        image: Some(&cues),
        ..CardInput::new(prompt)
    };
    let mut overrides = Overrides {
        accel: variant.accel,
        ..opts.overrides(variant.recipe.model_guidance(default_guidance))
    };
    overrides.steps = variant.steps.or(overrides.steps);
    let (_, resolved) = planner.resolve(variant.recipe, &input, &overrides, geometry)?;
    Ok(resolved)
}

/// Runs one recipe on one image. This is the only place the benchmark calls the pipeline.
pub fn run_recipe(
    pipe: &ChronoEditPipeline,
    planner: &Planner,
    image: &DynamicImage,
    prompt: &str,
    variant: &Variant,
    opts: &BenchOptions,
    seed: u64,
) -> Result<RecipeOutcome> {
    let model = (pipe.geometry(), pipe.defaults.guidance_scale);
    let Resolved { plan, schedule } = bench_plan(planner, image, prompt, variant, opts, model)?;
    let size = EditSize::choose(
        pipe.size_multiple(),
        image,
        opts.height,
        opts.width,
        pipe.defaults.native_size(),
    )?;
    let mut request = EditRequest::planned(prompt, &schedule, (size.height, size.width), seed);
    request.negative_prompt = opts.negative_prompt.clone();
    let adaptive = AdaptiveOptions {
        srm: schedule.srm.then(SrmConfig::default),
        accel: schedule.accel,
        region_mask: None,
    };
    let start = Instant::now();
    let out = pipe.edit_with(image, &request, &adaptive, &mut |_, _| {})?;
    // Copying the edited frame to the host also waits for an asynchronous device.
    let edited = size.finish(tensor_to_rgb(&out.edited()?)?);
    let seconds = start.elapsed().as_secs_f64();
    let mask_coverage = out.srm.as_ref().map(|s| s.coverage);
    Ok(RecipeOutcome {
        edited,
        seconds,
        plan,
        mask_coverage,
        srm_applied: out.srm.is_some(),
        forwards: out.forwards.iter().sum(),
        token_forwards: out
            .tokens_per_step
            .iter()
            .zip(&out.forwards)
            .map(|(&t, &f)| (t * f) as u64)
            .sum(),
        cached_steps: out.reused_steps.len(),
        step_tokens: out.tokens_per_step.clone(),
        step_forwards: out.forwards.clone(),
        step_head_forwards: out.head_forwards.clone(),
    })
}

fn no_heads(v: &[usize]) -> bool {
    v.iter().all(|&h| h == 0)
}

/// One line of `results.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    pub key: String,
    pub recipe: String,
    pub edit_type: Option<String>,
    /// Wall time of the edit; None when it did not run.
    pub seconds: Option<f64>,
    pub reasoning_steps: Option<usize>,
    pub reasoning_frames: Option<usize>,
    pub steps: Option<usize>,
    pub mask_coverage: Option<f64>,
    /// Whether the plan asked for the spatial reasoning mask, and whether it was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srm_planned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srm_applied: Option<bool>,
    pub clip_t: Option<f64>,
    pub clip_i: Option<f64>,
    /// Transformer forwards whose blocks ran, tokens they computed, steps the cache reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwards: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_forwards: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_steps: Option<usize>,
    /// Per denoising step: tokens of one forward and forwards whose blocks ran (what
    /// `bench_width` turns into a time at the real model's width).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_tokens: Vec<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_forwards: Vec<usize>,
    /// Per denoising step: forwards in which only the first block ran (first-block caching;
    /// absent when none did).
    #[serde(default, skip_serializing_if = "no_heads")]
    pub step_head_forwards: Vec<usize>,
    /// PSNR (dB; `"inf"` when identical) and SSIM against the `--fidelity-to` recipe's picture of
    /// the same case and seed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::eval::fidelity::psnr_serde"
    )]
    pub fidelity_psnr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity_ssim: Option<f64>,
    /// What went wrong (a malformed suite entry, an unreadable image, a failed edit or scoring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The suite entry itself is malformed (such lines are keyed apart from valid cases, since a
    /// duplicate key can be both).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invalid_entry: bool,
}

impl BenchRecord {
    fn failed(key: &str, recipe: &str, edit_type: Option<String>, error: String) -> Self {
        Self {
            key: key.to_string(),
            recipe: recipe.to_string(),
            edit_type,
            error: Some(error),
            ..Self::default()
        }
    }

    /// Identity of the pair for resuming and merging.
    pub fn pair(&self) -> (String, String, bool) {
        (self.key.clone(), self.recipe.clone(), self.invalid_entry)
    }
}

/// Reads `results.jsonl`: whole lines only (a torn last line without a newline is ignored); a
/// complete line that does not parse is an error naming the file and line.
pub fn read_results(path: &Path) -> Result<Vec<BenchRecord>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => &bytes[..=i],
        None => &bytes[..0],
    };
    let text = std::str::from_utf8(complete)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(line).with_context(|| {
                format!("{} line {}: not a bench record", path.display(), i + 1)
            })?,
        );
    }
    Ok(out)
}

/// The last record of every pair, in order of first appearance.
pub fn latest_per_pair(records: &[BenchRecord]) -> Vec<BenchRecord> {
    let mut index: HashMap<(String, String, bool), usize> = HashMap::new();
    let mut out: Vec<BenchRecord> = Vec::new();
    for r in records {
        match index.get(&r.pair()) {
            Some(&i) => out[i] = r.clone(),
            None => {
                index.insert(r.pair(), out.len());
                out.push(r.clone());
            }
        }
    }
    out
}

/// Appends whole lines to `results.jsonl`, each flushed and synced before the next pair starts.
pub struct ResultsWriter {
    file: File,
    path: PathBuf,
}

impl ResultsWriter {
    /// Opens (creating) the file and cuts off a torn last line so the next line starts clean.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("cannot open {} for appending", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if !bytes.is_empty() && bytes.last() != Some(&b'\n') {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            file.set_len(keep as u64)
                .with_context(|| format!("cannot cut the torn last line of {}", path.display()))?;
            file.seek(SeekFrom::End(0))?;
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn append(&mut self, rec: &BenchRecord) -> Result<()> {
        let mut line = serde_json::to_string(rec)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.flush())
            .and_then(|_| self.file.sync_data())
            .with_context(|| format!("cannot append to {}", self.path.display()))
    }
}

/// Writes records as a fresh file (temporary file + rename).
pub fn write_results(path: &Path, records: &[BenchRecord]) -> Result<()> {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

/// The configuration of a run, kept next to the results so reports and merges know the recipe
/// order and the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchMeta {
    pub suite: String,
    pub images: String,
    pub model: String,
    pub recipes: Vec<String>,
    pub baseline: String,
    pub options: BenchOptions,
    #[serde(default)]
    pub clip: Option<String>,
    /// Recipe whose pictures the others' fidelity is measured against (`--fidelity-to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity_to: Option<String>,
}

impl BenchMeta {
    pub fn read(out: &Path) -> Result<Option<Self>> {
        let p = out.join(META_FILE);
        if !p.exists() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("invalid {}", p.display()))?,
        ))
    }

    pub fn write(&self, out: &Path) -> Result<()> {
        let p = out.join(META_FILE);
        let text = serde_json::to_string_pretty(self)?;
        write_atomic(&p, text.as_bytes())
    }
}

/// `i/n`: this process runs entries whose position (in the filtered, limited suite) is i mod n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let (i, n) = s
            .split_once('/')
            .with_context(|| format!("shard {s:?}: expected i/n, e.g. 0/4"))?;
        let index: usize = i
            .trim()
            .parse()
            .with_context(|| format!("shard {s:?}: bad index"))?;
        let count: usize = n
            .trim()
            .parse()
            .with_context(|| format!("shard {s:?}: bad count"))?;
        if count == 0 || index >= count {
            bail!("shard {s:?}: need 0 <= i < n");
        }
        Ok(Shard { index, count })
    }
}

/// Which suite entries a run covers.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Keep only these edit types (None: all).
    pub categories: Option<Vec<String>>,
    /// Keep the first N entries (after the category filter, before sharding).
    pub limit: Option<usize>,
    pub shard: Option<Shard>,
}

/// The entries of `suite` a run covers, in file order: category filter, then limit, then shard.
pub fn select<'a>(suite: &'a Suite, sel: &Selection) -> Result<Vec<SuiteEntry<'a>>> {
    if let Some(cats) = &sel.categories {
        for c in cats {
            if Category::from_name(c).is_none() {
                bail!(
                    "unknown edit type {c:?} (expected some of {})",
                    Category::names()
                );
            }
        }
    }
    let mut entries: Vec<SuiteEntry> = suite
        .entries()
        .into_iter()
        .filter(|e| match &sel.categories {
            None => true,
            Some(cats) => {
                let t = match e {
                    SuiteEntry::Case(c) => Some(c.edit_type.name()),
                    SuiteEntry::Invalid(e) => e.edit_type.as_deref(),
                };
                t.is_some_and(|t| cats.iter().any(|c| c == t))
            }
        })
        .collect();
    if let Some(n) = sel.limit {
        entries.truncate(n);
    }
    if let Some(s) = sel.shard {
        entries = entries
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % s.count == s.index)
            .map(|(_, e)| e)
            .collect();
    }
    Ok(entries)
}

/// The noise seed of one case: the same for every recipe (paired comparison), different per case.
pub fn case_seed(base: u64, key: &str) -> u64 {
    // FNV-1a: stable across platforms and runs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    base ^ h
}

/// Progress of a run.
#[derive(Clone, Debug)]
pub enum BenchEvent {
    /// Pairs to run (those without a line yet) and pairs already done.
    Start { pending: usize, done: usize },
    /// Warm-up of one recipe started.
    WarmUp(String),
    /// A pair finished (its line is written).
    Finished(Box<BenchRecord>),
}

/// Everything a run needs besides the loaded models.
pub struct BenchRun<'a> {
    pub suite: &'a Suite,
    pub images_root: &'a Path,
    pub out: &'a Path,
    pub recipes: &'a [Variant],
    /// Measure every picture's PSNR / SSIM against this recipe's picture of the case (one of
    /// `recipes`).
    pub fidelity_to: Option<Variant>,
    pub selection: Selection,
    pub options: BenchOptions,
    /// Plan table and predictor of the adaptive recipes.
    pub planner: &'a Planner,
    /// Warm-up steps per recipe before timing (0: no warm-up).
    pub warmup_steps: usize,
    /// Rerun pairs whose last line records an error.
    pub retry_errors: bool,
}

/// Counts of a finished run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BenchSummary {
    pub ran: usize,
    pub skipped: usize,
    pub errors: usize,
}

/// Runs every pending (case, recipe) pair and appends its line. Per-case problems become error
/// lines; only problems with the output folder itself stop the run.
pub fn run_bench(
    pipe: &ChronoEditPipeline,
    clip: Option<&ClipEmbedder>,
    run: &BenchRun,
    mut progress: impl FnMut(BenchEvent),
) -> Result<BenchSummary> {
    if run.recipes.is_empty() {
        bail!("no recipes to run");
    }
    std::fs::create_dir_all(run.out)
        .with_context(|| format!("cannot create the output folder {}", run.out.display()))?;
    if let Some(f) = &run.fidelity_to {
        if !run.recipes.contains(f) {
            bail!("the fidelity reference {f} is not one of the recipes run");
        }
    }
    for r in run.recipes {
        let d = run.out.join(r.name());
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
        remove_stale_temporaries(&d);
    }
    let _lock = RunLock::acquire(run.out)?;
    let results_path = run.out.join(RESULTS_FILE);
    let existing = latest_per_pair(&read_results(&results_path)?);
    let done: HashSet<(String, String, bool)> = existing
        .iter()
        .filter(|r| !(run.retry_errors && r.error.is_some() && !r.invalid_entry))
        .map(|r| r.pair())
        .collect();
    let mut writer = ResultsWriter::open(&results_path)?;

    let entries = select(run.suite, &run.selection)?;
    let pending_of = |e: &SuiteEntry| -> Vec<Variant> {
        let (key, invalid) = match e {
            SuiteEntry::Case(c) => (&c.key, false),
            SuiteEntry::Invalid(e) => (&e.key, true),
        };
        run.recipes
            .iter()
            .copied()
            .filter(|r| !done.contains(&(key.clone(), r.name(), invalid)))
            .collect()
    };
    let total_pairs = entries.len() * run.recipes.len();
    let pending: usize = entries.iter().map(|e| pending_of(e).len()).sum();
    let mut summary = BenchSummary {
        skipped: total_pairs - pending,
        ..Default::default()
    };
    progress(BenchEvent::Start {
        pending,
        done: summary.skipped,
    });
    if pending == 0 {
        return Ok(summary);
    }

    // Warm-up on the first pending readable case, every recipe once, results discarded.
    if run.warmup_steps > 0 {
        let first = entries.iter().find_map(|e| match e {
            SuiteEntry::Case(c) if !pending_of(e).is_empty() => {
                open_image(&c.source_path(run.images_root))
                    .ok()
                    .map(|img| (c, img))
            }
            _ => None,
        });
        if let Some((case, img)) = first {
            let opts = BenchOptions {
                steps: Some(run.warmup_steps),
                ..run.options.clone()
            };
            for r in run.recipes {
                progress(BenchEvent::WarmUp(r.name()));
                // A failing warm-up is not fatal: the timed run records the error for its case.
                let _ = run_recipe(
                    pipe,
                    run.planner,
                    &img,
                    &case.prompt,
                    r,
                    &opts,
                    case_seed(opts.seed, &case.key),
                );
            }
        }
    }

    let mut scorer = clip.map(ClipScorer::new);
    for (ci, entry) in entries.iter().enumerate() {
        let todo = pending_of(entry);
        if todo.is_empty() {
            continue;
        }
        // Rotate the recipe order per case so no recipe always runs first.
        let mut order: Vec<Variant> = run.recipes.to_vec();
        order.rotate_left(ci % run.recipes.len());
        order.retain(|r| todo.contains(r));
        match entry {
            SuiteEntry::Invalid(e) => {
                for r in order {
                    let mut rec = BenchRecord::failed(
                        &e.key,
                        &r.name(),
                        e.edit_type.clone(),
                        format!("invalid suite entry: {}", e.message),
                    );
                    rec.invalid_entry = true;
                    writer.append(&rec)?;
                    summary.errors += 1;
                    summary.ran += 1;
                    progress(BenchEvent::Finished(Box::new(rec)));
                }
            }
            SuiteEntry::Case(case) => {
                let image = open_image(&case.source_path(run.images_root))
                    .with_context(|| format!("source image of case {:?}", case.key));
                // A case's lines are appended once all its recipes ran, so that each can carry its
                // fidelity to the reference's picture (a kill loses at most the case in flight).
                let mut records = Vec::new();
                for r in order {
                    let rec = match &image {
                        Err(e) => BenchRecord::failed(
                            &case.key,
                            &r.name(),
                            Some(case.edit_type.to_string()),
                            format!("{e:#}"),
                        ),
                        Ok(img) => run_pair(run, case, img, &r, scorer.as_mut(), pipe)?,
                    };
                    records.push(rec);
                }
                if let Some(reference) = &run.fidelity_to {
                    add_fidelity(run.out, case, reference, &mut records);
                }
                for rec in records {
                    if rec.error.is_some() {
                        summary.errors += 1;
                    }
                    writer.append(&rec)?;
                    summary.ran += 1;
                    progress(BenchEvent::Finished(Box::new(rec)));
                }
            }
        }
    }
    Ok(summary)
}

/// Keeps two runs from writing into one output folder: `OUT/.bench.lock` holds the running
/// process's id and is removed when the run ends. A lock whose process is gone (a killed run) is
/// taken over; where process ids cannot be checked (no `/proc`), an existing lock is taken over.
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    pub fn acquire(out: &Path) -> Result<Self> {
        let path = out.join(".bench.lock");
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid = holder.trim().parse::<u32>().ok();
                    let proc = Path::new("/proc");
                    let alive = pid.is_some_and(|p| {
                        p != std::process::id()
                            && proc.is_dir()
                            && proc.join(p.to_string()).exists()
                    });
                    if alive {
                        bail!(
                            "another bench run (process {}) is writing into {}; wait for it, or remove {} if no run is active",
                            holder.trim(),
                            out.display(),
                            path.display()
                        );
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        bail!("cannot take the lock {}", path.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes temporary image files a killed run left behind (`.<name>.<pid>.tmp.<ext>`, see
/// [`atomic_write`]); a folder must not be shared by two runs at once.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp.") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// One pair: edit, write the image, score. Errors of the case become an error record; an `Err` is
/// returned only when the output folder cannot be written.
fn run_pair(
    run: &BenchRun,
    case: &SuiteCase,
    img: &DynamicImage,
    recipe: &Variant,
    scorer: Option<&mut ClipScorer>,
    pipe: &ChronoEditPipeline,
) -> Result<BenchRecord> {
    let seed = case_seed(run.options.seed, &case.key);
    let outcome = match run_recipe(
        pipe,
        run.planner,
        img,
        &case.prompt,
        recipe,
        &run.options,
        seed,
    ) {
        Ok(o) => o,
        Err(e) => {
            return Ok(BenchRecord::failed(
                &case.key,
                &recipe.name(),
                Some(case.edit_type.to_string()),
                format!("edit failed: {e:#}"),
            ))
        }
    };
    let path = case.edited_path(&run.out.join(recipe.name()));
    save_png_atomic(&path, &outcome.edited)?;
    let mut rec = BenchRecord {
        key: case.key.clone(),
        recipe: recipe.name(),
        edit_type: Some(case.edit_type.to_string()),
        seconds: Some(outcome.seconds),
        reasoning_steps: Some(outcome.plan.reasoning_steps),
        reasoning_frames: Some(outcome.plan.reasoning_frames),
        steps: Some(outcome.plan.steps),
        mask_coverage: outcome.mask_coverage,
        srm_planned: Some(outcome.plan.srm),
        srm_applied: Some(outcome.srm_applied),
        clip_t: None,
        clip_i: None,
        forwards: Some(outcome.forwards),
        token_forwards: Some(outcome.token_forwards),
        cached_steps: Some(outcome.cached_steps),
        step_tokens: outcome.step_tokens,
        step_forwards: outcome.step_forwards,
        step_head_forwards: outcome.step_head_forwards,
        fidelity_psnr: None,
        fidelity_ssim: None,
        error: None,
        invalid_entry: false,
    };
    if let Some(s) = scorer {
        // Scored from the written file, exactly as `physedit score` reads it.
        match s.score_case(case, run.images_root, &path) {
            Ok((t, i)) => {
                rec.clip_t = Some(t);
                rec.clip_i = Some(i);
            }
            Err(e) => rec.error = Some(format!("CLIP scoring failed: {e:#}")),
        }
    }
    Ok(rec)
}

/// PSNR / SSIM of every finished picture of `case` against `reference`'s picture, read back from
/// the PNG files (lossless: the same pixels as the edits produced; the reference may come from an
/// earlier, resumed part of the run). A failure to compare is noted in the line's error.
fn add_fidelity(out: &Path, case: &SuiteCase, reference: &Variant, records: &mut [BenchRecord]) {
    let ref_path = case.edited_path(&out.join(reference.name()));
    let Ok(ref_img) = image::open(&ref_path).map(|i| i.to_rgb8()) else {
        return;
    };
    for rec in records.iter_mut().filter(|r| r.error.is_none()) {
        let path = case.edited_path(&out.join(&rec.recipe));
        let compared = image::open(&path)
            .map_err(anyhow::Error::from)
            .and_then(|img| {
                let img = img.to_rgb8();
                Ok((
                    crate::eval::fidelity::psnr(&img, &ref_img)?,
                    crate::eval::fidelity::ssim(&img, &ref_img)?,
                ))
            });
        match compared {
            Ok((p, s)) => {
                rec.fidelity_psnr = Some(p);
                rec.fidelity_ssim = Some(s);
            }
            Err(e) => rec.error = Some(format!("fidelity to {}: {e:#}", reference.name())),
        }
    }
}

/// Joins the output folders of shards into `out`: images are copied, result lines merged (the last
/// line of a pair wins; a pair finished in several inputs is reported). Returns the merged records
/// and the pairs found in more than one input.
pub fn merge_outputs(inputs: &[PathBuf], out: &Path) -> Result<(Vec<BenchRecord>, Vec<String>)> {
    if inputs.is_empty() {
        bail!("bench merge: no input folders");
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the output folder {}", out.display()))?;
    let mut meta: Option<BenchMeta> = None;
    let mut all: Vec<BenchRecord> = Vec::new();
    let mut seen_in: HashMap<(String, String, bool), usize> = HashMap::new();
    let mut duplicates = Vec::new();
    for (k, dir) in inputs.iter().enumerate() {
        let results = dir.join(RESULTS_FILE);
        if !results.is_file() {
            bail!("bench merge: {} has no {RESULTS_FILE}", dir.display());
        }
        if let Some(m) = BenchMeta::read(dir)? {
            match &meta {
                None => meta = Some(m),
                Some(first) if first.recipes != m.recipes || first.options != m.options => {
                    bail!(
                        "bench merge: {} was run with other recipes or options than {}",
                        dir.display(),
                        inputs[0].display()
                    )
                }
                _ => {}
            }
        }
        for rec in latest_per_pair(&read_results(&results)?) {
            if let Some(&prev) = seen_in.get(&rec.pair()) {
                if prev != k {
                    duplicates.push(format!(
                        "{} / {} in {} and {}",
                        rec.key,
                        rec.recipe,
                        inputs[prev].display(),
                        dir.display()
                    ));
                }
            }
            seen_in.insert(rec.pair(), k);
            if rec.seconds.is_some() && !rec.invalid_entry {
                let src = dir.join(&rec.recipe).join(format!("{}.png", rec.key));
                let dst_dir = out.join(&rec.recipe);
                std::fs::create_dir_all(&dst_dir)
                    .with_context(|| format!("cannot create {}", dst_dir.display()))?;
                let dst = dst_dir.join(format!("{}.png", rec.key));
                if src != dst {
                    atomic_write(&dst, |tmp| {
                        std::fs::copy(&src, tmp)
                            .map(|_| ())
                            .with_context(|| format!("cannot copy {}", src.display()))
                    })?;
                }
            }
            all.push(rec);
        }
    }
    let merged = latest_per_pair(&all);
    write_results(&out.join(RESULTS_FILE), &merged)?;
    if let Some(m) = meta {
        m.write(out)?;
    }
    Ok((merged, duplicates))
}
