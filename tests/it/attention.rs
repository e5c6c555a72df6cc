//! The fused CPU attention kernel and the query-chunked path against the plain candle
//! formulation; the kernel choice.
use candle_core::{DType, Device, Tensor};
use physedit::models::attention::{
    attention, chunked_attention, chunked_attention_blocks, flash_attention, flash_supports,
    naive_attention, naive_attention_with_key_bias, resolve_kernel, scaled_dot_product_attention,
    scaled_dot_product_attention_blocks, scaled_dot_product_attention_with_key_bias,
    with_attention_config, AttentionConfig, AttentionKernel, ChunkPlan, ATTENTION_ENV,
    DEFAULT_SCORE_BUDGET_BYTES, FLASH_ATTENTION_BUILT,
};

use crate::common::max_abs_diff;

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

// ---------------------------------------------------------------------------------------------
// Query-chunked attention.

/// Asserts `got` equals `want` element-wise within the tolerance of `check`: 2e-5 absolute for the
/// f32 paths (same f32 products and softmax, differing only in summation order, in the chunked
/// path folding the scale into the queries (one rounding of q·scale) and in the fused kernel's
/// polynomial exp), plus, for half-precision outputs, one unit in the last place of the output
/// dtype (eps·max(|x|, 1)): two f32 results that close can round to neighbouring values.
fn assert_close(got: &Tensor, want: &Tensor, what: &str) -> f32 {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let e = eps(got.dtype());
    let flat = |t: &Tensor| -> Vec<f32> {
        t.to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let (g, w) = (flat(got), flat(want));
    let mut worst = 0f32;
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let err = (a - b).abs();
        let tol = 2e-5
            + if got.dtype() == DType::F32 {
                0.0
            } else {
                e * b.abs().max(1.0)
            };
        assert!(
            a.is_finite() && err <= tol,
            "{what}: element {i}: {a} vs {b} (|diff| {err} > tol {tol})"
        );
        worst = worst.max(err);
    }
    eprintln!("{what}: max |diff| = {worst:e}");
    worst
}

#[test]
fn chunked_matches_fused_and_naive() {
    // (B, H, Sq, Sk, D); Sk = 700 spans two key blocks of the fused kernel.
    let shapes = [(2, 3, 37, 130, 16), (1, 2, 50, 700, 64), (2, 2, 1, 9, 8)];
    // (head group, query chunk): chunk size 1, ragged last chunk (37 = 3·12 + 1, 50 = 4·12 + 2),
    // a chunk larger than the query count (one partly filled chunk), split heads with ragged groups.
    let blocks = [
        (usize::MAX, 1),
        (usize::MAX, 12),
        (usize::MAX, 64),
        (1, 12),
        (4, 7),
    ];
    for (si, &(b, h, sq, sk, d)) in shapes.iter().enumerate() {
        let seed = 200 + 10 * si as u64;
        let q = randn(&[b, h, sq, d], seed, 1.0);
        let k = randn(&[b, h, sk, d], seed + 1, 1.0);
        let v = randn(&[b, h, sk, d], seed + 2, 1.0);
        let bias = randn(&[sk], seed + 3, 1.0);
        let scale = 1.0 / (d as f64).sqrt();
        for dt in [DType::F32, DType::BF16] {
            let (q, k, v) = (
                q.to_dtype(dt).unwrap(),
                k.to_dtype(dt).unwrap(),
                v.to_dtype(dt).unwrap(),
            );
            for key_bias in [None, Some(&bias)] {
                let fused = scaled_dot_product_attention_with_key_bias(&q, &k, &v, scale, key_bias)
                    .unwrap();
                let naive = naive_attention_with_key_bias(&q, &k, &v, scale, key_bias).unwrap();
                for &(hg, qc) in &blocks {
                    let hg = hg.min(b * h);
                    let chunked =
                        chunked_attention_blocks(&q, &k, &v, scale, key_bias, hg, qc).unwrap();
                    let what = format!(
                        "B{b} H{h} Sq{sq} Sk{sk} D{d} {dt:?} bias {} blocks {hg}x{qc}",
                        key_bias.is_some()
                    );
                    assert_close(&chunked, &naive, &format!("{what}: chunked vs naive"));
                    assert_close(&chunked, &fused, &format!("{what}: chunked vs fused"));
                }
                // Through the public entry points: the default budget (one block here) and the
                // dispatcher with the kernel forced.
                let by_budget =
                    chunked_attention(&q, &k, &v, scale, key_bias, DEFAULT_SCORE_BUDGET_BYTES)
                        .unwrap();
                assert_close(&by_budget, &naive, "default budget vs naive");
                let cfg = AttentionConfig {
                    kernel: AttentionKernel::Chunked,
                    score_budget_bytes: 4 * sk * 5,
                };
                let forced = attention(&q, &k, &v, scale, key_bias, &cfg).unwrap();
                assert_close(&forced, &naive, "forced chunked vs naive");
            }
        }
    }
}

#[test]
fn chunked_key_bias_is_applied() {
    // The biased and unbiased chunked results differ, so the bias comparisons above are not vacuous.
    let (b, h, sq, sk, d) = (1, 2, 20, 40, 16);
    let q = randn(&[b, h, sq, d], 300, 1.0);
    let k = randn(&[b, h, sk, d], 301, 1.0);
    let v = randn(&[b, h, sk, d], 302, 1.0);
    let bias = randn(&[sk], 303, 1.0);
    let plain = chunked_attention_blocks(&q, &k, &v, 0.25, None, 1, 3).unwrap();
    let biased = chunked_attention_blocks(&q, &k, &v, 0.25, Some(&bias), 1, 3).unwrap();
    assert!(max_abs_diff(&plain, &biased) > 1e-2);
    let short = Tensor::zeros(sk - 1, DType::F32, &Device::Cpu).unwrap();
    assert!(chunked_attention(&q, &k, &v, 0.25, Some(&short), 1 << 20).is_err());
    assert!(chunked_attention(&q, &k, &v, 0.25, None, 0).is_err());
    assert!(chunked_attention_blocks(&q, &k, &v, 0.25, None, 0, 4).is_err());
    assert!(chunked_attention_blocks(&q, &k, &v, 0.25, None, 1, 0).is_err());
}

#[test]
fn chunk_plan_stays_within_the_budget_as_tokens_grow() {
    // The 14B self-attention shape at 480x832: B·H = 2·40, 12 480 keys.
    let budget = DEFAULT_SCORE_BUDGET_BYTES;
    let budget_elems = budget / 4;
    let plan = ChunkPlan::new(80, 12_480, 12_480, budget).unwrap();
    assert_eq!((plan.head_group, plan.query_chunk), (80, 268));
    assert!(plan.peak_score_elems() <= budget_elems);
    // Its full score matrix would be ~50 GB, 46x the budget.
    assert!(80 * 12_480 * 12_480 * 4 > 46 * budget);

    // Self-attention (Sq = Sk) as the token count grows: the block stays under the budget and,
    // once Sq exceeds a chunk, is the budget rounded down to whole query rows.
    let mut last_chunk = usize::MAX;
    for tokens in [1_000, 5_000, 12_480, 50_000, 200_000, 1_000_000] {
        let plan = ChunkPlan::new(80, tokens, tokens, budget).unwrap();
        let peak = plan.peak_score_elems();
        eprintln!(
            "tokens {tokens}: {} heads x {} queries, peak {peak} elems",
            plan.head_group, plan.query_chunk
        );
        assert!(peak <= budget_elems, "tokens {tokens}: peak {peak}");
        assert!(plan.query_chunk <= last_chunk);
        last_chunk = plan.query_chunk;
    }
    // Fixed keys, growing queries (cross-attention, 512 keys: 6553 queries per block): the block
    // grows with Sq only until Sq fills one block, and never past the budget.
    let peaks: Vec<usize> = [300, 3_000, 30_000, 300_000, 3_000_000]
        .iter()
        .map(|&sq| {
            ChunkPlan::new(80, sq, 512, budget)
                .unwrap()
                .peak_score_elems()
        })
        .collect();
    assert!(peaks.iter().all(|&p| p <= budget_elems), "{peaks:?}");
    assert!(peaks.windows(2).all(|w| w[0] <= w[1]), "{peaks:?}");
    assert!(
        peaks[2..].iter().all(|&p| p == 6553 * 80 * 512),
        "{peaks:?}"
    );
    // A budget below one query over all heads splits the heads; below one key row, a single row.
    let plan = ChunkPlan::new(80, 10, 1000, 4 * 1000 * 7).unwrap();
    assert_eq!((plan.head_group, plan.query_chunk), (7, 1));
    let plan = ChunkPlan::new(80, 10, 1000, 4).unwrap();
    assert_eq!((plan.head_group, plan.query_chunk), (1, 1));
    assert_eq!(plan.peak_score_elems(), 1000);
    assert!(ChunkPlan::new(80, 10, 1000, 0).is_err());
}

#[test]
fn chunk_plan_blocks_tile_the_grid_once() {
    for (heads, sq, sk, budget) in [
        (6, 37, 130, 4 * 130 * 6 * 5),
        (6, 37, 130, 4 * 130 * 4),
        (80, 12_480, 12_480, DEFAULT_SCORE_BUDGET_BYTES),
        (3, 5, 9, 1 << 20),
    ] {
        let plan = ChunkPlan::new(heads, sq, sk, budget).unwrap();
        let mut seen = vec![0u8; heads * sq];
        for (hr, qr) in plan.blocks() {
            assert!(!hr.is_empty() && !qr.is_empty());
            assert!(hr.len() * qr.len() * sk <= plan.peak_score_elems());
            for h in hr {
                for q in qr.clone() {
                    seen[h * sq + q] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "{plan:?}");
    }
}

#[test]
fn chunked_runs_where_the_full_matrix_exceeds_the_budget() {
    // 2 heads x 2048 x 2048 f32 scores would take 32 MiB; with a 1 MiB budget the chunked path
    // works in 32 blocks of 64 queries and matches the fused kernel (tolerance as in `assert_close`).
    let (b, h, s, d) = (1, 2, 2048, 16);
    let budget = 1 << 20;
    let plan = ChunkPlan::new(b * h, s, s, budget).unwrap();
    assert_eq!(b * h * s * s * 4, 32 * budget);
    assert_eq!((plan.head_group, plan.query_chunk), (2, 64));
    assert_eq!(plan.blocks().count(), 32);
    let q = randn(&[b, h, s, d], 400, 1.0);
    let k = randn(&[b, h, s, d], 401, 1.0);
    let v = randn(&[b, h, s, d], 402, 1.0);
    let bias = randn(&[s], 403, 0.5);
    let chunked = chunked_attention(&q, &k, &v, 0.25, Some(&bias), budget).unwrap();
    let fused = scaled_dot_product_attention_with_key_bias(&q, &k, &v, 0.25, Some(&bias)).unwrap();
    assert_close(&chunked, &fused, "2048 tokens, 1 MiB budget");
}

#[test]
fn chunked_gradients_match_naive() {
    // The chunked path is composed of differentiable ops: gradients with respect to q, k, v and
    // the bias equal the naive path's. f32 throughout; 1e-4 absolute covers the summation-order
    // differences of the forward (2e-5) carried through the softmax backward on O(1) values.
    use candle_core::Var;
    let (b, h, sq, sk, d) = (1, 2, 9, 11, 8);
    let vars: Vec<Var> = [
        randn(&[b, h, sq, d], 500, 1.0),
        randn(&[b, h, sk, d], 501, 1.0),
        randn(&[b, h, sk, d], 502, 1.0),
        randn(&[sk], 503, 1.0),
    ]
    .iter()
    .map(|t| Var::from_tensor(t).unwrap())
    .collect();
    let weights = randn(&[b, h, sq, d], 504, 1.0);
    let grads = |out: Tensor| {
        let loss = (out * &weights).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        vars.iter()
            .map(|v| g.get(v.as_tensor()).unwrap().clone())
            .collect::<Vec<_>>()
    };
    let [q, k, v, bias] = [0, 1, 2, 3].map(|i| vars[i].as_tensor().clone());
    let chunked = grads(chunked_attention_blocks(&q, &k, &v, 0.3, Some(&bias), 1, 4).unwrap());
    let naive = grads(naive_attention_with_key_bias(&q, &k, &v, 0.3, Some(&bias)).unwrap());
    for (i, (c, n)) in chunked.iter().zip(&naive).enumerate() {
        let err = max_abs_diff(c, n);
        assert!(err <= 1e-4, "gradient {i}: max |diff| {err}");
        assert!(crate::common::max_abs(n) > 1e-3, "gradient {i} is zero");
    }
}

// ---------------------------------------------------------------------------------------------
// The kernel choice.

#[test]
fn kernel_resolution() {
    use AttentionKernel::*;
    // (requested, on CPU, tracks gradients, flash attention supports the call) -> run.
    for (req, cpu, grad, flash, want) in [
        (Auto, true, false, false, Fused),
        (Auto, true, true, false, Naive),
        (Auto, false, false, false, Chunked),
        (Auto, false, true, false, Chunked),
        (Auto, false, false, true, Flash),
        (Fused, true, false, false, Fused),
        (Fused, true, true, false, Naive),
        (Fused, false, false, false, Chunked),
        (Fused, false, false, true, Flash),
        (Flash, false, false, true, Flash),
        (Flash, false, false, false, Chunked),
        (Flash, true, false, false, Fused),
        (Flash, true, true, false, Naive),
        (Chunked, true, false, false, Chunked),
        (Chunked, true, true, false, Chunked),
        (Chunked, false, false, true, Chunked),
        (Naive, true, false, false, Naive),
        (Naive, false, false, false, Naive),
        (Naive, false, false, true, Naive),
    ] {
        assert_eq!(
            resolve_kernel(req, cpu, grad, flash),
            want,
            "{req:?} cpu {cpu} grad {grad} flash {flash}"
        );
    }
    assert_eq!(AttentionKernel::parse(" Chunked ").unwrap(), Chunked);
    assert_eq!(AttentionKernel::parse("naive").unwrap(), Naive);
    assert_eq!(AttentionKernel::parse("FUSED").unwrap(), Fused);
    assert_eq!(AttentionKernel::parse("Flash").unwrap(), Flash);
    assert_eq!(AttentionKernel::parse("auto").unwrap(), Auto);
    for k in [Auto, Fused, Flash, Chunked, Naive] {
        assert_eq!(AttentionKernel::parse(k.name()).unwrap(), k);
    }
    assert_eq!(AttentionKernel::from_env_value(None).unwrap(), Auto);
    assert_eq!(AttentionKernel::from_env_value(Some("")).unwrap(), Auto);
    let err = AttentionKernel::from_env_value(Some("flashy")).unwrap_err();
    assert!(
        err.contains("PHYSEDIT_ATTENTION=flashy") && err.contains("flash, chunked"),
        "{err}"
    );
}

/// Flash attention needs CUDA: on the CPU no call qualifies (in any build), forcing it runs the
/// fused kernel (bit for bit), and calling it directly is an error that says what it needs.
#[test]
fn flash_request_falls_back_off_cuda() {
    let q = randn(&[1, 2, 9, 16], 700, 1.0);
    let k = randn(&[1, 2, 11, 16], 701, 1.0);
    let v = randn(&[1, 2, 11, 16], 702, 1.0);
    for dtype in [DType::F32, DType::BF16, DType::F16] {
        let (q, k, v) = (
            q.to_dtype(dtype).unwrap(),
            k.to_dtype(dtype).unwrap(),
            v.to_dtype(dtype).unwrap(),
        );
        assert!(
            !flash_supports(&q, &k, &v, None, false),
            "{dtype:?} on the CPU"
        );
        let forced = AttentionConfig {
            kernel: AttentionKernel::Flash,
            ..AttentionConfig::default()
        };
        let out = attention(&q, &k, &v, 0.25, None, &forced).unwrap();
        let fused = scaled_dot_product_attention(&q, &k, &v, 0.25).unwrap();
        assert_eq!(out.dtype(), dtype);
        assert_eq!(
            max_abs_diff(
                &out.to_dtype(DType::F32).unwrap(),
                &fused.to_dtype(DType::F32).unwrap()
            ),
            0.0,
            "{dtype:?}: forced flash on the CPU must be the fused kernel"
        );
        let err = flash_attention(&q, &k, &v, 0.25).unwrap_err().to_string();
        assert!(err.contains("CUDA") && err.contains("flash-attn"), "{err}");
        if !FLASH_ATTENTION_BUILT {
            assert!(err.contains("this build has none"), "{err}");
        }
    }
}

#[test]
fn thread_override_reaches_the_dispatcher_and_is_restored() {
    let q = randn(&[1, 2, 6, 8], 600, 1.0);
    let k = randn(&[1, 2, 7, 8], 601, 1.0);
    let before = AttentionConfig::current().unwrap();
    // A zero budget is an error of the chunked path only, so an error proves the override chose it.
    let bad = AttentionConfig {
        kernel: AttentionKernel::Chunked,
        score_budget_bytes: 0,
    };
    let run = || {
        let cfg = AttentionConfig::current().unwrap();
        attention(&q, &k, &k, 0.5, None, &cfg)
    };
    let err = with_attention_config(bad, run).unwrap_err();
    assert!(err.to_string().contains("budget"), "{err}");
    // Nested overrides: the inner one wins and the outer one comes back.
    let naive = AttentionConfig {
        kernel: AttentionKernel::Naive,
        score_budget_bytes: 0,
    };
    with_attention_config(bad, || {
        assert!(with_attention_config(naive, run).is_ok());
        assert_eq!(AttentionConfig::current().unwrap(), bad);
    });
    // Restored after a panic too.
    let caught = std::panic::catch_unwind(|| with_attention_config(bad, || panic!("inside")));
    assert!(caught.is_err());
    assert_eq!(AttentionConfig::current().unwrap(), before);
    assert!(run().is_ok());
}

/// Prints the configuration this process resolves from the environment; run as a child process by
/// `environment_variable_selects_the_kernel` (so the variable is never set in this process).
#[test]
#[ignore = "child process of environment_variable_selects_the_kernel"]
fn env_probe() {
    match AttentionConfig::current() {
        Ok(cfg) => println!("KERNEL={:?}", cfg.kernel),
        Err(e) => println!("ERROR={e}"),
    }
}

#[test]
fn environment_variable_selects_the_kernel() {
    let probe = |value: Option<&str>| -> String {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "attention::env_probe",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ]);
        match value {
            Some(v) => cmd.env(ATTENTION_ENV, v),
            None => cmd.env_remove(ATTENTION_ENV),
        };
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "probe failed: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        // The harness prints "test env_probe ... " before the probe's own line.
        stdout
            .lines()
            .find_map(|l| {
                ["KERNEL=", "ERROR="]
                    .iter()
                    .find_map(|m| l.find(m))
                    .map(|at| l[at..].to_string())
            })
            .unwrap_or_else(|| panic!("no probe output in {stdout}"))
    };
    assert_eq!(probe(None), "KERNEL=Auto");
    assert_eq!(probe(Some("chunked")), "KERNEL=Chunked");
    assert_eq!(probe(Some("NAIVE")), "KERNEL=Naive");
    assert_eq!(probe(Some("flash")), "KERNEL=Flash");
    let err = probe(Some("flashattn"));
    assert!(
        err.starts_with("ERROR=") && err.contains("PHYSEDIT_ATTENTION=flashattn"),
        "{err}"
    );
}
