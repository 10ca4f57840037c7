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

pub use backward::{Backward, Reads, Unary};
pub use error::{AutogradError, Result, or_panic};
pub use gradcheck::{
    Check, CheckedParams, GradcheckError, Masks, ModelCheck, Report, gradcheck, gradcheck_params,
};
pub use grads::Grads;
pub use param::{Param, ParamId};
pub use tape::Tape;
pub use var::Var;

/// The names `tapegrad::prelude` gives for this crate's and `tapegrad-tensor`'s types, for this
/// crate's doc examples.
///
/// The examples are written as a user of the `tapegrad` facade writes them
/// (`use tapegrad::prelude::*;`), but this crate cannot depend on the facade (it depends on this
/// crate), so each example starts with a hidden line
/// `# mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }` that points that path
/// here. Keep this list in step with the facade's prelude; it is not part of the API.
#[doc(hidden)]
pub mod doc_prelude {
    pub use crate::ops::{CrossEntropyOptions, GeluApproximate, Reduction};
    pub use crate::{
        Backward, Check, Grads, ModelCheck, Param, Tape, Unary, Var, gradcheck, gradcheck_params,
    };
    pub use rand::{Rng, SeedableRng, rngs::StdRng};
    pub use tapegrad_tensor::conv::{Conv1dOptions, Conv2dOptions};
    pub use tapegrad_tensor::pool::Pool2d;
    pub use tapegrad_tensor::window::Size2;
    pub use tapegrad_tensor::{Float, Tensor, TensorError};
}
