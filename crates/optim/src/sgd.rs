//! Stochastic gradient descent, with coupled weight decay, momentum in two forms, and Nesterov.

use crate::error::{OptimError, Result, or_panic};
use crate::optimizer::{Core, NamedParams, check_non_negative, fmt_f64, impl_optimizer};
use crate::update_shard::UpdateShard;
use tapegrad_autograd::Grads;
use tapegrad_tensor::Float;

/// Which momentum [`Sgd`] uses. Both forms keep one buffer `v` per parameter, starting at 0.
///
/// The two forms give the same trajectory when the EWMA form's learning rate is the classic
/// form's divided by `1 − β` (with `μ = β`, dampening 0): the EWMA buffer is exactly `(1 − β)`
/// times the classic one. With dampening `τ > 0` the classic form matches the EWMA form with
/// `τ = β` except at start-up, because PyTorch sets `v₁ = g₁` undamped on the first step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Momentum {
    /// No momentum: `θ ← θ − α·g`.
    #[default]
    None,
    /// The exponentially weighted form (Ng's course): `v ← β·v + (1 − β)·g`, `θ ← θ − α·v`.
    ///
    /// `v` averages roughly the last `1/(1 − β)` gradients; `β = 0.9` (10 steps) is the usual
    /// choice, see [`Momentum::ewma`].
    Ewma {
        /// Decay `β ∈ [0, 1)`.
        beta: f64,
    },
    /// The classic form, PyTorch's `torch.optim.SGD(momentum=μ, dampening=τ)`:
    /// `v₁ = g₁`, then `v ← μ·v + (1 − τ)·g`, and `θ ← θ − α·v`.
    Classic {
        /// Momentum `μ ≥ 0` (0.9 is usual).
        momentum: f64,
        /// Dampening `τ ∈ [0, 1]`; PyTorch's default is 0.
        dampening: f64,
    },
}

impl Momentum {
    /// The EWMA form with `β = 0.9`.
    pub const fn ewma() -> Self {
        Momentum::Ewma { beta: 0.9 }
    }

    /// The classic form with momentum `μ` and no dampening (PyTorch's default).
    pub const fn classic(momentum: f64) -> Self {
        Momentum::Classic {
            momentum,
            dampening: 0.0,
        }
    }
}

/// Settings of [`Sgd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate `α`. Default `0.01`.
    pub lr: f64,
    /// Momentum form and coefficient. Default [`Momentum::None`].
    pub momentum: Momentum,
    /// Nesterov momentum (needs momentum, and no dampening in the classic form). Default `false`.
    pub nesterov: bool,
    /// Coupled (L2) weight decay `λ`: the gradient becomes `g + λ·θ`. Default `0`.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 0.01,
            momentum: Momentum::None,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    /// Checks every value: construction, [`Optimizer::try_set_lr`](crate::Optimizer::try_set_lr)
    /// and loading a state all use this check.
    ///
    /// # Errors
    /// [`OptimError::Config`] for an lr or weight decay that is negative or not finite, a momentum
    /// out of its range, or Nesterov without momentum or with dampening.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("Sgd", "lr", self.lr)?;
        check_non_negative("Sgd", "weight_decay", self.weight_decay)?;
        let bad = |why: String| Err(OptimError::config("Sgd", why));
        match self.momentum {
            Momentum::None if self.nesterov => bad("Nesterov needs momentum".into()),
            Momentum::Ewma { beta } if !(0.0..1.0).contains(&beta) => {
                bad(format!("momentum beta must be in [0, 1), got {beta}"))
            }
            Momentum::Classic { momentum, .. } if !(momentum >= 0.0 && momentum.is_finite()) => {
                bad(format!(
                    "momentum must be finite and non-negative, got {momentum}"
                ))
            }
            Momentum::Classic { dampening, .. } if !(0.0..=1.0).contains(&dampening) => {
                bad(format!("dampening must be in [0, 1], got {dampening}"))
            }
            Momentum::Classic { dampening, .. } if self.nesterov && dampening != 0.0 => {
                bad("Nesterov needs zero dampening (as in PyTorch)".into())
            }
            _ => Ok(()),
        }
    }
}

/// Stochastic gradient descent (PyTorch: `torch.optim.SGD`).
///
/// Per element, with learning rate `α`, weight decay `λ` and gradient `g`:
///
/// ```text
/// g ← g + λ·θ                                  (coupled weight decay)
/// no momentum:      θ ← θ − α·g
/// EWMA momentum:    v ← β·v + (1 − β)·g,       d = v                       (v₀ = 0)
///   with Nesterov:                             d = β·v + (1 − β)·g
/// classic momentum: v ← g on the first step, else v ← μ·v + (1 − τ)·g,  d = v
///   with Nesterov:                             d = g + μ·v
/// θ ← θ − α·d
/// ```
///
/// See [`Momentum`] for how the two momentum forms relate.
///
/// ```
/// # use tapegrad_optim::{Momentum, Optimizer, Sgd, SgdConfig};
/// # use tapegrad_autograd::{Param, Tape};
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::from_vec(vec![1.0f64], &[1]));
/// let config = SgdConfig { lr: 0.1, momentum: Momentum::ewma(), ..Default::default() };
/// let mut opt = Sgd::new(&w, config);
/// let grads = { let tape = Tape::new(); tape.param(&w).sum_all().backward() }; // g = 1
/// opt.step(&grads); // v = 0.1·1, θ = 1 − 0.1·0.1
/// assert!((w.value().item() - 0.99).abs() < 1e-15);
/// ```
pub struct Sgd<T> {
    core: Core<T>,
    config: SgdConfig,
}

impl<T: Float> std::fmt::Debug for Sgd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug(f, "Sgd", &self.config)
    }
}

impl<T: Float> Sgd<T> {
    /// SGD over `params` (group 0).
    ///
    /// # Panics
    /// If the configuration is invalid (negative lr, `β ∉ [0, 1)`, Nesterov without momentum or
    /// with dampening) or a name repeats; [`Sgd::try_new`] returns the error instead.
    #[track_caller]
    pub fn new(params: &(impl NamedParams<T> + ?Sized), config: SgdConfig) -> Self {
        or_panic(Self::try_new(params, config))
    }

    /// Fallible [`Sgd::new`].
    ///
    /// # Errors
    /// [`OptimError::Config`] for an invalid configuration or a repeated parameter name.
    pub fn try_new(params: &(impl NamedParams<T> + ?Sized), config: SgdConfig) -> Result<Self> {
        config.validate()?;
        let buffers = match config.momentum {
            Momentum::None => vec![],
            _ => vec!["momentum"],
        };
        let core = Core::new(
            "sgd",
            buffers,
            &params.named_params(),
            config.lr,
            config.weight_decay,
        )?;
        Ok(Sgd { core, config })
    }

    /// The configuration this optimizer was built with (its lr is the initial one).
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    fn hyperparameters(&self) -> Vec<(&'static str, String)> {
        let (form, mu, tau) = match self.config.momentum {
            Momentum::None => ("none", 0.0, 0.0),
            Momentum::Ewma { beta } => ("ewma", beta, 0.0),
            Momentum::Classic {
                momentum,
                dampening,
            } => ("classic", momentum, dampening),
        };
        vec![
            ("momentum_form", form.to_string()),
            ("momentum", fmt_f64(mu)),
            ("dampening", fmt_f64(tau)),
            ("nesterov", self.config.nesterov.to_string()),
        ]
    }

    fn apply(&mut self, grads: &Grads<T>, shard: UpdateShard) -> Result<()> {
        let nesterov = self.config.nesterov;
        let momentum = self.config.momentum;
        self.core.step(grads, shard, |h, theta, g, state| {
            let lr = T::from_f64(h.lr);
            let wd = T::from_f64(h.weight_decay);
            match momentum {
                // Without decay the loop reads θ once less per element: the common case gets its own.
                Momentum::None if h.weight_decay == 0.0 => {
                    for (p, &g) in theta.iter_mut().zip(g) {
                        *p -= lr * g;
                    }
                }
                Momentum::None => {
                    for (p, &g) in theta.iter_mut().zip(g) {
                        let g = g + wd * *p;
                        *p -= lr * g;
                    }
                }
                Momentum::Ewma { beta } => {
                    let b = T::from_f64(beta);
                    let one_minus_b = T::from_f64(1.0 - beta);
                    let v = &mut state[0];
                    for ((p, &g), v) in theta.iter_mut().zip(g).zip(v.iter_mut()) {
                        let g = g + wd * *p;
                        *v = b * *v + one_minus_b * g;
                        let d = if nesterov {
                            b * *v + one_minus_b * g
                        } else {
                            *v
                        };
                        *p -= lr * d;
                    }
                }
                Momentum::Classic {
                    momentum,
                    dampening,
                } => {
                    let mu = T::from_f64(momentum);
                    let undamped = T::from_f64(1.0 - dampening);
                    let first = h.step == 1;
                    let v = &mut state[0];
                    for ((p, &g), v) in theta.iter_mut().zip(g).zip(v.iter_mut()) {
                        let g = g + wd * *p;
                        *v = if first { g } else { mu * *v + undamped * g };
                        let d = if nesterov { g + mu * *v } else { *v };
                        *p -= lr * d;
                    }
                }
            }
        })
    }
}

impl_optimizer!(Sgd, SgdConfig);
