//! Small shared helpers: atomic file output and image conversion at the edges.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Tensor};

/// Writes a file through a temporary sibling and a rename, so a failure or a kill never leaves a
/// half-written file at `path`. `write` receives the temporary path.
pub fn atomic_write(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Keep the extension last: image encoders pick the format from it.
    let tmp = dir.join(format!(
        ".{}.{}.tmp.{}",
        name,
        std::process::id(),
        extension_of(path)
    ));
    let result = write(&tmp).and_then(|_| {
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move the output into place at {}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` atomically (see [`atomic_write`]); errors name `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write(path, |tmp| {
        std::fs::write(tmp, bytes).with_context(|| format!("cannot write {}", path.display()))
    })
}

/// Saves an RGB picture as PNG at `path` atomically (see [`atomic_write`]); errors name `path`.
pub fn save_png_atomic(path: &Path, picture: &image::RgbImage) -> Result<()> {
    atomic_write(path, |tmp| {
        picture
            .save_with_format(tmp, image::ImageFormat::Png)
            .with_context(|| format!("cannot write {}", path.display()))
    })
}

fn extension_of(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into())
}

/// Opens an image, naming the file in every error (missing, unreadable, zero-sized, undecodable).
/// A picture file's (width, height) read from its header, without decoding its pixels.
pub fn image_dimensions(path: &Path) -> Result<(u32, u32)> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read image {}", path.display()))?;
    if meta.len() == 0 {
        bail!("image {} is empty (0 bytes)", path.display());
    }
    let (w, h) = image::ImageReader::open(path)
        .with_context(|| format!("cannot open image {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image {}", path.display()))?
        .into_dimensions()
        .with_context(|| format!("cannot read the header of image {}", path.display()))?;
    if w == 0 || h == 0 {
        bail!("image {} has no pixels ({w}x{h})", path.display());
    }
    Ok((w, h))
}

pub fn open_image(path: &Path) -> Result<image::DynamicImage> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read image {}", path.display()))?;
    if meta.len() == 0 {
        bail!("image {} is empty (0 bytes)", path.display());
    }
    let reader = image::ImageReader::open(path)
        .with_context(|| format!("cannot open image {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image {}", path.display()))?;
    let img = reader
        .decode()
        .with_context(|| format!("cannot decode image {}", path.display()))?;
    if img.width() == 0 || img.height() == 0 {
        bail!("image {} has no pixels", path.display());
    }
    Ok(img)
}

/// Pictures as an endlessly looping GIF, `delay_ms` per frame (the trajectory of an edit).
pub fn gif_bytes(frames: &[image::RgbImage], delay_ms: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        enc.set_repeat(image::codecs::gif::Repeat::Infinite)?;
        for img in frames {
            let rgba = image::DynamicImage::ImageRgb8(img.clone()).to_rgba8();
            let delay = image::Delay::from_numer_denom_ms(delay_ms, 1);
            enc.encode_frame(image::Frame::from_parts(rgba, 0, 0, delay))?;
        }
    }
    Ok(out)
}

/// Pictures of one size side by side, left to right.
pub fn frame_strip(frames: &[image::RgbImage]) -> image::RgbImage {
    let (w, h) = frames.first().map(|f| f.dimensions()).unwrap_or((0, 0));
    let mut strip = image::RgbImage::new(w * frames.len() as u32, h);
    for (i, img) in frames.iter().enumerate() {
        image::imageops::replace(&mut strip, img, (i as u32 * w) as i64, 0);
    }
    strip
}

/// A picture as PNG bytes.
pub fn png_bytes(picture: &image::RgbImage) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .context("encoding a picture as PNG")?;
    Ok(out)
}

/// A (3, H, W) tensor in [0, 1] as an 8-bit RGB image, rounding as `(x * 255).round()` like
/// diffusers' `numpy_to_pil`.
pub fn tensor_to_rgb(frame: &Tensor) -> Result<image::RgbImage> {
    let (c, h, w) = frame.dims3()?;
    if c != 3 {
        bail!("expected 3 colour channels, got {c}");
    }
    let data: Vec<f32> = frame
        .to_dtype(DType::F32)?
        .permute((1, 2, 0))?
        .flatten_all()?
        .to_vec1()?;
    let bytes = data
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    image::RgbImage::from_raw(w as u32, h as u32, bytes).context("frame buffer has the wrong size")
}

/// The region a mask picture allows to change, as a grey picture (255 = may change): where the
/// picture has transparency, its transparent pixels (alpha < 128, the OpenAI images API's
/// convention), else its light pixels (luminance >= 128).
pub fn mask_region(picture: &image::DynamicImage) -> image::GrayImage {
    let rgba = picture.to_rgba8();
    let transparent = rgba.pixels().any(|p| p[3] < 255);
    image::GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y);
        let inside = if transparent {
            p[3] < 128
        } else {
            (p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114) / 1000 >= 128
        };
        image::Luma([if inside { 255 } else { 0 }])
    })
}
