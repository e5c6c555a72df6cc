//! Evaluation: CLIP scoring and benchmark reports.
//!
//! * [`suite`]: ImgEdit's suite format (`{key: {id, prompt, edit_type}}`), read with per-entry validation.
//! * [`clip_score`]: CLIP-T / CLIP-I of edited images over a suite, JSON-lines records, summary tables.
pub mod clip_score;
pub mod suite;
