//! Long-lived, named parameters that outlive any one tape.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tapegrad_tensor::{Float, Tensor};

/// A parameter's identity: stable for its life, unique in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

/// Hands out ids; a counter, not state any computation reads.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

struct Inner<T> {
    id: ParamId,
    name: String,
    value: RwLock<Tensor<T>>,
    requires_grad: AtomicBool,
}

/// A trainable tensor with a stable id and a name (e.g. `layers.0.weight`).
///
/// Cloning a `Param` gives another handle to the same parameter, as `Arc` does. A tape links it
/// in with [`Tape::param`](crate::Tape::param); an optimizer updates it in place between tapes.
///
/// ```
/// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
/// use tapegrad::prelude::*;
/// let w = Param::new("w", Tensor::<f32>::zeros(&[2, 3]));
/// assert_eq!(w.shape(), vec![2, 3]);
/// ```
#[derive(Clone)]
pub struct Param<T> {
    inner: Arc<Inner<T>>,
}

impl<T: Float> Param<T> {
    /// A new parameter holding `value`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("layer1.weight", Tensor::<f32>::zeros(&[2, 3]));
    /// assert_eq!(w.name(), "layer1.weight");
    /// assert_eq!((w.shape(), w.numel()), (vec![2, 3], 6));
    /// assert_eq!(w.clone().id(), w.id()); // a clone is another handle to the same parameter
    /// assert_ne!(w.id(), Param::new("b", Tensor::<f32>::zeros(&[1])).id());
    /// ```
    pub fn new(name: impl Into<String>, value: Tensor<T>) -> Self {
        let id = ParamId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        Param {
            inner: Arc::new(Inner {
                id,
                name: name.into(),
                value: RwLock::new(value.contiguous()),
                requires_grad: AtomicBool::new(true),
            }),
        }
    }

    /// This parameter's id.
    ///
    /// Example: [`Param::new`].
    pub fn id(&self) -> ParamId {
        self.inner.id
    }

    /// This parameter's name.
    ///
    /// Example: [`Param::new`].
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether tapes differentiate this parameter: `true` unless frozen with
    /// [`Param::set_requires_grad`]`(false)`.
    pub fn requires_grad(&self) -> bool {
        self.inner.requires_grad.load(Ordering::Relaxed)
    }

    /// Freezes (`false`) or unfreezes (`true`) the parameter, for every handle to it
    /// (PyTorch: `requires_grad_`).
    ///
    /// A frozen parameter enters a tape as a constant: [`Tape::param`](crate::Tape::param) records
    /// nothing for it, `backward` computes no gradient for it and does no work on its behalf,
    /// and optimizers, which skip a parameter without a gradient, leave it and its state alone.
    /// The flag is read when the parameter is linked into a tape, so a change applies from the
    /// next forward pass.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![2.0f64], &[1]));
    /// let handle = w.clone();
    /// handle.set_requires_grad(false); // freezes `w` too: both handles are one parameter
    /// let tape = Tape::new();
    /// let loss = tape.param(&w).square().sum_all();
    /// assert!(!w.requires_grad() && loss.backward().get(&w).is_none());
    /// ```
    pub fn set_requires_grad(&self, requires_grad: bool) {
        self.inner
            .requires_grad
            .store(requires_grad, Ordering::Relaxed);
    }

    /// The current value (a cheap clone sharing storage).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// assert_eq!(w.value().to_vec(), [1.0, 2.0]);
    /// w.set_value(Tensor::from_vec(vec![3.0, 4.0, 5.0], &[3]));
    /// assert_eq!(w.shape(), [3]);
    /// ```
    pub fn value(&self) -> Tensor<T> {
        self.inner
            .value
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The current value's shape.
    ///
    /// Example: [`Param::new`].
    pub fn shape(&self) -> Vec<usize> {
        self.inner
            .value
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .shape()
            .to_vec()
    }

    /// Number of scalars in the parameter.
    ///
    /// Example: [`Param::new`].
    pub fn numel(&self) -> usize {
        self.inner
            .value
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .numel()
    }

    /// Replaces the value (the shape may change; checkpoints check shapes before calling this).
    ///
    /// Example: [`Param::value`].
    pub fn set_value(&self, value: Tensor<T>) {
        *self.inner.value.write().unwrap_or_else(|e| e.into_inner()) = value.contiguous();
    }

    /// A new, independent parameter with this one's name, current value and frozen state (a fresh
    /// id); the storage is shared until either side is updated, then copied.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![1.0f32], &[1]));
    /// let copy = w.duplicate();
    /// copy.set_value(Tensor::from_vec(vec![9.0], &[1]));
    /// assert_eq!((copy.name(), w.value().item()), ("w", 1.0)); // w is unchanged
    /// assert_ne!(copy.id(), w.id());
    /// ```
    pub fn duplicate(&self) -> Self {
        let copy = Param::new(self.name(), self.value());
        copy.set_requires_grad(self.requires_grad());
        copy
    }

    /// Runs `f` on the value's elements in place, row-major; no copy when no tape still holds the value.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// w.update(|v| v.iter_mut().for_each(|x| *x -= 0.5)); // an optimizer step
    /// assert_eq!(w.value().to_vec(), [0.5, 1.5]);
    /// ```
    pub fn update<R>(&self, f: impl FnOnce(&mut [T]) -> R) -> R {
        let mut guard = self.inner.value.write().unwrap_or_else(|e| e.into_inner());
        f(guard.as_mut_slice())
    }
}

impl<T: Float> std::fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({:?}, shape {:?})", self.name(), self.shape())
    }
}
