//! `Dataset`: inputs with one class label per sample, and its seeded mini-batch iterator.

use super::error::{or_panic, DataError, Result};
use rand::seq::SliceRandom;
use rand::Rng;
use std::borrow::Cow;
use std::ops::{Bound, RangeBounds};
use tapegrad_tensor::{Float, Tensor};

/// Samples along axis 0 of `x`, each with a class label in `y`.
///
/// `x` has shape `[n, …]` (MNIST: `[n, 784]`); any data of that form can be wrapped with
/// [`Dataset::new`] to reuse the batching.
///
/// ```
/// # use tapegrad::data::Dataset;
/// # use tapegrad::prelude::*;
/// let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0], &[3, 2]);
/// let data = Dataset::new(x, vec![0, 1, 0]);
/// assert_eq!(data.len(), 3);
/// assert_eq!(data.subset(1..).y(), &[1, 0]);
/// ```
#[derive(Clone, Debug)]
pub struct Dataset<T: Float = f32> {
    x: Tensor<T>,
    y: Vec<usize>,
}

/// How [`Dataset::batches`] walks the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Visit the samples in a random order drawn from the generator. Default `true`.
    pub shuffle: bool,
    /// Skip the last batch if it is smaller than the batch size. Default `false`.
    pub drop_last: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            shuffle: true,
            drop_last: false,
        }
    }
}

impl<T: Float> Dataset<T> {
    /// A dataset of the samples along axis 0 of `x`, labelled by `y`.
    ///
    /// # Panics
    /// If `x` is a scalar or its first size differs from `y.len()`; [`Dataset::try_new`] returns
    /// the error.
    #[track_caller]
    pub fn new(x: Tensor<T>, y: Vec<usize>) -> Self {
        or_panic(Self::try_new(x, y))
    }

    /// Fallible [`Dataset::new`].
    ///
    /// # Errors
    /// [`DataError::Dataset`] if `x` is a scalar or holds a different number of samples than `y`.
    pub fn try_new(x: Tensor<T>, y: Vec<usize>) -> Result<Self> {
        let why = match x.shape().first() {
            None => Some("x must have a sample axis, but it is a scalar".to_string()),
            Some(&n) if n != y.len() => Some(format!(
                "x has {n} samples (shape {:?}), but y has {} labels",
                x.shape(),
                y.len()
            )),
            Some(_) => None,
        };
        match why {
            Some(why) => Err(DataError::Dataset { op: "dataset", why }),
            None => Ok(Dataset { x, y }),
        }
    }

    /// The inputs, shape `[n, …]`.
    pub fn x(&self) -> &Tensor<T> {
        &self.x
    }

    /// The labels, one per sample.
    pub fn y(&self) -> &[usize] {
        &self.y
    }

    /// The inputs and the labels, taken apart.
    pub fn into_parts(self) -> (Tensor<T>, Vec<usize>) {
        (self.x, self.y)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The shape of one sample: `x`'s shape without its first axis.
    pub fn sample_shape(&self) -> &[usize] {
        &self.x.shape()[1..]
    }

    /// The samples in `range` (e.g. `..1000` for the first thousand); `x` becomes a view, no copy.
    ///
    /// # Panics
    /// If the range reaches past the end; [`Dataset::try_subset`] returns the error.
    #[track_caller]
    pub fn subset(&self, range: impl RangeBounds<usize>) -> Self {
        or_panic(self.try_subset(range))
    }

    /// Fallible [`Dataset::subset`].
    ///
    /// # Errors
    /// [`DataError::Dataset`] if the range is reversed or reaches past the last sample.
    pub fn try_subset(&self, range: impl RangeBounds<usize>) -> Result<Self> {
        let n = self.len();
        let start = match range.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => s.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => Some(n),
        };
        match (start, end) {
            (Some(start), Some(end)) if start <= end && end <= n => {
                let x = self.x.narrow(0, start, end - start);
                Ok(Dataset {
                    x,
                    y: self.y[start..end].to_vec(),
                })
            }
            _ => Err(DataError::Dataset {
                op: "subset",
                why: format!(
                    "range {:?}..{:?} does not fit in {n} samples",
                    range.start_bound(),
                    range.end_bound()
                ),
            }),
        }
    }

    /// The same samples with inputs converted to another float type.
    pub fn cast<U: Float>(&self) -> Dataset<U> {
        Dataset {
            x: self.x.cast(),
            y: self.y.clone(),
        }
    }

    /// Mini-batches of `batch_size` samples: `(x [b, …], labels)`, every sample once per pass.
    ///
    /// With `options.shuffle` the order is drawn from `rng` now, so one seed gives one order; the
    /// iterator itself holds no generator. The last batch is smaller unless `options.drop_last`.
    ///
    /// ```
    /// # use tapegrad::data::{BatchOptions, Dataset};
    /// # use tapegrad::prelude::*;
    /// # use tapegrad::rand::{rngs::StdRng, SeedableRng};
    /// let data = Dataset::new(Tensor::<f32>::zeros(&[10, 4]), vec![0; 10]);
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let sizes: Vec<usize> = data
    ///     .batches(4, &mut rng, BatchOptions::default())
    ///     .map(|(x, y)| { assert_eq!(x.shape(), &[y.len(), 4]); y.len() })
    ///     .collect();
    /// assert_eq!(sizes, [4, 4, 2]);
    /// ```
    ///
    /// # Panics
    /// If `batch_size` is zero; [`Dataset::try_batches`] returns the error.
    #[track_caller]
    pub fn batches<R: Rng + ?Sized>(
        &self,
        batch_size: usize,
        rng: &mut R,
        options: BatchOptions,
    ) -> Batches<'_, T> {
        or_panic(self.try_batches(batch_size, rng, options))
    }

    /// Fallible [`Dataset::batches`].
    ///
    /// # Errors
    /// [`DataError::Dataset`] if `batch_size` is zero.
    pub fn try_batches<R: Rng + ?Sized>(
        &self,
        batch_size: usize,
        rng: &mut R,
        options: BatchOptions,
    ) -> Result<Batches<'_, T>> {
        if batch_size == 0 {
            return Err(DataError::Dataset {
                op: "batches",
                why: "batch_size must be at least 1".to_string(),
            });
        }
        let n = self.len();
        let mut order: Vec<usize> = (0..n).collect();
        if options.shuffle {
            order.shuffle(rng);
        }
        let end = if options.drop_last {
            n - n % batch_size
        } else {
            n
        };
        // One row-major buffer to gather from: a view (e.g. from `subset`) is copied once here,
        // not once per batch.
        let rows = match self.x.as_contiguous_slice() {
            Some(slice) => Cow::Borrowed(slice),
            None => Cow::Owned(self.x.to_vec()),
        };
        Ok(Batches {
            rows,
            row_len: self.sample_shape().iter().product(),
            sample_shape: self.sample_shape().to_vec(),
            y: &self.y,
            order,
            next: 0,
            end,
            batch_size,
        })
    }
}

/// The iterator of [`Dataset::batches`]: yields `(x [b, …], labels)`.
#[derive(Debug)]
pub struct Batches<'a, T: Float> {
    rows: Cow<'a, [T]>,
    row_len: usize,
    sample_shape: Vec<usize>,
    y: &'a [usize],
    order: Vec<usize>,
    next: usize,
    end: usize,
    batch_size: usize,
}

impl<T: Float> Iterator for Batches<'_, T> {
    type Item = (Tensor<T>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let stop = self.end.min(self.next + self.batch_size);
        let picked = &self.order[self.next..stop];
        self.next = stop;

        let mut x = Vec::with_capacity(picked.len() * self.row_len);
        for &i in picked {
            x.extend_from_slice(&self.rows[i * self.row_len..(i + 1) * self.row_len]);
        }
        let labels = picked.iter().map(|&i| self.y[i]).collect();
        let mut shape = Vec::with_capacity(1 + self.sample_shape.len());
        shape.push(picked.len());
        shape.extend_from_slice(&self.sample_shape);
        Some((Tensor::from_vec(x, &shape), labels))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.next).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl<T: Float> ExactSizeIterator for Batches<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Sample `i` has features `[i, 100 + i]` and label `i % 3`, so a batch row names its sample.
    fn numbered(n: usize) -> Dataset<f64> {
        let x = Tensor::from_fn(&[n, 2], |ix| (ix[0] + 100 * ix[1]) as f64);
        Dataset::new(x, (0..n).map(|i| i % 3).collect())
    }

    fn order(data: &Dataset<f64>, bs: usize, seed: u64, options: BatchOptions) -> Vec<Vec<usize>> {
        let mut rng = StdRng::seed_from_u64(seed);
        data.batches(bs, &mut rng, options)
            .map(|(x, y)| {
                let ids: Vec<usize> = (0..y.len()).map(|r| x.get(&[r, 0]) as usize).collect();
                for (r, &id) in ids.iter().enumerate() {
                    assert_eq!(x.get(&[r, 1]), (100 + id) as f64, "row {r} is sample {id}");
                    assert_eq!(y[r], id % 3, "label of sample {id}");
                }
                ids
            })
            .collect()
    }

    #[test]
    fn same_seed_same_order_other_seed_other_order() {
        let data = numbered(50);
        let options = BatchOptions::default();
        assert_eq!(order(&data, 8, 1, options), order(&data, 8, 1, options));
        assert_ne!(order(&data, 8, 1, options), order(&data, 8, 2, options));
    }

    #[test]
    fn every_sample_exactly_once() {
        let data = numbered(23);
        let batches = order(&data, 5, 3, BatchOptions::default());
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [5, 5, 5, 5, 3]
        );
        let mut seen: Vec<usize> = batches.concat();
        assert_ne!(seen, (0..23).collect::<Vec<_>>(), "shuffled");
        seen.sort_unstable();
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
    }

    #[test]
    fn drop_last_skips_the_short_batch() {
        let data = numbered(23);
        let options = BatchOptions {
            shuffle: true,
            drop_last: true,
        };
        let batches = order(&data, 5, 3, options);
        assert_eq!(batches.len(), 4);
        assert!(batches.iter().all(|b| b.len() == 5));
        let mut seen = batches.concat();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 20, "no sample twice");
        // an exact multiple loses nothing
        assert_eq!(order(&numbered(20), 5, 3, options).concat().len(), 20);
    }

    #[test]
    fn unshuffled_is_in_order_and_exact_size() {
        let data = numbered(7);
        let options = BatchOptions {
            shuffle: false,
            drop_last: false,
        };
        assert_eq!(
            order(&data, 3, 0, options),
            [vec![0, 1, 2], vec![3, 4, 5], vec![6]]
        );
        let mut rng = StdRng::seed_from_u64(0);
        let mut batches = data.batches(3, &mut rng, options);
        assert_eq!(batches.len(), 3);
        batches.next();
        assert_eq!(batches.len(), 2);
    }

    #[test]
    fn batches_of_a_strided_subset() {
        let data = numbered(10);
        let x_t = data.x().t().contiguous().t(); // same values, column-major storage
        let data = Dataset::new(x_t, data.y().to_vec()).subset(2..9);
        assert!(!data.x().is_contiguous());
        let options = BatchOptions {
            shuffle: false,
            drop_last: false,
        };
        assert_eq!(
            order(&data, 4, 0, options).concat(),
            (2..9).collect::<Vec<_>>()
        );
    }

    #[test]
    fn higher_rank_samples_keep_their_shape() {
        let data = Dataset::new(Tensor::<f32>::zeros(&[5, 1, 2, 3]), vec![0; 5]);
        let mut rng = StdRng::seed_from_u64(0);
        let shapes: Vec<Vec<usize>> = data
            .batches(2, &mut rng, BatchOptions::default())
            .map(|(x, _)| x.shape().to_vec())
            .collect();
        assert_eq!(
            shapes,
            [vec![2, 1, 2, 3], vec![2, 1, 2, 3], vec![1, 1, 2, 3]]
        );
    }

    #[test]
    fn empty_dataset_has_no_batches() {
        let data = Dataset::new(Tensor::<f32>::zeros(&[0, 3]), vec![]);
        let mut rng = StdRng::seed_from_u64(0);
        assert_eq!(
            data.batches(4, &mut rng, BatchOptions::default()).count(),
            0
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let err = Dataset::try_new(Tensor::<f32>::zeros(&[3, 2]), vec![0; 4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dataset: x has 3 samples (shape [3, 2]), but y has 4 labels"
        );
        assert!(Dataset::try_new(Tensor::<f32>::scalar(1.0), vec![]).is_err());
        let data = numbered(4);
        assert!(data.try_subset(2..5).is_err());
        let reversed = std::ops::Range { start: 3, end: 2 };
        assert!(data.try_subset(reversed).is_err());
        assert_eq!(data.try_subset(..=3).unwrap().len(), 4);
        let mut rng = StdRng::seed_from_u64(0);
        let err = data
            .try_batches(0, &mut rng, BatchOptions::default())
            .unwrap_err();
        assert_eq!(err.to_string(), "batches: batch_size must be at least 1");
    }

    #[test]
    #[should_panic(expected = "subset: range")]
    fn subset_panics_with_the_message() {
        numbered(4).subset(..9);
    }
}
