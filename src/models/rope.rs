//! 3D rotary position embedding of the ChronoEdit transformer (diffusers' `ChronoEditRotaryPosEmbed`).
//!
//! The head dimension is shared between a temporal, a height and a width part. Frequency tables are
//! built in f64 (`1 / theta^(2i/dim)`, angles `pos * freq`, cos/sin in f64, each value repeated twice for
//! the interleaved complex pairs) and rounded to f32, exactly as the reference builds them. As in the
//! reference the tables are built with the widths `[D - 4*(D/6), 2*(D/6), 2*(D/6)]` but split per axis
//! with the widths `[D - 2*(D/3), D/3, D/3]`; the two agree for the usual head sizes and this module
//! reproduces the reference column by column when they do not.
//!
//! Temporal positions default to `0..F'`, except that a 2-frame input uses the positions
//! `[0, temporal_skip_len - 1]` (ChronoEdit's temporal-skip rule). Explicit positions may be given.

use candle_core::{DType, Device, Result, Tensor};

#[derive(Debug, Clone)]
pub struct ChronoEditRotaryPosEmbed {
    head_dim: usize,
    patch_size: [usize; 3],
    max_seq_len: usize,
    temporal_skip_len: usize,
    /// Widths of the t/h/w frequency tables inside the concatenated table.
    table_widths: [usize; 3],
    /// Inverse frequencies of each table, one per complex pair.
    inv_freqs: [Vec<f64>; 3],
    /// For every column of the head dimension, which axis (0 = t, 1 = h, 2 = w) supplies its position.
    column_axis: Vec<usize>,
}

impl ChronoEditRotaryPosEmbed {
    pub const THETA: f64 = 10000.0;

    pub fn new(
        head_dim: usize,
        patch_size: [usize; 3],
        max_seq_len: usize,
        temporal_skip_len: usize,
    ) -> Result<Self> {
        let h_dim = 2 * (head_dim / 6);
        let w_dim = h_dim;
        if head_dim < h_dim + w_dim || (head_dim - h_dim - w_dim) % 2 != 0 {
            candle_core::bail!(
                "rope: attention_head_dim {head_dim} must be even (the temporal part of the rotary \
                 table needs an even width)"
            );
        }
        let t_dim = head_dim - h_dim - w_dim;
        let table_widths = [t_dim, h_dim, w_dim];
        let inv_freqs = table_widths.map(|dim| {
            (0..dim / 2)
                .map(|i| 1.0 / Self::THETA.powf((2 * i) as f64 / dim as f64))
                .collect::<Vec<f64>>()
        });
        let split = [head_dim - 2 * (head_dim / 3), head_dim / 3, head_dim / 3];
        let mut column_axis = Vec::with_capacity(head_dim);
        for (axis, &n) in split.iter().enumerate() {
            column_axis.extend(std::iter::repeat(axis).take(n));
        }
        if patch_size.iter().any(|&p| p == 0) {
            candle_core::bail!("rope: patch_size {patch_size:?} has a zero entry");
        }
        Ok(Self {
            head_dim,
            patch_size,
            max_seq_len,
            temporal_skip_len,
            table_widths,
            inv_freqs,
            column_axis,
        })
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    /// Temporal positions the reference uses for an input with `num_frames` (un-patchified) frames:
    /// `0..F'`, or `[0, temporal_skip_len - 1]` when `num_frames == 2`.
    pub fn default_temporal_positions(&self, num_frames: usize) -> Result<Vec<usize>> {
        let ppf = num_frames / self.patch_size[0];
        if num_frames == 2 {
            if ppf != 2 {
                candle_core::bail!(
                    "rope: the 2-frame temporal-skip rule needs 2 latent frames after patching, got {ppf} \
                     (temporal patch size {})",
                    self.patch_size[0]
                );
            }
            let last = self.temporal_skip_len.min(self.max_seq_len);
            if last == 0 {
                candle_core::bail!(
                    "rope: rope_temporal_skip_len / rope_max_seq_len must be positive"
                );
            }
            Ok(vec![0, last - 1])
        } else {
            Ok((0..ppf).collect())
        }
    }

    /// Angle of column `col` of the concatenated reference table at position `pos`.
    fn angle(&self, pos: usize, col: usize) -> f64 {
        let [t, h, _] = self.table_widths;
        let (start, table) = if col < t {
            (0, 0)
        } else if col < t + h {
            (t, 1)
        } else {
            (t + h, 2)
        };
        pos as f64 * self.inv_freqs[table][(col - start) / 2]
    }

    /// Rotation tables for a `ppf x pph x ppw` token grid (frame-major order), restricted to the tokens
    /// in `token_keep` when given. Returns `(cos, sin)`, each `(N, D/2)` f32, where `cos[n, k]` is the
    /// reference's cos table at column `2k` and `sin[n, k]` its sin table at column `2k + 1` (the values
    /// its rotation uses).
    pub fn cos_sin(
        &self,
        temporal_positions: &[usize],
        pph: usize,
        ppw: usize,
        token_keep: Option<&[u32]>,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let ppf = temporal_positions.len();
        let max_spatial = pph.max(ppw);
        if let Some(&p) = temporal_positions.iter().max() {
            if p >= self.max_seq_len {
                candle_core::bail!(
                    "rope: temporal position {p} is out of range for rope_max_seq_len {}",
                    self.max_seq_len
                );
            }
        }
        if max_spatial > self.max_seq_len {
            candle_core::bail!(
                "rope: {pph}x{ppw} patches exceed rope_max_seq_len {}",
                self.max_seq_len
            );
        }
        let half = self.head_dim / 2;
        // Per-axis lookup tables: [axis][index along axis][k] for the cos (even column) and sin (odd
        // column) values.
        let positions: [Vec<usize>; 3] = [
            temporal_positions.to_vec(),
            (0..pph).collect(),
            (0..ppw).collect(),
        ];
        let mut cos_lut: [Vec<f32>; 3] = Default::default();
        let mut sin_lut: [Vec<f32>; 3] = Default::default();
        for axis in 0..3 {
            let pos = &positions[axis];
            let mut c = vec![0f32; pos.len() * half];
            let mut s = vec![0f32; pos.len() * half];
            for (i, &p) in pos.iter().enumerate() {
                for k in 0..half {
                    if self.column_axis[2 * k] == axis {
                        c[i * half + k] = self.angle(p, 2 * k).cos() as f32;
                    }
                    if self.column_axis[2 * k + 1] == axis {
                        s[i * half + k] = self.angle(p, 2 * k + 1).sin() as f32;
                    }
                }
            }
            cos_lut[axis] = c;
            sin_lut[axis] = s;
        }
        let total = ppf * pph * ppw;
        let n = match token_keep {
            Some(keep) => keep.len(),
            None => total,
        };
        let mut cos = vec![0f32; n * half];
        let mut sin = vec![0f32; n * half];
        for row in 0..n {
            let tok = match token_keep {
                Some(keep) => keep[row] as usize,
                None => row,
            };
            if tok >= total {
                candle_core::bail!("rope: token index {tok} out of range for {total} tokens");
            }
            let idx = [tok / (pph * ppw), (tok / ppw) % pph, tok % ppw];
            for k in 0..half {
                let a = self.column_axis[2 * k];
                cos[row * half + k] = cos_lut[a][idx[a] * half + k];
                let a = self.column_axis[2 * k + 1];
                sin[row * half + k] = sin_lut[a][idx[a] * half + k];
            }
        }
        Ok((
            Tensor::from_vec(cos, (n, half), device)?,
            Tensor::from_vec(sin, (n, half), device)?,
        ))
    }
}

/// Applies the interleaved (complex-pair) rotation to `x` of shape `(B, H, S, D)`:
/// `out[2k] = x[2k] cos[k] - x[2k+1] sin[k]`, `out[2k+1] = x[2k] sin[k] + x[2k+1] cos[k]`, computed in
/// f32 and rounded to the dtype of `x`, as the reference does.
pub fn apply_rotary_emb(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let dtype = x.dtype();
    if super::tracks_grad(&[x, cos, sin]) {
        let xf = x.to_dtype(DType::F32)?.contiguous()?;
        candle_nn::rotary_emb::rope_i_slow(&xf, cos, sin)?.to_dtype(dtype)
    } else if dtype == DType::F32 {
        candle_nn::rotary_emb::rope_i(&x.contiguous()?, cos, sin)
    } else {
        let xf = x.to_dtype(DType::F32)?.contiguous()?;
        candle_nn::rotary_emb::rope_i(&xf, cos, sin)?.to_dtype(dtype)
    }
}
