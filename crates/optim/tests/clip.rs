//! Gradient clipping by global norm and by value, against hand-computed values.

use tapegrad_autograd::{Grads, Param, Tape};
use tapegrad_optim::{clip_grad_norm, clip_grad_value};
use tapegrad_tensor::Tensor;

/// Gradients `a` and `b` for two parameters (loss Σ a⊙p + Σ b⊙q).
fn grads(a: Vec<f64>, b: Vec<f64>) -> (Param<f64>, Param<f64>, Grads<f64>) {
    let p = Param::new("p", Tensor::zeros(&[a.len()]));
    let q = Param::new("q", Tensor::zeros(&[b.len()]));
    let g = {
        let tape = Tape::new();
        let (na, nb) = (a.len(), b.len());
        let a = tape.input(Tensor::from_vec(a, &[na]));
        let b = tape.input(Tensor::from_vec(b, &[nb]));
        ((tape.param(&p) * a).sum_all() + (tape.param(&q) * b).sum_all()).backward()
    };
    (p, q, g)
}

#[test]
fn global_norm_spans_all_parameters() {
    // [1, 2] and [2, 4, 5, 4]: ‖g‖ = √(1 + 4 + 4 + 16 + 25 + 16) = √66.
    let (p, q, mut g) = grads(vec![1.0, 2.0], vec![2.0, 4.0, 5.0, 4.0]);
    let norm = clip_grad_norm(&mut g, 2.0);
    assert!((norm - 66f64.sqrt()).abs() < 1e-14);
    let scale = 2.0 / (66f64.sqrt() + 1e-6);
    let gp = g.get(&p).unwrap().to_vec();
    let gq = g.get(&q).unwrap().to_vec();
    assert!((gp[1] - 2.0 * scale).abs() < 1e-14 && (gq[2] - 5.0 * scale).abs() < 1e-14);
    let clipped: f64 = gp.iter().chain(&gq).map(|x| x * x).sum::<f64>().sqrt();
    assert!((clipped - 2.0).abs() < 1e-6);
}

#[test]
fn a_norm_below_the_limit_changes_nothing() {
    let (p, _, mut g) = grads(vec![3.0], vec![4.0]);
    assert_eq!(clip_grad_norm(&mut g, 5.0), 5.0);
    assert_eq!(g.get(&p).unwrap().to_vec(), vec![3.0]);
}

#[test]
fn a_non_finite_norm_is_returned_and_nothing_changes() {
    let (p, _, mut g) = grads(vec![f64::INFINITY, 1.0], vec![1.0]);
    assert!(clip_grad_norm(&mut g, 1.0).is_infinite());
    assert_eq!(g.get(&p).unwrap().to_vec()[1], 1.0);
}

#[test]
fn clip_by_value() {
    let (p, q, mut g) = grads(vec![-3.0, 0.2], vec![0.7, 9.0]);
    clip_grad_value(&mut g, 0.5);
    assert_eq!(g.get(&p).unwrap().to_vec(), vec![-0.5, 0.2]);
    assert_eq!(g.get(&q).unwrap().to_vec(), vec![0.5, 0.5]);
}

#[test]
fn f32_gradients_clip_too() {
    let p = Param::new("p", Tensor::<f32>::zeros(&[2]));
    let mut g = {
        let tape = Tape::new();
        let c = tape.input(Tensor::from_vec(vec![6.0f32, 8.0], &[2]));
        (tape.param(&p) * c).sum_all().backward()
    };
    assert_eq!(clip_grad_norm(&mut g, 1.0), 10.0);
    let v = g.get(&p).unwrap().to_vec();
    assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
}
