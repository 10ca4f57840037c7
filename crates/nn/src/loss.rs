//! Loss modules: configuration plus a call into the fused autograd losses.
//!
//! Each `forward` panics where its `try_forward` returns an error, with its message; the mean
//! over an empty batch is such an error, naming the loss and the input's shape.

use crate::error::Result;
use tapegrad_autograd::ops::{CrossEntropyOptions, Reduction};
use tapegrad_autograd::Var;
use tapegrad_tensor::{Float, Tensor};

/// Cross-entropy of logits against class indices, optionally label-smoothed.
///
/// ```
/// # use tapegrad_nn::CrossEntropyLoss;
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::new();
/// let logits = tape.input(Tensor::<f64>::zeros(&[2, 4]));
/// let loss = CrossEntropyLoss::default().forward(&logits, &[0, 3]);
/// assert!((loss.value().item() - 4f64.ln()).abs() < 1e-12); // uniform over 4 classes
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropyLoss {
    /// Reduction and label smoothing.
    pub options: CrossEntropyOptions,
}

impl CrossEntropyLoss {
    /// Mean cross-entropy with label smoothing `eps`.
    pub fn smoothed(eps: f64) -> Self {
        CrossEntropyLoss {
            options: CrossEntropyOptions {
                label_smoothing: eps,
                ..Default::default()
            },
        }
    }

    /// The loss of `[batch, classes]` logits.
    #[track_caller]
    pub fn forward<T: Float>(&self, logits: &Var<T>, targets: &[usize]) -> Var<T> {
        logits.cross_entropy_with(targets, self.options)
    }

    /// Fallible [`CrossEntropyLoss::forward`]; see [`Var::try_cross_entropy_with`] for the errors.
    pub fn try_forward<T: Float>(&self, logits: &Var<T>, targets: &[usize]) -> Result<Var<T>> {
        Ok(logits.try_cross_entropy_with(targets, self.options)?)
    }
}

/// Negative log-likelihood of log-probabilities against class indices.
#[derive(Debug, Clone, Copy, Default)]
pub struct NllLoss {
    /// How per-sample losses combine.
    pub reduction: Reduction,
}

impl NllLoss {
    /// The loss of `[batch, classes]` log-probabilities.
    #[track_caller]
    pub fn forward<T: Float>(&self, log_probs: &Var<T>, targets: &[usize]) -> Var<T> {
        log_probs.nll(targets, self.reduction)
    }

    /// Fallible [`NllLoss::forward`]; see [`Var::try_nll`] for the errors.
    pub fn try_forward<T: Float>(&self, log_probs: &Var<T>, targets: &[usize]) -> Result<Var<T>> {
        Ok(log_probs.try_nll(targets, self.reduction)?)
    }
}

/// Squared error.
#[derive(Debug, Clone, Copy, Default)]
pub struct MseLoss {
    /// How per-element losses combine.
    pub reduction: Reduction,
}

impl MseLoss {
    /// The loss of a prediction against a same-shaped target.
    #[track_caller]
    pub fn forward<T: Float>(&self, prediction: &Var<T>, target: &Var<T>) -> Var<T> {
        prediction.mse(target, self.reduction)
    }

    /// Fallible [`MseLoss::forward`]; see [`Var::try_mse`] for the errors.
    pub fn try_forward<T: Float>(&self, prediction: &Var<T>, target: &Var<T>) -> Result<Var<T>> {
        Ok(prediction.try_mse(target, self.reduction)?)
    }
}

/// Binary cross-entropy of logits (sigmoid folded in, stable for any logit).
#[derive(Debug, Clone, Copy, Default)]
pub struct BceWithLogitsLoss {
    /// How per-element losses combine.
    pub reduction: Reduction,
}

impl BceWithLogitsLoss {
    /// The loss of logits against targets in `[0, 1]`.
    #[track_caller]
    pub fn forward<T: Float>(&self, logits: &Var<T>, targets: &Tensor<T>) -> Var<T> {
        logits.binary_cross_entropy_with_logits(targets, self.reduction)
    }

    /// Fallible [`BceWithLogitsLoss::forward`]; see
    /// [`Var::try_binary_cross_entropy_with_logits`] for the errors.
    pub fn try_forward<T: Float>(&self, logits: &Var<T>, targets: &Tensor<T>) -> Result<Var<T>> {
        Ok(logits.try_binary_cross_entropy_with_logits(targets, self.reduction)?)
    }
}
