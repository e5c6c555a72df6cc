//! Evaluation: CLIP scoring and benchmark reports.
//!
//! * [`suite`]: ImgEdit's suite format (`{key: {id, prompt, edit_type}}`), read with per-entry validation.
//! * [`bench`]: recipes over a suite, resumable results (`physedit bench`).
//! * [`report`]: per-category timing / speedup / CLIP tables with bootstrap intervals, plots.
//! * [`clip_score`]: CLIP-T / CLIP-I of edited images over a suite, JSON-lines records, summary tables.
pub mod bench;
pub mod clip_score;
pub mod report;
pub mod suite;
