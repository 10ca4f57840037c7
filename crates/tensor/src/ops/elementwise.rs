//! Pointwise arithmetic and activations: broadcasting binary ops, scalar forms and unary maps.
//!
//! Each kernel is a closure handed to the drivers in `iter.rs`, which pick the contiguous slice
//! loop or the strided walk once per call. The closures avoid early returns and calls that
//! cannot inline, so the slice loop stays vectorisable.

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::iter::{map_binary, map_ternary, map_unary};
use crate::tensor::Tensor;

impl<T: Float> Tensor<T> {
    /// Elementwise `x + y` under NumPy broadcasting.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// let bias = Tensor::from_vec(vec![10.0f32, 20.0], &[2]);
    /// assert_eq!(x.add(&bias).to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
    /// assert!(x.try_add(&Tensor::zeros(&[3])).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_add`] returns the error.
    #[track_caller]
    pub fn add(&self, rhs: &Self) -> Self {
        or_panic(self.try_add(rhs))
    }

    /// Fallible [`Tensor::add`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if they do not broadcast.
    pub fn try_add(&self, rhs: &Self) -> Result<Self> {
        map_binary("add", self, rhs, |x, y| x + y)
    }

    /// Elementwise `x − y` under NumPy broadcasting.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![5.0f32, 7.0], &[2]);
    /// assert_eq!(x.sub(&Tensor::from_vec(vec![1.0, 2.0], &[2])).to_vec(), [4.0, 5.0]);
    /// assert!(x.try_sub(&Tensor::zeros(&[3])).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_sub`] returns the error.
    #[track_caller]
    pub fn sub(&self, rhs: &Self) -> Self {
        or_panic(self.try_sub(rhs))
    }

    /// Fallible [`Tensor::sub`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if they do not broadcast.
    pub fn try_sub(&self, rhs: &Self) -> Result<Self> {
        map_binary("sub", self, rhs, |x, y| x - y)
    }

    /// Elementwise `x · y` under NumPy broadcasting.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// let col = Tensor::from_vec(vec![10.0, -1.0], &[2, 1]); // broadcast along rows
    /// assert_eq!(x.mul(&col).to_vec(), [10.0, 20.0, -3.0, -4.0]);
    /// assert!(x.try_mul(&Tensor::zeros(&[3])).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_mul`] returns the error.
    #[track_caller]
    pub fn mul(&self, rhs: &Self) -> Self {
        or_panic(self.try_mul(rhs))
    }

    /// Fallible [`Tensor::mul`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if they do not broadcast.
    pub fn try_mul(&self, rhs: &Self) -> Result<Self> {
        map_binary("mul", self, rhs, |x, y| x * y)
    }

    /// Elementwise `x / y` under NumPy broadcasting (IEEE: `1/0 = ∞`, `0/0 = NaN`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 3.0, 1.0], &[3]);
    /// let y = Tensor::from_vec(vec![2.0, 4.0, 0.0], &[3]);
    /// assert_eq!(x.div(&y).to_vec(), [0.5, 0.75, f32::INFINITY]);
    /// assert!(x.try_div(&Tensor::zeros(&[2])).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_div`] returns the error.
    #[track_caller]
    pub fn div(&self, rhs: &Self) -> Self {
        or_panic(self.try_div(rhs))
    }

    /// Fallible [`Tensor::div`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if they do not broadcast.
    pub fn try_div(&self, rhs: &Self) -> Result<Self> {
        map_binary("div", self, rhs, |x, y| x / y)
    }

    /// Elementwise `max(x, y)` under NumPy broadcasting; NaN if either is NaN.
    ///
    /// PyTorch: `torch.maximum`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0], &[3]);
    /// let y = Tensor::from_vec(vec![4.0, 2.0, 3.0], &[3]);
    /// assert_eq!(x.maximum(&y).to_vec(), [4.0, 5.0, 3.0]);
    /// assert_eq!(x.minimum(&y).to_vec(), [1.0, 2.0, 3.0]);
    /// assert!(x.try_maximum(&Tensor::zeros(&[2])).is_err());
    /// assert!(x.try_minimum(&Tensor::zeros(&[2])).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_maximum`] returns the error.
    #[track_caller]
    pub fn maximum(&self, rhs: &Self) -> Self {
        or_panic(self.try_maximum(rhs))
    }

    /// Fallible [`Tensor::maximum`].
    ///
    /// Example: [`Tensor::maximum`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if they do not broadcast.
    pub fn try_maximum(&self, rhs: &Self) -> Result<Self> {
        map_binary("maximum", self, rhs, T::max_nan)
    }

    /// Elementwise `min(x, y)` under NumPy broadcasting; NaN if either is NaN.
    ///
    /// PyTorch: `torch.minimum`.
    ///
    /// Example: [`Tensor::maximum`].
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_minimum`] returns the error.
    #[track_caller]
    pub fn minimum(&self, rhs: &Self) -> Self {
        or_panic(self.try_minimum(rhs))
    }

    /// Fallible [`Tensor::minimum`].
    ///
    /// Example: [`Tensor::maximum`].
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming the op and both shapes if they do not broadcast.
    pub fn try_minimum(&self, rhs: &Self) -> Result<Self> {
        map_binary("minimum", self, rhs, T::min_nan)
    }

    /// `x + s` for every element.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 4.0], &[2]);
    /// assert_eq!(x.add_scalar(1.0).to_vec(), [2.0, 5.0]);
    /// assert_eq!(x.sub_scalar(1.0).to_vec(), [0.0, 3.0]);
    /// assert_eq!(x.rsub_scalar(1.0).to_vec(), [0.0, -3.0]); // 1 − x
    /// assert_eq!(x.mul_scalar(2.0).to_vec(), [2.0, 8.0]);
    /// assert_eq!(x.div_scalar(2.0).to_vec(), [0.5, 2.0]);
    /// assert_eq!(x.rdiv_scalar(2.0).to_vec(), [2.0, 0.5]); // 2 / x
    /// ```
    pub fn add_scalar(&self, s: T) -> Self {
        self.map(
            #[inline(always)]
            |x| x + s,
        )
    }

    /// `x − s` for every element.
    ///
    /// Example: [`Tensor::add_scalar`].
    pub fn sub_scalar(&self, s: T) -> Self {
        self.map(
            #[inline(always)]
            |x| x - s,
        )
    }

    /// `s − x` for every element (PyTorch: `torch.rsub`).
    ///
    /// Example: [`Tensor::add_scalar`].
    pub fn rsub_scalar(&self, s: T) -> Self {
        self.map(
            #[inline(always)]
            |x| s - x,
        )
    }

    /// `x · s` for every element.
    ///
    /// Example: [`Tensor::add_scalar`].
    pub fn mul_scalar(&self, s: T) -> Self {
        self.map(
            #[inline(always)]
            |x| x * s,
        )
    }

    /// `x / s` for every element.
    ///
    /// Example: [`Tensor::add_scalar`].
    pub fn div_scalar(&self, s: T) -> Self {
        // Dividing (not multiplying by 1/s) keeps the result correctly rounded.
        self.map(
            #[inline(always)]
            |x| x / s,
        )
    }

    /// `s / x` for every element.
    ///
    /// Example: [`Tensor::add_scalar`].
    pub fn rdiv_scalar(&self, s: T) -> Self {
        self.map(
            #[inline(always)]
            |x| s / x,
        )
    }

    /// `f(x)` for every element, as a new contiguous tensor of the same shape.
    ///
    /// `f` may run on several threads at once for large tensors, hence `Sync`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]);
    /// assert_eq!(x.map(|v| v * v + 1.0).to_vec(), vec![2.0, 5.0, 10.0]);
    /// ```
    pub fn map(&self, f: impl Fn(T) -> T + Sync) -> Self {
        Tensor::from_vec_unchecked(map_unary(self, f), self.shape())
    }

    /// `f(a, b)` pairwise under broadcasting: a user-supplied binary kernel on the same fast paths.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// let y = Tensor::from_vec(vec![10.0, 20.0], &[2]);
    /// assert_eq!(x.zip_map(&y, |a, b| a * b + 1.0).to_vec(), [11.0, 41.0, 31.0, 81.0]);
    /// assert!(x.try_zip_map(&Tensor::zeros(&[3]), |a, _| a).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_zip_map`] returns the error.
    #[track_caller]
    pub fn zip_map(&self, rhs: &Self, f: impl Fn(T, T) -> T + Sync) -> Self {
        or_panic(self.try_zip_map(rhs, f))
    }

    /// Fallible [`Tensor::zip_map`].
    pub fn try_zip_map(&self, rhs: &Self, f: impl Fn(T, T) -> T + Sync) -> Result<Self> {
        map_binary("zip_map", self, rhs, f)
    }

    /// `f(a, b, c)` elementwise under three-way broadcasting: a fused kernel in one pass, such as a
    /// backward rule's `g · f'(x, y)`, without the temporaries of composed ops.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let g = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let x = Tensor::from_vec(vec![-1.0f32, 3.0], &[2]);
    /// let relu_grad = g.zip_map3(&x, &x, |g, x, _| if x > 0.0 { g } else { 0.0 });
    /// assert_eq!(relu_grad.to_vec(), vec![0.0, 2.0]);
    /// assert!(g.try_zip_map3(&x, &Tensor::zeros(&[3]), |g, _, _| g).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast; [`Tensor::try_zip_map3`] returns the error.
    #[track_caller]
    pub fn zip_map3(&self, b: &Self, c: &Self, f: impl Fn(T, T, T) -> T + Sync) -> Self {
        or_panic(self.try_zip_map3(b, c, f))
    }

    /// Fallible [`Tensor::zip_map3`].
    pub fn try_zip_map3(
        &self,
        b: &Self,
        c: &Self,
        f: impl Fn(T, T, T) -> T + Sync,
    ) -> Result<Self> {
        map_ternary("zip_map3", [self, b, c], f)
    }

    /// `−x`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, -2.0], &[2]);
    /// assert_eq!(x.neg().to_vec(), [-1.0, 2.0]);
    /// ```
    pub fn neg(&self) -> Self {
        self.map(
            #[inline(always)]
            |x| -x,
        )
    }

    /// `eˣ`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![0.0f64, 1.0], &[2]).exp();
    /// assert_eq!(y.get(&[0]), 1.0);
    /// assert!((y.get(&[1]) - std::f64::consts::E).abs() < 1e-12);
    /// ```
    pub fn exp(&self) -> Self {
        self.map(T::exp)
    }

    /// `ln x`, the natural logarithm (NaN for `x < 0`, `−∞` at 0).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![1.0f64, std::f64::consts::E, 0.0], &[3]).log();
    /// assert_eq!(y.get(&[0]), 0.0);
    /// assert!((y.get(&[1]) - 1.0).abs() < 1e-12);
    /// assert_eq!(y.get(&[2]), f64::NEG_INFINITY);
    /// ```
    pub fn log(&self) -> Self {
        self.map(T::ln)
    }

    /// `√x` (NaN for `x < 0`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![4.0f32, 9.0, 0.25], &[3]);
    /// assert_eq!(x.sqrt().to_vec(), [2.0, 3.0, 0.5]);
    /// ```
    pub fn sqrt(&self) -> Self {
        self.map(T::sqrt)
    }

    /// `xᵖ` for a real exponent `p`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![2.0f32, 0.5, 4.0], &[3]);
    /// assert_eq!(x.powf(2.0).to_vec(), [4.0, 0.25, 16.0]);
    /// ```
    pub fn powf(&self, p: T) -> Self {
        self.map(
            #[inline(always)]
            |x| x.powf(p),
        )
    }

    /// `xⁿ` for an integer exponent `n`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![2.0f32, -3.0], &[2]);
    /// assert_eq!(x.powi(3).to_vec(), [8.0, -27.0]);
    /// ```
    pub fn powi(&self, n: i32) -> Self {
        self.map(
            #[inline(always)]
            |x| x.powi(n),
        )
    }

    /// `|x|`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0], &[3]);
    /// assert_eq!(x.abs().to_vec(), [1.0, 2.0, 3.0]);
    /// ```
    pub fn abs(&self) -> Self {
        self.map(T::abs)
    }

    /// `sign(x)`: `−1` for `x < 0`, `+1` for `x > 0`, `x` itself for `±0` and NaN.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![-2.5f32, 0.0, 3.0], &[3]);
    /// assert_eq!(x.sign().to_vec(), [-1.0, 0.0, 1.0]);
    /// ```
    pub fn sign(&self) -> Self {
        self.map(
            #[inline(always)]
            |x| {
                if x > T::ZERO {
                    T::ONE
                } else if x < T::ZERO {
                    -T::ONE
                } else {
                    x
                }
            },
        )
    }

    /// `1 / x`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![2.0f32, -4.0], &[2]);
    /// assert_eq!(x.recip().to_vec(), [0.5, -0.25]);
    /// ```
    pub fn recip(&self) -> Self {
        self.map(
            #[inline(always)]
            |x| T::ONE / x,
        )
    }

    /// `x²`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![-3.0f32, 0.5], &[2]);
    /// assert_eq!(x.square().to_vec(), [9.0, 0.25]);
    /// ```
    pub fn square(&self) -> Self {
        self.map(
            #[inline(always)]
            |x| x * x,
        )
    }

    /// `tanh(x)`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![0.0f64, 1.0], &[2]).tanh();
    /// assert_eq!(y.get(&[0]), 0.0);
    /// assert!((y.get(&[1]) - 0.761_594_155_955_764_9).abs() < 1e-12);
    /// ```
    pub fn tanh(&self) -> Self {
        self.map(T::tanh)
    }

    /// `σ(x) = 1 / (1 + e⁻ˣ)`, finite for every finite `x`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![-1000.0f32, 0.0, 1000.0], &[3]).sigmoid();
    /// assert_eq!(y.to_vec(), vec![0.0, 0.5, 1.0]);
    /// ```
    pub fn sigmoid(&self) -> Self {
        self.map(T::sigmoid)
    }

    /// `relu(x) = max(x, 0)`; NaN stays NaN.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3]);
    /// assert_eq!(x.relu().to_vec(), [0.0, 0.0, 2.0]);
    /// ```
    pub fn relu(&self) -> Self {
        self.map(
            #[inline(always)]
            |x| if x < T::ZERO { T::ZERO } else { x },
        )
    }

    /// `x` for `x ≥ 0`, `slope · x` below; NaN stays NaN.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![-2.0f32, 3.0], &[2]);
    /// assert_eq!(x.leaky_relu(0.5).to_vec(), [-1.0, 3.0]);
    /// ```
    pub fn leaky_relu(&self, slope: T) -> Self {
        self.map(
            #[inline(always)]
            |x| if x < T::ZERO { slope * x } else { x },
        )
    }

    /// The exact GELU, `x · Φ(x) = ½ · x · (1 + erf(x / √2))`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![0.0f64, 1.0], &[2]).gelu();
    /// assert_eq!(y.get(&[0]), 0.0);
    /// assert!((y.get(&[1]) - 0.841_344_746_068_542_9).abs() < 1e-12); // Φ(1)
    /// ```
    pub fn gelu(&self) -> Self {
        // Φ directly, not ½(1 + erf): the sum cancels for negative x and loses the tail.
        self.map(
            #[inline(always)]
            |x| x * x.normal_cdf(),
        )
    }

    /// `softplus(x) = ln(1 + eˣ)`, finite for every finite `x`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let y = Tensor::from_vec(vec![0.0f64, -1000.0, 1000.0], &[3]).softplus();
    /// assert!((y.get(&[0]) - std::f64::consts::LN_2).abs() < 1e-12);
    /// assert_eq!((y.get(&[1]), y.get(&[2])), (0.0, 1000.0));
    /// ```
    pub fn softplus(&self) -> Self {
        self.map(
            #[inline(always)]
            |x| {
                // ln(1 + e^x) = max(x, 0) + ln(1 + e^{-|x|}): the exponential is at most 1.
                let pos = if x > T::ZERO { x } else { T::ZERO };
                pos + (-x.abs()).exp().ln_1p()
            },
        )
    }

    /// `min(max(x, min), max)`; NaN stays NaN (PyTorch: `torch.clamp`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let x = Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], &[3]);
    /// assert_eq!(x.clamp(-1.0, 1.0).to_vec(), [-1.0, 0.5, 1.0]);
    /// assert!(x.try_clamp(1.0, -1.0).is_err());
    /// ```
    ///
    /// # Panics
    /// If `min > max` or either bound is NaN; [`Tensor::try_clamp`] returns the error.
    #[track_caller]
    pub fn clamp(&self, min: T, max: T) -> Self {
        or_panic(self.try_clamp(min, max))
    }

    /// Fallible [`Tensor::clamp`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] if `min > max` or either bound is NaN.
    pub fn try_clamp(&self, min: T, max: T) -> Result<Self> {
        // A NaN bound would pass every comparison and leave the input unclamped without a word.
        if min.is_nan() || max.is_nan() || min > max {
            return Err(TensorError::arg(
                "clamp",
                format!("min {min} must not exceed max {max}"),
            ));
        }
        Ok(self.map(
            #[inline(always)]
            |x| {
                if x < min {
                    min
                } else if x > max {
                    max
                } else {
                    x
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f64]) -> Tensor<f64> {
        Tensor::from_vec(values.to_vec(), &[values.len()])
    }

    #[test]
    fn arithmetic_broadcasts_rows_and_columns() {
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let row = t(&[10.0, 20.0, 30.0]);
        let col = Tensor::from_vec(vec![1.0, 2.0], &[2, 1]);
        assert_eq!(a.add(&row).to_vec(), [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        assert_eq!(a.sub(&col).to_vec(), [0.0, 1.0, 2.0, 2.0, 3.0, 4.0]);
        assert_eq!(a.mul(&col).to_vec(), [1.0, 2.0, 3.0, 8.0, 10.0, 12.0]);
        assert_eq!(row.div(&col).shape(), &[2, 3]);
        assert_eq!(a.t().add(&col.t()).to_vec(), [2.0, 6.0, 3.0, 7.0, 4.0, 8.0]);
    }

    #[test]
    fn broadcast_errors_name_op_and_shapes() {
        let a = Tensor::<f32>::zeros(&[2, 3]);
        let b = Tensor::<f32>::zeros(&[4]);
        let err = a.try_mul(&b).unwrap_err();
        assert_eq!(err.op(), "mul");
        assert_eq!(
            err.to_string(),
            "mul: cannot combine [2, 3] with [4]: sizes 3 and 4 at axis 1 of the broadcast shape differ and neither is 1"
        );
        for (op, result) in [
            ("add", a.try_add(&b)),
            ("sub", a.try_sub(&b)),
            ("div", a.try_div(&b)),
            ("maximum", a.try_maximum(&b)),
            ("minimum", a.try_minimum(&b)),
        ] {
            assert_eq!(result.unwrap_err().op(), op);
        }
    }

    #[test]
    #[should_panic(expected = "add: cannot combine [2] with [3]")]
    fn short_form_panics_with_the_message() {
        let _ = t(&[1.0, 2.0]).add(&t(&[1.0, 2.0, 3.0]));
    }

    #[test]
    fn maximum_and_minimum_propagate_nan() {
        let a = t(&[1.0, f64::NAN, 3.0]);
        let b = t(&[2.0, 0.0, f64::NAN]);
        let max = a.maximum(&b).to_vec();
        let min = a.minimum(&b).to_vec();
        assert_eq!(max[0], 2.0);
        assert_eq!(min[0], 1.0);
        assert!(max[1..].iter().chain(&min[1..]).all(|v| v.is_nan()));
    }

    #[test]
    fn unary_values_by_hand() {
        let x = t(&[-2.0, -0.5, 0.0, 1.5]);
        assert_eq!(x.neg().to_vec(), [2.0, 0.5, -0.0, -1.5]);
        assert_eq!(x.abs().to_vec(), [2.0, 0.5, 0.0, 1.5]);
        assert_eq!(x.square().to_vec(), [4.0, 0.25, 0.0, 2.25]);
        assert_eq!(x.relu().to_vec(), [0.0, 0.0, 0.0, 1.5]);
        assert_eq!(x.leaky_relu(0.1).to_vec(), [-0.2, -0.05, 0.0, 1.5]);
        assert_eq!(x.clamp(-1.0, 1.0).to_vec(), [-1.0, -0.5, 0.0, 1.0]);
        assert_eq!(x.powi(3).to_vec(), [-8.0, -0.125, 0.0, 3.375]);
        assert_eq!(t(&[4.0, 0.25]).sqrt().to_vec(), [2.0, 0.5]);
        assert_eq!(t(&[4.0, 0.25]).recip().to_vec(), [0.25, 4.0]);
        assert_eq!(t(&[8.0]).powf(1.0 / 3.0).item(), 2.0);
        assert_eq!(t(&[1.0]).log().item(), 0.0);
        assert_eq!(t(&[0.0]).exp().item(), 1.0);
        assert_eq!(t(&[0.0]).sigmoid().item(), 0.5);
        assert!((t(&[2.0]).sigmoid().item() - 0.880_797_077_977_882_4).abs() < 1e-15);
        assert!((t(&[1.0]).gelu().item() - 0.841_344_746_068_542_9).abs() < 1e-14);
        assert!((t(&[0.0]).softplus().item() - std::f64::consts::LN_2).abs() < 1e-15);
        assert!((t(&[1.0]).tanh().item() - 0.761_594_155_955_764_9).abs() < 1e-15);
    }

    #[test]
    fn scalar_forms() {
        let x = t(&[1.0, 2.0, 4.0]);
        assert_eq!(x.add_scalar(1.0).to_vec(), [2.0, 3.0, 5.0]);
        assert_eq!(x.sub_scalar(1.0).to_vec(), [0.0, 1.0, 3.0]);
        assert_eq!(x.rsub_scalar(1.0).to_vec(), [0.0, -1.0, -3.0]);
        assert_eq!(x.mul_scalar(2.0).to_vec(), [2.0, 4.0, 8.0]);
        assert_eq!(x.div_scalar(2.0).to_vec(), [0.5, 1.0, 2.0]);
        assert_eq!(x.rdiv_scalar(2.0).to_vec(), [2.0, 1.0, 0.5]);
    }

    #[test]
    fn sign_keeps_zero_and_nan() {
        let s = t(&[-3.0, 0.0, 2.5, f64::NAN]).sign().to_vec();
        assert_eq!(&s[..3], &[-1.0, 0.0, 1.0]);
        assert!(s[3].is_nan());
    }

    #[test]
    fn nan_propagates_through_activations_and_clamp() {
        let x = t(&[f64::NAN]);
        for y in [
            x.relu(),
            x.leaky_relu(0.1),
            x.sigmoid(),
            x.softplus(),
            x.gelu(),
            x.tanh(),
            x.clamp(0.0, 1.0),
        ] {
            assert!(y.item().is_nan(), "{y}");
        }
    }

    #[test]
    fn sigmoid_and_softplus_are_stable_for_large_inputs() {
        let x = t(&[-1000.0, -40.0, 40.0, 1000.0]);
        let s = x.sigmoid().to_vec();
        assert_eq!(s[0], 0.0);
        assert!((s[1] - (-40.0f64).exp()).abs() < 1e-30);
        assert_eq!(s[2], 1.0);
        assert_eq!(s[3], 1.0);
        let sp = x.softplus().to_vec();
        assert_eq!(sp[0], 0.0);
        assert!((sp[1] - (-40.0f64).exp()).abs() < 1e-30);
        assert_eq!(sp[2], 40.0);
        assert_eq!(sp[3], 1000.0);
        let xf = x.cast::<f32>();
        let sf = xf.sigmoid().to_vec();
        assert_eq!([sf[0], sf[2], sf[3]], [0.0, 1.0, 1.0]);
        assert!((sf[1] / (-40.0f32).exp() - 1.0).abs() < 1e-6);
        assert!(xf.softplus().to_vec().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn clamp_rejects_inverted_or_nan_bounds() {
        let x = t(&[1.0]);
        let err = x.try_clamp(2.0, 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "clamp: invalid argument: min 2 must not exceed max 1"
        );
        assert!(x.try_clamp(f64::NAN, 1.0).is_err());
        assert_eq!(x.clamp(1.0, 1.0).item(), 1.0);
    }

    #[test]
    fn large_strided_inputs_take_the_parallel_path() {
        // Above PARALLEL_THRESHOLD both the contiguous and the row-broadcast walks split into blocks.
        let a = Tensor::<f32>::from_fn(&[300, 257], |ix| (ix[0] * 257 + ix[1]) as f32);
        let row = Tensor::<f32>::from_fn(&[257], |ix| ix[0] as f32);
        let sum = a.add(&row);
        assert_eq!(sum.get(&[299, 256]), (299 * 257 + 256 + 256) as f32);
        let tr = a.t().mul_scalar(2.0);
        assert_eq!(tr.get(&[256, 299]), 2.0 * (299 * 257 + 256) as f32);
    }
}
