//! The shared element buffer behind tensors, with a live-bytes counter for leak tests.

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
}

impl<T> Storage<T> {
    /// Takes ownership of a buffer.
    pub fn new(data: Vec<T>) -> Self {
        LIVE_BYTES.fetch_add(bytes_of(&data), Ordering::Relaxed);
        Storage { data }
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

impl<T: Clone> Clone for Storage<T> {
    fn clone(&self) -> Self {
        Storage::new(self.data.clone())
    }
}

impl<T> Drop for Storage<T> {
    fn drop(&mut self) {
        LIVE_BYTES.fetch_sub(bytes_of(&self.data), Ordering::Relaxed);
    }
}

fn bytes_of<T>(data: &[T]) -> isize {
    std::mem::size_of_val(data) as isize
}
