//! How many threads tapegrad's kernels use.
//!
//! Every parallel kernel (matrix products, elementwise maps, reductions, optimizer updates) runs on
//! rayon's pool: the global one, or whichever pool the caller runs in (`ThreadPool::install`).
//! Results never depend on the count: work is split into fixed blocks and combined in a fixed
//! order, so one thread and many give bit-identical values.

use std::fmt;

/// Why [`set_num_threads`] could not take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadsError(String);

impl fmt::Display for ThreadsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "set_num_threads: {}", self.0)
    }
}

impl std::error::Error for ThreadsError {}

/// Sets the number of threads every kernel uses, for the whole process (`0`: one per core).
///
/// Call it once, before the first tensor op: rayon's global pool is built on first use and cannot
/// be resized afterwards. Without a call, the `RAYON_NUM_THREADS` environment variable is honoured,
/// else one thread per core. For a different count in one part of a program, run that part inside
/// `rayon::ThreadPoolBuilder::new().num_threads(n).build()?.install(|| …)`.
///
/// ```
/// # mod tapegrad { pub use tapegrad_tensor::{num_threads, set_num_threads}; }
/// // In `main`, before any tensor work:
/// tapegrad::set_num_threads(2).ok();
/// assert!(tapegrad::num_threads() >= 1);
/// ```
///
/// # Errors
/// [`ThreadsError`] if the pool was already built (by an earlier call or by a kernel that ran),
/// unless it already has the requested count.
pub fn set_num_threads(n: usize) -> Result<(), ThreadsError> {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
    {
        Ok(()) => Ok(()),
        Err(_) if n != 0 && rayon::current_num_threads() == n => Ok(()),
        Err(err) => Err(ThreadsError(format!(
            "the thread pool already runs {} threads and cannot be resized ({err}); call it before the first tensor op",
            rayon::current_num_threads()
        ))),
    }
}

/// The number of threads kernels started from here split their work over.
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}
