//! [ARCHITECTURE.md]: crate::architecture
#![doc = include_str!("../README.md")]
//! ## Crate map
//!
//! | module | crate | holds |
//! |---|---|---|
//! | [`prelude`] | | the names a training script, a model of your own and an op of your own need |
//! | [`tensor`] | `tapegrad-tensor` | [`Tensor`](tensor::Tensor): strided storage, views, kernels |
//! | [`autograd`] | `tapegrad-autograd` | [`Tape`](autograd::Tape), [`Var`](autograd::Var), [`Param`](autograd::Param), [`Grads`](autograd::Grads), the [`Backward`](autograd::Backward) trait, [`gradcheck`](autograd::gradcheck()) |
//! | [`nn`] | `tapegrad-nn` (+ `tapegrad-derive`) | [`Module`](nn::Module), [`Forward`](nn::Forward), `#[derive(Module)]`, layers, losses, [`Summary`](nn::Summary), checkpoints |
//! | [`optim`] | `tapegrad-optim` | optimizers, schedules, [`ReduceLrOnPlateau`](optim::ReduceLrOnPlateau), clipping |
//! | [`distributed`] | `tapegrad-distributed` | [`DataParallel`](distributed::DataParallel), [`Communicator`](distributed::Communicator), [`Shards`](distributed::Shards); MPI with the `mpi` feature |
//! | [`data`] | this crate | [`Dataset`](data::Dataset), MNIST, CSV and `.npy` readers, batching, splits |
//! | [`architecture`] | | how the crates fit together and why |
//!
//! The examples live in the repository's `examples/` folder (they are not part of the package);
//! each is run with `cargo run --release --example NAME` from a clone.

#![warn(missing_docs)]

pub mod data;

/// How the crates fit together and why: the repository's ARCHITECTURE.md.
#[doc = include_str!("../ARCHITECTURE.md")]
pub mod architecture {}

pub use tapegrad_autograd as autograd;
pub use tapegrad_distributed as distributed;
pub use tapegrad_nn as nn;
pub use tapegrad_optim as optim;
pub use tapegrad_tensor as tensor;
pub use tapegrad_tensor::{ThreadsError, num_threads, set_num_threads};

/// The `rand` that tapegrad's API takes generators from (0.9). Use this one: a `rand` of another
/// major version in your own `Cargo.toml` gives a different `StdRng` type that tapegrad's
/// constructors do not accept.
pub use rand;

/// The common types in one import: what a training script, a model of your own and an op of
/// your own need.
pub mod prelude {
    pub use crate::data::{BatchOptions, CsvOptions, Dataset, Mnist};
    /// The seeded generator and the traits its methods come from.
    pub use rand::{Rng, SeedableRng, rngs::StdRng};
    pub use tapegrad_autograd::ops::{CrossEntropyOptions, GeluApproximate, Reduction};
    pub use tapegrad_autograd::{
        Backward, Check, Grads, ModelCheck, Param, Tape, Unary, Var, gradcheck, gradcheck_params,
    };
    pub use tapegrad_nn::{
        AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Dropout, Elu, Embedding, Flatten,
        Forward, Gelu, GeluTanh, Init, LayerNorm, LeakyRelu, Linear, LogSoftmax, MaxPool2d, Mish,
        Mode, Module, Named, NormalizeLayer, Normalizer, Relu, Sequential, Sigmoid, Silu, Softmax,
        Summary, Tanh, l2_penalty, load_module, prefixed, prefixed_buffers, save_module,
    };
    pub use tapegrad_nn::{
        BceWithLogitsLoss, CrossEntropyLoss, HuberLoss, KlDivLoss, L1Loss, MseLoss, NllLoss,
    };
    pub use tapegrad_nn::{Conv1d, Conv2d};
    pub use tapegrad_optim::{
        Adam, AdamConfig, AdamW, AdamWConfig, Constant, CosineAnnealing, Ewma, ExponentialDecay,
        InverseSqrtDecay, InverseTimeDecay, LinearWarmup, Momentum, Optimizer, ReduceLrOnPlateau,
        ReduceLrOnPlateauConfig, RmsProp, RmsPropConfig, Schedule, Sgd, SgdConfig,
        ShiftedInverseSqrtDecay, StepDecay, Warmup, clip_grad_norm, clip_grad_value,
    };
    pub use tapegrad_tensor::conv::{Conv1dOptions, Conv2dOptions};
    pub use tapegrad_tensor::pool::Pool2d;
    pub use tapegrad_tensor::window::Size2;
    pub use tapegrad_tensor::{Float, Tensor, TensorError};
}
