//! The public op trait: how every op, built-in or user-written, states its gradient.

use tapegrad_tensor::{Float, Tensor};

/// The backward rule of one recorded op: what it saved in the forward, and how it maps the
/// gradient of its output to gradients of its inputs (a vector–Jacobian product).
///
/// Built-in ops and user ops implement this same trait and record with
/// [`Tape::record`](crate::Tape::record); see `examples/custom_op.rs`.
pub trait Backward<T: Float>: 'static {
    /// The op's name, as error messages, anomaly reports and gradcheck coverage show it.
    fn name(&self) -> &'static str;

    /// Given `g = ∂L/∂output`, returns `∂L/∂input_k` for each input, in order.
    ///
    /// `needs[k]` says whether input k wants a gradient; return `None` where it does not, to skip
    /// the work. A gradient may be returned in the output's broadcast shape: the tape reduces it
    /// to the input's shape (`sum_to`) in one place, so ops need not undo broadcasting themselves.
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>>;
}

/// Which values a [`Unary`] derivative reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// The input `x` only.
    Input,
    /// The output `y = f(x)` only.
    Output,
    /// Both (the default).
    Both,
}

/// A pointwise function with its derivative, for [`Var::unary`](crate::Var::unary).
///
/// `df` receives both the input `x` and the output `y = f(x)`: several derivatives are cheaper
/// from `y` (tanh: `1 − y²`, sigmoid: `y(1 − y)`, exp: `y`).
///
/// Both run inside loops compiled for the widest vectors the CPU has. Mark them
/// `#[inline(always)]`, as the built-in functions are, and keep them free of calls that cannot
/// inline (the `Float` methods all inline): the loop then runs 8 or 16 elements per instruction.
pub trait Unary: Copy + Send + Sync + 'static {
    /// The op's name.
    const NAME: &'static str;
    /// Which of `x` and `y` [`Unary::df`] reads; the tape keeps only that tensor for the
    /// backward, which then reads one array instead of two. With [`Reads::Input`], `df` is given
    /// `y = f(x)` recomputed (free when `df` ignores it); with [`Reads::Output`] it is given NaN
    /// for `x`, so a wrong declaration shows as NaN gradients (gradcheck catches it).
    const DF_READS: Reads = Reads::Both;
    /// The function.
    fn f<T: Float>(self, x: T) -> T;
    /// Its derivative at `x`, given `y = f(x)`.
    fn df<T: Float>(self, x: T, y: T) -> T;
}
