//! The element types a tensor can hold: `f32` and `f64`.

use crate::math;
use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Rem, Sub, SubAssign};

/// A floating-point element: `f32` or `f64`. Sealed in spirit: the kernels assume IEEE semantics.
pub trait Float:
    Copy
    + Send
    + Sync
    + Debug
    + Display
    + LowerExp
    + Default
    + PartialEq
    + PartialOrd
    + Sum
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Rem<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// The type's name, as stored in checkpoints (`"f32"`, `"f64"`).
    const DTYPE: &'static str;
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// Machine epsilon.
    const EPSILON: Self;

    /// Converts from `f64`, rounding to nearest.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts a count or index.
    fn from_usize(x: usize) -> Self {
        Self::from_f64(x as f64)
    }
    /// `e^x`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + x)`, accurate near 0.
    fn ln_1p(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// `x^p` for a real `p`.
    fn powf(self, p: Self) -> Self;
    /// `x^n` for an integer `n`.
    fn powi(self, n: i32) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Error function.
    fn erf(self) -> Self;
    /// `Φ(x)`, the standard normal CDF `½(1 + erf(x/√2))`, accurate in its lower tail (the exact
    /// GELU is `x·Φ(x)`).
    fn normal_cdf(self) -> Self;
    /// `φ(x) = e^{−x²/2}/√(2π)`, the standard normal density.
    fn normal_pdf(self) -> Self;
    /// `σ(x) = 1/(1 + e⁻ˣ)`, finite for every finite `x`.
    fn sigmoid(self) -> Self;
    /// Larger of two values; NaN if either is NaN.
    fn max_nan(self, other: Self) -> Self {
        if self.is_nan() || other.is_nan() {
            Self::from_f64(f64::NAN)
        } else if other > self {
            other
        } else {
            self
        }
    }
    /// Smaller of two values; NaN if either is NaN.
    fn min_nan(self, other: Self) -> Self {
        if self.is_nan() || other.is_nan() {
            Self::from_f64(f64::NAN)
        } else if other < self {
            other
        } else {
            self
        }
    }
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// Whether the value is neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// The largest value below `self` (`−∞` and NaN stay as they are; `+∞` gives the largest
    /// finite value). Used to keep `U[low, high)` samples below `high` after rounding.
    fn next_below(self) -> Self;

    /// `C ← α·A·B + β·C` through `matrixmultiply`, with strides in elements.
    ///
    /// # Safety
    /// The pointers and strides must describe valid `m×k`, `k×n` and `m×n` matrices, and `c`
    /// must not alias `a` or `b`.
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

macro_rules! impl_float {
    ($t:ident, $gemm:ident, $math:ident) => {
        impl Float for $t {
            const DTYPE: &'static str = stringify!($t);
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            const EPSILON: Self = $t::EPSILON;

            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $math::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $math::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $math::ln_1p(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline]
            fn powf(self, p: Self) -> Self {
                $t::powf(self, p)
            }
            #[inline]
            fn powi(self, n: i32) -> Self {
                $t::powi(self, n)
            }
            #[inline]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $math::tanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $math::erf(self)
            }
            #[inline(always)]
            fn normal_cdf(self) -> Self {
                $math::normal_cdf(self)
            }
            #[inline(always)]
            fn normal_pdf(self) -> Self {
                $math::normal_pdf(self)
            }
            #[inline(always)]
            fn sigmoid(self) -> Self {
                $math::sigmoid(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            #[inline]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            fn next_below(self) -> Self {
                // IEEE order matches the order of the bit patterns within each sign, so one
                // step of the integer moves to the neighbouring float.
                if self.is_nan() || self == $t::NEG_INFINITY {
                    self
                } else if self == 0.0 {
                    -$t::from_bits(1)
                } else if self > 0.0 {
                    $t::from_bits(self.to_bits() - 1)
                } else {
                    $t::from_bits(self.to_bits() + 1)
                }
            }
            unsafe fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded from the caller's contract.
                unsafe {
                    matrixmultiply::$gemm(
                        m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc,
                    )
                }
            }
        }
    };
}

impl_float!(f32, sgemm, math);
impl_float!(f64, dgemm, f64_math);

/// `f64` keeps the C library's near-exact functions: it is the reference precision (gradcheck),
/// not the speed path.
mod f64_math {
    #[inline]
    pub(super) fn exp(x: f64) -> f64 {
        x.exp()
    }
    #[inline]
    pub(super) fn ln(x: f64) -> f64 {
        x.ln()
    }
    #[inline]
    pub(super) fn ln_1p(x: f64) -> f64 {
        x.ln_1p()
    }
    #[inline]
    pub(super) fn tanh(x: f64) -> f64 {
        x.tanh()
    }
    #[inline]
    pub(super) fn erf(x: f64) -> f64 {
        super::erf_f64(x)
    }
    #[inline]
    pub(super) fn normal_cdf(x: f64) -> f64 {
        let z = x * std::f64::consts::FRAC_1_SQRT_2;
        if z < -2.5 {
            // ½·erfc(−z) directly: ½(1 + erf z) would cancel to nothing in the tail.
            0.5 * super::erfc_large_f64(-z)
        } else {
            0.5 * (1.0 + super::erf_f64(z))
        }
    }
    #[inline]
    pub(super) fn normal_pdf(x: f64) -> f64 {
        (-0.5 * x * x).exp() * 0.398_942_280_401_432_7
    }
    #[inline]
    pub(super) fn sigmoid(x: f64) -> f64 {
        let e = (-x.abs()).exp();
        let num = if x < 0.0 { e } else { 1.0 };
        num / (1.0 + e)
    }
}

/// `erf(x)` to about 1e-15 relative error: a Taylor series near 0, a continued fraction for erfc beyond.
fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < 2.5 {
        // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)); converges fast for |x| < 2.5.
        let x2 = ax * ax;
        let mut term = ax;
        let mut sum = ax;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if ax > 6.0 {
        1.0
    } else {
        1.0 - erfc_large_f64(ax)
    };
    r.copysign(x)
}

/// `erfc(x)` for `x ≥ 1`, to about 1e-15 relative: e^{−x²}/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))),
/// the continued fraction evaluated bottom-up.
fn erfc_large_f64(x: f64) -> f64 {
    let mut f = x;
    for k in (1..60).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // Reference values from the defining integral (Abramowitz & Stegun, table 7.1).
        let cases = [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
            (-1.0, -0.842_700_792_949_714_9),
        ];
        for (x, want) in cases {
            let got = erf_f64(x);
            assert!((got - want).abs() < 1e-14, "erf({x}) = {got}, want {want}");
        }
    }
}
