//! Whole training steps: tapegrad's idiomatic step against a framework-free limit, in one run,
//! at 1 and 2 threads.
//!
//! The limit is written without tapegrad: preallocated `Vec<f32>` buffers, `matrixmultiply::sgemm`
//! for every product (forward, ∂W, ∂X, transposed operands passed by stride), fused bias+ReLU and
//! ReLU-backward loops, a fused stable softmax–cross-entropy with its gradient, and the Adam / SGD
//! update as plain loops. At 2 threads its products of at least 2²¹ multiply-adds, and its updates
//! of large parameters, split into two halves on `rayon::join`.
//!
//! tapegrad's side is the README's step: a new `Tape`, `model.forward`, `cross_entropy`,
//! `backward`, `opt.step`. Before timing, both sides train from identical weights on the same
//! batch, and the bench stops unless their losses agree to 1e-4 relative over three steps.
//!
//! Workloads (f32):
//! - `mlp-large`: 784-512-512-10, ReLU, cross-entropy, Adam lr 1e-3, batch 128.
//! - `mlp-small`: 784-64-10, ReLU, cross-entropy, SGD lr 0.1, batch 16 (overhead-bound).
//! - `mnist-epoch`: one epoch of the `mnist_mlp` recipe (784-512-512-10, He/Xavier init, Adam,
//!   batch 128, standardised inputs) on the MNIST training set in memory; both sides take their
//!   batches from the same `Dataset::batches` iterator.
//!
//! Run: `cargo bench --bench training [-- WORKLOAD…] [--data DIR]` (MNIST from `--data`, else
//! `MNIST_DIR`, else the shipped `data/mnist`).

use rand::{SeedableRng, rngs::StdRng};
use std::path::PathBuf;
use std::time::Instant;
use tapegrad::prelude::*;

/// Products with at least this many multiply-adds split in two at 2 threads (the same measured
/// break-even as tapegrad's, see `benches/matmul.rs`).
const SPLIT: usize = 1 << 21;
/// Parameters with at least this many elements update in two halves at 2 threads.
const SPLIT_UPDATE: usize = 1 << 17;

// ---------------------------------------------------------------------------------------------
// The framework-free limit.

/// `c ← a·b` (β = 0) for an `m×k` `a` and `k×n` `b` given by strides, `c` row-major with row
/// stride `rsc`; split into two output halves on `rayon::join` when large and 2 threads run.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    c: *mut f32,
    rsc: isize,
) {
    #[derive(Clone, Copy)]
    struct P(*const f32, *const f32, *mut f32);
    unsafe impl Send for P {}
    unsafe impl Sync for P {}
    if m * k * n >= SPLIT && rayon::current_num_threads() > 1 {
        let p = P(a, b, c);
        if m <= n {
            let h = (n / 2).div_ceil(16) * 16;
            rayon::join(
                move || {
                    let p = p;
                    sgemm(m, k, h, p.0, rsa, csa, p.1, rsb, csb, p.2, rsc)
                },
                move || {
                    let p = p;
                    let (b2, c2) = unsafe { (p.1.offset(h as isize * csb), p.2.add(h)) };
                    sgemm(m, k, n - h, p.0, rsa, csa, b2, rsb, csb, c2, rsc)
                },
            );
        } else {
            let h = (m / 2).div_ceil(16) * 16;
            rayon::join(
                move || {
                    let p = p;
                    sgemm(h, k, n, p.0, rsa, csa, p.1, rsb, csb, p.2, rsc)
                },
                move || {
                    let p = p;
                    let (a2, c2) =
                        unsafe { (p.0.offset(h as isize * rsa), p.2.offset(h as isize * rsc)) };
                    sgemm(m - h, k, n, a2, rsa, csa, p.1, rsb, csb, c2, rsc)
                },
            );
        }
        return;
    }
    // SAFETY: every caller passes pointers into buffers of the stated shapes.
    unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, 1) }
}

/// The update rule of the hand-written step.
#[derive(Clone, Copy)]
enum Rule {
    Adam { lr: f64 },
    Sgd { lr: f64 },
}

/// Runs `f` on `(θ, g, m, v)` blocks, in two halves at 2 threads when the parameter is large.
fn split_update(
    theta: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    f: &(impl Fn(&mut [f32], &[f32], &mut [f32], &mut [f32]) + Sync),
) {
    if theta.len() < SPLIT_UPDATE || rayon::current_num_threads() < 2 {
        return f(theta, g, m, v);
    }
    let h = theta.len() / 2;
    let (t1, t2) = theta.split_at_mut(h);
    // SGD keeps no moments: its `m` and `v` are empty.
    let (m1, m2) = m.split_at_mut(h.min(m.len()));
    let (v1, v2) = v.split_at_mut(h.min(v.len()));
    rayon::join(|| f(t1, &g[..h], m1, v1), || f(t2, &g[h..], m2, v2));
}

/// A ReLU MLP with every buffer allocated once.
struct HandNet {
    dims: Vec<usize>,
    /// Per layer: `W` `[out, in]` and `b` `[out]` (PyTorch's layout, as `Linear`).
    w: Vec<Vec<f32>>,
    b: Vec<Vec<f32>>,
    gw: Vec<Vec<f32>>,
    gb: Vec<Vec<f32>>,
    /// Adam moments of each `W` and `b`.
    mw: Vec<Vec<f32>>,
    vw: Vec<Vec<f32>>,
    mb: Vec<Vec<f32>>,
    vb: Vec<Vec<f32>>,
    /// Each layer's output (after ReLU for hidden layers) and its gradient.
    h: Vec<Vec<f32>>,
    dz: Vec<Vec<f32>>,
    step: u64,
    rule: Rule,
}

impl HandNet {
    /// The same weights as `model`'s `Linear` layers (weight, bias, in order).
    fn from_model(model: &Sequential<f32>, dims: &[usize], batch: usize, rule: Rule) -> Self {
        let values: Vec<Vec<f32>> = model
            .parameters()
            .iter()
            .map(|(_, p)| p.value().to_vec())
            .collect();
        let layers = dims.len() - 1;
        let w: Vec<Vec<f32>> = (0..layers).map(|l| values[2 * l].clone()).collect();
        let b: Vec<Vec<f32>> = (0..layers).map(|l| values[2 * l + 1].clone()).collect();
        let zeros = |v: &Vec<Vec<f32>>| v.iter().map(|x| vec![0.0; x.len()]).collect::<Vec<_>>();
        let acts: Vec<Vec<f32>> = (0..layers)
            .map(|l| vec![0.0; batch * dims[l + 1]])
            .collect();
        HandNet {
            dims: dims.to_vec(),
            gw: zeros(&w),
            gb: zeros(&b),
            mw: zeros(&w),
            vw: zeros(&w),
            mb: zeros(&b),
            vb: zeros(&b),
            h: acts.clone(),
            dz: acts,
            w,
            b,
            step: 0,
            rule,
        }
    }

    /// One training step on `rows` samples of `x` (row-major `[rows, dims[0]]`); returns the
    /// mean cross-entropy before the update.
    fn train_step(&mut self, x: &[f32], y: &[usize], rows: usize) -> f32 {
        let layers = self.dims.len() - 1;
        // Forward: z = x·Wᵀ (Wᵀ read by strides), then bias + ReLU fused in one pass.
        for l in 0..layers {
            let (inp, out) = (self.dims[l], self.dims[l + 1]);
            let (before, rest) = self.h.split_at_mut(l);
            let src = if l == 0 { x } else { &before[l - 1][..] };
            let dst = &mut rest[0];
            let w = &self.w[l];
            sgemm(
                rows,
                inp,
                out,
                src.as_ptr(),
                inp as isize,
                1,
                w.as_ptr(),
                1,
                inp as isize,
                dst.as_mut_ptr(),
                out as isize,
            );
            let b = &self.b[l];
            let rows_of = dst[..rows * out].chunks_exact_mut(out);
            if l + 1 < layers {
                for row in rows_of {
                    for (z, &bj) in row.iter_mut().zip(b) {
                        *z = (*z + bj).max(0.0);
                    }
                }
            } else {
                for row in rows_of {
                    for (z, &bj) in row.iter_mut().zip(b) {
                        *z += bj;
                    }
                }
            }
        }
        // Stable softmax–cross-entropy and its gradient (softmax − onehot) / rows, fused.
        let classes = self.dims[layers];
        let logits = &self.h[layers - 1];
        let dlogits = &mut self.dz[layers - 1];
        let mut loss = 0.0f32;
        let inv = 1.0 / rows as f32;
        for r in 0..rows {
            let z = &logits[r * classes..(r + 1) * classes];
            let d = &mut dlogits[r * classes..(r + 1) * classes];
            let max = z.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let mut sum = 0.0f32;
            for (d, &zj) in d.iter_mut().zip(z) {
                let e = (zj - max).exp();
                *d = e;
                sum += e;
            }
            let lse = max + sum.ln();
            loss += lse - z[y[r]];
            let scale = inv / sum;
            for d in d.iter_mut() {
                *d *= scale;
            }
            d[y[r]] -= inv;
        }
        // Backward: ∂W = dzᵀ·x, ∂b = Σ dz, ∂x = dz·W, ReLU' fused into the last.
        for l in (0..layers).rev() {
            let (inp, out) = (self.dims[l], self.dims[l + 1]);
            let src = if l == 0 { x } else { &self.h[l - 1][..] };
            let dz = &self.dz[l];
            sgemm(
                out,
                rows,
                inp,
                dz.as_ptr(),
                1,
                out as isize,
                src.as_ptr(),
                inp as isize,
                1,
                self.gw[l].as_mut_ptr(),
                inp as isize,
            );
            let gb = &mut self.gb[l];
            gb.iter_mut().for_each(|g| *g = 0.0);
            for row in dz[..rows * out].chunks_exact(out) {
                for (g, &d) in gb.iter_mut().zip(row) {
                    *g += d;
                }
            }
            if l > 0 {
                let (lower, upper) = self.dz.split_at_mut(l);
                let dx = &mut lower[l - 1];
                sgemm(
                    rows,
                    out,
                    inp,
                    upper[0].as_ptr(),
                    out as isize,
                    1,
                    self.w[l].as_ptr(),
                    inp as isize,
                    1,
                    dx.as_mut_ptr(),
                    inp as isize,
                );
                // A select, not a branch: ReLU's sign pattern is random, so a branch mispredicts.
                for (d, &h) in dx[..rows * inp].iter_mut().zip(&self.h[l - 1]) {
                    *d = if h > 0.0 { *d } else { 0.0 };
                }
            }
        }
        self.update();
        loss * inv
    }

    fn update(&mut self) {
        self.step += 1;
        let t = self.step as f64;
        match self.rule {
            Rule::Sgd { lr } => {
                let lr = lr as f32;
                let sgd = |p: &mut [f32], g: &[f32], _: &mut [f32], _: &mut [f32]| {
                    for (p, &g) in p.iter_mut().zip(g) {
                        *p -= lr * g;
                    }
                };
                for l in 0..self.w.len() {
                    split_update(&mut self.w[l], &self.gw[l], &mut [], &mut [], &sgd);
                    sgd(&mut self.b[l], &self.gb[l], &mut [], &mut []);
                }
            }
            Rule::Adam { lr } => {
                let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
                let step_size = (lr / (1.0 - b1.powf(t))) as f32;
                let inv_sqrt_bias2 = (1.0 / (1.0 - b2.powf(t)).sqrt()) as f32;
                let (b1f, b2f, eps) = (b1 as f32, b2 as f32, eps as f32);
                let (c1, c2) = ((1.0 - b1) as f32, (1.0 - b2) as f32);
                let adam = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
                    let n = p.len();
                    let (p, g, m, v) = (&mut p[..n], &g[..n], &mut m[..n], &mut v[..n]);
                    for i in 0..n {
                        let mi = b1f * m[i] + c1 * g[i];
                        let vi = b2f * v[i] + c2 * g[i] * g[i];
                        m[i] = mi;
                        v[i] = vi;
                        p[i] -= step_size * mi / (vi.sqrt() * inv_sqrt_bias2 + eps);
                    }
                };
                for l in 0..self.w.len() {
                    split_update(
                        &mut self.w[l],
                        &self.gw[l],
                        &mut self.mw[l],
                        &mut self.vw[l],
                        &adam,
                    );
                    adam(
                        &mut self.b[l],
                        &self.gb[l],
                        &mut self.mb[l],
                        &mut self.vb[l],
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tapegrad's side: the README's step.

fn build_model(dims: &[usize], seed: u64) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Sequential::new();
    let layers = dims.len() - 1;
    for l in 0..layers {
        if l + 1 < layers {
            model = model
                .push(Linear::new(dims[l], dims[l + 1], Init::He, &mut rng))
                .push(Relu);
        } else {
            model = model.push(Linear::new(dims[l], dims[l + 1], Init::Xavier, &mut rng));
        }
    }
    model
}

fn build_opt(model: &Sequential<f32>, rule: Rule) -> Box<dyn Optimizer<f32>> {
    match rule {
        Rule::Adam { lr } => Box::new(Adam::new(
            &model.parameters(),
            AdamConfig {
                lr,
                ..Default::default()
            },
        )),
        Rule::Sgd { lr } => Box::new(Sgd::new(
            &model.parameters(),
            SgdConfig {
                lr,
                ..Default::default()
            },
        )),
    }
}

/// tapegrad's idiomatic step; returns the loss before the update.
fn tape_step(
    model: &Sequential<f32>,
    opt: &mut dyn Optimizer<f32>,
    x: Tensor<f32>,
    y: &[usize],
    step: u64,
) -> f32 {
    let tape = Tape::with_seed(step);
    let loss = model.forward(&tape.input(x), Mode::Train).cross_entropy(y);
    let grads = loss.backward();
    opt.step(&grads); // `loss` is still alive: backward freed the graph, so this is in place
    loss.value().item()
}

// ---------------------------------------------------------------------------------------------
// Timing.

/// Median over `reps` runs of `iters` calls, in milliseconds per call.
fn time_ms(reps: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters.div_ceil(4).max(2) {
        f();
    }
    let mut runs: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() * 1e3 / iters as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[reps / 2]
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

/// Prints one table row per thread count, and tapegrad's own 2-vs-1-thread speed-up.
fn report(name: &str, unit: &str, rows: &[(usize, f64, f64)]) {
    for &(threads, tape, hand) in rows {
        println!(
            "{name:<12} {threads} thread{}  tapegrad {tape:>9.3} {unit}  limit {hand:>9.3} {unit}  ratio {:.3}",
            if threads == 1 { " " } else { "s" },
            tape / hand
        );
    }
    if let [(_, one, _), (_, two, _)] = rows {
        println!(
            "{name:<12} tapegrad 2 threads vs 1: {:.2}× faster",
            one / two
        );
    }
}

/// Refuses to go on unless the two sides' losses agree to 1e-4 relative over three steps from
/// identical weights and batch.
fn check_agreement(dims: &[usize], batch: usize, rule: Rule) {
    let model = build_model(dims, 7);
    let mut opt = build_opt(&model, rule);
    let mut hand = HandNet::from_model(&model, dims, batch, rule);
    let mut rng = StdRng::seed_from_u64(3);
    let x = Tensor::<f32>::rand_normal(&[batch, dims[0]], &mut rng);
    let y: Vec<usize> = (0..batch)
        .map(|i| (i * 7 + 3) % dims[dims.len() - 1])
        .collect();
    let xs = x.to_vec();
    for step in 0..3 {
        let a = tape_step(&model, opt.as_mut(), x.clone(), &y, step);
        let b = hand.train_step(&xs, &y, batch);
        let rel = ((a - b) / b).abs();
        assert!(
            rel <= 1e-4,
            "{dims:?}: step {step}: tapegrad loss {a} and the hand-written loss {b} differ by {rel:e}"
        );
    }
}

fn mlp(name: &str, dims: &[usize], batch: usize, rule: Rule, reps: usize, iters: usize) {
    check_agreement(dims, batch, rule);
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let (tape, hand) = pool(threads).install(|| {
            let model = build_model(dims, 1);
            let mut opt = build_opt(&model, rule);
            let mut hand = HandNet::from_model(&model, dims, batch, rule);
            let mut rng = StdRng::seed_from_u64(5);
            let x = Tensor::<f32>::rand_normal(&[batch, dims[0]], &mut rng);
            let y: Vec<usize> = (0..batch).map(|i| i % dims[dims.len() - 1]).collect();
            let xs = x.to_vec();
            let mut step = 0;
            // Interleaved repetitions, so drift in the machine's speed touches both sides alike.
            let mut tape = Vec::new();
            let mut limit = Vec::new();
            for _ in 0..3 {
                tape.push(time_ms(reps, iters, || {
                    step += 1;
                    std::hint::black_box(tape_step(&model, opt.as_mut(), x.clone(), &y, step));
                }));
                limit.push(time_ms(reps, iters, || {
                    std::hint::black_box(hand.train_step(&xs, &y, batch));
                }));
            }
            let best = |v: Vec<f64>| v.into_iter().fold(f64::INFINITY, f64::min);
            (best(tape), best(limit))
        });
        rows.push((threads, tape, hand));
    }
    report(name, "ms", &rows);
}

/// `--data DIR`, else `$MNIST_DIR`, else the shipped copy: the examples' rule, from the data module
/// (whose shipped path is the repository's, not this package's folder).
fn mnist_dir(args: &[String]) -> PathBuf {
    let flag = args.iter().position(|a| a == "--data");
    let dir = flag.and_then(|i| args.get(i + 1)).map(PathBuf::from);
    tapegrad::data::resolve_data_dir(dir)
}

fn mnist_epoch(dir: &std::path::Path) {
    let mnist = match Mnist::load(dir) {
        Ok(m) => m,
        Err(e) => {
            println!(
                "mnist-epoch  skipped: {e}\n             pass --data DIR or set MNIST_DIR to a folder with the four MNIST IDX files"
            );
            return;
        }
    };
    let norm = Normalizer::fit_global(mnist.train.x()).expect("statistics");
    let x = norm.transform(mnist.train.x()).expect("standardised");
    let train = Dataset::new(x, mnist.train.y().to_vec());
    let dims = [784, 512, 512, 10];
    let rule = Rule::Adam { lr: 1e-3 };
    let batch = 128;
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let (tape, hand) = pool(threads).install(|| {
            let epoch = |tapegrad: bool| {
                let model = build_model(&dims, 42);
                let mut opt = build_opt(&model, rule);
                let mut hand = HandNet::from_model(&model, &dims, batch, rule);
                let mut rng = StdRng::seed_from_u64(42);
                let start = Instant::now();
                let mut loss = 0.0;
                for (step, (x, y)) in train
                    .batches(batch, &mut rng, BatchOptions::default())
                    .enumerate()
                {
                    loss += if tapegrad {
                        tape_step(&model, opt.as_mut(), x, &y, step as u64)
                    } else {
                        let xs = x.as_contiguous_slice().expect("a contiguous batch");
                        hand.train_step(xs, &y, y.len())
                    };
                }
                std::hint::black_box(loss);
                start.elapsed().as_secs_f64()
            };
            let (mut tape, mut limit) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..2 {
                tape = tape.min(epoch(true));
                limit = limit.min(epoch(false));
            }
            (tape, limit)
        });
        rows.push((threads, tape, hand));
    }
    report("mnist-epoch", "s ", &rows);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: cargo bench --bench training [-- [mlp-large] [mlp-small] [mnist-epoch] [--data DIR]]\n\
             Times tapegrad's training step against a framework-free limit at 1 and 2 threads."
        );
        return;
    }
    let picked: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| ["mlp-large", "mlp-small", "mnist-epoch"].contains(a))
        .collect();
    let wants = |w: &str| picked.is_empty() || picked.contains(&w);
    println!("workload     threads    tapegrad              limit (framework-free)   ratio");
    if wants("mlp-large") {
        mlp(
            "mlp-large",
            &[784, 512, 512, 10],
            128,
            Rule::Adam { lr: 1e-3 },
            5,
            20,
        );
    }
    if wants("mlp-small") {
        mlp(
            "mlp-small",
            &[784, 64, 10],
            16,
            Rule::Sgd { lr: 0.1 },
            5,
            400,
        );
    }
    if wants("mnist-epoch") {
        mnist_epoch(&mnist_dir(&args));
    }
}
