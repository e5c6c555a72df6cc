//! AdamW with gradient-norm clipping and a state that can be saved and resumed (candle-nn's
//! optimiser keeps its moments private).
use anyhow::{bail, Context, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use candle_nn::VarMap;
use std::collections::HashMap;
use std::path::Path;

pub struct AdamW {
    /// Variables sorted by name, with their first and second moments.
    vars: Vec<(String, Var, Tensor, Tensor)>,
    /// Optimiser steps taken (bias correction).
    t: usize,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    /// Global gradient-norm bound.
    max_norm: f64,
}

impl AdamW {
    pub fn new(
        varmap: &VarMap,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    ) -> Result<Self> {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("var map poisoned"))?;
        let mut vars: Vec<(String, Var, Tensor, Tensor)> = data
            .iter()
            .map(|(n, v)| {
                let z = v.zeros_like()?;
                Ok((n.clone(), v.clone(), z.clone(), z))
            })
            .collect::<Result<_>>()?;
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self {
            vars,
            t: 0,
            beta1,
            beta2,
            eps,
            weight_decay,
            max_norm: 1.0,
        })
    }

    /// One update with learning rate `lr`; returns the gradient norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<f64> {
        let mut sq = 0.0f64;
        for (_, v, _, _) in &self.vars {
            if let Some(g) = grads.get(v.as_tensor()) {
                sq += g
                    .sqr()?
                    .sum_all()?
                    .to_dtype(DType::F64)?
                    .to_scalar::<f64>()?;
            }
        }
        let norm = sq.sqrt();
        let clip = if norm > self.max_norm {
            self.max_norm / (norm + 1e-6)
        } else {
            1.0
        };
        self.t += 1;
        let c1 = 1.0 - self.beta1.powi(self.t as i32);
        let c2 = 1.0 - self.beta2.powi(self.t as i32);
        for (_, v, m, s) in self.vars.iter_mut() {
            let Some(g) = grads.get(v.as_tensor()) else {
                continue;
            };
            let g = (g * clip)?;
            *m = ((&*m * self.beta1)? + (&g * (1.0 - self.beta1))?)?;
            *s = ((&*s * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let update = ((&*m / c1)? / ((&*s / c2)?.sqrt()? + self.eps)?)?;
            let decayed = (v.as_tensor() * (1.0 - lr * self.weight_decay))?;
            v.set(&(decayed - (update * lr)?)?)?;
        }
        Ok(norm)
    }

    /// Saves the moments and the step count `step` (the training loop's, usually equal to `t`).
    pub fn save(&self, path: &Path, step: usize) -> Result<()> {
        let mut map: HashMap<String, Tensor> = HashMap::new();
        for (n, _, m, s) in &self.vars {
            map.insert(format!("m.{n}"), m.clone());
            map.insert(format!("v.{n}"), s.clone());
        }
        map.insert(
            "counters".into(),
            Tensor::new(&[self.t as i64, step as i64], &candle_core::Device::Cpu)?,
        );
        candle_core::safetensors::save(&map, path)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Restores the moments; returns the training step saved with them.
    pub fn load(&mut self, path: &Path) -> Result<usize> {
        let mut map = candle_core::safetensors::load(path, &candle_core::Device::Cpu)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (n, v, m, s) in self.vars.iter_mut() {
            for (key, slot) in [(format!("m.{n}"), &mut *m), (format!("v.{n}"), &mut *s)] {
                let t = map
                    .remove(&key)
                    .with_context(|| format!("{}: no tensor {key}", path.display()))?;
                if t.dims() != v.dims() {
                    bail!(
                        "{}: {key} has shape {:?}, the model {:?}",
                        path.display(),
                        t.dims(),
                        v.dims()
                    );
                }
                *slot = t.to_dtype(v.dtype())?;
            }
        }
        let c = map
            .remove("counters")
            .with_context(|| format!("{}: no counters", path.display()))?
            .to_vec1::<i64>()?;
        if c.len() != 2 || c.iter().any(|&x| x < 0) {
            bail!("{}: bad counters {c:?}", path.display());
        }
        self.t = c[0] as usize;
        Ok(c[1] as usize)
    }
}
