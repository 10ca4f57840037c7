//! `BatchNorm1d`: normalise each feature over the batch, then scale and shift.

use crate::error::{NnError, Result, or_panic};
use crate::module::{Forward, Mode, Module, Named};
use crate::summary::observed;
use tapegrad_autograd::{Param, Var};
use tapegrad_tensor::{Float, Tensor};

/// Batch normalisation over `[batch, features]` inputs:
/// `y = γ · (x − μ_B) / √(σ²_B + ε) + β` with the batch's mean and (population) variance.
///
/// In [`Mode::Train`] the batch statistics are used and folded into running estimates,
/// `r ← (1 − momentum)·r + momentum·stat`, with the running variance unbiased (`n/(n−1)·σ²_B`) as
/// PyTorch keeps it; in [`Mode::Eval`] the running estimates replace the batch statistics.
/// The gradient flows through μ_B and σ²_B: the op is composed from differentiable ones.
///
/// The input must be `[N, features]`. Training needs `N > 1`, as in PyTorch: one sample has no
/// spread to normalise by, and its unbiased variance divides by `N − 1 = 0`; an empty batch
/// has no statistics at all. Such a pass is an error that leaves the running statistics
/// untouched. Evaluation takes any `N`, 0 included.
///
/// ```
/// # use tapegrad_nn::{BatchNorm1d, Forward, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let bn = BatchNorm1d::<f64>::new(2);
/// let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]);
/// let y = bn.forward(&Tape::new().input(x), Mode::Train);
/// let v = y.value().to_vec();
/// assert!((v[0] + 1.0).abs() < 1e-4 && (v[3] - 1.0).abs() < 1e-4); // each feature standardised
/// ```
///
/// Cloning copies the parameters and running statistics: the clone trains independently.
pub struct BatchNorm1d<T: Float> {
    gamma: Param<T>,
    beta: Param<T>,
    running_mean: Param<T>,
    running_var: Param<T>,
    momentum: f64,
    eps: f64,
}

impl<T: Float> Clone for BatchNorm1d<T> {
    fn clone(&self) -> Self {
        BatchNorm1d {
            gamma: self.gamma.duplicate(),
            beta: self.beta.duplicate(),
            running_mean: self.running_mean.duplicate(),
            running_var: self.running_var.duplicate(),
            momentum: self.momentum,
            eps: self.eps,
        }
    }
}

impl<T: Float> std::fmt::Debug for BatchNorm1d<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchNorm1d")
            .field("features", &self.gamma.numel())
            .field("momentum", &self.momentum)
            .field("eps", &self.eps)
            .finish()
    }
}

impl<T: Float> BatchNorm1d<T> {
    /// A layer for `features` features, with momentum 0.1 and ε = 1e-5 (PyTorch's defaults).
    pub fn new(features: usize) -> Self {
        BatchNorm1d {
            gamma: Param::new("weight", Tensor::ones(&[features])),
            beta: Param::new("bias", Tensor::zeros(&[features])),
            running_mean: Param::new("running_mean", Tensor::zeros(&[features])),
            running_var: Param::new("running_var", Tensor::ones(&[features])),
            momentum: 0.1,
            eps: 1e-5,
        }
    }

    /// The same layer with another running-average momentum.
    ///
    /// # Panics
    /// If `momentum` is outside `[0, 1]`; [`BatchNorm1d::try_with_momentum`] returns the error.
    #[track_caller]
    pub fn with_momentum(self, momentum: f64) -> Self {
        or_panic(self.try_with_momentum(momentum))
    }

    /// Fallible [`BatchNorm1d::with_momentum`].
    ///
    /// # Errors
    /// [`NnError::Config`] if `momentum` is NaN or outside `[0, 1]`, which would carry the
    /// running statistics away from every batch's.
    pub fn try_with_momentum(mut self, momentum: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&momentum) {
            return Err(NnError::Config {
                what: "BatchNorm1d",
                why: format!("momentum must be in [0, 1], got {momentum}"),
            });
        }
        self.momentum = momentum;
        Ok(self)
    }

    /// `Input` naming the layer unless `shape` is `[N, features]` with, in training, `N > 1`.
    fn check_input(&self, shape: &[usize], mode: Mode) -> Result<()> {
        let features = self.gamma.numel();
        let what = if shape.len() != 2 || shape[1] != features {
            format!("expected input [N, {features}]")
        } else if mode == Mode::Train && shape[0] <= 1 {
            "expected more than 1 value per channel when training".to_string()
        } else {
            return Ok(());
        };
        Err(NnError::Input {
            layer: "BatchNorm1d",
            what,
            got: shape.to_vec(),
        })
    }

    /// The running mean (a buffer).
    pub fn running_mean(&self) -> Tensor<T> {
        self.running_mean.value()
    }

    /// The running variance (a buffer).
    pub fn running_var(&self) -> Tensor<T> {
        self.running_var.value()
    }
}

impl<T: Float> Forward<T> for BatchNorm1d<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        // Checked first: a pass that fails later must not have moved the running statistics.
        self.check_input(x.shape(), mode)?;
        let tape = x.tape();
        let eps = T::from_f64(self.eps);
        let normalized = match mode {
            Mode::Train => {
                let mean = x.mean(&[0], true);
                let var = x.var(&[0], true);
                let n = x.shape()[0];
                let m = T::from_f64(self.momentum);
                let keep = T::ONE - m;
                let unbiased = T::from_usize(n) / T::from_usize(n - 1);
                let batch_mean = mean.value().reshape(&[x.shape()[1]]);
                let batch_var = var.value().reshape(&[x.shape()[1]]).mul_scalar(unbiased);
                let rm = self
                    .running_mean
                    .value()
                    .mul_scalar(keep)
                    .add(&batch_mean.mul_scalar(m));
                let rv = self
                    .running_var
                    .value()
                    .mul_scalar(keep)
                    .add(&batch_var.mul_scalar(m));
                self.running_mean.set_value(rm);
                self.running_var.set_value(rv);
                x.sub(&mean).div(&var.add_scalar(eps).sqrt())
            }
            Mode::Eval => {
                let mean = tape.input(self.running_mean.value());
                let std = tape.input(self.running_var.value().add_scalar(eps).sqrt());
                x.sub(&mean).div(&std)
            }
        };
        let out = normalized
            .mul(&tape.param(&self.gamma))
            .add(&tape.param(&self.beta));
        observed(self, Ok(out))
    }
}

impl<T: Float> Module<T> for BatchNorm1d<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        vec![
            ("weight".into(), self.gamma.clone()),
            ("bias".into(), self.beta.clone()),
        ]
    }

    fn buffers(&self) -> Vec<Named<T>> {
        vec![
            ("running_mean".into(), self.running_mean.clone()),
            ("running_var".into(), self.running_var.clone()),
        ]
    }
}
