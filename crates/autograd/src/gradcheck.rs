//! Numerical gradient checking: every backward rule is compared with centered finite differences.
//!
//! Two checks, both in `f64`:
//! - [`gradcheck`] checks an op (or any function of tensors): for a random upstream gradient `u`
//!   it compares the analytic vector–Jacobian product `uᵀ·J` with the centered difference
//!   `(⟨u, f(x + ε·e_i)⟩ − ⟨u, f(x − ε·e_i)⟩) / 2ε` for every element `i` of every input.
//! - [`gradcheck_params`] checks a whole model the textbook way: flatten every parameter into one
//!   θ, and compare dJ/dθ with the centered difference by `‖g_num − g_ana‖ / (‖g_num‖ + ‖g_ana‖)`.
//!
//! The analytic pass sees the inputs exactly as given, so a transposed, step-sliced or broadcast
//! view exercises the op's strided kernels; the numeric pass perturbs a contiguous copy, because
//! perturbing one storage element of a broadcast view would move every element aliased to it.
//!
//! Non-differentiable points (relu and abs at 0, ties in max) have no gradient to check; tests pick
//! inputs away from them. Where an input lands within ε of one anyway, the two one-sided
//! differences disagree, and the failure report says so instead of a bare mismatch.

use crate::error::AutogradError;
use crate::param::Param;
use crate::tape::Tape;
use crate::var::Var;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::fmt;
use tapegrad_tensor::Tensor;

/// Step and tolerances of [`gradcheck`].
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Finite-difference step. Default `1e-6`.
    pub eps: f64,
    /// Absolute tolerance. Default `1e-5`.
    pub atol: f64,
    /// Relative tolerance. Default `1e-3`.
    pub rtol: f64,
    /// Seed of the random upstream gradient. Default `0`.
    pub seed: u64,
}

impl Default for Check {
    fn default() -> Self {
        Check {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            seed: 0,
        }
    }
}

/// One element whose analytic and numeric gradients were compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Which input (position in `inputs`), or which parameter (its name) for a model check.
    pub input: String,
    /// The element's multi-index within that input.
    pub index: Vec<usize>,
    /// The backward rule's value.
    pub analytic: f64,
    /// The centered difference.
    pub numeric: f64,
    /// `|analytic − numeric| / max(|analytic|, |numeric|)` (0 when both are 0).
    pub rel_error: f64,
    /// The two one-sided differences, when they disagree: the input sits on a kink.
    pub kink: Option<(f64, f64)>,
}

/// What a passing check measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The name the check was given.
    pub name: String,
    /// The ops recorded on the analytic tape (each backward rule this check covered).
    pub ops: Vec<&'static str>,
    /// The element with the largest relative error, if any element was compared.
    pub worst: Option<Mismatch>,
    /// For [`gradcheck_params`]: `‖g_num − g_ana‖ / (‖g_num‖ + ‖g_ana‖)`.
    pub relative_difference: f64,
}

/// Why a check failed.
#[derive(Debug, Clone)]
pub enum GradcheckError {
    /// An analytic gradient disagrees with the numeric one.
    Mismatch {
        /// The name the check was given.
        name: String,
        /// The worst element.
        worst: Box<Mismatch>,
        /// For a model check, the relative difference of the whole θ (else the worst element's).
        relative_difference: f64,
        /// The tolerance that was exceeded, described.
        tolerance: String,
    },
    /// The function itself failed (a shape error, an anomaly).
    Autograd(AutogradError),
    /// The check cannot be meaningful as asked.
    Refused {
        /// The name the check was given.
        name: String,
        /// Why, and what to do instead.
        why: String,
    },
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradcheckError::Mismatch {
                name,
                worst,
                relative_difference,
                tolerance,
            } => {
                write!(
                    f,
                    "gradcheck of {name}: input {} element {:?}: analytic {:.6e}, numeric {:.6e}, relative error {:.3e} \
                     (relative difference {:.3e}; tolerance {tolerance})",
                    worst.input,
                    worst.index,
                    worst.analytic,
                    worst.numeric,
                    worst.rel_error,
                    relative_difference
                )?;
                if let Some((left, right)) = worst.kink {
                    write!(
                        f,
                        "; this element lies within ε of a point where the function is not differentiable \
                         (one-sided differences {left:.6e} and {right:.6e} disagree): move the test input away from it"
                    )?;
                }
                Ok(())
            }
            GradcheckError::Autograd(e) => write!(f, "gradcheck: {e}"),
            GradcheckError::Refused { name, why } => {
                write!(f, "gradcheck of {name} refused: {why}")
            }
        }
    }
}

impl std::error::Error for GradcheckError {}

impl From<AutogradError> for GradcheckError {
    fn from(e: AutogradError) -> Self {
        GradcheckError::Autograd(e)
    }
}

fn rel_error(a: f64, n: f64) -> f64 {
    let scale = a.abs().max(n.abs());
    if scale == 0.0 {
        0.0
    } else {
        (a - n).abs() / scale
    }
}

fn multi_index(shape: &[usize], mut linear: usize) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for i in (0..shape.len()).rev() {
        index[i] = linear % shape[i];
        linear /= shape[i];
    }
    index
}

fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.to_vec().iter().zip(b.to_vec()).map(|(x, y)| x * y).sum()
}

/// Checks the backward rules behind `f` against centered differences, for every element of every input.
///
/// `name` labels the report (usually the op under test). Returns a [`Report`] on success, or the
/// worst element on failure: which input, its index, both values and the relative error.
///
/// ```
/// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
/// use tapegrad::prelude::*;
/// let x = Tensor::from_vec(vec![0.3f64, -1.2, 2.0], &[3]);
/// let report = gradcheck("tanh", |v| v[0].tanh(), &[x], Check::default()).unwrap();
/// assert!(report.ops.contains(&"tanh"));
/// ```
pub fn gradcheck(
    name: &str,
    f: impl Fn(&[Var<f64>]) -> Var<f64>,
    inputs: &[Tensor<f64>],
    check: Check,
) -> Result<Report, GradcheckError> {
    // Analytic: one backward pass of a random upstream gradient through the inputs as given.
    let tape = Tape::<f64>::new();
    let vars: Vec<Var<f64>> = inputs
        .iter()
        .map(|x| tape.input_with_grad(x.clone()))
        .collect();
    let out = f(&vars);
    let mut rng = StdRng::seed_from_u64(check.seed);
    let upstream = Tensor::<f64>::rand_normal(out.shape(), &mut rng);
    let grads = out.try_backward_with(upstream.clone())?;
    let ops = tape.op_names();

    let base: Vec<Tensor<f64>> = inputs.iter().map(|x| x.contiguous()).collect();
    let eval = |inputs: &[Tensor<f64>]| -> f64 {
        let tape = Tape::<f64>::new();
        let vars: Vec<Var<f64>> = inputs.iter().map(|x| tape.input(x.clone())).collect();
        dot(f(&vars).value(), &upstream)
    };
    let mut worst: Option<Mismatch> = None;
    let mut failure: Option<Mismatch> = None;
    for (i, x) in base.iter().enumerate() {
        let analytic = grads
            .wrt(&vars[i])
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; x.numel()]);
        let values = x.to_vec();
        for (j, &xj) in values.iter().enumerate() {
            let at = |value: f64| {
                let mut moved = values.clone();
                moved[j] = value;
                let mut args = base.clone();
                args[i] = Tensor::from_vec(moved, x.shape());
                eval(&args)
            };
            let (plus, minus) = (at(xj + check.eps), at(xj - check.eps));
            let numeric = (plus - minus) / (2.0 * check.eps);
            let a = analytic[j];
            let m = Mismatch {
                input: i.to_string(),
                index: multi_index(x.shape(), j),
                analytic: a,
                numeric,
                rel_error: rel_error(a, numeric),
                kink: None,
            };
            let ok = (a - numeric).abs() <= check.atol + check.rtol * numeric.abs();
            if worst.as_ref().is_none_or(|w| m.rel_error > w.rel_error) {
                worst = Some(m.clone());
            }
            if !ok
                && failure
                    .as_ref()
                    .is_none_or(|w| (m.analytic - m.numeric).abs() > (w.analytic - w.numeric).abs())
            {
                let centre = eval(&base);
                let (left, right) = ((centre - minus) / check.eps, (plus - centre) / check.eps);
                let mut m = m;
                if (left - right).abs() > check.atol + check.rtol * left.abs().max(right.abs()) {
                    m.kink = Some((left, right));
                }
                failure = Some(m);
            }
        }
    }
    match failure {
        Some(worst) => Err(GradcheckError::Mismatch {
            name: name.to_string(),
            relative_difference: worst.rel_error,
            worst: Box::new(worst),
            tolerance: format!(
                "|analytic − numeric| ≤ {:e} + {:e}·|numeric|, ε = {:e}",
                check.atol, check.rtol, check.eps
            ),
        }),
        None => Ok(Report {
            name: name.to_string(),
            ops,
            relative_difference: worst.as_ref().map_or(0.0, |w| w.rel_error),
            worst,
        }),
    }
}

/// How random ops (dropout) draw their masks during [`gradcheck_params`]: each evaluation of the
/// loss runs on a tape made by [`Tape::with_seed`], and this chooses the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Masks {
    /// Every evaluation gets a different seed, as in training; a loss that draws random masks is
    /// refused, because each evaluation would then see a different function.
    Fresh,
    /// Every evaluation gets this seed, so each one draws the same mask and the model with dropout
    /// active is one fixed, differentiable function that can be checked exactly.
    Replay {
        /// The seed every evaluation starts from.
        seed: u64,
    },
}

/// Settings of [`gradcheck_params`].
#[derive(Debug, Clone, Copy)]
pub struct ModelCheck {
    /// Finite-difference step. Default `1e-7`, as in the textbook recipe.
    pub eps: f64,
    /// Largest accepted `‖g_num − g_ana‖ / (‖g_num‖ + ‖g_ana‖)`. Default `1e-7`.
    pub threshold: f64,
    /// How random ops draw masks. Default [`Masks::Fresh`].
    pub masks: Masks,
}

impl Default for ModelCheck {
    fn default() -> Self {
        ModelCheck {
            eps: 1e-7,
            threshold: 1e-7,
            masks: Masks::Fresh,
        }
    }
}

/// The parameters [`gradcheck_params`] perturbs, with the names its report uses: bare
/// [`Param`]s go by their own names, `(name, param)` pairs (a module's `parameters()`) by the
/// pair's name, so a failure reads `2.weight[0, 3]`, not a layer-local `weight[0, 3]`.
pub trait CheckedParams {
    /// The parameters in order, each with the name a report gives it.
    fn checked_params(&self) -> Vec<(String, Param<f64>)>;
}

impl CheckedParams for [Param<f64>] {
    fn checked_params(&self) -> Vec<(String, Param<f64>)> {
        self.iter()
            .map(|p| (p.name().to_string(), p.clone()))
            .collect()
    }
}

impl CheckedParams for [(String, Param<f64>)] {
    fn checked_params(&self) -> Vec<(String, Param<f64>)> {
        self.to_vec()
    }
}

impl<const N: usize> CheckedParams for [Param<f64>; N] {
    fn checked_params(&self) -> Vec<(String, Param<f64>)> {
        self.as_slice().checked_params()
    }
}

impl CheckedParams for Vec<Param<f64>> {
    fn checked_params(&self) -> Vec<(String, Param<f64>)> {
        self.as_slice().checked_params()
    }
}

impl CheckedParams for Vec<(String, Param<f64>)> {
    fn checked_params(&self) -> Vec<(String, Param<f64>)> {
        self.clone()
    }
}

/// The textbook model check: flatten `params` (W1, b1, …, WL, bL) into θ, compute `J(θ ± ε·e_i)` for
/// every `i`, and compare with the analytic dJ/dθ by `‖g_num − g_ana‖ / (‖g_num‖ + ‖g_ana‖)`.
///
/// `loss(tape)` must link the parameters with `tape.param(p)` and return the scalar loss,
/// regularisation included; random ops draw from the tape's generator (see [`Masks`]). On failure
/// the report names the parameter and element with the largest absolute difference; pass a
/// module's `parameters()` to have it named by its dotted path ([`CheckedParams`]).
///
/// Frozen parameters ([`Param::set_requires_grad`]`(false)`) are constants of the loss, with no
/// analytic gradient to compare: they are left out, and θ holds only the trainable ones. A list
/// with parameters that are all frozen is refused, since nothing would be checked.
pub fn gradcheck_params(
    name: &str,
    loss: impl Fn(&Tape<f64>) -> Var<f64>,
    params: &(impl CheckedParams + ?Sized),
    opts: ModelCheck,
) -> Result<Report, GradcheckError> {
    let all = params.checked_params();
    let params: Vec<(String, Param<f64>)> = all
        .iter()
        .filter(|(_, p)| p.requires_grad())
        .cloned()
        .collect();
    if params.is_empty() && !all.is_empty() {
        return Err(GradcheckError::Refused {
            name: name.to_string(),
            why: format!(
                "all {} parameters are frozen (requires_grad is false), so there is no gradient to check; \
                 unfreeze the ones to check with set_requires_grad(true)",
                all.len()
            ),
        });
    }
    let draws = std::cell::Cell::new(0u64);
    let next_tape = || {
        draws.set(draws.get() + 1);
        match opts.masks {
            Masks::Fresh => Tape::<f64>::with_seed(0x9e37_79b9_7f4a_7c15 ^ draws.get()),
            Masks::Replay { seed } => Tape::<f64>::with_seed(seed),
        }
    };
    let eval = || -> Result<f64, GradcheckError> {
        let out = loss(&next_tape());
        out.value()
            .try_item()
            .map_err(|e| GradcheckError::Autograd(e.into()))
    };
    let (first, second) = (eval()?, eval()?);
    if first.to_bits() != second.to_bits() {
        return Err(GradcheckError::Refused {
            name: name.to_string(),
            why: format!(
                "the loss changed between two evaluations at the same parameters ({first:e} vs {second:e}), so a random op \
                 such as dropout is active and every finite difference would see a different function; evaluate the model \
                 in eval mode, or use Masks::Replay so that every evaluation draws the same mask"
            ),
        });
    }

    let tape = next_tape();
    let out = loss(&tape);
    let grads = out.try_backward()?;
    let ops = tape.op_names();

    let (mut diff2, mut num2, mut ana2) = (0.0f64, 0.0f64, 0.0f64);
    let mut worst: Option<Mismatch> = None;
    for (pname, p) in &params {
        let original = p.value();
        let analytic = grads
            .get(p)
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; original.numel()]);
        let values = original.to_vec();
        for (j, &theta) in values.iter().enumerate() {
            p.update(|s| s[j] = theta + opts.eps);
            let plus = eval();
            p.update(|s| s[j] = theta - opts.eps);
            let minus = eval();
            p.set_value(original.clone());
            let numeric = (plus? - minus?) / (2.0 * opts.eps);
            let a = analytic[j];
            diff2 += (numeric - a) * (numeric - a);
            num2 += numeric * numeric;
            ana2 += a * a;
            if worst
                .as_ref()
                .is_none_or(|w| (a - numeric).abs() > (w.analytic - w.numeric).abs())
            {
                worst = Some(Mismatch {
                    input: pname.clone(),
                    index: multi_index(original.shape(), j),
                    analytic: a,
                    numeric,
                    rel_error: rel_error(a, numeric),
                    kink: None,
                });
            }
        }
    }
    let denom = num2.sqrt() + ana2.sqrt();
    let relative_difference = if denom == 0.0 {
        0.0
    } else {
        diff2.sqrt() / denom
    };
    if relative_difference > opts.threshold {
        return Err(GradcheckError::Mismatch {
            name: name.to_string(),
            worst: Box::new(worst.expect("a failing check compared at least one element")),
            relative_difference,
            tolerance: format!(
                "‖g_num − g_ana‖ / (‖g_num‖ + ‖g_ana‖) ≤ {:e}, ε = {:e}",
                opts.threshold, opts.eps
            ),
        });
    }
    Ok(Report {
        name: name.to_string(),
        ops,
        worst,
        relative_difference,
    })
}
