//! Learning-rate schedules against tables computed by hand.

use tapegrad_optim::{
    Constant, CosineAnnealing, ExponentialDecay, InverseSqrtDecay, InverseTimeDecay, Optimizer,
    Schedule, Sgd, SgdConfig, StepDecay, Warmup,
};

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
