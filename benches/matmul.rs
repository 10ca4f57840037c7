//! matmul against raw `matrixmultiply` on the same buffers, in the same run, at 1 and 2 threads,
//! including a transposed-view operand (which tapegrad must not copy).
//!
//! At 1 thread the baseline is one single-threaded `sgemm`; at 2 threads it is that `sgemm` split
//! into two output halves on `rayon::join` (columns when m ≤ n, else rows), always, whatever the
//! size. The small shapes (16×784×64 and 32×784×128) bracket tapegrad's split threshold
//! (`GEMM_PARALLEL_THRESHOLD`): the first must not get slower at 2 threads, the second gains.
//!
//! Run: `cargo bench --bench matmul`

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use rand::{SeedableRng, rngs::StdRng};
use std::time::{Duration, Instant};
use tapegrad::tensor::Tensor;

/// A matrix operand for the raw calls: pointer, row stride, column stride.
#[derive(Clone, Copy)]
struct Raw(*const f32, isize, isize);
unsafe impl Send for Raw {}
unsafe impl Sync for Raw {}

#[derive(Clone, Copy)]
struct Out(*mut f32);
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// `c ← a·b` with one single-threaded sgemm, or two output halves on `rayon::join`.
fn raw(halves: bool, m: usize, k: usize, n: usize, a: Raw, b: Raw, c: Out, rsc: isize) {
    if halves {
        if m <= n {
            let h = n / 2;
            let b2 = Raw(unsafe { b.0.offset(h as isize * b.2) }, b.1, b.2);
            let c2 = Out(unsafe { c.0.add(h) });
            rayon::join(
                move || raw(false, m, k, h, a, b, c, rsc),
                move || raw(false, m, k, n - h, a, b2, c2, rsc),
            );
        } else {
            let h = m / 2;
            let a2 = Raw(unsafe { a.0.offset(h as isize * a.1) }, a.1, a.2);
            let c2 = Out(unsafe { c.0.offset(h as isize * rsc) });
            rayon::join(
                move || raw(false, h, k, n, a, b, c, rsc),
                move || raw(false, m - h, k, n, a2, b, c2, rsc),
            );
        }
        return;
    }
    // SAFETY: the operands point into buffers of the stated shapes.
    unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a.0, a.1, a.2, b.0, b.1, b.2, 0.0, c.0, rsc, 1) }
}

/// Times `iters` calls of `f` inside `pool`, so the pool's thread count governs every kernel.
fn timed(pool: &rayon::ThreadPool, iters: u64, f: impl Fn() + Sync) -> Duration {
    pool.install(|| {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        start.elapsed()
    })
}

fn bench_shape(c: &mut Criterion, m: usize, k: usize, n: usize) {
    let mut rng = StdRng::seed_from_u64(0);
    let a = Tensor::<f32>::rand_normal(&[m, k], &mut rng);
    let b = Tensor::<f32>::rand_normal(&[k, n], &mut rng);
    // The same values as b, stored as bᵀ: tapegrad sees a transposed view.
    let bt_storage = b.t().contiguous();
    let b_view = bt_storage.t();
    let (a_raw, b_raw, bt_raw) = (a.to_vec(), b.to_vec(), bt_storage.to_vec());
    let mut out = vec![0.0f32; m * n];
    let out = Out(out.as_mut_ptr());
    let ra = Raw(a_raw.as_ptr(), k as isize, 1);
    let rb = Raw(b_raw.as_ptr(), n as isize, 1);
    let rbt = Raw(bt_raw.as_ptr(), 1, k as isize);

    let mut group = c.benchmark_group(format!("matmul/{m}x{k}x{n}"));
    group.throughput(Throughput::Elements((2 * m * k * n) as u64));
    if m * k * n >= 512 * 512 * 512 {
        group.sample_size(10);
    }
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        let (t, halves) = (
            format!("{threads} thread{}", if threads > 1 { "s" } else { "" }),
            threads > 1,
        );
        let base = if halves {
            "raw matrixmultiply, two halves on rayon"
        } else {
            "raw matrixmultiply"
        };
        group.bench_function(format!("tapegrad, {t}"), |bench| {
            bench.iter_custom(|iters| {
                timed(&pool, iters, || {
                    black_box(black_box(&a).matmul(black_box(&b)));
                })
            })
        });
        group.bench_function(format!("{base}, {t}"), |bench| {
            bench.iter_custom(|iters| {
                timed(&pool, iters, || {
                    raw(halves, m, k, n, ra, rb, out, n as isize);
                    black_box(out.0);
                })
            })
        });
        group.bench_function(format!("tapegrad, rhs transposed view, {t}"), |bench| {
            bench.iter_custom(|iters| {
                timed(&pool, iters, || {
                    black_box(black_box(&a).matmul(black_box(&b_view)));
                })
            })
        });
        group.bench_function(format!("{base}, rhs transposed, {t}"), |bench| {
            bench.iter_custom(|iters| {
                timed(&pool, iters, || {
                    raw(halves, m, k, n, ra, rbt, out, n as isize);
                    black_box(out.0);
                })
            })
        });
    }
    group.finish();
}

fn matmul(c: &mut Criterion) {
    bench_shape(c, 16, 784, 64);
    bench_shape(c, 32, 784, 128);
    bench_shape(c, 128, 784, 512);
    bench_shape(c, 512, 512, 512);
    bench_shape(c, 1024, 1024, 1024);
}

criterion_group!(benches, matmul);
criterion_main!(benches);
