//! Matrix products: 2-D, batched with broadcast batch axes, and the 1-D cases, as PyTorch's `matmul`.

use crate::backward::Backward;
use crate::error::{or_panic, Result};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// Matrix product with PyTorch's `matmul` rules; see [`Tensor::try_matmul`] for shapes.
    #[track_caller]
    pub fn matmul(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_matmul(rhs))
    }

    /// Fallible [`Var::matmul`].
    pub fn try_matmul(&self, rhs: &Var<T>) -> Result<Var<T>> {
        // A vector operand is a 1-row (or 1-column) matrix whose extra axis is removed again;
        // composing with unsqueeze/squeeze keeps one backward rule for every case.
        match (self.shape().len(), rhs.shape().len()) {
            (1, 1) => Ok(self
                .unsqueeze(0)
                .try_matmul(&rhs.unsqueeze(1))?
                .squeeze(-1)
                .squeeze(-1)),
            (1, _) => Ok(self.unsqueeze(0).try_matmul(rhs)?.squeeze(-2)),
            (_, 1) => Ok(self.try_matmul(&rhs.unsqueeze(1))?.squeeze(-1)),
            _ => {
                let out = self.value().try_matmul(rhs.value())?;
                let saved = MatmulBackward {
                    a: self.value().clone(),
                    b: rhs.value().clone(),
                };
                Ok(self.record(out, &[self, rhs], saved))
            }
        }
    }
}

/// Gradient of `c = a·b`: `∂L/∂a = g·bᵀ`, `∂L/∂b = aᵀ·g` (batch broadcasting undone by the tape).
struct MatmulBackward<T> {
    a: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Float> Backward<T> for MatmulBackward<T> {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        // The transposes are views; matmul reads their strides, so nothing is copied.
        vec![
            needs[0].then(|| g.matmul(&self.b.transpose(-2, -1))),
            needs[1].then(|| self.a.transpose(-2, -1).matmul(g)),
        ]
    }
}
