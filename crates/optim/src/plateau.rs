//! [`ReduceLrOnPlateau`]: a learning rate that falls when a watched metric stops improving
//! (PyTorch: `torch.optim.lr_scheduler.ReduceLROnPlateau`).
//!
//! Unlike a [`Schedule`](crate::Schedule), it is stateful and driven by the metric, not by the
//! epoch number, so it is a type of its own.

use crate::error::{OptimError, Result, or_panic};
use crate::optimizer::{Optimizer, Parser, check_non_negative, compare_settings, fmt_f64};
use std::collections::BTreeMap;
use tapegrad_tensor::Float;

/// The name errors and saved state give the scheduler.
const NAME: &str = "ReduceLrOnPlateau";

/// Whether a lower or a higher metric is an improvement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PlateauMode {
    /// Lower is better (a loss). PyTorch: `mode='min'`.
    #[default]
    Min,
    /// Higher is better (an accuracy). PyTorch: `mode='max'`.
    Max,
}

/// How `threshold` sets the margin a metric must beat the best one by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Relative: better than `best · (1 − threshold)` (min) or `best · (1 + threshold)` (max).
    /// PyTorch: `threshold_mode='rel'`.
    #[default]
    Rel,
    /// Absolute: better than `best − threshold` (min) or `best + threshold` (max).
    /// PyTorch: `threshold_mode='abs'`.
    Abs,
}

/// Settings of [`ReduceLrOnPlateau`]; the defaults are PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReduceLrOnPlateauConfig {
    /// Whether lower or higher metrics are better. Default [`PlateauMode::Min`].
    pub mode: PlateauMode,
    /// The factor a reduction multiplies the lr by, in `[0, 1)`. Default `0.1`.
    pub factor: f64,
    /// Epochs without improvement that are tolerated: the lr falls on the next one. Default `10`.
    pub patience: usize,
    /// The margin of a significant improvement, see [`ThresholdMode`]; non-negative, and below 1
    /// in relative mode. Default `1e-4`.
    pub threshold: f64,
    /// Whether `threshold` is relative or absolute. Default [`ThresholdMode::Rel`].
    pub threshold_mode: ThresholdMode,
    /// Epochs after a reduction during which no epoch counts as bad. Default `0`.
    pub cooldown: usize,
    /// The lr never falls below this. Default `0`.
    pub min_lr: f64,
    /// A reduction smaller than this is skipped, the lr staying as it is. Default `1e-8`.
    pub eps: f64,
}

impl Default for ReduceLrOnPlateauConfig {
    fn default() -> Self {
        ReduceLrOnPlateauConfig {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

impl ReduceLrOnPlateauConfig {
    /// Checks every value; [`ReduceLrOnPlateau::try_new`] runs this check.
    ///
    /// # Errors
    /// [`OptimError::Config`] naming `ReduceLrOnPlateau` and the field: a `factor` outside
    /// `[0, 1)`, a `threshold` that is negative, not finite, or at least 1 in relative mode (no
    /// positive metric could then improve in min mode), or a `min_lr` or `eps` that is negative or
    /// not finite. `patience` and `cooldown` are counts and cannot be negative.
    pub fn validate(&self) -> Result<()> {
        // `!(…)` so that NaN is refused too.
        if !(0.0..1.0).contains(&self.factor) {
            return Err(OptimError::config(
                NAME,
                format!(
                    "factor must be in [0, 1) so that the lr falls, got {}",
                    self.factor
                ),
            ));
        }
        check_non_negative(NAME, "threshold", self.threshold)?;
        if self.threshold_mode == ThresholdMode::Rel && self.threshold >= 1.0 {
            return Err(OptimError::config(
                NAME,
                format!(
                    "threshold must be below 1 in relative mode, got {}: best · (1 − threshold) would leave no room to improve",
                    self.threshold
                ),
            ));
        }
        check_non_negative(NAME, "min_lr", self.min_lr)?;
        check_non_negative(NAME, "eps", self.eps)
    }
}

/// Lowers the learning rate by `factor` once a metric has not improved for more than
/// `patience` epochs (PyTorch: `ReduceLROnPlateau`, with the same rule and defaults).
///
/// Each [`ReduceLrOnPlateau::step`]`(metric)`, once per epoch:
/// 1. the metric improves if it beats `best` by the threshold margin ([`ThresholdMode`]); then
///    `best = metric` and the bad-epoch count is reset to 0, else the count grows by one;
/// 2. during a cooldown (`cooldown_counter > 0`) the counter falls by one and the bad-epoch
///    count is reset to 0;
/// 3. if the bad-epoch count exceeds `patience`, the lr becomes `max(lr · factor, min_lr)`,
///    unless that lowers it by `eps` or less, when it stays; either way the cooldown starts
///    (`cooldown_counter = cooldown`) and the bad-epoch count is reset to 0.
///
/// `best` starts at +∞ (min mode) or −∞ (max mode), so the first metric is always an
/// improvement. As in PyTorch, the relative margin assumes a positive `best`; for metrics that
/// can be negative use [`ThresholdMode::Abs`].
///
/// It drives an optimizer's lr (the default group's, which other groups follow, see
/// [`GroupConfig`](crate::GroupConfig)) with [`ReduceLrOnPlateau::step_optimizer`], or hands
/// the new lr back from [`ReduceLrOnPlateau::step`].
///
/// ```
/// use tapegrad_optim::{ReduceLrOnPlateau, ReduceLrOnPlateauConfig};
/// let config = ReduceLrOnPlateauConfig { factor: 0.5, patience: 1, ..Default::default() };
/// let mut plateau = ReduceLrOnPlateau::new(config, 1.0);
/// let lrs: Vec<f64> = [3.0, 2.0, 2.0, 2.0, 2.0, 1.0].iter().map(|&m| plateau.step(m)).collect();
/// // Two epochs at 2.0 without improvement exceed a patience of 1.
/// assert_eq!(lrs, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceLrOnPlateau {
    config: ReduceLrOnPlateauConfig,
    lr: f64,
    best: f64,
    num_bad_epochs: usize,
    cooldown_counter: usize,
}

impl ReduceLrOnPlateau {
    /// A scheduler starting from the learning rate `lr` (usually the optimizer's [`Optimizer::lr`]).
    ///
    /// # Panics
    /// Where [`ReduceLrOnPlateau::try_new`] returns an error, with its message.
    #[track_caller]
    pub fn new(config: ReduceLrOnPlateauConfig, lr: f64) -> Self {
        or_panic(Self::try_new(config, lr))
    }

    /// Fallible [`ReduceLrOnPlateau::new`].
    ///
    /// # Errors
    /// [`OptimError::Config`] from [`ReduceLrOnPlateauConfig::validate`], or for an `lr` that is
    /// negative or not finite.
    pub fn try_new(config: ReduceLrOnPlateauConfig, lr: f64) -> Result<Self> {
        config.validate()?;
        check_non_negative(NAME, "lr", lr)?;
        Ok(ReduceLrOnPlateau {
            config,
            lr,
            best: config.mode.worst(),
            num_bad_epochs: 0,
            cooldown_counter: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ReduceLrOnPlateauConfig {
        &self.config
    }

    /// The current learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The best metric so far (±∞ before the first step).
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Consecutive epochs without improvement since the last improvement, reduction or cooldown.
    pub fn num_bad_epochs(&self) -> usize {
        self.num_bad_epochs
    }

    /// Epochs of cooldown left.
    pub fn cooldown_counter(&self) -> usize {
        self.cooldown_counter
    }

    /// Records one epoch's metric and returns the learning rate for the next epoch.
    ///
    /// # Panics
    /// If `metric` is NaN; [`ReduceLrOnPlateau::try_step`] returns the error.
    #[track_caller]
    pub fn step(&mut self, metric: f64) -> f64 {
        or_panic(self.try_step(metric))
    }

    /// Fallible [`ReduceLrOnPlateau::step`]; on an error nothing changes.
    ///
    /// # Errors
    /// [`OptimError::Config`] naming the metric if it is NaN, which is neither better nor worse
    /// than anything (±∞ are accepted: −∞ is the best a min-mode metric can be).
    pub fn try_step(&mut self, metric: f64) -> Result<f64> {
        if metric.is_nan() {
            return Err(OptimError::config(
                NAME,
                "step: the metric is NaN, which cannot be compared with the best one; check the evaluation that produced it",
            ));
        }
        if self.improves(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs = self.num_bad_epochs.saturating_add(1);
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.config.patience {
            let reduced = (self.lr * self.config.factor).max(self.config.min_lr);
            if self.lr - reduced > self.config.eps {
                self.lr = reduced;
            }
            self.cooldown_counter = self.config.cooldown;
            self.num_bad_epochs = 0;
        }
        Ok(self.lr)
    }

    /// [`ReduceLrOnPlateau::step`] on the optimizer's learning rate: reads [`Optimizer::lr`]
    /// (so an lr set elsewhere since is what falls, as PyTorch reads each group's `lr`), steps,
    /// and sets the result with [`Optimizer::try_set_lr`]. Returns the new lr.
    ///
    /// ```
    /// # use tapegrad_optim::{Optimizer, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, Sgd, SgdConfig};
    /// # use tapegrad_autograd::Param;
    /// # use tapegrad_tensor::Tensor;
    /// let w = Param::new("w", Tensor::<f64>::zeros(&[2]));
    /// let mut opt = Sgd::new(&w, SgdConfig { lr: 0.1, ..Default::default() });
    /// let config = ReduceLrOnPlateauConfig { patience: 0, ..Default::default() };
    /// let mut plateau = ReduceLrOnPlateau::new(config, opt.lr());
    /// for validation_loss in [0.5, 0.7] {
    ///     plateau.step_optimizer(validation_loss, &mut opt);
    /// }
    /// assert!((opt.lr() - 0.01).abs() < 1e-17);
    /// ```
    ///
    /// # Panics
    /// Where [`ReduceLrOnPlateau::try_step_optimizer`] returns an error, with its message.
    #[track_caller]
    pub fn step_optimizer<T: Float>(
        &mut self,
        metric: f64,
        optimizer: &mut (impl Optimizer<T> + ?Sized),
    ) -> f64 {
        or_panic(self.try_step_optimizer(metric, optimizer))
    }

    /// Fallible [`ReduceLrOnPlateau::step_optimizer`]; on an error neither the scheduler nor the
    /// optimizer changes.
    ///
    /// # Errors
    /// As [`ReduceLrOnPlateau::try_step`] and [`Optimizer::try_set_lr`].
    pub fn try_step_optimizer<T: Float>(
        &mut self,
        metric: f64,
        optimizer: &mut (impl Optimizer<T> + ?Sized),
    ) -> Result<f64> {
        let mut next = self.clone();
        next.lr = optimizer.lr();
        let lr = next.try_step(metric)?;
        optimizer.try_set_lr(lr)?;
        *self = next;
        Ok(lr)
    }

    /// The scheduler's state as metadata strings, in the form of an optimizer's
    /// [`StateDict::metadata`](crate::StateDict::metadata): `lr`, `best`, `num_bad_epochs`,
    /// `cooldown_counter`, and `hyper.<field>` for the configuration. Floats are written in their
    /// shortest round-trip form, so a reload restores them bit for bit.
    ///
    /// To keep it in a file, save `StateDict { tensors: BTreeMap::new(), metadata }` with
    /// [`save_state_dict_file`](crate::save_state_dict_file).
    pub fn state_dict(&self) -> BTreeMap<String, String> {
        let mut state = self.hyperparameters();
        state.insert("lr".into(), fmt_f64(self.lr));
        state.insert("best".into(), fmt_f64(self.best));
        state.insert("num_bad_epochs".into(), self.num_bad_epochs.to_string());
        state.insert("cooldown_counter".into(), self.cooldown_counter.to_string());
        state
    }

    /// Restores a state from [`ReduceLrOnPlateau::state_dict`]. The configuration in `state` must
    /// equal this scheduler's; nothing changes unless everything fits.
    ///
    /// # Errors
    /// [`OptimError::Mismatch`] listing missing, unexpected and mismatched keys: another
    /// configuration, an unreadable number, an lr that is negative or not finite, a NaN `best`,
    /// or counters beyond `patience` or `cooldown`, which no sequence of steps leaves.
    pub fn load_state_dict(&mut self, state: &BTreeMap<String, String>) -> Result<()> {
        let (mut missing, mut mismatched) = (Vec::new(), Vec::new());
        let expected = self.hyperparameters();
        compare_settings(&expected, state, "scheduler", &mut missing, &mut mismatched);
        let mut parse = Parser {
            meta: state,
            missing: &mut missing,
            mismatched: &mut mismatched,
        };
        let lr = parse.get::<f64>("lr");
        let best = parse.get::<f64>("best");
        let bad = parse.get::<usize>("num_bad_epochs");
        let cooldown = parse.get::<usize>("cooldown_counter");
        if let Some(Err(e)) = lr.map(|lr| check_non_negative(NAME, "lr", lr)) {
            mismatched.push(format!("lr: {e}"));
        }
        if best.is_some_and(f64::is_nan) {
            mismatched.push("best: NaN is no metric a step accepts".into());
        }
        if let Some(bad) = bad.filter(|&b| b > self.config.patience) {
            mismatched.push(format!(
                "num_bad_epochs: {bad}, more than the patience {}",
                self.config.patience
            ));
        }
        if let Some(left) = cooldown.filter(|&c| c > self.config.cooldown) {
            mismatched.push(format!(
                "cooldown_counter: {left}, more than the cooldown {}",
                self.config.cooldown
            ));
        }
        let known = ["lr", "best", "num_bad_epochs", "cooldown_counter"];
        let unexpected: Vec<String> = state
            .keys()
            .filter(|k| !expected.contains_key(*k) && !known.contains(&k.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
            return Err(OptimError::Mismatch {
                path: None,
                missing,
                unexpected,
                mismatched,
            });
        }
        let (Some(lr), Some(best), Some(bad), Some(cooldown)) = (lr, best, bad, cooldown) else {
            unreachable!("a missing value was reported above")
        };
        self.lr = lr;
        self.best = best;
        self.num_bad_epochs = bad;
        self.cooldown_counter = cooldown;
        Ok(())
    }

    /// The keys that must match exactly on load: the kind and the configuration.
    fn hyperparameters(&self) -> BTreeMap<String, String> {
        let c = &self.config;
        let mode = match c.mode {
            PlateauMode::Min => "min",
            PlateauMode::Max => "max",
        };
        let threshold_mode = match c.threshold_mode {
            ThresholdMode::Rel => "rel",
            ThresholdMode::Abs => "abs",
        };
        [
            ("scheduler", NAME.to_string()),
            ("hyper.mode", mode.to_string()),
            ("hyper.factor", fmt_f64(c.factor)),
            ("hyper.patience", c.patience.to_string()),
            ("hyper.threshold", fmt_f64(c.threshold)),
            ("hyper.threshold_mode", threshold_mode.to_string()),
            ("hyper.cooldown", c.cooldown.to_string()),
            ("hyper.min_lr", fmt_f64(c.min_lr)),
            ("hyper.eps", fmt_f64(c.eps)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Whether `metric` beats the best one by the threshold margin.
    fn improves(&self, metric: f64) -> bool {
        let (best, t) = (self.best, self.config.threshold);
        match (self.config.mode, self.config.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => metric < best * (1.0 - t),
            (PlateauMode::Min, ThresholdMode::Abs) => metric < best - t,
            (PlateauMode::Max, ThresholdMode::Rel) => metric > best * (1.0 + t),
            (PlateauMode::Max, ThresholdMode::Abs) => metric > best + t,
        }
    }
}

impl PlateauMode {
    /// The starting `best`, which every finite metric improves on.
    fn worst(self) -> f64 {
        match self {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }
}
