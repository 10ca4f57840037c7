//! A model as users write it: a struct of layers with `#[derive(Module)]`, two inputs, a skip
//! connection and BatchNorm, trained with Adam, summarised, saved and reloaded.
//!
//! The task is synthetic regression: `y = 2·tanh(a·u) + (b·v)/2 + a₀·b₀ + noise` from six
//! features `a` and three features `b`. Nothing in the model is listed by hand: the derive names
//! every parameter and buffer after its field, so the checkpoint carries the BatchNorm running
//! statistics and the reloaded model predicts bit for bit what the trained one does.
//!
//! Run: `cargo run --release --example two_input -- --epochs 20`

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use std::collections::HashMap;
use std::path::PathBuf;
use tapegrad::prelude::*;

/// Flags.
#[derive(Parser, Debug, Clone)]
#[command(
    about = "A two-input model with a skip connection and BatchNorm, written with #[derive(Module)]."
)]
pub struct Args {
    /// Passes over the training set.
    #[arg(long, default_value_t = 15)]
    pub epochs: usize,
    /// Seed for the data, the initial weights and the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to save the trained model (default: a file in the system's temp directory).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
}

/// Two branches, summed; BatchNorm; a residual block; a linear head.
#[derive(Module, Debug, Clone)]
pub struct TwoInputNet {
    a_branch: Linear<f32>,
    b_branch: Linear<f32>,
    norm: BatchNorm1d<f32>,
    block: Linear<f32>,
    head: Linear<f32>,
}

impl TwoInputNet {
    /// A network with `width` hidden units.
    pub fn new(width: usize, rng: &mut StdRng) -> Self {
        TwoInputNet {
            a_branch: Linear::new(6, width, Init::He, rng),
            b_branch: Linear::new(3, width, Init::He, rng),
            norm: BatchNorm1d::new(width),
            block: Linear::new(width, width, Init::He, rng),
            head: Linear::new(width, 1, Init::Xavier, rng),
        }
    }

    /// `h = BN(relu(A·a + B·b))`, `h + relu(W·h)`, then the head.
    pub fn forward(&self, a: &Var<f32>, b: &Var<f32>, mode: Mode) -> Var<f32> {
        let h = (self.a_branch.forward(a, mode) + self.b_branch.forward(b, mode)).relu();
        let h = self.norm.forward(&h, mode);
        let h = &h + &self.block.forward(&h, mode).relu();
        self.head.forward(&h, mode)
    }
}

/// Inputs `a` `[n, 6]`, `b` `[n, 3]` and targets `[n, 1]`.
pub struct Split {
    a: Tensor<f32>,
    b: Tensor<f32>,
    y: Tensor<f32>,
}

impl Split {
    /// `n` samples of the task, drawn from `rng`.
    pub fn draw(n: usize, rng: &mut StdRng) -> Split {
        let a = Tensor::<f32>::rand_normal(&[n, 6], rng);
        let b = Tensor::<f32>::rand_normal(&[n, 3], rng);
        let (u, v) = ([0.5f32, -0.3, 0.8, 0.1, -0.6, 0.4], [1.0f32, -1.5, 0.7]);
        let noise = Tensor::<f32>::rand_normal_with(&[n], 0.0, 0.1, rng).to_vec();
        let (av, bv) = (a.to_vec(), b.to_vec());
        let y = (0..n)
            .map(|i| {
                let (ai, bi) = (&av[i * 6..i * 6 + 6], &bv[i * 3..i * 3 + 3]);
                let au: f32 = ai.iter().zip(&u).map(|(x, w)| x * w).sum();
                let bv: f32 = bi.iter().zip(&v).map(|(x, w)| x * w).sum();
                2.0 * au.tanh() + 0.5 * bv + ai[0] * bi[0] + noise[i]
            })
            .collect();
        Split {
            a,
            b,
            y: Tensor::from_vec(y, &[n, 1]),
        }
    }

    /// The rows `idx` of each tensor.
    fn rows(&self, idx: &[usize]) -> (Tensor<f32>, Tensor<f32>, Tensor<f32>) {
        (
            self.a.index_select(0, idx),
            self.b.index_select(0, idx),
            self.y.index_select(0, idx),
        )
    }

    fn len(&self) -> usize {
        self.y.shape()[0]
    }
}

/// Mean squared error of `model` on `data` in evaluation mode, and its predictions.
pub fn evaluate(model: &TwoInputNet, data: &Split) -> (f64, Vec<f32>) {
    let tape = Tape::new();
    tape.no_grad(|| {
        let pred = model.forward(
            &tape.input(data.a.clone()),
            &tape.input(data.b.clone()),
            Mode::Eval,
        );
        let mse = pred
            .mse(&tape.input(data.y.clone()), Reduction::Mean)
            .value()
            .item();
        (mse as f64, pred.value().to_vec())
    })
}

/// What a run ends with.
pub struct Outcome {
    /// Test MSE before training.
    pub initial_mse: f64,
    /// Test MSE after the last epoch.
    pub final_mse: f64,
    /// Whether the reloaded model's test predictions equal the trained model's, bit for bit.
    pub reload_identical: bool,
}

#[allow(dead_code)] // tests include this file as a module and call `run`
fn main() {
    let args = Args::parse();
    if let Err(err) = run(&args) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

/// Trains, prints each epoch, saves, reloads and compares.
pub fn run(args: &Args) -> Result<Outcome, Box<dyn std::error::Error>> {
    let path = args.checkpoint.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "tapegrad-two-input-{}.safetensors",
            std::process::id()
        ))
    });
    // Checked before training, so a mistyped --checkpoint costs no training run.
    support::check_writable(&path).map_err(|e| format!("--checkpoint {}: {e}", path.display()))?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (train, test) = (Split::draw(4096, &mut rng), Split::draw(1024, &mut rng));
    let model = TwoInputNet::new(32, &mut rng);
    println!("{model:?}\n");
    let summary = Summary::traced(&model, |tape| {
        let (a, b, _) = train.rows(&[0, 1, 2, 3]);
        Ok(model.forward(&tape.input(a), &tape.input(b), Mode::Eval))
    })?;
    println!("{summary}\n");

    let mut opt = Adam::new(
        &model.parameters(),
        AdamConfig {
            lr: 3e-3,
            ..Default::default()
        },
    );
    let (initial_mse, _) = evaluate(&model, &test);
    println!("epoch  0: test MSE {initial_mse:.4}");
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut final_mse = initial_mse;
    for epoch in 1..=args.epochs {
        use tapegrad::rand::seq::SliceRandom;
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0f64;
        for idx in order.chunks(64) {
            let (a, b, y) = train.rows(idx);
            let grads = {
                let tape = Tape::new();
                let pred = model.forward(&tape.input(a), &tape.input(b), Mode::Train);
                let loss = pred.mse(&tape.input(y), Reduction::Mean);
                loss_sum += loss.value().item() as f64 * idx.len() as f64;
                loss.backward()
            };
            opt.step(&grads);
        }
        final_mse = evaluate(&model, &test).0;
        println!(
            "epoch {epoch:>2}: train MSE {:.4}, test MSE {final_mse:.4}",
            loss_sum / train.len() as f64
        );
    }

    save_module(&model, &path, HashMap::new())?;
    let fresh = TwoInputNet::new(32, &mut StdRng::seed_from_u64(args.seed + 1));
    load_module(&fresh, &path)?;
    let reload_identical = evaluate(&fresh, &test).1 == evaluate(&model, &test).1;
    println!(
        "saved to {} ({} parameters, {} buffers); reloaded predictions identical: {reload_identical}",
        path.display(),
        model.parameters().len(),
        model.buffers().len()
    );
    if args.checkpoint.is_none() {
        std::fs::remove_file(&path)?;
    }
    Ok(Outcome {
        initial_mse,
        final_mse,
        reload_identical,
    })
}
