//! Tape-based reverse-mode automatic differentiation for tapegrad, and the `gradcheck` harness
//! that checks every backward rule against finite differences.
//!
//! A [`Tape`] records one forward pass. [`Var`]s are values on it; every op computes its value
//! and records a [`Backward`] rule. [`Var::backward`] walks the tape once in reverse and returns
//! [`Grads`], read per [`Param`] (long-lived, named parameters that outlive tapes).
//!
//! Ops follow the tensor crate's policy: `try_x` returns a [`Result`], `x` panics with the same message.

#![warn(missing_docs)]

mod backward;
mod error;
pub mod gradcheck;
mod grads;
pub mod ops;
mod param;
mod tape;
mod var;

pub use backward::{Backward, Unary};
pub use error::{or_panic, AutogradError, Result};
pub use gradcheck::{
    gradcheck, gradcheck_params, Check, CheckedParams, GradcheckError, Masks, ModelCheck, Report,
};
pub use grads::Grads;
pub use param::{Param, ParamId};
pub use tape::Tape;
pub use var::Var;
