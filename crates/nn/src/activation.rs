//! Activations and reshaping layers as modules, for use in `Sequential`.

use crate::error::{or_panic, Result};
use crate::module::{Mode, Module, Named};
use tapegrad_autograd::Var;
use tapegrad_tensor::Float;

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl<T: Float> Module<T> for $name {
            fn forward(&self, $x: &Var<T>, _mode: Mode) -> Var<T> {
                $body
            }
            fn parameters(&self) -> Vec<Named<T>> {
                Vec::new()
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

impl<T: Float> Module<T> for Elu {
    fn forward(&self, x: &Var<T>, _mode: Mode) -> Var<T> {
        x.elu(self.0)
    }
    fn parameters(&self) -> Vec<Named<T>> {
        Vec::new()
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

impl<T: Float> Module<T> for LeakyRelu {
    fn forward(&self, x: &Var<T>, _mode: Mode) -> Var<T> {
        x.leaky_relu(self.0)
    }
    fn parameters(&self) -> Vec<Named<T>> {
        Vec::new()
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

impl<T: Float> Module<T> for Softmax {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        Ok(x.try_softmax(self.0)?)
    }
    fn parameters(&self) -> Vec<Named<T>> {
        Vec::new()
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

impl<T: Float> Module<T> for LogSoftmax {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        Ok(x.try_log_softmax(self.0)?)
    }
    fn parameters(&self) -> Vec<Named<T>> {
        Vec::new()
    }
}

/// Flattens every axis after the first: `[batch, …]` → `[batch, features]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    fn forward(&self, x: &Var<T>, _mode: Mode) -> Var<T> {
        if x.shape().len() <= 2 {
            x.clone()
        } else {
            x.flatten_from(1)
        }
    }
    fn parameters(&self) -> Vec<Named<T>> {
        Vec::new()
    }
}
