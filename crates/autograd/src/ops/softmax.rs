//! Softmax, log-softmax and log-sum-exp along an axis, each fused with its own stable backward:
//! composing them from exp/sum/log would overflow for large logits.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// `y_i = exp(x_i − m) / Σ_j exp(x_j − m)` along `axis`, `m` the max (finite for any finite logits).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f32, 0.0], &[2]));
    /// let y = x.softmax(0);
    /// assert_eq!(y.value().to_vec(), [0.5, 0.5]);
    /// // The outputs always sum to 1, so their sum does not change with x:
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.0, 0.0]);
    /// assert!(x.try_softmax(1).is_err());
    /// ```
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Var<T> {
        or_panic(self.try_softmax(axis))
    }

    /// Fallible [`Var::softmax`].
    pub fn try_softmax(&self, axis: isize) -> Result<Var<T>> {
        let y = self.value().try_softmax(axis)?;
        Ok(self.record(y.clone(), &[self], SoftmaxBackward { y, axis }))
    }

    /// `log softmax(x)` along `axis`, as `x − m − log Σ exp(x − m)`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2]));
    /// let y = x.log_softmax(1);
    /// assert!((y.value().get(&[0, 0]) + std::f64::consts::LN_2).abs() < 1e-12); // ln ½
    /// let g = y.narrow(1, 0, 1).sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [0.5, -0.5]); // one-hot − softmax
    /// assert!(x.try_log_softmax(2).is_err());
    /// ```
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Var<T> {
        or_panic(self.try_log_softmax(axis))
    }

    /// Fallible [`Var::log_softmax`].
    pub fn try_log_softmax(&self, axis: isize) -> Result<Var<T>> {
        let y = self.value().try_log_softmax(axis)?;
        Ok(self.record(y.clone(), &[self], LogSoftmaxBackward { y, axis }))
    }

    /// `log Σ exp(x)` along `axis`, as `m + log Σ exp(x − m)`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![0.0f64, 0.0], &[2]));
    /// let y = x.logsumexp(0, false);
    /// assert!((y.value().item() - std::f64::consts::LN_2).abs() < 1e-12);
    /// assert_eq!(y.backward().wrt(&x).unwrap().to_vec(), [0.5, 0.5]); // softmax(x)
    /// assert!(x.try_logsumexp(1, false).is_err());
    /// ```
    #[track_caller]
    pub fn logsumexp(&self, axis: isize, keepdim: bool) -> Var<T> {
        or_panic(self.try_logsumexp(axis, keepdim))
    }

    /// Fallible [`Var::logsumexp`].
    pub fn try_logsumexp(&self, axis: isize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().try_logsumexp(axis, keepdim)?;
        let kept = self.value().try_logsumexp(axis, true)?;
        let saved = LogSumExpBackward {
            x: self.value().clone(),
            lse: kept,
        };
        Ok(self.record(out, &[self], saved))
    }
}

/// Gradient of softmax: `∂L/∂x = y ⊙ (g − Σ_j g_j y_j)` along the axis.
struct SoftmaxBackward<T> {
    y: Tensor<T>,
    axis: isize,
}

impl<T: Float> Backward<T> for SoftmaxBackward<T> {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(self.y.softmax_backward(g, self.axis))]
    }
}

/// Gradient of log-softmax: `∂L/∂x = g − softmax(x) · Σ_j g_j` along the axis, with `softmax = e^y`.
struct LogSoftmaxBackward<T> {
    y: Tensor<T>,
    axis: isize,
}

impl<T: Float> Backward<T> for LogSoftmaxBackward<T> {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(self.y.log_softmax_backward(g, self.axis))]
    }
}

/// Gradient of log-sum-exp: `∂L/∂x = g · softmax(x) = g · exp(x − lse)`.
struct LogSumExpBackward<T> {
    x: Tensor<T>,
    lse: Tensor<T>,
}

impl<T: Float> Backward<T> for LogSumExpBackward<T> {
    fn name(&self) -> &'static str {
        "logsumexp"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let softmax = self.x.sub(&self.lse).exp();
        vec![Some(softmax.mul(&g.reshape(self.lse.shape())))]
    }
}
