//! Fused row kernels for softmax and log-softmax along a contiguous last axis, forward and
//! backward: each row's statistics are taken in lane-wise partial sums that stay in registers,
//! and each output element is written once.
//!
//! The partial sums are those of `ops/lanes.rs`, so a row's result does not depend on the
//! instruction set or on how rows are shared between threads.

use crate::element::Float;
use crate::iter::{PARALLEL_THRESHOLD, build_vec};
use crate::ops::lanes::rows_per_block;
use crate::ops::lanes::{lane_map_sum, lane_max, lane_sum, lane_sum2};
use crate::simd::{self, Isa};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Writes `softmax(row)` into `out`.
#[inline(always)]
fn softmax_row<T: Float>(row: &[T], out: &mut [MaybeUninit<T>]) {
    let m = lane_max(row);
    // The exponentials go to `out` as they are summed, then are scaled there: one exp per element.
    let s = lane_map_sum(row, out, |x| (x - m).exp());
    // SAFETY: lane_map_sum wrote every element of `out`.
    let out = unsafe { &mut *(out as *mut [MaybeUninit<T>] as *mut [T]) };
    // One division per row, as PyTorch does; each element is within an ulp of e/s.
    let inv = T::ONE / s;
    for o in out.iter_mut() {
        *o *= inv;
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
