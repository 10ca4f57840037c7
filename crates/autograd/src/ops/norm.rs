//! Layer normalisation as one op: the fused kernels of `tapegrad-tensor` forward, and one rule
//! that gives `∂x`, `∂γ` and `∂β` together.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// Layer normalisation over the trailing axes `normalized_shape`, with an optional
    /// elementwise `weight` γ and `bias` β of that shape: `(x − μ)/√(σ² + ε)·γ + β`, `σ²` the
    /// biased variance (PyTorch: `torch.nn.functional.layer_norm`). One op with a fused
    /// backward; [`LayerNorm`](../../tapegrad_nn/struct.LayerNorm.html) records it.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f64, 3.0, 0.0, 4.0], &[2, 2]));
    /// let gamma = tape.input_with_grad(Tensor::from_vec(vec![2.0, 1.0], &[2]));
    /// let y = x.layer_norm(&[2], Some(&gamma), None, 0.0);
    /// assert_eq!(y.value().to_vec(), [-2.0, 1.0, -2.0, 1.0]);
    /// let grads = y.sum_all().backward();
    /// assert_eq!(grads.wrt(&gamma).unwrap().to_vec(), [-2.0, 2.0]);
    /// assert!(x.try_layer_norm(&[3], None, None, 1e-5).is_err());
    /// ```
    ///
    /// # Panics
    /// Where [`Var::try_layer_norm`] returns an error, with its message.
    #[track_caller]
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Var<T>>,
        bias: Option<&Var<T>>,
        eps: f64,
    ) -> Var<T> {
        or_panic(self.try_layer_norm(normalized_shape, weight, bias, eps))
    }

    /// Fallible [`Var::layer_norm`].
    ///
    /// # Errors
    /// A shape error naming `layer_norm` and the shapes if `x` does not end with
    /// `normalized_shape` or `weight`/`bias` is not of that shape; `InvalidArgument` for a
    /// negative or NaN `eps`; `TapeMismatch` for vars of another tape.
    pub fn try_layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Var<T>>,
        bias: Option<&Var<T>>,
        eps: f64,
    ) -> Result<Var<T>> {
        let out = self.value().try_layer_norm(
            normalized_shape,
            weight.map(Var::value),
            bias.map(Var::value),
            T::from_f64(eps),
        )?;
        let saved = LayerNormBackward {
            x: self.value().clone(),
            weight: weight.map(|w| w.value().clone()),
            has_bias: bias.is_some(),
            normalized_shape: normalized_shape.to_vec(),
            mean: out.mean,
            rstd: out.rstd,
        };
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        self.try_record(out.y, &inputs, saved)
    }
}

/// Gradient of layer normalisation: with `x̂ = (x − μ)·r` and `ĝ = g·γ`,
/// `∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))`, `∂γ = Σ g·x̂`, `∂β = Σ g` over the rows.
struct LayerNormBackward<T: Float> {
    x: Tensor<T>,
    weight: Option<Tensor<T>>,
    has_bias: bool,
    normalized_shape: Vec<usize>,
    mean: Tensor<T>,
    rstd: Tensor<T>,
}

impl<T: Float> Backward<T> for LayerNormBackward<T> {
    fn name(&self) -> &'static str {
        "layer_norm"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let bias_at = 1 + self.weight.is_some() as usize;
        let grads = self.x.layer_norm_backward(
            g,
            &self.normalized_shape,
            &self.mean,
            &self.rstd,
            self.weight.as_ref(),
            self.has_bias && needs[bias_at],
        );
        let mut out = vec![Some(grads.x)];
        if self.weight.is_some() {
            out.push(grads.weight.filter(|_| needs[1]));
        }
        if self.has_bias {
            out.push(grads.bias);
        }
        out
    }
}
