//! Learning-rate decay: the schedules side by side, then what each does to one training run.
//!
//! Run: `cargo run --release --example lr_schedules` (add `-- --plot schedules.png` for the chart)
//!
//! 1. A table of every schedule in `tapegrad::optim` from `α₀ = 1` over epochs 0 to 10 and a
//!    few later ones: inverse-time decay `α₀/(1 + r·epoch)` with r = 1 and r = 0.2, exponential
//!    decay `α₀·0.95^epoch`, inverse-square-root decay `α₀/√epoch`, step decay (halve every 10
//!    epochs), cosine annealing to 0 over the run, and a 5-epoch linear warm-up before a cosine;
//!    with each one's total `Σα` over the run.
//! 2. The same small MLP (2-32-32-2, ReLU, same initial weights and batch order) trained on two
//!    interleaved spirals (400 seeded points) with plain SGD and mini-batches of 32 for 100
//!    epochs, once per schedule. It prints the full-data loss and accuracy at the end and how
//!    much the last epoch still changed the loss.
//!
//! What to look for: at a constant `α = 1` SGD keeps jumping around (with this seed it never
//! settles; with others it does, or not, by luck). Every decaying schedule takes the same large
//! early steps, then settles: the cosine schedules, whose rate ends near 0, finish lowest and
//! hardly move in their last epoch. Decay too fast and learning stops early: inverse-time decay
//! with r = 1 has `Σα` ≈ 5 (against 50 for the cosine) and ends far behind the others.

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use tapegrad::data::{BatchOptions, Dataset};
use tapegrad::nn::{Forward, Init, Linear, Mode, Module, Relu, Sequential};
use tapegrad::optim::{
    Constant, CosineAnnealing, ExponentialDecay, InverseSqrtDecay, InverseTimeDecay, Optimizer,
    Schedule, Sgd, SgdConfig, StepDecay, Warmup,
};
use tapegrad::prelude::{Tape, Tensor};
use tapegrad::rand::{Rng, SeedableRng, rngs::StdRng};

/// Flags of the schedules example.
#[derive(Debug, Clone, Parser)]
#[command(about = "Learning-rate schedules and their effect on training")]
pub struct Args {
    /// Initial learning rate α₀ of every schedule.
    #[arg(long, default_value_t = 1.0)]
    pub lr: f64,
    /// Epochs of each training run (the cosine schedules span them).
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Points per spiral arm.
    #[arg(long, default_value_t = 200)]
    pub points: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Seed of the data, the initial weights and the batch order.
    #[arg(long, default_value_t = 3)]
    pub seed: u64,
    /// Write the learning-rate and loss curves to this PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// The schedules compared, each with a short name, all starting from `lr` (`epochs` sets the
/// cosine period).
pub fn schedules(lr: f64, epochs: usize) -> Vec<(&'static str, Box<dyn Schedule>)> {
    let cosine = CosineAnnealing {
        initial_lr: lr,
        min_lr: 0.0,
        period: epochs,
    };
    vec![
        ("constant", Box::new(Constant { lr })),
        (
            "inverse time r=1",
            Box::new(InverseTimeDecay {
                initial_lr: lr,
                decay_rate: 1.0,
            }),
        ),
        (
            "inverse time r=0.2",
            Box::new(InverseTimeDecay {
                initial_lr: lr,
                decay_rate: 0.2,
            }),
        ),
        (
            "exponential 0.95",
            Box::new(ExponentialDecay {
                initial_lr: lr,
                rate: 0.95,
            }),
        ),
        (
            "inverse sqrt",
            Box::new(InverseSqrtDecay {
                initial_lr: lr,
                k: 1.0,
            }),
        ),
        (
            "step ½ every 10",
            Box::new(StepDecay {
                initial_lr: lr,
                step_size: 10,
                gamma: 0.5,
            }),
        ),
        ("cosine", Box::new(cosine)),
        (
            "warm-up 5 + cosine",
            Box::new(Warmup {
                schedule: CosineAnnealing {
                    period: epochs.saturating_sub(4),
                    ..cosine
                },
                warmup: 5,
            }),
        ),
    ]
}

/// The formulas of [`schedules`], written out by hand (the test compares the two).
pub fn formula(name: &str, lr: f64, epochs: usize, e: usize) -> f64 {
    let ef = e as f64;
    let cosine = |e: f64, period: f64| 0.5 * lr * (1.0 + (PI * (e.min(period) / period)).cos());
    match name {
        "constant" => lr,
        "inverse time r=1" => lr / (1.0 + ef),
        "inverse time r=0.2" => lr / (1.0 + 0.2 * ef),
        "exponential 0.95" => lr * 0.95f64.powi(e as i32),
        "inverse sqrt" => lr / ef.max(1.0).sqrt(),
        "step ½ every 10" => lr * 0.5f64.powi((e / 10) as i32),
        "cosine" => cosine(ef, epochs as f64),
        "warm-up 5 + cosine" if e < 4 => lr * (ef + 1.0) / 5.0,
        "warm-up 5 + cosine" => cosine(ef - 4.0, epochs as f64 - 4.0),
        _ => panic!("no formula for {name}"),
    }
}

/// Two interleaved spirals, `points` per arm, with a little seeded noise: labels 0 and 1.
pub fn spirals(points: usize, seed: u64) -> Dataset<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(4 * points);
    let mut y = Vec::with_capacity(2 * points);
    for arm in 0..2 {
        for i in 0..points {
            let t = i as f64 / points as f64; // 0 at the centre, 1 at the tip
            let angle = 3.0 * PI * t + PI * arm as f64;
            let radius = 0.1 + 0.9 * t;
            let mut noise = || 0.04 * (rng.random::<f64>() - 0.5);
            let (nx, ny) = (noise(), noise());
            x.push(radius * angle.cos() + nx);
            x.push(radius * angle.sin() + ny);
            y.push(arm);
        }
    }
    Dataset::new(Tensor::from_vec(x, &[2 * points, 2]), y)
}

fn mlp(seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Linear::new(2, 32, Init::He, &mut rng))
        .push(Relu)
        .push(Linear::new(32, 32, Init::He, &mut rng))
        .push(Relu)
        .push(Linear::new(32, 2, Init::Xavier, &mut rng))
}

/// Cross-entropy and accuracy of `model` on all of `data`.
pub fn evaluate(model: &dyn Forward<f64>, data: &Dataset<f64>) -> (f64, f64) {
    let tape = Tape::new();
    let logits = tape.no_grad(|| model.forward(&tape.input(data.x().clone()), Mode::Eval));
    let loss = logits.cross_entropy(data.y()).value().item();
    let correct = logits
        .value()
        .argmax(-1)
        .iter()
        .zip(data.y())
        .filter(|(p, y)| p == y)
        .count();
    (loss, correct as f64 / data.len() as f64)
}

/// One schedule's run: the rate and the full-data loss per epoch.
#[derive(Debug, Clone)]
pub struct Run {
    /// The schedule's name.
    pub name: &'static str,
    /// Learning rate used in each epoch.
    pub lrs: Vec<f64>,
    /// Full-data loss before training (index 0) and after each epoch.
    pub losses: Vec<f64>,
    /// Full-data accuracy at the end.
    pub accuracy: f64,
}

/// Trains a fresh model (the same initial weights and batch order every time) with `schedule`.
pub fn train(name: &'static str, schedule: &dyn Schedule, data: &Dataset<f64>, args: &Args) -> Run {
    let model = mlp(args.seed);
    let mut opt = Sgd::new(
        &model.parameters(),
        SgdConfig {
            lr: args.lr,
            ..Default::default()
        },
    );
    let mut order = StdRng::seed_from_u64(args.seed + 1);
    let mut losses = vec![evaluate(&model, data).0];
    let mut lrs = Vec::new();
    for epoch in 0..args.epochs {
        let lr = schedule.lr(epoch);
        opt.set_lr(lr);
        lrs.push(lr);
        for (x, y) in data.batches(args.batch_size, &mut order, BatchOptions::default()) {
            let grads = {
                let tape = Tape::new();
                let logits = model.forward(&tape.input(x), Mode::Train);
                logits.cross_entropy(&y).backward()
            };
            opt.step(&grads);
        }
        losses.push(evaluate(&model, data).0);
    }
    Run {
        name,
        lrs,
        losses,
        accuracy: evaluate(&model, data).1,
    }
}

/// Epochs shown in the schedule table.
pub fn table_epochs(epochs: usize) -> Vec<usize> {
    let mut shown: Vec<usize> = (0..=10).collect();
    shown.extend(
        [20, 30, 50, 75, epochs - 1]
            .iter()
            .filter(|&&e| e > 10 && e < epochs),
    );
    shown.dedup();
    shown
}

/// Prints the schedule table and trains once per schedule.
pub fn run(args: &Args) -> Vec<Run> {
    let all = schedules(args.lr, args.epochs);
    let shown = table_epochs(args.epochs);
    print!("{:<19}", "epoch");
    for e in &shown {
        print!("{e:>7}");
    }
    println!();
    for (name, s) in &all {
        print!("{name:<19}");
        for &e in &shown {
            print!("{:>7.4}", s.lr(e));
        }
        println!(
            "  Σα = {:.2}",
            (0..args.epochs).map(|e| s.lr(e)).sum::<f64>()
        );
    }
    println!("(Σα over the {} epochs of training)", args.epochs);

    let data = spirals(args.points, args.seed);
    println!(
        "\ntraining a 2-32-32-2 ReLU MLP on {} spiral points: SGD, batches of {}, {} epochs",
        data.len(),
        args.batch_size,
        args.epochs
    );
    println!(
        "{:<19} {:>10} {:>10} {:>10} {:>22}",
        "schedule", "loss 0", "final", "accuracy", "|Δ loss| last epoch"
    );
    let mut runs = Vec::new();
    for (name, s) in &all {
        let r = train(name, s.as_ref(), &data, args);
        let n = r.losses.len();
        println!(
            "{:<19} {:>10.4} {:>10.4} {:>9.1}% {:>22.2e}",
            name,
            r.losses[0],
            r.losses[n - 1],
            100.0 * r.accuracy,
            (r.losses[n - 1] - r.losses[n - 2]).abs()
        );
        runs.push(r);
    }
    runs
}

fn plot(path: &Path, runs: &[Run]) -> Result<(), support::ChartError> {
    use support::{Panel, Series, figure};
    let curve = |v: &[f64]| {
        v.iter()
            .enumerate()
            .map(|(i, &y)| (i as f64, y))
            .collect::<Vec<_>>()
    };
    let lrs: Vec<Series> = runs
        .iter()
        .map(|r| Series::new(r.name, curve(&r.lrs)))
        .collect();
    let losses: Vec<Series> = runs
        .iter()
        .map(|r| Series::new(r.name, curve(&r.losses)))
        .collect();
    figure(
        path,
        &[
            Panel::new("Learning-rate schedules", "epoch", "learning rate", &lrs).integer_x(),
            Panel::new(
                "Spirals: full-data loss with SGD",
                "epoch",
                "cross-entropy",
                &losses,
            )
            .log_y()
            .integer_x(),
        ],
    )
}

#[allow(dead_code)] // a test includes this file as a module and calls `run` directly
fn main() {
    let args = Args::parse();
    support::require_plot_path(args.plot.as_deref());
    let runs = run(&args);
    if let Some(path) = &args.plot {
        if let Err(e) = plot(path, &runs) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        println!("curves written to {}", path.display());
    }
}
