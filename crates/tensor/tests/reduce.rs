//! Reductions and softmax against naive index-by-index f64 references, on random layouts
//! (contiguous, permuted, step-sliced, broadcast), in f64 and f32; and 1 vs 2 threads.

use proptest::prelude::*;
use tapegrad_tensor::testing::{all_close, any_view, cast_view, naive};
use tapegrad_tensor::{Float, Tensor};

/// Tolerances `(rtol, atol)` for a precision: sums of a few hundred values in `[-3, 3]`.
fn tol<T: Float>() -> (f64, f64) {
    if T::DTYPE == "f32" {
        (1e-4, 1e-4)
    } else {
        (1e-11, 1e-11)
    }
}

/// An op's name, its result, and the naive reduction it must match.
type Case<T> = (&'static str, Tensor<T>, fn(&[f64]) -> f64);

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}

fn mean(v: &[f64]) -> f64 {
    sum(v) / v.len() as f64
}

fn var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// First index of the extreme; `better(a, b)` says whether `a` beats `b` strictly.
fn arg(v: &[f64], better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if better(x, v[best]) {
            best = i;
        }
    }
    best as f64
}

fn logsumexp(v: &[f64]) -> f64 {
    let m = max(v);
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

fn softmax(v: &[f64]) -> Vec<f64> {
    let l = logsumexp(v);
    v.iter().map(|x| (x - l).exp()).collect()
}

fn log_softmax(v: &[f64]) -> Vec<f64> {
    let l = logsumexp(v);
    v.iter().map(|x| x - l).collect()
}

/// The axes picked by `mask` among `0..rank`, written negatively when `negative`.
fn pick_axes(rank: usize, mask: &[bool], negative: bool) -> (Vec<isize>, Vec<usize>) {
    let axes: Vec<usize> = (0..rank).filter(|&a| mask[a]).collect();
    let signed = axes
        .iter()
        .map(|&a| {
            if negative {
                a as isize - rank as isize
            } else {
                a as isize
            }
        })
        .collect();
    (signed, axes)
}

/// One axis of `0..rank` from a seed, negative for half the seeds.
fn pick_axis(rank: usize, seed: usize) -> (isize, usize) {
    let a = seed % rank;
    let signed = if seed / rank % 2 == 1 {
        a as isize - rank as isize
    } else {
        a as isize
    };
    (signed, a)
}

fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    (0..shape.len())
        .filter_map(|a| match (axes.contains(&a), keepdim) {
            (false, _) => Some(shape[a]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

fn check_axes_reductions<T: Float>(
    x: &Tensor<T>,
    mask: &[bool],
    negative: bool,
    keepdim: bool,
) -> Result<(), TestCaseError> {
    let (rtol, atol) = tol::<T>();
    let (signed, axes) = pick_axes(x.rank(), mask, negative);
    let shape = reduced_shape(x.shape(), &axes, keepdim);
    let cases: [Case<T>; 3] = [
        ("sum", x.sum(&signed, keepdim), sum),
        ("mean", x.mean(&signed, keepdim), mean),
        ("var", x.var(&signed, keepdim), var),
    ];
    for (name, got, f) in cases {
        let want = naive::reduce(x, &axes, f);
        prop_assert_eq!(got.shape(), &shape[..], "{} shape", name);
        prop_assert!(
            all_close(&got, &want, rtol, atol),
            "{} over {:?} of layout {:?}: got {:?}, want {:?}",
            name,
            signed,
            x.layout(),
            got.to_vec(),
            want
        );
    }
    Ok(())
}

fn check_all_reductions<T: Float>(x: &Tensor<T>) -> Result<(), TestCaseError> {
    let (rtol, atol) = tol::<T>();
    let all: Vec<usize> = (0..x.rank()).collect();
    let cases: [Case<T>; 5] = [
        ("sum_all", x.sum_all(), sum),
        ("mean_all", x.mean_all(), mean),
        ("var_all", x.var_all(), var),
        ("max_all", x.max_all(), max),
        ("min_all", x.min_all(), min),
    ];
    for (name, got, f) in cases {
        prop_assert_eq!(got.rank(), 0);
        let want = naive::reduce(x, &all, f);
        prop_assert!(
            all_close(&got, &want, rtol, atol),
            "{} of layout {:?}: got {}, want {:?}",
            name,
            x.layout(),
            got.item(),
            want
        );
    }
    Ok(())
}

fn check_axis_reductions<T: Float>(
    x: &Tensor<T>,
    seed: usize,
    keepdim: bool,
) -> Result<(), TestCaseError> {
    let (rtol, atol) = tol::<T>();
    let (signed, axis) = pick_axis(x.rank(), seed);
    let shape = reduced_shape(x.shape(), &[axis], keepdim);
    let cases: [Case<T>; 3] = [
        ("max", x.max(signed, keepdim), max),
        ("min", x.min(signed, keepdim), min),
        ("logsumexp", x.logsumexp(signed, keepdim), logsumexp),
    ];
    for (name, got, f) in cases {
        prop_assert_eq!(got.shape(), &shape[..], "{} shape", name);
        let want = naive::reduce(x, &[axis], f);
        prop_assert!(
            all_close(&got, &want, rtol, atol),
            "{} along {} of layout {:?}",
            name,
            signed,
            x.layout()
        );
    }
    let as_f64 = |v: Vec<usize>| v.into_iter().map(|i| i as f64).collect::<Vec<_>>();
    let want = naive::reduce(x, &[axis], |v| arg(v, |a, b| a > b));
    prop_assert_eq!(as_f64(x.argmax(signed)), want);
    let want = naive::reduce(x, &[axis], |v| arg(v, |a, b| a < b));
    prop_assert_eq!(as_f64(x.argmin(signed)), want);
    Ok(())
}

fn check_softmax<T: Float>(x: &Tensor<T>, seed: usize) -> Result<(), TestCaseError> {
    let (rtol, atol) = tol::<T>();
    let (signed, axis) = pick_axis(x.rank(), seed);
    let y = x.softmax(signed);
    prop_assert_eq!(y.shape(), x.shape());
    let want = naive::along_axis(x, axis, softmax);
    prop_assert!(all_close(&y, &want, rtol, atol), "softmax {:?}", x.layout());
    let y = x.log_softmax(signed);
    let want = naive::along_axis(x, axis, log_softmax);
    prop_assert!(
        all_close(&y, &want, rtol, atol),
        "log_softmax {:?}",
        x.layout()
    );
    Ok(())
}

fn check_sum_to<T: Float>(x: &Tensor<T>, drop: usize, ones: &[bool]) -> Result<(), TestCaseError> {
    let (rtol, atol) = tol::<T>();
    let drop = drop.min(x.rank());
    let target: Vec<usize> = x.shape()[drop..]
        .iter()
        .enumerate()
        .map(|(i, &d)| if ones[i] { 1 } else { d })
        .collect();
    let axes: Vec<usize> = (0..x.rank())
        .filter(|&a| a < drop || (target[a - drop] == 1 && x.shape()[a] != 1))
        .collect();
    let got = x.sum_to(&target);
    prop_assert_eq!(got.shape(), &target[..]);
    let want = naive::reduce(x, &axes, sum);
    prop_assert!(all_close(&got, &want, rtol, atol), "sum_to {:?}", target);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sum_mean_var_over_axes_match_naive(
        x in any_view(4, 5),
        mask in proptest::collection::vec(any::<bool>(), 4),
        negative in any::<bool>(),
        keepdim in any::<bool>(),
    ) {
        check_axes_reductions(&x, &mask, negative, keepdim)?;
        check_axes_reductions(&cast_view::<f32>(&x), &mask, negative, keepdim)?;
    }

    #[test]
    fn whole_tensor_reductions_match_naive(x in any_view(4, 5)) {
        check_all_reductions(&x)?;
        check_all_reductions(&cast_view::<f32>(&x))?;
    }

    #[test]
    fn max_min_arg_logsumexp_match_naive(
        x in any_view(4, 5),
        seed in 0usize..16,
        keepdim in any::<bool>(),
    ) {
        check_axis_reductions(&x, seed, keepdim)?;
        check_axis_reductions(&cast_view::<f32>(&x), seed, keepdim)?;
    }

    #[test]
    fn softmax_and_log_softmax_match_naive(x in any_view(4, 5), seed in 0usize..16) {
        check_softmax(&x, seed)?;
        check_softmax(&cast_view::<f32>(&x), seed)?;
    }

    #[test]
    fn sum_to_matches_naive(
        x in any_view(4, 5),
        drop in 0usize..4,
        ones in proptest::collection::vec(any::<bool>(), 4),
    ) {
        check_sum_to(&x, drop, &ones)?;
        check_sum_to(&cast_view::<f32>(&x), drop, &ones)?;
    }
}

/// Deterministic, irregular values in roughly `[-4, 4]`, so sums depend on association.
fn wobbly(shape: &[usize]) -> Tensor<f32> {
    Tensor::from_fn(shape, |ix| {
        let k = ix
            .iter()
            .fold(0u64, |h, &i| h.wrapping_mul(1_000_003) ^ i as u64);
        let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        (h as f32 / (1u64 << 24) as f32 - 0.5) * 8.0 + 1e-3
    })
}

/// The bits of every result the determinism test compares.
fn fingerprints(x: &Tensor<f32>, long: &Tensor<f32>) -> Vec<Vec<u32>> {
    let bits = |t: Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect();
    vec![
        bits(x.sum_all()),
        bits(x.sum(&[0], false)),
        bits(x.sum(&[1], false)),
        bits(x.t().sum(&[1], false)),
        bits(x.mean(&[0], false)),
        bits(x.var(&[1], false)),
        bits(x.softmax(1)),
        bits(x.softmax(0)),
        bits(x.log_softmax(-1)),
        bits(x.logsumexp(0, false)),
        bits(long.sum_all()),
        bits(long.var_all()),
        bits(long.reshape(&[4, 1 << 16]).sum(&[1], false)),
        // Outer walk: few outputs over many reduced blocks, and many outputs in column tasks.
        bits(long.reshape(&[1 << 12, 64]).sum(&[0], false)),
        bits(long.reshape(&[1 << 12, 64]).var(&[0], true)),
        bits(long.reshape(&[16, 1 << 14]).sum(&[0], false)),
    ]
}

#[test]
fn one_and_two_threads_give_identical_bits() {
    let x = wobbly(&[512, 384]);
    let long = wobbly(&[1 << 18]);
    assert!(x.numel() >= 1 << 17);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fingerprints(&x, &long))
    };
    let one = run(1);
    let two = run(2);
    for (i, (a, b)) in one.iter().zip(&two).enumerate() {
        assert!(a == b, "result {i} differs between 1 and 2 threads");
    }
    // The parallel paths compute the same values as a naive f64 sum, to f32 accuracy.
    let want: f64 = x.to_vec().iter().map(|&v| v as f64).sum();
    let got = x.sum_all().item() as f64;
    assert!(
        (got - want).abs() < 1e-3 * (1.0 + want.abs()),
        "{got} vs {want}"
    );
}
