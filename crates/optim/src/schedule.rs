//! Learning-rate schedules: a function from the epoch (or step) number to a learning rate.
//!
//! A schedule is stateless: call [`Optimizer::set_lr`](crate::Optimizer::set_lr) with
//! `schedule.lr(epoch)` at the start of each epoch. Epochs count from 0.
//!
//! A schedule's rates and factors follow the rule of an optimizer's learning rate: finite and
//! non-negative. Its fields are public, so it is checked where it is used: [`Schedule::try_lr`]
//! returns an error naming the schedule and the field (or the epoch, for a rate that overflows),
//! and the built-in schedules' `lr` panics with that message.
//!
//! ```
//! use tapegrad_optim::{CosineAnnealing, Schedule, Warmup};
//! let schedule = Warmup { schedule: CosineAnnealing { initial_lr: 0.1, min_lr: 0.0, period: 10 }, warmup: 5 };
//! let table: Vec<f64> = (0..16).map(|e| schedule.lr(e)).collect();
//! assert!((table[0] - 0.02).abs() < 1e-15);   // warm-up: 1/5 of the way
//! assert_eq!(table[4], 0.1);                   // warm-up ends at the schedule's epoch 0
//! assert!(table[14].abs() < 1e-15);            // ten epochs of annealing later
//! ```

use crate::error::{OptimError, Result, or_panic};
use crate::optimizer::check_non_negative;
use std::f64::consts::PI;

/// A learning rate for each epoch (or step; the unit is whatever the caller counts).
pub trait Schedule {
    /// The learning rate for `epoch`, counting from 0.
    ///
    /// The built-in schedules panic where [`Schedule::try_lr`] returns an error, with its message.
    fn lr(&self, epoch: usize) -> f64;

    /// Checks the schedule's parameters; the built-in schedules require each rate and factor to
    /// be finite and non-negative. The default accepts everything.
    ///
    /// # Errors
    /// [`OptimError::Config`] naming the schedule and the parameter.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Fallible [`Schedule::lr`]: the parameters are validated, and the rate must come out finite
    /// and non-negative (a user schedule's, or one that overflows at a late epoch).
    ///
    /// # Errors
    /// [`OptimError::Config`] from [`Schedule::validate`], or naming the epoch whose rate is NaN,
    /// infinite or negative.
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        usable(epoch, self.lr(epoch))
    }
}

/// `lr` unless it is NaN, infinite or negative, which no optimizer accepts.
fn usable(epoch: usize, lr: f64) -> Result<f64> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(lr)
    } else {
        Err(OptimError::config(
            "Schedule",
            format!(
                "epoch {epoch} gives the learning rate {lr}; it must be finite and non-negative"
            ),
        ))
    }
}

impl<S: Schedule + ?Sized> Schedule for &S {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        (**self).lr(epoch)
    }
    fn validate(&self) -> Result<()> {
        (**self).validate()
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        (**self).try_lr(epoch)
    }
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        (**self).lr(epoch)
    }
    fn validate(&self) -> Result<()> {
        (**self).validate()
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        (**self).try_lr(epoch)
    }
}

/// The same learning rate every epoch: `α = lr`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant {
    /// The learning rate.
    pub lr: f64,
}

impl Schedule for Constant {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("Constant", "lr", self.lr)
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        usable(epoch, self.lr)
    }
}

/// `α = α₀ / (1 + decay_rate · epoch)`.
///
/// PyTorch has no direct equivalent; `LambdaLR(lambda e: 1 / (1 + r·e))` gives the same.
///
/// ```
/// # use tapegrad_optim::{InverseTimeDecay, Schedule};
/// let s = InverseTimeDecay { initial_lr: 0.2, decay_rate: 1.0 };
/// assert_eq!([s.lr(0), s.lr(1), s.lr(3)], [0.2, 0.1, 0.05]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InverseTimeDecay {
    /// `α₀`, the rate at epoch 0.
    pub initial_lr: f64,
    /// How fast the rate falls; at epoch `1/decay_rate` it has halved.
    pub decay_rate: f64,
}

impl Schedule for InverseTimeDecay {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("InverseTimeDecay", "initial_lr", self.initial_lr)?;
        check_non_negative("InverseTimeDecay", "decay_rate", self.decay_rate)
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        usable(
            epoch,
            self.initial_lr / (1.0 + self.decay_rate * epoch as f64),
        )
    }
}

/// `α = α₀ · rate^epoch` (PyTorch: `ExponentialLR` with `gamma = rate`).
///
/// ```
/// # use tapegrad_optim::{ExponentialDecay, Schedule};
/// let s = ExponentialDecay { initial_lr: 1.0, rate: 0.5 };
/// assert_eq!([s.lr(0), s.lr(1), s.lr(3)], [1.0, 0.5, 0.125]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialDecay {
    /// `α₀`, the rate at epoch 0.
    pub initial_lr: f64,
    /// The factor applied each epoch, typically a little below 1 (e.g. `0.95`).
    pub rate: f64,
}

impl Schedule for ExponentialDecay {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("ExponentialDecay", "initial_lr", self.initial_lr)?;
        check_non_negative("ExponentialDecay", "rate", self.rate)
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        usable(epoch, self.initial_lr * self.rate.powf(epoch as f64))
    }
}

/// `α = α₀ · k / √max(epoch, 1)`: epochs 0 and 1 both use `α₀ · k`, so epoch 0 is finite.
///
/// [`ShiftedInverseSqrtDecay`] counts from 1 instead, `α₀ · k / √(epoch + 1)`, so every epoch
/// decays. Side by side, for `α₀ = 0.1, k = 2`:
///
/// | epoch                     | 0   | 1      | 3      | 4      | 15      | 16      |
/// |---------------------------|-----|--------|--------|--------|---------|---------|
/// | `InverseSqrtDecay`        | 0.2 | 0.2    | 0.2/√3 | 0.1    | 0.2/√15 | 0.05    |
/// | `ShiftedInverseSqrtDecay` | 0.2 | 0.2/√2 | 0.1    | 0.2/√5 | 0.05    | 0.2/√17 |
///
/// ```
/// # use tapegrad_optim::{InverseSqrtDecay, Schedule};
/// let s = InverseSqrtDecay { initial_lr: 0.1, k: 2.0 };
/// assert_eq!([s.lr(0), s.lr(1), s.lr(4), s.lr(16)], [0.2, 0.2, 0.1, 0.05]);
/// assert_eq!(s.lr(3), 0.2 / 3f64.sqrt());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InverseSqrtDecay {
    /// `α₀`.
    pub initial_lr: f64,
    /// The constant `k` scaling `α₀`.
    pub k: f64,
}

impl Schedule for InverseSqrtDecay {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("InverseSqrtDecay", "initial_lr", self.initial_lr)?;
        check_non_negative("InverseSqrtDecay", "k", self.k)
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        usable(
            epoch,
            self.initial_lr * self.k / (epoch.max(1) as f64).sqrt(),
        )
    }
}

/// `α = α₀ · k / √(epoch + 1)`: [`InverseSqrtDecay`] with epochs counted from 1, so epoch 0 uses
/// `α₀ · k` and each later epoch a smaller rate (see the table on [`InverseSqrtDecay`]).
///
/// ```
/// # use tapegrad_optim::{Schedule, ShiftedInverseSqrtDecay};
/// let s = ShiftedInverseSqrtDecay { initial_lr: 0.1, k: 2.0 };
/// assert_eq!([s.lr(0), s.lr(3), s.lr(15)], [0.2, 0.1, 0.05]);
/// assert_eq!(s.lr(1), 0.2 / 2f64.sqrt());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftedInverseSqrtDecay {
    /// `α₀`.
    pub initial_lr: f64,
    /// The constant `k` scaling `α₀`.
    pub k: f64,
}

impl Schedule for ShiftedInverseSqrtDecay {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("ShiftedInverseSqrtDecay", "initial_lr", self.initial_lr)?;
        check_non_negative("ShiftedInverseSqrtDecay", "k", self.k)
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        // In f64, so `usize::MAX + 1` does not overflow.
        let count = epoch as f64 + 1.0;
        usable(epoch, self.initial_lr * self.k / count.sqrt())
    }
}

/// `α = α₀ · γ^⌊epoch / step_size⌋`: multiplied by `γ` every `step_size` epochs
/// (PyTorch: `StepLR`).
///
/// ```
/// # use tapegrad_optim::{Schedule, StepDecay};
/// let s = StepDecay { initial_lr: 1.0, step_size: 2, gamma: 0.1 };
/// assert_eq!([s.lr(0), s.lr(1), s.lr(2), s.lr(3)], [1.0, 1.0, 0.1, 0.1]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    /// `α₀`, the rate for the first `step_size` epochs.
    pub initial_lr: f64,
    /// Epochs between decays; `0` is treated as `1`.
    pub step_size: usize,
    /// The factor applied at each decay.
    pub gamma: f64,
}

impl Schedule for StepDecay {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("StepDecay", "initial_lr", self.initial_lr)?;
        check_non_negative("StepDecay", "gamma", self.gamma)
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        let drops = epoch / self.step_size.max(1);
        usable(epoch, self.initial_lr * self.gamma.powf(drops as f64))
    }
}

/// `α = α_min + ½(α₀ − α_min)(1 + cos(π · min(epoch, T) / T))` with `T = period`: a half
/// cosine from `α₀` at epoch 0 to `α_min` at epoch `T`, then `α_min` (PyTorch's
/// `CosineAnnealingLR` over one half-period, without restarts). A period of 0 gives `α_min`.
///
/// ```
/// # use tapegrad_optim::{CosineAnnealing, Schedule};
/// let s = CosineAnnealing { initial_lr: 1.0, min_lr: 0.0, period: 4 };
/// assert_eq!(s.lr(0), 1.0);
/// assert!((s.lr(2) - 0.5).abs() < 1e-15);
/// assert_eq!([s.lr(4), s.lr(9)], [0.0, 0.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealing {
    /// `α₀`, the rate at epoch 0.
    pub initial_lr: f64,
    /// `α_min`, reached at epoch `period` and kept afterwards.
    pub min_lr: f64,
    /// `T`, the number of epochs from `α₀` to `α_min`.
    pub period: usize,
}

impl Schedule for CosineAnnealing {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("CosineAnnealing", "initial_lr", self.initial_lr)?;
        check_non_negative("CosineAnnealing", "min_lr", self.min_lr)
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        if self.period == 0 {
            return Ok(self.min_lr);
        }
        let progress = epoch.min(self.period) as f64 / self.period as f64;
        let lr =
            self.min_lr + 0.5 * (self.initial_lr - self.min_lr) * (1.0 + (PI * progress).cos());
        usable(epoch, lr)
    }
}

/// A linear warm-up of `w = warmup` epochs in front of any schedule `S`.
///
/// `α(e) = S(max(e − (w − 1), 0)) · min(1, (e + 1) / w)`: during warm-up the rate climbs
/// linearly to `S(0)` in `w` equal steps (`S(0)/w, 2·S(0)/w, …, S(0)` at epoch `w − 1`), and from
/// there `S` runs from its epoch 0, shifted by `w − 1`. `w = 0` is `S` unchanged.
///
/// The first rate is `S(0)/w`, never 0; [`LinearWarmup::from_zero`] starts at exactly 0.
///
/// ```
/// # use tapegrad_optim::{Constant, ExponentialDecay, Schedule, Warmup};
/// let s = Warmup { schedule: ExponentialDecay { initial_lr: 1.0, rate: 0.5 }, warmup: 4 };
/// let table: Vec<f64> = (0..6).map(|e| s.lr(e)).collect();
/// assert_eq!(table, [0.25, 0.5, 0.75, 1.0, 0.5, 0.25]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warmup<S> {
    /// The schedule after warm-up.
    pub schedule: S,
    /// Warm-up length `w` in epochs.
    pub warmup: usize,
}

impl<S: Schedule> Schedule for Warmup<S> {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        self.schedule.validate()
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        let shift = self.warmup.saturating_sub(1);
        let base = self.schedule.try_lr(epoch.saturating_sub(shift))?;
        // `epoch < shift` is `epoch + 1 < warmup` without overflowing at `usize::MAX`.
        let lr = if epoch < shift {
            base * (epoch + 1) as f64 / self.warmup as f64
        } else {
            base
        };
        usable(epoch, lr)
    }
}

/// A linear warm-up of `w = warmup` epochs from `f₀ · S(0)` to `S(0)`, in front of any
/// schedule `S`; `f₀ = start_factor`, and [`LinearWarmup::from_zero`] sets it to 0.
///
/// `α(e) = S(0) · (f₀ + (1 − f₀) · e / w)` for `e < w`, then `α(e) = S(e − w)`: the rate climbs
/// in `w` equal steps from `f₀ · S(0)` at epoch 0 and reaches `S(0)` at epoch `w`, where `S`
/// starts. `w = 0` is `S` unchanged. PyTorch: `LinearLR(start_factor=f₀, total_iters=w)`
/// followed from epoch `w` by `S` (`SequentialLR(…, milestones=[w])`).
///
/// [`Warmup`] with `w` epochs is this with `w − 1` epochs and `f₀ = 1/w`. The two, for
/// `S = ExponentialDecay { initial_lr: 1.0, rate: 0.5 }`:
///
/// | epoch                               | 0    | 1    | 2    | 3    | 4   | 5    | 6     |
/// |-------------------------------------|------|------|------|------|-----|------|-------|
/// | `LinearWarmup::from_zero(S, 4)`     | 0    | 0.25 | 0.5  | 0.75 | 1   | 0.5  | 0.25  |
/// | `Warmup { schedule: S, warmup: 4 }` | 0.25 | 0.5  | 0.75 | 1    | 0.5 | 0.25 | 0.125 |
///
/// ```
/// # use tapegrad_optim::{ExponentialDecay, LinearWarmup, Schedule};
/// let s = LinearWarmup::from_zero(ExponentialDecay { initial_lr: 1.0, rate: 0.5 }, 4);
/// let table: Vec<f64> = (0..7).map(|e| s.lr(e)).collect();
/// assert_eq!(table, [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25]);
///
/// let half = LinearWarmup { start_factor: 0.5, ..s };
/// assert_eq!([half.lr(0), half.lr(2), half.lr(4)], [0.5, 0.75, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearWarmup<S> {
    /// The schedule after warm-up.
    pub schedule: S,
    /// Warm-up length `w` in epochs.
    pub warmup: usize,
    /// `f₀ ∈ [0, 1]`, the fraction of `S(0)` used at epoch 0.
    pub start_factor: f64,
}

impl<S> LinearWarmup<S> {
    /// A warm-up from exactly 0 at epoch 0 to `S(0)` at epoch `warmup` (`start_factor` 0).
    pub fn from_zero(schedule: S, warmup: usize) -> Self {
        LinearWarmup {
            schedule,
            warmup,
            start_factor: 0.0,
        }
    }
}

impl<S: Schedule> Schedule for LinearWarmup<S> {
    #[track_caller]
    fn lr(&self, epoch: usize) -> f64 {
        or_panic(self.try_lr(epoch))
    }
    fn validate(&self) -> Result<()> {
        // `!(…)` so that NaN is refused too.
        if !(0.0..=1.0).contains(&self.start_factor) {
            return Err(OptimError::config(
                "LinearWarmup",
                format!("start_factor must be in [0, 1], got {}", self.start_factor),
            ));
        }
        self.schedule.validate()
    }
    fn try_lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        if epoch >= self.warmup {
            return usable(epoch, self.schedule.try_lr(epoch - self.warmup)?);
        }
        let f0 = self.start_factor;
        let factor = f0 + (1.0 - f0) * epoch as f64 / self.warmup as f64;
        usable(epoch, self.schedule.try_lr(0)? * factor)
    }
}
