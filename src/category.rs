//! ImgEdit's nine edit categories: the one type every layer uses (suites, CARD's predictions, the
//! procedural world's cases, bench and score reports).
//!
//! The serialised form is the lower-case name (`"add"`, ..., `"compose"`), as in ImgEdit's suite
//! files; committed suites, world cases and learned-model metadata are written with it. What a
//! category means for reasoning depth (CARD's base tier) belongs to the adaptive layer, not here.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
    /// Every category, in ImgEdit's order (the order of tables, confusion matrices and the learned
    /// predictor's classes).
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

    /// The lower-case name used in suite files (`edit_type`) and reports.
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

    /// The category with this exact name (no trimming or case folding, as suite files are read).
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The names of [`Category::ALL`] joined by ", " (for error messages).
    pub fn names() -> String {
        Category::ALL
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lenient parsing for flags and hand-written files: surrounding blanks and letter case are ignored.
impl FromStr for Category {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        Category::from_name(&t).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown edit category {s:?}; expected one of {}",
                Category::names()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_index_and_serde_agree() {
        for (i, c) in Category::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(c.to_string(), c.name());
            assert_eq!(Category::from_name(c.name()), Some(c));
            assert_eq!(
                format!(" {} ", c.name().to_uppercase())
                    .parse::<Category>()
                    .unwrap(),
                c
            );
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert_eq!(serde_json::from_str::<Category>(&json).unwrap(), c);
        }
        assert_eq!(Category::from_name("Add"), None);
        let err = "teleport".parse::<Category>().unwrap_err().to_string();
        assert!(
            err.contains("\"teleport\"") && err.contains("compose"),
            "{err}"
        );
    }
}
