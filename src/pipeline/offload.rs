//! Where the pipeline's modules live between uses.
//!
//! A [`Slot`] holds one module on the compute device, or nothing: [`Slot::get`] builds it there from
//! its source when absent, [`Slot::release`] drops the device copy (its memory is freed once the
//! last user lets go). The sources are the checkpoint folder (re-read through its memory map) or,
//! for a transformer with LoRAs fused at load, the weights recorded while it was first built
//! ([`RecordingBackend`]), so a rebuilt module has exactly the weights of the first.
//!
//! The edit pipeline uses slots for the text and image encoders (released from a GPU once the prompt
//! and image are encoded) and, with `--offload` ([`super::chronoedit::LoadOptions::offload`]), for
//! the transformer and the VAE too, so that only the module in use is on the device (what the
//! reference's `enable_model_cpu_offload` does). On the CPU host and device are the same memory:
//! the same releases and rebuilds happen and save nothing, and the frames are the same.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

/// Builds a module on a device.
pub type Loader<T> = Box<dyn Fn(&Device) -> Result<T> + Send + Sync>;

/// One module, on the device or not (see the module docs).
pub struct Slot<T> {
    name: &'static str,
    load: Loader<T>,
    resident: Mutex<Option<Arc<T>>>,
    loads: Mutex<usize>,
}

impl<T> Slot<T> {
    /// A slot holding `module`, already on the device; `load` rebuilds it after a release.
    pub fn resident(name: &'static str, module: T, load: Loader<T>) -> Self {
        Self {
            name,
            load,
            resident: Mutex::new(Some(Arc::new(module))),
            loads: Mutex::new(0),
        }
    }

    /// An empty slot: the module is built on first use.
    pub fn empty(name: &'static str, load: Loader<T>) -> Self {
        Self {
            name,
            load,
            resident: Mutex::new(None),
            loads: Mutex::new(0),
        }
    }

    /// The module on `device`, built there from its source if it is not resident.
    pub fn get(&self, device: &Device) -> Result<Arc<T>> {
        let mut resident = self
            .resident
            .lock()
            .map_err(|_| anyhow!("{}: a previous load panicked", self.name))?;
        if let Some(m) = resident.as_ref() {
            return Ok(m.clone());
        }
        let module =
            Arc::new((self.load)(device).map_err(|e| {
                e.context(format!("cannot load the {} onto the device", self.name))
            })?);
        *resident = Some(module.clone());
        if let Ok(mut n) = self.loads.lock() {
            *n += 1;
        }
        Ok(module)
    }

    /// Drops the slot's device copy (freed once no caller holds it any more).
    pub fn release(&self) {
        if let Ok(mut resident) = self.resident.lock() {
            *resident = None;
        }
    }

    pub fn is_resident(&self) -> bool {
        self.resident.lock().map(|r| r.is_some()).unwrap_or(false)
    }

    /// How many times the module was (re)built by [`Slot::get`] (not counting the first build of
    /// [`Slot::resident`]).
    pub fn loads(&self) -> usize {
        self.loads.lock().map(|n| *n).unwrap_or(0)
    }
}

/// A module the pipeline uses for one phase: a field of the pipeline, or a device copy that an
/// offloading pipeline built for the phase.
pub enum Held<'a, T> {
    Field(&'a T),
    Loaded(Arc<T>),
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Held::Field(m) => m,
            Held::Loaded(m) => m,
        }
    }
}

/// Weights recorded by a [`RecordingBackend`]: name → tensor on the CPU, in the dtype the module
/// asked for.
pub type RecordedWeights = Arc<Mutex<HashMap<String, Tensor>>>;

/// A var-builder backend that serves the tensors of another var builder (on the CPU) and records
/// every tensor it serves, so that the module can be rebuilt on any device from exactly these
/// weights ([`rebuild_var_builder`]).
pub struct RecordingBackend {
    inner: VarBuilder<'static>,
    seen: RecordedWeights,
}

impl RecordingBackend {
    /// A var builder over `inner` (which must load onto the CPU) that records what it serves.
    pub fn var_builder(
        inner: VarBuilder<'static>,
        dtype: DType,
        device: &Device,
    ) -> (VarBuilder<'static>, RecordedWeights) {
        let seen: RecordedWeights = Arc::default();
        let backend = RecordingBackend {
            inner,
            seen: seen.clone(),
        };
        let boxed: Box<dyn SimpleBackend> = Box::new(backend);
        (VarBuilder::from_backend(boxed, dtype, device.clone()), seen)
    }

    fn record(&self, name: &str, t: &Tensor) -> candle_core::Result<()> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| candle_core::Error::Msg("recorded weights: lock poisoned".into()))?;
        seen.insert(name.to_string(), t.clone());
        Ok(())
    }
}

impl SimpleBackend for RecordingBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.inner.get_with_hints_dtype(s, name, h, dtype)?;
        self.record(name, &t)?;
        t.to_device(dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let t = self.inner.get_unchecked_dtype(name, dtype)?;
        self.record(name, &t)?;
        t.to_device(dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.inner.contains_tensor(name)
    }
}

/// A var builder on `device` over recorded weights: each tensor is copied to the device in the
/// dtype it was recorded in.
pub fn rebuild_var_builder(
    weights: &RecordedWeights,
    dtype: DType,
    device: &Device,
) -> Result<VarBuilder<'static>> {
    let map = weights
        .lock()
        .map_err(|_| anyhow!("recorded weights: lock poisoned"))?
        .clone();
    Ok(VarBuilder::from_tensors(map, dtype, device))
}
