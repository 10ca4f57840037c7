//! Adam with coupled L2 weight decay, AdamW with decoupled decay, and the AMSGrad variant.

use crate::error::{OptimError, Result, or_panic};
use crate::optimizer::{Core, NamedParams, check_non_negative, fmt_f64, impl_optimizer};
use crate::update_shard::UpdateShard;
use tapegrad_autograd::Grads;
use tapegrad_tensor::Float;

/// Settings of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate `α`. Default `1e-3`.
    pub lr: f64,
    /// Decay `β₁ ∈ [0, 1)` of the first-moment (mean) estimate. Default `0.9`.
    pub beta1: f64,
    /// Decay `β₂ ∈ [0, 1)` of the second-moment estimate. Default `0.999`.
    pub beta2: f64,
    /// `ε`, added outside the square root. Default `1e-8`.
    pub eps: f64,
    /// Coupled (L2) weight decay `λ`: the gradient becomes `g + λ·θ`. Default `0`.
    /// For decoupled decay use [`AdamW`].
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad). Default `false`.
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

impl AdamConfig {
    /// Checks every value: construction, [`Optimizer::try_set_lr`](crate::Optimizer::try_set_lr)
    /// and loading a state all use this check.
    ///
    /// # Errors
    /// [`OptimError::Config`] for an lr or weight decay that is negative or not finite, a
    /// `β ∉ [0, 1)`, or `ε` not positive and finite.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("Adam", "lr", self.lr)?;
        check_non_negative("Adam", "weight_decay", self.weight_decay)?;
        Adam::<f64>::moments(self).validate("Adam")
    }
}

/// Settings of [`AdamW`]: [`AdamConfig`] with a decoupled weight decay defaulting to `0.01`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate `α`. Default `1e-3`.
    pub lr: f64,
    /// Decay `β₁ ∈ [0, 1)` of the first-moment estimate. Default `0.9`.
    pub beta1: f64,
    /// Decay `β₂ ∈ [0, 1)` of the second-moment estimate. Default `0.999`.
    pub beta2: f64,
    /// `ε`, added outside the square root. Default `1e-8`.
    pub eps: f64,
    /// Decoupled weight decay `λ`: `θ ← θ − α·λ·θ` each step. Default `0.01` (PyTorch's).
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad). Default `false`.
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            amsgrad: false,
        }
    }
}

impl AdamWConfig {
    /// Checks every value: construction, [`Optimizer::try_set_lr`](crate::Optimizer::try_set_lr)
    /// and loading a state all use this check.
    ///
    /// # Errors
    /// [`OptimError::Config`] for an lr or weight decay that is negative or not finite, a
    /// `β ∉ [0, 1)`, or `ε` not positive and finite.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("AdamW", "lr", self.lr)?;
        check_non_negative("AdamW", "weight_decay", self.weight_decay)?;
        AdamW::<f64>::moments(self).validate("AdamW")
    }
}

/// The shared part of Adam and AdamW: moments, bias correction, AMSGrad.
#[derive(Debug, Clone, Copy)]
struct Moments {
    beta1: f64,
    beta2: f64,
    eps: f64,
    amsgrad: bool,
}

impl Moments {
    fn validate(&self, what: &'static str) -> Result<()> {
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(OptimError::config(
                    what,
                    format!("{name} must be in [0, 1), got {beta}"),
                ));
            }
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(OptimError::config(
                what,
                format!("eps must be positive, got {}", self.eps),
            ));
        }
        Ok(())
    }

    fn buffers(&self) -> Vec<&'static str> {
        if self.amsgrad {
            vec!["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            vec!["exp_avg", "exp_avg_sq"]
        }
    }

    fn hyperparameters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("beta1", fmt_f64(self.beta1)),
            ("beta2", fmt_f64(self.beta2)),
            ("eps", fmt_f64(self.eps)),
            ("amsgrad", self.amsgrad.to_string()),
        ]
    }

    /// One step of every parameter; `decoupled` picks AdamW's decay over Adam's L2 term.
    fn apply<T: Float>(
        &self,
        core: &mut Core<T>,
        grads: &Grads<T>,
        shard: UpdateShard,
        decoupled: bool,
    ) -> Result<()> {
        let m = *self;
        core.step(grads, shard, |h, theta, g, state| {
            let step = h.step as f64;
            let bias1 = 1.0 - m.beta1.powf(step);
            let bias2 = 1.0 - m.beta2.powf(step);
            let k = Constants {
                beta1: T::from_f64(m.beta1),
                one_minus_beta1: T::from_f64(1.0 - m.beta1),
                beta2: T::from_f64(m.beta2),
                one_minus_beta2: T::from_f64(1.0 - m.beta2),
                eps: T::from_f64(m.eps),
                step_size: T::from_f64(h.lr / bias1),
                inv_sqrt_bias2: T::from_f64(1.0 / bias2.sqrt()),
                l2: T::from_f64(if decoupled { 0.0 } else { h.weight_decay }),
                decay: T::from_f64(if decoupled {
                    1.0 - h.lr * h.weight_decay
                } else {
                    1.0
                }),
            };
            let has_decay = h.weight_decay != 0.0;
            let (exp_avg, rest) = state.split_first_mut().expect("exp_avg buffer");
            let (exp_avg_sq, rest) = rest.split_first_mut().expect("exp_avg_sq buffer");
            match (rest.first_mut(), has_decay) {
                (None, false) => {
                    adam_loop::<T, false, false>(&k, theta, g, exp_avg, exp_avg_sq, &mut [])
                }
                (None, true) => {
                    adam_loop::<T, false, true>(&k, theta, g, exp_avg, exp_avg_sq, &mut [])
                }
                (Some(max), false) => {
                    adam_loop::<T, true, false>(&k, theta, g, exp_avg, exp_avg_sq, max)
                }
                (Some(max), true) => {
                    adam_loop::<T, true, true>(&k, theta, g, exp_avg, exp_avg_sq, max)
                }
            }
        })
    }
}

/// Per-step constants of the fused loop.
struct Constants<T> {
    beta1: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    eps: T,
    /// `α / (1 − β₁ᵗ)`.
    step_size: T,
    /// `1 / √(1 − β₂ᵗ)`.
    inv_sqrt_bias2: T,
    /// Adam's coupled decay coefficient (0 for AdamW).
    l2: T,
    /// AdamW's factor `1 − α·λ` (1 for Adam).
    decay: T,
}

/// The fused update over one parameter; `AMSGRAD` and `DECAY` are fixed per call so each
/// variant's loop has no branches and vectorises.
#[inline(always)]
fn adam_loop<T: Float, const AMSGRAD: bool, const DECAY: bool>(
    k: &Constants<T>,
    theta: &mut [T],
    g: &[T],
    exp_avg: &mut [T],
    exp_avg_sq: &mut [T],
    max_exp_avg_sq: &mut [T],
) {
    let n = theta.len();
    let (g, exp_avg, exp_avg_sq) = (&g[..n], &mut exp_avg[..n], &mut exp_avg_sq[..n]);
    let max_exp_avg_sq = if AMSGRAD {
        &mut max_exp_avg_sq[..n]
    } else {
        max_exp_avg_sq
    };
    for i in 0..n {
        let mut p = theta[i];
        let mut g = g[i];
        if DECAY {
            p *= k.decay;
            g += k.l2 * p;
        }
        let m = k.beta1 * exp_avg[i] + k.one_minus_beta1 * g;
        let v = k.beta2 * exp_avg_sq[i] + k.one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        let v = if AMSGRAD {
            let max = if v > max_exp_avg_sq[i] {
                v
            } else {
                max_exp_avg_sq[i]
            };
            max_exp_avg_sq[i] = max;
            max
        } else {
            v
        };
        theta[i] = p - k.step_size * m / (v.sqrt() * k.inv_sqrt_bias2 + k.eps);
    }
}

/// Adam (Kingma & Ba 2015; PyTorch: `torch.optim.Adam`), with optional L2 decay and AMSGrad.
///
/// Per element, at step `t` (1 on a parameter's first update), with `m, v` starting at 0:
///
/// ```text
/// g ← g + λ·θ                                   (coupled L2 weight decay)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// AMSGrad: v_max ← max(v_max, v), and v_max replaces v below
/// m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)          (bias correction)
/// θ ← θ − α·m̂ / (√v̂ + ε)                        (ε outside the root)
/// ```
///
/// The loop computes the last line as PyTorch does, `θ − (α / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε)`.
/// AMSGrad keeps the maximum of the raw `v` and bias-corrects that maximum with the current `t`
/// (PyTorch's convention; the paper's version has no bias correction).
///
/// ```
/// # use tapegrad_optim::{Adam, AdamConfig, Optimizer};
/// # use tapegrad_autograd::{Param, Tape};
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::from_vec(vec![1.0f64], &[1]));
/// let mut opt = Adam::new(&w, AdamConfig { lr: 0.1, ..Default::default() });
/// let grads = { let tape = Tape::new(); tape.param(&w).mul_scalar(3.0).sum_all().backward() };
/// opt.step(&grads); // m̂ = 3, v̂ = 9: the first step is α·3 / (3 + ε) ≈ α
/// assert!((w.value().item() - (1.0 - 0.1 * 3.0 / (3.0 + 1e-8))).abs() < 1e-15);
/// ```
pub struct Adam<T> {
    core: Core<T>,
    config: AdamConfig,
}

impl<T: Float> std::fmt::Debug for Adam<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug(f, "Adam", &self.config)
    }
}

impl<T: Float> Adam<T> {
    /// Adam over `params` (group 0).
    ///
    /// # Panics
    /// If the configuration is invalid or a name repeats; [`Adam::try_new`] returns the error.
    #[track_caller]
    pub fn new(params: &(impl NamedParams<T> + ?Sized), config: AdamConfig) -> Self {
        or_panic(Self::try_new(params, config))
    }

    /// Fallible [`Adam::new`].
    ///
    /// # Errors
    /// [`OptimError::Config`] if a `β ∉ [0, 1)`, `ε ≤ 0`, lr or decay is negative, or a name repeats.
    pub fn try_new(params: &(impl NamedParams<T> + ?Sized), config: AdamConfig) -> Result<Self> {
        config.validate()?;
        let moments = Self::moments(&config);
        let core = Core::new(
            "adam",
            moments.buffers(),
            &params.named_params(),
            config.lr,
            config.weight_decay,
        )?;
        Ok(Adam { core, config })
    }

    fn moments(c: &AdamConfig) -> Moments {
        Moments {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            amsgrad: c.amsgrad,
        }
    }

    /// The configuration this optimizer was built with (its lr is the initial one).
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    fn hyperparameters(&self) -> Vec<(&'static str, String)> {
        Self::moments(&self.config).hyperparameters()
    }

    fn apply(&mut self, grads: &Grads<T>, shard: UpdateShard) -> Result<()> {
        Self::moments(&self.config).apply(&mut self.core, grads, shard, false)
    }
}

impl_optimizer!(Adam, AdamConfig);

/// AdamW (Loshchilov & Hutter 2019; PyTorch: `torch.optim.AdamW`): Adam with decoupled decay.
///
/// Per element, at step `t`, with `m, v` starting at 0:
///
/// ```text
/// θ ← θ − α·λ·θ                                 (decoupled decay, scaled by the lr as in PyTorch)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// AMSGrad: v_max ← max(v_max, v), and v_max replaces v below
/// θ ← θ − α·m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)
/// ```
///
/// The decay does not enter `m` or `v`, unlike [`Adam`]'s L2 term, which Adam's normalisation
/// weakens for parameters with large gradients.
///
/// ```
/// # use tapegrad_optim::{AdamW, AdamWConfig, Optimizer};
/// # use tapegrad_autograd::{Param, Tape};
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::from_vec(vec![2.0f64], &[1]));
/// let mut opt = AdamW::new(&w, AdamWConfig { lr: 0.1, weight_decay: 0.5, ..Default::default() });
/// let grads = { let tape = Tape::new(); tape.param(&w).sum_all().backward() }; // g = 1
/// opt.step(&grads); // θ = 2·(1 − 0.05) − 0.1·1 / (1 + ε)
/// assert!((w.value().item() - (1.9 - 0.1 / (1.0 + 1e-8))).abs() < 1e-15);
/// ```
pub struct AdamW<T> {
    core: Core<T>,
    config: AdamWConfig,
}

impl<T: Float> std::fmt::Debug for AdamW<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.debug(f, "AdamW", &self.config)
    }
}

impl<T: Float> AdamW<T> {
    /// AdamW over `params` (group 0).
    ///
    /// # Panics
    /// If the configuration is invalid or a name repeats; [`AdamW::try_new`] returns the error.
    #[track_caller]
    pub fn new(params: &(impl NamedParams<T> + ?Sized), config: AdamWConfig) -> Self {
        or_panic(Self::try_new(params, config))
    }

    /// Fallible [`AdamW::new`].
    ///
    /// # Errors
    /// [`OptimError::Config`] if a `β ∉ [0, 1)`, `ε ≤ 0`, lr or decay is negative, or a name repeats.
    pub fn try_new(params: &(impl NamedParams<T> + ?Sized), config: AdamWConfig) -> Result<Self> {
        config.validate()?;
        let moments = Self::moments(&config);
        let core = Core::new(
            "adamw",
            moments.buffers(),
            &params.named_params(),
            config.lr,
            config.weight_decay,
        )?;
        Ok(AdamW { core, config })
    }

    fn moments(c: &AdamWConfig) -> Moments {
        Moments {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            amsgrad: c.amsgrad,
        }
    }

    /// The configuration this optimizer was built with (its lr is the initial one).
    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    fn hyperparameters(&self) -> Vec<(&'static str, String)> {
        Self::moments(&self.config).hyperparameters()
    }

    fn apply(&mut self, grads: &Grads<T>, shard: UpdateShard) -> Result<()> {
        Self::moments(&self.config).apply(&mut self.core, grads, shard, true)
    }
}

impl_optimizer!(AdamW, AdamWConfig);
