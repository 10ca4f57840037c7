//! L2 regularisation as a loss term, so autograd differentiates it like any other.
//!
//! `λ/(2m) Σ_l ‖W_l‖²` over the weights (biases excluded by default, as in the course), with `m`
//! the batch size. Its gradient is `(λ/m)·W`, so with plain SGD it equals *coupled* weight decay
//! `wd = λ/m` (`Sgd { weight_decay }` in tapegrad-optim). With Adam the two differ: the penalty's
//! gradient is rescaled by Adam's per-parameter step size, while AdamW's *decoupled* decay shrinks
//! weights directly, which is why AdamW exists.

use crate::error::{NnError, Result, or_panic};
use crate::module::{Module, Named};
use tapegrad_autograd::{Tape, Var};
use tapegrad_tensor::{Float, Tensor};

/// Which parameters the penalty covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum L2Scope {
    /// Parameters whose name ends in `weight` (the default).
    #[default]
    Weights,
    /// Every parameter, biases included.
    All,
}

/// ```
/// # use tapegrad_nn::{l2_penalty, Init, Linear, Module};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let layer = Linear::<f64>::from_tensors(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]), Some(Tensor::ones(&[1])));
/// let tape = Tape::new();
/// let penalty = l2_penalty(&tape, &layer, 0.5, 5); // 0.5/(2·5) · (1² + 2²); the bias is excluded
/// assert!((penalty.value().item() - 0.25).abs() < 1e-12);
/// ```
/// `λ/(2m) Σ ‖W‖²` over `model`'s weights, recorded on `tape`.
///
/// # Panics
/// If `λ` is NaN, infinite or negative, or `m` is 0; [`try_l2_penalty`] returns the error.
#[track_caller]
pub fn l2_penalty<T: Float>(
    tape: &Tape<T>,
    model: &dyn Module<T>,
    lambda: f64,
    m: usize,
) -> Var<T> {
    or_panic(try_l2_penalty(tape, model, lambda, m))
}

/// Fallible [`l2_penalty`].
///
/// # Errors
/// [`NnError::Config`] if `λ` is NaN, infinite or negative, or the batch size `m` is 0 (the
/// penalty would be NaN or infinite).
pub fn try_l2_penalty<T: Float>(
    tape: &Tape<T>,
    model: &dyn Module<T>,
    lambda: f64,
    m: usize,
) -> Result<Var<T>> {
    try_l2_penalty_of(tape, &model.parameters(), lambda, m, L2Scope::Weights)
}

/// `λ/(2m) Σ ‖p‖²` over the parameters in `scope`.
///
/// # Panics
/// If `λ` is NaN, infinite or negative, or `m` is 0; [`try_l2_penalty_of`] returns the error.
#[track_caller]
pub fn l2_penalty_of<T: Float>(
    tape: &Tape<T>,
    params: &[Named<T>],
    lambda: f64,
    m: usize,
    scope: L2Scope,
) -> Var<T> {
    or_panic(try_l2_penalty_of(tape, params, lambda, m, scope))
}

/// Fallible [`l2_penalty_of`].
///
/// # Errors
/// [`NnError::Config`] if `λ` is NaN, infinite or negative, or the batch size `m` is 0.
pub fn try_l2_penalty_of<T: Float>(
    tape: &Tape<T>,
    params: &[Named<T>],
    lambda: f64,
    m: usize,
    scope: L2Scope,
) -> Result<Var<T>> {
    let bad = |why: String| {
        Err(NnError::Config {
            what: "l2_penalty",
            why,
        })
    };
    if !(lambda.is_finite() && lambda >= 0.0) {
        return bad(format!(
            "lambda must be finite and non-negative, got {lambda}"
        ));
    }
    if m == 0 {
        return bad("the batch size m must be positive, got 0".into());
    }
    let mut total = tape.input(Tensor::scalar(T::ZERO));
    for (name, p) in params {
        if scope == L2Scope::All || name.ends_with("weight") {
            total = total + tape.param(p).square().sum_all();
        }
    }
    Ok(total.mul_scalar(T::from_f64(lambda / (2.0 * m as f64))))
}
