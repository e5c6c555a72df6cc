//! Transformers from single files (`physedit::checkpoint::single_file`, `gguf`, `quantize`): the tiny_a
//! pipeline with its transformer given as an original-key ComfyUI file, a Q8_0 GGUF in city96's layout
//! and a ComfyUI scaled-fp8 file, all written by tools/reference/make_single_file_fixtures.py (which
//! checked the original-key file against diffusers' own `convert_wan_transformer_to_diffusers` and
//! ran diffusers with each file's dequantized weights); `physedit quantize` writes what gguf-py and
//! torch wrote; and every malformed file is refused naming the file and the tensor.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use physedit::checkpoint::gguf::GgufFile;
use physedit::checkpoint::quantize::{quantize, QuantType};
use physedit::checkpoint::single_file::{ComponentFiles, TransformerFile};
use physedit::models::linear::{Linear, LinearStore, LinearWeight, QuantMatmul};
use physedit::pipeline::chronoedit::{ChronoEditPipeline, LoadOptions};

use crate::common::{fixture, max_abs_diff};

/// The project's bar for whole-pipeline parity in f32 (frames in [0, 1]).
const FRAME_TOL: f32 = 2e-3;

fn single(name: &str) -> PathBuf {
    fixture("single_file").join(name)
}

fn tiny_transformer_dir() -> PathBuf {
    fixture("tiny_a").join("pipeline").join("transformer")
}

fn reference() -> HashMap<String, Tensor> {
    let mut r = candle_core::safetensors::load(single("reference.safetensors"), &Device::Cpu)
        .expect("single_file reference");
    let tiny = candle_core::safetensors::load(
        fixture("tiny_a").join("reference.safetensors"),
        &Device::Cpu,
    )
    .expect("tiny_a reference");
    r.insert("full.frames".into(), tiny["run.plain.frames"].clone());
    r.insert("latents".into(), tiny["run.plain.latents"].clone());
    r
}

/// tiny_a's `plain` run with the transformer from `file` (the folder's when `None`).
fn plain_frames(file: Option<&Path>) -> Tensor {
    plain_frames_with(ComponentFiles {
        transformer: file.map(Path::to_path_buf),
        ..Default::default()
    })
}

/// tiny_a's `plain` run with components replaced by `files`.
fn plain_frames_with(files: ComponentFiles) -> Tensor {
    let dir = fixture("tiny_a");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let run = &meta["runs"]["plain"];
    let opts = LoadOptions {
        files,
        ..Default::default()
    };
    let pipe = ChronoEditPipeline::load(&dir.join("pipeline"), &opts).expect("load pipeline");
    let image = physedit::util::open_image(&dir.join("input.png")).unwrap();
    let req = crate::common::run_request(run, reference()["latents"].clone());
    pipe.edit(&image, &req, &mut |_, _| {})
        .expect("edit")
        .frames
}

#[test]
fn original_key_file_gives_the_folders_frames() {
    let path = single("wan_comfy.safetensors");
    let file = TransformerFile::open(&path, Some(12)).unwrap();
    assert!(
        file.describe()
            .contains("original Wan key names under `model.diffusion_model.`"),
        "{}",
        file.describe()
    );
    let frames = plain_frames(Some(&path));
    let d = max_abs_diff(&frames, &reference()["full.frames"]);
    eprintln!("original-key file vs diffusers' folder frames: {d:.2e}");
    assert!(d <= FRAME_TOL, "frames differ by {d}");
}

/// The quantized file's frames against diffusers run with the same dequantized weights: closer to
/// those than those are to the full-precision frames (the bar the quantized forms must clear), and the distances.
fn check_quantized(file: &str, reference_key: &str) -> (f32, f32) {
    let r = reference();
    let frames = plain_frames(Some(&single(file)));
    let d_ours = max_abs_diff(&frames, &r[reference_key]);
    let d_quant = max_abs_diff(&r[reference_key], &r["full.frames"]);
    eprintln!("{file}: vs diffusers with its dequantized weights {d_ours:.2e}, those vs full precision {d_quant:.2e}");
    assert!(
        d_ours < d_quant,
        "{file}: {d_ours} from diffusers' dequantized run, which is {d_quant} from full precision"
    );
    (d_ours, d_quant)
}

#[test]
fn gguf_q8_0_is_closer_to_diffusers_with_its_dequantized_weights() {
    let file = TransformerFile::open(&single("q8_0.gguf"), Some(12)).unwrap();
    assert!(file.describe().contains("Q8_0"), "{}", file.describe());
    let store = file.linears(&Device::Cpu).unwrap();
    // Only the Q8_0 tensors stay quantized (tiny_a: ffn.2 of both blocks); F16/F32 load dense.
    let mut quantized: Vec<&String> = store.keys().collect();
    quantized.sort();
    assert_eq!(
        quantized,
        ["blocks.0.ffn.net.2.weight", "blocks.1.ffn.net.2.weight"]
    );
    check_quantized("q8_0.gguf", "gguf_q8_0.frames");
}

#[test]
fn gguf_patch_embedding_reads_as_5d_tensor_or_with_orig_shape_metadata() {
    let a = TransformerFile::open(&single("q8_0.gguf"), Some(12)).unwrap();
    let b = TransformerFile::open(&single("q8_0_orig_shape.gguf"), Some(12)).unwrap();
    let g = GgufFile::open(&single("q8_0_orig_shape.gguf")).unwrap();
    assert!(g
        .metadata
        .contains_key("comfy.gguf.orig_shape.patch_embedding.weight"));
    let get = |f: &TransformerFile| {
        f.var_builder(DType::F32, &Device::Cpu)
            .get((24, 36, 1, 2, 2), "patch_embedding.weight")
            .unwrap()
    };
    assert_eq!(max_abs_diff(&get(&a), &get(&b)), 0.0);
    let folder =
        physedit::checkpoint::var_builder(&tiny_transformer_dir(), DType::F32, &Device::Cpu)
            .unwrap()
            .get((24, 36, 1, 2, 2), "patch_embedding.weight")
            .unwrap();
    assert_eq!(max_abs_diff(&get(&a), &folder), 0.0);
}

#[test]
fn scaled_fp8_is_closer_to_diffusers_with_its_dequantized_weights() {
    let file = TransformerFile::open(&single("fp8_scaled.safetensors"), Some(12)).unwrap();
    assert!(
        file.describe().contains("24 scaled fp8 weights"),
        "{}",
        file.describe()
    );
    let store = file.linears(&Device::Cpu).unwrap();
    assert_eq!(
        store.len(),
        24,
        "12 block Linear weights x 2 blocks stay fp8"
    );
    for w in store.values() {
        match w {
            LinearWeight::Fp8 { w, .. } => assert_eq!(w.dtype(), DType::F8E4M3),
            other => panic!("expected fp8, got {other:?}"),
        }
    }
    check_quantized("fp8_scaled.safetensors", "fp8_scaled.frames");
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn quantize_writes_the_layout_gguf_py_wrote() {
    quantize_matches(QuantType::Q8_0, "q8_0.gguf", GgmlDType::Q8_0);
}

#[test]
fn quantize_q4_0_writes_what_gguf_py_wrote() {
    quantize_matches(QuantType::Q4_0, "q4_0.gguf", GgmlDType::Q4_0);
}

/// `physedit quantize --type ty` of tiny_a's transformer against gguf-py's file `fixture`: same
/// names, order of the patch embedding, types, shapes and stored bytes.
fn quantize_matches(ty: QuantType, fixture: &str, block: GgmlDType) {
    let dir = temp_dir();
    let out = dir.path().join("tiny.gguf");
    let mut calls = 0;
    quantize(&tiny_transformer_dir(), ty, &out, &mut |_, _, _| calls += 1).unwrap();
    assert!(calls > 0);
    let ours = GgufFile::open(&out).unwrap();
    let theirs = GgufFile::open(&single(fixture)).unwrap();
    // The fixture quantizes some block weights (tiny_a: rows of 32), so the bytes compared include
    // blocks of the requested type.
    assert!(
        theirs.tensors.values().any(|t| t.dtype == block),
        "{fixture} holds no {block:?} tensor"
    );
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    assert_eq!(sorted(&ours.order), sorted(&theirs.order), "tensor names");
    // fix_5d_tensors.py's place for the 5-D patch embedding: right after its bias.
    let at = ours
        .order
        .iter()
        .position(|n| n == "patch_embedding.bias")
        .unwrap();
    assert_eq!(ours.order[at + 1], "patch_embedding.weight");
    assert_eq!(ours.meta_str("general.architecture"), Some("wan"));
    for name in &theirs.order {
        let (a, b) = (&ours.tensors[name], &theirs.tensors[name]);
        assert_eq!((a.dtype, &a.dims), (b.dtype, &b.dims), "{name}");
        let qa = ours.qtensor(name, &Device::Cpu).unwrap();
        let qb = theirs.qtensor(name, &Device::Cpu).unwrap();
        assert_eq!(
            qa.data().unwrap(),
            qb.data().unwrap(),
            "{name}: stored bytes"
        );
    }
}

#[test]
fn quantize_fp8_writes_what_torch_wrote() {
    let dir = temp_dir();
    let out = dir.path().join("tiny-fp8.safetensors");
    quantize(
        &tiny_transformer_dir(),
        QuantType::Fp8,
        &out,
        &mut |_, _, _| {},
    )
    .unwrap();
    let ours = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
    let theirs =
        candle_core::safetensors::load(single("fp8_scaled.safetensors"), &Device::Cpu).unwrap();
    let mut ka: Vec<_> = ours.keys().collect();
    let mut kb: Vec<_> = theirs.keys().collect();
    ka.sort();
    kb.sort();
    assert_eq!(ka, kb);
    for (k, b) in &theirs {
        let a = &ours[k];
        assert_eq!((a.dtype(), a.dims()), (b.dtype(), b.dims()), "{k}");
        if a.elem_count() > 0 {
            let d = max_abs_diff(
                &a.to_dtype(DType::F32).unwrap(),
                &b.to_dtype(DType::F32).unwrap(),
            );
            assert_eq!(d, 0.0, "{k}");
        }
    }
}

#[test]
fn quantized_files_load_into_the_pipeline() {
    // Q4_K needs 256-value rows, which tiny_a's Linear layers do not have: the file is all F16/F32
    // and must give the folder's frames to F16 rounding.
    let dir = temp_dir();
    let out = dir.path().join("tiny-Q4_K.gguf");
    quantize(
        &tiny_transformer_dir(),
        QuantType::Q4K,
        &out,
        &mut |_, _, _| {},
    )
    .unwrap();
    let d = max_abs_diff(&plain_frames(Some(&out)), &reference()["full.frames"]);
    eprintln!("Q4_K (F16 fallback) file vs full precision: {d:.2e}");
    assert!(d < 2e-2, "{d}");
}

/// A quantized Linear layer against the dense product with its dequantized weight, for every GGML
/// type a Wan GGUF uses, both ways of multiplying. The CPU kernel also quantizes the activations (to
/// Q8_0 / Q8_K), so its tolerance is a relative error of 2 % of the output's magnitude; the
/// dequantize-per-use path is the same dense product (f32 rounding only).
#[test]
fn quantized_linear_matches_its_dequantized_dense_product() {
    let dev = Device::Cpu;
    let (out_f, in_f) = (64, 512);
    let w = Tensor::randn(0f32, 0.05, (out_f, in_f), &dev).unwrap();
    let b = Tensor::randn(0f32, 0.1, out_f, &dev).unwrap();
    let x = Tensor::randn(0f32, 1.0, (3, 5, in_f), &dev).unwrap();
    for ty in [
        GgmlDType::Q8_0,
        GgmlDType::Q5_0,
        GgmlDType::Q5_1,
        GgmlDType::Q4_0,
        GgmlDType::Q4_1,
        GgmlDType::Q6K,
        GgmlDType::Q5K,
        GgmlDType::Q4K,
        GgmlDType::Q3K,
        GgmlDType::Q2K,
    ] {
        let q = Arc::new(QTensor::quantize(&w, ty).unwrap());
        let mut store = LinearStore::new();
        store.insert("l.weight".into(), LinearWeight::Quantized(q.clone()));
        let vb = VarBuilder::from_tensors(
            HashMap::from([("l.bias".to_string(), b.clone())]),
            DType::F32,
            &dev,
        );
        let lin = Linear::new(vb.pp("l"), in_f, out_f, &store).unwrap();
        let wd = q.dequantize(&dev).unwrap();
        let want = x
            .reshape((15, in_f))
            .unwrap()
            .matmul(&wd.t().unwrap())
            .unwrap()
            .broadcast_add(&b)
            .unwrap()
            .reshape((3, 5, out_f))
            .unwrap();
        let y = lin.forward_with(&x, QuantMatmul::Kernel).unwrap();
        assert_eq!(y.dims(), [3, 5, out_f]);
        let rel = max_abs_diff(&y, &want) / crate::common::max_abs(&want);
        eprintln!("{ty:?}: kernel's relative error to the dequantized dense product {rel:.2e}");
        assert!(rel < 2e-2, "{ty:?}: {rel}");
        // Dequantized per use: the dense product itself, up to summation order.
        let y = lin.forward_with(&x, QuantMatmul::Dequantize).unwrap();
        let rel = max_abs_diff(&y, &want) / crate::common::max_abs(&want);
        assert!(rel < 1e-5, "{ty:?} dequantized: {rel}");
    }
}

fn open_err(path: &Path) -> String {
    format!("{:#}", TransformerFile::open(path, Some(12)).unwrap_err())
}

fn assert_names(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "`{p}` not in: {err}");
    }
}

/// A GGUF of one tensor `x` of 32 values with the type number `code`.
fn one_tensor_gguf(path: &Path, code: u32, count: u64) {
    let mut b = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.push(b'x');
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&32u64.to_le_bytes());
    b.extend_from_slice(&code.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.resize(b.len().div_ceil(32) * 32 + 128, 0);
    std::fs::write(path, b).unwrap();
}

#[test]
fn truncated_and_lying_gguf_headers_are_refused_by_name() {
    let dir = temp_dir();
    let bytes = std::fs::read(single("q8_0.gguf")).unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_names(&open_err(&cut), &["cut.gguf", "truncated"]);
    let header_cut = dir.path().join("header_cut.gguf");
    std::fs::write(&header_cut, &bytes[..100]).unwrap();
    assert_names(&open_err(&header_cut), &["header_cut.gguf", "truncated"]);

    let lying = dir.path().join("lying.gguf");
    one_tensor_gguf(&lying, 0, u64::MAX / 2);
    assert_names(&open_err(&lying), &["lying.gguf", "tensor count"]);

    let unknown = dir.path().join("unknown.gguf");
    one_tensor_gguf(&unknown, 99, 1);
    assert_names(
        &open_err(&unknown),
        &["unknown.gguf", "`x`", "unknown GGML type 99"],
    );
    let iquant = dir.path().join("iquant.gguf");
    one_tensor_gguf(&iquant, 16, 1);
    assert_names(&open_err(&iquant), &["iquant.gguf", "`x`", "IQ2_XXS"]);
}

/// The original-key fixture with `edit` applied, written to `dir/name`.
fn edited_comfy(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut HashMap<String, Tensor>),
) -> PathBuf {
    let mut sd =
        candle_core::safetensors::load(single("wan_comfy.safetensors"), &Device::Cpu).unwrap();
    edit(&mut sd);
    let path = dir.join(name);
    candle_core::safetensors::save(&sd, &path).unwrap();
    path
}

#[test]
fn a_tensor_shape_that_disagrees_with_the_architecture_is_named() {
    let dir = temp_dir();
    let key = "model.diffusion_model.blocks.1.ffn.0.weight";
    let path = edited_comfy(dir.path(), "bad_shape.safetensors", |sd| {
        let w = sd[key].narrow(0, 0, 16).unwrap();
        sd.insert(key.into(), w);
    });
    let cfg = physedit::models::transformer::Config::from_path(
        &tiny_transformer_dir().join("config.json"),
    )
    .unwrap();
    let file = TransformerFile::open(&path, Some(12)).unwrap();
    let err = format!(
        "{:#}",
        file.build(&cfg, DType::F32, &Device::Cpu).unwrap_err()
    );
    assert_names(
        &err,
        &[
            "bad_shape.safetensors",
            "blocks.1.ffn.net.0.proj.weight",
            "[16, 24]",
        ],
    );
}

#[test]
fn a_t2v_file_for_the_i2v_model_and_unknown_keys_are_refused() {
    let dir = temp_dir();
    let t2v = edited_comfy(dir.path(), "t2v.safetensors", |sd| {
        sd.retain(|k, _| !k.contains("img_emb.") && !k.contains("_img."));
    });
    let cfg = physedit::models::transformer::Config::from_path(
        &tiny_transformer_dir().join("config.json"),
    )
    .unwrap();
    let file = TransformerFile::open(&t2v, Some(12)).unwrap();
    let err = format!("{:#}", file.check(&cfg).unwrap_err());
    assert_names(&err, &["t2v.safetensors", "T2V", "image_dim"]);
    // Through the pipeline, the same message.
    let opts = LoadOptions {
        files: ComponentFiles {
            transformer: Some(t2v.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = format!(
        "{:#}",
        ChronoEditPipeline::load(&fixture("tiny_a").join("pipeline"), &opts)
            .err()
            .expect("a T2V file must be refused")
    );
    assert_names(&err, &["t2v.safetensors", "T2V"]);

    let extra = edited_comfy(dir.path(), "extra.safetensors", |sd| {
        sd.insert(
            "model.diffusion_model.blocks.0.self_attn.qkv.weight".into(),
            Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap(),
        );
    });
    assert_names(
        &open_err(&extra),
        &[
            "extra.safetensors",
            "blocks.0.self_attn.qkv.weight",
            "maps to no weight",
        ],
    );
}

/// A component folder's weights as one file, every key under `prefix`.
fn one_file(component: &str, prefix: &str, out: &Path) {
    let dir = fixture("tiny_a").join("pipeline").join(component);
    let mut all = HashMap::new();
    for f in physedit::checkpoint::weight_files(&dir).unwrap() {
        for (k, v) in candle_core::safetensors::load(&f, &Device::Cpu).unwrap() {
            all.insert(format!("{prefix}{k}"), v);
        }
    }
    candle_core::safetensors::save(&all, out).unwrap();
}

#[test]
fn vae_and_encoders_from_single_files_give_the_folders_frames() {
    let dir = temp_dir();
    let p = |n: &str| dir.path().join(n);
    one_file("vae", "vae.", &p("vae.safetensors"));
    one_file("text_encoder", "", &p("umt5.safetensors"));
    one_file("image_encoder", "image_encoder.", &p("clip.safetensors"));
    let frames = plain_frames_with(ComponentFiles {
        transformer: Some(single("wan_comfy.safetensors")),
        vae: Some(p("vae.safetensors")),
        text_encoder: Some(p("umt5.safetensors")),
        image_encoder: Some(p("clip.safetensors")),
        tokenizer: None,
    });
    let d = max_abs_diff(&frames, &reference()["full.frames"]);
    assert!(d <= FRAME_TOL, "frames differ by {d}");
    // A VAE file in the original Wan layout that is not a whole VAE is refused by name.
    let wan_vae = p("wan_vae.safetensors");
    candle_core::safetensors::save(
        &HashMap::from([(
            "encoder.conv1.weight".to_string(),
            Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap(),
        )]),
        &wan_vae,
    )
    .unwrap();
    let opts = LoadOptions {
        files: ComponentFiles {
            vae: Some(wan_vae),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = format!(
        "{:#}",
        ChronoEditPipeline::load(&fixture("tiny_a").join("pipeline"), &opts)
            .err()
            .expect("original VAE names are not read")
    );
    assert_names(&err, &["wan_vae.safetensors", "Wan VAE"]);
}

/// PhysEdit's original→diffusers VAE rule gives, for every tensor of the Wan 2.1 VAE, the name
/// diffusers' `convert_wan_vae_to_diffusers` gives (tests/fixtures/keys/wan_vae_to_diffusers.json,
/// tools/reference/make_wan_vae_key_fixtures.py), and reads the layout's block counts from the names.
#[test]
fn wan_vae_names_are_diffusers_converters() {
    use physedit::checkpoint::wan_vae_keys::{wan_vae_blocks, wan_vae_to_diffusers};
    let path = fixture("keys").join("wan_vae_to_diffusers.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let pairs: Vec<(String, String)> = v["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    assert_eq!(pairs.len(), 194);
    for (wan, diffusers) in &pairs {
        assert_eq!(
            wan_vae_to_diffusers(wan, 2).as_deref(),
            Some(diffusers.as_str()),
            "{wan}"
        );
    }
    assert_eq!(
        wan_vae_blocks(pairs.iter().map(|p| p.0.as_str())).unwrap(),
        (2, 4)
    );
    assert_eq!(
        wan_vae_to_diffusers("decoder.upsamples.3.resample.1.weight", 2).as_deref(),
        Some("decoder.up_blocks.0.upsamplers.0.resample.1.weight")
    );
    assert!(wan_vae_to_diffusers("decoder.sideways.0.weight", 2).is_none());
}

/// Writes `tensors` as a safetensors file whose header states `config` (a component's config.json).
fn save_with_config(tensors: &HashMap<String, Tensor>, config: Option<&Path>, out: &Path) {
    let meta = config.map(|c| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(c).unwrap()).unwrap();
        HashMap::from([("config".to_string(), v.to_string())])
    });
    // The tiny fixtures are f32 throughout.
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(k, v)| {
            let data = v.flatten_all().unwrap().to_dtype(DType::F32).unwrap();
            let data: Vec<u8> = data
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            (k.clone(), v.dims().to_vec(), data)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(k, shape, data)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                    .unwrap();
            (k.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, meta, out).unwrap();
}

fn folder_tensors(component: &str) -> HashMap<String, Tensor> {
    let dir = fixture("tiny_a").join("pipeline").join(component);
    let mut all = HashMap::new();
    for f in physedit::checkpoint::weight_files(&dir).unwrap() {
        all.extend(candle_core::safetensors::load(&f, &Device::Cpu).unwrap());
    }
    all
}

/// tiny_a as ComfyUI users hold a model: the transformer with the original Wan names under
/// `model.diffusion_model.`, the VAE with the original Wan VAE names (renamed by
/// tests/fixtures/keys/wan_vae_tiny.json), umT5 with transformers' names, CLIP under `vision_model.`.
/// The headers state what the tiny shapes cannot tell (`with_config`): the transformer's head size,
/// CLIP's head count and activation, the VAE's latents mean/std; umT5's config comes from its shapes
/// alone.
fn write_standalone(dir: &Path, with_config: bool) -> ComponentFiles {
    let pipe = fixture("tiny_a").join("pipeline");
    let cfg = |c: &str| with_config.then(|| pipe.join(c).join("config.json"));
    let p = |n: &str| dir.join(n);
    let t = candle_core::safetensors::load(single("wan_comfy.safetensors"), &Device::Cpu).unwrap();
    save_with_config(
        &t,
        cfg("transformer").as_deref(),
        &p("transformer.safetensors"),
    );
    let names: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("keys").join("wan_vae_tiny.json")).unwrap(),
    )
    .unwrap();
    let vae: HashMap<String, Tensor> = folder_tensors("vae")
        .into_iter()
        .map(|(k, v)| {
            (
                names["diffusers_to_wan"][&k].as_str().unwrap().to_string(),
                v,
            )
        })
        .collect();
    save_with_config(&vae, cfg("vae").as_deref(), &p("wan_vae.safetensors"));
    save_with_config(
        &folder_tensors("text_encoder"),
        None,
        &p("umt5.safetensors"),
    );
    let clip: HashMap<String, Tensor> = folder_tensors("image_encoder")
        .into_iter()
        .map(|(k, v)| (format!("vision_model.{k}"), v))
        .collect();
    save_with_config(
        &clip,
        cfg("image_encoder").as_deref(),
        &p("clip_vision.safetensors"),
    );
    ComponentFiles {
        transformer: Some(p("transformer.safetensors")),
        vae: Some(p("wan_vae.safetensors")),
        text_encoder: Some(p("umt5.safetensors")),
        image_encoder: Some(p("clip_vision.safetensors")),
        tokenizer: Some(pipe.join("tokenizer")),
    }
}

/// No model folder: the four files and the tokenizer give the folder's frames, within the
/// whole-pipeline bar (the same weights and configs; the scheduler and image processor are the
/// defaults, which tiny_a's folder also holds, at its tower's 16-pixel size).
#[test]
fn standalone_files_give_the_folders_frames() {
    let dir = temp_dir();
    let files = write_standalone(dir.path(), true);
    let dirp = fixture("tiny_a");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dirp.join("meta.json")).unwrap()).unwrap();
    let run = &meta["runs"]["plain"];
    let pipe = ChronoEditPipeline::load_files(&LoadOptions {
        files,
        ..Default::default()
    })
    .expect("load the single files");
    let image = physedit::util::open_image(&dirp.join("input.png")).unwrap();
    let req = crate::common::run_request(run, reference()["latents"].clone());
    let frames = pipe
        .edit(&image, &req, &mut |_, _| {})
        .expect("edit")
        .frames;
    let d = max_abs_diff(&frames, &reference()["full.frames"]);
    eprintln!("standalone files vs diffusers' folder frames: {d:.2e}");
    assert!(d <= FRAME_TOL, "frames differ by {d}");
}

/// Configurations from shapes alone equal the folder's on every field a shape gives; CLIP's head
/// count is in no shape, so a tiny tower without a stated config is refused by name; a missing
/// component names its flag.
#[test]
fn standalone_configs_come_from_shapes() {
    use physedit::checkpoint::single_file::ComponentWeights;
    use physedit::checkpoint::standalone;
    let dir = temp_dir();
    let files = write_standalone(dir.path(), false);
    let folder = fixture("tiny_a").join("pipeline");
    let json = |c: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(folder.join(c).join("config.json")).unwrap())
            .unwrap()
    };
    let vae = ComponentWeights::open_file(files.vae.as_ref().unwrap(), "VAE", &[]).unwrap();
    let v = standalone::vae_config(vae.path(), &vae.shapes().unwrap()).unwrap();
    let want = json("vae");
    assert_eq!(v.base_dim as u64, want["base_dim"].as_u64().unwrap());
    assert_eq!(v.z_dim as u64, want["z_dim"].as_u64().unwrap());
    assert_eq!(
        v.num_res_blocks as u64,
        want["num_res_blocks"].as_u64().unwrap()
    );
    assert_eq!(serde_json::json!(v.dim_mult), want["dim_mult"]);
    assert_eq!(
        serde_json::json!(v.temperal_downsample),
        want["temperal_downsample"]
    );
    let te = ComponentWeights::open_file(files.text_encoder.as_ref().unwrap(), "text encoder", &[])
        .unwrap();
    let u = standalone::umt5_config(te.path(), &te.shapes().unwrap()).unwrap();
    let want = json("text_encoder");
    for (field, got) in [
        ("vocab_size", u.vocab_size),
        ("d_model", u.d_model),
        ("d_kv", u.d_kv),
        ("d_ff", u.d_ff),
        ("num_layers", u.num_layers),
        ("num_heads", u.num_heads),
        (
            "relative_attention_num_buckets",
            u.relative_attention_num_buckets,
        ),
        (
            "relative_attention_max_distance",
            u.relative_attention_max_distance,
        ),
    ] {
        assert_eq!(got as u64, want[field].as_u64().unwrap(), "{field}");
    }
    assert_eq!(u.feed_forward_proj, "gated-gelu");
    let ie =
        ComponentWeights::open_file(files.image_encoder.as_ref().unwrap(), "image encoder", &[])
            .unwrap();
    let err = format!(
        "{:#}",
        standalone::clip_vision_config(ie.path(), &ie.shapes().unwrap()).unwrap_err()
    );
    assert_names(
        &err,
        &["clip_vision.safetensors", "not ViT-H/14", "__metadata__"],
    );

    for (drop, flag) in [
        ("image_encoder", "--image-encoder"),
        ("tokenizer", "--tokenizer"),
    ] {
        let mut f = write_standalone(dir.path(), true);
        match drop {
            "image_encoder" => f.image_encoder = None,
            _ => f.tokenizer = None,
        }
        let err = format!(
            "{:#}",
            ChronoEditPipeline::load_files(&LoadOptions {
                files: f,
                ..Default::default()
            })
            .err()
            .expect("a missing component is refused")
        );
        assert_names(&err, &["without --model", flag]);
    }
}

fn physedit_cli(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_physedit"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_quantize_then_edit_from_the_file() {
    let dir = temp_dir();
    let tiny = fixture("tiny_a");
    let model = tiny.join("pipeline");
    let gguf = dir.path().join("t.gguf");
    let o = physedit_cli(&[
        "quantize".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--type".as_ref(),
        "q8_0".as_ref(),
        "-o".as_ref(),
        gguf.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("out.png");
    let edit = |transformer: &Path| {
        physedit_cli(&[
            "edit".as_ref(),
            "--model".as_ref(),
            model.as_os_str(),
            "--transformer".as_ref(),
            transformer.as_os_str(),
            "--image".as_ref(),
            tiny.join("input.png").as_os_str(),
            "--prompt".as_ref(),
            "make the ball red".as_ref(),
            "--steps".as_ref(),
            "1".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ])
    };
    let o = edit(&gguf);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.is_file());
    std::fs::remove_file(&out).unwrap();
    let o = edit(&dir.path().join("missing.gguf"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--transformer") && err.contains("missing.gguf"),
        "{err}"
    );
    assert!(!out.exists());
    // The file type must match the extension; nothing is left behind.
    let bad = dir.path().join("t.safetensors");
    let o = physedit_cli(&[
        "quantize".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--type".as_ref(),
        "q4_k".as_ref(),
        "-o".as_ref(),
        bad.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("t.safetensors") && err.contains(".gguf"),
        "{err}"
    );
    assert!(!bad.exists());
}

/// `physedit edit` with the four files and the tokenizer and no --model writes the picture; without
/// the tokenizer it names the flag and writes nothing.
#[test]
fn cli_edit_from_single_files_without_model() {
    let dir = temp_dir();
    let files = write_standalone(dir.path(), true);
    let out = dir.path().join("out.png");
    let tiny = fixture("tiny_a");
    let run = |tokenizer: bool| {
        let mut args: Vec<std::ffi::OsString> = vec!["edit".into()];
        for (flag, f) in [
            ("--transformer", &files.transformer),
            ("--vae", &files.vae),
            ("--text-encoder", &files.text_encoder),
            ("--image-encoder", &files.image_encoder),
        ] {
            args.push(flag.into());
            args.push(f.clone().unwrap().into());
        }
        if tokenizer {
            args.push("--tokenizer".into());
            args.push(files.tokenizer.clone().unwrap().into());
        }
        for a in ["--prompt", "make the ball red", "--steps", "1", "-o"] {
            args.push(a.into());
        }
        args.push(out.clone().into());
        args.push("--image".into());
        args.push(tiny.join("input.png").into());
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        physedit_cli(&refs)
    };
    let o = run(false);
    assert!(!o.status.success());
    assert_names(&String::from_utf8_lossy(&o.stderr), &["--tokenizer"]);
    assert!(!out.exists());
    let o = run(true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.is_file());
}
