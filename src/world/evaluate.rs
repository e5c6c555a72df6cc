//! Ground-truth evaluation of edited pictures against a world suite.
use super::check::{iou, psnr, Check, CheckResult};
use super::edits::{CaseMeta, Category};
use super::io::{load_image, load_mask};
use super::render::diff_mask;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Result for one case (one JSON line).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalRow {
    pub key: String,
    pub edit_type: String,
    pub kind: String,
    /// Whether `<key>.png` was found in the edited folder (missing counts as a failure).
    pub found: bool,
    pub success: bool,
    pub psnr: Option<f64>,
    pub psnr_in_mask: Option<f64>,
    pub psnr_out_mask: Option<f64>,
    /// IoU of the predicted mask against the true edit mask, when masks were given.
    pub mask_iou: Option<f64>,
    pub checks: Vec<CheckResult>,
    /// The untouched objects' presence checks (`kept_checks`); success needs them too.
    #[serde(default)]
    pub kept: Vec<CheckResult>,
}

impl EvalRow {
    /// Whether every object the edit leaves alone is still drawn where it was.
    pub fn kept_all(&self) -> bool {
        self.found && self.kept.iter().all(|c| c.pass)
    }
}

/// Presence checks for the objects the edit does not touch (equal in the source and target
/// scenes), so that an edit wiping the whole scene does not pass as "remove the cup". Only those
/// that pass on the true target picture: an object a new one hides there cannot be checked.
pub fn kept_checks(m: &CaseMeta, target_img: &super::render::Image) -> Vec<Check> {
    m.source
        .objects
        .iter()
        .filter(|o| m.target.get(o.id) == Some(*o))
        .map(|o| Check::exact(o, 0.03))
        .filter(|c| c.eval(target_img, &m.source, &m.target, target_img).pass)
        .collect()
}

/// Evaluate one edited picture (already loaded at the suite's size).
pub fn eval_case(
    m: &CaseMeta,
    edited: Option<&super::render::Image>,
    pred_mask: Option<&[u8]>,
    suite: &Path,
) -> Result<EvalRow> {
    let target = load_image(
        &suite.join("targets").join(format!("{}.png", m.key)),
        m.size,
    )?;
    let source = load_image(&suite.join("images").join(format!("{}.png", m.key)), m.size)?;
    let true_mask = diff_mask(&source, &target);
    let mask_iou = pred_mask.and_then(|p| iou(p, &true_mask));
    let Some(img) = edited else {
        return Ok(EvalRow {
            key: m.key.clone(),
            edit_type: m.category.name().into(),
            kind: m.kind.clone(),
            found: false,
            success: false,
            psnr: None,
            psnr_in_mask: None,
            psnr_out_mask: None,
            mask_iou,
            checks: vec![],
            kept: vec![],
        });
    };
    let run = |c: &Check| c.eval(img, &m.source, &m.target, &target);
    let checks: Vec<CheckResult> = m.checks.iter().map(run).collect();
    let kept: Vec<CheckResult> = kept_checks(m, &target).iter().map(run).collect();
    Ok(EvalRow {
        key: m.key.clone(),
        edit_type: m.category.name().into(),
        kind: m.kind.clone(),
        found: true,
        success: checks.iter().chain(&kept).all(|c| c.pass),
        psnr: psnr(img, &target, None, true),
        psnr_in_mask: psnr(img, &target, Some(&true_mask), true),
        psnr_out_mask: psnr(img, &target, Some(&true_mask), false),
        mask_iou,
        checks,
        kept,
    })
}

/// Evaluate a folder of edited pictures (`<key>.png`), optionally with predicted masks.
pub fn eval_suite(
    suite: &Path,
    cases: &[CaseMeta],
    edited_dir: &Path,
    masks_dir: Option<&Path>,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Vec<EvalRow>> {
    use rayon::prelude::*;
    cases
        .par_iter()
        .map(|m| {
            let p = edited_dir.join(format!("{}.png", m.key));
            let img = if p.exists() {
                Some(load_image(&p, m.size)?)
            } else {
                None
            };
            let pm = match masks_dir {
                Some(d) => {
                    let mp = d.join(format!("{}.png", m.key));
                    if mp.exists() {
                        Some(load_mask(&mp, m.size)?)
                    } else {
                        None
                    }
                }
                None => None,
            };
            let r = eval_case(m, img.as_ref(), pm.as_deref(), suite);
            if let Some(pb) = progress {
                pb.inc(1);
            }
            r
        })
        .collect()
}

/// Per-category summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub found: usize,
    pub success: usize,
    /// Found cases whose edit checks pass, whatever happened to the untouched objects (what
    /// `success` counted before the untouched objects were checked).
    #[serde(default)]
    pub edit: usize,
    /// Found cases whose untouched objects all stayed (part of success, also shown alone).
    #[serde(default)]
    pub kept: usize,
    pub psnr: f64,
    pub psnr_in_mask: f64,
    pub psnr_out_mask: f64,
    pub mask_iou: Option<f64>,
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        None
    } else {
        Some(s / n as f64)
    }
}

/// Summaries per category (keyed by name) plus "all".
pub fn summarise(rows: &[EvalRow]) -> BTreeMap<String, Summary> {
    let mut groups: BTreeMap<String, Vec<&EvalRow>> = BTreeMap::new();
    for r in rows {
        groups.entry(r.edit_type.clone()).or_default().push(r);
        groups.entry("all".into()).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(k, g)| {
            let s = Summary {
                n: g.len(),
                found: g.iter().filter(|r| r.found).count(),
                success: g.iter().filter(|r| r.success).count(),
                edit: g
                    .iter()
                    .filter(|r| r.found && r.checks.iter().all(|c| c.pass))
                    .count(),
                kept: g.iter().filter(|r| r.kept_all()).count(),
                psnr: mean(g.iter().filter_map(|r| r.psnr)).unwrap_or(f64::NAN),
                psnr_in_mask: mean(g.iter().filter_map(|r| r.psnr_in_mask)).unwrap_or(f64::NAN),
                psnr_out_mask: mean(g.iter().filter_map(|r| r.psnr_out_mask)).unwrap_or(f64::NAN),
                mask_iou: mean(g.iter().filter_map(|r| r.mask_iou)),
            };
            (k, s)
        })
        .collect()
}

/// The per-category table printed by `physedit world eval`.
pub fn table(summary: &BTreeMap<String, Summary>) -> String {
    let mut s = format!(
        "{:<11} {:>5} {:>6} {:>8} {:>7} {:>7} {:>8} {:>9} {:>9} {:>7}\n",
        "category", "n", "found", "success", "edit", "kept", "PSNR", "PSNR-in", "PSNR-out", "IoU"
    );
    let order: Vec<String> = Category::ALL
        .iter()
        .map(|c| c.name().to_string())
        .chain(std::iter::once("all".to_string()))
        .collect();
    for k in order {
        if let Some(v) = summary.get(&k) {
            let iou = v
                .mask_iou
                .map(|x| format!("{x:.3}"))
                .unwrap_or_else(|| "-".into());
            s.push_str(&format!(
                "{:<11} {:>5} {:>6} {:>7.1}% {:>6.1}% {:>6.1}% {:>8.2} {:>9.2} {:>9.2} {:>7}\n",
                k,
                v.n,
                v.found,
                100.0 * v.success as f64 / v.n.max(1) as f64,
                100.0 * v.edit as f64 / v.n.max(1) as f64,
                100.0 * v.kept as f64 / v.n.max(1) as f64,
                v.psnr,
                v.psnr_in_mask,
                v.psnr_out_mask,
                iou
            ));
        }
    }
    s
}
