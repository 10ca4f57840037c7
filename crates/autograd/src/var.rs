//! `Var`: a value recorded on a tape, and the entry points of a backward pass.

use crate::backward::{Backward, Reads, Unary};
use crate::error::{AutogradError, Result, or_panic};
use crate::grads::Grads;
use crate::param::ParamId;
use crate::tape::{GradHook, Tape};
use tapegrad_tensor::{Float, Tensor};

/// A value on a [`Tape`]: a cheap handle (tape, node index) plus the value itself.
///
/// Ops on vars compute their value eagerly and record their backward rule on the tape.
///
/// The operators `+ − * /` and unary `−` call the named methods ([`Var::add`] and so on) on
/// owned or borrowed vars, or with a scalar on the right; `f32` and `f64` scalars also multiply
/// from the left:
///
/// ```
/// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
/// use tapegrad::prelude::*;
/// let tape = Tape::new();
/// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
/// let y = tape.input(Tensor::from_vec(vec![3.0, 4.0], &[2]));
/// let z = 2.0 * &x * &y - &y / 2.0 + 1.0; // 2xy − y/2 + 1
/// assert_eq!(z.value().to_vec(), [5.5, 15.0]);
/// assert_eq!((-&z).sum_all().backward().wrt(&x).unwrap().to_vec(), [-6.0, -8.0]); // −2y
/// ```
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
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]));
    /// assert_eq!(x.value().to_vec(), [1.0, 2.0]);
    /// assert_eq!(x.shape(), [1, 2]);
    /// assert!(x.tape().same_as(&tape) && x.requires_grad());
    /// assert_eq!(x.index(), 0); // the first node on the tape
    /// let c = tape.input(Tensor::scalar(1.0)); // a constant, not recorded
    /// assert!(!c.requires_grad() && c.index() == usize::MAX);
    /// ```
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The value's shape.
    ///
    /// Example: [`Var::value`].
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The tape this var is recorded on.
    ///
    /// Example: [`Var::value`].
    pub fn tape(&self) -> &Tape<T> {
        &self.tape
    }

    /// Position on the tape (`usize::MAX` for a constant, which is not recorded).
    ///
    /// Example: [`Var::value`].
    pub fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn tape_id(&self) -> usize {
        self.tape.id()
    }

    /// Whether a gradient flows back through this var.
    ///
    /// Example: [`Var::value`].
    pub fn requires_grad(&self) -> bool {
        self.requires_grad
    }

    /// The same value as a constant: no gradient flows through it (PyTorch: `Tensor.detach`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![3.0f32], &[1]));
    /// let y = x.mul(&x.detach()); // the second factor is a constant
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [3.0]); // not 2x = 6
    /// ```
    pub fn detach(&self) -> Var<T> {
        self.tape.input(self.value.clone())
    }

    /// A constant on this var's tape (for ops that mix a var with fixed data).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let w = x.constant(Tensor::from_vec(vec![10.0, 20.0], &[2]));
    /// assert!(!w.requires_grad() && w.tape().same_as(x.tape()));
    /// assert_eq!(x.mul(&w).value().to_vec(), [10.0, 40.0]);
    /// ```
    pub fn constant(&self, value: Tensor<T>) -> Var<T> {
        self.tape.input(value)
    }

    /// Gradients of this single-element var with respect to every param and grad-wanting input.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let g = x.square().sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [2.0, 4.0]);
    /// assert!(x.square().try_backward().is_err()); // two elements: see backward_with
    /// ```
    ///
    /// # Panics
    /// If the var has more than one element; [`Var::try_backward`] returns the error.
    #[track_caller]
    pub fn backward(&self) -> Grads<T> {
        or_panic(self.try_backward())
    }

    /// Fallible [`Var::backward`].
    pub fn try_backward(&self) -> Result<Grads<T>> {
        self.walk_from_scalar(None)
    }

    /// Gradients given an explicit upstream gradient `∂L/∂self` of this var's shape.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let y = x.mul_scalar(3.0);
    /// let g = y.backward_with(Tensor::from_vec(vec![1.0, 10.0], &[2])); // ∂L/∂y
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [3.0, 30.0]);
    /// assert!(y.try_backward_with(Tensor::zeros(&[3])).is_err());
    /// ```
    ///
    /// # Panics
    /// If `upstream` has another shape; [`Var::try_backward_with`] returns the error.
    #[track_caller]
    pub fn backward_with(&self, upstream: Tensor<T>) -> Grads<T> {
        or_panic(self.try_backward_with(upstream))
    }

    /// Fallible [`Var::backward_with`].
    pub fn try_backward_with(&self, upstream: Tensor<T>) -> Result<Grads<T>> {
        self.walk(upstream, None)
    }

    /// [`Var::backward`] that passes each parameter's gradient to `hook` as soon as it is final,
    /// while the walk goes on (what data-parallel training overlaps its all-reduce with, as
    /// PyTorch DDP's autograd hooks do).
    ///
    /// A gradient is final once the reverse walk has passed the parameter's first link on the
    /// tape (its lowest leaf), since everything that used it was recorded later. `hook` then gets
    /// the parameter's id and its complete gradient, summed over every link: the tensor
    /// [`Grads::get`] returns at the end. It is called once per parameter that has a gradient, in
    /// the order they become final (for layers linked in forward order, the last layer first); an
    /// unused or frozen parameter gets no call. If the walk fails part-way, the parameters
    /// reported before the failure have been reported.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w1 = Param::new("w1", Tensor::from_vec(vec![2.0f32], &[1]));
    /// let w2 = Param::new("w2", Tensor::from_vec(vec![3.0f32], &[1]));
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::from_vec(vec![5.0], &[1]));
    /// let h = x.mul(&tape.param(&w1)); // layer 1 links w1 first
    /// let loss = h.mul(&tape.param(&w2)).sum_all(); // layer 2: loss = x·w1·w2
    /// let mut reported = Vec::new();
    /// let grads = loss.backward_with_hook(|id, g| reported.push((id, g.to_vec())));
    /// // w2's gradient (x·w1 = 10) is final before the walk reaches layer 1.
    /// assert_eq!(reported, [(w2.id(), vec![10.0]), (w1.id(), vec![15.0])]);
    /// assert_eq!(grads.get(&w1).unwrap().to_vec(), [15.0]); // x·w2
    /// // The graph was freed by that walk: a second one is an error, and reports nothing.
    /// assert!(loss.try_backward_with_hook(|_, _| unreachable!()).is_err());
    /// ```
    ///
    /// # Panics
    /// If the var has more than one element, or as [`Var::backward`] does;
    /// [`Var::try_backward_with_hook`] returns the error.
    #[track_caller]
    pub fn backward_with_hook(&self, hook: impl FnMut(ParamId, &Tensor<T>)) -> Grads<T> {
        or_panic(self.try_backward_with_hook(hook))
    }

    /// Fallible [`Var::backward_with_hook`].
    ///
    /// Example: [`Var::backward_with_hook`].
    ///
    /// # Errors
    /// As [`Var::try_backward`]: [`AutogradError::NonScalarRoot`] for a var of more than one
    /// element, and any error of the walk itself.
    pub fn try_backward_with_hook(
        &self,
        mut hook: impl FnMut(ParamId, &Tensor<T>),
    ) -> Result<Grads<T>> {
        self.walk_from_scalar(Some(&mut hook))
    }

    /// The backward pass of a single-element var, seeded with `∂L/∂self = 1`.
    fn walk_from_scalar(&self, hook: Option<&mut GradHook<'_, T>>) -> Result<Grads<T>> {
        if self.value.numel() != 1 {
            return Err(AutogradError::NonScalarRoot {
                shape: self.shape().to_vec(),
            });
        }
        self.walk(Tensor::ones(self.shape()), hook)
    }

    /// The backward pass from this var with `∂L/∂self = upstream`, reporting to `hook` if any.
    fn walk(&self, upstream: Tensor<T>, hook: Option<&mut GradHook<'_, T>>) -> Result<Grads<T>> {
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
        self.tape.backward(self.index, upstream, hook)
    }

    /// Records `value = op(inputs)` on this var's tape: shorthand for [`Tape::record`].
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; pub mod autograd { pub use tapegrad_autograd::Backward; } }
    /// use tapegrad::autograd::Backward;
    /// use tapegrad::prelude::*;
    ///
    /// /// `y = a · b` for two vars, with the product rule.
    /// struct Product(Tensor<f32>, Tensor<f32>);
    /// impl Backward<f32> for Product {
    ///     fn name(&self) -> &'static str {
    ///         "product"
    ///     }
    ///     fn backward(&self, g: &Tensor<f32>, _needs: &[bool]) -> Vec<Option<Tensor<f32>>> {
    ///         vec![Some(g.mul(&self.1)), Some(g.mul(&self.0))]
    ///     }
    /// }
    ///
    /// let tape = Tape::new();
    /// let a = tape.input_with_grad(Tensor::from_vec(vec![2.0f32], &[1]));
    /// let b = tape.input_with_grad(Tensor::from_vec(vec![5.0], &[1]));
    /// let saved = Product(a.value().clone(), b.value().clone());
    /// let y = a.record(a.value().mul(b.value()), &[&a, &b], saved);
    /// let g = y.sum_all().backward();
    /// assert_eq!((g.wrt(&a).unwrap().item(), g.wrt(&b).unwrap().item()), (5.0, 2.0));
    /// // An input from another tape is an error:
    /// let other = Tape::new().input_with_grad(Tensor::from_vec(vec![1.0], &[1]));
    /// let saved = Product(a.value().clone(), other.value().clone());
    /// assert!(a.try_record(a.value().clone(), &[&a, &other], saved).is_err());
    /// ```
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
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; pub mod autograd { pub use tapegrad_autograd::Unary; } }
    /// use tapegrad::autograd::Unary;
    /// use tapegrad::prelude::*;
    ///
    /// /// `x³`, with derivative `3x²`.
    /// #[derive(Clone, Copy)]
    /// struct Cube;
    /// impl Unary for Cube {
    ///     const NAME: &'static str = "cube";
    ///     fn f<T: Float>(self, x: T) -> T {
    ///         x * x * x
    ///     }
    ///     fn df<T: Float>(self, x: T, _y: T) -> T {
    ///         T::from_f64(3.0) * x * x
    ///     }
    /// }
    ///
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let y = x.unary(Cube);
    /// assert_eq!(y.value().to_vec(), [1.0, 8.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [3.0, 12.0]);
    /// ```
    pub fn unary<U: Unary>(&self, u: U) -> Var<T> {
        // Inlined into the loop so it compiles to vector code (as are the built-in ops' `f` and `df`).
        let y = self.value.map(
            #[inline(always)]
            |x| u.f(x),
        );
        let saved = UnaryBackward {
            u,
            x: (U::DF_READS != Reads::Output).then(|| self.value.clone()),
            y: (U::DF_READS != Reads::Input).then(|| y.clone()),
        };
        self.record(y, &[self], saved)
    }
}

/// Gradient of `y = f(x)` pointwise: `∂L/∂x = g ⊙ f'(x)`, with `f'` from [`Unary::df`]; only
/// what `df` reads ([`Unary::DF_READS`]) is kept.
struct UnaryBackward<U, T> {
    u: U,
    x: Option<Tensor<T>>,
    y: Option<Tensor<T>>,
}

impl<U: Unary, T: Float> Backward<T> for UnaryBackward<U, T> {
    fn name(&self) -> &'static str {
        U::NAME
    }

    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let u = self.u;
        // One pass, one output: no temporary tensor of derivatives.
        let dx = match (&self.x, &self.y) {
            (Some(x), Some(y)) => g.zip_map3(
                x,
                y,
                #[inline(always)]
                |g, x, y| g * u.df(x, y),
            ),
            (Some(x), None) => g.zip_map(
                x,
                #[inline(always)]
                |g, x| g * u.df(x, u.f(x)),
            ),
            (None, Some(y)) => {
                let nan = T::from_f64(f64::NAN);
                g.zip_map(
                    y,
                    #[inline(always)]
                    |g, y| g * u.df(nan, y),
                )
            }
            (None, None) => unreachable!("a unary op keeps its input, its output or both"),
        };
        vec![Some(dx)]
    }
}

impl<T: Float> std::fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var(#{}, {:?})", self.index, self.value)
    }
}
