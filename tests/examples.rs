//! The examples run to the end (each asserts what it prints), and `init_depth`'s claims about
//! initialization hold. Each example is included as a module, so its `main` runs in-process.

#[path = "../examples/autograd.rs"]
mod autograd_example;
#[allow(dead_code)] // `main` and the table printing are the binary's; tests call `depth_stats`
#[path = "../examples/init_depth.rs"]
mod init_depth;
#[path = "../examples/regression_csv.rs"]
mod regression_csv;
#[path = "../examples/tensors.rs"]
mod tensors_example;
#[path = "../examples/two_input.rs"]
mod two_input;

use init_depth::{depth_stats, Activation};
use tapegrad::nn::Init;

#[test]
fn tensors_example_runs() {
    tensors_example::run();
}

#[test]
fn autograd_example_runs() {
    autograd_example::run();
}

const DEPTH: usize = 50;
const WIDTH: usize = 256;
/// Smaller than the example's 256 rows, to keep the dev-profile test fast; the claims are
/// about factors of 10¹⁰ and more, or ranges a factor of 10 wide, so they do not hinge on it.
const BATCH: usize = 64;

/// `(first, last)` layer's `(activation std, gradient std)`.
fn ends(init: Init, activation: Activation) -> ((f64, f64), (f64, f64)) {
    let stats = depth_stats(init, activation, DEPTH, WIDTH, BATCH);
    assert_eq!(stats.len(), DEPTH);
    (stats[0], stats[DEPTH - 1])
}

#[test]
fn relu_with_tiny_normal_weights_vanishes() {
    let ((first, first_grad), (last, last_grad)) =
        ends(Init::Normal { std: 0.01 }, Activation::Relu);
    assert!(
        first > 0.0 && last < 1e-10 * first,
        "first {first:e}, last {last:e}"
    );
    assert!(
        first_grad < 1e-10 * last_grad,
        "gradient at layer 1: {first_grad:e}"
    );
}

#[test]
fn relu_with_unit_normal_weights_explodes() {
    let ((first, _), (last, _)) = ends(Init::Normal { std: 1.0 }, Activation::Relu);
    assert!(first.is_finite() && first > 1.0, "first {first:e}");
    assert!(!last.is_finite() || last > 1e10 * first, "last {last:e}");
}

#[test]
fn tanh_with_unit_normal_weights_saturates_and_gradients_explode() {
    let ((first, first_grad), (last, last_grad)) =
        ends(Init::Normal { std: 1.0 }, Activation::Tanh);
    assert!(first > 0.9 && last > 0.9, "first {first}, last {last}");
    assert!(
        first_grad > 1e10 * last_grad,
        "gradient at layer 1: {first_grad:e}"
    );
}

#[test]
fn he_keeps_relu_activations_and_gradients_steady() {
    let ((first, first_grad), (last, last_grad)) = ends(Init::He, Activation::Relu);
    let act_ratio = last / first;
    let grad_ratio = first_grad / last_grad;
    assert!(
        (0.1..=10.0).contains(&act_ratio),
        "activation ratio {act_ratio}"
    );
    assert!(
        (0.1..=10.0).contains(&grad_ratio),
        "gradient ratio {grad_ratio}"
    );
}

#[test]
fn xavier_keeps_tanh_activations_in_range() {
    let ((_, first_grad), (last, last_grad)) = ends(Init::Xavier, Activation::Tanh);
    assert!((0.05..=1.0).contains(&last), "last {last}");
    let grad_ratio = first_grad / last_grad;
    assert!(
        (0.1..=10.0).contains(&grad_ratio),
        "gradient ratio {grad_ratio}"
    );
}

#[test]
fn init_depth_example_runs() {
    init_depth::run();
}

/// Issue 11's two-input program: a derived model with BatchNorm and a skip connection learns,
/// and its checkpoint (running statistics included) reloads to identical predictions.
#[test]
fn two_input_example_learns_and_reloads_exactly() {
    let outcome = two_input::run(&two_input::Args {
        epochs: 2,
        seed: 0,
        checkpoint: None,
    })
    .unwrap();
    assert!(
        outcome.final_mse < 0.5 * outcome.initial_mse,
        "{} -> {}",
        outcome.initial_mse,
        outcome.final_mse
    );
    assert!(outcome.reload_identical);
}

/// Issue 11's custom-loss program: log-cosh written from `Var` ops passes `gradcheck`, and an
/// MLP trained with it on the shipped CSV beats predicting the mean by far.
#[test]
fn regression_csv_example_fits_with_its_own_loss() {
    let outcome = regression_csv::run(&regression_csv::Args {
        data: None,
        loss: regression_csv::LossKind::LogCosh,
        epochs: 40,
        test_fraction: 0.2,
        seed: 0,
    })
    .unwrap();
    assert!(
        outcome.gradcheck_error < 1e-5,
        "{}",
        outcome.gradcheck_error
    );
    assert!(
        outcome.test_mse < 0.25 * outcome.baseline_mse,
        "{} vs {}",
        outcome.test_mse,
        outcome.baseline_mse
    );
}
