//! Why initialization matters in a deep network: a 50-layer MLP (width 256, a batch of 256
//! N(0, 1) inputs, f32) run forward and backward once per (init, activation) pair, printing the
//! standard deviation of each layer's activations and of the loss gradient at them.
//!
//! With N(0, 1) weights a ReLU network's signal grows by about √(256/2) ≈ 11× per layer until it
//! overflows f32; with N(0, 0.01²) it shrinks by about 9× per layer and underflows to exactly 0,
//! and so do the gradients. tanh saturates instead of overflowing: its activations stay near 1
//! while the gradients explode backwards. He init (Var W = 2/fan_in) keeps a ReLU network's
//! activations and gradients at a steady scale; Xavier (Var W = 2/(fan_in + fan_out)) lets a tanh
//! network's activations and gradients drift by less than 10× over 50 layers (slowly, about like
//! 1/√depth for the activations), against factors of 10²⁰ and more for the fixed-scale inits.
//!
//! Run: `cargo run --release --example init_depth`

use tapegrad::autograd::Tape;
use tapegrad::nn::{Forward, Init, Linear, Mode};
use tapegrad::rand::{SeedableRng, rngs::StdRng};
use tapegrad::tensor::Tensor;

/// The nonlinearity after each linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `tanh x`.
    Tanh,
}

/// One layer's `(std of its activations, std of the loss gradient at them)`.
pub type LayerStats = (f64, f64);

/// The population standard deviation of every element, in f64; NaN if any element is not finite.
pub fn std_of(t: &Tensor<f32>) -> f64 {
    let values = t.to_vec();
    if values.iter().any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    var.sqrt()
}

/// Runs `depth` layers `h ← activation(Linear(h))` of `width` units, initialised with `init`
/// (biases zero), on `batch` rows of N(0, 1) inputs, then backward from `L = Σ h_depth ⊙ r` with
/// `r` drawn from N(0, 1), so `∂L/∂h_depth = r` has standard deviation 1.
///
/// Returns, for layers 1 to `depth`, `(std of h_l, std of ∂L/∂h_l)`. Once a layer overflows,
/// the numbers after it mean nothing (a NaN becomes 0 through relu), so they are NaN: the
/// activations from that layer on and every gradient but the last (which is `r` itself).
pub fn depth_stats(
    init: Init,
    activation: Activation,
    depth: usize,
    width: usize,
    batch: usize,
) -> Vec<LayerStats> {
    let mut rng = StdRng::seed_from_u64(0);
    let layers: Vec<Linear<f32>> = (0..depth)
        .map(|_| Linear::new(width, width, init, &mut rng))
        .collect();
    let tape = Tape::new();
    let mut h = tape.input(Tensor::rand_normal(&[batch, width], &mut rng));
    let mut act_std = Vec::with_capacity(depth);
    let mut probes = Vec::with_capacity(depth);
    for layer in &layers {
        let z = layer.forward(&h, Mode::Train);
        let a = match activation {
            Activation::Relu => z.relu(),
            Activation::Tanh => z.tanh(),
        };
        // `Grads::wrt` reads gradients of leaves only, so add a zero leaf to each activation:
        // h + probe has h's value, and ∂L/∂probe = ∂L/∂h.
        let probe = tape.input_with_grad(Tensor::zeros(&[batch, width]));
        h = &a + &probe;
        act_std.push(std_of(h.value()));
        probes.push(probe);
    }
    let grads = h.backward_with(Tensor::rand_normal(&[batch, width], &mut rng));
    let mut stats: Vec<LayerStats> = act_std
        .into_iter()
        .zip(&probes)
        .map(|(a, probe)| (a, std_of(grads.wrt(probe).expect("probe gradient"))))
        .collect();
    if let Some(first) = stats.iter().position(|s| !s.0.is_finite()) {
        for (l, s) in stats.iter_mut().enumerate() {
            if l >= first {
                s.0 = f64::NAN;
            }
            if l + 1 < depth {
                s.1 = f64::NAN;
            }
        }
    }
    stats
}

/// One cell of the table: a std, or "overflow" where the values stopped being finite.
fn cell(x: f64) -> String {
    if x.is_finite() {
        format!("{x:>10.2e}")
    } else {
        format!("{:>10}", "overflow")
    }
}

/// Prints both tables; `tests/examples.rs` checks the claims through [`depth_stats`].
/// No flags: `--help` says what the example shows.
#[derive(clap::Parser)]
#[command(
    about = "A 50-layer MLP: activation and gradient scales per layer under N(0,1), N(0,0.01^2), He and Xavier init."
)]
struct Cli {}

/// Parses the flags (there are none), then runs the example.
#[allow(dead_code)] // tests include this file as a module and call `run`
pub fn main() {
    <Cli as clap::Parser>::parse();
    run();
}

/// The example itself (tests call this, without parsing the test runner's arguments).
pub fn run() {
    let (depth, width, batch) = (50, 256, 256);
    let runs = [
        ("N(0,1)", Init::Normal { std: 1.0 }, Activation::Relu),
        ("N(0,1)", Init::Normal { std: 1.0 }, Activation::Tanh),
        ("N(0,.01²)", Init::Normal { std: 0.01 }, Activation::Relu),
        ("N(0,.01²)", Init::Normal { std: 0.01 }, Activation::Tanh),
        ("He", Init::He, Activation::Relu),
        ("Xavier", Init::Xavier, Activation::Tanh),
    ];
    println!("{depth} layers of {width} units, batch {batch}, inputs N(0, 1), f32");
    let stats: Vec<Vec<LayerStats>> = runs
        .iter()
        .map(|&(_, init, activation)| depth_stats(init, activation, depth, width, batch))
        .collect();
    let rows: Vec<usize> = std::iter::once(1).chain((5..=depth).step_by(5)).collect();
    let titles = [
        "std of activations h_l".to_string(),
        format!("std of gradients ∂L/∂h_l (∂L/∂h_{depth} has std 1)"),
    ];
    for (table, title) in titles.iter().enumerate() {
        println!("\n{title}");
        print!("{:>5}", "layer");
        for (name, _, _) in &runs {
            print!("{name:>10}");
        }
        print!("\n{:>5}", "");
        for (_, _, activation) in &runs {
            print!("{:>10}", format!("{activation:?}").to_lowercase());
        }
        println!();
        for &layer in &rows {
            print!("{layer:>5}");
            for run in &stats {
                let (act, grad) = run[layer - 1];
                print!("{}", cell(if table == 0 { act } else { grad }));
            }
            println!();
        }
    }
}
