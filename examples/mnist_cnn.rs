//! Trains a small convolutional network on MNIST.
//!
//! Run: `cargo run --release --example mnist_cnn` (add `-- --help` for the flags)
//!
//! Two blocks of 3×3 convolution (padding 1) + ReLU + 2×2 max pooling (1→32→64 channels,
//! 28→14→7 pixels), then a hidden linear layer of 128 units with ReLU and dropout 0.25, and the
//! 10 logits: 421,642 parameters, trained with Adam (lr 2e-3, cosine annealing to 0 over the run)
//! on mini-batches of 64 for 5 epochs.
//!
//! It shares everything but the model with `mnist_mlp`: the flags (`--hidden` sets the hidden
//! linear layers here), the progress bar, `--checkpoint`/`--resume`, `--plot`, and the data
//! (`--data DIR`, else `$MNIST_DIR`, else the shipped `data/mnist`).

#[allow(dead_code)] // the MLP's own `main` and helpers this example does not call
#[path = "mnist_mlp.rs"]
pub mod mnist_mlp;

use clap::{CommandFactory, FromArgMatches};
use mnist_mlp::{Args, Recipe};
use tapegrad::prelude::*;

/// The convolutional blocks' output channels.
const CHANNELS: [usize; 2] = [32, 64];

/// The CNN: conv blocks, then the hidden linear layers of `--hidden` with dropout, then logits.
fn build(args: &Args, rng: &mut StdRng) -> Sequential<f32> {
    let mut model = Sequential::new();
    let mut channels = 1;
    for out in CHANNELS {
        model = model
            .push(Conv2d::new(channels, out, 3, Init::He, rng).padding(1))
            .push(Relu)
            .push(MaxPool2d::new(2));
        channels = out;
    }
    mnist_mlp::classifier_head(model.push(Flatten::new()), channels * 7 * 7, args, rng)
}

/// The CNN recipe for the shared MNIST loop.
pub const CNN: Recipe = Recipe {
    title: "MNIST CNN",
    build,
    image: &[1, 28, 28],
    describe: |args| {
        let hidden: Vec<String> = args.hidden.0.iter().map(usize::to_string).collect();
        format!(
            "CNN (conv3×3 {} → {}, each + ReLU + max-pool 2; linear {} → 10, dropout {})",
            CHANNELS[0],
            CHANNELS[1],
            hidden.join(" → "),
            args.dropout
        )
    },
};

/// The flags of `mnist_mlp` with this example's defaults.
pub fn parse_args<I, S>(argv: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let command = Args::command()
        .name("mnist_cnn")
        .about("Train a small CNN on MNIST with tapegrad")
        .mut_arg("epochs", |a| a.default_value("5"))
        .mut_arg("batch_size", |a| a.default_value("64"))
        .mut_arg("lr", |a| a.default_value("0.002"))
        .mut_arg("schedule", |a| a.default_value("cosine"))
        .mut_arg("hidden", |a| a.default_value("128"))
        .mut_arg("dropout", |a| a.default_value("0.25"));
    Args::from_arg_matches(&command.try_get_matches_from(argv)?)
}

/// Trains the CNN as the flags say (see [`mnist_mlp::train_recipe`]).
pub fn train(args: &Args) -> Result<Vec<mnist_mlp::EpochStats>, String> {
    mnist_mlp::train_recipe(args, &CNN)
}

#[allow(dead_code)] // a test includes this file as a module and calls `train` directly
fn main() {
    let args = parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    mnist_mlp::run(&args, &CNN);
}
