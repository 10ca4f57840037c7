//! The gradcheck harness itself: it passes correct rules, catches wrong ones, names the element,
//! detects kinks and dropout, and its centered difference converges as O(ε²).

use tapegrad_autograd::{
    Backward, Check, GradcheckError, Masks, ModelCheck, Param, Tape, Var, gradcheck,
    gradcheck_params,
};
use tapegrad_tensor::Tensor;

/// `x³` with a deliberately wrong derivative (`2x²` instead of `3x²`).
struct BadCubeBackward {
    x: Tensor<f64>,
}

impl Backward<f64> for BadCubeBackward {
    fn name(&self) -> &'static str {
        "bad_cube"
    }
    fn backward(&self, g: &Tensor<f64>, _needs: &[bool]) -> Vec<Option<Tensor<f64>>> {
        vec![Some(g.mul(&self.x.square().mul_scalar(2.0)))]
    }
}

fn bad_cube(x: &Var<f64>) -> Var<f64> {
    let y = x.value().powi(3);
    x.record(
        y,
        &[x],
        BadCubeBackward {
            x: x.value().clone(),
        },
    )
}

#[test]
fn a_wrong_backward_is_caught_and_the_element_named() {
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 1.5], &[2, 2]);
    // A scalar output gives every element the same upstream gradient, so |error| = x²·|g| ranks by |x|.
    let err = gradcheck(
        "bad_cube",
        |v| bad_cube(&v[0]).sum_all(),
        &[x],
        Check::default(),
    )
    .unwrap_err();
    let GradcheckError::Mismatch { ref worst, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(worst.input, "0");
    assert_eq!(
        worst.index,
        vec![1, 0],
        "largest |x| gives the largest absolute error"
    ); // x = 2.0
    assert!((worst.rel_error - 1.0 / 3.0).abs() < 1e-6, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("bad_cube") && msg.contains("[1, 0]") && msg.contains("analytic"),
        "{msg}"
    );
}

#[test]
fn a_kink_is_reported_as_such() {
    // 1e-7 is within ε = 1e-6 of relu's kink at 0.
    let x = Tensor::from_vec(vec![1.0, 1e-7], &[2]);
    let err = gradcheck("relu", |v| v[0].relu(), &[x], Check::default()).unwrap_err();
    let GradcheckError::Mismatch { ref worst, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(worst.index, vec![1]);
    assert!(worst.kink.is_some());
    assert!(err.to_string().contains("not differentiable"), "{err}");
}

#[test]
fn centered_differences_converge_quadratically_one_sided_linearly() {
    // f(x) = sin(x)·eˣ at x = 0.7; exact f'(x) = (cos x + sin x)·eˣ.
    let f = |x: f64| x.sin() * x.exp();
    let x = 0.7f64;
    let exact = (x.cos() + x.sin()) * x.exp();
    let central = |e: f64| ((f(x + e) - f(x - e)) / (2.0 * e) - exact).abs();
    let forward = |e: f64| ((f(x + e) - f(x)) / e - exact).abs();
    let eps = 1e-2;
    let central_ratio = central(eps) / central(eps / 2.0);
    let forward_ratio = forward(eps) / forward(eps / 2.0);
    assert!(
        (central_ratio - 4.0).abs() < 0.1,
        "central ratio {central_ratio}"
    );
    assert!(
        (forward_ratio - 2.0).abs() < 0.1,
        "forward ratio {forward_ratio}"
    );
}

fn tiny_model() -> (Param<f64>, Param<f64>) {
    let w = Param::new(
        "w",
        Tensor::from_vec(vec![0.3, -0.2, 0.5, 0.1, -0.4, 0.25], &[3, 2]),
    );
    let b = Param::new("b", Tensor::from_vec(vec![0.1, -0.1], &[2]));
    (w, b)
}

#[test]
fn model_check_passes_a_correct_model_with_l2() {
    let (w, b) = tiny_model();
    let x = Tensor::from_vec(vec![1.0, 2.0, -1.0, 0.5, -0.3, 0.8], &[2, 3]);
    let loss = |tape: &Tape<f64>| {
        let h = tape.input(x.clone()).matmul(&tape.param(&w)) + tape.param(&b);
        let l2 = tape.param(&w).square().sum_all().mul_scalar(0.1 / 4.0);
        h.tanh().cross_entropy(&[0, 1]) + l2
    };
    let report =
        gradcheck_params("tiny", loss, &[w.clone(), b.clone()], ModelCheck::default()).unwrap();
    assert!(
        report.relative_difference < 1e-7,
        "{}",
        report.relative_difference
    );
}

#[test]
fn model_check_names_the_failing_parameter() {
    let (w, b) = tiny_model();
    let x = Tensor::from_vec(vec![1.0, 2.0, -1.0, 0.5, -0.3, 0.8], &[2, 3]);
    let loss = |tape: &Tape<f64>| {
        let h = tape.input(x.clone()).matmul(&tape.param(&w)) + bad_cube(&tape.param(&b));
        h.sum_all()
    };
    let err =
        gradcheck_params("tiny", loss, &[w.clone(), b.clone()], ModelCheck::default()).unwrap_err();
    let GradcheckError::Mismatch { ref worst, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(worst.input, "b");
}

#[test]
fn dropout_is_refused_unless_masks_are_replayed() {
    let (w, b) = tiny_model();
    let x = Tensor::from_vec(vec![1.0, 2.0, -1.0, 0.5, -0.3, 0.8], &[2, 3]);
    let loss = |tape: &Tape<f64>| {
        let h = tape.input(x.clone()).matmul(&tape.param(&w)) + tape.param(&b);
        let h = tape.with_rng(|rng| h.tanh().dropout(0.5, rng, true));
        h.cross_entropy(&[1, 0])
    };
    let params = [w.clone(), b.clone()];
    let err = gradcheck_params("dropout", loss, &params, ModelCheck::default()).unwrap_err();
    assert!(matches!(err, GradcheckError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("dropout"), "{err}");
    let replay = ModelCheck {
        masks: Masks::Replay { seed: 3 },
        ..ModelCheck::default()
    };
    gradcheck_params("dropout", loss, &params, replay).unwrap();
}
