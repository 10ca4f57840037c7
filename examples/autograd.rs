//! A tour of `Tape`, `Var` and `Param`: a small function's gradient worked out by hand and by
//! `backward`, gradients that accumulate, `no_grad` and `detach`, `backward_with` for a
//! non-scalar output, and a few steps of gradient descent on a 1-D linear regression that
//! update `Param`s in place.
//!
//! Run: `cargo run --release --example autograd`

use tapegrad::autograd::ops::Reduction;
use tapegrad::autograd::{Param, Tape};
use tapegrad::rand::{SeedableRng, rngs::StdRng};
use tapegrad::tensor::Tensor;

/// Runs the tour; `tests/examples.rs` calls it too.
/// No flags: `--help` says what the example shows.
#[derive(clap::Parser)]
#[command(
    about = "A tour of Tape, Var and Param: gradients by hand and by backward, accumulation, no_grad, detach, gradient descent."
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
    // 1. f(x) = x³ − 2x + 1; by hand f'(x) = 3x² − 2.
    println!("== a gradient by hand and by backward");
    let xs = vec![-1.5f64, 0.0, 0.5, 2.0];
    let tape = Tape::<f64>::new();
    // `input_with_grad` marks a value whose gradient we want to read back with `Grads::wrt`.
    let x = tape.input_with_grad(Tensor::from_vec(xs.clone(), &[4]));
    let f = &(&x * &x * &x - x.mul_scalar(2.0)) + 1.0;
    // Summing makes a scalar whose gradient holds every f'(x_i): the x_i do not interact.
    let grads = f.sum_all().backward();
    let by_tape = grads.wrt(&x).expect("x asked for a gradient").to_vec();
    println!(
        "{:>6} {:>10} {:>12} {:>12}",
        "x", "f(x)", "3x² − 2", "backward"
    );
    for (i, &xi) in xs.iter().enumerate() {
        let by_hand = 3.0 * xi * xi - 2.0;
        println!(
            "{xi:>6.2} {:>10.4} {by_hand:>12.4} {:>12.4}",
            f.value().get(&[i]),
            by_tape[i]
        );
        assert!((by_hand - by_tape[i]).abs() < 1e-12);
    }
    println!("recorded ops: {:?}", tape.op_names());

    // 2. A var used twice receives the sum of both gradients; gradients of separate passes
    //    (micro-batches, say) are summed by adding the tensors.
    println!("\n== gradients accumulate");
    let tape = Tape::<f64>::new();
    let a = tape.input_with_grad(Tensor::scalar(3.0));
    let y = &a * &a + a.mul_scalar(4.0); // dy/da = 2a + 4 = 10
    let g = y.backward().wrt(&a).unwrap().item();
    println!("y = a² + 4a at a = 3: dy/da = {g} (2a + 4 = 10: both uses of a count)");
    assert_eq!(g, 10.0);
    let w = Param::new("w", Tensor::from_vec(vec![1.0f64, -2.0], &[2]));
    let mut total = Tensor::<f64>::zeros(&[2]);
    for batch in [[1.0, 2.0], [3.0, 4.0]] {
        let tape = Tape::new();
        let loss = (tape.param(&w) * tape.input(Tensor::from_vec(batch.to_vec(), &[2]))).sum_all();
        total.add_assign(loss.backward().get(&w).unwrap());
    }
    println!(
        "∂(w·x₁)/∂w + ∂(w·x₂)/∂w, one tape each: {:?} (= x₁ + x₂)",
        total.to_vec()
    );
    assert_eq!(total.to_vec(), vec![4.0, 6.0]);

    // 3. `no_grad` records nothing; `detach` makes a constant from a var.
    println!("\n== no_grad and detach");
    let tape = Tape::<f64>::new();
    let b = tape.input_with_grad(Tensor::scalar(2.0));
    let ops_before = tape.op_names().len();
    let c = tape.no_grad(|| b.exp() * 3.0);
    let ops_added = tape.op_names().len() - ops_before;
    println!(
        "3·exp(b) inside no_grad: requires_grad {}, backward rules recorded {ops_added}",
        c.requires_grad()
    );
    assert!(!c.requires_grad() && ops_added == 0);
    let stopped = &b * &b.detach(); // d/db (b · const b) = b, not 2b
    let g = stopped.backward().wrt(&b).unwrap().item();
    println!("d/db (b · b.detach()) at b = 2: {g} (the detached factor is a constant)");
    assert_eq!(g, 2.0);

    // 4. A non-scalar output needs the upstream gradient v = ∂L/∂y: backward_with computes the
    //    vector–Jacobian product vᵀ·J.
    println!("\n== backward_with for a non-scalar output");
    let tape = Tape::<f64>::new();
    let u = tape.input_with_grad(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]));
    let y = u.square(); // J = diag(2u)
    let v = Tensor::from_vec(vec![1.0, 0.1, 0.01], &[3]);
    let vjp = y.backward_with(v).wrt(&u).unwrap().to_vec();
    println!("y = u², v = [1, 0.1, 0.01]: vᵀ·J = {vjp:?} (= 2u ⊙ v)");
    assert!(
        vjp.iter()
            .zip([2.0, 0.4, 0.06])
            .all(|(g, want)| (g - want).abs() < 1e-12)
    );
    println!(
        "y.try_backward() on a [3] output: Err({})",
        y.try_backward().expect_err("needs backward_with")
    );

    // 5. Gradient descent on y = 3x + 0.5 + noise: one tape per step, Params updated in place.
    println!("\n== gradient descent: fit y = w·x + b to y = 3x + 0.5 + noise");
    let mut rng = StdRng::seed_from_u64(7);
    let n = 64;
    let x_data = Tensor::<f32>::rand_uniform(&[n], -1.0, 1.0, &mut rng);
    let noise = Tensor::<f32>::rand_normal_with(&[n], 0.0, 0.05, &mut rng);
    let y_data = &(&x_data * 3.0 + 0.5) + &noise;
    let w = Param::new("w", Tensor::<f32>::zeros(&[1]));
    let b = Param::new("b", Tensor::<f32>::zeros(&[1]));
    let lr = 0.5;
    let mut loss_value = f32::NAN;
    println!("{:>4} {:>10} {:>8} {:>8}", "step", "mse", "w", "b");
    for step in 0..=40 {
        let (loss_now, grads) = {
            let tape = Tape::new();
            let prediction = tape.input(x_data.clone()) * tape.param(&w) + tape.param(&b);
            let loss = prediction.mse(&tape.input(y_data.clone()), Reduction::Mean);
            (loss.value().item(), loss.backward())
        }; // the tape and the tensors it saved are gone: `update` below writes without copying
        loss_value = loss_now;
        if step % 10 == 0 {
            let (wv, bv) = (w.value().item(), b.value().item());
            println!("{step:>4} {loss_value:>10.5} {wv:>8.4} {bv:>8.4}");
        }
        for p in [&w, &b] {
            let g = grads.get(p).expect("on the path to the loss").to_vec();
            p.update(|v| v.iter_mut().zip(&g).for_each(|(v, g)| *v -= lr * g));
        }
    }
    let (wv, bv) = (w.value().item(), b.value().item());
    assert!((wv - 3.0).abs() < 0.05 && (bv - 0.5).abs() < 0.05 && loss_value < 0.01);
    println!("fitted w = {wv:.3}, b = {bv:.3} (true 3, 0.5)");
}
