//! Clause splitting and resolution: [`analyze`] splits the instruction into clauses, finds each
//! clause's main verb and resolves it with what follows (light verbs, physical phrasing, surface
//! treatments, cut-outs), then merges consecutive clauses of the same category.
use crate::adaptive::lexicon::Cue;
use crate::category::Category;

use super::cues::{
    cue_slot, cues_in, has, is_verb, lexicon, main_verb_at, match_all, negated, noun_context,
    phrase_of, tokenize, Match, Tok, BOUNDARY, COMMA, N_CUES,
};

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
