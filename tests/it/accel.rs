//! Accelerations on the committed tiny random pipeline (tests/fixtures/heldout): switched off they
//! reproduce the exact edit bit for bit; the step cache never reuses across a change of the latent
//! video; the guidance tail runs one branch; RPFI lands the unedited region on the input's latent;
//! `bench --fidelity-to` measures identical pictures as identical.
use std::process::Command;

use candle_core::{IndexOp, Tensor};
use physedit::adaptive::accel::{Acceleration, CachePolicy, CacheSettings};
use physedit::adaptive::srm::{Probe, SrmConfig, TokenMask};
use physedit::eval::bench::{read_results, BenchRecord};
use physedit::pipeline::chronoedit::{
    AdaptiveOptions, ChronoEditPipeline, EditOutput, EditRequest, LoadOptions,
};
use physedit::processors::video::image_to_video_tensor;

use crate::common::{copy_dir, fixture, max_abs_diff};

fn load_pipe() -> ChronoEditPipeline {
    let dir = fixture("heldout").join("pipeline");
    ChronoEditPipeline::load(&dir, &LoadOptions::default()).expect("load heldout pipeline")
}

fn image() -> image::DynamicImage {
    physedit::util::open_image(&fixture("heldout").join("input.png")).unwrap()
}

fn request(num_frames: usize, steps: usize, reasoning_steps: usize) -> EditRequest {
    EditRequest {
        prompt: "Push the red ball to the right.".into(),
        negative_prompt: String::new(),
        steps,
        guidance: 5.0,
        height: 32,
        width: 32,
        num_frames,
        temporal_reasoning: reasoning_steps > 0,
        reasoning_steps,
        temporal_positions: None,
        latents: None,
        seed: 11,
        flow_shift: None,
    }
}

fn run(pipe: &ChronoEditPipeline, req: &EditRequest, opts: &AdaptiveOptions) -> EditOutput {
    pipe.edit_with(&image(), req, opts, &mut |_, _| {}).unwrap()
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

fn with(accel: Acceleration, srm: Option<SrmConfig>) -> AdaptiveOptions {
    let mut region = TokenMask::empty(2, 2);
    region.keep[1] = true;
    AdaptiveOptions {
        srm,
        accel,
        region_mask: Some(region),
    }
}

#[test]
fn switched_off_accelerations_reproduce_the_exact_edit_bit_for_bit() {
    let pipe = load_pipe();
    // r = 2 reasoning frames for 3 of 6 steps, with a given 1-token SRM mask so RPFI has a region.
    let req = request(13, 6, 3);
    let mut m = TokenMask::empty(2, 2);
    m.keep[0] = true;
    let srm = Some(SrmConfig {
        probe: Probe::Given(m),
        ..Default::default()
    });
    let exact = run(&pipe, &req, &with(Acceleration::default(), srm.clone()));
    let off = [
        Acceleration {
            cache: Some(CacheSettings::new(CachePolicy::Easy, 0.0)),
            ..Default::default()
        },
        Acceleration {
            cfg_tail: Some(0.0),
            ..Default::default()
        },
        Acceleration {
            fbcache: Some(0.0),
            ..Default::default()
        },
        Acceleration {
            rpfi: Some(0.0),
            ..Default::default()
        },
        // Settling at the last step: nothing is ever held.
        Acceleration {
            region: Some(1.0),
            ..Default::default()
        },
    ];
    for accel in off {
        let out = run(&pipe, &req, &with(accel, srm.clone()));
        assert_eq!(
            bits(&out.frames),
            bits(&exact.frames),
            "{accel} changed the edit"
        );
        assert!(out.reused_steps.is_empty());
        assert_eq!(out.forwards, vec![2; 6]);
    }
    // Switched on, each one changes the edit (so the comparison above can fail).
    let on = [
        Acceleration {
            cache: Some(CacheSettings::new(CachePolicy::Easy, 1e9)),
            ..Default::default()
        },
        Acceleration {
            cfg_tail: Some(0.5),
            ..Default::default()
        },
        Acceleration {
            rpfi: Some(1.5),
            ..Default::default()
        },
        Acceleration {
            region: Some(0.5),
            ..Default::default()
        },
    ];
    for accel in on {
        let out = run(&pipe, &req, &with(accel, srm.clone()));
        assert_ne!(
            bits(&out.frames),
            bits(&exact.frames),
            "{accel} did nothing"
        );
    }
}

#[test]
fn the_cache_never_reuses_across_the_reasoning_drop_the_warmup_or_the_last_step() {
    let pipe = load_pipe();
    let steps = 12;
    for nr in [4, 7] {
        let req = request(13, steps, nr);
        let mut settings = CacheSettings::new(CachePolicy::Easy, 1e9);
        settings.max_skips = 100;
        settings.warmup = 0.0;
        let out = run(
            &pipe,
            &req,
            &with(
                Acceleration {
                    cache: Some(settings),
                    ..Default::default()
                },
                None,
            ),
        );
        // The step where the frame count changes, and the one after (no change rate measured
        // yet on the new video), the first two steps (warm-up minimum) and the last step compute.
        let reused = &out.reused_steps;
        for must in [0, 1, nr, nr + 1, steps - 1] {
            assert!(
                !reused.contains(&must),
                "N_r {nr}: step {must} reused ({reused:?})"
            );
        }
        // Everything else is reused at an unbounded threshold (so the test can fail).
        let expected: Vec<usize> = (2..steps - 1)
            .filter(|i| ![nr, nr + 1].contains(i))
            .collect();
        assert_eq!(reused, &expected, "N_r {nr}");
        for (i, &f) in out.forwards.iter().enumerate() {
            assert_eq!(f, if reused.contains(&i) { 0 } else { 2 }, "step {i}");
        }
    }
}

#[test]
fn first_block_caching_reuses_the_stack_within_one_video_and_branch_count() {
    // tiny_a: two blocks, so skipping all but the first changes the prediction.
    let dir = fixture("tiny_a").join("pipeline");
    let pipe = ChronoEditPipeline::load(&dir, &LoadOptions::default()).expect("load tiny_a");
    let (steps, nr) = (8, 3);
    let req = request(13, steps, nr);
    let fb = |t: f64| {
        with(
            Acceleration {
                fbcache: Some(t),
                ..Default::default()
            },
            None,
        )
    };
    let exact = run(&pipe, &req, &AdaptiveOptions::default());
    let off = run(&pipe, &req, &fb(0.0));
    assert_eq!(bits(&off.frames), bits(&exact.frames));
    assert!(off.reused_steps.is_empty());
    assert_eq!(off.head_forwards, vec![0; steps]);
    // At an unbounded threshold every step reuses except the first and the first after the
    // reasoning drop (no residual of that video yet); a reused step runs the first block of both
    // branches and no whole forward.
    let loose = run(&pipe, &req, &fb(1e9));
    let expected: Vec<usize> = (0..steps).filter(|&i| i != 0 && i != nr).collect();
    assert_eq!(loose.reused_steps, expected);
    for i in 0..steps {
        let reused = expected.contains(&i);
        assert_eq!(loose.forwards[i], if reused { 0 } else { 2 }, "step {i}");
        assert_eq!(
            loose.head_forwards[i],
            if reused { 2 } else { 0 },
            "step {i}"
        );
    }
    // Its FLOPs: two whole forwards per computed step, a first block per reused forward.
    let dims = physedit::adaptive::cost::ModelDims::from_model_dir(&dir).unwrap();
    let (full, cached) = (
        exact.transformer_flops(&dims).steps,
        loose.transformer_flops(&dims).steps,
    );
    assert!(cached < full, "{cached} of {full}");
    assert_ne!(bits(&loose.frames), bits(&exact.frames));
}

#[test]
fn the_guidance_tail_runs_only_the_conditional_branch_over_the_last_steps() {
    let pipe = load_pipe();
    let req = request(5, 10, 0);
    let out = run(
        &pipe,
        &req,
        &with(
            Acceleration {
                cfg_tail: Some(0.3),
                ..Default::default()
            },
            None,
        ),
    );
    assert_eq!(out.forwards, [2, 2, 2, 2, 2, 2, 2, 1, 1, 1]);
    // Without CFG there is no tail to take.
    let req1 = EditRequest {
        guidance: 1.0,
        ..req
    };
    let exact = run(&pipe, &req1, &AdaptiveOptions::default());
    let tail = run(
        &pipe,
        &req1,
        &with(
            Acceleration {
                cfg_tail: Some(0.3),
                ..Default::default()
            },
            None,
        ),
    );
    assert_eq!(bits(&tail.frames), bits(&exact.frames));
}

#[test]
fn rpfi_lands_the_unedited_region_on_the_input_latent() {
    let pipe = load_pipe();
    // Reasoning through every step: α reaches 1 and the last step ends at σ = 0, so outside the
    // region the output frame's latent is the input frame's clean latent.
    let (steps, frames) = (6, 13);
    let req = request(frames, steps, steps);
    let mut m = TokenMask::empty(2, 2);
    m.keep[3] = true;
    let out = run(
        &pipe,
        &req,
        &with(
            Acceleration {
                rpfi: Some(1.5),
                ..Default::default()
            },
            Some(SrmConfig {
                probe: Probe::Given(m),
                ..Default::default()
            }),
        ),
    );
    assert_eq!(out.rpfi_steps, Some(steps));
    let video = image_to_video_tensor(&image(), 32, 32).unwrap();
    let condition = pipe.prepare_condition(&video, frames).unwrap();
    let z = pipe.vae.config().z_dim;
    let channels = pipe.vae.temporal_scale();
    let z_in = condition
        .narrow(1, channels, z)
        .unwrap()
        .narrow(2, 0, 1)
        .unwrap();
    let expected = pipe.vae.denormalize_latents(&z_in).unwrap();
    let f = out.final_latents.dim(2).unwrap();
    let last = out.final_latents.narrow(2, f - 1, 1).unwrap();
    // Latent grid 4x4, patch 2: token 3 is the bottom-right 2x2 cells.
    let (outside, inside) = (
        last.i((.., .., .., 0..2, ..)).unwrap(),
        last.i((.., .., .., 2.., 2..)).unwrap(),
    );
    let (exp_out, exp_in) = (
        expected.i((.., .., .., 0..2, ..)).unwrap(),
        expected.i((.., .., .., 2.., 2..)).unwrap(),
    );
    let d = max_abs_diff(&outside, &exp_out);
    assert!(d < 1e-5, "outside the region: {d}");
    // Inside the region the model's own edit stays.
    assert!(max_abs_diff(&inside, &exp_in) > 1e-2);
}

fn physedit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_physedit"))
}

#[test]
fn bench_fidelity_to_an_identical_recipe_is_infinite_psnr_and_ssim_one() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(fixture("heldout").join("input.png"), images.join("a.png")).unwrap();
    let suite = dir.path().join("suite.json");
    std::fs::write(
        &suite,
        r#"{"a": {"id": "a.png", "prompt": "Make the ball red.", "edit_type": "adjust"},
            "b": {"id": "a.png", "prompt": "Push the ball to the right.", "edit_type": "action"}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let model = fixture("tiny_a").join("pipeline");
    let res = physedit()
        .args(["bench", "--suite"])
        .arg(&suite)
        .arg("--images")
        .arg(&images)
        .arg("--model")
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .args([
            "--recipes",
            "physedit,physedit+cache=0,physedit+cfgtail=0.5",
            "--fidelity-to",
            "physedit",
            "--steps",
            "4",
            "--height",
            "32",
            "--width",
            "32",
            "--warmup-steps",
            "0",
            "--cpu",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    let records: Vec<BenchRecord> = read_results(&out.join("results.jsonl")).unwrap();
    assert_eq!(records.len(), 6);
    for r in &records {
        let (p, s) = (r.fidelity_psnr.unwrap(), r.fidelity_ssim.unwrap());
        if r.recipe == "physedit+cfgtail=0.5" {
            assert!(p.is_finite() && s < 1.0, "{}: {p} {s}", r.key);
        } else {
            assert_eq!((p, s), (f64::INFINITY, 1.0), "{} {}", r.key, r.recipe);
        }
    }
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert!(text.contains(r#""fidelity_psnr":"inf""#), "{text}");
    let csv = std::fs::read_to_string(out.join("report.csv")).unwrap();
    assert!(
        csv.lines().next().unwrap().contains("fidelity_psnr,"),
        "{csv}"
    );
    // An unknown reference is an error naming the flag.
    let bad = physedit()
        .args(["bench", "--suite"])
        .arg(&suite)
        .arg("--images")
        .arg(&images)
        .arg("--model")
        .arg(&model)
        .arg("--out")
        .arg(dir.path().join("out2"))
        .args([
            "--recipes",
            "physedit",
            "--fidelity-to",
            "no-reasoning",
            "--cpu",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--fidelity-to"));
}

#[test]
fn region_aware_denoising_holds_the_output_frame_outside_the_region() {
    let pipe = load_pipe();
    let steps = 8;
    let req = request(5, steps, 0);
    let out = run(
        &pipe,
        &req,
        &with(
            Acceleration {
                region: Some(0.5),
                ..Default::default()
            },
            None,
        ),
    );
    // 2 frames of 4 tokens; from step 4 on the output frame computes only its 1 region token.
    assert_eq!(out.tokens_per_step, [8, 8, 8, 8, 5, 5, 5, 5]);
    assert_eq!(out.region_held_steps, Some(4));
    // A full region holds nothing.
    let full = AdaptiveOptions {
        region_mask: Some(TokenMask::full(2, 2)),
        ..with(
            Acceleration {
                region: Some(0.5),
                ..Default::default()
            },
            None,
        )
    };
    let exact = run(&pipe, &req, &AdaptiveOptions::default());
    assert_eq!(bits(&run(&pipe, &req, &full).frames), bits(&exact.frames));
    // A mask of the wrong grid is an error naming it.
    let bad = AdaptiveOptions {
        region_mask: Some(TokenMask::full(3, 3)),
        ..full
    };
    let err = pipe
        .edit_with(&image(), &req, &bad, &mut |_, _| {})
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("edit region mask is 3x3"),
        "{err:#}"
    );
}

#[test]
fn a_mask_picture_becomes_the_region_white_or_transparent() {
    use physedit::util::mask_region;
    // No alpha: white pixels may change.
    let mut rgb = image::RgbImage::new(8, 8);
    for y in 0..4 {
        for x in 0..4 {
            rgb.put_pixel(x, y, image::Rgb([255, 255, 255]));
        }
    }
    let r = mask_region(&image::DynamicImage::ImageRgb8(rgb));
    assert_eq!((r.get_pixel(1, 1)[0], r.get_pixel(6, 6)[0]), (255, 0));
    // With transparency, transparent pixels may change (whatever their colour).
    let mut rgba = image::RgbaImage::from_pixel(8, 8, image::Rgba([255, 255, 255, 255]));
    rgba.put_pixel(6, 7, image::Rgba([0, 0, 0, 0]));
    let r = mask_region(&image::DynamicImage::ImageRgba8(rgba));
    assert_eq!((r.get_pixel(6, 7)[0], r.get_pixel(1, 1)[0]), (255, 0));
    assert_eq!(r.pixels().filter(|p| p[0] == 255).count(), 1);
}

/// TeaCache's rule: every computed step after a computed predecessor records the modulation's
/// and the residual's relative L1 change (what `physedit calibrate` fits); the policy reuses by
/// its polynomial of the modulation change and refuses to run uncalibrated.
#[test]
fn the_tea_policy_reads_its_polynomial_and_records_what_calibrate_fits() {
    let mut pipe = load_pipe();
    let (steps, nr) = (10, 3);
    let req = request(13, steps, nr);
    let tea = |t: f64| {
        let mut s = CacheSettings::new(CachePolicy::Tea, t);
        s.max_skips = 100;
        s.warmup = 0.0;
        with(
            Acceleration {
                cache: Some(s),
                ..Default::default()
            },
            None,
        )
    };
    let e = pipe
        .edit_with(&image(), &req, &tea(0.1), &mut |_, _| {})
        .err()
        .expect("tea without coefficients");
    assert!(format!("{e:#}").contains("physedit calibrate"), "{e:#}");

    // Threshold 0 computes every step: pairs at every step but the first and the reasoning drop.
    pipe.defaults.cache_tea_coefficients = Some(vec![1.0, 0.0]);
    let exact = run(&pipe, &req, &AdaptiveOptions::default());
    let all = run(&pipe, &req, &tea(0.0));
    assert_eq!(bits(&all.frames), bits(&exact.frames));
    let at: Vec<usize> = all.change_pairs.iter().map(|p| p.0).collect();
    let want: Vec<usize> = (1..steps).filter(|&i| i != nr).collect();
    assert_eq!(at, want);
    for &(i, dm, dr) in &all.change_pairs {
        assert!(
            dm > 0.0 && dm.is_finite() && dr > 0.0 && dr.is_finite(),
            "step {i}: {dm} {dr}"
        );
    }

    // y = x with a threshold between the modulation changes: a step is reused exactly while the
    // accumulated change stays under it (never the first two steps, the drop or the last step;
    // unlike `easy`, the step after the drop needs no measured rate).
    let threshold = {
        let mut d: Vec<f64> = all.change_pairs.iter().map(|p| p.1).collect();
        d.sort_by(|a, b| a.total_cmp(b));
        d[d.len() / 2]
    };
    let out = run(&pipe, &req, &tea(threshold));
    let change: std::collections::HashMap<usize, f64> =
        all.change_pairs.iter().map(|p| (p.0, p.1)).collect();
    let mut acc = 0.0;
    let mut expected = Vec::new();
    for i in 0..steps {
        let eligible = i >= 2 && i != nr && i + 1 < steps;
        match change.get(&i) {
            Some(&dm) if eligible && acc + dm < threshold => {
                acc += dm;
                expected.push(i);
            }
            _ => acc = 0.0,
        }
    }
    assert!(!expected.is_empty(), "the threshold must allow some reuse");
    assert_eq!(out.reused_steps, expected);
    // A polynomial that predicts a large change everywhere reuses nothing.
    pipe.defaults.cache_tea_coefficients = Some(vec![1e9]);
    assert!(run(&pipe, &req, &tea(1.0)).reused_steps.is_empty());
}

#[test]
fn calibrate_writes_the_tea_polynomial_into_the_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    copy_dir(&fixture("heldout").join("pipeline"), &model);
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(fixture("heldout").join("input.png"), images.join("a.png")).unwrap();
    let suite = dir.path().join("suite.json");
    std::fs::write(
        &suite,
        r#"{"a": {"id": "a.png", "prompt": "Make the ball red.", "edit_type": "adjust"},
            "b": {"id": "a.png", "prompt": "Push the ball to the right.", "edit_type": "action"},
            "c": {"id": "a.png", "prompt": "Remove the ball.", "edit_type": "remove"}}"#,
    )
    .unwrap();
    let res = physedit()
        .args(["calibrate", "--model"])
        .arg(&model)
        .arg("--suite")
        .arg(&suite)
        .arg("--images")
        .arg(&images)
        .args(["--steps", "8", "--cpu"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{err}");
    assert!(err.contains("tea polynomial"), "{err}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("physedit.json")).unwrap())
            .unwrap();
    let k = written["cache_tea_coefficients"].as_array().unwrap();
    assert_eq!(k.len(), 5);
    assert!(k.iter().all(|v| v.as_f64().unwrap().is_finite()));
    // The folder loads with it, and `teacache=` runs on it.
    let pipe = ChronoEditPipeline::load(&model, &LoadOptions::default()).unwrap();
    assert_eq!(
        pipe.defaults.cache_tea_coefficients.as_ref().unwrap().len(),
        5
    );
}

/// Reasoning-frame caching: at k = 1 the edit is exact; at k = 2 the reasoning frames are computed
/// at even reasoning steps only (the held steps compute the input and output frames alone) and
/// the edit changes.
#[test]
fn reasoning_frame_caching_computes_the_reasoning_frames_every_kth_reasoning_step() {
    let pipe = load_pipe();
    let (steps, nr) = (8, 5);
    // 13 video frames: 4 latent frames, two of them reasoning frames; a 2x2 token grid each.
    let req = request(13, steps, nr);
    let every = |k: usize| {
        with(
            Acceleration {
                reasoning_every: Some(k),
                ..Default::default()
            },
            None,
        )
    };
    let exact = run(&pipe, &req, &AdaptiveOptions::default());
    let one = run(&pipe, &req, &every(1));
    assert_eq!(bits(&one.frames), bits(&exact.frames));
    assert_eq!(one.reasoning_held_steps, None);
    let two = run(&pipe, &req, &every(2));
    assert_eq!(two.reasoning_held_steps, Some(2));
    let tokens: Vec<usize> = two.tokens_per_step.clone();
    assert_eq!(tokens, [16, 8, 16, 8, 16, 8, 8, 8], "{tokens:?}");
    assert_eq!(exact.tokens_per_step, [16, 16, 16, 16, 16, 8, 8, 8]);
    assert_ne!(bits(&two.frames), bits(&exact.frames));
    // Without reasoning frames there is nothing to hold.
    let plain = run(&pipe, &request(5, steps, 0), &every(2));
    assert_eq!(plain.reasoning_held_steps, None);
}
