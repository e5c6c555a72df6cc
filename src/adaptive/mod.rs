//! Adaptive inference: CARD (reasoning depth per edit), SRM (spatial reasoning mask), plans and the FLOP cost model.
//!
//! * [`card`]: category / complexity / tier prediction ([`card::RulePredictor`], the default) and
//!   image cues; a folder cut along the rules' steps (types, cue matching, clause resolution,
//!   scoring). The categories are the ground-floor [`crate::category::Category`];
//!   CARD's category → base tier mapping is [`card::BaseTier`];
//! * [`lexicon`]: every word list the rules use;
//! * [`learned`]: the learned predictor (`physedit card fit`);
//! * [`plan`]: [`plan::Plan`], the tier → plan table, recipes, [`plan::plan_for`] and
//!   [`plan::temporal_positions`];
//! * [`cost`]: the FLOP model;
//! * [`srm`]: the spatial reasoning mask;
//! * [`accel`]: accelerations that stack with a plan (RPFI, step caching, guidance tail) and
//!   their decisions.
//!
//! Suites are read with the ground-floor [`crate::suite`]; confusion matrices are evaluation code
//! (`eval::confusion`).
pub mod accel;
pub mod card;
pub mod cost;
pub mod learned;
pub mod lexicon;
pub mod plan;
pub mod srm;

pub use card::{CardInput, Category, ImageCues, Prediction, Predictor, RulePredictor, Tier};
pub use plan::{plan_for, temporal_positions, Plan, PlanTable, Recipe};
