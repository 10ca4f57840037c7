//! The folds behind each reduction: sums (plain and centred), extremes, and arg-extremes.

use super::fold::{Fold, lane_sum};
use crate::element::Float;

/// `Σ x`.
pub(crate) struct Sum;

impl<T: Float> Fold<T> for Sum {
    type Acc = T;

    fn identity(&self) -> T {
        T::ZERO
    }

    #[inline]
    fn run(&self, acc: T, data: &[T], at: usize, len: usize, step: isize, _: usize, _: usize) -> T {
        if step == 1 {
            return acc + lane_sum(&data[at..at + len], |x| x);
        }
        let mut s = acc;
        for i in 0..len {
            s += data[(at as isize + i as isize * step) as usize];
        }
        s
    }

    fn combine(&self, earlier: T, later: T) -> T {
        earlier + later
    }

    #[inline]
    fn row(&self, accs: &mut [T], data: &[T], at: usize, step: isize, _: usize, _: usize) {
        if step == 1 {
            let xs = &data[at..at + accs.len()];
            for (a, &x) in accs.iter_mut().zip(xs) {
                *a += x;
            }
        } else {
            for (j, a) in accs.iter_mut().enumerate() {
                *a += data[(at as isize + j as isize * step) as usize];
            }
        }
    }
}

/// `Σ f(x − c)` with one centre `c` per output: squared deviations for `var`, `exp` for `logsumexp`.
pub(crate) struct CenteredSum<'a, T, F> {
    pub(crate) centers: &'a [T],
    pub(crate) f: F,
}

impl<T: Float, F: Fn(T) -> T + Sync> Fold<T> for CenteredSum<'_, T, F> {
    type Acc = T;

    fn identity(&self) -> T {
        T::ZERO
    }

    #[inline]
    fn run(
        &self,
        acc: T,
        data: &[T],
        at: usize,
        len: usize,
        step: isize,
        _: usize,
        out: usize,
    ) -> T {
        let c = self.centers[out];
        if step == 1 {
            return acc + lane_sum(&data[at..at + len], |x| (self.f)(x - c));
        }
        let mut s = acc;
        for i in 0..len {
            s += (self.f)(data[(at as isize + i as isize * step) as usize] - c);
        }
        s
    }

    fn combine(&self, earlier: T, later: T) -> T {
        earlier + later
    }

    #[inline]
    fn row(&self, accs: &mut [T], data: &[T], at: usize, step: isize, _: usize, out: usize) {
        let centers = &self.centers[out..out + accs.len()];
        if step == 1 {
            let xs = &data[at..at + accs.len()];
            for ((a, &x), &c) in accs.iter_mut().zip(xs).zip(centers) {
                *a += (self.f)(x - c);
            }
        } else {
            for (j, (a, &c)) in accs.iter_mut().zip(centers).enumerate() {
                *a += (self.f)(data[(at as isize + j as isize * step) as usize] - c);
            }
        }
    }
}

/// The largest (`MAX`) or smallest element; NaN wins over everything, and among equals the first stays.
pub(crate) struct Extreme<const MAX: bool>;

impl<const MAX: bool> Extreme<MAX> {
    #[inline]
    fn pick<T: Float>(best: T, x: T) -> T {
        if MAX {
            best.max_nan(x)
        } else {
            best.min_nan(x)
        }
    }
}

impl<T: Float, const MAX: bool> Fold<T> for Extreme<MAX> {
    type Acc = T;

    fn identity(&self) -> T {
        if MAX { T::NEG_INFINITY } else { T::INFINITY }
    }

    #[inline]
    fn run(&self, acc: T, data: &[T], at: usize, len: usize, step: isize, _: usize, _: usize) -> T {
        let mut best = acc;
        for i in 0..len {
            best = Self::pick(best, data[(at as isize + i as isize * step) as usize]);
        }
        best
    }

    fn combine(&self, earlier: T, later: T) -> T {
        Self::pick(earlier, later)
    }

    #[inline]
    fn row(&self, accs: &mut [T], data: &[T], at: usize, step: isize, _: usize, _: usize) {
        for (j, a) in accs.iter_mut().enumerate() {
            *a = Self::pick(*a, data[(at as isize + j as isize * step) as usize]);
        }
    }
}

/// Index of the largest (`MAX`) or smallest element: the first NaN if there is one, else the
/// first of equal extremes. `usize::MAX` marks an accumulator that has seen nothing.
pub(crate) struct ArgExtreme<const MAX: bool>;

impl<const MAX: bool> ArgExtreme<MAX> {
    /// Whether a candidate seen later replaces the current best.
    #[inline]
    fn replaces<T: Float>(best: (T, usize), x: T) -> bool {
        if best.1 == usize::MAX {
            return true;
        }
        if best.0.is_nan() {
            return false;
        }
        x.is_nan() || if MAX { x > best.0 } else { x < best.0 }
    }
}

impl<T: Float, const MAX: bool> Fold<T> for ArgExtreme<MAX> {
    type Acc = (T, usize);

    fn identity(&self) -> (T, usize) {
        (T::ZERO, usize::MAX)
    }

    fn run(
        &self,
        acc: (T, usize),
        data: &[T],
        at: usize,
        len: usize,
        step: isize,
        r: usize,
        _: usize,
    ) -> (T, usize) {
        let mut best = acc;
        for i in 0..len {
            let x = data[(at as isize + i as isize * step) as usize];
            if Self::replaces(best, x) {
                best = (x, r + i);
            }
        }
        best
    }

    fn combine(&self, earlier: (T, usize), later: (T, usize)) -> (T, usize) {
        if later.1 != usize::MAX && Self::replaces(earlier, later.0) {
            later
        } else {
            earlier
        }
    }

    fn row(&self, accs: &mut [(T, usize)], data: &[T], at: usize, step: isize, r: usize, _: usize) {
        for (j, a) in accs.iter_mut().enumerate() {
            let x = data[(at as isize + j as isize * step) as usize];
            if Self::replaces(*a, x) {
                *a = (x, r);
            }
        }
    }
}
