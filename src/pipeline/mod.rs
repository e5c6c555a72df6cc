//! Pipelines: glue between models and schedulers, no model math. Pre- and postprocessing live in
//! [`crate::processors`].
//!
//! * [`chronoedit`]: the edit pipeline (encode, condition, denoise with temporal reasoning, decode);
//! * [`hooks`]: the seams of its denoising loop, one [`hooks::DenoiseHook`] per technique;
//! * [`guidance`]: classifier-free guidance around the transformer (one guided prediction a step);
//! * [`offload`]: where the modules live between uses (encoders released after encoding,
//!   `--offload`);
//! * [`srm_hook`]: the spatial reasoning mask as a hook.
pub mod chronoedit;
pub mod guidance;
pub mod hooks;
pub mod offload;
pub mod srm_hook;
