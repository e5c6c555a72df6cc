//! diffusers' `FlowMatchEulerDiscreteScheduler` (deterministic Euler step on a flow-matching
//! sigma schedule).
use anyhow::{bail, Result};
use candle_core::{DType, Tensor};
use serde::Deserialize;

use super::{
    add, mul_scalar, np_linspace, stretch_shift_to_terminal, time_shift, Scheduler, StepCounter,
};

const NAME: &str = "FlowMatchEulerDiscreteScheduler";

/// `scheduler_config.json` of `FlowMatchEulerDiscreteScheduler`; defaults as in its `__init__`.
#[derive(Debug, Clone, Deserialize)]
pub struct FlowMatchEulerConfig {
    #[serde(default = "default_train_steps")]
    pub num_train_timesteps: usize,
    #[serde(default = "one")]
    pub shift: f64,
    #[serde(default)]
    pub use_dynamic_shifting: bool,
    #[serde(default = "default_base_shift")]
    pub base_shift: Option<f64>,
    #[serde(default = "default_max_shift")]
    pub max_shift: Option<f64>,
    #[serde(default = "default_base_seq")]
    pub base_image_seq_len: usize,
    #[serde(default = "default_max_seq")]
    pub max_image_seq_len: usize,
    #[serde(default)]
    pub invert_sigmas: bool,
    #[serde(default)]
    pub shift_terminal: Option<f64>,
    #[serde(default)]
    pub use_karras_sigmas: bool,
    #[serde(default)]
    pub use_exponential_sigmas: bool,
    #[serde(default)]
    pub use_beta_sigmas: bool,
    #[serde(default = "default_time_shift_type")]
    pub time_shift_type: String,
    #[serde(default)]
    pub stochastic_sampling: bool,
}

fn default_train_steps() -> usize {
    1000
}
fn one() -> f64 {
    1.0
}
fn default_base_shift() -> Option<f64> {
    Some(0.5)
}
fn default_max_shift() -> Option<f64> {
    Some(1.15)
}
fn default_base_seq() -> usize {
    256
}
fn default_max_seq() -> usize {
    4096
}
fn default_time_shift_type() -> String {
    "exponential".to_string()
}

impl Default for FlowMatchEulerConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }
}

/// Flow-matching Euler scheduler.
#[derive(Debug, Clone)]
pub struct FlowMatchEulerDiscreteScheduler {
    cfg: FlowMatchEulerConfig,
    /// `self.sigma_max` / `self.sigma_min` of the reference (float32 values from `__init__`).
    sigma_max: f32,
    sigma_min: f32,
    timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    counter: StepCounter,
}

impl FlowMatchEulerDiscreteScheduler {
    /// Validates the config and computes the training sigmas as the reference `__init__` does.
    pub fn new(cfg: FlowMatchEulerConfig) -> Result<Self> {
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
            bail!("{NAME}: option `use_beta_sigmas` is not supported");
        }
        if cfg.time_shift_type != "exponential" && cfg.time_shift_type != "linear" {
            bail!(
                "{NAME}: option `time_shift_type` must be \"exponential\" or \"linear\", got {:?}",
                cfg.time_shift_type
            );
        }
        if cfg.stochastic_sampling {
            bail!(
                "{NAME}: option `stochastic_sampling` = true is not supported (deterministic only)"
            );
        }
        if cfg.num_train_timesteps == 0 {
            bail!("{NAME}: option `num_train_timesteps` must be positive");
        }
        let n = cfg.num_train_timesteps;
        let nf = n as f32;
        // float32 training sigmas: linspace(1, N, N)[::-1] / N, shifted unless dynamic.
        let shift_f = cfg.shift as f32;
        let shift_m1 = (cfg.shift - 1.0) as f32;
        let shifted = |t: f32| -> f32 {
            let s = t / nf;
            if cfg.use_dynamic_shifting {
                s
            } else {
                (shift_f * s) / (1.0 + shift_m1 * s)
            }
        };
        let sigma_max = shifted(n as f32);
        let sigma_min = shifted(1.0);
        Ok(Self {
            cfg,
            sigma_max,
            sigma_min,
            timesteps: Vec::new(),
            sigmas: Vec::new(),
            counter: StepCounter::default(),
        })
    }

    pub fn config(&self) -> &FlowMatchEulerConfig {
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
        let n_train = self.cfg.num_train_timesteps as f64;
        let t = np_linspace(
            self.sigma_max as f64 * n_train,
            self.sigma_min as f64 * n_train,
            num_inference_steps,
        );
        let mut sig: Vec<f64> = t.iter().map(|&v| v / n_train).collect();
        // 2. shifting
        let mu = self
            .cfg
            .use_dynamic_shifting
            .then(|| mu.unwrap_or_default());
        let exponential = self.cfg.time_shift_type == "exponential";
        time_shift(&mut sig, mu, exponential, self.cfg.shift);
        // 3. stretch to the terminal value
        if let Some(st) = self.cfg.shift_terminal.filter(|&v| v != 0.0) {
            stretch_shift_to_terminal(&mut sig, st);
        }
        // 4. alternative schedules
        if self.cfg.use_karras_sigmas {
            let smin = sig[sig.len() - 1];
            let smax = sig[0];
            let rho = 7.0f64;
            let min_inv = smin.powf(1.0 / rho);
            let max_inv = smax.powf(1.0 / rho);
            sig = np_linspace(0.0, 1.0, num_inference_steps)
                .iter()
                .map(|&r| (max_inv + r * (min_inv - max_inv)).powf(rho))
                .collect();
        } else if self.cfg.use_exponential_sigmas {
            let smin = sig[sig.len() - 1];
            let smax = sig[0];
            sig = np_linspace(smax.ln(), smin.ln(), num_inference_steps)
                .iter()
                .map(|&v| v.exp())
                .collect();
        }
        // 5. float32 sigmas, timesteps = sigmas * N in float32
        let nf = self.cfg.num_train_timesteps as f32;
        let mut sigmas: Vec<f32> = sig.iter().map(|&v| v as f32).collect();
        if self.cfg.invert_sigmas {
            for s in sigmas.iter_mut() {
                *s = 1.0 - *s;
            }
        }
        self.timesteps = sigmas.iter().map(|&s| (s * nf) as f64).collect();
        sigmas.push(if self.cfg.invert_sigmas { 1.0 } else { 0.0 });
        self.sigmas = sigmas;
        self.counter.reset();
        Ok(())
    }
}

impl Scheduler for FlowMatchEulerDiscreteScheduler {
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
            .current(step_index, &self.timesteps, NAME, false)?;
        if idx + 1 >= self.sigmas.len() {
            bail!("{NAME}: step index {idx} past the end of the schedule");
        }
        let sigma = self.sigmas[idx];
        let sigma_next = self.sigmas[idx + 1];
        let dt = sigma_next - sigma;
        // Reference: sample upcast to float32, `sample + dt * model_output`, cast back to the
        // model output's dtype.
        let sample32 = sample.to_dtype(DType::F32)?;
        let prev = add(&sample32, &mul_scalar(model_output, dt)?)?;
        let prev = prev.to_dtype(model_output.dtype())?;
        self.counter.advance(step_index);
        Ok(prev)
    }

    fn keep_latent_frames(&mut self, _frames: &[usize]) -> Result<()> {
        // The Euler scheduler stores no tensors.
        Ok(())
    }

    fn init_noise_sigma(&self) -> f64 {
        1.0
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
