//! `Conv1d` and `Conv2d`: learned convolutions with PyTorch's weight layout.

use crate::error::{NnError, Result, or_panic};
use crate::init::Initializer;
use crate::module::{Forward, Mode, Module, Named};
use crate::summary::observed;
use rand::Rng;
use tapegrad_autograd::{Param, Var};
use tapegrad_tensor::conv::{Conv1dOptions, Conv2dOptions};
use tapegrad_tensor::window::Size2;
use tapegrad_tensor::{Float, Tensor};

/// The weight and optional bias of a convolution, shared by both layers.
struct Kernel<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
}

impl<T: Float> Kernel<T> {
    /// A weight `[out, in/groups, k…]` from `init` with PyTorch's convolution fans
    /// (`fan_in = in/groups · k…`, `fan_out = out · k…`), bias zero.
    fn new(
        what: &'static str,
        (inputs, out): (usize, usize),
        kernel: &[usize],
        groups: usize,
        init: Initializer,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if groups == 0 || inputs == 0 || out == 0 || inputs % groups != 0 || out % groups != 0 {
            return Err(NnError::Config {
                what,
                why: format!(
                    "{groups} groups must divide both the {inputs} input and the {out} output channels, none of them 0"
                ),
            });
        }
        if kernel.contains(&0) {
            return Err(NnError::Config {
                what,
                why: format!("the kernel size {kernel:?} must be at least 1 on every axis"),
            });
        }
        let mut shape = vec![out, inputs / groups];
        shape.extend_from_slice(kernel);
        let (fan_in, fan_out) = crate::init::try_fans(&shape)?;
        Ok(Kernel {
            weight: Param::new("weight", init.sample(&shape, fan_in, fan_out, rng)),
            bias: Some(Param::new("bias", Tensor::zeros(&[out]))),
        })
    }

    fn duplicate(&self) -> Self {
        Kernel {
            weight: self.weight.duplicate(),
            bias: self.bias.as_ref().map(Param::duplicate),
        }
    }

    fn parameters(&self) -> Vec<Named<T>> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b.clone()));
        }
        out
    }

    /// The weight and bias on `x`'s tape, after checking that `x` has `rank` axes (or one fewer,
    /// unbatched) and the weight's input channels.
    fn on_tape(
        &self,
        layer: &'static str,
        x: &Var<T>,
        rank: usize,
        groups: usize,
    ) -> Result<(Var<T>, Option<Var<T>>)> {
        let channels = self.weight.shape()[1] * groups;
        let axes = x.shape().len();
        // The channel axis: 1 when batched, 0 when not.
        if (axes != rank && axes + 1 != rank) || x.shape()[axes + 1 - rank] != channels {
            return Err(self.input_error(layer, x, rank, channels));
        }
        let tape = x.tape();
        Ok((
            tape.param(&self.weight),
            self.bias.as_ref().map(|b| tape.param(b)),
        ))
    }

    fn input_error(
        &self,
        layer: &'static str,
        x: &Var<T>,
        rank: usize,
        channels: usize,
    ) -> NnError {
        let spatial = if rank == 4 { "H, W" } else { "L" };
        NnError::Input {
            layer,
            what: format!(
                "expected input [batch, {channels}, {spatial}] or [{channels}, {spatial}]"
            ),
            got: x.shape().to_vec(),
        }
    }
}

/// A 2-D convolution layer over `[N, C_in, H, W]` (or `[C_in, H, W]`) inputs:
/// `y = conv2d(x, W) + b` with `W` `[C_out, C_in/groups, KH, KW]` and `b` `[C_out]`
/// (PyTorch's `nn.Conv2d` layout, so checkpoints map one to one).
///
/// The weight is drawn from `init` with the convolution's fans (`fan_in = C_in/groups·KH·KW`,
/// `fan_out = C_out·KH·KW`, as PyTorch computes them); the bias starts at zero.
///
/// ```
/// # use tapegrad_nn::{Conv2d, Forward, Init, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// # use rand::{rngs::StdRng, SeedableRng};
/// let conv = Conv2d::<f32>::new(1, 8, 3, Init::He, &mut StdRng::seed_from_u64(0)).padding(1);
/// let y = conv.forward(&Tape::new().input(Tensor::ones(&[2, 1, 28, 28])), Mode::Train);
/// assert_eq!(y.shape(), &[2, 8, 28, 28]);
/// assert_eq!(conv.weight().shape(), vec![8, 1, 3, 3]);
/// ```
///
/// Cloning copies the weights: the clone trains independently.
pub struct Conv2d<T: Float> {
    kernel: Kernel<T>,
    opts: Conv2dOptions,
}

impl<T: Float> Clone for Conv2d<T> {
    fn clone(&self) -> Self {
        Conv2d {
            kernel: self.kernel.duplicate(),
            opts: self.opts,
        }
    }
}

impl<T: Float> std::fmt::Debug for Conv2d<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shape = self.kernel.weight.shape();
        f.debug_struct("Conv2d")
            .field("in_channels", &(shape[1] * self.opts.groups))
            .field("out_channels", &shape[0])
            .field("kernel_size", &(shape[2], shape[3]))
            .field("stride", &(self.opts.stride.0[0], self.opts.stride.0[1]))
            .field("padding", &(self.opts.padding.0[0], self.opts.padding.0[1]))
            .field(
                "dilation",
                &(self.opts.dilation.0[0], self.opts.dilation.0[1]),
            )
            .field("groups", &self.opts.groups)
            .field("bias", &self.kernel.bias.is_some())
            .finish()
    }
}

impl<T: Float> Conv2d<T> {
    /// A layer from `in_channels` to `out_channels` with a `kernel` (`3` or `(3, 5)`), stride 1,
    /// no padding, one group.
    ///
    /// # Panics
    /// If a channel count is 0; [`Conv2d::try_with_options`] returns the error instead.
    #[track_caller]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Into<Size2>,
        init: impl Into<Initializer>,
        rng: &mut impl Rng,
    ) -> Self {
        let opts = Conv2dOptions::default();
        or_panic(Self::try_with_options(
            in_channels,
            out_channels,
            kernel,
            opts,
            init,
            rng,
        ))
    }

    /// A layer with every option of [`Conv2dOptions`], groups included (which shape the weight).
    ///
    /// # Panics
    /// If `groups` does not divide both channel counts or a count is 0;
    /// [`Conv2d::try_with_options`] returns the error instead.
    #[track_caller]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Into<Size2>,
        opts: Conv2dOptions,
        init: impl Into<Initializer>,
        rng: &mut impl Rng,
    ) -> Self {
        or_panic(Self::try_with_options(
            in_channels,
            out_channels,
            kernel,
            opts,
            init,
            rng,
        ))
    }

    /// Fallible [`Conv2d::with_options`].
    ///
    /// # Errors
    /// [`NnError::Config`] if `groups` does not divide both channel counts or a count is 0.
    pub fn try_with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Into<Size2>,
        opts: Conv2dOptions,
        init: impl Into<Initializer>,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let Size2(size) = kernel.into();
        let channels = (in_channels, out_channels);
        let kernel = Kernel::new("Conv2d", channels, &size, opts.groups, init.into(), rng)?;
        Ok(Conv2d { kernel, opts })
    }

    /// This layer with `stride` (one size or `(height, width)`).
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.opts = self.opts.stride(stride);
        self
    }

    /// This layer with `padding` zeros on each side.
    pub fn padding(mut self, padding: impl Into<Size2>) -> Self {
        self.opts = self.opts.padding(padding);
        self
    }

    /// This layer with `dilation` between the kernel's taps.
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
        self.opts = self.opts.dilation(dilation);
        self
    }

    /// The same layer without a bias term.
    pub fn without_bias(mut self) -> Self {
        self.kernel.bias = None;
        self
    }

    /// The convolution's stride, padding, dilation and groups.
    pub fn options(&self) -> Conv2dOptions {
        self.opts
    }

    /// The weight parameter, `[out, in/groups, kh, kw]`.
    pub fn weight(&self) -> &Param<T> {
        &self.kernel.weight
    }

    /// The bias parameter, if any.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.kernel.bias.as_ref()
    }
}

impl<T: Float> Forward<T> for Conv2d<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` must be `[batch, in_channels, H, W]` or `[in_channels, H, W]`.
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let (w, b) = self.kernel.on_tape("Conv2d", x, 4, self.opts.groups)?;
        observed(
            self,
            x.try_conv2d(&w, b.as_ref(), self.opts).map_err(Into::into),
        )
    }
}

impl<T: Float> Module<T> for Conv2d<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        self.kernel.parameters()
    }
}

/// A 1-D convolution layer over `[N, C_in, L]` (or `[C_in, L]`) inputs, with `W`
/// `[C_out, C_in/groups, K]` and `b` `[C_out]` (PyTorch's `nn.Conv1d`).
///
/// ```
/// # use tapegrad_nn::{Conv1d, Forward, Init, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// # use rand::{rngs::StdRng, SeedableRng};
/// let conv = Conv1d::<f32>::new(4, 8, 5, Init::He, &mut StdRng::seed_from_u64(0)).stride(2);
/// let y = conv.forward(&Tape::new().input(Tensor::ones(&[3, 4, 21])), Mode::Train);
/// assert_eq!(y.shape(), &[3, 8, 9]);
/// ```
///
/// Cloning copies the weights: the clone trains independently.
pub struct Conv1d<T: Float> {
    kernel: Kernel<T>,
    opts: Conv1dOptions,
}

impl<T: Float> Clone for Conv1d<T> {
    fn clone(&self) -> Self {
        Conv1d {
            kernel: self.kernel.duplicate(),
            opts: self.opts,
        }
    }
}

impl<T: Float> std::fmt::Debug for Conv1d<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shape = self.kernel.weight.shape();
        f.debug_struct("Conv1d")
            .field("in_channels", &(shape[1] * self.opts.groups))
            .field("out_channels", &shape[0])
            .field("kernel_size", &shape[2])
            .field("stride", &self.opts.stride)
            .field("padding", &self.opts.padding)
            .field("dilation", &self.opts.dilation)
            .field("groups", &self.opts.groups)
            .field("bias", &self.kernel.bias.is_some())
            .finish()
    }
}

impl<T: Float> Conv1d<T> {
    /// A layer from `in_channels` to `out_channels` with a kernel of `kernel` taps, stride 1, no
    /// padding, one group.
    ///
    /// # Panics
    /// If a channel count is 0; [`Conv1d::try_with_options`] returns the error instead.
    #[track_caller]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        init: impl Into<Initializer>,
        rng: &mut impl Rng,
    ) -> Self {
        let opts = Conv1dOptions::default();
        or_panic(Self::try_with_options(
            in_channels,
            out_channels,
            kernel,
            opts,
            init,
            rng,
        ))
    }

    /// A layer with every option of [`Conv1dOptions`], groups included.
    ///
    /// # Panics
    /// As [`Conv2d::with_options`]; [`Conv1d::try_with_options`] returns the error instead.
    #[track_caller]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        opts: Conv1dOptions,
        init: impl Into<Initializer>,
        rng: &mut impl Rng,
    ) -> Self {
        or_panic(Self::try_with_options(
            in_channels,
            out_channels,
            kernel,
            opts,
            init,
            rng,
        ))
    }

    /// Fallible [`Conv1d::with_options`].
    ///
    /// # Errors
    /// [`NnError::Config`] if `groups` does not divide both channel counts or a count is 0.
    pub fn try_with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        opts: Conv1dOptions,
        init: impl Into<Initializer>,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let channels = (in_channels, out_channels);
        let kernel = Kernel::new("Conv1d", channels, &[kernel], opts.groups, init.into(), rng)?;
        Ok(Conv1d { kernel, opts })
    }

    /// This layer with `stride`.
    pub fn stride(mut self, stride: usize) -> Self {
        self.opts = self.opts.stride(stride);
        self
    }

    /// This layer with `padding` zeros on each side.
    pub fn padding(mut self, padding: usize) -> Self {
        self.opts = self.opts.padding(padding);
        self
    }

    /// This layer with `dilation` between the kernel's taps.
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.opts = self.opts.dilation(dilation);
        self
    }

    /// The same layer without a bias term.
    pub fn without_bias(mut self) -> Self {
        self.kernel.bias = None;
        self
    }

    /// The convolution's stride, padding, dilation and groups.
    pub fn options(&self) -> Conv1dOptions {
        self.opts
    }

    /// The weight parameter, `[out, in/groups, k]`.
    pub fn weight(&self) -> &Param<T> {
        &self.kernel.weight
    }

    /// The bias parameter, if any.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.kernel.bias.as_ref()
    }
}

impl<T: Float> Forward<T> for Conv1d<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` must be `[batch, in_channels, L]` or `[in_channels, L]`.
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let (w, b) = self.kernel.on_tape("Conv1d", x, 3, self.opts.groups)?;
        observed(
            self,
            x.try_conv1d(&w, b.as_ref(), self.opts).map_err(Into::into),
        )
    }
}

impl<T: Float> Module<T> for Conv1d<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        self.kernel.parameters()
    }
}
