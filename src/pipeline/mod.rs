//! Pipelines: glue between models and schedulers, no model math.
pub mod chronoedit;
pub mod image_processor;
pub mod prompt;
