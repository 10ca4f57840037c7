//! Indexing: select and gather by `usize` indices, their adjoints (`index_add`, `scatter_add`,
//! which autograd uses as backwards), `one_hot`, and joining (`concat`, `stack`) and splitting
//! (`split`, `chunk`) along an axis. Splits are views; everything else writes a new row-major buffer.

use crate::element::Float;
use crate::error::{or_panic, Result, TensorError};
use crate::iter::{coalesce, for_each_row};
use crate::layout::Layout;
use crate::shape::{normalize_axis, normalize_insert_axis, numel, Dims};
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// Whole slices along `axis` picked by `indices`: `out[.., j, ..] = self[.., indices[j], ..]`.
    ///
    /// Repeats and any order are allowed; the result has `indices.len()` along `axis`.
    /// Gradient: [`Tensor::index_add`] of `g` with the same indices. PyTorch: `torch.index_select`.
    ///
    /// ```
    /// # use tapegrad_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    /// assert_eq!(x.index_select(0, &[2, 0]).to_vec(), vec![5.0, 6.0, 1.0, 2.0]);
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
    /// index not below the axis size.
    pub fn try_index_select(&self, axis: isize, indices: &[usize]) -> Result<Self> {
        const OP: &str = "index_select";
        let ax = normalize_axis(OP, axis, self.rank())?;
        check_indices(OP, indices, ax, self.shape())?;
        let mut shape: Dims = self.shape().into();
        shape[ax] = indices.len();
        let mut out = vec![T::ZERO; numel(&shape)];
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
    /// # use tapegrad_tensor::Tensor;
    /// let g = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]);
    /// assert_eq!(Tensor::index_add(0, &[1, 0, 1], &g, 3).to_vec(), vec![2.0, 4.0, 0.0]);
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
    /// from `src`'s size along `axis`, [`TensorError::OutOfRange`] for an index `≥ dim_size`.
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
        let mut out = vec![T::ZERO; numel(&shape)];
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
    /// # use tapegrad_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// // One column per row: picks x[0][2] and x[1][0].
    /// assert_eq!(x.gather(1, &[2, 0], &[2, 1]).to_vec(), vec![3.0, 4.0]);
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
    /// `index_shape`; [`TensorError::OutOfRange`] for an index not below the axis size.
    pub fn try_gather(&self, axis: isize, index: &[usize], index_shape: &[usize]) -> Result<Self> {
        const OP: &str = "gather";
        let ax = check_index_shape(OP, axis, index, index_shape, self.shape())?;
        if index.is_empty() {
            return Ok(Tensor::zeros(index_shape));
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
    /// # use tapegrad_tensor::Tensor;
    /// let g = Tensor::from_vec(vec![1.0f64, 2.0], &[2, 1]);
    /// let x = Tensor::scatter_add(1, &[2, 0], &[2, 1], &g, &[2, 3]);
    /// assert_eq!(x.to_vec(), vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0]);
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
    /// [`TensorError::ShapeMismatch`] if `src`'s shape is not `index_shape`.
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
        let ax = check_index_shape(OP, axis, index, index_shape, out_shape)?;
        let mut out = vec![T::ZERO; numel(out_shape)];
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
    /// # use tapegrad_tensor::Tensor;
    /// let y = Tensor::<f32>::one_hot(&[2, 0], 3);
    /// assert_eq!(y.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
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
    /// [`TensorError::OutOfRange`] naming the first label `≥ classes` and its position.
    pub fn try_one_hot(labels: &[usize], classes: usize) -> Result<Self> {
        let mut out = vec![T::ZERO; labels.len() * classes];
        for (i, &label) in labels.iter().enumerate() {
            if label >= classes {
                return Err(TensorError::range(
                    "one_hot",
                    format!("label {label} at position {i} is not below the class count {classes}"),
                ));
            }
            out[i * classes + label] = T::ONE;
        }
        Ok(Tensor::from_vec_unchecked(out, &[labels.len(), classes]))
    }

    /// Joins tensors end to end along an existing `axis`; all other sizes must agree.
    ///
    /// Gradient: the matching [`Tensor::split`] of `g`. PyTorch: `torch.cat`.
    ///
    /// ```
    /// # use tapegrad_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0], &[1, 2]);
    /// let b = Tensor::from_vec(vec![3.0f64, 4.0], &[1, 2]);
    /// assert_eq!(Tensor::concat(&[&a, &b], -1).shape(), &[1, 4]);
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
    /// [`TensorError::InvalidArgument`] for an empty list, [`TensorError::InvalidAxis`], and
    /// [`TensorError::ShapeMismatch`] naming the first tensor's shape and the one that differs.
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
        Ok(concat_unchecked(tensors, ax))
    }

    /// Joins equal-shaped tensors along a new `axis` (`-1` appends it). PyTorch: `torch.stack`.
    ///
    /// Gradient: the matching [`Tensor::chunk`] of `g`, each squeezed along `axis`.
    ///
    /// ```
    /// # use tapegrad_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let s = Tensor::stack(&[&a, &a, &a], 1);
    /// assert_eq!(s.shape(), &[2, 3]);
    /// assert_eq!(s.to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
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
    /// [`TensorError::InvalidArgument`] for an empty list, [`TensorError::InvalidAxis`] outside
    /// `-(rank+1)..=rank`, and [`TensorError::ShapeMismatch`] naming the first differing shapes.
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
        Ok(concat_unchecked(&refs, ax))
    }

    /// Views of consecutive pieces along `axis`, of the given sizes (which must sum to the axis size).
    ///
    /// No data is copied. PyTorch: `torch.split` with a list of sizes.
    ///
    /// ```
    /// # use tapegrad_tensor::Tensor;
    /// let x = Tensor::<f32>::arange(0.0, 5.0, 1.0);
    /// let parts = x.split(0, &[2, 3]);
    /// assert_eq!(parts[1].to_vec(), vec![2.0, 3.0, 4.0]);
    /// assert!(parts[1].shares_storage(&x));
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
    /// # use tapegrad_tensor::Tensor;
    /// let x = Tensor::<f64>::zeros(&[5, 2]);
    /// let sizes: Vec<usize> = x.chunk(3, 0).iter().map(|c| c.dim(0)).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// assert_eq!(Tensor::<f64>::zeros(&[6]).chunk(4, 0).len(), 3); // pieces of 2
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
    /// [`TensorError::InvalidArgument`] if `chunks` is 0; [`TensorError::InvalidAxis`].
    pub fn try_chunk(&self, chunks: usize, axis: isize) -> Result<Vec<Self>> {
        const OP: &str = "chunk";
        if chunks == 0 {
            return Err(TensorError::arg(OP, "chunks must be at least 1"));
        }
        let ax = normalize_axis(OP, axis, self.rank())?;
        let dim = self.shape()[ax];
        let sizes = if dim == 0 {
            vec![0; chunks]
        } else {
            let piece = dim.div_ceil(chunks);
            (0..dim)
                .step_by(piece)
                .map(|start| piece.min(dim - start))
                .collect()
        };
        self.try_split(axis, &sizes).map_err(|err| retag(err, OP))
    }
}

fn retag(err: TensorError, op: &'static str) -> TensorError {
    match err {
        TensorError::InvalidArgument { what, .. } => TensorError::InvalidArgument { op, what },
        TensorError::InvalidAxis { axis, rank, .. } => TensorError::InvalidAxis { op, axis, rank },
        other => other,
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
fn check_index_shape(
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
    if index.len() != numel(index_shape) {
        return Err(TensorError::DataLength {
            op,
            expected: numel(index_shape),
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

/// Writes `tensors` (same rank, equal off `ax`) end to end along `ax` into a new buffer.
fn concat_unchecked<T: Float>(tensors: &[&Tensor<T>], ax: usize) -> Tensor<T> {
    let mut shape: Dims = tensors[0].shape().into();
    shape[ax] = tensors.iter().map(|t| t.shape()[ax]).sum();
    let mut out = vec![T::ZERO; numel(&shape)];
    if out.is_empty() {
        return Tensor::from_vec_unchecked(out, &shape);
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
    Tensor::from_vec_unchecked(out, &shape)
}

/// Calls `f` with each layout's storage index of the same logical element, in row-major order;
/// all layouts share one shape. Merged axes make the inner rows as long as the layouts allow.
fn walk<const N: usize>(layouts: [&Layout; N], mut f: impl FnMut([usize; N])) {
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
