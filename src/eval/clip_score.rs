//! CLIP scores of edited images over a suite.
//!
//! CLIP-T = cos(image embedding of the edited image, text embedding of the prompt);
//! CLIP-I = cos(image embedding of the edited image, image embedding of the source image).
//! Both are raw cosines of the projected embeddings (no x100, no clamping).
//!
//! [`ClipEmbedder`] loads a transformers `CLIPModel` folder: `config.json`, `model.safetensors` (or
//! shards), `tokenizer.json`, `preprocessor_config.json` (or, as transformers 5 writes it, the
//! `image_processor` entry of `processor_config.json`), and pairs the model with its tokenizer and
//! image processor.
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use image::DynamicImage;
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::category::Category;
use crate::models::clip::{ClipConfig, ClipModel, ClipTextTransformer};
use crate::models::clip_vision::ClipVisionTransformer;
use crate::processors::image::ClipImageProcessor;
use crate::processors::prompt::ClipTokenizer;
use crate::suite::{Suite, SuiteCase, SuiteEntry};

/// A CLIP model folder: the model with its tokenizer and image processor.
pub struct ClipEmbedder {
    model: ClipModel,
    tokenizer: ClipTokenizer,
    image_processor: ClipImageProcessor,
    device: Device,
    dir: PathBuf,
}

impl std::fmt::Debug for ClipEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipEmbedder")
            .field("dir", &self.dir)
            .field("config", self.model.config())
            .finish_non_exhaustive()
    }
}

impl ClipEmbedder {
    /// Loads a `CLIPModel` folder on the CPU in f32.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_on(dir, &Device::Cpu, DType::F32)
    }

    /// Loads a `CLIPModel` folder on `device`, weights in `dtype` (layer norms always in f32).
    pub fn load_on(dir: &Path, device: &Device, dtype: DType) -> Result<Self> {
        if !dir.is_dir() {
            bail!("CLIP model folder {} does not exist", dir.display());
        }
        let cfg_path = dir.join("config.json");
        let config: ClipConfig = crate::checkpoint::read_config(&cfg_path)?;
        // checked here as well as in the model, so that the error names the file
        let text_cfg = config
            .text()
            .with_context(|| format!("invalid text_config in {}", cfg_path.display()))?;
        let vision_cfg = config
            .vision()
            .with_context(|| format!("invalid vision_config in {}", cfg_path.display()))?;
        text_cfg
            .eos_id()
            .map_err(|e| anyhow!("{}: {e}", cfg_path.display()))?;

        let vb = crate::checkpoint::var_builder(dir, dtype, device)?;
        let model = ClipModel::new(&config, vb)
            .with_context(|| format!("loading the CLIP weights in {}", dir.display()))?;
        let tokenizer = ClipTokenizer::from_file(
            &dir.join("tokenizer.json"),
            text_cfg.max_position_embeddings,
        )?;
        let image_processor = load_image_processor(dir)?;
        if image_processor.do_center_crop
            && (image_processor.crop_size.0 != vision_cfg.image_size
                || image_processor.crop_size.1 != vision_cfg.image_size)
        {
            bail!(
                "{}: crop_size {:?} does not match vision_config.image_size {} in {}",
                dir.display(),
                image_processor.crop_size,
                vision_cfg.image_size,
                cfg_path.display()
            );
        }
        Ok(Self {
            model,
            tokenizer,
            image_processor,
            device: device.clone(),
            dir: dir.to_path_buf(),
        })
    }

    pub fn model(&self) -> &ClipModel {
        &self.model
    }

    pub fn config(&self) -> &ClipConfig {
        self.model.config()
    }

    pub fn text_model(&self) -> &ClipTextTransformer {
        self.model.text_model()
    }

    pub fn vision_model(&self) -> &ClipVisionTransformer {
        self.model.vision_model()
    }

    pub fn image_processor(&self) -> &ClipImageProcessor {
        &self.image_processor
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        self.tokenizer.tokenizer()
    }

    /// Token ids as `tokenizer(text, truncation=True, max_length=max_position_embeddings)` gives them
    /// (with `<|startoftext|>`/`<|endoftext|>` from the tokenizer's post-processor).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text)
    }

    /// `get_text_features(input_ids)`: `(B, projection_dim)`.
    pub fn text_features(&self, input_ids: &Tensor) -> candle_core::Result<Tensor> {
        self.model.text_features(input_ids)
    }

    /// `get_image_features(pixel_values)`: `(B, projection_dim)`.
    pub fn image_features(&self, pixel_values: &Tensor) -> candle_core::Result<Tensor> {
        self.model.image_features(pixel_values)
    }

    /// Projected text embedding `(1, projection_dim)` (f32) of a prompt.
    pub fn text_embeds(&self, text: &str) -> Result<Tensor> {
        let ids = self.tokenize(text)?;
        let n = ids.len();
        let ids = Tensor::from_vec(ids, (1, n), &self.device)?;
        let e = self
            .model
            .text_features(&ids)
            .with_context(|| format!("CLIP text tower on {text:?}"))?;
        Ok(e.to_dtype(DType::F32)?)
    }

    /// `pixel_values` `(1, 3, S, S)` of an image, per the folder's image processor.
    pub fn preprocess(&self, img: &DynamicImage) -> Result<Tensor> {
        Ok(self
            .image_processor
            .preprocess(img)?
            .to_device(&self.device)?)
    }

    /// Projected image embedding `(1, projection_dim)` (f32).
    pub fn image_embeds(&self, img: &DynamicImage) -> Result<Tensor> {
        let pv = self.preprocess(img)?;
        let e = self
            .model
            .image_features(&pv)
            .context("CLIP vision tower")?;
        Ok(e.to_dtype(DType::F32)?)
    }

    /// CLIP-T: raw cosine between an image's and a prompt's embeddings.
    pub fn clip_t(&self, img: &DynamicImage, prompt: &str) -> Result<f64> {
        cosine(&self.image_embeds(img)?, &self.text_embeds(prompt)?)
    }

    /// CLIP-I: raw cosine between two images' embeddings.
    pub fn clip_i(&self, a: &DynamicImage, b: &DynamicImage) -> Result<f64> {
        cosine(&self.image_embeds(a)?, &self.image_embeds(b)?)
    }
}

/// `preprocessor_config.json`, else the `image_processor` entry of `processor_config.json`.
fn load_image_processor(dir: &Path) -> Result<ClipImageProcessor> {
    let pre = dir.join("preprocessor_config.json");
    if pre.is_file() {
        return ClipImageProcessor::from_file(&pre);
    }
    let proc_path = dir.join("processor_config.json");
    if proc_path.is_file() {
        let text = std::fs::read_to_string(&proc_path)
            .with_context(|| format!("cannot read {}", proc_path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", proc_path.display()))?;
        let ip = v.get("image_processor").ok_or_else(|| {
            anyhow!(
                "{} has no image_processor entry (and {} is missing)",
                proc_path.display(),
                pre.display()
            )
        })?;
        return ClipImageProcessor::from_json(&ip.to_string())
            .with_context(|| format!("parsing image_processor in {}", proc_path.display()));
    }
    bail!(
        "CLIP model folder {} has no image processor config: {} is missing",
        dir.display(),
        pre.display()
    )
}

/// Cosine similarity of two `(1, P)` (or `(P,)`) embeddings, accumulated in f64. Errors when a norm is
/// zero or the values are not finite.
pub fn cosine(a: &Tensor, b: &Tensor) -> Result<f64> {
    let a: Vec<f32> = a.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    let b: Vec<f32> = b.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    cosine_slices(&a, &b)
}

/// [`cosine`] on plain slices.
pub fn cosine_slices(a: &[f32], b: &[f32]) -> Result<f64> {
    if a.len() != b.len() {
        bail!(
            "cosine of embeddings of different sizes ({} and {})",
            a.len(),
            b.len()
        );
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let den = (na * nb).sqrt();
    if !den.is_finite() || !dot.is_finite() {
        bail!("cosine of non-finite embeddings");
    }
    if den == 0.0 {
        bail!("cosine of a zero embedding");
    }
    Ok(dot / den)
}

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
    model: &'a ClipEmbedder,
    text_cache: HashMap<String, Tensor>,
    source_cache: HashMap<String, Tensor>,
}

impl<'a> ClipScorer<'a> {
    pub fn new(model: &'a ClipEmbedder) -> Self {
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
    model: &ClipEmbedder,
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
