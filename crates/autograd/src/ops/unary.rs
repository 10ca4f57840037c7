//! Pointwise functions, each stated as `f` and its derivative for the generic [`Unary`] driver.
//!
//! Non-differentiable points take the conventional one-sided value (relu'(0) = 0, |x|'(0) = 0,
//! clamp passes the gradient only strictly inside its range); gradcheck tests avoid those points.

use crate::backward::{Reads, Unary};
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, TensorError};

/// `eˣ`; derivative `y`.
#[derive(Clone, Copy)]
pub struct Exp;
impl Unary for Exp {
    const NAME: &'static str = "exp";
    const DF_READS: Reads = Reads::Output;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x.exp()
    }
    #[inline(always)]
    fn df<T: Float>(self, _x: T, y: T) -> T {
        y
    }
}

/// `ln x`; derivative `1/x`.
#[derive(Clone, Copy)]
pub struct Log;
impl Unary for Log {
    const NAME: &'static str = "log";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x.ln()
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        T::ONE / x
    }
}

/// `√x`; derivative `1/(2y)`.
#[derive(Clone, Copy)]
pub struct Sqrt;
impl Unary for Sqrt {
    const NAME: &'static str = "sqrt";
    const DF_READS: Reads = Reads::Output;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x.sqrt()
    }
    #[inline(always)]
    fn df<T: Float>(self, _x: T, y: T) -> T {
        T::ONE / (y + y)
    }
}

/// `xᵖ` for a fixed real `p`; derivative `p·xᵖ⁻¹`.
#[derive(Clone, Copy)]
pub struct Powf(pub f64);
impl Unary for Powf {
    const NAME: &'static str = "powf";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x.powf(T::from_f64(self.0))
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        T::from_f64(self.0) * x.powf(T::from_f64(self.0 - 1.0))
    }
}

/// `|x|`; derivative `sign(x)` (0 at 0).
#[derive(Clone, Copy)]
pub struct Abs;
impl Unary for Abs {
    const NAME: &'static str = "abs";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x.abs()
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else if x < T::ZERO {
            -T::ONE
        } else {
            T::ZERO
        }
    }
}

/// `tanh x`; derivative `1 − y²`.
#[derive(Clone, Copy)]
pub struct Tanh;
impl Unary for Tanh {
    const NAME: &'static str = "tanh";
    const DF_READS: Reads = Reads::Output;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x.tanh()
    }
    #[inline(always)]
    fn df<T: Float>(self, _x: T, y: T) -> T {
        T::ONE - y * y
    }
}

/// `σ(x) = 1/(1 + e⁻ˣ)`, evaluated without overflow for large `|x|`; derivative `y(1 − y)`.
#[derive(Clone, Copy)]
pub struct Sigmoid;
impl Unary for Sigmoid {
    const NAME: &'static str = "sigmoid";
    const DF_READS: Reads = Reads::Output;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        // One exponential of −|x| ≤ 0 for either sign: it never overflows.
        x.sigmoid()
    }
    #[inline(always)]
    fn df<T: Float>(self, _x: T, y: T) -> T {
        y * (T::ONE - y)
    }
}

/// `max(x, 0)`; derivative `1` for `x > 0`, else `0`.
#[derive(Clone, Copy)]
pub struct Relu;
impl Unary for Relu {
    const NAME: &'static str = "relu";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        // NaN passes through (as in Tensor::relu), so an overflow upstream stays visible.
        if x > T::ZERO || x.is_nan() {
            x
        } else {
            T::ZERO
        }
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        if x > T::ZERO { T::ONE } else { T::ZERO }
    }
}

/// `x` for `x > 0`, else `slope·x`; derivative `1` or `slope`.
#[derive(Clone, Copy)]
pub struct LeakyRelu(pub f64);
impl Unary for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        if x > T::ZERO {
            x
        } else {
            T::from_f64(self.0) * x
        }
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else {
            T::from_f64(self.0)
        }
    }
}

/// `GELU(x) = x·Φ(x) = ½x(1 + erf(x/√2))` (exact form); derivative `Φ(x) + x·φ(x)`.
#[derive(Clone, Copy)]
pub struct Gelu;
impl Unary for Gelu {
    const NAME: &'static str = "gelu";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x * x.normal_cdf()
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        x.normal_cdf() + x * x.normal_pdf()
    }
}

/// GELU's tanh approximation `½x(1 + tanh(u))`, `u = √(2/π)(x + 0.044715x³)` (PyTorch's
/// `approximate="tanh"`); derivative `½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)`, `t = tanh u`.
#[derive(Clone, Copy)]
pub struct GeluTanh;
impl GeluTanh {
    const K: f64 = 0.797_884_560_802_865_4; // √(2/π)
    const C: f64 = 0.044_715;
    #[inline(always)]
    fn t<T: Float>(x: T) -> T {
        (T::from_f64(Self::K) * (x + T::from_f64(Self::C) * x * x * x)).tanh()
    }
}
impl Unary for GeluTanh {
    const NAME: &'static str = "gelu_tanh";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        T::from_f64(0.5) * x * (T::ONE + Self::t(x))
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        let t = Self::t(x);
        let du = T::from_f64(Self::K) * (T::ONE + T::from_f64(3.0 * Self::C) * x * x);
        T::from_f64(0.5) * (T::ONE + t) + T::from_f64(0.5) * x * (T::ONE - t * t) * du
    }
}

/// SiLU (swish with β = 1) `x·σ(x)`; derivative `σ(x)·(1 + x(1 − σ(x)))`.
#[derive(Clone, Copy)]
pub struct Silu;
impl Unary for Silu {
    const NAME: &'static str = "silu";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x * Sigmoid.f(x)
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        let s = Sigmoid.f(x);
        s * (T::ONE + x * (T::ONE - s))
    }
}

/// ELU `x` for `x > 0`, else `α(eˣ − 1)`; derivative `1`, else `y + α`.
#[derive(Clone, Copy)]
pub struct Elu(pub f64);
impl Unary for Elu {
    const NAME: &'static str = "elu";
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        if x > T::ZERO {
            x
        } else {
            T::from_f64(self.0) * (x.exp() - T::ONE)
        }
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, y: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else {
            y + T::from_f64(self.0)
        }
    }
}

/// Mish `x·tanh(softplus(x))`; derivative `tanh(s) + x·(1 − tanh²(s))·σ(x)`, `s = softplus(x)`.
#[derive(Clone, Copy)]
pub struct Mish;
impl Unary for Mish {
    const NAME: &'static str = "mish";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x * Softplus.f(x).tanh()
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        let t = Softplus.f(x).tanh();
        t + x * (T::ONE - t * t) * Sigmoid.f(x)
    }
}

/// Which GELU [`Var::gelu_with`] computes (PyTorch's `approximate` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeluApproximate {
    /// The exact erf form (the default).
    #[default]
    None,
    /// The tanh approximation.
    Tanh,
}

/// `softplus(x) = ln(1 + eˣ)`, as `max(x, 0) + ln(1 + e^{−|x|})` so it never overflows; derivative `σ(x)`.
#[derive(Clone, Copy)]
pub struct Softplus;
impl Unary for Softplus {
    const NAME: &'static str = "softplus";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        let pos = if x > T::ZERO { x } else { T::ZERO };
        pos + (-x.abs()).exp().ln_1p()
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        Sigmoid.f(x)
    }
}

/// `min(max(x, lo), hi)`; derivative `1` strictly inside `(lo, hi)`, else `0`.
#[derive(Clone, Copy)]
pub struct Clamp(pub f64, pub f64);
impl Unary for Clamp {
    const NAME: &'static str = "clamp";
    const DF_READS: Reads = Reads::Input;
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        let (lo, hi) = (T::from_f64(self.0), T::from_f64(self.1));
        if x < lo {
            lo
        } else if x > hi {
            hi
        } else {
            x
        }
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        if x > T::from_f64(self.0) && x < T::from_f64(self.1) {
            T::ONE
        } else {
            T::ZERO
        }
    }
}

impl<T: Float> Var<T> {
    /// `eˣ` elementwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f64, 1.0], &[2]));
    /// let y = x.exp();
    /// assert_eq!(y.value().get(&[0]), 1.0);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), y.value().to_vec()); // (eˣ)' = eˣ
    /// ```
    pub fn exp(&self) -> Var<T> {
        self.unary(Exp)
    }
    /// `ln x` elementwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 4.0], &[3]));
    /// let y = x.log();
    /// assert_eq!(y.value().get(&[0]), 0.0);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [1.0, 0.5, 0.25]); // 1/x
    /// ```
    pub fn log(&self) -> Var<T> {
        self.unary(Log)
    }
    /// `√x` elementwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![4.0f32, 16.0], &[2]));
    /// let y = x.sqrt();
    /// assert_eq!(y.value().to_vec(), [2.0, 4.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.25, 0.125]); // 1/(2√x)
    /// ```
    pub fn sqrt(&self) -> Var<T> {
        self.unary(Sqrt)
    }
    /// `xᵖ` elementwise for a fixed real exponent.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![2.0f32, 3.0], &[2]));
    /// let y = x.powf(2.0);
    /// assert_eq!(y.value().to_vec(), [4.0, 9.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [4.0, 6.0]); // 2x
    /// ```
    pub fn powf(&self, p: f64) -> Var<T> {
        self.unary(Powf(p))
    }
    /// `x²` elementwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![-3.0f32, 0.5], &[2]));
    /// let y = x.square();
    /// assert_eq!(y.value().to_vec(), [9.0, 0.25]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [-6.0, 1.0]); // 2x
    /// ```
    pub fn square(&self) -> Var<T> {
        self.mul(self)
    }
    /// `|x|` elementwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, -2.0], &[2]));
    /// let y = x.abs();
    /// assert_eq!(y.value().to_vec(), [1.0, 2.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [1.0, -1.0]);
    /// ```
    pub fn abs(&self) -> Var<T> {
        self.unary(Abs)
    }
    /// `tanh x` elementwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f64, 1.0], &[2]));
    /// let y = x.tanh();
    /// assert_eq!(y.value().get(&[0]), 0.0);
    /// assert!((y.value().get(&[1]) - 0.761_594_155_955_764_9).abs() < 1e-12);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().get(&[0]), 1.0); // 1 − tanh²
    /// ```
    pub fn tanh(&self) -> Var<T> {
        self.unary(Tanh)
    }
    /// The logistic sigmoid elementwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f32, 100.0], &[2]));
    /// let y = x.sigmoid();
    /// assert_eq!(y.value().to_vec(), [0.5, 1.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.25, 0.0]); // σ(1 − σ)
    /// ```
    pub fn sigmoid(&self) -> Var<T> {
        self.unary(Sigmoid)
    }
    /// `max(x, 0)` elementwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![-1.0f32, 2.0], &[2]));
    /// let y = x.relu();
    /// assert_eq!(y.value().to_vec(), [0.0, 2.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.0, 1.0]);
    /// ```
    pub fn relu(&self) -> Var<T> {
        self.unary(Relu)
    }
    /// Leaky ReLU with negative `slope`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![-2.0f32, 3.0], &[2]));
    /// let y = x.leaky_relu(0.5);
    /// assert_eq!(y.value().to_vec(), [-1.0, 3.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.5, 1.0]);
    /// ```
    pub fn leaky_relu(&self, slope: f64) -> Var<T> {
        self.unary(LeakyRelu(slope))
    }
    /// GELU, exact (erf) form.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f64, 1.0], &[2]));
    /// let y = x.gelu();
    /// assert_eq!(y.value().get(&[0]), 0.0);
    /// assert!((y.value().get(&[1]) - 0.841_344_746_068_542_9).abs() < 1e-12); // 1·Φ(1)
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().get(&[0]), 0.5); // Φ(0)
    /// ```
    pub fn gelu(&self) -> Var<T> {
        self.unary(Gelu)
    }
    /// GELU, exact or tanh-approximated (PyTorch: `gelu(x, approximate=…)`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::from_vec(vec![1.0f64], &[1]));
    /// let exact = x.gelu_with(GeluApproximate::None).value().item();
    /// let approx = x.gelu_with(GeluApproximate::Tanh).value().item();
    /// assert_eq!(exact, x.gelu().value().item());
    /// assert!((exact - 0.841_345).abs() < 1e-6 && (approx - 0.841_192).abs() < 1e-6);
    /// ```
    pub fn gelu_with(&self, approximate: GeluApproximate) -> Var<T> {
        match approximate {
            GeluApproximate::None => self.unary(Gelu),
            GeluApproximate::Tanh => self.unary(GeluTanh),
        }
    }
    /// SiLU (swish) `x·σ(x)`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f64, 1.0], &[2]));
    /// let y = x.silu();
    /// assert_eq!(y.value().get(&[0]), 0.0);
    /// assert!((y.value().get(&[1]) - 0.731_058_6).abs() < 1e-6); // 1·σ(1)
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().get(&[0]), 0.5); // σ(0)
    /// ```
    pub fn silu(&self) -> Var<T> {
        self.unary(Silu)
    }
    /// ELU with scale `alpha` for negative inputs (PyTorch's default 1.0).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![2.0f64, -1.0], &[2]));
    /// let y = x.elu(1.0);
    /// assert_eq!(y.value().get(&[0]), 2.0);
    /// assert!((y.value().get(&[1]) - (-0.632_120_6)).abs() < 1e-6); // e⁻¹ − 1
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().get(&[0]), 1.0);
    /// ```
    pub fn elu(&self, alpha: f64) -> Var<T> {
        self.unary(Elu(alpha))
    }
    /// Mish `x·tanh(softplus(x))`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::from_vec(vec![0.0f64, 1.0], &[2]));
    /// let y = x.mish();
    /// assert_eq!(y.value().get(&[0]), 0.0);
    /// assert!((y.value().get(&[1]) - 0.865_098_4).abs() < 1e-6); // tanh(ln(1 + e))
    /// ```
    pub fn mish(&self) -> Var<T> {
        self.unary(Mish)
    }
    /// `ln(1 + eˣ)`, computed stably.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f64], &[1]));
    /// let y = x.softplus();
    /// assert!((y.value().item() - std::f64::consts::LN_2).abs() < 1e-12);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().item(), 0.5); // σ(0)
    /// ```
    pub fn softplus(&self) -> Var<T> {
        self.unary(Softplus)
    }
    /// `min(max(x, min), max)` elementwise; NaN stays NaN. The bounds are element values, so
    /// they take `T` as [`Tensor::clamp`](tapegrad_tensor::Tensor::clamp) and the `*_scalar` ops do (PyTorch: `torch.clamp`).
    ///
    /// Gradient `g` strictly inside `(min, max)`, else 0.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], &[3]));
    /// let y = x.clamp(-1.0, 1.0);
    /// assert_eq!(y.value().to_vec(), [-1.0, 0.5, 1.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.0, 1.0, 0.0]);
    /// assert!(x.try_clamp(1.0, -1.0).is_err());
    /// ```
    ///
    /// # Panics
    /// If `min > max` or either bound is NaN; [`Var::try_clamp`] returns the error.
    #[track_caller]
    pub fn clamp(&self, min: T, max: T) -> Var<T> {
        or_panic(self.try_clamp(min, max))
    }
    /// Fallible [`Var::clamp`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `clamp` if `min > max` or either bound is NaN,
    /// with [`Tensor::try_clamp`](tapegrad_tensor::Tensor::try_clamp)'s message.
    pub fn try_clamp(&self, min: T, max: T) -> Result<Var<T>> {
        // The tensor op's check, so both forms refuse the same bounds with the same message.
        if min.is_nan() || max.is_nan() || min > max {
            return Err(TensorError::InvalidArgument {
                op: "clamp",
                what: format!("min {min} must not exceed max {max}"),
            }
            .into());
        }
        // `T` → `f64` is exact for f32 and f64, so the op compares against the bounds as given.
        Ok(self.unary(Clamp(min.to_f64(), max.to_f64())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values against the published definitions (PyTorch gives the same to 7 digits).
    #[test]
    fn new_activations_match_reference_values() {
        let cases: [(&str, f64, f64); 8] = [
            ("silu", 1.0, Silu.f(1.0)),
            ("silu", -2.0, Silu.f(-2.0)),
            ("elu", -1.0, Elu(1.0).f(-1.0)),
            ("elu", 2.0, Elu(1.0).f(2.0)),
            ("mish", 1.0, Mish.f(1.0)),
            ("mish", -1.0, Mish.f(-1.0)),
            ("gelu_tanh", 1.0, GeluTanh.f(1.0)),
            ("gelu_tanh", -0.5, GeluTanh.f(-0.5)),
        ];
        let want = [
            0.731_058_6,
            -0.238_405_8,
            -0.632_120_6,
            2.0,
            0.865_098_4,
            -0.303_401_4,
            0.841_192_0,
            -0.154_285_9,
        ];
        for ((name, x, got), want) in cases.into_iter().zip(want) {
            assert!(
                (got - want).abs() < 1e-6,
                "{name}({x}) = {got}, want {want}"
            );
        }
    }
}
