//! A LoRA file as a per-request adapter ([`crate::models::adapter::Adapter`]), built where LoRA files
//! are read so that the models never import the loaders.
use anyhow::bail;
use candle_core::{DType, Device, Tensor};

use super::{check_fits, is_linear, target_module, LoraFile, Update};
use crate::models::adapter::{Adapter, LinearUpdate};

impl Adapter {
    /// `file`'s updates as a per-request adapter for the transformer whose tensor shapes `shape_of`
    /// gives (`model` names it in messages), in `dtype` on `device`. LoRA factors stay factors; LoHa,
    /// LoKr and full differences are materialised once. Only linear layers take per-request adapters:
    /// an update of anything else (a norm, the patch embedding, a modulation table) is an error naming
    /// the key, and such a file is fused with `--lora` instead.
    pub fn from_lora(
        file: &LoraFile,
        shape_of: impl Fn(&str) -> Option<Vec<usize>>,
        model: &str,
        dtype: DType,
        device: &Device,
    ) -> anyhow::Result<Self> {
        check_fits(file, &shape_of, model)?;
        let mut adapter = Adapter::default();
        for l in &file.layers {
            let (module, bias) = target_module(&l.target);
            if !is_linear(module, &shape_of) {
                bail!(
                    "{}: LoRA key `{}` updates `{}`, which is not a linear layer: per-request adapters \
                     apply to linear layers only (fuse this file at load with --lora instead)",
                    file.path.display(),
                    l.key,
                    l.target
                );
            }
            let cast = |t: &Tensor| t.to_device(device)?.to_dtype(dtype);
            let update = match (&l.update, bias) {
                (Update::Full(t), true) => LinearUpdate::Bias(cast(t)?),
                (Update::LowRank { down, up }, false) => LinearUpdate::LowRank {
                    down: cast(down)?,
                    up: cast(up)?,
                },
                (u, false) => LinearUpdate::Dense(u.dense(device)?.to_dtype(dtype)?),
                (_, true) => bail!(
                    "{}: LoRA key `{}` is a factored update of a bias",
                    file.path.display(),
                    l.key
                ),
            };
            adapter
                .layers
                .entry(module.to_string())
                .or_default()
                .push((update, l.scaling));
        }
        Ok(adapter)
    }
}
