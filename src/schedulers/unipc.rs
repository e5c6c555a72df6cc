//! diffusers' `UniPCMultistepScheduler` (UniP predictor + UniC corrector, B(h) variants).
use anyhow::{bail, Result};
use candle_core::{DType, Tensor};
use serde::Deserialize;

use super::{
    add, div_scalar, keep_history_frames, mul_scalar, np_arange, np_linspace, select_frames,
    stretch_shift_to_terminal, sub, time_shift, torch_cumprod_f32, torch_linspace_f32, Scheduler,
    StepCounter,
};

const NAME: &str = "UniPCMultistepScheduler";

/// `scheduler_config.json` of `UniPCMultistepScheduler`; defaults as in its `__init__`.
#[derive(Debug, Clone, Deserialize)]
pub struct UniPcConfig {
    #[serde(default = "default_train_steps")]
    pub num_train_timesteps: usize,
    #[serde(default = "default_beta_start")]
    pub beta_start: f64,
    #[serde(default = "default_beta_end")]
    pub beta_end: f64,
    #[serde(default = "default_beta_schedule")]
    pub beta_schedule: String,
    #[serde(default)]
    pub trained_betas: Option<Vec<f64>>,
    #[serde(default = "default_solver_order")]
    pub solver_order: usize,
    #[serde(default = "default_prediction_type")]
    pub prediction_type: String,
    #[serde(default)]
    pub thresholding: bool,
    #[serde(default = "default_dtr")]
    pub dynamic_thresholding_ratio: f64,
    #[serde(default = "one")]
    pub sample_max_value: f64,
    #[serde(default = "yes")]
    pub predict_x0: bool,
    #[serde(default = "default_solver_type")]
    pub solver_type: String,
    #[serde(default = "yes")]
    pub lower_order_final: bool,
    #[serde(default)]
    pub disable_corrector: Vec<i64>,
    #[serde(default)]
    pub solver_p: Option<serde_json::Value>,
    #[serde(default)]
    pub use_karras_sigmas: bool,
    #[serde(default)]
    pub use_exponential_sigmas: bool,
    #[serde(default)]
    pub use_beta_sigmas: bool,
    #[serde(default)]
    pub use_flow_sigmas: bool,
    #[serde(default = "one")]
    pub flow_shift: f64,
    #[serde(default = "default_spacing")]
    pub timestep_spacing: String,
    #[serde(default)]
    pub steps_offset: i64,
    #[serde(default = "default_final_sigmas_type")]
    pub final_sigmas_type: String,
    #[serde(default)]
    pub rescale_betas_zero_snr: bool,
    #[serde(default)]
    pub use_dynamic_shifting: bool,
    #[serde(default = "default_time_shift_type")]
    pub time_shift_type: String,
    #[serde(default)]
    pub sigma_min: Option<f64>,
    #[serde(default)]
    pub sigma_max: Option<f64>,
    #[serde(default)]
    pub shift_terminal: Option<f64>,
}

fn default_train_steps() -> usize {
    1000
}
fn default_beta_start() -> f64 {
    0.0001
}
fn default_beta_end() -> f64 {
    0.02
}
fn default_beta_schedule() -> String {
    "linear".into()
}
fn default_solver_order() -> usize {
    2
}
fn default_prediction_type() -> String {
    "epsilon".into()
}
fn default_dtr() -> f64 {
    0.995
}
fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}
fn default_solver_type() -> String {
    "bh2".into()
}
fn default_spacing() -> String {
    "linspace".into()
}
fn default_final_sigmas_type() -> String {
    "zero".into()
}
fn default_time_shift_type() -> String {
    "exponential".into()
}

impl Default for UniPcConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Prediction {
    Epsilon,
    Sample,
    VPrediction,
    Flow,
}

/// UniPC multistep scheduler.
#[derive(Debug, Clone)]
pub struct UniPcMultistepScheduler {
    cfg: UniPcConfig,
    prediction: Prediction,
    bh1: bool,
    /// float32 `alphas_cumprod` of the training schedule.
    alphas_cumprod: Vec<f32>,
    /// float32 training sigmas `((1 - a) / a) ** 0.5`.
    train_sigmas: Vec<f32>,
    timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    model_outputs: Vec<Option<Tensor>>,
    last_sample: Option<Tensor>,
    lower_order_nums: usize,
    this_order: usize,
    counter: StepCounter,
}

/// `betas_for_alpha_bar` with the cosine transform, in f64, stored as f32.
fn cosine_betas(n: usize) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0)
            .cos()
            .powi(2)
    };
    (0..n)
        .map(|i| {
            let t1 = i as f64 / n as f64;
            let t2 = (i + 1) as f64 / n as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
        })
        .collect()
}

/// `rescale_zero_terminal_snr` in float32.
fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let alphas: Vec<f32> = betas.iter().map(|&b| 1.0 - b).collect();
    let cum = torch_cumprod_f32(&alphas);
    let mut s: Vec<f32> = cum.iter().map(|&a| a.sqrt()).collect();
    let s0 = s[0];
    let st = s[s.len() - 1];
    for v in s.iter_mut() {
        *v -= st;
    }
    let scale = s0 / (s0 - st);
    for v in s.iter_mut() {
        *v *= scale;
    }
    let ab: Vec<f32> = s.iter().map(|&v| v * v).collect();
    let mut out = Vec::with_capacity(ab.len());
    out.push(1.0 - ab[0]);
    for i in 1..ab.len() {
        out.push(1.0 - ab[i] / ab[i - 1]);
    }
    out
}

/// Solves `a x = b` (n x n, row-major) in f32 with partial pivoting, as LAPACK's getrf/getrs.
fn solve_f32(a: &[Vec<f32>], b: &[f32]) -> Result<Vec<f32>> {
    let n = b.len();
    let mut m: Vec<Vec<f32>> = a.iter().map(|r| r[..n].to_vec()).collect();
    let mut x = b.to_vec();
    for col in 0..n {
        let mut piv = col;
        for r in col + 1..n {
            if m[r][col].abs() > m[piv][col].abs() {
                piv = r;
            }
        }
        if m[piv][col] == 0.0 {
            bail!("{NAME}: singular UniPC coefficient system");
        }
        m.swap(col, piv);
        x.swap(col, piv);
        for r in col + 1..n {
            let f = m[r][col] / m[col][col];
            for c in col + 1..n {
                m[r][c] -= f * m[col][c];
            }
            m[r][col] = 0.0;
            x[r] -= f * x[col];
        }
    }
    for col in (0..n).rev() {
        let mut v = x[col];
        for c in col + 1..n {
            v -= m[col][c] * x[c];
        }
        x[col] = v / m[col][col];
    }
    Ok(x)
}

impl UniPcMultistepScheduler {
    /// Validates the config and computes the training schedule as the reference `__init__` does.
    pub fn new(mut cfg: UniPcConfig) -> Result<Self> {
        let n_special = [
            cfg.use_karras_sigmas,
            cfg.use_exponential_sigmas,
            cfg.use_beta_sigmas,
        ]
        .iter()
        .filter(|&&b| b)
        .count();
        if n_special > 1 {
            bail!(
                "{NAME}: only one of `use_beta_sigmas`, `use_exponential_sigmas`, \
                 `use_karras_sigmas` can be set"
            );
        }
        if cfg.use_beta_sigmas {
            bail!("{NAME}: option `use_beta_sigmas` = true is not supported");
        }
        if cfg.thresholding {
            bail!("{NAME}: option `thresholding` = true is not supported");
        }
        if cfg.solver_p.as_ref().is_some_and(|v| !v.is_null()) {
            bail!("{NAME}: option `solver_p` is not supported");
        }
        if cfg.shift_terminal.is_some() && !cfg.use_flow_sigmas {
            bail!(
                "{NAME}: option `shift_terminal` is only supported when `use_flow_sigmas` is true"
            );
        }
        if cfg.solver_order == 0 {
            bail!("{NAME}: option `solver_order` must be positive");
        }
        if cfg.num_train_timesteps < 2 {
            bail!("{NAME}: option `num_train_timesteps` must be at least 2");
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
        if prediction == Prediction::Flow && !cfg.predict_x0 {
            bail!("{NAME}: option `prediction_type` = \"flow_prediction\" requires `predict_x0` = true");
        }
        match cfg.solver_type.as_str() {
            "bh1" | "bh2" => {}
            // The reference registers these as bh2.
            "midpoint" | "heun" | "logrho" => cfg.solver_type = "bh2".into(),
            other => bail!("{NAME}: option `solver_type` = {other:?} is not implemented"),
        }
        match cfg.timestep_spacing.as_str() {
            "linspace" | "leading" | "trailing" => {}
            other => bail!(
                "{NAME}: option `timestep_spacing` = {other:?} is not one of linspace, leading, trailing"
            ),
        }
        match cfg.final_sigmas_type.as_str() {
            "zero" | "sigma_min" => {}
            other => bail!(
                "{NAME}: option `final_sigmas_type` = {other:?} is not one of zero, sigma_min"
            ),
        }
        if cfg.time_shift_type != "exponential" && cfg.time_shift_type != "linear" {
            bail!(
                "{NAME}: option `time_shift_type` = {:?} is not supported",
                cfg.time_shift_type
            );
        }
        let n = cfg.num_train_timesteps;
        let mut betas: Vec<f32> = if let Some(tb) = &cfg.trained_betas {
            if tb.len() != n {
                bail!(
                    "{NAME}: option `trained_betas` has {} values, expected num_train_timesteps = {n}",
                    tb.len()
                );
            }
            tb.iter().map(|&b| b as f32).collect()
        } else {
            match cfg.beta_schedule.as_str() {
                "linear" => torch_linspace_f32(cfg.beta_start, cfg.beta_end, n),
                "scaled_linear" => {
                    torch_linspace_f32(cfg.beta_start.sqrt(), cfg.beta_end.sqrt(), n)
                        .iter()
                        .map(|&b| b * b)
                        .collect()
                }
                "squaredcos_cap_v2" => cosine_betas(n),
                other => bail!("{NAME}: option `beta_schedule` = {other:?} is not implemented"),
            }
        };
        if cfg.rescale_betas_zero_snr {
            betas = rescale_zero_terminal_snr(&betas);
        }
        let alphas: Vec<f32> = betas.iter().map(|&b| 1.0 - b).collect();
        let mut alphas_cumprod = torch_cumprod_f32(&alphas);
        if cfg.rescale_betas_zero_snr {
            alphas_cumprod[n - 1] = 2f32.powi(-24);
        }
        let train_sigmas = alphas_cumprod
            .iter()
            .map(|&a| ((1.0 - a) / a).sqrt())
            .collect();
        let order = cfg.solver_order;
        Ok(Self {
            bh1: cfg.solver_type == "bh1",
            cfg,
            prediction,
            alphas_cumprod,
            train_sigmas,
            timesteps: Vec::new(),
            sigmas: Vec::new(),
            model_outputs: vec![None; order],
            last_sample: None,
            lower_order_nums: 0,
            this_order: 0,
            counter: StepCounter::default(),
        })
    }

    pub fn config(&self) -> &UniPcConfig {
        &self.cfg
    }

    /// `set_timesteps(num_inference_steps, mu=mu)`; `mu` is required iff `use_dynamic_shifting`.
    pub fn set_timesteps_with_mu(
        &mut self,
        num_inference_steps: usize,
        mu: Option<f64>,
    ) -> Result<()> {
        if self.cfg.use_dynamic_shifting && mu.is_none() {
            bail!("{NAME}: `mu` must be given when option `use_dynamic_shifting` is true");
        }
        if num_inference_steps == 0 {
            bail!("{NAME}: num_inference_steps must be positive");
        }
        let n_train = self.cfg.num_train_timesteps;
        let steps = num_inference_steps;
        // Integer timesteps (int64 in the reference).
        let mut timesteps: Vec<f64> = match self.cfg.timestep_spacing.as_str() {
            "linspace" => {
                let mut t = np_linspace(0.0, (n_train - 1) as f64, steps + 1);
                t.remove(0);
                t.iter().rev().map(|v| v.round_ties_even()).collect()
            }
            "leading" => {
                let ratio = n_train / (steps + 1);
                let mut t: Vec<f64> = (0..=steps).map(|i| (i * ratio) as f64).collect();
                t.reverse();
                t.pop();
                t.iter()
                    .map(|&v| v + self.cfg.steps_offset as f64)
                    .collect()
            }
            _ => {
                let ratio = n_train as f64 / steps as f64;
                np_arange(n_train as f64, 0.0, -ratio)
                    .iter()
                    .map(|v| v.round_ties_even() - 1.0)
                    .collect()
            }
        };
        let sigma_last_zero = self.cfg.final_sigmas_type == "zero";
        let mut sigmas: Vec<f32>;
        if self.cfg.use_karras_sigmas || self.cfg.use_exponential_sigmas {
            // Schedules derived from the float32 training sigmas (log taken in float32 as numpy
            // does on a float32 array).
            let log_sigmas: Vec<f32> = self.train_sigmas.iter().map(|&v| v.ln()).collect();
            let in_min = self.train_sigmas[0] as f64;
            let in_max = self.train_sigmas[n_train - 1] as f64;
            let smin = self.cfg.sigma_min.unwrap_or(in_min);
            let smax = self.cfg.sigma_max.unwrap_or(in_max);
            let mut s: Vec<f64> = if self.cfg.use_karras_sigmas {
                let rho = 7.0f64;
                let min_inv = smin.powf(1.0 / rho);
                let max_inv = smax.powf(1.0 / rho);
                np_linspace(0.0, 1.0, steps)
                    .iter()
                    .map(|&r| (max_inv + r * (min_inv - max_inv)).powf(rho))
                    .collect()
            } else {
                np_linspace(smax.ln(), smin.ln(), steps)
                    .iter()
                    .map(|&v| v.exp())
                    .collect()
            };
            if self.cfg.use_karras_sigmas && self.cfg.use_flow_sigmas {
                for v in s.iter_mut() {
                    *v = *v / (*v + 1.0);
                }
                timesteps = s.iter().map(|&v| (v * n_train as f64).trunc()).collect();
            } else if self.cfg.use_karras_sigmas {
                timesteps = s
                    .iter()
                    .map(|&v| sigma_to_t(v, &log_sigmas).round_ties_even())
                    .collect();
            } else {
                // Not rounded: the float64 -> int64 cast truncates.
                timesteps = s
                    .iter()
                    .map(|&v| sigma_to_t(v, &log_sigmas).trunc())
                    .collect();
            }
            let last = if sigma_last_zero { 0.0 } else { s[s.len() - 1] };
            sigmas = s.iter().map(|&v| v as f32).collect();
            sigmas.push(last as f32);
        } else if self.cfg.use_flow_sigmas {
            let mut s = np_linspace(1.0, 1.0 / n_train as f64, steps + 1);
            s.pop();
            let mu = self
                .cfg
                .use_dynamic_shifting
                .then(|| mu.unwrap_or_default());
            let exponential = self.cfg.time_shift_type == "exponential";
            time_shift(&mut s, mu, exponential, self.cfg.flow_shift);
            if let Some(st) = self.cfg.shift_terminal.filter(|&v| v != 0.0) {
                stretch_shift_to_terminal(&mut s, st);
            }
            let eps = 1e-6;
            if (s[0] - 1.0).abs() < eps {
                s[0] -= eps;
            }
            // float64 -> int64 truncates toward zero.
            timesteps = s.iter().map(|&v| (v * n_train as f64).trunc()).collect();
            let last = if sigma_last_zero { 0.0 } else { s[s.len() - 1] };
            sigmas = s.iter().map(|&v| v as f32).collect();
            sigmas.push(last as f32);
        } else {
            // np.interp at integer timesteps of the float32 training sigmas.
            let ts = &self.train_sigmas;
            sigmas = timesteps
                .iter()
                .map(|&t| interp_f32(t, ts))
                .collect::<Vec<f64>>()
                .iter()
                .map(|&v| v as f32)
                .collect();
            let last = if sigma_last_zero {
                0.0f32
            } else {
                let a0 = self.alphas_cumprod[0];
                ((1.0 - a0) / a0).sqrt()
            };
            sigmas.push(last);
        }
        self.timesteps = timesteps;
        self.sigmas = sigmas;
        self.model_outputs = vec![None; self.cfg.solver_order];
        self.lower_order_nums = 0;
        self.last_sample = None;
        self.this_order = 0;
        self.counter.reset();
        Ok(())
    }

    /// `_sigma_to_alpha_sigma_t` in float32.
    fn alpha_sigma(&self, sigma: f32) -> (f32, f32) {
        if self.cfg.use_flow_sigmas {
            (1.0 - sigma, sigma)
        } else {
            let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
            (alpha, sigma * alpha)
        }
    }

    fn lambda(&self, sigma: f32) -> (f32, f32, f32) {
        let (a, s) = self.alpha_sigma(sigma);
        (a, s, a.ln() - s.ln())
    }

    /// `convert_model_output`.
    fn convert_model_output(
        &self,
        model_output: &Tensor,
        sample: &Tensor,
        idx: usize,
    ) -> Result<Tensor> {
        let sigma = self.sigmas[idx];
        let (alpha_t, sigma_t) = self.alpha_sigma(sigma);
        if self.cfg.predict_x0 {
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
        } else {
            Ok(match self.prediction {
                Prediction::Epsilon => model_output.clone(),
                Prediction::Sample => {
                    div_scalar(&sub(sample, &mul_scalar(model_output, alpha_t)?)?, sigma_t)?
                }
                Prediction::VPrediction => add(
                    &mul_scalar(model_output, alpha_t)?,
                    &mul_scalar(sample, sigma_t)?,
                )?,
                Prediction::Flow => bail!("{NAME}: flow_prediction requires predict_x0"),
            })
        }
    }

    /// The B(h) coefficient set shared by predictor and corrector: returns
    /// (hh, h_phi_1, B_h, R (order x order), b (order)).
    fn coefficients(
        &self,
        h: f32,
        rks: &[f32],
        order: usize,
    ) -> (f32, f32, f32, Vec<Vec<f32>>, Vec<f32>) {
        let hh = if self.cfg.predict_x0 { -h } else { h };
        let h_phi_1 = hh.exp_m1();
        let mut h_phi_k = h_phi_1 / hh - 1.0;
        let mut factorial_i: u64 = 1;
        let b_h = if self.bh1 { hh } else { hh.exp_m1() };
        let mut r = Vec::with_capacity(order);
        let mut b = Vec::with_capacity(order);
        for i in 1..=order {
            r.push(
                rks.iter()
                    .map(|&x| torch_pow(x, i - 1))
                    .collect::<Vec<f32>>(),
            );
            b.push(h_phi_k * factorial_i as f32 / b_h);
            factorial_i *= (i + 1) as u64;
            h_phi_k = h_phi_k / hh - (1.0 / factorial_i as f64) as f32;
        }
        (hh, h_phi_1, b_h, r, b)
    }

    /// Rounds a coefficient to the sample dtype (`.to(x.dtype)` in the reference).
    fn round_to(x: f32, d: DType) -> f32 {
        match d {
            DType::BF16 => half::bf16::from_f32(x).to_f32(),
            DType::F16 => half::f16::from_f32(x).to_f32(),
            _ => x,
        }
    }

    /// `sum_k rho[k] * d[k]` (the reference's einsum "k,bkc...->bc...").
    fn weighted_sum(rhos: &[f32], d: &[Tensor]) -> Result<Option<Tensor>> {
        let mut acc: Option<Tensor> = None;
        for (r, t) in rhos.iter().zip(d) {
            let term = mul_scalar(t, *r)?;
            acc = Some(match acc {
                None => term,
                Some(a) => add(&a, &term)?,
            });
        }
        Ok(acc)
    }

    /// `multistep_uni_p_bh_update` at sigma index `idx` with the (already shifted) history.
    fn predictor(&self, sample: &Tensor, idx: usize, order: usize) -> Result<Tensor> {
        let hist = &self.model_outputs;
        let m0 = hist[hist.len() - 1]
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{NAME}: missing model output history"))?;
        let (alpha_t, sigma_t, lambda_t) = self.lambda(self.sigmas[idx + 1]);
        let (alpha_s0, sigma_s0, lambda_s0) = self.lambda(self.sigmas[idx]);
        let h = lambda_t - lambda_s0;
        let mut rks = Vec::new();
        let mut d1s = Vec::new();
        for i in 1..order {
            let si = idx
                .checked_sub(i)
                .ok_or_else(|| anyhow::anyhow!("{NAME}: history index before schedule start"))?;
            let mi = hist[hist.len() - 1 - i]
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("{NAME}: missing model output history"))?;
            let (_, _, lambda_si) = self.lambda(self.sigmas[si]);
            let rk = (lambda_si - lambda_s0) / h;
            rks.push(rk);
            d1s.push(div_scalar(&sub(mi, m0)?, rk)?);
        }
        rks.push(1.0);
        let (_hh, h_phi_1, b_h, r, b) = self.coefficients(h, &rks, order);
        let xd = sample.dtype();
        let rhos_p: Vec<f32> = if d1s.is_empty() {
            Vec::new()
        } else if order == 2 {
            vec![0.5]
        } else {
            let rr: Vec<Vec<f32>> = r[..order - 1]
                .iter()
                .map(|row| row[..order - 1].to_vec())
                .collect();
            solve_f32(&rr, &b[..order - 1])?
                .iter()
                .map(|&v| Self::round_to(v, xd))
                .collect()
        };
        let (c_x, c_m, c_res) = if self.cfg.predict_x0 {
            (sigma_t / sigma_s0, alpha_t * h_phi_1, alpha_t * b_h)
        } else {
            (alpha_t / alpha_s0, sigma_t * h_phi_1, sigma_t * b_h)
        };
        let x_t_ = sub(&mul_scalar(sample, c_x)?, &mul_scalar(m0, c_m)?)?;
        let x_t = match Self::weighted_sum(&rhos_p, &d1s)? {
            Some(pred_res) => sub(&x_t_, &mul_scalar(&pred_res, c_res)?)?,
            None => x_t_,
        };
        Ok(x_t.to_dtype(xd)?)
    }

    /// `multistep_uni_c_bh_update` at sigma index `idx` (history not yet shifted). The
    /// reference's `this_sample` argument only supplies the device, so it is not taken here.
    fn corrector(
        &self,
        this_model_output: &Tensor,
        last_sample: &Tensor,
        idx: usize,
        order: usize,
    ) -> Result<Tensor> {
        let hist = &self.model_outputs;
        let m0 = hist[hist.len() - 1]
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{NAME}: missing model output history"))?;
        let (alpha_t, sigma_t, lambda_t) = self.lambda(self.sigmas[idx]);
        let (alpha_s0, sigma_s0, lambda_s0) = self.lambda(self.sigmas[idx - 1]);
        let h = lambda_t - lambda_s0;
        let mut rks = Vec::new();
        let mut d1s = Vec::new();
        for i in 1..order {
            let si = idx
                .checked_sub(i + 1)
                .ok_or_else(|| anyhow::anyhow!("{NAME}: history index before schedule start"))?;
            let mi = hist[hist.len() - 1 - i]
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("{NAME}: missing model output history"))?;
            let (_, _, lambda_si) = self.lambda(self.sigmas[si]);
            let rk = (lambda_si - lambda_s0) / h;
            rks.push(rk);
            d1s.push(div_scalar(&sub(mi, m0)?, rk)?);
        }
        rks.push(1.0);
        let (_hh, h_phi_1, b_h, r, b) = self.coefficients(h, &rks, order);
        let xd = last_sample.dtype();
        let rhos_c: Vec<f32> = if order == 1 {
            vec![0.5]
        } else {
            solve_f32(&r, &b)?
                .iter()
                .map(|&v| Self::round_to(v, xd))
                .collect()
        };
        let (c_x, c_m, c_res) = if self.cfg.predict_x0 {
            (sigma_t / sigma_s0, alpha_t * h_phi_1, alpha_t * b_h)
        } else {
            (alpha_t / alpha_s0, sigma_t * h_phi_1, sigma_t * b_h)
        };
        let x_t_ = sub(&mul_scalar(last_sample, c_x)?, &mul_scalar(m0, c_m)?)?;
        let d1_t = sub(this_model_output, m0)?;
        let last_term = mul_scalar(&d1_t, rhos_c[order - 1])?;
        let inner = match Self::weighted_sum(&rhos_c[..order - 1], &d1s)? {
            Some(corr_res) => add(&corr_res, &last_term)?,
            None => last_term,
        };
        let x_t = sub(&x_t_, &mul_scalar(&inner, c_res)?)?;
        Ok(x_t.to_dtype(xd)?)
    }
}

/// `torch.pow(x, n)` for a float32 tensor and small integer exponent.
fn torch_pow(x: f32, n: usize) -> f32 {
    match n {
        0 => 1.0,
        1 => x,
        2 => x * x,
        3 => x * x * x,
        _ => x.powf(n as f32),
    }
}

/// `_sigma_to_t`: interpolates a sigma's position in the float32 log training sigmas (f64 math,
/// with `low - high` of two float32 values computed in float32 as numpy does).
fn sigma_to_t(sigma: f64, log_sigmas: &[f32]) -> f64 {
    let n = log_sigmas.len();
    let log_sigma = sigma.max(1e-10).ln();
    // argmax of the cumulative count of `log_sigma - log_sigmas[i] >= 0`: the last such i, else 0.
    let mut low_idx = 0usize;
    for (i, &ls) in log_sigmas.iter().enumerate() {
        if log_sigma - ls as f64 >= 0.0 {
            low_idx = i;
        }
    }
    let low_idx = low_idx.min(n - 2);
    let high_idx = low_idx + 1;
    let low = log_sigmas[low_idx];
    let high = log_sigmas[high_idx];
    let w = ((low as f64 - log_sigma) / (low - high) as f64).clamp(0.0, 1.0);
    (1.0 - w) * low_idx as f64 + w * high_idx as f64
}

/// `np.interp(t, arange(len), fp)` for float32 `fp`, in f64.
fn interp_f32(t: f64, fp: &[f32]) -> f64 {
    let n = fp.len();
    if t <= 0.0 {
        return fp[0] as f64;
    }
    if t >= (n - 1) as f64 {
        return fp[n - 1] as f64;
    }
    let j = t.floor() as usize;
    if t == j as f64 {
        return fp[j] as f64;
    }
    let slope = (fp[j + 1] as f64 - fp[j] as f64) / 1.0;
    slope * (t - j as f64) + fp[j] as f64
}

impl Scheduler for UniPcMultistepScheduler {
    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<()> {
        self.set_timesteps_with_mu(num_inference_steps, None)
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
        let use_corrector = idx > 0
            && !self.cfg.disable_corrector.contains(&(idx as i64 - 1))
            && self.last_sample.is_some();
        let converted = self.convert_model_output(model_output, sample, idx)?;
        let sample = if use_corrector {
            let last = self.last_sample.as_ref().expect("checked above");
            self.corrector(&converted, last, idx, self.this_order)?
        } else {
            sample.clone()
        };
        self.model_outputs.remove(0);
        self.model_outputs.push(Some(converted));
        let order = self.cfg.solver_order;
        let this_order = if self.cfg.lower_order_final {
            order.min(self.timesteps.len() - idx)
        } else {
            order
        };
        self.this_order = this_order.min(self.lower_order_nums + 1);
        let prev = self.predictor(&sample, idx, self.this_order)?;
        self.last_sample = Some(sample);
        if self.lower_order_nums < order {
            self.lower_order_nums += 1;
        }
        self.counter.advance(step_index);
        Ok(prev)
    }

    fn keep_latent_frames(&mut self, frames: &[usize]) -> Result<()> {
        keep_history_frames(&mut self.model_outputs, frames, NAME)?;
        if let Some(t) = &self.last_sample {
            self.last_sample = Some(select_frames(t, frames, &format!("{NAME} last_sample"))?);
        }
        Ok(())
    }

    fn init_noise_sigma(&self) -> f64 {
        1.0
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
