//! Tensor ops, one family per file.

mod assign;
mod compare;
pub mod conv;
mod elementwise;
pub mod gemm;
mod index;
pub(crate) mod lanes;
mod matmul;
pub mod norm;
mod operators;
pub mod pool;
mod reduce;
mod softmax;
mod view;
pub mod window;
