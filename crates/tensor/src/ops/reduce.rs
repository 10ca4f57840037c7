//! Reductions: `sum`, `mean`, `var`, and `sum_to`, the reduction that undoes a broadcast;
//! `max`/`min` and `argmax`/`argmin` live in `extreme.rs`.
//!
//! All of them run on one driver ([`fold::Plan`]) that picks a walk from the layout once and cuts
//! the work into fixed blocks, so 1 and N rayon threads give identical bits.

mod extreme;
mod fold;
mod kinds;

pub(crate) use fold::Plan;
pub(crate) use fold::fold_short_rows;
use fold::sum_leading_rows;
pub(crate) use kinds::{CenteredSum, Extreme};

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::shape::{normalize_axes, normalize_axis};
use crate::tensor::Tensor;
use kinds::Sum;

/// `mask[axis]` is true for the reduced axes.
fn axis_mask(rank: usize, axes: &[usize]) -> Vec<bool> {
    let mut mask = vec![false; rank];
    for &a in axes {
        mask[a] = true;
    }
    mask
}

/// The shape after reducing the masked axes: removed, or kept with size 1.
pub(crate) fn reduced_shape(shape: &[usize], mask: &[bool], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(mask)
        .filter_map(|(&d, &r)| match (r, keepdim) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

impl<T: Float> Tensor<T> {
    /// Sum over `axes`: `y = Σ_{axes} x`; `keepdim` keeps each reduced axis with size 1.
    ///
    /// An empty `axes` list reduces nothing and returns a copy; use [`Tensor::sum_all`] for
    /// every axis. A sum over zero elements is 0.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(x.sum(&[0], false).to_vec(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(x.sum(&[-1], true).shape(), &[2, 1]);
    /// assert!(x.try_sum(&[0, 0], false).is_err()); // a repeated axis
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range or repeated; [`Tensor::try_sum`] returns the error.
    #[track_caller]
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Self {
        or_panic(self.try_sum(axes, keepdim))
    }

    /// Fallible [`Tensor::sum`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`, `InvalidArgument` for a repeated one.
    pub fn try_sum(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        let axes = normalize_axes("sum", axes, self.rank())?;
        if axes.is_empty() {
            return Ok(Self::from_vec_unchecked(self.to_vec(), self.shape()));
        }
        let mask = axis_mask(self.rank(), &axes);
        let data = Plan::new(self.layout(), &mask).fold(self.storage_slice(), &Sum);
        Ok(Self::from_vec_unchecked(
            data,
            &reduced_shape(self.shape(), &mask, keepdim),
        ))
    }

    /// Sum of every element, `Σ x`, as a rank-0 tensor (0 for an empty tensor).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.sum_all().item(), 10.0);
    /// ```
    pub fn sum_all(&self) -> Self {
        let mask = vec![true; self.rank()];
        let data = Plan::new(self.layout(), &mask).fold(self.storage_slice(), &Sum);
        Self::from_vec_unchecked(data, &[])
    }

    /// Mean over `axes`: `y = (1/m) Σ_{axes} x` with `m` the number of reduced elements.
    ///
    /// An empty `axes` list reduces nothing and returns a copy; use [`Tensor::mean_all`] for every axis.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(x.mean(&[1], false).to_vec(), [2.0, 5.0]);
    /// assert_eq!(x.mean(&[0], true).shape(), [1, 3]);
    /// assert!(x.try_mean(&[2], false).is_err());
    /// ```
    ///
    /// # Panics
    /// If an axis is invalid or the reduced axes hold no element; [`Tensor::try_mean`] returns the error.
    #[track_caller]
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Self {
        or_panic(self.try_mean(axes, keepdim))
    }

    /// Fallible [`Tensor::mean`].
    ///
    /// # Errors
    /// `InvalidAxis`/`InvalidArgument` for bad axes; `Empty` when a reduced axis has size 0.
    pub fn try_mean(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        let axes = normalize_axes("mean", axes, self.rank())?;
        if axes.is_empty() {
            return Ok(Self::from_vec_unchecked(self.to_vec(), self.shape()));
        }
        let mask = axis_mask(self.rank(), &axes);
        let data = self.means("mean", &Plan::new(self.layout(), &mask))?;
        Ok(Self::from_vec_unchecked(
            data,
            &reduced_shape(self.shape(), &mask, keepdim),
        ))
    }

    /// Mean of every element, `(1/n) Σ x`, as a rank-0 tensor.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.mean_all().item(), 2.5);
    /// assert!(Tensor::<f32>::zeros(&[0]).try_mean_all().is_err());
    /// ```
    ///
    /// # Panics
    /// If the tensor is empty; [`Tensor::try_mean_all`] returns the error.
    #[track_caller]
    pub fn mean_all(&self) -> Self {
        or_panic(self.try_mean_all())
    }

    /// Fallible [`Tensor::mean_all`].
    ///
    /// # Errors
    /// `Empty` for a tensor without elements.
    pub fn try_mean_all(&self) -> Result<Self> {
        let plan = Plan::new(self.layout(), &vec![true; self.rank()]);
        Ok(Self::from_vec_unchecked(
            self.means("mean_all", &plan)?,
            &[],
        ))
    }

    /// Population variance over `axes`: `(1/m) Σ (x − μ)²` with `μ` the mean over `axes` (no
    /// Bessel correction, as in input normalisation; PyTorch: `var(unbiased=False)`).
    ///
    /// Computed in two passes (mean, then squared deviations), which stays accurate when the
    /// mean is large next to the spread. An empty `axes` list gives each element's own
    /// variance: 0 (NaN where `x` is infinite or NaN).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f64, 3.0, 10.0, 14.0], &[2, 2]);
    /// assert_eq!(x.var(&[1], false).to_vec(), vec![1.0, 4.0]);
    /// assert!(x.try_var(&[2], false).is_err());
    /// ```
    ///
    /// # Panics
    /// If an axis is invalid or the reduced axes hold no element; [`Tensor::try_var`] returns the error.
    #[track_caller]
    pub fn var(&self, axes: &[isize], keepdim: bool) -> Self {
        or_panic(self.try_var(axes, keepdim))
    }

    /// Fallible [`Tensor::var`].
    ///
    /// # Errors
    /// `InvalidAxis`/`InvalidArgument` for bad axes; `Empty` when a reduced axis has size 0.
    pub fn try_var(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        let axes = normalize_axes("var", axes, self.rank())?;
        let mask = axis_mask(self.rank(), &axes);
        let data = self.variances("var", &Plan::new(self.layout(), &mask))?;
        Ok(Self::from_vec_unchecked(
            data,
            &reduced_shape(self.shape(), &mask, keepdim),
        ))
    }

    /// Population variance of every element, `(1/n) Σ (x − μ)²`, as a rank-0 tensor.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 3.0, 1.0, 3.0], &[2, 2]);
    /// assert_eq!(x.var_all().item(), 1.0);
    /// assert!(Tensor::<f32>::zeros(&[0]).try_var_all().is_err());
    /// ```
    ///
    /// # Panics
    /// If the tensor is empty; [`Tensor::try_var_all`] returns the error.
    #[track_caller]
    pub fn var_all(&self) -> Self {
        or_panic(self.try_var_all())
    }

    /// Fallible [`Tensor::var_all`].
    ///
    /// # Errors
    /// `Empty` for a tensor without elements.
    pub fn try_var_all(&self) -> Result<Self> {
        let plan = Plan::new(self.layout(), &vec![true; self.rank()]);
        Ok(Self::from_vec_unchecked(
            self.variances("var_all", &plan)?,
            &[],
        ))
    }

    /// Sums `self` down to `shape`, undoing [`Tensor::broadcast_to`]: extra leading axes, and
    /// axes where `shape` has size 1 but `self` does not, are summed away.
    ///
    /// Returns `self` without copying when the shapes already agree. This is how a gradient in
    /// a broadcast output's shape is brought back to each input's shape.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let g = Tensor::<f64>::ones(&[4, 2, 3]);
    /// assert_eq!(g.sum_to(&[2, 1]).to_vec(), vec![12.0, 12.0]);
    /// assert!(g.try_sum_to(&[2, 2]).is_err());
    /// ```
    ///
    /// # Panics
    /// If `shape` does not broadcast to `self`'s shape; [`Tensor::try_sum_to`] returns the error.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Self {
        or_panic(self.try_sum_to(shape))
    }

    /// Fallible [`Tensor::sum_to`].
    ///
    /// # Errors
    /// `ShapeMismatch` naming both shapes when `shape` does not broadcast to `self`'s shape.
    pub fn try_sum_to(&self, shape: &[usize]) -> Result<Self> {
        let rank = self.rank();
        if shape.len() > rank {
            return Err(TensorError::shape(
                "sum_to",
                self.shape(),
                shape,
                "the target has more axes than the tensor",
            ));
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let lead = rank - shape.len();
        let mut mask = vec![true; rank];
        for (i, &t) in shape.iter().enumerate() {
            let d = self.shape()[lead + i];
            if t != d && t != 1 {
                return Err(TensorError::shape(
                    "sum_to",
                    self.shape(),
                    shape,
                    format!("target axis {i} has size {t}, which is neither 1 nor {d}"),
                ));
            }
            mask[lead + i] = t != d;
        }
        // Fast path: a small contiguous tensor summed over leading axes only (bias gradients).
        if !mask[lead..].contains(&true)
            && self.numel() < crate::PARALLEL_THRESHOLD
            && let Some(xs) = self.as_contiguous_slice()
        {
            let width = shape.iter().product();
            return Ok(Self::from_vec_unchecked(sum_leading_rows(xs, width), shape));
        }
        let data = Plan::new(self.layout(), &mask).fold(self.storage_slice(), &Sum);
        Ok(Self::from_vec_unchecked(data, shape))
    }

    /// Means of each output under `plan`; `Empty` when there is nothing to average.
    fn means(&self, op: &'static str, plan: &Plan) -> Result<Vec<T>> {
        if plan.n_reduced == 0 {
            return Err(TensorError::Empty {
                op,
                shape: self.shape().to_vec(),
            });
        }
        let mut sums = plan.fold(self.storage_slice(), &Sum);
        let m = T::from_usize(plan.n_reduced);
        sums.iter_mut().for_each(|s| *s /= m);
        Ok(sums)
    }

    /// Population variances of each output under `plan`, in two passes.
    fn variances(&self, op: &'static str, plan: &Plan) -> Result<Vec<T>> {
        let centers = self.means(op, plan)?;
        let square = CenteredSum {
            centers: &centers,
            f: |d: T| d * d,
        };
        let mut out = plan.fold(self.storage_slice(), &square);
        let m = T::from_usize(plan.n_reduced);
        out.iter_mut().for_each(|s| *s /= m);
        Ok(out)
    }

    /// The plan for a reduction along one axis, rejecting an empty axis.
    pub(crate) fn axis_plan(&self, op: &'static str, axis: isize) -> Result<(usize, Plan)> {
        let ax = normalize_axis(op, axis, self.rank())?;
        if self.shape()[ax] == 0 {
            return Err(TensorError::Empty {
                op,
                shape: self.shape().to_vec(),
            });
        }
        Ok((ax, Plan::new(self.layout(), &axis_mask(self.rank(), &[ax]))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[[0, 1, 2], [3, 4, 5]]` stacked twice with +6: values 0..12 in shape [2, 2, 3].
    fn x223() -> Tensor<f64> {
        Tensor::arange(0.0, 12.0, 1.0).reshape(&[2, 2, 3])
    }

    #[test]
    fn sum_by_hand_with_keepdim_and_negative_axes() {
        let x = x223();
        let s = x.sum(&[0], false);
        assert_eq!(s.shape(), &[2, 3]);
        assert_eq!(s.to_vec(), vec![6.0, 8.0, 10.0, 12.0, 14.0, 16.0]);
        let s = x.sum(&[-1], true);
        assert_eq!(s.shape(), &[2, 2, 1]);
        assert_eq!(s.to_vec(), vec![3.0, 12.0, 21.0, 30.0]);
        let s = x.sum(&[2, 0], false);
        assert_eq!(s.to_vec(), vec![24.0, 42.0]);
        assert_eq!(x.sum(&[0, 1, 2], true).shape(), &[1, 1, 1]);
        assert_eq!(x.sum_all().shape(), &[] as &[usize]);
        assert_eq!(x.sum_all().item(), 66.0);
        // A transposed view reduces the same logical elements.
        assert_eq!(
            x.transpose(0, 2).sum(&[0], false).to_vec(),
            vec![3.0, 21.0, 12.0, 30.0]
        );
    }

    #[test]
    fn empty_axes_copy_and_empty_sets_sum_to_zero() {
        let x = x223();
        let c = x.sum(&[], false);
        assert_eq!(c.to_vec(), x.to_vec());
        assert!(!c.shares_storage(&x));
        assert_eq!(x.mean(&[], true).to_vec(), x.to_vec());
        assert_eq!(x.var(&[], false).to_vec(), vec![0.0; 12]);
        let e = Tensor::<f32>::zeros(&[3, 0]);
        assert_eq!(e.sum(&[1], false).to_vec(), vec![0.0; 3]);
        assert_eq!(e.sum(&[0], false).shape(), &[0]);
        assert_eq!(e.sum_all().item(), 0.0);
    }

    #[test]
    fn mean_and_var_by_hand() {
        let x = x223();
        assert_eq!(
            x.mean(&[1], false).to_vec(),
            vec![1.5, 2.5, 3.5, 7.5, 8.5, 9.5]
        );
        assert_eq!(x.mean_all().item(), 5.5);
        assert_eq!(x.var(&[1], true).to_vec(), vec![2.25; 6]);
        assert_eq!(x.var(&[1], true).shape(), &[2, 1, 3]);
        // Values 0..12: variance (n² − 1) / 12.
        assert!((x.var_all().item() - 143.0 / 12.0).abs() < 1e-12);
        // Two passes keep a tiny spread around a large mean.
        let big = Tensor::from_vec(vec![1e8f64 + 1.0, 1e8 + 3.0], &[2]);
        assert_eq!(big.var_all().item(), 1.0);
    }

    #[test]
    fn mean_and_var_of_nothing_are_errors() {
        let e = Tensor::<f64>::zeros(&[2, 0]);
        let err = e.try_mean(&[1], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mean: needs at least one element, but the input has shape [2, 0]"
        );
        assert!(e.try_var(&[-1], false).is_err());
        assert!(e.try_mean_all().is_err());
        assert_eq!(e.try_var_all().unwrap_err().op(), "var_all");
        // Reducing a non-empty axis of an empty tensor is fine: there are no outputs.
        assert_eq!(e.mean(&[0], false).shape(), &[0]);
    }

    #[test]
    fn bad_axes_name_the_op() {
        let x = x223();
        assert_eq!(
            x.try_sum(&[3], false).unwrap_err().to_string(),
            "sum: axis 3 is out of range for a tensor of rank 3 (valid: -3..3)"
        );
        assert_eq!(x.try_mean(&[0, -3], false).unwrap_err().op(), "mean");
        assert_eq!(x.try_max(-4, false).unwrap_err().op(), "max");
        assert_eq!(x.try_argmin(5).unwrap_err().op(), "argmin");
    }

    #[test]
    fn sum_to_undoes_broadcast() {
        let x = Tensor::<f64>::arange(0.0, 6.0, 1.0).reshape(&[2, 3]);
        let g = x.broadcast_to(&[4, 2, 3]);
        assert_eq!(
            g.sum_to(&[2, 3]).to_vec(),
            (0..6).map(|v| 4.0 * v as f64).collect::<Vec<_>>()
        );
        assert_eq!(g.sum_to(&[1, 3]).to_vec(), vec![12.0, 20.0, 28.0]);
        assert_eq!(g.sum_to(&[2, 1]).to_vec(), vec![12.0, 48.0]);
        assert_eq!(g.sum_to(&[]).item(), 60.0);
        assert_eq!(g.sum_to(&[1, 1, 1]).shape(), &[1, 1, 1]);
        assert!(x.sum_to(&[2, 3]).shares_storage(&x));
        assert_eq!(
            x.try_sum_to(&[3, 3]).unwrap_err().to_string(),
            "sum_to: cannot combine [2, 3] with [3, 3]: target axis 0 has size 3, which is neither 1 nor 2"
        );
        assert_eq!(
            x.try_sum_to(&[1, 2, 3]).unwrap_err(),
            TensorError::ShapeMismatch {
                op: "sum_to",
                lhs: vec![2, 3],
                rhs: vec![1, 2, 3],
                why: "the target has more axes than the tensor".into(),
            }
        );
    }

    #[test]
    fn large_reductions_take_every_parallel_path() {
        // Integer values keep every sum exact, whatever the association.
        let x = Tensor::<f32>::from_fn(&[600, 400], |ix| ((ix[0] + 3 * ix[1]) % 7) as f32);
        let want_cols: Vec<f32> = (0..400)
            .map(|j| (0..600).map(|i| ((i + 3 * j) % 7) as f32).sum())
            .collect();
        assert_eq!(x.sum(&[0], false).to_vec(), want_cols);
        assert_eq!(x.t().sum(&[1], false).to_vec(), want_cols);
        let long = Tensor::<f64>::from_fn(&[2, 80_000], |ix| (ix[1] % 5 + ix[0]) as f64);
        assert_eq!(long.sum(&[1], false).to_vec(), vec![160_000.0, 240_000.0]);
        assert_eq!(long.argmax(1), vec![4, 4]);
        assert_eq!(long.max(-1, false).to_vec(), vec![4.0, 5.0]);
        assert_eq!(long.sum_all().item(), 400_000.0);
        // Outer walk over several reduced blocks, then over several column tasks.
        let tall = Tensor::<f64>::from_fn(&[9000, 20], |ix| (ix[0] % 3 + ix[1]) as f64);
        let want: Vec<f64> = (0..20).map(|j| 9000.0 + 9000.0 * j as f64).collect();
        assert_eq!(tall.sum(&[0], false).to_vec(), want);
        assert_eq!(tall.argmin(0), vec![0; 20]);
        let wide = Tensor::<f32>::from_fn(&[10, 18000], |ix| (ix[0] + ix[1] % 2) as f32);
        let want: Vec<f32> = (0..18000).map(|j| 45.0 + 10.0 * (j % 2) as f32).collect();
        assert_eq!(wide.sum(&[0], false).to_vec(), want);
    }
}
