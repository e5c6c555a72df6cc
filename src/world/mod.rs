//! Procedural physics world with ground truth: edit cases for training and for measuring quality.
//!
//! A scene ([`scene::Scene`]) is a floor, a background (plain, gradient, diagonal stripes, checker),
//! an optional ramp and 2-6 objects (ball, box, triangle, ring, cup; eight colours; solid, striped or
//! dotted; three sizes). Objects rest on the floor, on a box, on the ramp's platform, or hang from a
//! string. The picture is rendered ([`render::render`]) in one of four styles: flat, outlined,
//! pixelated, noisy. Everything is deterministic from a seed ([`rng::Rng`], SplitMix64).
//!
//! Edits ([`edits::make_edit`]) cover ImgEdit's nine categories:
//! `adjust` (recolour / retexture), `style`, `background`, `add` (beside an object, on a box, at the
//! far end of the floor), `remove`, `replace`, `extract` (the object alone on white), `action`
//! (push until contact, drop from the string, roll down the ramp, topple a stack, stack one on a
//! box: simulated, with intermediate frames) and `compose` (two edits in one instruction).
//! Instructions come from several templates per edit and several referring-expression forms
//! ([`lang`]); templates and forms marked `test_only` appear only in the test split.
//!
//! A case ([`edits::generate_case`]) is kept only if the target obeys physics, the edit mask (pixels
//! that change) is non-empty, and the checker ([`check::Check`]) accepts the target and rejects the
//! source; `CaseMeta::{attempts, target_fail, source_pass}` record how often each happened.
//!
//! # Suite layout (`physedit world generate --format suite`)
//!
//! ```text
//! DIR/suite.json        ImgEdit format: { key: {id: "images/<key>.png", prompt, edit_type} };
//!                       ids are relative to DIR (the images root)
//! DIR/images/<key>.png  source pictures
//! DIR/targets/<key>.png ground-truth targets
//! DIR/masks/<key>.png   ground-truth edit masks (white = pixel changes)
//! DIR/frames/<key>.png  the F-2 intermediate frames side by side ((F-2)*size wide)
//! DIR/cases.jsonl       one `CaseMeta` per line: category, kind, prompt, template ids,
//!                       trajectory ("simulated" for action, "crossfade" for edits without motion,
//!                       "mixed" for compose with an action part: the parts play in turn), both scenes,
//!                       the checks used by `world eval`
//! ```
//!
//! # Shard layout (`physedit world generate --format shards`)
//!
//! `shard-NNNNN.safetensors` (B cases, S = `--size`, F = `--frames`), all tensors `U8`:
//!
//! | name        | shape             | content                                              |
//! |-------------|-------------------|------------------------------------------------------|
//! | `source`    | `[B, S, S, 3]`    | source RGB                                           |
//! | `target`    | `[B, S, S, 3]`    | target RGB                                           |
//! | `mask`      | `[B, S, S]`       | 1 where the pixel changes, else 0                    |
//! | `frames`    | `[B, F, S, S, 3]` | trajectory, frame 0 = source, frame F-1 = target     |
//! | `category`  | `[B]`             | index into the `categories` metadata list            |
//! | `trajectory` | `[B]`            | 0: cross-fade, 1: simulated motion, 2: both (compose) |
//!
//! Metadata: `format` = `physedit-world-shard-v1`, `categories` (comma-separated, in
//! [`edits::Category::ALL`] order), `size`, `n_frames`. Beside it, `shard-NNNNN.jsonl` holds one
//! line per case in the same order: `key, prompt, edit_type, kind, trajectory, templates, index`.
//! In Rust, [`edits::CaseStream`] yields the same cases without touching the disk.
//!
//! # Evaluation (`physedit world eval`)
//!
//! PSNR to the target over the whole picture, inside and outside the true edit mask (identical
//! pixels give [`check::PSNR_CAP`] = 100 dB); success = every check of the case passes (checks read
//! colours, shapes, positions, textures, style and background from the picture) and every object the
//! edit leaves alone is still drawn where it was ([`evaluate::kept_checks`]); IoU of predicted masks
//! against the true mask.
pub mod check;
pub mod edits;
pub mod evaluate;
pub mod io;
pub mod lang;
pub mod render;
pub mod rng;
pub mod scene;

pub use edits::{generate_case, Case, CaseMeta, CaseStream, Category, GenConfig, Trajectory};
pub use lang::Split;
