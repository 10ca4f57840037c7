//! Comparisons that produce masks, and `where_` and `select`, which consume them.
//!
//! A mask is a tensor of the same float type holding `1.0` (true) and `0.0` (false), so it can be
//! multiplied, summed or averaged directly (accuracy is `pred.eq(&labels).mean()`). Comparisons
//! follow IEEE: any comparison with NaN is false, except `ne`, which is true.

use crate::element::Float;
use crate::error::{Result, or_panic};
use crate::iter::{map_binary, map_ternary};
use crate::tensor::Tensor;

/// `1` for true, `0` for false.
#[inline]
fn mask<T: Float>(b: bool) -> T {
    if b { T::ONE } else { T::ZERO }
}

impl<T: Float> Tensor<T> {
    /// Mask of `x = y` under NumPy broadcasting.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// let y = Tensor::scalar(2.0); // broadcast
    /// assert_eq!(x.eq(&y).to_vec(), [0.0, 1.0, 0.0]);
    /// assert_eq!(x.ne(&y).to_vec(), [1.0, 0.0, 1.0]);
    /// assert_eq!(x.lt(&y).to_vec(), [1.0, 0.0, 0.0]);
    /// assert_eq!(x.le(&y).to_vec(), [1.0, 1.0, 0.0]);
    /// assert_eq!(x.gt(&y).to_vec(), [0.0, 0.0, 1.0]);
    /// assert_eq!(x.ge(&y).to_vec(), [0.0, 1.0, 1.0]);
    /// // Each `try_` form returns the error for shapes that do not broadcast:
    /// let bad = Tensor::zeros(&[2]);
    /// assert!(x.try_eq(&bad).is_err() && x.try_ne(&bad).is_err() && x.try_lt(&bad).is_err());
    /// assert!(x.try_le(&bad).is_err() && x.try_gt(&bad).is_err() && x.try_ge(&bad).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_eq`] returns the error.
    #[track_caller]
    pub fn eq(&self, rhs: &Self) -> Self {
        or_panic(self.try_eq(rhs))
    }

    /// Fallible [`Tensor::eq`].
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`](crate::TensorError::ShapeMismatch) naming the op and both
    /// shapes if they do not broadcast.
    pub fn try_eq(&self, rhs: &Self) -> Result<Self> {
        map_binary("eq", self, rhs, |x, y| mask(x == y))
    }

    /// Mask of `x ≠ y` under NumPy broadcasting (true where either is NaN).
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_ne`] returns the error.
    #[track_caller]
    pub fn ne(&self, rhs: &Self) -> Self {
        or_panic(self.try_ne(rhs))
    }

    /// Fallible [`Tensor::ne`].
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`](crate::TensorError::ShapeMismatch) naming the op and both
    /// shapes if they do not broadcast.
    pub fn try_ne(&self, rhs: &Self) -> Result<Self> {
        map_binary("ne", self, rhs, |x, y| mask(x != y))
    }

    /// Mask of `x < y` under NumPy broadcasting.
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_lt`] returns the error.
    #[track_caller]
    pub fn lt(&self, rhs: &Self) -> Self {
        or_panic(self.try_lt(rhs))
    }

    /// Fallible [`Tensor::lt`].
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`](crate::TensorError::ShapeMismatch) naming the op and both
    /// shapes if they do not broadcast.
    pub fn try_lt(&self, rhs: &Self) -> Result<Self> {
        map_binary("lt", self, rhs, |x, y| mask(x < y))
    }

    /// Mask of `x ≤ y` under NumPy broadcasting.
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_le`] returns the error.
    #[track_caller]
    pub fn le(&self, rhs: &Self) -> Self {
        or_panic(self.try_le(rhs))
    }

    /// Fallible [`Tensor::le`].
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`](crate::TensorError::ShapeMismatch) naming the op and both
    /// shapes if they do not broadcast.
    pub fn try_le(&self, rhs: &Self) -> Result<Self> {
        map_binary("le", self, rhs, |x, y| mask(x <= y))
    }

    /// Mask of `x > y` under NumPy broadcasting.
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_gt`] returns the error.
    #[track_caller]
    pub fn gt(&self, rhs: &Self) -> Self {
        or_panic(self.try_gt(rhs))
    }

    /// Fallible [`Tensor::gt`].
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`](crate::TensorError::ShapeMismatch) naming the op and both
    /// shapes if they do not broadcast.
    pub fn try_gt(&self, rhs: &Self) -> Result<Self> {
        map_binary("gt", self, rhs, |x, y| mask(x > y))
    }

    /// Mask of `x ≥ y` under NumPy broadcasting.
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_ge`] returns the error.
    #[track_caller]
    pub fn ge(&self, rhs: &Self) -> Self {
        or_panic(self.try_ge(rhs))
    }

    /// Fallible [`Tensor::ge`].
    ///
    /// Example: [`Tensor::eq`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`](crate::TensorError::ShapeMismatch) naming the op and both
    /// shapes if they do not broadcast.
    pub fn try_ge(&self, rhs: &Self) -> Result<Self> {
        map_binary("ge", self, rhs, |x, y| mask(x >= y))
    }

    /// Mask of `x = s`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, f32::NAN], &[3]);
    /// assert_eq!(x.eq_scalar(2.0).to_vec(), [0.0, 1.0, 0.0]);
    /// assert_eq!(x.ne_scalar(2.0).to_vec(), [1.0, 0.0, 1.0]); // NaN ≠ everything
    /// assert_eq!(x.lt_scalar(2.0).to_vec(), [1.0, 0.0, 0.0]);
    /// assert_eq!(x.le_scalar(2.0).to_vec(), [1.0, 1.0, 0.0]);
    /// assert_eq!(x.gt_scalar(1.0).to_vec(), [0.0, 1.0, 0.0]);
    /// assert_eq!(x.ge_scalar(1.0).to_vec(), [1.0, 1.0, 0.0]);
    /// ```
    pub fn eq_scalar(&self, s: T) -> Self {
        self.map(|x| mask(x == s))
    }

    /// Mask of `x ≠ s` (true where `x` is NaN).
    ///
    /// Example: [`Tensor::eq_scalar`].
    pub fn ne_scalar(&self, s: T) -> Self {
        self.map(|x| mask(x != s))
    }

    /// Mask of `x < s`.
    ///
    /// Example: [`Tensor::eq_scalar`].
    pub fn lt_scalar(&self, s: T) -> Self {
        self.map(|x| mask(x < s))
    }

    /// Mask of `x ≤ s`.
    ///
    /// Example: [`Tensor::eq_scalar`].
    pub fn le_scalar(&self, s: T) -> Self {
        self.map(|x| mask(x <= s))
    }

    /// Mask of `x > s`.
    ///
    /// Example: [`Tensor::eq_scalar`].
    pub fn gt_scalar(&self, s: T) -> Self {
        self.map(|x| mask(x > s))
    }

    /// Mask of `x ≥ s`.
    ///
    /// Example: [`Tensor::eq_scalar`].
    pub fn ge_scalar(&self, s: T) -> Self {
        self.map(|x| mask(x >= s))
    }

    /// `self` where `mask ≠ 0`, else `other`, all three broadcast together: the method on the
    /// values taken where the mask holds, as autograd's `Var::where_` and PyTorch's
    /// `x.where(mask, y)` (`torch.where(mask, x, y)`). [`Tensor::select`] is the same with the
    /// mask first.
    ///
    /// A NaN mask element counts as true (NaN ≠ 0).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![-1.0f32, 2.0, -3.0], &[3]);
    /// let y = x.where_(&x.gt_scalar(0.0), &Tensor::scalar(0.0)); // relu
    /// assert_eq!(y.to_vec(), vec![0.0, 2.0, 0.0]);
    /// assert!(x.try_where_(&Tensor::ones(&[2]), &x).is_err());
    /// ```
    ///
    /// # Panics
    /// If the three shapes do not broadcast; [`Tensor::try_where_`] returns the error.
    #[track_caller]
    pub fn where_(&self, mask: &Self, other: &Self) -> Self {
        or_panic(self.try_where_(mask, other))
    }

    /// Fallible [`Tensor::where_`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`](crate::TensorError::ShapeMismatch) naming `where_` if the
    /// shapes do not broadcast; as in [`Tensor::try_select`], `lhs` is the mask's shape, or the
    /// broadcast of the mask and `self` when `other` is the one that does not fit.
    pub fn try_where_(&self, mask: &Self, other: &Self) -> Result<Self> {
        choose("where_", mask, self, other)
    }

    /// `on_true` where `mask ≠ 0`, else `on_false`, all three broadcast together: the mask-first
    /// reading of [`Tensor::where_`] (PyTorch: `torch.where(mask, on_true, on_false)`; not
    /// `torch.select`, which picks one index along an axis, here [`Tensor::narrow`]).
    ///
    /// A NaN mask element counts as true (NaN ≠ 0).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mask = Tensor::from_vec(vec![1.0f64, 0.0, 1.0], &[3]);
    /// let y = Tensor::select(&mask, &Tensor::scalar(7.0), &Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]));
    /// assert_eq!(y.to_vec(), vec![7.0, 2.0, 7.0]);
    /// assert!(Tensor::try_select(&mask, &Tensor::scalar(7.0), &Tensor::zeros(&[2])).is_err());
    /// ```
    ///
    /// # Panics
    /// If the three shapes do not broadcast; [`Tensor::try_select`] returns the error.
    #[track_caller]
    pub fn select(mask: &Self, on_true: &Self, on_false: &Self) -> Self {
        or_panic(Self::try_select(mask, on_true, on_false))
    }

    /// Fallible [`Tensor::select`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`](crate::TensorError::ShapeMismatch) naming `select` if the
    /// shapes do not broadcast; `lhs` is the mask's shape, or the broadcast of the mask and
    /// `on_true` when `on_false` is the one that does not fit.
    pub fn try_select(mask: &Self, on_true: &Self, on_false: &Self) -> Result<Self> {
        choose("select", mask, on_true, on_false)
    }
}

/// `on_true` where `mask ≠ 0`, else `on_false`: the kernel of `where_` and `select`, whose errors
/// name `op`.
fn choose<T: Float>(
    op: &'static str,
    mask: &Tensor<T>,
    on_true: &Tensor<T>,
    on_false: &Tensor<T>,
) -> Result<Tensor<T>> {
    // Select, not `c·a + (1−c)·b`: the blend would turn an unselected ∞ or NaN into NaN.
    map_ternary(op, [mask, on_true, on_false], |c, a, b| {
        if c != T::ZERO { a } else { b }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f64]) -> Tensor<f64> {
        Tensor::from_vec(values.to_vec(), &[values.len()])
    }

    #[test]
    fn comparisons_give_float_masks() {
        let a = t(&[1.0, 2.0, 3.0]);
        let b = t(&[2.0, 2.0, 2.0]);
        assert_eq!(a.eq(&b).to_vec(), [0.0, 1.0, 0.0]);
        assert_eq!(a.ne(&b).to_vec(), [1.0, 0.0, 1.0]);
        assert_eq!(a.lt(&b).to_vec(), [1.0, 0.0, 0.0]);
        assert_eq!(a.le(&b).to_vec(), [1.0, 1.0, 0.0]);
        assert_eq!(a.gt(&b).to_vec(), [0.0, 0.0, 1.0]);
        assert_eq!(a.ge(&b).to_vec(), [0.0, 1.0, 1.0]);
        assert_eq!(a.eq_scalar(2.0).to_vec(), [0.0, 1.0, 0.0]);
        assert_eq!(a.ne_scalar(2.0).to_vec(), [1.0, 0.0, 1.0]);
        assert_eq!(a.lt_scalar(2.0).to_vec(), [1.0, 0.0, 0.0]);
        assert_eq!(a.le_scalar(2.0).to_vec(), [1.0, 1.0, 0.0]);
        assert_eq!(a.gt_scalar(2.0).to_vec(), [0.0, 0.0, 1.0]);
        assert_eq!(a.ge_scalar(2.0).to_vec(), [0.0, 1.0, 1.0]);
        let col = Tensor::from_vec(vec![1.0, 3.0], &[2, 1]);
        assert_eq!(a.lt(&col).to_vec(), [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn nan_compares_false_except_ne() {
        let a = t(&[f64::NAN]);
        let b = t(&[1.0]);
        for m in [a.eq(&b), a.lt(&b), a.le(&b), a.gt(&b), a.ge(&b), a.eq(&a)] {
            assert_eq!(m.item(), 0.0);
        }
        assert_eq!(a.ne(&a).item(), 1.0);
        assert_eq!(a.ne_scalar(1.0).item(), 1.0);
    }

    #[test]
    fn comparison_errors_name_op_and_shapes() {
        let err = t(&[1.0, 2.0]).try_ge(&t(&[1.0, 2.0, 3.0])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ge: cannot combine [2] with [3]: sizes 2 and 3 at axis 0 of the broadcast shape differ and neither is 1"
        );
    }

    #[test]
    fn where_selects_without_blending() {
        let cond = t(&[1.0, 0.0, -2.0, f64::NAN]);
        let a = t(&[f64::INFINITY, 2.0, 3.0, 4.0]);
        let b = Tensor::scalar(f64::NAN);
        let y = a.where_(&cond, &b).to_vec();
        assert_eq!(y[0], f64::INFINITY);
        assert!(y[1].is_nan());
        assert_eq!(&y[2..], &[3.0, 4.0]);
    }

    #[test]
    fn where_broadcasts_three_ways() {
        let cond = Tensor::from_vec(vec![1.0, 0.0], &[2, 1]);
        let a = t(&[1.0, 2.0, 3.0]);
        let b = Tensor::from_vec(vec![-1.0, -2.0], &[2, 1]).t();
        let y = a.where_(&cond, &b.t());
        assert_eq!(y.shape(), &[2, 3]);
        assert_eq!(y.to_vec(), [1.0, 2.0, 3.0, -2.0, -2.0, -2.0]);
        assert_eq!(Tensor::select(&cond, &a, &b.t()).to_vec(), y.to_vec());
        let y = a.unsqueeze(1).where_(&cond.t(), &b);
        assert_eq!(y.shape(), &[3, 2]);
        assert_eq!(y.to_vec(), [1.0, -2.0, 2.0, -2.0, 3.0, -2.0]);
        let err = a.try_where_(&cond, &t(&[0.0, 0.0])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "where_: cannot combine [2, 3] with [2]: sizes 3 and 2 at axis 1 of the broadcast shape differ and neither is 1"
        );
        let err = Tensor::try_select(&cond, &a, &t(&[0.0, 0.0])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("select: cannot combine [2, 3] with [2]"),
            "{err}"
        );
    }
}
