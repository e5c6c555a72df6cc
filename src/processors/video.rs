//! Video tensors at the pipeline's edges, as diffusers' `VideoProcessor` makes them.
//!
//! * [`image_to_video_tensor`]: `VideoProcessor.preprocess` for a PIL image (resize with Lanczos
//!   when the size differs, then `2 * (u8 / 255) - 1`).
//! * [`frames_to_unit`] / [`unit_to_rgb_image`]: `postprocess_video(output_type="np")` and
//!   `numpy_to_pil`.
//!
//! Resizing goes through the Pillow-exact resampler of [`super::image`].

use anyhow::{bail, Context};
use candle_core::{DType, Device, Result as CResult, Tensor};
use image::{DynamicImage, RgbImage};

use super::image::{pil_resize_rgb, Resample};

/// diffusers' `VideoProcessor.preprocess` for one image: RGB, resize to `(height, width)` with Lanczos
/// (Pillow) when the size differs, then `2 * (u8 / 255) - 1` as f32. Returns `(1, 3, H, W)` on the CPU.
/// Images with alpha are converted by dropping it (`PIL.Image.convert("RGB")`); the pipeline's own
/// loader already hands over RGB images.
pub fn image_to_video_tensor(
    img: &DynamicImage,
    height: usize,
    width: usize,
) -> anyhow::Result<Tensor> {
    if height == 0 || width == 0 {
        bail!("image_to_video_tensor: empty target size {width}x{height}");
    }
    let rgb = pil_resize_rgb(&img.to_rgb8(), width, height, Resample::Lanczos)?;
    let mut data = vec![0f32; 3 * height * width];
    for (i, p) in rgb.pixels().enumerate() {
        for c in 0..3 {
            let u = p.0[c] as f32 / 255.0f32;
            data[c * height * width + i] = 2.0f32 * u - 1.0f32;
        }
    }
    Ok(Tensor::from_vec(data, (1, 3, height, width), &Device::Cpu)?)
}

/// `postprocess_video(output_type="np")` in tensor layout: `(B, 3, F, H, W)` in [-1, 1] to
/// `(B*F, 3, H, W)` f32 in [0, 1] (`(x * 0.5 + 0.5).clamp(0, 1)`, batches concatenated along frames).
pub fn frames_to_unit(video: &Tensor) -> CResult<Tensor> {
    let (b, c, f, h, w) = video.dims5()?;
    let v = video.to_dtype(DType::F32)?;
    let v = ((v * 0.5)? + 0.5)?.clamp(0f32, 1f32)?;
    v.permute((0, 2, 1, 3, 4))?.reshape((b * f, c, h, w))
}

/// A `(3, H, W)` tensor in [0, 1] to an RGB image with `numpy_to_pil`'s rounding
/// (`(x * 255).round()`, numpy rounds half to even, then u8; values are clamped to [0, 255] first).
pub fn unit_to_rgb_image(frame: &Tensor) -> anyhow::Result<RgbImage> {
    let (c, h, w) = frame
        .dims3()
        .context("unit_to_rgb_image: expected (3, H, W)")?;
    if c != 3 {
        bail!("unit_to_rgb_image: expected 3 channels, got {c}");
    }
    let data = frame
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let mut img = RgbImage::new(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            let mut px = [0u8; 3];
            for (ch, v) in px.iter_mut().enumerate() {
                let s = data[ch * h * w + y * w + x] * 255.0f32;
                // numpy rounds half to even
                *v = s.round_ties_even().clamp(0.0, 255.0) as u8;
            }
            img.put_pixel(x as u32, y as u32, image::Rgb(px));
        }
    }
    Ok(img)
}
