//! Whole-pipeline parity with diffusers' ChronoEditPipeline on the committed tiny random fixtures
//! (tools/reference/make_fixtures.py wrote them with torch + diffusers): same initial latents in,
//! same frames out, with reasoning off, partial and through every step, both schedulers.
use crate::common::{fixture, run_request};
use std::collections::HashMap;

use candle_core::{Device, Tensor};
use physedit::pipeline::chronoedit::{ChronoEditPipeline, LoadOptions};

use crate::common::max_abs_diff;

/// Frames are in [0, 1]. The project's bar for whole-pipeline parity in f32 is 2e-3; measured
/// differences are below 1e-5 (only summation order differs), so 1e-4 is held to catch drift early.
const FRAME_TOL: f32 = 1e-4;

fn load_reference(case: &str) -> HashMap<String, Tensor> {
    let path = fixture(case).join("reference.safetensors");
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("missing reference fixture {}: {e}", path.display()))
}

fn run_case(case: &str) {
    let dir = fixture(case);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).expect("meta.json"))
            .unwrap();
    let reference = load_reference(case);
    let pipe = ChronoEditPipeline::load(&dir.join("pipeline"), &LoadOptions::default())
        .expect("load pipeline");
    let image = physedit::util::open_image(&dir.join("input.png")).unwrap();
    let runs = meta["runs"].as_object().expect("runs");
    assert!(!runs.is_empty());
    for (name, run) in runs {
        let get = |k: &str| reference.get(&format!("run.{name}.{k}")).cloned();
        let req = run_request(run, get("latents").expect("latents"));

        // Component-level checks first, so a failure points at the stage that diverged.
        let prompt_embeds = pipe.encode_prompt(&req.prompt).unwrap();
        let d = max_abs_diff(&prompt_embeds, &get("prompt_embeds").unwrap());
        assert!(d < 1e-4, "{case}/{name}: prompt_embeds differ by {d}");
        let image_embeds = pipe.encode_image(&image).unwrap();
        let d_img = max_abs_diff(&image_embeds, &get("image_embeds").unwrap());
        // CLIP input goes through a bicubic resize: one 8-bit level of resampler difference moves
        // a normalised pixel by ~0.015; the tiny CLIP turns that into at most a few 1e-3.
        assert!(
            d_img < 2e-2,
            "{case}/{name}: image_embeds differ by {d_img}"
        );

        let out = pipe.edit(&image, &req, &mut |_, _| {}).expect("edit");
        let d_lat = max_abs_diff(&out.final_latents, &get("final_latents").unwrap());
        let d_frames = max_abs_diff(&out.frames, &get("frames").unwrap());
        eprintln!(
            "{case}/{name}: image_embeds {d_img:.2e}, final latents {d_lat:.2e}, frames {d_frames:.2e}"
        );
        assert!(
            d_frames <= FRAME_TOL,
            "{case}/{name}: frames differ by {d_frames} (> {FRAME_TOL})"
        );
    }
}

#[test]
fn tiny_a_matches_diffusers() {
    run_case("tiny_a");
}

#[test]
fn tiny_b_matches_diffusers() {
    run_case("tiny_b");
}

/// The pipeline's own preprocessing of input.png (`VideoProcessor.preprocess`, no resize needed):
/// 8-bit pixels mapped to [-1, 1], so only float rounding may differ.
#[test]
fn video_preprocessing_matches_diffusers() {
    for case in ["tiny_a", "tiny_b", "heldout"] {
        let reference = load_reference(case);
        let expected = &reference["image.preprocessed"];
        let (_, _, h, w) = expected.dims4().unwrap();
        let image = physedit::util::open_image(&fixture(case).join("input.png")).unwrap();
        let ours = physedit::processors::video::image_to_video_tensor(&image, h, w).unwrap();
        let d = max_abs_diff(&ours, expected);
        assert!(d < 1e-6, "{case}: preprocessed image differs by {d}");
    }
}

/// The negative prompt's embeddings come from a one-entry cache: the same values as encoding it,
/// and a different text replaces the entry.
#[test]
fn the_negative_prompt_cache_returns_the_encoders_own_embeddings() {
    let pipe =
        ChronoEditPipeline::load(&fixture("tiny_a").join("pipeline"), &LoadOptions::default())
            .expect("load pipeline");
    for text in ["", "blurry, low quality", "", "blurry, low quality"] {
        let cached = pipe.encode_negative_prompt(text).unwrap();
        let fresh = pipe.encode_prompt(text).unwrap();
        assert_eq!(cached.dims(), fresh.dims());
        assert_eq!(max_abs_diff(&cached, &fresh), 0.0, "{text:?}");
    }
    let a = pipe.encode_negative_prompt("").unwrap();
    let b = pipe.encode_negative_prompt("blurry, low quality").unwrap();
    assert!(max_abs_diff(&a, &b) > 0.0, "different texts must differ");
}
