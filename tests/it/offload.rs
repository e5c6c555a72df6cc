//! `--offload` and the release of the encoders on the CPU: the modules really are released and
//! rebuilt (the counts below), and the frames are bit for bit those of a pipeline that keeps every
//! module loaded, with a LoRA fused at load and with the spatial reasoning mask's probe pass.
use candle_core::{Device, Tensor};
use physedit::adaptive::srm::{Probe, SrmConfig};
use physedit::lora::LoraSpec;
use physedit::pipeline::chronoedit::{
    AdaptiveOptions, ChronoEditPipeline, EditRequest, LoadOptions,
};

use crate::common::{fixture, max_abs_diff};

fn request(run: &str) -> EditRequest {
    let dir = fixture("tiny_a");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let reference =
        candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu).unwrap();
    let r = &meta["runs"][run];
    crate::common::run_request(r, reference[&format!("run.{run}.latents")].clone())
}

fn load(offload: bool) -> ChronoEditPipeline {
    let lora: LoraSpec = fixture("lora")
        .join("peft.safetensors:0.7")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let opts = LoadOptions {
        loras: vec![lora],
        offload,
        ..Default::default()
    };
    ChronoEditPipeline::load(&fixture("tiny_a").join("pipeline"), &opts).expect("load pipeline")
}

fn edit(pipe: &ChronoEditPipeline, run: &str, srm: bool) -> Tensor {
    let image = physedit::util::open_image(&fixture("tiny_a").join("input.png")).unwrap();
    let adaptive = AdaptiveOptions {
        srm: srm.then(|| SrmConfig {
            probe: Probe::Pass { sigma: 0.8 },
            ..Default::default()
        }),
        ..Default::default()
    };
    let out = pipe
        .edit_with(&image, &request(run), &adaptive, &mut |_, _| {})
        .expect("edit");
    if srm {
        assert!(out.srm.is_some(), "{run}: the SRM did not run");
    }
    out.frames
}

#[test]
fn offload_on_the_cpu_gives_identical_frames() {
    let kept = load(false);
    let offloaded = load(true);
    assert!(!kept.offloads() && offloaded.offloads());
    // Every module loaded at first; under offload the transformer and the VAE wait on the host.
    assert_eq!(
        kept.resident_modules(),
        ["text encoder", "image encoder", "transformer", "VAE"]
    );
    assert_eq!(
        offloaded.resident_modules(),
        ["text encoder", "image encoder"]
    );

    // reason_partial: reasoning frames dropped mid-way, CFG; then the SRM with its probe pass.
    let mut reloads = 0;
    for (run, srm) in [("reason_partial", false), ("reason_all", true)] {
        let a = edit(&kept, run, srm);
        let b = edit(&offloaded, run, srm);
        assert_eq!(a.dims(), b.dims());
        let d = max_abs_diff(&a, &b);
        assert_eq!(d, 0.0, "{run}: offloaded frames differ by {d}");
        // Nothing stays on the device after an offloaded edit; a CPU pipeline keeps everything.
        assert!(offloaded.resident_modules().is_empty(), "{run}");
        assert_eq!(kept.resident_modules().len(), 4, "{run}");
        assert_eq!(kept.module_reloads(), 0, "{run}");
        // Each offloaded edit builds the transformer once and the VAE twice (condition, decode);
        // the encoders, released after the first edit, are rebuilt from the second on.
        let per_edit = if reloads == 0 { 3 } else { 5 };
        reloads += per_edit;
        assert_eq!(offloaded.module_reloads(), reloads, "{run}");
    }
}

#[test]
fn released_encoders_are_rebuilt_identically() {
    let pipe = load(false);
    let prompt = "Move the red ball to the left.";
    let before = pipe.encode_prompt(prompt).unwrap();
    pipe.release_encoders();
    assert_eq!(pipe.resident_modules(), ["transformer", "VAE"]);
    let after = pipe.encode_prompt(prompt).unwrap();
    assert_eq!(max_abs_diff(&before, &after), 0.0);
    assert_eq!(pipe.module_reloads(), 1);
    assert_eq!(
        pipe.resident_modules(),
        ["text encoder", "transformer", "VAE"]
    );
}
