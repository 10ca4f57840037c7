//! Pooling layers: `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d` over `[N, C, H, W]` (or
//! `[C, H, W]`) inputs, wrapping the `Var` ops.

use crate::error::{NnError, Result, or_panic};
use crate::module::{Forward, Mode, Module};
use crate::summary::observed;
use std::fmt;
use tapegrad_autograd::Var;
use tapegrad_tensor::Float;
use tapegrad_tensor::pool::Pool2d;
use tapegrad_tensor::window::Size2;

/// The op's error as the layer's: an input (or a setting) the layer cannot take, naming the
/// layer, the op's reason and the input's shape.
fn as_layer_error<T: Float>(
    layer: &'static str,
    x: &Var<T>,
    result: tapegrad_autograd::Result<Var<T>>,
) -> Result<Var<T>> {
    result.map_err(|e| NnError::Input {
        layer,
        what: e.to_string(),
        got: x.shape().to_vec(),
    })
}

/// Writes `name { kernel: (kh, kw), stride: (sh, sw), padding: (ph, pw) }`.
fn debug_pool(f: &mut fmt::Formatter<'_>, name: &str, opts: &Pool2d) -> fmt::Result {
    let pair = |s: Size2| (s.0[0], s.0[1]);
    f.debug_struct(name)
        .field("kernel", &pair(opts.kernel))
        .field("stride", &pair(opts.stride))
        .field("padding", &pair(opts.padding))
        .finish()
}

/// 2-D max pooling (see `Var::max_pool2d`): the largest value of each window, padding counting
/// as `−∞`; the gradient goes to the first maximum of each window in row-major order.
/// PyTorch: `nn.MaxPool2d` (stride defaults to the kernel size).
///
/// The options are checked when the layer runs: a window that does not fit, a zero size, or a
/// padding above half the kernel is an error naming `MaxPool2d` and the input's shape.
///
/// ```
/// # use tapegrad_nn::{Forward, MaxPool2d, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::new();
/// let x = tape.input(Tensor::<f32>::zeros(&[8, 3, 28, 28]));
/// assert_eq!(MaxPool2d::new(2).forward(&x, Mode::Train).shape(), [8, 3, 14, 14]);
/// let pool = MaxPool2d::new(3).stride(2).padding(1);
/// assert_eq!(pool.forward(&x, Mode::Eval).shape(), [8, 3, 14, 14]);
/// assert_eq!(format!("{pool:?}"), "MaxPool2d { kernel: (3, 3), stride: (2, 2), padding: (1, 1) }");
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct MaxPool2d {
    opts: Pool2d,
}

impl MaxPool2d {
    /// A `kernel`-sized window (`2` or `(2, 3)`), stride equal to the kernel, no padding.
    pub fn new(kernel: impl Into<Size2>) -> Self {
        MaxPool2d {
            opts: Pool2d::new(kernel),
        }
    }

    /// The same layer with another stride.
    pub fn stride(self, stride: impl Into<Size2>) -> Self {
        MaxPool2d {
            opts: self.opts.stride(stride),
        }
    }

    /// The same layer with another padding (at most half the kernel).
    pub fn padding(self, padding: impl Into<Size2>) -> Self {
        MaxPool2d {
            opts: self.opts.padding(padding),
        }
    }

    /// The pooling options.
    pub fn options(&self) -> Pool2d {
        self.opts
    }
}

impl fmt::Debug for MaxPool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_pool(f, "MaxPool2d", &self.opts)
    }
}

impl<T: Float> Module<T> for MaxPool2d {}

impl<T: Float> Forward<T> for MaxPool2d {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` must be `[N, C, H, W]` or `[C, H, W]` with room for one window.
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let out = as_layer_error("MaxPool2d", x, x.try_max_pool2d(self.opts));
        observed(self, out)
    }
}

/// 2-D average pooling (see `Var::avg_pool2d`): the mean of each window, padding counted as
/// zeros in the divisor (PyTorch's default `count_include_pad = True`).
/// PyTorch: `nn.AvgPool2d` (stride defaults to the kernel size).
///
/// The options are checked when the layer runs, as for [`MaxPool2d`].
///
/// ```
/// # use tapegrad_nn::{AvgPool2d, Forward, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::new();
/// let x = tape.input(Tensor::<f64>::ones(&[2, 4, 6, 6]));
/// let y = AvgPool2d::new((2, 3)).forward(&x, Mode::Train);
/// assert_eq!(y.shape(), [2, 4, 3, 2]);
/// assert!(y.value().to_vec().iter().all(|&v| v == 1.0));
/// assert!(AvgPool2d::new(7).try_forward(&x, Mode::Eval).is_err()); // 7 > 6
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct AvgPool2d {
    opts: Pool2d,
}

impl AvgPool2d {
    /// A `kernel`-sized window (`2` or `(2, 3)`), stride equal to the kernel, no padding.
    pub fn new(kernel: impl Into<Size2>) -> Self {
        AvgPool2d {
            opts: Pool2d::new(kernel),
        }
    }

    /// The same layer with another stride.
    pub fn stride(self, stride: impl Into<Size2>) -> Self {
        AvgPool2d {
            opts: self.opts.stride(stride),
        }
    }

    /// The same layer with another padding (at most half the kernel).
    pub fn padding(self, padding: impl Into<Size2>) -> Self {
        AvgPool2d {
            opts: self.opts.padding(padding),
        }
    }

    /// The pooling options.
    pub fn options(&self) -> Pool2d {
        self.opts
    }
}

impl fmt::Debug for AvgPool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_pool(f, "AvgPool2d", &self.opts)
    }
}

impl<T: Float> Module<T> for AvgPool2d {}

impl<T: Float> Forward<T> for AvgPool2d {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` must be `[N, C, H, W]` or `[C, H, W]` with room for one window.
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let out = as_layer_error("AvgPool2d", x, x.try_avg_pool2d(self.opts));
        observed(self, out)
    }
}

/// Adaptive average pooling to a fixed `(oh, ow)` whatever the input's size (see
/// `Var::adaptive_avg_pool2d`); `AdaptiveAvgPool2d::new(1)` is global average pooling.
/// PyTorch: `nn.AdaptiveAvgPool2d`.
///
/// ```
/// # use tapegrad_nn::{AdaptiveAvgPool2d, Forward, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// let tape = Tape::new();
/// let gap = AdaptiveAvgPool2d::new(1);
/// assert_eq!(gap.forward(&tape.input(Tensor::<f32>::ones(&[2, 8, 7, 5])), Mode::Eval).shape(), [2, 8, 1, 1]);
/// assert_eq!(format!("{:?}", AdaptiveAvgPool2d::new((3, 2))), "AdaptiveAvgPool2d { output: (3, 2) }");
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct AdaptiveAvgPool2d {
    output: Size2,
}

impl AdaptiveAvgPool2d {
    /// Pools every input to `output` (`1` or `(oh, ow)`), each at least 1.
    pub fn new(output: impl Into<Size2>) -> Self {
        AdaptiveAvgPool2d {
            output: output.into(),
        }
    }

    /// The output size `(oh, ow)`.
    pub fn output_size(&self) -> Size2 {
        self.output
    }
}

impl fmt::Debug for AdaptiveAvgPool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveAvgPool2d")
            .field("output", &(self.output.0[0], self.output.0[1]))
            .finish()
    }
}

impl<T: Float> Module<T> for AdaptiveAvgPool2d {}

impl<T: Float> Forward<T> for AdaptiveAvgPool2d {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` must be `[N, C, H, W]` or `[C, H, W]` with `H, W ≥ 1`.
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let out = as_layer_error(
            "AdaptiveAvgPool2d",
            x,
            x.try_adaptive_avg_pool2d(self.output),
        );
        observed(self, out)
    }
}
