//! Subcommand argument structs and their `run` functions. No model math lives here.
pub mod args;
pub mod bench;
pub mod calibrate;
pub mod card;
pub mod cost;
pub mod edit;
pub mod lora;
pub mod memory;
pub mod plan;
pub mod quantize;
pub mod score;
pub mod serve;
pub mod worker;
pub mod world;
