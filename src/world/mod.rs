//! Procedural physics world with ground truth (edit cases for training and evaluation).
pub mod check;
pub mod edits;
pub mod lang;
pub mod render;
pub mod rng;
pub mod scene;

pub use edits::{generate_case, Case, CaseMeta, CaseStream, Category, GenConfig, Trajectory};
pub use lang::Split;
