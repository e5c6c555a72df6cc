//! Image preprocessing: transformers' `CLIPImageProcessor` and the Pillow-exact resampler under it.
//!
//! * [`ClipImageProcessor`]: transformers' `CLIPImageProcessor` (PIL backend) as configured by a
//!   `preprocessor_config.json` (the pipeline's `image_processor/`, or a CLIP model folder's): RGB
//!   conversion (alpha composited on white), resize of the shortest edge, center crop, rescale,
//!   normalize.
//! * [`pil_resize_rgb`] / [`pil_resize_u8`]: `PIL.Image.resize`, also used by [`super::video`].
//!
//! Resizing re-implements Pillow's separable resampler for 8-bit images (`ImagingResample`): filter
//! weights in f64 with the support widened by the downscale factor (antialiasing), converted to 22-bit
//! fixed point, one pass per axis (order as in Pillow 13, see [`pil_resize_u8`]), each rounding and
//! clamping to u8.

use anyhow::{anyhow, bail, Context};
use candle_core::{Device, Tensor};
use image::{DynamicImage, RgbImage};
use serde::Deserialize;
use std::path::Path;

/// Pillow's resampling filters (numbering as `PIL.Image.Resampling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    Nearest,
    Lanczos,
    Bilinear,
    Bicubic,
    Box,
    Hamming,
}

impl Resample {
    pub fn from_pil(code: i64) -> anyhow::Result<Self> {
        Ok(match code {
            0 => Self::Nearest,
            1 => Self::Lanczos,
            2 => Self::Bilinear,
            3 => Self::Bicubic,
            4 => Self::Box,
            5 => Self::Hamming,
            other => bail!("unknown PIL resample code {other}"),
        })
    }

    fn support(self) -> f64 {
        match self {
            Self::Nearest => 0.0,
            Self::Box => 0.5,
            Self::Bilinear | Self::Hamming => 1.0,
            Self::Bicubic => 2.0,
            Self::Lanczos => 3.0,
        }
    }

    fn filter(self, x: f64) -> f64 {
        fn sinc(x: f64) -> f64 {
            if x == 0.0 {
                1.0
            } else {
                let x = x * std::f64::consts::PI;
                x.sin() / x
            }
        }
        match self {
            Self::Nearest => 0.0,
            Self::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Self::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let px = x * std::f64::consts::PI;
                    px.sin() / px * (0.54 + 0.46 * px.cos())
                }
            }
            Self::Bicubic => {
                // Keys cubic with a = -0.5
                let a = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * a
                } else {
                    0.0
                }
            }
            Self::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output pixel: first input index, number of taps, fixed-point weights (`ksize` each).
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

fn precompute_coeffs(in_size: usize, out_size: usize, filter: Resample) -> Coeffs {
    let in0 = 0.0f64;
    let in1 = in_size as f64;
    let scale = (in1 - in0) / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = in0 + (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C casts truncate toward zero
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64)
            .min(in_size as i64)
            .max(xmin as i64) as usize
            - xmin;
        let xmax = xmax.min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = filter.filter((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        for x in 0..ksize {
            let w = if x < xmax {
                if ww != 0.0 {
                    k[x] / ww
                } else {
                    k[x]
                }
            } else {
                0.0
            };
            let f = w * (1i64 << PRECISION_BITS) as f64;
            weights[xx * ksize + x] = if w < 0.0 {
                (-0.5 + f) as i32
            } else {
                (0.5 + f) as i32
            };
        }
        bounds.push((xmin, xmax));
    }
    Coeffs {
        ksize,
        bounds,
        weights,
    }
}

#[inline]
fn clip8(v: i64) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow-compatible resize of an interleaved u8 image with `channels` channels.
pub fn pil_resize_u8(
    src: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    out_w: usize,
    out_h: usize,
    filter: Resample,
) -> anyhow::Result<Vec<u8>> {
    if src.len() != width * height * channels {
        bail!(
            "resize: buffer of {} bytes is not {width}x{height}x{channels}",
            src.len()
        );
    }
    if out_w == 0 || out_h == 0 || width == 0 || height == 0 {
        bail!("resize: empty image ({width}x{height} -> {out_w}x{out_h})");
    }
    if filter == Resample::Nearest {
        bail!("resize: the NEAREST filter is not supported");
    }
    // Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
    // pixels as the width does (earlier Pillow versions always went horizontal first). The pass order
    // matters because each pass rounds to u8. Rule measured against Pillow 13.0.0 on 400 random size
    // pairs (all matched; ties go horizontal first).
    let vertical_first =
        out_h < height && (height as i64 - out_h as i64) > 2 * (width as i64 - out_w as i64);
    if vertical_first {
        let v = resample_vertical(src, width, height, channels, out_h, filter);
        return Ok(resample_horizontal(
            &v, width, out_h, channels, out_w, filter,
        ));
    }
    let h = resample_horizontal(src, width, height, channels, out_w, filter);
    Ok(resample_vertical(
        &h, out_w, height, channels, out_h, filter,
    ))
}

/// One horizontal pass (a copy when the width is unchanged).
fn resample_horizontal(
    src: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    out_w: usize,
    filter: Resample,
) -> Vec<u8> {
    if out_w == width {
        return src.to_vec();
    }
    let half = 1i64 << (PRECISION_BITS - 1);
    let c = precompute_coeffs(width, out_w, filter);
    let mut out = vec![0u8; out_w * height * channels];
    for y in 0..height {
        let row = &src[y * width * channels..(y + 1) * width * channels];
        for xx in 0..out_w {
            let (xmin, n) = c.bounds[xx];
            let k = &c.weights[xx * c.ksize..xx * c.ksize + n];
            for ch in 0..channels {
                let mut ss = half;
                for (x, &w) in k.iter().enumerate() {
                    ss += row[(xmin + x) * channels + ch] as i64 * w as i64;
                }
                out[(y * out_w + xx) * channels + ch] = clip8(ss);
            }
        }
    }
    out
}

/// One vertical pass (a copy when the height is unchanged).
fn resample_vertical(
    src: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    out_h: usize,
    filter: Resample,
) -> Vec<u8> {
    if out_h == height {
        return src.to_vec();
    }
    let half = 1i64 << (PRECISION_BITS - 1);
    let c = precompute_coeffs(height, out_h, filter);
    let mut out = vec![0u8; width * out_h * channels];
    for yy in 0..out_h {
        let (ymin, n) = c.bounds[yy];
        let k = &c.weights[yy * c.ksize..yy * c.ksize + n];
        for x in 0..width {
            for ch in 0..channels {
                let mut ss = half;
                for (y, &w) in k.iter().enumerate() {
                    ss += src[((ymin + y) * width + x) * channels + ch] as i64 * w as i64;
                }
                out[(yy * width + x) * channels + ch] = clip8(ss);
            }
        }
    }
    out
}

/// Resize an RGB image as `PIL.Image.resize((w, h), resample)` does (a copy when the size is unchanged).
pub fn pil_resize_rgb(
    img: &RgbImage,
    out_w: usize,
    out_h: usize,
    filter: Resample,
) -> anyhow::Result<RgbImage> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if (w, h) == (out_w, out_h) {
        return Ok(img.clone());
    }
    let data = pil_resize_u8(img.as_raw(), w, h, 3, out_w, out_h, filter)?;
    RgbImage::from_raw(out_w as u32, out_h as u32, data)
        .ok_or_else(|| anyhow!("resize: buffer size mismatch"))
}

/// transformers' `convert_to_rgb` for a decoded image: images with alpha are composited over opaque
/// white with Pillow's `alpha_composite` arithmetic, others converted to RGB.
pub fn convert_to_rgb(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    // Pillow AlphaComposite.c with an opaque white destination, 7-bit fixed point
    const PB: u32 = 7;
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = p.0;
        if a == 0 {
            o.0 = [255, 255, 255];
            continue;
        }
        let a = a as u32;
        let blend = 255 * (255 - a);
        let outa255 = a * 255 + blend;
        let coef1 = a * 255 * 255 * (1 << PB) / outa255;
        let coef2 = 255 * (1 << PB) - coef1;
        let mix = |s: u8| -> u8 {
            let tmp = s as u32 * coef1 + 255 * coef2 + (0x80 << PB);
            let v = ((tmp >> 8) + tmp) >> 8;
            (v >> PB).min(255) as u8
        };
        o.0 = [mix(r), mix(g), mix(b)];
    }
    out
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum SizeSpec {
    Int(usize),
    Map {
        shortest_edge: Option<usize>,
        #[serde(default)]
        longest_edge: Option<usize>,
        height: Option<usize>,
        width: Option<usize>,
    },
}

fn d_true() -> bool {
    true
}
fn d_resample() -> i64 {
    3
}
fn d_rescale() -> f64 {
    1.0 / 255.0
}
fn d_mean() -> Vec<f64> {
    vec![0.48145466, 0.4578275, 0.40821073]
}
fn d_std() -> Vec<f64> {
    vec![0.26862954, 0.26130258, 0.27577711]
}
fn d_size() -> SizeSpec {
    SizeSpec::Map {
        shortest_edge: Some(224),
        longest_edge: None,
        height: None,
        width: None,
    }
}
fn d_crop() -> SizeSpec {
    SizeSpec::Map {
        shortest_edge: None,
        longest_edge: None,
        height: Some(224),
        width: Some(224),
    }
}

#[derive(Debug, Clone, Deserialize)]
struct RawConfig {
    #[serde(default = "d_true")]
    do_resize: bool,
    #[serde(default = "d_size")]
    size: SizeSpec,
    #[serde(default = "d_resample")]
    resample: i64,
    #[serde(default = "d_true")]
    do_center_crop: bool,
    #[serde(default = "d_crop")]
    crop_size: SizeSpec,
    #[serde(default = "d_true")]
    do_rescale: bool,
    #[serde(default = "d_rescale")]
    rescale_factor: f64,
    #[serde(default = "d_true")]
    do_normalize: bool,
    #[serde(default = "d_mean")]
    image_mean: Vec<f64>,
    #[serde(default = "d_std")]
    image_std: Vec<f64>,
    #[serde(default = "d_true")]
    do_convert_rgb: bool,
}

/// Target size of the resize step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeTarget {
    ShortestEdge(usize),
    Exact { height: usize, width: usize },
}

/// transformers' `CLIPImageProcessor` (PIL backend).
#[derive(Debug, Clone)]
pub struct ClipImageProcessor {
    pub do_resize: bool,
    pub size: ResizeTarget,
    pub resample: Resample,
    pub do_center_crop: bool,
    /// (height, width)
    pub crop_size: (usize, usize),
    pub do_rescale: bool,
    pub rescale_factor: f64,
    pub do_normalize: bool,
    pub image_mean: [f64; 3],
    pub image_std: [f64; 3],
    pub do_convert_rgb: bool,
}

impl ClipImageProcessor {
    /// Reads `preprocessor_config.json`.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let raw: RawConfig = serde_json::from_str(text)?;
        let size = match raw.size {
            SizeSpec::Int(s) => ResizeTarget::ShortestEdge(s),
            SizeSpec::Map {
                longest_edge: Some(_),
                ..
            } => bail!("size: longest_edge is not supported"),
            SizeSpec::Map {
                shortest_edge: Some(s),
                ..
            } => ResizeTarget::ShortestEdge(s),
            SizeSpec::Map {
                height: Some(height),
                width: Some(width),
                ..
            } => ResizeTarget::Exact { height, width },
            other => bail!("size: unsupported specification {other:?}"),
        };
        let crop_size = match raw.crop_size {
            SizeSpec::Int(s) => (s, s),
            SizeSpec::Map {
                height: Some(h),
                width: Some(w),
                ..
            } => (h, w),
            other => bail!("crop_size: needs height and width, got {other:?}"),
        };
        let three = |v: &[f64], name: &str| -> anyhow::Result<[f64; 3]> {
            match v {
                [x] => Ok([*x; 3]),
                [a, b, c] => Ok([*a, *b, *c]),
                _ => bail!("{name}: expected 1 or 3 values, got {}", v.len()),
            }
        };
        let image_std = three(&raw.image_std, "image_std")?;
        if image_std.contains(&0.0) {
            bail!("image_std: zero entry");
        }
        Ok(Self {
            do_resize: raw.do_resize,
            size,
            resample: Resample::from_pil(raw.resample).context("resample")?,
            do_center_crop: raw.do_center_crop,
            crop_size,
            do_rescale: raw.do_rescale,
            rescale_factor: raw.rescale_factor,
            do_normalize: raw.do_normalize,
            image_mean: three(&raw.image_mean, "image_mean")?,
            image_std,
            do_convert_rgb: raw.do_convert_rgb,
        })
    }

    /// Output (height, width) of the resize step for an input of `(h, w)`, as
    /// `get_resize_output_image_size(default_to_square=False)` computes it.
    pub fn resize_size(&self, h: usize, w: usize) -> (usize, usize) {
        match self.size {
            ResizeTarget::Exact { height, width } => (height, width),
            ResizeTarget::ShortestEdge(s) => {
                let (short, long) = if w <= h { (w, h) } else { (h, w) };
                let new_long = (s as f64 * long as f64 / short as f64) as usize;
                if w <= h {
                    (new_long, s)
                } else {
                    (s, new_long)
                }
            }
        }
    }

    /// The processed image as u8 RGB before rescale/normalize (resize + center crop).
    pub fn resized_and_cropped(&self, img: &DynamicImage) -> anyhow::Result<RgbImage> {
        let mut rgb = if self.do_convert_rgb {
            convert_to_rgb(img)
        } else {
            img.to_rgb8()
        };
        if rgb.width() == 0 || rgb.height() == 0 {
            bail!("clip image processor: empty image");
        }
        if self.do_resize {
            let (oh, ow) = self.resize_size(rgb.height() as usize, rgb.width() as usize);
            if oh == 0 || ow == 0 {
                bail!(
                    "clip image processor: resize of {}x{} gives an empty image",
                    rgb.width(),
                    rgb.height()
                );
            }
            rgb = pil_resize_rgb(&rgb, ow, oh, self.resample)?;
        }
        if self.do_center_crop {
            rgb = center_crop(&rgb, self.crop_size.0, self.crop_size.1);
        }
        Ok(rgb)
    }

    /// `pixel_values` `(1, 3, S, S)` f32 on the CPU.
    pub fn preprocess(&self, img: &DynamicImage) -> anyhow::Result<Tensor> {
        let rgb = self.resized_and_cropped(img)?;
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let mut data = vec![0f32; 3 * h * w];
        let mean = self.image_mean.map(|m| m as f32);
        let std = self.image_std.map(|s| s as f32);
        for (i, p) in rgb.pixels().enumerate() {
            for c in 0..3 {
                let mut v = p.0[c] as f32;
                if self.do_rescale {
                    // numpy: (u8 as f64 * factor) cast to f32
                    v = (p.0[c] as f64 * self.rescale_factor) as f32;
                }
                if self.do_normalize {
                    v = (v - mean[c]) / std[c];
                }
                data[c * h * w + i] = v;
            }
        }
        Ok(Tensor::from_vec(data, (1, 3, h, w), &Device::Cpu)?)
    }
}

/// numpy center crop (top/left offsets floor((in - out) / 2)), zero padding where the image is smaller,
/// as transformers' `center_crop` does.
fn center_crop(img: &RgbImage, ch: usize, cw: usize) -> RgbImage {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (ch_i, cw_i) = (ch as i64, cw as i64);
    if ch_i <= h && cw_i <= w {
        let top = (h - ch_i) / 2;
        let left = (w - cw_i) / 2;
        return image::imageops::crop_imm(img, left as u32, top as u32, cw as u32, ch as u32)
            .to_image();
    }
    // pad with zeros to at least the crop size (offsets ceil((new - old) / 2)), then crop
    let new_h = h.max(ch_i);
    let new_w = w.max(cw_i);
    let top_pad = (new_h - h + 1) / 2;
    let left_pad = (new_w - w + 1) / 2;
    let mut padded = RgbImage::new(new_w as u32, new_h as u32);
    for (x, y, p) in img.enumerate_pixels() {
        padded.put_pixel(x + left_pad as u32, y + top_pad as u32, *p);
    }
    // crop offsets floor((old - crop) / 2) shifted by the padding
    let top = ((h - ch_i).div_euclid(2) + top_pad).clamp(0, new_h - ch_i) as u32;
    let left = ((w - cw_i).div_euclid(2) + left_pad).clamp(0, new_w - cw_i) as u32;
    image::imageops::crop_imm(&padded, left, top, cw as u32, ch as u32).to_image()
}
