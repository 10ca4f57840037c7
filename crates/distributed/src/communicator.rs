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

/// Starts reductions while other work (a backward pass) goes on; given by
/// [`Communicator::reduce_while`].
pub trait Launcher<T> {
    /// Bucket `k`, to fill before [`Launcher::start`].
    ///
    /// # Panics
    /// If bucket `k` has been started already.
    fn bucket_mut(&mut self, k: usize) -> &mut [T];
    /// Starts the in-place all-reduce of bucket `k` (non-blocking); a bucket starts at most once.
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
    /// `buf ← Σ over ranks of buf`, on every rank, in place; the lengths must agree.
    fn all_reduce_sum<T: Scalar>(&self, buf: &mut [T]);
    /// The largest `value` over the ranks, on every rank.
    fn all_reduce_max(&self, value: u64) -> u64;
    /// `buf ← root's buf` on every rank.
    fn broadcast<T: Scalar>(&self, buf: &mut [T], root: usize);
    /// `buf` is every rank's block in rank order, rank `r`'s `lengths[r]` elements long: each
    /// rank enters with its own block filled, and leaves with every rank's, in place.
    ///
    /// # Panics
    /// If `lengths` does not have one entry per rank adding up to `buf.len()`.
    fn all_gather<T: Scalar>(&self, buf: &mut [T], lengths: &[usize]);
    /// Runs `work`, which may start the in-place all-reduce of any bucket as soon as it is
    /// filled; returns after every bucket's reduction has completed (buckets `work` did not start
    /// are started at the end, in order).
    fn reduce_while<T: Scalar, R>(
        &self,
        buckets: Vec<&mut [T]>,
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

    fn all_reduce_sum<T: Scalar>(&self, _buf: &mut [T]) {}

    fn all_reduce_max(&self, value: u64) -> u64 {
        value
    }

    fn broadcast<T: Scalar>(&self, _buf: &mut [T], root: usize) {
        assert_eq!(root, 0, "broadcast from rank {root} in a world of 1");
    }

    fn all_gather<T: Scalar>(&self, buf: &mut [T], lengths: &[usize]) {
        check_blocks(buf.len(), lengths, 1);
    }

    fn reduce_while<T: Scalar, R>(
        &self,
        buckets: Vec<&mut [T]>,
        work: impl FnOnce(&mut dyn Launcher<T>) -> R,
    ) -> R {
        // A world of one: every sum is the bucket itself.
        work(&mut Blocking::new(self, buckets))
    }
}

/// Panics unless `lengths` has one block per rank and the blocks fill the buffer exactly.
pub(crate) fn check_blocks(len: usize, lengths: &[usize], size: usize) {
    assert_eq!(
        lengths.len(),
        size,
        "all_gather: {} block lengths for {size} ranks",
        lengths.len()
    );
    let total = lengths.iter().try_fold(0usize, |a, &b| a.checked_add(b));
    assert_eq!(
        total,
        Some(len),
        "all_gather: blocks of {lengths:?} elements do not fill a buffer of {len}"
    );
}

/// Reduces each bucket with a blocking all-reduce the moment it is started, timing the calls.
pub(crate) struct Blocking<'a, T, C> {
    comm: &'a C,
    buckets: Vec<&'a mut [T]>,
    started: Vec<bool>,
    /// Time inside the blocking calls.
    pub(crate) time: std::time::Duration,
}

impl<'a, T, C> Blocking<'a, T, C> {
    /// A launcher for `buckets`, none started yet.
    pub(crate) fn new(comm: &'a C, buckets: Vec<&'a mut [T]>) -> Self {
        Blocking {
            comm,
            started: vec![false; buckets.len()],
            buckets,
            time: std::time::Duration::ZERO,
        }
    }
}

impl<T: Scalar, C: Communicator> Launcher<T> for Blocking<'_, T, C> {
    fn bucket_mut(&mut self, k: usize) -> &mut [T] {
        assert!(!self.started[k], "bucket {k} was started already");
        self.buckets[k]
    }

    fn start(&mut self, k: usize) {
        assert!(!self.started[k], "bucket {k} was started twice");
        self.started[k] = true;
        let start = std::time::Instant::now();
        self.comm.all_reduce_sum(self.buckets[k]);
        self.time += start.elapsed();
    }
}
