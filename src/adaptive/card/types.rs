//! CARD's public types: the reasoning [`Tier`], the image cues, a predictor's input and verdict, the
//! [`Predictor`] trait, and CARD's category → base tier mapping ([`BaseTier`]).
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::category::Category;

/// CARD's reading of a category: the tier of a single edit of it without dynamics cues. This is
/// CARD's knowledge (appearance-level edits need little reasoning, structural ones the most), so it
/// lives here and not on the ground-floor [`Category`] type.
pub trait BaseTier {
    fn base_tier(self) -> Tier;
}

impl BaseTier for Category {
    fn base_tier(self) -> Tier {
        match self {
            Category::Adjust | Category::Style | Category::Background => Tier::Low,
            Category::Add | Category::Remove | Category::Replace | Category::Extract => Tier::Mid,
            Category::Action | Category::Compose => Tier::High,
        }
    }
}

/// Reasoning tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// appearance-level: adjust, style, background
    Low,
    /// object-level: add, remove, replace, extract
    Mid,
    /// structural or physical: actions, poses, dynamics, several edits
    High,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Low, Tier::Mid, Tier::High];
    pub fn name(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Mid => "mid",
            Tier::High => "high",
        }
    }
    /// The complexity band `[lo, hi)` of the tier (high includes 1).
    pub fn band(self) -> (f32, f32) {
        match self {
            Tier::Low => (0.0, 1.0 / 3.0),
            Tier::Mid => (1.0 / 3.0, 2.0 / 3.0),
            Tier::High => (2.0 / 3.0, 1.0),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tier {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Tier::Low),
            "mid" => Ok(Tier::Mid),
            "high" => Ok(Tier::High),
            _ => anyhow::bail!("unknown tier {s:?}; expected low, mid or high"),
        }
    }
}

/// Cheap cues from the reference image (and, when the pipeline has one, the SRM mask).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageCues {
    pub width: u32,
    pub height: u32,
    /// Fraction of pixels of a 64×64 grey thumbnail whose Sobel gradient magnitude exceeds 0.25
    /// (intensities in [0, 1]): a clutter measure.
    pub edge_density: f32,
    /// Hasler–Süsstrunk colourfulness of the thumbnail, divided by 100 (intensities in [0, 255]).
    pub colorfulness: f32,
    /// Fraction of latent tokens the SRM mask keeps, when known.
    pub mask_coverage: Option<f32>,
}

/// Thumbnail side used by [`ImageCues::from_rgb`].
const THUMB: usize = 64;

impl ImageCues {
    /// Decode an image file and compute its cues.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let img = image::open(path).with_context(|| format!("reading image {}", path.display()))?;
        let rgb = img.to_rgb8();
        Ok(Self::from_rgb(rgb.width(), rgb.height(), rgb.as_raw()))
    }

    /// Cues of an interleaved RGB8 image (`data.len() == 3 * width * height`; a shorter buffer is
    /// read as far as it goes).
    pub fn from_rgb(width: u32, height: u32, data: &[u8]) -> Self {
        let (w, h) = (width as usize, height as usize);
        let mut grey = vec![0f32; THUMB * THUMB];
        let (mut rg, mut yb) = (
            Vec::with_capacity(THUMB * THUMB),
            Vec::with_capacity(THUMB * THUMB),
        );
        if w > 0 && h > 0 {
            for ty in 0..THUMB {
                for tx in 0..THUMB {
                    let x = (tx * w + w / 2) / THUMB;
                    let y = (ty * h + h / 2) / THUMB;
                    let i = 3 * (y.min(h - 1) * w + x.min(w - 1));
                    let (r, g, b) = match data.get(i..i + 3) {
                        Some(p) => (p[0] as f32, p[1] as f32, p[2] as f32),
                        None => (0.0, 0.0, 0.0),
                    };
                    grey[ty * THUMB + tx] = (0.299 * r + 0.587 * g + 0.114 * b) / 255.0;
                    rg.push(r - g);
                    yb.push(0.5 * (r + g) - b);
                }
            }
        }
        let mut edges = 0usize;
        for y in 1..THUMB - 1 {
            for x in 1..THUMB - 1 {
                let p = |dx: isize, dy: isize| {
                    grey[((y as isize + dy) as usize) * THUMB + (x as isize + dx) as usize]
                };
                let gx = p(1, -1) + 2.0 * p(1, 0) + p(1, 1) - p(-1, -1) - 2.0 * p(-1, 0) - p(-1, 1);
                let gy = p(-1, 1) + 2.0 * p(0, 1) + p(1, 1) - p(-1, -1) - 2.0 * p(0, -1) - p(1, -1);
                if (gx * gx + gy * gy).sqrt() > 0.25 {
                    edges += 1;
                }
            }
        }
        let stats = |v: &[f32]| {
            if v.is_empty() {
                return (0.0, 0.0);
            }
            let m = v.iter().sum::<f32>() / v.len() as f32;
            let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / v.len() as f32;
            (m, var.sqrt())
        };
        let (mrg, srg) = stats(&rg);
        let (myb, syb) = stats(&yb);
        let colorfulness =
            ((srg * srg + syb * syb).sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt()) / 100.0;
        ImageCues {
            width,
            height,
            edge_density: edges as f32 / ((THUMB - 2) * (THUMB - 2)) as f32,
            colorfulness,
            mask_coverage: None,
        }
    }

    pub fn with_mask_coverage(mut self, coverage: f32) -> Self {
        self.mask_coverage = Some(coverage.clamp(0.0, 1.0));
        self
    }
}

/// Everything a predictor may look at. Embeddings are what the pipeline computes anyway (the
/// text encoder's output pooled over the prompt's tokens, the CLIP image embedding pooled over tokens);
/// the rule predictor ignores them.
#[derive(Debug, Clone, Copy, Default)]
pub struct CardInput<'a> {
    pub prompt: &'a str,
    pub image: Option<&'a ImageCues>,
    pub text_embedding: Option<&'a [f32]>,
    pub image_embedding: Option<&'a [f32]>,
}

impl<'a> CardInput<'a> {
    pub fn new(prompt: &'a str) -> Self {
        CardInput {
            prompt,
            ..Default::default()
        }
    }
}

/// A predictor's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub category: Category,
    pub complexity: f32,
    pub tier: Tier,
    /// Short human-readable justification.
    pub reason: String,
}

/// Predicts category, complexity and tier of an edit.
pub trait Predictor: Send + Sync {
    /// Name shown in plans ("rules", "learned:FILE").
    fn name(&self) -> &str;
    fn predict(&self, input: &CardInput) -> anyhow::Result<Prediction>;
}
