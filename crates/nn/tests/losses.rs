//! The L1, Huber and KL-divergence loss modules give exactly what the `Var` losses they wrap give:
//! the same values, the same gradients and the same errors.

use tapegrad_autograd::ops::Reduction;
use tapegrad_autograd::{Tape, Var};
use tapegrad_nn::{HuberLoss, KlDivLoss, L1Loss};
use tapegrad_tensor::Tensor;
use tapegrad_tensor::testing::caught;

const REDUCTIONS: [Reduction; 3] = [Reduction::Mean, Reduction::Sum, Reduction::None];

/// A `[2, 3]` prediction with errors on both sides of δ = 1, and its target.
fn pair(tape: &Tape<f64>) -> (Var<f64>, Var<f64>) {
    let prediction = [0.3, -2.5, 1.0, 4.0, -0.2, 0.9];
    let target = [0.0, 0.5, 1.5, 0.0, 0.1, -1.0];
    (
        tape.input_with_grad(Tensor::from_vec(prediction.to_vec(), &[2, 3])),
        tape.input(Tensor::from_vec(target.to_vec(), &[2, 3])),
    )
}

/// The loss's value and its gradient with respect to the prediction, as bits.
fn value_and_grad(loss: &Var<f64>, prediction: &Var<f64>) -> (Vec<u64>, Vec<u64>) {
    let bits = |t: &Tensor<f64>| t.to_vec().iter().map(|x| x.to_bits()).collect();
    let upstream = Tensor::from_vec(
        (1..=loss.value().numel()).map(|i| i as f64).collect(),
        loss.shape(),
    );
    let grads = loss.backward_with(upstream);
    (bits(loss.value()), bits(grads.wrt(prediction).unwrap()))
}

#[test]
fn l1_loss_is_var_l1() {
    for reduction in REDUCTIONS {
        let tape = Tape::new();
        let (x, y) = pair(&tape);
        let module = value_and_grad(&L1Loss { reduction }.forward(&x, &y), &x);
        let (x, y) = pair(&tape);
        assert_eq!(
            module,
            value_and_grad(&x.l1(&y, reduction), &x),
            "{reduction:?}"
        );
    }
    let tape = Tape::new();
    let (x, y) = pair(&tape);
    // |0.3| + |−3| + |−0.5| + |4| + |−0.3| + |1.9| = 10, over 6 elements.
    let mean = L1Loss::default().forward(&x, &y).value().item();
    assert!((mean - 10.0 / 6.0).abs() < 1e-15, "{mean}");
}

#[test]
fn huber_loss_is_var_huber_with_delta_1_by_default() {
    assert_eq!(HuberLoss::default().delta, 1.0);
    assert_eq!(HuberLoss::default().reduction, Reduction::Mean);
    for delta in [1.0, 0.25, 3.0] {
        for reduction in REDUCTIONS {
            let tape = Tape::new();
            let (x, y) = pair(&tape);
            let loss = HuberLoss { delta, reduction };
            let module = value_and_grad(&loss.forward(&x, &y), &x);
            let (x, y) = pair(&tape);
            let var = value_and_grad(&x.huber(&y, delta, reduction), &x);
            assert_eq!(module, var, "delta {delta}, {reduction:?}");
        }
    }
    let tape = Tape::new();
    let (x, y) = pair(&tape);
    // d = [0.3, −3, −0.5, 4, −0.3, 1.9], δ = 1: ½(0.09 + 0.25 + 0.09) + (2.5 + 3.5 + 1.4).
    let sum = HuberLoss {
        reduction: Reduction::Sum,
        ..Default::default()
    };
    let got = sum.forward(&x, &y).value().item();
    assert!((got - 7.615).abs() < 1e-14, "{got}");
}

#[test]
fn kl_div_loss_is_var_kl_div_of_log_probabilities() {
    let logits = Tensor::from_vec(vec![0.2, -1.0, 0.5, 2.0, 0.0, -0.3], &[2, 3]);
    let target = Tensor::from_vec(vec![0.2, 0.0, 0.8, 0.5, 0.25, 0.25], &[2, 3]);
    for reduction in REDUCTIONS {
        let tape = Tape::new();
        let x = tape.input_with_grad(logits.clone());
        let module = value_and_grad(
            &KlDivLoss { reduction }.forward(&x.log_softmax(-1), &target),
            &x,
        );
        let x = tape.input_with_grad(logits.clone());
        let var = value_and_grad(&x.log_softmax(-1).kl_div(&target, reduction), &x);
        assert_eq!(module, var, "{reduction:?}");
    }
    // Against the definition, per sample: Σ p·(ln p − ln q), summed over the batch.
    let tape = Tape::new();
    let log_q = tape.input(logits.clone()).log_softmax(-1);
    let q = log_q.value().to_vec();
    let want: f64 = target
        .to_vec()
        .iter()
        .zip(&q)
        .filter(|(p, _)| **p > 0.0)
        .map(|(p, lq)| p * (p.ln() - lq))
        .sum();
    let sum = KlDivLoss {
        reduction: Reduction::Sum,
    };
    let got = sum.forward(&log_q, &target).value().item();
    assert!((got - want).abs() < 1e-14, "{got} vs {want}");
}

#[test]
fn the_modules_report_the_var_losses_errors() {
    let tape = Tape::<f64>::new();
    let x = tape.input(Tensor::zeros(&[2, 3]));
    let wrong = tape.input(Tensor::zeros(&[3, 2]));
    let empty = tape.input(Tensor::zeros(&[0, 3]));
    let zero_delta = HuberLoss {
        delta: 0.0,
        ..Default::default()
    };
    let (l1, huber, kl) = (
        L1Loss::default(),
        HuberLoss::default(),
        KlDivLoss::default(),
    );
    let message = |e: tapegrad_nn::NnError| e.to_string();
    let var_message = |e: tapegrad_autograd::AutogradError| e.to_string();
    let cases: [(&str, String, String); 5] = [
        (
            "l1 shapes",
            message(l1.try_forward(&x, &wrong).unwrap_err()),
            var_message(x.try_l1(&wrong, Reduction::Mean).unwrap_err()),
        ),
        (
            "l1 empty mean",
            message(l1.try_forward(&empty, &empty).unwrap_err()),
            var_message(empty.try_l1(&empty, Reduction::Mean).unwrap_err()),
        ),
        (
            "huber delta",
            message(zero_delta.try_forward(&x, &x).unwrap_err()),
            var_message(x.try_huber(&x, 0.0, Reduction::Mean).unwrap_err()),
        ),
        (
            "huber shapes",
            message(huber.try_forward(&x, &wrong).unwrap_err()),
            var_message(x.try_huber(&wrong, 1.0, Reduction::Mean).unwrap_err()),
        ),
        (
            "kl_div shapes",
            message(kl.try_forward(&x, wrong.value()).unwrap_err()),
            var_message(x.try_kl_div(wrong.value(), Reduction::Mean).unwrap_err()),
        ),
    ];
    for (label, module, var) in &cases {
        assert_eq!(module, var, "{label}");
    }
    // The short forms panic with the same messages.
    assert_eq!(caught(|| l1.forward(&x, &wrong)).unwrap_err(), cases[0].2);
    assert_eq!(
        caught(|| zero_delta.forward(&x, &x)).unwrap_err(),
        cases[2].2
    );
    assert_eq!(
        caught(|| kl.forward(&x, wrong.value())).unwrap_err(),
        cases[4].2
    );
}
