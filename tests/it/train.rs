//! `physedit world train`: flow-matching training with the engine's own modules (candle autograd).
//! The one-minute smoke training CI runs: the held-out loss must go down, a run must resume exactly
//! where it stopped, and the written folder must be a pipeline the engine loads and edits with.
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use physedit::models::transformer::{ChronoEditTransformer3DModel, Config};
use physedit::pipeline::chronoedit::{seeded_normal, ChronoEditPipeline, LoadOptions};
use physedit::train::{train, TrainOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/physedit-world")
}

fn smoke_options(out: &Path, steps: usize) -> TrainOptions {
    TrainOptions {
        base: bundled(),
        out: out.to_path_buf(),
        steps,
        minutes: None,
        batch: 8,
        lr: 1e-3,
        cases: 32,
        eval_cases: 8,
        size: 32,
        seed: 0,
        layers: 2,
        heads: 2,
        head_dim: 16,
        ffn_dim: 64,
        cfg_drop: 0.1,
        flow_shift: 3.0,
        ckpt_every: 20,
    }
}

fn tensor_names(path: &Path) -> Vec<String> {
    let t = candle_core::safetensors::load(path, &Device::Cpu).unwrap();
    let mut names: Vec<String> = t.into_keys().collect();
    names.sort();
    names
}

/// The smoke run: 40 steps on 32 cases, then resumed to 50 steps.
///
/// The held-out loss uses fixed noise and fixed noise levels, so a model that learns nothing keeps
/// exactly its starting value; the bar (a 10% drop) is far below what 40 steps give (about 25-35%
/// measured) and far above the exactly-zero change of a run whose updates do not reach the weights.
#[test]
fn smoke_training_lowers_the_loss_resumes_and_writes_a_loadable_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let first = train(&smoke_options(&out, 40), false).unwrap();
    eprintln!(
        "held-out loss {:.4} -> {:.4} in {:.1} s",
        first.eval_start, first.eval_end, first.seconds
    );
    assert_eq!((first.start_step, first.end_step), (0, 40));
    assert!(
        first.eval_end < 0.9 * first.eval_start,
        "held-out loss {} -> {}",
        first.eval_start,
        first.eval_end
    );
    let head: f64 = first.losses[..10].iter().sum::<f64>() / 10.0;
    let tail: f64 = first.losses[30..].iter().sum::<f64>() / 10.0;
    assert!(tail < head, "training loss {head} -> {tail}");

    // Resume: the restored weights give exactly the held-out loss the first run ended with.
    let second = train(&smoke_options(&out, 50), false).unwrap();
    assert_eq!((second.start_step, second.end_step), (40, 50));
    assert!(
        (second.eval_start - first.eval_end).abs() < 1e-6,
        "resumed at {} but the run ended at {}",
        second.eval_start,
        first.eval_end
    );
    let log = std::fs::read_to_string(out.join("train/loss.csv")).unwrap();
    let steps: Vec<usize> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(steps, (0..=50).collect::<Vec<_>>());
    assert!(out.join("train/loss.png").is_file());

    // The folder is a pipeline: diffusers' tensor names (the base model's, which has more blocks)
    // and the engine loads it and edits with it.
    let t_file = "transformer/diffusion_pytorch_model.safetensors";
    let in_first_two_blocks = |n: &String| {
        !n.starts_with("blocks.") || n.starts_with("blocks.0.") || n.starts_with("blocks.1.")
    };
    let base_names: Vec<String> = tensor_names(&bundled().join(t_file))
        .into_iter()
        .filter(in_first_two_blocks)
        .collect();
    assert_eq!(tensor_names(&out.join(t_file)), base_names);
    let pipe = ChronoEditPipeline::load(&out, &LoadOptions::default()).unwrap();
    assert_eq!(pipe.transformer.config().num_layers, 2);
    let edited = Command::new(env!("CARGO_BIN_EXE_physedit"))
        .args(["edit", "--steps", "4", "--model"])
        .arg(&out)
        .arg("--image")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/world/test/images/test_000023.png"))
        .args(["--prompt", "Paint the backdrop plain peach.", "-o"])
        .arg(tmp.path().join("edited.png"))
        .output()
        .unwrap();
    assert!(
        edited.status.success(),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    let img = image::open(tmp.path().join("edited.png")).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (64, 64),
        "the edit keeps the input's size"
    );

    // A different architecture in the same folder is refused, not silently mixed.
    let mut other = smoke_options(&out, 60);
    other.layers = 3;
    let err = train(&other, false).unwrap_err().to_string();
    assert!(err.contains("another transformer config"), "{err}");
}

#[test]
fn bad_training_options_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    // A non-empty folder that holds no run.
    std::fs::write(tmp.path().join("keep.txt"), "x").unwrap();
    let err = train(&smoke_options(tmp.path(), 5), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no training run"), "{err}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

    let out = tmp.path().join("new");
    let mut o = smoke_options(&out, 5);
    o.batch = 64;
    let err = train(&o, false).unwrap_err().to_string();
    assert!(
        err.contains("--batch 64 is larger than --cases 32"),
        "{err}"
    );
    assert!(!out.exists());

    let mut o = smoke_options(&out, 5);
    o.base = tmp.path().join("missing");
    assert!(train(&o, false).is_err());
    assert!(!out.exists());
}

/// Weights that are trainable variables send the transformer down its composed, differentiable
/// path (the fused kernels have no backward pass); it must compute what the inference path computes.
/// Tolerance 1e-4 relative: the two paths sum in different orders in f32.
#[test]
fn differentiable_path_matches_the_inference_path() {
    let cfg_text = std::fs::read_to_string(bundled().join("transformer/config.json")).unwrap();
    let cfg: Config = serde_json::from_str(&cfg_text).unwrap();
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let model =
        ChronoEditTransformer3DModel::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev))
            .unwrap();
    // Random weights (the var map starts at zero).
    {
        let data = varmap.data().lock().unwrap();
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for (i, n) in names.into_iter().enumerate() {
            let v = &data[n];
            let d = v.dims().to_vec();
            let count: usize = d.iter().product();
            let r = (seeded_normal((1, 1, 1, 1, count), i as u64, &dev).unwrap() * 0.2).unwrap();
            v.set(&r.reshape(d).unwrap()).unwrap();
        }
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    varmap.save(file.path()).unwrap();
    let plain = ChronoEditTransformer3DModel::new(&cfg, unsafe {
        VarBuilder::from_mmaped_safetensors(&[file.path()], DType::F32, &dev).unwrap()
    })
    .unwrap();

    let x = seeded_normal((2, cfg.in_channels, 2, 8, 8), 7, &dev).unwrap();
    let t = Tensor::new(&[500f32, 80.0], &dev).unwrap();
    let text = seeded_normal((1, 2, 512, 1, cfg.text_dim), 8, &dev)
        .unwrap()
        .reshape((2, 512, cfg.text_dim))
        .unwrap();
    let img_dim = cfg.image_dim.unwrap();
    let image = seeded_normal((1, 2, 5, 1, img_dim), 9, &dev)
        .unwrap()
        .reshape((2, 5, img_dim))
        .unwrap();
    let a = model.forward(&x, &t, &text, Some(&image)).unwrap();
    let b = plain.forward(&x, &t, &text, Some(&image)).unwrap();
    let max_abs = |t: &Tensor| -> f32 {
        t.abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let diff = max_abs(&(&a - &b).unwrap());
    let scale = max_abs(&b);
    assert!(
        diff <= 1e-4 * scale.max(1.0),
        "max diff {diff} (scale {scale})"
    );
    // And gradients reach every weight.
    let grads = a.sqr().unwrap().mean_all().unwrap().backward().unwrap();
    let missing: Vec<String> = {
        let data = varmap.data().lock().unwrap();
        data.iter()
            .filter(|(_, v)| grads.get(v.as_tensor()).is_none())
            .map(|(n, _)| n.clone())
            .collect()
    };
    assert!(missing.is_empty(), "no gradient for {missing:?}");
}
