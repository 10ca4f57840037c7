//! Saving and loading optimizer state: bit-identical continuation, and clear errors for files
//! that do not fit.

use std::path::PathBuf;
use tapegrad_autograd::{Param, Tape};
use tapegrad_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, FileError, GroupConfig, Momentum, OptimError, Optimizer,
    RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad_tensor::Tensor;

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

/// One damage done to a file in place: flip bit `.1` of byte `.0`, or cut the file to `.0` bytes.
#[derive(Debug, Clone, Copy)]
enum Damage {
    Flip(usize, u8),
    Truncate(usize),
}

impl Damage {
    /// Writes the damage into `file`, whose intact contents are `good`; `restore` undoes it.
    fn apply(self, file: &mut std::fs::File, good: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        match self {
            Damage::Flip(at, bit) => {
                file.seek(SeekFrom::Start(at as u64)).unwrap();
                file.write_all(&[good[at] ^ (1 << bit)]).unwrap();
            }
            Damage::Truncate(len) => file.set_len(len as u64).unwrap(),
        }
    }

    fn restore(self, file: &mut std::fs::File, good: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        let (at, intact) = match self {
            Damage::Flip(at, _) => (at, &good[at..at + 1]),
            Damage::Truncate(len) => (len, &good[len..]),
        };
        file.seek(SeekFrom::Start(at as u64)).unwrap();
        file.write_all(intact).unwrap();
    }
}

#[test]
fn a_flipped_bit_or_a_truncation_of_a_state_file_is_an_error_or_changes_nothing() {
    let path = temp_path("bitflip");
    let params = fresh_model();
    let mut opt = Adam::new(&params, AdamConfig::default());
    for _ in 0..2 {
        train_step(&params, &mut opt);
    }
    opt.save_state(&path).unwrap();
    let want = opt.state_dict();
    let good = std::fs::read(&path).unwrap();
    let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    // Every bit of the length prefix and the header; one bit of every data byte; every truncation.
    let cases: Vec<Damage> = (0..header_end)
        .flat_map(|at| (0..8).map(move |bit| Damage::Flip(at, bit)))
        .chain((header_end..good.len()).map(|at| Damage::Flip(at, (at % 8) as u8)))
        .chain((0..good.len()).map(Damage::Truncate))
        .collect();
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
        case.restore(&mut file, &good);
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
