//! `DataParallel`: the model's gradients averaged over the ranks after each backward pass.

use crate::communicator::{Blocking, Communicator, Launcher, Scalar};
use crate::error::{DistError, Result};
use crate::fingerprint;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tapegrad_autograd::{Grads, Param, ParamId, Var};
use tapegrad_nn::Module;
use tapegrad_optim::{Optimizer, StateDict, UpdateShard};
use tapegrad_tensor::{Float, Tensor};

/// What happens to buffers (BatchNorm running statistics) at each gradient reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BufferSync {
    /// Every rank takes rank 0's buffers, so all ranks hold the same model (PyTorch DDP's
    /// `broadcast_buffers=True`). The default.
    #[default]
    FromRoot,
    /// Every rank takes the mean of all ranks' buffers: running statistics over the whole
    /// global batch rather than rank 0's shard.
    Average,
    /// Each rank keeps its own buffers (they drift apart; rank 0's are what a checkpoint saves).
    Off,
}

/// Settings of [`DataParallel`]; every rank must use the same (they are part of the fingerprint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataParallelOptions {
    /// A bucket is closed once it holds at least this many gradient elements. Default 2²²
    /// (16 MiB of `f32`, PyTorch DDP's default is 25 MB): one all-reduce for all gradients of
    /// up to 4 million elements together (gradients of [`OWN_STORAGE_ELEMENTS`] or more are
    /// reduced in their own storage, unless overlapping, and do not count). Smaller buckets let
    /// [`DataParallelOptions::overlap`] start the last layers' reduction early, but each bucket
    /// is another call: measured on the 784-512-512-10 MLP with 2 ranks, one bucket ran at 53–58
    /// thousand samples/s, two buckets at 52–53.
    pub bucket_elements: usize,
    /// What happens to buffers. Default [`BufferSync::FromRoot`].
    pub buffers: BufferSync,
    /// Whether [`DataParallel::backward`] starts each bucket as a non-blocking all-reduce
    /// (`MPI_Iallreduce`) that runs on while backward goes on, rather than a blocking one the
    /// moment the bucket is complete. Default `false`: measured on Open MPI's shared-memory
    /// transport, the non-blocking reduction of the 784-512-512-10 MLP's gradients takes 0.97 ms
    /// against 0.41 ms blocking, and it makes progress only inside MPI calls, so nothing runs
    /// while a product computes (see the crate's README for the figures).
    pub overlap: bool,
}

impl Default for DataParallelOptions {
    fn default() -> Self {
        DataParallelOptions {
            bucket_elements: 1 << 22,
            buffers: BufferSync::FromRoot,
            overlap: false,
        }
    }
}

/// Time spent communicating, to set against the step time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommStats {
    /// Gradient reductions done.
    pub reductions: u64,
    /// Wall time communicating: all of [`DataParallel::all_reduce`] (packing, reductions, buffer
    /// sync); for [`DataParallel::backward`], the blocking reductions (or, with overlap, the wait
    /// for them after the backward pass), the in-place reductions after it, and the buffer sync.
    /// Packing during backward is not counted.
    pub reduce_time: Duration,
    /// Wall time of [`DataParallel::step`]'s exchange: the check that every rank's step worked
    /// and the all-gathers of the updated shares.
    pub exchange_time: Duration,
}

/// Gradients of at least this many elements are all-reduced in their own storage, in place,
/// rather than copied into a bucket (unless [`DataParallelOptions::overlap`], whose reductions
/// start during backward, before the gradients are the caller's to change). A call costs a few
/// µs; copying 2¹⁵ `f32` costs about as much, and the copy of all 669,706 gradients of the
/// 784-512-512-10 MLP was 3.6% of a rank's step.
pub const OWN_STORAGE_ELEMENTS: usize = 1 << 15;

/// Where one parameter's gradient lives in the buckets.
#[derive(Debug, Clone, Copy)]
struct Slot {
    bucket: usize,
    /// Reduced in its own storage (see [`OWN_STORAGE_ELEMENTS`]): the bucket holds only its
    /// presence count, and `offset` is unused.
    own: bool,
    offset: usize,
    len: usize,
    /// Index of its "has a gradient" count, after the bucket's gradient data.
    flag: usize,
}

/// Data-parallel training of one model on every rank: parameters broadcast from rank 0 at the
/// start, gradients summed over the ranks and divided by their number after every backward pass,
/// as PyTorch's `DistributedDataParallel` does.
///
/// Small gradients are packed in the model's parameter order (last parameters first, the order
/// in which backward finishes them) into flat buckets of about
/// [`DataParallelOptions::bucket_elements`] elements, one all-reduce per bucket; gradients of
/// [`OWN_STORAGE_ELEMENTS`] or more are all-reduced in place in their own storage (no copy). A
/// parameter without a gradient on some rank counts as zeros there; one without a gradient on
/// every rank stays without one, so the optimizer skips it as it would in a single process.
/// [`DataParallel::step`] then shares the optimizer's work out over the ranks.
///
/// ```
/// use tapegrad_distributed::{DataParallel, SingleProcess};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_nn::{Forward, Init, Linear, Mode};
/// # use tapegrad_tensor::Tensor;
/// # use rand::{SeedableRng, rngs::StdRng};
/// let model = Linear::<f32>::new(3, 2, Init::He, &mut StdRng::seed_from_u64(0));
/// let comm = SingleProcess; // or MpiWorld::init()? under mpirun
/// let mut ddp = DataParallel::new(&comm, &model).unwrap(); // checks and broadcasts the model
/// let tape = Tape::new();
/// let loss = model.forward(&tape.input(Tensor::ones(&[4, 3])), Mode::Train).square().mean_all();
/// let grads = ddp.backward(&loss).unwrap(); // averaged over the ranks
/// assert_eq!(grads.len(), 2);
/// ```
pub struct DataParallel<'c, T: Float + Scalar, C: Communicator> {
    comm: &'c C,
    params: Vec<Param<T>>,
    buffers: Vec<Param<T>>,
    slots: Vec<Slot>,
    index_of: HashMap<ParamId, usize>,
    /// Parameter indices per bucket.
    members: Vec<Vec<usize>>,
    /// Flat `[gradients…, presence counts…, failure flag]` per bucket; gradients are views of them.
    buckets: Vec<Tensor<T>>,
    /// Per parameter, every rank's share of its elements in [`DataParallel::step`].
    shares: Vec<Vec<usize>>,
    options: DataParallelOptions,
    stats: CommStats,
}

impl<T: Float + Scalar, C: Communicator> std::fmt::Debug for DataParallel<'_, T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sizes: Vec<usize> = self.buckets.iter().map(Tensor::numel).collect();
        f.debug_struct("DataParallel")
            .field("rank", &self.comm.rank())
            .field("size", &self.comm.size())
            .field("params", &self.params.len())
            .field("buckets", &sizes)
            .field("options", &self.options)
            .finish()
    }
}

impl<'c, T: Float + Scalar, C: Communicator> DataParallel<'c, T, C> {
    /// Wraps `model` with the default options: checks that every rank has the same model and
    /// gives every rank rank 0's parameters and buffers. Every rank must call it.
    ///
    /// # Errors
    /// [`DistError::ModelMismatch`] on every rank if any rank's model differs from rank 0's in a
    /// parameter's or buffer's name, shape or dtype, naming the first difference.
    pub fn new(comm: &'c C, model: &(impl Module<T> + ?Sized)) -> Result<Self> {
        Self::with_options(comm, model, DataParallelOptions::default())
    }

    /// [`DataParallel::new`] with settings.
    ///
    /// # Errors
    /// As [`DataParallel::new`]; [`DistError::Config`] for a bucket size of 0.
    pub fn with_options(
        comm: &'c C,
        model: &(impl Module<T> + ?Sized),
        options: DataParallelOptions,
    ) -> Result<Self> {
        if options.bucket_elements == 0 {
            return Err(DistError::Config("a bucket size of 0 elements".into()));
        }
        let named = model.parameters();
        let named_buffers = model.buffers();
        let line = |kind: &str, name: &str, p: &Param<T>| {
            format!("{kind} {name} {:?} {}", p.shape(), T::DTYPE)
        };
        let settings = format!(
            "settings: {} ranks, buckets of {} elements, buffers {:?}, overlap {}",
            comm.size(),
            options.bucket_elements,
            options.buffers,
            // MPI never matches a blocking reduction with a non-blocking one.
            options.overlap
        );
        let lines: Vec<String> = std::iter::once(settings)
            .chain(named.iter().map(|(n, p)| line("parameter", n, p)))
            .chain(named_buffers.iter().map(|(n, p)| line("buffer", n, p)))
            .collect();
        fingerprint::check(comm, &lines)?;
        let params: Vec<Param<T>> = named.into_iter().map(|(_, p)| p).collect();
        let buffers: Vec<Param<T>> = named_buffers.into_iter().map(|(_, p)| p).collect();
        for p in params.iter().chain(&buffers) {
            p.update(|values| comm.broadcast(values, 0));
        }
        let own_from = if options.overlap {
            usize::MAX
        } else {
            OWN_STORAGE_ELEMENTS
        };
        let (slots, members, buckets) = layout(&params, options.bucket_elements, own_from)?;
        let index_of = params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id(), i))
            .collect();
        let any = UpdateShard::new(comm.rank(), comm.size()).expect("a rank is below the size");
        let shares = params.iter().map(|p| any.lengths(p.numel())).collect();
        Ok(DataParallel {
            comm,
            params,
            buffers,
            slots,
            index_of,
            members,
            buckets,
            shares,
            options,
            stats: CommStats::default(),
        })
    }

    /// The communicator.
    pub fn comm(&self) -> &'c C {
        self.comm
    }

    /// Sizes of the buckets, in gradient elements, in the order they are reduced (gradients
    /// reduced in their own storage not counted).
    pub fn bucket_sizes(&self) -> Vec<usize> {
        self.members
            .iter()
            .map(|m| {
                m.iter()
                    .filter(|&&i| !self.slots[i].own)
                    .map(|&i| self.slots[i].len)
                    .sum()
            })
            .collect()
    }

    /// How many gradients are reduced in their own storage rather than in a bucket.
    pub fn own_storage_reductions(&self) -> usize {
        self.slots.iter().filter(|s| s.own).count()
    }

    /// Communication counted so far.
    pub fn stats(&self) -> CommStats {
        self.stats
    }

    /// Replaces every gradient in `grads` by its mean over the ranks (one blocking all-reduce per
    /// bucket), then synchronises buffers as the options say. Every rank must call it once per
    /// step.
    pub fn all_reduce(&mut self, grads: &mut Grads<T>) {
        if self.comm.size() == 1 {
            return; // the local gradients are the mean
        }
        let start = Instant::now();
        let scale = self.scale();
        for (k, bucket) in self.buckets.iter_mut().enumerate() {
            let bucket = bucket.as_mut_slice();
            clear_flags(bucket, &self.slots, &self.members[k]);
            for &i in &self.members[k] {
                let grad = grads.get_by_id(self.params[i].id());
                pack(bucket, &self.slots[i], grad, scale);
            }
            self.comm.all_reduce_sum(bucket);
        }
        self.reduce_own(grads, Some(scale));
        self.publish(grads);
        self.sync_buffers();
        self.stats.reductions += 1;
        self.stats.reduce_time += start.elapsed();
    }

    /// Runs `loss`'s backward pass and averages the gradients over the ranks, reducing each
    /// bucket as soon as backward has finished every gradient in it (blocking by default, or
    /// non-blocking with [`DataParallelOptions::overlap`]); then synchronises buffers.
    ///
    /// # Errors
    /// [`DistError::Backward`] if the backward pass failed on this rank or on another one (the
    /// failing rank still takes part in every reduction, so no rank is left waiting).
    pub fn backward(&mut self, loss: &Var<T>) -> Result<Grads<T>> {
        if self.comm.size() == 1 {
            return loss
                .try_backward()
                .map_err(|e| DistError::Backward(e.to_string()));
        }
        let (zero, one) = (T::from_f64(0.0), T::from_f64(1.0));
        // Seeding backward with 1/N gives each gradient already divided by N: exactly the
        // packed gradients times 1/N when N is a power of two (scaling by 2⁻ᵏ commutes with
        // rounding), within rounding otherwise.
        let seeded = loss.mul_scalar(self.scale());
        let (comm, slots, index_of, members) =
            (self.comm, &self.slots, &self.index_of, &self.members);
        let mut waiting: Vec<usize> = members.iter().map(Vec::len).collect();
        let mut work = |launcher: &mut dyn Launcher<T>| {
            for (k, m) in members.iter().enumerate() {
                clear_flags(launcher.bucket_mut(k), slots, m);
            }
            let result = seeded.try_backward_with_hook(|id, grad| {
                let Some(&i) = index_of.get(&id) else { return };
                let slot = slots[i];
                pack(launcher.bucket_mut(slot.bucket), &slot, Some(grad), one);
                waiting[slot.bucket] -= 1;
                if waiting[slot.bucket] == 0 {
                    launcher.start(slot.bucket);
                }
                launcher.poll();
            });
            let backward_done = Instant::now();
            for (k, m) in members.iter().enumerate() {
                if waiting[k] == 0 {
                    continue;
                }
                // Gradients the pass never produced: zeros, counted absent.
                let bucket = launcher.bucket_mut(k);
                for &i in m {
                    let slot = slots[i];
                    if bucket[slot.flag] == zero {
                        pack(bucket, &slot, None, one);
                    }
                }
                if result.is_err() {
                    *bucket
                        .last_mut()
                        .expect("a bucket ends with its failure flag") = one;
                }
                launcher.start(k);
            }
            (result, backward_done)
        };
        // Copy-on-write: a bucket that last step's gradients still share is copied first.
        let buckets: Vec<&mut [T]> = self.buckets.iter_mut().map(Tensor::as_mut_slice).collect();
        let mut in_calls = Duration::ZERO;
        let (result, backward_done) = if self.options.overlap {
            comm.reduce_while(buckets, work)
        } else {
            let mut eager = Blocking::new(comm, buckets);
            let out = work(&mut eager);
            in_calls = eager.time;
            out
        };
        let failed_elsewhere = self
            .buckets
            .iter()
            .any(|b| b.storage_slice().last() != Some(&zero));
        let mut grads = match result {
            Ok(grads) if !failed_elsewhere => grads,
            Ok(_) => {
                return Err(DistError::Backward(
                    "another rank's backward pass failed (its own error says why)".into(),
                ));
            }
            Err(e) => return Err(DistError::Backward(e.to_string())),
        };
        // Eager: the time in its blocking calls, the ones after backward included; overlapped:
        // what was left to wait for once backward had ended.
        let waited = if self.options.overlap {
            backward_done.elapsed()
        } else {
            in_calls
        };
        let start = Instant::now();
        self.reduce_own(&mut grads, None);
        self.publish(&mut grads);
        self.sync_buffers();
        self.stats.reductions += 1;
        self.stats.reduce_time += waited + start.elapsed();
        Ok(grads)
    }

    /// One optimizer step shared out over the ranks: each rank updates only its share
    /// ([`UpdateShard`]) of every parameter's elements, then the ranks exchange the updated shares
    /// (an in-place all-gather per parameter). Every rank ends with exactly the parameters
    /// `optimizer.step(&grads)` would give, having done 1/N of the optimizer's work.
    ///
    /// Afterwards each rank's optimizer state is current on its own share only: checkpoint it
    /// with [`DataParallel::optimizer_state_dict`], which gathers it, not with
    /// `optimizer.state_dict()`. `grads` must be this step's averaged gradients (from
    /// [`DataParallel::backward`] or [`DataParallel::all_reduce`]), so every rank steps the same
    /// parameters.
    ///
    /// # Errors
    /// [`DistError::Step`] on every rank, before any rank changes anything, if any rank's
    /// `grads` holds a gradient of a parameter outside the model (its update could not be
    /// exchanged); [`DistError::Step`] on every rank if the optimizer's step failed on any rank
    /// (nothing is exchanged then, so no rank waits; the step changed nothing on a rank where it
    /// failed, and with the same optimizer on every rank it fails on all alike).
    pub fn step(
        &mut self,
        optimizer: &mut (impl Optimizer<T> + ?Sized),
        grads: &Grads<T>,
    ) -> Result<()> {
        let stray = grads.iter().any(|(id, _)| !self.index_of.contains_key(&id));
        let stray_error = || {
            DistError::Step(
                "a gradient of a parameter outside the model: its update could not be exchanged \
                 (step other parameters with an optimizer of their own)"
                    .into(),
            )
        };
        let to_error = |e: tapegrad_optim::OptimError| DistError::Step(e.to_string());
        if self.comm.size() == 1 {
            if stray {
                return Err(stray_error());
            }
            return optimizer.try_step(grads).map_err(to_error);
        }
        // Agreed before anything changes: with one rank's gradients wrong, no rank steps.
        let start = Instant::now();
        let stray_somewhere = self.comm.all_reduce_max(u64::from(stray)) == 1;
        self.stats.exchange_time += start.elapsed();
        if stray {
            return Err(stray_error());
        }
        if stray_somewhere {
            return Err(DistError::Step(
                "another rank's gradients include a parameter outside the model".into(),
            ));
        }
        let shard = self.shard();
        let outcome = optimizer.try_step_shard(grads, shard).map_err(to_error);
        // A step fails (and changes nothing) on every rank alike when the ranks' optimizers are
        // the same; this keeps ranks whose optimizers differ from waiting in the exchange.
        let start = Instant::now();
        let failed_somewhere = self.comm.all_reduce_max(u64::from(outcome.is_err())) == 1;
        let result = match outcome {
            Err(e) => Err(e),
            Ok(()) if failed_somewhere => Err(DistError::Step(
                "another rank's optimizer step failed (its own error says why)".into(),
            )),
            Ok(()) => {
                for (p, shares) in self.params.iter().zip(&self.shares) {
                    if grads.get(p).is_some() {
                        p.update(|values| self.comm.all_gather(values, shares));
                    }
                }
                Ok(())
            }
        };
        self.stats.exchange_time += start.elapsed();
        result
    }

    /// The whole optimizer state after [`DataParallel::step`]s, on every rank: each state
    /// tensor's shares gathered from the ranks that kept them, so it equals the state of an
    /// optimizer that took whole steps. Every rank must call it; rank 0 then saves it (say, with
    /// `tapegrad_optim::save_state_dict_file` inside [`Communicator::on_root`]).
    ///
    /// # Errors
    /// [`DistError::ModelMismatch`] if the ranks' optimizers hold different state tensors (names
    /// or shapes), naming the first difference.
    pub fn optimizer_state_dict(
        &self,
        optimizer: &(impl Optimizer<T> + ?Sized),
    ) -> Result<StateDict<T>> {
        let mut state = optimizer.state_dict();
        if self.comm.size() == 1 {
            return Ok(state);
        }
        let lines: Vec<String> = std::iter::once("optimizer state".to_string())
            .chain(
                state
                    .tensors
                    .iter()
                    .map(|(name, t)| format!("optimizer state {name} {:?}", t.shape())),
            )
            .collect();
        fingerprint::check(self.comm, &lines)?;
        let shard = self.shard();
        for tensor in state.tensors.values_mut() {
            let mut data = tensor.to_vec();
            let lengths = shard.lengths(data.len());
            self.comm.all_gather(&mut data, &lengths);
            *tensor = Tensor::from_vec(data, tensor.shape());
        }
        Ok(state)
    }

    /// This rank's share of every parameter in [`DataParallel::step`].
    fn shard(&self) -> UpdateShard {
        UpdateShard::new(self.comm.rank(), self.comm.size()).expect("a rank is below the size")
    }

    /// Applies [`DataParallelOptions::buffers`] now (it runs after every reduction already).
    pub fn sync_buffers(&mut self) {
        let n = T::from_f64(self.comm.size() as f64);
        for b in &self.buffers {
            match self.options.buffers {
                BufferSync::Off => {}
                BufferSync::FromRoot => b.update(|values| self.comm.broadcast(values, 0)),
                BufferSync::Average => b.update(|values| {
                    self.comm.all_reduce_sum(values);
                    values.iter_mut().for_each(|v| *v /= n);
                }),
            }
        }
    }

    /// All-reduces the gradients kept in their own storage, in place, once the buckets (which
    /// hold their presence counts) are reduced: zeros where this rank has none but another has,
    /// nothing where no rank has one. `scale` multiplies the local gradient first.
    fn reduce_own(&self, grads: &mut Grads<T>, scale: Option<T>) {
        for (i, slot) in self.slots.iter().enumerate() {
            let present = self.buckets[slot.bucket].storage_slice()[slot.flag];
            if !slot.own || present == T::from_f64(0.0) {
                continue;
            }
            let id = self.params[i].id();
            if grads.get_by_id(id).is_none() {
                grads.insert(id, Tensor::zeros(&self.params[i].shape()));
            }
            let grad = grads.get_mut(id).expect("inserted above").as_mut_slice();
            if let Some(s) = scale {
                grad.iter_mut().for_each(|g| *g *= s);
            }
            self.comm.all_reduce_sum(grad);
        }
    }

    /// 1/N, which seeds backward or scales the local gradients, so the sums are the means (exact
    /// for N a power of two).
    fn scale(&self) -> T {
        T::from_f64(1.0 / self.comm.size() as f64)
    }

    /// Gives `grads` the reduced means as views of the buckets (no copy; PyTorch DDP's
    /// `gradient_as_bucket_view`): the next step writes the buckets in place once these
    /// gradients are dropped, and copies a bucket first if they are still held.
    fn publish(&self, grads: &mut Grads<T>) {
        for (i, slot) in self.slots.iter().enumerate() {
            let bucket = &self.buckets[slot.bucket];
            if slot.own || bucket.storage_slice()[slot.flag] == T::from_f64(0.0) {
                continue; // reduced in place, or no rank had one: the optimizer skips it
            }
            let view = bucket.narrow(0, slot.offset, slot.len);
            grads.insert(self.params[i].id(), view.reshape(&self.params[i].shape()));
        }
    }
}

/// Marks every member absent and clears the failure flag (the bucket's last element), before a
/// step fills the bucket.
fn clear_flags<T: Float>(bucket: &mut [T], slots: &[Slot], members: &[usize]) {
    for &i in members {
        bucket[slots[i].flag] = T::from_f64(0.0);
    }
    if let Some(failure) = bucket.last_mut() {
        *failure = T::from_f64(0.0);
    }
}

/// Copies a gradient times `scale` (or zeros, for none) into its place and sets its presence
/// count; for a gradient kept in its own storage, only the count.
fn pack<T: Float>(bucket: &mut [T], slot: &Slot, grad: Option<&Tensor<T>>, scale: T) {
    if slot.own {
        let present = if grad.is_some() { 1.0 } else { 0.0 };
        bucket[slot.flag] = T::from_f64(present);
        return;
    }
    let dst = &mut bucket[slot.offset..slot.offset + slot.len];
    match grad {
        Some(g) => {
            let src = g.row_major();
            dst.iter_mut()
                .zip(src.iter())
                .for_each(|(d, &s)| *d = s * scale);
            bucket[slot.flag] = T::from_f64(1.0);
        }
        None => {
            dst.fill(T::from_f64(0.0));
            bucket[slot.flag] = T::from_f64(0.0);
        }
    }
}

type Layout<T> = (Vec<Slot>, Vec<Vec<usize>>, Vec<Tensor<T>>);

/// Buckets filled from the last parameter back (the order backward finishes gradients), each
/// closed once it holds `cap` elements; each bucket is `[data…, presence counts…, failure flag]`.
/// Parameters of at least `own_from` elements keep their gradient in its own storage and only
/// their presence count in the bucket.
fn layout<T: Float + Scalar>(
    params: &[Param<T>],
    cap: usize,
    own_from: usize,
) -> Result<Layout<T>> {
    let own = |i: usize| params[i].numel() >= own_from;
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut filled = 0usize;
    for i in (0..params.len()).rev() {
        current.push(i);
        filled += if own(i) { 0 } else { params[i].numel() };
        if filled >= cap {
            members.push(std::mem::take(&mut current));
            filled = 0;
        }
    }
    if !current.is_empty() {
        members.push(current);
    }
    let mut slots = vec![
        Slot {
            bucket: 0,
            own: false,
            offset: 0,
            len: 0,
            flag: 0
        };
        params.len()
    ];
    let mut buckets = Vec::new();
    for (k, m) in members.iter().enumerate() {
        let mut offset = 0usize;
        for &i in m {
            let len = params[i].numel();
            slots[i] = Slot {
                bucket: k,
                own: own(i),
                offset,
                len,
                flag: 0,
            };
            if own(i) {
                continue;
            }
            offset = offset
                .checked_add(len)
                .ok_or_else(|| DistError::Config("a bucket larger than memory".into()))?;
        }
        for (j, &i) in m.iter().enumerate() {
            slots[i].flag = offset + j;
        }
        // data, one presence count per member, one failure flag
        buckets.push(Tensor::zeros(&[offset + m.len() + 1]));
    }
    Ok((slots, members, buckets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SingleProcess;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad_autograd::Tape;
    use tapegrad_nn::{Forward, Init, Linear, Mode, Relu, Sequential};

    fn mlp() -> Sequential<f64> {
        let mut rng = StdRng::seed_from_u64(3);
        Sequential::new()
            .push(Linear::new(5, 7, Init::He, &mut rng))
            .push(Relu)
            .push(Linear::new(7, 2, Init::Xavier, &mut rng))
    }

    fn loss(model: &Sequential<f64>, tape: &Tape<f64>) -> Var<f64> {
        let x = Tensor::from_vec((0..20).map(|i| f64::from(i) / 7.0 - 1.0).collect(), &[4, 5]);
        model
            .forward(&tape.input(x), Mode::Train)
            .square()
            .mean_all()
    }

    #[test]
    fn one_process_gets_exactly_its_own_gradients() {
        let model = mlp();
        let comm = SingleProcess;
        let mut ddp = DataParallel::new(&comm, &model).unwrap();
        let plain = loss(&model, &Tape::new()).backward();
        let via_backward = ddp.backward(&loss(&model, &Tape::new())).unwrap();
        let mut via_all_reduce = loss(&model, &Tape::new()).backward();
        ddp.all_reduce(&mut via_all_reduce);
        for (_, p) in model.parameters() {
            let want = plain.get(&p).unwrap().to_vec();
            assert_eq!(via_backward.get(&p).unwrap().to_vec(), want);
            assert_eq!(via_all_reduce.get(&p).unwrap().to_vec(), want);
        }
    }

    #[test]
    fn one_process_steps_as_its_optimizer_and_refuses_a_stray_gradient() {
        use tapegrad_optim::{Adam, AdamConfig};
        let (model, twin) = (mlp(), mlp());
        let mut ddp = DataParallel::new(&SingleProcess, &model).unwrap();
        let mut opt = Adam::new(&model.parameters(), AdamConfig::default());
        let mut plain = Adam::new(&twin.parameters(), AdamConfig::default());
        for _ in 0..3 {
            let grads = ddp.backward(&loss(&model, &Tape::new())).unwrap();
            ddp.step(&mut opt, &grads).unwrap();
            plain.step(&loss(&twin, &Tape::new()).backward());
        }
        for ((_, p), (_, q)) in model.parameters().iter().zip(twin.parameters()) {
            assert_eq!(p.value().to_vec(), q.value().to_vec());
        }
        let state = ddp.optimizer_state_dict(&opt).unwrap();
        assert_eq!(state.tensors.len(), 8); // two moments for each of four parameters
        // A gradient of a parameter the model does not hold: refused, and nothing changes.
        let stray = Param::new("stray", Tensor::<f64>::ones(&[2]));
        let mut grads = ddp.backward(&loss(&model, &Tape::new())).unwrap();
        grads.insert(stray.id(), Tensor::ones(&[2]));
        let before = model.parameters()[0].1.value().to_vec();
        let err = ddp.step(&mut opt, &grads).unwrap_err();
        assert!(err.to_string().contains("outside the model"), "{err}");
        assert_eq!(model.parameters()[0].1.value().to_vec(), before);
        assert_eq!(opt.step_count(), 3);
    }

    #[test]
    fn large_gradients_are_reduced_in_their_own_storage_unless_overlapping() {
        let mut rng = StdRng::seed_from_u64(4);
        let wide = Linear::<f32>::new(256, 128, Init::He, &mut rng); // 32,768 weights, 128 biases
        let ddp = DataParallel::new(&SingleProcess, &wide).unwrap();
        assert_eq!(
            (ddp.own_storage_reductions(), ddp.bucket_sizes()),
            (1, vec![128])
        );
        let overlap = DataParallelOptions {
            overlap: true,
            ..Default::default()
        };
        let ddp = DataParallel::with_options(&SingleProcess, &wide, overlap).unwrap();
        assert_eq!(
            (ddp.own_storage_reductions(), ddp.bucket_sizes()),
            (0, vec![32_896])
        );
    }

    #[test]
    fn buckets_fill_from_the_last_parameter_back() {
        let model = mlp(); // 0.weight 35, 0.bias 7, 2.weight 14, 2.bias 2
        let options = DataParallelOptions {
            bucket_elements: 16,
            ..Default::default()
        };
        let ddp = DataParallel::with_options(&SingleProcess, &model, options).unwrap();
        // [2.bias, 2.weight] reach 16; [0.bias, 0.weight] make the second bucket.
        assert_eq!(ddp.bucket_sizes(), [16, 42]);
        assert_eq!(ddp.members, [vec![3, 2], vec![1, 0]]);
        let whole = DataParallel::new(&SingleProcess, &model).unwrap();
        assert_eq!(whole.bucket_sizes(), [58]);
        let zero = DataParallelOptions {
            bucket_elements: 0,
            ..Default::default()
        };
        let err = DataParallel::with_options(&SingleProcess, &model, zero).unwrap_err();
        assert_eq!(err, DistError::Config("a bucket size of 0 elements".into()));
    }

    #[test]
    fn rank_zero_runs_the_checkpoint_and_every_rank_learns_how_it_went() {
        let comm = SingleProcess;
        let mut ran = false;
        comm.on_root(|| -> std::result::Result<(), String> {
            ran = true;
            Ok(())
        })
        .unwrap();
        assert!(ran);
        let err = comm.on_root(|| Err::<(), _>("disk full")).unwrap_err();
        assert_eq!(err.to_string(), "on rank 0: disk full");
        let mut bytes = b"hello".to_vec();
        comm.broadcast_bytes(&mut bytes, 0);
        assert_eq!(bytes, b"hello");
    }
}
