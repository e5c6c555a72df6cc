//! The queues under stress, with real `physedit serve`, `physedit worker` and `redis-server`
//! processes: the embedded queue's state file across a SIGKILL, the result byte budget, the dead
//! letter, cancelling a running job, a Redis restart, pub/sub wake-ups, TLS with a password, and
//! the SIGTERM drain.
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::serve::{
    client, free_port, metric, reqwest, rt, start_worker, submit_async, wait_terminal, Proc, Redis,
    Server, BIN, PROMPT,
};

/// A job long enough to be caught running and stopped (the tiny model takes 0.05-0.5 s a step on
/// a loaded 2-core machine; an edit's encode and decode take 1-4 s more).
const LONG: &str = "200";
/// A job caught running that still finishes in seconds.
const SHORT: &str = "12";

fn sigterm(p: &Proc) {
    let ok = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
}

fn wait_exit(p: &mut Proc, timeout: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            return s;
        }
        assert!(
            t0.elapsed() < timeout,
            "still running after {timeout:?}:\n{}",
            p.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn status(c: &reqwest::Client, s: &Server, id: &str) -> Value {
    c.get(s.url(&format!("/v1/edits/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until job `id` is running at step >= `step`.
async fn wait_running(c: &reqwest::Client, s: &Server, id: &str, step: u64) -> Value {
    let t0 = Instant::now();
    loop {
        let v = status(c, s, id).await;
        if v["status"] == "running" && v["progress"]["step"].as_u64().unwrap_or(0) >= step {
            return v;
        }
        assert!(
            v["status"] == "queued" || v["status"] == "running",
            "job {id} ended before it was caught running: {v}"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "job {id} never ran: {v}\n{}",
            s.proc.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn submit(c: &reqwest::Client, s: &Server, steps: &str) -> String {
    let r = submit_async(c, s, &[("prompt", PROMPT), ("steps", steps)]).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// One Redis command; its reply as text (RESP framing kept), read until the connection is idle.
fn redis_bulk(port: u16, args: &[&str]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn readyz(s: &Server) -> u16 {
    reqwest::blocking_get(&s.url("/readyz")).unwrap_or(0)
}

async fn metrics(c: &reqwest::Client, s: &Server) -> String {
    c.get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn a_sigkilled_embedded_serve_loses_and_repeats_no_job() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let rt = rt();
    let c = client();
    let mut server = Server::start(&["--state", dir]);
    let (done, ids) = rt.block_on(async {
        // A job finished before the kill: its result must survive it.
        let done = submit(&c, &server, "2").await;
        assert_eq!(
            wait_terminal(&c, &server, &done, Duration::from_secs(60)).await["status"],
            "succeeded"
        );
        let mut ids = vec![submit(&c, &server, SHORT).await];
        for _ in 0..5 {
            ids.push(submit(&c, &server, "2").await);
        }
        wait_running(&c, &server, &ids[0], 1).await;
        for id in &ids[1..] {
            assert_eq!(status(&c, &server, id).await["status"], "queued");
        }
        (done, ids)
    });
    server.proc.kill();
    let server = Server::start(&["--state", dir]);
    rt.block_on(async {
        for (i, id) in ids.iter().enumerate() {
            let v = wait_terminal(&c, &server, id, Duration::from_secs(120)).await;
            assert_eq!(v["status"], "succeeded", "{v}");
            // The interrupted job reran (its second start); the queued ones ran once.
            assert_eq!(v["attempts"], if i == 0 { 2 } else { 1 }, "{v}");
        }
        let v = status(&c, &server, &done).await;
        assert_eq!(v["status"], "succeeded", "{v}");
        let img = c
            .get(server.url(&format!("/v1/edits/{done}/image")))
            .send()
            .await
            .unwrap();
        assert_eq!(img.status(), 200);
        // Each job completed once: the counters, kept in the state file, saw 7 successes.
        let m = metrics(&c, &server).await;
        assert_eq!(metric(&m, "physedit_jobs_total{state=\"succeeded\"}"), 7.0);
        assert_eq!(metric(&m, "physedit_jobs_total{state=\"submitted\"}"), 7.0);
    });
    // A second server on the same state directory is refused.
    let o = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--state", dir])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("in use by another process"), "{err}");
}

/// Job `a` then job `b`, with `--result-max-bytes 1`: `a`'s result is forgotten, `b`'s kept.
fn check_budget(server: &Server) {
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let a = submit(&c, server, "2").await;
        assert_eq!(
            wait_terminal(&c, server, &a, Duration::from_secs(60)).await["status"],
            "succeeded"
        );
        let b = submit(&c, server, "2").await;
        assert_eq!(
            wait_terminal(&c, server, &b, Duration::from_secs(60)).await["status"],
            "succeeded"
        );
        let r = c
            .get(server.url(&format!("/v1/edits/{a}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "the older result outlived the byte budget");
        let r = c
            .get(server.url(&format!("/v1/edits/{b}/image")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the newest result is always kept");
    });
}

#[test]
fn results_are_kept_within_a_byte_budget_in_both_stores() {
    check_budget(&Server::start(&["--result-max-bytes", "1"]));
    let redis = Redis::start();
    check_budget(&Server::start(&[
        "--queue",
        &redis.url(),
        "--result-max-bytes",
        "1",
    ]));
    assert_eq!(redis.cmd(&["ZCARD", "physedit:results"]), ":1");
}

#[test]
fn a_job_that_kills_its_worker_lands_in_the_dead_letter() {
    let redis = Redis::start();
    let vis = ["--visibility-timeout", "0.5"];
    let server = Server::start(&["--queue", &redis.url(), "--workers", "0", vis[0], vis[1]]);
    let rt = rt();
    let c = client();
    let poison_prompt = "Crash the worker, please.";
    let (poison, good) = rt.block_on(async {
        let r = submit_async(&c, &server, &[("prompt", poison_prompt), ("steps", "2")]).await;
        let poison = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut good = Vec::new();
        for _ in 0..2 {
            good.push(submit(&c, &server, "2").await);
        }
        (poison, good)
    });
    let spawn = |i: usize| {
        let name = format!("w{i}");
        let mut w = Proc::spawn(
            &name,
            Command::new(BIN)
                .args(["worker", "--queue", &redis.url(), "--name", &name])
                .args(vis)
                .env("PHYSEDIT_TEST_CRASH_ON_PROMPT", poison_prompt)
                .env("RUST_LOG", "info"),
        );
        w.wait_line("ready", Duration::from_secs(60));
        w
    };
    let mut crashes = 0;
    let mut w = spawn(0);
    let t0 = Instant::now();
    let verdict = loop {
        let v = rt.block_on(status(&c, &server, &poison));
        if v["status"] == "failed" {
            break v;
        }
        if !w.alive() {
            crashes += 1;
            w = spawn(crashes);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the poison job is still {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(crashes, 3, "the job should kill its worker exactly 3 times");
    assert_eq!(verdict["attempts"], 3, "{verdict}");
    let msg = verdict["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("dead letter") && msg.contains("3 times"),
        "{msg}"
    );
    rt.block_on(async {
        for id in &good {
            let v = wait_terminal(&c, &server, id, Duration::from_secs(60)).await;
            assert_eq!(v["status"], "succeeded", "{v}");
        }
        let m = metrics(&c, &server).await;
        assert_eq!(metric(&m, "physedit_dead_letters_total"), 1.0, "{m}");
    });
    assert_eq!(redis.cmd(&["XLEN", "physedit:dead"]), ":1");
    assert!(w.alive());
}

/// A running job cancelled: it stops at its next step (long before its end) and the worker takes
/// the next job.
fn check_cancel_running(server: &Server) {
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let a = submit(&c, server, LONG).await;
        let b = submit(&c, server, "2").await;
        wait_running(&c, server, &a, 1).await;
        let del = c
            .delete(server.url(&format!("/v1/edits/{a}")))
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 200);
        assert_eq!(del.json::<Value>().await.unwrap()["status"], "cancelled");
        let v = wait_terminal(&c, server, &b, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "succeeded", "the worker did not move on: {v}");
        let v = status(&c, server, &a).await;
        assert_eq!(v["status"], "cancelled", "{v}");
        assert!(v["progress"]["step"].as_u64().unwrap() < 200, "{v}");
        let m = metrics(&c, server).await;
        assert_eq!(metric(&m, "physedit_jobs{state=\"running\"}"), 0.0, "{m}");
    });
}

#[test]
fn a_running_job_is_cancelled_at_its_next_step() {
    check_cancel_running(&Server::start(&[]));
    let redis = Redis::start();
    let server = Server::start(&["--queue", &redis.url(), "--workers", "0"]);
    let _w = start_worker(&redis, "w1", &[]);
    check_cancel_running(&server);
}

#[test]
fn a_job_past_its_timeout_fails_and_the_next_one_runs() {
    // 15 s: room for a 2-step edit on a loaded machine, far from 100000 steps.
    let server = Server::start(&["--job-timeout", "15", "--max-steps", "100000"]);
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let a = submit(&c, &server, "100000").await;
        let b = submit(&c, &server, "2").await;
        let v = wait_terminal(&c, &server, &a, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "failed", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("--job-timeout"), "{msg}");
        let v = wait_terminal(&c, &server, &b, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "succeeded", "{v}");
    });
}

#[test]
fn waiting_requests_are_woken_by_redis_not_by_polling() {
    let redis = Redis::start();
    let server = Server::start(&["--queue", &redis.url(), "--workers", "0"]);
    let rt = rt();
    let c = client();
    let hmgets = || {
        let info = redis_bulk(redis.port, &["INFO", "commandstats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("cmdstat_hmget:calls="))
            .and_then(|v| v.split(',').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    rt.block_on(async {
        // No worker: the synchronous request waits on a queued job.
        let (c2, url) = (c.clone(), server.url("/v1/images/edits"));
        let waiting = tokio::spawn(async move {
            c2.post(url)
                .multipart(super::serve::edit_form(
                    super::serve::test_png(),
                    &[("prompt", PROMPT)],
                ))
                .send()
                .await
                .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = hmgets();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let during = hmgets() - before;
        // Woken only by changes (none here; a safety look every 10 s); 20 ms polling made 100.
        assert!(during <= 1, "{during} status reads in 2 s of waiting");
        // Its record expires (the job TTL) even while queued.
        assert_eq!(redis.cmd(&["XLEN", "physedit:queue"]), ":1");
        let entry = redis_bulk(redis.port, &["XRANGE", "physedit:queue", "-", "+"]);
        let id = entry
            .split_whitespace()
            .find(|w| w.starts_with("edit_"))
            .unwrap()
            .to_string();
        let ttl: i64 = redis.cmd(&["TTL", &format!("physedit:job:{id}")])[1..]
            .parse()
            .unwrap();
        assert!(
            ttl > 0 && ttl <= 86400,
            "the queued job's record has TTL {ttl}"
        );
        let t0 = Instant::now();
        let del = c
            .delete(server.url(&format!("/v1/edits/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 200);
        let r = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.status(), 409);
        assert!(
            t0.elapsed() < Duration::from_millis(500),
            "{:?}",
            t0.elapsed()
        );
    });
}

#[test]
fn jobs_queued_across_a_redis_restart_all_complete() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let dir = data.path().to_str().unwrap().to_string();
    // Persistence on (append-only file, fsync on every write): Redis restarts with its data.
    let durable = [
        "--dir",
        dir.as_str(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ];
    let mut redis = Redis::start_with(port, &durable);
    let server = Server::start(&["--queue", &redis.url(), "--workers", "0"]);
    let w = start_worker(&redis, "w1", &[]);
    let rt = rt();
    let c = client();
    let ids = rt.block_on(async {
        let mut ids = vec![submit(&c, &server, SHORT).await];
        for _ in 0..3 {
            ids.push(submit(&c, &server, "2").await);
        }
        wait_running(&c, &server, &ids[0], 1).await;
        ids
    });
    redis.proc.kill();
    let t0 = Instant::now();
    while readyz(&server) != 503 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "/readyz stayed ready without Redis"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(readyz(&server), 503);
    let redis = Redis::start_with(port, &durable);
    let t0 = Instant::now();
    while readyz(&server) != 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "/readyz not ready after Redis returned"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.block_on(async {
        for id in &ids {
            let v = wait_terminal(&c, &server, id, Duration::from_secs(120)).await;
            assert_eq!(v["status"], "succeeded", "{v}\n{}", w.log());
        }
    });
    // Redis back empty (its data lost): the group is recreated and new jobs run.
    drop(redis);
    let _redis = Redis::start_with(port, &["--save", "", "--appendonly", "no"]);
    let t0 = Instant::now();
    while readyz(&server) != 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "/readyz not ready after Redis returned empty"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.block_on(async {
        let id = submit(&c, &server, "2").await;
        let v = wait_terminal(&c, &server, &id, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "succeeded", "{v}\n{}", w.log());
    });
}

/// A CA and a server certificate for 127.0.0.1 / localhost, as PEM files in `dir`.
fn make_certs(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "physedit test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

#[test]
fn redis_with_tls_and_a_password() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let tls_port = free_port();
    let _redis = Redis::start_with(
        free_port(),
        &[
            "--save",
            "",
            "--appendonly",
            "no",
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &p("server.pem"),
            "--tls-key-file",
            &p("server.key"),
            "--tls-ca-cert-file",
            &p("ca.pem"),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            "s3cret-pw",
        ],
    );
    let url = format!("rediss://default:s3cret-pw@localhost:{tls_port}");
    let ca = p("ca.pem");
    let server = Server::start(&["--queue", &url, "--redis-ca", &ca, "--workers", "0"]);
    let mut w = Proc::spawn(
        "worker",
        Command::new(BIN).args([
            "worker",
            "--queue",
            &url,
            "--redis-ca",
            &ca,
            "--name",
            "tls",
        ]),
    );
    w.wait_line("ready", Duration::from_secs(60));
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let id = submit(&c, &server, "2").await;
        let v = wait_terminal(&c, &server, &id, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "succeeded", "{v}");
        assert_eq!(v["worker"], "tls");
    });
    // A wrong password and an unknown CA are refused, and the password is never printed.
    for (url, ca) in [
        (
            format!("rediss://default:wrong-pw@localhost:{tls_port}"),
            Some(ca.as_str()),
        ),
        (url.clone(), None),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--queue",
            &url,
        ]);
        if let Some(ca) = ca {
            cmd.args(["--redis-ca", ca]);
        }
        let o = cmd.output().unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("cannot connect to Redis"), "{err}");
        assert!(!err.contains("pw@"), "the password is printed: {err}");
    }
}

#[test]
fn sigterm_drains_the_embedded_queue() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let rt = rt();
    let c = client();
    let mut server = Server::start(&["--state", dir, "--drain-timeout", "0.5"]);
    let (a, b) = rt.block_on(async {
        let a = submit(&c, &server, LONG).await;
        let b = submit(&c, &server, "2").await;
        wait_running(&c, &server, &a, 1).await;
        (a, b)
    });
    sigterm(&server.proc);
    let t0 = Instant::now();
    // Not ready at once (the listener stays open while the job drains), no new job taken.
    while readyz(&server) != 503 {
        assert!(
            t0.elapsed() < Duration::from_millis(300),
            "/readyz still ready after SIGTERM"
        );
    }
    assert_eq!(rt.block_on(status(&c, &server, &b))["status"], "queued");
    let st = wait_exit(&mut server.proc, Duration::from_secs(20));
    assert!(st.success(), "exit status {st}:\n{}", server.proc.log());
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // Restarted: the drained job was requeued at the head (its attempt not counted), the queued
    // one never started before the stop.
    let server = Server::start(&["--state", dir]);
    rt.block_on(async {
        let v = wait_running(&c, &server, &a, 0).await;
        assert_eq!(v["attempts"], 1, "{v}");
        let del = c
            .delete(server.url(&format!("/v1/edits/{a}")))
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 200);
        let v = wait_terminal(&c, &server, &b, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "succeeded", "{v}");
        assert_eq!(v["attempts"], 1, "{v}");
    });
}

#[test]
fn sigterm_lets_a_worker_finish_its_job_and_take_no_other() {
    let redis = Redis::start();
    let server = Server::start(&["--queue", &redis.url(), "--workers", "0"]);
    let mut w1 = start_worker(&redis, "w1", &["--drain-timeout", "60"]);
    let rt = rt();
    let c = client();
    let (a, b) = rt.block_on(async {
        let a = submit(&c, &server, SHORT).await;
        let b = submit(&c, &server, "2").await;
        wait_running(&c, &server, &a, 1).await;
        (a, b)
    });
    sigterm(&w1);
    let st = wait_exit(&mut w1, Duration::from_secs(60));
    assert!(st.success(), "exit status {st}:\n{}", w1.log());
    rt.block_on(async {
        let v = status(&c, &server, &a).await;
        assert_eq!(
            v["status"], "succeeded",
            "the job in hand did not finish: {v}"
        );
        assert_eq!(v["worker"], "w1");
        assert_eq!(status(&c, &server, &b).await["status"], "queued");
    });
    let _w2 = start_worker(&redis, "w2", &[]);
    rt.block_on(async {
        let v = wait_terminal(&c, &server, &b, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "succeeded", "{v}");
        assert_eq!(v["worker"], "w2");
    });
}

#[test]
fn a_job_that_kills_the_embedded_serve_cannot_crash_every_restart() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let poison_prompt = "Crash the server, please.";
    let env = [("PHYSEDIT_TEST_CRASH_ON_PROMPT", poison_prompt)];
    let args = ["--state", dir, "--max-attempts", "2"];
    let rt = rt();
    let c = client();
    let mut server = Server::spawn(&args, &env);
    server.wait_ready();
    let (poison, good) = rt.block_on(async {
        // Both queued behind a long job, which is then cancelled: the worker takes the poison
        // job only once both are acknowledged.
        let first = submit(&c, &server, LONG).await;
        wait_running(&c, &server, &first, 0).await;
        let r = submit_async(&c, &server, &[("prompt", poison_prompt), ("steps", "2")]).await;
        assert_eq!(r.status(), 202);
        let poison = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let good = submit(&c, &server, "2").await;
        let del = c
            .delete(server.url(&format!("/v1/edits/{first}")))
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 200);
        (poison, good)
    });
    // Its first and second starts each take the process down (acknowledged jobs stay on disk).
    for start in 1..=2 {
        let st = wait_exit(&mut server.proc, Duration::from_secs(60));
        assert_eq!(st.code(), Some(70), "start {start}:\n{}", server.proc.log());
        server = Server::spawn(&args, &env);
    }
    server.wait_ready();
    rt.block_on(async {
        let v = wait_terminal(&c, &server, &poison, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "failed", "{v}");
        assert_eq!(v["attempts"], 2, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("dead letter"), "{msg}");
        let v = wait_terminal(&c, &server, &good, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "succeeded", "{v}");
    });
    assert!(server.proc.alive());
}

#[test]
fn a_worker_stuck_inside_a_step_loses_its_job_to_another() {
    let redis = Redis::start();
    let vis = ["--visibility-timeout", "1"];
    let server = Server::start(&["--queue", &redis.url(), "--workers", "0"]);
    let mut w1 = Proc::spawn(
        "w1",
        Command::new(BIN)
            .args(["worker", "--queue", &redis.url(), "--name", "w1"])
            .args(vis)
            .env("PHYSEDIT_TEST_STALL_ON_PROMPT", PROMPT),
    );
    w1.wait_line("ready", Duration::from_secs(60));
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let a = submit(&c, &server, "4").await;
        let v = wait_running(&c, &server, &a, 1).await;
        assert_eq!(v["worker"], "w1");
        // w1 hangs after its first step: its heartbeats stop with its step counter, and w2
        // claims the job once it has been silent for the visibility timeout.
        let _w2 = start_worker(&redis, "w2", &vis);
        let v = wait_terminal(&c, &server, &a, Duration::from_secs(60)).await;
        assert_eq!(v["status"], "succeeded", "{v}");
        assert_eq!(v["worker"], "w2", "{v}");
        assert_eq!(v["attempts"], 2, "{v}");
    });
    assert!(w1.alive(), "w1 was meant to hang, not die");
}
