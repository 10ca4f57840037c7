//! Learning-rate schedules against tables computed by hand.

use tapegrad_optim::{
    Constant, CosineAnnealing, ExponentialDecay, InverseSqrtDecay, InverseTimeDecay, LinearWarmup,
    Optimizer, Schedule, Sgd, SgdConfig, ShiftedInverseSqrtDecay, StepDecay, Warmup,
};
use tapegrad_tensor::testing::{assert_walk_passes, caught};

fn assert_table(name: &str, s: &dyn Schedule, want: &[f64]) {
    for (epoch, &w) in want.iter().enumerate() {
        let got = s.lr(epoch);
        assert!(
            (got - w).abs() <= 1e-15 * w.abs().max(1.0),
            "{name}, epoch {epoch}: got {got}, want {w}"
        );
    }
}

#[test]
fn constant() {
    assert_table("constant", &Constant { lr: 0.3 }, &[0.3, 0.3, 0.3]);
}

#[test]
fn inverse_time_decay() {
    // α₀ / (1 + 0.5·e): 1, 1/1.5, 1/2, 1/2.5, 1/3.
    let s = InverseTimeDecay {
        initial_lr: 1.0,
        decay_rate: 0.5,
    };
    assert_table("inverse time", &s, &[1.0, 2.0 / 3.0, 0.5, 0.4, 1.0 / 3.0]);
}

#[test]
fn exponential_decay() {
    // 0.2 · 0.95^e: 0.2, 0.19, 0.1805, 0.171475.
    let s = ExponentialDecay {
        initial_lr: 0.2,
        rate: 0.95,
    };
    assert_table("exponential", &s, &[0.2, 0.19, 0.1805, 0.171475]);
}

#[test]
fn inverse_sqrt_decay_uses_max_epoch_1() {
    // 0.5 · 2 / √max(e, 1): 1, 1, 1/√2, 1/√3, 1/2, …, 1/3 at e = 9.
    let s = InverseSqrtDecay {
        initial_lr: 0.5,
        k: 2.0,
    };
    let want = [1.0, 1.0, 1.0 / 2f64.sqrt(), 1.0 / 3f64.sqrt(), 0.5];
    assert_table("inverse sqrt", &s, &want);
    assert!((s.lr(9) - 1.0 / 3.0).abs() < 1e-15);
}

#[test]
fn shifted_inverse_sqrt_decay_counts_epochs_from_1() {
    // 0.5 · 2 / √(e + 1): 1, 1/√2, 1/√3, 1/2, …, 1/3 at e = 8.
    let s = ShiftedInverseSqrtDecay {
        initial_lr: 0.5,
        k: 2.0,
    };
    let want = [1.0, 1.0 / 2f64.sqrt(), 1.0 / 3f64.sqrt(), 0.5];
    assert_table("shifted inverse sqrt", &s, &want);
    assert!((s.lr(8) - 1.0 / 3.0).abs() < 1e-15);
    // One epoch ahead of InverseSqrtDecay from its epoch 1 on.
    let plain = InverseSqrtDecay {
        initial_lr: 0.5,
        k: 2.0,
    };
    for e in [0, 1, 7, 1000] {
        assert_eq!(s.lr(e), plain.lr(e + 1), "epoch {e}");
    }
    assert!(s.lr(usize::MAX) > 0.0);
}

#[test]
fn step_decay() {
    let s = StepDecay {
        initial_lr: 0.1,
        step_size: 3,
        gamma: 0.5,
    };
    assert_table("step", &s, &[0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
}

#[test]
fn cosine_annealing() {
    // 0.1 + 0.5·(1.1 − 0.1)·(1 + cos(π·e/4)) for e = 0..=4, then 0.1.
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let s = CosineAnnealing {
        initial_lr: 1.1,
        min_lr: 0.1,
        period: 4,
    };
    let want = [
        1.1,
        0.1 + 0.5 * (1.0 + h),
        0.6,
        0.1 + 0.5 * (1.0 - h),
        0.1,
        0.1,
        0.1,
    ];
    assert_table("cosine", &s, &want);
}

#[test]
fn warmup_composes_with_any_schedule() {
    // Three warm-up epochs to S(0) = 0.3, then S from its epoch 1.
    let s = Warmup {
        schedule: StepDecay {
            initial_lr: 0.3,
            step_size: 2,
            gamma: 0.1,
        },
        warmup: 3,
    };
    assert_table("warmup step", &s, &[0.1, 0.2, 0.3, 0.3, 0.03, 0.03, 0.003]);
    let s = Warmup {
        schedule: InverseTimeDecay {
            initial_lr: 1.0,
            decay_rate: 1.0,
        },
        warmup: 2,
    };
    assert_table("warmup inverse time", &s, &[0.5, 1.0, 0.5, 1.0 / 3.0]);
    let s = Warmup {
        schedule: Constant { lr: 0.4 },
        warmup: 0,
    };
    assert_table("no warmup", &s, &[0.4, 0.4]);
    let s = Warmup {
        schedule: Constant { lr: 0.4 },
        warmup: 1,
    };
    assert_table("one-epoch warmup", &s, &[0.4, 0.4]);
    // Schedules box and nest.
    let boxed: Box<dyn Schedule> = Box::new(Warmup {
        schedule: Warmup {
            schedule: Constant { lr: 1.0 },
            warmup: 2,
        },
        warmup: 2,
    });
    assert_table("nested", &boxed, &[0.25, 0.5, 1.0]);
}

#[test]
fn linear_warmup_starts_at_start_factor_and_reaches_s0_at_epoch_w() {
    let step = StepDecay {
        initial_lr: 0.3,
        step_size: 2,
        gamma: 0.1,
    };
    // From 0 in three equal steps of 0.1; S starts at epoch 3.
    let s = LinearWarmup::from_zero(step, 3);
    assert_eq!(s.lr(0), 0.0);
    assert_table(
        "linear warmup from zero",
        &s,
        &[0.0, 0.1, 0.2, 0.3, 0.3, 0.03, 0.03],
    );
    // f₀ = 0.5: 0.15, then 0.15 + 0.15·e/3.
    let s = LinearWarmup {
        start_factor: 0.5,
        ..s
    };
    assert_table(
        "linear warmup from half",
        &s,
        &[0.15, 0.2, 0.25, 0.3, 0.3, 0.03],
    );
    let s = LinearWarmup::from_zero(Constant { lr: 0.4 }, 0);
    assert_table("no linear warmup", &s, &[0.4, 0.4]);
    let s = LinearWarmup::from_zero(Constant { lr: 0.4 }, 1);
    assert_table("one-epoch linear warmup", &s, &[0.0, 0.4, 0.4]);
}

#[test]
fn warmup_is_linear_warmup_one_epoch_shorter_from_one_over_w() {
    let s = ExponentialDecay {
        initial_lr: 0.8,
        rate: 0.9,
    };
    for w in 1..6 {
        let old = Warmup {
            schedule: s,
            warmup: w,
        };
        let new = LinearWarmup {
            schedule: s,
            warmup: w - 1,
            start_factor: 1.0 / w as f64,
        };
        for e in 0..12 {
            let (a, b) = (old.lr(e), new.lr(e));
            assert!((a - b).abs() <= 1e-15 * a, "w {w}, epoch {e}: {a} vs {b}");
        }
    }
}

#[test]
fn linear_warmup_start_factor_must_be_in_0_1() {
    for f in [1.5, -0.1, f64::NAN, f64::INFINITY] {
        let s = LinearWarmup {
            schedule: Constant { lr: 0.1 },
            warmup: 2,
            start_factor: f,
        };
        let msg = s.try_lr(0).unwrap_err().to_string();
        assert_eq!(
            msg,
            format!("LinearWarmup: start_factor must be in [0, 1], got {f}")
        );
        assert_eq!(caught(|| s.lr(5)), Err(msg));
    }
    for f in [0.0, 1.0] {
        let s = LinearWarmup {
            schedule: Constant { lr: 0.1 },
            warmup: 2,
            start_factor: f,
        };
        assert!(s.try_lr(0).is_ok());
    }
}

#[test]
fn a_schedule_drives_an_optimizer() {
    let w = tapegrad_autograd::Param::new("w", tapegrad_tensor::Tensor::<f64>::zeros(&[1]));
    let mut opt = Sgd::new(
        &w,
        SgdConfig {
            lr: 0.5,
            ..Default::default()
        },
    );
    let s = ExponentialDecay {
        initial_lr: 0.5,
        rate: 0.5,
    };
    for epoch in 0..3 {
        opt.set_lr(s.lr(epoch));
    }
    assert_eq!(opt.lr(), 0.125);
}

/// `try_lr`'s outcome, `Err` holding the message of a panic, which it must never raise.
fn attempt(s: &dyn Schedule, epoch: usize) -> Result<Result<f64, String>, String> {
    caught(|| s.try_lr(epoch).map_err(|e| e.to_string()))
}

/// A user schedule that returns whatever it holds.
struct Fixed(f64);

impl Schedule for Fixed {
    fn lr(&self, _epoch: usize) -> f64 {
        self.0
    }
}

/// Every schedule parameter set to NaN, ±∞ or a negative value, alone and under either warm-up, at
/// several epochs: `try_lr` is an error naming the schedule and the parameter, `lr` panics with
/// it; a user schedule or an overflow giving a NaN, infinite or negative rate is an error too.
#[test]
fn bad_schedule_parameters_are_errors_at_every_epoch() {
    type Build = fn(f64) -> Box<dyn Schedule>;
    let fields: [(&str, &str, Build); 14] = [
        ("Constant", "lr", |x| Box::new(Constant { lr: x })),
        ("InverseTimeDecay", "initial_lr", |x| {
            Box::new(InverseTimeDecay {
                initial_lr: x,
                decay_rate: 0.5,
            })
        }),
        ("InverseTimeDecay", "decay_rate", |x| {
            Box::new(InverseTimeDecay {
                initial_lr: 0.1,
                decay_rate: x,
            })
        }),
        ("ExponentialDecay", "initial_lr", |x| {
            Box::new(ExponentialDecay {
                initial_lr: x,
                rate: 0.9,
            })
        }),
        ("ExponentialDecay", "rate", |x| {
            Box::new(ExponentialDecay {
                initial_lr: 0.1,
                rate: x,
            })
        }),
        ("InverseSqrtDecay", "initial_lr", |x| {
            Box::new(InverseSqrtDecay {
                initial_lr: x,
                k: 1.0,
            })
        }),
        ("InverseSqrtDecay", "k", |x| {
            Box::new(InverseSqrtDecay {
                initial_lr: 0.1,
                k: x,
            })
        }),
        ("ShiftedInverseSqrtDecay", "initial_lr", |x| {
            Box::new(ShiftedInverseSqrtDecay {
                initial_lr: x,
                k: 1.0,
            })
        }),
        ("ShiftedInverseSqrtDecay", "k", |x| {
            Box::new(ShiftedInverseSqrtDecay {
                initial_lr: 0.1,
                k: x,
            })
        }),
        ("LinearWarmup", "start_factor", |x| {
            Box::new(LinearWarmup {
                schedule: Constant { lr: 0.1 },
                warmup: 2,
                start_factor: x,
            })
        }),
        ("StepDecay", "initial_lr", |x| {
            Box::new(StepDecay {
                initial_lr: x,
                step_size: 2,
                gamma: 0.5,
            })
        }),
        ("StepDecay", "gamma", |x| {
            Box::new(StepDecay {
                initial_lr: 0.1,
                step_size: 2,
                gamma: x,
            })
        }),
        ("CosineAnnealing", "initial_lr", |x| {
            Box::new(CosineAnnealing {
                initial_lr: x,
                min_lr: 0.0,
                period: 4,
            })
        }),
        ("CosineAnnealing", "min_lr", |x| {
            Box::new(CosineAnnealing {
                initial_lr: 0.1,
                min_lr: x,
                period: 4,
            })
        }),
    ];
    let epochs = [0, 1, 5, 100, usize::MAX];
    let mut failures = Vec::new();
    let mut cases = 0;
    for (name, field, build) in fields {
        // The same schedule with a good value is untouched by the checks.
        let good = build(0.5);
        for epoch in epochs {
            if attempt(good.as_ref(), epoch) != Ok(Ok(good.lr(epoch))) {
                failures.push(format!("{name} with {field} 0.5, epoch {epoch}: refused"));
            }
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
            for warmup in ["none", "Warmup", "LinearWarmup"] {
                cases += 1;
                let schedule: Box<dyn Schedule> = match warmup {
                    "none" => build(bad),
                    "Warmup" => Box::new(Warmup {
                        schedule: build(bad),
                        warmup: 3,
                    }),
                    _ => Box::new(LinearWarmup::from_zero(build(bad), 3)),
                };
                let label = format!("{name} with {field} {bad}, warm-up {warmup}");
                let names = [name.to_string(), field.to_string(), format!("{bad}")];
                let mut problems = Vec::new();
                for epoch in epochs {
                    match attempt(schedule.as_ref(), epoch) {
                        Ok(Err(msg)) => {
                            if !names.iter().all(|n| msg.contains(n.as_str())) {
                                problems.push(format!(
                                    "epoch {epoch}: {msg} names not all of {names:?}"
                                ));
                            }
                            let short = caught(|| schedule.lr(epoch));
                            if short != Err(msg.clone()) {
                                problems.push(format!(
                                    "epoch {epoch}: lr gave {short:?}, not a panic with {msg:?}"
                                ));
                            }
                        }
                        Ok(Ok(lr)) => problems.push(format!("epoch {epoch}: accepted, lr {lr}")),
                        Err(panic) => {
                            problems.push(format!("epoch {epoch}: try_lr panicked: {panic}"))
                        }
                    }
                }
                if !problems.is_empty() {
                    failures.push(format!("{label}: {}", problems.join("; ")));
                }
            }
        }
    }
    // Rates that only the output check can catch: a user schedule, and a growth that overflows.
    let overflowing = ExponentialDecay {
        initial_lr: 1.0,
        rate: 10.0,
    };
    let outputs: [(&str, &dyn Schedule, usize); 3] = [
        ("a user schedule giving NaN", &Fixed(f64::NAN), 3),
        ("a user schedule giving -0.5", &Fixed(-0.5), 3),
        ("ExponentialDecay growing past f64::MAX", &overflowing, 400),
    ];
    for (label, schedule, epoch) in outputs {
        cases += 1;
        match attempt(schedule, epoch) {
            Ok(Err(msg)) if msg.contains(&format!("epoch {epoch}")) => {}
            other => failures.push(format!("{label}: try_lr gave {other:?}")),
        }
    }
    assert_eq!(cases, 14 * 4 * 3 + 3);
    assert_walk_passes(cases, &failures);
}
