//! Noise schedulers: `set_timesteps` / `step` math, chosen by `scheduler_config.json`.
pub mod flow_match_euler;
pub mod unipc;
