//! Elementwise losses between a prediction and a target of the same shape: L1, Huber and the
//! KL divergence (and the shared frame that `mse` uses too). Each is composed from differentiable pieces (the Huber kink is one [`Unary`]),
//! so its gradient is theirs; each reduces as [`Reduction`] says, an empty mean being an error.

use super::loss::{Reduction, check_mean_of_some};
use crate::backward::{Reads, Unary};
use crate::error::{AutogradError, Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor, TensorError};

/// Huber's `½d²` for `|d| ≤ δ`, else `δ(|d| − ½δ)`; derivative `d`, else `δ·sign(d)`.
#[derive(Clone, Copy)]
pub struct Huber(pub f64);
impl Unary for Huber {
    const NAME: &'static str = "huber";
    const DF_READS: Reads = Reads::Input;
    fn f<T: Float>(self, d: T) -> T {
        let delta = T::from_f64(self.0);
        let half = T::from_f64(0.5);
        if d.abs() <= delta {
            half * d * d
        } else {
            delta * (d.abs() - half * delta)
        }
    }
    fn df<T: Float>(self, d: T, _y: T) -> T {
        let delta = T::from_f64(self.0);
        if d.abs() <= delta {
            d
        } else if d > T::ZERO {
            delta
        } else {
            -delta
        }
    }
}

impl<T: Float> Var<T> {
    /// Checks shapes, tapes and the empty mean, then reduces `per(self − target)`: the frame of
    /// every prediction-vs-target loss (mse, l1, huber).
    pub(super) fn pair_loss(
        &self,
        op: &'static str,
        target: &Var<T>,
        reduction: Reduction,
        per: impl FnOnce(Var<T>) -> Var<T>,
    ) -> Result<Var<T>> {
        if self.shape() != target.shape() {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: self.shape().to_vec(),
                rhs: target.shape().to_vec(),
                why: "prediction and target must have the same shape".into(),
            }
            .into());
        }
        if !self.tape().same_as(target.tape()) {
            return Err(AutogradError::TapeMismatch { op });
        }
        check_mean_of_some(op, self.shape(), self.value().numel(), reduction)?;
        let per = per(self.try_sub(target)?);
        Ok(match reduction {
            Reduction::Mean => per.try_mean_all()?,
            Reduction::Sum => per.sum_all(),
            Reduction::None => per,
        })
    }

    /// Mean (or summed) absolute error `|self − target|` (PyTorch: `l1_loss`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let pred = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 5.0], &[2]));
    /// let target = tape.input(Tensor::from_vec(vec![3.0, 2.0], &[2]));
    /// let loss = pred.l1(&target, Reduction::Mean);
    /// assert_eq!(loss.value().item(), 2.5); // (2 + 3) / 2
    /// assert_eq!(loss.backward().wrt(&pred).unwrap().to_vec(), [-0.5, 0.5]);
    /// assert!(pred.try_l1(&pred.constant(Tensor::zeros(&[3])), Reduction::Mean).is_err());
    /// ```
    #[track_caller]
    pub fn l1(&self, target: &Var<T>, reduction: Reduction) -> Var<T> {
        or_panic(self.try_l1(target, reduction))
    }

    /// Fallible [`Var::l1`]: `ShapeMismatch`, `TapeMismatch`, or `Empty` for the mean of nothing.
    pub fn try_l1(&self, target: &Var<T>, reduction: Reduction) -> Result<Var<T>> {
        self.pair_loss("l1", target, reduction, |d| d.abs())
    }

    /// Huber loss with threshold `delta`: quadratic for errors up to `delta`, linear beyond
    /// (PyTorch: `huber_loss`; `smooth_l1_loss` is this divided by `delta`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let pred = tape.input_with_grad(Tensor::from_vec(vec![0.5f32, 3.0], &[2]));
    /// let target = tape.input(Tensor::zeros(&[2]));
    /// let loss = pred.huber(&target, 1.0, Reduction::Sum);
    /// assert_eq!(loss.value().item(), 2.625); // ½·0.5² + (3 − ½)
    /// assert_eq!(loss.backward().wrt(&pred).unwrap().to_vec(), [0.5, 1.0]);
    /// assert!(pred.try_huber(&target, 0.0, Reduction::Sum).is_err()); // delta must be positive
    /// ```
    #[track_caller]
    pub fn huber(&self, target: &Var<T>, delta: f64, reduction: Reduction) -> Var<T> {
        or_panic(self.try_huber(target, delta, reduction))
    }

    /// Fallible [`Var::huber`]; also `InvalidArgument` for a `delta` that is not positive and finite.
    pub fn try_huber(&self, target: &Var<T>, delta: f64, reduction: Reduction) -> Result<Var<T>> {
        if !(delta > 0.0 && delta.is_finite()) {
            return Err(TensorError::InvalidArgument {
                op: "huber",
                what: format!("delta {delta} is not positive and finite"),
            }
            .into());
        }
        self.pair_loss("huber", target, reduction, |d| d.unary(Huber(delta)))
    }

    /// KL divergence `Σ p·(ln p − self)` of log-probabilities `self` from target probabilities
    /// `p` (PyTorch: `kl_div(input, target)`); a target of 0 contributes exactly 0. PyTorch's
    /// `batchmean` is [`Reduction::Sum`] divided by the batch size.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let ln_half = -std::f64::consts::LN_2;
    /// let log_q = tape.input_with_grad(Tensor::from_vec(vec![ln_half, ln_half], &[2]));
    /// let p = Tensor::from_vec(vec![1.0, 0.0], &[2]);
    /// let loss = log_q.kl_div(&p, Reduction::Sum); // 1·(ln 1 − ln ½) + 0
    /// assert!((loss.value().item() - std::f64::consts::LN_2).abs() < 1e-12);
    /// assert_eq!(loss.backward().wrt(&log_q).unwrap().to_vec(), [-1.0, 0.0]); // −p
    /// assert!(log_q.try_kl_div(&Tensor::zeros(&[3]), Reduction::Sum).is_err());
    /// ```
    #[track_caller]
    pub fn kl_div(&self, target: &Tensor<T>, reduction: Reduction) -> Var<T> {
        or_panic(self.try_kl_div(target, reduction))
    }

    /// Fallible [`Var::kl_div`]: `ShapeMismatch`, or `Empty` for the mean of nothing.
    pub fn try_kl_div(&self, target: &Tensor<T>, reduction: Reduction) -> Result<Var<T>> {
        if self.shape() != target.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "kl_div",
                lhs: self.shape().to_vec(),
                rhs: target.shape().to_vec(),
                why: "log-probabilities and target probabilities must have the same shape".into(),
            }
            .into());
        }
        check_mean_of_some("kl_div", self.shape(), target.numel(), reduction)?;
        // p·ln p is a constant of the input (0 where p = 0); only −p·x carries a gradient.
        let entropy_term = target.map(|p| if p == T::ZERO { T::ZERO } else { p * p.ln() });
        let p = self.tape().input(target.clone());
        let per = self.tape().input(entropy_term).try_sub(&p.try_mul(self)?)?;
        Ok(match reduction {
            Reduction::Mean => per.try_mean_all()?,
            Reduction::Sum => per.sum_all(),
            Reduction::None => per,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tape;
    use crate::ops::Reduction;
    use tapegrad_tensor::Tensor;

    /// Hand-computed values: L1, Huber on both sides of δ, and KL with a zero target entry.
    #[test]
    fn losses_match_hand_computed_values() {
        let tape = Tape::<f64>::new();
        let x = tape.input(Tensor::from_vec(vec![0.0, 3.0, -0.5], &[3]));
        let y = tape.input(Tensor::from_vec(vec![1.0, 0.0, 0.0], &[3]));
        assert_eq!(x.l1(&y, Reduction::Sum).value().item(), 4.5);
        // d = [−1, 3, −0.5], δ = 1: ½·1 + 1·(3 − ½) + ½·0.25.
        assert_eq!(x.huber(&y, 1.0, Reduction::Sum).value().item(), 3.125);
        assert!(x.try_huber(&y, 0.0, Reduction::Sum).is_err());
        let logp = tape.input(Tensor::from_vec(
            vec![0.5f64.ln(), 0.5f64.ln(), -1e300],
            &[3],
        ));
        let p = Tensor::from_vec(vec![0.25, 0.75, 0.0], &[3]);
        let want = 0.25 * (0.25f64.ln() - 0.5f64.ln()) + 0.75 * (0.75f64.ln() - 0.5f64.ln());
        let got = logp.kl_div(&p, Reduction::Sum).value().item();
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        let empty = tape.input(Tensor::<f64>::zeros(&[0]));
        assert!(empty.try_l1(&empty, Reduction::Mean).is_err());
    }
}
