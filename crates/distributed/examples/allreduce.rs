//! Times the gradient all-reduce alone: tapegrad's in-place reduction of one bucket against
//! rsmpi's out-of-place `all_reduce_into` on the same buffers, for the 784-512-512-10 MLP's
//! 669,706 values and for its two buckets.
//!
//! Run: `cargo build --release -p tapegrad-distributed --features mpi --example allreduce`, then
//! `mpirun -np 2 target/release/examples/allreduce`.

use mpi::collective::SystemOperation;
use mpi::traits::CommunicatorCollectives;
use std::time::Instant;
use tapegrad_distributed::{Communicator, MpiWorld};

/// Median seconds of `reps` runs of `f`, after a warm-up.
fn median(reps: usize, comm: &MpiWorld, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            comm.barrier();
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn main() {
    let world = MpiWorld::init().expect("MPI initializes");
    for len in [669_706usize, 401_920, 267_786] {
        let mut buf = vec![1.0f32; len];
        let send = vec![1.0f32; len];
        let mut recv = vec![0.0f32; len];
        let in_place = median(200, &world, || world.all_reduce_sum(&mut buf));
        let out_of_place = median(200, &world, || {
            world
                .raw()
                .all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum())
        });
        let mut bucket = vec![1.0f32; len];
        let nonblocking = median(200, &world, || {
            world.reduce_while(vec![bucket.as_mut_slice()], |_| ())
        });
        if world.is_root() {
            println!(
                "{len:>8} f32 over {} ranks: in place {:.3} ms, non-blocking in place {:.3} ms, out of place (rsmpi) {:.3} ms",
                world.size(),
                in_place * 1e3,
                nonblocking * 1e3,
                out_of_place * 1e3
            );
        }
    }
}
