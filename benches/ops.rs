//! Every pointwise and row op on one `[4096, 1024]` input, forward and forward + backward (the
//! upstream gradient given), at 1 and 2 threads, beside the memory-bound limit measured in the
//! same run: a plain copy of the same bytes (read + write).
//!
//! Run: `cargo bench --bench ops` (add `-- OP…` to run only the ops named, `-- --f64` for the
//! `f64` rows, `-- matmul` for the products' GFLOP/s). Prints Markdown tables of medians.

use std::hint::black_box;
use std::time::{Duration, Instant};
use tapegrad::prelude::*;

const ROWS: usize = 4096;
const COLS: usize = 1024;

/// Median wall time of `f` over repeated runs (at least 7, at most about a second's worth).
fn median(mut f: impl FnMut()) -> Duration {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 7 || (times.len() < 51 && start.elapsed() < Duration::from_secs(1)) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

type OpFn<T> = fn(&Var<T>) -> Var<T>;

fn ops<T: Float>() -> Vec<(&'static str, OpFn<T>)> {
    vec![
        ("gelu (erf)", |x| x.gelu()),
        ("gelu (tanh)", |x| x.gelu_with(GeluApproximate::Tanh)),
        ("tanh", |x| x.tanh()),
        ("softplus", |x| x.softplus()),
        ("softmax(-1)", |x| x.softmax(-1)),
        ("log_softmax(-1)", |x| x.log_softmax(-1)),
        ("silu", |x| x.silu()),
        ("sigmoid", |x| x.sigmoid()),
        ("elu", |x| x.elu(1.0)),
        ("mish", |x| x.mish()),
        ("exp", |x| x.exp()),
        ("log (of 1 + abs x)", |x| x.log()),
        ("sqrt (of 1 + abs x)", |x| x.sqrt()),
        ("abs", |x| x.abs()),
        ("leaky_relu", |x| x.leaky_relu(0.01)),
        ("clamp", |x| x.clamp(T::from_f64(-0.5), T::from_f64(0.5))),
        ("relu", |x| x.relu()),
        ("x + x", |x| x.add(x)),
        ("x * x", |x| x.mul(x)),
    ]
}

/// `(forward, forward + backward)` medians of `op` on `x` with upstream gradient `g`.
fn time_op<T: Float>(op: OpFn<T>, x: &Tensor<T>, g: &Tensor<T>) -> (Duration, Duration) {
    let fwd = median(|| {
        let tape = Tape::new();
        let v = tape.input_with_grad(x.clone());
        black_box(op(&v));
    });
    let both = median(|| {
        let tape = Tape::new();
        let v = tape.input_with_grad(x.clone());
        let y = op(&v);
        black_box(y.backward_with(g.clone()));
    });
    (fwd, both)
}

fn time_cross_entropy<T: Float>(x: &Tensor<T>, targets: &[usize]) -> (Duration, Duration) {
    let fwd = median(|| {
        let tape = Tape::new();
        let v = tape.input_with_grad(x.clone());
        black_box(v.cross_entropy(targets));
    });
    let both = median(|| {
        let tape = Tape::new();
        let v = tape.input_with_grad(x.clone());
        black_box(v.cross_entropy(targets).backward());
    });
    (fwd, both)
}

fn time_layer_norm<T: Float>(x: &Tensor<T>, g: &Tensor<T>) -> (Duration, Duration) {
    let ln = LayerNorm::<T>::new(&[COLS]);
    let fwd = median(|| {
        let tape = Tape::new();
        let v = tape.input_with_grad(x.clone());
        black_box(ln.forward(&v, Mode::Train));
    });
    let both = median(|| {
        let tape = Tape::new();
        let v = tape.input_with_grad(x.clone());
        black_box(ln.forward(&v, Mode::Train).backward_with(g.clone()));
    });
    (fwd, both)
}

/// A copy of the input's bytes into a fresh buffer: the floor for any op that reads and writes once.
fn time_copy<T: Float>(x: &[T]) -> Duration {
    let mut out = vec![T::ZERO; x.len()];
    median(|| {
        out.copy_from_slice(black_box(x));
        black_box(&mut out);
    })
}

fn table<T: Float>(filter: &[String]) {
    let mut rng = StdRng::seed_from_u64(0);
    let x = Tensor::<T>::rand_normal(&[ROWS, COLS], &mut rng);
    let positive = x.abs().add_scalar(T::ONE);
    let g = Tensor::<T>::rand_normal(&[ROWS, COLS], &mut rng);
    let targets: Vec<usize> = (0..ROWS).map(|i| (i * 7919) % COLS).collect();
    let pools: Vec<(usize, rayon::ThreadPool)> = [1, 2]
        .into_iter()
        .map(|n| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build();
            (n, pool.expect("a rayon pool"))
        })
        .collect();
    println!(
        "\n{} [{ROWS}, {COLS}], medians in ms; SIMD path: {:?}\n",
        T::DTYPE,
        tapegrad::tensor::simd::detected()
    );
    println!("| op | 1 thread fwd | 1 thread fwd+bwd | 2 threads fwd | 2 threads fwd+bwd |");
    println!("|---|---|---|---|---|");
    let copy = time_copy(&x.to_vec());
    println!("| copy of the bytes (floor) | {} | | | |", ms(copy));
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let row = |name: &str, run: &(dyn Fn() -> (Duration, Duration) + Sync)| {
        if !wanted(name) {
            return;
        }
        let cells: Vec<String> = pools
            .iter()
            .flat_map(|(_, pool)| {
                let (f, b) = pool.install(run);
                [ms(f), ms(b)]
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    for (name, op) in ops::<T>() {
        let input = if name.starts_with("log (") || name.starts_with("sqrt") {
            &positive
        } else {
            &x
        };
        row(name, &|| time_op(op, input, &g));
    }
    row("cross_entropy (1024 classes)", &|| {
        time_cross_entropy(&x, &targets)
    });
    row("LayerNorm(1024)", &|| time_layer_norm(&x, &g));
}

/// GFLOP/s of `a·b` for the shapes the README's matmul rows and PyTorch comparisons use.
fn matmul_table() {
    let mut rng = StdRng::seed_from_u64(1);
    println!("\nmatmul f32, GFLOP/s (median)\n");
    println!("| m×k×n | 1 thread | 2 threads |");
    println!("|---|---|---|");
    for (m, k, n) in [
        (4096, 1024, 1024),
        (1024, 1024, 1024),
        (512, 512, 512),
        (128, 784, 512),
    ] {
        let a = Tensor::<f32>::rand_normal(&[m, k], &mut rng);
        let b = Tensor::<f32>::rand_normal(&[k, n], &mut rng);
        let flops = 2.0 * (m * k * n) as f64;
        let cells: Vec<String> = [1, 2]
            .into_iter()
            .map(|threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
                let t = pool.expect("a rayon pool").install(|| {
                    median(|| {
                        black_box(a.matmul(&b));
                    })
                });
                format!("{:.0}", flops / t.as_secs_f64() / 1e9)
            })
            .collect();
        println!("| {m}×{k}×{n} | {} |", cells.join(" | "));
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let f64_too = std::env::args().any(|a| a == "--f64");
    if args.iter().any(|a| a == "matmul") {
        matmul_table();
        return;
    }
    table::<f32>(&args);
    if f64_too {
        table::<f64>(&args);
    }
}
