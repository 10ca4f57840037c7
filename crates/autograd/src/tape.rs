//! The tape: one forward pass recorded in creation order, walked once in reverse by `backward`.

use crate::backward::Backward;
use crate::error::{AutogradError, Result};
use crate::grads::Grads;
use crate::param::{Param, ParamId};
use crate::var::Var;
use rand::SeedableRng;
use rand::rngs::StdRng;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tapegrad_tensor::{Float, Tensor};

/// Distinguishes tapes so vars of two tapes are never mixed; a counter, read by no computation.
static NEXT_TAPE: AtomicUsize = AtomicUsize::new(0);

/// What a backward pass reports each parameter's final gradient to (see [`Var::backward_with_hook`]).
pub(crate) type GradHook<'h, T> = dyn FnMut(ParamId, &Tensor<T>) + 'h;

/// The index a constant var carries: it is not on the tape, so nothing walks back into it.
pub(crate) const CONSTANT: usize = usize::MAX;

pub(crate) struct Node<T> {
    /// Tape indices of the inputs; [`CONSTANT`] for an input that needs no gradient.
    inputs: SmallVec<[usize; 2]>,
    /// The rule, until a backward pass consumes it (unless the tape retains its graph).
    op: Option<Box<dyn Backward<T>>>,
    /// The op's name; kept after the rule is freed, for reports and gradcheck coverage.
    name: Option<&'static str>,
    shape: SmallVec<[usize; 4]>,
    param: Option<ParamId>,
    keep_grad: bool,
}

pub(crate) struct Inner<T> {
    id: usize,
    nodes: RefCell<Vec<Node<T>>>,
    recording: Cell<bool>,
    retain_graph: Cell<bool>,
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
/// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
/// use tapegrad::prelude::*;
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

impl<T: Float> std::fmt::Debug for Tape<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("id", &self.inner.id)
            .field("nodes", &self.len())
            .field("seeded", &self.is_seeded())
            .finish()
    }
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
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::<f32>::new();
    /// assert!(tape.is_empty());
    /// ```
    pub fn new() -> Self {
        Tape {
            inner: Rc::new(Inner {
                id: NEXT_TAPE.fetch_add(1, Ordering::Relaxed),
                nodes: RefCell::new(Vec::new()),
                recording: Cell::new(true),
                retain_graph: Cell::new(false),
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
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::<f32>::with_seed(7);
    /// assert!(tape.is_seeded() && !Tape::<f32>::new().is_seeded());
    /// let a: f64 = tape.with_rng(|rng| rng.random());
    /// let b: f64 = Tape::<f32>::with_seed(7).with_rng(|rng| rng.random());
    /// assert_eq!(a, b); // the same seed gives the same draws
    /// ```
    pub fn with_seed(seed: u64) -> Self {
        let tape = Self::new();
        *tape.inner.rng.borrow_mut() = Some(StdRng::seed_from_u64(seed));
        tape
    }

    /// Whether the tape was made by [`Tape::with_seed`], so random ops can draw masks from it.
    ///
    /// Example: [`Tape::with_seed`].
    pub fn is_seeded(&self) -> bool {
        self.inner.rng.borrow().is_some()
    }

    /// Runs `f` with this tape's generator.
    ///
    /// Example: [`Tape::with_seed`].
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
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::<f32>::new();
    /// let x = tape.input(Tensor::zeros(&[1]));
    /// assert!(x.tape().same_as(&tape) && tape.same_as(&tape.clone()));
    /// assert!(!tape.same_as(&Tape::new()));
    /// ```
    pub fn same_as(&self, other: &Tape<T>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// Number of recorded nodes (leaves included).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let c = tape.input(Tensor::from_vec(vec![2.0f32], &[1])); // a constant: not recorded
    /// assert!(tape.is_empty());
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![3.0], &[1]));
    /// let _y = x.mul(&c);
    /// assert_eq!(tape.len(), 2); // the leaf x and the product
    /// assert_eq!(tape.op_names(), ["mul"]);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    ///
    /// Example: [`Tape::len`].
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&self, node: Node<T>) -> usize {
        let mut nodes = self.inner.nodes.borrow_mut();
        nodes.push(node);
        nodes.len() - 1
    }

    fn leaf(&self, value: Tensor<T>, param: Option<ParamId>, keep_grad: bool) -> Var<T> {
        let index = self.push(Node {
            inputs: SmallVec::new(),
            op: None,
            name: None,
            shape: value.shape().into(),
            param,
            keep_grad,
        });
        Var::new(self.clone(), index, value, true)
    }

    /// A value that needs no gradient (data, labels, constants). It is not recorded: the tape
    /// grows only with values a gradient flows through.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let data = tape.input(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![3.0, 4.0], &[2]));
    /// assert!(!data.requires_grad() && x.requires_grad());
    /// let g = x.mul(&data).sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [1.0, 2.0]);
    /// assert!(g.wrt(&data).is_none());
    /// ```
    pub fn input(&self, value: Tensor<T>) -> Var<T> {
        Var::new(self.clone(), CONSTANT, value, false)
    }

    /// A value whose gradient the caller wants; read it with [`Grads::wrt`].
    ///
    /// Example: [`Tape::input`].
    pub fn input_with_grad(&self, value: Tensor<T>) -> Var<T> {
        self.leaf(value, None, true)
    }

    /// Links a long-lived parameter into this pass; its gradient is read with [`Grads::get`].
    ///
    /// A frozen parameter ([`Param::set_requires_grad`]`(false)`) is linked as a constant, as
    /// [`Tape::input`] would: nothing is recorded, and no gradient flows to it or through the
    /// ops that only it feeds.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let w = Param::new("w", Tensor::from_vec(vec![2.0f32], &[1]));
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::from_vec(vec![3.0], &[1]));
    /// let g = tape.param(&w).mul(&x).sum_all().backward();
    /// assert_eq!(g.get(&w).unwrap().to_vec(), [3.0]);
    /// ```
    pub fn param(&self, p: &Param<T>) -> Var<T> {
        if !p.requires_grad() {
            return self.input(p.value());
        }
        self.leaf(p.value(), Some(p.id()), false)
    }

    /// Records `value = op(inputs)` with the op's backward rule.
    ///
    /// This is how every op, built-in or user-written, enters the tape. If no input needs a
    /// gradient (or inside [`Tape::no_grad`]) nothing is recorded at all and the result is a
    /// constant.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; pub mod autograd { pub use tapegrad_autograd::Backward; } }
    /// use tapegrad::autograd::Backward;
    /// use tapegrad::prelude::*;
    ///
    /// /// `y = x³`, saving `x` for the rule `∂L/∂x = g · 3x²`.
    /// struct Cube(Tensor<f32>);
    /// impl Backward<f32> for Cube {
    ///     fn name(&self) -> &'static str {
    ///         "cube"
    ///     }
    ///     fn backward(&self, g: &Tensor<f32>, _needs: &[bool]) -> Vec<Option<Tensor<f32>>> {
    ///         vec![Some(g.mul(&self.0.square().mul_scalar(3.0)))]
    ///     }
    /// }
    ///
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let y = tape.record(x.value().powi(3), &[&x], Cube(x.value().clone()));
    /// assert_eq!(y.value().to_vec(), [1.0, 8.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [3.0, 12.0]);
    /// // An input from another tape is an error:
    /// let other = Tape::new().input_with_grad(Tensor::zeros(&[2]));
    /// let cube = Cube(other.value().clone());
    /// assert!(tape.try_record(other.value().powi(3), &[&other], cube).is_err());
    /// ```
    ///
    /// # Panics
    /// If the inputs come from different tapes; [`Tape::try_record`] returns the error.
    #[track_caller]
    pub fn record(&self, value: Tensor<T>, inputs: &[&Var<T>], op: impl Backward<T>) -> Var<T> {
        crate::error::or_panic(self.try_record(value, inputs, op))
    }

    /// Fallible [`Tape::record`], what every `try_` op records with.
    ///
    /// # Errors
    /// [`AutogradError::TapeMismatch`] naming the op if an input comes from another tape.
    pub fn try_record(
        &self,
        value: Tensor<T>,
        inputs: &[&Var<T>],
        op: impl Backward<T>,
    ) -> Result<Var<T>> {
        if inputs.iter().any(|v| !v.tape().same_as(self)) {
            return Err(AutogradError::TapeMismatch { op: op.name() });
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
            return Ok(self.input(value));
        }
        let name = op.name();
        let index = self.push(Node {
            inputs: inputs
                .iter()
                .map(|v| {
                    if v.requires_grad() {
                        v.index()
                    } else {
                        CONSTANT
                    }
                })
                .collect(),
            op: Some(Box::new(op)),
            name: Some(name),
            shape: value.shape().into(),
            param: None,
            keep_grad: false,
        });
        Ok(Var::new(self.clone(), index, value, true))
    }

    /// Names of the ops recorded so far, in order (what gradcheck reports as covered).
    ///
    /// Example: [`Tape::len`].
    pub fn op_names(&self) -> Vec<&'static str> {
        self.inner
            .nodes
            .borrow()
            .iter()
            .filter_map(|n| n.name)
            .collect()
    }

    /// Runs `f` without recording: every op inside returns constants (PyTorch: `torch.no_grad`).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32], &[1]));
    /// let y = tape.no_grad(|| x.mul_scalar(2.0));
    /// assert!(!y.requires_grad());
    /// assert_eq!(tape.len(), 1); // only the leaf x
    /// ```
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        let before = self.inner.recording.replace(false);
        let out = f();
        self.inner.recording.set(before);
        out
    }

    /// Keeps every backward rule after a backward pass, so the graph can be walked again
    /// (PyTorch: `retain_graph=True`).
    ///
    /// By default `backward` frees each rule, and the tensors it saved, as soon as it has used
    /// it, as PyTorch does: memory falls during the pass, and a parameter value that only the
    /// graph still shared is free again, so the optimizer updates it in place even while the
    /// caller still holds `loss` or the logits. A second backward through a freed part is an
    /// error ([`AutogradError::GraphFreed`]).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![3.0f32], &[1]));
    /// let y = x.square().sum_all();
    /// tape.set_retain_graph(true);
    /// let first = y.backward();
    /// let second = y.backward(); // walks the kept graph again
    /// assert_eq!(first.wrt(&x).unwrap().to_vec(), second.wrt(&x).unwrap().to_vec());
    /// tape.set_retain_graph(false);
    /// let _ = y.backward(); // frees the rules as it goes
    /// assert!(y.try_backward().is_err()); // the graph is gone
    /// ```
    pub fn set_retain_graph(&self, on: bool) {
        self.inner.retain_graph.set(on);
    }

    /// Turns anomaly detection on or off: when on, the first op whose forward output or backward
    /// gradient holds a NaN or infinity is remembered, and `backward` reports it by name.
    ///
    /// Cheaper than PyTorch's `detect_anomaly`: one finiteness scan per recorded value, no stack traces.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// tape.set_anomaly_detection(true);
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![-1.0f32, 4.0], &[2]));
    /// let y = x.log().sum_all(); // ln(−1) is NaN
    /// let err = tape.anomaly().unwrap();
    /// assert!(err.to_string().starts_with("anomaly: log produced a NaN"));
    /// assert!(y.try_backward().is_err());
    /// ```
    pub fn set_anomaly_detection(&self, on: bool) {
        self.inner.anomaly_mode.set(on);
    }

    /// The first anomaly found so far, if detection is on.
    ///
    /// Example: [`Tape::set_anomaly_detection`].
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
    ///
    /// With a `hook`, each parameter's complete gradient is passed to it as soon as the walk has
    /// passed that parameter's lowest leaf (see [`Var::backward_with_hook`]); without one the walk
    /// does no extra work.
    pub(crate) fn backward(
        &self,
        root: usize,
        seed: Tensor<T>,
        hook: Option<&mut GradHook<'_, T>>,
    ) -> Result<Grads<T>> {
        if let Some(err) = self.anomaly() {
            return Err(err);
        }
        let mut hook = hook.map(|hook| Finality::new(hook, &self.inner.nodes.borrow()[..=root]));
        let retain = self.inner.retain_graph.get();
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
            let Some(g) = grads[i].take() else {
                // A param's lowest leaf may get nothing while another of its leaves did.
                if let Some(hook) = &mut hook {
                    hook.passed(i, &out.params);
                }
                continue;
            };
            // The rule leaves the tape before it runs (the borrow is released, so a rule may
            // itself use the tape) and is dropped after, with everything it saved.
            let (name, op, inputs, needs) = {
                let mut nodes = self.inner.nodes.borrow_mut();
                let node = &mut nodes[i];
                let Some(name) = node.name else {
                    if let Some(id) = node.param {
                        accumulate(out.params.entry(id), g.contiguous());
                        if let Some(hook) = &mut hook {
                            hook.passed(i, &out.params);
                        }
                    } else if node.keep_grad {
                        out.vars.insert(i, g.contiguous());
                    }
                    continue;
                };
                let op = if retain {
                    None
                } else {
                    Some(
                        node.op
                            .take()
                            .ok_or(AutogradError::GraphFreed { op: name })?,
                    )
                };
                let inputs = node.inputs.clone();
                let needs: SmallVec<[bool; 4]> = inputs
                    .iter()
                    .map(|&k| k != CONSTANT && requires(&nodes[k]))
                    .collect();
                (name, op, inputs, needs)
            };
            let input_grads = match &op {
                Some(op) => op.backward(&g, &needs),
                None => {
                    let nodes = self.inner.nodes.borrow();
                    let op = nodes[i]
                        .op
                        .as_ref()
                        .ok_or(AutogradError::GraphFreed { op: name })?;
                    op.backward(&g, &needs)
                }
            };
            drop(op);
            drop(g);
            if input_grads.len() != inputs.len() {
                return Err(AutogradError::GradientCount {
                    op: name,
                    inputs: inputs.len(),
                    returned: input_grads.len(),
                });
            }
            for (k, (&input, grad)) in inputs.iter().zip(input_grads).enumerate() {
                if !needs[k] {
                    continue;
                }
                let Some(grad) = grad else {
                    return Err(AutogradError::MissingGradient { op: name, input: k });
                };
                let shape = self.inner.nodes.borrow()[input].shape.clone();
                // The one place broadcasting is undone, for every op alike.
                let grad = grad
                    .try_sum_to(&shape)
                    .map_err(|source| AutogradError::Backward { op: name, source })?;
                if self.inner.anomaly_mode.get() {
                    let shapes: Vec<Vec<usize>> = {
                        let nodes = self.inner.nodes.borrow();
                        inputs
                            .iter()
                            .map(|&j| match j {
                                CONSTANT => Vec::new(),
                                j => nodes[j].shape.to_vec(),
                            })
                            .collect()
                    };
                    let during = format!("gradient of input {k}");
                    self.check_finite(&grad, name, during, shapes.into_iter());
                    if let Some(err) = self.anomaly() {
                        return Err(err);
                    }
                }
                grads[input] = Some(match grads[input].take() {
                    Some(sum) => add_into(sum, &grad),
                    None => grad,
                });
            }
        }
        Ok(out)
    }
}

/// A backward hook, and where the walk makes each parameter's gradient final.
///
/// Every consumer of a leaf has a higher index than the leaf, so once the reverse walk has passed
/// a parameter's lowest leaf nothing can add to its gradient again.
struct Finality<'h, T> {
    hook: &'h mut GradHook<'h, T>,
    /// `(lowest leaf index, param)` in increasing index order: the walk passes them from the back.
    pending: Vec<(usize, ParamId)>,
}

impl<'h, T: Float> Finality<'h, T> {
    /// Finds each parameter's lowest leaf among `nodes` (the ones at or below the root).
    fn new(hook: &'h mut GradHook<'h, T>, nodes: &[Node<T>]) -> Self {
        let mut seen = HashSet::new();
        let pending = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, node)| node.param.map(|id| (i, id)))
            .filter(|&(_, id)| seen.insert(id))
            .collect();
        Finality { hook, pending }
    }

    /// Reports every parameter whose lowest leaf is at or above `i`, which the walk has just
    /// passed; one with no gradient at all is not reported.
    fn passed(&mut self, i: usize, params: &HashMap<ParamId, Tensor<T>>) {
        while let Some(&(at, id)) = self.pending.last() {
            if at < i {
                break;
            }
            self.pending.pop();
            if let Some(g) = params.get(&id) {
                (self.hook)(id, g);
            }
        }
    }
}

/// `sum + grad`, written into `sum`'s buffer when nothing else shares it.
fn add_into<T: Float>(mut sum: Tensor<T>, grad: &Tensor<T>) -> Tensor<T> {
    match sum.try_add_assign(grad) {
        Ok(()) => sum,
        Err(_) => sum.add(grad),
    }
}

fn requires<T>(node: &Node<T>) -> bool {
    node.name.is_some() || node.param.is_some() || node.keep_grad
}

fn accumulate<T: Float>(
    slot: std::collections::hash_map::Entry<'_, ParamId, Tensor<T>>,
    g: Tensor<T>,
) {
    use std::collections::hash_map::Entry;
    match slot {
        Entry::Occupied(mut e) => {
            if e.get_mut().try_add_assign(&g).is_err() {
                let sum = e.get().add(&g);
                e.insert(sum);
            }
        }
        Entry::Vacant(e) => {
            e.insert(g);
        }
    }
}
