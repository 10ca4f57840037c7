//! matmul against raw `matrixmultiply` on the same buffers, in the same run, including a
//! transposed-view operand (which tapegrad must not copy).
//!
//! Run: `cargo bench --bench matmul`

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::{rngs::StdRng, SeedableRng};
use tapegrad::tensor::Tensor;

fn bench_shape(c: &mut Criterion, m: usize, k: usize, n: usize) {
    let mut rng = StdRng::seed_from_u64(0);
    let a = Tensor::<f32>::rand_normal(&[m, k], &mut rng);
    let b = Tensor::<f32>::rand_normal(&[k, n], &mut rng);
    // The same values as b, stored as bᵀ: tapegrad sees a transposed view.
    let bt_storage = b.t().contiguous();
    let b_view = bt_storage.t();
    let (a_raw, b_raw, bt_raw) = (a.to_vec(), b.to_vec(), bt_storage.to_vec());
    let mut out = vec![0.0f32; m * n];

    let mut group = c.benchmark_group(format!("matmul/{m}x{k}x{n}"));
    group.throughput(Throughput::Elements((2 * m * k * n) as u64));
    if m * k * n >= 512 * 512 * 512 {
        group.sample_size(10);
    }
    group.bench_function("tapegrad", |bench| {
        bench.iter(|| black_box(&a).matmul(black_box(&b)))
    });
    group.bench_function("raw matrixmultiply", |bench| {
        bench.iter(|| unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a_raw.as_ptr(),
                k as isize,
                1,
                b_raw.as_ptr(),
                n as isize,
                1,
                0.0,
                out.as_mut_ptr(),
                n as isize,
                1,
            );
            black_box(&out);
        })
    });
    group.bench_function("tapegrad, rhs transposed view", |bench| {
        bench.iter(|| black_box(&a).matmul(black_box(&b_view)))
    });
    group.bench_function("raw matrixmultiply, rhs transposed", |bench| {
        bench.iter(|| unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a_raw.as_ptr(),
                k as isize,
                1,
                bt_raw.as_ptr(),
                1,
                k as isize,
                0.0,
                out.as_mut_ptr(),
                n as isize,
                1,
            );
            black_box(&out);
        })
    });
    group.finish();
}

fn matmul(c: &mut Criterion) {
    bench_shape(c, 128, 784, 512);
    bench_shape(c, 512, 512, 512);
    bench_shape(c, 1024, 1024, 1024);
}

criterion_group!(benches, matmul);
criterion_main!(benches);
