//! The result of a backward pass: one gradient per parameter and per input that asked for one.

use crate::param::{Param, ParamId};
use crate::var::Var;
use std::collections::HashMap;
use tapegrad_tensor::{Float, Tensor};

/// Gradients from one backward pass, read per [`Param`] or per [`Var`].
pub struct Grads<T> {
    pub(crate) params: HashMap<ParamId, Tensor<T>>,
    pub(crate) vars: HashMap<usize, Tensor<T>>,
    pub(crate) tape_id: usize,
}

impl<T: Float> Grads<T> {
    /// `∂L/∂p`, or `None` if `p` was not on a path to the loss.
    pub fn get(&self, p: &Param<T>) -> Option<&Tensor<T>> {
        self.params.get(&p.id())
    }

    /// `∂L/∂p` by id.
    pub fn get_by_id(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.params.get(&id)
    }

    /// `∂L/∂v` for a var recorded with [`Tape::input_with_grad`](crate::Tape::input_with_grad), or
    /// `None`; a param's gradient is read with [`Grads::get`].
    pub fn wrt(&self, v: &Var<T>) -> Option<&Tensor<T>> {
        if v.tape_id() != self.tape_id {
            return None;
        }
        self.vars.get(&v.index())
    }

    /// Every parameter gradient, by id.
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Tensor<T>)> {
        self.params.iter().map(|(&id, g)| (id, g))
    }

    /// Mutable access to one parameter gradient (for clipping in place).
    pub fn get_mut(&mut self, id: ParamId) -> Option<&mut Tensor<T>> {
        self.params.get_mut(&id)
    }

    /// Every parameter gradient, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ParamId, &mut Tensor<T>)> {
        self.params.iter_mut().map(|(&id, g)| (id, g))
    }

    /// Number of parameter gradients.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether no parameter received a gradient.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}
