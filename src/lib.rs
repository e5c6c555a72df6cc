//! PhysEdit: complexity-adaptive instruction-based image editing on a ChronoEdit backbone.
//!
//! Layout mirrors diffusers: `models` (pure modules, config-driven), `schedulers`
//! (`set_timesteps`/`step` math), `pipeline` (glue, no math), `adaptive` (CARD, SRM, plans,
//! cost model), `eval`, `world` (procedural physics world), `train` (flow-matching training with candle autograd); `cli` is a thin layer on top.
//! On the ground floor, imported by every layer and importing none of them: `category` (the nine
//! edit categories) and `suite` (the ImgEdit suite reader and writer), beside `checkpoint` and `util`.
pub mod adaptive;
pub mod category;
pub mod checkpoint;
pub mod cli;
pub mod device;
pub mod eval;
/// LoRA loading lives with the rest of checkpoint loading; `physedit::lora` stays its public path.
pub use checkpoint::lora;
pub mod models;
pub mod pipeline;
pub mod processors;
pub mod schedulers;
pub mod serve;
pub mod suite;
pub mod train;
pub mod util;
pub mod world;
