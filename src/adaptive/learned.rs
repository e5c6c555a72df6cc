//! The learned CARD predictor: multinomial logistic regression over the nine categories.
//!
//! Features are the rule features ([`super::card::rule_features`], always present) followed by the
//! text embedding and the image embedding when the training data has them (all lines must agree).
//! Features are standardised with the training mean and standard deviation. Complexity and tier are
//! then computed from the predicted category with the same rules as the rule predictor (dynamics and
//! multi-edit cues still lift the tier).
//!
//! Training data (JSON lines), one example per line:
//! ```text
//! {"prompt": "make the cup fall off the table", "category": "action",
//!  "text_embedding": [0.1, ...], "image_embedding": [0.3, ...]}
//! ```
//! `prompt` and `category` (one of ImgEdit's nine) are required; `text_embedding` (the text encoder
//! output mean-pooled over the prompt's tokens) and `image_embedding` (the CLIP image embedding
//! mean-pooled over tokens) are optional but must be on every line or none, with one length.
//!
//! File format (safetensors): tensors `weight` [9, F] f32, `bias` [9] f32, `feature_mean` [F] f32,
//! `feature_std` [F] f32; metadata `format` = "physedit-card-v1", `categories` (JSON list, row order),
//! `feature_spec` (JSON: `rule_features` names, `text_embedding` and `image_embedding` lengths, 0 if
//! absent), `train_examples`, `train_accuracy`.
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use super::card::{
    analyze, complexity_and_tier, rule_feature_names, rule_features, CardInput, Prediction,
    Predictor,
};
use crate::category::Category;

pub const FORMAT: &str = "physedit-card-v1";

/// One training example.
/// Unknown keys (e.g. "key", "tier") are ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardExample {
    pub prompt: String,
    pub category: Category,
    #[serde(default)]
    pub text_embedding: Option<Vec<f32>>,
    #[serde(default)]
    pub image_embedding: Option<Vec<f32>>,
}

/// Read a JSONL training file; errors name the file and line.
pub fn read_examples(path: &Path) -> anyhow::Result<Vec<CardExample>> {
    let f = std::fs::File::open(path)
        .with_context(|| format!("opening training data {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("reading {} line {}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let ex: CardExample = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: bad example", path.display(), i + 1))?;
        out.push(ex);
    }
    if out.is_empty() {
        anyhow::bail!("{}: no examples", path.display());
    }
    Ok(out)
}

/// The pooling shared by training data and the pipeline: mean over the first `valid` rows of a
/// row-major `[tokens, dim]` hidden state. Text embedding: the text encoder's last hidden state over
/// the prompt's real tokens (attention mask 1, padding excluded). Image embedding: the CLIP penultimate
/// hidden state over all its tokens.
pub fn mean_pool(
    data: &[f32],
    tokens: usize,
    dim: usize,
    valid: usize,
) -> anyhow::Result<Vec<f32>> {
    if data.len() != tokens * dim {
        anyhow::bail!(
            "hidden state has {} values, expected {tokens} x {dim}",
            data.len()
        );
    }
    if valid == 0 || valid > tokens {
        anyhow::bail!("valid token count {valid} must be in 1..={tokens}");
    }
    let mut out = vec![0f32; dim];
    for row in data.chunks_exact(dim).take(valid) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
    for o in out.iter_mut() {
        *o /= valid as f32;
    }
    Ok(out)
}

/// Which feature blocks a model uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub rule_features: Vec<String>,
    pub text_embedding: usize,
    pub image_embedding: usize,
}

impl FeatureSpec {
    pub fn len(&self) -> usize {
        self.rule_features.len() + self.text_embedding + self.image_embedding
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Training hyper-parameters.
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 300,
            learning_rate: 0.5,
            l2: 1e-3,
        }
    }
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct LearnedPredictor {
    pub spec: FeatureSpec,
    /// [9 × F], row-major
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub name: String,
    pub train_accuracy: f32,
}

fn features(spec: &FeatureSpec, input: &CardInput) -> anyhow::Result<Vec<f32>> {
    let a = analyze(input.prompt);
    let mut v = rule_features(&a, input.image);
    if spec.text_embedding > 0 {
        let e = input.text_embedding.ok_or_else(|| {
            anyhow::anyhow!(
                "this CARD model needs a {}-value text embedding and none was given",
                spec.text_embedding
            )
        })?;
        if e.len() != spec.text_embedding {
            anyhow::bail!(
                "text embedding has {} values, the CARD model expects {}",
                e.len(),
                spec.text_embedding
            );
        }
        v.extend_from_slice(e);
    }
    if spec.image_embedding > 0 {
        let e = input.image_embedding.ok_or_else(|| {
            anyhow::anyhow!(
                "this CARD model needs a {}-value image embedding and none was given",
                spec.image_embedding
            )
        })?;
        if e.len() != spec.image_embedding {
            anyhow::bail!(
                "image embedding has {} values, the CARD model expects {}",
                e.len(),
                spec.image_embedding
            );
        }
        v.extend_from_slice(e);
    }
    Ok(v)
}

fn softmax_logits(w: &[f32], b: &[f32], x: &[f32], out: &mut [f32]) {
    let f = x.len();
    for (c, o) in out.iter_mut().enumerate() {
        *o = b[c]
            + w[c * f..(c + 1) * f]
                .iter()
                .zip(x)
                .map(|(a, b)| a * b)
                .sum::<f32>();
    }
    let m = out.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let s: f32 = out
        .iter_mut()
        .map(|o| {
            *o = (*o - m).exp();
            *o
        })
        .sum();
    for o in out.iter_mut() {
        *o /= s;
    }
}

impl LearnedPredictor {
    /// Fit on examples (full-batch gradient descent on the mean cross-entropy plus L2). Deterministic.
    pub fn fit(examples: &[CardExample], opts: FitOptions) -> anyhow::Result<Self> {
        if examples.is_empty() {
            anyhow::bail!("no training examples");
        }
        let dim = |f: &dyn Fn(&CardExample) -> Option<usize>,
                   what: &str|
         -> anyhow::Result<usize> {
            let first = f(&examples[0]);
            for (i, e) in examples.iter().enumerate() {
                if f(e) != first {
                    anyhow::bail!(
                        "example {} ({:?}): {what} is {:?} but the first example's is {:?}; all examples must agree",
                        i + 1,
                        e.prompt,
                        f(e),
                        first
                    );
                }
            }
            Ok(first.unwrap_or(0))
        };
        let spec = FeatureSpec {
            rule_features: rule_feature_names(),
            text_embedding: dim(
                &|e| e.text_embedding.as_ref().map(|v| v.len()),
                "text_embedding length",
            )?,
            image_embedding: dim(
                &|e| e.image_embedding.as_ref().map(|v| v.len()),
                "image_embedding length",
            )?,
        };
        let f = spec.len();
        let mut xs: Vec<Vec<f32>> = Vec::with_capacity(examples.len());
        for e in examples {
            let input = CardInput {
                prompt: &e.prompt,
                image: None,
                text_embedding: e.text_embedding.as_deref(),
                image_embedding: e.image_embedding.as_deref(),
            };
            xs.push(features(&spec, &input)?);
        }
        let n = xs.len() as f32;
        let mut mean = vec![0f32; f];
        let mut std = vec![0f32; f];
        for x in &xs {
            for (m, v) in mean.iter_mut().zip(x) {
                *m += v / n;
            }
        }
        for x in &xs {
            for ((s, v), m) in std.iter_mut().zip(x).zip(&mean) {
                *s += (v - m) * (v - m) / n;
            }
        }
        for s in std.iter_mut() {
            *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
        }
        for x in xs.iter_mut() {
            for ((v, m), s) in x.iter_mut().zip(&mean).zip(&std) {
                *v = (*v - m) / s;
            }
        }
        let k = Category::ALL.len();
        let ys: Vec<usize> = examples.iter().map(|e| e.category.index()).collect();
        let mut w = vec![0f32; k * f];
        let mut b = vec![0f32; k];
        let mut p = vec![0f32; k];
        for _ in 0..opts.epochs {
            let mut gw = vec![0f32; k * f];
            let mut gb = vec![0f32; k];
            for (x, &y) in xs.iter().zip(&ys) {
                softmax_logits(&w, &b, x, &mut p);
                for c in 0..k {
                    let g = (p[c] - if c == y { 1.0 } else { 0.0 }) / n;
                    gb[c] += g;
                    for (gwv, xv) in gw[c * f..(c + 1) * f].iter_mut().zip(x) {
                        *gwv += g * xv;
                    }
                }
            }
            for (wv, g) in w.iter_mut().zip(&gw) {
                *wv -= opts.learning_rate * (g + opts.l2 * *wv);
            }
            for (bv, g) in b.iter_mut().zip(&gb) {
                *bv -= opts.learning_rate * g;
            }
        }
        let mut correct = 0;
        for (x, &y) in xs.iter().zip(&ys) {
            softmax_logits(&w, &b, x, &mut p);
            if argmax(&p) == y {
                correct += 1;
            }
        }
        Ok(LearnedPredictor {
            spec,
            weight: w,
            bias: b,
            mean,
            std,
            name: "learned".to_string(),
            train_accuracy: correct as f32 / n,
        })
    }

    /// Class probabilities in [`Category::ALL`] order.
    pub fn probabilities(&self, input: &CardInput) -> anyhow::Result<Vec<f32>> {
        let mut x = features(&self.spec, input)?;
        for ((v, m), s) in x.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
        let mut p = vec![0f32; Category::ALL.len()];
        softmax_logits(&self.weight, &self.bias, &x, &mut p);
        Ok(p)
    }

    pub fn save(&self, path: &Path, n_examples: usize) -> anyhow::Result<()> {
        let k = Category::ALL.len();
        let f = self.spec.len();
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let (wb, bb, mb, sb) = (
            bytes(&self.weight),
            bytes(&self.bias),
            bytes(&self.mean),
            bytes(&self.std),
        );
        let tensors = vec![
            ("weight", TensorView::new(Dtype::F32, vec![k, f], &wb)?),
            ("bias", TensorView::new(Dtype::F32, vec![k], &bb)?),
            ("feature_mean", TensorView::new(Dtype::F32, vec![f], &mb)?),
            ("feature_std", TensorView::new(Dtype::F32, vec![f], &sb)?),
        ];
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert(
            "categories".to_string(),
            serde_json::to_string(&Category::ALL.iter().map(|c| c.name()).collect::<Vec<_>>())?,
        );
        meta.insert(
            "feature_spec".to_string(),
            serde_json::to_string(&self.spec)?,
        );
        meta.insert("train_examples".to_string(), n_examples.to_string());
        meta.insert(
            "train_accuracy".to_string(),
            format!("{:.4}", self.train_accuracy),
        );
        let data = safetensors::serialize(tensors, Some(meta))
            .with_context(|| format!("serialising CARD model for {}", path.display()))?;
        std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Load and validate a model file; every error names the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let p = path.display().to_string();
        let data = std::fs::read(path).with_context(|| format!("reading CARD model {p}"))?;
        Self::from_bytes(&data, &p).with_context(|| format!("loading CARD model {p}"))
    }

    fn from_bytes(data: &[u8], name: &str) -> anyhow::Result<Self> {
        let (_, meta) = SafeTensors::read_metadata(data).context("not a safetensors file")?;
        let md = meta.metadata().clone().unwrap_or_default();
        let get = |k: &str| {
            md.get(k)
                .ok_or_else(|| anyhow::anyhow!("metadata key {k:?} missing"))
        };
        if get("format")? != FORMAT {
            anyhow::bail!(
                "metadata format is {:?}, expected {FORMAT:?}",
                get("format")?
            );
        }
        let cats: Vec<String> =
            serde_json::from_str(get("categories")?).context("metadata categories")?;
        let expect: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
        if cats != expect {
            anyhow::bail!("categories {cats:?} differ from {expect:?}");
        }
        let spec: FeatureSpec =
            serde_json::from_str(get("feature_spec")?).context("metadata feature_spec")?;
        if spec.rule_features != rule_feature_names() {
            anyhow::bail!(
                "rule features {:?} differ from this build's {:?}; refit the model",
                spec.rule_features,
                rule_feature_names()
            );
        }
        let st = SafeTensors::deserialize(data).context("reading tensors")?;
        let k = Category::ALL.len();
        let f = spec.len();
        let read = |n: &str, shape: &[usize]| -> anyhow::Result<Vec<f32>> {
            let t = st
                .tensor(n)
                .map_err(|e| anyhow::anyhow!("tensor {n:?}: {e}"))?;
            if t.dtype() != Dtype::F32 {
                anyhow::bail!("tensor {n:?} has dtype {:?}, expected F32", t.dtype());
            }
            if t.shape() != shape {
                anyhow::bail!(
                    "tensor {n:?} has shape {:?}, expected {:?}",
                    t.shape(),
                    shape
                );
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let weight = read("weight", &[k, f])?;
        let bias = read("bias", &[k])?;
        let mean = read("feature_mean", &[f])?;
        let std = read("feature_std", &[f])?;
        if std.iter().any(|s| !(s.is_finite() && *s > 0.0)) || weight.iter().any(|w| !w.is_finite())
        {
            anyhow::bail!("non-finite weights or non-positive feature_std");
        }
        let train_accuracy = md
            .get("train_accuracy")
            .and_then(|s| s.parse().ok())
            .unwrap_or(f32::NAN);
        Ok(LearnedPredictor {
            spec,
            weight,
            bias,
            mean,
            std,
            name: format!("learned:{name}"),
            train_accuracy,
        })
    }
}

fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

impl Predictor for LearnedPredictor {
    fn name(&self) -> &str {
        &self.name
    }
    fn predict(&self, input: &CardInput) -> anyhow::Result<Prediction> {
        let p = self
            .probabilities(input)
            .with_context(|| format!("CARD model {}", self.name))?;
        let c = argmax(&p);
        let category = Category::ALL[c];
        let a = analyze(input.prompt);
        let (complexity, tier, notes) = complexity_and_tier(category, &a, input.image);
        let mut reason = format!("{category} (p = {:.2}, learned)", p[c]);
        if !notes.is_empty() {
            reason.push_str("; ");
            reason.push_str(&notes.join(", "));
        }
        Ok(Prediction {
            category,
            complexity,
            tier,
            reason,
        })
    }
}
