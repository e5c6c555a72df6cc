//! Pipelines: glue between models and schedulers, no model math. Pre- and postprocessing live in
//! [`crate::processors`].
//!
//! * [`chronoedit`]: the edit pipeline (encode, condition, denoise with temporal reasoning, decode);
//! * [`request`]: what one edit asks for and what its adaptive parts report (types only);
//! * [`hooks`]: the seams of its denoising loop, one [`hooks::DenoiseHook`] per technique;
//! * [`guidance`]: classifier-free guidance around the transformer (one guided prediction a step);
//! * [`srm_hook`]: the spatial reasoning mask as a hook;
//! * [`rpfi_hook`]: region-preserving feature injection as a hook;
//! * [`region_hook`]: region-aware denoising (the unedited region held) as a hook;
//! * [`reasoning_hook`]: caching across the reasoning frames (computed every k-th step) as a hook;
//! * [`planned`]: one edit from an instruction (plan, overrides, size, pipeline, picture), the route
//!   `physedit edit` and `physedit serve` share;
//! * [`offload`]: where the modules live between uses (encoders released after encoding,
//!   `--offload`).
pub mod chronoedit;
pub mod guidance;
pub mod hooks;
pub mod offload;
pub mod planned;
pub mod reasoning_hook;
pub mod region_hook;
pub mod request;
pub mod rpfi_hook;
pub mod srm_hook;
