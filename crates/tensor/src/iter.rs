//! Strided walks: the drivers every elementwise kernel runs on.
//!
//! Kernels check shapes, then pick a path once: all operands contiguous → one plain slice loop
//! (the compiler vectorises it); otherwise adjacent axes are merged where every operand allows
//! ([`coalesce`]) and the walk visits inner rows, which are again plain slices when their stride is 1.

use crate::Result;
use crate::element::Float;
use crate::layout::{Layout, Strides};
use crate::shape::{Dims, broadcast_shapes, check_shape_of};
use crate::simd;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Elementwise work below this many elements runs on the calling thread.
///
/// Measured with `benches/elementwise.rs` ("add kernel, serial vs 2 rayon halves") on 2 cores:
/// handing half the work to a rayon worker costs about 10 µs, so splitting loses below ~65k f32
/// elements (12 µs serial vs 16 µs split) and wins at 262k (47 µs vs 36 µs); break-even is near 2¹⁷.
pub const PARALLEL_THRESHOLD: usize = 1 << 17;

/// Merges adjacent axes that are contiguous with each other in every operand and drops size-1
/// axes, so a walk has as few, and as long, inner rows as possible. Always returns rank ≥ 1.
pub(crate) fn coalesce<const N: usize>(
    shape: &[usize],
    strides: [&[isize]; N],
) -> (Dims, [Strides; N]) {
    let mut out_shape = Dims::new();
    let mut out_strides: [Strides; N] = std::array::from_fn(|_| Strides::new());
    for ax in 0..shape.len() {
        let d = shape[ax];
        if d == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && (0..N).all(|k| *out_strides[k].last().unwrap() == strides[k][ax] * d as isize);
        if mergeable {
            *out_shape.last_mut().unwrap() *= d;
            for k in 0..N {
                *out_strides[k].last_mut().unwrap() = strides[k][ax];
            }
        } else {
            out_shape.push(d);
            for k in 0..N {
                out_strides[k].push(strides[k][ax]);
            }
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for s in out_strides.iter_mut() {
            s.push(0);
        }
    }
    (out_shape, out_strides)
}

/// Calls `row(offsets)` for rows `rows` of `shape` (a row runs along the last axis), where
/// `offsets[k]` is operand k's storage index of the row's first element.
pub(crate) fn for_each_row<const N: usize>(
    shape: &[usize],
    strides: &[Strides; N],
    base: [usize; N],
    rows: std::ops::Range<usize>,
    mut row: impl FnMut([usize; N]),
) {
    let outer = &shape[..shape.len() - 1];
    let mut index: Dims = Dims::from_elem(0, outer.len());
    let mut rem = rows.start;
    for i in (0..outer.len()).rev() {
        index[i] = rem % outer[i];
        rem /= outer[i];
    }
    let mut offs: [isize; N] = std::array::from_fn(|k| {
        base[k] as isize
            + index
                .iter()
                .enumerate()
                .map(|(i, &ix)| ix as isize * strides[k][i])
                .sum::<isize>()
    });
    for _ in rows {
        row(offs.map(|o| o as usize));
        // Odometer step over the outer axes.
        for i in (0..outer.len()).rev() {
            index[i] += 1;
            for k in 0..N {
                offs[k] += strides[k][i];
            }
            if index[i] < outer[i] {
                break;
            }
            for k in 0..N {
                offs[k] -= strides[k][i] * outer[i] as isize;
            }
            index[i] = 0;
        }
    }
}

/// Builds a vector of `n` elements by letting `fill` initialise every slot of the uninitialised buffer.
pub(crate) fn build_vec<U: 'static>(n: usize, fill: impl FnOnce(&mut [MaybeUninit<U>])) -> Vec<U> {
    let mut out: Vec<U> = crate::storage::take_buffer(n);
    fill(&mut out.spare_capacity_mut()[..n]);
    // SAFETY: every caller writes all `n` slots (the walks visit each output element exactly once).
    unsafe { out.set_len(n) };
    out
}

/// Splits `n` output rows of length `row_len` into blocks for rayon, or one block when small.
fn row_blocks(rows: usize, row_len: usize) -> usize {
    let total = rows * row_len;
    if total < PARALLEL_THRESHOLD || rows < 2 {
        return rows.max(1);
    }
    // Blocks of about PARALLEL_THRESHOLD / 2 elements keep both cores busy without tiny tasks.
    (PARALLEL_THRESHOLD / 2 / row_len.max(1)).max(1)
}

/// Builds an `n`-element output of `rows` rows of length `len`, letting `run(block, first_row)` fill
/// each block of whole rows: one block on the calling thread when small, rayon blocks otherwise.
fn fill_rows<U: Send + 'static>(
    n: usize,
    rows: usize,
    len: usize,
    run: impl Fn(&mut [MaybeUninit<U>], usize) + Sync,
) -> Vec<U> {
    build_vec(n, |out| {
        if n == 0 {
            return;
        }
        let per = row_blocks(rows, len);
        if per >= rows {
            run(out, 0);
        } else {
            out.par_chunks_mut(per * len)
                .enumerate()
                .for_each(|(b, block)| run(block, b * per));
        }
    })
}

/// Applies `f` to every element, in logical (row-major) order.
pub(crate) fn map_unary<T: Float, U: Copy + Send + Sync + 'static>(
    x: &Tensor<T>,
    f: impl Fn(T) -> U + Sync,
) -> Vec<U> {
    let n = x.numel();
    let isa = simd::active();
    if let Some(src) = x.as_contiguous_slice() {
        return build_vec(n, |out| {
            if n >= PARALLEL_THRESHOLD {
                out.par_chunks_mut(PARALLEL_THRESHOLD / 2)
                    .zip(src.par_chunks(PARALLEL_THRESHOLD / 2))
                    .for_each(|(o, s)| simd::map1(isa, o, s, &f));
            } else {
                simd::map1(isa, out, src, &f);
            }
        });
    }
    let data = x.storage_slice();
    let (shape, [st]) = coalesce(x.shape(), [x.strides()]);
    let len = *shape.last().unwrap();
    let inner = *st.last().unwrap();
    let rows = n / len.max(1);
    let strides = [st];
    let run = |block: &mut [MaybeUninit<U>], first_row: usize| {
        let nrows = block.len() / len;
        let mut at = 0;
        for_each_row(
            &shape,
            &strides,
            [x.layout().offset()],
            first_row..first_row + nrows,
            |[o]| {
                let dst = &mut block[at..at + len];
                at += len;
                if inner == 1 {
                    simd::map1(isa, dst, &data[o..o + len], &f);
                } else {
                    for (i, d) in dst.iter_mut().enumerate() {
                        d.write(f(data[(o as isize + i as isize * inner) as usize]));
                    }
                }
            },
        );
    };
    fill_rows(n, rows, len, run)
}

/// Applies `f` pairwise under NumPy broadcasting and returns the result in the broadcast shape.
pub(crate) fn map_binary<T: Float>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    f: impl Fn(T, T) -> T + Sync,
) -> Result<Tensor<T>> {
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    // Two valid shapes can broadcast to one too large to exist ([2^32, 1] with [1, 2^32]).
    let n = check_shape_of::<T>(op, &shape)?;
    let isa = simd::active();
    if let (Some(sa), Some(sb)) = (a.as_contiguous_slice(), b.as_contiguous_slice())
        && a.shape() == b.shape()
    {
        let data = build_vec(n, |out| {
            if n >= PARALLEL_THRESHOLD {
                let c = PARALLEL_THRESHOLD / 2;
                out.par_chunks_mut(c)
                    .zip(sa.par_chunks(c).zip(sb.par_chunks(c)))
                    .for_each(|(o, (x, y))| simd::map2(isa, o, x, y, &f));
            } else {
                simd::map2(isa, out, sa, sb, &f);
            }
        });
        return Ok(Tensor::from_vec_unchecked(data, &shape));
    }
    let la = a.layout().broadcast_to(&shape)?;
    let lb = b.layout().broadcast_to(&shape)?;
    let (cshape, [sa, sb]) = coalesce(&shape, [la.strides(), lb.strides()]);
    let (da, db) = (a.storage_slice(), b.storage_slice());
    let len = *cshape.last().unwrap();
    let (ia, ib) = (*sa.last().unwrap(), *sb.last().unwrap());
    let rows = n / len.max(1);
    let strides = [sa, sb];
    let base = [la.offset(), lb.offset()];
    let run = |block: &mut [MaybeUninit<T>], first_row: usize| {
        let nrows = block.len() / len;
        let mut at = 0;
        for_each_row(
            &cshape,
            &strides,
            base,
            first_row..first_row + nrows,
            |[oa, ob]| {
                let dst = &mut block[at..at + len];
                at += len;
                match (ia, ib) {
                    (1, 1) => simd::map2(isa, dst, &da[oa..oa + len], &db[ob..ob + len], &f),
                    (1, 0) => simd::map2_rhs_scalar(isa, dst, &da[oa..oa + len], db[ob], &f),
                    (0, 1) => simd::map2_lhs_scalar(isa, dst, da[oa], &db[ob..ob + len], &f),
                    _ => {
                        for (i, d) in dst.iter_mut().enumerate() {
                            let x = da[(oa as isize + i as isize * ia) as usize];
                            let y = db[(ob as isize + i as isize * ib) as usize];
                            d.write(f(x, y));
                        }
                    }
                }
            },
        );
    };
    let data = fill_rows(n, rows, len, run);
    Ok(Tensor::from_vec_unchecked(data, &shape))
}

/// Applies `f` to triples under three-way NumPy broadcasting (the driver of `where_`).
pub(crate) fn map_ternary<T: Float>(
    op: &'static str,
    [a, b, c]: [&Tensor<T>; 3],
    f: impl Fn(T, T, T) -> T + Sync,
) -> Result<Tensor<T>> {
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    let shape = broadcast_shapes(op, &shape, c.shape())?;
    let n = check_shape_of::<T>(op, &shape)?;
    let isa = simd::active();
    let contiguous = [a, b, c].map(|t| t.as_contiguous_slice().filter(|_| t.shape() == &shape[..]));
    if let [Some(sa), Some(sb), Some(sc)] = contiguous {
        let run = |out: &mut [MaybeUninit<T>], x: &[T], y: &[T], z: &[T]| {
            simd::map3(isa, out, x, y, z, &f);
        };
        let data = build_vec(n, |out| {
            if n >= PARALLEL_THRESHOLD {
                let c = PARALLEL_THRESHOLD / 2;
                out.par_chunks_mut(c)
                    .zip(sa.par_chunks(c).zip(sb.par_chunks(c).zip(sc.par_chunks(c))))
                    .for_each(|(o, (x, (y, z)))| run(o, x, y, z));
            } else {
                run(out, sa, sb, sc);
            }
        });
        return Ok(Tensor::from_vec_unchecked(data, &shape));
    }
    let layouts = [
        a.layout().broadcast_to(&shape)?,
        b.layout().broadcast_to(&shape)?,
        c.layout().broadcast_to(&shape)?,
    ];
    let (cshape, strides) = coalesce(&shape, layouts.each_ref().map(|l| l.strides()));
    let data = [a.storage_slice(), b.storage_slice(), c.storage_slice()];
    let len = *cshape.last().unwrap();
    let inner = strides.each_ref().map(|s| *s.last().unwrap());
    let rows = n / len.max(1);
    let base = layouts.each_ref().map(|l| l.offset());
    let run = |block: &mut [MaybeUninit<T>], first_row: usize| {
        let mut at = 0;
        let row_range = first_row..first_row + block.len() / len;
        for_each_row(&cshape, &strides, base, row_range, |[oa, ob, oc]| {
            let dst = &mut block[at..at + len];
            at += len;
            if inner == [1, 1, 1] {
                let (x, y, z) = (
                    &data[0][oa..oa + len],
                    &data[1][ob..ob + len],
                    &data[2][oc..oc + len],
                );
                simd::map3(isa, dst, x, y, z, &f);
            } else {
                let at = |k: usize, o: usize, i: usize| {
                    data[k][(o as isize + i as isize * inner[k]) as usize]
                };
                for (i, d) in dst.iter_mut().enumerate() {
                    d.write(f(at(0, oa, i), at(1, ob, i), at(2, oc, i)));
                }
            }
        });
    };
    let data = fill_rows(n, rows, len, run);
    Ok(Tensor::from_vec_unchecked(data, &shape))
}

/// Visits every element of a layout in logical order, passing its storage index.
pub(crate) fn for_each_index(layout: &Layout, mut f: impl FnMut(usize)) {
    if layout.numel() == 0 {
        return;
    }
    let (shape, [st]) = coalesce(layout.shape(), [layout.strides()]);
    let len = *shape.last().unwrap();
    let inner = *st.last().unwrap();
    let rows = layout.numel() / len;
    for_each_row(&shape, &[st], [layout.offset()], 0..rows, |[o]| {
        for i in 0..len {
            f((o as isize + i as isize * inner) as usize);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesce_merges_contiguous_runs() {
        let (s, [st]) = coalesce(&[2, 3, 4], [&[12, 4, 1]]);
        assert_eq!(s.as_slice(), &[24]);
        assert_eq!(st.as_slice(), &[1]);
        // A row-broadcast operand keeps the two axes apart.
        let (s, [a, b]) = coalesce(&[4, 5], [&[5, 1], &[0, 1]]);
        assert_eq!(s.as_slice(), &[4, 5]);
        assert_eq!(
            (a.as_slice(), b.as_slice()),
            (&[5isize, 1][..], &[0isize, 1][..])
        );
        let (s, _) = coalesce(&[1, 1], [&[1, 1]]);
        assert_eq!(s.as_slice(), &[1]);
    }

    #[test]
    fn rows_start_anywhere() {
        let shape = [3usize, 2, 4];
        let st: Strides = [8isize, 4, 1].into_iter().collect();
        let mut seen = Vec::new();
        for_each_row(&shape, &[st], [100], 2..5, |[o]| seen.push(o));
        assert_eq!(seen, vec![108, 112, 116]);
    }
}
