//! Fused row kernels for softmax and log-softmax along a contiguous last axis, forward and
//! backward: each row's statistics are taken in lane-wise partial sums that stay in registers,
//! and each output element is written once.
//!
//! Partial sums run over 16 lanes (element `i` of a row goes to lane `i % 16`) and are combined
//! in a fixed order, so a row's result does not depend on the instruction set or on how rows are
//! shared between threads.

use crate::element::Float;
use crate::iter::{PARALLEL_THRESHOLD, build_vec};
use crate::simd::{self, Isa};
use rayon::prelude::*;
use std::mem::MaybeUninit;

const LANES: usize = 16;

/// `Σ f(xᵢ)` over a row in 16 lane-wise partial sums, combined pairwise.
#[inline(always)]
fn lane_sum<T: Float>(row: &[T], f: impl Fn(T) -> T) -> T {
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

/// `Σ f(xᵢ, yᵢ)` over two rows, as [`lane_sum`].
#[inline(always)]
fn lane_sum2<T: Float>(xs: &[T], ys: &[T], f: impl Fn(T, T) -> T) -> T {
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

/// The row maximum; NaN if the row holds one.
#[inline(always)]
fn lane_max<T: Float>(row: &[T]) -> T {
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

/// Writes `softmax(row)` into `out`.
#[inline(always)]
fn softmax_row<T: Float>(row: &[T], out: &mut [MaybeUninit<T>]) {
    let m = lane_max(row);
    // The exponentials go to `out` once and are scaled there, so exp runs once per element.
    for (o, &x) in out.iter_mut().zip(row) {
        o.write((x - m).exp());
    }
    // SAFETY: every element of `out` was written just above.
    let out = unsafe { &mut *(out as *mut [MaybeUninit<T>] as *mut [T]) };
    let s = lane_sum(out, |e| e);
    for o in out.iter_mut() {
        *o /= s;
    }
}

/// Writes `log_softmax(row) = (x − m) − ln Σ exp(x − m)` into `out`.
#[inline(always)]
fn log_softmax_row<T: Float>(row: &[T], out: &mut [MaybeUninit<T>]) {
    let m = lane_max(row);
    let ln_s = lane_sum(row, |x| (x - m).exp()).ln();
    for (o, &x) in out.iter_mut().zip(row) {
        o.write((x - m) - ln_s);
    }
}

/// `∂x = y ⊙ (g − Σ g·y)` for one row of `y = softmax(x)`.
#[inline(always)]
fn softmax_backward_row<T: Float>(y: &[T], g: &[T], out: &mut [MaybeUninit<T>]) {
    let dot = lane_sum2(g, y, |g, y| g * y);
    for ((o, &y), &g) in out.iter_mut().zip(y).zip(g) {
        o.write(y * (g - dot));
    }
}

/// `∂x = g − exp(y)·Σ g` for one row of `y = log_softmax(x)`.
#[inline(always)]
fn log_softmax_backward_row<T: Float>(y: &[T], g: &[T], out: &mut [MaybeUninit<T>]) {
    let total = lane_sum(g, |g| g);
    for ((o, &y), &g) in out.iter_mut().zip(y).zip(g) {
        o.write(g - y.exp() * total);
    }
}

crate::simd::dispatched! {
    /// Softmax of every `width`-long row of `x`.
    fn softmax_block<T>(x: &[T], out: &mut [MaybeUninit<T>], width: usize) where { T: Float } {
        for (row, o) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
            softmax_row(row, o);
        }
    }
}

crate::simd::dispatched! {
    /// Log-softmax of every `width`-long row of `x`.
    fn log_softmax_block<T>(x: &[T], out: &mut [MaybeUninit<T>], width: usize) where { T: Float } {
        for (row, o) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
            log_softmax_row(row, o);
        }
    }
}

crate::simd::dispatched! {
    /// Softmax's input gradient for every row.
    fn softmax_backward_block<T>(y: &[T], g: &[T], out: &mut [MaybeUninit<T>], width: usize)
    where { T: Float }
    {
        let rows = y.chunks_exact(width).zip(g.chunks_exact(width));
        for ((y, g), o) in rows.zip(out.chunks_exact_mut(width)) {
            softmax_backward_row(y, g, o);
        }
    }
}

crate::simd::dispatched! {
    /// Log-softmax's input gradient for every row.
    fn log_softmax_backward_block<T>(y: &[T], g: &[T], out: &mut [MaybeUninit<T>], width: usize)
    where { T: Float }
    {
        let rows = y.chunks_exact(width).zip(g.chunks_exact(width));
        for ((y, g), o) in rows.zip(out.chunks_exact_mut(width)) {
            log_softmax_backward_row(y, g, o);
        }
    }
}

/// Rows per parallel block: about `PARALLEL_THRESHOLD / 2` elements, at least one row.
fn rows_per_block(width: usize) -> usize {
    (PARALLEL_THRESHOLD / 2 / width.max(1)).max(1)
}

/// Runs `kernel` over blocks of whole rows of the inputs, in parallel above the threshold.
fn by_rows<T: Float>(
    inputs: [&[T]; 2],
    width: usize,
    kernel: impl Fn(Isa, [&[T]; 2], &mut [MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    let n = inputs[0].len();
    let isa = simd::active();
    build_vec(n, |out| {
        if n < PARALLEL_THRESHOLD {
            kernel(isa, inputs, out);
            return;
        }
        let block = rows_per_block(width) * width;
        out.par_chunks_mut(block).enumerate().for_each(|(b, o)| {
            let range = b * block..b * block + o.len();
            kernel(isa, inputs.map(|s| &s[range.clone()]), o);
        });
    })
}

/// Softmax of contiguous rows of length `width` (`x.len()` a multiple of it, `width > 0`).
pub(super) fn softmax<T: Float>(x: &[T], width: usize) -> Vec<T> {
    by_rows([x, x], width, |isa, [x, _], o| {
        softmax_block(isa, x, o, width)
    })
}

/// Log-softmax of contiguous rows of length `width`.
pub(super) fn log_softmax<T: Float>(x: &[T], width: usize) -> Vec<T> {
    by_rows([x, x], width, |isa, [x, _], o| {
        log_softmax_block(isa, x, o, width)
    })
}

/// Softmax's input gradient from contiguous rows of `y` and `g`.
pub(super) fn softmax_backward<T: Float>(y: &[T], g: &[T], width: usize) -> Vec<T> {
    by_rows([y, g], width, |isa, [y, g], o| {
        softmax_backward_block(isa, y, g, o, width)
    })
}

/// Log-softmax's input gradient from contiguous rows of `y` and `g`.
pub(super) fn log_softmax_backward<T: Float>(y: &[T], g: &[T], width: usize) -> Vec<T> {
    by_rows([y, g], width, |isa, [y, g], o| {
        log_softmax_backward_block(isa, y, g, o, width)
    })
}
