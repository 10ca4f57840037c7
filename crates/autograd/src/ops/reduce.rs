//! Reductions: sum and mean over axes or all, max over an axis, variance.

use crate::backward::Backward;
use crate::error::{or_panic, Result};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// Sum over `axes` (negative from the end), keeping them as size 1 if `keepdim`.
    #[track_caller]
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        or_panic(self.try_sum(axes, keepdim))
    }

    /// Fallible [`Var::sum`].
    pub fn try_sum(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        let out = self.value().try_sum(axes, keepdim)?;
        // With keepdim the reduced axes are already size 1, ready to broadcast back.
        let kept = if keepdim {
            out.shape().to_vec()
        } else {
            self.value().try_sum(axes, true)?.shape().to_vec()
        };
        Ok(self.record(
            out,
            &[self],
            SumBackward {
                kept,
                input: self.shape().to_vec(),
            },
        ))
    }

    /// Sum of every element, as a rank-0 var.
    pub fn sum_all(&self) -> Var<T> {
        let kept = vec![1; self.shape().len()];
        self.record(
            self.value().sum_all(),
            &[self],
            SumBackward {
                kept,
                input: self.shape().to_vec(),
            },
        )
    }

    /// Mean over `axes`: `sum / n`, composed exactly from [`Var::sum`] and a scale.
    #[track_caller]
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        or_panic(self.try_mean(axes, keepdim))
    }

    /// Fallible [`Var::mean`].
    pub fn try_mean(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        let s = self.try_sum(axes, keepdim)?;
        let n = self.value().numel() / s.value().numel().max(1);
        Ok(s.div_scalar(T::from_usize(n)))
    }

    /// Mean of every element.
    pub fn mean_all(&self) -> Var<T> {
        self.sum_all()
            .div_scalar(T::from_usize(self.value().numel()))
    }

    /// Population variance `1/m Σ (x − μ)²` over `axes`, composed from mean, sub and mul.
    #[track_caller]
    pub fn var(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        or_panic(self.try_var(axes, keepdim))
    }

    /// Fallible [`Var::var`].
    pub fn try_var(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        let centered = self.sub(&self.try_mean(axes, true)?);
        centered.square().try_mean(axes, keepdim)
    }

    /// Maximum along `axis`.
    #[track_caller]
    pub fn max(&self, axis: isize, keepdim: bool) -> Var<T> {
        or_panic(self.try_max(axis, keepdim))
    }

    /// Fallible [`Var::max`].
    pub fn try_max(&self, axis: isize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().try_max(axis, keepdim)?;
        let arg = self.value().try_argmax(axis)?;
        let ax = tapegrad_tensor::shape::normalize_axis("max", axis, self.shape().len())?;
        let saved = MaxBackward {
            arg,
            axis: ax,
            input: self.shape().to_vec(),
        };
        Ok(self.record(out, &[self], saved))
    }
}

/// Gradient of a sum: `g` broadcast back over the reduced axes.
struct SumBackward {
    kept: Vec<usize>,
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for SumBackward {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.reshape(&self.kept).broadcast_to(&self.input))]
    }
}

/// Gradient of `max` along an axis: `g` goes to the first maximal element of each slice (argmax), 0 elsewhere.
struct MaxBackward {
    arg: Vec<usize>,
    axis: usize,
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for MaxBackward {
    fn name(&self) -> &'static str {
        "max"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let mut index_shape = self.input.clone();
        index_shape[self.axis] = 1;
        let g = g.reshape(&index_shape);
        let grad =
            Tensor::scatter_add(self.axis as isize, &self.arg, &index_shape, &g, &self.input);
        vec![Some(grad)]
    }
}
