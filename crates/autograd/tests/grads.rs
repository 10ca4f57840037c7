//! Gradient accumulation over micro-batches and frozen parameters.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_autograd::{
    AutogradError, GradcheckError, Grads, ModelCheck, Param, Tape, Var, gradcheck_params,
};
use tapegrad_tensor::{Tensor, TensorError};

/// A two-layer model `tanh(x·W1 + b1)·W2 + b2` with fixed random parameters.
struct Model {
    w1: Param<f64>,
    b1: Param<f64>,
    w2: Param<f64>,
    b2: Param<f64>,
}

impl Model {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Model {
            w1: Param::new("w1", Tensor::rand_normal(&[3, 4], &mut rng)),
            b1: Param::new("b1", Tensor::rand_normal(&[4], &mut rng)),
            w2: Param::new("w2", Tensor::rand_normal(&[4, 2], &mut rng)),
            b2: Param::new("b2", Tensor::rand_normal(&[2], &mut rng)),
        }
    }

    fn params(&self) -> Vec<Param<f64>> {
        vec![
            self.w1.clone(),
            self.b1.clone(),
            self.w2.clone(),
            self.b2.clone(),
        ]
    }

    /// Per-element squared errors of the rows `start..start + len` of the data.
    fn squared_errors(&self, tape: &Tape<f64>, data: &Data, start: usize, len: usize) -> Var<f64> {
        let x = tape.input(data.x.narrow(0, start, len));
        let y = tape.input(data.y.narrow(0, start, len));
        let h = (x.matmul(&tape.param(&self.w1)) + tape.param(&self.b1)).tanh();
        let out = h.matmul(&tape.param(&self.w2)) + tape.param(&self.b2);
        (out - y).square()
    }
}

struct Data {
    x: Tensor<f64>,
    y: Tensor<f64>,
}

fn data() -> Data {
    let mut rng = StdRng::seed_from_u64(99);
    Data {
        x: Tensor::rand_normal(&[6, 3], &mut rng),
        y: Tensor::rand_normal(&[6, 2], &mut rng),
    }
}

fn assert_same_grads(model: &Model, got: &Grads<f64>, want: &Grads<f64>) {
    assert_eq!(got.len(), want.len());
    for p in model.params() {
        let (g, w) = (got.get(&p).unwrap(), want.get(&p).unwrap());
        assert_eq!(g.shape(), w.shape(), "{}", p.name());
        for (a, b) in g.to_vec().iter().zip(w.to_vec()) {
            assert!((a - b).abs() < 1e-6, "{}: {a} vs {b}", p.name());
        }
    }
}

#[test]
fn micro_batch_grads_sum_to_the_full_batch_grad_of_the_summed_loss() {
    let (model, data) = (Model::new(1), data());
    let full = {
        let tape = Tape::new();
        model
            .squared_errors(&tape, &data, 0, 6)
            .sum_all()
            .backward()
    };
    let micro = |start, len| {
        let tape = Tape::new();
        model
            .squared_errors(&tape, &data, start, len)
            .sum_all()
            .backward()
    };
    // Uneven micro-batches: a sum loss does not care how the rows are split.
    let mut total = micro(0, 2);
    total.accumulate(&micro(2, 4));
    assert_same_grads(&model, &total, &full);

    let mut from_empty = Grads::new();
    for (start, len) in [(0, 1), (1, 3), (4, 2)] {
        from_empty.accumulate(&micro(start, len));
    }
    assert_same_grads(&model, &from_empty, &full);

    let collected = Grads::accumulated([(0, 3), (3, 3)].map(|(s, l)| micro(s, l)));
    assert_same_grads(&model, &collected, &full);
    assert!(Grads::<f64>::accumulated([]).is_empty());
}

#[test]
fn scaled_micro_batch_grads_give_the_grad_of_the_mean_loss() {
    let (model, data) = (Model::new(2), data());
    let full = {
        let tape = Tape::new();
        model
            .squared_errors(&tape, &data, 0, 6)
            .mean_all()
            .backward()
    };
    // Two equal halves, each with its own mean loss: their mean is the full batch's mean.
    let mut total = Grads::new();
    for start in [0, 3] {
        let tape = Tape::new();
        total.accumulate(
            &model
                .squared_errors(&tape, &data, start, 3)
                .mean_all()
                .backward(),
        );
    }
    total.scale(0.5);
    assert_same_grads(&model, &total, &full);
}

#[test]
fn accumulate_inserts_parameters_only_the_other_pass_has() {
    let a = Param::new("a", Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    let b = Param::new("b", Tensor::from_vec(vec![3.0f64], &[1]));
    let pass = |p: &Param<f64>| {
        let tape = Tape::new();
        tape.param(p).square().sum_all().backward()
    };
    let mut total = pass(&a);
    let only_b = pass(&b);
    total.accumulate(&only_b);
    assert_eq!(total.get(&a).unwrap().to_vec(), [2.0, 4.0]);
    assert_eq!(total.get(&b).unwrap().to_vec(), [6.0]);
    // Summing into the inserted gradient must not write into the pass it came from.
    total.accumulate(&only_b);
    assert_eq!(total.get(&b).unwrap().to_vec(), [12.0]);
    assert_eq!(only_b.get(&b).unwrap().to_vec(), [6.0]);
}

#[test]
fn accumulating_another_shape_is_an_error_that_changes_nothing() {
    let a = Param::new("a", Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    let b = Param::new("b", Tensor::from_vec(vec![1.0f64], &[1]));
    let pass = || {
        let tape = Tape::new();
        (tape.param(&a).sum_all() + tape.param(&b).sum_all()).backward()
    };
    let mut total = pass();
    let before = pass();
    a.set_value(Tensor::ones(&[2, 2])); // reshaped between the passes
    let reshaped = pass();
    let err = total.try_accumulate(&reshaped).unwrap_err();
    let AutogradError::Tensor(TensorError::ShapeMismatch { op, lhs, rhs, .. }) = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(
        (*op, lhs.as_slice(), rhs.as_slice()),
        ("Grads::accumulate", &[2][..], &[2, 2][..])
    );
    assert_eq!(
        err.to_string(),
        format!(
            "Grads::accumulate: cannot combine [2] with [2, 2]: the two gradients of parameter {:?} differ in shape",
            a.id()
        )
    );
    // `b` fits, but the failed call added nothing to it either.
    assert_eq!(
        total.get(&b).unwrap().to_vec(),
        before.get(&b).unwrap().to_vec()
    );
    assert_eq!(
        total.get(&a).unwrap().to_vec(),
        before.get(&a).unwrap().to_vec()
    );
    let panic =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| total.accumulate(&reshaped)))
            .unwrap_err();
    assert_eq!(panic.downcast_ref::<String>(), Some(&err.to_string()));
}

#[test]
fn scale_multiplies_param_and_var_gradients() {
    let w = Param::new("w", Tensor::from_vec(vec![1.0f64, -2.0], &[2]));
    let tape = Tape::new();
    let x = tape.input_with_grad(Tensor::from_vec(vec![3.0, 4.0], &[2]));
    let mut grads = (tape.param(&w) * &x).sum_all().backward();
    grads.scale(0.25);
    assert_eq!(grads.get(&w).unwrap().to_vec(), [0.75, 1.0]);
    assert_eq!(grads.wrt(&x).unwrap().to_vec(), [0.25, -0.5]);
}

#[test]
fn a_frozen_param_gets_no_gradient_and_records_nothing() {
    let (model, data) = (Model::new(3), data());
    let trained = {
        let tape = Tape::new();
        model
            .squared_errors(&tape, &data, 0, 6)
            .sum_all()
            .backward()
    };
    let first_layer = [&model.w1, &model.b1];
    for p in first_layer {
        p.clone().set_requires_grad(false); // a second handle freezes the parameter itself
        assert!(!p.requires_grad());
    }
    let tape = Tape::new();
    let grads = model
        .squared_errors(&tape, &data, 0, 6)
        .sum_all()
        .backward();
    assert!(grads.get(&model.w1).is_none() && grads.get(&model.b1).is_none());
    assert_eq!(grads.len(), 2);
    // The second layer's gradient does not depend on whether the first trains.
    for p in [&model.w2, &model.b2] {
        assert_eq!(
            grads.get(p).unwrap().to_vec(),
            trained.get(p).unwrap().to_vec()
        );
    }
    // No work for the frozen layer: its matmul, add and tanh run as plain tensor ops.
    let ops = tape.op_names();
    assert!(!ops.contains(&"tanh"), "recorded {ops:?}");
    assert_eq!(ops.iter().filter(|&&n| n == "matmul").count(), 1, "{ops:?}");

    for p in first_layer {
        p.set_requires_grad(true);
    }
    let tape = Tape::new();
    let again = model
        .squared_errors(&tape, &data, 0, 6)
        .sum_all()
        .backward();
    assert_same_grads(&model, &again, &trained);
}

#[test]
fn a_loss_of_frozen_params_only_is_a_constant() {
    let w = Param::new("w", Tensor::from_vec(vec![2.0f64], &[1]));
    w.set_requires_grad(false);
    let tape = Tape::new();
    let loss = tape.param(&w).square().sum_all();
    assert!(!loss.requires_grad());
    assert!(tape.is_empty());
    assert!(loss.backward().is_empty());
}

#[test]
fn gradcheck_params_checks_only_trainable_params() {
    let (model, data) = (Model::new(4), data());
    let loss = |tape: &Tape<f64>| model.squared_errors(tape, &data, 0, 6).mean_all();
    model.w1.set_requires_grad(false);
    // Were w1 compared, its zero analytic gradient would fail against the numeric one.
    let report =
        gradcheck_params("frozen w1", loss, &model.params(), ModelCheck::default()).unwrap();
    assert!(report.worst.as_ref().is_some_and(|w| w.input != "w1"));
    for p in model.params() {
        p.set_requires_grad(false);
    }
    let err =
        gradcheck_params("all frozen", loss, &model.params(), ModelCheck::default()).unwrap_err();
    assert!(
        matches!(&err, GradcheckError::Refused { why, .. } if why.contains("all 4 parameters are frozen")),
        "{err}"
    );
}
