//! Evaluation: CLIP scoring, benchmark reports and category confusion matrices. Suites are read with
//! the ground-floor reader [`crate::suite`].
//!
//! * [`bench`]: recipes over a suite, resumable results (`physedit bench`).
//! * [`report`]: per-category timing / speedup / CLIP tables with bootstrap intervals, plots.
//! * [`clip_score`]: CLIP-T / CLIP-I of edited images over a suite, JSON-lines records, summary tables.
//! * [`confusion`]: confusion matrices of predicted against labelled categories.
//! * [`fidelity`]: PSNR / SSIM of an approximation's picture to the exact recipe's.
//! * [`frontier`]: the speed–fidelity frontier of a bench run, with world ground-truth scores.
pub mod bench;
pub mod clip_score;
pub mod confusion;
pub mod fidelity;
pub mod frontier;
pub mod report;
