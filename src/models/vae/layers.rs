//! Building blocks of the Wan VAE: causal 3D convolution with its frame cache, channel RMS norm,
//! residual block, per-frame attention and the resampling layers.
//!
//! Internally every activation is kept channels-last, `(B, T, H, W, C)`: the channel norm then
//! runs over the contiguous last dimension, and a convolution becomes a plain matrix product over
//! rows of a flattened, zero-padded buffer (see [`Conv`]).

use candle_core::{DType, Result, Tensor, D};
use candle_nn::VarBuilder;

/// Number of trailing frames a causal convolution keeps from the previous chunk (the reference's
/// `CACHE_T`).
pub(crate) const CACHE_T: usize = 2;

/// Upper bound (in elements) of one row block of the gathered convolution input; bounds the
/// temporary memory of a convolution independently of the frame size.
const GATHER_BLOCK_ELEMS: usize = 1 << 24;

/// Extra zero rows after the padded input of a convolution (see [`Conv::forward_valid`]).
const WINDOW_SLACK_ROWS: usize = 4;

/// How a convolution forms its tap products.
#[derive(Clone, Copy, Debug)]
enum Strategy {
    /// Matrix products on overlapping window views (CPU).
    Windows,
    /// Copy the taps side by side in row blocks of at most this many elements, then one product.
    Gather(usize),
}

/// One slot of the feature cache.
pub(crate) enum Feat {
    /// The reference's `"Rep"` marker: an `upsample3d` layer has seen its first chunk.
    Rep,
    /// Trailing frames of the previous chunk, `(B, t, H, W, C)`.
    Frames(Tensor),
}

/// Feature cache shared by all cached layers of an encoder or decoder pass. Slots are visited
/// in the same fixed order for every chunk, as in the reference's `feat_cache` / `feat_idx`.
#[derive(Default)]
pub(crate) struct FeatCache {
    slots: Vec<Option<Feat>>,
    idx: usize,
}

impl FeatCache {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Starts a new chunk: slot visits begin again from the first layer.
    pub(crate) fn start_chunk(&mut self) {
        self.idx = 0;
    }

    fn slot(&mut self) -> &mut Option<Feat> {
        if self.idx >= self.slots.len() {
            self.slots.resize_with(self.idx + 1, || None);
        }
        &mut self.slots[self.idx]
    }

    fn advance(&mut self) {
        self.idx += 1;
    }
}

/// The last `n` frames (dim 1) of `x` in a storage of their own, so that a cache entry does not
/// keep the whole chunk alive (`Tensor::copy` would clone the whole storage under the view).
fn last_frames(x: &Tensor, n: usize) -> Result<Tensor> {
    let t = x.dim(1)?;
    let n = n.min(t);
    if n == t {
        Ok(x.clone())
    } else {
        x.narrow(1, t - n, n)?.force_contiguous()
    }
}

/// Picks every `stride`-th element of dimension `dim`, starting at 0, keeping `n_out` elements.
fn subsample(x: &Tensor, dim: usize, stride: usize, n_out: usize) -> Result<Tensor> {
    if stride == 1 {
        return x.narrow(dim, 0, n_out);
    }
    let idx: Vec<u32> = (0..n_out).map(|i| (i * stride) as u32).collect();
    let idx = Tensor::new(idx.as_slice(), x.device())?;
    x.contiguous()?.index_select(&idx, dim)
}

/// A 3D convolution without built-in padding, on channels-last `(B, T, H, W, Cin)` input.
///
/// The weight is stored as a `(kt*kh*kw*Cin, Cout)` matrix whose rows are ordered by tap
/// `(dt, dy, dx)` then input channel. For each sample the zero-padded input is flattened to rows
/// `(t, y, x)`; the tap `(dt, dy, dx)` of output row `r` is input row
/// `r + dt*H*W + dy*W + dx`, so the convolution is a sum of matrix products of shifted row ranges
/// with slices of the weight matrix (see [`Strategy`]). Rows whose window wraps around the image
/// border are computed and discarded. Strided convolutions are computed at stride one and
/// subsampled (only the small down-sampling layers of the encoder use a stride).
pub(crate) struct Conv {
    weight: Tensor,
    bias: Tensor,
    kernel: (usize, usize, usize),
    stride: (usize, usize, usize),
    cin: usize,
    cout: usize,
}

impl Conv {
    /// Loads a `Conv3d` weight `(Cout, Cin, kt, kh, kw)` and bias `(Cout,)`.
    pub(crate) fn new3d(
        cin: usize,
        cout: usize,
        kernel: (usize, usize, usize),
        stride: (usize, usize, usize),
        vb: VarBuilder,
    ) -> Result<Self> {
        let (kt, kh, kw) = kernel;
        let w = vb.get((cout, cin, kt, kh, kw), "weight")?;
        let bias = vb.get(cout, "bias")?;
        let weight = w
            .permute((2, 3, 4, 1, 0))?
            .contiguous()?
            .reshape((kt * kh * kw * cin, cout))?;
        Ok(Self {
            weight,
            bias,
            kernel,
            stride,
            cin,
            cout,
        })
    }

    /// Loads a `Conv2d` weight `(Cout, Cin, kh, kw)` and bias, applied to every frame.
    pub(crate) fn new2d(
        cin: usize,
        cout: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        vb: VarBuilder,
    ) -> Result<Self> {
        let (kh, kw) = kernel;
        let w = vb.get((cout, cin, kh, kw), "weight")?;
        let bias = vb.get(cout, "bias")?;
        let weight = w
            .permute((2, 3, 1, 0))?
            .contiguous()?
            .reshape((kh * kw * cin, cout))?;
        Ok(Self {
            weight,
            bias,
            kernel: (1, kh, kw),
            stride: (1, stride.0, stride.1),
            cin,
            cout,
        })
    }

    /// Convolution of already padded input `(B, T, H, W, Cin)` ("valid" padding).
    pub(crate) fn forward_valid(&self, x: &Tensor) -> Result<Tensor> {
        let strategy = if x.device().is_cpu() {
            Strategy::Windows
        } else {
            Strategy::Gather(GATHER_BLOCK_ELEMS)
        };
        self.forward_valid_with(x, strategy)
    }

    fn forward_valid_with(&self, x: &Tensor, strategy: Strategy) -> Result<Tensor> {
        let (b, t, h, w, c) = x.dims5()?;
        if c != self.cin {
            candle_core::bail!(
                "conv: input has {c} channels, the weight expects {}",
                self.cin
            );
        }
        let (kt, kh, kw) = self.kernel;
        if t < kt || h < kh || w < kw {
            candle_core::bail!(
                "conv: input (T={t}, H={h}, W={w}) smaller than the kernel ({kt}, {kh}, {kw})"
            );
        }
        let (to, ho, wo) = (t - kt + 1, h - kh + 1, w - kw + 1);
        let x = x.contiguous()?;
        if kt * kh * kw == 1 {
            let y = x
                .reshape((b * t * h * w, c))?
                .matmul(&self.weight)?
                .broadcast_add(&self.bias)?;
            let y = y.reshape((b, t, h, w, self.cout))?;
            return self.apply_stride(&y, to, ho, wo);
        }
        let frame = h * w;
        let rows = to * frame;
        let max_off = (kt - 1) * frame + (kh - 1) * w + (kw - 1);
        let mut outs = Vec::with_capacity(b);
        for bi in 0..b {
            let xb = x.get(bi)?.reshape((t * frame, c))?;
            // Rows past the end are only read by windows that are discarded; a few rows of slack
            // keep the window count of `unfold` (computed in f32) clear of the rows we read.
            let need = rows + max_off + WINDOW_SLACK_ROWS;
            let xb = xb.pad_with_zeros(0, 0, need.saturating_sub(t * frame))?;
            let y = match strategy {
                Strategy::Windows => self.windows_matmul(&xb, rows, frame, w)?,
                Strategy::Gather(block_elems) => {
                    self.gather_matmul(&xb, rows, frame, w, block_elems)?
                }
            };
            let y = y
                .broadcast_add(&self.bias)?
                .reshape((to, h, w, self.cout))?;
            outs.push(y.narrow(1, 0, ho)?.narrow(2, 0, wo)?);
        }
        let y = Tensor::stack(&outs, 0)?;
        self.apply_stride(&y, to, ho, wo)
    }

    /// CPU path: for each `(dt, dy)` the `kw` horizontal taps of row `r` are the `kw*Cin`
    /// consecutive values starting at row `r + dt*H*W + dy*W`, i.e. row `r` of an overlapping
    /// window view with row stride `Cin`. Each `(dt, dy)` is then one matrix product on a view,
    /// without copying the input.
    fn windows_matmul(&self, xb: &Tensor, rows: usize, frame: usize, w: usize) -> Result<Tensor> {
        let (kt, kh, kw) = self.kernel;
        let c = self.cin;
        let windows = xb.flatten_all()?.unfold(0, kw * c, c)?;
        let mut acc: Option<Tensor> = None;
        for dt in 0..kt {
            for dy in 0..kh {
                let off = dt * frame + dy * w;
                if off + rows > windows.dim(0)? {
                    candle_core::bail!("conv: window view too short ({} rows)", windows.dim(0)?);
                }
                let lhs = windows.narrow(0, off, rows)?;
                let wk = self.weight.narrow(0, (dt * kh + dy) * kw * c, kw * c)?;
                let y = lhs.matmul(&wk)?;
                acc = Some(match acc {
                    None => y,
                    Some(a) => (a + y)?,
                });
            }
        }
        acc.ok_or_else(|| candle_core::Error::Msg("conv: empty kernel".into()))
    }

    /// Portable path: copy the taps of a block of rows side by side (`(n, taps*Cin)`) and do one
    /// matrix product per block; blocks bound the temporary memory.
    fn gather_matmul(
        &self,
        xb: &Tensor,
        rows: usize,
        frame: usize,
        w: usize,
        block_elems: usize,
    ) -> Result<Tensor> {
        let (kt, kh, kw) = self.kernel;
        let c = self.cin;
        let taps: Vec<usize> = (0..kt)
            .flat_map(|dt| {
                (0..kh).flat_map(move |dy| (0..kw).map(move |dx| dt * frame + dy * w + dx))
            })
            .collect();
        let block = (block_elems / (taps.len() * c)).max(1);
        let mut parts = Vec::with_capacity(rows.div_ceil(block));
        let mut r0 = 0;
        while r0 < rows {
            let n = block.min(rows - r0);
            let cols: Vec<Tensor> = taps
                .iter()
                .map(|&off| xb.narrow(0, r0 + off, n))
                .collect::<Result<_>>()?;
            parts.push(Tensor::cat(&cols, 1)?.matmul(&self.weight)?);
            r0 += n;
        }
        if parts.len() == 1 {
            Ok(parts.pop().expect("one block"))
        } else {
            Tensor::cat(&parts, 0)
        }
    }

    fn apply_stride(&self, y: &Tensor, to: usize, ho: usize, wo: usize) -> Result<Tensor> {
        let (st, sh, sw) = self.stride;
        let mut y = y.clone();
        if st > 1 {
            y = subsample(&y, 1, st, (to - 1) / st + 1)?;
        }
        if sh > 1 {
            y = subsample(&y, 2, sh, (ho - 1) / sh + 1)?;
        }
        if sw > 1 {
            y = subsample(&y, 3, sw, (wo - 1) / sw + 1)?;
        }
        Ok(y)
    }
}

/// `WanCausalConv3d`: zero padding `2*pt` frames in front (none behind) and symmetric spatial
/// padding; cached frames of the previous chunk replace that many leading zero frames.
pub(crate) struct CausalConv3d {
    conv: Conv,
    pad: (usize, usize, usize),
}

impl CausalConv3d {
    pub(crate) fn new(
        cin: usize,
        cout: usize,
        kernel: (usize, usize, usize),
        stride: (usize, usize, usize),
        pad: (usize, usize, usize),
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            conv: Conv::new3d(cin, cout, kernel, stride, vb)?,
            pad,
        })
    }

    /// Cubic kernel `k` with padding `p` (the reference's `WanCausalConv3d(i, o, k, padding=p)`).
    pub(crate) fn cube(
        cin: usize,
        cout: usize,
        k: usize,
        p: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        Self::new(cin, cout, (k, k, k), (1, 1, 1), (p, p, p), vb)
    }

    pub(crate) fn forward(&self, x: &Tensor, cache: Option<&Tensor>) -> Result<Tensor> {
        let (pt, ph, pw) = self.pad;
        let mut front = 2 * pt;
        let mut x = x.clone();
        if let Some(c) = cache {
            if front > 0 {
                let ct = c.dim(1)?;
                x = Tensor::cat(&[&c.to_dtype(x.dtype())?, &x], 1)?;
                if ct > front {
                    // A negative pad in the reference crops the leading frames.
                    x = x.narrow(1, ct - front, x.dim(1)? - (ct - front))?;
                    front = 0;
                } else {
                    front -= ct;
                }
            }
        }
        if front > 0 {
            x = x.pad_with_zeros(1, front, 0)?;
        }
        if ph > 0 {
            x = x.pad_with_zeros(2, ph, ph)?;
        }
        if pw > 0 {
            x = x.pad_with_zeros(3, pw, pw)?;
        }
        self.conv.forward_valid(&x)
    }

    /// The reference's cached call pattern around a causal convolution: remember the last
    /// `CACHE_T` frames of this chunk's input (completed with the last cached frame when the
    /// chunk is a single frame), convolve with the previous chunk's frames in front.
    pub(crate) fn forward_cached(&self, x: &Tensor, cache: &mut FeatCache) -> Result<Tensor> {
        let slot = cache.slot();
        let mut cache_x = last_frames(x, CACHE_T)?;
        let prev = match slot.take() {
            Some(Feat::Frames(p)) => Some(p),
            Some(Feat::Rep) => {
                candle_core::bail!("vae feature cache: convolution slot holds an upsample marker")
            }
            None => None,
        };
        if cache_x.dim(1)? < 2 {
            if let Some(p) = &prev {
                let last = p.narrow(1, p.dim(1)? - 1, 1)?;
                cache_x = Tensor::cat(&[&last, &cache_x], 1)?;
            }
        }
        let y = self.forward(x, prev.as_ref())?;
        *cache.slot() = Some(Feat::Frames(cache_x));
        cache.advance();
        Ok(y)
    }
}

/// `WanRMS_norm` (channel-first in the reference, the last dimension here):
/// `x / max(||x||_2, 1e-12) * sqrt(C) * gamma`, computed in f32.
pub(crate) struct RmsNorm {
    scaled_gamma: Tensor,
}

impl RmsNorm {
    /// `images` selects the stored gamma shape: `(C, 1, 1)` for images, `(C, 1, 1, 1)` for video.
    pub(crate) fn new(dim: usize, images: bool, vb: VarBuilder) -> Result<Self> {
        let gamma = if images {
            vb.get((dim, 1, 1), "gamma")?
        } else {
            vb.get((dim, 1, 1, 1), "gamma")?
        };
        let scaled_gamma = (gamma.flatten_all()?.to_dtype(DType::F32)? * (dim as f64).sqrt())?;
        Ok(Self { scaled_gamma })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let xf = x.to_dtype(DType::F32)?;
        let norm = xf.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.maximum(1e-12)?;
        xf.broadcast_div(&norm)?
            .broadcast_mul(&self.scaled_gamma)?
            .to_dtype(dtype)
    }
}

/// `WanResidualBlock`: RMS norm, SiLU, causal 3x3x3 conv, twice, plus a (1x1x1 conv) shortcut.
/// Dropout is the identity at inference.
pub(crate) struct ResidualBlock {
    norm1: RmsNorm,
    conv1: CausalConv3d,
    norm2: RmsNorm,
    conv2: CausalConv3d,
    shortcut: Option<CausalConv3d>,
}

impl ResidualBlock {
    pub(crate) fn new(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        let shortcut = if in_dim != out_dim {
            Some(CausalConv3d::cube(
                in_dim,
                out_dim,
                1,
                0,
                vb.pp("conv_shortcut"),
            )?)
        } else {
            None
        };
        Ok(Self {
            norm1: RmsNorm::new(in_dim, false, vb.pp("norm1"))?,
            conv1: CausalConv3d::cube(in_dim, out_dim, 3, 1, vb.pp("conv1"))?,
            norm2: RmsNorm::new(out_dim, false, vb.pp("norm2"))?,
            conv2: CausalConv3d::cube(out_dim, out_dim, 3, 1, vb.pp("conv2"))?,
            shortcut,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor, cache: &mut FeatCache) -> Result<Tensor> {
        let h = match &self.shortcut {
            Some(s) => s.forward(x, None)?,
            None => x.clone(),
        };
        let y = self.norm1.forward(x)?.silu()?;
        let y = self.conv1.forward_cached(&y, cache)?;
        let y = self.norm2.forward(&y)?.silu()?;
        let y = self.conv2.forward_cached(&y, cache)?;
        y + h
    }
}

/// Number of query rows attended at once, bounding the score matrix of large frames.
const ATTN_QUERY_BLOCK: usize = 4096;

/// `WanAttentionBlock`: single-head self-attention over the pixels of each frame.
pub(crate) struct AttentionBlock {
    norm: RmsNorm,
    qkv_w: Tensor,
    qkv_b: Tensor,
    proj_w: Tensor,
    proj_b: Tensor,
    dim: usize,
}

impl AttentionBlock {
    pub(crate) fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let qkv_w = vb.get((dim * 3, dim, 1, 1), "to_qkv.weight")?;
        let proj_w = vb.get((dim, dim, 1, 1), "proj.weight")?;
        Ok(Self {
            norm: RmsNorm::new(dim, true, vb.pp("norm"))?,
            qkv_w: qkv_w.reshape((dim * 3, dim))?.t()?.contiguous()?,
            qkv_b: vb.get(dim * 3, "to_qkv.bias")?,
            proj_w: proj_w.reshape((dim, dim))?.t()?.contiguous()?,
            proj_b: vb.get(dim, "proj.bias")?,
            dim,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with_block(x, ATTN_QUERY_BLOCK)
    }

    fn forward_with_block(&self, x: &Tensor, query_block: usize) -> Result<Tensor> {
        let (b, t, h, w, c) = x.dims5()?;
        let n = h * w;
        let xn = self.norm.forward(&x.reshape((b * t * n, c))?)?;
        let qkv = xn
            .matmul(&self.qkv_w)?
            .broadcast_add(&self.qkv_b)?
            .reshape((b * t, n, 3 * c))?;
        let scale = 1.0 / (self.dim as f64).sqrt();
        let q = (qkv.narrow(2, 0, c)? * scale)?;
        let k_t = qkv.narrow(2, c, c)?.transpose(1, 2)?.contiguous()?;
        let v = qkv.narrow(2, 2 * c, c)?.contiguous()?;
        let mut parts = Vec::new();
        let mut q0 = 0;
        while q0 < n {
            let m = query_block.max(1).min(n - q0);
            let qb = q.narrow(1, q0, m)?.contiguous()?;
            let s = qb.matmul(&k_t)?;
            let p =
                candle_nn::ops::softmax_last_dim(&s.to_dtype(DType::F32)?)?.to_dtype(v.dtype())?;
            parts.push(p.matmul(&v)?);
            q0 += m;
        }
        let o = if parts.len() == 1 {
            parts.pop().expect("one block")
        } else {
            Tensor::cat(&parts, 1)?
        };
        let o = o
            .reshape((b * t * n, c))?
            .matmul(&self.proj_w)?
            .broadcast_add(&self.proj_b)?
            .reshape((b, t, h, w, c))?;
        o + x
    }
}

/// Resampling modes of `WanResample`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResampleMode {
    Upsample2d,
    Upsample3d,
    Downsample2d,
    Downsample3d,
}

/// `WanResample`: nearest 2x up-sampling + 3x3 conv (with a causal temporal conv doubling the
/// frames for `Upsample3d`), or right/bottom zero pad + 3x3 stride-2 conv (with a stride-2
/// temporal conv for `Downsample3d`).
pub(crate) struct Resample {
    mode: ResampleMode,
    conv: Conv,
    time_conv: Option<CausalConv3d>,
}

impl Resample {
    pub(crate) fn new(
        dim: usize,
        mode: ResampleMode,
        upsample_out_dim: Option<usize>,
        vb: VarBuilder,
    ) -> Result<Self> {
        let up_out = upsample_out_dim.unwrap_or(dim / 2);
        let (conv, time_conv) = match mode {
            ResampleMode::Upsample2d => (
                Conv::new2d(dim, up_out, (3, 3), (1, 1), vb.pp("resample.1"))?,
                None,
            ),
            ResampleMode::Upsample3d => (
                Conv::new2d(dim, up_out, (3, 3), (1, 1), vb.pp("resample.1"))?,
                Some(CausalConv3d::new(
                    dim,
                    dim * 2,
                    (3, 1, 1),
                    (1, 1, 1),
                    (1, 0, 0),
                    vb.pp("time_conv"),
                )?),
            ),
            ResampleMode::Downsample2d => (
                Conv::new2d(dim, dim, (3, 3), (2, 2), vb.pp("resample.1"))?,
                None,
            ),
            ResampleMode::Downsample3d => (
                Conv::new2d(dim, dim, (3, 3), (2, 2), vb.pp("resample.1"))?,
                Some(CausalConv3d::new(
                    dim,
                    dim,
                    (3, 1, 1),
                    (2, 1, 1),
                    (0, 0, 0),
                    vb.pp("time_conv"),
                )?),
            ),
        };
        Ok(Self {
            mode,
            conv,
            time_conv,
        })
    }

    fn time_conv(&self) -> Result<&CausalConv3d> {
        self.time_conv
            .as_ref()
            .ok_or_else(|| candle_core::Error::Msg("vae resample: missing time_conv".into()))
    }

    pub(crate) fn forward(&self, x: &Tensor, cache: &mut FeatCache) -> Result<Tensor> {
        let mut x = x.clone();
        if self.mode == ResampleMode::Upsample3d {
            let slot = cache.slot().take();
            match slot {
                None => {
                    // First chunk: frames pass through, the temporal conv starts with the next.
                    *cache.slot() = Some(Feat::Rep);
                }
                Some(prev) => {
                    let (b, t, h, w, c) = x.dims5()?;
                    let mut cache_x = last_frames(&x, CACHE_T)?;
                    if cache_x.dim(1)? < 2 {
                        let lead = match &prev {
                            Feat::Frames(p) => p.narrow(1, p.dim(1)? - 1, 1)?,
                            Feat::Rep => cache_x.zeros_like()?,
                        };
                        cache_x = Tensor::cat(&[&lead, &cache_x], 1)?;
                    }
                    let y = match &prev {
                        Feat::Rep => self.time_conv()?.forward(&x, None)?,
                        Feat::Frames(p) => self.time_conv()?.forward(&x, Some(p))?,
                    };
                    *cache.slot() = Some(Feat::Frames(cache_x));
                    // Channels (2, C) become two consecutive frames.
                    x = y
                        .reshape((b, t, h, w, 2, c))?
                        .permute((0, 1, 4, 2, 3, 5))?
                        .reshape((b, t * 2, h, w, c))?;
                }
            }
            cache.advance();
        }
        let x = match self.mode {
            ResampleMode::Upsample2d | ResampleMode::Upsample3d => {
                // Nearest(-exact) 2x: each pixel repeated twice along H and W.
                let (b, t, h, w, c) = x.dims5()?;
                let up = x
                    .reshape((b * t * h, 1, w, 1, c))?
                    .broadcast_as((b * t * h, 2, w, 2, c))?
                    .reshape((b, t, 2 * h, 2 * w, c))?;
                let up = up.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
                self.conv.forward_valid(&up)?
            }
            ResampleMode::Downsample2d | ResampleMode::Downsample3d => {
                let p = x.pad_with_zeros(2, 0, 1)?.pad_with_zeros(3, 0, 1)?;
                self.conv.forward_valid(&p)?
            }
        };
        if self.mode == ResampleMode::Downsample3d {
            let slot = cache.slot().take();
            let out = match slot {
                None => {
                    *cache.slot() = Some(Feat::Frames(x.clone()));
                    x
                }
                Some(Feat::Frames(prev)) => {
                    let cache_x = last_frames(&x, 1)?;
                    let last = prev.narrow(1, prev.dim(1)? - 1, 1)?;
                    let y = self
                        .time_conv()?
                        .forward(&Tensor::cat(&[&last, &x], 1)?, None)?;
                    *cache.slot() = Some(Feat::Frames(cache_x));
                    y
                }
                Some(Feat::Rep) => {
                    candle_core::bail!(
                        "vae feature cache: downsample slot holds an upsample marker"
                    )
                }
            };
            cache.advance();
            return Ok(out);
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use std::collections::HashMap;

    /// Direct 3D convolution through candle's own `conv2d`, one temporal tap at a time.
    fn conv3d_direct(
        x: &Tensor, // (B, C, T, H, W)
        w: &Tensor, // (O, C, kt, kh, kw)
        b: &Tensor,
        stride: (usize, usize, usize),
    ) -> Tensor {
        let (_, _, t, _, _) = x.dims5().unwrap();
        let (_, _, kt, _, _) = w.dims5().unwrap();
        let mut frames = Vec::new();
        let mut t0 = 0;
        while t0 + kt <= t {
            let mut acc: Option<Tensor> = None;
            for k in 0..kt {
                let xf = x.narrow(2, t0 + k, 1).unwrap().squeeze(2).unwrap();
                let wk = w
                    .narrow(2, k, 1)
                    .unwrap()
                    .squeeze(2)
                    .unwrap()
                    .contiguous()
                    .unwrap();
                let y = xf.conv2d_with_strides(&wk, 0, stride.1, stride.2).unwrap();
                acc = Some(match acc {
                    None => y,
                    Some(a) => (a + y).unwrap(),
                });
            }
            let y = acc
                .unwrap()
                .broadcast_add(&b.reshape((1, b.dim(0).unwrap(), 1, 1)).unwrap())
                .unwrap();
            frames.push(y);
            t0 += stride.0;
        }
        Tensor::stack(&frames, 2).unwrap()
    }

    trait Conv2dStrides {
        fn conv2d_with_strides(
            &self,
            w: &Tensor,
            pad: usize,
            sh: usize,
            sw: usize,
        ) -> Result<Tensor>;
    }

    impl Conv2dStrides for Tensor {
        fn conv2d_with_strides(
            &self,
            w: &Tensor,
            pad: usize,
            sh: usize,
            sw: usize,
        ) -> Result<Tensor> {
            // candle's conv2d has a single stride; subsample the stride-1 result for sw != sh.
            let y = self.conv2d(w, pad, 1, 1, 1)?;
            let (_, _, ho, wo) = y.dims4()?;
            let y = subsample(&y, 2, sh, (ho - 1) / sh + 1)?;
            subsample(&y, 3, sw, (wo - 1) / sw + 1)
        }
    }

    #[test]
    fn conv_matches_direct_convolution() {
        let dev = Device::Cpu;
        let cases = [
            ((3, 3, 3), (1, 1, 1)),
            ((3, 1, 1), (2, 1, 1)),
            ((1, 3, 3), (1, 2, 2)),
            ((2, 3, 1), (1, 1, 2)),
            ((1, 1, 1), (1, 1, 1)),
        ];
        for (kernel, stride) in cases {
            let (cin, cout) = (5, 4);
            let w =
                Tensor::randn(0f32, 1., (cout, cin, kernel.0, kernel.1, kernel.2), &dev).unwrap();
            let b = Tensor::randn(0f32, 1., cout, &dev).unwrap();
            let vb = VarBuilder::from_tensors(
                HashMap::from([
                    ("weight".to_string(), w.clone()),
                    ("bias".to_string(), b.clone()),
                ]),
                DType::F32,
                &dev,
            );
            let conv = Conv::new3d(cin, cout, kernel, stride, vb).unwrap();
            let x = Tensor::randn(0f32, 1., (2, cin, 7, 9, 6), &dev).unwrap();
            let expected = conv3d_direct(&x, &w, &b, stride);
            let xl = x.permute((0, 2, 3, 4, 1)).unwrap();
            // Both strategies; gather block sizes from one row per block to all rows at once.
            let strategies = [
                Strategy::Windows,
                Strategy::Gather(1),
                Strategy::Gather(37 * cin),
                Strategy::Gather(1 << 24),
            ];
            for strategy in strategies {
                let y = conv
                    .forward_valid_with(&xl, strategy)
                    .unwrap()
                    .permute((0, 4, 1, 2, 3))
                    .unwrap();
                assert_eq!(
                    y.dims(),
                    expected.dims(),
                    "{kernel:?} {stride:?} {strategy:?}"
                );
                let err = (y - &expected)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                // Same f32 products summed in a different order: ~1e-6 for these magnitudes.
                assert!(err < 1e-4, "{kernel:?} {stride:?} {strategy:?}: {err}");
            }
        }
    }

    #[test]
    fn attention_query_blocks_agree() {
        let dev = Device::Cpu;
        let c = 4;
        let t = |shape: &[usize], s: f32| Tensor::randn(0f32, s, shape, &dev).unwrap();
        let vb = VarBuilder::from_tensors(
            HashMap::from([
                ("norm.gamma".to_string(), t(&[c, 1, 1], 1.0)),
                ("to_qkv.weight".to_string(), t(&[3 * c, c, 1, 1], 1.0)),
                ("to_qkv.bias".to_string(), t(&[3 * c], 0.1)),
                ("proj.weight".to_string(), t(&[c, c, 1, 1], 1.0)),
                ("proj.bias".to_string(), t(&[c], 0.1)),
            ]),
            DType::F32,
            &dev,
        );
        let attn = AttentionBlock::new(c, vb).unwrap();
        let x = t(&[2, 3, 5, 7, c], 1.0);
        let full = attn.forward_with_block(&x, 1 << 20).unwrap();
        for block in [1, 6, 35] {
            let y = attn.forward_with_block(&x, block).unwrap();
            let err = (y - &full)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            // Each query row is computed by the same operations whatever the block: ~exact.
            assert!(err < 1e-6, "query block {block}: {err}");
        }
    }
}
