//! The textbook model-level gradient check (flattened θ = W1, b1, …, WL, bL) on 3-layer MLPs, with
//! L2 regularisation on, in f64; and dropout refused unless its masks are replayed.

use rand::{SeedableRng, rngs::StdRng};
use tapegrad_autograd::{
    Check, GradcheckError, Masks, ModelCheck, Param, Tape, gradcheck, gradcheck_params,
};
use tapegrad_nn::{
    BatchNorm1d, BatchNorm2d, Dropout, Embedding, Forward, Init, LayerNorm, Linear, Mode, Module,
    Relu, Sequential, Tanh, l2_penalty,
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

/// A loss that weighs every output element differently (a plain sum of a normalised output has
/// a zero gradient), so every parameter and input element matters.
fn weighted(y: &tapegrad_autograd::Var<f64>, seed: u64) -> tapegrad_autograd::Var<f64> {
    let r = Tensor::rand_normal(y.shape(), &mut StdRng::seed_from_u64(seed));
    y.mul(&y.tape().input(r))
        .sum_all()
        .add(&y.square().mean_all())
}

/// γ and β of a normalisation layer set away from (1, 0), so their gradients are not special.
fn perturb(layer: &dyn Module<f64>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for (_, p) in layer.parameters() {
        let shape = p.shape();
        p.set_value(Tensor::rand_normal_with(&shape, 1.0, 0.5, &mut rng));
    }
}

#[test]
fn batchnorm2d_passes_the_check_in_training_and_eval_mode() {
    let bn = BatchNorm2d::<f64>::new(3);
    perturb(&bn, 1);
    let x = Tensor::rand_normal_with(&[2, 3, 2, 3], 1.0, 2.0, &mut StdRng::seed_from_u64(2));
    // The input's gradient, through the batch statistics; the input as a permuted view too.
    for input in [
        x.clone(),
        x.permute(&[0, 1, 3, 2]).contiguous().permute(&[0, 1, 3, 2]),
    ] {
        gradcheck(
            "batchnorm2d input",
            |v| weighted(&bn.forward(&v[0], Mode::Train), 3),
            &[input],
            Check::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    for mode in [Mode::Train, Mode::Eval] {
        let loss = |tape: &Tape<f64>| weighted(&bn.forward(&tape.input(x.clone()), mode), 4);
        let report = gradcheck_params("batchnorm2d", loss, &bn.parameters(), ModelCheck::default())
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert!(report.relative_difference < 1e-7);
    }
}

#[test]
fn layernorm_passes_the_check_for_input_and_parameters() {
    let x = Tensor::rand_normal_with(&[2, 3, 4], 0.5, 2.0, &mut StdRng::seed_from_u64(5));
    for normalized in [&[4][..], &[3, 4]] {
        let ln = LayerNorm::<f64>::new(normalized);
        perturb(&ln, 6);
        gradcheck(
            "layernorm input",
            |v| weighted(&ln.forward(&v[0], Mode::Train), 7),
            &[x.clone(), x.transpose(0, 1).contiguous().transpose(0, 1)],
            Check::default(),
        )
        .unwrap_or_else(|e| panic!("{normalized:?}: {e}"));
        let loss = |tape: &Tape<f64>| weighted(&ln.forward(&tape.input(x.clone()), Mode::Eval), 8);
        let report = gradcheck_params("layernorm", loss, &ln.parameters(), ModelCheck::default())
            .unwrap_or_else(|e| panic!("{normalized:?}: {e}"));
        assert!(report.relative_difference < 1e-7);
    }
}

/// The weight's gradient is an index-add: ids 4 and 1 are looked up more than once. (A padding
/// row is left out on purpose: it is looked up but gets no gradient, as in PyTorch, so a
/// finite difference disagrees there by design; layers.rs checks its zero gradient.)
#[test]
fn embedding_passes_the_check_with_repeated_ids() {
    let table = Embedding::<f64>::new(5, 3, &mut StdRng::seed_from_u64(9));
    let ids = [4, 1, 4, 0, 1, 4];
    let loss = |tape: &Tape<f64>| weighted(&table.lookup(tape, &ids, &[2, 3]).tanh(), 10);
    let report = gradcheck_params(
        "embedding",
        loss,
        &table.parameters(),
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
