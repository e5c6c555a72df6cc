//! ImgEdit's benchmark suite format: one JSON object `{key: {"id", "prompt", "edit_type"}}` where `id`
//! is the source image's path relative to an images root and `edit_type` one of the nine
//! [`Category`] names. The procedural world writes suites in this format; `physedit score`,
//! `physedit bench`, `physedit plan --suite` and `physedit cost --suite` read them.
//!
//! Reading separates two kinds of problems: a file that cannot be a suite at all (unreadable, not JSON,
//! not an object, no entries) is an error; a malformed entry (missing or non-string field, unknown
//! `edit_type`, a key that cannot name a file, an absolute or escaping `id`, a duplicate key) becomes a
//! [`CaseError`] and the other entries are kept, in file order. [`load_suite`] is the strict reading
//! for runs that need every case valid.
//!
//! `edit_type` is matched exactly (lower case, no blanks), as ImgEdit writes it; flags and
//! hand-written JSON lines use the lenient [`Category`] `FromStr` instead.
use std::fmt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::category::Category;

/// One valid suite entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteCase {
    /// The entry's key; edited images are looked up as `<key>.png`.
    #[serde(skip)]
    pub key: String,
    /// Source image path relative to the images root.
    pub id: String,
    pub prompt: String,
    pub edit_type: Category,
}

impl SuiteCase {
    /// The source image under `images_root`.
    pub fn source_path(&self, images_root: &Path) -> PathBuf {
        images_root.join(&self.id)
    }

    /// The edited image `<dir>/<key>.png`.
    pub fn edited_path(&self, edited_dir: &Path) -> PathBuf {
        edited_dir.join(format!("{}.png", self.key))
    }

    /// Checks the fields (the type already guarantees a known `edit_type`); the message names the
    /// problem.
    pub fn validate(&self) -> std::result::Result<(), String> {
        check_fields(&self.key, &self.id, &self.prompt)
    }
}

/// A malformed suite entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseError {
    pub key: String,
    /// The entry's `edit_type` when it was a string (kept for per-category accounting).
    pub edit_type: Option<String>,
    pub message: String,
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "case {:?}: {}", self.key, self.message)
    }
}

/// A suite: valid cases and malformed entries, both in file order.
#[derive(Clone, Debug, Default)]
pub struct Suite {
    pub cases: Vec<SuiteCase>,
    pub errors: Vec<CaseError>,
    /// File order of all entries (`Ok(i)`: `cases[i]`, `Err(i)`: `errors[i]`); empty for suites built
    /// in code, whose order is cases then errors.
    order: Vec<std::result::Result<usize, usize>>,
}

/// One entry of a suite, valid or not.
#[derive(Clone, Copy, Debug)]
pub enum SuiteEntry<'a> {
    Case(&'a SuiteCase),
    Invalid(&'a CaseError),
}

impl Suite {
    /// A suite of valid cases built in code (e.g. by a generator), in the given order.
    pub fn new(cases: Vec<SuiteCase>) -> Self {
        Self {
            cases,
            errors: Vec::new(),
            order: Vec::new(),
        }
    }

    /// All entries in file order.
    pub fn entries(&self) -> Vec<SuiteEntry<'_>> {
        if self.order.len() == self.len() {
            self.order
                .iter()
                .map(|o| match *o {
                    Ok(i) => SuiteEntry::Case(&self.cases[i]),
                    Err(i) => SuiteEntry::Invalid(&self.errors[i]),
                })
                .collect()
        } else {
            self.cases
                .iter()
                .map(SuiteEntry::Case)
                .chain(self.errors.iter().map(SuiteEntry::Invalid))
                .collect()
        }
    }

    /// Reads a suite file (errors name it).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read suite {}", path.display()))?;
        Self::from_json_str(&text).with_context(|| format!("invalid suite {}", path.display()))
    }

    /// Parses a suite from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let entries: OrderedEntries =
            serde_json::from_str(text).context("not a JSON object of suite entries")?;
        if entries.0.is_empty() {
            bail!("the suite has no entries");
        }
        let mut suite = Suite::default();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in entries.0 {
            let edit_type = value
                .get("edit_type")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let fail = |message: String| CaseError {
                key: key.clone(),
                edit_type: edit_type.clone(),
                message,
            };
            let result = if seen.insert(key.clone()) {
                case_from_value(&key, &value)
            } else {
                Err("duplicate key (the first entry is kept)".into())
            };
            match result {
                Ok(case) => {
                    suite.order.push(Ok(suite.cases.len()));
                    suite.cases.push(case);
                }
                Err(message) => {
                    suite.order.push(Err(suite.errors.len()));
                    suite.errors.push(fail(message));
                }
            }
        }
        Ok(suite)
    }

    /// Number of entries (valid and malformed).
    pub fn len(&self) -> usize {
        self.cases.len() + self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The suite as a JSON object in case order (malformed entries are not written).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\n");
        for (i, c) in self.cases.iter().enumerate() {
            let entry =
                serde_json::json!({"id": c.id, "prompt": c.prompt, "edit_type": c.edit_type});
            out.push_str(&format!(
                "  {}: {}{}\n",
                serde_json::Value::String(c.key.clone()),
                entry,
                if i + 1 < self.cases.len() { "," } else { "" }
            ));
        }
        out.push('}');
        out.push('\n');
        out
    }

    /// Writes the suite atomically (temporary file + rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        for c in &self.cases {
            c.validate()
                .map_err(|e| anyhow::anyhow!("suite case {:?}: {e}", c.key))?;
        }
        let text = self.to_json();
        crate::util::atomic_write(path, |tmp| {
            std::fs::write(tmp, text.as_bytes())
                .with_context(|| format!("cannot write {}", tmp.display()))
        })
    }
}

fn case_from_value(key: &str, value: &serde_json::Value) -> std::result::Result<SuiteCase, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| format!("entry is not an object but {}", json_kind(value)))?;
    let field = |name: &str| -> std::result::Result<String, String> {
        match obj.get(name) {
            None => Err(format!("missing field {name:?}")),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(format!(
                "field {name:?} is {} (expected a string)",
                json_kind(v)
            )),
        }
    };
    let (id, prompt, edit_type) = (field("id")?, field("prompt")?, field("edit_type")?);
    check_fields(key, &id, &prompt)?;
    let edit_type = Category::from_name(&edit_type).ok_or_else(|| {
        format!(
            "unknown edit_type {edit_type:?} (expected one of {})",
            Category::names()
        )
    })?;
    Ok(SuiteCase {
        key: key.to_string(),
        id,
        prompt,
        edit_type,
    })
}

fn check_fields(key: &str, id: &str, prompt: &str) -> std::result::Result<(), String> {
    check_key(key)?;
    check_id(id)?;
    if prompt.trim().is_empty() {
        return Err("prompt is empty".into());
    }
    Ok(())
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() {
        return Err("empty key".into());
    }
    if key == "." || key == ".." || key.contains(['/', '\\', '\0']) {
        return Err(format!(
            "key {key:?} cannot name a file (edited images are looked up as <key>.png)"
        ));
    }
    Ok(())
}

fn check_id(id: &str) -> std::result::Result<(), String> {
    if id.is_empty() {
        return Err("id is empty".into());
    }
    let p = Path::new(id);
    if p.is_absolute() || id.starts_with('/') || id.starts_with('\\') {
        return Err(format!(
            "id {id:?} is absolute (ids are paths under the images root)"
        ));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("id {id:?} leaves the images root (\"..\")"));
    }
    Ok(())
}

/// Reads a suite file for a run that needs every case valid (planning, costing): the first malformed
/// entry is an error naming the file and key. Cases are ordered by key (numerically when keys are
/// numbers).
pub fn load_suite(path: &Path) -> Result<Vec<SuiteCase>> {
    let suite = Suite::from_file(path)?;
    if let Some(e) = suite.errors.first() {
        bail!("suite {} case {}: {}", path.display(), e.key, e.message);
    }
    let mut cases = suite.cases;
    cases.sort_by(|a, b| match (a.key.parse::<u64>(), b.key.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.key.cmp(&b.key),
    });
    Ok(cases)
}

/// A JSON object's entries in file order (duplicates kept, so they can be reported).
struct OrderedEntries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedEntries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedEntries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object {key: {id, prompt, edit_type}}")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<OrderedEntries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(OrderedEntries(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_separates_bad_entries() {
        let s = Suite::from_json_str(
            r#"{"b": {"id": "x/1.png", "prompt": "p", "edit_type": "add"},
                "a": {"id": "2.png", "prompt": "q", "edit_type": "teleport"},
                "c": {"id": "3.png", "prompt": "r"},
                "d": 5,
                "b": {"id": "4.png", "prompt": "s", "edit_type": "style"},
                "e/f": {"id": "5.png", "prompt": "t", "edit_type": "style"},
                "g": {"id": "../6.png", "prompt": "t", "edit_type": "style"},
                "h": {"id": "7.png", "prompt": "u", "edit_type": "action", "extra": 1}}"#,
        )
        .unwrap();
        let keys: Vec<_> = s.cases.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["b", "h"]);
        let errs: Vec<_> = s.errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(errs, ["a", "c", "d", "b", "e/f", "g"]);
        assert!(s.errors[0].message.contains("unknown edit_type"));
        assert_eq!(s.errors[0].edit_type.as_deref(), Some("teleport"));
        assert!(s.errors[1].message.contains("missing field \"edit_type\""));
        assert!(s.errors[2].message.contains("not an object"));
        assert!(s.errors[3].message.contains("duplicate"));
        let order: Vec<_> = s
            .entries()
            .iter()
            .map(|e| match e {
                SuiteEntry::Case(c) => c.key.clone(),
                SuiteEntry::Invalid(e) => format!("!{}", e.key),
            })
            .collect();
        assert_eq!(order, ["b", "!a", "!c", "!d", "!b", "!e/f", "!g", "h"]);
    }

    #[test]
    fn whole_file_errors() {
        assert!(Suite::from_json_str("[1, 2]").is_err());
        assert!(Suite::from_json_str("{").is_err());
        assert!(Suite::from_json_str("{}").is_err());
    }

    #[test]
    fn round_trip() {
        let s = Suite::from_json_str(
            r#"{"k1": {"id": "images/k1.png", "prompt": "say \"hi\"", "edit_type": "add"},
                "k0": {"id": "images/k0.png", "prompt": "p", "edit_type": "compose"}}"#,
        )
        .unwrap();
        let again = Suite::from_json_str(&s.to_json()).unwrap();
        assert_eq!(again.cases, s.cases);
        assert!(again.errors.is_empty());
    }
}
