//! CLIP scores of edited images over a suite.
//!
//! CLIP-T = cos(image embedding of the edited image, text embedding of the prompt);
//! CLIP-I = cos(image embedding of the edited image, image embedding of the source image).
//! Both are raw cosines of the projected embeddings (no x100, no clamping).
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::models::clip::{cosine, ClipModel};
use crate::suite::{Suite, SuiteCase, SuiteEntry};

/// One output line: scores, or the problem that prevented scoring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_t: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_i: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ScoreRecord {
    fn failed(key: &str, edit_type: Option<String>, error: String) -> Self {
        Self {
            key: key.to_string(),
            edit_type,
            clip_t: None,
            clip_i: None,
            error: Some(error),
        }
    }
}

/// Results of scoring a suite.
#[derive(Clone, Debug, Default)]
pub struct SuiteScores {
    /// One record per case that has an edited image and one per malformed suite entry, in suite
    /// order.
    pub records: Vec<ScoreRecord>,
    /// Valid cases without an edited image (not scored, not recorded).
    pub skipped: Vec<String>,
}

/// Caches embeddings of prompts and source images shared by several cases.
pub struct ClipScorer<'a> {
    model: &'a ClipModel,
    text_cache: HashMap<String, Tensor>,
    source_cache: HashMap<String, Tensor>,
}

impl<'a> ClipScorer<'a> {
    pub fn new(model: &'a ClipModel) -> Self {
        Self {
            model,
            text_cache: HashMap::new(),
            source_cache: HashMap::new(),
        }
    }

    /// `(clip_t, clip_i)` of one case whose edited image is `edited_path`.
    pub fn score_case(
        &mut self,
        case: &SuiteCase,
        images_root: &Path,
        edited_path: &Path,
    ) -> Result<(f64, f64)> {
        let edited = crate::util::open_image(edited_path)?;
        let src_path = case.source_path(images_root);
        let source_emb = match self.source_cache.get(&case.id) {
            Some(e) => e.clone(),
            None => {
                let src = crate::util::open_image(&src_path)
                    .with_context(|| format!("source image of {:?}", case.key))?;
                let e = self
                    .model
                    .image_embeds(&src)
                    .with_context(|| format!("embedding {}", src_path.display()))?;
                self.source_cache.insert(case.id.clone(), e.clone());
                e
            }
        };
        let text_emb = match self.text_cache.get(&case.prompt) {
            Some(e) => e.clone(),
            None => {
                let e = self.model.text_embeds(&case.prompt)?;
                self.text_cache.insert(case.prompt.clone(), e.clone());
                e
            }
        };
        let edited_emb = self
            .model
            .image_embeds(&edited)
            .with_context(|| format!("embedding {}", edited_path.display()))?;
        let clip_t = cosine(&edited_emb, &text_emb)?;
        let clip_i = cosine(&edited_emb, &source_emb)?;
        Ok((clip_t, clip_i))
    }
}

/// Scores every valid case with `<edited_dir>/<key>.png`; per-case failures and malformed entries
/// become error records. `progress` receives the number of cases to score, then one event per case.
pub fn score_suite(
    model: &ClipModel,
    suite: &Suite,
    images_root: &Path,
    edited_dir: &Path,
    mut progress: impl FnMut(ProgressEvent),
) -> SuiteScores {
    let mut out = SuiteScores::default();
    let entries: Vec<SuiteEntry> = suite
        .entries()
        .into_iter()
        .filter(|e| match e {
            SuiteEntry::Case(c) if !c.edited_path(edited_dir).exists() => {
                out.skipped.push(c.key.clone());
                false
            }
            _ => true,
        })
        .collect();
    let n_cases = entries
        .iter()
        .filter(|e| matches!(e, SuiteEntry::Case(_)))
        .count();
    progress(ProgressEvent::Start(n_cases));
    let mut scorer = ClipScorer::new(model);
    for entry in entries {
        let rec = match entry {
            SuiteEntry::Case(case) => {
                let r = match scorer.score_case(case, images_root, &case.edited_path(edited_dir)) {
                    Ok((t, i)) => ScoreRecord {
                        key: case.key.clone(),
                        edit_type: Some(case.edit_type.to_string()),
                        clip_t: Some(t),
                        clip_i: Some(i),
                        error: None,
                    },
                    Err(e) => ScoreRecord::failed(
                        &case.key,
                        Some(case.edit_type.to_string()),
                        format!("{e:#}"),
                    ),
                };
                progress(ProgressEvent::Done);
                r
            }
            SuiteEntry::Invalid(e) => ScoreRecord::failed(
                &e.key,
                e.edit_type.clone(),
                format!("invalid suite entry: {}", e.message),
            ),
        };
        out.records.push(rec);
    }
    out
}

/// Progress of [`score_suite`].
#[derive(Clone, Copy, Debug)]
pub enum ProgressEvent {
    /// The number of cases that will be scored.
    Start(usize),
    /// One case finished.
    Done,
}

/// Writes records as JSON lines, atomically.
pub fn write_jsonl(path: &Path, records: &[ScoreRecord]) -> Result<()> {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    crate::util::atomic_write(path, |tmp| {
        std::fs::write(tmp, text.as_bytes())
            .with_context(|| format!("cannot write {}", tmp.display()))
    })
}

/// Reads records written by [`write_jsonl`].
pub fn read_jsonl(path: &Path) -> Result<Vec<ScoreRecord>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{} line {}", path.display(), i + 1))
        })
        .collect()
}

/// Mean scores of one group of cases.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub group: String,
    /// Scored cases.
    pub n: usize,
    pub mean_clip_t: Option<f64>,
    pub mean_clip_i: Option<f64>,
    /// Error records in the group.
    pub errors: usize,
}

/// Per-category rows (ImgEdit order, then any other names) and an overall row (mean over all scored
/// cases, not of the category means).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub rows: Vec<SummaryRow>,
    pub overall: SummaryRow,
}

pub fn summarize(records: &[ScoreRecord]) -> Summary {
    let row = |group: &str, rs: &[&ScoreRecord]| {
        let scored: Vec<_> = rs.iter().filter(|r| r.error.is_none()).collect();
        let mean = |f: &dyn Fn(&ScoreRecord) -> Option<f64>| {
            let v: Vec<f64> = scored.iter().filter_map(|r| f(r)).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        SummaryRow {
            group: group.to_string(),
            n: scored.len(),
            mean_clip_t: mean(&|r| r.clip_t),
            mean_clip_i: mean(&|r| r.clip_i),
            errors: rs.len() - scored.len(),
        }
    };
    let mut groups: Vec<String> = Category::ALL.iter().map(|c| c.to_string()).collect();
    for r in records {
        let g = r.edit_type.clone().unwrap_or_else(|| "(none)".into());
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let rows = groups
        .iter()
        .filter_map(|g| {
            let rs: Vec<&ScoreRecord> = records
                .iter()
                .filter(|r| r.edit_type.as_deref().unwrap_or("(none)") == g)
                .collect();
            (!rs.is_empty()).then(|| row(g, &rs))
        })
        .collect();
    let all: Vec<&ScoreRecord> = records.iter().collect();
    Summary {
        rows,
        overall: row("overall", &all),
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into());
        writeln!(
            f,
            "{:<12} {:>6} {:>10} {:>10} {:>7}",
            "edit_type", "n", "CLIP-T", "CLIP-I", "errors"
        )?;
        let line = |f: &mut fmt::Formatter<'_>, r: &SummaryRow| {
            writeln!(
                f,
                "{:<12} {:>6} {:>10} {:>10} {:>7}",
                r.group,
                r.n,
                num(r.mean_clip_t),
                num(r.mean_clip_i),
                r.errors
            )
        };
        for r in &self.rows {
            line(f, r)?;
        }
        writeln!(f, "{}", "-".repeat(49))?;
        line(f, &self.overall)?;
        Ok(())
    }
}
