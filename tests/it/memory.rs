//! The memory plan (`checkpoint::memory`, `physedit memory`): its weight arithmetic against the
//! parameter counts diffusers and transformers build for ChronoEdit-14B
//! (tests/fixtures/memory/param_counts.json, made by tools/reference/make_memory_counts.py), its
//! activation arithmetic against an independent hand calculation for the 14B at 480x832, the card
//! table, and the command's output and errors.
use std::collections::BTreeMap;
use std::process::Command;

use candle_core::DType;
use physedit::adaptive::cost::ModelDims;
use physedit::checkpoint::memory::{
    self, block_activation_bytes, image_encoder_params, image_encoder_tensors, plan,
    text_encoder_params, text_encoder_tensors, transformer_tensors, transformer_weight_bytes,
    EncoderStorage, ModelSizes, PlanInput, Storage, Target,
};

use crate::common::fixture;

fn counts() -> serde_json::Value {
    let path = fixture("memory").join("param_counts.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

const D: u64 = 5120;
const FFN: u64 = 13824;
const LAYERS: u64 = 40;

#[test]
fn parameter_counts_equal_the_references() {
    let c = counts();
    let dims = ModelDims::chronoedit_14b();
    let tensors = transformer_tensors(&dims.transformer);
    let total: u64 = tensors.iter().map(|t| t.numel()).sum();
    assert_eq!(total, c["transformer"]["parameters"].as_u64().unwrap());
    assert_eq!(
        tensors.len() as u64,
        c["transformer"]["tensors"].as_u64().unwrap()
    );
    // Block 0's tensors: the same names and shapes as diffusers' block.
    let ours: BTreeMap<String, Vec<usize>> = tensors
        .iter()
        .filter_map(|t| {
            t.name
                .strip_prefix("blocks.0.")
                .map(|n| (n.to_string(), t.shape.clone()))
        })
        .collect();
    let reference: BTreeMap<String, Vec<usize>> = c["transformer_block"]["tensors"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let shape = v
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            (k.clone(), shape)
        })
        .collect();
    assert_eq!(ours, reference);
    assert_eq!(
        text_encoder_params(&dims, 256_384, 32),
        c["text_encoder"]["parameters"].as_u64().unwrap()
    );
    assert_eq!(
        image_encoder_params(&dims),
        c["image_encoder"]["parameters"].as_u64().unwrap()
    );
    assert_eq!(
        memory::WAN_VAE_PARAMS,
        c["vae"]["parameters"].as_u64().unwrap()
    );
    // The encoders' tensor lists (priced per tensor) hold the same parameters.
    let sum = |v: Vec<memory::ParamTensor>| v.iter().map(|t| t.numel()).sum::<u64>();
    assert_eq!(
        sum(text_encoder_tensors(&dims, 256_384, 32)),
        c["text_encoder"]["parameters"].as_u64().unwrap()
    );
    assert_eq!(
        sum(image_encoder_tensors(&dims)),
        c["image_encoder"]["parameters"].as_u64().unwrap()
    );
}

/// The encoders are priced at their stored bytes: umT5-XXL's 4.63 B linear weights (24 layers of
/// 4·4096² + 3·4096·10 240) and its 1.05 B embedding (256 384 × 4096) at 2 bytes in bf16, the linear
/// weights at 1 byte (+ a 4-byte scale each) in fp8 with the embedding at 2; the small rest
/// (norms, relative-attention tables) always f32. CLIP-H's layer linear weights follow its storage;
/// its embeddings, norms and biases are f32.
#[test]
fn encoders_are_priced_at_their_stored_bytes() {
    let c = counts();
    let param = |k: &str| c[k]["parameters"].as_u64().unwrap();
    let (lin, emb) = (
        24 * (4 * 4096 * 4096 + 3 * 4096 * 10_240),
        256_384 * 4096u64,
    );
    let rest = param("text_encoder") - lin - emb;
    assert_eq!(rest, 24 * (2 * 4096 + 32 * 64) + 4096);
    let te = |s: EncoderStorage| {
        ModelSizes::chronoedit_14b_with(s, EncoderStorage::F32).text_encoder_bytes()
    };
    assert_eq!(te(EncoderStorage::F32), 4 * param("text_encoder"));
    assert_eq!(te(EncoderStorage::Bf16), 2 * (lin + emb) + 4 * rest);
    assert_eq!(
        te(EncoderStorage::Fp8),
        lin + 4 * 24 * 7 + 2 * emb + 4 * rest
    );
    let clip_lin = 32 * (4 * 1280 * 1280 + 2 * 1280 * 5120u64);
    let ie = |s: EncoderStorage| {
        ModelSizes::chronoedit_14b_with(EncoderStorage::F32, s).image_encoder_bytes()
    };
    assert_eq!(ie(EncoderStorage::F32), 4 * param("image_encoder"));
    assert_eq!(
        ie(EncoderStorage::F16),
        4 * param("image_encoder") - 2 * clip_lin
    );

    // The encoders phase (offload, so only the encoders are on the device) drops with them: by
    // about half of umT5's f32 bytes in bf16, and to about 0.3 of them in fp8.
    let phase = |t: EncoderStorage, i: EncoderStorage| {
        let p = plan(
            &ModelSizes::chronoedit_14b_with(t, i),
            &input_14b(Storage::Q4K, true),
        )
        .unwrap();
        assert_eq!(p.phases[0].name, "encoders");
        p.phases[0].clone()
    };
    let f32_phase = phase(EncoderStorage::F32, EncoderStorage::F32);
    let bf16_phase = phase(EncoderStorage::Bf16, EncoderStorage::F32);
    let fp8_phase = phase(EncoderStorage::Fp8, EncoderStorage::F16);
    assert_eq!(f32_phase.weights - bf16_phase.weights, 2 * (lin + emb));
    eprintln!(
        "encoders phase: f32 {} / bf16 umT5 {} / fp8 umT5 + f16 CLIP {}",
        memory::gb(f32_phase.peak),
        memory::gb(bf16_phase.peak),
        memory::gb(fp8_phase.peak)
    );
    // The widening scratch: umT5's largest linear weight (4096 x 10 240) in f32 once for bf16,
    // twice (the copy and its product with the scale) for fp8; none for f32.
    let wide = 4 * 4096 * 10_240u64;
    assert_eq!(bf16_phase.work - f32_phase.work, wide);
    assert_eq!(fp8_phase.work - f32_phase.work, 2 * wide);
    assert!((f32_phase.peak as f64 / 1e9 - 25.59).abs() < 0.01);
    assert!(
        (bf16_phase.peak as f64 / 1e9 - 14.40).abs() < 0.01,
        "{}",
        bf16_phase.peak
    );
    assert!((fp8_phase.peak as f64 / 1e9 - 8.68).abs() < 0.01);
}

/// Storage arithmetic by hand: per block, the linear weights are 8 d x d (self- and
/// cross-attention q/k/v/o) + 2 d x d (image k/v) + 2 d x ffn; the engine keeps per block 6d
/// (modulation) + 2d (affine norm) and 2d at the top in f32; the rest in the compute dtype.
#[test]
fn weights_by_storage_match_a_hand_calculation() {
    let p = counts()["transformer"]["parameters"].as_u64().unwrap();
    let linear_per_block = 10 * D * D + 2 * D * FFN;
    let linear = LAYERS * linear_per_block;
    let f32_params = LAYERS * 8 * D + 2 * D;
    let rest = p - linear;
    let rest_bf16 = rest * 2 + f32_params * 2; // rest at 2 bytes, the f32 ones 2 bytes more
    let t = transformer_tensors(&ModelDims::chronoedit_14b().transformer);
    let bf16 = transformer_weight_bytes(&t, Storage::Dense, DType::BF16);
    assert_eq!(bf16, 2 * p + 2 * f32_params);
    // ~32.8 GB: the I2V transformer holds 16.4 B parameters (the T2V 14B's 14 B plus the image
    // key/value projections).
    assert!((bf16 as f64 / 1e9 - 32.79).abs() < 0.01, "{bf16}");
    assert_eq!(
        transformer_weight_bytes(&t, Storage::Q8_0, DType::BF16),
        linear / 32 * 34 + rest_bf16
    );
    assert_eq!(
        transformer_weight_bytes(&t, Storage::Fp8, DType::BF16),
        linear + LAYERS * 12 * 4 + rest_bf16
    );
    // Q4_K_M: to_v of both attentions and ffn.net.2 in Q6_K (210 bytes / 256), the rest Q4_K (144).
    let q6 = LAYERS * (2 * D * D + D * FFN);
    assert_eq!(
        transformer_weight_bytes(&t, Storage::Q4KM, DType::BF16),
        q6 / 256 * 210 + (linear - q6) / 256 * 144 + rest_bf16
    );
    assert_eq!(
        transformer_weight_bytes(&t, Storage::Q4K, DType::BF16),
        linear / 256 * 144 + rest_bf16
    );
}

fn input_14b(storage: Storage, offload: bool) -> PlanInput {
    PlanInput {
        height: 480,
        width: 832,
        reasoning_latent_frames: 8,
        cfg: true,
        compute: "bf16".into(),
        storage,
        offload,
        target: Target::CudaFlash,
        text_tokens: 512,
    }
}

/// The 14B at 480x832, reasoning (8 latent frames, 12 480 tokens), CFG batch 2, bf16, flash
/// attention: each phase's peak against the same quantities worked out by hand.
#[test]
fn fourteen_b_phases_match_a_hand_calculation() {
    let sizes = ModelSizes::chronoedit_14b_with(EncoderStorage::F32, EncoderStorage::F32);
    let p = plan(&sizes, &input_14b(Storage::Dense, false)).unwrap();
    let c = counts();
    let param = |k: &str| c[k]["parameters"].as_u64().unwrap();
    let tw = 2 * param("transformer") + 2 * (LAYERS * 8 * D + 2 * D);
    let (te, ie, vw) = (
        4 * param("text_encoder"),
        4 * param("image_encoder"),
        4 * param("vae"),
    );
    assert_eq!(p.transformer_weights, tw);
    // umT5-XXL in f32 is 22.7 GB.
    assert!((te as f64 / 1e9 - 22.72).abs() < 0.01);

    // Transformer with reasoning: u = B·N·d, f = B·N·ffn elements; the feed-forward peak holds
    // 10 bf16 + 2 f32 copies of u-sized tensors and 2 bf16 f-sized ones.
    let (b, n) = (2u64, 8 * 1560u64);
    let u = b * n * D;
    let f = b * n * FFN;
    let ffn_peak = (10 * 2 + 2 * 4) * u + 2 * 2 * f;
    assert_eq!(ffn_peak, 4_958_453_760);
    let (act, kernel) = block_activation_bytes(
        &sizes.dims.transformer,
        2,
        n as usize,
        DType::BF16,
        Target::CudaFlash,
    );
    assert_eq!((act, kernel), (ffn_peak, "flash"));
    // Cross-attention K and V of 40 layers, 512 text + 257 image tokens, batch 2, bf16.
    let ctx = LAYERS * b * (512 + 257) * 2 * D * 2;
    let rope = 2 * n * 128 * 4;
    let reasoning = &p.phases[2];
    assert_eq!(reasoning.name, "transformer, 6 reasoning frames");
    assert_eq!(reasoning.weights, tw + vw);
    assert_eq!(reasoning.peak, tw + vw + ffn_peak + ctx + rope);
    assert!(
        (reasoning.peak as f64 / 1e9 - 39.53).abs() < 0.01,
        "{}",
        reasoning.peak
    );
    // Without reasoning: 2 frames, 3 120 tokens.
    let n2 = 2 * 1560u64;
    let (u2, f2) = (b * n2 * D, b * n2 * FFN);
    let short = &p.phases[3];
    assert_eq!(
        short.peak,
        tw + vw + (28 * u2 + 4 * f2) + ctx + 2 * n2 * 128 * 4
    );
    // Encoders: everything is put on the device at load.
    assert_eq!(p.phases[0].weights, te + ie + tw + vw);
    assert!(((te + ie + tw + vw) as f64 / 1e9 - 58.55).abs() < 0.01);
    // ... and the encoders phase is the edit's peak (its activations are a few hundred MB; f32
    // weights need no widening scratch).
    assert_eq!(p.peak, p.phases[0].peak);
    assert!(p.phases[0].work < 500_000_000);
}

/// The card table with the encoders in f32 (as the engine held them before keeping them as
/// stored): no 24 GB card.
#[test]
fn card_table_for_the_14b_with_f32_encoders() {
    let sizes = ModelSizes::chronoedit_14b_with(EncoderStorage::F32, EncoderStorage::F32);
    let base = input_14b(Storage::Dense, false);
    let rows = memory::card_table(
        &sizes,
        &base,
        &[Storage::Bf16, Storage::Q8_0, Storage::Q4KM],
    )
    .unwrap();
    let cell = |s: Storage, reasoning: bool, card: &str| cell_of(&rows, s, reasoning, card);
    assert_eq!(cell(Storage::Bf16, true, "80 GB"), "yes");
    assert_eq!(cell(Storage::Bf16, true, "48 GB"), "--offload");
    assert_eq!(cell(Storage::Bf16, true, "32 GB"), "no");
    assert_eq!(cell(Storage::Q4KM, true, "32 GB"), "--offload");
    // 24 GB: a bf16 transformer does not fit even alone with --offload; a Q4_K_M one does ...
    let card24 = 24u64 << 30;
    let t = "transformer, 6 reasoning frames";
    assert!(phase_peak(&sizes, Storage::Bf16, t) + memory::CARD_RESERVE_BYTES > card24);
    assert!(phase_peak(&sizes, Storage::Q4KM, t) + memory::CARD_RESERVE_BYTES <= card24);
    // ... but the encoders phase does not: umT5-XXL and CLIP in f32 are 25.2 GB.
    assert!(phase_peak(&sizes, Storage::Q4KM, "encoders") + memory::CARD_RESERVE_BYTES > card24);
    assert_eq!(cell(Storage::Q4KM, true, "24 GB"), "no");
    let advice = memory::advice(&sizes, &base, card24).unwrap();
    assert!(advice.is_none());
    let advice48 = memory::advice(&sizes, &base, 48 << 30).unwrap().unwrap();
    assert_eq!(advice48.0, "--offload");
}

fn cell_of(rows: &[memory::CardRow], s: Storage, reasoning: bool, card: &str) -> String {
    let i = memory::CARDS.iter().position(|(l, _)| *l == card).unwrap();
    rows.iter()
        .find(|r| r.storage == s && r.reasoning == reasoning)
        .unwrap()
        .cells[i]
        .clone()
}

fn phase_peak(sizes: &ModelSizes, s: Storage, name: &str) -> u64 {
    plan(sizes, &input_14b(s, true))
        .unwrap()
        .phases
        .iter()
        .find(|p| p.name == name)
        .unwrap()
        .peak
}

/// With fp8 umT5 (ComfyUI's scaled file) and f16 CLIP-H, a 24 GB card (24 GiB less the 1 GiB kept
/// for the CUDA context = 24.7 GB) runs the reasoning recipe at 480x832 with --offload and a Q4_K,
/// Q4_K_M, fp8 or Q8_0 transformer: the largest phase is then the transformer's (Q4_K 16.1 GB,
/// fp8 23.0 GB, Q8_0 24.2 GB), the encoders phase 8.7 GB. A bf16 transformer still does not fit.
#[test]
fn card_table_for_the_14b_with_fp8_text_encoder_fits_24_gb() {
    let sizes = ModelSizes::chronoedit_14b_with(EncoderStorage::Fp8, EncoderStorage::F16);
    let base = input_14b(Storage::Dense, false);
    let storages = [
        Storage::Bf16,
        Storage::Fp8,
        Storage::Q8_0,
        Storage::Q4KM,
        Storage::Q4K,
    ];
    let rows = memory::card_table(&sizes, &base, &storages).unwrap();
    for s in [Storage::Fp8, Storage::Q8_0, Storage::Q4KM, Storage::Q4K] {
        assert_ne!(cell_of(&rows, s, true, "24 GB"), "no", "{s:?}");
    }
    assert_eq!(cell_of(&rows, Storage::Bf16, true, "24 GB"), "no");
    assert_eq!(cell_of(&rows, Storage::Q4KM, true, "16 GB"), "no");
    let card24 = 24u64 << 30;
    for (s, want) in [
        (Storage::Q4K, 16.1),
        (Storage::Fp8, 23.0),
        (Storage::Q8_0, 24.2),
    ] {
        let p = plan(&sizes, &input_14b(s, true)).unwrap();
        assert!(memory::fits(&p, card24), "{s:?}: {}", memory::gb(p.peak));
        assert!(
            (p.peak as f64 / 1e9 - want).abs() < 0.05,
            "{s:?}: {}",
            p.peak
        );
        let enc = &p.phases[0];
        assert!((enc.peak as f64 / 1e9 - 8.68).abs() < 0.01, "{}", enc.peak);
    }
    // The built-in default (bf16 umT5 as diffusers' ChronoEdit repository stores it, f32 CLIP)
    // also fits 24 GB with --offload and a Q4_K_M transformer; the encoders phase is 14.4 GB.
    let default = ModelSizes::chronoedit_14b();
    assert!(phase_peak(&default, Storage::Q4KM, "encoders") + memory::CARD_RESERVE_BYTES <= card24);
    let advice = memory::advice(&default, &base, card24).unwrap().unwrap();
    assert_eq!(advice.0, "an fp8 (scaled) --transformer file + --offload");
}

fn physedit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_physedit"))
}

#[test]
fn memory_command_prints_phases_and_cards() {
    let out = physedit()
        .args(["memory", "--dtype", "bf16"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "model: built-in ChronoEdit-14B",
        "memory plan: 480x832, 8 latent frames, bf16 compute, transformer bf16 (32.8 GB)",
        "encoders",
        "VAE encode",
        "transformer, 6 reasoning frames",
        "transformer, no reasoning",
        "VAE decode",
        "predicted peak: 47.7",
        "16 GB",
        "141 GB",
        "q4_k_m",
        "48 GB: as is",
        "80 GB: as is",
        "24 GB: an fp8 (scaled) --transformer file + --offload",
        "text encoder 11.4 GB + image encoder 2.5 GB (as stored)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let out = physedit()
        .args([
            "memory",
            "--json",
            "--recipe",
            "no-reasoning",
            "--storage",
            "q8_0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["plan"]["input"]["reasoning_latent_frames"], 2);
    assert_eq!(v["plan"]["input"]["storage"], "q8_0");
    assert_eq!(v["card_table"].as_array().unwrap().len(), 1);
}

#[test]
fn memory_command_reads_a_model_folder() {
    let out = physedit()
        .args([
            "memory",
            "--model",
            "models/physedit-world",
            "--target",
            "cpu",
            "--dtype",
            "f32",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // Its native 64x64 (physedit.json), and its transformer's size from the safetensors header.
    assert!(text.contains("memory plan: 64x64"), "{text}");
}

/// Encoder files are priced from their headers: the fixture's tiny bf16 umT5 (a 280 × 32 embedding
/// and 14 linear weights of 32 × 32 / 48 × 32 at 2 bytes; norms and bias tables in f32).
#[test]
fn memory_command_prices_encoder_files() {
    let fx = fixture("encoder_precision");
    let te = fx.join("umt5_bf16.safetensors");
    let out = physedit()
        .args(["memory", "--text-encoder"])
        .arg(&te)
        .args(["--image-encoder-storage", "f16"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let tensors = memory::safetensors_tensors(&te).unwrap();
    let bytes = memory::encoder_bytes(&tensors, memory::UMT5_KEPT);
    let lin = 2 * (4 * 32 * 32 + 3 * 48 * 32) * 2;
    let rest = (2 * (2 * 32 + 32 * 4) + 32) * 4;
    assert_eq!(bytes, 280 * 32 * 2 + lin + rest);
    let want = format!(
        "text encoder {} + image encoder 1.3 GB (as stored)",
        memory::gb(bytes)
    );
    assert!(text.contains(&want), "missing {want:?} in\n{text}");
    let out = physedit()
        .args(["memory", "--text-encoder-storage", "fp4"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--text-encoder-storage"));
}

#[test]
fn memory_command_bad_inputs() {
    for (args, needle) in [
        (vec!["--storage", "q9_9"], "--storage"),
        (vec!["--num-frames", "6"], "--num-frames"),
        (vec!["--height", "480"], "--height"),
        (
            vec!["--height", "100", "--width", "100"],
            "--height/--width",
        ),
        (
            vec!["--model", "/nonexistent/folder"],
            "/nonexistent/folder",
        ),
        (vec!["--transformer", "x.bin"], "x.bin"),
    ] {
        let out = physedit().arg("memory").args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// What `physedit edit` runs on a GPU before loading (the GPU itself is not needed to check it):
/// the plan passes when the free memory holds it and stops with advice when not.
#[test]
fn edit_preflight_stops_with_advice() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/physedit-world");
    let image = image::DynamicImage::new_rgb8(64, 64);
    let table = physedit::adaptive::plan::PlanTable::default();
    let input = physedit::cli::memory::edit_plan_input(
        &dir,
        &image,
        None,
        None,
        physedit::adaptive::plan::Recipe::ChronoeditReasoning,
        &table,
        None,
        None,
        DType::BF16,
        false,
        true,
    )
    .unwrap();
    assert_eq!((input.height, input.width), (64, 64));
    assert_eq!(input.reasoning_latent_frames, 8);
    assert!(input.cfg);
    let (p, text) = physedit::cli::memory::preflight(&dir, &input, 8 << 30).unwrap();
    assert!(text.contains("predicted peak"), "{text}");
    let free = p.peak + memory::CARD_RESERVE_BYTES - 1;
    let err = physedit::cli::memory::preflight(&dir, &input, free)
        .unwrap_err()
        .to_string();
    assert!(err.contains("free"), "{err}");
    // With --offload the bundled model's transformer and VAE leave the device between phases.
    assert!(err.contains("--offload"), "{err}");
}
