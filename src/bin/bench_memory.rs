//! The memory plan (`checkpoint::memory`) against measured peak resident memory on the CPU.
//!
//! Every case runs in a child process of its own (this binary with `--case NAME`), which reads its
//! resident set from /proc/self/status: `VmRSS` before anything is built (the process: code,
//! libraries, thread stacks — what a GPU would not hold), after the weights are built (measured
//! weights = the difference), then resets its high-water mark (`5` into /proc/self/clear_refs),
//! runs the work and reads `VmHWM` (measured work = VmHWM − RSS after the weights). The prediction
//! is the plan's weights and work for the same shapes on the `cpu` target.
//!
//! Cases:
//! * `block-f32`, `block-bf16`: one transformer block of ChronoEdit-14B's width (d 5120, 40 heads,
//!   ffn 13 824, I2V image projections; one layer and the real embeddings), random weights, one
//!   forward, batch 1, `--frames` latent frames at 480×832 (1560 tokens per frame), a 20-token prompt
//!   padded to 512 (collapsed to 21 keys, as every PhysEdit forward) and 257 image tokens.
//! * `vae-decode`, `vae-encode`: the Wan 2.1 VAE (diffusers' default config, 127 M parameters),
//!   random weights, decoding 2 latent frames (5 video frames) at `--vae-height`×`--vae-width`, or
//!   encoding 5 frames (the first, then one chunk of 4) at that size.
//! * `umt5-bf16`, `umt5-fp8`: `--umt5-layers` layers of umT5-XXL's width (d 4096, 64 heads, d_ff
//!   10 240) with a 32 128-row embedding, linear weights (and the embedding) stored bf16 (or the
//!   linear weights fp8 with a scale), norms and relative-attention tables f32, random values; one
//!   forward of 512 tokens, batch 1. Predicted: `encoder_bytes` for the same tensors; work: the
//!   plan's text-encoder activations plus the widening scratch (`widening_bytes`).
//! * `world`, `tiny-a`: whole edits (reference reasoning recipe, `--steps` steps, f32) of the
//!   bundled world model at its 64×64 and of tests/fixtures/tiny_a. Measured weights: RSS after the
//!   pipeline load − before (this also holds the code the load ran, the tokenizer and the heap the
//!   safetensors conversion left); measured work: a second edit's VmHWM − RSS before it (the first
//!   edit faulted in the code an edit runs); predicted work: the plan's largest phase above the
//!   weights (on the CPU every module stays loaded).
//!
//! Every case also reports the peak of the bytes its allocations hold during the work (a counting
//! global allocator): the tensors' own bytes, without the freed heap glibc keeps resident, which a
//! GPU's allocator does not share.
//!
//! `cargo run --release --bin bench_memory -- [--frames 2] [--cases block-f32,block-bf16,vae-decode,vae-encode,world,tiny-a]
//! [--malloc-mmap-threshold 65536]`
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::Parser;
use serde::{Deserialize, Serialize};

use physedit::adaptive::cost::{ModelDims, TransformerDims};
use physedit::checkpoint::memory::{
    self, block_activation_bytes, context_cache_bytes, transformer_tensors,
    transformer_weight_bytes, ModelSizes, PlanInput, Storage, Target,
};
use physedit::models::transformer::{ChronoEditTransformer3DModel, Config, ForwardOptions};

/// The system allocator, counting the bytes held by live allocations and their high-water mark.
struct CountingAlloc;

static HEAP_LIVE: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);

fn heap_grew(bytes: usize) {
    let now = HEAP_LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            heap_grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            heap_grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        HEAP_LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                heap_grew(new_size - layout.size());
            } else {
                HEAP_LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Resets both high-water marks (resident set and live heap) before the work; returns the heap
/// bytes live now.
fn reset_peaks() -> Result<u64> {
    let live = HEAP_LIVE.load(Ordering::Relaxed);
    HEAP_PEAK.store(live, Ordering::Relaxed);
    reset_hwm()?;
    Ok(live as u64)
}

/// Peak heap bytes above `live_before` since [`reset_peaks`].
fn heap_work(live_before: u64) -> u64 {
    (HEAP_PEAK.load(Ordering::Relaxed) as u64).saturating_sub(live_before)
}

#[derive(Parser, Debug)]
struct Args {
    /// Run one case in this process and print its JSON line (used by the parent).
    #[arg(long)]
    case: Option<String>,
    /// Cases to run, each in a child process.
    #[arg(long, value_delimiter = ',', default_values_t = ["block-f32".to_string(), "block-bf16".to_string(), "vae-decode".to_string(), "world".to_string(), "tiny-a".to_string()])]
    cases: Vec<String>,
    /// Latent frames of the block forward (1560 tokens each).
    #[arg(long, default_value_t = 2)]
    frames: usize,
    /// VAE decode size.
    #[arg(long, default_value_t = 240)]
    vae_height: usize,
    #[arg(long, default_value_t = 416)]
    vae_width: usize,
    /// Denoising steps of the whole-edit cases.
    #[arg(long, default_value_t = 4)]
    steps: usize,
    /// Layers of the `umt5-*` cases.
    #[arg(long, default_value_t = 2)]
    umt5_layers: usize,
    /// Run the children with glibc's `MALLOC_MMAP_THRESHOLD_` fixed at this many bytes: every
    /// allocation at least this large is its own mapping, returned to the system when freed, so
    /// the resident set follows the live tensors instead of keeping freed heap (glibc otherwise
    /// raises the threshold up to 32 MiB as large blocks are freed).
    #[arg(long)]
    malloc_mmap_threshold: Option<usize>,
}

#[derive(Serialize, Deserialize, Debug)]
struct Measured {
    case: String,
    what: String,
    base_rss: u64,
    predicted_weights: u64,
    measured_weights: u64,
    predicted_work: u64,
    measured_work: u64,
    /// Peak bytes of live allocations during the work, above those live before it.
    heap_work: u64,
}

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn rss() -> Result<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let field = |name: &str| -> Result<u64> {
        let line = s
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("/proc/self/status has no {name}"))?;
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("cannot read {line}"))?;
        Ok(kb * 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn reset_hwm() -> Result<()> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting VmHWM (/proc/self/clear_refs)")
}

fn block_dims() -> TransformerDims {
    TransformerDims {
        num_layers: 1,
        ..TransformerDims::chronoedit_14b()
    }
}

fn block_config() -> Result<Config> {
    let mut cfg = physedit::checkpoint::keys::chronoedit_14b_config();
    cfg.num_layers = 1;
    Ok(cfg)
}

fn case_block(dtype: DType, frames: usize) -> Result<Measured> {
    let dev = Device::Cpu;
    let cfg = block_config()?;
    let text = {
        let real = Tensor::randn(0f32, 1.0, (1, 20, cfg.text_dim), &dev)?;
        let pad = Tensor::zeros((1, 492, cfg.text_dim), DType::F32, &dev)?;
        Tensor::cat(&[real, pad], 1)?
    };
    let image = Tensor::randn(0f32, 1.0, (1, 257, 1280), &dev)?;
    let x = Tensor::randn(0f32, 1.0, (1, cfg.in_channels, frames, 60, 104), &dev)?;
    let t = Tensor::new(&[500f32], &dev)?;
    let (base, _) = rss()?;
    let model = ChronoEditTransformer3DModel::new(
        &cfg,
        physedit::checkpoint::random_var_builder(dtype, &dev),
    )?;
    let (loaded, _) = rss()?;
    let heap_before = reset_peaks()?;
    let out = model.forward_with(&x, &t, &text, Some(&image), &ForwardOptions::default())?;
    out.sample
        .sum_all()?
        .to_dtype(DType::F32)?
        .to_scalar::<f32>()?;
    let (_, hwm) = rss()?;
    let heap = heap_work(heap_before);
    let dims = block_dims();
    let tokens = frames * 1560;
    let (act, kernel) = block_activation_bytes(&dims, 1, tokens, dtype, Target::Cpu);
    let ctx = context_cache_bytes(&dims, 1, 21, 257, dtype);
    let rope = (2 * tokens * dims.attention_head_dim * 4) as u64;
    Ok(Measured {
        case: format!("block-{}", memory::dtype_name(dtype)),
        what: format!(
            "one 14B-width block, {frames} latent frames ({tokens} tokens), batch 1, {kernel} attention"
        ),
        base_rss: base,
        predicted_weights: transformer_weight_bytes(&transformer_tensors(&dims), Storage::Dense, dtype),
        measured_weights: loaded.saturating_sub(base),
        predicted_work: act + ctx + rope,
        measured_work: hwm.saturating_sub(loaded),
        heap_work: heap,
    })
}

fn case_umt5(storage: memory::EncoderStorage, layers: usize) -> Result<Measured> {
    use physedit::models::linear::{LinearStore, LinearWeight};
    use physedit::models::umt5;
    let dev = Device::Cpu;
    let vocab = 32_128;
    let mut dims = ModelDims::chronoedit_14b();
    dims.text_encoder.num_layers = layers;
    let t = &dims.text_encoder;
    let cfg: umt5::Config = serde_json::from_value(serde_json::json!({
        "vocab_size": vocab, "d_model": t.d_model, "d_kv": t.d_kv, "d_ff": t.d_ff,
        "num_layers": layers, "num_heads": t.num_heads,
    }))?;
    let tensors = memory::stored_as(
        memory::text_encoder_tensors(&dims, vocab, 32),
        memory::UMT5_KEPT,
        storage,
    );
    let ids = Tensor::arange(0u32, 512, &dev)?.reshape((1, 512))?;
    let mask = Tensor::ones((1, 512), DType::F32, &dev)?;
    let (base, _) = rss()?;
    let mut store = LinearStore::new();
    for st in &tensors {
        let (name, shape) = (&st.tensor.name, &st.tensor.shape);
        let stored = (memory::UMT5_KEPT.linear)(name) || (memory::UMT5_KEPT.table)(name);
        if !stored || shape.len() != 2 {
            continue;
        }
        let std = (1.0 / shape[1] as f64).sqrt() as f32;
        let w = Tensor::randn(0f32, std, (shape[0], shape[1]), &dev)?;
        let w = match st.dtype.as_str() {
            "F8_E4M3" => LinearWeight::Fp8 {
                w: (w * (448.0 / 4.0 / std as f64))?.to_dtype(DType::F8E4M3)?,
                scale: 4.0 * std / 448.0,
            },
            _ => LinearWeight::Dense(w.to_dtype(DType::BF16)?),
        };
        store.insert(name.clone(), w);
    }
    let model = umt5::UMT5EncoderModel::new_with_stored(
        &cfg,
        physedit::checkpoint::random_var_builder(DType::F32, &dev),
        &store,
    )?;
    drop(store);
    let (loaded, _) = rss()?;
    let heap_before = reset_peaks()?;
    let out = model.forward(&ids, &mask)?;
    out.sum_all()?.to_scalar::<f32>()?;
    let (_, hwm) = rss()?;
    let heap = heap_work(heap_before);
    let widen = memory::widening_bytes(&tensors, memory::UMT5_KEPT);
    Ok(Measured {
        case: format!("umt5-{}", storage.name()),
        what: format!(
            "{layers} umT5-XXL-width layers, linear weights {}, 512 tokens, batch 1",
            storage.name()
        ),
        base_rss: base,
        predicted_weights: memory::encoder_bytes(&tensors, memory::UMT5_KEPT),
        measured_weights: loaded.saturating_sub(base),
        predicted_work: memory::text_encoder_work(&dims) + widen,
        measured_work: hwm.saturating_sub(loaded),
        heap_work: heap,
    })
}

fn case_vae(encode: bool, height: usize, width: usize) -> Result<Measured> {
    use physedit::models::vae::{AutoencoderKLWan, Config as VaeConfig};
    let dev = Device::Cpu;
    let cfg: VaeConfig = serde_json::from_str("{}")?;
    // 5 video frames: the first alone, then one chunk of 4 (2 latent frames).
    let frames = 5;
    let input = if encode {
        Tensor::randn(0f32, 0.5, (1, 3, frames, height, width), &dev)?
    } else {
        Tensor::randn(0f32, 1.0, (1, 16, 2, height / 8, width / 8), &dev)?
    };
    let (base, _) = rss()?;
    let vae = AutoencoderKLWan::new(
        &cfg,
        physedit::checkpoint::random_var_builder(DType::F32, &dev),
    )?;
    let (loaded, _) = rss()?;
    let heap_before = reset_peaks()?;
    let out = if encode {
        vae.encode(&input)?.0
    } else {
        vae.decode(&input)?
    };
    out.sum_all()?.to_scalar::<f32>()?;
    let (_, hwm) = rss()?;
    let heap = heap_work(heap_before);
    let dims = ModelDims::chronoedit_14b();
    let (case, what, predicted_work) = if encode {
        (
            "vae-encode",
            format!(
                "Wan 2.1 VAE encode, {frames} frames at {height}x{width} -> 2 latent frames, f32"
            ),
            memory::vae_encode_bytes(&dims, frames, height, width, Target::Cpu),
        )
    } else {
        (
            "vae-decode",
            format!(
                "Wan 2.1 VAE decode, 2 latent frames -> {frames} frames at {height}x{width}, f32"
            ),
            memory::vae_decode_bytes(&dims, frames, height, width, Target::Cpu),
        )
    };
    Ok(Measured {
        case: case.into(),
        what,
        base_rss: base,
        predicted_weights: memory::WAN_VAE_PARAMS * 4,
        measured_weights: loaded.saturating_sub(base),
        predicted_work,
        measured_work: hwm.saturating_sub(loaded),
        heap_work: heap,
    })
}

fn case_edit(name: &str, dir: &Path, image: &Path, steps: usize) -> Result<Measured> {
    use physedit::pipeline::chronoedit::{ChronoEditPipeline, LoadOptions};
    use physedit::pipeline::planned::{self, EditSpec};
    let img = physedit::util::open_image(image)?;
    let planner = physedit::cli::args::PlannerArgs::default().planner()?;
    let (base, _) = rss()?;
    let pipe = ChronoEditPipeline::load(
        dir,
        &LoadOptions {
            dtype: DType::F32,
            device: Device::Cpu,
            loras: vec![],
            offload: false,
            ..Default::default()
        },
    )?;
    let (loaded, _) = rss()?;
    let mut spec = EditSpec::new("Make the red ball roll to the left.");
    spec.recipe = physedit::adaptive::plan::Recipe::ChronoeditReasoning;
    spec.steps = Some(steps);
    // The first edit faults in the code an edit runs; the second is measured.
    planned::run(&pipe, &planner, &img, &spec, &mut |_, _| {})?;
    let (before, _) = rss()?;
    let heap_before = reset_peaks()?;
    let done = planned::run(&pipe, &planner, &img, &spec, &mut |_, _| {})?;
    let (_, hwm) = rss()?;
    let heap = heap_work(heap_before);
    // Text keys after the padding collapse: the prompt's real tokens + 1.
    let embeds = pipe.encode_prompt(&spec.prompt)?;
    let real = embeds
        .abs()?
        .sum_keepdim(2)?
        .gt(0f64)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()? as usize;
    let sizes = ModelSizes::from_model_dir(dir)?;
    let input = PlanInput {
        height: done.size.height,
        width: done.size.width,
        reasoning_latent_frames: done.effective.latent_frames(),
        cfg: done.effective.guidance > 1.0,
        compute: "f32".into(),
        storage: Storage::Dense,
        offload: false,
        target: Target::Cpu,
        text_tokens: real + 1,
    };
    let p = memory::plan(&sizes, &input)?;
    let weights =
        p.transformer_weights + p.text_encoder_weights + p.image_encoder_weights + p.vae_weights;
    Ok(Measured {
        case: name.into(),
        what: format!(
            "whole edit, {}x{}, {} latent frames, {steps} steps, f32, {} text keys; work = the second edit's peak",
            input.height,
            input.width,
            input.reasoning_latent_frames,
            real + 1
        ),
        base_rss: base,
        predicted_weights: weights,
        measured_weights: loaded.saturating_sub(base),
        predicted_work: p.peak - weights,
        measured_work: hwm.saturating_sub(before),
        heap_work: heap,
    })
}

fn run_case(args: &Args, case: &str) -> Result<Measured> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match case {
        "block-f32" => case_block(DType::F32, args.frames),
        "block-bf16" => case_block(DType::BF16, args.frames),
        "vae-decode" => case_vae(false, args.vae_height, args.vae_width),
        "vae-encode" => case_vae(true, args.vae_height, args.vae_width),
        "umt5-bf16" => case_umt5(memory::EncoderStorage::Bf16, args.umt5_layers),
        "umt5-fp8" => case_umt5(memory::EncoderStorage::Fp8, args.umt5_layers),
        "world" => case_edit(
            case,
            &root.join("models/physedit-world"),
            &root.join("data/world/test/images/test_000000.png"),
            args.steps,
        ),
        "tiny-a" => case_edit(
            case,
            &root.join("tests/fixtures/tiny_a/pipeline"),
            &root.join("tests/fixtures/tiny_a/input.png"),
            args.steps,
        ),
        other => bail!("unknown case {other}"),
    }
}

fn mb(b: u64) -> String {
    format!("{:.1}", b as f64 / 1e6)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(case) = &args.case {
        let m = run_case(&args, case)?;
        println!("{}", serde_json::to_string(&m)?);
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    println!(
        "| case | what | process RSS before (MB) | weights predicted / measured (MB) | ratio | work predicted / measured (MB) | ratio | work's heap peak (MB) | ratio | total predicted / measured (MB) | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for case in &args.cases {
        let out = Command::new(&exe)
            .args([
                "--case",
                case,
                "--frames",
                &args.frames.to_string(),
                "--vae-height",
                &args.vae_height.to_string(),
                "--vae-width",
                &args.vae_width.to_string(),
                "--steps",
                &args.steps.to_string(),
                "--umt5-layers",
                &args.umt5_layers.to_string(),
            ])
            .envs(
                args.malloc_mmap_threshold
                    .map(|t| ("MALLOC_MMAP_THRESHOLD_", t.to_string())),
            )
            .output()
            .with_context(|| format!("running case {case}"))?;
        if !out.status.success() {
            bail!(
                "case {case} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let m: Measured = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("case {case}: {}", String::from_utf8_lossy(&out.stdout)))?;
        let ratio = |p: u64, q: u64| {
            if p == 0 {
                "-".to_string()
            } else {
                format!("{:.3}", q as f64 / p as f64)
            }
        };
        let (pt, mt) = (
            m.predicted_weights + m.predicted_work,
            m.measured_weights + m.measured_work,
        );
        println!(
            "| {} | {} | {} | {} / {} | {} | {} / {} | {} | {} | {} | {} / {} | {} |",
            m.case,
            m.what,
            mb(m.base_rss),
            mb(m.predicted_weights),
            mb(m.measured_weights),
            ratio(m.predicted_weights, m.measured_weights),
            mb(m.predicted_work),
            mb(m.measured_work),
            ratio(m.predicted_work, m.measured_work),
            mb(m.heap_work),
            ratio(m.predicted_work, m.heap_work),
            mb(pt),
            mb(mt),
            ratio(pt, mt)
        );
    }
    Ok(())
}
