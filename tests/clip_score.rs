//! CLIP model parity against transformers (fixture from tools/reference/make_clip_fixture.py) and the
//! `physedit score` command end to end.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use physedit::models::clip::{cosine, pool_position, ClipModel};

fn fixture() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip");
    assert!(
        dir.join("reference.safetensors").is_file(),
        "CLIP fixture missing at {}: run tools/reference/make_clip_fixture.py",
        dir.display()
    );
    dir
}

struct Reference {
    tensors: HashMap<String, Tensor>,
    meta: serde_json::Value,
}

impl Reference {
    fn load() -> Self {
        let dir = fixture();
        let tensors =
            candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu).unwrap();
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        Self { tensors, meta }
    }
    fn get(&self, name: &str) -> &Tensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("reference tensor {name} missing"))
    }
    fn prompts(&self) -> Vec<String> {
        self.meta["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    }
    fn images(&self) -> Vec<(PathBuf, bool)> {
        let names = self.meta["images"].as_array().unwrap();
        let resize = self.meta["needs_resize"].as_array().unwrap();
        names
            .iter()
            .zip(resize)
            .map(|(n, r)| {
                (
                    fixture().join("images").join(n.as_str().unwrap()),
                    r.as_bool().unwrap(),
                )
            })
            .collect()
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    (a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap())
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

fn max_abs(a: &Tensor) -> f32 {
    a.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn tokenizer_matches_transformers() {
    let r = Reference::load();
    let model = ClipModel::load(&fixture().join("model")).unwrap();
    for (i, p) in r.prompts().iter().enumerate() {
        let want: Vec<Vec<i64>> = r.get(&format!("text.{i}.input_ids")).to_vec2().unwrap();
        let got: Vec<i64> = model.tokenize(p).unwrap().into_iter().map(|t| t as i64).collect();
        assert_eq!(got, want[0], "token ids of prompt {i} {p:?}");
    }
}

#[test]
fn text_embeds_match_transformers_both_pooling_rules() {
    let r = Reference::load();
    let eos = r.meta["eos_token_id"].as_u64().unwrap() as u32;
    assert_ne!(
        eos, 2,
        "the fixture's main model must use the first-EOS pooling rule"
    );
    for (folder, key) in [("model", "text"), ("model_legacy", "text_legacy")] {
        let model = ClipModel::load(&fixture().join(folder)).unwrap();
        let mut worst = 0f32;
        for (i, p) in r.prompts().iter().enumerate() {
            let want = r.get(&format!("{key}.{i}.embeds"));
            let got = model.text_embeds(p).unwrap();
            let d = max_abs_diff(&got, want);
            // f32 through 2 layers of width 32 with O(1) activations: both sides round per op at
            // ~6e-8 relative; 1e-4 absolute leaves a wide margin while catching any wrong op
            // (a wrong pooling position or activation moves entries by O(0.1)).
            assert!(
                d < 1e-4,
                "{folder}: text embeds of prompt {i} {p:?} differ by {d} (max |ref| {})",
                max_abs(want)
            );
            worst = worst.max(d);
        }
        eprintln!("{folder}: text embeds max |diff| over prompts {worst:e}");
    }
}

#[test]
fn pooling_rules_pick_transformers_positions() {
    // legacy rule: argmax of the ids, first maximum on ties
    assert_eq!(pool_position(&[0, 5, 9, 9, 1], 2), 2);
    // first occurrence of the end token, not the last
    assert_eq!(pool_position(&[0, 5, 1, 7, 1], 1), 2);
    // none present: argmax over all-false is 0
    assert_eq!(pool_position(&[0, 5, 7], 1), 0);
}

#[test]
fn legacy_and_first_eos_rules_differ_on_the_fixture() {
    // the two rules must pool at different positions for some fixture prompt, or the legacy test
    // above would not tell them apart
    let r = Reference::load();
    let eos = r.meta["eos_token_id"].as_u64().unwrap() as u32;
    let differing = (0..r.prompts().len())
        .filter(|i| {
            let ids: Vec<Vec<i64>> = r.get(&format!("text.{i}.input_ids")).to_vec2().unwrap();
            let ids: Vec<u32> = ids[0].iter().map(|&t| t as u32).collect();
            pool_position(&ids, eos) != pool_position(&ids, 2)
        })
        .count();
    assert!(differing > 0);
}

#[test]
fn image_embeds_match_transformers() {
    let r = Reference::load();
    let model = ClipModel::load(&fixture().join("model")).unwrap();
    let mut worst_exact = 0f32;
    let mut worst_resized = 0f32;
    let mut worst_pv_resized = 0f32;
    for (j, (path, needs_resize)) in r.images().iter().enumerate() {
        let img = image::open(path).unwrap();
        let pv_want = r.get(&format!("image.{j}.pixel_values"));
        let pv = model.preprocess(&img).unwrap();
        let pv_d = max_abs_diff(&pv, pv_want);
        let want = r.get(&format!("image.{j}.embeds"));
        // the vision tower alone, on the reference's own pixel values
        let tower = model.image_features(pv_want).unwrap();
        let tower_d = max_abs_diff(&tower, want);
        // same f32 argument as the text tower (2 layers, width 40)
        assert!(tower_d < 1e-4, "image {j}: vision tower differs by {tower_d}");
        let got = model.image_embeds(&img).unwrap();
        let d = max_abs_diff(&got, want);
        if *needs_resize {
            worst_resized = worst_resized.max(d);
            worst_pv_resized = worst_pv_resized.max(pv_d);
            // The resampler is a re-implementation of Pillow's 8-bit bicubic (fixed-point, per-pass
            // rounding to u8), so pixels agree exactly in practice; a one-level (1/255) difference in
            // a few pixels would move the normalised values by at most 1/255/0.26 = 0.015 and the
            // embedding by a few 1e-3 through this random network. 1e-2 bounds that worst case; the
            // measured difference is printed below.
            assert!(pv_d <= 0.016, "image {j}: pixel values differ by {pv_d}");
            assert!(d < 1e-2, "image {j} (resized): embeds differ by {d}");
        } else {
            worst_exact = worst_exact.max(d);
            // no resize: the processed pixels are the same u8 values; only f32 rounding remains
            assert!(pv_d < 1e-6, "image {j}: pixel values differ by {pv_d}");
            assert!(d < 1e-4, "image {j}: embeds differ by {d}");
        }
    }
    eprintln!(
        "image embeds max |diff|: no resize {worst_exact:e}; resized {worst_resized:e} \
         (pixel values {worst_pv_resized:e})"
    );
}

#[test]
fn cosines_match_transformers() {
    let r = Reference::load();
    let model = ClipModel::load(&fixture().join("model")).unwrap();
    let images: Vec<_> = r.images().iter().map(|(p, _)| image::open(p).unwrap()).collect();
    let prompts = r.prompts();
    for (j, img) in images.iter().enumerate() {
        for (i, p) in prompts.iter().enumerate().take(3) {
            let want = r.get(&format!("clip_t.{i}.{j}")).to_scalar::<f32>().unwrap() as f64;
            let got = model.clip_t(img, p).unwrap();
            // cosines of embeddings matching within 1e-4 (resized images: within the bound above,
            // relative to norms of O(1)): 1e-3
            assert!((got - want).abs() < 1e-3, "clip_t {i} {j}: {got} vs {want}");
        }
        for (k, other) in images.iter().enumerate() {
            let want = r.get(&format!("clip_i.{j}.{k}")).to_scalar::<f32>().unwrap() as f64;
            let got = model.clip_i(img, other).unwrap();
            assert!((got - want).abs() < 1e-3, "clip_i {j} {k}: {got} vs {want}");
        }
    }
    let e = model.text_embeds("a photo of a cat").unwrap();
    assert!((cosine(&e, &e).unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn load_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let err = format!("{:#}", ClipModel::load(tmp.path()).unwrap_err());
    assert!(err.contains("config.json"), "{err}");
    for f in ["config.json", "model.safetensors", "preprocessor_config.json"] {
        std::fs::copy(fixture().join("model").join(f), tmp.path().join(f)).unwrap();
    }
    let err = format!("{:#}", ClipModel::load(tmp.path()).unwrap_err());
    assert!(err.contains("tokenizer.json"), "{err}");
    std::fs::write(tmp.path().join("config.json"), "{ not json").unwrap();
    let err = format!("{:#}", ClipModel::load(tmp.path()).unwrap_err());
    assert!(err.contains("config.json"), "{err}");
}
