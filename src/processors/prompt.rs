//! Prompt cleaning and tokenisation.
//!
//! * [`prompt_clean`]: the ChronoEdit pipeline's `prompt_clean = whitespace_clean(basic_clean(text))`,
//!   where `basic_clean` is `ftfy.fix_text`, then `html.unescape` twice, then `strip` (the text
//!   fixers are ported in [`super::text_fix`], whose documentation states their parity limits).
//! * [`PromptTokenizer`] / [`EncodedPrompt`]: the umT5 tokenisation of `_get_t5_prompt_embeds`
//!   (padded to `max_len`, 512 in the pipeline).
//! * [`ClipTokenizer`]: a CLIP text tokenizer as `tokenizer(text, truncation=True,
//!   max_length=max_position_embeddings)` calls it (no cleaning, no padding), for CLIP scoring.

use std::path::Path;

use anyhow::{anyhow, Context};
use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use super::text_fix::{ftfy_fix_text, html_unescape, is_py_space, py_strip};

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

/// A CLIP `tokenizer.json` configured as transformers' `tokenizer(text, truncation=True,
/// max_length=max_len)` calls it: no padding, right truncation keeping room for the special tokens
/// (`<|startoftext|>`/`<|endoftext|>` come from the tokenizer's post-processor).
pub struct ClipTokenizer {
    tokenizer: Tokenizer,
}

impl ClipTokenizer {
    /// `path` is `tokenizer.json`; `max_len` is the text tower's `max_position_embeddings`.
    pub fn from_file(path: &Path, max_len: usize) -> anyhow::Result<Self> {
        let mut tokenizer = Tokenizer::from_file(path)
            .map_err(|e| anyhow!("cannot load tokenizer {}: {e}", path.display()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| anyhow!("tokenizer {}: setting truncation: {e}", path.display()))?;
        tokenizer.with_padding(None);
        Ok(Self { tokenizer })
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Token ids of `text`, special tokens added.
    pub fn encode(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| anyhow!("tokenizing {text:?}: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }
}
