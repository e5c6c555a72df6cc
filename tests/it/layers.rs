//! The dependency rule of docs/ARCHITECTURE.md, checked on the source: every `crate::MODULE` path in
//! `src/` (outside comments) names a module of the same or a lower layer, so imports run downhill
//! and the module graph has no cycle.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layer of each top-level module of the library (0 = ground floor). A module may import modules of
/// a strictly lower layer, and itself.
const LAYERS: &[(&str, usize)] = &[
    ("util", 0),
    ("category", 0),
    ("device", 0),
    ("suite", 1),
    ("processors", 2),
    ("models", 3),
    ("schedulers", 3),
    ("adaptive", 4),
    // Loading builds models from files (as diffusers' loaders do) and prices them (the memory plan).
    ("checkpoint", 5),
    ("pipeline", 6),
    ("world", 6),
    ("eval", 7),
    ("train", 8),
    ("serve", 8),
    ("cli", 9),
];

fn top_module(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn imports_run_downhill() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer: BTreeMap<&str, usize> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let from = top_module(rel);
        if from == "lib" || from == "main" || from == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != from {
                    edges.insert((from.clone(), name, rel.display().to_string()));
                }
            }
        }
        if !layer.contains_key(from.as_str()) {
            unknown.insert(from.clone());
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from the layer table (add them here and to docs/ARCHITECTURE.md): {unknown:?}"
    );
    let uphill: Vec<String> = edges
        .iter()
        .filter(
            |(from, to, _)| match (layer.get(from.as_str()), layer.get(to.as_str())) {
                (Some(a), Some(b)) => b >= a,
                _ => true,
            },
        )
        .map(|(from, to, file)| format!("{file}: {from} -> {to}"))
        .collect();
    assert!(
        uphill.is_empty(),
        "imports that do not run downhill:\n{}",
        uphill.join("\n")
    );
}

/// The files of one folder (`super::NAME` and `crate::MOD::NAME` paths between them) import each
/// other without a cycle either: within `src/serve`, `queue` sits above both of its backends, and
/// they share a module below them instead of importing it from `queue`.
#[test]
fn sibling_files_import_without_cycles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/serve");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let names: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = f.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for prefix in ["super::", "crate::serve::"] {
                let mut rest = line;
                while let Some(i) = rest.find(prefix) {
                    rest = &rest[i + prefix.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if names.contains(&name) && name != from && from != "mod" {
                        edges.entry(from.clone()).or_default().insert(name);
                    }
                }
            }
        }
    }
    // Depth-first search for a cycle.
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in &names {
        if let Some(c) = visit(n, &edges, &mut Vec::new(), &mut done) {
            panic!("src/serve files import each other: {}", c.join(" -> "));
        }
    }
}
