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
//!
//! The code follows those steps: `types` (tiers, image cues, predictor input and verdict, the
//! [`Predictor`] trait, [`BaseTier`]), `cues` (tokenising and phrase matching), `clauses` (clause
//! splitting and resolution, [`analyze`]) and `score` (complexity and tier, rule features,
//! [`RulePredictor`]). The categories themselves are the ground-floor [`crate::category::Category`],
//! re-exported here.
mod clauses;
mod cues;
mod score;
mod types;

pub use crate::category::Category;
pub use clauses::{analyze, Analysis};
pub use cues::N_CUES;
pub use score::{complexity_and_tier, rule_feature_names, rule_features, RulePredictor};
pub use types::{BaseTier, CardInput, ImageCues, Prediction, Predictor, Tier};
