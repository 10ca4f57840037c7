//! `BatchNorm1d` and `BatchNorm2d`: normalise each feature (channel) over the batch (and the
//! image), then scale and shift; one shared implementation.

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
    core: Core<T>,
}

/// Batch normalisation of `[N, C, H, W]` inputs, per channel over `N`, `H` and `W`:
/// `y = γ_c · (x − μ_c) / √(σ²_c + ε) + β_c` (PyTorch: `nn.BatchNorm2d`).
///
/// Everything else is [`BatchNorm1d`]'s, with `n = N·H·W` values per channel: batch statistics
/// in [`Mode::Train`], folded into running estimates with momentum 0.1 (the running variance
/// unbiased, `n/(n−1)·σ²`), the running estimates in [`Mode::Eval`], ε = 1e-5, and the same
/// parameter and buffer names (`weight`, `bias`, `running_mean`, `running_var`, each `[C]`).
/// Training needs `n > 1`; evaluation takes any batch.
///
/// ```
/// # use tapegrad_nn::{BatchNorm2d, Forward, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let bn = BatchNorm2d::<f64>::new(2);
/// // one image, 2 channels of 2×1 pixels: channel 0 is (1, 3), channel 1 is (10, 30)
/// let x = Tensor::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[1, 2, 2, 1]);
/// let y = bn.forward(&Tape::new().input(x), Mode::Train);
/// let v = y.value().to_vec();
/// assert!((v[0] + 1.0).abs() < 1e-4 && (v[3] - 1.0).abs() < 1e-4); // each channel standardised
/// assert!((bn.running_mean().to_vec()[1] - 2.0).abs() < 1e-12); // 0.9·0 + 0.1·20
/// ```
///
/// Cloning copies the parameters and running statistics: the clone trains independently.
pub struct BatchNorm2d<T: Float> {
    core: Core<T>,
}

/// What the batch-normalisation layers share: parameters, running statistics and the pass,
/// which reduces over every axis but the channel axis 1.
struct Core<T: Float> {
    gamma: Param<T>,
    beta: Param<T>,
    running_mean: Param<T>,
    running_var: Param<T>,
    momentum: f64,
    eps: f64,
    /// The layer's name, for errors.
    layer: &'static str,
    /// The input's axes after `N` and `C`, as errors show them (`""` or `", H, W"`).
    spatial: &'static str,
    /// The input's rank: 2 plus one per spatial axis.
    rank: usize,
}

impl<T: Float> Core<T> {
    fn new(layer: &'static str, spatial: &'static str, rank: usize, features: usize) -> Self {
        Core {
            gamma: Param::new("weight", Tensor::ones(&[features])),
            beta: Param::new("bias", Tensor::zeros(&[features])),
            running_mean: Param::new("running_mean", Tensor::zeros(&[features])),
            running_var: Param::new("running_var", Tensor::ones(&[features])),
            momentum: 0.1,
            eps: 1e-5,
            layer,
            spatial,
            rank,
        }
    }

    fn duplicate(&self) -> Self {
        Core {
            gamma: self.gamma.duplicate(),
            beta: self.beta.duplicate(),
            running_mean: self.running_mean.duplicate(),
            running_var: self.running_var.duplicate(),
            ..*self
        }
    }

    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.layer)
            .field("features", &self.gamma.numel())
            .field("momentum", &self.momentum)
            .field("eps", &self.eps)
            .finish()
    }

    fn try_with_momentum(mut self, momentum: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&momentum) {
            return Err(NnError::Config {
                what: self.layer,
                why: format!("momentum must be in [0, 1], got {momentum}"),
            });
        }
        self.momentum = momentum;
        Ok(self)
    }

    /// The number of values per channel, after checking `shape` is `[N, C, …]` of the layer's
    /// rank with, in training, more than one value per channel; else `Input` naming the layer.
    fn check_input(&self, shape: &[usize], mode: Mode) -> Result<usize> {
        let features = self.gamma.numel();
        let per_channel = || {
            shape
                .iter()
                .enumerate()
                .filter(|&(axis, _)| axis != 1)
                .try_fold(1usize, |n, (_, &d)| n.checked_mul(d))
        };
        let what = if shape.len() != self.rank || shape[1] != features {
            format!("expected input [N, {features}{}]", self.spatial)
        } else {
            // A shape whose count overflows cannot be a tensor's; say so rather than guess.
            match (per_channel(), mode) {
                (None, _) => "the number of values per channel overflows usize".to_string(),
                (Some(n), Mode::Train) if n <= 1 => {
                    "expected more than 1 value per channel when training".to_string()
                }
                (Some(n), _) => return Ok(n),
            }
        };
        Err(NnError::Input {
            layer: self.layer,
            what,
            got: shape.to_vec(),
        })
    }

    /// The normalised, scaled and shifted input; in training, also folds the batch statistics
    /// into the running ones.
    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        // Checked first: a pass that fails later must not have moved the running statistics.
        let n = self.check_input(x.shape(), mode)?;
        let features = self.gamma.numel();
        // Every axis but the channels', and the statistics' shape `[1, C, 1, …]`, which
        // broadcasts against the input.
        let axes: Vec<isize> = (0..self.rank as isize).filter(|&a| a != 1).collect();
        let mut stat_shape = vec![1; self.rank];
        stat_shape[1] = features;
        let tape = x.tape();
        let eps = T::from_f64(self.eps);
        let normalized = match mode {
            Mode::Train => {
                let mean = x.try_mean(&axes, true)?;
                let centered = x.sub(&mean);
                let var = centered.square().try_mean(&axes, true)?;
                let m = T::from_f64(self.momentum);
                let keep = T::ONE - m;
                let unbiased = T::from_usize(n) / T::from_usize(n - 1);
                let batch_mean = mean.value().reshape(&[features]);
                let batch_var = var.value().reshape(&[features]).mul_scalar(unbiased);
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
                centered.div(&var.add_scalar(eps).sqrt())
            }
            Mode::Eval => {
                let mean = tape.input(self.running_mean.value().reshape(&stat_shape));
                let std = tape.input(
                    self.running_var
                        .value()
                        .add_scalar(eps)
                        .sqrt()
                        .reshape(&stat_shape),
                );
                x.sub(&mean).div(&std)
            }
        };
        Ok(normalized
            .mul(&tape.param(&self.gamma).reshape(&stat_shape))
            .add(&tape.param(&self.beta).reshape(&stat_shape)))
    }

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

impl<T: Float> Clone for BatchNorm1d<T> {
    fn clone(&self) -> Self {
        BatchNorm1d {
            core: self.core.duplicate(),
        }
    }
}

impl<T: Float> std::fmt::Debug for BatchNorm1d<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl<T: Float> BatchNorm1d<T> {
    /// A layer for `features` features, with momentum 0.1 and ε = 1e-5 (PyTorch's defaults).
    pub fn new(features: usize) -> Self {
        BatchNorm1d {
            core: Core::new("BatchNorm1d", "", 2, features),
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
    pub fn try_with_momentum(self, momentum: f64) -> Result<Self> {
        Ok(BatchNorm1d {
            core: self.core.try_with_momentum(momentum)?,
        })
    }

    /// The running mean (a buffer).
    pub fn running_mean(&self) -> Tensor<T> {
        self.core.running_mean.value()
    }

    /// The running variance (a buffer).
    pub fn running_var(&self) -> Tensor<T> {
        self.core.running_var.value()
    }
}

impl<T: Float> Forward<T> for BatchNorm1d<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        observed(self, self.core.try_forward(x, mode))
    }
}

impl<T: Float> Module<T> for BatchNorm1d<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        self.core.parameters()
    }

    fn buffers(&self) -> Vec<Named<T>> {
        self.core.buffers()
    }
}

impl<T: Float> Clone for BatchNorm2d<T> {
    fn clone(&self) -> Self {
        BatchNorm2d {
            core: self.core.duplicate(),
        }
    }
}

impl<T: Float> std::fmt::Debug for BatchNorm2d<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl<T: Float> BatchNorm2d<T> {
    /// A layer for `channels` channels, with momentum 0.1 and ε = 1e-5 (PyTorch's defaults).
    pub fn new(channels: usize) -> Self {
        BatchNorm2d {
            core: Core::new("BatchNorm2d", ", H, W", 4, channels),
        }
    }

    /// The same layer with another running-average momentum.
    ///
    /// # Panics
    /// If `momentum` is outside `[0, 1]`; [`BatchNorm2d::try_with_momentum`] returns the error.
    #[track_caller]
    pub fn with_momentum(self, momentum: f64) -> Self {
        or_panic(self.try_with_momentum(momentum))
    }

    /// Fallible [`BatchNorm2d::with_momentum`].
    ///
    /// # Errors
    /// [`NnError::Config`] if `momentum` is NaN or outside `[0, 1]`, which would carry the
    /// running statistics away from every batch's.
    pub fn try_with_momentum(self, momentum: f64) -> Result<Self> {
        Ok(BatchNorm2d {
            core: self.core.try_with_momentum(momentum)?,
        })
    }

    /// The running mean (a buffer).
    pub fn running_mean(&self) -> Tensor<T> {
        self.core.running_mean.value()
    }

    /// The running variance (a buffer).
    pub fn running_var(&self) -> Tensor<T> {
        self.core.running_var.value()
    }
}

impl<T: Float> Forward<T> for BatchNorm2d<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        observed(self, self.core.try_forward(x, mode))
    }
}

impl<T: Float> Module<T> for BatchNorm2d<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        self.core.parameters()
    }

    fn buffers(&self) -> Vec<Named<T>> {
        self.core.buffers()
    }
}
