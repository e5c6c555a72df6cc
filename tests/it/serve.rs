//! `physedit serve` and `physedit worker` as real processes, talked to over HTTP, with a real
//! `redis-server` for the Redis queue (the Debian package; `.ci/run` installs it). The tests that
//! need Redis fail, naming it, when `redis-server` is not on the PATH.
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_physedit");
pub(crate) const PROMPT: &str = "Swap the scenery behind the objects for plain peach.";

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn test_image() -> PathBuf {
    root().join("data/world/test/images/test_000023.png")
}

pub(crate) fn test_png() -> Vec<u8> {
    std::fs::read(test_image()).unwrap()
}

/// A child process killed (SIGKILL) and reaped on drop; its stderr is collected.
pub(crate) struct Proc {
    pub(crate) child: Child,
    log: Arc<Mutex<Vec<String>>>,
    name: String,
}

impl Proc {
    pub(crate) fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        Proc {
            child,
            log,
            name: name.to_string(),
        }
    }

    /// Waits for a stderr line containing `needle`; returns it.
    pub(crate) fn wait_line(&mut self, needle: &str, timeout: Duration) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before printing {needle:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                t0.elapsed() < timeout,
                "{} did not print {needle:?} within {timeout:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub(crate) fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway `redis-server` on a loopback port, no persistence.
pub(crate) struct Redis {
    pub(crate) proc: Proc,
    pub(crate) port: u16,
}

impl Redis {
    pub(crate) fn start() -> Redis {
        Self::start_with(free_port(), &["--save", "", "--appendonly", "no"])
    }

    /// On `port`, with more `redis-server` arguments.
    pub(crate) fn start_with(port: u16, args: &[&str]) -> Redis {
        let found = Command::new("redis-server")
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "redis-server is not installed: the Redis queue tests need it (Debian: apt-get install -y redis-server; .ci/run installs it)"
        );
        let proc = Proc::spawn(
            "redis-server",
            Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(args),
        );
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { proc, port }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// One command over RESP; the reply's first line.
    pub(crate) fn cmd(&self, args: &[&str]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        line.trim().to_string()
    }
}

/// A running `physedit serve` on a free loopback port.
pub(crate) struct Server {
    pub(crate) proc: Proc,
    pub(crate) base: String,
    /// The embedded queue's state directory, when the test did not name one.
    _state: Option<tempfile::TempDir>,
}

impl Server {
    /// Started and ready; with the embedded queue in a fresh state directory unless `args` name
    /// `--state` or `--queue`.
    pub(crate) fn start(args: &[&str]) -> Server {
        let s = Self::spawn(args, &[]);
        s.wait_ready();
        s
    }

    /// Started and ready, with `RUST_LOG` set to `log` (the access log is at info).
    pub(crate) fn start_logging(args: &[&str], log: &str) -> Server {
        let s = Self::spawn(args, &[("RUST_LOG", log)]);
        s.wait_ready();
        s
    }

    /// Started (listening), not waited for readiness; `env`: more environment variables.
    pub(crate) fn spawn(args: &[&str], env: &[(&str, &str)]) -> Server {
        let state = (!args.iter().any(|a| *a == "--state" || *a == "--queue"))
            .then(|| tempfile::tempdir().unwrap());
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied());
        if let Some(d) = &state {
            cmd.arg("--state").arg(d.path());
        }
        let mut proc = Proc::spawn("physedit serve", &mut cmd);
        let line = proc.wait_line("listening on http://", Duration::from_secs(60));
        let base = line
            .split("listening on ")
            .nth(1)
            .unwrap()
            .trim()
            .to_string();
        Server {
            proc,
            base,
            _state: state,
        }
    }

    pub(crate) fn wait_ready(&self) {
        let t0 = Instant::now();
        loop {
            if let Ok(r) = reqwest::blocking_get(&format!("{}/readyz", self.base)) {
                if r == 200 {
                    return;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "the server did not become ready:\n{}",
                self.proc.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A tiny blocking GET (status only), so the helpers need no runtime.
pub(crate) mod reqwest {
    pub use ::reqwest::*;
    pub fn blocking_get(url: &str) -> std::io::Result<u16> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = std::net::TcpStream::connect(host)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        write!(
            s,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        Ok(buf
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap()
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// A form like the `openai` Python client's: the image as a file part, the rest as text fields.
pub(crate) fn edit_form(image: Vec<u8>, fields: &[(&str, &str)]) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(image)
        .file_name("image.png")
        .mime_str("image/png")
        .unwrap();
    let mut form = reqwest::multipart::Form::new().part("image", part);
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form
}

pub(crate) fn decode_png(bytes: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8()
}

/// `physedit edit` with the same inputs, its picture.
fn cli_edit(seed: u64, extra: &[&str]) -> image::RgbImage {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    let o = Command::new(BIN)
        .args(["edit", "--image"])
        .arg(test_image())
        .args(["--prompt", PROMPT, "--seed", &seed.to_string(), "-o"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    image::open(&out).unwrap().to_rgb8()
}

/// Checks OpenAI's error shape and returns the message.
pub(crate) fn assert_error_shape(body: &Value) -> String {
    let e = &body["error"];
    assert!(e["message"].is_string(), "no error.message in {body}");
    assert!(e["type"].is_string(), "no error.type in {body}");
    assert!(e.get("param").is_some(), "no error.param in {body}");
    assert!(e.get("code").is_some(), "no error.code in {body}");
    e["message"].as_str().unwrap().to_string()
}

pub(crate) async fn wait_terminal(
    c: &reqwest::Client,
    s: &Server,
    id: &str,
    timeout: Duration,
) -> Value {
    let t0 = Instant::now();
    loop {
        let v: Value = c
            .get(s.url(&format!("/v1/edits/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let st = v["status"].as_str().unwrap().to_string();
        if ["succeeded", "failed", "cancelled"].contains(&st.as_str()) {
            return v;
        }
        assert!(
            t0.elapsed() < timeout,
            "job {id} still {st} after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn submit_async(
    c: &reqwest::Client,
    s: &Server,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    c.post(s.url("/v1/edits"))
        .multipart(edit_form(test_png(), fields))
        .send()
        .await
        .unwrap()
}

#[test]
fn openai_request_gives_the_cli_picture_bit_for_bit() {
    let server = Server::start(&[]);
    let rt = rt();
    let c = client();
    let (b64, url_png, body) = rt.block_on(async {
        let r = c
            .post(server.url("/v1/images/edits"))
            .multipart(edit_form(
                test_png(),
                &[
                    ("prompt", PROMPT),
                    ("model", "gpt-image-1"),
                    ("seed", "3"),
                    ("n", "2"),
                    ("steps", "4"),
                ],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let b64: Vec<Vec<u8>> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                base64::engine::general_purpose::STANDARD
                    .decode(d["b64_json"].as_str().unwrap())
                    .unwrap()
            })
            .collect();
        // The same request answered with a URL.
        let r = c
            .post(server.url("/v1/images/edits"))
            .multipart(edit_form(
                test_png(),
                &[
                    ("prompt", PROMPT),
                    ("seed", "3"),
                    ("steps", "4"),
                    ("response_format", "url"),
                ],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let url = v["data"][0]["url"].as_str().unwrap().to_string();
        let png = c
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        (b64, png, body)
    });
    assert_eq!(b64.len(), 2);
    assert!(body["created"].is_u64());
    assert_eq!(body["data"][0]["revised_prompt"], PROMPT);
    assert!(
        body["physedit"]["plan"]["tier"].is_string(),
        "{}",
        body["physedit"]
    );
    assert!(
        body["physedit"]["report"]["transformer_flops"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let cli3 = cli_edit(3, &["--steps", "4"]);
    let cli4 = cli_edit(4, &["--steps", "4"]);
    assert_eq!(
        decode_png(&b64[0]),
        cli3,
        "picture 0 (seed 3) differs from physedit edit --seed 3"
    );
    assert_eq!(
        decode_png(&b64[1]),
        cli4,
        "picture 1 (seed 4) differs from physedit edit --seed 4"
    );
    assert_ne!(cli3, cli4);
    assert_eq!(url_png, b64[0], "the url answer is not the b64 answer");
}

#[test]
fn async_jobs_progress_events_and_cancel() {
    let server = Server::start(&[]);
    let rt = rt();
    let c = client();
    rt.block_on(async {
        // A (a long edit) runs while B waits behind it.
        let a: Value = submit_async(&c, &server, &[("prompt", PROMPT), ("steps", "30")])
            .await
            .json()
            .await
            .unwrap();
        let b = submit_async(&c, &server, &[("prompt", PROMPT), ("steps", "2")]).await;
        assert_eq!(b.status(), 202);
        assert!(b.headers().get("location").is_some());
        let b: Value = b.json().await.unwrap();
        assert_eq!(b["status"], "queued");
        assert!(
            b["plan"]["tier"].is_string(),
            "the plan is known at once: {b}"
        );
        let (aid, bid) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

        // Events of A while it runs: status events, steps rising, ending in succeeded.
        let events = c
            .get(server.url(&format!("/v1/edits/{aid}/events")))
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);
        assert!(events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));

        // B is still queued (A has 30 steps to go, at least a second): cancel it.
        let del = c
            .delete(server.url(&format!("/v1/edits/{bid}")))
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 200);
        let del: Value = del.json().await.unwrap();
        assert_eq!(del["status"], "cancelled");
        // Cancelling again, or a job that is not queued: 409.
        let again = c
            .delete(server.url(&format!("/v1/edits/{bid}")))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 409);
        assert_error_shape(&again.json().await.unwrap());

        let text = events.text().await.unwrap();
        let statuses: Vec<Value> = text
            .split("\n\n")
            .filter(|e| e.contains("event: status"))
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let last = statuses.last().expect("no status events");
        assert_eq!(last["status"], "succeeded", "{text}");
        let steps: Vec<u64> = statuses
            .iter()
            .filter(|s| s["status"] == "running")
            .map(|s| s["progress"]["step"].as_u64().unwrap())
            .collect();
        assert!(steps.len() >= 3, "too few progress events: {steps:?}");
        assert!(
            steps.windows(2).all(|w| w[0] < w[1]),
            "steps not rising: {steps:?}"
        );
        assert_eq!(last["progress"]["steps"], 30);
        assert_eq!(last["progress"]["step"], 30);

        let a = wait_terminal(&c, &server, aid, Duration::from_secs(10)).await;
        assert_eq!(a["status"], "succeeded");
        assert_eq!(a["attempts"], 1);
        assert_eq!(a["result"]["pictures"][0]["request"]["steps"], 30);
        let img = c
            .get(server.url(&format!("/v1/edits/{aid}/image")))
            .send()
            .await
            .unwrap();
        assert_eq!(img.status(), 200);
        assert_eq!(img.headers()["content-type"], "image/png");
        decode_png(&img.bytes().await.unwrap());
        // A finished job cannot be cancelled; a cancelled one has no picture; unknown ids are 404.
        assert_eq!(
            c.delete(server.url(&format!("/v1/edits/{aid}")))
                .send()
                .await
                .unwrap()
                .status(),
            409
        );
        assert_eq!(
            c.get(server.url(&format!("/v1/edits/{bid}/image")))
                .send()
                .await
                .unwrap()
                .status(),
            409
        );
        assert_eq!(
            c.get(server.url(&format!("/v1/edits/{aid}/image?index=1")))
                .send()
                .await
                .unwrap()
                .status(),
            400
        );
        for id in [
            "edit_00000000000000000000000000000000",
            "nope",
            "..%2F..%2Fetc",
        ] {
            let r = c
                .get(server.url(&format!("/v1/edits/{id}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "{id}");
            assert_error_shape(&r.json().await.unwrap());
        }
        let m = c
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            m.contains("physedit_jobs_total{state=\"succeeded\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("physedit_jobs_total{state=\"cancelled\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("physedit_edit_seconds_count{recipe=\"physedit\""),
            "{m}"
        );
        assert!(m.contains("physedit_queue_depth 0"), "{m}");
    });
}

#[test]
fn a_full_queue_answers_429_then_recovers() {
    let server = Server::start(&["--queue-capacity", "1"]);
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let a: Value = submit_async(&c, &server, &[("prompt", PROMPT), ("steps", "10")])
            .await
            .json()
            .await
            .unwrap();
        let full = submit_async(&c, &server, &[("prompt", PROMPT)]).await;
        assert_eq!(full.status(), 429);
        let retry: u64 = full.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry));
        let body: Value = full.json().await.unwrap();
        assert_error_shape(&body);
        assert_eq!(body["error"]["code"], "queue_full");
        // The synchronous endpoint too.
        let sync = c
            .post(server.url("/v1/images/edits"))
            .multipart(edit_form(test_png(), &[("prompt", PROMPT)]))
            .send()
            .await
            .unwrap();
        assert_eq!(sync.status(), 429);
        let a = wait_terminal(
            &c,
            &server,
            a["id"].as_str().unwrap(),
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(a["status"], "succeeded");
        let ok = c
            .post(server.url("/v1/images/edits"))
            .multipart(edit_form(test_png(), &[("prompt", PROMPT), ("steps", "2")]))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let m = c
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(m.contains("physedit_rejected_total 2"), "{m}");
    });
}

/// A PNG: signature, IHDR (w x h, 8-bit RGB), one IDAT of `idat`, IEND, with correct CRCs.
fn png_with(w: u32, h: u32, idat: &[u8]) -> Vec<u8> {
    fn crc(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn bad_requests_are_4xx_and_the_server_keeps_serving() {
    let server = Server::start(&["--max-body-bytes", "1000000"]);
    let rt = rt();
    let c = client();
    let png = test_png();
    let gif = {
        let mut v = Vec::new();
        image::DynamicImage::new_rgb8(8, 8)
            .write_to(&mut std::io::Cursor::new(&mut v), image::ImageFormat::Gif)
            .unwrap();
        v
    };
    let small_mask = {
        let mut v = Vec::new();
        image::DynamicImage::new_rgba8(8, 8)
            .write_to(&mut std::io::Cursor::new(&mut v), image::ImageFormat::Png)
            .unwrap();
        v
    };
    // A decompression bomb: a few hundred bytes whose header claims 50000 x 50000 pixels.
    let bomb = png_with(
        50_000,
        50_000,
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    let zero = png_with(0, 0, &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    let long_prompt = "a".repeat(100_000);
    let form = |img: Vec<u8>, f: &[(&str, &str)]| edit_form(img, f);
    let p = ("prompt", PROMPT);
    type Case = (&'static str, u16, Box<dyn Fn() -> reqwest::RequestBuilder>);
    let url = server.url("/v1/images/edits");
    let cl = c.clone();
    let post = move |f: reqwest::multipart::Form| cl.post(&url).multipart(f);
    let post = Arc::new(post);
    let mk = |name: &'static str,
              code: u16,
              build: Box<dyn Fn() -> reqwest::RequestBuilder>|
     -> Case { (name, code, build) };
    let pp = post.clone();
    let text = b"this is not a picture at all".to_vec();
    let truncated = png[..png.len() / 2].to_vec();
    let cases: Vec<Case> = vec![
        mk("not an image", 400, {
            let (pp, t) = (pp.clone(), text.clone());
            Box::new(move || pp(form(t.clone(), &[p])))
        }),
        mk("truncated PNG", 400, {
            let (pp, t) = (pp.clone(), truncated.clone());
            Box::new(move || pp(form(t.clone(), &[p])))
        }),
        mk("decompression bomb", 413, {
            let (pp, t) = (pp.clone(), bomb.clone());
            Box::new(move || pp(form(t.clone(), &[p])))
        }),
        mk("zero-size image", 400, {
            let (pp, t) = (pp.clone(), zero.clone());
            Box::new(move || pp(form(t.clone(), &[p])))
        }),
        mk("empty image", 400, {
            let pp = pp.clone();
            Box::new(move || pp(form(Vec::new(), &[p])))
        }),
        mk("GIF image", 400, {
            let (pp, t) = (pp.clone(), gif.clone());
            Box::new(move || pp(form(t.clone(), &[p])))
        }),
        mk("empty prompt", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[("prompt", "  ")])))
        }),
        mk("100 kB prompt", 400, {
            let (pp, t, l) = (pp.clone(), png.clone(), long_prompt.clone());
            Box::new(move || pp(form(t.clone(), &[("prompt", l.as_str())])))
        }),
        mk("unknown recipe", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("recipe", "turbo")])))
        }),
        mk("missing prompt", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[])))
        }),
        mk("missing image", 400, {
            let pp = pp.clone();
            Box::new(move || pp(reqwest::multipart::Form::new().text("prompt", PROMPT)))
        }),
        mk("bad size", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("size", "big")])))
        }),
        mk("size off the model's multiple", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("size", "65x64")])))
        }),
        mk("size over the pixel limit", 413, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("size", "8192x8192")])))
        }),
        mk("n = 9", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("n", "9")])))
        }),
        mk("steps = 0", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("steps", "0")])))
        }),
        mk("guidance NaN", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("guidance", "NaN")])))
        }),
        mk("unknown field", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("sead", "3")])))
        }),
        mk("bad response_format", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("response_format", "jpeg")])))
        }),
        mk("unknown lora", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || pp(form(t.clone(), &[p, ("lora", "distill")])))
        }),
        mk("mask of another size", 400, {
            let (pp, t, m) = (pp.clone(), png.clone(), small_mask.clone());
            Box::new(move || {
                let mp = reqwest::multipart::Part::bytes(m.clone()).file_name("mask.png");
                pp(form(t.clone(), &[p]).part("mask", mp))
            })
        }),
        mk("invalid UTF-8 prompt", 400, {
            let (pp, t) = (pp.clone(), png.clone());
            Box::new(move || {
                let bad = reqwest::multipart::Part::bytes(vec![0x66, 0xff, 0xfe, 0x80]);
                pp(form(t.clone(), &[]).part("prompt", bad))
            })
        }),
        mk("oversize body", 413, {
            let pp = pp.clone();
            Box::new(move || pp(form(vec![0u8; 2_000_000], &[p])))
        }),
        mk("wrong content type", 415, {
            let (c, u) = (c.clone(), server.url("/v1/images/edits"));
            Box::new(move || c.post(&u).json(&serde_json::json!({"prompt": PROMPT})))
        }),
        mk("broken boundary", 400, {
            let (c, u) = (c.clone(), server.url("/v1/images/edits"));
            Box::new(move || {
                c.post(&u)
                    .header("content-type", "multipart/form-data; boundary=XYZ")
                    .body("--XYZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhi")
            })
        }),
        mk("unknown endpoint", 404, {
            let (c, u) = (c.clone(), server.url("/v1/nothing"));
            Box::new(move || c.get(&u))
        }),
        mk("wrong method", 405, {
            let (c, u) = (c.clone(), server.url("/v1/images/edits"));
            Box::new(move || c.get(&u))
        }),
    ];
    rt.block_on(async {
        for (name, code, build) in &cases {
            let r = build()
                .send()
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let status = r.status().as_u16();
            let body: Value = r
                .json()
                .await
                .unwrap_or_else(|e| panic!("{name}: answer is not JSON: {e}"));
            let msg = assert_error_shape(&body);
            assert_eq!(status, *code, "{name}: {body}");
            assert!(!msg.is_empty(), "{name}");
            // The server still serves.
            assert_eq!(
                c.get(server.url("/healthz")).send().await.unwrap().status(),
                200,
                "{name}"
            );
        }
        let ok = c
            .post(server.url("/v1/images/edits"))
            .multipart(edit_form(test_png(), &[p, ("steps", "2")]))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    });
    assert!(
        !server.proc.log().contains("panicked"),
        "{}",
        server.proc.log()
    );
}

/// A deterministic generator of malformed inputs (xorshift64*), no fuzzing crate.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// `base` with a few bytes flipped, chunks cut, cut short or spliced with random bytes.
    fn mutate(&mut self, base: &[u8]) -> Vec<u8> {
        let mut v = base.to_vec();
        match self.below(6) {
            0 => {
                for _ in 0..1 + self.below(8) {
                    let i = self.below(v.len().min(64));
                    v[i] = self.next() as u8;
                }
            }
            1 => {
                let n = 1 + self.below(v.len().saturating_sub(1));
                v.truncate(n);
            }
            2 => {
                for _ in 0..1 + self.below(16) {
                    let i = self.below(v.len());
                    v[i] ^= 1 << self.below(8);
                }
            }
            3 => {
                let i = self.below(v.len());
                let k = 1 + self.below(64);
                let junk = self.bytes(k);
                v.splice(i..i, junk);
            }
            4 => {
                // An absurd size in the header (PNG IHDR width/height at 16..24, JPEG SOF).
                let i = 16 + self.below(8);
                if i < v.len() {
                    v[i] = 0xff;
                }
            }
            _ => {
                let a = self.below(v.len());
                let b = (a + self.below(256)).min(v.len());
                v.drain(a..b);
            }
        }
        v
    }
}

fn jpeg_bytes() -> Vec<u8> {
    let mut v = Vec::new();
    image::open(test_image())
        .unwrap()
        .write_to(&mut std::io::Cursor::new(&mut v), image::ImageFormat::Jpeg)
        .unwrap();
    v
}

/// One malformed request: method, path, content type, body.
fn malformed_request(g: &mut Gen, png: &[u8], jpeg: &[u8]) -> (String, String, Vec<u8>) {
    let boundary = "physeditfuzz";
    let multipart = |parts: &[(&str, Option<&str>, Vec<u8>)]| {
        let mut b = Vec::new();
        for (name, file, data) in parts {
            b.extend(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(f) => b.extend(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
                ),
                None => b.extend(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            b.extend(data);
            b.extend(b"\r\n");
        }
        b.extend(format!("--{boundary}--\r\n").as_bytes());
        b
    };
    let ct = format!("multipart/form-data; boundary={boundary}");
    let path = if g.below(2) == 0 {
        "/v1/edits"
    } else {
        "/v1/images/edits"
    }
    .to_string();
    match g.below(8) {
        // Random bytes, random content types.
        0 => {
            let n = g.below(4096);
            let cts = [
                ct.as_str(),
                "application/json",
                "image/png",
                "text/plain",
                "multipart/form-data",
                "",
            ];
            (path, cts[g.below(cts.len())].to_string(), g.bytes(n))
        }
        // A mutated PNG or JPEG in an otherwise good request (with a field that fails, so that a
        // mutation that still decodes does not start an edit).
        1 | 2 => {
            let base = if g.below(2) == 0 { png } else { jpeg };
            let img = g.mutate(base);
            let bad = ["0", "5", "-1", "abc", "99999999999999999999999"];
            let body = multipart(&[
                ("image", Some("x.png"), img),
                ("prompt", None, PROMPT.as_bytes().to_vec()),
                ("n", None, bad[g.below(bad.len())].as_bytes().to_vec()),
            ]);
            (path, ct, body)
        }
        // A good body, then mutated (broken boundaries, headers, lengths).
        3 | 4 => {
            let body = multipart(&[
                ("image", Some("x.png"), png.to_vec()),
                ("prompt", None, PROMPT.as_bytes().to_vec()),
                ("size", None, b"65x65".to_vec()),
                ("n", None, b"0".to_vec()),
            ]);
            let mut cut = g.mutate(&body);
            if g.below(2) == 0 {
                cut.truncate(g.below(cut.len().max(1)));
            }
            (path, ct, cut)
        }
        // Absurd sizes and numbers.
        5 => {
            let sizes = [
                "0x0",
                "4294967296x1",
                "18446744073709551616x2",
                "-64x64",
                "64x",
                "x64",
                "64x64x64",
                "1e9x1e9",
                "999999999x999999999",
            ];
            let body = multipart(&[
                ("image", Some("x.png"), png.to_vec()),
                ("prompt", None, PROMPT.as_bytes().to_vec()),
                (
                    "size",
                    None,
                    sizes[g.below(sizes.len())].as_bytes().to_vec(),
                ),
                ("n", None, b"0".to_vec()),
            ]);
            (path, ct, body)
        }
        // Invalid UTF-8 and control bytes in fields and field names.
        6 => {
            let k = 1 + g.below(64);
            let mut junk = g.bytes(k);
            junk.push(0xff);
            let names = [
                "prompt",
                "recipe",
                "seed",
                "steps",
                "guidance",
                "negative_prompt",
                "model",
            ];
            let body = multipart(&[
                ("image", Some("x.png"), png.to_vec()),
                (names[g.below(names.len())], None, junk),
            ]);
            (path, ct, body)
        }
        // Random paths and methods' bodies on the job endpoints.
        _ => {
            let id: String = (0..g.below(50))
                .map(|_| (b'a' + g.below(26) as u8) as char)
                .collect();
            let paths = [
                format!("/v1/edits/{id}"),
                format!("/v1/edits/edit_{id}/image?index={}", g.next()),
                format!("/v1/edits/{id}/events"),
                "/v1/edits/%ff%fe".to_string(),
            ];
            (paths[g.below(paths.len())].clone(), "".into(), Vec::new())
        }
    }
}

/// The flood runs with keys on: most requests carry the key, one in ten none and one in ten a
/// wrong one (those must all be 401, whatever their body).
#[test]
fn a_flood_of_malformed_requests_gets_no_5xx() {
    const KEY: &str = "sk-flood-0123456789";
    let server = Server::start(&[
        "--queue-capacity",
        "2",
        "--max-body-bytes",
        "200000",
        "--api-key",
        KEY,
        "--rate-limit",
        "0",
    ]);
    let rt = rt();
    let c = client();
    let png = test_png();
    let jpeg = jpeg_bytes();
    let mut g = Gen(0x5EED_1234_ABCD_0001);
    let reqs: Vec<_> = (0..600)
        .map(|_| malformed_request(&mut g, &png, &jpeg))
        .collect();
    let codes = rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut handles = Vec::new();
        for (i, (path, ct, body)) in reqs.into_iter().enumerate() {
            let (c, url, sem) = (c.clone(), server.url(&path), sem.clone());
            handles.push(tokio::spawn(async move {
                let _p = sem.acquire().await.unwrap();
                let mut rb = if body.is_empty() && ct.is_empty() {
                    c.get(&url)
                } else {
                    let mut rb = c.post(&url).body(body);
                    if !ct.is_empty() {
                        rb = rb.header("content-type", ct);
                    }
                    rb
                };
                let keyed = match i % 10 {
                    7 => false,
                    8 => {
                        rb = rb.bearer_auth("sk-flood-wrong-00000");
                        false
                    }
                    _ => {
                        rb = rb.bearer_auth(KEY);
                        true
                    }
                };
                let r = rb
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("request {i} {url}: no answer: {e}"));
                let code = r.status().as_u16();
                if !keyed {
                    assert_eq!(code, 401, "request {i} {url} without a valid key");
                }
                if code >= 400 {
                    let body: Value = r.json().await.unwrap_or_else(|e| {
                        panic!("request {i} {url}: {code} without a JSON body: {e}")
                    });
                    assert_error_shape(&body);
                }
                code
            }));
        }
        let mut codes = Vec::new();
        for h in handles {
            codes.push(h.await.unwrap());
        }
        codes
    });
    let mut by_code = std::collections::BTreeMap::new();
    for c in &codes {
        *by_code.entry(*c).or_insert(0) += 1;
    }
    eprintln!(
        "flood: {} requests, answers by status {by_code:?}",
        codes.len()
    );
    assert!(codes.len() >= 500);
    let server_errors: Vec<u16> = codes.iter().copied().filter(|&c| c >= 500).collect();
    assert!(
        server_errors.is_empty(),
        "5xx answers: {server_errors:?}\n{}",
        server.proc.log()
    );
    assert!(codes.iter().filter(|&&c| (400..500).contains(&c)).count() >= 500);
    assert_eq!(by_code.get(&401), Some(&120), "{by_code:?}");
    rt.block_on(async {
        let ok = c
            .post(server.url("/v1/images/edits"))
            .bearer_auth(KEY)
            .multipart(edit_form(test_png(), &[("prompt", PROMPT), ("steps", "2")]))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    });
    assert!(
        !server.proc.log().contains("panicked"),
        "{}",
        server.proc.log()
    );
}

/// The same generator against the file loaders the command line uses: every input is an error or a
/// value, never a panic.
#[test]
fn the_file_loaders_survive_malformed_files() {
    use physedit::checkpoint::{check_safetensors_file, read_config};
    use physedit::lora::read_lora_file;
    use physedit::suite::Suite;
    use physedit::util::open_image;
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gen(0x0DDB_A11_5EED);
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("png", test_png()),
        ("jpg", jpeg_bytes()),
        (
            "suite",
            std::fs::read(root().join("data/world/test/suite.json")).unwrap()[..4000].to_vec(),
        ),
        (
            "config",
            std::fs::read(root().join("models/physedit-world/transformer/config.json")).unwrap(),
        ),
        (
            "safetensors",
            std::fs::read(root().join("models/physedit-world/image_encoder/model.safetensors"))
                .unwrap(),
        ),
        (
            "lora",
            std::fs::read(root().join("tests/fixtures/lora/peft.safetensors")).unwrap(),
        ),
    ];
    let mut errors = 0;
    let mut total = 0;
    for (kind, base) in &seeds {
        for i in 0..100 {
            let data = if i % 10 == 9 {
                let k = g.below(2048);
                g.bytes(k)
            } else {
                g.mutate(base)
            };
            let path: PathBuf = dir.path().join(format!(
                "{kind}_{i}.{}",
                if *kind == "suite" || *kind == "config" {
                    "json"
                } else if *kind == "jpg" {
                    "jpg"
                } else if *kind == "png" {
                    "png"
                } else {
                    "safetensors"
                }
            ));
            std::fs::write(&path, &data).unwrap();
            let p: &Path = &path;
            let outcome = std::panic::catch_unwind(|| match *kind {
                "png" | "jpg" => open_image(p).is_err(),
                "suite" => Suite::from_file(p).is_err(),
                "config" => read_config::<physedit::models::transformer::Config>(p).is_err(),
                "safetensors" => check_safetensors_file(p).is_err(),
                _ => read_lora_file(p).is_err(),
            });
            let is_err =
                outcome.unwrap_or_else(|_| panic!("{kind} loader panicked on {}", p.display()));
            errors += is_err as usize;
            total += 1;
        }
    }
    assert_eq!(total, 600);
    // Most mutations must be caught (a flipped byte inside pixel data or a JSON string can still load).
    assert!(
        errors >= 300,
        "only {errors} of {total} malformed files were refused"
    );
}

/// `/metrics` value of one series.
pub(crate) fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

pub(crate) fn start_worker(redis: &Redis, name: &str, extra: &[&str]) -> Proc {
    let mut w = Proc::spawn(
        name,
        Command::new(BIN)
            .args(["worker", "--queue", &redis.url(), "--name", name])
            .args(extra)
            .env("RUST_LOG", "info"),
    );
    w.wait_line("ready", Duration::from_secs(60));
    w
}

#[test]
fn redis_workers_lose_and_duplicate_no_job_when_one_is_killed() {
    let redis = Redis::start();
    let vis = ["--visibility-timeout", "1.5"];
    let server = Server::start(&["--queue", &redis.url(), "--workers", "0", vis[0], vis[1]]);
    let mut w1 = start_worker(&redis, "w1", &vis);
    let mut w2 = start_worker(&redis, "w2", &vis);
    let rt = rt();
    let c = client();
    const JOBS: usize = 4;
    rt.block_on(async {
        let mut ids = Vec::new();
        for _ in 0..JOBS {
            let r = submit_async(
                &c,
                &server,
                &[("prompt", PROMPT), ("steps", "20"), ("seed", "5")],
            )
            .await;
            assert_eq!(r.status(), 202);
            let v: Value = r.json().await.unwrap();
            ids.push(v["id"].as_str().unwrap().to_string());
        }
        // Kill w1 in the middle of a job: once it reports a step past the first of its job.
        let t0 = Instant::now();
        let victim = loop {
            let mut found = None;
            for id in &ids {
                let v: Value = c
                    .get(server.url(&format!("/v1/edits/{id}")))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if v["status"] == "running"
                    && v["worker"] == "w1"
                    && v["progress"]["step"].as_u64().unwrap_or(0) >= 2
                {
                    found = Some(id.clone());
                }
            }
            if let Some(f) = found {
                break f;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "w1 never ran a job:\n{}",
                w1.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        w1.kill();
        let mut pictures = Vec::new();
        for id in &ids {
            let v = wait_terminal(&c, &server, id, Duration::from_secs(120)).await;
            assert_eq!(v["status"], "succeeded", "job {id}: {v}\nw2:\n{}", w2.log());
            if *id == victim {
                assert_eq!(v["attempts"], 2, "the killed job was not rerun once: {v}");
                assert_eq!(v["worker"], "w2");
            }
            let png = c
                .get(server.url(&format!("/v1/edits/{id}/image")))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            pictures.push(png.to_vec());
        }
        // Same request, same seed: the rerun gave the same answer as every other run.
        assert!(pictures.windows(2).all(|w| w[0] == w[1]));
        let m = c
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lost = JOBS as f64 - metric(&m, "physedit_jobs_total{state=\"succeeded\"}");
        assert_eq!(lost, 0.0, "lost or duplicated answers:\n{m}");
        assert_eq!(
            metric(&m, "physedit_jobs_total{state=\"submitted\"}"),
            JOBS as f64
        );
        assert_eq!(metric(&m, "physedit_queue_depth"), 0.0);
        assert_eq!(metric(&m, "physedit_jobs{state=\"running\"}"), 0.0);
    });
    // Each answer was stored once; the stream holds no entry, none pending.
    assert_eq!(redis.cmd(&["XLEN", "physedit:queue"]), ":0");
    assert!(w2.alive());
    drop(w1);
}

#[test]
fn redis_queue_bounds_cancels_and_reports_readiness() {
    let redis = Redis::start();
    // No worker: jobs stay queued.
    let server = Server::start(&[
        "--queue",
        &redis.url(),
        "--workers",
        "0",
        "--queue-capacity",
        "2",
    ]);
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let a: Value = submit_async(&c, &server, &[("prompt", PROMPT)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(a["status"], "queued");
        assert_eq!(
            submit_async(&c, &server, &[("prompt", PROMPT)])
                .await
                .status(),
            202
        );
        let full = submit_async(&c, &server, &[("prompt", PROMPT)]).await;
        assert_eq!(full.status(), 429);
        assert!(full.headers().get("retry-after").is_some());
        let id = a["id"].as_str().unwrap();
        let del = c
            .delete(server.url(&format!("/v1/edits/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 200);
        assert_eq!(
            submit_async(&c, &server, &[("prompt", PROMPT)])
                .await
                .status(),
            202
        );
        let m = c
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(metric(&m, "physedit_queue_depth"), 2.0);
        assert_eq!(metric(&m, "physedit_jobs_total{state=\"cancelled\"}"), 1.0);
        assert_eq!(metric(&m, "physedit_rejected_total"), 1.0);
        assert_eq!(
            c.get(server.url("/readyz")).send().await.unwrap().status(),
            200
        );
    });
    // Redis gone: not ready, and edits are refused with 503.
    drop(redis);
    rt.block_on(async {
        let r = c.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert_error_shape(&r.json().await.unwrap());
        let e = submit_async(&c, &server, &[("prompt", PROMPT)]).await;
        assert_eq!(e.status(), 503);
        assert_eq!(
            c.get(server.url("/healthz")).send().await.unwrap().status(),
            200
        );
    });
}

#[test]
fn a_mask_is_the_spatial_reasoning_region() {
    let server = Server::start(&[]);
    let rt = rt();
    let c = client();
    let png = test_png();
    let (w, h) = image::load_from_memory(&png)
        .unwrap()
        .to_rgb8()
        .dimensions();
    // Transparent (may change) on the left half, opaque on the right.
    let mask = image::RgbaImage::from_fn(w, h, |x, _| {
        image::Rgba([0, 0, 0, if x < w / 2 { 0 } else { 255 }])
    });
    let mut mask_png = Vec::new();
    mask.write_to(
        &mut std::io::Cursor::new(&mut mask_png),
        image::ImageFormat::Png,
    )
    .unwrap();
    rt.block_on(async {
        let form = edit_form(
            png.clone(),
            &[("prompt", PROMPT), ("recipe", "srm-only"), ("steps", "2")],
        )
        .part(
            "mask",
            reqwest::multipart::Part::bytes(mask_png)
                .file_name("mask.png")
                .mime_str("image/png")
                .unwrap(),
        );
        let r = c
            .post(server.url("/v1/images/edits"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let pic = &v["physedit"]["report"]["pictures"][0];
        assert_eq!(pic["mask"], "used as the spatial reasoning mask", "{pic}");
        assert_eq!(pic["srm"]["probe"], "given", "{pic}");
        assert_eq!(pic["srm"]["coverage"], 0.5, "{pic}");
    });
}
