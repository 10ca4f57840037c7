//! Tensor ops, one family per file.

mod compare;
mod elementwise;
mod index;
mod matmul;
mod reduce;
mod softmax;
mod view;
