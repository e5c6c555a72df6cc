//! The edge of `physedit serve` as an attacker and an operator meet it, against real processes:
//! limits checked before work is done (a picture's header, the queue's capacity before the body,
//! per-key caps, rate, event streams, decoder slots, timeouts for slow clients), API keys and job
//! ownership (raw HTTP, and the official `openai` client when Python has it), request ids, the
//! access log and the metrics.
use std::io::{Read, Write};
use std::net::TcpStream;

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::copy_dir;
use serde_json::Value;

use super::serve::{
    assert_error_shape, edit_form, metric, root, rt, test_image, test_png, Server, BIN, PROMPT,
};

const KEY_A: &str = "sk-alice-0123456789";
const KEY_B: &str = "sk-bob-9876543210";
const KEY_C: &str = "sk-carol-24681357";
const METRICS_KEY: &str = "sk-metrics-55555555";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// One raw HTTP exchange: writes `head` (and `body`), reads until the server closes or
/// `timeout`; returns what was read (empty on timeout).
fn raw(server: &Server, head: &str, body: &[u8], timeout: Duration) -> String {
    let addr = server.base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                // A complete answer with a JSON body is enough.
                let text = String::from_utf8_lossy(&out);
                if text.contains("\r\n\r\n{") && text.trim_end().ends_with('}') {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The head of a multipart POST that announces `len` body bytes, with an optional key.
fn post_head(path: &str, len: usize, key: Option<&str>) -> String {
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// Peak resident memory of a process (VmHWM, KiB).
fn peak_rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Resets a process's peak resident memory to its current (Linux: clear_refs 5).
fn reset_peak_rss(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

fn encode_png(img: image::DynamicImage, fast: bool) -> Vec<u8> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut v = Vec::new();
    let (ct, ft) = if fast {
        (CompressionType::Fast, FilterType::NoFilter)
    } else {
        (CompressionType::Default, FilterType::Adaptive)
    };
    img.write_with_encoder(PngEncoder::new_with_quality(&mut v, ct, ft))
        .unwrap();
    v
}

/// The bundled model without a native size (no height/width in its physedit.json): `size=auto`
/// then keeps the picture's aspect at up to 1280x720's area, as on a model that states none.
fn model_without_native_size() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("models/physedit-world"), dir.path());
    let p = dir.path().join("physedit.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("height");
    o.remove("width");
    std::fs::write(&p, v.to_string()).unwrap();
    dir
}

#[test]
fn a_picture_whose_auto_size_is_absurd_is_refused_from_its_header() {
    let model = model_without_native_size();
    let model_dir = model.path().to_str().unwrap().to_string();
    // 16,777,216 x 1: within the 4096 x 4096 pixel limit; at its own aspect, `auto` would ask
    // for 16 x 3,932,160 (~63 megapixels). The PNG is about 49 KB.
    let long = encode_png(
        image::DynamicImage::ImageRgb8(image::RgbImage::new(16_777_216, 1)),
        false,
    );
    assert!(long.len() < 100_000, "{}", long.len());
    let square = encode_png(
        image::DynamicImage::ImageRgb8(image::RgbImage::new(128, 128)),
        false,
    );
    let server = Server::start(&["--model", &model_dir, "--max-size-pixels", "8192"]);
    let pid = server.proc.child.id();
    let rt = rt();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    rt.block_on(async {
        // Warm the server's allocator with one ordinary refusal, then measure from here.
        let r = c
            .post(server.url("/v1/edits"))
            .multipart(edit_form(square.clone(), &[("prompt", PROMPT), ("n", "9")]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        reset_peak_rss(pid);
        let before = peak_rss_kib(pid);
        let t0 = Instant::now();
        let r = c
            .post(server.url("/v1/images/edits"))
            .multipart(edit_form(
                long.clone(),
                &[("prompt", PROMPT), ("size", "auto")],
            ))
            .send()
            .await
            .expect("no answer within 5 s to the 16777216x1 picture");
        let dt = t0.elapsed();
        assert_eq!(r.status(), 413);
        let body: Value = r.json().await.unwrap();
        let msg = assert_error_shape(&body);
        assert_eq!(body["error"]["param"], "image", "{body}");
        assert!(msg.contains("aspect ratio"), "{msg}");
        assert!(dt < Duration::from_secs(1), "answered in {dt:?}");
        let grew = peak_rss_kib(pid).saturating_sub(before);
        // The body is 49 KB; decoding the picture would take 48 MiB.
        assert!(grew < 16 * 1024, "peak resident memory grew by {grew} KiB");

        // A square picture within every limit, whose `auto` size (128x128 on this model) is over
        // --max-size-pixels 8192: 413 naming the image, before a job exists.
        let r = c
            .post(server.url("/v1/edits"))
            .multipart(edit_form(square.clone(), &[("prompt", PROMPT)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "size_too_large", "{body}");
        assert!(
            assert_error_shape(&body).contains("over the limit of 8192"),
            "{body}"
        );
        // An explicit size within the pixels but far from square.
        let r = c
            .post(server.url("/v1/edits"))
            .multipart(edit_form(
                square.clone(),
                &[("prompt", PROMPT), ("size", "16x512")],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["param"], "size", "{body}");
        // Nothing was queued.
        let m = c
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(metric(&m, "physedit_jobs_total{state=\"submitted\"}"), 0.0);
    });

    // `physedit edit` takes the same path: a clear error naming the flag and the file, at once.
    let dir = tempfile::tempdir().unwrap();
    let pic = dir.path().join("long.png");
    std::fs::write(&pic, &long).unwrap();
    let sq = dir.path().join("square.png");
    std::fs::write(&sq, &square).unwrap();
    for (input, extra, flag) in [
        (&pic, vec![], "--max-aspect-ratio"),
        (&sq, vec!["--max-size-pixels", "8192"], "--max-size-pixels"),
    ] {
        let t0 = Instant::now();
        let mut child = Command::new(BIN)
            .args(["edit", "--model", &model_dir, "--image"])
            .arg(input)
            .args(["--prompt", PROMPT, "--steps", "1", "-o"])
            .arg(dir.path().join("out.png"))
            .args(&extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "physedit edit on {} still running after 30 s",
                    input.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!status.success(), "{err}");
        assert!(err.contains(flag), "{err}");
        assert!(err.contains(&*input.to_string_lossy()), "{err}");
        assert!(!dir.path().join("out.png").exists());
    }
}

/// A PNG of noise (incompressible) of `w` x `h`.
fn noise_png(w: u32, h: u32) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    encode_png(image::DynamicImage::ImageRgb8(img), true)
}

#[test]
fn eight_concurrent_32_mib_uploads_keep_peak_memory_bounded() {
    // 4096 x 2700 pixels of noise: a PNG just under the 32 MiB body limit that decodes to 32 MiB.
    let big = noise_png(4096, 2700);
    assert!(
        big.len() > 31 << 20 && big.len() < (32 << 20) - 4096,
        "{}",
        big.len()
    );
    // A mask of another size: each request is refused (400) once its picture has been decoded,
    // so that every upload goes through the whole reading and decoding path.
    let mask = encode_png(
        image::DynamicImage::ImageRgba8(image::RgbaImage::new(8, 8)),
        false,
    );
    let server = Server::start(&[]);
    let pid = server.proc.child.id();
    let rt = rt();
    let c = client();
    let send = |c: reqwest::Client| {
        let (big, mask, url) = (big.clone(), mask.clone(), server.url("/v1/edits"));
        async move {
            let form = edit_form(big, &[("prompt", PROMPT)]).part(
                "mask",
                reqwest::multipart::Part::bytes(mask).file_name("mask.png"),
            );
            c.post(url).multipart(form).send().await.unwrap().status()
        }
    };
    rt.block_on(async {
        assert_eq!(send(c.clone()).await, 400);
        reset_peak_rss(pid);
        let before = peak_rss_kib(pid);
        let handles: Vec<_> = (0..8).map(|_| tokio::spawn(send(c.clone()))).collect();
        for h in handles {
            assert_eq!(h.await.unwrap(), 400);
        }
        let grew = peak_rss_kib(pid).saturating_sub(before) / 1024;
        eprintln!("8 concurrent 32 MiB uploads: peak resident memory grew by {grew} MiB");
        // Bound: 8 bodies held at once (256 MiB) and a decoded picture (32 MiB) with the
        // decoder's buffers, plus margin. Measured on the 2-core machine: 198 MiB with the decoder
        // slots, 243 MiB with the binary before them (this scenario staggers the uploads, so the
        // older binary stays under the bound too: this test guards the bound, it does not
        // separate the two).
        assert!(grew < 480, "peak resident memory grew by {grew} MiB");
    });
}

#[test]
fn slow_clients_are_cut_off() {
    let server = Server::start(&["--header-timeout", "1", "--body-timeout", "1"]);
    // A head that never ends.
    let t0 = Instant::now();
    let a = raw(
        &server,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        b"",
        Duration::from_secs(6),
    );
    let dt = t0.elapsed();
    assert!(
        dt < Duration::from_secs(4),
        "the connection was held {dt:?} for a head that never ended: {a:?}"
    );
    // A body that stops after 100 of 100000 bytes.
    let t0 = Instant::now();
    let b = raw(
        &server,
        &post_head("/v1/edits", 100_000, None),
        &[b'-'; 100],
        Duration::from_secs(6),
    );
    let dt = t0.elapsed();
    assert!(dt < Duration::from_secs(4), "held {dt:?}: {b:?}");
    assert_eq!(status_of(&b), 408, "{b}");
    assert!(b.contains("request_timeout"), "{b}");
    // The server still serves.
    let c = client();
    rt().block_on(async {
        let r = c.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    });
}

async fn submit(c: &reqwest::Client, server: &Server, key: &str, fields: &[(&str, &str)]) -> Value {
    let r = c
        .post(server.url("/v1/edits"))
        .bearer_auth(key)
        .multipart(edit_form(test_png(), fields))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.json().await.unwrap()
}

#[test]
fn limits_hold_before_the_body_is_read() {
    let server = Server::start(&[
        "--api-key",
        KEY_A,
        "--api-key",
        KEY_B,
        "--api-key",
        KEY_C,
        "--queue-capacity",
        "2",
        "--max-queued-per-key",
        "1",
        "--rate-limit",
        "6",
        "--rate-burst",
        "3",
        "--max-event-streams-per-key",
        "1",
        "--max-steps",
        "5000",
    ]);
    let rt = rt();
    let c = client();
    // A long job of A's keeps the worker busy for the whole test.
    let long = [("prompt", PROMPT), ("steps", "5000")];
    rt.block_on(async {
        let a = submit(&c, &server, KEY_A, &long).await;
        let aid = a["id"].as_str().unwrap().to_string();

        // A is at its cap of one job: 429 at once, from the head alone (no body is sent).
        let ans = raw(
            &server,
            &post_head("/v1/edits", 32 << 20, Some(KEY_A)),
            b"",
            Duration::from_secs(3),
        );
        assert_eq!(status_of(&ans), 429, "{ans}");
        assert!(
            ans.contains("too_many_jobs") && ans.to_ascii_lowercase().contains("retry-after"),
            "{ans}"
        );

        // B: a job with an Idempotency-Key; its retry gets the same job.
        let first = c
            .post(server.url("/v1/edits"))
            .bearer_auth(KEY_B)
            .header("Idempotency-Key", "order-77")
            .multipart(edit_form(test_png(), &long))
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 202);
        let first: Value = first.json().await.unwrap();
        let retry = c
            .post(server.url("/v1/edits"))
            .bearer_auth(KEY_B)
            .header("Idempotency-Key", "order-77")
            .multipart(edit_form(test_png(), &long))
            .send()
            .await
            .unwrap();
        assert_eq!(retry.status(), 202);
        assert_eq!(retry.headers()["idempotent-replayed"], "true");
        let retry: Value = retry.json().await.unwrap();
        assert_eq!(retry["id"], first["id"]);

        // The queue holds two jobs, its capacity: C's edit is refused from its head.
        let ans = raw(
            &server,
            &post_head("/v1/edits", 32 << 20, Some(KEY_C)),
            b"",
            Duration::from_secs(3),
        );
        assert_eq!(status_of(&ans), 429, "{ans}");
        assert!(ans.contains("queue_full"), "{ans}");

        // A's token bucket (3, refilled at one each 10 s): its 1st and 2nd requests were taken
        // above; a 3rd, then the 4th is over the rate.
        let mut codes = Vec::new();
        let mut retry_after = None;
        for _ in 0..2 {
            let r = c
                .post(server.url("/v1/edits"))
                .bearer_auth(KEY_A)
                .multipart(edit_form(test_png(), &long))
                .send()
                .await
                .unwrap();
            codes.push(r.status().as_u16());
            let body: Value = r.json().await.unwrap();
            if body["error"]["code"] == "rate_limited" {
                retry_after = Some(body.clone());
            }
        }
        assert_eq!(codes, [429, 429], "{codes:?}");
        assert!(retry_after.is_some(), "no rate_limited answer");

        // Event streams: one per key here.
        let ev = c
            .get(server.url(&format!("/v1/edits/{aid}/events")))
            .bearer_auth(KEY_A)
            .send()
            .await
            .unwrap();
        assert_eq!(ev.status(), 200);
        let second = c
            .get(server.url(&format!("/v1/edits/{aid}/events")))
            .bearer_auth(KEY_A)
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), 429);
        let body: Value = second.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_streams");
        drop(ev);
        // The closed stream's place is free again (the server sees the close at its next write:
        // the keep-alive comment every 15 s at the latest, or a status event).
        let t0 = Instant::now();
        loop {
            let r = c
                .get(server.url(&format!("/v1/edits/{aid}/events")))
                .bearer_auth(KEY_A)
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "the stream's place was not freed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let m = c
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for reason in [
            "too_many_jobs",
            "queue_full",
            "rate_limited",
            "too_many_streams",
        ] {
            assert!(
                metric(
                    &m,
                    &format!("physedit_http_rejections_total{{reason=\"{reason}\"}}")
                ) >= 1.0,
                "{reason}:\n{m}"
            );
        }
    });
}

/// Sends a request with `key` (None: none); returns the status and JSON body.
async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    key: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut rb = c.request(method, url);
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

#[test]
fn keys_own_their_jobs_and_the_metrics_have_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, format!("# the team\n{KEY_B} bob\n")).unwrap();
    let server = Server::start_logging(
        &[
            "--api-key",
            KEY_A,
            "--api-keys-file",
            keys.to_str().unwrap(),
            "--metrics-key",
            METRICS_KEY,
            "--public-url",
            "https://edits.example.com/",
            "--log-format",
            "json",
        ],
        "info",
    );
    let rt = rt();
    let c = client();
    let get = reqwest::Method::GET;
    rt.block_on(async {
        // No key, a wrong key: 401 in OpenAI's shape, before anything else is looked at.
        for (key, code) in [
            (None, Value::Null),
            (Some("sk-wrong-00000000"), "invalid_api_key".into()),
        ] {
            for (method, path) in [
                (reqwest::Method::POST, "/v1/images/edits"),
                (reqwest::Method::POST, "/v1/edits"),
                (get.clone(), "/v1/models"),
                (
                    get.clone(),
                    "/v1/edits/edit_00000000000000000000000000000000",
                ),
            ] {
                let (status, body, headers) = call(&c, method, &server.url(path), key).await;
                assert_eq!(status, 401, "{path} {key:?}: {body}");
                assert_error_shape(&body);
                assert_eq!(body["error"]["code"], code, "{body}");
                assert_eq!(body["error"]["type"], "invalid_request_error");
                assert_eq!(headers["www-authenticate"], "Bearer");
            }
        }
        // Health needs no key.
        assert_eq!(
            call(&c, get.clone(), &server.url("/healthz"), None).await.0,
            200
        );

        // A's job, with the client's request id carried into it.
        let r = c
            .post(server.url("/v1/images/edits"))
            .bearer_auth(KEY_A)
            .header("x-request-id", "client-req-42")
            .header("host", "evil.example")
            .multipart(edit_form(
                test_png(),
                &[
                    ("prompt", PROMPT),
                    ("steps", "2"),
                    ("response_format", "url"),
                ],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-request-id"], "client-req-42");
        let v: Value = r.json().await.unwrap();
        let url = v["data"][0]["url"].as_str().unwrap();
        assert!(
            url.starts_with("https://edits.example.com/v1/edits/edit_"),
            "the url comes from --public-url, never Host: {url}"
        );
        let id = v["physedit"]["id"].as_str().unwrap().to_string();
        assert_eq!(v["physedit"]["request_id"], "client-req-42");
        let job = |p: &str| server.url(&format!("/v1/edits/{id}{p}"));

        // B (from the keys file) cannot see A's job: 404 as for a job that does not exist.
        for (method, path) in [
            (get.clone(), ""),
            (get.clone(), "/image"),
            (get.clone(), "/events"),
            (reqwest::Method::DELETE, ""),
        ] {
            let (status, body, _) = call(&c, method.clone(), &job(path), Some(KEY_B)).await;
            assert_eq!(status, 404, "B {method} {path}: {body}");
            assert_error_shape(&body);
        }
        let (status, body, _) = call(&c, get.clone(), &job(""), Some(KEY_A)).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "succeeded");
        assert_eq!(body["request_id"], "client-req-42");
        assert!(body.get("owner").is_none(), "{body}");
        assert_eq!(
            call(&c, get.clone(), &job("/image"), Some(KEY_A)).await.0,
            200
        );

        // /metrics: its own key; an API key is not it.
        assert_eq!(
            call(&c, get.clone(), &server.url("/metrics"), None).await.0,
            401
        );
        let (status, body, _) = call(&c, get.clone(), &server.url("/metrics"), Some(KEY_A)).await;
        assert_eq!(status, 403, "{body}");
        assert_error_shape(&body);
        let m = c
            .get(server.url("/metrics"))
            .bearer_auth(METRICS_KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metric(
                &m,
                "physedit_http_requests_total{route=\"/v1/images/edits\",code=\"200\"}"
            ) >= 1.0,
            "{m}"
        );
        assert!(
            metric(
                &m,
                "physedit_http_rejections_total{reason=\"invalid_api_key\"}"
            ) >= 4.0
        );
        assert!(metric(&m, "physedit_decode_seconds_count") >= 1.0, "{m}");

        // A new key in the file takes effect on SIGHUP; the old one stops working.
        std::fs::write(&keys, format!("{KEY_C} carol\n")).unwrap();
        let pid = server.proc.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
        let t0 = Instant::now();
        while call(&c, get.clone(), &server.url("/v1/models"), Some(KEY_C))
            .await
            .0
            != 200
        {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "SIGHUP did not load the new key"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            call(&c, get.clone(), &server.url("/v1/models"), Some(KEY_B))
                .await
                .0,
            401
        );
        assert_eq!(
            call(&c, get.clone(), &server.url("/v1/models"), Some(KEY_A))
                .await
                .0,
            200
        );
    });
    // The access log: one JSON object a request, with its id, route, status and key's name.
    let log = server.proc.log();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["request_id"] == "client-req-42" && v["route"] == "/v1/images/edits")
        .unwrap_or_else(|| panic!("no access-log line for client-req-42:\n{log}"));
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["key"].as_str().unwrap().starts_with("key-"), "{line}");
    // The worker's lines for the job it made carry the same id (in the job's span).
    let worker_lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["span"]["request_id"] == "client-req-42")
        .collect();
    for message in ["running", "succeeded"] {
        assert!(
            worker_lines.iter().any(|v| v["message"] == message),
            "no worker line {message:?} with the request id:\n{log}"
        );
    }
    assert!(
        !log.contains(KEY_A) && !log.contains(KEY_B),
        "a key reached the log"
    );
}

#[test]
fn without_keys_only_loopback_is_served() {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--insecure-no-auth") && err.contains("--api-key"),
        "{err}"
    );
    // A key too short to be one.
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--api-key", "abc"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--api-key"));
}

/// The official `openai` Python client against a server with keys: it works with a key, is
/// refused without the right one, and another key cannot fetch its job. Skipped (with the reason
/// printed) where Python or the `openai` package is missing, as in CI; PHYSEDIT_PYTHON names the
/// interpreter (default python3).
#[test]
fn the_openai_client_uses_keys() {
    let python = std::env::var("PHYSEDIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import openai"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "skipped: {python} has no `openai` package ({})",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: no Python interpreter {python}: {e}");
            return;
        }
    }
    let server = Server::start(&["--api-key", KEY_A, "--api-key", KEY_B]);
    let out = Command::new(&python)
        .arg(root().join("tools/serve/openai_keys.py"))
        .args([
            "--base-url",
            &server.url("/v1"),
            "--key",
            KEY_A,
            "--other-key",
            KEY_B,
        ])
        .arg("--image")
        .arg(test_image())
        .args(["--prompt", PROMPT])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}\n{}", server.proc.log());
    for needle in [
        "with the key: ok",
        "without a key: AuthenticationError 401",
        "with a wrong key: AuthenticationError 401",
        "another key on the job: 404",
        "the owner on the job: 200",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}
