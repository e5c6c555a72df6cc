//! `physedit calibrate`: the step cache's model-specific coefficients (the `mag` policy's residual
//! magnitude ratios, the `tea` policy's polynomial), measured on a few edits and written into the
//! model folder's `physedit.json`.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::adaptive::accel::{polyfit, polyval, Acceleration, CachePolicy, CacheSettings};
use crate::adaptive::plan::{Recipe, Variant};
use crate::checkpoint::{sampling_defaults, SAMPLING_DEFAULTS_FILE};
use crate::cli::args::{model_or_bundled, positive, ComponentArgs, DeviceArgs, PlannerArgs};
use crate::eval::bench::{bench_plan, case_seed, BenchOptions};
use crate::pipeline::chronoedit::{
    AdaptiveOptions, ChronoEditPipeline, EditRequest, EditSize, LoadOptions,
};
use crate::suite::load_suite;
use crate::util::{open_image, write_atomic};

const EXAMPLES: &str = "\
Runs every step of a few edits (the step cache switched on with threshold 0: residuals recorded,
none reused) and writes two calibrations into DIR/physedit.json (other settings kept):
  cache_mag_ratios        the mean ratio of consecutive residual magnitudes |R_i| / |R_{i-1}| per
                          step (`--cache-policy mag`, `magcache=T`);
  cache_tea_coefficients  a degree-4 least-squares polynomial from the relative L1 change of the
                          timestep modulation to that of the residual, over every pair of
                          consecutive steps (TeaCache's rule: `--cache-policy tea`, `teacache=T`).

Examples:
  # the bundled model on the first 2 world cases of every category:
  physedit calibrate
  physedit calibrate --model DIR --suite suite.json --images IMAGES --per-category 1 --recipe physedit";

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct CalibrateArgs {
    /// Diffusers ChronoEdit folder [default: the bundled world model]; its physedit.json is written.
    /// A Hugging Face id ORG/NAME[@REVISION] (read from the hub cache) works with --dry-run only.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub components: ComponentArgs,
    /// Suite of calibration edits [default: the world test split, data/world/test/suite.json].
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// Root folder of the suite's images [default: the suite's folder].
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Cases per category.
    #[arg(long, default_value_t = 2, value_parser = positive)]
    pub per_category: usize,
    /// Recipe whose schedule is calibrated.
    #[arg(long, default_value = "physedit")]
    pub recipe: Recipe,
    #[command(flatten)]
    pub planner: PlannerArgs,
    /// Denoising steps instead of the plans'.
    #[arg(long, value_parser = positive)]
    pub steps: Option<usize>,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Print the ratios without writing physedit.json.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(a: CalibrateArgs) -> Result<()> {
    let model = model_or_bundled(a.model.as_deref())?;
    if let Some(repo) = crate::checkpoint::hub::snapshot_repo(&model).filter(|_| !a.dry_run) {
        bail!(
            "--model {}: calibrate writes {SAMPLING_DEFAULTS_FILE} into the model folder, and a hub \
             cache snapshot is not to be changed; download {repo} to a folder \
             (`hf download {repo} --local-dir DIR`) and calibrate DIR, or use --dry-run",
            model.display()
        );
    }
    let suite_path = a.suite.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/world/test/suite.json")
    });
    let images = match &a.images {
        Some(p) => p.clone(),
        None => suite_path
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let suite = load_suite(&suite_path).context("--suite")?;
    let mut per_cat = std::collections::HashMap::new();
    let cases: Vec<_> = suite
        .iter()
        .filter(|c| {
            let n = per_cat.entry(c.edit_type).or_insert(0usize);
            *n += 1;
            *n <= a.per_category
        })
        .collect();
    if cases.is_empty() {
        bail!("--suite {}: no valid cases", suite_path.display());
    }
    let planner = a.planner.planner()?;
    let pipe = ChronoEditPipeline::load(
        &model,
        &LoadOptions {
            dtype: a.device.dtype(),
            device: a.device.device()?,
            loras: Vec::new(),
            files: a.components.files()?,
            ..Default::default()
        },
    )
    .with_context(|| format!("loading the pipeline (--model {})", model.display()))?;
    let variant = Variant {
        recipe: a.recipe,
        accel: Acceleration {
            cache: Some(CacheSettings::new(CachePolicy::Easy, 0.0)),
            ..Default::default()
        },
        steps: None,
    };
    let opts = BenchOptions {
        steps: a.steps,
        ..Default::default()
    };
    let pb = ProgressBar::new(cases.len() as u64);
    if let Ok(st) = ProgressStyle::with_template("calibrate [{bar:40}] {pos}/{len} edits {msg}") {
        pb.set_style(st.progress_chars("=> "));
    }
    // Sum and count of the ratio at each step.
    let mut sums: Vec<(f64, usize)> = Vec::new();
    // (modulation change, residual change) of consecutive steps.
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    for case in &cases {
        pb.set_message(case.key.clone());
        let image = open_image(&case.source_path(&images))?;
        let model_facts = (pipe.geometry(), pipe.defaults.guidance_scale);
        let resolved = bench_plan(&planner, &image, &case.prompt, &variant, &opts, model_facts)?;
        let size = EditSize::choose(
            pipe.size_multiple(),
            &image,
            None,
            None,
            pipe.defaults.native_size(),
        )?;
        let req = EditRequest::planned(
            case.prompt.clone(),
            &resolved.schedule,
            (size.height, size.width),
            case_seed(0, &case.key),
        );
        let adaptive = AdaptiveOptions {
            srm: resolved
                .schedule
                .srm
                .then(crate::adaptive::srm::SrmConfig::default),
            accel: resolved.schedule.accel,
            region_mask: None,
        };
        let out = pipe
            .edit_with(&image, &req, &adaptive, &mut |_, _| {})
            .with_context(|| format!("calibration edit {}", case.key))?;
        let steps = req.steps;
        if sums.len() < steps {
            sums.resize(steps, (0.0, 0));
        }
        for w in out.residual_magnitudes.windows(2) {
            let ((_, prev), (i, m)) = (w[0], w[1]);
            if prev > 0.0 && m.is_finite() {
                sums[i].0 += m / prev;
                sums[i].1 += 1;
            }
        }
        pairs.extend(out.change_pairs.iter().map(|&(_, x, y)| (x, y)));
        pb.inc(1);
    }
    pb.finish_and_clear();
    let ratios: Vec<f64> = sums
        .iter()
        .map(|&(s, n)| if n > 0 { s / n as f64 } else { 1.0 })
        .collect();
    let text: Vec<String> = ratios.iter().map(|r| format!("{r:.4}")).collect();
    eprintln!(
        "calibrated on {} edits ({} steps): residual magnitude ratios {}",
        cases.len(),
        ratios.len(),
        text.join(" ")
    );
    let tea = tea_fit(&pairs)?;
    if a.dry_run {
        return Ok(());
    }
    let mut defaults = sampling_defaults(&model)?;
    defaults.cache_mag_ratios = Some(ratios.iter().map(|r| (r * 1e4).round() / 1e4).collect());
    defaults.cache_tea_coefficients = Some(tea);
    let path = model.join(SAMPLING_DEFAULTS_FILE);
    let mut json = serde_json::to_string_pretty(&defaults)?;
    json.push('\n');
    write_atomic(&path, json.as_bytes())?;
    eprintln!(
        "wrote cache_mag_ratios and cache_tea_coefficients into {}",
        path.display()
    );
    Ok(())
}

/// Degree of TeaCache's polynomial (its published Wan2.1 coefficients have five terms).
const TEA_DEGREE: usize = 4;

/// Fits TeaCache's polynomial to the (modulation change, residual change) pairs and reports how
/// well it fits.
fn tea_fit(pairs: &[(f64, f64)]) -> Result<Vec<f64>> {
    let Some(coefficients) = polyfit(pairs, TEA_DEGREE) else {
        bail!(
            "too few step pairs to fit the tea polynomial ({} pairs; it needs {} distinct \
             modulation changes): calibrate on more edits or more steps",
            pairs.len(),
            TEA_DEGREE + 1
        );
    };
    let mean_y = pairs.iter().map(|p| p.1).sum::<f64>() / pairs.len() as f64;
    let (ss_res, ss_tot) = pairs.iter().fold((0.0, 0.0), |(r, t), &(x, y)| {
        (
            r + (y - polyval(&coefficients, x)).powi(2),
            t + (y - mean_y).powi(2),
        )
    });
    let shown: Vec<String> = coefficients.iter().map(|c| format!("{c:.6e}")).collect();
    eprintln!(
        "tea polynomial (highest power first) over {} step pairs: [{}], R^2 {:.3}",
        pairs.len(),
        shown.join(", "),
        if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            1.0
        }
    );
    Ok(coefficients)
}
