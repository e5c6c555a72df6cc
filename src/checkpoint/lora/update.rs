//! One weight update of a LoRA-family adapter, as its factors, and its dense form.
//!
//! - LoRA: `B @ A` (`up` (out, r), `down` (r, in)).
//! - LoHa (LyCORIS): `(w1a @ w1b) ⊙ (w2a @ w2b)`, as ComfyUI's `comfy/weight_adapter/loha.py` merges it.
//! - LoKr (LyCORIS): `kron(w1, w2)`, each side given whole (`lokr_w1`) or as two factors
//!   (`lokr_w1_a @ lokr_w1_b`), as ComfyUI's `comfy/weight_adapter/lokr.py` merges it.
//! - Full: a whole difference (`diff` for a weight, `diff_b` for a bias).
//!
//! The scaling (alpha / rank and the user's strength) is kept outside: [`Update::dense`] is unscaled.
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};

/// One side of a Kronecker product: a matrix, or the product of two factors.
#[derive(Debug, Clone)]
pub enum KronFactor {
    Full(Tensor),
    Factored { a: Tensor, b: Tensor },
}

impl KronFactor {
    fn shape(&self) -> (usize, usize) {
        match self {
            KronFactor::Full(t) => (t.dims()[0], t.dims()[1]),
            KronFactor::Factored { a, b } => (a.dims()[0], b.dims()[1]),
        }
    }

    fn dense(&self, dev: &Device) -> Result<Tensor> {
        Ok(match self {
            KronFactor::Full(t) => t.to_device(dev)?,
            KronFactor::Factored { a, b } => a.to_device(dev)?.matmul(&b.to_device(dev)?)?,
        })
    }

    /// The inner dimension of a factored side.
    pub fn rank(&self) -> Option<usize> {
        match self {
            KronFactor::Full(_) => None,
            KronFactor::Factored { b, .. } => Some(b.dims()[0]),
        }
    }

    fn tensors(&self) -> Vec<&Tensor> {
        match self {
            KronFactor::Full(t) => vec![t],
            KronFactor::Factored { a, b } => vec![a, b],
        }
    }
}

/// The update of one tensor, unscaled. Every factor is f32 and 2-D (checked when the file is read).
#[derive(Debug, Clone)]
pub enum Update {
    LowRank {
        down: Tensor,
        up: Tensor,
    },
    Hadamard {
        w1a: Tensor,
        w1b: Tensor,
        w2a: Tensor,
        w2b: Tensor,
    },
    Kronecker {
        w1: KronFactor,
        w2: KronFactor,
    },
    Full(Tensor),
}

/// What kind of update a layer carries, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    LoRA,
    LoHa,
    LoKr,
    Diff,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::LoRA => "LoRA",
            Kind::LoHa => "LoHa",
            Kind::LoKr => "LoKr",
            Kind::Diff => "full diff",
        }
    }
}

impl Update {
    pub fn kind(&self) -> Kind {
        match self {
            Update::LowRank { .. } => Kind::LoRA,
            Update::Hadamard { .. } => Kind::LoHa,
            Update::Kronecker { .. } => Kind::LoKr,
            Update::Full(_) => Kind::Diff,
        }
    }

    /// The shape of the dense update.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Update::LowRank { down, up } => vec![up.dims()[0], down.dims()[1]],
            Update::Hadamard { w1a, w1b, .. } => vec![w1a.dims()[0], w1b.dims()[1]],
            Update::Kronecker { w1, w2 } => {
                let ((a, b), (c, d)) = (w1.shape(), w2.shape());
                vec![a * c, b * d]
            }
            Update::Full(t) => t.dims().to_vec(),
        }
    }

    /// The rank the file's alpha divides by (ComfyUI's and kohya's convention): LoRA's and LoHa's
    /// inner dimension; for LoKr the factored side's (the second when both are factored).
    pub fn rank(&self) -> Option<usize> {
        match self {
            Update::LowRank { down, .. } => Some(down.dims()[0]),
            Update::Hadamard { w1b, .. } => Some(w1b.dims()[0]),
            Update::Kronecker { w1, w2 } => w2.rank().or(w1.rank()),
            Update::Full(_) => None,
        }
    }

    /// The dense update in f32 on `dev`, unscaled.
    pub fn dense(&self, dev: &Device) -> Result<Tensor> {
        let on = |t: &Tensor| t.to_device(dev);
        let d = match self {
            Update::LowRank { down, up } => on(up)?.matmul(&on(down)?)?,
            Update::Hadamard { w1a, w1b, w2a, w2b } => {
                let m1 = on(w1a)?.matmul(&on(w1b)?)?;
                let m2 = on(w2a)?.matmul(&on(w2b)?)?;
                (m1 * m2)?
            }
            Update::Kronecker { w1, w2 } => kron(&w1.dense(dev)?, &w2.dense(dev)?)?,
            Update::Full(t) => on(t)?,
        };
        Ok(d)
    }

    /// Bytes the factors hold (f32).
    pub fn bytes(&self) -> usize {
        let tensors: Vec<&Tensor> = match self {
            Update::LowRank { down, up } => vec![down, up],
            Update::Hadamard { w1a, w1b, w2a, w2b } => vec![w1a, w1b, w2a, w2b],
            Update::Kronecker { w1, w2 } => {
                let mut v = w1.tensors();
                v.extend(w2.tensors());
                v
            }
            Update::Full(t) => vec![t],
        };
        tensors.iter().map(|t| t.elem_count() * 4).sum()
    }
}

/// The Kronecker product of two matrices: `(a ⊗ b)[i*p + k, j*q + l] = a[i, j] * b[k, l]`.
pub fn kron(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (m, n) = a.dims2().context("kron: left side is not a matrix")?;
    let (p, q) = b.dims2().context("kron: right side is not a matrix")?;
    let a4 = a.reshape((m, 1, n, 1))?;
    let b4 = b.reshape((1, p, 1, q))?;
    Ok(a4.broadcast_mul(&b4)?.reshape((m * p, n * q))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kron_matches_the_definition() {
        let dev = Device::Cpu;
        let a = Tensor::new(&[[1f32, 2.], [3., 4.]], &dev).unwrap();
        let b = Tensor::new(&[[0f32, 5., 1.]], &dev).unwrap();
        let k = kron(&a, &b).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(
            k,
            vec![
                vec![0., 5., 1., 0., 10., 2.],
                vec![0., 15., 3., 0., 20., 4.]
            ]
        );
    }
}
