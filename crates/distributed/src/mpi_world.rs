//! The MPI communicator: `MPI_COMM_WORLD` through rsmpi.

use crate::communicator::{Communicator, Launcher, Scalar};
use crate::error::{DistError, Result};
use mpi::collective::SystemOperation;
use mpi::environment::{Threading, Universe};
use mpi::ffi::{MPI_Comm, MPI_Request};
use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};
use smallvec::SmallVec;
use std::ffi::{c_int, c_void};

unsafe extern "C" {
    /// `MPI_IN_PLACE` as the MPI library's header defines it (src/mpi_shim.c).
    fn tapegrad_mpi_in_place() -> *mut c_void;
}

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

    fn all_reduce_sum<T: Scalar>(&self, buf: &mut [T]) {
        let count = mpi_count(buf.len());
        // SAFETY: `buf` is a live, exclusively borrowed slice of `count` elements of the datatype
        // equivalent to `T`; the call is blocking, so MPI is done with it when it returns.
        unsafe {
            mpi::ffi::MPI_Allreduce(
                tapegrad_mpi_in_place(),
                buf.as_mut_ptr().cast(),
                count,
                T::equivalent_datatype().as_raw(),
                mpi::ffi::RSMPI_SUM,
                self.world.as_raw(),
            );
        }
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

    fn all_gather<T: Scalar>(&self, buf: &mut [T], lengths: &[usize]) {
        crate::communicator::check_blocks(buf.len(), lengths, self.size());
        // Inline for up to 8 ranks: the data-parallel step calls this once per parameter.
        let counts: SmallVec<[c_int; 8]> = lengths.iter().map(|&n| mpi_count(n)).collect();
        let displs: SmallVec<[c_int; 8]> = lengths
            .iter()
            .scan(0, |start, &n| {
                let at = *start;
                *start += n;
                Some(mpi_count(at))
            })
            .collect();
        let datatype = T::equivalent_datatype().as_raw();
        // SAFETY: `buf` is a live, exclusively borrowed slice of `T`; the blocks `counts` and
        // `displs` describe were checked to lie inside it; the call is blocking. With
        // MPI_IN_PLACE the send count and type are ignored.
        unsafe {
            mpi::ffi::MPI_Allgatherv(
                tapegrad_mpi_in_place(),
                0,
                datatype,
                buf.as_mut_ptr().cast(),
                counts.as_ptr(),
                displs.as_ptr(),
                datatype,
                self.world.as_raw(),
            );
        }
    }

    fn reduce_while<T: Scalar, R>(
        &self,
        buckets: Vec<&mut [T]>,
        work: impl FnOnce(&mut dyn Launcher<T>) -> R,
    ) -> R {
        let mut launcher = MpiLauncher {
            comm: self.world.as_raw(),
            slots: buckets.into_iter().map(Some).collect(),
            pending: Vec::new(),
        };
        let out = work(&mut launcher);
        for k in 0..launcher.slots.len() {
            if launcher.slots[k].is_some() {
                launcher.start(k);
            }
        }
        launcher.wait_all();
        out
    }
}

/// `len` as MPI's element count.
fn mpi_count(len: usize) -> c_int {
    c_int::try_from(len).unwrap_or_else(|_| {
        panic!(
            "a reduction of {len} elements: MPI counts stop at {}",
            c_int::MAX
        )
    })
}

/// In-place non-blocking all-reduces (`MPI_Iallreduce`) of buckets. A started bucket's borrow
/// moves into `pending` with its request, so nothing touches it until the request completes;
/// dropping the launcher waits for every request (also when `work` unwinds), so MPI never
/// writes into a buffer that is gone.
struct MpiLauncher<'a, T> {
    comm: MPI_Comm,
    slots: Vec<Option<&'a mut [T]>>,
    pending: Vec<(MPI_Request, &'a mut [T])>,
}

impl<T> MpiLauncher<'_, T> {
    fn wait_all(&mut self) {
        for (mut request, _buffer) in self.pending.drain(..) {
            // SAFETY: `request` came from MPI_Iallreduce and has not completed (completed ones
            // leave `pending`); its buffer is still borrowed here.
            unsafe {
                mpi::ffi::MPI_Wait(&mut request, mpi::ffi::RSMPI_STATUS_IGNORE);
            }
        }
    }
}

impl<T> Drop for MpiLauncher<'_, T> {
    fn drop(&mut self) {
        self.wait_all();
    }
}

impl<T: Scalar> Launcher<T> for MpiLauncher<'_, T> {
    fn bucket_mut(&mut self, k: usize) -> &mut [T] {
        match &mut self.slots[k] {
            Some(bucket) => bucket,
            None => panic!("bucket {k} was started already"),
        }
    }

    fn start(&mut self, k: usize) {
        let bucket = self.slots[k]
            .take()
            .unwrap_or_else(|| panic!("bucket {k} was started twice"));
        let count = mpi_count(bucket.len());
        let mut request: MPI_Request = unsafe { mpi::ffi::RSMPI_REQUEST_NULL };
        // SAFETY: `bucket` is an exclusively borrowed slice of `count` elements of `T`'s
        // datatype, kept borrowed in `pending` until MPI_Wait or MPI_Test completes the request.
        unsafe {
            mpi::ffi::MPI_Iallreduce(
                tapegrad_mpi_in_place(),
                bucket.as_mut_ptr().cast(),
                count,
                T::equivalent_datatype().as_raw(),
                mpi::ffi::RSMPI_SUM,
                self.comm,
                &mut request,
            );
        }
        self.pending.push((request, bucket));
    }

    fn poll(&mut self) {
        self.pending.retain_mut(|(request, _)| {
            let mut done: c_int = 0;
            // SAFETY: as in `wait_all`; a completed request is removed from `pending`.
            unsafe {
                mpi::ffi::MPI_Test(request, &mut done, mpi::ffi::RSMPI_STATUS_IGNORE);
            }
            done == 0
        });
    }
}
