//! `max`/`min` along an axis or over everything, and `argmax`/`argmin`.
//!
//! NaN semantics follow PyTorch: `max`/`min` propagate NaN, and `argmax`/`argmin` return the
//! index of the first NaN if there is one; among equal extremes the first index wins.

use super::kinds::{ArgExtreme, Extreme};
use super::{Plan, axis_mask, reduced_shape};
use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// Largest element along `axis`: `y = max_i x_i`. NaN propagates (a NaN in the
    /// reduced set gives NaN), as in PyTorch.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.max(-1, false).to_vec(), vec![5.0, 4.0]);
    /// assert_eq!(x.argmax(-1), vec![1, 1]);
    /// assert!(x.try_max(2, false).is_err());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range or has size 0; [`Tensor::try_max`] returns the error.
    #[track_caller]
    pub fn max(&self, axis: isize, keepdim: bool) -> Self {
        or_panic(self.try_max(axis, keepdim))
    }

    /// Fallible [`Tensor::max`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`; `Empty` when that axis has size 0.
    pub fn try_max(&self, axis: isize, keepdim: bool) -> Result<Self> {
        self.extreme_along("max", axis, keepdim, &Extreme::<true>)
    }

    /// Smallest element along `axis`: `y = min_i x_i`; NaN propagates, as in PyTorch.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.min(0, false).to_vec(), [1.0, 4.0]);
    /// assert_eq!(x.min(0, true).shape(), [1, 2]);
    /// assert!(x.try_min(2, false).is_err());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range or has size 0; [`Tensor::try_min`] returns the error.
    #[track_caller]
    pub fn min(&self, axis: isize, keepdim: bool) -> Self {
        or_panic(self.try_min(axis, keepdim))
    }

    /// Fallible [`Tensor::min`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`; `Empty` when that axis has size 0.
    pub fn try_min(&self, axis: isize, keepdim: bool) -> Result<Self> {
        self.extreme_along("min", axis, keepdim, &Extreme::<false>)
    }

    /// Largest element, `max x`, as a rank-0 tensor; NaN if any element is NaN.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, -3.0, 4.0], &[2, 2]);
    /// assert_eq!((x.max_all().item(), x.min_all().item()), (5.0, -3.0));
    /// let empty = Tensor::<f32>::zeros(&[0]);
    /// assert!(empty.try_max_all().is_err() && empty.try_min_all().is_err());
    /// ```
    ///
    /// # Panics
    /// If the tensor is empty; [`Tensor::try_max_all`] returns the error.
    #[track_caller]
    pub fn max_all(&self) -> Self {
        or_panic(self.try_max_all())
    }

    /// Fallible [`Tensor::max_all`].
    ///
    /// Example: [`Tensor::max_all`].
    ///
    /// # Errors
    /// `Empty` for a tensor without elements.
    pub fn try_max_all(&self) -> Result<Self> {
        self.extreme_all("max_all", &Extreme::<true>)
    }

    /// Smallest element, `min x`, as a rank-0 tensor; NaN if any element is NaN.
    ///
    /// Example: [`Tensor::max_all`].
    ///
    /// # Panics
    /// If the tensor is empty; [`Tensor::try_min_all`] returns the error.
    #[track_caller]
    pub fn min_all(&self) -> Self {
        or_panic(self.try_min_all())
    }

    /// Fallible [`Tensor::min_all`].
    ///
    /// Example: [`Tensor::max_all`].
    ///
    /// # Errors
    /// `Empty` for a tensor without elements.
    pub fn try_min_all(&self) -> Result<Self> {
        self.extreme_all("min_all", &Extreme::<false>)
    }

    /// Index along `axis` of the largest element, `argmax_i x_i`, for each position of the other
    /// axes in row-major order. The first NaN wins if there is one (it is what `max` returns);
    /// among equal maxima the first index wins.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 5.0, 4.0, 0.0, 9.0], &[2, 3]);
    /// assert_eq!(x.argmax(1), [1, 2]); // the first of equal maxima
    /// assert_eq!(x.argmin(1), [0, 1]);
    /// assert_eq!(x.argmax(0), [1, 0, 1]);
    /// assert!(x.try_argmax(2).is_err() && x.try_argmin(2).is_err());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range or has size 0; [`Tensor::try_argmax`] returns the error.
    #[track_caller]
    pub fn argmax(&self, axis: isize) -> Vec<usize> {
        or_panic(self.try_argmax(axis))
    }

    /// Fallible [`Tensor::argmax`].
    ///
    /// Example: [`Tensor::argmax`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`; `Empty` when that axis has size 0.
    pub fn try_argmax(&self, axis: isize) -> Result<Vec<usize>> {
        self.arg_extreme_along("argmax", axis, &ArgExtreme::<true>)
    }

    /// Index along `axis` of the smallest element, `argmin_i x_i`, row-major over the other axes;
    /// the first NaN wins if there is one, and among equal minima the first index.
    ///
    /// Example: [`Tensor::argmax`].
    ///
    /// # Panics
    /// If the axis is out of range or has size 0; [`Tensor::try_argmin`] returns the error.
    #[track_caller]
    pub fn argmin(&self, axis: isize) -> Vec<usize> {
        or_panic(self.try_argmin(axis))
    }

    /// Fallible [`Tensor::argmin`].
    ///
    /// Example: [`Tensor::argmax`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`; `Empty` when that axis has size 0.
    pub fn try_argmin(&self, axis: isize) -> Result<Vec<usize>> {
        self.arg_extreme_along("argmin", axis, &ArgExtreme::<false>)
    }

    fn extreme_along<const MAX: bool>(
        &self,
        op: &'static str,
        axis: isize,
        keepdim: bool,
        fold: &Extreme<MAX>,
    ) -> Result<Self> {
        let (ax, plan) = self.axis_plan(op, axis)?;
        let data = plan.fold(self.storage_slice(), fold);
        let mask = axis_mask(self.rank(), &[ax]);
        Ok(Self::from_vec_unchecked(
            data,
            &reduced_shape(self.shape(), &mask, keepdim),
        ))
    }

    fn extreme_all<const MAX: bool>(&self, op: &'static str, fold: &Extreme<MAX>) -> Result<Self> {
        if self.numel() == 0 {
            return Err(TensorError::Empty {
                op,
                shape: self.shape().to_vec(),
            });
        }
        let plan = Plan::new(self.layout(), &vec![true; self.rank()]);
        Ok(Self::from_vec_unchecked(
            plan.fold(self.storage_slice(), fold),
            &[],
        ))
    }

    fn arg_extreme_along<const MAX: bool>(
        &self,
        op: &'static str,
        axis: isize,
        fold: &ArgExtreme<MAX>,
    ) -> Result<Vec<usize>> {
        let (_, plan) = self.axis_plan(op, axis)?;
        let best = plan.fold(self.storage_slice(), fold);
        Ok(best.into_iter().map(|(_, i)| i).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_min_arg_by_hand() {
        let x = Tensor::from_vec(vec![3.0f32, 1.0, 3.0, -2.0, 7.0, 7.0], &[2, 3]);
        assert_eq!(x.max(1, false).to_vec(), vec![3.0, 7.0]);
        assert_eq!(x.min(-1, true).to_vec(), vec![1.0, -2.0]);
        assert_eq!(x.min(-1, true).shape(), &[2, 1]);
        assert_eq!(x.max(0, false).to_vec(), vec![3.0, 7.0, 7.0]);
        // Ties pick the first index.
        assert_eq!(x.argmax(1), vec![0, 1]);
        assert_eq!(x.argmin(1), vec![1, 0]);
        assert_eq!(x.argmax(0), vec![0, 1, 1]);
        assert_eq!(x.max_all().item(), 7.0);
        assert_eq!(x.min_all().item(), -2.0);
        let ones = Tensor::<f64>::ones(&[4, 1]);
        assert_eq!(ones.argmax(1), vec![0; 4]);
        let inf = Tensor::from_vec(vec![f64::NEG_INFINITY; 3], &[3]);
        assert_eq!(inf.argmax(0), vec![0]);
        assert_eq!(inf.max_all().item(), f64::NEG_INFINITY);
    }

    #[test]
    fn nan_propagates_through_max_and_wins_argmax() {
        let nan = f64::NAN;
        let x = Tensor::from_vec(vec![1.0, nan, 5.0, nan, 2.0, 0.0], &[2, 3]);
        let m = x.max(1, false).to_vec();
        assert!(m[0].is_nan() && m[1].is_nan());
        assert!(x.min(0, false).to_vec()[1].is_nan());
        assert_eq!(x.min(0, false).to_vec()[2], 0.0);
        assert!(x.max_all().item().is_nan());
        assert!(x.min_all().item().is_nan());
        assert_eq!(x.argmax(1), vec![1, 0]);
        assert_eq!(x.argmin(1), vec![1, 0]);
        assert_eq!(x.argmax(0), vec![1, 0, 0]);
        assert!(x.sum_all().item().is_nan());
    }

    #[test]
    fn empty_axis_is_an_error_for_extremes() {
        let e = Tensor::<f32>::zeros(&[2, 0]);
        assert_eq!(
            e.try_max(1, false).unwrap_err().to_string(),
            "max: needs at least one element, but the input has shape [2, 0]"
        );
        assert!(e.try_argmax(-1).is_err());
        assert!(e.try_min_all().is_err());
        assert_eq!(e.max(0, false).shape(), &[0]);
        assert_eq!(e.argmin(0), Vec::<usize>::new());
    }
}
