//! Training-free accelerations that stack with a plan, and their settings: region-preserving
//! feature injection (RPFI), step caching and the guidance tail. Pure decisions on numbers the
//! pipeline hands in; the pipeline (`pipeline::step_cache`, `pipeline::rpfi_hook`) does the tensor
//! work.
//!
//! * **RPFI** (the paper's third module, in the form its text describes): during the reasoning
//!   steps, after each scheduler step, the output frame outside the edit mask is pulled toward the
//!   input frame's clean latent re-noised to the new noise level,
//!   `x ← m·x + (1 − m)·((1 − σ)·z_in + σ·ε)`, `m = α·M + (1 − α)`,
//!   `α = min(1, relaxation · (i + 1) / N_r)` ([`rpfi_alpha`]). The paper's public code does not run
//!   it; this is our reading of its text. (`i + 1`: the pull acts after step i, on latents that
//!   have been denoised i + 1 times; with `i` the first step would never be touched.)
//! * **Step caching** ([`CacheSettings`]): the transformer's block-stack residual (output minus
//!   input, per CFG branch) of the last computed step is reused while the predicted change since
//!   then is small. Two indicators: `easy` (EasyCache's runtime-adaptive rule: the output's change
//!   rate relative to the input's, measured on the last two computed steps, times the input's
//!   relative change, accumulated; no calibration) and `mag` (MagCache's rule: the calibrated
//!   ratio of consecutive residual magnitudes, `|1 − γ_i|` accumulated; coefficients from
//!   `physedit calibrate` in the model folder's `physedit.json`), and `tea` (TeaCache's rule as its
//!   Wan2.1 version computes it: the relative L1 change of the timestep modulation `e0` — the
//!   `time_proj` output every block is modulated with — since the previous step, rescaled by a
//!   polynomial fitted by `physedit calibrate`, accumulated). TeaCache fits the polynomial to the
//!   change of the model's output; we fit it to the change of the block-stack residual, the tensor
//!   the cache reuses. ChronoEdit's timestep is one number per step, so under `tea` the skipped
//!   steps follow from the schedule and the calibration alone. A step is always computed when the latent video, the
//!   computed tokens or the branches differ from the cached step's (the reasoning drop, SRM
//!   pruning starting, a guidance change), during the warm-up, at the last step, and after
//!   `max_skips` reuses in a row.
//! * **First-block caching** (`fbcache`, FBCache as diffusers' `FirstBlockCacheConfig` and
//!   ParaAttention's first-block cache): the first block always runs; when the relative L1 change of
//!   its residual since the last computed step, `mean|h − h_prev| / mean|h_prev|`, is below the
//!   threshold for every CFG branch, the rest of the stack is skipped and its residual from that
//!   step reused (`models::transformer::FirstBlockCache`). No calibration, no warm-up and no limit
//!   on reuses in a row, as in diffusers; the stack runs whenever the latent video, the computed
//!   tokens or the branches differ from the last computed step's. One step cache per edit: `cache`
//!   and `fbcache` exclude each other, and a variant's cache replaces its recipe's.
//! * **Region-aware denoising** (`region`, `pipeline::region_hook`): after a settling fraction of
//!   the steps, the output frame's tokens outside the edit region (a given mask, else SRM's) are
//!   held at their last clean estimate instead of computed.
//! * **Reasoning-frame caching** (`reasoning_every`, `pipeline::reasoning_hook`): during the
//!   reasoning steps the reasoning frames are computed at every k-th step and hold their last
//!   clean estimate in between; the input and output frames are computed at every step.
//! * **Guidance tail** (`cfg_tail`): over the last fraction of the steps only the conditional
//!   branch runs and the last computed guidance difference `cond − uncond` is reused:
//!   `cond + (s − 1)·d` instead of `uncond + s·(cond − uncond)`.
//!
//! * **Sampler** (`solver`, `shift`): the multistep solver and the flow shift a schedule runs with
//!   instead of the model folder's (or the recipe's); for short schedules, where the order of the
//!   solver and the placement of the few steps decide how close the edit stays to the full one.
//!
//! Every setting switched off (`None`) leaves the edit exactly the plan's, bit for bit.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::schedulers::Solver;

/// Default RPFI relaxation (α reaches 1 after two thirds of the reasoning steps).
pub const DEFAULT_RPFI_RELAXATION: f32 = 1.5;

/// How the step cache predicts the change since the last computed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CachePolicy {
    /// Runtime-adaptive (EasyCache): no calibration.
    #[default]
    Easy,
    /// Calibrated residual magnitude ratios (MagCache); needs `physedit calibrate`.
    Mag,
    /// Polynomial-rescaled change of the timestep modulation (TeaCache); needs `physedit calibrate`.
    Tea,
}

impl CachePolicy {
    pub fn name(self) -> &'static str {
        match self {
            CachePolicy::Easy => "easy",
            CachePolicy::Mag => "mag",
            CachePolicy::Tea => "tea",
        }
    }
}

impl FromStr for CachePolicy {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim() {
            "easy" => Ok(CachePolicy::Easy),
            "mag" => Ok(CachePolicy::Mag),
            "tea" => Ok(CachePolicy::Tea),
            other => anyhow::bail!("unknown cache policy {other:?}; expected easy, mag or tea"),
        }
    }
}

/// Step-cache settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    #[serde(default)]
    pub policy: CachePolicy,
    /// Accumulated predicted change below which the residual is reused (0: never reuse).
    pub threshold: f64,
    /// Fraction of the steps computed first, whatever the indicator says (at least two steps).
    #[serde(default = "default_warmup")]
    pub warmup: f64,
    /// Most reuses in a row.
    #[serde(default = "default_max_skips")]
    pub max_skips: usize,
}

fn default_warmup() -> f64 {
    0.1
}
fn default_max_skips() -> usize {
    3
}

impl CacheSettings {
    pub fn new(policy: CachePolicy, threshold: f64) -> Self {
        CacheSettings {
            policy,
            threshold,
            warmup: default_warmup(),
            max_skips: default_max_skips(),
        }
    }

    /// Steps computed before the indicator is consulted.
    pub fn warmup_steps(&self, steps: usize) -> usize {
        ((self.warmup * steps as f64).ceil() as usize).max(2)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            anyhow::bail!(
                "cache threshold must be a finite number >= 0, got {}",
                self.threshold
            );
        }
        if !(self.warmup.is_finite() && (0.0..=1.0).contains(&self.warmup)) {
            anyhow::bail!(
                "cache warmup must be a fraction in [0, 1], got {}",
                self.warmup
            );
        }
        Ok(())
    }
}

/// The accelerations of one edit (all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acceleration {
    /// RPFI relaxation (None: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpfi: Option<f32>,
    /// Step caching (None: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSettings>,
    /// First-block caching: the threshold on the first block's relative L1 change (None: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbcache: Option<f64>,
    /// Fraction of the last steps that run only the conditional branch (None: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cfg_tail: Option<f64>,
    /// Region-aware denoising: from this fraction of the steps on, the output frame's tokens
    /// outside the edit region are held instead of computed (None: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<f64>,
    /// The sampler instead of the model folder's (None: the folder's): a higher-order multistep
    /// solver keeps more of the exact plan when a recipe takes few steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solver: Option<Solver>,
    /// Caching across the reasoning frames: the reasoning frames are computed at every k-th
    /// reasoning step and held in between (None or 1: every step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_every: Option<usize>,
    /// The flow shift instead of the plan's (the model folder's, or the recipe's): where a short
    /// schedule puts its few steps along the noise levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_shift: Option<f64>,
}

impl Acceleration {
    pub fn is_off(&self) -> bool {
        *self == Acceleration::default()
    }

    /// `self` with every setting `over` has replacing its own; a step cache in `over` (`cache` or
    /// `fbcache`) replaces both of `self`'s.
    pub fn merged(&self, over: &Acceleration) -> Acceleration {
        let caches = if over.cache.is_some() || over.fbcache.is_some() {
            (over.cache, over.fbcache)
        } else {
            (self.cache, self.fbcache)
        };
        Acceleration {
            rpfi: over.rpfi.or(self.rpfi),
            cache: caches.0,
            fbcache: caches.1,
            cfg_tail: over.cfg_tail.or(self.cfg_tail),
            region: over.region.or(self.region),
            solver: over.solver.or(self.solver),
            flow_shift: over.flow_shift.or(self.flow_shift),
            reasoning_every: over.reasoning_every.or(self.reasoning_every),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(r) = self.rpfi {
            if !(r.is_finite() && r >= 0.0) {
                anyhow::bail!("rpfi relaxation must be a finite number >= 0, got {r}");
            }
        }
        if let Some(c) = &self.cache {
            c.validate()?;
        }
        if let Some(t) = self.fbcache {
            if !(t.is_finite() && t >= 0.0) {
                anyhow::bail!("fbcache threshold must be a finite number >= 0, got {t}");
            }
            if self.cache.is_some() {
                anyhow::bail!(
                    "fbcache and cache/magcache are two step caches: choose one per edit"
                );
            }
        }
        if let Some(t) = self.cfg_tail {
            if !(t.is_finite() && (0.0..=1.0).contains(&t)) {
                anyhow::bail!("cfg_tail must be a fraction in [0, 1], got {t}");
            }
        }
        if let Some(t) = self.region {
            if !(t.is_finite() && (0.0..=1.0).contains(&t)) {
                anyhow::bail!("region must be a fraction of the steps in [0, 1], got {t}");
            }
        }
        if let Some(s) = self.flow_shift {
            if !(s.is_finite() && s > 0.0) {
                anyhow::bail!("shift (the flow shift) must be a positive number, got {s}");
            }
        }
        Ok(())
    }

    /// Parses one `+`-separated part of a variant name (`rpfi`, `rpfi=1.5`, `cache=0.1`,
    /// `magcache=0.05`, `teacache=0.2`, `fbcache=0.1`, `cfgtail=0.3`, `solver=dpm3`, `shift=4`) into `self`. A step cache (`cache`,
    /// `magcache`, `fbcache`) replaces any step cache set before it.
    pub fn apply_part(&mut self, part: &str) -> anyhow::Result<()> {
        let (key, value) = match part.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (part.trim(), None),
        };
        let num = |what: &str| -> anyhow::Result<f64> {
            let v = value.ok_or_else(|| anyhow::anyhow!("{what} needs a value ({what}=NUMBER)"))?;
            v.parse::<f64>()
                .map_err(|_| anyhow::anyhow!("{what}={v}: not a number"))
        };
        match key {
            "rpfi" => {
                self.rpfi = Some(match value {
                    Some(_) => num("rpfi")? as f32,
                    None => DEFAULT_RPFI_RELAXATION,
                })
            }
            "cache" => {
                self.cache = Some(CacheSettings::new(CachePolicy::Easy, num("cache")?));
                self.fbcache = None;
            }
            "magcache" => {
                self.cache = Some(CacheSettings::new(CachePolicy::Mag, num("magcache")?));
                self.fbcache = None;
            }
            "teacache" => {
                self.cache = Some(CacheSettings::new(CachePolicy::Tea, num("teacache")?));
                self.fbcache = None;
            }
            "fbcache" => {
                self.fbcache = Some(num("fbcache")?);
                self.cache = None;
            }
            "cfgtail" => self.cfg_tail = Some(num("cfgtail")?),
            "shift" => self.flow_shift = Some(num("shift")?),
            "reasoncache" => {
                let k = num("reasoncache")?;
                if k.fract() != 0.0 || k < 1.0 {
                    anyhow::bail!("reasoncache={k}: expected a whole number >= 1");
                }
                self.reasoning_every = Some(k as usize);
            }
            "solver" => {
                let v = value.ok_or_else(|| {
                    anyhow::anyhow!("solver needs a value (solver=NAME: {})", Solver::NAMES)
                })?;
                self.solver = Some(v.parse()?);
            }
            "region" => self.region = Some(num("region")?),
            "skips" | "warmup" => {
                let v = num(key)?;
                let c = self.cache.as_mut().ok_or_else(|| {
                    anyhow::anyhow!("{key}= sets a step-cache setting: give cache=, magcache= or teacache= before it")
                })?;
                if key == "skips" {
                    if v.fract() != 0.0 || v < 0.0 {
                        anyhow::bail!("skips={v}: expected a whole number >= 0");
                    }
                    c.max_skips = v as usize;
                } else {
                    c.warmup = v;
                }
            }
            other => anyhow::bail!(
                "unknown acceleration {other:?}; expected rpfi[=RELAX], cache=THRESH, magcache=THRESH, teacache=THRESH (then skips=N, warmup=FRACTION), fbcache=THRESH, cfgtail=FRACTION, region=FRACTION, reasoncache=K, solver=NAME or shift=NUMBER"
            ),
        }
        self.validate()
    }

    /// The `+`-joined parts that [`Acceleration::apply_part`] reads back.
    pub fn parts(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(r) = self.rpfi {
            v.push(if r == DEFAULT_RPFI_RELAXATION {
                "rpfi".to_string()
            } else {
                format!("rpfi={r}")
            });
        }
        if let Some(c) = &self.cache {
            let key = match c.policy {
                CachePolicy::Easy => "cache",
                CachePolicy::Mag => "magcache",
                CachePolicy::Tea => "teacache",
            };
            v.push(format!("{key}={}", c.threshold));
            let d = CacheSettings::new(c.policy, c.threshold);
            if c.max_skips != d.max_skips {
                v.push(format!("skips={}", c.max_skips));
            }
            if c.warmup != d.warmup {
                v.push(format!("warmup={}", c.warmup));
            }
        }
        if let Some(t) = self.fbcache {
            v.push(format!("fbcache={t}"));
        }
        if let Some(t) = self.cfg_tail {
            v.push(format!("cfgtail={t}"));
        }
        if let Some(t) = self.region {
            v.push(format!("region={t}"));
        }
        if let Some(k) = self.reasoning_every {
            v.push(format!("reasoncache={k}"));
        }
        if let Some(s) = self.solver {
            v.push(format!("solver={s}"));
        }
        if let Some(s) = self.flow_shift {
            v.push(format!("shift={s}"));
        }
        v
    }
}

impl fmt::Display for Acceleration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = self.parts();
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join("+"))
        }
    }
}

/// RPFI's α after step `i` (0-based) of `reasoning_steps`: `min(1, relaxation · (i + 1) / N_r)`.
pub fn rpfi_alpha(relaxation: f32, i: usize, reasoning_steps: usize) -> f64 {
    if reasoning_steps == 0 {
        return 0.0;
    }
    (relaxation as f64 * (i + 1) as f64 / reasoning_steps as f64).min(1.0)
}

/// Steps (0-based) from which the guidance tail runs only the conditional branch: the last
/// `round(fraction · steps)`, never the first step (there must be one computed difference).
pub fn cfg_tail_start(fraction: f64, steps: usize) -> usize {
    let tail = (fraction * steps as f64).round() as usize;
    steps.saturating_sub(tail).max(1)
}

/// What the cache knows of the step it would reuse: everything that must match for a reuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub frames: usize,
    /// Tokens computed (None: all of them).
    pub token_keep: Option<Vec<u32>>,
    /// CFG branches in the residual's batch.
    pub branches: usize,
}

/// A model's step-cache calibration (`physedit calibrate`, kept in its `physedit.json`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheCalibration {
    /// Mean residual magnitude ratio per step position (the `mag` policy), over 0..=1.
    pub mag_ratios: Option<Vec<f64>>,
    /// Polynomial from the modulation's relative L1 change to the residual's, highest power
    /// first (numpy's `poly1d` order, as TeaCache stores it; the `tea` policy).
    pub tea_coefficients: Option<Vec<f64>>,
}

/// The changes since the previous step that the policies read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepChange {
    /// `‖x_i − x_{i−1}‖ / ‖x_{i−1}‖` of the latents (`easy`).
    pub input: f64,
    /// `mean|e_i − e_{i−1}| / mean|e_{i−1}|` of the timestep modulation (`tea`).
    pub modulation: f64,
}

/// Evaluates a polynomial given highest power first (Horner).
pub fn polyval(coefficients: &[f64], x: f64) -> f64 {
    coefficients.iter().fold(0.0, |acc, c| acc * x + c)
}

/// Least-squares polynomial of `degree` through `points` (x, y), highest power first, as
/// `numpy.polyfit`. Solved on x scaled into [−1, 1] (normal equations in f64, partial pivoting),
/// then mapped back; None when there are fewer distinct x than coefficients.
pub fn polyfit(points: &[(f64, f64)], degree: usize) -> Option<Vec<f64>> {
    let n = degree + 1;
    let scale = points.iter().fold(0.0f64, |m, p| m.max(p.0.abs()));
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.dedup();
    if xs.len() < n || !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    // Normal equations A c = b over powers 0..n of u = x / scale (lowest power first).
    let mut a = vec![vec![0.0f64; n + 1]; n];
    for &(x, y) in points {
        let u = x / scale;
        let pw: Vec<f64> = (0..n).map(|k| u.powi(k as i32)).collect();
        for r in 0..n {
            for c in 0..n {
                a[r][c] += pw[r] * pw[c];
            }
            a[r][n] += pw[r] * y;
        }
    }
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        for r in 0..n {
            if r != col {
                let f = a[r][col] / a[col][col];
                for c in col..=n {
                    a[r][c] -= f * a[col][c];
                }
            }
        }
    }
    // c_k for u^k is a[k][n] / a[k][k]; for x^k divide by scale^k. Highest power first.
    Some(
        (0..n)
            .rev()
            .map(|k| a[k][n] / a[k][k] / scale.powi(k as i32))
            .collect(),
    )
}

/// The step cache's decision state for one edit (the tensors live in the pipeline).
#[derive(Debug, Clone)]
pub struct CacheDecider {
    settings: CacheSettings,
    steps: usize,
    calibration: CacheCalibration,
    key: Option<CacheKey>,
    accumulated: f64,
    skips: usize,
    /// `easy`: output change rate over input change rate, from the last two computed steps.
    rate: Option<f64>,
}

impl CacheDecider {
    /// `calibration`: the model's (the `mag` and `tea` policies need theirs).
    pub fn new(
        settings: CacheSettings,
        steps: usize,
        calibration: CacheCalibration,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        let c = &calibration;
        if settings.policy == CachePolicy::Mag && c.mag_ratios.as_ref().is_none_or(|r| r.len() < 2)
        {
            anyhow::bail!(
                "the mag cache policy needs calibrated magnitude ratios: run `physedit calibrate --model DIR` first, or use the easy policy"
            );
        }
        if settings.policy == CachePolicy::Tea
            && c.tea_coefficients.as_ref().is_none_or(|k| k.is_empty())
        {
            anyhow::bail!(
                "the tea cache policy needs fitted coefficients: run `physedit calibrate --model DIR` first, or use the easy policy"
            );
        }
        Ok(CacheDecider {
            settings,
            steps,
            calibration,
            key: None,
            accumulated: 0.0,
            skips: 0,
            rate: None,
        })
    }

    /// The calibrated magnitude ratio at step `i`, read off the calibration curve at the same
    /// position in the schedule (linear interpolation).
    fn mag_ratio(&self, i: usize) -> f64 {
        let r = self.calibration.mag_ratios.as_deref().unwrap_or(&[]);
        if r.len() < 2 || self.steps < 2 {
            return 1.0;
        }
        let pos = i as f64 / (self.steps - 1) as f64 * (r.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(r.len() - 1);
        let t = pos - lo as f64;
        r[lo] * (1.0 - t) + r[hi] * t
    }

    /// Whether the policy reads the timestep modulation's change (`tea`).
    pub fn reads_modulation(&self) -> bool {
        self.settings.policy == CachePolicy::Tea
    }

    /// Whether the cache only records: at threshold 0 it never reuses, and exists to measure what
    /// `physedit calibrate` fits (residual magnitudes and changes).
    pub fn records_only(&self) -> bool {
        self.settings.threshold == 0.0
    }

    /// Whether step `i` may reuse the cached residual, given the changes since the previous step.
    /// `must_compute` covers what the caller knows (a capture, a missing residual).
    pub fn should_reuse(
        &mut self,
        i: usize,
        key: &CacheKey,
        change: StepChange,
        must_compute: bool,
    ) -> bool {
        let reusable = !must_compute
            && self.settings.threshold > 0.0
            && i >= self.settings.warmup_steps(self.steps)
            && i + 1 < self.steps
            && self.key.as_ref() == Some(key)
            && self.skips < self.settings.max_skips;
        if !reusable {
            return false;
        }
        let delta = match self.settings.policy {
            CachePolicy::Easy => match self.rate {
                Some(k) => k * change.input,
                None => return false,
            },
            CachePolicy::Mag => (1.0 - self.mag_ratio(i)).abs(),
            // A fitted polynomial below zero (outside the calibrated range) reads as no change.
            CachePolicy::Tea => {
                let k = self.calibration.tea_coefficients.as_deref().unwrap_or(&[]);
                let v = polyval(k, change.modulation);
                if v.is_finite() {
                    v.max(0.0)
                } else {
                    v
                }
            }
        };
        if !delta.is_finite() {
            return false;
        }
        if self.accumulated + delta < self.settings.threshold {
            self.accumulated += delta;
            self.skips += 1;
            true
        } else {
            false
        }
    }

    /// Records a computed step: its key and, for the `easy` policy, the output's change rate
    /// `‖v_i − v_j‖/‖v_j‖ ÷ ‖x_i − x_j‖/‖x_j‖` against the previous computed step j (None when there is
    /// no comparable previous step).
    pub fn computed(&mut self, key: CacheKey, rate: Option<f64>) {
        if self.key.as_ref() != Some(&key) {
            self.rate = None;
        }
        if let Some(r) = rate.filter(|r| r.is_finite()) {
            self.rate = Some(r);
        }
        self.key = Some(key);
        self.accumulated = 0.0;
        self.skips = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_cal() -> CacheCalibration {
        CacheCalibration::default()
    }

    /// A change of the latents only (the `easy` policy's input).
    fn ch(input: f64) -> StepChange {
        StepChange {
            input,
            modulation: 0.0,
        }
    }

    #[test]
    fn tea_policy_rescales_the_modulation_change_and_needs_coefficients() {
        let s = CacheSettings::new(CachePolicy::Tea, 0.1);
        assert!(CacheDecider::new(s, 10, no_cal()).is_err());
        // y = 2x: 0.03 -> 0.06, then 0.06 + 0.06 = 0.12 >= 0.1 computes.
        let cal = CacheCalibration {
            tea_coefficients: Some(vec![2.0, 0.0]),
            ..Default::default()
        };
        let mut d = CacheDecider::new(s, 10, cal).unwrap();
        d.computed(key(2), None);
        let m = |modulation| StepChange {
            input: 0.0,
            modulation,
        };
        assert!(d.should_reuse(3, &key(2), m(0.03), false));
        assert!(!d.should_reuse(4, &key(2), m(0.03), false));
        assert!(!d.should_reuse(5, &key(2), m(f64::NAN), false));
    }

    #[test]
    fn polyfit_recovers_a_polynomial_as_numpy_does() {
        // y = 3x^2 - 2x + 0.5 sampled on small x (as modulation changes are).
        let pts: Vec<(f64, f64)> = (1..=20)
            .map(|i| {
                let x = i as f64 * 1e-3;
                (x, 3.0 * x * x - 2.0 * x + 0.5)
            })
            .collect();
        let c = polyfit(&pts, 2).unwrap();
        for (got, want) in c.iter().zip([3.0, -2.0, 0.5]) {
            assert!((got - want).abs() < 1e-6 * want.abs().max(1.0), "{c:?}");
        }
        assert!((polyval(&c, 0.01) - (3e-4 - 0.02 + 0.5)).abs() < 1e-12);
        assert!(polyfit(&pts[..2], 2).is_none(), "too few points");
    }

    fn key(frames: usize) -> CacheKey {
        CacheKey {
            frames,
            token_keep: None,
            branches: 2,
        }
    }

    #[test]
    fn variant_parts_round_trip() {
        let mut a = Acceleration::default();
        for p in ["rpfi", "cache=0.2", "skips=5", "cfgtail=0.3"] {
            a.apply_part(p).unwrap();
        }
        assert_eq!(a.to_string(), "rpfi+cache=0.2+skips=5+cfgtail=0.3");
        assert!(Acceleration::default().apply_part("skips=2").is_err());
        let mut b = Acceleration::default();
        for p in a.parts() {
            b.apply_part(&p).unwrap();
        }
        assert_eq!(a, b);
        assert!(Acceleration::default().apply_part("cache").is_err());
        assert!(Acceleration::default().apply_part("cfgtail=2").is_err());
        assert!(Acceleration::default().apply_part("turbo").is_err());
        // One step cache per edit: the later one replaces the earlier, in parts and in merges.
        let mut f = Acceleration::default();
        for p in ["cache=0.1", "fbcache=0.08", "cfgtail=0.2"] {
            f.apply_part(p).unwrap();
        }
        assert_eq!(f.to_string(), "fbcache=0.08+cfgtail=0.2");
        assert_eq!(a.merged(&f).to_string(), "rpfi+fbcache=0.08+cfgtail=0.2");
        assert_eq!(
            f.merged(&a).to_string(),
            "rpfi+cache=0.2+skips=5+cfgtail=0.3"
        );
        let both = Acceleration {
            fbcache: Some(0.1),
            ..a
        };
        assert!(both.validate().is_err());
        assert!(Acceleration::default().apply_part("fbcache=-1").is_err());
        // The sampler and the reasoning-frame cache read back from their parts.
        let mut g = Acceleration::default();
        for p in ["reasoncache=2", "solver=dpm3", "shift=4", "teacache=0.2"] {
            g.apply_part(p).unwrap();
        }
        assert_eq!(
            g.to_string(),
            "teacache=0.2+reasoncache=2+solver=dpm3+shift=4"
        );
        let mut h = Acceleration::default();
        for p in g.parts() {
            h.apply_part(&p).unwrap();
        }
        assert_eq!(g, h);
        for bad in [
            "reasoncache=0",
            "reasoncache=1.5",
            "solver=rk4",
            "shift=0",
            "shift=-2",
            "solver",
        ] {
            assert!(Acceleration::default().apply_part(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn never_reuses_across_a_frame_change_warmup_or_last_step() {
        let mut d =
            CacheDecider::new(CacheSettings::new(CachePolicy::Easy, 1e9), 20, no_cal()).unwrap();
        d.computed(key(8), None);
        d.computed(key(8), Some(1.0));
        assert!(!d.should_reuse(1, &key(8), ch(0.0), false), "warm-up");
        assert!(d.should_reuse(5, &key(8), ch(0.01), false));
        assert!(
            !d.should_reuse(6, &key(2), ch(0.01), false),
            "frame count changed"
        );
        assert!(
            !d.should_reuse(7, &key(8), ch(0.01), true),
            "caller needs the blocks"
        );
        assert!(!d.should_reuse(19, &key(8), ch(0.0), false), "last step");
        // max_skips reuses in a row, then a computed step.
        d.computed(key(8), Some(1.0));
        let reused: Vec<bool> = (8..13)
            .map(|i| d.should_reuse(i, &key(8), ch(0.0), false))
            .collect();
        assert_eq!(reused, [true, true, true, false, false]);
    }

    #[test]
    fn threshold_zero_never_reuses_and_the_threshold_accumulates() {
        let mut d =
            CacheDecider::new(CacheSettings::new(CachePolicy::Easy, 0.0), 20, no_cal()).unwrap();
        d.computed(key(2), Some(1.0));
        assert!(!d.should_reuse(10, &key(2), ch(0.0), false));
        let mut d =
            CacheDecider::new(CacheSettings::new(CachePolicy::Easy, 0.1), 20, no_cal()).unwrap();
        d.computed(key(2), Some(2.0));
        assert!(d.should_reuse(10, &key(2), ch(0.02), false)); // 0.04
        assert!(d.should_reuse(11, &key(2), ch(0.02), false)); // 0.08
        assert!(!d.should_reuse(12, &key(2), ch(0.02), false)); // 0.12 >= 0.1
    }

    #[test]
    fn mag_policy_needs_a_calibration_and_reads_it_by_position() {
        assert!(
            CacheDecider::new(CacheSettings::new(CachePolicy::Mag, 0.1), 10, no_cal()).is_err()
        );
        let ratios = vec![1.0, 0.99, 0.5];
        let mut d = CacheDecider::new(
            CacheSettings::new(CachePolicy::Mag, 0.05),
            5,
            CacheCalibration {
                mag_ratios: Some(ratios),
                ..Default::default()
            },
        )
        .unwrap();
        d.computed(key(2), None);
        // Step 2 of 5 sits at ratio index 1 (0.99): |1 - 0.99| = 0.01 < 0.05.
        assert!(d.should_reuse(2, &key(2), ch(0.0), false));
        // Step 3 of 5: index 1.5, ratio 0.745: too large a change.
        assert!(!d.should_reuse(3, &key(2), ch(0.0), false));
    }

    #[test]
    fn rpfi_alpha_and_cfg_tail() {
        assert_eq!(rpfi_alpha(1.5, 0, 10), 0.15);
        assert_eq!(rpfi_alpha(1.5, 9, 10), 1.0);
        assert_eq!(rpfi_alpha(1.5, 3, 0), 0.0);
        assert_eq!(cfg_tail_start(0.3, 50), 35);
        assert_eq!(cfg_tail_start(0.0, 50), 50);
        assert_eq!(cfg_tail_start(1.0, 8), 1);
    }
}
