//! Scoring: complexity and tier from the rule analysis and image cues, the rule features the learned
//! predictor reads, and the rule predictor itself.
use crate::adaptive::lexicon::Cue;
use crate::category::Category;

use super::clauses::{analyze, Analysis};
use super::cues::{cue_slot, N_CUES};
use super::types::{BaseTier, CardInput, ImageCues, Prediction, Predictor, Tier};

/// Tier and complexity of an edit of `category` given the rule analysis and optional image cues.
/// Returns (complexity, tier, notes).
pub fn complexity_and_tier(
    category: Category,
    a: &Analysis,
    image: Option<&ImageCues>,
) -> (f32, Tier, Vec<String>) {
    let mut notes = Vec::new();
    let mut tier = category.base_tier();
    if !a.dynamics.is_empty() && tier != Tier::High {
        tier = Tier::High;
        notes.push(format!("dynamics cue \"{}\"", a.dynamics[0]));
    } else if !a.dynamics.is_empty() {
        notes.push(format!("dynamics cue \"{}\"", a.dynamics[0]));
    }
    let n_edits = if category == Category::Compose {
        a.edits.len().max(2)
    } else {
        1
    };
    if n_edits >= 2 {
        tier = Tier::High;
        notes.push(format!("{n_edits} edits"));
    }
    // position inside the band, in band units
    let mut pos: f32 = match category {
        Category::Adjust => 0.35,
        Category::Style => 0.45,
        Category::Background => 0.6,
        Category::Extract => 0.3,
        Category::Remove => 0.4,
        Category::Add => 0.5,
        Category::Replace => 0.6,
        Category::Action => 0.45,
        Category::Compose => 0.45,
    };
    if tier != category.base_tier() {
        pos = 0.3;
    }
    let cnt = |c: Cue| a.cue_counts[cue_slot(c)] as f32;
    if cnt(Cue::Quantity) > 0.0 {
        pos += 0.1;
    }
    if cnt(Cue::Spatial) > 0.0 {
        pos += 0.1;
    }
    if a.n_tokens > 20 {
        pos += 0.1;
    }
    if category != Category::Action && !a.actions.is_empty() {
        pos += 0.2;
        notes.push(format!("action cue \"{}\"", a.actions[0]));
    }
    pos += 0.15 * (a.dynamics.len().saturating_sub(1) as f32).min(2.0);
    pos += 0.15 * (n_edits.saturating_sub(2) as f32).min(2.0);
    if let Some(img) = image {
        if tier != Tier::Low && img.edge_density > 0.15 {
            pos += 0.1;
            notes.push("cluttered image".to_string());
        }
        if let Some(cov) = img.mask_coverage {
            if tier != Tier::Low && cov > 0.4 {
                pos += 0.15;
                notes.push(format!("mask covers {:.0}%", cov * 100.0));
            } else if tier != Tier::Low && cov < 0.03 {
                pos -= 0.15;
                notes.push(format!("mask covers {:.1}%", cov * 100.0));
            }
        }
    }
    let (blo, bhi) = tier.band();
    let pos = pos.clamp(0.0, 0.99);
    (blo + pos * (bhi - blo), tier, notes)
}

/// Names of [`rule_features`], in order.
pub fn rule_feature_names() -> Vec<String> {
    let mut v: Vec<String> = Category::ALL
        .iter()
        .map(|c| format!("rule_{}", c.name()))
        .collect();
    for k in 0..N_CUES {
        v.push(format!("cue_{}", cue_name(k)));
    }
    for n in [
        "edits",
        "dynamics",
        "actions",
        "tokens_div20",
        "has_image",
        "edge_density",
        "colorfulness",
        "mask_coverage",
    ] {
        v.push(n.to_string());
    }
    v
}

fn cue_name(slot: usize) -> String {
    const CUES: [Cue; N_CUES] = [
        Cue::AddVerb,
        Cue::RemoveVerb,
        Cue::ReplaceVerb,
        Cue::ChangeVerb,
        Cue::PutVerb,
        Cue::ExtractVerb,
        Cue::ExtractPhrase,
        Cue::StyleVerb,
        Cue::StyleTerm,
        Cue::AdjustVerb,
        Cue::AttributeTerm,
        Cue::AttributeHead,
        Cue::EffectTerm,
        Cue::BackgroundTerm,
        Cue::SceneTerm,
        Cue::ActionVerb,
        Cue::PoseTerm,
        Cue::BodyPart,
        Cue::DynamicsVerb,
        Cue::Into,
        Cue::Indefinite,
        Cue::Definite,
        Cue::Negator,
        Cue::Quantity,
        Cue::Spatial,
        Cue::Sequencer,
        Cue::Instead,
    ];
    CUES.iter()
        .find(|c| cue_slot(**c) == slot)
        .map(|c| format!("{c:?}"))
        .unwrap_or_else(|| format!("{slot}"))
}

/// The rule features of an instruction (and image), in the order of [`rule_feature_names`].
pub fn rule_features(a: &Analysis, image: Option<&ImageCues>) -> Vec<f32> {
    let mut v = vec![0f32; Category::ALL.len()];
    v[a.category.index()] = 1.0;
    v.extend(a.cue_counts.iter().map(|&c| c as f32));
    v.push(a.edits.len() as f32);
    v.push(a.dynamics.len() as f32);
    v.push(a.actions.len() as f32);
    v.push(a.n_tokens as f32 / 20.0);
    v.push(image.is_some() as u8 as f32);
    v.push(image.map(|i| i.edge_density).unwrap_or(0.0));
    v.push(image.map(|i| i.colorfulness).unwrap_or(0.0));
    v.push(image.and_then(|i| i.mask_coverage).unwrap_or(0.0));
    v
}

/// The default, model-free predictor.
#[derive(Debug, Clone, Copy, Default)]
pub struct RulePredictor;

impl Predictor for RulePredictor {
    fn name(&self) -> &str {
        "rules"
    }
    fn predict(&self, input: &CardInput) -> anyhow::Result<Prediction> {
        let a = analyze(input.prompt);
        let (complexity, tier, notes) = complexity_and_tier(a.category, &a, input.image);
        let mut reason = format!("{} from {}", a.category, a.deciding);
        if !notes.is_empty() {
            reason.push_str("; ");
            reason.push_str(&notes.join(", "));
        }
        Ok(Prediction {
            category: a.category,
            complexity,
            tier,
            reason,
        })
    }
}
