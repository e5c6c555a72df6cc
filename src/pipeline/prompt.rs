//! Prompt cleaning and tokenisation, as the ChronoEdit pipeline prepares text for the UMT5 encoder.
//!
//! [`prompt_clean`] mirrors the pipeline's `prompt_clean = whitespace_clean(basic_clean(text))` where
//! `basic_clean` is `ftfy.fix_text`, then `html.unescape` twice, then `strip`. ftfy has no Rust
//! counterpart; [`ftfy_fix_text`] re-implements `fix_text` with ftfy's default configuration, in
//! ftfy's order: the text is cut into lines; HTML entity decoding is switched off from the first line
//! containing `<` onwards; each line is then fixed repeatedly until nothing changes with
//! `unescape_html` -> `fix_encoding` -> `fix_c1_controls` -> `fix_latin_ligatures` ->
//! `fix_character_width` -> `uncurl_quotes` -> `fix_line_breaks` -> `remove_terminal_escapes` ->
//! `remove_control_chars` -> NFC (through the `tokenizers` crate's normaliser, no extra dependency).
//!
//! `fix_encoding` (mojibake repair, e.g. `"cafÃ©"` -> `"café"`) follows ftfy's rules: nothing
//! happens unless the text matches ftfy's badness heuristic (sequences such as `Ã©`, `â€œ`, an
//! accented letter next to a currency sign), so correctly decoded accented, Greek, Cyrillic, CJK or
//! emoji text is left alone. A bad text is re-encoded with ftfy's single-byte codecs in its order
//! (Latin-1, sloppy Windows-1252/1251/1250/1253/1254/1257, ISO-8859-2, MacRoman, CP437; tables
//! generated from Python's codecs) and the first one whose bytes are valid UTF-8 (after ftfy's
//! `restore_byte_a0` and, for the sloppy codecs, `replace_lossy_sequences`; CESU-8 pairs and `C0 80`
//! accepted like ftfy's `utf-8-variants`) gives the result. Otherwise mojibake-looking runs are fixed
//! on their own (`decode_inconsistent_utf8`), and remaining C1 controls are read as Windows-1252.
//!
//! Measured against ftfy 6.3.1 (Python 3.11): identical `fix_text` and `prompt_clean` output on 138
//! hand-picked strings (committed in tests/encoders.rs), on 70,000 generated ones (words in many
//! scripts, mojibake through 12 codecs, doubled, with U+A0 turned into spaces or bytes lost to
//! U+FFFD, and random runs of the characters the heuristic looks at; ~60% of them changed by ftfy)
//! and on 30,000 generated strings of (upper-cased, unterminated, doubly escaped) HTML5 entities and
//! numeric references.
//!
//! Known differences from ftfy: Python's `\w` in one badness rule is taken as letters, numbers and
//! `_` (`[\p{L}\p{N}_]`), which may differ for rare characters; each fix loop is capped (32
//! rounds per line, 64 encoding steps) where ftfy loops until nothing changes; ftfy's
//! `max_decode_length` split of lines over 1,000,000 characters is not done; `fix_surrogates` is
//! moot (Rust strings cannot hold surrogates); NFC comes from the `tokenizers` crate's Unicode
//! tables, whose Unicode version may differ from Python's `unicodedata` for recently added
//! characters. Entity decoding (both ftfy's and `html.unescape`) uses Python's full HTML5 entity
//! table, all numeric references, and Python's rules for legacy names without `;`.

use std::collections::HashMap;
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

fn entity_map(
    table: &'static [(&'static str, &'static str)],
) -> HashMap<&'static str, &'static str> {
    table.iter().copied().collect()
}

/// An entry of Python's `html.entities.html5` (name without `&`).
fn entity(name: &str) -> Option<&'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| entity_map(ENTITIES)).get(name).copied()
}

/// An upper-cased entity name that only ftfy decodes (name without `&`).
fn entity_upper(name: &str) -> Option<&'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| entity_map(ENTITIES_UPPER))
        .get(name)
        .copied()
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
            if let Some(v) = entity_upper(name) {
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

// ---------------------------------------------------------------------------------------------
// Mojibake repair (ftfy's `fix_encoding`).
//
// Text is only touched when it is "bad": it contains a character sequence that ftfy's badness
// rules consider far more likely to be mojibake than intended text (e.g. a lower-case accented
// letter followed by a currency sign, or `Ã` followed by `©`). Then the whole text is re-encoded
// with each single-byte codec ftfy knows, in ftfy's order, and the first one whose bytes decode as
// UTF-8 wins. Embedded mojibake in otherwise unencodable text (e.g. next to CJK or emoji) is fixed
// piecewise where runs of characters look like UTF-8 lead/continuation bytes.

/// A regex character class made of the given category strings.
fn cls(parts: &[&str]) -> String {
    format!("[{}]", parts.concat())
}

/// Python's `\s` (`str.isspace`, which includes U+1C..U+1F) and `\w` (letters, numbers, `_`).
const PY_SPACE: &str = r"[\s\x1C-\x1F]";
const PY_WORD: &str = r"[\p{L}\p{N}_]";

/// ftfy's `badness.is_bad`: does the text contain a sequence that is likely mojibake?
fn is_bad(text: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        let (bad, la, ua, bx) = (CAT_BAD, CAT_LOWER_ACCENTED, CAT_UPPER_ACCENTED, CAT_BOX);
        let (sp, ep, cur, num) = (
            CAT_START_PUNCTUATION,
            CAT_END_PUNCTUATION,
            CAT_CURRENCY,
            CAT_NUMERIC,
        );
        let (law, lc, uc) = (CAT_LAW, CAT_LOWER_COMMON, CAT_UPPER_COMMON);
        let arabic = cls(&[
            CAT_COMMON,
            cur,
            bad,
            num,
            sp,
            "\u{178}\u{160}\u{ae}\u{b0}\u{b5}\u{bb}",
        ]);
        let alternatives: Vec<String> = vec![
            cls(&[CAT_C1]),
            cls(&[bad, la, ua, bx, sp, ep, cur, num, law]) + &cls(&[bad]),
            "[a-zA-Z]".to_string() + &cls(&[lc, uc]) + &cls(&[bad]),
            cls(&[bad]) + &cls(&[la, ua, bx, sp, ep, cur, num, law]),
            cls(&[la, lc, bx, ep, cur, num]) + &cls(&[ua]),
            cls(&[bx, ep, cur, num]) + &cls(&[la]),
            cls(&[la, bx, ep]) + &cls(&[cur]),
            PY_SPACE.to_string() + &cls(&[ua]) + &cls(&[cur]),
            cls(&[ua, bx]) + &cls(&[num, law]),
            cls(&[la, ua, bx, cur, ep]) + &cls(&[sp]) + &cls(&[num]),
            cls(&[la, ua, cur, num, bx, law]) + &cls(&[ep]) + &cls(&[sp]),
            cls(&[cur, num, bx]) + &cls(&[sp]),
            "[a-z]".to_string() + &cls(&[ua]) + &cls(&[sp, cur]),
            cls(&[bx]) + &cls(&[CAT_KAOMOJI]),
            cls(&[la, ua, cur, num, sp, ep, law]) + &cls(&[bx]),
            cls(&[bx]) + &cls(&[ep]),
            cls(&[la, ua]) + &cls(&[sp, ep]) + PY_WORD,
            // the ligature œ when not followed by an unaccented Latin letter
            "[\u{152}\u{153}][^A-Za-z]".to_string(),
            // degree sign after a capital letter
            cls(&[ua]) + "\u{b0}",
            // common two-character Windows-1252 mojibake
            "[\u{c2}\u{c3}\u{ce}\u{d0}]".to_string()
                + &cls(&[
                    "\u{20ac}\u{153}\u{160}\u{161}\u{a2}\u{a3}\u{178}\u{17e}\u{a0}\u{ad}\u{ae}\u{a9}\u{b0}\u{b7}\u{bb}",
                    sp,
                    ep,
                    "\u{2013}\u{2014}\u{b4}",
                ]),
            "\u{d7}[\u{b2}\u{b3}]".to_string(),
            // Windows-1252 mojibake of Arabic: four characters
            format!("[\u{d8}\u{d9}]{arabic}[\u{d8}\u{d9}]{arabic}"),
            // Windows-1252 mojibake starting three-byte South Asian letters
            "\u{e0}[\u{b2}\u{b5}\u{b9}\u{bc}\u{bd}\u{be}]".to_string(),
            // MacRoman mojibake
            "\u{221a}[\u{b1}\u{2202}\u{2020}\u{2260}\u{ae}\u{2122}\u{b4}\u{2264}\u{2265}\u{a5}\u{b5}\u{f8}]"
                .to_string(),
            "\u{2248}[\u{b0}\u{a2}]".to_string(),
            "\u{201a}\u{c4}[\u{ec}\u{ee}\u{ef}\u{f2}\u{f4}\u{fa}\u{f9}\u{fb}\u{2020}\u{b0}\u{a2}\u{3c0}]"
                .to_string(),
            "\u{201a}[\u{e2}\u{f3}][\u{e0}\u{e4}\u{b0}\u{ea}]".to_string(),
            // Windows-1251 mojibake
            "\u{432}\u{402}".to_string(),
            "[\u{412}\u{413}\u{420}\u{421}]".to_string()
                + &cls(&[CAT_C1, bad, sp, ep, cur, "\u{b0}\u{b5}"])
                + "[\u{412}\u{413}\u{420}\u{421}]",
            "\u{413}\u{45e}\u{412}\u{402}\u{412}.[A-Za-z ]".to_string(),
            // Windows-1252 encodings of 'à', 'á' and U+A0 itself
            "\u{c3}[\u{a0}\u{a1}]".to_string(),
            format!("[a-z]{PY_SPACE}?[\u{c3}\u{c2}][ ]"),
            "^[\u{c3}\u{c2}][ ]".to_string(),
            // Â standing for itself before a common character
            cls(&["a-z.,?!", ep]) + "\u{c2}" + &cls(&[" ", sp, ep]),
            // Windows-1253 mojibake
            "\u{3b2}\u{20ac}[\u{2122}\u{a0}\u{386}\u{ad}\u{ae}\u{b0}]".to_string(),
            "[\u{392}\u{393}\u{39e}\u{39f}]".to_string()
                + &cls(&[CAT_C1, bad, sp, ep, cur, "\u{b0}"])
                + "[\u{392}\u{393}\u{39e}\u{39f}]",
            // Windows-1257 mojibake
            "\u{101}\u{20ac}".to_string(),
        ];
        Regex::new(&alternatives.join("|")).expect("valid badness regex")
    });
    re.is_match(text)
}

/// A single-byte codec ftfy tries: its table for bytes 0x80..=0xFF, and whether it is one of ftfy's
/// "sloppy" codecs (undefined bytes pass through, U+FFFD encodes as byte 0x1A).
struct Codec {
    name: &'static str,
    encode: HashMap<char, u8>,
    sloppy: bool,
}

fn codecs() -> &'static [Codec] {
    static C: OnceLock<Vec<Codec>> = OnceLock::new();
    C.get_or_init(|| {
        CODEC_TABLES
            .iter()
            .map(|(name, table)| {
                let sloppy = name.starts_with("sloppy");
                let mut encode: HashMap<char, u8> = table
                    .chars()
                    .zip(0x80u8..=0xFF)
                    .map(|(c, b)| (c, b))
                    .collect();
                encode.insert(if sloppy { '\u{FFFD}' } else { '\u{1A}' }, 0x1A);
                Codec {
                    name,
                    encode,
                    sloppy,
                }
            })
            .collect()
    })
}

/// The text's bytes in `codec`, or `None` if some character has no byte there.
fn encode_single_byte(text: &str, codec: &Codec) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| match c {
            '\u{0}'..='\u{19}' | '\u{1B}'..='\u{7F}' => Some(c as u8),
            _ => codec.encode.get(&c).copied(),
        })
        .collect()
}

/// ftfy's `restore_byte_a0`: put back bytes 0xA0 that were turned into spaces inside UTF-8
/// sequences.
fn restore_byte_a0(bytes: &[u8]) -> Vec<u8> {
    // "Ã " before a word is "à " (except Portuguese "às", "àquele", ...)
    let mut out = Vec::with_capacity(bytes.len() + 4);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0xC3 && bytes.get(i + 1) == Some(&b' ') {
            let rest = &bytes[i + 2..];
            let keep = [&b" "[..], b"quele", b"quela", b"quilo", b"s "]
                .iter()
                .any(|p| rest.starts_with(p));
            if !keep {
                out.extend_from_slice(&[0xC3, 0xA0, b' ']);
                i += 2;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    altered_utf8_re()
        .replace_all(&out, |c: &regex::bytes::Captures| {
            c[0].iter()
                .map(|&b| if b == b' ' { 0xA0 } else { b })
                .collect::<Vec<u8>>()
        })
        .into_owned()
}

/// UTF-8 sequences that would be valid if a 0xA0 had not become a space.
fn altered_utf8_re() -> &'static regex::bytes::Regex {
    static RE: OnceLock<regex::bytes::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::bytes::Regex::new(
            r"(?-u)[\xC2\xC3\xC5\xCE\xD0\xD9][ ]|[\xE2\xE3][ ][\x80-\x84\x86-\x9F\xA1-\xBF]|[\xE0-\xE3][\x80-\x84\x86-\x9F\xA1-\xBF][ ]|[\xF0][ ][\x80-\xBF][\x80-\xBF]|[\xF0][\x80-\xBF][ ][\x80-\xBF]|[\xF0][\x80-\xBF][\x80-\xBF][ ]",
        )
        .expect("valid regex")
    })
}

/// ftfy's `replace_lossy_sequences`: UTF-8 sequences with a byte lost to U+FFFD (0x1A in the
/// sloppy codecs) decode as U+FFFD.
fn replace_lossy_sequences(bytes: &[u8]) -> Vec<u8> {
    static RE: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::bytes::Regex::new(concat!(
            r"(?-u)[\xC2-\xDF][\x1A]|[\xC2-\xC3][?]",
            r"|\xED[\xA0-\xAF][\x1A?]\xED[\xB0-\xBF][\x1A?\x80-\xBF]",
            r"|\xED[\xA0-\xAF][\x1A?\x80-\xBF]\xED[\xB0-\xBF][\x1A?]",
            r"|[\xE0-\xEF][\x1A?][\x1A\x80-\xBF]|[\xE0-\xEF][\x1A\x80-\xBF][\x1A?]",
            r"|[\xF0-\xF4][\x1A?][\x1A\x80-\xBF][\x1A\x80-\xBF]",
            r"|[\xF0-\xF4][\x1A\x80-\xBF][\x1A?][\x1A\x80-\xBF]",
            r"|[\xF0-\xF4][\x1A\x80-\xBF][\x1A\x80-\xBF][\x1A?]|\x1A",
        ))
        .expect("valid regex")
    });
    re.replace_all(bytes, &"\u{FFFD}".as_bytes()[..])
        .into_owned()
}

/// Strict UTF-8 decoding, extended (as ftfy's `utf-8-variants` codec, used when the bytes contain
/// 0xED or 0xC0) with Java's `C0 80` for U+0000 and CESU-8 surrogate pairs.
fn decode_utf8_variants(bytes: &[u8]) -> Option<String> {
    if !bytes.contains(&0xED) && !bytes.contains(&0xC0) {
        return String::from_utf8(bytes.to_vec()).ok();
    }
    let mut fixed = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = &bytes[i..];
        if b.len() >= 2 && b[0] == 0xC0 && b[1] == 0x80 {
            fixed.push(0);
            i += 2;
        } else if b.len() >= 6
            && b[0] == 0xED
            && (0xA0..=0xAF).contains(&b[1])
            && (0x80..=0xBF).contains(&b[2])
            && b[3] == 0xED
            && (0xB0..=0xBF).contains(&b[4])
            && (0x80..=0xBF).contains(&b[5])
        {
            let cp = (((b[1] & 0x0F) as u32) << 16)
                + (((b[2] & 0x3F) as u32) << 10)
                + (((b[4] & 0x0F) as u32) << 6)
                + (b[5] & 0x3F) as u32
                + 0x10000;
            let c = char::from_u32(cp)?;
            let mut buf = [0u8; 4];
            fixed.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            i += 6;
        } else {
            fixed.push(b[0]);
            i += 1;
        }
    }
    String::from_utf8(fixed).ok()
}

/// Runs of characters that look like UTF-8 read as a single-byte codec (ftfy's
/// `UTF8_DETECTOR_RE`), returned as byte ranges. A run may not start right after a strict
/// continuation character, so that a few characters inside a larger garble are left alone.
fn utf8_detector_matches(text: &str) -> Vec<(usize, usize)> {
    static RE: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (run, strict) = RE.get_or_init(|| {
        let cont = cls(&[CLUE_UTF8_CONTINUATION]);
        let pat = format!(
            "^(?:{}{cont}|{}{cont}{{2}}|{}{cont}{{3}})+",
            cls(&[CLUE_UTF8_FIRST_OF_2]),
            cls(&[CLUE_UTF8_FIRST_OF_3]),
            cls(&[CLUE_UTF8_FIRST_OF_4]),
        );
        (
            Regex::new(&pat).expect("valid regex"),
            Regex::new(&format!("^{}$", cls(&[CLUE_UTF8_CONTINUATION_STRICT])))
                .expect("valid regex"),
        )
    });
    let mut out = Vec::new();
    let mut pos = 0;
    let mut prev: Option<char> = None;
    while pos < text.len() {
        let blocked = prev.is_some_and(|p| strict.is_match(p.encode_utf8(&mut [0; 4])));
        if !blocked {
            if let Some(m) = run.find(&text[pos..]) {
                let end = pos + m.end();
                out.push((pos, end));
                prev = text[..end].chars().next_back();
                pos = end;
                continue;
            }
        }
        let c = text[pos..].chars().next().expect("pos is inside text");
        prev = Some(c);
        pos += c.len_utf8();
    }
    out
}

/// ftfy's `decode_inconsistent_utf8`: fix each mojibake-looking run on its own.
fn decode_inconsistent_utf8(text: &str) -> String {
    let n_chars = text.chars().count();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (a, b) in utf8_detector_matches(text) {
        out.push_str(&text[last..a]);
        let sub = &text[a..b];
        if sub.chars().count() < n_chars && is_bad(sub) {
            out.push_str(&fix_encoding(sub));
        } else {
            out.push_str(sub);
        }
        last = b;
    }
    out.push_str(&text[last..]);
    out
}

/// One step of ftfy's `fix_encoding`; `None` when nothing changes.
fn fix_encoding_step(text: &str) -> Option<String> {
    if text.is_ascii() || !is_bad(text) {
        return None;
    }
    for codec in codecs() {
        let Some(mut bytes) = encode_single_byte(text, codec) else {
            continue;
        };
        if codec.name != "macroman" && altered_utf8_re().is_match(&bytes) {
            bytes = restore_byte_a0(&bytes);
        }
        if codec.sloppy {
            bytes = replace_lossy_sequences(&bytes);
        }
        if let Some(fixed) = decode_utf8_variants(&bytes) {
            return Some(fixed);
        }
    }
    if !utf8_detector_matches(text).is_empty() {
        let fixed = decode_inconsistent_utf8(text);
        if fixed != text {
            return Some(fixed);
        }
    }
    // Latin-1 text with C1 controls: read them as Windows-1252 (both of ftfy's remaining steps,
    // Latin-1 -> Windows-1252 and `fix_c1_controls`, amount to that mapping).
    if text.chars().any(|c| ('\u{80}'..='\u{9F}').contains(&c)) {
        return Some(
            text.chars()
                .map(|c| {
                    if ('\u{80}'..='\u{9F}').contains(&c) {
                        CP1252_C1[c as usize - 0x80]
                    } else {
                        c
                    }
                })
                .collect(),
        );
    }
    None
}

/// ftfy's `fix_encoding`: repeat [`fix_encoding_step`] until nothing changes.
fn fix_encoding(text: &str) -> String {
    let mut cur = text.to_string();
    // every step changes the text; bounded for safety
    for _ in 0..64 {
        match fix_encoding_step(&cur) {
            Some(next) if next != cur => cur = next,
            _ => break,
        }
    }
    cur
}

/// `ftfy.fix_text` with its default configuration, as far as described in the module documentation.
pub fn ftfy_fix_text(text: &str) -> String {
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
            cur = fix_encoding(&cur);
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

// Python 3.11's html.entities.html5 (names without '&'; with ';' unless valid without it).
#[rustfmt::skip]
const ENTITIES: &[(&str, &str)] = &[
    ("AElig", "\u{c6}"), ("AElig;", "\u{c6}"), ("AMP", "&"), ("AMP;", "&"), ("Aacute", "\u{c1}"),
    ("Aacute;", "\u{c1}"), ("Abreve;", "\u{102}"), ("Acirc", "\u{c2}"), ("Acirc;", "\u{c2}"),
    ("Acy;", "\u{410}"), ("Afr;", "\u{1d504}"), ("Agrave", "\u{c0}"), ("Agrave;", "\u{c0}"),
    ("Alpha;", "\u{391}"), ("Amacr;", "\u{100}"), ("And;", "\u{2a53}"), ("Aogon;", "\u{104}"),
    ("Aopf;", "\u{1d538}"), ("ApplyFunction;", "\u{2061}"), ("Aring", "\u{c5}"),
    ("Aring;", "\u{c5}"), ("Ascr;", "\u{1d49c}"), ("Assign;", "\u{2254}"), ("Atilde", "\u{c3}"),
    ("Atilde;", "\u{c3}"), ("Auml", "\u{c4}"), ("Auml;", "\u{c4}"), ("Backslash;", "\u{2216}"),
    ("Barv;", "\u{2ae7}"), ("Barwed;", "\u{2306}"), ("Bcy;", "\u{411}"), ("Because;", "\u{2235}"),
    ("Bernoullis;", "\u{212c}"), ("Beta;", "\u{392}"), ("Bfr;", "\u{1d505}"),
    ("Bopf;", "\u{1d539}"), ("Breve;", "\u{2d8}"), ("Bscr;", "\u{212c}"), ("Bumpeq;", "\u{224e}"),
    ("CHcy;", "\u{427}"), ("COPY", "\u{a9}"), ("COPY;", "\u{a9}"), ("Cacute;", "\u{106}"),
    ("Cap;", "\u{22d2}"), ("CapitalDifferentialD;", "\u{2145}"), ("Cayleys;", "\u{212d}"),
    ("Ccaron;", "\u{10c}"), ("Ccedil", "\u{c7}"), ("Ccedil;", "\u{c7}"), ("Ccirc;", "\u{108}"),
    ("Cconint;", "\u{2230}"), ("Cdot;", "\u{10a}"), ("Cedilla;", "\u{b8}"),
    ("CenterDot;", "\u{b7}"), ("Cfr;", "\u{212d}"), ("Chi;", "\u{3a7}"), ("CircleDot;", "\u{2299}"),
    ("CircleMinus;", "\u{2296}"), ("CirclePlus;", "\u{2295}"), ("CircleTimes;", "\u{2297}"),
    ("ClockwiseContourIntegral;", "\u{2232}"), ("CloseCurlyDoubleQuote;", "\u{201d}"),
    ("CloseCurlyQuote;", "\u{2019}"), ("Colon;", "\u{2237}"), ("Colone;", "\u{2a74}"),
    ("Congruent;", "\u{2261}"), ("Conint;", "\u{222f}"), ("ContourIntegral;", "\u{222e}"),
    ("Copf;", "\u{2102}"), ("Coproduct;", "\u{2210}"),
    ("CounterClockwiseContourIntegral;", "\u{2233}"), ("Cross;", "\u{2a2f}"),
    ("Cscr;", "\u{1d49e}"), ("Cup;", "\u{22d3}"), ("CupCap;", "\u{224d}"), ("DD;", "\u{2145}"),
    ("DDotrahd;", "\u{2911}"), ("DJcy;", "\u{402}"), ("DScy;", "\u{405}"), ("DZcy;", "\u{40f}"),
    ("Dagger;", "\u{2021}"), ("Darr;", "\u{21a1}"), ("Dashv;", "\u{2ae4}"), ("Dcaron;", "\u{10e}"),
    ("Dcy;", "\u{414}"), ("Del;", "\u{2207}"), ("Delta;", "\u{394}"), ("Dfr;", "\u{1d507}"),
    ("DiacriticalAcute;", "\u{b4}"), ("DiacriticalDot;", "\u{2d9}"),
    ("DiacriticalDoubleAcute;", "\u{2dd}"), ("DiacriticalGrave;", "`"),
    ("DiacriticalTilde;", "\u{2dc}"), ("Diamond;", "\u{22c4}"), ("DifferentialD;", "\u{2146}"),
    ("Dopf;", "\u{1d53b}"), ("Dot;", "\u{a8}"), ("DotDot;", "\u{20dc}"), ("DotEqual;", "\u{2250}"),
    ("DoubleContourIntegral;", "\u{222f}"), ("DoubleDot;", "\u{a8}"),
    ("DoubleDownArrow;", "\u{21d3}"), ("DoubleLeftArrow;", "\u{21d0}"),
    ("DoubleLeftRightArrow;", "\u{21d4}"), ("DoubleLeftTee;", "\u{2ae4}"),
    ("DoubleLongLeftArrow;", "\u{27f8}"), ("DoubleLongLeftRightArrow;", "\u{27fa}"),
    ("DoubleLongRightArrow;", "\u{27f9}"), ("DoubleRightArrow;", "\u{21d2}"),
    ("DoubleRightTee;", "\u{22a8}"), ("DoubleUpArrow;", "\u{21d1}"),
    ("DoubleUpDownArrow;", "\u{21d5}"), ("DoubleVerticalBar;", "\u{2225}"),
    ("DownArrow;", "\u{2193}"), ("DownArrowBar;", "\u{2913}"), ("DownArrowUpArrow;", "\u{21f5}"),
    ("DownBreve;", "\u{311}"), ("DownLeftRightVector;", "\u{2950}"),
    ("DownLeftTeeVector;", "\u{295e}"), ("DownLeftVector;", "\u{21bd}"),
    ("DownLeftVectorBar;", "\u{2956}"), ("DownRightTeeVector;", "\u{295f}"),
    ("DownRightVector;", "\u{21c1}"), ("DownRightVectorBar;", "\u{2957}"), ("DownTee;", "\u{22a4}"),
    ("DownTeeArrow;", "\u{21a7}"), ("Downarrow;", "\u{21d3}"), ("Dscr;", "\u{1d49f}"),
    ("Dstrok;", "\u{110}"), ("ENG;", "\u{14a}"), ("ETH", "\u{d0}"), ("ETH;", "\u{d0}"),
    ("Eacute", "\u{c9}"), ("Eacute;", "\u{c9}"), ("Ecaron;", "\u{11a}"), ("Ecirc", "\u{ca}"),
    ("Ecirc;", "\u{ca}"), ("Ecy;", "\u{42d}"), ("Edot;", "\u{116}"), ("Efr;", "\u{1d508}"),
    ("Egrave", "\u{c8}"), ("Egrave;", "\u{c8}"), ("Element;", "\u{2208}"), ("Emacr;", "\u{112}"),
    ("EmptySmallSquare;", "\u{25fb}"), ("EmptyVerySmallSquare;", "\u{25ab}"), ("Eogon;", "\u{118}"),
    ("Eopf;", "\u{1d53c}"), ("Epsilon;", "\u{395}"), ("Equal;", "\u{2a75}"),
    ("EqualTilde;", "\u{2242}"), ("Equilibrium;", "\u{21cc}"), ("Escr;", "\u{2130}"),
    ("Esim;", "\u{2a73}"), ("Eta;", "\u{397}"), ("Euml", "\u{cb}"), ("Euml;", "\u{cb}"),
    ("Exists;", "\u{2203}"), ("ExponentialE;", "\u{2147}"), ("Fcy;", "\u{424}"),
    ("Ffr;", "\u{1d509}"), ("FilledSmallSquare;", "\u{25fc}"),
    ("FilledVerySmallSquare;", "\u{25aa}"), ("Fopf;", "\u{1d53d}"), ("ForAll;", "\u{2200}"),
    ("Fouriertrf;", "\u{2131}"), ("Fscr;", "\u{2131}"), ("GJcy;", "\u{403}"), ("GT", ">"),
    ("GT;", ">"), ("Gamma;", "\u{393}"), ("Gammad;", "\u{3dc}"), ("Gbreve;", "\u{11e}"),
    ("Gcedil;", "\u{122}"), ("Gcirc;", "\u{11c}"), ("Gcy;", "\u{413}"), ("Gdot;", "\u{120}"),
    ("Gfr;", "\u{1d50a}"), ("Gg;", "\u{22d9}"), ("Gopf;", "\u{1d53e}"),
    ("GreaterEqual;", "\u{2265}"), ("GreaterEqualLess;", "\u{22db}"),
    ("GreaterFullEqual;", "\u{2267}"), ("GreaterGreater;", "\u{2aa2}"),
    ("GreaterLess;", "\u{2277}"), ("GreaterSlantEqual;", "\u{2a7e}"), ("GreaterTilde;", "\u{2273}"),
    ("Gscr;", "\u{1d4a2}"), ("Gt;", "\u{226b}"), ("HARDcy;", "\u{42a}"), ("Hacek;", "\u{2c7}"),
    ("Hat;", "^"), ("Hcirc;", "\u{124}"), ("Hfr;", "\u{210c}"), ("HilbertSpace;", "\u{210b}"),
    ("Hopf;", "\u{210d}"), ("HorizontalLine;", "\u{2500}"), ("Hscr;", "\u{210b}"),
    ("Hstrok;", "\u{126}"), ("HumpDownHump;", "\u{224e}"), ("HumpEqual;", "\u{224f}"),
    ("IEcy;", "\u{415}"), ("IJlig;", "\u{132}"), ("IOcy;", "\u{401}"), ("Iacute", "\u{cd}"),
    ("Iacute;", "\u{cd}"), ("Icirc", "\u{ce}"), ("Icirc;", "\u{ce}"), ("Icy;", "\u{418}"),
    ("Idot;", "\u{130}"), ("Ifr;", "\u{2111}"), ("Igrave", "\u{cc}"), ("Igrave;", "\u{cc}"),
    ("Im;", "\u{2111}"), ("Imacr;", "\u{12a}"), ("ImaginaryI;", "\u{2148}"),
    ("Implies;", "\u{21d2}"), ("Int;", "\u{222c}"), ("Integral;", "\u{222b}"),
    ("Intersection;", "\u{22c2}"), ("InvisibleComma;", "\u{2063}"), ("InvisibleTimes;", "\u{2062}"),
    ("Iogon;", "\u{12e}"), ("Iopf;", "\u{1d540}"), ("Iota;", "\u{399}"), ("Iscr;", "\u{2110}"),
    ("Itilde;", "\u{128}"), ("Iukcy;", "\u{406}"), ("Iuml", "\u{cf}"), ("Iuml;", "\u{cf}"),
    ("Jcirc;", "\u{134}"), ("Jcy;", "\u{419}"), ("Jfr;", "\u{1d50d}"), ("Jopf;", "\u{1d541}"),
    ("Jscr;", "\u{1d4a5}"), ("Jsercy;", "\u{408}"), ("Jukcy;", "\u{404}"), ("KHcy;", "\u{425}"),
    ("KJcy;", "\u{40c}"), ("Kappa;", "\u{39a}"), ("Kcedil;", "\u{136}"), ("Kcy;", "\u{41a}"),
    ("Kfr;", "\u{1d50e}"), ("Kopf;", "\u{1d542}"), ("Kscr;", "\u{1d4a6}"), ("LJcy;", "\u{409}"),
    ("LT", "<"), ("LT;", "<"), ("Lacute;", "\u{139}"), ("Lambda;", "\u{39b}"),
    ("Lang;", "\u{27ea}"), ("Laplacetrf;", "\u{2112}"), ("Larr;", "\u{219e}"),
    ("Lcaron;", "\u{13d}"), ("Lcedil;", "\u{13b}"), ("Lcy;", "\u{41b}"),
    ("LeftAngleBracket;", "\u{27e8}"), ("LeftArrow;", "\u{2190}"), ("LeftArrowBar;", "\u{21e4}"),
    ("LeftArrowRightArrow;", "\u{21c6}"), ("LeftCeiling;", "\u{2308}"),
    ("LeftDoubleBracket;", "\u{27e6}"), ("LeftDownTeeVector;", "\u{2961}"),
    ("LeftDownVector;", "\u{21c3}"), ("LeftDownVectorBar;", "\u{2959}"), ("LeftFloor;", "\u{230a}"),
    ("LeftRightArrow;", "\u{2194}"), ("LeftRightVector;", "\u{294e}"), ("LeftTee;", "\u{22a3}"),
    ("LeftTeeArrow;", "\u{21a4}"), ("LeftTeeVector;", "\u{295a}"), ("LeftTriangle;", "\u{22b2}"),
    ("LeftTriangleBar;", "\u{29cf}"), ("LeftTriangleEqual;", "\u{22b4}"),
    ("LeftUpDownVector;", "\u{2951}"), ("LeftUpTeeVector;", "\u{2960}"),
    ("LeftUpVector;", "\u{21bf}"), ("LeftUpVectorBar;", "\u{2958}"), ("LeftVector;", "\u{21bc}"),
    ("LeftVectorBar;", "\u{2952}"), ("Leftarrow;", "\u{21d0}"), ("Leftrightarrow;", "\u{21d4}"),
    ("LessEqualGreater;", "\u{22da}"), ("LessFullEqual;", "\u{2266}"), ("LessGreater;", "\u{2276}"),
    ("LessLess;", "\u{2aa1}"), ("LessSlantEqual;", "\u{2a7d}"), ("LessTilde;", "\u{2272}"),
    ("Lfr;", "\u{1d50f}"), ("Ll;", "\u{22d8}"), ("Lleftarrow;", "\u{21da}"), ("Lmidot;", "\u{13f}"),
    ("LongLeftArrow;", "\u{27f5}"), ("LongLeftRightArrow;", "\u{27f7}"),
    ("LongRightArrow;", "\u{27f6}"), ("Longleftarrow;", "\u{27f8}"),
    ("Longleftrightarrow;", "\u{27fa}"), ("Longrightarrow;", "\u{27f9}"), ("Lopf;", "\u{1d543}"),
    ("LowerLeftArrow;", "\u{2199}"), ("LowerRightArrow;", "\u{2198}"), ("Lscr;", "\u{2112}"),
    ("Lsh;", "\u{21b0}"), ("Lstrok;", "\u{141}"), ("Lt;", "\u{226a}"), ("Map;", "\u{2905}"),
    ("Mcy;", "\u{41c}"), ("MediumSpace;", "\u{205f}"), ("Mellintrf;", "\u{2133}"),
    ("Mfr;", "\u{1d510}"), ("MinusPlus;", "\u{2213}"), ("Mopf;", "\u{1d544}"),
    ("Mscr;", "\u{2133}"), ("Mu;", "\u{39c}"), ("NJcy;", "\u{40a}"), ("Nacute;", "\u{143}"),
    ("Ncaron;", "\u{147}"), ("Ncedil;", "\u{145}"), ("Ncy;", "\u{41d}"),
    ("NegativeMediumSpace;", "\u{200b}"), ("NegativeThickSpace;", "\u{200b}"),
    ("NegativeThinSpace;", "\u{200b}"), ("NegativeVeryThinSpace;", "\u{200b}"),
    ("NestedGreaterGreater;", "\u{226b}"), ("NestedLessLess;", "\u{226a}"), ("NewLine;", "\u{a}"),
    ("Nfr;", "\u{1d511}"), ("NoBreak;", "\u{2060}"), ("NonBreakingSpace;", "\u{a0}"),
    ("Nopf;", "\u{2115}"), ("Not;", "\u{2aec}"), ("NotCongruent;", "\u{2262}"),
    ("NotCupCap;", "\u{226d}"), ("NotDoubleVerticalBar;", "\u{2226}"), ("NotElement;", "\u{2209}"),
    ("NotEqual;", "\u{2260}"), ("NotEqualTilde;", "\u{2242}\u{338}"), ("NotExists;", "\u{2204}"),
    ("NotGreater;", "\u{226f}"), ("NotGreaterEqual;", "\u{2271}"),
    ("NotGreaterFullEqual;", "\u{2267}\u{338}"), ("NotGreaterGreater;", "\u{226b}\u{338}"),
    ("NotGreaterLess;", "\u{2279}"), ("NotGreaterSlantEqual;", "\u{2a7e}\u{338}"),
    ("NotGreaterTilde;", "\u{2275}"), ("NotHumpDownHump;", "\u{224e}\u{338}"),
    ("NotHumpEqual;", "\u{224f}\u{338}"), ("NotLeftTriangle;", "\u{22ea}"),
    ("NotLeftTriangleBar;", "\u{29cf}\u{338}"), ("NotLeftTriangleEqual;", "\u{22ec}"),
    ("NotLess;", "\u{226e}"), ("NotLessEqual;", "\u{2270}"), ("NotLessGreater;", "\u{2278}"),
    ("NotLessLess;", "\u{226a}\u{338}"), ("NotLessSlantEqual;", "\u{2a7d}\u{338}"),
    ("NotLessTilde;", "\u{2274}"), ("NotNestedGreaterGreater;", "\u{2aa2}\u{338}"),
    ("NotNestedLessLess;", "\u{2aa1}\u{338}"), ("NotPrecedes;", "\u{2280}"),
    ("NotPrecedesEqual;", "\u{2aaf}\u{338}"), ("NotPrecedesSlantEqual;", "\u{22e0}"),
    ("NotReverseElement;", "\u{220c}"), ("NotRightTriangle;", "\u{22eb}"),
    ("NotRightTriangleBar;", "\u{29d0}\u{338}"), ("NotRightTriangleEqual;", "\u{22ed}"),
    ("NotSquareSubset;", "\u{228f}\u{338}"), ("NotSquareSubsetEqual;", "\u{22e2}"),
    ("NotSquareSuperset;", "\u{2290}\u{338}"), ("NotSquareSupersetEqual;", "\u{22e3}"),
    ("NotSubset;", "\u{2282}\u{20d2}"), ("NotSubsetEqual;", "\u{2288}"),
    ("NotSucceeds;", "\u{2281}"), ("NotSucceedsEqual;", "\u{2ab0}\u{338}"),
    ("NotSucceedsSlantEqual;", "\u{22e1}"), ("NotSucceedsTilde;", "\u{227f}\u{338}"),
    ("NotSuperset;", "\u{2283}\u{20d2}"), ("NotSupersetEqual;", "\u{2289}"),
    ("NotTilde;", "\u{2241}"), ("NotTildeEqual;", "\u{2244}"), ("NotTildeFullEqual;", "\u{2247}"),
    ("NotTildeTilde;", "\u{2249}"), ("NotVerticalBar;", "\u{2224}"), ("Nscr;", "\u{1d4a9}"),
    ("Ntilde", "\u{d1}"), ("Ntilde;", "\u{d1}"), ("Nu;", "\u{39d}"), ("OElig;", "\u{152}"),
    ("Oacute", "\u{d3}"), ("Oacute;", "\u{d3}"), ("Ocirc", "\u{d4}"), ("Ocirc;", "\u{d4}"),
    ("Ocy;", "\u{41e}"), ("Odblac;", "\u{150}"), ("Ofr;", "\u{1d512}"), ("Ograve", "\u{d2}"),
    ("Ograve;", "\u{d2}"), ("Omacr;", "\u{14c}"), ("Omega;", "\u{3a9}"), ("Omicron;", "\u{39f}"),
    ("Oopf;", "\u{1d546}"), ("OpenCurlyDoubleQuote;", "\u{201c}"), ("OpenCurlyQuote;", "\u{2018}"),
    ("Or;", "\u{2a54}"), ("Oscr;", "\u{1d4aa}"), ("Oslash", "\u{d8}"), ("Oslash;", "\u{d8}"),
    ("Otilde", "\u{d5}"), ("Otilde;", "\u{d5}"), ("Otimes;", "\u{2a37}"), ("Ouml", "\u{d6}"),
    ("Ouml;", "\u{d6}"), ("OverBar;", "\u{203e}"), ("OverBrace;", "\u{23de}"),
    ("OverBracket;", "\u{23b4}"), ("OverParenthesis;", "\u{23dc}"), ("PartialD;", "\u{2202}"),
    ("Pcy;", "\u{41f}"), ("Pfr;", "\u{1d513}"), ("Phi;", "\u{3a6}"), ("Pi;", "\u{3a0}"),
    ("PlusMinus;", "\u{b1}"), ("Poincareplane;", "\u{210c}"), ("Popf;", "\u{2119}"),
    ("Pr;", "\u{2abb}"), ("Precedes;", "\u{227a}"), ("PrecedesEqual;", "\u{2aaf}"),
    ("PrecedesSlantEqual;", "\u{227c}"), ("PrecedesTilde;", "\u{227e}"), ("Prime;", "\u{2033}"),
    ("Product;", "\u{220f}"), ("Proportion;", "\u{2237}"), ("Proportional;", "\u{221d}"),
    ("Pscr;", "\u{1d4ab}"), ("Psi;", "\u{3a8}"), ("QUOT", "\u{22}"), ("QUOT;", "\u{22}"),
    ("Qfr;", "\u{1d514}"), ("Qopf;", "\u{211a}"), ("Qscr;", "\u{1d4ac}"), ("RBarr;", "\u{2910}"),
    ("REG", "\u{ae}"), ("REG;", "\u{ae}"), ("Racute;", "\u{154}"), ("Rang;", "\u{27eb}"),
    ("Rarr;", "\u{21a0}"), ("Rarrtl;", "\u{2916}"), ("Rcaron;", "\u{158}"), ("Rcedil;", "\u{156}"),
    ("Rcy;", "\u{420}"), ("Re;", "\u{211c}"), ("ReverseElement;", "\u{220b}"),
    ("ReverseEquilibrium;", "\u{21cb}"), ("ReverseUpEquilibrium;", "\u{296f}"),
    ("Rfr;", "\u{211c}"), ("Rho;", "\u{3a1}"), ("RightAngleBracket;", "\u{27e9}"),
    ("RightArrow;", "\u{2192}"), ("RightArrowBar;", "\u{21e5}"),
    ("RightArrowLeftArrow;", "\u{21c4}"), ("RightCeiling;", "\u{2309}"),
    ("RightDoubleBracket;", "\u{27e7}"), ("RightDownTeeVector;", "\u{295d}"),
    ("RightDownVector;", "\u{21c2}"), ("RightDownVectorBar;", "\u{2955}"),
    ("RightFloor;", "\u{230b}"), ("RightTee;", "\u{22a2}"), ("RightTeeArrow;", "\u{21a6}"),
    ("RightTeeVector;", "\u{295b}"), ("RightTriangle;", "\u{22b3}"),
    ("RightTriangleBar;", "\u{29d0}"), ("RightTriangleEqual;", "\u{22b5}"),
    ("RightUpDownVector;", "\u{294f}"), ("RightUpTeeVector;", "\u{295c}"),
    ("RightUpVector;", "\u{21be}"), ("RightUpVectorBar;", "\u{2954}"), ("RightVector;", "\u{21c0}"),
    ("RightVectorBar;", "\u{2953}"), ("Rightarrow;", "\u{21d2}"), ("Ropf;", "\u{211d}"),
    ("RoundImplies;", "\u{2970}"), ("Rrightarrow;", "\u{21db}"), ("Rscr;", "\u{211b}"),
    ("Rsh;", "\u{21b1}"), ("RuleDelayed;", "\u{29f4}"), ("SHCHcy;", "\u{429}"),
    ("SHcy;", "\u{428}"), ("SOFTcy;", "\u{42c}"), ("Sacute;", "\u{15a}"), ("Sc;", "\u{2abc}"),
    ("Scaron;", "\u{160}"), ("Scedil;", "\u{15e}"), ("Scirc;", "\u{15c}"), ("Scy;", "\u{421}"),
    ("Sfr;", "\u{1d516}"), ("ShortDownArrow;", "\u{2193}"), ("ShortLeftArrow;", "\u{2190}"),
    ("ShortRightArrow;", "\u{2192}"), ("ShortUpArrow;", "\u{2191}"), ("Sigma;", "\u{3a3}"),
    ("SmallCircle;", "\u{2218}"), ("Sopf;", "\u{1d54a}"), ("Sqrt;", "\u{221a}"),
    ("Square;", "\u{25a1}"), ("SquareIntersection;", "\u{2293}"), ("SquareSubset;", "\u{228f}"),
    ("SquareSubsetEqual;", "\u{2291}"), ("SquareSuperset;", "\u{2290}"),
    ("SquareSupersetEqual;", "\u{2292}"), ("SquareUnion;", "\u{2294}"), ("Sscr;", "\u{1d4ae}"),
    ("Star;", "\u{22c6}"), ("Sub;", "\u{22d0}"), ("Subset;", "\u{22d0}"),
    ("SubsetEqual;", "\u{2286}"), ("Succeeds;", "\u{227b}"), ("SucceedsEqual;", "\u{2ab0}"),
    ("SucceedsSlantEqual;", "\u{227d}"), ("SucceedsTilde;", "\u{227f}"), ("SuchThat;", "\u{220b}"),
    ("Sum;", "\u{2211}"), ("Sup;", "\u{22d1}"), ("Superset;", "\u{2283}"),
    ("SupersetEqual;", "\u{2287}"), ("Supset;", "\u{22d1}"), ("THORN", "\u{de}"),
    ("THORN;", "\u{de}"), ("TRADE;", "\u{2122}"), ("TSHcy;", "\u{40b}"), ("TScy;", "\u{426}"),
    ("Tab;", "\u{9}"), ("Tau;", "\u{3a4}"), ("Tcaron;", "\u{164}"), ("Tcedil;", "\u{162}"),
    ("Tcy;", "\u{422}"), ("Tfr;", "\u{1d517}"), ("Therefore;", "\u{2234}"), ("Theta;", "\u{398}"),
    ("ThickSpace;", "\u{205f}\u{200a}"), ("ThinSpace;", "\u{2009}"), ("Tilde;", "\u{223c}"),
    ("TildeEqual;", "\u{2243}"), ("TildeFullEqual;", "\u{2245}"), ("TildeTilde;", "\u{2248}"),
    ("Topf;", "\u{1d54b}"), ("TripleDot;", "\u{20db}"), ("Tscr;", "\u{1d4af}"),
    ("Tstrok;", "\u{166}"), ("Uacute", "\u{da}"), ("Uacute;", "\u{da}"), ("Uarr;", "\u{219f}"),
    ("Uarrocir;", "\u{2949}"), ("Ubrcy;", "\u{40e}"), ("Ubreve;", "\u{16c}"), ("Ucirc", "\u{db}"),
    ("Ucirc;", "\u{db}"), ("Ucy;", "\u{423}"), ("Udblac;", "\u{170}"), ("Ufr;", "\u{1d518}"),
    ("Ugrave", "\u{d9}"), ("Ugrave;", "\u{d9}"), ("Umacr;", "\u{16a}"), ("UnderBar;", "_"),
    ("UnderBrace;", "\u{23df}"), ("UnderBracket;", "\u{23b5}"), ("UnderParenthesis;", "\u{23dd}"),
    ("Union;", "\u{22c3}"), ("UnionPlus;", "\u{228e}"), ("Uogon;", "\u{172}"),
    ("Uopf;", "\u{1d54c}"), ("UpArrow;", "\u{2191}"), ("UpArrowBar;", "\u{2912}"),
    ("UpArrowDownArrow;", "\u{21c5}"), ("UpDownArrow;", "\u{2195}"), ("UpEquilibrium;", "\u{296e}"),
    ("UpTee;", "\u{22a5}"), ("UpTeeArrow;", "\u{21a5}"), ("Uparrow;", "\u{21d1}"),
    ("Updownarrow;", "\u{21d5}"), ("UpperLeftArrow;", "\u{2196}"), ("UpperRightArrow;", "\u{2197}"),
    ("Upsi;", "\u{3d2}"), ("Upsilon;", "\u{3a5}"), ("Uring;", "\u{16e}"), ("Uscr;", "\u{1d4b0}"),
    ("Utilde;", "\u{168}"), ("Uuml", "\u{dc}"), ("Uuml;", "\u{dc}"), ("VDash;", "\u{22ab}"),
    ("Vbar;", "\u{2aeb}"), ("Vcy;", "\u{412}"), ("Vdash;", "\u{22a9}"), ("Vdashl;", "\u{2ae6}"),
    ("Vee;", "\u{22c1}"), ("Verbar;", "\u{2016}"), ("Vert;", "\u{2016}"),
    ("VerticalBar;", "\u{2223}"), ("VerticalLine;", "|"), ("VerticalSeparator;", "\u{2758}"),
    ("VerticalTilde;", "\u{2240}"), ("VeryThinSpace;", "\u{200a}"), ("Vfr;", "\u{1d519}"),
    ("Vopf;", "\u{1d54d}"), ("Vscr;", "\u{1d4b1}"), ("Vvdash;", "\u{22aa}"), ("Wcirc;", "\u{174}"),
    ("Wedge;", "\u{22c0}"), ("Wfr;", "\u{1d51a}"), ("Wopf;", "\u{1d54e}"), ("Wscr;", "\u{1d4b2}"),
    ("Xfr;", "\u{1d51b}"), ("Xi;", "\u{39e}"), ("Xopf;", "\u{1d54f}"), ("Xscr;", "\u{1d4b3}"),
    ("YAcy;", "\u{42f}"), ("YIcy;", "\u{407}"), ("YUcy;", "\u{42e}"), ("Yacute", "\u{dd}"),
    ("Yacute;", "\u{dd}"), ("Ycirc;", "\u{176}"), ("Ycy;", "\u{42b}"), ("Yfr;", "\u{1d51c}"),
    ("Yopf;", "\u{1d550}"), ("Yscr;", "\u{1d4b4}"), ("Yuml;", "\u{178}"), ("ZHcy;", "\u{416}"),
    ("Zacute;", "\u{179}"), ("Zcaron;", "\u{17d}"), ("Zcy;", "\u{417}"), ("Zdot;", "\u{17b}"),
    ("ZeroWidthSpace;", "\u{200b}"), ("Zeta;", "\u{396}"), ("Zfr;", "\u{2128}"),
    ("Zopf;", "\u{2124}"), ("Zscr;", "\u{1d4b5}"), ("aacute", "\u{e1}"), ("aacute;", "\u{e1}"),
    ("abreve;", "\u{103}"), ("ac;", "\u{223e}"), ("acE;", "\u{223e}\u{333}"), ("acd;", "\u{223f}"),
    ("acirc", "\u{e2}"), ("acirc;", "\u{e2}"), ("acute", "\u{b4}"), ("acute;", "\u{b4}"),
    ("acy;", "\u{430}"), ("aelig", "\u{e6}"), ("aelig;", "\u{e6}"), ("af;", "\u{2061}"),
    ("afr;", "\u{1d51e}"), ("agrave", "\u{e0}"), ("agrave;", "\u{e0}"), ("alefsym;", "\u{2135}"),
    ("aleph;", "\u{2135}"), ("alpha;", "\u{3b1}"), ("amacr;", "\u{101}"), ("amalg;", "\u{2a3f}"),
    ("amp", "&"), ("amp;", "&"), ("and;", "\u{2227}"), ("andand;", "\u{2a55}"),
    ("andd;", "\u{2a5c}"), ("andslope;", "\u{2a58}"), ("andv;", "\u{2a5a}"), ("ang;", "\u{2220}"),
    ("ange;", "\u{29a4}"), ("angle;", "\u{2220}"), ("angmsd;", "\u{2221}"),
    ("angmsdaa;", "\u{29a8}"), ("angmsdab;", "\u{29a9}"), ("angmsdac;", "\u{29aa}"),
    ("angmsdad;", "\u{29ab}"), ("angmsdae;", "\u{29ac}"), ("angmsdaf;", "\u{29ad}"),
    ("angmsdag;", "\u{29ae}"), ("angmsdah;", "\u{29af}"), ("angrt;", "\u{221f}"),
    ("angrtvb;", "\u{22be}"), ("angrtvbd;", "\u{299d}"), ("angsph;", "\u{2222}"),
    ("angst;", "\u{c5}"), ("angzarr;", "\u{237c}"), ("aogon;", "\u{105}"), ("aopf;", "\u{1d552}"),
    ("ap;", "\u{2248}"), ("apE;", "\u{2a70}"), ("apacir;", "\u{2a6f}"), ("ape;", "\u{224a}"),
    ("apid;", "\u{224b}"), ("apos;", "'"), ("approx;", "\u{2248}"), ("approxeq;", "\u{224a}"),
    ("aring", "\u{e5}"), ("aring;", "\u{e5}"), ("ascr;", "\u{1d4b6}"), ("ast;", "*"),
    ("asymp;", "\u{2248}"), ("asympeq;", "\u{224d}"), ("atilde", "\u{e3}"), ("atilde;", "\u{e3}"),
    ("auml", "\u{e4}"), ("auml;", "\u{e4}"), ("awconint;", "\u{2233}"), ("awint;", "\u{2a11}"),
    ("bNot;", "\u{2aed}"), ("backcong;", "\u{224c}"), ("backepsilon;", "\u{3f6}"),
    ("backprime;", "\u{2035}"), ("backsim;", "\u{223d}"), ("backsimeq;", "\u{22cd}"),
    ("barvee;", "\u{22bd}"), ("barwed;", "\u{2305}"), ("barwedge;", "\u{2305}"),
    ("bbrk;", "\u{23b5}"), ("bbrktbrk;", "\u{23b6}"), ("bcong;", "\u{224c}"), ("bcy;", "\u{431}"),
    ("bdquo;", "\u{201e}"), ("becaus;", "\u{2235}"), ("because;", "\u{2235}"),
    ("bemptyv;", "\u{29b0}"), ("bepsi;", "\u{3f6}"), ("bernou;", "\u{212c}"), ("beta;", "\u{3b2}"),
    ("beth;", "\u{2136}"), ("between;", "\u{226c}"), ("bfr;", "\u{1d51f}"), ("bigcap;", "\u{22c2}"),
    ("bigcirc;", "\u{25ef}"), ("bigcup;", "\u{22c3}"), ("bigodot;", "\u{2a00}"),
    ("bigoplus;", "\u{2a01}"), ("bigotimes;", "\u{2a02}"), ("bigsqcup;", "\u{2a06}"),
    ("bigstar;", "\u{2605}"), ("bigtriangledown;", "\u{25bd}"), ("bigtriangleup;", "\u{25b3}"),
    ("biguplus;", "\u{2a04}"), ("bigvee;", "\u{22c1}"), ("bigwedge;", "\u{22c0}"),
    ("bkarow;", "\u{290d}"), ("blacklozenge;", "\u{29eb}"), ("blacksquare;", "\u{25aa}"),
    ("blacktriangle;", "\u{25b4}"), ("blacktriangledown;", "\u{25be}"),
    ("blacktriangleleft;", "\u{25c2}"), ("blacktriangleright;", "\u{25b8}"), ("blank;", "\u{2423}"),
    ("blk12;", "\u{2592}"), ("blk14;", "\u{2591}"), ("blk34;", "\u{2593}"), ("block;", "\u{2588}"),
    ("bne;", "=\u{20e5}"), ("bnequiv;", "\u{2261}\u{20e5}"), ("bnot;", "\u{2310}"),
    ("bopf;", "\u{1d553}"), ("bot;", "\u{22a5}"), ("bottom;", "\u{22a5}"), ("bowtie;", "\u{22c8}"),
    ("boxDL;", "\u{2557}"), ("boxDR;", "\u{2554}"), ("boxDl;", "\u{2556}"), ("boxDr;", "\u{2553}"),
    ("boxH;", "\u{2550}"), ("boxHD;", "\u{2566}"), ("boxHU;", "\u{2569}"), ("boxHd;", "\u{2564}"),
    ("boxHu;", "\u{2567}"), ("boxUL;", "\u{255d}"), ("boxUR;", "\u{255a}"), ("boxUl;", "\u{255c}"),
    ("boxUr;", "\u{2559}"), ("boxV;", "\u{2551}"), ("boxVH;", "\u{256c}"), ("boxVL;", "\u{2563}"),
    ("boxVR;", "\u{2560}"), ("boxVh;", "\u{256b}"), ("boxVl;", "\u{2562}"), ("boxVr;", "\u{255f}"),
    ("boxbox;", "\u{29c9}"), ("boxdL;", "\u{2555}"), ("boxdR;", "\u{2552}"), ("boxdl;", "\u{2510}"),
    ("boxdr;", "\u{250c}"), ("boxh;", "\u{2500}"), ("boxhD;", "\u{2565}"), ("boxhU;", "\u{2568}"),
    ("boxhd;", "\u{252c}"), ("boxhu;", "\u{2534}"), ("boxminus;", "\u{229f}"),
    ("boxplus;", "\u{229e}"), ("boxtimes;", "\u{22a0}"), ("boxuL;", "\u{255b}"),
    ("boxuR;", "\u{2558}"), ("boxul;", "\u{2518}"), ("boxur;", "\u{2514}"), ("boxv;", "\u{2502}"),
    ("boxvH;", "\u{256a}"), ("boxvL;", "\u{2561}"), ("boxvR;", "\u{255e}"), ("boxvh;", "\u{253c}"),
    ("boxvl;", "\u{2524}"), ("boxvr;", "\u{251c}"), ("bprime;", "\u{2035}"), ("breve;", "\u{2d8}"),
    ("brvbar", "\u{a6}"), ("brvbar;", "\u{a6}"), ("bscr;", "\u{1d4b7}"), ("bsemi;", "\u{204f}"),
    ("bsim;", "\u{223d}"), ("bsime;", "\u{22cd}"), ("bsol;", "\u{5c}"), ("bsolb;", "\u{29c5}"),
    ("bsolhsub;", "\u{27c8}"), ("bull;", "\u{2022}"), ("bullet;", "\u{2022}"),
    ("bump;", "\u{224e}"), ("bumpE;", "\u{2aae}"), ("bumpe;", "\u{224f}"), ("bumpeq;", "\u{224f}"),
    ("cacute;", "\u{107}"), ("cap;", "\u{2229}"), ("capand;", "\u{2a44}"),
    ("capbrcup;", "\u{2a49}"), ("capcap;", "\u{2a4b}"), ("capcup;", "\u{2a47}"),
    ("capdot;", "\u{2a40}"), ("caps;", "\u{2229}\u{fe00}"), ("caret;", "\u{2041}"),
    ("caron;", "\u{2c7}"), ("ccaps;", "\u{2a4d}"), ("ccaron;", "\u{10d}"), ("ccedil", "\u{e7}"),
    ("ccedil;", "\u{e7}"), ("ccirc;", "\u{109}"), ("ccups;", "\u{2a4c}"), ("ccupssm;", "\u{2a50}"),
    ("cdot;", "\u{10b}"), ("cedil", "\u{b8}"), ("cedil;", "\u{b8}"), ("cemptyv;", "\u{29b2}"),
    ("cent", "\u{a2}"), ("cent;", "\u{a2}"), ("centerdot;", "\u{b7}"), ("cfr;", "\u{1d520}"),
    ("chcy;", "\u{447}"), ("check;", "\u{2713}"), ("checkmark;", "\u{2713}"), ("chi;", "\u{3c7}"),
    ("cir;", "\u{25cb}"), ("cirE;", "\u{29c3}"), ("circ;", "\u{2c6}"), ("circeq;", "\u{2257}"),
    ("circlearrowleft;", "\u{21ba}"), ("circlearrowright;", "\u{21bb}"), ("circledR;", "\u{ae}"),
    ("circledS;", "\u{24c8}"), ("circledast;", "\u{229b}"), ("circledcirc;", "\u{229a}"),
    ("circleddash;", "\u{229d}"), ("cire;", "\u{2257}"), ("cirfnint;", "\u{2a10}"),
    ("cirmid;", "\u{2aef}"), ("cirscir;", "\u{29c2}"), ("clubs;", "\u{2663}"),
    ("clubsuit;", "\u{2663}"), ("colon;", ":"), ("colone;", "\u{2254}"), ("coloneq;", "\u{2254}"),
    ("comma;", ","), ("commat;", "@"), ("comp;", "\u{2201}"), ("compfn;", "\u{2218}"),
    ("complement;", "\u{2201}"), ("complexes;", "\u{2102}"), ("cong;", "\u{2245}"),
    ("congdot;", "\u{2a6d}"), ("conint;", "\u{222e}"), ("copf;", "\u{1d554}"),
    ("coprod;", "\u{2210}"), ("copy", "\u{a9}"), ("copy;", "\u{a9}"), ("copysr;", "\u{2117}"),
    ("crarr;", "\u{21b5}"), ("cross;", "\u{2717}"), ("cscr;", "\u{1d4b8}"), ("csub;", "\u{2acf}"),
    ("csube;", "\u{2ad1}"), ("csup;", "\u{2ad0}"), ("csupe;", "\u{2ad2}"), ("ctdot;", "\u{22ef}"),
    ("cudarrl;", "\u{2938}"), ("cudarrr;", "\u{2935}"), ("cuepr;", "\u{22de}"),
    ("cuesc;", "\u{22df}"), ("cularr;", "\u{21b6}"), ("cularrp;", "\u{293d}"), ("cup;", "\u{222a}"),
    ("cupbrcap;", "\u{2a48}"), ("cupcap;", "\u{2a46}"), ("cupcup;", "\u{2a4a}"),
    ("cupdot;", "\u{228d}"), ("cupor;", "\u{2a45}"), ("cups;", "\u{222a}\u{fe00}"),
    ("curarr;", "\u{21b7}"), ("curarrm;", "\u{293c}"), ("curlyeqprec;", "\u{22de}"),
    ("curlyeqsucc;", "\u{22df}"), ("curlyvee;", "\u{22ce}"), ("curlywedge;", "\u{22cf}"),
    ("curren", "\u{a4}"), ("curren;", "\u{a4}"), ("curvearrowleft;", "\u{21b6}"),
    ("curvearrowright;", "\u{21b7}"), ("cuvee;", "\u{22ce}"), ("cuwed;", "\u{22cf}"),
    ("cwconint;", "\u{2232}"), ("cwint;", "\u{2231}"), ("cylcty;", "\u{232d}"),
    ("dArr;", "\u{21d3}"), ("dHar;", "\u{2965}"), ("dagger;", "\u{2020}"), ("daleth;", "\u{2138}"),
    ("darr;", "\u{2193}"), ("dash;", "\u{2010}"), ("dashv;", "\u{22a3}"), ("dbkarow;", "\u{290f}"),
    ("dblac;", "\u{2dd}"), ("dcaron;", "\u{10f}"), ("dcy;", "\u{434}"), ("dd;", "\u{2146}"),
    ("ddagger;", "\u{2021}"), ("ddarr;", "\u{21ca}"), ("ddotseq;", "\u{2a77}"), ("deg", "\u{b0}"),
    ("deg;", "\u{b0}"), ("delta;", "\u{3b4}"), ("demptyv;", "\u{29b1}"), ("dfisht;", "\u{297f}"),
    ("dfr;", "\u{1d521}"), ("dharl;", "\u{21c3}"), ("dharr;", "\u{21c2}"), ("diam;", "\u{22c4}"),
    ("diamond;", "\u{22c4}"), ("diamondsuit;", "\u{2666}"), ("diams;", "\u{2666}"),
    ("die;", "\u{a8}"), ("digamma;", "\u{3dd}"), ("disin;", "\u{22f2}"), ("div;", "\u{f7}"),
    ("divide", "\u{f7}"), ("divide;", "\u{f7}"), ("divideontimes;", "\u{22c7}"),
    ("divonx;", "\u{22c7}"), ("djcy;", "\u{452}"), ("dlcorn;", "\u{231e}"), ("dlcrop;", "\u{230d}"),
    ("dollar;", "$"), ("dopf;", "\u{1d555}"), ("dot;", "\u{2d9}"), ("doteq;", "\u{2250}"),
    ("doteqdot;", "\u{2251}"), ("dotminus;", "\u{2238}"), ("dotplus;", "\u{2214}"),
    ("dotsquare;", "\u{22a1}"), ("doublebarwedge;", "\u{2306}"), ("downarrow;", "\u{2193}"),
    ("downdownarrows;", "\u{21ca}"), ("downharpoonleft;", "\u{21c3}"),
    ("downharpoonright;", "\u{21c2}"), ("drbkarow;", "\u{2910}"), ("drcorn;", "\u{231f}"),
    ("drcrop;", "\u{230c}"), ("dscr;", "\u{1d4b9}"), ("dscy;", "\u{455}"), ("dsol;", "\u{29f6}"),
    ("dstrok;", "\u{111}"), ("dtdot;", "\u{22f1}"), ("dtri;", "\u{25bf}"), ("dtrif;", "\u{25be}"),
    ("duarr;", "\u{21f5}"), ("duhar;", "\u{296f}"), ("dwangle;", "\u{29a6}"), ("dzcy;", "\u{45f}"),
    ("dzigrarr;", "\u{27ff}"), ("eDDot;", "\u{2a77}"), ("eDot;", "\u{2251}"), ("eacute", "\u{e9}"),
    ("eacute;", "\u{e9}"), ("easter;", "\u{2a6e}"), ("ecaron;", "\u{11b}"), ("ecir;", "\u{2256}"),
    ("ecirc", "\u{ea}"), ("ecirc;", "\u{ea}"), ("ecolon;", "\u{2255}"), ("ecy;", "\u{44d}"),
    ("edot;", "\u{117}"), ("ee;", "\u{2147}"), ("efDot;", "\u{2252}"), ("efr;", "\u{1d522}"),
    ("eg;", "\u{2a9a}"), ("egrave", "\u{e8}"), ("egrave;", "\u{e8}"), ("egs;", "\u{2a96}"),
    ("egsdot;", "\u{2a98}"), ("el;", "\u{2a99}"), ("elinters;", "\u{23e7}"), ("ell;", "\u{2113}"),
    ("els;", "\u{2a95}"), ("elsdot;", "\u{2a97}"), ("emacr;", "\u{113}"), ("empty;", "\u{2205}"),
    ("emptyset;", "\u{2205}"), ("emptyv;", "\u{2205}"), ("emsp13;", "\u{2004}"),
    ("emsp14;", "\u{2005}"), ("emsp;", "\u{2003}"), ("eng;", "\u{14b}"), ("ensp;", "\u{2002}"),
    ("eogon;", "\u{119}"), ("eopf;", "\u{1d556}"), ("epar;", "\u{22d5}"), ("eparsl;", "\u{29e3}"),
    ("eplus;", "\u{2a71}"), ("epsi;", "\u{3b5}"), ("epsilon;", "\u{3b5}"), ("epsiv;", "\u{3f5}"),
    ("eqcirc;", "\u{2256}"), ("eqcolon;", "\u{2255}"), ("eqsim;", "\u{2242}"),
    ("eqslantgtr;", "\u{2a96}"), ("eqslantless;", "\u{2a95}"), ("equals;", "="),
    ("equest;", "\u{225f}"), ("equiv;", "\u{2261}"), ("equivDD;", "\u{2a78}"),
    ("eqvparsl;", "\u{29e5}"), ("erDot;", "\u{2253}"), ("erarr;", "\u{2971}"),
    ("escr;", "\u{212f}"), ("esdot;", "\u{2250}"), ("esim;", "\u{2242}"), ("eta;", "\u{3b7}"),
    ("eth", "\u{f0}"), ("eth;", "\u{f0}"), ("euml", "\u{eb}"), ("euml;", "\u{eb}"),
    ("euro;", "\u{20ac}"), ("excl;", "!"), ("exist;", "\u{2203}"), ("expectation;", "\u{2130}"),
    ("exponentiale;", "\u{2147}"), ("fallingdotseq;", "\u{2252}"), ("fcy;", "\u{444}"),
    ("female;", "\u{2640}"), ("ffilig;", "\u{fb03}"), ("fflig;", "\u{fb00}"),
    ("ffllig;", "\u{fb04}"), ("ffr;", "\u{1d523}"), ("filig;", "\u{fb01}"), ("fjlig;", "fj"),
    ("flat;", "\u{266d}"), ("fllig;", "\u{fb02}"), ("fltns;", "\u{25b1}"), ("fnof;", "\u{192}"),
    ("fopf;", "\u{1d557}"), ("forall;", "\u{2200}"), ("fork;", "\u{22d4}"), ("forkv;", "\u{2ad9}"),
    ("fpartint;", "\u{2a0d}"), ("frac12", "\u{bd}"), ("frac12;", "\u{bd}"), ("frac13;", "\u{2153}"),
    ("frac14", "\u{bc}"), ("frac14;", "\u{bc}"), ("frac15;", "\u{2155}"), ("frac16;", "\u{2159}"),
    ("frac18;", "\u{215b}"), ("frac23;", "\u{2154}"), ("frac25;", "\u{2156}"), ("frac34", "\u{be}"),
    ("frac34;", "\u{be}"), ("frac35;", "\u{2157}"), ("frac38;", "\u{215c}"),
    ("frac45;", "\u{2158}"), ("frac56;", "\u{215a}"), ("frac58;", "\u{215d}"),
    ("frac78;", "\u{215e}"), ("frasl;", "\u{2044}"), ("frown;", "\u{2322}"), ("fscr;", "\u{1d4bb}"),
    ("gE;", "\u{2267}"), ("gEl;", "\u{2a8c}"), ("gacute;", "\u{1f5}"), ("gamma;", "\u{3b3}"),
    ("gammad;", "\u{3dd}"), ("gap;", "\u{2a86}"), ("gbreve;", "\u{11f}"), ("gcirc;", "\u{11d}"),
    ("gcy;", "\u{433}"), ("gdot;", "\u{121}"), ("ge;", "\u{2265}"), ("gel;", "\u{22db}"),
    ("geq;", "\u{2265}"), ("geqq;", "\u{2267}"), ("geqslant;", "\u{2a7e}"), ("ges;", "\u{2a7e}"),
    ("gescc;", "\u{2aa9}"), ("gesdot;", "\u{2a80}"), ("gesdoto;", "\u{2a82}"),
    ("gesdotol;", "\u{2a84}"), ("gesl;", "\u{22db}\u{fe00}"), ("gesles;", "\u{2a94}"),
    ("gfr;", "\u{1d524}"), ("gg;", "\u{226b}"), ("ggg;", "\u{22d9}"), ("gimel;", "\u{2137}"),
    ("gjcy;", "\u{453}"), ("gl;", "\u{2277}"), ("glE;", "\u{2a92}"), ("gla;", "\u{2aa5}"),
    ("glj;", "\u{2aa4}"), ("gnE;", "\u{2269}"), ("gnap;", "\u{2a8a}"), ("gnapprox;", "\u{2a8a}"),
    ("gne;", "\u{2a88}"), ("gneq;", "\u{2a88}"), ("gneqq;", "\u{2269}"), ("gnsim;", "\u{22e7}"),
    ("gopf;", "\u{1d558}"), ("grave;", "`"), ("gscr;", "\u{210a}"), ("gsim;", "\u{2273}"),
    ("gsime;", "\u{2a8e}"), ("gsiml;", "\u{2a90}"), ("gt", ">"), ("gt;", ">"),
    ("gtcc;", "\u{2aa7}"), ("gtcir;", "\u{2a7a}"), ("gtdot;", "\u{22d7}"), ("gtlPar;", "\u{2995}"),
    ("gtquest;", "\u{2a7c}"), ("gtrapprox;", "\u{2a86}"), ("gtrarr;", "\u{2978}"),
    ("gtrdot;", "\u{22d7}"), ("gtreqless;", "\u{22db}"), ("gtreqqless;", "\u{2a8c}"),
    ("gtrless;", "\u{2277}"), ("gtrsim;", "\u{2273}"), ("gvertneqq;", "\u{2269}\u{fe00}"),
    ("gvnE;", "\u{2269}\u{fe00}"), ("hArr;", "\u{21d4}"), ("hairsp;", "\u{200a}"),
    ("half;", "\u{bd}"), ("hamilt;", "\u{210b}"), ("hardcy;", "\u{44a}"), ("harr;", "\u{2194}"),
    ("harrcir;", "\u{2948}"), ("harrw;", "\u{21ad}"), ("hbar;", "\u{210f}"), ("hcirc;", "\u{125}"),
    ("hearts;", "\u{2665}"), ("heartsuit;", "\u{2665}"), ("hellip;", "\u{2026}"),
    ("hercon;", "\u{22b9}"), ("hfr;", "\u{1d525}"), ("hksearow;", "\u{2925}"),
    ("hkswarow;", "\u{2926}"), ("hoarr;", "\u{21ff}"), ("homtht;", "\u{223b}"),
    ("hookleftarrow;", "\u{21a9}"), ("hookrightarrow;", "\u{21aa}"), ("hopf;", "\u{1d559}"),
    ("horbar;", "\u{2015}"), ("hscr;", "\u{1d4bd}"), ("hslash;", "\u{210f}"),
    ("hstrok;", "\u{127}"), ("hybull;", "\u{2043}"), ("hyphen;", "\u{2010}"), ("iacute", "\u{ed}"),
    ("iacute;", "\u{ed}"), ("ic;", "\u{2063}"), ("icirc", "\u{ee}"), ("icirc;", "\u{ee}"),
    ("icy;", "\u{438}"), ("iecy;", "\u{435}"), ("iexcl", "\u{a1}"), ("iexcl;", "\u{a1}"),
    ("iff;", "\u{21d4}"), ("ifr;", "\u{1d526}"), ("igrave", "\u{ec}"), ("igrave;", "\u{ec}"),
    ("ii;", "\u{2148}"), ("iiiint;", "\u{2a0c}"), ("iiint;", "\u{222d}"), ("iinfin;", "\u{29dc}"),
    ("iiota;", "\u{2129}"), ("ijlig;", "\u{133}"), ("imacr;", "\u{12b}"), ("image;", "\u{2111}"),
    ("imagline;", "\u{2110}"), ("imagpart;", "\u{2111}"), ("imath;", "\u{131}"),
    ("imof;", "\u{22b7}"), ("imped;", "\u{1b5}"), ("in;", "\u{2208}"), ("incare;", "\u{2105}"),
    ("infin;", "\u{221e}"), ("infintie;", "\u{29dd}"), ("inodot;", "\u{131}"), ("int;", "\u{222b}"),
    ("intcal;", "\u{22ba}"), ("integers;", "\u{2124}"), ("intercal;", "\u{22ba}"),
    ("intlarhk;", "\u{2a17}"), ("intprod;", "\u{2a3c}"), ("iocy;", "\u{451}"),
    ("iogon;", "\u{12f}"), ("iopf;", "\u{1d55a}"), ("iota;", "\u{3b9}"), ("iprod;", "\u{2a3c}"),
    ("iquest", "\u{bf}"), ("iquest;", "\u{bf}"), ("iscr;", "\u{1d4be}"), ("isin;", "\u{2208}"),
    ("isinE;", "\u{22f9}"), ("isindot;", "\u{22f5}"), ("isins;", "\u{22f4}"),
    ("isinsv;", "\u{22f3}"), ("isinv;", "\u{2208}"), ("it;", "\u{2062}"), ("itilde;", "\u{129}"),
    ("iukcy;", "\u{456}"), ("iuml", "\u{ef}"), ("iuml;", "\u{ef}"), ("jcirc;", "\u{135}"),
    ("jcy;", "\u{439}"), ("jfr;", "\u{1d527}"), ("jmath;", "\u{237}"), ("jopf;", "\u{1d55b}"),
    ("jscr;", "\u{1d4bf}"), ("jsercy;", "\u{458}"), ("jukcy;", "\u{454}"), ("kappa;", "\u{3ba}"),
    ("kappav;", "\u{3f0}"), ("kcedil;", "\u{137}"), ("kcy;", "\u{43a}"), ("kfr;", "\u{1d528}"),
    ("kgreen;", "\u{138}"), ("khcy;", "\u{445}"), ("kjcy;", "\u{45c}"), ("kopf;", "\u{1d55c}"),
    ("kscr;", "\u{1d4c0}"), ("lAarr;", "\u{21da}"), ("lArr;", "\u{21d0}"), ("lAtail;", "\u{291b}"),
    ("lBarr;", "\u{290e}"), ("lE;", "\u{2266}"), ("lEg;", "\u{2a8b}"), ("lHar;", "\u{2962}"),
    ("lacute;", "\u{13a}"), ("laemptyv;", "\u{29b4}"), ("lagran;", "\u{2112}"),
    ("lambda;", "\u{3bb}"), ("lang;", "\u{27e8}"), ("langd;", "\u{2991}"), ("langle;", "\u{27e8}"),
    ("lap;", "\u{2a85}"), ("laquo", "\u{ab}"), ("laquo;", "\u{ab}"), ("larr;", "\u{2190}"),
    ("larrb;", "\u{21e4}"), ("larrbfs;", "\u{291f}"), ("larrfs;", "\u{291d}"),
    ("larrhk;", "\u{21a9}"), ("larrlp;", "\u{21ab}"), ("larrpl;", "\u{2939}"),
    ("larrsim;", "\u{2973}"), ("larrtl;", "\u{21a2}"), ("lat;", "\u{2aab}"),
    ("latail;", "\u{2919}"), ("late;", "\u{2aad}"), ("lates;", "\u{2aad}\u{fe00}"),
    ("lbarr;", "\u{290c}"), ("lbbrk;", "\u{2772}"), ("lbrace;", "{"), ("lbrack;", "["),
    ("lbrke;", "\u{298b}"), ("lbrksld;", "\u{298f}"), ("lbrkslu;", "\u{298d}"),
    ("lcaron;", "\u{13e}"), ("lcedil;", "\u{13c}"), ("lceil;", "\u{2308}"), ("lcub;", "{"),
    ("lcy;", "\u{43b}"), ("ldca;", "\u{2936}"), ("ldquo;", "\u{201c}"), ("ldquor;", "\u{201e}"),
    ("ldrdhar;", "\u{2967}"), ("ldrushar;", "\u{294b}"), ("ldsh;", "\u{21b2}"), ("le;", "\u{2264}"),
    ("leftarrow;", "\u{2190}"), ("leftarrowtail;", "\u{21a2}"), ("leftharpoondown;", "\u{21bd}"),
    ("leftharpoonup;", "\u{21bc}"), ("leftleftarrows;", "\u{21c7}"),
    ("leftrightarrow;", "\u{2194}"), ("leftrightarrows;", "\u{21c6}"),
    ("leftrightharpoons;", "\u{21cb}"), ("leftrightsquigarrow;", "\u{21ad}"),
    ("leftthreetimes;", "\u{22cb}"), ("leg;", "\u{22da}"), ("leq;", "\u{2264}"),
    ("leqq;", "\u{2266}"), ("leqslant;", "\u{2a7d}"), ("les;", "\u{2a7d}"), ("lescc;", "\u{2aa8}"),
    ("lesdot;", "\u{2a7f}"), ("lesdoto;", "\u{2a81}"), ("lesdotor;", "\u{2a83}"),
    ("lesg;", "\u{22da}\u{fe00}"), ("lesges;", "\u{2a93}"), ("lessapprox;", "\u{2a85}"),
    ("lessdot;", "\u{22d6}"), ("lesseqgtr;", "\u{22da}"), ("lesseqqgtr;", "\u{2a8b}"),
    ("lessgtr;", "\u{2276}"), ("lesssim;", "\u{2272}"), ("lfisht;", "\u{297c}"),
    ("lfloor;", "\u{230a}"), ("lfr;", "\u{1d529}"), ("lg;", "\u{2276}"), ("lgE;", "\u{2a91}"),
    ("lhard;", "\u{21bd}"), ("lharu;", "\u{21bc}"), ("lharul;", "\u{296a}"), ("lhblk;", "\u{2584}"),
    ("ljcy;", "\u{459}"), ("ll;", "\u{226a}"), ("llarr;", "\u{21c7}"), ("llcorner;", "\u{231e}"),
    ("llhard;", "\u{296b}"), ("lltri;", "\u{25fa}"), ("lmidot;", "\u{140}"),
    ("lmoust;", "\u{23b0}"), ("lmoustache;", "\u{23b0}"), ("lnE;", "\u{2268}"),
    ("lnap;", "\u{2a89}"), ("lnapprox;", "\u{2a89}"), ("lne;", "\u{2a87}"), ("lneq;", "\u{2a87}"),
    ("lneqq;", "\u{2268}"), ("lnsim;", "\u{22e6}"), ("loang;", "\u{27ec}"), ("loarr;", "\u{21fd}"),
    ("lobrk;", "\u{27e6}"), ("longleftarrow;", "\u{27f5}"), ("longleftrightarrow;", "\u{27f7}"),
    ("longmapsto;", "\u{27fc}"), ("longrightarrow;", "\u{27f6}"), ("looparrowleft;", "\u{21ab}"),
    ("looparrowright;", "\u{21ac}"), ("lopar;", "\u{2985}"), ("lopf;", "\u{1d55d}"),
    ("loplus;", "\u{2a2d}"), ("lotimes;", "\u{2a34}"), ("lowast;", "\u{2217}"), ("lowbar;", "_"),
    ("loz;", "\u{25ca}"), ("lozenge;", "\u{25ca}"), ("lozf;", "\u{29eb}"), ("lpar;", "("),
    ("lparlt;", "\u{2993}"), ("lrarr;", "\u{21c6}"), ("lrcorner;", "\u{231f}"),
    ("lrhar;", "\u{21cb}"), ("lrhard;", "\u{296d}"), ("lrm;", "\u{200e}"), ("lrtri;", "\u{22bf}"),
    ("lsaquo;", "\u{2039}"), ("lscr;", "\u{1d4c1}"), ("lsh;", "\u{21b0}"), ("lsim;", "\u{2272}"),
    ("lsime;", "\u{2a8d}"), ("lsimg;", "\u{2a8f}"), ("lsqb;", "["), ("lsquo;", "\u{2018}"),
    ("lsquor;", "\u{201a}"), ("lstrok;", "\u{142}"), ("lt", "<"), ("lt;", "<"),
    ("ltcc;", "\u{2aa6}"), ("ltcir;", "\u{2a79}"), ("ltdot;", "\u{22d6}"), ("lthree;", "\u{22cb}"),
    ("ltimes;", "\u{22c9}"), ("ltlarr;", "\u{2976}"), ("ltquest;", "\u{2a7b}"),
    ("ltrPar;", "\u{2996}"), ("ltri;", "\u{25c3}"), ("ltrie;", "\u{22b4}"), ("ltrif;", "\u{25c2}"),
    ("lurdshar;", "\u{294a}"), ("luruhar;", "\u{2966}"), ("lvertneqq;", "\u{2268}\u{fe00}"),
    ("lvnE;", "\u{2268}\u{fe00}"), ("mDDot;", "\u{223a}"), ("macr", "\u{af}"), ("macr;", "\u{af}"),
    ("male;", "\u{2642}"), ("malt;", "\u{2720}"), ("maltese;", "\u{2720}"), ("map;", "\u{21a6}"),
    ("mapsto;", "\u{21a6}"), ("mapstodown;", "\u{21a7}"), ("mapstoleft;", "\u{21a4}"),
    ("mapstoup;", "\u{21a5}"), ("marker;", "\u{25ae}"), ("mcomma;", "\u{2a29}"),
    ("mcy;", "\u{43c}"), ("mdash;", "\u{2014}"), ("measuredangle;", "\u{2221}"),
    ("mfr;", "\u{1d52a}"), ("mho;", "\u{2127}"), ("micro", "\u{b5}"), ("micro;", "\u{b5}"),
    ("mid;", "\u{2223}"), ("midast;", "*"), ("midcir;", "\u{2af0}"), ("middot", "\u{b7}"),
    ("middot;", "\u{b7}"), ("minus;", "\u{2212}"), ("minusb;", "\u{229f}"), ("minusd;", "\u{2238}"),
    ("minusdu;", "\u{2a2a}"), ("mlcp;", "\u{2adb}"), ("mldr;", "\u{2026}"), ("mnplus;", "\u{2213}"),
    ("models;", "\u{22a7}"), ("mopf;", "\u{1d55e}"), ("mp;", "\u{2213}"), ("mscr;", "\u{1d4c2}"),
    ("mstpos;", "\u{223e}"), ("mu;", "\u{3bc}"), ("multimap;", "\u{22b8}"), ("mumap;", "\u{22b8}"),
    ("nGg;", "\u{22d9}\u{338}"), ("nGt;", "\u{226b}\u{20d2}"), ("nGtv;", "\u{226b}\u{338}"),
    ("nLeftarrow;", "\u{21cd}"), ("nLeftrightarrow;", "\u{21ce}"), ("nLl;", "\u{22d8}\u{338}"),
    ("nLt;", "\u{226a}\u{20d2}"), ("nLtv;", "\u{226a}\u{338}"), ("nRightarrow;", "\u{21cf}"),
    ("nVDash;", "\u{22af}"), ("nVdash;", "\u{22ae}"), ("nabla;", "\u{2207}"),
    ("nacute;", "\u{144}"), ("nang;", "\u{2220}\u{20d2}"), ("nap;", "\u{2249}"),
    ("napE;", "\u{2a70}\u{338}"), ("napid;", "\u{224b}\u{338}"), ("napos;", "\u{149}"),
    ("napprox;", "\u{2249}"), ("natur;", "\u{266e}"), ("natural;", "\u{266e}"),
    ("naturals;", "\u{2115}"), ("nbsp", "\u{a0}"), ("nbsp;", "\u{a0}"),
    ("nbump;", "\u{224e}\u{338}"), ("nbumpe;", "\u{224f}\u{338}"), ("ncap;", "\u{2a43}"),
    ("ncaron;", "\u{148}"), ("ncedil;", "\u{146}"), ("ncong;", "\u{2247}"),
    ("ncongdot;", "\u{2a6d}\u{338}"), ("ncup;", "\u{2a42}"), ("ncy;", "\u{43d}"),
    ("ndash;", "\u{2013}"), ("ne;", "\u{2260}"), ("neArr;", "\u{21d7}"), ("nearhk;", "\u{2924}"),
    ("nearr;", "\u{2197}"), ("nearrow;", "\u{2197}"), ("nedot;", "\u{2250}\u{338}"),
    ("nequiv;", "\u{2262}"), ("nesear;", "\u{2928}"), ("nesim;", "\u{2242}\u{338}"),
    ("nexist;", "\u{2204}"), ("nexists;", "\u{2204}"), ("nfr;", "\u{1d52b}"),
    ("ngE;", "\u{2267}\u{338}"), ("nge;", "\u{2271}"), ("ngeq;", "\u{2271}"),
    ("ngeqq;", "\u{2267}\u{338}"), ("ngeqslant;", "\u{2a7e}\u{338}"), ("nges;", "\u{2a7e}\u{338}"),
    ("ngsim;", "\u{2275}"), ("ngt;", "\u{226f}"), ("ngtr;", "\u{226f}"), ("nhArr;", "\u{21ce}"),
    ("nharr;", "\u{21ae}"), ("nhpar;", "\u{2af2}"), ("ni;", "\u{220b}"), ("nis;", "\u{22fc}"),
    ("nisd;", "\u{22fa}"), ("niv;", "\u{220b}"), ("njcy;", "\u{45a}"), ("nlArr;", "\u{21cd}"),
    ("nlE;", "\u{2266}\u{338}"), ("nlarr;", "\u{219a}"), ("nldr;", "\u{2025}"),
    ("nle;", "\u{2270}"), ("nleftarrow;", "\u{219a}"), ("nleftrightarrow;", "\u{21ae}"),
    ("nleq;", "\u{2270}"), ("nleqq;", "\u{2266}\u{338}"), ("nleqslant;", "\u{2a7d}\u{338}"),
    ("nles;", "\u{2a7d}\u{338}"), ("nless;", "\u{226e}"), ("nlsim;", "\u{2274}"),
    ("nlt;", "\u{226e}"), ("nltri;", "\u{22ea}"), ("nltrie;", "\u{22ec}"), ("nmid;", "\u{2224}"),
    ("nopf;", "\u{1d55f}"), ("not", "\u{ac}"), ("not;", "\u{ac}"), ("notin;", "\u{2209}"),
    ("notinE;", "\u{22f9}\u{338}"), ("notindot;", "\u{22f5}\u{338}"), ("notinva;", "\u{2209}"),
    ("notinvb;", "\u{22f7}"), ("notinvc;", "\u{22f6}"), ("notni;", "\u{220c}"),
    ("notniva;", "\u{220c}"), ("notnivb;", "\u{22fe}"), ("notnivc;", "\u{22fd}"),
    ("npar;", "\u{2226}"), ("nparallel;", "\u{2226}"), ("nparsl;", "\u{2afd}\u{20e5}"),
    ("npart;", "\u{2202}\u{338}"), ("npolint;", "\u{2a14}"), ("npr;", "\u{2280}"),
    ("nprcue;", "\u{22e0}"), ("npre;", "\u{2aaf}\u{338}"), ("nprec;", "\u{2280}"),
    ("npreceq;", "\u{2aaf}\u{338}"), ("nrArr;", "\u{21cf}"), ("nrarr;", "\u{219b}"),
    ("nrarrc;", "\u{2933}\u{338}"), ("nrarrw;", "\u{219d}\u{338}"), ("nrightarrow;", "\u{219b}"),
    ("nrtri;", "\u{22eb}"), ("nrtrie;", "\u{22ed}"), ("nsc;", "\u{2281}"), ("nsccue;", "\u{22e1}"),
    ("nsce;", "\u{2ab0}\u{338}"), ("nscr;", "\u{1d4c3}"), ("nshortmid;", "\u{2224}"),
    ("nshortparallel;", "\u{2226}"), ("nsim;", "\u{2241}"), ("nsime;", "\u{2244}"),
    ("nsimeq;", "\u{2244}"), ("nsmid;", "\u{2224}"), ("nspar;", "\u{2226}"),
    ("nsqsube;", "\u{22e2}"), ("nsqsupe;", "\u{22e3}"), ("nsub;", "\u{2284}"),
    ("nsubE;", "\u{2ac5}\u{338}"), ("nsube;", "\u{2288}"), ("nsubset;", "\u{2282}\u{20d2}"),
    ("nsubseteq;", "\u{2288}"), ("nsubseteqq;", "\u{2ac5}\u{338}"), ("nsucc;", "\u{2281}"),
    ("nsucceq;", "\u{2ab0}\u{338}"), ("nsup;", "\u{2285}"), ("nsupE;", "\u{2ac6}\u{338}"),
    ("nsupe;", "\u{2289}"), ("nsupset;", "\u{2283}\u{20d2}"), ("nsupseteq;", "\u{2289}"),
    ("nsupseteqq;", "\u{2ac6}\u{338}"), ("ntgl;", "\u{2279}"), ("ntilde", "\u{f1}"),
    ("ntilde;", "\u{f1}"), ("ntlg;", "\u{2278}"), ("ntriangleleft;", "\u{22ea}"),
    ("ntrianglelefteq;", "\u{22ec}"), ("ntriangleright;", "\u{22eb}"),
    ("ntrianglerighteq;", "\u{22ed}"), ("nu;", "\u{3bd}"), ("num;", "#"), ("numero;", "\u{2116}"),
    ("numsp;", "\u{2007}"), ("nvDash;", "\u{22ad}"), ("nvHarr;", "\u{2904}"),
    ("nvap;", "\u{224d}\u{20d2}"), ("nvdash;", "\u{22ac}"), ("nvge;", "\u{2265}\u{20d2}"),
    ("nvgt;", ">\u{20d2}"), ("nvinfin;", "\u{29de}"), ("nvlArr;", "\u{2902}"),
    ("nvle;", "\u{2264}\u{20d2}"), ("nvlt;", "<\u{20d2}"), ("nvltrie;", "\u{22b4}\u{20d2}"),
    ("nvrArr;", "\u{2903}"), ("nvrtrie;", "\u{22b5}\u{20d2}"), ("nvsim;", "\u{223c}\u{20d2}"),
    ("nwArr;", "\u{21d6}"), ("nwarhk;", "\u{2923}"), ("nwarr;", "\u{2196}"),
    ("nwarrow;", "\u{2196}"), ("nwnear;", "\u{2927}"), ("oS;", "\u{24c8}"), ("oacute", "\u{f3}"),
    ("oacute;", "\u{f3}"), ("oast;", "\u{229b}"), ("ocir;", "\u{229a}"), ("ocirc", "\u{f4}"),
    ("ocirc;", "\u{f4}"), ("ocy;", "\u{43e}"), ("odash;", "\u{229d}"), ("odblac;", "\u{151}"),
    ("odiv;", "\u{2a38}"), ("odot;", "\u{2299}"), ("odsold;", "\u{29bc}"), ("oelig;", "\u{153}"),
    ("ofcir;", "\u{29bf}"), ("ofr;", "\u{1d52c}"), ("ogon;", "\u{2db}"), ("ograve", "\u{f2}"),
    ("ograve;", "\u{f2}"), ("ogt;", "\u{29c1}"), ("ohbar;", "\u{29b5}"), ("ohm;", "\u{3a9}"),
    ("oint;", "\u{222e}"), ("olarr;", "\u{21ba}"), ("olcir;", "\u{29be}"), ("olcross;", "\u{29bb}"),
    ("oline;", "\u{203e}"), ("olt;", "\u{29c0}"), ("omacr;", "\u{14d}"), ("omega;", "\u{3c9}"),
    ("omicron;", "\u{3bf}"), ("omid;", "\u{29b6}"), ("ominus;", "\u{2296}"), ("oopf;", "\u{1d560}"),
    ("opar;", "\u{29b7}"), ("operp;", "\u{29b9}"), ("oplus;", "\u{2295}"), ("or;", "\u{2228}"),
    ("orarr;", "\u{21bb}"), ("ord;", "\u{2a5d}"), ("order;", "\u{2134}"), ("orderof;", "\u{2134}"),
    ("ordf", "\u{aa}"), ("ordf;", "\u{aa}"), ("ordm", "\u{ba}"), ("ordm;", "\u{ba}"),
    ("origof;", "\u{22b6}"), ("oror;", "\u{2a56}"), ("orslope;", "\u{2a57}"), ("orv;", "\u{2a5b}"),
    ("oscr;", "\u{2134}"), ("oslash", "\u{f8}"), ("oslash;", "\u{f8}"), ("osol;", "\u{2298}"),
    ("otilde", "\u{f5}"), ("otilde;", "\u{f5}"), ("otimes;", "\u{2297}"), ("otimesas;", "\u{2a36}"),
    ("ouml", "\u{f6}"), ("ouml;", "\u{f6}"), ("ovbar;", "\u{233d}"), ("par;", "\u{2225}"),
    ("para", "\u{b6}"), ("para;", "\u{b6}"), ("parallel;", "\u{2225}"), ("parsim;", "\u{2af3}"),
    ("parsl;", "\u{2afd}"), ("part;", "\u{2202}"), ("pcy;", "\u{43f}"), ("percnt;", "%"),
    ("period;", "."), ("permil;", "\u{2030}"), ("perp;", "\u{22a5}"), ("pertenk;", "\u{2031}"),
    ("pfr;", "\u{1d52d}"), ("phi;", "\u{3c6}"), ("phiv;", "\u{3d5}"), ("phmmat;", "\u{2133}"),
    ("phone;", "\u{260e}"), ("pi;", "\u{3c0}"), ("pitchfork;", "\u{22d4}"), ("piv;", "\u{3d6}"),
    ("planck;", "\u{210f}"), ("planckh;", "\u{210e}"), ("plankv;", "\u{210f}"), ("plus;", "+"),
    ("plusacir;", "\u{2a23}"), ("plusb;", "\u{229e}"), ("pluscir;", "\u{2a22}"),
    ("plusdo;", "\u{2214}"), ("plusdu;", "\u{2a25}"), ("pluse;", "\u{2a72}"), ("plusmn", "\u{b1}"),
    ("plusmn;", "\u{b1}"), ("plussim;", "\u{2a26}"), ("plustwo;", "\u{2a27}"), ("pm;", "\u{b1}"),
    ("pointint;", "\u{2a15}"), ("popf;", "\u{1d561}"), ("pound", "\u{a3}"), ("pound;", "\u{a3}"),
    ("pr;", "\u{227a}"), ("prE;", "\u{2ab3}"), ("prap;", "\u{2ab7}"), ("prcue;", "\u{227c}"),
    ("pre;", "\u{2aaf}"), ("prec;", "\u{227a}"), ("precapprox;", "\u{2ab7}"),
    ("preccurlyeq;", "\u{227c}"), ("preceq;", "\u{2aaf}"), ("precnapprox;", "\u{2ab9}"),
    ("precneqq;", "\u{2ab5}"), ("precnsim;", "\u{22e8}"), ("precsim;", "\u{227e}"),
    ("prime;", "\u{2032}"), ("primes;", "\u{2119}"), ("prnE;", "\u{2ab5}"), ("prnap;", "\u{2ab9}"),
    ("prnsim;", "\u{22e8}"), ("prod;", "\u{220f}"), ("profalar;", "\u{232e}"),
    ("profline;", "\u{2312}"), ("profsurf;", "\u{2313}"), ("prop;", "\u{221d}"),
    ("propto;", "\u{221d}"), ("prsim;", "\u{227e}"), ("prurel;", "\u{22b0}"),
    ("pscr;", "\u{1d4c5}"), ("psi;", "\u{3c8}"), ("puncsp;", "\u{2008}"), ("qfr;", "\u{1d52e}"),
    ("qint;", "\u{2a0c}"), ("qopf;", "\u{1d562}"), ("qprime;", "\u{2057}"), ("qscr;", "\u{1d4c6}"),
    ("quaternions;", "\u{210d}"), ("quatint;", "\u{2a16}"), ("quest;", "?"),
    ("questeq;", "\u{225f}"), ("quot", "\u{22}"), ("quot;", "\u{22}"), ("rAarr;", "\u{21db}"),
    ("rArr;", "\u{21d2}"), ("rAtail;", "\u{291c}"), ("rBarr;", "\u{290f}"), ("rHar;", "\u{2964}"),
    ("race;", "\u{223d}\u{331}"), ("racute;", "\u{155}"), ("radic;", "\u{221a}"),
    ("raemptyv;", "\u{29b3}"), ("rang;", "\u{27e9}"), ("rangd;", "\u{2992}"),
    ("range;", "\u{29a5}"), ("rangle;", "\u{27e9}"), ("raquo", "\u{bb}"), ("raquo;", "\u{bb}"),
    ("rarr;", "\u{2192}"), ("rarrap;", "\u{2975}"), ("rarrb;", "\u{21e5}"),
    ("rarrbfs;", "\u{2920}"), ("rarrc;", "\u{2933}"), ("rarrfs;", "\u{291e}"),
    ("rarrhk;", "\u{21aa}"), ("rarrlp;", "\u{21ac}"), ("rarrpl;", "\u{2945}"),
    ("rarrsim;", "\u{2974}"), ("rarrtl;", "\u{21a3}"), ("rarrw;", "\u{219d}"),
    ("ratail;", "\u{291a}"), ("ratio;", "\u{2236}"), ("rationals;", "\u{211a}"),
    ("rbarr;", "\u{290d}"), ("rbbrk;", "\u{2773}"), ("rbrace;", "}"), ("rbrack;", "]"),
    ("rbrke;", "\u{298c}"), ("rbrksld;", "\u{298e}"), ("rbrkslu;", "\u{2990}"),
    ("rcaron;", "\u{159}"), ("rcedil;", "\u{157}"), ("rceil;", "\u{2309}"), ("rcub;", "}"),
    ("rcy;", "\u{440}"), ("rdca;", "\u{2937}"), ("rdldhar;", "\u{2969}"), ("rdquo;", "\u{201d}"),
    ("rdquor;", "\u{201d}"), ("rdsh;", "\u{21b3}"), ("real;", "\u{211c}"), ("realine;", "\u{211b}"),
    ("realpart;", "\u{211c}"), ("reals;", "\u{211d}"), ("rect;", "\u{25ad}"), ("reg", "\u{ae}"),
    ("reg;", "\u{ae}"), ("rfisht;", "\u{297d}"), ("rfloor;", "\u{230b}"), ("rfr;", "\u{1d52f}"),
    ("rhard;", "\u{21c1}"), ("rharu;", "\u{21c0}"), ("rharul;", "\u{296c}"), ("rho;", "\u{3c1}"),
    ("rhov;", "\u{3f1}"), ("rightarrow;", "\u{2192}"), ("rightarrowtail;", "\u{21a3}"),
    ("rightharpoondown;", "\u{21c1}"), ("rightharpoonup;", "\u{21c0}"),
    ("rightleftarrows;", "\u{21c4}"), ("rightleftharpoons;", "\u{21cc}"),
    ("rightrightarrows;", "\u{21c9}"), ("rightsquigarrow;", "\u{219d}"),
    ("rightthreetimes;", "\u{22cc}"), ("ring;", "\u{2da}"), ("risingdotseq;", "\u{2253}"),
    ("rlarr;", "\u{21c4}"), ("rlhar;", "\u{21cc}"), ("rlm;", "\u{200f}"), ("rmoust;", "\u{23b1}"),
    ("rmoustache;", "\u{23b1}"), ("rnmid;", "\u{2aee}"), ("roang;", "\u{27ed}"),
    ("roarr;", "\u{21fe}"), ("robrk;", "\u{27e7}"), ("ropar;", "\u{2986}"), ("ropf;", "\u{1d563}"),
    ("roplus;", "\u{2a2e}"), ("rotimes;", "\u{2a35}"), ("rpar;", ")"), ("rpargt;", "\u{2994}"),
    ("rppolint;", "\u{2a12}"), ("rrarr;", "\u{21c9}"), ("rsaquo;", "\u{203a}"),
    ("rscr;", "\u{1d4c7}"), ("rsh;", "\u{21b1}"), ("rsqb;", "]"), ("rsquo;", "\u{2019}"),
    ("rsquor;", "\u{2019}"), ("rthree;", "\u{22cc}"), ("rtimes;", "\u{22ca}"),
    ("rtri;", "\u{25b9}"), ("rtrie;", "\u{22b5}"), ("rtrif;", "\u{25b8}"),
    ("rtriltri;", "\u{29ce}"), ("ruluhar;", "\u{2968}"), ("rx;", "\u{211e}"),
    ("sacute;", "\u{15b}"), ("sbquo;", "\u{201a}"), ("sc;", "\u{227b}"), ("scE;", "\u{2ab4}"),
    ("scap;", "\u{2ab8}"), ("scaron;", "\u{161}"), ("sccue;", "\u{227d}"), ("sce;", "\u{2ab0}"),
    ("scedil;", "\u{15f}"), ("scirc;", "\u{15d}"), ("scnE;", "\u{2ab6}"), ("scnap;", "\u{2aba}"),
    ("scnsim;", "\u{22e9}"), ("scpolint;", "\u{2a13}"), ("scsim;", "\u{227f}"), ("scy;", "\u{441}"),
    ("sdot;", "\u{22c5}"), ("sdotb;", "\u{22a1}"), ("sdote;", "\u{2a66}"), ("seArr;", "\u{21d8}"),
    ("searhk;", "\u{2925}"), ("searr;", "\u{2198}"), ("searrow;", "\u{2198}"), ("sect", "\u{a7}"),
    ("sect;", "\u{a7}"), ("semi;", ";"), ("seswar;", "\u{2929}"), ("setminus;", "\u{2216}"),
    ("setmn;", "\u{2216}"), ("sext;", "\u{2736}"), ("sfr;", "\u{1d530}"), ("sfrown;", "\u{2322}"),
    ("sharp;", "\u{266f}"), ("shchcy;", "\u{449}"), ("shcy;", "\u{448}"), ("shortmid;", "\u{2223}"),
    ("shortparallel;", "\u{2225}"), ("shy", "\u{ad}"), ("shy;", "\u{ad}"), ("sigma;", "\u{3c3}"),
    ("sigmaf;", "\u{3c2}"), ("sigmav;", "\u{3c2}"), ("sim;", "\u{223c}"), ("simdot;", "\u{2a6a}"),
    ("sime;", "\u{2243}"), ("simeq;", "\u{2243}"), ("simg;", "\u{2a9e}"), ("simgE;", "\u{2aa0}"),
    ("siml;", "\u{2a9d}"), ("simlE;", "\u{2a9f}"), ("simne;", "\u{2246}"), ("simplus;", "\u{2a24}"),
    ("simrarr;", "\u{2972}"), ("slarr;", "\u{2190}"), ("smallsetminus;", "\u{2216}"),
    ("smashp;", "\u{2a33}"), ("smeparsl;", "\u{29e4}"), ("smid;", "\u{2223}"),
    ("smile;", "\u{2323}"), ("smt;", "\u{2aaa}"), ("smte;", "\u{2aac}"),
    ("smtes;", "\u{2aac}\u{fe00}"), ("softcy;", "\u{44c}"), ("sol;", "/"), ("solb;", "\u{29c4}"),
    ("solbar;", "\u{233f}"), ("sopf;", "\u{1d564}"), ("spades;", "\u{2660}"),
    ("spadesuit;", "\u{2660}"), ("spar;", "\u{2225}"), ("sqcap;", "\u{2293}"),
    ("sqcaps;", "\u{2293}\u{fe00}"), ("sqcup;", "\u{2294}"), ("sqcups;", "\u{2294}\u{fe00}"),
    ("sqsub;", "\u{228f}"), ("sqsube;", "\u{2291}"), ("sqsubset;", "\u{228f}"),
    ("sqsubseteq;", "\u{2291}"), ("sqsup;", "\u{2290}"), ("sqsupe;", "\u{2292}"),
    ("sqsupset;", "\u{2290}"), ("sqsupseteq;", "\u{2292}"), ("squ;", "\u{25a1}"),
    ("square;", "\u{25a1}"), ("squarf;", "\u{25aa}"), ("squf;", "\u{25aa}"), ("srarr;", "\u{2192}"),
    ("sscr;", "\u{1d4c8}"), ("ssetmn;", "\u{2216}"), ("ssmile;", "\u{2323}"),
    ("sstarf;", "\u{22c6}"), ("star;", "\u{2606}"), ("starf;", "\u{2605}"),
    ("straightepsilon;", "\u{3f5}"), ("straightphi;", "\u{3d5}"), ("strns;", "\u{af}"),
    ("sub;", "\u{2282}"), ("subE;", "\u{2ac5}"), ("subdot;", "\u{2abd}"), ("sube;", "\u{2286}"),
    ("subedot;", "\u{2ac3}"), ("submult;", "\u{2ac1}"), ("subnE;", "\u{2acb}"),
    ("subne;", "\u{228a}"), ("subplus;", "\u{2abf}"), ("subrarr;", "\u{2979}"),
    ("subset;", "\u{2282}"), ("subseteq;", "\u{2286}"), ("subseteqq;", "\u{2ac5}"),
    ("subsetneq;", "\u{228a}"), ("subsetneqq;", "\u{2acb}"), ("subsim;", "\u{2ac7}"),
    ("subsub;", "\u{2ad5}"), ("subsup;", "\u{2ad3}"), ("succ;", "\u{227b}"),
    ("succapprox;", "\u{2ab8}"), ("succcurlyeq;", "\u{227d}"), ("succeq;", "\u{2ab0}"),
    ("succnapprox;", "\u{2aba}"), ("succneqq;", "\u{2ab6}"), ("succnsim;", "\u{22e9}"),
    ("succsim;", "\u{227f}"), ("sum;", "\u{2211}"), ("sung;", "\u{266a}"), ("sup1", "\u{b9}"),
    ("sup1;", "\u{b9}"), ("sup2", "\u{b2}"), ("sup2;", "\u{b2}"), ("sup3", "\u{b3}"),
    ("sup3;", "\u{b3}"), ("sup;", "\u{2283}"), ("supE;", "\u{2ac6}"), ("supdot;", "\u{2abe}"),
    ("supdsub;", "\u{2ad8}"), ("supe;", "\u{2287}"), ("supedot;", "\u{2ac4}"),
    ("suphsol;", "\u{27c9}"), ("suphsub;", "\u{2ad7}"), ("suplarr;", "\u{297b}"),
    ("supmult;", "\u{2ac2}"), ("supnE;", "\u{2acc}"), ("supne;", "\u{228b}"),
    ("supplus;", "\u{2ac0}"), ("supset;", "\u{2283}"), ("supseteq;", "\u{2287}"),
    ("supseteqq;", "\u{2ac6}"), ("supsetneq;", "\u{228b}"), ("supsetneqq;", "\u{2acc}"),
    ("supsim;", "\u{2ac8}"), ("supsub;", "\u{2ad4}"), ("supsup;", "\u{2ad6}"),
    ("swArr;", "\u{21d9}"), ("swarhk;", "\u{2926}"), ("swarr;", "\u{2199}"),
    ("swarrow;", "\u{2199}"), ("swnwar;", "\u{292a}"), ("szlig", "\u{df}"), ("szlig;", "\u{df}"),
    ("target;", "\u{2316}"), ("tau;", "\u{3c4}"), ("tbrk;", "\u{23b4}"), ("tcaron;", "\u{165}"),
    ("tcedil;", "\u{163}"), ("tcy;", "\u{442}"), ("tdot;", "\u{20db}"), ("telrec;", "\u{2315}"),
    ("tfr;", "\u{1d531}"), ("there4;", "\u{2234}"), ("therefore;", "\u{2234}"),
    ("theta;", "\u{3b8}"), ("thetasym;", "\u{3d1}"), ("thetav;", "\u{3d1}"),
    ("thickapprox;", "\u{2248}"), ("thicksim;", "\u{223c}"), ("thinsp;", "\u{2009}"),
    ("thkap;", "\u{2248}"), ("thksim;", "\u{223c}"), ("thorn", "\u{fe}"), ("thorn;", "\u{fe}"),
    ("tilde;", "\u{2dc}"), ("times", "\u{d7}"), ("times;", "\u{d7}"), ("timesb;", "\u{22a0}"),
    ("timesbar;", "\u{2a31}"), ("timesd;", "\u{2a30}"), ("tint;", "\u{222d}"),
    ("toea;", "\u{2928}"), ("top;", "\u{22a4}"), ("topbot;", "\u{2336}"), ("topcir;", "\u{2af1}"),
    ("topf;", "\u{1d565}"), ("topfork;", "\u{2ada}"), ("tosa;", "\u{2929}"),
    ("tprime;", "\u{2034}"), ("trade;", "\u{2122}"), ("triangle;", "\u{25b5}"),
    ("triangledown;", "\u{25bf}"), ("triangleleft;", "\u{25c3}"), ("trianglelefteq;", "\u{22b4}"),
    ("triangleq;", "\u{225c}"), ("triangleright;", "\u{25b9}"), ("trianglerighteq;", "\u{22b5}"),
    ("tridot;", "\u{25ec}"), ("trie;", "\u{225c}"), ("triminus;", "\u{2a3a}"),
    ("triplus;", "\u{2a39}"), ("trisb;", "\u{29cd}"), ("tritime;", "\u{2a3b}"),
    ("trpezium;", "\u{23e2}"), ("tscr;", "\u{1d4c9}"), ("tscy;", "\u{446}"), ("tshcy;", "\u{45b}"),
    ("tstrok;", "\u{167}"), ("twixt;", "\u{226c}"), ("twoheadleftarrow;", "\u{219e}"),
    ("twoheadrightarrow;", "\u{21a0}"), ("uArr;", "\u{21d1}"), ("uHar;", "\u{2963}"),
    ("uacute", "\u{fa}"), ("uacute;", "\u{fa}"), ("uarr;", "\u{2191}"), ("ubrcy;", "\u{45e}"),
    ("ubreve;", "\u{16d}"), ("ucirc", "\u{fb}"), ("ucirc;", "\u{fb}"), ("ucy;", "\u{443}"),
    ("udarr;", "\u{21c5}"), ("udblac;", "\u{171}"), ("udhar;", "\u{296e}"), ("ufisht;", "\u{297e}"),
    ("ufr;", "\u{1d532}"), ("ugrave", "\u{f9}"), ("ugrave;", "\u{f9}"), ("uharl;", "\u{21bf}"),
    ("uharr;", "\u{21be}"), ("uhblk;", "\u{2580}"), ("ulcorn;", "\u{231c}"),
    ("ulcorner;", "\u{231c}"), ("ulcrop;", "\u{230f}"), ("ultri;", "\u{25f8}"),
    ("umacr;", "\u{16b}"), ("uml", "\u{a8}"), ("uml;", "\u{a8}"), ("uogon;", "\u{173}"),
    ("uopf;", "\u{1d566}"), ("uparrow;", "\u{2191}"), ("updownarrow;", "\u{2195}"),
    ("upharpoonleft;", "\u{21bf}"), ("upharpoonright;", "\u{21be}"), ("uplus;", "\u{228e}"),
    ("upsi;", "\u{3c5}"), ("upsih;", "\u{3d2}"), ("upsilon;", "\u{3c5}"),
    ("upuparrows;", "\u{21c8}"), ("urcorn;", "\u{231d}"), ("urcorner;", "\u{231d}"),
    ("urcrop;", "\u{230e}"), ("uring;", "\u{16f}"), ("urtri;", "\u{25f9}"), ("uscr;", "\u{1d4ca}"),
    ("utdot;", "\u{22f0}"), ("utilde;", "\u{169}"), ("utri;", "\u{25b5}"), ("utrif;", "\u{25b4}"),
    ("uuarr;", "\u{21c8}"), ("uuml", "\u{fc}"), ("uuml;", "\u{fc}"), ("uwangle;", "\u{29a7}"),
    ("vArr;", "\u{21d5}"), ("vBar;", "\u{2ae8}"), ("vBarv;", "\u{2ae9}"), ("vDash;", "\u{22a8}"),
    ("vangrt;", "\u{299c}"), ("varepsilon;", "\u{3f5}"), ("varkappa;", "\u{3f0}"),
    ("varnothing;", "\u{2205}"), ("varphi;", "\u{3d5}"), ("varpi;", "\u{3d6}"),
    ("varpropto;", "\u{221d}"), ("varr;", "\u{2195}"), ("varrho;", "\u{3f1}"),
    ("varsigma;", "\u{3c2}"), ("varsubsetneq;", "\u{228a}\u{fe00}"),
    ("varsubsetneqq;", "\u{2acb}\u{fe00}"), ("varsupsetneq;", "\u{228b}\u{fe00}"),
    ("varsupsetneqq;", "\u{2acc}\u{fe00}"), ("vartheta;", "\u{3d1}"),
    ("vartriangleleft;", "\u{22b2}"), ("vartriangleright;", "\u{22b3}"), ("vcy;", "\u{432}"),
    ("vdash;", "\u{22a2}"), ("vee;", "\u{2228}"), ("veebar;", "\u{22bb}"), ("veeeq;", "\u{225a}"),
    ("vellip;", "\u{22ee}"), ("verbar;", "|"), ("vert;", "|"), ("vfr;", "\u{1d533}"),
    ("vltri;", "\u{22b2}"), ("vnsub;", "\u{2282}\u{20d2}"), ("vnsup;", "\u{2283}\u{20d2}"),
    ("vopf;", "\u{1d567}"), ("vprop;", "\u{221d}"), ("vrtri;", "\u{22b3}"), ("vscr;", "\u{1d4cb}"),
    ("vsubnE;", "\u{2acb}\u{fe00}"), ("vsubne;", "\u{228a}\u{fe00}"),
    ("vsupnE;", "\u{2acc}\u{fe00}"), ("vsupne;", "\u{228b}\u{fe00}"), ("vzigzag;", "\u{299a}"),
    ("wcirc;", "\u{175}"), ("wedbar;", "\u{2a5f}"), ("wedge;", "\u{2227}"), ("wedgeq;", "\u{2259}"),
    ("weierp;", "\u{2118}"), ("wfr;", "\u{1d534}"), ("wopf;", "\u{1d568}"), ("wp;", "\u{2118}"),
    ("wr;", "\u{2240}"), ("wreath;", "\u{2240}"), ("wscr;", "\u{1d4cc}"), ("xcap;", "\u{22c2}"),
    ("xcirc;", "\u{25ef}"), ("xcup;", "\u{22c3}"), ("xdtri;", "\u{25bd}"), ("xfr;", "\u{1d535}"),
    ("xhArr;", "\u{27fa}"), ("xharr;", "\u{27f7}"), ("xi;", "\u{3be}"), ("xlArr;", "\u{27f8}"),
    ("xlarr;", "\u{27f5}"), ("xmap;", "\u{27fc}"), ("xnis;", "\u{22fb}"), ("xodot;", "\u{2a00}"),
    ("xopf;", "\u{1d569}"), ("xoplus;", "\u{2a01}"), ("xotime;", "\u{2a02}"),
    ("xrArr;", "\u{27f9}"), ("xrarr;", "\u{27f6}"), ("xscr;", "\u{1d4cd}"), ("xsqcup;", "\u{2a06}"),
    ("xuplus;", "\u{2a04}"), ("xutri;", "\u{25b3}"), ("xvee;", "\u{22c1}"), ("xwedge;", "\u{22c0}"),
    ("yacute", "\u{fd}"), ("yacute;", "\u{fd}"), ("yacy;", "\u{44f}"), ("ycirc;", "\u{177}"),
    ("ycy;", "\u{44b}"), ("yen", "\u{a5}"), ("yen;", "\u{a5}"), ("yfr;", "\u{1d536}"),
    ("yicy;", "\u{457}"), ("yopf;", "\u{1d56a}"), ("yscr;", "\u{1d4ce}"), ("yucy;", "\u{44e}"),
    ("yuml", "\u{ff}"), ("yuml;", "\u{ff}"), ("zacute;", "\u{17a}"), ("zcaron;", "\u{17e}"),
    ("zcy;", "\u{437}"), ("zdot;", "\u{17c}"), ("zeetrf;", "\u{2128}"), ("zeta;", "\u{3b6}"),
    ("zfr;", "\u{1d537}"), ("zhcy;", "\u{436}"), ("zigrarr;", "\u{21dd}"), ("zopf;", "\u{1d56b}"),
    ("zscr;", "\u{1d4cf}"), ("zwj;", "\u{200d}"), ("zwnj;", "\u{200c}"),
];
// The upper-cased names that ftfy also decodes (to the upper-cased text): chardata.HTML_ENTITIES
// minus html5.
#[rustfmt::skip]
const ENTITIES_UPPER: &[(&str, &str)] = &[
    ("AACUTE;", "\u{c1}"), ("ABREVE;", "\u{102}"), ("AC;", "\u{223e}"), ("ACD;", "\u{223f}"),
    ("ACIRC;", "\u{c2}"), ("ACUTE;", "\u{b4}"), ("ACY;", "\u{410}"), ("AELIG;", "\u{c6}"),
    ("AF;", "\u{2061}"), ("AFR;", "\u{1d51e}"), ("AGRAVE;", "\u{c0}"), ("ALEFSYM;", "\u{2135}"),
    ("ALEPH;", "\u{2135}"), ("ALPHA;", "\u{391}"), ("AMACR;", "\u{100}"), ("AMALG;", "\u{2a3f}"),
    ("AND;", "\u{2227}"), ("ANDAND;", "\u{2a55}"), ("ANDD;", "\u{2a5c}"), ("ANDSLOPE;", "\u{2a58}"),
    ("ANDV;", "\u{2a5a}"), ("ANG;", "\u{2220}"), ("ANGE;", "\u{29a4}"), ("ANGLE;", "\u{2220}"),
    ("ANGMSD;", "\u{2221}"), ("ANGMSDAA;", "\u{29a8}"), ("ANGMSDAB;", "\u{29a9}"),
    ("ANGMSDAC;", "\u{29aa}"), ("ANGMSDAD;", "\u{29ab}"), ("ANGMSDAE;", "\u{29ac}"),
    ("ANGMSDAF;", "\u{29ad}"), ("ANGMSDAG;", "\u{29ae}"), ("ANGMSDAH;", "\u{29af}"),
    ("ANGRT;", "\u{221f}"), ("ANGRTVB;", "\u{22be}"), ("ANGRTVBD;", "\u{299d}"),
    ("ANGSPH;", "\u{2222}"), ("ANGST;", "\u{c5}"), ("ANGZARR;", "\u{237c}"), ("AOGON;", "\u{104}"),
    ("AOPF;", "\u{1d552}"), ("AP;", "\u{2248}"), ("APACIR;", "\u{2a6f}"), ("APE;", "\u{224a}"),
    ("APID;", "\u{224b}"), ("APOS;", "'"), ("APPROX;", "\u{2248}"), ("APPROXEQ;", "\u{224a}"),
    ("ARING;", "\u{c5}"), ("ASCR;", "\u{1d4b6}"), ("AST;", "*"), ("ASYMP;", "\u{2248}"),
    ("ASYMPEQ;", "\u{224d}"), ("ATILDE;", "\u{c3}"), ("AUML;", "\u{c4}"), ("AWCONINT;", "\u{2233}"),
    ("AWINT;", "\u{2a11}"), ("BACKCONG;", "\u{224c}"), ("BACKEPSILON;", "\u{3f6}"),
    ("BACKPRIME;", "\u{2035}"), ("BACKSIM;", "\u{223d}"), ("BACKSIMEQ;", "\u{22cd}"),
    ("BARVEE;", "\u{22bd}"), ("BARWED;", "\u{2305}"), ("BARWEDGE;", "\u{2305}"),
    ("BBRK;", "\u{23b5}"), ("BBRKTBRK;", "\u{23b6}"), ("BCONG;", "\u{224c}"), ("BCY;", "\u{411}"),
    ("BDQUO;", "\u{201e}"), ("BECAUS;", "\u{2235}"), ("BECAUSE;", "\u{2235}"),
    ("BEMPTYV;", "\u{29b0}"), ("BEPSI;", "\u{3f6}"), ("BERNOU;", "\u{212c}"), ("BETA;", "\u{392}"),
    ("BETH;", "\u{2136}"), ("BETWEEN;", "\u{226c}"), ("BFR;", "\u{1d51f}"), ("BIGCAP;", "\u{22c2}"),
    ("BIGCIRC;", "\u{25ef}"), ("BIGCUP;", "\u{22c3}"), ("BIGODOT;", "\u{2a00}"),
    ("BIGOPLUS;", "\u{2a01}"), ("BIGOTIMES;", "\u{2a02}"), ("BIGSQCUP;", "\u{2a06}"),
    ("BIGSTAR;", "\u{2605}"), ("BIGTRIANGLEDOWN;", "\u{25bd}"), ("BIGTRIANGLEUP;", "\u{25b3}"),
    ("BIGUPLUS;", "\u{2a04}"), ("BIGVEE;", "\u{22c1}"), ("BIGWEDGE;", "\u{22c0}"),
    ("BKAROW;", "\u{290d}"), ("BLACKLOZENGE;", "\u{29eb}"), ("BLACKSQUARE;", "\u{25aa}"),
    ("BLACKTRIANGLE;", "\u{25b4}"), ("BLACKTRIANGLEDOWN;", "\u{25be}"),
    ("BLACKTRIANGLELEFT;", "\u{25c2}"), ("BLACKTRIANGLERIGHT;", "\u{25b8}"), ("BLANK;", "\u{2423}"),
    ("BLK12;", "\u{2592}"), ("BLK14;", "\u{2591}"), ("BLK34;", "\u{2593}"), ("BLOCK;", "\u{2588}"),
    ("BNE;", "=\u{20e5}"), ("BNEQUIV;", "\u{2261}\u{20e5}"), ("BNOT;", "\u{2310}"),
    ("BOPF;", "\u{1d553}"), ("BOT;", "\u{22a5}"), ("BOTTOM;", "\u{22a5}"), ("BOWTIE;", "\u{22c8}"),
    ("BOXBOX;", "\u{29c9}"), ("BOXDL;", "\u{2510}"), ("BOXDR;", "\u{250c}"), ("BOXH;", "\u{2500}"),
    ("BOXHD;", "\u{252c}"), ("BOXHU;", "\u{2534}"), ("BOXMINUS;", "\u{229f}"),
    ("BOXPLUS;", "\u{229e}"), ("BOXTIMES;", "\u{22a0}"), ("BOXUL;", "\u{2518}"),
    ("BOXUR;", "\u{2514}"), ("BOXV;", "\u{2502}"), ("BOXVH;", "\u{253c}"), ("BOXVL;", "\u{2524}"),
    ("BOXVR;", "\u{251c}"), ("BPRIME;", "\u{2035}"), ("BREVE;", "\u{2d8}"), ("BRVBAR;", "\u{a6}"),
    ("BSCR;", "\u{1d4b7}"), ("BSEMI;", "\u{204f}"), ("BSIM;", "\u{223d}"), ("BSIME;", "\u{22cd}"),
    ("BSOL;", "\u{5c}"), ("BSOLB;", "\u{29c5}"), ("BSOLHSUB;", "\u{27c8}"), ("BULL;", "\u{2022}"),
    ("BULLET;", "\u{2022}"), ("BUMP;", "\u{224e}"), ("BUMPE;", "\u{224f}"), ("BUMPEQ;", "\u{224f}"),
    ("CACUTE;", "\u{106}"), ("CAP;", "\u{2229}"), ("CAPAND;", "\u{2a44}"),
    ("CAPBRCUP;", "\u{2a49}"), ("CAPCAP;", "\u{2a4b}"), ("CAPCUP;", "\u{2a47}"),
    ("CAPDOT;", "\u{2a40}"), ("CAPS;", "\u{2229}\u{fe00}"), ("CARET;", "\u{2041}"),
    ("CARON;", "\u{2c7}"), ("CCAPS;", "\u{2a4d}"), ("CCARON;", "\u{10c}"), ("CCEDIL;", "\u{c7}"),
    ("CCIRC;", "\u{108}"), ("CCUPS;", "\u{2a4c}"), ("CCUPSSM;", "\u{2a50}"), ("CDOT;", "\u{10a}"),
    ("CEDIL;", "\u{b8}"), ("CEMPTYV;", "\u{29b2}"), ("CENT;", "\u{a2}"), ("CENTERDOT;", "\u{b7}"),
    ("CFR;", "\u{1d520}"), ("CHCY;", "\u{427}"), ("CHECK;", "\u{2713}"), ("CHECKMARK;", "\u{2713}"),
    ("CHI;", "\u{3a7}"), ("CIR;", "\u{25cb}"), ("CIRC;", "\u{2c6}"), ("CIRCEQ;", "\u{2257}"),
    ("CIRCLEARROWLEFT;", "\u{21ba}"), ("CIRCLEARROWRIGHT;", "\u{21bb}"),
    ("CIRCLEDAST;", "\u{229b}"), ("CIRCLEDCIRC;", "\u{229a}"), ("CIRCLEDDASH;", "\u{229d}"),
    ("CIRE;", "\u{2257}"), ("CIRFNINT;", "\u{2a10}"), ("CIRMID;", "\u{2aef}"),
    ("CIRSCIR;", "\u{29c2}"), ("CLUBS;", "\u{2663}"), ("CLUBSUIT;", "\u{2663}"), ("COLON;", ":"),
    ("COLONE;", "\u{2254}"), ("COLONEQ;", "\u{2254}"), ("COMMA;", ","), ("COMMAT;", "@"),
    ("COMP;", "\u{2201}"), ("COMPFN;", "\u{2218}"), ("COMPLEMENT;", "\u{2201}"),
    ("COMPLEXES;", "\u{2102}"), ("CONG;", "\u{2245}"), ("CONGDOT;", "\u{2a6d}"),
    ("CONINT;", "\u{222e}"), ("COPF;", "\u{1d554}"), ("COPROD;", "\u{2210}"),
    ("CRARR;", "\u{21b5}"), ("CROSS;", "\u{2717}"), ("CSCR;", "\u{1d4b8}"), ("CSUB;", "\u{2acf}"),
    ("CSUBE;", "\u{2ad1}"), ("CSUP;", "\u{2ad0}"), ("CSUPE;", "\u{2ad2}"), ("CTDOT;", "\u{22ef}"),
    ("CUDARRL;", "\u{2938}"), ("CUDARRR;", "\u{2935}"), ("CUEPR;", "\u{22de}"),
    ("CUESC;", "\u{22df}"), ("CULARR;", "\u{21b6}"), ("CULARRP;", "\u{293d}"), ("CUP;", "\u{222a}"),
    ("CUPBRCAP;", "\u{2a48}"), ("CUPCAP;", "\u{2a46}"), ("CUPCUP;", "\u{2a4a}"),
    ("CUPDOT;", "\u{228d}"), ("CUPOR;", "\u{2a45}"), ("CUPS;", "\u{222a}\u{fe00}"),
    ("CURARR;", "\u{21b7}"), ("CURARRM;", "\u{293c}"), ("CURLYEQPREC;", "\u{22de}"),
    ("CURLYEQSUCC;", "\u{22df}"), ("CURLYVEE;", "\u{22ce}"), ("CURLYWEDGE;", "\u{22cf}"),
    ("CURREN;", "\u{a4}"), ("CURVEARROWLEFT;", "\u{21b6}"), ("CURVEARROWRIGHT;", "\u{21b7}"),
    ("CUVEE;", "\u{22ce}"), ("CUWED;", "\u{22cf}"), ("CWCONINT;", "\u{2232}"),
    ("CWINT;", "\u{2231}"), ("CYLCTY;", "\u{232d}"), ("DAGGER;", "\u{2020}"),
    ("DALETH;", "\u{2138}"), ("DARR;", "\u{2193}"), ("DASH;", "\u{2010}"), ("DASHV;", "\u{22a3}"),
    ("DBKAROW;", "\u{290f}"), ("DBLAC;", "\u{2dd}"), ("DCARON;", "\u{10e}"), ("DCY;", "\u{414}"),
    ("DDAGGER;", "\u{2021}"), ("DDARR;", "\u{21ca}"), ("DDOTSEQ;", "\u{2a77}"), ("DEG;", "\u{b0}"),
    ("DELTA;", "\u{394}"), ("DEMPTYV;", "\u{29b1}"), ("DFISHT;", "\u{297f}"), ("DFR;", "\u{1d521}"),
    ("DHARL;", "\u{21c3}"), ("DHARR;", "\u{21c2}"), ("DIAM;", "\u{22c4}"), ("DIAMOND;", "\u{22c4}"),
    ("DIAMONDSUIT;", "\u{2666}"), ("DIAMS;", "\u{2666}"), ("DIE;", "\u{a8}"),
    ("DIGAMMA;", "\u{3dc}"), ("DISIN;", "\u{22f2}"), ("DIV;", "\u{f7}"), ("DIVIDE;", "\u{f7}"),
    ("DIVIDEONTIMES;", "\u{22c7}"), ("DIVONX;", "\u{22c7}"), ("DJCY;", "\u{402}"),
    ("DLCORN;", "\u{231e}"), ("DLCROP;", "\u{230d}"), ("DOLLAR;", "$"), ("DOPF;", "\u{1d555}"),
    ("DOT;", "\u{2d9}"), ("DOTEQ;", "\u{2250}"), ("DOTEQDOT;", "\u{2251}"),
    ("DOTMINUS;", "\u{2238}"), ("DOTPLUS;", "\u{2214}"), ("DOTSQUARE;", "\u{22a1}"),
    ("DOUBLEBARWEDGE;", "\u{2306}"), ("DOWNARROW;", "\u{2193}"), ("DOWNDOWNARROWS;", "\u{21ca}"),
    ("DOWNHARPOONLEFT;", "\u{21c3}"), ("DOWNHARPOONRIGHT;", "\u{21c2}"), ("DRBKAROW;", "\u{2910}"),
    ("DRCORN;", "\u{231f}"), ("DRCROP;", "\u{230c}"), ("DSCR;", "\u{1d4b9}"), ("DSCY;", "\u{405}"),
    ("DSOL;", "\u{29f6}"), ("DSTROK;", "\u{110}"), ("DTDOT;", "\u{22f1}"), ("DTRI;", "\u{25bf}"),
    ("DTRIF;", "\u{25be}"), ("DUARR;", "\u{21f5}"), ("DUHAR;", "\u{296f}"),
    ("DWANGLE;", "\u{29a6}"), ("DZCY;", "\u{40f}"), ("DZIGRARR;", "\u{27ff}"),
    ("EACUTE;", "\u{c9}"), ("EASTER;", "\u{2a6e}"), ("ECARON;", "\u{11a}"), ("ECIR;", "\u{2256}"),
    ("ECIRC;", "\u{ca}"), ("ECOLON;", "\u{2255}"), ("ECY;", "\u{42d}"), ("EDOT;", "\u{116}"),
    ("EE;", "\u{2147}"), ("EFR;", "\u{1d522}"), ("EG;", "\u{2a9a}"), ("EGRAVE;", "\u{c8}"),
    ("EGS;", "\u{2a96}"), ("EGSDOT;", "\u{2a98}"), ("EL;", "\u{2a99}"), ("ELINTERS;", "\u{23e7}"),
    ("ELL;", "\u{2113}"), ("ELS;", "\u{2a95}"), ("ELSDOT;", "\u{2a97}"), ("EMACR;", "\u{112}"),
    ("EMPTY;", "\u{2205}"), ("EMPTYSET;", "\u{2205}"), ("EMPTYV;", "\u{2205}"),
    ("EMSP13;", "\u{2004}"), ("EMSP14;", "\u{2005}"), ("EMSP;", "\u{2003}"), ("ENSP;", "\u{2002}"),
    ("EOGON;", "\u{118}"), ("EOPF;", "\u{1d556}"), ("EPAR;", "\u{22d5}"), ("EPARSL;", "\u{29e3}"),
    ("EPLUS;", "\u{2a71}"), ("EPSI;", "\u{395}"), ("EPSILON;", "\u{395}"), ("EPSIV;", "\u{395}"),
    ("EQCIRC;", "\u{2256}"), ("EQCOLON;", "\u{2255}"), ("EQSIM;", "\u{2242}"),
    ("EQSLANTGTR;", "\u{2a96}"), ("EQSLANTLESS;", "\u{2a95}"), ("EQUALS;", "="),
    ("EQUEST;", "\u{225f}"), ("EQUIV;", "\u{2261}"), ("EQVPARSL;", "\u{29e5}"),
    ("ERARR;", "\u{2971}"), ("ESCR;", "\u{212f}"), ("ESDOT;", "\u{2250}"), ("ESIM;", "\u{2242}"),
    ("ETA;", "\u{397}"), ("EUML;", "\u{cb}"), ("EURO;", "\u{20ac}"), ("EXCL;", "!"),
    ("EXIST;", "\u{2203}"), ("EXPECTATION;", "\u{2130}"), ("EXPONENTIALE;", "\u{2147}"),
    ("FALLINGDOTSEQ;", "\u{2252}"), ("FCY;", "\u{424}"), ("FEMALE;", "\u{2640}"),
    ("FFILIG;", "FFI"), ("FFLIG;", "FF"), ("FFLLIG;", "FFL"), ("FFR;", "\u{1d523}"),
    ("FILIG;", "FI"), ("FJLIG;", "FJ"), ("FLAT;", "\u{266d}"), ("FLLIG;", "FL"),
    ("FLTNS;", "\u{25b1}"), ("FNOF;", "\u{191}"), ("FOPF;", "\u{1d557}"), ("FORALL;", "\u{2200}"),
    ("FORK;", "\u{22d4}"), ("FORKV;", "\u{2ad9}"), ("FPARTINT;", "\u{2a0d}"), ("FRAC12;", "\u{bd}"),
    ("FRAC13;", "\u{2153}"), ("FRAC14;", "\u{bc}"), ("FRAC15;", "\u{2155}"),
    ("FRAC16;", "\u{2159}"), ("FRAC18;", "\u{215b}"), ("FRAC23;", "\u{2154}"),
    ("FRAC25;", "\u{2156}"), ("FRAC34;", "\u{be}"), ("FRAC35;", "\u{2157}"),
    ("FRAC38;", "\u{215c}"), ("FRAC45;", "\u{2158}"), ("FRAC56;", "\u{215a}"),
    ("FRAC58;", "\u{215d}"), ("FRAC78;", "\u{215e}"), ("FRASL;", "\u{2044}"),
    ("FROWN;", "\u{2322}"), ("FSCR;", "\u{1d4bb}"), ("GACUTE;", "\u{1f4}"), ("GAMMA;", "\u{393}"),
    ("GAMMAD;", "\u{3dc}"), ("GAP;", "\u{2a86}"), ("GBREVE;", "\u{11e}"), ("GCIRC;", "\u{11c}"),
    ("GCY;", "\u{413}"), ("GDOT;", "\u{120}"), ("GE;", "\u{2265}"), ("GEL;", "\u{22db}"),
    ("GEQ;", "\u{2265}"), ("GEQQ;", "\u{2267}"), ("GEQSLANT;", "\u{2a7e}"), ("GES;", "\u{2a7e}"),
    ("GESCC;", "\u{2aa9}"), ("GESDOT;", "\u{2a80}"), ("GESDOTO;", "\u{2a82}"),
    ("GESDOTOL;", "\u{2a84}"), ("GESL;", "\u{22db}\u{fe00}"), ("GESLES;", "\u{2a94}"),
    ("GFR;", "\u{1d524}"), ("GG;", "\u{226b}"), ("GGG;", "\u{22d9}"), ("GIMEL;", "\u{2137}"),
    ("GJCY;", "\u{403}"), ("GL;", "\u{2277}"), ("GLA;", "\u{2aa5}"), ("GLJ;", "\u{2aa4}"),
    ("GNAP;", "\u{2a8a}"), ("GNAPPROX;", "\u{2a8a}"), ("GNE;", "\u{2a88}"), ("GNEQ;", "\u{2a88}"),
    ("GNEQQ;", "\u{2269}"), ("GNSIM;", "\u{22e7}"), ("GOPF;", "\u{1d558}"), ("GRAVE;", "`"),
    ("GSCR;", "\u{210a}"), ("GSIM;", "\u{2273}"), ("GSIME;", "\u{2a8e}"), ("GSIML;", "\u{2a90}"),
    ("GVERTNEQQ;", "\u{2269}\u{fe00}"), ("HAIRSP;", "\u{200a}"), ("HALF;", "\u{bd}"),
    ("HAMILT;", "\u{210b}"), ("HARDCY;", "\u{42a}"), ("HARR;", "\u{2194}"),
    ("HARRCIR;", "\u{2948}"), ("HARRW;", "\u{21ad}"), ("HBAR;", "\u{210f}"), ("HCIRC;", "\u{124}"),
    ("HEARTS;", "\u{2665}"), ("HEARTSUIT;", "\u{2665}"), ("HELLIP;", "\u{2026}"),
    ("HERCON;", "\u{22b9}"), ("HFR;", "\u{1d525}"), ("HKSEAROW;", "\u{2925}"),
    ("HKSWAROW;", "\u{2926}"), ("HOARR;", "\u{21ff}"), ("HOMTHT;", "\u{223b}"),
    ("HOOKLEFTARROW;", "\u{21a9}"), ("HOOKRIGHTARROW;", "\u{21aa}"), ("HOPF;", "\u{1d559}"),
    ("HORBAR;", "\u{2015}"), ("HSCR;", "\u{1d4bd}"), ("HSLASH;", "\u{210f}"),
    ("HSTROK;", "\u{126}"), ("HYBULL;", "\u{2043}"), ("HYPHEN;", "\u{2010}"), ("IACUTE;", "\u{cd}"),
    ("IC;", "\u{2063}"), ("ICIRC;", "\u{ce}"), ("ICY;", "\u{418}"), ("IECY;", "\u{415}"),
    ("IEXCL;", "\u{a1}"), ("IFF;", "\u{21d4}"), ("IFR;", "\u{1d526}"), ("IGRAVE;", "\u{cc}"),
    ("II;", "\u{2148}"), ("IIIINT;", "\u{2a0c}"), ("IIINT;", "\u{222d}"), ("IINFIN;", "\u{29dc}"),
    ("IIOTA;", "\u{2129}"), ("IJLIG;", "\u{132}"), ("IMACR;", "\u{12a}"), ("IMAGE;", "\u{2111}"),
    ("IMAGLINE;", "\u{2110}"), ("IMAGPART;", "\u{2111}"), ("IMATH;", "I"), ("IMOF;", "\u{22b7}"),
    ("IMPED;", "\u{1b5}"), ("IN;", "\u{2208}"), ("INCARE;", "\u{2105}"), ("INFIN;", "\u{221e}"),
    ("INFINTIE;", "\u{29dd}"), ("INODOT;", "I"), ("INT;", "\u{222b}"), ("INTCAL;", "\u{22ba}"),
    ("INTEGERS;", "\u{2124}"), ("INTERCAL;", "\u{22ba}"), ("INTLARHK;", "\u{2a17}"),
    ("INTPROD;", "\u{2a3c}"), ("IOCY;", "\u{401}"), ("IOGON;", "\u{12e}"), ("IOPF;", "\u{1d55a}"),
    ("IOTA;", "\u{399}"), ("IPROD;", "\u{2a3c}"), ("IQUEST;", "\u{bf}"), ("ISCR;", "\u{1d4be}"),
    ("ISIN;", "\u{2208}"), ("ISINDOT;", "\u{22f5}"), ("ISINS;", "\u{22f4}"),
    ("ISINSV;", "\u{22f3}"), ("ISINV;", "\u{2208}"), ("IT;", "\u{2062}"), ("ITILDE;", "\u{128}"),
    ("IUKCY;", "\u{406}"), ("IUML;", "\u{cf}"), ("JCIRC;", "\u{134}"), ("JCY;", "\u{419}"),
    ("JFR;", "\u{1d527}"), ("JMATH;", "\u{237}"), ("JOPF;", "\u{1d55b}"), ("JSCR;", "\u{1d4bf}"),
    ("JSERCY;", "\u{408}"), ("JUKCY;", "\u{404}"), ("KAPPA;", "\u{39a}"), ("KAPPAV;", "\u{39a}"),
    ("KCEDIL;", "\u{136}"), ("KCY;", "\u{41a}"), ("KFR;", "\u{1d528}"), ("KGREEN;", "\u{138}"),
    ("KHCY;", "\u{425}"), ("KJCY;", "\u{40c}"), ("KOPF;", "\u{1d55c}"), ("KSCR;", "\u{1d4c0}"),
    ("LACUTE;", "\u{139}"), ("LAEMPTYV;", "\u{29b4}"), ("LAGRAN;", "\u{2112}"),
    ("LAMBDA;", "\u{39b}"), ("LANG;", "\u{27e8}"), ("LANGD;", "\u{2991}"), ("LANGLE;", "\u{27e8}"),
    ("LAP;", "\u{2a85}"), ("LAQUO;", "\u{ab}"), ("LARR;", "\u{2190}"), ("LARRB;", "\u{21e4}"),
    ("LARRBFS;", "\u{291f}"), ("LARRFS;", "\u{291d}"), ("LARRHK;", "\u{21a9}"),
    ("LARRLP;", "\u{21ab}"), ("LARRPL;", "\u{2939}"), ("LARRSIM;", "\u{2973}"),
    ("LARRTL;", "\u{21a2}"), ("LAT;", "\u{2aab}"), ("LATAIL;", "\u{2919}"), ("LATE;", "\u{2aad}"),
    ("LATES;", "\u{2aad}\u{fe00}"), ("LBARR;", "\u{290c}"), ("LBBRK;", "\u{2772}"),
    ("LBRACE;", "{"), ("LBRACK;", "["), ("LBRKE;", "\u{298b}"), ("LBRKSLD;", "\u{298f}"),
    ("LBRKSLU;", "\u{298d}"), ("LCARON;", "\u{13d}"), ("LCEDIL;", "\u{13b}"),
    ("LCEIL;", "\u{2308}"), ("LCUB;", "{"), ("LCY;", "\u{41b}"), ("LDCA;", "\u{2936}"),
    ("LDQUO;", "\u{201c}"), ("LDQUOR;", "\u{201e}"), ("LDRDHAR;", "\u{2967}"),
    ("LDRUSHAR;", "\u{294b}"), ("LDSH;", "\u{21b2}"), ("LE;", "\u{2264}"),
    ("LEFTARROW;", "\u{2190}"), ("LEFTARROWTAIL;", "\u{21a2}"), ("LEFTHARPOONDOWN;", "\u{21bd}"),
    ("LEFTHARPOONUP;", "\u{21bc}"), ("LEFTLEFTARROWS;", "\u{21c7}"),
    ("LEFTRIGHTARROW;", "\u{2194}"), ("LEFTRIGHTARROWS;", "\u{21c6}"),
    ("LEFTRIGHTHARPOONS;", "\u{21cb}"), ("LEFTRIGHTSQUIGARROW;", "\u{21ad}"),
    ("LEFTTHREETIMES;", "\u{22cb}"), ("LEG;", "\u{22da}"), ("LEQ;", "\u{2264}"),
    ("LEQQ;", "\u{2266}"), ("LEQSLANT;", "\u{2a7d}"), ("LES;", "\u{2a7d}"), ("LESCC;", "\u{2aa8}"),
    ("LESDOT;", "\u{2a7f}"), ("LESDOTO;", "\u{2a81}"), ("LESDOTOR;", "\u{2a83}"),
    ("LESG;", "\u{22da}\u{fe00}"), ("LESGES;", "\u{2a93}"), ("LESSAPPROX;", "\u{2a85}"),
    ("LESSDOT;", "\u{22d6}"), ("LESSEQGTR;", "\u{22da}"), ("LESSEQQGTR;", "\u{2a8b}"),
    ("LESSGTR;", "\u{2276}"), ("LESSSIM;", "\u{2272}"), ("LFISHT;", "\u{297c}"),
    ("LFLOOR;", "\u{230a}"), ("LFR;", "\u{1d529}"), ("LG;", "\u{2276}"), ("LHARD;", "\u{21bd}"),
    ("LHARU;", "\u{21bc}"), ("LHARUL;", "\u{296a}"), ("LHBLK;", "\u{2584}"), ("LJCY;", "\u{409}"),
    ("LL;", "\u{226a}"), ("LLARR;", "\u{21c7}"), ("LLCORNER;", "\u{231e}"), ("LLHARD;", "\u{296b}"),
    ("LLTRI;", "\u{25fa}"), ("LMIDOT;", "\u{13f}"), ("LMOUST;", "\u{23b0}"),
    ("LMOUSTACHE;", "\u{23b0}"), ("LNAP;", "\u{2a89}"), ("LNAPPROX;", "\u{2a89}"),
    ("LNE;", "\u{2a87}"), ("LNEQ;", "\u{2a87}"), ("LNEQQ;", "\u{2268}"), ("LNSIM;", "\u{22e6}"),
    ("LOANG;", "\u{27ec}"), ("LOARR;", "\u{21fd}"), ("LOBRK;", "\u{27e6}"),
    ("LONGLEFTARROW;", "\u{27f5}"), ("LONGLEFTRIGHTARROW;", "\u{27f7}"),
    ("LONGMAPSTO;", "\u{27fc}"), ("LONGRIGHTARROW;", "\u{27f6}"), ("LOOPARROWLEFT;", "\u{21ab}"),
    ("LOOPARROWRIGHT;", "\u{21ac}"), ("LOPAR;", "\u{2985}"), ("LOPF;", "\u{1d55d}"),
    ("LOPLUS;", "\u{2a2d}"), ("LOTIMES;", "\u{2a34}"), ("LOWAST;", "\u{2217}"), ("LOWBAR;", "_"),
    ("LOZ;", "\u{25ca}"), ("LOZENGE;", "\u{25ca}"), ("LOZF;", "\u{29eb}"), ("LPAR;", "("),
    ("LPARLT;", "\u{2993}"), ("LRARR;", "\u{21c6}"), ("LRCORNER;", "\u{231f}"),
    ("LRHAR;", "\u{21cb}"), ("LRHARD;", "\u{296d}"), ("LRM;", "\u{200e}"), ("LRTRI;", "\u{22bf}"),
    ("LSAQUO;", "\u{2039}"), ("LSCR;", "\u{1d4c1}"), ("LSH;", "\u{21b0}"), ("LSIM;", "\u{2272}"),
    ("LSIME;", "\u{2a8d}"), ("LSIMG;", "\u{2a8f}"), ("LSQB;", "["), ("LSQUO;", "\u{2018}"),
    ("LSQUOR;", "\u{201a}"), ("LSTROK;", "\u{141}"), ("LURDSHAR;", "\u{294a}"),
    ("LURUHAR;", "\u{2966}"), ("LVERTNEQQ;", "\u{2268}\u{fe00}"), ("MACR;", "\u{af}"),
    ("MALE;", "\u{2642}"), ("MALT;", "\u{2720}"), ("MALTESE;", "\u{2720}"), ("MAP;", "\u{21a6}"),
    ("MAPSTO;", "\u{21a6}"), ("MAPSTODOWN;", "\u{21a7}"), ("MAPSTOLEFT;", "\u{21a4}"),
    ("MAPSTOUP;", "\u{21a5}"), ("MARKER;", "\u{25ae}"), ("MCOMMA;", "\u{2a29}"),
    ("MCY;", "\u{41c}"), ("MDASH;", "\u{2014}"), ("MEASUREDANGLE;", "\u{2221}"),
    ("MFR;", "\u{1d52a}"), ("MHO;", "\u{2127}"), ("MICRO;", "\u{39c}"), ("MID;", "\u{2223}"),
    ("MIDAST;", "*"), ("MIDCIR;", "\u{2af0}"), ("MIDDOT;", "\u{b7}"), ("MINUS;", "\u{2212}"),
    ("MINUSB;", "\u{229f}"), ("MINUSD;", "\u{2238}"), ("MINUSDU;", "\u{2a2a}"),
    ("MLCP;", "\u{2adb}"), ("MLDR;", "\u{2026}"), ("MNPLUS;", "\u{2213}"), ("MODELS;", "\u{22a7}"),
    ("MOPF;", "\u{1d55e}"), ("MP;", "\u{2213}"), ("MSCR;", "\u{1d4c2}"), ("MSTPOS;", "\u{223e}"),
    ("MU;", "\u{39c}"), ("MULTIMAP;", "\u{22b8}"), ("MUMAP;", "\u{22b8}"), ("NABLA;", "\u{2207}"),
    ("NACUTE;", "\u{143}"), ("NANG;", "\u{2220}\u{20d2}"), ("NAP;", "\u{2249}"),
    ("NAPID;", "\u{224b}\u{338}"), ("NAPOS;", "\u{2bc}N"), ("NAPPROX;", "\u{2249}"),
    ("NATUR;", "\u{266e}"), ("NATURAL;", "\u{266e}"), ("NATURALS;", "\u{2115}"),
    ("NBSP;", "\u{a0}"), ("NBUMP;", "\u{224e}\u{338}"), ("NBUMPE;", "\u{224f}\u{338}"),
    ("NCAP;", "\u{2a43}"), ("NCARON;", "\u{147}"), ("NCEDIL;", "\u{145}"), ("NCONG;", "\u{2247}"),
    ("NCONGDOT;", "\u{2a6d}\u{338}"), ("NCUP;", "\u{2a42}"), ("NCY;", "\u{41d}"),
    ("NDASH;", "\u{2013}"), ("NE;", "\u{2260}"), ("NEARHK;", "\u{2924}"), ("NEARR;", "\u{2197}"),
    ("NEARROW;", "\u{2197}"), ("NEDOT;", "\u{2250}\u{338}"), ("NEQUIV;", "\u{2262}"),
    ("NESEAR;", "\u{2928}"), ("NESIM;", "\u{2242}\u{338}"), ("NEXIST;", "\u{2204}"),
    ("NEXISTS;", "\u{2204}"), ("NFR;", "\u{1d52b}"), ("NGE;", "\u{2271}"), ("NGEQ;", "\u{2271}"),
    ("NGEQQ;", "\u{2267}\u{338}"), ("NGEQSLANT;", "\u{2a7e}\u{338}"), ("NGES;", "\u{2a7e}\u{338}"),
    ("NGSIM;", "\u{2275}"), ("NGT;", "\u{226f}"), ("NGTR;", "\u{226f}"), ("NHARR;", "\u{21ae}"),
    ("NHPAR;", "\u{2af2}"), ("NI;", "\u{220b}"), ("NIS;", "\u{22fc}"), ("NISD;", "\u{22fa}"),
    ("NIV;", "\u{220b}"), ("NJCY;", "\u{40a}"), ("NLARR;", "\u{219a}"), ("NLDR;", "\u{2025}"),
    ("NLE;", "\u{2270}"), ("NLEFTARROW;", "\u{219a}"), ("NLEFTRIGHTARROW;", "\u{21ae}"),
    ("NLEQ;", "\u{2270}"), ("NLEQQ;", "\u{2266}\u{338}"), ("NLEQSLANT;", "\u{2a7d}\u{338}"),
    ("NLES;", "\u{2a7d}\u{338}"), ("NLESS;", "\u{226e}"), ("NLSIM;", "\u{2274}"),
    ("NLT;", "\u{226e}"), ("NLTRI;", "\u{22ea}"), ("NLTRIE;", "\u{22ec}"), ("NMID;", "\u{2224}"),
    ("NOPF;", "\u{1d55f}"), ("NOT;", "\u{ac}"), ("NOTIN;", "\u{2209}"),
    ("NOTINDOT;", "\u{22f5}\u{338}"), ("NOTINVA;", "\u{2209}"), ("NOTINVB;", "\u{22f7}"),
    ("NOTINVC;", "\u{22f6}"), ("NOTNI;", "\u{220c}"), ("NOTNIVA;", "\u{220c}"),
    ("NOTNIVB;", "\u{22fe}"), ("NOTNIVC;", "\u{22fd}"), ("NPAR;", "\u{2226}"),
    ("NPARALLEL;", "\u{2226}"), ("NPARSL;", "\u{2afd}\u{20e5}"), ("NPART;", "\u{2202}\u{338}"),
    ("NPOLINT;", "\u{2a14}"), ("NPR;", "\u{2280}"), ("NPRCUE;", "\u{22e0}"),
    ("NPRE;", "\u{2aaf}\u{338}"), ("NPREC;", "\u{2280}"), ("NPRECEQ;", "\u{2aaf}\u{338}"),
    ("NRARR;", "\u{219b}"), ("NRARRC;", "\u{2933}\u{338}"), ("NRARRW;", "\u{219d}\u{338}"),
    ("NRIGHTARROW;", "\u{219b}"), ("NRTRI;", "\u{22eb}"), ("NRTRIE;", "\u{22ed}"),
    ("NSC;", "\u{2281}"), ("NSCCUE;", "\u{22e1}"), ("NSCE;", "\u{2ab0}\u{338}"),
    ("NSCR;", "\u{1d4c3}"), ("NSHORTMID;", "\u{2224}"), ("NSHORTPARALLEL;", "\u{2226}"),
    ("NSIM;", "\u{2241}"), ("NSIME;", "\u{2244}"), ("NSIMEQ;", "\u{2244}"), ("NSMID;", "\u{2224}"),
    ("NSPAR;", "\u{2226}"), ("NSQSUBE;", "\u{22e2}"), ("NSQSUPE;", "\u{22e3}"),
    ("NSUB;", "\u{2284}"), ("NSUBE;", "\u{2288}"), ("NSUBSET;", "\u{2282}\u{20d2}"),
    ("NSUBSETEQ;", "\u{2288}"), ("NSUBSETEQQ;", "\u{2ac5}\u{338}"), ("NSUCC;", "\u{2281}"),
    ("NSUCCEQ;", "\u{2ab0}\u{338}"), ("NSUP;", "\u{2285}"), ("NSUPE;", "\u{2289}"),
    ("NSUPSET;", "\u{2283}\u{20d2}"), ("NSUPSETEQ;", "\u{2289}"),
    ("NSUPSETEQQ;", "\u{2ac6}\u{338}"), ("NTGL;", "\u{2279}"), ("NTILDE;", "\u{d1}"),
    ("NTLG;", "\u{2278}"), ("NTRIANGLELEFT;", "\u{22ea}"), ("NTRIANGLELEFTEQ;", "\u{22ec}"),
    ("NTRIANGLERIGHT;", "\u{22eb}"), ("NTRIANGLERIGHTEQ;", "\u{22ed}"), ("NU;", "\u{39d}"),
    ("NUM;", "#"), ("NUMERO;", "\u{2116}"), ("NUMSP;", "\u{2007}"), ("NVAP;", "\u{224d}\u{20d2}"),
    ("NVDASH;", "\u{22ac}"), ("NVGE;", "\u{2265}\u{20d2}"), ("NVGT;", ">\u{20d2}"),
    ("NVINFIN;", "\u{29de}"), ("NVLE;", "\u{2264}\u{20d2}"), ("NVLT;", "<\u{20d2}"),
    ("NVLTRIE;", "\u{22b4}\u{20d2}"), ("NVRTRIE;", "\u{22b5}\u{20d2}"),
    ("NVSIM;", "\u{223c}\u{20d2}"), ("NWARHK;", "\u{2923}"), ("NWARR;", "\u{2196}"),
    ("NWARROW;", "\u{2196}"), ("NWNEAR;", "\u{2927}"), ("OACUTE;", "\u{d3}"), ("OAST;", "\u{229b}"),
    ("OCIR;", "\u{229a}"), ("OCIRC;", "\u{d4}"), ("OCY;", "\u{41e}"), ("ODASH;", "\u{229d}"),
    ("ODBLAC;", "\u{150}"), ("ODIV;", "\u{2a38}"), ("ODOT;", "\u{2299}"), ("ODSOLD;", "\u{29bc}"),
    ("OELIG;", "\u{152}"), ("OFCIR;", "\u{29bf}"), ("OFR;", "\u{1d52c}"), ("OGON;", "\u{2db}"),
    ("OGRAVE;", "\u{d2}"), ("OGT;", "\u{29c1}"), ("OHBAR;", "\u{29b5}"), ("OHM;", "\u{3a9}"),
    ("OINT;", "\u{222e}"), ("OLARR;", "\u{21ba}"), ("OLCIR;", "\u{29be}"), ("OLCROSS;", "\u{29bb}"),
    ("OLINE;", "\u{203e}"), ("OLT;", "\u{29c0}"), ("OMACR;", "\u{14c}"), ("OMEGA;", "\u{3a9}"),
    ("OMICRON;", "\u{39f}"), ("OMID;", "\u{29b6}"), ("OMINUS;", "\u{2296}"), ("OOPF;", "\u{1d560}"),
    ("OPAR;", "\u{29b7}"), ("OPERP;", "\u{29b9}"), ("OPLUS;", "\u{2295}"), ("OR;", "\u{2228}"),
    ("ORARR;", "\u{21bb}"), ("ORD;", "\u{2a5d}"), ("ORDER;", "\u{2134}"), ("ORDEROF;", "\u{2134}"),
    ("ORDF;", "\u{aa}"), ("ORDM;", "\u{ba}"), ("ORIGOF;", "\u{22b6}"), ("OROR;", "\u{2a56}"),
    ("ORSLOPE;", "\u{2a57}"), ("ORV;", "\u{2a5b}"), ("OSCR;", "\u{2134}"), ("OSLASH;", "\u{d8}"),
    ("OSOL;", "\u{2298}"), ("OTILDE;", "\u{d5}"), ("OTIMES;", "\u{2297}"),
    ("OTIMESAS;", "\u{2a36}"), ("OUML;", "\u{d6}"), ("OVBAR;", "\u{233d}"), ("PAR;", "\u{2225}"),
    ("PARA;", "\u{b6}"), ("PARALLEL;", "\u{2225}"), ("PARSIM;", "\u{2af3}"), ("PARSL;", "\u{2afd}"),
    ("PART;", "\u{2202}"), ("PCY;", "\u{41f}"), ("PERCNT;", "%"), ("PERIOD;", "."),
    ("PERMIL;", "\u{2030}"), ("PERP;", "\u{22a5}"), ("PERTENK;", "\u{2031}"), ("PFR;", "\u{1d52d}"),
    ("PHI;", "\u{3a6}"), ("PHIV;", "\u{3a6}"), ("PHMMAT;", "\u{2133}"), ("PHONE;", "\u{260e}"),
    ("PI;", "\u{3a0}"), ("PITCHFORK;", "\u{22d4}"), ("PIV;", "\u{3a0}"), ("PLANCK;", "\u{210f}"),
    ("PLANCKH;", "\u{210e}"), ("PLANKV;", "\u{210f}"), ("PLUS;", "+"), ("PLUSACIR;", "\u{2a23}"),
    ("PLUSB;", "\u{229e}"), ("PLUSCIR;", "\u{2a22}"), ("PLUSDO;", "\u{2214}"),
    ("PLUSDU;", "\u{2a25}"), ("PLUSE;", "\u{2a72}"), ("PLUSMN;", "\u{b1}"),
    ("PLUSSIM;", "\u{2a26}"), ("PLUSTWO;", "\u{2a27}"), ("PM;", "\u{b1}"),
    ("POINTINT;", "\u{2a15}"), ("POPF;", "\u{1d561}"), ("POUND;", "\u{a3}"), ("PR;", "\u{227a}"),
    ("PRAP;", "\u{2ab7}"), ("PRCUE;", "\u{227c}"), ("PRE;", "\u{2aaf}"), ("PREC;", "\u{227a}"),
    ("PRECAPPROX;", "\u{2ab7}"), ("PRECCURLYEQ;", "\u{227c}"), ("PRECEQ;", "\u{2aaf}"),
    ("PRECNAPPROX;", "\u{2ab9}"), ("PRECNEQQ;", "\u{2ab5}"), ("PRECNSIM;", "\u{22e8}"),
    ("PRECSIM;", "\u{227e}"), ("PRIME;", "\u{2032}"), ("PRIMES;", "\u{2119}"),
    ("PRNAP;", "\u{2ab9}"), ("PRNSIM;", "\u{22e8}"), ("PROD;", "\u{220f}"),
    ("PROFALAR;", "\u{232e}"), ("PROFLINE;", "\u{2312}"), ("PROFSURF;", "\u{2313}"),
    ("PROP;", "\u{221d}"), ("PROPTO;", "\u{221d}"), ("PRSIM;", "\u{227e}"), ("PRUREL;", "\u{22b0}"),
    ("PSCR;", "\u{1d4c5}"), ("PSI;", "\u{3a8}"), ("PUNCSP;", "\u{2008}"), ("QFR;", "\u{1d52e}"),
    ("QINT;", "\u{2a0c}"), ("QOPF;", "\u{1d562}"), ("QPRIME;", "\u{2057}"), ("QSCR;", "\u{1d4c6}"),
    ("QUATERNIONS;", "\u{210d}"), ("QUATINT;", "\u{2a16}"), ("QUEST;", "?"),
    ("QUESTEQ;", "\u{225f}"), ("RACE;", "\u{223d}\u{331}"), ("RACUTE;", "\u{154}"),
    ("RADIC;", "\u{221a}"), ("RAEMPTYV;", "\u{29b3}"), ("RANG;", "\u{27e9}"),
    ("RANGD;", "\u{2992}"), ("RANGE;", "\u{29a5}"), ("RANGLE;", "\u{27e9}"), ("RAQUO;", "\u{bb}"),
    ("RARR;", "\u{2192}"), ("RARRAP;", "\u{2975}"), ("RARRB;", "\u{21e5}"),
    ("RARRBFS;", "\u{2920}"), ("RARRC;", "\u{2933}"), ("RARRFS;", "\u{291e}"),
    ("RARRHK;", "\u{21aa}"), ("RARRLP;", "\u{21ac}"), ("RARRPL;", "\u{2945}"),
    ("RARRSIM;", "\u{2974}"), ("RARRTL;", "\u{21a3}"), ("RARRW;", "\u{219d}"),
    ("RATAIL;", "\u{291a}"), ("RATIO;", "\u{2236}"), ("RATIONALS;", "\u{211a}"),
    ("RBARR;", "\u{290d}"), ("RBBRK;", "\u{2773}"), ("RBRACE;", "}"), ("RBRACK;", "]"),
    ("RBRKE;", "\u{298c}"), ("RBRKSLD;", "\u{298e}"), ("RBRKSLU;", "\u{2990}"),
    ("RCARON;", "\u{158}"), ("RCEDIL;", "\u{156}"), ("RCEIL;", "\u{2309}"), ("RCUB;", "}"),
    ("RCY;", "\u{420}"), ("RDCA;", "\u{2937}"), ("RDLDHAR;", "\u{2969}"), ("RDQUO;", "\u{201d}"),
    ("RDQUOR;", "\u{201d}"), ("RDSH;", "\u{21b3}"), ("REAL;", "\u{211c}"), ("REALINE;", "\u{211b}"),
    ("REALPART;", "\u{211c}"), ("REALS;", "\u{211d}"), ("RECT;", "\u{25ad}"),
    ("RFISHT;", "\u{297d}"), ("RFLOOR;", "\u{230b}"), ("RFR;", "\u{1d52f}"), ("RHARD;", "\u{21c1}"),
    ("RHARU;", "\u{21c0}"), ("RHARUL;", "\u{296c}"), ("RHO;", "\u{3a1}"), ("RHOV;", "\u{3a1}"),
    ("RIGHTARROW;", "\u{2192}"), ("RIGHTARROWTAIL;", "\u{21a3}"), ("RIGHTHARPOONDOWN;", "\u{21c1}"),
    ("RIGHTHARPOONUP;", "\u{21c0}"), ("RIGHTLEFTARROWS;", "\u{21c4}"),
    ("RIGHTLEFTHARPOONS;", "\u{21cc}"), ("RIGHTRIGHTARROWS;", "\u{21c9}"),
    ("RIGHTSQUIGARROW;", "\u{219d}"), ("RIGHTTHREETIMES;", "\u{22cc}"), ("RING;", "\u{2da}"),
    ("RISINGDOTSEQ;", "\u{2253}"), ("RLARR;", "\u{21c4}"), ("RLHAR;", "\u{21cc}"),
    ("RLM;", "\u{200f}"), ("RMOUST;", "\u{23b1}"), ("RMOUSTACHE;", "\u{23b1}"),
    ("RNMID;", "\u{2aee}"), ("ROANG;", "\u{27ed}"), ("ROARR;", "\u{21fe}"), ("ROBRK;", "\u{27e7}"),
    ("ROPAR;", "\u{2986}"), ("ROPF;", "\u{1d563}"), ("ROPLUS;", "\u{2a2e}"),
    ("ROTIMES;", "\u{2a35}"), ("RPAR;", ")"), ("RPARGT;", "\u{2994}"), ("RPPOLINT;", "\u{2a12}"),
    ("RRARR;", "\u{21c9}"), ("RSAQUO;", "\u{203a}"), ("RSCR;", "\u{1d4c7}"), ("RSH;", "\u{21b1}"),
    ("RSQB;", "]"), ("RSQUO;", "\u{2019}"), ("RSQUOR;", "\u{2019}"), ("RTHREE;", "\u{22cc}"),
    ("RTIMES;", "\u{22ca}"), ("RTRI;", "\u{25b9}"), ("RTRIE;", "\u{22b5}"), ("RTRIF;", "\u{25b8}"),
    ("RTRILTRI;", "\u{29ce}"), ("RULUHAR;", "\u{2968}"), ("RX;", "\u{211e}"),
    ("SACUTE;", "\u{15a}"), ("SBQUO;", "\u{201a}"), ("SC;", "\u{227b}"), ("SCAP;", "\u{2ab8}"),
    ("SCARON;", "\u{160}"), ("SCCUE;", "\u{227d}"), ("SCE;", "\u{2ab0}"), ("SCEDIL;", "\u{15e}"),
    ("SCIRC;", "\u{15c}"), ("SCNAP;", "\u{2aba}"), ("SCNSIM;", "\u{22e9}"),
    ("SCPOLINT;", "\u{2a13}"), ("SCSIM;", "\u{227f}"), ("SCY;", "\u{421}"), ("SDOT;", "\u{22c5}"),
    ("SDOTB;", "\u{22a1}"), ("SDOTE;", "\u{2a66}"), ("SEARHK;", "\u{2925}"), ("SEARR;", "\u{2198}"),
    ("SEARROW;", "\u{2198}"), ("SECT;", "\u{a7}"), ("SEMI;", ";"), ("SESWAR;", "\u{2929}"),
    ("SETMINUS;", "\u{2216}"), ("SETMN;", "\u{2216}"), ("SEXT;", "\u{2736}"), ("SFR;", "\u{1d530}"),
    ("SFROWN;", "\u{2322}"), ("SHARP;", "\u{266f}"), ("SHCHCY;", "\u{429}"), ("SHCY;", "\u{428}"),
    ("SHORTMID;", "\u{2223}"), ("SHORTPARALLEL;", "\u{2225}"), ("SHY;", "\u{ad}"),
    ("SIGMA;", "\u{3a3}"), ("SIGMAF;", "\u{3a3}"), ("SIGMAV;", "\u{3a3}"), ("SIM;", "\u{223c}"),
    ("SIMDOT;", "\u{2a6a}"), ("SIME;", "\u{2243}"), ("SIMEQ;", "\u{2243}"), ("SIMG;", "\u{2a9e}"),
    ("SIML;", "\u{2a9d}"), ("SIMNE;", "\u{2246}"), ("SIMPLUS;", "\u{2a24}"),
    ("SIMRARR;", "\u{2972}"), ("SLARR;", "\u{2190}"), ("SMALLSETMINUS;", "\u{2216}"),
    ("SMASHP;", "\u{2a33}"), ("SMEPARSL;", "\u{29e4}"), ("SMID;", "\u{2223}"),
    ("SMILE;", "\u{2323}"), ("SMT;", "\u{2aaa}"), ("SMTE;", "\u{2aac}"),
    ("SMTES;", "\u{2aac}\u{fe00}"), ("SOFTCY;", "\u{42c}"), ("SOL;", "/"), ("SOLB;", "\u{29c4}"),
    ("SOLBAR;", "\u{233f}"), ("SOPF;", "\u{1d564}"), ("SPADES;", "\u{2660}"),
    ("SPADESUIT;", "\u{2660}"), ("SPAR;", "\u{2225}"), ("SQCAP;", "\u{2293}"),
    ("SQCAPS;", "\u{2293}\u{fe00}"), ("SQCUP;", "\u{2294}"), ("SQCUPS;", "\u{2294}\u{fe00}"),
    ("SQSUB;", "\u{228f}"), ("SQSUBE;", "\u{2291}"), ("SQSUBSET;", "\u{228f}"),
    ("SQSUBSETEQ;", "\u{2291}"), ("SQSUP;", "\u{2290}"), ("SQSUPE;", "\u{2292}"),
    ("SQSUPSET;", "\u{2290}"), ("SQSUPSETEQ;", "\u{2292}"), ("SQU;", "\u{25a1}"),
    ("SQUARE;", "\u{25a1}"), ("SQUARF;", "\u{25aa}"), ("SQUF;", "\u{25aa}"), ("SRARR;", "\u{2192}"),
    ("SSCR;", "\u{1d4c8}"), ("SSETMN;", "\u{2216}"), ("SSMILE;", "\u{2323}"),
    ("SSTARF;", "\u{22c6}"), ("STAR;", "\u{2606}"), ("STARF;", "\u{2605}"),
    ("STRAIGHTEPSILON;", "\u{395}"), ("STRAIGHTPHI;", "\u{3a6}"), ("STRNS;", "\u{af}"),
    ("SUB;", "\u{2282}"), ("SUBDOT;", "\u{2abd}"), ("SUBE;", "\u{2286}"), ("SUBEDOT;", "\u{2ac3}"),
    ("SUBMULT;", "\u{2ac1}"), ("SUBNE;", "\u{228a}"), ("SUBPLUS;", "\u{2abf}"),
    ("SUBRARR;", "\u{2979}"), ("SUBSET;", "\u{2282}"), ("SUBSETEQ;", "\u{2286}"),
    ("SUBSETEQQ;", "\u{2ac5}"), ("SUBSETNEQ;", "\u{228a}"), ("SUBSETNEQQ;", "\u{2acb}"),
    ("SUBSIM;", "\u{2ac7}"), ("SUBSUB;", "\u{2ad5}"), ("SUBSUP;", "\u{2ad3}"),
    ("SUCC;", "\u{227b}"), ("SUCCAPPROX;", "\u{2ab8}"), ("SUCCCURLYEQ;", "\u{227d}"),
    ("SUCCEQ;", "\u{2ab0}"), ("SUCCNAPPROX;", "\u{2aba}"), ("SUCCNEQQ;", "\u{2ab6}"),
    ("SUCCNSIM;", "\u{22e9}"), ("SUCCSIM;", "\u{227f}"), ("SUM;", "\u{2211}"),
    ("SUNG;", "\u{266a}"), ("SUP1;", "\u{b9}"), ("SUP2;", "\u{b2}"), ("SUP3;", "\u{b3}"),
    ("SUP;", "\u{2283}"), ("SUPDOT;", "\u{2abe}"), ("SUPDSUB;", "\u{2ad8}"), ("SUPE;", "\u{2287}"),
    ("SUPEDOT;", "\u{2ac4}"), ("SUPHSOL;", "\u{27c9}"), ("SUPHSUB;", "\u{2ad7}"),
    ("SUPLARR;", "\u{297b}"), ("SUPMULT;", "\u{2ac2}"), ("SUPNE;", "\u{228b}"),
    ("SUPPLUS;", "\u{2ac0}"), ("SUPSET;", "\u{2283}"), ("SUPSETEQ;", "\u{2287}"),
    ("SUPSETEQQ;", "\u{2ac6}"), ("SUPSETNEQ;", "\u{228b}"), ("SUPSETNEQQ;", "\u{2acc}"),
    ("SUPSIM;", "\u{2ac8}"), ("SUPSUB;", "\u{2ad4}"), ("SUPSUP;", "\u{2ad6}"),
    ("SWARHK;", "\u{2926}"), ("SWARR;", "\u{2199}"), ("SWARROW;", "\u{2199}"),
    ("SWNWAR;", "\u{292a}"), ("SZLIG;", "SS"), ("TARGET;", "\u{2316}"), ("TAU;", "\u{3a4}"),
    ("TBRK;", "\u{23b4}"), ("TCARON;", "\u{164}"), ("TCEDIL;", "\u{162}"), ("TCY;", "\u{422}"),
    ("TDOT;", "\u{20db}"), ("TELREC;", "\u{2315}"), ("TFR;", "\u{1d531}"), ("THERE4;", "\u{2234}"),
    ("THEREFORE;", "\u{2234}"), ("THETA;", "\u{398}"), ("THETASYM;", "\u{398}"),
    ("THETAV;", "\u{398}"), ("THICKAPPROX;", "\u{2248}"), ("THICKSIM;", "\u{223c}"),
    ("THINSP;", "\u{2009}"), ("THKAP;", "\u{2248}"), ("THKSIM;", "\u{223c}"), ("TILDE;", "\u{2dc}"),
    ("TIMES;", "\u{d7}"), ("TIMESB;", "\u{22a0}"), ("TIMESBAR;", "\u{2a31}"),
    ("TIMESD;", "\u{2a30}"), ("TINT;", "\u{222d}"), ("TOEA;", "\u{2928}"), ("TOP;", "\u{22a4}"),
    ("TOPBOT;", "\u{2336}"), ("TOPCIR;", "\u{2af1}"), ("TOPF;", "\u{1d565}"),
    ("TOPFORK;", "\u{2ada}"), ("TOSA;", "\u{2929}"), ("TPRIME;", "\u{2034}"),
    ("TRIANGLE;", "\u{25b5}"), ("TRIANGLEDOWN;", "\u{25bf}"), ("TRIANGLELEFT;", "\u{25c3}"),
    ("TRIANGLELEFTEQ;", "\u{22b4}"), ("TRIANGLEQ;", "\u{225c}"), ("TRIANGLERIGHT;", "\u{25b9}"),
    ("TRIANGLERIGHTEQ;", "\u{22b5}"), ("TRIDOT;", "\u{25ec}"), ("TRIE;", "\u{225c}"),
    ("TRIMINUS;", "\u{2a3a}"), ("TRIPLUS;", "\u{2a39}"), ("TRISB;", "\u{29cd}"),
    ("TRITIME;", "\u{2a3b}"), ("TRPEZIUM;", "\u{23e2}"), ("TSCR;", "\u{1d4c9}"),
    ("TSCY;", "\u{426}"), ("TSHCY;", "\u{40b}"), ("TSTROK;", "\u{166}"), ("TWIXT;", "\u{226c}"),
    ("TWOHEADLEFTARROW;", "\u{219e}"), ("TWOHEADRIGHTARROW;", "\u{21a0}"), ("UACUTE;", "\u{da}"),
    ("UARR;", "\u{2191}"), ("UBRCY;", "\u{40e}"), ("UBREVE;", "\u{16c}"), ("UCIRC;", "\u{db}"),
    ("UCY;", "\u{423}"), ("UDARR;", "\u{21c5}"), ("UDBLAC;", "\u{170}"), ("UDHAR;", "\u{296e}"),
    ("UFISHT;", "\u{297e}"), ("UFR;", "\u{1d532}"), ("UGRAVE;", "\u{d9}"), ("UHARL;", "\u{21bf}"),
    ("UHARR;", "\u{21be}"), ("UHBLK;", "\u{2580}"), ("ULCORN;", "\u{231c}"),
    ("ULCORNER;", "\u{231c}"), ("ULCROP;", "\u{230f}"), ("ULTRI;", "\u{25f8}"),
    ("UMACR;", "\u{16a}"), ("UML;", "\u{a8}"), ("UOGON;", "\u{172}"), ("UOPF;", "\u{1d566}"),
    ("UPARROW;", "\u{2191}"), ("UPDOWNARROW;", "\u{2195}"), ("UPHARPOONLEFT;", "\u{21bf}"),
    ("UPHARPOONRIGHT;", "\u{21be}"), ("UPLUS;", "\u{228e}"), ("UPSI;", "\u{3a5}"),
    ("UPSIH;", "\u{3d2}"), ("UPSILON;", "\u{3a5}"), ("UPUPARROWS;", "\u{21c8}"),
    ("URCORN;", "\u{231d}"), ("URCORNER;", "\u{231d}"), ("URCROP;", "\u{230e}"),
    ("URING;", "\u{16e}"), ("URTRI;", "\u{25f9}"), ("USCR;", "\u{1d4ca}"), ("UTDOT;", "\u{22f0}"),
    ("UTILDE;", "\u{168}"), ("UTRI;", "\u{25b5}"), ("UTRIF;", "\u{25b4}"), ("UUARR;", "\u{21c8}"),
    ("UUML;", "\u{dc}"), ("UWANGLE;", "\u{29a7}"), ("VANGRT;", "\u{299c}"),
    ("VAREPSILON;", "\u{395}"), ("VARKAPPA;", "\u{39a}"), ("VARNOTHING;", "\u{2205}"),
    ("VARPHI;", "\u{3a6}"), ("VARPI;", "\u{3a0}"), ("VARPROPTO;", "\u{221d}"),
    ("VARR;", "\u{2195}"), ("VARRHO;", "\u{3a1}"), ("VARSIGMA;", "\u{3a3}"),
    ("VARSUBSETNEQ;", "\u{228a}\u{fe00}"), ("VARSUBSETNEQQ;", "\u{2acb}\u{fe00}"),
    ("VARSUPSETNEQ;", "\u{228b}\u{fe00}"), ("VARSUPSETNEQQ;", "\u{2acc}\u{fe00}"),
    ("VARTHETA;", "\u{398}"), ("VARTRIANGLELEFT;", "\u{22b2}"), ("VARTRIANGLERIGHT;", "\u{22b3}"),
    ("VCY;", "\u{412}"), ("VDASH;", "\u{22a2}"), ("VEE;", "\u{2228}"), ("VEEBAR;", "\u{22bb}"),
    ("VEEEQ;", "\u{225a}"), ("VELLIP;", "\u{22ee}"), ("VERBAR;", "|"), ("VERT;", "|"),
    ("VFR;", "\u{1d533}"), ("VLTRI;", "\u{22b2}"), ("VNSUB;", "\u{2282}\u{20d2}"),
    ("VNSUP;", "\u{2283}\u{20d2}"), ("VOPF;", "\u{1d567}"), ("VPROP;", "\u{221d}"),
    ("VRTRI;", "\u{22b3}"), ("VSCR;", "\u{1d4cb}"), ("VSUBNE;", "\u{228a}\u{fe00}"),
    ("VSUPNE;", "\u{228b}\u{fe00}"), ("VZIGZAG;", "\u{299a}"), ("WCIRC;", "\u{174}"),
    ("WEDBAR;", "\u{2a5f}"), ("WEDGE;", "\u{2227}"), ("WEDGEQ;", "\u{2259}"),
    ("WEIERP;", "\u{2118}"), ("WFR;", "\u{1d534}"), ("WOPF;", "\u{1d568}"), ("WP;", "\u{2118}"),
    ("WR;", "\u{2240}"), ("WREATH;", "\u{2240}"), ("WSCR;", "\u{1d4cc}"), ("XCAP;", "\u{22c2}"),
    ("XCIRC;", "\u{25ef}"), ("XCUP;", "\u{22c3}"), ("XDTRI;", "\u{25bd}"), ("XFR;", "\u{1d535}"),
    ("XHARR;", "\u{27f7}"), ("XI;", "\u{39e}"), ("XLARR;", "\u{27f5}"), ("XMAP;", "\u{27fc}"),
    ("XNIS;", "\u{22fb}"), ("XODOT;", "\u{2a00}"), ("XOPF;", "\u{1d569}"), ("XOPLUS;", "\u{2a01}"),
    ("XOTIME;", "\u{2a02}"), ("XRARR;", "\u{27f6}"), ("XSCR;", "\u{1d4cd}"),
    ("XSQCUP;", "\u{2a06}"), ("XUPLUS;", "\u{2a04}"), ("XUTRI;", "\u{25b3}"), ("XVEE;", "\u{22c1}"),
    ("XWEDGE;", "\u{22c0}"), ("YACUTE;", "\u{dd}"), ("YACY;", "\u{42f}"), ("YCIRC;", "\u{176}"),
    ("YCY;", "\u{42b}"), ("YEN;", "\u{a5}"), ("YFR;", "\u{1d536}"), ("YICY;", "\u{407}"),
    ("YOPF;", "\u{1d56a}"), ("YSCR;", "\u{1d4ce}"), ("YUCY;", "\u{42e}"), ("YUML;", "\u{178}"),
    ("ZACUTE;", "\u{179}"), ("ZCARON;", "\u{17d}"), ("ZCY;", "\u{417}"), ("ZDOT;", "\u{17b}"),
    ("ZEETRF;", "\u{2128}"), ("ZETA;", "\u{396}"), ("ZFR;", "\u{1d537}"), ("ZHCY;", "\u{416}"),
    ("ZIGRARR;", "\u{21dd}"), ("ZOPF;", "\u{1d56b}"), ("ZSCR;", "\u{1d4cf}"), ("ZWJ;", "\u{200d}"),
    ("ZWNJ;", "\u{200c}"),
];

// Generated from ftfy 6.3.1's badness.MOJIBAKE_CATEGORIES and chardata.UTF8_CLUES (character
// sets only; '-' between two characters is a range).
const CAT_COMMON: &str = "\u{a0}\u{ad}\u{b7}\u{b4}\u{2013}\u{2014}\u{2015}\u{2026}\u{2019}";
const CAT_C1: &str = "\u{80}-\u{9f}";
const CAT_BAD: &str = "\u{a6}\u{a4}\u{a8}\u{ac}\u{af}\u{b8}\u{192}\u{2c6}\u{2c7}\u{2d8}\u{2db}\u{2dc}\u{2020}\u{2021}\u{2030}\u{2310}\u{25ca}\u{fffd}\u{aa}\u{ba}";
const CAT_LAW: &str = "\u{b6}\u{a7}";
const CAT_CURRENCY: &str = "\u{a2}\u{a3}\u{a5}\u{20a7}\u{20ac}";
const CAT_START_PUNCTUATION: &str = "\u{a1}\u{ab}\u{bf}\u{a9}\u{384}\u{385}\u{2018}\u{201a}\u{201c}\u{201e}\u{2022}\u{2039}\u{f8ff}";
const CAT_END_PUNCTUATION: &str = "\u{ae}\u{bb}\u{2dd}\u{201d}\u{203a}\u{2122}";
const CAT_NUMERIC: &str = "\u{b2}\u{b3}\u{b9}\u{b1}\u{bc}\u{bd}\u{be}\u{d7}\u{b5}\u{f7}\u{2044}\u{2202}\u{2206}\u{220f}\u{2211}\u{221a}\u{221e}\u{2229}\u{222b}\u{2248}\u{2260}\u{2261}\u{2264}\u{2265}\u{2116}";
const CAT_KAOMOJI: &str =
    "\u{d2}-\u{d6}\u{d9}-\u{dc}\u{f2}-\u{f6}\u{f8}-\u{fc}\u{150}\u{14c}\u{16a}\u{172}\u{b0}";
const CAT_UPPER_ACCENTED: &str = "\u{c0}-\u{d1}\u{d8}\u{dc}\u{dd}\u{102}\u{100}\u{104}\u{106}\u{10c}\u{10e}\u{110}\u{118}\u{11a}\u{112}\u{116}\u{11e}\u{122}\u{130}\u{12a}\u{136}\u{139}\u{13d}\u{141}\u{13b}\u{143}\u{147}\u{145}\u{152}\u{158}\u{15a}\u{15e}\u{160}\u{162}\u{164}\u{16e}\u{170}\u{178}\u{179}\u{17b}\u{17d}\u{490}";
const CAT_LOWER_ACCENTED: &str = "\u{df}\u{e0}-\u{f1}\u{103}\u{105}\u{101}\u{107}\u{10d}\u{10f}\u{111}\u{119}\u{11b}\u{113}\u{117}\u{11f}\u{123}\u{12f}\u{12b}\u{137}\u{13a}\u{13e}\u{142}\u{13c}\u{153}\u{155}\u{15b}\u{15f}\u{161}\u{165}\u{fc}\u{17a}\u{17c}\u{17e}\u{491}\u{fb01}\u{fb02}";
const CAT_UPPER_COMMON: &str = "\u{de}\u{391}-\u{3a9}\u{386}\u{388}\u{389}\u{38a}\u{38c}\u{38e}\u{38f}\u{3aa}\u{3ab}\u{401}-\u{42f}";
const CAT_LOWER_COMMON: &str = "\u{3b1}-\u{3c9}\u{3ac}\u{3ad}\u{3ae}\u{3af}\u{3b0}\u{430}-\u{45f}";
const CAT_BOX: &str = "\u{2502}\u{250c}\u{2510}\u{2518}\u{251c}\u{2524}\u{252c}\u{253c}\u{2550}-\u{256c}\u{2580}\u{2584}\u{2588}\u{258c}\u{2590}\u{2591}\u{2592}\u{2593}";
const CLUE_UTF8_FIRST_OF_2: &str = "\u{102}\u{c2}\u{c4}\u{100}\u{c5}\u{c3}\u{c6}\u{106}\u{10c}\u{c7}\u{10e}\u{110}\u{c9}\u{11a}\u{ca}\u{cb}\u{116}\u{c8}\u{112}\u{118}\u{d0}\u{11e}\u{122}\u{cd}\u{ce}\u{cf}\u{130}\u{cc}\u{12a}\u{136}\u{139}\u{13b}\u{141}\u{143}\u{147}\u{145}\u{d1}\u{d3}\u{d4}\u{d6}\u{150}\u{d2}\u{14c}\u{d8}\u{d5}\u{158}\u{15a}\u{160}\u{15e}\u{162}\u{de}\u{da}\u{db}\u{dc}\u{170}\u{d9}\u{16a}\u{172}\u{16e}\u{dd}\u{179}\u{17d}\u{17b}\u{df}\u{d7}\u{392}\u{393}\u{394}\u{395}\u{396}\u{397}\u{398}\u{399}\u{39a}\u{39b}\u{39c}\u{39d}\u{39e}\u{39f}\u{3a0}\u{3a1}\u{3a3}\u{3a4}\u{3a5}\u{3a6}\u{3a7}\u{3a8}\u{3a9}\u{3aa}\u{3ab}\u{3ac}\u{3ad}\u{3ae}\u{3af}\u{412}\u{413}\u{414}\u{415}\u{416}\u{417}\u{418}\u{419}\u{41a}\u{41b}\u{41c}\u{41d}\u{41e}\u{41f}\u{420}\u{421}\u{422}\u{423}\u{424}\u{425}\u{426}\u{427}\u{428}\u{429}\u{42a}\u{42b}\u{42c}\u{42d}\u{42e}\u{42f}";
const CLUE_UTF8_FIRST_OF_3: &str = "\u{e1}\u{103}\u{e2}\u{e4}\u{e0}\u{101}\u{105}\u{e5}\u{e3}\u{e6}\u{107}\u{10d}\u{e7}\u{10f}\u{e9}\u{11b}\u{ea}\u{eb}\u{117}\u{e8}\u{113}\u{119}\u{119}\u{123}\u{ed}\u{ee}\u{ef}\u{ec}\u{12b}\u{12f}\u{137}\u{13a}\u{13c}\u{155}\u{17a}\u{3b0}\u{3b1}\u{3b2}\u{3b3}\u{3b4}\u{3b5}\u{3b6}\u{3b7}\u{3b8}\u{3b9}\u{3ba}\u{3bb}\u{3bc}\u{3bd}\u{3be}\u{3bf}\u{430}\u{431}\u{432}\u{433}\u{434}\u{435}\u{436}\u{437}\u{438}\u{439}\u{43a}\u{43b}\u{43c}\u{43d}\u{43e}\u{43f}";
const CLUE_UTF8_FIRST_OF_4: &str = "\u{111}\u{f0}\u{11f}\u{f3}\u{161}\u{3c0}\u{3c3}\u{440}\u{443}";
const CLUE_UTF8_CONTINUATION: &str = "\u{80}-\u{bf} \u{104}\u{c6}\u{13d}\u{141}\u{d8}\u{156}\u{15a}\u{160}\u{15e}\u{164}\u{178}\u{179}\u{17d}\u{17b}\u{152}\u{105}\u{e6}\u{192}\u{13e}\u{142}\u{f8}\u{157}\u{15b}\u{161}\u{15f}\u{165}\u{17a}\u{17e}\u{17c}\u{153}\u{2c6}\u{2c7}\u{2d8}\u{2db}\u{2dc}\u{2dd}\u{384}\u{385}\u{386}\u{388}\u{389}\u{38a}\u{38c}\u{38e}\u{38f}\u{401}\u{402}\u{403}\u{404}\u{405}\u{406}\u{407}\u{408}\u{409}\u{40a}\u{40b}\u{40c}\u{40e}\u{40f}\u{451}\u{452}\u{453}\u{454}\u{455}\u{456}\u{457}\u{458}\u{459}\u{45a}\u{45b}\u{45c}\u{45e}\u{45f}\u{490}\u{491}\u{2013}\u{2014}\u{2015}\u{2018}\u{2019}\u{201a}\u{201c}\u{201d}\u{201e}\u{2020}\u{2021}\u{2022}\u{2026}\u{2030}\u{2039}\u{203a}\u{20ac}\u{2116}\u{2122}";
const CLUE_UTF8_CONTINUATION_STRICT: &str = "\u{80}-\u{bf}\u{104}\u{c6}\u{13d}\u{141}\u{d8}\u{156}\u{15a}\u{160}\u{15e}\u{164}\u{178}\u{179}\u{17d}\u{17b}\u{152}\u{105}\u{e6}\u{192}\u{13e}\u{142}\u{f8}\u{157}\u{15b}\u{161}\u{15f}\u{165}\u{17a}\u{17e}\u{17c}\u{153}\u{2c6}\u{2c7}\u{2d8}\u{2db}\u{2dc}\u{2dd}\u{384}\u{385}\u{386}\u{388}\u{389}\u{38a}\u{38c}\u{38e}\u{38f}\u{401}\u{402}\u{403}\u{404}\u{405}\u{406}\u{407}\u{408}\u{409}\u{40a}\u{40b}\u{40c}\u{40e}\u{40f}\u{451}\u{452}\u{453}\u{454}\u{455}\u{456}\u{457}\u{458}\u{459}\u{45a}\u{45b}\u{45c}\u{45e}\u{45f}\u{490}\u{491}\u{2020}\u{2021}\u{2030}\u{2039}\u{203a}\u{20ac}\u{2116}\u{2122}";
// Characters that bytes 0x80..=0xFF decode to in each single-byte codec ftfy tries, in its order
// (Python codecs; the `sloppy-` codecs pass undefined bytes through as the same code point).
const CODEC_TABLES: &[(&str, &str)] = &[
    ("latin-1", "\u{80}\u{81}\u{82}\u{83}\u{84}\u{85}\u{86}\u{87}\u{88}\u{89}\u{8a}\u{8b}\u{8c}\u{8d}\u{8e}\u{8f}\u{90}\u{91}\u{92}\u{93}\u{94}\u{95}\u{96}\u{97}\u{98}\u{99}\u{9a}\u{9b}\u{9c}\u{9d}\u{9e}\u{9f}\u{a0}\u{a1}\u{a2}\u{a3}\u{a4}\u{a5}\u{a6}\u{a7}\u{a8}\u{a9}\u{aa}\u{ab}\u{ac}\u{ad}\u{ae}\u{af}\u{b0}\u{b1}\u{b2}\u{b3}\u{b4}\u{b5}\u{b6}\u{b7}\u{b8}\u{b9}\u{ba}\u{bb}\u{bc}\u{bd}\u{be}\u{bf}\u{c0}\u{c1}\u{c2}\u{c3}\u{c4}\u{c5}\u{c6}\u{c7}\u{c8}\u{c9}\u{ca}\u{cb}\u{cc}\u{cd}\u{ce}\u{cf}\u{d0}\u{d1}\u{d2}\u{d3}\u{d4}\u{d5}\u{d6}\u{d7}\u{d8}\u{d9}\u{da}\u{db}\u{dc}\u{dd}\u{de}\u{df}\u{e0}\u{e1}\u{e2}\u{e3}\u{e4}\u{e5}\u{e6}\u{e7}\u{e8}\u{e9}\u{ea}\u{eb}\u{ec}\u{ed}\u{ee}\u{ef}\u{f0}\u{f1}\u{f2}\u{f3}\u{f4}\u{f5}\u{f6}\u{f7}\u{f8}\u{f9}\u{fa}\u{fb}\u{fc}\u{fd}\u{fe}\u{ff}"),
    ("sloppy-windows-1252", "\u{20ac}\u{81}\u{201a}\u{192}\u{201e}\u{2026}\u{2020}\u{2021}\u{2c6}\u{2030}\u{160}\u{2039}\u{152}\u{8d}\u{17d}\u{8f}\u{90}\u{2018}\u{2019}\u{201c}\u{201d}\u{2022}\u{2013}\u{2014}\u{2dc}\u{2122}\u{161}\u{203a}\u{153}\u{9d}\u{17e}\u{178}\u{a0}\u{a1}\u{a2}\u{a3}\u{a4}\u{a5}\u{a6}\u{a7}\u{a8}\u{a9}\u{aa}\u{ab}\u{ac}\u{ad}\u{ae}\u{af}\u{b0}\u{b1}\u{b2}\u{b3}\u{b4}\u{b5}\u{b6}\u{b7}\u{b8}\u{b9}\u{ba}\u{bb}\u{bc}\u{bd}\u{be}\u{bf}\u{c0}\u{c1}\u{c2}\u{c3}\u{c4}\u{c5}\u{c6}\u{c7}\u{c8}\u{c9}\u{ca}\u{cb}\u{cc}\u{cd}\u{ce}\u{cf}\u{d0}\u{d1}\u{d2}\u{d3}\u{d4}\u{d5}\u{d6}\u{d7}\u{d8}\u{d9}\u{da}\u{db}\u{dc}\u{dd}\u{de}\u{df}\u{e0}\u{e1}\u{e2}\u{e3}\u{e4}\u{e5}\u{e6}\u{e7}\u{e8}\u{e9}\u{ea}\u{eb}\u{ec}\u{ed}\u{ee}\u{ef}\u{f0}\u{f1}\u{f2}\u{f3}\u{f4}\u{f5}\u{f6}\u{f7}\u{f8}\u{f9}\u{fa}\u{fb}\u{fc}\u{fd}\u{fe}\u{ff}"),
    ("sloppy-windows-1251", "\u{402}\u{403}\u{201a}\u{453}\u{201e}\u{2026}\u{2020}\u{2021}\u{20ac}\u{2030}\u{409}\u{2039}\u{40a}\u{40c}\u{40b}\u{40f}\u{452}\u{2018}\u{2019}\u{201c}\u{201d}\u{2022}\u{2013}\u{2014}\u{98}\u{2122}\u{459}\u{203a}\u{45a}\u{45c}\u{45b}\u{45f}\u{a0}\u{40e}\u{45e}\u{408}\u{a4}\u{490}\u{a6}\u{a7}\u{401}\u{a9}\u{404}\u{ab}\u{ac}\u{ad}\u{ae}\u{407}\u{b0}\u{b1}\u{406}\u{456}\u{491}\u{b5}\u{b6}\u{b7}\u{451}\u{2116}\u{454}\u{bb}\u{458}\u{405}\u{455}\u{457}\u{410}\u{411}\u{412}\u{413}\u{414}\u{415}\u{416}\u{417}\u{418}\u{419}\u{41a}\u{41b}\u{41c}\u{41d}\u{41e}\u{41f}\u{420}\u{421}\u{422}\u{423}\u{424}\u{425}\u{426}\u{427}\u{428}\u{429}\u{42a}\u{42b}\u{42c}\u{42d}\u{42e}\u{42f}\u{430}\u{431}\u{432}\u{433}\u{434}\u{435}\u{436}\u{437}\u{438}\u{439}\u{43a}\u{43b}\u{43c}\u{43d}\u{43e}\u{43f}\u{440}\u{441}\u{442}\u{443}\u{444}\u{445}\u{446}\u{447}\u{448}\u{449}\u{44a}\u{44b}\u{44c}\u{44d}\u{44e}\u{44f}"),
    ("sloppy-windows-1250", "\u{20ac}\u{81}\u{201a}\u{83}\u{201e}\u{2026}\u{2020}\u{2021}\u{88}\u{2030}\u{160}\u{2039}\u{15a}\u{164}\u{17d}\u{179}\u{90}\u{2018}\u{2019}\u{201c}\u{201d}\u{2022}\u{2013}\u{2014}\u{98}\u{2122}\u{161}\u{203a}\u{15b}\u{165}\u{17e}\u{17a}\u{a0}\u{2c7}\u{2d8}\u{141}\u{a4}\u{104}\u{a6}\u{a7}\u{a8}\u{a9}\u{15e}\u{ab}\u{ac}\u{ad}\u{ae}\u{17b}\u{b0}\u{b1}\u{2db}\u{142}\u{b4}\u{b5}\u{b6}\u{b7}\u{b8}\u{105}\u{15f}\u{bb}\u{13d}\u{2dd}\u{13e}\u{17c}\u{154}\u{c1}\u{c2}\u{102}\u{c4}\u{139}\u{106}\u{c7}\u{10c}\u{c9}\u{118}\u{cb}\u{11a}\u{cd}\u{ce}\u{10e}\u{110}\u{143}\u{147}\u{d3}\u{d4}\u{150}\u{d6}\u{d7}\u{158}\u{16e}\u{da}\u{170}\u{dc}\u{dd}\u{162}\u{df}\u{155}\u{e1}\u{e2}\u{103}\u{e4}\u{13a}\u{107}\u{e7}\u{10d}\u{e9}\u{119}\u{eb}\u{11b}\u{ed}\u{ee}\u{10f}\u{111}\u{144}\u{148}\u{f3}\u{f4}\u{151}\u{f6}\u{f7}\u{159}\u{16f}\u{fa}\u{171}\u{fc}\u{fd}\u{163}\u{2d9}"),
    ("sloppy-windows-1253", "\u{20ac}\u{81}\u{201a}\u{192}\u{201e}\u{2026}\u{2020}\u{2021}\u{88}\u{2030}\u{8a}\u{2039}\u{8c}\u{8d}\u{8e}\u{8f}\u{90}\u{2018}\u{2019}\u{201c}\u{201d}\u{2022}\u{2013}\u{2014}\u{98}\u{2122}\u{9a}\u{203a}\u{9c}\u{9d}\u{9e}\u{9f}\u{a0}\u{385}\u{386}\u{a3}\u{a4}\u{a5}\u{a6}\u{a7}\u{a8}\u{a9}\u{aa}\u{ab}\u{ac}\u{ad}\u{ae}\u{2015}\u{b0}\u{b1}\u{b2}\u{b3}\u{384}\u{b5}\u{b6}\u{b7}\u{388}\u{389}\u{38a}\u{bb}\u{38c}\u{bd}\u{38e}\u{38f}\u{390}\u{391}\u{392}\u{393}\u{394}\u{395}\u{396}\u{397}\u{398}\u{399}\u{39a}\u{39b}\u{39c}\u{39d}\u{39e}\u{39f}\u{3a0}\u{3a1}\u{d2}\u{3a3}\u{3a4}\u{3a5}\u{3a6}\u{3a7}\u{3a8}\u{3a9}\u{3aa}\u{3ab}\u{3ac}\u{3ad}\u{3ae}\u{3af}\u{3b0}\u{3b1}\u{3b2}\u{3b3}\u{3b4}\u{3b5}\u{3b6}\u{3b7}\u{3b8}\u{3b9}\u{3ba}\u{3bb}\u{3bc}\u{3bd}\u{3be}\u{3bf}\u{3c0}\u{3c1}\u{3c2}\u{3c3}\u{3c4}\u{3c5}\u{3c6}\u{3c7}\u{3c8}\u{3c9}\u{3ca}\u{3cb}\u{3cc}\u{3cd}\u{3ce}\u{ff}"),
    ("sloppy-windows-1254", "\u{20ac}\u{81}\u{201a}\u{192}\u{201e}\u{2026}\u{2020}\u{2021}\u{2c6}\u{2030}\u{160}\u{2039}\u{152}\u{8d}\u{8e}\u{8f}\u{90}\u{2018}\u{2019}\u{201c}\u{201d}\u{2022}\u{2013}\u{2014}\u{2dc}\u{2122}\u{161}\u{203a}\u{153}\u{9d}\u{9e}\u{178}\u{a0}\u{a1}\u{a2}\u{a3}\u{a4}\u{a5}\u{a6}\u{a7}\u{a8}\u{a9}\u{aa}\u{ab}\u{ac}\u{ad}\u{ae}\u{af}\u{b0}\u{b1}\u{b2}\u{b3}\u{b4}\u{b5}\u{b6}\u{b7}\u{b8}\u{b9}\u{ba}\u{bb}\u{bc}\u{bd}\u{be}\u{bf}\u{c0}\u{c1}\u{c2}\u{c3}\u{c4}\u{c5}\u{c6}\u{c7}\u{c8}\u{c9}\u{ca}\u{cb}\u{cc}\u{cd}\u{ce}\u{cf}\u{11e}\u{d1}\u{d2}\u{d3}\u{d4}\u{d5}\u{d6}\u{d7}\u{d8}\u{d9}\u{da}\u{db}\u{dc}\u{130}\u{15e}\u{df}\u{e0}\u{e1}\u{e2}\u{e3}\u{e4}\u{e5}\u{e6}\u{e7}\u{e8}\u{e9}\u{ea}\u{eb}\u{ec}\u{ed}\u{ee}\u{ef}\u{11f}\u{f1}\u{f2}\u{f3}\u{f4}\u{f5}\u{f6}\u{f7}\u{f8}\u{f9}\u{fa}\u{fb}\u{fc}\u{131}\u{15f}\u{ff}"),
    ("sloppy-windows-1257", "\u{20ac}\u{81}\u{201a}\u{83}\u{201e}\u{2026}\u{2020}\u{2021}\u{88}\u{2030}\u{8a}\u{2039}\u{8c}\u{a8}\u{2c7}\u{b8}\u{90}\u{2018}\u{2019}\u{201c}\u{201d}\u{2022}\u{2013}\u{2014}\u{98}\u{2122}\u{9a}\u{203a}\u{9c}\u{af}\u{2db}\u{9f}\u{a0}\u{a1}\u{a2}\u{a3}\u{a4}\u{a5}\u{a6}\u{a7}\u{d8}\u{a9}\u{156}\u{ab}\u{ac}\u{ad}\u{ae}\u{c6}\u{b0}\u{b1}\u{b2}\u{b3}\u{b4}\u{b5}\u{b6}\u{b7}\u{f8}\u{b9}\u{157}\u{bb}\u{bc}\u{bd}\u{be}\u{e6}\u{104}\u{12e}\u{100}\u{106}\u{c4}\u{c5}\u{118}\u{112}\u{10c}\u{c9}\u{179}\u{116}\u{122}\u{136}\u{12a}\u{13b}\u{160}\u{143}\u{145}\u{d3}\u{14c}\u{d5}\u{d6}\u{d7}\u{172}\u{141}\u{15a}\u{16a}\u{dc}\u{17b}\u{17d}\u{df}\u{105}\u{12f}\u{101}\u{107}\u{e4}\u{e5}\u{119}\u{113}\u{10d}\u{e9}\u{17a}\u{117}\u{123}\u{137}\u{12b}\u{13c}\u{161}\u{144}\u{146}\u{f3}\u{14d}\u{f5}\u{f6}\u{f7}\u{173}\u{142}\u{15b}\u{16b}\u{fc}\u{17c}\u{17e}\u{2d9}"),
    ("iso-8859-2", "\u{80}\u{81}\u{82}\u{83}\u{84}\u{85}\u{86}\u{87}\u{88}\u{89}\u{8a}\u{8b}\u{8c}\u{8d}\u{8e}\u{8f}\u{90}\u{91}\u{92}\u{93}\u{94}\u{95}\u{96}\u{97}\u{98}\u{99}\u{9a}\u{9b}\u{9c}\u{9d}\u{9e}\u{9f}\u{a0}\u{104}\u{2d8}\u{141}\u{a4}\u{13d}\u{15a}\u{a7}\u{a8}\u{160}\u{15e}\u{164}\u{179}\u{ad}\u{17d}\u{17b}\u{b0}\u{105}\u{2db}\u{142}\u{b4}\u{13e}\u{15b}\u{2c7}\u{b8}\u{161}\u{15f}\u{165}\u{17a}\u{2dd}\u{17e}\u{17c}\u{154}\u{c1}\u{c2}\u{102}\u{c4}\u{139}\u{106}\u{c7}\u{10c}\u{c9}\u{118}\u{cb}\u{11a}\u{cd}\u{ce}\u{10e}\u{110}\u{143}\u{147}\u{d3}\u{d4}\u{150}\u{d6}\u{d7}\u{158}\u{16e}\u{da}\u{170}\u{dc}\u{dd}\u{162}\u{df}\u{155}\u{e1}\u{e2}\u{103}\u{e4}\u{13a}\u{107}\u{e7}\u{10d}\u{e9}\u{119}\u{eb}\u{11b}\u{ed}\u{ee}\u{10f}\u{111}\u{144}\u{148}\u{f3}\u{f4}\u{151}\u{f6}\u{f7}\u{159}\u{16f}\u{fa}\u{171}\u{fc}\u{fd}\u{163}\u{2d9}"),
    ("macroman", "\u{c4}\u{c5}\u{c7}\u{c9}\u{d1}\u{d6}\u{dc}\u{e1}\u{e0}\u{e2}\u{e4}\u{e3}\u{e5}\u{e7}\u{e9}\u{e8}\u{ea}\u{eb}\u{ed}\u{ec}\u{ee}\u{ef}\u{f1}\u{f3}\u{f2}\u{f4}\u{f6}\u{f5}\u{fa}\u{f9}\u{fb}\u{fc}\u{2020}\u{b0}\u{a2}\u{a3}\u{a7}\u{2022}\u{b6}\u{df}\u{ae}\u{a9}\u{2122}\u{b4}\u{a8}\u{2260}\u{c6}\u{d8}\u{221e}\u{b1}\u{2264}\u{2265}\u{a5}\u{b5}\u{2202}\u{2211}\u{220f}\u{3c0}\u{222b}\u{aa}\u{ba}\u{3a9}\u{e6}\u{f8}\u{bf}\u{a1}\u{ac}\u{221a}\u{192}\u{2248}\u{2206}\u{ab}\u{bb}\u{2026}\u{a0}\u{c0}\u{c3}\u{d5}\u{152}\u{153}\u{2013}\u{2014}\u{201c}\u{201d}\u{2018}\u{2019}\u{f7}\u{25ca}\u{ff}\u{178}\u{2044}\u{20ac}\u{2039}\u{203a}\u{fb01}\u{fb02}\u{2021}\u{b7}\u{201a}\u{201e}\u{2030}\u{c2}\u{ca}\u{c1}\u{cb}\u{c8}\u{cd}\u{ce}\u{cf}\u{cc}\u{d3}\u{d4}\u{f8ff}\u{d2}\u{da}\u{db}\u{d9}\u{131}\u{2c6}\u{2dc}\u{af}\u{2d8}\u{2d9}\u{2da}\u{b8}\u{2dd}\u{2db}\u{2c7}"),
    ("cp437", "\u{c7}\u{fc}\u{e9}\u{e2}\u{e4}\u{e0}\u{e5}\u{e7}\u{ea}\u{eb}\u{e8}\u{ef}\u{ee}\u{ec}\u{c4}\u{c5}\u{c9}\u{e6}\u{c6}\u{f4}\u{f6}\u{f2}\u{fb}\u{f9}\u{ff}\u{d6}\u{dc}\u{a2}\u{a3}\u{a5}\u{20a7}\u{192}\u{e1}\u{ed}\u{f3}\u{fa}\u{f1}\u{d1}\u{aa}\u{ba}\u{bf}\u{2310}\u{ac}\u{bd}\u{bc}\u{a1}\u{ab}\u{bb}\u{2591}\u{2592}\u{2593}\u{2502}\u{2524}\u{2561}\u{2562}\u{2556}\u{2555}\u{2563}\u{2551}\u{2557}\u{255d}\u{255c}\u{255b}\u{2510}\u{2514}\u{2534}\u{252c}\u{251c}\u{2500}\u{253c}\u{255e}\u{255f}\u{255a}\u{2554}\u{2569}\u{2566}\u{2560}\u{2550}\u{256c}\u{2567}\u{2568}\u{2564}\u{2565}\u{2559}\u{2558}\u{2552}\u{2553}\u{256b}\u{256a}\u{2518}\u{250c}\u{2588}\u{2584}\u{258c}\u{2590}\u{2580}\u{3b1}\u{df}\u{393}\u{3c0}\u{3a3}\u{3c3}\u{b5}\u{3c4}\u{3a6}\u{398}\u{3a9}\u{3b4}\u{221e}\u{3c6}\u{3b5}\u{2229}\u{2261}\u{b1}\u{2265}\u{2264}\u{2320}\u{2321}\u{f7}\u{2248}\u{b0}\u{2219}\u{b7}\u{221a}\u{207f}\u{b2}\u{25a0}\u{a0}"),
];
