//! Selection ops: `maximum`, `minimum` and `where_` with a mask.

use crate::backward::Backward;
use crate::error::{or_panic, Result};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// Elementwise `max(a, b)` with broadcasting.
    #[track_caller]
    pub fn maximum(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_maximum(rhs))
    }

    /// Fallible [`Var::maximum`].
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
    #[track_caller]
    pub fn minimum(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_minimum(rhs))
    }

    /// Fallible [`Var::minimum`].
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
