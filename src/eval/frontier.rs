//! The speed–quality frontier of a bench run: every recipe's speed (paired by case against the
//! exact plan and the baselines, from the same interleaved run), its fidelity to the exact plan's
//! pictures (PSNR mean with a 95 % bootstrap interval, and the worst case) and, with a world suite,
//! its ground-truth scores (success, untouched objects kept, PSNR outside the edit) from
//! `world::evaluate` on the recipe's own pictures. A recipe is on the frontier when no other recipe
//! is both at least as fast and at least as faithful, and strictly better in one of the two
//! ([`frontier_flags`]). Written as a Markdown table and a PNG scatter plot (speed against
//! fidelity, frontier joined, baselines drawn as triangles, the 30 dB line).
//!
//! The goal check ([`Goal`]) picks the fastest recipe whose mean fidelity is at least 30 dB, whose
//! worst case is at least 25 dB and whose world success and kept counts are not below the
//! reference recipe's, and states its speedups against the template and the reference.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};
use plotters::prelude::*;
use serde::Serialize;

use super::bench::BenchRecord;
use super::fidelity::PSNR_CAP;
use super::report::{err, mean_interval, render_png, speedup_interval, Interval, PLOT_H, PLOT_W};
use crate::world::evaluate::EvalRow;

/// The recipes users compare with, marked in the table and the plot.
pub const BASELINES: [&str; 3] = [
    "chronoedit-reasoning",
    "comfy-template",
    "chronoedit-distill",
];
/// Goal thresholds on fidelity to the exact plan (dB).
pub const GOAL_MEAN_DB: f64 = 30.0;
pub const GOAL_WORST_DB: f64 = 25.0;

/// World ground-truth scores of one recipe's pictures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorldScore {
    pub n: usize,
    pub success: usize,
    pub kept: usize,
    /// Mean PSNR to the true target outside the edit mask (dB).
    pub psnr_out: Option<f64>,
}

impl WorldScore {
    pub fn from_rows(rows: &[EvalRow]) -> Self {
        let out: Vec<f64> = rows.iter().filter_map(|r| r.psnr_out_mask).collect();
        WorldScore {
            n: rows.len(),
            success: rows.iter().filter(|r| r.success).count(),
            kept: rows.iter().filter(|r| r.kept_all()).count(),
            psnr_out: (!out.is_empty()).then(|| out.iter().sum::<f64>() / out.len() as f64),
        }
    }
}

/// One recipe's point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrontierRow {
    pub recipe: String,
    /// Finished edits.
    pub n: usize,
    pub mean_seconds: Option<f64>,
    /// Speedup against the exact plan, and against each baseline present (paired by case).
    pub speedup_vs_exact: Option<Interval>,
    pub speedup_vs: Vec<(String, Option<Interval>)>,
    /// Mean PSNR to the exact plan's pictures (per case capped at `PSNR_CAP`), and the worst case.
    pub fidelity: Option<Interval>,
    pub worst_fidelity: Option<f64>,
    pub world: Option<WorldScore>,
    pub on_frontier: bool,
    pub baseline: bool,
}

/// Whether each (speed, fidelity) point is undominated: no other point is at least as fast and at
/// least as faithful with one of the two strictly larger. Points with a missing coordinate are
/// never on the frontier and dominate nothing.
pub fn frontier_flags(points: &[Option<(f64, f64)>]) -> Vec<bool> {
    points
        .iter()
        .map(|p| {
            let Some((s, f)) = *p else { return false };
            !points
                .iter()
                .flatten()
                .any(|&(s2, f2)| s2 >= s && f2 >= f && (s2 > s || f2 > f))
        })
        .collect()
}

fn paired_speedup(
    records: &[BenchRecord],
    base: &str,
    recipe: &str,
    seed: u64,
) -> Option<Interval> {
    let base_secs: HashMap<&str, f64> = records
        .iter()
        .filter(|r| r.recipe == base && !r.invalid_entry)
        .filter_map(|r| Some((r.key.as_str(), r.seconds?)))
        .collect();
    let pairs: Vec<(f64, f64)> = records
        .iter()
        .filter(|r| r.recipe == recipe && !r.invalid_entry)
        .filter_map(|r| Some((*base_secs.get(r.key.as_str())?, r.seconds?)))
        .collect();
    speedup_interval(&pairs, seed)
}

/// The frontier rows of `recipes` (in that order) from the latest line of every pair; `exact` is
/// the recipe the fidelity was measured against; `world` holds each recipe's ground-truth rows.
pub fn build_frontier(
    records: &[BenchRecord],
    recipes: &[String],
    exact: &str,
    world: &HashMap<String, Vec<EvalRow>>,
) -> Result<Vec<FrontierRow>> {
    if !records
        .iter()
        .any(|r| r.recipe == exact && r.seconds.is_some())
    {
        bail!("the exact recipe {exact:?} has no finished edits in these results");
    }
    let present: Vec<&str> = BASELINES
        .iter()
        .copied()
        .filter(|b| recipes.iter().any(|r| r == b))
        .collect();
    let mut rows: Vec<FrontierRow> = recipes
        .iter()
        .enumerate()
        .map(|(i, recipe)| {
            let seed = super::report::BOOTSTRAP_SEED ^ ((i as u64) << 20);
            let rs: Vec<&BenchRecord> = records.iter().filter(|r| &r.recipe == recipe).collect();
            let secs: Vec<f64> = rs.iter().filter_map(|r| r.seconds).collect();
            let fid: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.fidelity_psnr)
                .map(|p| p.min(PSNR_CAP))
                .collect();
            FrontierRow {
                recipe: recipe.clone(),
                n: secs.len(),
                mean_seconds: (!secs.is_empty())
                    .then(|| secs.iter().sum::<f64>() / secs.len() as f64),
                speedup_vs_exact: paired_speedup(records, exact, recipe, seed),
                speedup_vs: present
                    .iter()
                    .enumerate()
                    .map(|(k, b)| {
                        let s = seed ^ ((k as u64 + 1) << 8);
                        (b.to_string(), paired_speedup(records, b, recipe, s))
                    })
                    .collect(),
                fidelity: mean_interval(&fid, seed ^ 3),
                worst_fidelity: fid.iter().copied().reduce(f64::min),
                world: world.get(recipe).map(|r| WorldScore::from_rows(r)),
                on_frontier: false,
                baseline: BASELINES.contains(&recipe.as_str()),
            }
        })
        .collect();
    let points: Vec<Option<(f64, f64)>> = rows
        .iter()
        .map(|r| Some((r.speedup_vs_exact?.value, r.fidelity?.value)))
        .collect();
    for (r, on) in rows.iter_mut().zip(frontier_flags(&points)) {
        r.on_frontier = on;
    }
    Ok(rows)
}

/// The goal check: the fastest recipe (against the exact plan) meeting the fidelity and world bars.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Goal {
    /// The reference the world bars come from.
    pub reference: String,
    pub chosen: Option<String>,
}

/// The fastest row with mean fidelity ≥ [`GOAL_MEAN_DB`], worst ≥ [`GOAL_WORST_DB`], and world
/// success and kept counts not below `reference`'s (when world scores are present).
pub fn goal(rows: &[FrontierRow], reference: &str) -> Goal {
    let bar = rows
        .iter()
        .find(|r| r.recipe == reference)
        .and_then(|r| r.world.clone());
    let chosen = rows
        .iter()
        .filter(|r| r.fidelity.is_some_and(|f| f.value >= GOAL_MEAN_DB))
        .filter(|r| r.worst_fidelity.is_some_and(|w| w >= GOAL_WORST_DB))
        .filter(|r| match (&bar, &r.world) {
            (Some(b), Some(w)) => w.success >= b.success && w.kept >= b.kept,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .filter(|r| r.speedup_vs_exact.is_some())
        .max_by(|a, b| {
            let (x, y) = (a.speedup_vs_exact.unwrap(), b.speedup_vs_exact.unwrap());
            x.value.total_cmp(&y.value)
        })
        .map(|r| r.recipe.clone());
    Goal {
        reference: reference.to_string(),
        chosen,
    }
}

fn iv(v: &Option<Interval>, prec: usize, unit: &str) -> String {
    match v {
        Some(i) if i.value.is_finite() => format!(
            "{:.prec$}{unit} [{:.prec$}, {:.prec$}]",
            i.value, i.lo, i.hi
        ),
        Some(_) => "identical".into(),
        None => "–".into(),
    }
}

/// The Markdown table (and the goal line) of `rows`.
pub fn to_markdown(rows: &[FrontierRow], exact: &str, goal: &Goal) -> String {
    let mut s = String::new();
    let base_cols: Vec<String> = rows
        .first()
        .map(|r| r.speedup_vs.iter().map(|(b, _)| b.clone()).collect())
        .unwrap_or_default();
    let _ = write!(s, "| recipe | n | s / edit | speed vs {exact} [95 % CI] |");
    for b in &base_cols {
        let _ = write!(s, " vs {b} [95 % CI] |");
    }
    s.push_str(
        " fidelity to the exact plan: mean PSNR [95 % CI] | worst | world success | untouched kept | PSNR outside the edit | frontier |\n|---|---|---|---|",
    );
    for _ in &base_cols {
        s.push_str("---|");
    }
    s.push_str("---|---|---|---|---|---|\n");
    for r in rows {
        let name = if r.baseline {
            format!("{} (baseline)", r.recipe)
        } else {
            r.recipe.clone()
        };
        let name = if r.on_frontier {
            format!("**{name}**")
        } else {
            name
        };
        let _ = write!(
            s,
            "| {name} | {} | {} | {} |",
            r.n,
            r.mean_seconds
                .map(|x| format!("{x:.3}"))
                .unwrap_or_else(|| "–".into()),
            iv(&r.speedup_vs_exact, 2, "x"),
        );
        for (_, v) in &r.speedup_vs {
            let _ = write!(s, " {} |", iv(v, 2, "x"));
        }
        let pct =
            |k: usize, n: usize| format!("{:.1} % ({k}/{n})", 100.0 * k as f64 / n.max(1) as f64);
        let (succ, kept, out) = match &r.world {
            Some(w) => (
                pct(w.success, w.n),
                pct(w.kept, w.n),
                w.psnr_out
                    .map(|p| format!("{p:.2} dB"))
                    .unwrap_or_else(|| "–".into()),
            ),
            None => ("–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            s,
            " {} | {} | {succ} | {kept} | {out} | {} |",
            iv(&r.fidelity, 2, " dB"),
            r.worst_fidelity
                .map(|w| format!("{w:.2} dB"))
                .unwrap_or_else(|| "–".into()),
            if r.on_frontier { "yes" } else { "" }
        );
    }
    s.push('\n');
    match &goal.chosen {
        Some(c) => {
            let r = rows.iter().find(|r| &r.recipe == c).expect("chosen row");
            let _ = write!(
                s,
                "Fastest recipe at >= {GOAL_MEAN_DB} dB mean fidelity (worst >= {GOAL_WORST_DB} dB) with world success and kept not below {}'s: **{c}**, {} vs {exact}",
                goal.reference,
                iv(&r.speedup_vs_exact, 2, "x")
            );
            for (b, v) in &r.speedup_vs {
                let _ = write!(s, ", {} vs {b}", iv(v, 2, "x"));
            }
            s.push_str(".\n");
        }
        None => {
            let _ = writeln!(
                s,
                "No recipe reaches >= {GOAL_MEAN_DB} dB mean fidelity (worst >= {GOAL_WORST_DB} dB) with world success and kept not below {}'s.",
                goal.reference
            );
        }
    }
    s
}

/// Scatter plot of speed against the exact plan (x, log scale) and fidelity (y, capped at
/// `PSNR_CAP`): frontier points filled and joined, others hollow, baselines as triangles, a line at
/// [`GOAL_MEAN_DB`].
pub fn plot(path: &Path, rows: &[FrontierRow], exact: &str) -> Result<()> {
    let pts: Vec<(usize, f64, f64)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.speedup_vs_exact?.value, r.fidelity?.value)))
        .filter(|(_, x, y)| x.is_finite() && *x > 0.0 && y.is_finite())
        .collect();
    if pts.is_empty() {
        bail!("no recipe has both a speed and a fidelity to plot");
    }
    let xs = pts.iter().map(|p| p.1);
    let (x0, x1) = (
        xs.clone().fold(f64::MAX, f64::min) / 1.3,
        // Room on the right for the fastest points' labels.
        xs.fold(f64::MIN, f64::max) * 2.2,
    );
    // The exact plan is identical to itself (its fidelity is the 100 dB cap): drawn at the top edge,
    // so the axis spans the approximations rather than the gap up to the cap.
    let is_exact = |i: usize| rows[i].recipe == exact;
    let ys = pts.iter().filter(|p| !is_exact(p.0)).map(|p| p.2);
    let (lo, hi) = ys.fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (y0, y1) = if lo <= hi {
        ((lo - 3.0).min(GOAL_MEAN_DB - 3.0), hi + 6.0)
    } else {
        (GOAL_MEAN_DB - 3.0, 100.0 + 3.0)
    };
    let pts: Vec<(usize, f64, f64)> = pts
        .into_iter()
        .map(|(i, x, y)| (i, x, if is_exact(i) { y1 - 2.0 } else { y.min(y1) }))
        .collect();
    let mut frontier: Vec<(f64, f64)> = pts
        .iter()
        .filter(|p| rows[p.0].on_frontier)
        .map(|p| (p.1, p.2))
        .collect();
    frontier.sort_by(|a, b| a.0.total_cmp(&b.0));
    render_png(path, |buf, text| {
        let root = BitMapBackend::with_buffer(buf, (PLOT_W, PLOT_H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut b = ChartBuilder::on(&root);
        b.margin(20);
        if text {
            b.caption(
                format!("speed vs {exact} against fidelity to it (frontier joined)"),
                ("sans-serif", 20),
            )
            .x_label_area_size(40)
            .y_label_area_size(55);
        }
        let mut chart = b
            .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
            .map_err(err)?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc(format!("speedup vs {exact} (x, log)"))
                .y_desc("PSNR to the exact plan (dB)");
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x0, GOAL_MEAN_DB), (x1, GOAL_MEAN_DB)],
                RED.mix(0.5).stroke_width(1),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                frontier.clone(),
                BLUE.stroke_width(2),
            )))
            .map_err(err)?;
        for &(i, x, y) in &pts {
            let r = &rows[i];
            let color = if r.baseline {
                RED
            } else if r.on_frontier {
                BLUE
            } else {
                RGBColor(120, 120, 120)
            };
            let style = if r.on_frontier || r.baseline {
                color.filled()
            } else {
                color.stroke_width(2)
            };
            if r.baseline {
                chart
                    .draw_series(std::iter::once(TriangleMarker::new((x, y), 8, style)))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(std::iter::once(Circle::new((x, y), 5, style)))
                    .map_err(err)?;
            }
            if text {
                let label = if is_exact(i) {
                    format!("{} (exact plan: identical to itself)", r.recipe)
                } else {
                    r.recipe.clone()
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (x, y),
                        ("sans-serif", 12).into_font().color(&BLACK),
                    )))
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_keeps_exactly_the_undominated_points() {
        let pts = [
            Some((1.0, 100.0)), // exact: slowest, most faithful
            Some((2.0, 40.0)),
            Some((2.0, 35.0)), // dominated by (2, 40)
            Some((3.0, 30.0)),
            Some((1.5, 30.0)), // dominated by (2, 40)
            None,
            Some((3.0, 30.0)), // a tie with another point: both stay
        ];
        assert_eq!(
            frontier_flags(&pts),
            [true, true, false, true, false, false, true]
        );
    }
}
