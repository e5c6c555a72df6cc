//! Loading errors: every bad folder or file is reported by name, never a panic.
use std::path::Path;

use physedit::checkpoint::{check_safetensors_file, weight_files, PipelineFolder};

fn write_tensor_file(path: &Path) {
    let t = candle_core::Tensor::arange(0f32, 16f32, &candle_core::Device::Cpu).unwrap();
    let map: std::collections::HashMap<String, candle_core::Tensor> =
        [("w".to_string(), t)].into_iter().collect();
    candle_core::safetensors::save(&map, path).unwrap();
}

fn err_text<T: std::fmt::Debug>(r: anyhow::Result<T>) -> String {
    format!("{:#}", r.expect_err("expected an error"))
}

#[test]
fn missing_folder_and_index_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert!(err_text(PipelineFolder::open(&missing)).contains("does not exist"));
    let e = err_text(PipelineFolder::open(dir.path()));
    assert!(e.contains("model_index.json"), "{e}");
    std::fs::write(dir.path().join("model_index.json"), "{not json").unwrap();
    let e = err_text(PipelineFolder::open(dir.path()));
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn missing_component_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("model_index.json"),
        r#"{"vae": ["diffusers", "AutoencoderKLWan"]}"#,
    )
    .unwrap();
    let folder = PipelineFolder::open(dir.path()).unwrap();
    assert_eq!(
        folder.component_class("vae").as_deref(),
        Some("AutoencoderKLWan")
    );
    let e = err_text(folder.component("transformer"));
    assert!(e.contains("`transformer` component"), "{e}");
}

#[test]
fn pickle_only_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("diffusion_pytorch_model.bin"),
        b"\x80\x02}q\x00.",
    )
    .unwrap();
    let e = err_text(weight_files(dir.path()));
    assert!(
        e.contains("refusing to load") && e.contains("diffusion_pytorch_model.bin"),
        "{e}"
    );
}

#[test]
fn pickle_beside_safetensors_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.ckpt"), b"garbage").unwrap();
    write_tensor_file(&dir.path().join("model.safetensors"));
    let files = weight_files(dir.path()).unwrap();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("model.safetensors"));
}

#[test]
fn truncated_and_corrupt_safetensors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    write_tensor_file(&good);
    check_safetensors_file(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let e = err_text(check_safetensors_file(&truncated));
    assert!(
        e.contains("truncated.safetensors") && e.contains("truncated"),
        "{e}"
    );

    let tiny = dir.path().join("tiny.safetensors");
    std::fs::write(&tiny, b"abc").unwrap();
    assert!(err_text(check_safetensors_file(&tiny)).contains("only 3 bytes"));

    let mut garbled = bytes.clone();
    for b in garbled.iter_mut().skip(8).take(6) {
        *b = b'#';
    }
    let corrupt = dir.path().join("corrupt.safetensors");
    std::fs::write(&corrupt, &garbled).unwrap();
    let e = err_text(check_safetensors_file(&corrupt));
    assert!(
        e.contains("corrupt.safetensors") && e.contains("not JSON"),
        "{e}"
    );
}

#[test]
fn sharded_index_is_followed_and_missing_shards_named() {
    let dir = tempfile::tempdir().unwrap();
    write_tensor_file(&dir.path().join("model-00001-of-00002.safetensors"));
    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        r#"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let e = err_text(weight_files(dir.path()));
    assert!(
        e.contains("model-00002-of-00002.safetensors") && e.contains("missing"),
        "{e}"
    );
    write_tensor_file(&dir.path().join("model-00002-of-00002.safetensors"));
    assert_eq!(weight_files(dir.path()).unwrap().len(), 2);
}

#[test]
fn index_shard_names_cannot_leave_the_folder() {
    // A real file outside the component folder: a path escape would find it and load it.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("transformer");
    std::fs::create_dir(&dir).unwrap();
    write_tensor_file(&root.path().join("outside.safetensors"));
    write_tensor_file(&dir.join("inside.safetensors"));
    for shard in [
        "../outside.safetensors",
        "sub/../../outside.safetensors",
        "..",
        "",
    ] {
        let index = format!(r#"{{"weight_map": {{"a": "inside.safetensors", "b": {shard:?}}}}}"#);
        std::fs::write(dir.join("model.safetensors.index.json"), index).unwrap();
        let e = err_text(weight_files(&dir));
        assert!(
            e.contains("not a plain file name") && e.contains("model.safetensors.index.json"),
            "{shard}: {e}"
        );
    }
    let abs = root.path().join("outside.safetensors");
    let index = format!(
        r#"{{"weight_map": {{"b": {:?}}}}}"#,
        abs.display().to_string()
    );
    std::fs::write(dir.join("model.safetensors.index.json"), index).unwrap();
    let e = err_text(weight_files(&dir));
    assert!(e.contains("not a plain file name"), "{e}");
}

#[test]
fn sampling_defaults_are_read_checked_and_optional() {
    use physedit::checkpoint::{sampling_defaults, SamplingDefaults};
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        sampling_defaults(tmp.path()).unwrap(),
        SamplingDefaults::default()
    );
    let file = tmp.path().join("physedit.json");
    std::fs::write(&file, r#"{"guidance_scale": 1.5, "note": "measured"}"#).unwrap();
    assert_eq!(
        sampling_defaults(tmp.path()).unwrap().guidance_scale,
        Some(1.5)
    );
    for bad in [
        r#"{"guidance_scale": -1}"#,
        r#"{"guidance": 2}"#,
        "not json",
    ] {
        std::fs::write(&file, bad).unwrap();
        let err = format!("{:#}", sampling_defaults(tmp.path()).unwrap_err());
        assert!(err.contains("physedit.json"), "{bad}: {err}");
    }
}

/// The key table against the names diffusers' own single-file converter gives (fixture written by
/// tools/reference/make_key_fixtures.py from `convert_wan_transformer_to_diffusers`), both ways.
#[test]
fn key_table_matches_diffusers_converter() {
    use physedit::checkpoint::keys::{
        detect_layout, diffusers_to_wan, wan_to_diffusers, KeyLayout,
    };
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/wan_to_diffusers.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let pairs = v["pairs"].as_array().unwrap();
    assert!(pairs.len() > 80);
    for p in pairs {
        let (wan, diffusers) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
        assert_eq!(wan_to_diffusers(wan).as_deref(), Some(diffusers), "{wan}");
        assert_eq!(
            diffusers_to_wan(diffusers).as_deref(),
            Some(wan),
            "{diffusers}"
        );
    }
    let prefixed: Vec<String> = pairs
        .iter()
        .map(|p| format!("model.diffusion_model.{}", p[0].as_str().unwrap()))
        .collect();
    let layout = detect_layout("f", prefixed.iter().map(String::as_str), |_| false).unwrap();
    assert_eq!(
        layout,
        KeyLayout::Wan {
            prefix: "model.diffusion_model.".into()
        }
    );
    for (p, key) in pairs.iter().zip(&prefixed) {
        assert_eq!(layout.to_diffusers(key).as_deref(), p[1].as_str());
    }
}

/// The architecture read from the tiny reference transformer's shapes is its config.json (but for the
/// head split, which no shape holds: given here), and a wrong-width config is refused by name.
#[test]
fn architecture_is_read_from_shapes() {
    use physedit::checkpoint::keys::{check_config, infer_config};
    use physedit::models::transformer::Config;
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_a/pipeline/transformer");
    let cfg = Config::from_path(&dir.join("config.json")).unwrap();
    let files = weight_files(&dir).unwrap();
    let st = unsafe { candle_core::safetensors::MmapedSafetensors::multi(&files).unwrap() };
    let shapes: std::collections::BTreeMap<String, Vec<usize>> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| (k, v.shape().to_vec()))
        .collect();
    let found = infer_config("tiny_a", &shapes, Some(cfg.attention_head_dim)).unwrap();
    check_config("tiny_a", &cfg, &found).unwrap();
    assert_eq!(found.num_attention_heads, cfg.num_attention_heads);
    assert_eq!(found.qk_norm, cfg.qk_norm);
    let mut wider = cfg.clone();
    wider.num_attention_heads += 1;
    let e = format!("{:#}", check_config("tiny_a", &wider, &found).unwrap_err());
    assert!(e.contains("width") && e.contains("tiny_a"), "{e}");
    let mut t2v = shapes.clone();
    t2v.retain(|k, _| !k.contains("image_embedder") && !k.contains("add_"));
    let t2v = infer_config("t2v", &t2v, Some(cfg.attention_head_dim)).unwrap();
    let e = format!("{:#}", check_config("t2v", &cfg, &t2v).unwrap_err());
    assert!(e.contains("T2V") && e.contains("image_dim"), "{e}");
}
