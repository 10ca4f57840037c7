//! One matrix product on every core: `C = A·B` split into output blocks, each a single-threaded
//! `matrixmultiply` call on its own rayon task.
//!
//! matrixmultiply's own `threading` feature reached only about 1.3× on 2 cores for the
//! 128×784×512 product that dominates MLP training, where two halves on `rayon::join` reach 1.5×;
//! and it would spawn threads of its own beside rayon's. Splitting by output rows or columns leaves
//! every element's sum over k in the same order (each block runs the same kernel over the same
//! k-blocks), so a product is bit-identical for any thread count.

use crate::element::Float;

/// Products with fewer multiply-adds than this (`m·k·n`) run on the calling thread.
///
/// Measured on 2 cores: in `benches/matmul.rs`'s hot loop, where rayon's worker never sleeps,
/// two halves win even at 16×784×64 (0.8M multiply-adds: 25 against 39 µs), and 32×784×128
/// (3.2M) runs 1.5× faster split. Inside a training step the worker sleeps between products and
/// waking it costs about 20 µs (`benches/training.rs`, mlp-small), which a 40 µs product cannot
/// repay; the threshold keeps products below 2M multiply-adds on the calling thread.
pub const GEMM_PARALLEL_THRESHOLD: usize = 1 << 21;

/// Output blocks narrower than this are not split further: a block must fill the kernel's tiles.
const MIN_BLOCK: usize = 32;

/// A matrix operand: a pointer to its first element and its row and column strides.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// The output: a pointer to its first element and its row stride (columns are adjacent).
#[derive(Clone, Copy)]
pub(crate) struct MatMut<T> {
    pub ptr: *mut T,
    pub rs: isize,
}

// SAFETY: the pointers are only dereferenced inside `gemm`, whose caller guarantees the reads stay
// in bounds and that concurrent blocks write disjoint elements of the output.
unsafe impl<T: Sync> Send for MatRef<T> {}
unsafe impl<T: Sync> Sync for MatRef<T> {}
unsafe impl<T: Send> Send for MatMut<T> {}
unsafe impl<T: Send> Sync for MatMut<T> {}

/// `c ← a·b` for an `m×k` `a`, a `k×n` `b` and an `m×n` `c`, split over rayon's threads when the
/// product is large. `c` need not be initialised (β = 0: matrixmultiply never reads it).
///
/// # Safety
/// `a` and `b` must describe valid `m×k` and `k×n` matrices, `c` a valid `m×n` matrix with
/// column stride 1 whose elements alias neither input nor each other, and `k > 0`.
pub(crate) unsafe fn gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    c: MatMut<T>,
) {
    let parts = if m.saturating_mul(k).saturating_mul(n) >= GEMM_PARALLEL_THRESHOLD {
        rayon::current_num_threads()
    } else {
        1
    };
    // SAFETY: forwarded from the caller.
    unsafe { gemm_parts(m, k, n, a, b, c, parts) }
}

/// Runs the product as `parts` blocks: split in two (proportionally), recursively, on
/// `rayon::join`. Splits the dimension whose operand is cheaper to pack twice: columns of `c`
/// when `a` (`m×k`) is the smaller operand, rows otherwise.
unsafe fn gemm_parts<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    c: MatMut<T>,
    parts: usize,
) {
    let by_columns = m <= n;
    let len = if by_columns { n } else { m };
    if parts < 2 || len < 2 * MIN_BLOCK {
        // SAFETY: the caller's contract, for this block.
        unsafe {
            T::gemm(
                m,
                k,
                n,
                T::ONE,
                a.ptr,
                a.rs,
                a.cs,
                b.ptr,
                b.rs,
                b.cs,
                T::ZERO,
                c.ptr,
                c.rs,
                1,
            )
        };
        return;
    }
    let left_parts = parts / 2;
    // The first block's share, rounded to whole kernel tiles.
    let split = (len * left_parts / parts).div_ceil(16) * 16;
    let split = split.clamp(MIN_BLOCK, len - MIN_BLOCK);
    // SAFETY (both arms): the two blocks are the halves of `c` before and after `split`, so they
    // write disjoint elements; each reads a sub-matrix of `a` or `b` inside the caller's bounds.
    if by_columns {
        let b2 = MatRef {
            ptr: unsafe { b.ptr.offset(split as isize * b.cs) },
            ..b
        };
        let c2 = MatMut {
            ptr: unsafe { c.ptr.add(split) },
            ..c
        };
        rayon::join(
            || unsafe { gemm_parts(m, k, split, a, b, c, left_parts) },
            || unsafe { gemm_parts(m, k, n - split, a, b2, c2, parts - left_parts) },
        );
    } else {
        let a2 = MatRef {
            ptr: unsafe { a.ptr.offset(split as isize * a.rs) },
            ..a
        };
        let c2 = MatMut {
            ptr: unsafe { c.ptr.offset(split as isize * c.rs) },
            ..c
        };
        rayon::join(
            || unsafe { gemm_parts(split, k, n, a, b, c, left_parts) },
            || unsafe { gemm_parts(m - split, k, n, a2, b, c2, parts - left_parts) },
        );
    }
}
