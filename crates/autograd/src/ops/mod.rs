//! Differentiable ops on `Var`, one family per file; each forward sits above its backward rule.

mod arith;
mod compare;
mod conv;
mod dropout;
mod index;
mod loss;
mod matmul;
mod norm;
mod pointwise_loss;
mod pool;
mod reduce;
mod softmax;
pub mod unary;
mod view;

pub use loss::{CrossEntropyOptions, Reduction};
pub use pointwise_loss::Huber;
pub use unary::GeluApproximate;
