//! LoRA loading (`physedit::lora`): both file layouts fused at load match diffusers'
//! `load_lora_weights` + `fuse_lora(lora_scale=0.7)` on the tiny_a pipeline
//! (tools/reference/make_lora_fixtures.py wrote tests/fixtures/lora/), scale 0 changes nothing, and
//! every malformed input is refused with a message naming the key, the file or the flag value.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use physedit::lora::{fused_var_builder, read_lora_file, LoraFormat, LoraSpec};
use physedit::pipeline::chronoedit::{ChronoEditPipeline, EditRequest, LoadOptions};

use crate::common::max_abs_diff;

/// The project's bar for whole-pipeline parity in f32 (frames in [0, 1]).
const FRAME_TOL: f32 = 2e-3;
/// Fused weights: the same f32 sums in another order (diffusers pre-multiplies Wan factors by
/// alpha/rank, PhysEdit scales the product); weights and updates are O(0.1), so a few f32 ulps
/// (measured: 3e-8 PEFT, 0 Wan).
const WEIGHT_TOL: f32 = 1e-5;
/// diffusers' `lora_scale` in the fixtures.
const LORA_SCALE: f64 = 0.7;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn transformer_dir() -> PathBuf {
    fixtures()
        .join("tiny_a")
        .join("pipeline")
        .join("transformer")
}

fn lora_reference() -> HashMap<String, Tensor> {
    let path = fixtures().join("lora").join("reference.safetensors");
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("missing LoRA fixture {}: {e}", path.display()))
}

fn lora_meta() -> serde_json::Value {
    let path = fixtures().join("lora").join("meta.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("lora meta.json")).unwrap()
}

/// tiny_a's `plain` run (the one the LoRA fixtures ran), from the committed tiny_a fixture.
fn plain_frames(loras: Vec<LoraSpec>) -> Tensor {
    let dir = fixtures().join("tiny_a");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let run = &meta["runs"]["plain"];
    let reference = candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu)
        .expect("tiny_a reference");
    let opts = LoadOptions {
        loras,
        ..Default::default()
    };
    let pipe = ChronoEditPipeline::load(&dir.join("pipeline"), &opts).expect("load pipeline");
    let image = physedit::util::open_image(&dir.join("input.png")).unwrap();
    let req = EditRequest {
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
        latents: Some(reference["run.plain.latents"].clone()),
        seed: 0,
        flow_shift: None,
    };
    pipe.edit(&image, &req, &mut |_, _| {})
        .expect("edit")
        .frames
}

fn weight_names(dir: &Path) -> Vec<String> {
    let files = physedit::checkpoint::weight_files(dir).unwrap();
    let mut names = Vec::new();
    for f in files {
        names.extend(
            candle_core::safetensors::load(&f, &Device::Cpu)
                .unwrap()
                .into_keys(),
        );
    }
    names.sort();
    names
}

/// Checks the fused weights against diffusers' (touched ones) and the checkpoint (the rest), then the
/// pipeline's frames; returns (max weight diff, max frame diff).
fn check_against_diffusers(name: &str, expected_format: LoraFormat) -> (f32, f32) {
    let reference = lora_reference();
    let meta = lora_meta();
    let path = fixtures().join("lora").join(format!("{name}.safetensors"));
    assert_eq!(read_lora_file(&path).unwrap().format, expected_format);

    let t_dir = transformer_dir();
    let spec = LoraSpec::new(&path, LORA_SCALE).unwrap();
    let fused = fused_var_builder(&t_dir, &[spec.clone()], DType::F32, &Device::Cpu).unwrap();
    let plain = physedit::checkpoint::var_builder(&t_dir, DType::F32, &Device::Cpu).unwrap();
    let touched: Vec<String> = meta["loras"][name]["touched_weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        touched.len() >= 24,
        "{name}: only {} weights touched",
        touched.len()
    );
    let mut d_weights = 0f32;
    for w in weight_names(&t_dir) {
        let ours = fused.get_unchecked(&w).unwrap();
        if touched.contains(&w) {
            let theirs = &reference[&format!("{name}.fused.{w}")];
            let d = max_abs_diff(&ours, theirs);
            let moved = max_abs_diff(theirs, &plain.get_unchecked(&w).unwrap());
            assert!(
                d <= WEIGHT_TOL,
                "{name}: fused {w} differs from diffusers by {d}"
            );
            assert!(
                moved > 100.0 * WEIGHT_TOL,
                "{name}: {w} barely moved ({moved})"
            );
            d_weights = d_weights.max(d);
        } else {
            // Weights the LoRA does not touch come straight from the checkpoint.
            let base = plain.get_unchecked(&w).unwrap();
            assert_eq!(
                max_abs_diff(&ours, &base),
                0.0,
                "{name}: untouched {w} changed"
            );
        }
    }

    let frames = plain_frames(vec![spec]);
    let d_frames = max_abs_diff(&frames, &reference[&format!("{name}.frames")]);
    let change = meta["loras"][name]["max_abs_frame_change_vs_no_lora"]
        .as_f64()
        .unwrap();
    eprintln!(
        "{name}: fused weights {d_weights:.2e}, frames {d_frames:.2e} (the LoRA moves frames by {change:.3})"
    );
    // The LoRA's effect must dwarf the tolerance, or the comparison would prove nothing.
    assert!(
        change > 20.0 * FRAME_TOL as f64,
        "{name}: LoRA effect {change} too small"
    );
    assert!(
        d_frames <= FRAME_TOL,
        "{name}: frames differ from diffusers by {d_frames} (> {FRAME_TOL})"
    );
    (d_weights, d_frames)
}

#[test]
fn peft_lora_matches_diffusers() {
    check_against_diffusers("peft", LoraFormat::Diffusers);
}

#[test]
fn wan_lora_matches_diffusers() {
    check_against_diffusers("wan", LoraFormat::Wan);
}

#[test]
fn zero_scale_equals_no_lora_bit_for_bit() {
    let wan = fixtures().join("lora").join("wan.safetensors");
    let peft = fixtures().join("lora").join("peft.safetensors");
    let specs = vec![
        LoraSpec::new(&wan, 0.0).unwrap(),
        LoraSpec::new(&peft, 0.0).unwrap(),
    ];
    let t_dir = transformer_dir();
    let fused = fused_var_builder(&t_dir, &specs, DType::F32, &Device::Cpu).unwrap();
    let plain = physedit::checkpoint::var_builder(&t_dir, DType::F32, &Device::Cpu).unwrap();
    for w in weight_names(&t_dir) {
        let a = fused.get_unchecked(&w).unwrap();
        let b = plain.get_unchecked(&w).unwrap();
        assert_eq!(max_abs_diff(&a, &b), 0.0, "{w} changed at scale 0");
    }
    let with = plain_frames(specs);
    let without = plain_frames(Vec::new());
    let d = max_abs_diff(&with, &without);
    assert_eq!(d, 0.0, "frames with scale-0 LoRAs differ by {d}");
}

/// Writes a safetensors file (f32 tensors given as (name, shape, values)) with optional metadata.
fn write_lora(
    path: &Path,
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
    metadata: Option<HashMap<String, String>>,
) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            assert_eq!(s.iter().product::<usize>(), v.len());
            (
                n.to_string(),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, metadata, path).unwrap();
}

fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect()
}

/// The error of fusing `tensors` (and `metadata`) into tiny_a's transformer, as text.
fn fuse_error(
    tmp: &Path,
    file: &str,
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
    metadata: Option<HashMap<String, String>>,
) -> (PathBuf, String) {
    let path = tmp.join(file);
    write_lora(&path, tensors, metadata);
    let spec = LoraSpec::new(&path, 1.0).unwrap();
    let err = match fused_var_builder(&transformer_dir(), &[spec], DType::F32, &Device::Cpu) {
        Ok(_) => panic!("{file}: fusing succeeded"),
        Err(e) => format!("{e:#}"),
    };
    (path, err)
}

fn assert_names(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "error does not name `{p}`: {err}");
    }
}

#[test]
fn a_key_matching_no_weight_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    // tiny_a has 2 blocks: block 5 does not exist.
    let (path, err) = fuse_error(
        tmp.path(),
        "unknown.safetensors",
        &[
            (
                "transformer.blocks.5.attn1.to_q.lora_A.weight",
                vec![2, 24],
                ramp(48),
            ),
            (
                "transformer.blocks.5.attn1.to_q.lora_B.weight",
                vec![24, 2],
                ramp(48),
            ),
        ],
        None,
    );
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "transformer.blocks.5.attn1.to_q.lora_A.weight",
        ],
    );

    // A Wan key that names no linear layer.
    let (path, err) = fuse_error(
        tmp.path(),
        "unknown_wan.safetensors",
        &[
            (
                "diffusion_model.blocks.0.self_attn.norm_q.lora_down.weight",
                vec![2, 24],
                ramp(48),
            ),
            (
                "diffusion_model.blocks.0.self_attn.norm_q.lora_up.weight",
                vec![24, 2],
                ramp(48),
            ),
        ],
        None,
    );
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "diffusion_model.blocks.0.self_attn.norm_q",
        ],
    );

    // Something that is not a LoRA factor at all.
    let (path, err) = fuse_error(
        tmp.path(),
        "stray.safetensors",
        &[(
            "transformer.blocks.0.attn1.to_q.weight",
            vec![24, 24],
            ramp(576),
        )],
        None,
    );
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "transformer.blocks.0.attn1.to_q.weight",
        ],
    );
}

#[test]
fn a_rank_mismatch_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, err) = fuse_error(
        tmp.path(),
        "rank.safetensors",
        &[
            (
                "transformer.blocks.0.attn1.to_k.lora_A.weight",
                vec![3, 24],
                ramp(72),
            ),
            (
                "transformer.blocks.0.attn1.to_k.lora_B.weight",
                vec![24, 2],
                ramp(48),
            ),
        ],
        None,
    );
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "rank mismatch",
            "transformer.blocks.0.attn1.to_k.lora_A.weight",
            "transformer.blocks.0.attn1.to_k.lora_B.weight",
        ],
    );

    // The rank the file's LoRA config declares must be the factors' rank.
    let meta = HashMap::from([(
        "lora_adapter_metadata".to_string(),
        r#"{"transformer.r": 4, "transformer.lora_alpha": 4}"#.to_string(),
    )]);
    let (path, err) = fuse_error(
        tmp.path(),
        "rank_meta.safetensors",
        &[
            (
                "transformer.blocks.0.attn1.to_k.lora_A.weight",
                vec![2, 24],
                ramp(48),
            ),
            (
                "transformer.blocks.0.attn1.to_k.lora_B.weight",
                vec![24, 2],
                ramp(48),
            ),
        ],
        Some(meta),
    );
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "transformer.blocks.0.attn1.to_k.lora_A.weight",
            "r = 4",
        ],
    );

    // Only one of the two factors.
    let (path, err) = fuse_error(
        tmp.path(),
        "half.safetensors",
        &[(
            "diffusion_model.blocks.0.ffn.0.lora_down.weight",
            vec![2, 24],
            ramp(48),
        )],
        None,
    );
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "diffusion_model.blocks.0.ffn.0.lora_down.weight",
        ],
    );
}

#[test]
fn a_shape_mismatch_with_the_weight_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    // ffn.net.0.proj is (32, 24): an update for a (24, 24) layer does not fit.
    let (path, err) = fuse_error(
        tmp.path(),
        "shape.safetensors",
        &[
            (
                "diffusion_model.blocks.1.ffn.0.lora_down.weight",
                vec![2, 24],
                ramp(48),
            ),
            (
                "diffusion_model.blocks.1.ffn.0.lora_up.weight",
                vec![24, 2],
                ramp(48),
            ),
            ("diffusion_model.blocks.1.ffn.0.alpha", vec![], vec![1.0]),
        ],
        None,
    );
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "shape mismatch",
            "diffusion_model.blocks.1.ffn.0.lora_down.weight",
            "blocks.1.ffn.net.0.proj.weight",
            "[32, 24]",
        ],
    );
}

#[test]
fn unsupported_keys_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, err) = fuse_error(
        tmp.path(),
        "bias.safetensors",
        &[
            (
                "diffusion_model.blocks.0.self_attn.q.lora_down.weight",
                vec![2, 24],
                ramp(48),
            ),
            (
                "diffusion_model.blocks.0.self_attn.q.lora_up.weight",
                vec![24, 2],
                ramp(48),
            ),
            (
                "diffusion_model.blocks.0.self_attn.q.diff_b",
                vec![24],
                ramp(24),
            ),
        ],
        None,
    );
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "diffusion_model.blocks.0.self_attn.q.diff_b",
            "bias",
        ],
    );
}

#[test]
fn pickle_and_missing_files_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    for ext in ["bin", "pt", "ckpt"] {
        let path = tmp.path().join(format!("lora.{ext}"));
        // Present on disk, still never opened.
        std::fs::write(&path, b"not read").unwrap();
        let spec = LoraSpec::new(&path, 1.0).unwrap();
        let err = format!(
            "{:#}",
            fused_var_builder(&transformer_dir(), &[spec], DType::F32, &Device::Cpu)
                .err()
                .unwrap()
        );
        assert_names(&err, &[&path.display().to_string(), "pickle"]);
    }
    let missing = tmp.path().join("absent.safetensors");
    let opts = LoadOptions {
        loras: vec![LoraSpec::new(&missing, 1.0).unwrap()],
        ..Default::default()
    };
    let err = match ChronoEditPipeline::load(&fixtures().join("tiny_a").join("pipeline"), &opts) {
        Ok(_) => panic!("loading with a missing LoRA succeeded"),
        Err(e) => format!("{e:#}"),
    };
    assert_names(&err, &[&missing.display().to_string(), "does not exist"]);
}

#[test]
fn lora_spec_parses_file_and_scale() {
    let s: LoraSpec = "distill.safetensors".parse().unwrap();
    assert_eq!(s.path, PathBuf::from("distill.safetensors"));
    assert_eq!(s.scale, 1.0);
    let s: LoraSpec = "loras/distill.safetensors:0.8".parse().unwrap();
    assert_eq!(s.path, PathBuf::from("loras/distill.safetensors"));
    assert_eq!(s.scale, 0.8);
    let s: LoraSpec = "a.safetensors:-0.5".parse().unwrap();
    assert_eq!(s.scale, -0.5);
    // A ':' in the file name is fine when a scale follows.
    let s: LoraSpec = "run:3/l.safetensors:2".parse().unwrap();
    assert_eq!(s.path, PathBuf::from("run:3/l.safetensors"));
    assert_eq!(s.scale, 2.0);

    for bad in [
        "run:3/l.safetensors",
        "l.safetensors:strong",
        "l.safetensors:",
        "l.safetensors:nan",
        "l.safetensors:inf",
        ":0.5",
        "",
    ] {
        let err = format!(
            "{:#}",
            bad.parse::<LoraSpec>()
                .err()
                .unwrap_or_else(|| panic!("`{bad}` parsed"))
        );
        assert!(err.contains("--lora"), "{bad}: {err}");
        if !bad.is_empty() {
            assert!(
                err.contains(&format!("`{bad}`")),
                "error does not name `{bad}`: {err}"
            );
        }
    }
    assert!(LoraSpec::new("a.safetensors", f64::NAN).is_err());
}

/// The `transformer.` prefix is optional: the same factors and metadata without it fuse identically.
#[test]
fn peft_keys_without_the_transformer_prefix_fuse_the_same() {
    let src = fixtures().join("lora").join("peft.safetensors");
    let bytes = std::fs::read(&src).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone();
    let mut n_prefixed = 0;
    let views: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            let bare = k.strip_prefix("transformer.").map(str::to_string);
            n_prefixed += bare.is_some() as usize;
            (bare.unwrap_or(k), v)
        })
        .collect();
    assert_eq!(
        n_prefixed,
        views.len(),
        "the fixture's keys carry the prefix"
    );
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("bare.safetensors");
    safetensors::serialize_to_file(views, metadata, &bare).unwrap();

    let t_dir = transformer_dir();
    let a = fused_var_builder(
        &t_dir,
        &[LoraSpec::new(&src, 0.7).unwrap()],
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let b = fused_var_builder(
        &t_dir,
        &[LoraSpec::new(&bare, 0.7).unwrap()],
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    for w in weight_names(&t_dir) {
        let d = max_abs_diff(&a.get_unchecked(&w).unwrap(), &b.get_unchecked(&w).unwrap());
        assert_eq!(d, 0.0, "{w}");
    }
}

/// In a reduced compute dtype the update is added in f32 and the sum rounded once: the bf16 weight is
/// exactly the f32 fused weight cast to bf16.
#[test]
fn reduced_precision_rounds_the_fused_f32_weight_once() {
    let spec = LoraSpec::new(fixtures().join("lora").join("wan.safetensors"), LORA_SCALE).unwrap();
    let t_dir = transformer_dir();
    let f32_vb = fused_var_builder(&t_dir, &[spec.clone()], DType::F32, &Device::Cpu).unwrap();
    let bf16_vb = fused_var_builder(&t_dir, &[spec], DType::BF16, &Device::Cpu).unwrap();
    let w = "blocks.0.attn1.to_q.weight";
    let a = bf16_vb.get_unchecked(w).unwrap();
    assert_eq!(a.dtype(), DType::BF16);
    let b = f32_vb
        .get_unchecked(w)
        .unwrap()
        .to_dtype(DType::BF16)
        .unwrap();
    assert_eq!(max_abs_diff(&a, &b), 0.0);
}

/// `physedit edit --lora FILE:SCALE` fuses the LoRA (the picture differs from the plain edit); a
/// pickle LoRA is refused naming the flag value's file, before any output is written.
#[test]
fn cli_lora_flag() {
    let dir = fixtures().join("tiny_a");
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[String], out: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
            .arg("edit")
            .arg("--model")
            .arg(dir.join("pipeline"))
            .arg("--image")
            .arg(dir.join("input.png"))
            .args([
                "--prompt",
                "make the ball red",
                "--steps",
                "2",
                "--recipe",
                "no-reasoning",
            ])
            .args(extra)
            .arg("-o")
            .arg(out)
            .output()
            .unwrap()
    };
    let plain = tmp.path().join("plain.png");
    let fused = tmp.path().join("fused.png");
    let lora = fixtures().join("lora").join("peft.safetensors");
    assert!(run(&[], &plain).status.success());
    let res = run(
        &["--lora".into(), format!("{}:0.7", lora.display())],
        &fused,
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_ne!(
        image::open(&plain).unwrap().to_rgb8().into_raw(),
        image::open(&fused).unwrap().to_rgb8().into_raw(),
        "the LoRA changed nothing"
    );
    let bad = tmp.path().join("style.pt");
    std::fs::write(&bad, b"not read").unwrap();
    let out = tmp.path().join("never.png");
    let res = run(&["--lora".into(), bad.display().to_string()], &out);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success() && err.contains("style.pt"), "{err}");
    assert!(!out.exists());
}
