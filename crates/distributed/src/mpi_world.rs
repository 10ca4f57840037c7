//! The MPI communicator: `MPI_COMM_WORLD` through rsmpi.

use crate::communicator::{Communicator, Launcher, ReduceBuffers, Scalar};
use crate::error::{DistError, Result};
use mpi::collective::SystemOperation;
use mpi::environment::{Threading, Universe};
use mpi::request::{LocalScope, Request};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};

/// Every process `mpirun` started, through MPI: create one with [`MpiWorld::init`] at the start
/// of `main` and keep it until the end (dropping it finalizes MPI).
///
/// Only the thread that created it makes MPI calls (`MPI_THREAD_FUNNELED`); tapegrad's kernels
/// use their own worker threads, which never touch MPI.
pub struct MpiWorld {
    world: SimpleCommunicator,
    // Dropped last: finalizes MPI.
    _universe: Universe,
}

impl std::fmt::Debug for MpiWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiWorld")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .finish()
    }
}

impl MpiWorld {
    /// Initializes MPI and installs a panic hook that aborts the whole job after the panic's
    /// message is printed: one rank's panic would otherwise leave the others waiting forever in
    /// their next collective.
    ///
    /// # Errors
    /// [`DistError::Init`] if MPI was initialized already or cannot give funneled threading.
    pub fn init() -> Result<Self> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or_else(|| DistError::Init("MPI was initialized already".into()))?;
        if threading < Threading::Funneled {
            return Err(DistError::Init(format!(
                "the MPI library gives {threading:?} threading; tapegrad needs Funneled"
            )));
        }
        let world = universe.world();
        if world.size() > 1 {
            abort_on_panic();
        }
        Ok(MpiWorld {
            world,
            _universe: universe,
        })
    }

    /// The rsmpi communicator, for collectives tapegrad does not wrap.
    pub fn raw(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// This machine's name as MPI reports it.
    pub fn processor_name(&self) -> String {
        mpi::environment::processor_name().unwrap_or_else(|_| "?".into())
    }
}

/// Prints the panic as usual, then ends every rank of the job with `MPI_Abort`.
fn abort_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!("tapegrad: a rank panicked; aborting the MPI job so no other rank waits for it");
        // SAFETY: MPI_Abort takes the predefined world communicator, valid while MPI is
        // initialized, which it is for as long as an `MpiWorld` exists (the only installer).
        unsafe {
            mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, 101);
        }
        std::process::abort();
    }));
}

impl Communicator for MpiWorld {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn barrier(&self) {
        self.world.barrier();
    }

    fn all_reduce_sum<T: Scalar>(&self, send: &[T], recv: &mut [T]) {
        assert_eq!(
            send.len(),
            recv.len(),
            "all_reduce_sum: buffer lengths differ"
        );
        self.world
            .all_reduce_into(send, recv, SystemOperation::sum());
    }

    fn all_reduce_max(&self, value: u64) -> u64 {
        let mut out = 0u64;
        self.world
            .all_reduce_into(&value, &mut out, SystemOperation::max());
        out
    }

    fn broadcast<T: Scalar>(&self, buf: &mut [T], root: usize) {
        self.world.process_at_rank(root as i32).broadcast_into(buf);
    }

    fn reduce_while<T: Scalar, R>(
        &self,
        buckets: &mut [ReduceBuffers<T>],
        work: impl FnOnce(&mut dyn Launcher<T>) -> R,
    ) -> R {
        mpi::request::scope(|scope| {
            let mut launcher = MpiLauncher {
                world: &self.world,
                scope,
                slots: buckets.iter_mut().map(Some).collect(),
                pending: Vec::new(),
            };
            let out = work(&mut launcher);
            for k in 0..launcher.slots.len() {
                if launcher.slots[k].is_some() {
                    launcher.start(k);
                }
            }
            for request in launcher.pending.drain(..) {
                request.wait_without_status();
            }
            out
        })
    }
}

/// Non-blocking all-reduces (`MPI_Iallreduce`) of buckets, each borrowed until the scope ends.
struct MpiLauncher<'a, 's, T: Scalar> {
    world: &'a SimpleCommunicator,
    scope: &'s LocalScope<'a>,
    slots: Vec<Option<&'a mut ReduceBuffers<T>>>,
    pending: Vec<Request<'a, [T], &'s LocalScope<'a>>>,
}

impl<'a, T: Scalar> Launcher<T> for MpiLauncher<'a, '_, T> {
    fn send_mut(&mut self, k: usize) -> &mut [T] {
        match &mut self.slots[k] {
            Some(bucket) => &mut bucket.send,
            None => panic!("bucket {k} was started already"),
        }
    }

    fn start(&mut self, k: usize) {
        let bucket = self.slots[k]
            .take()
            .unwrap_or_else(|| panic!("bucket {k} was started twice"));
        let ReduceBuffers { send, recv } = bucket;
        assert_eq!(send.len(), recv.len(), "bucket {k}: buffer lengths differ");
        let request = self.world.immediate_all_reduce_into(
            self.scope,
            &send[..],
            &mut recv[..],
            SystemOperation::sum(),
        );
        self.pending.push(request);
    }

    fn poll(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for request in pending {
            if let Err(request) = request.test() {
                self.pending.push(request);
            }
        }
    }
}
