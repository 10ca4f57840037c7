//! Convolution throughput against raw `sgemm` on the im2col'd shapes, in one run, at 1 and 2
//! threads.
//!
//! A convolution of `N` samples with `K = C/groups·KH·KW` taps and `P = OH·OW` positions is three
//! products of `2·N·O·P·K` flops each: the forward `W [O, K] · cols [K, N·P]`, the input gradient
//! `Wᵀ [K, O] · G [O, N·P]` and the weight gradient `G [O, N·P] · colsᵀ [N·P, K]`. The limit runs
//! exactly those products as single `matrixmultiply::sgemm` calls on buffers prepared before
//! timing (the columns already built, every operand in the layout each product wants), split into
//! two output halves on `rayon::join` at 2 threads: no im2col, no col2im, no bias, no allocation.
//! It is the most a lowering to these products can reach, so tapegrad's fraction of it is the cost
//! of everything else (building columns, scattering them back, the bias, the tape).
//!
//! tapegrad's side is what a training step does: a new `Tape`, the input and the layer's
//! parameters on it, `Var::conv2d` with bias (forward), then `backward_with` an upstream gradient
//! for ∂x, ∂W and ∂b (forward + backward).
//!
//! Workloads (f32, batch 128, 3×3 kernels, padding 1):
//! - `lenet`: 1 → 32 channels at 28×28 (K = 9: a thin product).
//! - `mid`: 32 → 64 channels at 14×14 (K = 288).
//!
//! Run: `cargo bench --bench conv [-- WORKLOAD…]`

use rand::{SeedableRng, rngs::StdRng};
use std::time::Instant;
use tapegrad::prelude::*;

/// Operands for the raw calls: pointer, row stride, column stride.
#[derive(Clone, Copy)]
struct Raw(*const f32, isize, isize);
// SAFETY: the pointers reach preallocated buffers that outlive every call and are only read.
unsafe impl Send for Raw {}
unsafe impl Sync for Raw {}

#[derive(Clone, Copy)]
struct Out(*mut f32, isize);
// SAFETY: the two halves of a split write disjoint columns or rows.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// `c ← a·b`, one sgemm, or two output halves on `rayon::join` when `halves`.
fn sgemm(halves: bool, m: usize, k: usize, n: usize, a: Raw, b: Raw, c: Out) {
    if halves {
        if m <= n {
            let h = n / 2;
            // SAFETY: offsets inside the operands' buffers.
            let b2 = Raw(unsafe { b.0.offset(h as isize * b.2) }, b.1, b.2);
            let c2 = Out(unsafe { c.0.add(h) }, c.1);
            rayon::join(
                move || sgemm(false, m, k, h, a, b, c),
                move || sgemm(false, m, k, n - h, a, b2, c2),
            );
        } else {
            let h = m / 2;
            let a2 = Raw(unsafe { a.0.offset(h as isize * a.1) }, a.1, a.2);
            let c2 = Out(unsafe { c.0.offset(h as isize * c.1) }, c.1);
            rayon::join(
                move || sgemm(false, h, k, n, a, b, c),
                move || sgemm(false, m - h, k, n, a2, b, c2),
            );
        }
        return;
    }
    // SAFETY: the operands point into buffers of the stated shapes.
    unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a.0, a.1, a.2, b.0, b.1, b.2, 0.0, c.0, c.1, 1) }
}

struct Workload {
    name: &'static str,
    n: usize,
    c: usize,
    o: usize,
    hw: usize,
}

/// Median seconds of `reps` timed calls after two warm-up calls.
fn median(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn run(w: &Workload, threads: usize, reps: usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let rng = &mut StdRng::seed_from_u64(0);
    let (n, c, o, hw) = (w.n, w.c, w.o, w.hw);
    let (k, p) = (c * 9, hw * hw);
    let flops = 2.0 * (n * o * p * k) as f64;
    let halves = threads > 1;

    // The limit's buffers: columns [K, N·P], weight [O, K], output gradient [O, N·P].
    let cols: Vec<f32> = (0..k * n * p)
        .map(|i| ((i % 17) as f32 - 8.0) * 0.01)
        .collect();
    let wt: Vec<f32> = (0..o * k).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect();
    let gy: Vec<f32> = (0..o * n * p)
        .map(|i| ((i % 11) as f32 - 5.0) * 0.01)
        .collect();
    let mut y = vec![0.0f32; o * n * p];
    let mut dcols = vec![0.0f32; k * n * p];
    let mut dw = vec![0.0f32; o * k];
    let np = (n * p) as isize;
    let raw_fwd = pool.install(|| {
        median(reps, || {
            let (a, b) = (Raw(wt.as_ptr(), k as isize, 1), Raw(cols.as_ptr(), np, 1));
            sgemm(halves, o, k, n * p, a, b, Out(y.as_mut_ptr(), np));
        })
    });
    let raw_bwd = pool.install(|| {
        median(reps, || {
            let wt_t = Raw(wt.as_ptr(), 1, k as isize);
            let g = Raw(gy.as_ptr(), np, 1);
            sgemm(halves, k, o, n * p, wt_t, g, Out(dcols.as_mut_ptr(), np));
            let cols_t = Raw(cols.as_ptr(), 1, np);
            sgemm(
                halves,
                o,
                n * p,
                k,
                g,
                cols_t,
                Out(dw.as_mut_ptr(), k as isize),
            );
        })
    });

    // tapegrad: the layer's step as training runs it.
    let conv = Conv2d::<f32>::new(c, o, 3, Init::He, rng).padding(1);
    let x = Tensor::<f32>::rand_normal(&[n, c, hw, hw], rng);
    let upstream = Tensor::<f32>::rand_normal(&[n, o, hw, hw], rng);
    let ours_fwd = pool.install(|| {
        median(reps, || {
            let tape = Tape::new();
            let out = conv.forward(&tape.input(x.clone()), Mode::Train);
            std::hint::black_box(out.value());
        })
    });
    let ours_step = pool.install(|| {
        median(reps, || {
            let tape = Tape::new();
            let input = tape.input_with_grad(x.clone());
            let out = conv.forward(&input, Mode::Train);
            let grads = out.backward_with(upstream.clone());
            std::hint::black_box(grads.wrt(&input));
        })
    });
    let gf = |f: f64, t: f64| f / t / 1e9;
    let (raw_f, raw_fb) = (gf(flops, raw_fwd), gf(3.0 * flops, raw_fwd + raw_bwd));
    let (our_f, our_fb) = (gf(flops, ours_fwd), gf(3.0 * flops, ours_step));
    println!(
        "{:<5} {threads}T  forward {:6.2} ms {:6.1} GFLOP/s (sgemm {:6.2} ms {:6.1}) {:5.1}%   \
         fwd+bwd {:6.2} ms {:6.1} GFLOP/s (sgemm {:6.2} ms {:6.1}) {:5.1}%",
        w.name,
        ours_fwd * 1e3,
        our_f,
        raw_fwd * 1e3,
        raw_f,
        100.0 * our_f / raw_f,
        ours_step * 1e3,
        our_fb,
        (raw_fwd + raw_bwd) * 1e3,
        raw_fb,
        100.0 * our_fb / raw_fb,
    );
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let workloads = [
        Workload {
            name: "lenet",
            n: 128,
            c: 1,
            o: 32,
            hw: 28,
        },
        Workload {
            name: "mid",
            n: 128,
            c: 32,
            o: 64,
            hw: 14,
        },
    ];
    println!(
        "conv2d 3×3, padding 1, batch 128, f32; GFLOP/s counts 2·N·O·P·K per product (3 products for fwd+bwd)"
    );
    for w in &workloads {
        if !wanted.is_empty() && !wanted.iter().any(|a| a == w.name) {
            continue;
        }
        for threads in [1, 2] {
            run(w, threads, 15);
        }
    }
}
