//! Plans: what the pipeline runs for one edit, the tier → plan table, and the built-in recipes.
//!
//! A [`Plan`] says how many denoising steps to run (`steps`), for how many of the first steps the
//! latent video carries reasoning frames (`reasoning_steps`, N_r), how many intermediate latent
//! frames it carries then (`reasoning_frames`, r, between the input and the output frame), whether the
//! spatial reasoning mask prunes the reasoning frames' tokens (`srm`) and the CFG scale (`guidance`).
//!
//! How the pipeline executes a plan:
//! * `num_frames = plan.num_frames()` video frames (4·(r + 1) + 1: 29 for r = 6, 5 for r = 0), i.e.
//!   `plan.latent_frames()` = r + 2 latent frames;
//! * the latent frames take temporal RoPE positions `plan.temporal_positions(rope_temporal_skip_len)`
//!   (see [`temporal_positions`]); the output frame always keeps position skip_len − 1;
//! * for steps `i < reasoning_steps` all r + 2 frames are denoised; at step `i == reasoning_steps` the
//!   latents, the condition and the scheduler state keep only the first and last latent frame, as the
//!   reference does at `num_temporal_reasoning_steps`;
//! * `r == 0` ⇔ `reasoning_steps == 0` (a plan never has one without the other), and `srm` is false
//!   whenever there is no reasoning phase.
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::accel::Acceleration;
use super::card::{CardInput, Prediction, Predictor, Tier};
use crate::category::Category;

/// The reference recipe's step count and CFG scale.
pub const REFERENCE_STEPS: usize = 50;
pub const REFERENCE_GUIDANCE: f32 = 5.0;
/// Reasoning frames the 14B model was trained with (rope_temporal_skip_len 8 minus input and output).
pub const TRAINED_REASONING_FRAMES: usize = 6;
/// N_r of the `chronoedit-short` recipe.
pub const SHORT_REASONING_STEPS: usize = 10;
/// ChronoEdit's 8-step distillation LoRA: its steps, CFG scale (1: one transformer pass per step) and
/// flow shift, as ChronoEdit's README runs it. The recipes need that LoRA (`--lora`); PhysEdit cannot
/// ship it.
pub const DISTILL_STEPS: usize = 8;
pub const DISTILL_GUIDANCE: f32 = 1.0;
pub const DISTILL_FLOW_SHIFT: f64 = 2.0;
/// ComfyUI's ChronoEdit template (`image_chrono_edit_14B.json` in Comfy-Org/workflow_templates):
/// KSampler 20 steps, CFG 4, `uni_pc` with the `simple` schedule; ModelSamplingSD3 shift 5;
/// WanImageToVideo length 5 (2 latent frames, no reasoning).
pub const TEMPLATE_STEPS: usize = 20;
pub const TEMPLATE_GUIDANCE: f32 = 4.0;
pub const TEMPLATE_FLOW_SHIFT: f64 = 5.0;

/// What the pipeline runs for one edit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Recipe that produced the plan.
    pub recipe: String,
    /// Predictor that classified the instruction.
    pub predictor: String,
    pub category: Category,
    pub complexity: f32,
    pub tier: Tier,
    pub steps: usize,
    pub reasoning_steps: usize,
    pub reasoning_frames: usize,
    pub srm: bool,
    pub guidance: f32,
    /// Flow shift of the sampler instead of the model folder's scheduler config (the distilled
    /// recipes' 2.0); None: the folder's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_shift: Option<f64>,
    /// Accelerations stacked on the plan (RPFI, step caching, guidance tail); off for the
    /// reference recipes.
    #[serde(skip_serializing_if = "Acceleration::is_off")]
    pub accel: Acceleration,
    pub reason: String,
}

impl Plan {
    /// Latent frames during the reasoning phase (input + r + output); 2 without reasoning.
    pub fn latent_frames(&self) -> usize {
        if self.reasoning_steps == 0 {
            2
        } else {
            self.reasoning_frames + 2
        }
    }

    /// Video frames the pipeline asks for: 4·(latent_frames − 1) + 1.
    pub fn num_frames(&self) -> usize {
        4 * (self.latent_frames() - 1) + 1
    }

    /// Temporal RoPE positions of the reasoning-phase latent frames (see [`temporal_positions`]).
    pub fn temporal_positions(&self, skip_len: usize) -> Vec<usize> {
        temporal_positions(self.latent_frames() - 2, skip_len)
    }

    /// Whether denoising step `i` (0-based) still carries the reasoning frames.
    pub fn reasoning_active(&self, i: usize) -> bool {
        i < self.reasoning_steps
    }
}

/// Temporal RoPE positions for r reasoning frames between the input and the output frame.
///
/// The input frame takes position 0 and the output frame `skip_len - 1`, the position it had in
/// training (the 14B model was trained on 8-frame latent videos; the reference gives a 2-frame video
/// positions [0, 7]). The r reasoning frames are spread evenly between them: frame i (1 ≤ i ≤ r) takes
/// `round(i · (skip_len − 1) / (r + 1))`, rounding halves up. With r = skip_len − 2 this is 0..skip_len
/// (the default positions); with fewer frames each keeps the spacing of a uniformly subsampled
/// trajectory, so the remaining frames sit where frames at those times sat in training. Positions are
/// strictly increasing when r ≤ skip_len − 2. For r > skip_len − 2 (more frames than the trained
/// span) the positions are the contiguous 0..r+2, as the reference uses for any video that is not
/// 2 frames long.
pub fn temporal_positions(r: usize, skip_len: usize) -> Vec<usize> {
    if skip_len < 2 || r + 2 > skip_len {
        return (0..r + 2).collect();
    }
    let last = skip_len - 1;
    let mut v = Vec::with_capacity(r + 2);
    v.push(0);
    for i in 1..=r {
        // floor(i·last/(r+1) + 1/2) in integers
        v.push((2 * i * last + (r + 1)) / (2 * (r + 1)));
    }
    v.push(last);
    v
}

/// The plan for one tier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierPlan {
    pub reasoning_steps: usize,
    pub reasoning_frames: usize,
    #[serde(default)]
    pub srm: bool,
    /// `physedit-fast`'s steps for this tier (None: the table's `fast_steps`): a colour swap does
    /// not need the steps a topple needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast_steps: Option<usize>,
}

/// The tier → plan table (config/plan_table.toml documents the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTable {
    #[serde(default = "default_steps")]
    pub steps: usize,
    #[serde(default = "default_guidance")]
    pub guidance: f32,
    /// Largest r the model supports (rope_temporal_skip_len − 2; 6 for ChronoEdit-14B).
    #[serde(default = "default_max_r")]
    pub max_reasoning_frames: usize,
    pub low: TierPlan,
    pub mid: TierPlan,
    pub high: TierPlan,
    /// Accelerations of the `physedit` and `card-only` recipes (default: none, the exact plan).
    #[serde(default)]
    pub accel: Acceleration,
    /// Accelerations `physedit-fast` adds on top of `accel`.
    #[serde(default = "default_fast")]
    pub fast: Acceleration,
    /// Denoising steps of `physedit-fast` (N_r keeps its share, as `--steps`); `None`: `steps`.
    #[serde(
        default = "default_fast_steps",
        skip_serializing_if = "Option::is_none"
    )]
    pub fast_steps: Option<usize>,
    /// Accelerations `physedit-turbo` adds on top of `accel` (on the distilled sampler).
    #[serde(default = "default_turbo")]
    pub turbo: Acceleration,
}

fn default_steps() -> usize {
    REFERENCE_STEPS
}
fn default_guidance() -> f32 {
    REFERENCE_GUIDANCE
}
/// `physedit-fast`'s step count where its tier names none (no shipped tier does), with
/// [`default_fast`]'s flow shift: chosen from the frontier in BENCHMARKS.md, which says how (tuning and
/// validation slices of the world's train split; a PSNR of at least 30 dB mean and 25 dB worst case to
/// the exact 50-step plan's as the bar).
pub fn default_fast_steps() -> Option<usize> {
    Some(6)
}
fn default_max_r() -> usize {
    TRAINED_REASONING_FRAMES
}

/// What `physedit-fast` adds, as the frontier in BENCHMARKS.md picked it: flow shift 4 (the few steps
/// placed at higher noise than the folder's shift places them). On so short a schedule every step
/// cache and the guidance tail cost more fidelity (worst case below 25 dB on the tuning slice) than
/// they saved, and a third-order solver changed nothing measurable.
pub const FAST_FLOW_SHIFT: f64 = 4.0;

pub fn default_fast() -> Acceleration {
    Acceleration {
        flow_shift: Some(FAST_FLOW_SHIFT),
        ..Acceleration::default()
    }
}

/// `physedit-turbo`'s step cache on the distilled sampler: the easy rule at 0.1 (at most 3 reuses in
/// a row), as `physedit-fast` used it at 50 steps. Not tuned: the bundled model has no distillation
/// LoRA to judge its pictures by.
pub fn default_turbo() -> Acceleration {
    use super::accel::{CachePolicy, CacheSettings};
    Acceleration {
        cache: Some(CacheSettings::new(CachePolicy::Easy, 0.1)),
        ..Acceleration::default()
    }
}

impl Default for PlanTable {
    /// Same values as config/plan_table.toml.
    fn default() -> Self {
        PlanTable {
            steps: REFERENCE_STEPS,
            guidance: REFERENCE_GUIDANCE,
            max_reasoning_frames: TRAINED_REASONING_FRAMES,
            low: TierPlan {
                reasoning_steps: 0,
                reasoning_frames: 0,
                srm: false,
                fast_steps: None,
            },
            mid: TierPlan {
                reasoning_steps: 10,
                reasoning_frames: 3,
                srm: true,
                fast_steps: None,
            },
            high: TierPlan {
                reasoning_steps: 10,
                reasoning_frames: 6,
                srm: true,
                fast_steps: None,
            },
            accel: Acceleration::default(),
            fast: default_fast(),
            fast_steps: default_fast_steps(),
            turbo: default_turbo(),
        }
    }
}

impl PlanTable {
    /// The paper's own table (config/plan_table_paper.toml documents how its (N_r, r) map here).
    pub fn paper() -> Self {
        let tier = |reasoning_steps, reasoning_frames| TierPlan {
            reasoning_steps,
            reasoning_frames,
            srm: reasoning_steps > 0,
            fast_steps: None,
        };
        PlanTable {
            low: tier(0, 0),
            mid: tier(8, 2),
            high: tier(15, 6),
            ..PlanTable::default()
        }
    }

    /// Parse and validate a table; errors name `origin` (a file path or "<string>").
    pub fn from_toml_str(text: &str, origin: &str) -> anyhow::Result<Self> {
        let t: PlanTable =
            toml::from_str(text).with_context(|| format!("parsing plan table {origin}"))?;
        t.validate()
            .with_context(|| format!("invalid plan table {origin}"))?;
        Ok(t)
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading plan table {}", path.display()))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    pub fn tier(&self, tier: Tier) -> &TierPlan {
        match tier {
            Tier::Low => &self.low,
            Tier::Mid => &self.mid,
            Tier::High => &self.high,
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.steps == 0 {
            anyhow::bail!("steps must be at least 1");
        }
        if !(self.guidance.is_finite() && self.guidance >= 0.0) {
            anyhow::bail!(
                "guidance must be a finite number >= 0, got {}",
                self.guidance
            );
        }
        self.accel.validate().context("[accel]")?;
        self.fast.validate().context("[fast]")?;
        self.turbo.validate().context("[turbo]")?;
        if self.fast_steps == Some(0) {
            anyhow::bail!("fast_steps must be at least 1");
        }
        for tier in Tier::ALL {
            let p = self.tier(tier);
            let name = tier.name();
            if p.reasoning_steps > self.steps {
                anyhow::bail!(
                    "[{name}] reasoning_steps = {} exceeds steps = {}",
                    p.reasoning_steps,
                    self.steps
                );
            }
            if p.reasoning_frames > self.max_reasoning_frames {
                anyhow::bail!(
                    "[{name}] reasoning_frames = {} exceeds max_reasoning_frames = {} (the model's trained span)",
                    p.reasoning_frames,
                    self.max_reasoning_frames
                );
            }
            if p.fast_steps == Some(0) {
                anyhow::bail!("[{name}] fast_steps must be at least 1");
            }
            if (p.reasoning_steps == 0) != (p.reasoning_frames == 0) {
                anyhow::bail!(
                    "[{name}] reasoning_steps = {} but reasoning_frames = {}: both must be 0 (no reasoning) or both positive",
                    p.reasoning_steps,
                    p.reasoning_frames
                );
            }
        }
        Ok(())
    }
}

/// Built-in recipes. The command line lists them in this order (`--recipe`, `--recipes`) with these
/// descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[value(rename_all = "kebab-case")]
pub enum Recipe {
    /// The reference: 29 frames (r = 6), reasoning through all 50 steps, CFG 5.
    ChronoeditReasoning,
    /// Reference frames, reasoning for the first 10 steps only.
    ChronoeditShort,
    /// 5 frames (r = 0), no reasoning.
    NoReasoning,
    /// CARD plan per tier from the table, SRM as the table says.
    Physedit,
    /// CARD plan per tier, SRM off.
    CardOnly,
    /// Reference reasoning depth (r = 6, N_r = 50) with SRM.
    SrmOnly,
    /// ComfyUI's ChronoEdit template, the recipe many users start from: 20 steps, CFG 4, flow shift
    /// 5, 5 frames, no reasoning. Same steps, guidance, shift and video length; PhysEdit's UniPC is
    /// diffusers' (bh2, its sigma schedule) where ComfyUI's `uni_pc` is bh1 on the `simple`
    /// schedule, and the template's long default negative prompt is not used — the cost per step
    /// is the same, the pictures are not bit-identical to ComfyUI's.
    ComfyTemplate,
    /// ChronoEdit's distilled sampler: 8 steps, CFG 1, flow shift 2, no reasoning (needs the
    /// distillation LoRA).
    ChronoeditDistill,
    /// CARD and SRM on the distilled sampler: the `physedit` plan with N_r keeping its share of 8
    /// steps, CFG 1, flow shift 2 (needs the distillation LoRA).
    PhyseditDistill,
    /// The `physedit` plan on fewer steps (the table's `fast_steps`, 8, or a tier's own; N_r keeps its
    /// share) with the accelerations of the table's `[fast]` section (none by default).
    PhyseditFast,
    /// `physedit-distill` with the table's `[turbo]` step cache: CARD, SRM and caching on the
    /// 8-step distilled sampler (needs the distillation LoRA).
    PhyseditTurbo,
}

impl Recipe {
    pub const ALL: [Recipe; 11] = [
        Recipe::ChronoeditReasoning,
        Recipe::ChronoeditShort,
        Recipe::NoReasoning,
        Recipe::ComfyTemplate,
        Recipe::Physedit,
        Recipe::CardOnly,
        Recipe::SrmOnly,
        Recipe::ChronoeditDistill,
        Recipe::PhyseditDistill,
        Recipe::PhyseditFast,
        Recipe::PhyseditTurbo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Recipe::ChronoeditReasoning => "chronoedit-reasoning",
            Recipe::ChronoeditShort => "chronoedit-short",
            Recipe::NoReasoning => "no-reasoning",
            Recipe::ComfyTemplate => "comfy-template",
            Recipe::Physedit => "physedit",
            Recipe::CardOnly => "card-only",
            Recipe::SrmOnly => "srm-only",
            Recipe::ChronoeditDistill => "chronoedit-distill",
            Recipe::PhyseditDistill => "physedit-distill",
            Recipe::PhyseditFast => "physedit-fast",
            Recipe::PhyseditTurbo => "physedit-turbo",
        }
    }

    /// Whether the plan depends on the predicted tier.
    pub fn is_adaptive(self) -> bool {
        matches!(
            self,
            Recipe::Physedit
                | Recipe::CardOnly
                | Recipe::PhyseditDistill
                | Recipe::PhyseditFast
                | Recipe::PhyseditTurbo
        )
    }

    /// Whether the recipe runs the distilled sampler (and so needs the distillation LoRA).
    pub fn is_distilled(self) -> bool {
        matches!(
            self,
            Recipe::ChronoeditDistill | Recipe::PhyseditDistill | Recipe::PhyseditTurbo
        )
    }

    /// The CFG scale a model folder recommends (`physedit.json`), as this recipe takes it: the
    /// distilled recipes keep their CFG 1 (the distillation LoRA was trained without CFG).
    pub fn model_guidance(self, recommended: Option<f64>) -> Option<f64> {
        recommended.filter(|_| !self.is_distilled())
    }
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Recipe {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        Recipe::ALL
            .iter()
            .copied()
            .find(|r| r.name() == t)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown recipe {s:?}; expected one of {}",
                    Recipe::ALL
                        .iter()
                        .map(|r| r.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

/// Plan one edit.
///
/// The predictor always runs (fixed recipes report the predicted category and tier too, so that
/// reports can group them); the plan is then [`plan_for_prediction`]'s.
pub fn plan_for(
    recipe: Recipe,
    input: &CardInput,
    table: &PlanTable,
    predictor: &dyn Predictor,
) -> anyhow::Result<Plan> {
    let p = predictor.predict(input)?;
    Ok(plan_for_prediction(recipe, &p, table, predictor.name()))
}

/// The plan of `recipe` for a neutral instruction, or for `tier` when given (adaptive recipes): the
/// plans `physedit cost` prices the recipes by, and the baselines an edit's plan is priced against.
pub fn fixed_plan(recipe: Recipe, table: &PlanTable, tier: Option<Tier>) -> anyhow::Result<Plan> {
    let rules = super::card::RulePredictor;
    let mut p = rules.predict(&CardInput::new(""))?;
    if let Some(t) = tier {
        p.tier = t;
    }
    Ok(plan_for_prediction(recipe, &p, table, rules.name()))
}

/// The plan of `recipe` for a given prediction (category, complexity, tier).
///
/// Adaptive recipes take N_r, r and SRM from `table` for the predicted tier, and the table's steps
/// and CFG scale; fixed recipes use the reference's 50 steps and CFG 5 whatever the table says. The
/// distilled recipes then move the plan to the distilled sampler: [`DISTILL_STEPS`] steps with N_r
/// keeping its share ([`scale_reasoning_steps`], the rule of `--steps`), CFG [`DISTILL_GUIDANCE`],
/// flow shift [`DISTILL_FLOW_SHIFT`].
pub fn plan_for_prediction(
    recipe: Recipe,
    p: &Prediction,
    table: &PlanTable,
    predictor: &str,
) -> Plan {
    let (steps, guidance) = if recipe.is_adaptive() {
        (table.steps, table.guidance)
    } else {
        (REFERENCE_STEPS, REFERENCE_GUIDANCE)
    };
    let (reasoning_steps, reasoning_frames, srm, why) = match recipe {
        Recipe::ChronoeditReasoning => (
            REFERENCE_STEPS,
            TRAINED_REASONING_FRAMES,
            false,
            "fixed reference recipe".to_string(),
        ),
        Recipe::ChronoeditShort => (
            SHORT_REASONING_STEPS,
            TRAINED_REASONING_FRAMES,
            false,
            "fixed recipe".to_string(),
        ),
        Recipe::NoReasoning => (0, 0, false, "fixed recipe".to_string()),
        Recipe::ChronoeditDistill => (0, 0, false, "fixed distilled recipe".to_string()),
        Recipe::ComfyTemplate => (0, 0, false, "ComfyUI's template".to_string()),
        Recipe::SrmOnly => (
            REFERENCE_STEPS,
            TRAINED_REASONING_FRAMES,
            true,
            "fixed recipe".to_string(),
        ),
        Recipe::Physedit
        | Recipe::CardOnly
        | Recipe::PhyseditDistill
        | Recipe::PhyseditFast
        | Recipe::PhyseditTurbo => {
            let t = table.tier(p.tier);
            let srm = recipe != Recipe::CardOnly && t.srm;
            (
                t.reasoning_steps,
                t.reasoning_frames,
                srm,
                format!("{} tier", p.tier),
            )
        }
    };
    let (reasoning_steps, reasoning_frames) = if reasoning_steps == 0 || reasoning_frames == 0 {
        (0, 0)
    } else {
        (reasoning_steps.min(steps), reasoning_frames)
    };
    let mut plan = Plan {
        recipe: recipe.name().to_string(),
        predictor: predictor.to_string(),
        category: p.category,
        complexity: p.complexity,
        tier: p.tier,
        steps,
        reasoning_steps,
        reasoning_frames,
        srm: srm && reasoning_steps > 0,
        guidance,
        flow_shift: None,
        accel: match recipe {
            Recipe::Physedit | Recipe::CardOnly => table.accel,
            Recipe::PhyseditFast => table.accel.merged(&table.fast),
            Recipe::PhyseditTurbo => table.accel.merged(&table.turbo),
            _ => Acceleration::default(),
        },
        reason: String::new(),
    };
    if recipe == Recipe::ComfyTemplate {
        plan.steps = TEMPLATE_STEPS;
        plan.guidance = TEMPLATE_GUIDANCE;
        plan.flow_shift = Some(TEMPLATE_FLOW_SHIFT);
    }
    let fast_steps = table.tier(p.tier).fast_steps.or(table.fast_steps);
    if let (Recipe::PhyseditFast, Some(s)) = (recipe, fast_steps) {
        plan.reasoning_steps = scale_reasoning_steps(&plan, s);
        plan.steps = s;
    }
    if recipe.is_distilled() {
        plan.reasoning_steps = scale_reasoning_steps(&plan, DISTILL_STEPS);
        plan.steps = DISTILL_STEPS;
        plan.guidance = DISTILL_GUIDANCE;
        plan.flow_shift = Some(DISTILL_FLOW_SHIFT);
    }
    let depth = if plan.reasoning_steps == 0 {
        "no reasoning".to_string()
    } else {
        format!(
            "reason {}/{} steps with {} frames{}",
            plan.reasoning_steps,
            plan.steps,
            plan.reasoning_frames,
            if plan.srm { " + SRM" } else { "" }
        )
    };
    let accel = if plan.accel.is_off() {
        String::new()
    } else {
        format!(" + {}", plan.accel)
    };
    plan.reason = format!("{}: {depth}{accel} ({}; {})", recipe.name(), why, p.reason);
    plan
}

/// Video frames the reference runs for a requested length: rounded down to `temporal_scale`·k + 1
/// (at least 1), exactly as `ChronoEditPipeline.__call__` rounds `num_frames`.
pub fn round_num_frames(requested: usize, temporal_scale: usize) -> usize {
    let s = temporal_scale.max(1);
    let n = if requested % s != 1 {
        requested / s * s + 1
    } else {
        requested
    };
    n.max(1)
}

/// Explicit values that replace a plan's (the `--steps`, `--guidance`, `--reasoning-steps`,
/// `--num-frames` and `--srm` flags of `edit`, and what `bench` and the server pass on).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overrides {
    pub steps: Option<usize>,
    pub guidance: Option<f32>,
    pub reasoning_steps: Option<usize>,
    pub num_frames: Option<usize>,
    pub srm: Option<bool>,
    /// Accelerations set on top of the plan's (`--rpfi`, `--cache`, `--cfg-tail`, bench variants).
    pub accel: Acceleration,
}

/// The model facts a plan needs to become a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoGeometry {
    /// The transformer's `rope_temporal_skip_len` (8 for ChronoEdit-14B).
    pub rope_temporal_skip_len: usize,
    /// Video frames per latent frame (the VAE's temporal scale, 4).
    pub temporal_scale: usize,
}

/// What the pipeline runs for one edit: the plan-dependent fields of the pipeline's request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    pub steps: usize,
    pub guidance: f64,
    /// Video frames (4k + 1); 5 = no reasoning frames.
    pub num_frames: usize,
    /// N_r (0: no reasoning phase).
    pub reasoning_steps: usize,
    /// Temporal RoPE positions of the reasoning-phase latent frames when they differ from the
    /// reference's `0..F` (None: exactly the reference's).
    pub temporal_positions: Option<Vec<usize>>,
    /// Whether the spatial reasoning mask runs.
    pub srm: bool,
    /// Flow shift instead of the model folder's scheduler config (None: the folder's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_shift: Option<f64>,
    /// Accelerations the pipeline runs (`adaptive::accel`).
    #[serde(skip_serializing_if = "Acceleration::is_off")]
    pub accel: Acceleration,
}

/// A plan with its overrides applied, and the schedule it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The effective plan (the input plan with the overrides applied).
    pub plan: Plan,
    pub schedule: Schedule,
}

/// N_r for `steps` steps, keeping the plan's share of reasoning steps: `round(N_r · steps /
/// plan steps)` (halves up), at least 1 while the plan reasons, at most `steps`.
pub fn scale_reasoning_steps(plan: &Plan, steps: usize) -> usize {
    if plan.reasoning_steps == 0 || steps == 0 {
        return 0;
    }
    let from = plan.steps.max(1);
    let scaled = (2 * plan.reasoning_steps * steps + from) / (2 * from);
    scaled.clamp(1, steps)
}

/// The one route from a plan and explicit overrides to what the pipeline runs; `edit`, `bench`,
/// `bench_recipes` and the service all call it.
///
/// Precedence (also in `physedit edit --help`):
/// * `steps`: replaces the plan's step count; N_r keeps its share of the steps
///   ([`scale_reasoning_steps`]), so a mid-tier plan (N_r = 10 of 50) at 10 steps reasons for 2;
/// * `guidance`: replaces the plan's CFG scale;
/// * `reasoning_steps` / `num_frames` (explicit video): the video runs exactly as the reference
///   ChronoEdit runs it — r = (frames − 1) / 4 − 1 (the plan's r, or 6 when the plan has none, if only
///   `reasoning_steps` is given), N_r as given (the plan's when only `num_frames` is given, capped at
///   the step count), the reference's RoPE positions `0..F`, SRM off unless `srm` says on;
/// * `srm`: replaces the plan's choice (it never runs without reasoning frames).
///
/// Otherwise a plan with r below the trained span spreads its reasoning frames' RoPE positions
/// between the input (0) and the output frame (skip_len − 1), see [`temporal_positions`].
pub fn resolve(plan: &Plan, o: &Overrides, geometry: VideoGeometry) -> anyhow::Result<Resolved> {
    let mut p = plan.clone();
    if let Some(s) = o.steps {
        if s == 0 {
            anyhow::bail!("steps must be at least 1");
        }
        p.reasoning_steps = scale_reasoning_steps(plan, s);
        p.steps = s;
    }
    if let Some(g) = o.guidance {
        if !(g.is_finite() && g >= 0.0) {
            anyhow::bail!("guidance must be a finite number >= 0, got {g}");
        }
        p.guidance = g;
    }
    let explicit = o.reasoning_steps.is_some() || o.num_frames.is_some();
    if explicit {
        let r_plan = if p.reasoning_steps > 0 {
            p.reasoning_frames
        } else {
            TRAINED_REASONING_FRAMES
        };
        let nr = match (o.reasoning_steps, o.num_frames) {
            (Some(nr), _) => nr,
            // Frames without reasoning steps: the plan's N_r, if it has one.
            (None, Some(_)) => p.reasoning_steps,
            (None, None) => 0,
        };
        let r = match o.num_frames {
            Some(0) => anyhow::bail!("num_frames must be at least 1"),
            Some(n) => {
                let n = round_num_frames(n, geometry.temporal_scale);
                ((n - 1) / geometry.temporal_scale.max(1)).saturating_sub(1)
            }
            None => r_plan,
        };
        (p.reasoning_steps, p.reasoning_frames) = if nr == 0 || r == 0 { (0, 0) } else { (nr, r) };
        p.srm = false;
    }
    p.reasoning_steps = p.reasoning_steps.min(p.steps);
    if p.reasoning_steps == 0 {
        p.reasoning_frames = 0;
    }
    if let Some(s) = o.srm {
        p.srm = s;
    }
    o.accel.validate()?;
    p.accel = p.accel.merged(&o.accel);
    p.srm = p.srm && p.reasoning_steps > 0 && p.reasoning_frames > 0;
    let temporal_positions = if explicit || p.reasoning_steps == 0 {
        None
    } else {
        let pos = p.temporal_positions(geometry.rope_temporal_skip_len);
        let default: Vec<usize> = (0..pos.len()).collect();
        (pos != default).then_some(pos)
    };
    let num_frames = match (explicit, o.num_frames) {
        (true, Some(n)) => n,
        _ => p.num_frames(),
    };
    let schedule = Schedule {
        steps: p.steps,
        guidance: p.guidance as f64,
        num_frames,
        reasoning_steps: p.reasoning_steps,
        temporal_positions,
        srm: p.srm,
        flow_shift: p.accel.flow_shift.or(p.flow_shift),
        accel: p.accel,
    };
    Ok(Resolved { plan: p, schedule })
}

/// A plan table and the predictor that picks its tier: everything [`plan_for`] needs besides the
/// recipe and the edit. The default is the built-in table with the rule predictor.
pub struct Planner {
    pub table: PlanTable,
    pub predictor: Box<dyn Predictor>,
}

impl Default for Planner {
    fn default() -> Self {
        Planner {
            table: PlanTable::default(),
            predictor: Box::new(super::card::RulePredictor),
        }
    }
}

impl fmt::Debug for Planner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Planner")
            .field("table", &self.table)
            .field("predictor", &self.predictor.name())
            .finish()
    }
}

impl Planner {
    /// The plan of `recipe` for one edit (see [`plan_for`]).
    pub fn plan(&self, recipe: Recipe, input: &CardInput) -> anyhow::Result<Plan> {
        plan_for(recipe, input, &self.table, self.predictor.as_ref())
    }

    /// The plan of `recipe` for one edit with `overrides` applied, and the schedule it gives: the
    /// one route from an instruction to what the pipeline runs.
    pub fn resolve(
        &self,
        recipe: Recipe,
        input: &CardInput,
        overrides: &Overrides,
        geometry: VideoGeometry,
    ) -> anyhow::Result<(Plan, Resolved)> {
        let plan = self.plan(recipe, input)?;
        let resolved = resolve(&plan, overrides, geometry)?;
        Ok((plan, resolved))
    }
}

/// A recipe with accelerations added, as `physedit bench --recipes` names it:
/// `physedit+cache=0.1+cfgtail=0.2+rpfi` (see [`Acceleration::apply_part`]), and `steps=N` for a
/// shorter schedule (N_r keeps its share, as `physedit edit --steps`); a plain recipe name is a
/// variant with nothing added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variant {
    pub recipe: Recipe,
    /// Added on top of the recipe's own plan.
    pub accel: Acceleration,
    /// Denoising steps instead of the plan's.
    pub steps: Option<usize>,
}

impl Variant {
    pub fn name(&self) -> String {
        let mut parts = vec![self.recipe.name().to_string()];
        if let Some(s) = self.steps {
            parts.push(format!("steps={s}"));
        }
        parts.extend(self.accel.parts());
        parts.join("+")
    }
}

impl From<Recipe> for Variant {
    fn from(recipe: Recipe) -> Self {
        Variant {
            recipe,
            accel: Acceleration::default(),
            steps: None,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Variant {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let mut parts = s.split('+');
        let recipe: Recipe = parts.next().unwrap_or_default().parse()?;
        let mut accel = Acceleration::default();
        let mut steps = None;
        for part in parts {
            if let Some(n) = part.trim().strip_prefix("steps=") {
                match n.trim().parse::<usize>() {
                    Ok(n) if n > 0 => steps = Some(n),
                    _ => anyhow::bail!(
                        "in recipe variant {s:?}: steps={n}: expected a whole number >= 1"
                    ),
                }
                continue;
            }
            accel
                .apply_part(part)
                .with_context(|| format!("in recipe variant {s:?}"))?;
        }
        Ok(Variant {
            recipe,
            accel,
            steps,
        })
    }
}

#[cfg(test)]
mod variant_tests {
    use super::*;

    #[test]
    fn variant_names_round_trip_with_steps_and_caches() {
        let v: Variant = "physedit-fast+steps=25+fbcache=0.08".parse().unwrap();
        assert_eq!(v.recipe, Recipe::PhyseditFast);
        assert_eq!(v.steps, Some(25));
        assert_eq!(v.accel.fbcache, Some(0.08));
        assert_eq!(v.name(), "physedit-fast+steps=25+fbcache=0.08");
        assert_eq!(v.name().parse::<Variant>().unwrap(), v);
        assert!("physedit+steps=0".parse::<Variant>().is_err());
        assert!("physedit+steps=2.5".parse::<Variant>().is_err());
    }
}
