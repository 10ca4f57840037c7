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
