//! MNIST the way a validation set is meant to be used: hold out part of the training set by
//! seed, watch the validation loss, halve the learning rate when it stalls
//! (`ReduceLrOnPlateau`), stop when it has not improved for `--patience` epochs, and report the
//! test accuracy of the best epoch's weights, kept with `model.clone()`.
//!
//! The model is a struct with `#[derive(Module)]`: input normalisation (saved as buffers),
//! a hidden layer with BatchNorm and dropout, and a linear head.
//!
//! Run: `cargo run --release --example mnist_early_stopping`

use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;
use tapegrad::data::{MNIST_DIR_VAR, Mnist, MnistOptions, resolve_data_dir};
use tapegrad::prelude::*;

/// Flags.
#[derive(Parser, Debug, Clone)]
#[command(
    about = "MNIST with a seeded validation split, ReduceLrOnPlateau and early stopping; the best epoch's weights are tested."
)]
pub struct Args {
    /// Folder with the four IDX files (default: $MNIST_DIR, else the shipped data/mnist).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Most epochs to train.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Epochs without a better validation loss before training stops.
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// Training samples held out for validation.
    #[arg(long, default_value_t = 5000)]
    pub val: usize,
    /// Use only the first N training samples (before the split): for quick runs.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Hidden units.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// Seed for the split, the weights, the batch order and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `normalise → linear → BatchNorm → ReLU → dropout → linear`.
#[derive(Module, Debug, Clone)]
pub struct Classifier {
    normalize: NormalizeLayer<f32>,
    hidden: Linear<f32>,
    norm: BatchNorm1d<f32>,
    dropout: Dropout,
    out: Linear<f32>,
}

impl Forward<f32> for Classifier {
    fn forward(&self, x: &Var<f32>, mode: Mode) -> Var<f32> {
        let h = self.hidden.forward(&self.normalize.forward(x, mode), mode);
        let h = self
            .dropout
            .forward(&self.norm.forward(&h, mode).relu(), mode);
        self.out.forward(&h, mode)
    }
}

/// One epoch's figures.
#[derive(Debug, Clone, Copy)]
pub struct Epoch {
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss and accuracy.
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_accuracy: f64,
    /// Learning rate used in the epoch.
    pub lr: f64,
}

/// What a run ends with.
pub struct Outcome {
    /// Every epoch trained.
    pub epochs: Vec<Epoch>,
    /// The epoch (counting from 1) whose weights were kept.
    pub best_epoch: usize,
    /// The kept model's validation loss, re-evaluated after training.
    pub best_val_loss: f64,
    /// The kept model's test accuracy.
    pub test_accuracy: f64,
    /// Sizes of the training and validation sets.
    pub sizes: (usize, usize),
}

/// Mean cross-entropy and accuracy of `model` on `data`, in evaluation mode.
pub fn evaluate(model: &Classifier, data: &Dataset<f32>) -> (f64, f64) {
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let plain = BatchOptions {
        shuffle: false,
        drop_last: false,
    };
    for (x, y) in data.batches(1000, &mut StdRng::seed_from_u64(0), plain) {
        let tape = Tape::new();
        let logits = tape.no_grad(|| model.forward(&tape.input(x), Mode::Eval));
        let batch_loss = logits.cross_entropy_with(
            &y,
            CrossEntropyOptions {
                reduction: Reduction::Sum,
                ..Default::default()
            },
        );
        loss += batch_loss.value().item() as f64;
        correct += logits
            .value()
            .argmax(-1)
            .iter()
            .zip(&y)
            .filter(|(p, t)| p == t)
            .count();
    }
    (loss / data.len() as f64, correct as f64 / data.len() as f64)
}

#[allow(dead_code)] // tests include this file as a module and call `run`
fn main() {
    let args = Args::parse();
    if let Err(err) = run(&args) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

/// Splits, trains with early stopping, and tests the best weights.
pub fn run(args: &Args) -> Result<Outcome, Box<dyn std::error::Error>> {
    let explicit =
        args.data.is_some() || std::env::var_os(MNIST_DIR_VAR).is_some_and(|v| !v.is_empty());
    let mnist = Mnist::load_with(
        resolve_data_dir(args.data.clone()),
        MnistOptions {
            verify_checksums: !explicit,
        },
    )?;
    let pool = match args.train_limit {
        Some(n) => mnist.train.subset(..n.min(mnist.train.len())),
        None => mnist.train,
    };
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (train, val) = pool.try_split(args.val, &mut rng)?;
    println!(
        "{} training, {} validation, {} test samples",
        train.len(),
        val.len(),
        mnist.test.len()
    );

    // Statistics from the training part only: the validation set stays unseen.
    let normalize = Normalizer::fit_global(train.x())?.into_layer();
    let model = Classifier {
        normalize,
        hidden: Linear::new(784, args.hidden, Init::He, &mut rng),
        norm: BatchNorm1d::new(args.hidden),
        dropout: Dropout::new(0.2),
        out: Linear::new(args.hidden, 10, Init::Xavier, &mut rng),
    };
    let mut opt = Adam::new(
        &model.parameters(),
        AdamConfig {
            lr: 1e-3,
            ..Default::default()
        },
    );
    let plateau = ReduceLrOnPlateauConfig {
        factor: 0.5,
        patience: 1,
        ..Default::default()
    };
    let mut scheduler = ReduceLrOnPlateau::try_new(plateau, opt.lr())?;

    let (mut best, mut best_epoch, mut best_loss) = (model.clone(), 0, f64::INFINITY);
    let mut epochs = Vec::new();
    for epoch in 1..=args.epochs {
        let start = Instant::now();
        let lr = opt.lr();
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        for (step, (x, y)) in train
            .batches(128, &mut rng, BatchOptions::default())
            .enumerate()
        {
            let grads = {
                let tape = Tape::with_seed(args.seed ^ ((epoch as u64) << 32 | step as u64));
                let loss = model.forward(&tape.input(x), Mode::Train).cross_entropy(&y);
                loss_sum += loss.value().item() as f64 * y.len() as f64;
                seen += y.len();
                loss.backward()
            };
            opt.step(&grads);
        }
        let (val_loss, val_accuracy) = evaluate(&model, &val);
        epochs.push(Epoch {
            train_loss: loss_sum / seen as f64,
            val_loss,
            val_accuracy,
            lr,
        });
        let improved = val_loss < best_loss;
        if improved {
            (best, best_epoch, best_loss) = (model.clone(), epoch, val_loss);
        }
        println!(
            "epoch {epoch:>2}: train loss {:.4}, val loss {val_loss:.4}, val accuracy {:.2}%, lr {lr:.2e}, {:.1} s{}",
            loss_sum / seen as f64,
            100.0 * val_accuracy,
            start.elapsed().as_secs_f64(),
            if improved { "  (best so far)" } else { "" }
        );
        if epoch - best_epoch >= args.patience {
            println!(
                "no better validation loss for {} epochs: stopping",
                args.patience
            );
            break;
        }
        scheduler.try_step_optimizer(val_loss, &mut opt)?;
    }

    let (best_val_loss, _) = evaluate(&best, &val);
    let (_, test_accuracy) = evaluate(&best, &mnist.test);
    println!(
        "best epoch {best_epoch} (val loss {best_val_loss:.4}); its test accuracy {:.2}%",
        100.0 * test_accuracy
    );
    Ok(Outcome {
        epochs,
        best_epoch,
        best_val_loss,
        test_accuracy,
        sizes: (train.len(), val.len()),
    })
}
