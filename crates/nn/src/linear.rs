//! `Linear`: `y = x·Wᵀ + b`.

use crate::error::{NnError, Result, or_panic};
use crate::init::Initializer;
use crate::module::{Forward, Mode, Module, Named};
use crate::summary::observed;
use rand::Rng;
use tapegrad_autograd::{Param, Var};
use tapegrad_tensor::{Float, Tensor};

/// A fully connected layer `y = x·Wᵀ + b`, with `W` of shape `[out, in]` (PyTorch's layout, so
/// checkpoints map one to one) and `b` of shape `[out]`.
///
/// `x` is `[batch, in]`; `Wᵀ` is a strided view, never a copy.
///
/// ```
/// # use tapegrad_nn::{Forward, Init, Linear, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// # use rand::{rngs::StdRng, SeedableRng};
/// let layer = Linear::<f32>::new(3, 2, Init::Xavier, &mut StdRng::seed_from_u64(0));
/// let y = layer.forward(&Tape::new().input(Tensor::ones(&[4, 3])), Mode::Eval);
/// assert_eq!(y.shape(), &[4, 2]);
/// assert_eq!(layer.weight().shape(), vec![2, 3]);
/// ```
///
/// Cloning copies the weights: the clone trains independently (PyTorch's `copy.deepcopy`).
pub struct Linear<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
}

impl<T: Float> Clone for Linear<T> {
    fn clone(&self) -> Self {
        Linear {
            weight: self.weight.duplicate(),
            bias: self.bias.as_ref().map(Param::duplicate),
        }
    }
}

impl<T: Float> std::fmt::Debug for Linear<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shape = self.weight.shape();
        f.debug_struct("Linear")
            .field("in_features", &shape[1])
            .field("out_features", &shape[0])
            .field("bias", &self.bias.is_some())
            .finish()
    }
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
    ///
    /// # Panics
    /// If the shapes do not fit; [`Linear::try_from_tensors`] returns the error.
    #[track_caller]
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Self {
        or_panic(Self::try_from_tensors(weight, bias))
    }

    /// Fallible [`Linear::from_tensors`].
    ///
    /// # Errors
    /// [`NnError::Config`] unless the weight is `[out, in]` and the bias, if any, `[out]`.
    pub fn try_from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Result<Self> {
        let fits = match (weight.shape(), &bias) {
            ([_, _], None) => true,
            ([out, _], Some(b)) => b.shape() == [*out],
            _ => false,
        };
        if !fits {
            return Err(NnError::Config {
                what: "Linear",
                why: format!(
                    "needs a weight [out, in] and a bias [out], got weight {:?} and bias {:?}",
                    weight.shape(),
                    bias.as_ref().map(|b| b.shape().to_vec())
                ),
            });
        }
        Ok(Linear {
            weight: Param::new("weight", weight),
            bias: bias.map(|b| Param::new("bias", b)),
        })
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

impl<T: Float> Forward<T> for Linear<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` must be `[.., in]`: any leading axes, the last holding the input features.
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let fan_in = self.weight.shape()[1];
        if x.shape().last() != Some(&fan_in) {
            return Err(NnError::Input {
                layer: "Linear",
                what: format!("expected input [.., {fan_in}]"),
                got: x.shape().to_vec(),
            });
        }
        let tape = x.tape();
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        let out = x.try_linear(&tape.param(&self.weight), bias.as_ref());
        observed(self, out.map_err(Into::into))
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b.clone()));
        }
        out
    }
}
