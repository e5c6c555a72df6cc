//! Models named by Hugging Face id, `ORG/NAME[@REVISION]`, resolved through the hub cache laid out
//! and read as `huggingface_hub` does, so that Python and PhysEdit share one copy:
//!
//! ```text
//! $HF_HUB_CACHE/models--ORG--NAME/blobs/<etag>               file contents, named by their ETag
//!                                /snapshots/<commit>/<path>   relative symlinks to ../../blobs/<etag>
//!                                /refs/<revision>             the commit a branch or tag last named
//! ```
//!
//! Settings are read as `huggingface_hub` reads them (`constants.py`, `utils/_auth.py`): `HF_HOME`
//! (default `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`), `HF_HUB_CACHE` (else the
//! legacy `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`), `HF_ENDPOINT`, `HF_TOKEN` (else
//! `HUGGING_FACE_HUB_TOKEN`, else the file `HF_TOKEN_PATH` or `$HF_HOME/token`;
//! `HF_HUB_DISABLE_IMPLICIT_TOKEN` sends none), `HF_HUB_OFFLINE` / `TRANSFORMERS_OFFLINE` (cache only)
//! and `HF_HUB_DOWNLOAD_TIMEOUT`.
//!
//! Online, the revision is resolved to a commit with `GET {endpoint}/api/models/{repo}/revision/{rev}`
//! (its `sha` and `siblings`), and only the files PhysEdit reads are fetched ([`select_files`]):
//! `model_index.json`, `physedit.json` and, in each component folder `model_index.json` lists, the
//! configs, tokenizer files and the safetensors weights (an index and the shards it lists) — not the
//! repo's other folders (LoRAs, upscalers, pictures) nor pickles. Each file is resolved with `HEAD
//! {endpoint}/{repo}/resolve/{commit}/{path}` (redirects on the hub followed, not those to another
//! host such as a CDN, whose answer carries the file's identity; `X-Linked-Etag` or `ETag`
//! names the blob, `X-Repo-Commit` the commit, `X-Linked-Size` or `Content-Length` its size) and
//! fetched from where that points into `blobs/<etag>.incomplete`, resumed with `Range: bytes=N-`
//! after a cut (within a run, and by the next run), then renamed into place under the same per-blob
//! lock file `huggingface_hub` takes (`.locks/models--ORG--NAME/<etag>.lock`). A hub that refuses
//! (401/403/404) or cannot be reached falls back to the cache, as `snapshot_download` does.
//!
//! Parity: the layout (paths, symlink targets, refs) is tested against one that
//! `huggingface_hub.snapshot_download` (2.4.0) wrote from a loopback hub serving the same files under
//! the same rules (tests/fixtures/hub_layout, made by tools/reference/hub_layout.py, whose
//! `--physedit` run also checks that diffusers loads offline what PhysEdit fetched, and the reverse).
//! The tests (tests/it/hub.rs) run against a loopback hub only, never huggingface.co itself; proxies
//! come from `HTTP(S)_PROXY` / `NO_PROXY` as for any reqwest client. `huggingface_hub` since 1.x
//! writes partial downloads under a per-process name and does not resume them across runs; PhysEdit
//! keeps one `<etag>.incomplete` and resumes it. Xet-backed transfers are not used (plain HTTP, which
//! the hub serves for every file).
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

/// The revision used when an id names none.
pub const DEFAULT_REVISION: &str = "main";
/// The hub `HF_ENDPOINT` defaults to.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// How many times one download is resumed in a run after the connection drops without progress.
pub const DOWNLOAD_RETRIES: usize = 3;
/// Most bytes of an API answer (a repo listing) that are read.
const MAX_API_BYTES: u64 = 64 << 20;
/// Most relative redirects followed while resolving a file.
const MAX_REDIRECTS: usize = 10;

/// Which files a model needs: everything it runs with, or only its configs (for commands that read
/// shapes, such as `physedit cost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Weights,
    ConfigsOnly,
}

/// The model folder a `--model` value names: an existing local path as it is, else a Hugging Face id
/// `ORG/NAME[@REVISION]` resolved to its snapshot folder in the hub cache (downloading what is
/// missing unless offline).
pub fn resolve_model(spec: &Path) -> Result<PathBuf> {
    resolve_model_with(spec, Want::Weights)
}

/// [`resolve_model`], fetching only what `want` names.
pub fn resolve_model_with(spec: &Path, want: Want) -> Result<PathBuf> {
    if spec.exists() {
        return Ok(spec.to_path_buf());
    }
    let Some(text) = spec.to_str().filter(|s| HubId::looks_like(s)) else {
        bail!("model folder {} does not exist", spec.display());
    };
    let id = HubId::parse(text)?;
    let hub = Hub::new(HubEnv::from_env())?;
    hub.snapshot(&id, want).with_context(|| {
        format!("`{text}` is no local folder, and the Hugging Face repo could not be used")
    })
}

/// `ORG/NAME` and a revision (branch, tag or commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubId {
    pub repo: String,
    pub revision: String,
}

impl HubId {
    /// Whether `s` has the shape of an id rather than of a path: `ORG/NAME[@REV]`, one slash before
    /// any `@`, not starting with `/`, `.` or `~`.
    pub fn looks_like(s: &str) -> bool {
        let repo = s.split('@').next().unwrap_or("");
        repo.matches('/').count() == 1
            && !s.starts_with(['/', '.', '~'])
            && !s.contains('\\')
            && !repo.ends_with('/')
    }

    /// Parses `ORG/NAME[@REVISION]`, checking the id as `huggingface_hub.validate_repo_id` does
    /// (ASCII letters, digits, `-`, `_`, `.`; no `--` or `..`; at most 96 characters) and that the
    /// revision is a safe relative path (it names a file under `refs/`).
    pub fn parse(spec: &str) -> Result<Self> {
        let (repo, revision) = match spec.split_once('@') {
            Some((r, rev)) => (r, rev),
            None => (spec, DEFAULT_REVISION),
        };
        let bad =
            |why: &str| anyhow!("`{spec}` is not a Hugging Face id ORG/NAME[@REVISION]: {why}");
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() != 2 {
            return Err(bad("expected exactly one `/`"));
        }
        if repo.len() > 96 || repo.contains("--") || repo.contains("..") {
            return Err(bad("ids have at most 96 characters and no `--` or `..`"));
        }
        for p in &parts {
            let ok_chars = p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            let ok_ends = !p.is_empty() && !p.starts_with(['-', '.']) && !p.ends_with(['-', '.']);
            if !ok_chars || !ok_ends {
                return Err(bad(&format!(
                    "`{p}` may hold only letters, digits, `-`, `_` and `.`, not at its ends"
                )));
            }
        }
        if revision.is_empty() {
            return Err(bad("the revision after `@` is empty"));
        }
        safe_relative_path(revision).map_err(|e| bad(&format!("revision: {e}")))?;
        Ok(Self {
            repo: repo.to_string(),
            revision: revision.to_string(),
        })
    }

    /// The repo's folder in the cache, `models--ORG--NAME` (`repo_folder_name`).
    pub fn folder_name(&self) -> String {
        format!("models--{}", self.repo.replace('/', "--"))
    }
}

impl std::fmt::Display for HubId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.repo, self.revision)
    }
}

/// The hub settings, read from the environment as `huggingface_hub` reads them.
#[derive(Debug, Clone)]
pub struct HubEnv {
    /// The hub cache folder (`HF_HUB_CACHE`).
    pub cache: PathBuf,
    /// The hub's base URL, without a trailing `/`.
    pub endpoint: String,
    /// The token sent as `Authorization: Bearer`, and where it came from.
    pub token: Option<(String, String)>,
    /// Cache only, no network.
    pub offline: bool,
    /// Seconds to wait for an answer or for the next bytes of one.
    pub timeout: Duration,
}

impl HubEnv {
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// The settings that the variables `var` gives (a function, so tests need not touch the process
    /// environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let path = |v: String| PathBuf::from(expand_vars(&expand_user(&v, &var), &var));
        let home = var("HF_HOME").map(path).unwrap_or_else(|| {
            let xdg = var("XDG_CACHE_HOME").unwrap_or_else(|| expand_user("~/.cache", &var));
            PathBuf::from(xdg).join("huggingface")
        });
        let cache = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(path)
            .unwrap_or_else(|| home.join("hub"));
        let endpoint = var("HF_ENDPOINT")
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
            .trim_end_matches('/')
            .to_string();
        let offline =
            is_true(nonempty(var("HF_HUB_OFFLINE")).or_else(|| var("TRANSFORMERS_OFFLINE")));
        let token_path = var("HF_TOKEN_PATH")
            .map(path)
            .unwrap_or_else(|| home.join("token"));
        let token = if is_true(var("HF_HUB_DISABLE_IMPLICIT_TOKEN")) {
            None
        } else if let Some(t) =
            clean_token(nonempty(var("HF_TOKEN")).or_else(|| var("HUGGING_FACE_HUB_TOKEN")))
        {
            Some((t, "HF_TOKEN".to_string()))
        } else {
            let t = std::fs::read_to_string(&token_path).ok();
            clean_token(t).map(|t| (t, format!("the token file {}", token_path.display())))
        };
        let timeout = var("HF_HUB_DOWNLOAD_TIMEOUT")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(10);
        Self {
            cache,
            endpoint,
            token,
            offline,
            timeout: Duration::from_secs(timeout.max(1)),
        }
    }
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// `constants._is_true`: 1, ON, YES, TRUE in any case.
fn is_true(v: Option<String>) -> bool {
    v.map(|s| matches!(s.to_ascii_uppercase().as_str(), "1" | "ON" | "YES" | "TRUE"))
        .unwrap_or(false)
}

/// `_clean_token`: line breaks removed, spaces trimmed, empty means none.
fn clean_token(t: Option<String>) -> Option<String> {
    let t = t?.replace(['\r', '\n'], "");
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `os.path.expanduser` for a leading `~` or `~/`.
fn expand_user(s: &str, var: &impl Fn(&str) -> Option<String>) -> String {
    match (s.strip_prefix('~'), var("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => s.to_string(),
    }
}

/// `os.path.expandvars` (POSIX): `$NAME` and `${NAME}` replaced where set, left as they are otherwise.
fn expand_vars(s: &str, var: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(j) => (&b[..j], j + 2),
                None => ("", 0),
            }
        } else {
            let j = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..j], j)
        };
        match (name.is_empty(), var(name)) {
            (false, Some(v)) => out.push_str(&v),
            _ => out.push_str(&rest[i..i + 1 + len]),
        }
        rest = &rest[i + 1 + len..];
    }
    out.push_str(rest);
    out
}

/// Checks a relative path from outside (a file name in a repo listing, an index, a revision): no
/// empty, `.` or `..` components, not absolute, no backslash or NUL.
pub fn safe_relative_path(p: &str) -> Result<()> {
    if p.is_empty() || p.contains('\\') || p.contains('\0') || p.starts_with('/') {
        bail!("`{p}` is not a safe relative path");
    }
    for part in p.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            bail!("`{p}` is not a safe relative path (`{part}` component)");
        }
    }
    let all_normal = Path::new(p)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !all_normal {
        bail!("`{p}` is not a safe relative path");
    }
    Ok(())
}

/// A full commit hash (`REGEX_COMMIT_HASH`).
fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `_normalize_etag`: a `W/` prefix and quotes removed.
pub fn normalize_etag(etag: &str) -> String {
    etag.trim_start_matches(['W', '/'])
        .trim_matches('"')
        .to_string()
}

/// An ETag is used as a file name: ASCII letters, digits, `-`, `_`, `.`, not starting with `.`.
fn check_etag(etag: &str, path: &str) -> Result<()> {
    let ok = !etag.is_empty()
        && etag.len() <= 128
        && !etag.starts_with('.')
        && etag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!("the hub answered an ETag `{etag}` for {path} that cannot name a cache file");
    }
    Ok(())
}

/// `urllib.parse.quote`: letters, digits, `_.-~` and the `safe` characters kept, the rest %-encoded.
fn quote(s: &str, safe: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "_.-~".contains(c) || safe.contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a repo holds at one commit (the API's `sha` and `siblings`).
#[derive(Debug, Clone)]
pub struct Listing {
    pub commit: String,
    pub files: BTreeSet<String>,
}

/// Kinds of files PhysEdit reads from a model folder besides weights.
const SMALL_ENDINGS: [&str; 4] = [".json", ".model", ".txt", ".tiktoken"];

/// The files of `listing` that PhysEdit reads, before weights: for a diffusers pipeline (a
/// `model_index.json` at the root) that file, `physedit.json` and the configs and tokenizer files of
/// each component folder `components` names; for a single model (a `config.json` at the root, such
/// as a CLIP model) the root's configs and tokenizer files. Weights follow from [`select_weights`].
pub fn select_files(listing: &Listing, components: Option<&[String]>) -> Vec<String> {
    let folders: Vec<&str> = match components {
        Some(c) => c.iter().map(String::as_str).collect(),
        None => vec![""],
    };
    listing
        .files
        .iter()
        .filter(|f| {
            let (dir, name) = f.rsplit_once('/').unwrap_or(("", f.as_str()));
            let root_extra = components.is_some()
                && dir.is_empty()
                && (name == "model_index.json" || name == super::SAMPLING_DEFAULTS_FILE);
            let small = folders.contains(&dir) && SMALL_ENDINGS.iter().any(|e| name.ends_with(e));
            root_extra || small
        })
        .cloned()
        .collect()
}

/// The safetensors files of one folder (`""` for the root) that the loader reads
/// ([`super::weight_files`]): the shards of the folder's `*.safetensors.index.json` (read from
/// `index_text`, with its name) when it has one, else its `*.safetensors` files, leaving out
/// diffusers variants (`name.fp16.safetensors`) when plain files are there.
pub fn select_weights(
    listing: &Listing,
    folder: &str,
    index: Option<(&str, &str)>,
) -> Result<Vec<String>> {
    let join = |name: &str| {
        if folder.is_empty() {
            name.to_string()
        } else {
            format!("{folder}/{name}")
        }
    };
    if let Some((index_name, text)) = index {
        let value: serde_json::Value = serde_json::from_str(text)
            .with_context(|| format!("{index_name} is not valid JSON"))?;
        let map = value
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| anyhow!("{index_name} has no `weight_map` object"))?;
        let mut shards = BTreeSet::new();
        for v in map.values() {
            let shard = v
                .as_str()
                .filter(|s| !s.contains('/') && s.ends_with(".safetensors"))
                .ok_or_else(|| {
                    anyhow!("{index_name}: weight_map value {v} is not a safetensors file name")
                })?;
            safe_relative_path(shard).with_context(|| index_name.to_string())?;
            let path = join(shard);
            if !listing.files.contains(&path) {
                bail!("{index_name} lists the shard {shard}, which the repo does not hold");
            }
            shards.insert(path);
        }
        return Ok(shards.into_iter().collect());
    }
    let in_folder: Vec<&String> = listing
        .files
        .iter()
        .filter(|f| {
            let (dir, name) = f.rsplit_once('/').unwrap_or(("", f.as_str()));
            dir == folder && name.ends_with(".safetensors")
        })
        .collect();
    let is_variant = |f: &str| {
        let name = f.rsplit('/').next().unwrap_or(f);
        name.trim_end_matches(".safetensors").contains('.')
    };
    let plain: Vec<String> = in_folder
        .iter()
        .filter(|f| !is_variant(f))
        .map(|f| f.to_string())
        .collect();
    Ok(if plain.is_empty() {
        in_folder.into_iter().cloned().collect()
    } else {
        plain
    })
}

/// How a component of a diffusers pipeline is read, from the class `model_index.json` names for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ComponentKind {
    Scheduler,
    Tokenizer,
    Processor,
    /// A network: `config.json` and safetensors weights.
    Model,
}

impl ComponentKind {
    fn of(class: &str) -> Self {
        if class.contains("Scheduler") {
            Self::Scheduler
        } else if class.contains("Tokenizer") {
            Self::Tokenizer
        } else if class.contains("Processor") || class.contains("FeatureExtractor") {
            Self::Processor
        } else {
            Self::Model
        }
    }

    /// The file the loader reads first.
    fn config_file(self) -> &'static str {
        match self {
            Self::Scheduler => "scheduler_config.json",
            Self::Tokenizer => "tokenizer.json",
            Self::Processor => "preprocessor_config.json",
            Self::Model => "config.json",
        }
    }
}

/// The components `model_index.json` lists (keys not starting with `_` whose value is
/// `[library, class]`), with their kinds; names are checked to be plain folder names.
fn components(model_index: &serde_json::Value) -> Result<Vec<(String, ComponentKind)>> {
    let obj = model_index
        .as_object()
        .ok_or_else(|| anyhow!("model_index.json is not a JSON object"))?;
    let mut out = Vec::new();
    for (name, entry) in obj {
        if name.starts_with('_') {
            continue;
        }
        let Some(class) = entry
            .as_array()
            .and_then(|a| a.get(1))
            .and_then(|c| c.as_str())
        else {
            continue;
        };
        if name.contains('/') || name.starts_with('.') {
            bail!("model_index.json names the component `{name}`, which is not a folder name");
        }
        safe_relative_path(name).context("model_index.json")?;
        out.push((name.clone(), ComponentKind::of(class)));
    }
    Ok(out)
}

/// A hub client over one cache.
pub struct Hub {
    env: HubEnv,
    /// Resolves files without following redirects (their headers carry the blob's identity).
    meta: reqwest::blocking::Client,
    /// Fetches contents, following redirects (to a CDN).
    data: reqwest::blocking::Client,
}

impl Hub {
    pub fn new(env: HubEnv) -> Result<Self> {
        let build = |policy| {
            reqwest::blocking::Client::builder()
                .user_agent(concat!("physedit/", env!("CARGO_PKG_VERSION")))
                .redirect(policy)
                .connect_timeout(env.timeout)
                .timeout(env.timeout)
                .build()
                .context("cannot start the HTTP client")
        };
        Ok(Self {
            meta: build(reqwest::redirect::Policy::none())?,
            data: build(reqwest::redirect::Policy::limited(MAX_REDIRECTS))?,
            env,
        })
    }

    pub fn env(&self) -> &HubEnv {
        &self.env
    }

    fn repo_dir(&self, id: &HubId) -> PathBuf {
        self.env.cache.join(id.folder_name())
    }

    /// The snapshot folder of `id` holding what `want` names: from the cache alone when offline or
    /// when the revision is a commit already complete there, else after fetching what is missing. A
    /// hub that cannot be reached or refuses falls back to the cache; when that fails too, the hub's
    /// error is given.
    pub fn snapshot(&self, id: &HubId, want: Want) -> Result<PathBuf> {
        if self.env.offline {
            return self.cached_snapshot(id, want).with_context(|| {
                format!(
                    "HF_HUB_OFFLINE is set, so only the cache {} is used; unset it (or run \
                     `hf download {}`) to fetch {id}",
                    self.env.cache.display(),
                    id.repo
                )
            });
        }
        if is_commit(&id.revision) {
            if let Ok(dir) = self.cached_snapshot(id, want) {
                return Ok(dir);
            }
        }
        let listing = match self.listing(id) {
            Ok(l) => l,
            Err(hub_error) => {
                return match self.cached_snapshot(id, want) {
                    Ok(dir) => {
                        eprintln!(
                            "note: {hub_error:#}; using the cached snapshot {}",
                            dir.display()
                        );
                        Ok(dir)
                    }
                    Err(_) => Err(hub_error),
                };
            }
        };
        self.download(id, &listing, want)
    }

    /// The cached snapshot of `id`, checked to hold what `want` names.
    pub fn cached_snapshot(&self, id: &HubId, want: Want) -> Result<PathBuf> {
        let repo_dir = self.repo_dir(id);
        let commit = if is_commit(&id.revision) {
            id.revision.clone()
        } else {
            let ref_path = repo_dir.join("refs").join(&id.revision);
            let text = std::fs::read_to_string(&ref_path).map_err(|_| {
                anyhow!(
                    "{id} is not in the hub cache: {} is missing (the revision was never downloaded)",
                    ref_path.display()
                )
            })?;
            let c = text.trim().to_string();
            if !is_commit(&c) {
                bail!("{} does not hold a commit hash", ref_path.display());
            }
            c
        };
        let snapshot = repo_dir.join("snapshots").join(&commit);
        if !snapshot.is_dir() {
            bail!(
                "{id} (commit {commit}) is not in the hub cache: {} is missing",
                snapshot.display()
            );
        }
        check_snapshot(&snapshot, want).with_context(|| {
            format!("the cached snapshot of {id} (commit {commit}) is incomplete")
        })?;
        Ok(snapshot)
    }

    fn auth(&self, req: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        match &self.env.token {
            Some((t, _)) => req.bearer_auth(t),
            None => req,
        }
    }

    /// `GET {endpoint}/api/models/{repo}/revision/{rev}`: the commit and the file list.
    pub fn listing(&self, id: &HubId) -> Result<Listing> {
        let url = format!(
            "{}/api/models/{}/revision/{}",
            self.env.endpoint,
            id.repo,
            quote(&id.revision, "")
        );
        let resp = self
            .auth(self.data.get(&url))
            .send()
            .with_context(|| format!("cannot reach the hub at {}", self.env.endpoint))?;
        self.check_status(&resp, id, None)?;
        let mut body = Vec::new();
        resp.take(MAX_API_BYTES)
            .read_to_end(&mut body)
            .with_context(|| format!("reading the hub's listing of {id}"))?;
        parse_listing(&body).with_context(|| format!("the hub's listing of {id} ({url})"))
    }

    /// A clear error for a refusing answer: which repo, what the hub said, what to do.
    fn check_status(
        &self,
        resp: &reqwest::blocking::Response,
        id: &HubId,
        file: Option<&str>,
    ) -> Result<()> {
        let status = resp.status();
        if status.is_success() || status.is_redirection() {
            return Ok(());
        }
        let header = |k: &str| {
            resp.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let code = header("X-Error-Code");
        let said = match header("X-Error-Message") {
            m if m.is_empty() => String::new(),
            m => format!(" (the hub says: {m})"),
        };
        let token = match &self.env.token {
            Some((_, source)) => format!("the token from {source} was sent"),
            None => "no token was sent".to_string(),
        };
        let what = match file {
            Some(f) => format!("{f} of {id}"),
            None => id.to_string(),
        };
        let login = "log in with `hf auth login` or set HF_TOKEN to a token that can read it";
        let msg = match (status.as_u16(), code.as_str()) {
            (404, "RevisionNotFound") => format!(
                "{id}: the revision `{}` does not exist in {}{said}",
                id.revision, id.repo
            ),
            (404, "EntryNotFound") => format!("{what}: no such file in the repo{said}"),
            (401, _) | (404, _) if code != "GatedRepo" => match &self.env.token {
                Some((_, source)) if status.as_u16() == 401 && code != "RepoNotFound" => format!(
                    "the hub refused the token from {source} for {what} (HTTP 401){said}: check the \
                     token, or make a new one at {}/settings/tokens",
                    self.env.endpoint
                ),
                _ => format!(
                    "{what}: repository not found on {} (HTTP {status}; {token}){said}: check the \
                     id; if the repo is private or gated, {login}",
                    self.env.endpoint
                ),
            },
            (403, _) | (_, "GatedRepo") => format!(
                "{what}: access refused (HTTP {status}; {token}){said}: if the repo is gated, accept \
                 its conditions at {}/{} and {login}",
                self.env.endpoint, id.repo
            ),
            _ => format!("{what}: the hub answered HTTP {status}{said}"),
        };
        Err(anyhow!(msg))
    }

    /// Fetches the files of `listing` that `want` names into the cache and returns the snapshot.
    fn download(&self, id: &HubId, listing: &Listing, want: Want) -> Result<PathBuf> {
        let repo_dir = self.repo_dir(id);
        let snapshot = repo_dir.join("snapshots").join(&listing.commit);
        if id.revision != listing.commit {
            write_ref(&repo_dir, &id.revision, &listing.commit)?;
        }
        let pipeline = listing.files.contains("model_index.json");
        if !pipeline && !listing.files.contains("config.json") {
            bail!(
                "{id} has neither a model_index.json (a diffusers pipeline) nor a config.json \
                 (a single model) at its root"
            );
        }
        let comps = if pipeline {
            self.fetch(id, listing, "model_index.json")?;
            let index = super::read_config(&snapshot.join("model_index.json"))?;
            Some(components(&index).with_context(|| format!("{id}"))?)
        } else {
            None
        };
        let names: Option<Vec<String>> = comps
            .as_ref()
            .map(|c| c.iter().map(|(n, _)| n.clone()).collect());
        let small = select_files(listing, names.as_deref());
        eprintln!(
            "{id}: commit {}, cache {}",
            &listing.commit[..12],
            self.env.cache.display()
        );
        for f in &small {
            self.fetch(id, listing, f)?;
        }
        if want == Want::Weights {
            let folders: Vec<String> = match &comps {
                Some(c) => c
                    .iter()
                    .filter(|(_, k)| *k == ComponentKind::Model)
                    .map(|(n, _)| n.clone())
                    .collect(),
                None => vec![String::new()],
            };
            for folder in folders {
                for f in self.weights_of(listing, &snapshot, &folder)? {
                    self.fetch(id, listing, &f)?;
                }
            }
        }
        check_snapshot(&snapshot, want)
            .with_context(|| format!("{id} (commit {}) is incomplete", listing.commit))?;
        Ok(snapshot)
    }

    /// The weight files of one folder, reading its index (already fetched) when it has one.
    fn weights_of(&self, listing: &Listing, snapshot: &Path, folder: &str) -> Result<Vec<String>> {
        let index = listing.files.iter().find(|f| {
            let (dir, name) = f.rsplit_once('/').unwrap_or(("", f.as_str()));
            dir == folder && name.ends_with(".safetensors.index.json")
        });
        match index {
            Some(name) => {
                let text = std::fs::read_to_string(snapshot.join(name))
                    .with_context(|| format!("cannot read {}", snapshot.join(name).display()))?;
                select_weights(listing, folder, Some((name, &text)))
            }
            None => select_weights(listing, folder, None),
        }
    }

    /// Makes `snapshots/<commit>/<path>` point at its blob, fetching the blob when it is missing.
    fn fetch(&self, id: &HubId, listing: &Listing, path: &str) -> Result<()> {
        let repo_dir = self.repo_dir(id);
        let pointer = repo_dir.join("snapshots").join(&listing.commit).join(path);
        if pointer.is_file() {
            return Ok(());
        }
        let meta = self.resolve(id, &listing.commit, path)?;
        let blob = repo_dir.join("blobs").join(&meta.etag);
        if !blob.is_file() {
            let lock_dir = self.env.cache.join(".locks").join(id.folder_name());
            std::fs::create_dir_all(&lock_dir)
                .with_context(|| format!("cannot create {}", lock_dir.display()))?;
            let lock_path = lock_dir.join(format!("{}.lock", meta.etag));
            let lock = File::create(&lock_path)
                .with_context(|| format!("cannot create {}", lock_path.display()))?;
            lock.lock()
                .with_context(|| format!("cannot lock {}", lock_path.display()))?;
            if !blob.is_file() {
                self.download_blob(&meta, &blob, path)
                    .with_context(|| format!("downloading {path} of {id}"))?;
            }
        }
        link_pointer(&pointer, path, &meta.etag)
    }

    /// `HEAD {endpoint}/{repo}/resolve/{commit}/{path}` (`get_hf_file_metadata`).
    fn resolve(&self, id: &HubId, commit: &str, path: &str) -> Result<FileMeta> {
        let mut url = format!(
            "{}/{}/resolve/{commit}/{}",
            self.env.endpoint,
            id.repo,
            quote(path, "/")
        );
        for _ in 0..MAX_REDIRECTS {
            let resp = self
                .auth(self.meta.head(&url))
                .header("Accept-Encoding", "identity")
                .send()
                .with_context(|| format!("cannot reach the hub at {}", self.env.endpoint))?;
            self.check_status(&resp, id, Some(path))?;
            let h = |k: &str| {
                resp.headers()
                    .get(k)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let target = h("Location").map(|l| join_url(&url, &l));
            match target {
                // A redirect on the hub (a renamed repo): ask again there.
                Some(t)
                    if origin(&t) == origin(&url) || origin(&t) == origin(&self.env.endpoint) =>
                {
                    url = t;
                }
                // Elsewhere (a CDN): this answer carries the file's identity.
                _ => {
                    let redirected = target.is_some();
                    let location = target.unwrap_or_else(|| url.clone());
                    return FileMeta::from_headers(&url, location, redirected, &h, commit, path);
                }
            }
        }
        bail!("resolving {path} of {id}: more than {MAX_REDIRECTS} redirects")
    }

    /// Downloads into `<blob>.incomplete`, resuming what is there, then renames it to `blob`.
    fn download_blob(&self, meta: &FileMeta, blob: &Path, path: &str) -> Result<()> {
        let dir = blob.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let incomplete = PathBuf::from(format!("{}.incomplete", blob.display()));
        let bar = progress_bar(path, meta.size);
        let mut stalled = 0;
        loop {
            let before = file_len(&incomplete);
            match self.transfer(meta, &incomplete, &bar) {
                Ok(()) => break,
                Err(Transfer::Fatal(e)) => return Err(e),
                Err(Transfer::Dropped(e)) => {
                    if file_len(&incomplete) > before {
                        stalled = 0;
                    } else {
                        stalled += 1;
                    }
                    if stalled > DOWNLOAD_RETRIES {
                        bail!(
                            "{e:#}; the partial download is kept in {} and is resumed by the next run",
                            incomplete.display()
                        );
                    }
                    bar.suspend(|| eprintln!("{path}: {e:#}; resuming"));
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        bar.finish_and_clear();
        let got = file_len(&incomplete);
        if got != meta.size {
            bail!(
                "{} holds {got} bytes but the hub announced {} (consistency check failed)",
                incomplete.display(),
                meta.size
            );
        }
        std::fs::rename(&incomplete, blob)
            .with_context(|| format!("cannot move {} into place", incomplete.display()))
    }

    /// One GET from where the partial file ends.
    fn transfer(
        &self,
        meta: &FileMeta,
        incomplete: &Path,
        bar: &indicatif::ProgressBar,
    ) -> std::result::Result<(), Transfer> {
        let fatal = |e: anyhow::Error| Transfer::Fatal(e);
        let mut have = file_len(incomplete);
        if have > meta.size {
            std::fs::remove_file(incomplete)
                .with_context(|| format!("cannot remove {}", incomplete.display()))
                .map_err(fatal)?;
            have = 0;
        }
        bar.set_position(have);
        if have == meta.size {
            // Nothing left to fetch (or an empty file): make sure the file exists.
            open_append(incomplete).map_err(fatal)?;
            return Ok(());
        }
        let mut req = self.data.get(&meta.location);
        if meta.send_auth {
            req = self.auth(req);
        }
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        let resp = req
            .send()
            .map_err(|e| Transfer::Dropped(anyhow!("the connection failed ({e})")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(fatal(anyhow!(
                "fetching {} answered HTTP {status}",
                meta.location
            )));
        }
        let mut file = open_append(incomplete).map_err(fatal)?;
        if have > 0 && status.as_u16() != 206 {
            // The server ignored the range: start over.
            file.set_len(0)
                .with_context(|| format!("cannot truncate {}", incomplete.display()))
                .map_err(fatal)?;
            bar.set_position(0);
        }
        copy_body(resp, &mut file, bar, incomplete)?;
        if file_len(incomplete) < meta.size {
            return Err(Transfer::Dropped(anyhow!("the connection closed early")));
        }
        Ok(())
    }
}

/// Why a transfer stopped: a cut connection is resumed, anything else is not.
enum Transfer {
    Dropped(anyhow::Error),
    Fatal(anyhow::Error),
}

fn copy_body(
    mut resp: reqwest::blocking::Response,
    file: &mut File,
    bar: &indicatif::ProgressBar,
    path: &Path,
) -> std::result::Result<(), Transfer> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => return Err(Transfer::Dropped(anyhow!("the connection dropped ({e})"))),
        };
        file.write_all(&buf[..n])
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Transfer::Fatal)?;
        bar.inc(n as u64);
    }
}

fn open_append(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn progress_bar(path: &str, size: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(path.to_string());
    bar
}

/// `scheme://host[:port]` of a URL, lower-cased.
fn origin(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after_scheme..]
        .find('/')
        .map(|j| after_scheme + j)
        .unwrap_or(url.len());
    url[..end].to_ascii_lowercase()
}

/// A `Location` resolved against the URL it answered: absolute as it is, `/path` on the same origin.
fn join_url(base: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!("{}{location}", origin(base))
    } else {
        let dir = base.rsplit_once('/').map(|(d, _)| d).unwrap_or(base);
        format!("{dir}/{location}")
    }
}

/// What `HEAD resolve` says about a file.
#[derive(Debug, Clone)]
struct FileMeta {
    etag: String,
    size: u64,
    /// Where its contents are fetched (the redirect's target, or the resolve URL).
    location: String,
    /// Whether the token goes along (not to another host, such as a CDN with a signed URL).
    send_auth: bool,
}

impl FileMeta {
    fn from_headers(
        url: &str,
        location: String,
        redirected: bool,
        h: &impl Fn(&str) -> Option<String>,
        commit: &str,
        path: &str,
    ) -> Result<Self> {
        match h("X-Repo-Commit") {
            Some(c) if c == commit => {}
            Some(c) => bail!("resolving {path}: the hub answered commit {c}, not {commit}"),
            None => bail!(
                "resolving {path}: the answer has no X-Repo-Commit header; {url} does not look \
                 like a Hugging Face hub (check HF_ENDPOINT and any proxy)"
            ),
        }
        let etag = h("X-Linked-Etag")
            .or_else(|| h("ETag"))
            .map(|e| normalize_etag(&e))
            .ok_or_else(|| anyhow!("resolving {path}: the answer has no ETag"))?;
        check_etag(&etag, path)?;
        let size = h("X-Linked-Size")
            .or_else(|| {
                if redirected {
                    None
                } else {
                    h("Content-Length")
                }
            })
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| anyhow!("resolving {path}: the answer gives no size"))?;
        let send_auth = origin(&location) == origin(url);
        Ok(Self {
            etag,
            size,
            location,
            send_auth,
        })
    }
}

/// Parses the API's repo answer: a 40-hex `sha` and `siblings[].rfilename`, each a safe path.
pub fn parse_listing(body: &[u8]) -> Result<Listing> {
    let v: serde_json::Value = serde_json::from_slice(body).context("not valid JSON")?;
    let commit = v
        .get("sha")
        .and_then(|s| s.as_str())
        .ok_or_else(|| anyhow!("no `sha` field"))?;
    if !is_commit(commit) {
        bail!("`sha` {commit:?} is not a commit hash");
    }
    let siblings = v
        .get("siblings")
        .and_then(|s| s.as_array())
        .ok_or_else(|| anyhow!("no `siblings` list"))?;
    let mut files = BTreeSet::new();
    for s in siblings {
        let name = s
            .get("rfilename")
            .and_then(|n| n.as_str())
            .ok_or_else(|| anyhow!("a sibling has no `rfilename`"))?;
        safe_relative_path(name).context("siblings")?;
        files.insert(name.to_string());
    }
    Ok(Listing {
        commit: commit.to_string(),
        files,
    })
}

/// Writes `refs/<revision>` (`_cache_commit_hash_for_specific_revision`): atomically, and only when
/// it changes.
fn write_ref(repo_dir: &Path, revision: &str, commit: &str) -> Result<()> {
    let path = repo_dir.join("refs").join(revision);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(commit) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::util::write_atomic(&path, commit.as_bytes())
}

/// Makes `pointer` (the snapshot entry for `path`) a relative symlink to `../../blobs/<etag>`, with
/// one more `../` per folder in `path`, as `_create_symlink` does.
fn link_pointer(pointer: &Path, path: &str, etag: &str) -> Result<()> {
    let dir = pointer.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let target = blob_link_target(path, etag);
    if std::fs::symlink_metadata(pointer).is_ok() {
        std::fs::remove_file(pointer)
            .with_context(|| format!("cannot replace {}", pointer.display()))?;
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(&target, pointer)
        .with_context(|| format!("cannot create the link {}", pointer.display()))?;
    #[cfg(not(unix))]
    std::fs::copy(dir.join(&target), pointer)
        .with_context(|| format!("cannot copy the blob to {}", pointer.display()))?;
    Ok(())
}

/// The symlink target of `snapshots/<commit>/<path>`: `../` once per folder of `path` plus twice
/// (out of the commit folder and `snapshots/`), then `blobs/<etag>`.
pub fn blob_link_target(path: &str, etag: &str) -> String {
    let depth = path.split('/').count();
    format!("{}blobs/{etag}", "../".repeat(depth + 1))
}

/// Checks that a snapshot holds what `want` names, naming the first missing file: a
/// `model_index.json` and, per component, its folder and the file its loader reads (plus the weights
/// of networks); or, for a single model, `config.json` and its weights. A link whose blob is gone is
/// reported as missing.
pub fn check_snapshot(snapshot: &Path, want: Want) -> Result<()> {
    let index = snapshot.join("model_index.json");
    if !index.exists() && !snapshot.join("config.json").exists() {
        need_file(snapshot, "model_index.json")?;
    }
    if index.exists() {
        need_file(snapshot, "model_index.json")?;
        let value: serde_json::Value = super::read_config(&index)?;
        for (name, kind) in components(&value)? {
            need_file(snapshot, &format!("{name}/{}", kind.config_file()))?;
            if kind == ComponentKind::Model && want == Want::Weights {
                need_weights(snapshot, &name)?;
            }
        }
    } else {
        need_file(snapshot, "config.json")?;
        if want == Want::Weights {
            need_weights(snapshot, "")?;
        }
    }
    Ok(())
}

fn need_file(snapshot: &Path, rel: &str) -> Result<()> {
    let p = snapshot.join(rel);
    if p.is_file() {
        return Ok(());
    }
    if let Ok(target) = std::fs::read_link(&p) {
        bail!(
            "{rel} is missing: {} links to {}, which is not there",
            p.display(),
            target.display()
        );
    }
    bail!("{rel} is missing ({} does not exist)", p.display())
}

/// A folder's weights: any dangling link among its safetensors files is named, then
/// [`super::weight_files`] checks shards and headers.
fn need_weights(snapshot: &Path, folder: &str) -> Result<()> {
    let dir = snapshot.join(folder);
    let entries =
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json") {
            let rel = if folder.is_empty() {
                name
            } else {
                format!("{folder}/{name}")
            };
            need_file(snapshot, &rel)?;
        }
    }
    super::weight_files(&dir).map(|_| ())
}

/// The `ORG/NAME` of a snapshot folder in a hub cache (`.../models--ORG--NAME/snapshots/<commit>`),
/// for commands that must not write into the cache.
pub fn snapshot_repo(dir: &Path) -> Option<String> {
    let snapshots = dir.parent()?;
    if snapshots.file_name()? != "snapshots" {
        return None;
    }
    let repo = snapshots.parent()?.file_name()?.to_str()?;
    let rest = repo.strip_prefix("models--")?;
    Some(rest.replacen("--", "/", 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> HubEnv {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubEnv::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn cache_folder_follows_huggingface_hub_precedence() {
        let e = env_of(&[("HOME", "/home/u")]);
        assert_eq!(e.cache, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert_eq!(e.endpoint, "https://huggingface.co");
        assert!(!e.offline && e.token.is_none());
        let e = env_of(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x")]);
        assert_eq!(e.cache, PathBuf::from("/x/huggingface/hub"));
        let e = env_of(&[("HOME", "/h"), ("HF_HOME", "~/hf")]);
        assert_eq!(e.cache, PathBuf::from("/h/hf/hub"));
        let e = env_of(&[("HF_HOME", "/a"), ("HUGGINGFACE_HUB_CACHE", "/legacy")]);
        assert_eq!(e.cache, PathBuf::from("/legacy"));
        let e = env_of(&[
            ("HF_HOME", "/a"),
            ("HUGGINGFACE_HUB_CACHE", "/legacy"),
            ("D", "/d"),
            ("HF_HUB_CACHE", "${D}/c"),
        ]);
        assert_eq!(e.cache, PathBuf::from("/d/c"));
        let e = env_of(&[
            ("HF_ENDPOINT", "http://m.example//"),
            ("HF_HUB_OFFLINE", "yes"),
        ]);
        assert_eq!(e.endpoint, "http://m.example");
        assert!(e.offline);
        assert!(!env_of(&[("HF_HUB_OFFLINE", "0"), ("TRANSFORMERS_OFFLINE", "1")]).offline);
        assert!(env_of(&[("TRANSFORMERS_OFFLINE", "1")]).offline);
    }

    #[test]
    fn token_from_variable_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().display().to_string();
        std::fs::write(dir.path().join("token"), "hf_file\n").unwrap();
        let e = env_of(&[("HF_HOME", &home)]);
        assert_eq!(e.token.as_ref().unwrap().0, "hf_file");
        let e = env_of(&[("HF_HOME", &home), ("HF_TOKEN", " hf_env\r\n")]);
        assert_eq!(
            e.token.unwrap(),
            ("hf_env".to_string(), "HF_TOKEN".to_string())
        );
        let e = env_of(&[("HF_HOME", &home), ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")]);
        assert!(e.token.is_none());
    }

    #[test]
    fn ids_and_revisions() {
        let id = HubId::parse("nvidia/ChronoEdit-14B-Diffusers").unwrap();
        assert_eq!(id.revision, "main");
        assert_eq!(id.folder_name(), "models--nvidia--ChronoEdit-14B-Diffusers");
        let id = HubId::parse("a/b@refs/pr/1").unwrap();
        assert_eq!(
            (id.repo.as_str(), id.revision.as_str()),
            ("a/b", "refs/pr/1")
        );
        for bad in [
            "a/b/c", "a--x/b", "a/.b", "a/b@", "a/b@../x", "a/b@x//y", "a/b c",
        ] {
            assert!(HubId::parse(bad).is_err(), "{bad}");
        }
        assert!(HubId::looks_like("org/name@v1"));
        for path in ["./a/b", "/abs/x", "~/m/x", "single", "a/b/c", "a\\b"] {
            assert!(!HubId::looks_like(path), "{path}");
        }
    }

    #[test]
    fn etags_links_and_paths() {
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(blob_link_target("model_index.json", "e"), "../../blobs/e");
        assert_eq!(blob_link_target("vae/config.json", "e"), "../../../blobs/e");
        for bad in ["../x", "/x", "a/../b", "a\\b", "a//b", "", "./a"] {
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
        assert_eq!(quote("refs/pr/1", ""), "refs%2Fpr%2F1");
        assert_eq!(quote("a b/c.json", "/"), "a%20b/c.json");
        assert!(check_etag("../x", "f").is_err());
        assert_eq!(origin("http://H:1/a/b"), "http://h:1");
        assert_eq!(join_url("http://h/a/b", "/c"), "http://h/c");
        assert_eq!(join_url("http://h/a/b", "https://x/y"), "https://x/y");
        let d = Path::new("/c/models--o--n--x/snapshots/abc");
        assert_eq!(snapshot_repo(d).as_deref(), Some("o/n--x"));
    }

    #[test]
    fn listing_is_checked() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let ok = format!(r#"{{"sha":"{sha}","siblings":[{{"rfilename":"a/b.json"}}]}}"#);
        assert_eq!(parse_listing(ok.as_bytes()).unwrap().files.len(), 1);
        let evil = format!(r#"{{"sha":"{sha}","siblings":[{{"rfilename":"../../x"}}]}}"#);
        assert!(parse_listing(evil.as_bytes()).is_err());
        assert!(parse_listing(br#"{"sha":"../..","siblings":[]}"#).is_err());
    }

    #[test]
    fn only_the_files_the_pipeline_reads_are_selected() {
        let files = [
            "model_index.json",
            "README.md",
            "physedit.json",
            "lora/extra.safetensors",
            "upscaler/model.safetensors",
            "vae/config.json",
            "vae/diffusion_pytorch_model.safetensors",
            "vae/diffusion_pytorch_model.fp16.safetensors",
            "vae/diffusion_pytorch_model.bin",
            "tokenizer/tokenizer.json",
            "tokenizer/spiece.model",
            "transformer/config.json",
            "transformer/diffusion_pytorch_model.safetensors.index.json",
            "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
            "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
            "transformer/stray.safetensors",
        ];
        let listing = Listing {
            commit: "0".repeat(40),
            files: files.iter().map(|s| s.to_string()).collect(),
        };
        let comps: Vec<String> = ["vae", "tokenizer", "transformer"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let small = select_files(&listing, Some(&comps));
        assert_eq!(
            small,
            [
                "model_index.json",
                "physedit.json",
                "tokenizer/spiece.model",
                "tokenizer/tokenizer.json",
                "transformer/config.json",
                "transformer/diffusion_pytorch_model.safetensors.index.json",
                "vae/config.json"
            ]
        );
        let vae = select_weights(&listing, "vae", None).unwrap();
        assert_eq!(vae, ["vae/diffusion_pytorch_model.safetensors"]);
        let index = r#"{"weight_map":{"a":"diffusion_pytorch_model-00001-of-00002.safetensors",
            "b":"diffusion_pytorch_model-00002-of-00002.safetensors"}}"#;
        let t = select_weights(&listing, "transformer", Some(("i", index))).unwrap();
        assert_eq!(t.len(), 2);
        // A single model (a CLIP repo): its root's configs, tokenizer files and safetensors.
        let clip = Listing {
            commit: "0".repeat(40),
            files: [
                "config.json",
                "merges.txt",
                "model.safetensors",
                "pytorch_model.bin",
                "tf_model.h5",
                "tokenizer.json",
                "vocab.json",
                "sub/other.json",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        };
        let small = select_files(&clip, None);
        assert_eq!(
            small,
            ["config.json", "merges.txt", "tokenizer.json", "vocab.json"]
        );
        assert_eq!(
            select_weights(&clip, "", None).unwrap(),
            ["model.safetensors"]
        );
        let evil = r#"{"weight_map":{"a":"../../../x.safetensors"}}"#;
        assert!(select_weights(&listing, "transformer", Some(("i", evil))).is_err());
    }
}
