//! In-place elementwise forms (`_assign`), the path optimizers update parameters on.
//!
//! `self` is written in place when it uniquely owns a contiguous buffer; otherwise it is first
//! replaced by a private contiguous copy, so views and clones that shared the old buffer never
//! see the writes. The right operand is read through its strides and may broadcast to `self`'s
//! shape, never the other way: an in-place op cannot change `self`'s shape.

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::iter::{PARALLEL_THRESHOLD, coalesce, for_each_row, map_binary};
use crate::shape::{Dims, contiguous_strides};
use crate::simd;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::ops::{AddAssign, MulAssign, SubAssign};

impl<T: Float> Tensor<T> {
    /// `self ← self + x`, with `x` broadcast to `self`'s shape.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// x.add_assign(&Tensor::from_vec(vec![10.0, 20.0], &[2])); // broadcast over rows
    /// assert_eq!(x.to_vec(), [11.0, 22.0, 13.0, 24.0]);
    /// x.sub_assign(&Tensor::scalar(1.0));
    /// assert_eq!(x.to_vec(), [10.0, 21.0, 12.0, 23.0]);
    /// x.mul_assign(&Tensor::from_vec(vec![1.0, 0.0], &[2, 1]));
    /// assert_eq!(x.to_vec(), [10.0, 21.0, 0.0, 0.0]);
    /// // `x` keeps its shape, so a larger right operand is an error:
    /// let big = Tensor::zeros(&[3, 2, 2]);
    /// assert!(x.try_add_assign(&big).is_err() && x.try_sub_assign(&big).is_err());
    /// assert!(x.try_mul_assign(&big).is_err());
    /// ```
    ///
    /// # Panics
    /// If `x` does not broadcast to `self`'s shape; [`Tensor::try_add_assign`] returns the error.
    #[track_caller]
    pub fn add_assign(&mut self, x: &Self) {
        or_panic(self.try_add_assign(x))
    }

    /// Fallible [`Tensor::add_assign`].
    ///
    /// Example: [`Tensor::add_assign`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if `x` does not broadcast to
    /// `self`'s shape.
    pub fn try_add_assign(&mut self, x: &Self) -> Result<()> {
        self.zip_assign("add_assign", x, |s, x| s + x)
    }

    /// `self ← self − x`, with `x` broadcast to `self`'s shape.
    ///
    /// Example: [`Tensor::add_assign`].
    ///
    /// # Panics
    /// If `x` does not broadcast to `self`'s shape; [`Tensor::try_sub_assign`] returns the error.
    #[track_caller]
    pub fn sub_assign(&mut self, x: &Self) {
        or_panic(self.try_sub_assign(x))
    }

    /// Fallible [`Tensor::sub_assign`].
    ///
    /// Example: [`Tensor::add_assign`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if `x` does not broadcast to
    /// `self`'s shape.
    pub fn try_sub_assign(&mut self, x: &Self) -> Result<()> {
        self.zip_assign("sub_assign", x, |s, x| s - x)
    }

    /// `self ← self · x`, with `x` broadcast to `self`'s shape.
    ///
    /// Example: [`Tensor::add_assign`].
    ///
    /// # Panics
    /// If `x` does not broadcast to `self`'s shape; [`Tensor::try_mul_assign`] returns the error.
    #[track_caller]
    pub fn mul_assign(&mut self, x: &Self) {
        or_panic(self.try_mul_assign(x))
    }

    /// Fallible [`Tensor::mul_assign`].
    ///
    /// Example: [`Tensor::add_assign`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if `x` does not broadcast to
    /// `self`'s shape.
    pub fn try_mul_assign(&mut self, x: &Self) -> Result<()> {
        self.zip_assign("mul_assign", x, |s, x| s * x)
    }

    /// `self ← α · self`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut x = Tensor::from_vec(vec![1.0f32, -2.0], &[2]);
    /// x.scale_assign(0.5);
    /// assert_eq!(x.to_vec(), [0.5, -1.0]);
    /// ```
    pub fn scale_assign(&mut self, alpha: T) {
        self.map_assign(|s| alpha * s)
    }

    /// `self ← self + α · x` (BLAS `axpy`), for `x` of exactly `self`'s shape.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut w = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let g = Tensor::from_vec(vec![10.0f32, 20.0], &[2]);
    /// w.scaled_add(-0.1, &g); // one SGD step
    /// assert_eq!(w.to_vec(), vec![0.0, 0.0]);
    /// assert!(w.try_scaled_add(1.0, &Tensor::zeros(&[1])).is_err()); // no broadcasting
    /// ```
    ///
    /// # Panics
    /// If the shapes differ; [`Tensor::try_scaled_add`] returns the error.
    #[track_caller]
    pub fn scaled_add(&mut self, alpha: T, x: &Self) {
        or_panic(self.try_scaled_add(alpha, x))
    }

    /// Fallible [`Tensor::scaled_add`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming `scaled_add` and both shapes if they differ.
    pub fn try_scaled_add(&mut self, alpha: T, x: &Self) -> Result<()> {
        // No broadcasting here: a parameter and its gradient always agree, so a mismatch is a bug.
        if x.shape() != self.shape() {
            return Err(TensorError::shape(
                "scaled_add",
                self.shape(),
                x.shape(),
                "the shapes must be equal",
            ));
        }
        self.zip_assign("scaled_add", x, |s, x| s + alpha * x)
    }

    /// `self ← f(self)` elementwise, in place.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut x = Tensor::from_vec(vec![1.0f32, -2.0], &[2]);
    /// x.map_assign(|v| v * v);
    /// assert_eq!(x.to_vec(), [1.0, 4.0]);
    /// ```
    pub fn map_assign(&mut self, f: impl Fn(T) -> T + Sync) {
        let dst = self.make_mut_slice();
        let isa = simd::active();
        let run = |dst: &mut [T]| simd::update1(isa, dst, &f);
        if dst.len() >= PARALLEL_THRESHOLD {
            dst.par_chunks_mut(PARALLEL_THRESHOLD / 2).for_each(run);
        } else {
            run(dst);
        }
    }

    /// `self ← f(self, x)` elementwise, with `x` broadcast to `self`'s shape.
    ///
    /// The building block for fused optimizer updates (`f` may run on several threads).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut m = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let g = Tensor::from_vec(vec![3.0, 4.0], &[2]);
    /// m.zip_map_assign(&g, |m, g| 0.5 * m + 0.5 * g); // a moving average
    /// assert_eq!(m.to_vec(), [2.0, 3.0]);
    /// assert!(m.try_zip_map_assign(&Tensor::zeros(&[3]), |m, _| m).is_err());
    /// ```
    ///
    /// # Panics
    /// If `x` does not broadcast to `self`'s shape; [`Tensor::try_zip_map_assign`] returns the error.
    #[track_caller]
    pub fn zip_map_assign(&mut self, x: &Self, f: impl Fn(T, T) -> T + Sync) {
        or_panic(self.try_zip_map_assign(x, f))
    }

    /// Fallible [`Tensor::zip_map_assign`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if `x` does not broadcast to
    /// `self`'s shape.
    pub fn try_zip_map_assign(&mut self, x: &Self, f: impl Fn(T, T) -> T + Sync) -> Result<()> {
        self.zip_assign("zip_map_assign", x, f)
    }

    fn zip_assign(
        &mut self,
        op: &'static str,
        x: &Self,
        f: impl Fn(T, T) -> T + Sync,
    ) -> Result<()> {
        let shape: Dims = self.shape().into();
        let xl = x.layout().broadcast_to(&shape).map_err(|_| {
            TensorError::shape(
                op,
                &shape,
                x.shape(),
                "the right operand must broadcast to the left operand's shape, which an in-place op keeps",
            )
        })?;
        if shape.contains(&0) {
            return Ok(());
        }
        if !self.owns_whole_buffer() {
            // A shared or strided buffer would be copied before the update: one out-of-place
            // pass writes the same values with half the memory traffic.
            *self = map_binary(op, self, x, f)?;
            return Ok(());
        }
        let same = x.shape() == &shape[..];
        let dst = self.make_mut_slice();
        let isa = simd::active();
        if let Some(src) = x.as_contiguous_slice().filter(|_| same) {
            let run = |d: &mut [T], s: &[T]| simd::update2(isa, d, s, &f);
            if dst.len() >= PARALLEL_THRESHOLD {
                let c = PARALLEL_THRESHOLD / 2;
                dst.par_chunks_mut(c)
                    .zip(src.par_chunks(c))
                    .for_each(|(d, s)| run(d, s));
            } else {
                run(dst, src);
            }
            return Ok(());
        }
        // `self` is contiguous now, so its coalesced inner stride is 1 and each row is a slice;
        // only `x` needs its strides walked.
        let (cshape, strides) = coalesce(&shape, [&contiguous_strides(&shape), xl.strides()]);
        let len = *cshape.last().unwrap();
        let inner = *strides[1].last().unwrap();
        let rows = dst.len() / len;
        let src = x.storage_slice();
        for_each_row(&cshape, &strides, [0, xl.offset()], 0..rows, |[od, ox]| {
            let row = &mut dst[od..od + len];
            match inner {
                1 => row
                    .iter_mut()
                    .zip(&src[ox..ox + len])
                    .for_each(|(d, &s)| *d = f(*d, s)),
                0 => {
                    let s = src[ox];
                    row.iter_mut().for_each(|d| *d = f(*d, s));
                }
                _ => {
                    for (i, d) in row.iter_mut().enumerate() {
                        *d = f(*d, src[(ox as isize + i as isize * inner) as usize]);
                    }
                }
            }
        });
        Ok(())
    }
}

impl<T: Float> AddAssign<&Tensor<T>> for Tensor<T> {
    /// [`Tensor::add_assign`]; panics if `rhs` does not broadcast to `self`'s shape.
    #[track_caller]
    fn add_assign(&mut self, rhs: &Tensor<T>) {
        Tensor::add_assign(self, rhs)
    }
}

impl<T: Float> SubAssign<&Tensor<T>> for Tensor<T> {
    /// [`Tensor::sub_assign`]; panics if `rhs` does not broadcast to `self`'s shape.
    #[track_caller]
    fn sub_assign(&mut self, rhs: &Tensor<T>) {
        Tensor::sub_assign(self, rhs)
    }
}

impl<T: Float> MulAssign<&Tensor<T>> for Tensor<T> {
    /// [`Tensor::mul_assign`]; panics if `rhs` does not broadcast to `self`'s shape.
    #[track_caller]
    fn mul_assign(&mut self, rhs: &Tensor<T>) {
        Tensor::mul_assign(self, rhs)
    }
}

impl<T: Float> MulAssign<T> for Tensor<T> {
    /// [`Tensor::scale_assign`].
    fn mul_assign(&mut self, alpha: T) {
        self.scale_assign(alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniquely_owned_contiguous_buffers_are_written_in_place() {
        let mut w = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]);
        let before = w.storage_slice().as_ptr();
        w.scaled_add(2.0, &Tensor::from_vec(vec![1.0, 1.0, 1.0], &[3]));
        w.add_assign(&Tensor::scalar(1.0));
        w.scale_assign(0.5);
        w.zip_map_assign(&Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3]), |s, m| s * m);
        assert_eq!(w.storage_slice().as_ptr(), before);
        assert_eq!(w.to_vec(), [2.0, 0.0, 3.0]);
    }

    #[test]
    fn shared_and_strided_targets_are_copied_first() {
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
        let mut shared = a.clone();
        shared.sub_assign(&Tensor::scalar(1.0));
        assert_eq!(a.to_vec(), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(shared.to_vec(), [0.0, 1.0, 2.0, 3.0]);
        let mut tr = a.t();
        tr.mul_assign(&Tensor::from_vec(vec![10.0, 100.0], &[2]));
        assert_eq!(tr.shape(), &[2, 2]);
        assert_eq!(tr.to_vec(), [10.0, 300.0, 20.0, 400.0]);
        assert_eq!(a.to_vec(), [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn strided_and_broadcast_right_operands() {
        let mut acc = Tensor::<f32>::zeros(&[2, 3]);
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
        acc += &x.t();
        assert_eq!(acc.to_vec(), [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        acc -= &Tensor::from_vec(vec![1.0, 2.0], &[2, 1]);
        assert_eq!(acc.to_vec(), [0.0, 2.0, 4.0, 0.0, 2.0, 4.0]);
        acc *= &Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]);
        assert_eq!(acc.to_vec(), [0.0, 4.0, 12.0, 0.0, 4.0, 12.0]);
        acc *= 0.5;
        assert_eq!(acc.to_vec(), [0.0, 2.0, 6.0, 0.0, 2.0, 6.0]);
    }

    #[test]
    fn in_place_ops_cannot_grow_self() {
        let mut a = Tensor::<f64>::zeros(&[3]);
        let err = a.try_add_assign(&Tensor::zeros(&[2, 3])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add_assign: cannot combine [3] with [2, 3]: the right operand must broadcast to the left operand's shape, which an in-place op keeps"
        );
        let err = a.try_scaled_add(1.0, &Tensor::zeros(&[1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "scaled_add: cannot combine [3] with [1]: the shapes must be equal"
        );
        assert_eq!(a.to_vec(), [0.0, 0.0, 0.0]);
    }

    #[test]
    fn large_buffers_update_in_parallel_chunks() {
        let n = PARALLEL_THRESHOLD * 2 + 3;
        let mut w = Tensor::<f32>::ones(&[n]);
        let g = Tensor::<f32>::from_fn(&[n], |ix| ix[0] as f32);
        w.scaled_add(-1.0, &g);
        w.map_assign(|v| -v);
        assert_eq!(w.get(&[n - 1]), (n - 2) as f32);
        assert_eq!(w.get(&[0]), -1.0);
    }
}
