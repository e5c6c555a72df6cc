//! Pipelines: glue between models and schedulers, no model math. Pre- and postprocessing live in
//! [`crate::processors`].
pub mod chronoedit;
