//! The collective operations data-parallel training needs, and the single-process implementation.

use crate::error::{DistError, Result};
use std::fmt::Display;

/// The element types collectives move: `f32`/`f64` gradients and values, `u8` messages, `u64` sizes.
pub trait Scalar: Copy + Default + Send + Sync + 'static + sealed::Sealed + wire::Wire {}

impl Scalar for f32 {}
impl Scalar for f64 {}
impl Scalar for u8 {}
impl Scalar for u64 {}

mod sealed {
    /// Only the four types MPI has predefined datatypes for.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for u8 {}
    impl Sealed for u64 {}
}

/// What a type needs to cross the wire: MPI's datatype when the `mpi` feature is on, nothing else.
#[doc(hidden)]
pub mod wire {
    /// MPI's datatype equivalence when the `mpi` feature is on.
    #[cfg(feature = "mpi")]
    pub trait Wire: mpi::datatype::Equivalence {}
    #[cfg(feature = "mpi")]
    impl<T: mpi::datatype::Equivalence> Wire for T {}
    /// Nothing without the `mpi` feature.
    #[cfg(not(feature = "mpi"))]
    pub trait Wire {}
    #[cfg(not(feature = "mpi"))]
    impl<T> Wire for T {}
}

/// A send buffer and the buffer its all-reduced sum lands in (MPI reduces out of place here:
/// rsmpi's safe API has no `MPI_IN_PLACE`, and the packed send buffer is needed anyway).
#[derive(Debug, Clone, Default)]
pub struct ReduceBuffers<T> {
    /// This rank's contribution.
    pub send: Vec<T>,
    /// The sum over all ranks, after the reduction completes.
    pub recv: Vec<T>,
}

impl<T: Scalar> ReduceBuffers<T> {
    /// Two zeroed buffers of `len` elements.
    pub fn zeros(len: usize) -> Self {
        ReduceBuffers {
            send: vec![T::default(); len],
            recv: vec![T::default(); len],
        }
    }
}

/// Starts reductions while other work (a backward pass) goes on; given by
/// [`Communicator::reduce_while`].
pub trait Launcher<T> {
    /// The send buffer of bucket `k`, to fill before [`Launcher::start`].
    ///
    /// # Panics
    /// If bucket `k` has been started already.
    fn send_mut(&mut self, k: usize) -> &mut [T];
    /// Starts the all-reduce of bucket `k` (non-blocking); a bucket starts at most once.
    fn start(&mut self, k: usize);
    /// Lets started reductions make progress (MPI progresses inside its own calls).
    fn poll(&mut self) {}
}

/// Rank, size and the collectives of data-parallel training.
///
/// Every rank must make the same calls in the same order with buffers of the same length, as
/// with MPI itself; [`DataParallel`](crate::DataParallel) checks the model agrees before its
/// first reduction, because a mismatch would otherwise hang.
pub trait Communicator {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Whether this is rank 0, the one that writes checkpoints and logs.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
    /// Waits until every rank has called it.
    fn barrier(&self);
    /// `recv ← Σ over ranks of send`, on every rank; the lengths must agree.
    fn all_reduce_sum<T: Scalar>(&self, send: &[T], recv: &mut [T]);
    /// The largest `value` over the ranks, on every rank.
    fn all_reduce_max(&self, value: u64) -> u64;
    /// `buf ← root's buf` on every rank.
    fn broadcast<T: Scalar>(&self, buf: &mut [T], root: usize);
    /// Runs `work`, which may start the all-reduce of any bucket as soon as its send buffer is
    /// filled; returns after every bucket's reduction has completed (buckets `work` did not start
    /// are started at the end, in order).
    fn reduce_while<T: Scalar, R>(
        &self,
        buckets: &mut [ReduceBuffers<T>],
        work: impl FnOnce(&mut dyn Launcher<T>) -> R,
    ) -> R;

    /// Broadcasts a byte string of any length from `root` (its length first).
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize) {
        let mut len = [bytes.len() as u64];
        self.broadcast(&mut len, root);
        bytes.resize(len[0] as usize, 0);
        self.broadcast(bytes.as_mut_slice(), root);
    }

    /// Runs `f` on rank 0 only (writing a checkpoint, say) and gives every rank its outcome, so
    /// a failure there stops every rank instead of leaving them waiting.
    ///
    /// # Errors
    /// [`DistError::Root`] with rank 0's message if `f` failed there.
    fn on_root<E: Display>(&self, f: impl FnOnce() -> std::result::Result<(), E>) -> Result<()> {
        let mut message = Vec::new();
        let mut failed = [0u8];
        if self.is_root() {
            if let Err(e) = f() {
                failed[0] = 1;
                message = e.to_string().into_bytes();
            }
        }
        self.broadcast(&mut failed, 0);
        if failed[0] == 0 {
            return Ok(());
        }
        self.broadcast_bytes(&mut message, 0);
        Err(DistError::Root {
            message: String::from_utf8_lossy(&message).into_owned(),
        })
    }
}

/// One process alone: rank 0 of 1. Every collective is a copy or nothing, so code written for N
/// ranks runs unchanged (and gives the single-process result) without MPI.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn barrier(&self) {}

    fn all_reduce_sum<T: Scalar>(&self, send: &[T], recv: &mut [T]) {
        recv.copy_from_slice(send);
    }

    fn all_reduce_max(&self, value: u64) -> u64 {
        value
    }

    fn broadcast<T: Scalar>(&self, _buf: &mut [T], root: usize) {
        assert_eq!(root, 0, "broadcast from rank {root} in a world of 1");
    }

    fn reduce_while<T: Scalar, R>(
        &self,
        buckets: &mut [ReduceBuffers<T>],
        work: impl FnOnce(&mut dyn Launcher<T>) -> R,
    ) -> R {
        let mut launcher = CopyLauncher {
            started: vec![false; buckets.len()],
            buckets,
        };
        let out = work(&mut launcher);
        for k in 0..launcher.buckets.len() {
            if !launcher.started[k] {
                launcher.start(k);
            }
        }
        out
    }
}

/// A world of one: starting a reduction copies the send buffer.
struct CopyLauncher<'a, T> {
    buckets: &'a mut [ReduceBuffers<T>],
    started: Vec<bool>,
}

impl<T: Scalar> Launcher<T> for CopyLauncher<'_, T> {
    fn send_mut(&mut self, k: usize) -> &mut [T] {
        assert!(!self.started[k], "bucket {k} was started already");
        &mut self.buckets[k].send
    }

    fn start(&mut self, k: usize) {
        assert!(!self.started[k], "bucket {k} was started twice");
        self.started[k] = true;
        let ReduceBuffers { send, recv } = &mut self.buckets[k];
        recv.copy_from_slice(send);
    }
}
