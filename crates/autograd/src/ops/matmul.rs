//! Matrix products: 2-D, batched with broadcast batch axes, and the 1-D cases, as PyTorch's `matmul`.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor, TensorError};

impl<T: Float> Var<T> {
    /// Matrix product with PyTorch's `matmul` rules; see [`Tensor::try_matmul`] for shapes.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let a = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]));
    /// let v = tape.input(Tensor::from_vec(vec![1.0, -1.0], &[2]));
    /// let y = a.matmul(&v);
    /// assert_eq!(y.value().to_vec(), [-1.0, -1.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&a).unwrap().to_vec(), [1.0, -1.0, 1.0, -1.0]);
    /// assert!(a.try_matmul(&a.constant(Tensor::zeros(&[3]))).is_err());
    /// ```
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
                self.try_record(out, &[self, rhs], saved)
            }
        }
    }
}

impl<T: Float> Var<T> {
    /// The affine map of a dense layer, `y = x·Wᵀ + b`, for `x` `[…, in]`, `W` `[out, in]`, `b` `[out]`
    /// (PyTorch: `torch.nn.functional.linear`).
    ///
    /// One fused op rather than `matmul(W.t()) + b`: its rule produces `∂L/∂W = gᵀ·x` directly in
    /// `W`'s own row-major layout, where the composed form would hand back a transposed view that
    /// must then be copied.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]));
    /// let w = tape.input_with_grad(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]));
    /// let b = tape.input_with_grad(Tensor::from_vec(vec![0.0, 0.0, 1.0], &[3]));
    /// let y = x.linear(&w, Some(&b)); // x·Wᵀ + b
    /// assert_eq!(y.value().to_vec(), [1.0, 2.0, 4.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&w).unwrap().to_vec(), [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]); // gᵀ·x
    /// assert_eq!(g.wrt(&b).unwrap().to_vec(), [1.0, 1.0, 1.0]);
    /// assert!(x.try_linear(&x.constant(Tensor::zeros(&[3, 3])), None).is_err());
    /// ```
    #[track_caller]
    pub fn linear(&self, weight: &Var<T>, bias: Option<&Var<T>>) -> Var<T> {
        or_panic(self.try_linear(weight, bias))
    }

    /// Fallible [`Var::linear`].
    pub fn try_linear(&self, weight: &Var<T>, bias: Option<&Var<T>>) -> Result<Var<T>> {
        let w = weight.value();
        if w.rank() != 2
            || self.shape().is_empty()
            || self.shape()[self.shape().len() - 1] != w.shape()[1]
        {
            return Err(TensorError::ShapeMismatch {
                op: "linear",
                lhs: self.shape().to_vec(),
                rhs: w.shape().to_vec(),
                why: "expects x of shape [.., in] and a weight of shape [out, in]".into(),
            }
            .into());
        }
        if let Some(b) = bias {
            if b.shape() != [w.shape()[0]] {
                return Err(TensorError::ShapeMismatch {
                    op: "linear",
                    lhs: w.shape().to_vec(),
                    rhs: b.shape().to_vec(),
                    why: "the bias needs one entry per output".into(),
                }
                .into());
            }
        }
        let mut out = self.value().try_matmul(&w.t())?;
        let saved = LinearBackward {
            x: self.value().clone(),
            w: w.clone(),
        };
        Ok(match bias {
            Some(b) => {
                // The product is a fresh buffer: the bias goes into it in place, one pass and
                // no second output.
                out.try_add_assign(b.value())?;
                self.try_record(out, &[self, weight, b], saved)?
            }
            None => self.try_record(out, &[self, weight], saved)?,
        })
    }
}

/// Gradient of `y = x·Wᵀ + b`: `∂L/∂x = g·W`, `∂L/∂W = gᵀ·x` (leading axes of `x` flattened into
/// the batch), `∂L/∂b = Σ g` over the batch (left to the tape's `sum_to`).
struct LinearBackward<T> {
    x: Tensor<T>,
    w: Tensor<T>,
}

impl<T: Float> Backward<T> for LinearBackward<T> {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let (out, inputs) = (self.w.shape()[0], self.w.shape()[1]);
        let dw = needs[1].then(|| {
            let rows = g.numel() / out.max(1);
            g.reshape(&[rows, out])
                .t()
                .matmul(&self.x.reshape(&[rows, inputs]))
        });
        let mut grads = vec![needs[0].then(|| g.matmul(&self.w)), dw];
        if needs.len() == 3 {
            grads.push(needs[2].then(|| g.clone()));
        }
        grads
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
