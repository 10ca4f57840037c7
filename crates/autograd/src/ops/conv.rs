//! Convolutions: `conv2d` on NCHW and `conv1d` on NCW (a `conv2d` over one row), with stride,
//! zero padding, dilation and groups, as PyTorch's.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::conv::{Conv1dOptions, Conv2dOptions, conv2d_grads};
use tapegrad_tensor::{Float, Tensor, TensorError};

impl<T: Float> Var<T> {
    /// 2-D convolution of an `[N, C, H, W]` input (or `[C, H, W]`) with a weight
    /// `[O, C/groups, KH, KW]` and an optional bias `[O]` (PyTorch: `F.conv2d`); see
    /// [`Tensor::try_conv2d`] for the output size.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::ones(&[1, 1, 3, 3]));
    /// let w = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 1, 2, 2]));
    /// let y = x.conv2d(&w, None, Conv2dOptions::default());
    /// assert_eq!(y.value().to_vec(), [10.0; 4]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&w).unwrap().to_vec(), [4.0; 4]); // every tap saw four ones
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0]);
    /// assert!(x.try_conv2d(&w, None, Conv2dOptions::default().groups(2)).is_err());
    /// ```
    #[track_caller]
    pub fn conv2d(&self, weight: &Var<T>, bias: Option<&Var<T>>, opts: Conv2dOptions) -> Var<T> {
        or_panic(self.try_conv2d(weight, bias, opts))
    }

    /// Fallible [`Var::conv2d`].
    pub fn try_conv2d(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        opts: Conv2dOptions,
    ) -> Result<Var<T>> {
        if self.shape().len() == 3 {
            return self
                .try_unsqueeze(0)?
                .try_conv2d(weight, bias, opts)?
                .try_squeeze(0);
        }
        let out = self
            .value()
            .try_conv2d(weight.value(), bias.map(|b| b.value()), opts)?;
        let saved = Conv2dBackward {
            x: self.value().clone(),
            w: weight.value().clone(),
            opts,
        };
        match bias {
            Some(b) => self.try_record(out, &[self, weight, b], saved),
            None => self.try_record(out, &[self, weight], saved),
        }
    }

    /// 1-D convolution of an `[N, C, L]` input (or `[C, L]`) with a weight `[O, C/groups, K]`
    /// and an optional bias `[O]` (PyTorch: `F.conv1d`): a [`Var::conv2d`] over one row.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 4.0, 8.0], &[1, 1, 4]));
    /// let w = tape.input_with_grad(Tensor::from_vec(vec![-1.0, 1.0], &[1, 1, 2]));
    /// let y = x.conv1d(&w, None, Conv1dOptions::default());
    /// assert_eq!(y.value().to_vec(), [1.0, 2.0, 4.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [-1.0, 0.0, 0.0, 1.0]);
    /// assert_eq!(g.wrt(&w).unwrap().to_vec(), [7.0, 14.0]);
    /// assert!(x.try_conv1d(&w, None, Conv1dOptions::default().padding(0).dilation(4)).is_err());
    /// ```
    #[track_caller]
    pub fn conv1d(&self, weight: &Var<T>, bias: Option<&Var<T>>, opts: Conv1dOptions) -> Var<T> {
        or_panic(self.try_conv1d(weight, bias, opts))
    }

    /// Fallible [`Var::conv1d`].
    pub fn try_conv1d(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        opts: Conv1dOptions,
    ) -> Result<Var<T>> {
        let (xs, ws) = (self.shape(), weight.shape());
        let shape_error = |why: String| -> crate::error::AutogradError {
            TensorError::ShapeMismatch {
                op: "conv1d",
                lhs: xs.to_vec(),
                rhs: ws.to_vec(),
                why,
            }
            .into()
        };
        if !(2..=3).contains(&xs.len()) || ws.len() != 3 {
            return Err(shape_error(
                "expects an input [batch, channels, length] and a weight [out, in/groups, k]"
                    .into(),
            ));
        }
        // A 2-D error would show the made-up unit axes: it is reworded for the 1-D operands.
        let y = self
            .unsqueeze(-2)
            .try_conv2d(&weight.unsqueeze(-2), bias, opts.as_2d())
            .map_err(|err| match err {
                crate::error::AutogradError::Tensor(TensorError::ShapeMismatch { why, .. }) => {
                    shape_error(why)
                }
                crate::error::AutogradError::Tensor(other) => other.renamed("conv1d").into(),
                other => other,
            })?;
        Ok(y.squeeze(-2))
    }
}

/// Gradient of `y = conv2d(x, W) + b`: `∂x = col2im(Wᵀ·g)`, `∂W = Σ_n g_n·colsᵀ` (one pass over
/// the batch for both), `∂b = Σ g` over batch and positions.
struct Conv2dBackward<T> {
    x: Tensor<T>,
    w: Tensor<T>,
    opts: Conv2dOptions,
}

impl<T: Float> Backward<T> for Conv2dBackward<T> {
    fn name(&self) -> &'static str {
        "conv2d"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let (dx, dw) = conv2d_grads(g, &self.x, &self.w, self.opts, needs[0], needs[1])
            .expect("conv2d backward: the shapes were checked in the forward pass");
        let mut grads = vec![dx, dw];
        if needs.len() == 3 {
            grads.push(needs[2].then(|| g.sum(&[0, 2, 3], false)));
        }
        grads
    }
}
