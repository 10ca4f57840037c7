//! Selection ops: `maximum`, `minimum` and `where_` with a mask.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// Elementwise `max(a, b)` with broadcasting.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let a = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 5.0], &[2]));
    /// let b = tape.input_with_grad(Tensor::from_vec(vec![4.0, 2.0], &[2]));
    /// let y = a.maximum(&b);
    /// assert_eq!(y.value().to_vec(), [4.0, 5.0]);
    /// assert_eq!(a.minimum(&b).value().to_vec(), [1.0, 2.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&a).unwrap().to_vec(), [0.0, 1.0]); // to the larger operand
    /// let bad = a.constant(Tensor::zeros(&[3]));
    /// assert!(a.try_maximum(&bad).is_err() && a.try_minimum(&bad).is_err());
    /// ```
    #[track_caller]
    pub fn maximum(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_maximum(rhs))
    }

    /// Fallible [`Var::maximum`].
    ///
    /// Example: [`Var::maximum`].
    pub fn try_maximum(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let out = self.value().try_maximum(rhs.value())?;
        let saved = PickBackward {
            name: "maximum",
            a: self.value().clone(),
            b: rhs.value().clone(),
            larger: true,
        };
        self.try_record(out, &[self, rhs], saved)
    }

    /// Elementwise `min(a, b)` with broadcasting.
    ///
    /// Example: [`Var::maximum`].
    #[track_caller]
    pub fn minimum(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_minimum(rhs))
    }

    /// Fallible [`Var::minimum`].
    ///
    /// Example: [`Var::maximum`].
    pub fn try_minimum(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let out = self.value().try_minimum(rhs.value())?;
        let saved = PickBackward {
            name: "minimum",
            a: self.value().clone(),
            b: rhs.value().clone(),
            larger: false,
        };
        self.try_record(out, &[self, rhs], saved)
    }

    /// `mask ? self : other` elementwise, with three-way broadcasting; `mask` is nonzero where `self` is taken.
    ///
    /// PyTorch: `self.where(mask, other)`, i.e. `torch.where(mask, self, other)`; the same
    /// argument order as [`Tensor::where_`].
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![-1.0f32, 2.0, -3.0], &[3]));
    /// let mask = x.value().gt_scalar(0.0);
    /// let y = x.where_(&mask, &x.constant(Tensor::scalar(0.0))); // relu
    /// assert_eq!(y.value().to_vec(), [0.0, 2.0, 0.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.0, 1.0, 0.0]);
    /// assert!(x.try_where_(&Tensor::ones(&[2]), &x).is_err());
    /// ```
    #[track_caller]
    pub fn where_(&self, mask: &Tensor<T>, other: &Var<T>) -> Var<T> {
        or_panic(self.try_where_(mask, other))
    }

    /// Fallible [`Var::where_`].
    pub fn try_where_(&self, mask: &Tensor<T>, other: &Var<T>) -> Result<Var<T>> {
        let out = self.value().try_where_(mask, other.value())?;
        self.try_record(out, &[self, other], WhereBackward { mask: mask.clone() })
    }
}

/// Gradient of `c = max(a, b)` (or min): `g` flows to the chosen operand; at a tie it is split
/// equally between them, the average of the two one-sided derivatives (PyTorch does the same).
struct PickBackward<T> {
    name: &'static str,
    a: Tensor<T>,
    b: Tensor<T>,
    larger: bool,
}

impl<T: Float> Backward<T> for PickBackward<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let larger = self.larger;
        // Weight of operand a: 1 where it was picked, ½ at ties, 0 elsewhere.
        let wa = self.a.zip_map(&self.b, move |a, b| {
            if a == b {
                T::from_f64(0.5)
            } else if (a > b) == larger {
                T::ONE
            } else {
                T::ZERO
            }
        });
        let ga = g.mul(&wa);
        let gb = needs[1].then(|| g.sub(&ga));
        vec![needs[0].then_some(ga), gb]
    }
}

/// Gradient of `c = where(m, a, b)`: `∂L/∂a = g` where `m ≠ 0`, `∂L/∂b = g` elsewhere.
struct WhereBackward<T> {
    mask: Tensor<T>,
}

impl<T: Float> Backward<T> for WhereBackward<T> {
    fn name(&self) -> &'static str {
        "where"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let zeros = Tensor::zeros(&[]);
        vec![
            needs[0].then(|| Tensor::select(&self.mask, g, &zeros)),
            needs[1].then(|| Tensor::select(&self.mask, &zeros, g)),
        ]
    }
}
