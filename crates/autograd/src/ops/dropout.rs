//! Inverted dropout: in training, zero each element with probability `p` and scale the kept ones
//! by `1/(1 − p)`, so the expected activation is unchanged and evaluation needs no rescaling.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use rand::Rng;
use tapegrad_tensor::{Float, Tensor, TensorError};

impl<T: Float> Var<T> {
    /// Inverted dropout with drop probability `p`, drawing the mask from `rng`; the identity when
    /// `train` is false or `p` is 0.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::<f32>::ones(&[8]));
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let y = x.dropout(0.5, &mut rng, true);
    /// // Each element is dropped or scaled by 1 / (1 − p):
    /// assert!(y.value().to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
    /// assert_eq!(x.dropout(0.5, &mut rng, false).value().to_vec(), [1.0; 8]); // eval: identity
    /// assert!(x.try_dropout(1.0, &mut rng, true).is_err());
    /// ```
    ///
    /// # Panics
    /// If `p` is outside `[0, 1)`; [`Var::try_dropout`] returns the error.
    #[track_caller]
    pub fn dropout(&self, p: f64, rng: &mut impl Rng, train: bool) -> Var<T> {
        or_panic(self.try_dropout(p, rng, train))
    }

    /// Fallible [`Var::dropout`].
    pub fn try_dropout(&self, p: f64, rng: &mut impl Rng, train: bool) -> Result<Var<T>> {
        if !(0.0..1.0).contains(&p) {
            return Err(TensorError::InvalidArgument {
                op: "dropout",
                what: format!("probability {p} is outside [0, 1)"),
            }
            .into());
        }
        if !train || p == 0.0 {
            return Ok(self.clone());
        }
        let mask = Tensor::<T>::bernoulli(self.shape(), 1.0 - p, rng)
            .mul_scalar(T::from_f64(1.0 / (1.0 - p)));
        let out = self.value().mul(&mask);
        Ok(self.record(out, &[self], DropoutBackward { mask }))
    }
}

/// Gradient of dropout: `g ⊙ mask`, the same scaled mask the forward drew.
struct DropoutBackward<T> {
    mask: Tensor<T>,
}

impl<T: Float> Backward<T> for DropoutBackward<T> {
    fn name(&self) -> &'static str {
        "dropout"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.mul(&self.mask))]
    }
}
