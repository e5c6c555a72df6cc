//! LoRA loading (`physedit::lora`): both file layouts fused at load match diffusers'
//! `load_lora_weights` + `fuse_lora(lora_scale=0.7)` on the tiny_a pipeline
//! (tools/reference/make_lora_fixtures.py wrote tests/fixtures/lora/), scale 0 changes nothing, and
//! every malformed input is refused with a message naming the key, the file or the flag value.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use std::sync::Arc;

use physedit::lora::{
    checkpoint_shapes, fused_var_builder, read_lora_file, Kind, LoraFormat, LoraSpec,
};
use physedit::models::adapter::{with_adapters, Adapter, AdapterSet};
use physedit::pipeline::chronoedit::{ChronoEditPipeline, LoadOptions};

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
    let opts = LoadOptions {
        loras,
        ..Default::default()
    };
    let dir = fixtures().join("tiny_a");
    let pipe = ChronoEditPipeline::load(&dir.join("pipeline"), &opts).expect("load pipeline");
    plain_run(&pipe)
}

/// tiny_a's `plain` run on a loaded pipeline.
fn plain_run(pipe: &ChronoEditPipeline) -> Tensor {
    let dir = fixtures().join("tiny_a");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let run = &meta["runs"]["plain"];
    let reference = candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu)
        .expect("tiny_a reference");
    let image = physedit::util::open_image(&dir.join("input.png")).unwrap();
    let req = crate::common::run_request(run, reference["run.plain.latents"].clone());
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
    for (suffix, what) in [
        ("dora_scale", "DoRA"),
        ("hada_t1", "Tucker"),
        ("lokr_t2", "Tucker"),
    ] {
        let key = format!("diffusion_model.blocks.0.self_attn.q.{suffix}");
        let (path, err) = fuse_error(
            tmp.path(),
            &format!("{suffix}.safetensors"),
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
                (&key, vec![24], ramp(24)),
            ],
            None,
        );
        assert_names(&err, &[&path.display().to_string(), &key, what]);
    }
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

fn layouts_reference() -> HashMap<String, Tensor> {
    let path = fixtures().join("lora").join("layouts.safetensors");
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("missing LoRA fixture {}: {e}", path.display()))
}

/// The last frame (the edited picture) with `file` fused at 0.7 against the reference script's
/// (diffusers' `load_lora_weights` + `fuse_lora`, plus the explicit merges meta.json lists), to the
/// whole-pipeline bar [`FRAME_TOL`]; the LoRA must move that frame by more than 20x the tolerance.
fn check_layout(file: &str, reference: &str, format: LoraFormat) -> physedit::lora::LoraFile {
    let path = fixtures().join("lora").join(format!("{file}.safetensors"));
    let lora = read_lora_file(&path).unwrap();
    assert_eq!(lora.format, format, "{file}");
    let frames = plain_frames(vec![LoraSpec::new(&path, LORA_SCALE).unwrap()]);
    let n = frames.dim(0).unwrap();
    let last = frames.get(n - 1).unwrap();
    let theirs = &layouts_reference()[&format!("{reference}.last_frame")];
    let d = max_abs_diff(&last, theirs);
    let meta = lora_meta();
    let change = meta["layouts"][reference]["max_abs_last_frame_change_vs_no_lora"]
        .as_f64()
        .unwrap();
    eprintln!("{file}: last frame {d:.2e} from the reference (the LoRA moves it by {change:.3})");
    assert!(
        change > 20.0 * FRAME_TOL as f64,
        "{file}: LoRA effect {change} too small"
    );
    assert!(
        d <= FRAME_TOL,
        "{file}: last frame differs from the reference by {d} (> {FRAME_TOL})"
    );
    lora
}

#[test]
fn unprefixed_wan_lora_matches_diffusers() {
    let lora = check_layout("bare", "bare", LoraFormat::WanBare);
    // Every block layer of both blocks and five non-block layers.
    assert_eq!(lora.layers.len(), 24 + 5);
    for t in [
        "condition_embedder.text_embedder.linear_2.weight",
        "condition_embedder.time_embedder.linear_1.weight",
        "condition_embedder.image_embedder.ff.net.2.weight",
        "proj_out.weight",
        "condition_embedder.time_proj.weight",
    ] {
        assert!(lora.layers.iter().any(|l| l.target == t), "{t}");
    }
}

#[test]
fn peft_adapter_name_lora_matches_diffusers() {
    let lora = check_layout("peft_default", "bare", LoraFormat::WanBare);
    assert_eq!(lora.adapter_name.as_deref(), Some("default"));
}

#[test]
fn musubi_lora_matches_diffusers() {
    let lora = check_layout("musubi", "musubi", LoraFormat::Musubi);
    assert_eq!(lora.layers.len(), 24);
    assert!(lora.layers.iter().all(|l| l.alpha.is_some()));
}

#[test]
fn distill_lora_with_diffs_matches_diffusers_and_the_explicit_merge() {
    let lora = check_layout("distill", "distill", LoraFormat::Wan);
    // 4 zero norm diffs and 1 zero norm bias diff per block are skipped, as diffusers skips them.
    assert_eq!(lora.skipped.len(), 10, "{:?}", lora.skipped);
    assert!(lora.skipped.iter().all(|s| s.reason.contains("norm")));
    let bias_updates = lora
        .layers
        .iter()
        .filter(|l| l.target.ends_with(".bias"))
        .count();
    // diff_b on the 23 block layers with factors, head.head and time_projection.1.
    assert_eq!(bias_updates, 23 + 2);
    let full: Vec<&str> = lora
        .layers
        .iter()
        .filter(|l| l.update.kind() == Kind::Diff && l.target.ends_with(".weight"))
        .map(|l| l.target.as_str())
        .collect();
    assert_eq!(full, ["blocks.1.ffn.net.2.weight", "proj_out.weight"]);
}

#[test]
fn loha_matches_the_explicit_merge() {
    let lora = check_layout("loha", "loha", LoraFormat::Wan);
    assert!(lora.layers.iter().all(|l| l.update.kind() == Kind::LoHa));
    assert_eq!(lora.layers.len(), 25);
}

#[test]
fn lokr_matches_the_explicit_merge() {
    let lora = check_layout("lokr", "lokr", LoraFormat::Musubi);
    assert!(lora.layers.iter().all(|l| l.update.kind() == Kind::LoKr));
    assert_eq!(lora.layers.len(), 25);
}

/// A file that mixes layouts, a factor without its partner, two kinds of update of one weight, two
/// PEFT adapter names, and LyCORIS shapes that do not fit: each an error naming the keys and file.
#[test]
fn malformed_layouts_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let q_down = (
        "diffusion_model.blocks.0.self_attn.q.lora_down.weight",
        vec![2, 24],
        ramp(48),
    );
    let q_up = (
        "diffusion_model.blocks.0.self_attn.q.lora_up.weight",
        vec![24, 2],
        ramp(48),
    );
    let cases: Vec<(&str, Vec<(&str, Vec<usize>, Vec<f32>)>, Vec<&str>)> = vec![
        (
            "mixed_musubi.safetensors",
            vec![
                q_down.clone(),
                q_up.clone(),
                (
                    "lora_unet_blocks_0_self_attn_k.lora_down.weight",
                    vec![2, 24],
                    ramp(48),
                ),
            ],
            vec![
                "mixes layouts",
                "lora_unet_blocks_0_self_attn_k.lora_down.weight",
            ],
        ),
        (
            "mixed_names.safetensors",
            vec![
                ("blocks.0.attn1.to_q.lora_A.weight", vec![2, 24], ramp(48)),
                ("blocks.0.attn1.to_q.lora_B.weight", vec![24, 2], ramp(48)),
                ("blocks.0.self_attn.k.lora_A.weight", vec![2, 24], ramp(48)),
                ("blocks.0.self_attn.k.lora_B.weight", vec![24, 2], ramp(48)),
            ],
            vec!["mixes", "blocks.0.attn1.to_q", "blocks.0.self_attn.k"],
        ),
        (
            "mixed_adapters.safetensors",
            vec![
                (
                    "blocks.0.self_attn.q.lora_A.default.weight",
                    vec![2, 24],
                    ramp(48),
                ),
                (
                    "blocks.0.self_attn.q.lora_B.default.weight",
                    vec![24, 2],
                    ramp(48),
                ),
                (
                    "blocks.0.self_attn.k.lora_A.style.weight",
                    vec![2, 24],
                    ramp(48),
                ),
                (
                    "blocks.0.self_attn.k.lora_B.style.weight",
                    vec![24, 2],
                    ramp(48),
                ),
            ],
            vec!["adapter names", "blocks.0.self_attn.k.lora_A.style.weight"],
        ),
        (
            "two_kinds.safetensors",
            vec![
                q_down.clone(),
                q_up.clone(),
                (
                    "diffusion_model.blocks.0.self_attn.q.diff",
                    vec![24, 24],
                    ramp(576),
                ),
            ],
            vec![
                "two different kinds",
                "diffusion_model.blocks.0.self_attn.q.diff",
            ],
        ),
        (
            "loha_half.safetensors",
            vec![
                (
                    "diffusion_model.blocks.0.ffn.0.hada_w1_a",
                    vec![32, 2],
                    ramp(64),
                ),
                (
                    "diffusion_model.blocks.0.ffn.0.hada_w1_b",
                    vec![2, 24],
                    ramp(48),
                ),
                (
                    "diffusion_model.blocks.0.ffn.0.hada_w2_a",
                    vec![32, 2],
                    ramp(64),
                ),
            ],
            vec!["diffusion_model.blocks.0.ffn.0.hada_w1_a", "hada_w2_b"],
        ),
        (
            "lokr_half.safetensors",
            vec![("lora_unet_blocks_0_ffn_0.lokr_w1", vec![4, 4], ramp(16))],
            vec!["lora_unet_blocks_0_ffn_0.lokr_w1", "lokr_w2"],
        ),
        (
            "lokr_shape.safetensors",
            vec![
                ("lora_unet_blocks_0_ffn_0.lokr_w1", vec![4, 4], ramp(16)),
                ("lora_unet_blocks_0_ffn_0.lokr_w2", vec![6, 6], ramp(36)),
            ],
            vec![
                "shape mismatch",
                "lora_unet_blocks_0_ffn_0.lokr_w1",
                "[24, 24]",
                "[32, 24]",
            ],
        ),
        (
            "diff_shape.safetensors",
            vec![("diffusion_model.head.head.diff", vec![24, 24], ramp(576))],
            vec![
                "shape mismatch",
                "diffusion_model.head.head.diff",
                "proj_out.weight",
            ],
        ),
    ];
    for (file, tensors, parts) in cases {
        let (path, err) = fuse_error(tmp.path(), file, &tensors, None);
        let mut want = vec![path.display().to_string()];
        want.extend(parts.iter().map(|p| p.to_string()));
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_names(&err, &want);
    }
}

/// A norm difference that is not zero is applied (as ComfyUI applies it), a zero one skipped.
#[test]
fn norm_differences_apply_unless_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("norms.safetensors");
    write_lora(
        &path,
        &[
            ("diffusion_model.blocks.0.norm3.diff", vec![24], ramp(24)),
            (
                "diffusion_model.blocks.1.norm3.diff",
                vec![24],
                vec![0.0; 24],
            ),
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
        ],
        None,
    );
    let lora = read_lora_file(&path).unwrap();
    assert_eq!(lora.skipped.len(), 1);
    assert_eq!(lora.skipped[0].key, "diffusion_model.blocks.1.norm3.diff");
    let t_dir = transformer_dir();
    let fused = fused_var_builder(
        &t_dir,
        &[LoraSpec::new(&path, 0.5).unwrap()],
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let plain = physedit::checkpoint::var_builder(&t_dir, DType::F32, &Device::Cpu).unwrap();
    // Original norm3 is diffusers' norm2.
    let w = "blocks.0.norm2.weight";
    let moved = (fused.get_unchecked(w).unwrap() - plain.get_unchecked(w).unwrap()).unwrap();
    let expected = Tensor::new(ramp(24), &Device::Cpu)
        .unwrap()
        .affine(0.5, 0.0)
        .unwrap();
    assert!(max_abs_diff(&moved, &expected) < 1e-7);
}

/// Fused and unfused against each other: the same update summed in another order
/// (`x (W + s ΔW)ᵀ` versus `x Wᵀ + s (x Aᵀ) Bᵀ`) in f32, through 4 denoising steps and the VAE.
/// Measured: up to about 1e-6; the bar leaves room for other BLAS blockings, far below the 2e-3
/// parity bar and the LoRAs' effect (> 0.4).
const UNFUSED_TOL: f32 = 1e-4;

fn adapter_of(file: &str) -> Arc<physedit::models::adapter::Adapter> {
    let shapes = checkpoint_shapes(&transformer_dir()).unwrap();
    let lora =
        read_lora_file(&fixtures().join("lora").join(format!("{file}.safetensors"))).unwrap();
    Arc::new(
        Adapter::from_lora(
            &lora,
            |n| shapes.get(n).cloned(),
            "tiny_a",
            DType::F32,
            &Device::Cpu,
        )
        .unwrap(),
    )
}

/// One loaded base model, several adapters per request: each request's frames are the fused
/// model's, and the base model's frames are unchanged afterwards (bit for bit).
#[test]
fn unfused_adapters_match_fusing_and_leave_the_base_unchanged() {
    let dir = fixtures().join("tiny_a");
    let base = ChronoEditPipeline::load(&dir.join("pipeline"), &LoadOptions::default()).unwrap();
    let before = plain_run(&base);
    let lora = |f: &str| fixtures().join("lora").join(format!("{f}.safetensors"));
    let cases: Vec<Vec<(&str, f64)>> = vec![
        vec![("wan", 0.7)],
        vec![("distill", 0.7)],
        vec![("loha", 0.7)],
        vec![("lokr", -0.4)],
        vec![("peft", 0.5), ("musubi", 1.0)],
    ];
    for case in cases {
        let set = AdapterSet {
            adapters: case.iter().map(|(f, s)| (adapter_of(f), *s)).collect(),
        };
        let unfused = with_adapters(set, || plain_run(&base));
        let specs = case
            .iter()
            .map(|(f, s)| LoraSpec::new(lora(f), *s).unwrap())
            .collect();
        let fused = plain_frames(specs);
        let d = max_abs_diff(&unfused, &fused);
        let moved = max_abs_diff(&fused, &before);
        eprintln!("{case:?}: unfused vs fused {d:.2e} (the adapters move frames by {moved:.3})");
        assert!(
            moved > 0.1,
            "{case:?}: the adapters barely change the frames"
        );
        assert!(
            d <= UNFUSED_TOL,
            "{case:?}: unfused differs from fused by {d}"
        );
    }
    let after = plain_run(&base);
    assert_eq!(max_abs_diff(&before, &after), 0.0, "the base model changed");
}

/// Per-request adapters apply to linear layers only: a norm update is refused, naming the key.
#[test]
fn unfused_adapters_refuse_non_linear_updates() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("norm.safetensors");
    write_lora(
        &path,
        &[("diffusion_model.blocks.0.norm3.diff", vec![24], ramp(24))],
        None,
    );
    let lora = read_lora_file(&path).unwrap();
    let shapes = checkpoint_shapes(&transformer_dir()).unwrap();
    let err = Adapter::from_lora(
        &lora,
        |n| shapes.get(n).cloned(),
        "tiny_a",
        DType::F32,
        &Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "diffusion_model.blocks.0.norm3.diff",
            "not a linear layer",
        ],
    );
}

/// A `physedit serve` process killed on drop.
struct ServeProc(std::process::Child);

impl Drop for ServeProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `physedit serve` on tiny_a with `--lora-dir`; returns the process and its base URL.
fn start_serve(lora_dir: &Path) -> (ServeProc, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--model",
        ])
        .arg(fixtures().join("tiny_a").join("pipeline"))
        .arg("--lora-dir")
        .arg(lora_dir)
        .args(["--lora-cache-bytes", "120000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let proc = ServeProc(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(url) = line.split("listening on ").nth(1) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("serve did not start");
    (proc, base)
}

/// Polls `/readyz` until the model has loaded.
fn wait_ready(base: &str) {
    use std::io::{Read, Write};
    let host = base.strip_prefix("http://").unwrap().to_string();
    let t0 = std::time::Instant::now();
    loop {
        let ok = std::net::TcpStream::connect(&host)
            .and_then(|mut s| {
                write!(
                    s,
                    "GET /readyz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                )?;
                let mut buf = String::new();
                s.read_to_string(&mut buf)?;
                Ok(buf.starts_with("HTTP/1.1 200"))
            })
            .unwrap_or(false);
        if ok {
            return;
        }
        assert!(t0.elapsed().as_secs() < 120, "serve did not become ready");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

const SERVE_PROMPT: &str = "Turn the red apple into a yellow banana.";

/// `physedit edit` on tiny_a with `extra` flags: the picture.
fn cli_picture(extra: &[String]) -> image::RgbImage {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.png");
    let dir = fixtures().join("tiny_a");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
        .arg("edit")
        .arg("--model")
        .arg(dir.join("pipeline"))
        .arg("--image")
        .arg(dir.join("input.png"))
        .args([
            "--prompt",
            SERVE_PROMPT,
            "--steps",
            "2",
            "--recipe",
            "no-reasoning",
            "--seed",
            "5",
        ])
        .args(extra)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    image::open(&out).unwrap().to_rgb8()
}

/// The largest per-channel difference of two pictures of one size, in 8-bit levels.
fn max_level_diff(a: &image::RgbImage, b: &image::RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

/// Interleaved requests with different adapters through one `serve` (one worker, one loaded base):
/// each picture is the one `physedit edit --lora FILE:SCALE` makes with the LoRA fused, within one
/// 8-bit level (the frames agree to [`UNFUSED_TOL`]; a value that close to a rounding boundary may
/// round either way), and the base picture, asked for after them, is the plain edit's bit for bit.
/// A name outside the folder or unknown is a 400 naming the field.
#[test]
fn serve_applies_per_request_adapters_from_one_base() {
    use base64::Engine as _;
    let tmp = tempfile::tempdir().unwrap();
    for f in ["wan", "loha", "lokr"] {
        std::fs::copy(
            fixtures().join("lora").join(format!("{f}.safetensors")),
            tmp.path().join(format!("{f}.safetensors")),
        )
        .unwrap();
    }
    let (_proc, base) = start_serve(tmp.path());
    wait_ready(&base);
    let png = std::fs::read(fixtures().join("tiny_a").join("input.png")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let ask = |lora: Option<&'static str>| {
        let part = reqwest::multipart::Part::bytes(png.clone())
            .file_name("image.png")
            .mime_str("image/png")
            .unwrap();
        let mut form = reqwest::multipart::Form::new()
            .part("image", part)
            .text("prompt", SERVE_PROMPT)
            .text("steps", "2")
            .text("recipe", "no-reasoning")
            .text("seed", "5");
        if let Some(l) = lora {
            form = form.text("lora", l);
        }
        let req = client
            .post(format!("{base}/v1/images/edits"))
            .multipart(form);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body)
        }
    };
    let picture = |body: &serde_json::Value| {
        let b = base64::engine::general_purpose::STANDARD
            .decode(body["data"][0]["b64_json"].as_str().unwrap())
            .unwrap();
        image::load_from_memory(&b).unwrap().to_rgb8()
    };
    let (a, b, c, d) = rt.block_on(async {
        tokio::join!(
            ask(Some("wan:0.7")),
            ask(Some("loha:0.5,lokr:-0.4")),
            ask(Some("wan:0.7")),
            ask(Some("lokr")),
        )
    });
    let (plain, bad, outside) = rt.block_on(async {
        tokio::join!(ask(None), ask(Some("missing")), ask(Some("../lora/wan")))
    });
    for (status, body) in [&a, &b, &c, &d, &plain] {
        assert_eq!(*status, 200, "{body}");
    }
    for (status, body) in [&bad, &outside] {
        assert_eq!(*status, 400, "{body}");
        assert_eq!(body["error"]["param"], "lora", "{body}");
    }
    let lora = |f: &str, s: &str| {
        vec![
            "--lora".to_string(),
            format!(
                "{}:{s}",
                fixtures()
                    .join("lora")
                    .join(format!("{f}.safetensors"))
                    .display()
            ),
        ]
    };
    let fused_wan = cli_picture(&lora("wan", "0.7"));
    let mut two = lora("loha", "0.5");
    two.extend(lora("lokr", "-0.4"));
    let fused_two = cli_picture(&two);
    let fused_lokr = cli_picture(&lora("lokr", "1"));
    let plain_cli = cli_picture(&[]);
    for (name, got, want) in [
        ("wan:0.7", picture(&a.1), &fused_wan),
        ("loha:0.5,lokr:-0.4", picture(&b.1), &fused_two),
        ("wan:0.7 again", picture(&c.1), &fused_wan),
        ("lokr", picture(&d.1), &fused_lokr),
    ] {
        let diff = max_level_diff(&got, want);
        assert!(
            diff <= 1,
            "{name}: the served picture differs from the fused edit by {diff} levels"
        );
        assert!(
            max_level_diff(&got, &plain_cli) > 8,
            "{name}: the adapter changed nothing"
        );
    }
    assert_eq!(
        picture(&plain.1),
        plain_cli,
        "the base picture changed after adapter requests"
    );
}

/// `physedit lora inspect FILE [--model M]` on the fixtures: layout, ranks, alphas, the layers by block
/// and kind, what is skipped and why, and the fit (a non-zero exit when the file does not fit).
#[test]
fn cli_lora_inspect_explains_each_layout() {
    let inspect = |file: &str, model: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_physedit"));
        cmd.args(["lora", "inspect"])
            .arg(fixtures().join("lora").join(format!("{file}.safetensors")));
        if let Some(m) = model {
            cmd.arg("--model").arg(fixtures().join(m).join("pipeline"));
        }
        let o = cmd.output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let expect = [
        (
            "wan",
            vec![
                "layout: wan",
                "ranks: 3 (29 layers)",
                "alphas: ",
                "head.head",
            ],
        ),
        (
            "peft",
            vec!["layout: diffusers", "ranks: 4 (25 layers), 2 (1 layer)"],
        ),
        (
            "bare",
            vec![
                "layout: wan-bare",
                "ranks: 2 (29 layers)",
                "diffusion_model.",
            ],
        ),
        (
            "peft_default",
            vec!["PEFT adapter name in the keys: `default`"],
        ),
        (
            "musubi",
            vec!["layout: musubi", "ranks: 4 (24 layers)", "blocks 0-1"],
        ),
        (
            "distill",
            vec![
                "bias difference (diff_b)",
                "full weight difference (diff)",
                "skipped: 10 keys",
                "`diffusion_model.blocks.0.norm3.diff`: an all-zero difference of a norm layer",
                "diffusers 0.42 drops them",
            ],
        ),
        ("loha", vec!["LoHa, rank 3", "ComfyUI"]),
        ("lokr", vec!["LoKr, rank 2", "LoKr, rank 3", "ComfyUI"]),
    ];
    for (file, parts) in expect {
        let (ok, out, err) = inspect(file, Some("tiny_a"));
        assert!(ok, "{file}: {err}");
        assert!(out.contains("fits (every update matches"), "{file}: {out}");
        for p in parts {
            assert!(out.contains(p), "{file}: no `{p}` in\n{out}");
        }
    }
    // tiny_b is 60 wide: the tiny_a LoRA does not fit, and the command says where.
    let (ok, out, err) = inspect("wan", Some("tiny_b"));
    assert!(!ok);
    assert!(
        out.contains("does NOT fit") && out.contains("shape mismatch"),
        "{out}"
    );
    assert!(
        err.contains("wan.safetensors") && err.contains("does not fit"),
        "{err}"
    );
    // Without --model: no fit line, success.
    let (ok, out, _) = inspect("wan", None);
    assert!(ok && !out.contains("fits"), "{out}");
}

/// The adapter cache: least recently used out when the next adapter would pass the byte bound, an
/// adapter larger than the bound refused naming the flag, and names that would leave the folder
/// (a path, a link pointing outside) refused.
#[test]
fn adapter_cache_is_bounded_lru_and_stays_in_its_folder() {
    use physedit::serve::adapters::AdapterCache;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("loras");
    std::fs::create_dir(&dir).unwrap();
    for f in ["wan", "musubi", "peft", "loha"] {
        std::fs::copy(
            fixtures().join("lora").join(format!("{f}.safetensors")),
            dir.join(format!("{f}.safetensors")),
        )
        .unwrap();
    }
    let outside = tmp.path().join("secret.safetensors");
    std::fs::copy(fixtures().join("lora").join("wan.safetensors"), &outside).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, dir.join("escape.safetensors")).unwrap();

    let bytes = |f: &str| adapter_of(f).bytes();
    let cap = bytes("wan") + bytes("musubi");
    let cache = AdapterCache::new(&dir, cap, &transformer_dir(), DType::F32, &Device::Cpu).unwrap();
    cache.get("wan").unwrap();
    cache.get("musubi").unwrap();
    assert_eq!(cache.cached(), ["wan", "musubi"]);
    cache.get("wan").unwrap(); // now the most recently used
    assert_eq!(cache.cached(), ["musubi", "wan"]);
    cache.get("peft").unwrap();
    let cached = cache.cached();
    assert!(!cached.contains(&"musubi".to_string()), "{cached:?}");
    assert_eq!(cached.last().map(String::as_str), Some("peft"));
    let held: usize = cached.iter().map(|n| bytes(n)).sum();
    assert!(held <= cap, "{held} > {cap}");

    let small =
        AdapterCache::new(&dir, 1000, &transformer_dir(), DType::F32, &Device::Cpu).unwrap();
    let e = format!("{:#}", small.get("loha").unwrap_err());
    assert!(e.contains("--lora-cache-bytes"), "{e}");
    for bad in ["../secret", "missing"] {
        let e = format!("{:#}", cache.get(bad).unwrap_err());
        assert!(e.contains(bad), "{e}");
    }
    #[cfg(unix)]
    {
        let e = format!("{:#}", cache.get("escape").unwrap_err());
        assert!(e.contains("outside"), "{e}");
    }
}
