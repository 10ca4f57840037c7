//! Activations and reshaping layers as modules, for use in `Sequential`.

use crate::error::{Result, or_panic};
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

/// Flattens every axis after the first: `[batch, …]` → `[batch, features]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {}

impl<T: Float> Forward<T> for Flatten {
    fn forward(&self, x: &Var<T>, _mode: Mode) -> Var<T> {
        let out = if x.shape().len() <= 2 {
            x.clone()
        } else {
            x.flatten_from(1)
        };
        observe(self, &out);
        out
    }
}
