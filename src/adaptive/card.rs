//! CARD — Complexity-Adaptive Reasoning Depth: category, complexity and tier of an edit instruction.
//!
//! The default predictor ([`RulePredictor`]) needs no model. It tokenises the instruction (quoted text
//! and words right after "says"/"labeled" are inert), matches the phrase lists of [`super::lexicon`]
//! (stemmed, longest match first, with collocation exceptions and separated phrasal verbs such as
//! "take the cup away"), splits the instruction into clauses (sentence marks, "then"/"also"/"plus", and
//! "and"/"," when a new verb follows a clause that already has one), finds each clause's main verb and
//! resolves it with what follows. A verb-list word is not taken as the main verb inside a noun phrase
//! (after a determiner, within three words after "a"/"some", in a hyphenated compound, or as an -ing
//! form right after a noun: "a potted plant", "a comic strip", "hand-drawn", "water pouring"). A light
//! verb (make, change, turn, let, have, should be ...) takes its meaning from the next content verb or
//! from its complement (background, style, pose, "instead", an attribute named before the new value,
//! a copula with an indefinite complement, attribute-only new values, a scene, "as the backdrop").
//! Physical phrasing is read as such: a definite object moved inside the scene (onto another object,
//! in a direction, "as far as it goes") is an action, "drop" with a support or hanging word is a
//! release, not a removal; an added or given surface treatment ("a coat of orange paint", "polka
//! dots", "with stripes") is an attribute change; "put X where Y is" is a replacement; a replace verb
//! whose object is the picture itself ("switch to a grainy look") resolves like a light verb.
//! Clauses of the same category in a row merge; then:
//!
//! * category: the resolved category of the single edit, or `compose` when the instruction asks for
//!   edits of two or more different categories;
//! * tier: `high` for `action`, `compose` and anything with a physical-dynamics cue (falling, pouring,
//!   melting, breaking, bending, opening, ...), otherwise `mid` for object-level categories (add,
//!   remove, replace, extract) and `low` for appearance-level ones (adjust, style, background);
//! * complexity in [0, 1]: the tier's band (low [0, 1/3), mid [1/3, 2/3), high [2/3, 1]) and a position
//!   inside it from secondary cues (several instances, spatial relations, long instructions, an action
//!   described inside an object edit, extra dynamics cues or edits, image clutter, the SRM mask's
//!   coverage). The weights are hand-set priors, not fitted.
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::lexicon::{self, Cue};

/// ImgEdit's nine edit categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Add,
    Remove,
    Replace,
    Adjust,
    Style,
    Background,
    Extract,
    Action,
    Compose,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Add,
        Category::Remove,
        Category::Replace,
        Category::Adjust,
        Category::Style,
        Category::Background,
        Category::Extract,
        Category::Action,
        Category::Compose,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Add => "add",
            Category::Remove => "remove",
            Category::Replace => "replace",
            Category::Adjust => "adjust",
            Category::Style => "style",
            Category::Background => "background",
            Category::Extract => "extract",
            Category::Action => "action",
            Category::Compose => "compose",
        }
    }

    /// Position in [`Category::ALL`].
    pub fn index(self) -> usize {
        Category::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    /// The tier of a single edit of this category without dynamics cues.
    pub fn base_tier(self) -> Tier {
        match self {
            Category::Adjust | Category::Style | Category::Background => Tier::Low,
            Category::Add | Category::Remove | Category::Replace | Category::Extract => Tier::Mid,
            Category::Action | Category::Compose => Tier::High,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Category {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        Category::ALL
            .iter()
            .copied()
            .find(|c| c.name() == t)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown edit category {s:?}; expected one of {}",
                    Category::ALL
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

/// Reasoning tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// appearance-level: adjust, style, background
    Low,
    /// object-level: add, remove, replace, extract
    Mid,
    /// structural or physical: actions, poses, dynamics, several edits
    High,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Low, Tier::Mid, Tier::High];
    pub fn name(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Mid => "mid",
            Tier::High => "high",
        }
    }
    /// The complexity band `[lo, hi)` of the tier (high includes 1).
    pub fn band(self) -> (f32, f32) {
        match self {
            Tier::Low => (0.0, 1.0 / 3.0),
            Tier::Mid => (1.0 / 3.0, 2.0 / 3.0),
            Tier::High => (2.0 / 3.0, 1.0),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tier {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Tier::Low),
            "mid" => Ok(Tier::Mid),
            "high" => Ok(Tier::High),
            _ => anyhow::bail!("unknown tier {s:?}; expected low, mid or high"),
        }
    }
}

/// Cheap cues from the reference image (and, when the pipeline has one, the SRM mask).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageCues {
    pub width: u32,
    pub height: u32,
    /// Fraction of pixels of a 64×64 grey thumbnail whose Sobel gradient magnitude exceeds 0.25
    /// (intensities in [0, 1]): a clutter measure.
    pub edge_density: f32,
    /// Hasler–Süsstrunk colourfulness of the thumbnail, divided by 100 (intensities in [0, 255]).
    pub colorfulness: f32,
    /// Fraction of latent tokens the SRM mask keeps, when known.
    pub mask_coverage: Option<f32>,
}

/// Thumbnail side used by [`ImageCues::from_rgb`].
const THUMB: usize = 64;

impl ImageCues {
    /// Decode an image file and compute its cues.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let img = image::open(path).with_context(|| format!("reading image {}", path.display()))?;
        let rgb = img.to_rgb8();
        Ok(Self::from_rgb(rgb.width(), rgb.height(), rgb.as_raw()))
    }

    /// Cues of an interleaved RGB8 image (`data.len() == 3 * width * height`; a shorter buffer is
    /// read as far as it goes).
    pub fn from_rgb(width: u32, height: u32, data: &[u8]) -> Self {
        let (w, h) = (width as usize, height as usize);
        let mut grey = vec![0f32; THUMB * THUMB];
        let (mut rg, mut yb) = (
            Vec::with_capacity(THUMB * THUMB),
            Vec::with_capacity(THUMB * THUMB),
        );
        if w > 0 && h > 0 {
            for ty in 0..THUMB {
                for tx in 0..THUMB {
                    let x = (tx * w + w / 2) / THUMB;
                    let y = (ty * h + h / 2) / THUMB;
                    let i = 3 * (y.min(h - 1) * w + x.min(w - 1));
                    let (r, g, b) = match data.get(i..i + 3) {
                        Some(p) => (p[0] as f32, p[1] as f32, p[2] as f32),
                        None => (0.0, 0.0, 0.0),
                    };
                    grey[ty * THUMB + tx] = (0.299 * r + 0.587 * g + 0.114 * b) / 255.0;
                    rg.push(r - g);
                    yb.push(0.5 * (r + g) - b);
                }
            }
        }
        let mut edges = 0usize;
        for y in 1..THUMB - 1 {
            for x in 1..THUMB - 1 {
                let p = |dx: isize, dy: isize| {
                    grey[((y as isize + dy) as usize) * THUMB + (x as isize + dx) as usize]
                };
                let gx = p(1, -1) + 2.0 * p(1, 0) + p(1, 1) - p(-1, -1) - 2.0 * p(-1, 0) - p(-1, 1);
                let gy = p(-1, 1) + 2.0 * p(0, 1) + p(1, 1) - p(-1, -1) - 2.0 * p(0, -1) - p(1, -1);
                if (gx * gx + gy * gy).sqrt() > 0.25 {
                    edges += 1;
                }
            }
        }
        let stats = |v: &[f32]| {
            if v.is_empty() {
                return (0.0, 0.0);
            }
            let m = v.iter().sum::<f32>() / v.len() as f32;
            let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / v.len() as f32;
            (m, var.sqrt())
        };
        let (mrg, srg) = stats(&rg);
        let (myb, syb) = stats(&yb);
        let colorfulness =
            ((srg * srg + syb * syb).sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt()) / 100.0;
        ImageCues {
            width,
            height,
            edge_density: edges as f32 / ((THUMB - 2) * (THUMB - 2)) as f32,
            colorfulness,
            mask_coverage: None,
        }
    }

    pub fn with_mask_coverage(mut self, coverage: f32) -> Self {
        self.mask_coverage = Some(coverage.clamp(0.0, 1.0));
        self
    }
}

/// Everything a predictor may look at. Embeddings are what the pipeline computes anyway (the
/// text encoder's output pooled over the prompt's tokens, the CLIP image embedding pooled over tokens);
/// the rule predictor ignores them.
#[derive(Debug, Clone, Copy, Default)]
pub struct CardInput<'a> {
    pub prompt: &'a str,
    pub image: Option<&'a ImageCues>,
    pub text_embedding: Option<&'a [f32]>,
    pub image_embedding: Option<&'a [f32]>,
}

impl<'a> CardInput<'a> {
    pub fn new(prompt: &'a str) -> Self {
        CardInput {
            prompt,
            ..Default::default()
        }
    }
}

/// A predictor's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub category: Category,
    pub complexity: f32,
    pub tier: Tier,
    /// Short human-readable justification.
    pub reason: String,
}

/// Predicts category, complexity and tier of an edit.
pub trait Predictor: Send + Sync {
    /// Name shown in plans ("rules", "learned:FILE").
    fn name(&self) -> &str;
    fn predict(&self, input: &CardInput) -> anyhow::Result<Prediction>;
}

// ------------------------------------------------------------------------------------------------
// Tokenising and phrase matching

#[derive(Debug, Clone)]
struct Tok {
    raw: String,
    stem: String,
    /// second or later part of a hyphenated compound ("hand-drawn")
    joined: bool,
    /// quoted text or words right after "says"/"labeled": never an instruction
    quoted: bool,
}

const BOUNDARY: &str = "|";
const COMMA: &str = ",";

fn tokenize(text: &str) -> Vec<Tok> {
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

struct Entry {
    phrase: &'static str,
    /// (word, matched on raw form)
    words: Vec<(String, bool)>,
    cue: Cue,
}

struct Lexicon {
    entries: Vec<Entry>,
    /// first word (stem) -> entry indices, longest first
    stem_index: HashMap<String, Vec<usize>>,
    /// first word (raw form, for `=` entries) -> entry indices, longest first
    raw_index: HashMap<String, Vec<usize>>,
    /// verb stem -> (particle, cue)
    particles: HashMap<String, Vec<(String, Cue)>>,
    /// phrase -> (before, after) stems that cancel a match
    exceptions: HashMap<&'static str, Vec<(String, String)>>,
    fillers: std::collections::HashSet<String>,
    image_words: std::collections::HashSet<String>,
    attr_modifiers: std::collections::HashSet<String>,
    surface_heads: std::collections::HashSet<String>,
    surface_modifiers: std::collections::HashSet<String>,
    release_or_remove: std::collections::HashSet<String>,
    physical_context: std::collections::HashSet<String>,
}

fn lexicon() -> &'static Lexicon {
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
struct Match {
    start: usize,
    len: usize,
    cue: Cue,
}

fn match_all(toks: &[Tok]) -> Vec<Option<Match>> {
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
fn noun_context(toks: &[Tok], ms: &[Option<Match>], i: usize) -> bool {
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
fn participle_modifier(toks: &[Tok], ms: &[Option<Match>], lo: usize, i: usize) -> bool {
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
fn main_verb_at(toks: &[Tok], ms: &[Option<Match>], lo: usize, i: usize) -> bool {
    ms[i].map(|m| is_verb(m.cue)).unwrap_or(false)
        && !negated(toks, ms, i)
        && !noun_context(toks, ms, i)
        && !participle_modifier(toks, ms, lo, i)
}

fn is_verb(c: Cue) -> bool {
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

// ------------------------------------------------------------------------------------------------
// Analysis

/// Number of distinct cue kinds counted in [`Analysis::cue_counts`].
pub const N_CUES: usize = 27;

fn cue_slot(c: Cue) -> usize {
    c as usize
}

/// Everything the rules found in an instruction (also the learned predictor's rule features).
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Category of each edit after merging consecutive clauses of the same category.
    pub edits: Vec<Category>,
    /// The merged category (compose for two or more edits).
    pub category: Category,
    /// The phrase that decided the category.
    pub deciding: String,
    /// Physical-dynamics phrases found (unnegated).
    pub dynamics: Vec<String>,
    /// Body/pose phrases found.
    pub actions: Vec<String>,
    /// Count of every cue kind.
    pub cue_counts: [u16; N_CUES],
    pub n_tokens: usize,
}

struct Clause {
    lo: usize,
    hi: usize,
}

fn negated(toks: &[Tok], ms: &[Option<Match>], i: usize) -> bool {
    let lo = i.saturating_sub(2);
    (lo..i).any(|k| ms[k].map(|m| m.cue == Cue::Negator).unwrap_or(false) || toks[k].raw == "not")
}

/// Analyse an instruction with the rule lexicon.
pub fn analyze(prompt: &str) -> Analysis {
    let lex = lexicon();
    let toks = tokenize(prompt);
    let ms = match_all(&toks);
    let mut cue_counts = [0u16; N_CUES];
    let mut dynamics = Vec::new();
    let mut actions = Vec::new();
    for (i, m) in ms.iter().enumerate() {
        if let Some(m) = m {
            cue_counts[cue_slot(m.cue)] = cue_counts[cue_slot(m.cue)].saturating_add(1);
            if negated(&toks, &ms, i) {
                continue;
            }
            let phrase = toks[m.start..m.start + m.len]
                .iter()
                .map(|t| t.raw.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let after_det = i > 0
                && ms[i - 1]
                    .map(|p| p.cue == Cue::Definite || p.cue == Cue::Indefinite)
                    .unwrap_or(false);
            let inflected = ["ing", "ed", "en"].iter().any(|x| toks[i].raw.ends_with(x));
            if toks[i].joined || (after_det && !inflected) {
                continue;
            }
            match m.cue {
                Cue::DynamicsVerb => dynamics.push(phrase),
                Cue::ActionVerb | Cue::PoseTerm => actions.push(phrase),
                _ => {}
            }
        }
    }

    // Clauses: split at sentence marks and sequencers; at "and"/"," only when the clause so far
    // already has a main verb and a verb follows.
    let mut clauses = Vec::new();
    let mut lo = 0;
    let mut has_verb = false;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let seq = ms[i].map(|m| m.cue == Cue::Sequencer).unwrap_or(false);
        let mut split = t.raw == BOUNDARY || (seq && has_verb);
        if !split && has_verb && (t.raw == "and" || t.raw == COMMA || t.raw == "while") {
            let mut k = i + 1;
            while k < toks.len()
                && (lex.fillers.contains(&toks[k].raw)
                    || ms[k].map(|m| m.cue == Cue::Sequencer).unwrap_or(false)
                    || toks[k].raw == "and")
            {
                k += 1;
            }
            split = ms
                .get(k)
                .copied()
                .flatten()
                .map(|m| is_verb(m.cue))
                .unwrap_or(false);
        }
        if split {
            if i > lo {
                clauses.push(Clause { lo, hi: i });
            }
            lo = i + 1;
            has_verb = false;
        } else if main_verb_at(&toks, &ms, lo, i) {
            has_verb = true;
        }
        i += 1;
    }
    if lo < toks.len() {
        clauses.push(Clause { lo, hi: toks.len() });
    }

    let mut resolved: Vec<(Category, String)> = Vec::new();
    for c in &clauses {
        if let Some(r) = resolve_clause(&toks, &ms, c.lo, c.hi) {
            resolved.push(r);
        }
    }
    let (edits, category, deciding) = if resolved.is_empty() {
        let (cat, why) = fallback(&toks, &ms, 0, toks.len());
        (vec![cat], cat, why)
    } else {
        let mut edits: Vec<Category> = Vec::new();
        for (c, _) in &resolved {
            if edits.last() != Some(c) {
                edits.push(*c);
            }
        }
        let mut uniq = edits.clone();
        uniq.sort();
        uniq.dedup();
        if uniq.len() >= 2 {
            let why = resolved
                .iter()
                .map(|(_, w)| w.as_str())
                .collect::<Vec<_>>()
                .join(" + ");
            (edits, Category::Compose, why)
        } else {
            (edits, resolved[0].0, resolved[0].1.clone())
        }
    };
    Analysis {
        edits,
        category,
        deciding,
        dynamics,
        actions,
        cue_counts,
        n_tokens: toks
            .iter()
            .filter(|t| t.raw != BOUNDARY && t.raw != COMMA)
            .count(),
    }
}

fn phrase_of(toks: &[Tok], m: &Match) -> String {
    toks[m.start..m.start + m.len]
        .iter()
        .map(|t| t.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cues inside `lo..hi` (start positions).
fn cues_in(ms: &[Option<Match>], lo: usize, hi: usize) -> impl Iterator<Item = Match> + '_ {
    ms[lo..hi].iter().filter_map(|m| *m)
}

fn has(ms: &[Option<Match>], lo: usize, hi: usize, c: Cue) -> bool {
    cues_in(ms, lo, hi).any(|m| m.cue == c)
}

/// End of the object noun phrase that starts at `lo`: the first Into/Spatial cue, comma or sentence mark.
fn np_end(toks: &[Tok], ms: &[Option<Match>], lo: usize, hi: usize) -> usize {
    (lo..hi)
        .find(|&k| {
            toks[k].raw == COMMA
                || toks[k].raw == BOUNDARY
                || matches!(
                    toks[k].raw.as_str(),
                    "in" | "on" | "at" | "from" | "of" | "behind"
                ) && k > lo
                || ms[k]
                    .map(|m| matches!(m.cue, Cue::Into | Cue::Spatial | Cue::Instead))
                    .unwrap_or(false)
        })
        .unwrap_or(hi)
}

/// End of the thing a verb acts on or hands over: the first destination preposition, Into/Spatial
/// cue, comma or sentence mark (unlike [`np_end`], "of" does not end it: "a coat of orange paint").
fn object_end(toks: &[Tok], ms: &[Option<Match>], lo: usize, hi: usize) -> usize {
    (lo..hi)
        .find(|&k| {
            toks[k].raw == COMMA
                || toks[k].raw == BOUNDARY
                || matches!(
                    toks[k].raw.as_str(),
                    "on" | "onto" | "in" | "at" | "across" | "over" | "all"
                ) && k > lo
                || ms[k]
                    .map(|m| matches!(m.cue, Cue::Into | Cue::Spatial | Cue::Instead))
                    .unwrap_or(false)
        })
        .unwrap_or(hi)
}

/// `hi` without trailing punctuation marks.
fn content_end(toks: &[Tok], lo: usize, hi: usize) -> usize {
    let mut e = hi;
    while e > lo && (toks[e - 1].raw == COMMA || toks[e - 1].raw == BOUNDARY) {
        e -= 1;
    }
    e
}

/// Whether `lo..hi` ends in a surface treatment ("a coat of orange paint", "polka dots", "stripes"):
/// the last word is a surface noun and the words before it back to the start or to a determiner are
/// attributes, surface modifiers or attribute modifiers.
fn surface_object(toks: &[Tok], ms: &[Option<Match>], lo: usize, hi: usize) -> bool {
    let lex = lexicon();
    if hi <= lo || !lex.surface_heads.contains(&toks[hi - 1].stem) {
        return false;
    }
    // the matched phrase covering each position
    let cue_at = |k: usize| {
        (lo..=k)
            .rev()
            .find_map(|j| ms[j].filter(|m| m.start + m.len > k))
            .map(|m| m.cue)
    };
    let mut k = hi - 1;
    while k > lo {
        k -= 1;
        let t = &toks[k];
        if matches!(cue_at(k), Some(Cue::Definite)) {
            return true;
        }
        let ok = lex.surface_heads.contains(&t.stem)
            || lex.surface_modifiers.contains(&t.stem)
            || lex.attr_modifiers.contains(&t.stem)
            || matches!(
                cue_at(k),
                Some(Cue::AttributeTerm | Cue::AttributeHead | Cue::Indefinite)
            );
        if !ok {
            // "give the red object stripes": a definite recipient before the treatment (but not
            // "add a splash of paint")
            return (lo..k).any(|j| matches!(cue_at(j), Some(Cue::Definite)))
                && !(lo..k).any(|j| matches!(cue_at(j), Some(Cue::Indefinite)));
        }
    }
    true
}

/// An unnegated physical-process cue in `lo..hi` outside a noun phrase ("send it rolling", "as far
/// as it goes").
fn dynamics_in(toks: &[Tok], ms: &[Option<Match>], lo: usize, hi: usize) -> bool {
    (lo..hi).any(|i| {
        ms[i].map(|m| m.cue == Cue::DynamicsVerb).unwrap_or(false)
            && !negated(toks, ms, i)
            && !toks[i].joined
            && (toks[i].raw.ends_with("ing") || !noun_context(toks, ms, i))
    })
}

/// Resolve the clause's main verb; `None` when the clause has no unnegated verb.
fn resolve_clause(
    toks: &[Tok],
    ms: &[Option<Match>],
    lo: usize,
    hi: usize,
) -> Option<(Category, String)> {
    let verb = (lo..hi).find_map(|i| ms[i].filter(|_| main_verb_at(toks, ms, lo, i)));
    let verb = match verb {
        Some(v) => v,
        None => {
            // "I don't want X", "do not need X": a negated wish is a removal.
            let neg_wish = (lo..hi).find_map(|i| {
                ms[i].filter(|m| {
                    m.cue == Cue::ChangeVerb
                        && negated(toks, ms, i)
                        && matches!(toks[i].stem.as_str(), "want" | "need" | "lik")
                })
            });
            return neg_wish.map(|m| {
                (
                    Category::Remove,
                    format!("negated \"{}\"", phrase_of(toks, &m)),
                )
            });
        }
    };
    Some(resolve_verb(toks, ms, verb, lo, hi, 0))
}

fn resolve_verb(
    toks: &[Tok],
    ms: &[Option<Match>],
    v: Match,
    lo: usize,
    hi: usize,
    depth: u8,
) -> (Category, String) {
    let after = v.start + v.len;
    let vp = phrase_of(toks, &v);
    let why = |what: &str| format!("{what} \"{vp}\"");
    let np_hi = np_end(toks, ms, after, hi);
    let extract = cues_in(ms, lo, hi).find(|m| m.cue == Cue::ExtractPhrase);
    if let Some(e) = extract {
        // "add a dog on a white background" stays an addition
        let about_background = toks[e.start..e.start + e.len]
            .iter()
            .any(|t| t.stem == "background" || t.stem == "backdrop");
        let selective = matches!(v.cue, Cue::AdjustVerb | Cue::StyleVerb);
        if !selective && (v.cue != Cue::AddVerb || !about_background) {
            return (Category::Extract, why("cut-out phrase with"));
        }
    }
    match v.cue {
        Cue::ExtractVerb => (Category::Extract, why("verb")),
        Cue::RemoveVerb
            if lexicon().release_or_remove.contains(&toks[v.start].stem)
                && (after..hi).any(|k| {
                    lexicon().physical_context.contains(&toks[k].raw)
                        || ms[k].map(|m| m.cue == Cue::DynamicsVerb).unwrap_or(false)
                }) =>
        {
            (Category::Action, why("release in a physical setting via"))
        }
        Cue::RemoveVerb => (Category::Remove, why("verb")),
        Cue::StyleVerb => (Category::Style, why("verb")),
        Cue::AddVerb
            if toks[v.start].stem == "giv"
                && (has(ms, after, np_hi, Cue::ActionVerb)
                    || has(ms, after, np_hi, Cue::PoseTerm)
                    // "give the ball a shove"
                    || has(ms, after, np_hi, Cue::DynamicsVerb)) =>
        {
            (Category::Action, why("gesture via"))
        }
        Cue::AddVerb | Cue::PutVerb
            if has(ms, lo, hi, Cue::Instead)
                && !has(ms, after, hi, Cue::SceneTerm)
                && !has(ms, after, hi, Cue::BackgroundTerm) =>
        {
            (Category::Replace, why("\"instead\" with"))
        }
        Cue::AddVerb | Cue::PutVerb
            if surface_object(toks, ms, after, object_end(toks, ms, after, hi))
                // "give the one on the right a plain finish": the treatment comes last
                || (toks[v.start].stem == "giv" && surface_object(toks, ms, after, content_end(toks, after, hi)))
                || (lo..hi)
                    .find(|&k| toks[k].raw == "with" && k > after)
                    .map(|k| surface_object(toks, ms, k + 1, object_end(toks, ms, k + 1, hi)))
                    .unwrap_or(false) =>
        {
            (Category::Adjust, why("surface treatment via"))
        }
        Cue::AddVerb => {
            let in_np = |c| has(ms, after, np_hi, c);
            // the object is only modifiers around an effect or style ("add a warm glow", "give the
            // photo a retro comic look"), not a new thing ("add a cartoon dog")
            let lex = lexicon();
            let (mut k, mut effects, mut styles, mut plain) = (after, 0, 0, true);
            while k < np_hi {
                match ms[k] {
                    Some(m) if matches!(m.cue, Cue::EffectTerm) => {
                        effects += 1;
                        k += m.len
                    }
                    Some(m) if matches!(m.cue, Cue::StyleTerm) => {
                        styles += 1;
                        k += m.len
                    }
                    Some(m)
                        if matches!(
                            m.cue,
                            Cue::Indefinite
                                | Cue::Definite
                                | Cue::AttributeTerm
                                | Cue::AttributeHead
                        ) =>
                    {
                        k += m.len
                    }
                    _ if lex.attr_modifiers.contains(&toks[k].stem)
                        || lex.image_words.contains(&toks[k].raw)
                        || toks[k].raw.chars().any(|c| c.is_ascii_digit())
                        || toks[k].raw == "me" =>
                    {
                        k += 1
                    }
                    _ => {
                        plain = false;
                        break;
                    }
                }
            }
            if plain && styles > 0 {
                (Category::Style, why("style look via"))
            } else if (plain && effects > 0)
                || (in_np(Cue::AttributeHead) && !in_np(Cue::Indefinite))
            {
                (Category::Adjust, why("effect via"))
            } else if in_np(Cue::AttributeHead) && toks[v.start].stem == "giv" {
                (Category::Adjust, why("attribute via"))
            } else if in_np(Cue::BackgroundTerm) {
                (Category::Background, why("background via"))
            } else {
                (Category::Add, why("verb"))
            }
        }
        // "switch to a grainy look": no object, the new value follows directly
        // ... or "switch the image to a blocky style": the object is the picture itself
        Cue::ReplaceVerb
            if (after..hi)
                .find(|&k| ms[k].map(|m| m.cue == Cue::Into).unwrap_or(false))
                .map(|k| {
                    (after..k).all(|j| {
                        lexicon().image_words.contains(&toks[j].raw)
                            || ms[j].map(|m| m.cue == Cue::Definite).unwrap_or(false)
                    })
                })
                .unwrap_or(false) =>
        {
            resolve_light(toks, ms, v, lo, hi, depth)
        }
        Cue::ReplaceVerb => {
            let obj_hi = (after..hi)
                .find(|&k| ms[k].map(|m| m.cue == Cue::Into).unwrap_or(false))
                .unwrap_or(hi);
            if has(ms, after, obj_hi, Cue::BackgroundTerm) {
                (Category::Background, why("background via"))
            } else {
                (Category::Replace, why("verb"))
            }
        }
        Cue::PutVerb if has(ms, after, np_end(toks, ms, after, hi), Cue::BodyPart) => {
            (Category::Action, why("body part moved by"))
        }
        Cue::PutVerb => {
            let first = (after..hi)
                .find_map(|k| ms[k].filter(|m| matches!(m.cue, Cue::Definite | Cue::Indefinite)));
            let definite = first
                .map(|m| m.cue == Cue::Definite && m.start == after)
                .unwrap_or(false);
            if definite && dynamics_in(toks, ms, after, hi) {
                (Category::Action, why("physical motion with"))
            } else if definite {
                if has(ms, after, hi, Cue::SceneTerm) || has(ms, after, hi, Cue::BackgroundTerm) {
                    (Category::Background, why("relocation with"))
                } else {
                    // moving a thing inside the scene (onto another, in a direction, rolling) is
                    // a physical action
                    (Category::Action, why("repositioning with"))
                }
            } else {
                (Category::Add, why("verb"))
            }
        }
        Cue::AdjustVerb => {
            if has(
                ms,
                after,
                np_hi.max((after + 4).min(hi)),
                Cue::BackgroundTerm,
            ) {
                (Category::Background, why("background via"))
            } else {
                (Category::Adjust, why("verb"))
            }
        }
        Cue::ActionVerb => {
            if has(ms, after, np_hi, Cue::EffectTerm) || has(ms, after, np_hi, Cue::AttributeHead) {
                (Category::Adjust, why("attribute via"))
            } else {
                (Category::Action, why("pose verb"))
            }
        }
        Cue::DynamicsVerb => (Category::Action, why("physical process")),
        _ => resolve_light(toks, ms, v, lo, hi, depth),
    }
}

/// A light verb (make, change, turn, let, have, should be ...): meaning from what follows.
fn resolve_light(
    toks: &[Tok],
    ms: &[Option<Match>],
    v: Match,
    lo: usize,
    hi: usize,
    depth: u8,
) -> (Category, String) {
    let after = v.start + v.len;
    let vp = phrase_of(toks, &v);
    let why = |what: &str| format!("{what} (\"{vp}\")");
    // a. "instead" names a replacement whatever the verbs say, unless the background is the subject
    if has(ms, lo, v.start, Cue::BackgroundTerm) {
        return (Category::Background, why("background subject of"));
    }
    if has(ms, lo, hi, Cue::Instead) {
        return (Category::Replace, why("\"instead\" with"));
    }
    // b. a following content verb decides ("make the cup fall", "let him wave")
    if depth < 3 {
        if let Some(sec) = (after..hi).find_map(|i| {
            ms[i].filter(|m| {
                is_verb(m.cue)
                    && m.cue != Cue::ChangeVerb
                    && !negated(toks, ms, i)
                    && !noun_context(toks, ms, i)
            })
        }) {
            return resolve_verb(toks, ms, sec, lo, hi, depth + 1);
        }
    }
    // "change the color of the door to ...": an attribute named before the new value
    let into_pos = (after..hi).find(|&k| ms[k].map(|m| m.cue == Cue::Into).unwrap_or(false));
    if let Some(k) = into_pos {
        if has(ms, after, k, Cue::AttributeHead) {
            return (Category::Adjust, why("attribute named with"));
        }
    }
    // "the dog should be a cat": a copula with a definite subject and an indefinite complement
    if ms
        .get(after)
        .copied()
        .flatten()
        .map(|m| m.cue == Cue::Indefinite)
        .unwrap_or(false)
        && has(ms, lo, v.start, Cue::Definite)
        && !has(ms, after, hi, Cue::StyleTerm)
        && !has(ms, after, hi, Cue::BackgroundTerm)
    {
        let attr_only = (after + 1..hi).all(|k| {
            ms[k]
                .map(|m| {
                    matches!(
                        m.cue,
                        Cue::AttributeTerm | Cue::AttributeHead | Cue::EffectTerm
                    )
                })
                .unwrap_or(false)
                || lexicon().attr_modifiers.contains(&toks[k].stem)
                || toks[k].raw == COMMA
                || toks[k].raw == BOUNDARY
        });
        if !attr_only {
            return (Category::Replace, why("new identity via"));
        }
    }
    // b-d. background, style, pose
    let into = (after..hi).find(|&k| ms[k].map(|m| m.cue == Cue::Into).unwrap_or(false));
    // "use a plain wall as the backdrop": the background named as the role of the new content
    if let Some(k) = (after..hi).find(|&k| toks[k].raw == "as" && !toks[k].quoted) {
        if has(ms, k + 1, hi, Cue::BackgroundTerm) {
            return (Category::Background, why("background role"));
        }
    }
    if has(ms, lo, into.unwrap_or(hi), Cue::BackgroundTerm) {
        return (Category::Background, why("background"));
    }
    if has(ms, lo, hi, Cue::StyleTerm) {
        return (Category::Style, why("style term"));
    }
    if has(ms, lo, hi, Cue::PoseTerm) {
        return (Category::Action, why("pose term"));
    }
    if has(ms, lo, hi, Cue::Instead) {
        return (Category::Replace, why("\"instead\""));
    }
    // "turn his head", "make the horse lift its legs": a body part without attribute words
    if has(ms, after, hi, Cue::BodyPart)
        && !has(ms, after, hi, Cue::AttributeTerm)
        && !has(ms, after, hi, Cue::AttributeHead)
    {
        return (Category::Action, why("body part"));
    }
    // e. new content: after "into/to/with/as", or an indefinite following a definite object
    let content_lo = into.map(|k| k + 1).or_else(|| {
        let def = (after..hi).find(|&k| ms[k].map(|m| m.cue == Cue::Definite).unwrap_or(false))?;
        (def + 1..hi)
            .find(|&k| ms[k].map(|m| m.cue == Cue::Indefinite).unwrap_or(false))
            .map(|k| k + 1)
    });
    let lex = lexicon();
    if let Some(cl) = content_lo {
        let content: Vec<usize> = (cl..hi)
            .filter(|&k| toks[k].raw != COMMA && toks[k].raw != BOUNDARY)
            .collect();
        if !content.is_empty() {
            let mut k = 0;
            let mut all_attr = true;
            while k < content.len() {
                let i = content[k];
                match ms[i] {
                    Some(m)
                        if matches!(
                            m.cue,
                            Cue::AttributeTerm
                                | Cue::AttributeHead
                                | Cue::EffectTerm
                                | Cue::Indefinite
                                | Cue::Definite
                        ) =>
                    {
                        k += m.len;
                        continue;
                    }
                    _ => {}
                }
                if !lex.attr_modifiers.contains(&toks[i].stem)
                    && !toks[i].raw.chars().all(|c| c.is_ascii_digit())
                {
                    all_attr = false;
                    break;
                }
                k += 1;
            }
            if all_attr {
                return (Category::Adjust, why("attribute change"));
            }
            let scene_prep = (after..hi).any(|k| {
                matches!(toks[k].raw.as_str(), "in" | "on" | "at" | "to" | "into")
                    && (k + 1..hi.min(k + 5))
                        .any(|j| ms[j].map(|m| m.cue == Cue::SceneTerm).unwrap_or(false))
            });
            if scene_prep
                && !has(ms, after, cl, Cue::Indefinite)
                && into.is_some()
                && toks[into.unwrap()].raw != "into"
            {
                return (Category::Background, why("scene"));
            }
            return (Category::Replace, why("new object"));
        }
    }
    // f. attributes
    for c in [Cue::AttributeTerm, Cue::AttributeHead, Cue::EffectTerm] {
        if has(ms, lo, hi, c) {
            return (Category::Adjust, why("attribute"));
        }
    }
    // g. a subject placed in a scene
    let scene = (after..hi).any(|k| {
        matches!(toks[k].raw.as_str(), "in" | "on" | "at" | "to" | "into")
            && (k + 1..hi.min(k + 5))
                .any(|j| ms[j].map(|m| m.cue == Cue::SceneTerm).unwrap_or(false))
    });
    if scene {
        return (Category::Background, why("scene"));
    }
    // h. "make a snowman", "paint a mural"
    if ms
        .get(after)
        .copied()
        .flatten()
        .map(|m| m.cue == Cue::Indefinite)
        .unwrap_or(false)
    {
        return (Category::Add, why("new object via"));
    }
    (Category::Adjust, why("default for"))
}

/// No verb anywhere: decide from the cues alone.
fn fallback(toks: &[Tok], ms: &[Option<Match>], lo: usize, hi: usize) -> (Category, String) {
    let order = [
        (Cue::ExtractPhrase, Category::Extract),
        (Cue::StyleTerm, Category::Style),
        (Cue::Instead, Category::Replace),
        (Cue::BackgroundTerm, Category::Background),
        (Cue::PoseTerm, Category::Action),
        (Cue::DynamicsVerb, Category::Action),
        (Cue::ActionVerb, Category::Action),
        (Cue::AttributeTerm, Category::Adjust),
        (Cue::AttributeHead, Category::Adjust),
        (Cue::EffectTerm, Category::Adjust),
        (Cue::Indefinite, Category::Add),
        (Cue::SceneTerm, Category::Background),
    ];
    for (cue, cat) in order {
        if let Some(m) = cues_in(ms, lo, hi).find(|m| m.cue == cue) {
            return (cat, format!("no verb; cue \"{}\"", phrase_of(toks, &m)));
        }
    }
    (Category::Adjust, "no verb or cue; default".to_string())
}

// ------------------------------------------------------------------------------------------------
// Complexity and tier

/// Tier and complexity of an edit of `category` given the rule analysis and optional image cues.
/// Returns (complexity, tier, notes).
pub fn complexity_and_tier(
    category: Category,
    a: &Analysis,
    image: Option<&ImageCues>,
) -> (f32, Tier, Vec<String>) {
    let mut notes = Vec::new();
    let mut tier = category.base_tier();
    if !a.dynamics.is_empty() && tier != Tier::High {
        tier = Tier::High;
        notes.push(format!("dynamics cue \"{}\"", a.dynamics[0]));
    } else if !a.dynamics.is_empty() {
        notes.push(format!("dynamics cue \"{}\"", a.dynamics[0]));
    }
    let n_edits = if category == Category::Compose {
        a.edits.len().max(2)
    } else {
        1
    };
    if n_edits >= 2 {
        tier = Tier::High;
        notes.push(format!("{n_edits} edits"));
    }
    // position inside the band, in band units
    let mut pos: f32 = match category {
        Category::Adjust => 0.35,
        Category::Style => 0.45,
        Category::Background => 0.6,
        Category::Extract => 0.3,
        Category::Remove => 0.4,
        Category::Add => 0.5,
        Category::Replace => 0.6,
        Category::Action => 0.45,
        Category::Compose => 0.45,
    };
    if tier != category.base_tier() {
        pos = 0.3;
    }
    let cnt = |c: Cue| a.cue_counts[cue_slot(c)] as f32;
    if cnt(Cue::Quantity) > 0.0 {
        pos += 0.1;
    }
    if cnt(Cue::Spatial) > 0.0 {
        pos += 0.1;
    }
    if a.n_tokens > 20 {
        pos += 0.1;
    }
    if category != Category::Action && !a.actions.is_empty() {
        pos += 0.2;
        notes.push(format!("action cue \"{}\"", a.actions[0]));
    }
    pos += 0.15 * (a.dynamics.len().saturating_sub(1) as f32).min(2.0);
    pos += 0.15 * (n_edits.saturating_sub(2) as f32).min(2.0);
    if let Some(img) = image {
        if tier != Tier::Low && img.edge_density > 0.15 {
            pos += 0.1;
            notes.push("cluttered image".to_string());
        }
        if let Some(cov) = img.mask_coverage {
            if tier != Tier::Low && cov > 0.4 {
                pos += 0.15;
                notes.push(format!("mask covers {:.0}%", cov * 100.0));
            } else if tier != Tier::Low && cov < 0.03 {
                pos -= 0.15;
                notes.push(format!("mask covers {:.1}%", cov * 100.0));
            }
        }
    }
    let (blo, bhi) = tier.band();
    let pos = pos.clamp(0.0, 0.99);
    (blo + pos * (bhi - blo), tier, notes)
}

/// Names of [`rule_features`], in order.
pub fn rule_feature_names() -> Vec<String> {
    let mut v: Vec<String> = Category::ALL
        .iter()
        .map(|c| format!("rule_{}", c.name()))
        .collect();
    for k in 0..N_CUES {
        v.push(format!("cue_{}", cue_name(k)));
    }
    for n in [
        "edits",
        "dynamics",
        "actions",
        "tokens_div20",
        "has_image",
        "edge_density",
        "colorfulness",
        "mask_coverage",
    ] {
        v.push(n.to_string());
    }
    v
}

fn cue_name(slot: usize) -> String {
    const CUES: [Cue; N_CUES] = [
        Cue::AddVerb,
        Cue::RemoveVerb,
        Cue::ReplaceVerb,
        Cue::ChangeVerb,
        Cue::PutVerb,
        Cue::ExtractVerb,
        Cue::ExtractPhrase,
        Cue::StyleVerb,
        Cue::StyleTerm,
        Cue::AdjustVerb,
        Cue::AttributeTerm,
        Cue::AttributeHead,
        Cue::EffectTerm,
        Cue::BackgroundTerm,
        Cue::SceneTerm,
        Cue::ActionVerb,
        Cue::PoseTerm,
        Cue::BodyPart,
        Cue::DynamicsVerb,
        Cue::Into,
        Cue::Indefinite,
        Cue::Definite,
        Cue::Negator,
        Cue::Quantity,
        Cue::Spatial,
        Cue::Sequencer,
        Cue::Instead,
    ];
    CUES.iter()
        .find(|c| cue_slot(**c) == slot)
        .map(|c| format!("{c:?}"))
        .unwrap_or_else(|| format!("{slot}"))
}

/// The rule features of an instruction (and image), in the order of [`rule_feature_names`].
pub fn rule_features(a: &Analysis, image: Option<&ImageCues>) -> Vec<f32> {
    let mut v = vec![0f32; Category::ALL.len()];
    v[a.category.index()] = 1.0;
    v.extend(a.cue_counts.iter().map(|&c| c as f32));
    v.push(a.edits.len() as f32);
    v.push(a.dynamics.len() as f32);
    v.push(a.actions.len() as f32);
    v.push(a.n_tokens as f32 / 20.0);
    v.push(image.is_some() as u8 as f32);
    v.push(image.map(|i| i.edge_density).unwrap_or(0.0));
    v.push(image.map(|i| i.colorfulness).unwrap_or(0.0));
    v.push(image.and_then(|i| i.mask_coverage).unwrap_or(0.0));
    v
}

/// The default, model-free predictor.
#[derive(Debug, Clone, Copy, Default)]
pub struct RulePredictor;

impl Predictor for RulePredictor {
    fn name(&self) -> &str {
        "rules"
    }
    fn predict(&self, input: &CardInput) -> anyhow::Result<Prediction> {
        let a = analyze(input.prompt);
        let (complexity, tier, notes) = complexity_and_tier(a.category, &a, input.image);
        let mut reason = format!("{} from {}", a.category, a.deciding);
        if !notes.is_empty() {
            reason.push_str("; ");
            reason.push_str(&notes.join(", "));
        }
        Ok(Prediction {
            category: a.category,
            complexity,
            tier,
            reason,
        })
    }
}
