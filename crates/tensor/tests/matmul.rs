//! `matmul` against a naive triple loop in `f64`, on random shapes (vectors, matrices, broadcast
//! batches) and random layouts (contiguous, transposed, step-sliced, reversed, broadcast batch),
//! in `f32` and `f64`.

use proptest::prelude::*;
use tapegrad_tensor::testing::{all_close, indices};
use tapegrad_tensor::{Float, Tensor};

/// Layouts an operand can take; each is built from the same logical values.
const KINDS: usize = 6;

/// A tensor of `shape` holding `values[..numel]` in row-major logical order, laid out by `kind`.
fn build<T: Float>(shape: &[usize], values: &[f64], kind: usize) -> Tensor<T> {
    let n: usize = shape.iter().product();
    let rank = shape.len();
    let logical = |shape: &[usize]| {
        Tensor::<T>::from_vec(values[..n].iter().map(|&v| T::from_f64(v)).collect(), shape)
    };
    match kind {
        // Stored with the last two axes swapped, viewed back: column stride ≠ 1, as `b.t()`.
        1 if rank >= 2 => {
            let t = logical(shape).transpose(-2, -1).contiguous();
            t.transpose(-2, -1)
        }
        // Every other column of a buffer twice as wide.
        2 if rank >= 1 => {
            let mut wide = shape.to_vec();
            wide[rank - 1] *= 2;
            let big = Tensor::<T>::from_fn(&wide, |ix| {
                if ix[rank - 1] % 2 == 1 {
                    let mut own = ix.to_vec();
                    own[rank - 1] /= 2;
                    T::from_f64(values[flat(shape, &own)])
                } else {
                    T::from_f64(f64::NAN)
                }
            });
            // Starting at 1 puts the view at a nonzero offset; an empty axis has no element 1.
            big.slice(-1, 1.min(wide[rank - 1]), wide[rank - 1], 2)
        }
        // Every other row (first axis) of a buffer twice as tall.
        3 if rank >= 1 => {
            let mut tall = shape.to_vec();
            tall[0] *= 2;
            let big = Tensor::<T>::from_fn(&tall, |ix| {
                if ix[0] % 2 == 0 {
                    let mut own = ix.to_vec();
                    own[0] /= 2;
                    T::from_f64(values[flat(shape, &own)])
                } else {
                    T::from_f64(f64::NAN)
                }
            });
            big.slice(0, 0, tall[0], 2)
        }
        // All axes reversed in storage: no stride is 1 on the last axis.
        4 if rank >= 2 => {
            let perm: Vec<isize> = (0..rank as isize).rev().collect();
            logical(shape).permute(&perm).contiguous().permute(&perm)
        }
        // A batch operand broadcast from a single matrix along its first axis.
        5 if rank >= 3 => {
            let mut one = shape.to_vec();
            one[0] = 1;
            let m: usize = one.iter().product();
            let small =
                Tensor::<T>::from_vec(values[..m].iter().map(|&v| T::from_f64(v)).collect(), &one);
            small.broadcast_to(shape)
        }
        _ => logical(shape),
    }
}

fn flat(shape: &[usize], index: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// PyTorch's `matmul` computed index by index in `f64` from each operand's `get`.
fn naive_matmul<T: Float>(a: &Tensor<T>, b: &Tensor<T>) -> (Vec<f64>, Vec<usize>) {
    let (lv, rv) = (a.rank() == 1, b.rank() == 1);
    let mut ls = a.shape().to_vec();
    let mut rs = b.shape().to_vec();
    if lv {
        ls.insert(0, 1);
    }
    if rv {
        rs.push(1);
    }
    let (lr, rr) = (ls.len(), rs.len());
    let (m, k, n) = (ls[lr - 2], ls[lr - 1], rs[rr - 1]);
    let batch_rank = (lr - 2).max(rr - 2);
    let batch: Vec<usize> = (0..batch_rank)
        .map(|i| {
            let pick = |s: &[usize], r: usize| {
                if i + r >= batch_rank {
                    s[i + r - batch_rank]
                } else {
                    1
                }
            };
            pick(&ls, lr - 2).max(pick(&rs, rr - 2))
        })
        .collect();
    // `tail` is the index within the matrix, or within the vector for a 1-D operand.
    let read = |t: &Tensor<T>, batch_ix: &[usize], tail: &[usize]| {
        let own_batch = t.rank() - tail.len();
        let mut ix: Vec<usize> = (0..own_batch)
            .map(|i| {
                if t.shape()[i] == 1 {
                    0
                } else {
                    batch_ix[batch_ix.len() - own_batch + i]
                }
            })
            .collect();
        ix.extend_from_slice(tail);
        t.get(&ix).to_f64()
    };
    let mut out = Vec::new();
    for bi in indices(&batch) {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0;
                for p in 0..k {
                    let x = if lv {
                        read(a, &bi, &[p])
                    } else {
                        read(a, &bi, &[i, p])
                    };
                    let y = if rv {
                        read(b, &bi, &[p])
                    } else {
                        read(b, &bi, &[p, j])
                    };
                    acc += x * y;
                }
                out.push(acc);
            }
        }
    }
    let mut shape = batch;
    if !lv {
        shape.push(m);
    }
    if !rv {
        shape.push(n);
    }
    (out, shape)
}

/// Shapes of a matmul pair: a shared batch with random axes set to 1 or dropped per side, and
/// `m, k, n` up to 5, where either side may be a plain vector.
#[derive(Debug, Clone)]
struct Case {
    lhs: Vec<usize>,
    rhs: Vec<usize>,
    lhs_kind: usize,
    rhs_kind: usize,
    lhs_values: Vec<f64>,
    rhs_values: Vec<f64>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(1usize..=3, 0..=2),
        proptest::collection::vec(any::<bool>(), 4),
        0usize..=2,
        0usize..=2,
        (1usize..=5, 0usize..=5, 1usize..=5),
        (0usize..4, 0usize..4),
    )
        .prop_flat_map(|(batch, ones, ldrop, rdrop, (m, k, n), (lform, rform))| {
            // Form 0 is a plain vector; otherwise a matrix, or a batch of them.
            let side = |drop: usize, off: usize, tail: [usize; 2], form: usize| {
                if form == 0 {
                    return vec![k];
                }
                let drop = drop.min(batch.len());
                let mut s: Vec<usize> = batch[drop..]
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| if ones[off * 2 + i] { 1 } else { d })
                    .collect();
                s.extend_from_slice(&tail);
                s
            };
            let lhs = side(ldrop, 0, [m, k], lform);
            let rhs = side(rdrop, 1, [k, n], rform);
            let (ln, rn) = (lhs.iter().product::<usize>(), rhs.iter().product::<usize>());
            (
                Just(lhs),
                Just(rhs),
                0..KINDS,
                0..KINDS,
                proptest::collection::vec(-3.0f64..3.0, ln.max(1)),
                proptest::collection::vec(-3.0f64..3.0, rn.max(1)),
            )
        })
        .prop_map(
            |(lhs, rhs, lhs_kind, rhs_kind, lhs_values, rhs_values)| Case {
                lhs,
                rhs,
                lhs_kind,
                rhs_kind,
                lhs_values,
                rhs_values,
            },
        )
}

fn check<T: Float>(c: &Case, rtol: f64, atol: f64) -> Result<(), TestCaseError> {
    let a = build::<T>(&c.lhs, &c.lhs_values, c.lhs_kind);
    let b = build::<T>(&c.rhs, &c.rhs_values, c.rhs_kind);
    let (want, shape) = naive_matmul(&a, &b);
    let got = a.matmul(&b);
    prop_assert_eq!(got.shape(), &shape[..]);
    prop_assert!(
        all_close(&got, &want, rtol, atol),
        "{} layouts {:?} · {:?}\ngot  {:?}\nwant {:?}",
        T::DTYPE,
        a.layout(),
        b.layout(),
        got.to_vec(),
        want
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn matmul_matches_naive_f64(c in case()) {
        check::<f64>(&c, 1e-12, 1e-12)?;
    }

    #[test]
    fn matmul_matches_naive_f32(c in case()) {
        check::<f32>(&c, 1e-5, 1e-5)?;
    }
}

#[test]
fn layouts_hold_the_same_values() {
    let shape = [2, 3, 4];
    let values: Vec<f64> = (0..48).map(|i| i as f64).collect();
    let want = build::<f64>(&shape, &values, 0).to_vec();
    for kind in 0..KINDS {
        let t = build::<f64>(&shape, &values, kind);
        assert_eq!(t.shape(), &shape);
        if kind == 5 {
            assert_eq!(t.strides()[0], 0);
        } else {
            assert_eq!(t.to_vec(), want, "kind {kind}");
        }
        assert_eq!(t.is_contiguous(), kind == 0, "kind {kind}");
    }
}

/// Sizes past matrixmultiply's packing blocks (kc = 256 and up), so several panels are stitched.
fn large_case<T: Float>(rtol: f64, atol: f64) {
    let (m, k, n) = (37, 300, 29);
    let a_values: Vec<f64> = (0..m * k)
        .map(|i| ((i * 7919) % 23) as f64 / 11.0 - 1.0)
        .collect();
    let b_values: Vec<f64> = (0..k * n)
        .map(|i| ((i * 104729) % 19) as f64 / 9.0 - 1.0)
        .collect();
    for (ka, kb) in [(0, 0), (1, 1), (4, 2), (2, 3)] {
        let a = build::<T>(&[m, k], &a_values, ka);
        let b = build::<T>(&[k, n], &b_values, kb);
        let (want, _) = naive_matmul(&a, &b);
        assert!(
            all_close(&a.matmul(&b), &want, rtol, atol),
            "kinds {ka} {kb}"
        );
    }
    // A transposed rhs shared by a folded batch: [3, m, k]·[n, k]ᵀ.
    let batch_values: Vec<f64> = (0..3 * m * k)
        .map(|i| ((i * 31) % 17) as f64 / 8.0 - 1.0)
        .collect();
    let a = build::<T>(&[3, m, k], &batch_values, 0);
    let b = build::<T>(&[k, n], &b_values, 1);
    let (want, _) = naive_matmul(&a, &b);
    assert!(all_close(&a.matmul(&b), &want, rtol, atol));
}

#[test]
fn large_transposed_and_strided_f64() {
    large_case::<f64>(1e-12, 1e-10);
}

#[test]
fn large_transposed_and_strided_f32() {
    large_case::<f32>(1e-4, 1e-3);
}

#[test]
fn t_view_shares_storage_and_gives_the_transpose_product() {
    let a = Tensor::from_vec((0..12).map(|i| i as f64).collect(), &[3, 4]);
    let at = a.t();
    assert!(at.shares_storage(&a));
    let gram = at.matmul(&a); // [4, 4] = aᵀa
    let (want, _) = naive_matmul(&at, &a);
    assert_eq!(gram.to_vec(), want);
    let outer = a
        .narrow(0, 0, 1)
        .reshape(&[4])
        .outer(&a.narrow(1, 1, 1).reshape(&[3]));
    assert_eq!(outer.shape(), &[4, 3]);
    assert_eq!(outer.get(&[3, 2]), 3.0 * 9.0);
}

#[test]
fn error_messages_name_both_shapes() {
    let cases: [(&[usize], &[usize], &str); 4] = [
        (
            &[3, 4],
            &[5, 2],
            "matmul: cannot combine [3, 4] with [5, 2]: inner dimensions 4 and 5 differ",
        ),
        (
            &[4],
            &[3],
            "matmul: cannot combine [4] with [3]: inner dimensions 4 and 3 differ",
        ),
        (
            &[2, 2, 3],
            &[4, 3, 1],
            "matmul: cannot combine [2, 2, 3] with [4, 3, 1]: batch dimensions [2] and [4] do not broadcast",
        ),
        (
            &[],
            &[3],
            "matmul: cannot combine [] with [3]: both operands need at least one axis",
        ),
    ];
    for (l, r, msg) in cases {
        let err = Tensor::<f32>::zeros(l)
            .try_matmul(&Tensor::zeros(r))
            .unwrap_err();
        assert_eq!(err.to_string(), msg);
        assert_eq!(err.op(), "matmul");
    }
    let err = Tensor::<f64>::zeros(&[2, 3])
        .try_outer(&Tensor::zeros(&[3]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "outer: cannot combine [2, 3] with [3]: both operands must be 1-D"
    );
}

/// Runs `f` on a rayon pool of `threads` threads.
fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool")
        .install(f)
}

/// Shapes above `GEMM_PARALLEL_THRESHOLD`, so the product is split into output blocks (by rows
/// or by columns, on 2 or 3 threads), with random layouts on both sides, plus a batch of
/// separate products each below the threshold (split over batch entries instead).
fn threaded_case() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, usize, usize, u64)> {
    (
        (40usize..=200, 60usize..=260, 40usize..=200),
        0usize..KINDS - 1,
        0usize..KINDS - 1,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|((m, k, n), ka, kb, batched, seed)| {
            if batched {
                let (m, k, n) = (m / 4, k / 2, n / 4);
                (vec![8, m, k], vec![8, k, n], ka, kb, seed)
            } else {
                (vec![m, k], vec![k, n], ka, kb, seed)
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Splitting a product over threads leaves every element's sum over k in the same order: the
    /// result is bit-identical on 1, 2 and 3 threads, and matches the naive loop.
    #[test]
    fn threaded_matmul_is_bit_identical_and_correct(
        (ls, rs, ka, kb, seed) in threaded_case()
    ) {
        let values = |n: usize, salt: u64| -> Vec<f64> {
            (0..n as u64)
                .map(|i| (((i ^ seed ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 2001) as f64 / 1000.0 - 1.0)
                .collect()
        };
        let a = build::<f32>(&ls, &values(ls.iter().product(), 1), ka);
        let b = build::<f32>(&rs, &values(rs.iter().product(), 2), kb);
        let one = on_threads(1, || a.matmul(&b));
        for threads in [2, 3] {
            let many = on_threads(threads, || a.matmul(&b));
            let (x, y) = (one.to_vec(), many.to_vec());
            prop_assert!(
                x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()),
                "{ls:?}·{rs:?} kinds {ka} {kb}: {threads} threads differ from 1"
            );
        }
        let (want, shape) = naive_matmul(&a, &b);
        prop_assert_eq!(one.shape(), &shape[..]);
        prop_assert!(all_close(&one, &want, 1e-4, 1e-3));
    }
}
