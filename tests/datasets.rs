//! Datasets beyond MNIST: float-tensor targets and seeded train/validation splits.

use tapegrad::data::{BatchOptions, Dataset, SplitSize, Targets};
use tapegrad::prelude::*;

/// Sample `i` has inputs `[i, 100 + i, 200 + i]` and float targets `[10 i, -i]`: a batch row
/// names its sample.
fn numbered(n: usize) -> Dataset<f64, Tensor<f64>> {
    let x = Tensor::from_fn(&[n, 3], |ix| (ix[0] + 100 * ix[1]) as f64);
    let y = Tensor::from_fn(&[n, 2], |ix| {
        if ix[1] == 0 {
            10.0 * ix[0] as f64
        } else {
            -(ix[0] as f64)
        }
    });
    Dataset::from_tensors(x, y)
}

/// The sample ids of a batch's rows, read from the inputs' first column.
fn ids(x: &Tensor<f64>) -> Vec<usize> {
    (0..x.shape()[0]).map(|r| x.get(&[r, 0]) as usize).collect()
}

// ---------------------------------------------------------------------------------------------
// Float-tensor targets

#[test]
fn tensor_target_batches_match_manual_gathering() {
    let data = numbered(23);
    let mut rng = StdRng::seed_from_u64(5);
    let mut seen = Vec::new();
    for (x, y) in data.batches(4, &mut rng, BatchOptions::default()) {
        let picked = ids(&x);
        assert_eq!(x.to_vec(), data.x().index_select(0, &picked).to_vec());
        assert_eq!(y.shape(), &[picked.len(), 2]);
        assert_eq!(y.to_vec(), data.y().index_select(0, &picked).to_vec());
        seen.extend(picked);
    }
    assert_ne!(seen, (0..23).collect::<Vec<_>>(), "shuffled");
    seen.sort_unstable();
    assert_eq!(seen, (0..23).collect::<Vec<_>>(), "every sample once");
}

#[test]
fn the_order_depends_on_the_seed_not_on_the_target_kind() {
    let data = numbered(30);
    let labels = Dataset::new(data.x().clone(), (0..30).collect());
    let order = |seed: u64| -> Vec<Vec<usize>> {
        let mut rng = StdRng::seed_from_u64(seed);
        data.batches(7, &mut rng, BatchOptions::default())
            .map(|(x, _)| ids(&x))
            .collect()
    };
    assert_eq!(order(3), order(3));
    assert_ne!(order(3), order(4));
    let mut rng = StdRng::seed_from_u64(3);
    let by_labels: Vec<Vec<usize>> = labels
        .batches(7, &mut rng, BatchOptions::default())
        .map(|(_, y)| y)
        .collect();
    assert_eq!(order(3), by_labels);
}

#[test]
fn tensor_targets_drop_last_and_keep_higher_ranks() {
    let x = Tensor::<f32>::zeros(&[10, 2]);
    let y = Tensor::<f32>::from_fn(&[10, 2, 3], |ix| (ix[0] * 6 + ix[1] * 3 + ix[2]) as f32);
    let data = Dataset::from_tensors(x, y);
    let options = BatchOptions {
        shuffle: false,
        drop_last: true,
    };
    let mut rng = StdRng::seed_from_u64(0);
    let batches: Vec<_> = data.batches(4, &mut rng, options).collect();
    assert_eq!(batches.len(), 2);
    for (b, (_, y)) in batches.iter().enumerate() {
        assert_eq!(y.shape(), &[4, 2, 3]);
        let want: Vec<f32> = (b * 24..(b + 1) * 24).map(|v| v as f32).collect();
        assert_eq!(y.to_vec(), want);
    }
}

#[test]
fn strided_tensor_targets_batch_by_value() {
    let data = numbered(12);
    // same values, column-major storage: a view that is not contiguous
    let y = data.y().t().contiguous().t();
    assert!(!y.is_contiguous());
    let data = Dataset::from_tensors(data.x().clone(), y).subset(3..11);
    let options = BatchOptions {
        shuffle: false,
        drop_last: false,
    };
    let mut rng = StdRng::seed_from_u64(0);
    let mut rows = Vec::new();
    for (x, y) in data.batches(3, &mut rng, options) {
        for (r, id) in ids(&x).into_iter().enumerate() {
            assert_eq!(y.get(&[r, 0]), 10.0 * id as f64);
            assert_eq!(y.get(&[r, 1]), -(id as f64));
            rows.push(id);
        }
    }
    assert_eq!(rows, (3..11).collect::<Vec<_>>());
}

#[test]
fn mismatched_samples_name_both_shapes() {
    let err =
        Dataset::try_from_tensors(Tensor::<f32>::zeros(&[3, 2]), Tensor::<f32>::zeros(&[4, 1]))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "dataset: x has 3 samples (shape [3, 2]), but y has 4 targets (shape [4, 1])"
    );
    let err = Dataset::try_from_tensors(Tensor::<f32>::zeros(&[3, 2]), Tensor::<f32>::scalar(1.0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "dataset: y must have a sample axis, but it is a scalar"
    );
    // labels keep their message
    let err = Dataset::try_new(Tensor::<f32>::zeros(&[3, 2]), vec![0; 4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dataset: x has 3 samples (shape [3, 2]), but y has 4 labels"
    );
}

#[test]
#[should_panic(expected = "dataset: x has 2 samples (shape [2, 1]), but y has 3 targets")]
fn new_panics_with_the_message() {
    Dataset::from_tensors(Tensor::<f32>::zeros(&[2, 1]), Tensor::<f32>::zeros(&[3]));
}

#[test]
fn subset_select_and_cast_carry_tensor_targets() {
    let data = numbered(6);
    let sub = data.subset(2..5);
    assert_eq!(sub.y().to_vec(), [20.0, -2.0, 30.0, -3.0, 40.0, -4.0]);
    let picked = data.select(&[5, 0, 5]);
    assert_eq!(ids(picked.x()), [5, 0, 5]);
    assert_eq!(picked.y().to_vec(), [50.0, -5.0, 0.0, 0.0, 50.0, -5.0]);
    let err = data.try_select(&[1, 6]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "select: index 6 (at position 1) is out of range for 6 samples"
    );
    let single: Dataset<f32, Tensor<f32>> = data.cast();
    assert_eq!(
        single.y().to_vec(),
        [0.0f32, 0.0, 10.0, -1.0, 20.0, -2.0, 30.0, -3.0, 40.0, -4.0, 50.0, -5.0]
    );
    let labels: Dataset<f64> = Dataset::new(Tensor::zeros(&[2, 1]), vec![4, 2]);
    assert_eq!(labels.cast::<f32>().y(), &[4, 2]);
    // the trait gathers either kind
    assert_eq!(Targets::<f32>::select(&vec![7, 8, 9], &[2, 0]), [9, 7]);
    assert_eq!(Targets::len(data.y()), 6);
}

// ---------------------------------------------------------------------------------------------
// Splits

/// The sample ids of a dataset of [`numbered`] samples.
fn all_ids(data: &Dataset<f64, Tensor<f64>>) -> Vec<usize> {
    ids(data.x())
}

#[test]
fn split_is_seeded_disjoint_and_covering() {
    let data = numbered(50);
    let (train, val) = data.split(0.2, &mut StdRng::seed_from_u64(11));
    assert_eq!((train.len(), val.len()), (40, 10));
    let (train_ids, val_ids) = (all_ids(&train), all_ids(&val));
    // each part keeps the original order; together they hold every sample once
    assert!(train_ids.windows(2).all(|w| w[0] < w[1]));
    assert!(val_ids.windows(2).all(|w| w[0] < w[1]));
    let mut both = [train_ids.clone(), val_ids.clone()].concat();
    both.sort_unstable();
    assert_eq!(both, (0..50).collect::<Vec<_>>());
    assert_ne!(val_ids, (40..50).collect::<Vec<_>>(), "drawn, not the tail");
    // targets follow their inputs
    for (r, &id) in val_ids.iter().enumerate() {
        assert_eq!(val.y().get(&[r, 0]), 10.0 * id as f64);
    }
    // same seed, same split; another seed, another split
    let (_, again) = data.split(0.2, &mut StdRng::seed_from_u64(11));
    assert_eq!(all_ids(&again), val_ids);
    let (_, other) = data.split(0.2, &mut StdRng::seed_from_u64(12));
    assert_ne!(all_ids(&other), val_ids);
}

#[test]
fn split_sizes_by_fraction_and_count() {
    let data = Dataset::new(Tensor::<f32>::zeros(&[10, 1]), (0..10).collect());
    let sizes = |size: SplitSize| {
        let (train, val) = data.split(size, &mut StdRng::seed_from_u64(0));
        (train.len(), val.len())
    };
    assert_eq!(sizes(0.25.into()), (7, 3), "2.5 rounds to 3");
    assert_eq!(sizes(0.0.into()), (10, 0));
    assert_eq!(sizes(1.0.into()), (0, 10));
    assert_eq!(sizes(0.5f32.into()), (5, 5));
    assert_eq!(sizes(4.into()), (6, 4));
    assert_eq!(sizes(10.into()), (0, 10));
    let (train, val) = data.split(4, &mut StdRng::seed_from_u64(3));
    let mut labels = [train.y(), val.y()].concat();
    labels.sort_unstable();
    assert_eq!(labels, (0..10).collect::<Vec<_>>());
}

#[test]
fn bad_split_sizes_are_errors() {
    let data = Dataset::new(Tensor::<f32>::zeros(&[10, 1]), vec![0; 10]);
    let mut rng = StdRng::seed_from_u64(0);
    for bad in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
        let err = data.try_split(bad, &mut rng).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("split: the validation fraction must lie between 0 and 1, but it is"),
            "{err}"
        );
    }
    let err = data.try_split(11, &mut rng).unwrap_err();
    assert_eq!(
        err.to_string(),
        "split: 11 validation samples asked for, but the dataset has 10"
    );
}

#[test]
#[should_panic(expected = "split: the validation fraction must lie between 0 and 1, but it is NaN")]
fn split_panics_with_the_message() {
    let data = Dataset::new(Tensor::<f32>::zeros(&[4, 1]), vec![0; 4]);
    data.split(f64::NAN, &mut StdRng::seed_from_u64(0));
}

#[test]
fn split_at_is_unshuffled() {
    let data = numbered(7);
    let (head, tail) = data.split_at(5);
    assert_eq!(all_ids(&head), [0, 1, 2, 3, 4]);
    assert_eq!(all_ids(&tail), [5, 6]);
    assert_eq!(tail.y().to_vec(), [50.0, -5.0, 60.0, -6.0]);
    let (all, none) = data.split_at(7);
    assert_eq!((all.len(), none.len()), (7, 0));
    assert_eq!(
        data.try_split_at(8).unwrap_err().to_string(),
        "split_at: cannot split 7 samples at 8"
    );
}
