//! `ReduceLrOnPlateau` against learning-rate sequences worked out by hand from PyTorch's rule:
//! improve if the metric beats `best` by the threshold margin, else count a bad epoch; during a
//! cooldown count down and forget bad epochs; after more than `patience` bad epochs set
//! `lr = max(lr·factor, min_lr)` unless that lowers it by `eps` or less, then start the cooldown.

use std::collections::BTreeMap;
use tapegrad_autograd::Param;
use tapegrad_optim::{
    GroupConfig, OptimError, Optimizer, PlateauMode, ReduceLrOnPlateau, ReduceLrOnPlateauConfig,
    Sgd, SgdConfig, StateDict, ThresholdMode, load_state_dict_file, save_state_dict_file,
};
use tapegrad_tensor::Tensor;
use tapegrad_tensor::testing::caught;

/// The lr after each metric, from a scheduler built with `config` and `lr`.
fn lrs(config: ReduceLrOnPlateauConfig, lr: f64, metrics: &[f64]) -> Vec<f64> {
    let mut plateau = ReduceLrOnPlateau::new(config, lr);
    metrics.iter().map(|&m| plateau.step(m)).collect()
}

fn assert_lrs(label: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{label}");
    for (epoch, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-15 * w.abs(),
            "{label}, epoch {}: got {g}, want {w}\n  got  {got:?}\n  want {want:?}",
            epoch + 1
        );
    }
}

#[test]
fn min_mode_relative_and_absolute_thresholds() {
    let metrics = [10.0, 9.0, 9.0, 9.0, 9.0, 8.9995, 9.0, 9.0, 8.99, 9.0];
    let config = ReduceLrOnPlateauConfig {
        factor: 0.5,
        patience: 2,
        ..Default::default()
    };
    // Relative, threshold 1e-4: a metric improves if below best·0.9999.
    // epoch metric  best·0.9999  better?  bad  lr
    //   1   10      ∞            yes      0    1
    //   2   9       9.999        yes      0    1
    //   3   9       8.9991       no       1    1
    //   4   9       8.9991       no       2    1
    //   5   9       8.9991       no       3 > 2: lr 0.5, bad 0
    //   6   8.9995  8.9991       no       1    0.5   (lower, but not by 0.01 %)
    //   7   9       8.9991       no       2    0.5
    //   8   9       8.9991       no       3 > 2: lr 0.25, bad 0
    //   9   8.99    8.9991       yes      0    0.25
    //  10   9       8.989101     no       1    0.25
    let want = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25];
    assert_lrs("rel", &lrs(config, 1.0, &metrics), &want);

    // Absolute, threshold 1e-4: a metric improves if below best − 0.0001.
    //   1–5 as above (9 < 8.9999 fails): lr 0.5 at epoch 5
    //   6   8.9995  8.9999       yes      0    0.5
    //   7   9       8.9994       no       1    0.5
    //   8   9       8.9994       no       2    0.5
    //   9   8.99    8.9994       yes      0    0.5
    //  10   9       8.9899       no       1    0.5
    let abs = ReduceLrOnPlateauConfig {
        threshold_mode: ThresholdMode::Abs,
        ..config
    };
    let want = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    assert_lrs("abs", &lrs(abs, 1.0, &metrics), &want);

    let mut plateau = ReduceLrOnPlateau::new(abs, 1.0);
    assert_eq!(plateau.best(), f64::INFINITY);
    for m in metrics {
        plateau.step(m);
    }
    assert_eq!((plateau.best(), plateau.num_bad_epochs()), (8.99, 1));
}

#[test]
fn max_mode_relative_and_absolute_thresholds() {
    let metrics = [0.5, 0.6, 0.6, 0.6, 0.65, 0.655, 0.659];
    let abs = ReduceLrOnPlateauConfig {
        mode: PlateauMode::Max,
        factor: 0.5,
        patience: 1,
        threshold: 0.01,
        threshold_mode: ThresholdMode::Abs,
        ..Default::default()
    };
    // Absolute: better if above best + 0.01.
    // epoch metric  best+0.01  better?  bad  lr
    //   1   0.5     −∞         yes      0    1
    //   2   0.6     0.51       yes      0    1
    //   3   0.6     0.61       no       1    1
    //   4   0.6     0.61       no       2 > 1: lr 0.5, bad 0
    //   5   0.65    0.61       yes      0    0.5
    //   6   0.655   0.66       no       1    0.5
    //   7   0.659   0.66       no       2 > 1: lr 0.25
    assert_lrs(
        "max abs",
        &lrs(abs, 1.0, &metrics),
        &[1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25],
    );
    // Relative: better if above best·1.01: epochs 1–5 as above (0.6·1.01 = 0.606, 0.65 > 0.606);
    //   6   0.655   0.6565     no       1    0.5
    //   7   0.659   0.6565     yes      0    0.5
    let rel = ReduceLrOnPlateauConfig {
        threshold_mode: ThresholdMode::Rel,
        ..abs
    };
    assert_lrs(
        "max rel",
        &lrs(rel, 1.0, &metrics),
        &[1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5],
    );
}

#[test]
fn cooldown_forgets_bad_epochs() {
    let flat = [5.0; 8];
    let config = ReduceLrOnPlateauConfig {
        patience: 0,
        cooldown: 2,
        ..Default::default()
    };
    // patience 0: every epoch after the first is bad and reduces, except the two of cooldown.
    // epoch  bad after counting  cooldown before→after  lr
    //   1    0 (first is best)   0 → 0                  1
    //   2    1 > 0: reduce       0 → 2                  0.1
    //   3    1, cooled to 0      2 → 1                  0.1
    //   4    1, cooled to 0      1 → 0                  0.1
    //   5    1 > 0: reduce       0 → 2                  0.01
    //   6–7  cooldown                                   0.01
    //   8    reduce                                     0.001
    let want = [1.0, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001];
    assert_lrs("cooldown 2", &lrs(config, 1.0, &flat), &want);
    let mut plateau = ReduceLrOnPlateau::new(config, 1.0);
    let counters: Vec<usize> = flat
        .iter()
        .map(|&m| {
            plateau.step(m);
            plateau.cooldown_counter()
        })
        .collect();
    assert_eq!(counters, [0, 2, 1, 0, 2, 1, 0, 2]);

    let none = ReduceLrOnPlateauConfig {
        cooldown: 0,
        ..config
    };
    let want = [1.0, 0.1, 0.01, 0.001, 1e-4];
    assert_lrs("no cooldown", &lrs(none, 1.0, &flat[..5]), &want);
}

#[test]
fn min_lr_clamps_the_reduction() {
    let config = ReduceLrOnPlateauConfig {
        patience: 0,
        min_lr: 0.005,
        ..Default::default()
    };
    // 1 → 0.1 → 0.01 → max(0.001, 0.005) = 0.005 → max(0.0005, 0.005): no change.
    let want = [1.0, 0.1, 0.01, 0.005, 0.005, 0.005];
    assert_lrs("min_lr", &lrs(config, 1.0, &[1.0; 6]), &want);
}

#[test]
fn eps_skips_reductions_that_small() {
    let config = ReduceLrOnPlateauConfig {
        factor: 0.5,
        patience: 0,
        ..Default::default()
    };
    // Default eps 1e-8: a halving is applied while it lowers the lr by more than 1e-8:
    // 1e-7 → 5e-8 (by 5e-8) → 2.5e-8 → 1.25e-8 (by 1.25e-8); 6.25e-9 would lower it by
    // 6.25e-9 ≤ 1e-8, so it stays.
    let want = [1e-7, 5e-8, 2.5e-8, 1.25e-8, 1.25e-8, 1.25e-8];
    assert_lrs("eps 1e-8", &lrs(config, 1e-7, &[1.0; 6]), &want);
    let zero = ReduceLrOnPlateauConfig { eps: 0.0, ..config };
    let want = [1e-7, 5e-8, 2.5e-8, 1.25e-8, 6.25e-9, 3.125e-9];
    assert_lrs("eps 0", &lrs(zero, 1e-7, &[1.0; 6]), &want);

    // A skipped reduction still starts the cooldown and forgets the bad epochs, as in PyTorch.
    let big = ReduceLrOnPlateauConfig {
        eps: 1e-7,
        cooldown: 1,
        ..config
    };
    let mut plateau = ReduceLrOnPlateau::new(big, 1e-7);
    assert_eq!([plateau.step(1.0), plateau.step(1.0)], [1e-7, 1e-7]);
    assert_eq!(
        (plateau.num_bad_epochs(), plateau.cooldown_counter()),
        (0, 1)
    );
}

#[test]
fn step_optimizer_reduces_the_optimizers_current_lr() {
    let w = Param::new("w", Tensor::<f64>::zeros(&[2]));
    let b = Param::new("b", Tensor::<f64>::zeros(&[1]));
    let config = SgdConfig {
        lr: 1.0,
        ..Default::default()
    };
    let mut opt = Sgd::new(&w, config);
    let group = GroupConfig {
        lr: Some(0.1),
        weight_decay: None,
    };
    opt.add_group(&b, group);
    let config = ReduceLrOnPlateauConfig {
        factor: 0.5,
        patience: 0,
        ..Default::default()
    };
    let mut plateau = ReduceLrOnPlateau::new(config, opt.lr());
    assert_eq!(plateau.step_optimizer(1.0, &mut opt), 1.0);
    assert_eq!(plateau.step_optimizer(2.0, &mut opt), 0.5);
    assert_eq!((opt.lr(), opt.group_lr(1)), (0.5, 0.05));
    // An lr set elsewhere is what the next reduction starts from.
    opt.set_lr(0.3);
    let mut boxed: Box<dyn Optimizer<f64>> = Box::new(opt);
    assert_eq!(plateau.step_optimizer(2.0, boxed.as_mut()), 0.15);
    assert_eq!((boxed.lr(), plateau.lr()), (0.15, 0.15));

    // A NaN metric changes neither.
    let before = plateau.clone();
    let err = plateau
        .try_step_optimizer(f64::NAN, boxed.as_mut())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("ReduceLrOnPlateau: step: the metric is NaN")
    );
    assert_eq!((boxed.lr(), &plateau), (0.15, &before));
}

#[test]
fn a_nan_metric_is_an_error_and_the_short_form_panics_with_it() {
    let mut plateau = ReduceLrOnPlateau::new(ReduceLrOnPlateauConfig::default(), 0.1);
    plateau.step(3.0);
    let before = plateau.clone();
    let msg = plateau.try_step(f64::NAN).unwrap_err().to_string();
    assert!(msg.contains("NaN"), "{msg}");
    assert_eq!(plateau, before);
    assert_eq!(caught(|| plateau.clone().step(f64::NAN)), Err(msg));
    // Infinities are metrics: +∞ never improves a loss, −∞ is the best one possible.
    assert_eq!(plateau.step(f64::INFINITY), 0.1);
    assert_eq!(plateau.num_bad_epochs(), 1);
    plateau.step(f64::NEG_INFINITY);
    assert_eq!(
        (plateau.best(), plateau.num_bad_epochs()),
        (f64::NEG_INFINITY, 0)
    );
}

#[test]
fn invalid_configurations_are_errors_naming_the_field() {
    let base = ReduceLrOnPlateauConfig::default();
    let cases: Vec<(&str, ReduceLrOnPlateauConfig, f64)> = vec![
        (
            "factor",
            ReduceLrOnPlateauConfig {
                factor: 1.0,
                ..base
            },
            0.1,
        ),
        (
            "factor",
            ReduceLrOnPlateauConfig {
                factor: 2.0,
                ..base
            },
            0.1,
        ),
        (
            "factor",
            ReduceLrOnPlateauConfig {
                factor: -0.1,
                ..base
            },
            0.1,
        ),
        (
            "factor",
            ReduceLrOnPlateauConfig {
                factor: f64::NAN,
                ..base
            },
            0.1,
        ),
        (
            "threshold",
            ReduceLrOnPlateauConfig {
                threshold: -1e-4,
                ..base
            },
            0.1,
        ),
        (
            "threshold",
            ReduceLrOnPlateauConfig {
                threshold: f64::NAN,
                ..base
            },
            0.1,
        ),
        (
            "threshold",
            ReduceLrOnPlateauConfig {
                threshold: 1.0,
                ..base
            },
            0.1,
        ),
        (
            "threshold",
            ReduceLrOnPlateauConfig {
                threshold: f64::INFINITY,
                threshold_mode: ThresholdMode::Abs,
                ..base
            },
            0.1,
        ),
        (
            "min_lr",
            ReduceLrOnPlateauConfig {
                min_lr: -1.0,
                ..base
            },
            0.1,
        ),
        (
            "min_lr",
            ReduceLrOnPlateauConfig {
                min_lr: f64::INFINITY,
                ..base
            },
            0.1,
        ),
        ("eps", ReduceLrOnPlateauConfig { eps: -1e-8, ..base }, 0.1),
        (
            "eps",
            ReduceLrOnPlateauConfig {
                eps: f64::NAN,
                ..base
            },
            0.1,
        ),
        ("lr", base, -0.1),
        ("lr", base, f64::NAN),
        ("lr", base, f64::INFINITY),
    ];
    for (field, config, lr) in cases {
        let err = ReduceLrOnPlateau::try_new(config, lr).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                OptimError::Config {
                    what: "ReduceLrOnPlateau",
                    ..
                }
            ) && msg.starts_with(&format!("ReduceLrOnPlateau: {field} must")),
            "{field}: {msg}"
        );
        assert_eq!(caught(|| ReduceLrOnPlateau::new(config, lr)), Err(msg));
    }
    // An absolute threshold may be 1 or more; a relative one of 1 would leave no room to improve.
    let abs = ReduceLrOnPlateauConfig {
        threshold: 1.0,
        threshold_mode: ThresholdMode::Abs,
        ..base
    };
    assert!(ReduceLrOnPlateau::try_new(abs, 0.1).is_ok());
    let zero_factor = ReduceLrOnPlateauConfig {
        factor: 0.0,
        ..base
    };
    assert!(ReduceLrOnPlateau::try_new(zero_factor, 0.0).is_ok());
}

#[test]
fn state_round_trips_and_resumes_identically() {
    let config = ReduceLrOnPlateauConfig {
        factor: 0.5,
        patience: 1,
        cooldown: 2,
        ..Default::default()
    };
    let metrics = [4.0, 3.0, 3.5, 3.5, 3.5, 2.0, 2.5, 2.5, 2.5, 2.5];
    let mut first = ReduceLrOnPlateau::new(config, 0.2);
    for &m in &metrics[..5] {
        first.step(m);
    }
    let state = first.state_dict();
    assert_eq!(state["hyper.patience"], "1");
    assert_eq!(state["lr"], "0.1");

    let mut resumed = ReduceLrOnPlateau::new(config, 0.2);
    resumed.load_state_dict(&state).unwrap();
    assert_eq!(resumed, first);

    // Through a file, as an optimizer state without tensors.
    let path = std::env::temp_dir().join(format!(
        "tapegrad-plateau-{}.safetensors",
        std::process::id()
    ));
    let file = StateDict::<f64> {
        tensors: BTreeMap::new(),
        metadata: state.clone(),
    };
    save_state_dict_file(&path, &file).unwrap();
    let loaded = load_state_dict_file::<f64>(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut from_file = ReduceLrOnPlateau::new(config, 0.2);
    from_file.load_state_dict(&loaded.metadata).unwrap();
    assert_eq!(from_file, first);

    for &m in &metrics[5..] {
        let lr = first.step(m);
        assert_eq!(resumed.step(m).to_bits(), lr.to_bits());
        assert_eq!(from_file.step(m).to_bits(), lr.to_bits());
    }
}

#[test]
fn state_that_does_not_fit_is_refused_and_changes_nothing() {
    let config = ReduceLrOnPlateauConfig {
        patience: 2,
        cooldown: 1,
        ..Default::default()
    };
    let mut plateau = ReduceLrOnPlateau::new(config, 0.1);
    plateau.step(1.0);
    let good = plateau.state_dict();
    let before = plateau.clone();
    let edits: [(&str, Option<&str>, &str); 7] = [
        (
            "hyper.patience",
            Some("3"),
            "hyper.patience: scheduler 2, state 3",
        ),
        (
            "hyper.mode",
            Some("max"),
            "hyper.mode: scheduler min, state max",
        ),
        (
            "num_bad_epochs",
            Some("3"),
            "num_bad_epochs: 3, more than the patience 2",
        ),
        (
            "cooldown_counter",
            Some("2"),
            "cooldown_counter: 2, more than the cooldown 1",
        ),
        (
            "lr",
            Some("-1.0"),
            "lr: ReduceLrOnPlateau: lr must be finite and non-negative",
        ),
        ("best", Some("NaN"), "best: NaN"),
        ("best", None, "missing [\"best\"]"),
    ];
    for (key, value, want) in edits {
        let mut state = good.clone();
        match value {
            Some(v) => state.insert(key.to_string(), v.to_string()),
            None => state.remove(key),
        };
        let err = plateau.load_state_dict(&state).unwrap_err();
        assert!(matches!(err, OptimError::Mismatch { .. }), "{key}: {err}");
        assert!(err.to_string().contains(want), "{key}: {err}");
        assert_eq!(plateau, before, "{key}");
    }
    let mut state = good.clone();
    state.insert("extra".into(), "1".into());
    let err = plateau.load_state_dict(&state).unwrap_err().to_string();
    assert!(err.contains("unexpected [\"extra\"]"), "{err}");
}
