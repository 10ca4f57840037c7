//! Strided `f32`/`f64` tensors for tapegrad: shared storage, views without copies, broadcasting
//! elementwise kernels, reductions, matmul through `matrixmultiply`, and indexing ops.
//!
//! This crate knows nothing of gradients; `tapegrad-autograd` builds on it.
//!
//! # Errors and panics
//! Every fallible op has a `try_x` form that returns [`Result`] with a [`TensorError`] naming the
//! op and the shapes involved; the short form `x` (and the operators) panics with the same message
//! at the caller's line. Shape errors are programming errors, so most code uses the short form.

#![warn(missing_docs)]

pub mod element;
pub mod error;
pub mod io;
mod iter;
pub mod layout;
pub mod math;
pub(crate) mod ops;
pub mod random;
pub mod shape;
pub mod simd;
pub mod storage;
pub mod tensor;
#[cfg(feature = "testing")]
pub mod testing;
pub mod threads;

pub use element::Float;
pub use error::{Result, TensorError, or_panic};
pub use iter::PARALLEL_THRESHOLD;
pub use layout::Layout;
pub use ops::gemm::GEMM_PARALLEL_THRESHOLD;
pub use ops::{conv, norm, pool, window};
pub use storage::{live_tensor_bytes, pool_capacity, pooled_bytes, set_pool_capacity};
pub use tensor::Tensor;
pub use threads::{ThreadsError, num_threads, set_num_threads};

/// The names `tapegrad::prelude` gives for this crate's types, for this crate's doc examples.
///
/// The examples are written as a user of the `tapegrad` facade writes them
/// (`use tapegrad::prelude::*;`), but this crate cannot depend on the facade (it depends on this
/// crate), so each example starts with a hidden line
/// `# mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }` that points that path
/// here. Keep this list in step with the facade's prelude; it is not part of the API.
#[doc(hidden)]
pub mod doc_prelude {
    pub use crate::conv::{Conv1dOptions, Conv2dOptions};
    pub use crate::pool::Pool2d;
    pub use crate::window::Size2;
    pub use crate::{Float, Tensor, TensorError};
    pub use rand::{Rng, SeedableRng, rngs::StdRng};
}
