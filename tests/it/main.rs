//! The integration tests, one crate (one link of the library and its dependencies instead of one
//! per file). `cargo test --test it MODULE::` runs one file's tests.
mod common;

mod accel;
mod adaptive;
mod attention;
mod bench;
mod bundled;
mod checkpoint;
mod cli;
mod clip_score;
mod encoders;
mod hub;
mod layers;
mod lora;
mod memory;
mod offload;
mod pipeline;
mod recipes;
mod schedulers;
mod serve;
mod serve_edge;
mod serve_queue;
mod srm;
mod train;
mod transformer;
mod vae;
mod web;
mod web_browser;
mod weights;
mod world;
