//! Helpers shared by the integration tests (`crate::common` in every test module).
#![allow(dead_code)]
use candle_core::{DType, Tensor};

/// max |a - b|, computed in f32; panics on a shape mismatch.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    max_abs(&(a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap()).unwrap())
}

/// max |a|, computed in f32.
pub fn max_abs(a: &Tensor) -> f32 {
    a.to_dtype(DType::F32)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// `tests/fixtures/<case>`: the committed fixtures written by `tools/reference/`.
pub fn fixture(case: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(case);
    assert!(p.exists(), "missing fixture {}", p.display());
    p
}

/// The edit a fixture's `meta.json` run describes (as `tools/reference/` ran it in diffusers), from
/// the given initial latents, seed 0.
pub fn run_request(
    run: &serde_json::Value,
    latents: Tensor,
) -> physedit::pipeline::chronoedit::EditRequest {
    physedit::pipeline::chronoedit::EditRequest {
        prompt: run["prompt"].as_str().unwrap().to_string(),
        negative_prompt: run["negative_prompt"].as_str().unwrap_or("").to_string(),
        steps: run["steps"].as_u64().unwrap() as usize,
        guidance: run["guidance"].as_f64().unwrap(),
        height: run["height"].as_u64().unwrap() as usize,
        width: run["width"].as_u64().unwrap() as usize,
        num_frames: run["num_frames"].as_u64().unwrap() as usize,
        temporal_reasoning: run["enable_temporal_reasoning"].as_bool().unwrap(),
        reasoning_steps: run["num_temporal_reasoning_steps"].as_u64().unwrap() as usize,
        temporal_positions: None,
        latents: Some(latents),
        seed: 0,
        flow_shift: None,
    }
}

/// Copies a folder tree (a model folder a test may change or damage).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}
