//! Times naive, fused and query-chunked CPU attention and, when the reference python environment
//! is present, PyTorch's `scaled_dot_product_attention` on the CPU, on a few representative shapes.
//!
//! `cargo run --release --bin bench_attention -- [--reps N] [--threads T] [--dtype f32|f16|bf16]
//! [--no-naive] [--no-chunked] [--budget-mib M] [--no-torch] [--python PATH]
//! [--shape B,H,Sq,Sk,D ...] [--tune]`
//!
//! `--budget-mib` is the chunked path's score budget per block (default: the library default,
//! 1024 MiB); the chunked column also shows the planned blocks (`heads x queries`) and their count.
//!
//! The implementations are run in turn inside every repetition (torch through a long-lived
//! `tools/reference/bench_attention.py` process), so that load changes on a shared machine affect
//! them alike; each reported time is the minimum over the repetitions, after one warm-up call.
//! Wall time is the primary number; process CPU time (all threads) is printed alongside. PyTorch
//! runs with `torch.set_num_threads(T)`, T being the size of the rayon pool (`--threads`, default:
//! rayon's default).
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use physedit::models::attention::{
    chunked_attention, naive_attention, scaled_dot_product_attention,
    scaled_dot_product_attention_blocks, ChunkPlan, DEFAULT_SCORE_BUDGET_BYTES,
};

/// Process CPU time in seconds (sum over threads), from /proc; None where unavailable.
fn cpu_time() -> Option<f64> {
    let mut total_ns = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let path = entry.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total_ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total_ns as f64 * 1e-9)
}

/// Wall and CPU seconds of one call.
fn time_once<F: FnMut() -> Result<()>>(mut f: F) -> Result<(f64, f64)> {
    let c0 = cpu_time();
    let t0 = Instant::now();
    f()?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = match (c0, cpu_time()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    Ok((wall, cpu))
}

struct Torch {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Torch {
    fn start(python: &str, dtype: &str, threads: usize) -> Result<Self> {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/reference/bench_attention.py");
        let mut child = Command::new(python)
            .arg(&script)
            .args(["--threads", &threads.to_string(), "--dtype", dtype])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {python} {}", script.display()))?;
        let stdin = child.stdin.take().context("torch stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("torch stdout")?);
        let mut t = Torch {
            child,
            stdin,
            stdout,
        };
        let hello = t.read()?;
        println!(
            "torch {} with {} threads",
            hello["torch"].as_str().unwrap_or("?"),
            hello["threads"]
        );
        Ok(t)
    }

    fn read(&mut self) -> Result<serde_json::Value> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("torch reference process ended");
        }
        serde_json::from_str(&line).with_context(|| format!("parsing {line:?}"))
    }

    /// Wall and CPU seconds of one torch call on `shape`.
    fn time(&mut self, shape: &[usize; 5]) -> Result<(f64, f64)> {
        let req = shape
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",");
        writeln!(self.stdin, "{req}")?;
        self.stdin.flush()?;
        let v = self.read()?;
        Ok((
            v["wall_s"].as_f64().context("wall_s")?,
            v["cpu_s"].as_f64().context("cpu_s")?,
        ))
    }
}

impl Drop for Torch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy)]
struct Best {
    wall: f64,
    cpu: f64,
}

impl Best {
    fn new() -> Self {
        Best {
            wall: f64::INFINITY,
            cpu: f64::INFINITY,
        }
    }
    fn add(&mut self, (wall, cpu): (f64, f64)) {
        self.wall = self.wall.min(wall);
        self.cpu = self.cpu.min(cpu);
    }
}

fn main() -> Result<()> {
    let mut reps = 5usize;
    let mut threads: Option<usize> = None;
    let mut dtype_name = "f32".to_string();
    let mut run_naive = true;
    let mut run_chunked = true;
    let mut budget = DEFAULT_SCORE_BUDGET_BYTES;
    let mut run_torch = true;
    let mut tune = false;
    let mut python = "/work/venv-ref/bin/python".to_string();
    let mut shapes: Vec<[usize; 5]> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => reps = args.next().context("--reps N")?.parse()?,
            "--threads" => threads = Some(args.next().context("--threads T")?.parse()?),
            "--dtype" => dtype_name = args.next().context("--dtype f32|f16|bf16")?,
            "--no-naive" => run_naive = false,
            "--no-chunked" => run_chunked = false,
            "--budget-mib" => {
                let m: f64 = args
                    .next()
                    .context("--budget-mib M")?
                    .parse()
                    .context("--budget-mib M")?;
                if !(m > 0.0) {
                    bail!("--budget-mib must be positive, got {m}");
                }
                budget = ((m * (1u64 << 20) as f64) as usize).max(1);
            }
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
    if let Some(t) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .context("configuring the rayon pool")?;
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
    println!("dtype {dtype_name}, rayon threads {threads}, min over {reps} interleaved reps");
    if tune {
        return tune_blocks(&shapes, dtype, reps);
    }

    let mut torch = if run_torch && Path::new(&python).exists() {
        match Torch::start(&python, &dtype_name, threads) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("torch reference unavailable: {e:#}");
                None
            }
        }
    } else {
        None
    };

    let mut rows = Vec::new();
    let dev = Device::Cpu;
    for s in &shapes {
        let [b, h, sq, sk, d] = *s;
        let q = Tensor::randn(0f32, 1.0, (b, h, sq, d), &dev)?.to_dtype(dtype)?;
        let k = Tensor::randn(0f32, 1.0, (b, h, sk, d), &dev)?.to_dtype(dtype)?;
        let v = Tensor::randn(0f32, 1.0, (b, h, sk, d), &dev)?.to_dtype(dtype)?;
        let scale = 1.0 / (d as f64).sqrt();
        let fused_out = scaled_dot_product_attention(&q, &k, &v, scale)?; // warm-up
        let diff = if run_naive {
            let n = naive_attention(&q, &k, &v, scale)?.to_dtype(DType::F32)?;
            let a = fused_out.to_dtype(DType::F32)?;
            Some((a - n)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
        } else {
            None
        };
        let chunk_diff = if run_chunked {
            let c = chunked_attention(&q, &k, &v, scale, None, budget)?.to_dtype(DType::F32)?;
            let a = fused_out.to_dtype(DType::F32)?;
            Some((a - c)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
        } else {
            None
        };
        drop(fused_out);
        let plan = ChunkPlan::new(b * h, sq, sk, budget)?;
        let (mut fused, mut naive, mut tor) = (Best::new(), Best::new(), Best::new());
        let mut chunked = Best::new();
        for _ in 0..reps {
            fused.add(time_once(|| {
                scaled_dot_product_attention(&q, &k, &v, scale)?;
                Ok(())
            })?);
            if run_chunked {
                chunked.add(time_once(|| {
                    chunked_attention(&q, &k, &v, scale, None, budget)?;
                    Ok(())
                })?);
            }
            if run_naive {
                naive.add(time_once(|| {
                    naive_attention(&q, &k, &v, scale)?;
                    Ok(())
                })?);
            }
            if let Some(t) = torch.as_mut() {
                tor.add(t.time(s)?);
            }
        }
        rows.push(Row {
            shape: *s,
            naive: run_naive.then_some(naive),
            fused,
            chunked: run_chunked.then_some((chunked, plan)),
            torch: torch.is_some().then_some(tor),
            diff,
            chunk_diff,
        });
    }

    let opt = |x: Option<f64>, prec: usize| x.map_or("-".to_string(), |x| format!("{x:.prec$}"));
    println!(
        "{:<20} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>11} {:>11} {:>9} {:>9} {:>16}",
        "B,H,Sq,Sk,D",
        "naive s",
        "fused s",
        "chunked s",
        "torch s",
        "naive/fused",
        "chunk/fused",
        "fused/torch",
        "cpu f/t",
        "diff n",
        "diff c",
        "chunk blocks"
    );
    let diff_s = |d: Option<f32>| d.map_or("-".to_string(), |d| format!("{d:.2e}"));
    for r in rows {
        let chunk_blocks = r.chunked.map_or("-".to_string(), |(_, p)| {
            format!(
                "{}x{} ({})",
                p.head_group,
                p.query_chunk,
                p.blocks().count()
            )
        });
        println!(
            "{:<20} {:>9} {:>9.4} {:>9} {:>9} {:>11} {:>11} {:>11} {:>11} {:>9} {:>9} {:>16}",
            r.shape
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(","),
            opt(r.naive.map(|n| n.wall), 4),
            r.fused.wall,
            opt(r.chunked.map(|(c, _)| c.wall), 4),
            opt(r.torch.map(|t| t.wall), 4),
            opt(r.naive.map(|n| n.wall / r.fused.wall), 2),
            opt(r.chunked.map(|(c, _)| c.wall / r.fused.wall), 2),
            opt(r.torch.map(|t| r.fused.wall / t.wall), 2),
            opt(r.torch.map(|t| r.fused.cpu / t.cpu), 2),
            diff_s(r.diff),
            diff_s(r.chunk_diff),
            chunk_blocks,
        );
    }
    Ok(())
}

/// One table row: best times per implementation and max |difference| to the fused output.
struct Row {
    shape: [usize; 5],
    naive: Option<Best>,
    fused: Best,
    chunked: Option<(Best, ChunkPlan)>,
    torch: Option<Best>,
    diff: Option<f32>,
    chunk_diff: Option<f32>,
}

/// Times the fused kernel over a grid of block sizes, interleaving configurations in every round so
/// that load changes on a shared machine affect all of them alike; prints the minimum per config.
fn tune_blocks(shapes: &[[usize; 5]], dtype: DType, reps: usize) -> Result<()> {
    let configs: Vec<(usize, usize)> = [32, 64, 128, 256]
        .iter()
        .flat_map(|&bq| [256, 512, 1024, 2048].map(|bk| (bq, bk)))
        .collect();
    for s in shapes {
        let [b, h, sq, sk, d] = *s;
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1.0, (b, h, sq, d), &dev)?.to_dtype(dtype)?;
        let k = Tensor::randn(0f32, 1.0, (b, h, sk, d), &dev)?.to_dtype(dtype)?;
        let v = Tensor::randn(0f32, 1.0, (b, h, sk, d), &dev)?.to_dtype(dtype)?;
        let scale = 1.0 / (d as f64).sqrt();
        let mut best = vec![Best::new(); configs.len()];
        for _ in 0..reps {
            for (i, &(bq, bk)) in configs.iter().enumerate() {
                best[i].add(time_once(|| {
                    scaled_dot_product_attention_blocks(&q, &k, &v, scale, bq, bk)?;
                    Ok(())
                })?);
            }
        }
        println!("shape {s:?}");
        for (&(bq, bk), t) in configs.iter().zip(&best) {
            println!(
                "  bq {bq:>4} bk {bk:>5}: wall {:.4} s  cpu {:.4} s",
                t.wall, t.cpu
            );
        }
    }
    Ok(())
}
