//! A step split into shares (each process updating its share of every parameter, then the
//! shares exchanged) gives exactly the whole step, for every built-in optimizer.

use tapegrad_autograd::{Grads, Param, Tape};
use tapegrad_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Momentum, Optimizer, RmsProp, RmsPropConfig, Sgd,
    SgdConfig, UpdateShard,
};
use tapegrad_tensor::Tensor;

/// A 10-element bias (one share takes it all), 300 and 1,000 elements (split unevenly).
const SHAPES: [&[usize]; 3] = [&[10], &[3, 100], &[1000]];

/// Fixed values spread over [-1, 1], different for every `seed`.
fn wave(shape: &[usize], seed: u64) -> Tensor<f32> {
    let n = shape.iter().product();
    let data = (0..n)
        .map(|i| (i as f32 * 0.37 + seed as f32).sin())
        .collect();
    Tensor::from_vec(data, shape)
}

fn params(seed: u64) -> Vec<(String, Param<f32>)> {
    SHAPES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = format!("p{i}");
            (name.clone(), Param::new(name, wave(s, seed + i as u64)))
        })
        .collect()
}

/// Gradients of `Σ r ⊙ p²` for fixed random `r`, so they change with the parameters.
fn grads(params: &[(String, Param<f32>)], step: u64) -> Grads<f32> {
    let tape = Tape::new();
    let mut loss = None;
    for (k, (_, p)) in params.iter().enumerate() {
        let r = tape.input(wave(&p.shape(), 100 * step + 10 + k as u64));
        let term = (tape.param(p).square() * r).sum_all();
        loss = Some(match loss {
            None => term,
            Some(l) => l + term,
        });
    }
    loss.unwrap().backward()
}

type Build = fn(&[(String, Param<f32>)]) -> Box<dyn Optimizer<f32>>;

fn check(what: &str, build: Build) {
    for count in [2, 3] {
        // One copy of the model and optimizer per process.
        let copies: Vec<_> = (0..count).map(|_| params(7)).collect();
        let mut opts: Vec<_> = copies.iter().map(|c| build(c)).collect();
        let fresh = params(7);
        let mut expected = build(&fresh);
        for step in 0..5 {
            expected.step(&grads(&fresh, step));
            let g: Vec<_> = copies.iter().map(|c| grads(c, step)).collect();
            for (i, opt) in opts.iter_mut().enumerate() {
                let shard = UpdateShard::new(i, count).unwrap();
                opt.try_step_shard(&g[i], shard).unwrap();
            }
            // The exchange: every copy takes each share from the process that updated it.
            for k in 0..SHAPES.len() {
                let mut merged = vec![0.0f32; copies[0][k].1.numel()];
                for (i, copy) in copies.iter().enumerate() {
                    let r = UpdateShard::new(i, count).unwrap().range(merged.len());
                    merged[r.clone()].copy_from_slice(&copy[k].1.value().to_vec()[r]);
                }
                for copy in &copies {
                    copy[k].1.update(|theta| theta.copy_from_slice(&merged));
                }
            }
            for copy in &copies {
                for ((name, p), (_, q)) in copy.iter().zip(&fresh) {
                    let (a, b) = (p.value().to_vec(), q.value().to_vec());
                    let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{what}, {count} shares, step {step}: {name} differs");
                }
            }
        }
        assert_eq!(opts[0].step_count(), 5, "{what}");
    }
}

#[test]
fn every_optimizer_split_into_shares_steps_exactly_as_whole() {
    check("Adam", |p| {
        Box::new(Adam::new(
            p,
            AdamConfig {
                lr: 0.01,
                weight_decay: 0.01,
                amsgrad: true,
                ..Default::default()
            },
        ))
    });
    check("AdamW", |p| {
        Box::new(AdamW::new(
            p,
            AdamWConfig {
                lr: 0.01,
                ..Default::default()
            },
        ))
    });
    check("SGD", |p| {
        Box::new(Sgd::new(
            p,
            SgdConfig {
                lr: 0.05,
                momentum: Momentum::classic(0.9),
                nesterov: true,
                weight_decay: 1e-3,
            },
        ))
    });
    check("RMSprop", |p| {
        Box::new(RmsProp::new(
            p,
            RmsPropConfig {
                lr: 0.01,
                momentum: 0.5,
                centered: true,
                ..Default::default()
            },
        ))
    });
}

#[test]
fn a_share_leaves_every_element_outside_it_alone() {
    let p = params(3);
    let before: Vec<Vec<f32>> = p.iter().map(|(_, q)| q.value().to_vec()).collect();
    let mut opt = Adam::new(&p, AdamConfig::default());
    let shard = UpdateShard::new(1, 2).unwrap();
    opt.try_step_shard(&grads(&p, 0), shard).unwrap();
    for ((_, q), old) in p.iter().zip(&before) {
        let now = q.value().to_vec();
        let r = shard.range(now.len());
        for (i, (a, b)) in now.iter().zip(old).enumerate() {
            assert_eq!(r.contains(&i), a != b, "element {i} of {}", q.name());
        }
    }
    // The state buffers too: outside the share they are still zero.
    let state = opt.state_dict();
    let m = state.tensors["p2/exp_avg"].to_vec();
    assert!(m[..512].iter().all(|&x| x == 0.0) && m[512..].iter().all(|&x| x != 0.0));
}
