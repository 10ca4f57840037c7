//! Elementwise and reduction kernels against plain hand-written loops on the same buffers.
//!
//! Run: `cargo bench --bench elementwise`

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use rand::{SeedableRng, rngs::StdRng};
use tapegrad::tensor::Tensor;

const ROWS: usize = 4096;
const COLS: usize = 1024;

fn relu_add_row_broadcast(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let a = Tensor::<f32>::rand_normal(&[ROWS, COLS], &mut rng);
    let b = Tensor::<f32>::rand_normal(&[COLS], &mut rng);
    let (a_raw, b_raw) = (a.to_vec(), b.to_vec());
    let mut group = c.benchmark_group("relu(a + b), a 4096x1024, b row-broadcast [1024], f32");
    // Bytes that must move at least once: read a, write the result.
    group.throughput(Throughput::Bytes((2 * ROWS * COLS * 4) as u64));
    group.bench_function("tapegrad", |bench| {
        bench.iter(|| black_box(&a).add(black_box(&b)).relu())
    });
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    group.bench_function("tapegrad, 1 thread", |bench| {
        one.install(|| bench.iter(|| black_box(&a).add(black_box(&b)).relu()))
    });
    group.bench_function("plain loop, fused, 1 thread", |bench| {
        bench.iter(|| {
            let mut out = vec![0.0f32; ROWS * COLS];
            for (row_out, row_a) in out.chunks_exact_mut(COLS).zip(a_raw.chunks_exact(COLS)) {
                for ((o, &x), &y) in row_out.iter_mut().zip(row_a).zip(&b_raw) {
                    *o = (x + y).max(0.0);
                }
            }
            black_box(out)
        })
    });
    group.bench_function("plain loop, two passes, 1 thread", |bench| {
        bench.iter(|| {
            let mut sum = vec![0.0f32; ROWS * COLS];
            for (row_out, row_a) in sum.chunks_exact_mut(COLS).zip(a_raw.chunks_exact(COLS)) {
                for ((o, &x), &y) in row_out.iter_mut().zip(row_a).zip(&b_raw) {
                    *o = x + y;
                }
            }
            let out: Vec<f32> = sum.iter().map(|&x| x.max(0.0)).collect();
            black_box(out)
        })
    });
    group.finish();
}

fn sums(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let a = Tensor::<f32>::rand_normal(&[ROWS, COLS], &mut rng);
    let raw = a.to_vec();
    let mut group = c.benchmark_group("sum of 4096x1024 f32");
    group.throughput(Throughput::Bytes((ROWS * COLS * 4) as u64));
    group.bench_function("tapegrad, axis 0", |bench| {
        bench.iter(|| black_box(&a).sum(&[0], false))
    });
    group.bench_function("plain loop, axis 0", |bench| {
        bench.iter(|| {
            let mut out = vec![0.0f32; COLS];
            for row in raw.chunks_exact(COLS) {
                for (o, &x) in out.iter_mut().zip(row) {
                    *o += x;
                }
            }
            black_box(out)
        })
    });
    group.bench_function("tapegrad, axis 1", |bench| {
        bench.iter(|| black_box(&a).sum(&[1], false))
    });
    group.bench_function("plain loop, axis 1", |bench| {
        bench.iter(|| {
            let out: Vec<f32> = raw.chunks_exact(COLS).map(|row| row.iter().sum()).collect();
            black_box(out)
        })
    });
    group.finish();
}

/// Where rayon starts to pay: the add kernel on plain slices, serial against split in two halves
/// on the rayon pool (what the tensor kernels do above `PARALLEL_THRESHOLD`), by size.
fn parallel_threshold(c: &mut Criterion) {
    use rayon::prelude::*;
    let mut group = c.benchmark_group("add kernel, serial vs 2 rayon halves");
    for n in [1usize << 12, 1 << 14, 1 << 15, 1 << 16, 1 << 18] {
        let mut rng = StdRng::seed_from_u64(2);
        let a = Tensor::<f32>::rand_normal(&[n], &mut rng).to_vec();
        let b = Tensor::<f32>::rand_normal(&[n], &mut rng).to_vec();
        let mut out = vec![0.0f32; n];
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n} elements, serial"), |bench| {
            bench.iter(|| {
                out.iter_mut()
                    .zip(a.iter().zip(&b))
                    .for_each(|(o, (x, y))| *o = x + y);
                black_box(&out);
            })
        });
        group.bench_function(format!("{n} elements, 2 halves"), |bench| {
            bench.iter(|| {
                out.par_chunks_mut(n / 2)
                    .zip(a.par_chunks(n / 2).zip(b.par_chunks(n / 2)))
                    .for_each(|(o, (x, y))| {
                        o.iter_mut()
                            .zip(x.iter().zip(y))
                            .for_each(|(o, (x, y))| *o = x + y)
                    });
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, relu_add_row_broadcast, sums, parallel_threshold);
criterion_main!(benches);
