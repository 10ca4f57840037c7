//! Shape arithmetic: broadcasting and axis normalisation.

use crate::error::{Result, TensorError};
use smallvec::SmallVec;

/// A shape or index list; four dimensions live inline.
pub type Dims = SmallVec<[usize; 4]>;

/// Maps an axis in `-rank..rank` to `0..rank`; `-1` is the last axis.
pub fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    if axis < -r || axis >= r {
        return Err(TensorError::InvalidAxis { op, axis, rank });
    }
    Ok(if axis < 0 {
        (axis + r) as usize
    } else {
        axis as usize
    })
}

/// Like [`normalize_axis`] but allows `axis == rank` (an insertion point, as for `unsqueeze`).
pub fn normalize_insert_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    // The error names the tensor's own rank, not the rank + 1 insertion points.
    normalize_axis(op, axis, rank + 1).map_err(|_| {
        TensorError::arg(
            op,
            format!(
                "axis {axis} is out of range for inserting an axis into a tensor of rank {rank} (valid: {}..={rank})",
                -(rank as isize) - 1
            ),
        )
    })
}

/// Normalises a list of axes, sorted and without duplicates.
pub fn normalize_axes(op: &'static str, axes: &[isize], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = normalize_axis(op, a, rank)?;
        if out.contains(&a) {
            return Err(TensorError::arg(
                op,
                format!("axis {a} is listed twice in {axes:?}"),
            ));
        }
        out.push(a);
    }
    out.sort_unstable();
    Ok(out)
}

/// The NumPy broadcast of two shapes: align on the right; each pair of sizes must match or be 1.
pub fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Dims> {
    let rank = lhs.len().max(rhs.len());
    let mut out = Dims::with_capacity(rank);
    for i in 0..rank {
        let l = if i + lhs.len() >= rank {
            lhs[i + lhs.len() - rank]
        } else {
            1
        };
        let r = if i + rhs.len() >= rank {
            rhs[i + rhs.len() - rank]
        } else {
            1
        };
        let d = match (l, r) {
            (l, r) if l == r => l,
            (1, r) => r,
            (l, 1) => l,
            (l, r) => {
                return Err(TensorError::shape(
                    op,
                    lhs,
                    rhs,
                    format!(
                        "sizes {l} and {r} at axis {i} of the broadcast shape differ and neither is 1"
                    ),
                ));
            }
        };
        out.push(d);
    }
    Ok(out)
}

/// Number of elements of a shape (1 for a scalar).
///
/// # Panics
/// If the product overflows `usize`. Every tensor's shape passed [`check_shape`], so this never
/// panics for one; use [`checked_numel`] for a shape from elsewhere.
#[track_caller]
pub fn numel(shape: &[usize]) -> usize {
    match checked_numel(shape) {
        Some(n) => n,
        None => panic!("numel: the sizes of shape {shape:?} multiply past usize::MAX"),
    }
}

/// Number of elements of a shape, or `None` if the product overflows `usize`.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Checks that a tensor of `shape` with `elem_bytes`-byte elements can exist, and returns its
/// element count.
///
/// The rule: the product of the sizes, with empty axes counted as 1, times `elem_bytes` must not
/// exceed `isize::MAX` (the most one allocation can hold). Counting empty axes as 1 keeps every
/// stride and every partial product of a valid shape in range, so code that walks a shape, or
/// reduces away its empty axis (a sum over axis 0 of `[0, n]` is `[n]`), never overflows.
///
/// # Errors
/// [`TensorError::TooLarge`] naming `op` and the shape.
pub fn check_shape(op: &'static str, shape: &[usize], elem_bytes: usize) -> Result<usize> {
    let extent = shape
        .iter()
        .try_fold(elem_bytes.max(1), |acc, &d| acc.checked_mul(d.max(1)));
    match extent {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(numel(shape)),
        _ => Err(TensorError::TooLarge {
            op,
            shape: shape.to_vec(),
            elem_bytes,
        }),
    }
}

/// [`check_shape`] for elements of type `T`.
pub(crate) fn check_shape_of<T>(op: &'static str, shape: &[usize]) -> Result<usize> {
    check_shape(op, shape, std::mem::size_of::<T>())
}

/// Row-major (C order) strides for a shape.
///
/// Exact for every shape that passes [`check_shape`]; for larger ones the strides saturate at
/// `isize::MAX` rather than wrap, so a layout of an impossible shape never aliases a real one.
pub fn contiguous_strides(shape: &[usize]) -> SmallVec<[isize; 4]> {
    let mut strides = SmallVec::from_elem(0isize, shape.len());
    let mut acc = 1isize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        let d = isize::try_from(shape[i].max(1)).unwrap_or(isize::MAX);
        acc = acc.saturating_mul(d);
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(
            broadcast_shapes("t", &[4, 1, 3], &[5, 1])
                .unwrap()
                .as_slice(),
            &[4, 5, 3]
        );
        assert_eq!(
            broadcast_shapes("t", &[], &[2, 3]).unwrap().as_slice(),
            &[2, 3]
        );
        let err = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: cannot combine [2, 3] with [4]: sizes 3 and 4 at axis 1 of the broadcast shape differ and neither is 1"
        );
    }

    #[test]
    fn axes_normalise_and_reject() {
        assert_eq!(normalize_axis("t", -1, 3).unwrap(), 2);
        assert_eq!(normalize_axis("t", 0, 3).unwrap(), 0);
        assert!(normalize_axis("t", 3, 3).is_err());
        assert!(normalize_axis("t", -4, 3).is_err());
        assert_eq!(normalize_insert_axis("t", -1, 2).unwrap(), 2);
        assert!(normalize_axes("t", &[0, -3], 3).is_err());
    }
}
