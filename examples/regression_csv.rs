//! Regression on a CSV file with a loss of your own: read `data/regression/friedman1.csv`
//! (500 rows, features `x1`…`x5`, target `y`), split it by seed, and fit a derived MLP under
//! log-cosh loss, written here from `Var` ops and checked by `gradcheck` before training.
//!
//! log-cosh behaves like squared error near 0 and like absolute error far out, so a few wild
//! targets do not dominate. `cosh` overflows for large residuals, so the loss uses the stable
//! form `log cosh d = |d| + softplus(−2|d|) − ln 2`.
//!
//! Run: `cargo run --release --example regression_csv -- --loss log-cosh`

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use tapegrad::data::{load_friedman1, resolve_friedman1_csv};
use tapegrad::prelude::*;

/// The loss to train with.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// log-cosh, defined in this file.
    LogCosh,
    /// Mean squared error (`MseLoss`).
    Mse,
    /// Huber with δ = 1 (`HuberLoss`).
    Huber,
}

/// Flags.
#[derive(Parser, Debug, Clone)]
#[command(
    about = "An MLP on a CSV regression data set (Friedman #1), with a log-cosh loss written from Var ops and gradchecked."
)]
pub struct Args {
    /// The CSV file (default: $FRIEDMAN1_CSV, else the shipped data/regression/friedman1.csv).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The training loss.
    #[arg(long, value_enum, default_value_t = LossKind::LogCosh)]
    pub loss: LossKind,
    /// Passes over the training set.
    #[arg(long, default_value_t = 150)]
    pub epochs: usize,
    /// Fraction of the rows held out for testing.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed for the split, the weights and the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Mean log-cosh of the residuals: `mean(|d| + softplus(−2|d|) − ln 2)`, `d = prediction − target`.
pub fn log_cosh<T: Float>(prediction: &Var<T>, target: &Var<T>) -> Var<T> {
    let d = (prediction - target).abs();
    let ln2 = T::from_f64(std::f64::consts::LN_2);
    (&d + &d.mul_scalar(T::from_f64(-2.0)).softplus())
        .add_scalar(-ln2)
        .mean_all()
}

/// `normalise → 64 → SiLU → 64 → SiLU → 1`.
#[derive(Module, Debug, Clone)]
pub struct Regressor {
    normalize: NormalizeLayer<f32>,
    hidden: Sequential<f32>,
    out: Linear<f32>,
}

impl Forward<f32> for Regressor {
    fn forward(&self, x: &Var<f32>, mode: Mode) -> Var<f32> {
        let h = self.hidden.forward(&self.normalize.forward(x, mode), mode);
        self.out.forward(&h, mode)
    }
}

/// What a run ends with.
pub struct Outcome {
    /// Test MSE of predicting the training targets' mean for every row.
    pub baseline_mse: f64,
    /// Test MSE of the trained model.
    pub test_mse: f64,
    /// The relative difference `gradcheck` found between the custom loss's gradient and
    /// central differences.
    pub gradcheck_error: f64,
}

fn loss_of(kind: LossKind, prediction: &Var<f32>, target: &Var<f32>) -> Var<f32> {
    match kind {
        LossKind::LogCosh => log_cosh(prediction, target),
        LossKind::Mse => MseLoss::default().forward(prediction, target),
        LossKind::Huber => HuberLoss::default().forward(prediction, target),
    }
}

#[allow(dead_code)] // tests include this file as a module and call `run`
fn main() {
    let args = Args::parse();
    if let Err(err) = run(&args) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

/// Checks the loss, loads and splits the data, trains, and compares with the mean predictor.
pub fn run(args: &Args) -> Result<Outcome, Box<dyn std::error::Error>> {
    // The custom loss's gradient, against central differences, on residuals large and small.
    let prediction = Tensor::from_vec(vec![0.3, -2.0, 7.5, 0.0, 40.0, -0.01], &[6, 1]);
    let target = Tensor::from_vec(vec![0.1, 1.0, -1.5, 0.2, 1.0, 0.0], &[6, 1]);
    let report = gradcheck(
        "log_cosh",
        |v| log_cosh(&v[0], &v[1]),
        &[prediction, target],
        Check::default(),
    )?;
    println!(
        "gradcheck log_cosh: ok (relative difference {:.1e})",
        report.relative_difference
    );

    let data = load_friedman1::<f32>(resolve_friedman1_csv(args.data.clone()))?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (train, test) = data.try_split(args.test_fraction, &mut rng)?;
    println!(
        "{} training rows, {} test rows, {} features",
        train.len(),
        test.len(),
        train.x().shape()[1]
    );

    let model = Regressor {
        normalize: Normalizer::fit(train.x())?.into_layer(),
        hidden: Sequential::new()
            .push(Linear::new(5, 64, Init::He, &mut rng))
            .push(Silu)
            .push(Linear::new(64, 64, Init::He, &mut rng))
            .push(Silu),
        out: Linear::new(64, 1, Init::Xavier, &mut rng),
    };
    let mut opt = Adam::new(
        &model.parameters(),
        AdamConfig {
            lr: 3e-3,
            ..Default::default()
        },
    );
    let schedule = CosineAnnealing {
        initial_lr: 3e-3,
        min_lr: 1e-4,
        period: args.epochs,
    };

    let test_mse = |model: &Regressor| -> f64 {
        let tape = Tape::new();
        let pred = tape.no_grad(|| model.forward(&tape.input(test.x().clone()), Mode::Eval));
        MseLoss::default()
            .forward(&pred, &tape.input(test.y().clone()))
            .value()
            .item() as f64
    };
    let mean = train.y().mean_all().item();
    let baseline_mse = test.y().add_scalar(-mean).square().mean_all().item() as f64;
    for epoch in 0..args.epochs {
        opt.set_lr(schedule.lr(epoch));
        let (mut loss_sum, mut batches) = (0.0f64, 0usize);
        for (x, y) in train.batches(32, &mut rng, BatchOptions::default()) {
            let grads = {
                let tape = Tape::new();
                let loss = loss_of(
                    args.loss,
                    &model.forward(&tape.input(x), Mode::Train),
                    &tape.input(y),
                );
                loss_sum += loss.value().item() as f64;
                batches += 1;
                loss.backward()
            };
            opt.step(&grads);
        }
        if (epoch + 1) % 25 == 0 || epoch + 1 == args.epochs {
            println!(
                "epoch {:>3}: training loss {:.4}, test MSE {:.3}",
                epoch + 1,
                loss_sum / batches as f64,
                test_mse(&model)
            );
        }
    }
    let test_mse = test_mse(&model);
    println!(
        "test MSE {test_mse:.3} with {:?} loss; predicting the mean gives {baseline_mse:.3}, the noise alone about 1",
        args.loss
    );
    Ok(Outcome {
        baseline_mse,
        test_mse,
        gradcheck_error: report.relative_difference,
    })
}
