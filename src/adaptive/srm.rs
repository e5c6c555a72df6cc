//! SRM — the spatial reasoning mask.
//!
//! A probe forward captures the text cross-attention probabilities of a few transformer blocks for
//! the output frame's queries ([`crate::models::transformer::CaptureSpec`]; the probabilities are
//! materialised only in the captured blocks and only in the probe forward). They are averaged over
//! heads and blocks by the transformer, then over the instruction's content tokens here
//! ([`content_tokens`]: words mapped to token positions through the tokenizer's offsets; padding,
//! EOS, punctuation and stop words dropped). The resulting relevance map over the output frame's
//! token grid is min–max normalised, thresholded ([`Threshold::Otsu`] or a percentile), dilated by a
//! few tokens, and replaced by the full frame when degenerate ([`mask_from_map`]).
//!
//! During the reasoning phase the pipeline computes, in the intermediate (reasoning) latent frames,
//! only the tokens inside the mask ([`reasoning_token_keep`]); the input and the output frame stay
//! whole, and kept tokens keep their own RoPE positions (the transformer's `token_keep` hook).
//! What dropped tokens receive as model output is decided in `pipeline::chronoedit` (a frozen clean
//! estimate, see there).
use crate::processors::prompt::EncodedPrompt;

/// How the relevance map becomes a binary mask.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Threshold {
    /// Otsu's threshold on a 256-bin histogram of the normalised map.
    Otsu,
    /// Keep tokens at or above this percentile (0–100) of the map.
    Percentile(f32),
}

/// When the cross-attention probabilities are captured.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Probe {
    /// During the conditional forward of the first denoising step (which then runs unpruned); the
    /// mask applies from the second step.
    FirstStep,
    /// A dedicated conditional forward before the loop, on the reasoning video noised to `sigma`
    /// around the input frame's latent (`(1 − σ)·x_in + σ·noise`, timestep `1000·σ`); the mask applies
    /// from the first step.
    Pass { sigma: f32 },
    /// A mask given by the caller (ablations and tests); no probe runs and the mask is used as is,
    /// even when it is full or empty.
    Given(TokenMask),
}

/// SRM settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SrmConfig {
    pub probe: Probe,
    /// Blocks whose cross-attention is captured; None: the middle third ([`default_layers`]).
    pub layers: Option<Vec<usize>>,
    pub threshold: Threshold,
    /// Dilation radius in tokens (square neighbourhood).
    pub dilate: usize,
    /// A mask keeping fewer than this fraction of the tokens (or none) is degenerate.
    pub min_coverage: f32,
    /// A mask keeping more than this fraction is not worth pruning: the full frame is used.
    pub max_coverage: f32,
}

impl Default for SrmConfig {
    fn default() -> Self {
        SrmConfig {
            probe: Probe::FirstStep,
            layers: None,
            threshold: Threshold::Otsu,
            dilate: 1,
            min_coverage: 0.02,
            max_coverage: 0.95,
        }
    }
}

/// A binary mask over one latent frame's token grid (`h × w` tokens after patching, row-major).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenMask {
    pub h: usize,
    pub w: usize,
    pub keep: Vec<bool>,
    /// Why the full frame is used instead of the thresholded map (None when the map was used).
    pub fallback: Option<String>,
}

impl TokenMask {
    pub fn full(h: usize, w: usize) -> Self {
        TokenMask {
            h,
            w,
            keep: vec![true; h * w],
            fallback: None,
        }
    }

    pub fn empty(h: usize, w: usize) -> Self {
        TokenMask {
            h,
            w,
            keep: vec![false; h * w],
            fallback: None,
        }
    }

    pub fn count(&self) -> usize {
        self.keep.iter().filter(|&&k| k).count()
    }

    /// Fraction of the frame's tokens kept.
    pub fn coverage(&self) -> f64 {
        if self.keep.is_empty() {
            return 0.0;
        }
        self.count() as f64 / self.keep.len() as f64
    }

    pub fn is_full(&self) -> bool {
        self.keep.iter().all(|&k| k)
    }

    /// Intersection over union (1 when both are empty).
    pub fn iou(&self, other: &TokenMask) -> f64 {
        let (mut i, mut u) = (0usize, 0usize);
        for (&a, &b) in self.keep.iter().zip(&other.keep) {
            i += (a && b) as usize;
            u += (a || b) as usize;
        }
        if u == 0 {
            1.0
        } else {
            i as f64 / u as f64
        }
    }

    /// Dilated by `r` tokens (square neighbourhood, clipped at the borders).
    /// The mask on a latent grid of `lh × lw` cells (row-major), each token covering `ph × pw`
    /// cells (the transformer's spatial patch); cells past the token grid take the last token.
    pub fn latent_cells(&self, lh: usize, lw: usize, (ph, pw): (usize, usize)) -> Vec<bool> {
        let mut v = Vec::with_capacity(lh * lw);
        for y in 0..lh {
            for x in 0..lw {
                v.push(self.keep[(y / ph).min(self.h - 1) * self.w + (x / pw).min(self.w - 1)]);
            }
        }
        v
    }

    pub fn dilated(&self, r: usize) -> TokenMask {
        if r == 0 {
            return self.clone();
        }
        let (h, w) = (self.h, self.w);
        let mut out = vec![false; h * w];
        for y in 0..h {
            for x in 0..w {
                if !self.keep[y * w + x] {
                    continue;
                }
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        out[yy * w + xx] = true;
                    }
                }
            }
        }
        TokenMask {
            h,
            w,
            keep: out,
            fallback: self.fallback.clone(),
        }
    }
}

/// The middle third of `num_layers` blocks (at least one): early blocks attend diffusely, the last

/// ones are specialised for the output projection.
pub fn default_layers(num_layers: usize) -> Vec<usize> {
    if num_layers == 0 {
        return Vec::new();
    }
    let start = num_layers / 3;
    let end = (2 * num_layers).div_ceil(3).max(start + 1).min(num_layers);
    (start..end).collect()
}

/// English function words and instruction filler that name no region of the image.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "by", "for", "with",
    "from", "into", "onto", "over", "under", "up", "down", "out", "off", "as", "is", "are", "be",
    "it", "its", "this", "that", "these", "those", "there", "their", "them", "they", "he", "she",
    "his", "her", "him", "i", "me", "my", "we", "our", "you", "your", "so", "then", "than", "too",
    "very", "just", "all", "some", "any", "each", "both", "please", "can", "could", "would",
    "should", "will", "let", "lets", "s", "make", "made", "image", "picture", "photo", "scene",
    "now", "while", "which", "who", "what", "where", "when", "how", "not", "no", "if", "has",
    "have", "had", "do", "does", "did", "been", "being", "was", "were", "same", "other", "one",
];

pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// A content token of the instruction: its position in the text sequence and its word.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ContentToken {
    pub index: usize,
    pub word: String,
}

/// The instruction's content tokens: every real token whose character span (tokenizer offsets into
/// the cleaned prompt) touches a word that is not a stop word. Padding (beyond `len`), special tokens
/// (empty spans, e.g. EOS) and punctuation-only tokens are dropped. A word split into several tokens
/// contributes all of them.
pub fn content_tokens(enc: &EncodedPrompt) -> Vec<ContentToken> {
    let chars: Vec<char> = enc.cleaned.chars().collect();
    let mut out = Vec::new();
    for (index, &(s, e)) in enc.offsets.iter().enumerate().take(enc.len) {
        if s >= e || e > chars.len() {
            continue;
        }
        let Some(first) = (s..e).find(|&c| chars[c].is_alphanumeric()) else {
            continue;
        };
        let mut a = first;
        while a > 0 && chars[a - 1].is_alphanumeric() {
            a -= 1;
        }
        let mut b = first;
        while b < chars.len() && chars[b].is_alphanumeric() {
            b += 1;
        }
        let word: String = chars[a..b].iter().collect::<String>().to_lowercase();
        if is_stop_word(&word) {
            continue;
        }
        out.push(ContentToken { index, word });
    }
    out
}

/// Per-query relevance: the mean, over the given text columns, of captured probabilities
/// `probs` (`nq × nc`, row-major).
pub fn relevance(probs: &[f32], nq: usize, nc: usize, columns: &[usize]) -> Vec<f32> {
    (0..nq)
        .map(|q| {
            let row = &probs[q * nc..(q + 1) * nc];
            let s: f32 = columns.iter().filter(|&&c| c < nc).map(|&c| row[c]).sum();
            s / columns.len().max(1) as f32
        })
        .collect()
}

/// Otsu's threshold of values in [0, 1] (256 bins): the bin edge maximising between-class variance.
pub fn otsu_threshold(values: &[f32]) -> f32 {
    const BINS: usize = 256;
    let mut hist = [0usize; BINS];
    for &v in values {
        let b = ((v.clamp(0.0, 1.0) * (BINS - 1) as f32).round()) as usize;
        hist[b] += 1;
    }
    let total = values.len() as f64;
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut sum0) = (0f64, 0f64);
    let (mut best, mut best_t) = (-1f64, 0usize);
    for (t, &c) in hist.iter().enumerate() {
        w0 += c as f64;
        sum0 += t as f64 * c as f64;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let m0 = sum0 / w0;
        let m1 = (sum_all - sum0) / w1;
        let var = w0 * w1 * (m0 - m1) * (m0 - m1);
        if var > best {
            best = var;
            best_t = t;
        }
    }
    // Values in bins <= best_t form the background class.
    (best_t as f32 + 0.5) / (BINS - 1) as f32
}

/// The mask from a relevance map over an `h × w` token grid.
pub fn mask_from_map(map: &[f32], h: usize, w: usize, cfg: &SrmConfig) -> TokenMask {
    let n = h * w;
    let fallback = |why: String| TokenMask {
        fallback: Some(why),
        ..TokenMask::full(h, w)
    };
    if map.len() != n || n == 0 {
        return fallback(format!(
            "relevance map has {} values for {h}x{w} tokens",
            map.len()
        ));
    }
    if map.iter().any(|v| !v.is_finite()) {
        return fallback("relevance map is not finite".into());
    }
    let lo = map.iter().cloned().fold(f32::INFINITY, f32::min);
    let hi = map.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    if hi - lo <= 1e-12 * hi.abs().max(1e-30) {
        return fallback("relevance map is flat".into());
    }
    let norm: Vec<f32> = map.iter().map(|v| (v - lo) / (hi - lo)).collect();
    let keep: Vec<bool> = match cfg.threshold {
        Threshold::Otsu => {
            let t = otsu_threshold(&norm);
            norm.iter().map(|&v| v > t).collect()
        }
        Threshold::Percentile(p) => {
            let mut sorted = norm.clone();
            sorted.sort_by(|a, b| a.total_cmp(b));
            let k = ((p.clamp(0.0, 100.0) / 100.0) * (n - 1) as f32).round() as usize;
            let t = sorted[k.min(n - 1)];
            norm.iter().map(|&v| v >= t).collect()
        }
    };
    let m = TokenMask {
        h,
        w,
        keep,
        fallback: None,
    }
    .dilated(cfg.dilate);
    let cov = m.coverage() as f32;
    if m.count() == 0 || cov < cfg.min_coverage {
        return fallback(format!(
            "mask keeps {:.1}% of the tokens (< {:.1}%)",
            100.0 * cov,
            100.0 * cfg.min_coverage
        ));
    }
    if cov > cfg.max_coverage {
        return fallback(format!(
            "mask keeps {:.1}% of the tokens (> {:.1}%)",
            100.0 * cov,
            100.0 * cfg.max_coverage
        ));
    }
    m
}

/// Token indices (frame-major, `frames × h × w`) computed with the mask: the first and the last
/// latent frame whole, the frames between them only inside the mask.
pub fn reasoning_token_keep(mask: &TokenMask, frames: usize) -> Vec<u32> {
    let hw = mask.h * mask.w;
    let mut keep = Vec::with_capacity(frames * hw);
    for f in 0..frames {
        let whole = f == 0 || f + 1 == frames;
        for (j, &k) in mask.keep.iter().enumerate() {
            if whole || k {
                keep.push((f * hw + j) as u32);
            }
        }
    }
    keep
}

/// The mask over an image, for a person to look at: pixels outside the mask are darkened and
/// tinted, pixels inside are left as they are.
pub fn mask_overlay(image: &image::RgbImage, mask: &TokenMask) -> image::RgbImage {
    let (iw, ih) = image.dimensions();
    let mut out = image.clone();
    if mask.h == 0 || mask.w == 0 {
        return out;
    }
    for (x, y, p) in out.enumerate_pixels_mut() {
        let ty = ((y as usize * mask.h) / ih as usize).min(mask.h - 1);
        let tx = ((x as usize * mask.w) / iw as usize).min(mask.w - 1);
        if !mask.keep[ty * mask.w + tx] {
            let [r, g, b] = p.0;
            p.0 = [
                (r as f32 * 0.25 + 40.0) as u8,
                (g as f32 * 0.25) as u8,
                (b as f32 * 0.25 + 40.0) as u8,
            ];
        }
    }
    out
}
