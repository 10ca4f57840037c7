//! Batch, mini-batch and stochastic gradient descent on MNIST: per epoch and per second.
//!
//! Run: `cargo run --release --example minibatch` (add `-- --plot minibatch.png` for the curves,
//! `-- --help` for the flags)
//!
//! One 784-64-10 ReLU MLP (same initial weights every time) is trained with plain SGD at one
//! learning rate (0.02) on the first 10,000 MNIST training images, with batches of all 10,000
//! (batch gradient descent), 512, 256, 128 and 64 (mini-batch) and 1 (stochastic). It prints the
//! full training loss
//!
//! - after the same number of **epochs** (3): smaller batches make more updates per pass over
//!   the data (10,000 for batch 1, 1 for the full batch), so they get much further (batch 1's
//!   steps are so noisy at this rate that it ends no better than batch 64, and takes 15 times
//!   as long);
//! - after the same **wall-clock budget** (2 s of training each): a full batch spends its time on
//!   few, exact steps; batch 1 makes many cheap but noisy steps and cannot use the vectorised
//!   matrix kernels (it manages about 2 epochs to the others' 30–45); mini-batches of 64–256
//!   do best, the course's advice. These timings vary from machine to machine.
//!
//! Data: `--data DIR`, else `$MNIST_DIR`, else the shipped `data/mnist`; if none can be read it
//! says so and uses synthetic data (ten Gaussian clusters in 784 dimensions) instead.

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tapegrad::data::{BatchOptions, Dataset, Mnist, resolve_data_dir};
use tapegrad::nn::{Forward, Init, Linear, Mode, Module, Normalizer, Relu, Sequential};
use tapegrad::optim::{Optimizer, Sgd, SgdConfig};
use tapegrad::prelude::{Tape, Tensor};
use tapegrad::rand::{SeedableRng, rngs::StdRng};

/// Flags of the mini-batch example.
#[derive(Debug, Clone, Parser)]
#[command(about = "Full batch vs mini-batch vs stochastic gradient descent")]
pub struct Args {
    /// Folder with the MNIST IDX files (default: $MNIST_DIR, else the shipped data/mnist).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Train on the first N training images.
    #[arg(long, default_value_t = 10_000)]
    pub train_limit: usize,
    /// Batch sizes to compare, comma separated; 0 means the whole training set.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0, 512, 256, 128, 64, 1])]
    pub batch_sizes: Vec<usize>,
    /// Epochs of the same-epochs comparison.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Seconds of training in the same-time comparison (0 skips it).
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Hidden layer width.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Learning rate of every run.
    #[arg(long, default_value_t = 0.02)]
    pub lr: f64,
    /// Seed of the initial weights and the shuffling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write loss-vs-epoch and loss-vs-time curves to this PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// How long one run trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// Whole passes over the training set; the loss is measured about four times in each.
    Epochs(usize),
    /// Seconds of training (measuring the loss is not counted); measured 10 times on the way.
    Seconds(f64),
    /// Gradient updates; the loss is measured 10 times on the way.
    Updates(usize),
}

/// One run's curve: `(seconds of training, updates, epochs, full training loss)` points.
#[derive(Debug, Clone)]
pub struct Curve {
    /// The batch size used.
    pub batch_size: usize,
    /// Training samples (the full batch's size).
    pub samples: usize,
    /// Measurements, the first before training.
    pub points: Vec<Point>,
}

/// One measurement of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds spent training so far.
    pub seconds: f64,
    /// Gradient updates so far.
    pub updates: usize,
    /// Passes over the data so far (fractional).
    pub epochs: f64,
    /// Mean cross-entropy over the whole training set.
    pub loss: f64,
}

impl Curve {
    /// The last measurement.
    pub fn last(&self) -> Point {
        *self.points.last().expect("a curve starts with a point")
    }
}

/// Loads and standardises the training images (one global mean and variance), or, if MNIST
/// cannot be read, says why and makes synthetic data of the same shape.
pub fn load(data: Option<PathBuf>, limit: usize, seed: u64) -> (Dataset<f32>, String) {
    let dir = resolve_data_dir(data);
    let (train, source) = match Mnist::load(&dir) {
        Ok(m) => (
            m.train.subset(..limit.min(m.train.len())),
            format!("MNIST from {}", dir.display()),
        ),
        Err(e) => {
            eprintln!("cannot read MNIST ({e}); using synthetic data instead");
            (synthetic(limit, seed), "synthetic clusters".to_string())
        }
    };
    let norm = Normalizer::fit_global(train.x()).expect("a non-empty [n, 784] tensor");
    let x = norm
        .transform(train.x())
        .expect("the shape it was fitted on");
    (Dataset::new(x, train.y().to_vec()), source)
}

/// `n` samples of 784 features in ten classes: a class's random centre plus unit noise.
pub fn synthetic(n: usize, seed: u64) -> Dataset<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres = Tensor::<f32>::rand_normal_with(&[10, 784], 0.0, 0.15, &mut rng).to_vec();
    let mut x = Tensor::<f32>::rand_normal(&[n, 784], &mut rng).to_vec();
    let y: Vec<usize> = (0..n).map(|i| i % 10).collect();
    for (i, &class) in y.iter().enumerate() {
        for j in 0..784 {
            x[i * 784 + j] += centres[class * 784 + j];
        }
    }
    Dataset::new(Tensor::from_vec(x, &[n, 784]), y)
}

/// Mean cross-entropy of `model` over all of `data`, in chunks of 2,000, without a graph.
pub fn full_loss(model: &dyn Forward<f32>, data: &Dataset<f32>) -> f64 {
    let plain = BatchOptions {
        shuffle: false,
        drop_last: false,
    };
    let mut total = 0.0;
    for (x, y) in data.batches(2000, &mut StdRng::seed_from_u64(0), plain) {
        let tape = Tape::new();
        let loss = tape.no_grad(|| model.forward(&tape.input(x), Mode::Eval).cross_entropy(&y));
        total += loss.value().item() as f64 * y.len() as f64;
    }
    total / data.len() as f64
}

/// Trains a fresh MLP (the same initial weights and shuffling seed for every batch size) with
/// batches of `batch_size` (0: all of `data`) until `budget` runs out.
pub fn train(data: &Dataset<f32>, batch_size: usize, budget: Budget, args: &Args) -> Curve {
    let batch_size = if batch_size == 0 {
        data.len()
    } else {
        batch_size
    };
    let mut init = StdRng::seed_from_u64(args.seed);
    let model = Sequential::new()
        .push(Linear::new(784, args.hidden, Init::He, &mut init))
        .push(Relu)
        .push(Linear::new(args.hidden, 10, Init::Xavier, &mut init));
    let mut opt = Sgd::new(
        &model.parameters(),
        SgdConfig {
            lr: args.lr,
            ..Default::default()
        },
    );
    let mut shuffle = StdRng::seed_from_u64(args.seed + 1);
    let per_epoch = data.len().div_ceil(batch_size);
    let (mut trained, mut updates) = (Duration::ZERO, 0usize);
    let point = |trained: Duration, updates: usize, model: &Sequential<f32>| Point {
        seconds: trained.as_secs_f64(),
        updates,
        epochs: updates as f64 / per_epoch as f64,
        loss: full_loss(model, data),
    };
    let mut points = vec![point(trained, updates, &model)];
    // When to measure next, in the budget's unit.
    let every = match budget {
        Budget::Epochs(_) => (per_epoch as f64 / 4.0).ceil(),
        Budget::Seconds(s) => s / 10.0,
        Budget::Updates(n) => (n as f64 / 10.0).max(1.0),
    };
    let progress = |trained: Duration, updates: usize| match budget {
        Budget::Seconds(_) => trained.as_secs_f64(),
        _ => updates as f64,
    };
    let limit = match budget {
        Budget::Epochs(e) => (e * per_epoch) as f64,
        Budget::Seconds(s) => s,
        Budget::Updates(n) => n as f64,
    };
    let mut next = every;
    // Everything a training step costs is timed: drawing the epoch's order, gathering the
    // batch, the forward and backward passes and the update; measuring the loss is not.
    'training: loop {
        let start = Instant::now();
        let mut batches = data.batches(batch_size, &mut shuffle, BatchOptions::default());
        trained += start.elapsed();
        loop {
            if progress(trained, updates) >= limit {
                break 'training;
            }
            let start = Instant::now();
            let Some((x, y)) = batches.next() else {
                break;
            };
            let grads = {
                let tape = Tape::new();
                model
                    .forward(&tape.input(x), Mode::Train)
                    .cross_entropy(&y)
                    .backward()
            };
            opt.step(&grads);
            trained += start.elapsed();
            updates += 1;
            if progress(trained, updates) >= next {
                points.push(point(trained, updates, &model));
                next += every;
            }
        }
    }
    if points.last().is_some_and(|p| p.updates != updates) {
        points.push(point(trained, updates, &model));
    }
    Curve {
        batch_size,
        samples: data.len(),
        points,
    }
}

impl Curve {
    /// The batch size for tables and legends: `full (n)` for the whole set.
    pub fn batch_name(&self) -> String {
        if self.batch_size >= self.samples {
            format!("full ({})", self.samples)
        } else {
            self.batch_size.to_string()
        }
    }
}

/// Both comparisons: `(same epochs, same seconds)`, one curve per batch size; the second is
/// empty if `args.seconds` is 0.
pub fn run(args: &Args) -> (Vec<Curve>, Vec<Curve>) {
    let (data, source) = load(args.data.clone(), args.train_limit, args.seed);
    let n = data.len();
    println!(
        "{n} images ({source}), 784-{}-10 ReLU MLP, SGD lr {}; loss = mean cross-entropy on all {n}",
        args.hidden, args.lr
    );
    let by_epochs: Vec<Curve> = args
        .batch_sizes
        .iter()
        .map(|&b| train(&data, b, Budget::Epochs(args.epochs), args))
        .collect();
    let by_time: Vec<Curve> = if args.seconds > 0.0 {
        args.batch_sizes
            .iter()
            .map(|&b| train(&data, b, Budget::Seconds(args.seconds), args))
            .collect()
    } else {
        Vec::new()
    };
    println!(
        "\n{:<12} │ {:>14} {:>10} │ {:>16} {:>9} {:>7}",
        "batch size",
        format!("{} epochs: loss", args.epochs),
        "seconds",
        format!("{} s: loss", args.seconds),
        "updates",
        "epochs"
    );
    for (i, e) in by_epochs.iter().enumerate() {
        let last = e.last();
        print!(
            "{:<12} │ {:>14.4} {:>10.2} │",
            e.batch_name(),
            last.loss,
            last.seconds
        );
        match by_time.get(i) {
            Some(t) => {
                let t = t.last();
                println!("{:>17.4} {:>9} {:>7.2}", t.loss, t.updates, t.epochs);
            }
            None => println!(),
        }
    }
    println!(
        "(loss before training: {:.4}; updates per epoch = ⌈{n} / batch size⌉)",
        by_epochs[0].points[0].loss
    );
    (by_epochs, by_time)
}

fn plot(path: &Path, by_epochs: &[Curve], by_time: &[Curve]) -> Result<(), support::ChartError> {
    use support::{Panel, Series, figure};
    let series = |curves: &[Curve], x: fn(&Point) -> f64| {
        curves
            .iter()
            .map(|c| {
                let pts = c.points.iter().map(|p| (x(p), p.loss)).collect();
                Series::new(format!("batch {}", c.batch_name()), pts)
            })
            .collect::<Vec<_>>()
    };
    let epochs = series(by_epochs, |p| p.epochs);
    let time = series(by_time, |p| p.seconds);
    let mut panels = vec![
        Panel::new("Training loss per epoch", "epoch", "cross-entropy", &epochs)
            .log_y()
            .integer_x(),
    ];
    // `--seconds 0` skips the same-time comparison: no empty panel for it.
    if !time.is_empty() {
        panels.push(
            Panel::new(
                "Training loss per second of training",
                "seconds",
                "cross-entropy",
                &time,
            )
            .log_y(),
        );
    }
    figure(path, &panels)
}

#[allow(dead_code)] // a test includes this file as a module and calls `run` directly
fn main() {
    let args = Args::parse();
    support::require_plot_path(args.plot.as_deref());
    let (by_epochs, by_time) = run(&args);
    if let Some(path) = &args.plot {
        if let Err(e) = plot(path, &by_epochs, &by_time) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        println!("curves written to {}", path.display());
    }
}
