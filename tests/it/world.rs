//! Tests of the procedural physics world: determinism, speed, physics invariants, masks, phrasing
//! split, checker (both ways), evaluation, shards and the committed test split.
use physedit::world::check::{classify, detect_style, Check};
use physedit::world::edits::{make_edit, Category};
use physedit::world::evaluate::{eval_case, eval_suite, kept_checks, summarise};
use physedit::world::io::{generate_many, load_suite, write_shard, write_suite};
use physedit::world::lang::{self, Split};
use physedit::world::render::{diff_mask, render, silhouette};
use physedit::world::rng::Rng;
use physedit::world::scene::*;
use physedit::world::{generate_case, GenConfig};
use std::path::Path;

fn cfg(split: Split, seed: u64) -> GenConfig {
    GenConfig {
        split,
        seed,
        size: 64,
        n_frames: 5,
    }
}

#[test]
fn generation_is_deterministic_per_seed() {
    for i in 0..18 {
        let a = generate_case(&cfg(Split::Test, 11), i).unwrap();
        let b = generate_case(&cfg(Split::Test, 11), i).unwrap();
        assert_eq!(a.meta, b.meta);
        assert_eq!(a.target_img, b.target_img);
        assert_eq!(a.frames, b.frames);
        let c = generate_case(&cfg(Split::Test, 12), i).unwrap();
        assert_ne!(
            a.meta.source, c.meta.source,
            "case {i}: different seeds gave the same scene"
        );
    }
}

#[test]
fn generation_is_fast() {
    // Single thread, debug build of this crate (dependencies optimised). The target is well over
    // 100 cases/s at 64 px in an optimised build; a debug build is several times slower, and the
    // test machine is shared, so the bound asserted here is 30 cases/s.
    let c = cfg(Split::Train, 5);
    let t = std::time::Instant::now();
    let n = 270;
    for i in 0..n {
        generate_case(&c, i).unwrap();
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    eprintln!("generation: {rate:.0} cases/s (64 px, 5 frames, one core, debug)");
    assert!(rate > 30.0, "{rate:.1} cases/s");
}

#[test]
fn physics_checker_catches_floating_and_overlap() {
    let mut rng = Rng::new(1);
    let mut s = Scene::random(&mut rng);
    s.ramp = None;
    s.objects.clear();
    let mut a = random_object(&mut rng, 0);
    a.shape = Shape::Box;
    a.x = 0.3;
    s.objects.push(a);
    assert!(s.check_physics().is_ok());
    let mut b = a;
    b.id = 1;
    b.x = 0.3 + a.w() * 0.5; // overlaps a
    s.objects.push(b);
    assert!(s.check_physics().unwrap_err().contains("overlap"));
    s.objects[1].x = 0.8;
    s.objects[1].bottom = FLOOR_Y - 0.1; // floats
    assert!(s.check_physics().unwrap_err().contains("floats"));
    s.objects[1].x = 0.3;
    s.objects[1].bottom = a.top(); // on top of the box
    assert!(s.check_physics().is_ok());
}

#[test]
fn actions_obey_physics() {
    // Every push, roll, topple and stack the world simulates leaves nothing floating or
    // overlapping, before any validation by the case generator. Drop lands on whatever is below;
    // landing on a round top is not simulated further, so for drop only overlap is asserted.
    let mut by_kind: std::collections::BTreeMap<&str, usize> = Default::default();
    for seed in 0..1500u64 {
        let mut rng = Rng::new(seed);
        let s = Scene::random(&mut rng);
        s.check_physics()
            .unwrap_or_else(|e| panic!("random scene {seed}: {e}"));
        let Some(e) = make_edit(&mut rng, &s, Split::Train, Category::Action) else {
            continue;
        };
        *by_kind.entry(e.kind).or_default() += 1;
        let r = e.target.check_physics();
        if e.kind == "drop" {
            if let Err(m) = r {
                assert!(
                    !m.contains("overlap") && !m.contains("leaves"),
                    "seed {seed} drop: {m}"
                );
            }
        } else {
            r.unwrap_or_else(|m| panic!("seed {seed} {}: {m}", e.kind));
        }
        // The moved objects end where the motion ends.
        let m = e.motion.as_ref().expect("actions are simulated");
        let end = m.scene_at(&e.target, 1.0);
        for (a, b) in end.objects.iter().zip(&e.target.objects) {
            // Path interpolation in f32: 1e-5 of the picture width.
            assert!(
                (a.x - b.x).abs() < 1e-5 && (a.bottom - b.bottom).abs() < 1e-5,
                "seed {seed}: path end"
            );
        }
        // Push stops on contact: touching an obstacle or a wall.
        if e.kind == "push" {
            let (id, _) = m.paths[0];
            let o = e.target.get(id).unwrap();
            let b = o.bbox();
            let touching = b[0] < 1e-3
                || b[2] > 1.0 - 1e-3
                || e.target.objects.iter().any(|p| {
                    p.id != id && {
                        let q = p.bbox();
                        ((q[2] - b[0]).abs() < 1e-3 || (q[0] - b[2]).abs() < 1e-3)
                            && q[1] < b[3]
                            && b[1] < q[3]
                    }
                })
                || e.target.ramp.map(|r| {
                    let (x0, x1) = r.span();
                    (x1 - b[0]).abs() < 1e-3 || (x0 - b[2]).abs() < 1e-3
                }) == Some(true);
            assert!(touching, "seed {seed}: pushed object stopped in mid-air");
        }
    }
    for k in ["push", "drop", "roll", "topple", "stack"] {
        assert!(
            by_kind.get(k).copied().unwrap_or(0) >= 10,
            "too few {k} cases: {by_kind:?}"
        );
    }
}

#[test]
fn every_category_has_a_correct_nonempty_mask() {
    let c = cfg(Split::Test, 3);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..90 {
        let case = generate_case(&c, i).unwrap();
        let m = &case.meta;
        seen.insert(m.category);
        assert!(case.mask.iter().any(|&v| v != 0), "{}: empty mask", m.key);
        assert_eq!(case.mask, diff_mask(&case.source_img, &case.target_img));
        assert_eq!(case.frames.len(), 5);
        assert_eq!(case.frames[0], case.source_img);
        assert_eq!(case.frames[4], case.target_img);
        // Local edits change pixels only near the objects involved.
        if matches!(
            m.kind.as_str(),
            "recolour" | "retexture" | "remove" | "push" | "replace"
        ) {
            let s = c.size;
            let mut allowed = vec![false; s * s];
            let d = 1.5 / s as f32;
            for o in m.source.objects.iter().chain(&m.target.objects) {
                let (so, to) = (m.source.get(o.id), m.target.get(o.id));
                if so == to {
                    continue;
                }
                let mut b = o.bbox();
                if o.hanging {
                    // Its string goes with it.
                    b[1] = 0.0;
                }
                for y in 0..s {
                    for x in 0..s {
                        let (px, py) = ((x as f32 + 0.5) / s as f32, (y as f32 + 0.5) / s as f32);
                        if px >= b[0] - d && px <= b[2] + d && py >= b[1] - d && py <= b[3] + d {
                            allowed[y * s + x] = true;
                        }
                    }
                }
            }
            for (i, &v) in case.mask.iter().enumerate() {
                assert!(
                    v == 0 || allowed[i],
                    "{}: pixel {i} changed away from the edited object",
                    m.key
                );
            }
        }
    }
    assert_eq!(seen.len(), 9);
}

fn literal_fragments(t: &lang::Template) -> Vec<String> {
    let mut v = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for ch in t.text.chars() {
        match ch {
            '{' => {
                depth += 1;
                v.push(std::mem::take(&mut cur));
            }
            '}' => depth -= 1,
            _ if depth == 0 => cur.push(ch),
            _ => {}
        }
    }
    v.push(cur);
    v.into_iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| s.len() >= 4)
        .collect()
}

#[test]
fn test_only_phrasings_never_appear_in_train() {
    let train = generate_many(&cfg(Split::Train, 1), 0, 1200, None).unwrap();
    let test = generate_many(&cfg(Split::Test, 1), 0, 360, None).unwrap();
    let reserved: Vec<&lang::Template> = lang::ALL_TABLES
        .iter()
        .flat_map(|t| t.iter())
        .filter(|t| t.test_only)
        .collect();
    let reserved_ids: Vec<&str> = reserved.iter().map(|t| t.id).collect();
    for c in &train {
        let p = c.meta.prompt.to_lowercase();
        for id in &c.meta.templates {
            assert!(
                !reserved_ids.contains(&id.as_str()),
                "{}: test-only template {id}",
                c.meta.key
            );
            assert!(
                id != "ref.coloured" && id != "ref.furthest",
                "{}: test-only form {id}",
                c.meta.key
            );
        }
        let words = format!(" {} ", p.replace(['.', ',', ';'], " "));
        for t in &reserved {
            // The longest literal piece of each reserved template is distinctive (as whole words).
            let frag = literal_fragments(t)
                .into_iter()
                .max_by_key(|s| s.len())
                .unwrap();
            let frag = format!(" {} ", frag.replace(['.', ',', ';'], " ").trim());
            assert!(
                !words.contains(&frag),
                "{}: '{frag}' of {} in train prompt '{p}'",
                c.meta.key,
                t.id
            );
        }
        for m in lang::TEST_ONLY_REF_MARKERS {
            assert!(!p.contains(m), "{}: '{m}' in train prompt", c.meta.key);
        }
    }
    let used: usize = test
        .iter()
        .filter(|c| {
            c.meta
                .templates
                .iter()
                .any(|id| reserved_ids.contains(&id.as_str()))
        })
        .count();
    assert!(
        used > test.len() / 4,
        "test split uses reserved phrasings in only {used} cases"
    );
    // Many distinct phrasings per category.
    let distinct: std::collections::BTreeSet<&String> =
        train.iter().map(|c| &c.meta.templates[0]).collect();
    assert!(distinct.len() >= 50, "{} templates used", distinct.len());
}

#[test]
fn checker_rejects_few_true_targets() {
    // Cases are kept only when the checker accepts the true target and rejects the source;
    // how often it wrongly rejected a true target measures its reliability.
    let cases = generate_many(&cfg(Split::Test, 9), 0, 360, None).unwrap();
    let attempts: u32 = cases.iter().map(|c| c.meta.attempts).sum();
    let tfail: u32 = cases.iter().map(|c| c.meta.target_fail).sum();
    eprintln!("checker rejected {tfail} true targets in {attempts} attempts");
    // Tolerance: thin shapes in the pixelated style at 64 px are not always readable.
    assert!(
        (tfail as f32) < 0.05 * attempts as f32,
        "{tfail} of {attempts}"
    );
}

#[test]
fn style_detector_and_shape_classifier_read_renders() {
    let mut ok = 0;
    let mut n = 0;
    for seed in 0..120u64 {
        let mut rng = Rng::new(seed);
        let mut s = Scene::random(&mut rng);
        for st in Style::ALL {
            s.style = st;
            let img = render(&s, 64);
            n += 1;
            ok += (detect_style(&img, &s) == st) as usize;
        }
    }
    // Scenes with very few objects can make the outline test weak; allow 2 % errors.
    assert!(
        ok as f32 >= 0.98 * n as f32,
        "style detector right on {ok} of {n}"
    );
    for shape in Shape::ALL {
        for size in [Size::Medium, Size::Large] {
            for x in [0.3f32, 0.4137, 0.55] {
                let o = Object {
                    id: 0,
                    shape,
                    colour: Colour::Red,
                    texture: Texture::Solid,
                    size,
                    x,
                    bottom: FLOOR_Y,
                    hanging: false,
                };
                let sil = silhouette(&o, 64);
                let (xs, ys): (Vec<usize>, Vec<usize>) = (0..64 * 64)
                    .filter(|&i| sil[i])
                    .map(|i| (i % 64, i / 64))
                    .unzip();
                let (x0, x1, y0, y1) = (
                    *xs.iter().min().unwrap(),
                    *xs.iter().max().unwrap(),
                    *ys.iter().min().unwrap(),
                    *ys.iter().max().unwrap(),
                );
                let (w, h) = (x1 + 1 - x0, y1 + 1 - y0);
                let m: Vec<bool> = (0..w * h)
                    .map(|i| sil[(y0 + i / w) * 64 + x0 + i % w])
                    .collect();
                assert_eq!(classify(&m, w, h), Some(shape), "{shape:?} {size:?} at {x}");
            }
        }
    }
}

#[test]
fn checker_tells_right_from_wrong_edits() {
    // Recolour to the named colour passes; to another colour fails. Remove passes only if gone.
    let mut checked = 0;
    for seed in 0..300u64 {
        let mut rng = Rng::new(seed);
        let s = Scene::random(&mut rng);
        let Some(e) = make_edit(&mut rng, &s, Split::Test, Category::Adjust) else {
            continue;
        };
        if e.kind != "recolour" {
            continue;
        }
        let img_t = render(&e.target, 64);
        if !e
            .checks
            .iter()
            .all(|c| c.eval(&img_t, &s, &e.target, &img_t).pass)
        {
            continue;
        }
        let Check::Present { obj, .. } = &e.checks[0] else {
            panic!("recolour check")
        };
        let old = s.get(obj.id).unwrap().colour;
        let wrong_colour = Colour::ALL
            .iter()
            .copied()
            .find(|&c| c != obj.colour && c != old)
            .unwrap();
        let mut wrong = e.target.clone();
        wrong.get_mut(obj.id).unwrap().colour = wrong_colour;
        let img_w = render(&wrong, 64);
        assert!(
            !e.checks
                .iter()
                .all(|c| c.eval(&img_w, &s, &e.target, &img_t).pass),
            "seed {seed}: wrong colour accepted"
        );
        // Recolouring a different object instead also fails.
        if let Some(other) = s
            .objects
            .iter()
            .find(|o| o.id != obj.id && o.colour != obj.colour)
        {
            let mut w2 = s.clone();
            w2.get_mut(other.id).unwrap().colour = obj.colour;
            let img = render(&w2, 64);
            assert!(
                !e.checks
                    .iter()
                    .all(|c| c.eval(&img, &s, &e.target, &img_t).pass),
                "seed {seed}: wrong object accepted"
            );
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} recolour cases");
    // Push to the wrong side fails.
    let mut pushes = 0;
    for seed in 0..400u64 {
        let mut rng = Rng::new(seed);
        let s = Scene::random(&mut rng);
        let Some(e) = make_edit(&mut rng, &s, Split::Test, Category::Action) else {
            continue;
        };
        if e.kind != "push" {
            continue;
        }
        let img_t = render(&e.target, 64);
        if !e
            .checks
            .iter()
            .all(|c| c.eval(&img_t, &s, &e.target, &img_t).pass)
        {
            continue;
        }
        let (id, keys) = &e.motion.as_ref().unwrap().paths[0];
        let dir = (keys[1][0] - keys[0][0]).signum();
        let o = *s.get(*id).unwrap();
        let b = o.bbox();
        let stop = s.obstacle(b[0], b[2], b[1], b[3], -dir, &[o.id]);
        let nx = stop + dir * o.w() / 2.0;
        if (nx - o.x).abs() < o.w() {
            continue;
        }
        let mut wrong = s.clone();
        wrong.get_mut(*id).unwrap().x = nx;
        let img = render(&wrong, 64);
        assert!(
            !e.checks
                .iter()
                .all(|c| c.eval(&img, &s, &e.target, &img_t).pass),
            "seed {seed}: wrong push accepted"
        );
        pushes += 1;
    }
    assert!(pushes >= 10, "only {pushes} push cases");
}

fn eval_dir(
    dir: &Path,
    edited: &str,
    masks: Option<&str>,
) -> std::collections::BTreeMap<String, physedit::world::evaluate::Summary> {
    let cases = load_suite(dir).unwrap();
    let rows = eval_suite(
        dir,
        &cases,
        &dir.join(edited),
        masks.map(|m| dir.join(m)).as_deref(),
        None,
    )
    .unwrap();
    summarise(&rows)
}

#[test]
fn eval_scores_targets_perfect_and_sources_low() {
    let dir = tempfile::tempdir().unwrap();
    let cases = generate_many(&cfg(Split::Test, 21), 0, 90, None).unwrap();
    write_suite(dir.path(), &cases).unwrap();
    let t = eval_dir(dir.path(), "targets", Some("masks"));
    let s = eval_dir(dir.path(), "images", None);
    for c in Category::ALL {
        let (a, b) = (&t[c.name()], &s[c.name()]);
        assert_eq!(a.success, a.n, "{}: targets", c.name());
        assert_eq!(a.psnr, 100.0);
        assert_eq!(a.mask_iou, Some(1.0));
        assert_eq!(b.success, 0, "{}: sources", c.name());
        assert!(
            b.psnr_in_mask < 30.0,
            "{}: source PSNR in mask {}",
            c.name(),
            b.psnr_in_mask
        );
    }
    // Missing pictures count as failures.
    let empty = tempfile::tempdir().unwrap();
    let loaded = load_suite(dir.path()).unwrap();
    let rows = eval_suite(dir.path(), &loaded, empty.path(), None, None).unwrap();
    assert!(rows.iter().all(|r| !r.found && !r.success));
}

#[test]
fn wiping_the_scene_is_not_a_successful_remove() {
    // A picture with every object gone passes a remove case's own check (the object is absent);
    // the untouched objects' presence checks must fail it.
    let dir = tempfile::tempdir().unwrap();
    let cases = generate_many(&cfg(Split::Test, 22), 0, 180, None).unwrap();
    write_suite(dir.path(), &cases).unwrap();
    let metas = load_suite(dir.path()).unwrap();
    let mut wiped = 0;
    for (c, m) in cases.iter().zip(&metas) {
        if m.category != Category::Remove || kept_checks(m, &c.target_img).is_empty() {
            continue;
        }
        let empty = Scene {
            objects: vec![],
            ..m.source.clone()
        };
        let img = render(&empty, m.size);
        let row = eval_case(m, Some(&img), None, dir.path()).unwrap();
        assert!(row.checks.iter().all(|r| r.pass), "{}: remove check", m.key);
        assert!(
            !row.kept_all() && !row.success,
            "{}: wiped scene accepted",
            m.key
        );
        // The true target keeps them all.
        let row = eval_case(m, Some(&c.target_img), None, dir.path()).unwrap();
        assert!(row.kept_all() && row.success, "{}: target", m.key);
        wiped += 1;
    }
    assert!(
        wiped >= 10,
        "only {wiped} remove cases with untouched objects"
    );
}

#[test]
fn shards_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let c = GenConfig {
        split: Split::Train,
        seed: 4,
        size: 32,
        n_frames: 9,
    };
    let cases = generate_many(&c, 0, 12, None).unwrap();
    let st = dir.path().join("shard-00000.safetensors");
    let jl = dir.path().join("shard-00000.jsonl");
    write_shard(&st, &jl, &cases).unwrap();
    let bytes = std::fs::read(&st).unwrap();
    let t = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let frames = t.tensor("frames").unwrap();
    assert_eq!(frames.shape(), &[12, 9, 32, 32, 3]);
    assert_eq!(frames.dtype(), safetensors::Dtype::U8);
    assert_eq!(t.tensor("source").unwrap().shape(), &[12, 32, 32, 3]);
    assert_eq!(t.tensor("mask").unwrap().shape(), &[12, 32, 32]);
    let tgt = t.tensor("target").unwrap();
    assert_eq!(
        &tgt.data()[5 * 32 * 32 * 3..6 * 32 * 32 * 3],
        &cases[5].target_img.data[..]
    );
    let f = &frames.data()[(3 * 9 + 4) * 32 * 32 * 3..(3 * 9 + 5) * 32 * 32 * 3];
    assert_eq!(f, &cases[3].frames[4].data[..]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[7]["prompt"], cases[7].meta.prompt.as_str());
    let cat = t.tensor("category").unwrap().data()[7] as usize;
    assert_eq!(Category::ALL[cat].name(), lines[7]["edit_type"]);
}

#[test]
fn committed_test_split_is_complete_and_reproducible() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/world/test");
    let cases = load_suite(&dir).expect("data/world/test must hold the committed test split");
    assert_eq!(cases.len(), 300);
    for c in Category::ALL {
        assert!(
            cases.iter().filter(|m| m.category == c).count() >= 30,
            "{}",
            c.name()
        );
    }
    // The generator still produces exactly the committed cases.
    for m in cases.iter().step_by(29) {
        let g = generate_case(
            &GenConfig {
                split: m.split,
                seed: m.seed,
                size: m.size,
                n_frames: m.n_frames,
            },
            m.index,
        )
        .unwrap();
        assert_eq!(g.meta.prompt, m.prompt, "{}", m.key);
        let t = physedit::world::io::load_image(
            &dir.join("targets").join(format!("{}.png", m.key)),
            m.size,
        )
        .unwrap();
        assert_eq!(t, g.target_img, "{}", m.key);
    }
    let s = eval_dir(&dir, "targets", None);
    assert_eq!(s["all"].success, 300);
}

#[test]
fn trajectories_are_simulated_for_actions_and_flagged_otherwise() {
    use physedit::world::Trajectory;
    let cases = generate_many(&cfg(Split::Test, 33), 0, 180, None).unwrap();
    let mut mixed = 0;
    for c in &cases {
        let m = &c.meta;
        match m.category {
            Category::Action => {
                assert_eq!(m.trajectory, Trajectory::Simulated, "{}", m.key);
                // Every intermediate frame shows the world in motion, neither end.
                for f in &c.frames[1..4] {
                    assert_ne!(f, &c.source_img, "{}", m.key);
                    assert_ne!(f, &c.target_img, "{}", m.key);
                }
            }
            Category::Compose => {
                mixed += (m.trajectory == Trajectory::Mixed) as usize;
                assert_ne!(m.trajectory, Trajectory::Simulated, "{}", m.key);
            }
            _ => {
                assert_eq!(m.trajectory, Trajectory::Crossfade, "{}", m.key);
                // Cross-fade: the middle frame is the rounded blend at t = 1/2.
                for (k, v) in c.frames[2].data.iter().enumerate() {
                    let (a, b) = (c.source_img.data[k] as f32, c.target_img.data[k] as f32);
                    assert_eq!(*v as f32, (a + (b - a) * 0.5).round());
                }
            }
        }
    }
    assert!(mixed > 0, "no compose case with an action part");
}

/// Light [1 2 1] x [1 2 1] / 16 blur, as a stand-in for a good but imperfect editor.
fn blur121(img: &physedit::world::render::Image) -> physedit::world::render::Image {
    let n = img.size;
    let mut o = img.clone();
    let w = [1u32, 2, 1];
    for y in 0..n {
        for x in 0..n {
            for c in 0..3 {
                let (mut s, mut k) = (0u32, 0u32);
                for dy in 0..3usize {
                    for dx in 0..3usize {
                        let (xx, yy) = (x as i32 + dx as i32 - 1, y as i32 + dy as i32 - 1);
                        if xx >= 0 && yy >= 0 && (xx as usize) < n && (yy as usize) < n {
                            s += w[dx]
                                * w[dy]
                                * img.data[(yy as usize * n + xx as usize) * 3 + c] as u32;
                            k += w[dx] * w[dy];
                        }
                    }
                }
                o.data[(y * n + x) * 3 + c] = ((s + k / 2) / k) as u8;
            }
        }
    }
    o
}

#[test]
fn checker_tolerates_lightly_blurred_targets() {
    // The checker reads objects by nearest colour, so a lightly blurred but right edit still
    // passes most of the time; the style category is excluded (a blur changes the style).
    let cases = generate_many(&cfg(Split::Test, 0), 0, 180, None).unwrap();
    let (mut ok, mut n) = (0, 0);
    for c in cases.iter().filter(|c| c.meta.category != Category::Style) {
        let m = &c.meta;
        let img = blur121(&c.target_img);
        n += 1;
        ok += m
            .checks
            .iter()
            .all(|k| k.eval(&img, &m.source, &m.target, &c.target_img).pass) as usize;
    }
    eprintln!("blurred targets accepted: {ok}/{n}");
    // Measured 146/160 (91 %) here; thin rings and cups at 64 px are the usual misses.
    assert!(ok as f32 >= 0.75 * n as f32, "{ok}/{n}");
}
