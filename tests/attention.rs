//! The fused CPU attention kernel against the plain candle formulation.
use candle_core::{DType, Device, Tensor};
use physedit::models::attention::{
    naive_attention, naive_attention_with_key_bias, scaled_dot_product_attention,
    scaled_dot_product_attention_blocks, scaled_dot_product_attention_with_key_bias,
};

mod common;
use common::max_abs_diff;

/// Deterministic pseudo-random normal-ish values (sum of uniforms), so failures reproduce.
fn randn(shape: &[usize], seed: u64, std: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32) / ((1u64 << 24) as f32)
    };
    let data: Vec<f32> = (0..n)
        .map(|_| {
            let s: f32 = (0..4).map(|_| next()).sum::<f32>() - 2.0;
            // Sum of 4 U(0,1) has variance 1/3.
            s * std * 3f32.sqrt()
        })
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

/// Machine epsilon of the output dtype: the spacing of values in [1, 2).
fn eps(dtype: DType) -> f32 {
    match dtype {
        DType::F32 => f32::EPSILON,
        DType::F16 => 2f32.powi(-10),
        DType::BF16 => 2f32.powi(-7),
        _ => unreachable!(),
    }
}

/// Compares fused and naive attention element-wise and returns the worst absolute error.
///
/// Tolerance: both paths compute in f32 from the same (identically converted) inputs and differ only
/// in summation order and in the fused kernel's polynomial exp (relative error < 4e-7), so the f32
/// results agree to ~1e-6; we allow 2e-5 absolute (outputs are convex combinations of v, |v| <~ 5).
/// For f16/bf16 outputs, an f32 difference that small can still move the final rounding by one unit
/// in the last place of the output dtype, i.e. up to eps(dtype)·max(|x|, 1); that is the allowance
/// (plus the same 2e-5).
fn check(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64, what: &str) -> f32 {
    let fused = scaled_dot_product_attention(q, k, v, scale).unwrap();
    let naive = naive_attention(q, k, v, scale).unwrap();
    assert_eq!(fused.dims(), naive.dims(), "{what}: shape");
    assert_eq!(fused.dtype(), q.dtype(), "{what}: dtype");
    let e = eps(q.dtype());
    let f: Vec<f32> = fused
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let n: Vec<f32> = naive
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let mut worst = 0f32;
    for (i, (a, b)) in f.iter().zip(&n).enumerate() {
        let err = (a - b).abs();
        let tol = 2e-5
            + if q.dtype() == DType::F32 {
                0.0
            } else {
                e * b.abs().max(1.0)
            };
        assert!(
            err <= tol,
            "{what}: element {i}: fused {a} vs naive {b} (|diff| {err} > tol {tol})"
        );
        assert!(a.is_finite(), "{what}: element {i} not finite");
        worst = worst.max(err);
    }
    eprintln!("{what}: max |fused - naive| = {worst:e}");
    worst
}

fn case(b: usize, h: usize, sq: usize, sk: usize, d: usize, dtype: DType, seed: u64) {
    let q = randn(&[b, h, sq, d], seed, 1.0).to_dtype(dtype).unwrap();
    let k = randn(&[b, h, sk, d], seed + 1, 1.0)
        .to_dtype(dtype)
        .unwrap();
    let v = randn(&[b, h, sk, d], seed + 2, 1.0)
        .to_dtype(dtype)
        .unwrap();
    let scale = 1.0 / (d as f64).sqrt();
    check(
        &q,
        &k,
        &v,
        scale,
        &format!("B{b} H{h} Sq{sq} Sk{sk} D{d} {dtype:?}"),
    );
}

const DTYPES: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

#[test]
fn matches_naive_head_dim_12_odd_sizes() {
    for (i, dt) in DTYPES.into_iter().enumerate() {
        case(2, 3, 77, 130, 12, dt, 10 + i as u64);
    }
}

#[test]
fn matches_naive_head_dim_16_several_key_blocks() {
    // Sk = 1100 spans three key blocks with a ragged last one.
    for (i, dt) in DTYPES.into_iter().enumerate() {
        case(1, 2, 130, 1100, 16, dt, 20 + i as u64);
    }
}

#[test]
fn matches_naive_head_dim_64() {
    for (i, dt) in DTYPES.into_iter().enumerate() {
        case(2, 2, 65, 513, 64, dt, 30 + i as u64);
    }
}

#[test]
fn matches_naive_head_dim_128_cross_attention_like() {
    for (i, dt) in DTYPES.into_iter().enumerate() {
        case(1, 2, 100, 769, 128, dt, 40 + i as u64);
    }
}

#[test]
fn matches_naive_single_query_and_single_key() {
    case(2, 2, 1, 37, 64, DType::F32, 50);
    case(2, 2, 37, 1, 64, DType::F32, 51);
    case(1, 1, 1, 1, 12, DType::BF16, 52);
}

#[test]
fn matches_naive_with_growing_scores_across_key_blocks() {
    // Large, steadily increasing logits force the running maximum to change in every key block,
    // exercising the online-softmax rescaling of already accumulated output.
    let (b, h, sq, sk, d) = (1, 2, 70, 1500, 16);
    let q = (randn(&[b, h, sq, d], 60, 0.3).abs().unwrap() + 1.0).unwrap();
    let ramp = Tensor::arange(0f32, sk as f32, &Device::Cpu)
        .unwrap()
        .affine(3.0 / sk as f64, 0.0)
        .unwrap()
        .reshape((1, 1, sk, 1))
        .unwrap();
    let k = randn(&[b, h, sk, d], 61, 1.0).broadcast_add(&ramp).unwrap();
    let v = randn(&[b, h, sk, d], 62, 1.0);
    for dt in DTYPES {
        let (q, k, v) = (
            q.to_dtype(dt).unwrap(),
            k.to_dtype(dt).unwrap(),
            v.to_dtype(dt).unwrap(),
        );
        check(&q, &k, &v, 1.0, &format!("growing scores {dt:?}"));
    }
}

#[test]
fn matches_naive_with_non_contiguous_inputs() {
    // The views are taken after the dtype conversion so that every dtype sees them as views.
    let (b, h, sq, sk, d) = (2, 3, 45, 90, 64);
    for (i, dt) in DTYPES.into_iter().enumerate() {
        let seed = 70 + 10 * i as u64;
        let r = |shape: &[usize], s: u64| randn(shape, seed + s, 1.0).to_dtype(dt).unwrap();
        // (B, S, H, D) tensors viewed as (B, H, S, D), as produced by a head split without a copy.
        let q = r(&[b, sq, h, d], 0).transpose(1, 2).unwrap();
        let k = r(&[b, sk, h, d], 1).transpose(1, 2).unwrap();
        let v = r(&[b, sk, h, d], 2).transpose(1, 2).unwrap();
        assert!(!q.is_contiguous() && !k.is_contiguous() && !v.is_contiguous());
        check(&q, &k, &v, 0.125, &format!("head-split views {dt:?}"));
        // A view whose last dimension is not unit-stride, and one with a storage offset.
        let k_t = r(&[b, h, d, sk], 3).transpose(2, 3).unwrap();
        let q_off = r(&[b, h, sq + 3, d], 4).narrow(2, 3, sq).unwrap();
        assert!(!k_t.is_contiguous() && q_off.layout().start_offset() > 0);
        check(
            &q_off,
            &k_t,
            &v,
            0.125,
            &format!("strided last dim / offset {dt:?}"),
        );
    }
}

#[test]
fn fused_matches_explicit_softmax_on_tiny_case() {
    // Independent of naive_attention: one query, two keys, computed by hand.
    // scores = [1*1, 1*(-1)] * 0.5 = [0.5, -0.5]; p = [e^0.5, e^-0.5] / (e^0.5 + e^-0.5).
    let q = Tensor::from_vec(vec![1f32], (1, 1, 1, 1), &Device::Cpu).unwrap();
    let k = Tensor::from_vec(vec![1f32, -1.0], (1, 1, 2, 1), &Device::Cpu).unwrap();
    let v = Tensor::from_vec(vec![2f32, 4.0], (1, 1, 2, 1), &Device::Cpu).unwrap();
    let out: Vec<f32> = scaled_dot_product_attention(&q, &k, &v, 0.5)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let (a, b) = (0.5f64.exp(), (-0.5f64).exp());
    let expected = (2.0 * a + 4.0 * b) / (a + b);
    // f32 arithmetic on O(1) values: 1e-6 covers a few ulps.
    assert!(
        (out[0] as f64 - expected).abs() < 1e-6,
        "{} vs {expected}",
        out[0]
    );
}

#[test]
fn rejects_mismatched_shapes_and_dtypes() {
    let q = randn(&[1, 2, 4, 8], 80, 1.0);
    let k = randn(&[1, 2, 5, 8], 81, 1.0);
    let v_bad = randn(&[1, 2, 6, 8], 82, 1.0);
    assert!(scaled_dot_product_attention(&q, &k, &v_bad, 1.0).is_err());
    let k_bad = randn(&[1, 2, 5, 4], 83, 1.0);
    assert!(scaled_dot_product_attention(&q, &k_bad, &k_bad, 1.0).is_err());
    let q3 = randn(&[2, 4, 8], 84, 1.0);
    assert!(scaled_dot_product_attention(&q3, &k, &k, 1.0).is_err());
    let k16 = k.to_dtype(DType::F16).unwrap();
    assert!(scaled_dot_product_attention(&q, &k16, &k16, 1.0).is_err());
}

#[test]
fn matches_naive_with_small_ragged_blocks() {
    // Block sizes that divide neither Sq nor Sk, so every block boundary case (ragged last query
    // block, ragged last key block, many online-softmax steps) occurs. Tolerance as in `check`:
    // f32 paths agree to summation order and the polynomial exp.
    let (b, h, sq, sk, d) = (2, 2, 50, 101, 16);
    let q = randn(&[b, h, sq, d], 90, 1.0);
    let k = randn(&[b, h, sk, d], 91, 1.0);
    let v = randn(&[b, h, sk, d], 92, 1.0);
    let naive = naive_attention(&q, &k, &v, 0.25).unwrap();
    for (bq, bk) in [(1, 1), (7, 33), (16, 100), (64, 7)] {
        let fused = scaled_dot_product_attention_blocks(&q, &k, &v, 0.25, bq, bk).unwrap();
        let err = max_abs_diff(&fused, &naive);
        eprintln!("blocks {bq}x{bk}: max |fused - naive| = {err:e}");
        assert!(err <= 2e-5, "blocks {bq}x{bk}: max |fused - naive| = {err}");
    }
    assert!(scaled_dot_product_attention_blocks(&q, &k, &v, 0.25, 0, 8).is_err());
}

#[test]
fn key_bias_matches_naive_and_duplicated_keys() {
    // 700 keys span two key blocks of the fused kernel (512 + 188), so the bias is read at a block
    // offset too. Tolerance as in `check`: the f32 paths differ in summation order and exp only.
    let (b, h, sq, sk, d) = (2, 3, 40, 700, 16);
    let q = randn(&[b, h, sq, d], 100, 1.0);
    let k = randn(&[b, h, sk, d], 101, 1.0);
    let v = randn(&[b, h, sk, d], 102, 1.0);
    let bias = randn(&[sk], 103, 1.0);
    let fused = scaled_dot_product_attention_with_key_bias(&q, &k, &v, 0.25, Some(&bias)).unwrap();
    let naive = naive_attention_with_key_bias(&q, &k, &v, 0.25, Some(&bias)).unwrap();
    let err = max_abs_diff(&fused, &naive);
    assert!(err <= 2e-5, "biased fused vs naive: {err}");
    // The bias changes the result (so the comparison above is not vacuous).
    let plain = scaled_dot_product_attention(&q, &k, &v, 0.25).unwrap();
    assert!(max_abs_diff(&fused, &plain) > 1e-2);

    // ln(n) on key j equals key j present n times (no naive path involved).
    let (j, n) = (600, 5);
    let mut one_hot = vec![0f32; sk];
    one_hot[j] = (n as f32).ln();
    let bias = Tensor::from_vec(one_hot, sk, &Device::Cpu).unwrap();
    let biased = scaled_dot_product_attention_with_key_bias(&q, &k, &v, 0.25, Some(&bias)).unwrap();
    let dup = |t: &Tensor| {
        let row = t.narrow(2, j, 1).unwrap();
        let mut parts = vec![t.clone()];
        parts.extend(std::iter::repeat_n(row, n - 1));
        Tensor::cat(&parts, 2).unwrap()
    };
    let repeated = scaled_dot_product_attention(&q, &dup(&k), &dup(&v), 0.25).unwrap();
    let err = max_abs_diff(&biased, &repeated);
    assert!(err <= 2e-5, "ln(n) bias vs n copies: {err}");

    // A bias of the wrong length is an error on both paths.
    let short = Tensor::zeros(sk - 1, DType::F32, &Device::Cpu).unwrap();
    assert!(scaled_dot_product_attention_with_key_bias(&q, &k, &v, 0.25, Some(&short)).is_err());
    assert!(naive_attention_with_key_bias(&q, &k, &v, 0.25, Some(&short)).is_err());
}
