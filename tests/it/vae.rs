//! Parity of `AutoencoderKLWan` with diffusers on the tiny reference fixtures, and config checks.

use crate::common::fixture;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use physedit::models::vae::{AutoencoderKLWan, Config};

use crate::common::max_abs_diff;

fn read_config(case: &str) -> (Config, String) {
    let path = fixture(case).join("pipeline/vae/config.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
    let cfg: Config = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    (cfg, text)
}

fn load(case: &str) -> (AutoencoderKLWan, std::collections::HashMap<String, Tensor>) {
    let dev = Device::Cpu;
    let dir = fixture(case);
    let (cfg, _) = read_config(case);
    let wpath = dir.join("pipeline/vae/diffusion_pytorch_model.safetensors");
    let weights = candle_core::safetensors::load(&wpath, &dev)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", wpath.display()));
    let vb = VarBuilder::from_tensors(weights, DType::F32, &dev);
    let vae = AutoencoderKLWan::new(&cfg, vb).expect("build vae");
    let rpath = dir.join("reference.safetensors");
    let reference = candle_core::safetensors::load(&rpath, &dev)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", rpath.display()));
    (vae, reference)
}

fn get<'a>(r: &'a std::collections::HashMap<String, Tensor>, k: &str) -> &'a Tensor {
    r.get(k)
        .unwrap_or_else(|| panic!("reference.safetensors lacks {k}"))
}

// Tolerance: both sides compute in f32; the only differences are summation order inside the
// convolution/matmul kernels and the softmax of the attention, which for these tiny random
// models stay around 1e-6. 1e-4 absolute leaves headroom while still catching any wrong tap,
// cache frame or channel ordering (those produce errors of order 1e-2 .. 1).
const TOL: f32 = 1e-4;

fn check_encode(case: &str) {
    let (vae, r) = load(case);
    let x = get(&r, "vae.encode.input");
    let t0 = Instant::now();
    let (mean, logvar) = vae.encode(x).expect("encode");
    let dt = t0.elapsed();
    let em = max_abs_diff(&mean, get(&r, "vae.encode.mean"));
    let el = max_abs_diff(&logvar, get(&r, "vae.encode.logvar"));
    println!("{case} encode: mean max|diff| {em:.3e}, logvar max|diff| {el:.3e}, {dt:?}");
    assert!(em < TOL, "{case}: encode mean differs by {em}");
    assert!(el < TOL, "{case}: encode logvar differs by {el}");
}

fn check_decode(case: &str) {
    let (vae, r) = load(case);
    let z = get(&r, "vae.decode.input");
    let t0 = Instant::now();
    let out = vae.decode(z).expect("decode");
    let dt = t0.elapsed();
    let e = max_abs_diff(&out, get(&r, "vae.decode.output"));
    println!("{case} decode: max|diff| {e:.3e}, {dt:?}");
    assert!(e < TOL, "{case}: decode differs by {e}");
}

#[test]
fn encode_matches_reference_tiny_a() {
    check_encode("tiny_a");
}

#[test]
fn decode_matches_reference_tiny_a() {
    check_decode("tiny_a");
}

#[test]
fn encode_matches_reference_tiny_b() {
    check_encode("tiny_b");
}

#[test]
fn decode_matches_reference_tiny_b() {
    check_decode("tiny_b");
}

#[test]
fn scales_follow_config() {
    let (vae, _) = load("tiny_a");
    let cfg = vae.config();
    assert_eq!(vae.spatial_scale(), cfg.architecture_spatial_scale());
    assert_eq!(vae.temporal_scale(), cfg.architecture_temporal_scale());
}

fn modified_config(edit: impl FnOnce(&mut serde_json::Value)) -> Config {
    let (_, text) = read_config("tiny_a");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut v);
    serde_json::from_value(v).expect("config still deserialises")
}

fn build_error(cfg: &Config) -> String {
    let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
    match AutoencoderKLWan::new(cfg, vb) {
        Ok(_) => panic!("config was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn rejects_latents_mean_of_wrong_length() {
    let cfg = modified_config(|v| {
        let m = v["latents_mean"].as_array_mut().unwrap();
        m.pop();
    });
    let err = build_error(&cfg);
    assert!(err.contains("latents_mean"), "unexpected error: {err}");
}

#[test]
fn rejects_latents_std_of_wrong_length() {
    let cfg = modified_config(|v| {
        v["latents_std"].as_array_mut().unwrap().push(1.0.into());
    });
    let err = build_error(&cfg);
    assert!(err.contains("latents_std"), "unexpected error: {err}");
}

#[test]
fn rejects_wan22_residual_and_patchified_configs() {
    let cfg = modified_config(|v| v["is_residual"] = true.into());
    let err = build_error(&cfg);
    assert!(err.contains("is_residual"), "unexpected error: {err}");
    let cfg = modified_config(|v| v["patch_size"] = 2.into());
    let err = build_error(&cfg);
    assert!(err.contains("patch_size"), "unexpected error: {err}");
}

#[test]
fn rejects_bad_input_shapes() {
    let (vae, _) = load("tiny_a");
    let dev = Device::Cpu;
    let x = Tensor::zeros((1, 4, 1, 16, 16), DType::F32, &dev).unwrap();
    assert!(vae.encode(&x).is_err(), "4-channel video accepted");
    let z = Tensor::zeros((1, 3, 1, 2, 2), DType::F32, &dev).unwrap();
    assert!(vae.decode(&z).is_err(), "latents with wrong z_dim accepted");
    let z = Tensor::zeros((3, 1, 2, 2), DType::F32, &dev).unwrap();
    assert!(vae.decode(&z).is_err(), "rank-4 latents accepted");
}

#[test]
fn latent_normalisation_uses_config_statistics() {
    let (vae, _) = load("tiny_a");
    let cfg = vae.config().clone();
    let dev = Device::Cpu;
    let z = Tensor::randn(0f32, 1., (1, cfg.z_dim, 2, 3, 4), &dev).unwrap();
    let n = vae.normalize_latents(&z).unwrap();
    // Channel c of the result must be (z - mean[c]) / std[c]; computed here per element.
    let zv = z.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let nv = n.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let per_channel = 2 * 3 * 4;
    for (i, (&a, &b)) in zv.iter().zip(nv.iter()).enumerate() {
        let c = i / per_channel;
        let expected = (a - cfg.latents_mean[c] as f32) / cfg.latents_std[c] as f32;
        // f32 multiply by the reciprocal vs divide: a few ulp.
        assert!(
            (expected - b).abs() < 1e-5,
            "channel {c}: {b} vs {expected}"
        );
    }
    let back = vae.denormalize_latents(&n).unwrap();
    let err = max_abs_diff(&back, &z);
    // Round trip through two f32 roundings: a few ulp of values of order 1.
    assert!(err < 1e-5, "round trip error {err}");
}

/// The pipeline's VAE condition for the `plain` run: the input image followed by zero frames,
/// encoded (distribution mean) and normalised with the config statistics. `input.png` has
/// exactly the run's height x width, so the image preprocessing is `2 * pixel / 255 - 1`.
fn check_condition(case: &str) {
    let (vae, r) = load(case);
    let dir = fixture(case);
    let img = image::open(dir.join("input.png"))
        .unwrap_or_else(|e| panic!("missing fixture {}/input.png: {e}", dir.display()))
        .to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let px: Vec<f32> = img
        .into_raw()
        .into_iter()
        .map(|v| v as f32 / 255.0)
        .collect();
    let dev = Device::Cpu;
    let im = Tensor::from_vec(px, (h, w, 3), &dev)
        .unwrap()
        .permute((2, 0, 1))
        .unwrap()
        .affine(2.0, -1.0)
        .unwrap()
        .unsqueeze(0)
        .unwrap()
        .unsqueeze(2)
        .unwrap();
    let cond = get(&r, "run.plain.condition");
    let (_, c, f, _, _) = cond.dims5().unwrap();
    let num_frames = (f - 1) * vae.temporal_scale() + 1;
    let zeros = Tensor::zeros((1, 3, num_frames - 1, h, w), DType::F32, &dev).unwrap();
    let video = Tensor::cat(&[&im, &zeros], 2).unwrap();
    let (mean, _) = vae.encode(&video).expect("encode");
    let latents = vae.normalize_latents(&mean).expect("normalize");
    let z = vae.config().z_dim;
    let expected = cond.narrow(1, c - z, z).unwrap();
    let e = max_abs_diff(&latents, &expected);
    println!("{case} condition latents: max|diff| {e:.3e}");
    // Same f32 tolerance as the encode parity (normalisation adds a few ulp).
    assert!(e < TOL, "{case}: condition latents differ by {e}");
}

#[test]
fn condition_latents_match_pipeline_tiny_a() {
    check_condition("tiny_a");
}
