//! `LayerNorm`: normalise each sample over its trailing axes, then scale and shift.

use crate::error::{NnError, Result, or_panic};
use crate::module::{Forward, Mode, Module, Named};
use crate::summary::observed;
use tapegrad_autograd::{Param, Var};
use tapegrad_tensor::{Float, Tensor};

/// Layer normalisation over the last `normalized_shape.len()` axes:
/// `y = γ ⊙ (x − μ) / √(σ² + ε) + β`, with `μ` and the (biased) variance `σ²` taken over those
/// axes for each leading index separately (PyTorch: `nn.LayerNorm`).
///
/// `γ` (`weight`, ones) and `β` (`bias`, zeros) have the shape `normalized_shape`; ε is 1e-5.
/// No statistic is kept, so [`Mode::Train`] and [`Mode::Eval`] compute the same thing, and a
/// batch of one is fine. The gradient flows through `μ` and `σ²`: the layer is composed from
/// differentiable ops.
///
/// ```
/// # use tapegrad_nn::{Forward, LayerNorm, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let ln = LayerNorm::<f64>::new(&[3]);
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 10.0, 10.0, 40.0], &[2, 3]);
/// let y = ln.forward(&Tape::new().input(x), Mode::Eval).value().to_vec();
/// assert!((y[0] + 1.2247).abs() < 1e-4 && y[1].abs() < 1e-12); // (1 − 2)/√(2/3)
/// assert!((y[3] + 0.7071).abs() < 1e-4 && (y[5] - 1.4142).abs() < 1e-4);
/// assert!(ln.try_forward(&Tape::new().input(Tensor::zeros(&[2, 4])), Mode::Eval).is_err());
/// ```
///
/// Cloning copies `γ` and `β`: the clone trains independently.
pub struct LayerNorm<T: Float> {
    normalized_shape: Vec<usize>,
    weight: Option<Param<T>>,
    bias: Option<Param<T>>,
    eps: f64,
}

impl<T: Float> Clone for LayerNorm<T> {
    fn clone(&self) -> Self {
        LayerNorm {
            normalized_shape: self.normalized_shape.clone(),
            weight: self.weight.as_ref().map(Param::duplicate),
            bias: self.bias.as_ref().map(Param::duplicate),
            eps: self.eps,
        }
    }
}

impl<T: Float> std::fmt::Debug for LayerNorm<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerNorm")
            .field("normalized_shape", &self.normalized_shape)
            .field("eps", &self.eps)
            .field("elementwise_affine", &self.weight.is_some())
            .finish()
    }
}

impl<T: Float> LayerNorm<T> {
    /// A layer normalising over trailing axes of shape `normalized_shape`, with ε = 1e-5 and an
    /// elementwise affine `γ`, `β` (PyTorch's defaults).
    ///
    /// # Panics
    /// If `normalized_shape` is empty; [`LayerNorm::try_new`] returns the error.
    #[track_caller]
    pub fn new(normalized_shape: &[usize]) -> Self {
        or_panic(Self::try_new(normalized_shape))
    }

    /// Fallible [`LayerNorm::new`].
    ///
    /// # Errors
    /// [`NnError::Config`] if `normalized_shape` is empty: there would be no axis to normalise over.
    pub fn try_new(normalized_shape: &[usize]) -> Result<Self> {
        if normalized_shape.is_empty() {
            return Err(NnError::Config {
                what: "LayerNorm",
                why: "normalized_shape must name at least one axis, got []".to_string(),
            });
        }
        Ok(LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            weight: Some(Param::new("weight", Tensor::ones(normalized_shape))),
            bias: Some(Param::new("bias", Tensor::zeros(normalized_shape))),
            eps: 1e-5,
        })
    }

    /// The same layer with another ε, added to the variance before the square root.
    ///
    /// # Panics
    /// If `eps` is negative or not finite; [`LayerNorm::try_with_eps`] returns the error.
    #[track_caller]
    pub fn with_eps(self, eps: f64) -> Self {
        or_panic(self.try_with_eps(eps))
    }

    /// Fallible [`LayerNorm::with_eps`].
    ///
    /// # Errors
    /// [`NnError::Config`] if `eps` is NaN, infinite or negative.
    pub fn try_with_eps(mut self, eps: f64) -> Result<Self> {
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(NnError::Config {
                what: "LayerNorm",
                why: format!("eps must be finite and non-negative, got {eps}"),
            });
        }
        self.eps = eps;
        Ok(self)
    }

    /// The same layer without `γ` and `β` (PyTorch: `elementwise_affine=False`): it has no
    /// parameters.
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// The shape of the trailing axes normalised over.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// `γ`, if the layer has an affine part.
    pub fn weight(&self) -> Option<&Param<T>> {
        self.weight.as_ref()
    }

    /// `β`, if the layer has an affine part.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }
}

impl<T: Float> Forward<T> for LayerNorm<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` must be `[.., *normalized_shape]`: any leading axes, then the normalised ones.
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        if !x.shape().ends_with(&self.normalized_shape) {
            let dims: Vec<String> = self
                .normalized_shape
                .iter()
                .map(|d| d.to_string())
                .collect();
            return Err(NnError::Input {
                layer: "LayerNorm",
                what: format!("expected input [.., {}]", dims.join(", ")),
                got: x.shape().to_vec(),
            });
        }
        let tape = x.tape();
        let weight = self.weight.as_ref().map(|w| tape.param(w));
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        let out = x.try_layer_norm(
            &self.normalized_shape,
            weight.as_ref(),
            bias.as_ref(),
            self.eps,
        )?;
        observed(self, Ok(out))
    }
}

impl<T: Float> Module<T> for LayerNorm<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        let mut out = Vec::new();
        if let Some(w) = &self.weight {
            out.push(("weight".to_string(), w.clone()));
        }
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b.clone()));
        }
        out
    }
}
