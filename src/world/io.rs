//! Files: the ImgEdit-format suite, safetensors training shards, PNG helpers. All writes are
//! atomic (temporary file in the same folder, then rename).
use super::edits::{generate_case, Case, CaseMeta, Category, GenConfig, Trajectory};
use super::render::Image;
use crate::suite::SuiteCase;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Write bytes atomically.
pub use crate::util::write_atomic;

fn png_bytes(data: &[u8], w: usize, h: usize, colour: image::ExtendedColorType) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(data, w as u32, h as u32, colour)
    .context("encoding PNG")?;
    Ok(out)
}

/// Save an RGB image as PNG (atomically).
pub fn save_png(path: &Path, img: &Image) -> Result<()> {
    let b = png_bytes(
        &img.data,
        img.size,
        img.size,
        image::ExtendedColorType::Rgb8,
    )
    .with_context(|| format!("encoding {}", path.display()))?;
    write_atomic(path, &b)
}

/// Save a 0/1 mask as a black/white PNG.
pub fn save_mask(path: &Path, mask: &[u8], size: usize) -> Result<()> {
    let d: Vec<u8> = mask.iter().map(|&m| if m != 0 { 255 } else { 0 }).collect();
    let b = png_bytes(&d, size, size, image::ExtendedColorType::L8)
        .with_context(|| format!("encoding {}", path.display()))?;
    write_atomic(path, &b)
}

/// Save frames side by side (one PNG `size*F` wide).
pub fn save_strip(path: &Path, frames: &[Image]) -> Result<()> {
    let s = frames[0].size;
    let f = frames.len();
    let mut d = vec![0u8; s * s * f * 3];
    for (k, fr) in frames.iter().enumerate() {
        for y in 0..s {
            let dst = (y * s * f + k * s) * 3;
            d[dst..dst + s * 3].copy_from_slice(&fr.data[y * s * 3..(y + 1) * s * 3]);
        }
    }
    let b = png_bytes(&d, s * f, s, image::ExtendedColorType::Rgb8)
        .with_context(|| format!("encoding {}", path.display()))?;
    write_atomic(path, &b)
}

/// Load a PNG/JPEG as RGB, resized (bilinear) to `size` if it differs.
pub fn load_image(path: &Path, size: usize) -> Result<Image> {
    let img = image::open(path)
        .with_context(|| format!("reading image {}", path.display()))?
        .to_rgb8();
    let img = if img.width() as usize != size || img.height() as usize != size {
        image::imageops::resize(
            &img,
            size as u32,
            size as u32,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    Ok(Image {
        size,
        data: img.into_raw(),
    })
}

/// Load a mask PNG (any channel layout; > 127 is "in"), resized (nearest) to `size`.
pub fn load_mask(path: &Path, size: usize) -> Result<Vec<u8>> {
    let img = image::open(path)
        .with_context(|| format!("reading mask {}", path.display()))?
        .to_luma8();
    let img = if img.width() as usize != size || img.height() as usize != size {
        image::imageops::resize(
            &img,
            size as u32,
            size as u32,
            image::imageops::FilterType::Nearest,
        )
    } else {
        img
    };
    Ok(img
        .into_raw()
        .into_iter()
        .map(|v| (v > 127) as u8)
        .collect())
}

/// Generate cases `start..start+n` in parallel (order kept), reporting progress.
pub fn generate_many(
    cfg: &GenConfig,
    start: u64,
    n: u64,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Vec<Case>> {
    (start..start + n)
        .into_par_iter()
        .map(|i| {
            let c = generate_case(cfg, i).map_err(|e| anyhow::anyhow!(e));
            if let Some(p) = progress {
                p.inc(1);
            }
            c
        })
        .collect()
}

/// Write a suite: `suite.json`, `cases.jsonl`, `images/` (sources), `targets/`, `masks/` and
/// `frames/` (the intermediate frames only, side by side; source and target are in `images/` and
/// `targets/`).
pub fn write_suite(dir: &Path, cases: &[Case]) -> Result<()> {
    for sub in ["images", "targets", "masks", "frames"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    cases.par_iter().try_for_each(|c| -> Result<()> {
        let k = &c.meta.key;
        save_png(&dir.join("images").join(format!("{k}.png")), &c.source_img)?;
        save_png(&dir.join("targets").join(format!("{k}.png")), &c.target_img)?;
        save_mask(
            &dir.join("masks").join(format!("{k}.png")),
            &c.mask,
            c.meta.size,
        )?;
        if c.frames.len() > 2 {
            save_strip(
                &dir.join("frames").join(format!("{k}.png")),
                &c.frames[1..c.frames.len() - 1],
            )?;
        }
        Ok(())
    })?;
    let mut suite = BTreeMap::new();
    let mut lines = String::new();
    for c in cases {
        suite.insert(
            c.meta.key.clone(),
            SuiteCase {
                key: c.meta.key.clone(),
                id: format!("images/{}.png", c.meta.key),
                prompt: c.meta.prompt.clone(),
                edit_type: c.meta.category,
            },
        );
        lines.push_str(&serde_json::to_string(&c.meta)?);
        lines.push('\n');
    }
    write_atomic(
        &dir.join("suite.json"),
        serde_json::to_string_pretty(&suite)?.as_bytes(),
    )?;
    write_atomic(&dir.join("cases.jsonl"), lines.as_bytes())
}

/// Read a suite's case metadata (`cases.jsonl`), checked against `suite.json`.
pub fn load_suite(dir: &Path) -> Result<Vec<CaseMeta>> {
    let p = dir.join("cases.jsonl");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let m: CaseMeta = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", p.display(), i + 1))?;
        if !(16..=4096).contains(&m.size) || m.n_frames < 2 {
            bail!(
                "{} line {}: bad size {} or frame count {}",
                p.display(),
                i + 1,
                m.size,
                m.n_frames
            );
        }
        v.push(m);
    }
    let sp = dir.join("suite.json");
    let suite = crate::suite::Suite::from_file(&sp)?;
    if let Some(e) = suite.errors.first() {
        bail!("{}: case {}: {}", sp.display(), e.key, e.message);
    }
    let types: BTreeMap<&str, &str> = suite
        .cases
        .iter()
        .map(|c| (c.key.as_str(), c.edit_type.name()))
        .collect();
    for m in &v {
        match types.get(m.key.as_str()) {
            Some(&t) if t == m.category.name() => {}
            _ => bail!(
                "{}: case {} missing from or inconsistent with {}",
                p.display(),
                m.key,
                sp.display()
            ),
        }
    }
    Ok(v)
}

/// Format tag stored in each shard's metadata.
pub const SHARD_FORMAT: &str = "physedit-world-shard-v1";

/// Write cases as one safetensors shard plus its JSONL (see the module docs for the layout).
pub fn write_shard(path_st: &Path, path_jsonl: &Path, cases: &[Case]) -> Result<()> {
    if cases.is_empty() {
        bail!("no cases for shard {}", path_st.display());
    }
    let s = cases[0].meta.size;
    let f = cases[0].meta.n_frames;
    let b = cases.len();
    let mut source = Vec::with_capacity(b * s * s * 3);
    let mut target = Vec::with_capacity(b * s * s * 3);
    let mut mask = Vec::with_capacity(b * s * s);
    let mut frames = Vec::with_capacity(b * f * s * s * 3);
    let mut category = Vec::with_capacity(b);
    let mut simulated = Vec::with_capacity(b);
    let mut lines = String::new();
    for c in cases {
        source.extend_from_slice(&c.source_img.data);
        target.extend_from_slice(&c.target_img.data);
        mask.extend_from_slice(&c.mask);
        for fr in &c.frames {
            frames.extend_from_slice(&fr.data);
        }
        category.push(
            Category::ALL
                .iter()
                .position(|&k| k == c.meta.category)
                .unwrap_or(0) as u8,
        );
        simulated.push(match c.meta.trajectory {
            Trajectory::Crossfade => 0,
            Trajectory::Simulated => 1,
            Trajectory::Mixed => 2,
        });
        let line = serde_json::json!({
            "key": c.meta.key,
            "prompt": c.meta.prompt,
            "edit_type": c.meta.category.name(),
            "kind": c.meta.kind,
            "trajectory": c.meta.trajectory,
            "templates": c.meta.templates,
            "index": c.meta.index,
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    let views = vec![
        (
            "source",
            TensorView::new(Dtype::U8, vec![b, s, s, 3], &source)?,
        ),
        (
            "target",
            TensorView::new(Dtype::U8, vec![b, s, s, 3], &target)?,
        ),
        ("mask", TensorView::new(Dtype::U8, vec![b, s, s], &mask)?),
        (
            "frames",
            TensorView::new(Dtype::U8, vec![b, f, s, s, 3], &frames)?,
        ),
        ("category", TensorView::new(Dtype::U8, vec![b], &category)?),
        (
            "trajectory",
            TensorView::new(Dtype::U8, vec![b], &simulated)?,
        ),
    ];
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), SHARD_FORMAT.to_string());
    meta.insert(
        "categories".to_string(),
        Category::ALL
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(","),
    );
    meta.insert("size".to_string(), s.to_string());
    meta.insert("n_frames".to_string(), f.to_string());
    let bytes = safetensors::tensor::serialize(views, Some(meta))
        .with_context(|| format!("serialising {}", path_st.display()))?;
    write_atomic(path_st, &bytes)?;
    write_atomic(path_jsonl, lines.as_bytes())
}
