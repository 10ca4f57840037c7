//! The textbook model-level gradient check (flattened θ = W1, b1, …, WL, bL) on 3-layer MLPs, with
//! L2 regularisation on, in f64; and dropout refused unless its masks are replayed.

use rand::{SeedableRng, rngs::StdRng};
use tapegrad_autograd::{GradcheckError, Masks, ModelCheck, Param, Tape, gradcheck_params};
use tapegrad_nn::{
    BatchNorm1d, Dropout, Forward, Init, Linear, Mode, Module, Relu, Sequential, Tanh, l2_penalty,
};
use tapegrad_tensor::Tensor;

const LAMBDA: f64 = 0.7;

fn mlp(activation: &str, dropout: bool, seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Sequential::new();
    for (i, (fan_in, fan_out)) in [(5, 7), (7, 6), (6, 3)].into_iter().enumerate() {
        model = model.push(Linear::new(fan_in, fan_out, Init::Xavier, &mut rng));
        if i < 2 {
            model = match activation {
                "tanh" => model.push(Tanh),
                _ => model.push(Relu),
            };
            if dropout {
                model = model.push(Dropout::new(0.3));
            }
        }
    }
    model
}

fn params(model: &dyn Module<f64>) -> Vec<Param<f64>> {
    model.parameters().into_iter().map(|(_, p)| p).collect()
}

fn data() -> (Tensor<f64>, Vec<usize>) {
    (
        Tensor::rand_normal(&[4, 5], &mut StdRng::seed_from_u64(99)),
        vec![0, 2, 1, 2],
    )
}

fn loss<'a>(
    model: &'a dyn Forward<f64>,
    mode: Mode,
) -> impl Fn(&Tape<f64>) -> tapegrad_autograd::Var<f64> + 'a {
    let (x, y) = data();
    move |tape| {
        let logits = model.forward(&tape.input(x.clone()), mode);
        logits.cross_entropy(&y) + l2_penalty(tape, model, LAMBDA, y.len())
    }
}

#[test]
fn tanh_mlp_with_l2_passes_the_textbook_check() {
    let model = mlp("tanh", false, 1);
    let report = gradcheck_params(
        "tanh mlp",
        loss(&model, Mode::Train),
        &params(&model),
        ModelCheck::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.relative_difference < 1e-7,
        "{}",
        report.relative_difference
    );
    assert!(report.ops.contains(&"tanh") && report.ops.contains(&"cross_entropy"));
}

#[test]
fn relu_mlp_with_l2_passes_the_textbook_check() {
    let model = mlp("relu", false, 2);
    let report = gradcheck_params(
        "relu mlp",
        loss(&model, Mode::Train),
        &params(&model),
        ModelCheck::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.relative_difference < 1e-7,
        "{}",
        report.relative_difference
    );
}

#[test]
fn forgetting_the_l2_gradient_is_caught_and_the_parameter_named() {
    // A "model" whose loss includes L2 on the value but not in the graph: the check must fail on a weight.
    let model = mlp("tanh", false, 3);
    let (x, y) = data();
    let weights: Vec<Tensor<f64>> = params(&model).iter().map(|p| p.value()).collect();
    let detached_l2 = |tape: &Tape<f64>| {
        let logits = model.forward(&tape.input(x.clone()), Mode::Train);
        let current: f64 = model
            .parameters()
            .iter()
            .filter(|(n, _)| n.ends_with("weight"))
            .map(|(_, p)| p.value().square().sum_all().item())
            .sum();
        logits.cross_entropy(&y).add_scalar(LAMBDA / 8.0 * current)
    };
    let err = gradcheck_params(
        "bad l2",
        detached_l2,
        &params(&model),
        ModelCheck::default(),
    )
    .unwrap_err();
    let GradcheckError::Mismatch { ref worst, .. } = err else {
        panic!("{err}")
    };
    assert!(worst.input.ends_with("weight"), "{err}");
    // The check restores every parameter it perturbed.
    for (p, w) in params(&model).iter().zip(weights) {
        assert_eq!(p.value().to_vec(), w.to_vec());
    }
}

#[test]
fn active_dropout_is_refused_and_replayed_masks_check_exactly() {
    let model = mlp("tanh", true, 4);
    let err = gradcheck_params(
        "dropout mlp",
        loss(&model, Mode::Train),
        &params(&model),
        ModelCheck::default(),
    )
    .unwrap_err();
    assert!(matches!(err, GradcheckError::Refused { .. }), "{err}");
    let replay = ModelCheck {
        masks: Masks::Replay { seed: 11 },
        ..ModelCheck::default()
    };
    gradcheck_params(
        "dropout mlp",
        loss(&model, Mode::Train),
        &params(&model),
        replay,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // In eval mode dropout is the identity, so the ordinary check applies.
    gradcheck_params(
        "dropout mlp, eval",
        loss(&model, Mode::Eval),
        &params(&model),
        ModelCheck::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn batchnorm_model_passes_the_check_in_training_mode() {
    let mut rng = StdRng::seed_from_u64(5);
    let model = Sequential::new()
        .push(Linear::new(5, 6, Init::Xavier, &mut rng))
        .push(BatchNorm1d::new(6))
        .push(Tanh)
        .push(Linear::new(6, 3, Init::Xavier, &mut rng));
    let report = gradcheck_params(
        "batchnorm mlp",
        loss(&model, Mode::Train),
        &params(&model),
        ModelCheck::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.relative_difference < 1e-7);
}

/// Given a module's `parameters()`, a failing check names the parameter by its dotted path (the
/// second Linear's weight is `2.weight`), not by the layer-local `weight` every Linear shares.
#[test]
fn a_failing_check_names_the_parameter_by_its_dotted_path() {
    let model = mlp("tanh", false, 6);
    let (x, y) = data();
    let named = model.parameters();
    assert_eq!(named[2].0, "2.weight");
    // A penalty on the second Linear's weight read as a constant: its gradient goes missing.
    let second = named[2].1.clone();
    let detached = |tape: &Tape<f64>| {
        let logits = model.forward(&tape.input(x.clone()), Mode::Train);
        let penalty = second.value().square().sum_all().item();
        logits.cross_entropy(&y).add_scalar(penalty)
    };
    let err = gradcheck_params("named", detached, &named, ModelCheck::default()).unwrap_err();
    let GradcheckError::Mismatch { ref worst, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(worst.input, "2.weight", "{err}");
    assert!(err.to_string().contains("input 2.weight element"), "{err}");
}

/// A small convolutional model (conv → tanh → strided grouped conv → flatten → linear), checked
/// parameter by parameter through its cross-entropy loss.
#[test]
fn a_conv_net_passes_the_textbook_check() {
    use tapegrad_nn::{Conv1d, Conv2d, Flatten};
    use tapegrad_tensor::conv::Conv2dOptions;
    let rng = &mut StdRng::seed_from_u64(8);
    let model = Sequential::new()
        .push(Conv2d::new(2, 4, 3, Init::Xavier, rng).padding(1))
        .push(Tanh)
        .push(Conv2d::with_options(
            4,
            4,
            (2, 3),
            Conv2dOptions::default()
                .stride(2)
                .groups(2)
                .dilation((1, 2)),
            Init::Xavier,
            rng,
        ))
        .push(Flatten::new())
        .push(Linear::new(4 * 3 * 2, 3, Init::Xavier, rng));
    let x = Tensor::rand_normal(&[2, 2, 6, 7], rng);
    let report = gradcheck_params(
        "conv net",
        |tape| {
            model
                .forward(&tape.input(x.clone()), Mode::Train)
                .cross_entropy(&[2, 0])
        },
        &params(&model),
        ModelCheck::default(),
    )
    .unwrap();
    assert!(report.ops.contains(&"conv2d"), "{:?}", report.ops);

    let conv1 = Conv1d::new(3, 2, 3, Init::Xavier, rng)
        .padding(1)
        .dilation(2);
    let x = Tensor::rand_normal(&[2, 3, 7], rng);
    gradcheck_params(
        "conv1d",
        |tape| {
            conv1
                .forward(&tape.input(x.clone()), Mode::Train)
                .tanh()
                .sum_all()
        },
        &params(&conv1),
        ModelCheck::default(),
    )
    .unwrap();
}
