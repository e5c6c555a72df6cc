//! Rasteriser: a `Scene` to an RGB image (row-major, 3 bytes a pixel), no anti-aliasing so that
//! colours stay exact and edit masks are crisp. Pixels are sampled at their centres.
use super::rng::mix64;
use super::scene::{Background, Object, Scene, Style, Texture, FLOOR_Y};

pub const OUTLINE_RGB: [u8; 3] = [20, 20, 20];
pub const RAMP_RGB: [u8; 3] = [120, 132, 152];
pub const STRING_RGB: [u8; 3] = [175, 150, 110];
pub const EXTRACT_BG: [u8; 3] = [252, 252, 252];
/// Amplitude of the `noisy` style's per-channel noise.
pub const NOISE_AMP: i32 = 16;

/// An RGB8 image.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub size: usize,
    pub data: Vec<u8>,
}

impl Image {
    pub fn new(size: usize) -> Image {
        Image {
            size,
            data: vec![0; size * size * 3],
        }
    }
    #[inline]
    pub fn px(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.size + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        let i = (y * self.size + x) * 3;
        self.data[i..i + 3].copy_from_slice(&c);
    }
}

/// Block size of the `pixelated` style (and the texture period unit) at a given resolution.
pub fn block(size: usize) -> usize {
    (size / 32).max(2)
}

/// Pixel centre in world coordinates.
#[inline]
pub fn centre(i: usize, size: usize) -> f32 {
    (i as f32 + 0.5) / size as f32
}

/// Pixel rows/columns `[lo, hi)` whose centres fall inside `[a, b]`.
pub fn pixel_range(a: f32, b: f32, size: usize) -> (usize, usize) {
    let lo = ((a * size as f32 - 0.5).ceil().max(0.0)) as usize;
    let hi = (((b * size as f32 - 0.5).floor() + 1.0).max(0.0) as usize).min(size);
    (lo.min(size), hi.max(lo.min(size)))
}

fn lerp(a: [u8; 3], b: [u8; 3], t: f32) -> [u8; 3] {
    let mut c = [0u8; 3];
    for k in 0..3 {
        c[k] = (a[k] as f32 + (b[k] as f32 - a[k] as f32) * t)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
    c
}

fn background_px(bg: &Background, x: usize, y: usize, size: usize) -> [u8; 3] {
    match *bg {
        Background::Plain { colour } => colour.rgb(),
        Background::Gradient { top, bottom } => lerp(
            top.rgb(),
            bottom.rgb(),
            (centre(y, size) / FLOOR_Y).min(1.0),
        ),
        Background::Stripes { a, b } => {
            // Diagonal stripes, period 0.16.
            let u = (centre(x, size) + centre(y, size)) / 0.16;
            if u.fract() < 0.5 {
                a.rgb()
            } else {
                b.rgb()
            }
        }
        Background::Checker { a, b } => {
            let cx = (centre(x, size) / 0.13) as i32;
            let cy = (centre(y, size) / 0.13) as i32;
            if (cx + cy) % 2 == 0 {
                a.rgb()
            } else {
                b.rgb()
            }
        }
    }
}

/// Colour of pixel (x, y) of object `o` (which covers it).
#[inline]
fn object_px(o: &Object, x: usize, y: usize, size: usize) -> [u8; 3] {
    let k = block(size);
    let shade = match o.texture {
        Texture::Solid => false,
        Texture::Stripes => (x / k) % 2 == 1,
        Texture::Dots => (x / k) % 2 == 1 && (y / k) % 2 == 1,
    };
    if shade {
        o.colour.shade()
    } else {
        o.colour.rgb()
    }
}

/// Pixels covered by an object's silhouette, as a bitmap of `size*size`.
pub fn silhouette(o: &Object, size: usize) -> Vec<bool> {
    let mut m = vec![false; size * size];
    let [x0, y0, x1, y1] = o.bbox();
    let (cx0, cx1) = pixel_range(x0, x1, size);
    let (ry0, ry1) = pixel_range(y0, y1, size);
    for y in ry0..ry1 {
        let py = centre(y, size);
        for x in cx0..cx1 {
            if o.contains(centre(x, size), py) {
                m[y * size + x] = true;
            }
        }
    }
    m
}

/// Render a scene at `size x size`.
pub fn render(scene: &Scene, size: usize) -> Image {
    let mut img = Image::new(size);
    // Object index + 1 covering each pixel (0: none).
    let mut owner = vec![0u16; size * size];
    let (_, floor_row) = pixel_range(0.0, FLOOR_Y, size);
    if scene.isolate.is_some() {
        img.data
            .chunks_mut(3)
            .for_each(|c| c.copy_from_slice(&EXTRACT_BG));
    } else {
        for y in 0..size {
            for x in 0..size {
                let c = if y >= floor_row {
                    scene.floor.rgb()
                } else {
                    background_px(&scene.background, x, y, size)
                };
                img.set(x, y, c);
            }
        }
        if let Some(r) = &scene.ramp {
            let (rx0, rx1) = r.span();
            let (cx0, cx1) = pixel_range(rx0, rx1, size);
            for x in cx0..cx1 {
                if let Some(s) = r.surface(centre(x, size)) {
                    let (ry0, ry1) = pixel_range(s, FLOOR_Y, size);
                    for y in ry0..ry1 {
                        img.set(x, y, RAMP_RGB);
                    }
                }
            }
        }
        for o in scene.objects.iter().filter(|o| o.hanging) {
            let x = ((o.x * size as f32) as usize).min(size - 1);
            let (_, y1) = pixel_range(0.0, o.top(), size);
            for y in 0..y1 {
                img.set(x, y, STRING_RGB);
            }
        }
    }
    for (i, o) in scene.objects.iter().enumerate() {
        if let Some(id) = scene.isolate {
            if o.id != id {
                continue;
            }
        }
        let [x0, y0, x1, y1] = o.bbox();
        let (cx0, cx1) = pixel_range(x0, x1, size);
        let (ry0, ry1) = pixel_range(y0, y1, size);
        for y in ry0..ry1 {
            let py = centre(y, size);
            for x in cx0..cx1 {
                if o.contains(centre(x, size), py) {
                    img.set(x, y, object_px(o, x, y, size));
                    owner[y * size + x] = i as u16 + 1;
                }
            }
        }
    }
    match scene.style {
        Style::Flat => {}
        Style::Outlined => {
            // Outline: pixels outside every object, 4-adjacent to one.
            for y in 0..size {
                for x in 0..size {
                    if owner[y * size + x] != 0 {
                        continue;
                    }
                    let near = (x > 0 && owner[y * size + x - 1] != 0)
                        || (x + 1 < size && owner[y * size + x + 1] != 0)
                        || (y > 0 && owner[(y - 1) * size + x] != 0)
                        || (y + 1 < size && owner[(y + 1) * size + x] != 0);
                    if near {
                        img.set(x, y, OUTLINE_RGB);
                    }
                }
            }
        }
        Style::Pixelated => {
            let k = block(size);
            for by in (0..size).step_by(k) {
                for bx in (0..size).step_by(k) {
                    let mut sum = [0u32; 3];
                    let mut n = 0u32;
                    for y in by..(by + k).min(size) {
                        for x in bx..(bx + k).min(size) {
                            let c = img.px(x, y);
                            for j in 0..3 {
                                sum[j] += c[j] as u32;
                            }
                            n += 1;
                        }
                    }
                    let c = [
                        ((sum[0] + n / 2) / n) as u8,
                        ((sum[1] + n / 2) / n) as u8,
                        ((sum[2] + n / 2) / n) as u8,
                    ];
                    for y in by..(by + k).min(size) {
                        for x in bx..(bx + k).min(size) {
                            img.set(x, y, c);
                        }
                    }
                }
            }
        }
        Style::Noisy => {
            for y in 0..size {
                for x in 0..size {
                    let h = mix64(scene.noise_seed ^ ((y as u64) << 20 | x as u64));
                    let mut c = img.px(x, y);
                    for (j, cj) in c.iter_mut().enumerate() {
                        let n = ((h >> (j * 16)) & 0xFFFF) as i32 % (2 * NOISE_AMP + 1) - NOISE_AMP;
                        *cj = (*cj as i32 + n).clamp(0, 255) as u8;
                    }
                    img.set(x, y, c);
                }
            }
        }
    }
    img
}

/// Pixels that differ between two images (1) or not (0).
pub fn diff_mask(a: &Image, b: &Image) -> Vec<u8> {
    a.data
        .chunks(3)
        .zip(b.data.chunks(3))
        .map(|(p, q)| (p != q) as u8)
        .collect()
}
