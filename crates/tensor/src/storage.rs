//! The shared element buffer behind tensors, with a live-bytes counter for leak tests and a small
//! pool that recycles large buffers.
//!
//! A training step allocates the same large buffers every step (activations, gradients). Handing
//! each back to the system allocator and asking again costs page faults: glibc returns freed
//! memory above its trim threshold to the OS, so every step touched fresh pages again, and
//! `relu(a + b)` on 4096×1024 took 18.7 ms instead of about 2.4 ms. The pool keeps freed buffers of
//! at least [`POOL_MIN_BYTES`] and hands one back when a kernel asks for the same element type and
//! length. It is a cache only: every kernel overwrites every element of a buffer it takes, so no
//! value ever depends on what the pool returned.
//!
//! The pool holds only what the program reuses. With the batch size varying from step to step,
//! most freed buffers never fit a later request, and a pool bounded only by its 256 MiB cap grew a
//! 7 MiB model's process to 266 MiB in 2,000 steps. So a pooled buffer is freed when
//! - [`POOL_MAX_AGE`] more large buffers have been returned without it being taken again, or
//! - the pool would otherwise hold more than twice the largest tensor memory the program had live
//!   recently (a step's temporaries were live at the step's peak, so a steady loop keeps them all),
//!   or more than [`pool_capacity`] bytes ([`set_pool_capacity`]).
//!
//! The oldest buffers go first. The steady state (the same sizes every step) costs two counters
//! per returned buffer and a sweep over the pool every [`POOL_SWEEP`] returns.

use smallvec::SmallVec;
use std::any::TypeId;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Bytes held by all live storages in this process; a statistic, never an input to any computation.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

/// Bytes of tensor storage currently alive in this process (all threads).
///
/// Meant for tests that check memory does not grow across training steps.
pub fn live_tensor_bytes() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed).max(0) as usize
}

/// An owned buffer of elements; tensors share one through an `Arc`.
#[derive(Debug)]
pub struct Storage<T> {
    data: Vec<T>,
    /// Where the buffer goes when the storage dies: the pool, chosen where `T: 'static` is known.
    recycle: fn(Vec<T>),
}

impl<T> Storage<T> {
    /// Takes ownership of a buffer.
    pub fn new(data: Vec<T>) -> Self
    where
        T: 'static,
    {
        LIVE_BYTES.fetch_add(bytes_of(&data), Ordering::Relaxed);
        Storage {
            data,
            recycle: give_back::<T>,
        }
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The elements, mutably (only reachable when the storage is not shared).
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl<T: Clone + 'static> Clone for Storage<T> {
    fn clone(&self) -> Self {
        Storage::new(self.data.clone())
    }
}

impl<T> Drop for Storage<T> {
    fn drop(&mut self) {
        LIVE_BYTES.fetch_sub(bytes_of(&self.data), Ordering::Relaxed);
        (self.recycle)(std::mem::take(&mut self.data));
    }
}

/// Buffers smaller than this are left to the allocator, which handles them well.
pub const POOL_MIN_BYTES: usize = 64 * 1024;
/// The pool's default capacity in bytes; [`set_pool_capacity`] changes it.
pub const POOL_MAX_BYTES: usize = 256 * 1024 * 1024;
/// A pooled buffer not taken again while this many more large buffers are returned is freed.
///
/// A training step that frees up to this many large buffers reuses every one of them the next
/// step; the MLP benches free a few dozen per step.
pub const POOL_MAX_AGE: u64 = 256;
/// The pool checks ages and forgets old peaks once every this many returned buffers.
pub const POOL_SWEEP: u64 = 32;

/// Buffers to free once the pool's lock is released; inline, so a return never allocates.
type Evicted = SmallVec<[Pooled; 4]>;

/// A pooled buffer: the raw parts of an empty `Vec<T>` for the `T` named by `ty`.
struct Pooled {
    ty: TypeId,
    ptr: usize,
    capacity: usize,
    bytes: usize,
    /// The pool's clock when the buffer came back.
    since: u64,
    /// Frees the parts as the `Vec<T>` they came from.
    free: unsafe fn(usize, usize),
}

/// Frees the raw parts of an empty `Vec<T>`.
///
/// # Safety
/// `ptr` and `capacity` must come from a `Vec<T>` of this `T` that was emptied and never freed.
unsafe fn free_parts<T>(ptr: usize, capacity: usize) {
    // SAFETY: forwarded from the caller; length 0 drops no element.
    drop(unsafe { Vec::from_raw_parts(ptr as *mut T, 0, capacity) });
}

/// The pool's bookkeeping; it never touches the buffers' memory, so it is tested alone.
struct Pool {
    buffers: Vec<Pooled>,
    bytes: usize,
    /// Most bytes the pool may hold ([`set_pool_capacity`]).
    capacity: usize,
    /// Large buffers returned so far: the pool's measure of time.
    clock: u64,
    /// The largest live tensor bytes seen at a return, decaying at each sweep.
    peak_live: usize,
}

impl Pool {
    const fn new() -> Self {
        Pool {
            buffers: Vec::new(),
            bytes: 0,
            capacity: POOL_MAX_BYTES,
            clock: 0,
            peak_live: 0,
        }
    }

    /// The most bytes the pool may hold now: twice the recent live peak, within the capacity.
    fn limit(&self) -> usize {
        self.peak_live.saturating_mul(2).min(self.capacity)
    }

    /// Takes in a returned buffer while `live` bytes of tensors remain alive; what must be freed to
    /// keep the bounds (maybe `entry` itself) goes to `evicted`.
    fn put(&mut self, mut entry: Pooled, live: usize, evicted: &mut Evicted) {
        self.clock += 1;
        // The returned buffer was live a moment ago.
        self.peak_live = self.peak_live.max(live.saturating_add(entry.bytes));
        if self.clock.is_multiple_of(POOL_SWEEP) {
            self.sweep(live, evicted);
        }
        if entry.bytes > self.limit() {
            evicted.push(entry);
            return;
        }
        entry.since = self.clock;
        self.bytes += entry.bytes;
        self.buffers.push(entry);
        self.shrink_to(self.limit(), evicted);
    }

    /// Frees buffers past their age and lets the live peak decay towards the live bytes now.
    fn sweep(&mut self, live: usize, evicted: &mut Evicted) {
        let clock = self.clock;
        let mut i = 0;
        while i < self.buffers.len() {
            if clock - self.buffers[i].since > POOL_MAX_AGE {
                let old = self.buffers.swap_remove(i);
                self.bytes -= old.bytes;
                evicted.push(old);
            } else {
                i += 1;
            }
        }
        // An eighth per sweep: a peak fades over a few hundred returns unless the loop
        // reaches it again, as a steady training loop does every step.
        self.peak_live = live.max(self.peak_live - self.peak_live / 8);
    }

    /// Frees the oldest buffers until the pool holds at most `bytes`.
    fn shrink_to(&mut self, bytes: usize, evicted: &mut Evicted) {
        while self.bytes > bytes {
            let oldest = (0..self.buffers.len())
                .min_by_key(|&i| self.buffers[i].since)
                .expect("a pool holding bytes holds a buffer");
            let old = self.buffers.swap_remove(oldest);
            self.bytes -= old.bytes;
            evicted.push(old);
        }
    }

    /// The newest buffer of element type `ty` and exactly `capacity` elements, if one is pooled.
    fn take(&mut self, ty: TypeId, capacity: usize) -> Option<Pooled> {
        // Newest first: the buffer freed last is the likeliest to be warm in cache.
        let at = self
            .buffers
            .iter()
            .rposition(|b| b.ty == ty && b.capacity == capacity)?;
        let b = self.buffers.swap_remove(at);
        self.bytes -= b.bytes;
        Some(b)
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool::new());

fn lock_pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Frees evicted buffers; called after the pool's lock is released.
fn free_all(evicted: Evicted) {
    for b in evicted {
        // SAFETY: every `Pooled` is built in `give_back` from an emptied `Vec` of the `T` whose
        // `free_parts` it carries, and leaves the pool exactly once, here or in `take_buffer`.
        unsafe { (b.free)(b.ptr, b.capacity) };
    }
}

fn give_back<T: 'static>(mut data: Vec<T>) {
    let bytes = data.capacity() * std::mem::size_of::<T>();
    if bytes < POOL_MIN_BYTES || std::mem::needs_drop::<T>() {
        return;
    }
    data.clear();
    let mut data = std::mem::ManuallyDrop::new(data);
    let entry = Pooled {
        ty: TypeId::of::<T>(),
        ptr: data.as_mut_ptr() as usize,
        capacity: data.capacity(),
        bytes,
        since: 0,
        free: free_parts::<T>,
    };
    let mut evicted = Evicted::new();
    lock_pool().put(entry, live_tensor_bytes(), &mut evicted);
    free_all(evicted);
}

/// Sets the most bytes the buffer pool may hold, and returns the previous cap (default
/// [`POOL_MAX_BYTES`]); 0 turns pooling off.
///
/// The pool recycles freed tensor buffers of at least [`POOL_MIN_BYTES`] so that a training loop
/// does not page-fault fresh memory every step. It already frees buffers the program does not
/// reuse; this cap is for a process that must stay under a memory budget (several models side
/// by side, a small container). Buffers above the new cap are freed at once, oldest first.
/// Results never depend on it: the pool is a cache.
///
/// ```
/// # mod tapegrad { pub mod tensor { pub use tapegrad_tensor::storage; } }
/// use tapegrad::tensor::storage::{pooled_bytes, set_pool_capacity};
/// let before = set_pool_capacity(0);
/// assert_eq!(pooled_bytes(), 0);
/// set_pool_capacity(before);
/// ```
pub fn set_pool_capacity(bytes: usize) -> usize {
    let mut evicted = Evicted::new();
    let previous = {
        let mut pool = lock_pool();
        let previous = std::mem::replace(&mut pool.capacity, bytes);
        pool.shrink_to(bytes, &mut evicted);
        previous
    };
    free_all(evicted);
    previous
}

/// The most bytes the buffer pool may hold ([`set_pool_capacity`]).
pub fn pool_capacity() -> usize {
    lock_pool().capacity
}

/// An empty vector with room for exactly `n` elements, recycled from the pool when one fits.
pub(crate) fn take_buffer<T: 'static>(n: usize) -> Vec<T> {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    if bytes >= POOL_MIN_BYTES
        && let Some(b) = lock_pool().take(TypeId::of::<T>(), n)
    {
        // SAFETY: the parts came from a `Vec<T>` of this very `T` (checked through `ty`),
        // emptied and never freed; length 0 needs no initialised element.
        return unsafe { Vec::from_raw_parts(b.ptr as *mut T, 0, b.capacity) };
    }
    Vec::with_capacity(n)
}

/// A vector of `n` copies of `value`, recycled from the pool when one fits.
pub(crate) fn filled_buffer<T: Clone + 'static>(n: usize, value: T) -> Vec<T> {
    let mut v = take_buffer(n);
    v.resize(n, value);
    v
}

/// Bytes of freed tensor buffers the pool holds for reuse (all threads).
///
/// With [`live_tensor_bytes`] this is the tensor memory the process holds: watch it to see that
/// memory stays flat over a training loop.
pub fn pooled_bytes() -> usize {
    lock_pool().bytes
}

fn bytes_of<T>(data: &[T]) -> isize {
    std::mem::size_of_val(data) as isize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_are_recycled_and_small_ones_are_not() {
        let n = 40_000; // 160 KB of f32, above the pool's minimum
        let v: Vec<f32> = vec![1.0; n];
        let ptr = v.as_ptr();
        drop(Storage::new(v));
        let again = take_buffer::<f32>(n);
        assert_eq!((again.len(), again.capacity()), (0, n));
        assert_eq!(again.as_ptr(), ptr, "the freed buffer comes back");
        // Another length or type does not match it.
        drop(Storage::new(again));
        let other = take_buffer::<f64>(n / 2);
        assert_ne!(other.as_ptr() as *const f32, ptr);
        let small: Vec<f32> = vec![0.0; 8];
        let before = pooled_bytes();
        drop(Storage::new(small));
        assert!(pooled_bytes() <= before);
        // In the same test: other tests of this binary must not run under a zero cap.
        let cap = set_pool_capacity(0);
        assert_eq!(pooled_bytes(), 0);
        drop(Storage::new(vec![1.0f32; n]));
        assert_eq!(pooled_bytes(), 0, "a zero cap keeps nothing");
        assert_eq!(set_pool_capacity(cap), 0);
        assert_eq!(pool_capacity(), cap);
    }

    /// A pool entry standing for `elems` f32 elements; nothing is allocated behind it.
    fn fake(elems: usize) -> Pooled {
        unsafe fn nothing(_: usize, _: usize) {}
        Pooled {
            ty: TypeId::of::<f32>(),
            ptr: 0,
            capacity: elems,
            bytes: elems * 4,
            since: 0,
            free: nothing,
        }
    }

    const MIB: usize = 1 << 20;

    #[test]
    fn a_steady_loop_reuses_every_buffer() {
        // 100 large buffers per step (more than the MLP benches free), the same sizes each step,
        // next to 10 MiB of parameters.
        let sizes: Vec<usize> = (0..100).map(|i| 16_384 + 1024 * (i % 7)).collect();
        let step_bytes: usize = sizes.iter().map(|n| n * 4).sum();
        let mut pool = Pool::new();
        let mut evicted = Evicted::new();
        let (mut hits, mut takes) = (0, 0);
        for step in 0..50 {
            let mut live = 10 * MIB;
            let taken: Vec<Pooled> = sizes
                .iter()
                .map(|&n| {
                    takes += 1;
                    live += n * 4;
                    match pool.take(TypeId::of::<f32>(), n) {
                        Some(b) => {
                            hits += 1;
                            b
                        }
                        None => fake(n),
                    }
                })
                .collect();
            for b in taken {
                live -= b.bytes;
                pool.put(b, live, &mut evicted);
            }
            assert!(evicted.is_empty(), "step {step} evicted {}", evicted.len());
        }
        assert_eq!(
            hits,
            takes - sizes.len(),
            "every take after the first step hits"
        );
        assert_eq!(pool.bytes, step_bytes);
    }

    #[test]
    fn sizes_that_never_recur_soon_are_not_kept() {
        // 200 sizes in turn, one live tensor at a time beside 1 MiB of parameters: each buffer is
        // reused only 200 returns later, so the pool must stay near the live bytes, not grow to
        // the 32 MiB all sizes take.
        let sizes: Vec<usize> = (0..200).map(|i| 16_384 + 256 * i).collect();
        let largest = sizes.iter().max().unwrap() * 4;
        let mut pool = Pool::new();
        let mut evicted = Evicted::new();
        let mut most = 0;
        for step in 0..2_000 {
            let n = sizes[step % sizes.len()];
            let b = pool.take(TypeId::of::<f32>(), n).unwrap_or_else(|| fake(n));
            pool.put(b, MIB, &mut evicted);
            most = most.max(pool.bytes);
        }
        let bound = 2 * (MIB + largest);
        assert!(most <= bound, "pool held {most} bytes, bound {bound}");
    }

    #[test]
    fn buffers_never_taken_age_out_and_the_cap_holds() {
        // Plenty live, so only the age and the cap bound the pool.
        let mut pool = Pool::new();
        let mut evicted = Evicted::new();
        for i in 0..2_000 {
            pool.put(fake(16_384 + i), 1 << 40, &mut evicted);
            assert!(pool.buffers.len() as u64 <= POOL_MAX_AGE + POOL_SWEEP);
        }
        pool.capacity = MIB;
        pool.shrink_to(pool.limit(), &mut evicted);
        assert!(pool.bytes <= MIB);
        // The newest buffers stay.
        let oldest_kept = pool.buffers.iter().map(|b| b.since).min().unwrap();
        assert_eq!(pool.clock - oldest_kept + 1, pool.buffers.len() as u64);
        pool.put(fake(2 * MIB), 1 << 40, &mut evicted);
        assert!(pool.bytes <= MIB, "a buffer above the cap is not kept");
    }
}
