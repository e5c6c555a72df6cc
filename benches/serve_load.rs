//! Load benchmark of `physedit serve` on loopback, bounded in clients, time and jobs:
//!
//! ```text
//! cargo bench --locked --bench serve_load -- [--clients 4] [--seconds 20] [--steps N] [--edits 10] \
//!     [--baseline-bin PATH]
//! ```
//!
//! The service runs as deployed by default: with an API key (every request sends it) and the access
//! log on (`RUST_LOG=info`, one line a request). `--baseline-bin` names another `physedit` binary
//! (such as one built from an earlier commit) run without keys, without `--state` and with the log at `warn`: the
//! embedded scenario and the overhead are then measured for it and for this build in turn
//! (baseline, this, baseline, this), side by side in one run.
//!
//! Scenarios: the embedded queue (one worker in the `serve` process), and Redis with 1 and 2
//! `physedit worker` processes (`redis-server` on the PATH). Each runs `--clients` clients that send
//! `POST /v1/images/edits` back to back (the bundled model, the test picture, a new seed each) for
//! `--seconds`, then waits for the answers in flight; it prints throughput, p50/p95 latency, 429s,
//! lost jobs (accepted, never answered with a picture) and duplicated answers (stored results over
//! accepted jobs, from `/metrics`). Then the overhead: `--edits` sequential edits through the
//! service against the same edits' in-process time (the worker's report) and `physedit edit`'s.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_physedit");
const PROMPT: &str = "Swap the scenery behind the objects for plain peach.";
const KEY: &str = "sk-bench-0123456789";

/// How a server is started and called.
#[derive(Clone, Copy)]
struct Mode {
    bin: &'static str,
    /// Keys and the access log on.
    deployed: bool,
}

const DEPLOYED: Mode = Mode {
    bin: BIN,
    deployed: true,
};

struct Proc {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let log = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        Proc { child, log }
    }
    fn wait_line(&self, needle: &str) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "no {needle:?}: {:?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn image_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/world/test/images/test_000023.png")
}

fn form(seed: u64, steps: Option<u64>) -> reqwest::multipart::Form {
    let png = std::fs::read(image_path()).unwrap();
    let mut f = reqwest::multipart::Form::new()
        .part(
            "image",
            reqwest::multipart::Part::bytes(png)
                .file_name("in.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .text("prompt", PROMPT)
        .text("seed", seed.to_string());
    if let Some(s) = steps {
        f = f.text("steps", s.to_string());
    }
    f
}

fn start_server(mode: Mode, extra: &[String]) -> (Proc, String) {
    // The embedded queue's state file in a fresh directory (removed by the next run's start).
    let state = std::env::temp_dir().join(format!("serve_load_state_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    // A baseline binary may predate `--state` (the embedded queue was in memory then).
    let state_args: Vec<String> = if extra.iter().any(|a| a == "--queue") || !mode.deployed {
        vec![]
    } else {
        vec!["--state".into(), state.display().to_string()]
    };
    let p = Proc::spawn(
        Command::new(mode.bin)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&state_args)
            .args(if extra.iter().any(|a| a == "--queue-capacity") {
                vec![]
            } else {
                vec!["--queue-capacity", "16"]
            })
            .args(if mode.deployed {
                vec!["--api-key", KEY]
            } else {
                vec![]
            })
            .args(extra)
            .env("RUST_LOG", if mode.deployed { "info" } else { "warn" }),
    );
    let line = p.wait_line("listening on ");
    let base = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let t0 = Instant::now();
    loop {
        let ok = reqwest::blocking_ready(&format!("{base}/readyz"));
        if ok {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    (p, base)
}

mod reqwest {
    pub use ::reqwest::*;
    pub fn blocking_ready(url: &str) -> bool {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let Ok(mut s) = std::net::TcpStream::connect(host) else {
            return false;
        };
        let _ = write!(
            s,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf.starts_with("HTTP/1.1 200")
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i]
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// A request with the key when the server has keys.
fn authed(rb: reqwest::RequestBuilder, mode: Mode) -> reqwest::RequestBuilder {
    if mode.deployed {
        rb.bearer_auth(KEY)
    } else {
        rb
    }
}

async fn load(mode: Mode, base: &str, clients: u64, seconds: u64, steps: Option<u64>) -> String {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let before = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let seed = Arc::new(AtomicU64::new(1000));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (c, base, seed) = (c.clone(), base.to_string(), seed.clone());
        handles.push(tokio::spawn(async move {
            let (mut lat, mut r429, mut other, mut accepted_failed) =
                (Vec::new(), 0u64, 0u64, 0u64);
            while Instant::now() < stop {
                let s = seed.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let r = authed(c.post(format!("{base}/v1/images/edits")), mode)
                    .multipart(form(s, steps))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        let v: Value = r.json().await.unwrap();
                        assert!(v["data"][0]["b64_json"].is_string());
                        lat.push(t.elapsed().as_secs_f64());
                    }
                    Ok(r) if r.status() == 429 => {
                        r429 += 1;
                        let wait: u64 = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(1);
                        tokio::time::sleep(Duration::from_millis(100 * wait.min(10))).await;
                    }
                    Ok(_) => accepted_failed += 1,
                    Err(_) => other += 1,
                }
            }
            (lat, r429, other, accepted_failed)
        }));
    }
    let (mut lat, mut r429, mut errs, mut failed) = (Vec::new(), 0, 0, 0);
    for h in handles {
        let (l, a, b, f) = h.await.unwrap();
        lat.extend(l);
        r429 += a;
        errs += b;
        failed += f;
    }
    let wall = t0.elapsed().as_secs_f64();
    let m = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |t: &str, s: &str| metric(t, &format!("physedit_jobs_total{{state=\"{s}\"}}"));
    let submitted = count(&m, "submitted") - count(&before, "submitted");
    let succeeded = count(&m, "succeeded") - count(&before, "succeeded");
    let ok = lat.len() as f64;
    format!(
        "{} ok in {:.1} s = {:.2} edits/s, p50 {:.3} s, p95 {:.3} s, 429s {}, failed {}, transport errors {}, lost {} (accepted {} - answered {}), duplicated {} (stored {} - accepted {})",
        lat.len(),
        wall,
        ok / wall,
        pct(&mut lat.clone(), 50.0),
        pct(&mut lat, 95.0),
        r429,
        failed,
        errs,
        submitted - ok,
        submitted,
        ok,
        succeeded - submitted,
        succeeded,
        submitted
    )
}

async fn overhead(mode: Mode, base: &str, edits: u64, steps: Option<u64>) -> (f64, f64) {
    let c = reqwest::Client::new();
    let (mut service, mut inproc) = (Vec::new(), Vec::new());
    for i in 0..edits + 1 {
        let t = Instant::now();
        let v: Value = authed(c.post(format!("{base}/v1/images/edits")), mode)
            .multipart(form(i, steps))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let dt = t.elapsed().as_secs_f64();
        if i == 0 {
            continue; // warm-up
        }
        service.push(dt);
        inproc.push(v["physedit"]["report"]["seconds"].as_f64().unwrap());
    }
    (pct(&mut service, 50.0), pct(&mut inproc, 50.0))
}

fn cli_edit_seconds(edits: u64, steps: Option<u64>) -> (f64, f64) {
    let dir = std::env::temp_dir().join(format!("serve_load_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut wall, mut edit) = (Vec::new(), Vec::new());
    for i in 0..edits {
        let report = dir.join("r.json");
        let t = Instant::now();
        let mut cmd = Command::new(BIN);
        cmd.args(["edit", "--image"])
            .arg(image_path())
            .args(["--prompt", PROMPT, "--seed", &i.to_string(), "-o"])
            .arg(dir.join("o.png"))
            .arg("--report")
            .arg(&report);
        if let Some(s) = steps {
            cmd.args(["--steps", &s.to_string()]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success());
        wall.push(t.elapsed().as_secs_f64());
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let t = &r["times"];
        edit.push(
            t["encode_s"].as_f64().unwrap()
                + t["denoise_s"].as_f64().unwrap()
                + t["decode_s"].as_f64().unwrap(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    (pct(&mut wall, 50.0), pct(&mut edit, 50.0))
}

fn main() {
    let clients = arg("--clients", 4);
    let seconds = arg("--seconds", 20);
    let edits = arg("--edits", 10);
    let steps = std::env::args()
        .any(|a| a == "--steps")
        .then(|| arg("--steps", 8));
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("serve_load: {clients} clients x {seconds} s, steps {steps:?}, binary {BIN}");

    let (cli_wall, cli_edit) = cli_edit_seconds(edits.min(5), steps);
    if let Some(pos) = std::env::args().position(|a| a == "--baseline-bin") {
        let path = std::env::args().nth(pos + 1).expect("--baseline-bin PATH");
        let baseline = Mode {
            bin: Box::leak(path.into_boxed_str()),
            deployed: false,
        };
        for round in 1..=2 {
            for (label, mode) in [
                ("baseline binary, no keys, log at warn", baseline),
                ("this build, a key and the access log", DEPLOYED),
            ] {
                let (_p, base) = start_server(mode, &[]);
                let (svc, inproc) = rt.block_on(overhead(mode, &base, edits, steps));
                println!(
                    "round {round}, {label}: overhead p50 {svc:.4} s vs in-process {inproc:.4} s (+{:.4} s); embedded, 1 worker: {}",
                    svc - inproc,
                    rt.block_on(load(mode, &base, clients, seconds, steps))
                );
            }
        }
    }
    {
        let (_p, base) = start_server(DEPLOYED, &[]);
        let (svc, inproc) = rt.block_on(overhead(DEPLOYED, &base, edits, steps));
        println!(
            "overhead: service p50 {svc:.4} s per edit vs in-process edit p50 {inproc:.4} s -> +{:.4} s ({:+.1} %); physedit edit: process p50 {cli_wall:.3} s (edit {cli_edit:.4} s, the rest is start-up and model load)",
            svc - inproc,
            100.0 * (svc - inproc) / inproc
        );
        println!(
            "embedded, 1 worker: {}",
            rt.block_on(load(DEPLOYED, &base, clients, seconds, steps))
        );
    }
    {
        // Overload: twice the clients against a queue of 2.
        let (_p, base) = start_server(DEPLOYED, &["--queue-capacity".into(), "2".into()]);
        println!(
            "embedded, 1 worker, queue capacity 2, {} clients: {}",
            2 * clients,
            rt.block_on(load(DEPLOYED, &base, 2 * clients, seconds, steps))
        );
    }
    let redis_ok = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if !redis_ok {
        println!("redis-server not found: Redis scenarios skipped");
        return;
    }
    for workers in [1usize, 2] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let _redis = Proc::spawn(Command::new("redis-server").args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]));
        std::thread::sleep(Duration::from_millis(300));
        let url = format!("redis://127.0.0.1:{port}");
        let (_p, base) = start_server(
            DEPLOYED,
            &[
                "--queue".into(),
                url.clone(),
                "--workers".into(),
                "0".into(),
            ],
        );
        let ws: Vec<Proc> = (0..workers)
            .map(|i| {
                let w = Proc::spawn(
                    Command::new(BIN)
                        .args(["worker", "--queue", &url, "--name", &format!("w{i}")])
                        .env("RUST_LOG", "warn"),
                );
                w.wait_line("ready");
                w
            })
            .collect();
        if workers == 1 {
            let (svc, inproc) = rt.block_on(overhead(DEPLOYED, &base, edits, steps));
            println!("overhead (Redis, 1 worker): service p50 {svc:.4} s vs in-process p50 {inproc:.4} s -> +{:.4} s ({:+.1} %)", svc - inproc, 100.0 * (svc - inproc) / inproc);
        }
        println!(
            "redis, {workers} worker(s): {}",
            rt.block_on(load(DEPLOYED, &base, clients, seconds, steps))
        );
        drop(ws);
    }
}
