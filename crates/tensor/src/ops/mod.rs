//! Tensor ops, one family per file.

mod assign;
mod compare;
mod elementwise;
mod index;
mod matmul;
mod operators;
mod reduce;
mod softmax;
mod view;
