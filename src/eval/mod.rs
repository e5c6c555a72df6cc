//! Evaluation: CLIP scoring and benchmark reports.
