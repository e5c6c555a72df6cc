//! `AutoencoderKLWan`: the causal 3D-convolution VAE of Wan 2.1 (as used by ChronoEdit).
//!
//! Video is encoded in temporal chunks (the first frame, then 4 frames at a time) and decoded one
//! latent frame at a time; causal convolutions carry the trailing frames of the previous chunk in
//! a feature cache, exactly as diffusers' implementation does. Only the Wan 2.1 family is
//! supported (`is_residual: false`, no patchification); other configurations are refused when the
//! model is built.

mod layers;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

use layers::{
    AttentionBlock, CausalConv3d, FeatCache, Resample, ResampleMode, ResidualBlock, RmsNorm,
};

fn default_base_dim() -> usize {
    96
}
fn default_z_dim() -> usize {
    16
}
fn default_dim_mult() -> Vec<usize> {
    vec![1, 2, 4, 4]
}
fn default_num_res_blocks() -> usize {
    2
}
fn default_temperal_downsample() -> Vec<bool> {
    vec![false, true, true]
}
fn default_latents_mean() -> Vec<f64> {
    vec![
        -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715,
        0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
    ]
}
fn default_latents_std() -> Vec<f64> {
    vec![
        2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652,
        1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
    ]
}
fn default_channels() -> usize {
    3
}
fn default_scale_factor_temporal() -> Option<usize> {
    Some(4)
}
fn default_scale_factor_spatial() -> Option<usize> {
    Some(8)
}

/// `vae/config.json` of an `AutoencoderKLWan`, with the defaults of the reference `__init__`.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default = "default_base_dim")]
    pub base_dim: usize,
    #[serde(default)]
    pub decoder_base_dim: Option<usize>,
    #[serde(default = "default_z_dim")]
    pub z_dim: usize,
    #[serde(default = "default_dim_mult")]
    pub dim_mult: Vec<usize>,
    #[serde(default = "default_num_res_blocks")]
    pub num_res_blocks: usize,
    #[serde(default)]
    pub attn_scales: Vec<f64>,
    #[serde(default = "default_temperal_downsample")]
    pub temperal_downsample: Vec<bool>,
    #[serde(default)]
    pub dropout: f64,
    #[serde(default = "default_latents_mean")]
    pub latents_mean: Vec<f64>,
    #[serde(default = "default_latents_std")]
    pub latents_std: Vec<f64>,
    #[serde(default)]
    pub is_residual: bool,
    #[serde(default = "default_channels")]
    pub in_channels: usize,
    #[serde(default = "default_channels")]
    pub out_channels: usize,
    #[serde(default)]
    pub patch_size: Option<usize>,
    #[serde(default = "default_scale_factor_temporal")]
    pub scale_factor_temporal: Option<usize>,
    #[serde(default = "default_scale_factor_spatial")]
    pub scale_factor_spatial: Option<usize>,
}

impl Config {
    /// Spatial down-sampling factor implied by the architecture: 2 per down block but the last.
    pub fn architecture_spatial_scale(&self) -> usize {
        1 << self.dim_mult.len().saturating_sub(1)
    }

    /// Temporal down-sampling factor implied by the architecture: 2 per `temperal_downsample`
    /// flag that is used (one per down block but the last).
    pub fn architecture_temporal_scale(&self) -> usize {
        let used = self.dim_mult.len().saturating_sub(1);
        1 << self
            .temperal_downsample
            .iter()
            .take(used)
            .filter(|&&b| b)
            .count()
    }

    /// Checks that the configuration belongs to the supported Wan 2.1 family and is consistent.
    pub fn validate(&self) -> Result<()> {
        use candle_core::bail;
        if self.is_residual {
            bail!(
                "vae config: is_residual = true (Wan 2.2 residual VAE) is not supported; \
                 only the Wan 2.1 AutoencoderKLWan family is implemented"
            );
        }
        if let Some(p) = self.patch_size {
            if p != 1 {
                bail!(
                    "vae config: patch_size = {p} (Wan 2.2 patchified VAE) is not supported; \
                     only patch_size null (Wan 2.1) is implemented"
                );
            }
        }
        if self.base_dim == 0 || self.decoder_base_dim == Some(0) || self.z_dim == 0 {
            bail!("vae config: base_dim, decoder_base_dim and z_dim must be positive");
        }
        if self.in_channels == 0 || self.out_channels == 0 {
            bail!("vae config: in_channels and out_channels must be positive");
        }
        if self.dim_mult.is_empty() || self.dim_mult.contains(&0) {
            bail!(
                "vae config: dim_mult must be a non-empty list of positive multipliers, got {:?}",
                self.dim_mult
            );
        }
        if self.temperal_downsample.len() + 1 < self.dim_mult.len() {
            bail!(
                "vae config: temperal_downsample has {} entries, dim_mult {} needs at least {}",
                self.temperal_downsample.len(),
                self.dim_mult.len(),
                self.dim_mult.len() - 1
            );
        }
        if self.latents_mean.len() != self.z_dim {
            bail!(
                "vae config: latents_mean has {} entries, z_dim is {}",
                self.latents_mean.len(),
                self.z_dim
            );
        }
        if self.latents_std.len() != self.z_dim {
            bail!(
                "vae config: latents_std has {} entries, z_dim is {}",
                self.latents_std.len(),
                self.z_dim
            );
        }
        if let Some(s) = self.scale_factor_spatial {
            if s != self.architecture_spatial_scale() {
                bail!(
                    "vae config: scale_factor_spatial = {s} but dim_mult {:?} down-samples by {}",
                    self.dim_mult,
                    self.architecture_spatial_scale()
                );
            }
        }
        if let Some(s) = self.scale_factor_temporal {
            if s != self.architecture_temporal_scale() {
                bail!(
                    "vae config: scale_factor_temporal = {s} but temperal_downsample {:?} \
                     down-samples by {}",
                    self.temperal_downsample,
                    self.architecture_temporal_scale()
                );
            }
        }
        Ok(())
    }
}

/// A layer of the encoder's flat `down_blocks` list.
enum DownLayer {
    Res(ResidualBlock),
    Attn(AttentionBlock),
    Resample(Resample),
}

/// `WanMidBlock` with one attention layer: resnet, (attention, resnet).
struct MidBlock {
    resnets: Vec<ResidualBlock>,
    attentions: Vec<AttentionBlock>,
}

impl MidBlock {
    fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let resnets = (0..2)
            .map(|i| ResidualBlock::new(dim, dim, vb.pp("resnets").pp(i)))
            .collect::<Result<_>>()?;
        let attentions = vec![AttentionBlock::new(dim, vb.pp("attentions").pp(0))?];
        Ok(Self {
            resnets,
            attentions,
        })
    }

    fn forward(&self, x: &Tensor, cache: &mut FeatCache) -> Result<Tensor> {
        let mut x = self.resnets[0].forward(x, cache)?;
        for (attn, res) in self.attentions.iter().zip(self.resnets.iter().skip(1)) {
            x = attn.forward(&x)?;
            x = res.forward(&x, cache)?;
        }
        Ok(x)
    }
}

/// `WanEncoder3d` (non-residual).
struct Encoder {
    conv_in: CausalConv3d,
    down_blocks: Vec<DownLayer>,
    mid_block: MidBlock,
    norm_out: RmsNorm,
    conv_out: CausalConv3d,
}

impl Encoder {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let dim = cfg.base_dim;
        let dims: Vec<usize> = std::iter::once(1)
            .chain(cfg.dim_mult.iter().copied())
            .map(|u| dim * u)
            .collect();
        let conv_in = CausalConv3d::cube(cfg.in_channels, dims[0], 3, 1, vb.pp("conv_in"))?;
        let vbd = vb.pp("down_blocks");
        let mut down_blocks = Vec::new();
        let mut scale = 1.0f64;
        let n = cfg.dim_mult.len();
        for i in 0..n {
            let mut in_dim = dims[i];
            let out_dim = dims[i + 1];
            for _ in 0..cfg.num_res_blocks {
                let k = down_blocks.len();
                down_blocks.push(DownLayer::Res(ResidualBlock::new(
                    in_dim,
                    out_dim,
                    vbd.pp(k),
                )?));
                if cfg.attn_scales.contains(&scale) {
                    let k = down_blocks.len();
                    down_blocks.push(DownLayer::Attn(AttentionBlock::new(out_dim, vbd.pp(k))?));
                }
                in_dim = out_dim;
            }
            if i != n - 1 {
                let mode = if cfg.temperal_downsample[i] {
                    ResampleMode::Downsample3d
                } else {
                    ResampleMode::Downsample2d
                };
                let k = down_blocks.len();
                down_blocks.push(DownLayer::Resample(Resample::new(
                    out_dim,
                    mode,
                    None,
                    vbd.pp(k),
                )?));
                scale /= 2.0;
            }
        }
        let out_dim = dims[n];
        Ok(Self {
            conv_in,
            down_blocks,
            mid_block: MidBlock::new(out_dim, vb.pp("mid_block"))?,
            norm_out: RmsNorm::new(out_dim, false, vb.pp("norm_out"))?,
            conv_out: CausalConv3d::cube(out_dim, cfg.z_dim * 2, 3, 1, vb.pp("conv_out"))?,
        })
    }

    fn has_attention(&self) -> bool {
        self.down_blocks
            .iter()
            .any(|l| matches!(l, DownLayer::Attn(_)))
    }

    fn forward(&self, x: &Tensor, cache: &mut FeatCache) -> Result<Tensor> {
        let mut x = self.conv_in.forward_cached(x, cache)?;
        for layer in &self.down_blocks {
            x = match layer {
                DownLayer::Res(r) => r.forward(&x, cache)?,
                DownLayer::Attn(a) => a.forward(&x)?,
                DownLayer::Resample(r) => r.forward(&x, cache)?,
            };
        }
        let x = self.mid_block.forward(&x, cache)?;
        let x = self.norm_out.forward(&x)?.silu()?;
        self.conv_out.forward_cached(&x, cache)
    }
}

/// `WanUpBlock`: `num_res_blocks + 1` residual blocks and an optional resampler.
struct UpBlock {
    resnets: Vec<ResidualBlock>,
    upsampler: Option<Resample>,
}

/// `WanDecoder3d` (non-residual).
struct Decoder {
    conv_in: CausalConv3d,
    mid_block: MidBlock,
    up_blocks: Vec<UpBlock>,
    norm_out: RmsNorm,
    conv_out: CausalConv3d,
}

impl Decoder {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let dim = cfg.decoder_base_dim.unwrap_or(cfg.base_dim);
        let n = cfg.dim_mult.len();
        let dims: Vec<usize> = std::iter::once(cfg.dim_mult[n - 1])
            .chain(cfg.dim_mult.iter().rev().copied())
            .map(|u| dim * u)
            .collect();
        let temperal_upsample: Vec<bool> = cfg.temperal_downsample.iter().rev().copied().collect();
        let conv_in = CausalConv3d::cube(cfg.z_dim, dims[0], 3, 1, vb.pp("conv_in"))?;
        let mid_block = MidBlock::new(dims[0], vb.pp("mid_block"))?;
        let mut up_blocks = Vec::with_capacity(n);
        for i in 0..n {
            let mut in_dim = dims[i];
            let out_dim = dims[i + 1];
            if i > 0 {
                in_dim /= 2;
            }
            let vbu = vb.pp("up_blocks").pp(i);
            let mut resnets = Vec::with_capacity(cfg.num_res_blocks + 1);
            let mut cur = in_dim;
            for j in 0..=cfg.num_res_blocks {
                resnets.push(ResidualBlock::new(cur, out_dim, vbu.pp("resnets").pp(j))?);
                cur = out_dim;
            }
            let upsampler = if i != n - 1 {
                let mode = if temperal_upsample[i] {
                    ResampleMode::Upsample3d
                } else {
                    ResampleMode::Upsample2d
                };
                Some(Resample::new(
                    out_dim,
                    mode,
                    None,
                    vbu.pp("upsamplers").pp(0),
                )?)
            } else {
                None
            };
            up_blocks.push(UpBlock { resnets, upsampler });
        }
        let out_dim = dims[n];
        Ok(Self {
            conv_in,
            mid_block,
            up_blocks,
            norm_out: RmsNorm::new(out_dim, false, vb.pp("norm_out"))?,
            conv_out: CausalConv3d::cube(out_dim, cfg.out_channels, 3, 1, vb.pp("conv_out"))?,
        })
    }

    fn forward(&self, x: &Tensor, cache: &mut FeatCache) -> Result<Tensor> {
        let x = self.conv_in.forward_cached(x, cache)?;
        let mut x = self.mid_block.forward(&x, cache)?;
        for block in &self.up_blocks {
            for r in &block.resnets {
                x = r.forward(&x, cache)?;
            }
            if let Some(u) = &block.upsampler {
                x = u.forward(&x, cache)?;
            }
        }
        let x = self.norm_out.forward(&x)?.silu()?;
        self.conv_out.forward_cached(&x, cache)
    }
}

/// diffusers' `AutoencoderKLWan` (Wan 2.1 family).
pub struct AutoencoderKLWan {
    cfg: Config,
    encoder: Encoder,
    quant_conv: CausalConv3d,
    post_quant_conv: CausalConv3d,
    decoder: Decoder,
    dtype: DType,
}

/// `(B, C, T, H, W)` -> channels-last `(B, T, H, W, C)`.
fn to_channels_last(x: &Tensor) -> Result<Tensor> {
    x.permute((0, 2, 3, 4, 1))?.contiguous()
}

/// Channels-last `(B, T, H, W, C)` -> `(B, C, T, H, W)`.
fn to_channels_first(x: &Tensor) -> Result<Tensor> {
    x.permute((0, 4, 1, 2, 3))?.contiguous()
}

impl AutoencoderKLWan {
    /// Builds the model from its config and the weights under `vb` (names as diffusers saves
    /// them: `encoder.*`, `quant_conv.*`, `post_quant_conv.*`, `decoder.*`).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let z = cfg.z_dim;
        Ok(Self {
            encoder: Encoder::new(cfg, vb.pp("encoder"))?,
            quant_conv: CausalConv3d::cube(z * 2, z * 2, 1, 0, vb.pp("quant_conv"))?,
            post_quant_conv: CausalConv3d::cube(z, z, 1, 0, vb.pp("post_quant_conv"))?,
            decoder: Decoder::new(cfg, vb.pp("decoder"))?,
            dtype: vb.dtype(),
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Pixel size of one latent cell (the pipeline's `vae_scale_factor_spatial`).
    pub fn spatial_scale(&self) -> usize {
        self.cfg
            .scale_factor_spatial
            .unwrap_or_else(|| self.cfg.architecture_spatial_scale())
    }

    /// Frames per latent frame after the first (the pipeline's `vae_scale_factor_temporal`).
    pub fn temporal_scale(&self) -> usize {
        self.cfg
            .scale_factor_temporal
            .unwrap_or_else(|| self.cfg.architecture_temporal_scale())
    }

    /// `latents_mean` and `1 / latents_std` as `(1, z_dim, 1, 1, 1)` tensors of `dtype`, as the
    /// reference pipeline builds them.
    fn latent_stats(&self, device: &Device, dtype: DType) -> Result<(Tensor, Tensor)> {
        let z = self.cfg.z_dim;
        let mean: Vec<f32> = self.cfg.latents_mean.iter().map(|&v| v as f32).collect();
        let std: Vec<f32> = self.cfg.latents_std.iter().map(|&v| v as f32).collect();
        let mean = Tensor::from_vec(mean, (1, z, 1, 1, 1), device)?;
        let inv_std = Tensor::from_vec(std, (1, z, 1, 1, 1), device)?.recip()?;
        Ok((mean.to_dtype(dtype)?, inv_std.to_dtype(dtype)?))
    }

    /// `(z - latents_mean) * (1 / latents_std)` for latents `(B, z_dim, F, h, w)`: the scaling
    /// the pipeline applies to encoded condition latents.
    pub fn normalize_latents(&self, z: &Tensor) -> Result<Tensor> {
        let (mean, inv_std) = self.latent_stats(z.device(), z.dtype())?;
        z.broadcast_sub(&mean)?.broadcast_mul(&inv_std)
    }

    /// `z / (1 / latents_std) + latents_mean`: the inverse scaling the pipeline applies before
    /// decoding.
    pub fn denormalize_latents(&self, z: &Tensor) -> Result<Tensor> {
        let (mean, inv_std) = self.latent_stats(z.device(), z.dtype())?;
        z.broadcast_div(&inv_std)?.broadcast_add(&mean)
    }

    /// Encodes video `x` `(B, in_channels, T, H, W)` (values in [-1, 1]) and returns the
    /// parameters `(mean, logvar)` of the latent distribution, each `(B, z_dim, 1 + (T-1)/4, h, w)`
    /// (for the default temporal factor); `logvar` is clamped to [-30, 20] as in the reference.
    /// As in the reference, frames beyond the last complete chunk of 4 are ignored.
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (_, c, t, _, _) = x.dims5().map_err(|e| {
            candle_core::Error::Msg(format!("vae encode: input must be (B, C, T, H, W): {e}"))
        })?;
        if c != self.cfg.in_channels {
            candle_core::bail!(
                "vae encode: input has {c} channels, the model expects {}",
                self.cfg.in_channels
            );
        }
        if t == 0 {
            candle_core::bail!("vae encode: input has no frames");
        }
        if self.encoder.has_attention() {
            candle_core::bail!(
                "vae encode: attn_scales {:?} puts attention layers in the encoder; the reference \
                 implementation cannot run such an encoder, so it is not supported",
                self.cfg.attn_scales
            );
        }
        let x = to_channels_last(&x.to_dtype(self.dtype)?)?;
        let mut cache = FeatCache::new();
        let chunks = 1 + (t - 1) / 4;
        let mut outs = Vec::with_capacity(chunks);
        for i in 0..chunks {
            cache.start_chunk();
            let chunk = if i == 0 {
                x.narrow(1, 0, 1)?
            } else {
                x.narrow(1, 1 + 4 * (i - 1), 4)?
            };
            outs.push(self.encoder.forward(&chunk, &mut cache)?);
        }
        let out = Tensor::cat(&outs, 1)?;
        let enc = to_channels_first(&self.quant_conv.forward(&out, None)?)?;
        let z = self.cfg.z_dim;
        let mean = enc.narrow(1, 0, z)?.contiguous()?;
        let logvar = enc.narrow(1, z, z)?.clamp(-30f64, 20f64)?;
        Ok((mean, logvar))
    }

    /// Decodes latents `z` `(B, z_dim, F, h, w)` into video `(B, out_channels, T, H, W)`
    /// clamped to [-1, 1], one latent frame at a time.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let (_, c, f, _, _) = z.dims5().map_err(|e| {
            candle_core::Error::Msg(format!("vae decode: latents must be (B, C, F, h, w): {e}"))
        })?;
        if c != self.cfg.z_dim {
            candle_core::bail!(
                "vae decode: latents have {c} channels, z_dim is {}",
                self.cfg.z_dim
            );
        }
        if f == 0 {
            candle_core::bail!("vae decode: latents have no frames");
        }
        let z = to_channels_last(&z.to_dtype(self.dtype)?)?;
        let x = self.post_quant_conv.forward(&z, None)?;
        let mut cache = FeatCache::new();
        let mut outs = Vec::with_capacity(f);
        for i in 0..f {
            cache.start_chunk();
            outs.push(self.decoder.forward(&x.narrow(1, i, 1)?, &mut cache)?);
        }
        let out = Tensor::cat(&outs, 1)?.clamp(-1f64, 1f64)?;
        to_channels_first(&out)
    }
}
