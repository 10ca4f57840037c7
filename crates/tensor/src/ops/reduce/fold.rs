//! The reduction driver: folds the reduced axes of a strided tensor into one value per kept index.
//!
//! Two walks cover every layout. When the reduced elements of one output lie closest together in
//! storage (a sum over the last axis), each output folds its own runs: the *inner* walk. When the
//! kept axis is the tighter one (a sum over axis 0, or over the last axis of a transpose), whole
//! input rows are folded into a row of accumulators: the *outer* walk, whose inner loop runs along
//! the contiguous axis and vectorises.
//!
//! Determinism: each output's value is a fixed sequence of operations that depends only on the
//! layout. Both walks cut the reduced index space into fixed blocks ([`BLOCK`] elements for the
//! inner walk, [`ROWS`] for the outer), fold each block from the identity and join the partials
//! left to right; rayon may compute the blocks (or the outputs) on any thread, the bits do not
//! change.

use crate::element::Float;
use crate::iter::{PARALLEL_THRESHOLD, coalesce};
use crate::layout::{Layout, Strides};
use crate::shape::Dims;
use rayon::prelude::*;

/// Reduced elements per block of the inner walk; fixed so results never depend on the thread count.
const BLOCK: usize = 1 << 14;

/// Reduced indices per block of the outer walk; fixed for the same reason as [`BLOCK`].
const ROWS: usize = 1024;

/// Outputs per rayon task of the outer walk. Tasks that take a narrow slice of every wide input
/// row touch a new page per row and run several times slower, so tasks are wide.
const COLUMNS: usize = 4096;

/// One kind of reduction: how elements enter an accumulator, and how two partials join.
pub(crate) trait Fold<T: Float>: Sync {
    /// Per-output state (a running sum, a best value and its index, ...).
    type Acc: Copy + Send + Sync;

    /// The accumulator of an empty set.
    fn identity(&self) -> Self::Acc;

    /// Folds `len` elements `data[at + i·step]` into `acc`; the first has reduced index `r`,
    /// and all belong to output `out`.
    fn run(
        &self,
        acc: Self::Acc,
        data: &[T],
        at: usize,
        len: usize,
        step: isize,
        r: usize,
        out: usize,
    ) -> Self::Acc;

    /// Joins the partial of one block with that of the block after it.
    fn combine(&self, earlier: Self::Acc, later: Self::Acc) -> Self::Acc;

    /// Folds `data[at + j·step]` into `accs[j]` for every `j`, all with reduced index `r`;
    /// `accs[0]` belongs to output `out`.
    fn row(&self, accs: &mut [Self::Acc], data: &[T], at: usize, step: isize, r: usize, out: usize);
}

/// The axes of a layout split into kept and reduced, each coalesced (rank ≥ 1 each).
pub(crate) struct Plan {
    kept: Dims,
    kept_strides: Strides,
    reduced: Dims,
    reduced_strides: Strides,
    offset: usize,
    /// Number of outputs: the product of the kept sizes.
    pub(crate) n_out: usize,
    /// Elements folded into each output: the product of the reduced sizes.
    pub(crate) n_reduced: usize,
}

impl Plan {
    /// Splits `layout` by `reduce[axis]`; outputs come in row-major order of the kept axes.
    ///
    /// The reduced axes are visited in storage order (largest stride outermost, broadcast axes
    /// outside all), so a sum over a transposed tensor still reads runs of adjacent elements.
    /// The order depends only on the layout, and the reduced index `r` is only read by the
    /// one-axis arg-extremes, where there is nothing to reorder.
    pub(crate) fn new(layout: &Layout, reduce: &[bool]) -> Self {
        let pick = |want: bool| {
            let (mut shape, mut strides): (Vec<usize>, Vec<isize>) = layout
                .shape()
                .iter()
                .zip(layout.strides())
                .zip(reduce)
                .filter(|&(_, &r)| r == want)
                .map(|((&d, &s), _)| (d, s))
                .unzip();
            if want {
                let mut axes: Vec<(usize, isize)> = shape.into_iter().zip(strides).collect();
                axes.sort_by_key(|&(_, s)| {
                    std::cmp::Reverse(if s == 0 { usize::MAX } else { s.unsigned_abs() })
                });
                (shape, strides) = axes.into_iter().unzip();
            }
            let n = shape.iter().product::<usize>();
            let (shape, [strides]) = coalesce(&shape, [&strides]);
            (shape, strides, n)
        };
        let (kept, kept_strides, n_out) = pick(false);
        let (reduced, reduced_strides, n_reduced) = pick(true);
        Plan {
            kept,
            kept_strides,
            reduced,
            reduced_strides,
            offset: layout.offset(),
            n_out,
            n_reduced,
        }
    }

    /// Folds every output; the result is in row-major order of the kept axes.
    pub(crate) fn fold<T: Float, F: Fold<T>>(&self, data: &[T], fold: &F) -> Vec<F::Acc> {
        if self.n_out == 0 || self.n_reduced == 0 {
            return vec![fold.identity(); self.n_out];
        }
        let kept_step = self.kept_strides.last().unwrap().unsigned_abs();
        let reduced_step = self.reduced_strides.last().unwrap().unsigned_abs();
        if self.n_out > 1 && kept_step != 0 && reduced_step != 0 && kept_step < reduced_step {
            self.fold_outer(data, fold)
        } else {
            self.fold_inner(data, fold)
        }
    }

    /// Storage index of output `out`'s first reduced element.
    fn base_of(&self, out: usize) -> usize {
        Walk::new(&self.kept, &self.kept_strides, self.offset, out).at()
    }

    fn fold_inner<T: Float, F: Fold<T>>(&self, data: &[T], fold: &F) -> Vec<F::Acc> {
        let n = self.n_reduced;
        let blocks = n.div_ceil(BLOCK);
        let block = |base: usize, b: usize, out: usize| {
            self.fold_range(data, fold, base, b * BLOCK, ((b + 1) * BLOCK).min(n), out)
        };
        // Every path below computes each block from the identity and joins them in order.
        let one = |base: usize, out: usize| {
            (1..blocks).fold(block(base, 0, out), |acc, b| {
                fold.combine(acc, block(base, b, out))
            })
        };
        let mut outs = vec![fold.identity(); self.n_out];
        if self.n_out * n < PARALLEL_THRESHOLD {
            let mut walk = Walk::new(&self.kept, &self.kept_strides, self.offset, 0);
            for (out, slot) in outs.iter_mut().enumerate() {
                *slot = one(walk.at(), out);
                walk.advance();
            }
        } else if blocks > 1 {
            let partials: Vec<F::Acc> = (0..self.n_out * blocks)
                .into_par_iter()
                .map(|i| {
                    let out = i / blocks;
                    block(self.base_of(out), i % blocks, out)
                })
                .collect();
            for (slot, parts) in outs.iter_mut().zip(partials.chunks(blocks)) {
                *slot = parts[1..]
                    .iter()
                    .fold(parts[0], |acc, &p| fold.combine(acc, p));
            }
        } else {
            let per = (PARALLEL_THRESHOLD / 2 / n).max(1);
            outs.par_chunks_mut(per).enumerate().for_each(|(c, chunk)| {
                let first = c * per;
                let mut walk = Walk::new(&self.kept, &self.kept_strides, self.offset, first);
                for (i, slot) in chunk.iter_mut().enumerate() {
                    *slot = one(walk.at(), first + i);
                    walk.advance();
                }
            });
        }
        outs
    }

    /// Folds reduced elements `start..end` (row-major over the reduced axes) of the output at `base`.
    fn fold_range<T: Float, F: Fold<T>>(
        &self,
        data: &[T],
        fold: &F,
        base: usize,
        start: usize,
        end: usize,
        out: usize,
    ) -> F::Acc {
        let last = self.reduced.len() - 1;
        let len = self.reduced[last];
        let step = self.reduced_strides[last];
        let mut rows = Walk::new(
            &self.reduced[..last],
            &self.reduced_strides[..last],
            base,
            start / len,
        );
        let mut acc = fold.identity();
        let mut r = start;
        while r < end {
            let col = r % len;
            let take = (len - col).min(end - r);
            let at = (rows.at() as isize + col as isize * step) as usize;
            acc = fold.run(acc, data, at, take, step, r, out);
            r += take;
            rows.advance();
        }
        acc
    }

    fn fold_outer<T: Float, F: Fold<T>>(&self, data: &[T], fold: &F) -> Vec<F::Acc> {
        let last = self.kept.len() - 1;
        let width = self.kept[last];
        let step = self.kept_strides[last];
        let outer = (&self.kept[..last], &self.kept_strides[..last]);
        let n = self.n_reduced;
        let blocks = n.div_ceil(ROWS);
        // Folds reduced block `b` into the outputs `first..first + accs.len()`, one kept row
        // segment at a time, whole input rows per reduced index.
        let run = |accs: &mut [F::Acc], first: usize, b: usize| {
            let (r0, r1) = (b * ROWS, ((b + 1) * ROWS).min(n));
            let mut done = 0;
            while done < accs.len() {
                let out = first + done;
                let (row, col) = (out / width, out % width);
                let cols = (width - col).min(accs.len() - done);
                let row_base = Walk::new(outer.0, outer.1, self.offset, row).at();
                let seg = &mut accs[done..done + cols];
                let col_base = row_base as isize + col as isize * step;
                let mut walk = Walk::new(&self.reduced, &self.reduced_strides, 0, r0);
                for r in r0..r1 {
                    let at = (col_base + walk.at() as isize) as usize;
                    fold.row(seg, data, at, step, r, out);
                    walk.advance();
                }
                done += cols;
            }
        };
        // Block 0 lands in `accs`; each later block starts from the identity and joins in order.
        let all_blocks = |accs: &mut [F::Acc], first: usize| {
            run(accs, first, 0);
            if blocks == 1 {
                return;
            }
            let mut partial = vec![fold.identity(); accs.len()];
            for b in 1..blocks {
                partial.fill(fold.identity());
                run(&mut partial, first, b);
                for (a, &p) in accs.iter_mut().zip(&partial) {
                    *a = fold.combine(*a, p);
                }
            }
        };
        let mut outs = vec![fold.identity(); self.n_out];
        if self.n_out * n < PARALLEL_THRESHOLD {
            all_blocks(&mut outs, 0);
        } else if self.n_out >= 2 * COLUMNS || blocks == 1 {
            outs.par_chunks_mut(COLUMNS)
                .enumerate()
                .for_each(|(c, chunk)| all_blocks(chunk, c * COLUMNS));
        } else {
            // Few outputs but many reduced rows: the blocks are the parallel work.
            let partials: Vec<Vec<F::Acc>> = (0..blocks)
                .into_par_iter()
                .map(|b| {
                    let mut partial = vec![fold.identity(); self.n_out];
                    run(&mut partial, 0, b);
                    partial
                })
                .collect();
            outs = partials[0].clone();
            for partial in &partials[1..] {
                for (a, &p) in outs.iter_mut().zip(partial) {
                    *a = fold.combine(*a, p);
                }
            }
        }
        outs
    }
}

/// An odometer over a strided shape that tracks the storage index as it steps.
///
/// The reduced walk starts at storage index 0 and adds its offset to a base; strides may be
/// negative in principle, so the position is kept signed.
struct Walk<'a> {
    shape: &'a [usize],
    strides: &'a [isize],
    index: Dims,
    at: isize,
}

impl<'a> Walk<'a> {
    /// Positions the walk at row-major position `start` of `shape`, from storage index `base`.
    fn new(shape: &'a [usize], strides: &'a [isize], base: usize, start: usize) -> Self {
        let mut index = Dims::from_elem(0, shape.len());
        let mut at = base as isize;
        let mut rem = start;
        for i in (0..shape.len()).rev() {
            index[i] = rem % shape[i];
            rem /= shape[i];
            at += index[i] as isize * strides[i];
        }
        Walk {
            shape,
            strides,
            index,
            at,
        }
    }

    fn at(&self) -> usize {
        self.at as usize
    }

    fn advance(&mut self) {
        for i in (0..self.shape.len()).rev() {
            self.index[i] += 1;
            self.at += self.strides[i];
            if self.index[i] < self.shape[i] {
                return;
            }
            self.at -= self.strides[i] * self.shape[i] as isize;
            self.index[i] = 0;
        }
    }
}

/// `Σ xs` with eight independent accumulators, so the compiler can keep them in one vector register.
#[inline]
pub(crate) fn lane_sum<T: Float>(xs: &[T], f: impl Fn(T) -> T) -> T {
    let mut lanes = [T::ZERO; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            lanes[k] += f(c[k]);
        }
    }
    let mut s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for &x in rest {
        s += f(x);
    }
    s
}

/// Folds each row of a small contiguous row-major `[rows, width]` block on its own: a softmax
/// over the classes of a batch. The plan's inner walk would fold each row as one run from the
/// identity too (a row shorter than [`BLOCK`] is one block), so the bits are the plan's; what is
/// saved is its per-row walk setup, which costs more than the ten or so elements of a row.
/// `None` when the block is too large for one thread or a row spans several blocks.
pub(crate) fn fold_short_rows<T: Float, F: Fold<T>>(
    data: &[T],
    width: usize,
    fold: &F,
) -> Option<Vec<F::Acc>> {
    if width == 0 || width > BLOCK || data.len() >= PARALLEL_THRESHOLD {
        return None;
    }
    Some(
        (0..data.len() / width)
            .map(|out| fold.run(fold.identity(), data, out * width, width, 1, 0, out))
            .collect(),
    )
}

/// Column sums of a contiguous row-major `[rows, width]` block: the bias gradient of every dense
/// layer, once per step. The general plan spends more on setting up its walks than on adding
/// these few rows, so small blocks take this loop; it folds in the outer walk's [`ROWS`]-row
/// blocks and joins them in the same order, so the bits are the plan's.
pub(crate) fn sum_leading_rows<T: Float>(data: &[T], width: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; width];
    if width == 0 {
        return out;
    }
    let mut partial = Vec::new();
    for (b, block) in data.chunks(ROWS * width).enumerate() {
        let accs = if b == 0 {
            &mut out
        } else {
            partial.clear();
            partial.resize(width, T::ZERO);
            &mut partial
        };
        for row in block.chunks_exact(width) {
            for (a, &x) in accs.iter_mut().zip(row) {
                *a += x;
            }
        }
        if b > 0 {
            for (a, &p) in out.iter_mut().zip(&partial) {
                *a += p;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts elements and records the reduced indices each output saw, in order.
    struct Trace;

    impl Fold<f64> for Trace {
        type Acc = (f64, usize);
        fn identity(&self) -> (f64, usize) {
            (0.0, 0)
        }
        fn run(
            &self,
            acc: (f64, usize),
            data: &[f64],
            at: usize,
            len: usize,
            step: isize,
            _r: usize,
            _out: usize,
        ) -> (f64, usize) {
            let s: f64 = (0..len)
                .map(|i| data[(at as isize + i as isize * step) as usize])
                .sum();
            (acc.0 + s, acc.1 + len)
        }
        fn combine(&self, a: (f64, usize), b: (f64, usize)) -> (f64, usize) {
            (a.0 + b.0, a.1 + b.1)
        }
        fn row(
            &self,
            accs: &mut [(f64, usize)],
            data: &[f64],
            at: usize,
            step: isize,
            _r: usize,
            _out: usize,
        ) {
            for (j, a) in accs.iter_mut().enumerate() {
                a.0 += data[(at as isize + j as isize * step) as usize];
                a.1 += 1;
            }
        }
    }

    #[test]
    fn both_walks_fold_every_element_once() {
        let data: Vec<f64> = (0..24).map(f64::from).collect();
        let layout = Layout::contiguous(&[2, 3, 4]);
        // Axis 1 reduced: kept axes 0 and 2 are not adjacent, so the kept walk has two axes.
        let plan = Plan::new(&layout, &[false, true, false]);
        assert_eq!((plan.n_out, plan.n_reduced), (8, 3));
        let got = plan.fold(&data, &Trace);
        assert_eq!(got[0], (12.0, 3));
        assert_eq!(got[7], (19.0 + 15.0 + 23.0, 3));
        // Reducing the last axis of the transpose takes the outer walk.
        let t = layout.permute(&[2, 1, 0]).unwrap();
        let plan = Plan::new(&t, &[false, false, true]);
        let got = plan.fold(&data, &Trace);
        assert_eq!(got[0], (12.0, 2));
    }

    #[test]
    fn walk_starts_mid_shape() {
        let shape = [3usize, 4];
        let strides = [10isize, 2];
        let mut w = Walk::new(&shape, &strides, 5, 3);
        assert_eq!(w.at(), 5 + 6);
        w.advance();
        assert_eq!(w.at(), 5 + 10);
    }

    /// The short-row fast path gives the plan's bits for max and centred exp-sums, NaN and ±∞
    /// included.
    #[test]
    fn fold_short_rows_matches_the_plan_bit_for_bit() {
        use super::super::kinds::{CenteredSum, Extreme};
        let specials = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e4,
            -1e4,
        ];
        let mut seed = 0x2545_f491_u64;
        for &(rows, width) in &[(16usize, 10usize), (1, 1), (7, 33), (3, 300), (200, 2)] {
            let data: Vec<f32> = (0..rows * width)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if i % 11 == 5 {
                        specials[(seed >> 60) as usize % specials.len()]
                    } else {
                        (seed >> 40) as f32 / (1u64 << 20) as f32 - 8.0
                    }
                })
                .collect();
            let plan = Plan::new(&Layout::contiguous(&[rows, width]), &[false, true]);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let max = fold_short_rows(&data, width, &Extreme::<true>).unwrap();
            assert_eq!(bits(&max), bits(&plan.fold(&data, &Extreme::<true>)));
            let exp = CenteredSum {
                centers: &max,
                f: |d: f32| d.exp(),
            };
            let got = fold_short_rows(&data, width, &exp).unwrap();
            assert_eq!(
                bits(&got),
                bits(&plan.fold(&data, &exp)),
                "[{rows}, {width}]"
            );
        }
        assert!(fold_short_rows(&[0.0f32; 8], 0, &Extreme::<true>).is_none());
    }

    /// The bias-gradient fast path gives the general plan's bits, across block boundaries too.
    #[test]
    fn sum_leading_rows_matches_the_plan_bit_for_bit() {
        use super::super::kinds::Sum;
        let mut seed = 0x9e37_79b9_u64;
        for &(lead, width) in &[
            (&[16usize][..], 64usize),
            (&[1][..], 7),
            (&[3, 5][..], 10),
            (&[1500][..], 3),
            (&[2, 1100][..], 2),
            (&[2049][..], 5),
            (&[4][..], 0),
        ] {
            let mut shape = lead.to_vec();
            shape.push(width);
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 40) as f32 / (1u64 << 20) as f32 - 8.0
                })
                .collect();
            let mut mask = vec![true; lead.len()];
            mask.push(false);
            let want = Plan::new(&Layout::contiguous(&shape), &mask).fold(&data, &Sum);
            let got = sum_leading_rows(&data, width);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "shape {shape:?}");
        }
    }

    #[test]
    fn lane_sum_matches_serial_on_integers() {
        let xs: Vec<f32> = (0..37).map(|i| i as f32).collect();
        assert_eq!(lane_sum(&xs, |x| x), 666.0);
        assert_eq!(lane_sum::<f32>(&[], |x| x), 0.0);
    }
}
