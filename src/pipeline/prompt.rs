//! Prompt cleaning and tokenisation, as the ChronoEdit pipeline prepares text for the UMT5 encoder.
//!
//! [`prompt_clean`] mirrors the pipeline's `prompt_clean = whitespace_clean(basic_clean(text))` where
//! `basic_clean` is `ftfy.fix_text`, then `html.unescape` twice, then `strip`. ftfy has no Rust
//! counterpart; [`prompt_clean`] implements the ftfy steps that change valid, correctly decoded text:
//! HTML entity decoding (repeated to a fixed point, switched off from the first line containing `<`
//! onwards, as ftfy does), C1 control characters read as Windows-1252, Latin ligatures, full/half-width
//! forms, curly quotes, line breaks, ANSI terminal escapes, control characters and NFC normalisation.
//! Not implemented: ftfy's mojibake repair (`fix_encoding`: text that was decoded with the wrong codec,
//! e.g. `"Ã©"` for `"é"`), which is left unchanged here. Entity decoding knows the HTML 4 entity names
//! (plus `&apos;`), all numeric references, and Python's rules for legacy names without `;`; the rarer
//! HTML5-only names (e.g. `&checkmark;`) are left as written.

use std::path::Path;

use anyhow::{anyhow, Context};
use regex::Regex;
use std::sync::OnceLock;
use tokenizers::{
    NormalizedString, PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer,
    TruncationDirection, TruncationParams, TruncationStrategy,
};

/// Windows-1252 readings of the code points 0x80..=0x9F (undefined bytes map to themselves), used both
/// by ftfy's `fix_c1_controls` and by `html.unescape` for numeric references in that range.
const CP1252_C1: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

fn entity(name: &str) -> Option<&'static str> {
    ENTITIES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Python's `str.isspace`.
fn is_py_space(c: char) -> bool {
    matches!(c, '\u{1C}'..='\u{1F}') || c.is_whitespace()
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `html.unescape`.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0C <&#;]{1,32};?)")
            .expect("valid regex")
    });
    re.replace_all(s, |caps: &regex::Captures| {
        let body = &caps[1];
        if let Some(num) = body.strip_prefix('#') {
            let (digits, radix) = match num.strip_prefix(['x', 'X']) {
                Some(h) => (h, 16),
                None => (num, 10),
            };
            let digits = digits.trim_end_matches(';');
            // arbitrary precision in Python; anything above 0x10FFFF is invalid anyway
            let n = u64::from_str_radix(digits, radix).unwrap_or(u64::MAX);
            numeric_charref(n)
        } else {
            if let Some(v) = entity(body) {
                return v.to_string();
            }
            // longest legacy prefix (names valid without ';'), at least 2 characters
            let chars: Vec<(usize, char)> = body.char_indices().collect();
            for x in (2..chars.len()).rev() {
                let prefix = &body[..chars[x].0];
                if let Some(v) = entity(prefix) {
                    return format!("{v}{}", &body[chars[x].0..]);
                }
            }
            format!("&{body}")
        }
    })
    .into_owned()
}

fn numeric_charref(n: u64) -> String {
    if n == 0 {
        return '\u{FFFD}'.to_string();
    }
    if n == 0x0D {
        return "\r".to_string();
    }
    if (0x80..=0x9F).contains(&n) {
        return CP1252_C1[(n - 0x80) as usize].to_string();
    }
    if (0xD800..=0xDFFF).contains(&n) || n > 0x10FFFF {
        return '\u{FFFD}'.to_string();
    }
    let invalid = (0x1..=0x8).contains(&n)
        || (0xE..=0x1F).contains(&n)
        || (0x7F..=0x9F).contains(&n)
        || (0xFDD0..=0xFDEF).contains(&n)
        || n == 0xB
        || (n & 0xFFFE) == 0xFFFE;
    if invalid {
        return String::new();
    }
    char::from_u32(n as u32)
        .map(String::from)
        .unwrap_or_default()
}

/// ftfy's `unescape_html`: only `;`-terminated references, plus all-caps names of lower-case entities.
fn ftfy_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"&#?[0-9A-Za-z]{1,24};").expect("valid regex"));
    re.replace_all(s, |caps: &regex::Captures| {
        let m = &caps[0];
        let name = &m[1..];
        if name.ends_with(';') && !name.starts_with('#') {
            if let Some(v) = entity(name) {
                return v.to_string();
            }
            if let Some((_, v)) = ENTITIES_UPPER.iter().find(|(n, _)| *n == name) {
                return v.to_string();
            }
            return m.to_string();
        }
        if name.starts_with('#') {
            let u = html_unescape(m);
            if u.contains(';') {
                return m.to_string();
            }
            return u;
        }
        m.to_string()
    })
    .into_owned()
}

fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{132}' => "IJ",
        '\u{133}' => "ij",
        '\u{149}' => "\u{2BC}n",
        '\u{1F1}' => "DZ",
        '\u{1F2}' => "Dz",
        '\u{1F3}' => "dz",
        '\u{1C4}' => "D\u{17D}",
        '\u{1C5}' => "D\u{17E}",
        '\u{1C6}' => "d\u{17E}",
        '\u{1C7}' => "LJ",
        '\u{1C8}' => "Lj",
        '\u{1C9}' => "lj",
        '\u{1CA}' => "NJ",
        '\u{1CB}' => "Nj",
        '\u{1CC}' => "nj",
        '\u{FB00}' => "ff",
        '\u{FB01}' => "fi",
        '\u{FB02}' => "fl",
        '\u{FB03}' => "ffi",
        '\u{FB04}' => "ffl",
        '\u{FB05}' => "\u{17F}t",
        '\u{FB06}' => "st",
        _ => return None,
    })
}

fn is_ftfy_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{E}'..='\u{1F}' | '\u{7F}' | '\u{206A}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFC}')
}

fn nfkc(s: &str) -> String {
    let mut n = NormalizedString::from(s);
    n.nfkc();
    n.get().to_string()
}

fn nfc(s: &str) -> String {
    let mut n = NormalizedString::from(s);
    n.nfc();
    n.get().to_string()
}

/// One pass of the per-character ftfy fixers.
fn ftfy_char_fixes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        // fix_c1_controls
        let c = if ('\u{80}'..='\u{9F}').contains(&c) {
            CP1252_C1[c as usize - 0x80]
        } else {
            c
        };
        if let Some(l) = ligature(c) {
            out.push_str(l);
        } else if c == '\u{3000}' {
            out.push(' ');
        } else if ('\u{FF01}'..='\u{FFEF}').contains(&c) {
            // fix_character_width: NFKC of half/full-width forms
            out.push_str(&nfkc(c.encode_utf8(&mut [0; 4])));
        } else {
            out.push(c);
        }
    }
    // uncurl_quotes, fix_line_breaks
    let mut s2 = String::with_capacity(out.len());
    let mut it = out.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\u{2BC}' | '\u{2018}'..='\u{201B}' => s2.push('\''),
            '\u{201C}'..='\u{201F}' => s2.push('"'),
            '\r' => {
                if it.peek() == Some(&'\n') {
                    it.next();
                }
                s2.push('\n');
            }
            '\u{2028}' | '\u{2029}' | '\u{85}' => s2.push('\n'),
            _ => s2.push(c),
        }
    }
    // remove_terminal_escapes
    static ANSI: OnceLock<Regex> = OnceLock::new();
    let ansi = ANSI.get_or_init(|| Regex::new("\x1b\\[(?:[0-9]|;)*[a-zA-Z]").expect("valid regex"));
    let s3 = ansi.replace_all(&s2, "");
    // remove_control_chars
    let s4: String = s3.chars().filter(|c| !is_ftfy_control(*c)).collect();
    nfc(&s4)
}

/// The subset of `ftfy.fix_text` described in the module documentation.
fn ftfy_fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut unescape = true;
    for segment in text.split_inclusive('\n') {
        if unescape && segment.contains('<') {
            unescape = false;
        }
        let mut cur = segment.to_string();
        // ftfy repeats its fixers until nothing changes; bounded here for safety
        for _ in 0..32 {
            let before = cur.clone();
            if unescape {
                cur = ftfy_unescape(&cur);
            }
            cur = ftfy_char_fixes(&cur);
            if cur == before {
                break;
            }
        }
        out.push_str(&cur);
    }
    out
}

/// `whitespace_clean`: every run of whitespace becomes one space, then strip.
pub fn whitespace_clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if is_py_space(c) {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    py_strip(&out).to_string()
}

/// The pipeline's `prompt_clean` (see the module documentation for the ftfy subset).
pub fn prompt_clean(text: &str) -> String {
    let t = ftfy_fix_text(text);
    let t = html_unescape(&html_unescape(&t));
    whitespace_clean(py_strip(&t))
}

/// A tokenised prompt, padded to the tokenizer's `max_len`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedPrompt {
    /// Token ids padded with the pad id to `max_len` (truncated like HF `truncation=True`, EOS kept).
    pub ids: Vec<u32>,
    /// 1 for real tokens, 0 for padding.
    pub mask: Vec<u32>,
    /// Number of real tokens (including EOS).
    pub len: usize,
    /// Character offsets `[start, end)` into `cleaned` for each real token; special tokens such as
    /// EOS get `(0, 0)` as the tokenizer reports them.
    pub offsets: Vec<(usize, usize)>,
    /// The prompt after [`prompt_clean`].
    pub cleaned: String,
}

/// Tokenizer from the pipeline's `tokenizer/tokenizer.json`, configured as `_get_t5_prompt_embeds`
/// calls it: `padding="max_length"`, `max_length=max_len`, `truncation=True`, special tokens added.
pub struct PromptTokenizer {
    tokenizer: Tokenizer,
    max_len: usize,
    pad_id: u32,
}

fn token_name(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content").and_then(|c| c.as_str()).map(String::from),
        _ => None,
    }
}

impl PromptTokenizer {
    /// `path` is `tokenizer.json`; the pad token is taken from `tokenizer_config.json` next to it when
    /// present, else from the file's padding section, else `<pad>`.
    pub fn from_file(path: &Path, max_len: usize) -> anyhow::Result<Self> {
        if max_len == 0 {
            anyhow::bail!("tokenizer {}: max_len must be positive", path.display());
        }
        let mut tokenizer = Tokenizer::from_file(path)
            .map_err(|e| anyhow!("loading tokenizer {}: {e}", path.display()))?;
        let mut pad_token: Option<String> = None;
        if let Some(dir) = path.parent() {
            let cfg_path = dir.join("tokenizer_config.json");
            if cfg_path.exists() {
                let text = std::fs::read_to_string(&cfg_path)
                    .with_context(|| format!("reading {}", cfg_path.display()))?;
                let cfg: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", cfg_path.display()))?;
                pad_token = cfg.get("pad_token").and_then(token_name);
            }
        }
        if pad_token.is_none() {
            pad_token = tokenizer.get_padding().map(|p| p.pad_token.clone());
        }
        let pad_token = pad_token.unwrap_or_else(|| "<pad>".to_string());
        let pad_id = tokenizer.token_to_id(&pad_token).ok_or_else(|| {
            anyhow!(
                "tokenizer {}: pad token {pad_token:?} is not in the vocabulary",
                path.display()
            )
        })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| anyhow!("tokenizer {}: setting truncation: {e}", path.display()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(max_len),
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token,
        }));
        Ok(Self {
            tokenizer,
            max_len,
            pad_id,
        })
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Cleans `prompt` with [`prompt_clean`] and tokenises it.
    pub fn encode(&self, prompt: &str) -> anyhow::Result<EncodedPrompt> {
        let cleaned = prompt_clean(prompt);
        let enc = self
            .tokenizer
            .encode(cleaned.as_str(), true)
            .map_err(|e| anyhow!("tokenizing prompt {cleaned:?}: {e}"))?;
        let ids = enc.get_ids().to_vec();
        let mask = enc.get_attention_mask().to_vec();
        if ids.len() != self.max_len || mask.len() != self.max_len {
            anyhow::bail!(
                "tokenizer produced {} ids for max_len {} (prompt {cleaned:?})",
                ids.len(),
                self.max_len
            );
        }
        let len = mask.iter().filter(|&&m| m != 0).count();
        // byte offsets -> char offsets
        let mut byte_to_char = vec![0usize; cleaned.len() + 1];
        let mut n = 0;
        for (b, _) in cleaned.char_indices() {
            byte_to_char[b] = n;
            n += 1;
        }
        byte_to_char[cleaned.len()] = n;
        let to_char = |b: usize| -> usize {
            // offsets from the tokenizer lie on char boundaries; clamp defensively
            let b = b.min(cleaned.len());
            let mut bb = b;
            while bb > 0 && !cleaned.is_char_boundary(bb) {
                bb -= 1;
            }
            byte_to_char[bb]
        };
        let offsets = enc
            .get_offsets()
            .iter()
            .zip(mask.iter())
            .filter(|(_, &m)| m != 0)
            .map(|(&(s, e), _)| (to_char(s), to_char(e)))
            .collect();
        Ok(EncodedPrompt {
            ids,
            mask,
            len,
            offsets,
            cleaned,
        })
    }
}

// Generated from Python's html.entities: the HTML 4 entity names plus &apos; and the upper-case legacy names.
// (name without '&', with ';' when required, replacement)
const ENTITIES: &[(&str, &str)] = &[
    ("AElig;", "\u{c6}"),
    ("AMP;", "\u{26}"),
    ("Aacute;", "\u{c1}"),
    ("Acirc;", "\u{c2}"),
    ("Agrave;", "\u{c0}"),
    ("Alpha;", "\u{391}"),
    ("Aring;", "\u{c5}"),
    ("Atilde;", "\u{c3}"),
    ("Auml;", "\u{c4}"),
    ("Beta;", "\u{392}"),
    ("COPY;", "\u{a9}"),
    ("Ccedil;", "\u{c7}"),
    ("Chi;", "\u{3a7}"),
    ("Dagger;", "\u{2021}"),
    ("Delta;", "\u{394}"),
    ("ETH;", "\u{d0}"),
    ("Eacute;", "\u{c9}"),
    ("Ecirc;", "\u{ca}"),
    ("Egrave;", "\u{c8}"),
    ("Epsilon;", "\u{395}"),
    ("Eta;", "\u{397}"),
    ("Euml;", "\u{cb}"),
    ("GT;", "\u{3e}"),
    ("Gamma;", "\u{393}"),
    ("Iacute;", "\u{cd}"),
    ("Icirc;", "\u{ce}"),
    ("Igrave;", "\u{cc}"),
    ("Iota;", "\u{399}"),
    ("Iuml;", "\u{cf}"),
    ("Kappa;", "\u{39a}"),
    ("LT;", "\u{3c}"),
    ("Lambda;", "\u{39b}"),
    ("Mu;", "\u{39c}"),
    ("Ntilde;", "\u{d1}"),
    ("Nu;", "\u{39d}"),
    ("OElig;", "\u{152}"),
    ("Oacute;", "\u{d3}"),
    ("Ocirc;", "\u{d4}"),
    ("Ograve;", "\u{d2}"),
    ("Omega;", "\u{3a9}"),
    ("Omicron;", "\u{39f}"),
    ("Oslash;", "\u{d8}"),
    ("Otilde;", "\u{d5}"),
    ("Ouml;", "\u{d6}"),
    ("Phi;", "\u{3a6}"),
    ("Pi;", "\u{3a0}"),
    ("Prime;", "\u{2033}"),
    ("Psi;", "\u{3a8}"),
    ("QUOT;", "\u{22}"),
    ("REG;", "\u{ae}"),
    ("Rho;", "\u{3a1}"),
    ("Scaron;", "\u{160}"),
    ("Sigma;", "\u{3a3}"),
    ("THORN;", "\u{de}"),
    ("Tau;", "\u{3a4}"),
    ("Theta;", "\u{398}"),
    ("Uacute;", "\u{da}"),
    ("Ucirc;", "\u{db}"),
    ("Ugrave;", "\u{d9}"),
    ("Upsilon;", "\u{3a5}"),
    ("Uuml;", "\u{dc}"),
    ("Xi;", "\u{39e}"),
    ("Yacute;", "\u{dd}"),
    ("Yuml;", "\u{178}"),
    ("Zeta;", "\u{396}"),
    ("aacute;", "\u{e1}"),
    ("acirc;", "\u{e2}"),
    ("acute;", "\u{b4}"),
    ("aelig;", "\u{e6}"),
    ("agrave;", "\u{e0}"),
    ("alefsym;", "\u{2135}"),
    ("alpha;", "\u{3b1}"),
    ("amp;", "\u{26}"),
    ("and;", "\u{2227}"),
    ("ang;", "\u{2220}"),
    ("apos;", "\u{27}"),
    ("aring;", "\u{e5}"),
    ("asymp;", "\u{2248}"),
    ("atilde;", "\u{e3}"),
    ("auml;", "\u{e4}"),
    ("bdquo;", "\u{201e}"),
    ("beta;", "\u{3b2}"),
    ("brvbar;", "\u{a6}"),
    ("bull;", "\u{2022}"),
    ("cap;", "\u{2229}"),
    ("ccedil;", "\u{e7}"),
    ("cedil;", "\u{b8}"),
    ("cent;", "\u{a2}"),
    ("chi;", "\u{3c7}"),
    ("circ;", "\u{2c6}"),
    ("clubs;", "\u{2663}"),
    ("cong;", "\u{2245}"),
    ("copy;", "\u{a9}"),
    ("crarr;", "\u{21b5}"),
    ("cup;", "\u{222a}"),
    ("curren;", "\u{a4}"),
    ("dArr;", "\u{21d3}"),
    ("dagger;", "\u{2020}"),
    ("darr;", "\u{2193}"),
    ("deg;", "\u{b0}"),
    ("delta;", "\u{3b4}"),
    ("diams;", "\u{2666}"),
    ("divide;", "\u{f7}"),
    ("eacute;", "\u{e9}"),
    ("ecirc;", "\u{ea}"),
    ("egrave;", "\u{e8}"),
    ("empty;", "\u{2205}"),
    ("emsp;", "\u{2003}"),
    ("ensp;", "\u{2002}"),
    ("epsilon;", "\u{3b5}"),
    ("equiv;", "\u{2261}"),
    ("eta;", "\u{3b7}"),
    ("eth;", "\u{f0}"),
    ("euml;", "\u{eb}"),
    ("euro;", "\u{20ac}"),
    ("exist;", "\u{2203}"),
    ("fnof;", "\u{192}"),
    ("forall;", "\u{2200}"),
    ("frac12;", "\u{bd}"),
    ("frac14;", "\u{bc}"),
    ("frac34;", "\u{be}"),
    ("frasl;", "\u{2044}"),
    ("gamma;", "\u{3b3}"),
    ("ge;", "\u{2265}"),
    ("gt;", "\u{3e}"),
    ("hArr;", "\u{21d4}"),
    ("harr;", "\u{2194}"),
    ("hearts;", "\u{2665}"),
    ("hellip;", "\u{2026}"),
    ("iacute;", "\u{ed}"),
    ("icirc;", "\u{ee}"),
    ("iexcl;", "\u{a1}"),
    ("igrave;", "\u{ec}"),
    ("image;", "\u{2111}"),
    ("infin;", "\u{221e}"),
    ("int;", "\u{222b}"),
    ("iota;", "\u{3b9}"),
    ("iquest;", "\u{bf}"),
    ("isin;", "\u{2208}"),
    ("iuml;", "\u{ef}"),
    ("kappa;", "\u{3ba}"),
    ("lArr;", "\u{21d0}"),
    ("lambda;", "\u{3bb}"),
    ("lang;", "\u{27e8}"),
    ("laquo;", "\u{ab}"),
    ("larr;", "\u{2190}"),
    ("lceil;", "\u{2308}"),
    ("ldquo;", "\u{201c}"),
    ("le;", "\u{2264}"),
    ("lfloor;", "\u{230a}"),
    ("lowast;", "\u{2217}"),
    ("loz;", "\u{25ca}"),
    ("lrm;", "\u{200e}"),
    ("lsaquo;", "\u{2039}"),
    ("lsquo;", "\u{2018}"),
    ("lt;", "\u{3c}"),
    ("macr;", "\u{af}"),
    ("mdash;", "\u{2014}"),
    ("micro;", "\u{b5}"),
    ("middot;", "\u{b7}"),
    ("minus;", "\u{2212}"),
    ("mu;", "\u{3bc}"),
    ("nabla;", "\u{2207}"),
    ("nbsp;", "\u{a0}"),
    ("ndash;", "\u{2013}"),
    ("ne;", "\u{2260}"),
    ("ni;", "\u{220b}"),
    ("not;", "\u{ac}"),
    ("notin;", "\u{2209}"),
    ("nsub;", "\u{2284}"),
    ("ntilde;", "\u{f1}"),
    ("nu;", "\u{3bd}"),
    ("oacute;", "\u{f3}"),
    ("ocirc;", "\u{f4}"),
    ("oelig;", "\u{153}"),
    ("ograve;", "\u{f2}"),
    ("oline;", "\u{203e}"),
    ("omega;", "\u{3c9}"),
    ("omicron;", "\u{3bf}"),
    ("oplus;", "\u{2295}"),
    ("or;", "\u{2228}"),
    ("ordf;", "\u{aa}"),
    ("ordm;", "\u{ba}"),
    ("oslash;", "\u{f8}"),
    ("otilde;", "\u{f5}"),
    ("otimes;", "\u{2297}"),
    ("ouml;", "\u{f6}"),
    ("para;", "\u{b6}"),
    ("part;", "\u{2202}"),
    ("permil;", "\u{2030}"),
    ("perp;", "\u{22a5}"),
    ("phi;", "\u{3c6}"),
    ("pi;", "\u{3c0}"),
    ("piv;", "\u{3d6}"),
    ("plusmn;", "\u{b1}"),
    ("pound;", "\u{a3}"),
    ("prime;", "\u{2032}"),
    ("prod;", "\u{220f}"),
    ("prop;", "\u{221d}"),
    ("psi;", "\u{3c8}"),
    ("quot;", "\u{22}"),
    ("rArr;", "\u{21d2}"),
    ("radic;", "\u{221a}"),
    ("rang;", "\u{27e9}"),
    ("raquo;", "\u{bb}"),
    ("rarr;", "\u{2192}"),
    ("rceil;", "\u{2309}"),
    ("rdquo;", "\u{201d}"),
    ("real;", "\u{211c}"),
    ("reg;", "\u{ae}"),
    ("rfloor;", "\u{230b}"),
    ("rho;", "\u{3c1}"),
    ("rlm;", "\u{200f}"),
    ("rsaquo;", "\u{203a}"),
    ("rsquo;", "\u{2019}"),
    ("sbquo;", "\u{201a}"),
    ("scaron;", "\u{161}"),
    ("sdot;", "\u{22c5}"),
    ("sect;", "\u{a7}"),
    ("shy;", "\u{ad}"),
    ("sigma;", "\u{3c3}"),
    ("sigmaf;", "\u{3c2}"),
    ("sim;", "\u{223c}"),
    ("spades;", "\u{2660}"),
    ("sub;", "\u{2282}"),
    ("sube;", "\u{2286}"),
    ("sum;", "\u{2211}"),
    ("sup1;", "\u{b9}"),
    ("sup2;", "\u{b2}"),
    ("sup3;", "\u{b3}"),
    ("sup;", "\u{2283}"),
    ("supe;", "\u{2287}"),
    ("szlig;", "\u{df}"),
    ("tau;", "\u{3c4}"),
    ("there4;", "\u{2234}"),
    ("theta;", "\u{3b8}"),
    ("thetasym;", "\u{3d1}"),
    ("thinsp;", "\u{2009}"),
    ("thorn;", "\u{fe}"),
    ("tilde;", "\u{2dc}"),
    ("times;", "\u{d7}"),
    ("trade;", "\u{2122}"),
    ("uArr;", "\u{21d1}"),
    ("uacute;", "\u{fa}"),
    ("uarr;", "\u{2191}"),
    ("ucirc;", "\u{fb}"),
    ("ugrave;", "\u{f9}"),
    ("uml;", "\u{a8}"),
    ("upsih;", "\u{3d2}"),
    ("upsilon;", "\u{3c5}"),
    ("uuml;", "\u{fc}"),
    ("weierp;", "\u{2118}"),
    ("xi;", "\u{3be}"),
    ("yacute;", "\u{fd}"),
    ("yen;", "\u{a5}"),
    ("yuml;", "\u{ff}"),
    ("zeta;", "\u{3b6}"),
    ("zwj;", "\u{200d}"),
    ("zwnj;", "\u{200c}"),
    ("AElig", "\u{c6}"),
    ("AMP", "\u{26}"),
    ("Aacute", "\u{c1}"),
    ("Acirc", "\u{c2}"),
    ("Agrave", "\u{c0}"),
    ("Aring", "\u{c5}"),
    ("Atilde", "\u{c3}"),
    ("Auml", "\u{c4}"),
    ("COPY", "\u{a9}"),
    ("Ccedil", "\u{c7}"),
    ("ETH", "\u{d0}"),
    ("Eacute", "\u{c9}"),
    ("Ecirc", "\u{ca}"),
    ("Egrave", "\u{c8}"),
    ("Euml", "\u{cb}"),
    ("GT", "\u{3e}"),
    ("Iacute", "\u{cd}"),
    ("Icirc", "\u{ce}"),
    ("Igrave", "\u{cc}"),
    ("Iuml", "\u{cf}"),
    ("LT", "\u{3c}"),
    ("Ntilde", "\u{d1}"),
    ("Oacute", "\u{d3}"),
    ("Ocirc", "\u{d4}"),
    ("Ograve", "\u{d2}"),
    ("Oslash", "\u{d8}"),
    ("Otilde", "\u{d5}"),
    ("Ouml", "\u{d6}"),
    ("QUOT", "\u{22}"),
    ("REG", "\u{ae}"),
    ("THORN", "\u{de}"),
    ("Uacute", "\u{da}"),
    ("Ucirc", "\u{db}"),
    ("Ugrave", "\u{d9}"),
    ("Uuml", "\u{dc}"),
    ("Yacute", "\u{dd}"),
    ("aacute", "\u{e1}"),
    ("acirc", "\u{e2}"),
    ("acute", "\u{b4}"),
    ("aelig", "\u{e6}"),
    ("agrave", "\u{e0}"),
    ("amp", "\u{26}"),
    ("aring", "\u{e5}"),
    ("atilde", "\u{e3}"),
    ("auml", "\u{e4}"),
    ("brvbar", "\u{a6}"),
    ("ccedil", "\u{e7}"),
    ("cedil", "\u{b8}"),
    ("cent", "\u{a2}"),
    ("copy", "\u{a9}"),
    ("curren", "\u{a4}"),
    ("deg", "\u{b0}"),
    ("divide", "\u{f7}"),
    ("eacute", "\u{e9}"),
    ("ecirc", "\u{ea}"),
    ("egrave", "\u{e8}"),
    ("eth", "\u{f0}"),
    ("euml", "\u{eb}"),
    ("frac12", "\u{bd}"),
    ("frac14", "\u{bc}"),
    ("frac34", "\u{be}"),
    ("gt", "\u{3e}"),
    ("iacute", "\u{ed}"),
    ("icirc", "\u{ee}"),
    ("iexcl", "\u{a1}"),
    ("igrave", "\u{ec}"),
    ("iquest", "\u{bf}"),
    ("iuml", "\u{ef}"),
    ("laquo", "\u{ab}"),
    ("lt", "\u{3c}"),
    ("macr", "\u{af}"),
    ("micro", "\u{b5}"),
    ("middot", "\u{b7}"),
    ("nbsp", "\u{a0}"),
    ("not", "\u{ac}"),
    ("ntilde", "\u{f1}"),
    ("oacute", "\u{f3}"),
    ("ocirc", "\u{f4}"),
    ("ograve", "\u{f2}"),
    ("ordf", "\u{aa}"),
    ("ordm", "\u{ba}"),
    ("oslash", "\u{f8}"),
    ("otilde", "\u{f5}"),
    ("ouml", "\u{f6}"),
    ("para", "\u{b6}"),
    ("plusmn", "\u{b1}"),
    ("pound", "\u{a3}"),
    ("quot", "\u{22}"),
    ("raquo", "\u{bb}"),
    ("reg", "\u{ae}"),
    ("sect", "\u{a7}"),
    ("shy", "\u{ad}"),
    ("sup1", "\u{b9}"),
    ("sup2", "\u{b2}"),
    ("sup3", "\u{b3}"),
    ("szlig", "\u{df}"),
    ("thorn", "\u{fe}"),
    ("times", "\u{d7}"),
    ("uacute", "\u{fa}"),
    ("ucirc", "\u{fb}"),
    ("ugrave", "\u{f9}"),
    ("uml", "\u{a8}"),
    ("uuml", "\u{fc}"),
    ("yacute", "\u{fd}"),
    ("yen", "\u{a5}"),
    ("yuml", "\u{ff}"),
];
// Upper-cased names that ftfy also decodes (to the upper-cased character).
const ENTITIES_UPPER: &[(&str, &str)] = &[
    ("AACUTE;", "\u{c1}"),
    ("ACIRC;", "\u{c2}"),
    ("ACUTE;", "\u{b4}"),
    ("AELIG;", "\u{c6}"),
    ("AGRAVE;", "\u{c0}"),
    ("ALEFSYM;", "\u{2135}"),
    ("ALPHA;", "\u{391}"),
    ("AND;", "\u{2227}"),
    ("ANG;", "\u{2220}"),
    ("APOS;", "\u{27}"),
    ("ARING;", "\u{c5}"),
    ("ASYMP;", "\u{2248}"),
    ("ATILDE;", "\u{c3}"),
    ("AUML;", "\u{c4}"),
    ("BDQUO;", "\u{201e}"),
    ("BETA;", "\u{392}"),
    ("BRVBAR;", "\u{a6}"),
    ("BULL;", "\u{2022}"),
    ("CAP;", "\u{2229}"),
    ("CCEDIL;", "\u{c7}"),
    ("CEDIL;", "\u{b8}"),
    ("CENT;", "\u{a2}"),
    ("CHI;", "\u{3a7}"),
    ("CIRC;", "\u{2c6}"),
    ("CLUBS;", "\u{2663}"),
    ("CONG;", "\u{2245}"),
    ("CRARR;", "\u{21b5}"),
    ("CUP;", "\u{222a}"),
    ("CURREN;", "\u{a4}"),
    ("DAGGER;", "\u{2020}"),
    ("DARR;", "\u{2193}"),
    ("DEG;", "\u{b0}"),
    ("DELTA;", "\u{394}"),
    ("DIAMS;", "\u{2666}"),
    ("DIVIDE;", "\u{f7}"),
    ("EACUTE;", "\u{c9}"),
    ("ECIRC;", "\u{ca}"),
    ("EGRAVE;", "\u{c8}"),
    ("EMPTY;", "\u{2205}"),
    ("EMSP;", "\u{2003}"),
    ("ENSP;", "\u{2002}"),
    ("EPSILON;", "\u{395}"),
    ("EQUIV;", "\u{2261}"),
    ("ETA;", "\u{397}"),
    ("EUML;", "\u{cb}"),
    ("EURO;", "\u{20ac}"),
    ("EXIST;", "\u{2203}"),
    ("FNOF;", "\u{191}"),
    ("FORALL;", "\u{2200}"),
    ("FRAC12;", "\u{bd}"),
    ("FRAC14;", "\u{bc}"),
    ("FRAC34;", "\u{be}"),
    ("FRASL;", "\u{2044}"),
    ("GAMMA;", "\u{393}"),
    ("GE;", "\u{2265}"),
    ("HARR;", "\u{2194}"),
    ("HEARTS;", "\u{2665}"),
    ("HELLIP;", "\u{2026}"),
    ("IACUTE;", "\u{cd}"),
    ("ICIRC;", "\u{ce}"),
    ("IEXCL;", "\u{a1}"),
    ("IGRAVE;", "\u{cc}"),
    ("IMAGE;", "\u{2111}"),
    ("INFIN;", "\u{221e}"),
    ("INT;", "\u{222b}"),
    ("IOTA;", "\u{399}"),
    ("IQUEST;", "\u{bf}"),
    ("ISIN;", "\u{2208}"),
    ("IUML;", "\u{cf}"),
    ("KAPPA;", "\u{39a}"),
    ("LAMBDA;", "\u{39b}"),
    ("LANG;", "\u{27e8}"),
    ("LAQUO;", "\u{ab}"),
    ("LARR;", "\u{2190}"),
    ("LCEIL;", "\u{2308}"),
    ("LDQUO;", "\u{201c}"),
    ("LE;", "\u{2264}"),
    ("LFLOOR;", "\u{230a}"),
    ("LOWAST;", "\u{2217}"),
    ("LOZ;", "\u{25ca}"),
    ("LRM;", "\u{200e}"),
    ("LSAQUO;", "\u{2039}"),
    ("LSQUO;", "\u{2018}"),
    ("MACR;", "\u{af}"),
    ("MDASH;", "\u{2014}"),
    ("MICRO;", "\u{39c}"),
    ("MIDDOT;", "\u{b7}"),
    ("MINUS;", "\u{2212}"),
    ("MU;", "\u{39c}"),
    ("NABLA;", "\u{2207}"),
    ("NBSP;", "\u{a0}"),
    ("NDASH;", "\u{2013}"),
    ("NE;", "\u{2260}"),
    ("NI;", "\u{220b}"),
    ("NOT;", "\u{ac}"),
    ("NOTIN;", "\u{2209}"),
    ("NSUB;", "\u{2284}"),
    ("NTILDE;", "\u{d1}"),
    ("NU;", "\u{39d}"),
    ("OACUTE;", "\u{d3}"),
    ("OCIRC;", "\u{d4}"),
    ("OELIG;", "\u{152}"),
    ("OGRAVE;", "\u{d2}"),
    ("OLINE;", "\u{203e}"),
    ("OMEGA;", "\u{3a9}"),
    ("OMICRON;", "\u{39f}"),
    ("OPLUS;", "\u{2295}"),
    ("OR;", "\u{2228}"),
    ("ORDF;", "\u{aa}"),
    ("ORDM;", "\u{ba}"),
    ("OSLASH;", "\u{d8}"),
    ("OTILDE;", "\u{d5}"),
    ("OTIMES;", "\u{2297}"),
    ("OUML;", "\u{d6}"),
    ("PARA;", "\u{b6}"),
    ("PART;", "\u{2202}"),
    ("PERMIL;", "\u{2030}"),
    ("PERP;", "\u{22a5}"),
    ("PHI;", "\u{3a6}"),
    ("PI;", "\u{3a0}"),
    ("PIV;", "\u{3a0}"),
    ("PLUSMN;", "\u{b1}"),
    ("POUND;", "\u{a3}"),
    ("PRIME;", "\u{2032}"),
    ("PROD;", "\u{220f}"),
    ("PROP;", "\u{221d}"),
    ("PSI;", "\u{3a8}"),
    ("RADIC;", "\u{221a}"),
    ("RANG;", "\u{27e9}"),
    ("RAQUO;", "\u{bb}"),
    ("RARR;", "\u{2192}"),
    ("RCEIL;", "\u{2309}"),
    ("RDQUO;", "\u{201d}"),
    ("REAL;", "\u{211c}"),
    ("RFLOOR;", "\u{230b}"),
    ("RHO;", "\u{3a1}"),
    ("RLM;", "\u{200f}"),
    ("RSAQUO;", "\u{203a}"),
    ("RSQUO;", "\u{2019}"),
    ("SBQUO;", "\u{201a}"),
    ("SCARON;", "\u{160}"),
    ("SDOT;", "\u{22c5}"),
    ("SECT;", "\u{a7}"),
    ("SHY;", "\u{ad}"),
    ("SIGMA;", "\u{3a3}"),
    ("SIGMAF;", "\u{3a3}"),
    ("SIM;", "\u{223c}"),
    ("SPADES;", "\u{2660}"),
    ("SUB;", "\u{2282}"),
    ("SUBE;", "\u{2286}"),
    ("SUM;", "\u{2211}"),
    ("SUP1;", "\u{b9}"),
    ("SUP2;", "\u{b2}"),
    ("SUP3;", "\u{b3}"),
    ("SUP;", "\u{2283}"),
    ("SUPE;", "\u{2287}"),
    ("SZLIG;", "SS"),
    ("TAU;", "\u{3a4}"),
    ("THERE4;", "\u{2234}"),
    ("THETA;", "\u{398}"),
    ("THETASYM;", "\u{398}"),
    ("THINSP;", "\u{2009}"),
    ("TILDE;", "\u{2dc}"),
    ("TIMES;", "\u{d7}"),
    ("UACUTE;", "\u{da}"),
    ("UARR;", "\u{2191}"),
    ("UCIRC;", "\u{db}"),
    ("UGRAVE;", "\u{d9}"),
    ("UML;", "\u{a8}"),
    ("UPSIH;", "\u{3d2}"),
    ("UPSILON;", "\u{3a5}"),
    ("UUML;", "\u{dc}"),
    ("WEIERP;", "\u{2118}"),
    ("XI;", "\u{39e}"),
    ("YACUTE;", "\u{dd}"),
    ("YEN;", "\u{a5}"),
    ("YUML;", "\u{178}"),
    ("ZETA;", "\u{396}"),
    ("ZWJ;", "\u{200d}"),
    ("ZWNJ;", "\u{200c}"),
];
