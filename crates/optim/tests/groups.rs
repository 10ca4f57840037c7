//! Parameter groups, skipped parameters, learning-rate changes and constructor errors.

use tapegrad_autograd::{Grads, Param, Tape};
use tapegrad_optim::{
    Adam, AdamConfig, GroupConfig, NamedParams, OptimError, Optimizer, Sgd, SgdConfig,
};
use tapegrad_tensor::Tensor;

fn scalar(name: &str, x: f64) -> Param<f64> {
    Param::new(name, Tensor::from_vec(vec![x], &[1]))
}

/// Gradient 1 for every parameter in `params`.
fn unit_grads(params: &[&Param<f64>]) -> Grads<f64> {
    let tape = Tape::new();
    let mut loss = tape.param(params[0]).sum_all();
    for p in &params[1..] {
        loss = loss + tape.param(p).sum_all();
    }
    loss.backward()
}

#[test]
fn groups_use_their_own_lr_and_weight_decay() {
    let (a, b) = (scalar("a", 1.0), scalar("b", 1.0));
    let mut opt = Sgd::new(
        &a,
        SgdConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..Default::default()
        },
    );
    opt.add_group(
        &b,
        GroupConfig {
            lr: Some(0.01),
            weight_decay: Some(0.0),
        },
    );
    assert_eq!(opt.num_groups(), 2);
    opt.step(&unit_grads(&[&a, &b]));
    // a: g = 1 + 0.5·1, θ = 1 − 0.1·1.5; b: θ = 1 − 0.01·1.
    assert!((a.value().item() - 0.85).abs() < 1e-15);
    assert!((b.value().item() - 0.99).abs() < 1e-15);

    // Halving the optimizer's lr halves every group's.
    opt.set_lr(0.05);
    assert_eq!(opt.lr(), 0.05);
    assert_eq!(opt.group_lr(0), 0.05);
    assert!((opt.group_lr(1) - 0.005).abs() < 1e-18);
    opt.step(&unit_grads(&[&a, &b]));
    assert!((a.value().item() - (0.85 - 0.05 * (1.0 + 0.5 * 0.85))).abs() < 1e-15);
    assert!((b.value().item() - 0.985).abs() < 1e-15);
}

#[test]
fn parameters_without_a_gradient_are_skipped() {
    let (a, b) = (scalar("a", 1.0), scalar("b", 1.0));
    let mut opt = Adam::new(
        &[a.clone(), b.clone()],
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    );
    opt.step(&unit_grads(&[&a]));
    opt.step(&unit_grads(&[&a]));
    assert_eq!(b.value().item(), 1.0);
    let state = opt.state_dict();
    assert_eq!(state.metadata["step.a"], "2");
    assert_eq!(state.metadata["step.b"], "0");
    assert!(!state.tensors.contains_key("b/exp_avg"));
    // b's first update is a first step: bias correction uses t = 1, so it moves by ≈ α.
    opt.step(&unit_grads(&[&a, &b]));
    assert!((b.value().item() - (1.0 - 0.1 / (1.0 + 1e-8))).abs() < 1e-15);
    assert_eq!(opt.step_count(), 3);
}

#[test]
fn parameters_are_accepted_in_every_usual_form() {
    let p = scalar("p", 0.0);
    let named: Vec<(String, Param<f64>)> = vec![("net.p".into(), p.clone())];
    let _ = Adam::new(&named, AdamConfig::default());
    let _ = Adam::new(named.as_slice(), AdamConfig::default());
    let _ = Adam::new(&vec![p.clone()], AdamConfig::default());
    let _ = Adam::new(&[p.clone(), scalar("q", 0.0)], AdamConfig::default());
    let _ = Adam::new(&p, AdamConfig::default());
    assert_eq!(named.named_params()[0].0, "net.p");
    let boxed: Box<dyn Optimizer<f64>> = Box::new(Sgd::new(&p, SgdConfig::default()));
    assert_eq!(boxed.num_groups(), 1);
}

#[test]
fn repeated_parameters_and_bad_configs_are_errors() {
    let p = scalar("p", 0.0);
    let err = Adam::try_new(&[p.clone(), p.clone()], AdamConfig::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("appears twice"), "{err}");
    let mut opt = Adam::new(&p, AdamConfig::default());
    let renamed = vec![("other".to_string(), p.clone())];
    let err = opt
        .try_add_group(&renamed, GroupConfig::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("already in the optimizer"),
        "{err}"
    );
    for config in [
        AdamConfig {
            beta1: 1.0,
            ..Default::default()
        },
        AdamConfig {
            eps: 0.0,
            ..Default::default()
        },
        AdamConfig {
            lr: -1.0,
            ..Default::default()
        },
    ] {
        assert!(matches!(
            Adam::try_new(&p, config),
            Err(OptimError::Config { .. })
        ));
    }
    let nesterov_without_momentum = SgdConfig {
        nesterov: true,
        ..Default::default()
    };
    assert!(Sgd::try_new(&p, nesterov_without_momentum).is_err());
}

#[test]
#[should_panic(expected = "the gradient of \"p\" has shape [2], but the parameter has shape [1]")]
fn a_gradient_of_the_wrong_size_panics() {
    let p = scalar("p", 0.0);
    let mut opt = Sgd::new(&p, SgdConfig::default());
    // The value changes shape between the backward pass and the step, so the two disagree.
    let grads = {
        let tape = Tape::new();
        p.set_value(Tensor::zeros(&[2]));
        tape.param(&p).sum_all().backward()
    };
    p.set_value(Tensor::zeros(&[1]));
    opt.step(&grads);
}

/// Issue 11: optimizers print their settings and what they hold, never their state tensors.
#[test]
fn an_optimizer_prints_its_settings() {
    let w = Param::new("w", Tensor::<f32>::ones(&[3]));
    let mut opt = Adam::new(&vec![w.clone()], AdamConfig::default());
    let tape = Tape::new();
    let grads = tape.param(&w).sum_all().backward();
    opt.step(&grads);
    let text = format!("{opt:?}");
    assert!(
        text.starts_with("Adam { config: AdamConfig { lr: 0.001,")
            && text.ends_with("lr: 0.001, groups: 1, params: 1, steps: 1 }"),
        "{text}"
    );
    assert_eq!(
        format!("{tape:?}").split(", nodes").next(),
        Some(format!("Tape {{ id: {}", tape_id(&tape)).as_str())
    );
    let shown = format!("{grads:?}");
    assert!(
        shown.contains("[3]") && shown.starts_with("Grads { params: ["),
        "{shown}"
    );
}

fn tape_id(tape: &Tape<f32>) -> String {
    let text = format!("{tape:?}");
    text.trim_start_matches("Tape { id: ")
        .split(',')
        .next()
        .unwrap()
        .to_string()
}
