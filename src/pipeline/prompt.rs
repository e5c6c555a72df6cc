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
//! Measured against ftfy 6.3.1: identical `fix_text` and `prompt_clean` output on 138 hand-picked
//! strings (committed in tests/encoders.rs) and on 70,000 generated ones (words in many scripts,
//! mojibake through 12 codecs, doubled, with U+A0 turned into spaces or bytes lost to U+FFFD, and
//! random runs of the characters the heuristic looks at; ~60% of them changed by ftfy).
//!
//! Known differences from ftfy: Python's `\w` in one badness rule is taken as letters, numbers and
//! `_` (`[\p{L}\p{N}_]`), which may differ for rare characters; each fix loop is capped (32
//! rounds per line, 64 encoding steps) where ftfy loops until nothing changes; ftfy's
//! `max_decode_length` split of lines over 1,000,000 characters is not done; `fix_surrogates` is
//! moot (Rust strings cannot hold surrogates). Entity decoding knows the HTML 4 entity names (plus
//! `&apos;`), all numeric references, and Python's rules for legacy names without `;`; the rarer
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
    encode: std::collections::HashMap<char, u8>,
    sloppy: bool,
}

fn codecs() -> &'static [Codec] {
    static C: OnceLock<Vec<Codec>> = OnceLock::new();
    C.get_or_init(|| {
        CODEC_TABLES
            .iter()
            .map(|(name, table)| {
                let sloppy = name.starts_with("sloppy");
                let mut encode: std::collections::HashMap<char, u8> = table
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
