//! One Adam step over a 784-512-512-10 MLP's parameters (f32, 669,706 scalars), against a plain
//! hand-written loop doing the same arithmetic on `Vec<f32>`s, in the same run. The gradients are
//! fixed random tensors from one backward pass; the tape is dropped before stepping.
//!
//! Run: `cargo bench --bench optim_step`

// `criterion_group!` generates an undocumented public fn.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use rand::{SeedableRng, rngs::StdRng};
use tapegrad::autograd::{Param, Tape};
use tapegrad::optim::{Adam, AdamConfig, Optimizer};
use tapegrad::tensor::Tensor;

const SHAPES: [&[usize]; 6] = [&[784, 512], &[512], &[512, 512], &[512], &[512, 10], &[10]];
const LR: f64 = 1e-3;
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// The baseline: Adam's update on plain vectors, as PyTorch's single-tensor loop computes it.
struct Plain {
    theta: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: u64,
}

impl Plain {
    fn step(&mut self) {
        self.t += 1;
        let bias1 = 1.0 - BETA1.powf(self.t as f64);
        let bias2 = 1.0 - BETA2.powf(self.t as f64);
        let step_size = (LR / bias1) as f32;
        let inv_sqrt_bias2 = (1.0 / bias2.sqrt()) as f32;
        let (b1, b2, eps) = (BETA1 as f32, BETA2 as f32, EPS as f32);
        let (c1, c2) = ((1.0 - BETA1) as f32, (1.0 - BETA2) as f32);
        for k in 0..self.theta.len() {
            let iter = self.theta[k]
                .iter_mut()
                .zip(&self.grads[k])
                .zip(self.m[k].iter_mut())
                .zip(self.v[k].iter_mut());
            for (((p, &g), m), v) in iter {
                *m = b1 * *m + c1 * g;
                *v = b2 * *v + c2 * g * g;
                *p -= step_size * *m / (v.sqrt() * inv_sqrt_bias2 + eps);
            }
        }
    }
}

fn optim_step(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let params: Vec<(String, Param<f32>)> = SHAPES
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            let name = format!(
                "layer{}.{}",
                i / 2,
                if i % 2 == 0 { "weight" } else { "bias" }
            );
            let value = Tensor::<f32>::rand_normal(shape, &mut rng);
            (name.clone(), Param::new(name, value))
        })
        .collect();
    let directions: Vec<Tensor<f32>> = SHAPES
        .iter()
        .map(|shape| Tensor::<f32>::rand_normal(shape, &mut rng))
        .collect();
    // ∂/∂p Σ r ⊙ p = r: fixed random gradients delivered by the tape.
    let grads = {
        let tape = Tape::new();
        let mut loss = (tape.param(&params[0].1) * tape.input(directions[0].clone())).sum_all();
        for ((_, p), r) in params.iter().zip(&directions).skip(1) {
            loss = loss + (tape.param(p) * tape.input(r.clone())).sum_all();
        }
        loss.backward()
    };
    let numel: usize = params.iter().map(|(_, p)| p.numel()).sum();
    let mut opt = Adam::new(
        &params,
        AdamConfig {
            lr: LR,
            ..Default::default()
        },
    );
    let mut plain = Plain {
        theta: params.iter().map(|(_, p)| p.value().to_vec()).collect(),
        grads: directions.iter().map(Tensor::to_vec).collect(),
        m: SHAPES
            .iter()
            .map(|s| vec![0.0; s.iter().product()])
            .collect(),
        v: SHAPES
            .iter()
            .map(|s| vec![0.0; s.iter().product()])
            .collect(),
        t: 0,
    };
    // One step first, so the optimizer's state exists before timing (as in training).
    opt.step(&grads);
    plain.step();

    let mut group = c.benchmark_group(format!("adam_step/mlp_784_512_512_10/{numel}_params"));
    group.throughput(Throughput::Elements(numel as u64));
    group.bench_function("tapegrad Adam", |bench| {
        bench.iter(|| opt.step(black_box(&grads)))
    });
    group.bench_function("plain loop on Vec<f32>", |bench| {
        bench.iter(|| {
            plain.step();
            black_box(&plain.theta);
        })
    });
    group.finish();
}

criterion_group!(benches, optim_step);
criterion_main!(benches);
