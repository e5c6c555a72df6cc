//! Pure neural-network modules, each built from its checkpoint's `config.json` and weights.
pub mod attention;
pub mod clip;
pub mod clip_vision;
pub mod rope;
pub mod transformer;
pub mod umt5;
pub mod vae;
