//! Saving and loading optimizer state: bit-identical continuation, and clear errors for files
//! that do not fit.

use std::path::PathBuf;
use tapegrad_autograd::{Param, Tape};
use tapegrad_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, FileError, GroupConfig, Momentum, OptimError, Optimizer,
    RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad_tensor::Tensor;
use tapegrad_tensor::testing::{assert_walk_passes, caught};

fn temp_path(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-optim-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{tag}.safetensors"))
}

/// A weight, a bias and a parameter that never gets a gradient (so it has no state).
fn model(w: Vec<f64>, b: Vec<f64>) -> Vec<(String, Param<f64>)> {
    vec![
        (
            "layer.weight".into(),
            Param::new("w", Tensor::from_vec(w, &[2, 3])),
        ),
        (
            "layer.bias".into(),
            Param::new("b", Tensor::from_vec(b, &[3])),
        ),
        (
            "unused".into(),
            Param::new("u", Tensor::from_vec(vec![7.0], &[1])),
        ),
    ]
}

fn fresh_model() -> Vec<(String, Param<f64>)> {
    model(vec![0.3, -1.2, 2.0, 0.7, -0.4, 1.1], vec![0.1, -0.2, 0.05])
}

/// One step on a state-dependent loss: Σ ((x·W + b) − t)² + Σ W⁴ / 10 for a fixed x, t.
fn train_step(params: &[(String, Param<f64>)], opt: &mut dyn Optimizer<f64>) {
    let grads = {
        let tape = Tape::new();
        let x = tape.input(Tensor::from_vec(vec![1.0, -0.5, 0.25, 2.0], &[2, 2]));
        let t = tape.input(Tensor::from_vec(
            vec![0.5, 0.0, -1.0, 1.0, 2.0, 0.0],
            &[2, 3],
        ));
        let w = tape.param(&params[0].1);
        let b = tape.param(&params[1].1);
        let y = x.matmul(&w) + b;
        ((y - t).square().sum_all() + w.square().square().sum_all().mul_scalar(0.1)).backward()
    };
    opt.step(&grads);
}

fn bits(params: &[(String, Param<f64>)]) -> Vec<u64> {
    params
        .iter()
        .flat_map(|(_, p)| p.value().to_vec())
        .map(f64::to_bits)
        .collect()
}

/// Trains 5 steps, saves, trains 5 more; then rebuilds params and optimizer from the saved point,
/// loads, trains 5, and compares every bit.
fn resumes_bit_identically<O: Optimizer<f64>>(
    tag: &str,
    make: impl Fn(&[(String, Param<f64>)]) -> O,
) {
    let path = temp_path(tag);
    let params = fresh_model();
    let mut opt = make(&params);
    for _ in 0..5 {
        train_step(&params, &mut opt);
    }
    opt.set_lr(opt.lr() * 0.5); // a schedule's change must be restored too
    opt.save_state(&path).unwrap();
    let saved_w = params[0].1.value().to_vec();
    let saved_b = params[1].1.value().to_vec();
    for _ in 0..5 {
        train_step(&params, &mut opt);
    }

    let resumed = model(saved_w, saved_b);
    let mut opt2 = make(&resumed);
    opt2.load_state(&path).unwrap();
    assert_eq!(opt2.step_count(), 5);
    assert_eq!(opt2.lr().to_bits(), (opt.lr()).to_bits());
    for _ in 0..5 {
        train_step(&resumed, &mut opt2);
    }
    assert_eq!(bits(&params), bits(&resumed), "{tag}: continuation differs");
    assert_eq!(opt.step_count(), opt2.step_count());
    // The resumed optimizer's state equals the original's, buffer by buffer.
    let (a, b) = (opt.state_dict(), opt2.state_dict());
    assert_eq!(a.metadata, b.metadata);
    assert_eq!(
        a.tensors.keys().collect::<Vec<_>>(),
        b.tensors.keys().collect::<Vec<_>>()
    );
    for (key, t) in &a.tensors {
        let u = &b.tensors[key];
        assert!(
            t.to_vec()
                .iter()
                .zip(u.to_vec())
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            "{key}"
        );
    }
    std::fs::remove_file(path).unwrap();
}

#[test]
fn every_optimizer_resumes_bit_identically() {
    resumes_bit_identically("adam", |p| {
        Adam::new(
            p,
            AdamConfig {
                lr: 0.05,
                amsgrad: true,
                weight_decay: 0.01,
                ..Default::default()
            },
        )
    });
    resumes_bit_identically("adamw", |p| {
        AdamW::new(
            p,
            AdamWConfig {
                lr: 0.05,
                ..Default::default()
            },
        )
    });
    resumes_bit_identically("sgd", |p| {
        let mut opt = Sgd::new(
            &p[..1],
            SgdConfig {
                lr: 0.01,
                momentum: Momentum::classic(0.9),
                nesterov: true,
                ..Default::default()
            },
        );
        opt.add_group(
            &p[1..].to_vec(),
            GroupConfig {
                lr: Some(0.02),
                weight_decay: Some(0.1),
            },
        );
        opt
    });
    resumes_bit_identically("rmsprop", |p| {
        RmsProp::new(
            p,
            RmsPropConfig {
                lr: 0.01,
                momentum: 0.5,
                centered: true,
                ..Default::default()
            },
        )
    });
}

#[test]
fn state_keys_are_parameter_names() {
    let params = fresh_model();
    let mut opt = Adam::new(&params, AdamConfig::default());
    train_step(&params, &mut opt);
    let state = opt.state_dict();
    let keys: Vec<&str> = state.tensors.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "layer.bias/exp_avg",
            "layer.bias/exp_avg_sq",
            "layer.weight/exp_avg",
            "layer.weight/exp_avg_sq"
        ]
    );
    assert_eq!(state.metadata["step"], "1");
    assert_eq!(state.metadata["step.layer.weight"], "1");
    assert_eq!(state.metadata["step.unused"], "0");
    assert_eq!(state.metadata["hyper.beta2"], "0.999");
    assert_eq!(state.metadata["optimizer"], "adam");
}

fn mismatch_of(err: OptimError) -> (Vec<String>, Vec<String>, Vec<String>) {
    match err {
        OptimError::Mismatch {
            missing,
            unexpected,
            mismatched,
            ..
        } => (missing, unexpected, mismatched),
        other => panic!("expected a mismatch, got {other}"),
    }
}

#[test]
fn state_that_does_not_fit_is_an_error_and_changes_nothing() {
    let path = temp_path("mismatch");
    let params = fresh_model();
    let mut opt = Adam::new(&params, AdamConfig::default());
    train_step(&params, &mut opt);
    opt.save_state(&path).unwrap();

    // Other names.
    let renamed: Vec<_> = fresh_model()
        .into_iter()
        .map(|(n, p)| (format!("net.{n}"), p))
        .collect();
    let mut other = Adam::new(&renamed, AdamConfig::default());
    let err = other.load_state(&path).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("mismatch.safetensors"), "{message}");
    let (missing, unexpected, _) = mismatch_of(err);
    assert!(
        missing.contains(&"step.net.layer.weight".to_string()),
        "{missing:?}"
    );
    assert!(
        unexpected.contains(&"layer.weight/exp_avg".to_string()),
        "{unexpected:?}"
    );
    assert_eq!(other.step_count(), 0, "a failed load changed the optimizer");

    // Other shapes.
    let reshaped = vec![
        (
            "layer.weight".to_string(),
            Param::new("w", Tensor::<f64>::zeros(&[3, 2])),
        ),
        (
            "layer.bias".to_string(),
            Param::new("b", Tensor::zeros(&[3])),
        ),
        ("unused".to_string(), Param::new("u", Tensor::zeros(&[1]))),
    ];
    let (_, _, mismatched) = mismatch_of(
        Adam::new(&reshaped, AdamConfig::default())
            .load_state(&path)
            .unwrap_err(),
    );
    assert!(
        mismatched
            .iter()
            .any(|m| m.contains("layer.weight/exp_avg") && m.contains("[3, 2]")),
        "{mismatched:?}"
    );

    // Other hyperparameters, other kind of optimizer.
    let (_, _, mismatched) = mismatch_of(
        Adam::new(
            &fresh_model(),
            AdamConfig {
                beta2: 0.99,
                ..Default::default()
            },
        )
        .load_state(&path)
        .unwrap_err(),
    );
    assert!(
        mismatched.iter().any(|m| m.contains("hyper.beta2")),
        "{mismatched:?}"
    );
    let err = Sgd::new(&fresh_model(), SgdConfig::default())
        .load_state(&path)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("optimizer: optimizer sgd, state adam"),
        "{err}"
    );

    // Truncated and missing files name the path.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = opt.load_state(&path).unwrap_err();
    assert!(
        matches!(err, OptimError::File(FileError::Corrupt { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("mismatch.safetensors"), "{err}");
    std::fs::remove_file(&path).unwrap();
    let err = opt.load_state(&path).unwrap_err();
    assert!(
        matches!(err, OptimError::File(FileError::Io { .. }))
            && err.to_string().contains("mismatch.safetensors"),
        "{err}"
    );
}

#[test]
fn f32_state_round_trips_exactly() {
    let path = temp_path("f32");
    let w = Param::new("w", Tensor::from_vec(vec![1.0f32, -2.0, 0.5], &[3]));
    let mut opt = Adam::new(
        &w,
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    );
    let step = |opt: &mut Adam<f32>, w: &Param<f32>| {
        let grads = {
            let tape = Tape::new();
            tape.param(w).square().square().sum_all().backward()
        };
        opt.step(&grads);
    };
    for _ in 0..3 {
        step(&mut opt, &w);
    }
    opt.save_state(&path).unwrap();
    let w2 = Param::new("w", w.value().contiguous());
    let mut opt2 = Adam::new(
        &w2,
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    );
    opt2.load_state(&path).unwrap();
    for _ in 0..3 {
        step(&mut opt, &w);
        step(&mut opt2, &w2);
    }
    let bits = |p: &Param<f32>| {
        p.value()
            .to_vec()
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&w), bits(&w2));
    // An f64 optimizer refuses the f32 file.
    let w64 = Param::new("w", Tensor::<f64>::zeros(&[3]));
    let err = Adam::new(&w64, AdamConfig::default())
        .load_state(&path)
        .unwrap_err();
    assert!(err.to_string().contains("dtype"), "{err}");
    std::fs::remove_file(path).unwrap();
}

/// Builds an optimizer over `params` with learning rate `lr`.
type Make = fn(&[(String, Param<f64>)], f64) -> Result<Box<dyn Optimizer<f64>>, OptimError>;

fn boxed<O: Optimizer<f64> + 'static>(
    made: Result<O, OptimError>,
) -> Result<Box<dyn Optimizer<f64>>, OptimError> {
    made.map(|o| Box::new(o) as Box<dyn Optimizer<f64>>)
}

/// Every optimizer, in every setting that gives it another set of state buffers or another rule.
fn every_optimizer() -> Vec<(&'static str, Make)> {
    fn sgd(lr: f64, momentum: Momentum, nesterov: bool) -> SgdConfig {
        SgdConfig {
            lr,
            momentum,
            nesterov,
            ..Default::default()
        }
    }
    fn rms(lr: f64, momentum: f64, centered: bool) -> RmsPropConfig {
        RmsPropConfig {
            lr,
            momentum,
            centered,
            ..Default::default()
        }
    }
    fn adam(lr: f64, amsgrad: bool) -> AdamConfig {
        AdamConfig {
            lr,
            amsgrad,
            ..Default::default()
        }
    }
    fn adamw(lr: f64, amsgrad: bool) -> AdamWConfig {
        AdamWConfig {
            lr,
            amsgrad,
            ..Default::default()
        }
    }
    const DAMPENED: Momentum = Momentum::Classic {
        momentum: 0.9,
        dampening: 0.5,
    };
    vec![
        ("sgd", |p, lr| {
            boxed(Sgd::try_new(p, sgd(lr, Momentum::None, false)))
        }),
        ("sgd ewma", |p, lr| {
            boxed(Sgd::try_new(p, sgd(lr, Momentum::ewma(), false)))
        }),
        ("sgd ewma nesterov", |p, lr| {
            boxed(Sgd::try_new(p, sgd(lr, Momentum::ewma(), true)))
        }),
        ("sgd classic", |p, lr| {
            boxed(Sgd::try_new(p, sgd(lr, Momentum::classic(0.9), false)))
        }),
        ("sgd classic dampened", |p, lr| {
            boxed(Sgd::try_new(p, sgd(lr, DAMPENED, false)))
        }),
        ("sgd nesterov", |p, lr| {
            boxed(Sgd::try_new(p, sgd(lr, Momentum::classic(0.9), true)))
        }),
        ("rmsprop", |p, lr| {
            boxed(RmsProp::try_new(p, rms(lr, 0.0, false)))
        }),
        ("rmsprop centered", |p, lr| {
            boxed(RmsProp::try_new(p, rms(lr, 0.0, true)))
        }),
        ("rmsprop momentum", |p, lr| {
            boxed(RmsProp::try_new(p, rms(lr, 0.9, false)))
        }),
        ("rmsprop centered momentum", |p, lr| {
            boxed(RmsProp::try_new(p, rms(lr, 0.9, true)))
        }),
        ("adam", |p, lr| boxed(Adam::try_new(p, adam(lr, false)))),
        ("amsgrad", |p, lr| boxed(Adam::try_new(p, adam(lr, true)))),
        ("adamw", |p, lr| boxed(AdamW::try_new(p, adamw(lr, false)))),
        ("adamw amsgrad", |p, lr| {
            boxed(AdamW::try_new(p, adamw(lr, true)))
        }),
    ]
}

/// A weight `w` of shape [4] and a bias `b` of shape [2].
fn two_params() -> Vec<(String, Param<f64>)> {
    let w = Tensor::from_vec(vec![0.5, -1.0, 1.5, -2.0], &[4]);
    let b = Tensor::from_vec(vec![0.25, -0.75], &[2]);
    vec![
        ("w".into(), Param::new("w", w)),
        ("b".into(), Param::new("b", b)),
    ]
}

/// Gradients of `Σ p²` over every parameter, whatever their shapes.
fn square_grads(params: &[(String, Param<f64>)]) -> tapegrad_autograd::Grads<f64> {
    let tape = Tape::new();
    let mut loss = tape.param(&params[0].1).square().sum_all();
    for (_, p) in &params[1..] {
        loss = loss + tape.param(p).square().sum_all();
    }
    loss.backward()
}

/// `try_step`'s outcome, `Err` holding the message of a panic, which it must never raise.
fn attempt(
    opt: &mut dyn Optimizer<f64>,
    grads: &tapegrad_autograd::Grads<f64>,
) -> Result<Result<(), String>, String> {
    caught(|| opt.try_step(grads).map_err(|e| e.to_string()))
}

/// `try_set_lr`'s outcome, `Err` holding the message of a panic.
fn attempt_lr(opt: &mut dyn Optimizer<f64>, lr: f64) -> Result<Result<(), String>, String> {
    caught(|| opt.try_set_lr(lr).map_err(|e| e.to_string()))
}

/// Everything a failed call must leave alone: parameter bits, step count, lr and the state dict
/// (`None` if making it panicked).
type Snapshot = (
    Vec<Vec<u64>>,
    u64,
    u64,
    Option<(Vec<(String, Vec<u64>)>, Vec<(String, String)>)>,
);

fn snapshot(params: &[(String, Param<f64>)], opt: &dyn Optimizer<f64>) -> Snapshot {
    let values = params
        .iter()
        .map(|(_, p)| p.value().to_vec().iter().map(|x| x.to_bits()).collect())
        .collect();
    let state = caught(|| opt.state_dict()).ok().map(|s| {
        let tensors = s
            .tensors
            .iter()
            .map(|(k, t)| (k.clone(), t.to_vec().iter().map(|x| x.to_bits()).collect()))
            .collect();
        (tensors, s.metadata.into_iter().collect())
    });
    (values, opt.step_count(), opt.lr().to_bits(), state)
}

/// Checks a call that must fail: the try_ form returned an error naming every piece of `names`
/// (it did not panic or succeed), nothing changed, and the short form panics with the message.
fn expect_refusal(
    failures: &mut Vec<String>,
    label: &str,
    names: &[String],
    tried: Result<Result<(), String>, String>,
    before: &Snapshot,
    after: Snapshot,
    short: impl FnOnce() -> Result<(), String>,
) {
    let msg = match tried {
        Ok(Err(msg)) => msg,
        Ok(Ok(())) => return failures.push(format!("{label}: accepted")),
        Err(panic) => return failures.push(format!("{label}: the try_ form panicked: {panic}")),
    };
    let mut problems = Vec::new();
    if let Some(absent) = names.iter().find(|n| !msg.contains(n.as_str())) {
        problems.push(format!("the error does not name {absent}: {msg}"));
    }
    if before.3.is_some() && after.3.is_none() {
        problems.push("state_dict panics after the refusal".to_string());
    }
    if &after != before {
        problems.push("the refused call changed the optimizer or the parameters".to_string());
    }
    match short() {
        Err(panic) if panic == msg => {}
        other => problems.push(format!(
            "the short form gave {other:?}, not a panic with {msg:?}"
        )),
    }
    if !problems.is_empty() {
        failures.push(format!("{label}: {}", problems.join("; ")));
    }
}

/// What changes, the parameter's new shape, the gradient's shape, and whether a step runs before.
type Scenario = (
    &'static str,
    Option<&'static [usize]>,
    Option<&'static [usize]>,
    bool,
);

/// A parameter that changed shape after its state was made, and a gradient whose shape is not
/// its parameter's, under every optimizer: an error naming the parameter and both shapes, with
/// nothing updated. Plain SGD keeps no state, so a reshaped parameter simply steps.
#[test]
fn shape_changes_under_every_optimizer_are_errors_naming_the_parameter() {
    let mut failures = Vec::new();
    let mut cases = 0;
    let scenarios: [Scenario; 7] = [
        ("grown parameter", Some(&[8]), None, true),
        ("shrunk parameter", Some(&[2]), None, true),
        ("reshaped parameter", Some(&[2, 2]), None, true),
        ("gradient of another shape", None, Some(&[2, 2]), true),
        ("longer gradient", None, Some(&[8]), true),
        ("shorter gradient", None, Some(&[3]), true),
        ("first gradient too short", None, Some(&[3]), false),
    ];
    for (kind, make) in every_optimizer() {
        for (what, new_shape, grad_shape, warm) in scenarios {
            cases += 1;
            let label = format!("{kind}, {what}");
            let params = two_params();
            let mut opt = make(&params, 0.1).unwrap();
            if warm {
                opt.step(&square_grads(&params));
            }
            let state_before = snapshot(&params, opt.as_ref()).3;
            if let Some(shape) = new_shape {
                let n: usize = shape.iter().product();
                params[0].1.set_value(Tensor::full(shape, 0.5));
                assert_eq!(params[0].1.numel(), n);
            }
            let mut grads = square_grads(&params);
            if let Some(shape) = grad_shape {
                *grads.get_mut(params[0].1.id()).unwrap() = Tensor::ones(shape);
            }
            let mut before = snapshot(&params, opt.as_ref());
            before.3 = state_before;
            let tried = attempt(opt.as_mut(), &grads);
            if kind == "sgd" && grad_shape.is_none() {
                // Nothing stale: the reshaped parameter takes a plain step, θ − 0.1·2θ.
                let stepped = params[0].1.value().to_vec();
                let fine = tried == Ok(Ok(())) && stepped.iter().all(|&x| x == 0.4);
                if !fine || caught(|| opt.state_dict()).is_err() {
                    failures.push(format!(
                        "{label}: want a plain step, got {tried:?}, {stepped:?}"
                    ));
                }
                continue;
            }
            let (was, now) = match (new_shape, grad_shape) {
                (Some(shape), _) => (vec![4], shape.to_vec()),
                (None, Some(shape)) => (vec![4], shape.to_vec()),
                (None, None) => unreachable!(),
            };
            let names = ["\"w\"".to_string(), format!("{was:?}"), format!("{now:?}")];
            let after = snapshot(&params, opt.as_ref());
            let short = || caught(|| opt.step(&grads));
            expect_refusal(&mut failures, &label, &names, tried, &before, after, short);
        }
    }
    assert_eq!(cases, 98);
    assert_walk_passes(cases, &failures);
}

/// NaN, infinite and negative learning rates, and step counts at `u64::MAX`, under every
/// optimizer: refused by construction, by `try_set_lr` and by loading (in memory and from a
/// file), with nothing changed; a step count at its maximum makes the next step an error.
#[test]
fn bad_learning_rates_and_step_counts_are_refused_everywhere() {
    let mut failures = Vec::new();
    let mut cases = 0;
    let path = temp_path("bad-lr");
    for (kind, make) in every_optimizer() {
        let params = two_params();
        let mut trained = make(&params, 0.1).unwrap();
        trained.step(&square_grads(&params));
        trained.step(&square_grads(&params));
        let good_state = trained.state_dict();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.1] {
            let names = ["lr".to_string(), format!("{bad}")];
            cases += 1;
            match make(&two_params(), bad) {
                Err(e) if names.iter().all(|n| e.to_string().contains(n.as_str())) => {}
                Err(e) => failures.push(format!(
                    "{kind}: try_new({bad}) error {e} does not name {names:?}"
                )),
                Ok(_) => failures.push(format!("{kind}: try_new({bad}) accepted")),
            }

            cases += 1;
            let params = two_params();
            let mut opt = make(&params, 0.1).unwrap();
            opt.step(&square_grads(&params));
            let before = snapshot(&params, opt.as_ref());
            let tried = attempt_lr(opt.as_mut(), bad);
            let after = snapshot(&params, opt.as_ref());
            let label = format!("{kind}: set_lr({bad})");
            expect_refusal(&mut failures, &label, &names, tried, &before, after, || {
                caught(|| opt.set_lr(bad))
            });

            for key in ["lr", "initial_lr"] {
                cases += 1;
                let mut state = good_state.clone();
                state.metadata.insert(key.into(), format!("{bad:?}"));
                let params = two_params();
                let mut opt = make(&params, 0.1).unwrap();
                let before = snapshot(&params, opt.as_ref());
                let tried = caught(|| opt.load_state_dict(&state).map_err(|e| e.to_string()));
                let after = snapshot(&params, opt.as_ref());
                let label = format!("{kind}: a state with {key} {bad:?}");
                let names = [key.to_string(), format!("{bad:?}")];
                expect_refusal(&mut failures, &label, &names, tried, &before, after, || {
                    // Loading has no short form; a second try must fail alike.
                    match opt.load_state_dict(&state) {
                        Err(e) => Err(e.to_string()),
                        Ok(()) => Ok(()),
                    }
                });
            }
        }

        cases += 1;
        let mut state = good_state.clone();
        state.metadata.insert("lr".into(), "-0.5".into());
        tapegrad_optim::save_state_dict_file(&path, &state).unwrap();
        let params = two_params();
        let mut opt = make(&params, 0.1).unwrap();
        let from_file = tapegrad_optim::load_state_dict_file(&path).unwrap();
        match opt.load_state_dict(&from_file) {
            Err(e) if e.to_string().contains("-0.5") && opt.lr() == 0.1 => {}
            other => failures.push(format!(
                "{kind}: a state file with lr -0.5 gave {other:?}, lr now {}",
                opt.lr()
            )),
        }

        cases += 1;
        let mut state = good_state.clone();
        state.metadata.insert("step".into(), "1".into());
        state.metadata.insert("step.w".into(), "5".into());
        let params = two_params();
        let mut opt = make(&params, 0.1).unwrap();
        match opt.load_state_dict(&state) {
            Err(e) if e.to_string().contains("step.w") => {}
            other => failures.push(format!(
                "{kind}: a parameter counting more steps than its optimizer gave {other:?}"
            )),
        }

        cases += 1;
        let mut state = good_state.clone();
        for key in ["step", "step.w", "step.b"] {
            state.metadata.insert(key.into(), u64::MAX.to_string());
        }
        let params = two_params();
        let mut opt = make(&params, 0.1).unwrap();
        let label = format!("{kind}: a step after step {}", u64::MAX);
        match caught(|| opt.load_state_dict(&state).map_err(|e| e.to_string())) {
            Ok(Ok(())) => {
                let grads = square_grads(&params);
                let before = snapshot(&params, opt.as_ref());
                let tried = attempt(opt.as_mut(), &grads);
                let after = snapshot(&params, opt.as_ref());
                let names = ["step".to_string(), u64::MAX.to_string()];
                expect_refusal(&mut failures, &label, &names, tried, &before, after, || {
                    caught(|| opt.step(&grads))
                });
            }
            other => failures.push(format!("{label}: loading the count gave {other:?}")),
        }
        let finite = params
            .iter()
            .all(|(_, p)| p.value().to_vec().iter().all(|x| x.is_finite()));
        if !finite {
            failures.push(format!("{label}: non-finite weights"));
        }
    }
    // `load_state` (which a boxed optimizer cannot call) refuses the value and names the file.
    cases += 1;
    let params = two_params();
    let mut adam = Adam::new(&params, AdamConfig::default());
    adam.step(&square_grads(&params));
    let mut state = adam.state_dict();
    state.metadata.insert("lr".into(), "-0.5".into());
    tapegrad_optim::save_state_dict_file(&path, &state).unwrap();
    let mut opt = Adam::new(&params, AdamConfig::default());
    match opt.load_state(&path) {
        Err(e)
            if e.to_string().contains("bad-lr.safetensors") && e.to_string().contains("-0.5") => {}
        other => failures.push(format!("Adam::load_state of lr -0.5 gave {other:?}")),
    }
    let _ = std::fs::remove_file(&path);
    assert_eq!(cases, 14 * 19 + 1);
    assert_walk_passes(cases, &failures);
}

#[test]
fn a_flipped_bit_or_a_truncation_of_a_state_file_is_an_error_or_changes_nothing() {
    use tapegrad_tensor::testing::FileDamage;
    let path = temp_path("bitflip");
    let params = fresh_model();
    let mut opt = Adam::new(&params, AdamConfig::default());
    for _ in 0..2 {
        train_step(&params, &mut opt);
    }
    opt.save_state(&path).unwrap();
    let want = opt.state_dict();
    let good = std::fs::read(&path).unwrap();
    // Every bit of the length prefix and the header; one bit of every data byte; every truncation.
    let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let cases = FileDamage::all(&good);
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();

    let (mut errors, mut identical) = (0, 0);
    for &case in &cases {
        case.apply(&mut file, &good);
        match tapegrad_optim::load_state_dict_file::<f64>(&path) {
            Err(err) => {
                assert!(
                    err.to_string().contains("bitflip.safetensors"),
                    "{case:?}: {err}"
                );
                errors += 1;
            }
            Ok(state) => {
                assert_eq!(
                    state.metadata, want.metadata,
                    "{case:?}: different metadata"
                );
                assert_eq!(
                    state.tensors.keys().collect::<Vec<_>>(),
                    want.tensors.keys().collect::<Vec<_>>(),
                    "{case:?}: different names"
                );
                for (name, t) in &want.tensors {
                    let same = t.shape() == state.tensors[name].shape()
                        && t.to_vec()
                            .iter()
                            .zip(state.tensors[name].to_vec())
                            .all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{case:?}: tensor {name} loaded with different values");
                }
                identical += 1;
            }
        }
        case.undo(&mut file, &good);
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        good,
        "the damage was not undone"
    );
    eprintln!(
        "{} cases ({header_end} header bytes x 8 bits, {} data bytes, {} truncations): \
         {errors} errors, {identical} identical loads",
        cases.len(),
        good.len() - header_end,
        good.len()
    );
    assert!(cases.len() > 1000);
    std::fs::remove_file(path).unwrap();
}
