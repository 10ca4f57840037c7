//! Adding an op of your own, exactly as the built-in ops are written: a forward that records a
//! backward rule on the tape, the rule right below it, and a gradcheck that proves the rule right.
//!
//! Run: `cargo run --release --example custom_op`
//!
//! Two ways, as in `crates/autograd/src/ops/`:
//! - a pointwise function states `f` and `f'` through the `Unary` trait (here: softsign);
//! - any other op records a `Backward` value holding what its gradient needs (here: swish with
//!   a learnable β, two inputs, broadcasting over β).

use tapegrad::autograd::{Backward, Check, Reads, Tape, Unary, Var, gradcheck};
use tapegrad::tensor::{Float, Tensor};

/// `softsign(x) = x / (1 + |x|)`; derivative `1 / (1 + |x|)²`.
#[derive(Clone, Copy)]
struct Softsign;

impl Unary for Softsign {
    const NAME: &'static str = "softsign";
    // The derivative reads x only: the tape keeps x, not y.
    const DF_READS: Reads = Reads::Input;
    // Inlined into the loops compiled for the CPU's widest vectors, as the built-in ops are.
    #[inline(always)]
    fn f<T: Float>(self, x: T) -> T {
        x / (T::ONE + x.abs())
    }
    #[inline(always)]
    fn df<T: Float>(self, x: T, _y: T) -> T {
        let d = T::ONE + x.abs();
        T::ONE / (d * d)
    }
}

/// `swish(x, β) = x · σ(β·x)`, with β broadcast against x.
fn swish<T: Float>(x: &Var<T>, beta: &Var<T>) -> Var<T> {
    let s = x.value().mul(beta.value()).sigmoid();
    let y = x.value().mul(&s);
    let saved = SwishBackward {
        x: x.value().clone(),
        beta: beta.value().clone(),
        s,
    };
    x.record(y, &[x, beta], saved)
}

/// Gradient of `y = x·σ(βx)` with `s = σ(βx)`:
/// `∂y/∂x = s + βx·s(1 − s)`, `∂y/∂β = x²·s(1 − s)`.
/// Both come back in the output's shape; the tape sums the β gradient down to β's shape.
struct SwishBackward<T> {
    x: Tensor<T>,
    beta: Tensor<T>,
    s: Tensor<T>,
}

impl<T: Float> Backward<T> for SwishBackward<T> {
    fn name(&self) -> &'static str {
        "swish"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let ds = self.s.mul(&self.s.rsub_scalar(T::ONE)); // s(1 − s)
        let dx = needs[0].then(|| g.mul(&self.s.add(&self.beta.mul(&self.x).mul(&ds))));
        let dbeta = needs[1].then(|| g.mul(&self.x.square().mul(&ds)));
        vec![dx, dbeta]
    }
}

/// No flags: `--help` says what the example shows.
#[derive(clap::Parser)]
#[command(
    about = "A new op written like the built-in ones (softsign via Unary, swish via Backward), verified by gradcheck."
)]
struct Cli {}

/// Parses the flags (there are none), then runs the example.
fn main() {
    <Cli as clap::Parser>::parse();
    run();
}

/// The example itself (tests call this, without parsing the test runner's arguments).
fn run() {
    let tape = Tape::<f64>::new();
    let x = tape.input_with_grad(Tensor::from_vec(vec![-2.0, -0.5, 0.5, 2.0], &[4]));
    let y = x.unary(Softsign);
    println!("softsign(x) = {}", y.value());

    // Check both ops numerically: an input matrix that is a transposed view, β broadcast per column.
    let xs = Tensor::from_vec(vec![0.3, -1.2, 2.0, 0.7, -0.4, 1.1], &[3, 2]).t();
    let report = gradcheck(
        "softsign",
        |v| v[0].unary(Softsign),
        std::slice::from_ref(&xs),
        Check::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "gradcheck softsign: ok, worst relative error {:.1e}",
        report.relative_difference
    );
    let beta = Tensor::from_vec(vec![0.5, 1.0, 2.0], &[3]);
    let report = gradcheck(
        "swish",
        |v| swish(&v[0], &v[1]),
        &[xs, beta],
        Check::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "gradcheck swish:    ok, worst relative error {:.1e}",
        report.relative_difference
    );
}
