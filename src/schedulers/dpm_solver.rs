//! diffusers' `DPMSolverMultistepScheduler` (DPM-Solver++, multistep, orders 1–3) on the
//! flow-matching sigma schedule.
//!
//! Parity scope: the deterministic `dpmsolver++` algorithm (`deis` is registered as it, as in the
//! reference) with the `midpoint` or `heun` second-order form, `lower_order_final` /
//! `euler_at_final`, and the flow sigmas (`use_flow_sigmas`, static `flow_shift`) that flow-matching
//! models such as Wan and ChronoEdit sample with. A UniPC config of such a model switched over the
//! way diffusers' `DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)` does (see
//! [`super::with_solver`]) lands exactly here. Not implemented, refused by name: the noise-prediction
//! and SDE algorithms, thresholding, learned variances, the VP (beta) sigma schedules and their
//! Karras/exponential/beta/Lu variants, and `final_sigmas_type = "sigma_min"`.
use anyhow::{bail, Result};
use candle_core::Tensor;
use serde::Deserialize;

use super::{
    add, div_scalar, keep_history_frames, mul_scalar, np_linspace, sub, time_shift, Scheduler,
    StepCounter,
};

const NAME: &str = "DPMSolverMultistepScheduler";

/// `scheduler_config.json` of `DPMSolverMultistepScheduler`; defaults as in its `__init__`. Keys of
/// other schedulers' configs (a UniPC config's `predict_x0`, `disable_corrector`, …) are ignored, as
/// diffusers' `from_config` ignores them.
#[derive(Debug, Clone, Deserialize)]
pub struct DpmSolverConfig {
    #[serde(default = "default_train_steps")]
    pub num_train_timesteps: usize,
    #[serde(default = "default_solver_order")]
    pub solver_order: usize,
    #[serde(default = "default_prediction_type")]
    pub prediction_type: String,
    #[serde(default)]
    pub thresholding: bool,
    #[serde(default = "default_algorithm_type")]
    pub algorithm_type: String,
    #[serde(default = "default_solver_type")]
    pub solver_type: String,
    #[serde(default = "yes")]
    pub lower_order_final: bool,
    #[serde(default)]
    pub euler_at_final: bool,
    #[serde(default)]
    pub use_karras_sigmas: bool,
    #[serde(default)]
    pub use_exponential_sigmas: bool,
    #[serde(default)]
    pub use_beta_sigmas: bool,
    #[serde(default)]
    pub use_lu_lambdas: bool,
    #[serde(default)]
    pub use_flow_sigmas: bool,
    #[serde(default = "one")]
    pub flow_shift: f64,
    #[serde(default = "default_final_sigmas_type")]
    pub final_sigmas_type: String,
    #[serde(default)]
    pub variance_type: Option<String>,
}

fn default_train_steps() -> usize {
    1000
}
fn default_solver_order() -> usize {
    2
}
fn default_prediction_type() -> String {
    "epsilon".into()
}
fn default_algorithm_type() -> String {
    "dpmsolver++".into()
}
fn default_solver_type() -> String {
    "midpoint".into()
}
fn default_final_sigmas_type() -> String {
    "zero".into()
}
fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Prediction {
    Epsilon,
    Sample,
    VPrediction,
    Flow,
}

/// DPM-Solver++ multistep scheduler.
#[derive(Debug, Clone)]
pub struct DpmSolverMultistepScheduler {
    cfg: DpmSolverConfig,
    prediction: Prediction,
    heun: bool,
    timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    /// Converted (data-prediction) outputs, oldest first; `solver_order` slots.
    model_outputs: Vec<Option<Tensor>>,
    lower_order_nums: usize,
    counter: StepCounter,
}

impl DpmSolverMultistepScheduler {
    /// Validates the config as the reference `__init__` does, refusing what is not implemented.
    pub fn new(mut cfg: DpmSolverConfig) -> Result<Self> {
        let special = [
            ("use_karras_sigmas", cfg.use_karras_sigmas),
            ("use_exponential_sigmas", cfg.use_exponential_sigmas),
            ("use_beta_sigmas", cfg.use_beta_sigmas),
        ];
        if special.iter().filter(|(_, on)| *on).count() > 1 {
            bail!(
                "{NAME}: only one of `use_beta_sigmas`, `use_exponential_sigmas`, \
                 `use_karras_sigmas` can be set"
            );
        }
        match cfg.algorithm_type.as_str() {
            "dpmsolver++" => {}
            // The reference registers `deis` as dpmsolver++.
            "deis" => cfg.algorithm_type = "dpmsolver++".into(),
            "dpmsolver" | "sde-dpmsolver" | "sde-dpmsolver++" => bail!(
                "{NAME}: option `algorithm_type` = {:?} is not implemented (only the deterministic \
                 \"dpmsolver++\")",
                cfg.algorithm_type
            ),
            other => bail!("{NAME}: option `algorithm_type` = {other:?} is not implemented"),
        }
        let heun = match cfg.solver_type.as_str() {
            "midpoint" => false,
            "heun" => true,
            // The reference registers these as midpoint.
            "logrho" | "bh1" | "bh2" => {
                cfg.solver_type = "midpoint".into();
                false
            }
            other => bail!("{NAME}: option `solver_type` = {other:?} is not implemented"),
        };
        for (key, on) in special
            .into_iter()
            .chain([("use_lu_lambdas", cfg.use_lu_lambdas)])
        {
            if on {
                bail!("{NAME}: option `{key}` = true is not implemented");
            }
        }
        if !cfg.use_flow_sigmas {
            bail!(
                "{NAME}: only the flow-matching sigma schedule is implemented: option \
                 `use_flow_sigmas` must be true"
            );
        }
        if cfg.thresholding {
            bail!("{NAME}: option `thresholding` = true is not implemented");
        }
        if let Some(v) = &cfg.variance_type {
            bail!("{NAME}: option `variance_type` = {v:?} is not implemented");
        }
        match cfg.final_sigmas_type.as_str() {
            "zero" => {}
            "sigma_min" => bail!(
                "{NAME}: option `final_sigmas_type` = \"sigma_min\" is not implemented (only \"zero\")"
            ),
            other => bail!(
                "{NAME}: option `final_sigmas_type` = {other:?} is not one of zero, sigma_min"
            ),
        }
        if cfg.solver_order == 0 || cfg.solver_order > 3 {
            bail!(
                "{NAME}: option `solver_order` = {} is not implemented (1, 2 or 3)",
                cfg.solver_order
            );
        }
        if cfg.num_train_timesteps < 2 {
            bail!("{NAME}: option `num_train_timesteps` must be at least 2");
        }
        if !(cfg.flow_shift.is_finite() && cfg.flow_shift > 0.0) {
            bail!(
                "{NAME}: option `flow_shift` must be a positive number, got {}",
                cfg.flow_shift
            );
        }
        let prediction = match cfg.prediction_type.as_str() {
            "epsilon" => Prediction::Epsilon,
            "sample" => Prediction::Sample,
            "v_prediction" => Prediction::VPrediction,
            "flow_prediction" => Prediction::Flow,
            other => bail!(
                "{NAME}: option `prediction_type` = {other:?} is not one of epsilon, sample, \
                 v_prediction, flow_prediction"
            ),
        };
        let order = cfg.solver_order;
        Ok(Self {
            cfg,
            prediction,
            heun,
            timesteps: Vec::new(),
            sigmas: Vec::new(),
            model_outputs: vec![None; order],
            lower_order_nums: 0,
            counter: StepCounter::default(),
        })
    }

    pub fn config(&self) -> &DpmSolverConfig {
        &self.cfg
    }

    /// `(alpha_t, sigma_t, lambda_t)` of a float32 flow sigma: `alpha = 1 − σ`, `λ = ln α − ln σ`
    /// (each a float32 0-dim tensor in the reference; `λ = +∞` at σ = 0).
    fn alpha_sigma_lambda(&self, sigma: f32) -> (f32, f32, f32) {
        let alpha = 1.0 - sigma;
        (alpha, sigma, alpha.ln() - sigma.ln())
    }

    /// `convert_model_output` for `dpmsolver++`: the data prediction x0.
    fn convert_model_output(
        &self,
        model_output: &Tensor,
        sample: &Tensor,
        idx: usize,
    ) -> Result<Tensor> {
        let sigma = self.sigmas[idx];
        let (alpha_t, sigma_t, _) = self.alpha_sigma_lambda(sigma);
        Ok(match self.prediction {
            Prediction::Epsilon => {
                div_scalar(&sub(sample, &mul_scalar(model_output, sigma_t)?)?, alpha_t)?
            }
            Prediction::Sample => model_output.clone(),
            Prediction::VPrediction => sub(
                &mul_scalar(sample, alpha_t)?,
                &mul_scalar(model_output, sigma_t)?,
            )?,
            Prediction::Flow => sub(sample, &mul_scalar(model_output, sigma)?)?,
        })
    }

    fn history(&self, back: usize) -> Result<&Tensor> {
        let n = self.model_outputs.len();
        self.model_outputs[n - 1 - back]
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{NAME}: missing model output history"))
    }

    /// `dpm_solver_first_order_update` (DDIM in data prediction).
    fn first_order(&self, sample: &Tensor, idx: usize) -> Result<Tensor> {
        let (alpha_t, sigma_t, lambda_t) = self.alpha_sigma_lambda(self.sigmas[idx + 1]);
        let (_, sigma_s, lambda_s) = self.alpha_sigma_lambda(self.sigmas[idx]);
        let h = lambda_t - lambda_s;
        let m0 = self.history(0)?;
        Ok(sub(
            &mul_scalar(sample, sigma_t / sigma_s)?,
            &mul_scalar(m0, alpha_t * ((-h).exp() - 1.0))?,
        )?)
    }

    /// `multistep_dpm_solver_second_order_update`.
    fn second_order(&self, sample: &Tensor, idx: usize) -> Result<Tensor> {
        if idx < 1 {
            bail!("{NAME}: second-order update needs one earlier step");
        }
        let (alpha_t, sigma_t, lambda_t) = self.alpha_sigma_lambda(self.sigmas[idx + 1]);
        let (_, sigma_s0, lambda_s0) = self.alpha_sigma_lambda(self.sigmas[idx]);
        let (_, _, lambda_s1) = self.alpha_sigma_lambda(self.sigmas[idx - 1]);
        let (m0, m1) = (self.history(0)?, self.history(1)?);
        let h = lambda_t - lambda_s0;
        let h_0 = lambda_s0 - lambda_s1;
        let r0 = h_0 / h;
        let d1 = mul_scalar(&sub(m0, m1)?, 1.0 / r0)?;
        let em1 = (-h).exp() - 1.0;
        let x = sub(
            &mul_scalar(sample, sigma_t / sigma_s0)?,
            &mul_scalar(m0, alpha_t * em1)?,
        )?;
        Ok(if self.heun {
            add(&x, &mul_scalar(&d1, alpha_t * (em1 / h + 1.0))?)?
        } else {
            sub(&x, &mul_scalar(&d1, 0.5 * (alpha_t * em1))?)?
        })
    }

    /// `multistep_dpm_solver_third_order_update`.
    fn third_order(&self, sample: &Tensor, idx: usize) -> Result<Tensor> {
        if idx < 2 {
            bail!("{NAME}: third-order update needs two earlier steps");
        }
        let (alpha_t, sigma_t, lambda_t) = self.alpha_sigma_lambda(self.sigmas[idx + 1]);
        let (_, sigma_s0, lambda_s0) = self.alpha_sigma_lambda(self.sigmas[idx]);
        let (_, _, lambda_s1) = self.alpha_sigma_lambda(self.sigmas[idx - 1]);
        let (_, _, lambda_s2) = self.alpha_sigma_lambda(self.sigmas[idx - 2]);
        let (m0, m1, m2) = (self.history(0)?, self.history(1)?, self.history(2)?);
        let h = lambda_t - lambda_s0;
        let (h_0, h_1) = (lambda_s0 - lambda_s1, lambda_s1 - lambda_s2);
        let (r0, r1) = (h_0 / h, h_1 / h);
        let d1_0 = mul_scalar(&sub(m0, m1)?, 1.0 / r0)?;
        let d1_1 = mul_scalar(&sub(m1, m2)?, 1.0 / r1)?;
        let diff = sub(&d1_0, &d1_1)?;
        let d1 = add(&d1_0, &mul_scalar(&diff, r0 / (r0 + r1))?)?;
        let d2 = mul_scalar(&diff, 1.0 / (r0 + r1))?;
        let em1 = (-h).exp() - 1.0;
        let x = sub(
            &mul_scalar(sample, sigma_t / sigma_s0)?,
            &mul_scalar(m0, alpha_t * em1)?,
        )?;
        let x = add(&x, &mul_scalar(&d1, alpha_t * (em1 / h + 1.0))?)?;
        Ok(sub(
            &x,
            &mul_scalar(&d2, alpha_t * ((em1 + h) / (h * h) - 0.5))?,
        )?)
    }
}

impl Scheduler for DpmSolverMultistepScheduler {
    /// The flow-sigma branch of the reference `set_timesteps` (numpy f64, stored as float32):
    /// `σ = flip(shift(1 − linspace(1, 1/N, n + 1)))[:-1]`, timesteps `int64(σ·N)`, final sigma 0.
    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<()> {
        if num_inference_steps == 0 {
            bail!("{NAME}: num_inference_steps must be positive");
        }
        let n_train = self.cfg.num_train_timesteps as f64;
        let mut s: Vec<f64> = np_linspace(1.0, 1.0 / n_train, num_inference_steps + 1)
            .iter()
            .map(|a| 1.0 - a)
            .collect();
        time_shift(&mut s, None, true, self.cfg.flow_shift);
        s.reverse();
        s.pop();
        // float64 -> int64 truncates toward zero.
        self.timesteps = s.iter().map(|&v| (v * n_train).trunc()).collect();
        self.sigmas = s.iter().map(|&v| v as f32).collect();
        self.sigmas.push(0.0);
        self.model_outputs = vec![None; self.cfg.solver_order];
        self.lower_order_nums = 0;
        self.counter.reset();
        Ok(())
    }

    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn sigmas(&self) -> &[f32] {
        &self.sigmas
    }

    fn step(
        &mut self,
        model_output: &Tensor,
        step_index: usize,
        sample: &Tensor,
    ) -> Result<Tensor> {
        let idx = self
            .counter
            .current(step_index, &self.timesteps, NAME, true)?;
        if idx + 1 >= self.sigmas.len() {
            bail!("{NAME}: step index {idx} past the end of the schedule");
        }
        let n = self.timesteps.len();
        let short = self.cfg.lower_order_final && n < 15;
        // Lower orders at the end "for numerical stability with few steps", as the reference does;
        // with a zero final sigma the last step is always first order.
        let lower_order_final = idx == n - 1
            && (self.cfg.euler_at_final || short || self.cfg.final_sigmas_type == "zero");
        let lower_order_second = idx + 2 == n && short;
        let converted = self.convert_model_output(model_output, sample, idx)?;
        let out_dtype = converted.dtype();
        self.model_outputs.remove(0);
        self.model_outputs.push(Some(converted));
        // The reference upcasts the sample to float32 for the update.
        let sample = sample.to_dtype(candle_core::DType::F32)?;
        let order = self.cfg.solver_order;
        let prev = if order == 1 || self.lower_order_nums < 1 || lower_order_final {
            self.first_order(&sample, idx)?
        } else if order == 2 || self.lower_order_nums < 2 || lower_order_second {
            self.second_order(&sample, idx)?
        } else {
            self.third_order(&sample, idx)?
        };
        if self.lower_order_nums < order {
            self.lower_order_nums += 1;
        }
        self.counter.advance(step_index);
        Ok(prev.to_dtype(out_dtype)?)
    }

    fn keep_latent_frames(&mut self, frames: &[usize]) -> Result<()> {
        keep_history_frames(&mut self.model_outputs, frames, NAME)?;
        Ok(())
    }

    fn init_noise_sigma(&self) -> f64 {
        1.0
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
