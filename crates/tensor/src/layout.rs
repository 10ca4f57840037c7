//! Shape, strides and offset: where each logical element of a tensor lives in its storage.
//!
//! Every view (transpose, permute, narrow, step slice, broadcast, (un)squeeze, reshape when the
//! strides allow) is a metadata edit here; no kernel is involved, so each is tested alone.

use crate::error::{Result, TensorError};
use crate::shape::{
    Dims, checked_numel, contiguous_strides, normalize_axis, normalize_insert_axis, numel,
};
use smallvec::SmallVec;

/// Strides in elements; negative strides are not produced, zero strides mean broadcast.
pub type Strides = SmallVec<[isize; 4]>;

/// The strided layout of a tensor over its storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    shape: Dims,
    strides: Strides,
    offset: usize,
}

impl Layout {
    /// A row-major layout starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            shape: shape.into(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// A layout from raw parts; the caller guarantees it stays inside the storage.
    pub fn from_parts(shape: &[usize], strides: &[isize], offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        Layout {
            shape: shape.into(),
            strides: strides.into(),
            offset,
        }
    }

    /// Sizes of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Step in storage elements along each axis.
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    /// Storage index of the first element.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    ///
    /// # Panics
    /// If the sizes multiply past `usize::MAX`, which no tensor's layout does.
    #[track_caller]
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// One past the largest storage index the layout reaches (0 when it has no element), or
    /// `None` if a reachable index is negative or does not fit in `usize`.
    ///
    /// Computed with checked arithmetic: the code that reads storage through raw pointers
    /// (matmul) checks that this is at most the storage length before it reads.
    pub fn storage_span(&self) -> Option<usize> {
        if checked_numel(&self.shape)? == 0 {
            return Some(0);
        }
        let first = isize::try_from(self.offset).ok()?;
        let (mut low, mut high) = (first, first);
        for (&d, &s) in self.shape.iter().zip(self.strides.iter()) {
            let reach = isize::try_from(d - 1).ok()?.checked_mul(s)?;
            if reach < 0 {
                low = low.checked_add(reach)?;
            } else {
                high = high.checked_add(reach)?;
            }
        }
        if low < 0 {
            return None;
        }
        usize::try_from(high).ok()?.checked_add(1)
    }

    /// Whether the elements are in row-major order with no gaps (size-1 axes may have any stride).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1isize;
        for i in (0..self.rank()).rev() {
            if self.shape[i] == 1 {
                continue;
            }
            if self.strides[i] != expected {
                return false;
            }
            // Saturating: a real layout never gets there, and a wrapped product could match.
            expected =
                expected.saturating_mul(isize::try_from(self.shape[i]).unwrap_or(isize::MAX));
        }
        true
    }

    /// Storage index of a multi-index (not bounds-checked beyond debug assertions).
    pub fn index_of(&self, index: &[usize]) -> usize {
        debug_assert_eq!(index.len(), self.rank());
        let mut at = self.offset as isize;
        for (i, &ix) in index.iter().enumerate() {
            at += ix as isize * self.strides[i];
        }
        at as usize
    }

    /// Storage index of a multi-index, checked against the shape.
    pub fn checked_index_of(&self, op: &'static str, index: &[usize]) -> Result<usize> {
        if index.len() != self.rank() || index.iter().zip(self.shape.iter()).any(|(i, d)| i >= d) {
            return Err(TensorError::range(
                op,
                format!("index {index:?} for a tensor of shape {:?}", self.shape()),
            ));
        }
        Ok(self.index_of(index))
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Self> {
        let a = normalize_axis("transpose", a, self.rank())?;
        let b = normalize_axis("transpose", b, self.rank())?;
        let mut out = self.clone();
        out.shape.swap(a, b);
        out.strides.swap(a, b);
        Ok(out)
    }

    /// Reorders the axes: axis `i` of the result is axis `perm[i]` of `self`.
    pub fn permute(&self, perm: &[isize]) -> Result<Self> {
        let rank = self.rank();
        if perm.len() != rank {
            return Err(TensorError::arg(
                "permute",
                format!(
                    "{perm:?} has {} axes but the tensor has rank {rank}",
                    perm.len()
                ),
            ));
        }
        let mut seen = vec![false; rank];
        let mut out = self.clone();
        for (i, &p) in perm.iter().enumerate() {
            let p = normalize_axis("permute", p, rank)?;
            if std::mem::replace(&mut seen[p], true) {
                return Err(TensorError::arg(
                    "permute",
                    format!("axis {p} appears twice in {perm:?}"),
                ));
            }
            out.shape[i] = self.shape[p];
            out.strides[i] = self.strides[p];
        }
        Ok(out)
    }

    /// Elements `start, start+step, …` below `end` along `axis`.
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        self.slice_as("slice", axis, start, end, step)
    }

    /// [`Layout::slice`], with errors naming `op`.
    pub(crate) fn slice_as(
        &self,
        op: &'static str,
        axis: isize,
        start: usize,
        end: usize,
        step: usize,
    ) -> Result<Self> {
        let ax = normalize_axis(op, axis, self.rank())?;
        let dim = self.shape[ax];
        if step == 0 {
            return Err(TensorError::arg(op, "step must be at least 1"));
        }
        if start > end || end > dim {
            return Err(TensorError::range(
                op,
                format!(
                    "range {start}..{end} along axis {ax} of size {dim} (shape {:?})",
                    self.shape()
                ),
            ));
        }
        let mut out = self.clone();
        let len = (end - start).div_ceil(step);
        if len > 0 {
            out.offset = (self.offset as isize + start as isize * self.strides[ax]) as usize;
        }
        out.shape[ax] = len;
        out.strides[ax] = self.strides[ax] * step as isize;
        Ok(out)
    }

    /// Stretches size-1 axes (and new leading axes) to `shape` with stride 0.
    ///
    /// Metadata only: whether `shape` is small enough to exist is the tensor op's check
    /// ([`crate::shape::check_shape`]), since it depends on the element type.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        let rank = shape.len();
        if rank < self.rank() {
            return Err(TensorError::shape(
                "broadcast_to",
                self.shape(),
                shape,
                "the target has fewer axes than the tensor",
            ));
        }
        let lead = rank - self.rank();
        let mut strides = Strides::from_elem(0, rank);
        for i in 0..self.rank() {
            let (from, to) = (self.shape[i], shape[lead + i]);
            if from == to {
                strides[lead + i] = self.strides[i];
            } else if from != 1 {
                return Err(TensorError::shape(
                    "broadcast_to",
                    self.shape(),
                    shape,
                    format!("axis {i} has size {from}, which is neither 1 nor {to}"),
                ));
            }
        }
        Ok(Layout {
            shape: shape.into(),
            strides,
            offset: self.offset,
        })
    }

    /// Inserts a size-1 axis at `axis` (`-1` appends).
    pub fn unsqueeze(&self, axis: isize) -> Result<Self> {
        let ax = normalize_insert_axis("unsqueeze", axis, self.rank())?;
        let mut out = self.clone();
        let stride = if ax < self.rank() {
            self.strides[ax] * self.shape[ax] as isize
        } else {
            1
        };
        out.shape.insert(ax, 1);
        out.strides.insert(ax, stride);
        Ok(out)
    }

    /// Removes the size-1 axis `axis`; an axis of another size is an error.
    pub fn squeeze(&self, axis: isize) -> Result<Self> {
        let ax = normalize_axis("squeeze", axis, self.rank())?;
        if self.shape[ax] != 1 {
            return Err(TensorError::arg(
                "squeeze",
                format!(
                    "axis {ax} has size {} (shape {:?}), not 1",
                    self.shape[ax],
                    self.shape()
                ),
            ));
        }
        let mut out = self.clone();
        out.shape.remove(ax);
        out.strides.remove(ax);
        Ok(out)
    }

    /// Removes every size-1 axis.
    pub fn squeeze_all(&self) -> Self {
        let mut out = Layout {
            shape: Dims::new(),
            strides: Strides::new(),
            offset: self.offset,
        };
        for (&d, &s) in self.shape.iter().zip(self.strides.iter()) {
            if d != 1 {
                out.shape.push(d);
                out.strides.push(s);
            }
        }
        out
    }

    /// The same elements under `shape` without moving data, if the strides allow it.
    ///
    /// Groups of old axes that are mutually contiguous can be split or merged freely; anything
    /// else (say, flattening a transposed matrix) needs a copy and returns `None`.
    pub fn reshape_view(&self, shape: &[usize]) -> Option<Self> {
        match (checked_numel(shape), checked_numel(&self.shape)) {
            (Some(new), Some(old)) if new == old => {}
            _ => return None,
        }
        if self.numel() == 0 || self.is_contiguous() {
            return Some(Layout {
                shape: shape.into(),
                strides: contiguous_strides(shape),
                offset: self.offset,
            });
        }
        let old: Vec<(usize, isize)> = self
            .shape
            .iter()
            .zip(self.strides.iter())
            .filter(|&(&d, _)| d != 1)
            .map(|(&d, &s)| (d, s))
            .collect();
        let mut strides = Strides::from_elem(1, shape.len());
        let (mut oi, mut ni) = (0usize, 0usize);
        while oi < old.len() && ni < shape.len() {
            // Grow a group of new axes and a group of old axes until their sizes agree.
            let (mut oj, mut nj) = (oi + 1, ni + 1);
            let (mut op, mut np) = (old[oi].0, shape[ni]);
            while op != np {
                if np < op {
                    np *= shape[nj];
                    nj += 1;
                } else {
                    op *= old[oj].0;
                    oj += 1;
                }
            }
            for k in oi..oj - 1 {
                if old[k].1 != old[k + 1].1 * old[k + 1].0 as isize {
                    return None;
                }
            }
            strides[nj - 1] = old[oj - 1].1;
            for k in (ni + 1..nj).rev() {
                strides[k - 1] = strides[k] * shape[k] as isize;
            }
            oi = oj;
            ni = nj;
        }
        Some(Layout {
            shape: shape.into(),
            strides,
            offset: self.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(l: &Layout) -> Vec<usize> {
        let mut out = Vec::new();
        let shape = l.shape().to_vec();
        let n = l.numel();
        for lin in 0..n {
            let mut idx = vec![0; shape.len()];
            let mut r = lin;
            for i in (0..shape.len()).rev() {
                idx[i] = r % shape[i];
                r /= shape[i];
            }
            out.push(l.index_of(&idx));
        }
        out
    }

    #[test]
    fn transpose_swaps_strides() {
        let l = Layout::contiguous(&[2, 3]);
        let t = l.transpose(0, 1).unwrap();
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(offsets(&t), vec![0, 3, 1, 4, 2, 5]);
        assert!(!t.is_contiguous());
    }

    #[test]
    fn step_slice_and_narrow() {
        let l = Layout::contiguous(&[10]);
        let s = l.slice(0, 1, 8, 3).unwrap();
        assert_eq!(offsets(&s), vec![1, 4, 7]);
        let e = l.slice(0, 5, 5, 1).unwrap();
        assert_eq!(e.numel(), 0);
        assert!(l.slice(0, 3, 11, 1).is_err());
        assert!(l.slice(0, 0, 5, 0).is_err());
    }

    #[test]
    fn broadcast_uses_zero_strides() {
        let l = Layout::contiguous(&[3, 1]);
        let b = l.broadcast_to(&[2, 3, 4]).unwrap();
        assert_eq!(b.strides(), &[0, 1, 0]);
        assert!(l.broadcast_to(&[2, 3, 5]).is_ok());
        assert!(Layout::contiguous(&[3, 2]).broadcast_to(&[3, 4]).is_err());
    }

    #[test]
    fn reshape_views_when_possible() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let r = l.reshape_view(&[6, 4]).unwrap();
        assert_eq!(offsets(&r), (0..24).collect::<Vec<_>>());
        // A transposed matrix cannot be flattened without a copy.
        let t = Layout::contiguous(&[3, 4]).transpose(0, 1).unwrap();
        assert!(t.reshape_view(&[12]).is_none());
        // But splitting one of its axes is fine.
        let split = t.reshape_view(&[2, 2, 3]).unwrap();
        assert_eq!(offsets(&split), offsets(&t));
        // Slicing the outer axis keeps the inner block mergeable.
        let s = Layout::contiguous(&[4, 2, 3]).slice(0, 0, 4, 2).unwrap();
        let m = s.reshape_view(&[2, 6]).unwrap();
        assert_eq!(offsets(&m), offsets(&s));
        let u = Layout::contiguous(&[2, 3])
            .transpose(0, 1)
            .unwrap()
            .reshape_view(&[3, 1, 2, 1])
            .unwrap();
        assert_eq!(offsets(&u), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn squeeze_unsqueeze_round_trip() {
        let l = Layout::contiguous(&[2, 3]);
        let u = l.unsqueeze(1).unwrap();
        assert_eq!(u.shape(), &[2, 1, 3]);
        assert_eq!(u.squeeze(1).unwrap(), l);
        assert!(l.squeeze(0).is_err());
        assert_eq!(l.unsqueeze(-1).unwrap().shape(), &[2, 3, 1]);
    }

    #[test]
    fn storage_span_is_checked() {
        assert_eq!(Layout::contiguous(&[2, 3]).storage_span(), Some(6));
        let t = Layout::contiguous(&[4, 5]).slice(1, 1, 5, 2).unwrap();
        assert_eq!(t.storage_span(), Some(1 + 3 * 5 + 2 + 1));
        assert_eq!(Layout::contiguous(&[0, 7]).storage_span(), Some(0));
        // Stride 0 over a huge axis reaches one element.
        let b = Layout::contiguous(&[1]).broadcast_to(&[1 << 62]).unwrap();
        assert_eq!(b.storage_span(), Some(1));
        // Offsets that overflow, or step below 0, have no span.
        assert_eq!(
            Layout::from_parts(&[3], &[isize::MAX], 0).storage_span(),
            None
        );
        assert_eq!(Layout::from_parts(&[3], &[-1], 1).storage_span(), None);
        assert_eq!(Layout::from_parts(&[3], &[-1], 2).storage_span(), Some(3));
        // Sizes that multiply past usize::MAX neither panic nor wrap.
        let huge = Layout::contiguous(&[1 << 63, 4]);
        assert_eq!(huge.storage_span(), None);
        assert_eq!(huge.reshape_view(&[4]), None);
        assert!(huge.is_contiguous());
        let wide = Layout::contiguous(&[4, 1 << 63]);
        assert_eq!(wide.strides(), &[isize::MAX, 1]);
        assert!(wide.is_contiguous());
    }

    #[test]
    fn permute_checks_axes() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let p = l.permute(&[2, 0, 1]).unwrap();
        assert_eq!(p.shape(), &[4, 2, 3]);
        assert!(l.permute(&[0, 0, 1]).is_err());
        assert!(l.permute(&[0, 1]).is_err());
    }
}
