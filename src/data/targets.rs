//! `Targets`: what a dataset predicts per sample (class ids or float tensors) and how it is gathered.

use super::error::Result;
use std::borrow::Cow;
use std::fmt::Debug;
use std::ops::Range;
use std::path::Path;
use tapegrad_tensor::{Float, Tensor};

/// What a [`Dataset`](super::Dataset) predicts, one entry per sample: class ids (`Vec<usize>`, for
/// classification) or float targets (`Tensor<T>` of shape `[n, …]`, e.g. `[n, 1]` for one
/// regression output or `[n, k]` for `k`).
///
/// The trait is sealed: these two types are its only implementations. Batches of a dataset yield
/// the same type as its targets: `Vec<usize>` labels, or a `Tensor<T>` of shape `[b, …]`.
///
/// ```
/// use tapegrad::data::Targets;
/// use tapegrad::prelude::*;
///
/// let labels = vec![3, 1, 4, 1, 5];
/// assert_eq!(Targets::<f32>::select(&labels, &[4, 0]), [5, 3]);
/// let values = Tensor::from_vec(vec![0.5f32, 1.5, 2.5], &[3, 1]);
/// assert_eq!(values.select(&[2, 2]).to_vec(), [2.5, 2.5]);
/// ```
pub trait Targets<T: Float>: Clone + Debug + sealed::Sealed<T> {
    /// The same targets for another float type: class ids stay `Vec<usize>`, tensors are cast.
    type Cast<U: Float>: Targets<U>;

    /// The number of samples: the labels' count, or a tensor's first size.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the samples at `indices`, in that order (an index may repeat).
    ///
    /// Named `select` (not `gather`) so as not to clash with [`Tensor::gather`].
    ///
    /// # Panics
    /// If an index is not below [`Targets::len`]; [`Dataset::try_select`](super::Dataset::try_select)
    /// checks first.
    fn select(&self, indices: &[usize]) -> Self;

    /// The targets of the samples in `range` (a view, for a tensor).
    ///
    /// # Panics
    /// If `range` is reversed or reaches past the end; [`Dataset::try_subset`](super::Dataset::try_subset)
    /// checks first.
    fn subset(&self, range: Range<usize>) -> Self;

    /// These targets for float type `U`.
    fn cast<U: Float>(&self) -> Self::Cast<U>;
}

/// Class ids: one `usize` label per sample.
impl<T: Float> Targets<T> for Vec<usize> {
    type Cast<U: Float> = Vec<usize>;

    fn len(&self) -> usize {
        Vec::len(self)
    }

    #[track_caller]
    fn select(&self, indices: &[usize]) -> Self {
        if let Some(&bad) = indices.iter().find(|&&i| i >= Vec::len(self)) {
            panic!(
                "select: index {bad} is out of range for {} labels",
                Vec::len(self)
            );
        }
        indices.iter().map(|&i| self[i]).collect()
    }

    #[track_caller]
    fn subset(&self, range: Range<usize>) -> Self {
        self[range].to_vec()
    }

    fn cast<U: Float>(&self) -> Vec<usize> {
        self.clone()
    }
}

/// Float targets: a tensor whose first axis is the sample axis.
impl<T: Float> Targets<T> for Tensor<T> {
    type Cast<U: Float> = Tensor<U>;

    /// The first size; 0 for a scalar, which no dataset accepts.
    fn len(&self) -> usize {
        self.shape().first().copied().unwrap_or(0)
    }

    #[track_caller]
    fn select(&self, indices: &[usize]) -> Self {
        self.index_select(0, indices)
    }

    #[track_caller]
    fn subset(&self, range: Range<usize>) -> Self {
        assert!(
            range.start <= range.end && range.end <= Targets::len(self),
            "subset: range {range:?} does not fit in {} samples",
            Targets::len(self)
        );
        self.narrow(0, range.start, range.end - range.start)
    }

    fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::cast(self)
    }
}

/// The parts of [`Targets`] only this crate uses: checks, messages and the file readers' hooks.
pub(crate) mod sealed {
    use super::*;

    /// Implemented for `Vec<usize>` and `Tensor<T>` only; keeps [`Targets`] closed.
    pub trait Sealed<T: Float>: Sized {
        /// One target cell of a CSV file, parsed.
        type Cell;

        /// Why these targets cannot label samples at all (a scalar tensor has no sample axis).
        fn defect(&self) -> Option<String>;

        /// The count for messages: `4 labels`, `4 targets (shape [4, 1])`.
        fn describe(&self) -> String;

        /// The shape for messages: `[n]` for labels.
        fn shape_of(&self) -> Vec<usize>;

        /// A form that gathers fast: contiguous for a tensor (copied once if it is a strided view).
        fn prepared(&self) -> Cow<'_, Self>
        where
            Self: Clone;

        /// The most target columns a CSV file may give these targets (`Some(1)` for class ids).
        fn max_columns() -> Option<usize>;

        /// Parses one CSV target cell; the error says why, quoting the text.
        fn parse_cell(text: &str) -> std::result::Result<Self::Cell, String>;

        /// The targets from the parsed cells, row-major, `rows × columns` of them.
        fn from_cells(
            cells: Vec<Self::Cell>,
            rows: usize,
            columns: usize,
        ) -> std::result::Result<Self, String>;

        /// Reads these targets from a NumPy `.npy` file.
        fn read_npy(path: &Path) -> Result<Self>;
    }

    impl<T: Float> Sealed<T> for Vec<usize> {
        type Cell = usize;

        fn defect(&self) -> Option<String> {
            None
        }

        fn describe(&self) -> String {
            format!("{} labels", self.len())
        }

        fn shape_of(&self) -> Vec<usize> {
            vec![self.len()]
        }

        fn prepared(&self) -> Cow<'_, Self> {
            Cow::Borrowed(self)
        }

        fn max_columns() -> Option<usize> {
            Some(1)
        }

        fn parse_cell(text: &str) -> std::result::Result<usize, String> {
            crate::data::csv::parse_class(text)
        }

        fn from_cells(
            cells: Vec<usize>,
            _rows: usize,
            _columns: usize,
        ) -> std::result::Result<Self, String> {
            Ok(cells)
        }

        fn read_npy(path: &Path) -> Result<Self> {
            crate::data::npy::read_npy_labels(path)
        }
    }

    impl<T: Float> Sealed<T> for Tensor<T> {
        type Cell = T;

        fn defect(&self) -> Option<String> {
            self.shape()
                .is_empty()
                .then(|| "y must have a sample axis, but it is a scalar".to_string())
        }

        fn describe(&self) -> String {
            format!("{} targets (shape {:?})", Targets::len(self), self.shape())
        }

        fn shape_of(&self) -> Vec<usize> {
            self.shape().to_vec()
        }

        fn prepared(&self) -> Cow<'_, Self> {
            if self.is_contiguous() {
                Cow::Borrowed(self)
            } else {
                Cow::Owned(self.contiguous())
            }
        }

        fn max_columns() -> Option<usize> {
            None
        }

        fn parse_cell(text: &str) -> std::result::Result<T, String> {
            crate::data::csv::parse_float(text)
        }

        fn from_cells(
            cells: Vec<T>,
            rows: usize,
            columns: usize,
        ) -> std::result::Result<Self, String> {
            Tensor::try_from_vec(cells, &[rows, columns]).map_err(|e| e.to_string())
        }

        fn read_npy(path: &Path) -> Result<Self> {
            crate::data::npy::read_npy(path)
        }
    }
}
