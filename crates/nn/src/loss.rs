//! Loss modules: configuration plus a call into the fused autograd losses.
//!
//! Each `forward` panics where its `try_forward` returns an error, with its message; the mean
//! over an empty batch is such an error, naming the loss and the input's shape.

use crate::error::Result;
use tapegrad_autograd::Var;
use tapegrad_autograd::ops::{CrossEntropyOptions, Reduction};
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

/// Absolute error `|prediction − target|` (PyTorch: `L1Loss`).
///
/// ```
/// # use tapegrad_nn::L1Loss;
/// # use tapegrad_autograd::{ops::Reduction, Tape};
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::new();
/// let prediction = tape.input(Tensor::from_vec(vec![1.0f64, -2.0], &[2]));
/// let target = tape.input(Tensor::from_vec(vec![0.0, 0.0], &[2]));
/// assert_eq!(L1Loss::default().forward(&prediction, &target).value().item(), 1.5);
/// let sum = L1Loss { reduction: Reduction::Sum };
/// assert_eq!(sum.forward(&prediction, &target).value().item(), 3.0);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct L1Loss {
    /// How per-element losses combine.
    pub reduction: Reduction,
}

impl L1Loss {
    /// The loss of a prediction against a same-shaped target.
    #[track_caller]
    pub fn forward<T: Float>(&self, prediction: &Var<T>, target: &Var<T>) -> Var<T> {
        prediction.l1(target, self.reduction)
    }

    /// Fallible [`L1Loss::forward`]; see [`Var::try_l1`] for the errors.
    pub fn try_forward<T: Float>(&self, prediction: &Var<T>, target: &Var<T>) -> Result<Var<T>> {
        Ok(prediction.try_l1(target, self.reduction)?)
    }
}

/// Huber loss: `½d²` for an error `|d| ≤ δ`, else `δ(|d| − ½δ)` (PyTorch: `HuberLoss`; its
/// `SmoothL1Loss` is this divided by `δ`).
///
/// ```
/// # use tapegrad_nn::HuberLoss;
/// # use tapegrad_autograd::{ops::Reduction, Tape};
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::new();
/// let prediction = tape.input(Tensor::from_vec(vec![0.5f64, 3.0], &[2]));
/// let target = tape.input(Tensor::zeros(&[2]));
/// let loss = HuberLoss { reduction: Reduction::Sum, ..Default::default() };
/// // δ = 1: ½·0.5² + 1·(3 − ½)
/// assert_eq!(loss.forward(&prediction, &target).value().item(), 2.625);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HuberLoss {
    /// `δ`, where the loss turns from quadratic to linear; positive and finite. Default `1.0`.
    pub delta: f64,
    /// How per-element losses combine. Default [`Reduction::Mean`].
    pub reduction: Reduction,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss {
            delta: 1.0,
            reduction: Reduction::default(),
        }
    }
}

impl HuberLoss {
    /// The loss of a prediction against a same-shaped target.
    ///
    /// # Panics
    /// Where [`HuberLoss::try_forward`] returns an error, with its message.
    #[track_caller]
    pub fn forward<T: Float>(&self, prediction: &Var<T>, target: &Var<T>) -> Var<T> {
        prediction.huber(target, self.delta, self.reduction)
    }

    /// Fallible [`HuberLoss::forward`]; see [`Var::try_huber`] for the errors (a `delta` that is
    /// not positive and finite among them).
    pub fn try_forward<T: Float>(&self, prediction: &Var<T>, target: &Var<T>) -> Result<Var<T>> {
        Ok(prediction.try_huber(target, self.delta, self.reduction)?)
    }
}

/// KL divergence `Σ p·(ln p − x)` of the model's log-probabilities `x` from target
/// probabilities `p` (PyTorch: `KLDivLoss` with `log_target=False`).
///
/// As in PyTorch, the input is log-probabilities (a [`Var::log_softmax`] output) and the target
/// plain probabilities; a target of 0 contributes exactly 0. [`Reduction::Mean`] averages over
/// every element, as PyTorch's `reduction='mean'`; the KL divergence per sample (PyTorch's
/// `batchmean`) is [`Reduction::Sum`] divided by the batch size.
///
/// ```
/// # use tapegrad_nn::KlDivLoss;
/// # use tapegrad_autograd::{ops::Reduction, Tape};
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::new();
/// let log_probs = tape.input(Tensor::from_vec(vec![0.5f64.ln(), 0.5f64.ln()], &[1, 2]));
/// let target = Tensor::from_vec(vec![1.0, 0.0], &[1, 2]);
/// let loss = KlDivLoss { reduction: Reduction::Sum };
/// // 1·(ln 1 − ln ½) + 0
/// assert!((loss.forward(&log_probs, &target).value().item() - 2f64.ln()).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct KlDivLoss {
    /// How per-element losses combine.
    pub reduction: Reduction,
}

impl KlDivLoss {
    /// The loss of log-probabilities against same-shaped target probabilities.
    #[track_caller]
    pub fn forward<T: Float>(&self, log_probs: &Var<T>, target: &Tensor<T>) -> Var<T> {
        log_probs.kl_div(target, self.reduction)
    }

    /// Fallible [`KlDivLoss::forward`]; see [`Var::try_kl_div`] for the errors.
    pub fn try_forward<T: Float>(&self, log_probs: &Var<T>, target: &Tensor<T>) -> Result<Var<T>> {
        Ok(log_probs.try_kl_div(target, self.reduction)?)
    }
}
