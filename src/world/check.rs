//! World-aware checker: reads a rendered (or edited) picture and decides whether an edit happened,
//! using the case's ground-truth scenes only to know where to look and what to look for.
//! Also PSNR and mask IoU.
use super::render::{block, centre, pixel_range, silhouette, Image, EXTRACT_BG, OUTLINE_RGB};
use super::scene::{pad, Background, Colour, Object, Scene, Shape, Style, Texture, FLOOR_Y};
use serde::{Deserialize, Serialize};

/// Euclidean RGB distance under which a pixel can count as a colour (and it must also be the
/// nearest of the world's colours). Object colours are >= 100 apart; the noisy style adds <= 28.
pub const COLOUR_TOL: f32 = 90.0;

/// One verifiable statement about the edited picture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// An object of `obj.colour` (and, if `shape`, of `obj.shape`) is present inside `region`
    /// covering at least half of `obj`'s area; `centroid_tol` (world units) bounds how far its
    /// centre may be from `obj`'s; `bottom` requires its lowest row to sit on `obj.bottom`.
    Present {
        obj: Object,
        region: [f32; 4],
        shape: bool,
        centroid_tol: Option<f32>,
        bottom: bool,
    },
    /// `colour` is (mostly) gone from the pixels of `obj`'s silhouette, except those covered by
    /// `keep` (objects expected there).
    Absent {
        obj: Object,
        colour: Colour,
        keep: Vec<Object>,
    },
    /// `obj` shows `texture`.
    Texture { obj: Object, texture: Texture },
    /// The picture is rendered in `style`.
    Style { style: Style },
    /// The background (away from objects) is `background`.
    Background { background: Background },
    /// Everything away from `obj` is plain white.
    PlainWhite { obj: Object },
}

fn dist(a: [u8; 3], b: [u8; 3]) -> f32 {
    let mut s = 0.0;
    for k in 0..3 {
        let d = a[k] as f32 - b[k] as f32;
        s += d * d;
    }
    s.sqrt()
}

fn maxdiff(a: [u8; 3], b: [u8; 3]) -> u8 {
    (0..3).map(|k| a[k].abs_diff(b[k])).max().unwrap_or(0)
}

/// Every colour the renderer can draw (object colours, their shades, backgrounds, floors, ramp,
/// string, outline, the extract white).
fn references() -> &'static [[u8; 3]] {
    use super::render::{RAMP_RGB, STRING_RGB};
    use super::scene::{BgColour, Floor};
    static REFS: std::sync::OnceLock<Vec<[u8; 3]>> = std::sync::OnceLock::new();
    REFS.get_or_init(|| {
        let mut v: Vec<[u8; 3]> = Vec::new();
        for c in Colour::ALL {
            v.push(c.rgb());
            v.push(c.shade());
        }
        v.extend(BgColour::ALL.iter().map(|b| b.rgb()));
        v.extend(Floor::ALL.iter().map(|f| f.rgb()));
        v.extend([RAMP_RGB, STRING_RGB, OUTLINE_RGB, EXTRACT_BG]);
        v
    })
}

/// Whether `p` reads as `want`: within `COLOUR_TOL` of it and nearer to it than to any other
/// colour the world draws except those in `same` (nearest-colour classification, so that blurred
/// or noisy pixels still go to the colour they are closest to).
fn nearest_is(p: [u8; 3], want: &[[u8; 3]]) -> bool {
    let d2 = |a: [u8; 3], b: [u8; 3]| -> i32 {
        (0..3).map(|k| (a[k] as i32 - b[k] as i32).pow(2)).sum()
    };
    let d = want.iter().map(|&w| d2(p, w)).min().unwrap_or(i32::MAX);
    if d as f32 > COLOUR_TOL * COLOUR_TOL {
        return false;
    }
    references()
        .iter()
        .all(|r| want.contains(r) || d2(p, *r) >= d)
}

/// Pixel reads as object colour `c` (its base or its texture shade).
pub fn is_colour(p: [u8; 3], c: Colour) -> bool {
    nearest_is(p, &[c.rgb(), c.shade()])
}

/// Pixel reads as the base colour of `c`.
pub fn is_base(p: [u8; 3], c: Colour) -> bool {
    nearest_is(p, &[c.rgb()])
}

/// Pixel reads as the texture shade of `c`.
pub fn is_shade(p: [u8; 3], c: Colour) -> bool {
    nearest_is(p, &[c.shade()])
}

fn rect(b: [f32; 4], size: usize) -> (usize, usize, usize, usize) {
    let (x0, x1) = pixel_range(b[0], b[2], size);
    let (y0, y1) = pixel_range(b[1], b[3].min(FLOOR_Y), size);
    (x0, x1, y0, y1)
}

/// Classify a binary blob (bitmap `w*h`) as one of the world's shapes.
pub fn classify(mask: &[bool], w: usize, h: usize) -> Option<Shape> {
    if w < 3 || h < 3 {
        return None;
    }
    let count = mask.iter().filter(|&&m| m).count();
    let fill = count as f32 / (w * h) as f32;
    let row_span = |y: usize| -> (usize, usize) {
        let xs: Vec<usize> = (0..w).filter(|&x| mask[y * w + x]).collect();
        match (xs.first(), xs.last()) {
            (Some(&a), Some(&b)) => (b + 1 - a, xs.len()),
            _ => (0, 0),
        }
    };
    let cx = w / 2;
    let cy = h / 2;
    // Centre hole: the central pixels (1 or 2 per axis) all empty.
    let xs: Vec<usize> = if w % 2 == 0 {
        vec![cx - 1, cx]
    } else {
        vec![cx]
    };
    let ys: Vec<usize> = if h % 2 == 0 {
        vec![cy - 1, cy]
    } else {
        vec![cy]
    };
    let hole = xs.iter().all(|&x| ys.iter().all(|&y| !mask[y * w + x]));
    let q = (h / 4).max(1);
    let top: f32 = (0..q).map(|y| row_span(y).0 as f32).sum::<f32>() / q as f32;
    let bot: f32 = (h - q..h).map(|y| row_span(y).0 as f32).sum::<f32>() / q as f32;
    if hole {
        // A ring closes over its hole; a cup is open above it.
        let closed = xs.iter().any(|&x| (0..ys[0]).any(|y| mask[y * w + x]));
        return Some(if closed { Shape::Ring } else { Shape::Cup });
    }
    if fill >= 0.9 {
        return Some(Shape::Box);
    }
    if top < 0.55 * bot {
        return Some(Shape::Triangle);
    }
    Some(Shape::Ball)
}

/// Outcome of one check.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckResult {
    pub pass: bool,
    pub detail: String,
}

/// The style detector: which style the picture looks rendered in. `geometry` gives the objects'
/// silhouettes (the outline test looks just outside them).
pub fn detect_style(img: &Image, geometry: &Scene) -> Style {
    let n = img.size;
    // Noisy: many small non-zero horizontal differences, not just rounding (+-16 per channel gives
    // a median largest-channel difference of about 17, about 3.5 after a light blur).
    let mut small = Vec::new();
    let mut pairs = 0usize;
    for y in 0..n {
        for x in 0..n - 1 {
            let d = maxdiff(img.px(x, y), img.px(x + 1, y));
            pairs += 1;
            if (1..=48).contains(&d) {
                small.push(d);
            }
        }
    }
    if small.len() as f32 > 0.3 * pairs as f32 {
        small.sort_unstable();
        if small[small.len() / 2] >= 3 {
            return Style::Noisy;
        }
    }
    // Pixelated: blocks on the k-grid uniform, blocks shifted off the grid not.
    let k = block(n);
    let nonuniform = |ox: usize, oy: usize| -> (usize, usize) {
        let mut bad = 0;
        let mut total = 0;
        let mut by = oy;
        while by + k <= n {
            let mut bx = ox;
            while bx + k <= n {
                let c = img.px(bx, by);
                let mut uni = true;
                for y in by..by + k {
                    for x in bx..bx + k {
                        if maxdiff(img.px(x, y), c) > 6 {
                            uni = false;
                        }
                    }
                }
                bad += (!uni) as usize;
                total += 1;
                bx += k;
            }
            by += k;
        }
        (bad, total)
    };
    let (bad0, tot0) = nonuniform(0, 0);
    let (bad1, tot1) = nonuniform(k / 2, k / 2);
    if (bad0 as f32) <= 0.01 * tot0 as f32 && (bad1 as f32) >= 0.05 * tot1 as f32 {
        return Style::Pixelated;
    }
    // Outlined: the ring of pixels just outside the objects is dark.
    let mut owner = vec![false; n * n];
    for o in &geometry.objects {
        for (i, m) in silhouette(o, n).into_iter().enumerate() {
            owner[i] |= m;
        }
    }
    // A ring pixel is outline if it has the outline colour or, when blurred, is much darker than
    // the pixel just outside it (a flat rendering has no such dark band).
    let lum = |p: [u8; 3]| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
    let inside = |a: i32, b: i32| a >= 0 && b >= 0 && (a as usize) < n && (b as usize) < n;
    let mut ring = 0usize;
    let mut dark = 0usize;
    for y in 0..n {
        for x in 0..n {
            if owner[y * n + x] {
                continue;
            }
            let mut is_ring = false;
            let mut darker = false;
            for (dx, dy) in [(-1i32, 0i32), (1, 0), (0, -1), (0, 1)] {
                let (ix, iy) = (x as i32 + dx, y as i32 + dy);
                if !inside(ix, iy) || !owner[iy as usize * n + ix as usize] {
                    continue;
                }
                is_ring = true;
                let (ox, oy) = (x as i32 - dx, y as i32 - dy);
                if inside(ox, oy) && !owner[oy as usize * n + ox as usize] {
                    darker |= lum(img.px(x, y)) + 40.0 < lum(img.px(ox as usize, oy as usize));
                }
            }
            if is_ring {
                ring += 1;
                dark += (dist(img.px(x, y), OUTLINE_RGB) <= 60.0 || darker) as usize;
            }
        }
    }
    if ring > 0 && dark as f32 >= 0.6 * ring as f32 {
        return Style::Outlined;
    }
    Style::Flat
}

/// Background pixels: above the floor, away (2 px) from every object, string and the ramp of
/// both scenes.
fn background_pixels(scenes: &[&Scene], n: usize) -> Vec<(usize, usize)> {
    let mut busy = vec![false; n * n];
    let d = 2.0 / n as f32;
    let mut mark = |b: [f32; 4]| {
        let (x0, x1) = pixel_range(b[0] - d, b[2] + d, n);
        let (y0, y1) = pixel_range(b[1] - d, b[3] + d, n);
        for y in y0..y1 {
            for x in x0..x1 {
                busy[y * n + x] = true;
            }
        }
    };
    for s in scenes {
        for o in &s.objects {
            mark(o.bbox());
            if o.hanging {
                mark([o.x - d, 0.0, o.x + d, o.top()]);
            }
        }
        if let Some(r) = &s.ramp {
            let (a, b) = r.span();
            mark([a, r.top_y(), b, FLOOR_Y]);
        }
    }
    let (_, floor_row) = pixel_range(0.0, FLOOR_Y, n);
    let mut v = Vec::new();
    for y in 0..floor_row.saturating_sub(1) {
        for x in 0..n {
            if !busy[y * n + x] {
                v.push((x, y));
            }
        }
    }
    v
}

impl Check {
    /// `o` as drawn: its colour over half its area near its box, its centre within `centroid`
    /// (world units) of `o`'s, standing where `o` stands.
    pub fn exact(o: &Object, centroid: f32) -> Check {
        Check::Present {
            obj: *o,
            region: pad(o.bbox(), 0.03),
            shape: false,
            centroid_tol: Some(centroid),
            bottom: true,
        }
    }

    /// Evaluate on `img`; `source` and `target` are the case's ground-truth scenes.
    pub fn eval(
        &self,
        img: &Image,
        source: &Scene,
        target: &Scene,
        target_img: &Image,
    ) -> CheckResult {
        let n = img.size;
        let res = |pass: bool, detail: String| CheckResult { pass, detail };
        match self {
            Check::Present {
                obj,
                region,
                shape,
                centroid_tol,
                bottom,
            } => {
                let sil = silhouette(obj, n);
                let area = sil.iter().filter(|&&m| m).count().max(1);
                // Pixels of the other objects expected in the picture do not count.
                let (x0, x1, y0, y1) = rect(*region, n);
                let near: Vec<&Object> = target
                    .objects
                    .iter()
                    .filter(|o| {
                        let b = o.bbox();
                        o.id != obj.id
                            && b[0] <= region[2]
                            && b[2] >= region[0]
                            && b[1] <= region[3]
                            && b[3] >= region[1]
                    })
                    .collect();
                let mut others = vec![false; n * n];
                for y in y0..y1 {
                    for x in x0..x1 {
                        let (px, py) = (centre(x, n), centre(y, n));
                        others[y * n + x] = near.iter().any(|o| o.contains(px, py));
                    }
                }
                let (mut cnt, mut sx, mut sy, mut maxy) = (0usize, 0f32, 0f32, 0usize);
                let mut base = 0usize;
                let (mut bx0, mut bx1, mut by0, mut by1) = (usize::MAX, 0, usize::MAX, 0);
                for y in y0..y1 {
                    for x in x0..x1 {
                        let p = img.px(x, y);
                        if !others[y * n + x] && is_colour(p, obj.colour) {
                            cnt += 1;
                            base += is_base(p, obj.colour) as usize;
                            sx += x as f32;
                            sy += y as f32;
                            maxy = maxy.max(y);
                            bx0 = bx0.min(x);
                            bx1 = bx1.max(x);
                            by0 = by0.min(y);
                            by1 = by1.max(y);
                        }
                    }
                }
                // The pixelated style mixes every block on an object's edge with its surroundings.
                let need = if target.style == Style::Pixelated {
                    0.3
                } else {
                    0.5
                };
                // Textures are at most half shade, and shades of different colours can be close:
                // the base colour itself must cover a fifth of what is required.
                if (cnt as f32) < need * area as f32 || (base as f32) < 0.2 * need * area as f32 {
                    return res(
                        false,
                        format!(
                            "{} {}: {cnt} matching px ({base} base colour) for area {area}",
                            obj.colour.name(),
                            obj.shape.name()
                        ),
                    );
                }
                if let Some(tol) = centroid_tol {
                    let (mut ex, mut ey, mut en) = (0f32, 0f32, 0f32);
                    for (i, &m) in sil.iter().enumerate() {
                        if m {
                            ex += (i % n) as f32;
                            ey += (i / n) as f32;
                            en += 1.0;
                        }
                    }
                    let d = ((sx / cnt as f32 - ex / en).powi(2)
                        + (sy / cnt as f32 - ey / en).powi(2))
                    .sqrt();
                    if d > tol * n as f32 + 1.0 {
                        return res(
                            false,
                            format!(
                                "{} {}: centre {d:.1} px off",
                                obj.colour.name(),
                                obj.shape.name()
                            ),
                        );
                    }
                }
                if *bottom {
                    let exp = (0..n * n)
                        .filter(|&i| sil[i])
                        .map(|i| i / n)
                        .max()
                        .unwrap_or(0);
                    let tol = if target.style == Style::Pixelated {
                        block(n)
                    } else {
                        1
                    };
                    if maxy.abs_diff(exp) > tol {
                        return res(
                            false,
                            format!(
                                "{} {}: bottom row {maxy}, expected {exp}",
                                obj.colour.name(),
                                obj.shape.name()
                            ),
                        );
                    }
                }
                if *shape {
                    let (w, h) = (bx1 + 1 - bx0, by1 + 1 - by0);
                    let mut m = vec![false; w * h];
                    for y in by0..=by1 {
                        for x in bx0..=bx1 {
                            m[(y - by0) * w + x - bx0] =
                                !others[y * n + x] && is_colour(img.px(x, y), obj.colour);
                        }
                    }
                    let got = classify(&m, w, h);
                    if got != Some(obj.shape) {
                        return res(
                            false,
                            format!(
                                "{} {}: looks like {:?}",
                                obj.colour.name(),
                                obj.shape.name(),
                                got
                            ),
                        );
                    }
                }
                res(
                    true,
                    format!("{} {} present", obj.colour.name(), obj.shape.name()),
                )
            }
            Check::Absent { obj, colour, keep } => {
                let sil = silhouette(obj, n);
                let mut keep_m = vec![false; n * n];
                for k in keep {
                    for (i, m) in silhouette(k, n).into_iter().enumerate() {
                        keep_m[i] |= m;
                    }
                }
                // In the pixelated style ignore a 1 px border, mixed with its neighbours.
                let erode = target.style == Style::Pixelated;
                let (mut tot, mut hit) = (0usize, 0usize);
                for y in 1..n - 1 {
                    for x in 1..n - 1 {
                        let i = y * n + x;
                        let inner = sil[i - 1] && sil[i + 1] && sil[i - n] && sil[i + n];
                        if sil[i] && !keep_m[i] && (inner || !erode) {
                            tot += 1;
                            // Base colour only: shades of different colours can be close.
                            hit += is_base(img.px(x, y), *colour) as usize;
                        }
                    }
                }
                if tot < 3 {
                    return res(true, "nothing left to look at".into());
                }
                let pass = (hit as f32) <= 0.25 * tot as f32;
                res(
                    pass,
                    format!(
                        "{}: {hit}/{tot} px still {}",
                        obj.shape.name(),
                        colour.name()
                    ),
                )
            }
            Check::Texture { obj, texture } => {
                let sil = silhouette(obj, n);
                let (mut base, mut shade, mut tot) = (0usize, 0usize, 0usize);
                let mut cols: std::collections::BTreeMap<usize, (usize, usize)> =
                    Default::default();
                let erode = target.style == Style::Pixelated;
                for y in 1..n - 1 {
                    for x in 1..n - 1 {
                        let i = y * n + x;
                        let inner = sil[i - 1] && sil[i + 1] && sil[i - n] && sil[i + n];
                        if !sil[i] || (erode && !inner) {
                            continue;
                        }
                        tot += 1;
                        let p = img.px(x, y);
                        let e = cols.entry(x).or_default();
                        if is_base(p, obj.colour) {
                            base += 1;
                            e.0 += 1;
                        } else if is_shade(p, obj.colour) {
                            shade += 1;
                            e.1 += 1;
                        }
                    }
                }
                if tot < 4 || ((base + shade) as f32) < 0.6 * tot as f32 {
                    return res(
                        false,
                        format!(
                            "{}: colour not found ({}/{tot}) {:?} {:?}",
                            obj.shape.name(),
                            base + shade,
                            obj,
                            texture
                        ),
                    );
                }
                let f = shade as f32 / (base + shade) as f32;
                let purity: f32 = cols.values().map(|&(a, b)| a.max(b) as f32).sum::<f32>()
                    / cols
                        .values()
                        .map(|&(a, b)| (a + b) as f32)
                        .sum::<f32>()
                        .max(1.0);
                let got = if f < 0.1 {
                    Texture::Solid
                } else if purity >= 0.9 {
                    Texture::Stripes
                } else {
                    Texture::Dots
                };
                res(
                    got == *texture,
                    format!(
                        "{}: shade {f:.2}, column purity {purity:.2} -> {got:?}",
                        obj.shape.name()
                    ),
                )
            }
            Check::Style { style } => {
                let got = detect_style(img, target);
                res(got == *style, format!("style {got:?}"))
            }
            Check::Background { background } => {
                let px = background_pixels(&[source, target], n);
                if px.len() < 10 {
                    return res(true, "no background visible".into());
                }
                let tol = 40u8;
                let ok = match background {
                    Background::Plain { .. } | Background::Gradient { .. } => {
                        let close = px
                            .iter()
                            .filter(|&&(x, y)| maxdiff(img.px(x, y), target_img.px(x, y)) <= tol)
                            .count();
                        close as f32 >= 0.8 * px.len() as f32
                    }
                    Background::Stripes { a, b } | Background::Checker { a, b } => {
                        let ca = px
                            .iter()
                            .filter(|&&(x, y)| maxdiff(img.px(x, y), a.rgb()) <= tol)
                            .count();
                        let cb = px
                            .iter()
                            .filter(|&&(x, y)| maxdiff(img.px(x, y), b.rgb()) <= tol)
                            .count();
                        let l = px.len() as f32;
                        (ca + cb) as f32 >= 0.8 * l
                            && ca as f32 >= 0.15 * l
                            && cb as f32 >= 0.15 * l
                    }
                };
                res(ok, format!("background over {} px", px.len()))
            }
            Check::PlainWhite { obj } => {
                let d = 2.0 / n as f32;
                let b = obj.bbox();
                let (x0, x1) = pixel_range(b[0] - d, b[2] + d, n);
                let (y0, y1) = pixel_range(b[1] - d, b[3] + d, n);
                let (mut tot, mut white) = (0usize, 0usize);
                for y in 0..n {
                    for x in 0..n {
                        if x >= x0 && x < x1 && y >= y0 && y < y1 {
                            continue;
                        }
                        tot += 1;
                        white += (maxdiff(img.px(x, y), EXTRACT_BG) <= 40) as usize;
                    }
                }
                let pass = white as f32 >= 0.9 * tot as f32;
                res(pass, format!("{white}/{tot} px white"))
            }
        }
    }
}

/// PSNR (dB) between two images over the pixels where `mask` is `want` (all if mask is None).
/// Identical pixels give `PSNR_CAP`; None if no pixel is selected.
pub fn psnr(a: &Image, b: &Image, mask: Option<&[u8]>, want: bool) -> Option<f64> {
    let mut se = 0f64;
    let mut cnt = 0usize;
    for i in 0..a.size * a.size {
        if let Some(m) = mask {
            if (m[i] != 0) != want {
                continue;
            }
        }
        for k in 0..3 {
            let d = a.data[i * 3 + k] as f64 - b.data[i * 3 + k] as f64;
            se += d * d;
        }
        cnt += 3;
    }
    if cnt == 0 {
        return None;
    }
    let mse = se / cnt as f64;
    Some(if mse == 0.0 {
        PSNR_CAP
    } else {
        (10.0 * (255.0f64 * 255.0 / mse).log10()).min(PSNR_CAP)
    })
}

/// PSNR reported for identical pixels.
pub const PSNR_CAP: f64 = 100.0;

/// Intersection over union of two binary masks; None if both are empty.
pub fn iou(a: &[u8], b: &[u8]) -> Option<f64> {
    let (mut i, mut u) = (0usize, 0usize);
    for (&p, &q) in a.iter().zip(b) {
        let (p, q) = (p != 0, q != 0);
        i += (p && q) as usize;
        u += (p || q) as usize;
    }
    if u == 0 {
        None
    } else {
        Some(i as f64 / u as f64)
    }
}
