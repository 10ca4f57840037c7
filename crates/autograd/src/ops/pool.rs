//! 2-D pooling: max, average and adaptive average pooling over `[N, C, H, W]` (or `[C, H, W]`);
//! the kernels and their gradient kernels live in `tapegrad_tensor::pool`.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::pool::{self, Pool2d};
use tapegrad_tensor::window::Size2;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// 2-D max pooling, recorded on the tape; see [`Tensor::max_pool2d`] for sizes and padding.
    ///
    /// Gradient: each `g` element goes to its window's maximum; on ties, to the **first**
    /// maximum in the window's row-major order (a NaN in the window is its maximum).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f64, 4.0, 4.0, 2.0], &[1, 1, 2, 2]));
    /// let y = x.max_pool2d(Pool2d::new(2));
    /// assert_eq!(y.value().to_vec(), [4.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [0.0, 1.0, 0.0, 0.0]); // the first 4 only
    /// assert!(x.try_max_pool2d(Pool2d::new(3)).is_err());
    /// ```
    ///
    /// # Panics
    /// On a bad input or options; [`Var::try_max_pool2d`] returns the error.
    #[track_caller]
    pub fn max_pool2d(&self, opts: Pool2d) -> Var<T> {
        or_panic(self.try_max_pool2d(opts))
    }

    /// Fallible [`Var::max_pool2d`].
    ///
    /// # Errors
    /// As [`Tensor::try_max_pool2d`].
    pub fn try_max_pool2d(&self, opts: Pool2d) -> Result<Var<T>> {
        let (out, argmax) = pool::max_pool2d_with_argmax(self.value(), opts)?;
        let saved = MaxPool2dBackward {
            argmax,
            input: self.shape().to_vec(),
        };
        Ok(self.record(out, &[self], saved))
    }

    /// 2-D average pooling, recorded on the tape; padding counts in the divisor (PyTorch's
    /// `count_include_pad = true`). See [`Tensor::avg_pool2d`].
    ///
    /// Gradient: each `g` element divided by `kh·kw` and added to every input of its window.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec((0..6).map(f64::from).collect(), &[1, 2, 3]));
    /// let y = x.avg_pool2d(Pool2d::new((2, 2)).stride(1)); // unbatched [C, H, W]
    /// assert_eq!(y.value().to_vec(), [2.0, 3.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [0.25, 0.5, 0.25, 0.25, 0.5, 0.25]);
    /// assert!(x.try_avg_pool2d(Pool2d::new(2).padding(2)).is_err());
    /// ```
    ///
    /// # Panics
    /// On a bad input or options; [`Var::try_avg_pool2d`] returns the error.
    #[track_caller]
    pub fn avg_pool2d(&self, opts: Pool2d) -> Var<T> {
        or_panic(self.try_avg_pool2d(opts))
    }

    /// Fallible [`Var::avg_pool2d`].
    ///
    /// # Errors
    /// As [`Tensor::try_avg_pool2d`].
    pub fn try_avg_pool2d(&self, opts: Pool2d) -> Result<Var<T>> {
        let out = self.value().try_avg_pool2d(opts)?;
        let saved = AvgPool2dBackward {
            opts,
            input: self.shape().to_vec(),
        };
        Ok(self.record(out, &[self], saved))
    }

    /// Adaptive average pooling to `output = (oh, ow)` with PyTorch's bins, recorded on the tape;
    /// `output = 1` is global average pooling. See [`Tensor::adaptive_avg_pool2d`].
    ///
    /// Gradient: each `g` element divided by its bin's size and added to every input of the bin.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::<f64>::ones(&[2, 3, 4, 4]));
    /// let y = x.adaptive_avg_pool2d(1); // global average pooling
    /// assert_eq!(y.shape(), [2, 3, 1, 1]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), vec![1.0 / 16.0; 96]);
    /// assert!(x.try_adaptive_avg_pool2d((0, 1)).is_err());
    /// ```
    ///
    /// # Panics
    /// On a bad input or output size; [`Var::try_adaptive_avg_pool2d`] returns the error.
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output: impl Into<Size2>) -> Var<T> {
        or_panic(self.try_adaptive_avg_pool2d(output))
    }

    /// Fallible [`Var::adaptive_avg_pool2d`].
    ///
    /// # Errors
    /// As [`Tensor::try_adaptive_avg_pool2d`].
    pub fn try_adaptive_avg_pool2d(&self, output: impl Into<Size2>) -> Result<Var<T>> {
        let out = self.value().try_adaptive_avg_pool2d(output)?;
        let saved = AdaptiveAvgPool2dBackward {
            input: self.shape().to_vec(),
        };
        Ok(self.record(out, &[self], saved))
    }
}

/// Gradient of max pooling: `g` added at each window's argmax (the first maximum).
struct MaxPool2dBackward {
    argmax: Vec<usize>,
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for MaxPool2dBackward {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        // `g` has the output's shape and the argmax came from the forward: this cannot fail.
        let dx = pool::max_pool2d_backward(g, &self.argmax, &self.input);
        vec![Some(tapegrad_tensor::or_panic(dx))]
    }
}

/// Gradient of average pooling: `g ÷ (kh·kw)` spread over each window.
struct AvgPool2dBackward {
    opts: Pool2d,
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for AvgPool2dBackward {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let dx = pool::avg_pool2d_backward(g, &self.input, self.opts);
        vec![Some(tapegrad_tensor::or_panic(dx))]
    }
}

/// Gradient of adaptive average pooling: each `g` element spread evenly over its bin.
struct AdaptiveAvgPool2dBackward {
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for AdaptiveAvgPool2dBackward {
    fn name(&self) -> &'static str {
        "adaptive_avg_pool2d"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let dx = pool::adaptive_avg_pool2d_backward(g, &self.input);
        vec![Some(tapegrad_tensor::or_panic(dx))]
    }
}
