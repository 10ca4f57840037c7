//! Activations and reshaping layers as modules, for use in `Sequential`.

use crate::error::{NnError, Result, or_panic};
use crate::module::{Forward, Mode, Module};
use crate::summary::{observe, observed};
use tapegrad_autograd::Var;
use tapegrad_tensor::Float;

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl<T: Float> Module<T> for $name {}

        impl<T: Float> Forward<T> for $name {
            fn forward(&self, $x: &Var<T>, _mode: Mode) -> Var<T> {
                let out = $body;
                observe(self, &out);
                out
            }
        }
    };
}

activation!(
    /// `max(x, 0)`.
    Relu,
    |x| x.relu()
);
activation!(
    /// `tanh x`.
    Tanh,
    |x| x.tanh()
);
activation!(
    /// The logistic sigmoid.
    Sigmoid,
    |x| x.sigmoid()
);
activation!(
    /// GELU (exact erf form).
    Gelu,
    |x| x.gelu()
);

activation!(
    /// GELU, tanh approximation (PyTorch: `GELU(approximate="tanh")`).
    GeluTanh,
    |x| x.gelu_with(tapegrad_autograd::ops::GeluApproximate::Tanh)
);
activation!(
    /// SiLU (swish) `x·σ(x)`.
    Silu,
    |x| x.silu()
);
activation!(
    /// Mish `x·tanh(softplus(x))`.
    Mish,
    |x| x.mish()
);

/// ELU with scale `α` for negative inputs (PyTorch's default 1.0).
#[derive(Debug, Clone, Copy)]
pub struct Elu(pub f64);

impl Default for Elu {
    fn default() -> Self {
        Elu(1.0)
    }
}

impl<T: Float> Module<T> for Elu {}

impl<T: Float> Forward<T> for Elu {
    fn forward(&self, x: &Var<T>, _mode: Mode) -> Var<T> {
        let out = x.elu(self.0);
        observe(self, &out);
        out
    }
}

/// Leaky ReLU with a negative slope (PyTorch's default 0.01).
#[derive(Debug, Clone, Copy)]
pub struct LeakyRelu(pub f64);

impl Default for LeakyRelu {
    fn default() -> Self {
        LeakyRelu(0.01)
    }
}

impl<T: Float> Module<T> for LeakyRelu {}

impl<T: Float> Forward<T> for LeakyRelu {
    fn forward(&self, x: &Var<T>, _mode: Mode) -> Var<T> {
        let out = x.leaky_relu(self.0);
        observe(self, &out);
        out
    }
}

/// Softmax along an axis (default the last).
#[derive(Debug, Clone, Copy)]
pub struct Softmax(pub isize);

impl Default for Softmax {
    fn default() -> Self {
        Softmax(-1)
    }
}

impl<T: Float> Module<T> for Softmax {}

impl<T: Float> Forward<T> for Softmax {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        observed(self, x.try_softmax(self.0).map_err(Into::into))
    }
}

/// Log-softmax along an axis (default the last); pair with NLL.
#[derive(Debug, Clone, Copy)]
pub struct LogSoftmax(pub isize);

impl Default for LogSoftmax {
    fn default() -> Self {
        LogSoftmax(-1)
    }
}

impl<T: Float> Module<T> for LogSoftmax {}

impl<T: Float> Forward<T> for LogSoftmax {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        observed(self, x.try_log_softmax(self.0).map_err(Into::into))
    }
}

/// Flattens the axes from a start axis on into one: with the default start 1 (PyTorch's
/// `start_dim`), `[batch, c, h, w]` → `[batch, c·h·w]`. PyTorch: `nn.Flatten` (to the last axis).
///
/// A start axis outside the input's rank is an error naming `Flatten` and the input's shape;
/// starting at the last axis is the identity.
///
/// ```
/// # use tapegrad_nn::{Flatten, Forward, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::new();
/// let x = tape.input(Tensor::<f32>::zeros(&[8, 3, 4, 5]));
/// assert_eq!(Flatten::new().forward(&x, Mode::Eval).shape(), [8, 60]);
/// assert_eq!(Flatten::from_axis(2).forward(&x, Mode::Eval).shape(), [8, 3, 20]);
/// assert_eq!(Flatten::from_axis(-3).forward(&x, Mode::Eval).shape(), [8, 60]);
/// assert_eq!(Flatten::from_axis(0).forward(&x, Mode::Eval).shape(), [480]);
/// assert!(Flatten::from_axis(4).try_forward(&x, Mode::Eval).is_err());
/// assert_eq!(format!("{:?}", Flatten::default()), "Flatten { start: 1 }");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatten {
    start: isize,
}

impl Flatten {
    /// Flattens every axis after the first (`[batch, …]` → `[batch, features]`), PyTorch's default.
    pub fn new() -> Self {
        Flatten { start: 1 }
    }

    /// Flattens the axes from `start` on (negative counts from the end).
    pub fn from_axis(start: isize) -> Self {
        Flatten { start }
    }

    /// The first axis flattened.
    pub fn start(&self) -> isize {
        self.start
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl<T: Float> Module<T> for Flatten {}

impl<T: Float> Forward<T> for Flatten {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` must have an axis `start`.
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let shape = x.shape();
        let rank = shape.len() as isize;
        let start = if self.start < 0 {
            self.start + rank
        } else {
            self.start
        };
        if !(0..rank).contains(&start) {
            return Err(NnError::Input {
                layer: "Flatten",
                what: format!(
                    "cannot flatten from axis {}: the input has no such axis",
                    self.start
                ),
                got: shape.to_vec(),
            });
        }
        let start = start as usize;
        if start + 1 == shape.len() {
            return observed(self, Ok(x.clone()));
        }
        let mut flat = shape[..start].to_vec();
        flat.push(shape[start..].iter().product());
        observed(self, x.try_reshape(&flat).map_err(Into::into))
    }
}
