//! What the tape costs, against the same arithmetic without it, in the same run:
//!
//! - `tape overhead`: a chain of 1,000 scalar ops (`·0.9`, `+0.1`, `tanh`, repeated) on a
//!   one-element value, recorded and differentiated, against the same chain on plain `Tensor`s
//!   (forward only: nothing to record, nothing to walk back). Reported per op; the target is
//!   under 1 µs per op for forward plus backward.
//! - `mlp 784-512-512-10`: forward and backward of a ReLU MLP with cross-entropy on a batch of
//!   128 (f32) through the tape, against the same ops called by hand on plain tensors. Both sides
//!   are tapegrad, so this isolates what recording and walking the tape add (target: at most
//!   10%); it is not a speed limit. The limit, framework-free code, is `benches/training.rs`.
//!
//! Run: `cargo bench --bench autograd`

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use rand::{SeedableRng, rngs::StdRng};
use tapegrad::autograd::{Grads, Tape, Var};
use tapegrad::nn::{Forward, Init, Linear, Mode};
use tapegrad::tensor::Tensor;

const CHAIN: usize = 1000;

/// Op `i` of the chain: multiply, add, tanh in turn, so the value stays in (−1, 1).
fn chain_var(x: &Var<f32>) -> Var<f32> {
    let mut h = x.clone();
    for i in 0..CHAIN {
        h = match i % 3 {
            0 => h.mul_scalar(0.9),
            1 => h.add_scalar(0.1),
            _ => h.tanh(),
        };
    }
    h
}

/// The same chain on plain tensors.
fn chain_tensor(x: &Tensor<f32>) -> Tensor<f32> {
    let mut h = x.clone();
    for i in 0..CHAIN {
        h = match i % 3 {
            0 => h.mul_scalar(0.9),
            1 => h.add_scalar(0.1),
            _ => h.tanh(),
        };
    }
    h
}

fn tape_overhead(c: &mut Criterion) {
    let x0 = Tensor::scalar(0.5f32);
    // The two paths must compute the same thing, or the comparison means nothing.
    let with_tape = chain_var(&Tape::new().input_with_grad(x0.clone()))
        .value()
        .item();
    assert_eq!(with_tape, chain_tensor(&x0).item());

    let mut group = c.benchmark_group("tape overhead, chain of 1000 scalar ops, f32");
    group.throughput(Throughput::Elements(CHAIN as u64));
    group.bench_function("tape, forward + backward", |bench| {
        bench.iter(|| {
            let tape = Tape::new();
            let x = tape.input_with_grad(black_box(&x0).clone());
            let grads = chain_var(&x).backward();
            black_box(grads.wrt(&x).map(|g| g.item()))
        })
    });
    group.bench_function("tape, forward only (recorded)", |bench| {
        bench.iter(|| {
            let tape = Tape::new();
            let x = tape.input_with_grad(black_box(&x0).clone());
            black_box(chain_var(&x).value().item())
        })
    });
    group.bench_function("plain tensors, forward only", |bench| {
        bench.iter(|| black_box(chain_tensor(black_box(&x0)).item()))
    });
    group.finish();
}

const BATCH: usize = 128;
const SIZES: [usize; 4] = [784, 512, 512, 10];

/// One layer's `(W, b)`, or its gradients `(∂W, ∂b)`, as plain tensors.
type LayerTensors = (Tensor<f32>, Tensor<f32>);

/// The network's parameters as `Linear` layers (`W` is `[out, in]`, as `Linear` stores it).
struct Mlp {
    layers: Vec<Linear<f32>>,
}

impl Mlp {
    fn new(rng: &mut StdRng) -> Self {
        let layers = SIZES
            .windows(2)
            .map(|w| Linear::new(w[0], w[1], Init::He, rng))
            .collect();
        Mlp { layers }
    }

    /// `(W, b)` of each layer as plain tensors, sharing the parameters' storage.
    fn tensors(&self) -> Vec<LayerTensors> {
        self.layers
            .iter()
            .map(|l| (l.weight().value(), l.bias().expect("bias").value()))
            .collect()
    }
}

/// Forward and backward through the tape: `Linear`, `relu`, `cross_entropy`, `backward`.
fn tape_step(mlp: &Mlp, x: &Tensor<f32>, labels: &[usize]) -> (f32, Grads<f32>) {
    let tape = Tape::new();
    let mut h = tape.input(x.clone());
    let last = mlp.layers.len() - 1;
    for (i, layer) in mlp.layers.iter().enumerate() {
        h = layer.forward(&h, Mode::Train);
        if i < last {
            h = h.relu();
        }
    }
    let loss = h.cross_entropy(labels);
    (loss.value().item(), loss.backward())
}

/// The same step written by hand on plain tensors, with the ops the tape runs: `x·Wᵀ + b` with
/// `Wᵀ` a view, a relu whose backward multiplies by a 0/1 mask, a loss from `log_softmax`, the
/// loss gradient `(softmax − onehot)/batch`, `∂W = gᵀ·h` and `∂h = g·W` as matmuls of views,
/// `∂b` as a sum over axis 0. Like the tape, it computes no gradient for the input batch.
///
/// Returns the loss and `(∂W, ∂b)` per layer.
fn manual_step(
    params: &[LayerTensors],
    x: &Tensor<f32>,
    labels: &[usize],
) -> (f32, Vec<LayerTensors>) {
    let last = params.len() - 1;
    // Forward, keeping each layer's input and pre-activation for the backward.
    let mut inputs = Vec::with_capacity(params.len());
    let mut pre = Vec::with_capacity(params.len());
    let mut h = x.clone();
    for (i, (w, b)) in params.iter().enumerate() {
        let z = h.matmul(&w.t()).add(b);
        inputs.push(h);
        h = if i < last { z.relu() } else { z.clone() };
        pre.push(z);
    }
    let log_p = h.log_softmax(1);
    let onehot = Tensor::one_hot(labels, h.shape()[1]);
    let loss = onehot.mul(&log_p).sum(&[1], false).neg().mean_all().item();

    // Backward.
    let batch = x.shape()[0] as f32;
    let mut g = log_p.exp().sub(&onehot).div_scalar(batch);
    let mut grads = Vec::with_capacity(params.len());
    for i in (0..params.len()).rev() {
        if i < last {
            g = g.mul(&pre[i].gt_scalar(0.0));
        }
        let dw = g.t().matmul(&inputs[i]);
        let db = g.sum(&[0], false);
        grads.push((dw, db));
        if i > 0 {
            g = g.matmul(&params[i].0);
        }
    }
    grads.reverse();
    (loss, grads)
}

/// Whether `a` and `b` agree to 1e-4 of `b`'s largest magnitude (f32 sums in another order).
fn close(a: &Tensor<f32>, b: &Tensor<f32>) -> bool {
    let scale = b.abs().max_all().item().max(1e-6);
    a.shape() == b.shape() && a.sub(b).abs().max_all().item() <= 1e-4 * scale
}

fn mlp(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let mlp = Mlp::new(&mut rng);
    let params = mlp.tensors();
    let x = Tensor::<f32>::rand_normal(&[BATCH, SIZES[0]], &mut rng);
    let labels: Vec<usize> = (0..BATCH).map(|i| (i * 7) % SIZES[3]).collect();

    // The hand-written step must compute what the tape computes.
    let (tape_loss, grads) = tape_step(&mlp, &x, &labels);
    let (manual_loss, manual) = manual_step(&params, &x, &labels);
    assert!((tape_loss - manual_loss).abs() < 1e-4 * tape_loss.abs().max(1.0));
    for (layer, (dw, db)) in mlp.layers.iter().zip(&manual) {
        let tape_dw = grads.get(layer.weight()).expect("weight gradient");
        let tape_db = grads
            .get(layer.bias().expect("bias"))
            .expect("bias gradient");
        assert!(close(tape_dw, dw) && close(tape_db, db));
    }

    let mut group = c.benchmark_group("mlp 784-512-512-10, relu, cross-entropy, batch 128, f32");
    group.throughput(Throughput::Elements(BATCH as u64)); // samples per iteration
    group.sample_size(20);
    group.bench_function("tape, forward + backward", |bench| {
        bench.iter(|| black_box(tape_step(&mlp, black_box(&x), &labels)))
    });
    group.bench_function("hand-written on tensors, forward + backward", |bench| {
        bench.iter(|| black_box(manual_step(&params, black_box(&x), &labels)))
    });
    group.finish();
}

criterion_group!(benches, tape_overhead, mlp);
criterion_main!(benches);
