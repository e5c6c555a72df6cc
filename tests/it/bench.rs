//! `physedit bench` end to end on a generated ImgEdit-format suite with the tiny random ChronoEdit
//! pipeline and the tiny random CLIP fixtures: outputs, error lines for malformed entries, agreement
//! with `physedit score`, resuming after a real kill, sharding and merging.
use crate::common::fixture;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use physedit::adaptive::plan::{Planner, Recipe, Variant, VideoGeometry};
use physedit::eval::bench::{
    bench_plan, latest_per_pair, read_results, select, BenchOptions, BenchRecord, ResultsWriter,
    Selection, Shard,
};
use physedit::pipeline::chronoedit::output_size;
use physedit::suite::Suite;

fn physedit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_physedit"))
}

/// Valid cases (key, edit_type) of the generated suite.
const VALID: [(&str, &str); 3] = [("c0", "add"), ("c1", "action"), ("c2", "style")];

/// Writes a small ImgEdit-format suite under `dir`: generated images for three valid cases and
/// five malformed entries (unknown edit_type, missing key, an entry that is not an object, a
/// missing image, an undecodable image). Returns (suite.json, images root).
fn tiny_suite(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("suite");
    std::fs::create_dir_all(root.join("images")).unwrap();
    for (i, (key, _)) in VALID.iter().enumerate() {
        let img = image::RgbImage::from_fn(40, 36, |x, y| {
            image::Rgb([
                (x * 6 + i as u32 * 40) as u8,
                (y * 7) as u8,
                ((x + y) * 3) as u8,
            ])
        });
        img.save(root.join("images").join(format!("{key}.png")))
            .unwrap();
    }
    std::fs::write(root.join("images").join("broken.png"), b"not a png").unwrap();
    let suite = r#"{
  "c0": {"id": "images/c0.png", "prompt": "Add a red ball next to the cup.", "edit_type": "add"},
  "bad_type": {"id": "images/c0.png", "prompt": "Teleport the cup.", "edit_type": "teleport"},
  "c1": {"id": "images/c1.png", "prompt": "Push the ball off the table so it falls.", "edit_type": "action"},
  "no_prompt": {"id": "images/c1.png", "edit_type": "add"},
  "not_object": [1, 2, 3],
  "no_image": {"id": "images/missing.png", "prompt": "Remove the cup.", "edit_type": "remove"},
  "broken_image": {"id": "images/broken.png", "prompt": "Remove the ball.", "edit_type": "remove"},
  "c2": {"id": "images/c2.png", "prompt": "Make it look like a watercolor painting.", "edit_type": "style"}
}"#;
    let path = root.join("suite.json");
    std::fs::write(&path, suite).unwrap();
    (path, root)
}

const N_ENTRIES: usize = 8;

fn bench_args(suite: &Path, images: &Path, out: &Path, recipes: &str, steps: usize) -> Vec<String> {
    [
        "bench",
        "--suite",
        &suite.display().to_string(),
        "--images",
        &images.display().to_string(),
        "--model",
        &fixture("tiny_a").join("pipeline").display().to_string(),
        "--out",
        &out.display().to_string(),
        "--recipes",
        recipes,
        "--steps",
        &steps.to_string(),
        "--height",
        "32",
        "--width",
        "32",
        "--warmup-steps",
        "1",
        "--cpu",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_ok(args: &[String]) -> String {
    let res = physedit().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "physedit {args:?} failed: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    String::from_utf8_lossy(&res.stdout).into_owned() + &stderr
}

fn pairs(records: &[BenchRecord]) -> Vec<(String, String, bool)> {
    let mut v: Vec<_> = records.iter().map(|r| r.pair()).collect();
    v.sort();
    v
}

fn assert_png(path: &Path) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(img.width() > 0 && img.height() > 0);
}

#[test]
fn bench_end_to_end_with_clip_matches_score() {
    let tmp = tempfile::tempdir().unwrap();
    let (suite, images) = tiny_suite(tmp.path());
    let out = tmp.path().join("out");
    let mut args = bench_args(&suite, &images, &out, "chronoedit-reasoning,physedit", 2);
    args.extend([
        "--clip".into(),
        fixture("clip").join("model").display().to_string(),
    ]);
    run_ok(&args);

    let lines = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let records = read_results(&out.join("results.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), N_ENTRIES * 2, "{lines}");
    assert_eq!(records.len(), N_ENTRIES * 2);
    assert_eq!(
        pairs(&latest_per_pair(&records)).len(),
        N_ENTRIES * 2,
        "duplicated pairs"
    );
    // Every line carries the documented fields.
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for f in [
            "key",
            "recipe",
            "edit_type",
            "seconds",
            "reasoning_steps",
            "reasoning_frames",
            "steps",
            "mask_coverage",
            "clip_t",
            "clip_i",
        ] {
            assert!(v.get(f).is_some(), "line lacks {f}: {line}");
        }
    }
    let by: HashMap<(String, String), &BenchRecord> = records
        .iter()
        .map(|r| ((r.key.clone(), r.recipe.clone()), r))
        .collect();
    for recipe in ["chronoedit-reasoning", "physedit"] {
        for (key, et) in VALID {
            let r = by[&(key.to_string(), recipe.to_string())];
            assert!(r.error.is_none(), "{key}/{recipe}: {:?}", r.error);
            assert_eq!(r.edit_type.as_deref(), Some(et));
            assert!(r.seconds.unwrap() > 0.0);
            assert!(r.clip_t.is_some() && r.clip_i.is_some());
            assert_eq!(r.steps, Some(2));
            assert_png(&out.join(recipe).join(format!("{key}.png")));
        }
        // The reference recipe reasons through every step with 6 frames.
        let r = by[&("c0".to_string(), "chronoedit-reasoning".to_string())];
        assert_eq!((r.reasoning_steps, r.reasoning_frames), (Some(2), Some(6)));
        for (key, needle) in [
            ("bad_type", "unknown edit_type"),
            ("no_prompt", "missing field \"prompt\""),
            ("not_object", "not an object"),
            ("no_image", "missing.png"),
            ("broken_image", "cannot decode image"),
        ] {
            let r = by[&(key.to_string(), recipe.to_string())];
            let e = r
                .error
                .as_deref()
                .unwrap_or_else(|| panic!("{key}: no error"));
            assert!(e.contains(needle), "{key}: `{e}` lacks `{needle}`");
            assert!(r.seconds.is_none());
            assert!(!out.join(recipe).join(format!("{key}.png")).exists());
        }
    }

    for f in ["report.md", "report.json", "report.csv"] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    assert_png(&out.join("speedup.png"));
    assert_png(&out.join("clip_t_vs_seconds.png"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for g in ["## add", "## action", "## style", "## remove", "## overall"] {
        assert!(md.contains(g), "report.md lacks {g}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let overall = report["groups"].as_array().unwrap().last().unwrap();
    assert_eq!(overall["group"], "overall");
    let base = &overall["recipes"][0];
    assert_eq!(base["recipe"], "chronoedit-reasoning");
    assert_eq!(base["n"], 3);
    assert_eq!(base["errors"], 5);
    // The baseline against itself: every resample's ratio is exactly 1.
    assert_eq!(base["speedup"]["value"], 1.0);
    assert_eq!(base["speedup"]["lo"], 1.0);

    // `bench report` regenerates the same report (fixed bootstrap seed).
    let before = std::fs::read_to_string(out.join("report.json")).unwrap();
    run_ok(&["bench".into(), "report".into(), out.display().to_string()]);
    assert_eq!(
        before,
        std::fs::read_to_string(out.join("report.json")).unwrap()
    );

    // Without a usable font (a file that is not one stands in for a machine without fonts) the
    // plots are drawn without text and the report is unchanged.
    for f in ["speedup.png", "clip_t_vs_seconds.png"] {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    let not_a_font = tmp.path().join("not_a_font.ttf");
    std::fs::write(&not_a_font, b"no glyphs here").unwrap();
    let res = physedit()
        .args(["bench", "report"])
        .arg(&out)
        .env("PHYSEDIT_PLOT_FONT", &not_a_font)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_png(&out.join("speedup.png"));
    assert_png(&out.join("clip_t_vs_seconds.png"));
    assert_eq!(
        before,
        std::fs::read_to_string(out.join("report.json")).unwrap()
    );

    // `physedit score` on the same outputs gives the bench lines' CLIP numbers.
    for recipe in ["chronoedit-reasoning", "physedit"] {
        let scores = tmp.path().join(format!("{recipe}.jsonl"));
        let res = physedit()
            .args(["score", "--suite"])
            .arg(&suite)
            .arg("--images")
            .arg(&images)
            .arg("--edited")
            .arg(out.join(recipe))
            .arg("--clip")
            .arg(fixture("clip").join("model"))
            .arg("-o")
            .arg(&scores)
            .output()
            .unwrap();
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        let text = std::fs::read_to_string(&scores).unwrap();
        let mut matched = 0;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = v["key"].as_str().unwrap().to_string();
            if v.get("error").is_some() {
                continue;
            }
            let r = by[&(key.clone(), recipe.to_string())];
            // Same code on the same PNG file and the same CPU kernels: the numbers agree to
            // rounding noise of threaded reductions at most.
            let dt = (v["clip_t"].as_f64().unwrap() - r.clip_t.unwrap()).abs();
            let di = (v["clip_i"].as_f64().unwrap() - r.clip_i.unwrap()).abs();
            assert!(dt < 1e-6 && di < 1e-6, "{key}/{recipe}: {dt} {di}");
            matched += 1;
        }
        assert_eq!(matched, VALID.len());
    }
}

#[test]
fn resume_after_kill_loses_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (suite, images) = tiny_suite(tmp.path());
    let out = tmp.path().join("out");
    // More steps make each edit slow enough (about a second) that the kill lands mid-run.
    let args = bench_args(
        &suite,
        &images,
        &out,
        "chronoedit-reasoning,no-reasoning",
        12,
    );
    let mut child = physedit()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let results = out.join("results.jsonl");
    let start = Instant::now();
    let first_done = |p: &Path| {
        read_results(p)
            .map(|r| r.iter().any(|r| r.seconds.is_some()))
            .unwrap_or(false)
    };
    while !first_done(&results) {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("no finished pair within 120 s");
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("bench exited ({status}) before it could be killed; make the run slower");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = read_results(&results).unwrap();
    let total = N_ENTRIES * 2;
    assert!(
        !partial.is_empty() && partial.len() < total,
        "the kill did not interrupt the run: {} of {total} lines",
        partial.len()
    );
    // Every image written so far is whole (temporary file + rename).
    for r in partial.iter().filter(|r| r.seconds.is_some()) {
        assert_png(&out.join(&r.recipe).join(format!("{}.png", r.key)));
    }

    let log = run_ok(&args);
    assert!(log.contains("already done"), "{log}");
    let records = read_results(&results).unwrap();
    assert_eq!(records.len(), total, "lines after resume");
    let set: HashSet<_> = records.iter().map(|r| r.pair()).collect();
    assert_eq!(set.len(), total, "a pair was duplicated");
    // The lines written before the kill are kept unchanged at the start of the file.
    assert_eq!(records[..partial.len()], partial[..]);
    for r in &records {
        if VALID.iter().any(|(k, _)| *k == r.key) {
            assert!(r.error.is_none(), "{r:?}");
            assert_png(&out.join(&r.recipe).join(format!("{}.png", r.key)));
        }
    }
    // No temporary image of the killed run is left behind.
    for recipe in ["chronoedit-reasoning", "no-reasoning"] {
        for e in std::fs::read_dir(out.join(recipe)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp."), "temporary file left: {name}");
        }
    }
    // While a run holds the folder a second one is refused; the killed run's lock was taken over.
    let lock = out.join(".bench.lock");
    assert!(!lock.exists(), "lock left after a finished run");
    let mut holder = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(&lock, holder.id().to_string()).unwrap();
    let res = physedit().args(&args).output().unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        !res.status.success() && stderr.contains("another bench run"),
        "{stderr}"
    );
    assert_eq!(read_results(&results).unwrap().len(), total);
    // A third run (the holder is gone, its lock stale) has nothing to do.
    let log = run_ok(&args);
    assert!(log.contains("0 pairs run"), "{log}");
    assert_eq!(read_results(&results).unwrap().len(), total);
}

#[test]
fn shards_partition_the_suite_and_merge_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (suite, images) = tiny_suite(tmp.path());
    let mut outs = Vec::new();
    for i in 0..2 {
        let out = tmp.path().join(format!("shard{i}"));
        let mut args = bench_args(&suite, &images, &out, "no-reasoning,card-only", 1);
        args.extend(["--shard".into(), format!("{i}/2")]);
        let w = args.iter().position(|a| a == "--warmup-steps").unwrap();
        args[w + 1] = "0".into();
        run_ok(&args);
        outs.push(out);
    }
    let a = read_results(&outs[0].join("results.jsonl")).unwrap();
    let b = read_results(&outs[1].join("results.jsonl")).unwrap();
    let ka: HashSet<_> = a.iter().map(|r| r.key.clone()).collect();
    let kb: HashSet<_> = b.iter().map(|r| r.key.clone()).collect();
    assert!(ka.is_disjoint(&kb), "shards overlap: {ka:?} {kb:?}");
    assert_eq!(ka.len() + kb.len(), N_ENTRIES);

    let merged = tmp.path().join("merged");
    let mut args: Vec<String> = vec!["bench".into(), "merge".into()];
    args.extend(outs.iter().map(|o| o.display().to_string()));
    args.extend(["-o".into(), merged.display().to_string()]);
    run_ok(&args);
    let m = read_results(&merged.join("results.jsonl")).unwrap();
    assert_eq!(m.len(), N_ENTRIES * 2);
    let mut expect: Vec<_> = a.iter().chain(b.iter()).map(|r| r.pair()).collect();
    expect.sort();
    assert_eq!(pairs(&m), expect);
    for (key, _) in VALID {
        for recipe in ["no-reasoning", "card-only"] {
            assert_png(&merged.join(recipe).join(format!("{key}.png")));
        }
    }
    assert!(merged.join("report.md").is_file());
    assert_png(&merged.join("speedup.png"));
    // Without --clip there is no CLIP plot and the CLIP columns are empty.
    assert!(!merged.join("clip_t_vs_seconds.png").exists());
}

#[test]
fn unreadable_suite_and_bad_flags_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (suite, images) = tiny_suite(tmp.path());
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"a\": {\"id\": ").unwrap();
    let out = tmp.path().join("out");
    for (args, needle) in [
        (
            bench_args(&bad, &images, &out, "physedit", 1),
            "invalid suite",
        ),
        (
            bench_args(&suite, &images, &out, "physedit,teleport", 1),
            "invalid value 'teleport' for '--recipes",
        ),
        (
            {
                let mut a = bench_args(&suite, &images, &out, "physedit", 1);
                a.extend(["--shard".into(), "2/2".into()]);
                a
            },
            "--shard",
        ),
        (
            {
                let mut a = bench_args(&suite, &images, &out, "physedit", 1);
                a.extend(["--categories".into(), "add,flying".into()]);
                a
            },
            "unknown edit type",
        ),
    ] {
        let res = physedit().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(!res.status.success(), "expected failure for {needle}");
        assert!(stderr.contains(needle), "`{stderr}` lacks `{needle}`");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn torn_last_line_is_ignored_and_cut_before_appending() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("results.jsonl");
    let rec = |key: &str| BenchRecord {
        key: key.into(),
        recipe: "physedit".into(),
        edit_type: Some("add".into()),
        seconds: Some(1.5),
        reasoning_steps: Some(10),
        reasoning_frames: Some(3),
        steps: Some(50),
        ..Default::default()
    };
    let whole = serde_json::to_string(&rec("a")).unwrap();
    std::fs::write(&path, format!("{whole}\n{{\"key\":\"b\",\"reci")).unwrap();
    assert_eq!(read_results(&path).unwrap(), vec![rec("a")]);
    let mut w = ResultsWriter::open(&path).unwrap();
    w.append(&rec("c")).unwrap();
    drop(w);
    assert_eq!(read_results(&path).unwrap(), vec![rec("a"), rec("c")]);
    // A complete line that is not a record is an error naming the line.
    std::fs::write(&path, format!("{whole}\nnot json\n")).unwrap();
    let e = format!("{:#}", read_results(&path).unwrap_err());
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn selection_filters_limits_and_shards_in_file_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (suite, _) = tiny_suite(tmp.path());
    let suite = Suite::from_file(&suite).unwrap();
    let key = |e: &physedit::suite::SuiteEntry| match e {
        physedit::suite::SuiteEntry::Case(c) => c.key.clone(),
        physedit::suite::SuiteEntry::Invalid(e) => e.key.clone(),
    };
    let all: Vec<String> = select(&suite, &Selection::default())
        .unwrap()
        .iter()
        .map(key)
        .collect();
    assert_eq!(all.len(), N_ENTRIES);
    assert_eq!(all[0], "c0");
    let sel =
        |s: Selection| -> Vec<String> { select(&suite, &s).unwrap().iter().map(key).collect() };
    assert_eq!(
        sel(Selection {
            categories: Some(vec!["remove".into(), "style".into()]),
            ..Default::default()
        }),
        ["no_image", "broken_image", "c2"]
    );
    assert_eq!(
        sel(Selection {
            limit: Some(3),
            ..Default::default()
        }),
        ["c0", "bad_type", "c1"]
    );
    let mut union = Vec::new();
    for i in 0..3 {
        union.extend(sel(Selection {
            shard: Some(Shard { index: i, count: 3 }),
            ..Default::default()
        }));
    }
    union.sort();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(union, sorted);
    assert!("3/3".parse::<Shard>().is_err());
    assert!("1/0".parse::<Shard>().is_err());
    assert_eq!(
        "1/4".parse::<Shard>().unwrap(),
        Shard { index: 1, count: 4 }
    );
}

#[test]
fn step_override_keeps_the_reasoning_share() {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::new(64, 48));
    let opts = BenchOptions {
        steps: Some(5),
        ..Default::default()
    };
    let geometry = VideoGeometry {
        rope_temporal_skip_len: 8,
        temporal_scale: 4,
    };
    let plan = |r: Recipe, o: &BenchOptions| {
        bench_plan(
            &Planner::default(),
            &img,
            "Push the ball off the table.",
            &Variant::from(r),
            o,
            (geometry, None),
        )
        .unwrap()
        .plan
    };
    let p = plan(Recipe::ChronoeditReasoning, &opts);
    assert_eq!((p.steps, p.reasoning_steps, p.reasoning_frames), (5, 5, 6));
    // N_r 10 of 50 steps -> round(10 * 5 / 50) = 1.
    let p = plan(Recipe::ChronoeditShort, &opts);
    assert_eq!((p.steps, p.reasoning_steps, p.reasoning_frames), (5, 1, 6));
    let p = plan(Recipe::NoReasoning, &opts);
    assert_eq!((p.steps, p.reasoning_steps, p.num_frames()), (5, 0, 5));
    // Without overrides the plans are the recipes' own.
    let p = plan(Recipe::ChronoeditReasoning, &BenchOptions::default());
    assert_eq!((p.steps, p.reasoning_steps, p.num_frames()), (50, 50, 29));
    // The model's recommended guidance applies without --guidance, as in `physedit edit`.
    let r = bench_plan(
        &Planner::default(),
        &img,
        "x",
        &Variant::from(Recipe::Physedit),
        &BenchOptions::default(),
        (geometry, Some(2.5)),
    )
    .unwrap();
    assert_eq!(r.schedule.guidance, 2.5);
    // ... but not to the distilled recipes, whose LoRA samples without CFG.
    let r = bench_plan(
        &Planner::default(),
        &img,
        "x",
        &Variant::from(Recipe::ChronoeditDistill),
        &BenchOptions::default(),
        (geometry, Some(2.5)),
    )
    .unwrap();
    assert_eq!(r.schedule.guidance, 1.0);
    assert!(bench_plan(
        &Planner::default(),
        &img,
        "x",
        &Variant::from(Recipe::Physedit),
        &BenchOptions {
            steps: Some(0),
            ..Default::default()
        },
        (geometry, None),
    )
    .is_err());
    // Default size: the input's own, rounded down to the model's multiple.
    assert_eq!(output_size(16, &img, None, None).unwrap(), (48, 64));
    assert_eq!(output_size(16, &img, Some(32), None).unwrap(), (32, 64));
    assert!(output_size(16, &img, Some(40), None).is_err());
}

#[test]
fn the_frontier_pairs_speeds_by_case_marks_baselines_and_picks_the_goal() {
    use physedit::eval::frontier::{build_frontier, goal, plot, to_markdown};
    let rec = |key: &str, recipe: &str, secs: f64, psnr: f64| BenchRecord {
        key: key.into(),
        recipe: recipe.into(),
        edit_type: Some("add".into()),
        seconds: Some(secs),
        fidelity_psnr: Some(psnr),
        ..Default::default()
    };
    let mut records = Vec::new();
    for (k, scale) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
        records.push(rec(k, "chronoedit-reasoning", 8.0 * scale, 25.0));
        records.push(rec(k, "comfy-template", 1.0 * scale, 28.0));
        records.push(rec(k, "physedit", 2.0 * scale, f64::INFINITY));
        // Faster than the template and faithful: the goal.
        records.push(rec(k, "physedit+fbcache=0.1", 0.5 * scale, 35.0));
        // Slower and less faithful than the one above: dominated.
        records.push(rec(k, "physedit+cache=0.1", 0.8 * scale, 33.0));
        // Fastest, but one case under the worst-case bar.
        let worst = if k == "b" { 20.0 } else { 40.0 };
        records.push(rec(k, "physedit+steps=10", 0.25 * scale, worst));
    }
    let recipes: Vec<String> = [
        "chronoedit-reasoning",
        "comfy-template",
        "physedit",
        "physedit+fbcache=0.1",
        "physedit+cache=0.1",
        "physedit+steps=10",
    ]
    .map(String::from)
    .to_vec();
    let rows = build_frontier(&records, &recipes, "physedit", &Default::default()).unwrap();
    let by = |n: &str| rows.iter().find(|r| r.recipe == n).unwrap();
    // Speeds are ratios of mean seconds over the paired cases.
    let fb = by("physedit+fbcache=0.1");
    assert!((fb.speedup_vs_exact.unwrap().value - 4.0).abs() < 1e-9);
    let vs: Vec<(&str, f64)> = fb
        .speedup_vs
        .iter()
        .map(|(b, v)| (b.as_str(), v.unwrap().value))
        .collect();
    assert_eq!(
        vs,
        [("chronoedit-reasoning", 16.0), ("comfy-template", 2.0)]
    );
    assert_eq!(fb.worst_fidelity, Some(35.0));
    let on: Vec<&str> = rows
        .iter()
        .filter(|r| r.on_frontier)
        .map(|r| r.recipe.as_str())
        .collect();
    assert_eq!(
        on,
        ["physedit", "physedit+fbcache=0.1", "physedit+steps=10"]
    );
    assert!(by("comfy-template").baseline && !by("physedit").baseline);
    let g = goal(&rows, "chronoedit-reasoning");
    assert_eq!(g.chosen.as_deref(), Some("physedit+fbcache=0.1"));
    let md = to_markdown(&rows, "physedit", &g);
    assert!(md.contains("**physedit+fbcache=0.1**"), "{md}");
    assert!(md.contains("comfy-template (baseline)"), "{md}");
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("frontier.png");
    plot(&png, &rows, "physedit").unwrap();
    assert!(image::open(&png).is_ok());
    // Without the exact recipe's results there is no speed to measure.
    assert!(build_frontier(&records, &recipes, "no-reasoning", &Default::default()).is_err());
}
