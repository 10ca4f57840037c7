//! The `Tensor` type: shared storage plus a strided layout, its constructors and accessors.

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::iter::{for_each_index, map_unary};
use crate::layout::Layout;
use crate::shape::{check_shape_of, numel};
use crate::storage::Storage;
use std::fmt;
use std::sync::Arc;

/// An n-dimensional array of `f32` or `f64`.
///
/// Cloning is cheap: clones and views share one reference-counted buffer and differ only in
/// their [`Layout`]. Ops never mutate a shared buffer; the `_assign` forms copy first if needed.
///
/// Fallible ops come in pairs: `try_x` returns [`Result`], and `x` panics with the same message
/// at the caller's line. Shape errors are programming errors, so the short form is the usual one.
///
/// ```
/// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
/// use tapegrad::prelude::*;
/// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// let t = a.t(); // a [3, 2] view, no copy
/// assert_eq!(t.get(&[2, 1]), 6.0);
/// assert!(!t.is_contiguous());
/// ```
///
/// The operators `+ − * /` and unary `−` call the named methods ([`Tensor::add`] and so on) on
/// any mix of owned and borrowed tensors, with a scalar on the right, or for `f32` and `f64` on
/// the left; `+=`, `−=` and `*=` call the `_assign` forms:
///
/// ```
/// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
/// use tapegrad::prelude::*;
/// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
/// let b = Tensor::from_vec(vec![3.0f32, 4.0], &[2]);
/// assert_eq!((&a + &b).to_vec(), [4.0, 6.0]);
/// assert_eq!((2.0 * &a - &b / 2.0).to_vec(), [0.5, 2.0]);
/// assert_eq!((-a.clone()).to_vec(), [-1.0, -2.0]);
/// let mut c = a.clone();
/// c += &b;
/// c *= 0.5;
/// assert_eq!(c.to_vec(), [2.0, 3.0]);
/// ```
#[derive(Clone)]
pub struct Tensor<T> {
    storage: Arc<Storage<T>>,
    layout: Layout,
}

impl<T: Float> Tensor<T> {
    /// A tensor owning `data`, laid out row-major in `shape`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(x.get(&[1, 0]), 4.0);
    /// assert!(Tensor::try_from_vec(vec![1.0f32, 2.0], &[3]).is_err());
    /// ```
    ///
    /// # Panics
    /// If `data.len()` differs from the product of `shape`, or the shape is too large
    /// ([`crate::shape::check_shape`]); [`Tensor::try_from_vec`] returns the error.
    #[track_caller]
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        or_panic(Self::try_from_vec(data, shape))
    }

    /// A tensor owning `data` in `shape`, or an error if the lengths differ.
    ///
    /// Example: [`Tensor::from_vec`].
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] for a shape too large to exist (even with no data: `[0, 2^63]`
    /// counts its empty axis as 1), else [`TensorError::DataLength`] if the lengths differ.
    pub fn try_from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let expected = check_shape_of::<T>("from_vec", shape)?;
        if data.len() != expected {
            return Err(TensorError::DataLength {
                op: "from_vec",
                expected,
                got: data.len(),
            });
        }
        Ok(Self::from_vec_unchecked(data, shape))
    }

    pub(crate) fn from_vec_unchecked(data: Vec<T>, shape: &[usize]) -> Self {
        debug_assert_eq!(data.len(), numel(shape));
        Tensor {
            storage: Arc::new(Storage::new(data)),
            layout: Layout::contiguous(shape),
        }
    }

    /// A view of `self`'s storage under another layout (checked in debug builds).
    pub(crate) fn with_layout(&self, layout: Layout) -> Self {
        debug_assert!(
            layout
                .storage_span()
                .is_some_and(|end| end <= self.storage.len()),
            "layout {layout:?} leaves a storage of {} elements",
            self.storage.len()
        );
        Tensor {
            storage: Arc::clone(&self.storage),
            layout,
        }
    }

    /// A rank-0 tensor holding one value.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let s = Tensor::scalar(2.5f32);
    /// assert_eq!((s.rank(), s.item()), (0, 2.5));
    /// ```
    pub fn scalar(value: T) -> Self {
        Self::from_vec_unchecked(vec![value], &[])
    }

    /// A tensor of `shape` filled with `value`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// assert_eq!(Tensor::full(&[2, 2], 7.0f32).to_vec(), [7.0; 4]);
    /// assert!(Tensor::try_full(&[usize::MAX, 2], 7.0f32).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shape is too large ([`crate::shape::check_shape`]); [`Tensor::try_full`] returns
    /// the error.
    #[track_caller]
    pub fn full(shape: &[usize], value: T) -> Self {
        or_panic(Self::full_as("full", shape, value))
    }

    /// Fallible [`Tensor::full`].
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming `full` and the shape.
    pub fn try_full(shape: &[usize], value: T) -> Result<Self> {
        Self::full_as("full", shape, value)
    }

    /// A tensor of zeros.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// assert_eq!(Tensor::<f32>::zeros(&[2, 3]).to_vec(), [0.0; 6]);
    /// assert!(Tensor::<f32>::try_zeros(&[usize::MAX, 2]).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shape is too large; [`Tensor::try_zeros`] returns the error.
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Self {
        or_panic(Self::full_as("zeros", shape, T::ZERO))
    }

    /// Fallible [`Tensor::zeros`].
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming `zeros` and the shape.
    pub fn try_zeros(shape: &[usize]) -> Result<Self> {
        Self::full_as("zeros", shape, T::ZERO)
    }

    /// A tensor of ones.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// assert_eq!(Tensor::<f64>::ones(&[3]).to_vec(), [1.0; 3]);
    /// assert!(Tensor::<f64>::try_ones(&[usize::MAX, 2]).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shape is too large; [`Tensor::try_ones`] returns the error.
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Self {
        or_panic(Self::full_as("ones", shape, T::ONE))
    }

    /// Fallible [`Tensor::ones`].
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming `ones` and the shape.
    pub fn try_ones(shape: &[usize]) -> Result<Self> {
        Self::full_as("ones", shape, T::ONE)
    }

    pub(crate) fn full_as(op: &'static str, shape: &[usize], value: T) -> Result<Self> {
        let n = check_shape_of::<T>(op, shape)?;
        Ok(Self::from_vec_unchecked(vec![value; n], shape))
    }

    /// Zeros in the shape of `self`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]);
    /// assert_eq!(x.zeros_like().to_vec(), [0.0, 0.0]);
    /// assert_eq!(x.ones_like().to_vec(), [1.0, 1.0]);
    /// assert_eq!(x.full_like(5.0).shape(), [2, 1]);
    /// ```
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.shape())
    }

    /// Ones in the shape of `self`.
    ///
    /// Example: [`Tensor::zeros_like`].
    pub fn ones_like(&self) -> Self {
        Self::ones(self.shape())
    }

    /// `value` in the shape of `self`.
    ///
    /// Example: [`Tensor::zeros_like`].
    pub fn full_like(&self, value: T) -> Self {
        Self::full(self.shape(), value)
    }

    /// `start, start+step, …` up to but excluding `end` (PyTorch: `torch.arange`), as a 1-D
    /// tensor; empty when `start == end`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// assert_eq!(Tensor::arange(0.0f32, 2.0, 0.5).to_vec(), [0.0, 0.5, 1.0, 1.5]);
    /// assert!(Tensor::try_arange(0.0f32, 1.0, -1.0).is_err());
    /// ```
    ///
    /// # Panics
    /// If `step` is zero or points away from `end`, an argument is not finite, or the count is
    /// too large; [`Tensor::try_arange`] returns the error.
    #[track_caller]
    pub fn arange(start: T, end: T, step: T) -> Self {
        or_panic(Self::try_arange(start, end, step))
    }

    /// Fallible [`Tensor::arange`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `arange` if an argument is not finite, `step` is 0
    /// or has the wrong sign (`end < start` needs a negative step), or the count of values
    /// exceeds what a tensor can hold.
    pub fn try_arange(start: T, end: T, step: T) -> Result<Self> {
        const OP: &str = "arange";
        let (s, e, st) = (start.to_f64(), end.to_f64(), step.to_f64());
        if st == 0.0 || !st.is_finite() || !s.is_finite() || !e.is_finite() {
            return Err(TensorError::arg(
                OP,
                format!("start {s}, end {e}, step {st} must be finite with a nonzero step"),
            ));
        }
        if (e - s) * st < 0.0 {
            return Err(TensorError::arg(
                OP,
                format!("step {st} points away from end {e} (start {s})"),
            ));
        }
        // (e − s) can overflow to ∞ for finite bounds; the comparison below rejects that too.
        let count = ((e - s) / st).ceil();
        let most = (isize::MAX as usize / std::mem::size_of::<T>()) as f64;
        if count.is_nan() || count > most {
            return Err(TensorError::arg(
                OP,
                format!(
                    "start {s}, end {e}, step {st} give {count} values, more than a {} tensor can hold",
                    T::DTYPE
                ),
            ));
        }
        let n = count as usize;
        let data = (0..n)
            .map(|i| T::from_f64(s + i as f64 * st))
            .collect::<Vec<_>>();
        Ok(Self::from_vec_unchecked(data, &[n]))
    }

    /// `n` evenly spaced values from `start` to `end`, both included when `n ≥ 2`; `[start]` for
    /// `n = 1` and empty for `n = 0`, as PyTorch's `torch.linspace`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// assert_eq!(Tensor::linspace(0.0f32, 1.0, 5).to_vec(), [0.0, 0.25, 0.5, 0.75, 1.0]);
    /// assert!(Tensor::try_linspace(0.0f32, f32::INFINITY, 3).is_err());
    /// ```
    ///
    /// # Panics
    /// If a bound is not finite or `n` is too large; [`Tensor::try_linspace`] returns the error.
    #[track_caller]
    pub fn linspace(start: T, end: T, n: usize) -> Self {
        or_panic(Self::try_linspace(start, end, n))
    }

    /// Fallible [`Tensor::linspace`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] if `start` or `end` is not finite (the spacing would be
    /// NaN or infinite), [`TensorError::TooLarge`] if `n` values cannot be held.
    pub fn try_linspace(start: T, end: T, n: usize) -> Result<Self> {
        const OP: &str = "linspace";
        if !start.is_finite() || !end.is_finite() {
            return Err(TensorError::arg(
                OP,
                format!("start {start} and end {end} must be finite"),
            ));
        }
        check_shape_of::<T>(OP, &[n])?;
        let (s, e) = (start.to_f64(), end.to_f64());
        let data = (0..n)
            .map(|i| {
                if i == 0 {
                    start
                } else if i == n - 1 {
                    end
                } else {
                    T::from_f64(s + (e - s) * i as f64 / (n - 1) as f64)
                }
            })
            .collect();
        Ok(Self::from_vec_unchecked(data, &[n]))
    }

    /// The `n×n` identity matrix.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// assert_eq!(Tensor::<f32>::eye(2).to_vec(), [1.0, 0.0, 0.0, 1.0]);
    /// assert!(Tensor::<f32>::try_eye(usize::MAX).is_err());
    /// ```
    ///
    /// # Panics
    /// If `n×n` elements are too many; [`Tensor::try_eye`] returns the error.
    #[track_caller]
    pub fn eye(n: usize) -> Self {
        or_panic(Self::try_eye(n))
    }

    /// Fallible [`Tensor::eye`].
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming `eye` and the shape `[n, n]`.
    pub fn try_eye(n: usize) -> Result<Self> {
        Self::from_fn_as("eye", &[n, n], |ix| {
            if ix[0] == ix[1] { T::ONE } else { T::ZERO }
        })
    }

    /// A tensor whose element at each index is `f(index)`, filled in row-major order.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_fn(&[2, 3], |ix| (10 * ix[0] + ix[1]) as f32);
    /// assert_eq!(x.to_vec(), [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
    /// assert!(Tensor::try_from_fn(&[usize::MAX, 2], |_| 0.0f32).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shape is too large; [`Tensor::try_from_fn`] returns the error.
    #[track_caller]
    pub fn from_fn(shape: &[usize], f: impl FnMut(&[usize]) -> T) -> Self {
        or_panic(Self::from_fn_as("from_fn", shape, f))
    }

    /// Fallible [`Tensor::from_fn`]; `f` is not called when the shape is rejected.
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming `from_fn` and the shape.
    pub fn try_from_fn(shape: &[usize], f: impl FnMut(&[usize]) -> T) -> Result<Self> {
        Self::from_fn_as("from_fn", shape, f)
    }

    fn from_fn_as(
        op: &'static str,
        shape: &[usize],
        mut f: impl FnMut(&[usize]) -> T,
    ) -> Result<Self> {
        let n = check_shape_of::<T>(op, shape)?;
        let mut data = Vec::with_capacity(n);
        let mut index = vec![0usize; shape.len()];
        for _ in 0..n {
            data.push(f(&index));
            for i in (0..shape.len()).rev() {
                index[i] += 1;
                if index[i] < shape[i] {
                    break;
                }
                index[i] = 0;
            }
        }
        Ok(Self::from_vec_unchecked(data, shape))
    }

    /// Sizes of each axis.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::<f32>::zeros(&[2, 3]);
    /// assert_eq!(x.shape(), [2, 3]);
    /// assert_eq!(x.strides(), [3, 1]);
    /// assert_eq!((x.rank(), x.numel(), x.dim(-1)), (2, 6, 3));
    /// assert_eq!(x.layout().offset(), 0);
    /// ```
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// Steps in storage elements along each axis (0 along broadcast axes).
    ///
    /// Example: [`Tensor::shape`].
    pub fn strides(&self) -> &[isize] {
        self.layout.strides()
    }

    /// The strided layout over the storage.
    ///
    /// Example: [`Tensor::shape`].
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of axes.
    ///
    /// Example: [`Tensor::shape`].
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    /// Number of elements.
    ///
    /// Example: [`Tensor::shape`].
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// Size of `axis` (negative counts from the end).
    ///
    /// Example: [`Tensor::shape`].
    ///
    /// # Panics
    /// If the axis is out of range.
    #[track_caller]
    pub fn dim(&self, axis: isize) -> usize {
        self.shape()[or_panic(crate::shape::normalize_axis("dim", axis, self.rank()))]
    }

    /// Whether the elements sit row-major and gap-free in storage.
    ///
    /// Example: [`Tensor::contiguous`].
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Whether two tensors share one storage buffer (a view and its source do).
    ///
    /// Example: [`Tensor::contiguous`].
    pub fn shares_storage(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// The whole underlying buffer, which a strided view indexes through its layout.
    ///
    /// Example: [`Tensor::contiguous`].
    pub fn storage_slice(&self) -> &[T] {
        self.storage.as_slice()
    }

    /// The elements in logical order as one slice, if the layout is contiguous.
    ///
    /// Example: [`Tensor::contiguous`].
    pub fn as_contiguous_slice(&self) -> Option<&[T]> {
        if self.is_contiguous() {
            let start = self.layout.offset();
            Some(&self.storage.as_slice()[start..start + self.numel()])
        } else {
            None
        }
    }

    /// The elements in logical (row-major) order, copied out.
    ///
    /// Example: [`Tensor::contiguous`].
    pub fn to_vec(&self) -> Vec<T> {
        match self.as_contiguous_slice() {
            Some(s) => s.to_vec(),
            None => map_unary(self, |x| x),
        }
    }

    /// The elements in logical (row-major) order: borrowed when the layout is contiguous,
    /// copied once when it is a strided view.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// use std::borrow::Cow;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert!(matches!(x.row_major(), Cow::Borrowed(&[1.0, 2.0, 3.0, 4.0])));
    /// assert_eq!(*x.t().row_major(), [1.0, 3.0, 2.0, 4.0]); // the transpose, copied
    /// ```
    pub fn row_major(&self) -> std::borrow::Cow<'_, [T]> {
        match self.as_contiguous_slice() {
            Some(slice) => std::borrow::Cow::Borrowed(slice),
            None => std::borrow::Cow::Owned(self.to_vec()),
        }
    }

    /// This tensor if contiguous (no copy), else a row-major copy.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// let t = x.t(); // a strided view of x's buffer
    /// assert!(t.shares_storage(&x) && !t.is_contiguous());
    /// assert_eq!(t.as_contiguous_slice(), None);
    /// assert_eq!(t.storage_slice(), [1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(t.to_vec(), [1.0, 3.0, 2.0, 4.0]);
    /// let c = t.contiguous(); // a row-major copy
    /// assert!(!c.shares_storage(&x));
    /// assert_eq!(c.as_contiguous_slice(), Some(&[1.0, 3.0, 2.0, 4.0][..]));
    /// ```
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() {
            self.clone()
        } else {
            Self::from_vec_unchecked(self.to_vec(), self.shape())
        }
    }

    /// The one element of a single-element tensor.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// assert_eq!(Tensor::from_vec(vec![3.0f32], &[1, 1]).item(), 3.0);
    /// assert!(Tensor::<f32>::zeros(&[2]).try_item().is_err());
    /// ```
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    #[track_caller]
    pub fn item(&self) -> T {
        or_panic(self.try_item())
    }

    /// Fallible [`Tensor::item`].
    pub fn try_item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TensorError::arg(
                "item",
                format!(
                    "needs exactly one element, but the tensor has shape {:?}",
                    self.shape()
                ),
            ));
        }
        let mut out = T::ZERO;
        for_each_index(&self.layout, |i| out = self.storage.as_slice()[i]);
        Ok(out)
    }

    /// The element at a multi-index.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.get(&[1, 0]), 3.0);
    /// assert!(x.try_get(&[2, 0]).is_err());
    /// ```
    ///
    /// # Panics
    /// If the index has the wrong length or is out of bounds.
    #[track_caller]
    pub fn get(&self, index: &[usize]) -> T {
        or_panic(self.try_get(index))
    }

    /// Fallible [`Tensor::get`].
    pub fn try_get(&self, index: &[usize]) -> Result<T> {
        Ok(self.storage.as_slice()[self.layout.checked_index_of("get", index)?])
    }

    /// The same values converted to another float type.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y: Tensor<f64> = Tensor::from_vec(vec![0.5f32, 2.0], &[2]).cast();
    /// assert_eq!(y.to_vec(), [0.5, 2.0]);
    /// ```
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_vec_unchecked(map_unary(self, |x| U::from_f64(x.to_f64())), self.shape())
    }

    /// A uniquely owned, contiguous, offset-0 buffer for in-place writes (copies if shared or strided).
    /// Whether [`Tensor::make_mut_slice`] would write in place, without a copy first.
    pub(crate) fn owns_whole_buffer(&self) -> bool {
        self.layout.offset() == 0
            && self.is_contiguous()
            && self.storage.len() == self.numel()
            && Arc::strong_count(&self.storage) == 1
            && Arc::weak_count(&self.storage) == 0
    }

    pub(crate) fn make_mut_slice(&mut self) -> &mut [T] {
        let whole =
            self.layout.offset() == 0 && self.is_contiguous() && self.storage.len() == self.numel();
        if !whole {
            *self = Self::from_vec_unchecked(self.to_vec(), self.shape());
        }
        Arc::make_mut(&mut self.storage).as_mut_slice()
    }

    /// The elements as a mutable row-major slice, copying first if the buffer is shared or strided.
    ///
    /// The in-place path for optimizers and initialisers: afterwards no other tensor sees the writes.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut x = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let view = x.clone(); // shares the buffer
    /// x.as_mut_slice()[0] = 5.0; // x copies first, so `view` keeps its values
    /// assert_eq!(x.to_vec(), [5.0, 2.0]);
    /// assert_eq!(view.to_vec(), [1.0, 2.0]);
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.make_mut_slice()
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Elements shown per axis before the middle is elided, as NumPy does.
const EDGE_ITEMS: usize = 3;

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.to_vec();
        let shape = self.shape();
        let strides = crate::shape::contiguous_strides(shape);
        let precision = f.precision().unwrap_or(4);
        let mut index = Vec::with_capacity(shape.len());
        write!(f, "tensor(")?;
        write_nested(f, &values, shape, &strides, &mut index, precision, 7)?;
        write!(f, ", shape={shape:?}, dtype={})", T::DTYPE)
    }
}

fn write_nested<T: Float>(
    f: &mut fmt::Formatter<'_>,
    values: &[T],
    shape: &[usize],
    strides: &[isize],
    index: &mut Vec<usize>,
    precision: usize,
    indent: usize,
) -> fmt::Result {
    let depth = index.len();
    if depth == shape.len() {
        let at: isize = index
            .iter()
            .zip(strides)
            .map(|(&i, &s)| i as isize * s)
            .sum();
        let v = values[at as usize];
        let mag = v.to_f64().abs();
        return if mag != 0.0 && (!(1e-4..1e6).contains(&mag)) {
            write!(f, "{:.*e}", precision, v)
        } else {
            write!(f, "{:.*}", precision, v)
        };
    }
    write!(f, "[")?;
    let n = shape[depth];
    let elide = n > 2 * EDGE_ITEMS;
    let mut first = true;
    for i in 0..n {
        if elide && i == EDGE_ITEMS {
            write!(f, ", ...")?;
        }
        if elide && (EDGE_ITEMS..n - EDGE_ITEMS).contains(&i) {
            continue;
        }
        if !first {
            if depth + 1 < shape.len() {
                write!(f, ",\n{:width$}", "", width = indent + depth + 1)?;
            } else {
                write!(f, ", ")?;
            }
        }
        first = false;
        index.push(i);
        write_nested(f, values, shape, strides, index, precision, indent)?;
        index.pop();
    }
    write!(f, "]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_fill_as_documented() {
        assert_eq!(
            Tensor::<f64>::arange(0.0, 1.0, 0.25).to_vec(),
            vec![0.0, 0.25, 0.5, 0.75]
        );
        assert_eq!(
            Tensor::<f64>::arange(3.0, 0.0, -1.0).to_vec(),
            vec![3.0, 2.0, 1.0]
        );
        assert!(Tensor::<f64>::try_arange(0.0, 1.0, 0.0).is_err());
        assert_eq!(
            Tensor::<f64>::linspace(0.0, 1.0, 5).to_vec(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(Tensor::<f32>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
        let t = Tensor::<f64>::from_fn(&[2, 3], |ix| (ix[0] * 10 + ix[1]) as f64);
        assert_eq!(t.to_vec(), vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
        assert_eq!(Tensor::scalar(2.5f32).item(), 2.5);
        assert_eq!(Tensor::<f32>::zeros(&[0, 3]).numel(), 0);
    }

    #[test]
    fn constructors_reject_shapes_too_large_to_exist() {
        let huge = [1usize << 32, 1 << 32];
        let err = Tensor::<f32>::try_zeros(&huge).unwrap_err();
        assert_eq!(
            err.to_string(),
            "zeros: shape [4294967296, 4294967296] is too large: at 4 bytes per element it \
             exceeds isize::MAX bytes (empty axes count as size 1)"
        );
        assert_eq!(
            Tensor::<f64>::try_ones(&[1 << 61]).unwrap_err().op(),
            "ones"
        );
        // 2^61 f32 elements are 2^63 bytes, one past isize::MAX; 2^60 would be allowed.
        assert_eq!(
            Tensor::<f32>::try_full(&[1 << 61], 1.0).unwrap_err().op(),
            "full"
        );
        // An empty axis does not excuse the others: strides of [0, 2^63] would not fit isize.
        assert!(Tensor::<f32>::try_zeros(&[0, 1 << 63]).is_err());
        assert_eq!(Tensor::<f32>::try_zeros(&[0, 1 << 20]).unwrap().numel(), 0);
        let mut called = false;
        let err = Tensor::<f64>::try_from_fn(&huge, |_| {
            called = true;
            0.0
        });
        assert_eq!((err.unwrap_err().op(), called), ("from_fn", false));
        assert_eq!(Tensor::<f64>::try_eye(1 << 31).unwrap_err().op(), "eye");
        assert_eq!(
            Tensor::<f64>::try_eye(2).unwrap().to_vec(),
            vec![1.0, 0.0, 0.0, 1.0]
        );
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        let err = Tensor::<f32>::try_rand_normal(&huge, &mut rng).unwrap_err();
        assert_eq!(err.op(), "rand_normal");
        assert_eq!(
            Tensor::<f32>::try_linspace(0.0, 1.0, usize::MAX)
                .unwrap_err()
                .op(),
            "linspace"
        );
    }

    #[test]
    #[should_panic(expected = "zeros: shape [4294967296, 4294967296] is too large")]
    fn short_constructors_panic_with_the_message() {
        Tensor::<f32>::zeros(&[1 << 32, 1 << 32]);
    }

    #[test]
    fn bad_data_length_names_op_and_sizes() {
        let err = Tensor::<f32>::try_from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "from_vec: data length 5 does not match the shape, which needs 6 elements"
        );
        assert!(Tensor::<f32>::zeros(&[2]).try_item().is_err());
        assert!(Tensor::<f32>::zeros(&[2]).try_get(&[2]).is_err());
        assert!(Tensor::<f32>::zeros(&[2]).try_get(&[0, 0]).is_err());
    }

    #[test]
    fn display_elides_like_numpy() {
        let t = Tensor::<f32>::arange(0.0, 10.0, 1.0);
        assert_eq!(
            t.to_string(),
            "tensor([0.0000, 1.0000, 2.0000, ..., 7.0000, 8.0000, 9.0000], shape=[10], dtype=f32)"
        );
        let m = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        assert_eq!(
            format!("{m:.1}"),
            "tensor([[1.0, 2.0],\n        [3.0, 4.0]], shape=[2, 2], dtype=f64)"
        );
        assert_eq!(
            Tensor::scalar(1e-7f64).to_string(),
            "tensor(1.0000e-7, shape=[], dtype=f64)"
        );
    }

    #[test]
    fn in_place_write_does_not_leak_into_shared_views() {
        let a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]);
        let mut b = a.clone();
        b.as_mut_slice()[0] = 9.0;
        assert_eq!(a.to_vec(), vec![1.0, 2.0]);
        assert_eq!(b.to_vec(), vec![9.0, 2.0]);
    }
}
