//! RMSprop: gradients divided by a running root mean square, optionally centered, with momentum.

use crate::error::{OptimError, Result, or_panic};
use crate::optimizer::{Core, NamedParams, check_non_negative, fmt_f64, impl_optimizer};
use crate::update_shard::UpdateShard;
use tapegrad_autograd::Grads;
use tapegrad_tensor::Float;

/// Settings of [`RmsProp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate `α`. Default `0.01` (PyTorch's).
    pub lr: f64,
    /// Decay `β ∈ [0, 1)` of the squared-gradient average. Default `0.99`.
    /// PyTorch calls it `alpha`; Hinton's lecture uses `0.9`.
    pub beta: f64,
    /// `ε`, added outside the square root. Default `1e-8` (PyTorch's).
    pub eps: f64,
    /// Coupled (L2) weight decay `λ`: the gradient becomes `g + λ·θ`. Default `0`.
    pub weight_decay: f64,
    /// Momentum `μ` applied to the normalised step; `0` disables it. Default `0`.
    pub momentum: f64,
    /// Divide by an estimate of the gradient's standard deviation instead of its RMS. Default `false`.
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 0.01,
            beta: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmsPropConfig {
    /// Checks every value: construction, [`Optimizer::try_set_lr`](crate::Optimizer::try_set_lr)
    /// and loading a state all use this check.
    ///
    /// # Errors
    /// [`OptimError::Config`] for an lr, weight decay or momentum that is negative or not
    /// finite, `β ∉ [0, 1)`, or `ε` not positive and finite.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("RmsProp", "lr", self.lr)?;
        check_non_negative("RmsProp", "weight_decay", self.weight_decay)?;
        let bad = |why: String| Err(OptimError::config("RmsProp", why));
        if !(0.0..1.0).contains(&self.beta) {
            return bad(format!("beta must be in [0, 1), got {}", self.beta));
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return bad(format!("eps must be positive, got {}", self.eps));
        }
        if !(self.momentum >= 0.0 && self.momentum.is_finite()) {
            return bad(format!(
                "momentum must be non-negative, got {}",
                self.momentum
            ));
        }
        Ok(())
    }
}

/// RMSprop (PyTorch: `torch.optim.RMSprop`, whose `alpha` is `β` here).
///
/// Per element, with buffers starting at 0 and no bias correction:
///
/// ```text
/// g ← g + λ·θ                               (coupled weight decay)
/// s ← β·s + (1 − β)·g²
/// centered:   ḡ ← β·ḡ + (1 − β)·g,   r = √(s − ḡ²) + ε
/// otherwise:                          r = √s + ε          (ε outside the root)
/// momentum:   b ← μ·b + g / r,        θ ← θ − α·b
/// otherwise:                          θ ← θ − α·g / r
/// ```
///
/// ```
/// # use tapegrad_optim::{Optimizer, RmsProp, RmsPropConfig};
/// # use tapegrad_autograd::{Param, Tape};
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::from_vec(vec![1.0f64], &[1]));
/// let mut opt = RmsProp::new(&w, RmsPropConfig { beta: 0.9, ..Default::default() });
/// let grads = { let tape = Tape::new(); tape.param(&w).mul_scalar(2.0).sum_all().backward() };
/// opt.step(&grads); // s = 0.1·4, θ = 1 − 0.01·2 / (√0.4 + 1e-8)
/// assert!((w.value().item() - (1.0 - 0.02 / (0.4f64.sqrt() + 1e-8))).abs() < 1e-15);
/// ```
pub struct RmsProp<T> {
    core: Core<T>,
    config: RmsPropConfig,
}

impl<T: Float> std::fmt::Debug for RmsProp<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug(f, "RmsProp", &self.config)
    }
}

impl<T: Float> RmsProp<T> {
    /// RMSprop over `params` (group 0).
    ///
    /// # Panics
    /// If the configuration is invalid or a name repeats; [`RmsProp::try_new`] returns the error.
    #[track_caller]
    pub fn new(params: &(impl NamedParams<T> + ?Sized), config: RmsPropConfig) -> Self {
        or_panic(Self::try_new(params, config))
    }

    /// Fallible [`RmsProp::new`].
    ///
    /// # Errors
    /// [`OptimError::Config`] if [`RmsPropConfig::validate`] refuses the configuration or a
    /// name repeats.
    pub fn try_new(params: &(impl NamedParams<T> + ?Sized), config: RmsPropConfig) -> Result<Self> {
        config.validate()?;
        let mut buffers = vec!["square_avg"];
        if config.centered {
            buffers.push("grad_avg");
        }
        if config.momentum > 0.0 {
            buffers.push("momentum");
        }
        let core = Core::new(
            "rmsprop",
            buffers,
            &params.named_params(),
            config.lr,
            config.weight_decay,
        )?;
        Ok(RmsProp { core, config })
    }

    /// The configuration this optimizer was built with (its lr is the initial one).
    pub fn config(&self) -> &RmsPropConfig {
        &self.config
    }

    fn hyperparameters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("beta", fmt_f64(self.config.beta)),
            ("eps", fmt_f64(self.config.eps)),
            ("momentum", fmt_f64(self.config.momentum)),
            ("centered", self.config.centered.to_string()),
        ]
    }

    fn apply(&mut self, grads: &Grads<T>, shard: UpdateShard) -> Result<()> {
        let c = self.config;
        let beta = T::from_f64(c.beta);
        let one_minus_beta = T::from_f64(1.0 - c.beta);
        let eps = T::from_f64(c.eps);
        let mu = T::from_f64(c.momentum);
        let with_momentum = c.momentum > 0.0;
        self.core.step(grads, shard, |h, theta, g, state| {
            let lr = T::from_f64(h.lr);
            let wd = T::from_f64(h.weight_decay);
            let (s, rest) = state.split_first_mut().expect("square_avg buffer");
            let (mut grad_avg, rest) = if c.centered {
                let (a, rest) = rest.split_first_mut().expect("grad_avg buffer");
                (Some(a), rest)
            } else {
                (None, rest)
            };
            let mut buf = rest.first_mut();
            for i in 0..theta.len() {
                let g = g[i] + wd * theta[i];
                s[i] = beta * s[i] + one_minus_beta * g * g;
                let r = match grad_avg.as_deref_mut() {
                    Some(a) => {
                        a[i] = beta * a[i] + one_minus_beta * g;
                        (s[i] - a[i] * a[i]).sqrt() + eps
                    }
                    None => s[i].sqrt() + eps,
                };
                match buf.as_deref_mut() {
                    Some(b) if with_momentum => {
                        b[i] = mu * b[i] + g / r;
                        theta[i] -= lr * b[i];
                    }
                    _ => theta[i] -= lr * (g / r),
                }
            }
        })
    }
}

impl_optimizer!(RmsProp, RmsPropConfig);
