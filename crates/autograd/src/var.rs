//! `Var`: a value recorded on a tape, and the entry points of a backward pass.

use crate::backward::{Backward, Unary};
use crate::error::{or_panic, AutogradError, Result};
use crate::grads::Grads;
use crate::tape::Tape;
use tapegrad_tensor::{Float, Tensor};

/// A value on a [`Tape`]: a cheap handle (tape, node index) plus the value itself.
///
/// Ops on vars compute their value eagerly and record their backward rule on the tape.
#[derive(Clone)]
pub struct Var<T: Float = f32> {
    tape: Tape<T>,
    index: usize,
    value: Tensor<T>,
    requires_grad: bool,
}

impl<T: Float> Var<T> {
    pub(crate) fn new(tape: Tape<T>, index: usize, value: Tensor<T>, requires_grad: bool) -> Self {
        Var {
            tape,
            index,
            value,
            requires_grad,
        }
    }

    /// The computed value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The value's shape.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The tape this var is recorded on.
    pub fn tape(&self) -> &Tape<T> {
        &self.tape
    }

    /// Position on the tape (`usize::MAX` for a constant, which is not recorded).
    pub fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn tape_id(&self) -> usize {
        self.tape.id()
    }

    /// Whether a gradient flows back through this var.
    pub fn requires_grad(&self) -> bool {
        self.requires_grad
    }

    /// The same value as a constant: no gradient flows through it (PyTorch: `Tensor.detach`).
    pub fn detach(&self) -> Var<T> {
        self.tape.input(self.value.clone())
    }

    /// A constant on this var's tape (for ops that mix a var with fixed data).
    pub fn constant(&self, value: Tensor<T>) -> Var<T> {
        self.tape.input(value)
    }

    /// Gradients of this single-element var with respect to every param and grad-wanting input.
    ///
    /// # Panics
    /// If the var has more than one element; [`Var::try_backward`] returns the error.
    #[track_caller]
    pub fn backward(&self) -> Grads<T> {
        or_panic(self.try_backward())
    }

    /// Fallible [`Var::backward`].
    pub fn try_backward(&self) -> Result<Grads<T>> {
        if self.value.numel() != 1 {
            return Err(AutogradError::NonScalarRoot {
                shape: self.shape().to_vec(),
            });
        }
        self.try_backward_with(Tensor::ones(self.shape()))
    }

    /// Gradients given an explicit upstream gradient `∂L/∂self` of this var's shape.
    ///
    /// # Panics
    /// If `upstream` has another shape; [`Var::try_backward_with`] returns the error.
    #[track_caller]
    pub fn backward_with(&self, upstream: Tensor<T>) -> Grads<T> {
        or_panic(self.try_backward_with(upstream))
    }

    /// Fallible [`Var::backward_with`].
    pub fn try_backward_with(&self, upstream: Tensor<T>) -> Result<Grads<T>> {
        if upstream.shape() != self.shape() {
            return Err(AutogradError::UpstreamShape {
                root: self.shape().to_vec(),
                grad: upstream.shape().to_vec(),
            });
        }
        if !self.requires_grad {
            return Ok(Grads {
                params: Default::default(),
                vars: Default::default(),
                tape_id: self.tape_id(),
            });
        }
        self.tape.backward(self.index, upstream)
    }

    /// Records `value = op(inputs)` on this var's tape: shorthand for [`Tape::record`].
    #[track_caller]
    pub fn record(&self, value: Tensor<T>, inputs: &[&Var<T>], op: impl Backward<T>) -> Var<T> {
        self.tape.record(value, inputs, op)
    }

    /// Fallible [`Var::record`]: an input from another tape is an error, not a panic.
    pub fn try_record(
        &self,
        value: Tensor<T>,
        inputs: &[&Var<T>],
        op: impl Backward<T>,
    ) -> Result<Var<T>> {
        self.tape.try_record(value, inputs, op)
    }

    /// Applies a pointwise [`Unary`] function; its backward is `g · df(x, y)`.
    pub fn unary<U: Unary>(&self, u: U) -> Var<T> {
        let y = self.value.map(|x| u.f(x));
        let saved = UnaryBackward {
            u,
            x: self.value.clone(),
            y: y.clone(),
        };
        self.record(y, &[self], saved)
    }
}

/// Gradient of `y = f(x)` pointwise: `∂L/∂x = g ⊙ f'(x)`, with `f'` from [`Unary::df`].
struct UnaryBackward<U, T> {
    u: U,
    x: Tensor<T>,
    y: Tensor<T>,
}

impl<U: Unary, T: Float> Backward<T> for UnaryBackward<U, T> {
    fn name(&self) -> &'static str {
        U::NAME
    }

    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let u = self.u;
        // One pass, one output: no temporary tensor of derivatives.
        vec![Some(g.zip_map3(&self.x, &self.y, |g, x, y| g * u.df(x, y)))]
    }
}

impl<T: Float> std::fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var(#{}, {:?})", self.index, self.value)
    }
}
