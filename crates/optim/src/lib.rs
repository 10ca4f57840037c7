//! Optimizers for tapegrad: SGD (with momentum in its EWMA and classic forms, and Nesterov),
//! RMSprop, Adam, AdamW and AMSGrad; learning-rate schedules and [`ReduceLrOnPlateau`];
//! gradient clipping; and exponentially weighted moving averages.
//!
//! Every optimizer implements [`Optimizer`]: `step(&grads)` updates its parameters in place,
//! skipping those without a gradient; parameter groups carry their own lr and weight decay; and
//! the state saves to and loads from a safetensors file so training resumes bit-identically.
//! Each type's documentation states its exact update rule.
//!
//! ```
//! use tapegrad_optim::{clip_grad_norm, Adam, AdamConfig, ExponentialDecay, Optimizer, Schedule};
//! use tapegrad_autograd::{Param, Tape};
//! use tapegrad_tensor::Tensor;
//!
//! let params = vec![("w".to_string(), Param::new("w", Tensor::from_vec(vec![1.0f64, -1.0], &[2])))];
//! let mut opt = Adam::new(&params, AdamConfig { lr: 0.05, ..Default::default() });
//! let schedule = ExponentialDecay { initial_lr: 0.05, rate: 0.99 };
//! for epoch in 0..100 {
//!     opt.set_lr(schedule.lr(epoch));
//!     let mut grads = {
//!         let tape = Tape::new();
//!         tape.param(&params[0].1).square().sum_all().backward()
//!     };
//!     clip_grad_norm(&mut grads, 1.0);
//!     opt.step(&grads);
//! }
//! assert!(params[0].1.value().to_vec().iter().all(|x| x.abs() < 0.05));
//! ```

#![warn(missing_docs)]

mod adam;
mod clip;
mod error;
mod ewma;
mod optimizer;
mod plateau;
mod rmsprop;
mod schedule;
mod sgd;
mod state;
mod update_shard;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use error::{OptimError, Result};
pub use ewma::{Ewma, EwmaTensor};
pub use optimizer::{GroupConfig, NamedParams, Optimizer, StateDict, UPDATE_PARALLEL_THRESHOLD};
pub use plateau::{PlateauMode, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, ThresholdMode};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::{
    Constant, CosineAnnealing, ExponentialDecay, InverseSqrtDecay, InverseTimeDecay, LinearWarmup,
    Schedule, ShiftedInverseSqrtDecay, StepDecay, Warmup,
};
pub use sgd::{Momentum, Sgd, SgdConfig};
pub use tapegrad_tensor::io::FileError;
pub use update_shard::UpdateShard;

/// Saves a [`StateDict`] to a safetensors file, atomically; the free-function form of
/// [`Optimizer::save_state`] for optimizers held as `Box<dyn Optimizer<T>>`.
pub fn save_state_dict_file<T: tapegrad_tensor::Float>(
    path: impl AsRef<std::path::Path>,
    state: &StateDict<T>,
) -> Result<()> {
    state::save(path.as_ref(), state)
}

/// Reads a [`StateDict`] saved by [`save_state_dict_file`] or [`Optimizer::save_state`]; pass it to
/// [`Optimizer::load_state_dict`].
pub fn load_state_dict_file<T: tapegrad_tensor::Float>(
    path: impl AsRef<std::path::Path>,
) -> Result<StateDict<T>> {
    let path = path.as_ref();
    state::load(path)
}
