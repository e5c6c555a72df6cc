//! Helpers shared by the integration tests (`crate::common` in every test module).
#![allow(dead_code)]
use candle_core::{DType, Tensor};

/// max |a - b|, computed in f32; panics on a shape mismatch.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    max_abs(&(a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap()).unwrap())
}

/// max |a|, computed in f32.
pub fn max_abs(a: &Tensor) -> f32 {
    a.to_dtype(DType::F32)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// `tests/fixtures/<case>`: the committed fixtures written by `tools/reference/`.
pub fn fixture(case: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(case);
    assert!(p.exists(), "missing fixture {}", p.display());
    p
}
