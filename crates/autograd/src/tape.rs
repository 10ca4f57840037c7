//! The tape: one forward pass recorded in creation order, walked once in reverse by `backward`.

use crate::backward::Backward;
use crate::error::{AutogradError, Result};
use crate::grads::Grads;
use crate::param::{Param, ParamId};
use crate::var::Var;
use rand::rngs::StdRng;
use rand::SeedableRng;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tapegrad_tensor::{Float, Tensor};

/// Distinguishes tapes so vars of two tapes are never mixed; a counter, read by no computation.
static NEXT_TAPE: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct Node<T> {
    inputs: SmallVec<[usize; 2]>,
    op: Option<Box<dyn Backward<T>>>,
    shape: SmallVec<[usize; 4]>,
    param: Option<ParamId>,
    keep_grad: bool,
}

pub(crate) struct Inner<T> {
    id: usize,
    nodes: RefCell<Vec<Node<T>>>,
    recording: Cell<bool>,
    anomaly_mode: Cell<bool>,
    anomaly: RefCell<Option<AutogradError>>,
    rng: RefCell<Option<StdRng>>,
}

/// Records one forward pass; [`Var::backward`] walks it once in reverse.
///
/// A tape is cheap to create: make one per training step and drop it afterwards, which frees
/// every intermediate value and saved tensor. Cloning a `Tape` gives another handle to the same
/// recording. Tapes are independent: two threads each with their own tape do not interact.
///
/// ```
/// # use tapegrad_autograd::{Param, Tape};
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::from_vec(vec![2.0f64, -1.0], &[2]));
/// let tape = Tape::new();
/// let x = tape.input(Tensor::from_vec(vec![3.0, 4.0], &[2]));
/// let loss = (tape.param(&w) * x).sum_all();  // 2·3 − 1·4 = 2
/// assert_eq!(loss.value().item(), 2.0);
/// let grads = loss.backward();
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![3.0, 4.0]);
/// ```
pub struct Tape<T: Float = f32> {
    inner: Rc<Inner<T>>,
}

impl<T: Float> Clone for Tape<T> {
    fn clone(&self) -> Self {
        Tape {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape {
            inner: Rc::new(Inner {
                id: NEXT_TAPE.fetch_add(1, Ordering::Relaxed),
                nodes: RefCell::new(Vec::new()),
                recording: Cell::new(true),
                anomaly_mode: Cell::new(false),
                anomaly: RefCell::new(None),
                rng: RefCell::new(None),
            }),
        }
    }

    /// An empty tape whose random ops (dropout layers) draw from a generator seeded with `seed`.
    ///
    /// Randomness belongs to a pass, so a training loop seeds each step's tape (say with the step
    /// number): the same seeds give the same masks, with one thread or many.
    pub fn with_seed(seed: u64) -> Self {
        let tape = Self::new();
        *tape.inner.rng.borrow_mut() = Some(StdRng::seed_from_u64(seed));
        tape
    }

    /// Runs `f` with this tape's generator.
    ///
    /// # Panics
    /// If the tape was made without a seed: a random op in a training pass needs [`Tape::with_seed`],
    /// since an implicit seed would silently repeat (or silently vary) masks.
    #[track_caller]
    pub fn with_rng<R>(&self, f: impl FnOnce(&mut StdRng) -> R) -> R {
        let mut rng = self.inner.rng.borrow_mut();
        match rng.as_mut() {
            Some(rng) => f(rng),
            None => panic!(
                "a random op (dropout) ran in training mode on a tape without a seed: create the tape with Tape::with_seed(step)"
            ),
        }
    }

    pub(crate) fn id(&self) -> usize {
        self.inner.id
    }

    /// Whether two handles refer to the same tape.
    pub fn same_as(&self, other: &Tape<T>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// Number of recorded nodes (leaves included).
    pub fn len(&self) -> usize {
        self.inner.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&self, node: Node<T>) -> usize {
        let mut nodes = self.inner.nodes.borrow_mut();
        nodes.push(node);
        nodes.len() - 1
    }

    fn leaf(
        &self,
        value: Tensor<T>,
        requires_grad: bool,
        param: Option<ParamId>,
        keep_grad: bool,
    ) -> Var<T> {
        let index = self.push(Node {
            inputs: SmallVec::new(),
            op: None,
            shape: value.shape().into(),
            param,
            keep_grad,
        });
        Var::new(self.clone(), index, value, requires_grad)
    }

    /// A value that needs no gradient (data, labels, constants).
    pub fn input(&self, value: Tensor<T>) -> Var<T> {
        self.leaf(value, false, None, false)
    }

    /// A value whose gradient the caller wants; read it with [`Grads::wrt`].
    pub fn input_with_grad(&self, value: Tensor<T>) -> Var<T> {
        self.leaf(value, true, None, true)
    }

    /// Links a long-lived parameter into this pass; its gradient is read with [`Grads::get`].
    pub fn param(&self, p: &Param<T>) -> Var<T> {
        self.leaf(p.value(), true, Some(p.id()), false)
    }

    /// Records `value = op(inputs)` with the op's backward rule.
    ///
    /// This is how every op, built-in or user-written, enters the tape. If no input needs a
    /// gradient (or inside [`Tape::no_grad`]) nothing is saved and the result is a constant.
    ///
    /// # Panics
    /// If the inputs come from different tapes.
    #[track_caller]
    pub fn record(&self, value: Tensor<T>, inputs: &[&Var<T>], op: impl Backward<T>) -> Var<T> {
        if let Some(stray) = inputs.iter().find(|v| !v.tape().same_as(self)) {
            let _ = stray;
            panic!("{}", AutogradError::TapeMismatch { op: op.name() });
        }
        if self.inner.anomaly_mode.get() {
            self.check_finite(
                &value,
                op.name(),
                "forward output".into(),
                inputs.iter().map(|v| v.shape().to_vec()),
            );
        }
        let requires_grad = self.inner.recording.get() && inputs.iter().any(|v| v.requires_grad());
        if !requires_grad {
            return self.input(value);
        }
        let index = self.push(Node {
            inputs: inputs.iter().map(|v| v.index()).collect(),
            op: Some(Box::new(op)),
            shape: value.shape().into(),
            param: None,
            keep_grad: false,
        });
        Var::new(self.clone(), index, value, true)
    }

    /// Names of the ops recorded so far, in order (what gradcheck reports as covered).
    pub fn op_names(&self) -> Vec<&'static str> {
        self.inner
            .nodes
            .borrow()
            .iter()
            .filter_map(|n| n.op.as_ref().map(|op| op.name()))
            .collect()
    }

    /// Runs `f` without recording: every op inside returns constants (PyTorch: `torch.no_grad`).
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        let before = self.inner.recording.replace(false);
        let out = f();
        self.inner.recording.set(before);
        out
    }

    /// Turns anomaly detection on or off: when on, the first op whose forward output or backward
    /// gradient holds a NaN or infinity is remembered, and `backward` reports it by name.
    ///
    /// Cheaper than PyTorch's `detect_anomaly`: one finiteness scan per recorded value, no stack traces.
    pub fn set_anomaly_detection(&self, on: bool) {
        self.inner.anomaly_mode.set(on);
    }

    /// The first anomaly found so far, if detection is on.
    pub fn anomaly(&self) -> Option<AutogradError> {
        self.inner.anomaly.borrow().clone()
    }

    fn check_finite(
        &self,
        value: &Tensor<T>,
        op: &'static str,
        during: String,
        input_shapes: impl Iterator<Item = Vec<usize>>,
    ) {
        if self.inner.anomaly.borrow().is_some() {
            return;
        }
        let finite = match value.as_contiguous_slice() {
            Some(s) => s.iter().all(|x| x.is_finite()),
            None => value.to_vec().iter().all(|x| x.is_finite()),
        };
        if !finite {
            *self.inner.anomaly.borrow_mut() = Some(AutogradError::Anomaly {
                op,
                during,
                input_shapes: input_shapes.collect(),
            });
        }
    }

    /// Walks the tape from `root` back to the leaves, starting from `∂L/∂root = seed`.
    pub(crate) fn backward(&self, root: usize, seed: Tensor<T>) -> Result<Grads<T>> {
        if let Some(err) = self.anomaly() {
            return Err(err);
        }
        let nodes = self.inner.nodes.borrow();
        let mut grads: Vec<Option<Tensor<T>>> = Vec::new();
        grads.resize_with(root + 1, || None);
        grads[root] = Some(seed);
        let mut out = Grads {
            params: HashMap::new(),
            vars: HashMap::new(),
            tape_id: self.id(),
        };
        // Creation order is already topological: walking it backwards needs no sort.
        for i in (0..=root).rev() {
            let Some(g) = grads[i].take() else { continue };
            let node = &nodes[i];
            let Some(op) = &node.op else {
                if let Some(id) = node.param {
                    accumulate(out.params.entry(id), g.contiguous());
                } else if node.keep_grad {
                    out.vars.insert(i, g.contiguous());
                }
                continue;
            };
            let needs: SmallVec<[bool; 4]> =
                node.inputs.iter().map(|&k| requires(&nodes[k])).collect();
            let input_grads = op.backward(&g, &needs);
            for (k, (&input, grad)) in node.inputs.iter().zip(input_grads).enumerate() {
                let Some(grad) = grad else { continue };
                if !needs[k] {
                    continue;
                }
                // The one place broadcasting is undone, for every op alike.
                let grad = grad.try_sum_to(&nodes[input].shape).map_err(|source| {
                    AutogradError::Backward {
                        op: op.name(),
                        source,
                    }
                })?;
                if self.inner.anomaly_mode.get() {
                    let shapes = node.inputs.iter().map(|&j| nodes[j].shape.to_vec());
                    self.check_finite(&grad, op.name(), format!("gradient of input {k}"), shapes);
                    if let Some(err) = self.anomaly() {
                        return Err(err);
                    }
                }
                grads[input] = Some(match grads[input].take() {
                    Some(sum) => sum.add(&grad),
                    None => grad,
                });
            }
        }
        Ok(out)
    }
}

fn requires<T>(node: &Node<T>) -> bool {
    node.op.is_some() || node.param.is_some() || node.keep_grad
}

fn accumulate<T: Float>(
    slot: std::collections::hash_map::Entry<'_, ParamId, Tensor<T>>,
    g: Tensor<T>,
) {
    use std::collections::hash_map::Entry;
    match slot {
        Entry::Occupied(mut e) => {
            let sum = e.get().add(&g);
            e.insert(sum);
        }
        Entry::Vacant(e) => {
            e.insert(g);
        }
    }
}
