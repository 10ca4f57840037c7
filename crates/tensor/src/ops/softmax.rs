//! `softmax`, `log_softmax` and `logsumexp` along one axis, stable for logits of any magnitude.
//!
//! Each takes the row maximum `m` first and exponentiates only `x − m ≤ 0`, so nothing
//! overflows; `x − m` is also exact when `x` is near `m`, which keeps f32 results accurate for
//! logits of size 1e4. The two reductions (max, then `Σ exp(x − m)`) run on the deterministic
//! reduction driver, and the final map computes each element independently.

mod rows;

use super::reduce::{CenteredSum, Extreme, fold_short_rows, reduced_shape};
use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::iter::{PARALLEL_THRESHOLD, build_vec, coalesce, for_each_row};
use crate::layout::Strides;
use crate::shape::{contiguous_strides, normalize_axis};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Per-row statistics along the softmax axis, one per position of the other axes.
struct RowStats<T> {
    axis: usize,
    /// `m = max_i x_i`.
    max: Vec<T>,
    /// `Σ_i exp(x_i − c)` where `c` is `m`, or 0 in place of an infinite `m` when `finite_center`.
    sum_exp: Vec<T>,
}

impl<T: Float> Tensor<T> {
    /// Softmax along `axis`: `y_i = exp(x_i − m) / Σ_j exp(x_j − m)` with `m = max_j x_j`
    /// (finite for any finite logits).
    ///
    /// A row that is all −∞ (or holds +∞ or NaN) gives NaN, as PyTorch does: no distribution
    /// is defined there. PyTorch: `torch.softmax`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).softmax(-1);
    /// assert!((y.sum_all().item() - 1.0).abs() < 1e-12);
    /// assert!(Tensor::<f32>::zeros(&[2]).try_softmax(1).is_err());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range; [`Tensor::try_softmax`] returns the error.
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Self {
        or_panic(self.try_softmax(axis))
    }

    /// Fallible [`Tensor::softmax`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`.
    pub fn try_softmax(&self, axis: isize) -> Result<Self> {
        if let Some((xs, width)) = self.last_axis_rows("softmax", axis)? {
            return Ok(Self::from_vec_unchecked(
                rows::softmax(xs, width),
                self.shape(),
            ));
        }
        let Some(stats) = self.row_stats("softmax", axis, false)? else {
            return Ok(self.contiguous());
        };
        Ok(self.map_with_stats(&stats, |x, m, s| (x - m).exp() / s))
    }

    /// Log-softmax along `axis`: `y_i = (x_i − m) − ln Σ_j exp(x_j − m)` with `m = max_j x_j`.
    ///
    /// More accurate than `softmax(axis).ln()`, which underflows to −∞ for very negative
    /// logits. A row that is all −∞ gives NaN, as in PyTorch. PyTorch: `torch.log_softmax`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![0.0f64, 1e4], &[2]).log_softmax(0);
    /// assert_eq!(y.to_vec(), vec![-1e4, 0.0]);
    /// assert!(y.try_log_softmax(1).is_err());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range; [`Tensor::try_log_softmax`] returns the error.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Self {
        or_panic(self.try_log_softmax(axis))
    }

    /// Fallible [`Tensor::log_softmax`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`.
    pub fn try_log_softmax(&self, axis: isize) -> Result<Self> {
        if let Some((xs, width)) = self.last_axis_rows("log_softmax", axis)? {
            return Ok(Self::from_vec_unchecked(
                rows::log_softmax(xs, width),
                self.shape(),
            ));
        }
        let Some(mut stats) = self.row_stats("log_softmax", axis, false)? else {
            return Ok(self.contiguous());
        };
        stats.sum_exp.iter_mut().for_each(|s| *s = s.ln());
        Ok(self.map_with_stats(&stats, |x, m, ln_s| (x - m) - ln_s))
    }

    /// `ln Σ_i exp(x_i)` along `axis`, computed as `m + ln Σ_i exp(x_i − m)` with `m = max_i x_i`.
    ///
    /// A row that is all −∞ gives −∞ and a row holding +∞ gives +∞ (an infinite `m` is replaced
    /// by 0 before subtracting, as PyTorch does); an empty axis gives −∞. `keepdim` keeps the
    /// axis with size 1. PyTorch: `torch.logsumexp`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1e4f32, 1e4], &[1, 2]);
    /// let want = 1e4 + std::f32::consts::LN_2;
    /// assert!((x.logsumexp(1, false).item() - want).abs() < 1e-3);
    /// assert!(x.try_logsumexp(2, false).is_err());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range; [`Tensor::try_logsumexp`] returns the error.
    #[track_caller]
    pub fn logsumexp(&self, axis: isize, keepdim: bool) -> Self {
        or_panic(self.try_logsumexp(axis, keepdim))
    }

    /// Fallible [`Tensor::logsumexp`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`.
    pub fn try_logsumexp(&self, axis: isize, keepdim: bool) -> Result<Self> {
        let ax = normalize_axis("logsumexp", axis, self.rank())?;
        let mut mask = vec![false; self.rank()];
        mask[ax] = true;
        let shape = reduced_shape(self.shape(), &mask, keepdim);
        let Some(stats) = self.row_stats("logsumexp", axis, true)? else {
            // No element along the axis: the log of an empty sum.
            return Ok(Self::full(&shape, T::NEG_INFINITY));
        };
        let data = stats
            .max
            .iter()
            .zip(&stats.sum_exp)
            .map(|(&m, &s)| finite_or_zero(m) + s.ln())
            .collect();
        Ok(Self::from_vec_unchecked(data, &shape))
    }

    /// Softmax's input gradient `y ⊙ (g − Σ g·y)` along `axis`, where `self` is `y = softmax(x)`
    /// and `g` the gradient of `y`: the backward rule, fused (one pass per row when `axis` is the
    /// last, contiguous axis).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![0.25f64, 0.75], &[1, 2]);
    /// let g = Tensor::from_vec(vec![1.0, 0.0], &[1, 2]);
    /// assert_eq!(y.softmax_backward(&g, -1).to_vec(), [0.1875, -0.1875]);
    /// assert!(y.try_softmax_backward(&Tensor::zeros(&[2, 2]), -1).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes differ or the axis is out of range; [`Tensor::try_softmax_backward`]
    /// returns the error.
    #[track_caller]
    pub fn softmax_backward(&self, g: &Self, axis: isize) -> Self {
        or_panic(self.try_softmax_backward(g, axis))
    }

    /// Fallible [`Tensor::softmax_backward`].
    ///
    /// # Errors
    /// `ShapeMismatch` if `g`'s shape is not `self`'s; `InvalidAxis` for a bad axis.
    pub fn try_softmax_backward(&self, g: &Self, axis: isize) -> Result<Self> {
        if let Some(dx) =
            self.fused_row_backward("softmax_backward", g, axis, rows::softmax_backward)?
        {
            return Ok(dx);
        }
        let gy = g.mul(self);
        let dot = gy.try_sum(&[axis], true)?;
        gy.try_sub(&self.mul(&dot))
    }

    /// Log-softmax's input gradient `g − exp(y)·Σ g` along `axis`, where `self` is
    /// `y = log_softmax(x)`: the backward rule, fused as [`Tensor::softmax_backward`] is.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![0.25f64.ln(), 0.75f64.ln()], &[2]);
    /// let g = Tensor::from_vec(vec![1.0, 1.0], &[2]);
    /// let dx = y.log_softmax_backward(&g, 0).to_vec();
    /// assert!((dx[0] - 0.5).abs() < 1e-15 && (dx[1] + 0.5).abs() < 1e-15);
    /// assert!(y.try_log_softmax_backward(&g, 1).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes differ or the axis is out of range; [`Tensor::try_log_softmax_backward`]
    /// returns the error.
    #[track_caller]
    pub fn log_softmax_backward(&self, g: &Self, axis: isize) -> Self {
        or_panic(self.try_log_softmax_backward(g, axis))
    }

    /// Fallible [`Tensor::log_softmax_backward`].
    ///
    /// # Errors
    /// `ShapeMismatch` if `g`'s shape is not `self`'s; `InvalidAxis` for a bad axis.
    pub fn try_log_softmax_backward(&self, g: &Self, axis: isize) -> Result<Self> {
        if let Some(dx) =
            self.fused_row_backward("log_softmax_backward", g, axis, rows::log_softmax_backward)?
        {
            return Ok(dx);
        }
        let total = g.try_sum(&[axis], true)?;
        g.try_sub(&self.exp().mul(&total))
    }

    /// Checks `g` against the output `self`, and runs the row kernel `rows(y, g, width)` when
    /// both are contiguous rows of the last axis; `None` sends the caller to its general form.
    fn fused_row_backward(
        &self,
        op: &'static str,
        g: &Self,
        axis: isize,
        rows: fn(&[T], &[T], usize) -> Vec<T>,
    ) -> Result<Option<Self>> {
        same_shape(op, self, g)?;
        let fast = (self.last_axis_rows(op, axis)?, g.as_contiguous_slice());
        Ok(match fast {
            (Some((y, width)), Some(gs)) => {
                Some(Self::from_vec_unchecked(rows(y, gs, width), self.shape()))
            }
            _ => None,
        })
    }

    /// The elements as rows of the last axis, when `axis` is that axis, the tensor is
    /// contiguous and the rows are not empty: the case the fused row kernels take.
    fn last_axis_rows(&self, op: &'static str, axis: isize) -> Result<Option<(&[T], usize)>> {
        let ax = normalize_axis(op, axis, self.rank())?;
        let width = self.shape()[ax];
        if ax + 1 != self.rank() || width == 0 {
            return Ok(None);
        }
        Ok(self.as_contiguous_slice().map(|xs| (xs, width)))
    }

    /// The row maxima and `Σ exp(x − c)` along `axis`; `None` when the tensor has no element.
    fn row_stats(
        &self,
        op: &'static str,
        axis: isize,
        finite_center: bool,
    ) -> Result<Option<RowStats<T>>> {
        let ax = normalize_axis(op, axis, self.rank())?;
        if self.numel() == 0 {
            return Ok(None);
        }
        let width = self.shape()[ax];
        let centers = |max: &[T]| -> Vec<T> {
            if finite_center {
                max.iter().map(|&m| finite_or_zero(m)).collect()
            } else {
                max.to_vec()
            }
        };
        let exp_around = |centers| CenteredSum {
            centers,
            f: |d: T| d.exp(),
        };
        // Small contiguous rows along the last axis (class scores) skip the plan's walks.
        let short_rows = match self.as_contiguous_slice() {
            Some(xs) if ax + 1 == self.rank() => {
                fold_short_rows(xs, width, &Extreme::<true>).map(|max| (xs, max))
            }
            _ => None,
        };
        if let Some((xs, max)) = short_rows {
            let c = centers(&max);
            let sum_exp = fold_short_rows(xs, width, &exp_around(&c)).expect("the same rows");
            return Ok(Some(RowStats {
                axis: ax,
                max,
                sum_exp,
            }));
        }
        let (axis, plan) = self.axis_plan(op, ax as isize)?;
        let data = self.storage_slice();
        let max = plan.fold(data, &Extreme::<true>);
        let c = centers(&max);
        let sum_exp = plan.fold(data, &exp_around(&c));
        Ok(Some(RowStats { axis, max, sum_exp }))
    }

    /// `f(x, max, sum)` for every element, reading the statistics of the element's row; the
    /// result is contiguous in `self`'s shape.
    fn map_with_stats(&self, stats: &RowStats<T>, f: impl Fn(T, T, T) -> T + Sync) -> Self {
        let n = self.numel();
        // The statistics are contiguous in the keepdim shape; stride 0 along the axis spreads
        // one value over its row.
        let mut kept = self.shape().to_vec();
        kept[stats.axis] = 1;
        let mut stat_strides: Strides = contiguous_strides(&kept);
        stat_strides[stats.axis] = 0;
        let (shape, [xs, ss]) = coalesce(self.shape(), [self.strides(), &stat_strides]);
        let len = *shape.last().unwrap();
        let (x_step, s_step) = (*xs.last().unwrap(), *ss.last().unwrap());
        let rows = n / len;
        let strides = [xs, ss];
        let data = self.storage_slice();
        let base = [self.layout().offset(), 0];
        let run = |block: &mut [MaybeUninit<T>], first_row: usize| {
            let mut at = 0;
            let nrows = block.len() / len;
            for_each_row(
                &shape,
                &strides,
                base,
                first_row..first_row + nrows,
                |[ox, os]| {
                    for (i, d) in block[at..at + len].iter_mut().enumerate() {
                        let x = data[(ox as isize + i as isize * x_step) as usize];
                        let s = (os as isize + i as isize * s_step) as usize;
                        d.write(f(x, stats.max[s], stats.sum_exp[s]));
                    }
                    at += len;
                },
            );
        };
        let out = build_vec(n, |out| {
            if n < PARALLEL_THRESHOLD || rows < 2 {
                run(out, 0);
            } else {
                let per = (PARALLEL_THRESHOLD / 2 / len).max(1);
                out.par_chunks_mut(per * len)
                    .enumerate()
                    .for_each(|(b, block)| run(block, b * per));
            }
        });
        Self::from_vec_unchecked(out, self.shape())
    }
}

/// Refuses a gradient whose shape is not the output's.
fn same_shape<T: Float>(op: &'static str, y: &Tensor<T>, g: &Tensor<T>) -> Result<()> {
    if y.shape() == g.shape() {
        return Ok(());
    }
    Err(TensorError::ShapeMismatch {
        op,
        lhs: y.shape().to_vec(),
        rhs: g.shape().to_vec(),
        why: "the gradient must have the output's shape".into(),
    })
}

/// `m`, or 0 when `m` is infinite or NaN, so `x − m` stays defined for a row of infinities.
fn finite_or_zero<T: Float>(m: T) -> T {
    if m.is_finite() { m } else { T::ZERO }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether each `|got − want| ≤ tol·(1 + |want|)`.
    fn close(got: &[f64], want: &[f64], tol: f64) -> bool {
        got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| (g - w).abs() <= tol * (1.0 + w.abs()))
    }

    #[test]
    fn softmax_by_hand_along_each_axis() {
        let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0, 2.0, 2.0, 2.0], &[2, 3]);
        let e = [1.0f64, 1f64.exp(), 2f64.exp()];
        let z: f64 = e.iter().sum();
        let y = x.softmax(-1);
        assert_eq!(y.shape(), &[2, 3]);
        let want = [
            e[0] / z,
            e[1] / z,
            e[2] / z,
            1.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
        ];
        assert!(close(&y.to_vec(), &want, 1e-15));
        // Along axis 0, and on a transposed view, which walks the statistics with strides.
        let a = 1.0 / (1.0 + 2f64.exp());
        let want0 = [
            a,
            1.0 / (1.0 + 1f64.exp()),
            0.5,
            1.0 - a,
            1.0 - 1.0 / (1.0 + 1f64.exp()),
            0.5,
        ];
        assert!(close(&x.softmax(0).to_vec(), &want0, 1e-15));
        assert!(close(&x.t().softmax(1).t().to_vec(), &want0, 1e-15));
        let ls = x.log_softmax(1).to_vec();
        assert!(close(&ls, &want.map(f64::ln), 1e-14));
    }

    #[test]
    fn logsumexp_by_hand_and_keepdim() {
        let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0, 2.0, 2.0, 2.0], &[2, 3]);
        let l = x.logsumexp(1, false);
        assert_eq!(l.shape(), &[2]);
        let want = [(1.0 + 1f64.exp() + 2f64.exp()).ln(), 2.0 + 3f64.ln()];
        assert!(close(&l.to_vec(), &want, 1e-14));
        assert_eq!(x.logsumexp(-2, true).shape(), &[1, 3]);
        assert_eq!(x.logsumexp(0, true).to_vec()[2], 2.0 + 2f64.ln());
    }

    #[test]
    fn huge_logits_stay_finite_and_accurate() {
        let x = Tensor::from_vec(vec![1e4f32, 1e4 - 1.0, -1e4, 1e4 - 2.0], &[4]);
        let z = 1.0 + (-1f64).exp() + (-2f64).exp();
        let want = [1.0 / z, (-1f64).exp() / z, 0.0, (-2f64).exp() / z];
        let y: Vec<f64> = x.softmax(0).to_vec().iter().map(|&v| v as f64).collect();
        assert!(close(&y, &want, 1e-6), "{y:?}");
        let ls: Vec<f64> = x
            .log_softmax(0)
            .to_vec()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let want_ls = [-z.ln(), -1.0 - z.ln(), -2e4 - z.ln(), -2.0 - z.ln()];
        assert!(close(&ls, &want_ls, 1e-5), "{ls:?}");
        let l = x.logsumexp(0, false).item() as f64;
        assert!((l - (1e4 + z.ln())).abs() < 1e-3, "{l}");
        let neg = Tensor::from_vec(vec![-1e4f64, -1e4], &[2]);
        assert_eq!(neg.softmax(0).to_vec(), vec![0.5, 0.5]);
        assert!((neg.logsumexp(0, false).item() - (-1e4 + 2f64.ln())).abs() < 1e-9);
    }

    #[test]
    fn infinite_rows_follow_pytorch() {
        let ninf = f64::NEG_INFINITY;
        let x = Tensor::from_vec(vec![ninf, ninf, ninf, 0.0], &[2, 2]);
        let y = x.softmax(1).to_vec();
        assert!(y[0].is_nan() && y[1].is_nan());
        assert_eq!(&y[2..], &[0.0, 1.0]);
        let ls = x.log_softmax(1).to_vec();
        assert!(ls[0].is_nan() && ls[1].is_nan());
        assert_eq!(&ls[2..], &[ninf, 0.0]);
        assert_eq!(x.logsumexp(1, false).to_vec(), vec![ninf, 0.0]);
        let pinf = Tensor::from_vec(vec![f64::INFINITY, 1.0], &[2]);
        assert_eq!(pinf.logsumexp(0, false).item(), f64::INFINITY);
        assert!(pinf.softmax(0).to_vec()[0].is_nan());
        let nan = Tensor::from_vec(vec![f64::NAN, 1.0], &[2]);
        assert!(nan.logsumexp(0, false).item().is_nan());
        assert!(nan.softmax(0).to_vec().iter().all(|v| v.is_nan()));
    }

    #[test]
    fn empty_inputs_and_bad_axes() {
        let e = Tensor::<f32>::zeros(&[0, 3]);
        assert_eq!(e.softmax(1).shape(), &[0, 3]);
        assert_eq!(e.log_softmax(0).shape(), &[0, 3]);
        assert_eq!(e.logsumexp(1, false).shape(), &[0]);
        let z = Tensor::<f64>::zeros(&[2, 0]);
        assert_eq!(z.logsumexp(1, true).to_vec(), vec![f64::NEG_INFINITY; 2]);
        assert_eq!(z.logsumexp(1, true).shape(), &[2, 1]);
        let x = Tensor::<f64>::zeros(&[2, 3]);
        assert_eq!(
            x.try_softmax(2).unwrap_err().to_string(),
            "softmax: axis 2 is out of range for a tensor of rank 2 (valid: -2..2)"
        );
        assert_eq!(x.try_log_softmax(-3).unwrap_err().op(), "log_softmax");
        assert_eq!(x.try_logsumexp(9, true).unwrap_err().op(), "logsumexp");
    }

    #[test]
    fn large_softmax_rows_sum_to_one() {
        let x = Tensor::<f32>::from_fn(&[64, 1024], |ix| ((ix[0] * 31 + ix[1] * 7) % 13) as f32);
        for axis in [0, 1] {
            let y = x.softmax(axis);
            let sums = y.sum(&[axis], false).to_vec();
            assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "axis {axis}");
        }
    }
}
