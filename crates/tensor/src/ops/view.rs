//! Views: new layouts over the same storage. None of these copies data, except `reshape` of a
//! layout that cannot be re-strided, and `contiguous` of a strided one.

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::shape::check_shape_of;
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// Swaps axes `a` and `b` (a view).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::arange(0.0f32, 6.0, 1.0).reshape(&[2, 3]);
    /// let t = x.transpose(0, 1);
    /// assert_eq!(t.shape(), [3, 2]);
    /// assert_eq!(t.to_vec(), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// assert!(x.try_transpose(0, 2).is_err());
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range; [`Tensor::try_transpose`] returns the error.
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Self {
        or_panic(self.try_transpose(a, b))
    }

    /// Fallible [`Tensor::transpose`].
    pub fn try_transpose(&self, a: isize, b: isize) -> Result<Self> {
        Ok(self.with_layout(self.layout().transpose(a, b)?))
    }

    /// The transpose of a matrix (a view); PyTorch: `Tensor.t`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.t().to_vec(), [1.0, 3.0, 2.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If the tensor is not 2-D.
    #[track_caller]
    pub fn t(&self) -> Self {
        if self.rank() != 2 {
            panic!(
                "t: needs a 2-D tensor, got shape {:?}; use transpose(a, b) for other ranks",
                self.shape()
            );
        }
        self.transpose(0, 1)
    }

    /// Reorders axes: axis `i` of the result is axis `perm[i]` of `self` (a view).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::arange(0.0f32, 6.0, 1.0).reshape(&[1, 2, 3]);
    /// let p = x.permute(&[2, 0, 1]);
    /// assert_eq!(p.shape(), [3, 1, 2]);
    /// assert_eq!(p.to_vec(), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// assert!(x.try_permute(&[0, 0, 1]).is_err());
    /// ```
    ///
    /// # Panics
    /// If `perm` is not a permutation of the axes; [`Tensor::try_permute`] returns the error.
    #[track_caller]
    pub fn permute(&self, perm: &[isize]) -> Self {
        or_panic(self.try_permute(perm))
    }

    /// Fallible [`Tensor::permute`].
    pub fn try_permute(&self, perm: &[isize]) -> Result<Self> {
        Ok(self.with_layout(self.layout().permute(perm)?))
    }

    /// `len` elements from `start` along `axis` (a view); PyTorch: `Tensor.narrow`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::arange(0.0f32, 5.0, 1.0);
    /// assert_eq!(x.narrow(0, 1, 3).to_vec(), [1.0, 2.0, 3.0]);
    /// assert!(x.try_narrow(0, 3, 3).is_err());
    /// ```
    ///
    /// # Panics
    /// If the range leaves the axis; [`Tensor::try_narrow`] returns the error.
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Self {
        or_panic(self.try_narrow(axis, start, len))
    }

    /// Fallible [`Tensor::narrow`].
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] or [`TensorError::OutOfRange`], naming `narrow`.
    pub fn try_narrow(&self, axis: isize, start: usize, len: usize) -> Result<Self> {
        const OP: &str = "narrow";
        let ax = crate::shape::normalize_axis(OP, axis, self.rank())?;
        let dim = self.shape()[ax];
        match start.checked_add(len) {
            Some(end) if end <= dim => {
                Ok(self.with_layout(self.layout().slice_as(OP, axis, start, end, 1)?))
            }
            _ => Err(TensorError::range(
                OP,
                format!(
                    "{len} elements from {start} along axis {ax} of size {dim} (shape {:?})",
                    self.shape()
                ),
            )),
        }
    }

    /// Elements `start, start+step, …` below `end` along `axis` (a view): NumPy's `x[start:end:step]`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::arange(0.0f32, 6.0, 1.0);
    /// assert_eq!(x.slice(0, 1, 6, 2).to_vec(), [1.0, 3.0, 5.0]);
    /// assert!(x.try_slice(0, 0, 7, 1).is_err());
    /// ```
    ///
    /// # Panics
    /// If `start > end`, `end` is past the axis or `step` is 0; [`Tensor::try_slice`] returns
    /// the error.
    #[track_caller]
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Self {
        or_panic(self.try_slice(axis, start, end, step))
    }

    /// Fallible [`Tensor::slice`].
    pub fn try_slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        Ok(self.with_layout(self.layout().slice(axis, start, end, step)?))
    }

    /// Repeats size-1 axes (and adds leading axes) to reach `shape`, with stride 0 (a view).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let b = x.broadcast_to(&[2, 2]);
    /// assert_eq!((b.to_vec(), b.strides()), (vec![1.0, 2.0, 1.0, 2.0], &[0, 1][..]));
    /// assert!(x.try_broadcast_to(&[3]).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes are not broadcast-compatible; [`Tensor::try_broadcast_to`] returns the error.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Self {
        or_panic(self.try_broadcast_to(shape))
    }

    /// Fallible [`Tensor::broadcast_to`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] if the shapes are not broadcast-compatible;
    /// [`TensorError::TooLarge`] if the target is too large to exist, even as a view (so that
    /// any op can materialise it without its sizes overflowing).
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        check_shape_of::<T>("broadcast_to", shape)?;
        Ok(self.with_layout(self.layout().broadcast_to(shape)?))
    }

    /// Inserts a size-1 axis at `axis` (a view); `-1` appends one.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// assert_eq!(x.unsqueeze(0).shape(), [1, 2]);
    /// assert_eq!(x.unsqueeze(-1).shape(), [2, 1]);
    /// assert!(x.try_unsqueeze(3).is_err());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of `-(rank+1)..=rank`; [`Tensor::try_unsqueeze`] returns the error.
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Self {
        or_panic(self.try_unsqueeze(axis))
    }

    /// Fallible [`Tensor::unsqueeze`].
    pub fn try_unsqueeze(&self, axis: isize) -> Result<Self> {
        Ok(self.with_layout(self.layout().unsqueeze(axis)?))
    }

    /// Removes the size-1 axis `axis` (a view).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::<f32>::zeros(&[2, 1, 3]);
    /// assert_eq!(x.squeeze(1).shape(), [2, 3]);
    /// assert!(x.try_squeeze(0).is_err()); // axis 0 has size 2
    /// ```
    ///
    /// # Panics
    /// If that axis's size is not 1; [`Tensor::try_squeeze`] returns the error.
    #[track_caller]
    pub fn squeeze(&self, axis: isize) -> Self {
        or_panic(self.try_squeeze(axis))
    }

    /// Fallible [`Tensor::squeeze`].
    pub fn try_squeeze(&self, axis: isize) -> Result<Self> {
        Ok(self.with_layout(self.layout().squeeze(axis)?))
    }

    /// Removes every size-1 axis (a view).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// assert_eq!(Tensor::<f32>::zeros(&[1, 2, 1]).squeeze_all().shape(), [2]);
    /// ```
    pub fn squeeze_all(&self) -> Self {
        self.with_layout(self.layout().squeeze_all())
    }

    /// The same elements in `shape`: a view when the strides allow, otherwise one row-major copy.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::arange(0.0f32, 6.0, 1.0);
    /// let m = x.reshape(&[2, 3]); // a view
    /// assert!(m.shares_storage(&x));
    /// assert_eq!(m.t().reshape(&[6]).to_vec(), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]); // a copy
    /// assert!(x.try_reshape(&[4]).is_err());
    /// ```
    ///
    /// # Panics
    /// If the element counts differ or the shape is too large; [`Tensor::try_reshape`] returns
    /// the error.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Self {
        or_panic(self.try_reshape(shape))
    }

    /// Fallible [`Tensor::reshape`].
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] for a shape too large to exist, else
    /// [`TensorError::ShapeMismatch`] if the element counts differ.
    pub fn try_reshape(&self, shape: &[usize]) -> Result<Self> {
        self.check_reshape("reshape", shape)?;
        Ok(match self.layout().reshape_view(shape) {
            Some(layout) => self.with_layout(layout),
            None => Tensor::from_vec_unchecked(self.to_vec(), shape),
        })
    }

    /// The same elements in `shape` as a view; an error where that would need a copy.
    ///
    /// PyTorch: `Tensor.view`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::arange(0.0f32, 6.0, 1.0).reshape(&[2, 3]);
    /// assert_eq!(x.try_view(&[3, 2]).unwrap().shape(), [3, 2]);
    /// assert!(x.t().try_view(&[6]).is_err()); // the transpose is not row-major
    /// ```
    pub fn try_view(&self, shape: &[usize]) -> Result<Self> {
        self.check_reshape("view", shape)?;
        match self.layout().reshape_view(shape) {
            Some(layout) => Ok(self.with_layout(layout)),
            None => Err(TensorError::shape(
                "view",
                self.shape(),
                shape,
                format!(
                    "strides {:?} cannot be re-strided; use reshape, which copies",
                    self.strides()
                ),
            )),
        }
    }

    /// Collapses axes `start..` into one (a view when possible), e.g. `[b, 1, 28, 28]` → `[b, 784]` with `start = 1`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let images = Tensor::<f32>::zeros(&[2, 1, 3, 3]);
    /// assert_eq!(images.flatten_from(1).shape(), [2, 9]);
    /// ```
    ///
    /// # Panics
    /// If `start` is out of range.
    #[track_caller]
    pub fn flatten_from(&self, start: isize) -> Self {
        let s = or_panic(crate::shape::normalize_axis(
            "flatten_from",
            start,
            self.rank().max(1),
        ));
        let mut shape: Vec<usize> = self.shape()[..s.min(self.rank())].to_vec();
        shape.push(self.shape()[s.min(self.rank())..].iter().product());
        self.reshape(&shape)
    }

    fn check_reshape(&self, op: &'static str, shape: &[usize]) -> Result<()> {
        // Checked first: a wrapped product could otherwise match the element count.
        let n = check_shape_of::<T>(op, shape)?;
        if n != self.numel() {
            return Err(TensorError::shape(
                op,
                self.shape(),
                shape,
                format!(
                    "{} elements cannot take a shape of {n} elements",
                    self.numel()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m23() -> Tensor<f64> {
        Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 3])
    }

    #[test]
    fn views_share_storage() {
        let a = m23();
        for v in [
            a.t(),
            a.narrow(1, 1, 2),
            a.unsqueeze(0),
            a.broadcast_to(&[4, 2, 3]),
            a.reshape(&[3, 2]),
        ] {
            assert!(v.shares_storage(&a));
        }
        assert_eq!(a.t().to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(a.slice(1, 0, 3, 2).to_vec(), vec![0.0, 2.0, 3.0, 5.0]);
    }

    #[test]
    fn reshape_copies_only_when_needed() {
        let a = m23();
        let flat = a.t().reshape(&[6]);
        assert!(!flat.shares_storage(&a));
        assert_eq!(flat.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert!(a.t().try_view(&[6]).is_err());
        let err = a.try_reshape(&[4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "reshape: cannot combine [2, 3] with [4]: 6 elements cannot take a shape of 4 elements"
        );
        assert!(a.t().contiguous().is_contiguous());
        assert!(a.contiguous().shares_storage(&a));
        assert_eq!(
            Tensor::<f32>::zeros(&[2, 1, 3, 4]).flatten_from(1).shape(),
            &[2, 12]
        );
    }
}
