//! Row statistics in 16 lane-wise partial sums: element `i` of a row goes to lane `i % 16`, and
//! the lanes are combined in a fixed tree. The compiler keeps the lanes in vector registers, and
//! the order of every addition is fixed by the row alone, so a result depends neither on the
//! instruction set nor on how rows are shared between threads.

use crate::element::Float;
use crate::iter::PARALLEL_THRESHOLD;

const LANES: usize = 16;

/// `Σ f(xᵢ)` over a row in 16 lane-wise partial sums, combined pairwise.
#[inline(always)]
pub(crate) fn lane_sum<T: Float>(row: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] += f(c[i]);
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a += f(x);
    }
    combine(acc, |a, b| a + b)
}

/// Writes `f(xᵢ)` to `out` and returns their sum, added as [`lane_sum`] adds: one pass.
#[inline(always)]
pub(crate) fn lane_map_sum<T: Float>(
    row: &[T],
    out: &mut [std::mem::MaybeUninit<T>],
    f: impl Fn(T) -> T,
) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut chunks = row.chunks_exact(LANES);
    let mut outs = out.chunks_exact_mut(LANES);
    for (c, o) in (&mut chunks).zip(&mut outs) {
        for i in 0..LANES {
            let v = f(c[i]);
            o[i].write(v);
            acc[i] += v;
        }
    }
    let tail = chunks.remainder().iter().zip(outs.into_remainder());
    for (a, (&x, o)) in acc.iter_mut().zip(tail) {
        let v = f(x);
        o.write(v);
        *a += v;
    }
    combine(acc, |a, b| a + b)
}

/// `Σ f(xᵢ, yᵢ)` over two rows, as [`lane_sum`].
#[inline(always)]
pub(crate) fn lane_sum2<T: Float>(xs: &[T], ys: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut cx = xs.chunks_exact(LANES);
    let mut cy = ys.chunks_exact(LANES);
    for (a, b) in (&mut cx).zip(&mut cy) {
        for i in 0..LANES {
            acc[i] += f(a[i], b[i]);
        }
    }
    for ((s, &x), &y) in acc.iter_mut().zip(cx.remainder()).zip(cy.remainder()) {
        *s += f(x, y);
    }
    combine(acc, |a, b| a + b)
}

/// `Σ f(xᵢ, yᵢ, zᵢ)` over three rows, as [`lane_sum`].
#[inline(always)]
pub(crate) fn lane_sum3<T: Float>(xs: &[T], ys: &[T], zs: &[T], f: impl Fn(T, T, T) -> T) -> T {
    let mut acc = [T::ZERO; LANES];
    let (mut cx, mut cy, mut cz) = (
        xs.chunks_exact(LANES),
        ys.chunks_exact(LANES),
        zs.chunks_exact(LANES),
    );
    for ((a, b), c) in (&mut cx).zip(&mut cy).zip(&mut cz) {
        for i in 0..LANES {
            acc[i] += f(a[i], b[i], c[i]);
        }
    }
    let tail = cx
        .remainder()
        .iter()
        .zip(cy.remainder())
        .zip(cz.remainder());
    for (s, ((&x, &y), &z)) in acc.iter_mut().zip(tail) {
        *s += f(x, y, z);
    }
    combine(acc, |a, b| a + b)
}

/// The row maximum; NaN if the row holds one.
#[inline(always)]
pub(crate) fn lane_max<T: Float>(row: &[T]) -> T {
    let mut acc = [T::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    let max = |a: T, b: T| {
        // NaN wins: x − NaN then poisons the whole row, as a NaN logit should.
        if a > b || a.is_nan() { a } else { b }
    };
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] = max(c[i], acc[i]);
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a = max(x, *a);
    }
    combine(acc, max)
}

/// Folds the lanes pairwise (8 + 8, 4 + 4, …): a fixed tree.
#[inline(always)]
fn combine<T: Copy>(mut acc: [T; LANES], f: impl Fn(T, T) -> T) -> T {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] = f(acc[i], acc[i + width]);
        }
    }
    acc[0]
}

/// Rows per parallel block: about `PARALLEL_THRESHOLD / 2` elements, at least one row. It
/// depends on the row length alone, so per-block partial sums combine the same way on any pool.
pub(crate) fn rows_per_block(width: usize) -> usize {
    (PARALLEL_THRESHOLD / 2 / width.max(1)).max(1)
}
