//! Trains the `mnist_mlp` model data-parallel: N processes (on one machine or several), each on
//! its share of every batch, gradients averaged over MPI after every backward pass.
//!
//! One machine, two processes:
//!
//! ```text
//! cargo build --release --features mpi --example mnist_ddp
//! mpirun -np 2 target/release/examples/mnist_ddp --batch-size 256
//! ```
//!
//! Several machines: the same binary and data path on each (a shared folder, or a copy at the
//! same place), and a hostfile naming them: `mpirun -np 4 --hostfile hosts
//! target/release/examples/mnist_ddp`. Without the `mpi` feature it runs as one process.
//!
//! What it does, beside `mnist_mlp`'s loop: `--batch-size` is the global batch, split evenly
//! over the ranks (each epoch's permutation is drawn from the same seed on every rank, and each
//! rank reads its slice of every global batch); rank 0's initial weights are broadcast; each
//! rank draws its own dropout masks; the test set is evaluated in shards and the figures
//! summed; only rank 0 prints and writes checkpoints, and `--resume` reads the checkpoint on
//! every rank (so it must be readable there) and requires the world size it was saved with.
//! By default each rank runs the optimizer on its share of every parameter and the ranks then
//! exchange the updated shares (`--optimizer-step sharded`; `whole` has every rank update every
//! parameter; the weights are the same). Each epoch line gives samples/s over all ranks and the
//! shares of the step spent in gradient all-reduces and in that exchange.

#[allow(dead_code)] // the MLP's own `main` and helpers this example does not call
#[path = "mnist_mlp.rs"]
pub mod mnist_mlp;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use mnist_mlp::{Args as MlpArgs, EpochStats, MLP};
use std::collections::HashMap;
use std::time::Instant;
use tapegrad::data::Dataset;
use tapegrad::distributed::{
    BufferSync, Communicator, DataParallel, DataParallelOptions, Shards, rank_seed,
};
use tapegrad::nn::{Forward, Mode, save_module};
use tapegrad::prelude::{Tape, l2_penalty};
use tapegrad::rand::{SeedableRng, rngs::StdRng};

/// Flags: those of `mnist_mlp` (with `--batch-size` the global batch) and the data-parallel ones.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mnist_ddp",
    about = "Train the MNIST MLP data-parallel over MPI (run under mpirun; one process without the `mpi` feature)"
)]
pub struct DdpArgs {
    /// The training flags of mnist_mlp.
    #[command(flatten)]
    pub base: MlpArgs,
    /// When gradients are reduced: each bucket the moment backward completes it (eager), all
    /// after backward (after), or as non-blocking reductions that run on during backward (overlap).
    #[arg(long, value_enum, default_value_t = Reduce::Eager)]
    pub reduce: Reduce,
    /// Gradient elements per all-reduce bucket.
    #[arg(long, default_value_t = DataParallelOptions::default().bucket_elements)]
    pub bucket_elements: usize,
    /// Who runs the optimizer: each rank on its share of every parameter, the shares then
    /// exchanged (sharded), or every rank on all of them (whole). The weights are the same.
    #[arg(long, value_enum, default_value_t = OptimizerStep::Sharded)]
    pub optimizer_step: OptimizerStep,
}

/// How the ranks run the optimizer step (see `DataParallel::step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerStep {
    /// Each rank updates its share of every parameter; an all-gather exchanges the shares.
    Sharded,
    /// Every rank updates every parameter.
    Whole,
}

/// When the gradient all-reduces run (see `DataParallelOptions::overlap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Reduce {
    /// A blocking all-reduce of each bucket as soon as backward has completed it.
    Eager,
    /// One blocking all-reduce per bucket after the whole backward pass.
    After,
    /// A non-blocking all-reduce of each bucket as soon as it is complete, waited for at the end.
    Overlap,
}

/// Kernel threads per rank: the flag, else this machine's cores shared by its ranks.
fn threads_per_rank(args: &MlpArgs, comm: &impl Communicator) -> usize {
    if args.threads > 0 {
        return args.threads;
    }
    // Open MPI and MPICH say how many ranks share this machine; else assume all of them do.
    let local = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse::<usize>().ok())
        .unwrap_or(comm.size());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / local.max(1)).max(1)
}

/// Sums `values` over the ranks.
fn summed(comm: &impl Communicator, values: &[f64]) -> Vec<f64> {
    let mut sums = values.to_vec();
    comm.all_reduce_sum(&mut sums);
    sums
}

/// Test loss and accuracy, each rank evaluating its share of the test set.
fn evaluate(comm: &impl Communicator, model: &dyn Forward<f32>, test: &Dataset<f32>) -> (f64, f64) {
    let (n, r, size) = (test.len(), comm.rank(), comm.size());
    let part = test.subset(r * n / size..(r + 1) * n / size);
    let (loss, accuracy) = mnist_mlp::evaluate(model, &part, MLP.image);
    let m = part.len() as f64;
    let total = summed(comm, &[loss * m, accuracy * m]);
    (total[0] / n as f64, total[1] / n as f64)
}

/// The whole run on every rank; rank 0 prints. Returns the epochs trained.
pub fn train(comm: &impl Communicator, args: &DdpArgs) -> Result<Vec<EpochStats>, String> {
    let base = &args.base;
    let root = comm.is_root();
    // Only rank 0 writes, so only rank 0 checks (two ranks probing one path would race); every
    // rank learns the outcome before any work.
    comm.on_root(|| -> Result<(), String> {
        if let Some(path) = &base.plot {
            mnist_mlp::support::check_plot_path(path)?;
        }
        if let Some(path) = &base.checkpoint {
            for file in [path.clone(), mnist_mlp::optim_path(path)] {
                mnist_mlp::support::check_writable(&file)
                    .map_err(|e| format!("--checkpoint {}: {e}", file.display()))?;
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let run_start = Instant::now();
    let (train, test) = mnist_mlp::load_data(base)?;
    let shards = Shards::new(train.len(), base.batch_size, comm.rank(), comm.size())
        .map_err(|e| format!("--batch-size: {e}"))?;
    let model = (MLP.build)(base, &mut StdRng::seed_from_u64(base.seed));
    let mut opt = mnist_mlp::build_optimizer(base, &model);
    let schedule = mnist_mlp::build_schedule(base);
    let mut first_epoch = 0;
    let same_world = |meta: &HashMap<String, String>| {
        let saved = meta.get("world_size").and_then(|s| s.parse::<usize>().ok());
        if saved == Some(comm.size()) {
            return Ok(());
        }
        Err(format!(
            "--resume: {} was saved by {} ranks and this run has {}: resume with the same number",
            mnist_mlp::checkpoint_display(base),
            saved.map_or("an unknown number of".into(), |s| s.to_string()),
            comm.size()
        ))
    };
    if let Some((_, epoch)) = mnist_mlp::resume(base, &model, opt.as_mut(), same_world)? {
        first_epoch = epoch;
        if root {
            let path = mnist_mlp::checkpoint_display(base);
            println!("resumed from {path} after epoch {epoch}");
        }
    }
    let options = DataParallelOptions {
        bucket_elements: args.bucket_elements,
        buffers: BufferSync::FromRoot,
        overlap: args.reduce == Reduce::Overlap,
    };
    let mut ddp = DataParallel::with_options(comm, &model, options).map_err(|e| e.to_string())?;
    if root {
        println!(
            "{} ranks × {} threads; global batch {} ({} per rank), {} steps per epoch; buckets {:?}; {}; {}",
            comm.size(),
            tapegrad::num_threads(),
            base.batch_size,
            shards.local_batch(),
            shards.steps(),
            ddp.bucket_sizes(),
            match args.reduce {
                Reduce::Eager => "each bucket reduced as soon as backward completes it",
                Reduce::After => "gradients reduced after backward",
                Reduce::Overlap => "non-blocking reductions during backward",
            },
            match args.optimizer_step {
                OptimizerStep::Sharded => "optimizer step sharded over the ranks",
                OptimizerStep::Whole => "whole optimizer step on every rank",
            }
        );
        println!(
            "{}",
            mnist_mlp::run_header(base, &MLP, &train, &test, &model)
        );
    }
    let mut history = Vec::new();
    for epoch in first_epoch..base.epochs {
        let lr = schedule.lr(epoch);
        opt.set_lr(lr);
        let epoch_seed = base.seed ^ (epoch as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let steps = shards.epoch(epoch_seed);
        let bar = if base.quiet || !root {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(steps.len() as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} steps ({eta})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, base.epochs));
        let comm_before = ddp.stats();
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (step, indices) in steps.iter().enumerate() {
            let batch = train.select(indices);
            let (x, y) = (batch.x().clone(), batch.y().to_vec());
            let step_seed = base.seed ^ ((epoch as u64) << 32 | step as u64);
            let tape = Tape::with_seed(rank_seed(step_seed, comm.rank()));
            let logits = model.forward(&tape.input(mnist_mlp::shaped(x, MLP.image)), Mode::Train);
            let mut loss = logits.cross_entropy(&y);
            if base.lambda > 0.0 {
                loss = loss + l2_penalty(&tape, &model, base.lambda, base.batch_size);
            }
            loss_sum += loss.value().item() as f64 * y.len() as f64;
            correct += mnist_mlp::count_correct(logits.value(), &y);
            seen += y.len();
            drop(logits);
            let grads = if args.reduce == Reduce::After {
                let mut grads = loss.backward();
                ddp.all_reduce(&mut grads);
                grads
            } else {
                ddp.backward(&loss).map_err(|e| e.to_string())?
            };
            drop((loss, tape)); // the step below updates the weights in place
            match args.optimizer_step {
                OptimizerStep::Sharded => {
                    ddp.step(opt.as_mut(), &grads).map_err(|e| e.to_string())?
                }
                OptimizerStep::Whole => opt.step(&grads),
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let seconds = start.elapsed().as_secs_f64();
        let reduce = (ddp.stats().reduce_time - comm_before.reduce_time).as_secs_f64();
        let exchange = (ddp.stats().exchange_time - comm_before.exchange_time).as_secs_f64();
        let totals = summed(
            comm,
            &[
                loss_sum,
                correct as f64,
                seen as f64,
                seconds,
                reduce,
                exchange,
            ],
        );
        let (test_loss, test_accuracy) = evaluate(comm, &model, &test);
        let ranks = comm.size() as f64;
        let stats = EpochStats {
            epoch: epoch + 1,
            lr,
            train_loss: totals[0] / totals[2],
            train_accuracy: totals[1] / totals[2],
            test_loss,
            test_accuracy,
            seconds: totals[3] / ranks,
        };
        if root {
            let share = |k: usize| 100.0 * totals[k] / totals[3];
            println!(
                "{}  all-reduce {:.1}%, exchange {:.1}% of the step",
                stats.line(totals[2] / stats.seconds),
                share(4),
                share(5)
            );
        }
        history.push(stats);
        if let Some(path) = &base.checkpoint {
            // Every rank takes part: with sharded steps each holds part of the state.
            let state = ddp
                .optimizer_state_dict(opt.as_ref())
                .map_err(|e| e.to_string())?;
            comm.on_root(|| -> Result<(), String> {
                let meta = HashMap::from([
                    ("epoch".to_string(), (epoch + 1).to_string()),
                    ("world_size".to_string(), comm.size().to_string()),
                ]);
                save_module(&model, path, meta).map_err(|e| e.to_string())?;
                tapegrad::optim::save_state_dict_file(mnist_mlp::optim_path(path), &state)
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?;
        }
    }
    if root {
        let title = "MNIST MLP, data-parallel";
        mnist_mlp::finish(base, title, run_start, &history, "by rank 0")?;
    }
    Ok(history)
}

/// Applies the thread count, trains, and exits with the error's message (status 1).
fn run(comm: &impl Communicator, args: &DdpArgs) {
    if let Err(e) = tapegrad::set_num_threads(threads_per_rank(&args.base, comm)) {
        eprintln!("error: --threads: {e}");
        std::process::exit(2);
    }
    if let Err(e) = train(comm, args) {
        eprintln!("error (rank {}): {e}", comm.rank());
        std::process::exit(1);
    }
}

#[allow(dead_code)] // a test includes this file as a module and calls `train` directly
fn main() {
    let args = DdpArgs::parse();
    #[cfg(feature = "mpi")]
    {
        let world = tapegrad::distributed::MpiWorld::init().unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1);
        });
        run(&world, &args);
    }
    #[cfg(not(feature = "mpi"))]
    run(&tapegrad::distributed::SingleProcess, &args);
}
