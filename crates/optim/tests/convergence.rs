//! Optimizers minimise an ill-conditioned quadratic and the Rosenbrock function, and escape a
//! saddle, with gradients from the autograd tape. Step budgets are asserted, so a slower
//! optimizer (or a broken rule) fails.

use tapegrad_autograd::{Param, Tape, Var};
use tapegrad_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Momentum, Optimizer, RmsProp, RmsPropConfig, Sgd,
    SgdConfig,
};
use tapegrad_tensor::Tensor;

type Loss = fn(&Var<f64>, &Var<f64>) -> Var<f64>;

/// `½(x² + 100y²)`: condition number 100, minimum 0 at the origin.
fn quadratic(x: &Var<f64>, y: &Var<f64>) -> Var<f64> {
    (x.square() + y.square().mul_scalar(100.0))
        .mul_scalar(0.5)
        .sum_all()
}

/// `(1 − x)² + 100(y − x²)²`: minimum 0 at (1, 1) at the end of a curved valley.
fn rosenbrock(x: &Var<f64>, y: &Var<f64>) -> Var<f64> {
    (x.rsub_scalar(1.0).square() + (y - x.square()).square().mul_scalar(100.0)).sum_all()
}

/// `x² − y²`: a saddle at the origin, unbounded below along y.
fn saddle(x: &Var<f64>, y: &Var<f64>) -> Var<f64> {
    (x.square() - y.square()).sum_all()
}

fn point(x: f64, y: f64) -> [Param<f64>; 2] {
    [
        Param::new("x", Tensor::from_vec(vec![x], &[1])),
        Param::new("y", Tensor::from_vec(vec![y], &[1])),
    ]
}

/// Steps until the loss falls below `tol` (checked before each step), or `None` after `max`.
fn steps_to<O: Optimizer<f64>>(
    opt: &mut O,
    params: &[Param<f64>; 2],
    f: Loss,
    tol: f64,
    max: usize,
) -> Option<usize> {
    for step in 0..=max {
        let (loss, grads) = {
            let tape = Tape::new();
            let loss = f(&tape.param(&params[0]), &tape.param(&params[1]));
            (loss.value().item(), loss.backward())
        };
        if !loss.is_finite() {
            return None;
        }
        if loss < tol {
            return Some(step);
        }
        opt.step(&grads);
    }
    None
}

fn sgd(lr: f64, momentum: Momentum, nesterov: bool) -> impl Fn(&[Param<f64>; 2]) -> Sgd<f64> {
    move |p| {
        Sgd::new(
            p,
            SgdConfig {
                lr,
                momentum,
                nesterov,
                ..Default::default()
            },
        )
    }
}

fn adam(lr: f64, amsgrad: bool) -> impl Fn(&[Param<f64>; 2]) -> Adam<f64> {
    move |p| {
        Adam::new(
            p,
            AdamConfig {
                lr,
                amsgrad,
                ..Default::default()
            },
        )
    }
}

fn rmsprop(lr: f64, momentum: f64, centered: bool) -> impl Fn(&[Param<f64>; 2]) -> RmsProp<f64> {
    move |p| {
        RmsProp::new(
            p,
            RmsPropConfig {
                lr,
                momentum,
                centered,
                ..Default::default()
            },
        )
    }
}

fn adamw(lr: f64, weight_decay: f64) -> impl Fn(&[Param<f64>; 2]) -> AdamW<f64> {
    move |p| {
        AdamW::new(
            p,
            AdamWConfig {
                lr,
                weight_decay,
                ..Default::default()
            },
        )
    }
}

/// Runs `make`'s optimizer on `f` from `start` and asserts it gets below `tol` within `budget`.
fn converges<O: Optimizer<f64>>(
    name: &str,
    make: impl Fn(&[Param<f64>; 2]) -> O,
    f: Loss,
    start: (f64, f64),
    tol: f64,
    budget: usize,
) -> usize {
    let p = point(start.0, start.1);
    let mut opt = make(&p);
    match steps_to(&mut opt, &p, f, tol, budget) {
        Some(n) => n,
        None => panic!("{name}: loss not below {tol} within {budget} steps (or diverged)"),
    }
}

const QUADRATIC_START: (f64, f64) = (1.0, 1.0);
/// From f = 50.5 down to 1e-8.
const QUADRATIC_TOL: f64 = 1e-8;

#[test]
fn every_optimizer_minimises_the_ill_conditioned_quadratic() {
    let (start, tol) = (QUADRATIC_START, QUADRATIC_TOL);
    // Plain SGD must keep α < 2/100 for the stiff direction, so the flat one shrinks by
    // 1 − 100·α/100 ≈ 0.981 per step: hundreds of steps (463 measured).
    let sgd_steps = converges(
        "sgd",
        sgd(0.019, Momentum::None, false),
        quadratic,
        start,
        tol,
        500,
    );
    // Heavy ball at its optimum for κ = 100: μ = ((√κ − 1)/(√κ + 1))² ≈ 0.67, α = 4/(√L + √m)² ≈ 0.033
    // (65 measured); the EWMA form with α/(1 − β) follows the same path.
    let classic = converges(
        "classic momentum",
        sgd(0.033, Momentum::classic(0.67), false),
        quadratic,
        start,
        tol,
        80,
    );
    let ewma = converges(
        "ewma momentum",
        sgd(0.033 / 0.33, Momentum::Ewma { beta: 0.67 }, false),
        quadratic,
        start,
        tol,
        80,
    );
    let nesterov = converges(
        "nesterov",
        sgd(0.01, Momentum::classic(0.9), true),
        quadratic,
        start,
        tol,
        120,
    ); // 98 measured
    let adam_steps = converges("adam", adam(0.1, false), quadratic, start, tol, 200); // 164
    let amsgrad = converges("amsgrad", adam(0.1, true), quadratic, start, tol, 200); // 153
    let adamw_steps = converges("adamw", adamw(0.1, 0.01), quadratic, start, tol, 200); // 151
    converges(
        "rmsprop",
        rmsprop(0.03, 0.0, false),
        quadratic,
        start,
        tol,
        60,
    ); // 44
    converges(
        "centered rmsprop",
        rmsprop(0.03, 0.0, true),
        quadratic,
        start,
        tol,
        60,
    ); // 42
    for (name, n) in [
        ("classic momentum", classic),
        ("ewma momentum", ewma),
        ("nesterov", nesterov),
        ("adam", adam_steps),
        ("amsgrad", amsgrad),
        ("adamw", adamw_steps),
    ] {
        assert!(
            n < sgd_steps,
            "{name} took {n} steps, plain SGD {sgd_steps}"
        );
    }
}

const ROSENBROCK_START: (f64, f64) = (-1.2, 1.0);
/// From f = 24.2 down to 1e-6 (within about 1e-3 of the minimum at (1, 1)).
const ROSENBROCK_TOL: f64 = 1e-6;

#[test]
fn every_optimizer_minimises_rosenbrock() {
    let (start, tol) = (ROSENBROCK_START, ROSENBROCK_TOL);
    let sgd_steps = converges(
        "sgd",
        sgd(0.002, Momentum::None, false),
        rosenbrock,
        start,
        tol,
        8000,
    ); // 7493
    let momentum = converges(
        "classic momentum",
        sgd(0.002, Momentum::classic(0.9), false),
        rosenbrock,
        start,
        tol,
        900,
    ); // 769
    converges(
        "ewma momentum",
        sgd(0.02, Momentum::Ewma { beta: 0.9 }, false),
        rosenbrock,
        start,
        tol,
        900,
    );
    converges(
        "nesterov",
        sgd(0.001, Momentum::classic(0.9), true),
        rosenbrock,
        start,
        tol,
        1600,
    ); // 1426
    let adam_steps = converges("adam", adam(0.1, false), rosenbrock, start, tol, 1300); // 1139
    converges("amsgrad", adam(0.1, true), rosenbrock, start, tol, 1700); // 1462
    converges("adamw", adamw(0.1, 1e-4), rosenbrock, start, tol, 1500); // 1274
    // RMSprop without momentum hovers at the scale of α in the valley; with momentum it settles.
    converges(
        "rmsprop + momentum",
        rmsprop(3e-4, 0.9, false),
        rosenbrock,
        start,
        tol,
        2000,
    ); // 1728
    converges(
        "centered rmsprop + momentum",
        rmsprop(1e-4, 0.9, true),
        rosenbrock,
        start,
        tol,
        2600,
    ); // 2266
    assert!(momentum < sgd_steps && adam_steps < sgd_steps);
}

#[test]
fn momentum_and_adam_escape_the_saddle() {
    // Start 1e-3 from the saddle of x² − y²; escaping means reaching loss < −1 (|y| > 1).
    let start = (1e-3, 1e-3);
    let plain = converges(
        "sgd",
        sgd(0.01, Momentum::None, false),
        saddle,
        start,
        -1.0,
        400,
    ); // 349
    let momentum = converges(
        "sgd + momentum",
        sgd(0.01, Momentum::classic(0.9), false),
        saddle,
        start,
        -1.0,
        100,
    ); // 72
    let adam_steps = converges("adam", adam(0.01, false), saddle, start, -1.0, 100); // 77
    assert!(momentum < plain && adam_steps < plain);
}
