//! Parity tests of the schedulers against diffusers 0.42.1 step sequences
//! (`tests/fixtures/schedulers`, written by tools/reference/make_schedulers.py), plus config
//! handling.
use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use physedit::schedulers::{
    from_config_file, from_config_str, FlowMatchEulerDiscreteScheduler, Scheduler,
    UniPcMultistepScheduler,
};

/// The committed fixture; `PHYSEDIT_SCHED_FIXTURES` may point the same tests at another
/// directory in the same format (e.g. extra configurations written during development).
fn fixture_dir() -> PathBuf {
    match std::env::var_os("PHYSEDIT_SCHED_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schedulers"),
    }
}

struct Fixture {
    meta: serde_json::Value,
    tensors: HashMap<String, Tensor>,
}

fn load_fixture() -> Fixture {
    let dir = fixture_dir();
    let meta_path = dir.join("meta.json");
    let meta_text = std::fs::read_to_string(&meta_path)
        .unwrap_or_else(|e| panic!("missing scheduler fixture {}: {e}", meta_path.display()));
    let meta: serde_json::Value = serde_json::from_str(&meta_text).expect("meta.json is JSON");
    let st_path = dir.join("reference.safetensors");
    let tensors = candle_core::safetensors::load(&st_path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("missing scheduler fixture {}: {e}", st_path.display()));
    Fixture { meta, tensors }
}

impl Fixture {
    fn get(&self, name: &str) -> &Tensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture tensor {name} missing"))
    }

    fn configs(&self) -> Vec<(String, serde_json::Value)> {
        let cfgs = self.meta["configs"].as_object().expect("meta.configs");
        let mut v: Vec<_> = cfgs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Builds the scheduler of a fixture entry and sets its timesteps (with `mu` when the entry has
/// one, for dynamic shifting).
fn build(entry: &serde_json::Value, name: &str) -> Box<dyn Scheduler> {
    let mut cfg = entry["config"].clone();
    let class = entry["scheduler_class"].as_str().unwrap();
    cfg["_class_name"] = class.into();
    let steps = entry["steps"].as_u64().unwrap() as usize;
    let mu = entry.get("mu").and_then(|v| v.as_f64());
    let fail = |e: anyhow::Error| -> ! { panic!("{name}: {e:#}") };
    if mu.is_some() {
        cfg.as_object_mut().unwrap().remove("_class_name");
        if class == "UniPCMultistepScheduler" {
            let mut s = UniPcMultistepScheduler::new(serde_json::from_value(cfg).unwrap())
                .unwrap_or_else(|e| fail(e));
            s.set_timesteps_with_mu(steps, mu)
                .unwrap_or_else(|e| fail(e));
            return Box::new(s);
        }
        let mut s = FlowMatchEulerDiscreteScheduler::new(serde_json::from_value(cfg).unwrap())
            .unwrap_or_else(|e| fail(e));
        s.set_timesteps_with_mu(steps, mu)
            .unwrap_or_else(|e| fail(e));
        return Box::new(s);
    }
    let mut s = from_config_str(&cfg.to_string(), name).unwrap_or_else(|e| fail(e));
    s.set_timesteps(steps).unwrap_or_else(|e| fail(e));
    s
}

/// Max abs difference over elements that are finite in the reference; non-finite reference
/// elements (diffusers produces +-inf at the last step of order-2 UniPC without
/// `lower_order_final`, where the final sigma is 0) must be reproduced exactly.
fn max_abs_diff(got: &Tensor, want: &Tensor, what: &str) -> f32 {
    assert_eq!(got.dims(), want.dims(), "{what}: shape mismatch");
    let g = got
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let w = want
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let mut worst = 0f32;
    for (k, (a, b)) in g.iter().zip(&w).enumerate() {
        if b.is_finite() {
            assert!(a.is_finite(), "{what}: element {k} is {a}, reference {b}");
            worst = worst.max((a - b).abs());
        } else {
            assert!(
                (a.is_nan() && b.is_nan()) || a == b,
                "{what}: element {k} is {a}, reference {b}"
            );
        }
    }
    worst
}

/// Max |x| over finite elements.
fn max_abs(a: &Tensor) -> f32 {
    a.to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f32, |m, v| m.max(v.abs()))
}

/// Timesteps (the values the transformer receives) and float32 sigmas must equal diffusers'
/// exactly: the schedule is computed with the same f64 (numpy) / f32 (torch) arithmetic.
#[test]
fn schedules_match_exactly() {
    let fx = load_fixture();
    let configs = fx.configs();
    assert!(configs.len() >= 8, "expected the scheduler fixture configs");
    for (name, entry) in configs {
        let s = build(&entry, &name);
        // meta.json numbers are float32 values (or integers); serde_json's default float parser
        // may be 1 ulp off in f64, so compare them as float32 (still exact for these values).
        let want_t: Vec<f32> = entry["timesteps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let got_t: Vec<f32> = s.timesteps().iter().map(|&t| t as f32).collect();
        assert_eq!(got_t, want_t, "{name}: timesteps");
        let want_t32: Vec<f32> = fx
            .get(&format!("sched.{name}.timesteps"))
            .to_vec1::<f32>()
            .unwrap();
        let got_t32: Vec<f32> = s.timesteps().iter().map(|&t| t as f32).collect();
        assert_eq!(got_t32, want_t32, "{name}: timesteps tensor");
        if entry["timesteps_dtype"] == "int64" {
            assert!(
                s.timesteps().iter().all(|t| t.fract() == 0.0),
                "{name}: int64 timesteps"
            );
        }
        let want_s: Vec<f32> = fx
            .get(&format!("sched.{name}.sigmas"))
            .to_vec1::<f32>()
            .unwrap();
        let flow = entry["scheduler_class"] == "FlowMatchEulerDiscreteScheduler"
            || entry["config"]["use_flow_sigmas"] == true;
        if flow {
            assert_eq!(s.sigmas(), want_s.as_slice(), "{name}: sigmas");
        } else {
            // VP (alphas_cumprod) sigmas come from torch's float32 `** 0.5`, which on CPU is not
            // always correctly rounded (MKL/vectorised sqrt); ours is IEEE sqrt: allow 1e-6
            // relative (a few float32 ulp).
            assert_eq!(s.sigmas().len(), want_s.len(), "{name}: sigmas length");
            for (k, (a, b)) in s.sigmas().iter().zip(&want_s).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs(),
                    "{name}: sigma {k}: {a} vs {b}"
                );
            }
        }
        assert_eq!(s.init_noise_sigma(), 1.0);
        assert_eq!(s.name(), entry["scheduler_class"].as_str().unwrap());
    }
}

/// Runs a fixture config. `teacher_forced`: feed diffusers' own previous sample into each step
/// (isolates one step's error); otherwise chain our own outputs as the pipeline does.
/// Returns (max over steps of abs error / max(1, max |reference|), max abs error).
fn run_config(
    fx: &Fixture,
    name: &str,
    entry: &serde_json::Value,
    teacher_forced: bool,
) -> (f32, f32) {
    let mut s = build(entry, name);
    let steps = entry["steps"].as_u64().unwrap() as usize;
    let truncate_at = entry["truncate_at"].as_u64().map(|v| v as usize);
    // The reference raised at this step (recorded by the extra-config generator): so must we.
    let error_at = entry
        .get("error")
        .and_then(|v| v.as_str())
        .and_then(|e| e.strip_prefix("step "))
        .and_then(|e| e.split(':').next())
        .map(|v| v.parse::<usize>().unwrap());
    let mut sample = fx.get(&format!("sched.{name}.sample")).clone();
    let mut worst_rel = 0f32;
    let mut worst = 0f32;
    for i in 0..steps {
        if truncate_at == Some(i) {
            let f = sample.dim(2).unwrap();
            let keep = [0, f - 1];
            let idx = Tensor::new(&[0u32, (f - 1) as u32], &Device::Cpu).unwrap();
            sample = sample.index_select(&idx, 2).unwrap();
            s.keep_latent_frames(&keep).unwrap();
        }
        if error_at == Some(i) {
            let mo = Tensor::zeros(sample.shape(), DType::F32, &Device::Cpu).unwrap();
            assert!(
                s.step(&mo, i, &sample).is_err(),
                "{name}: step {i} must fail as in diffusers"
            );
            break;
        }
        let mo = fx.get(&format!("sched.{name}.model_output.{i}"));
        let want = fx.get(&format!("sched.{name}.prev_sample.{i}"));
        let got = s
            .step(mo, i, &sample)
            .unwrap_or_else(|e| panic!("{name} step {i}: {e:#}"));
        assert_eq!(got.dtype(), want.dtype(), "{name}: output dtype");
        let err = max_abs_diff(&got, want, &format!("{name} step {i}"));
        worst = worst.max(err);
        worst_rel = worst_rel.max(err / max_abs(want).max(1.0));
        sample = if teacher_forced { want.clone() } else { got };
    }
    (worst_rel, worst)
}

/// One step at a time from diffusers' own samples. Tolerance: abs error <= 1e-5 x max(1, max
/// |reference|) per step. The step is a handful of float32 multiply-adds whose coefficients are
/// float32 scalars from log/expm1/sqrt of 0-dim tensors; torch's CPU versions of those are not
/// always correctly rounded (we use IEEE/libm), and LAPACK's solve may round differently, so
/// coefficients differ by ~1 ulp; nearly equal log-SNRs then amplify that in `h` and `rk`
/// (measured up to ~2e-6 on the 50-step schedule).
#[test]
fn steps_match_teacher_forced() {
    let fx = load_fixture();
    for (name, entry) in fx.configs() {
        let (rel, err) = run_config(&fx, &name, &entry, true);
        eprintln!("{name}: teacher-forced max abs err {err:.3e} (scaled {rel:.3e})");
        assert!(rel <= 1e-5, "{name}: scaled max abs err {rel} > 1e-5");
    }
}

/// The whole chain as the pipeline runs it (our own sample fed back, including the `_truncate`
/// variants that drop latent frames mid-run). Same tolerance: the chain is contractive in
/// practice (each sample is a weighted combination of model predictions), so per-step ulp
/// differences do not grow (measured: chained errors equal teacher-forced ones within 2x).
#[test]
fn steps_match_chained() {
    let fx = load_fixture();
    let mut seen_truncate = 0;
    for (name, entry) in fx.configs() {
        if entry["truncate_at"].is_u64() {
            seen_truncate += 1;
        }
        let (rel, err) = run_config(&fx, &name, &entry, false);
        eprintln!("{name}: chained max abs err {err:.3e} (scaled {rel:.3e})");
        assert!(rel <= 1e-5, "{name}: scaled max abs err {rel} > 1e-5");
    }
    assert!(
        seen_truncate >= 2,
        "fixture must contain _truncate variants"
    );
}

/// The pipeline's scheduler config file is read through `from_config_file`.
#[test]
fn config_file_roundtrip() {
    let fx = load_fixture();
    let dir = tempfile::tempdir().unwrap();
    let (name, entry) = fx
        .configs()
        .into_iter()
        .find(|(n, _)| n == "unipc_o2_s5_n4")
        .expect("unipc_o2_s5_n4 fixture config");
    let mut cfg = entry["config"].clone();
    cfg["_class_name"] = entry["scheduler_class"].clone();
    cfg["_diffusers_version"] = "0.42.1".into();
    let path = dir.path().join("scheduler_config.json");
    std::fs::write(&path, cfg.to_string()).unwrap();
    let mut s = from_config_file(&path).unwrap();
    assert_eq!(s.name(), "UniPCMultistepScheduler");
    s.set_timesteps(4).unwrap();
    let want: Vec<f64> = entry["timesteps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // UniPC timesteps are integers, exact in JSON.
    assert_eq!(s.timesteps(), want.as_slice(), "{name}");
}

fn err_of(json: &str) -> String {
    match from_config_str(json, "scheduler/scheduler_config.json") {
        Ok(_) => panic!("config accepted but should be rejected: {json}"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn config_errors_name_file_and_option() {
    let cases = [
        (r#"{"_class_name": "DDIMScheduler"}"#, "DDIMScheduler"),
        (r#"{"num_train_timesteps": 1000}"#, "_class_name"),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "thresholding": true}"#,
            "thresholding",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "use_beta_sigmas": true}"#,
            "use_beta_sigmas",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "solver_type": "foo"}"#,
            "solver_type",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "prediction_type": "x"}"#,
            "prediction_type",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "timestep_spacing": "x"}"#,
            "timestep_spacing",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "final_sigmas_type": "x"}"#,
            "final_sigmas_type",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "beta_schedule": "x"}"#,
            "beta_schedule",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "shift_terminal": 0.1}"#,
            "shift_terminal",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "prediction_type": "flow_prediction", "predict_x0": false}"#,
            "predict_x0",
        ),
        (
            r#"{"_class_name": "UniPCMultistepScheduler", "use_karras_sigmas": true, "use_exponential_sigmas": true}"#,
            "use_karras_sigmas",
        ),
        (
            r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "stochastic_sampling": true}"#,
            "stochastic_sampling",
        ),
        (
            r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "use_beta_sigmas": true}"#,
            "use_beta_sigmas",
        ),
        (
            r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "time_shift_type": "x"}"#,
            "time_shift_type",
        ),
        (
            r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": "five"}"#,
            "shift",
        ),
        (
            r#"{"_class_name": "DPMSolverMultistepScheduler"}"#,
            "use_flow_sigmas",
        ),
        (
            r#"{"_class_name": "DPMSolverMultistepScheduler", "use_flow_sigmas": true, "algorithm_type": "sde-dpmsolver++"}"#,
            "algorithm_type",
        ),
        (
            r#"{"_class_name": "DPMSolverMultistepScheduler", "use_flow_sigmas": true, "solver_order": 4}"#,
            "solver_order",
        ),
        (
            r#"{"_class_name": "DPMSolverMultistepScheduler", "use_flow_sigmas": true, "final_sigmas_type": "sigma_min"}"#,
            "final_sigmas_type",
        ),
        (
            r#"{"_class_name": "DPMSolverMultistepScheduler", "use_flow_sigmas": true, "use_lu_lambdas": true}"#,
            "use_lu_lambdas",
        ),
        (
            r#"{"_class_name": "DPMSolverMultistepScheduler", "use_flow_sigmas": true, "thresholding": true}"#,
            "thresholding",
        ),
    ];
    for (json, option) in cases {
        let e = err_of(json);
        assert!(
            e.contains("scheduler/scheduler_config.json"),
            "error must name the file: {e}"
        );
        assert!(e.contains(option), "error must name {option}: {e}");
    }
    // A missing file is named in the error.
    let e = from_config_file(std::path::Path::new("/nonexistent/scheduler_config.json"))
        .err()
        .expect("missing file must fail");
    assert!(format!("{e:#}").contains("/nonexistent/scheduler_config.json"));
    // Dynamic shifting needs `mu`, which `set_timesteps` does not take.
    for class in ["UniPCMultistepScheduler", "FlowMatchEulerDiscreteScheduler"] {
        let json = format!(
            r#"{{"_class_name": "{class}", "use_dynamic_shifting": true, "use_flow_sigmas": true}}"#
        );
        let mut s = from_config_str(&json, "cfg").unwrap();
        let e = format!("{:#}", s.set_timesteps(4).err().expect("needs mu"));
        assert!(
            e.contains("use_dynamic_shifting") && e.contains("mu"),
            "{e}"
        );
    }
}

/// A config as diffusers saves DPM-Solver's (Python's `json` writes its default
/// `lambda_min_clipped` as the bare token `-Infinity`) loads; such a token inside a string stays
/// text, and a config broken elsewhere is still refused.
#[test]
fn python_json_tokens_are_read() {
    let json = r#"{"_class_name": "DPMSolverMultistepScheduler", "use_flow_sigmas": true,
        "flow_shift": 5.0, "lambda_min_clipped": -Infinity, "prediction_type": "flow_prediction",
        "variance_type": null, "note": "keeps -Infinity in text"}"#;
    let mut s = from_config_str(json, "cfg").unwrap();
    s.set_timesteps(8).unwrap();
    assert_eq!(s.name(), "DPMSolverMultistepScheduler");
    let e = err_of(r#"{"_class_name": "DPMSolverMultistepScheduler", "flow_shift": -Infinity,}"#);
    assert!(e.contains("not valid JSON"), "{e}");
}

/// A sampler switched the way `DPMSolverMultistepScheduler.from_config(unipc.config,
/// solver_order=3)` switches it runs exactly the reference fixture recorded from that call.
#[test]
fn switching_a_folder_config_to_dpm_matches_diffusers_from_config() {
    let fx = load_fixture();
    let unipc = fx
        .configs()
        .into_iter()
        .find(|(n, _)| n == "unipc_o2_s5_n4")
        .expect("unipc_o2_s5_n4 fixture config")
        .1;
    let mut folder = unipc["config"].clone();
    folder["_class_name"] = "UniPCMultistepScheduler".into();
    let (name, entry) = fx
        .configs()
        .into_iter()
        .find(|(n, _)| n == "dpm_o3_s5_n8")
        .expect("dpm_o3_s5_n8 fixture config");
    let mut s = physedit::schedulers::from_config_str_with(
        &folder.to_string(),
        "folder",
        None,
        Some("dpm3".parse().unwrap()),
    )
    .unwrap();
    s.set_timesteps(8).unwrap();
    let want = fx.get(&format!("sched.{name}.sigmas"));
    let got = Tensor::new(s.sigmas(), &Device::Cpu).unwrap();
    assert_eq!(max_abs_diff(&got, want, "sigmas"), 0.0);
    let mut sample = fx.get(&format!("sched.{name}.sample")).clone();
    for i in 0..8 {
        let mo = fx.get(&format!("sched.{name}.model_output.{i}"));
        sample = s.step(mo, i, &sample).unwrap();
    }
    let want = fx.get(&format!("sched.{name}.prev_sample.7"));
    let err = max_abs_diff(&sample, want, "last sample");
    assert!(err <= 1e-5 * max_abs(want).max(1.0), "{err}");
    assert_eq!(entry["scheduler_class"], "DPMSolverMultistepScheduler");
}

/// Misuse of `step` is an error, not a panic.
#[test]
fn step_misuse_errors() {
    let mut s = from_config_str(
        r#"{"_class_name": "UniPCMultistepScheduler", "prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 5.0}"#,
        "cfg",
    )
    .unwrap();
    let x = Tensor::zeros((1, 2, 3, 2, 2), DType::F32, &Device::Cpu).unwrap();
    assert!(s.step(&x, 0, &x).is_err(), "step before set_timesteps");
    s.set_timesteps(3).unwrap();
    assert!(s.step(&x, 5, &x).is_err(), "step index out of range");
    s.step(&x, 0, &x).unwrap();
    assert!(s.step(&x, 2, &x).is_err(), "skipped step");
    assert!(s.keep_latent_frames(&[0, 7]).is_err(), "frame out of range");
    let y = Tensor::zeros((1, 2, 3, 2, 2), DType::U32, &Device::Cpu).unwrap();
    assert!(s.step(&y, 1, &x).is_err(), "integer model output");
}

/// A small diffusers 0.42.1 reference sequence embedded in this file (configurations beyond the
/// pipeline's flow-matching ones: VP schedules, other prediction types and spacings, Euler
/// options). Written by this snippet (values are `repr(float(x))` of the float32 tensors, so
/// they parse back exactly):
///
/// ```python
/// s = Class(**config); s.set_timesteps(steps[, mu=mu])
/// g = torch.Generator().manual_seed(1000 + case_index)
/// x = torch.randn((1, 1, 3, 1, 1), generator=g)
/// for i, t in enumerate(s.timesteps):
///     if i == truncate_at:  # exactly ChronoEditPipeline's truncation
///         x = x[:, :, [0, -1]]; (model_outputs with a different frame count and last_sample too)
///     mo = torch.randn(x.shape, generator=g)
///     x = s.step(mo, t, x, return_dict=False)[0]   # -> prev_samples[i]
/// ```
struct InlineCase {
    name: &'static str,
    config: &'static str,
    mu: Option<f64>,
    truncate_at: Option<usize>,
    timesteps: &'static [f64],
    sigmas: &'static [f64],
    sample: &'static [f64],
    model_outputs: &'static [&'static [f64]],
    prev_samples: &'static [&'static [f64]],
}

fn frames_tensor(v: &[f64]) -> Tensor {
    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_vec(v.clone(), (1, 1, v.len(), 1, 1), &Device::Cpu).unwrap()
}

/// Embedded sequences: timesteps exact, sigmas exact for flow schedules (1e-6 relative for VP
/// ones, see `schedules_match_exactly`), and every step, chained as the pipeline runs it, within
/// 1e-5 x max(1, max |reference|) (see `steps_match_teacher_forced` for why).
#[test]
fn inline_reference_sequences() {
    for case in INLINE_CASES {
        let name = case.name;
        let cfg: serde_json::Value = serde_json::from_str(case.config).unwrap();
        let entry = serde_json::json!({
            "config": cfg,
            "scheduler_class": cfg["_class_name"],
            "steps": case.timesteps.len(),
            "mu": case.mu,
        });
        let mut s = build(&entry, name);
        assert_eq!(s.timesteps(), case.timesteps, "{name}: timesteps");
        let want_s: Vec<f32> = case.sigmas.iter().map(|&v| v as f32).collect();
        let flow = cfg["_class_name"] == "FlowMatchEulerDiscreteScheduler"
            || cfg["use_flow_sigmas"] == true;
        if flow {
            assert_eq!(s.sigmas(), want_s.as_slice(), "{name}: sigmas");
        } else {
            assert_eq!(s.sigmas().len(), want_s.len(), "{name}: sigmas length");
            for (k, (a, b)) in s.sigmas().iter().zip(&want_s).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs(),
                    "{name}: sigma {k}: {a} vs {b}"
                );
            }
        }
        let mut sample = frames_tensor(case.sample);
        let mut worst = 0f32;
        for (i, (mo, want)) in case.model_outputs.iter().zip(case.prev_samples).enumerate() {
            if case.truncate_at == Some(i) {
                let f = sample.dim(2).unwrap();
                let idx = Tensor::new(&[0u32, (f - 1) as u32], &Device::Cpu).unwrap();
                sample = sample.index_select(&idx, 2).unwrap();
                s.keep_latent_frames(&[0, f - 1]).unwrap();
            }
            let got = s
                .step(&frames_tensor(mo), i, &sample)
                .unwrap_or_else(|e| panic!("{name} step {i}: {e:#}"));
            let want = frames_tensor(want);
            let err = max_abs_diff(&got, &want, &format!("{name} step {i}"));
            worst = worst.max(err / max_abs(&want).max(1.0));
            sample = got;
        }
        eprintln!("{name}: chained scaled max abs err {worst:.3e}");
        assert!(worst <= 1e-5, "{name}: scaled max abs err {worst} > 1e-5");
    }
}

#[rustfmt::skip]
const INLINE_CASES: &[InlineCase] = &[
    InlineCase {
        name: "unipc_karras_eps_n8",
        config: r#"{"use_karras_sigmas": true, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 917.0, 815.0, 681.0, 484.0, 205.0, 32.0, 0.0],
        sigmas: &[157.4072723388672, 71.31792449951172, 29.205732345581055, 10.494364738464355, 3.1632323265075684, 0.743441104888916, 0.11950947344303131, 0.010001329705119133, 0.0],
        sample: &[-1.1720491647720337, -0.3928842544555664, 0.5264794826507568],
        model_outputs: &[&[1.1065099239349365, 0.927274763584137, -1.742060661315918], &[-0.7699140310287476, 0.7864384055137634, -1.9962517023086548], &[0.5836459398269653, 1.0392022132873535, 0.8022738099098206], &[0.5268961787223816, 0.5729644298553467, 0.13898207247257233], &[-1.1762067079544067, 0.0851723700761795, 0.15633881092071533], &[1.7895777225494385, -0.2059526890516281, -0.398753821849823], &[0.517784059047699, -0.7383248209953308, -0.39376798272132874], &[1.5146011114120483, 1.4998691082000732, 0.18175916373729706]],
        prev_samples: &[&[-3.9222121238708496, -1.9862980842590332, 3.2645840644836426], &[-6.426037788391113, -5.828394412994385, 11.120702743530273], &[-19.210308074951172, -18.225337982177734, 25.9461612701416], &[-63.24711990356445, -58.71409606933594, 79.67903137207031], &[-165.05116271972656, -155.29444885253906, 210.110107421875], &[-205.9666748046875, -191.1974639892578, 259.6856384277344], &[-207.77481079101562, -191.94427490234375, 261.2773132324219], &[-207.8003387451172, -191.96885681152344, 261.2885437011719]],
    },
    InlineCase {
        name: "unipc_karras_scaled_v_sigma_bounds_n7",
        config: r#"{"use_karras_sigmas": true, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "prediction_type": "v_prediction", "sigma_min": 0.05, "sigma_max": 20.0, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 931.0, 772.0, 542.0, 243.0, 43.0, 2.0],
        sigmas: &[20.0, 9.878890037536621, 4.508440017700195, 1.863334059715271, 0.677678644657135, 0.2076774388551712, 0.05000000074505806, 0.0],
        sample: &[1.0075974464416504, 1.6677818298339844, -1.5393465757369995],
        model_outputs: &[&[-0.303809255361557, -1.3198387622833252, 2.1827759742736816], &[-0.6406170725822449, -0.18715843558311462, -1.7284419536590576], &[0.07860927283763885, 0.5742570757865906, 0.454834908246994], &[0.38130974769592285, -1.9170676469802856, -1.7950172424316406], &[0.7022008299827576, 0.6613343954086304, -1.4117109775543213], &[0.8912580013275146, -1.0363366603851318, 0.4853845238685608], &[-0.8157814741134644, -1.7939268350601196, 0.9488975405693054]],
        prev_samples: &[&[1.0217556953430176, 1.732802152633667, -1.6484586000442505], &[1.1247202157974243, 1.6486421823501587, -1.0899463891983032], &[0.9238026738166809, 1.365452527999878, -1.8208351135253906], &[0.6628605127334595, 3.1286392211914062, -0.05381879210472107], &[0.37783652544021606, 2.354933977127075, 0.3749193251132965], &[0.24991931021213531, 2.6569325923919678, 0.03414440155029297], &[0.290345698595047, 2.743201971054077, -0.013283878564834595]],
    },
    InlineCase {
        name: "unipc_karras_flow_n6",
        config: r#"{"use_karras_sigmas": true, "use_flow_sigmas": true, "prediction_type": "flow_prediction", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[993.0, 980.0, 928.0, 707.0, 208.0, 9.0],
        sigmas: &[0.9936871528625488, 0.9806129932403564, 0.9287647008895874, 0.7078490853309631, 0.20832091569900513, 0.009902293793857098, 0.0],
        sample: &[0.5369338393211365, 0.9485034346580505, -0.20258915424346924],
        model_outputs: &[&[0.9552587270736694, 1.8441747426986694, -0.9636752605438232], &[-1.2653160095214844, -1.0969123840332031, 0.8455538153648376], &[2.0515260696411133, -1.0435495376586914, -0.6435226202011108], &[0.6393762826919556, 0.08907591551542282, -0.07860806584358215], &[-0.2097017765045166, 0.17827315628528595, -0.6292888522148132], &[0.847091555595398, -0.5282801389694214, -1.895693063735962]],
        prev_samples: &[&[0.524444580078125, 0.9243923425674438, -0.18998989462852478], &[0.6723616123199463, 1.0902860164642334, -0.30089515447616577], &[-0.329683780670166, 1.2736767530441284, 0.09837638586759567], &[-0.314750075340271, 0.799496054649353, 0.01864783465862274], &[0.08723047375679016, 0.4563905894756317, 0.14303039014339447], &[0.07884232699871063, 0.4616217613220215, 0.16180209815502167]],
    },
    InlineCase {
        name: "unipc_exponential_eps_n7",
        config: r#"{"use_exponential_sigmas": true, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 824.0, 602.0, 302.0, 72.0, 10.0, 0.0],
        sigmas: &[157.4072723388672, 31.443456649780273, 6.281101226806641, 1.2547039985656738, 0.2506379187107086, 0.050067078322172165, 0.010001329705119133, 0.0],
        sample: &[-0.6141311526298523, 1.6634441614151, -0.170411616563797],
        model_outputs: &[&[-0.05507370084524155, 1.9227538108825684, -1.1345160007476807], &[0.4872840642929077, 1.3934184312820435, -0.04361932724714279], &[1.1235164403915405, 0.4786891043186188, 0.34609559178352356], &[-0.2486644834280014, 0.24374869465827942, -0.809031069278717], &[-0.018292782828211784, 1.1576621532440186, 1.0735180377960205], &[0.5066749453544617, -0.3288724720478058, -0.14931070804595947], &[0.5649061799049377, 1.593506932258606, -0.7930374145507812]],
        prev_samples: &[&[-2.85235857963562, 0.6244908571243286, 3.689948320388794], &[-17.32351303100586, -1.16751229763031, 15.835104942321777], &[-75.18222045898438, -2.6479077339172363, 57.37199401855469], &[-117.42761993408203, -2.471465826034546, 88.71826171875], &[-121.0592269897461, -2.334622383117676, 90.58771514892578], &[-121.263671875, -2.187291145324707, 90.59191131591797], &[-121.27537536621094, -2.2033376693725586, 90.6043701171875]],
    },
    InlineCase {
        name: "unipc_exponential_sigmamin_n25",
        config: r#"{"use_exponential_sigmas": true, "final_sigmas_type": "sigma_min", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[998.0, 954.0, 907.0, 857.0, 803.0, 744.0, 680.0, 611.0, 538.0, 460.0, 381.0, 304.0, 233.0, 171.0, 120.0, 80.0, 52.0, 32.0, 20.0, 11.0, 6.0, 3.0, 1.0, 0.0, 0.0],
        sigmas: &[14.614646911621094, 11.279581069946289, 8.705577850341797, 6.718963146209717, 5.185694217681885, 4.002317428588867, 3.0889875888824463, 2.384079933166504, 1.8400323390960693, 1.420136570930481, 1.0960609912872314, 0.8459396362304688, 0.6528960466384888, 0.5039049983024597, 0.38891375064849854, 0.30016353726387024, 0.23166616261005402, 0.17879988253116608, 0.13799770176410675, 0.1065066009759903, 0.0822017714381218, 0.06344330310821533, 0.04896552860736847, 0.03779158368706703, 0.02916753478348255, 0.02916753478348255],
        sample: &[0.06718476861715317, -0.4626752734184265, 0.43935853242874146],
        model_outputs: &[&[-0.7687769532203674, 1.086761713027954, -1.534632682800293], &[-0.45252373814582825, 0.3689378499984741, -0.9079264402389526], &[-0.25781846046447754, -0.3581010401248932, 0.40719369053840637], &[-0.27216464281082153, 1.336605429649353, 1.9049187898635864], &[0.3085087537765503, -0.6660284996032715, -0.21420502662658691], &[-0.7259513139724731, -1.5690133571624756, -0.7151692509651184], &[-0.059852179139852524, 1.2376550436019897, -0.5517398118972778], &[0.9085071682929993, -0.5655497312545776, 0.36685553193092346], &[0.3147249221801758, 0.466506689786911, 1.5769246816635132], &[-0.20420049130916595, -0.13785122334957123, -0.6764760613441467], &[-0.8329389095306396, 0.3565405309200287, 0.6785581111907959], &[1.1949104070663452, 1.532627820968628, 1.0087604522705078], &[0.24033065140247345, 1.0057224035263062, 1.5183578729629517], &[0.1396583765745163, 1.4279166460037231, 0.7504912614822388], &[0.15864132344722748, -0.5106492638587952, -0.6893424391746521], &[-0.008885787799954414, -1.5465959310531616, 0.5195225477218628], &[-0.5811336040496826, -1.1539127826690674, 0.18157783150672913], &[0.616662323474884, 0.3469225764274597, 1.6964190006256104], &[-0.011410767212510109, 0.2512195110321045, -0.1760905236005783], &[2.198850393295288, -1.1760145425796509, -0.5850532054901123], &[0.237124964594841, 0.06988725811243057, -0.668497622013092], &[2.1055030822753906, -0.5332693457603455, 0.542218804359436], &[-0.18247082829475403, -1.1379200220108032, 0.041672151535749435], &[-0.3379504084587097, 1.3178303241729736, 0.8501294851303101], &[0.3508298695087433, -0.8196279406547546, -0.25388437509536743]],
        prev_samples: &[&[0.3133305013179779, -0.9186004400253296, 1.0203431844711304], &[0.45553141832351685, -1.1086443662643433, 1.422156572341919], &[0.6335303783416748, -1.1885583400726318, 1.429198145866394], &[0.9237076044082642, -2.406327724456787, 1.0292901992797852], &[0.9635410904884338, -2.3417468070983887, 2.039682149887085], &[1.7052068710327148, -2.3642802238464355, 2.853577136993408], &[1.9698110818862915, -4.074193477630615, 3.5771260261535645], &[1.9810541868209839, -4.386684894561768, 4.094310283660889], &[2.5014491081237793, -5.594483375549316, 4.367650508880615], &[3.0784449577331543, -6.408987998962402, 5.764929294586182], &[3.7099976539611816, -7.4125165939331055, 6.131931304931641], &[3.562431812286377, -8.531286239624023, 6.506332874298096], &[3.9169094562530518, -9.132685661315918, 6.7102251052856445], &[4.09472131729126, -9.713194847106934, 7.013554096221924], &[4.1821370124816895, -9.798990249633789, 7.36159086227417], &[4.260222434997559, -9.830327033996582, 7.357016563415527], &[4.358412742614746, -9.916760444641113, 7.439706325531006], &[4.314887523651123, -10.04861831665039, 7.371250629425049], &[4.353159427642822, -10.079914093017578, 7.46355676651001], &[4.266114234924316, -10.039447784423828, 7.498848915100098], &[4.305552005767822, -10.079492568969727, 7.516139984130859], &[4.254631996154785, -10.07251262664795, 7.497877597808838], &[4.281454086303711, -10.058558464050293, 7.508596420288086], &[4.284614086151123, -10.092111587524414, 7.4984517097473145], &[4.279786109924316, -10.079567909240723, 7.503358364105225]],
    },
    InlineCase {
        name: "unipc_eps_linspace_o2_n10",
        config: r#"{"_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 899.0, 799.0, 699.0, 599.0, 500.0, 400.0, 300.0, 200.0, 100.0],
        sigmas: &[157.4072723388672, 60.27141571044922, 25.528484344482422, 11.939519882202148, 6.135210037231445, 3.442967414855957, 2.0410873889923096, 1.2401612997055054, 0.7235912084579468, 0.34226012229919434, 0.0],
        sample: &[0.042454689741134644, 0.020354703068733215, -1.0308324098587036],
        model_outputs: &[&[-0.27293720841407776, -1.3813748359680176, -0.617290198802948], &[0.22752191126346588, 1.5009562969207764, 0.1766926348209381], &[0.43591949343681335, -0.7405992150306702, 1.1760021448135376], &[-0.5040876865386963, 0.2783935070037842, -0.062420375645160675], &[-1.0882270336151123, 0.14708684384822845, 1.1345819234848022], &[0.39829176664352417, -1.1846671104431152, -2.1434459686279297], &[-0.9804176688194275, -1.3433113098144531, -0.00819982960820198], &[0.3692399859428406, -0.992680549621582, -0.1457487791776657], &[1.6126176118850708, 0.5580447912216187, 1.127353549003601], &[-2.1335525512695312, -0.0019311605719849467, 0.017046507447957993]],
        prev_samples: &[&[0.5506794452667236, 2.2791264057159424, -1.6971344947814941], &[0.5310853719711304, 0.6938744783401489, -4.972524166107178], &[0.3705691397190094, 3.4803223609924316, -12.885967254638672], &[1.9111472368240356, 6.714206695556641, -23.86341094970703], &[4.629205703735352, 11.70168399810791, -42.47100830078125], &[6.2667036056518555, 19.787086486816406, -64.19707489013672], &[9.823905944824219, 28.916919708251953, -92.39295959472656], &[12.167566299438477, 37.50109100341797, -119.41122436523438], &[13.136556625366211, 43.01767349243164, -140.2828826904297], &[14.61490535736084, 45.468162536621094, -148.27774047851562]],
    },
    InlineCase {
        name: "unipc_eps_o3_n8_truncate",
        config: r#"{"solver_order": 3, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: Some(3),
        timesteps: &[999.0, 874.0, 749.0, 624.0, 500.0, 375.0, 250.0, 125.0],
        sigmas: &[157.4072723388672, 48.166839599609375, 17.24698257446289, 7.1861395835876465, 3.442967414855957, 1.8012357950210571, 0.9580338597297668, 0.429942786693573, 0.0],
        sample: &[1.4150919914245605, -0.7227213978767395, 0.30617961287498474],
        model_outputs: &[&[-0.1962386965751648, 0.5389779210090637, -0.17109636962413788], &[0.5366030931472778, -0.5546324253082275, 1.4431999921798706], &[-1.5417449474334717, -0.8116731643676758, -0.4612784683704376], &[1.065662145614624, -1.3536428213119507], &[0.7531002163887024, -1.400549292564392], &[-1.2114951610565186, -0.2264053225517273], &[0.5557698011398315, -0.5331416130065918], &[-0.3511338531970978, 0.6851803064346313]],
        prev_samples: &[&[5.0685248374938965, -3.583479404449463, 1.388343095779419], &[12.351484298706055, -7.772906303405762, -0.5234649181365967], &[34.809146881103516, -17.197757720947266, 2.5550971031188965], &[67.1316146850586, 9.193727493286133], &[114.46727752685547, 14.841236114501953], &[172.99900817871094, 18.504783630371094], &[219.81263732910156, 23.528770446777344], &[239.41891479492188, 25.316680908203125]],
    },
    InlineCase {
        name: "unipc_v_scaled_leading_n9",
        config: r#"{"prediction_type": "v_prediction", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "timestep_spacing": "leading", "steps_offset": 1, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[901.0, 801.0, 701.0, 601.0, 501.0, 401.0, 301.0, 201.0, 101.0],
        sigmas: &[8.390686988830566, 5.134433269500732, 3.3477649688720703, 2.2928547859191895, 1.6236929893493652, 1.1682164669036865, 0.8356532454490662, 0.574050784111023, 0.3461872935295105, 0.0],
        sample: &[0.631402313709259, -1.439353108406067, -1.4928282499313354],
        model_outputs: &[&[-0.10345286130905151, 1.7515588998794556, 0.515552282333374], &[-0.2647823393344879, -0.7174034118652344, 0.16000722348690033], &[-1.114367127418518, -0.9798763394355774, -1.1705785989761353], &[0.6636546850204468, -1.6254323720932007, -1.3521757125854492], &[0.7828195691108704, -0.6942789554595947, -1.0873395204544067], &[-0.43172475695610046, 1.9154170751571655, -0.8949897885322571], &[-0.47762739658355713, 0.1050056666135788, 2.286510705947876], &[-0.39357084035873413, 2.106985330581665, -0.9683498740196228], &[1.229024052619934, 1.4617289304733276, -1.2273154258728027]],
        prev_samples: &[&[0.6373077630996704, -1.5644763708114624, -1.5267516374588013], &[0.6763953566551208, -1.3026659488677979, -1.5160099267959595], &[0.8862228393554688, -1.240034818649292, -1.2590610980987549], &[0.5597963929176331, -0.9541998505592346, -1.1006470918655396], &[0.49312451481819153, -0.9912441968917847, -0.9784180521965027], &[0.7489837408065796, -1.6337308883666992, -0.8473485112190247], &[0.800179123878479, -1.2926390171051025, -1.7018660306930542], &[0.8434062600135803, -2.0091662406921387, -0.9407558441162109], &[0.39493751525878906, -2.376802921295166, -0.4874894917011261]],
    },
    InlineCase {
        name: "unipc_sample_trailing_sigmamin_n7",
        config: r#"{"prediction_type": "sample", "timestep_spacing": "trailing", "final_sigmas_type": "sigma_min", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 856.0, 713.0, 570.0, 428.0, 285.0, 142.0],
        sigmas: &[157.4072723388672, 41.14719772338867, 13.202585220336914, 5.140506744384766, 2.352529764175415, 1.149412989616394, 0.4919813573360443, 0.010001329705119133],
        sample: &[-0.4697379469871521, 0.06780323386192322, 1.0418866872787476],
        model_outputs: &[&[0.38212850689888, -0.1295010894536972, -1.5035452842712402], &[1.2432050704956055, 1.4550361633300781, 0.5910953283309937], &[1.3300291299819946, 0.14681246876716614, -0.011399073526263237], &[-0.25476282835006714, -1.2534881830215454, -0.20832014083862305], &[0.6906894445419312, 1.3424361944198608, -0.02437724359333515], &[0.7769015431404114, 0.84019935131073, 0.7722259163856506], &[0.5676693320274353, -0.18960829079151154, 0.16669176518917084]],
        prev_samples: &[&[-0.462751567363739, 0.06546071916818619, 1.0146193504333496], &[-0.3713821470737457, 0.18853701651096344, 1.1065993309020996], &[-0.21969544887542725, 0.07639553397893906, 1.0050173997879028], &[-0.48984387516975403, -0.3439255356788635, 0.893180787563324], &[0.15335164964199066, 0.874848484992981, 0.7800455093383789], &[0.45116209983825684, 0.5463718175888062, 1.1561306715011597], &[0.564665675163269, -0.1762794703245163, 0.18159674108028412]],
    },
    InlineCase {
        name: "unipc_cos_eps_pred_noise_n8",
        config: r#"{"beta_schedule": "squaredcos_cap_v2", "predict_x0": false, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 874.0, 749.0, 624.0, 500.0, 375.0, 250.0, 125.0],
        sigmas: &[20291.302734375, 5.068197250366211, 2.4354357719421387, 1.5116900205612183, 1.0155508518218994, 0.6816215515136719, 0.4268367290496826, 0.21152164041996002, 0.0],
        sample: &[-0.049143463373184204, 0.3125927448272705, -0.19674178957939148],
        model_outputs: &[&[0.09233313053846359, -1.568798542022705, 0.8712038993835449], &[0.6543456315994263, 1.0675487518310547, -0.5756388306617737], &[1.4256064891815186, -0.24014350771903992, -0.49410635232925415], &[-1.1502599716186523, 0.5035331845283508, 1.9592877626419067], &[1.2036186456680298, -0.21949508786201477, 0.15490250289440155], &[-0.47446590662002563, -0.7940875291824341, -0.2296564280986786], &[1.6601824760437012, -1.6095510721206665, -0.18814679980278015], &[-0.8211296200752258, 0.15773478150367737, 1.7448234558105469]],
        prev_samples: &[&[-555.618896484375, 7388.42626953125, -4193.95654296875], &[-3256.155029296875, 4339.2109375, -2654.421875], &[-4730.9853515625, 6304.18212890625, -3855.55078125], &[-6014.88818359375, 8016.408203125, -4904.81201171875], &[-7085.0830078125, 9441.2275390625, -5775.49658203125], &[-7885.25390625, 10508.8583984375, -6428.53271484375], &[-8389.0166015625, 11179.2607421875, -6838.36181640625], &[f64::NAN, f64::NAN, f64::NAN]],
    },
    InlineCase {
        name: "unipc_cos_v_pred_noise_o3_bh1_n8",
        config: r#"{"beta_schedule": "squaredcos_cap_v2", "predict_x0": false, "prediction_type": "v_prediction", "solver_order": 3, "solver_type": "bh1", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 874.0, 749.0, 624.0, 500.0, 375.0, 250.0, 125.0],
        sigmas: &[20291.302734375, 5.068197250366211, 2.4354357719421387, 1.5116900205612183, 1.0155508518218994, 0.6816215515136719, 0.4268367290496826, 0.21152164041996002, 0.0],
        sample: &[-1.2729337215423584, 0.5293908715248108, 2.179373264312744],
        model_outputs: &[&[-1.5500450134277344, 0.2655239701271057, -0.8311285972595215], &[0.22071537375450134, -1.926721453666687, -1.518042802810669], &[0.10678575932979584, 0.8391197919845581, 0.708676278591156], &[0.09109247475862503, 1.6756953001022339, -0.30482545495033264], &[-0.7732888460159302, -1.128610610961914, 0.24635004997253418], &[0.17674417793750763, 0.033176444470882416, -1.773363471031189], &[-0.24507667124271393, 0.14917391538619995, -1.674822449684143], &[-0.42276284098625183, -0.3940175771713257, 1.1421741247177124]],
        prev_samples: &[&[-0.947265625, 0.46728515625, 2.296875], &[-4.0686211585998535, 4.3890862464904785, 4.308468818664551], &[-1.7572524547576904, 0.736409604549408, 2.2691032886505127], &[-3.504650354385376, 2.7620015144348145, 4.022723197937012], &[-1.84256112575531, 1.983705759048462, 2.534590005874634], &[-3.2780356407165527, 2.0657835006713867, 4.506366729736328], &[-2.450742483139038, 2.066772937774658, 3.9417426586151123], &[f64::NAN, f64::NAN, f64::NAN]],
    },
    InlineCase {
        name: "unipc_zsnr_v_trailing_n6",
        config: r#"{"rescale_betas_zero_snr": true, "prediction_type": "v_prediction", "timestep_spacing": "trailing", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 832.0, 666.0, 499.0, 332.0, 166.0],
        sigmas: &[4096.0, 42.333866119384766, 10.042954444885254, 3.4861042499542236, 1.4656389951705933, 0.5859571099281311, 0.0],
        sample: &[1.7114529609680176, -2.9182560443878174, 1.3666884899139404],
        model_outputs: &[&[0.9524564146995544, 0.8612537384033203, -1.3230113983154297], &[1.2011070251464844, 1.6396353244781494, -0.713567852973938], &[0.4570092260837555, 0.2897561192512512, 1.6054484844207764], &[0.8049949407577515, -1.9462461471557617, 0.8377123475074768], &[-1.0165661573410034, -1.4148446321487427, 0.4452875256538391], &[-0.34402012825012207, 1.442716121673584, -1.18300461769104]],
        prev_samples: &[&[1.6887253522872925, -2.937587261199951, 1.3972352743148804], &[1.5882351398468018, -3.0729877948760986, 1.4335837364196777], &[1.5764514207839966, -2.9453234672546387, 0.8903489708900452], &[1.1927374601364136, -1.8868982791900635, 0.8816589117050171], &[2.2069787979125977, -1.5714409351348877, 0.8011618852615356], &[2.0780861377716064, -2.085204839706421, 1.2893147468566895]],
    },
    InlineCase {
        name: "unipc_flow_o3_disable_corrector_n10",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 3.0, "solver_order": 3, "disable_corrector": [0, 1, 4], "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 964.0, 923.0, 875.0, 818.0, 750.0, 667.0, 563.0, 429.0, 251.0],
        sigmas: &[0.9999989867210388, 0.9643239974975586, 0.9231656789779663, 0.8751562237739563, 0.8184296488761902, 0.7503747940063477, 0.6672218441963196, 0.5633196234703064, 0.4297945201396942, 0.251872181892395, 0.0],
        sample: &[-0.07496847957372665, -1.4409184455871582, 0.9905283451080322],
        model_outputs: &[&[-1.4974294900894165, 0.6488867402076721, 1.3088078498840332], &[-0.9767330288887024, -0.5548651814460754, -0.47522860765457153], &[0.27707573771476746, 0.3059857487678528, 0.47077441215515137], &[-0.6609891057014465, 0.271930068731308, -0.9233237504959106], &[1.763736605644226, -0.27787116169929504, -0.6381685137748718], &[-0.9353339672088623, -0.7127524018287659, -0.5927894711494446], &[-2.9446706771850586, 0.29430583119392395, -0.8934034705162048], &[0.8372629880905151, -0.6421818137168884, -2.1410763263702393], &[-2.242952585220337, 0.8288130164146423, 0.14071190357208252], &[0.4143930673599243, 0.4791986048221588, 0.4105339050292969]],
        prev_samples: &[&[-0.021547701209783554, -1.4640674591064453, 0.9438366293907166], &[0.017825977876782417, -1.439318299293518, 0.9662298560142517], &[-0.019488759338855743, -1.470672845840454, 0.9252631664276123], &[0.10668079555034637, -1.462087631225586, 1.0863505601882935], &[-0.25571197271347046, -1.40640127658844, 1.0361069440841675], &[0.09564462304115295, -1.3290959596633911, 1.0772114992141724], &[0.3995668888092041, -1.5365638732910156, 1.2258104085922241], &[-0.8153157234191895, -1.1276488304138184, 1.7231063842773438], &[0.1201867014169693, -1.4969735145568848, 1.3201603889465332], &[0.01581261307001114, -1.6176702976226807, 1.216758370399475]],
    },
    InlineCase {
        name: "unipc_flow_sigmamin_n6",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 7.0, "final_sigmas_type": "sigma_min", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 972.0, 933.0, 875.0, 778.0, 584.0],
        sigmas: &[0.9999989867210388, 0.9722546339035034, 0.9334266185760498, 0.8752185702323914, 0.7782955765724182, 0.5847880244255066, 0.5847880244255066],
        sample: &[1.2049514055252075, -2.782708168029785, -0.21334005892276764],
        model_outputs: &[&[-0.2787560522556305, -1.5143260955810547, -0.40046507120132446], &[-2.076153516769409, 0.02060842141509056, -0.8246689438819885], &[-1.0045866966247559, -0.8730723261833191, -0.13144546747207642], &[1.1535565853118896, -0.47795042395591736, 0.3748358190059662], &[-2.6947436332702637, -0.292208731174469, 0.7046141028404236], &[0.5166724920272827, -0.8604744076728821, 0.8324910998344421]],
        prev_samples: &[&[1.2126853466033936, -2.740694284439087, -0.20222942531108856], &[1.3196918964385986, -2.764033794403076, -0.16398002207279205], &[1.331873893737793, -2.674572706222534, -0.18559125065803528], &[1.0783448219299316, -2.668118476867676, -0.24926748871803284], &[2.2476859092712402, -2.6384503841400146, -0.42702654004096985], &[1.7198951244354248, -2.5772860050201416, -0.4030638337135315]],
    },
    InlineCase {
        name: "unipc_flow_shift_terminal_n6",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 3.0, "shift_terminal": 0.1, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 909.0, 794.0, 639.0, 423.0, 99.0],
        sigmas: &[0.9999989867210388, 0.9098987579345703, 0.7940874099731445, 0.6397301554679871, 0.42374101281166077, 0.10000000149011612, 0.0],
        sample: &[-0.08205638825893402, -0.5229699611663818, -0.7117084264755249],
        model_outputs: &[&[-0.16044124960899353, 0.6973129510879517, 1.1504268646240234], &[-0.6778059005737305, 1.0080022811889648, 0.06407470256090164], &[0.5364741683006287, -1.770677924156189, -1.1524183750152588], &[-1.1137772798538208, -2.528817892074585, 0.8021942377090454], &[0.7191814184188843, -1.2219158411026, 0.03383130952715874], &[-0.4580806493759155, -2.3324522972106934, -1.1049578189849854]],
        prev_samples: &[&[-0.06760059297084808, -0.5857980251312256, -0.8153620958328247], &[0.031915102154016495, -0.7151579260826111, -0.7786493301391602], &[-0.1814923882484436, -0.14147569239139557, -0.4671509861946106], &[0.33672863245010376, 0.5079922080039978, -0.9699220061302185], &[-0.3585782051086426, 0.4879281222820282, -0.9425122737884521], &[-0.31277012825012207, 0.7211733460426331, -0.8320164680480957]],
    },
    InlineCase {
        name: "unipc_flow_dynamic_mu_n6",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "use_dynamic_shifting": true, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: Some(0.8),
        truncate_at: None,
        timesteps: &[999.0, 917.0, 816.0, 690.0, 527.0, 309.0],
        sigmas: &[0.9999989867210388, 0.9176349639892578, 0.816774845123291, 0.6904021501541138, 0.5274352431297302, 0.30928805470466614, 0.0],
        sample: &[0.671249270439148, 0.8486530184745789, 1.84486722946167],
        model_outputs: &[&[-0.17486365139484406, -1.0228264331817627, -0.4800373911857605], &[-1.2634001970291138, 1.6833158731460571, 0.6217302680015564], &[1.2337061166763306, 0.8577463626861572, 0.5357875823974609], &[0.7767051458358765, -0.3742130696773529, 0.9246985912322998], &[-1.5732771158218384, -1.108260154724121, -0.4943477213382721], &[0.2818174958229065, -0.239389106631279, -0.9892444610595703]],
        prev_samples: &[&[0.6856517791748047, 0.9328970909118652, 1.8844050168991089], &[0.8541069626808167, 0.6611191630363464, 1.78016996383667], &[0.4731021523475647, 0.6251892447471619, 1.7193219661712646], &[0.43898025155067444, 0.8261277675628662, 1.5216376781463623], &[1.227908730506897, 1.193071961402893, 1.8820748329162598], &[1.140745997428894, 1.267112135887146, 2.1880364418029785]],
    },
    InlineCase {
        name: "unipc_flow_o2_n1",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 5.0, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0],
        sigmas: &[0.9999989867210388, 0.0],
        sample: &[-0.8734573125839233, -0.1472190022468567, 0.32381671667099],
        model_outputs: &[&[0.9465756416320801, 1.2133584022521973, 1.053560733795166]],
        prev_samples: &[&[-1.820032000541687, -1.3605761528015137, -0.7297429442405701]],
    },
    InlineCase {
        name: "euler_invert_n5",
        config: r#"{"shift": 3.0, "invert_sigmas": true, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[0.0, 99.64090728759766, 248.87889099121094, 497.01495361328125, 991.0714111328125],
        sigmas: &[0.0, 0.09964090585708618, 0.24887889623641968, 0.49701493978500366, 0.9910714030265808, 1.0],
        sample: &[-0.4317938983440399, 0.07487063854932785, -0.16673371195793152],
        model_outputs: &[&[-1.6541815996170044, 0.08375483006238937, -1.9359750747680664], &[-0.4286953806877136, -1.6115425825119019, -1.4149261713027954], &[-0.9883095026016235, -0.5963221788406372, -1.404373288154602], &[0.4940378963947296, -0.8885442018508911, 0.3515338897705078], &[-0.46850404143333435, 1.0689412355422974, 1.0589385032653809]],
        prev_samples: &[&[-0.5966180562973022, 0.08321604877710342, -0.35963600873947144], &[-0.660595715045929, -0.1572873294353485, -0.5707967281341553], &[-0.9058309197425842, -0.30525636672973633, -0.9192723631858826], &[-0.6617482900619507, -0.7442473769187927, -0.7455947399139404], &[-0.6659313440322876, -0.7347032427787781, -0.7361398935317993]],
    },
    InlineCase {
        name: "euler_shift_terminal_n6",
        config: r#"{"shift": 3.0, "shift_terminal": 0.05, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[1000.0, 926.5193481445312, 826.4274291992188, 682.0716552734375, 455.7544860839844, 50.0],
        sigmas: &[1.0, 0.9265193343162537, 0.8264274001121521, 0.6820716857910156, 0.45575448870658875, 0.05000000074505806, 0.0],
        sample: &[0.25684216618537903, -0.5332545638084412, -1.8470536470413208],
        model_outputs: &[&[1.2423161268234253, -0.0429597944021225, 0.786279022693634], &[-1.3227421045303345, 0.7028659582138062, -0.01031466480344534], &[-0.5095494985580444, -0.17424547672271729, 1.477994680404663], &[-0.22120104730129242, 1.6124258041381836, 0.23975235223770142], &[-0.5537375211715698, -0.006759257987141609, -0.7093565464019775], &[-0.37697505950927734, -0.20885233581066132, -1.8224071264266968]],
        prev_samples: &[&[0.1655559539794922, -0.5300978422164917, -1.904829978942871], &[0.29795175790786743, -0.6004490852355957, -1.9037975072860718], &[0.3715081214904785, -0.5752957463264465, -2.117154598236084], &[0.42156973481178284, -0.9402154684066772, -2.171414613723755], &[0.6462512016296387, -0.9374728798866272, -1.8835899829864502], &[0.6650999784469604, -0.9270302653312683, -1.7924696207046509]],
    },
    InlineCase {
        name: "euler_karras_n6",
        config: r#"{"shift": 3.0, "use_karras_sigmas": true, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[1000.0, 485.507568359375, 216.88619995117188, 87.23194885253906, 30.60854721069336, 8.928571701049805],
        sigmas: &[1.0, 0.4855075776576996, 0.21688620746135712, 0.08723194897174835, 0.03060854785144329, 0.008928571827709675, 0.0],
        sample: &[-2.3949899673461914, 2.0650665760040283, 1.804226040840149],
        model_outputs: &[&[-1.5494227409362793, -2.1045901775360107, -0.9101760387420654], &[-0.0580916628241539, 1.2631818056106567, -0.3456592559814453], &[-0.21151959896087646, -1.3710044622421265, 0.6302642822265625], &[1.33635413646698, 0.1870162934064865, -0.9819455146789551], &[-1.3330708742141724, -0.10959286242723465, 2.0510594844818115], &[0.30969417095184326, -1.7320886850357056, -0.3682591915130615]],
        prev_samples: &[&[-1.5978237390518188, 3.147862195968628, 2.2725048065185547], &[-1.582219123840332, 2.808544635772705, 2.365356206893921], &[-1.5547946691513062, 2.9863011837005615, 2.283639669418335], &[-1.6304636001586914, 2.9757115840911865, 2.339240789413452], &[-1.6015626192092896, 2.9780876636505127, 2.294773817062378], &[-1.6043277978897095, 2.9935526847839355, 2.2980618476867676]],
    },
    InlineCase {
        name: "euler_exponential_n6",
        config: r#"{"shift": 2.0, "use_exponential_sigmas": true, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[1000.0, 331.24688720703125, 109.72450256347656, 36.34589767456055, 12.039466857910156, 3.9880359172821045],
        sigmas: &[1.0, 0.33124688267707825, 0.1097244992852211, 0.03634589910507202, 0.012039466761052608, 0.0039880359545350075, 0.0],
        sample: &[-0.5750918388366699, 0.960738480091095, 0.029493212699890137],
        model_outputs: &[&[-1.8400065898895264, -0.9378777146339417, -2.03169322013855], &[-0.46142879128456116, 0.08101663738489151, 0.8355819582939148], &[1.735230565071106, 0.9734123349189758, 1.1407321691513062], &[1.3196731805801392, -0.495964378118515, -1.826986312866211], &[0.6003632545471191, 0.5265824794769287, 0.9067477583885193], &[0.2000541090965271, 0.3538097143173218, 0.1821843683719635]],
        prev_samples: &[&[0.6554183959960938, 1.587947130203247, 1.3881944417953491], &[0.757635235786438, 1.570000171661377, 1.2030943632125854], &[0.6303064823150635, 1.498572587966919, 1.1193890571594238], &[0.5982299447059631, 1.5106277465820312, 1.1637965440750122], &[0.5933961868286133, 1.5063879489898682, 1.1564959287643433], &[0.5925983786582947, 1.5049769878387451, 1.1557693481445312]],
    },
    InlineCase {
        name: "euler_dynamic_linear_mu_n6",
        config: r#"{"use_dynamic_shifting": true, "time_shift_type": "linear", "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: Some(1.1),
        truncate_at: None,
        timesteps: &[1000.0, 815.0034790039062, 623.0330810546875, 423.6871032714844, 216.53204345703125, 1.099890112876892],
        sigmas: &[1.0, 0.8150034546852112, 0.6230331063270569, 0.4236871004104614, 0.21653203666210175, 0.001099890097975731, 0.0],
        sample: &[0.7683172821998596, 1.4088823795318604, -1.471265196800232],
        model_outputs: &[&[-1.4679524898529053, 0.9230221509933472, 0.29830580949783325], &[0.06373383104801178, -0.04936361312866211, 0.012617506086826324], &[2.317826986312866, -0.7514694333076477, -1.7438914775848389], &[-0.8447518944740295, -0.2534371614456177, -0.5350079536437988], &[1.31182062625885, -0.3535018265247345, -1.1877036094665527], &[-1.052822232246399, -0.433723509311676, 0.23137129843235016]],
        prev_samples: &[&[1.0398833751678467, 1.238126516342163, -1.526450753211975], &[1.0276483297348022, 1.2476028203964233, -1.5288729667663574], &[0.5655987858772278, 1.3974052667617798, -1.1812351942062378], &[0.740593433380127, 1.4499061107635498, -1.0704056024551392], &[0.4579851031303406, 1.526061773300171, -0.8145360946655273], &[0.45914310216903687, 1.5265388488769531, -0.8147906064987183]],
    },
    InlineCase {
        name: "euler_shift07_n9",
        config: r#"{"shift": 0.7, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[1000.0, 830.62109375, 677.6234130859375, 538.739990234375, 412.10394287109375, 296.16363525390625, 189.618896484375, 91.37212371826172, 0.4902500510215759],
        sigmas: &[1.0, 0.8306211233139038, 0.6776233911514282, 0.5387399792671204, 0.41210395097732544, 0.2961636483669281, 0.18961890041828156, 0.09137212485074997, 0.0004902500659227371, 0.0],
        sample: &[0.527240514755249, 1.011546015739441, 0.7165107131004333],
        model_outputs: &[&[-0.6272566914558411, 2.606877088546753, 0.3787178099155426], &[0.4150110185146332, 0.13835003972053528, 1.4771738052368164], &[-0.8399994969367981, 0.938817024230957, 1.428781509399414], &[0.5339169502258301, -2.4405128955841064, -0.08257397264242172], &[0.5342525839805603, -1.4222338199615479, 0.42912423610687256], &[1.1908658742904663, -1.1539223194122314, 1.2409849166870117], &[0.09637659788131714, 0.5387356877326965, -0.9254810810089111], &[0.011889012530446053, 0.3159424364566803, 1.1789460182189941], &[0.6409487724304199, -1.5459496974945068, 0.24041436612606049]],
        prev_samples: &[&[0.6334845423698425, 0.5699961185455322, 0.6523638963699341], &[0.5699887871742249, 0.5488288998603821, 0.4263596534729004], &[0.6866507530212402, 0.4184427857398987, 0.2279255986213684], &[0.6190376281738281, 0.7274996042251587, 0.23838244378566742], &[0.5570962429046631, 0.8923938274383545, 0.1886296570301056], &[0.4302157163619995, 1.0153381824493408, 0.05640922486782074], &[0.4207470417022705, 0.9624091386795044, 0.1473347544670105], &[0.4196665585041046, 0.9336956739425659, 0.04018992930650711], &[0.41935232281684875, 0.934453547000885, 0.040072064846754074]],
    },
];
