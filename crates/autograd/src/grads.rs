//! The result of a backward pass: one gradient per parameter and per input that asked for one.

use crate::error::{Result, or_panic};
use crate::param::{Param, ParamId};
use crate::var::Var;
use std::collections::HashMap;
use tapegrad_tensor::{Float, Tensor, TensorError};

/// Gradients from one backward pass, read per [`Param`] or per [`Var`].
pub struct Grads<T> {
    pub(crate) params: HashMap<ParamId, Tensor<T>>,
    pub(crate) vars: HashMap<usize, Tensor<T>>,
    pub(crate) tape_id: usize,
}

/// Lists each parameter's gradient shape, not its values.
impl<T: Float> std::fmt::Debug for Grads<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut params: Vec<_> = self.params.iter().map(|(id, g)| (*id, g.shape())).collect();
        params.sort_by_key(|(id, _)| *id);
        f.debug_struct("Grads")
            .field("params", &params)
            .field("vars", &self.vars.len())
            .finish()
    }
}

impl<T: Float> Grads<T> {
    /// `∂L/∂p`, or `None` if `p` was not on a path to the loss.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![2.0f32], &[1]));
    /// let unused = Param::new("unused", Tensor::<f32>::zeros(&[1]));
    /// let tape = Tape::new();
    /// let _ = tape.param(&unused);
    /// let g = tape.param(&w).square().sum_all().backward();
    /// assert_eq!(g.get(&w).unwrap().to_vec(), [4.0]); // 2w
    /// assert_eq!(g.get_by_id(w.id()).unwrap().to_vec(), [4.0]);
    /// assert!(g.get(&unused).is_none()); // not on a path to the loss
    /// assert_eq!((g.len(), g.is_empty()), (1, false));
    /// let ids: Vec<_> = g.iter().map(|(id, _)| id).collect();
    /// assert_eq!(ids, [w.id()]);
    /// ```
    pub fn get(&self, p: &Param<T>) -> Option<&Tensor<T>> {
        self.params.get(&p.id())
    }

    /// `∂L/∂p` by id.
    ///
    /// Example: [`Grads::get`].
    pub fn get_by_id(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.params.get(&id)
    }

    /// `∂L/∂v` for a var recorded with [`Tape::input_with_grad`](crate::Tape::input_with_grad), or
    /// `None`; a param's gradient is read with [`Grads::get`].
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![3.0f32], &[1]));
    /// let c = tape.input(Tensor::from_vec(vec![2.0], &[1]));
    /// let g = x.mul(&c).sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [2.0]);
    /// assert!(g.wrt(&c).is_none()); // a constant has no gradient
    /// ```
    pub fn wrt(&self, v: &Var<T>) -> Option<&Tensor<T>> {
        if v.tape_id() != self.tape_id {
            return None;
        }
        self.vars.get(&v.index())
    }

    /// Every parameter gradient, by id.
    ///
    /// Example: [`Grads::get`].
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Tensor<T>)> {
        self.params.iter().map(|(&id, g)| (id, g))
    }

    /// Mutable access to one parameter gradient (for clipping in place).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![2.0f32], &[1]));
    /// let tape = Tape::new();
    /// let mut g = tape.param(&w).square().sum_all().backward(); // 2w = 4
    /// g.get_mut(w.id()).unwrap().scale_assign(0.5);
    /// for (_, grad) in g.iter_mut() {
    ///     grad.map_assign(|v| v.min(1.0)); // clip every gradient at 1
    /// }
    /// assert_eq!(g.get(&w).unwrap().to_vec(), [1.0]);
    /// ```
    pub fn get_mut(&mut self, id: ParamId) -> Option<&mut Tensor<T>> {
        self.params.get_mut(&id)
    }

    /// Sets the gradient of the parameter with id `id`, returning the one it replaces: how a
    /// data-parallel step gives a parameter that no local pass reached its averaged gradient.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![2.0f32], &[1]));
    /// let mut g = Grads::new();
    /// assert!(g.insert(w.id(), Tensor::from_vec(vec![0.5], &[1])).is_none());
    /// assert_eq!(g.get(&w).unwrap().to_vec(), [0.5]);
    /// ```
    pub fn insert(&mut self, id: ParamId, grad: Tensor<T>) -> Option<Tensor<T>> {
        self.params.insert(id, grad)
    }

    /// Every parameter gradient, mutably.
    ///
    /// Example: [`Grads::get_mut`].
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ParamId, &mut Tensor<T>)> {
        self.params.iter_mut().map(|(&id, g)| (id, g))
    }

    /// Number of parameter gradients.
    ///
    /// Example: [`Grads::get`].
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether no parameter received a gradient.
    ///
    /// Example: [`Grads::get`].
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// An empty set of gradients, tied to no tape: the starting point for summing micro-batches
    /// with [`Grads::accumulate`].
    ///
    /// Example: [`Grads::accumulate`].
    pub fn new() -> Self {
        Grads {
            params: HashMap::new(),
            vars: HashMap::new(),
            // No tape has this id, so `wrt` finds nothing in an accumulator.
            tape_id: usize::MAX,
        }
    }

    /// Adds `other`'s parameter gradients into these: summed where both have a parameter,
    /// inserted where only `other` has it.
    ///
    /// This is gradient accumulation over micro-batches. PyTorch sums into each `.grad` every
    /// time `backward` runs until `zero_grad`; here each backward returns fresh `Grads`, and
    /// `accumulate` does the summing. The sum of micro-batch gradients is the gradient of the
    /// summed loss; for the mean over `k` equal micro-batches of mean losses, [`Grads::scale`]
    /// the sum by `1/k` before the optimizer step. Only parameter gradients are summed: a
    /// [`Grads::wrt`] gradient belongs to one tape, and these keep their own.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    /// let mut total = Grads::new();
    /// for x in [[1.0, 0.0], [3.0, 4.0]] {
    ///     let tape = Tape::new();
    ///     let loss = (tape.param(&w) * tape.input(Tensor::from_vec(x.to_vec(), &[2]))).sum_all();
    ///     total.accumulate(&loss.backward());
    /// }
    /// total.scale(0.5); // the mean of the two micro-batch losses
    /// assert_eq!(total.get(&w).unwrap().to_vec(), [2.0, 2.0]);
    /// w.set_value(Tensor::zeros(&[3])); // reshaped: its next gradient does not fit the sum
    /// let tape = Tape::new();
    /// assert!(total.try_accumulate(&tape.param(&w).sum_all().backward()).is_err());
    /// ```
    ///
    /// # Panics
    /// If a parameter's two gradients differ in shape; [`Grads::try_accumulate`] returns the error.
    #[track_caller]
    pub fn accumulate(&mut self, other: &Grads<T>) {
        or_panic(self.try_accumulate(other))
    }

    /// Fallible [`Grads::accumulate`]: every shape is checked before anything is added, so on an
    /// error these gradients are unchanged.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] (inside
    /// [`AutogradError::Tensor`](crate::AutogradError::Tensor)) naming
    /// `Grads::accumulate`, both shapes and the parameter's id, if a parameter has gradients of
    /// two shapes (the parameter was reshaped between the passes).
    pub fn try_accumulate(&mut self, other: &Grads<T>) -> Result<()> {
        self.check_fits(other)?;
        for (id, g) in &other.params {
            match self.params.get_mut(id) {
                Some(sum) => sum.add_assign(g),
                // A clone shares `other`'s buffer; a later sum into it copies first.
                None => {
                    self.params.insert(*id, g.clone());
                }
            }
        }
        Ok(())
    }

    /// The sum of several passes' gradients, as [`Grads::accumulate`] adds them.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![1.0f32], &[1]));
    /// let pass = |x: f32| {
    ///     let tape = Tape::new();
    ///     (tape.param(&w) * x).sum_all().backward()
    /// };
    /// let total = Grads::accumulated([pass(1.0), pass(2.0)]);
    /// assert_eq!(total.get(&w).unwrap().to_vec(), [3.0]);
    /// let before = pass(1.0);
    /// w.set_value(Tensor::zeros(&[2])); // reshaped: its next gradient does not fit the sum
    /// assert!(Grads::try_accumulated([before, pass(1.0)]).is_err());
    /// ```
    ///
    /// # Panics
    /// If a parameter's gradients differ in shape; [`Grads::try_accumulated`] returns the error.
    #[track_caller]
    pub fn accumulated(passes: impl IntoIterator<Item = Grads<T>>) -> Self {
        or_panic(Self::try_accumulated(passes))
    }

    /// Fallible [`Grads::accumulated`].
    ///
    /// # Errors
    /// As [`Grads::try_accumulate`], for the first pass that does not fit the sum so far.
    pub fn try_accumulated(passes: impl IntoIterator<Item = Grads<T>>) -> Result<Self> {
        let mut passes = passes.into_iter();
        // The first pass becomes the sum, so its buffers are written in place, not copied.
        let Some(mut total) = passes.next() else {
            return Ok(Self::new());
        };
        for pass in passes {
            total.try_accumulate(&pass)?;
        }
        Ok(total)
    }

    /// Multiplies every gradient (parameters' and vars') by `factor`, in place: `scale(1/k)`
    /// turns the sum of `k` micro-batches into their mean.
    ///
    /// Example: [`Grads::accumulate`].
    pub fn scale(&mut self, factor: T) {
        for g in self.params.values_mut().chain(self.vars.values_mut()) {
            g.scale_assign(factor);
        }
    }

    /// The first parameter whose gradient in `other` has another shape than here, as an error.
    fn check_fits(&self, other: &Grads<T>) -> Result<()> {
        // Sorted, so the error names the same parameter every run.
        let mut ids: Vec<&ParamId> = other.params.keys().collect();
        ids.sort();
        for id in ids {
            let (Some(sum), Some(g)) = (self.params.get(id), other.params.get(id)) else {
                continue;
            };
            if sum.shape() != g.shape() {
                return Err(TensorError::ShapeMismatch {
                    op: "Grads::accumulate",
                    lhs: sum.shape().to_vec(),
                    rhs: g.shape().to_vec(),
                    why: format!("the two gradients of parameter {id:?} differ in shape"),
                }
                .into());
            }
        }
        Ok(())
    }
}

impl<T: Float> Default for Grads<T> {
    fn default() -> Self {
        Self::new()
    }
}
