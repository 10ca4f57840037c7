//! Gradient checking, the textbook way and beyond.
//!
//! Run: `cargo run --release --example gradcheck`
//!
//! 1. Flatten every parameter of a small MLP (W1, b1, W2, b2, W3, b3) into one θ, compute
//!    J(θ ± ε·e_i) for every i, and compare with backprop's dJ/dθ by
//!    ‖g_num − g_ana‖ / (‖g_num‖ + ‖g_ana‖); with L2 regularisation in the loss.
//! 2. Plant a bug: an op whose backward forgets a factor. gradcheck names the op, the input and
//!    the element.
//! 3. Dropout: each evaluation draws a new mask, so the finite differences compare different
//!    functions. gradcheck refuses; replaying one mask per evaluation makes the check exact again.

use tapegrad::autograd::{Backward, Masks};
use tapegrad::prelude::*;
use tapegrad::rand::{SeedableRng, rngs::StdRng};

fn mlp(dropout: bool) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(1);
    let mut model = Sequential::new()
        .push(Linear::new(4, 5, Init::Xavier, &mut rng))
        .push(Tanh);
    if dropout {
        model = model.push(Dropout::new(0.5));
    }
    model.push(Linear::new(5, 3, Init::Xavier, &mut rng))
}

/// θ as the check flattens it: every parameter with its dotted name (`2.weight`), which is
/// what a failure report names.
fn params(model: &Sequential<f64>) -> Vec<(String, Param<f64>)> {
    model.parameters()
}

/// `x³` whose backward returns `2x²` instead of `3x²`: the planted bug.
struct BuggyCubeBackward {
    x: Tensor<f64>,
}

impl Backward<f64> for BuggyCubeBackward {
    fn name(&self) -> &'static str {
        "buggy_cube"
    }
    fn backward(&self, g: &Tensor<f64>, _needs: &[bool]) -> Vec<Option<Tensor<f64>>> {
        vec![Some(g.mul(&self.x.square().mul_scalar(2.0)))]
    }
}

fn buggy_cube(x: &Var<f64>) -> Var<f64> {
    x.record(
        x.value().powi(3),
        &[x],
        BuggyCubeBackward {
            x: x.value().clone(),
        },
    )
}

/// Runs the three demonstrations and returns (relative difference, buggy report, dropout refusal).
pub fn demo() -> (f64, String, String, f64) {
    let x = Tensor::<f64>::rand_normal(&[6, 4], &mut StdRng::seed_from_u64(2));
    let y = vec![0, 1, 2, 1, 0, 2];
    let (lambda, m) = (0.5, y.len());

    let model = mlp(false);
    let loss = |tape: &Tape<f64>| {
        model
            .forward(&tape.input(x.clone()), Mode::Train)
            .cross_entropy(&y)
            + l2_penalty(tape, &model, lambda, m)
    };
    let report = gradcheck_params("mlp", loss, &params(&model), ModelCheck::default())
        .expect("a correct model passes");

    let bug = gradcheck(
        "buggy_cube",
        |v| buggy_cube(&v[0]).sum_all(),
        &[x.narrow(0, 0, 2)],
        Check::default(),
    )
    .expect_err("the planted bug is caught");

    let dropped = mlp(true);
    let loss = |tape: &Tape<f64>| {
        dropped
            .forward(&tape.input(x.clone()), Mode::Train)
            .cross_entropy(&y)
    };
    let refusal = gradcheck_params(
        "mlp + dropout",
        loss,
        &params(&dropped),
        ModelCheck::default(),
    )
    .expect_err("active dropout is refused");
    let replay = ModelCheck {
        masks: Masks::Replay { seed: 7 },
        ..ModelCheck::default()
    };
    let replayed = gradcheck_params("mlp + dropout, replayed", loss, &params(&dropped), replay)
        .expect("a fixed mask makes the model one function again");
    (
        report.relative_difference,
        bug.to_string(),
        refusal.to_string(),
        replayed.relative_difference,
    )
}

/// No flags: `--help` says what the example shows.
#[derive(clap::Parser)]
#[command(
    about = "Gradient checking: the flattened-theta check of an MLP with L2, a planted bug located, dropout refused or replayed."
)]
struct Cli {}

/// Parses the flags (there are none), then runs the example.
fn main() {
    <Cli as clap::Parser>::parse();
    run();
}

/// The example itself (tests call this, without parsing the test runner's arguments).
fn run() {
    let (relative, bug, refusal, replayed) = demo();
    println!(
        "1. textbook check of a 4-5-3 tanh MLP with L2 (θ has {} entries):",
        4 * 5 + 5 + 5 * 3 + 3
    );
    println!("   ‖g_num − g_ana‖ / (‖g_num‖ + ‖g_ana‖) = {relative:.2e}  (threshold 1e-7: pass)\n");
    println!("2. a backward that forgets a factor:\n   {bug}\n");
    println!("3. with dropout active:\n   {refusal}");
    println!("   with Masks::Replay: relative difference {replayed:.2e}  (pass)");
}
