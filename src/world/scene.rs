//! Scene description: objects, background, floor, ramp, rendering style, and the world's physics.
//!
//! World coordinates: the image spans `[0, 1] x [0, 1]`, `x` to the right, `y` downwards. The floor's
//! top surface is at `y = FLOOR_Y`. Every object is described by its horizontal centre `x`, the `y`
//! of its bottom and its axis-aligned box (from shape and size class), which is also its collision box.
use super::rng::Rng;
use serde::{Deserialize, Serialize};

/// Height (from the top) of the floor's top surface.
pub const FLOOR_Y: f32 = 0.84;
/// Tolerance for geometric contacts (touching, resting on).
pub const EPS: f32 = 1e-4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Ball,
    Box,
    Triangle,
    Ring,
    Cup,
}

impl Shape {
    pub const ALL: [Shape; 5] = [
        Shape::Ball,
        Shape::Box,
        Shape::Triangle,
        Shape::Ring,
        Shape::Cup,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Shape::Ball => "ball",
            Shape::Box => "box",
            Shape::Triangle => "triangle",
            Shape::Ring => "ring",
            Shape::Cup => "cup",
        }
    }
    /// Whether something can rest on top of it.
    pub fn flat_top(self) -> bool {
        matches!(self, Shape::Box)
    }
    /// (width, height) for a size `s`.
    pub fn dims(self, s: f32) -> (f32, f32) {
        match self {
            Shape::Ball | Shape::Ring => (s, s),
            Shape::Box => (s * 1.05, s * 0.85),
            Shape::Triangle => (s * 1.1, s * 0.9),
            Shape::Cup => (s * 0.85, s * 0.9),
        }
    }
}

/// Object colours. Pairwise RGB distances are >= 100 so that the checker can tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Red,
    Orange,
    Yellow,
    Green,
    Cyan,
    Blue,
    Purple,
    Pink,
}

impl Colour {
    pub const ALL: [Colour; 8] = [
        Colour::Red,
        Colour::Orange,
        Colour::Yellow,
        Colour::Green,
        Colour::Cyan,
        Colour::Blue,
        Colour::Purple,
        Colour::Pink,
    ];
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [220, 30, 30],
            Colour::Orange => [250, 130, 0],
            Colour::Yellow => [235, 230, 30],
            Colour::Green => [30, 165, 50],
            Colour::Cyan => [0, 200, 215],
            Colour::Blue => [30, 70, 225],
            Colour::Purple => [140, 40, 180],
            Colour::Pink => [250, 120, 200],
        }
    }
    /// The darker shade used by textures.
    pub fn shade(self) -> [u8; 3] {
        let c = self.rgb();
        [c[0] / 2, c[1] / 2, c[2] / 2]
    }
    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Orange => "orange",
            Colour::Yellow => "yellow",
            Colour::Green => "green",
            Colour::Cyan => "cyan",
            Colour::Blue => "blue",
            Colour::Purple => "purple",
            Colour::Pink => "pink",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Texture {
    Solid,
    Stripes,
    Dots,
}

impl Texture {
    pub const ALL: [Texture; 3] = [Texture::Solid, Texture::Stripes, Texture::Dots];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    Medium,
    Large,
}

impl Size {
    pub const ALL: [Size; 3] = [Size::Small, Size::Medium, Size::Large];
    pub fn scale(self) -> f32 {
        match self {
            Size::Small => 0.11,
            Size::Medium => 0.145,
            Size::Large => 0.185,
        }
    }
}

/// Light background colours (far from every object colour and shade).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BgColour {
    Cream,
    LightGrey,
    SkyBlue,
    Mint,
    Lavender,
    Peach,
    Sand,
    White,
}

impl BgColour {
    pub const ALL: [BgColour; 8] = [
        BgColour::Cream,
        BgColour::LightGrey,
        BgColour::SkyBlue,
        BgColour::Mint,
        BgColour::Lavender,
        BgColour::Peach,
        BgColour::Sand,
        BgColour::White,
    ];
    pub fn rgb(self) -> [u8; 3] {
        match self {
            BgColour::Cream => [248, 238, 212],
            BgColour::LightGrey => [205, 205, 205],
            BgColour::SkyBlue => [180, 215, 245],
            BgColour::Mint => [195, 240, 210],
            BgColour::Lavender => [222, 208, 242],
            BgColour::Peach => [252, 210, 180],
            BgColour::Sand => [228, 212, 160],
            BgColour::White => [252, 252, 252],
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            BgColour::Cream => "cream",
            BgColour::LightGrey => "light grey",
            BgColour::SkyBlue => "sky blue",
            BgColour::Mint => "mint",
            BgColour::Lavender => "lavender",
            BgColour::Peach => "peach",
            BgColour::Sand => "sand",
            BgColour::White => "white",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Background {
    Plain { colour: BgColour },
    Gradient { top: BgColour, bottom: BgColour },
    Stripes { a: BgColour, b: BgColour },
    Checker { a: BgColour, b: BgColour },
}

impl Background {
    pub fn random(rng: &mut Rng) -> Background {
        let a = *rng.pick(&BgColour::ALL);
        let mut b = *rng.pick(&BgColour::ALL);
        while b == a {
            b = *rng.pick(&BgColour::ALL);
        }
        match rng.below(4) {
            0 => Background::Plain { colour: a },
            1 => Background::Gradient { top: a, bottom: b },
            2 => Background::Stripes { a, b },
            _ => Background::Checker { a, b },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Floor {
    Wood,
    Slate,
    Charcoal,
}

impl Floor {
    pub const ALL: [Floor; 3] = [Floor::Wood, Floor::Slate, Floor::Charcoal];
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Floor::Wood => [150, 112, 78],
            Floor::Slate => [95, 100, 118],
            Floor::Charcoal => [70, 70, 76],
        }
    }
}

/// Rendering style of the whole picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    Flat,
    Outlined,
    Pixelated,
    Noisy,
}

impl Style {
    pub const ALL: [Style; 4] = [Style::Flat, Style::Outlined, Style::Pixelated, Style::Noisy];
}

/// A static wedge with a flat platform at the high end, against the left or right wall.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ramp {
    /// High end against the left wall (true) or the right wall (false).
    pub left: bool,
    /// Height of the platform above the floor.
    pub height: f32,
    /// Length of the flat platform.
    pub platform: f32,
    /// Horizontal length of the slope.
    pub slope: f32,
}

impl Ramp {
    /// Horizontal extent `[x0, x1]`.
    pub fn span(&self) -> (f32, f32) {
        let len = self.platform + self.slope;
        if self.left {
            (0.0, len)
        } else {
            (1.0 - len, 1.0)
        }
    }
    pub fn top_y(&self) -> f32 {
        FLOOR_Y - self.height
    }
    /// `[x0, x1]` of the flat platform.
    pub fn platform_span(&self) -> (f32, f32) {
        if self.left {
            (0.0, self.platform)
        } else {
            (1.0 - self.platform, 1.0)
        }
    }
    /// y of the ramp's surface at `x`, or None outside the ramp.
    pub fn surface(&self, x: f32) -> Option<f32> {
        let (x0, x1) = self.span();
        if x < x0 || x > x1 {
            return None;
        }
        let d = if self.left { x } else { 1.0 - x };
        if d <= self.platform {
            Some(self.top_y())
        } else {
            Some(self.top_y() + self.height * (d - self.platform) / self.slope)
        }
    }
    /// Whether the box `[x0, x1] x [y0, y1]` cuts into the ramp.
    pub fn intersects(&self, b: [f32; 4]) -> bool {
        let (rx0, rx1) = self.span();
        let lo = b[0].max(rx0);
        let hi = b[2].min(rx1);
        if hi - lo <= EPS {
            return false;
        }
        // The highest surface point over [lo, hi] is the end closest to the platform.
        let near = if self.left { lo } else { hi };
        match self.surface(near) {
            Some(s) => b[3] > s + EPS,
            None => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// Stable identity across edits of one case.
    pub id: u32,
    pub shape: Shape,
    pub colour: Colour,
    pub texture: Texture,
    pub size: Size,
    /// Horizontal centre.
    pub x: f32,
    /// y of the bottom edge.
    pub bottom: f32,
    /// Hangs from a string attached to the top of the picture.
    pub hanging: bool,
}

impl Object {
    pub fn dims(&self) -> (f32, f32) {
        self.shape.dims(self.size.scale())
    }
    pub fn w(&self) -> f32 {
        self.dims().0
    }
    pub fn h(&self) -> f32 {
        self.dims().1
    }
    pub fn top(&self) -> f32 {
        self.bottom - self.h()
    }
    /// `[x0, y0, x1, y1]`.
    pub fn bbox(&self) -> [f32; 4] {
        let (w, h) = self.dims();
        [
            self.x - w / 2.0,
            self.bottom - h,
            self.x + w / 2.0,
            self.bottom,
        ]
    }
    /// Whether the point (world coordinates) lies inside the object's silhouette.
    pub fn contains(&self, px: f32, py: f32) -> bool {
        let [x0, y0, x1, y1] = self.bbox();
        if px < x0 || px > x1 || py < y0 || py > y1 {
            return false;
        }
        let (w, h) = self.dims();
        let cx = self.x;
        let cy = self.bottom - h / 2.0;
        match self.shape {
            Shape::Box => true,
            Shape::Ball => {
                let r = w / 2.0;
                (px - cx).powi(2) + (py - cy).powi(2) <= r * r
            }
            Shape::Ring => {
                let r = w / 2.0;
                let d2 = (px - cx).powi(2) + (py - cy).powi(2);
                d2 <= r * r && d2 >= (0.5 * r).powi(2)
            }
            Shape::Triangle => {
                let v = (py - y0) / h;
                (px - cx).abs() <= v * w / 2.0
            }
            Shape::Cup => {
                let wall = 0.22 * w;
                let base = 0.28 * h;
                !((px - cx).abs() < w / 2.0 - wall && py < y1 - base)
            }
        }
    }
}

fn boxes_overlap(a: [f32; 4], b: [f32; 4]) -> bool {
    a[0] < b[2] - EPS && b[0] < a[2] - EPS && a[1] < b[3] - EPS && b[1] < a[3] - EPS
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub background: Background,
    pub floor: Floor,
    pub style: Style,
    /// Seed of the per-pixel noise of the `noisy` style (kept across an edit).
    pub noise_seed: u64,
    pub ramp: Option<Ramp>,
    pub objects: Vec<Object>,
    /// When set, only this object is drawn, on plain white, without floor or ramp (`extract`).
    #[serde(default)]
    pub isolate: Option<u32>,
}

/// What holds an object up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Floor,
    On(u32),
    Ramp,
    String,
}

impl Scene {
    pub fn get(&self, id: u32) -> Option<&Object> {
        self.objects.iter().find(|o| o.id == id)
    }
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Object> {
        self.objects.iter_mut().find(|o| o.id == id)
    }
    pub fn next_id(&self) -> u32 {
        self.objects.iter().map(|o| o.id + 1).max().unwrap_or(0)
    }

    /// What holds `o` up, if anything.
    pub fn support(&self, o: &Object) -> Option<Support> {
        if o.hanging {
            return Some(Support::String);
        }
        if (o.bottom - FLOOR_Y).abs() < 1e-3 {
            if let Some(r) = &self.ramp {
                let (rx0, rx1) = r.span();
                if o.x > rx0 && o.x < rx1 {
                    return None;
                }
            }
            return Some(Support::Floor);
        }
        if let Some(r) = &self.ramp {
            let (p0, p1) = r.platform_span();
            if (o.bottom - r.top_y()).abs() < 1e-3 && o.x >= p0 && o.x <= p1 {
                return Some(Support::Ramp);
            }
        }
        for s in &self.objects {
            if s.id != o.id && s.shape.flat_top() && (s.top() - o.bottom).abs() < 1e-3 {
                let [sx0, _, sx1, _] = s.bbox();
                if o.x >= sx0 && o.x <= sx1 {
                    return Some(Support::On(s.id));
                }
            }
        }
        None
    }

    /// Objects resting directly on `id`.
    pub fn on_top_of(&self, id: u32) -> Vec<u32> {
        self.objects
            .iter()
            .filter(|o| o.id != id && self.support(o) == Some(Support::On(id)))
            .map(|o| o.id)
            .collect()
    }

    /// Whether the box overlaps any object other than those in `ignore`, the ramp, a string, or
    /// leaves the picture / goes below the floor.
    pub fn box_free(&self, b: [f32; 4], ignore: &[u32]) -> bool {
        if b[0] < -EPS || b[2] > 1.0 + EPS || b[1] < 0.02 || b[3] > FLOOR_Y + EPS {
            return false;
        }
        if let Some(r) = &self.ramp {
            if r.intersects(b) {
                return false;
            }
        }
        for o in &self.objects {
            if ignore.contains(&o.id) {
                continue;
            }
            if boxes_overlap(b, o.bbox()) {
                return false;
            }
            // The string above a hanging object.
            if o.hanging && o.x > b[0] + EPS && o.x < b[2] - EPS && b[1] < o.top() - EPS {
                return false;
            }
        }
        true
    }

    /// Nearest obstacle edge met by a box spanning rows `[y0, y1]` moving from `[x0, x1]` in `dir`
    /// (-1 left, +1 right): the x the box's leading edge stops at.
    pub fn obstacle(&self, x0: f32, x1: f32, y0: f32, y1: f32, dir: f32, ignore: &[u32]) -> f32 {
        let mut stop = if dir < 0.0 { 0.0 } else { 1.0 };
        let mut consider = |bx0: f32, bx1: f32| {
            if dir < 0.0 && bx1 <= x0 + EPS {
                stop = f32::max(stop, bx1);
            } else if dir > 0.0 && bx0 >= x1 - EPS {
                stop = f32::min(stop, bx0);
            }
        };
        for o in &self.objects {
            if ignore.contains(&o.id) {
                continue;
            }
            let b = o.bbox();
            let rows_overlap = b[1] < y1 - EPS && y0 < b[3] - EPS;
            if rows_overlap {
                consider(b[0], b[2]);
            }
        }
        if let Some(r) = &self.ramp {
            let (rx0, rx1) = r.span();
            consider(rx0, rx1);
        }
        stop
    }

    /// Physics invariants: inside the picture, nothing overlaps, nothing floats.
    pub fn check_physics(&self) -> Result<(), String> {
        if self.isolate.is_some() {
            return Ok(());
        }
        for (i, o) in self.objects.iter().enumerate() {
            let b = o.bbox();
            if b[0] < -EPS || b[2] > 1.0 + EPS || b[1] < 0.0 || b[3] > FLOOR_Y + EPS {
                return Err(format!("object {} leaves the picture: {:?}", o.id, b));
            }
            for p in &self.objects[i + 1..] {
                if boxes_overlap(b, p.bbox()) {
                    return Err(format!("objects {} and {} overlap", o.id, p.id));
                }
            }
            if let Some(r) = &self.ramp {
                if r.intersects(b) {
                    return Err(format!("object {} cuts into the ramp", o.id));
                }
            }
            if self.support(o).is_none() {
                return Err(format!("object {} floats (bottom {:.4})", o.id, o.bottom));
            }
            if o.hanging {
                for p in &self.objects {
                    if p.id != o.id && p.bottom <= o.top() + EPS {
                        let pb = p.bbox();
                        if o.x > pb[0] && o.x < pb[2] {
                            return Err(format!("string of {} passes through {}", o.id, p.id));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A random scene that obeys the world.
    pub fn random(rng: &mut Rng) -> Scene {
        let style = match rng.below(10) {
            0..=3 => Style::Flat,
            4 | 5 => Style::Outlined,
            6 | 7 => Style::Pixelated,
            _ => Style::Noisy,
        };
        let mut scene = Scene {
            background: Background::random(rng),
            floor: *rng.pick(&Floor::ALL),
            style,
            noise_seed: rng.next_u64(),
            ramp: None,
            objects: Vec::new(),
            isolate: None,
        };
        if rng.chance(0.3) {
            let ramp = Ramp {
                left: rng.chance(0.5),
                height: rng.range(0.18, 0.28),
                platform: rng.range(0.17, 0.22),
                slope: rng.range(0.2, 0.28),
            };
            scene.ramp = Some(ramp);
            let ball = Object {
                id: 0,
                shape: Shape::Ball,
                colour: *rng.pick(&Colour::ALL),
                texture: random_texture(rng),
                size: *rng.pick(&[Size::Small, Size::Medium]),
                x: 0.0,
                bottom: ramp.top_y(),
                hanging: false,
            };
            // Ball at the slope end of the platform.
            let (p0, p1) = ramp.platform_span();
            let r = ball.w() / 2.0;
            let x = if ramp.left {
                p1 - r - 0.005
            } else {
                p0 + r + 0.005
            };
            scene.objects.push(Object { x, ..ball });
        }
        let n_floor = 2 + rng.below(3);
        for _ in 0..n_floor {
            let mut o = random_object(rng, scene.next_id());
            o.bottom = FLOOR_Y;
            for _ in 0..20 {
                o.x = rng.range(0.0, 1.0);
                if scene.box_free(pad(o.bbox(), 0.015), &[]) {
                    scene.objects.push(o);
                    break;
                }
            }
        }
        // Stacks: things on boxes, up to two levels.
        for _ in 0..2 {
            if !rng.chance(0.55) {
                continue;
            }
            let boxes: Vec<Object> = scene
                .objects
                .iter()
                .filter(|o| o.shape.flat_top() && !o.hanging && scene.on_top_of(o.id).is_empty())
                .copied()
                .collect();
            if boxes.is_empty() {
                break;
            }
            let base = *rng.pick(&boxes);
            let mut o = random_object(rng, scene.next_id());
            o.bottom = base.top();
            o.x = base.x + rng.range(-0.25, 0.25) * base.w().min(o.w());
            if scene.box_free(o.bbox(), &[]) {
                scene.objects.push(o);
            }
        }
        // Something hanging from a string.
        if rng.chance(0.35) {
            let mut o = random_object(rng, scene.next_id());
            o.hanging = true;
            for _ in 0..20 {
                o.x = rng.range(0.08, 0.92);
                o.bottom = rng.range(0.3, 0.5);
                let clear_below = scene.objects.iter().all(|p| {
                    p.top() > o.bottom + 0.1
                        || p.bbox()[2] < o.bbox()[0]
                        || p.bbox()[0] > o.bbox()[2]
                });
                if clear_below && scene.box_free(pad(o.bbox(), 0.01), &[]) {
                    scene.objects.push(o);
                    break;
                }
            }
        }
        scene
    }
}

fn random_texture(rng: &mut Rng) -> Texture {
    match rng.below(6) {
        0 => Texture::Stripes,
        1 => Texture::Dots,
        _ => Texture::Solid,
    }
}

/// A random object (position unset).
pub fn random_object(rng: &mut Rng, id: u32) -> Object {
    Object {
        id,
        shape: *rng.pick(&Shape::ALL),
        colour: *rng.pick(&Colour::ALL),
        texture: random_texture(rng),
        size: *rng.pick(&Size::ALL),
        x: 0.5,
        bottom: FLOOR_Y,
        hanging: false,
    }
}

/// Grow a box by `d` on every side.
pub fn pad(b: [f32; 4], d: f32) -> [f32; 4] {
    [b[0] - d, b[1] - d, b[2] + d, b[3] + d.min(0.0)]
}
