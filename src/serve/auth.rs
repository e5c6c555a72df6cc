//! API keys, as OpenAI's API and vLLM's `--api-key` take them: `Authorization: Bearer KEY`.
//!
//! Keys come from `--api-key` (repeatable) and `--api-keys-file` (one key a line, optionally
//! followed by a name; `#` starts a comment), the file re-read on SIGHUP. A presented key is
//! compared with every key in constant time over SHA-256 digests (so neither its content nor its
//! length shows in the timing). Each key has a name, the file's or `key-` and 12 hex digits of its
//! digest: jobs are owned by that name (never the key itself, which is stored nowhere but here).
//! `/metrics` takes its own `--metrics-key`.
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shortest key accepted (shorter ones are guessable).
pub const MIN_KEY_LEN: usize = 8;

/// One key: its name and the digest of its secret.
#[derive(Clone)]
struct Key {
    name: String,
    digest: [u8; 32],
}

fn digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

fn check_secret(secret: &str, origin: &str) -> Result<()> {
    if secret.len() < MIN_KEY_LEN {
        bail!("{origin}: an API key must be at least {MIN_KEY_LEN} characters");
    }
    if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("{origin}: an API key must be printable ASCII without spaces");
    }
    Ok(())
}

fn key(secret: &str, name: Option<&str>) -> Key {
    let d = digest(secret.as_bytes());
    let name = match name {
        Some(n) => n.to_string(),
        None => format!(
            "key-{}",
            d[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    };
    Key { name, digest: d }
}

/// Parses a keys file: `KEY [NAME]` a line; blank lines and `#` comments skipped.
fn parse_keys_file(text: &str, path: &Path) -> Result<Vec<Key>> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let origin = format!("{} line {}", path.display(), i + 1);
        let mut words = line.split_whitespace();
        let secret = words.next().unwrap_or_default();
        let name = words.next();
        if words.next().is_some() {
            bail!("{origin}: expected `KEY [NAME]`, got more words");
        }
        check_secret(secret, &origin)?;
        if let Some(n) = name {
            if n.len() > 64
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
            {
                bail!("{origin}: a key's name must be 1-64 letters, digits, `-`, `_`, `.` or `@`");
            }
        }
        keys.push(key(secret, name));
    }
    let mut names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!("{}: the name {} is given to two keys", path.display(), w[0]);
    }
    Ok(keys)
}

/// The service's keys.
pub struct KeyRing {
    inline: Vec<Key>,
    file: Option<PathBuf>,
    keys: RwLock<Arc<Vec<Key>>>,
    metrics: Option<[u8; 32]>,
}

impl KeyRing {
    /// From `--api-key`s, `--api-keys-file` and `--metrics-key`.
    pub fn load(
        inline: &[String],
        file: Option<&Path>,
        metrics_key: Option<&str>,
    ) -> Result<KeyRing> {
        let mut keys = Vec::new();
        for k in inline {
            check_secret(k, "--api-key")?;
            keys.push(key(k, None));
        }
        if let Some(m) = metrics_key {
            check_secret(m, "--metrics-key")?;
        }
        let ring = KeyRing {
            inline: keys,
            file: file.map(Path::to_path_buf),
            keys: RwLock::new(Arc::new(Vec::new())),
            metrics: metrics_key.map(|m| digest(m.as_bytes())),
        };
        ring.reload()?;
        Ok(ring)
    }

    /// Re-reads the keys file (on SIGHUP); on an error the keys in force stay. Returns how many
    /// keys are in force.
    pub fn reload(&self) -> Result<usize> {
        let mut all = self.inline.clone();
        if let Some(f) = &self.file {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("--api-keys-file {}: cannot read", f.display()))?;
            all.extend(
                parse_keys_file(&text, f)
                    .with_context(|| format!("--api-keys-file {}", f.display()))?,
            );
            if all.is_empty() {
                bail!("--api-keys-file {} holds no key", f.display());
            }
        }
        let n = all.len();
        *self.keys.write().unwrap() = Arc::new(all);
        Ok(n)
    }

    /// Whether requests must present a key.
    pub fn enabled(&self) -> bool {
        !self.keys.read().unwrap().is_empty()
    }

    pub fn has_metrics_key(&self) -> bool {
        self.metrics.is_some()
    }

    /// The name of the key `presented` is, compared in constant time with every key.
    pub fn identify(&self, presented: &str) -> Option<String> {
        let d = digest(presented.as_bytes());
        let keys = self.keys.read().unwrap().clone();
        let mut found = None;
        for k in keys.iter() {
            if bool::from(k.digest[..].ct_eq(&d[..])) {
                found = Some(k.name.clone());
            }
        }
        found
    }

    /// Whether `presented` is the metrics key.
    pub fn is_metrics_key(&self, presented: &str) -> bool {
        self.metrics
            .is_some_and(|m| bool::from(m[..].ct_eq(&digest(presented.as_bytes())[..])))
    }
}

/// The token of an `Authorization: Bearer TOKEN` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_file_names_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("keys");
        std::fs::write(
            &f,
            "# team keys\nsk-alice-000000 alice\n\nsk-bob-11111111 # bob's\n",
        )
        .unwrap();
        let ring = KeyRing::load(&["sk-inline-2222".into()], Some(&f), None).unwrap();
        assert_eq!(ring.identify("sk-alice-000000").as_deref(), Some("alice"));
        let bob = ring.identify("sk-bob-11111111").unwrap();
        assert!(bob.starts_with("key-") && bob.len() == 16, "{bob}");
        assert!(ring.identify("sk-inline-2222").is_some());
        assert_eq!(ring.identify("sk-alice-00000"), None);
        assert_eq!(ring.identify(""), None);
        std::fs::write(&f, "sk-carol-333333 carol\n").unwrap();
        assert_eq!(ring.reload().unwrap(), 2);
        assert_eq!(ring.identify("sk-alice-000000"), None);
        assert_eq!(ring.identify("sk-carol-333333").as_deref(), Some("carol"));
        // A broken file keeps the keys in force.
        std::fs::write(&f, "short\n").unwrap();
        let e = format!("{:#}", ring.reload().unwrap_err());
        assert!(e.contains("line 1") && e.contains("at least"), "{e}");
        assert!(ring.identify("sk-carol-333333").is_some());
        std::fs::write(&f, "sk-dave-4444444 x\nsk-erin-5555555 x\n").unwrap();
        assert!(format!("{:#}", ring.reload().unwrap_err()).contains("two keys"));
    }
}
