//! Indexing: select and gather by `usize` indices, their adjoints (`index_add`, `scatter_add`,
//! which autograd uses as backwards) and `one_hot`; joining and splitting along an axis live in
//! `index/join.rs`. Each op writes a new row-major buffer.

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::iter::{coalesce, for_each_row};
use crate::layout::Layout;
use crate::shape::{Dims, check_shape_of, normalize_axis, numel};
use crate::tensor::Tensor;

mod join;

impl<T: Float> Tensor<T> {
    /// Whole slices along `axis` picked by `indices`: `out[.., j, ..] = self[.., indices[j], ..]`.
    ///
    /// Repeats and any order are allowed; the result has `indices.len()` along `axis`.
    /// Gradient: [`Tensor::index_add`] of `g` with the same indices. PyTorch: `torch.index_select`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    /// assert_eq!(x.index_select(0, &[2, 0]).to_vec(), vec![5.0, 6.0, 1.0, 2.0]);
    /// assert!(x.try_index_select(0, &[3]).is_err()); // axis 0 has size 3
    /// ```
    ///
    /// # Panics
    /// If the axis or an index is out of range; [`Tensor::try_index_select`] returns the error.
    #[track_caller]
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Self {
        or_panic(self.try_index_select(axis, indices))
    }

    /// Fallible [`Tensor::index_select`].
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a bad axis; [`TensorError::OutOfRange`] naming the first
    /// index not below the axis size; [`TensorError::TooLarge`] if the result is too large.
    pub fn try_index_select(&self, axis: isize, indices: &[usize]) -> Result<Self> {
        const OP: &str = "index_select";
        let ax = normalize_axis(OP, axis, self.rank())?;
        check_indices(OP, indices, ax, self.shape())?;
        let mut shape: Dims = self.shape().into();
        shape[ax] = indices.len();
        let n = check_shape_of::<T>(OP, &shape)?;
        let mut out = crate::storage::filled_buffer(n, T::ZERO);
        if out.is_empty() {
            return Ok(Tensor::from_vec_unchecked(out, &shape));
        }
        if let Some(src) = self.as_contiguous_slice() {
            // Row-major on both sides: each (outer, index) pair is one block of `inner` elements.
            let inner: usize = shape[ax + 1..].iter().product();
            let dim = self.shape()[ax];
            for (o, dst) in out.chunks_exact_mut(indices.len() * inner).enumerate() {
                for (j, &i) in indices.iter().enumerate() {
                    let from = (o * dim + i) * inner;
                    dst[j * inner..(j + 1) * inner].copy_from_slice(&src[from..from + inner]);
                }
            }
        } else {
            let out_layout = Layout::contiguous(&shape);
            let data = self.storage_slice();
            for (j, &i) in indices.iter().enumerate() {
                let dst = out_layout.slice(axis, j, j + 1, 1)?;
                let src = self.layout().slice(axis, i, i + 1, 1)?;
                walk([&dst, &src], |[d, s]| out[d] = data[s]);
            }
        }
        Ok(Tensor::from_vec_unchecked(out, &shape))
    }

    /// Adjoint of [`Tensor::index_select`]: zeros with `dim_size` along `axis` (else `src`'s shape),
    /// plus `out[.., indices[j], ..] += src[.., j, ..]`; repeated indices accumulate.
    ///
    /// Not differentiable itself; it is the backward of `index_select`. PyTorch:
    /// `torch.zeros(..).index_add_(axis, indices, src)`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let g = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]);
    /// assert_eq!(Tensor::index_add(0, &[1, 0, 1], &g, 3).to_vec(), vec![2.0, 4.0, 0.0]);
    /// assert!(Tensor::try_index_add(0, &[3, 0, 1], &g, 3).is_err()); // 3 is not below 3
    /// ```
    ///
    /// # Panics
    /// If the axis is bad, `indices.len()` differs from `src`'s size along `axis`, or an index is
    /// not below `dim_size`; [`Tensor::try_index_add`] returns the error.
    #[track_caller]
    pub fn index_add(axis: isize, indices: &[usize], src: &Self, dim_size: usize) -> Self {
        or_panic(Self::try_index_add(axis, indices, src, dim_size))
    }

    /// Fallible [`Tensor::index_add`].
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`], [`TensorError::ShapeMismatch`] when the index count differs
    /// from `src`'s size along `axis`, [`TensorError::OutOfRange`] for an index `≥ dim_size`,
    /// [`TensorError::TooLarge`] if `src`'s shape with `dim_size` along `axis` is too large.
    pub fn try_index_add(
        axis: isize,
        indices: &[usize],
        src: &Self,
        dim_size: usize,
    ) -> Result<Self> {
        const OP: &str = "index_add";
        let ax = normalize_axis(OP, axis, src.rank())?;
        if indices.len() != src.shape()[ax] {
            return Err(TensorError::shape(
                OP,
                src.shape(),
                &[indices.len()],
                format!(
                    "src has {} slices along axis {ax} but {} indices are given",
                    src.shape()[ax],
                    indices.len()
                ),
            ));
        }
        let mut shape: Dims = src.shape().into();
        shape[ax] = dim_size;
        check_indices(OP, indices, ax, &shape)?;
        let n = check_shape_of::<T>(OP, &shape)?;
        let mut out = crate::storage::filled_buffer(n, T::ZERO);
        if out.is_empty() || src.numel() == 0 {
            return Ok(Tensor::from_vec_unchecked(out, &shape));
        }
        let out_layout = Layout::contiguous(&shape);
        let data = src.storage_slice();
        for (j, &i) in indices.iter().enumerate() {
            let dst = out_layout.slice(axis, i, i + 1, 1)?;
            let from = src.layout().slice(axis, j, j + 1, 1)?;
            walk([&dst, &from], |[d, s]| out[d] += data[s]);
        }
        Ok(Tensor::from_vec_unchecked(out, &shape))
    }

    /// Picks one element along `axis` per index position: `out[p] = self[p with p[axis] = index[p]]`.
    ///
    /// `index` lists, row-major, a tensor of `index_shape`, which must equal `self`'s shape except
    /// along `axis`; the result has `index_shape`. Gradient: [`Tensor::scatter_add`] of `g`.
    /// PyTorch: `torch.gather`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// // One column per row: picks x[0][2] and x[1][0].
    /// assert_eq!(x.gather(1, &[2, 0], &[2, 1]).to_vec(), vec![3.0, 4.0]);
    /// assert!(x.try_gather(1, &[3, 0], &[2, 1]).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit or an index is out of range; [`Tensor::try_gather`] returns the error.
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &[usize], index_shape: &[usize]) -> Self {
        or_panic(self.try_gather(axis, index, index_shape))
    }

    /// Fallible [`Tensor::gather`].
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`]; [`TensorError::ShapeMismatch`] if `index_shape` differs from
    /// the input's shape off `axis`; [`TensorError::DataLength`] if `index` does not fill
    /// `index_shape`; [`TensorError::OutOfRange`] for an index not below the axis size;
    /// [`TensorError::TooLarge`] if `index_shape` is too large to exist.
    pub fn try_gather(&self, axis: isize, index: &[usize], index_shape: &[usize]) -> Result<Self> {
        const OP: &str = "gather";
        let ax = check_index_shape::<T>(OP, axis, index, index_shape, self.shape())?;
        if index.is_empty() {
            return Self::full_as(OP, index_shape, T::ZERO);
        }
        let base = axis_origin(self.layout(), ax, index_shape)?;
        let step = self.strides()[ax];
        let data = self.storage_slice();
        let mut out = Vec::with_capacity(index.len());
        let mut p = 0;
        walk([&base], |[s]| {
            out.push(data[(s as isize + index[p] as isize * step) as usize]);
            p += 1;
        });
        Ok(Tensor::from_vec_unchecked(out, index_shape))
    }

    /// Adjoint of [`Tensor::gather`]: zeros of `out_shape` plus `out[p with p[axis] = index[p]] += src[p]`.
    ///
    /// `src` has `index_shape`, which must equal `out_shape` except along `axis`; repeated targets
    /// accumulate. Not differentiable itself; it is the backward of `gather`.
    /// PyTorch: `torch.zeros(out_shape).scatter_add_(axis, index, src)`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let g = Tensor::from_vec(vec![1.0f64, 2.0], &[2, 1]);
    /// let x = Tensor::scatter_add(1, &[2, 0], &[2, 1], &g, &[2, 3]);
    /// assert_eq!(x.to_vec(), vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0]);
    /// assert!(Tensor::try_scatter_add(1, &[3, 0], &[2, 1], &g, &[2, 3]).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit or an index is out of range; [`Tensor::try_scatter_add`] returns the error.
    #[track_caller]
    pub fn scatter_add(
        axis: isize,
        index: &[usize],
        index_shape: &[usize],
        src: &Self,
        out_shape: &[usize],
    ) -> Self {
        or_panic(Self::try_scatter_add(
            axis,
            index,
            index_shape,
            src,
            out_shape,
        ))
    }

    /// Fallible [`Tensor::scatter_add`].
    ///
    /// # Errors
    /// As [`Tensor::try_gather`] with `out_shape` as the input's shape, and
    /// [`TensorError::ShapeMismatch`] if `src`'s shape is not `index_shape`;
    /// [`TensorError::TooLarge`] if `out_shape` is too large to exist.
    pub fn try_scatter_add(
        axis: isize,
        index: &[usize],
        index_shape: &[usize],
        src: &Self,
        out_shape: &[usize],
    ) -> Result<Self> {
        const OP: &str = "scatter_add";
        if src.shape() != index_shape {
            return Err(TensorError::shape(
                OP,
                src.shape(),
                index_shape,
                "src must have the index's shape",
            ));
        }
        let n = check_shape_of::<T>(OP, out_shape)?;
        let ax = check_index_shape::<T>(OP, axis, index, index_shape, out_shape)?;
        let mut out = crate::storage::filled_buffer(n, T::ZERO);
        if index.is_empty() {
            return Ok(Tensor::from_vec_unchecked(out, out_shape));
        }
        let out_layout = Layout::contiguous(out_shape);
        let base = axis_origin(&out_layout, ax, index_shape)?;
        let step = out_layout.strides()[ax];
        let data = src.storage_slice();
        let mut p = 0;
        walk([&base, src.layout()], |[d, s]| {
            out[(d as isize + index[p] as isize * step) as usize] += data[s];
            p += 1;
        });
        Ok(Tensor::from_vec_unchecked(out, out_shape))
    }

    /// Rows of the identity: `out[i, c] = 1` if `c = labels[i]`, else 0; shape `[labels.len(), classes]`.
    ///
    /// PyTorch: `torch.nn.functional.one_hot`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::<f32>::one_hot(&[2, 0], 3);
    /// assert_eq!(y.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// assert!(Tensor::<f32>::try_one_hot(&[3], 3).is_err());
    /// ```
    ///
    /// # Panics
    /// If a label is not below `classes`; [`Tensor::try_one_hot`] returns the error.
    #[track_caller]
    pub fn one_hot(labels: &[usize], classes: usize) -> Self {
        or_panic(Self::try_one_hot(labels, classes))
    }

    /// Fallible [`Tensor::one_hot`].
    ///
    /// # Errors
    /// [`TensorError::OutOfRange`] naming the first label `≥ classes` and its position;
    /// [`TensorError::TooLarge`] if `[labels.len(), classes]` is too large to exist.
    pub fn try_one_hot(labels: &[usize], classes: usize) -> Result<Self> {
        const OP: &str = "one_hot";
        if let Some(i) = labels.iter().position(|&label| label >= classes) {
            return Err(TensorError::range(
                OP,
                format!(
                    "label {} at position {i} is not below the class count {classes}",
                    labels[i]
                ),
            ));
        }
        let shape = [labels.len(), classes];
        let mut out = crate::storage::filled_buffer(check_shape_of::<T>(OP, &shape)?, T::ZERO);
        for (i, &label) in labels.iter().enumerate() {
            out[i * classes + label] = T::ONE;
        }
        Ok(Tensor::from_vec_unchecked(out, &shape))
    }
}

/// The first index not below `shape[ax]`, as an error naming it and the axis size.
fn check_indices(op: &'static str, indices: &[usize], ax: usize, shape: &[usize]) -> Result<()> {
    let dim = shape[ax];
    match indices.iter().find(|&&i| i >= dim) {
        Some(i) => Err(TensorError::range(
            op,
            format!("index {i} for axis {ax} of size {dim} (shape {shape:?})"),
        )),
        None => Ok(()),
    }
}

/// Validates a gather/scatter index against the dense side's `shape`; returns the axis.
fn check_index_shape<T>(
    op: &'static str,
    axis: isize,
    index: &[usize],
    index_shape: &[usize],
    shape: &[usize],
) -> Result<usize> {
    let ax = normalize_axis(op, axis, shape.len())?;
    let fits = index_shape.len() == shape.len()
        && (0..shape.len()).all(|d| d == ax || index_shape[d] == shape[d]);
    if !fits {
        return Err(TensorError::shape(
            op,
            shape,
            index_shape,
            format!("the index shape must equal the tensor's shape except along axis {ax}"),
        ));
    }
    // Checked: a wrapped count could match an empty index and pass for a huge shape.
    let expected = check_shape_of::<T>(op, index_shape)?;
    if index.len() != expected {
        return Err(TensorError::DataLength {
            op,
            expected,
            got: index.len(),
        });
    }
    let dim = shape[ax];
    if let Some(p) = index.iter().position(|&i| i >= dim) {
        return Err(TensorError::range(
            op,
            format!(
                "index {} at flat position {p} for axis {ax} of size {dim} (shape {shape:?})",
                index[p]
            ),
        ));
    }
    Ok(ax)
}

/// `layout` pinned to position 0 along `ax` and stretched (stride 0) to `index_shape`: the storage
/// index of `p` here plus `index[p]·stride[ax]` is the element a gather reads or a scatter writes.
/// Needs a nonempty `ax`, which any in-range index guarantees.
fn axis_origin(layout: &Layout, ax: usize, index_shape: &[usize]) -> Result<Layout> {
    layout
        .slice(ax as isize, 0, 1, 1)?
        .broadcast_to(index_shape)
}

/// Calls `f` with each layout's storage index of the same logical element, in row-major order;
/// all layouts share one shape. Merged axes make the inner rows as long as the layouts allow.
pub(super) fn walk<const N: usize>(layouts: [&Layout; N], mut f: impl FnMut([usize; N])) {
    let shape = layouts[0].shape();
    debug_assert!(layouts.iter().all(|l| l.shape() == shape));
    let n = numel(shape);
    if n == 0 {
        return;
    }
    let (merged, strides) = coalesce(shape, layouts.map(|l| l.strides()));
    let len = *merged.last().unwrap();
    let inner: [isize; N] = std::array::from_fn(|k| *strides[k].last().unwrap());
    let base = layouts.map(|l| l.offset());
    for_each_row(&merged, &strides, base, 0..n / len, |offsets| {
        for i in 0..len as isize {
            f(std::array::from_fn(|k| {
                (offsets[k] as isize + i * inner[k]) as usize
            }));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m34() -> Tensor<f64> {
        Tensor::from_fn(&[3, 4], |ix| (ix[0] * 10 + ix[1]) as f64)
    }

    #[test]
    fn index_select_on_views() {
        let x = m34();
        assert_eq!(
            x.index_select(1, &[3, 0, 3]).to_vec(),
            vec![3.0, 0.0, 3.0, 13.0, 10.0, 13.0, 23.0, 20.0, 23.0]
        );
        // The transposed view takes the strided path and must agree with the copy.
        let t = x.t();
        assert_eq!(
            t.index_select(0, &[2, 1]).to_vec(),
            t.contiguous().index_select(0, &[2, 1]).to_vec()
        );
        assert_eq!(x.index_select(-1, &[]).shape(), &[3, 0]);
        let err = x.try_index_select(0, &[1, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "index_select: out of range: index 3 for axis 0 of size 3 (shape [3, 4])"
        );
    }

    #[test]
    fn index_add_accumulates_repeats() {
        let g = Tensor::<f32>::ones(&[2, 3]);
        let x = Tensor::index_add(1, &[0, 0, 2], &g, 4);
        assert_eq!(x.to_vec(), vec![2.0, 0.0, 1.0, 0.0, 2.0, 0.0, 1.0, 0.0]);
        assert!(Tensor::try_index_add(1, &[0, 0], &g, 4).is_err());
        assert!(Tensor::try_index_add(1, &[0, 0, 4], &g, 4).is_err());
    }

    #[test]
    fn gather_and_scatter_round_trip_a_permutation() {
        let x = m34();
        let idx = [1, 0, 2, 2, 2, 1, 0, 0, 0, 2, 1, 1];
        let y = x.gather(0, &idx, &[3, 4]);
        assert_eq!(y.get(&[0, 0]), 10.0);
        assert_eq!(y.get(&[2, 3]), 13.0);
        // Each column's indices are a permutation, so scattering back restores x.
        assert_eq!(
            Tensor::scatter_add(0, &idx, &[3, 4], &y, &[3, 4]).to_vec(),
            x.to_vec()
        );
        let err = x.try_gather(0, &[0; 4], &[1, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gather: cannot combine [3, 4] with [1, 3]: the index shape must equal the tensor's shape except along axis 0"
        );
        assert!(matches!(
            x.try_gather(1, &[0; 5], &[3, 2]),
            Err(TensorError::DataLength { .. })
        ));
        assert!(x.try_gather(1, &[0, 0, 0, 4, 0, 0], &[3, 2]).is_err());
        assert_eq!(x.gather(1, &[], &[3, 0]).shape(), &[3, 0]);
    }

    #[test]
    fn one_hot_rows() {
        let y = Tensor::<f64>::one_hot(&[1, 1, 0], 2);
        assert_eq!(y.shape(), &[3, 2]);
        assert_eq!(y.to_vec(), vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
        assert_eq!(
            Tensor::<f64>::try_one_hot(&[0, 2], 2)
                .unwrap_err()
                .to_string(),
            "one_hot: out of range: label 2 at position 1 is not below the class count 2"
        );
    }
}
