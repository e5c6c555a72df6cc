//! Per-request adapters: LoRA-family updates applied beside the transformer's linear layers instead of
//! fused into their weights, so one loaded base model serves many adapters:
//! `y = x Wᵀ + b + Σ s · ((x Aᵀ) Bᵀ)` for a LoRA, `+ s · x ΔWᵀ` for an update kept dense (LoHa, LoKr,
//! full differences, materialised once when the adapter is loaded) and `+ s · Δb` for a bias
//! difference, where `s` is the request's strength times the file's scaling.
//!
//! The adapters of a request are installed for the duration of a closure on the calling thread
//! ([`with_adapters`]); every linear layer of the transformer asks [`apply`] for its own name, so
//! nothing is stored in the layers and the base weights never change. Parity: the same sums as the
//! fused weights in another order (`x (W + s B A)ᵀ` versus `x Wᵀ + s (x Aᵀ) Bᵀ`), tested against the
//! fused path in `tests/it/lora.rs`. Adapters are built from LoRA files where files are read
//! (`crate::checkpoint::lora::unfused`).
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use candle_core::{Result, Tensor};

/// One update of one linear layer, on the model's device in its compute dtype.
#[derive(Debug, Clone)]
pub enum LinearUpdate {
    /// `down` (r, in), `up` (out, r): `x Aᵀ Bᵀ`.
    LowRank { down: Tensor, up: Tensor },
    /// `(out, in)`: `x ΔWᵀ`.
    Dense(Tensor),
    /// `(out,)`: added to the output.
    Bias(Tensor),
}

impl LinearUpdate {
    pub fn bytes(&self) -> usize {
        let n = |t: &Tensor| t.elem_count() * t.dtype().size_in_bytes();
        match self {
            LinearUpdate::LowRank { down, up } => n(down) + n(up),
            LinearUpdate::Dense(t) | LinearUpdate::Bias(t) => n(t),
        }
    }
}

/// The updates of one adapter file by linear layer (diffusers' module name, `blocks.0.attn1.to_q`),
/// each with its scaling (`alpha / rank`, PEFT's `lora_alpha / r`).
#[derive(Debug, Default)]
pub struct Adapter {
    pub layers: HashMap<String, Vec<(LinearUpdate, f64)>>,
}

impl Adapter {
    pub fn bytes(&self) -> usize {
        self.layers
            .values()
            .flat_map(|v| v.iter().map(|(u, _)| u.bytes()))
            .sum()
    }
}

/// The adapters one request uses, each with its strength, applied in order.
#[derive(Debug, Clone, Default)]
pub struct AdapterSet {
    pub adapters: Vec<(Arc<Adapter>, f64)>,
}

thread_local! {
    static ACTIVE: RefCell<Option<AdapterSet>> = const { RefCell::new(None) };
}

/// Runs `f` with `set` active for every linear layer run on this thread, then restores what was
/// active before (also when `f` panics or fails).
pub fn with_adapters<R>(set: AdapterSet, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<AdapterSet>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            ACTIVE.with(|a| *a.borrow_mut() = prev);
        }
    }
    let prev = ACTIVE.with(|a| a.borrow_mut().replace(set));
    let _restore = Restore(prev);
    f()
}

/// `y` (`x2 Wᵀ + b`, `(rows, out)`) plus the active adapters' updates of `module` (`x2` is the
/// layer's input as `(rows, in)`). Without active adapters `y` is returned untouched.
pub fn apply(module: &str, x2: &Tensor, y: Tensor) -> Result<Tensor> {
    ACTIVE.with(|active| {
        let active = active.borrow();
        let Some(set) = active.as_ref() else {
            return Ok(y);
        };
        let mut y = y;
        for (adapter, strength) in &set.adapters {
            let Some(updates) = adapter.layers.get(module) else {
                continue;
            };
            for (update, scaling) in updates {
                let s = strength * scaling;
                y = match update {
                    // Scale the (rows, r) intermediate: the cheapest place.
                    LinearUpdate::LowRank { down, up } => {
                        let h = (x2.matmul(&down.t()?)? * s)?;
                        (y + h.matmul(&up.t()?)?)?
                    }
                    LinearUpdate::Dense(w) => (y + (x2.matmul(&w.t()?)? * s)?)?,
                    LinearUpdate::Bias(b) => y.broadcast_add(&(b * s)?)?,
                };
            }
        }
        Ok(y)
    })
}
