//! A readable account of a LoRA file: its layout, ranks and alphas, the layers it touches (by block
//! and kind), what is applied and what is skipped and why, and whether it fits a given transformer.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{misfits, Kind, LoraFile, LoraFormat, Update};
use crate::checkpoint::keys;

/// How one update is described in the report: its kind, and the rank when it has one.
fn label(update: &Update, bias: bool) -> String {
    let kind = match (update.kind(), bias) {
        (Kind::Diff, true) => "bias difference (diff_b)".to_string(),
        (Kind::Diff, false) => "full weight difference (diff)".to_string(),
        (k, _) => k.name().to_string(),
    };
    match update.rank() {
        Some(r) => format!("{kind}, rank {r}"),
        None => kind,
    }
}

/// `blocks.N.rest` -> (Some(N), rest); other names -> (None, name).
fn split_block(module: &str) -> (Option<usize>, &str) {
    if let Some(rest) = module.strip_prefix("blocks.") {
        if let Some((n, inner)) = rest.split_once('.') {
            if let Ok(n) = n.parse() {
                return (Some(n), inner);
            }
        }
    }
    (None, module)
}

/// `0-3, 5` from a sorted set of block numbers.
fn ranges(blocks: &BTreeSet<usize>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = blocks.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap();
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(", ")
}

/// `value (count)` pairs, most frequent first.
fn tally<T: Ord + ToString>(items: impl IntoIterator<Item = T>) -> String {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    let mut v: Vec<(T, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1));
    v.iter()
        .map(|(x, n)| {
            let s = if *n == 1 { "" } else { "s" };
            format!("{} ({n} layer{s})", x.to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where PhysEdit and diffusers differ on what this file holds.
fn notes(file: &LoraFile) -> Vec<String> {
    let mut notes = Vec::new();
    let kinds: BTreeSet<Kind> = file.layers.iter().map(|l| l.update.kind()).collect();
    if kinds.contains(&Kind::LoHa) || kinds.contains(&Kind::LoKr) {
        notes.push(
            "LyCORIS LoHa / LoKr updates are merged as ComfyUI merges them; diffusers cannot load them"
                .into(),
        );
    }
    let block_diffs = file.layers.iter().any(|l| {
        l.update.kind() == Kind::Diff
            && l.target.ends_with(".weight")
            && l.target.starts_with("blocks.")
    });
    if block_diffs {
        notes.push(
            "`.diff` full weight differences inside the blocks are added to the weights (as ComfyUI \
             does); diffusers 0.42 drops them"
                .into(),
        );
    }
    if file.format == LoraFormat::WanBare {
        notes.push(
            "diffusers reads these keys only with a `diffusion_model.` prefix; PhysEdit reads them as they are"
                .into(),
        );
    }
    notes
}

/// The report; `model` is `(description, shape_of)` of a transformer to check the file against.
pub fn report(
    file: &LoraFile,
    model: Option<(&str, &dyn Fn(&str) -> Option<Vec<usize>>)>,
) -> (String, bool) {
    let mut s = String::new();
    let _ = writeln!(s, "LoRA file: {}", file.path.display());
    let _ = writeln!(s, "layout: {} — {}", file.format, file.format.describe());
    if let Some(a) = &file.adapter_name {
        let _ = writeln!(s, "PEFT adapter name in the keys: `{a}`");
    }
    let ranks: Vec<usize> = file.layers.iter().filter_map(|l| l.rank()).collect();
    if !ranks.is_empty() {
        let _ = writeln!(s, "ranks: {}", tally(ranks));
    }
    let alphas: Vec<String> = file
        .layers
        .iter()
        .filter(|l| l.rank().is_some())
        .map(|l| l.alpha.map_or("none".to_string(), |a| format!("{a}")))
        .collect();
    if !alphas.is_empty() {
        let _ = writeln!(s, "alphas: {}", tally(alphas));
    }
    let scalings: Vec<String> = file
        .layers
        .iter()
        .map(|l| format!("{:.4}", l.scaling))
        .collect();
    let _ = writeln!(
        s,
        "scaling before the strength (alpha / rank, PEFT's lora_alpha / r): {}",
        tally(scalings)
    );
    let mb = file.bytes() as f64 / 1e6;
    let _ = writeln!(
        s,
        "applied: {} updates ({mb:.2} MB of factors in f32)",
        file.layers.len()
    );
    // label -> module within a block (or top-level name) -> blocks
    let mut groups: BTreeMap<String, BTreeMap<String, BTreeSet<usize>>> = BTreeMap::new();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in &file.layers {
        let bias = l.target.ends_with(".bias");
        let module = l
            .target
            .strip_suffix(".weight")
            .or_else(|| l.target.strip_suffix(".bias"))
            .unwrap_or(&l.target);
        let (block, inner) = split_block(module);
        let lbl = label(&l.update, bias);
        match block {
            Some(n) => {
                groups
                    .entry(lbl)
                    .or_default()
                    .entry(inner.to_string())
                    .or_default()
                    .insert(n);
            }
            None => {
                top.entry(lbl).or_default().insert(module.to_string());
            }
        }
    }
    for (lbl, modules) in &groups {
        let _ = writeln!(s, "  in the blocks, {lbl}:");
        for (inner, blocks) in modules {
            let wan = keys::diffusers_to_wan(&format!("blocks.0.{inner}"))
                .and_then(|w| w.strip_prefix("blocks.0.").map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(s, "    {inner:<20} ({wan}) blocks {}", ranges(blocks));
        }
    }
    for (lbl, modules) in &top {
        let _ = writeln!(s, "  outside the blocks, {lbl}:");
        for m in modules {
            let wan = keys::diffusers_to_wan(m).unwrap_or_default();
            let _ = writeln!(s, "    {m} ({wan})");
        }
    }
    if file.skipped.is_empty() {
        let _ = writeln!(s, "skipped: nothing");
    } else {
        let _ = writeln!(s, "skipped: {} keys", file.skipped.len());
        for k in &file.skipped {
            let _ = writeln!(s, "  `{}`: {}", k.key, k.reason);
        }
    }
    for n in notes(file) {
        let _ = writeln!(s, "note: {n}");
    }
    let mut fits = true;
    if let Some((name, shape_of)) = model {
        let m = misfits(file, shape_of, name);
        if m.is_empty() {
            let _ = writeln!(
                s,
                "model {name}: fits (every update matches a tensor of its transformer)"
            );
        } else {
            fits = false;
            let _ = writeln!(
                s,
                "model {name}: does NOT fit ({} of {} updates):",
                m.len(),
                file.layers.len()
            );
            for line in m.iter().take(20) {
                let _ = writeln!(s, "  {line}");
            }
            if m.len() > 20 {
                let _ = writeln!(s, "  ... and {} more", m.len() - 20);
            }
        }
    }
    (s, fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ranges_are_compact() {
        let b: BTreeSet<usize> = [0, 1, 2, 3, 5, 7, 8].into_iter().collect();
        assert_eq!(ranges(&b), "0-3, 5, 7-8");
    }
}
