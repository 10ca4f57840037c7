//! `Dataset`: inputs with one target per sample (a class id or a float tensor row), its seeded
//! mini-batch iterator and its train/validation splits.

use super::error::{DataError, Result, or_panic};
use super::targets::Targets;
use rand::Rng;
use rand::seq::SliceRandom;
use std::borrow::Cow;
use std::ops::{Bound, RangeBounds};
use tapegrad_tensor::{Float, Tensor};

/// Samples along axis 0 of `x`, each with a target in `y`: a class id (`Y = Vec<usize>`, the
/// default, as MNIST) or a row of a float tensor (`Y = Tensor<T>` of shape `[n, …]`, for
/// regression).
///
/// `x` has shape `[n, …]` (MNIST: `[n, 784]`); any data of that form can be wrapped with
/// [`Dataset::new`] (labels) or [`Dataset::from_tensors`] (float targets) to reuse the batching
/// and splitting.
///
/// ```
/// # use tapegrad::data::Dataset;
/// # use tapegrad::prelude::*;
/// let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0], &[3, 2]);
/// let data = Dataset::new(x.clone(), vec![0, 1, 0]);
/// assert_eq!(data.len(), 3);
/// assert_eq!(data.subset(1..).y(), &[1, 0]);
///
/// // regression: one float target per sample, shape [3, 1]
/// let y = Tensor::from_vec(vec![0.5f32, 1.5, 2.5], &[3, 1]);
/// let data = Dataset::from_tensors(x, y);
/// assert_eq!(data.subset(1..).y().to_vec(), [1.5, 2.5]);
/// ```
#[derive(Clone, Debug)]
pub struct Dataset<T: Float = f32, Y: Targets<T> = Vec<usize>> {
    x: Tensor<T>,
    y: Y,
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

/// How many samples [`Dataset::split`] puts in the validation part: a fraction of the dataset
/// (`0.2`, from an `f64` or `f32`) or a count (`1000`, from a `usize`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitSize {
    /// This fraction of the samples, rounded to the nearest count; must lie in `[0, 1]`.
    Fraction(f64),
    /// Exactly this many samples; must not exceed the dataset's length.
    Count(usize),
}

impl From<f64> for SplitSize {
    fn from(fraction: f64) -> Self {
        SplitSize::Fraction(fraction)
    }
}

impl From<f32> for SplitSize {
    fn from(fraction: f32) -> Self {
        SplitSize::Fraction(f64::from(fraction))
    }
}

impl From<usize> for SplitSize {
    fn from(count: usize) -> Self {
        SplitSize::Count(count)
    }
}

impl SplitSize {
    /// The number of samples this size means out of `n`, or why it is not one.
    fn count(self, n: usize) -> std::result::Result<usize, String> {
        match self {
            SplitSize::Fraction(f) if (0.0..=1.0).contains(&f) => {
                // Exact for any n below 2^53; `f <= 1` keeps the result at most n.
                Ok(((f * n as f64).round() as usize).min(n))
            }
            SplitSize::Fraction(f) => Err(format!(
                "the validation fraction must lie between 0 and 1, but it is {f}"
            )),
            SplitSize::Count(k) if k <= n => Ok(k),
            SplitSize::Count(k) => Err(format!(
                "{k} validation samples asked for, but the dataset has {n}"
            )),
        }
    }
}

impl<T: Float> Dataset<T> {
    /// A dataset of the samples along axis 0 of `x`, labelled by the class ids `y`.
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
        Self::try_from_parts(x, y)
    }

    /// The labels, one class id per sample.
    pub fn y(&self) -> &[usize] {
        &self.y
    }
}

impl<T: Float> Dataset<T, Tensor<T>> {
    /// A dataset of the samples along axis 0 of `x` with float targets `y` of shape `[n, …]`
    /// (`[n, 1]` for one regression output, `[n, k]` for `k`): row `i` of `y` is sample `i`'s.
    ///
    /// ```
    /// # use tapegrad::data::Dataset;
    /// # use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0], &[2, 2]);
    /// let data = Dataset::from_tensors(x, Tensor::from_vec(vec![0.5, -1.0], &[2, 1]));
    /// assert_eq!(data.y().shape(), &[2, 1]);
    /// let err = Dataset::try_from_tensors(Tensor::<f32>::zeros(&[2, 2]), Tensor::zeros(&[3, 1]));
    /// assert_eq!(
    ///     err.unwrap_err().to_string(),
    ///     "dataset: x has 2 samples (shape [2, 2]), but y has 3 targets (shape [3, 1])"
    /// );
    /// ```
    ///
    /// # Panics
    /// If `x` or `y` is a scalar or they hold different numbers of samples;
    /// [`Dataset::try_from_tensors`] returns the error.
    #[track_caller]
    pub fn from_tensors(x: Tensor<T>, y: Tensor<T>) -> Self {
        or_panic(Self::try_from_tensors(x, y))
    }

    /// Fallible [`Dataset::from_tensors`].
    ///
    /// # Errors
    /// [`DataError::Dataset`] if `x` or `y` is a scalar or their first sizes differ; the message
    /// names both shapes.
    pub fn try_from_tensors(x: Tensor<T>, y: Tensor<T>) -> Result<Self> {
        Self::try_from_parts(x, y)
    }

    /// The float targets, shape `[n, …]`.
    pub fn y(&self) -> &Tensor<T> {
        &self.y
    }
}

impl<T: Float, Y: Targets<T>> Dataset<T, Y> {
    /// A dataset of inputs `x` and targets `y` of either kind, as [`Dataset::new`] and
    /// [`Dataset::from_tensors`] build them: for code generic over the target kind.
    ///
    /// # Errors
    /// [`DataError::Dataset`] if `x` or a target tensor is a scalar, or they hold different
    /// numbers of samples (the message names both).
    pub fn try_from_parts(x: Tensor<T>, y: Y) -> Result<Self> {
        let why = match x.shape().first() {
            None => Some("x must have a sample axis, but it is a scalar".to_string()),
            Some(_) if y.defect().is_some() => y.defect(),
            Some(&n) if n != y.len() => Some(format!(
                "x has {n} samples (shape {:?}), but y has {}",
                x.shape(),
                y.describe()
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

    /// The targets, of either kind (`y()` gives them as a slice or tensor for a known kind).
    pub fn targets(&self) -> &Y {
        &self.y
    }

    /// The inputs and the targets, taken apart.
    pub fn into_parts(self) -> (Tensor<T>, Y) {
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
            (Some(start), Some(end)) if start <= end && end <= n => Ok(Dataset {
                x: self.x.narrow(0, start, end - start),
                y: self.y.subset(start..end),
            }),
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

    /// The samples at `indices`, in that order (an index may repeat), copied into a new dataset.
    ///
    /// ```
    /// # use tapegrad::data::Dataset;
    /// # use tapegrad::prelude::*;
    /// let data = Dataset::new(Tensor::<f32>::arange(0.0, 4.0, 1.0).reshape(&[4, 1]), vec![0, 1, 2, 3]);
    /// let picked = data.select(&[3, 0]);
    /// assert_eq!(picked.x().to_vec(), [3.0, 0.0]);
    /// assert_eq!(picked.y(), &[3, 0]);
    /// ```
    ///
    /// # Panics
    /// If an index is not below [`Dataset::len`]; [`Dataset::try_select`] returns the error.
    #[track_caller]
    pub fn select(&self, indices: &[usize]) -> Self {
        or_panic(self.try_select(indices))
    }

    /// Fallible [`Dataset::select`].
    ///
    /// # Errors
    /// [`DataError::Dataset`] naming the first index that is not below the sample count.
    pub fn try_select(&self, indices: &[usize]) -> Result<Self> {
        let n = self.len();
        if let Some((pos, &bad)) = indices.iter().enumerate().find(|&(_, &i)| i >= n) {
            return Err(DataError::Dataset {
                op: "select",
                why: format!("index {bad} (at position {pos}) is out of range for {n} samples"),
            });
        }
        Ok(self.gather(indices))
    }

    /// [`Dataset::select`] of indices known to be in range.
    fn gather(&self, indices: &[usize]) -> Self {
        Dataset {
            x: self.x.index_select(0, indices),
            y: self.y.select(indices),
        }
    }

    /// The same samples with inputs (and float targets) converted to another float type.
    pub fn cast<U: Float>(&self) -> Dataset<U, Y::Cast<U>> {
        Dataset {
            x: self.x.cast(),
            y: self.y.cast(),
        }
    }

    /// A seeded random split into `(train, validation)`: `validation` is the fraction (`0.2`) or
    /// the count (`1000`) of samples that go to the second part; the rest go to the first.
    ///
    /// The samples are drawn by one permutation from `rng`, so one seed gives one split; the two
    /// parts are disjoint, together hold every sample once, and each keeps the original order. A
    /// fraction is rounded to the nearest count.
    ///
    /// ```
    /// # use tapegrad::data::Dataset;
    /// # use tapegrad::prelude::*;
    /// let data = Dataset::new(Tensor::<f32>::zeros(&[10, 3]), (0..10).collect());
    /// let (train, val) = data.split(0.2, &mut StdRng::seed_from_u64(7));
    /// assert_eq!((train.len(), val.len()), (8, 2));
    /// let (again, _) = data.split(0.2, &mut StdRng::seed_from_u64(7));
    /// assert_eq!(train.y(), again.y());
    /// let (_, val) = data.split(3, &mut StdRng::seed_from_u64(7)); // a count
    /// assert_eq!(val.len(), 3);
    /// ```
    ///
    /// # Panics
    /// If a fraction is not in `[0, 1]` (NaN included) or a count exceeds the sample count;
    /// [`Dataset::try_split`] returns the error.
    #[track_caller]
    pub fn split<R: Rng + ?Sized>(
        &self,
        validation: impl Into<SplitSize>,
        rng: &mut R,
    ) -> (Self, Self) {
        or_panic(self.try_split(validation, rng))
    }

    /// Fallible [`Dataset::split`].
    ///
    /// # Errors
    /// [`DataError::Dataset`] if a fraction is NaN or outside `[0, 1]`, or a count exceeds the
    /// number of samples. The generator is not used then.
    pub fn try_split<R: Rng + ?Sized>(
        &self,
        validation: impl Into<SplitSize>,
        rng: &mut R,
    ) -> Result<(Self, Self)> {
        let n = self.len();
        let k = validation
            .into()
            .count(n)
            .map_err(|why| DataError::Dataset { op: "split", why })?;
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(rng);
        let (val, train) = order.split_at_mut(k);
        val.sort_unstable();
        train.sort_unstable();
        Ok((self.gather(train), self.gather(val)))
    }

    /// The first `mid` samples and the rest, unshuffled (views, no copy), like `slice::split_at`.
    ///
    /// # Panics
    /// If `mid` exceeds the sample count; [`Dataset::try_split_at`] returns the error.
    #[track_caller]
    pub fn split_at(&self, mid: usize) -> (Self, Self) {
        or_panic(self.try_split_at(mid))
    }

    /// Fallible [`Dataset::split_at`].
    ///
    /// # Errors
    /// [`DataError::Dataset`] if `mid` exceeds the number of samples.
    pub fn try_split_at(&self, mid: usize) -> Result<(Self, Self)> {
        let n = self.len();
        if mid > n {
            return Err(DataError::Dataset {
                op: "split_at",
                why: format!("cannot split {n} samples at {mid}"),
            });
        }
        Ok((self.subset(..mid), self.subset(mid..)))
    }

    /// Mini-batches of `batch_size` samples: `(x [b, …], targets)`, every sample once per pass.
    /// The targets are a `Vec<usize>` of labels or a tensor `[b, …]`, as the dataset's.
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
    ///
    /// // float targets come in batches of rows
    /// let data = Dataset::from_tensors(Tensor::<f32>::zeros(&[10, 4]), Tensor::<f32>::ones(&[10, 2]));
    /// for (x, y) in data.batches(4, &mut rng, BatchOptions::default()) {
    ///     assert_eq!(y.shape(), &[x.shape()[0], 2]);
    /// }
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
    ) -> Batches<'_, T, Y> {
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
    ) -> Result<Batches<'_, T, Y>> {
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
        // Row-major inputs and targets to gather from: a view (e.g. from `subset`) is copied once
        // here, not once per batch.
        let x = if self.x.is_contiguous() {
            Cow::Borrowed(&self.x)
        } else {
            Cow::Owned(self.x.contiguous())
        };
        Ok(Batches {
            x,
            y: self.y.prepared(),
            order,
            next: 0,
            end,
            batch_size,
        })
    }
}

/// The iterator of [`Dataset::batches`]: yields `(x [b, …], targets)`, the targets as the
/// dataset's (`Vec<usize>` labels or a tensor `[b, …]`).
#[derive(Debug)]
pub struct Batches<'a, T: Float, Y: Targets<T> = Vec<usize>> {
    x: Cow<'a, Tensor<T>>,
    y: Cow<'a, Y>,
    order: Vec<usize>,
    next: usize,
    end: usize,
    batch_size: usize,
}

impl<T: Float, Y: Targets<T>> Iterator for Batches<'_, T, Y> {
    type Item = (Tensor<T>, Y);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let stop = self.end.min(self.next + self.batch_size);
        let picked = &self.order[self.next..stop];
        self.next = stop;
        Some((self.x.index_select(0, picked), self.y.select(picked)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.next).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl<T: Float, Y: Targets<T>> ExactSizeIterator for Batches<'_, T, Y> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

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
