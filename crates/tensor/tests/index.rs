//! Indexing ops against naive index-by-index references on random shapes and layouts, and the
//! adjoint identities autograd relies on: `⟨select(x), y⟩ = ⟨x, add(y)⟩` for gather/scatter_add
//! and index_select/index_add.

use proptest::prelude::*;
use tapegrad_tensor::testing::{all_close, any_view, indices, view_of_shape};
use tapegrad_tensor::{Float, Tensor};

fn flat(shape: &[usize], index: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// `Σ x_i·y_i` in `f64` over logical order.
fn inner<T: Float>(x: &Tensor<T>, y: &Tensor<T>) -> f64 {
    assert_eq!(x.shape(), y.shape());
    x.to_vec()
        .iter()
        .zip(y.to_vec())
        .map(|(&a, b)| a.to_f64() * b.to_f64())
        .sum()
}

/// The same values as `x` in `f32`, stored with every axis reversed, so the view is strided.
fn reversed_f32(x: &Tensor<f64>) -> Tensor<f32> {
    let perm: Vec<isize> = (0..x.rank() as isize).rev().collect();
    x.permute(&perm).cast::<f32>().permute(&perm)
}

/// [`view_of_shape`], except that a shape with no elements gives contiguous zeros: the shared
/// strategy's step-slice and broadcast layouts index past their buffer for such shapes.
fn view_or_empty(shape: Vec<usize>) -> BoxedStrategy<Tensor<f64>> {
    if shape.contains(&0) {
        Just(Tensor::zeros(&shape)).boxed()
    } else {
        view_of_shape(shape).boxed()
    }
}

/// A tensor in a random layout, an axis of it, and indices into that axis (possibly repeated).
fn with_axis_indices() -> impl Strategy<Value = (Tensor<f64>, usize, Vec<usize>)> {
    any_view(4, 4).prop_flat_map(|x| {
        let rank = x.rank();
        (Just(x), 0..rank).prop_flat_map(|(x, ax)| {
            let dim = x.shape()[ax];
            (Just(x), Just(ax), proptest::collection::vec(0..dim, 0..6))
        })
    })
}

/// A tensor, an axis, an index shape equal off that axis, and row-major indices filling it.
fn with_gather_index() -> impl Strategy<Value = (Tensor<f64>, usize, Vec<usize>, Vec<usize>)> {
    any_view(4, 4).prop_flat_map(|x| {
        let rank = x.rank();
        (Just(x), 0..rank, 0usize..5).prop_flat_map(|(x, ax, len)| {
            let mut shape = x.shape().to_vec();
            shape[ax] = len;
            let n: usize = shape.iter().product();
            let dim = x.shape()[ax];
            (
                Just(x),
                Just(ax),
                Just(shape),
                proptest::collection::vec(0..dim, n),
            )
        })
    })
}

fn naive_index_select<T: Float>(x: &Tensor<T>, ax: usize, idx: &[usize]) -> Vec<f64> {
    let mut shape = x.shape().to_vec();
    shape[ax] = idx.len();
    indices(&shape)
        .into_iter()
        .map(|mut ix| {
            ix[ax] = idx[ix[ax]];
            x.get(&ix).to_f64()
        })
        .collect()
}

fn naive_gather<T: Float>(x: &Tensor<T>, ax: usize, idx: &[usize], shape: &[usize]) -> Vec<f64> {
    indices(shape)
        .into_iter()
        .map(|mut ix| {
            ix[ax] = idx[flat(shape, &ix)];
            x.get(&ix).to_f64()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn index_select_matches_naive((x, ax, idx) in with_axis_indices()) {
        let want = naive_index_select(&x, ax, &idx);
        prop_assert!(all_close(&x.index_select(ax as isize, &idx), &want, 0.0, 0.0), "layout {:?}", x.layout());
        let negative = ax as isize - x.rank() as isize;
        prop_assert!(all_close(&x.index_select(negative, &idx), &want, 0.0, 0.0));
        let x32 = reversed_f32(&x);
        prop_assert!(all_close(&x32.index_select(ax as isize, &idx), &naive_index_select(&x32, ax, &idx), 0.0, 0.0));
    }

    #[test]
    fn index_add_is_the_adjoint_of_index_select(
        (x, ax, idx, y) in with_axis_indices().prop_flat_map(|(x, ax, idx)| {
            let mut shape = x.shape().to_vec();
            shape[ax] = idx.len();
            (Just(x), Just(ax), Just(idx), view_or_empty(shape))
        })
    ) {
        let dim = x.shape()[ax];
        let lhs = inner(&x.index_select(ax as isize, &idx), &y);
        let back = Tensor::index_add(ax as isize, &idx, &y, dim);
        prop_assert_eq!(back.shape(), x.shape());
        let rhs = inner(&x, &back);
        prop_assert!((lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
    }

    #[test]
    fn gather_matches_naive((x, ax, shape, idx) in with_gather_index()) {
        let want = naive_gather(&x, ax, &idx, &shape);
        let got = x.gather(ax as isize, &idx, &shape);
        prop_assert_eq!(got.shape(), &shape[..]);
        prop_assert!(all_close(&got, &want, 0.0, 0.0), "layout {:?}", x.layout());
        let x32 = reversed_f32(&x);
        prop_assert!(all_close(&x32.gather(ax as isize, &idx, &shape), &naive_gather(&x32, ax, &idx, &shape), 0.0, 0.0));
    }

    #[test]
    fn scatter_add_is_the_adjoint_of_gather(
        (x, ax, shape, idx, y) in with_gather_index().prop_flat_map(|(x, ax, shape, idx)| {
            let y = view_or_empty(shape.clone());
            (Just(x), Just(ax), Just(shape), Just(idx), y)
        })
    ) {
        let lhs = inner(&x.gather(ax as isize, &idx, &shape), &y);
        let back = Tensor::scatter_add(ax as isize, &idx, &shape, &y, x.shape());
        prop_assert_eq!(back.shape(), x.shape());
        let rhs = inner(&x, &back);
        prop_assert!((lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
        let y32 = reversed_f32(&y);
        let back32 = Tensor::scatter_add(ax as isize, &idx, &shape, &y32, x.shape());
        prop_assert!(all_close(&back32, &back.to_vec(), 1e-5, 1e-5));
    }

    #[test]
    fn concat_matches_naive_and_split_undoes_it(
        (pieces, ax) in (proptest::collection::vec(1usize..=3, 1..=3), proptest::collection::vec(0usize..=3, 1..=4))
            .prop_flat_map(|(shape, sizes)| {
                let rank = shape.len();
                (Just(shape), Just(sizes), 0..rank)
            })
            .prop_flat_map(|(shape, sizes, ax)| {
                let views: Vec<_> = sizes.iter().map(|&s| {
                    let mut piece = shape.clone();
                    piece[ax] = s;
                    view_or_empty(piece)
                }).collect();
                (views, Just(ax))
            })
    ) {
        let refs: Vec<&Tensor<f64>> = pieces.iter().collect();
        let got = Tensor::concat(&refs, ax as isize);
        let sizes: Vec<usize> = pieces.iter().map(|p| p.shape()[ax]).collect();
        // Naive: walk the output, find the piece that owns each position along `ax`.
        let want: Vec<f64> = indices(got.shape()).into_iter().map(|mut ix| {
            let mut k = 0;
            while ix[ax] >= sizes[k] {
                ix[ax] -= sizes[k];
                k += 1;
            }
            pieces[k].get(&ix)
        }).collect();
        prop_assert!(all_close(&got, &want, 0.0, 0.0));
        for (part, piece) in got.split(ax as isize, &sizes).iter().zip(&pieces) {
            prop_assert!(part.shares_storage(&got));
            prop_assert_eq!(part.to_vec(), piece.to_vec());
        }
    }

    #[test]
    fn stack_matches_naive((x, y, ax) in any_view(3, 4).prop_flat_map(|x| {
        let shape = x.shape().to_vec();
        let rank = shape.len();
        (Just(x), view_of_shape(shape), 0..=rank)
    })) {
        let got = Tensor::stack(&[&x, &y, &x], ax as isize);
        let want: Vec<f64> = indices(got.shape()).into_iter().map(|mut ix| {
            let which = ix.remove(ax);
            if which == 1 { y.get(&ix) } else { x.get(&ix) }
        }).collect();
        prop_assert!(all_close(&got, &want, 0.0, 0.0));
    }

    #[test]
    fn chunk_follows_torch_rounding(x in any_view(3, 6), chunks in 1usize..8, axis in 0usize..3) {
        let ax = axis % x.rank();
        let dim = x.shape()[ax];
        let parts = x.chunk(chunks, ax as isize);
        let piece = dim.div_ceil(chunks);
        prop_assert_eq!(parts.len(), dim.div_ceil(piece));
        prop_assert!(parts[..parts.len() - 1].iter().all(|p| p.shape()[ax] == piece));
        let refs: Vec<&Tensor<f64>> = parts.iter().collect();
        prop_assert_eq!(Tensor::concat(&refs, ax as isize).to_vec(), x.to_vec());
    }

    #[test]
    fn one_hot_matches_naive(labels in proptest::collection::vec(0usize..5, 0..8)) {
        let y = Tensor::<f32>::one_hot(&labels, 5);
        prop_assert_eq!(y.shape(), &[labels.len(), 5]);
        for ix in indices(y.shape()) {
            prop_assert_eq!(y.get(&ix), if labels[ix[0]] == ix[1] { 1.0 } else { 0.0 });
        }
    }
}

#[test]
fn errors_name_the_op_and_what_is_wrong() {
    let x = Tensor::<f64>::zeros(&[2, 3]);
    let cases = [
        (
            x.try_index_select(1, &[0, 3]).unwrap_err(),
            "index_select: out of range: index 3 for axis 1 of size 3 (shape [2, 3])",
        ),
        (
            x.try_index_select(2, &[0]).unwrap_err(),
            "index_select: axis 2 is out of range for a tensor of rank 2 (valid: -2..2)",
        ),
        (
            Tensor::try_index_add(0, &[0, 5], &x, 4).unwrap_err(),
            "index_add: out of range: index 5 for axis 0 of size 4 (shape [4, 3])",
        ),
        (
            Tensor::try_index_add(0, &[0], &x, 4).unwrap_err(),
            "index_add: cannot combine [2, 3] with [1]: src has 2 slices along axis 0 but 1 indices are given",
        ),
        (
            x.try_gather(-1, &[0, 1, 2, 3], &[2, 2]).unwrap_err(),
            "gather: out of range: index 3 at flat position 3 for axis 1 of size 3 (shape [2, 3])",
        ),
        (
            x.try_gather(0, &[0; 4], &[2, 2]).unwrap_err(),
            "gather: cannot combine [2, 3] with [2, 2]: the index shape must equal the tensor's shape except along axis 0",
        ),
        (
            Tensor::try_scatter_add(1, &[0; 4], &[2, 2], &x, &[2, 5]).unwrap_err(),
            "scatter_add: cannot combine [2, 3] with [2, 2]: src must have the index's shape",
        ),
        (
            Tensor::<f64>::try_concat(&[], 0).unwrap_err(),
            "concat: invalid argument: needs at least one tensor",
        ),
        (
            Tensor::try_concat(&[&x, &Tensor::zeros(&[3, 3])], 1).unwrap_err(),
            "concat: cannot combine [2, 3] with [3, 3]: tensor 1 differs from tensor 0 off axis 1",
        ),
        (
            Tensor::try_stack(&[&x, &x.t()], 0).unwrap_err(),
            "stack: cannot combine [2, 3] with [3, 2]: tensor 1 and tensor 0 must have the same shape",
        ),
        (
            Tensor::try_stack(&[&x], -4).unwrap_err(),
            "stack: invalid argument: axis -4 is out of range for inserting an axis into a tensor of rank 2 (valid: -3..=2)",
        ),
        (
            x.try_chunk(0, 1).unwrap_err(),
            "chunk: invalid argument: chunks must be at least 1",
        ),
        (
            Tensor::<f32>::try_one_hot(&[3], 3).unwrap_err(),
            "one_hot: out of range: label 3 at position 0 is not below the class count 3",
        ),
    ];
    for (err, msg) in cases {
        assert_eq!(err.to_string(), msg);
    }
}

#[test]
#[should_panic(expected = "index_select: out of range: index 9")]
fn short_forms_panic_with_the_message() {
    Tensor::<f32>::zeros(&[2]).index_select(0, &[9]);
}

/// Axis sizes of the huge-shape walk: small ones, and the powers of two where products of two
/// or three sizes wrap `u32`, `usize`, or pass `isize::MAX` bytes.
const HUGE_DIMS: [usize; 9] = [0, 1, 2, 3, 1 << 31, 1 << 32, 1 << 62, 1 << 63, usize::MAX];

/// Results at most this big are built; larger ones that can exist are skipped (they would
/// allocate for real), so the walk needs no memory.
const SMALL: u128 = 1 << 12;

/// What a call of the walk must give.
#[derive(Debug, Clone)]
enum Want {
    /// A tensor of this shape.
    Shape(Vec<usize>),
    /// An error naming the op (a `try_` form), or a panic with that message (a short form).
    Fail,
}

/// The rule the crate documents, computed independently in `u128`: a shape can exist when the
/// product of its sizes, empty axes counted as 1, times the element size fits in `isize::MAX` bytes.
fn can_exist<T>(shape: &[usize]) -> bool {
    let bytes = shape
        .iter()
        .try_fold(std::mem::size_of::<T>() as u128, |acc, &d| {
            acc.checked_mul(d.max(1) as u128)
        });
    bytes.is_some_and(|b| b <= isize::MAX as u128)
}

/// The element count, in `u128` so that it never wraps.
fn count(shape: &[usize]) -> u128 {
    shape
        .iter()
        .fold(1u128, |acc, &d| acc.saturating_mul(d as u128))
}

/// The expectation for an op that builds a new buffer of `shape`: an error if it cannot exist, the
/// shape if it is small, `None` (skip) if it can exist but is too big to build here.
fn built<T>(shape: &[usize]) -> Option<Want> {
    if !can_exist::<T>(shape) {
        Some(Want::Fail)
    } else if count(shape) <= SMALL {
        Some(Want::Shape(shape.to_vec()))
    } else {
        None
    }
}

/// The expectation for a view of `shape`: it exists or is an error, and costs nothing either way.
fn viewed<T>(shape: &[usize]) -> Want {
    if can_exist::<T>(shape) {
        Want::Shape(shape.to_vec())
    } else {
        Want::Fail
    }
}

/// Runs calls under `catch_unwind`, counting them and collecting every mismatch.
#[derive(Default)]
struct Walk {
    calls: usize,
    failures: Vec<String>,
    /// Failures per op and kind ("panicked", "returned shape", "returned the error").
    tally: std::collections::BTreeMap<(String, &'static str), usize>,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

impl Walk {
    /// A `try_` form: never a panic; `Fail` means an error naming `op`.
    fn try_form(
        &mut self,
        op: &str,
        what: String,
        want: Option<Want>,
        f: impl FnOnce() -> Result<Vec<usize>, tapegrad_tensor::TensorError>,
    ) {
        let Some(want) = want else { return };
        self.calls += 1;
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let (kind, problem) = match (got, &want) {
            (Err(p), _) => ("panicked", panic_message(&*p)),
            (Ok(Ok(shape)), Want::Shape(w)) if &shape == w => return,
            (Ok(Err(e)), Want::Fail) if e.op() == op => return,
            (Ok(Ok(shape)), _) => ("returned shape", format!("{shape:?}")),
            (Ok(Err(e)), _) => ("returned the error", e.to_string()),
        };
        self.fail(op, what, kind, problem, want);
    }

    fn fail(&mut self, op: &str, what: String, kind: &'static str, problem: String, want: Want) {
        *self.tally.entry((op.to_string(), kind)).or_default() += 1;
        self.failures.push(format!(
            "{what}: {kind} {problem}, but should give {want:?}"
        ));
    }

    /// A short form: `Fail` means a panic whose message names `op` and says "too large".
    fn short_form(
        &mut self,
        op: &str,
        what: String,
        want: Option<Want>,
        f: impl FnOnce() -> Vec<usize>,
    ) {
        let Some(want) = want else { return };
        self.calls += 1;
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let (kind, problem) = match (got, &want) {
            (Ok(shape), Want::Shape(w)) if &shape == w => return,
            (Err(p), Want::Fail) => {
                let msg = panic_message(&*p);
                if msg.starts_with(&format!("{op}: ")) && msg.contains("too large") {
                    return;
                }
                ("panicked", msg)
            }
            (Ok(shape), _) => ("returned shape", format!("{shape:?}")),
            (Err(p), _) => ("panicked", panic_message(&*p)),
        };
        self.fail(op, what, kind, problem, want);
    }
}

fn shape_of<T: Float>(
    r: Result<Tensor<T>, tapegrad_tensor::TensorError>,
) -> Result<Vec<usize>, tapegrad_tensor::TensorError> {
    r.map(|t| t.shape().to_vec())
}

/// Every shape of rank 1 to 3 over `HUGE_DIMS`.
fn huge_shapes() -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = HUGE_DIMS.iter().map(|&d| vec![d]).collect();
    for _ in 0..2 {
        let longer: Vec<Vec<usize>> = out
            .iter()
            .filter(|s| s.len() == out.last().unwrap().len())
            .flat_map(|s| {
                HUGE_DIMS
                    .iter()
                    .map(move |&d| [s.clone(), vec![d]].concat())
            })
            .collect();
        out.extend(longer);
    }
    out
}

fn walk_huge_shapes<T: Float>(walk: &mut Walk) {
    use rand::{SeedableRng, rngs::StdRng};
    let ty = T::DTYPE;
    let one = Tensor::<T>::ones(&[1]);
    let four = Tensor::<T>::ones(&[4]);
    let empty = Tensor::<T>::zeros(&[0]);
    let mut rng = StdRng::seed_from_u64(5);
    for s in huge_shapes() {
        let s = &s[..];
        let (n, fits) = (count(s), can_exist::<T>(s));

        // Constructors, fallible and short.
        let want = match (fits, n) {
            (false, _) => Want::Fail,
            (true, 0) => Want::Shape(s.to_vec()),
            (true, _) => Want::Fail, // no data for a nonempty shape
        };
        walk.try_form(
            "from_vec",
            format!("{ty} from_vec([], {s:?})"),
            Some(want),
            || shape_of(Tensor::<T>::try_from_vec(vec![], s)),
        );
        for op in ["zeros", "ones", "full", "from_fn", "rand_normal"] {
            let mut rng = rng.clone();
            walk.short_form(op, format!("{ty} {op}({s:?})"), built::<T>(s), || {
                let t = match op {
                    "zeros" => Tensor::<T>::zeros(s),
                    "ones" => Tensor::<T>::ones(s),
                    "full" => Tensor::<T>::full(s, T::ONE),
                    "from_fn" => Tensor::<T>::from_fn(s, |_| T::ONE),
                    _ => Tensor::<T>::rand_normal(s, &mut rng),
                };
                t.shape().to_vec()
            });
        }
        let what = format!("{ty} rand_uniform({s:?})");
        walk.try_form("rand_uniform", what, built::<T>(s), || {
            shape_of(Tensor::<T>::try_rand_uniform(s, T::ZERO, T::ONE, &mut rng))
        });
        let what = format!("{ty} rand_normal_with({s:?})");
        walk.try_form("rand_normal_with", what, built::<T>(s), || {
            shape_of(Tensor::<T>::try_rand_normal_with(
                s,
                T::ZERO,
                T::ONE,
                &mut rng,
            ))
        });
        let what = format!("{ty} bernoulli({s:?})");
        walk.try_form("bernoulli", what, built::<T>(s), || {
            shape_of(Tensor::<T>::try_bernoulli(s, 0.5, &mut rng))
        });

        // Views of small tensors: no data moves, so every shape is tried.
        let what = format!("{ty} broadcast_to([1] -> {s:?})");
        walk.try_form("broadcast_to", what, Some(viewed::<T>(s)), || {
            shape_of(one.try_broadcast_to(s))
        });
        for (x, len) in [(&four, 4), (&empty, 0)] {
            let want = if fits && n == len {
                Want::Shape(s.to_vec())
            } else {
                Want::Fail
            };
            let again = if fits && n == len {
                Want::Shape(s.to_vec())
            } else {
                Want::Fail
            };
            let what = format!("{ty} reshape([{len}] -> {s:?})");
            walk.try_form("reshape", what, Some(want), || shape_of(x.try_reshape(s)));
            let what = format!("{ty} view([{len}] -> {s:?})");
            walk.try_form("view", what, Some(again), || shape_of(x.try_view(s)));
        }
        if !fits {
            continue;
        }

        // Ops on a view of `s` that exists (a broadcast one, which holds one element).
        let v = one.broadcast_to(s);
        let rank = s.len();
        let d0 = s[0];
        let mut unsqueezed = s.to_vec();
        unsqueezed.insert(0, 1);
        walk.try_form(
            "unsqueeze",
            format!("{ty} unsqueeze({s:?}, 0)"),
            Some(Want::Shape(unsqueezed)),
            || shape_of(v.try_unsqueeze(0)),
        );
        let reversed: Vec<usize> = s.iter().rev().copied().collect();
        let perm: Vec<isize> = (0..rank as isize).rev().collect();
        walk.try_form(
            "permute",
            format!("{ty} permute({s:?})"),
            Some(Want::Shape(reversed)),
            || shape_of(v.try_permute(&perm)),
        );
        for (start, len) in [
            (0, d0),
            (1, usize::MAX),
            (usize::MAX, 2),
            (d0, 0),
            (d0 / 2, d0 - d0 / 2),
        ] {
            let want = match start.checked_add(len) {
                Some(end) if end <= d0 => Want::Shape([&[len][..], &s[1..]].concat()),
                _ => Want::Fail,
            };
            let what = format!("{ty} narrow({s:?}, 0, {start}, {len})");
            walk.try_form("narrow", what, Some(want), || {
                shape_of(v.try_narrow(0, start, len))
            });
        }
        for step in [1, 2, usize::MAX] {
            let want = Want::Shape([&[d0.div_ceil(step)][..], &s[1..]].concat());
            let what = format!("{ty} slice({s:?}, 0, 0..{d0} step {step})");
            walk.try_form("slice", what, Some(want), || {
                shape_of(v.try_slice(0, 0, d0, step))
            });
        }
        let what = format!("{ty} split({s:?}, [usize::MAX, 1])");
        walk.try_form("split", what, Some(Want::Fail), || {
            v.try_split(0, &[usize::MAX, 1]).map(|p| vec![p.len()])
        });
        for chunks in [1, 3, usize::MAX] {
            let pieces = if d0 == 0 {
                chunks
            } else {
                d0.div_ceil(d0.div_ceil(chunks))
            };
            // A list of usize::MAX pieces cannot be allocated; one of 2^31 could, so it is skipped.
            let want = if pieces == usize::MAX {
                Some(Want::Fail)
            } else if pieces as u128 <= SMALL {
                Some(Want::Shape(vec![pieces]))
            } else {
                None
            };
            let what = format!("{ty} chunk({s:?}, {chunks}, 0)");
            walk.try_form("chunk", what, want, || {
                v.try_chunk(chunks, 0).map(|p| vec![p.len()])
            });
        }

        // Joins double axis 0 or add one of size 2.
        let mut doubled = s.to_vec();
        doubled[0] = d0.saturating_mul(2);
        let want = if d0 > usize::MAX / 2 {
            Some(Want::Fail)
        } else {
            built::<T>(&doubled)
        };
        walk.try_form(
            "concat",
            format!("{ty} concat([{s:?}; 2], 0)"),
            want,
            || shape_of(Tensor::try_concat(&[&v, &v], 0)),
        );
        let stacked = [&[2][..], s].concat();
        walk.try_form(
            "stack",
            format!("{ty} stack([{s:?}; 2], 0)"),
            built::<T>(&stacked),
            || shape_of(Tensor::try_stack(&[&v, &v], 0)),
        );

        // Index ops whose result is `s` with one axis resized.
        for ax in 0..rank {
            let mut three = s.to_vec();
            three[ax] = 3;
            let want = if s[ax] == 0 {
                Some(Want::Fail)
            } else {
                built::<T>(&three)
            };
            let what = format!("{ty} index_select({s:?}, {ax}, [0; 3])");
            walk.try_form("index_select", what, want, || {
                shape_of(v.try_index_select(ax as isize, &[0, 0, 0]))
            });
        }
        if d0 <= 3 {
            for dim_size in HUGE_DIMS {
                let mut out = s.to_vec();
                out[0] = dim_size;
                let want = if d0 > 0 && dim_size == 0 {
                    Some(Want::Fail)
                } else {
                    built::<T>(&out)
                };
                let what = format!("{ty} index_add(0, [0; {d0}], {s:?}, dim_size {dim_size})");
                walk.try_form("index_add", what, want, || {
                    shape_of(Tensor::try_index_add(0, &vec![0; d0], &v, dim_size))
                });
            }
        }
        // gather from `s` with axis 0 shrunk to 1, by an index of shape `s`.
        let mut narrow_s = s.to_vec();
        narrow_s[0] = 1;
        let source = one.broadcast_to(&narrow_s);
        let (index, want) = if n <= SMALL {
            (vec![0; n as usize], Want::Shape(s.to_vec()))
        } else {
            (vec![], Want::Fail) // the index does not fill the shape
        };
        walk.try_form(
            "gather",
            format!("{ty} gather({narrow_s:?}, 0, index {s:?})"),
            Some(want),
            || shape_of(source.try_gather(0, &index, s)),
        );
        // scatter_add of nothing into `s`.
        let mut no_rows = s.to_vec();
        no_rows[0] = 0;
        if can_exist::<T>(&no_rows) {
            let src = one.broadcast_to(&no_rows);
            let what = format!("{ty} scatter_add(0, [], {no_rows:?}, out {s:?})");
            walk.try_form("scatter_add", what, built::<T>(s), || {
                shape_of(Tensor::try_scatter_add(0, &[], &no_rows, &src, s))
            });
        }

        // Zero-size views reduce without overflow; means and extremes of nothing are errors.
        if n == 0 {
            for ax in 0..rank {
                let mut out = s.to_vec();
                out.remove(ax);
                let kept = built::<T>(&out);
                let empty_axis = s[ax] == 0;
                let what = format!("{ty} sum({s:?}, [{ax}])");
                walk.try_form("sum", what, kept.clone(), || {
                    shape_of(v.try_sum(&[ax as isize], false))
                });
                let want = if empty_axis {
                    Some(Want::Fail)
                } else {
                    kept.clone()
                };
                let what = format!("{ty} mean({s:?}, [{ax}])");
                walk.try_form("mean", what, want.clone(), || {
                    shape_of(v.try_mean(&[ax as isize], false))
                });
                let what = format!("{ty} max({s:?}, {ax})");
                walk.try_form("max", what, want, || {
                    shape_of(v.try_max(ax as isize, false))
                });
                let what = format!("{ty} logsumexp({s:?}, {ax})");
                walk.try_form("logsumexp", what, kept.clone(), || {
                    shape_of(v.try_logsumexp(ax as isize, false))
                });
                let what = format!("{ty} softmax({s:?}, {ax})");
                walk.try_form("softmax", what, Some(Want::Shape(s.to_vec())), || {
                    shape_of(v.try_softmax(ax as isize))
                });
            }
            walk.try_form(
                "mean_all",
                format!("{ty} mean_all({s:?})"),
                Some(Want::Fail),
                || shape_of(v.try_mean_all()),
            );
            walk.try_form(
                "sum_to",
                format!("{ty} sum_to({s:?}, {s:?})"),
                Some(Want::Shape(s.to_vec())),
                || shape_of(v.try_sum_to(s)),
            );
        }
    }

    // Products and broadcasts of two or three views that exist, whose result may not.
    let sizes: Vec<usize> = HUGE_DIMS
        .into_iter()
        .filter(|&d| can_exist::<T>(&[d]))
        .collect();
    for &a in &sizes {
        for &b in &sizes {
            for k in [0, 1] {
                let (x, y) = (
                    one.broadcast_to(&[a, k.max(1)]),
                    one.broadcast_to(&[k.max(1), b]),
                );
                let (x, y) = if k == 0 {
                    (x.narrow(1, 0, 0), y.narrow(0, 0, 0))
                } else {
                    (x, y)
                };
                let what = format!("{ty} matmul([{a}, {k}], [{k}, {b}])");
                walk.try_form("matmul", what, built::<T>(&[a, b]), || {
                    shape_of(x.try_matmul(&y))
                });
            }
            let (x, y) = (one.broadcast_to(&[a, 1, 1]), one.broadcast_to(&[b, 1, 1]));
            let want = if a == b || a == 1 || b == 1 {
                built::<T>(&[if a == 1 { b } else { a }, 1, 1])
            } else {
                Some(Want::Fail)
            };
            let what = format!("{ty} matmul([{a}, 1, 1], [{b}, 1, 1])");
            walk.try_form("matmul", what, want, || shape_of(x.try_matmul(&y)));
            let (col, row) = (one.broadcast_to(&[a, 1]), one.broadcast_to(&[1, b]));
            for op in ["add", "maximum", "eq", "zip_map"] {
                let what = format!("{ty} {op}([{a}, 1], [1, {b}])");
                walk.try_form(op, what, built::<T>(&[a, b]), || {
                    shape_of(match op {
                        "add" => col.try_add(&row),
                        "maximum" => col.try_maximum(&row),
                        "eq" => col.try_eq(&row),
                        _ => col.try_zip_map(&row, |x, y| x - y),
                    })
                });
            }
            for &c in &sizes {
                let [p, q, r] = [[a, 1, 1], [1, b, 1], [1, 1, c]].map(|s| one.broadcast_to(&s));
                for op in ["where_", "select", "zip_map3"] {
                    let what = format!("{ty} {op}([{a}, 1, 1], [1, {b}, 1], [1, 1, {c}])");
                    walk.try_form(op, what, built::<T>(&[a, b, c]), || {
                        shape_of(match op {
                            "where_" => q.try_where_(&p, &r),
                            "select" => Tensor::try_select(&p, &q, &r),
                            _ => p.try_zip_map3(&q, &r, |x, _, _| x),
                        })
                    });
                }
            }
        }
    }

    // Counts given as numbers.
    for classes in HUGE_DIMS {
        for rows in 0..4 {
            let want = if rows > 0 && classes == 0 {
                Some(Want::Fail)
            } else {
                built::<T>(&[rows, classes])
            };
            let what = format!("{ty} one_hot([0; {rows}], {classes})");
            walk.try_form("one_hot", what, want, || {
                shape_of(Tensor::<T>::try_one_hot(&vec![0; rows], classes))
            });
        }
        let what = format!("{ty} linspace(0, 1, {classes})");
        walk.short_form("linspace", what, built::<T>(&[classes]), || {
            Tensor::<T>::linspace(T::ZERO, T::ONE, classes)
                .shape()
                .to_vec()
        });
        let what = format!("{ty} eye({classes})");
        walk.short_form("eye", what, built::<T>(&[classes, classes]), || {
            Tensor::<T>::eye(classes).shape().to_vec()
        });
    }
    for (start, end, step) in [
        (0.0, 1e30, 1.0),
        (0.0, 1e19, 1.0),
        (-1e300, 1e300, 1e-300),
        (0.0, 3.0, 1.0),
    ] {
        let want = if end == 3.0 {
            Want::Shape(vec![3])
        } else {
            Want::Fail
        };
        let what = format!("{ty} arange({start}, {end}, {step})");
        walk.try_form("arange", what, Some(want), || {
            shape_of(Tensor::<T>::try_arange(
                T::from_f64(start),
                T::from_f64(end),
                T::from_f64(step),
            ))
        });
    }
}

/// Every constructor, view, join, index op, product, broadcast and reduction is walked over
/// shapes of rank 1 to 3 from [`HUGE_DIMS`]: a shape too large to exist is an error naming the
/// op (a panic with that message for a short form), a small one gives a tensor of that shape,
/// and nothing panics otherwise, wraps to a wrong shape, or reads out of bounds.
#[test]
fn huge_shapes_are_errors_never_panics_or_wrapped_tensors() {
    let mut walk = Walk::default();
    walk_huge_shapes::<f32>(&mut walk);
    walk_huge_shapes::<f64>(&mut walk);
    eprintln!(
        "huge-shape walk: {} calls, {} failures",
        walk.calls,
        walk.failures.len()
    );
    let tally: Vec<String> = walk
        .tally
        .iter()
        .map(|((op, kind), n)| format!("{op} {kind}: {n}"))
        .collect();
    assert!(
        walk.failures.is_empty(),
        "{} of {} calls failed; by op:\n{}\nthe first ones:\n{}",
        walk.failures.len(),
        walk.calls,
        tally.join("\n"),
        walk.failures[..walk.failures.len().min(40)].join("\n")
    );
    assert!(
        walk.calls > 20_000,
        "the walk made only {} calls",
        walk.calls
    );
}

/// Runs a short form and returns its panic message, or `None` if it returned.
fn panics_with<R>(f: impl FnOnce() -> R) -> Option<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .err()
        .map(|p| panic_message(&*p))
}

/// Checks of documented contracts, each under `catch_unwind`.
#[derive(Default)]
struct Contracts {
    calls: usize,
    broken: Vec<String>,
}

impl Contracts {
    /// `f` must fail with an error naming `op`, without panicking.
    fn err(
        &mut self,
        what: &str,
        op: &str,
        f: impl FnOnce() -> Result<Vec<f64>, tapegrad_tensor::TensorError>,
    ) {
        self.calls += 1;
        let problem = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(Err(e)) if e.op() == op => return,
            Ok(Err(e)) => format!("the error names {:?}, not {op:?}: {e}", e.op()),
            Ok(Ok(v)) => format!("returned {v:?} instead of an error"),
            Err(p) => format!("panicked: {}", panic_message(&*p)),
        };
        self.broken.push(format!("{what}: {problem}"));
    }

    /// `f` must hold (return true) without panicking.
    fn holds(&mut self, what: &str, f: impl FnOnce() -> bool) {
        self.calls += 1;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(true) => {}
            Ok(false) => self.broken.push(what.to_string()),
            Err(p) => self
                .broken
                .push(format!("{what}: panicked: {}", panic_message(&*p))),
        }
    }
}

fn values<T: Float>(
    t: Result<Tensor<T>, tapegrad_tensor::TensorError>,
) -> Result<Vec<f64>, tapegrad_tensor::TensorError> {
    t.map(|t| t.to_vec().iter().map(|v| v.to_f64()).collect())
}

/// The contracts the public docs state for argument checks, each tried on the inputs that break
/// it: every violation is an error (or a short form's panic) naming the op the caller called, and
/// every documented value range holds for every draw.
#[test]
fn documented_contracts_hold() {
    use rand::{SeedableRng, rngs::StdRng};
    let mut c = Contracts::default();
    let mut rng = StdRng::seed_from_u64(10);

    // arange: "If step is zero or points away from end".
    for (s, e, st) in [
        (0.0, 10.0, -1.0),
        (10.0, 0.0, 1.0),
        (0.0, 1.0, 0.0),
        (0.0, f64::NAN, 1.0),
    ] {
        c.err(&format!("arange({s}, {e}, {st})"), "arange", || {
            values(Tensor::<f64>::try_arange(s, e, st))
        });
    }
    c.holds("arange(3, 0, -1) is [3, 2, 1]", || {
        Tensor::<f32>::arange(3.0, 0.0, -1.0).to_vec() == [3.0, 2.0, 1.0]
    });
    // rand_normal_with: "If std is negative or not finite" (and a mean that is not finite).
    for (mean, std) in [
        (0.0, -1.0),
        (0.0, f64::NAN),
        (0.0, f64::INFINITY),
        (f64::NAN, 1.0),
        (f64::INFINITY, 1.0),
    ] {
        let what = format!("rand_normal_with(mean {mean}, std {std})");
        c.err(&what, "rand_normal_with", || {
            values(Tensor::<f64>::try_rand_normal_with(
                &[4],
                mean,
                std,
                &mut rng,
            ))
        });
    }
    c.holds("rand_normal_with(3, 0) is 3 everywhere", || {
        Tensor::<f32>::rand_normal_with(&[8], 3.0, 0.0, &mut rng).to_vec() == [3.0; 8]
    });
    // rand_uniform: "If low >= high or either is not finite".
    for (low, high) in [
        (1.0, 1.0),
        (2.0, 1.0),
        (f64::NEG_INFINITY, 0.0),
        (0.0, f64::NAN),
    ] {
        c.err(
            &format!("rand_uniform({low}, {high})"),
            "rand_uniform",
            || values(Tensor::<f64>::try_rand_uniform(&[4], low, high, &mut rng)),
        );
    }
    // bernoulli: "If p is outside [0, 1]"; NaN is outside too.
    for p in [-0.1, 1.1, f64::NAN] {
        c.err(&format!("bernoulli({p})"), "bernoulli", || {
            values(Tensor::<f64>::try_bernoulli(&[4], p, &mut rng))
        });
    }
    // clamp: "If min > max or either bound is NaN".
    let x = Tensor::<f64>::from_vec(vec![1.0, -2.0, 3.0], &[3]);
    for (lo, hi) in [(1.0, 0.0), (f64::NAN, 1.0), (0.0, f64::NAN)] {
        c.err(&format!("clamp({lo}, {hi})"), "clamp", || {
            values(x.try_clamp(lo, hi))
        });
    }
    // narrow reports itself, not the slice it is built on.
    let m = Tensor::<f64>::zeros(&[2, 3]);
    for (axis, start, len) in [(1, 2, 2), (1, usize::MAX, 1), (2, 0, 1), (-3, 0, 1)] {
        c.err(&format!("narrow({axis}, {start}, {len})"), "narrow", || {
            values(m.try_narrow(axis, start, len))
        });
    }
    // chunk promises `chunks` pieces of an empty axis: more than can be listed is its error.
    c.err("chunk(usize::MAX) of an empty axis", "chunk", || {
        let pieces = Tensor::<f64>::zeros(&[0, 2]).try_chunk(usize::MAX, 0)?;
        Ok(vec![pieces.len() as f64])
    });
    // outer and dot fail under their own names, whatever the cause.
    let long = Tensor::<f64>::ones(&[1]).broadcast_to(&[1 << 32]);
    c.err("outer of two [2^32] vectors", "outer", || {
        values(long.try_outer(&long))
    });
    c.err("dot of [2] and [3]", "dot", || {
        values(Tensor::<f64>::zeros(&[2]).try_dot(&x))
    });
    // stack documents InvalidArgument for an axis outside -(rank+1)..=rank.
    c.holds("stack(axis 2) of rank 1 is InvalidArgument", || {
        matches!(
            Tensor::try_stack(&[&x], 2),
            Err(tapegrad_tensor::TensorError::InvalidArgument { op: "stack", .. })
        )
    });

    // linspace: n = 1 gives [start], n = 0 nothing, n = 2 both ends; non-finite ends are refused
    // (the spacing would be NaN: linspace(0, ∞, 3) was [NaN, ∞, ∞]).
    for (n, want) in [
        (0, vec![]),
        (1, vec![2.0]),
        (2, vec![2.0, 5.0]),
        (4, vec![2.0, 3.0, 4.0, 5.0]),
    ] {
        c.holds(&format!("linspace(2, 5, {n}) is {want:?}"), || {
            Tensor::<f64>::linspace(2.0, 5.0, n).to_vec() == want
        });
    }
    for (s, e) in [(0.0, f64::INFINITY), (f64::NAN, 1.0)] {
        c.holds(
            &format!("linspace({s}, {e}, 3) panics naming linspace"),
            || {
                panics_with(|| Tensor::<f64>::linspace(s, e, 3).to_vec())
                    .is_some_and(|msg| msg.starts_with("linspace: "))
            },
        );
    }

    // rand_uniform's [low, high): f32 draws must never round up to high, on wide, narrow and
    // degenerate (adjacent floats) intervals; f64 takes the full finite range.
    let up = |x: f32, k: u32| f32::from_bits(x.to_bits() + k);
    let intervals = [
        (0.0f32, 1.0f32),
        (1.0, up(1.0, 1)),
        (1.0, up(1.0, 2)),
        (-1.0, 1.0),
        (1e30, up(1e30, 3)),
        (-f32::MAX, f32::MAX),
    ];
    for (low, high) in intervals {
        let mut outside = 0;
        c.holds(
            &format!("rand_uniform f32 [{low:e}, {high:e}) stays inside"),
            || {
                let draws = Tensor::<f32>::rand_uniform(&[10_000], low, high, &mut rng).to_vec();
                outside = draws.iter().filter(|&&v| !(low <= v && v < high)).count();
                outside == 0
            },
        );
        if outside > 0 {
            c.broken
                .push(format!("    ({outside} of 10000 draws outside)"));
        }
    }
    c.holds("rand_uniform f64 [-MAX, MAX) is finite", || {
        let draws = Tensor::<f64>::try_rand_uniform(&[1000], -f64::MAX, f64::MAX, &mut rng);
        draws.is_ok_and(|t| t.to_vec().iter().all(|v| v.is_finite()))
    });
    eprintln!(
        "documented contracts: {} checks, {} broken",
        c.calls,
        c.broken.len()
    );
    assert!(
        c.broken.is_empty(),
        "checks broke a documented contract ({} checks):\n{}",
        c.calls,
        c.broken.join("\n")
    );
}

/// The buffer pool keeps what a loop reuses, not every size it has seen: allocating tensors of
/// 200 sizes in turn (each size recurring only 200 steps later, as batch sizes that vary from
/// step to step do), the pool stays within a few live tensors' bytes. The other tests of this
/// binary use tensors below the pool's 64 KiB minimum, so they do not disturb the count.
#[test]
fn buffer_pool_stays_bounded_when_sizes_vary() {
    use tapegrad_tensor::storage::pooled_bytes;
    let sizes: Vec<usize> = (0..200).map(|i| 16_384 + 256 * i).collect();
    let largest = sizes.iter().max().unwrap() * 4;
    let mut most = 0;
    for step in 0..1_000 {
        let n = sizes[step % sizes.len()];
        let x = Tensor::<f32>::ones(&[n]);
        let y = x.exp(); // a buffer from the pool when one fits
        assert_eq!(y.numel(), n);
        drop((x, y));
        most = most.max(pooled_bytes());
    }
    // Two tensors of at most `largest` bytes are live at once: the pool may hold twice that.
    let bound = 8 * largest;
    assert!(
        most <= bound,
        "the pool grew to {most} bytes; the bound is {bound} for two live tensors of at most {largest}"
    );
}
