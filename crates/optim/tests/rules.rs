//! Every optimizer's parameters after three steps of predetermined gradients, against values
//! computed here from the published rule with plain scalar arithmetic (f64, tolerance 1e-12).

use tapegrad_autograd::{Grads, Param, Tape};
use tapegrad_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Momentum, Optimizer, RmsProp, RmsPropConfig, Sgd,
    SgdConfig,
};
use tapegrad_tensor::Tensor;

const THETA0: [f64; 2] = [1.0, -2.0];
/// The gradient of the loss (before any weight decay) at steps 1, 2, 3.
const G: [[f64; 2]; 3] = [[0.5, -3.0], [2.0, 0.25], [-0.1, -0.05]];
const TOL: f64 = 1e-12;

/// `∂/∂θ Σ c ⊙ θ = c`: a gradient fixed in advance, delivered through the tape.
fn grads_for(w: &Param<f64>, c: [f64; 2]) -> Grads<f64> {
    let tape = Tape::new();
    let c = tape.input(Tensor::from_vec(c.to_vec(), &[2]));
    (tape.param(w) * c).sum_all().backward()
}

/// Runs three steps of `make`'s optimizer and returns θ after each.
fn run<O: Optimizer<f64>>(make: impl FnOnce(&Param<f64>) -> O) -> [[f64; 2]; 3] {
    let w = Param::new("w", Tensor::from_vec(THETA0.to_vec(), &[2]));
    let mut opt = make(&w);
    let mut out = [[0.0; 2]; 3];
    for t in 0..3 {
        let grads = grads_for(&w, G[t]);
        opt.step(&grads);
        let v = w.value().to_vec();
        out[t] = [v[0], v[1]];
    }
    out
}

fn assert_close(got: [[f64; 2]; 3], want: [[f64; 2]; 3]) {
    for t in 0..3 {
        for i in 0..2 {
            assert!(
                (got[t][i] - want[t][i]).abs() < TOL,
                "step {}, element {i}: got {}, want {}",
                t + 1,
                got[t][i],
                want[t][i]
            );
        }
    }
}

#[test]
fn sgd() {
    let lr = 0.1;
    let got = run(|w| {
        Sgd::new(
            w,
            SgdConfig {
                lr,
                ..Default::default()
            },
        )
    });
    // θ₁ = θ₀ − α·g₁ = [1 − 0.05, −2 + 0.3]; θ₂ = θ₁ − α·g₂ = [0.95 − 0.2, −1.7 − 0.025];
    // θ₃ = θ₂ − α·g₃ = [0.75 + 0.01, −1.725 + 0.005].
    assert_close(got, [[0.95, -1.7], [0.75, -1.725], [0.76, -1.72]]);
}

#[test]
fn sgd_with_weight_decay() {
    let (lr, wd) = (0.1, 0.5);
    let got = run(|w| {
        Sgd::new(
            w,
            SgdConfig {
                lr,
                weight_decay: wd,
                ..Default::default()
            },
        )
    });
    let mut want = [[0.0; 2]; 3];
    for i in 0..2 {
        let mut theta = THETA0[i];
        for t in 0..3 {
            let g = G[t][i] + wd * theta;
            theta -= lr * g;
            want[t][i] = theta;
        }
    }
    // Step 1 by hand: g = [0.5 + 0.5, −3 − 1] = [1, −4], θ₁ = [0.9, −1.6].
    assert!((want[0][0] - 0.9).abs() < TOL && (want[0][1] + 1.6).abs() < TOL);
    assert_close(got, want);
}

#[test]
fn sgd_ewma_momentum() {
    let (lr, beta) = (0.1, 0.9);
    let got = run(|w| {
        Sgd::new(
            w,
            SgdConfig {
                lr,
                momentum: Momentum::Ewma { beta },
                ..Default::default()
            },
        )
    });
    let mut want = [[0.0; 2]; 3];
    for i in 0..2 {
        let (mut theta, mut v) = (THETA0[i], 0.0);
        for t in 0..3 {
            v = beta * v + (1.0 - beta) * G[t][i];
            theta -= lr * v;
            want[t][i] = theta;
        }
    }
    // Element 0 by hand: v₁ = 0.05, θ₁ = 0.995; v₂ = 0.045 + 0.2 = 0.245, θ₂ = 0.9705.
    assert!((want[0][0] - 0.995).abs() < TOL && (want[1][0] - 0.9705).abs() < TOL);
    assert_close(got, want);
}

#[test]
fn sgd_classic_momentum_with_dampening() {
    let (lr, mu, tau) = (0.1, 0.9, 0.3);
    let got = run(|w| {
        Sgd::new(
            w,
            SgdConfig {
                lr,
                momentum: Momentum::Classic {
                    momentum: mu,
                    dampening: tau,
                },
                ..Default::default()
            },
        )
    });
    let mut want = [[0.0; 2]; 3];
    for i in 0..2 {
        let (mut theta, mut v) = (THETA0[i], 0.0);
        for t in 0..3 {
            // PyTorch: the buffer starts as the undamped first gradient.
            v = if t == 0 {
                G[t][i]
            } else {
                mu * v + (1.0 - tau) * G[t][i]
            };
            theta -= lr * v;
            want[t][i] = theta;
        }
    }
    // Element 0 by hand: v₁ = 0.5, θ₁ = 0.95; v₂ = 0.45 + 1.4 = 1.85, θ₂ = 0.765.
    assert!((want[0][0] - 0.95).abs() < TOL && (want[1][0] - 0.765).abs() < TOL);
    assert_close(got, want);
}

#[test]
fn classic_and_ewma_momentum_give_one_trajectory_with_rescaled_lr() {
    let (lr, beta) = (0.01, 0.9);
    let classic = run(|w| {
        Sgd::new(
            w,
            SgdConfig {
                lr,
                momentum: Momentum::classic(beta),
                ..Default::default()
            },
        )
    });
    let ewma = run(|w| {
        Sgd::new(
            w,
            SgdConfig {
                lr: lr / (1.0 - beta),
                momentum: Momentum::Ewma { beta },
                ..Default::default()
            },
        )
    });
    assert_close(ewma, classic);
}

#[test]
fn sgd_nesterov_both_forms() {
    let (lr, mu) = (0.1, 0.9);
    let got = run(|w| {
        Sgd::new(
            w,
            SgdConfig {
                lr,
                momentum: Momentum::classic(mu),
                nesterov: true,
                ..Default::default()
            },
        )
    });
    let mut want = [[0.0; 2]; 3];
    for i in 0..2 {
        let (mut theta, mut v) = (THETA0[i], 0.0);
        for t in 0..3 {
            let g = G[t][i];
            v = if t == 0 { g } else { mu * v + g };
            theta -= lr * (g + mu * v);
            want[t][i] = theta;
        }
    }
    // Element 0, step 1: v = 0.5, d = 0.5 + 0.45 = 0.95, θ₁ = 0.905.
    assert!((want[0][0] - 0.905).abs() < TOL);
    assert_close(got, want);

    let beta = 0.8;
    let got = run(|w| {
        Sgd::new(
            w,
            SgdConfig {
                lr,
                momentum: Momentum::Ewma { beta },
                nesterov: true,
                ..Default::default()
            },
        )
    });
    let mut want = [[0.0; 2]; 3];
    for i in 0..2 {
        let (mut theta, mut v) = (THETA0[i], 0.0);
        for t in 0..3 {
            let g = G[t][i];
            v = beta * v + (1.0 - beta) * g;
            theta -= lr * (beta * v + (1.0 - beta) * g);
            want[t][i] = theta;
        }
    }
    assert_close(got, want);
}

fn rmsprop_by_hand(lr: f64, beta: f64, eps: f64, mu: f64, centered: bool) -> [[f64; 2]; 3] {
    let mut want = [[0.0; 2]; 3];
    for i in 0..2 {
        let (mut theta, mut s, mut a, mut b) = (THETA0[i], 0.0, 0.0, 0.0);
        for t in 0..3 {
            let g = G[t][i];
            s = beta * s + (1.0 - beta) * g * g;
            let r = if centered {
                a = beta * a + (1.0 - beta) * g;
                (s - a * a).sqrt() + eps
            } else {
                s.sqrt() + eps
            };
            if mu > 0.0 {
                b = mu * b + g / r;
                theta -= lr * b;
            } else {
                theta -= lr * g / r;
            }
            want[t][i] = theta;
        }
    }
    want
}

#[test]
fn rmsprop() {
    let c = RmsPropConfig {
        lr: 0.01,
        beta: 0.9,
        ..Default::default()
    };
    let want = rmsprop_by_hand(0.01, 0.9, 1e-8, 0.0, false);
    // Element 0, step 1: s = 0.1·0.25 = 0.025, θ₁ = 1 − 0.01·0.5 / (√0.025 + 1e-8).
    assert!((want[0][0] - (1.0 - 0.005 / (0.025f64.sqrt() + 1e-8))).abs() < TOL);
    assert_close(run(|w| RmsProp::new(w, c)), want);
}

#[test]
fn rmsprop_centered() {
    let c = RmsPropConfig {
        lr: 0.01,
        beta: 0.9,
        centered: true,
        ..Default::default()
    };
    let want = rmsprop_by_hand(0.01, 0.9, 1e-8, 0.0, true);
    // Element 0, step 1: s = 0.025, ḡ = 0.05, √(0.025 − 0.0025) = √0.0225 = 0.15.
    assert!((want[0][0] - (1.0 - 0.005 / (0.15 + 1e-8))).abs() < TOL);
    assert_close(run(|w| RmsProp::new(w, c)), want);
}

#[test]
fn rmsprop_centered_with_momentum() {
    let c = RmsPropConfig {
        lr: 0.01,
        beta: 0.9,
        momentum: 0.5,
        centered: true,
        ..Default::default()
    };
    assert_close(
        run(|w| RmsProp::new(w, c)),
        rmsprop_by_hand(0.01, 0.9, 1e-8, 0.5, true),
    );
}

/// Adam from the paper's rule with bias-corrected m̂ and v̂; `decay` is (λ, decoupled).
fn adam_by_hand(lr: f64, wd: f64, decoupled: bool, amsgrad: bool) -> [[f64; 2]; 3] {
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    let mut want = [[0.0; 2]; 3];
    for i in 0..2 {
        let (mut theta, mut m, mut v, mut v_max) = (THETA0[i], 0.0, 0.0, 0.0f64);
        for t in 0..3 {
            let mut g = G[t][i];
            if decoupled {
                theta -= lr * wd * theta;
            } else {
                g += wd * theta;
            }
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            v_max = v_max.max(v);
            let step = (t + 1) as i32;
            let m_hat = m / (1.0 - b1.powi(step));
            let v_hat = if amsgrad { v_max } else { v } / (1.0 - b2.powi(step));
            theta -= lr * m_hat / (v_hat.sqrt() + eps);
            want[t][i] = theta;
        }
    }
    want
}

#[test]
fn adam() {
    let want = adam_by_hand(0.1, 0.0, false, false);
    // Step 1: m̂ = g, v̂ = g², so θ₁ = θ₀ − α·g/(|g| + ε) ≈ θ₀ − α·sign(g).
    assert!((want[0][0] - (1.0 - 0.1 * 0.5 / (0.5 + 1e-8))).abs() < TOL);
    assert!((want[0][1] - (-2.0 + 0.1 * 3.0 / (3.0 + 1e-8))).abs() < TOL);
    let got = run(|w| {
        Adam::new(
            w,
            AdamConfig {
                lr: 0.1,
                ..Default::default()
            },
        )
    });
    assert_close(got, want);
}

#[test]
fn adam_with_l2_weight_decay() {
    let got = run(|w| {
        Adam::new(
            w,
            AdamConfig {
                lr: 0.1,
                weight_decay: 0.5,
                ..Default::default()
            },
        )
    });
    assert_close(got, adam_by_hand(0.1, 0.5, false, false));
}

#[test]
fn adamw() {
    let want = adam_by_hand(0.1, 0.5, true, false);
    // Step 1, element 0: θ = 1·(1 − 0.05) − 0.1·0.5/(0.5 + ε).
    assert!((want[0][0] - (0.95 - 0.05 / (0.5 + 1e-8))).abs() < TOL);
    let got = run(|w| {
        AdamW::new(
            w,
            AdamWConfig {
                lr: 0.1,
                weight_decay: 0.5,
                ..Default::default()
            },
        )
    });
    assert_close(got, want);
}

#[test]
fn amsgrad() {
    let want = adam_by_hand(0.1, 0.0, false, true);
    // Element 1's squared gradients shrink (9, 1/16, 1/400), so v falls at step 3 (g² < v) and
    // the maximum matters: AMSGrad must differ from Adam there, by far more than the tolerance.
    let plain = adam_by_hand(0.1, 0.0, false, false);
    assert!((want[2][1] - plain[2][1]).abs() > 1e-6);
    let got = run(|w| {
        Adam::new(
            w,
            AdamConfig {
                lr: 0.1,
                amsgrad: true,
                ..Default::default()
            },
        )
    });
    assert_close(got, want);
    let got = run(|w| {
        AdamW::new(
            w,
            AdamWConfig {
                lr: 0.1,
                weight_decay: 0.5,
                amsgrad: true,
                ..Default::default()
            },
        )
    });
    assert_close(got, adam_by_hand(0.1, 0.5, true, true));
}

#[test]
fn f32_adam_tracks_f64() {
    let w32 = Param::new("w", Tensor::from_vec(vec![1.0f32, -2.0], &[2]));
    let mut opt = Adam::new(
        &w32,
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    );
    for c in G {
        let tape = Tape::new();
        let c = tape.input(Tensor::from_vec(vec![c[0] as f32, c[1] as f32], &[2]));
        let grads = (tape.param(&w32) * c).sum_all().backward();
        drop(tape);
        opt.step(&grads);
    }
    let want = adam_by_hand(0.1, 0.0, false, false)[2];
    let got = w32.value().to_vec();
    for i in 0..2 {
        assert!(
            (got[i] as f64 - want[i]).abs() < 1e-5,
            "{got:?} vs {want:?}"
        );
    }
}
