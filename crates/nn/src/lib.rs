//! Layers and models for tapegrad: the [`Module`] and [`Forward`] traits and `#[derive(Module)]`,
//! [`Linear`], [`Sequential`], activations, [`Dropout`], normalisation ([`BatchNorm1d`],
//! [`BatchNorm2d`], [`LayerNorm`]), [`Embedding`], convolutions ([`Conv1d`], [`Conv2d`]), pooling
//! ([`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`]), initializers, L2 regularisation, loss
//! modules, input normalisation and safetensors checkpoints.

#![warn(missing_docs)]

mod activation;
mod batchnorm;
pub mod checkpoint;
mod conv;
mod dropout;
mod embedding;
mod error;
pub mod init;
pub mod l2;
mod layernorm;
mod linear;
pub mod loss;
mod module;
mod normalize;
mod pool;
mod sequential;
pub mod summary;

pub use activation::{
    Elu, Flatten, Gelu, GeluTanh, LeakyRelu, LogSoftmax, Mish, Relu, Sigmoid, Silu, Softmax, Tanh,
};
pub use batchnorm::{BatchNorm1d, BatchNorm2d};
pub use checkpoint::{Checkpoint, load_module, save_module};
pub use conv::{Conv1d, Conv2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use error::{NnError, Result};
pub use init::{Init, Initializer};
pub use l2::{L2Scope, l2_penalty, l2_penalty_of, try_l2_penalty, try_l2_penalty_of};
pub use layernorm::LayerNorm;
pub use linear::Linear;
pub use loss::{
    BceWithLogitsLoss, CrossEntropyLoss, HuberLoss, KlDivLoss, L1Loss, MseLoss, NllLoss,
};
#[doc(hidden)]
pub use module::__derive;
pub use module::{Forward, Mode, Module, Named, prefixed, prefixed_buffers};
pub use normalize::{NormalizeLayer, Normalizer};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use sequential::Sequential;
pub use summary::{Summary, SummaryRow};
/// `#[derive(Module)]`: parameters, buffers and children named after a struct's fields.
pub use tapegrad_derive::Module;
pub use tapegrad_tensor::io::FileError;
