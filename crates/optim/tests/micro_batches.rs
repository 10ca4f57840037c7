//! Training with accumulated micro-batch gradients and with frozen parameters.

use tapegrad_autograd::{Grads, Param, Tape, Var};
use tapegrad_optim::{AdamW, AdamWConfig, Momentum, Optimizer, Sgd, SgdConfig};
use tapegrad_tensor::Tensor;

/// Fixed values in [−1, 1] that vary with `seed` and the position.
fn wobble(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n = shape.iter().product::<usize>();
    let values = (0..n).map(|i| ((i as f64 + 1.0) * (seed as f64 + 1.7)).sin());
    Tensor::from_vec(values.collect(), shape)
}

/// Two layers, `tanh(x·W1 + b1)·W2 + b2`, named as a module would name them.
fn two_layers(seed: u64) -> Vec<(String, Param<f64>)> {
    [
        ("0.weight", [3, 4]),
        ("0.bias", [1, 4]),
        ("1.weight", [4, 2]),
        ("1.bias", [1, 2]),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, shape))| {
        let value = wobble(&shape, seed * 10 + i as u64);
        (name.to_string(), Param::new(name, value))
    })
    .collect()
}

/// The same model as other parameters: each starts sharing the value, and the first in-place
/// update gives it its own copy.
fn copy_of(params: &[(String, Param<f64>)]) -> Vec<(String, Param<f64>)> {
    params
        .iter()
        .map(|(name, p)| (name.clone(), Param::new(name.clone(), p.value())))
        .collect()
}

/// Summed squared error of the rows `start..start + len` of 8 samples.
fn loss(params: &[(String, Param<f64>)], tape: &Tape<f64>, start: usize, len: usize) -> Var<f64> {
    let x = wobble(&[8, 3], 100).narrow(0, start, len);
    let y = wobble(&[8, 2], 101).narrow(0, start, len);
    let p = |i: usize| tape.param(&params[i].1);
    let h = (tape.input(x).matmul(&p(0)) + p(1)).tanh();
    (h.matmul(&p(2)) + p(3) - tape.input(y)).square().sum_all()
}

fn grads(params: &[(String, Param<f64>)], start: usize, len: usize) -> Grads<f64> {
    let tape = Tape::new();
    loss(params, &tape, start, len).backward()
}

fn values(params: &[(String, Param<f64>)]) -> Vec<Vec<f64>> {
    params.iter().map(|(_, p)| p.value().to_vec()).collect()
}

fn sgd(params: &[(String, Param<f64>)]) -> Box<dyn Optimizer<f64>> {
    let config = SgdConfig {
        lr: 0.05,
        momentum: Momentum::Classic {
            momentum: 0.9,
            dampening: 0.0,
        },
        weight_decay: 0.01,
        ..Default::default()
    };
    Box::new(Sgd::new(params, config))
}

fn adamw(params: &[(String, Param<f64>)]) -> Box<dyn Optimizer<f64>> {
    let config = AdamWConfig {
        lr: 0.01,
        ..Default::default()
    };
    Box::new(AdamW::new(params, config))
}

#[test]
fn steps_on_accumulated_micro_batches_equal_full_batch_steps() {
    for make in [sgd, adamw] {
        let full = two_layers(1);
        let micro = copy_of(&full);
        let (mut full_opt, mut micro_opt) = (make(&full), make(&micro));
        for _ in 0..3 {
            full_opt.step(&grads(&full, 0, 8));
            let mut total = Grads::new();
            for (start, len) in [(0, 3), (3, 3), (6, 2)] {
                total.accumulate(&grads(&micro, start, len));
            }
            micro_opt.step(&total);
        }
        let moved = values(&full) != values(&two_layers(1));
        assert!(moved, "the optimizer changed nothing");
        for (a, b) in values(&full)
            .iter()
            .flatten()
            .zip(values(&micro).iter().flatten())
        {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}

#[test]
fn a_frozen_layer_stays_bit_identical_until_unfrozen() {
    for make in [sgd, adamw] {
        let params = two_layers(2);
        let mut opt = make(&params);
        for (_, p) in &params[..2] {
            p.set_requires_grad(false);
        }
        let before = values(&params);
        for _ in 0..3 {
            opt.step(&grads(&params, 0, 8));
        }
        let after = values(&params);
        for i in 0..2 {
            let same = before[i]
                .iter()
                .zip(&after[i])
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "frozen {} changed", params[i].0);
        }
        for i in 2..4 {
            assert_ne!(
                before[i], after[i],
                "trainable {} did not change",
                params[i].0
            );
        }
        // No state and no step counted for the frozen layer, as PyTorch skips a `grad` of None.
        let state = opt.state_dict();
        assert_eq!(state.metadata["step.0.weight"], "0");
        assert_eq!(state.metadata["step.1.weight"], "3");
        assert!(!state.tensors.keys().any(|k| k.starts_with("0.")));

        for (_, p) in &params[..2] {
            p.set_requires_grad(true);
        }
        opt.step(&grads(&params, 0, 8));
        let unfrozen = values(&params);
        for i in 0..4 {
            assert_ne!(after[i], unfrozen[i], "{} did not train", params[i].0);
        }
        assert_eq!(opt.state_dict().metadata["step.0.weight"], "1");
    }
}
