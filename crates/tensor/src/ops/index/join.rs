//! Joining tensors along an axis (`concat`, `stack`, new buffers) and splitting one (`split`,
//! `chunk`, views of the original).

use super::walk;
use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::layout::Layout;
use crate::shape::{Dims, check_shape_of, normalize_axis, normalize_insert_axis};
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// Joins tensors end to end along an existing `axis`; all other sizes must agree.
    ///
    /// Gradient: the matching [`Tensor::split`] of `g`. PyTorch: `torch.cat`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0], &[1, 2]);
    /// let b = Tensor::from_vec(vec![3.0f64, 4.0], &[1, 2]);
    /// assert_eq!(Tensor::concat(&[&a, &b], -1).shape(), &[1, 4]);
    /// assert!(Tensor::try_concat(&[&a, &b.t()], -1).is_err()); // [1, 2] and [2, 1]
    /// ```
    ///
    /// # Panics
    /// If the list is empty, the axis is bad or shapes differ off `axis`; [`Tensor::try_concat`]
    /// returns the error.
    #[track_caller]
    pub fn concat(tensors: &[&Self], axis: isize) -> Self {
        or_panic(Self::try_concat(tensors, axis))
    }

    /// Fallible [`Tensor::concat`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for an empty list or sizes along `axis` that add up past
    /// `usize::MAX`, [`TensorError::InvalidAxis`], [`TensorError::ShapeMismatch`] naming the
    /// first tensor's shape and the one that differs, [`TensorError::TooLarge`] if the result
    /// is too large to exist.
    pub fn try_concat(tensors: &[&Self], axis: isize) -> Result<Self> {
        const OP: &str = "concat";
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::arg(OP, "needs at least one tensor"))?;
        let ax = normalize_axis(OP, axis, first.rank())?;
        for (i, t) in tensors.iter().enumerate().skip(1) {
            let fits = t.rank() == first.rank()
                && (0..t.rank()).all(|d| d == ax || t.shape()[d] == first.shape()[d]);
            if !fits {
                return Err(TensorError::shape(
                    OP,
                    first.shape(),
                    t.shape(),
                    format!("tensor {i} differs from tensor 0 off axis {ax}"),
                ));
            }
        }
        concat_checked(OP, tensors, ax)
    }

    /// Joins equal-shaped tensors along a new `axis` (`-1` appends it). PyTorch: `torch.stack`.
    ///
    /// Gradient: the matching [`Tensor::chunk`] of `g`, each squeezed along `axis`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let s = Tensor::stack(&[&a, &a, &a], 1);
    /// assert_eq!(s.shape(), &[2, 3]);
    /// assert_eq!(s.to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// assert!(Tensor::try_stack(&[&a, &Tensor::zeros(&[3])], 0).is_err());
    /// ```
    ///
    /// # Panics
    /// If the list is empty, the axis is bad or shapes differ; [`Tensor::try_stack`] returns the error.
    #[track_caller]
    pub fn stack(tensors: &[&Self], axis: isize) -> Self {
        or_panic(Self::try_stack(tensors, axis))
    }

    /// Fallible [`Tensor::stack`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for an empty list or an axis outside `-(rank+1)..=rank`,
    /// [`TensorError::ShapeMismatch`] naming the first differing shapes, and
    /// [`TensorError::TooLarge`] if the result is too large to exist.
    pub fn try_stack(tensors: &[&Self], axis: isize) -> Result<Self> {
        const OP: &str = "stack";
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::arg(OP, "needs at least one tensor"))?;
        let ax = normalize_insert_axis(OP, axis, first.rank())?;
        for (i, t) in tensors.iter().enumerate().skip(1) {
            if t.shape() != first.shape() {
                return Err(TensorError::shape(
                    OP,
                    first.shape(),
                    t.shape(),
                    format!("tensor {i} and tensor 0 must have the same shape"),
                ));
            }
        }
        let lifted: Vec<Self> = tensors
            .iter()
            .map(|t| t.try_unsqueeze(ax as isize))
            .collect::<Result<_>>()?;
        let refs: Vec<&Self> = lifted.iter().collect();
        concat_checked(OP, &refs, ax)
    }

    /// Views of consecutive pieces along `axis`, of the given sizes (which must sum to the axis size).
    ///
    /// No data is copied. PyTorch: `torch.split` with a list of sizes.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::<f32>::arange(0.0, 5.0, 1.0);
    /// let parts = x.split(0, &[2, 3]);
    /// assert_eq!(parts[1].to_vec(), vec![2.0, 3.0, 4.0]);
    /// assert!(parts[1].shares_storage(&x));
    /// assert!(x.try_split(0, &[2, 2]).is_err()); // 2 + 2 is not 5
    /// ```
    ///
    /// # Panics
    /// If the axis is bad or the sizes do not sum to its size; [`Tensor::try_split`] returns the error.
    #[track_caller]
    pub fn split(&self, axis: isize, sizes: &[usize]) -> Vec<Self> {
        or_panic(self.try_split(axis, sizes))
    }

    /// Fallible [`Tensor::split`].
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`], or [`TensorError::InvalidArgument`] if the sizes do not sum
    /// to the axis size.
    pub fn try_split(&self, axis: isize, sizes: &[usize]) -> Result<Vec<Self>> {
        const OP: &str = "split";
        let ax = normalize_axis(OP, axis, self.rank())?;
        let dim = self.shape()[ax];
        let total = sizes.iter().try_fold(0usize, |acc, &s| acc.checked_add(s));
        if total != Some(dim) {
            return Err(TensorError::arg(
                OP,
                format!(
                    "sizes {sizes:?} do not sum to {dim}, the size of axis {ax} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                let part = self.try_slice(axis, start, start + len, 1);
                start += len;
                part
            })
            .collect()
    }

    /// Views of `chunks` near-equal pieces along `axis`, with PyTorch's rounding: each piece has
    /// `⌈size / chunks⌉` elements except a smaller last one, so fewer pieces may come back.
    ///
    /// An empty axis gives `chunks` empty pieces. PyTorch: `torch.chunk`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::<f64>::zeros(&[5, 2]);
    /// let sizes: Vec<usize> = x.chunk(3, 0).iter().map(|c| c.dim(0)).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// assert_eq!(Tensor::<f64>::zeros(&[6]).chunk(4, 0).len(), 3); // pieces of 2
    /// assert!(x.try_chunk(0, 0).is_err());
    /// ```
    ///
    /// # Panics
    /// If `chunks` is 0 or the axis is bad; [`Tensor::try_chunk`] returns the error.
    #[track_caller]
    pub fn chunk(&self, chunks: usize, axis: isize) -> Vec<Self> {
        or_panic(self.try_chunk(chunks, axis))
    }

    /// Fallible [`Tensor::chunk`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] if `chunks` is 0 or the list of pieces cannot be
    /// allocated (`chunks` empty pieces of an empty axis); [`TensorError::InvalidAxis`].
    pub fn try_chunk(&self, chunks: usize, axis: isize) -> Result<Vec<Self>> {
        const OP: &str = "chunk";
        if chunks == 0 {
            return Err(TensorError::arg(OP, "chunks must be at least 1"));
        }
        let ax = normalize_axis(OP, axis, self.rank())?;
        let dim = self.shape()[ax];
        let piece = dim.div_ceil(chunks);
        // `chunks` comes from the caller unchecked, and an empty axis promises that many pieces:
        // a list too long to allocate is an error, not an abort.
        let count = if dim == 0 {
            chunks
        } else {
            dim.div_ceil(piece)
        };
        let mut pieces = Vec::new();
        pieces.try_reserve_exact(count).map_err(|_| {
            TensorError::arg(
                OP,
                format!(
                    "{count} pieces of axis {ax} (shape {:?}) cannot be allocated",
                    self.shape()
                ),
            )
        })?;
        if dim == 0 {
            // Each piece of an empty axis is the tensor itself.
            pieces.resize(count, self.clone());
        } else {
            for start in (0..dim).step_by(piece) {
                let end = start + piece.min(dim - start);
                pieces.push(self.with_layout(self.layout().slice_as(OP, axis, start, end, 1)?));
            }
        }
        Ok(pieces)
    }
}

/// Writes `tensors` (same rank, equal off `ax`) end to end along `ax` into a new buffer, after
/// checking that the joined shape can exist; errors name `op`.
fn concat_checked<T: Float>(
    op: &'static str,
    tensors: &[&Tensor<T>],
    ax: usize,
) -> Result<Tensor<T>> {
    let mut shape: Dims = tensors[0].shape().into();
    let total = tensors
        .iter()
        .try_fold(0usize, |acc, t| acc.checked_add(t.shape()[ax]));
    shape[ax] = total.ok_or_else(|| {
        TensorError::arg(
            op,
            format!("the sizes along axis {ax} add up past usize::MAX"),
        )
    })?;
    let mut out = vec![T::ZERO; check_shape_of::<T>(op, &shape)?];
    if out.is_empty() {
        return Ok(Tensor::from_vec_unchecked(out, &shape));
    }
    let out_layout = Layout::contiguous(&shape);
    let mut start = 0;
    for t in tensors {
        let len = t.shape()[ax];
        let dst = out_layout
            .slice(ax as isize, start, start + len, 1)
            .expect("the output is sized to hold every piece");
        start += len;
        let data = t.storage_slice();
        walk([&dst, t.layout()], |[d, s]| out[d] = data[s]);
    }
    Ok(Tensor::from_vec_unchecked(out, &shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m34() -> Tensor<f64> {
        Tensor::from_fn(&[3, 4], |ix| (ix[0] * 10 + ix[1]) as f64)
    }

    #[test]
    fn concat_stack_and_their_errors() {
        let x = m34();
        let c = Tensor::concat(&[&x.t(), &x.narrow(1, 0, 2).t()], 0);
        assert_eq!(c.shape(), &[6, 3]);
        assert_eq!(c.narrow(0, 4, 2).to_vec(), x.narrow(1, 0, 2).t().to_vec());
        let err = Tensor::try_concat(&[&x, &x.t()], 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "concat: cannot combine [3, 4] with [4, 3]: tensor 1 differs from tensor 0 off axis 0"
        );
        assert!(Tensor::<f64>::try_concat(&[], 0).is_err());
        assert!(Tensor::try_concat(&[&x], 2).is_err());
        let s = Tensor::stack(&[&x, &x], -1);
        assert_eq!(s.shape(), &[3, 4, 2]);
        assert_eq!(s.get(&[2, 1, 1]), 21.0);
        assert!(Tensor::try_stack(&[&x], 3).is_err());
        assert!(Tensor::try_stack(&[&x, &x.t()], 0).is_err());
    }

    #[test]
    fn split_and_chunk_are_views() {
        let x = m34();
        let parts = x.split(1, &[1, 0, 3]);
        assert_eq!(
            parts.iter().map(|p| p.shape()[1]).collect::<Vec<_>>(),
            vec![1, 0, 3]
        );
        assert!(parts.iter().all(|p| p.shares_storage(&x)));
        assert_eq!(
            x.try_split(1, &[2, 3]).unwrap_err().to_string(),
            "split: invalid argument: sizes [2, 3] do not sum to 4, the size of axis 1 of shape [3, 4]"
        );
        let sizes = |d: usize, c: usize| -> Vec<usize> {
            Tensor::<f32>::zeros(&[d])
                .chunk(c, 0)
                .iter()
                .map(|t| t.numel())
                .collect()
        };
        assert_eq!(sizes(4, 4), vec![1, 1, 1, 1]);
        assert_eq!(sizes(5, 2), vec![3, 2]);
        assert_eq!(sizes(6, 4), vec![2, 2, 2]);
        assert_eq!(sizes(2, 5), vec![1, 1]);
        assert_eq!(sizes(0, 3), vec![0, 0, 0]);
        assert!(x.try_chunk(0, 0).is_err());
        assert_eq!(x.try_chunk(2, 5).unwrap_err().op(), "chunk");
    }
}
