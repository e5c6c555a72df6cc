//! Times naive vs fused CPU attention (and, when the reference python environment is present,
//! PyTorch's fused CPU attention) on a few representative shapes.
//!
//! `cargo run --release --bin bench_attention -- [--reps N] [--dtype f32|f16|bf16] [--no-naive]
//! [--no-torch] [--python PATH] [--shape B,H,Sq,Sk,D ...]`
//!
//! Every timing is the minimum over the repetitions (after one warm-up), since the machine may be
//! shared. PyTorch runs with `torch.set_num_threads(T)` where T is the size of the rayon pool.
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use physedit::models::attention::{
    naive_attention, scaled_dot_product_attention, scaled_dot_product_attention_blocks,
};

fn min_time<F: FnMut() -> Result<()>>(reps: usize, mut f: F) -> Result<f64> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t0 = Instant::now();
        f()?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn torch_times(
    python: &str,
    shapes: &[[usize; 5]],
    dtype: &str,
    reps: usize,
    threads: usize,
) -> Result<Vec<f64>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/reference/bench_attention.py");
    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .args(["--threads", &threads.to_string()])
        .args(["--dtype", dtype])
        .args(["--reps", &reps.to_string()]);
    for s in shapes {
        cmd.arg("--shape").arg(
            s.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {python} {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut times = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("parsing {line:?}"))?;
        times.push(v["min_s"].as_f64().context("min_s missing")?);
    }
    if times.len() != shapes.len() {
        bail!(
            "expected {} timings from torch, got {}",
            shapes.len(),
            times.len()
        );
    }
    Ok(times)
}

fn main() -> Result<()> {
    let mut reps = 5usize;
    let mut dtype_name = "f32".to_string();
    let mut run_naive = true;
    let mut run_torch = true;
    let mut python = "/work/venv-ref/bin/python".to_string();
    let mut shapes: Vec<[usize; 5]> = Vec::new();
    let mut tune = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => reps = args.next().context("--reps N")?.parse()?,
            "--dtype" => dtype_name = args.next().context("--dtype f32|f16|bf16")?,
            "--no-naive" => run_naive = false,
            "--no-torch" => run_torch = false,
            "--tune" => tune = true,
            "--python" => python = args.next().context("--python PATH")?,
            "--shape" => {
                let s = args.next().context("--shape B,H,Sq,Sk,D")?;
                let v: Vec<usize> = s
                    .split(',')
                    .map(|x| x.parse())
                    .collect::<std::result::Result<_, _>>()
                    .with_context(|| format!("--shape {s}"))?;
                if v.len() != 5 {
                    bail!("--shape wants B,H,Sq,Sk,D, got {s}");
                }
                shapes.push([v[0], v[1], v[2], v[3], v[4]]);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if shapes.is_empty() {
        shapes = vec![[1, 8, 1024, 1024, 64], [1, 12, 4096, 4096, 128]];
    }
    let dtype = match dtype_name.as_str() {
        "f32" => DType::F32,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        other => bail!("unknown dtype {other}"),
    };
    let threads = rayon::current_num_threads();
    if tune {
        return tune_blocks(&shapes, dtype, reps);
    }
    println!("dtype {dtype_name}, rayon threads {threads}, min over {reps} reps");

    let torch = if run_torch && Path::new(&python).exists() {
        match torch_times(&python, &shapes, &dtype_name, reps, threads) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("torch reference unavailable: {e:#}");
                None
            }
        }
    } else {
        None
    };

    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>12} {:>12} {:>10}",
        "B,H,Sq,Sk,D", "naive s", "fused s", "torch s", "naive/fused", "fused/torch", "max diff"
    );
    let dev = Device::Cpu;
    for (i, s) in shapes.iter().enumerate() {
        let [b, h, sq, sk, d] = *s;
        let q = Tensor::randn(0f32, 1.0, (b, h, sq, d), &dev)?.to_dtype(dtype)?;
        let k = Tensor::randn(0f32, 1.0, (b, h, sk, d), &dev)?.to_dtype(dtype)?;
        let v = Tensor::randn(0f32, 1.0, (b, h, sk, d), &dev)?.to_dtype(dtype)?;
        let scale = 1.0 / (d as f64).sqrt();
        let fused_t = min_time(reps, || {
            scaled_dot_product_attention(&q, &k, &v, scale)?;
            Ok(())
        })?;
        let (naive_t, diff) = if run_naive {
            let t = min_time(reps, || {
                naive_attention(&q, &k, &v, scale)?;
                Ok(())
            })?;
            let a = scaled_dot_product_attention(&q, &k, &v, scale)?.to_dtype(DType::F32)?;
            let n = naive_attention(&q, &k, &v, scale)?.to_dtype(DType::F32)?;
            let diff = (a - n)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            (Some(t), Some(diff))
        } else {
            (None, None)
        };
        let torch_t = torch.as_ref().map(|t| t[i]);
        let fmt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
        println!(
            "{:<24} {:>10} {:>10.4} {:>10} {:>12} {:>12} {:>10}",
            s.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(","),
            fmt(naive_t),
            fused_t,
            fmt(torch_t),
            naive_t.map_or("-".to_string(), |n| format!("{:.2}", n / fused_t)),
            torch_t.map_or("-".to_string(), |t| format!("{:.2}", fused_t / t)),
            diff.map_or("-".to_string(), |d| format!("{d:.2e}")),
        );
    }
    Ok(())
}

/// Times the fused kernel over a grid of block sizes, interleaving configurations in every round so
/// that load changes on a shared machine affect all of them alike; prints the minimum per config.
fn tune_blocks(shapes: &[[usize; 5]], dtype: DType, reps: usize) -> Result<()> {
    let configs: Vec<(usize, usize)> = [16, 32, 64, 128]
        .iter()
        .flat_map(|&bq| [128, 256, 512, 1024].map(|bk| (bq, bk)))
        .collect();
    for s in shapes {
        let [b, h, sq, sk, d] = *s;
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (b, h, sq, d), &dev)?.to_dtype(dtype)?;
        let k = Tensor::randn(0f32, 1.0, (b, h, sk, d), &dev)?.to_dtype(dtype)?;
        let v = Tensor::randn(0f32, 1.0, (b, h, sk, d), &dev)?.to_dtype(dtype)?;
        let scale = 1.0 / (d as f64).sqrt();
        let mut best = vec![f64::INFINITY; configs.len()];
        for _ in 0..reps {
            for (i, &(bq, bk)) in configs.iter().enumerate() {
                let t0 = Instant::now();
                scaled_dot_product_attention_blocks(&q, &k, &v, scale, bq, bk)?;
                best[i] = best[i].min(t0.elapsed().as_secs_f64());
            }
        }
        println!("shape {s:?}");
        for (&(bq, bk), t) in configs.iter().zip(&best) {
            println!("  bq {bq:>4} bk {bk:>5}: {t:.4} s");
        }
    }
    Ok(())
}
