//! Data-parallel training for tapegrad: the same model on N processes or machines, each on its
//! own shard of every batch, gradients averaged over the ranks after every backward pass (as
//! PyTorch's `DistributedDataParallel` over MPI, or Horovod).
//!
//! - [`Communicator`]: rank, size and the collectives; [`SingleProcess`] always, `MpiWorld`
//!   with the `mpi` feature (rsmpi over the system's MPI; run under `mpirun`).
//! - [`DataParallel`]: checks every rank has the same model, broadcasts rank 0's weights,
//!   averages gradients (small ones in flat buckets, large ones in place in their own storage),
//!   and with [`DataParallel::step`] shares the optimizer step out over the ranks.
//! - [`Shards`] and [`rank_seed`]: disjoint shards of one seeded permutation per epoch, and a
//!   seed of each rank's own for dropout.
//!
//! A training step on every rank:
//!
//! ```
//! use tapegrad_distributed::{Communicator, DataParallel, Shards, SingleProcess, rank_seed};
//! # use tapegrad_autograd::Tape;
//! # use tapegrad_nn::{Forward, Init, Linear, Mode, Module};
//! # use tapegrad_optim::{Sgd, SgdConfig};
//! # use tapegrad_tensor::Tensor;
//! # use rand::{SeedableRng, rngs::StdRng};
//! let comm = SingleProcess; // `MpiWorld::init()?` under mpirun, with the `mpi` feature
//! let model = Linear::<f32>::new(4, 1, Init::He, &mut StdRng::seed_from_u64(0));
//! let mut ddp = DataParallel::new(&comm, &model).unwrap();
//! let mut opt = Sgd::new(&model.parameters(), SgdConfig::default());
//! let x = Tensor::<f32>::ones(&[64, 4]);
//! let shards = Shards::new(64, 16, comm.rank(), comm.size()).unwrap();
//! for (step, indices) in shards.epoch(1).iter().enumerate() {
//!     let tape = Tape::with_seed(rank_seed(step as u64, comm.rank())); // dropout differs per rank
//!     let batch = x.index_select(0, indices);
//!     let loss = model.forward(&tape.input(batch), Mode::Train).square().mean_all();
//!     let grads = ddp.backward(&loss).unwrap(); // the mean over all ranks' shards
//! #   assert_eq!(grads.len(), 2);
//!     ddp.step(&mut opt, &grads).unwrap(); // each rank updates its share, then they swap
//! }
//! ```

mod communicator;
mod error;
mod fingerprint;
#[cfg(feature = "mpi")]
mod mpi_world;
mod parallel;
mod shard;

pub use communicator::{Communicator, Launcher, Scalar, SingleProcess, wire};
pub use error::{DistError, Result};
#[cfg(feature = "mpi")]
pub use mpi_world::MpiWorld;
pub use parallel::{
    BufferSync, CommStats, DataParallel, DataParallelOptions, OWN_STORAGE_ELEMENTS,
};
pub use shard::{Shards, rank_seed};

/// rsmpi, for what tapegrad does not wrap (with the `mpi` feature).
#[cfg(feature = "mpi")]
pub use mpi;
