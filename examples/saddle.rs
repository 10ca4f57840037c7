//! Saddle points and plateaus: where plain gradient descent stalls and momentum and Adam do not.
//!
//! Run: `cargo run --release --example saddle` (add `-- --plot saddle.png` for the chart)
//!
//! 1. **A saddle** `f(x, y) = x² − y²`, from `(1, 10⁻⁶)`: almost exactly on the ridge that leads
//!    into the saddle point `(0, 0)`. The gradient in y is `−2y = −2·10⁻⁶`, so gradient descent
//!    multiplies `y` by only `1 + 2α` per step while it slides to the saddle along x. We count
//!    the steps until `f < −1` (the iterate has left the saddle downhill).
//! 2. **A plateau** `f(x, y) = 1 − exp(−(x² + y²)/2)`, from `(3, 3)`: a well whose surroundings
//!    are nearly flat (the gradient there is `r·e^{−r²/2}` ≈ 5·10⁻⁴). We count the steps until
//!    `f < 0.5` (inside the well).
//!
//! All four optimizers use the same learning rate on each problem (0.1): gradient descent,
//! classic momentum (μ = 0.9), RMSprop (β = 0.9) and Adam (defaults). Momentum keeps
//! accumulating the small, consistent gradient (up to `1/(1 − μ)` = 10 times the step); RMSprop
//! and Adam divide by the gradient's own size, so their steps are about `α` long however flat
//! the ground, and they escape in a few dozen steps. RMSprop's first steps are even `√10·α`
//! long: its average starts at 0 without bias correction, so `s₁ = 0.1·g²`.

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use std::path::{Path, PathBuf};
use tapegrad::autograd::{Param, Tape, Var};
use tapegrad::optim::{
    Adam, AdamConfig, Momentum, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad::tensor::Tensor;

/// The optimizers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain gradient descent.
    Gd,
    /// Classic momentum, μ = 0.9.
    Momentum,
    /// RMSprop, β = 0.9.
    RmsProp,
    /// Adam with its defaults.
    Adam,
}

/// Every [`Kind`], in table order.
pub const KINDS: [Kind; 4] = [Kind::Gd, Kind::Momentum, Kind::RmsProp, Kind::Adam];

impl Kind {
    /// The name printed in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gd => "gradient descent",
            Kind::Momentum => "momentum 0.9",
            Kind::RmsProp => "RMSprop",
            Kind::Adam => "Adam",
        }
    }

    fn build(self, p: &Param<f64>, lr: f64) -> Box<dyn Optimizer<f64>> {
        match self {
            Kind::Gd => Box::new(Sgd::new(
                p,
                SgdConfig {
                    lr,
                    ..Default::default()
                },
            )),
            Kind::Momentum => Box::new(Sgd::new(
                p,
                SgdConfig {
                    lr,
                    momentum: Momentum::classic(0.9),
                    ..Default::default()
                },
            )),
            Kind::RmsProp => Box::new(RmsProp::new(
                p,
                RmsPropConfig {
                    lr,
                    beta: 0.9,
                    ..Default::default()
                },
            )),
            Kind::Adam => Box::new(Adam::new(
                p,
                AdamConfig {
                    lr,
                    ..Default::default()
                },
            )),
        }
    }
}

/// A 2-D test function with a start and an escape test.
#[derive(Debug, Clone, Copy)]
pub struct Problem {
    /// Name in the tables.
    pub name: &'static str,
    /// `f` of a `[2]` var.
    pub f: fn(&Var<f64>) -> Var<f64>,
    /// Starting point.
    pub start: [f64; 2],
    /// Escaped once `f` is below this.
    pub escaped_below: f64,
    /// The learning rate every optimizer uses.
    pub lr: f64,
    /// The most steps allowed.
    pub max_steps: usize,
}

/// `x² − y²`.
pub fn saddle_fn(p: &Var<f64>) -> Var<f64> {
    let signs = p.constant(Tensor::from_vec(vec![1.0, -1.0], &[2]));
    p.square().mul(&signs).sum_all()
}

/// `1 − exp(−(x² + y²)/2)`.
pub fn plateau_fn(p: &Var<f64>) -> Var<f64> {
    p.square().sum_all().mul_scalar(-0.5).exp().rsub_scalar(1.0)
}

/// The saddle problem: from `(1, 10⁻⁶)` until `f < −1`.
pub const SADDLE: Problem = Problem {
    name: "saddle x² − y²",
    f: saddle_fn,
    start: [1.0, 1e-6],
    escaped_below: -1.0,
    lr: 0.1,
    max_steps: 1000,
};

/// The plateau problem: from `(3, 3)` until `f < 0.5`.
pub const PLATEAU: Problem = Problem {
    name: "plateau 1 − e^(−r²/2)",
    f: plateau_fn,
    start: [3.0, 3.0],
    escaped_below: 0.5,
    lr: 0.1,
    max_steps: 20_000,
};

/// One run: `f` and the point before each step, and the steps taken to escape.
#[derive(Debug, Clone)]
pub struct Escape {
    /// `f` before each step (and at the escape).
    pub values: Vec<f64>,
    /// The points, likewise.
    pub points: Vec<(f64, f64)>,
    /// Steps until `f` fell below the problem's threshold, or `None` within its limit.
    pub steps: Option<usize>,
}

/// The gradient norm `‖∇f‖` at the problem's start.
pub fn start_gradient_norm(problem: &Problem) -> f64 {
    let p = Param::new("p", Tensor::from_vec(problem.start.to_vec(), &[2]));
    let tape = Tape::new();
    let grads = (problem.f)(&tape.param(&p)).backward();
    let g = grads.get(&p).expect("p is on the path").to_vec();
    g.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Runs `kind` on `problem` until it escapes or runs out of steps.
pub fn escape(kind: Kind, problem: &Problem) -> Escape {
    let p = Param::new("p", Tensor::from_vec(problem.start.to_vec(), &[2]));
    let mut opt = kind.build(&p, problem.lr);
    let (mut values, mut points) = (Vec::new(), Vec::new());
    for step in 0..=problem.max_steps {
        let v = p.value().to_vec();
        points.push((v[0], v[1]));
        let (f, grads) = {
            let tape = Tape::new();
            let f = (problem.f)(&tape.param(&p));
            (f.value().item(), f.backward())
        };
        values.push(f);
        if f < problem.escaped_below {
            return Escape {
                values,
                points,
                steps: Some(step),
            };
        }
        opt.step(&grads);
    }
    Escape {
        values,
        points,
        steps: None,
    }
}

/// Flags of the saddle example.
#[derive(Debug, Clone, Parser)]
#[command(about = "Escaping a saddle point and a plateau")]
pub struct Args {
    /// Write |y| on the saddle and f on the plateau, per step, to this PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Runs every optimizer on both problems and prints the steps each needs; returns
/// `[saddle runs, plateau runs]`, each in [`KINDS`] order.
pub fn run() -> [Vec<Escape>; 2] {
    [SADDLE, PLATEAU].map(|problem| {
        let coord = |v: f64| {
            if v != 0.0 && v.abs() < 1e-3 {
                format!("{v:e}")
            } else {
                format!("{v}")
            }
        };
        println!(
            "{} from ({}, {}): ‖∇f‖ = {:.1e} there; lr {} for all; steps until f < {}",
            problem.name,
            coord(problem.start[0]),
            coord(problem.start[1]),
            start_gradient_norm(&problem),
            problem.lr,
            problem.escaped_below
        );
        let runs: Vec<Escape> = KINDS
            .iter()
            .map(|&k| {
                let r = escape(k, &problem);
                let steps = r
                    .steps
                    .map_or_else(|| format!("> {}", problem.max_steps), |s| s.to_string());
                println!("   {:<18} {:>7}", k.name(), steps);
                r
            })
            .collect();
        println!();
        runs
    })
}

fn plot(path: &Path, runs: &[Vec<Escape>; 2]) -> Result<(), support::ChartError> {
    use support::{Panel, Series, figure};
    let series = |runs: &[Escape], pick: fn(&Escape, usize) -> f64, limit: usize| {
        KINDS
            .iter()
            .zip(runs)
            .map(|(k, r)| {
                let pts = (0..r.values.len().min(limit))
                    .map(|i| (i as f64, pick(r, i)))
                    .collect();
                Series::new(k.name(), pts)
            })
            .collect::<Vec<_>>()
    };
    let saddle = series(&runs[0], |r, i| r.points[i].1.abs(), 200);
    let plateau = series(&runs[1], |r, i| r.values[i], 600);
    figure(
        path,
        &[
            Panel::new(
                "Saddle x² − y² from (1, 1e-6): distance |y| off the ridge",
                "step",
                "|y|",
                &saddle,
            )
            .log_y()
            .integer_x(),
            Panel::new(
                "Plateau 1 − exp(−r²/2) from (3, 3): f (first 600 steps)",
                "step",
                "f",
                &plateau,
            )
            .integer_x(),
        ],
    )
}

#[allow(dead_code)] // a test includes this file as a module and calls `run` directly
fn main() {
    let args = Args::parse();
    support::require_plot_path(args.plot.as_deref());
    let runs = run();
    if let Some(path) = &args.plot {
        if let Err(e) = plot(path, &runs) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        println!("chart written to {}", path.display());
    }
}
