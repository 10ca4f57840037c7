//! `Linear`: `y = x·Wᵀ + b`.

use crate::init::Initializer;
use crate::module::{Mode, Module, Named};
use rand::Rng;
use tapegrad_autograd::{Param, Var};
use tapegrad_tensor::{Float, Tensor};

/// A fully connected layer `y = x·Wᵀ + b`, with `W` of shape `[out, in]` (PyTorch's layout, so
/// checkpoints map one to one) and `b` of shape `[out]`.
///
/// `x` is `[batch, in]`; `Wᵀ` is a strided view, never a copy.
///
/// ```
/// # use tapegrad_nn::{Init, Linear, Mode, Module};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// # use rand::{rngs::StdRng, SeedableRng};
/// let layer = Linear::<f32>::new(3, 2, Init::Xavier, &mut StdRng::seed_from_u64(0));
/// let y = layer.forward(&Tape::new().input(Tensor::ones(&[4, 3])), Mode::Eval);
/// assert_eq!(y.shape(), &[4, 2]);
/// assert_eq!(layer.weight().shape(), vec![2, 3]);
/// ```
pub struct Linear<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
}

impl<T: Float> Linear<T> {
    /// A layer from `fan_in` to `fan_out` units, weights drawn from `init`, bias zero.
    pub fn new(
        fan_in: usize,
        fan_out: usize,
        init: impl Into<Initializer>,
        rng: &mut impl Rng,
    ) -> Self {
        let w = init.into().sample(&[fan_out, fan_in], fan_in, fan_out, rng);
        Linear {
            weight: Param::new("weight", w),
            bias: Some(Param::new("bias", Tensor::zeros(&[fan_out]))),
        }
    }

    /// The same layer without a bias term.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// A layer with given weight `[out, in]` and optional bias `[out]`.
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Self {
        Linear {
            weight: Param::new("weight", weight),
            bias: bias.map(|b| Param::new("bias", b)),
        }
    }

    /// The weight parameter.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The bias parameter, if any.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn forward(&self, x: &Var<T>, _mode: Mode) -> Var<T> {
        let tape = x.tape();
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        x.linear(&tape.param(&self.weight), bias.as_ref())
    }

    fn parameters(&self) -> Vec<Named<T>> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b.clone()));
        }
        out
    }
}
