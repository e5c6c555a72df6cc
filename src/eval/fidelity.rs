//! Fidelity of an approximate picture to the exact one: PSNR and SSIM on 8-bit RGB.
//!
//! * PSNR over all channels, `10·log10(255² / MSE)`; infinite for identical pictures.
//! * SSIM as Wang et al. (2004) define it and scikit-image computes it with `gaussian_weights=True`:
//!   an 11×11 Gaussian window (σ = 1.5), `C1 = (0.01·255)²`, `C2 = (0.03·255)²`, computed per channel
//!   on the window positions that fit inside the picture and averaged over positions and channels;
//!   exactly 1 for identical pictures. Pictures smaller than the window use one window of their size.
//!
//! Means over cases cap PSNR at [`PSNR_CAP`] dB (an infinite PSNR would make any mean infinite);
//! the per-case values keep `inf`, written as the string `"inf"` in JSON.
use anyhow::{bail, Result};
use image::RgbImage;

/// Cap of a per-case PSNR inside means.
pub const PSNR_CAP: f64 = 100.0;

/// PSNR in dB (infinite for identical pictures).
pub fn psnr(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    same_size(a, b)?;
    let n = a.as_raw().len() as f64;
    let se: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum();
    if se == 0.0 {
        return Ok(f64::INFINITY);
    }
    Ok(10.0 * (255.0f64 * 255.0 / (se / n)).log10())
}

/// Mean SSIM (see the module documentation).
pub fn ssim(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    same_size(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    let win = 11.min(w).min(h);
    let sigma = 1.5;
    let half = (win as f64 - 1.0) / 2.0;
    let g1: Vec<f64> = (0..win)
        .map(|i| (-((i as f64 - half).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = g1.iter().sum();
    let g1: Vec<f64> = g1.iter().map(|v| v / s).collect();
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (ra, rb) = (a.as_raw(), b.as_raw());
    let px = |raw: &[u8], x: usize, y: usize, c: usize| raw[(y * w + x) * 3 + c] as f64;
    let mut total = 0.0;
    let mut count = 0usize;
    for c in 0..3 {
        for y0 in 0..=h - win {
            for x0 in 0..=w - win {
                let (mut ma, mut mb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for dy in 0..win {
                    for dx in 0..win {
                        let wgt = g1[dy] * g1[dx];
                        let (va, vb) = (px(ra, x0 + dx, y0 + dy, c), px(rb, x0 + dx, y0 + dy, c));
                        ma += wgt * va;
                        mb += wgt * vb;
                        saa += wgt * va * va;
                        sbb += wgt * vb * vb;
                        sab += wgt * va * vb;
                    }
                }
                let (va, vb, cov) = (saa - ma * ma, sbb - mb * mb, sab - ma * mb);
                total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                    / ((ma * ma + mb * mb + c1) * (va + vb + c2));
                count += 1;
            }
        }
    }
    Ok(total / count.max(1) as f64)
}

fn same_size(a: &RgbImage, b: &RgbImage) -> Result<()> {
    if a.dimensions() != b.dimensions() {
        bail!(
            "pictures of different sizes: {:?} and {:?}",
            a.dimensions(),
            b.dimensions()
        );
    }
    if a.width() == 0 || a.height() == 0 {
        bail!("empty picture");
    }
    Ok(())
}

/// Serde for a PSNR that may be infinite: a number, or the string `"inf"`.
pub mod psnr_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if x.is_infinite() => s.serialize_str("inf"),
            Some(x) => s.serialize_f64(*x),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Value {
            Number(f64),
            Text(String),
        }
        match Option::<Value>::deserialize(d)? {
            None => Ok(None),
            Some(Value::Number(x)) => Ok(Some(x)),
            Some(Value::Text(t)) if t == "inf" => Ok(Some(f64::INFINITY)),
            Some(Value::Text(t)) => Err(serde::de::Error::custom(format!(
                "expected a number or \"inf\", got {t:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 31 + y * 17 + seed * 101).wrapping_mul(2654435761) >> 24;
            image::Rgb([v as u8, (v as u8).wrapping_add(40), (255 - v) as u8])
        })
    }

    #[test]
    fn identical_pictures_are_infinitely_close() {
        let a = noise(20, 16, 1);
        assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
        assert_eq!(ssim(&a, &a).unwrap(), 1.0);
    }

    #[test]
    fn psnr_of_a_known_error_and_ssim_falls_with_noise() {
        let a = RgbImage::from_pixel(8, 8, image::Rgb([100, 100, 100]));
        let b = RgbImage::from_pixel(8, 8, image::Rgb([110, 100, 90]));
        // MSE = (100 + 0 + 100) / 3.
        let expected = 10.0 * (255.0f64.powi(2) / (200.0 / 3.0)).log10();
        assert!((psnr(&a, &b).unwrap() - expected).abs() < 1e-12);
        let x = noise(32, 32, 1);
        let y = noise(32, 32, 2);
        let s = ssim(&x, &y).unwrap();
        assert!(s < 0.5, "unrelated noise gave SSIM {s}");
        assert!(psnr(&x, &RgbImage::new(31, 32)).is_err());
    }
}
