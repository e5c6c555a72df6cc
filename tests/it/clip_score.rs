//! CLIP model parity against transformers (fixture from tools/reference/make_clip_fixture.py) and the
//! `physedit score` command end to end.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use physedit::eval::clip_score::{cosine, ClipEmbedder};
use physedit::models::clip::pool_position;

use crate::common::{max_abs, max_abs_diff};

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
            candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu)
                .unwrap();
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

#[test]
fn tokenizer_matches_transformers() {
    let r = Reference::load();
    let model = ClipEmbedder::load(&fixture().join("model")).unwrap();
    for (i, p) in r.prompts().iter().enumerate() {
        let want: Vec<Vec<i64>> = r.get(&format!("text.{i}.input_ids")).to_vec2().unwrap();
        let got: Vec<i64> = model
            .tokenize(p)
            .unwrap()
            .into_iter()
            .map(|t| t as i64)
            .collect();
        assert_eq!(got, want[0], "token ids of prompt {i} {p:?}");
    }
}

/// The fixture model with `text_config.eos_token_id = 2`, which selects transformers' legacy argmax
/// pooling (the reference's `text_legacy.*` embeddings were computed with exactly this config).
fn legacy_model_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture().join("model")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    let cfg_path = tmp.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["text_config"]["eos_token_id"] = serde_json::json!(2);
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    tmp
}

#[test]
fn text_embeds_match_transformers_both_pooling_rules() {
    let r = Reference::load();
    let eos = r.meta["eos_token_id"].as_u64().unwrap() as u32;
    assert_ne!(
        eos, 2,
        "the fixture's main model must use the first-EOS pooling rule"
    );
    let legacy = legacy_model_dir();
    for (dir, key) in [
        (fixture().join("model"), "text"),
        (legacy.path().to_path_buf(), "text_legacy"),
    ] {
        let folder = if key == "text" {
            "model"
        } else {
            "model_legacy"
        };
        let model = ClipEmbedder::load(&dir).unwrap();
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
    let model = ClipEmbedder::load(&fixture().join("model")).unwrap();
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
        assert!(
            tower_d < 1e-4,
            "image {j}: vision tower differs by {tower_d}"
        );
        let got = model.image_embeds(&img).unwrap();
        let d = max_abs_diff(&got, want);
        if *needs_resize {
            // Sensitivity to the resampler: the reference embedding of the same image resized with
            // torch's bicubic antialiased interpolation instead of Pillow's.
            let pv_torch = r.get(&format!("image.{j}.pixel_values_torch_resize"));
            let want_torch = r.get(&format!("image.{j}.embeds_torch_resize"));
            let tower_torch = model.image_features(pv_torch).unwrap();
            let tt = max_abs_diff(&tower_torch, want_torch);
            assert!(
                tt < 1e-4,
                "image {j}: vision tower on torch-resized pixels differs by {tt}"
            );
            let cos_ref = cosine(&got, want).unwrap();
            let cos_torch = cosine(&got, want_torch).unwrap();
            eprintln!(
                "image {j} (resized): |ours - Pillow ref| {d:e}, cos {cos_ref:.9}; \
                 pixel values Pillow vs torch resize max |diff| {:.4}, embeds {:.4}, cos {cos_torch:.6}",
                max_abs_diff(pv_want, pv_torch),
                max_abs_diff(want, want_torch),
            );
            worst_resized = worst_resized.max(d);
            worst_pv_resized = worst_pv_resized.max(pv_d);
            // The resampler re-implements Pillow's 8-bit bicubic (fixed-point weights, rounding to u8
            // per pass), so the pixels are expected to agree exactly (measured: 0). Allowed: a
            // one-level (1/255) difference, which moves a normalised value by at most
            // 1/255/min(std) = 0.0146. For the embeddings, 2e-3: swapping in a different bicubic
            // (torch's antialiased one, reference tensors `*_torch_resize`) moves them by 4e-3..8e-3
            // on these images, so the bound still tells a Pillow-exact resampler from another one,
            // while leaving room for isolated rounding differences.
            assert!(pv_d <= 0.0147, "image {j}: pixel values differ by {pv_d}");
            assert!(d < 2e-3, "image {j} (resized): embeds differ by {d}");
            assert!(
                max_abs_diff(want, want_torch) > 2e-3,
                "image {j}: the fixture no longer tells the resamplers apart"
            );
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
    let model = ClipEmbedder::load(&fixture().join("model")).unwrap();
    let images: Vec<_> = r
        .images()
        .iter()
        .map(|(p, _)| image::open(p).unwrap())
        .collect();
    let prompts = r.prompts();
    for (j, img) in images.iter().enumerate() {
        for (i, p) in prompts.iter().enumerate().take(3) {
            let want = r
                .get(&format!("clip_t.{i}.{j}"))
                .to_scalar::<f32>()
                .unwrap() as f64;
            let got = model.clip_t(img, p).unwrap();
            // cosines of embeddings matching within 1e-4 (resized images: within the bound above,
            // relative to norms of O(1)): 1e-3
            assert!((got - want).abs() < 1e-3, "clip_t {i} {j}: {got} vs {want}");
        }
        for (k, other) in images.iter().enumerate() {
            let want = r
                .get(&format!("clip_i.{j}.{k}"))
                .to_scalar::<f32>()
                .unwrap() as f64;
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
    let err = format!("{:#}", ClipEmbedder::load(tmp.path()).unwrap_err());
    assert!(err.contains("config.json"), "{err}");
    for f in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        std::fs::copy(fixture().join("model").join(f), tmp.path().join(f)).unwrap();
    }
    let err = format!("{:#}", ClipEmbedder::load(tmp.path()).unwrap_err());
    assert!(err.contains("tokenizer.json"), "{err}");
    std::fs::write(tmp.path().join("config.json"), "{ not json").unwrap();
    let err = format!("{:#}", ClipEmbedder::load(tmp.path()).unwrap_err());
    assert!(err.contains("config.json"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// `physedit score` end to end

fn write_png(path: &Path, w: u32, h: u32, seed: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let v = x.wrapping_mul(31) ^ y.wrapping_mul(17) ^ seed.wrapping_mul(97);
        image::Rgb([
            (v % 251) as u8,
            (v / 3 % 253) as u8,
            ((x + y + seed) * 5 % 256) as u8,
        ])
    });
    img.save(path).unwrap();
}

struct ScoreSetup {
    _tmp: tempfile::TempDir,
    suite: PathBuf,
    images: PathBuf,
    edited: PathBuf,
    out: PathBuf,
}

fn score_setup() -> ScoreSetup {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("root");
    let edited = tmp.path().join("edited");
    std::fs::create_dir_all(images.join("src")).unwrap();
    std::fs::create_dir_all(&edited).unwrap();
    // sources: crop-sized, larger non-square (resized), shared by two cases
    write_png(&images.join("src/a.png"), 32, 32, 1);
    write_png(&images.join("src/b.png"), 70, 45, 2);
    write_png(&images.join("src/c.png"), 40, 40, 3);
    for (k, seed) in [
        ("ok1", 11),
        ("ok2", 12),
        ("ok3", 13),
        ("ok4", 14),
        ("badtype", 15),
        ("nofield", 16),
        ("nosource", 17),
    ] {
        write_png(
            &edited.join(format!("{k}.png")),
            32 + seed % 3 * 10,
            32,
            seed,
        );
    }
    std::fs::write(edited.join("corrupt.png"), b"this is not a png").unwrap();
    let suite = tmp.path().join("suite.json");
    std::fs::write(
        &suite,
        r#"{
  "ok1": {"id": "src/a.png", "prompt": "make the red ball roll off the table", "edit_type": "action"},
  "ok2": {"id": "src/b.png", "prompt": "A photo of a cat", "edit_type": "add"},
  "ok3": {"id": "src/c.png", "prompt": "remove the lamp", "edit_type": "remove"},
  "ok4": {"id": "src/a.png", "prompt": "make the red ball roll off the table", "edit_type": "action"},
  "noedit": {"id": "src/a.png", "prompt": "no edited image for this one", "edit_type": "style"},
  "badtype": {"id": "src/a.png", "prompt": "teleport it", "edit_type": "teleport"},
  "nofield": {"id": "src/a.png", "edit_type": "add"},
  "nosource": {"id": "src/missing.png", "prompt": "push the block", "edit_type": "action"},
  "corrupt": {"id": "src/b.png", "prompt": "push the block", "edit_type": "replace"}
}"#,
    )
    .unwrap();
    let out = tmp.path().join("scores.jsonl");
    ScoreSetup {
        _tmp: tmp,
        suite,
        images,
        edited,
        out,
    }
}

fn run_score(s: &ScoreSetup, suite: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
        .arg("score")
        .arg("--suite")
        .arg(suite)
        .arg("--images")
        .arg(&s.images)
        .arg("--edited")
        .arg(&s.edited)
        .arg("--clip")
        .arg(fixture().join("model"))
        .arg("-o")
        .arg(&s.out)
        .output()
        .unwrap()
}

#[test]
fn score_cli_end_to_end_matches_library() {
    use physedit::eval::clip_score::read_jsonl;
    let s = score_setup();
    let o = run_score(&s, &s.suite);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let recs = read_jsonl(&s.out).unwrap();
    // one line per key with an edited image and per malformed entry, in suite order
    let order: Vec<_> = recs.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        order,
        ["ok1", "ok2", "ok3", "ok4", "badtype", "nofield", "nosource", "corrupt"]
    );
    let by_key: HashMap<_, _> = recs.iter().map(|r| (r.key.as_str(), r)).collect();
    // every key with an edited image, and every malformed entry; "noedit" has no line
    let mut keys: Vec<_> = by_key.keys().copied().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["badtype", "corrupt", "nofield", "nosource", "ok1", "ok2", "ok3", "ok4"]
    );
    let err = |k: &str| {
        by_key[k]
            .error
            .clone()
            .unwrap_or_else(|| panic!("{k}: no error"))
    };
    assert!(
        err("badtype").contains("unknown edit_type"),
        "{}",
        err("badtype")
    );
    assert!(err("nofield").contains("prompt"), "{}", err("nofield"));
    assert!(
        err("nosource").contains("missing.png"),
        "{}",
        err("nosource")
    );
    assert!(err("corrupt").contains("corrupt.png"), "{}", err("corrupt"));

    // the same numbers as the library called directly
    let model = ClipEmbedder::load(&fixture().join("model")).unwrap();
    for (k, src, prompt) in [
        ("ok1", "src/a.png", "make the red ball roll off the table"),
        ("ok2", "src/b.png", "A photo of a cat"),
        ("ok3", "src/c.png", "remove the lamp"),
        ("ok4", "src/a.png", "make the red ball roll off the table"),
    ] {
        let r = by_key[k];
        assert!(r.error.is_none(), "{k}: {:?}", r.error);
        let edited = image::open(s.edited.join(format!("{k}.png"))).unwrap();
        let source = image::open(s.images.join(src)).unwrap();
        let t = model.clip_t(&edited, prompt).unwrap();
        let i = model.clip_i(&edited, &source).unwrap();
        // the same computation; serde_json's default float parser may be 1 ulp off when reading the
        // printed f64 back (exact round trip needs its float_roundtrip feature), hence 1e-12
        let (rt, ri) = (r.clip_t.unwrap(), r.clip_i.unwrap());
        assert!((rt - t).abs() < 1e-12, "{k} clip_t {rt} vs {t}");
        assert!((ri - i).abs() < 1e-12, "{k} clip_i {ri} vs {i}");
        assert!(t.abs() <= 1.0 && i.abs() <= 1.0);
    }
    assert_eq!(by_key["ok1"].edit_type.as_deref(), Some("action"));

    // table: per category and overall
    for row in ["action", "add", "remove", "overall"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "no {row} row:\n{stdout}"
        );
    }
    let overall = stdout.lines().find(|l| l.starts_with("overall")).unwrap();
    let cols: Vec<_> = overall.split_whitespace().collect();
    assert_eq!(cols[1], "4", "{overall}");
    let mean_t: f64 = ["ok1", "ok2", "ok3", "ok4"]
        .iter()
        .map(|k| by_key[k].clip_t.unwrap())
        .sum::<f64>()
        / 4.0;
    assert_eq!(cols[2], format!("{mean_t:.4}"));
    assert_eq!(cols[4], "4", "errors column: {overall}");
    // atomic write: nothing but the output next to it
    let leftovers: Vec<_> = std::fs::read_dir(s.out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn score_cli_rejects_a_bad_suite_file() {
    let s = score_setup();
    for (name, text) in [
        ("broken.json", "{\"ok1\": {\"id\": "),
        ("list.json", "[1, 2, 3]"),
        ("empty.json", "{}"),
    ] {
        let p = s.suite.with_file_name(name);
        std::fs::write(&p, text).unwrap();
        let o = run_score(&s, &p);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name} accepted");
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(!s.out.exists(), "{name}: output written");
    }
    let o = run_score(&s, &s.suite.with_file_name("absent.json"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("absent.json"));
}

#[test]
fn config_defaults_and_config_dict_rule() {
    use physedit::models::clip::ClipConfig;
    // expected values printed by transformers 5.24:
    // CLIPConfig.from_dict({'text_config': {'hidden_size': 64, 'num_attention_heads': 4},
    //                       'text_config_dict': {'hidden_size': 96}})
    // -> text hidden_size 96, num_attention_heads 8, eos_token_id 49407, hidden_act quick_gelu,
    //    projection_dim 512, vision hidden_size 768, patch_size 32
    let c: ClipConfig = serde_json::from_str(
        r#"{"text_config": {"hidden_size": 64, "num_attention_heads": 4},
            "text_config_dict": {"hidden_size": 96}}"#,
    )
    .unwrap();
    let t = c.text().unwrap();
    assert_eq!((t.hidden_size, t.num_attention_heads), (96, 8));
    assert_eq!(t.eos_id().unwrap(), 49407);
    assert_eq!(t.hidden_act, "quick_gelu");
    assert_eq!(c.projection_dim, 512);
    let v = c.vision().unwrap();
    assert_eq!((v.hidden_size, v.patch_size), (768, 32));
    let bad: ClipConfig = serde_json::from_str(r#"{"text_config": 3}"#).unwrap();
    assert!(bad.text().is_err());
    let list: ClipConfig =
        serde_json::from_str(r#"{"text_config": {"eos_token_id": [1, 2]}}"#).unwrap();
    assert!(list.text().unwrap().eos_id().is_err());
}
