//! Edit cases: a random scene, an edit with its instruction, the ground-truth target, mask,
//! trajectory and the checks that decide success.
use super::check::Check;
use super::lang::{self, capitalise, fill, pick, refer, Split};
use super::render::{diff_mask, render, Image};
use super::rng::Rng;
use super::scene::{
    pad, random_object, Colour, Object, Scene, Shape, Style, Support, Texture, FLOOR_Y,
};
use serde::{Deserialize, Serialize};

/// ImgEdit's nine categories: the same type CARD predicts.
pub use crate::category::Category;

/// How the intermediate frames were made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trajectory {
    /// Simulated motion of the world (`action`).
    Simulated,
    /// Cross-fade from source to target (no motion to simulate).
    Crossfade,
    /// `compose` with one simulated part and one cross-faded part, played one after the other.
    Mixed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ease {
    Linear,
    Accel,
    Smooth,
}

/// Paths of moving objects: keypoints `(x, bottom)`, traversed at constant speed under `ease`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Motion {
    pub ease: Ease,
    pub paths: Vec<(u32, Vec<[f32; 2]>)>,
}

fn path_at(keys: &[[f32; 2]], s: f32) -> [f32; 2] {
    let lens: Vec<f32> = keys
        .windows(2)
        .map(|w| ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt())
        .collect();
    let total: f32 = lens.iter().sum();
    if total <= 0.0 {
        return keys[keys.len() - 1];
    }
    let mut d = s.clamp(0.0, 1.0) * total;
    for (i, l) in lens.iter().enumerate() {
        if d <= *l || i == lens.len() - 1 {
            let u = if *l > 0.0 { (d / l).min(1.0) } else { 1.0 };
            return [
                keys[i][0] + u * (keys[i + 1][0] - keys[i][0]),
                keys[i][1] + u * (keys[i + 1][1] - keys[i][1]),
            ];
        }
        d -= l;
    }
    keys[keys.len() - 1]
}

impl Motion {
    /// The scene at time `t` in [0, 1]: `target` with moving objects placed along their paths.
    pub fn scene_at(&self, target: &Scene, t: f32) -> Scene {
        let s = match self.ease {
            Ease::Linear => t,
            Ease::Accel => t * t,
            Ease::Smooth => t * t * (3.0 - 2.0 * t),
        };
        let mut sc = target.clone();
        for (id, keys) in &self.paths {
            if let Some(o) = sc.get_mut(*id) {
                let p = path_at(keys, s);
                o.x = p[0];
                o.bottom = p[1];
            }
        }
        sc
    }
}

/// One edit applied to a scene (before it is wrapped into a case).
#[derive(Clone, Debug)]
pub struct Edit {
    pub target: Scene,
    pub checks: Vec<Check>,
    /// The instruction clause (lower case).
    pub clause: String,
    pub templates: Vec<String>,
    pub kind: &'static str,
    pub motion: Option<Motion>,
    /// For `compose`: each part as (scene before, scene after, its motion), in order.
    pub parts: Vec<(Scene, Scene, Option<Motion>)>,
}

/// A complete case.
#[derive(Clone, Debug)]
pub struct Case {
    pub meta: CaseMeta,
    pub source_img: Image,
    pub target_img: Image,
    /// 1 where the pixel changes, `size*size`.
    pub mask: Vec<u8>,
    /// Frames from source to target inclusive.
    pub frames: Vec<Image>,
}

/// Everything about a case except its pixels (one line of `cases.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseMeta {
    pub key: String,
    pub split: Split,
    pub seed: u64,
    pub index: u64,
    pub category: Category,
    /// Finer kind: recolour, retexture, push, drop, roll, topple, stack, ... ("a+b" for compose).
    pub kind: String,
    pub prompt: String,
    /// Template and referring-expression ids used.
    pub templates: Vec<String>,
    pub trajectory: Trajectory,
    pub size: usize,
    pub n_frames: usize,
    /// Scenes tried before this one was accepted (rejected ones were ill-posed or unverifiable).
    pub attempts: u32,
    /// Of those, edits the checker could not confirm on the target (`target_fail`) or could not
    /// tell from the untouched source (`source_pass`): a measure of the checker's own reliability.
    #[serde(default)]
    pub target_fail: u32,
    #[serde(default)]
    pub source_pass: u32,
    pub source: Scene,
    pub target: Scene,
    pub checks: Vec<Check>,
}

/// Generation settings.
#[derive(Clone, Copy, Debug)]
pub struct GenConfig {
    pub split: Split,
    pub seed: u64,
    pub size: usize,
    /// Frames per trajectory including source and target (>= 2; ChronoEdit uses 4k+1).
    pub n_frames: usize,
}

fn r(rng: &mut Rng, scene: &Scene, id: u32, split: Split, ids: &mut Vec<String>) -> Option<String> {
    let (form, text) = refer(rng, scene, id, split)?;
    ids.push(form);
    Some(text)
}

fn finish(
    rng: &mut Rng,
    table: &'static [lang::Template],
    split: Split,
    slots: &[(&str, &str)],
    mut ids: Vec<String>,
) -> (String, Vec<String>) {
    let tpl = pick(rng, table, split);
    ids.insert(0, tpl.id.to_string());
    (fill(tpl, slots), ids)
}

fn free_top(scene: &Scene) -> Vec<Object> {
    scene
        .objects
        .iter()
        .filter(|o| scene.on_top_of(o.id).is_empty())
        .copied()
        .collect()
}

fn gen_adjust(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let o = *rng.pick(&s.objects);
    let mut ids = Vec::new();
    let obj = r(rng, s, o.id, split, &mut ids)?;
    let mut target = s.clone();
    if rng.chance(0.65) {
        let c = *rng.pick(&Colour::ALL);
        if c == o.colour {
            return None;
        }
        let n = Object { colour: c, ..o };
        *target.get_mut(o.id)? = n;
        let (clause, ids) = finish(
            rng,
            lang::RECOLOUR,
            split,
            &[("obj", &obj), ("colour", c.name())],
            ids,
        );
        let checks = vec![
            Check::exact(&n, 0.03),
            Check::Absent {
                obj: o,
                colour: o.colour,
                keep: vec![],
            },
        ];
        Some(Edit {
            target,
            checks,
            clause,
            templates: ids,
            kind: "recolour",
            motion: None,
            parts: vec![],
        })
    } else {
        let t = *rng.pick(&Texture::ALL);
        if t == o.texture {
            return None;
        }
        let n = Object { texture: t, ..o };
        *target.get_mut(o.id)? = n;
        let (noun, adj) = lang::texture_words(rng, t);
        let (clause, ids) = finish(
            rng,
            lang::RETEXTURE,
            split,
            &[("obj", &obj), ("texture_noun", noun), ("texture_adj", adj)],
            ids,
        );
        let checks = vec![Check::Texture { obj: n, texture: t }];
        Some(Edit {
            target,
            checks,
            clause,
            templates: ids,
            kind: "retexture",
            motion: None,
            parts: vec![],
        })
    }
}

fn gen_style(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let st = *rng.pick(&Style::ALL);
    if st == s.style {
        return None;
    }
    let mut target = s.clone();
    target.style = st;
    let w = lang::style_word(rng, st);
    let a = lang::with_article(w);
    let (clause, ids) = finish(
        rng,
        lang::STYLE,
        split,
        &[("adj", w), ("a_adj", &a)],
        vec![],
    );
    Some(Edit {
        target,
        checks: vec![Check::Style { style: st }],
        clause,
        templates: ids,
        kind: "style",
        motion: None,
        parts: vec![],
    })
}

fn gen_background(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let bg = super::scene::Background::random(rng);
    if bg == s.background {
        return None;
    }
    let mut target = s.clone();
    target.background = bg;
    let w = lang::background_words(rng, &bg);
    let (clause, ids) = finish(rng, lang::BACKGROUND, split, &[("bg", &w)], vec![]);
    Some(Edit {
        target,
        checks: vec![Check::Background { background: bg }],
        clause,
        templates: ids,
        kind: "background",
        motion: None,
        parts: vec![],
    })
}

fn gen_remove(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let cands = free_top(s);
    if cands.is_empty() {
        return None;
    }
    let o = *rng.pick(&cands);
    let mut ids = Vec::new();
    let obj = r(rng, s, o.id, split, &mut ids)?;
    let mut target = s.clone();
    target.objects.retain(|p| p.id != o.id);
    let (clause, ids) = finish(rng, lang::REMOVE, split, &[("obj", &obj)], ids);
    let checks = vec![Check::Absent {
        obj: o,
        colour: o.colour,
        keep: vec![],
    }];
    Some(Edit {
        target,
        checks,
        clause,
        templates: ids,
        kind: "remove",
        motion: None,
        parts: vec![],
    })
}

fn gen_replace(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let cands = free_top(s);
    if cands.is_empty() {
        return None;
    }
    let o = *rng.pick(&cands);
    let shape = *rng.pick(&Shape::ALL);
    if shape == o.shape {
        return None;
    }
    let colour = if rng.chance(0.5) {
        o.colour
    } else {
        *rng.pick(&Colour::ALL)
    };
    let n = Object { shape, colour, ..o };
    if !s.box_free(n.bbox(), &[o.id]) {
        return None;
    }
    let mut ids = Vec::new();
    let obj = r(rng, s, o.id, split, &mut ids)?;
    let mut target = s.clone();
    *target.get_mut(o.id)? = n;
    let new = lang::new_object(rng, &n);
    let (clause, ids) = finish(
        rng,
        lang::REPLACE,
        split,
        &[("obj", &obj), ("new", &new)],
        ids,
    );
    let mut checks = vec![Check::Present {
        obj: n,
        region: pad(n.bbox(), 0.03),
        shape: true,
        centroid_tol: Some(0.04),
        bottom: true,
    }];
    if colour != o.colour {
        checks.push(Check::Absent {
            obj: o,
            colour: o.colour,
            keep: vec![n],
        });
    }
    Some(Edit {
        target,
        checks,
        clause,
        templates: ids,
        kind: "replace",
        motion: None,
        parts: vec![],
    })
}

fn gen_add(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let mut n = random_object(rng, s.next_id());
    let (w, h) = n.dims();
    let mut ids = Vec::new();
    let (place, region) = match rng.below(4) {
        0 | 1 => {
            // Beside a floor object.
            let floor: Vec<Object> = s
                .objects
                .iter()
                .filter(|o| s.support(o) == Some(Support::Floor))
                .copied()
                .collect();
            if floor.is_empty() {
                return None;
            }
            let x = *rng.pick(&floor);
            let dir = if rng.chance(0.5) { -1.0 } else { 1.0 };
            let b = x.bbox();
            let edge = if dir < 0.0 { b[0] } else { b[2] };
            let stop = s.obstacle(
                if dir < 0.0 { edge - 1e-3 } else { edge },
                if dir < 0.0 { edge } else { edge + 1e-3 },
                FLOOR_Y - h,
                FLOOR_Y,
                dir,
                &[x.id],
            );
            let space = (stop - edge).abs();
            if space < w + 0.03 {
                return None;
            }
            let gap = rng.range(0.01, (space - w - 0.01).min(0.05));
            n.x = edge + dir * (gap + w / 2.0);
            n.bottom = FLOOR_Y;
            let xs = r(rng, s, x.id, split, &mut ids)?;
            let side = if dir < 0.0 { "left" } else { "right" };
            let place = match rng.below(3) {
                0 => format!("to the {side} of {xs}"),
                1 => format!("{side} of {xs}"),
                _ => format!("next to {xs}, on its {side}"),
            };
            let (lo, hi) = if dir < 0.0 {
                (stop, edge)
            } else {
                (edge, stop)
            };
            (place, [lo, FLOOR_Y - h - 0.03, hi, FLOOR_Y])
        }
        2 => {
            let boxes: Vec<Object> = s
                .objects
                .iter()
                .filter(|o| o.shape.flat_top() && !o.hanging && s.on_top_of(o.id).is_empty())
                .copied()
                .collect();
            if boxes.is_empty() {
                return None;
            }
            let bx = *rng.pick(&boxes);
            n.x = bx.x + rng.range(-0.2, 0.2) * bx.w().min(w);
            n.bottom = bx.top();
            let xs = r(rng, s, bx.id, split, &mut ids)?;
            let place = if rng.chance(0.5) {
                format!("on top of {xs}")
            } else {
                format!("on {xs}")
            };
            let b = bx.bbox();
            (
                place,
                [b[0] - 0.03, bx.top() - h - 0.03, b[2] + 0.03, bx.top()],
            )
        }
        _ => {
            let left = rng.chance(0.5);
            let off = rng.range(0.01, 0.03);
            n.x = if left {
                off + w / 2.0
            } else {
                1.0 - off - w / 2.0
            };
            n.bottom = FLOOR_Y;
            let side = if left { "left" } else { "right" };
            let place = if rng.chance(0.5) {
                format!("at the far {side} of the floor")
            } else {
                format!("in the {side} corner")
            };
            let region = if left {
                [0.0, FLOOR_Y - h - 0.03, w + 0.08, FLOOR_Y]
            } else {
                [1.0 - w - 0.08, FLOOR_Y - h - 0.03, 1.0, FLOOR_Y]
            };
            (place, region)
        }
    };
    if !s.box_free(n.bbox(), &[]) {
        return None;
    }
    let mut target = s.clone();
    target.objects.push(n);
    let new = lang::new_object(rng, &n);
    let (clause, ids) = finish(
        rng,
        lang::ADD,
        split,
        &[("new", &new), ("place", &place)],
        ids,
    );
    let checks = vec![Check::Present {
        obj: n,
        region,
        shape: true,
        centroid_tol: None,
        bottom: true,
    }];
    Some(Edit {
        target,
        checks,
        clause,
        templates: ids,
        kind: "add",
        motion: None,
        parts: vec![],
    })
}

fn gen_extract(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let o = *rng.pick(&s.objects);
    let mut ids = Vec::new();
    let obj = r(rng, s, o.id, split, &mut ids)?;
    let mut target = s.clone();
    target.isolate = Some(o.id);
    let (clause, ids) = finish(rng, lang::EXTRACT, split, &[("obj", &obj)], ids);
    let checks = vec![Check::exact(&o, 0.03), Check::PlainWhite { obj: o }];
    Some(Edit {
        target,
        checks,
        clause,
        templates: ids,
        kind: "extract",
        motion: None,
        parts: vec![],
    })
}

fn moved_checks(old: &[Object], new: &[Object]) -> Vec<Check> {
    let mut c: Vec<Check> = new.iter().map(|n| Check::exact(n, 0.04)).collect();
    for o in old {
        c.push(Check::Absent {
            obj: *o,
            colour: o.colour,
            keep: new.to_vec(),
        });
    }
    c
}

fn gen_push(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let cands: Vec<Object> = s
        .objects
        .iter()
        .filter(|o| s.support(o) == Some(Support::Floor) && s.on_top_of(o.id).is_empty())
        .copied()
        .collect();
    if cands.is_empty() {
        return None;
    }
    if cands.is_empty() {
        return None;
    }
    let o = *rng.pick(&cands);
    let dir = if rng.chance(0.5) { -1.0 } else { 1.0 };
    let b = o.bbox();
    let stop = s.obstacle(b[0], b[2], b[1], b[3], dir, &[o.id]);
    let nx = stop - dir * o.w() / 2.0;
    if (nx - o.x).abs() < (0.4 * o.w()).max(0.05) {
        return None;
    }
    let n = Object { x: nx, ..o };
    let mut ids = Vec::new();
    let obj = r(rng, s, o.id, split, &mut ids)?;
    let mut target = s.clone();
    *target.get_mut(o.id)? = n;
    let d = if dir < 0.0 { "left" } else { "right" };
    let (clause, ids) = finish(rng, lang::PUSH, split, &[("obj", &obj), ("dir", d)], ids);
    let motion = Motion {
        ease: Ease::Linear,
        paths: vec![(o.id, vec![[o.x, o.bottom], [nx, o.bottom]])],
    };
    Some(Edit {
        target,
        checks: moved_checks(&[o], &[n]),
        clause,
        templates: ids,
        kind: "push",
        motion: Some(motion),
        parts: vec![],
    })
}

fn gen_drop(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let o = *s.objects.iter().find(|o| o.hanging)?;
    let b = o.bbox();
    let mut land = FLOOR_Y;
    for p in &s.objects {
        let pb = p.bbox();
        if p.id != o.id && pb[0] < b[2] && b[0] < pb[2] && p.top() >= o.bottom - 1e-4 {
            land = land.min(p.top());
        }
    }
    if let Some(rp) = &s.ramp {
        for x in [b[0], b[2], o.x] {
            if let Some(y) = rp.surface(x) {
                land = land.min(y);
            }
        }
    }
    let n = Object {
        bottom: land,
        hanging: false,
        ..o
    };
    let mut ids = Vec::new();
    let obj = r(rng, s, o.id, split, &mut ids)?;
    let mut target = s.clone();
    *target.get_mut(o.id)? = n;
    let (clause, ids) = finish(rng, lang::DROP, split, &[("obj", &obj)], ids);
    let motion = Motion {
        ease: Ease::Accel,
        paths: vec![(o.id, vec![[o.x, o.bottom], [o.x, land]])],
    };
    Some(Edit {
        target,
        checks: moved_checks(&[o], &[n]),
        clause,
        templates: ids,
        kind: "drop",
        motion: Some(motion),
        parts: vec![],
    })
}

fn gen_roll(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let rp = s.ramp?;
    let o = *s
        .objects
        .iter()
        .find(|o| s.support(o) == Some(Support::Ramp) && s.on_top_of(o.id).is_empty())?;
    let dir = if rp.left { 1.0 } else { -1.0 };
    let (p0, p1) = rp.platform_span();
    let (s0, s1) = rp.span();
    let edge = if rp.left { p1 } else { p0 };
    let foot = if rp.left { s1 } else { s0 };
    let rad = o.w() / 2.0;
    let start = foot + dir * rad;
    let travel = 0.15 + 1.2 * rp.height;
    // Obstacles ahead of the ramp's foot (the ramp itself is behind).
    let stop = s.obstacle(foot, foot, FLOOR_Y - o.h(), FLOOR_Y, dir, &[o.id]);
    let limit = stop - dir * rad;
    let fx = if dir > 0.0 {
        (start + travel).min(limit)
    } else {
        (start - travel).max(limit)
    };
    if (fx - start) * dir < 0.0 {
        return None;
    }
    let n = Object {
        x: fx,
        bottom: FLOOR_Y,
        ..o
    };
    let mut ids = Vec::new();
    let obj = r(rng, s, o.id, split, &mut ids)?;
    let mut target = s.clone();
    *target.get_mut(o.id)? = n;
    let (clause, ids) = finish(rng, lang::ROLL, split, &[("obj", &obj)], ids);
    let keys = vec![
        [o.x, o.bottom],
        [edge, rp.top_y()],
        [foot, FLOOR_Y],
        [fx, FLOOR_Y],
    ];
    let motion = Motion {
        ease: Ease::Smooth,
        paths: vec![(o.id, keys)],
    };
    Some(Edit {
        target,
        checks: moved_checks(&[o], &[n]),
        clause,
        templates: ids,
        kind: "roll",
        motion: Some(motion),
        parts: vec![],
    })
}

fn gen_topple(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let bases: Vec<Object> = s
        .objects
        .iter()
        .filter(|o| s.support(o) == Some(Support::Floor) && !s.on_top_of(o.id).is_empty())
        .copied()
        .collect();
    if bases.is_empty() {
        return None;
    }
    let base = *rng.pick(&bases);
    let mut chain = Vec::new();
    let mut cur = base.id;
    loop {
        let above = s.on_top_of(cur);
        if above.len() != 1 {
            if above.len() > 1 {
                return None;
            }
            break;
        }
        cur = above[0];
        chain.push(*s.get(cur)?);
    }
    let chain_ids: Vec<u32> = chain.iter().map(|o| o.id).collect();
    let first = if rng.chance(0.5) { -1.0 } else { 1.0 };
    for dir in [first, -first] {
        let bb = base.bbox();
        let mut cursor = if dir < 0.0 { bb[0] } else { bb[2] };
        let mut news = Vec::new();
        let mut ok = true;
        for o in &chain {
            let n = Object {
                x: cursor + dir * (o.w() / 2.0 + 0.003),
                bottom: FLOOR_Y,
                hanging: false,
                ..*o
            };
            cursor += dir * (o.w() + 0.006);
            let others: Vec<u32> = chain_ids.clone();
            let clash = news.iter().any(|m: &Object| {
                let (a, b) = (m.bbox(), n.bbox());
                a[0] < b[2] && b[0] < a[2]
            });
            if clash || !s.box_free(n.bbox(), &others) {
                ok = false;
                break;
            }
            news.push(n);
        }
        if !ok {
            continue;
        }
        let mut ids = Vec::new();
        let bs = r(rng, s, base.id, split, &mut ids)?;
        let mut target = s.clone();
        for n in &news {
            *target.get_mut(n.id)? = *n;
        }
        let d = if dir < 0.0 { "left" } else { "right" };
        let (clause, ids) = finish(rng, lang::TOPPLE, split, &[("base", &bs), ("dir", d)], ids);
        let paths = chain
            .iter()
            .zip(&news)
            .map(|(o, n)| {
                (
                    o.id,
                    vec![
                        [o.x, o.bottom],
                        [0.5 * (o.x + n.x), o.bottom - 0.02],
                        [n.x, n.bottom],
                    ],
                )
            })
            .collect();
        let motion = Motion {
            ease: Ease::Accel,
            paths,
        };
        return Some(Edit {
            target,
            checks: moved_checks(&chain, &news),
            clause,
            templates: ids,
            kind: "topple",
            motion: Some(motion),
            parts: vec![],
        });
    }
    None
}

fn gen_stack(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let movable: Vec<Object> = s
        .objects
        .iter()
        .filter(|o| {
            matches!(s.support(o), Some(Support::Floor) | Some(Support::On(_)))
                && s.on_top_of(o.id).is_empty()
        })
        .copied()
        .collect();
    if movable.is_empty() {
        return None;
    }
    let a = *rng.pick(&movable);
    let boxes: Vec<Object> = s
        .objects
        .iter()
        .filter(|o| {
            o.id != a.id && o.shape.flat_top() && !o.hanging && s.on_top_of(o.id).is_empty()
        })
        .copied()
        .collect();
    if boxes.is_empty() {
        return None;
    }
    let b = *rng.pick(&boxes);
    let n = Object {
        x: b.x,
        bottom: b.top(),
        ..a
    };
    if !s.box_free(n.bbox(), &[a.id]) {
        return None;
    }
    let mut ids = Vec::new();
    let sa = r(rng, s, a.id, split, &mut ids)?;
    let sb = r(rng, s, b.id, split, &mut ids)?;
    let mut target = s.clone();
    *target.get_mut(a.id)? = n;
    let (clause, ids) = finish(rng, lang::STACK, split, &[("a", &sa), ("b", &sb)], ids);
    let lift = a.bottom.min(n.bottom) - 0.04;
    let keys = vec![[a.x, a.bottom], [a.x, lift], [n.x, lift], [n.x, n.bottom]];
    let motion = Motion {
        ease: Ease::Smooth,
        paths: vec![(a.id, keys)],
    };
    Some(Edit {
        target,
        checks: moved_checks(&[a], &[n]),
        clause,
        templates: ids,
        kind: "stack",
        motion: Some(motion),
        parts: vec![],
    })
}

/// The five simulated actions, in the order `generate_case` cycles through them.
pub const ACTIONS: [&str; 5] = ["push", "drop", "roll", "topple", "stack"];

/// Try to make action `kind` (an entry of `ACTIONS`) on `s`.
pub fn make_action(rng: &mut Rng, s: &Scene, split: Split, kind: &str) -> Option<Edit> {
    match kind {
        "push" => gen_push(rng, s, split),
        "drop" => gen_drop(rng, s, split),
        "roll" => gen_roll(rng, s, split),
        "topple" => gen_topple(rng, s, split),
        "stack" => gen_stack(rng, s, split),
        _ => None,
    }
}

/// A random action among those the scene allows.
fn gen_action(rng: &mut Rng, s: &Scene, split: Split) -> Option<Edit> {
    let mut kinds = vec!["push", "stack"];
    if s.objects.iter().any(|o| o.hanging) {
        kinds.push("drop");
    }
    if s.objects
        .iter()
        .any(|o| s.support(o) == Some(Support::Ramp))
    {
        kinds.push("roll");
    }
    if s.objects
        .iter()
        .any(|o| matches!(s.support(o), Some(Support::On(_))))
    {
        kinds.push("topple");
    }
    let k = *rng.pick(&kinds);
    make_action(rng, s, split, k)
}

/// Try to make an edit of category `cat` on `s` (None when the scene does not allow one).
/// The result is not yet validated (physics, mask, checker): see `generate_case`.
pub fn make_edit(rng: &mut Rng, s: &Scene, split: Split, cat: Category) -> Option<Edit> {
    if s.objects.is_empty() {
        return None;
    }
    match cat {
        Category::Add => gen_add(rng, s, split),
        Category::Remove => gen_remove(rng, s, split),
        Category::Replace => gen_replace(rng, s, split),
        Category::Adjust => gen_adjust(rng, s, split),
        Category::Style => gen_style(rng, s, split),
        Category::Background => gen_background(rng, s, split),
        Category::Extract => gen_extract(rng, s, split),
        Category::Action => gen_action(rng, s, split),
        Category::Compose => {
            let parts = [
                Category::Add,
                Category::Remove,
                Category::Replace,
                Category::Adjust,
                Category::Style,
                Category::Background,
                Category::Action,
            ];
            let c1 = *rng.pick(&parts);
            let mut c2 = *rng.pick(&parts);
            while c2 == c1 {
                c2 = *rng.pick(&parts);
            }
            let e1 = make_edit(rng, s, split, c1)?;
            let e2 = make_edit(rng, &e1.target, split, c2)?;
            let mut ids = e1.templates.clone();
            ids.extend(e2.templates.iter().cloned());
            let (clause, ids) = finish(
                rng,
                lang::COMPOSE,
                split,
                &[("c1", &e1.clause), ("c2", &e2.clause)],
                ids,
            );
            let mut checks = e1.checks.clone();
            checks.extend(e2.checks.iter().cloned());
            let kind: &'static str = Box::leak(format!("{}+{}", e1.kind, e2.kind).into_boxed_str());
            Some(Edit {
                target: e2.target.clone(),
                checks,
                clause,
                templates: ids,
                kind,
                motion: None,
                parts: vec![
                    (s.clone(), e1.target.clone(), e1.motion.clone()),
                    (e1.target, e2.target.clone(), e2.motion),
                ],
            })
        }
    }
}

/// Category of case `index` (balanced: cycles through the nine).
pub fn category_of(index: u64) -> Category {
    Category::ALL[(index % 9) as usize]
}

/// Generate case `index` of a split. Deterministic in (`cfg`, `index`).
pub fn generate_case(cfg: &GenConfig, index: u64) -> Result<Case, String> {
    if cfg.n_frames < 2 {
        return Err(format!("n_frames must be >= 2, got {}", cfg.n_frames));
    }
    if cfg.size < 16 {
        return Err(format!("size must be >= 16 px, got {}", cfg.size));
    }
    let cat = category_of(index);
    let (mut target_fail, mut source_pass) = (0u32, 0u32);
    for attempt in 0..400u32 {
        let mut rng = Rng::from_parts(&[cfg.seed, cfg.split.as_u64(), index, attempt as u64]);
        let source = Scene::random(&mut rng);
        if source.objects.is_empty() || source.check_physics().is_err() {
            continue;
        }
        // Action cases cycle through the five actions so that each is well represented.
        let made = if cat == Category::Action {
            make_action(
                &mut rng,
                &source,
                cfg.split,
                ACTIONS[((index / 9) % 5) as usize],
            )
        } else {
            make_edit(&mut rng, &source, cfg.split, cat)
        };
        let Some(edit) = made else {
            continue;
        };
        if edit.target.check_physics().is_err() {
            continue;
        }
        let source_img = render(&source, cfg.size);
        let target_img = render(&edit.target, cfg.size);
        let mask = diff_mask(&source_img, &target_img);
        if !mask.iter().any(|&m| m != 0) {
            continue;
        }
        let ok_t = edit
            .checks
            .iter()
            .all(|c| c.eval(&target_img, &source, &edit.target, &target_img).pass);
        let ok_s = edit
            .checks
            .iter()
            .all(|c| c.eval(&source_img, &source, &edit.target, &target_img).pass);
        if !ok_t {
            if std::env::var("WORLD_DEBUG").is_ok() {
                for c in &edit.checks {
                    let r = c.eval(&target_img, &source, &edit.target, &target_img);
                    if !r.pass {
                        eprintln!(
                            "TFAIL {} {:?} {}: {}",
                            cat.name(),
                            edit.target.style,
                            edit.kind,
                            r.detail
                        );
                    }
                }
            }
            target_fail += 1;
            continue;
        }
        if ok_s {
            source_pass += 1;
            continue;
        }
        let (trajectory, frames) = trajectory_frames(&edit, &source_img, &target_img, cfg);
        let meta = CaseMeta {
            key: format!(
                "{}_{:06}",
                match cfg.split {
                    Split::Train => "train",
                    Split::Test => "test",
                },
                index
            ),
            split: cfg.split,
            seed: cfg.seed,
            index,
            category: cat,
            kind: edit.kind.to_string(),
            prompt: capitalise(&edit.clause) + ".",
            templates: edit.templates,
            trajectory,
            size: cfg.size,
            n_frames: cfg.n_frames,
            attempts: attempt + 1,
            target_fail,
            source_pass,
            source,
            target: edit.target,
            checks: edit.checks,
        };
        return Ok(Case {
            meta,
            source_img,
            target_img,
            mask,
            frames,
        });
    }
    Err(format!(
        "case {index} ({}): no valid edit found in 400 scenes",
        cat.name()
    ))
}

fn trajectory_frames(
    edit: &Edit,
    src: &Image,
    tgt: &Image,
    cfg: &GenConfig,
) -> (Trajectory, Vec<Image>) {
    let f = cfg.n_frames;
    let size = cfg.size;
    let fade = |a: &Image, b: &Image, t: f32| {
        let mut img = a.clone();
        for (d, s) in img.data.iter_mut().zip(&b.data) {
            *d = (*d as f32 + (*s as f32 - *d as f32) * t).round() as u8;
        }
        img
    };
    // Stages: (before image, after scene, after image, motion); single edits have one.
    let stages: Vec<(Image, Scene, Image, Option<Motion>)> = if edit.parts.is_empty() {
        vec![(
            src.clone(),
            edit.target.clone(),
            tgt.clone(),
            edit.motion.clone(),
        )]
    } else {
        edit.parts
            .iter()
            .map(|(b, a, m)| (render(b, size), a.clone(), render(a, size), m.clone()))
            .collect()
    };
    let simulated = stages.iter().filter(|s| s.3.is_some()).count();
    let traj = if simulated == stages.len() {
        Trajectory::Simulated
    } else if simulated == 0 {
        Trajectory::Crossfade
    } else {
        Trajectory::Mixed
    };
    let mut frames = Vec::with_capacity(f);
    frames.push(src.clone());
    let n = stages.len() as f32;
    for i in 1..f - 1 {
        let t = i as f32 / (f - 1) as f32 * n;
        let k = (t.floor() as usize).min(stages.len() - 1);
        let u = t - k as f32;
        let (before, after, after_img, motion) = &stages[k];
        let img = match motion {
            Some(m) => render(&m.scene_at(after, u), size),
            None => fade(before, after_img, u),
        };
        frames.push(img);
    }
    frames.push(tgt.clone());
    (traj, frames)
}

/// Endless deterministic stream of cases (`index` = 0, 1, 2, ...): the training data generator.
pub struct CaseStream {
    cfg: GenConfig,
    next: u64,
}

impl CaseStream {
    pub fn new(cfg: GenConfig) -> CaseStream {
        CaseStream { cfg, next: 0 }
    }
    pub fn starting_at(cfg: GenConfig, index: u64) -> CaseStream {
        CaseStream { cfg, next: index }
    }
}

impl Iterator for CaseStream {
    type Item = Result<Case, String>;
    fn next(&mut self) -> Option<Self::Item> {
        let c = generate_case(&self.cfg, self.next);
        self.next += 1;
        Some(c)
    }
}
