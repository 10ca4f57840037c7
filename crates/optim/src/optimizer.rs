//! The `Optimizer` trait, parameter groups, and the bookkeeping every optimizer shares.
//!
//! Each optimizer keeps its parameters as slots (name, [`Param`], group, step count, state
//! buffers). A step looks up each slot's gradient by [`ParamId`](tapegrad_autograd::ParamId),
//! creates the slot's state buffers the first time it sees a gradient, and hands the parameter's
//! elements, the gradient and the buffers to the optimizer's fused update loop. After the first
//! step nothing is allocated.
//!
//! A step checks every gradient's shape, every parameter's shape against the shape its buffers
//! were made for, and every step counter before it updates anything, so a step that fails
//! changes nothing.

use crate::error::{OptimError, Result};
use crate::update_shard::UpdateShard;
use smallvec::SmallVec;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use tapegrad_autograd::{Grads, Param};
use tapegrad_tensor::{Float, Tensor};

/// Parameters with at least this many elements are updated on several threads.
///
/// Every update rule is elementwise, so splitting a parameter into blocks changes no value. Waking
/// a rayon worker costs about 20 µs (measured with `benches/training.rs`: splitting the 50,176
/// weights of `mlp-small`'s SGD step made the step 20 µs slower); an Adam element costs about
/// 1 ns, an SGD element a fifth of that, so from 2¹⁷ elements on the split pays for both.
pub const UPDATE_PARALLEL_THRESHOLD: usize = 1 << 17;

/// Runs `run` over blocks of at most [`UPDATE_PARALLEL_THRESHOLD`] elements of `theta`, `g` and
/// every state buffer, halving recursively on `rayon::join`.
fn split_update<T: Float>(
    theta: &mut [T],
    g: &[T],
    state: &mut [&mut [T]],
    run: &(impl Fn(&mut [T], &[T], &mut [&mut [T]]) + Sync),
) {
    if theta.len() <= UPDATE_PARALLEL_THRESHOLD / 2 {
        return run(theta, g, state);
    }
    // Halves on 64-element boundaries keep each block's vector loop whole.
    let mid = (theta.len() / 2).div_ceil(64) * 64;
    let (t1, t2) = theta.split_at_mut(mid);
    let (g1, g2) = g.split_at(mid);
    let mut s1: SmallVec<[&mut [T]; 4]> = SmallVec::new();
    let mut s2: SmallVec<[&mut [T]; 4]> = SmallVec::new();
    for buffer in state.iter_mut() {
        let (a, b) = std::mem::take(buffer).split_at_mut(mid);
        s1.push(a);
        s2.push(b);
    }
    rayon::join(
        || split_update(t1, g1, &mut s1, run),
        || split_update(t2, g2, &mut s2, run),
    );
}

/// Anything that lists named parameters: `Vec<(String, Param<T>)>` (what `Module::parameters`
/// returns), a slice of them, a slice or array of bare [`Param`]s (named by [`Param::name`]), or
/// one `Param`.
///
/// Names key the optimizer's saved state, so they must be unique within one optimizer.
///
/// ```
/// # use tapegrad_optim::NamedParams;
/// # use tapegrad_autograd::Param;
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::<f32>::zeros(&[2]));
/// let named = vec![("layer.w".to_string(), w.clone())];
/// assert_eq!(named.named_params()[0].0, "layer.w");
/// assert_eq!([w].named_params()[0].0, "w");
/// ```
pub trait NamedParams<T: Float> {
    /// The parameters with their names, in order.
    fn named_params(&self) -> Vec<(String, Param<T>)>;
}

impl<T: Float> NamedParams<T> for [(String, Param<T>)] {
    fn named_params(&self) -> Vec<(String, Param<T>)> {
        self.to_vec()
    }
}

impl<T: Float> NamedParams<T> for [Param<T>] {
    fn named_params(&self) -> Vec<(String, Param<T>)> {
        self.iter()
            .map(|p| (p.name().to_string(), p.clone()))
            .collect()
    }
}

impl<T: Float> NamedParams<T> for Vec<(String, Param<T>)> {
    fn named_params(&self) -> Vec<(String, Param<T>)> {
        self.as_slice().named_params()
    }
}

impl<T: Float> NamedParams<T> for Vec<Param<T>> {
    fn named_params(&self) -> Vec<(String, Param<T>)> {
        self.as_slice().named_params()
    }
}

impl<T: Float, const N: usize> NamedParams<T> for [(String, Param<T>); N] {
    fn named_params(&self) -> Vec<(String, Param<T>)> {
        self.as_slice().named_params()
    }
}

impl<T: Float, const N: usize> NamedParams<T> for [Param<T>; N] {
    fn named_params(&self) -> Vec<(String, Param<T>)> {
        self.as_slice().named_params()
    }
}

impl<T: Float> NamedParams<T> for Param<T> {
    fn named_params(&self) -> Vec<(String, Param<T>)> {
        vec![(self.name().to_string(), self.clone())]
    }
}

/// Settings of one parameter group; `None` inherits the optimizer's value.
///
/// A group's learning rate follows the optimizer's: after [`Optimizer::set_lr`]`(α)` a group built
/// with `lr: Some(αg)` uses `αg · α / α₀`, where `α₀` is the lr the optimizer was built with (if
/// `α₀ = 0`, the group keeps `αg`). So a schedule scales every group alike, as PyTorch's
/// schedulers scale each group's `initial_lr`.
///
/// ```
/// # use tapegrad_optim::{GroupConfig, Optimizer, Sgd, SgdConfig};
/// # use tapegrad_autograd::Param;
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::<f64>::zeros(&[2]));
/// let b = Param::new("b", Tensor::<f64>::zeros(&[2]));
/// let mut opt = Sgd::new(&w, SgdConfig { lr: 0.1, ..Default::default() });
/// opt.add_group(&b, GroupConfig { lr: Some(0.01), weight_decay: Some(0.0) });
/// opt.set_lr(0.05);
/// assert_eq!(opt.group_lr(1), 0.005);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupConfig {
    /// The group's learning rate at the optimizer's initial lr. Default `None`: the optimizer's lr.
    pub lr: Option<f64>,
    /// The group's weight decay. Default `None`: the optimizer's weight decay.
    pub weight_decay: Option<f64>,
}

/// An optimizer's complete state in memory: per-parameter buffers and metadata.
///
/// Tensor keys are `<parameter name>/<buffer>` (e.g. `0.weight/exp_avg`). Metadata holds
/// `optimizer` (its kind), `step` (calls to [`Optimizer::step`]), `lr` and `initial_lr`,
/// `step.<parameter name>` (steps in which that parameter had a gradient; `0` means it has no
/// buffers yet), and `hyper.<key>` for every other hyperparameter and group setting. Floats are
/// written in Rust's shortest round-trip form, so a reload restores them bit for bit.
#[derive(Debug, Clone)]
pub struct StateDict<T: Float> {
    /// State buffers by `<parameter name>/<buffer>`.
    pub tensors: BTreeMap<String, Tensor<T>>,
    /// Step counts, learning rates and hyperparameters as strings.
    pub metadata: BTreeMap<String, String>,
}

/// A first-order optimizer: updates its parameters in place from one backward pass's [`Grads`].
///
/// A training step: record a forward pass on a fresh tape, call `backward`, then `step`.
/// [`Param::update`] writes in place when nothing else shares the value; `backward` frees every
/// rule (and the parameter values it saved) as it goes, so the update is in place even while the
/// caller still holds `loss` or the logits. Only a tape kept with `set_retain_graph(true)`, or a
/// var of `tape.param(p)` still alive, makes the step copy that parameter once.
///
/// ```
/// use tapegrad_optim::{Adam, AdamConfig, Optimizer};
/// use tapegrad_autograd::{Param, Tape};
/// use tapegrad_tensor::Tensor;
///
/// let w = Param::new("w", Tensor::from_vec(vec![3.0f64, -2.0], &[2]));
/// let mut opt = Adam::new(&[w.clone()], AdamConfig { lr: 0.1, ..Default::default() });
/// for _ in 0..200 {
///     let grads = {
///         let tape = Tape::new();
///         tape.param(&w).square().sum_all().backward()
///     };
///     opt.step(&grads);
/// }
/// assert!(w.value().to_vec().iter().all(|x| x.abs() < 1e-2));
/// ```
pub trait Optimizer<T: Float> {
    /// Updates every parameter that has a gradient in `grads`; parameters without one, frozen
    /// ones ([`Param::set_requires_grad`]) among them, are skipped (their state and step count do
    /// not change, and no weight decay applies), as PyTorch skips a `grad` of `None`.
    ///
    /// # Panics
    /// Where [`Optimizer::try_step`] returns an error, with its message.
    #[track_caller]
    fn step(&mut self, grads: &Grads<T>) {
        crate::error::or_panic(self.try_step(grads))
    }

    /// Fallible [`Optimizer::step`]: everything is checked before anything is updated, so on an
    /// error no parameter, buffer or step count has changed.
    ///
    /// # Errors
    /// [`OptimError::GradientShape`] if a gradient's shape differs from its parameter's;
    /// [`OptimError::ParamShapeChanged`] if a parameter's shape changed since the optimizer made
    /// its state buffers (an optimizer without buffers, plain SGD, has nothing stale and steps
    /// on); [`OptimError::StepOverflow`] if a step count is at `u64::MAX`.
    fn try_step(&mut self, grads: &Grads<T>) -> Result<()>;

    /// [`Optimizer::try_step`] on `shard`'s elements of every parameter only: step counts,
    /// learning rates and new state buffers as in a whole step, every element outside the share
    /// (of the parameters and of their state) left as it is. Used by data-parallel training,
    /// where each rank updates its share and the ranks then exchange the updated values; every
    /// built-in rule is elementwise, so the shares together are exactly the whole step.
    ///
    /// # Errors
    /// As [`Optimizer::try_step`]; the provided method, for optimizers that do not implement
    /// it, takes [`UpdateShard::WHOLE`] and refuses any other share with
    /// [`OptimError::Config`].
    fn try_step_shard(&mut self, grads: &Grads<T>, shard: UpdateShard) -> Result<()> {
        if shard == UpdateShard::WHOLE {
            return self.try_step(grads);
        }
        Err(OptimError::config(
            "optimizer",
            "this optimizer does not implement try_step_shard, so it cannot update a share",
        ))
    }

    /// The optimizer's learning rate (the default group's).
    fn lr(&self) -> f64;

    /// Sets the learning rate; groups with their own lr are scaled alike (see [`GroupConfig`]).
    ///
    /// # Panics
    /// If `lr` is NaN, infinite or negative; [`Optimizer::try_set_lr`] returns the error.
    #[track_caller]
    fn set_lr(&mut self, lr: f64) {
        crate::error::or_panic(self.try_set_lr(lr))
    }

    /// Fallible [`Optimizer::set_lr`]: the value is checked by the same function as the
    /// configuration's lr at construction, and on an error the lr does not change.
    ///
    /// # Errors
    /// [`OptimError::Config`] if `lr` is NaN, infinite or negative.
    fn try_set_lr(&mut self, lr: f64) -> Result<()>;

    /// Adds a parameter group with its own settings.
    ///
    /// # Panics
    /// If a parameter or name is already in the optimizer; [`Optimizer::try_add_group`] returns
    /// the error instead.
    #[track_caller]
    fn add_group(&mut self, params: &dyn NamedParams<T>, config: GroupConfig) {
        crate::error::or_panic(self.try_add_group(params, config))
    }

    /// Fallible [`Optimizer::add_group`].
    ///
    /// # Errors
    /// [`OptimError::Config`] if a parameter or name is already present, or a value is negative.
    fn try_add_group(&mut self, params: &dyn NamedParams<T>, config: GroupConfig) -> Result<()>;

    /// Number of parameter groups (the one built by `new` is group 0).
    fn num_groups(&self) -> usize;

    /// The learning rate group `group` uses now.
    ///
    /// # Panics
    /// If there is no such group.
    fn group_lr(&self, group: usize) -> f64;

    /// Calls to [`Optimizer::step`] so far.
    fn step_count(&self) -> u64;

    /// The optimizer's state: buffers, step counts, learning rate and hyperparameters.
    fn state_dict(&self) -> StateDict<T>;

    /// Restores a state from [`Optimizer::state_dict`], so training continues bit-identically.
    ///
    /// The learning rate and step counts are taken from `state`; every other hyperparameter must
    /// equal this optimizer's. The loaded `lr` and `initial_lr` are checked by the function that
    /// checks a configuration at construction. Nothing changes unless everything fits.
    ///
    /// # Errors
    /// [`OptimError::Mismatch`] listing missing, unexpected and mismatched names: another kind of
    /// optimizer, other parameter names, other shapes or other hyperparameters, a learning rate
    /// construction would refuse, or a parameter counting more steps than the optimizer.
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()>;

    /// Saves [`Optimizer::state_dict`] to a safetensors file, atomically: a temporary file beside
    /// `path` is written, synced and renamed over `path`, so a failed save keeps the old file.
    ///
    /// # Errors
    /// [`OptimError::File`] naming the file if it cannot be written.
    fn save_state(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        crate::state::save(path.as_ref(), &self.state_dict())
    }

    /// Loads a state saved by [`Optimizer::save_state`]; see [`Optimizer::load_state_dict`].
    ///
    /// # Errors
    /// [`OptimError::File`] naming the file if it cannot be read or is not valid (truncated,
    /// damaged so a checksum fails, wrong dtype); [`OptimError::Mismatch`] naming it if it does not
    /// fit this optimizer.
    fn load_state(&mut self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        let state = crate::state::load(path)?;
        self.load_state_dict(&state).map_err(|e| e.at(path))
    }
}

/// The learning rate, weight decay and step number one parameter's update uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hyper {
    pub lr: f64,
    pub weight_decay: f64,
    /// Steps in which this parameter had a gradient, counting the current one (1 on the first).
    pub step: u64,
}

pub(crate) struct Slot<T> {
    name: String,
    param: Param<T>,
    group: usize,
    step: u64,
    /// Empty until the first gradient, then one buffer per name in `Core::buffers`.
    state: Vec<Vec<T>>,
    /// The parameter's shape when `state` was made: a later step on another shape is refused.
    state_shape: Vec<usize>,
}

/// Slots, groups, learning rate and step count: the part of every optimizer that is not its rule.
pub(crate) struct Core<T> {
    kind: &'static str,
    buffers: Vec<&'static str>,
    lr: f64,
    initial_lr: f64,
    weight_decay: f64,
    groups: Vec<GroupConfig>,
    slots: Vec<Slot<T>>,
    steps: u64,
}

impl<T: Float> Core<T> {
    /// What an optimizer shows with `{:?}`: its settings and what it holds, not its state tensors.
    pub(crate) fn debug(
        &self,
        f: &mut std::fmt::Formatter<'_>,
        name: &str,
        config: &dyn std::fmt::Debug,
    ) -> std::fmt::Result {
        f.debug_struct(name)
            .field("config", config)
            .field("lr", &self.lr)
            .field("groups", &self.groups.len())
            .field("params", &self.slots.len())
            .field("steps", &self.steps)
            .finish()
    }
}

/// Each `expected` setting that a saved state lacks goes to `missing`, each that differs to
/// `mismatched` as `key: {who} value, state value`: how a load finds another configuration.
pub(crate) fn compare_settings(
    expected: &BTreeMap<String, String>,
    state: &BTreeMap<String, String>,
    who: &str,
    missing: &mut Vec<String>,
    mismatched: &mut Vec<String>,
) {
    for (key, want) in expected {
        match state.get(key) {
            None => missing.push(key.clone()),
            Some(got) if got != want => {
                mismatched.push(format!("{key}: {who} {want}, state {got}"))
            }
            Some(_) => {}
        }
    }
}

/// `Config` naming `what` unless the hyperparameter `name` is finite and non-negative: the check
/// of every learning rate and weight decay.
pub(crate) fn check_non_negative(what: &'static str, name: &str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::config(
            what,
            format!("{name} must be finite and non-negative, got {x}"),
        ))
    }
}

/// A group's lr when the optimizer's is `lr` and was built with `initial_lr`.
fn group_lr_of(lr: f64, initial_lr: f64, group: &GroupConfig) -> f64 {
    match group.lr {
        None => lr,
        Some(own) if initial_lr == 0.0 => own,
        Some(own) => own * (lr / initial_lr),
    }
}

/// `x` in Rust's shortest round-trip form.
pub(crate) fn fmt_f64(x: f64) -> String {
    format!("{x:?}")
}

impl<T: Float> Core<T> {
    /// A core holding `params` as group 0; `lr` and `weight_decay` were checked by the
    /// optimizer's configuration.
    pub(crate) fn new(
        kind: &'static str,
        buffers: Vec<&'static str>,
        params: &dyn NamedParams<T>,
        lr: f64,
        weight_decay: f64,
    ) -> Result<Self> {
        let mut core = Core {
            kind,
            buffers,
            lr,
            initial_lr: lr,
            weight_decay,
            groups: Vec::new(),
            slots: Vec::new(),
            steps: 0,
        };
        core.add_group(params, GroupConfig::default())?;
        Ok(core)
    }

    pub(crate) fn add_group(
        &mut self,
        params: &dyn NamedParams<T>,
        config: GroupConfig,
    ) -> Result<()> {
        if let Some(lr) = config.lr {
            check_non_negative(self.kind, "group lr", lr)?;
        }
        if let Some(wd) = config.weight_decay {
            check_non_negative(self.kind, "group weight_decay", wd)?;
        }
        let params = params.named_params();
        let mut names: HashSet<&str> = self.slots.iter().map(|s| s.name.as_str()).collect();
        let mut ids: HashSet<_> = self.slots.iter().map(|s| s.param.id()).collect();
        for (name, p) in &params {
            if !names.insert(name) {
                return Err(OptimError::config(
                    self.kind,
                    format!("parameter name {name:?} appears twice; names key the saved state"),
                ));
            }
            if !ids.insert(p.id()) {
                return Err(OptimError::config(
                    self.kind,
                    format!("parameter {name:?} is already in the optimizer"),
                ));
            }
        }
        let group = self.groups.len();
        self.groups.push(config);
        self.slots
            .extend(params.into_iter().map(|(name, param)| Slot {
                name,
                param,
                group,
                step: 0,
                state: Vec::new(),
                state_shape: Vec::new(),
            }));
        Ok(())
    }

    pub(crate) fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the lr, which the optimizer's configuration has checked.
    pub(crate) fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    pub(crate) fn num_groups(&self) -> usize {
        self.groups.len()
    }

    pub(crate) fn steps(&self) -> u64 {
        self.steps
    }

    #[track_caller]
    pub(crate) fn group_lr(&self, group: usize) -> f64 {
        match self.groups.get(group) {
            Some(g) => self.lr_of(g),
            None => panic!(
                "{}: group_lr: no group {group}; the optimizer has {}",
                self.kind,
                self.groups.len()
            ),
        }
    }

    fn lr_of(&self, group: &GroupConfig) -> f64 {
        group_lr_of(self.lr, self.initial_lr, group)
    }

    /// One step: for each parameter with a gradient, `update(hyper, θ, g, state)` on its elements.
    ///
    /// Every slot is checked before any is updated, so a failed step changes nothing.
    /// Only `shard`'s elements of each parameter are updated (all of them for
    /// [`UpdateShard::WHOLE`]).
    pub(crate) fn step(
        &mut self,
        grads: &Grads<T>,
        shard: UpdateShard,
        update: impl Fn(Hyper, &mut [T], &[T], &mut [&mut [T]]) + Sync,
    ) -> Result<()> {
        let steps = self.steps.checked_add(1).ok_or(OptimError::StepOverflow {
            optimizer: self.kind,
        })?;
        for slot in &self.slots {
            self.check_slot(slot, grads)?;
        }
        self.steps = steps;
        let n_buffers = self.buffers.len();
        for slot in &mut self.slots {
            let Some(grad) = grads.get(&slot.param) else {
                continue;
            };
            // Gradients from the tape are contiguous; a strided one is copied once here.
            let g = grad.row_major();
            let g: &[T] = &g;
            let group = &self.groups[slot.group];
            let hyper = Hyper {
                lr: group_lr_of(self.lr, self.initial_lr, group),
                weight_decay: group.weight_decay.unwrap_or(self.weight_decay),
                step: slot.step + 1,
            };
            let state = &mut slot.state;
            let state_shape = &mut slot.state_shape;
            slot.param.update(|theta| {
                debug_assert_eq!(theta.len(), g.len(), "shapes were checked");
                if state.len() != n_buffers {
                    *state = (0..n_buffers).map(|_| vec![T::ZERO; g.len()]).collect();
                    *state_shape = grad.shape().to_vec();
                }
                let range = shard.range(theta.len());
                let (theta, g) = (&mut theta[range.clone()], &g[range.clone()]);
                let mut views: SmallVec<[&mut [T]; 4]> =
                    state.iter_mut().map(|v| &mut v[range.clone()]).collect();
                let run = |theta: &mut [T], g: &[T], state: &mut [&mut [T]]| {
                    update(hyper, theta, g, state)
                };
                if theta.len() >= UPDATE_PARALLEL_THRESHOLD && rayon::current_num_threads() > 1 {
                    split_update(theta, g, &mut views, &run);
                } else {
                    run(theta, g, &mut views);
                }
            });
            slot.step += 1;
        }
        Ok(())
    }

    /// Whether `slot` can take its gradient in `grads`, if it has one: the gradient has the
    /// parameter's shape, the parameter still has the shape its buffers were made for, and its
    /// step count can grow.
    fn check_slot(&self, slot: &Slot<T>, grads: &Grads<T>) -> Result<()> {
        let Some(grad) = grads.get(&slot.param) else {
            return Ok(());
        };
        // The clone shares storage and holds a short shape inline, so it allocates nothing; it is
        // dropped before the update, which then still runs in place.
        let value = slot.param.value();
        if grad.shape() != value.shape() {
            return Err(OptimError::GradientShape {
                optimizer: self.kind,
                param: slot.name.clone(),
                param_shape: value.shape().to_vec(),
                grad_shape: grad.shape().to_vec(),
            });
        }
        if !slot.state.is_empty() && slot.state_shape != value.shape() {
            return Err(OptimError::ParamShapeChanged {
                optimizer: self.kind,
                param: slot.name.clone(),
                state_shape: slot.state_shape.clone(),
                param_shape: value.shape().to_vec(),
            });
        }
        if slot.step == u64::MAX {
            return Err(OptimError::StepOverflow {
                optimizer: self.kind,
            });
        }
        Ok(())
    }

    /// The state dict, with the optimizer's own hyperparameters under `hyper.<key>`.
    pub(crate) fn state_dict(&self, hyper: &[(&'static str, String)]) -> StateDict<T> {
        let mut metadata = self.expected_metadata(hyper);
        metadata.insert("step".into(), self.steps.to_string());
        metadata.insert("lr".into(), fmt_f64(self.lr));
        metadata.insert("initial_lr".into(), fmt_f64(self.initial_lr));
        let mut tensors = BTreeMap::new();
        for slot in &self.slots {
            metadata.insert(format!("step.{}", slot.name), slot.step.to_string());
            // The buffers' own shape: the parameter may have been reshaped since.
            for (buffer, data) in self.buffers.iter().zip(&slot.state) {
                tensors.insert(
                    format!("{}/{buffer}", slot.name),
                    Tensor::from_vec(data.clone(), &slot.state_shape),
                );
            }
        }
        StateDict { tensors, metadata }
    }

    /// Metadata that must match exactly on load: the kind, hyperparameters and group settings.
    fn expected_metadata(&self, hyper: &[(&'static str, String)]) -> BTreeMap<String, String> {
        let mut metadata = BTreeMap::new();
        metadata.insert("optimizer".into(), self.kind.to_string());
        for (key, value) in hyper {
            metadata.insert(format!("hyper.{key}"), value.clone());
        }
        metadata.insert("hyper.weight_decay".into(), fmt_f64(self.weight_decay));
        metadata.insert("hyper.groups".into(), self.groups.len().to_string());
        let opt = |x: Option<f64>| x.map_or_else(|| "inherit".to_string(), fmt_f64);
        for (i, g) in self.groups.iter().enumerate() {
            metadata.insert(format!("hyper.group.{i}.lr"), opt(g.lr));
            metadata.insert(format!("hyper.group.{i}.weight_decay"), opt(g.weight_decay));
        }
        for slot in &self.slots {
            metadata.insert(
                format!("hyper.group_of.{}", slot.name),
                slot.group.to_string(),
            );
        }
        metadata
    }

    /// Restores `state`; `check_lr` is the configuration's check of a learning rate, applied to
    /// the loaded `lr` and `initial_lr`.
    pub(crate) fn load_state_dict(
        &mut self,
        state: &StateDict<T>,
        hyper: &[(&'static str, String)],
        check_lr: &dyn Fn(f64) -> Result<()>,
    ) -> Result<()> {
        let mut missing = Vec::new();
        let mut unexpected = Vec::new();
        let mut mismatched = Vec::new();
        let meta = &state.metadata;

        let expected = self.expected_metadata(hyper);
        compare_settings(&expected, meta, "optimizer", &mut missing, &mut mismatched);
        let mut parse = Parser {
            meta,
            missing: &mut missing,
            mismatched: &mut mismatched,
        };
        let lr = parse.get::<f64>("lr");
        let initial_lr = parse.get::<f64>("initial_lr");
        let steps = parse.get::<u64>("step");
        let slot_steps: Vec<Option<u64>> = self
            .slots
            .iter()
            .map(|slot| parse.get::<u64>(&format!("step.{}", slot.name)))
            .collect();
        for (key, value) in [("lr", lr), ("initial_lr", initial_lr)] {
            if let Some(Err(e)) = value.map(check_lr) {
                mismatched.push(format!(
                    "{key}: the state's {:?} is not usable: {e}",
                    meta[key]
                ));
            }
        }
        // A parameter steps only inside an optimizer step, so it cannot count more of them.
        for (slot, step) in self.slots.iter().zip(&slot_steps) {
            if let (Some(own), Some(all)) = (*step, steps) {
                if own > all {
                    mismatched.push(format!(
                        "step.{}: {own} steps, more than the optimizer's {all}",
                        slot.name
                    ));
                }
            }
        }
        let mut known_tensors = HashSet::new();
        for (slot, step) in self.slots.iter().zip(&slot_steps) {
            if step.unwrap_or(0) == 0 {
                continue;
            }
            let shape = slot.param.shape();
            for buffer in &self.buffers {
                let key = format!("{}/{buffer}", slot.name);
                match state.tensors.get(&key) {
                    None => missing.push(key.clone()),
                    Some(t) if t.shape() != shape.as_slice() => mismatched
                        .push(format!("{key}: parameter {shape:?}, state {:?}", t.shape())),
                    Some(_) => {}
                }
                known_tensors.insert(key);
            }
        }
        let known_meta: HashSet<String> = expected
            .keys()
            .cloned()
            .chain(["step", "lr", "initial_lr"].map(String::from))
            .chain(self.slots.iter().map(|s| format!("step.{}", s.name)))
            .collect();
        unexpected.extend(meta.keys().filter(|k| !known_meta.contains(*k)).cloned());
        unexpected.extend(
            state
                .tensors
                .keys()
                .filter(|k| !known_tensors.contains(*k))
                .cloned(),
        );
        if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
            return Err(OptimError::Mismatch {
                path: None,
                missing,
                unexpected,
                mismatched,
            });
        }
        let (Some(lr), Some(initial_lr), Some(steps)) = (lr, initial_lr, steps) else {
            unreachable!("a missing value was reported above")
        };
        self.lr = lr;
        self.initial_lr = initial_lr;
        self.steps = steps;
        for (slot, step) in self.slots.iter_mut().zip(slot_steps) {
            slot.step = step.expect("a missing step was reported above");
            slot.state = if slot.step == 0 {
                Vec::new()
            } else {
                self.buffers
                    .iter()
                    .map(|buffer| state.tensors[&format!("{}/{buffer}", slot.name)].to_vec())
                    .collect()
            };
            // Each buffer was checked to have the parameter's shape.
            slot.state_shape = slot.param.shape();
        }
        Ok(())
    }
}

/// Reads typed values from state metadata, listing absent and unparsable keys.
pub(crate) struct Parser<'a> {
    pub(crate) meta: &'a BTreeMap<String, String>,
    pub(crate) missing: &'a mut Vec<String>,
    pub(crate) mismatched: &'a mut Vec<String>,
}

impl Parser<'_> {
    pub(crate) fn get<V: std::str::FromStr>(&mut self, key: &str) -> Option<V> {
        let Some(text) = self.meta.get(key) else {
            self.missing.push(key.to_string());
            return None;
        };
        let value = text.parse::<V>().ok();
        if value.is_none() {
            self.mismatched
                .push(format!("{key}: cannot read {text:?} as a number"));
        }
        value
    }
}

/// Implements [`Optimizer`] for a type with a `core: Core<T>` field, a `config` of type
/// `$config` (with an `lr` field and a `validate()` that checks it), a `hyperparameters()` method
/// and an inherent `apply(&mut self, grads, shard) -> Result<()>` holding its update rule.
macro_rules! impl_optimizer {
    ($ty:ident, $config:ident) => {
        impl<T: tapegrad_tensor::Float> $ty<T> {
            /// Checks `lr` as `config`'s lr, with the check construction runs.
            fn check_lr(config: &$config, lr: f64) -> $crate::Result<()> {
                $config { lr, ..*config }.validate()
            }
        }

        impl<T: tapegrad_tensor::Float> $crate::Optimizer<T> for $ty<T> {
            fn try_step(&mut self, grads: &tapegrad_autograd::Grads<T>) -> $crate::Result<()> {
                self.apply(grads, $crate::UpdateShard::WHOLE)
            }
            fn try_step_shard(
                &mut self,
                grads: &tapegrad_autograd::Grads<T>,
                shard: $crate::UpdateShard,
            ) -> $crate::Result<()> {
                self.apply(grads, shard)
            }
            fn lr(&self) -> f64 {
                self.core.lr()
            }
            fn try_set_lr(&mut self, lr: f64) -> $crate::Result<()> {
                Self::check_lr(&self.config, lr)?;
                self.core.set_lr(lr);
                Ok(())
            }
            fn try_add_group(
                &mut self,
                params: &dyn $crate::NamedParams<T>,
                config: $crate::GroupConfig,
            ) -> $crate::Result<()> {
                self.core.add_group(params, config)
            }
            fn num_groups(&self) -> usize {
                self.core.num_groups()
            }
            #[track_caller]
            fn group_lr(&self, group: usize) -> f64 {
                self.core.group_lr(group)
            }
            fn step_count(&self) -> u64 {
                self.core.steps()
            }
            fn state_dict(&self) -> $crate::StateDict<T> {
                self.core.state_dict(&self.hyperparameters())
            }
            fn load_state_dict(&mut self, state: &$crate::StateDict<T>) -> $crate::Result<()> {
                let config = self.config;
                let check_lr = |lr| Self::check_lr(&config, lr);
                let hyper = self.hyperparameters();
                self.core.load_state_dict(state, &hyper, &check_lr)
            }
        }
    };
}
pub(crate) use impl_optimizer;
