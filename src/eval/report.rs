//! Benchmark reports from `results.jsonl`: per category and overall, for every recipe, the number of
//! edits, the mean seconds, the speedup against a baseline recipe and the mean CLIP-T / CLIP-I, each
//! with a 95 % bootstrap interval; written as Markdown, JSON and CSV, with two plots.
//!
//! Statistics:
//! * speedup of recipe R = (mean seconds of the baseline) / (mean seconds of R) over the cases where
//!   both finished (paired by case); its interval resamples those cases with replacement;
//! * CLIP means are over the cases of R with scores; intervals resample those cases;
//! * intervals are the 2.5 and 97.5 percentiles of [`BOOTSTRAP_SAMPLES`] resamples drawn from a
//!   fixed seed, so a report is reproducible from its lines.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::bench::BenchRecord;
use crate::category::Category;
use crate::util::{save_png_atomic, write_atomic};

pub const BOOTSTRAP_SAMPLES: usize = 2000;
pub const BOOTSTRAP_SEED: u64 = 0x0b00_7575_eed5;
pub const OVERALL: &str = "overall";

/// A mean (or ratio) with its 95 % bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

/// One recipe within one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecipeStats {
    pub recipe: String,
    /// Finished edits (with a time).
    pub n: usize,
    /// Lines with an error.
    pub errors: usize,
    pub mean_seconds: Option<f64>,
    /// Cases finished by both this recipe and the baseline.
    pub paired_n: usize,
    pub speedup: Option<Interval>,
    pub clip_t: Option<Interval>,
    pub clip_i: Option<Interval>,
    /// PSNR (dB, per-case values capped at `fidelity::PSNR_CAP`) and SSIM to the `--fidelity-to`
    /// recipe's pictures; `fidelity_identical` counts the pictures equal to the reference's.
    #[serde(default)]
    pub fidelity_psnr: Option<Interval>,
    #[serde(default)]
    pub fidelity_ssim: Option<Interval>,
    #[serde(default)]
    pub fidelity_identical: usize,
}

/// One category (or the overall group).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    pub group: String,
    pub recipes: Vec<RecipeStats>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub baseline: String,
    pub recipes: Vec<String>,
    pub bootstrap_samples: usize,
    pub bootstrap_seed: u64,
    /// Categories in ImgEdit order (then any others), then the overall group.
    pub groups: Vec<GroupReport>,
}

/// Deterministic generator for the bootstrap (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - frac) + sorted[i + 1] * frac
    } else {
        sorted[i]
    }
}

/// `stat` over resamples of `0..n` (indices drawn with replacement); None when n == 0.
fn bootstrap(
    n: usize,
    seed: u64,
    stat: impl Fn(&mut dyn Iterator<Item = usize>) -> f64,
) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let value = stat(&mut (0..n));
    let mut rng = SplitMix(seed);
    let mut samples: Vec<f64> = (0..BOOTSTRAP_SAMPLES)
        .map(|_| {
            let idx: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
            stat(&mut idx.into_iter())
        })
        .filter(|v| v.is_finite())
        .collect();
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Some(Interval {
        value,
        lo: percentile(&samples, 0.025),
        hi: percentile(&samples, 0.975),
    })
}

/// Mean with a bootstrap interval.
pub fn mean_interval(values: &[f64], seed: u64) -> Option<Interval> {
    bootstrap(values.len(), seed, |idx| {
        let (mut s, mut k) = (0.0, 0usize);
        for i in idx {
            s += values[i];
            k += 1;
        }
        s / k as f64
    })
}

/// Ratio of means `mean(base) / mean(other)` over paired cases, with a paired bootstrap interval.
pub fn speedup_interval(pairs: &[(f64, f64)], seed: u64) -> Option<Interval> {
    bootstrap(pairs.len(), seed, |idx| {
        let (mut b, mut o) = (0.0, 0.0);
        for i in idx {
            b += pairs[i].0;
            o += pairs[i].1;
        }
        b / o
    })
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Builds the report from the latest line of every pair. `recipes` gives the column order (recipes
/// found only in the lines are appended); `baseline` must be one of them.
pub fn build_report(records: &[BenchRecord], recipes: &[String], baseline: &str) -> Result<Report> {
    let mut recipes: Vec<String> = recipes.to_vec();
    for r in records {
        if !recipes.contains(&r.recipe) {
            recipes.push(r.recipe.clone());
        }
    }
    if !recipes.iter().any(|r| r == baseline) {
        bail!(
            "baseline recipe {baseline:?} has no results (recipes: {})",
            recipes.join(", ")
        );
    }
    let group_of = |r: &BenchRecord| r.edit_type.clone().unwrap_or_else(|| "(none)".into());
    let mut groups: Vec<String> = Category::ALL
        .iter()
        .map(|c| c.to_string())
        .filter(|g| records.iter().any(|r| &group_of(r) == g))
        .collect();
    for r in records {
        let g = group_of(r);
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups.push(OVERALL.to_string());

    let mut out = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let in_group: Vec<&BenchRecord> = records
            .iter()
            .filter(|r| g == OVERALL || &group_of(r) == g)
            .collect();
        let base_secs: HashMap<&str, f64> = in_group
            .iter()
            .filter(|r| r.recipe == baseline && !r.invalid_entry)
            .filter_map(|r| r.seconds.map(|s| (r.key.as_str(), s)))
            .collect();
        let mut stats = Vec::new();
        for (ri, recipe) in recipes.iter().enumerate() {
            let rs: Vec<&&BenchRecord> = in_group.iter().filter(|r| &r.recipe == recipe).collect();
            let secs: Vec<f64> = rs.iter().filter_map(|r| r.seconds).collect();
            let pairs: Vec<(f64, f64)> = rs
                .iter()
                .filter(|r| !r.invalid_entry)
                .filter_map(|r| Some((*base_secs.get(r.key.as_str())?, r.seconds?)))
                .collect();
            let seed = BOOTSTRAP_SEED ^ ((gi as u64) << 32) ^ ((ri as u64) << 16);
            let ct: Vec<f64> = rs.iter().filter_map(|r| r.clip_t).collect();
            let cim: Vec<f64> = rs.iter().filter_map(|r| r.clip_i).collect();
            let cap = crate::eval::fidelity::PSNR_CAP;
            let fp: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.fidelity_psnr)
                .map(|p| p.min(cap))
                .collect();
            let fs: Vec<f64> = rs.iter().filter_map(|r| r.fidelity_ssim).collect();
            let identical = rs
                .iter()
                .filter(|r| r.fidelity_psnr == Some(f64::INFINITY))
                .count();
            stats.push(RecipeStats {
                recipe: recipe.clone(),
                n: secs.len(),
                errors: rs.iter().filter(|r| r.error.is_some()).count(),
                mean_seconds: mean(&secs),
                paired_n: pairs.len(),
                speedup: speedup_interval(&pairs, seed),
                clip_t: mean_interval(&ct, seed ^ 1),
                clip_i: mean_interval(&cim, seed ^ 2),
                fidelity_psnr: if !fp.is_empty() && identical == fp.len() {
                    // Every picture equals the reference's.
                    Some(Interval {
                        value: f64::INFINITY,
                        lo: f64::INFINITY,
                        hi: f64::INFINITY,
                    })
                } else {
                    mean_interval(&fp, seed ^ 3)
                },
                fidelity_ssim: mean_interval(&fs, seed ^ 4),
                fidelity_identical: identical,
            });
        }
        out.push(GroupReport {
            group: g.clone(),
            recipes: stats,
        });
    }
    Ok(Report {
        baseline: baseline.to_string(),
        recipes,
        bootstrap_samples: BOOTSTRAP_SAMPLES,
        bootstrap_seed: BOOTSTRAP_SEED,
        groups: out,
    })
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "-".into())
}

fn fmt_iv(v: &Option<Interval>, prec: usize) -> String {
    match v {
        Some(i) => format!("{:.prec$} [{:.prec$}, {:.prec$}]", i.value, i.lo, i.hi),
        None => "-".into(),
    }
}

impl Report {
    pub fn overall(&self) -> &GroupReport {
        self.groups
            .last()
            .expect("a report always has the overall group")
    }

    /// The Markdown report.
    pub fn to_markdown(&self, records: &[BenchRecord], plots: &[PathBuf]) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Benchmark report\n");
        let _ = writeln!(
            s,
            "Baseline: `{}`. Speedup = mean seconds of the baseline / mean seconds of the recipe over the cases both \
             finished (paired). Intervals: 95 % bootstrap percentiles, {} resamples of cases, fixed seed {:#x}. \
             Seconds: wall time per edit, model load and warm-up excluded.\n",
            self.baseline, self.bootstrap_samples, self.bootstrap_seed
        );
        for g in &self.groups {
            let _ = writeln!(s, "## {}\n", g.group);
            let _ = writeln!(
                s,
                "| recipe | n | errors | mean s | speedup [95% CI] | CLIP-T [95% CI] | CLIP-I [95% CI] | fidelity PSNR dB [95% CI] | fidelity SSIM [95% CI] |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---|---|---|---|---|");
            for r in &g.recipes {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.recipe,
                    r.n,
                    r.errors,
                    fmt_opt(r.mean_seconds, 3),
                    fmt_iv(&r.speedup, 2),
                    fmt_iv(&r.clip_t, 4),
                    fmt_iv(&r.clip_i, 4),
                    fmt_iv(&r.fidelity_psnr, 2),
                    fmt_iv(&r.fidelity_ssim, 4)
                );
            }
            s.push('\n');
        }
        if !plots.is_empty() {
            let _ = writeln!(s, "## Plots\n");
            for p in plots {
                if let Some(name) = p.file_name() {
                    let name = name.to_string_lossy();
                    let _ = writeln!(s, "![{name}]({name})\n");
                }
            }
        }
        let errors: Vec<&BenchRecord> = records.iter().filter(|r| r.error.is_some()).collect();
        if !errors.is_empty() {
            let _ = writeln!(s, "## Errors ({})\n", errors.len());
            for r in errors.iter().take(50) {
                let _ = writeln!(
                    s,
                    "- `{}` / {}: {}",
                    r.key,
                    r.recipe,
                    r.error.as_deref().unwrap_or_default().replace('\n', " ")
                );
            }
            if errors.len() > 50 {
                let _ = writeln!(
                    s,
                    "- ... and {} more (see results.jsonl)",
                    errors.len() - 50
                );
            }
        }
        s
    }

    /// One CSV row per (group, recipe).
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "group,recipe,n,errors,mean_seconds,paired_n,speedup,speedup_lo,speedup_hi,clip_t,clip_t_lo,clip_t_hi,clip_i,clip_i_lo,clip_i_hi,fidelity_psnr,fidelity_psnr_lo,fidelity_psnr_hi,fidelity_ssim,fidelity_ssim_lo,fidelity_ssim_hi,fidelity_identical\n",
        );
        let iv = |v: &Option<Interval>| match v {
            Some(i) => format!("{},{},{}", i.value, i.lo, i.hi),
            None => ",,".into(),
        };
        for g in &self.groups {
            for r in &g.recipes {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&g.group),
                    csv_field(&r.recipe),
                    r.n,
                    r.errors,
                    r.mean_seconds.map(|v| v.to_string()).unwrap_or_default(),
                    r.paired_n,
                    iv(&r.speedup),
                    iv(&r.clip_t),
                    iv(&r.clip_i),
                    iv(&r.fidelity_psnr),
                    iv(&r.fidelity_ssim),
                    r.fidelity_identical
                );
            }
        }
        s
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, text.as_bytes())
}

/// File names of the plots.
pub const SPEEDUP_PLOT: &str = "speedup.png";
pub const CLIP_PLOT: &str = "clip_t_vs_seconds.png";

/// Writes `report.md`, `report.json`, `report.csv` and the plots into `out`; returns the files.
/// Plots are drawn with text when a TrueType font is found (`PHYSEDIT_PLOT_FONT=FILE`, or a common
/// sans font under the system's font folders; read by plotters' pure-Rust rasteriser, so no system
/// library is needed), otherwise without text, never failing for want of fonts;
/// `PHYSEDIT_PLOT_TEXT=0` forces the text-free drawing.
pub fn write_report(out: &Path, report: &Report, records: &[BenchRecord]) -> Result<Vec<PathBuf>> {
    let mut plots = Vec::new();
    let p = out.join(SPEEDUP_PLOT);
    plot_speedup(&p, report)?;
    plots.push(p);
    if records
        .iter()
        .any(|r| r.clip_t.is_some() && r.seconds.is_some())
    {
        let p = out.join(CLIP_PLOT);
        plot_clip_vs_seconds(&p, report, records)?;
        plots.push(p);
    }
    let md = out.join("report.md");
    write_text(&md, &report.to_markdown(records, &plots))?;
    let json = out.join("report.json");
    write_text(&json, &serde_json::to_string_pretty(report)?)?;
    let csv = out.join("report.csv");
    write_text(&csv, &report.to_csv())?;
    let mut files = vec![md, json, csv];
    files.extend(plots);
    Ok(files)
}

pub(crate) const PLOT_W: u32 = 960;
pub(crate) const PLOT_H: u32 = 540;

type DrawResult = std::result::Result<(), String>;

/// Font files tried for plot text, by name, in order (the first found anywhere under the font
/// folders wins; otherwise any `.ttf`).
const FONT_NAMES: [&str; 6] = [
    "DejaVuSans.ttf",
    "LiberationSans-Regular.ttf",
    "NotoSans-Regular.ttf",
    "FreeSans.ttf",
    "Arial.ttf",
    "Helvetica.ttf",
];

fn find_font_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PHYSEDIT_PLOT_FONT") {
        return Some(PathBuf::from(p));
    }
    let mut roots = vec![
        PathBuf::from("/usr/share/fonts"),
        PathBuf::from("/usr/local/share/fonts"),
        PathBuf::from("/Library/Fonts"),
        PathBuf::from("/System/Library/Fonts"),
    ];
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(Path::new(&home).join(".fonts"));
        roots.push(Path::new(&home).join(".local/share/fonts"));
    }
    // Depth-bounded walk: font folders are shallow.
    let mut files = Vec::new();
    let mut dirs: Vec<(PathBuf, usize)> = roots.into_iter().map(|r| (r, 0)).collect();
    while let Some((d, depth)) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && depth < 4 {
                dirs.push((p, depth + 1));
            } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("ttf")) {
                files.push(p);
            }
        }
        if files.len() > 5000 {
            break;
        }
    }
    files.sort();
    FONT_NAMES
        .iter()
        .find_map(|n| {
            files
                .iter()
                .find(|f| f.file_name().is_some_and(|x| x == *n))
                .cloned()
        })
        .or_else(|| files.into_iter().next())
}

/// Registers a font for plot text once per process; false when none is usable (plots are then
/// drawn without text).
fn plot_font_available() -> bool {
    static FONT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FONT.get_or_init(|| {
        let Some(path) = find_font_file() else {
            return false;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            return false;
        };
        // plotters keeps registered fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    })
}

/// Draws into an RGB buffer, first with text when a font is available, then (if that fails)
/// without, and saves it as a PNG atomically.
pub(crate) fn render_png(path: &Path, draw: impl Fn(&mut [u8], bool) -> DrawResult) -> Result<()> {
    let want_text = std::env::var("PHYSEDIT_PLOT_TEXT")
        .map(|v| v != "0")
        .unwrap_or(true)
        && plot_font_available();
    let mut buf = vec![0u8; (PLOT_W * PLOT_H * 3) as usize];
    let with_text = want_text && {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| draw(&mut buf, true)));
        matches!(r, Ok(Ok(())))
    };
    if !with_text {
        buf.iter_mut().for_each(|b| *b = 0);
        draw(&mut buf, false)
            .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))?;
    }
    let img =
        image::RgbImage::from_raw(PLOT_W, PLOT_H, buf).context("plot buffer has the wrong size")?;
    save_png_atomic(path, &img)
}

pub(crate) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

fn recipe_color(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

/// Bars of the speedup of every non-baseline recipe per category (and overall), with interval
/// whiskers and a line at 1.
fn plot_speedup(path: &Path, report: &Report) -> Result<()> {
    let others: Vec<(usize, &String)> = report
        .recipes
        .iter()
        .enumerate()
        .filter(|(_, r)| **r != report.baseline)
        .collect();
    let ng = report.groups.len();
    let ymax = report
        .groups
        .iter()
        .flat_map(|g| g.recipes.iter())
        .filter_map(|r| r.speedup.map(|s| s.hi.max(s.value)))
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max)
        * 1.15;
    render_png(path, |buf, text| {
        let root = BitMapBackend::with_buffer(buf, (PLOT_W, PLOT_H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut b = ChartBuilder::on(&root);
        b.margin(20);
        if text {
            b.caption(
                format!("speedup vs {} (95% CI)", report.baseline),
                ("sans-serif", 22),
            )
            .x_label_area_size(40)
            .y_label_area_size(50);
        }
        let mut chart = b
            .build_cartesian_2d(0f64..ng as f64, 0f64..ymax)
            .map_err(err)?;
        let names: Vec<String> = report.groups.iter().map(|g| g.group.clone()).collect();
        if text {
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(ng * 2 + 1)
                .x_label_formatter(&|x| {
                    let f = x - x.floor();
                    if (f - 0.5).abs() < 1e-6 {
                        names.get(x.floor() as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_desc("speedup (x)")
                .draw()
                .map_err(err)?;
        } else {
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_labels(0)
                .draw()
                .map_err(err)?;
        }
        let width = 0.8 / others.len().max(1) as f64;
        for (gi, g) in report.groups.iter().enumerate() {
            for (k, (ri, name)) in others.iter().enumerate() {
                let Some(st) = g.recipes.iter().find(|r| &r.recipe == *name) else {
                    continue;
                };
                let Some(s) = st.speedup else { continue };
                let x0 = gi as f64 + 0.1 + k as f64 * width;
                let color = recipe_color(*ri);
                let bar = chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.0), (x0 + width * 0.9, s.value)],
                        color.filled(),
                    )))
                    .map_err(err)?;
                if text && gi == 0 {
                    bar.label(name.as_str()).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                    });
                }
                let xm = x0 + width * 0.45;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(xm, s.lo), (xm, s.hi)],
                        BLACK.stroke_width(2),
                    )))
                    .map_err(err)?;
            }
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 1.0), (ng as f64, 1.0)],
                BLACK.stroke_width(1),
            )))
            .map_err(err)?;
        if text && !others.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)
    })
}

/// Every scored edit as a small dot (seconds, CLIP-T) coloured by recipe; each recipe's means as a
/// large circle.
fn plot_clip_vs_seconds(path: &Path, report: &Report, records: &[BenchRecord]) -> Result<()> {
    let pts: Vec<(usize, f64, f64)> = records
        .iter()
        .filter_map(|r| {
            let ri = report.recipes.iter().position(|x| *x == r.recipe)?;
            Some((ri, r.seconds?, r.clip_t?))
        })
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(_, x, y) in &pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let pad = |a: f64, b: f64| {
        let d = ((b - a) * 0.1).max(1e-3);
        (a - d, b + d)
    };
    let (x0, x1) = pad(x0.min(0.0), x1);
    let (y0, y1) = pad(y0, y1);
    let overall = report.overall();
    render_png(path, |buf, text| {
        let root = BitMapBackend::with_buffer(buf, (PLOT_W, PLOT_H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut b = ChartBuilder::on(&root);
        b.margin(20);
        if text {
            b.caption("CLIP-T vs seconds per edit", ("sans-serif", 22))
                .x_label_area_size(40)
                .y_label_area_size(60);
        }
        let mut chart = b.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
        if text {
            chart
                .configure_mesh()
                .x_desc("seconds per edit")
                .y_desc("CLIP-T")
                .draw()
                .map_err(err)?;
        } else {
            chart
                .configure_mesh()
                .x_labels(0)
                .y_labels(0)
                .draw()
                .map_err(err)?;
        }
        for (ri, name) in report.recipes.iter().enumerate() {
            let color = recipe_color(ri);
            chart
                .draw_series(
                    pts.iter()
                        .filter(|p| p.0 == ri)
                        .map(|&(_, x, y)| Circle::new((x, y), 3, color.filled())),
                )
                .map_err(err)?;
            let st = overall.recipes.iter().find(|r| &r.recipe == name);
            if let Some((Some(x), Some(y))) =
                st.map(|s| (s.mean_seconds, s.clip_t.map(|c| c.value)))
            {
                let s = chart
                    .draw_series(std::iter::once(Circle::new(
                        (x, y),
                        9,
                        color.stroke_width(3),
                    )))
                    .map_err(err)?;
                if text {
                    s.label(name.as_str())
                        .legend(move |(x, y)| Circle::new((x + 5, y), 5, color.filled()));
                }
            }
        }
        if text {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_of_constant_is_exact() {
        let iv = mean_interval(&[2.0; 7], 1).unwrap();
        assert_eq!((iv.value, iv.lo, iv.hi), (2.0, 2.0, 2.0));
        let sp = speedup_interval(&[(4.0, 2.0); 5], 1).unwrap();
        assert_eq!((sp.value, sp.lo, sp.hi), (2.0, 2.0, 2.0));
        assert!(mean_interval(&[], 1).is_none());
    }

    #[test]
    fn bootstrap_interval_brackets_the_mean_and_is_reproducible() {
        let v: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let a = mean_interval(&v, 7).unwrap();
        let b = mean_interval(&v, 7).unwrap();
        assert_eq!(a, b);
        assert!((a.value - 9.5).abs() < 1e-12);
        assert!(a.lo < a.value && a.value < a.hi, "{a:?}");
        // Standard error of the mean is about 1.3 here; the interval is roughly +-2.6.
        assert!(a.hi - a.lo > 2.0 && a.hi - a.lo < 8.0, "{a:?}");
    }
}

/// Line plot of named `(x, y)` series on a logarithmic y axis (loss curves), saved as a PNG; empty
/// series and non-positive values are left out. Text follows [`write_report`]'s font rules.
pub fn plot_lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<()> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(n, pts)| {
            let pts: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|&(x, y)| x.is_finite() && y.is_finite() && y > 0.0)
                .collect();
            (*n, pts)
        })
        .filter(|(_, pts)| !pts.is_empty())
        .collect();
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if series.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.1, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let (y0, y1) = (y0 / 1.2, (y1 * 1.2).max(y0 * 1.5));
    render_png(path, |buf, text| {
        let root = BitMapBackend::with_buffer(buf, (PLOT_W, PLOT_H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut b = ChartBuilder::on(&root);
        b.margin(20);
        if text {
            b.caption(title, ("sans-serif", 22))
                .x_label_area_size(40)
                .y_label_area_size(60);
        }
        let mut chart = b
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(err)?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc(x_desc)
                .y_desc(y_desc)
                .y_labels(8)
                .y_label_formatter(&|v| format!("{v:.3}"));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(err)?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = recipe_color(i);
            let s = chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?;
            if text {
                s.label(*name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
        }
        if text {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)
    })
}
