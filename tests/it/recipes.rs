//! Recipes end to end on the committed tiny random pipeline (tests/fixtures/heldout): every reasoning
//! depth r from 0 to the model's maximum, the CLI's plan/flag precedence, and `physedit edit
//! --recipe ... --report ... --mask-out ...`.
use crate::common::fixture;
use std::process::Command;

use physedit::adaptive::card::{Category, Tier};
use physedit::adaptive::plan::{
    resolve, Overrides, Plan, Resolved, Schedule, Variant, VideoGeometry, TRAINED_REASONING_FRAMES,
};
use physedit::adaptive::srm::{Probe, SrmConfig};
use physedit::pipeline::chronoedit::{
    AdaptiveOptions, ChronoEditPipeline, EditRequest, LoadOptions,
};

fn plan(steps: usize, reasoning_steps: usize, r: usize, srm: bool) -> Plan {
    Plan {
        recipe: "test".into(),
        predictor: "test".into(),
        category: Category::Action,
        complexity: 0.5,
        tier: Tier::Mid,
        steps,
        reasoning_steps,
        reasoning_frames: r,
        srm,
        guidance: 5.0,
        flow_shift: None,
        accel: Default::default(),
        reason: String::new(),
    }
}

#[test]
fn every_reasoning_depth_runs_with_the_right_shapes() {
    let dir = fixture("heldout").join("pipeline");
    assert!(
        dir.join("model_index.json").is_file(),
        "missing fixture {}",
        dir.display()
    );
    let pipe = ChronoEditPipeline::load(&dir, &LoadOptions::default()).unwrap();
    let image = physedit::util::open_image(&fixture("heldout").join("input.png")).unwrap();
    let skip = pipe.transformer.config().rope_temporal_skip_len;
    let max_r = skip - 2;
    assert_eq!(max_r, TRAINED_REASONING_FRAMES);
    for r in 0..=max_r {
        // Reasoning through every step (the reasoning video is decoded) and for one of two steps.
        for (nr, probe) in [(2usize, Probe::FirstStep), (1, Probe::Pass { sigma: 0.8 })] {
            let nr = if r == 0 { 0 } else { nr };
            let p = plan(2, nr, r, r > 0);
            let Resolved { schedule, .. } =
                resolve(&p, &Overrides::default(), pipe.geometry()).unwrap();
            let req = EditRequest::planned(
                "Push the red ball to the right.",
                &schedule,
                (32, 32),
                r as u64,
            );
            assert_eq!(req.num_frames, 4 * (r + 1) + 1);
            if r == 0 || r == max_r {
                assert_eq!(req.temporal_positions, None, "r = {r}: default positions");
            } else {
                let pos = req.temporal_positions.clone().expect("plan positions");
                assert_eq!(pos.len(), r + 2);
                assert_eq!((pos[0], pos[r + 1]), (0, skip - 1));
            }
            let opts = AdaptiveOptions {
                srm: p.srm.then(|| SrmConfig {
                    probe,
                    ..Default::default()
                }),
                ..Default::default()
            };
            let out = pipe.edit_with(&image, &req, &opts, &mut |_, _| {}).unwrap();
            let frames = if r > 0 && nr == 2 { 4 * (r + 1) + 1 } else { 5 };
            assert_eq!(
                out.frames.dims(),
                &[frames, 3, 32, 32],
                "r = {r}, N_r = {nr}"
            );
            let latent_frames = if r > 0 && nr == 2 { r + 2 } else { 2 };
            assert_eq!(out.final_latents.dims()[2], latent_frames);
            assert_eq!(out.tokens_per_step.len(), 2);
            // 2 x 2 tokens per frame; pruned steps compute fewer tokens than the whole video.
            if nr > 0 {
                assert!(out.tokens_per_step[0] <= (r + 2) * 4 && out.tokens_per_step[0] >= 8);
            }
            assert_eq!(out.srm.is_some(), r > 0, "r = {r}");
            let v: Vec<f32> = out.frames.flatten_all().unwrap().to_vec1().unwrap();
            assert!(v.iter().all(|x| x.is_finite() && (0.0..=1.0).contains(x)));
        }
    }
}

const GEOMETRY: VideoGeometry = VideoGeometry {
    rope_temporal_skip_len: 8,
    temporal_scale: 4,
};

/// `resolve` on the 14B's geometry: the effective plan and its schedule.
fn resolve_plan(plan: &Plan, o: &Overrides) -> (Plan, Schedule) {
    let r = resolve(plan, o, GEOMETRY).unwrap();
    (r.plan, r.schedule)
}

#[test]
fn plan_values_without_flags() {
    // CARD's mid tier: r = 3, N_r = 10 of 50, SRM.
    let (p, s) = resolve_plan(&plan(50, 10, 3, true), &Overrides::default());
    assert_eq!(p.reasoning_frames, 3);
    assert_eq!((s.steps, s.num_frames, s.reasoning_steps), (50, 17, 10));
    assert!(s.srm);
    assert_eq!(s.temporal_positions, Some(vec![0, 2, 4, 5, 7]));
    // The reference recipe keeps the default positions (None), so it runs the reference exactly.
    let (_, s) = resolve_plan(&plan(50, 50, 6, false), &Overrides::default());
    assert_eq!(
        (s.num_frames, s.reasoning_steps, s.temporal_positions),
        (29, 50, None)
    );
    // No reasoning.
    let (_, s) = resolve_plan(&plan(50, 0, 0, false), &Overrides::default());
    assert_eq!((s.num_frames, s.reasoning_steps, s.srm), (5, 0, false));
}

#[test]
fn explicit_flags_run_the_reference_behaviour() {
    let mid = plan(50, 10, 3, true);
    // --num-frames 9 --reasoning-steps 1 (tests/it/cli.rs): r = 1, N_r = 1, default positions, no SRM.
    let o = Overrides {
        steps: Some(3),
        guidance: Some(5.0),
        num_frames: Some(9),
        reasoning_steps: Some(1),
        srm: None,
        accel: Default::default(),
    };
    let (p, s) = resolve_plan(&mid, &o);
    assert_eq!((s.steps, s.num_frames, s.reasoning_steps), (3, 9, 1));
    assert_eq!(p.reasoning_frames, 1);
    assert_eq!(s.temporal_positions, None);
    assert!(!s.srm);
    // --num-frames 5 alone: no reasoning, whatever the plan.
    let o = Overrides {
        num_frames: Some(5),
        ..Default::default()
    };
    let (_, s) = resolve_plan(&plan(50, 50, 6, true), &o);
    assert_eq!((s.num_frames, s.reasoning_steps, s.srm), (5, 0, false));
    // --reasoning-steps alone keeps the plan's r (or 6 when the plan has none).
    let o = Overrides {
        reasoning_steps: Some(4),
        ..Default::default()
    };
    let (_, s) = resolve_plan(&mid, &o);
    assert_eq!((s.num_frames, s.reasoning_steps), (17, 4));
    let (_, s) = resolve_plan(&plan(50, 0, 0, false), &o);
    assert_eq!((s.num_frames, s.reasoning_steps), (29, 4));
    // --srm on still applies with explicit flags; --srm off turns the plan's SRM off.
    let o = Overrides {
        reasoning_steps: Some(4),
        srm: Some(true),
        ..Default::default()
    };
    assert!(resolve_plan(&mid, &o).1.srm);
    let o = Overrides {
        srm: Some(false),
        ..Default::default()
    };
    assert!(!resolve_plan(&mid, &o).1.srm);
    // --steps keeps N_r's share of the steps: 10 of 50 -> round(10 * 6 / 50) = 1 of 6; halves
    // round up (10 of 50 at 25 steps -> 5; 3 of 50 at 25 -> 2); a reasoning plan keeps at least 1.
    let o = |steps| Overrides {
        steps: Some(steps),
        ..Default::default()
    };
    let (_, s) = resolve_plan(&mid, &o(6));
    assert_eq!((s.steps, s.reasoning_steps), (6, 1));
    assert_eq!(resolve_plan(&mid, &o(25)).1.reasoning_steps, 5);
    assert_eq!(
        resolve_plan(&plan(50, 3, 3, true), &o(25))
            .1
            .reasoning_steps,
        2
    );
    assert_eq!(
        resolve_plan(&plan(50, 1, 3, true), &o(2)).1.reasoning_steps,
        1
    );
    assert_eq!(
        resolve_plan(&plan(50, 50, 6, false), &o(7))
            .1
            .reasoning_steps,
        7
    );
    assert_eq!(
        resolve_plan(&plan(50, 0, 0, false), &o(7))
            .1
            .reasoning_steps,
        0
    );
    assert!(resolve(&mid, &o(0), GEOMETRY).is_err());
}

fn physedit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_physedit"))
}

#[test]
fn cli_recipe_report_and_mask() {
    let dir = fixture("heldout");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.png");
    let report = tmp.path().join("report.json");
    let mask = tmp.path().join("mask.png");
    let res = physedit()
        .arg("edit")
        .arg("--model")
        .arg(dir.join("pipeline"))
        .arg("--image")
        .arg(dir.join("input.png"))
        .args(["--prompt", "Push the red ball to the right."])
        .args(["--recipe", "srm-only", "--steps", "2"])
        .args(["--height", "32", "--width", "32"])
        .arg("--report")
        .arg(&report)
        .arg("--mask-out")
        .arg(&mask)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "edit failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["recipe"], "srm-only");
    assert_eq!(r["plan"]["steps"], 2);
    assert_eq!(r["plan"]["reasoning_steps"], 2);
    assert_eq!(r["plan"]["reasoning_frames"], 6);
    assert_eq!(r["request"]["num_frames"], 29);
    assert!(r["srm"]["mask"]["keep"].as_array().unwrap().len() == 4);
    let cov = r["mask_coverage"].as_f64().unwrap();
    assert!(cov > 0.0 && cov <= 1.0);
    let tokens = r["tokens_per_step"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(
        tokens[0], 32,
        "first-step probe: step 0 computes all 8 frames x 4 tokens"
    );
    assert!(r["flops"]["estimate"]["total"].as_f64().unwrap() > 0.0);
    assert!(
        r["flops"]["executed_transformer"]["total"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    for k in [
        "load_s",
        "encode_s",
        "denoise_s",
        "probe_s",
        "decode_s",
        "total_s",
    ] {
        assert!(r["times"][k].as_f64().is_some(), "times.{k}");
    }
    let m = image::open(&mask).unwrap();
    assert_eq!((m.width(), m.height()), (32, 32));

    // An unknown recipe is refused with the list of recipes.
    let res = physedit()
        .arg("edit")
        .arg("--model")
        .arg(dir.join("pipeline"))
        .arg("--image")
        .arg(dir.join("input.png"))
        .args(["--prompt", "x", "--recipe", "fastest", "-o"])
        .arg(tmp.path().join("o2.png"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        !res.status.success() && err.contains("chronoedit-reasoning"),
        "{err}"
    );
}

/// Runs `physedit edit` on the held-out fixture with `args` and returns its `--report`.
fn heldout_report(tmp: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let dir = fixture("heldout");
    let report = tmp.join("report.json");
    let res = physedit()
        .arg("edit")
        .arg("--model")
        .arg(dir.join("pipeline"))
        .arg("--image")
        .arg(dir.join("input.png"))
        .args(args)
        .arg("--report")
        .arg(&report)
        .arg("-o")
        .arg(tmp.join("out.png"))
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "edit failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
}

/// `physedit edit`, `physedit bench` (its library route, `eval::bench::bench_plan`) and
/// `bench_recipes` (which calls `Planner::resolve` directly) turn the same plan and `--steps` into
/// the same request: the edit's `--report` records the schedule it ran.
#[test]
fn edit_and_bench_give_the_same_request() {
    use physedit::adaptive::plan::{Planner, Recipe};
    use physedit::eval::bench::{bench_plan, BenchOptions};
    let dir = fixture("heldout");
    let pipe = ChronoEditPipeline::load(&dir.join("pipeline"), &LoadOptions::default()).unwrap();
    let image = physedit::util::open_image(&dir.join("input.png")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let prompt = "Push the red ball off the table so it falls.";
    for recipe in [Recipe::Physedit, Recipe::ChronoeditShort] {
        for steps in [3usize, 7] {
            let steps_arg = steps.to_string();
            let r = heldout_report(
                tmp.path(),
                &[
                    "--prompt",
                    prompt,
                    "--recipe",
                    recipe.name(),
                    "--steps",
                    &steps_arg,
                ],
            );
            let opts = BenchOptions {
                steps: Some(steps),
                ..Default::default()
            };
            let bench = bench_plan(
                &Planner::default(),
                &image,
                prompt,
                &Variant::from(recipe),
                &opts,
                (pipe.geometry(), pipe.defaults.guidance_scale),
            )
            .unwrap();
            assert_eq!(
                r["request"],
                serde_json::to_value(&bench.schedule).unwrap(),
                "{recipe} at {steps} steps"
            );
            let direct = Planner::default()
                .resolve(
                    recipe,
                    &physedit::adaptive::card::CardInput {
                        image: Some(&physedit::adaptive::card::ImageCues::from_rgb(
                            image.width(),
                            image.height(),
                            image.to_rgb8().as_raw(),
                        )),
                        ..physedit::adaptive::card::CardInput::new(prompt)
                    },
                    &Overrides {
                        steps: Some(steps),
                        ..Default::default()
                    },
                    pipe.geometry(),
                )
                .unwrap()
                .1;
            assert_eq!(direct.schedule, bench.schedule, "{recipe} at {steps} steps");
        }
    }
    // The plans reason here, so the step override is exercised (chronoedit-short: N_r 10 of 50
    // -> 1 of 3, 1 of 7).
    let short = bench_plan(
        &Planner::default(),
        &image,
        prompt,
        &Variant::from(Recipe::ChronoeditShort),
        &BenchOptions {
            steps: Some(7),
            ..Default::default()
        },
        (pipe.geometry(), None),
    )
    .unwrap();
    assert_eq!(
        (short.schedule.steps, short.schedule.reasoning_steps),
        (7, 1)
    );
}

/// The distilled recipes: 8 steps, CFG 1, flow shift 2; CARD's N_r keeps its share of the steps.
#[test]
fn distilled_recipes_plan_the_distilled_sampler() {
    use physedit::adaptive::card::{Prediction, RulePredictor};
    use physedit::adaptive::plan::{
        plan_for_prediction, PlanTable, Recipe, DISTILL_FLOW_SHIFT, DISTILL_GUIDANCE, DISTILL_STEPS,
    };
    let table = PlanTable::default();
    let pred = |tier| Prediction {
        category: Category::Action,
        complexity: 0.5,
        tier,
        reason: "test".into(),
    };
    let p = plan_for_prediction(
        Recipe::ChronoeditDistill,
        &pred(Tier::High),
        &table,
        "rules",
    );
    assert_eq!(
        (p.steps, p.reasoning_steps, p.guidance, p.flow_shift),
        (DISTILL_STEPS, 0, DISTILL_GUIDANCE, Some(DISTILL_FLOW_SHIFT))
    );
    assert_eq!((p.steps, p.guidance, p.flow_shift), (8, 1.0, Some(2.0)));
    for tier in [Tier::Low, Tier::Mid, Tier::High] {
        let full = plan_for_prediction(Recipe::Physedit, &pred(tier), &table, "rules");
        let d = plan_for_prediction(Recipe::PhyseditDistill, &pred(tier), &table, "rules");
        assert_eq!(d.steps, 8);
        assert_eq!(d.reasoning_frames, full.reasoning_frames, "{tier}");
        assert_eq!(d.srm, full.srm, "{tier}");
        // The default table's 10 of 50 -> round(10 * 8 / 50) = 2 of 8.
        let expect = if full.reasoning_steps == 0 { 0 } else { 2 };
        assert_eq!(d.reasoning_steps, expect, "{tier}");
    }
    // The schedule carries the shift to the pipeline.
    let d = plan_for_prediction(Recipe::PhyseditDistill, &pred(Tier::Mid), &table, "rules");
    let s = resolve(&d, &Overrides::default(), GEOMETRY)
        .unwrap()
        .schedule;
    assert_eq!((s.steps, s.guidance, s.flow_shift), (8, 1.0, Some(2.0)));
    // A `shift=` part replaces the recipe's shift; without it the plan's stands.
    let mut o = Overrides::default();
    o.accel.apply_part("shift=3.5").unwrap();
    assert_eq!(
        resolve(&d, &o, GEOMETRY).unwrap().schedule.flow_shift,
        Some(3.5)
    );
    let full = plan_for_prediction(Recipe::Physedit, &pred(Tier::Mid), &table, "rules");
    assert_eq!(
        resolve(&full, &o, GEOMETRY).unwrap().schedule.flow_shift,
        Some(3.5)
    );
    let _ = RulePredictor;
}

/// `physedit-turbo` is `physedit-distill`'s plan with the table's `[turbo]` step cache and nothing
/// else; `fast_steps` moves `physedit-fast` to that many steps with N_r keeping its share, as
/// `--steps` does.
#[test]
fn turbo_and_fast_steps_plan_what_they_say() {
    use physedit::adaptive::card::Prediction;
    use physedit::adaptive::plan::{plan_for_prediction, PlanTable, Recipe};
    let pred = |tier| Prediction {
        category: Category::Action,
        complexity: 0.5,
        tier,
        reason: "test".into(),
    };
    let mut table = PlanTable::default();
    // The shipped physedit-fast: 6 steps in every tier (10 of 50 reasoning steps keep their share:
    // round(10 * 6 / 50) = 1 of 6), sampled with flow shift 4.
    let at = |tier, table: &PlanTable| {
        let f = plan_for_prediction(Recipe::PhyseditFast, &pred(tier), table, "rules");
        (f.steps, f.reasoning_steps)
    };
    assert_eq!(at(Tier::Low, &table), (6, 0));
    assert_eq!(at(Tier::Mid, &table), (6, 1));
    assert_eq!(at(Tier::High, &table), (6, 1));
    let f = plan_for_prediction(Recipe::PhyseditFast, &pred(Tier::Mid), &table, "rules");
    let s = resolve(&f, &Overrides::default(), GEOMETRY)
        .unwrap()
        .schedule;
    assert_eq!(s.flow_shift, Some(4.0));
    let full = plan_for_prediction(Recipe::Physedit, &pred(Tier::Mid), &table, "rules");
    let s = resolve(&full, &Overrides::default(), GEOMETRY)
        .unwrap()
        .schedule;
    assert_eq!(
        s.flow_shift, None,
        "the exact plan keeps the folder's shift"
    );
    // A tier's own count replaces the table's: round(10 * 4 / 50) = 1 of 4.
    let mut per_tier = table.clone();
    per_tier.low.fast_steps = Some(5);
    per_tier.high.fast_steps = Some(4);
    per_tier.validate().unwrap();
    per_tier.mid.fast_steps = Some(8);
    assert_eq!(at(Tier::Low, &per_tier), (5, 0));
    assert_eq!(at(Tier::Mid, &per_tier), (8, 2));
    assert_eq!(at(Tier::High, &per_tier), (4, 1));
    per_tier.low.fast_steps = Some(0);
    assert!(per_tier.validate().is_err());
    for tier in [Tier::Low, Tier::Mid, Tier::High] {
        let d = plan_for_prediction(Recipe::PhyseditDistill, &pred(tier), &table, "rules");
        let t = plan_for_prediction(Recipe::PhyseditTurbo, &pred(tier), &table, "rules");
        assert_eq!(
            (
                t.steps,
                t.reasoning_steps,
                t.reasoning_frames,
                t.srm,
                t.guidance,
                t.flow_shift
            ),
            (
                d.steps,
                d.reasoning_steps,
                d.reasoning_frames,
                d.srm,
                d.guidance,
                d.flow_shift
            ),
            "{tier}"
        );
        assert!(d.accel.is_off());
        assert_eq!(t.accel, table.turbo);
        assert!(t.accel.cache.is_some(), "the shipped [turbo] caches steps");
        assert_eq!(t.accel.cfg_tail, None);
    }
    table.fast_steps = Some(20);
    table.validate().unwrap();
    for tier in [Tier::Low, Tier::Mid, Tier::High] {
        let full = plan_for_prediction(Recipe::Physedit, &pred(tier), &table, "rules");
        let f = plan_for_prediction(Recipe::PhyseditFast, &pred(tier), &table, "rules");
        assert_eq!(f.steps, 20);
        // The default table's 10 of 50 -> 4 of 20.
        let expect = if full.reasoning_steps == 0 { 0 } else { 4 };
        assert_eq!(f.reasoning_steps, expect, "{tier}");
        assert_eq!(f.reasoning_frames, full.reasoning_frames);
        assert_eq!(f.accel, table.accel.merged(&table.fast));
        // The other recipes keep the table's steps.
        assert_eq!(full.steps, 50);
    }
    table.fast_steps = Some(0);
    assert!(table.validate().is_err());
}

/// A flow-shift override reaches the scheduler: the folder's UniPC (shift 5) sampled with shift 1
/// gives the unshifted sigmas u, with shift 2 gives 2u / (1 + u) (diffusers' static shift).
#[test]
fn flow_shift_override_reaches_the_scheduler() {
    let cfg = fixture("heldout")
        .join("pipeline")
        .join("scheduler")
        .join("scheduler_config.json");
    let sigmas = |shift: Option<f64>| {
        let mut s = physedit::schedulers::from_config_file_with_shift(&cfg, shift).unwrap();
        s.set_timesteps(8).unwrap();
        s.sigmas().to_vec()
    };
    let (folder, u, two) = (sigmas(None), sigmas(Some(1.0)), sigmas(Some(2.0)));
    assert_eq!(folder, sigmas(Some(5.0)), "the folder's own shift is 5");
    assert_ne!(folder, two);
    // All but the appended final sigma; f32 schedules, so compare to f32 rounding.
    for (a, b) in u.iter().zip(&two).take(u.len() - 1) {
        let expect = 2.0 * *a as f64 / (1.0 + *a as f64);
        assert!(
            (expect - *b as f64).abs() < 1e-6,
            "{a} -> {b}, expected {expect}"
        );
    }
    assert!(physedit::schedulers::from_config_file_with_shift(&cfg, Some(-1.0)).is_err());
}

/// `--recipe chronoedit-distill` runs end to end: 8 steps of one transformer pass each.
#[test]
fn distilled_recipe_runs_with_one_pass_per_step() {
    let tmp = tempfile::tempdir().unwrap();
    let r = heldout_report(
        tmp.path(),
        &[
            "--prompt",
            "Push the red ball off the table so it falls.",
            "--recipe",
            "physedit-distill",
        ],
    );
    assert_eq!(r["request"]["steps"], 8);
    assert_eq!(r["request"]["guidance"], 1.0);
    assert_eq!(r["request"]["flow_shift"], 2.0);
    assert_eq!(r["forwards_per_step"], 1);
    assert_eq!(r["tokens_per_step"].as_array().unwrap().len(), 8);
}

/// `--recipe comfy-template` runs ComfyUI's ChronoEdit template: 20 steps, CFG 4 (two passes a step),
/// flow shift 5, 2 latent frames.
#[test]
fn comfy_template_recipe_runs_the_templates_schedule() {
    let tmp = tempfile::tempdir().unwrap();
    let r = heldout_report(
        tmp.path(),
        &[
            "--prompt",
            "Push the red ball off the table so it falls.",
            "--recipe",
            "comfy-template",
            "--steps",
            "4",
        ],
    );
    // --steps shortens it for the test; the plan recorded is the template's.
    assert_eq!(r["recipe_plan"]["steps"], 20);
    assert_eq!(r["recipe_plan"]["guidance"], 4.0);
    assert_eq!(r["recipe_plan"]["reasoning_steps"], 0);
    assert_eq!(r["request"]["steps"], 4);
    assert_eq!(r["request"]["guidance"], 4.0);
    assert_eq!(r["request"]["flow_shift"], 5.0);
    assert_eq!(r["request"]["num_frames"], 5);
    assert_eq!(r["forwards_per_step"], 2);
}
