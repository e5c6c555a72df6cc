//! Models named by Hugging Face id (`--model ORG/NAME[@REVISION]`), through the binary: offline from a
//! hub cache laid out as `huggingface_hub` writes it, and online against a loopback hub that answers
//! as huggingface.co does (API listing, resolve with a 302 to a CDN on another origin, ETag /
//! X-Linked-Etag / X-Repo-Commit, ranges) and can cut a download short.
//!
//! The reference layout, tests/fixtures/hub_layout/layout.json, is what `huggingface_hub`'s
//! `snapshot_download` wrote for the tiny pipeline (tools/reference/hub_layout.py); its blob names
//! (git blob sha1 for regular files, sha256 for LFS files, as the hub names them) are what the
//! loopback hub answers here, and the offline caches are built from it.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::Device;

use crate::common::{fixture, max_abs_diff};

const REPO: &str = "physedit-test/tiny-pipeline";
/// Files the repo lists beside the pipeline; none may be requested.
const EXTRAS: [&str; 5] = [
    "README.md",
    "lora/chronoedit_distill_lora.safetensors",
    "upscaler/model.safetensors",
    "transformer/diffusion_pytorch_model.bin",
    "assets/demo.png",
];
const CUT_FILE: &str = "transformer/diffusion_pytorch_model.safetensors";

/// The reference layout: commit, entries, and each snapshot path's blob name.
struct Layout {
    commit: String,
    entries: Vec<String>,
    blobs: BTreeMap<String, String>,
}

fn layout() -> &'static Layout {
    static L: OnceLock<Layout> = OnceLock::new();
    L.get_or_init(|| {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture("hub_layout").join("layout.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["repo"], REPO);
        let commit = v["commit"].as_str().unwrap().to_string();
        let entries: Vec<String> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .collect();
        let prefix = format!("snapshots/{commit}/");
        let blobs = entries
            .iter()
            .filter_map(|e| {
                let (path, target) = e.strip_prefix(&prefix)?.split_once(" -> ")?;
                Some((path.to_string(), target.rsplit('/').next()?.to_string()))
            })
            .collect();
        Layout {
            commit,
            entries,
            blobs,
        }
    })
}

fn pipeline_file(path: &str) -> Vec<u8> {
    std::fs::read(fixture("tiny_a").join("pipeline").join(path)).unwrap()
}

/// A hub cache holding the tiny pipeline exactly as the reference layout lists it, plus `extra_refs`.
fn make_cache(cache: &Path, extra_refs: &[&str]) -> PathBuf {
    let l = layout();
    let repo_dir = cache.join(format!("models--{}", REPO.replace('/', "--")));
    for entry in &l.entries {
        if let Some((link, target)) = entry.split_once(" -> ") {
            let pointer = repo_dir.join(link);
            std::fs::create_dir_all(pointer.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, &pointer).unwrap();
            let path = link.splitn(3, '/').nth(2).unwrap();
            let blob = pointer.parent().unwrap().join(target);
            std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
            std::fs::write(blob, pipeline_file(path)).unwrap();
        } else if let Some((r, commit)) = entry.split_once(" = ") {
            std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
            std::fs::write(repo_dir.join(r), commit).unwrap();
        }
    }
    for r in extra_refs {
        std::fs::write(repo_dir.join("refs").join(r), &l.commit).unwrap();
    }
    repo_dir
}

/// The cache folder of the repo as the reference script lists it.
fn list_layout(repo_dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push(format!("{rel} -> {}", t.display()));
            } else if meta.is_dir() {
                walk(root, &p, out);
            } else if rel.starts_with("refs/") {
                out.push(format!("{rel} = {}", std::fs::read_to_string(&p).unwrap()));
            } else {
                out.push(format!("{rel} {}", meta.len()));
            }
        }
    }
    let mut out = Vec::new();
    walk(repo_dir, repo_dir, &mut out);
    out.sort();
    out
}

/// `physedit` with no hub settings from the environment but the cache and endpoint given.
fn physedit(home: &Path, endpoint: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_physedit"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HF_") || k.starts_with("HUGGING") || k == "TRANSFORMERS_OFFLINE" {
            c.env_remove(k);
        }
    }
    c.env("HF_HOME", home.join("hf-home"))
        .env("HF_HUB_CACHE", home.join("cache"))
        .env("HF_ENDPOINT", endpoint)
        .env("NO_PROXY", "127.0.0.1,localhost");
    c
}

/// Runs a small seeded edit with `--model model`; the frames land in `frames`.
fn edit(mut cmd: Command, model: &str, frames: &Path) -> Output {
    let dir = fixture("tiny_a");
    let out = frames.with_extension("png");
    cmd.args(["edit", "--model", model, "--image"])
        .arg(dir.join("input.png"))
        .args(["--prompt", "Turn the red apple into a yellow banana."])
        .args(["--steps", "2", "--height", "32", "--width", "48"])
        .args(["--num-frames", "5", "--seed", "3", "--frames-out"])
        .arg(frames)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap()
}

fn frames_of(path: &Path) -> candle_core::Tensor {
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()["frames"].clone()
}

/// The frames of the same edit from the fixture folder itself (computed once).
fn folder_frames() -> &'static candle_core::Tensor {
    static F: OnceLock<candle_core::Tensor> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let frames = tmp.path().join("frames.safetensors");
        let folder = fixture("tiny_a").join("pipeline");
        let res = edit(
            physedit(tmp.path(), CLOSED),
            folder.to_str().unwrap(),
            &frames,
        );
        assert!(res.status.success(), "{}", stderr(&res));
        frames_of(&frames)
    })
}

/// An endpoint where nothing listens.
const CLOSED: &str = "http://127.0.0.1:9";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_same_frames(res: &Output, frames: &Path, what: &str) {
    assert!(res.status.success(), "{what}: {}", stderr(res));
    let d = max_abs_diff(&frames_of(frames), folder_frames());
    // The same weights through the same code: identical frames.
    assert_eq!(d, 0.0, "{what}: frames differ from the folder's by {d}");
}

fn expect_error(res: &Output, needles: &[&str]) {
    let err = stderr(res);
    assert!(
        !res.status.success(),
        "expected a failure, got success: {err}"
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    for n in needles {
        assert!(err.contains(n), "message lacks `{n}`: {err}");
    }
}

#[test]
fn offline_cache_gives_the_folders_frames_for_branch_tag_and_commit() {
    let tmp = tempfile::tempdir().unwrap();
    make_cache(&tmp.path().join("cache"), &["v1"]);
    let commit = &layout().commit;
    for (i, spec) in [
        REPO.to_string(),
        format!("{REPO}@v1"),
        format!("{REPO}@{commit}"),
    ]
    .iter()
    .enumerate()
    {
        let frames = tmp.path().join(format!("frames{i}.safetensors"));
        let mut cmd = physedit(tmp.path(), CLOSED);
        cmd.env("HF_HUB_OFFLINE", "1");
        assert_same_frames(&edit(cmd, spec, &frames), &frames, spec);
    }
}

#[test]
fn offline_missing_files_are_named_with_the_repo() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = make_cache(&tmp.path().join("cache"), &[]);
    let frames = tmp.path().join("f.safetensors");
    let offline = || {
        let mut c = physedit(tmp.path(), CLOSED);
        c.env("HF_HUB_OFFLINE", "1");
        c
    };
    // A revision never downloaded.
    let res = edit(offline(), &format!("{REPO}@v2"), &frames);
    expect_error(&res, &[REPO, "refs/v2", "HF_HUB_OFFLINE"]);
    // A blob gone from under its link.
    let blob = &layout().blobs[CUT_FILE];
    std::fs::remove_file(repo_dir.join("blobs").join(blob)).unwrap();
    let res = edit(offline(), REPO, &frames);
    expect_error(&res, &[REPO, CUT_FILE, blob, "HF_HUB_OFFLINE"]);
    std::fs::write(repo_dir.join("blobs").join(blob), pipeline_file(CUT_FILE)).unwrap();
    // A config missing from the snapshot.
    let snap = repo_dir.join("snapshots").join(&layout().commit);
    std::fs::remove_file(snap.join("vae/config.json")).unwrap();
    let res = edit(offline(), REPO, &frames);
    expect_error(&res, &[REPO, "vae/config.json", "HF_HUB_OFFLINE"]);
    assert!(!frames.exists());
}

/// One request as the loopback hub saw it.
#[derive(Debug, Clone)]
struct Seen {
    cdn: bool,
    method: String,
    path: String,
    range: Option<String>,
    auth: Option<String>,
}

#[derive(Default)]
struct HubState {
    seen: Vec<Seen>,
    /// Required `Authorization: Bearer` token.
    token: Option<String>,
    /// Cut the body of this blob at this offset, this many more times.
    cut: Option<(String, u64, usize)>,
    /// Names the listing adds to the repo's files.
    extra_siblings: Vec<String>,
}

/// A loopback hub (API and resolve) and CDN (blobs, with ranges) serving the tiny pipeline and
/// [`EXTRAS`] at the reference commit.
struct LoopbackHub {
    endpoint: String,
    state: Arc<Mutex<HubState>>,
}

struct Repo {
    commit: String,
    /// path -> (contents, blob name)
    files: BTreeMap<String, (Vec<u8>, String)>,
    cdn: String,
}

impl LoopbackHub {
    fn start() -> Self {
        let l = layout();
        let mut files: BTreeMap<String, (Vec<u8>, String)> = l
            .blobs
            .iter()
            .map(|(p, b)| (p.clone(), (pipeline_file(p), b.clone())))
            .collect();
        for (i, e) in EXTRAS.iter().enumerate() {
            files.insert(e.to_string(), (vec![7u8; 64], format!("{:040x}", i + 1)));
        }
        let hub = TcpListener::bind("127.0.0.1:0").unwrap();
        let cdn = TcpListener::bind("127.0.0.1:0").unwrap();
        let repo = Arc::new(Repo {
            commit: l.commit.clone(),
            files,
            cdn: format!("http://{}", cdn.local_addr().unwrap()),
        });
        let state = Arc::new(Mutex::new(HubState::default()));
        for (listener, is_cdn) in [(hub.try_clone().unwrap(), false), (cdn, true)] {
            let (repo, state) = (repo.clone(), state.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (repo, state) = (repo.clone(), state.clone());
                    std::thread::spawn(move || serve(stream, is_cdn, &repo, &state));
                }
            });
        }
        Self {
            endpoint: format!("http://{}", hub.local_addr().unwrap()),
            state,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn serve(stream: TcpStream, cdn: bool, repo: &Repo, state: &Mutex<HubState>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let seen = Seen {
        cdn,
        method: method.clone(),
        path: path.clone(),
        range: headers.get("range").cloned(),
        auth: headers.get("authorization").cloned(),
    };
    state.lock().unwrap().seen.push(seen.clone());
    let mut out = stream;
    let reply = if cdn {
        cdn_reply(&seen, repo, state)
    } else {
        hub_reply(&seen, repo, state)
    };
    let (status, hdrs, body, cut_at) = reply;
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in &hdrs {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !hdrs.iter().any(|(k, _)| k == "Content-Length") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    if method != "HEAD" {
        let n = cut_at.unwrap_or(body.len()).min(body.len());
        let _ = out.write_all(&body[..n]);
    }
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}

type Reply = (String, Vec<(String, String)>, Vec<u8>, Option<usize>);

fn error_reply(status: &str, code: &str) -> Reply {
    let h = vec![("X-Error-Code".to_string(), code.to_string())];
    (status.to_string(), h, Vec::new(), None)
}

fn hub_reply(seen: &Seen, repo: &Repo, state: &Mutex<HubState>) -> Reply {
    if let Some(t) = &state.lock().unwrap().token {
        if seen.auth.as_deref() != Some(&format!("Bearer {t}")) {
            let h = vec![(
                "X-Error-Message".to_string(),
                "Invalid credentials in Authorization header".to_string(),
            )];
            return ("401 Unauthorized".into(), h, Vec::new(), None);
        }
    }
    let api = format!("/api/models/{REPO}/revision/");
    if let Some(rev) = seen.path.strip_prefix(&api) {
        if rev != "main" && rev != repo.commit {
            return error_reply("404 Not Found", "RevisionNotFound");
        }
        let extra = state.lock().unwrap().extra_siblings.clone();
        let siblings: Vec<serde_json::Value> = repo
            .files
            .keys()
            .chain(extra.iter())
            .map(|f| serde_json::json!({ "rfilename": f }))
            .collect();
        let body = serde_json::json!({"id": REPO, "sha": repo.commit, "siblings": siblings});
        let h = vec![("Content-Type".into(), "application/json".into())];
        return ("200 OK".into(), h, body.to_string().into_bytes(), None);
    }
    let resolve = format!("/{REPO}/resolve/{}/", repo.commit);
    let Some(file) = seen.path.strip_prefix(&resolve) else {
        return error_reply("404 Not Found", "RepoNotFound");
    };
    let Some((data, blob)) = repo.files.get(file) else {
        return error_reply("404 Not Found", "EntryNotFound");
    };
    let mut h = vec![("X-Repo-Commit".to_string(), repo.commit.clone())];
    if file.ends_with(".safetensors") {
        h.push(("Location".into(), format!("{}/cdn/{blob}", repo.cdn)));
        h.push(("X-Linked-Etag".into(), format!("\"{blob}\"")));
        h.push(("X-Linked-Size".into(), data.len().to_string()));
        h.push(("ETag".into(), "\"not-the-blob\"".into()));
        return ("302 Found".into(), h, Vec::new(), None);
    }
    h.push(("ETag".into(), format!("W/\"{blob}\"")));
    ("200 OK".into(), h, data.clone(), None)
}

fn cdn_reply(seen: &Seen, repo: &Repo, state: &Mutex<HubState>) -> Reply {
    let blob = seen.path.trim_start_matches("/cdn/");
    let Some((data, _)) = repo.files.values().find(|(_, b)| b == blob) else {
        return error_reply("404 Not Found", "");
    };
    let start: usize = seen
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or(0);
    let mut cut_at = None;
    if let Some((b, at, times)) = &mut state.lock().unwrap().cut {
        if b == blob && *times > 0 {
            *times -= 1;
            cut_at = Some((*at as usize).saturating_sub(start));
        }
    }
    let body = data[start.min(data.len())..].to_vec();
    if seen.range.is_some() {
        let range = format!("bytes {start}-{}/{}", data.len() - 1, data.len());
        let h = vec![("Content-Range".to_string(), range)];
        return ("206 Partial Content".into(), h, body, cut_at);
    }
    ("200 OK".into(), Vec::new(), body, cut_at)
}

fn cut_offset() -> u64 {
    pipeline_file(CUT_FILE).len() as u64 / 2
}

/// Checks the cache the downloads wrote: the reference layout, each file byte for byte, and that
/// nothing but pipeline files was asked for, the token went to the hub and not to the CDN.
fn check_download(tmp: &Path, hub: &LoopbackHub) {
    let repo_dir = tmp
        .join("cache")
        .join(format!("models--{}", REPO.replace('/', "--")));
    assert_eq!(list_layout(&repo_dir), layout().entries, "cache layout");
    let snap = repo_dir.join("snapshots").join(&layout().commit);
    for path in layout().blobs.keys() {
        let got = std::fs::read(snap.join(path)).unwrap();
        assert!(got == pipeline_file(path), "{path} differs");
    }
    for s in hub.seen() {
        for extra in EXTRAS {
            assert!(!s.path.ends_with(extra), "requested {extra}: {s:?}");
        }
        if s.cdn {
            assert!(s.auth.is_none(), "the token went to the CDN: {s:?}");
        } else {
            assert_eq!(s.auth.as_deref(), Some("Bearer hf_loopback"), "{s:?}");
        }
    }
}

fn cut_requests(hub: &LoopbackHub) -> Vec<Seen> {
    let blob = &layout().blobs[CUT_FILE];
    hub.seen()
        .into_iter()
        .filter(|s| s.cdn && s.path.ends_with(blob.as_str()) && s.method == "GET")
        .collect()
}

#[test]
fn download_resumes_after_a_cut_and_fetches_only_pipeline_files() {
    let hub = LoopbackHub::start();
    let cut = cut_offset();
    {
        let mut st = hub.state.lock().unwrap();
        st.token = Some("hf_loopback".into());
        st.cut = Some((layout().blobs[CUT_FILE].clone(), cut, 1));
    }
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames.safetensors");
    let mut cmd = physedit(tmp.path(), &hub.endpoint);
    cmd.env("HF_TOKEN", "hf_loopback");
    let res = edit(cmd, REPO, &frames);
    assert_same_frames(&res, &frames, "downloaded");
    let gets = cut_requests(&hub);
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[0].range, None);
    assert_eq!(gets[1].range.as_deref(), Some(&*format!("bytes={cut}-")));
    check_download(tmp.path(), &hub);
}

#[test]
fn download_cut_in_one_run_resumes_in_the_next() {
    let hub = LoopbackHub::start();
    let cut = cut_offset();
    let blob = layout().blobs[CUT_FILE].clone();
    {
        let mut st = hub.state.lock().unwrap();
        st.cut = Some((blob.clone(), cut, usize::MAX));
    }
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames.safetensors");
    // The token comes from the token file this time.
    std::fs::create_dir_all(tmp.path().join("hf-home")).unwrap();
    std::fs::write(tmp.path().join("hf-home/token"), "hf_loopback\n").unwrap();
    let res = edit(physedit(tmp.path(), &hub.endpoint), REPO, &frames);
    expect_error(&res, &[REPO, CUT_FILE, "resumed by the next run"]);
    let incomplete = tmp
        .path()
        .join("cache")
        .join(format!("models--{}", REPO.replace('/', "--")))
        .join("blobs")
        .join(format!("{blob}.incomplete"));
    assert_eq!(std::fs::metadata(&incomplete).unwrap().len(), cut);

    let first_run = cut_requests(&hub).len();
    hub.state.lock().unwrap().cut = None;
    let res = edit(physedit(tmp.path(), &hub.endpoint), REPO, &frames);
    assert_same_frames(&res, &frames, "resumed");
    let gets = cut_requests(&hub);
    assert_eq!(gets.len(), first_run + 1, "{gets:?}");
    assert_eq!(
        gets[first_run].range.as_deref(),
        Some(&*format!("bytes={cut}-"))
    );
    assert!(!incomplete.exists());
    hub.state.lock().unwrap().token = Some("hf_loopback".into());
    check_download(tmp.path(), &hub);
}

#[test]
fn cost_fetches_configs_only() {
    let hub = LoopbackHub::start();
    let tmp = tempfile::tempdir().unwrap();
    let res = physedit(tmp.path(), &hub.endpoint)
        .args(["cost", "--model", REPO])
        .output()
        .unwrap();
    assert!(res.status.success(), "{}", stderr(&res));
    let seen = hub.seen();
    assert!(seen
        .iter()
        .any(|s| s.path.ends_with("transformer/config.json")));
    assert!(
        seen.iter().all(|s| !s.cdn),
        "weights were fetched: {seen:?}"
    );
}

#[test]
fn hub_refusals_and_absence_are_clear() {
    let hub = LoopbackHub::start();
    hub.state.lock().unwrap().token = Some("hf_loopback".into());
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("f.safetensors");
    let with_token = |t: &str| {
        let mut c = physedit(tmp.path(), &hub.endpoint);
        c.env("HF_TOKEN", t);
        c
    };
    let res = edit(with_token("hf_wrong"), REPO, &frames);
    expect_error(&res, &[REPO, "refused the token from HF_TOKEN", "401"]);
    let res = edit(physedit(tmp.path(), &hub.endpoint), REPO, &frames);
    expect_error(&res, &[REPO, "no token was sent", "HF_TOKEN"]);
    let res = edit(with_token("hf_loopback"), "physedit-test/absent", &frames);
    expect_error(&res, &["physedit-test/absent", "repository not found"]);
    let res = edit(with_token("hf_loopback"), &format!("{REPO}@nope"), &frames);
    expect_error(&res, &[REPO, "revision `nope` does not exist"]);
    let res = edit(physedit(tmp.path(), CLOSED), REPO, &frames);
    expect_error(&res, &[REPO, "cannot reach the hub at http://127.0.0.1:9"]);
    // A path-shaped value that is no folder and no id keeps the folder message.
    let res = edit(physedit(tmp.path(), CLOSED), "/no/such/folder", &frames);
    expect_error(&res, &["model folder /no/such/folder does not exist"]);
    assert!(!tmp
        .path()
        .join("cache")
        .join("models--physedit-test--absent")
        .join("snapshots")
        .exists());
}

#[test]
fn hostile_listing_names_are_refused() {
    let hub = LoopbackHub::start();
    hub.state.lock().unwrap().extra_siblings = vec!["../../../evil.json".into()];
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("f.safetensors");
    let res = edit(physedit(tmp.path(), &hub.endpoint), REPO, &frames);
    expect_error(
        &res,
        &[REPO, "../../../evil.json", "not a safe relative path"],
    );
    assert!(hub.seen().iter().all(|s| !s.path.contains("/resolve/")));
    assert!(!tmp.path().join("evil.json").exists());
}
