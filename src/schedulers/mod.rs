//! Noise schedulers: `set_timesteps` / `step` math, chosen by `scheduler_config.json`.
//!
//! The schedulers reproduce diffusers' arithmetic: the sigma/timestep schedule is computed in
//! f64 where diffusers uses numpy and in f32 where it uses torch float32 tensors (the stored
//! sigmas are float32), and the per-step scalar coefficients are evaluated in f32 exactly as the
//! 0-dim float32 tensors of the reference are. Tensor arithmetic follows torch's promotion rules
//! (a 0-dim scalar times a tensor keeps the tensor's dtype; two tensors of different float
//! dtypes promote to the wider one).
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Tensor};

pub mod dpm_solver;
pub mod flow_match_euler;
pub mod solver;
pub mod unipc;

pub use dpm_solver::{DpmSolverConfig, DpmSolverMultistepScheduler};
pub use flow_match_euler::{FlowMatchEulerConfig, FlowMatchEulerDiscreteScheduler};
pub use solver::{with_solver, Solver};
pub use unipc::{UniPcConfig, UniPcMultistepScheduler};

/// Common interface of the denoising schedulers.
///
/// `step` is called once per entry of `timesteps()`, in order, with `step_index` the loop
/// position `i` (diffusers' `for i, t in enumerate(timesteps)`). Internally the scheduler keeps
/// diffusers' own step counter: on the first call it is initialised from `timesteps()[i]` the way
/// diffusers' `_init_step_index` does (so a duplicated first timestep selects its second
/// occurrence, as in the reference), then it advances by one per call.
pub trait Scheduler: Send {
    /// Computes the timestep/sigma schedule for `num_inference_steps` and resets all state.
    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<()>;
    /// The timesteps the transformer receives, exactly (UniPC: int64 values; Euler: float32 values).
    fn timesteps(&self) -> &[f64];
    /// The float32 sigma schedule, including the appended final sigma.
    fn sigmas(&self) -> &[f32];
    /// One denoising step from `sample` at loop position `step_index` to the next sample.
    fn step(&mut self, model_output: &Tensor, step_index: usize, sample: &Tensor)
        -> Result<Tensor>;
    /// Keeps only the given latent frames (dim 2) of every stored history tensor, as ChronoEdit's
    /// pipeline does when temporal reasoning ends: stored model outputs whose frame count differs
    /// from `frames.len()` are sliced, the stored last sample is always sliced.
    fn keep_latent_frames(&mut self, frames: &[usize]) -> Result<()>;
    /// Standard deviation of the initial noise.
    fn init_noise_sigma(&self) -> f64;
    /// The diffusers class name.
    fn name(&self) -> &'static str;
}

/// Reads a diffusers `scheduler_config.json` and builds the scheduler its `_class_name` names.
pub fn from_config_file(path: &Path) -> Result<Box<dyn Scheduler>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading scheduler config {}", path.display()))?;
    from_config_str(&text, &path.display().to_string())
}

/// Same as [`from_config_file`], with the flow shift replaced when `flow_shift` is given (the
/// distilled recipes sample with shift 2 from a folder configured for 5): UniPC's and DPM-Solver's
/// `flow_shift`, FlowMatchEuler's `shift`.
pub fn from_config_file_with_shift(
    path: &Path,
    flow_shift: Option<f64>,
) -> Result<Box<dyn Scheduler>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading scheduler config {}", path.display()))?;
    from_config_str_with(&text, &path.display().to_string(), flow_shift, None)
}

/// The scheduler a JSON config describes, switched to `solver` when one is given
/// ([`with_solver`]), then with its flow shift replaced when `flow_shift` is given; `source`
/// names the config in error messages.
pub fn from_config_str_with(
    text: &str,
    source: &str,
    flow_shift: Option<f64>,
    solver: Option<Solver>,
) -> Result<Box<dyn Scheduler>> {
    if flow_shift.is_none() && solver.is_none() {
        return from_config_str(text, source);
    }
    let mut value = parse_json(text, source)?;
    if let Some(solver) = solver {
        value = with_solver(&value, solver).with_context(|| source.to_string())?;
    }
    if let Some(shift) = flow_shift {
        if !(shift.is_finite() && shift > 0.0) {
            bail!("flow shift must be a positive number, got {shift}");
        }
        let key = match value.get("_class_name").and_then(|v| v.as_str()) {
            Some("FlowMatchEulerDiscreteScheduler") => "shift",
            _ => "flow_shift",
        };
        if let Some(obj) = value.as_object_mut() {
            obj.insert(key.to_string(), serde_json::json!(shift));
        }
    }
    from_config_value(value, source)
}

/// Same as [`from_config_file`], from the JSON text; `source` names it in error messages.
pub fn from_config_str(json: &str, source: &str) -> Result<Box<dyn Scheduler>> {
    from_config_value(parse_json(json, source)?, source)
}

/// Parses a config as Python's `json` writes it: diffusers saves DPM-Solver's default
/// `lambda_min_clipped` as the bare token `-Infinity`, which JSON lacks. Bare `NaN`, `Infinity`
/// and `-Infinity` outside strings are read as `null` (no option PhysEdit reads takes them).
fn parse_json(text: &str, source: &str) -> Result<serde_json::Value> {
    let first = match serde_json::from_str(text) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str("null");
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    serde_json::from_str(&out)
        .map_err(|_| first)
        .with_context(|| format!("{source}: scheduler config is not valid JSON"))
}

fn from_config_value(value: serde_json::Value, source: &str) -> Result<Box<dyn Scheduler>> {
    let class = value
        .get("_class_name")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{source}: scheduler config has no string `_class_name`"))?;
    match class {
        "UniPCMultistepScheduler" => {
            let cfg: UniPcConfig = parse_config(&value, source, class)?;
            let s = UniPcMultistepScheduler::new(cfg).with_context(|| source.to_string())?;
            Ok(Box::new(s))
        }
        "FlowMatchEulerDiscreteScheduler" => {
            let cfg: FlowMatchEulerConfig = parse_config(&value, source, class)?;
            let s =
                FlowMatchEulerDiscreteScheduler::new(cfg).with_context(|| source.to_string())?;
            Ok(Box::new(s))
        }
        "DPMSolverMultistepScheduler" => {
            let cfg: DpmSolverConfig = parse_config(&value, source, class)?;
            let s = DpmSolverMultistepScheduler::new(cfg).with_context(|| source.to_string())?;
            Ok(Box::new(s))
        }
        other => bail!(
            "{source}: unsupported scheduler class `_class_name` = {other:?} (supported: \
             UniPCMultistepScheduler, DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler)"
        ),
    }
}

/// Deserialises a config; on failure names the offending option (serde's own message does not).
fn parse_config<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    source: &str,
    class: &str,
) -> Result<T> {
    match serde_json::from_value::<T>(value.clone()) {
        Ok(cfg) => Ok(cfg),
        Err(e) => {
            let culprit = value.as_object().and_then(|obj| {
                obj.iter()
                    .find(|(k, v)| {
                        let mut one = serde_json::Map::new();
                        one.insert((*k).clone(), (*v).clone());
                        serde_json::from_value::<T>(serde_json::Value::Object(one)).is_err()
                    })
                    .map(|(k, v)| format!(" (option `{k}` = {v})"))
            });
            bail!(
                "{source}: invalid {class} config{}: {e}",
                culprit.unwrap_or_default()
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// numpy / torch schedule helpers (f64 unless stated)
// ---------------------------------------------------------------------------------------------

/// `np.linspace(start, stop, num)` (endpoint included), bit-exact: `i * step + start`, last = stop.
pub(crate) fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return Vec::new();
    }
    if num == 1 {
        return vec![start];
    }
    let div = (num - 1) as f64;
    let delta = stop - start;
    let step = delta / div;
    let mut y: Vec<f64> = if step == 0.0 {
        (0..num).map(|i| (i as f64 / div) * delta + start).collect()
    } else {
        (0..num).map(|i| i as f64 * step + start).collect()
    };
    y[num - 1] = stop;
    y
}

/// `np.arange(start, stop, step)` for floats, bit-exact: numpy fills `start + i * delta` with
/// `delta = (start + step) - start`, and the length is `ceil((stop - start) / step)`.
pub(crate) fn np_arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil();
    if !(len > 0.0) {
        return Vec::new();
    }
    let len = len as usize;
    let mut out = Vec::with_capacity(len);
    out.push(start);
    if len > 1 {
        let second = start + step;
        out.push(second);
        let delta = second - start;
        for i in 2..len {
            out.push(start + i as f64 * delta);
        }
    }
    out
}

/// `torch.linspace(start, end, steps, dtype=torch.float32)` on CPU, bit-exact: the first half is
/// `fma(step, i, start)`, the second half `fma(-step, steps - 1 - i, end)`.
pub(crate) fn torch_linspace_f32(start: f64, end: f64, steps: usize) -> Vec<f32> {
    if steps == 0 {
        return Vec::new();
    }
    if steps == 1 {
        return vec![start as f32];
    }
    let s = start as f32;
    let e = end as f32;
    let step = (e - s) / (steps - 1) as f32;
    let half = steps / 2;
    (0..steps)
        .map(|i| {
            if i < half {
                step.mul_add(i as f32, s)
            } else {
                (-step).mul_add((steps - 1 - i) as f32, e)
            }
        })
        .collect()
}

/// `torch.cumprod` of a float32 vector on CPU (accumulates in f64, stores f32).
pub(crate) fn torch_cumprod_f32(x: &[f32]) -> Vec<f32> {
    let mut acc = 1.0f64;
    x.iter()
        .map(|&v| {
            acc *= v as f64;
            acc as f32
        })
        .collect()
}

/// The sigma shift of flow-matching schedules, in place (f64, the reference's numpy arithmetic):
/// with `mu` (dynamic shifting) diffusers' `time_shift(mu, 1.0, σ)`, exponential
/// (`e^mu / (e^mu + (1/σ − 1))`) or linear (`mu / (mu + (1/σ − 1))`); otherwise the static flow
/// shift `shift·σ / (1 + (shift − 1)·σ)`.
pub(crate) fn time_shift(sigmas: &mut [f64], mu: Option<f64>, exponential: bool, shift: f64) {
    match mu {
        Some(mu) => {
            let emu = mu.exp();
            for v in sigmas.iter_mut() {
                let x = 1.0 / *v - 1.0;
                *v = if exponential {
                    emu / (emu + x)
                } else {
                    mu / (mu + x)
                };
            }
        }
        None => {
            for v in sigmas.iter_mut() {
                *v = shift * *v / (1.0 + (shift - 1.0) * *v);
            }
        }
    }
}

/// diffusers' `stretch_shift_to_terminal`, in place: rescales `1 − σ` so that the last sigma
/// becomes `shift_terminal`.
pub(crate) fn stretch_shift_to_terminal(sigmas: &mut [f64], shift_terminal: f64) {
    let Some(&last) = sigmas.last() else {
        return;
    };
    let scale = (1.0 - last) / (1.0 - shift_terminal);
    for v in sigmas.iter_mut() {
        *v = 1.0 - (1.0 - *v) / scale;
    }
}

/// Finds diffusers' step index for a timestep: the second match if the timestep occurs more than
/// once in the schedule, else the first; `None` if it does not occur.
pub(crate) fn index_for_timestep(schedule: &[f64], t: f64) -> Option<usize> {
    let matches: Vec<usize> = schedule
        .iter()
        .enumerate()
        .filter(|(_, &v)| v == t)
        .map(|(i, _)| i)
        .collect();
    match matches.len() {
        0 => None,
        1 => Some(matches[0]),
        _ => Some(matches[1]),
    }
}

/// Tracks diffusers' internal step counter against the caller's loop position.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepCounter {
    /// diffusers' `_step_index` (index into sigmas) for the next step.
    pub(crate) index: Option<usize>,
    /// The loop position of the previous call.
    last_loop: Option<usize>,
}

impl StepCounter {
    pub(crate) fn reset(&mut self) {
        self.index = None;
        self.last_loop = None;
    }

    /// Returns the sigma index to use for loop position `loop_index` (not yet advanced).
    pub(crate) fn current(
        &mut self,
        loop_index: usize,
        timesteps: &[f64],
        name: &str,
        missing_is_last: bool,
    ) -> Result<usize> {
        if timesteps.is_empty() {
            bail!("{name}: `set_timesteps` must be called before `step`");
        }
        if loop_index >= timesteps.len() {
            bail!(
                "{name}: step index {loop_index} out of range for {} timesteps",
                timesteps.len()
            );
        }
        match (self.index, self.last_loop) {
            (Some(idx), Some(last)) => {
                if loop_index != last + 1 {
                    bail!(
                        "{name}: steps must be taken in order: got step index {loop_index} after \
                         {last} (call set_timesteps to restart)"
                    );
                }
                Ok(idx)
            }
            _ => {
                let t = timesteps[loop_index];
                let idx = match index_for_timestep(timesteps, t) {
                    Some(i) => i,
                    None if missing_is_last => timesteps.len() - 1,
                    None => bail!("{name}: timestep {t} not in schedule"),
                };
                self.index = Some(idx);
                Ok(idx)
            }
        }
    }

    pub(crate) fn advance(&mut self, loop_index: usize) {
        self.index = self.index.map(|i| i + 1);
        self.last_loop = Some(loop_index);
    }
}

// ---------------------------------------------------------------------------------------------
// tensor arithmetic mirroring torch's dtype rules
// ---------------------------------------------------------------------------------------------

/// Result dtype of a binary op between two float tensors (torch promotion).
pub(crate) fn promote(a: DType, b: DType) -> Result<DType> {
    use DType::*;
    for d in [a, b] {
        if !matches!(d, F16 | BF16 | F32 | F64) {
            bail!("scheduler tensors must be floating point, got {d:?}");
        }
    }
    Ok(if a == b {
        a
    } else if a == F64 || b == F64 {
        F64
    } else {
        F32
    })
}

fn is_reduced(d: DType) -> bool {
    matches!(d, DType::F16 | DType::BF16)
}

/// `scalar * tensor` with a float32 0-dim scalar on the left, as the reference writes it: the
/// product has the tensor's dtype. For bf16/f16 tensors torch first converts the scalar operand
/// to that dtype (it is not the special-cased right-hand scalar), then multiplies in f32 and
/// rounds once.
pub(crate) fn mul_scalar(t: &Tensor, s: f32) -> Result<Tensor> {
    let d = t.dtype();
    match d {
        DType::BF16 => {
            let s = half::bf16::from_f32(s).to_f32();
            Ok(t.to_dtype(DType::F32)?.affine(s as f64, 0.0)?.to_dtype(d)?)
        }
        DType::F16 => {
            let s = half::f16::from_f32(s).to_f32();
            Ok(t.to_dtype(DType::F32)?.affine(s as f64, 0.0)?.to_dtype(d)?)
        }
        _ => Ok(t.affine(s as f64, 0.0)?),
    }
}

/// `tensor / scalar` with a float32 0-dim scalar (true division, not multiplication by the
/// reciprocal, as torch's CPU kernel does; for bf16/f16 tensors the right-hand scalar keeps
/// its float32 value and the quotient is computed in f32, rounded once).
pub(crate) fn div_scalar(t: &Tensor, s: f32) -> Result<Tensor> {
    let d = t.dtype();
    let work = if is_reduced(d) { DType::F32 } else { d };
    let st = Tensor::new(s, t.device())?.to_dtype(work)?;
    let r = t.to_dtype(work)?.broadcast_div(&st)?;
    Ok(r.to_dtype(d)?)
}

fn binary(
    a: &Tensor,
    b: &Tensor,
    op: fn(&Tensor, &Tensor) -> candle_core::Result<Tensor>,
) -> Result<Tensor> {
    let d = promote(a.dtype(), b.dtype())?;
    if a.dims() != b.dims() {
        bail!(
            "scheduler tensor shapes differ: {:?} vs {:?}",
            a.dims(),
            b.dims()
        );
    }
    let work = if is_reduced(d) { DType::F32 } else { d };
    let r = op(&a.to_dtype(work)?, &b.to_dtype(work)?)?;
    Ok(r.to_dtype(d)?)
}

/// `a - b` with torch promotion.
pub(crate) fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, |x, y| x.sub(y))
}

/// `a + b` with torch promotion.
pub(crate) fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, |x, y| x.add(y))
}

/// Keeps `frames` of every stored multistep model output whose frame count differs from
/// `frames.len()` (the history a multistep scheduler keeps across the reasoning drop).
pub(crate) fn keep_history_frames(
    history: &mut [Option<Tensor>],
    frames: &[usize],
    name: &str,
) -> Result<()> {
    for (j, slot) in history.iter_mut().enumerate() {
        if let Some(t) = slot {
            if t.rank() < 3 {
                bail!(
                    "{name}: stored model output {j} has no frame dimension: {:?}",
                    t.dims()
                );
            }
            if t.dim(2)? != frames.len() {
                *t = select_frames(t, frames, &format!("{name} model_outputs[{j}]"))?;
            }
        }
    }
    Ok(())
}

/// Selects `frames` along dim 2, with a descriptive error when out of range.
pub(crate) fn select_frames(t: &Tensor, frames: &[usize], what: &str) -> Result<Tensor> {
    if t.rank() < 3 {
        bail!(
            "{what}: expected a (B, C, F, ...) tensor, got shape {:?}",
            t.dims()
        );
    }
    let f = t.dim(2)?;
    if let Some(&bad) = frames.iter().find(|&&i| i >= f) {
        bail!("{what}: latent frame {bad} out of range for {f} frames");
    }
    let idx: Vec<u32> = frames.iter().map(|&i| i as u32).collect();
    let idx = Tensor::new(idx.as_slice(), t.device())?;
    Ok(t.index_select(&idx, 2)?)
}
