//! `Dropout` as a layer.

use crate::error::{NnError, Result, or_panic};
use crate::module::{Forward, Mode, Module};
use crate::summary::observed;
use tapegrad_autograd::Var;
use tapegrad_tensor::Float;

/// Inverted dropout: in [`Mode::Train`], zeroes each element with probability `p` and scales the
/// rest by `1/(1 − p)`; in [`Mode::Eval`], the identity.
///
/// Masks come from the tape's generator, so a training step's tape must be made with
/// [`Tape::with_seed`](tapegrad_autograd::Tape::with_seed): the same seeds give the same masks.
///
/// ```
/// # use tapegrad_nn::{Dropout, Forward, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::with_seed(1);
/// let x = tape.input(Tensor::<f64>::ones(&[1000]));
/// let y = Dropout::new(0.5).forward(&x, Mode::Train);
/// assert!(y.value().to_vec().iter().all(|&v| v == 0.0 || v == 2.0)); // kept units scaled by 1/(1 − p)
/// assert_eq!(Dropout::new(0.5).forward(&x, Mode::Eval).value().to_vec(), x.value().to_vec());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// Dropout with drop probability `p`.
    ///
    /// # Panics
    /// If `p` is outside `[0, 1)`; [`Dropout::try_new`] returns the error.
    #[track_caller]
    pub fn new(p: f64) -> Self {
        match Self::try_new(p) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    /// Fallible [`Dropout::new`].
    pub fn try_new(p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(NnError::Config {
                what: "Dropout",
                why: format!("probability {p} is outside [0, 1)"),
            });
        }
        Ok(Dropout { p })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl<T: Float> Module<T> for Dropout {}

impl<T: Float> Forward<T> for Dropout {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        if mode == Mode::Eval || self.p == 0.0 {
            return observed(self, Ok(x.clone()));
        }
        if !x.tape().is_seeded() {
            // An implicit seed would silently repeat (or silently vary) the masks.
            return Err(NnError::Config {
                what: "Dropout",
                why: "ran in training mode on a tape without a seed: create the tape with Tape::with_seed(step)".into(),
            });
        }
        let out = x.tape().with_rng(|rng| x.try_dropout(self.p, rng, true));
        observed(self, out.map_err(Into::into))
    }
}
