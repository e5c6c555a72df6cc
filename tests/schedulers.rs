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
        name: "unipc_eps_linspace_o2_n10",
        config: r#"{"_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 899.0, 799.0, 699.0, 599.0, 500.0, 400.0, 300.0, 200.0, 100.0],
        sigmas: &[157.4072723388672, 60.27141571044922, 25.528484344482422, 11.939519882202148, 6.135210037231445, 3.442967414855957, 2.0410873889923096, 1.2401612997055054, 0.7235912084579468, 0.34226012229919434, 0.0],
        sample: &[-1.1720491647720337, -0.3928842544555664, 0.5264794826507568],
        model_outputs: &[&[1.1065099239349365, 0.927274763584137, -1.742060661315918], &[-0.7699140310287476, 0.7864384055137634, -1.9962517023086548], &[0.5836459398269653, 1.0392022132873535, 0.8022738099098206], &[0.5268961787223816, 0.5729644298553467, 0.13898207247257233], &[-1.1762067079544067, 0.0851723700761795, 0.15633881092071533], &[1.7895777225494385, -0.2059526890516281, -0.398753821849823], &[0.517784059047699, -0.7383248209953308, -0.39376798272132874], &[1.5146011114120483, 1.4998691082000732, 0.18175916373729706], &[0.28369706869125366, 1.2600783109664917, 1.1650848388671875], &[-0.8565834164619446, -1.5660810470581055, -0.8520025014877319]],
        prev_samples: &[&[-4.843662261962891, -2.5201797485351562, 4.182003021240234], &[-8.661152839660645, -6.886634826660156, 12.815032958984375], &[-19.80305290222168, -16.03230857849121, 24.27228546142578], &[-39.22633743286133, -31.187633514404297, 46.74290084838867], &[-66.29951477050781, -53.831363677978516, 81.46699523925781], &[-106.95294952392578, -84.69357299804688, 129.25244140625], &[-152.47604370117188, -120.33965301513672, 184.58839416503906], &[-197.57911682128906, -156.7332305908203, 237.88442993164062], &[-230.4828643798828, -183.62173461914062, 276.9923095703125], &[-243.31553649902344, -193.54286193847656, 293.0584716796875]],
    },
    InlineCase {
        name: "unipc_eps_o3_n8_truncate",
        config: r#"{"solver_order": 3, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: Some(3),
        timesteps: &[999.0, 874.0, 749.0, 624.0, 500.0, 375.0, 250.0, 125.0],
        sigmas: &[157.4072723388672, 48.166839599609375, 17.24698257446289, 7.1861395835876465, 3.442967414855957, 1.8012357950210571, 0.9580338597297668, 0.429942786693573, 0.0],
        sample: &[1.0075974464416504, 1.6677818298339844, -1.5393465757369995],
        model_outputs: &[&[-0.303809255361557, -1.3198387622833252, 2.1827759742736816], &[-0.6406170725822449, -0.18715843558311462, -1.7284419536590576], &[0.07860927283763885, 0.5742570757865906, 0.454834908246994], &[0.38130974769592285, -1.9170676469802856], &[-1.7950172424316406, 0.7022008299827576], &[0.6613343954086304, -1.4117109775543213], &[0.8912580013275146, -1.0363366603851318], &[0.4853845238685608, -0.8157814741134644]],
        prev_samples: &[&[3.981022834777832, 8.441874504089355, -9.978920936584473], &[12.626465797424316, 22.605222702026367, -20.344036102294922], &[28.81235694885254, 52.093162536621094, -53.077003479003906], &[57.24514389038086, -106.77629089355469], &[103.84481048583984, -186.60777282714844], &[152.77093505859375, -272.42584228515625], &[193.23570251464844, -345.2513122558594], &[210.1300506591797, -375.4582824707031]],
    },
    InlineCase {
        name: "unipc_v_scaled_leading_n9",
        config: r#"{"prediction_type": "v_prediction", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "timestep_spacing": "leading", "steps_offset": 1, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[901.0, 801.0, 701.0, 601.0, 501.0, 401.0, 301.0, 201.0, 101.0],
        sigmas: &[8.390686988830566, 5.134433269500732, 3.3477649688720703, 2.2928547859191895, 1.6236929893493652, 1.1682164669036865, 0.8356532454490662, 0.574050784111023, 0.3461872935295105, 0.0],
        sample: &[0.5369338393211365, 0.9485034346580505, -0.20258915424346924],
        model_outputs: &[&[0.9552587270736694, 1.8441747426986694, -0.9636752605438232], &[-1.2653160095214844, -1.0969123840332031, 0.8455538153648376], &[2.0515260696411133, -1.0435495376586914, -0.6435226202011108], &[0.6393762826919556, 0.08907591551542282, -0.07860806584358215], &[-0.2097017765045166, 0.17827315628528595, -0.6292888522148132], &[0.847091555595398, -0.5282801389694214, -1.895693063735962], &[0.2850683927536011, -0.7730435729026794, -0.2946082353591919], &[-1.9561281204223633, 1.0600248575210571, 0.4124639332294464], &[1.0935566425323486, 0.8822389245033264, -0.8929086327552795]],
        prev_samples: &[&[0.4651024639606476, 0.8100687265396118, -0.13104629516601562], &[0.7628943920135498, 1.1482006311416626, -0.35534942150115967], &[0.12602588534355164, 1.1719437837600708, -0.0762186273932457], &[0.31841912865638733, 1.0279604196548462, -0.18243277072906494], &[0.4144192337989807, 1.037172555923462, 0.0014521032571792603], &[0.08448170870542526, 1.2342594861984253, 0.47150978446006775], &[0.14347553253173828, 1.3840245008468628, 0.24121533334255219], &[0.8885727524757385, 0.8759998679161072, 0.05192278325557709], &[0.48193538188934326, 0.5391845703125, 0.34117087721824646]],
    },
    InlineCase {
        name: "unipc_sample_trailing_sigmamin_n7",
        config: r#"{"prediction_type": "sample", "timestep_spacing": "trailing", "final_sigmas_type": "sigma_min", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 856.0, 713.0, 570.0, 428.0, 285.0, 142.0],
        sigmas: &[157.4072723388672, 41.14719772338867, 13.202585220336914, 5.140506744384766, 2.352529764175415, 1.149412989616394, 0.4919813573360443, 0.010001329705119133],
        sample: &[-0.6141311526298523, 1.6634441614151, -0.170411616563797],
        model_outputs: &[&[-0.05507370084524155, 1.9227538108825684, -1.1345160007476807], &[0.4872840642929077, 1.3934184312820435, -0.04361932724714279], &[1.1235164403915405, 0.4786891043186188, 0.34609559178352356], &[-0.2486644834280014, 0.24374869465827942, -0.809031069278717], &[-0.018292782828211784, 1.1576621532440186, 1.0735180377960205], &[0.5066749453544617, -0.3288724720478058, -0.14931070804595947], &[0.5649061799049377, 1.593506932258606, -0.7930374145507812]],
        prev_samples: &[&[-0.6149505376815796, 1.6974899768829346, -0.19072335958480835], &[-0.5717422962188721, 1.7483747005462646, -0.15900516510009766], &[-0.3942684531211853, 1.7183895111083984, -0.10696634650230408], &[-0.6430486440658569, 1.6645432710647583, -0.45204585790634155], &[-0.3941412568092346, 1.985937476158142, 0.5104453563690186], &[0.22106845676898956, 0.3318767249584198, -0.40767645835876465], &[0.5557584762573242, 1.5877044200897217, -0.7827919721603394]],
    },
    InlineCase {
        name: "unipc_cos_eps_pred_noise_n8",
        config: r#"{"beta_schedule": "squaredcos_cap_v2", "predict_x0": false, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 874.0, 749.0, 624.0, 500.0, 375.0, 250.0, 125.0],
        sigmas: &[20291.302734375, 5.068197250366211, 2.4354357719421387, 1.5116900205612183, 1.0155508518218994, 0.6816215515136719, 0.4268367290496826, 0.21152164041996002, 0.0],
        sample: &[0.06718476861715317, -0.4626752734184265, 0.43935853242874146],
        model_outputs: &[&[-0.7687769532203674, 1.086761713027954, -1.534632682800293], &[-0.45252373814582825, 0.3689378499984741, -0.9079264402389526], &[-0.25781846046447754, -0.3581010401248932, 0.40719369053840637], &[-0.27216464281082153, 1.336605429649353, 1.9049187898635864], &[0.3085087537765503, -0.6660284996032715, -0.21420502662658691], &[-0.7259513139724731, -1.5690133571624756, -0.7151692509651184], &[-0.059852179139852524, 1.2376550436019897, -0.5517398118972778], &[0.9085071682929993, -0.5655497312545776, 0.36685553193092346]],
        prev_samples: &[&[3282.84130859375, -6085.0068359375, 7752.18505859375], &[5223.529296875, -9174.6484375, 12797.5361328125], &[7587.37255859375, -13325.81640625, 18587.705078125], &[9649.109375, -16947.9140625, 23637.234375], &[11363.3994140625, -19958.359375, 27838.244140625], &[12648.611328125, -22214.435546875, 30985.556640625], &[13454.66796875, -23631.65625, 32960.8671875], &[f64::NAN, f64::NAN, f64::NAN]],
    },
    InlineCase {
        name: "unipc_cos_v_pred_noise_o3_bh1_n8",
        config: r#"{"beta_schedule": "squaredcos_cap_v2", "predict_x0": false, "prediction_type": "v_prediction", "solver_order": 3, "solver_type": "bh1", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 874.0, 749.0, 624.0, 500.0, 375.0, 250.0, 125.0],
        sigmas: &[20291.302734375, 5.068197250366211, 2.4354357719421387, 1.5116900205612183, 1.0155508518218994, 0.6816215515136719, 0.4268367290496826, 0.21152164041996002, 0.0],
        sample: &[0.042454689741134644, 0.020354703068733215, -1.0308324098587036],
        model_outputs: &[&[-0.27293720841407776, -1.3813748359680176, -0.617290198802948], &[0.22752191126346588, 1.5009562969207764, 0.1766926348209381], &[0.43591949343681335, -0.7405992150306702, 1.1760021448135376], &[-0.5040876865386963, 0.2783935070037842, -0.062420375645160675], &[-1.0882270336151123, 0.14708684384822845, 1.1345819234848022], &[0.39829176664352417, -1.1846671104431152, -2.1434459686279297], &[-0.9804176688194275, -1.3433113098144531, -0.00819982960820198], &[0.3692399859428406, -0.992680549621582, -0.1457487791776657]],
        prev_samples: &[&[0.09442138671875, 0.28728485107421875, -0.890869140625], &[-0.7066342234611511, -4.433405876159668, -2.4392998218536377], &[-0.2805483341217041, -0.27230989933013916, -1.8470983505249023], &[-0.3168746531009674, -3.5297627449035645, -2.1433558464050293], &[0.10709910094738007, -1.0705208778381348, -2.512542247772217], &[-0.5945545434951782, -2.1895360946655273, -0.9588635563850403], &[0.22286593914031982, -1.37960684299469, -2.052431583404541], &[f64::NAN, f64::NAN, f64::NAN]],
    },
    InlineCase {
        name: "unipc_zsnr_v_trailing_n6",
        config: r#"{"rescale_betas_zero_snr": true, "prediction_type": "v_prediction", "timestep_spacing": "trailing", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 832.0, 666.0, 499.0, 332.0, 166.0],
        sigmas: &[4096.0, 42.333866119384766, 10.042954444885254, 3.4861042499542236, 1.4656389951705933, 0.5859571099281311, 0.0],
        sample: &[1.4150919914245605, -0.7227213978767395, 0.30617961287498474],
        model_outputs: &[&[-0.1962386965751648, 0.5389779210090637, -0.17109636962413788], &[0.5366030931472778, -0.5546324253082275, 1.4431999921798706], &[-1.5417449474334717, -0.8116731643676758, -0.4612784683704376], &[1.065662145614624, -1.3536428213119507, 0.7531002163887024], &[-1.400549292564392, -1.2114951610565186, -0.2264053225517273], &[0.5557698011398315, -0.5331416130065918, -0.3511338531970978]],
        prev_samples: &[&[1.4192917346954346, -0.735120415687561, 0.3100946545600891], &[1.3582372665405273, -0.6657974123954773, 0.16237463057041168], &[1.8551604747772217, -0.49887001514434814, 0.4664177894592285], &[0.8539769649505615, 0.03155524283647537, -0.1160660982131958], &[2.3262317180633545, 0.4631759524345398, 0.33423465490341187], &[1.7260795831680298, 0.6691590547561646, 0.46589386463165283]],
    },
    InlineCase {
        name: "unipc_flow_o3_disable_corrector_n10",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 3.0, "solver_order": 3, "disable_corrector": [0, 1, 4], "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 964.0, 923.0, 875.0, 818.0, 750.0, 667.0, 563.0, 429.0, 251.0],
        sigmas: &[0.9999989867210388, 0.9643239974975586, 0.9231656789779663, 0.8751562237739563, 0.8184296488761902, 0.7503747940063477, 0.6672218441963196, 0.5633196234703064, 0.4297945201396942, 0.251872181892395, 0.0],
        sample: &[0.631402313709259, -1.439353108406067, -1.4928282499313354],
        model_outputs: &[&[-0.10345286130905151, 1.7515588998794556, 0.515552282333374], &[-0.2647823393344879, -0.7174034118652344, 0.16000722348690033], &[-1.114367127418518, -0.9798763394355774, -1.1705785989761353], &[0.6636546850204468, -1.6254323720932007, -1.3521757125854492], &[0.7828195691108704, -0.6942789554595947, -1.0873395204544067], &[-0.43172475695610046, 1.9154170751571655, -0.8949897885322571], &[-0.47762739658355713, 0.1050056666135788, 2.286510705947876], &[-0.39357084035873413, 2.106985330581665, -0.9683498740196228], &[1.229024052619934, 1.4617289304733276, -1.2273154258728027], &[0.7695232629776001, 1.2842220067977905, 0.25365597009658813]],
        prev_samples: &[&[0.6350929737091064, -1.5018398761749268, -1.5112204551696777], &[0.6462472081184387, -1.4683914184570312, -1.5172414779663086], &[0.7160400748252869, -1.4165897369384766, -1.435537338256836], &[0.5490022301673889, -1.2916886806488037, -1.3815577030181885], &[0.5752267837524414, -1.3466542959213257, -1.3293591737747192], &[0.7269530296325684, -1.6941614151000977, -1.2622010707855225], &[0.64634108543396, -1.1978375911712646, -1.9273722171783447], &[0.6499528288841248, -2.0913891792297363, -0.7252129912376404], &[0.19647854566574097, -2.2942121028900146, -0.4649146795272827], &[0.0026570409536361694, -2.6176719665527344, -0.5288035869598389]],
    },
    InlineCase {
        name: "unipc_flow_sigmamin_n6",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 7.0, "final_sigmas_type": "sigma_min", "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 972.0, 933.0, 875.0, 778.0, 584.0],
        sigmas: &[0.9999989867210388, 0.9722546339035034, 0.9334266185760498, 0.8752185702323914, 0.7782955765724182, 0.5847880244255066, 0.5847880244255066],
        sample: &[-0.4697379469871521, 0.06780323386192322, 1.0418866872787476],
        model_outputs: &[&[0.38212850689888, -0.1295010894536972, -1.5035452842712402], &[1.2432050704956055, 1.4550361633300781, 0.5910953283309937], &[1.3300291299819946, 0.14681246876716614, -0.011399073526263237], &[-0.25476282835006714, -1.2534881830215454, -0.20832014083862305], &[0.6906894445419312, 1.3424361944198608, -0.02437724359333515], &[0.7769015431404114, 0.84019935131073, 0.7722259163856506]],
        prev_samples: &[&[-0.4803398549556732, 0.07139615714550018, 1.0836015939712524], &[-0.5412553548812866, -0.008367872796952724, 1.0298922061920166], &[-0.6214900612831116, 0.03903718665242195, 1.0575906038284302], &[-0.4812120795249939, 0.24444043636322021, 1.084628939628601], &[-0.7891382575035095, -0.45392417907714844, 1.0546836853027344], &[-0.7333259582519531, -0.21303293108940125, 1.0129371881484985]],
    },
    InlineCase {
        name: "unipc_flow_shift_terminal_n6",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 3.0, "shift_terminal": 0.1, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0, 909.0, 794.0, 639.0, 423.0, 99.0],
        sigmas: &[0.9999989867210388, 0.9098987579345703, 0.7940874099731445, 0.6397301554679871, 0.42374101281166077, 0.10000000149011612, 0.0],
        sample: &[-0.049143463373184204, 0.3125927448272705, -0.19674178957939148],
        model_outputs: &[&[0.09233313053846359, -1.568798542022705, 0.8712038993835449], &[0.6543456315994263, 1.0675487518310547, -0.5756388306617737], &[1.4256064891815186, -0.24014350771903992, -0.49410635232925415], &[-1.1502599716186523, 0.5035331845283508, 1.9592877626419067], &[1.2036186456680298, -0.21949508786201477, 0.15490250289440155], &[-0.47446590662002563, -0.7940875291824341, -0.2296564280986786]],
        prev_samples: &[&[-0.057462699711322784, 0.45394182205200195, -0.27523744106292725], &[-0.15607525408267975, 0.22320525348186493, -0.14979355037212372], &[-0.4606204628944397, 0.3973199427127838, -0.07984957098960876], &[0.21463966369628906, 0.16098949313163757, -0.9046703577041626], &[-0.7227182388305664, 0.3980228900909424, -0.5847210884094238], &[-0.6752716302871704, 0.47743165493011475, -0.5617554187774658]],
    },
    InlineCase {
        name: "unipc_flow_dynamic_mu_n6",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "use_dynamic_shifting": true, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: Some(0.8),
        truncate_at: None,
        timesteps: &[999.0, 917.0, 816.0, 690.0, 527.0, 309.0],
        sigmas: &[0.9999989867210388, 0.9176349639892578, 0.816774845123291, 0.6904021501541138, 0.5274352431297302, 0.30928805470466614, 0.0],
        sample: &[-1.2729337215423584, 0.5293908715248108, 2.179373264312744],
        model_outputs: &[&[-1.5500450134277344, 0.2655239701271057, -0.8311285972595215], &[0.22071537375450134, -1.926721453666687, -1.518042802810669], &[0.10678575932979584, 0.8391197919845581, 0.708676278591156], &[0.09109247475862503, 1.6756953001022339, -0.30482545495033264], &[-0.7732888460159302, -1.128610610961914, 0.24635004997253418], &[0.17674417793750763, 0.033176444470882416, -1.773363471031189]],
        prev_samples: &[&[-1.145265817642212, 0.5075212717056274, 2.247828245162964], &[-1.2342697381973267, 0.7844796180725098, 2.4268290996551514], &[-1.238927960395813, 0.4299366772174835, 2.1363112926483154], &[-1.251331090927124, 0.09538240730762482, 2.342179298400879], &[-0.928595244884491, 0.8692300319671631, 2.2141032218933105], &[-0.9832600951194763, 0.85896897315979, 2.7625832557678223]],
    },
    InlineCase {
        name: "unipc_flow_o2_n1",
        config: r#"{"prediction_type": "flow_prediction", "use_flow_sigmas": true, "flow_shift": 5.0, "_class_name": "UniPCMultistepScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[999.0],
        sigmas: &[0.9999989867210388, 0.0],
        sample: &[1.7114529609680176, -2.9182560443878174, 1.3666884899139404],
        model_outputs: &[&[0.9524564146995544, 0.8612537384033203, -1.3230113983154297]],
        prev_samples: &[&[0.7589974999427795, -3.7795088291168213, 2.6896986961364746]],
    },
    InlineCase {
        name: "euler_invert_n5",
        config: r#"{"shift": 3.0, "invert_sigmas": true, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[0.0, 99.64090728759766, 248.87889099121094, 497.01495361328125, 991.0714111328125],
        sigmas: &[0.0, 0.09964090585708618, 0.24887889623641968, 0.49701493978500366, 0.9910714030265808, 1.0],
        sample: &[-0.07496847957372665, -1.4409184455871582, 0.9905283451080322],
        model_outputs: &[&[-1.4974294900894165, 0.6488867402076721, 1.3088078498840332], &[-0.9767330288887024, -0.5548651814460754, -0.47522860765457153], &[0.27707573771476746, 0.3059857487678528, 0.47077441215515137], &[-0.6609891057014465, 0.271930068731308, -0.9233237504959106], &[1.763736605644226, -0.27787116169929504, -0.6381685137748718]],
        prev_samples: &[&[-0.22417372465133667, -1.3762627840042114, 1.1209391355514526], &[-0.369939386844635, -1.4590697288513184, 1.05001699924469], &[-0.3011869192123413, -1.383143663406372, 1.1668331623077393], &[-0.6277529001235962, -1.2487947940826416, 0.7106590867042542], &[-0.6120052337646484, -1.2512757778167725, 0.7049611210823059]],
    },
    InlineCase {
        name: "euler_shift_terminal_n6",
        config: r#"{"shift": 3.0, "shift_terminal": 0.05, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[1000.0, 926.5193481445312, 826.4274291992188, 682.0716552734375, 455.7544860839844, 50.0],
        sigmas: &[1.0, 0.9265193343162537, 0.8264274001121521, 0.6820716857910156, 0.45575448870658875, 0.05000000074505806, 0.0],
        sample: &[1.2049514055252075, -2.782708168029785, -0.21334005892276764],
        model_outputs: &[&[-0.2787560522556305, -1.5143260955810547, -0.40046507120132446], &[-2.076153516769409, 0.02060842141509056, -0.8246689438819885], &[-1.0045866966247559, -0.8730723261833191, -0.13144546747207642], &[1.1535565853118896, -0.47795042395591736, 0.3748358190059662], &[-2.6947436332702637, -0.292208731174469, 0.7046141028404236], &[0.5166724920272827, -0.8604744076728821, 0.8324910998344421]],
        prev_samples: &[&[1.2254345417022705, -2.6714344024658203, -0.18391361832618713], &[1.4332407712936401, -2.673497200012207, -0.1013709083199501], &[1.5782586336135864, -2.54746413230896, -0.082396000623703], &[1.3171889781951904, -2.439295768737793, -0.16722778975963593], &[2.410593271255493, -2.320730686187744, -0.4531280994415283], &[2.3847596645355225, -2.2777068614959717, -0.4947526454925537]],
    },
    InlineCase {
        name: "euler_karras_n6",
        config: r#"{"shift": 3.0, "use_karras_sigmas": true, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[1000.0, 485.507568359375, 216.88619995117188, 87.23194885253906, 30.60854721069336, 8.928571701049805],
        sigmas: &[1.0, 0.4855075776576996, 0.21688620746135712, 0.08723194897174835, 0.03060854785144329, 0.008928571827709675, 0.0],
        sample: &[-0.08205638825893402, -0.5229699611663818, -0.7117084264755249],
        model_outputs: &[&[-0.16044124960899353, 0.6973129510879517, 1.1504268646240234], &[-0.6778059005737305, 1.0080022811889648, 0.06407470256090164], &[0.5364741683006287, -1.770677924156189, -1.1524183750152588], &[-1.1137772798538208, -2.528817892074585, 0.8021942377090454], &[0.7191814184188843, -1.2219158411026, 0.03383130952715874], &[-0.4580806493759155, -2.3324522972106934, -1.1049578189849854]],
        prev_samples: &[&[0.0004894137382507324, -0.881732165813446, -1.3035943508148193], &[0.18256257474422455, -1.1525031328201294, -1.3208061456680298], &[0.11300641298294067, -0.92292720079422, -1.171390175819397], &[0.17607226967811584, -0.7797369360923767, -1.216813087463379], &[0.16048043966293335, -0.7532458305358887, -1.2175465822219849], &[0.16457045078277588, -0.7324203848838806, -1.2076809406280518]],
    },
    InlineCase {
        name: "euler_exponential_n6",
        config: r#"{"shift": 2.0, "use_exponential_sigmas": true, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[1000.0, 331.24688720703125, 109.72450256347656, 36.34589767456055, 12.039466857910156, 3.9880359172821045],
        sigmas: &[1.0, 0.33124688267707825, 0.1097244992852211, 0.03634589910507202, 0.012039466761052608, 0.0039880359545350075, 0.0],
        sample: &[0.671249270439148, 0.8486530184745789, 1.84486722946167],
        model_outputs: &[&[-0.17486365139484406, -1.0228264331817627, -0.4800373911857605], &[-1.2634001970291138, 1.6833158731460571, 0.6217302680015564], &[1.2337061166763306, 0.8577463626861572, 0.5357875823974609], &[0.7767051458358765, -0.3742130696773529, 0.9246985912322998], &[-1.5732771158218384, -1.108260154724121, -0.4943477213382721], &[0.2818174958229065, -0.239389106631279, -0.9892444610595703]],
        prev_samples: &[&[0.7881898880004883, 1.5326714515686035, 2.165893793106079], &[1.068061351776123, 1.1597793102264404, 2.0281665325164795], &[0.9775336980819702, 1.0968390703201294, 1.9888511896133423], &[0.9586547613143921, 1.1059348583221436, 1.9663751125335693], &[0.9713218808174133, 1.1148579120635986, 1.9703552722930908], &[0.9701979756355286, 1.1158126592636108, 1.9743003845214844]],
    },
    InlineCase {
        name: "euler_dynamic_linear_mu_n6",
        config: r#"{"use_dynamic_shifting": true, "time_shift_type": "linear", "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: Some(1.1),
        truncate_at: None,
        timesteps: &[1000.0, 815.0034790039062, 623.0330810546875, 423.6871032714844, 216.53204345703125, 1.099890112876892],
        sigmas: &[1.0, 0.8150034546852112, 0.6230331063270569, 0.4236871004104614, 0.21653203666210175, 0.001099890097975731, 0.0],
        sample: &[-0.8734573125839233, -0.1472190022468567, 0.32381671667099],
        model_outputs: &[&[0.9465756416320801, 1.2133584022521973, 1.053560733795166], &[-1.0505027770996094, -1.4649354219436646, 0.06530348211526871], &[0.8344953656196594, 0.9796871542930603, 1.442513108253479], &[-1.1061725616455078, -0.42001405358314514, 2.2169344425201416], &[-1.315201759338379, -0.23683792352676392, 0.11901983618736267], &[0.6603183150291443, -0.46632277965545654, 0.07343264669179916]],
        prev_samples: &[&[-1.0485705137252808, -0.37168610095977783, 0.12891161441802979], &[-0.8469051122665405, -0.09046193957328796, 0.11637528240680695], &[-1.013258457183838, -0.2857586741447449, -0.17118395864963531], &[-0.7841092348098755, -0.19875064492225647, -0.6304331421852112], &[-0.5007724761962891, -0.14772814512252808, -0.6560738682746887], &[-0.5014987587928772, -0.14721524715423584, -0.6561546325683594]],
    },
    InlineCase {
        name: "euler_shift07_n9",
        config: r#"{"shift": 0.7, "_class_name": "FlowMatchEulerDiscreteScheduler"}"#,
        mu: None,
        truncate_at: None,
        timesteps: &[1000.0, 830.62109375, 677.6234130859375, 538.739990234375, 412.10394287109375, 296.16363525390625, 189.618896484375, 91.37212371826172, 0.4902500510215759],
        sigmas: &[1.0, 0.8306211233139038, 0.6776233911514282, 0.5387399792671204, 0.41210395097732544, 0.2961636483669281, 0.18961890041828156, 0.09137212485074997, 0.0004902500659227371, 0.0],
        sample: &[-0.4317938983440399, 0.07487063854932785, -0.16673371195793152],
        model_outputs: &[&[-1.6541815996170044, 0.08375483006238937, -1.9359750747680664], &[-0.4286953806877136, -1.6115425825119019, -1.4149261713027954], &[-0.9883095026016235, -0.5963221788406372, -1.404373288154602], &[0.4940378963947296, -0.8885442018508911, 0.3515338897705078], &[-0.46850404143333435, 1.0689412355422974, 1.0589385032653809], &[-0.3499523103237152, -0.3939637541770935, -1.0653572082519531], &[-0.754954993724823, -0.4157962501049042, -0.07244247198104858], &[0.37864595651626587, 0.4087507426738739, -0.6095070242881775], &[0.1413387656211853, -0.6639479994773865, -1.921312928199768]],
        prev_samples: &[&[-0.15161046385765076, 0.060684338212013245, 0.1611795723438263], &[-0.0860210433602333, 0.30724668502807617, 0.3776600658893585], &[0.05123875290155411, 0.3900659382343292, 0.5727041959762573], &[-0.011324241757392883, 0.5025876760482788, 0.5281873345375061], &[0.04299425706267357, 0.3786543011665344, 0.4054136872291565], &[0.08027984201908112, 0.42062908411026, 0.5189219117164612], &[0.15445172786712646, 0.46147972345352173, 0.5260391235351562], &[0.1200396716594696, 0.4243316948413849, 0.5814322829246521], &[0.11997038125991821, 0.4246571958065033, 0.5823742151260376]],
    },
];
