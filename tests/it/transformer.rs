//! ChronoEditTransformer3DModel: parity with diffusers on the tiny fixtures, and checks of the
//! adaptive-inference hooks (`forward_with`).

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use physedit::models::rope::ChronoEditRotaryPosEmbed;
use physedit::models::transformer::{
    CaptureSpec, ChronoEditTransformer3DModel, Config, ForwardOptions,
};

use crate::common::{max_abs, max_abs_diff};

fn fixture_dir(case: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(case);
    assert!(
        dir.join("reference.safetensors").is_file(),
        "missing fixture {}/reference.safetensors (written by tools/reference/make_fixtures.py)",
        dir.display()
    );
    dir
}

fn load_model(case: &str, dtype: DType) -> ChronoEditTransformer3DModel {
    let dir = fixture_dir(case).join("pipeline").join("transformer");
    let cfg = Config::from_path(&dir.join("config.json")).expect("transformer config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("transformer dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no safetensors in {}", dir.display());
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, &Device::Cpu) }
        .expect("mmap transformer weights");
    ChronoEditTransformer3DModel::new(&cfg, vb).expect("build transformer")
}

fn load_reference(case: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(
        fixture_dir(case).join("reference.safetensors"),
        &Device::Cpu,
    )
    .expect("reference.safetensors")
}

struct Inputs {
    hidden_states: Tensor,
    timestep: Tensor,
    encoder_hidden_states: Tensor,
    encoder_hidden_states_image: Option<Tensor>,
    output: Tensor,
}

fn inputs(reference: &HashMap<String, Tensor>, prefix: &str) -> Inputs {
    let get = |k: &str| {
        reference
            .get(&format!("{prefix}.{k}"))
            .unwrap_or_else(|| panic!("reference tensor {prefix}.{k} missing"))
            .clone()
    };
    Inputs {
        hidden_states: get("hidden_states"),
        timestep: get("timestep"),
        encoder_hidden_states: get("encoder_hidden_states"),
        encoder_hidden_states_image: reference
            .get(&format!("{prefix}.encoder_hidden_states_image"))
            .cloned(),
        output: get("output"),
    }
}

/// max |a - b| / max |b|.
fn rel_err(a: &Tensor, b: &Tensor) -> f32 {
    max_abs_diff(a, b) / max_abs(b)
}

fn run(
    model: &ChronoEditTransformer3DModel,
    inp: &Inputs,
    hidden_states: &Tensor,
    opts: &ForwardOptions,
) -> candle_core::Result<physedit::models::transformer::ForwardOutput> {
    model.forward_with(
        hidden_states,
        &inp.timestep,
        &inp.encoder_hidden_states,
        inp.encoder_hidden_states_image.as_ref(),
        opts,
    )
}

fn forward(model: &ChronoEditTransformer3DModel, inp: &Inputs) -> Tensor {
    model
        .forward(
            &inp.hidden_states,
            &inp.timestep,
            &inp.encoder_hidden_states,
            inp.encoder_hidden_states_image.as_ref(),
        )
        .expect("forward")
}

// f32 parity. Our kernels differ from torch's only in summation order (matmul blocking, layer norm
// moments, attention softmax) and in 1-ulp differences of exp/sin/cos; through a few tiny blocks
// that amounts to ~1e-6 of the output scale. Tolerance: 1e-5 relative to max |reference|.
const F32_TOL: f32 = 1e-5;

fn check_f32_parity(case: &str) {
    let model = load_model(case, DType::F32);
    let reference = load_reference(case);
    for prefix in ["transformer", "transformer_2f"] {
        let inp = inputs(&reference, prefix);
        let out = forward(&model, &inp);
        let err = rel_err(&out, &inp.output);
        println!("{case} {prefix} f32: max|diff|/max|ref| = {err:.3e}");
        assert!(err < F32_TOL, "{case} {prefix}: relative error {err:.3e}");
    }
}

#[test]
fn parity_f32_tiny_a() {
    check_f32_parity("tiny_a");
}

#[test]
fn parity_f32_tiny_b() {
    check_f32_parity("tiny_b");
}

// bf16 compute against the f32 reference. Every linear layer and attention output is rounded to
// bf16 (8-bit mantissa, relative rounding 2^-9 ~ 2e-3); through the embedders and the blocks those
// roundings accumulate to a few 1e-2 of the output scale. Tolerance: 6e-2 relative to max |reference|.
const BF16_TOL: f32 = 6e-2;

fn check_bf16(case: &str) {
    let model = load_model(case, DType::BF16);
    let reference = load_reference(case);
    for prefix in ["transformer", "transformer_2f"] {
        let inp = inputs(&reference, prefix);
        let out = forward(&model, &inp);
        assert_eq!(out.dtype(), DType::BF16);
        let err = rel_err(&out, &inp.output);
        println!("{case} {prefix} bf16: max|diff|/max|ref| = {err:.3e}");
        assert!(err < BF16_TOL, "{case} {prefix}: relative error {err:.3e}");
    }
}

#[test]
fn parity_bf16_tiny_a() {
    check_bf16("tiny_a");
}

#[test]
fn parity_bf16_tiny_b() {
    check_bf16("tiny_b");
}

fn grid(model: &ChronoEditTransformer3DModel, hs: &Tensor) -> (usize, usize, usize) {
    let (_, _, f, h, w) = hs.dims5().unwrap();
    let [a, b, c] = model.patch_grid(f, h, w);
    (a, b, c)
}

#[test]
fn hooks_default_options_equal_forward() {
    let model = load_model("tiny_b", DType::F32);
    let reference = load_reference("tiny_b");
    for prefix in ["transformer", "transformer_2f"] {
        let inp = inputs(&reference, prefix);
        let base = forward(&model, &inp);
        let (ppf, pph, ppw) = grid(&model, &inp.hidden_states);
        let n = ppf * pph * ppw;
        // Explicit default temporal positions (0..F', or [0, skip - 1] for 2 frames).
        let default_pos = if ppf == 2 {
            vec![0, model.config().rope_temporal_skip_len - 1]
        } else {
            (0..ppf).collect()
        };
        let opts = ForwardOptions {
            temporal_positions: Some(default_pos),
            ..Default::default()
        };
        let out = run(&model, &inp, &inp.hidden_states, &opts).unwrap().sample;
        assert_eq!(
            max_abs_diff(&out, &base),
            0.0,
            "{prefix}: default positions"
        );
        // All tokens kept.
        let opts = ForwardOptions {
            token_keep: Some((0..n as u32).collect()),
            ..Default::default()
        };
        let out = run(&model, &inp, &inp.hidden_states, &opts).unwrap().sample;
        assert_eq!(max_abs_diff(&out, &base), 0.0, "{prefix}: all tokens kept");
        // Capturing must not change the sample.
        let opts = ForwardOptions {
            capture: Some(CaptureSpec {
                layers: vec![0, 1],
                query_tokens: 0..n,
                context_tokens: 0..10,
            }),
            ..Default::default()
        };
        let out = run(&model, &inp, &inp.hidden_states, &opts).unwrap();
        assert_eq!(max_abs_diff(&out.sample, &base), 0.0, "{prefix}: capture");
        // Non-default positions do change the result (the hook is not ignored).
        let other: Vec<usize> = (0..ppf).map(|i| 3 * i + 1).collect();
        let opts = ForwardOptions {
            temporal_positions: Some(other),
            ..Default::default()
        };
        let out = run(&model, &inp, &inp.hidden_states, &opts).unwrap().sample;
        assert!(
            max_abs_diff(&out, &base) > 1e-4,
            "{prefix}: positions ignored"
        );
    }
}

/// Dropping the middle latent frame keeps the remaining tokens' temporal positions (0 and 2), so it
/// must equal running frames 0 and 2 alone with explicit positions [0, 2]; dropped patches are zero.
/// (RoPE only sees relative positions, so renumbering the kept frames to [0, 1] changes the result.)
#[test]
fn token_keep_drop_middle_frame_keeps_positions() {
    let model = load_model("tiny_b", DType::F32);
    let reference = load_reference("tiny_b");
    let inp = inputs(&reference, "transformer");
    let (ppf, pph, ppw) = grid(&model, &inp.hidden_states);
    assert_eq!(ppf, 3, "fixture expected with 3 latent frames");
    let per_frame = (pph * ppw) as u32;
    let keep: Vec<u32> = (0..per_frame).chain(2 * per_frame..3 * per_frame).collect();
    let opts = ForwardOptions {
        token_keep: Some(keep),
        ..Default::default()
    };
    let dropped = run(&model, &inp, &inp.hidden_states, &opts).unwrap().sample;
    let hs = &inp.hidden_states;
    let ends = Tensor::cat(
        &[hs.narrow(2, 0, 1).unwrap(), hs.narrow(2, 2, 1).unwrap()],
        2,
    )
    .unwrap();
    let opts = ForwardOptions {
        temporal_positions: Some(vec![0, 2]),
        ..Default::default()
    };
    let alone = run(&model, &inp, &ends, &opts).unwrap().sample;
    // Same tokens, positions and order: the same computation (tolerance 1e-6 relative only for
    // summation-order effects).
    let kept = Tensor::cat(
        &[
            dropped.narrow(2, 0, 1).unwrap(),
            dropped.narrow(2, 2, 1).unwrap(),
        ],
        2,
    )
    .unwrap();
    let err = rel_err(&kept, &alone);
    assert!(err < 1e-6, "kept tokens differ: {err:.3e}");
    let middle = dropped.narrow(2, 1, 1).unwrap();
    assert_eq!(
        middle
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap(),
        0.0
    );
    let opts = ForwardOptions {
        temporal_positions: Some(vec![0, 1]),
        ..Default::default()
    };
    let renumbered = run(&model, &inp, &ends, &opts).unwrap().sample;
    assert!(max_abs_diff(&renumbered, &alone) > 1e-4);
}

/// Dropping the last token column equals running the spatially cropped input (positions start at 0
/// in both); dropped patches are zero.
#[test]
fn token_keep_drop_last_column_equals_crop() {
    let model = load_model("tiny_b", DType::F32);
    let reference = load_reference("tiny_b");
    let inp = inputs(&reference, "transformer");
    let (ppf, pph, ppw) = grid(&model, &inp.hidden_states);
    let [_, _, pw] = model.config().patch();
    let keep: Vec<u32> = (0..ppf * pph * ppw)
        .filter(|t| t % ppw != ppw - 1)
        .map(|t| t as u32)
        .collect();
    let opts = ForwardOptions {
        token_keep: Some(keep),
        ..Default::default()
    };
    let dropped = run(&model, &inp, &inp.hidden_states, &opts).unwrap().sample;
    let w = inp.hidden_states.dim(4).unwrap();
    let cropped = inp.hidden_states.narrow(4, 0, w - pw).unwrap();
    let alone = run(&model, &inp, &cropped, &ForwardOptions::default())
        .unwrap()
        .sample;
    let err = rel_err(&dropped.narrow(4, 0, w - pw).unwrap(), &alone);
    assert!(err < 1e-6, "kept tokens differ: {err:.3e}");
    let last = dropped.narrow(4, w - pw, pw).unwrap();
    assert_eq!(
        last.abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap(),
        0.0
    );
}

/// RoPE tables for kept tokens are the rows of the full tables, and match the closed form
/// cos(p * theta^(-2i/dim)) of each axis.
#[test]
fn rope_tables_for_kept_tokens() {
    // head_dim 20: t/h/w widths 8/6/6.
    let rope = ChronoEditRotaryPosEmbed::new(20, [1, 2, 2], 256, 8).unwrap();
    let (f, h, w) = (3usize, 4usize, 5usize);
    let tpos = vec![0usize, 7, 11];
    let (cos, sin) = rope.cos_sin(&tpos, h, w, None, &Device::Cpu).unwrap();
    let keep: Vec<u32> = vec![0, 6, 23, 41, 59];
    let (kc, ks) = rope
        .cos_sin(&tpos, h, w, Some(&keep), &Device::Cpu)
        .unwrap();
    let idx = Tensor::new(keep.as_slice(), &Device::Cpu).unwrap();
    assert_eq!(max_abs_diff(&kc, &cos.index_select(&idx, 0).unwrap()), 0.0);
    assert_eq!(max_abs_diff(&ks, &sin.index_select(&idx, 0).unwrap()), 0.0);
    // Token 41 = frame 2, row 0, column 1.
    let tok = 41usize;
    let (tf, th, tw) = (tok / (h * w), (tok / w) % h, tok % w);
    assert_eq!((tf, th, tw), (2, 0, 1));
    let row_c: Vec<f32> = cos.i(tok).unwrap().to_vec1().unwrap();
    let row_s: Vec<f32> = sin.i(tok).unwrap().to_vec1().unwrap();
    let axes = [(0usize, 8usize, tpos[tf]), (8, 6, th), (14, 6, tw)];
    for (start, width, p) in axes {
        for k in 0..width / 2 {
            let ang = p as f64 * 10000f64.powf(-((2 * k) as f64) / width as f64);
            let col = start / 2 + k;
            assert!(
                (row_c[col] - ang.cos() as f32).abs() < 1e-6,
                "cos col {col}"
            );
            assert!(
                (row_s[col] - ang.sin() as f32).abs() < 1e-6,
                "sin col {col}"
            );
        }
    }
    assert_eq!(rope.default_temporal_positions(2).unwrap(), vec![0, 7]);
    assert_eq!(
        rope.default_temporal_positions(4).unwrap(),
        vec![0, 1, 2, 3]
    );
    let _ = f;
}

#[test]
fn capture_cross_attention_probabilities() {
    let model = load_model("tiny_b", DType::F32);
    let reference = load_reference("tiny_b");
    let inp = inputs(&reference, "transformer");
    let n_img = inp
        .encoder_hidden_states_image
        .as_ref()
        .map_or(0, |t| t.dim(1).unwrap());
    let n_txt = inp.encoder_hidden_states.dim(1).unwrap();
    assert!(n_img > 0, "fixture expected with image tokens");
    let capture = |layers: Vec<usize>, q: std::ops::Range<usize>, c: std::ops::Range<usize>| {
        let opts = ForwardOptions {
            capture: Some(CaptureSpec {
                layers,
                query_tokens: q,
                context_tokens: c,
            }),
            ..Default::default()
        };
        run(&model, &inp, &inp.hidden_states, &opts)
            .unwrap()
            .cross_attention
            .expect("capture requested")
    };
    // The whole text part: each row is a full softmax, sums to 1.
    let p = capture(vec![0, 2], 3..9, n_img..n_img + n_txt);
    assert_eq!(p.dims(), &[6, n_txt]);
    assert_eq!(p.dtype(), DType::F32);
    let sums: Vec<f32> = p.sum(1).unwrap().to_vec1().unwrap();
    for s in &sums {
        assert!((s - 1.0).abs() < 1e-5, "text row sum {s}");
    }
    // The whole image part: its own softmax.
    let p = capture(vec![1], 0..4, 0..n_img);
    assert_eq!(p.dims(), &[4, n_img]);
    for s in p.sum(1).unwrap().to_vec1::<f32>().unwrap() {
        assert!((s - 1.0).abs() < 1e-5, "image row sum {s}");
    }
    // A sub-range: non-negative rows summing to at most 1, and equal to the same columns of the
    // full capture.
    let full = capture(vec![0], 0..5, n_img..n_img + n_txt);
    let part = capture(vec![0], 0..5, n_img + 10..n_img + 30);
    assert_eq!(part.dims(), &[5, 20]);
    assert_eq!(max_abs_diff(&part, &full.narrow(1, 10, 20).unwrap()), 0.0);
    for s in part.sum(1).unwrap().to_vec1::<f32>().unwrap() {
        assert!((0.0..=1.0 + 1e-6).contains(&s), "partial row sum {s}");
    }
    assert!(part.min_all().unwrap().to_scalar::<f32>().unwrap() >= 0.0);
    // Averaging over layers: layers [0, 2] = mean of layer 0 and layer 2.
    let l0 = capture(vec![0], 3..9, n_img..n_img + n_txt);
    let l2 = capture(vec![2], 3..9, n_img..n_img + n_txt);
    let both = capture(vec![2, 0], 3..9, n_img..n_img + n_txt);
    let mean = ((l0 + l2).unwrap() / 2.0).unwrap();
    assert!(max_abs_diff(&both, &mean) < 1e-7);
    // Out-of-range specs are errors, not panics.
    for (layers, q, c) in [
        (vec![9], 0..1, 0..1),
        (vec![0], 0..10_000, 0..1),
        (vec![0], 0..1, 0..100_000),
        (vec![], 0..1, 0..1),
    ] {
        let opts = ForwardOptions {
            capture: Some(CaptureSpec {
                layers,
                query_tokens: q,
                context_tokens: c,
            }),
            ..Default::default()
        };
        assert!(run(&model, &inp, &inp.hidden_states, &opts).is_err());
    }
}

#[test]
fn bad_options_rejected() {
    let model = load_model("tiny_b", DType::F32);
    let reference = load_reference("tiny_b");
    let inp = inputs(&reference, "transformer");
    let bad = [
        ForwardOptions {
            token_keep: Some(vec![3, 2]),
            ..Default::default()
        },
        ForwardOptions {
            token_keep: Some(vec![100_000]),
            ..Default::default()
        },
        ForwardOptions {
            token_keep: Some(vec![]),
            ..Default::default()
        },
        ForwardOptions {
            temporal_positions: Some(vec![0, 1]),
            ..Default::default()
        },
        ForwardOptions {
            temporal_positions: Some(vec![0, 1, 100_000]),
            ..Default::default()
        },
    ];
    for opts in &bad {
        assert!(
            run(&model, &inp, &inp.hidden_states, opts).is_err(),
            "{opts:?} accepted"
        );
    }
    // Wrong channel count.
    let wrong = inp.hidden_states.narrow(1, 0, 3).unwrap();
    let err = run(&model, &inp, &wrong, &ForwardOptions::default()).unwrap_err();
    assert!(err.to_string().contains("channels"), "{err}");
}

#[test]
fn config_defaults_and_rejections() {
    // Defaults are the reference class's __init__ defaults; unknown keys are ignored.
    let cfg = Config::from_json_str(r#"{"_class_name": "ChronoEditTransformer3DModel", "foo": 1}"#)
        .unwrap();
    assert_eq!(cfg.patch_size, vec![1, 2, 2]);
    assert_eq!(cfg.num_attention_heads, 40);
    assert_eq!(cfg.attention_head_dim, 128);
    assert_eq!((cfg.in_channels, cfg.out_channels()), (16, 16));
    assert_eq!(
        (cfg.text_dim, cfg.freq_dim, cfg.ffn_dim),
        (4096, 256, 13824)
    );
    assert_eq!(cfg.num_layers, 40);
    assert!(cfg.cross_attn_norm);
    assert_eq!(cfg.qk_norm.as_deref(), Some("rms_norm_across_heads"));
    assert_eq!(cfg.eps, 1e-6);
    assert_eq!((cfg.image_dim, cfg.added_kv_proj_dim), (None, None));
    assert_eq!(
        (cfg.rope_max_seq_len, cfg.rope_temporal_skip_len),
        (1024, 8)
    );
    assert_eq!(cfg.pos_embed_seq_len, None);
    // out_channels: null falls back to in_channels.
    let cfg = Config::from_json_str(r#"{"in_channels": 36, "out_channels": null}"#).unwrap();
    assert_eq!(cfg.out_channels(), 36);
    assert!(Config::from_json_str(r#"{"qk_norm": null}"#).is_ok());

    let err = Config::from_json_str(r#"{"qk_norm": "layer_norm"}"#).unwrap_err();
    assert!(err.to_string().contains("qk_norm"), "{err}");
    let err = Config::from_json_str(r#"{"patch_size": [2, 2]}"#).unwrap_err();
    assert!(err.to_string().contains("patch_size"), "{err}");
    let err = Config::from_json_str(r#"{"attention_head_dim": 13}"#).unwrap_err();
    assert!(err.to_string().contains("attention_head_dim"), "{err}");
    assert!(Config::from_json_str(r#"{"num_layers": "many"}"#).is_err());

    // Weights that do not match the config are an error naming the tensor.
    let dir = fixture_dir("tiny_b").join("pipeline").join("transformer");
    let mut cfg = Config::from_path(&dir.join("config.json")).unwrap();
    cfg.ffn_dim += 1;
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[dir.join("diffusion_pytorch_model.safetensors")],
            DType::F32,
            &Device::Cpu,
        )
    }
    .unwrap();
    let err = ChronoEditTransformer3DModel::new(&cfg, vb).unwrap_err();
    assert!(err.to_string().contains("ffn"), "{err}");
}

/// A batch of two differs from two single runs only by summation order (1e-6 relative).
#[test]
fn batch_of_two_matches_single_runs() {
    let model = load_model("tiny_b", DType::F32);
    let reference = load_reference("tiny_b");
    let a = inputs(&reference, "transformer");
    let b = Inputs {
        hidden_states: (a.hidden_states.flip(&[3]).unwrap() * 0.5).unwrap(),
        timestep: Tensor::new(&[250.0f32], &Device::Cpu).unwrap(),
        encoder_hidden_states: a.encoder_hidden_states.flip(&[1]).unwrap(),
        encoder_hidden_states_image: a
            .encoder_hidden_states_image
            .as_ref()
            .map(|t| (t * -1.0).unwrap()),
        output: a.output.clone(),
    };
    let cat = |x: &Tensor, y: &Tensor| Tensor::cat(&[x, y], 0).unwrap();
    let both = model
        .forward(
            &cat(&a.hidden_states, &b.hidden_states),
            &cat(&a.timestep, &b.timestep),
            &cat(&a.encoder_hidden_states, &b.encoder_hidden_states),
            Some(&cat(
                a.encoder_hidden_states_image.as_ref().unwrap(),
                b.encoder_hidden_states_image.as_ref().unwrap(),
            )),
        )
        .unwrap();
    for (i, inp) in [&a, &b].into_iter().enumerate() {
        let single = forward(&model, inp);
        let err = rel_err(&both.narrow(0, i, 1).unwrap(), &single);
        assert!(err < 1e-6, "batch element {i}: {err:.3e}");
    }
}

/// The context K/V cache is keyed by the context tensors: alternating contexts on one model give
/// exactly what fresh models give, and a context with equal values but a new tensor is recomputed
/// to the same result.
#[test]
fn context_cache_never_serves_a_stale_context() {
    let reference = load_reference("tiny_a");
    let a = inputs(&reference, "transformer");
    let mut b = inputs(&reference, "transformer");
    b.encoder_hidden_states = (&a.encoder_hidden_states * -0.5).unwrap();

    let fresh_a = forward(&load_model("tiny_a", DType::F32), &a);
    let fresh_b = forward(&load_model("tiny_a", DType::F32), &b);
    assert!(
        max_abs_diff(&fresh_a, &fresh_b) > 1e-4,
        "the two contexts must matter"
    );

    let model = load_model("tiny_a", DType::F32);
    for _ in 0..3 {
        assert_eq!(max_abs_diff(&forward(&model, &a), &fresh_a), 0.0);
        assert_eq!(max_abs_diff(&forward(&model, &b), &fresh_b), 0.0);
    }
    // More distinct contexts than the cache holds, then the first again.
    for k in 0..6 {
        let mut c = inputs(&reference, "transformer");
        c.encoder_hidden_states = (&a.encoder_hidden_states * (k as f64 + 2.0)).unwrap();
        forward(&model, &c);
    }
    let copy = Inputs {
        hidden_states: a.hidden_states.clone(),
        timestep: a.timestep.clone(),
        encoder_hidden_states: a.encoder_hidden_states.copy().unwrap(),
        encoder_hidden_states_image: a
            .encoder_hidden_states_image
            .as_ref()
            .map(|t| t.copy().unwrap()),
        output: a.output.clone(),
    };
    assert_eq!(max_abs_diff(&forward(&model, &copy), &fresh_a), 0.0);
    assert_eq!(max_abs_diff(&forward(&model, &a), &fresh_a), 0.0);
}

/// The pipeline's prompt padding (zero rows up to 512) collapsed into one row with a ln(count) key
/// bias gives the same output and the same captured probabilities as attending to every zero row.
/// Also for a batch whose prompts end at different rows. Tolerance: both paths compute the same
/// softmax with a different summation order (one biased term instead of ~500 equal ones); measured
/// ~6e-7 of the output scale, so the f32 parity tolerance F32_TOL (1e-5, summation order) applies.
/// The probabilities are at most 1, so 1e-6 absolute is the same allowance for them.
#[test]
fn collapsed_text_padding_equals_full_padding() {
    for case in ["tiny_a", "tiny_b"] {
        let model = load_model(case, DType::F32);
        let reference = load_reference(case);
        let inp = inputs(&reference, "transformer");
        let ehs = &inp.encoder_hidden_states;
        let (_, n_txt, dim) = ehs.dims3().unwrap();
        assert_eq!(n_txt, 512);
        // A second prompt ending earlier (rows from 3 on zero) beside the fixture's.
        let short = Tensor::cat(
            &[
                ehs.narrow(1, 0, 3).unwrap(),
                Tensor::zeros((1, n_txt - 3, dim), DType::F32, &Device::Cpu).unwrap(),
            ],
            1,
        )
        .unwrap();
        let batch2 = |t: &Tensor| Tensor::cat(&[t, t], 0).unwrap();
        let img = inp.encoder_hidden_states_image.as_ref();
        let n_img = img.map_or(0, |t| t.dim(1).unwrap());
        for (what, hs, ts, e, i) in [
            (
                "fixture prompt",
                inp.hidden_states.clone(),
                inp.timestep.clone(),
                ehs.clone(),
                img.cloned(),
            ),
            (
                "two prompt lengths",
                batch2(&inp.hidden_states),
                batch2(&inp.timestep),
                Tensor::cat(&[ehs, &short], 0).unwrap(),
                img.map(batch2),
            ),
        ] {
            let run_with = |keep_text_padding: bool| {
                let opts = ForwardOptions {
                    keep_text_padding,
                    capture: Some(CaptureSpec {
                        layers: vec![0],
                        query_tokens: 0..4,
                        context_tokens: n_img..n_img + n_txt,
                    }),
                    ..Default::default()
                };
                model.forward_with(&hs, &ts, &e, i.as_ref(), &opts).unwrap()
            };
            let (collapsed, full) = (run_with(false), run_with(true));
            let err = rel_err(&collapsed.sample, &full.sample);
            println!("{case} {what}: collapsed vs full padding, rel err {err:.3e}");
            assert!(err < F32_TOL, "{case} {what}: rel err {err:.3e}");
            let (pc, pf) = (
                collapsed.cross_attention.unwrap(),
                full.cross_attention.unwrap(),
            );
            assert_eq!(pc.dims(), pf.dims());
            let err = max_abs_diff(&pc, &pf);
            assert!(
                err < 1e-6,
                "{case} {what}: captured probabilities differ by {err:.3e}"
            );
        }
    }
}

/// The whole forward with the attention kernel forced (the query-chunked path with small score
/// budgets, so that every self- and cross-attention call is cut into many blocks with ragged last
/// chunks and, for three heads, split head groups; and the naive path) equals the default path
/// (the fused CPU kernel). The attention outputs differ in summation order only (~1e-6, see
/// tests/it/attention.rs), so F32_TOL (1e-5 of the output scale) applies as for torch parity.
#[test]
fn forced_attention_kernels_equal_default_forward() {
    use physedit::models::attention::{
        with_attention_config, AttentionConfig, AttentionKernel, DEFAULT_SCORE_BUDGET_BYTES,
    };
    let configs = [
        // 40 f32 scores per block: one query (two heads) or two of three heads per block for the
        // 18- and 12-token self-attention; a few queries per block against the collapsed text.
        (AttentionKernel::Chunked, 4 * 40),
        // 180 scores: blocks of 5 queries (18 = 3·5 + 3) for two heads of 18 keys.
        (AttentionKernel::Chunked, 4 * 180),
        (AttentionKernel::Chunked, DEFAULT_SCORE_BUDGET_BYTES),
        (AttentionKernel::Naive, DEFAULT_SCORE_BUDGET_BYTES),
    ];
    for case in ["tiny_a", "tiny_b"] {
        let model = load_model(case, DType::F32);
        let reference = load_reference(case);
        for prefix in ["transformer", "transformer_2f"] {
            let inp = inputs(&reference, prefix);
            let base = forward(&model, &inp);
            for (kernel, score_budget_bytes) in configs {
                let cfg = AttentionConfig {
                    kernel,
                    score_budget_bytes,
                };
                let out = with_attention_config(cfg, || forward(&model, &inp));
                let err = rel_err(&out, &base);
                println!(
                    "{case} {prefix} {kernel:?} budget {score_budget_bytes}: rel err {err:.3e}"
                );
                assert!(
                    err < F32_TOL,
                    "{case} {prefix} {kernel:?} budget {score_budget_bytes}: rel err {err:.3e}"
                );
            }
            // The override does reach the model's attention calls: a zero budget is an error of
            // the chunked path only.
            let bad = AttentionConfig {
                kernel: AttentionKernel::Chunked,
                score_budget_bytes: 0,
            };
            let res = with_attention_config(bad, || {
                run(&model, &inp, &inp.hidden_states, &ForwardOptions::default())
            });
            assert!(
                res.is_err(),
                "{case} {prefix}: forced chunked path not used"
            );
        }
    }
}

/// The random weights the timing tools use are plain tensors: a forward through a model built on
/// them tracks no gradient graph (which would keep every activation alive and send attention down
/// its materialised-scores path), unlike one built on a `VarMap`.
#[test]
fn random_weights_track_no_graph() {
    let case = "tiny_a";
    let dir = fixture_dir(case).join("pipeline").join("transformer");
    let cfg = Config::from_path(&dir.join("config.json")).expect("transformer config");
    let inp = inputs(&load_reference(case), "transformer");
    let model = ChronoEditTransformer3DModel::new(
        &cfg,
        physedit::checkpoint::random_var_builder(DType::F32, &Device::Cpu),
    )
    .expect("build transformer on random weights");
    let out = forward(&model, &inp);
    assert_eq!(out.dims(), inp.output.dims());
    assert!(!out.track_op(), "random weights must not track a graph");
    let varmap = candle_nn::VarMap::new();
    let tracked = ChronoEditTransformer3DModel::new(
        &cfg,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .expect("build transformer on a VarMap");
    assert!(
        forward(&tracked, &inp).track_op(),
        "a VarMap model tracks (the contrast)"
    );
}
