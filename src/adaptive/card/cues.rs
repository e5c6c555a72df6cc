//! Tokenising and phrase matching: the instruction's tokens (quoted text marked inert), the compiled
//! lexicon of [`crate::adaptive::lexicon`], the longest-match cue of each position (with collocation
//! exceptions and separated phrasal verbs), and the small predicates the clause rules ask about a
//! position (main verb, noun context, negation).
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::adaptive::lexicon::{self, Cue};

#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) raw: String,
    pub(super) stem: String,
    /// second or later part of a hyphenated compound ("hand-drawn")
    pub(super) joined: bool,
    /// quoted text or words right after "says"/"labeled": never an instruction
    pub(super) quoted: bool,
}

pub(super) const BOUNDARY: &str = "|";
pub(super) const COMMA: &str = ",";

pub(super) fn tokenize(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut cur = String::new();
    let mut joined = false;
    let mut in_quotes = false;
    let flush = |cur: &mut String, toks: &mut Vec<Tok>, joined: bool, quoted: bool| {
        if !cur.is_empty() {
            let mut w = std::mem::take(cur);
            if let Some(s) = w.strip_suffix("'s") {
                w = s.to_string();
            }
            let w: String = w.chars().filter(|c| *c != '\'').collect();
            if !w.is_empty() {
                let stem = lexicon::stem(&w);
                toks.push(Tok {
                    raw: w,
                    stem,
                    joined,
                    quoted,
                });
            }
        }
    };
    for ch in text.chars() {
        let c = if ch == '\u{2019}' || ch == '\u{2018}' {
            '\''
        } else {
            ch
        };
        if c.is_alphanumeric() || c == '\'' {
            cur.extend(c.to_lowercase());
        } else {
            let had_word = !cur.is_empty();
            flush(&mut cur, &mut toks, joined, in_quotes);
            joined = c == '-' && had_word;
            if c == '"' || c == '\u{201c}' || c == '\u{201d}' {
                in_quotes = if c == '\u{201c}' {
                    true
                } else if c == '\u{201d}' {
                    false
                } else {
                    !in_quotes
                };
            }
            let mark = match c {
                '.' | ';' | '!' | '?' | '\n' => Some(BOUNDARY),
                ',' => Some(COMMA),
                _ => None,
            };
            if let Some(m) = mark {
                toks.push(Tok {
                    raw: m.to_string(),
                    stem: m.to_string(),
                    joined: false,
                    quoted: false,
                });
                in_quotes = in_quotes && c != '\n';
            }
        }
    }
    flush(&mut cur, &mut toks, joined, in_quotes);
    // a few words after "says", "labeled", ... are text to render, not instructions
    let mut k = 0;
    while k < toks.len() {
        if lexicon::QUOTE_INTRODUCERS.contains(&toks[k].raw.as_str()) {
            let mut j = k + 1;
            while j < toks.len()
                && j <= k + 4
                && toks[j].raw != "and"
                && toks[j].raw != COMMA
                && toks[j].raw != BOUNDARY
            {
                toks[j].quoted = true;
                j += 1;
            }
            k = j;
        } else {
            k += 1;
        }
    }
    toks
}

pub(super) struct Entry {
    pub(super) phrase: &'static str,
    /// (word, matched on raw form)
    pub(super) words: Vec<(String, bool)>,
    pub(super) cue: Cue,
}

pub(super) struct Lexicon {
    pub(super) entries: Vec<Entry>,
    /// first word (stem) -> entry indices, longest first
    pub(super) stem_index: HashMap<String, Vec<usize>>,
    /// first word (raw form, for `=` entries) -> entry indices, longest first
    pub(super) raw_index: HashMap<String, Vec<usize>>,
    /// verb stem -> (particle, cue)
    pub(super) particles: HashMap<String, Vec<(String, Cue)>>,
    /// phrase -> (before, after) stems that cancel a match
    pub(super) exceptions: HashMap<&'static str, Vec<(String, String)>>,
    pub(super) fillers: std::collections::HashSet<String>,
    pub(super) image_words: std::collections::HashSet<String>,
    pub(super) attr_modifiers: std::collections::HashSet<String>,
    pub(super) surface_heads: std::collections::HashSet<String>,
    pub(super) surface_modifiers: std::collections::HashSet<String>,
    pub(super) release_or_remove: std::collections::HashSet<String>,
    pub(super) physical_context: std::collections::HashSet<String>,
}

pub(super) fn lexicon() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(|| {
        let mut entries = Vec::new();
        for (phrase, cue) in lexicon::ENTRIES {
            let (raw, text) = match phrase.strip_prefix('=') {
                Some(t) => (true, t),
                None => (false, *phrase),
            };
            let words: Vec<(String, bool)> = tokenize(text)
                .into_iter()
                .map(|t| if raw { (t.raw, true) } else { (t.stem, false) })
                .collect();
            if !words.is_empty() {
                entries.push(Entry {
                    phrase,
                    words,
                    cue: *cue,
                });
            }
        }
        let mut stem_index: HashMap<String, Vec<usize>> = HashMap::new();
        let mut raw_index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let map = if e.words[0].1 {
                &mut raw_index
            } else {
                &mut stem_index
            };
            map.entry(e.words[0].0.clone()).or_default().push(i);
        }
        for v in stem_index.values_mut().chain(raw_index.values_mut()) {
            v.sort_by_key(|&i| std::cmp::Reverse(entries[i].words.len()));
        }
        let mut particles: HashMap<String, Vec<(String, Cue)>> = HashMap::new();
        for (verb, particle, cue) in lexicon::PARTICLE_VERBS {
            particles
                .entry(lexicon::stem(verb))
                .or_default()
                .push((particle.to_string(), *cue));
        }
        let mut exceptions: HashMap<&'static str, Vec<(String, String)>> = HashMap::new();
        for (phrase, before, after) in lexicon::EXCEPTIONS {
            let st = |w: &str| {
                if w == "*" {
                    w.to_string()
                } else {
                    lexicon::stem(w)
                }
            };
            exceptions
                .entry(phrase)
                .or_default()
                .push((st(before), st(after)));
        }
        Lexicon {
            entries,
            stem_index,
            raw_index,
            particles,
            exceptions,
            image_words: lexicon::IMAGE_WORDS.iter().map(|w| w.to_string()).collect(),
            fillers: lexicon::FILLERS
                .iter()
                .map(|w| w.replace('\'', ""))
                .collect(),
            attr_modifiers: lexicon::ATTR_MODIFIERS
                .iter()
                .map(|w| lexicon::stem(w))
                .collect(),
            surface_heads: lexicon::SURFACE_HEADS
                .iter()
                .map(|w| lexicon::stem(w))
                .collect(),
            surface_modifiers: lexicon::SURFACE_MODIFIERS
                .iter()
                .map(|w| lexicon::stem(w))
                .collect(),
            release_or_remove: lexicon::RELEASE_OR_REMOVE
                .iter()
                .map(|w| lexicon::stem(w))
                .collect(),
            physical_context: lexicon::PHYSICAL_CONTEXT
                .iter()
                .map(|w| w.to_string())
                .collect(),
        }
    })
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Match {
    pub(super) start: usize,
    pub(super) len: usize,
    pub(super) cue: Cue,
}

pub(super) fn match_all(toks: &[Tok]) -> Vec<Option<Match>> {
    let lex = lexicon();
    let mut out: Vec<Option<Match>> = vec![None; toks.len()];
    let mut i = 0;
    while i < toks.len() {
        if toks[i].quoted {
            i += 1;
            continue;
        }
        let mut best: Option<Match> = None;
        // raw-form entries first, so that they win ties against stemmed ones
        for cands in [
            lex.raw_index.get(&toks[i].raw),
            lex.stem_index.get(&toks[i].stem),
        ]
        .into_iter()
        .flatten()
        {
            {
                for &ei in cands {
                    let e = &lex.entries[ei];
                    let n = e.words.len();
                    if i + n > toks.len() {
                        continue;
                    }
                    if let Some(b) = best {
                        // a word that is both a verb and a noun ("color"): the noun after a determiner
                        let det_before = i > 0
                            && out[i - 1]
                                .map(|m| m.cue == Cue::Definite || m.cue == Cue::Indefinite)
                                .unwrap_or(false);
                        let prefer_noun =
                            b.len == n && is_verb(b.cue) && !is_verb(e.cue) && det_before;
                        if b.len > n || (b.len == n && !prefer_noun) {
                            continue;
                        }
                    }
                    let ok = e.words.iter().enumerate().all(|(k, (w, raw))| {
                        let t = &toks[i + k];
                        if *raw {
                            t.raw == *w
                        } else {
                            t.stem == *w
                        }
                    });
                    if !ok {
                        continue;
                    }
                    if let Some(exc) = lex.exceptions.get(e.phrase) {
                        let before = if i > 0 { toks[i - 1].stem.as_str() } else { "" };
                        let after = toks.get(i + n).map(|t| t.stem.as_str()).unwrap_or("");
                        let after2 = toks.get(i + n + 1).map(|t| t.stem.as_str()).unwrap_or("");
                        if exc.iter().any(|(b, a)| {
                            (b == "*" || b == before) && (a == "*" || a == after || a == after2)
                        }) {
                            continue;
                        }
                    }
                    best = Some(Match {
                        start: i,
                        len: n,
                        cue: e.cue,
                    });
                }
            }
        }
        if best.is_none() {
            // "cartoonify", "anime-ize": a style term turned into a verb
            for suf in lexicon::STYLE_VERB_SUFFIXES {
                if let Some(base) = toks[i].raw.strip_suffix(suf).filter(|b| b.len() >= 3) {
                    let is_style = lex
                        .stem_index
                        .get(&lexicon::stem(base))
                        .map(|c| {
                            c.iter().any(|&e| {
                                lex.entries[e].cue == Cue::StyleTerm
                                    && lex.entries[e].words.len() == 1
                            })
                        })
                        .unwrap_or(false);
                    if is_style {
                        best = Some(Match {
                            start: i,
                            len: 1,
                            cue: Cue::StyleVerb,
                        });
                        break;
                    }
                }
            }
        }
        match best {
            Some(m) => {
                out[i] = Some(m);
                i += m.len;
            }
            None => i += 1,
        }
    }
    // separated phrasal verbs: "take the cup away"
    let mut covered_to = 0;
    for i in 0..toks.len() {
        if let Some(m) = out[i] {
            covered_to = covered_to.max(m.start + m.len);
            if m.len != 1 || !is_verb(m.cue) {
                continue;
            }
        } else if i < covered_to {
            continue;
        }
        if let Some(ps) = lex.particles.get(&toks[i].stem) {
            let end = (i + 1..toks.len().min(i + 8))
                .find(|&k| toks[k].raw == BOUNDARY || toks[k].raw == COMMA || toks[k].raw == "and")
                .unwrap_or(toks.len().min(i + 8));
            if let Some((_, cue)) = ps
                .iter()
                .find(|(p, _)| (i + 2..end).any(|k| toks[k].raw == *p))
            {
                out[i] = Some(Match {
                    start: i,
                    len: 1,
                    cue: *cue,
                });
            }
        }
    }
    out
}

/// A verb-list word used as a noun or inside a noun phrase: part of a hyphenated compound, right after
/// a determiner ("the plant", but not "make her smile"), or within three words after an indefinite
/// article or quantity ("a potted plant", "a comic strip", "a puppy sitting").
pub(super) fn noun_context(toks: &[Tok], ms: &[Option<Match>], i: usize) -> bool {
    if toks[i].joined {
        return true;
    }
    if i > 0 {
        if let Some(m) = ms[i - 1] {
            if m.cue == Cue::Definite || m.cue == Cue::Indefinite || m.cue == Cue::Quantity {
                let object_pronoun = matches!(
                    toks[i - 1].raw.as_str(),
                    "him" | "her" | "them" | "it" | "me" | "us"
                );
                let after_light =
                    i >= 2 && ms[i - 2].map(|m| m.cue == Cue::ChangeVerb).unwrap_or(false);
                if !(object_pronoun && after_light) {
                    return true;
                }
            }
        }
    }
    if ms[i].map(|m| m.cue == Cue::ChangeVerb).unwrap_or(false) {
        return false;
    }
    for k in (i.saturating_sub(3)..i).rev() {
        if toks[k].raw == BOUNDARY
            || toks[k].raw == COMMA
            || toks[k].raw == "and"
            || matches!(
                toks[k].raw.as_str(),
                "he" | "she" | "they" | "i" | "we" | "you"
            )
        {
            return false;
        }
        if ms[k].map(|m| m.cue == Cue::Sequencer).unwrap_or(false) {
            return false;
        }
        match ms[k] {
            Some(m) if m.cue == Cue::Indefinite || m.cue == Cue::Quantity => return true,
            Some(m) if is_verb(m.cue) || m.cue == Cue::Into => return false,
            _ => {}
        }
    }
    false
}

/// An -ing form right after a noun ("water pouring", "the man running"): a modifier, not the main verb.
pub(super) fn participle_modifier(toks: &[Tok], ms: &[Option<Match>], lo: usize, i: usize) -> bool {
    if i <= lo || !toks[i].raw.ends_with("ing") {
        return false;
    }
    let prev = &toks[i - 1];
    if matches!(
        prev.raw.as_str(),
        "is" | "are"
            | "be"
            | "was"
            | "were"
            | "been"
            | "being"
            | "am"
            | "keep"
            | "keeps"
            | "start"
            | "starts"
            | "stop"
            | "now"
            | "still"
            | "im"
            | "its"
            | "theyre"
            | "hes"
            | "shes"
    ) || prev.raw == COMMA
        || prev.raw == BOUNDARY
    {
        return false;
    }
    !ms[i - 1]
        .map(|m| is_verb(m.cue) || m.cue == Cue::Negator)
        .unwrap_or(false)
}

/// Whether the cue at `i` can be a clause's main verb.
pub(super) fn main_verb_at(toks: &[Tok], ms: &[Option<Match>], lo: usize, i: usize) -> bool {
    ms[i].map(|m| is_verb(m.cue)).unwrap_or(false)
        && !negated(toks, ms, i)
        && !noun_context(toks, ms, i)
        && !participle_modifier(toks, ms, lo, i)
}

pub(super) fn is_verb(c: Cue) -> bool {
    matches!(
        c,
        Cue::AddVerb
            | Cue::RemoveVerb
            | Cue::ReplaceVerb
            | Cue::ChangeVerb
            | Cue::PutVerb
            | Cue::ExtractVerb
            | Cue::StyleVerb
            | Cue::AdjustVerb
            | Cue::ActionVerb
            | Cue::DynamicsVerb
    )
}

/// Number of distinct cue kinds counted in [`super::Analysis::cue_counts`].
pub const N_CUES: usize = 27;

pub(super) fn cue_slot(c: Cue) -> usize {
    c as usize
}

pub(super) fn negated(toks: &[Tok], ms: &[Option<Match>], i: usize) -> bool {
    let lo = i.saturating_sub(2);
    (lo..i).any(|k| ms[k].map(|m| m.cue == Cue::Negator).unwrap_or(false) || toks[k].raw == "not")
}

pub(super) fn phrase_of(toks: &[Tok], m: &Match) -> String {
    toks[m.start..m.start + m.len]
        .iter()
        .map(|t| t.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cues inside `lo..hi` (start positions).
pub(super) fn cues_in(
    ms: &[Option<Match>],
    lo: usize,
    hi: usize,
) -> impl Iterator<Item = Match> + '_ {
    ms[lo..hi].iter().filter_map(|m| *m)
}

pub(super) fn has(ms: &[Option<Match>], lo: usize, hi: usize, c: Cue) -> bool {
    cues_in(ms, lo, hi).any(|m| m.cue == c)
}
