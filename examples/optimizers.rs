//! SGD, momentum, RMSprop and Adam compared: on a narrow ravine, then on a small network.
//!
//! Run: `cargo run --release --example optimizers` (add `-- --plot ravine.png` for the paths,
//! `-- --tune` to redo the learning-rate search)
//!
//! 1. **The ravine** `f(x, y) = ½(x² + 100·y²)`: a valley 10 times steeper across (y) than along
//!    (x), from `(−8, 1.2)` (f = 104), counting the steps until `f` stays below 10⁻³. Plain gradient descent must keep its
//!    step below 2/100 or it diverges across the valley, and then crawls along it. Momentum
//!    averages away the zig-zag and builds up speed along the valley; RMSprop and Adam divide
//!    each coordinate's step by its own gradient size, so both directions move alike.
//! 2. **A small network**: a 10-32-4 tanh MLP on four seeded Gaussian blobs (400 points),
//!    mini-batches of 32, until the full-data loss falls below 0.05 (at most 100 epochs).
//!
//! Each optimizer uses its best learning rate from the grid `10^(k/4)` (`--tune` reruns that
//! search and prints it): momentum is classic with μ = 0.9, RMSprop uses β = 0.9 (Hinton's
//! lecture), Adam its defaults (β₁ 0.9, β₂ 0.999, ε 1e-8).
//!
//! On the ravine momentum and Adam need about a third of SGD's steps. RMSprop is the slowest
//! there: dividing by a root mean square that forgets within ~10 steps makes every step about
//! `lr` long however small the gradient, so to settle within 10⁻³ it must take tiny steps all
//! the way. Adam's `β₂ = 0.999` remembers the large early gradients, so its steps shrink as it
//! nears the bottom. On the network every optimizer gets there; Adam first.

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use std::path::{Path, PathBuf};
use tapegrad::autograd::{Param, Tape, Var};
use tapegrad::data::{BatchOptions, Dataset};
use tapegrad::nn::{Forward, Init, Linear, Mode, Module, Sequential, Tanh};
use tapegrad::optim::{
    Adam, AdamConfig, Momentum, NamedParams, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad::rand::{SeedableRng, rngs::StdRng};
use tapegrad::tensor::Tensor;

/// The optimizers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain gradient descent.
    Sgd,
    /// Classic momentum, μ = 0.9.
    Momentum,
    /// RMSprop, β = 0.9.
    RmsProp,
    /// Adam with its defaults.
    Adam,
}

/// Every [`Kind`], in table order.
pub const KINDS: [Kind; 4] = [Kind::Sgd, Kind::Momentum, Kind::RmsProp, Kind::Adam];

impl Kind {
    /// The name printed in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sgd => "SGD",
            Kind::Momentum => "momentum 0.9",
            Kind::RmsProp => "RMSprop",
            Kind::Adam => "Adam",
        }
    }

    /// The tuned learning rate on the ravine: the best of the `--tune` grid, `10^(k/4)`.
    pub fn ravine_lr(self) -> f64 {
        grid_lr(match self {
            Kind::Sgd => -7,       // 0.0178
            Kind::Momentum => -10, // 0.00316
            Kind::RmsProp => -9,   // 0.00562
            Kind::Adam => -1,      // 0.562
        })
    }

    /// The tuned learning rate on the MLP: the best of the `--tune` grid, `10^(k/4)`.
    pub fn mlp_lr(self) -> f64 {
        grid_lr(match self {
            Kind::Sgd => 2,       // 3.16
            Kind::Momentum => -3, // 0.178
            Kind::RmsProp => -5,  // 0.0562
            Kind::Adam => -5,     // 0.0562
        })
    }

    /// This optimizer over `params` with learning rate `lr`.
    pub fn build(self, params: &dyn NamedParams<f64>, lr: f64) -> Box<dyn Optimizer<f64>> {
        let params = params.named_params();
        match self {
            Kind::Sgd => Box::new(Sgd::new(
                &params,
                SgdConfig {
                    lr,
                    ..Default::default()
                },
            )),
            Kind::Momentum => Box::new(Sgd::new(
                &params,
                SgdConfig {
                    lr,
                    momentum: Momentum::classic(0.9),
                    ..Default::default()
                },
            )),
            Kind::RmsProp => Box::new(RmsProp::new(
                &params,
                RmsPropConfig {
                    lr,
                    beta: 0.9,
                    ..Default::default()
                },
            )),
            Kind::Adam => Box::new(Adam::new(
                &params,
                AdamConfig {
                    lr,
                    ..Default::default()
                },
            )),
        }
    }
}

/// Flags of the optimizers example.
#[derive(Debug, Clone, Parser)]
#[command(about = "SGD, momentum, RMSprop and Adam on a ravine and a small MLP")]
pub struct Args {
    /// Search the learning-rate grid 10^(k/4) for each optimizer and problem, and print it.
    #[arg(long)]
    pub tune: bool,
    /// Write the optimizers' paths on the ravine to this PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Where the ravine runs start.
pub const RAVINE_START: [f64; 2] = [-8.0, 1.2];
/// The ravine's target loss.
pub const RAVINE_TARGET: f64 = 1e-3;
/// The most steps a ravine run may take.
pub const RAVINE_STEPS: usize = 2000;

/// `f(x, y) = ½(x² + 100·y²)` of a `[2]` var.
pub fn ravine(p: &Var<f64>) -> Var<f64> {
    let weights = p.constant(Tensor::from_vec(vec![0.5, 50.0], &[2]));
    p.square().mul(&weights).sum_all()
}

/// One ravine run: the points visited and the step from which `f` stays below the target.
#[derive(Debug, Clone)]
pub struct Path2d {
    /// `(x, y)` before each step, and after the last.
    pub points: Vec<(f64, f64)>,
    /// Steps after which `f` stays below the target for the rest of the run (a lucky visit on
    /// the way does not count), or `None` if it is not below at the end.
    pub steps: Option<usize>,
}

/// Runs `kind` with `lr` on the ravine from [`RAVINE_START`] for [`RAVINE_STEPS`] steps (or until
/// it diverges).
pub fn descend_ravine(kind: Kind, lr: f64) -> Path2d {
    let p = Param::new("p", Tensor::from_vec(RAVINE_START.to_vec(), &[2]));
    let mut opt = kind.build(&p, lr);
    let mut points = Vec::new();
    let mut settled = None;
    for step in 0..=RAVINE_STEPS {
        let v = p.value().to_vec();
        points.push((v[0], v[1]));
        let (loss, grads) = {
            let tape = Tape::new();
            let loss = ravine(&tape.param(&p));
            (loss.value().item(), loss.backward())
        };
        if loss >= RAVINE_TARGET {
            settled = None;
        } else if settled.is_none() {
            settled = Some(step);
        }
        if !loss.is_finite() || loss > 1e12 {
            settled = None;
            break;
        }
        if step < RAVINE_STEPS {
            opt.step(&grads);
        }
    }
    Path2d {
        points,
        steps: settled,
    }
}

/// Four Gaussian blobs in 10 dimensions, `per_class` points each (standard deviation 1 around
/// centres about 3.5 apart), seeded.
pub fn blobs(per_class: usize, seed: u64) -> Dataset<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres = Tensor::<f64>::rand_normal_with(&[4, 10], 0.0, 0.8, &mut rng).to_vec();
    let noise = Tensor::<f64>::rand_normal(&[4 * per_class, 10], &mut rng).to_vec();
    let mut x = Vec::with_capacity(noise.len());
    let mut y = Vec::with_capacity(4 * per_class);
    for i in 0..4 * per_class {
        let class = i % 4;
        x.extend((0..10).map(|j| centres[class * 10 + j] + noise[i * 10 + j]));
        y.push(class);
    }
    Dataset::new(Tensor::from_vec(x, &[4 * per_class, 10]), y)
}

/// The MLP's target loss.
pub const MLP_TARGET: f64 = 0.05;
/// The most epochs an MLP run may take.
pub const MLP_EPOCHS: usize = 100;

/// Full-data cross-entropy of `model` on `data`.
fn full_loss(model: &dyn Forward<f64>, data: &Dataset<f64>) -> f64 {
    let tape = Tape::new();
    tape.no_grad(|| {
        model
            .forward(&tape.input(data.x().clone()), Mode::Eval)
            .cross_entropy(data.y())
            .value()
            .item()
    })
}

/// One MLP run: the full-data loss after each epoch and the epochs needed to reach the target.
#[derive(Debug, Clone)]
pub struct MlpRun {
    /// Loss before training, then after each epoch.
    pub losses: Vec<f64>,
    /// Epochs (and mini-batch steps) to reach [`MLP_TARGET`], or `None` within [`MLP_EPOCHS`].
    pub reached: Option<(usize, usize)>,
}

/// Trains a fresh 10-32-4 tanh MLP (the same weights and batch order for every optimizer).
pub fn train_mlp(kind: Kind, lr: f64, data: &Dataset<f64>) -> MlpRun {
    let mut rng = StdRng::seed_from_u64(5);
    let model = Sequential::new()
        .push(Linear::new(10, 32, Init::Xavier, &mut rng))
        .push(Tanh)
        .push(Linear::new(32, 4, Init::Xavier, &mut rng));
    let mut opt = kind.build(&model.parameters(), lr);
    let mut order = StdRng::seed_from_u64(6);
    let mut losses = vec![full_loss(&model, data)];
    let mut steps = 0;
    for epoch in 1..=MLP_EPOCHS {
        for (x, y) in data.batches(32, &mut order, BatchOptions::default()) {
            let grads = {
                let tape = Tape::new();
                model
                    .forward(&tape.input(x), Mode::Train)
                    .cross_entropy(&y)
                    .backward()
            };
            opt.step(&grads);
            steps += 1;
        }
        let loss = full_loss(&model, data);
        losses.push(loss);
        if loss < MLP_TARGET {
            return MlpRun {
                losses,
                reached: Some((epoch, steps)),
            };
        }
        if !loss.is_finite() {
            break;
        }
    }
    MlpRun {
        losses,
        reached: None,
    }
}

/// `10^(k/4)`: four learning rates per decade.
pub fn grid_lr(k: i32) -> f64 {
    10f64.powf(k as f64 / 4.0)
}

/// The learning-rate grid `10^(k/4)`, from 10⁻⁴ to 10.
pub fn grid() -> Vec<f64> {
    (-16..=4).map(grid_lr).collect()
}

/// The grid's fastest learning rate for `cost` (lower is better, `None` is a failure).
pub fn tune(cost: impl Fn(f64) -> Option<usize>) -> Option<(f64, usize)> {
    grid()
        .into_iter()
        .filter_map(|lr| cost(lr).map(|c| (lr, c)))
        .min_by_key(|&(_, c)| c)
}

/// `lr` with three significant digits (0.00316, 0.0562, 3.16).
fn lr_text(lr: f64) -> String {
    let digits = (2 - lr.log10().floor() as i32).max(0) as usize;
    format!("{lr:.digits$}")
}

fn steps_text(steps: Option<usize>, limit: usize) -> String {
    steps.map_or_else(|| format!("> {limit}"), |s| s.to_string())
}

/// Runs both comparisons with the tuned rates and prints them.
pub fn run() -> (Vec<Path2d>, Vec<MlpRun>) {
    println!(
        "1. ravine f = ½(x² + 100y²) from ({}, {}), f = 104: steps until f stays below {RAVINE_TARGET:e}",
        RAVINE_START[0], RAVINE_START[1]
    );
    println!("   {:<14} {:>8} {:>8}", "optimizer", "lr", "steps");
    let paths: Vec<Path2d> = KINDS
        .iter()
        .map(|&k| {
            let path = descend_ravine(k, k.ravine_lr());
            println!(
                "   {:<14} {:>8} {:>8}",
                k.name(),
                lr_text(k.ravine_lr()),
                steps_text(path.steps, RAVINE_STEPS)
            );
            path
        })
        .collect();

    let data = blobs(100, 4);
    println!(
        "\n2. 10-32-4 tanh MLP on {} points in 4 blobs, batches of 32, until loss < {MLP_TARGET}",
        data.len()
    );
    println!(
        "   {:<14} {:>8} {:>8} {:>8} {:>12}",
        "optimizer", "lr", "epochs", "steps", "loss then"
    );
    let runs: Vec<MlpRun> = KINDS
        .iter()
        .map(|&k| {
            let r = train_mlp(k, k.mlp_lr(), &data);
            let (epochs, steps) = match r.reached {
                Some((e, s)) => (e.to_string(), s.to_string()),
                None => (format!("> {MLP_EPOCHS}"), "-".into()),
            };
            println!(
                "   {:<14} {:>8} {:>8} {:>8} {:>12.4}",
                k.name(),
                lr_text(k.mlp_lr()),
                epochs,
                steps,
                r.losses.last().expect("at least the initial loss")
            );
            r
        })
        .collect();
    (paths, runs)
}

fn print_tuning() {
    let data = blobs(100, 4);
    println!("\nlearning-rate search over 10^(k/4), k = −16..4:");
    println!(
        "   {:<14} {:>12} {:>8} {:>12} {:>8}",
        "optimizer", "ravine lr", "steps", "MLP lr", "epochs"
    );
    for k in KINDS {
        let ravine = tune(|lr| descend_ravine(k, lr).steps);
        let mlp = tune(|lr| train_mlp(k, lr, &data).reached.map(|(e, _)| e));
        let show = |best: Option<(f64, usize)>| match best {
            Some((lr, n)) => (lr_text(lr), n.to_string()),
            None => ("none".into(), "-".into()),
        };
        let ((rl, rs), (ml, ms)) = (show(ravine), show(mlp));
        println!("   {:<14} {rl:>12} {rs:>8} {ml:>12} {ms:>8}", k.name());
    }
}

fn plot(path: &Path, paths: &[Path2d]) -> Result<(), support::ChartError> {
    use support::{Panel, Series, figure};
    let series: Vec<Series> = KINDS
        .iter()
        .zip(paths)
        .map(|(k, p)| {
            let label = format!(
                "{} (lr {}, {} steps)",
                k.name(),
                lr_text(k.ravine_lr()),
                steps_text(p.steps, RAVINE_STEPS)
            );
            let shown = p.steps.map_or(p.points.len(), |s| s + 1);
            Series::new(label, p.points[..shown].to_vec())
        })
        .collect();
    // The level sets f = k²/2 are ellipses through x = ±k and y = ±k/10: evenly spaced rings
    // that show the valley ten times steeper across than along.
    let f = |x: f64, y: f64| 0.5 * (x * x + 100.0 * y * y);
    let levels = (1..=20).map(|k| 0.5 * (k * k) as f64).collect();
    figure(
        path,
        &[Panel::new(
            "Ravine ½(x² + 100y²) from (−8, 1.2), until f stays below 1e-3",
            "x",
            "y",
            &series,
        )
        .contours("contours f = k²/2 (x = ±k, y = ±k/10)", &f, levels)],
    )
}

#[allow(dead_code)] // a test includes this file as a module and calls `run` directly
fn main() {
    let args = Args::parse();
    support::require_plot_path(args.plot.as_deref());
    let (paths, _) = run();
    if args.tune {
        print_tuning();
    }
    if let Some(path) = &args.plot {
        if let Err(e) = plot(path, &paths) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        println!("paths written to {}", path.display());
    }
}
